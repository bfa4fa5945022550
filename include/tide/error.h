/*
 * tide/error.h - error codes and the error context.
 *
 * Every fallible call returns an int: TIDE_OK (0) or a negative TIDE_E* code.
 * The detail (what and where) goes into a tide_error owned by the caller's
 * context (worker, query, exporter). The library never exits or aborts on
 * bad input; assert() guards internal invariants only.
 */
#ifndef TIDE_ERROR_H
#define TIDE_ERROR_H

#include <stdarg.h>

/* X(name, value, description): the one list every code comes from. */
#define TIDE_ERRNO_MAP(X)                                                                          \
    X(OK, 0, "success")                                                                            \
    X(ENOMEM, -1, "out of memory")                                                                 \
    X(EINVAL, -2, "invalid argument")                                                              \
    X(EPARSE, -3, "malformed input")                                                               \
    X(EIO, -4, "input/output error")                                                               \
    X(ENET, -5, "network error")                                                                   \
    X(EPROTO, -6, "protocol error")                                                                \
    X(ECLOSED, -7, "closed")                                                                       \
    X(ETIMEDOUT, -8, "timed out")                                                                  \
    X(EPEER, -9, "peer lost")                                                                      \
    X(ENOSPC, -10, "no space left")                                                                \
    X(ESTATE, -11, "call not valid in this state")                                                 \
    X(ENOTFOUND, -12, "not found")                                                                 \
    X(ERANGE, -13, "value out of range")                                                           \
    X(ENOTSUP, -14, "not supported")

enum tide_errno {
#define TIDE__ERR_ENUM(name, val, desc) TIDE_##name = val,
    TIDE_ERRNO_MAP(TIDE__ERR_ENUM)
#undef TIDE__ERR_ENUM
};

/* The detail of the last error on a context: its code and a message that
 * names what failed and where (file:line, peer host:port, query name). */
typedef struct tide_error {
    int code;      /* TIDE_OK or a negative TIDE_E* code */
    char msg[256]; /* NUL-terminated, empty when code == TIDE_OK */
} tide_error;

/* tide_strerror - a constant description of @code ("unknown error" if none). */
const char *tide_strerror(int code);

/* tide_err_name - the symbolic name of @code, e.g. "TIDE_EPARSE". */
const char *tide_err_name(int code);

/*
 * tide_err_set - record @code and a printf-style message in @e.
 * @e may be NULL, in which case only the code is returned.
 * @return @code, so that callers can write `return tide_err_set(e, ...);`.
 */
int tide_err_set(tide_error *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* tide_err_clear - reset @e to TIDE_OK with an empty message. NULL is fine. */
void tide_err_clear(tide_error *e);

/* TIDE_TRY - forward a negative return code when nothing needs cleanup. */
#define TIDE_TRY(expr)                                                                             \
    do {                                                                                           \
        int tide__rc = (expr);                                                                     \
        if (tide__rc < 0) return tide__rc;                                                         \
    } while (0)

#endif /* TIDE_ERROR_H */
