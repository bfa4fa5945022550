/*
 * wire.h - tide's wire format: frames between processes (internal).
 *
 * Every frame is one MessagePack value: [header, body], header being
 * ["tide", version, kind]. Kinds: HELLO (handshake), DATA (a batch for one
 * worker), PROGRESS (pointstamp changes for every worker of the receiving
 * process), BYE (orderly shutdown), FAIL (the sender stops because a process
 * of the cluster failed, and says which and why). docs/wire.md has the byte
 * layout.
 *
 * Encoding produces a gather list (tide__wire_seg) whose concatenation is
 * the frame: small owned pieces of msgpack interleaved with borrowed column
 * bytes of the batch, so the column bytes are never copied on the sending
 * side (the transport hands them to ZeroMQ as message parts, or flattens).
 * Decoding accepts the frame split into any number of segments, validates
 * every field against the frame's size before allocating, and builds a new
 * batch with one memcpy per column. Hostile input gets TIDE_EPROTO naming
 * the field; decoding never reads out of bounds.
 *
 * Byte order: record bytes are order-preserving big-endian already; times,
 * diffs and offsets go as the host's little-endian arrays (tide supports
 * little-endian hosts only, checked at compile time in wire.c).
 */
#ifndef TIDE_WIRE_H
#define TIDE_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "message.h"
#include "tide/config.h"
#include "tide/error.h"

#define TIDE__WIRE_VERSION 2 /* 2: FAIL added */

enum tide__wire_kind {
    TIDE__WIRE_HELLO = 1,
    TIDE__WIRE_DATA = 2,
    TIDE__WIRE_PROGRESS = 3,
    TIDE__WIRE_BYE = 4,
    TIDE__WIRE_FAIL = 5,
};

/* Columns of at least this many bytes are sent by reference (own segment);
 * smaller ones are copied into the header buffer. */
#define TIDE__WIRE_INLINE 2048
/* Most segments one frame can have (DATA: 6 columns + 7 pieces between). */
#define TIDE__WIRE_MAX_SEGS 16
/* Decoder bounds, beyond what the frame's size implies. */
#define TIDE__WIRE_MAX_RECORDS     (1u << 26)
#define TIDE__WIRE_MAX_POINTSTAMPS (1u << 24)

/* A piece of a frame (borrowed). */
typedef struct tide__wire_seg {
    const void *ptr;
    size_t len;
} tide__wire_seg;

/*
 * An encoder: reusable, so a steady stream of frames allocates nothing once
 * its buffer has grown. After an encode, segs[0..nseg) is the frame, valid
 * until the next encode or fini; segments that point into a batch are valid
 * while the caller holds that batch.
 */
typedef struct tide__wire_enc {
    uint8_t *buf;    /* owned msgpack bytes (tide_alloc) */
    size_t len, cap; /* bytes used / allocated in buf */
    int oom;         /* a write into buf failed */
    size_t mark;     /* start of the open buf segment */
    uint32_t nseg;   /* segments of the last frame */
    size_t total;    /* frame size: sum of segs[].len */
    tide__wire_seg segs[TIDE__WIRE_MAX_SEGS];
    size_t offs[TIDE__WIRE_MAX_SEGS]; /* buf offset of a buf segment, SIZE_MAX if borrowed */
} tide__wire_enc;

void tide__wire_enc_init(tide__wire_enc *w);
void tide__wire_enc_fini(tide__wire_enc *w);

/* tide__wire_encode_hello - HELLO for this process of @cfg. */
int tide__wire_encode_hello(tide__wire_enc *w, const tide_config *cfg, tide_error *e);

/*
 * tide__wire_encode_data - DATA frame of @m (kind TIDE__MSG_DATA) for global
 * worker @to. Borrows @m->batch's columns (see above); takes no reference.
 * @return TIDE_OK, TIDE_EINVAL (batch too large for the format), TIDE_ENOMEM.
 */
int tide__wire_encode_data(tide__wire_enc *w, const tide__msg *m, uint32_t to, tide_error *e);

/* tide__wire_encode_progress - PROGRESS frame of @m (kind TIDE__MSG_PROGRESS). */
int tide__wire_encode_progress(tide__wire_enc *w, const tide__msg *m, tide_error *e);

/* tide__wire_encode_bye - BYE frame. */
int tide__wire_encode_bye(tide__wire_enc *w, tide_error *e);

/*
 * tide__wire_encode_fail - FAIL frame: process @origin of the cluster failed
 * with @code (a negative TIDE_E*) because of @cause (truncated to
 * TIDE__WIRE_CAUSE_MAX bytes).
 */
int tide__wire_encode_fail(tide__wire_enc *w, uint32_t origin, int code, const char *cause,
                           tide_error *e);

/* tide__wire_flatten - copy the last frame into @dst (w->total bytes). */
void tide__wire_flatten(const tide__wire_enc *w, void *dst);

/* What a HELLO says. */
typedef struct tide__wire_hello {
    uint32_t version;   /* protocol version of the peer */
    uint32_t processes; /* its N */
    uint32_t workers;   /* its W */
    uint32_t process;   /* its index */
    char job[64];       /* its job name */
} tide__wire_hello;

/* What a FAIL says. */
#define TIDE__WIRE_CAUSE_MAX 200 /* bytes of a FAIL's cause */
typedef struct tide__wire_fail {
    uint32_t origin;                      /* the process that failed first */
    int32_t code;                         /* its TIDE_E* code, negative */
    char cause[TIDE__WIRE_CAUSE_MAX + 1]; /* its error message */
} tide__wire_fail;

/* A decoded frame. */
typedef struct tide__wire_frame {
    uint32_t kind;          /* TIDE__WIRE_* */
    uint32_t version;       /* header's protocol version */
    uint32_t to;            /* DATA: global destination worker */
    tide__msg msg;          /* DATA, PROGRESS: holds one new reference */
    tide__wire_hello hello; /* HELLO */
    tide__wire_fail fail;   /* FAIL */
} tide__wire_frame;

/*
 * tide__wire_decode - decode one frame given as @nseg segments. On success
 * @f holds new references (release with tide__wire_frame_release or hand
 * f->msg on). @return TIDE_OK, TIDE_EPROTO (malformed: @e names the field),
 * TIDE_ENOMEM. On error @f holds nothing.
 */
int tide__wire_decode(const tide__wire_seg *segs, uint32_t nseg, tide__wire_frame *f,
                      tide_error *e);

/* tide__wire_decode_buf - the same for a contiguous frame. */
static inline int tide__wire_decode_buf(const void *p, size_t n, tide__wire_frame *f, tide_error *e)
{
    tide__wire_seg s = {p, n};
    return tide__wire_decode(&s, 1, f, e);
}

/* tide__wire_frame_release - drop the references @f holds. */
void tide__wire_frame_release(tide__wire_frame *f);

/*
 * tide__wire_check_hello - refuse a peer whose HELLO does not match @cfg:
 * other protocol version, job, N or W, or a process index other than
 * @expect (UINT32_MAX: any index but ours). @peer is its "host:port".
 * @return TIDE_OK or TIDE_EPROTO with both sides in the message.
 */
int tide__wire_check_hello(const tide__wire_hello *h, const tide_config *cfg, const char *peer,
                           uint32_t expect, tide_error *e);

/* tide__wire_kind_name - "HELLO", "DATA", ... ("?" otherwise). */
const char *tide__wire_kind_name(uint32_t kind);

#endif /* TIDE_WIRE_H */
