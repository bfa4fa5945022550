/*
 * test_program_flags.c - the programs a user runs from the README answer
 * --help (usage on stdout, exit 0) and --version ("NAME (tide) VERSION",
 * exit 0) instead of running, reject malformed numbers with exit 2, and name
 * themselves in their error messages. The binaries live next to this one.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster_run.h"
#include "proc.h"
#include "tide/tide.h"

static tide_test_proc pr;

static void setup(void)
{
    tide_test_proc_init(&pr, "flags");
}

static void teardown(void)
{
    tide_test_proc_fini(&pr);
}

TestSuite(program_flags, .init = setup, .fini = teardown, .timeout = 60);

/* Run build-dir program @prog with @args (shell syntax, stdin empty); its
 * exit code. A program that would run its demo instead is stopped at 10 s. */
static int run(const char *prog, const char *args)
{
    int rc = tide_test_proc_run(&pr, "timeout 10 '%s' %s </dev/null", tide_test_bin(prog), args);
    cr_assert(rc >= 0, "%s %s", prog, args);
    return rc;
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
        cr_expect(strncmp(tide_test_proc_out(&pr), want, strlen(want)) == 0,
                  "%s --help printed '%s'", p, tide_test_proc_out(&pr));
        cr_expect_eq(run(p, "--version"), 0, "%s --version", p);
        snprintf(want, sizeof want, "%s (tide) %s\n", p, TIDE_VERSION);
        cr_expect_str_eq(tide_test_proc_out(&pr), want, "%s --version", p);
        cr_expect_str_eq(tide_test_proc_err(&pr), "", "%s --version wrote to stderr", p);
    }
}

/* tide-gen-factory @args: exit 2 with exactly @msg on stderr's first line. */
static void gen_rejects(const char *args, const char *msg)
{
    cr_expect_eq(run("tide-gen-factory", args), 2, "tide-gen-factory %s", args);
    char *err = tide_test_proc_err(&pr);
    err[strcspn(err, "\n")] = 0;
    cr_expect_str_eq(err, msg, "tide-gen-factory %s", args);
    cr_expect_str_eq(tide_test_proc_out(&pr), "", "tide-gen-factory %s wrote events", args);
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
    cr_expect(strncmp(tide_test_proc_err(&pr), "tide-gen-factory: /nonexistent/dir/log: ", 40) == 0,
              "-o failure: '%s'", tide_test_proc_err(&pr));
    /* Valid numbers still work: exactly E lines of JSON. */
    cr_expect_eq(run("tide-gen-factory", "--events 7 --machines 2 --workers 3 --seed 9"), 0);
    char *out = tide_test_proc_out(&pr);
    int lines = 0;
    for (char *c = out; *c; c++) lines += *c == '\n';
    cr_expect_eq(lines, 7, "'%s'", out);
}

Test(program_flags, errors_name_the_program)
{
    cr_expect_eq(run("wordcount", "/nonexistent/words"), 1);
    cr_expect(strstr(tide_test_proc_err(&pr), "wordcount: /nonexistent/words: ") != NULL, "'%s'",
              tide_test_proc_err(&pr));
    cr_expect_eq(run("tide-log", ""), 2);
    cr_expect(strncmp(tide_test_proc_err(&pr), "usage: tide-log", 15) == 0, "'%s'",
              tide_test_proc_err(&pr));
}
