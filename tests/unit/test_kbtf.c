/* The cut-down kernel BTF: every field treeprof's BPF object reads sits at the kernel's own
 * offset in it, it is small, and damaged CO-RE records never make it read out of bounds. */
#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/btf.h>

#include "trace/kbtf.h"
#include "treeprof.skel.h"
#include "unit.h"

/* The bit offset of field name in the struct or union named in, looking through anonymous
 * members as libbpf does; -1 when absent. Written here apart from kbtf.c's walk. */
static long field_offset(const struct btf *b, int id, const char *name, int depth)
{
	const struct btf_type *t = btf__type_by_id(b, id);
	const struct btf_member *m;

	while (t && (btf_is_mod(t) || btf_is_typedef(t)))
		t = btf__type_by_id(b, t->type);
	if (!t || !btf_is_composite(t) || depth > 8)
		return -1;
	m = btf_members(t);
	for (int i = 0; i < btf_vlen(t); i++, m++) {
		const char *n = btf__name_by_offset(b, m->name_off);
		long inner;

		if (n && n[0]) {
			if (!strcmp(n, name))
				return btf_member_bit_offset(t, i);
			continue;
		}
		inner = field_offset(b, m->type, name, depth + 1);
		if (inner >= 0)
			return btf_member_bit_offset(t, i) + inner;
	}
	return -1;
}

static long offset_in(const struct btf *b, const char *type, const char *field)
{
	int id = btf__find_by_name_kind(b, type, BTF_KIND_STRUCT);

	return id > 0 ? field_offset(b, id, field, 0) : -1;
}

static void test_fields_at_the_kernels_offsets(void)
{
	static const char *const fields[][2] = {
	    {"task_struct", "pid"},
	    {"task_struct", "tgid"},
	    {"task_struct", "comm"},
	    {"task_struct", "group_leader"},
	    {"task_struct", "start_time"},
	    {"task_struct", "signal"},
	    {"task_struct", "exit_code"},
	    {"task_struct", "thread"},
	    {"thread_struct", "fsbase"},
	    {"signal_struct", "live"},
	    {"linux_binprm", "filename"},
	    {"vm_area_struct", "vm_start"},
	    {"vm_area_struct", "vm_end"},
	    {"vm_area_struct", "vm_flags"},
	    {"vm_area_struct", "vm_file"},
	    {"pt_regs", "ip"},
	    {"pt_regs", "sp"},
	    {"pt_regs", "di"},
	};
	struct btf *kernel = btf__load_vmlinux_btf(), *cut = NULL;
	const void *obj;
	size_t sz;

	CHECK(kernel != NULL); /* this machine's kernel has BTF: treeprof needs it */
	if (!kernel)
		return;
	obj = treeprof_bpf__elf_bytes(&sz);
	CHECK_EQ_INT(kbtf__generate(obj, sz, kernel, &cut), 0);
	if (cut) {
		/* a few dozen types, not the kernel's 100k */
		CHECK(btf__type_cnt(cut) > 10 && btf__type_cnt(cut) < 100);
		for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
			long want = offset_in(kernel, fields[i][0], fields[i][1]);
			long got = offset_in(cut, fields[i][0], fields[i][1]);

			CHECK(want >= 0);
			if (got != want)
				unit_fail("%s.%s: %ld in the cut BTF, %ld in the kernel's",
					  fields[i][0], fields[i][1], got, want);
		}
		/* Struct sizes are the kernel's too. */
		int a = btf__find_by_name_kind(cut, "task_struct", BTF_KIND_STRUCT);
		int b = btf__find_by_name_kind(kernel, "task_struct", BTF_KIND_STRUCT);

		CHECK(a > 0 && b > 0);
		if (a > 0 && b > 0)
			CHECK_EQ_INT(btf__type_by_id(cut, a)->size,
				     btf__type_by_id(kernel, b)->size);
	}
	btf__free(cut);
	btf__free(kernel);
}

/* Where .BTF.ext lies in the object image. */
static int ext_section(const void *obj, size_t sz, size_t *off, size_t *len)
{
	Elf *elf;
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	size_t str;
	int found = -1;

	elf_version(EV_CURRENT);
	elf = elf_memory((char *)obj, sz);
	if (!elf || elf_getshdrstrndx(elf, &str))
		return -1;
	while ((scn = elf_nextscn(elf, scn)) && gelf_getshdr(scn, &sh)) {
		const char *n = elf_strptr(elf, str, sh.sh_name);

		if (n && !strcmp(n, ".BTF.ext")) {
			*off = sh.sh_offset;
			*len = sh.sh_size;
			found = 0;
		}
	}
	elf_end(elf);
	return found;
}

/* Damaged records (sizes, counts, type ids, access strings) give an error or a BTF, never a
 * read outside the image: run under ASan by make unit-san. */
static void test_damaged_records_are_refused_safely(void)
{
	struct btf *kernel = btf__load_vmlinux_btf(), *cut;
	size_t sz, off = 0, len = 0;
	const void *obj = treeprof_bpf__elf_bytes(&sz);
	unsigned char *copy = malloc(sz);
	int errors = 0;

	CHECK(kernel && copy);
	CHECK_EQ_INT(ext_section(obj, sz, &off, &len), 0);
	if (!kernel || !copy || !len)
		goto out;
	for (int round = 0; round < 300; round++) {
		memcpy(copy, obj, sz);
		for (int k = 0; k < 1 + round % 4; k++) {
			size_t at = off + unit_rand() % (round < 100 ? 64 : len);

			copy[at] = unit_rand();
		}
		cut = NULL;
		if (kbtf__generate(copy, sz, kernel, &cut))
			errors++;
		btf__free(cut);
	}
	/* Header damage is seen: some rounds must have been refused. */
	CHECK(errors > 0);
	/* Not an ELF image at all. */
	cut = NULL;
	CHECK(kbtf__generate("nothing", 7, kernel, &cut) < 0);
	CHECK(cut == NULL);
	/* Cut short: the sections' data lies past the end. */
	CHECK(kbtf__generate(obj, sz / 2, kernel, &cut) < 0);
	CHECK(cut == NULL);
out:
	free(copy);
	btf__free(kernel);
}

UNIT_MAIN("kbtf", UNIT_TEST(test_fields_at_the_kernels_offsets),
	  UNIT_TEST(test_damaged_records_are_refused_safely))
