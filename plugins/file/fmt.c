/* SPDX-License-Identifier: MIT */
/*
 * fmt.c - names, checksums and record formats of the file backend.
 *
 * Every record is one JSON object ending in a CRC-32C of everything before
 * the checksum member, so jq can read the files and a torn or edited record
 * is detected.  The writer and the reader here are each other's exact
 * inverse: the reader accepts only what the writer produces, which is what
 * makes a byte-exact length and checksum check possible without a JSON
 * library.
 */
#include "fmt.h"

#include "crc32c.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---- SHA-256 (FIPS 180-4), for names of long ids ------------------------ */

static const uint32_t sha_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha_block(uint32_t h[8], const unsigned char *blk)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)blk[4 * i] << 24 | (uint32_t)blk[4 * i + 1] << 16 |
               (uint32_t)blk[4 * i + 2] << 8 | blk[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = k + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) +
                      sha_k[i] + w[i];
        uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        k = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += k;
}

void fmt_sha256(const void *data, size_t len, uint8_t out[32])
{
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    const unsigned char *p = data;
    size_t left = len;
    while (left >= 64) {
        sha_block(h, p);
        p += 64;
        left -= 64;
    }
    unsigned char tail[128] = {0};
    memcpy(tail, p, left);
    tail[left] = 0x80;
    size_t tlen = left + 9 <= 64 ? 64 : 128;
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++)
        tail[tlen - 1 - i] = (unsigned char)(bits >> (8 * i));
    sha_block(h, tail);
    if (tlen == 128)
        sha_block(h, tail + 64);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(h[i] >> 8);
        out[4 * i + 3] = (uint8_t)h[i];
    }
}

/* ---- ids to file names --------------------------------------------------- */

static const char hexd[] = "0123456789abcdef";

/* Bytes that stay as they are.  Upper case is escaped so that a store
 * copied to a case-insensitive file system keeps every name distinct; a
 * leading '.' is escaped so that no id becomes ".", ".." or a hidden file
 * (the backend's temporary files all start with '.'). */
static int name_keeps(unsigned char c, size_t pos)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           (c == '.' && pos > 0);
}

/*
 * Injective because: escaping maps each byte to either itself (a byte
 * from the kept set, which excludes '%') or '%' plus two hex digits, a
 * prefix-free code that decodes uniquely; such names never contain '~'.
 * Long names contain exactly one '~' followed by the SHA-256 of the whole
 * id, so they differ from every escaped name and from each other unless
 * SHA-256 collides.  The document inside each file also records its id,
 * and readers check it.
 */
size_t fmt_id_name(const char *id, size_t len, char *out)
{
    size_t n = 0, cut = 0;
    int hashed = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)id[i];
        size_t need = name_keeps(c, i) ? 1 : 3;
        if (n + need > FMT_PLAIN_MAX) {
            hashed = 1;
            break;
        }
        if (n + need <= FMT_HASH_PREFIX)
            cut = n + need;
        if (need == 1) {
            out[n++] = (char)c;
        } else {
            out[n++] = '%';
            out[n++] = hexd[c >> 4];
            out[n++] = hexd[c & 15];
        }
    }
    if (hashed) {
        uint8_t h[32];
        fmt_sha256(id, len, h);
        n = cut;
        out[n++] = '~';
        for (int i = 0; i < 32; i++) {
            out[n++] = hexd[h[i] >> 4];
            out[n++] = hexd[h[i] & 15];
        }
    }
    out[n] = '\0';
    return n;
}

/* ---- output buffer -------------------------------------------------------- */

void fbuf_init_with(fbuf *b, char *buf, size_t cap)
{
    b->p = buf;
    b->len = 0;
    b->cap = cap;
    b->failed = 0;
    b->borrowed = 1;
}

void fbuf_free(fbuf *b)
{
    if (!b->borrowed)
        free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
    b->borrowed = 0;
}

static int fbuf_reserve(fbuf *b, size_t n)
{
    if (b->failed)
        return 0;
    if (b->cap - b->len >= n)
        return 1;
    size_t nc = b->cap ? b->cap : 256;
    while (nc - b->len < n) {
        if (nc > SIZE_MAX / 2) {
            b->failed = 1;
            return 0;
        }
        nc *= 2;
    }
    char *np = b->borrowed ? malloc(nc) : realloc(b->p, nc);
    if (!np) {
        b->failed = 1;
        return 0;
    }
    if (b->borrowed && b->len)
        memcpy(np, b->p, b->len);
    b->borrowed = 0;
    b->p = np;
    b->cap = nc;
    return 1;
}

void fbuf_put(fbuf *b, const void *s, size_t n)
{
    if (n && fbuf_reserve(b, n)) {
        memcpy(b->p + b->len, s, n);
        b->len += n;
    }
}

void fbuf_lit(fbuf *b, const char *s)
{
    fbuf_put(b, s, strlen(s));
}

void fbuf_jstr(fbuf *b, const char *s, size_t n)
{
    if (!fbuf_reserve(b, n * 6 + 2))
        return;
    char *o = b->p + b->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c < 0x20) {
            memcpy(o, "\\u00", 4);
            o[4] = hexd[c >> 4];
            o[5] = hexd[c & 15];
            o += 6;
        } else {
            *o++ = (char)c;
        }
    }
    *o++ = '"';
    b->len = (size_t)(o - b->p);
}

void fbuf_i64(fbuf *b, int64_t v)
{
    char tmp[24];
    int i = 24;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        tmp[--i] = '-';
    fbuf_put(b, tmp + i, (size_t)(24 - i));
}

void fbuf_trailer(fbuf *b, size_t start)
{
    if (b->failed || !fbuf_reserve(b, FMT_TRAILER_LEN))
        return;
    uint32_t crc = acp_crc32c(0, b->p + start, b->len - start);
    char t[FMT_TRAILER_LEN];
    memcpy(t, ",\"crc\":\"", 8);
    for (int i = 0; i < 8; i++)
        t[8 + i] = hexd[(crc >> (28 - 4 * i)) & 15];
    memcpy(t + 16, "\"}\n", 3);
    fbuf_put(b, t, sizeof t);
}

static void put_nullable(fbuf *b, fstr s)
{
    if (s.p)
        fbuf_jstr(b, s.p, s.len);
    else
        fbuf_lit(b, "null");
}

void fmt_put_run(fbuf *b, const fmt_run *r)
{
    size_t start = b->len;
    fbuf_lit(b, "{\"run_id\":");
    fbuf_jstr(b, r->id.p, r->id.len);
    fbuf_lit(b, ",\"agent_name\":");
    fbuf_jstr(b, r->agent.p, r->agent.len);
    fbuf_lit(b, ",\"session_id\":");
    put_nullable(b, r->session);
    fbuf_lit(b, ",\"created_us\":");
    fbuf_i64(b, r->created_us);
    fbuf_lit(b, ",\"version\":");
    fbuf_i64(b, r->version);
    fbuf_lit(b, ",\"status\":");
    fbuf_jstr(b, r->status.p, r->status.len);
    fbuf_lit(b, ",\"doc_len\":");
    fbuf_i64(b, (int64_t)r->doc.len);
    fbuf_lit(b, ",\"doc\":");
    fbuf_put(b, r->doc.p, r->doc.len);
    fbuf_trailer(b, start);
}

void fmt_put_session(fbuf *b, const fmt_session *s)
{
    size_t start = b->len;
    fbuf_lit(b, "{\"id\":");
    fbuf_jstr(b, s->id.p, s->id.len);
    fbuf_lit(b, ",\"doc_len\":");
    fbuf_i64(b, (int64_t)s->doc.len);
    fbuf_lit(b, ",\"doc\":");
    fbuf_put(b, s->doc.p, s->doc.len);
    fbuf_trailer(b, start);
}

void fmt_put_event(fbuf *b, const fmt_event *e)
{
    size_t start = b->len;
    fbuf_lit(b, "{\"seq\":");
    fbuf_i64(b, e->seq);
    fbuf_lit(b, ",\"stored_us\":");
    fbuf_i64(b, e->stored_us);
    fbuf_lit(b, ",\"doc_len\":");
    fbuf_i64(b, (int64_t)e->doc.len);
    fbuf_lit(b, ",\"event\":");
    fbuf_put(b, e->doc.p, e->doc.len);
    fbuf_trailer(b, start);
}

void fmt_put_index(fbuf *b, const fmt_index_rec *r)
{
    static const char *const ops[] = {"", "run", "delrun", "session", "delsession"};
    size_t start = b->len;
    fbuf_lit(b, "{\"op\":\"");
    fbuf_lit(b, ops[r->op]);
    fbuf_lit(b, "\",\"id\":");
    fbuf_jstr(b, r->id.p, r->id.len);
    if (r->op == FMT_OP_RUN) {
        fbuf_lit(b, ",\"agent_name\":");
        fbuf_jstr(b, r->agent.p, r->agent.len);
        fbuf_lit(b, ",\"session_id\":");
        put_nullable(b, r->session);
        fbuf_lit(b, ",\"created_us\":");
        fbuf_i64(b, r->created_us);
        if (r->status.p) {
            fbuf_lit(b, ",\"status\":");
            fbuf_jstr(b, r->status.p, r->status.len);
        }
    }
    if (r->op == FMT_OP_RUN || r->op == FMT_OP_SESSION) {
        fbuf_lit(b, ",\"ino\":");
        fbuf_i64(b, (int64_t)r->ino);
    }
    fbuf_trailer(b, start);
}

/* ---- input ----------------------------------------------------------------- */

/* A cursor over input; st is 0 while fine, -1 after a mismatch, -2 when
 * the input ended before the grammar did.  `soft`: more input may follow
 * e (a record being read from a log), so a number running up to e may
 * have more digits. */
typedef struct cur {
    char *p, *e;
    int st;
    int soft;
} cur;

static void lit(cur *c, const char *s)
{
    if (c->st)
        return;
    for (; *s; s++, c->p++) {
        if (c->p == c->e) {
            c->st = -2;
            return;
        }
        if (*c->p != *s) {
            c->st = -1;
            return;
        }
    }
}

static int64_t num(cur *c, int allow_neg)
{
    if (c->st)
        return 0;
    int neg = 0;
    if (c->p < c->e && *c->p == '-' && allow_neg) {
        neg = 1;
        c->p++;
    }
    uint64_t v = 0;
    int digits = 0;
    while (c->p < c->e && *c->p >= '0' && *c->p <= '9') {
        if (++digits > 19) {
            c->st = -1;
            return 0;
        }
        v = v * 10 + (uint64_t)(*c->p++ - '0');
    }
    if (c->p == c->e && c->soft) {
        c->st = -2;
        return 0;
    }
    if (!digits || v > (uint64_t)INT64_MAX + (uint64_t)neg) {
        c->st = -1;
        return 0;
    }
    return neg ? (int64_t)(0 - v) : (int64_t)v;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

/* A JSON string as fbuf_jstr writes it, decoded in place. */
static fstr jstr(cur *c)
{
    fstr r = {NULL, 0};
    if (c->st)
        return r;
    if (c->p == c->e || *c->p != '"') {
        c->st = c->p == c->e ? -2 : -1;
        return r;
    }
    char *out = ++c->p, *start = out;
    while (c->p < c->e && *c->p != '"') {
        unsigned char ch = (unsigned char)*c->p;
        if (ch < 0x20) {
            c->st = -1;
            return r;
        }
        if (ch != '\\') {
            *out++ = *c->p++;
            continue;
        }
        if (c->e - c->p < 2) {
            c->st = -2;
            return r;
        }
        char esc = c->p[1];
        if (esc == '"' || esc == '\\') {
            *out++ = esc;
            c->p += 2;
        } else if (esc == 'u') {
            if (c->e - c->p < 6) {
                c->st = -2;
                return r;
            }
            int h1 = hexval(c->p[4]), h2 = hexval(c->p[5]);
            if (c->p[2] != '0' || c->p[3] != '0' || h1 < 0 || h1 > 1 || h2 < 0) {
                c->st = -1;
                return r;
            }
            *out++ = (char)(h1 * 16 + h2);
            c->p += 6;
        } else {
            c->st = -1;
            return r;
        }
    }
    if (c->p == c->e) {
        c->st = -2;
        return r;
    }
    c->p++;
    r.p = start;
    r.len = (size_t)(out - start);
    return r;
}

/* Whether the optional member m (its ',', name and ':') comes next; it is
 * skipped when it does. */
static int opt_member(cur *c, const char *m)
{
    size_t n = strlen(m);
    if (c->st || (size_t)(c->e - c->p) <= n || memcmp(c->p, m, n) != 0)
        return 0;
    c->p += n;
    return 1;
}

static fstr jstr_or_null(cur *c)
{
    fstr r = {NULL, 0};
    if (!c->st && c->p < c->e && *c->p == 'n') {
        lit(c, "null");
        return r;
    }
    return jstr(c);
}

int fmt_ends_whole(const char *p, size_t n)
{
    if (n < FMT_TRAILER_LEN)
        return 0;
    const char *t = p + n - FMT_TRAILER_LEN;
    if (memcmp(t, ",\"crc\":\"", 8) != 0 || memcmp(t + 16, "\"}\n", 3) != 0)
        return 0;
    for (int i = 0; i < 8; i++)
        if (hexval(t[8 + i]) < 0)
            return 0;
    return 1;
}

/* Whether doc[i..len) starts with a separator: blanks, ':', blanks. */
static size_t skip_colon(const char *doc, size_t i, size_t len)
{
    while (i < len && (doc[i] == ' ' || doc[i] == '\t' || doc[i] == '\n' || doc[i] == '\r'))
        i++;
    if (i == len || doc[i] != ':')
        return 0;
    for (i++; i < len && (doc[i] == ' ' || doc[i] == '\t' || doc[i] == '\n' || doc[i] == '\r');)
        i++;
    return i;
}

/* The top-level "status" member of a run document, which the core
 * checked to be valid JSON when it was saved (for run files of FORMAT 2,
 * which do not carry it beside the document).  {NULL, 0} when there is
 * none or it is not a string without escapes (no status name has one). */
static fstr doc_status(const char *d, size_t n)
{
    static const char key[] = "\"status\"";
    fstr r = {NULL, 0};
    int depth = 0, at_key = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = d[i];
        if (ch == '"') {
            size_t j = i + 1;
            while (j < n && d[j] != '"')
                j += d[j] == '\\' ? 2 : 1;
            if (j >= n)
                return r;
            if (depth == 1 && at_key && j + 1 - i == sizeof key - 1 &&
                memcmp(d + i, key, sizeof key - 1) == 0) {
                size_t v = skip_colon(d, j + 1, n), e = v + 1;
                while (v && e < n && d[e] != '"' && d[e] != '\\')
                    e++;
                if (v && d[v] == '"' && e < n && d[e] == '"') {
                    r.p = d + v + 1;
                    r.len = e - v - 1;
                }
                return r;
            }
            at_key = 0;
            i = j;
        } else if (ch == '{' || ch == '[') {
            depth++;
            at_key = ch == '{';
        } else if (ch == '}' || ch == ']') {
            depth--;
            at_key = 0;
        } else if (ch == ',') {
            at_key = depth == 1; /* the top level is an object */
        }
    }
    return r;
}

int fmt_event_doc_ok(const char *doc, size_t len)
{
    static const char key[] = "\"type\"";
    size_t i = 0;
    while (i < len && (doc[i] == ' ' || doc[i] == '\t' || doc[i] == '\n' || doc[i] == '\r'))
        i++;
    if (i == len || doc[i] != '{')
        return 0;
    /* Some "type" member holding a non-empty string (cheap: not
     * necessarily the top level's; the core checks fully before saving). */
    for (; i + sizeof key - 1 <= len; i++) {
        if (doc[i] != '"' || memcmp(doc + i, key, sizeof key - 1) != 0)
            continue;
        size_t v = skip_colon(doc, i + sizeof key - 1, len);
        if (v && v + 1 < len && doc[v] == '"' && doc[v + 1] != '"')
            return 1;
    }
    return 0;
}

/* Check the trailer at the end of buf[0..len) and the checksum of what
 * precedes it. */
static int check_trailer(const char *buf, size_t len, const char **why)
{
    if (len < FMT_TRAILER_LEN + 2) {
        *why = "too short";
        return -1;
    }
    const char *t = buf + len - FMT_TRAILER_LEN;
    if (memcmp(t, ",\"crc\":\"", 8) != 0 || memcmp(t + 16, "\"}\n", 3) != 0) {
        *why = "no checksum trailer";
        return -1;
    }
    uint32_t want = 0;
    for (int i = 0; i < 8; i++) {
        int v = hexval(t[8 + i]);
        if (v < 0) {
            *why = "bad checksum text";
            return -1;
        }
        want = want << 4 | (uint32_t)v;
    }
    if (acp_crc32c(0, buf, len - FMT_TRAILER_LEN) != want) {
        *why = "checksum mismatch";
        return -1;
    }
    return 0;
}

/* The document member: doc_len bytes that must end exactly at the trailer. */
static fstr doc_to_trailer(cur *c, int64_t doc_len, const char **why)
{
    fstr r = {NULL, 0};
    if (c->st)
        return r;
    if (doc_len < 0 || (uint64_t)doc_len != (uint64_t)(c->e - c->p)) {
        c->st = -1;
        *why = "document length does not match the file";
        return r;
    }
    r.p = c->p;
    r.len = (size_t)doc_len;
    c->p = c->e;
    return r;
}

int fmt_get_run(char *buf, size_t len, fmt_run *r, const char **why)
{
    if (check_trailer(buf, len, why))
        return -1;
    cur c = {buf, buf + len - FMT_TRAILER_LEN, 0, 0};
    *why = "malformed header";
    lit(&c, "{\"run_id\":");
    r->id = jstr(&c);
    lit(&c, ",\"agent_name\":");
    r->agent = jstr(&c);
    lit(&c, ",\"session_id\":");
    r->session = jstr_or_null(&c);
    lit(&c, ",\"created_us\":");
    r->created_us = num(&c, 1);
    r->version = 1; /* a file of FORMAT 1 */
    if (opt_member(&c, ",\"version\":")) {
        r->version = num(&c, 0);
        if (!c.st && r->version < 1)
            c.st = -1;
    }
    r->status = (fstr){NULL, 0};
    if (opt_member(&c, ",\"status\":"))
        r->status = jstr(&c);
    lit(&c, ",\"doc_len\":");
    int64_t dl = num(&c, 0);
    lit(&c, ",\"doc\":");
    r->doc = doc_to_trailer(&c, dl, why);
    if (!c.st && !r->status.p) /* a file of FORMAT 2 or older */
        r->status = doc_status(r->doc.p, r->doc.len);
    return c.st ? -1 : 0;
}

int fmt_get_session(char *buf, size_t len, fmt_session *s, const char **why)
{
    if (check_trailer(buf, len, why))
        return -1;
    cur c = {buf, buf + len - FMT_TRAILER_LEN, 0, 0};
    *why = "malformed header";
    lit(&c, "{\"id\":");
    s->id = jstr(&c);
    lit(&c, ",\"doc_len\":");
    int64_t dl = num(&c, 0);
    lit(&c, ",\"doc\":");
    s->doc = doc_to_trailer(&c, dl, why);
    return c.st ? -1 : 0;
}

int fmt_get_index(char *rec, size_t len, fmt_index_rec *r, const char **why)
{
    if (check_trailer(rec, len, why))
        return -1;
    cur c = {rec, rec + len - FMT_TRAILER_LEN, 0, 0};
    *why = "malformed record";
    memset(r, 0, sizeof *r);
    lit(&c, "{\"op\":\"");
    if (c.st)
        return -1;
    static const struct {
        const char *name;
        int op;
    } ops[] = {{"run\"", FMT_OP_RUN},
               {"delrun\"", FMT_OP_DELRUN},
               {"session\"", FMT_OP_SESSION},
               {"delsession\"", FMT_OP_DELSESSION}};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0] && !r->op; i++) {
        size_t n = strlen(ops[i].name);
        if ((size_t)(c.e - c.p) >= n && memcmp(c.p, ops[i].name, n) == 0) {
            r->op = ops[i].op;
            c.p += n;
        }
    }
    if (!r->op)
        return -1;
    lit(&c, ",\"id\":");
    r->id = jstr(&c);
    if (r->op == FMT_OP_RUN) {
        lit(&c, ",\"agent_name\":");
        r->agent = jstr(&c);
        lit(&c, ",\"session_id\":");
        r->session = jstr_or_null(&c);
        lit(&c, ",\"created_us\":");
        r->created_us = num(&c, 1);
        if (opt_member(&c, ",\"status\":"))
            r->status = jstr(&c);
    }
    if (r->op == FMT_OP_RUN || r->op == FMT_OP_SESSION) {
        lit(&c, ",\"ino\":");
        r->ino = (uint64_t)num(&c, 0);
    }
    if (c.st == 0 && c.p != c.e)
        return -1;
    return c.st ? -1 : 0;
}

int fmt_get_event(const char *p, size_t n, fmt_event *e, size_t *rec_len)
{
    /* The header is parsed without decoding, so the cast is safe. */
    cur c = {(char *)p, (char *)p + n, 0, 1};
    lit(&c, "{\"seq\":");
    e->seq = num(&c, 0);
    lit(&c, ",\"stored_us\":");
    e->stored_us = num(&c, 1);
    lit(&c, ",\"doc_len\":");
    int64_t dl = num(&c, 0);
    lit(&c, ",\"event\":");
    *rec_len = 0;
    if (c.st == -1)
        return -1;
    if (c.st == -2)
        return 0;
    size_t head = (size_t)(c.p - p);
    if ((uint64_t)dl > SIZE_MAX - head - FMT_TRAILER_LEN)
        return -1;
    size_t total = head + (size_t)dl + FMT_TRAILER_LEN;
    *rec_len = total;
    if (n < total)
        return 0;
    const char *why;
    if (check_trailer(p, total, &why))
        return -1;
    e->doc.p = p + head;
    e->doc.len = (size_t)dl;
    return 1;
}
