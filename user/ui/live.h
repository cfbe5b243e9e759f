/* The live sink: a line (or a JSON object) per sample as it arrives, and process births,
 * execs and exits as they happen; or, with every/interval, one aggregate line per N samples
 * or S seconds.
 *
 * Output never blocks the tracer (a blocked tracer fills the ring buffer and loses samples):
 * it goes through a bounded buffer written without blocking (struct live_out). When the
 * reader is slower than the samples, the lines that do not fit are folded: counted, their
 * hottest stacks summed, and printed as one notice as soon as there is room again. The
 * profile (and the recording, with -o) still gets every sample. */
#ifndef TREEPROF_LIVE_H
#define TREEPROF_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tracer_sink;

/* Bounded, non-blocking output on a file descriptor. A pipe, terminal or socket is reopened
 * through /proc/self/fd with O_NONBLOCK (a private file description: a launched command
 * sharing the descriptor keeps blocking writes); if that fails the descriptor itself is made
 * non-blocking and its flags are restored by live_out__free. A regular file is written as
 * is. The caller keeps fd open until live_out__free. */
struct live_out;
struct live_out *live_out__new(int fd, size_t cap);
/* Append s[0..n) if it fits leaving reserve bytes free, and write what the reader takes.
 * 0, -ENOSPC (nothing appended), or the negative errno of a failed write (-EPIPE: the
 * reader went away); after a write error every call returns it. */
int live_out__put(struct live_out *o, const char *s, size_t n, size_t reserve);
/* Write what the reader takes now. 0 or the negative errno of a failed write. */
int live_out__flush(struct live_out *o);
/* Wait up to timeout_ms for the reader to take everything; returns the bytes left. */
size_t live_out__drain(struct live_out *o, int timeout_ms);
void live_out__free(struct live_out *o);

struct live_opts {
	int fd;		   /* output descriptor (standard output) */
	uint64_t start_ns; /* times are printed relative to this (CLOCK_MONOTONIC) */
	int max_frames;	   /* text: frames per line after the leaf (default 8) */
	bool json;	   /* JSON Lines (schema in README.md) instead of text */
	unsigned every;	   /* aggregate line per this many samples (0: a line per sample) */
	double interval;   /* aggregate line every this many seconds (0: off) */
};

struct live;
/* NULL with errno set. */
struct live *live__new(const struct live_opts *o);
/* Fill sink so that the tracer feeds l; l must outlive the run. */
void live__sink(struct live *l, struct tracer_sink *sink);
/* The run ended: print the last aggregate and fold notice, give the reader up to a second,
 * and say on stderr how many lines were folded. 0 or the negative errno of a failed write. */
int live__finish(struct live *l);
/* Restores the output descriptor. Takes NULL. */
void live__free(struct live *l);

#endif
