/* The run's statistics from the BPF side: the per-CPU counters of the stats map (every drop
 * and failed read the programs count, include/treeprof.h TP_STAT_*), and what the run cost
 * (the programs' run time, treeprof's own CPU time). Read-only on the BPF object. */
#ifndef TREEPROF_STATS_H
#define TREEPROF_STATS_H

#include <stdbool.h>
#include <stdint.h>

struct bpf_object;
struct profile;

/* The statistic name of counter k ("bpf_samples", "ringbuf_drops", ...), NULL if unknown. */
const char *stats__name(uint32_t k);
/* Counter name summed over CPUs from the stats map map_fd. 0, or -ENOENT for an unknown
 * name, -ENOMEM, or the lookup's -errno. */
int stats__counter(int map_fd, const char *name, uint64_t *value);
/* Every counter into prof (the mem_ ones only when mem is set). */
void stats__store_counters(int map_fd, bool mem, struct profile *prof);
/* What the run cost into prof: bpf_run_ns/cnt over the programs of obj, on_sample's own,
 * and treeprof_cpu_ns. The programs' times are zero unless kernel.bpf_stats_enabled is set. */
void stats__store_cost(struct bpf_object *obj, struct profile *prof);

#endif
