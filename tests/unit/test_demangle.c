/* user/lib/demangle.c: C++ symbols demangled, anything else (or anything hostile) raw. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/demangle.h"
#include "unit.h"

static const char *dm(const char *sym)
{
	static char buf[DEMANGLE_OUT_MAX];

	return demangle__name(sym, buf, sizeof(buf));
}

static void demangles_functions_templates_operators(void)
{
	CHECK_EQ_STR(dm("_ZN3app6Engine4spinEi"), "app::Engine::spin(int)");
	CHECK_EQ_STR(dm("_ZN3appplERKNS_3VecES2_"),
		     "app::operator+(app::Vec const&, app::Vec const&)");
	CHECK_EQ_STR(dm("_ZN3app5totalIlEET_PKS1_i"), "long app::total<long>(long const*, int)");
	CHECK_EQ_STR(dm("_ZNSt6vectorIiSaIiEE9push_backERKi"),
		     "std::vector<int, std::allocator<int> >::push_back(int const&)");
	/* GCC's clones (hot/cold split, IPA) keep their suffix */
	CHECK_EQ_STR(dm("_ZN3app6Engine4spinEi.cold"), "app::Engine::spin(int) [clone .cold]");
	CHECK_EQ_STR(dm("_Z3fooPKc"), "foo(char const*)");
}

static void leaves_other_names_as_they_are(void)
{
	static const char *const raw[] = {"main",    "PyEval_EvalFrameDefault", "[unknown]", "_Z",
					  "_Zx",     "_ZN3app6Engine4spin",	"Z3foov",    "",
					  "__Z3foov"};
	char buf[64];

	for (size_t i = 0; i < sizeof(raw) / sizeof(raw[0]); i++)
		CHECK(demangle__name(raw[i], buf, sizeof(buf)) == raw[i]);
	CHECK(demangle__name(NULL, buf, sizeof(buf)) == NULL);
}

/* A demangling that does not fit in the caller's buffer is not cut: the name stays raw,
 * and nothing is written past the buffer. */
static void small_buffer_keeps_the_raw_name(void)
{
	const char *sym = "_ZN3app6Engine4spinEi"; /* app::Engine::spin(int): 22 bytes + NUL */
	char buf[32];

	memset(buf, 'x', sizeof(buf));
	CHECK(demangle__name(sym, buf, 22) == sym);
	for (size_t i = 22; i < sizeof(buf); i++)
		CHECK(buf[i] == 'x');
	CHECK_EQ_STR(demangle__name(sym, buf, 23), "app::Engine::spin(int)");
	CHECK(demangle__name(sym, buf, 0) == sym);
}

/* "_ZN" "3abc" x k "Ev": a valid name of 5 + 4k bytes, demangled as "abc::abc::...()". */
static char *nested_name(int k)
{
	char *s = malloc(5 + 4 * (size_t)k + 1), *p = s;

	if (!s)
		return NULL;
	p = stpcpy(p, "_ZN");
	for (int i = 0; i < k; i++)
		p = stpcpy(p, "3abc");
	strcpy(p, "Ev");
	return s;
}

static void input_longer_than_the_bound_stays_raw(void)
{
	int k = (DEMANGLE_IN_MAX - 5) / 4; /* the longest such name within the bound */
	char *in = nested_name(k), *over = nested_name(k + 1);
	const char *r;

	CHECK(in && over);
	if (!in || !over)
		goto out;
	CHECK(strlen(in) <= DEMANGLE_IN_MAX && strlen(over) > DEMANGLE_IN_MAX);
	r = dm(in);
	CHECK(r != in && !strncmp(r, "abc::abc::", 10) && !strcmp(r + strlen(r) - 5, "abc()"));
	CHECK(dm(over) == over);
out:
	free(in);
	free(over);
}

/* Each back-reference doubling the output: "_Z1f1AIiiE", then S_IS0_S0_E, S_IS1_S1_E...
 * (A<A<int, int>, A<int, int> >, ...): 230 bytes make 140 MB, 1 KiB would make more than
 * any memory. Abandoned at DEMANGLE_OUT_MAX, in well under a millisecond. */
static void exponential_output_is_abandoned_quickly(void)
{
	static const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	char sym[DEMANGLE_IN_MAX + 1] = "_Z1f1AIiiES_IS0_S0_E", ref[8];
	struct timespec t0, t1;
	const char *r;
	double ms;

	for (int i = 1; strlen(sym) + 16 < sizeof(sym); i++) {
		/* S<seq-id>_ names substitution seq-id + 1, the seq-id in base 36 */
		if (i < 36)
			snprintf(ref, sizeof(ref), "S%c_", digits[i]);
		else
			snprintf(ref, sizeof(ref), "S%c%c_", digits[i / 36], digits[i % 36]);
		snprintf(sym + strlen(sym), sizeof(sym) - strlen(sym), "S_I%s%sE", ref, ref);
	}
	CHECK_EQ_STR(dm("_Z1f1AIiiES_IS0_S0_E"), "f(A<int, int>, A<A<int, int>, A<int, int> >)");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = dm(sym);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	CHECK(r == sym);
	if (!UNIT_SANITIZED && ms > 50)
		unit_fail("%s:%d: took %.1f ms", __FILE__, __LINE__, ms);
}

/* Deep nesting (pointers to pointers..., templates in templates...) within the input bound:
 * the recursive demangler either gives an answer or gives up, and does not crash. */
static void deep_nesting_does_not_crash(void)
{
	static const char *const unit[] = {"P", "1AI", "FP", "A1_"};
	char sym[DEMANGLE_IN_MAX + 1];

	for (size_t u = 0; u < sizeof(unit) / sizeof(unit[0]); u++) {
		size_t n = strlen(unit[u]), len = 4;

		strcpy(sym, "_Z1f");
		while (len + n + 2 <= DEMANGLE_IN_MAX) {
			memcpy(sym + len, unit[u], n);
			len += n;
		}
		strcpy(sym + len, "i");
		CHECK(dm(sym) != NULL);
	}
}

UNIT_MAIN("demangle", UNIT_TEST(demangles_functions_templates_operators),
	  UNIT_TEST(leaves_other_names_as_they_are), UNIT_TEST(small_buffer_keeps_the_raw_name),
	  UNIT_TEST(input_longer_than_the_bound_stays_raw),
	  UNIT_TEST(exponential_output_is_abandoned_quickly),
	  UNIT_TEST(deep_nesting_does_not_crash))
