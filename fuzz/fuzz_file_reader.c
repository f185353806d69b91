/* SPDX-License-Identifier: MIT */
/*
 * fuzz_file_reader.c - the file backend reading what it finds on disk:
 * run and session files, event logs, index.log and FORMAT, as a crash, a
 * bad disk, a bad restore or a person with an editor may leave them.
 * plugins/file/README.md describes the layout and the formats.
 *
 * Input: sections, each a line "--- <name>" and the bytes of that file up
 * to the next line starting with "--- ".  Names are FORMAT, index.log,
 * runs/<n>.json, sessions/<n>.json and events/<n>.log with <n> made of
 * [a-z0-9._%~-] (no other file is ever written).  A record trailer whose
 * checksum reads xxxxxxxx gets the right CRC-32C of its record, so that
 * inputs reach the parsers behind the checksum; any other checksum text is
 * left as it is.
 *
 * The harness writes the files into a fresh store directory, opens the
 * store, reads everything (get_run, list_runs paged by cursor, get_events
 * with and without a window, list_sessions, get_session), then writes
 * (save_run, add_event, delete_run, save_session), closes, reopens and
 * reads again.  Invariants:
 *  - nothing crashes, hangs or leaks, whatever the files hold;
 *  - open answers OK, CORRUPT, INVALID or UNSUPPORTED; reads answer OK,
 *    NOT_FOUND or CORRUPT: damage is reported, never NOMEM or IO;
 *  - pages are well formed (events in sequence, at most limit items);
 *  - writes over damage work as the README promises: saving a run or a
 *    session replaces a damaged file; a successful add_event reads back as
 *    the next sequence; delete_run removes a run and its log, damaged or
 *    not; and all of it survives close and reopen.
 */
#define _GNU_SOURCE /* mkdtemp, nftw */

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acp_storage.h"
#include "fuzz_common.h"

#ifndef ACP_FUZZ_PLUGIN_DIR
#error "ACP_FUZZ_PLUGIN_DIR must name the directory of libacp_storage_file.so"
#endif

#define MAX_INPUT (256 * 1024)
#define MAX_NAMES 32

static const char RUN_DOC[] = "{\"run_id\":\"r1\",\"agent_name\":\"fuzz\",\"status\":\"created\","
                              "\"created_at\":\"2030-01-01T00:00:00Z\"}";
static const char SESSION_DOC[] = "{\"id\":\"s1\",\"history\":[]}";
static const char EVENT_DOC[] = "{\"type\":\"fuzz.checked\"}";

/* ---- CRC-32C, bit by bit: independent of the plugin's own ------------------ */

static uint32_t crc32c(const unsigned char *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    while (n--) {
        c ^= *p++;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
    }
    return ~c;
}

/* Fill in every xxxxxxxx checksum of buf[0..n): each covers the bytes since
 * the end of the previous trailer (or the start). */
static void fix_checksums(unsigned char *buf, size_t n)
{
    static const char head[] = ",\"crc\":\"", tail[] = "\"}\n";
    static const char hexd[] = "0123456789abcdef";
    size_t rec = 0;
    for (size_t i = 0; i + 19 <= n; i++) {
        if (memcmp(buf + i, head, 8) != 0 || memcmp(buf + i + 16, tail, 3) != 0)
            continue;
        if (memcmp(buf + i + 8, "xxxxxxxx", 8) == 0) {
            uint32_t c = crc32c(buf + rec, i - rec);
            for (int k = 0; k < 8; k++)
                buf[i + 8 + k] = (unsigned char)hexd[(c >> (28 - 4 * k)) & 15];
        }
        i += 18;
        rec = i + 1;
    }
}

/* ---- the store directory ------------------------------------------------------ */

static acp_config *base_cfg;
static char tmp_root[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    acp_error e;
    if (acp_config_new(&base_cfg, &e) != ACP_OK ||
        acp_config_add_plugin_dir(base_cfg, ACP_FUZZ_PLUGIN_DIR, &e) != ACP_OK) {
        fprintf(stderr, "fuzz_file_reader: %s\n", e.message);
        abort();
    }
    /* tmpfs when there is one: every input makes a store. */
    snprintf(tmp_root, sizeof tmp_root, "%s", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    /* Load the plugin now, so that libFuzzer sees its coverage from the
     * start. */
    LLVMFuzzerTestOneInput((const uint8_t *)"", 0);
    return 0;
}

static int name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '%' ||
           c == '~' || c == '-';
}

/* Only the store's own files, and nothing that leaves the directory. */
static int name_allowed(const char *nm)
{
    if (!strcmp(nm, "FORMAT") || !strcmp(nm, "index.log"))
        return 1;
    const char *base, *ext;
    if (!strncmp(nm, "runs/", 5))
        base = nm + 5, ext = ".json";
    else if (!strncmp(nm, "sessions/", 9))
        base = nm + 9, ext = ".json";
    else if (!strncmp(nm, "events/", 7))
        base = nm + 7, ext = ".log";
    else
        return 0;
    size_t n = strlen(base), el = strlen(ext);
    if (n <= el || n > 200 || base[0] == '.' || strcmp(base + n - el, ext) != 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!name_char(base[i]))
            return 0;
    return 1;
}

/* 1 if s[0..n) is valid UTF-8 (ids must be). */
static int utf8_ok(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = s[i], len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3
                                               : (c & 0xF8) == 0xF0 ? 4 : 0;
        if (!len || i + len > n)
            return 0;
        uint32_t cp = len == 1 ? c : c & (0x7F >> len);
        for (unsigned k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
            return 0;
        i += len;
    }
    return 1;
}

/* The id a plain file name stands for (README: %XX escapes), or 0 for a
 * hashed or malformed one, or one that is no valid id. */
static int name_to_id(const char *base, size_t n, char *id)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (base[i] == '~')
            return 0;
        if (base[i] != '%') {
            id[o++] = base[i];
            continue;
        }
        unsigned v;
        if (i + 2 >= n || sscanf(base + i + 1, "%2x", &v) != 1 || v == 0)
            return 0;
        id[o++] = (char)v;
        i += 2;
    }
    id[o] = '\0';
    return o > 0 && o <= ACP_ID_MAX && utf8_ok((const unsigned char *)id, o);
}

static int write_file(const char *dir, const char *name, const unsigned char *p, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) {
            close(fd);
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return close(fd);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

/* ---- reading and writing through the API --------------------------------------- */

typedef struct ids {
    char run[MAX_NAMES][ACP_ID_MAX + 1];
    size_t n_run;
    char session[MAX_NAMES][ACP_ID_MAX + 1];
    size_t n_session;
} ids;

static void add_id(char (*v)[ACP_ID_MAX + 1], size_t *n, const char *id)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp(v[i], id))
            return;
    if (*n < MAX_NAMES)
        snprintf(v[(*n)++], ACP_ID_MAX + 1, "%s", id);
}

#define READ_OK(st) ((st) == ACP_OK || (st) == ACP_NOT_FOUND || (st) == ACP_CORRUPT)

static void read_runs(acp_store *s, ids *x)
{
    acp_run_filter f = ACP_RUN_FILTER_INIT;
    f.limit = 3;
    f.want_total = 1;
    char cursor[1024] = "";
    for (int page = 0; page < 64; page++) {
        acp_page *p = NULL;
        acp_error e = {0};
        f.cursor = cursor[0] ? cursor : NULL;
        acp_status st = acp_run_list(s, &f, &p, &e);
        FUZZ_CHECK(st == ACP_OK || st == ACP_CORRUPT, "list_runs: %s (%s)", acp_status_name(st),
                   e.message);
        if (st != ACP_OK)
            break;
        FUZZ_CHECK(acp_page_count(p) <= 3, "a page of %zu runs for limit 3", acp_page_count(p));
        FUZZ_CHECK(acp_page_total(p) >= (int64_t)acp_page_count(p), "total %lld, %zu runs",
                   (long long)acp_page_total(p), acp_page_count(p));
        for (size_t i = 0; i < acp_page_count(p); i++) {
            const char *k = acp_page_key(p, i);
            FUZZ_CHECK(k && k[0], "a listed run without its id");
            add_id(x->run, &x->n_run, k);
        }
        const char *next = acp_page_next_cursor(p);
        if (next)
            snprintf(cursor, sizeof cursor, "%s", next);
        acp_page_free(p);
        if (!next)
            break;
    }
    for (size_t i = 0; i < x->n_run; i++) {
        char *json = NULL;
        size_t len = 0;
        acp_error e = {0};
        acp_status st = acp_run_get(s, x->run[i], &json, &len, &e);
        FUZZ_CHECK(READ_OK(st), "get_run %s: %s (%s)", x->run[i], acp_status_name(st), e.message);
        FUZZ_CHECK(st != ACP_OK || (json && strlen(json) <= len), "get_run returned no text");
        acp_free(json);
    }
}

static void read_events(acp_store *s, const char *run_id)
{
    static const acp_event_filter windows[] = {
        {sizeof(acp_event_filter), 1000, 0, 0},
        {sizeof(acp_event_filter), 2, 1, 1},
        {sizeof(acp_event_filter), 1, 0, 3},
    };
    for (size_t w = 0; w < sizeof windows / sizeof windows[0]; w++) {
        acp_page *p = NULL;
        acp_error e = {0};
        acp_status st = acp_event_list(s, run_id, &windows[w], &p, &e);
        FUZZ_CHECK(st == ACP_OK || st == ACP_CORRUPT, "get_events %s: %s (%s)", run_id,
                   acp_status_name(st), e.message);
        if (st != ACP_OK)
            continue;
        size_t n = acp_page_count(p);
        FUZZ_CHECK(n <= (size_t)windows[w].limit, "%zu events for limit %lld", n,
                   (long long)windows[w].limit);
        int64_t first = windows[w].after_seq + windows[w].offset + 1;
        for (size_t i = 0; i < n; i++)
            FUZZ_CHECK(acp_page_seq(p, i) == first + (int64_t)i,
                       "get_events %s (after %lld, offset %lld): item %zu has sequence %lld",
                       run_id, (long long)windows[w].after_seq, (long long)windows[w].offset, i,
                       (long long)acp_page_seq(p, i));
        acp_page_free(p);
    }
}

static void read_sessions(acp_store *s, ids *x)
{
    char after[ACP_ID_MAX + 1] = "";
    for (int page = 0; page < 64; page++) {
        acp_page *p = NULL;
        acp_error e = {0};
        acp_status st = acp_session_list(s, after[0] ? after : NULL, 3, &p, &e);
        FUZZ_CHECK(st == ACP_OK || st == ACP_CORRUPT, "list_sessions: %s (%s)",
                   acp_status_name(st), e.message);
        if (st != ACP_OK)
            break;
        FUZZ_CHECK(acp_page_count(p) <= 3, "a page of %zu sessions for limit 3",
                   acp_page_count(p));
        for (size_t i = 0; i < acp_page_count(p); i++) {
            const char *k = acp_page_key(p, i);
            FUZZ_CHECK(k && k[0], "a listed session without its id");
            FUZZ_CHECK(!after[0] || strcmp(k, after) > 0, "list_sessions went back to %s", k);
            add_id(x->session, &x->n_session, k);
            snprintf(after, sizeof after, "%s", k);
        }
        const char *next = acp_page_next_cursor(p);
        acp_page_free(p);
        if (!next)
            break;
    }
    for (size_t i = 0; i < x->n_session; i++) {
        char *json = NULL;
        acp_error e = {0};
        acp_status st = acp_session_get(s, x->session[i], &json, NULL, &e);
        FUZZ_CHECK(READ_OK(st), "get_session %s: %s (%s)", x->session[i], acp_status_name(st),
                   e.message);
        acp_free(json);
    }
}

static void read_all(acp_store *s, ids x)
{
    read_runs(s, &x);
    for (size_t i = 0; i < x.n_run; i++)
        read_events(s, x.run[i]);
    read_sessions(s, &x);
}

static void expect_doc(acp_store *s, int run, const char *id, const char *want)
{
    char *json = NULL;
    size_t len = 0;
    acp_error e = {0};
    acp_status st = run ? acp_run_get(s, id, &json, &len, &e)
                        : acp_session_get(s, id, &json, &len, &e);
    FUZZ_CHECK(st == ACP_OK && len == strlen(want) && !memcmp(json, want, len),
               "%s %s after saving it: %s (%s)", run ? "run" : "session", id,
               acp_status_name(st), e.message);
    acp_free(json);
}

/* Writes over whatever is there; returns the sequence add_event gave r1,
 * or 0 when it reported the log damaged. */
static int64_t write_some(acp_store *s)
{
    acp_error e = {0};
    acp_status st = acp_run_save(s, RUN_DOC, ACP_STRLEN, &e);
    FUZZ_CHECK(st == ACP_OK, "save_run over damage: %s (%s)", acp_status_name(st), e.message);
    expect_doc(s, 1, "r1", RUN_DOC);
    st = acp_session_save(s, SESSION_DOC, ACP_STRLEN, &e);
    FUZZ_CHECK(st == ACP_OK, "save_session over damage: %s (%s)", acp_status_name(st), e.message);
    expect_doc(s, 0, "s1", SESSION_DOC);

    int64_t seq = 0;
    st = acp_event_add(s, "r1", EVENT_DOC, ACP_STRLEN, &seq, &e);
    FUZZ_CHECK(st == ACP_OK || st == ACP_CORRUPT, "add_event: %s (%s)", acp_status_name(st),
               e.message);
    if (st == ACP_OK) {
        acp_event_filter f = ACP_EVENT_FILTER_INIT;
        acp_page *p = NULL;
        f.after_seq = seq - 1;
        st = acp_event_list(s, "r1", &f, &p, &e);
        size_t len = 0;
        const char *doc = st == ACP_OK ? acp_page_json(p, 0, &len) : NULL;
        FUZZ_CHECK(st == ACP_OK && acp_page_count(p) == 1 && acp_page_seq(p, 0) == seq && doc &&
                       len == strlen(EVENT_DOC) && !memcmp(doc, EVENT_DOC, len),
                   "the event just added as %lld does not read back: %s (%s)", (long long)seq,
                   acp_status_name(st), e.message);
        acp_page_free(p);
    } else {
        seq = 0;
    }

    st = acp_run_delete(s, "r2", &e);
    FUZZ_CHECK(st == ACP_OK || st == ACP_NOT_FOUND, "delete_run r2: %s (%s)",
               acp_status_name(st), e.message);
    char *json = NULL;
    st = acp_run_get(s, "r2", &json, NULL, &e);
    FUZZ_CHECK(st == ACP_NOT_FOUND, "r2 after delete_run: %s", acp_status_name(st));
    acp_page *p = NULL;
    st = acp_event_list(s, "r2", NULL, &p, &e);
    FUZZ_CHECK(st == ACP_OK && acp_page_count(p) == 0, "events of r2 after delete_run: %s (%s)",
               acp_status_name(st), e.message);
    acp_page_free(p);
    return seq;
}

/* ---- one input ------------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        return 0;
    unsigned char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';

    char dir[96], store[128], uri[256];
    snprintf(dir, sizeof dir, "%s/acp-fuzz-file-XXXXXX", tmp_root);
    FUZZ_CHECK(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
    snprintf(store, sizeof store, "%s/store", dir);
    snprintf(uri, sizeof uri, "file://%s?sync=none", store);
    static const char *const subdirs[] = {"", "/runs", "/sessions", "/events"};
    for (size_t i = 0; i < 4; i++) {
        char p[160];
        snprintf(p, sizeof p, "%s%s", store, subdirs[i]);
        FUZZ_CHECK(mkdir(p, 0755) == 0, "mkdir %s: %s", p, strerror(errno));
    }

    /* The sections, each written as its file; a store gets a FORMAT unless
     * the input brings its own. */
    ids x;
    memset(&x, 0, sizeof x);
    add_id(x.run, &x.n_run, "r1");
    add_id(x.run, &x.n_run, "r2");
    add_id(x.session, &x.n_session, "s1");
    int has_format = 0;
    unsigned char *p = buf, *end = buf + size;
    if (size >= 4 && memcmp(p, "--- ", 4) != 0) {
        unsigned char *h = memmem(p, size, "\n--- ", 5);
        p = h ? h + 1 : end;
    }
    while (p < end && end - p >= 4 && memcmp(p, "--- ", 4) == 0) {
        unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break;
        char name[256];
        size_t nlen = (size_t)(nl - p) - 4;
        if (nlen >= sizeof name)
            nlen = sizeof name - 1;
        memcpy(name, p + 4, nlen);
        name[nlen] = '\0';
        unsigned char *body = nl + 1, *next = memmem(body, (size_t)(end - body), "\n--- ", 5);
        unsigned char *body_end = next ? next + 1 : end;
        if (name_allowed(name) && strlen(name) == nlen) {
            fix_checksums(body, (size_t)(body_end - body));
            FUZZ_CHECK(write_file(store, name, body, (size_t)(body_end - body)) == 0,
                       "write %s: %s", name, strerror(errno));
            has_format |= !strcmp(name, "FORMAT");
            char id[ACP_ID_MAX + 1];
            const char *slash = strchr(name, '/');
            if (slash) {
                size_t bl = strlen(slash + 1) - (name[0] == 'e' ? 4 : 5);
                if (name_to_id(slash + 1, bl, id)) {
                    if (name[0] == 's')
                        add_id(x.session, &x.n_session, id);
                    else
                        add_id(x.run, &x.n_run, id);
                }
            }
        }
        p = body_end;
    }
    if (!has_format) {
        static const char fmt[] = "{\"format\":\"acp-storage-file\",\"version\":1}\n";
        FUZZ_CHECK(write_file(store, "FORMAT", (const unsigned char *)fmt, sizeof fmt - 1) == 0,
                   "write FORMAT");
    }

    acp_config *cfg;
    acp_error e = {0};
    acp_store *s = NULL;
    FUZZ_CHECK(acp_config_new(&cfg, NULL) == ACP_OK && acp_config_parse_uri(cfg, uri, NULL) == ACP_OK &&
                   acp_config_add_plugin_dir(cfg, ACP_FUZZ_PLUGIN_DIR, NULL) == ACP_OK,
               "configuration for %s", uri);
    acp_status st = acp_store_open_config(cfg, &s, &e);
    FUZZ_CHECK(st == ACP_OK || st == ACP_CORRUPT || st == ACP_INVALID || st == ACP_UNSUPPORTED,
               "open: %s (%s)", acp_status_name(st), e.message);
    if (st == ACP_OK) {
        read_all(s, x);
        int64_t seq = write_some(s);
        read_all(s, x);
        acp_store_close(s);

        /* What was written stays, and the store still opens. */
        st = acp_store_open_config(cfg, &s, &e);
        FUZZ_CHECK(st == ACP_OK, "reopen after writing: %s (%s)", acp_status_name(st), e.message);
        expect_doc(s, 1, "r1", RUN_DOC);
        expect_doc(s, 0, "s1", SESSION_DOC);
        if (seq > 0) {
            acp_event_filter f = ACP_EVENT_FILTER_INIT;
            acp_page *pg = NULL;
            f.after_seq = seq - 1;
            st = acp_event_list(s, "r1", &f, &pg, &e);
            FUZZ_CHECK(st == ACP_OK && acp_page_count(pg) >= 1 && acp_page_seq(pg, 0) == seq,
                       "event %lld of r1 after reopening: %s (%s)", (long long)seq,
                       acp_status_name(st), e.message);
            acp_page_free(pg);
        }
        read_all(s, x);
        /* verify walks whatever is there: it names damage or finds none,
         * and after a quarantine the store still serves. */
        for (unsigned flags = 0; flags <= ACP_VERIFY_QUARANTINE; flags += ACP_VERIFY_QUARANTINE) {
            acp_verify_counts vc;
            st = acp_store_verify(s, flags, NULL, NULL, &vc, &e);
            FUZZ_CHECK(st == ACP_OK || st == ACP_CORRUPT, "verify (flags %u): %s (%s)", flags,
                       acp_status_name(st), e.message);
            FUZZ_CHECK((st == ACP_OK) == (vc.damaged == 0), "verify: %s with %lld damaged",
                       acp_status_name(st), (long long)vc.damaged);
        }
        read_all(s, x);
        expect_doc(s, 1, "r1", RUN_DOC);
        acp_store_close(s);
    } else {
        FUZZ_CHECK(e.message[0], "open failed without a message");
    }
    acp_config_free(cfg);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(buf);
    return 0;
}
