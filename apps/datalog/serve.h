/* serve.h - tide-datalog serve and repl (serve.c, repl.c). */
#ifndef DL_SERVE_H
#define DL_SERVE_H

#include "feed.h"

/* Worker main for `serve`: worker 0 serves WebSocket clients on
 * @host:@port until SIGINT/SIGTERM; the others follow @feed. */
int dl_serve(tide_worker *w, dl_feed *feed, const char *host, int port);
/* Worker main for `repl`: worker 0 reads forms with line editing. */
int dl_repl(tide_worker *w, dl_feed *feed);

#endif
