/* Memory accounting of mappings by address range (memacct.h): an munmap or mprotect
 * PROT_NONE of part of a mapping (MEMREC_FREE_RANGE) releases exactly that part: trims at
 * either end, holes in the middle, several mappings at once; a new mapping releases what was
 * mapped under it; a cut mapping keeps its site, its pieces share its weight by bytes; heap
 * blocks and forks; and the range record through the recording format. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
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
	struct memacct *m; /* the accounts, made at the first check */
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

/* The accounts of fx's profile (computed once). */
static const struct memacct *accounts(struct fixture *fx)
{
	if (!fx->m)
		fx->m = memacct__compute(fx->p);
	CHECK(fx->m != NULL);
	return fx->m;
}

/* Stack s allocated alloc bytes and holds live bytes at the end. */
static void expect_site(struct fixture *fx, int s, uint64_t alloc, uint64_t live)
{
	const struct memacct *m = accounts(fx);
	const struct mem_site *site = NULL;

	for (size_t i = 0; m && i < m->nsites; i++)
		if (m->sites[i].stack == fx->stack[s])
			site = &m->sites[i];
	CHECK(site != NULL);
	if (!site)
		return;
	CHECK_EQ_INT(site->alloc_bytes, alloc);
	CHECK_EQ_INT(site->live_bytes, live);
}

/* The tree's heap peaked at peak bytes and no free went unmatched. */
static void expect_peak(struct fixture *fx, uint64_t peak)
{
	const struct memacct *m = accounts(fx);

	if (!m)
		return;
	CHECK_EQ_INT(m->tree_peak_bytes, peak);
	CHECK_EQ_INT(m->unmatched_frees, 0);
}

static void fixture_free(struct fixture *fx)
{
	memacct__free(fx->m);
	profile__free(fx->p);
}

static void test_trims_at_both_ends_keep_the_middle(void)
{
	struct fixture fx = fixture_new();

	map_at(&fx, BASE, 64 * MIB, 0, 1);
	unmap(&fx, BASE, 16 * MIB);	       /* the head */
	unmap(&fx, BASE + 48 * MIB, 16 * MIB); /* the tail */
	unmap(&fx, BASE + 64 * MIB, 4096);     /* past it: nothing */
	unmap(&fx, BASE - 8 * MIB, 4 * MIB);   /* before it: nothing */
	expect_site(&fx, 0, 64 * MIB, 32 * MIB);
	expect_peak(&fx, 64 * MIB);
	fixture_free(&fx);
}

static void test_a_hole_leaves_two_pieces_each_freed_on_its_own(void)
{
	struct fixture fx = fixture_new();

	map_at(&fx, BASE, 3 * MIB, 0, 1);
	unmap(&fx, BASE + MIB, MIB);
	/* the right piece goes by its start, as the sampler reports a whole piece */
	CHECK_EQ_INT(profile__mem_free(fx.p, ++fx.ts, PID, TP_MEM_MUNMAP, BASE + 2 * MIB), 0);
	expect_site(&fx, 0, 3 * MIB, MIB);
	expect_peak(&fx, 3 * MIB);
	fixture_free(&fx);
}

static void test_pieces_share_a_sampled_weight_by_bytes(void)
{
	struct fixture fx = fixture_new();
	double w = memacct__weight(MIB, 4 * MIB); /* what one sampled MiB stands for */

	map_at(&fx, BASE, MIB, 0, 4 * MIB);
	unmap(&fx, BASE + MIB / 4, MIB / 2);
	expect_site(&fx, 0, memacct__round(w), 2 * memacct__round(w / 4));
	fixture_free(&fx);
}

static void test_one_range_over_mappings_and_gaps_leaves_heap_blocks(void)
{
	struct fixture fx = fixture_new();

	map_at(&fx, BASE, 4 * MIB, 0, 1);
	map_at(&fx, BASE + 8 * MIB, 4 * MIB, 1, 1);
	map_at(&fx, BASE + 16 * MIB, 4 * MIB, 0, 1);
	CHECK_EQ_INT(profile__mem_alloc(fx.p, ++fx.ts, PID, PID, TP_MEM_MALLOC, BASE + 13 * MIB,
					1000, 1, fx.stack[1]),
		     0);
	unmap(&fx, BASE + 2 * MIB, 16 * MIB); /* tail of the 1st, the 2nd, head of the 3rd */
	expect_site(&fx, 0, 8 * MIB, 4 * MIB);
	expect_site(&fx, 1, 4 * MIB + 1000, 1000); /* the heap block is no mapping */
	expect_peak(&fx, 12 * MIB + 1000);
	fixture_free(&fx);
}

static void test_a_new_mapping_releases_what_was_under_it(void)
{
	struct fixture fx = fixture_new();

	map_at(&fx, BASE, 32 * MIB, 0, 1);
	map_at(&fx, BASE + 8 * MIB, 8 * MIB, 1, 1); /* MAP_FIXED over its second quarter */
	expect_site(&fx, 0, 32 * MIB, 24 * MIB);
	expect_site(&fx, 1, 8 * MIB, 8 * MIB);
	expect_peak(&fx, 32 * MIB);
	fixture_free(&fx);
}

static void test_a_fork_child_cuts_its_copy_not_its_parent(void)
{
	struct fixture fx = fixture_new();
	const struct mem_proc *child = NULL;
	const struct memacct *m;
	uint32_t idx;

	map_at(&fx, BASE, 8 * MIB, 0, 1);
	CHECK_EQ_INT(profile__mem_fork(fx.p, ++fx.ts, PID + 1, PID), 0);
	CHECK_EQ_INT(profile__mem_free_range(fx.p, ++fx.ts, PID + 1, BASE, 2 * MIB), 0);
	idx = profile__proc_find(fx.p, PID + 1)->idx;
	m = accounts(&fx);
	for (size_t i = 0; m && i < m->nprocs; i++)
		if (m->procs[i].proc == idx)
			child = &m->procs[i];
	CHECK(child != NULL);
	if (child) {
		CHECK_EQ_INT(child->inherited_frees, 1);
		CHECK_EQ_INT(child->live_inherited_bytes, 6 * MIB);
		CHECK_EQ_INT(child->live_bytes, 0);
	}
	expect_peak(&fx, 8 * MIB); /* the parent still holds it all */
	fixture_free(&fx);
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
	struct fixture fx, back = {0};
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
	back.p = datafile__read(path, err, sizeof(err), NULL);
	CHECK(back.p != NULL);
	memcpy(back.stack, fx.stack, sizeof(back.stack));
	if (back.p)
		expect_site(&back, 0, 4 * MIB, 3 * MIB);
	fixture_free(&back);
	fixture_free(&fx);
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
