/*
 * main.c - tide-gen-factory: write a realistic factory event log.
 *
 *   tide-gen-factory --machines M --workers K --orders O --events E
 *                    --seed S --skew-ms D [--format jsonl|msgpack] [-o FILE]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"
#include "tide/tide.h"

#define PROG "tide-gen-factory"

static void usage(FILE *f)
{
    fprintf(f, "usage: " PROG " [--machines M] [--workers K] [--orders O] [--events E]\n"
               "       [--seed S] [--skew-ms D] [--format jsonl|msgpack] [-o FILE]\n"
               "Write a factory event log (stdout without -o): machines set up, started and\n"
               "stopped per order, workers' produced counts and 'finished' reports, device\n"
               "clocks skewed by up to D ms, written in wall-clock order.\n"
               "      --help     display this help and exit\n"
               "      --version  output version information and exit\n");
}

/* @v as a decimal integer in [@min, @max]: digits only (no sign, no blanks,
 * nothing after), so that "-5" does not wrap and "10x" is not taken as 10.
 * 0, or -1 after printing why on stderr. */
static int parse_u64(const char *flag, const char *v, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long x = v[0] >= '0' && v[0] <= '9' ? strtoull(v, &end, 10) : 0;
    if (v[0] < '0' || v[0] > '9' || *end != 0) {
        fprintf(stderr, PROG ": %s: '%s' is not a non-negative integer\n", flag, v);
        return -1;
    }
    if (errno == ERANGE || x < min || x > max) {
        fprintf(stderr, PROG ": %s: '%s' is out of range (%llu to %llu)\n", flag, v,
                (unsigned long long)min, (unsigned long long)max);
        return -1;
    }
    *out = x;
    return 0;
}

static int parse_u32(const char *flag, const char *v, uint64_t min, uint32_t *out)
{
    uint64_t x;
    if (parse_u64(flag, v, min, UINT32_MAX, &x) < 0) return -1;
    *out = (uint32_t)x;
    return 0;
}

/* One "--flag VALUE" into @o / @out. 0, or 2 (usage error, printed). */
static int set_flag(fx_gen_opts *o, const char **out, const char *a, const char *v)
{
    int rc = 0;
    if (strcmp(a, "--machines") == 0)
        rc = parse_u32(a, v, 1, &o->machines);
    else if (strcmp(a, "--workers") == 0)
        rc = parse_u32(a, v, 1, &o->workers);
    else if (strcmp(a, "--orders") == 0)
        rc = parse_u32(a, v, 1, &o->orders);
    else if (strcmp(a, "--events") == 0)
        rc = parse_u64(a, v, 0, UINT64_MAX, &o->events);
    else if (strcmp(a, "--seed") == 0)
        rc = parse_u64(a, v, 0, UINT64_MAX, &o->seed);
    else if (strcmp(a, "--skew-ms") == 0)
        rc = parse_u32(a, v, 0, &o->skew_ms);
    else if (strcmp(a, "--format") == 0) {
        if (strcmp(v, "jsonl") != 0 && strcmp(v, "msgpack") != 0) {
            fprintf(stderr, PROG ": --format: '%s' is not jsonl or msgpack\n", v);
            return 2;
        }
        o->msgpack = strcmp(v, "msgpack") == 0;
    } else if (strcmp(a, "-o") == 0)
        *out = v;
    return rc < 0 ? 2 : 0;
}

static int is_flag(const char *a)
{
    static const char *const flags[] = {"--machines", "--workers", "--orders", "--events",
                                        "--seed",     "--skew-ms", "--format", "-o"};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (strcmp(a, flags[i]) == 0) return 1;
    return 0;
}

int main(int argc, char **argv)
{
    fx_gen_opts o = {
        .machines = 4, .workers = 4, .orders = 20, .events = 1000, .seed = 1, .skew_ms = 2000};
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--version") == 0) {
            printf(PROG " (tide) %s\n", TIDE_VERSION);
            return 0;
        }
        if (!is_flag(a)) {
            fprintf(stderr, PROG ": unknown argument '%s'\nTry '" PROG " --help'.\n", a);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, PROG ": %s needs a value\n", a);
            return 2;
        }
        int rc = set_flag(&o, &out, a, argv[++i]);
        if (rc) return rc;
    }
    FILE *f = out ? fopen(out, "wb") : stdout;
    if (f == NULL) {
        fprintf(stderr, PROG ": %s: %s\n", out, strerror(errno));
        return 1;
    }
    static char buf[1 << 20];
    setvbuf(f, buf, _IOFBF, sizeof buf);
    int rc = fx_gen(&o, f);
    if (out && fclose(f) != 0) rc = -1;
    if (rc < 0) {
        fprintf(stderr, PROG ": write error\n");
        return 1;
    }
    return 0;
}
