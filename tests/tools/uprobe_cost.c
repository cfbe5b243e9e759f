/* uprobe_cost LIB FUNC DELTA RET -- CMD ARGS: put a counting uprobe (a uretprobe when RET is
 * 1) on FUNC + DELTA bytes in the library file LIB, run CMD, print "hits=N". make bench uses
 * it with malloc_bench to show what a probe costs on each kind of first instruction in each
 * C library we meet: emulated (push) against single-stepped (test, lea...). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "probecost.skel.h"

int main(int argc, char **argv)
{
	struct probecost_bpf *skel;
	struct bpf_link *link;
	int status;
	pid_t pid;

	if (argc < 7 || strcmp(argv[5], "--")) {
		fprintf(stderr, "usage: uprobe_cost LIB FUNC DELTA RET -- CMD [ARGS...]\n");
		return 2;
	}
	skel = probecost_bpf__open_and_load();
	if (!skel) {
		perror("uprobe_cost: loading");
		return 1;
	}
	LIBBPF_OPTS(bpf_uprobe_opts, uo, .func_name = argv[2], .retprobe = atoi(argv[4]) != 0);
	link = bpf_program__attach_uprobe_opts(skel->progs.count_hit, -1, argv[1],
					       strtoul(argv[3], NULL, 0), &uo);
	if (!link) {
		perror("uprobe_cost: attaching");
		return 1;
	}
	pid = fork();
	if (pid == 0) {
		execvp(argv[6], argv + 6);
		perror("uprobe_cost: exec");
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return 1;
	printf("hits=%llu\n", (unsigned long long)skel->bss->hits);
	bpf_link__destroy(link);
	probecost_bpf__destroy(skel);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
