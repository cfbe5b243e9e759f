/* Memory accounting of mappings by address range (memacct.h): an munmap or mprotect
 * PROT_NONE of part of a mapping (MEMREC_FREE_RANGE) releases exactly that part: trims at
 * either end, holes in the middle, several mappings at once; a new mapping releases what was
 * mapped under it; a cut mapping keeps its site, its pieces share its weight by bytes; heap
 * blocks and forks; and the range record through the recording format. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "profile/datafile.h"
#include "profile/memacct.h"
#include "profile/profile.h"
#include "treeprof.h"
#include "unit.h"

#define MIB  (1ULL << 20)
#define BASE 0x7f0000000000ULL
#define PID  42

/* A profile with two one-frame stacks, mapper (0) and other (1), journaled to j if not
 * NULL. */
struct fixture {
	struct profile *p;
	uint32_t stack[2];
	uint64_t ts;
};

static struct fixture fixture_journaled(const struct profile_journal *j)
{
	static const char *const names[] = {"mapper", "other"};
	struct fixture fx = {.p = profile__new()};

	if (j)
		profile__set_journal(fx.p, j);
	for (int i = 0; i < 2; i++) {
		uint32_t frame;

		CHECK_EQ_INT(profile__frame(fx.p,
					    &(struct prof_frame){FRAME_PYTHON, names[i], "r.py", 1},
					    &frame),
			     0);
		CHECK_EQ_INT(profile__stack(fx.p, &frame, 1, &fx.stack[i]), 0);
	}
	return fx;
}

static struct fixture fixture_new(void)
{
	return fixture_journaled(NULL);
}

/* A mapping of len bytes at addr by stack s, sampled at rate (1: exact). */
static void map_at(struct fixture *fx, uint64_t addr, uint64_t len, int s, uint64_t rate)
{
	CHECK_EQ_INT(profile__mem_alloc(fx->p, ++fx->ts, PID, PID, TP_MEM_MMAP, addr, len, rate,
					fx->stack[s]),
		     0);
}

static void unmap(struct fixture *fx, uint64_t addr, uint64_t len)
{
	CHECK_EQ_INT(profile__mem_free_range(fx->p, ++fx->ts, PID, addr, len), 0);
}

/* What stack s still holds at the end (live_bytes), and allocated (alloc_bytes). */
static double held_by(const struct memacct *m, const struct fixture *fx, int s, bool alloc)
{
	for (size_t i = 0; i < m->nsites; i++)
		if (m->sites[i].stack == fx->stack[s])
			return alloc ? m->sites[i].alloc_bytes : m->sites[i].live_bytes;
	return 0;
}

static struct memacct *account(struct fixture *fx)
{
	struct memacct *m = memacct__compute(fx->p);

	CHECK(m != NULL);
	return m;
}

static void test_trims_at_both_ends_keep_the_middle(void)
{
	struct fixture fx = fixture_new();
	struct memacct *m;

	map_at(&fx, BASE, 64 * MIB, 0, 1);
	unmap(&fx, BASE, 16 * MIB);	       /* the head */
	unmap(&fx, BASE + 48 * MIB, 16 * MIB); /* the tail */
	unmap(&fx, BASE + 64 * MIB, 4096);     /* past it: nothing */
	unmap(&fx, BASE - 8 * MIB, 4 * MIB);   /* before it: nothing */
	m = account(&fx);
	if (m) {
		CHECK_EQ_INT(held_by(m, &fx, 0, true), 64 * MIB);
		CHECK_EQ_INT(held_by(m, &fx, 0, false), 32 * MIB);
		CHECK_EQ_INT(m->procs[0].unmatched_frees, 0);
		CHECK_EQ_INT(m->tree_peak_bytes, 64 * MIB);
	}
	memacct__free(m);
	profile__free(fx.p);
}

static void test_a_hole_leaves_two_pieces_each_freed_on_its_own(void)
{
	struct fixture fx = fixture_new();
	struct memacct *m;

	map_at(&fx, BASE, 3 * MIB, 0, 1);
	unmap(&fx, BASE + MIB, MIB);
	/* the right piece goes by its start, as the sampler reports a whole piece */
	CHECK_EQ_INT(profile__mem_free(fx.p, ++fx.ts, PID, TP_MEM_MUNMAP, BASE + 2 * MIB), 0);
	m = account(&fx);
	if (m) {
		CHECK_EQ_INT(held_by(m, &fx, 0, false), MIB);
		CHECK_EQ_INT(m->procs[0].unmatched_frees, 0);
	}
	memacct__free(m);
	profile__free(fx.p);
}

static void test_pieces_share_a_sampled_weight_by_bytes(void)
{
	struct fixture fx = fixture_new();
	double w = memacct__weight(MIB, 4 * MIB);
	struct memacct *m;

	map_at(&fx, BASE, MIB, 0, 4 * MIB); /* stands for w bytes, more than MIB */
	unmap(&fx, BASE + MIB / 4, MIB / 2);
	m = account(&fx);
	if (m) {
		CHECK_EQ_INT(held_by(m, &fx, 0, true), memacct__round(w));
		CHECK_EQ_INT(held_by(m, &fx, 0, false), 2 * memacct__round(w / 4));
	}
	memacct__free(m);
	profile__free(fx.p);
}

static void test_one_range_over_mappings_and_gaps_leaves_heap_blocks(void)
{
	struct fixture fx = fixture_new();
	struct memacct *m;

	map_at(&fx, BASE, 4 * MIB, 0, 1);
	map_at(&fx, BASE + 8 * MIB, 4 * MIB, 1, 1);
	map_at(&fx, BASE + 16 * MIB, 4 * MIB, 0, 1);
	CHECK_EQ_INT(profile__mem_alloc(fx.p, ++fx.ts, PID, PID, TP_MEM_MALLOC, BASE + 13 * MIB,
					1000, 1, fx.stack[1]),
		     0);
	unmap(&fx, BASE + 2 * MIB, 16 * MIB); /* tail of the 1st, the 2nd, head of the 3rd */
	m = account(&fx);
	if (m) {
		CHECK_EQ_INT(held_by(m, &fx, 0, false), 4 * MIB);
		CHECK_EQ_INT(held_by(m, &fx, 1, false), 1000); /* the heap block is no mapping */
		CHECK_EQ_INT(m->tree_peak_bytes, 12 * MIB + 1000);
	}
	memacct__free(m);
	profile__free(fx.p);
}

static void test_a_new_mapping_releases_what_was_under_it(void)
{
	struct fixture fx = fixture_new();
	struct memacct *m;

	map_at(&fx, BASE, 32 * MIB, 0, 1);
	map_at(&fx, BASE + 8 * MIB, 8 * MIB, 1, 1); /* MAP_FIXED over its second quarter */
	m = account(&fx);
	if (m) {
		CHECK_EQ_INT(held_by(m, &fx, 0, false), 24 * MIB);
		CHECK_EQ_INT(held_by(m, &fx, 1, false), 8 * MIB);
		CHECK_EQ_INT(m->tree_peak_bytes, 32 * MIB);
	}
	memacct__free(m);
	profile__free(fx.p);
}

static void test_a_fork_child_cuts_its_copy_not_its_parent(void)
{
	struct fixture fx = fixture_new();
	const struct mem_proc *child = NULL;
	struct memacct *m;

	map_at(&fx, BASE, 8 * MIB, 0, 1);
	CHECK_EQ_INT(profile__mem_fork(fx.p, ++fx.ts, PID + 1, PID), 0);
	CHECK_EQ_INT(profile__mem_free_range(fx.p, ++fx.ts, PID + 1, BASE, 2 * MIB), 0);
	m = account(&fx);
	for (size_t i = 0; m && i < m->nprocs; i++)
		if (m->procs[i].proc == profile__proc_find(fx.p, PID + 1)->idx)
			child = &m->procs[i];
	CHECK(child != NULL);
	if (child) {
		CHECK_EQ_INT(child->inherited_frees, 1);
		CHECK_EQ_INT(child->live_inherited_bytes, 6 * MIB);
		CHECK_EQ_INT(child->live_bytes, 0);
	}
	if (m)
		CHECK_EQ_INT(m->tree_peak_bytes, 8 * MIB); /* the parent still holds it all */
	memacct__free(m);
	profile__free(fx.p);
}

static void test_bad_ranges_are_refused(void)
{
	struct fixture fx = fixture_new();

	CHECK_EQ_INT(profile__mem_free_range(fx.p, 1, PID, BASE, 0), -EINVAL);
	CHECK_EQ_INT(profile__mem_free_range(fx.p, 1, PID, UINT64_MAX - 10, 4096), -EINVAL);
	CHECK_EQ_INT(profile__nmem(fx.p), 0);
	profile__free(fx.p);
}

static void test_range_records_survive_the_recording(void)
{
	char path[] = "/tmp/treeprof-memranges-XXXXXX", err[256];
	struct datafile_writer *w;
	struct profile *r = NULL;
	struct memacct *m = NULL;
	struct fixture fx;
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	w = fd >= 0 ? datafile__new(fd) : NULL;
	CHECK(w != NULL);
	if (!w)
		return;
	fx = fixture_journaled(datafile__journal(w));
	map_at(&fx, BASE, 4 * MIB, 0, 1);
	unmap(&fx, BASE + MIB, MIB);
	profile__set_journal(fx.p, NULL);
	CHECK_EQ_INT(datafile__finish(w), 0);
	close(fd);
	r = datafile__read(path, err, sizeof(err), NULL);
	CHECK(r != NULL);
	if (r)
		m = memacct__compute(r);
	CHECK(m != NULL);
	if (m)
		CHECK_EQ_INT(m->sites[0].live_bytes, 3 * MIB);
	memacct__free(m);
	profile__free(r);
	profile__free(fx.p);
	unlink(path);
}

UNIT_MAIN("memranges", UNIT_TEST(test_trims_at_both_ends_keep_the_middle),
	  UNIT_TEST(test_a_hole_leaves_two_pieces_each_freed_on_its_own),
	  UNIT_TEST(test_pieces_share_a_sampled_weight_by_bytes),
	  UNIT_TEST(test_one_range_over_mappings_and_gaps_leaves_heap_blocks),
	  UNIT_TEST(test_a_new_mapping_releases_what_was_under_it),
	  UNIT_TEST(test_a_fork_child_cuts_its_copy_not_its_parent),
	  UNIT_TEST(test_bad_ranges_are_refused),
	  UNIT_TEST(test_range_records_survive_the_recording))
