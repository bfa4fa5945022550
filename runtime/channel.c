/*
 * channel.c - moving batches along the edges of the graph.
 *
 * PIPELINE hands the batch itself to the destination input on this worker.
 * EXCHANGE partitions records by the hash of their key into one staged
 * batch per destination worker; staged batches leave when full and when
 * the sending operator's activation ends. BROADCAST sends one reference of
 * the batch to every worker. Every message sent records +1 at the
 * destination input port (at the batch's time) before it leaves, so the
 * count is never behind the message.
 */
#include <stdio.h>

#include "cluster.h"
#include "tide/alloc.h"
#include "transport.h"
#include "worker.h"

int tide__deliver_local(tide_dataflow *df, uint32_t chan, tide_batch *b)
{
    tide__channel *ch = df->chans[chan];
    return tide__op_enqueue(df->ops[ch->dst_op], ch->dst_port, b);
}

/* Send @b (taken) on @ch to worker @dst, counting it first. */
static int send_to(tide_dataflow *df, tide__channel *ch, uint32_t dst, tide_batch *b)
{
    int rc = tide__df_change(df, ch->dst_op, ch->dst_port, false, b->time, 1);
    if (rc < 0) {
        tide_batch_unref(b);
        return rc;
    }
    if (dst == df->w->index) return tide__deliver_local(df, ch->id, b);
    tide__msg m = {.kind = TIDE__MSG_DATA, .dataflow = df->index, .channel = ch->id};
    m.batch = b;
    return tide__worker_send(df->w, dst, &m);
}

static int flush_stage(tide_dataflow *df, tide__channel *ch, uint32_t dst)
{
    tide_batch *b = ch->stage[dst];
    if (b == NULL || b->len == 0) return TIDE_OK;
    ch->stage[dst] = NULL;
    return send_to(df, ch, dst, b);
}

int tide__channel_flush(tide_dataflow *df, tide__channel *ch)
{
    if (ch->stage == NULL) return TIDE_OK;
    for (uint32_t d = 0; d < df->w->peers; d++) TIDE_TRY(flush_stage(df, ch, d));
    return TIDE_OK;
}

static int exchange(tide_dataflow *df, tide__channel *ch, tide_batch *b)
{
    uint32_t peers = df->w->peers;
    if (ch->stage == NULL) {
        ch->stage = tide_calloc(peers, sizeof *ch->stage);
        if (ch->stage == NULL) goto nomem;
    }
    for (uint32_t d = 0; d < peers; d++) {
        tide_batch *s = ch->stage[d];
        if (s && !tide_time_eq(s->time, b->time)) {
            if (s->len == 0) {
                s->time = b->time;
            } else if (flush_stage(df, ch, d) < 0) {
                tide_batch_unref(b);
                return df->w->rc;
            }
        }
        if (ch->stage[d] == NULL) {
            /* A stage leaves once it holds TIDE_BATCH_RECORDS, and one input
             * batch adds at most as many: twice that never has to grow. */
            ch->stage[d] = tide_batch_new(b->layout, b->flags, 2 * TIDE_BATCH_RECORDS);
            if (ch->stage[d] == NULL) goto nomem;
            ch->stage[d]->time = b->time;
        }
    }
    if (tide_batch_partition(b, ch->stage, peers) < 0) goto nomem;
    tide_batch_unref(b);
    for (uint32_t d = 0; d < peers; d++)
        if (tide_batch_full(ch->stage[d])) TIDE_TRY(flush_stage(df, ch, d));
    return TIDE_OK;
nomem:
    tide_batch_unref(b);
    return tide__worker_fail(df->w, TIDE_ENOMEM, "out of memory exchanging records");
}

int tide__channel_send(tide_dataflow *df, tide__channel *ch, tide_batch *b)
{
    switch (ch->pact) {
    case TIDE_PIPELINE:
        return send_to(df, ch, df->w->index, b);
    case TIDE_EXCHANGE:
        return exchange(df, ch, b);
    case TIDE_BROADCAST:
        for (uint32_t d = 0; d + 1 < df->w->peers; d++)
            TIDE_TRY(send_to(df, ch, d, tide_batch_ref(b)));
        return send_to(df, ch, df->w->peers - 1, b);
    }
    tide_batch_unref(b);
    return TIDE_EINVAL;
}

/* ---- checking what arrives ------------------------------------------------------ */

static const char *width_name(uint32_t width, char *buf, size_t size)
{
    if (width == TIDE_VAR) return "variable";
    snprintf(buf, size, "%u bytes", width);
    return buf;
}

/* Why @b does not fit @ch ("" if it does). Record times are looked at only
 * for a batch from another process (@remote): this process's own operators
 * keep them in their scope. */
static void misfit(const tide__channel *ch, const tide_batch *b, bool remote, char *why,
                   size_t size)
{
    char w[4][24];
    why[0] = '\0';
    if (!tide_layout_eq(b->layout, ch->layout)) {
        snprintf(
            why, size, "records of key %s, value %s; the channel carries key %s, value %s",
            width_name(b->layout.key_width, w[0], 24), width_name(b->layout.val_width, w[1], 24),
            width_name(ch->layout.key_width, w[2], 24), width_name(ch->layout.val_width, w[3], 24));
        return;
    }
    if (b->flags != ch->flags) {
        snprintf(why, size, "%s; the channel carries %s",
                 b->flags & TIDE_BATCH_UPDATES ? "updates" : "plain records",
                 ch->flags & TIDE_BATCH_UPDATES ? "updates" : "plain records");
        return;
    }
    /* A scope at depth d uses time coordinates 0..d only (tide/time.h). */
    uint32_t bad = 0;
    for (uint32_t d = ch->depth; d < 2; d++) bad |= b->time.iter[d];
    for (uint32_t i = 0; remote && (b->flags & TIDE_BATCH_UPDATES) && i < b->len; i++)
        for (uint32_t d = ch->depth; d < 2; d++) bad |= b->times[i].iter[d];
    if (bad)
        snprintf(why, size, "a time with loop coordinates past the channel's scope depth %u",
                 ch->depth);
}

/*
 * tide__channel_check - DATA message @m (from another worker, perhaps of
 * another process) fits its channel: the channel exists, and the batch has
 * the channel's layout, flags and time depth. The wire decoder has checked
 * the batch's own consistency (column sizes, offsets, record times), so a
 * batch that passes is safe for every operator to read. A misfit fails the
 * worker with TIDE_EPROTO naming the sender (process and host:port).
 */
int tide__channel_check(tide_dataflow *df, const tide__msg *m)
{
    tide_worker *w = df->w;
    const tide_config *cfg = &w->rt->cfg;
    bool remote = m->from / cfg->workers != cfg->process;
    char why[200];
    if (m->channel >= df->nchans)
        snprintf(why, sizeof why, "there is no channel %u", m->channel);
    else
        misfit(df->chans[m->channel], m->batch, remote, why, sizeof why);
    if (why[0] == '\0') return TIDE_OK;
    char peer[TIDE__HOST_MAX + 64];
    tide__cluster_describe(cfg, m->from, peer, sizeof peer);
    return tide__worker_fail(w, TIDE_EPROTO,
                             "worker %u: DATA from %s, dataflow '%s' channel %u: %s", w->index,
                             peer, df->name, m->channel, why);
}
