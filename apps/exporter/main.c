/*
 * main.c - tide-export: keep SQL tables in sync with an event log.
 *
 *   tide-export --events PATH... --db sqlite:FILE|postgresql://...
 *               [--batch N] [--follow] [--skip-bad] [--views factory]
 *               [cluster flags: -w -n -p -h]
 *
 * Exit status: 0, 1 on an error (bad input: "FILE:LINE: FIELD: what";
 * the batches before it are committed), 2 on usage errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tide-export --events PATH... --db sqlite:FILE|postgresql://URL [options]\n"
            "Export the views of an event log (JSON Lines or MessagePack, detected) into SQL\n"
            "tables, one transaction per batch with the offsets; restartable at any point.\n\n"
            "  --events PATH...   log files, directories, or - for stdin\n"
            "  --db URL           sqlite:FILE (embedded) or postgresql://...\n"
            "  --batch N          events per batch and transaction (default 50000)\n"
            "  --follow           keep reading growing files (tail -f)\n"
            "  --skip-bad         log and count bad events instead of stopping\n"
            "  --views factory    the views (only the factory views for now)\n"
            "  --since DURATION   not supported yet\n\n%s",
            tide_config_usage());
}

int main(int argc, char **argv)
{
    fx_export_opts o;
    fx_export_opts_init(&o);
    tide_error e = {0};
    if (tide_config_parse(&o.cfg, &argc, argv, &e) < 0) {
        fprintf(stderr, "tide-export: %s\n", e.msg);
        return 2;
    }
    char **events = calloc((size_t)argc, sizeof *events);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0) {
            usage(stdout);
            free(events);
            return 0;
        } else if (strcmp(a, "--events") == 0) {
            while (i + 1 < argc && (argv[i + 1][0] != '-' || strcmp(argv[i + 1], "-") == 0))
                events[o.nevents++] = argv[++i];
        } else if (strcmp(a, "--db") == 0 && i + 1 < argc) {
            o.db = argv[++i];
        } else if (strcmp(a, "--batch") == 0 && i + 1 < argc) {
            o.batch = (uint32_t)strtoul(argv[++i], NULL, 10);
        } else if (strcmp(a, "--follow") == 0) {
            o.follow = true;
        } else if (strcmp(a, "--skip-bad") == 0) {
            o.skip_bad = true;
        } else if (strcmp(a, "--views") == 0 && i + 1 < argc) {
            if (strcmp(argv[++i], "factory") != 0) {
                fprintf(stderr, "tide-export: --views %s: only 'factory' is built in\n", argv[i]);
                return 2;
            }
        } else if (strcmp(a, "--max-batches") == 0 && i + 1 < argc) {
            o.max_batches = strtoull(argv[++i], NULL, 10);
        } else {
            fprintf(stderr, "tide-export: unknown argument '%s'\nTry 'tide-export --help'.\n", a);
            return 2;
        }
    }
    if (o.nevents == 0 || o.db == NULL || o.batch == 0) {
        usage(stderr);
        return 2;
    }
    o.events = events;
    const char *crash = getenv("TIDE_EXPORT_CRASH_AT");
    if (crash) o.crash_at_commit = atol(crash);
    fx_export_stats st;
    int rc = fx_export(&o, &st, &e);
    if (o.cfg.process == 0)
        fprintf(stderr,
                "tide-export: %llu event(s) in %llu batch(es), %llu replayed, %llu row change(s), "
                "%llu commit(s), %llu skipped as bad\n",
                (unsigned long long)st.events, (unsigned long long)st.batches,
                (unsigned long long)st.replayed, (unsigned long long)st.rows,
                (unsigned long long)st.commits, (unsigned long long)st.skipped);
    free(events);
    if (rc < 0) {
        fprintf(stderr, "tide-export: %s\n", e.msg);
        return 1;
    }
    return 0;
}
