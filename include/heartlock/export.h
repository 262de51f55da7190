// HEARTLOCK_API: marks what libheartlock exports.
//
// libheartlock is compiled with -fvisibility=hidden and -fvisibility-inlines-hidden
// (src/CMakeLists.txt): only declarations marked HEARTLOCK_API are in a shared library's dynamic
// symbol table, so its internals (and the OpenSSL, zlib and hiredis it links) can change
// without breaking, or interposing on, the programs that load it. The same marking is used for
// static and shared builds, and by the library and its users alike: on ELF, default visibility
// on a declaration is all a user needs, so no HEARTLOCK_STATIC or "building the library" define
// is involved.
#ifndef HEARTLOCK_EXPORT_H_
#define HEARTLOCK_EXPORT_H_

#if defined(__GNUC__) || defined(__clang__)
#define HEARTLOCK_API __attribute__((visibility("default")))
#else
#define HEARTLOCK_API
#endif

#endif  // HEARTLOCK_EXPORT_H_
