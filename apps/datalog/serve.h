/* serve.h - tide-datalog serve and repl (serve.c, repl.c). */
#ifndef DL_SERVE_H
#define DL_SERVE_H

#include "feed.h"

/* Worker main for `serve` (any workers, any processes): global worker 0
 * serves WebSocket clients on @host:@port until SIGINT/SIGTERM; every
 * worker runs its forms, received over the command dataflow (feed.h). */
int dl_serve(tide_worker *w, const char *host, int port);
/* Worker main for `repl`: global worker 0 reads forms with line editing. */
int dl_repl(tide_worker *w);

#endif
