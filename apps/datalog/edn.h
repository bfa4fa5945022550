/*
 * edn.h - a small, strict EDN reader (https://github.com/edn-format/edn):
 * lists, vectors, maps, sets, keywords, symbols, strings with escapes,
 * integers (overflow is an error), reals, booleans, nil, ; comments, the
 * discard #_ and quote ' (read as the quoted form itself). Every error
 * names its line:column. Tagged literals other than #inst are rejected.
 */
#ifndef DL_EDN_H
#define DL_EDN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum edn_type {
    EDN_NIL,
    EDN_BOOL,
    EDN_INT,
    EDN_REAL,
    EDN_STR,
    EDN_KW,  /* s without the ':' */
    EDN_SYM, /* s */
    EDN_LIST,
    EDN_VEC,
    EDN_MAP, /* items: k0 v0 k1 v1 ... */
    EDN_SET,
} edn_type;

typedef struct edn {
    edn_type t;
    int line, col;
    bool b;
    int64_t i;
    double r;
    char *s; /* STR/KW/SYM: NUL-terminated (strings may hold NUL: use slen) */
    size_t slen;
    struct edn **items;
    size_t n;
} edn;

/* Parse every form of @text (@len bytes). On success *forms and *n get the
 * top-level forms (free with edn_free_all) and 0 is returned; on error -1
 * with "line:col: message" in @err (@errlen bytes). */
int edn_parse_all(const char *text, size_t len, edn ***forms, size_t *n, char *err, size_t errlen);
/* Parse exactly one form (trailing whitespace/comments allowed). */
edn *edn_parse_one(const char *text, size_t len, char *err, size_t errlen);
void edn_free(edn *x);
void edn_free_all(edn **forms, size_t n);

/* Helpers for readers of parsed forms. */
bool edn_is_sym(const edn *x, const char *name);
bool edn_is_kw(const edn *x, const char *name);
const char *edn_type_name(edn_type t);
/* Print @x as EDN into a malloc'd string. */
char *edn_to_string(const edn *x);

#endif
