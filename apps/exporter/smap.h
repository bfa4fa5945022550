/*
 * smap.h - a byte string -> int64 hash map (stream name -> offset, a row's
 * key -> its change), insertion order kept for iteration. Keys are copied
 * (with a NUL after them, so a text key reads as a C string) and may hold
 * 0x00 bytes: lens[] gives their lengths. Plain malloc.
 */
#ifndef FX_SMAP_H
#define FX_SMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fx_smap {
    char **keys;     /* insertion order */
    uint32_t *lens;  /* parallel to keys: bytes of each key */
    int64_t *vals;   /* parallel to keys */
    uint32_t *slots; /* open addressing: index + 1 into keys, 0 = empty */
    uint32_t n, cap, nslots;
} fx_smap;

void fx_smap_init(fx_smap *m);
void fx_smap_fini(fx_smap *m);
/* The value of @key (@n bytes), or NULL. */
int64_t *fx_smap_get(const fx_smap *m, const char *key, size_t n);
/* The value of @key, inserted as @def if missing; NULL on ENOMEM. */
int64_t *fx_smap_put(fx_smap *m, const char *key, size_t n, int64_t def);

#endif /* FX_SMAP_H */
