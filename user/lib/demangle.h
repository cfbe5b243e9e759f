/* C++ symbol names as a reader knows them: "_ZN3app6Engine4spinEi" -> "app::Engine::spin(int)".
 *
 * The recording keeps the raw symbol; names are demangled where they are shown, by
 * demangle__name() alone. Symbols come from the ELF files of the traced processes, so the
 * input is hostile: only names starting with "_Z" and at most DEMANGLE_IN_MAX bytes long
 * are demangled (the demangler recurses and sizes its stack arrays by the name's length),
 * and a demangling longer than DEMANGLE_OUT_MAX bytes is abandoned as it is written (a
 * 230-byte name can expand to 140 MB through nested back-references), so each call costs
 * a bounded time and memory and never allocates. Anything not demangled is shown raw. */
#ifndef TREEPROF_LIB_DEMANGLE_H
#define TREEPROF_LIB_DEMANGLE_H

#include <stddef.h>

#define DEMANGLE_IN_MAX	 1024 /* longer symbols are shown raw */
#define DEMANGLE_OUT_MAX 4096 /* a longer demangling (NUL included) is shown raw */

/* The demangled form of the Itanium C++ ABI symbol sym, written into buf (len bytes), or
 * sym itself: when it does not start with "_Z", is longer than DEMANGLE_IN_MAX, is not a
 * valid mangled name, or its demangling does not fit in buf or in DEMANGLE_OUT_MAX. A NULL
 * sym gives NULL. Thread-safe. */
const char *demangle__name(const char *sym, char *buf, size_t len);

#endif
