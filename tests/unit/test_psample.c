/* Packed CPU samples (tp_psample), as the BPF side writes them: unpacked into the fixed
 * tp_sample the symbolizer reads, with every count and size checked first. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "treeprof.h"
#include "trace/tracer.h"
#include "unit.h"

/* A packed record with nk kernel, nu user and np Python frames, each value telling where it
 * came from: its size in bytes. */
static size_t pack(struct tp_psample *p, int nk, int nu, int np)
{
	size_t w = 0;

	memset(p, 0, sizeof(*p));
	p->hdr.type = TP_REC_SAMPLE;
	p->hdr.pid = 42;
	p->cpu = 3;
	p->n_kstack = nk;
	p->n_ustack = nu;
	p->n_py = np;
	p->py_status = TP_PY_OK;
	memcpy(p->comm, "python3", 8);
	for (int i = 0; i < nk; i++)
		p->data[w++] = 0xffffffff81000000ull + i;
	for (int i = 0; i < nu; i++)
		p->data[w++] = 0x400000 + i;
	for (int i = 0; i < np; i++) {
		struct tp_pyframe f = {.code = 0x7f0000000000ull + i, .lasti = i, .check = 7};

		memcpy(&p->data[w], &f, sizeof(f));
		w += 2;
	}
	return TP_PSAMPLE_HEAD + 8 * w;
}

static void test_round_trip(void)
{
	static struct tp_psample p;
	static struct tp_sample s;
	static const int shapes[][3] = {{0, 1, 10},
					{5, 1, 100},
					{TP_MAX_KSTACK, TP_MAX_USTACK, TP_MAX_PYFRAMES},
					{0, 0, 0},
					{3, 0, 0}};

	for (size_t k = 0; k < sizeof(shapes) / sizeof(shapes[0]); k++) {
		int nk = shapes[k][0], nu = shapes[k][1], np = shapes[k][2];
		size_t size = pack(&p, nk, nu, np);

		memset(&s, 0xab, sizeof(s));
		CHECK_EQ_INT(tracer__unpack_sample(&p, size, &s), 0);
		CHECK_EQ_INT(s.hdr.pid, 42);
		CHECK_EQ_INT(s.cpu, 3);
		CHECK_EQ_STR(s.comm, "python3");
		CHECK_EQ_INT(s.n_kstack, nk);
		CHECK_EQ_INT(s.n_ustack, nu);
		CHECK_EQ_INT(s.n_py, np);
		for (int i = 0; i < nk; i++)
			CHECK_EQ_INT(s.kstack[i], 0xffffffff81000000ull + i);
		for (int i = 0; i < nu; i++)
			CHECK_EQ_INT(s.ustack[i], 0x400000 + i);
		for (int i = 0; i < np; i++) {
			CHECK_EQ_INT(s.py[i].code, 0x7f0000000000ull + i);
			CHECK_EQ_INT(s.py[i].lasti, i);
		}
		/* The ring rounds records up to 8 bytes: a longer size is fine. */
		CHECK_EQ_INT(tracer__unpack_sample(&p, size + 8, &s), 0);
	}
	/* 10 Python frames pack into a few hundred bytes, not tp_sample's 2.9 KiB. */
	CHECK(pack(&p, 0, 1, 10) < 256);
	CHECK(sizeof(struct tp_sample) > 2800);
}

static void test_bad_counts_and_sizes_refused(void)
{
	static struct tp_psample p;
	static struct tp_sample s;
	size_t size = pack(&p, 4, 1, 20);

	CHECK_EQ_INT(tracer__unpack_sample(&p, size - 1, &s), -EINVAL);
	CHECK_EQ_INT(tracer__unpack_sample(&p, TP_PSAMPLE_HEAD - 1, &s), -EINVAL);
	p.n_py = TP_MAX_PYFRAMES + 1;
	CHECK_EQ_INT(tracer__unpack_sample(&p, sizeof(p), &s), -EINVAL);
	p.n_py = 0;
	p.n_kstack = TP_MAX_KSTACK + 1;
	CHECK_EQ_INT(tracer__unpack_sample(&p, sizeof(p), &s), -EINVAL);
	p.n_kstack = 0;
	p.n_ustack = TP_MAX_USTACK + 1;
	CHECK_EQ_INT(tracer__unpack_sample(&p, sizeof(p), &s), -EINVAL);
	/* A negative count is an errno from bpf_get_stack: no frames, no room. */
	p.n_ustack = -EFAULT;
	p.n_kstack = -EFAULT;
	CHECK_EQ_INT(tracer__unpack_sample(&p, TP_PSAMPLE_HEAD, &s), 0);
	CHECK_EQ_INT(s.n_ustack, -EFAULT);
	/* Random records: a verdict each, never a read past size (make unit-san). */
	for (int round = 0; round < 5000; round++) {
		size_t n = unit_rand() % sizeof(p);
		unsigned char *b = (unsigned char *)&p;
		unsigned char *copy = malloc(n ? n : 1);

		for (size_t i = 0; i < sizeof(p); i++)
			b[i] = unit_rand();
		p.n_kstack = (int16_t)(unit_rand() % 80) - 8;
		p.n_ustack = (int16_t)(unit_rand() % 40) - 4;
		p.n_py = unit_rand() % 140;
		memcpy(copy, &p, n);
		tracer__unpack_sample(copy, n, &s);
		free(copy);
	}
}

UNIT_MAIN("psample", UNIT_TEST(test_round_trip), UNIT_TEST(test_bad_counts_and_sizes_refused))
