/*
 * main.c - tide-gen-factory: write a realistic factory event log.
 *
 *   tide-gen-factory --machines M --workers K --orders O --events E
 *                    --seed S --skew-ms D [--format jsonl|msgpack] [-o FILE]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"

int main(int argc, char **argv)
{
    fx_gen_opts o = {
        .machines = 4, .workers = 4, .orders = 20, .events = 1000, .seed = 1, .skew_ms = 2000};
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0) {
            printf(
                "usage: tide-gen-factory [--machines M] [--workers K] [--orders O] [--events E]\n"
                "       [--seed S] [--skew-ms D] [--format jsonl|msgpack] [-o FILE]\n"
                "Write a factory event log (stdout without -o): machines set up, started and\n"
                "stopped per order, workers' produced counts and 'finished' reports, device\n"
                "clocks skewed by up to D ms, written in wall-clock order.\n");
            return 0;
        }
        if (v == NULL) {
            fprintf(stderr, "tide-gen-factory: '%s' needs a value or is unknown\n", a);
            return 2;
        }
        i++;
        if (strcmp(a, "--machines") == 0)
            o.machines = (uint32_t)atol(v);
        else if (strcmp(a, "--workers") == 0)
            o.workers = (uint32_t)atol(v);
        else if (strcmp(a, "--orders") == 0)
            o.orders = (uint32_t)atol(v);
        else if (strcmp(a, "--events") == 0)
            o.events = strtoull(v, NULL, 10);
        else if (strcmp(a, "--seed") == 0)
            o.seed = strtoull(v, NULL, 10);
        else if (strcmp(a, "--skew-ms") == 0)
            o.skew_ms = (uint32_t)atol(v);
        else if (strcmp(a, "--format") == 0 &&
                 (strcmp(v, "jsonl") == 0 || strcmp(v, "msgpack") == 0))
            o.msgpack = strcmp(v, "msgpack") == 0;
        else if (strcmp(a, "-o") == 0)
            out = v;
        else {
            fprintf(stderr, "tide-gen-factory: unknown argument '%s %s'\n", a, v);
            return 2;
        }
    }
    if (o.machines == 0 || o.workers == 0 || o.orders == 0) {
        fprintf(stderr, "tide-gen-factory: machines, workers and orders must be >= 1\n");
        return 2;
    }
    FILE *f = out ? fopen(out, "wb") : stdout;
    if (f == NULL) {
        perror(out);
        return 1;
    }
    static char buf[1 << 20];
    setvbuf(f, buf, _IOFBF, sizeof buf);
    int rc = fx_gen(&o, f);
    if (out && fclose(f) != 0) rc = -1;
    if (rc < 0) {
        fprintf(stderr, "tide-gen-factory: write error\n");
        return 1;
    }
    return 0;
}
