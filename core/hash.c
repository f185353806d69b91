/* SPDX-License-Identifier: MIT */
/*
 * hash.c - the keyed hash every hash table over client-chosen ids uses
 * (host->hash): SipHash-1-3 under a 128-bit key drawn at random once per
 * process, so that ids that collide cannot be chosen from outside.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* also when compiled into a test or the bench */
#endif

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

static uint64_t key0, key1;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

/* Fill buf from the kernel's generator; 0 when it cannot be had. */
static int random_bytes(unsigned char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(buf + got, n - got, 0);
        if (r > 0) {
            got += (size_t)r;
        } else if (r < 0 && errno == EINTR) {
            continue;
        } else {
            break;
        }
    }
    if (got == n)
        return 1;
    /* Old kernels (ENOSYS) or seccomp filters: the device gives the same. */
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r > 0)
            got += (size_t)r;
        else if (!(r < 0 && errno == EINTR))
            break;
    }
    close(fd);
    return got == n;
}

/* SipHash reads its input as little-endian words.  One memcpy is a single
 * unaligned load that the compiler emits as such; the byte-at-a-time loop
 * it replaces was not folded and cost about half of the hash. */
static uint64_t load64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static void key_init(void)
{
    int saved = errno; /* a hash must never leave errno changed for its caller */
    unsigned char k[16];
    if (!random_bytes(k, sizeof k)) {
        /* No entropy source at all: still different per process and
         * unknown to a remote client, though not secret from local users. */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t a = (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 32 ^ (uint64_t)getpid();
        uint64_t b = (uint64_t)(uintptr_t)&ts ^ (uint64_t)(uintptr_t)k ^ (uint64_t)time(NULL);
        memcpy(k, &a, 8);
        memcpy(k + 8, &b, 8);
    }
    key0 = load64(k);
    key1 = load64(k + 8);
    errno = saved;
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND                                                                           \
    do {                                                                                   \
        v0 += v1;                                                                          \
        v1 = ROTL(v1, 13);                                                                 \
        v1 ^= v0;                                                                          \
        v0 = ROTL(v0, 32);                                                                 \
        v2 += v3;                                                                          \
        v3 = ROTL(v3, 16);                                                                 \
        v3 ^= v2;                                                                          \
        v0 += v3;                                                                          \
        v3 = ROTL(v3, 21);                                                                 \
        v3 ^= v0;                                                                          \
        v2 += v1;                                                                          \
        v1 = ROTL(v1, 17);                                                                 \
        v1 ^= v2;                                                                          \
        v2 = ROTL(v2, 32);                                                                 \
    } while (0)

/* SipHash-c-d; c and d are constants at every call, so the loops unroll. */
static inline uint64_t siphash(uint64_t k0, uint64_t k1, const void *data, size_t len, int c,
                               int d)
{
    const unsigned char *in = data;
    uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1,
             v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
    const unsigned char *end = in + (len - len % 8);
    for (; in != end; in += 8) {
        uint64_t m = load64(in);
        v3 ^= m;
        for (int i = 0; i < c; i++)
            SIPROUND;
        v0 ^= m;
    }
    uint64_t b = (uint64_t)len << 56;
    switch (len & 7) {
    case 7: b |= (uint64_t)in[6] << 48; /* fall through */
    case 6: b |= (uint64_t)in[5] << 40; /* fall through */
    case 5: b |= (uint64_t)in[4] << 32; /* fall through */
    case 4: b |= (uint64_t)in[3] << 24; /* fall through */
    case 3: b |= (uint64_t)in[2] << 16; /* fall through */
    case 2: b |= (uint64_t)in[1] << 8;  /* fall through */
    case 1: b |= (uint64_t)in[0]; break;
    case 0: break;
    }
    v3 ^= b;
    for (int i = 0; i < c; i++)
        SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    for (int i = 0; i < d; i++)
        SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

/* SipHash-2-4 exists for its published test vectors: the test checks it,
 * and SipHash-1-3 is the same code with fewer rounds. */
uint64_t acp__siphash24(uint64_t k0, uint64_t k1, const void *data, size_t len)
{
    return siphash(k0, k1, data, len, 2, 4);
}

/* 1-3: ids are short and the key is secret; the fewer rounds are what
 * Python and Rust's HashMap use for the same job. */
uint64_t acp__siphash13(uint64_t k0, uint64_t k1, const void *data, size_t len)
{
    return siphash(k0, k1, data, len, 1, 3);
}

uint64_t acp__hash(const void *data, size_t len)
{
    pthread_once(&key_once, key_init);
    return acp__siphash13(key0, key1, data, len);
}
