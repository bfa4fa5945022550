/*
 * gen.h - a realistic factory event log (tide-gen-factory).
 *
 * Machines (tag machineFish) are set up, started and stopped per order
 * step, sometimes paused (stopped and started again) mid-step; workers (tag
 * workerFish) start a step on a machine, report produced counts, stop, and
 * report the step 'finished' (not always: some steps stay unbooked). A few
 * stray 'stopped' events hit idle machines. Causality: one global Lamport
 * clock. Each device's wall clock is off by a fixed skew in [-D, +D] ms,
 * and the log is written in wall-clock (timestamp) order, so file order
 * and causal order differ; each stream's offsets still count up by one.
 */
#ifndef FX_GEN_H
#define FX_GEN_H

#include <stdint.h>
#include <stdio.h>

typedef struct fx_gen_opts {
    uint32_t machines, workers, orders;
    uint64_t events;
    uint64_t seed;
    uint32_t skew_ms;
    int msgpack; /* 0: JSON Lines */
} fx_gen_opts;

/* Write the log to @f. Returns 0, or -1 on a write error. */
int fx_gen(const fx_gen_opts *o, FILE *f);

#endif /* FX_GEN_H */
