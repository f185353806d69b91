/* SPDX-License-Identifier: MIT */
/*
 * failmalloc.c - see failmalloc.h.
 *
 * Defining malloc in the executable replaces it for the whole process
 * (glibc supports this: its own internal calls go through the PLT).  The
 * definitions must be exported, hence the visibility attribute: the
 * project builds with -fvisibility=hidden, and a hidden malloc would stay
 * private to the executable while the libraries kept using glibc's.
 *
 * The real allocator is glibc's (__libc_malloc, ...), or under
 * AddressSanitizer its interceptors (__interceptor_malloc, ...): ASan
 * exports those under that name precisely so that a program can wrap
 * malloc and still allocate through ASan.  ASan also implements strdup and
 * strndup without calling malloc, so they are defined here too, or their
 * allocations would never fail.
 */
#include "failmalloc.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>

/* This file is built without instrumentation (it runs before the sanitizer
 * is set up), so the build says whether the program uses ASan. */
#if !defined(ACP_FM_ASAN) && defined(__SANITIZE_ADDRESS__)
#define ACP_FM_ASAN 1
#endif

#ifdef ACP_FM_ASAN
#define REAL(fn) __interceptor_##fn
#else
#define REAL(fn) __libc_##fn
#endif

void *REAL(malloc)(size_t size);
void *REAL(calloc)(size_t n, size_t size);
void *REAL(realloc)(void *p, size_t size);
void REAL(free)(void *p);
void *REAL(memalign)(size_t align, size_t size);

#define EXPORT __attribute__((visibility("default")))

static atomic_ulong armed_at;  /* fail call number armed_at; 0: disarmed */
static atomic_int persistent;
static atomic_ulong calls;     /* allocation calls since the last arm */
static atomic_ulong failures;  /* refused since the last arm */
static atomic_long live;
static atomic_int held;

void failmalloc_arm(unsigned long n, int pers)
{
    atomic_store(&calls, 0);
    atomic_store(&failures, 0);
    atomic_store(&persistent, pers);
    atomic_store(&armed_at, n);
}

void failmalloc_disarm(void)
{
    atomic_store(&armed_at, 0);
}

void failmalloc_hold(int on)
{
    atomic_store(&held, on);
}

unsigned long failmalloc_failures(void)
{
    return atomic_load(&failures);
}

unsigned long failmalloc_calls(void)
{
    return atomic_load(&calls);
}

long failmalloc_live(void)
{
    return atomic_load(&live);
}

/* 1 when this allocation call must fail. */
static int should_fail(void)
{
    unsigned long at = atomic_load(&armed_at);
    if (at == 0 || atomic_load(&held))
        return 0;
    unsigned long k = atomic_fetch_add(&calls, 1) + 1;
    if (k < at || (k > at && !atomic_load(&persistent)))
        return 0;
    atomic_fetch_add(&failures, 1);
    errno = ENOMEM;
    return 1;
}

static void *counted(void *p)
{
    if (p)
        atomic_fetch_add(&live, 1);
    return p;
}

EXPORT void *malloc(size_t size)
{
    return should_fail() ? NULL : counted(REAL(malloc)(size));
}

EXPORT void *calloc(size_t n, size_t size)
{
    return should_fail() ? NULL : counted(REAL(calloc)(n, size));
}

EXPORT void *realloc(void *p, size_t size)
{
    if (p && size == 0) { /* frees p and returns NULL, in glibc and in ASan */
        atomic_fetch_sub(&live, 1);
        return REAL(realloc)(p, 0);
    }
    if (should_fail())
        return NULL; /* p stays valid, as with a real failure */
    void *q = REAL(realloc)(p, size);
    if (q && !p)
        atomic_fetch_add(&live, 1);
    return q;
}

EXPORT void free(void *p)
{
    if (p)
        atomic_fetch_sub(&live, 1);
    REAL(free)(p);
}

EXPORT void *memalign(size_t align, size_t size)
{
    return should_fail() ? NULL : counted(REAL(memalign)(align, size));
}

EXPORT void *aligned_alloc(size_t align, size_t size)
{
    return memalign(align, size);
}

EXPORT int posix_memalign(void **out, size_t align, size_t size)
{
    if (align < sizeof(void *) || (align & (align - 1)) != 0)
        return EINVAL;
    void *p = memalign(align, size);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

EXPORT char *strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    return d ? memcpy(d, s, n) : NULL;
}

EXPORT char *strndup(const char *s, size_t max)
{
    size_t n = strnlen(s, max);
    char *d = malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}
