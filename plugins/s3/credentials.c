/* SPDX-License-Identifier: MIT */
/*
 * credentials.c - where the access key comes from, first match wins:
 *   1. the URI options access_key_id and secret_access_key (and
 *      session_token);
 *   2. the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 *      AWS_SESSION_TOKEN;
 *   3. the shared credentials file (option credentials_file, else
 *      AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials), section of the
 *      profile (option profile, else AWS_PROFILE, else "default").
 * Secrets are copied and wiped on free; no message ever contains them.
 * The core redacts option values whose key holds "secret" or "token" in
 * every URI it prints.
 */
#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "s3_int.h"

static char *dup_or_null(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* Read the profile's keys from an INI file ("[name]" sections, key = value). */
static int from_file(const char *path, const char *profile, s3_creds *c, char *err,
                     size_t errcap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 1; /* no file: not an error, there is just nothing there */
    char line[4096];
    int in = 0, found = 0;
    while (fgets(line, sizeof line, f)) {
        char *s = trim(line);
        if (*s == '[') {
            char *e = strchr(s, ']');
            if (e)
                *e = '\0';
            char *name = trim(s + 1);
            /* The config file's style "profile NAME" is accepted too. */
            if (!strncmp(name, "profile ", 8))
                name = trim(name + 8);
            in = !strcmp(name, profile);
            found |= in;
            continue;
        }
        char *eq = strchr(s, '=');
        if (!in || !eq || *s == '#' || *s == ';')
            continue;
        *eq = '\0';
        char *k = trim(s), *v = trim(eq + 1);
        char **slot = !strcmp(k, "aws_access_key_id")       ? &c->access_key
                      : !strcmp(k, "aws_secret_access_key") ? &c->secret_key
                      : !strcmp(k, "aws_session_token")     ? &c->session_token
                                                            : NULL;
        if (slot && *v) {
            free(*slot);
            *slot = strdup(v);
        }
    }
    OPENSSL_cleanse(line, sizeof line);
    fclose(f);
    if (!found) {
        snprintf(err, errcap, "profile '%s' is not in the shared credentials file %s", profile,
                 path);
        return -1;
    }
    return 0;
}

acp_status s3_creds_resolve(const acp_open_args *a, s3_creds *c, char *err, size_t errcap)
{
    memset(c, 0, sizeof *c);
    const char *ak = acp_option_text(a, "access_key_id"), *sk = acp_option_text(a, "secret_access_key");
    if (ak || sk) {
        if (!ak || !sk || !*ak || !*sk) {
            snprintf(err, errcap, "options access_key_id and secret_access_key go together");
            return ACP_INVALID;
        }
        c->access_key = strdup(ak);
        c->secret_key = strdup(sk);
        c->session_token = dup_or_null(acp_option_text(a, "session_token"));
        c->source = "the URI options";
    } else if ((ak = getenv("AWS_ACCESS_KEY_ID")) && *ak) {
        const char *esk = getenv("AWS_SECRET_ACCESS_KEY");
        if (!esk || !*esk) {
            snprintf(err, errcap, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
            return ACP_INVALID;
        }
        c->access_key = strdup(ak);
        c->secret_key = strdup(esk);
        c->session_token = dup_or_null(getenv("AWS_SESSION_TOKEN"));
        c->source = "the environment (AWS_ACCESS_KEY_ID)";
    } else {
        const char *path = acp_option_text(a, "credentials_file");
        char home_path[4096];
        if (!path)
            path = getenv("AWS_SHARED_CREDENTIALS_FILE");
        if (!path && getenv("HOME")) {
            snprintf(home_path, sizeof home_path, "%s/.aws/credentials", getenv("HOME"));
            path = home_path;
        }
        const char *profile = acp_option_text(a, "profile");
        if (!profile)
            profile = getenv("AWS_PROFILE");
        if (!profile || !*profile)
            profile = "default";
        int rc = path ? from_file(path, profile, c, err, errcap) : 1;
        if (rc < 0) {
            s3_creds_free(c);
            return ACP_INVALID;
        }
        if (rc > 0 || !c->access_key || !c->secret_key) {
            s3_creds_free(c);
            snprintf(err, errcap,
                     "no credentials: give access_key_id and secret_access_key options, set "
                     "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or add profile '%s' to %s",
                     profile, path ? path : "~/.aws/credentials");
            return ACP_INVALID;
        }
        c->source = "the shared credentials file";
    }
    if (!c->access_key || !c->secret_key) {
        s3_creds_free(c);
        snprintf(err, errcap, "out of memory reading credentials");
        return ACP_NOMEM;
    }
    return ACP_OK;
}

static void wipe(char **s)
{
    if (*s) {
        OPENSSL_cleanse(*s, strlen(*s));
        free(*s);
        *s = NULL;
    }
}

void s3_creds_free(s3_creds *c)
{
    wipe(&c->access_key);
    wipe(&c->secret_key);
    wipe(&c->session_token);
}
