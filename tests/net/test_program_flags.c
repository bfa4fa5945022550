/*
 * test_program_flags.c - the programs a user runs from the README answer
 * --help (usage on stdout, exit 0) and --version ("NAME (tide) VERSION",
 * exit 0) instead of running, reject malformed numbers with exit 2, and name
 * themselves in their error messages. The binaries live next to this one.
 */
#include <criterion/criterion.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tide/tide.h"

static char dir[PATH_MAX];
static char out_path[64], err_path[64];

static void setup(void)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    cr_assert(n > 0);
    self[n] = '\0';
    snprintf(dir, sizeof dir, "%s", dirname(self));
    snprintf(out_path, sizeof out_path, "/tmp/tide_flags_%d.out", (int)getpid());
    snprintf(err_path, sizeof err_path, "/tmp/tide_flags_%d.err", (int)getpid());
}

static void teardown(void)
{
    unlink(out_path);
    unlink(err_path);
}

TestSuite(program_flags, .init = setup, .fini = teardown, .timeout = 60);

/* Run build-dir program @prog with @args (shell syntax, stdin empty); its
 * exit code. A program that would run its demo instead is stopped at 10 s. */
static int run(const char *prog, const char *args)
{
    char cmd[PATH_MAX + 4096];
    snprintf(cmd, sizeof cmd, "timeout 10 '%s/%s' %s </dev/null >%s 2>%s", dir, prog, args,
             out_path, err_path);
    int st = system(cmd);
    cr_assert(WIFEXITED(st), "%s", cmd);
    return WEXITSTATUS(st);
}

static char *slurp(const char *path)
{
    static char buf[2][16384];
    static int which;
    char *b = buf[which ^= 1];
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    size_t n = fread(b, 1, sizeof buf[0] - 1, f);
    b[n] = '\0';
    fclose(f);
    return b;
}

static const char *const programs[] = {"bfs",
                                       "reachability",
                                       "failcheck",
                                       "netcheck",
                                       "wordcount",
                                       "tutorial_1_map",
                                       "tutorial_2_count",
                                       "tutorial_3_join",
                                       "tutorial_4_bfs",
                                       "tutorial_5_stall",
                                       "tide-log",
                                       "tide-gen-factory"};

Test(program_flags, help_and_version)
{
    for (size_t i = 0; i < sizeof programs / sizeof programs[0]; i++) {
        const char *p = programs[i];
        cr_expect_eq(run(p, "--help"), 0, "%s --help", p);
        char want[128];
        snprintf(want, sizeof want, "usage: %s ", p);
        cr_expect(strncmp(slurp(out_path), want, strlen(want)) == 0, "%s --help printed '%s'", p,
                  slurp(out_path));
        cr_expect_eq(run(p, "--version"), 0, "%s --version", p);
        snprintf(want, sizeof want, "%s (tide) %s\n", p, TIDE_VERSION);
        cr_expect_str_eq(slurp(out_path), want, "%s --version", p);
        cr_expect_str_eq(slurp(err_path), "", "%s --version wrote to stderr", p);
    }
}

/* tide-gen-factory @args: exit 2 with exactly @msg on stderr's first line. */
static void gen_rejects(const char *args, const char *msg)
{
    cr_expect_eq(run("tide-gen-factory", args), 2, "tide-gen-factory %s", args);
    char *err = slurp(err_path);
    err[strcspn(err, "\n")] = 0;
    cr_expect_str_eq(err, msg, "tide-gen-factory %s", args);
    cr_expect_str_eq(slurp(out_path), "", "tide-gen-factory %s wrote events", args);
}

Test(program_flags, gen_factory_numbers_and_messages)
{
    gen_rejects("--events -5", "tide-gen-factory: --events: '-5' is not a non-negative integer");
    gen_rejects("--events abc", "tide-gen-factory: --events: 'abc' is not a non-negative integer");
    gen_rejects("--events 10x", "tide-gen-factory: --events: '10x' is not a non-negative integer");
    gen_rejects("--events ' 7'", "tide-gen-factory: --events: ' 7' is not a non-negative integer");
    gen_rejects("--events 18446744073709551616",
                "tide-gen-factory: --events: '18446744073709551616' is out of range (0 to "
                "18446744073709551615)");
    gen_rejects("--machines 2x",
                "tide-gen-factory: --machines: '2x' is not a non-negative integer");
    gen_rejects("--workers -1", "tide-gen-factory: --workers: '-1' is not a non-negative integer");
    gen_rejects("--machines 0",
                "tide-gen-factory: --machines: '0' is out of range (1 to 4294967295)");
    gen_rejects("--orders 4294967296",
                "tide-gen-factory: --orders: '4294967296' is out of range (1 to 4294967295)");
    gen_rejects("--format xml", "tide-gen-factory: --format: 'xml' is not jsonl or msgpack");
    gen_rejects("--evnts 5", "tide-gen-factory: unknown argument '--evnts'");
    gen_rejects("--events", "tide-gen-factory: --events needs a value");
    cr_expect_eq(run("tide-gen-factory", "-o /nonexistent/dir/log"), 1);
    cr_expect(strncmp(slurp(err_path), "tide-gen-factory: /nonexistent/dir/log: ", 40) == 0,
              "-o failure: '%s'", slurp(err_path));
    /* Valid numbers still work: exactly E lines of JSON. */
    cr_expect_eq(run("tide-gen-factory", "--events 7 --machines 2 --workers 3 --seed 9"), 0);
    char *out = slurp(out_path);
    int lines = 0;
    for (char *c = out; *c; c++) lines += *c == '\n';
    cr_expect_eq(lines, 7, "'%s'", out);
}

Test(program_flags, errors_name_the_program)
{
    cr_expect_eq(run("wordcount", "/nonexistent/words"), 1);
    cr_expect(strstr(slurp(err_path), "wordcount: /nonexistent/words: ") != NULL, "'%s'",
              slurp(err_path));
    cr_expect_eq(run("tide-log", ""), 2);
    cr_expect(strncmp(slurp(err_path), "usage: tide-log", 15) == 0, "'%s'", slurp(err_path));
}
