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
