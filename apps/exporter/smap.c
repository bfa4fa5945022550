/*
 * smap.c - string -> int64 map (see smap.h): keys in an array, an open
 * addressing index of slots over them (load <= 1/2).
 */
#include "smap.h"

#include <stdlib.h>
#include <string.h>

#include "tide/record.h"

void fx_smap_init(fx_smap *m)
{
    memset(m, 0, sizeof *m);
}

void fx_smap_fini(fx_smap *m)
{
    for (uint32_t i = 0; i < m->n; i++) free(m->keys[i]);
    free(m->keys);
    free(m->lens);
    free(m->vals);
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static uint32_t find(const fx_smap *m, const char *key, size_t n, bool *hit)
{
    uint32_t mask = m->nslots - 1, i = (uint32_t)tide_hash(key, n) & mask;
    for (;; i = (i + 1) & mask) {
        uint32_t s = m->slots[i];
        if (s == 0) break;
        if (m->lens[s - 1] == n && memcmp(m->keys[s - 1], key, n) == 0) {
            *hit = true;
            return i;
        }
    }
    *hit = false;
    return i;
}

int64_t *fx_smap_get(const fx_smap *m, const char *key, size_t n)
{
    if (m->nslots == 0) return NULL;
    bool hit;
    uint32_t i = find(m, key, n, &hit);
    return hit ? &m->vals[m->slots[i] - 1] : NULL;
}

static int grow(fx_smap *m)
{
    uint32_t ns = m->nslots ? m->nslots * 2 : 64;
    uint32_t *slots = calloc(ns, sizeof *slots);
    char **keys = realloc(m->keys, ns / 2 * sizeof *keys);
    if (keys) m->keys = keys;
    uint32_t *lens = realloc(m->lens, ns / 2 * sizeof *lens);
    if (lens) m->lens = lens;
    int64_t *vals = realloc(m->vals, ns / 2 * sizeof *vals);
    if (vals) m->vals = vals;
    if (!slots || !keys || !lens || !vals) {
        free(slots);
        return -1;
    }
    free(m->slots);
    m->slots = slots;
    m->nslots = ns;
    m->cap = ns / 2;
    for (uint32_t k = 0; k < m->n; k++) {
        bool hit;
        uint32_t i = find(m, m->keys[k], m->lens[k], &hit);
        m->slots[i] = k + 1;
    }
    return 0;
}

int64_t *fx_smap_put(fx_smap *m, const char *key, size_t n, int64_t def)
{
    int64_t *v = fx_smap_get(m, key, n);
    if (v) return v;
    if (m->n + 1 > m->cap && grow(m) < 0) return NULL;
    char *k = malloc(n + 1);
    if (k == NULL) return NULL;
    memcpy(k, key, n);
    k[n] = 0;
    bool hit;
    uint32_t i = find(m, key, n, &hit);
    m->keys[m->n] = k;
    m->lens[m->n] = (uint32_t)n;
    m->vals[m->n] = def;
    m->slots[i] = ++m->n;
    return &m->vals[m->n - 1];
}
