/*
 * args.c - tide-export's arguments (export.h), shared by the program
 * (main.c) and the cluster job (apps/jobs/exporter.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "export.h"
#include "window.h"

/* A whole number in [@min, @max] from all of @s into *@v; else an error
 * naming @flag. */
static int number(const char *flag, const char *s, uint64_t min, uint64_t max, uint64_t *v,
                  tide_error *e)
{
    char *end;
    errno = 0;
    unsigned long long n = s[0] >= '0' && s[0] <= '9' ? strtoull(s, &end, 10) : 0;
    if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno || n < min || n > max)
        return tide_err_set(e, TIDE_EINVAL, "%s %s: want a whole number from %llu to %llu", flag, s,
                            (unsigned long long)min, (unsigned long long)max);
    *v = n;
    return TIDE_OK;
}

int fx_export_args(int argc, char **argv, fx_export_opts *o, tide_error *e)
{
    o->events = calloc((size_t)argc + 1, sizeof *o->events);
    if (o->events == NULL) return tide_err_set(e, TIDE_ENOMEM, "out of memory");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        uint64_t n;
        static const char *const valued[] = {"--db",         "--batch",          "--views",
                                             "--since",      "--snapshot-every", "--snapshot",
                                             "--max-batches"};
        /* Every flag below that takes a value has one (checked once here). */
        for (size_t k = 0; !has && k < sizeof valued / sizeof *valued; k++)
            if (strcmp(a, valued[k]) == 0)
                return tide_err_set(e, TIDE_EINVAL, "%s needs a value", a);
        if (strcmp(a, "--help") == 0) {
            return 1;
        } else if (strcmp(a, "--events") == 0) {
            while (i + 1 < argc && (argv[i + 1][0] != '-' || strcmp(argv[i + 1], "-") == 0))
                o->events[o->nevents++] = argv[++i];
        } else if (strcmp(a, "--db") == 0) {
            o->db = argv[++i];
        } else if (strcmp(a, "--batch") == 0) {
            TIDE_TRY(number(a, argv[++i], 1, UINT32_MAX, &n, e));
            o->batch = (uint32_t)n;
        } else if (strcmp(a, "--follow") == 0) {
            o->follow = true;
        } else if (strcmp(a, "--skip-bad") == 0) {
            o->skip_bad = true;
        } else if (strcmp(a, "--views") == 0) {
            if (strcmp(argv[++i], "factory") != 0 &&
                (o->views = fx_views_load(argv[i], &o->views_dl, e)) == NULL)
                return TIDE_EINVAL;
        } else if (strcmp(a, "--since") == 0) {
            if (fx_parse_duration(argv[++i], &o->since_us) < 0)
                return tide_err_set(e, TIDE_EINVAL,
                                    "--since %s: want a whole number above 0 followed by s, m, h "
                                    "or d (e.g. 365d)",
                                    argv[i]);
        } else if (strcmp(a, "--snapshot-every") == 0) {
            TIDE_TRY(number(a, argv[++i], 1, UINT32_MAX, &n, e));
            o->snapshot_every = (uint32_t)n;
        } else if (strcmp(a, "--snapshot") == 0) {
            o->snapshot = argv[++i];
        } else if (strcmp(a, "--max-batches") == 0) {
            TIDE_TRY(number(a, argv[++i], 0, UINT64_MAX, &o->max_batches, e));
        } else {
            return tide_err_set(e, TIDE_EINVAL, "unknown argument '%s'", a);
        }
    }
    if (o->nevents == 0 || o->db == NULL)
        return tide_err_set(e, TIDE_EINVAL, "--events PATH... and --db URL are required");
    return TIDE_OK;
}
