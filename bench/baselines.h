/*
 * baselines.h - hand-written single-threaded baselines (bench/baseline_*.c).
 */
#ifndef TIDE_BENCH_BASELINES_H
#define TIDE_BENCH_BASELINES_H

#include "common.h"

/* Count the words of @text into @t; returns the number of words. */
uint64_t baseline_wordcount(const char *text, size_t len, bench_wordtab *t);

/* Hash-partition @n u64 records into @peers arrays; seconds taken. */
double baseline_exchange(uint64_t n, uint32_t peers);

#endif
