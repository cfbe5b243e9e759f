/* The kernel's BTF cut down to what one BPF object relocates against, cached per boot. */
#ifndef TREEPROF_KBTF_H
#define TREEPROF_KBTF_H

#include <stddef.h>

struct btf;

/* From the object's CO-RE records (obj: its ELF image), a BTF holding exactly the kernel
 * structs, unions and members those records reach, at the kernel's offsets: 0 with *out
 * set (the caller frees it), or -errno (-ENOTSUP: a record of a kind not handled here). */
int kbtf__generate(const void *obj, size_t obj_size, const struct btf *kernel, struct btf **out);
/* The path of that BTF for the running boot in cache directory dir, made on a miss (from
 * /sys/kernel/btf/vmlinux, as root, once per boot and build): 0 with path set, or -errno,
 * and then libbpf must read the kernel's own BTF. */
int kbtf__path(const char *dir, const void *obj, size_t obj_size, char *path, size_t len);
/* Drop a cached file that libbpf could not use. */
void kbtf__forget(const char *path);

#endif
