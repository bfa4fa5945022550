/*
 * val.h - Datalog values and tuples as tide record bytes.
 *
 * A value is a tag byte then its tide/record.h field: 'B' bool (1 byte),
 * 'N' integer (i64: :Number, :Eid and :Instant, so entity ids join with
 * numbers as in Datomic), 'R' real (f64), 'S' string. Values delimit
 * themselves, so a tuple is its values concatenated, a record key or value
 * as it is, and memcmp orders and hashes it without decoding.
 */
#ifndef DL_VAL_H
#define DL_VAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edn.h"
#include "tide/record.h"

#define DL_MAX_ARITY 64

enum { VT_BOOL = 'B', VT_INT = 'N', VT_REAL = 'R', VT_STR = 'S' };

/* A value inside some record (borrowed bytes). */
typedef struct dl_val {
    const uint8_t *p;
    uint32_t len;
} dl_val;

/* Length of the value starting at @p (at most @n bytes), 0 if malformed. */
uint32_t dl_val_len(const uint8_t *p, uint32_t n);
/* Split tuple @p/@n into at most @max values; returns the count or -1. */
int dl_tuple_split(const uint8_t *p, uint32_t n, dl_val *out, int max);

int dl_put_int(tide_rowbuf *b, int64_t v);
int dl_put_real(tide_rowbuf *b, double v);
int dl_put_bool(tide_rowbuf *b, bool v);
int dl_put_str(tide_rowbuf *b, const char *s, size_t n);
int dl_put_val(tide_rowbuf *b, dl_val v);

/* Encode an EDN scalar (int, real, string, bool) as a value; -1 otherwise. */
int dl_put_edn(tide_rowbuf *b, const edn *x);

bool dl_val_is_num(dl_val v);
double dl_val_real(dl_val v);
int64_t dl_val_int(dl_val v);
/* Order for predicates: numbers numerically (ints and reals mixed),
 * otherwise by tag then bytes. */
int dl_val_cmp(dl_val a, dl_val b);

/* Arithmetic for function bindings: 0 on success (result appended), -1 if
 * undefined (type mismatch, overflow, division by zero): no binding. */
int dl_val_arith(tide_rowbuf *b, char op, dl_val x, dl_val y);
/* Append the printed form of @v (EDN, or JSON when @json) to a string. */
typedef struct dl_str {
    char *p;
    size_t n, cap;
} dl_str;
void dl_str_put(dl_str *s, const char *p, size_t n);
void dl_str_puts(dl_str *s, const char *p);
void dl_val_print(dl_str *s, dl_val v, bool json);
/* The printed tuple, values separated by ' ' (EDN) or ',' (JSON). */
void dl_tuple_print(dl_str *s, const uint8_t *p, uint32_t n, bool json);

#endif
