// SPDX-License-Identifier: GPL-2.0
/* treeprof record: a process tree's samples (and allocations) to a recording, and a summary. */
#include "cmd.h"
#include "cmd_trace.h"

static const char record_doc[] =
    "Record CPU samples (and with --mem, allocations) of a whole process tree.\v"
    "Examples:\n"
    "  sudo treeprof record -p 1234            # 1234 and all its descendants, until Ctrl-C\n"
    "  sudo treeprof record -F 999 -d 10 -p 1234\n"
    "  sudo treeprof record -- python3 app.py  # launch and trace from the first instruction\n"
    "  sudo treeprof record --mem -- python3 app.py\n"
    "  sudo treeprof record -o /dev/null -- python3 app.py   # the summary only\n"
    "  sudo treeprof record -o - -- python3 app.py | zstd > run.data.zst\n"
    "  treeprof report treeprof.data --metric live_bytes\n"
    "\n"
    "Cost of --mem (measured, make bench): a launched tree gets a preloaded sampler, about "
    "14 ns per malloc/free plus one probe hit (~1 us and a stack walk) per sampled block; "
    "an allocation-heavy tree ran 1.15x slower at the default --mem-sample (memray: 1.87x)."
    " With -p, uprobes on the C allocator cost ~1-1.5 us per call (~9 us on C libraries "
    "whose malloc or free cannot be probed on an emulated instruction, e.g. glibc 2.42).";

int cmd_record(int argc, char **argv, const char *cmdline)
{
	return cmd_trace__main(argc, argv, cmdline, record_doc, NULL);
}
