/* Groups of processes for every report format (--group-by): one group per process (pid),
 * per role, or one for the whole tree (none). Computed once from a read-only profile and
 * the report options (o->pid keeps only the entries of that pid), then read by writers.
 * The object owns its labels and member lists; nothing here prints.
 *
 * A role is a set of processes doing the same job: the same command line (comm when it is
 * empty; numbers that are whole tokens, such as spawn_main(pipe_handle=11) or --worker 3,
 * compare equal), the same parent role (so a process never shares a role with its parent: a fork
 * server's workers are not merged with the server), and a comparable lifetime: siblings
 * sorted by lifetime are cut where one lived more than ROLE_LIFETIME_RATIO times as long
 * as the next shorter one. Forked workers keep their parent's command line, so without
 * that last rule twenty 20 ms children would share a row with a long-running sibling. */
#ifndef TREEPROF_REPORT_GROUP_H
#define TREEPROF_REPORT_GROUP_H

#include <stdint.h>

#include "report/report.h"

#define REPORT_NO_GROUP	    UINT32_MAX
#define ROLE_LIFETIME_RATIO 4

struct report_group_info {
	const char *label;     /* "COMM [PID]", "ROLE [N procs]" or "all processes [N procs]";
				* no ';' or newline, unique among the groups */
	const char *name;      /* pid: comm; role: the command line, argv[0] shortened to its
				* base name; none: "all processes" */
	uint32_t parent;       /* the group of the first member's parent, or REPORT_NO_GROUP */
	uint32_t nprocs;       /* members (process entries) */
	uint64_t samples;      /* summed weight of the members' samples */
	uint64_t min_samples;  /* the idlest member's */
	uint64_t max_samples;  /* the busiest member's */
	const uint32_t *procs; /* member process indices, ascending */
};

struct report_groups;

/* Groups ordered by their first member's process index; for REPORT_GROUP_PID group i is
 * the i-th kept process. NULL with errno set. */
struct report_groups *report_groups__new(const struct profile *p, const struct report_opts *o);
void report_groups__free(struct report_groups *g);
uint32_t report_groups__count(const struct report_groups *g);
const struct report_group_info *report_groups__get(const struct report_groups *g, uint32_t i);
/* The group of process index proc, or REPORT_NO_GROUP when it is filtered out. */
uint32_t report_groups__of(const struct report_groups *g, uint32_t proc);

/* A weighted stack of a group. */
struct report_gstack {
	uint32_t group, stack;
	uint64_t weight;
};
/* report__stack_weights' (process, stack) weights, in its order, of the processes in a
 * group of g, each with its group: the array (NULL when empty) is the caller's to free.
 * 0, or report__stack_weights' errors. */
int report_groups__weights(const struct profile *p, const struct report_opts *o,
			   const struct report_groups *g, struct report_gstack **out, size_t *n);

#endif
