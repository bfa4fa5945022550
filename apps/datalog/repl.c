/*
 * repl.c - tide-datalog repl: the script forms typed at a prompt with line
 * editing and history (libedit); a form may span lines. Diffs and errors
 * are printed as by `run`.
 */
#include <editline/readline.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"

int dl_repl(tide_worker *w)
{
    dl_feed feedv, *feed = &feedv;
    int rc = dl_feed_open(feed, w);
    dl_engine g;
    if (rc >= 0) rc = dl_engine_init(&g, w);
    if (rc < 0) {
        dl_feed_fini(feed);
        return rc;
    }
    if (g.index != 0) {
        g.out = NULL;
        rc = dl_feed_follow(feed, &g);
    } else {
        dl_str buf = {0};
        for (;;) {
            char *line = readline(buf.n ? "   ...> " : "datalog> ");
            if (!line) break;
            if (*line) add_history(line);
            dl_str_puts(&buf, line);
            dl_str_puts(&buf, "\n");
            free(line);
            edn **forms;
            size_t n;
            char err[512];
            if (edn_parse_all(buf.p, buf.n, &forms, &n, err, sizeof err) < 0) {
                if (strstr(err, "unterminated") || strstr(err, "unexpected end of input")) continue;
                printf("error: %s\n", err);
                buf.n = 0;
                continue;
            }
            /* every other worker runs them too (and rejects them alike);
             * sent first: a transaction waits for all of them */
            rc = dl_feed_push(feed, buf.p, buf.n);
            buf.n = 0;
            for (size_t i = 0; i < n; i++) {
                if (rc < 0) {
                    edn_free(forms[i]);
                    continue;
                }
                rc = dl_feed_keep(feed, forms[i]);
                if (rc >= 0) rc = dl_engine_form(&g, forms[i], err, sizeof err);
                if (rc == DL_REJECT) {
                    printf("error: %s\n", err);
                    rc = 0;
                    continue;
                }
                if (rc >= 0) rc = dl_rules_run(&g);
            }
            free(forms);
            if (rc >= 0) rc = tide_worker_step(w); /* let the command out */
            fflush(stdout);
            if (rc < 0) break;
        }
        free(buf.p);
        int crc = dl_feed_close(feed);
        if (rc >= 0) rc = crc;
    }
    if (rc >= 0) rc = dl_engine_close(&g);
    dl_engine_fini(&g);
    dl_feed_fini(feed);
    return rc < 0 ? rc : 0;
}
