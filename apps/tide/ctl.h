/*
 * ctl.h - the cluster's control plane: MessagePack messages over ZeroMQ.
 *
 * Every control message is one ZeroMQ frame holding one msgpack map with
 * string keys; key "t" names the message (docs/cluster.md lists them all).
 * Writing goes through msgpack-c's packer (ctl_w). Reading does not use
 * msgpack-c's unpacker, which sizes arrays from their declared count before
 * seeing the elements (a hostile 5-byte frame asks for gigabytes): ctl_doc
 * is a small pull parser that checks every count and length against the
 * bytes actually left and builds a flat node list that grows with the input.
 */
#ifndef TIDE_APP_CTL_H
#define TIDE_APP_CTL_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#define CTL_MAX_MSG (256u << 20) /* largest control frame accepted (a job's .so) */

/* ---- writing ---------------------------------------------------------- */

typedef struct ctl_w {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} ctl_w;

/* Start a message of type @t with @nfields more key/value pairs. */
void ctl_w_begin(ctl_w *w, const char *t, uint32_t nfields);
void ctl_w_fini(ctl_w *w);
void ctl_w_key(ctl_w *w, const char *key);
void ctl_w_str(ctl_w *w, const char *key, const char *s); /* key may be NULL: value only */
void ctl_w_strn(ctl_w *w, const char *key, const char *s, size_t n);
void ctl_w_u64(ctl_w *w, const char *key, uint64_t v);
void ctl_w_i64(ctl_w *w, const char *key, int64_t v);
void ctl_w_bin(ctl_w *w, const char *key, const void *p, size_t n);

/* ---- reading ---------------------------------------------------------- */

enum ctl_kind {
    CTL_NIL,
    CTL_BOOL,
    CTL_INT,
    CTL_UINT,
    CTL_FLOAT,
    CTL_STR,
    CTL_BIN,
    CTL_ARR,
    CTL_MAP
};

typedef struct ctl_node {
    uint8_t kind;  /* enum ctl_kind */
    uint32_t n;    /* CTL_ARR: elements; CTL_MAP: pairs; CTL_STR/BIN: bytes */
    int32_t child; /* first element (maps: key, value, key, ...), -1 if none */
    int32_t next;  /* next sibling, -1 at the end */
    int64_t i;     /* CTL_INT / CTL_BOOL */
    uint64_t u;    /* CTL_UINT */
    const char *p; /* CTL_STR / CTL_BIN: borrowed from the frame */
} ctl_node;

typedef struct ctl_doc {
    ctl_node *nodes;
    size_t len, cap;
    const uint8_t *buf; /* the frame, borrowed */
    size_t size, pos;
} ctl_doc;

/* Parse the frame @p/@n (borrowed; must outlive the doc). Returns 0 with the
 * root (node 0) a map, or -1 on a malformed frame. ctl_doc_fini in both cases. */
int ctl_parse(ctl_doc *d, const void *p, size_t n);
void ctl_doc_fini(ctl_doc *d);

/* The value under @key in map node @map, or -1. */
int ctl_get(const ctl_doc *d, int map, const char *key);
/* Typed reads of the value under @key of @map, with a default when missing or
 * of the wrong kind. Strings are copied NUL-terminated into @out (cut to @cap). */
uint64_t ctl_u64(const ctl_doc *d, int map, const char *key, uint64_t dflt);
int64_t ctl_i64(const ctl_doc *d, int map, const char *key, int64_t dflt);
const char *ctl_str(const ctl_doc *d, int map, const char *key, char *out, size_t cap);
/* Borrowed bytes of a STR or BIN value, NULL when missing. */
const char *ctl_bytes(const ctl_doc *d, int map, const char *key, size_t *n);
/* Copy of node @i's string (STR) into @out, "" otherwise. */
const char *ctl_node_str(const ctl_doc *d, int i, char *out, size_t cap);
/* Does message type "t" equal @t? */
int ctl_is(const ctl_doc *d, const char *t);

#endif /* TIDE_APP_CTL_H */
