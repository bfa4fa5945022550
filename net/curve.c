/*
 * curve.c - the cluster key file, CURVE socket options and the ZAP handler
 * (see curve.h).
 *
 * The ZAP handler is a REP socket on "inproc://zeromq.zap.01" served by one
 * thread that polls with a short timeout so that tide__zap_stop (or the
 * context's termination) ends it promptly. It compares the client's
 * long-term public key, which CURVE has already proved the client holds the
 * secret of, with the cluster's: equal is in, anything else is out.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "curve.h"
#include "tide/alloc.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_DOMAIN   "tide"
#define ZAP_POLL_MS  100
#define ZAP_FRAMES   8    /* a request has 6 frames plus credentials */
#define LOG_FIRST    20   /* refusals logged one by one ... */
#define LOG_EVERY    1000 /* ... then one in this many */
#define FILE_MAX     4096 /* a key file is a few hundred bytes */

/* ======================================================================== */
/* Keys                                                                     */
/* ======================================================================== */

int tide__curve_available(void)
{
    return zmq_has("curve") == 1;
}

int tide__curve_generate(tide__curve_keys *k, tide_error *e)
{
    memset(k, 0, sizeof *k);
    if (!tide__curve_available() || zmq_curve_keypair(k->public_key, k->secret_key) != 0)
        return tide_err_set(e, TIDE_ESTATE,
                            "this libzmq has no CURVE support (built without libsodium)");
    return TIDE_OK;
}

int tide__curve_format(const tide__curve_keys *k, char *buf, unsigned size)
{
    int n = snprintf(buf, size,
                     "# tide cluster key (ZeroMQ CURVE), written by 'tide keygen'.\n"
                     "# Every process of the cluster reads this same file (--keys FILE).\n"
                     "# Keep it secret: whoever holds it can join the cluster.\n"
                     "public-key = %s\n"
                     "secret-key = %s\n",
                     k->public_key, k->secret_key);
    if (n < 0 || (unsigned)n >= size) return TIDE_ERANGE;
    return n;
}

int tide__curve_write(const char *path, const tide__curve_keys *k, tide_error *e)
{
    char text[512];
    int n = tide__curve_format(k, text, sizeof text);
    if (n < 0) return tide_err_set(e, TIDE_ERANGE, "key file text too long");
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        int err = errno;
        explicit_bzero(text, sizeof text);
        return tide_err_set(e, TIDE_EIO, "key file '%s': %s%s", path, strerror(err),
                            err == EEXIST ? " (tide keygen never overwrites a key file)" : "");
    }
    size_t done = 0;
    int rc = TIDE_OK;
    while (done < (size_t)n) {
        ssize_t w = write(fd, text + done, (size_t)n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            rc = tide_err_set(e, TIDE_EIO, "key file '%s': write: %s", path, strerror(errno));
            break;
        }
        done += (size_t)w;
    }
    if (rc == TIDE_OK && fsync(fd) != 0)
        rc = tide_err_set(e, TIDE_EIO, "key file '%s': fsync: %s", path, strerror(errno));
    if (close(fd) != 0 && rc == TIDE_OK)
        rc = tide_err_set(e, TIDE_EIO, "key file '%s': close: %s", path, strerror(errno));
    if (rc < 0) unlink(path);
    explicit_bzero(text, sizeof text);
    return rc;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* A Z85 key of exactly 40 characters that decodes to 32 bytes. */
static int z85_ok(const char *s, size_t n)
{
    uint8_t raw[32];
    char tmp[TIDE__CURVE_Z85 + 1];
    if (n != TIDE__CURVE_Z85) return 0;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    int ok = zmq_z85_decode(raw, tmp) != NULL;
    explicit_bzero(raw, sizeof raw);
    explicit_bzero(tmp, sizeof tmp);
    return ok;
}

/* One line "name = value" (comments and blanks skipped). */
static int parse_line(const char *src, unsigned lineno, const char *s, size_t n,
                      tide__curve_keys *k, tide_error *e)
{
    while (n > 0 && is_space(*s)) s++, n--;
    while (n > 0 && is_space(s[n - 1])) n--;
    /* Only whole lines are comments: '#' and '=' are Z85 characters. */
    if (n == 0 || *s == '#') return TIDE_OK;
    const char *eq = memchr(s, '=', n);
    if (eq == NULL) return tide_err_set(e, TIDE_EPARSE, "%s:%u: not \"name = value\"", src, lineno);
    size_t nl = (size_t)(eq - s);
    while (nl > 0 && is_space(s[nl - 1])) nl--;
    const char *v = eq + 1;
    size_t vl = n - (size_t)(v - s);
    while (vl > 0 && is_space(*v)) v++, vl--;
    char *dst;
    if (nl == 10 && memcmp(s, "public-key", 10) == 0)
        dst = k->public_key;
    else if (nl == 10 && memcmp(s, "secret-key", 10) == 0)
        dst = k->secret_key;
    else
        return tide_err_set(e, TIDE_EPARSE, "%s:%u: unknown name '%.*s'", src, lineno,
                            (int)(nl < 40 ? nl : 40), s);
    if (dst[0] != '\0')
        return tide_err_set(e, TIDE_EPARSE, "%s:%u: '%.*s' given twice", src, lineno, (int)nl, s);
    if (!z85_ok(v, vl))
        return tide_err_set(e, TIDE_EPARSE, "%s:%u: '%.*s' is not a key (40 characters of Z85)",
                            src, lineno, (int)nl, s);
    memcpy(dst, v, vl);
    dst[vl] = '\0';
    return TIDE_OK;
}

int tide__curve_parse(const char *source, const char *text, unsigned long len, tide__curve_keys *k,
                      tide_error *e)
{
    memset(k, 0, sizeof *k);
    unsigned lineno = 0;
    unsigned long pos = 0;
    int rc = TIDE_OK;
    while (rc == TIDE_OK && pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
        lineno++;
        if (memchr(text + pos, '\0', n))
            rc = tide_err_set(e, TIDE_EPARSE, "%s:%u: NUL byte in line", source, lineno);
        else
            rc = parse_line(source, lineno, text + pos, n, k, e);
        pos += n + (nl ? 1 : 0);
    }
    if (rc == TIDE_OK && (k->public_key[0] == '\0' || k->secret_key[0] == '\0'))
        rc = tide_err_set(e, TIDE_EPARSE, "%s: needs both 'public-key' and 'secret-key'", source);
    char derived[TIDE__CURVE_Z85 + 1];
    if (rc == TIDE_OK &&
        (zmq_curve_public(derived, k->secret_key) != 0 || strcmp(derived, k->public_key) != 0))
        rc = tide_err_set(e, TIDE_EPARSE, "%s: the public key does not belong to the secret key",
                          source);
    if (rc < 0) tide__curve_wipe(k);
    return rc;
}

int tide__curve_load(const char *path, tide__curve_keys *k, tide_error *e)
{
    memset(k, 0, sizeof *k);
    if (!tide__curve_available())
        return tide_err_set(e, TIDE_ESTATE,
                            "key file '%s': this libzmq has no CURVE support (built without "
                            "libsodium)",
                            path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return tide_err_set(e, TIDE_EIO, "key file '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return tide_err_set(e, TIDE_EIO, "key file '%s': not a regular file", path);
    }
    if (st.st_mode & 077) {
        close(fd);
        return tide_err_set(e, TIDE_EIO,
                            "key file '%s' is open to group or others (mode %04o): chmod 600 it",
                            path, (unsigned)(st.st_mode & 07777));
    }
    char text[FILE_MAX];
    size_t len = 0;
    for (;;) {
        ssize_t r = read(fd, text + len, sizeof text - len);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int err = errno;
            close(fd);
            explicit_bzero(text, sizeof text);
            return tide_err_set(e, TIDE_EIO, "key file '%s': %s", path, strerror(err));
        }
        if (r == 0) break;
        len += (size_t)r;
        if (len == sizeof text) {
            close(fd);
            explicit_bzero(text, sizeof text);
            return tide_err_set(e, TIDE_EPARSE, "key file '%s': longer than %d bytes", path,
                                FILE_MAX - 1);
        }
    }
    close(fd);
    int rc = tide__curve_parse(path, text, len, k, e);
    explicit_bzero(text, sizeof text);
    return rc;
}

void tide__curve_wipe(tide__curve_keys *k)
{
    explicit_bzero(k, sizeof *k);
}

/* ======================================================================== */
/* Sockets                                                                  */
/* ======================================================================== */

int tide__curve_server(void *sock, const tide__curve_keys *k, tide_error *e)
{
    int one = 1;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, k->secret_key, TIDE__CURVE_Z85) != 0 ||
        zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, ZAP_DOMAIN, strlen(ZAP_DOMAIN)) != 0)
        return tide_err_set(e, TIDE_ENET, "making a socket a CURVE server: %s",
                            zmq_strerror(errno));
    return TIDE_OK;
}

int tide__curve_client(void *sock, const tide__curve_keys *k, tide_error *e)
{
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, k->public_key, TIDE__CURVE_Z85) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, k->public_key, TIDE__CURVE_Z85) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, k->secret_key, TIDE__CURVE_Z85) != 0)
        return tide_err_set(e, TIDE_ENET, "making a socket a CURVE client: %s",
                            zmq_strerror(errno));
    return TIDE_OK;
}

/* ======================================================================== */
/* ZAP handler                                                              */
/* ======================================================================== */

struct tide__zap {
    void *rep;              /* the handler thread's */
    uint8_t key[32];        /* the cluster's public key, binary */
    tide__curve_log_fn log; /* NULL: stderr */
    void *log_ctx;
    uint64_t accepted, refused; /* atomic */
    uint32_t stop;              /* atomic */
    pthread_t thread;
};

static void zap_log(tide__zap *z, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void zap_log(tide__zap *z, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (z->log)
        z->log(z->log_ctx, msg);
    else
        fprintf(stderr, "tide: %s\n", msg);
}

/* Frame @i of a request as a string into @buf (truncated, printable). */
static void frame_str(zmq_msg_t *f, int have, char *buf, size_t size)
{
    size_t n = have ? zmq_msg_size(f) : 0;
    if (n >= size) n = size - 1;
    const char *p = have ? zmq_msg_data(f) : "";
    for (size_t i = 0; i < n; i++) buf[i] = p[i] >= 0x20 && p[i] < 0x7f ? p[i] : '?';
    buf[n] = '\0';
}

static int frame_is(zmq_msg_t *f, const char *s)
{
    size_t n = strlen(s);
    return zmq_msg_size(f) == n && memcmp(zmq_msg_data(f), s, n) == 0;
}

static void reply(tide__zap *z, zmq_msg_t *req_id, const char *status, const char *text)
{
    const char *parts[6] = {"1.0", NULL, status, text, "", ""};
    for (int i = 0; i < 6; i++) {
        int more = i < 5 ? ZMQ_SNDMORE : 0;
        if (i == 1)
            zmq_send(z->rep, zmq_msg_data(req_id), zmq_msg_size(req_id), more);
        else
            zmq_send(z->rep, parts[i], strlen(parts[i]), more);
    }
}

/* One request: frames version, request id, domain, address, routing id,
 * mechanism, credentials... */
static void handle(tide__zap *z, zmq_msg_t *f, int nf)
{
    int ok = nf >= 7 && frame_is(&f[0], "1.0") && frame_is(&f[2], ZAP_DOMAIN) &&
             frame_is(&f[5], "CURVE") && zmq_msg_size(&f[6]) == sizeof z->key &&
             memcmp(zmq_msg_data(&f[6]), z->key, sizeof z->key) == 0;
    zmq_msg_t empty;
    zmq_msg_init(&empty);
    reply(z, nf >= 2 ? &f[1] : &empty, ok ? "200" : "400",
          ok ? "OK" : "not a member of this cluster");
    zmq_msg_close(&empty);
    if (ok) {
        __atomic_add_fetch(&z->accepted, 1, __ATOMIC_RELAXED);
        return;
    }
    uint64_t n = __atomic_add_fetch(&z->refused, 1, __ATOMIC_RELAXED);
    if (n > LOG_FIRST && n % LOG_EVERY != 0) return;
    char addr[64], mech[16];
    frame_str(&f[3], nf >= 4, addr, sizeof addr);
    frame_str(&f[5], nf >= 6, mech, sizeof mech);
    zap_log(z, "refused a connection from %s: %s (%llu refused so far)",
            addr[0] ? addr : "an unknown address",
            strcmp(mech, "CURVE") == 0 ? "it does not hold the cluster key"
                                       : "it did not authenticate with CURVE",
            (unsigned long long)n);
}

static void *zap_main(void *arg)
{
    tide__zap *z = arg;
    zmq_pollitem_t item = {.socket = z->rep, .events = ZMQ_POLLIN};
    while (!__atomic_load_n(&z->stop, __ATOMIC_ACQUIRE)) {
        int rc = zmq_poll(&item, 1, ZAP_POLL_MS);
        if (rc < 0) {
            if (errno == EINTR) continue;
            break; /* ETERM: the context is going away */
        }
        if (rc == 0) continue;
        zmq_msg_t f[ZAP_FRAMES];
        int nf = 0, more = 1, err = 0;
        while (more) {
            zmq_msg_t spill, *p = nf < ZAP_FRAMES ? &f[nf] : &spill;
            zmq_msg_init(p);
            if (zmq_msg_recv(p, z->rep, 0) < 0) {
                zmq_msg_close(p);
                if (errno == EINTR) continue;
                err = 1;
                break;
            }
            more = zmq_msg_more(p);
            if (p == &spill)
                zmq_msg_close(p);
            else
                nf++;
        }
        if (!err) handle(z, f, nf);
        for (int i = 0; i < nf; i++) zmq_msg_close(&f[i]);
        if (err && errno == ETERM) break;
    }
    return NULL;
}

tide__zap *tide__zap_start(void *zctx, const tide__curve_keys *k, tide__curve_log_fn log,
                           void *log_ctx, tide_error *e)
{
    tide__zap *z = tide_calloc(1, sizeof *z);
    if (z == NULL) {
        tide_err_set(e, TIDE_ENOMEM, "out of memory starting the ZAP handler");
        return NULL;
    }
    z->log = log;
    z->log_ctx = log_ctx;
    if (zmq_z85_decode(z->key, k->public_key) == NULL) {
        tide_err_set(e, TIDE_EINVAL, "the cluster's public key is not Z85");
        tide_free(z);
        return NULL;
    }
    int zero = 0;
    z->rep = zmq_socket(zctx, ZMQ_REP);
    if (z->rep == NULL || zmq_setsockopt(z->rep, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_bind(z->rep, ZAP_ENDPOINT) != 0) {
        tide_err_set(e, TIDE_ENET, "starting the ZAP handler: %s", zmq_strerror(errno));
        if (z->rep) zmq_close(z->rep);
        tide_free(z);
        return NULL;
    }
    if (pthread_create(&z->thread, NULL, zap_main, z) != 0) {
        tide_err_set(e, TIDE_ENOMEM, "cannot start the ZAP handler's thread");
        zmq_close(z->rep);
        tide_free(z);
        return NULL;
    }
    return z;
}

uint64_t tide__zap_refused(const tide__zap *z)
{
    return __atomic_load_n(&z->refused, __ATOMIC_RELAXED);
}

uint64_t tide__zap_accepted(const tide__zap *z)
{
    return __atomic_load_n(&z->accepted, __ATOMIC_RELAXED);
}

void tide__zap_stop(tide__zap *z)
{
    if (z == NULL) return;
    __atomic_store_n(&z->stop, 1, __ATOMIC_RELEASE);
    pthread_join(z->thread, NULL);
    zmq_close(z->rep);
    tide_free(z);
}

/* ======================================================================== */
/* Policy                                                                   */
/* ======================================================================== */

int tide__curve_host_is_loopback(const char *host)
{
    unsigned char a[16];
    if (strcmp(host, "localhost") == 0) return 1;
    if (inet_pton(AF_INET, host, a) == 1) return a[0] == 127;
    if (inet_pton(AF_INET6, host, a) == 1) {
        static const unsigned char lo[16] = {[15] = 1};
        return memcmp(a, lo, 16) == 0;
    }
    return 0;
}
