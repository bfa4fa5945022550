/*
 * window.c - the --since window (window.h): a binary min-heap of kept
 * event rows by timestamp.
 */
#include "window.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tide/tide.h"

void fx_window_init(fx_window *w, int64_t span_us)
{
    memset(w, 0, sizeof *w);
    w->span = span_us;
    w->newest = INT64_MIN;
}

void fx_window_fini(fx_window *w)
{
    for (uint32_t i = 0; i < w->n; i++) free(w->h[i].row);
    free(w->h);
    memset(w, 0, sizeof *w);
}

static void swap(fx_wev *a, fx_wev *b)
{
    fx_wev t = *a;
    *a = *b;
    *b = t;
}

int fx_window_add(fx_window *w, const uint8_t *row, uint32_t len, int64_t ts)
{
    if (w->n == w->cap) {
        uint32_t cap = w->cap ? w->cap * 2 : 1024;
        fx_wev *h = realloc(w->h, cap * sizeof *h);
        if (h == NULL) return TIDE_ENOMEM;
        w->h = h;
        w->cap = cap;
    }
    uint8_t *copy = malloc(len ? len : 1);
    if (copy == NULL) return TIDE_ENOMEM;
    memcpy(copy, row, len);
    uint32_t i = w->n++;
    w->h[i] = (fx_wev){ts, len, copy};
    while (i > 0 && w->h[(i - 1) / 2].ts > w->h[i].ts) { /* sift up */
        swap(&w->h[(i - 1) / 2], &w->h[i]);
        i = (i - 1) / 2;
    }
    return TIDE_OK;
}

bool fx_window_expired(fx_window *w, fx_wev *out)
{
    if (w->n == 0 || fx_window_inside(w, w->h[0].ts)) return false;
    *out = w->h[0];
    w->h[0] = w->h[--w->n];
    for (uint32_t i = 0;;) { /* sift down */
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < w->n && w->h[l].ts < w->h[m].ts) m = l;
        if (r < w->n && w->h[r].ts < w->h[m].ts) m = r;
        if (m == i) break;
        swap(&w->h[i], &w->h[m]);
        i = m;
    }
    return true;
}

int fx_parse_duration(const char *s, int64_t *us)
{
    if (s == NULL || *s < '0' || *s > '9') return TIDE_EINVAL;
    errno = 0;
    char *end;
    unsigned long long n = strtoull(s, &end, 10);
    int64_t unit = 1000000;
    if (*end == 'm')
        unit *= 60;
    else if (*end == 'h')
        unit *= 3600;
    else if (*end == 'd')
        unit *= 86400;
    else if (*end != 's') /* a unit is required: "5" alone is ambiguous */
        return TIDE_EINVAL;
    if (end[1] != '\0') return TIDE_EINVAL;
    if (errno || n == 0 || n > (unsigned long long)(INT64_MAX / unit)) return TIDE_EINVAL;
    *us = (int64_t)n * unit;
    return TIDE_OK;
}
