/*
 * baseline_bfs.c - the hand-written single-threaded BFS that bench_bfs
 * compares against: build a CSR adjacency from the current edge list
 * (counting sort by source), then a queue BFS from the root. Recomputed
 * from scratch each time; no incremental state.
 */
#include <stdlib.h>
#include <string.h>

#include "baselines.h"

uint64_t baseline_bfs(uint64_t nodes, const uint64_t *src, const uint64_t *dst, uint64_t nedges,
                      uint64_t root, uint32_t *dist)
{
    uint64_t *off = calloc(nodes + 1, sizeof *off);
    uint64_t *adj = malloc((nedges ? nedges : 1) * sizeof *adj);
    uint64_t *queue = malloc(nodes * sizeof *queue);
    for (uint64_t i = 0; i < nedges; i++) off[src[i] + 1]++;
    for (uint64_t n = 0; n < nodes; n++) off[n + 1] += off[n];
    uint64_t *fill = malloc((nodes + 1) * sizeof *fill);
    memcpy(fill, off, (nodes + 1) * sizeof *fill);
    for (uint64_t i = 0; i < nedges; i++) adj[fill[src[i]]++] = dst[i];
    free(fill);
    memset(dist, 0xff, nodes * sizeof *dist);
    uint64_t head = 0, tail = 0;
    dist[root] = 0;
    queue[tail++] = root;
    while (head < tail) {
        uint64_t x = queue[head++];
        for (uint64_t e = off[x]; e < off[x + 1]; e++) {
            uint64_t y = adj[e];
            if (dist[y] == UINT32_MAX) {
                dist[y] = dist[x] + 1;
                queue[tail++] = y;
            }
        }
    }
    free(off);
    free(adj);
    free(queue);
    return tail;
}
