/*
 * stall.h - why a dataflow does not progress (internal; runtime/stall.c).
 *
 * A worker waiting in tide_worker_step_until with nothing happening asks
 * stall.c which pointstamps hold its probe's frontier back. The progress
 * tracker knows the counts summed over every worker; to say *which* worker
 * holds a capability, stall.c keeps a ledger per dataflow: the sum of the
 * capability changes each worker has broadcast, per operator, fed by
 * tide__stall_note from the two places progress is applied (worker.c for
 * peers' updates, dataflow.c for the worker's own).
 */
#ifndef TIDE_STALL_H
#define TIDE_STALL_H

#include <stdbool.h>
#include <stdint.h>

#include "message.h"
#include "worker.h"

/* input.c: is @op an input (tide_input_new)? */
bool tide__input_is(const tide_op *op);

/* Count the capability changes in @ps (@n pointstamps) as worker @from's.
 * Worker thread only. Never fails: without memory the ledger is dropped and
 * reports say less. */
void tide__stall_note(tide_dataflow *df, uint32_t from, const tide__pointstamp *ps, uint32_t n);

/*
 * tide__stall_explain - describe what holds back input 0 of @probe (an
 * operator of a sealed dataflow) from passing time @t, after @waited_ms
 * without progress: the worker's error gets a one-line summary (code @code,
 * not sticky), stderr the full list of causes.
 * @return @code.
 */
int tide__stall_explain(tide_op *probe, tide_time t, uint64_t waited_ms, int code, const char *why);

/* Monotonic milliseconds. */
uint64_t tide__now_ms(void);

#endif /* TIDE_STALL_H */
