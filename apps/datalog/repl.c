/*
 * repl.c - tide-datalog repl: the script forms typed at a prompt with line
 * editing and history (libedit); a form may span lines. Diffs and errors
 * are printed as by `run`.
 */
#include <editline/readline.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"

int dl_repl(tide_worker *w, dl_feed *feed)
{
    dl_engine g;
    TIDE_TRY(dl_engine_init(&g, w));
    int rc = 0;
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
            buf.n = 0;
            for (size_t i = 0; i < n && rc >= 0; i++) {
                /* the other workers run it too (and reject it alike) */
                dl_feed_push(feed, forms[i]);
                rc = dl_engine_form(&g, forms[i], err, sizeof err);
                if (rc == DL_REJECT) {
                    printf("error: %s\n", err);
                    rc = 0;
                    continue;
                }
                if (rc >= 0) rc = dl_rules_run(&g);
            }
            free(forms);
            fflush(stdout);
            if (rc < 0) break;
        }
        free(buf.p);
        dl_feed_close(feed);
    }
    if (rc >= 0) rc = dl_engine_close(&g);
    dl_engine_fini(&g);
    return rc < 0 ? rc : 0;
}
