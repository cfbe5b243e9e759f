/* Kernel symbols: parsing kallsyms text and looking addresses up. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "symbols/ksym.h"
#include "unit.h"

static const char sample[] = "ffffffff81000000 T _stext\n"
			     "ffffffff81000100 t helper\n"
			     "ffffffff81000100 T alias_b\n"
			     "ffffffff81000200 D some_data\n"
			     "ffffffff81000300 W weak_fn\n"
			     "not a line at all\n"
			     "0000000000000000 T zero_addr\n"
			     "zzzz T bad_hex\n"
			     "ffffffffc0001000 t ext4_fn\t[ext4]\n"
			     "ffffffffc0000000 T mod_first [mod]\n"
			     "ffffffff81000400 TT two_letter_type";

static void test_parse_keeps_only_text_symbols(void)
{
	struct ksyms *ks = ksyms__parse(sample, sizeof(sample) - 1);

	CHECK(ks != NULL);
	if (!ks)
		return;
	/* _stext, helper, alias_b, weak_fn, ext4_fn, mod_first */
	CHECK_EQ_INT(ksyms__count(ks), 6);
	ksyms__free(ks);
}

static void test_lookup_finds_containing_symbol(void)
{
	struct ksyms *ks = ksyms__parse(sample, sizeof(sample) - 1);
	const char *mod = "x";
	uint64_t off = 0;

	CHECK(ks != NULL);
	if (!ks)
		return;
	CHECK_EQ_STR(ksyms__lookup(ks, 0xffffffff81000000ull, &mod, &off), "_stext");
	CHECK(mod == NULL);
	CHECK_EQ_INT(off, 0);
	CHECK_EQ_STR(ksyms__lookup(ks, 0xffffffff810000ffull, NULL, &off), "_stext");
	CHECK_EQ_INT(off, 0xff);
	/* data symbols are not kept, so 0x...250 is still in the alias pair at 0x...100 */
	CHECK_EQ_STR(ksyms__lookup(ks, 0xffffffff81000250ull, NULL, &off), "alias_b");
	CHECK_EQ_INT(off, 0x150);
	CHECK_EQ_STR(ksyms__lookup(ks, 0xffffffff81000301ull, NULL, NULL), "weak_fn");
	CHECK_EQ_STR(ksyms__lookup(ks, 0xffffffffc0001010ull, &mod, &off), "ext4_fn");
	CHECK_EQ_STR(mod, "ext4");
	CHECK_EQ_INT(off, 0x10);
	CHECK_EQ_STR(ksyms__lookup(ks, 0xffffffffc0000005ull, &mod, NULL), "mod_first");
	CHECK_EQ_STR(mod, "mod");
	CHECK(ksyms__lookup(ks, 0xffffffff80ffffffull, NULL, NULL) == NULL);
	CHECK(ksyms__lookup(ks, 0, NULL, NULL) == NULL);
	ksyms__free(ks);
}

static void test_parse_empty_and_unterminated(void)
{
	struct ksyms *ks = ksyms__parse("", 0);

	CHECK(ks != NULL);
	CHECK_EQ_INT(ksyms__count(ks), 0);
	CHECK(ksyms__lookup(ks, 123, NULL, NULL) == NULL);
	ksyms__free(ks);
	/* The length bounds the parse, not a NUL or a newline. */
	ks = ksyms__parse("1000 T ab_no_newline", 16);
	CHECK(ks != NULL);
	CHECK_EQ_STR(ksyms__lookup(ks, 0x1000, NULL, NULL), "ab_no_new");
	ksyms__free(ks);
	ksyms__free(NULL);
}

/* The address of name in the real /proc/kallsyms, read independently of ksym.c. */
static uint64_t kallsyms_addr(const char *name)
{
	char line[512], type, sym[256];
	unsigned long long addr;
	uint64_t found = 0;
	FILE *f = fopen("/proc/kallsyms", "r");

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		if (sscanf(line, "%llx %c %255s", &addr, &type, sym) == 3 && !strcmp(sym, name))
			found = addr;
	fclose(f);
	return found;
}

static void test_load_real_kallsyms_finds_schedule(void)
{
	struct ksyms *ks = ksyms__load();
	uint64_t addr = kallsyms_addr("schedule"), off = 99;
	const char *mod = "x";

	if (!ks) {
		/* kptr_restrict: only acceptable when addresses are really hidden */
		CHECK_EQ_INT(errno, ENOENT);
		CHECK_EQ_INT(addr, 0);
		return;
	}
	CHECK(ksyms__count(ks) > 1000);
	CHECK(addr != 0);
	CHECK_EQ_STR(ksyms__lookup(ks, addr + 1, &mod, &off), "schedule");
	CHECK_EQ_INT(off, 1);
	CHECK(mod == NULL);
	ksyms__free(ks);
}

/* The cache gives the same table as /proc/kallsyms; a corrupt cache file is not used. */
static void test_cache_round_trip_and_corruption(void)
{
	char dir[] = "/tmp/tp-kcache-XXXXXX", path[512];
	struct ksyms *fresh, *a, *b, *c;
	const char *m1, *m2;
	uint64_t o1, o2;
	struct dirent *d;
	DIR *dh;
	int fd;

	if (geteuid() != 0) /* the cache is written by root only */
		return;
	CHECK(mkdtemp(dir) != NULL);
	chmod(dir, 0700);
	fresh = ksyms__load();
	a = ksyms__load_cached(dir); /* miss: reads kallsyms, writes the file */
	b = ksyms__load_cached(dir); /* hit */
	CHECK(fresh && a && b);
	if (!fresh || !a || !b)
		goto out;
	CHECK_EQ_INT(ksyms__count(b), ksyms__count(fresh));
	for (size_t i = 0; i < 2000; i++) {
		uint64_t addr = 0xffffffff81000000ULL + i * 4099;
		const char *n1 = ksyms__lookup(fresh, addr, &m1, &o1);
		const char *n2 = ksyms__lookup(b, addr, &m2, &o2);

		CHECK((n1 == NULL) == (n2 == NULL));
		if (n1 && n2) {
			CHECK_EQ_STR(n2, n1);
			CHECK_EQ_INT(o2, o1);
		}
	}
	/* Corrupt every cache file in the directory: the next load must not trust it. */
	dh = opendir(dir);
	while (dh && (d = readdir(dh))) {
		if (strncmp(d->d_name, "kallsyms-", 9))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		fd = open(path, O_WRONLY);
		CHECK(fd >= 0);
		CHECK_EQ_INT(pwrite(fd, "\xff\xff\xff\xff", 4, 30), 4);
		close(fd);
	}
	if (dh)
		closedir(dh);
	c = ksyms__load_cached(dir);
	CHECK(c != NULL);
	if (c)
		CHECK_EQ_INT(ksyms__count(c), ksyms__count(fresh));
	ksyms__free(c);
out:
	ksyms__free(fresh);
	ksyms__free(a);
	ksyms__free(b);
	dh = opendir(dir);
	while (dh && (d = readdir(dh))) {
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		if (d->d_name[0] != '.')
			unlink(path);
	}
	if (dh)
		closedir(dh);
	rmdir(dir);
}

UNIT_MAIN("ksym", UNIT_TEST(test_parse_keeps_only_text_symbols),
	  UNIT_TEST(test_lookup_finds_containing_symbol),
	  UNIT_TEST(test_parse_empty_and_unterminated),
	  UNIT_TEST(test_load_real_kallsyms_finds_schedule),
	  UNIT_TEST(test_cache_round_trip_and_corruption))
