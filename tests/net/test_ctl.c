/*
 * test_ctl.c - the control plane's msgpack messages (apps/tide/ctl.c):
 * random messages round-trip field by field; every truncation, random byte
 * flips and random frames parse or fail cleanly (never crash, never read
 * past the frame); declared counts larger than the frame are refused before
 * anything is allocated for them.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "ctl.h"
#include "tide_test.h"

/* A submit-like message with @nargs random args and a random binary. */
static void build(ctl_w *w, tide_rng *r, uint64_t *id, int64_t *rc, char *name, uint8_t *bin,
                  size_t *binlen, char args[][16], int *nargs)
{
    *id = tide_rng_next(r);
    *rc = (int64_t)tide_rng_below(r, 1000) - 500;
    size_t nl = 1 + tide_rng_below(r, 40);
    for (size_t i = 0; i < nl; i++) name[i] = (char)('a' + tide_rng_below(r, 26));
    name[nl] = 0;
    *binlen = tide_rng_below(r, 3) == 0 ? 0 : tide_rng_below(r, 70000);
    for (size_t i = 0; i < *binlen; i++) bin[i] = (uint8_t)tide_rng_next(r);
    *nargs = (int)tide_rng_below(r, 20);
    ctl_w_begin(w, "submit", 5);
    ctl_w_u64(w, "id", *id);
    ctl_w_i64(w, "rc", *rc);
    ctl_w_str(w, "name", name);
    ctl_w_bin(w, "so", bin, *binlen);
    ctl_w_key(w, "args");
    msgpack_pack_array(&w->pk, (size_t)*nargs);
    for (int a = 0; a < *nargs; a++) {
        snprintf(args[a], 16, "arg%llu", (unsigned long long)tide_rng_below(r, 100000));
        ctl_w_str(w, NULL, args[a]);
    }
}

Test(ctl, roundtrip_random_messages)
{
    tide_rng r = {tide_test_seed("ctl.roundtrip", 1)};
    static uint8_t bin[70000];
    for (int it = 0; it < 200; it++) {
        ctl_w w;
        uint64_t id;
        int64_t rc;
        char name[64], args[20][16], got[64];
        size_t binlen, n = 0;
        int nargs;
        build(&w, &r, &id, &rc, name, bin, &binlen, args, &nargs);
        ctl_doc d;
        cr_assert_eq(ctl_parse(&d, w.sb.data, w.sb.size), 0);
        cr_assert(ctl_is(&d, "submit"));
        cr_assert(!ctl_is(&d, "submi"));
        cr_assert_eq(ctl_u64(&d, 0, "id", 0), id);
        cr_assert_eq(ctl_i64(&d, 0, "rc", 0), rc);
        cr_assert_str_eq(ctl_str(&d, 0, "name", got, sizeof got), name);
        const char *so = ctl_bytes(&d, 0, "so", &n);
        cr_assert_not_null(so);
        cr_assert_eq(n, binlen);
        cr_assert(binlen == 0 || memcmp(so, bin, binlen) == 0);
        int a = ctl_get(&d, 0, "args"), k = 0;
        cr_assert_eq(d.nodes[a].kind, CTL_ARR);
        cr_assert_eq(d.nodes[a].n, (uint32_t)nargs);
        for (int e = d.nodes[a].child; e >= 0; e = d.nodes[e].next, k++)
            cr_assert_str_eq(ctl_node_str(&d, e, got, sizeof got), args[k]);
        cr_assert_eq(k, nargs);
        cr_assert_eq(ctl_get(&d, 0, "missing"), -1);
        cr_assert_eq(ctl_u64(&d, 0, "name", 77), 77); /* wrong kind: the default */
        ctl_doc_fini(&d);
        ctl_w_fini(&w);
    }
}

Test(ctl, every_truncation_fails_cleanly)
{
    tide_rng r = {tide_test_seed("ctl.truncation", 2)};
    static uint8_t bin[70000];
    for (int it = 0; it < 20; it++) {
        ctl_w w;
        uint64_t id;
        int64_t rc;
        char name[64], args[20][16];
        size_t binlen;
        int nargs;
        build(&w, &r, &id, &rc, name, bin, &binlen, args, &nargs);
        /* Each prefix in its own exact-size buffer, so ASan sees any overread. */
        size_t step = w.sb.size > 4000 ? w.sb.size / 997 + 1 : 1;
        for (size_t cut = 0; cut < w.sb.size; cut += step) {
            uint8_t *p = malloc(cut ? cut : 1);
            memcpy(p, w.sb.data, cut);
            ctl_doc d;
            cr_assert_eq(ctl_parse(&d, p, cut), -1, "prefix of %zu/%zu bytes parsed", cut,
                         w.sb.size);
            ctl_doc_fini(&d);
            free(p);
        }
        ctl_w_fini(&w);
    }
}

Test(ctl, random_bytes_and_flips_never_crash)
{
    tide_rng r = {tide_test_seed("ctl.random", 3)};
    int parsed = 0;
    for (int it = 0; it < 20000; it++) {
        size_t n = 1 + tide_rng_below(&r, 64);
        uint8_t *p = malloc(n);
        for (size_t i = 0; i < n; i++) p[i] = (uint8_t)tide_rng_next(&r);
        if (it % 2) p[0] = (uint8_t)(0x80 | tide_rng_below(&r, 16)); /* a fixmap start */
        ctl_doc d;
        if (ctl_parse(&d, p, n) == 0) {
            parsed++;
            cr_assert_eq(d.nodes[0].kind, CTL_MAP);
            size_t bl;
            ctl_bytes(&d, 0, "t", &bl); /* lookups on whatever parsed */
            ctl_u64(&d, 0, "id", 0);
        }
        ctl_doc_fini(&d);
        free(p);
    }
    cr_assert_gt(parsed, 0, "no random frame was a valid map: the generator is too weak");
}

Test(ctl, huge_declared_counts_are_refused)
{
    /* map32 claiming 2^31 pairs; array32 / bin32 / str32 claiming 4 GiB. */
    static const uint8_t map[] = {0xdf, 0x80, 0x00, 0x00, 0x00, 0xa1, 't'};
    static const uint8_t arr[] = {0x81, 0xa1, 'a', 0xdd, 0xff, 0xff, 0xff, 0xff, 0x01};
    static const uint8_t bin[] = {0x81, 0xa1, 'b', 0xc6, 0xff, 0xff, 0xff, 0xff, 0x01};
    static const uint8_t str[] = {0x81, 0xa1, 's', 0xdb, 0xff, 0xff, 0xff, 0xff, 0x01};
    static const uint8_t ext[] = {0x81, 0xa1, 'e', 0xd4, 0x01, 0x02};
    const uint8_t *frames[] = {map, arr, bin, str, ext};
    size_t sizes[] = {sizeof map, sizeof arr, sizeof bin, sizeof str, sizeof ext};
    for (int i = 0; i < 5; i++) {
        ctl_doc d;
        cr_assert_eq(ctl_parse(&d, frames[i], sizes[i]), -1, "frame %d parsed", i);
        cr_assert_leq(d.cap, 64, "frame %d: %zu nodes allocated", i, d.cap);
        ctl_doc_fini(&d);
    }
    /* A non-map root and trailing bytes are refused too. */
    static const uint8_t arr_root[] = {0x90};
    static const uint8_t trailing[] = {0x80, 0x00};
    ctl_doc d;
    cr_assert_eq(ctl_parse(&d, arr_root, 1), -1);
    ctl_doc_fini(&d);
    cr_assert_eq(ctl_parse(&d, trailing, 2), -1);
    ctl_doc_fini(&d);
}
