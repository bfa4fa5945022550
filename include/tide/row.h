/*
 * tide/row.h - typed records: a schema, rows built field by field, and
 * fields read in place by index.
 *
 * A row is a byte string in the order-preserving encoding of tide/record.h,
 * the fields one after the other in schema order, so rows sort (memcmp) by
 * their first field, then their second, and so on, and can be a key or a
 * value of any tide collection as they are. A nullable field carries one
 * tag byte first (0x00: NULL, 0x01: present), so NULL sorts before every
 * value of the field.
 *
 *   schema (str machine, str? order, i64 since)
 *   row    "Drill1" 00 01 | 01 "4711" 00 01 | 80 00 .. 00 2a
 *           machine        | tag  order      | since (sign flipped)
 *
 * Reading: tide_row_open scans the row once and records where each field
 * starts (no copy, no allocation); the getters then read field i directly.
 * Strings are returned in place when they contain no 0x00 byte (the usual
 * case), else decoded into a caller's buffer.
 *
 * Thread-safety: schemas are read-only after definition and may be shared
 * by every worker; builders and opened rows belong to their caller.
 */
#ifndef TIDE_ROW_H
#define TIDE_ROW_H

#include <stdbool.h>
#include <stdint.h>

#include "tide/record.h"

/* Field types; or TIDE_FIELD_NULLABLE into any of them. */
enum {
    TIDE_FIELD_U64 = 1,
    TIDE_FIELD_I64 = 2,
    TIDE_FIELD_F64 = 3,
    TIDE_FIELD_BOOL = 4,
    TIDE_FIELD_STR = 5,
    TIDE_FIELD_NULLABLE = 0x80,
};

#define TIDE_ROW_MAX_FIELDS 32

/* A schema: @n field types and names (both arrays borrowed, usually static). */
typedef struct tide_schema {
    uint32_t n;               /* fields, <= TIDE_ROW_MAX_FIELDS */
    const uint8_t *types;     /* TIDE_FIELD_* per field */
    const char *const *names; /* per field, for messages and SQL columns */
} tide_schema;

/* ---- building ------------------------------------------------------------ */

/* Appends the fields of one row of @schema to @rb, checking each field's
 * type in order. Caller-owned; a failed add sticks in @rc. */
typedef struct tide_row_builder {
    const tide_schema *schema; /* borrowed */
    tide_rowbuf *rb;           /* borrowed: the row is appended here */
    uint32_t next;             /* index of the next field */
    int rc;                    /* first error: TIDE_EINVAL (type/count), TIDE_ENOMEM */
} tide_row_builder;

/* tide_row_begin - start a row of @s at the end of @rb (not cleared, so a
 * key and a value, or a prefix and a row, can be built in one buffer). */
void tide_row_begin(tide_row_builder *b, const tide_schema *s, tide_rowbuf *rb);
/* Add the next field. The field must have that type (nullable or not);
 * tide_row_add_null only for a nullable field. Errors stick in b->rc. */
void tide_row_add_u64(tide_row_builder *b, uint64_t v);
void tide_row_add_i64(tide_row_builder *b, int64_t v);
void tide_row_add_f64(tide_row_builder *b, double v);
void tide_row_add_bool(tide_row_builder *b, bool v);
/* @s: @n bytes (may contain 0x00); NULL with a nullable field adds NULL. */
void tide_row_add_str(tide_row_builder *b, const char *s, size_t n);
void tide_row_add_null(tide_row_builder *b);
/* tide_row_end - @return TIDE_OK, or the first error: TIDE_EINVAL (a
 * field of the wrong type, NULL for a non-nullable field, too many or too
 * few fields), TIDE_ENOMEM. */
int tide_row_end(tide_row_builder *b);

/* ---- reading ---------------------------------------------------------------- */

/* An opened row: where each field starts (caller-owned, on the stack). */
typedef struct tide_row {
    const tide_schema *schema;             /* borrowed */
    const uint8_t *p;                      /* borrowed: the row's bytes */
    uint32_t len;                          /* bytes of the row (all fields) */
    uint32_t off[TIDE_ROW_MAX_FIELDS + 1]; /* field i: [off[i], off[i+1]) incl. its tag */
} tide_row;

/* tide_row_open - index the fields of the row at @p (@n bytes, borrowed:
 * must outlive @r) under @s. Extra bytes after the last field are allowed
 * (r->len tells where the row ends). @return TIDE_OK, or TIDE_EPARSE when
 * a field is truncated or malformed. */
int tide_row_open(tide_row *r, const tide_schema *s, const void *p, uint32_t n);

/* True when field @i is NULL (always false for non-nullable fields). */
bool tide_row_is_null(const tide_row *r, uint32_t i);
/* The value of field @i; the field must have that type (checked by
 * assert only: the row was validated by tide_row_open). NULL reads as 0. */
uint64_t tide_row_u64(const tide_row *r, uint32_t i);
int64_t tide_row_i64(const tide_row *r, uint32_t i);
double tide_row_f64(const tide_row *r, uint32_t i);
bool tide_row_bool(const tide_row *r, uint32_t i);
/* tide_row_str - string field @i: *@len gets its length; the pointer is
 * into the row (borrowed) unless the string contains a 0x00 byte, then it
 * is decoded into @scratch (borrowed until its next change). NULL for a
 * NULL field, or when decoding runs out of memory (*len = 0). */
const char *tide_row_str(const tide_row *r, uint32_t i, uint32_t *len, tide_rowbuf *scratch);
/* tide_row_str_eq - string field @i equals (@s, @n) (false for NULL). */
bool tide_row_str_eq(const tide_row *r, uint32_t i, const char *s, size_t n);
/* tide_row_fields - the encoded bytes of fields [@from, @to) (borrowed):
 * a sub-row, e.g. to use some fields as a key or to drop a prefix. */
const uint8_t *tide_row_fields(const tide_row *r, uint32_t from, uint32_t to, uint32_t *len);

#endif /* TIDE_ROW_H */
