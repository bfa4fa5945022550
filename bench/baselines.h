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

/* BFS from @root over the @nedges edges src[i] -> dst[i] of a graph of
 * @nodes nodes, from scratch (CSR build + queue): hop distances into @dist
 * (UINT32_MAX: unreached); returns the number of nodes reached. */
uint64_t baseline_bfs(uint64_t nodes, const uint64_t *src, const uint64_t *dst, uint64_t nedges,
                      uint64_t root, uint32_t *dist);

#endif
