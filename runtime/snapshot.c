/*
 * snapshot.c - saving and loading a dataflow's operator state
 * (tide/snapshot.h): the quiescence check, the per-worker file (header,
 * one checksummed section per operator, end mark) and the section buffer
 * the operators' hooks write and read.
 *
 * Depends on the operator table of worker.h and on each operator's hooks;
 * knows nothing of any operator's state. Loading reads and checks every
 * section before the first hook runs, so a bad file changes nothing.
 */
#include "tide/snapshot.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY /* XXH64_state_t on the stack */
#include <xxhash.h>

#include "tide/alloc.h"
#include "worker.h"

static const char MAGIC[8] = {'T', 'I', 'D', 'E', 'S', 'T', 'A', '1'};
static const char END[8] = {'T', 'I', 'D', 'E', 'E', 'N', 'D', '1'};

struct tide_snap {
    uint8_t *p;     /* save: growing buffer (tide_alloc); load: the section, borrowed */
    size_t len;     /* bytes in p */
    size_t cap;     /* save: capacity */
    size_t at;      /* load: read position */
    uint64_t epoch; /* save: T; load: the resume epoch */
    tide_op *op;    /* the operator whose section it is */
    tide_error *e;  /* detail of a failure */
};

/* ======================================================================== */
/* The section buffer                                                       */
/* ======================================================================== */

uint64_t tide_snap_epoch(const tide_snap *s)
{
    return s->epoch;
}

int tide_snap_put(tide_snap *s, const void *p, size_t n)
{
    if (n == 0) return TIDE_OK;
    if (s->len + n > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + n) cap *= 2;
        uint8_t *q = tide_realloc(s->p, cap);
        if (q == NULL) return TIDE_ENOMEM;
        s->p = q;
        s->cap = cap;
    }
    memcpy(s->p + s->len, p, n);
    s->len += n;
    return TIDE_OK;
}

size_t tide__snap_len(const tide_snap *s)
{
    return s->len;
}

void tide__snap_patch(tide_snap *s, size_t at, const void *p, size_t n)
{
    memcpy(s->p + at, p, n);
}

void tide__snap_truncate(tide_snap *s, size_t at)
{
    if (at < s->len) s->len = at;
}

int tide_snap_put_u64(tide_snap *s, uint64_t v)
{
    return tide_snap_put(s, &v, sizeof v);
}

static int put_u32(tide_snap *s, uint32_t v)
{
    return tide_snap_put(s, &v, sizeof v);
}

int tide_snap_put_bytes(tide_snap *s, const void *p, uint32_t n)
{
    TIDE_TRY(put_u32(s, n));
    return tide_snap_put(s, p, n);
}

const uint8_t *tide_snap_get_ptr(tide_snap *s, size_t n)
{
    if (s->len - s->at < n) {
        s->at = s->len;
        return NULL;
    }
    const uint8_t *p = s->p + s->at;
    s->at += n;
    return p;
}

int tide_snap_get(tide_snap *s, void *p, size_t n)
{
    const uint8_t *q = tide_snap_get_ptr(s, n);
    if (q == NULL) {
        if (n) memset(p, 0, n);
        return TIDE_EPARSE;
    }
    if (n) memcpy(p, q, n);
    return TIDE_OK;
}

int tide_snap_get_u64(tide_snap *s, uint64_t *v)
{
    return tide_snap_get(s, v, sizeof *v);
}

int tide_snap_get_bytes(tide_snap *s, const uint8_t **p, uint32_t *n)
{
    TIDE_TRY(tide_snap_get(s, n, sizeof *n));
    *p = tide_snap_get_ptr(s, *n);
    return *p || *n == 0 ? TIDE_OK : TIDE_EPARSE;
}

int tide_snap_fail(tide_snap *s, int code, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return tide_err_set(s->e, code, "operator %u '%s': %s", s->op->index, s->op->name, msg);
}

/* ======================================================================== */
/* Quiescence                                                               */
/* ======================================================================== */

/* The net count of @op's capabilities at the time of its change @k (the
 * change batch may hold several uncompacted entries for one time). */
static int64_t held_at(const tide_op *op, uint32_t k)
{
    int64_t n = 0;
    for (uint32_t j = 0; j < op->held.len; j++)
        if (tide_time_eq(op->held.updates[j].time, op->held.updates[k].time))
            n += op->held.updates[j].delta;
    return n;
}

/* Why @df is not quiescent at @epoch (into @why, @cap bytes), or NULL. */
static const char *not_quiescent(const tide_dataflow *df, uint64_t epoch, char *why, size_t cap)
{
    tide_time T = tide_time_epoch(epoch);
    if (!df->sealed) return "it is not sealed";
    if (df->w->rc) return "its worker has failed";
    for (uint32_t i = 0; df->nactive > 0 && i < df->nops; i++)
        if (df->ops[i]->scheduled) {
            snprintf(why, cap, "operator %u '%s' is scheduled (step further)", i, df->ops[i]->name);
            return why;
        }
    if (df->nactive > 0) return "an operator is scheduled (step further)";
    for (uint32_t i = 0; i < df->nops; i++) {
        const tide_op *op = df->ops[i];
        for (uint32_t p = 0; p < op->ninputs; p++) {
            if (op->in[p].len > 0) {
                snprintf(why, cap, "operator %u '%s' has messages queued", i, op->name);
                return why;
            }
            const tide_antichain *f = tide_op_frontier(op, p);
            for (uint32_t k = 0; k < f->len; k++)
                if (!tide_time_le(T, f->elems[k])) {
                    snprintf(why, cap, "operator %u '%s' may still receive epoch %llu", i, op->name,
                             (unsigned long long)f->elems[k].epoch);
                    return why;
                }
        }
        for (uint32_t p = 0; p < op->noutputs; p++)
            if (op->out[p].staged) {
                snprintf(why, cap, "operator %u '%s' has output staged", i, op->name);
                return why;
            }
        for (uint32_t k = 0; k < op->held.len; k++)
            if (!tide_time_le(T, op->held.updates[k].time) && held_at(op, k) != 0) {
                snprintf(why, cap, "operator %u '%s' holds a capability at epoch %llu", i, op->name,
                         (unsigned long long)op->held.updates[k].time.epoch);
                return why;
            }
    }
    return NULL;
}

bool tide_dataflow_quiescent(const tide_dataflow *df, uint64_t epoch)
{
    char why[160];
    return df != NULL && not_quiescent(df, epoch, why, sizeof why) == NULL;
}

/* ======================================================================== */
/* Saving                                                                   */
/* ======================================================================== */

static uint32_t processes_of(const tide_worker *w)
{
    return w->rt->cfg.processes ? w->rt->cfg.processes : 1;
}

/* The header: magic .. name, then its XXH64. */
static int header(tide_snap *s, const tide_dataflow *df, uint64_t epoch)
{
    uint32_t v[5] = {TIDE_SNAPSHOT_VERSION, df->w->index, df->w->peers, processes_of(df->w),
                     df->nops};
    TIDE_TRY(tide_snap_put(s, MAGIC, sizeof MAGIC));
    TIDE_TRY(tide_snap_put(s, v, sizeof v));
    TIDE_TRY(tide_snap_put_u64(s, epoch));
    TIDE_TRY(tide_snap_put_bytes(s, df->name, (uint32_t)strlen(df->name)));
    return tide_snap_put_u64(s, XXH64(s->p, s->len, 0));
}

/* The tag of operator @op's section: index, ports, name, output layouts. */
static int tag(tide_snap *s, const tide_op *op)
{
    uint32_t v[3] = {op->index, op->ninputs, op->noutputs};
    TIDE_TRY(tide_snap_put(s, v, sizeof v));
    TIDE_TRY(tide_snap_put_bytes(s, op->name, (uint32_t)strlen(op->name)));
    for (uint32_t p = 0; p < op->noutputs; p++) {
        uint32_t l[3] = {op->out[p].layout.key_width, op->out[p].layout.val_width,
                         op->out[p].flags};
        TIDE_TRY(tide_snap_put(s, l, sizeof l));
    }
    return TIDE_OK;
}

/* Build operator @op's section in @s (cleared first). */
static int section(tide_snap *s, tide_op *op, tide_error *e)
{
    s->len = 0;
    s->op = op;
    if (tag(s, op) < 0) goto nomem;
    size_t at = s->len;
    if (tide_snap_put_u64(s, 0) < 0) goto nomem;
    if (op->save) {
        int rc = op->save(op, op->state, s);
        if (rc > 0) rc = TIDE_OK;
        if (rc < 0) {
            if (e->code == 0) tide_snap_fail(s, rc, "saving: %s", tide_strerror(rc));
            return rc;
        }
    } else if (!op->stateless) {
        return tide_err_set(e, TIDE_ENOTSUP,
                            "operator %u '%s' keeps state that cannot be saved (no save hook)",
                            op->index, op->name);
    }
    uint64_t n = s->len - at - sizeof n;
    memcpy(s->p + at, &n, sizeof n);
    if (tide_snap_put_u64(s, XXH64(s->p, s->len, 0)) < 0) goto nomem;
    return TIDE_OK;
nomem:
    return tide_err_set(e, TIDE_ENOMEM, "operator %u '%s': out of memory saving", op->index,
                        op->name);
}

int tide_dataflow_save(tide_dataflow *df, uint64_t epoch, FILE *out, tide_error *e)
{
    tide_error dummy;
    if (e == NULL) e = &dummy;
    tide_err_clear(e);
    if (df == NULL || out == NULL || epoch == 0)
        return tide_err_set(e, TIDE_EINVAL, "tide_dataflow_save: no dataflow, no file or epoch 0");
    char why[160];
    const char *nq = not_quiescent(df, epoch, why, sizeof why);
    if (nq)
        return tide_err_set(e, TIDE_ESTATE, "dataflow '%s' is not quiescent at epoch %llu: %s",
                            df->name, (unsigned long long)epoch, nq);
    tide_snap s = {.epoch = epoch, .e = e};
    int rc = header(&s, df, epoch);
    if (rc < 0) rc = tide_err_set(e, rc, "out of memory saving '%s'", df->name);
    if (rc == TIDE_OK && fwrite(s.p, 1, s.len, out) != s.len) rc = TIDE_EIO;
    for (uint32_t i = 0; i < df->nops && rc == TIDE_OK; i++) {
        rc = section(&s, df->ops[i], e);
        if (rc == TIDE_OK && fwrite(s.p, 1, s.len, out) != s.len) rc = TIDE_EIO;
    }
    if (rc == TIDE_OK && fwrite(END, 1, sizeof END, out) != sizeof END) rc = TIDE_EIO;
    if (rc == TIDE_EIO) tide_err_set(e, rc, "saving dataflow '%s': write error", df->name);
    tide_free(s.p);
    return rc;
}

/* ======================================================================== */
/* Loading                                                                  */
/* ======================================================================== */

/* Read exactly @n bytes into @p (also fed to @h when not NULL). */
static bool rd(FILE *f, void *p, size_t n, XXH64_state_t *h)
{
    if (n && fread(p, 1, n, f) != n) return false;
    if (h) XXH64_update(h, p, n);
    return true;
}

typedef struct loaded {
    off_t at;   /* where the operator's state bytes start in the file */
    uint64_t n; /* how many */
} loaded;

#define CHUNK (1u << 20) /* bytes hashed at a time in the checking pass */

#define TRUNC(where) tide_err_set(e, TIDE_EPARSE, "snapshot: truncated %s", where)

static int load_header(tide_dataflow *df, FILE *in, tide_error *e)
{
    XXH64_state_t h;
    XXH64_reset(&h, 0);
    char magic[8];
    uint32_t v[5], nl;
    uint64_t epoch, sum;
    char name[256];
    if (!rd(in, magic, sizeof magic, &h)) return TRUNC("header");
    if (memcmp(magic, MAGIC, sizeof magic) != 0)
        return tide_err_set(e, TIDE_EPARSE, "snapshot: not a tide state snapshot (bad magic)");
    if (!rd(in, v, sizeof v, &h) || !rd(in, &epoch, sizeof epoch, &h) ||
        !rd(in, &nl, sizeof nl, &h))
        return TRUNC("header");
    if (nl >= sizeof name) return tide_err_set(e, TIDE_EPARSE, "snapshot: corrupt header");
    if (!rd(in, name, nl, &h) || !rd(in, &sum, sizeof sum, NULL)) return TRUNC("header");
    name[nl] = 0;
    if (XXH64_digest(&h) != sum)
        return tide_err_set(e, TIDE_EPARSE, "snapshot: header checksum mismatch");
    if (v[0] != TIDE_SNAPSHOT_VERSION)
        return tide_err_set(e, TIDE_EPARSE, "snapshot: format version %u, this is %u", v[0],
                            TIDE_SNAPSHOT_VERSION);
    tide_worker *w = df->w;
    if (v[1] != w->index || v[2] != w->peers || v[3] != processes_of(w))
        return tide_err_set(e, TIDE_EINVAL,
                            "snapshot: saved by worker %u of %u worker(s) in %u process(es), "
                            "this is worker %u of %u in %u",
                            v[1], v[2], v[3], w->index, w->peers, processes_of(w));
    if (strcmp(name, df->name) != 0 || v[4] != df->nops)
        return tide_err_set(
            e, TIDE_EINVAL,
            "snapshot: saved from dataflow '%s' of %u operators, this is '%s' of %u", name, v[4],
            df->name, df->nops);
    return TIDE_OK;
}

/* Check operator @op's section (its bytes hashed through @chunk, CHUNK
 * bytes) and note in @l where its state lies. */
static int load_section(FILE *in, tide_op *op, loaded *l, uint8_t *chunk, tide_error *e)
{
    XXH64_state_t h;
    XXH64_reset(&h, 0);
    uint32_t v[3], nl;
    char name[256];
    if (!rd(in, v, sizeof v, &h) || !rd(in, &nl, sizeof nl, &h)) return TRUNC("operator section");
    if (v[0] != op->index || nl >= sizeof name)
        return tide_err_set(e, TIDE_EPARSE, "snapshot: corrupt section where operator %u is due",
                            op->index);
    if (!rd(in, name, nl, &h)) return TRUNC("operator section");
    name[nl] = 0;
    if (strcmp(name, op->name) != 0 || v[1] != op->ninputs || v[2] != op->noutputs)
        return tide_err_set(e, TIDE_EINVAL,
                            "snapshot: operator %u was '%s' (%u in, %u out), this dataflow has "
                            "'%s' (%u in, %u out)",
                            op->index, name, v[1], v[2], op->name, op->ninputs, op->noutputs);
    for (uint32_t p = 0; p < op->noutputs; p++) {
        uint32_t lw[3];
        if (!rd(in, lw, sizeof lw, &h)) return TRUNC("operator section");
        const tide__outport *o = &op->out[p];
        if (lw[0] != o->layout.key_width || lw[1] != o->layout.val_width || lw[2] != o->flags)
            return tide_err_set(e, TIDE_EINVAL,
                                "snapshot: operator %u '%s' output %u had layout (%d, %d) flags "
                                "%u, this one (%d, %d) flags %u",
                                op->index, op->name, p, (int)lw[0], (int)lw[1], lw[2],
                                (int)o->layout.key_width, (int)o->layout.val_width, o->flags);
    }
    uint64_t sum;
    if (!rd(in, &l->n, sizeof l->n, &h)) return TRUNC("operator section");
    if (l->n > (1ull << 40)) /* beyond any state: a corrupt length */
        return tide_err_set(e, TIDE_EPARSE, "snapshot: operator %u '%s': corrupt section length",
                            op->index, op->name);
    l->at = ftello(in);
    for (uint64_t left = l->n; left > 0;) {
        size_t k = left < CHUNK ? (size_t)left : CHUNK;
        if (!rd(in, chunk, k, &h)) return TRUNC("operator state");
        left -= k;
    }
    if (!rd(in, &sum, sizeof sum, NULL)) return TRUNC("operator section");
    if (XXH64_digest(&h) != sum)
        return tide_err_set(e, TIDE_EPARSE, "snapshot: operator %u '%s': checksum mismatch",
                            op->index, op->name);
    if (l->n > 0 && op->load == NULL)
        return tide_err_set(e, TIDE_EINVAL, "snapshot: operator %u '%s' has state but no load hook",
                            op->index, op->name);
    return TIDE_OK;
}

/* Run operator @op's load hook on its state (read again from @l). */
static int load_apply(FILE *in, tide_op *op, const loaded *l, uint64_t resume, tide_error *e)
{
    uint8_t *data = l->n ? tide_alloc((size_t)l->n) : NULL;
    if (l->n && data == NULL)
        return tide_err_set(e, TIDE_ENOMEM,
                            "snapshot: operator %u '%s': out of memory for %llu bytes of state",
                            op->index, op->name, (unsigned long long)l->n);
    tide_snap s = {.p = data, .len = (size_t)l->n, .epoch = resume, .op = op, .e = e};
    int rc = TIDE_OK;
    if (l->n && (fseeko(in, l->at, SEEK_SET) != 0 || !rd(in, data, (size_t)l->n, NULL)))
        rc = tide_snap_fail(&s, TIDE_EIO, "its state cannot be read again (the file changed?)");
    if (rc == TIDE_OK) rc = op->load(op, op->state, &s);
    if (rc > 0) rc = TIDE_OK;
    if (rc < 0 && e->code == 0) tide_snap_fail(&s, rc, "loading: %s", tide_strerror(rc));
    if (rc == TIDE_OK && s.at != s.len)
        rc = tide_snap_fail(&s, TIDE_EPARSE, "%zu byte(s) of its state left unread", s.len - s.at);
    tide_free(data);
    return rc;
}

/*
 * Two passes: the first checks the header and every section (hashing the
 * state bytes a chunk at a time, noting where each lies), the second reads
 * each operator's state again, one at a time, and runs its hook. So a bad
 * file changes nothing, and memory holds one operator's state bytes at
 * most (not the whole file).
 */
int tide_dataflow_load(tide_dataflow *df, FILE *in, uint64_t resume, tide_error *e)
{
    tide_error dummy;
    if (e == NULL) e = &dummy;
    tide_err_clear(e);
    if (df == NULL || in == NULL || resume == 0)
        return tide_err_set(e, TIDE_EINVAL, "tide_dataflow_load: no dataflow, no file or resume 0");
    if (df->sealed)
        return tide_err_set(e, TIDE_ESTATE, "tide_dataflow_load: dataflow '%s' is already sealed",
                            df->name);
    if (ftello(in) < 0)
        return tide_err_set(e, TIDE_EINVAL, "tide_dataflow_load: the file is not seekable");
    TIDE_TRY(load_header(df, in, e));
    loaded *ls = tide_calloc(df->nops + 1, sizeof *ls);
    uint8_t *chunk = tide_alloc(CHUNK);
    int rc = ls && chunk ? TIDE_OK
                         : tide_err_set(e, TIDE_ENOMEM, "out of memory loading '%s'", df->name);
    for (uint32_t i = 0; i < df->nops && rc == TIDE_OK; i++)
        rc = load_section(in, df->ops[i], &ls[i], chunk, e);
    char end[8];
    if (rc == TIDE_OK && (!rd(in, end, sizeof end, NULL) || memcmp(end, END, sizeof end) != 0))
        rc = TRUNC("end (no end mark)");
    tide_free(chunk);
    off_t after = rc == TIDE_OK ? ftello(in) : -1;
    for (uint32_t i = 0; i < df->nops && rc == TIDE_OK; i++)
        if (df->ops[i]->load) rc = load_apply(in, df->ops[i], &ls[i], resume, e);
    if (rc == TIDE_OK && fseeko(in, after, SEEK_SET) != 0) /* leave it after the end mark */
        rc = tide_err_set(e, TIDE_EIO, "snapshot: cannot seek back to its end");
    tide_free(ls);
    return rc;
}
