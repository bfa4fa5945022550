/*
 * wire_build.h - hand-built DATA frames for tests: every field of the body
 * chosen freely (widths, len, flags, each BIN's bytes), so that a test can
 * make the frames tide's encoder never would: wrong layouts, declared sizes
 * that do not match the BINs, bad variable-width offsets. The bytes follow
 * docs/wire.md exactly (msgpack-c's packer), so everything but the chosen
 * fault is valid.
 */
#ifndef TIDE_TEST_WIRE_BUILD_H
#define TIDE_TEST_WIRE_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include "tide/time.h"

/* The six BINs of a DATA body, in wire order. */
enum { WB_KOFFS, WB_KBYTES, WB_VOFFS, WB_VBYTES, WB_TIMES, WB_DIFFS, WB_NBINS };

typedef struct wire_build {
    uint32_t dataflow, channel, from, to;
    tide_time time;
    uint32_t flags, key_width, val_width, len;
    const void *bin[WB_NBINS]; /* borrowed; NULL with binlen 0 is an empty BIN */
    size_t binlen[WB_NBINS];
} wire_build;

/* wire_build_data - the DATA frame of @d, malloc'd; its size in *@n. */
uint8_t *wire_build_data(const wire_build *d, size_t *n);

/* wire_build_u64 - a valid one-column frame: @len records of key width 8
 * (big-endian @first, @first + 1, ...), value width 0, plain, at epoch
 * @epoch; for the given dataflow, channel, sender and receiver. */
uint8_t *wire_build_u64(uint32_t dataflow, uint32_t channel, uint32_t from, uint32_t to,
                        uint64_t epoch, uint64_t first, uint32_t len, size_t *n);

#endif /* TIDE_TEST_WIRE_BUILD_H */
