/*
 * test_launcher.c - tide-cluster, run as a program: prefixes, argument
 * passing, exit codes, stopping the others when one child fails.
 * The binary is found next to this test binary (both live in the build dir).
 */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cluster_run.h"
#include "proc.h"

static char launcher[PATH_MAX];
static tide_test_proc pr;

static void setup(void)
{
    snprintf(launcher, sizeof launcher, "%s", tide_test_bin("tide-cluster"));
    cr_assert_eq(access(launcher, X_OK), 0, "no %s", launcher);
    tide_test_proc_init(&pr, "launch");
}

static void teardown(void)
{
    tide_test_proc_fini(&pr);
}

TestSuite(launcher, .init = setup, .fini = teardown, .timeout = 30);

/* Run tide-cluster with @args (shell syntax); its exit code. */
static int run(const char *args)
{
    int rc = tide_test_proc_run(&pr, "'%s' %s", launcher, args);
    cr_assert(rc >= 0, "%s %s", launcher, args);
    return rc;
}

#define EXPECT_HAS(text, want) cr_expect(strstr(text, want) != NULL, "'%s' lacks '%s'", text, want)

Test(launcher, prefixes_lines_by_process)
{
    int rc = run("-n 2 -- /bin/sh -c 'echo hi; echo oops >&2; printf \"no newline\"' sh");
    cr_expect_eq(rc, 0);
    char *out = tide_test_proc_out(&pr), *err = tide_test_proc_err(&pr);
    EXPECT_HAS(out, "[0] hi\n");
    EXPECT_HAS(out, "[1] hi\n");
    EXPECT_HAS(out, "[0] no newline\n");
    EXPECT_HAS(out, "[1] no newline\n");
    EXPECT_HAS(err, "[0] oops\n");
    EXPECT_HAS(err, "[1] oops\n");
    cr_expect(strstr(out, "oops") == NULL, "stderr stays on stderr");
}

Test(launcher, prefix_option)
{
    const char *prog = "-- /bin/sh -c 'echo \"line $6\"; echo \"err $6\" >&2' sh";
    char args[512];
    snprintf(args, sizeof args, "-n 2 --prefix=none %s", prog);
    cr_expect_eq(run(args), 0);
    char *out = tide_test_proc_out(&pr), *err = tide_test_proc_err(&pr);
    /* Exactly the children's lines, unchanged, in some order. */
    cr_expect(strcmp(out, "line 0\nline 1\n") == 0 || strcmp(out, "line 1\nline 0\n") == 0,
              "stdout: '%s'", out);
    cr_expect(strcmp(err, "err 0\nerr 1\n") == 0 || strcmp(err, "err 1\nerr 0\n") == 0,
              "stderr: '%s'", err);
    snprintf(args, sizeof args, "-n 2 --prefix process %s", prog);
    cr_expect_eq(run(args), 0);
    out = tide_test_proc_out(&pr);
    EXPECT_HAS(out, "[0] line 0\n");
    EXPECT_HAS(out, "[1] line 1\n");
    snprintf(args, sizeof args, "-n 2 %s", prog); /* the default */
    cr_expect_eq(run(args), 0);
    EXPECT_HAS(tide_test_proc_out(&pr), "[1] line 1\n");
    snprintf(args, sizeof args, "-n 2 --prefix=host %s", prog);
    cr_expect_eq(run(args), 2);
    EXPECT_HAS(tide_test_proc_err(&pr), "'host'");
    cr_expect_eq(run("-n 2 --stall-timeout 250 -- /bin/sh -c 'echo \"$*\"' sh"), 0);
    EXPECT_HAS(tide_test_proc_out(&pr), "--stall-timeout 250");
}

Test(launcher, passes_cluster_flags)
{
    int rc = run("-n 3 -w 2 --port 3100 -- /bin/sh -c 'echo \"args: $*\"' sh a -- b");
    cr_expect_eq(rc, 0);
    char *out = tide_test_proc_out(&pr);
    EXPECT_HAS(out, "[0] args: a -n 3 -w 2 -p 0 --port 3100 -- b\n");
    EXPECT_HAS(out, "[2] args: a -n 3 -w 2 -p 2 --port 3100 -- b\n");
}

Test(launcher, first_failure_wins_and_stops_the_rest)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    /* Process 1 fails with 3; the others would sleep for 20 s. */
    int rc = run("-n 3 -- /bin/sh -c '[ \"$6\" = 1 ] && exit 3; exec sleep 20' sh");
    clock_gettime(CLOCK_MONOTONIC, &b);
    cr_expect_eq(rc, 3);
    double secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    cr_expect(secs < 10, "the sleepers were stopped (took %.1f s)", secs);
    cr_expect(run("-n 2 -- /bin/sh -c 'exit 0'") == 0);
    cr_expect(run("-n 2 -- /bin/sh -c 'kill -9 $$'") == 128 + 9);
}

Test(launcher, usage_and_version)
{
    cr_expect_eq(run("--version"), 0);
    EXPECT_HAS(tide_test_proc_out(&pr), "tide-cluster (tide) 0.1.0");
    cr_expect_eq(run("--help"), 0);
    EXPECT_HAS(tide_test_proc_out(&pr), "Usage: tide-cluster");
    cr_expect_eq(run("-n 2 true"), 2);
    EXPECT_HAS(tide_test_proc_err(&pr), "missing '--'");
    cr_expect_eq(run("-n 2 --"), 2);
    cr_expect_eq(run("-w x -- true"), 2);
    EXPECT_HAS(tide_test_proc_err(&pr), "'x'");
    cr_expect_eq(run("-p 1 -- true"), 2);
    cr_expect_eq(run("--bogus -- true"), 2);
    EXPECT_HAS(tide_test_proc_err(&pr), "--bogus");
    cr_expect_eq(run("-n 1 -- /nonexistent/prog"), 127);
    EXPECT_HAS(tide_test_proc_err(&pr), "[0] tide-cluster: cannot run '/nonexistent/prog'");
}
