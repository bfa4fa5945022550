/*
 * tide-datalog - live Datalog queries over a stream of transactions.
 *
 *   tide-datalog run SCRIPT.edn [--json] [-w W -n N -p P -h HOSTS]
 *
 * Runs the script's forms (create-db, transact, register-query,
 * unregister-query) on every worker and prints every change of every
 * registered query, one line per query and time:
 *   ["chic/territory-earnings" ([("east" 1600) 2 1] [("west" 1720) 2 1])]
 * or with --json one object per change:
 *   {"query":"chic/territory-earnings","tuple":["east",1600],"time":2,"diff":1}
 * A rejected form prints "error: LINE:COL: message" (JSON: {"error":...})
 * and the script goes on with the state unchanged. See docs/datalog.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "serve.h"

typedef struct run_args {
    edn **forms;
    size_t n;
    bool json;
    const char *cmd; /* run, serve, repl */
    char host[256];
    int port;
} run_args;

static int run_worker(tide_worker *w, void *arg)
{
    run_args *a = arg;
    if (!strcmp(a->cmd, "serve")) return dl_serve(w, a->host, a->port);
    if (!strcmp(a->cmd, "repl")) return dl_repl(w);
    dl_engine g;
    int rc = dl_engine_init(&g, w);
    g.json = a->json;
    if (rc >= 0) rc = dl_engine_script(&g, a->forms, a->n);
    dl_engine_fini(&g);
    return rc < 0 ? rc : 0;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    size_t k;
    while (b && (k = fread(b + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap) b = realloc(b, cap *= 2);
    }
    fclose(f);
    *len = n;
    return b;
}

static int usage(void)
{
    fprintf(stderr,
            "usage: tide-datalog run SCRIPT.edn [--json] [cluster flags]\n"
            "       tide-datalog serve [--listen HOST:PORT] [cluster flags]   (default "
            "127.0.0.1:7878)\n"
            "       tide-datalog repl [cluster flags]\n%s",
            tide_config_usage());
    return 2;
}

int main(int argc, char **argv)
{
    tide_config cfg;
    tide_config_init(&cfg);
    tide_error e = {0};
    if (tide_config_parse(&cfg, &argc, argv, &e) < 0) {
        fprintf(stderr, "tide-datalog: %s\n", e.msg);
        return 2;
    }
    run_args a = {0};
    const char *script = NULL;
    if (argc < 2) return usage();
    a.cmd = argv[1];
    snprintf(a.host, sizeof a.host, "127.0.0.1");
    a.port = 7878;
    if (!strcmp(a.cmd, "serve") || !strcmp(a.cmd, "repl")) {
        for (int i = 2; i < argc; i++) {
            if (!strcmp(argv[i], "--listen") && i + 1 < argc && !strcmp(a.cmd, "serve")) {
                const char *hp = argv[++i], *colon = strrchr(hp, ':');
                if (!colon || colon == hp || (size_t)(colon - hp) >= sizeof a.host) return usage();
                snprintf(a.host, sizeof a.host, "%.*s", (int)(colon - hp), hp);
                a.port = atoi(colon + 1);
                if (a.port <= 0 || a.port > 65535) return usage();
            } else {
                return usage();
            }
        }
        int rc = tide_execute(&cfg, run_worker, &a, &e);
        dl_keep_free();
        if (rc < 0) {
            fprintf(stderr, "tide-datalog: %s\n", e.msg);
            return 1;
        }
        return 0;
    }
    if (strcmp(a.cmd, "run")) return usage();
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            a.json = true;
        else if (!script)
            script = argv[i];
        else
            return usage();
    }
    if (!script) return usage();
    size_t len;
    char *text = slurp(script, &len);
    if (!text) {
        fprintf(stderr, "tide-datalog: cannot read %s\n", script);
        return 1;
    }
    char err[512];
    if (edn_parse_all(text, len, &a.forms, &a.n, err, sizeof err) < 0) {
        fprintf(stderr, "tide-datalog: %s:%s\n", script, err);
        free(text);
        return 1;
    }
    free(text);
    int rc = tide_execute(&cfg, run_worker, &a, &e);
    edn_free_all(a.forms, a.n);
    dl_keep_free();
    if (rc < 0) {
        fprintf(stderr, "tide-datalog: %s\n", e.msg);
        return 1;
    }
    return 0;
}
