/* The live sink: a line (or a JSON object) per sample as it arrives, and process births,
 * execs and exits as they happen; or, with every/interval, one aggregate line per N samples
 * or S seconds.
 *
 * Output never blocks the tracer (a blocked tracer fills the ring buffer and loses samples):
 * it goes through a bounded buffer written without blocking (ui/outbuf.h). When the reader
 * is slower than the samples, the lines that do not fit are folded: counted, their hottest
 * stacks summed, and printed as one notice as soon as there is room again. The profile (and
 * the recording, with -o) still gets every sample. */
#ifndef TREEPROF_LIVE_H
#define TREEPROF_LIVE_H

#include <stdbool.h>
#include <stdint.h>

struct tracer_sink;

struct live_opts {
	int fd;		   /* output descriptor (standard output) */
	uint64_t start_ns; /* times are printed relative to this (CLOCK_MONOTONIC) */
	int max_frames;	   /* text: frames per line after the leaf (default 8) */
	bool json;	   /* JSON Lines (schema in README.md) instead of text */
	unsigned every;	   /* aggregate line per this many samples (0: a line per sample) */
	double interval;   /* aggregate line every this many seconds (0: off) */
	bool mem;	   /* --mem: a line a second per process that allocates */
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
