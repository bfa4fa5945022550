/* val.c - value encoding, comparison, arithmetic and printing (val.h). */
#include "val.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint32_t dl_val_len(const uint8_t *p, uint32_t n)
{
    if (n < 1) return 0;
    switch (p[0]) {
    case VT_BOOL:
        return n >= 2 ? 2 : 0;
    case VT_INT:
    case VT_REAL:
        return n >= 9 ? 9 : 0;
    case VT_STR:
        for (uint32_t i = 1; i + 1 < n; i++) {
            if (p[i] == 0) {
                if (p[i + 1] == 1) return i + 2;
                i++; /* 0x00 0xFF: an escaped NUL */
            }
        }
        return 0;
    default:
        return 0;
    }
}

int dl_tuple_split(const uint8_t *p, uint32_t n, dl_val *out, int max)
{
    int k = 0;
    while (n) {
        uint32_t l = dl_val_len(p, n);
        if (!l || k == max) return -1;
        out[k].p = p;
        out[k].len = l;
        k++;
        p += l;
        n -= l;
    }
    return k;
}

int dl_put_int(tide_rowbuf *b, int64_t v)
{
    uint8_t t = VT_INT;
    if (tide_row_put_raw(b, &t, 1) < 0) return -1;
    return tide_row_put_i64(b, v);
}

int dl_put_real(tide_rowbuf *b, double v)
{
    uint8_t t = VT_REAL;
    if (tide_row_put_raw(b, &t, 1) < 0) return -1;
    return tide_row_put_f64(b, v);
}

int dl_put_bool(tide_rowbuf *b, bool v)
{
    uint8_t t[2] = {VT_BOOL, v};
    return tide_row_put_raw(b, t, 2);
}

int dl_put_str(tide_rowbuf *b, const char *s, size_t n)
{
    uint8_t t = VT_STR;
    if (tide_row_put_raw(b, &t, 1) < 0) return -1;
    return tide_row_put_str(b, s, n);
}

int dl_put_val(tide_rowbuf *b, dl_val v)
{
    return tide_row_put_raw(b, v.p, v.len);
}

int dl_put_edn(tide_rowbuf *b, const edn *x)
{
    switch (x->t) {
    case EDN_INT:
        return dl_put_int(b, x->i);
    case EDN_REAL:
        return dl_put_real(b, x->r);
    case EDN_BOOL:
        return dl_put_bool(b, x->b);
    case EDN_STR:
        return dl_put_str(b, x->s, x->slen);
    default:
        return -1;
    }
}

bool dl_val_is_num(dl_val v)
{
    return v.p[0] == VT_INT || v.p[0] == VT_REAL;
}

int64_t dl_val_int(dl_val v)
{
    return tide_i64_load(v.p + 1);
}

double dl_val_real(dl_val v)
{
    return v.p[0] == VT_INT ? (double)tide_i64_load(v.p + 1) : tide_f64_load(v.p + 1);
}

int dl_val_cmp(dl_val a, dl_val b)
{
    if (dl_val_is_num(a) && dl_val_is_num(b) && a.p[0] != b.p[0]) {
        double x = dl_val_real(a), y = dl_val_real(b);
        return x < y ? -1 : x > y ? 1 : 0;
    }
    return tide_bytes_cmp(a.p, a.len, b.p, b.len);
}

static void str_of(dl_str *s, dl_val v)
{
    if (v.p[0] == VT_STR) {
        tide_row_reader r;
        tide_row_reader_init(&r, v.p + 1, v.len - 1);
        tide_rowbuf out;
        tide_rowbuf_init(&out);
        if (tide_row_get_str(&r, &out) == 0) dl_str_put(s, (const char *)out.data, out.len);
        tide_rowbuf_fini(&out);
    } else {
        dl_val_print(s, v, false);
    }
}

int dl_val_arith(tide_rowbuf *b, char op, dl_val x, dl_val y)
{
    if (op == 's') {
        dl_str s = {0};
        str_of(&s, x);
        str_of(&s, y);
        int rc = dl_put_str(b, s.p ? s.p : "", s.n);
        free(s.p);
        return rc;
    }
    if (!dl_val_is_num(x) || !dl_val_is_num(y)) return -1;
    if (x.p[0] == VT_INT && y.p[0] == VT_INT) {
        int64_t a = dl_val_int(x), c = dl_val_int(y), r;
        bool ovf = false;
        switch (op) {
        case '+':
            ovf = __builtin_add_overflow(a, c, &r);
            break;
        case '-':
            ovf = __builtin_sub_overflow(a, c, &r);
            break;
        case '*':
            ovf = __builtin_mul_overflow(a, c, &r);
            break;
        default:
            if (c == 0 || (a == INT64_MIN && c == -1)) return -1;
            if (a % c) return dl_put_real(b, (double)a / (double)c);
            r = a / c;
        }
        if (ovf) return -1;
        return dl_put_int(b, r);
    }
    double a = dl_val_real(x), c = dl_val_real(y), r;
    switch (op) {
    case '+':
        r = a + c;
        break;
    case '-':
        r = a - c;
        break;
    case '*':
        r = a * c;
        break;
    default:
        if (c == 0) return -1;
        r = a / c;
    }
    if (!isfinite(r)) return -1;
    return dl_put_real(b, r);
}

void dl_str_put(dl_str *s, const char *p, size_t n)
{
    if (s->n + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 128;
        while (cap < s->n + n + 1) cap *= 2;
        char *np = realloc(s->p, cap);
        if (!np) return;
        s->p = np;
        s->cap = cap;
    }
    memcpy(s->p + s->n, p, n);
    s->n += n;
    s->p[s->n] = 0;
}

void dl_str_puts(dl_str *s, const char *p)
{
    dl_str_put(s, p, strlen(p));
}

void dl_val_print(dl_str *s, dl_val v, bool json)
{
    char tmp[64];
    switch (v.p[0]) {
    case VT_BOOL:
        dl_str_puts(s, v.p[1] ? "true" : "false");
        break;
    case VT_INT:
        snprintf(tmp, sizeof tmp, "%lld", (long long)dl_val_int(v));
        dl_str_puts(s, tmp);
        break;
    case VT_REAL: {
        double d = dl_val_real(v);
        snprintf(tmp, sizeof tmp, "%.17g", d);
        if (!strpbrk(tmp, ".eEn")) strcat(tmp, ".0");
        dl_str_puts(s, tmp);
        break;
    }
    case VT_STR: {
        tide_row_reader r;
        tide_row_reader_init(&r, v.p + 1, v.len - 1);
        tide_rowbuf out;
        tide_rowbuf_init(&out);
        dl_str_put(s, "\"", 1);
        if (tide_row_get_str(&r, &out) == 0) {
            for (uint32_t i = 0; i < out.len; i++) {
                unsigned char c = out.data[i];
                if (c == '"' || c == '\\') {
                    dl_str_put(s, "\\", 1);
                    dl_str_put(s, (const char *)&c, 1);
                } else if (c == '\n') {
                    dl_str_puts(s, "\\n");
                } else if (c < 0x20) {
                    snprintf(tmp, sizeof tmp, json ? "\\u%04x" : "\\u%04x", c);
                    dl_str_puts(s, tmp);
                } else {
                    dl_str_put(s, (const char *)&c, 1);
                }
            }
        }
        dl_str_put(s, "\"", 1);
        tide_rowbuf_fini(&out);
        break;
    }
    default:
        dl_str_puts(s, "?");
    }
}

void dl_tuple_print(dl_str *s, const uint8_t *p, uint32_t n, bool json)
{
    dl_val v[DL_MAX_ARITY];
    int k = dl_tuple_split(p, n, v, DL_MAX_ARITY);
    for (int i = 0; i < k; i++) {
        if (i) dl_str_puts(s, json ? "," : " ");
        dl_val_print(s, v[i], json);
    }
}
