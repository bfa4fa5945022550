/*
 * tide/tide.h - the whole public API of tide in one include.
 *
 *   #include "tide/tide.h"
 *
 * gives every public header of include/tide/: the timely layer (dataflow.h:
 * workers, dataflows, scopes, operators; ops.h: inputs, probes, the
 * record-at-a-time operators, loops), the differential layer (collection.h:
 * collections, arrangements, join, reduce, iterate, constant collections;
 * trace.h: traces, batchers, spines, cursors), and their building blocks
 * (record.h, batch.h, time.h, config.h, error.h, alloc.h). Every header is
 * also self-contained and may be included on its own. docs/tutorial.md walks
 * through a first program.
 */
#ifndef TIDE_TIDE_H
#define TIDE_TIDE_H

#define TIDE_VERSION "0.1.0"

#include "tide/alloc.h"
#include "tide/batch.h"
#include "tide/collection.h"
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
#include "tide/snapshot.h"
#include "tide/time.h"
#include "tide/trace.h"

#endif /* TIDE_TIDE_H */
