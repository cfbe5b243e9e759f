/* Clocks in nanoseconds. CLOCK_MONOTONIC is the clock of timeouts, intervals and of BPF's
 * bpf_ktime_get_ns(); CLOCK_BOOTTIME also counts suspended time, like /proc/<pid>/stat's
 * starttime and bpf_ktime_get_boot_ns(). Neither can fail on Linux. */
#ifndef TREEPROF_LIB_CLOCK_H
#define TREEPROF_LIB_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t clock__ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static inline uint64_t clock__mono_ns(void)
{
	return clock__ns(CLOCK_MONOTONIC);
}

static inline uint64_t clock__boot_ns(void)
{
	return clock__ns(CLOCK_BOOTTIME);
}

/* Milliseconds, for poll() deadlines. */
static inline uint64_t clock__mono_ms(void)
{
	return clock__mono_ns() / 1000000;
}

#endif
