// tests/integration/test_cxx.py: a C++ program whose CPU goes to a member function, an
// operator and a template in a namespace, each a leaf, so their mangled symbols are sampled.
#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace app {
struct Vec {
	long x, y;
};

__attribute__((noinline)) Vec operator+(const Vec &a, const Vec &b)
{
	Vec r = a;
	for (volatile long i = 0; i < 20000000; i = i + 1)
		r.x += b.x ^ i;
	r.y += b.y;
	return r;
}

template <typename T> __attribute__((noinline)) T total(const T *v, int n)
{
	T s = 0;
	for (volatile long i = 0; i < 20000000; i = i + 1)
		s += v[i % n];
	return s;
}

class Engine {
public:
	__attribute__((noinline)) long spin(int rounds);
};

long Engine::spin(int rounds)
{
	long s = 0;
	for (volatile long i = 0; i < 20000000L * rounds; i = i + 1)
		s += i;
	return s;
}
} // namespace app

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 1.5;
	auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
	app::Engine e;
	app::Vec a{1, 2}, b{3, 4};
	long v[4] = {1, 2, 3, 4}, sum = 0;

	while (std::chrono::steady_clock::now() < end) {
		sum += e.spin(1);
		a = a + b;
		sum += app::total<long>(v, 4);
	}
	std::fprintf(stderr, "%ld %ld\n", sum, a.x); // stdout is treeprof live's
	return 0;
}
