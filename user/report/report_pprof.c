// SPDX-License-Identifier: GPL-2.0
/* pprof: the profile.proto message (github.com/google/pprof, proto/profile.proto) encoded by
 * hand and gzip'd, for `go tool pprof` and the tools that read it.
 *
 * Two sample types, "samples"/"count" and "cpu"/"nanoseconds" (count times the period,
 * 1e9 / the "frequency" meta); period_type cpu/nanoseconds. With a memory metric
 * (--metric), one sample type named as Go heap profiles name theirs: alloc_space/bytes,
 * alloc_objects/count, inuse_space/bytes (live_bytes: held at exit or at the end) and
 * peak_space/bytes (held at the tree's peak); period_type space/bytes. One location per frame (one
 * line: its function and line number), one function per (name, file). A sample is one
 * (group, stack) pair, leaf first; with --group-by pid it carries the labels pid (num),
 * comm and role (str), with role the labels role and procs (num), with none no labels.
 * A stack without frames gets the location "[unknown]". No mappings: there are no
 * addresses to map. Functions have no system_name: pprof would "demangle" it, and turns
 * "<module>" into "<unknown>". */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "lib/hash.h"
#include "profile/memacct.h"
#include "profile/profile.h"
#include "report/report.h"
#include "report/report_group.h"

#define LABEL_MAX (2 * 65536 + 64)

/* Protobuf wire types. */
enum { WT_VARINT = 0, WT_LEN = 2 };

struct pbuf {
	uint8_t *d;
	size_t n, cap;
	int err;
};

static void pb_put(struct pbuf *b, const void *src, size_t len)
{
	if (b->err)
		return;
	if (b->n + len > b->cap) {
		size_t ncap = b->cap ? b->cap : 4096;
		uint8_t *nd;

		while (ncap < b->n + len)
			ncap *= 2;
		nd = realloc(b->d, ncap);
		if (!nd) {
			b->err = -ENOMEM;
			return;
		}
		b->d = nd;
		b->cap = ncap;
	}
	memcpy(b->d + b->n, src, len);
	b->n += len;
}

static void pb_varint(struct pbuf *b, uint64_t v)
{
	uint8_t tmp[10];
	size_t n = 0;

	do {
		tmp[n++] = (v & 0x7f) | (v > 0x7f ? 0x80 : 0);
		v >>= 7;
	} while (v);
	pb_put(b, tmp, n);
}

/* A varint field; proto3 leaves zero values out. */
static void pb_uint(struct pbuf *b, uint32_t field, uint64_t v)
{
	if (!v)
		return;
	pb_varint(b, (uint64_t)field << 3 | WT_VARINT);
	pb_varint(b, v);
}

static void pb_bytes(struct pbuf *b, uint32_t field, const void *data, size_t len)
{
	pb_varint(b, (uint64_t)field << 3 | WT_LEN);
	pb_varint(b, len);
	pb_put(b, data, len);
}

/* A nested message, built in sub (then emptied for reuse). */
static void pb_msg(struct pbuf *b, uint32_t field, struct pbuf *sub)
{
	if (sub->err)
		b->err = sub->err;
	pb_bytes(b, field, sub->d, sub->n);
	sub->n = 0;
}

/* The string table: strings interned to dense indices, "" first. */
struct strtab {
	char **s;
	uint32_t n, cap;
	uint32_t *slots; /* index + 1, open addressing */
	uint32_t nslots;
	int err; /* out of memory: indices handed out since are 0 */
};

static int strtab_grow(struct strtab *t)
{
	uint32_t ns = t->nslots ? t->nslots * 2 : 1024, *slots = calloc(ns, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (uint32_t i = 0; i < t->n; i++) {
		uint32_t j = hash__str(HASH_FNV_SEED, t->s[i]) & (ns - 1);

		while (slots[j])
			j = (j + 1) & (ns - 1);
		slots[j] = i + 1;
	}
	free(t->slots);
	t->slots = slots;
	t->nslots = ns;
	return 0;
}

/* Index of s (copied when new); 0 and t->err set when out of memory. */
static uint64_t str_id(struct strtab *t, const char *s)
{
	uint32_t j;

	if (!s)
		s = "";
	if ((t->n + 1) * 2 > t->nslots && strtab_grow(t)) {
		t->err = -ENOMEM;
		return 0;
	}
	for (j = hash__str(HASH_FNV_SEED, s) & (t->nslots - 1); t->slots[j];
	     j = (j + 1) & (t->nslots - 1))
		if (!strcmp(t->s[t->slots[j] - 1], s))
			return t->slots[j] - 1;
	if (t->n == t->cap) {
		uint32_t ncap = t->cap ? t->cap * 2 : 256;
		char **ns = reallocarray(t->s, ncap, sizeof(*ns));

		if (!ns) {
			t->err = -ENOMEM;
			return 0;
		}
		t->s = ns;
		t->cap = ncap;
	}
	t->s[t->n] = strdup(s);
	if (!t->s[t->n]) {
		t->err = -ENOMEM;
		return 0;
	}
	t->slots[j] = ++t->n;
	return t->n - 1;
}

struct pprof {
	const struct profile *p;
	const struct report_opts *o;
	struct report_groups *g, *roles; /* roles: for the role label with --group-by pid */
	struct strtab st;
	struct pbuf out, sub, sub2;
	struct report_gstack *v;
	size_t n;
	uint64_t period;
	int metric;
	int err;
};

static int by_group_stack(const void *x, const void *y)
{
	const struct report_gstack *a = x, *b = y;

	if (a->group != b->group)
		return a->group < b->group ? -1 : 1;
	return a->stack < b->stack ? -1 : a->stack > b->stack;
}

static void value_type(struct pprof *pp, uint32_t field, const char *type, const char *unit)
{
	pb_uint(&pp->sub, 1, str_id(&pp->st, type));
	pb_uint(&pp->sub, 2, str_id(&pp->st, unit));
	pb_msg(&pp->out, field, &pp->sub);
}

/* A label on the sample being built in pp->sub: a string, or a number when str is NULL. */
static void label(struct pprof *pp, const char *key, const char *str, int64_t num)
{
	pb_uint(&pp->sub2, 1, str_id(&pp->st, key));
	if (str)
		pb_uint(&pp->sub2, 2, str_id(&pp->st, str));
	else
		pb_uint(&pp->sub2, 3, (uint64_t)num);
	pb_msg(&pp->sub, 3, &pp->sub2);
}

static void write_samples(struct pprof *pp)
{
	uint32_t unknown = profile__nframes(pp->p) + 1;
	size_t i, j;

	if (pp->n)
		qsort(pp->v, pp->n, sizeof(*pp->v), by_group_stack);
	for (i = 0; i < pp->n; i = j) {
		const struct report_group_info *gi = report_groups__get(pp->g, pp->v[i].group);
		uint64_t w = 0;
		uint32_t n;
		const uint32_t *frames = profile__stack_get(pp->p, pp->v[i].stack, &n);

		for (j = i; j < pp->n && !by_group_stack(&pp->v[i], &pp->v[j]); j++)
			w += pp->v[j].weight;
		/* location ids, leaf first, packed */
		for (uint32_t k = n; k-- > 0;)
			pb_varint(&pp->sub2, (uint64_t)frames[k] + 1);
		if (!n)
			pb_varint(&pp->sub2, unknown);
		pb_msg(&pp->sub, 1, &pp->sub2);
		pb_varint(&pp->sub2, w);
		if (pp->metric == METRIC_CPU)
			pb_varint(&pp->sub2, w * pp->period);
		pb_msg(&pp->sub, 2, &pp->sub2);
		if (pp->o->group == REPORT_GROUP_PID) {
			const struct prof_proc *pr = profile__proc_at(pp->p, gi->procs[0]);
			uint32_t role = report_groups__of(pp->roles, gi->procs[0]);

			label(pp, "pid", NULL, pr->pid);
			label(pp, "comm", pr->comm, 0);
			if (role != REPORT_NO_GROUP)
				label(pp, "role", report_groups__get(pp->roles, role)->label, 0);
		} else if (pp->o->group == REPORT_GROUP_ROLE) {
			label(pp, "role", gi->label, 0);
			label(pp, "procs", NULL, gi->nprocs);
		}
		pb_msg(&pp->out, 2, &pp->sub);
	}
}

/* Functions are (name, file) pairs: a small table keyed on the two string indices. */
static int write_locations(struct pprof *pp)
{
	uint32_t nframes = profile__nframes(pp->p), cap = 64, nfuncs = 0, *slots;
	uint64_t *keys;
	char *lab = malloc(LABEL_MAX);
	int err = -ENOMEM;

	while (cap < (nframes + 1) * 2)
		cap *= 2;
	slots = calloc(cap, sizeof(*slots));
	keys = calloc(cap, sizeof(*keys));
	if (!lab || !slots || !keys)
		goto out;
	for (uint32_t i = 0; i <= nframes; i++) {
		const struct prof_frame *f = i < nframes ? profile__frame_get(pp->p, i) : NULL;
		const char *name = "[unknown]", *file = "";
		uint64_t ni, fi;
		uint64_t key;
		uint32_t j;

		if (f && f->kind == FRAME_PYTHON)
			name = f->name;
		else if (f)
			name = report__frame_label(pp->p, i, lab, LABEL_MAX);
		if (f && f->file)
			file = f->file;
		ni = str_id(&pp->st, name);
		fi = str_id(&pp->st, file);
		key = ((uint64_t)ni << 32 | (uint64_t)fi) + 1;
		for (j = (key * 0x9e3779b97f4a7c15ULL) >> 40 & (cap - 1); keys[j] && keys[j] != key;
		     j = (j + 1) & (cap - 1))
			;
		if (!keys[j]) {
			keys[j] = key;
			slots[j] = ++nfuncs;
			pb_uint(&pp->sub, 1, nfuncs);
			pb_uint(&pp->sub, 2, ni);
			pb_uint(&pp->sub, 4, fi);
			pb_msg(&pp->out, 5, &pp->sub);
		}
		pb_uint(&pp->sub2, 1, slots[j]);
		pb_uint(&pp->sub2, 2, f ? f->line : 0);
		pb_uint(&pp->sub, 1, (uint64_t)i + 1);
		pb_msg(&pp->sub, 4, &pp->sub2);
		pb_msg(&pp->out, 4, &pp->sub);
	}
	err = 0;
out:
	free(lab);
	free(slots);
	free(keys);
	return err;
}

static void write_header(struct pprof *pp)
{
	const char *freq = profile__get_meta(pp->p, "frequency");
	const char *start = profile__get_meta(pp->p, "start_unix");
	const char *cmd = profile__get_meta(pp->p, "command");
	uint64_t dur = 0;
	long hz = freq ? strtol(freq, NULL, 10) : 0;

	static const char *const mem_types[][2] = {
	    [METRIC_ALLOC_BYTES] = {"alloc_space", "bytes"},
	    [METRIC_ALLOC_COUNT] = {"alloc_objects", "count"},
	    [METRIC_LIVE_BYTES] = {"inuse_space", "bytes"},
	    [METRIC_PEAK_BYTES] = {"peak_space", "bytes"},
	};
	bool cpu = pp->metric == METRIC_CPU;

	pp->period = hz > 0 && cpu ? 1000000000ULL / (uint64_t)hz : 0;
	if (cpu) {
		value_type(pp, 1, "samples", "count");
		value_type(pp, 1, "cpu", "nanoseconds");
	} else {
		value_type(pp, 1, mem_types[pp->metric][0], mem_types[pp->metric][1]);
	}
	if (start)
		pb_uint(&pp->out, 9, strtoull(start, NULL, 10) * 1000000000ULL);
	if (!profile__get_stat(pp->p, "duration_ns", &dur))
		pb_uint(&pp->out, 10, dur);
	if (cpu)
		value_type(pp, 11, "cpu", "nanoseconds");
	else
		value_type(pp, 11, "space", "bytes");
	pb_uint(&pp->out, 12, pp->period);
	if (cmd)
		pb_uint(&pp->out, 13, str_id(&pp->st, cmd));
	pb_uint(&pp->out, 14, str_id(&pp->st, cpu ? "cpu" : mem_types[pp->metric][0]));
}

static int gzip_to(FILE *out, const uint8_t *data, size_t len)
{
	z_stream zs = {0};
	uint8_t buf[65536];
	int zr, err = 0;

	if (deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	zs.next_in = (uint8_t *)data;
	zs.avail_in = len;
	do {
		zs.next_out = buf;
		zs.avail_out = sizeof(buf);
		zr = deflate(&zs, Z_FINISH);
		if (zr == Z_STREAM_ERROR) {
			err = -EIO;
			break;
		}
		if (fwrite(buf, 1, sizeof(buf) - zs.avail_out, out) != sizeof(buf) - zs.avail_out) {
			err = -EIO;
			break;
		}
	} while (zr != Z_STREAM_END);
	deflateEnd(&zs);
	return err;
}

int report__pprof(const struct profile *p, FILE *out, const struct report_opts *o)
{
	struct report_opts by_role = *o;
	struct pprof pp = {.p = p, .o = o, .metric = report__metric(o)};
	int err;

	if (pp.metric < 0)
		return pp.metric;
	by_role.group = REPORT_GROUP_ROLE;
	pp.g = report_groups__new(p, o);
	pp.roles = o->group == REPORT_GROUP_PID ? report_groups__new(p, &by_role) : NULL;
	if (!pp.g || (o->group == REPORT_GROUP_PID && !pp.roles)) {
		err = -ENOMEM;
		goto out;
	}
	str_id(&pp.st, "");
	err = report_groups__weights(p, o, pp.g, &pp.v, &pp.n);
	if (err)
		goto out;
	write_header(&pp);
	write_samples(&pp);
	err = write_locations(&pp);
	if (err)
		goto out;
	for (uint32_t i = 0; i < pp.st.n; i++)
		pb_bytes(&pp.out, 6, pp.st.s[i], strlen(pp.st.s[i]));
	err = pp.out.err    ? pp.out.err
	      : pp.sub.err  ? pp.sub.err
	      : pp.sub2.err ? pp.sub2.err
			    : pp.st.err;
	if (!err)
		err = gzip_to(out, pp.out.d, pp.out.n);
	if (!err && (fflush(out) || ferror(out)))
		err = -EIO;
out:
	for (uint32_t i = 0; i < pp.st.n; i++)
		free(pp.st.s[i]);
	free(pp.st.s);
	free(pp.st.slots);
	free(pp.out.d);
	free(pp.sub.d);
	free(pp.sub2.d);
	free(pp.v);
	report_groups__free(pp.g);
	report_groups__free(pp.roles);
	return err;
}
