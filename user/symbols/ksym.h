/* Kernel symbols from /proc/kallsyms. */
#ifndef TREEPROF_KSYM_H
#define TREEPROF_KSYM_H

#include <stddef.h>
#include <stdint.h>

struct ksyms;

/* Parse kallsyms text ("ADDR TYPE NAME [MODULE]" lines). Lines that do not parse are
 * skipped; only text symbols (t/T/w/W) are kept. Returns NULL with errno set on failure. */
struct ksyms *ksyms__parse(const char *text, size_t len);
/* Read and parse /proc/kallsyms. All-zero addresses (kptr_restrict) give ENOENT. */
struct ksyms *ksyms__load(void);
/* Like ksyms__load, through a cache file in dir keyed by the boot id and the loaded
 * modules; made on a miss when running as root. dir NULL: no cache. */
struct ksyms *ksyms__load_cached(const char *dir);
/* The symbol containing addr (the highest symbol start <= addr), or NULL. *module gets the
 * module name or NULL for vmlinux; *offset the distance from the symbol start. Either out
 * pointer may be NULL. */
const char *ksyms__lookup(const struct ksyms *ks, uint64_t addr, const char **module,
			  uint64_t *offset);
size_t ksyms__count(const struct ksyms *ks);
void ksyms__free(struct ksyms *ks);

#endif
