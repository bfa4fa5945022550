/*
 * test_lines.c - batched line reading: random text (empty lines, CRLF, no
 * final newline) read in random batch sizes gives exactly the lines split
 * by the test, with their numbers; in follow mode a file growing in random
 * chunks (cut mid-line) gives every line once, complete; tide_input_lines
 * feeds one epoch per batch. Seeds are printed.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tide/tide.h"
#include "tide_test.h"

static char *random_text(tide_rng *r, size_t *len, bool final_nl)
{
    size_t n = 1000 + tide_rng_below(r, 3000);
    char *t = malloc(n + 2);
    for (size_t i = 0; i < n; i++) {
        uint64_t x = tide_rng_below(r, 20);
        t[i] = x == 0 ? '\n' : x == 1 ? '\r' : (char)('a' + x);
    }
    if (final_nl)
        t[n - 1] = '\n';
    else
        t[n - 1] = 'z';
    *len = n;
    return t;
}

/* The lines the test expects: split on '\n', one '\r' before it dropped. */
static uint32_t split(const char *t, size_t n, const char **p, uint32_t *l)
{
    uint32_t k = 0;
    size_t s = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && t[i] != '\n') continue;
        if (i == n && s == n) break;
        size_t e = i;
        if (e > s && t[e - 1] == '\r') e--;
        p[k] = t + s, l[k++] = (uint32_t)(e - s);
        s = i + 1;
    }
    return k;
}

static char *temp_file(void)
{
    char *path = strdup("/tmp/tide_lines_XXXXXX");
    int fd = mkstemp(path);
    close(fd);
    return path;
}

Test(lines, batches_match_split)
{
    tide_rng r = {tide_test_seed("lines", 1)};
    for (int iter = 0; iter < 20; iter++) {
        size_t n;
        char *t = random_text(&r, &n, iter % 2);
        const char *wp[4096];
        uint32_t wl[4096], nw = split(t, n, wp, wl);
        char *path = temp_file();
        FILE *f = fopen(path, "w");
        fwrite(t, 1, n, f);
        fclose(f);
        tide_error e = {0};
        tide_lines *lr = tide_lines_open(path, false, &e);
        cr_assert_not_null(lr, "%s", e.msg);
        uint32_t seen = 0, got;
        const tide_line *ls;
        do {
            uint32_t max = 1 + (uint32_t)tide_rng_below(&r, 50);
            cr_assert_eq(tide_lines_next(lr, max, &ls, &got, &e), TIDE_OK);
            cr_assert_leq(got, max);
            for (uint32_t i = 0; i < got; i++, seen++) {
                cr_assert_lt(seen, nw);
                cr_assert_eq(ls[i].lineno, seen + 1);
                cr_assert(ls[i].len == wl[seen] && memcmp(ls[i].p, wp[seen], wl[seen]) == 0,
                          "line %u differs", seen + 1);
            }
        } while (got > 0);
        cr_assert_eq(seen, nw);
        cr_assert(tide_lines_eof(lr));
        tide_lines_free(lr);
        unlink(path);
        free(path);
        free(t);
    }
}

Test(lines, follow_a_growing_file)
{
    tide_rng r = {tide_test_seed("lines_follow", 2)};
    size_t n;
    char *t = random_text(&r, &n, true);
    const char *wp[4096];
    uint32_t wl[4096], nw = split(t, n, wp, wl);
    char *path = temp_file();
    FILE *f = fopen(path, "w");
    tide_error e = {0};
    tide_lines *lr = tide_lines_open(path, true, &e);
    cr_assert_not_null(lr);
    size_t written = 0;
    uint32_t seen = 0, got;
    const tide_line *ls;
    while (seen < nw) {
        if (written < n) {
            size_t c = 1 + tide_rng_below(&r, 200);
            if (c > n - written) c = n - written;
            fwrite(t + written, 1, c, f);
            fflush(f);
            written += c;
        }
        cr_assert_eq(tide_lines_next(lr, 7, &ls, &got, &e), TIDE_OK);
        for (uint32_t i = 0; i < got; i++, seen++) {
            cr_assert_lt(seen, nw);
            cr_assert(ls[i].len == wl[seen] && memcmp(ls[i].p, wp[seen], wl[seen]) == 0,
                      "line %u differs while following", seen + 1);
            /* Only complete lines: the newline must already be written. */
            cr_assert_leq((size_t)(wp[seen] - t) + wl[seen], written);
        }
        cr_assert(written < n || got > 0 || seen == nw, "stalled at line %u", seen);
    }
    cr_assert(!tide_lines_eof(lr));
    fclose(f);
    tide_lines_free(lr);
    unlink(path);
    free(path);
    free(t);
}

typedef struct lin_ctx {
    const char *path;
    uint64_t lines, epochs;
} lin_ctx;

static void count(void *ctx, const tide_batch *b)
{
    lin_ctx *c = ctx;
    c->lines += b->len;
    c->epochs = b->time.epoch + 1 > c->epochs ? b->time.epoch + 1 : c->epochs;
}

static int lines_main(tide_worker *w, void *arg)
{
    lin_ctx *c = arg;
    tide_dataflow *df = tide_dataflow_new(w, "lines");
    tide_stream *s;
    tide_input *in = tide_input_new(tide_dataflow_root(df), tide_layout_make(TIDE_VAR, 8), 0, &s);
    tide_sink(s, TIDE_PIPELINE, count, c);
    TIDE_TRY(tide_dataflow_seal(df));
    tide_error e = {0};
    tide_lines *lr = tide_lines_open(c->path, false, &e);
    if (lr == NULL) return e.code;
    int n;
    while ((n = tide_input_lines(in, lr, 10, false, &e)) > 0) TIDE_TRY(tide_worker_step(w));
    tide_lines_free(lr);
    TIDE_TRY(n);
    return tide_input_close(in);
}

Test(lines, input_one_epoch_per_batch)
{
    char *path = temp_file();
    FILE *f = fopen(path, "w");
    for (int i = 0; i < 95; i++) fprintf(f, "line %d\n", i);
    fclose(f);
    lin_ctx c = {path, 0, 0};
    TIDE_TEST_EXECUTE(1, lines_main, &c);
    cr_assert_eq(c.lines, 95);
    cr_assert_eq(c.epochs, 10, "95 lines in batches of 10: epochs 0..9, got %llu",
                 (unsigned long long)c.epochs);
    unlink(path);
    free(path);
}
