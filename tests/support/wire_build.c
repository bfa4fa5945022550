/*
 * wire_build.c - hand-built DATA frames (see wire_build.h).
 */
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "tide/record.h"
#include "wire.h"
#include "wire_build.h"

uint8_t *wire_build_data(const wire_build *d, size_t *n)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_str(&pk, 4);
    msgpack_pack_str_body(&pk, "tide", 4);
    msgpack_pack_uint32(&pk, TIDE__WIRE_VERSION);
    msgpack_pack_uint32(&pk, 2); /* DATA */
    msgpack_pack_array(&pk, 15);
    msgpack_pack_uint32(&pk, d->dataflow);
    msgpack_pack_uint32(&pk, d->channel);
    msgpack_pack_uint32(&pk, d->from);
    msgpack_pack_uint32(&pk, d->to);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_uint64(&pk, d->time.epoch);
    msgpack_pack_uint32(&pk, d->time.iter[0]);
    msgpack_pack_uint32(&pk, d->time.iter[1]);
    msgpack_pack_uint32(&pk, d->flags);
    msgpack_pack_uint32(&pk, d->key_width);
    msgpack_pack_uint32(&pk, d->val_width);
    msgpack_pack_uint32(&pk, d->len);
    for (int k = 0; k < WB_NBINS; k++) {
        msgpack_pack_bin(&pk, d->binlen[k]);
        if (d->binlen[k]) msgpack_pack_bin_body(&pk, d->bin[k], d->binlen[k]);
    }
    *n = sb.size;
    uint8_t *p = malloc(sb.size);
    memcpy(p, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    return p;
}

uint8_t *wire_build_u64(uint32_t dataflow, uint32_t channel, uint32_t from, uint32_t to,
                        uint64_t epoch, uint64_t first, uint32_t len, size_t *n)
{
    uint8_t *keys = malloc((size_t)len * 8 + 1);
    for (uint32_t i = 0; i < len; i++) tide_u64_store(keys + (size_t)i * 8, first + i);
    wire_build d = {.dataflow = dataflow,
                    .channel = channel,
                    .from = from,
                    .to = to,
                    .time = tide_time_epoch(epoch),
                    .key_width = 8,
                    .val_width = 0,
                    .len = len};
    d.bin[WB_KBYTES] = keys;
    d.binlen[WB_KBYTES] = (size_t)len * 8;
    uint8_t *p = wire_build_data(&d, n);
    free(keys);
    return p;
}
