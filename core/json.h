/* SPDX-License-Identifier: MIT */
/*
 * json.h - the core's one JSON and UTF-8 toolkit (internal; never
 * installed): whitespace, hex digits, UTF-8 sequences, the strict scanner
 * every document goes through, string decoding, and building a cJSON tree
 * from text in the same pass that checks it.
 *
 * cJSON's parser is never called by the library: every cJSON_Parse* writes
 * a process-global error pointer, which would race with an application
 * that parses JSON with cJSON on its own threads.  cJSON is only used to
 * hold and print trees (no globals written).
 */
#ifndef ACP_CORE_JSON_H
#define ACP_CORE_JSON_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* 1 for the four JSON whitespace characters. */
static inline int acp__json_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Strip JSON whitespace from both ends of text[0..*len). */
void acp__json_trim(const char **text, size_t *len);

/* Value of a hexadecimal digit (either case), or -1. */
int acp__hex_digit(char c);

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 for an
 * invalid, overlong, surrogate or out-of-range one. */
size_t acp__utf8_seq(const unsigned char *s, size_t n);

/* 1 if s[0..n) is valid UTF-8. */
int acp__utf8_valid(const char *s, size_t n);

/* Decode the checked JSON string raw[0..n) (quotes included) into out,
 * which has room for n bytes; returns the decoded length and writes a NUL
 * after it.  \u0000 decodes to a NUL byte. */
size_t acp__json_decode_string(const char *raw, size_t n, char *out);

/* What becomes of a top-level member when a tree is built. */
typedef enum acp__json_keep {
    ACP__KEEP_TREE,        /* the typed API reads or edits it */
    ACP__KEEP_RAW,         /* opaque: keep its exact text */
    ACP__KEEP_RAW_ELEMENTS /* an array the API appends to: keep each element's text */
} acp__json_keep;

/* A top-level member the caller asked for: where its value is. */
typedef struct acp__json_member {
    const char *p; /* first byte of the value */
    size_t n;      /* bytes of the value */
    int count;     /* times the member appears */
    int has_nul;   /* a string value holding \u0000 */
} acp__json_member;

#define ACP__JSON_MAX_WANTED 8
#define ACP__JSON_MAX_DEPTH 512

/* One scan.  Set want and keep before acp__json_scan; read the rest after. */
typedef struct acp__json_scan {
    /* in */
    const char *const *want;          /* top-level member names to capture, or NULL */
    acp__json_keep (*keep)(const char *key); /* non-NULL: build a tree */
    /* out */
    acp__json_member got[ACP__JSON_MAX_WANTED];
    cJSON *root;       /* the tree (with keep), owned by the caller on success */
    const char *why;   /* what is wrong, on failure */
    size_t at;         /* byte offset of the failure */
    int nomem;         /* the failure is out of memory building the tree */
    int trailing;      /* the failure is text after the value */
    /* private */
    const char *p, *start, *end;
    int saw_nul;
} acp__json_scan;

/* Check that text[0..len) is one JSON value with nothing but whitespace
 * around it: strict syntax, strings valid UTF-8 with paired surrogate
 * escapes, nesting at most ACP__JSON_MAX_DEPTH, no top-level member name
 * holding \u0000.  Notes where the wanted top-level members are.  With
 * keep, builds the tree as cJSON would (repeated keys kept, in order),
 * except that numbers, and the members keep marks, become raw nodes
 * holding their exact text (cJSON keeps numbers as doubles and would print
 * 9007199254740993 back as 9007199254740992).  Returns 1, or 0 with why
 * (or nomem) set and no tree. */
int acp__json_scan_text(acp__json_scan *s, const char *text, size_t len);

/* A cJSON raw node holding text[0..len), allocated through cJSON's hooks;
 * NULL when out of memory. */
cJSON *acp__json_raw(const char *text, size_t len);

#endif /* ACP_CORE_JSON_H */
