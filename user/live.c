// SPDX-License-Identifier: GPL-2.0
/* Live lines: "  12.345  1234/1240 python3     hot (app.py:12) < caller (app.py:30) < ..."
 * leaf first, so the hot frame is at the start of the line where the eye lands. */
#include <stdio.h>
#include <string.h>

#include "live.h"
#include "profile.h"
#include "report.h"
#include "tracer.h"

static double rel_s(const struct live_opts *o, uint64_t ts)
{
	return ts > o->start_ns ? (ts - o->start_ns) / 1e9 : 0.0;
}

/* The reader went away (`live | head`): end the run cleanly instead of printing into
 * nothing. */
static void live_flush(struct live_opts *o)
{
	if (fflush(o->out) || ferror(o->out))
		tracer__request_stop();
}

static void live_sample(void *ctx, const struct profile *p, const struct tp_sample_rec *s,
			pid_t pid)
{
	struct live_opts *o = ctx;
	const struct tp_process *proc = profile__proc_at(p, s->proc);
	const uint32_t *frames;
	uint32_t n, shown = 0;
	char label[512];

	frames = profile__stack_get(p, s->stack, &n);
	fprintf(o->out, "%9.3f %7d/%-7u %-15.15s ", rel_s(o, s->ts_ns), pid, s->tid,
		proc && proc->comm ? proc->comm : "?");
	if (!n)
		fputs("[no stack]", o->out);
	for (uint32_t i = n; i-- > 0;) {
		if (shown == (uint32_t)o->max_frames + 1) {
			fprintf(o->out, " < ... (%u more)", i + 1);
			break;
		}
		fprintf(o->out, "%s%s", shown ? " < " : "",
			report__frame_label(p, frames[i], label, sizeof(label)));
		shown++;
	}
	fputc('\n', o->out);
	live_flush(o);
}

static void live_proc(void *ctx, const struct profile *p, const struct tp_process *proc,
		      const char *what, uint64_t ts)
{
	struct live_opts *o = ctx;

	if (!strcmp(what, "exit"))
		fprintf(o->out, "%9.3f %7d         -- exit (status %d) %s\n", rel_s(o, ts),
			proc->pid, proc->exit_code, proc->comm);
	else
		fprintf(o->out, "%9.3f %7d         -- %s (parent %d) %s\n", rel_s(o, ts), proc->pid,
			what, proc->ppid, proc->cmdline);
	fflush(o->out);
}

void live__sink(struct tracer_sink *sink, struct live_opts *o)
{
	memset(sink, 0, sizeof(*sink));
	if (o->max_frames <= 0)
		o->max_frames = 8;
	sink->ctx = o;
	sink->on_sample = live_sample;
	sink->on_proc = live_proc;
}
