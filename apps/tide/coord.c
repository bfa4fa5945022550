/*
 * coord.c - supervisor + coordinator: one poll loop, no threads.
 *
 * It owns the control ROUTER that submitters and workers connect to, the job
 * table (ids increase from 1 and are the same on every process), and the
 * local worker processes. Every job spans every process, so a process that
 * dies fails every running job; the data plane cannot re-admit one process
 * into a running mesh, so the whole set is restarted under a new generation
 * (docs/cluster.md, "Failure model").
 *
 *   submitter ─DEALER─┐                        ┌─ worker process 0 (DEALER "W0.g")
 *   submitter ─DEALER─┼─▶ ROUTER (coordinator) ─┼─ worker process 1
 *   tide jobs ─DEALER─┘      │ fork/exec, waitpid└─ ...
 *
 * This file is the loop: binding the ROUTER (ZAP/CURVE, its monitor), the
 * state file, signals, and dispatching each message to the job, query or
 * process code (coord_int.h lists the files).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "coord_int.h"
#include "tide/error.h"

/* ======================================================================== */
/* The loop                                                                 */
/* ======================================================================== */

/* `tide cluster stop`: it gets its "ok" once every process is gone. */
static void on_stop(coord *c, const uint8_t *rid, size_t rid_len)
{
    if (c->stopping) return;
    coord_log("stop requested");
    c->stopping = 1;
    c->stop_deadline = mono_ms() + STOP_KILL_MS;
    memcpy(c->stop_rid, rid, rid_len);
    c->stop_rid_len = rid_len;
}

static void on_message(coord *c, zmq_msg_t *rid, zmq_msg_t *body)
{
    const uint8_t *r = zmq_msg_data(rid);
    size_t rl = zmq_msg_size(rid);
    if (rl > RID_MAX) return;
    ctl_doc d;
    if (ctl_parse(&d, zmq_msg_data(body), zmq_msg_size(body)) < 0) {
        ctl_doc_fini(&d);
        return coord_send_error(c, r, rl, "malformed request (not a msgpack map)");
    }
    int w = coord_worker_of(c, r, rl);
    if (ctl_is(&d, "hello"))
        coord_on_hello(c, r, rl, &d);
    else if (ctl_is(&d, "joining"))
        coord_on_joining(c, &d);
    else if (ctl_is(&d, "relay") || ctl_is(&d, "rdied"))
        coord_on_relay(c, r, rl, &d, ctl_is(&d, "rdied"));
    else if (w >= 0 && ctl_is(&d, "wout"))
        coord_on_wout(c, &d);
    else if (w >= 0 && ctl_is(&d, "wdone"))
        coord_on_wdone(c, (uint32_t)w, &d);
    else if (w >= 0 && (ctl_is(&d, "wjobs") || ctl_is(&d, "wstatus")))
        coord_on_wreply(c, (uint32_t)w, body, &d);
    else if (ctl_is(&d, "submit"))
        coord_on_submit(c, r, rl, body, &d);
    else if (ctl_is(&d, "cancel"))
        coord_on_cancel(c, r, rl, &d);
    else if (ctl_is(&d, "jobs"))
        coord_on_query(c, r, rl, Q_JOBS);
    else if (ctl_is(&d, "status"))
        coord_on_query(c, r, rl, Q_STATUS);
    else if (ctl_is(&d, "ping")) {
        ctl_w pw;
        ctl_w_begin(&pw, "pong", 0);
        coord_send_to(c, r, rl, &pw);
    } else if (ctl_is(&d, "stop"))
        on_stop(c, r, rl);
    else if (w < 0 && rl && r[0] == 'W')
        ; /* a stale worker's report */
    else
        coord_send_error(c, r, rl, "unknown request");
    ctl_doc_fini(&d);
}

static void begin_stop(coord *c)
{
    for (job *j = c->jobs; j; j = j->next)
        if (j->state <= J_RUNNING)
            coord_job_finish(c, j, J_FAILED, TIDE_ECLOSED, "the cluster stopped");
    for (uint32_t i = 0; i < c->n; i++) {
        if (c->p[i].local && !c->p[i].up && c->p[i].pid > 0) kill(c->p[i].pid, SIGKILL);
        ctl_w w;
        ctl_w_begin(&w, "exit", 1);
        ctl_w_u64(&w, "stop", 1); /* a remote relay supervisor stops too */
        coord_send_proc(c, i, &w);
        if (!c->p[i].local && !c->p[i].up) coord_relay_cmd(c, i, "stop");
    }
}

static int any_local_alive(const coord *c)
{
    for (uint32_t i = 0; i < c->n; i++)
        if (c->p[i].local && c->p[i].pid > 0) return 1;
    return 0;
}

static void zap_log(void *ctx, const char *msg)
{
    coord_log("refused a control connection: %s", msg);
}

/* Bind the control ROUTER; with keys, as a CURVE server behind the ZAP
 * handler, so a client without the cluster key never gets a message in. */
static int bind_router(coord *c, char *why, size_t cap)
{
    c->zctx = zmq_ctx_new();
    c->router = c->zctx ? zmq_socket(c->zctx, ZMQ_ROUTER) : NULL;
    if (c->router == NULL) return snprintf(why, cap, "%s", zmq_strerror(errno)), -1;
    if (c->o->keys[0]) {
        tide__curve_keys k;
        tide_error e = {0};
        if (tide__curve_load(c->o->keys, &k, &e) < 0 ||
            (c->zap = tide__zap_start(c->zctx, &k, zap_log, c, &e)) == NULL ||
            tide__curve_server(c->router, &k, &e) < 0) {
            tide__curve_wipe(&k);
            return snprintf(why, cap, "%s", e.msg), -1;
        }
        tide__curve_wipe(&k);
        /* A client without CURVE fails before ZAP is asked: the monitor sees it. */
        if (zmq_socket_monitor(c->router, "inproc://tide-control-monitor",
                               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                                   ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) == 0 &&
            (c->mon = zmq_socket(c->zctx, ZMQ_PAIR)) != NULL &&
            zmq_connect(c->mon, "inproc://tide-control-monitor") < 0) {
            zmq_close(c->mon);
            c->mon = NULL;
        }
    }
    int zero = 0;
    int64_t max = CTL_MAX_MSG;
    zmq_setsockopt(c->router, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(c->router, ZMQ_MAXMSGSIZE, &max, sizeof max);
    /* A ROUTER drops what exceeds a peer's high-water mark: a job's output to a
     * slow submitter must queue instead. */
    zmq_setsockopt(c->router, ZMQ_SNDHWM, &zero, sizeof zero);
    zmq_setsockopt(c->router, ZMQ_RCVHWM, &zero, sizeof zero);
    if (zmq_bind(c->router, c->o->listen) < 0)
        return snprintf(why, cap, "cannot listen on %s: %s", c->o->listen, zmq_strerror(errno)), -1;
    size_t n = sizeof c->addr;
    zmq_getsockopt(c->router, ZMQ_LAST_ENDPOINT, c->addr, &n);
    return 0;
}

/* Log every refused handshake the monitor reports. */
static void on_monitor(coord *c)
{
    for (;;) {
        zmq_msg_t ev, ep;
        zmq_msg_init(&ev);
        zmq_msg_init(&ep);
        if (zmq_msg_recv(&ev, c->mon, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&ev);
            zmq_msg_close(&ep);
            return;
        }
        if (zmq_msg_more(&ev)) zmq_msg_recv(&ep, c->mon, 0);
        if (zmq_msg_size(&ev) >= 6) {
            uint16_t event;
            memcpy(&event, zmq_msg_data(&ev), 2);
            c->refused++;
            if (c->refused <= 20 || c->refused % 1000 == 0)
                coord_log("refused a control connection on %.*s: %s (refusals so far: %llu)",
                          (int)zmq_msg_size(&ep), (const char *)zmq_msg_data(&ep),
                          event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                              ? "the client does not speak CURVE with the cluster's key"
                              : "handshake failed",
                          (unsigned long long)c->refused);
        }
        zmq_msg_close(&ev);
        zmq_msg_close(&ep);
    }
}

static int write_state(coord *c)
{
    char tmp[700];
    snprintf(tmp, sizeof tmp, "%s.tmp", c->o->state_path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL) return -1;
    /* Line 3: the key file's absolute path, so that later commands use it
     * without --keys (client.c); the keys stay in that file. */
    fprintf(f, "%s\n%d\n%s\n", c->addr, (int)getpid(), c->o->keys);
    if (fclose(f) != 0) return -1;
    return rename(tmp, c->o->state_path);
}

static void coord_init(coord *c, const coord_opts *o)
{
    memset(c, 0, sizeof *c);
    c->o = o;
    c->n = o->cfg.processes;
    c->next_id = 1;
    c->down_since = -1;
    c->restart_at = -1;
    c->ready_fd = o->ready_fd;
    c->born_us = wall_us();
    for (uint32_t i = 0; i < c->n; i++) c->p[i].local = o->local_all || i == o->cfg.process;
}

/* The signals the loop handles arrive on a signalfd (-1 if none). */
static int signals_fd(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* Bind the control address and write the state file; -1 (told to the log and
 * the starting command) if either fails. */
static int start_control(coord *c, int sfd)
{
    const coord_opts *o = c->o;
    char why[512] = "signalfd failed";
    if (sfd < 0 || bind_router(c, why, sizeof why) < 0) {
        coord_log("%s", why);
        coord_ready(c, "error %s\n", why);
        if (c->mon) zmq_close(c->mon);
        if (c->router) zmq_close(c->router);
        tide__zap_stop(c->zap);
        if (c->zctx) zmq_ctx_term(c->zctx);
        return -1;
    }
    if (write_state(c) < 0) {
        coord_log("cannot write %s: %s", o->state_path, strerror(errno));
        coord_ready(c, "error cannot write %s: %s\n", o->state_path, strerror(errno));
        return -1;
    }
    return 0;
}

static void on_signals(coord *c, int sfd)
{
    struct signalfd_siginfo si;
    while (read(sfd, &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGCHLD) continue;
        if (!c->stopping) coord_log("stopping on signal %u", si.ssi_signo);
        if (!c->stopping) c->stop_deadline = mono_ms() + STOP_KILL_MS;
        c->stopping = 1;
    }
}

/* Handle up to 256 waiting control messages (rid + body each). */
static void drain_router(coord *c)
{
    for (int budget = 0; budget < 256; budget++) {
        zmq_msg_t rid, body;
        zmq_msg_init(&rid);
        zmq_msg_init(&body);
        if (zmq_msg_recv(&rid, c->router, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&rid);
            zmq_msg_close(&body);
            break;
        }
        int more = zmq_msg_more(&rid);
        if (more && zmq_msg_recv(&body, c->router, 0) >= 0) {
            int extra = zmq_msg_more(&body);
            if (!extra) on_message(c, &rid, &body);
            while (extra) { /* more parts than we speak: drop them */
                zmq_msg_t x;
                zmq_msg_init(&x);
                zmq_msg_recv(&x, c->router, 0);
                extra = zmq_msg_more(&x);
                zmq_msg_close(&x);
            }
        }
        zmq_msg_close(&rid);
        zmq_msg_close(&body);
    }
}

/* While stopping: 0 once no local process is left, else 1 (killing the
 * stragglers after STOP_KILL_MS). */
static int stop_step(coord *c)
{
    if (c->stopping == 1) {
        begin_stop(c);
        c->stopping = 2;
    }
    if (!any_local_alive(c)) return 0;
    if (mono_ms() >= c->stop_deadline)
        for (uint32_t i = 0; i < c->n; i++)
            if (c->p[i].local && c->p[i].pid > 0) kill(c->p[i].pid, SIGKILL);
    return 1;
}

/* One turn of the loop: poll, then signals, children, messages, timers.
 * Returns 0 when the coordinator is done. */
static int loop_once(coord *c, int sfd, int64_t start_deadline)
{
    zmq_pollitem_t it[3] = {{.socket = c->router, .events = ZMQ_POLLIN},
                            {.fd = sfd, .events = ZMQ_POLLIN},
                            {.socket = c->mon, .events = ZMQ_POLLIN}};
    int r = zmq_poll(it, c->mon ? 3 : 2, TICK_MS);
    if (c->mon && (it[2].revents & ZMQ_POLLIN)) on_monitor(c);
    if (r < 0 && errno != EINTR) {
        coord_log("poll: %s", zmq_strerror(errno));
        return 0;
    }
    if (it[1].revents & ZMQ_POLLIN) on_signals(c, sfd);
    coord_reap(c);
    if (it[0].revents & ZMQ_POLLIN) drain_router(c);
    if (c->stopping) return stop_step(c);
    coord_maybe_restart(c);
    coord_queries_tick(c);
    if (!c->all_up_once && mono_ms() > start_deadline) {
        coord_ready(c, "error the worker processes did not come up within %d s (see the log)\n",
                    START_TIMEOUT / 1000);
        c->stopping = 1;
        c->stop_deadline = mono_ms() + STOP_KILL_MS;
    }
    return 1;
}

/* After the loop: answer `tide cluster stop`, free everything, close. */
static void shut_down(coord *c, int sfd)
{
    if (!c->all_up_once)
        coord_ready(c, "error the worker processes did not come up (see the log)\n");
    unlink(c->o->state_path);
    coord_log("stopped");
    ctl_w w;
    ctl_w_begin(&w, "ok", 0);
    coord_send_to(c, c->stop_rid, c->stop_rid_len, &w);
    coord_jobs_free(c);
    coord_queries_free(c);
    /* Linger briefly so the stop reply reaches `tide cluster stop`. */
    int linger = 500;
    zmq_setsockopt(c->router, ZMQ_LINGER, &linger, sizeof linger);
    if (c->mon) zmq_close(c->mon);
    zmq_close(c->router);
    if (c->zap)
        coord_log("control connections refused: %llu without CURVE, %llu with another key",
                  (unsigned long long)c->refused, (unsigned long long)tide__zap_refused(c->zap));
    tide__zap_stop(c->zap);
    zmq_ctx_term(c->zctx);
    close(sfd);
}

int coord_run(const coord_opts *o)
{
    static coord cs;
    coord *c = &cs;
    coord_init(c, o);
    int sfd = signals_fd();
    if (start_control(c, sfd) < 0) return 1;
    coord_log("control address %s, %u process(es) x %u worker(s)", c->addr, c->n, o->cfg.workers);
    coord_spawn_all(c);
    int64_t start_deadline = mono_ms() + START_TIMEOUT;
    while (loop_once(c, sfd, start_deadline)) {
    }
    shut_down(c, sfd);
    return 0;
}
