/*
 * main.c - tide-export: keep SQL tables in sync with an event log.
 *
 *   tide-export --events PATH... --db sqlite:FILE|postgresql://...
 *               [--batch N] [--follow] [--skip-bad] [--views factory|PLUGIN.so] [--since 365d]
 *               [--snapshot-every N] [--snapshot PATH]
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
    fprintf(
        f,
        "usage: tide-export --events PATH... --db sqlite:FILE|postgresql://URL [options]\n"
        "Export the views of an event log (JSON Lines or MessagePack, detected) into SQL\n"
        "tables, at most one transaction per batch with the offsets; restartable at any\n"
        "point.\n\n"
        "  --events PATH...   log files, directories, or - for stdin\n"
        "  --db URL           sqlite:FILE (embedded) or postgresql://...\n"
        "  --batch N          events per batch (default 50000); batches the writer finds\n"
        "                     done together commit in one transaction\n"
        "  --follow           keep reading growing files (tail -f)\n"
        "  --skip-bad         log and count bad events instead of stopping\n"
        "  --views PLUGIN.so  the views: a plugin (tide/views.h; default: factory)\n"
        "  --since DURATION   only events within DURATION (N s|m|h|d) of the newest\n"
        "                     event's timestamp, a window sliding with it\n"
        "  --snapshot-every N save the dataflow's state every N batches; a restart\n"
        "                     loads it and processes only the events after it\n"
        "  --snapshot PATH    the snapshot file (default: FILE.snapshot beside sqlite:FILE)\n\n%s",
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
    int rc = fx_export_args(argc, argv, &o, &e);
    if (rc != TIDE_OK) {
        if (rc > 0)
            usage(stdout);
        else
            fprintf(stderr, "tide-export: %s\nTry 'tide-export --help'.\n", e.msg);
        free(o.events);
        return rc > 0 ? 0 : 2;
    }
    const char *crash = getenv("TIDE_EXPORT_CRASH_AT");
    if (crash) o.crash_at_commit = atol(crash);
    fx_export_stats st;
    rc = fx_export(&o, &st, &e);
    if (o.cfg.process == 0 && (rc == TIDE_OK || st.batches + st.replayed > 0)) {
        char line[400];
        fx_export_summary(&st, line, sizeof line);
        fprintf(stderr, "tide-export: %s\n", line);
    }
    free(o.events);
    if (rc < 0) {
        fprintf(stderr, "tide-export: %s\n", e.msg);
        return 1;
    }
    return 0;
}
