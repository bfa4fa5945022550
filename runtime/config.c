/*
 * config.c - timely's cluster flags (-w -n -p -h --port ...) parsed out of argv.
 *
 * Parsing runs twice over argv: the first pass reads and validates every
 * flag into a scratch config, the second removes the flags from argv. So on
 * error neither @argv nor the caller's config has changed. Depends only on
 * tide/error.h; allocates nothing.
 */
#include <stdio.h>
#include <string.h>

#include "tide/config.h"

#define DEFAULT_PORT            2101
#define DEFAULT_PEER_TIMEOUT_MS 10000
#define DEFAULT_STALL_MS        10000

void tide_config_init(tide_config *c)
{
    memset(c, 0, sizeof *c);
    c->workers = 1;
    c->processes = 1;
    c->process = 0;
    c->base_port = DEFAULT_PORT;
    c->pin = 1;
    c->verbose = 0;
    c->peer_timeout_ms = DEFAULT_PEER_TIMEOUT_MS;
    c->stall_timeout_ms = DEFAULT_STALL_MS;
}

const char *tide_config_usage(void)
{
    return "Cluster options (every dataflow program):\n"
           "  -w, --workers W        worker threads per process (default 1)\n"
           "  -n, --processes N      processes (default 1)\n"
           "  -p, --process I        this process's index, 0..N-1 (default 0)\n"
           "  -h, --hostfile FILE    line i is \"host:port\" of process i\n"
           "      --port P           base port without a hosts file (default 2101):\n"
           "                         process i listens on 127.0.0.1:(P + i)\n"
           "      --no-pin           do not pin worker threads to cores\n"
           "      --peer-timeout MS  give up on a silent peer after MS ms (default 10000)\n"
           "      --keys FILE        the cluster's key file (tide keygen): CURVE on every\n"
           "                         socket, only its holders connect; required when any\n"
           "                         address is not loopback\n"
           "      --stall-timeout MS tide_worker_step_until reports what holds a dataflow\n"
           "                         back after MS ms without progress (default 10000, 0 = off)\n"
           "  -v, --verbose          print the topology and pinning to stderr\n"
           "Options after \"--\" are left to the program.\n";
}

/* ------------------------------------------------------------------------ */
/* The flag table                                                           */
/* ------------------------------------------------------------------------ */

enum flag_id {
    F_WORKERS,
    F_PROCESSES,
    F_PROCESS,
    F_HOSTFILE,
    F_PORT,
    F_NOPIN,
    F_TIMEOUT,
    F_VERBOSE,
    F_KEYS,
    F_STALL
};

typedef struct flag {
    enum flag_id id;
    char short_name; /* 0: long form only */
    const char *long_name;
    int takes_value;
} flag;

static const flag flags[] = {
    {F_WORKERS, 'w', "workers", 1},
    {F_PROCESSES, 'n', "processes", 1},
    {F_PROCESS, 'p', "process", 1},
    {F_HOSTFILE, 'h', "hostfile", 1},
    {F_PORT, 0, "port", 1},
    {F_NOPIN, 0, "no-pin", 0},
    {F_TIMEOUT, 0, "peer-timeout", 1},
    {F_VERBOSE, 'v', "verbose", 0},
    {F_KEYS, 0, "keys", 1},
    {F_STALL, 0, "stall-timeout", 1},
};
#define NFLAGS (sizeof flags / sizeof flags[0])

/* parse_u32 - a decimal number: digits only (no sign, space or junk), at
 * most @max. 0 on success, -1 on anything else. */
static int parse_u32(const char *s, uint64_t max, uint32_t *out)
{
    uint64_t v = 0;
    if (*s == '\0') return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return -1;
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > max) return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

/*
 * match - does argv[i] start one of our flags? Returns the number of argv
 * entries it spans (1 or 2) and sets *@f and *@val (NULL for switches), 0
 * when argv[i] is not ours, or a negative code when the flag is malformed.
 * @shown is the flag as the user typed it, for messages.
 */
static int match(int argc, char **argv, int i, const flag **f, const char **val, char *shown,
                 size_t shown_size, tide_error *e)
{
    const char *a = argv[i];
    *val = NULL;
    if (a[0] != '-' || a[1] == '\0') return 0;
    if (a[1] == '-') {
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t n = eq ? (size_t)(eq - name) : strlen(name);
        for (size_t k = 0; k < NFLAGS; k++) {
            if (strlen(flags[k].long_name) != n || memcmp(flags[k].long_name, name, n) != 0)
                continue;
            *f = &flags[k];
            snprintf(shown, shown_size, "--%s", flags[k].long_name);
            if (!flags[k].takes_value) {
                if (eq)
                    return tide_err_set(e, TIDE_EINVAL, "option '%s' takes no value (got '%s')",
                                        shown, eq + 1);
                return 1;
            }
            if (eq) {
                *val = eq + 1;
                return 1;
            }
            if (i + 1 >= argc || argv[i + 1] == NULL)
                return tide_err_set(e, TIDE_EINVAL, "option '%s' needs a value", shown);
            *val = argv[i + 1];
            return 2;
        }
        return 0; /* someone else's long option */
    }
    for (size_t k = 0; k < NFLAGS; k++) {
        if (flags[k].short_name != a[1]) continue;
        *f = &flags[k];
        snprintf(shown, shown_size, "-%c", a[1]);
        if (!flags[k].takes_value) {
            if (a[2] != '\0') return 0; /* "-vx": not ours, leave it */
            return 1;
        }
        if (a[2] != '\0') {
            *val = a + 2;
            return 1;
        }
        if (i + 1 >= argc || argv[i + 1] == NULL)
            return tide_err_set(e, TIDE_EINVAL, "option '%s' needs a value", shown);
        *val = argv[i + 1];
        return 2;
    }
    return 0;
}

/* A file name flag's value into @dst (@size bytes). */
static int set_path(char *dst, size_t size, const char *shown, const char *val, tide_error *e)
{
    size_t n = strlen(val);
    if (n == 0) return tide_err_set(e, TIDE_EINVAL, "option '%s': empty file name", shown);
    if (n >= size)
        return tide_err_set(e, TIDE_EINVAL,
                            "option '%s': file name of %zu bytes is longer than %zu", shown, n,
                            size - 1);
    memcpy(dst, val, n + 1);
    return TIDE_OK;
}

static int apply(tide_config *c, const flag *f, const char *shown, const char *val, tide_error *e)
{
    uint32_t v;
    switch (f->id) {
    case F_WORKERS:
    case F_PROCESSES:
    case F_PROCESS:
        if (parse_u32(val, UINT32_MAX, &v) < 0)
            return tide_err_set(e, TIDE_EINVAL, "option '%s': '%s' is not a number in 0..%u", shown,
                                val, UINT32_MAX);
        if (f->id == F_WORKERS) c->workers = v;
        if (f->id == F_PROCESSES) c->processes = v;
        if (f->id == F_PROCESS) c->process = v;
        return TIDE_OK;
    case F_PORT:
        if (parse_u32(val, 65535, &v) < 0 || v == 0)
            return tide_err_set(e, TIDE_EINVAL, "option '%s': '%s' is not a port in 1..65535",
                                shown, val);
        c->base_port = (uint16_t)v;
        return TIDE_OK;
    case F_TIMEOUT:
        if (parse_u32(val, UINT32_MAX, &v) < 0 || v == 0)
            return tide_err_set(e, TIDE_EINVAL,
                                "option '%s': '%s' is not a timeout in milliseconds (1..%u)", shown,
                                val, UINT32_MAX);
        c->peer_timeout_ms = v;
        return TIDE_OK;
    case F_HOSTFILE:
        return set_path(c->hostfile, sizeof c->hostfile, shown, val, e);
    case F_KEYS:
        return set_path(c->keys, sizeof c->keys, shown, val, e);
    case F_NOPIN:
        c->pin = 0;
        return TIDE_OK;
    case F_VERBOSE:
        c->verbose = 1;
        return TIDE_OK;
    case F_STALL:
        if (parse_u32(val, UINT32_MAX, &v) < 0)
            return tide_err_set(e, TIDE_EINVAL,
                                "option '%s': '%s' is not a time in milliseconds (0..%u, 0 = off)",
                                shown, val, UINT32_MAX);
        c->stall_timeout_ms = v;
        return TIDE_OK;
    }
    return TIDE_OK;
}

static int validate(const tide_config *c, tide_error *e)
{
    if (c->workers < 1)
        return tide_err_set(e, TIDE_EINVAL, "option '-w': %u workers, need at least 1", c->workers);
    if (c->processes < 1)
        return tide_err_set(e, TIDE_EINVAL, "option '-n': %u processes, need at least 1",
                            c->processes);
    if (c->processes > TIDE_MAX_PROCESSES)
        return tide_err_set(e, TIDE_EINVAL, "option '-n': %u processes, at most %u supported",
                            c->processes, TIDE_MAX_PROCESSES);
    if (c->process >= c->processes)
        return tide_err_set(e, TIDE_EINVAL,
                            "option '-p': process index %u is not below the %u process%s of -n",
                            c->process, c->processes, c->processes == 1 ? "" : "es");
    if ((uint64_t)c->processes * c->workers > TIDE_MAX_WORKERS)
        return tide_err_set(e, TIDE_EINVAL,
                            "options '-n %u -w %u': %llu workers in all, at most %u supported",
                            c->processes, c->workers, (unsigned long long)c->processes * c->workers,
                            TIDE_MAX_WORKERS);
    if (c->hostfile[0] == '\0' && (uint32_t)c->base_port + c->processes - 1 > 65535)
        return tide_err_set(
            e, TIDE_EINVAL, "option '--port %u': ports %u..%u for %u processes exceed 65535",
            c->base_port, c->base_port, c->base_port + c->processes - 1, c->processes);
    return TIDE_OK;
}

static void default_job(tide_config *c, const char *argv0)
{
    if (c->job[0] != '\0' || argv0 == NULL) return;
    const char *slash = strrchr(argv0, '/');
    const char *base = slash ? slash + 1 : argv0;
    if (*base == '\0') base = "tide";
    snprintf(c->job, sizeof c->job, "%s", base);
}

int tide_config_parse(tide_config *c, int *argc, char **argv, tide_error *e)
{
    tide_config tmp = *c;
    int n = *argc;
    char shown[32];
    const flag *f;
    const char *val;

    /* Pass 1: read and validate; nothing is modified yet. */
    for (int i = 1; i < n && argv[i] != NULL; i++) {
        if (strcmp(argv[i], "--") == 0) break;
        int span = match(n, argv, i, &f, &val, shown, sizeof shown, e);
        if (span < 0) return span;
        if (span == 0) continue;
        TIDE_TRY(apply(&tmp, f, shown, val, e));
        i += span - 1;
    }
    TIDE_TRY(validate(&tmp, e));
    default_job(&tmp, n > 0 ? argv[0] : NULL);

    /* Pass 2: drop the flags, keep everything else in order ("--" too, so
     * that the program's own parser also stops there). */
    int out = n > 0 ? 1 : 0, i = out, stop = 0;
    while (i < n && argv[i] != NULL) {
        int span = 0;
        if (!stop && strcmp(argv[i], "--") == 0) stop = 1;
        if (!stop) span = match(n, argv, i, &f, &val, shown, sizeof shown, NULL);
        if (span > 0) {
            i += span;
            continue;
        }
        argv[out++] = argv[i++];
    }
    while (i < n) argv[out++] = argv[i++]; /* entries after a NULL, untouched */
    if (out < n) argv[out] = NULL;
    *argc = out;
    *c = tmp;
    return TIDE_OK;
}
