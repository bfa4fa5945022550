/*
 * diff.c - the error path of checked diff arithmetic (diff.h): naming the
 * key and time at which a sum or product of diffs left int64.
 */
#include "diff.h"

#include <stdio.h>

#include "tide/error.h"
#include "tide/record.h"

char *tide__diff_key_fmt(const uint8_t *key, uint32_t klen, char *buf, unsigned long size)
{
    if (size == 0) return buf;
    if (key == NULL) {
        snprintf(buf, size, "?");
    } else if (klen == 0) {
        snprintf(buf, size, "()");
    } else if (klen == 8) {
        snprintf(buf, size, "%llu", (unsigned long long)tide_u64_load(key));
    } else {
        unsigned long w = (unsigned long)snprintf(buf, size, "0x");
        for (uint32_t i = 0; i < klen && i < 16 && w + 3 <= size; i++)
            w += (unsigned long)snprintf(buf + w, size - w, "%02x", key[i]);
        if (klen > 16 && w + 3 <= size) snprintf(buf + w, size - w, "..");
    }
    return buf;
}

int tide__diff_overflow(tide_op *op, const uint8_t *key, uint32_t klen, tide_time t,
                        const char *what)
{
    char k[48], tb[64];
    return tide_op_fail(op, TIDE_ERANGE, "diff overflow at key %s, time %s: %s",
                        tide__diff_key_fmt(key, klen, k, sizeof k), tide_time_fmt(t, tb, sizeof tb),
                        what);
}

const char *tide__diff_strerror(int rc)
{
    if (rc == TIDE_ERANGE)
        return "diff overflow: the diffs of some (key, val, time) sum past int64";
    return tide_strerror(rc);
}
