/* SPDX-License-Identifier: MIT */
/*
 * core_options.c - the options of a store configuration that the core
 * itself takes, on every backend alike: today the document size limit.
 * They are handled here, once, and never reach a plugin's option check.
 * And the options that do reach a plugin: checked here, once, against its
 * descriptor (typed specs or names), before its open runs.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define OPT_MAX_DOC "max_document_bytes"
/* The largest limit one may configure: PostgreSQL keeps at most 1 GiB in a
 * value, Redis 512 MiB; a larger document could not be stored anyway. */
#define MAX_DOC_CEILING ((size_t)1 << 30)

int acp__core_option(const char *key)
{
    return strcmp(key, OPT_MAX_DOC) == 0 || strcmp(key, "retain") == 0;
}

/* Exactly the decimal digits of a number in 1..MAX_DOC_CEILING: no sign, no
 * space, no suffix, no leading zero, so the text means one thing. */
static int parse_size(const char *s, size_t *out)
{
    size_t v = 0;
    if (!s[0] || s[0] == '0')
        return 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        v = v * 10 + (size_t)(*p - '0');
        if (v > MAX_DOC_CEILING)
            return 0;
    }
    *out = v;
    return 1;
}

ACP_API acp_status acp_config_max_document_bytes(const acp_config *cfg, size_t *max,
                                                 acp_error *err)
{
    if (!cfg || !max)
        return acp__error(err, ACP_INVALID,
                          "acp_config_max_document_bytes: arguments must not be NULL");
    size_t v = ACP_DOCUMENT_MAX_DEFAULT;
    for (size_t i = 0; i < cfg->n_opts; i++) {
        if (strcmp(cfg->opts[i].key, OPT_MAX_DOC) != 0)
            continue;
        if (!parse_size(cfg->opts[i].value, &v))
            return acp__error(err, ACP_INVALID,
                              OPT_MAX_DOC " '%.64s' is not a number of bytes in 1..%zu",
                              cfg->opts[i].value, MAX_DOC_CEILING);
    }
    *max = v;
    return ACP_OK;
}

acp_status acp__doc_size_check(const acp_store *s, const char *what, size_t len, acp_error *err)
{
    if (len <= s->max_doc)
        return ACP_OK;
    return acp__error(err, ACP_INVALID,
                      "%s document is %zu bytes, more than the store's limit of %zu bytes "
                      "(option " OPT_MAX_DOC ")",
                      what, len, s->max_doc);
}

/* ---- the options handed to a plugin's open ---- */

/* The options every backend accepts (acp_config_set in acp_storage.h). */
#define OPT_CREATE "create"
#define OPT_MIGRATE "migrate"

static const char *const bool_true[] = {"true", "1", "yes", "on", NULL};
static const char *const bool_false[] = {"false", "0", "no", "off", NULL};

static int in_list(const char *const *list, const char *v)
{
    for (; list && *list; list++)
        if (strcmp(*list, v) == 0)
            return 1;
    return 0;
}

/* Decimal digits (at least one) into *v, no overflow; returns the end, or
 * NULL. */
static const char *digits(const char *p, uint64_t *v)
{
    const char *start = p;
    *v = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (*v > (UINT64_MAX - 9) / 10)
            return NULL;
        *v = *v * 10 + (uint64_t)(*p - '0');
    }
    return p > start ? p : NULL;
}

static int parse_integer(const char *s, int64_t *out)
{
    int neg = *s == '-';
    uint64_t v;
    const char *end = digits(s + neg, &v);
    if (!end || *end || v > (uint64_t)INT64_MAX + (uint64_t)neg)
        return 0;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 1;
}

/* A decimal number with an optional fraction, times the unit its suffix
 * names (bare: bare_unit), rounded up; 0 when malformed or too large. */
static int parse_scaled(const char *s, const char *const names[], const int64_t units[],
                        int64_t bare_unit, int fractions, int64_t *out)
{
    uint64_t whole, frac = 0, scale = 1;
    const char *p = digits(s, &whole);
    if (!p)
        return 0;
    if (fractions && *p == '.') {
        const char *f = p + 1;
        for (p = f; *p >= '0' && *p <= '9'; p++) {
            if (scale > UINT64_MAX / 100)
                return 0;
            frac = frac * 10 + (uint64_t)(*p - '0');
            scale *= 10;
        }
        if (p == f)
            return 0;
    }
    int64_t unit = bare_unit > 0 ? bare_unit : 1;
    if (*p) {
        size_t i = 0;
        while (names[i] && strcmp(names[i], p) != 0)
            i++;
        if (!names[i])
            return 0;
        unit = units[i];
    }
    if (whole > (uint64_t)INT64_MAX / (uint64_t)unit ||
        (frac && (uint64_t)unit > UINT64_MAX / frac))
        return 0;
    uint64_t v = whole * (uint64_t)unit + (frac * (uint64_t)unit + scale - 1) / scale;
    if (v > (uint64_t)INT64_MAX)
        return 0;
    *out = (int64_t)v;
    return 1;
}

static const char *const duration_names[] = {"ms", "s", "m", "min", "h", NULL};
static const int64_t duration_units[] = {1, 1000, 60000, 60000, 3600000};
static const char *const size_names[] = {"B", "K", "KiB", "M", "MiB", "G", "GiB", NULL};
static const int64_t size_units[] = {1, 1 << 10, 1 << 10, 1 << 20, 1 << 20, 1 << 30, 1 << 30};

/* What values of spec look like, for messages: "a duration ... from 0 ms
 * to 5000 ms". */
static void describe(const acp_option_spec *o, char *buf, size_t n)
{
    int ranged = o->min || o->max;
    size_t len = 0;
    switch (o->type) {
    case ACP_OPT_INTEGER:
        len = (size_t)snprintf(buf, n, "an integer");
        break;
    case ACP_OPT_BOOLEAN:
        snprintf(buf, n, "true or false (also 1/0, yes/no, on/off)");
        return;
    case ACP_OPT_ENUM:
        len = (size_t)snprintf(buf, n, "one of");
        for (const char *const *v = o->values; v && *v && len < n; v++)
            len += (size_t)snprintf(buf + len, n - len, "%s %s", v == o->values ? "" : ",", *v);
        return;
    case ACP_OPT_DURATION:
        len = (size_t)snprintf(buf, n, "a duration (a number with ms, s, min or h; a bare "
                               "number counts in %s)", o->unit == 1000 ? "seconds"
                               : o->unit > 1 ? "units of the option" : "milliseconds");
        if (ranged && len < n)
            snprintf(buf + len, n - len, " from %" PRId64 " ms to %" PRId64 " ms", o->min,
                     o->max);
        return;
    case ACP_OPT_SIZE:
        len = (size_t)snprintf(buf, n, "a size (bytes, or a number with K, M or G)");
        if (ranged && len < n)
            snprintf(buf + len, n - len, " from %" PRId64 " to %" PRId64 " bytes", o->min,
                     o->max);
        return;
    default:
        len = (size_t)snprintf(buf, n, "text");
        if (ranged && o->max && len < n)
            snprintf(buf + len, n - len, " of %" PRId64 " to %" PRId64 " bytes", o->min, o->max);
        else if (ranged && len < n)
            snprintf(buf + len, n - len, " of at least %" PRId64 " bytes", o->min);
        return;
    }
    if (ranged && len < n)
        snprintf(buf + len, n - len, " from %" PRId64 " to %" PRId64, o->min, o->max);
}

/* Check value against spec o; *canon receives its canonical text (to free).
 * Errors: INVALID naming the option, the value (unless secret) and what is
 * accepted; NOMEM. */
static acp_status typed_value(const acp_plugin_descriptor *d, const acp_option_spec *o,
                              const char *value, char **canon, acp_error *err)
{
    int64_t v = 0;
    int ok;
    char num[24];
    const char *text = value;
    switch (o->type) {
    case ACP_OPT_INTEGER:
        ok = parse_integer(value, &v);
        break;
    case ACP_OPT_BOOLEAN:
        ok = in_list(bool_true, value) || in_list(bool_false, value);
        text = in_list(bool_true, value) ? "true" : "false";
        break;
    case ACP_OPT_ENUM:
        ok = in_list(o->values, value);
        break;
    case ACP_OPT_DURATION:
        ok = parse_scaled(value, duration_names, duration_units, o->unit, 1, &v);
        break;
    case ACP_OPT_SIZE:
        ok = parse_scaled(value, size_names, size_units, o->unit, 0, &v);
        break;
    default: /* STRING: the range is its length */
        v = (int64_t)strlen(value);
        ok = 1;
        break;
    }
    /* STRING: max 0 is no upper bound on the length. */
    int64_t hi = o->type == ACP_OPT_STRING && o->max == 0 ? INT64_MAX : o->max;
    if (ok && (o->min || o->max) && o->type != ACP_OPT_BOOLEAN && o->type != ACP_OPT_ENUM)
        ok = v >= o->min && v <= hi;
    if (!ok) {
        char what[320];
        describe(o, what, sizeof what);
        if (o->flags & ACP_OPT_SECRET)
            return acp__error(err, ACP_INVALID,
                              "option %s of backend '%s': the value given is not %s", o->name,
                              d->name, what);
        return acp__error(err, ACP_INVALID, "option %s=%.64s of backend '%s': expected %s",
                          o->name, value, d->name, what);
    }
    if (o->type == ACP_OPT_INTEGER || o->type == ACP_OPT_DURATION || o->type == ACP_OPT_SIZE) {
        snprintf(num, sizeof num, "%" PRId64, v);
        text = num;
    }
    if (!(*canon = strdup(text)))
        return acp__error(err, ACP_NOMEM, "out of memory reading option %s", o->name);
    return ACP_OK;
}

/* The spec named key, the catch-all "*" when none is (*any), or NULL. */
static const acp_option_spec *spec_of(const acp_option_spec *specs, const char *key, int *any)
{
    *any = 0;
    for (const acp_option_spec *o = specs; o->name; o++) {
        if (strcmp(o->name, key) == 0)
            return o;
        if (strcmp(o->name, "*") == 0)
            *any = 1;
    }
    return NULL;
}

/* Refuse key, listing what d accepts. */
static acp_status unknown_key(const acp_plugin_descriptor *d, const acp_option_spec *specs,
                              const char *key, acp_error *err)
{
    char accepted[512] = "";
    size_t len = 0;
    if (specs) {
        for (const acp_option_spec *o = specs; o->name && len < sizeof accepted; o++)
            len += (size_t)snprintf(accepted + len, sizeof accepted - len, "%s, ", o->name);
    } else {
        for (const char *const *n = d->option_names; *n && len < sizeof accepted; n++)
            len += (size_t)snprintf(accepted + len, sizeof accepted - len, "%s, ", *n);
    }
    return acp__error(err, ACP_INVALID,
                      "unknown option '%.64s' for backend '%s' (accepted: %s" OPT_MAX_DOC ", retain)",
                      key, d->name, accepted);
}

static acp_status check_variant(const acp_config *cfg, const acp_plugin_descriptor *d,
                                acp_error *err)
{
    const char *v = cfg->variant ? cfg->variant : "";
    if (!ACP__DESC_HAS(d, variants) || !d->variants || !v[0] || in_list(d->variants, v))
        return ACP_OK;
    if (!d->variants[0])
        return acp__error(err, ACP_INVALID, "%s: unknown variant '+%.64s' (it takes none: "
                          "write %s:)", d->name, v, d->name);
    char accepted[512] = "";
    size_t len = 0;
    for (const char *const *n = d->variants; *n && len < sizeof accepted; n++)
        len += (size_t)snprintf(accepted + len, sizeof accepted - len, ", %s+%s", d->name, *n);
    return acp__error(err, ACP_INVALID, "%s: unknown variant '+%.64s' (accepted: %s%s)",
                      d->name, v, d->name, accepted);
}

/* Append key = value (value owned by o from now on, even on failure). */
static acp_status push_opt(acp__open_opts *o, const char *key, char *value, acp_error *err)
{
    if (!value)
        return acp__error(err, ACP_NOMEM, "out of memory opening a store");
    o->owned[o->n] = value;
    o->v[o->n].key = key;
    o->v[o->n++].value = value;
    return ACP_OK;
}

/* Whether d receives "create": it describes or lists it. */
static int takes_create(const acp_plugin_descriptor *d, const acp_option_spec *specs)
{
    int any = 0;
    return (specs && spec_of(specs, OPT_CREATE, &any)) || in_list(d->option_names, OPT_CREATE);
}

acp_status acp__open_opts_make(const acp_config *cfg, const acp_plugin_descriptor *d,
                               unsigned for_migrate, acp__open_opts *o, acp_error *err)
{
    const acp_option_spec *specs = ACP__DESC_HAS(d, options) ? d->options : NULL;
    size_t n_specs = 0;
    while (specs && specs[n_specs].name)
        n_specs++;
    memset(o, 0, sizeof *o);
    acp_status st = check_variant(cfg, d, err);
    if (st != ACP_OK)
        return st;
    /* + 2: what an open for acp_store_migrate() adds */
    o->v = calloc(cfg->n_opts + n_specs + 3, sizeof *o->v);
    o->owned = calloc(cfg->n_opts + n_specs + 3, sizeof *o->owned);
    if (!o->v || !o->owned) {
        acp__open_opts_free(o);
        return acp__error(err, ACP_NOMEM, "out of memory opening a store");
    }
    for (size_t i = 0; i < cfg->n_opts && st == ACP_OK; i++) {
        const char *key = cfg->opts[i].key, *value = cfg->opts[i].value;
        if (acp__core_option(key))
            continue; /* taken by the core, meaningless to the plugin */
        int any = 0;
        const acp_option_spec *spec = specs ? spec_of(specs, key, &any) : NULL;
        if (strcmp(key, OPT_CREATE) == 0) {
            /* Accepted everywhere; reaches only the backends that ask. */
            static const acp_option_spec create = {.name = OPT_CREATE,
                                                   .type = ACP_OPT_BOOLEAN};
            char *canon = NULL;
            /* A dry run's open sets it itself, below. */
            int wanted = takes_create(d, specs) && !(for_migrate & ACP_MIGRATE_DRY_RUN);
            if ((st = typed_value(d, &create, value, &canon, err)) == ACP_OK && wanted)
                st = push_opt(o, key, canon, err);
            else
                free(canon);
        } else if (strcmp(key, OPT_MIGRATE) == 0) {
            /* Accepted everywhere; reaches only the backends with a migrate
             * method (the others keep no versioned schema).  "inspect" is the
             * core's own value, for acp_store_migrate()'s open, set below. */
            static const char *const migrate_values[] = {"auto", "never", NULL};
            static const acp_option_spec migrate = {
                .name = OPT_MIGRATE, .type = ACP_OPT_ENUM, .values = migrate_values};
            char *canon = NULL;
            int wanted = ACP__HAS(d, migrate) && !for_migrate;
            if ((st = typed_value(d, &migrate, value, &canon, err)) == ACP_OK && wanted)
                st = push_opt(o, key, canon, err);
            else
                free(canon);
        } else if (spec) {
            char *canon = NULL;
            if ((st = typed_value(d, spec, value, &canon, err)) == ACP_OK)
                st = push_opt(o, key, canon, err);
        } else if (specs ? any : !d->option_names || in_list(d->option_names, key)) {
            st = push_opt(o, key, strdup(value), err);
        } else {
            st = unknown_key(d, specs, key, err);
        }
    }
    /* The open of acp_store_migrate(): an instance that neither migrates nor
     * refuses an older store; a dry run must not even create an empty one. */
    if (st == ACP_OK && for_migrate && ACP__HAS(d, migrate))
        st = push_opt(o, OPT_MIGRATE, strdup("inspect"), err);
    if (st == ACP_OK && (for_migrate & ACP_MIGRATE_DRY_RUN) && takes_create(d, specs))
        st = push_opt(o, OPT_CREATE, strdup("false"), err);
    /* Defaults of what was not given: checked as a user's value would be. */
    for (size_t k = 0; k < n_specs && st == ACP_OK; k++) {
        const acp_option_spec *spec = &specs[k];
        int given = 0;
        for (size_t i = 0; i < o->n && !given; i++)
            given = strcmp(o->v[i].key, spec->name) == 0;
        if (given || !spec->default_value || strcmp(spec->name, "*") == 0)
            continue;
        char *canon = NULL;
        if ((st = typed_value(d, spec, spec->default_value, &canon, err)) == ACP_OK)
            st = push_opt(o, spec->name, canon, err);
        else if (st == ACP_INVALID) /* not out of memory: the plugin's own default is bad */
            st = acp__error(err, ACP_PLUGIN, "backend '%s': the default of option %s is not "
                            "a valid value (%s)", d->name, spec->name, spec->default_value);
    }
    if (st != ACP_OK)
        acp__open_opts_free(o);
    return st;
}

void acp__open_opts_free(acp__open_opts *o)
{
    for (size_t i = 0; o->owned && i < o->n; i++)
        free(o->owned[i]);
    free(o->owned);
    free(o->v);
    memset(o, 0, sizeof *o);
}
