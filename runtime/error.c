/*
 * error.c - error codes, names and the tide_error context.
 * All codes come from TIDE_ERRNO_MAP in include/tide/error.h.
 */
#include <stdio.h>
#include <string.h>

#include "tide/error.h"

const char *tide_strerror(int code)
{
    switch (code) {
#define TIDE__ERR_DESC(name, val, desc)                                                            \
    case val:                                                                                      \
        return desc;
        TIDE_ERRNO_MAP(TIDE__ERR_DESC)
#undef TIDE__ERR_DESC
    }
    return "unknown error";
}

const char *tide_err_name(int code)
{
    switch (code) {
#define TIDE__ERR_NAME(name, val, desc)                                                            \
    case val:                                                                                      \
        return "TIDE_" #name;
        TIDE_ERRNO_MAP(TIDE__ERR_NAME)
#undef TIDE__ERR_NAME
    }
    return "TIDE_E?";
}

int tide_err_set(tide_error *e, int code, const char *fmt, ...)
{
    if (e == NULL) return code;
    va_list ap;
    va_start(ap, fmt);
    e->code = code;
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return code;
}

void tide_err_clear(tide_error *e)
{
    if (e == NULL) return;
    e->code = TIDE_OK;
    e->msg[0] = '\0';
}
