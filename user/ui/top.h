/* The top sink: a view of the traced tree refreshed every interval. On a terminal it is a
 * full screen (ANSI escape sequences, termios for keys): a header with totals, the process
 * tree with each process's CPU share over the last interval, and the hottest functions of
 * the whole tree or of the focused process. Elsewhere it prints plain snapshots.
 *
 * The terminal is set up at the first refresh and restored (termios, cursor, main screen)
 * by top__free, whatever ended the run. Output goes through ui/outbuf.h's non-blocking
 * buffer: a refresh the terminal cannot take is skipped, never waited for. */
#ifndef TREEPROF_TOP_H
#define TREEPROF_TOP_H

#include <stdint.h>

struct tracer;
struct tracer_sink;

struct top_opts {
	int fd;		   /* output descriptor (standard output); keys come from stdin */
	double interval;   /* seconds between refreshes (default 1) */
	int freq;	   /* -F: samples per second per CPU, for CPU shares */
	uint64_t start_ns; /* CLOCK_MONOTONIC start of the run */
};

struct top;
/* NULL with errno set. */
struct top *top__new(const struct top_opts *o);
/* Fill sink so that the tracer feeds t; t must outlive the run. */
void top__sink(struct top *t, struct tracer_sink *sink);
/* The tracer whose drop counter the header shows (optional). */
void top__set_tracer(struct top *t, const struct tracer *tr);
/* The run ended: a last snapshot when not on a terminal. */
void top__finish(struct top *t);
/* Restore the terminal and free. Takes NULL. */
void top__free(struct top *t);

#endif
