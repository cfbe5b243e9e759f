/* The size limits a profile and its recording share, so that what a profile holds can always
 * be written and read back: strings are cut at PROFILE_STR_MAX bytes when stored (and a
 * longer one in a recording is corrupt), stacks hold at most PROFILE_STACK_MAX frames. */
#ifndef TREEPROF_PROFILE_LIMITS_H
#define TREEPROF_PROFILE_LIMITS_H

#define PROFILE_STR_MAX	  65536
#define PROFILE_STACK_MAX 4096

#endif
