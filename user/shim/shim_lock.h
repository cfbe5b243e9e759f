/* The lock that guards one of the shim's tables (blocks.c, maps.c).
 *
 * A plain mutex, plus a per-thread state so that the thread holding it never deadlocks on
 * itself: the fork handlers keep the lock held across fork(), and an atfork handler or a
 * signal handler of that thread may allocate in the meantime.
 *   SHIM_LOCK_FREE  this thread does not hold the lock;
 *   SHIM_LOCK_BUSY  this thread holds it and is in the middle of a table operation (a call
 *                   made now comes from a signal handler: it must not touch the table);
 *   SHIM_LOCK_IDLE  this thread holds it from the fork's prepare phase to its end (the table
 *                   is consistent: operate on it without locking again).
 * Each table owns one struct shim_lock and one __thread int state. */
#ifndef TREEPROF_SHIM_LOCK_H
#define TREEPROF_SHIM_LOCK_H

#include <errno.h>
#include <pthread.h>

enum { SHIM_LOCK_FREE = 0, SHIM_LOCK_BUSY = 1, SHIM_LOCK_IDLE = 2 };

/* Take the lock for one operation: the previous state (for shim_lock_leave), or -EBUSY when
 * this thread is already inside an operation on this table. */
static inline int shim_lock_enter(pthread_mutex_t *mu, int *state)
{
	int prev = *state;

	if (prev == SHIM_LOCK_BUSY)
		return -EBUSY;
	if (prev == SHIM_LOCK_FREE)
		pthread_mutex_lock(mu);
	*state = SHIM_LOCK_BUSY;
	return prev;
}

static inline void shim_lock_leave(pthread_mutex_t *mu, int *state, int prev)
{
	*state = prev;
	if (prev == SHIM_LOCK_FREE)
		pthread_mutex_unlock(mu);
}

/* The phases of a fork for the tables' fork handlers: prepare takes the lock and keeps it
 * (idle); done, in the parent and in the child alike, gives it back. */
enum shim_fork { SHIM_FORK_PREPARE, SHIM_FORK_DONE };

static inline void shim_lock_at_fork(pthread_mutex_t *mu, int *state, enum shim_fork phase)
{
	if (phase == SHIM_FORK_PREPARE && *state == SHIM_LOCK_FREE) {
		pthread_mutex_lock(mu);
		*state = SHIM_LOCK_IDLE;
	} else if (phase == SHIM_FORK_DONE && *state == SHIM_LOCK_IDLE) {
		*state = SHIM_LOCK_FREE;
		pthread_mutex_unlock(mu);
	}
}

#endif
