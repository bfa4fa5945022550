/*
 * criterion.h (shim) - the subset of Criterion's API tide's tests use, run
 * in-process and sequentially.
 *
 * Why: Criterion cannot start under ThreadSanitizer (its inheritable arena
 * mmap collides with TSan's address space; upstream issue Snaipe/Criterion
 * #274), yet the threaded tests are exactly the ones TSan must see. The TSan
 * build puts this directory first on the include path and links
 * tests/shim/shim.c instead of libcriterion, so the same test files run.
 *
 * cr_assert* failures print file:line and exit the process (they may fire
 * on a worker thread, where unwinding the test is impossible); cr_expect*
 * failures print and mark the test failed. The run ends with the line
 * "N passed, N failed" and a non-zero exit status on any failure.
 */
#ifndef TIDE_CRITERION_SHIM_H
#define TIDE_CRITERION_SHIM_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct shim_opts {
    void (*init)(void);
    void (*fini)(void);
    double timeout;
    bool disabled;
    const char *description;
};

void shim_register(const char *suite, const char *name, void (*fn)(void),
                   const struct shim_opts *opts);
void shim_register_suite(const char *suite, const struct shim_opts *opts);
void shim_fail(int fatal, const char *file, int line, const char *expr, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#define Test(suite, name, ...)                                                                     \
    static void suite##_##name##_impl(void);                                                       \
    static const struct shim_opts suite##_##name##_opts = {__VA_ARGS__};                           \
    __attribute__((constructor)) static void suite##_##name##_reg(void)                            \
    {                                                                                              \
        shim_register(#suite, #name, suite##_##name##_impl, &suite##_##name##_opts);               \
    }                                                                                              \
    static void suite##_##name##_impl(void)

#define TestSuite(suite, ...)                                                                      \
    static const struct shim_opts suite##_suite_opts = {__VA_ARGS__};                              \
    __attribute__((constructor)) static void suite##_suite_reg(void)                               \
    {                                                                                              \
        shim_register_suite(#suite, &suite##_suite_opts);                                          \
    }

/* An assertion without a message passes "" as its format: fine, not a bug
 * the warning should flag in every test file that includes this header. */
#pragma GCC diagnostic ignored "-Wformat-zero-length"

#define SHIM_CHECK(fatal, cond, text, ...)                                                         \
    do {                                                                                           \
        if (!(cond)) shim_fail(fatal, __FILE__, __LINE__, text, "" __VA_ARGS__);                   \
    } while (0)

#define cr_assert(c, ...)           SHIM_CHECK(1, (c), #c, __VA_ARGS__)
#define cr_expect(c, ...)           SHIM_CHECK(0, (c), #c, __VA_ARGS__)
#define cr_assert_not(c, ...)       SHIM_CHECK(1, !(c), "!(" #c ")", __VA_ARGS__)
#define cr_assert_fail(...)         SHIM_CHECK(1, 0, "fail", __VA_ARGS__)
#define cr_assert_eq(a, b, ...)     SHIM_CHECK(1, (a) == (b), #a " == " #b, __VA_ARGS__)
#define cr_expect_eq(a, b, ...)     SHIM_CHECK(0, (a) == (b), #a " == " #b, __VA_ARGS__)
#define cr_assert_neq(a, b, ...)    SHIM_CHECK(1, (a) != (b), #a " != " #b, __VA_ARGS__)
#define cr_assert_lt(a, b, ...)     SHIM_CHECK(1, (a) < (b), #a " < " #b, __VA_ARGS__)
#define cr_assert_leq(a, b, ...)    SHIM_CHECK(1, (a) <= (b), #a " <= " #b, __VA_ARGS__)
#define cr_assert_gt(a, b, ...)     SHIM_CHECK(1, (a) > (b), #a " > " #b, __VA_ARGS__)
#define cr_assert_geq(a, b, ...)    SHIM_CHECK(1, (a) >= (b), #a " >= " #b, __VA_ARGS__)
#define cr_assert_null(p, ...)      SHIM_CHECK(1, (p) == NULL, #p " == NULL", __VA_ARGS__)
#define cr_assert_not_null(p, ...)  SHIM_CHECK(1, (p) != NULL, #p " != NULL", __VA_ARGS__)
#define cr_expect_null(p, ...)      SHIM_CHECK(0, (p) == NULL, #p " == NULL", __VA_ARGS__)
#define cr_assert_str_eq(a, b, ...) SHIM_CHECK(1, strcmp((a), (b)) == 0, #a " eq " #b, __VA_ARGS__)
#define cr_expect_str_eq(a, b, ...) SHIM_CHECK(0, strcmp((a), (b)) == 0, #a " eq " #b, __VA_ARGS__)
#define cr_expect_str_empty(a, ...) SHIM_CHECK(0, (a)[0] == '\0', #a " is empty", __VA_ARGS__)
#define cr_expect_geq(a, b, ...)    SHIM_CHECK(0, (a) >= (b), #a " >= " #b, __VA_ARGS__)
#define cr_expect_leq(a, b, ...)    SHIM_CHECK(0, (a) <= (b), #a " <= " #b, __VA_ARGS__)

/* Logging and skipping: messages go to stderr (the shim has no report). */
#define cr_log_info(...)  (fprintf(stderr, __VA_ARGS__), fputc('\n', stderr))
#define cr_log_warn(...)  (fprintf(stderr, __VA_ARGS__), fputc('\n', stderr))
#define cr_log_error(...) (fprintf(stderr, __VA_ARGS__), fputc('\n', stderr))
#define cr_skip_test(...) (fprintf(stderr, "skipped: " __VA_ARGS__))

#endif /* TIDE_CRITERION_SHIM_H */
