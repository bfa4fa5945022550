/*
 * test_config.c - the cluster flags: forms, leftovers, "--", validation.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "tide/config.h"

#define ARGV(...)                                                                                  \
    char *argv[] = {__VA_ARGS__, NULL};                                                            \
    int argc = (int)(sizeof argv / sizeof argv[0]) - 1

static tide_config c;
static tide_error e;

static void setup(void)
{
    tide_config_init(&c);
    tide_err_clear(&e);
}

TestSuite(config, .init = setup);

Test(config, defaults)
{
    cr_expect_eq(c.workers, 1);
    cr_expect_eq(c.processes, 1);
    cr_expect_eq(c.process, 0);
    cr_expect_eq(c.base_port, 2101);
    cr_expect_eq(c.pin, 1);
    cr_expect_eq(c.verbose, 0);
    cr_expect_eq(c.peer_timeout_ms, 10000);
    cr_expect_str_empty(c.hostfile);
}

Test(config, short_and_long_forms)
{
    ARGV("/usr/bin/wordcount", "-w", "2", "-n3", "--process=1", "--hostfile", "hosts.txt", "--port",
         "3000", "--no-pin", "-v", "--peer-timeout=500");
    cr_assert_eq(tide_config_parse(&c, &argc, argv, &e), TIDE_OK, "%s", e.msg);
    cr_expect_eq(c.workers, 2);
    cr_expect_eq(c.processes, 3);
    cr_expect_eq(c.process, 1);
    cr_expect_str_eq(c.hostfile, "hosts.txt");
    cr_expect_eq(c.base_port, 3000);
    cr_expect_eq(c.pin, 0);
    cr_expect_eq(c.verbose, 1);
    cr_expect_eq(c.peer_timeout_ms, 500);
    cr_expect_str_eq(c.job, "wordcount");
    cr_expect_eq(argc, 1);
    cr_expect_null(argv[1]);
}

Test(config, leaves_other_args_in_order)
{
    ARGV("prog", "input.txt", "-w2", "--limit", "5", "-x", "--workers", "4", "out");
    cr_assert_eq(tide_config_parse(&c, &argc, argv, &e), TIDE_OK, "%s", e.msg);
    cr_expect_eq(c.workers, 4);
    cr_assert_eq(argc, 6);
    const char *want[] = {"prog", "input.txt", "--limit", "5", "-x", "out"};
    for (int i = 0; i < 6; i++) cr_expect_str_eq(argv[i], want[i]);
    cr_expect_null(argv[6]);
}

Test(config, stops_at_double_dash)
{
    ARGV("prog", "-w", "2", "--", "-w", "3", "-n", "9");
    cr_assert_eq(tide_config_parse(&c, &argc, argv, &e), TIDE_OK, "%s", e.msg);
    cr_expect_eq(c.workers, 2);
    cr_expect_eq(c.processes, 1);
    cr_assert_eq(argc, 6);
    cr_expect_str_eq(argv[1], "--");
    cr_expect_str_eq(argv[2], "-w");
    cr_expect_str_eq(argv[5], "9");
}

Test(config, job_keeps_preset_and_defaults_to_basename)
{
    ARGV("./bin/bfs");
    cr_assert_eq(tide_config_parse(&c, &argc, argv, &e), TIDE_OK);
    cr_expect_str_eq(c.job, "bfs");
    tide_config_init(&c);
    strcpy(c.job, "custom");
    cr_assert_eq(tide_config_parse(&c, &argc, argv, &e), TIDE_OK);
    cr_expect_str_eq(c.job, "custom");
}

/* Each bad command line: the error code, and words the message must hold. */
static void expect_error(int argc, char **argv, const char *flag, const char *value)
{
    tide_config before;
    tide_config_init(&c);
    c.workers = 7; /* a non-default, to see it is left alone */
    before = c;
    char *copy[16];
    memcpy(copy, argv, sizeof(char *) * (size_t)(argc + 1));
    int n = argc;
    int rc = tide_config_parse(&c, &n, argv, &e);
    cr_assert_eq(rc, TIDE_EINVAL, "argv[1]=%s: rc %d", argv[1], rc);
    cr_expect_eq(e.code, TIDE_EINVAL);
    cr_expect(strstr(e.msg, flag) != NULL, "message '%s' should name '%s'", e.msg, flag);
    if (value)
        cr_expect(strstr(e.msg, value) != NULL, "message '%s' should name '%s'", e.msg, value);
    cr_expect_eq(n, argc, "argc unchanged on error");
    cr_expect(memcmp(copy, argv, sizeof(char *) * (size_t)argc) == 0, "argv unchanged on error");
    cr_expect(memcmp(&before, &c, sizeof c) == 0, "config unchanged on error");
}

#define EXPECT_ERROR(flag, value, ...)                                                             \
    do {                                                                                           \
        ARGV("prog", __VA_ARGS__);                                                                 \
        expect_error(argc, argv, flag, value);                                                     \
    } while (0)

Test(config, errors_name_flag_and_value)
{
    EXPECT_ERROR("-w", "0", "-w", "0");
    EXPECT_ERROR("-w", "2x", "-w2x");
    EXPECT_ERROR("-w", "-1", "-w", "-1");
    EXPECT_ERROR("--workers", "+2", "--workers=+2");
    EXPECT_ERROR("--workers", " 2", "--workers", " 2");
    EXPECT_ERROR("-w", "99999999999", "-w", "99999999999");
    EXPECT_ERROR("-w", NULL, "-w");
    EXPECT_ERROR("--workers", NULL, "--workers");
    EXPECT_ERROR("-n", "0", "-n0");
    EXPECT_ERROR("-n", "65", "-n", "65");
    EXPECT_ERROR("-p", "2", "-n", "2", "-p", "2");
    EXPECT_ERROR("-p", "1", "-p", "1");
    EXPECT_ERROR("-n 64 -w 5", "320", "-n", "64", "-w", "5");
    EXPECT_ERROR("--port", "0", "--port=0");
    EXPECT_ERROR("--port", "65536", "--port", "65536");
    EXPECT_ERROR("--port", "65535", "--port", "65535", "-n", "2");
    EXPECT_ERROR("--peer-timeout", "0", "--peer-timeout", "0");
    EXPECT_ERROR("--no-pin", "x", "--no-pin=x");
    EXPECT_ERROR("--hostfile", "empty", "--hostfile=");
}

Test(config, hostfile_length)
{
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    ARGV("prog", "-h", longname);
    expect_error(argc, argv, "-h", "299");
    char ok[256];
    memset(ok, 'b', 255);
    ok[255] = '\0';
    char *argv2[] = {"prog", "-h", ok, NULL};
    int n = 3;
    tide_config_init(&c);
    cr_assert_eq(tide_config_parse(&c, &n, argv2, &e), TIDE_OK, "%s", e.msg);
    cr_expect_str_eq(c.hostfile, ok);
}

Test(config, limits_accepted)
{
    ARGV("prog", "-n", "64", "-w", "4", "-p", "63", "--port", "65472");
    cr_assert_eq(tide_config_parse(&c, &argc, argv, &e), TIDE_OK, "%s", e.msg);
    cr_expect_eq(c.processes * c.workers, 256);
}

Test(config, usage_mentions_every_flag)
{
    const char *u = tide_config_usage();
    const char *want[] = {"--workers", "--processes", "--process",      "--hostfile",
                          "--port",    "--no-pin",    "--peer-timeout", "--verbose"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_expect(strstr(u, want[i]) != NULL, "usage lacks %s", want[i]);
}
