/*
 * shim.c - runner for the Criterion shim (see criterion/criterion.h):
 * runs every registered test in-process, in name order, and prints
 * "N passed, N failed". Arguments: --filter SUITE/NAME (glob) is honoured,
 * others (e.g. --jobs) are ignored.
 */
#include <fnmatch.h>
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#include "criterion/criterion.h"

typedef struct shim_test {
    const char *suite, *name;
    void (*fn)(void);
    const struct shim_opts *opts;
} shim_test;

static shim_test tests[1024];
static int ntests;
static struct {
    const char *suite;
    const struct shim_opts *opts;
} suites[64];
static int nsuites;
static int current_failed;

void shim_register(const char *suite, const char *name, void (*fn)(void),
                   const struct shim_opts *opts)
{
    if (ntests < 1024) tests[ntests++] = (shim_test){suite, name, fn, opts};
}

void shim_register_suite(const char *suite, const struct shim_opts *opts)
{
    if (nsuites < 64) {
        suites[nsuites].suite = suite;
        suites[nsuites++].opts = opts;
    }
}

void shim_fail(int fatal, const char *file, int line, const char *expr, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s:%d: assertion failed: %s%s%s\n", file, line, expr, msg[0] ? ": " : "", msg);
    __atomic_store_n(&current_failed, 1, __ATOMIC_RELAXED);
    if (fatal) {
        fprintf(stderr, "0 passed, 1 failed\n");
        fflush(stderr);
        _exit(1);
    }
}

static const struct shim_opts *suite_opts(const char *suite)
{
    for (int i = 0; i < nsuites; i++)
        if (strcmp(suites[i].suite, suite) == 0) return suites[i].opts;
    return NULL;
}

static int by_name(const void *a, const void *b)
{
    const shim_test *x = a, *y = b;
    int c = strcmp(x->suite, y->suite);
    return c ? c : strcmp(x->name, y->name);
}

int main(int argc, char **argv)
{
    const char *filter = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--filter") == 0 && i + 1 < argc) filter = argv[++i];
        if (strncmp(argv[i], "--filter=", 9) == 0) filter = argv[i] + 9;
    }
    qsort(tests, ntests, sizeof *tests, by_name);
    int passed = 0, failed = 0;
    for (int i = 0; i < ntests; i++) {
        shim_test *t = &tests[i];
        char full[256];
        snprintf(full, sizeof full, "%s/%s", t->suite, t->name);
        if (filter && fnmatch(filter, full, 0) != 0) continue;
        if (t->opts->disabled) continue;
        const struct shim_opts *so = suite_opts(t->suite);
        fprintf(stderr, "[RUN ] %s\n", full);
        current_failed = 0;
        if (so && so->init) so->init();
        if (t->opts->init) t->opts->init();
        t->fn();
        if (t->opts->fini) t->opts->fini();
        if (so && so->fini) so->fini();
        if (current_failed) {
            failed++;
            fprintf(stderr, "[FAIL] %s\n", full);
        } else {
            passed++;
        }
    }
    fprintf(stderr, "%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
