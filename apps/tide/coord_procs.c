/*
 * coord_procs.c - the coordinator as supervisor of the worker processes.
 *
 * Local processes are forked here and reaped on SIGCHLD; a remote one has a
 * relay supervisor on its host (`tide cluster start -p I`) that registers
 * ("relay") and restarts it when told. A process says "hello" when it is up.
 * Every job spans every process, so a lost process fails the running jobs and
 * the whole set restarts under a new generation (docs/cluster.md, "Failure
 * model").
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coord_int.h"
#include "tide/error.h"

/* ======================================================================== */
/* Worker processes                                                         */
/* ======================================================================== */

static int spawn(coord *c, uint32_t i)
{
    const tide_config *cfg = &c->o->cfg;
    char nb[16], wb[16], pb[16], portb[16], tb[16], gb[24];
    snprintf(nb, sizeof nb, "%u", cfg->processes);
    snprintf(wb, sizeof wb, "%u", cfg->workers);
    snprintf(pb, sizeof pb, "%u", i);
    snprintf(portb, sizeof portb, "%u", cfg->base_port);
    snprintf(tb, sizeof tb, "%u", cfg->peer_timeout_ms);
    snprintf(gb, sizeof gb, "%llu", (unsigned long long)c->gen);
    char *argv[40];
    int k = 0;
    argv[k++] = (char *)c->o->self_exe;
    argv[k++] = "cluster";
    argv[k++] = "worker";
    argv[k++] = "-n", argv[k++] = nb;
    argv[k++] = "-w", argv[k++] = wb;
    argv[k++] = "-p", argv[k++] = pb;
    argv[k++] = "--port", argv[k++] = portb;
    argv[k++] = "--peer-timeout", argv[k++] = tb;
    if (cfg->hostfile[0]) argv[k++] = "-h", argv[k++] = (char *)cfg->hostfile;
    if (!cfg->pin) argv[k++] = "--no-pin";
    argv[k++] = "--control", argv[k++] = c->addr;
    argv[k++] = "--gen", argv[k++] = gb;
    if (c->o->keys[0]) argv[k++] = "--keys", argv[k++] = (char *)c->o->keys;
    argv[k] = NULL;
    pid_t pid = fork();
    if (pid < 0) {
        coord_log("fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        /* The worker dies with its supervisor, whatever kills the latter. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execv(argv[0], argv);
        fprintf(stderr, "tide cluster: cannot run '%s': %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    c->p[i].pid = pid;
    c->p[i].up = 0;
    c->p[i].started_us = wall_us();
    snprintf(c->p[i].rid, sizeof c->p[i].rid, "W%u.%llu", i, (unsigned long long)c->gen);
    coord_log("process %u started (pid %d, generation %llu)", i, (int)pid,
              (unsigned long long)c->gen);
    return 0;
}

/* Tell the relay supervisor of remote process @i to "respawn", "kill" or "stop". */
void coord_relay_cmd(coord *c, uint32_t i, const char *t)
{
    if (c->p[i].relay[0] == 0) return;
    ctl_w w;
    ctl_w_begin(&w, t, 0);
    coord_send_to(c, c->p[i].relay, strlen(c->p[i].relay), &w);
}

void coord_spawn_all(coord *c)
{
    c->gen++;
    for (uint32_t i = 0; i < c->n; i++) {
        if (c->p[i].local) {
            spawn(c, i);
            continue;
        }
        snprintf(c->p[i].rid, sizeof c->p[i].rid, "W%u.", i); /* any generation */
        if (c->gen > 1) coord_relay_cmd(c, i, "respawn");     /* the first one its relay started */
    }
}

static void describe_exit(char *out, size_t cap, uint32_t i, pid_t pid, int st)
{
    if (WIFSIGNALED(st))
        snprintf(out, cap, "process %u (pid %d) died: killed by signal %d (%s)", i, (int)pid,
                 WTERMSIG(st), strsignal(WTERMSIG(st)));
    else
        snprintf(out, cap, "process %u (pid %d) died: exited with status %d", i, (int)pid,
                 WEXITSTATUS(st));
}
/* ======================================================================== */
/* Failures and restarts                                                    */
/* ======================================================================== */

/* Process @i is gone (@why): fail every job that ran there, bring the set
 * down (the data plane cannot re-admit one process) and schedule a restart. */
static void process_lost(coord *c, uint32_t i, const char *why, int was_up)
{
    coord_log("%s", why);
    for (job *j = c->jobs; j; j = j->next)
        if (j->state == J_RUNNING) coord_job_finish(c, j, J_FAILED, TIDE_EPEER, why);
    for (uint32_t k = 0; k < c->n; k++) {
        if (k != i && c->p[k].local && c->p[k].pid > 0) kill(c->p[k].pid, SIGKILL);
        if (k != i && !c->p[k].local) {
            if (c->p[k].relay[0]) {
                coord_relay_cmd(c, k, "kill"); /* even one stuck in its handshake */
            } else if (c->p[k].up) {
                ctl_w w;
                ctl_w_begin(&w, "exit", 0);
                coord_send_proc(c, k, &w);
            }
        }
        c->p[k].up = 0;
    }
    c->p[i].restarts++;
    /* A set that never came up waits a little before the next try. */
    c->restart_at = mono_ms() + (was_up ? 0 : 1000);
    if (c->down_since < 0) c->down_since = mono_ms();
    coord_queries_flush(c);
}

void coord_reap(coord *c)
{
    int st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        for (uint32_t i = 0; i < c->n; i++) {
            if (c->p[i].pid != pid) continue;
            int was_up = c->p[i].up;
            c->p[i].pid = 0;
            if (c->stopping) break;
            char why[256];
            describe_exit(why, sizeof why, i, pid, st);
            if (c->restart_at >= 0 && !was_up) break; /* killed by us for the restart */
            if (!c->all_up_once && ++c->early_deaths >= 3) {
                coord_log("%s", why);
                coord_ready(c, "error %s during startup, 3 times (see the log)\n", why);
                c->stopping = 1;
                c->stop_deadline = mono_ms() + STOP_KILL_MS;
                break;
            }
            process_lost(c, i, why, was_up || c->all_up_once);
            break;
        }
    }
}

void coord_maybe_restart(coord *c)
{
    if (c->restart_at < 0 || mono_ms() < c->restart_at || c->stopping) return;
    for (uint32_t i = 0; i < c->n; i++)
        if (c->p[i].local && c->p[i].pid > 0) return; /* wait until every old one is reaped */
    c->restart_at = -1;
    coord_spawn_all(c);
}

/* ======================================================================== */
/* Hello, relay, joining: processes announce themselves                     */
/* ======================================================================== */

int coord_worker_of(coord *c, const uint8_t *rid, size_t n)
{
    if (n == 0 || rid[0] != 'W') return -1;
    for (uint32_t i = 0; i < c->n; i++) {
        size_t l = strlen(c->p[i].rid);
        if (c->p[i].up && l == n && memcmp(c->p[i].rid, rid, n) == 0) return (int)i;
    }
    return -1;
}

/* A remote process restarted by its relay announces itself before its data
 * plane connects: its predecessor died with the jobs that ran there. */
void coord_on_joining(coord *c, const ctl_doc *d)
{
    uint32_t p = (uint32_t)ctl_u64(d, 0, "process", UINT32_MAX);
    pid_t pid = (pid_t)ctl_i64(d, 0, "pid", 0);
    if (p >= c->n || c->p[p].local || !c->p[p].up || pid == c->p[p].pid) return;
    char why[256], last[160];
    ctl_str(d, 0, "last_exit", last, sizeof last);
    snprintf(why, sizeof why, "process %u (pid %d, remote) died: %s; its host restarted it", p,
             (int)c->p[p].pid, last[0] ? last : "ended");
    process_lost(c, p, why, 1); /* the others restart and meet the new one */
}

/* A relay supervisor registers ("relay") or reports its process's death. */
void coord_on_relay(coord *c, const uint8_t *rid, size_t rid_len, const ctl_doc *d, int died)
{
    uint32_t p = (uint32_t)ctl_u64(d, 0, "process", UINT32_MAX);
    if (p >= c->n || c->p[p].local || rid_len >= sizeof c->p[p].relay) return;
    memcpy(c->p[p].relay, rid, rid_len);
    c->p[p].relay[rid_len] = 0;
    if (!died || c->stopping) return;
    char why[256], last[160];
    ctl_str(d, 0, "last_exit", last, sizeof last);
    snprintf(why, sizeof why, "process %u (pid %d, remote) died: %s", p, (int)c->p[p].pid,
             last[0] ? last : "ended");
    if (c->restart_at >= 0 && !c->p[p].up) return; /* part of a restart already */
    process_lost(c, p, why, 1);
}

void coord_on_hello(coord *c, const uint8_t *rid, size_t rid_len, const ctl_doc *d)
{
    uint32_t p = (uint32_t)ctl_u64(d, 0, "process", UINT32_MAX);
    uint64_t gen = ctl_u64(d, 0, "gen", 0);
    if (p >= c->n || rid_len >= sizeof c->p[p].rid) return;
    if (c->p[p].local && (gen != c->gen || (pid_t)ctl_i64(d, 0, "pid", 0) != c->p[p].pid)) {
        coord_log("ignored a hello from a stale process %u (generation %llu)", p,
                  (unsigned long long)gen);
        return;
    }
    pid_t pid = (pid_t)ctl_i64(d, 0, "pid", 0);
    if (!c->p[p].local && c->p[p].up && pid != c->p[p].pid) {
        /* Its relay supervisor restarted it: the old one died with its jobs. */
        char why[256], last[160];
        ctl_str(d, 0, "last_exit", last, sizeof last);
        snprintf(why, sizeof why, "process %u (pid %d, remote) died: %s; its host restarted it", p,
                 (int)c->p[p].pid, last[0] ? last : "ended");
        process_lost(c, p, why, 1);
        ctl_w w;
        ctl_w_begin(&w, "exit", 0);
        coord_send_to(c, rid, rid_len, &w); /* rejoin with the others' next generation */
        return;
    }
    memcpy(c->p[p].rid, rid, rid_len);
    c->p[p].rid[rid_len] = 0;
    c->p[p].up = 1;
    if (!c->p[p].local) c->p[p].pid = pid;
    if (!all_up(c)) return;
    if (c->down_since >= 0)
        coord_log("all %u processes up again after %lld ms", c->n,
                  (long long)(mono_ms() - c->down_since));
    else
        coord_log("all %u processes up", c->n);
    c->down_since = -1;
    if (!c->all_up_once) coord_ready(c, "ok %s\n", c->addr);
    c->all_up_once = 1;
    coord_start_pending(c);
}
