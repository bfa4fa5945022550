/*
 * coord_io.c - what the coordinator says: replies on the control ROUTER, its
 * log lines, and the one line that tells `tide cluster start` how it went.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "coord_int.h"

void coord_log(const char *fmt, ...)
{
    char ts[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s tide cluster: ", ts);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stderr);
}

void coord_send_to(coord *c, const void *rid, size_t rid_len, ctl_w *w)
{
    if (rid_len == 0) {
        ctl_w_fini(w);
        return;
    }
    /* A gone submitter is not an error: ROUTER drops what it cannot route. */
    zmq_send(c->router, rid, rid_len, ZMQ_SNDMORE);
    zmq_send(c->router, w->sb.data, w->sb.size, 0);
    ctl_w_fini(w);
}

void coord_send_proc(coord *c, uint32_t p, ctl_w *w)
{
    coord_send_to(c, c->p[p].rid, c->p[p].up ? strlen(c->p[p].rid) : 0, w);
}

void coord_send_error(coord *c, const void *rid, size_t rid_len, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ctl_w w;
    ctl_w_begin(&w, "error", 1);
    ctl_w_str(&w, "msg", msg);
    coord_send_to(c, rid, rid_len, &w);
}

void coord_ready(coord *c, const char *fmt, ...)
{
    if (c->ready_fd < 0) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (k > 0 && write(c->ready_fd, buf, (size_t)k < sizeof buf ? (size_t)k : sizeof buf - 1) < 0)
        coord_log("cannot tell the starting command: %s", strerror(errno));
    close(c->ready_fd);
    c->ready_fd = -1;
}
