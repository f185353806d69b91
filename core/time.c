/* SPDX-License-Identifier: MIT */
/* time.c - RFC 3339 instants as microseconds since the Unix epoch (UTC). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil), valid for every year we accept. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 1;
}

static int leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

ACP_API acp_status acp_time_parse(const char *t, size_t len, int64_t *us, acp_error *err)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int Y, M, D, h, mi, s, oh = 0, om = 0;
    if (!t || !us)
        return acp__error(err, ACP_INVALID, "acp_time_parse: text and us must not be NULL");
    if (len == ACP_STRLEN)
        len = strlen(t);
    /* YYYY-MM-DDTHH:MM:SS is 19 characters; a zone follows. */
    if (len < 20 || len > 64 || !digits(t, 4, &Y) || t[4] != '-' || !digits(t + 5, 2, &M) ||
        t[7] != '-' || !digits(t + 8, 2, &D) || (t[10] != 'T' && t[10] != 't' && t[10] != ' ') ||
        !digits(t + 11, 2, &h) || t[13] != ':' || !digits(t + 14, 2, &mi) || t[16] != ':' ||
        !digits(t + 17, 2, &s))
        goto bad;
    if (M < 1 || M > 12 || D < 1 || D > mdays[M - 1] + (M == 2 && leap(Y)) || h > 23 ||
        mi > 59 || s > 60)
        goto bad;
    size_t i = 19;
    int64_t frac = 0;
    if (t[i] == '.') {
        size_t start = ++i;
        while (i < len && t[i] >= '0' && t[i] <= '9') {
            if (i - start < 6)
                frac = frac * 10 + (t[i] - '0');
            i++;
        }
        if (i == start)
            goto bad;
        for (size_t k = i - start; k < 6; k++)
            frac *= 10;
    }
    if (i >= len)
        goto bad;
    if (t[i] == 'Z' || t[i] == 'z') {
        i++;
    } else if (t[i] == '+' || t[i] == '-') {
        if (len - i != 6 || !digits(t + i + 1, 2, &oh) || t[i + 3] != ':' ||
            !digits(t + i + 4, 2, &om) || oh > 23 || om > 59)
            goto bad;
        if (t[i] == '-') {
            oh = -oh;
            om = -om;
        }
        i += 6;
    } else {
        goto bad;
    }
    if (i != len)
        goto bad;
    /* A leap second (:60) is taken as the next second's instant. */
    int64_t secs = days_from_civil(Y, (unsigned)M, (unsigned)D) * 86400 + h * 3600 + mi * 60 + s -
                   (oh * 3600 + om * 60);
    *us = secs * 1000000 + frac;
    return ACP_OK;
bad:
    return acp__error(err, ACP_INVALID,
                      "'%.*s' is not an RFC 3339 timestamp (expected e.g. "
                      "2025-06-01T12:00:00Z or 2025-06-01T12:00:00.123456+02:00)",
                      (int)(len > 64 ? 64 : len), t);
}

ACP_API void acp_time_format(int64_t us, char buf[ACP_TIME_BUFSZ])
{
    int64_t secs = us / 1000000, frac = us % 1000000;
    if (frac < 0) {
        frac += 1000000;
        secs -= 1;
    }
    int64_t days = secs / 86400, rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days -= 1;
    }
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    /* Years past 9999 would not fit RFC 3339; the wide scratch buffer only
     * keeps the compiler's worst-case estimate quiet. */
    char tmp[128];
    snprintf(tmp, sizeof tmp, "%04" PRId64 "-%02u-%02uT%02u:%02u:%02u.%06uZ", y, m, d,
             (unsigned)(rem / 3600), (unsigned)(rem / 60 % 60), (unsigned)(rem % 60),
             (unsigned)frac);
    memcpy(buf, tmp, ACP_TIME_BUFSZ - 1);
    buf[ACP_TIME_BUFSZ - 1] = '\0';
}

ACP_API int64_t acp_time_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
