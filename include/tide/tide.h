/*
 * tide/tide.h - the whole public API of tide.
 */
#ifndef TIDE_TIDE_H
#define TIDE_TIDE_H

#define TIDE_VERSION "0.1.0"

#include "tide/alloc.h"
#include "tide/batch.h"
#include "tide/config.h"
#include "tide/dataflow.h"
#include "tide/error.h"
#include "tide/fold.h"
#include "tide/lines.h"
#include "tide/max_by.h"
#include "tide/ops.h"
#include "tide/record.h"
#include "tide/row.h"
#include "tide/scratch.h"
#include "tide/sink.h"
#include "tide/time.h"

#endif /* TIDE_TIDE_H */
