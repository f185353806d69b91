/* SPDX-License-Identifier: MIT */
/*
 * dumpfile.c - a dump's file through fopencookie: gzip (zlib) and zstd
 * (libzstd) streamed through fixed buffers, so that memory does not grow
 * with the dump.  Reading sniffs the format from the first bytes, which
 * also works on a pipe (nothing is read twice).
 */
#define _GNU_SOURCE /* fopencookie */

#include "dumpfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#define IN_BUF ((size_t)1 << 17)

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* ---- reading: plain, gzip or zstd, by the first bytes ---- */

enum { PLAIN, GZIP, ZSTD };

typedef struct reader {
    int fd, kind;
    unsigned char in[IN_BUF];
    size_t len, pos;  /* bytes in `in`, and the next one to use */
    int eof;
    int in_frame;     /* a gzip member or zstd frame begun and not ended */
    z_stream z;
    ZSTD_DCtx *zd;
} reader;

static ssize_t read_retry(int fd, void *buf, size_t n)
{
    ssize_t got;
    while ((got = read(fd, buf, n)) < 0 && errno == EINTR)
        ;
    return got;
}

/* Refill `in` when it is used up: 0, or -1 with errno set. */
static int fill(reader *r)
{
    if (r->pos < r->len || r->eof)
        return 0;
    ssize_t got = read_retry(r->fd, r->in, sizeof r->in);
    if (got < 0)
        return -1;
    r->len = (size_t)got;
    r->pos = 0;
    r->eof = got == 0;
    return 0;
}

static ssize_t cut_short(void)
{
    errno = EIO; /* a compressed stream that ends inside a frame */
    return -1;
}

static ssize_t read_gzip(reader *r, char *buf, size_t n)
{
    for (;;) {
        if (fill(r) != 0)
            return -1;
        if (r->pos == r->len)
            return r->in_frame ? cut_short() : 0;
        r->z.next_in = r->in + r->pos;
        r->z.avail_in = (uInt)(r->len - r->pos);
        r->z.next_out = (Bytef *)buf;
        r->z.avail_out = (uInt)(n > (1u << 30) ? 1u << 30 : n);
        uInt want = r->z.avail_out;
        r->in_frame = 1;
        int rc = inflate(&r->z, Z_NO_FLUSH);
        r->pos = r->len - r->z.avail_in;
        if (rc == Z_STREAM_END) {
            r->in_frame = 0; /* another member may follow (concatenated gzip) */
            if (inflateReset(&r->z) != Z_OK)
                return cut_short();
        } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
            errno = EIO;
            return -1;
        }
        if (want - r->z.avail_out)
            return (ssize_t)(want - r->z.avail_out);
    }
}

static ssize_t read_zstd(reader *r, char *buf, size_t n)
{
    for (;;) {
        if (fill(r) != 0)
            return -1;
        if (r->pos == r->len)
            return r->in_frame ? cut_short() : 0;
        ZSTD_inBuffer in = {r->in, r->len, r->pos};
        ZSTD_outBuffer out = {buf, n, 0};
        size_t rc = ZSTD_decompressStream(r->zd, &out, &in);
        r->pos = in.pos;
        if (ZSTD_isError(rc)) {
            errno = EIO;
            return -1;
        }
        r->in_frame = rc != 0; /* 0: a frame ended here */
        if (out.pos)
            return (ssize_t)out.pos;
    }
}

static ssize_t reader_read(void *c, char *buf, size_t n)
{
    reader *r = c;
    if (r->kind == GZIP)
        return read_gzip(r, buf, n);
    if (r->kind == ZSTD)
        return read_zstd(r, buf, n);
    if (r->pos < r->len) {
        size_t k = r->len - r->pos < n ? r->len - r->pos : n;
        memcpy(buf, r->in + r->pos, k);
        r->pos += k;
        return (ssize_t)k;
    }
    return read_retry(r->fd, buf, n);
}

static int reader_close(void *c)
{
    reader *r = c;
    if (r->kind == GZIP)
        inflateEnd(&r->z);
    ZSTD_freeDCtx(r->zd);
    int rc = r->fd == STDIN_FILENO ? 0 : close(r->fd);
    free(r);
    return rc;
}

static FILE *open_read(const char *path)
{
    int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    reader *r = calloc(1, sizeof *r);
    if (!r) {
        if (fd != STDIN_FILENO)
            close(fd);
        errno = ENOMEM;
        return NULL;
    }
    r->fd = fd;
    /* Gather the first 4 bytes (a pipe may give fewer at a time). */
    while (!r->eof && r->len < 4) {
        ssize_t got = read_retry(fd, r->in + r->len, sizeof r->in - r->len);
        if (got < 0) {
            reader_close(r);
            return NULL;
        }
        r->len += (size_t)got;
        r->eof = got == 0;
    }
    static const unsigned char gz[2] = {0x1f, 0x8b}, zst[4] = {0x28, 0xb5, 0x2f, 0xfd};
    int ok = 1;
    if (r->len >= 2 && memcmp(r->in, gz, 2) == 0) {
        r->kind = GZIP;
        ok = inflateInit2(&r->z, 15 + 16) == Z_OK;
    } else if (r->len >= 4 && memcmp(r->in, zst, 4) == 0) {
        r->kind = ZSTD;
        ok = (r->zd = ZSTD_createDCtx()) != NULL;
    }
    cookie_io_functions_t io = {reader_read, NULL, NULL, reader_close};
    FILE *f = ok ? fopencookie(r, "r", io) : NULL;
    if (!f) {
        if (r->kind == GZIP && ok)
            inflateEnd(&r->z);
        r->kind = PLAIN;
        reader_close(r);
        errno = ENOMEM;
    }
    return f;
}

/* ---- writing: gzip (zlib's gzFile) or zstd ---- */

static ssize_t gz_write(void *c, const char *buf, size_t n)
{
    int r = gzwrite(c, buf, (unsigned)(n > (1u << 30) ? 1u << 30 : n));
    return r <= 0 && n ? -1 : r;
}

static int gz_close(void *c)
{
    return gzclose(c) == Z_OK ? 0 : -1;
}

typedef struct zwriter {
    FILE *out;
    ZSTD_CCtx *cc;
    size_t cap;
    char buf[]; /* ZSTD_CStreamOutSize() bytes */
} zwriter;

/* Compress in (all of it with ZSTD_e_continue; to the frame's end with
 * ZSTD_e_end) and write what comes out: 0 or -1 with errno set. */
static int zw_push(zwriter *w, ZSTD_inBuffer *in, ZSTD_EndDirective how)
{
    for (;;) {
        ZSTD_outBuffer out = {w->buf, w->cap, 0};
        size_t left = ZSTD_compressStream2(w->cc, &out, in, how);
        if (ZSTD_isError(left)) {
            errno = EIO;
            return -1;
        }
        if (out.pos && fwrite(w->buf, 1, out.pos, w->out) != out.pos)
            return -1;
        if (how == ZSTD_e_end ? left == 0 : in->pos == in->size)
            return 0;
    }
}

static ssize_t zw_write(void *c, const char *buf, size_t n)
{
    ZSTD_inBuffer in = {buf, n, 0};
    return zw_push(c, &in, ZSTD_e_continue) == 0 ? (ssize_t)n : -1;
}

static int zw_close(void *c)
{
    zwriter *w = c;
    ZSTD_inBuffer in = {NULL, 0, 0};
    int rc = zw_push(w, &in, ZSTD_e_end);
    if (fclose(w->out) != 0)
        rc = -1;
    ZSTD_freeCCtx(w->cc);
    free(w);
    return rc;
}

static FILE *open_zstd(const char *path)
{
    size_t cap = ZSTD_CStreamOutSize();
    zwriter *w = malloc(sizeof *w + cap);
    if (!w) {
        errno = ENOMEM;
        return NULL;
    }
    w->cap = cap;
    w->cc = ZSTD_createCCtx();
    w->out = w->cc ? fopen(path, "w") : NULL;
    /* The frame carries a checksum of the content: damage reads as an error. */
    if (w->out && !ZSTD_isError(ZSTD_CCtx_setParameter(w->cc, ZSTD_c_compressionLevel, 3)) &&
        !ZSTD_isError(ZSTD_CCtx_setParameter(w->cc, ZSTD_c_checksumFlag, 1))) {
        cookie_io_functions_t io = {NULL, zw_write, NULL, zw_close};
        FILE *f = fopencookie(w, "w", io);
        if (f)
            return f;
    }
    int e = w->cc ? errno : ENOMEM;
    if (w->out)
        fclose(w->out);
    ZSTD_freeCCtx(w->cc);
    free(w);
    errno = e ? e : ENOMEM;
    return NULL;
}

FILE *dump_open(const char *path, int write)
{
    if (!write)
        return open_read(path);
    if (strcmp(path, "-") == 0)
        return stdout;
    if (ends_with(path, ".zst"))
        return open_zstd(path);
    if (!ends_with(path, ".gz"))
        return fopen(path, "w");
    gzFile z = gzopen(path, "wb6");
    if (!z)
        return NULL;
    gzbuffer(z, 1u << 17);
    cookie_io_functions_t io = {NULL, gz_write, NULL, gz_close};
    FILE *f = fopencookie(z, "w", io);
    if (!f)
        gzclose(z);
    return f;
}
