/*
 * coord_jobs.c - a job's lifecycle in the coordinator.
 *
 * A job is accepted ("submit", pending), sent to every process once all are
 * up ("start", running), and ends when every process reported it ("wdone"):
 * done, failed (the first error wins, the rest are cancelled) or cancelled.
 * Its output ("wout") goes to the attached submitter. The last MAX_KEPT ended
 * jobs are remembered for `tide jobs`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_int.h"
#include "tide/error.h"

static void job_notify_done(coord *c, job *j)
{
    ctl_w w;
    ctl_w_begin(&w, "done", 4);
    ctl_w_u64(&w, "id", j->id);
    ctl_w_i64(&w, "rc", j->rc);
    ctl_w_str(&w, "state", jstate(j->state));
    ctl_w_str(&w, "msg", j->msg);
    coord_send_to(c, j->rid, j->rid_len, &w);
}

static void job_release(job *j)
{
    if (j->has_submit) zmq_msg_close(&j->submit);
    j->has_submit = 0;
}

/* Forget the oldest finished jobs beyond MAX_KEPT. */
static void trim_jobs(coord *c)
{
    job **pp = &c->jobs;
    while (c->njobs > MAX_KEPT && *pp) {
        job *j = *pp;
        if (j->state >= J_DONE) {
            *pp = j->next;
            if (c->jobs_tail == j) c->jobs_tail = NULL;
            job_release(j);
            free(j);
            c->njobs--;
        } else {
            pp = &j->next;
        }
    }
    if (c->jobs_tail == NULL)
        for (job *j = c->jobs; j; j = j->next) c->jobs_tail = j;
}

void coord_job_finish(coord *c, job *j, int state, int rc, const char *msg)
{
    j->state = state;
    j->rc = rc;
    if (msg) snprintf(j->msg, sizeof j->msg, "%s", msg);
    j->end_us = wall_us();
    job_release(j);
    coord_log("job %llu (%s) %s%s%s", (unsigned long long)j->id, j->name, jstate(state),
              j->msg[0] ? ": " : "", j->msg);
    job_notify_done(c, j);
}

static void job_cancel_rest(coord *c, job *j)
{
    for (uint32_t p = 0; p < c->n; p++) {
        if (j->reported >> p & 1) continue;
        ctl_w w;
        ctl_w_begin(&w, "cancel", 1);
        ctl_w_u64(&w, "id", j->id);
        coord_send_proc(c, p, &w);
    }
}

/* Send every pending job to every process once all are up. */
void coord_start_pending(coord *c)
{
    if (!all_up(c)) return;
    for (job *j = c->jobs; j; j = j->next) {
        if (j->state != J_PENDING) continue;
        /* The submit frame is forwarded as is, retyped: "start" + id. */
        ctl_doc d;
        if (ctl_parse(&d, zmq_msg_data(&j->submit), zmq_msg_size(&j->submit)) < 0) {
            ctl_doc_fini(&d);
            coord_job_finish(c, j, J_FAILED, TIDE_EPROTO, "malformed submit");
            continue;
        }
        size_t so_len = 0;
        const char *so = ctl_bytes(&d, 0, "so", &so_len);
        int args = ctl_get(&d, 0, "args");
        ctl_w w;
        ctl_w_begin(&w, "start", 4);
        ctl_w_u64(&w, "id", j->id);
        ctl_w_str(&w, "name", j->name);
        ctl_w_bin(&w, "so", so, so_len);
        ctl_w_key(&w, "args");
        uint32_t na = args >= 0 && d.nodes[args].kind == CTL_ARR ? d.nodes[args].n : 0;
        msgpack_pack_array(&w.pk, na);
        for (int a = na ? d.nodes[args].child : -1; a >= 0; a = d.nodes[a].next) {
            if (d.nodes[a].kind == CTL_STR)
                ctl_w_strn(&w, NULL, d.nodes[a].p, d.nodes[a].n);
            else
                ctl_w_str(&w, NULL, "");
        }
        for (uint32_t p = 0; p < c->n; p++) {
            zmq_send(c->router, c->p[p].rid, strlen(c->p[p].rid), ZMQ_SNDMORE);
            zmq_send(c->router, w.sb.data, w.sb.size, 0);
        }
        ctl_w_fini(&w);
        ctl_doc_fini(&d);
        job_release(j);
        j->state = J_RUNNING;
        j->start_us = wall_us();
        coord_log("job %llu (%s) started", (unsigned long long)j->id, j->name);
    }
}

static int is_elf_so(const char *p, size_t n)
{
    /* ELF magic, and e_type (bytes 16-17, little-endian here) ET_DYN = 3. */
    return n >= 18 && memcmp(p, "\177ELF", 4) == 0 && (uint8_t)p[16] == 3 && p[17] == 0;
}

void coord_on_submit(coord *c, const uint8_t *rid, size_t rid_len, zmq_msg_t *m, const ctl_doc *d)
{
    char name[64];
    size_t so_len = 0;
    const char *so = ctl_bytes(d, 0, "so", &so_len);
    ctl_str(d, 0, "name", name, sizeof name);
    if (so == NULL || name[0] == 0)
        return coord_send_error(c, rid, rid_len, "malformed submit (needs name and so)");
    if (!is_elf_so(so, so_len))
        return coord_send_error(
            c, rid, rid_len,
            "%s: not a shared object (no ELF header of type ET_DYN); build jobs "
            "with 'cc -shared -fPIC'",
            name);
    if (c->stopping) return coord_send_error(c, rid, rid_len, "the cluster is stopping");
    job *j = calloc(1, sizeof *j);
    if (j == NULL) return coord_send_error(c, rid, rid_len, "out of memory");
    j->id = c->next_id++;
    snprintf(j->name, sizeof j->name, "%s", name);
    if (!ctl_i64(d, 0, "detach", 0)) {
        memcpy(j->rid, rid, rid_len);
        j->rid_len = rid_len;
    }
    j->state = J_PENDING;
    j->start_us = wall_us();
    zmq_msg_init(&j->submit);
    zmq_msg_move(&j->submit, m);
    j->has_submit = 1;
    if (c->jobs_tail)
        c->jobs_tail->next = j;
    else
        c->jobs = j;
    c->jobs_tail = j;
    c->njobs++;
    ctl_w w;
    ctl_w_begin(&w, "accepted", 1);
    ctl_w_u64(&w, "id", j->id);
    coord_send_to(c, rid, rid_len, &w);
    coord_log("job %llu (%s) submitted (%zu bytes)", (unsigned long long)j->id, j->name, so_len);
    coord_start_pending(c);
    trim_jobs(c);
}

void coord_on_cancel(coord *c, const uint8_t *rid, size_t rid_len, const ctl_doc *d)
{
    uint64_t id = ctl_u64(d, 0, "id", 0);
    job *j = find_job(c, id);
    if (j == NULL)
        return coord_send_error(c, rid, rid_len, "no job %llu ('tide jobs' lists the jobs)",
                                (unsigned long long)id);
    if (j->state >= J_DONE)
        return coord_send_error(c, rid, rid_len, "job %llu (%s) already finished (%s)",
                                (unsigned long long)id, j->name, jstate(j->state));
    j->cancel_req = 1;
    if (j->state == J_PENDING)
        coord_job_finish(c, j, J_CANCELLED, TIDE_ECLOSED, "cancelled");
    else
        job_cancel_rest(c, j);
    ctl_w w;
    ctl_w_begin(&w, "ok", 1);
    ctl_w_u64(&w, "id", id);
    coord_send_to(c, rid, rid_len, &w);
}

/* A process reported job @id done with @rc. */
void coord_on_wdone(coord *c, uint32_t p, const ctl_doc *d)
{
    job *j = find_job(c, ctl_u64(d, 0, "id", 0));
    if (j == NULL || j->state != J_RUNNING) return;
    int rc = (int)ctl_i64(d, 0, "rc", TIDE_EPROTO);
    j->reported |= 1ull << p;
    if (rc < 0 && rc != TIDE_ECLOSED && j->rc == 0 && !j->cancel_req) {
        char msg[400];
        ctl_str(d, 0, "msg", msg, sizeof msg);
        j->rc = rc;
        snprintf(j->msg, sizeof j->msg, "%s", msg[0] ? msg : "failed");
        job_cancel_rest(c, j); /* the job fails everywhere, the workers live on */
    }
    if ((j->reported & all_mask(c)) != all_mask(c)) return;
    if (j->cancel_req)
        coord_job_finish(c, j, J_CANCELLED, TIDE_ECLOSED, "cancelled");
    else if (j->rc < 0)
        coord_job_finish(c, j, J_FAILED, j->rc, NULL);
    else
        coord_job_finish(c, j, J_DONE, 0, "");
}

void coord_on_wout(coord *c, const ctl_doc *d)
{
    job *j = find_job(c, ctl_u64(d, 0, "id", 0));
    size_t n = 0;
    const char *data = ctl_bytes(d, 0, "data", &n);
    if (j == NULL || j->rid_len == 0 || data == NULL) return;
    ctl_w w;
    ctl_w_begin(&w, "out", 3);
    ctl_w_u64(&w, "id", j->id);
    ctl_w_u64(&w, "fd", ctl_u64(d, 0, "fd", 1) == 2 ? 2 : 1);
    ctl_w_bin(&w, "data", data, n);
    coord_send_to(c, j->rid, j->rid_len, &w);
}

void coord_jobs_free(coord *c)
{
    for (job *j = c->jobs, *nx; j; j = nx) {
        nx = j->next;
        job_release(j);
        free(j);
    }
}
