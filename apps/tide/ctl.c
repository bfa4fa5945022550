/*
 * ctl.c - encode and decode control messages (see ctl.h, docs/cluster.md).
 *
 * The reader accepts any msgpack integer encoding, strings, binaries,
 * arrays and maps nested up to MAX_DEPTH; extension types are refused.
 * Every declared count is checked against the bytes left (each element
 * takes at least one byte), so memory is bounded by the frame's size.
 */
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

#define MAX_DEPTH 16

/* ======================================================================== */
/* Writing                                                                  */
/* ======================================================================== */

void ctl_w_begin(ctl_w *w, const char *t, uint32_t nfields)
{
    msgpack_sbuffer_init(&w->sb);
    msgpack_packer_init(&w->pk, &w->sb, msgpack_sbuffer_write);
    msgpack_pack_map(&w->pk, nfields + 1);
    ctl_w_str(w, "t", t);
}

void ctl_w_fini(ctl_w *w)
{
    msgpack_sbuffer_destroy(&w->sb);
}

void ctl_w_key(ctl_w *w, const char *key)
{
    if (key == NULL) return;
    size_t n = strlen(key);
    msgpack_pack_str(&w->pk, n);
    msgpack_pack_str_body(&w->pk, key, n);
}

void ctl_w_strn(ctl_w *w, const char *key, const char *s, size_t n)
{
    ctl_w_key(w, key);
    msgpack_pack_str(&w->pk, n);
    if (n) msgpack_pack_str_body(&w->pk, s, n);
}

void ctl_w_str(ctl_w *w, const char *key, const char *s)
{
    ctl_w_strn(w, key, s ? s : "", s ? strlen(s) : 0);
}

void ctl_w_u64(ctl_w *w, const char *key, uint64_t v)
{
    ctl_w_key(w, key);
    msgpack_pack_uint64(&w->pk, v);
}

void ctl_w_i64(ctl_w *w, const char *key, int64_t v)
{
    ctl_w_key(w, key);
    msgpack_pack_int64(&w->pk, v);
}

void ctl_w_bin(ctl_w *w, const char *key, const void *p, size_t n)
{
    ctl_w_key(w, key);
    msgpack_pack_bin(&w->pk, n);
    if (n) msgpack_pack_bin_body(&w->pk, p, n);
}

/* ======================================================================== */
/* Reading                                                                  */
/* ======================================================================== */

static int need(ctl_doc *d, size_t n)
{
    return d->size - d->pos >= n;
}

static uint64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v = v << 8 | p[i];
    return v;
}

/* Read an @n-byte big-endian length/count; -1 if the frame ends first. */
static int take(ctl_doc *d, int n, uint64_t *v)
{
    if (!need(d, (size_t)n)) return -1;
    *v = be(d->buf + d->pos, n);
    d->pos += (size_t)n;
    return 0;
}

static int new_node(ctl_doc *d)
{
    if (d->len == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 32;
        ctl_node *nn = realloc(d->nodes, cap * sizeof *nn);
        if (nn == NULL) return -1;
        d->nodes = nn;
        d->cap = cap;
    }
    ctl_node *x = &d->nodes[d->len];
    memset(x, 0, sizeof *x);
    x->child = x->next = -1;
    return (int)d->len++;
}

static int parse_value(ctl_doc *d, int depth);

/* Parse @count elements as children of node @me. */
static int parse_children(ctl_doc *d, int me, uint64_t count, int depth)
{
    if (count > d->size - d->pos) return -1; /* each element needs a byte */
    int prev = -1;
    for (uint64_t k = 0; k < count; k++) {
        int c = parse_value(d, depth + 1);
        if (c < 0) return -1;
        if (prev < 0)
            d->nodes[me].child = c;
        else
            d->nodes[prev].next = c;
        prev = c;
    }
    return 0;
}

static int parse_bytes(ctl_doc *d, int me, uint8_t kind, uint64_t n)
{
    if (!need(d, n)) return -1;
    d->nodes[me].kind = kind;
    d->nodes[me].n = (uint32_t)n;
    d->nodes[me].p = (const char *)d->buf + d->pos;
    d->pos += n;
    return me;
}

static int parse_value(ctl_doc *d, int depth)
{
    if (depth > MAX_DEPTH || !need(d, 1)) return -1;
    int me = new_node(d);
    if (me < 0) return -1;
    uint8_t b = d->buf[d->pos++];
    uint64_t v;
    ctl_node *x = &d->nodes[me];
    if (b <= 0x7f || b >= 0xe0) {
        x->kind = b <= 0x7f ? CTL_UINT : CTL_INT;
        x->u = b;
        x->i = (int8_t)b;
        return me;
    }
    if (b >= 0xa0 && b <= 0xbf) return parse_bytes(d, me, CTL_STR, b & 0x1f);
    if ((b >= 0x80 && b <= 0x9f) || b == 0xdc || b == 0xdd || b == 0xde || b == 0xdf) {
        int map = (b >= 0x80 && b <= 0x8f) || b == 0xde || b == 0xdf;
        if (b <= 0x9f)
            v = b & 0x0f;
        else if (take(d, (b == 0xdc || b == 0xde) ? 2 : 4, &v) < 0)
            return -1;
        d->nodes[me].kind = map ? CTL_MAP : CTL_ARR;
        d->nodes[me].n = (uint32_t)v;
        if (v > UINT32_MAX / 2) return -1;
        return parse_children(d, me, map ? v * 2 : v, depth) < 0 ? -1 : me;
    }
    switch (b) {
    case 0xc0:
        x->kind = CTL_NIL;
        return me;
    case 0xc2:
    case 0xc3:
        x->kind = CTL_BOOL;
        x->i = b == 0xc3;
        return me;
    case 0xc4:
    case 0xc5:
    case 0xc6:
        if (take(d, 1 << (b - 0xc4), &v) < 0) return -1;
        return parse_bytes(d, me, CTL_BIN, v);
    case 0xd9:
    case 0xda:
    case 0xdb:
        if (take(d, 1 << (b - 0xd9), &v) < 0) return -1;
        return parse_bytes(d, me, CTL_STR, v);
    case 0xca:
    case 0xcb:
        if (take(d, b == 0xca ? 4 : 8, &v) < 0) return -1;
        d->nodes[me].kind = CTL_FLOAT;
        return me;
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf:
        if (take(d, 1 << (b - 0xcc), &v) < 0) return -1;
        d->nodes[me].kind = CTL_UINT;
        d->nodes[me].u = v;
        d->nodes[me].i = (int64_t)v;
        return me;
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3: {
        int n = 1 << (b - 0xd0);
        if (take(d, n, &v) < 0) return -1;
        int64_t s = n == 8 ? (int64_t)v : (int64_t)(v << (64 - 8 * n)) >> (64 - 8 * n);
        d->nodes[me].kind = CTL_INT;
        d->nodes[me].i = s;
        d->nodes[me].u = (uint64_t)s;
        return me;
    }
    }
    return -1; /* extension types and the reserved 0xc1 */
}

int ctl_parse(ctl_doc *d, const void *p, size_t n)
{
    memset(d, 0, sizeof *d);
    d->buf = p;
    d->size = n;
    if (parse_value(d, 0) != 0) return -1;
    if (d->nodes[0].kind != CTL_MAP || d->pos != n) return -1;
    return 0;
}

void ctl_doc_fini(ctl_doc *d)
{
    free(d->nodes);
    memset(d, 0, sizeof *d);
}

int ctl_get(const ctl_doc *d, int map, const char *key)
{
    if (map < 0 || (size_t)map >= d->len || d->nodes[map].kind != CTL_MAP) return -1;
    size_t kl = strlen(key);
    for (int k = d->nodes[map].child; k >= 0;) {
        int v = d->nodes[k].next;
        if (v < 0) return -1;
        const ctl_node *kn = &d->nodes[k];
        if (kn->kind == CTL_STR && kn->n == kl && memcmp(kn->p, key, kl) == 0) return v;
        k = d->nodes[v].next;
    }
    return -1;
}

uint64_t ctl_u64(const ctl_doc *d, int map, const char *key, uint64_t dflt)
{
    int v = ctl_get(d, map, key);
    if (v < 0) return dflt;
    if (d->nodes[v].kind == CTL_UINT) return d->nodes[v].u;
    if (d->nodes[v].kind == CTL_INT && d->nodes[v].i >= 0) return (uint64_t)d->nodes[v].i;
    return dflt;
}

int64_t ctl_i64(const ctl_doc *d, int map, const char *key, int64_t dflt)
{
    int v = ctl_get(d, map, key);
    if (v < 0) return dflt;
    if (d->nodes[v].kind == CTL_INT || d->nodes[v].kind == CTL_BOOL) return d->nodes[v].i;
    if (d->nodes[v].kind == CTL_UINT && d->nodes[v].u <= INT64_MAX) return (int64_t)d->nodes[v].u;
    return dflt;
}

const char *ctl_node_str(const ctl_doc *d, int i, char *out, size_t cap)
{
    out[0] = 0;
    if (i < 0 || d->nodes[i].kind != CTL_STR || cap == 0) return out;
    size_t n = d->nodes[i].n < cap - 1 ? d->nodes[i].n : cap - 1;
    memcpy(out, d->nodes[i].p, n);
    out[n] = 0;
    return out;
}

const char *ctl_str(const ctl_doc *d, int map, const char *key, char *out, size_t cap)
{
    return ctl_node_str(d, ctl_get(d, map, key), out, cap);
}

const char *ctl_bytes(const ctl_doc *d, int map, const char *key, size_t *n)
{
    int v = ctl_get(d, map, key);
    if (v < 0 || (d->nodes[v].kind != CTL_STR && d->nodes[v].kind != CTL_BIN)) return NULL;
    *n = d->nodes[v].n;
    return d->nodes[v].p ? d->nodes[v].p : "";
}

int ctl_is(const ctl_doc *d, const char *t)
{
    size_t n;
    const char *p = ctl_bytes(d, 0, "t", &n);
    return p && n == strlen(t) && memcmp(p, t, n) == 0;
}
