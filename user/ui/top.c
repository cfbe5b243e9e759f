// SPDX-License-Identifier: GPL-2.0
/* treeprof top. Each refresh takes the samples the profile received since the last one (the
 * window), counts them per process for the CPU shares and per function for the lists, and draws.
 * "Functions" group frames by kind, name and file and are labelled as in the text report
 * (report_funcs.h): self is the leaf of a sample, total counts a sample once per function it
 * holds. Under them, the window's hot call paths (report_paths.h: leaf first, without the
 * functions on nearly every stack). Short-lived helpers shown (report_fold.h; an exited process
 * shows only while it had samples in the window) fold into one row at the end of the process list
 * when two or more are: that row cannot be selected. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/freeall.h"
#include "lib/vec.h"
#include "ui/outbuf.h"
#include "profile/profile.h"
#include "report/report.h"
#include "report/report_fold.h"
#include "report/report_funcs.h"
#include "report/report_paths.h"
#include "ui/top.h"
#include "trace/tracer.h"

#define OUT_CAP	     (256 * 1024)
#define PLAIN_COLS   100
#define PLAIN_PROCS  60
#define PLAIN_FUNCS  12
#define MAX_INDENT   8
#define LINE_MAX_LEN 1024
#define PLAIN_PATHS  6

enum sort { SORT_CPU, SORT_PID, SORT_NAME, SORT_NR };
static const char *const sort_names[] = {"cpu", "pid", "name"};

/* A function's counts in the window (report_funcs.h: what a function is, its label). */
struct func {
	uint64_t self, total, mark;
};

struct top {
	struct top_opts o;
	struct outbuf *out;
	const struct tracer *tr;
	const struct profile *p;
	bool tty, keys, screen_on;
	struct termios saved_tio;
	struct sigaction saved_winch;
	int rows, cols;
	char *scr; /* the frame being drawn */
	size_t scr_len;

	uint64_t last_ns;	 /* end of the window */
	size_t win_from, win_to; /* samples of the window */
	double win_secs;
	uint64_t *proc_win; /* window samples per process index */
	uint32_t nprocs_win;

	struct report_funcs rf; /* frames to functions, their labels */
	struct func *funcs;	/* by function */
	uint32_t funcs_cap;
	uint32_t *hot; /* functions with samples in the window, sorted */
	uint32_t nhot;
	uint64_t walk, focus_samples;
	uint64_t top_total;	   /* the largest function total of the window */
	struct report_paths paths; /* of the window, heaviest first */

	uint32_t *view; /* process indices in tree order */
	uint8_t *depth;
	uint32_t nview, view_cap;
	uint32_t nfold;			 /* short-lived processes folded out of view */
	uint64_t fold_win, fold_samples; /* their window and total samples */
	char fold_row[256];		 /* "N short-lived: bash x3, readlink x2" */
	pid_t sel_pid, focus_pid;	 /* 0: none / the whole tree */
	uint32_t first_row;		 /* scrolling of the process list */
	enum sort sort;
	uint64_t skipped; /* refreshes the terminal could not take */
};

static volatile sig_atomic_t winch;

static void on_winch(int sig)
{
	winch = 1;
}

/* ------------------------------------------------------------------ functions */

/* Give every frame interned since the last call its function, and each new function its
 * counts, zero. 0 or -ENOMEM. */
static int map_frames(struct top *t)
{
	uint32_t had = t->funcs_cap;
	int err = report_funcs__update(&t->rf, t->p);

	/* the functions numbered before a failure get their counts too */
	if (vec__grow32((void **)&t->funcs, &t->funcs_cap, report_funcs__count(&t->rf),
			sizeof(*t->funcs)))
		return -ENOMEM;
	memset(t->funcs + had, 0, (size_t)(t->funcs_cap - had) * sizeof(*t->funcs));
	return err;
}

static int by_self(const void *x, const void *y, void *ctx)
{
	const struct top *t = ctx;
	uint32_t i = *(const uint32_t *)x, j = *(const uint32_t *)y;
	const struct func *a = &t->funcs[i], *b = &t->funcs[j];

	return report_funcs__order(&t->rf, i, a->self, a->total, j, b->self, b->total);
}

/* Sample i of the profile when it belongs to the focus (the whole tree when none), or NULL. */
static const struct prof_sample *focus_sample(const struct top *t, size_t i,
					      const struct prof_proc *focus)
{
	const struct prof_sample *s = profile__sample_at(t->p, i);

	return s && (!t->focus_pid || (focus && s->proc == focus->idx)) ? s : NULL;
}

static bool everywhere(const void *ctx, uint32_t group, uint32_t func)
{
	const struct top *t = ctx;

	return t->focus_samples >= REPORT_EVERYWHERE_MIN &&
	       (double)t->funcs[func].total >= REPORT_EVERYWHERE * (double)t->top_total;
}

/* The window's stacks of the focus condensed to hot call paths (after the functions are
 * counted: which are on nearly every stack depends on their totals). */
static int count_paths(struct top *t, const struct prof_proc *focus)
{
	const uint32_t *fmap = report_funcs__fmap(&t->rf), mapped = report_funcs__nframes(&t->rf);

	report_paths__clear(&t->paths);
	t->top_total = 0;
	for (uint32_t i = 0; i < t->nhot; i++)
		if (t->funcs[t->hot[i]].total > t->top_total)
			t->top_total = t->funcs[t->hot[i]].total;
	for (size_t i = t->win_from; i < t->win_to; i++) {
		const struct prof_sample *s = focus_sample(t, i, focus);
		const uint32_t *frames;
		struct report_path h;
		uint32_t n, j;

		if (!s)
			continue;
		frames = profile__stack_get(t->p, s->stack, &n);
		for (j = 0; j < n && frames[j] < mapped; j++)
			;
		if (j < n)
			continue;
		report_path__condense(&h, 0, 1, frames, n, fmap, everywhere, t);
		if (report_paths__add(&t->paths, &h))
			return -ENOMEM;
	}
	report_paths__sort(&t->paths);
	return 0;
}

/* The hottest functions of the window, for the focused process or the whole tree. */
static int count_functions(struct top *t)
{
	const struct prof_proc *focus = t->focus_pid ? profile__proc_find(t->p, t->focus_pid) : 0;
	const uint32_t *fmap;
	uint32_t mapped;

	if (map_frames(t))
		return -ENOMEM;
	fmap = report_funcs__fmap(&t->rf);
	mapped = report_funcs__nframes(&t->rf);
	for (uint32_t i = 0; i < t->nhot; i++)
		t->funcs[t->hot[i]].self = t->funcs[t->hot[i]].total = 0;
	t->nhot = 0;
	t->focus_samples = 0;
	if (!(t->hot = realloc(t->hot, (report_funcs__count(&t->rf) + 1) * sizeof(*t->hot))))
		return -ENOMEM;
	for (size_t i = t->win_from; i < t->win_to; i++) {
		const struct prof_sample *s = focus_sample(t, i, focus);
		const uint32_t *frames;
		uint32_t n;

		if (!s)
			continue;
		t->focus_samples++;
		frames = profile__stack_get(t->p, s->stack, &n);
		t->walk++;
		for (uint32_t j = 0; j < n; j++) {
			struct func *fn;

			if (frames[j] >= mapped)
				continue;
			fn = &t->funcs[fmap[frames[j]]];
			if (fn->mark == t->walk)
				continue;
			fn->mark = t->walk;
			if (!fn->total && !fn->self)
				t->hot[t->nhot++] = fmap[frames[j]];
			fn->total++;
		}
		if (n && frames[n - 1] < mapped)
			t->funcs[fmap[frames[n - 1]]].self++;
	}
	qsort_r(t->hot, t->nhot, sizeof(*t->hot), by_self, t);
	return count_paths(t, focus);
}

/* ------------------------------------------------------------------ the process tree */

static uint64_t win_samples(const struct top *t, uint32_t idx)
{
	return idx < t->nprocs_win ? t->proc_win[idx] : 0;
}

/* Alive, or gone but busy in the last window (a short child shows for one refresh). */
static bool shown(const struct top *t, uint32_t idx)
{
	const struct prof_proc *pr = profile__proc_at(t->p, idx);

	return pr && (!pr->exited || win_samples(t, idx));
}

static int by_sort(const void *x, const void *y, void *ctx)
{
	const struct top *t = ctx;
	uint32_t i = *(const uint32_t *)x, j = *(const uint32_t *)y;
	const struct prof_proc *a = profile__proc_at(t->p, i), *b = profile__proc_at(t->p, j);
	int c;

	if (t->sort == SORT_CPU && win_samples(t, i) != win_samples(t, j))
		return win_samples(t, i) > win_samples(t, j) ? -1 : 1;
	if (t->sort == SORT_NAME && (c = strcmp(a->comm, b->comm)))
		return c;
	return a->pid != b->pid ? (a->pid < b->pid ? -1 : 1) : (i < j ? -1 : 1);
}

static bool parent_shown(const struct top *t, const struct prof_proc *pr)
{
	const struct prof_proc *par = profile__proc_find(t->p, pr->ppid);

	return par && par != pr && shown(t, par->idx);
}

/* Append idx and, depth first, its shown children in sort order (sorted holds them all). */
static void add_subtree(struct top *t, const uint32_t *sorted, uint32_t n, uint32_t idx, int d)
{
	const struct prof_proc *pr = profile__proc_at(t->p, idx);

	if (t->nview >= n)
		return;
	t->view[t->nview] = idx;
	t->depth[t->nview++] = d;
	for (uint32_t i = 0; i < n && t->nview < n; i++) {
		const struct prof_proc *c = profile__proc_at(t->p, sorted[i]);
		const struct prof_proc *par = profile__proc_find(t->p, c->ppid);

		if (par == pr && c != pr && d < 64)
			add_subtree(t, sorted, n, sorted[i], d + 1);
	}
}

static bool short_row(const struct top *t, uint32_t v)
{
	return report_fold__short_lived(profile__proc_at(t->p, t->view[v]));
}

/* Whether view row v folds: short-lived, and so is every row below it. */
static bool folds(const struct top *t, uint32_t v)
{
	bool fold = short_row(t, v);

	for (uint32_t u = v + 1; fold && u < t->nview && t->depth[u] > t->depth[v]; u++)
		fold = short_row(t, u);
	return fold;
}

/* Two or more rows that fold leave the view (so the selection cannot land on them) for one
 * row: t->nfold, their samples and t->fold_row. */
static int fold_view(struct top *t)
{
	uint32_t *procs = malloc((t->nview + 1) * sizeof(*procs)), n = 0, kept = 0;
	int err = 0;

	t->nfold = 0;
	t->fold_win = t->fold_samples = 0;
	if (!procs)
		return -ENOMEM;
	for (uint32_t v = 0; v < t->nview; v++)
		if (folds(t, v))
			procs[n++] = v;
	for (uint32_t v = 0, k = 0; n >= 2 && v < t->nview; v++) {
		if (k < n && procs[k] == v) {
			t->fold_win += win_samples(t, t->view[v]);
			t->fold_samples += profile__proc_at(t->p, t->view[v])->samples;
			procs[k++] = t->view[v]; /* from view rows to process indices */
			continue;
		}
		t->view[kept] = t->view[v];
		t->depth[kept++] = t->depth[v];
	}
	if (n >= 2) {
		t->nview = kept;
		t->nfold = n;
		err = report_fold__row(t->p, procs, n, t->fold_row, sizeof(t->fold_row));
	}
	free(procs);
	return err;
}

static int build_view(struct top *t)
{
	uint32_t np = profile__nprocs(t->p), n = 0, *sorted;
	uint8_t *depth;

	if (vec__grow32((void **)&t->view, &t->view_cap, (size_t)np + 1, sizeof(*t->view)))
		return -ENOMEM;
	depth = realloc(t->depth, t->view_cap);
	if (!depth)
		return -ENOMEM;
	t->depth = depth;
	sorted = calloc(np + 1, sizeof(*sorted));
	if (!sorted)
		return -ENOMEM;
	for (uint32_t i = 0; i < np; i++)
		if (shown(t, i))
			sorted[n++] = i;
	qsort_r(sorted, n, sizeof(*sorted), by_sort, t);
	t->nview = 0;
	for (uint32_t i = 0; i < n && t->nview < n; i++)
		if (!parent_shown(t, profile__proc_at(t->p, sorted[i])))
			add_subtree(t, sorted, n, sorted[i], 0);
	free(sorted);
	if (fold_view(t))
		return -ENOMEM;
	for (uint32_t i = 0; i < t->nview; i++)
		if (profile__proc_at(t->p, t->view[i])->pid == t->sel_pid)
			return 0;
	/* nothing selected yet, or the selected process is gone: the first row */
	t->sel_pid = t->nview ? profile__proc_at(t->p, t->view[0])->pid : 0;
	return 0;
}

/* The window ends now: count its samples per process. */
static int new_window(struct top *t, uint64_t now)
{
	uint32_t np = profile__nprocs(t->p);

	t->win_from = t->win_to;
	t->win_to = profile__nsamples(t->p);
	t->win_secs = (now - t->last_ns) / 1e9;
	t->last_ns = now;
	if (vec__grow32((void **)&t->proc_win, &t->nprocs_win, np, sizeof(*t->proc_win)))
		return -ENOMEM;
	if (t->nprocs_win)
		memset(t->proc_win, 0, t->nprocs_win * sizeof(*t->proc_win));
	for (size_t i = t->win_from; i < t->win_to; i++) {
		const struct prof_sample *s = profile__sample_at(t->p, i);

		if (s && s->proc < t->nprocs_win)
			t->proc_win[s->proc]++;
	}
	return 0;
}

/* ------------------------------------------------------------------ drawing */

/* One line of at most cols - 1 visible characters (process names can hold anything: control
 * bytes become '?'), in an attribute ("7": reverse, "1": bold) on a terminal. */
static void __attribute__((format(printf, 3, 4)))
line(struct top *t, const char *attr, const char *fmt, ...)
{
	char buf[LINE_MAX_LEN];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > t->cols - 1)
		n = t->cols - 1;
	for (int i = 0; i < n; i++)
		if ((unsigned char)buf[i] < 0x20 || (unsigned char)buf[i] >= 0x7f)
			buf[i] = '?';
	if (t->scr_len + n + 32 > OUT_CAP)
		return;
	if (t->tty && attr)
		t->scr_len += sprintf(t->scr + t->scr_len, "\033[%sm", attr);
	memcpy(t->scr + t->scr_len, buf, n);
	t->scr_len += n;
	if (t->tty && attr)
		t->scr_len += sprintf(t->scr + t->scr_len, "\033[m");
	t->scr_len += sprintf(t->scr + t->scr_len, t->tty ? "\033[K\r\n" : "\n");
}

static void draw_header(struct top *t)
{
	double run = (clock__mono_ns() - t->o.start_ns) / 1e9;
	uint64_t drops = 0, win = t->win_to - t->win_from;
	uint32_t alive = 0, np = profile__nprocs(t->p);
	const struct prof_proc *focus = t->focus_pid ? profile__proc_find(t->p, t->focus_pid) : 0;
	char view[64] = "whole tree";

	if (focus)
		snprintf(view, sizeof(view), "pid %d %.20s", focus->pid, focus->comm);
	if (t->tr)
		tracer__bpf_stat(t->tr, "ringbuf_drops", &drops);
	for (uint32_t i = 0; i < np; i++)
		alive += !profile__proc_at(t->p, i)->exited;
	line(t, "1",
	     "treeprof top  %.1fs  %.0f samples/s  %d Hz  drops %llu  procs %u alive/%u seen", run,
	     t->win_secs > 0 ? win / t->win_secs : 0.0, t->o.freq, (unsigned long long)drops, alive,
	     np);
	if (t->tty)
		line(t, NULL, "sort: %s  selected: %d  view: %s  (j k Enter t s q)",
		     sort_names[t->sort], t->sel_pid, view);
}

static double cpu_pct(const struct top *t, uint64_t win)
{
	return t->win_secs > 0 && t->o.freq ? 100.0 * win / (t->o.freq * t->win_secs) : 0;
}

/* The process list in rows, the last one for the folded short-lived helpers when any. */
static void draw_procs(struct top *t, uint32_t rows)
{
	uint32_t sel = 0;
	bool fold_row = t->nfold && rows;

	rows -= fold_row;

	line(t, "7", "%7s %7s %6s %7s  %s", "PID", "PPID", "%CPU", "SAMPLES", "COMMAND");
	for (uint32_t i = 0; i < t->nview; i++)
		if (profile__proc_at(t->p, t->view[i])->pid == t->sel_pid)
			sel = i;
	if (sel < t->first_row)
		t->first_row = sel;
	if (rows && sel >= t->first_row + rows)
		t->first_row = sel - rows + 1;
	if (t->first_row + rows > t->nview)
		t->first_row = t->nview > rows ? t->nview - rows : 0;
	for (uint32_t r = 0; r < rows && t->first_row + r < t->nview; r++) {
		uint32_t v = t->first_row + r, idx = t->view[v];
		const struct prof_proc *pr = profile__proc_at(t->p, idx);
		int d = t->depth[v] > MAX_INDENT ? MAX_INDENT : t->depth[v];

		line(t, t->tty && pr->pid == t->sel_pid ? "7" : NULL,
		     "%c%6d %7d %6.1f %7llu  %*s%s%s%s", pr->pid == t->focus_pid ? '*' : ' ',
		     pr->pid, pr->ppid, cpu_pct(t, win_samples(t, idx)),
		     (unsigned long long)pr->samples, 2 * d, "", d ? "`- " : "",
		     pr->exited ? "(exited) " : "", *pr->cmdline ? pr->cmdline : pr->comm);
	}
	if (fold_row)
		line(t, NULL, "%7s %7s %6.1f %7llu  %s", "-", "-", cpu_pct(t, t->fold_win),
		     (unsigned long long)t->fold_samples, t->fold_row);
}

/* How many of rows go to the hot call paths, their heading included: a third, at least 2
 * paths when there is room, each path at least 1% of the focus. */
static uint32_t path_rows(const struct top *t, uint32_t rows)
{
	uint32_t n = 0, want = rows / 3 > 2 ? rows / 3 : 2;

	while (n < t->paths.n && n < want && 100 * t->paths.v[n].weight >= t->focus_samples)
		n++;
	return n && rows >= 6 ? n + 1 : 0;
}

static const char *func_label(const void *ctx, uint32_t func)
{
	return report_funcs__label(&((const struct top *)ctx)->rf, func);
}

/* The functions of the focus, the hottest first, then its hot call paths, in rows. */
static void draw_funcs(struct top *t, uint32_t rows)
{
	const struct prof_proc *focus = t->focus_pid ? profile__proc_find(t->p, t->focus_pid) : 0;
	uint32_t npath = path_rows(t, rows);
	char what[64];

	if (focus)
		snprintf(what, sizeof(what), "pid %d %.20s", focus->pid, focus->comm);
	else
		snprintf(what, sizeof(what), "whole tree");
	line(t, "7", "%6s %7s  FUNCTION (%s, %llu samples in the last %.1fs)", "SELF%", "TOTAL%",
	     what, (unsigned long long)t->focus_samples, t->win_secs);
	for (uint32_t i = 0; i < rows - npath && i < t->nhot; i++) {
		const struct func *fn = &t->funcs[t->hot[i]];

		line(t, NULL, "%5.1f%% %6.1f%%  %s", 100.0 * fn->self / t->focus_samples,
		     100.0 * fn->total / t->focus_samples, report_funcs__label(&t->rf, t->hot[i]));
	}
	if (npath)
		line(t, NULL,
		     "%6s  hot call paths (leaf first, frames on nearly every stack left out)", "");
	for (uint32_t i = 0; i + 1 < npath; i++) {
		char name[LINE_MAX_LEN];

		report_path__name(&t->paths.v[i], func_label, t, name, sizeof(name));
		line(t, NULL, "%6s %6.1f%%  %s", "",
		     100.0 * t->paths.v[i].weight / t->focus_samples, name);
	}
}

static void draw(struct top *t)
{
	uint32_t avail, nproc, nfunc;

	if (build_view(t) || count_functions(t))
		return;
	t->scr_len = 0;
	if (t->tty) {
		avail = t->rows > 6 ? t->rows - 4 : 2;
		nfunc = t->nhot + 1 + t->paths.n;
		nfunc = nfunc < avail / 2 ? nfunc : avail / 2;
		nproc = t->nview + !!t->nfold;
		nproc = nproc < avail - nfunc ? nproc : avail - nfunc;
		nfunc = avail - nproc;
		t->scr_len += sprintf(t->scr, "\033[H");
	} else {
		nproc = t->nview + !!t->nfold;
		nproc = nproc < PLAIN_PROCS ? nproc : PLAIN_PROCS;
		nfunc = PLAIN_FUNCS + 1 + PLAIN_PATHS;
	}
	draw_header(t);
	draw_procs(t, nproc);
	draw_funcs(t, nfunc);
	if (t->tty && t->scr_len >= 2 && t->scr[t->scr_len - 1] == '\n')
		t->scr_len -= 2; /* no newline after the last row: the screen must not scroll */
	if (t->tty)
		t->scr_len += sprintf(t->scr + t->scr_len, "\033[J");
	else
		t->scr[t->scr_len++] = '\n';
	if (outbuf__put(t->out, t->scr, t->scr_len, 0) == -ENOSPC)
		t->skipped++;
}

/* ------------------------------------------------------------------ terminal and keys */

static void screen_size(struct top *t)
{
	struct winsize ws;

	t->rows = 24;
	t->cols = 80;
	if (!ioctl(t->o.fd, TIOCGWINSZ, &ws) && ws.ws_row && ws.ws_col) {
		t->rows = ws.ws_row;
		t->cols = ws.ws_col > LINE_MAX_LEN ? LINE_MAX_LEN : ws.ws_col;
	}
}

static void screen_on(struct top *t)
{
	static const char enter[] = "\033[?1049h\033[?25l\033[H\033[2J";
	struct sigaction sa = {.sa_handler = on_winch};
	struct termios tio;

	if (isatty(STDIN_FILENO) && !tcgetattr(STDIN_FILENO, &t->saved_tio)) {
		tio = t->saved_tio;
		tio.c_lflag &= ~(ICANON | ECHO);
		tio.c_cc[VMIN] = 0;
		tio.c_cc[VTIME] = 0;
		tio.c_cc[VSUSP] = _POSIX_VDISABLE; /* a stopped top would leave the screen as is */
		t->keys = !tcsetattr(STDIN_FILENO, TCSANOW, &tio);
	}
	sigaction(SIGWINCH, &sa, &t->saved_winch);
	screen_size(t);
	outbuf__put(t->out, enter, sizeof(enter) - 1, 0);
	t->screen_on = true;
}

static void screen_off(struct top *t)
{
	static const char restore[] = "\030\033[m\033[?25h\033[?1049l";

	if (!t->screen_on)
		return;
	t->screen_on = false;
	outbuf__drain(t->out, 500);
	/* On the caller's own descriptor: whatever our buffer still holds, this gets through
	 * (CAN first ends an escape sequence a dropped frame may have cut). */
	if (write(t->o.fd, restore, sizeof(restore) - 1) < 0)
		(void)0;
	if (t->keys)
		tcsetattr(STDIN_FILENO, TCSANOW, &t->saved_tio);
	t->keys = false;
	sigaction(SIGWINCH, &t->saved_winch, NULL);
}

static void move_sel(struct top *t, int by)
{
	int at = 0;

	for (uint32_t i = 0; i < t->nview; i++)
		if (profile__proc_at(t->p, t->view[i])->pid == t->sel_pid)
			at = i;
	at += by;
	if (at < 0)
		at = 0;
	if (at >= (int)t->nview)
		at = t->nview - 1;
	if (at >= 0 && t->nview)
		t->sel_pid = profile__proc_at(t->p, t->view[at])->pid;
}

/* Handle what was typed; true when the view must be redrawn. */
static bool read_keys(struct top *t)
{
	unsigned char buf[64];
	bool redraw = false;
	ssize_t n;

	while ((n = read(STDIN_FILENO, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			int c = buf[i];

			if (c == 033 && i + 2 < n && (buf[i + 1] == '[' || buf[i + 1] == 'O')) {
				c = buf[i + 2] == 'A' ? 'k' : buf[i + 2] == 'B' ? 'j' : 0;
				i += 2;
			}
			redraw = true;
			switch (c) {
			case 'q':
				tracer__request_stop();
				return false;
			case 'j':
				move_sel(t, 1);
				break;
			case 'k':
				move_sel(t, -1);
				break;
			case '\r':
			case '\n':
				t->focus_pid = t->sel_pid;
				break;
			case 't':
				t->focus_pid = 0;
				break;
			case 's':
				t->sort = (t->sort + 1) % SORT_NR;
				break;
			}
		}
	}
	return redraw;
}

static void top_poll(void *ctx, const struct profile *p)
{
	struct top *t = ctx;
	uint64_t now = clock__mono_ns();
	bool redraw = false;

	t->p = p;
	outbuf__flush(t->out);
	if (t->tty && !t->screen_on)
		screen_on(t);
	if (t->keys)
		redraw = read_keys(t);
	if (winch) {
		winch = 0;
		screen_size(t);
		outbuf__put(t->out, "\033[2J", 4, 0);
		redraw = true;
	}
	if (now - t->last_ns >= t->o.interval * 1e9) {
		if (new_window(t, now))
			return;
		redraw = true;
	}
	if (redraw)
		draw(t);
}

struct top *top__new(const struct top_opts *o)
{
	struct top *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->o = *o;
	report_paths__init(&t->paths);
	report_funcs__init(&t->rf);
	if (t->o.interval <= 0)
		t->o.interval = 1;
	t->last_ns = o->start_ns ? o->start_ns : clock__mono_ns();
	t->tty = isatty(o->fd);
	t->cols = PLAIN_COLS; /* plain snapshots; a terminal's size is read at the first refresh */
	t->scr = malloc(OUT_CAP);
	t->out = t->scr ? outbuf__new(o->fd, OUT_CAP) : NULL;
	if (!t->out) {
		free(t->scr);
		free(t);
		errno = ENOMEM;
		return NULL;
	}
	return t;
}

void top__sink(struct top *t, struct tracer_sink *sink)
{
	memset(sink, 0, sizeof(*sink));
	sink->ctx = t;
	sink->on_poll = top_poll;
}

void top__set_tracer(struct top *t, const struct tracer *tr)
{
	t->tr = tr;
}

void top__finish(struct top *t)
{
	if (t->p && !t->tty && !new_window(t, clock__mono_ns()))
		draw(t);
	if (!t->tty)
		outbuf__drain(t->out, 1000);
	t->tr = NULL; /* freed next */
}

void top__free(struct top *t)
{
	if (!t)
		return;
	screen_off(t);
	outbuf__free(t->out);
	report_paths__fini(&t->paths);
	report_funcs__fini(&t->rf);
	free_all(t->funcs, t->hot, t->view, t->depth, t->proc_win, t->scr, t);
}
