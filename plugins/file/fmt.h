/* SPDX-License-Identifier: MIT */
/*
 * fmt.h - what the file backend writes to disk: file names made from ids,
 * checksums, and the framed JSON records of documents, event logs and the
 * index log.  Pure functions over memory; no file system access here.
 * README.md in this folder describes the formats for operators.
 */
#ifndef ACP_FILE_FMT_H
#define ACP_FILE_FMT_H

#include <stddef.h>
#include <stdint.h>

#include "crc32c.h"

/* Buffer size for fmt_id_name(): the longest name (without extension) is
 * FMT_HASH_PREFIX + 1 + 64 bytes, far below the usual 255-byte limit even
 * with ".json" appended. */
#define FMT_NAME_BUF 256
/* Escaped ids up to this length are used as they are; longer ones become a
 * readable prefix plus '~' plus the SHA-256 of the id. */
#define FMT_PLAIN_MAX 200
#define FMT_HASH_PREFIX 120

/* The length of the checksum trailer every record ends with:
 * ,"crc":"<8 hex digits>"}\n */
#define FMT_TRAILER_LEN 19

/* The records' checksum: the plugins' shared CRC-32C (plugins/common). */
#define fmt_crc32c acp_crc32c
void fmt_sha256(const void *data, size_t len, uint8_t out[32]);

/* The file name (without extension) for an id of len bytes, written into
 * out (FMT_NAME_BUF bytes) and NUL-terminated; returns its length.  Distinct
 * ids give distinct names; names use only [a-z0-9._%~-], never start with
 * '.', and never exceed FMT_HASH_PREFIX + 65 bytes. */
size_t fmt_id_name(const char *id, size_t len, char *out);

/* A growable output buffer; `failed` records an allocation failure so that
 * callers check once at the end. */
typedef struct fbuf {
    char *p;
    size_t len, cap;
    int failed;
    int borrowed; /* p is the caller's buffer (on the stack): never freed */
} fbuf;

/* Start with the caller's buffer; grows onto the heap when needed. */
void fbuf_init_with(fbuf *b, char *buf, size_t cap);
void fbuf_free(fbuf *b);
void fbuf_put(fbuf *b, const void *s, size_t n);
void fbuf_lit(fbuf *b, const char *s);
void fbuf_jstr(fbuf *b, const char *s, size_t n); /* as a JSON string */
void fbuf_i64(fbuf *b, int64_t v);
/* Append the trailer with the CRC-32C of the bytes from `start` on. */
void fbuf_trailer(fbuf *b, size_t start);

/* ---- records ---------------------------------------------------------- */

/* A length-delimited string inside a decoded record. */
typedef struct fstr {
    const char *p; /* NULL for JSON null */
    size_t len;
} fstr;

/* Run file:
 * {"run_id":S,"agent_name":S,"session_id":S|null,"created_us":N,"version":N,
 *  "status":S,"doc_len":N,"doc":DOC,"crc":"<8 hex digits>"}\n
 * ("version" since FORMAT 2; a file without it reads as version 1.
 * "status" since FORMAT 3; for a file without it, the reader takes the
 * document's top-level "status" member.) */
typedef struct fmt_run {
    fstr id, agent, session;
    int64_t created_us;
    fstr doc;
    int64_t version;
    fstr status; /* {NULL, 0}: none found (the writer always has one) */
} fmt_run;

/* Session file: {"id":S,"doc_len":N,"doc":DOC,"crc":"<8 hex digits>"}\n */
typedef struct fmt_session {
    fstr id, doc;
} fmt_session;

/* Event log record:
 * {"seq":N,"stored_us":N,"doc_len":N,"event":DOC,"crc":"<8 hex digits>"}\n */
typedef struct fmt_event {
    int64_t seq, stored_us;
    fstr doc;
} fmt_event;

/* Index log records, one line each:
 * {"op":"run","id":S,"agent_name":S,"session_id":S|null,"created_us":N,"status":S,"ino":N,"crc":..}
 * ("status" since FORMAT 3: a record without it leaves the status unknown)
 * {"op":"delrun","id":S,"crc":..}
 * {"op":"session","id":S,"ino":N,"crc":..}
 * {"op":"delsession","id":S,"crc":..} */
enum { FMT_OP_RUN = 1, FMT_OP_DELRUN, FMT_OP_SESSION, FMT_OP_DELSESSION };
typedef struct fmt_index_rec {
    int op;
    fstr id, agent, session;
    int64_t created_us;
    uint64_t ino;
    fstr status; /* run: {NULL, 0} when not known */
} fmt_index_rec;

void fmt_put_run(fbuf *b, const fmt_run *r);
void fmt_put_session(fbuf *b, const fmt_session *s);
void fmt_put_event(fbuf *b, const fmt_event *e);
void fmt_put_index(fbuf *b, const fmt_index_rec *r);

/* Decoders.  They check the checksum first, then decode strings in place
 * (hence the mutable buffer); results point into buf.  Return 0 on success,
 * or -1 with a short reason in *why. */
int fmt_get_run(char *buf, size_t len, fmt_run *r, const char **why);
int fmt_get_session(char *buf, size_t len, fmt_session *s, const char **why);
/* One index line, including its '\n'. */
int fmt_get_index(char *rec, size_t len, fmt_index_rec *r, const char **why);

/* One event record at the start of p[0..n).  Returns 1 with *rec_len set
 * when a whole valid record is there, 0 when the bytes so far are a valid
 * beginning of a record that needs *rec_len bytes (or more header) in all,
 * -1 when they cannot be the start of a valid record. */
int fmt_get_event(const char *p, size_t n, fmt_event *e, size_t *rec_len);

/* Whether p[0..n) ends as every whole record ends: a checksum trailer.
 * The tail of a log that fmt_get_event() finds incomplete was cut short by
 * a writer that died only when it does not: a record whose own framing is
 * complete but wrong (say, one changed length digit) is damage. */
int fmt_ends_whole(const char *p, size_t n);

/* A cheap check that an event document read back is a JSON object with a
 * "type" member holding a non-empty string (the core checks events fully
 * before they are saved). */
int fmt_event_doc_ok(const char *doc, size_t len);

#endif /* ACP_FILE_FMT_H */
