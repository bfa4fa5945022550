/*
 * fold.h - internals of tide_fold shared with its tests: the output a fold
 * step writes to, so that an oracle can run a tide_fold_fn from scratch.
 */
#ifndef TIDE_FOLD_INT_H
#define TIDE_FOLD_INT_H

#include "tide/fold.h"

/* Outputs are appended to @outs as: u32 len (native) | bytes | i64 diff. */
struct tide_fold_out {
    tide_rowbuf *outs; /* borrowed */
    uint32_t width;    /* output value width or TIDE_VAR */
    int rc;            /* first error */
};

#endif /* TIDE_FOLD_INT_H */
