// SPDX-License-Identifier: GPL-2.0
/* Live lines: "  12.345  1234/1240 python3     hot (app.py:12) < caller (app.py:30) < ..."
 * leaf first, so the hot frame is at the start of the line where the eye lands; or JSON
 * Lines with the same content. Aggregates and fold notices are keyed by the two innermost
 * frames (leaf and caller), the part of a stack a reader scanning a live view recognises. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "ui/heapest.h"
#include "ui/live.h"
#include "ui/outbuf.h"
#include "lib/demangle.h"
#include "lib/hash.h"
#include "lib/json.h"
#include "lib/strbuf.h"
#include "trace/proctree.h"
#include "profile/profile.h"
#include "report/report.h"
#include "report/report_mem.h"
#include "trace/tracer.h"
#include "treeprof.h"

#define OUT_CAP	    (32 * 1024)
#define SAMPLE_KEEP (OUT_CAP / 4) /* sample lines leave this much room to events */
#define EVENT_KEEP  1024	  /* events and aggregates leave this much to notices */
#define AGG_SLOTS   4096	  /* distinct (leaf, caller) pairs per window */
#define AGG_TOP	    5
#define NO_FRAME    UINT32_MAX
/* A frame the profile does not have, in JSON */
#define UNKNOWN_JSON "{\"kind\":\"native\",\"name\":\"[unknown]\",\"file\":null,\"line\":0}"

/* ------------------------------------------------------------------ lines being built */

/* Text from traced processes (lib/json.h's utf8__text): control characters would drive the
 * terminal, and bytes that are not UTF-8 would break a reader decoding the lines strictly. */
static void put_text(struct strbuf *b, const char *s)
{
	utf8__text(b, s, SIZE_MAX);
}

/* A process's name in a column of COMM_COLS characters (the kernel's comm is at most 15
 * bytes, and may end in a cut sequence). */
#define COMM_COLS 15
static void put_comm(struct strbuf *b, const char *comm)
{
	for (size_t n = utf8__text(b, comm ? comm : "?", COMM_COLS); n < COMM_COLS; n++)
		strbuf__putc(b, ' ');
}

/* A JSON string (lib/json.h: invalid UTF-8 as U+FFFD, controls escaped), so every line
 * parses whatever the traced processes put in their names. */
static void put_json_str(struct strbuf *b, const char *s)
{
	json__str(b, s, JSON_NO_MAX, 0);
}

static const char *const kind_names[] = {
    [FRAME_PYTHON] = "python", [FRAME_NATIVE] = "native", [FRAME_KERNEL] = "kernel"};

static void put_json_frame(struct strbuf *b, const struct profile *p, uint32_t id)
{
	const struct prof_frame *f = profile__frame_get(p, id);
	char dm[DEMANGLE_OUT_MAX];
	const char *name;

	if (!f) {
		strbuf__puts(b, UNKNOWN_JSON);
		return;
	}
	strbuf__printf(b, "{\"kind\":\"%s\",\"name\":",
		       f->kind <= FRAME_KERNEL && kind_names[f->kind] ? kind_names[f->kind]
								      : "native");
	name = report__frame_name(f, dm, sizeof(dm));
	put_json_str(b, name);
	if (name != f->name) {
		strbuf__puts(b, ",\"mangled\":");
		put_json_str(b, f->name);
	}
	strbuf__puts(b, ",\"file\":");
	if (f->file)
		put_json_str(b, f->file);
	else
		strbuf__puts(b, "null");
	strbuf__printf(b, ",\"line\":%u}", f->line);
}

/* ------------------------------------------------------------------ aggregates */

/* Sample counts per (leaf, caller) frame pair. Pairs past the table's load go to other. */
struct agg {
	uint64_t keys[AGG_SLOTS], counts[AGG_SLOTS];
	uint16_t used[AGG_SLOTS];
	unsigned nused;
	uint64_t samples, other;
};

/* How many frames of a stack (root first) text shows: up to the innermost Python frame when
 * there is one (the kernel and interpreter frames above it say little in a live view), else
 * all of them. */
static uint32_t shown_depth(const struct profile *p, const uint32_t *frames, uint32_t n)
{
	for (uint32_t i = n; i-- > 0;) {
		const struct prof_frame *f = profile__frame_get(p, frames[i]);

		if (f && f->kind == FRAME_PYTHON)
			return i + 1;
	}
	return n;
}

static uint64_t agg_key(const struct profile *p, const struct prof_sample *s)
{
	const uint32_t *frames;
	uint32_t n;

	frames = profile__stack_get(p, s->stack, &n);
	n = shown_depth(p, frames, n);
	return (uint64_t)(n ? frames[n - 1] : NO_FRAME) << 32 | (n > 1 ? frames[n - 2] : NO_FRAME);
}

static void agg_add(struct agg *a, uint64_t key, uint64_t count)
{
	unsigned i = (key * 0x9e3779b97f4a7c15ULL) >> 52; /* 12 bits: AGG_SLOTS */

	a->samples += count;
	for (unsigned probe = 0; probe < 64; probe++, i = (i + 1) % AGG_SLOTS) {
		if (a->counts[i] && a->keys[i] == key) {
			a->counts[i] += count;
			return;
		}
		if (!a->counts[i] && a->nused < AGG_SLOTS * 3 / 4) {
			a->keys[i] = key;
			a->counts[i] = count;
			a->used[a->nused++] = i;
			return;
		}
	}
	a->other += count;
}

static void agg_merge(struct agg *to, const struct agg *from)
{
	for (unsigned i = 0; i < from->nused; i++)
		agg_add(to, from->keys[from->used[i]], from->counts[from->used[i]]);
	to->samples += from->other;
	to->other += from->other;
}

static void agg_reset(struct agg *a)
{
	for (unsigned i = 0; i < a->nused; i++)
		a->counts[a->used[i]] = 0;
	a->nused = 0;
	a->samples = a->other = 0;
}

/* The k busiest slots, busiest first; returns how many. */
static unsigned agg_top(const struct agg *a, unsigned *top, unsigned k)
{
	unsigned n = 0, j;

	for (unsigned u = 0; u < a->nused; u++) {
		unsigned slot = a->used[u];

		if (n < k)
			j = n++;
		else if (a->counts[slot] > a->counts[top[k - 1]])
			j = k - 1;
		else
			continue;
		while (j > 0 && a->counts[top[j - 1]] < a->counts[slot]) {
			top[j] = top[j - 1];
			j--;
		}
		top[j] = slot;
	}
	return n;
}

/* ------------------------------------------------------------------ memory (--mem)
 * Once a second, a line per process that allocates: its allocation rate from the exact
 * totals, its heap in use (exact from the preloaded sampler; else estimated from the
 * sampled blocks still held: ui/heapest.h) and its RSS. */
#define MEM_MAX_BLOCKS (512u << 10) /* sampled blocks followed for the heap estimate */
#define MEM_EVERY_NS   1000000000ULL

/* The exact totals at a process's last mem line, for its rates. */
struct mem_rate {
	uint64_t last_bytes, last_count, last_ns;
};

/* ------------------------------------------------------------------ the sink */

struct live {
	struct live_opts o;
	struct outbuf *out;
	struct strbuf line;
	struct agg win;	 /* the current --every / --interval window */
	struct agg fold; /* samples folded since the last notice */
	uint64_t fold_events, folded_total, folded_events_total;
	uint64_t win_start_ns;
	const struct profile *p;
	char **labels, **jframes; /* per frame id, made once (frames never change) */
	uint32_t ncache;
	struct heapest *heap; /* --mem: the estimated heaps */
	struct htab rates;    /* --mem: struct mem_rate by pid */
	uint64_t mem_last_ns;
};

static double rel_s(const struct live *l, uint64_t ts)
{
	return ts > l->o.start_ns ? (ts - l->o.start_ns) / 1e9 : 0.0;
}

/* Queue the line being built: 0, or -ENOSPC when it did not fit, or could not be built for
 * want of memory (strbuf__err): the caller folds it, so a lost line is counted and its stack
 * summed like a slow reader's. The reader went away (`live | head`): end the run cleanly
 * instead of printing into nothing. */
static int emit(struct live *l, size_t reserve)
{
	int err;

	if (strbuf__err(&l->line))
		return -ENOSPC;
	err = outbuf__put(l->out, strbuf__str(&l->line), strbuf__len(&l->line), reserve);
	if (err && err != -ENOSPC)
		tracer__request_stop();
	return err;
}

/* The text label (json false) or the JSON object of a frame, made at its first use. */
static const char *frame_text(struct live *l, uint32_t id, bool json)
{
	uint32_t n = profile__nframes(l->p);
	const char *unknown = json ? UNKNOWN_JSON : "[unknown]";
	char label[512], **slot;
	struct strbuf b = {0};

	if (id >= n)
		return unknown;
	if (n > l->ncache) {
		char **lab = reallocarray(l->labels, n, sizeof(*lab));
		char **jf = lab ? reallocarray(l->jframes, n, sizeof(*jf)) : NULL;

		if (lab)
			l->labels = lab;
		if (!jf)
			return unknown;
		l->jframes = jf;
		memset(lab + l->ncache, 0, (n - l->ncache) * sizeof(*lab));
		memset(jf + l->ncache, 0, (n - l->ncache) * sizeof(*jf));
		l->ncache = n;
	}
	slot = json ? &l->jframes[id] : &l->labels[id];
	if (*slot)
		return *slot;
	if (json) {
		put_json_frame(&b, l->p, id);
		*slot = strbuf__take(&b, NULL);
	} else {
		report__frame_label(l->p, id, label, sizeof(label));
		put_text(&b, label);
		*slot = strbuf__take(&b, NULL);
	}
	return *slot ? *slot : unknown; /* out of memory: made again at the next use */
}

/* "count leaf < caller | ..." or a JSON array of {"count", "frames"}, for agg's top pairs. */
static void put_top(struct live *l, const struct agg *a, unsigned k)
{
	unsigned top[AGG_TOP], n = agg_top(a, top, k);

	if (l->o.json)
		strbuf__puts(&l->line, ",\"top\":[");
	for (unsigned i = 0; i < n; i++) {
		uint32_t ids[2] = {a->keys[top[i]] >> 32, (uint32_t)a->keys[top[i]]};

		if (l->o.json) {
			strbuf__printf(&l->line, "%s{\"count\":%llu,\"frames\":[", i ? "," : "",
				       (unsigned long long)a->counts[top[i]]);
			for (int j = 0; j < 2 && ids[j] != NO_FRAME; j++) {
				strbuf__puts(&l->line, j ? "," : "");
				strbuf__puts(&l->line, frame_text(l, ids[j], true));
			}
			strbuf__puts(&l->line, "]}");
			continue;
		}
		strbuf__printf(&l->line, "%s%llu ", i ? " | " : "",
			       (unsigned long long)a->counts[top[i]]);
		if (ids[0] == NO_FRAME)
			strbuf__puts(&l->line, "[no stack]");
		for (int j = 0; j < 2 && ids[j] != NO_FRAME; j++) {
			strbuf__puts(&l->line, j ? " < " : "");
			strbuf__puts(&l->line, frame_text(l, ids[j], false));
		}
	}
	strbuf__puts(&l->line, l->o.json ? "]}\n" : "\n");
}

/* Say how many lines were folded and what they held; the notice uses the room kept back
 * from samples, so it gets through as soon as the reader takes anything. */
static void fold_notice(struct live *l, size_t reserve)
{
	double t = rel_s(l, clock__mono_ns());

	if (!l->fold.samples && !l->fold_events)
		return;
	strbuf__reset(&l->line);
	if (l->o.json)
		strbuf__printf(
		    &l->line, "{\"type\":\"folded\",\"t\":%.6f,\"samples\":%llu,\"events\":%llu", t,
		    (unsigned long long)l->fold.samples, (unsigned long long)l->fold_events);
	else
		strbuf__printf(&l->line, "%9.3f ... %llu samples folded (terminal too slow)", t,
			       (unsigned long long)l->fold.samples);
	if (!l->o.json && l->fold_events)
		strbuf__printf(&l->line, ", %llu events folded",
			       (unsigned long long)l->fold_events);
	if (!l->o.json)
		strbuf__puts(&l->line, l->fold.samples ? ": " : "");
	put_top(l, &l->fold, 3);
	if (emit(l, reserve))
		return;
	agg_reset(&l->fold);
	l->fold_events = 0;
}

static void summary(struct live *l, uint64_t now, size_t reserve)
{
	double secs = (now - l->win_start_ns) / 1e9;

	strbuf__reset(&l->line);
	if (l->o.json)
		strbuf__printf(&l->line,
			       "{\"type\":\"summary\",\"t\":%.6f,\"seconds\":%.3f,\"samples\":%llu",
			       rel_s(l, now), secs, (unsigned long long)l->win.samples);
	else
		strbuf__printf(&l->line, "%9.3f -- %llu samples in %.2f s%s", rel_s(l, now),
			       (unsigned long long)l->win.samples, secs,
			       l->win.samples ? ": " : "");
	put_top(l, &l->win, AGG_TOP);
	if (emit(l, reserve) == -ENOSPC) {
		agg_merge(&l->fold, &l->win);
		l->folded_total += l->win.samples;
	}
	agg_reset(&l->win);
	l->win_start_ns = now;
}

static void sample_line(struct live *l, const struct prof_sample *s, pid_t pid)
{
	const struct prof_proc *proc = profile__proc_at(l->p, s->proc);
	const char *comm = proc && proc->comm ? proc->comm : "?";
	uint32_t n, shown = 0;
	const uint32_t *frames = profile__stack_get(l->p, s->stack, &n);

	strbuf__reset(&l->line);
	if (l->o.json) {
		strbuf__printf(&l->line,
			       "{\"type\":\"sample\",\"t\":%.6f,\"pid\":%d,\"tid\":%u,\"cpu\":%u,"
			       "\"comm\":",
			       rel_s(l, s->ts_ns), pid, s->tid, s->cpu);
		put_json_str(&l->line, comm);
		strbuf__puts(&l->line, ",\"frames\":[");
		for (uint32_t i = n; i-- > 0;) {
			strbuf__puts(&l->line, i + 1 < n ? "," : "");
			strbuf__puts(&l->line, frame_text(l, frames[i], true));
		}
		strbuf__puts(&l->line, "]}\n");
		return;
	}
	strbuf__printf(&l->line, "%9.3f %7d/%-7u ", rel_s(l, s->ts_ns), pid, s->tid);
	put_comm(&l->line, comm);
	strbuf__putc(&l->line, ' ');
	n = shown_depth(l->p, frames, n);
	if (!n)
		strbuf__puts(&l->line, "[no stack]");
	for (uint32_t i = n; i-- > 0;) {
		if (shown == (uint32_t)l->o.max_frames + 1) {
			strbuf__printf(&l->line, " < ... (%u more)", i + 1);
			break;
		}
		strbuf__puts(&l->line, shown ? " < " : "");
		strbuf__puts(&l->line, frame_text(l, frames[i], false));
		shown++;
	}
	strbuf__puts(&l->line, "\n");
}

static void live_sample(void *ctx, const struct profile *p, const struct prof_sample *s, pid_t pid)
{
	struct live *l = ctx;

	l->p = p;
	if (l->o.every || l->o.interval > 0) {
		agg_add(&l->win, agg_key(p, s), 1);
		if (l->o.every && l->win.samples >= l->o.every)
			summary(l, clock__mono_ns(), EVENT_KEEP);
		return;
	}
	fold_notice(l, SAMPLE_KEEP);
	sample_line(l, s, pid);
	if (emit(l, SAMPLE_KEEP) == -ENOSPC) {
		agg_add(&l->fold, agg_key(p, s), 1);
		l->folded_total++;
	}
}

static void live_proc(void *ctx, const struct profile *p, const struct prof_proc *proc,
		      const char *what, uint64_t ts)
{
	struct live *l = ctx;
	bool exited = !strcmp(what, "exit");

	l->p = p;
	if (l->heap && exited) {
		heapest__exit(l->heap, proc->pid);
		htab__del(&l->rates, (uint64_t)proc->pid);
	} else if (l->heap) { /* an exec ends the old image; a fork child starts with nothing */
		heapest__image(l->heap, proc->pid, ts);
	}
	fold_notice(l, EVENT_KEEP);
	strbuf__reset(&l->line);
	if (l->o.json) {
		strbuf__printf(&l->line,
			       "{\"type\":\"%s\",\"t\":%.6f,\"pid\":%d,\"ppid\":%d,\"comm\":", what,
			       rel_s(l, ts), proc->pid, proc->ppid);
		put_json_str(&l->line, proc->comm);
		strbuf__puts(&l->line, ",\"cmdline\":");
		put_json_str(&l->line, proc->cmdline);
		if (exited)
			strbuf__printf(&l->line, ",\"exit_code\":%d", proc->exit_code);
		strbuf__puts(&l->line, "}\n");
	} else if (exited) {
		strbuf__printf(&l->line, "%9.3f %7d         -- exit (status %d) ", rel_s(l, ts),
			       proc->pid, proc->exit_code);
		put_text(&l->line, proc->comm);
		strbuf__puts(&l->line, "\n");
	} else {
		strbuf__printf(&l->line, "%9.3f %7d         -- %s (parent %d) ", rel_s(l, ts),
			       proc->pid, what, proc->ppid);
		put_text(&l->line, proc->cmdline);
		strbuf__puts(&l->line, "\n");
	}
	if (emit(l, EVENT_KEEP) == -ENOSPC) {
		l->fold_events++;
		l->folded_events_total++;
	}
}

static void live_mem_event(void *ctx, const struct profile *p, pid_t pid, uint64_t addr,
			   double bytes, uint64_t ts_ns)
{
	struct live *l = ctx;
	const struct prof_proc *proc = profile__proc_find(p, pid);

	l->p = p;
	/* Read after the exit (the tracer reads two rings in turn): nobody's heap any more. */
	if (!l->heap || (proc && proc->exited))
		return;
	if (bytes > 0)
		heapest__alloc(l->heap, pid, addr, bytes, ts_ns);
	else
		heapest__release(l->heap, pid, addr, ts_ns);
}

/* One line per live process whose totals moved (or that holds memory), once a second. */
static void mem_lines(struct live *l, uint64_t now)
{
	char a[32], b[32], c[32];

	for (uint32_t i = 0; i < profile__nprocs(l->p); i++) {
		const struct prof_proc *proc = profile__proc_at(l->p, i);
		const struct tp_memcounters *mc = profile__mem_counters_get(l->p, i);
		struct mem_rate *mr;
		double dt, rate, count_rate, heap;
		uint64_t rss;

		if (!proc || !mc || proc->exited)
			continue;
		mr = htab__put(&l->rates, (uint64_t)proc->pid, NULL);
		if (!mr)
			continue;
		dt = mr->last_ns ? (now - mr->last_ns) / 1e9 : 0;
		rate = dt > 0 && mc->alloc_bytes >= mr->last_bytes
			   ? (mc->alloc_bytes - mr->last_bytes) / dt
			   : 0;
		count_rate = dt > 0 && mc->alloc_count >= mr->last_count
				 ? (mc->alloc_count - mr->last_count) / dt
				 : 0;
		mr->last_bytes = mc->alloc_bytes;
		mr->last_count = mc->alloc_count;
		mr->last_ns = now;
		if (dt <= 0)
			continue; /* the first reading is the baseline */
		/* signed: a fork child's sampler counts from the fork (shim/memshim.c) */
		if (mc->in_use)
			heap = (int64_t)mc->in_use > 0 ? (double)mc->in_use : 0;
		else
			heap = (double)heapest__bytes(l->heap, proc->pid);
		rss = proc_read_rss(proc->pid);
		strbuf__reset(&l->line);
		if (l->o.json) {
			strbuf__printf(&l->line,
				       "{\"type\":\"mem\",\"t\":%.6f,\"pid\":%d,\"comm\":",
				       rel_s(l, now), proc->pid);
			put_json_str(&l->line, proc->comm);
			strbuf__printf(
			    &l->line,
			    ",\"alloc_bytes_per_s\":%.0f,\"allocs_per_s\":%.0f,"
			    "\"heap_bytes\":%.0f,\"heap_exact\":%s,\"rss_bytes\":%llu}\n",
			    rate, count_rate, heap, mc->in_use ? "true" : "false",
			    (unsigned long long)rss);
		} else {
			strbuf__printf(&l->line, "%9.3f %7d         -- mem ", rel_s(l, now),
				       proc->pid);
			put_comm(&l->line, proc->comm);
			strbuf__printf(&l->line, " alloc %s/s (%.0f/s)  heap %s%s  rss %s\n",
				       report__human_size(a, sizeof(a), rate), count_rate,
				       mc->in_use ? "" : "~",
				       report__human_size(b, sizeof(b), heap),
				       report__human_size(c, sizeof(c), (double)rss));
		}
		if (emit(l, EVENT_KEEP) == -ENOSPC) {
			l->fold_events++;
			l->folded_events_total++;
		}
	}
}

/* Timers and pending output, at least every 100 ms. */
static void live_poll(void *ctx, const struct profile *p)
{
	struct live *l = ctx;
	uint64_t now = clock__mono_ns();

	l->p = p;
	if (l->heap && now - l->mem_last_ns >= MEM_EVERY_NS) {
		l->mem_last_ns = now;
		mem_lines(l, now);
	}
	if (outbuf__flush(l->out))
		tracer__request_stop();
	if (l->o.interval > 0 && now - l->win_start_ns >= l->o.interval * 1e9)
		summary(l, now, EVENT_KEEP);
	fold_notice(l, EVENT_KEEP);
}

struct live *live__new(const struct live_opts *o)
{
	struct live *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->o = *o;
	if (l->o.max_frames <= 0)
		l->o.max_frames = 8;
	l->win_start_ns = o->start_ns ? o->start_ns : clock__mono_ns();
	htab__init(&l->rates, sizeof(struct mem_rate));
	l->out = outbuf__new(o->fd, OUT_CAP);
	if (!l->out || (o->mem && !(l->heap = heapest__new(MEM_MAX_BLOCKS)))) {
		int err = errno;

		live__free(l);
		errno = err;
		return NULL;
	}
	return l;
}

void live__sink(struct live *l, struct tracer_sink *sink)
{
	memset(sink, 0, sizeof(*sink));
	sink->ctx = l;
	sink->on_sample = live_sample;
	sink->on_proc = live_proc;
	sink->on_poll = live_poll;
	sink->on_mem = live_mem_event;
}

int live__finish(struct live *l)
{
	size_t left;
	int err;

	if (l->p && (l->o.every || l->o.interval > 0) && l->win.samples)
		summary(l, clock__mono_ns(), 0);
	if (l->p && (l->fold.samples || l->fold_events)) {
		outbuf__drain(l->out, 500);
		fold_notice(l, 0);
	}
	left = outbuf__drain(l->out, 1000);
	if (l->folded_total || l->folded_events_total)
		fprintf(stderr,
			"treeprof: live: %llu samples and %llu events folded: the output was "
			"slower than the samples\n",
			(unsigned long long)l->folded_total,
			(unsigned long long)l->folded_events_total);
	if (left)
		fprintf(stderr, "treeprof: live: %zu bytes of output not taken by the reader\n",
			left);
	err = outbuf__flush(l->out);
	return err == -EPIPE ? 0 : err; /* the reader went away: that ends live output */
}

void live__free(struct live *l)
{
	if (!l)
		return;
	outbuf__free(l->out);
	for (uint32_t i = 0; i < l->ncache; i++) {
		free(l->labels[i]);
		free(l->jframes[i]);
	}
	free(l->labels);
	free(l->jframes);
	strbuf__fini(&l->line);
	heapest__free(l->heap);
	htab__fini(&l->rates);
	free(l);
}
