/* The live sink: one line per sample, printed as it arrives, and process births, execs and
 * exits as they happen. */
#ifndef TREEPROF_LIVE_H
#define TREEPROF_LIVE_H

#include <stdint.h>
#include <stdio.h>

struct tracer_sink;

struct live_opts {
	FILE *out;
	uint64_t start_ns; /* times are printed relative to this (CLOCK_MONOTONIC) */
	int max_frames;	   /* frames per line after the leaf (default 8) */
};

/* Fill sink so that the tracer prints to o->out; o must outlive the run. */
void live__sink(struct tracer_sink *sink, struct live_opts *o);

#endif
