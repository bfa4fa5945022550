/*
 * test_curve.c - the cluster key and CURVE security (net/curve.c): key files
 * round-trip and refuse what is wrong with them; a CURVE server with the ZAP
 * handler lets in a client holding the cluster key and refuses (and logs) a
 * client with another key, one without keys, and raw junk.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "cluster_run.h"
#include "curve.h"

TestSuite(curve);

static void tmp_path(char *buf, size_t n, const char *tag)
{
    static unsigned seq;
    snprintf(buf, n, "/tmp/tide_curve_%d_%u_%s", (int)getpid(), seq++, tag);
    unlink(buf);
}

Test(curve, key_file_round_trip)
{
    cr_assert(tide__curve_available(), "libzmq without CURVE");
    tide__curve_keys k, r;
    tide_error e;
    cr_assert_eq(tide__curve_generate(&k, &e), TIDE_OK);
    cr_expect_eq(strlen(k.public_key), 40);
    char path[128];
    tmp_path(path, sizeof path, "key");
    cr_assert_eq(tide__curve_write(path, &k, &e), TIDE_OK, "%s", e.msg);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_expect_eq(st.st_mode & 0777, 0600);
    cr_assert_eq(tide__curve_load(path, &r, &e), TIDE_OK, "%s", e.msg);
    cr_expect_str_eq(r.public_key, k.public_key);
    cr_expect_str_eq(r.secret_key, k.secret_key);
    /* Never overwrites. */
    cr_expect_eq(tide__curve_write(path, &k, &e), TIDE_EIO);
    cr_expect(strstr(e.msg, "never overwrites") != NULL, "%s", e.msg);
    /* Open to others: refused. */
    chmod(path, 0644);
    cr_expect_eq(tide__curve_load(path, &r, &e), TIDE_EIO);
    cr_expect(strstr(e.msg, "chmod 600") != NULL, "%s", e.msg);
    unlink(path);
    cr_expect_eq(tide__curve_load(path, &r, &e), TIDE_EIO);
    tide__curve_wipe(&k);
    cr_expect_eq(k.secret_key[0], '\0');
}

Test(curve, key_text_errors)
{
    tide__curve_keys a, b, r;
    tide_error e;
    tide__curve_generate(&a, &e);
    tide__curve_generate(&b, &e);
    char text[512];
    /* A public key of another pair. */
    snprintf(text, sizeof text, "public-key = %s\nsecret-key = %s\n", b.public_key, a.secret_key);
    cr_expect_eq(tide__curve_parse("k", text, strlen(text), &r, &e), TIDE_EPARSE);
    cr_expect(strstr(e.msg, "does not belong") != NULL, "%s", e.msg);
    snprintf(text, sizeof text, "public-key = %s\n", a.public_key);
    cr_expect_eq(tide__curve_parse("k", text, strlen(text), &r, &e), TIDE_EPARSE);
    cr_expect(strstr(e.msg, "needs both") != NULL, "%s", e.msg);
    snprintf(text, sizeof text, "# c\n\npublic-key = %.39s\nsecret-key = %s\n", a.public_key,
             a.secret_key);
    cr_expect_eq(tide__curve_parse("k", text, strlen(text), &r, &e), TIDE_EPARSE);
    cr_expect_str_eq(e.msg, "k:3: 'public-key' is not a key (40 characters of Z85)");
    snprintf(text, sizeof text, "colour = blue\n");
    cr_expect_eq(tide__curve_parse("k", text, strlen(text), &r, &e), TIDE_EPARSE);
    cr_expect_str_eq(e.msg, "k:1: unknown name 'colour'");
    snprintf(text, sizeof text, "  # c\npublic-key=%s  \r\nsecret-key =\t%s", a.public_key,
             a.secret_key);
    cr_expect_eq(tide__curve_parse("k", text, strlen(text), &r, &e), TIDE_OK, "%s", e.msg);
    cr_expect_str_eq(r.secret_key, a.secret_key);
}

Test(curve, loopback_policy)
{
    cr_expect(tide__curve_host_is_loopback("127.0.0.1"));
    cr_expect(tide__curve_host_is_loopback("127.3.2.1"));
    cr_expect(tide__curve_host_is_loopback("::1"));
    cr_expect(tide__curve_host_is_loopback("localhost"));
    cr_expect(!tide__curve_host_is_loopback("10.0.0.1"));
    cr_expect(!tide__curve_host_is_loopback("0.0.0.0"));
    cr_expect(!tide__curve_host_is_loopback("::"));
    cr_expect(!tide__curve_host_is_loopback("example.org"));
    cr_expect(!tide__curve_host_is_loopback("128.0.0.1"));
}

/* ---- ZAP: a server that echoes, and clients of every kind --------------------- */

typedef struct logbook {
    pthread_mutex_t lock;
    int n;
    char last[256];
} logbook;

static void log_to(void *ctx, const char *msg)
{
    logbook *l = ctx;
    pthread_mutex_lock(&l->lock);
    l->n++;
    snprintf(l->last, sizeof l->last, "%s", msg);
    pthread_mutex_unlock(&l->lock);
}

static int log_count(logbook *l)
{
    pthread_mutex_lock(&l->lock);
    int n = l->n;
    pthread_mutex_unlock(&l->lock);
    return n;
}

/* A client DEALER (CURVE with @k when non-NULL) sends "ping"; 1 if the
 * ROUTER got it within @ms. */
static int reaches(void *zctx, void *router, uint16_t port, const tide__curve_keys *k, int ms)
{
    void *d = zmq_socket(zctx, ZMQ_DEALER);
    int zero = 0;
    tide_error e;
    zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof zero);
    if (k) cr_assert_eq(tide__curve_client(d, k, &e), TIDE_OK);
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%u", port);
    zmq_connect(d, ep);
    zmq_send(d, "ping", 4, ZMQ_DONTWAIT);
    zmq_pollitem_t it = {.socket = router, .events = ZMQ_POLLIN};
    int got = 0;
    if (zmq_poll(&it, 1, ms) > 0) {
        char buf[64];
        int more = 1;
        size_t ms_ = sizeof more;
        while (more) {
            int n = zmq_recv(router, buf, sizeof buf, 0);
            zmq_getsockopt(router, ZMQ_RCVMORE, &more, &ms_);
            if (!more && n == 4 && memcmp(buf, "ping", 4) == 0) got = 1;
        }
    }
    zmq_close(d);
    return got;
}

Test(curve, zap_admits_only_the_cluster_key)
{
    tide__curve_keys k, other;
    tide_error e;
    tide__curve_generate(&k, &e);
    tide__curve_generate(&other, &e);
    logbook lb = {.lock = PTHREAD_MUTEX_INITIALIZER};
    void *zctx = zmq_ctx_new();
    tide__zap *z = tide__zap_start(zctx, &k, log_to, &lb, &e);
    cr_assert_not_null(z, "%s", e.msg);
    void *router = zmq_socket(zctx, ZMQ_ROUTER);
    int zero = 0;
    zmq_setsockopt(router, ZMQ_LINGER, &zero, sizeof zero);
    cr_assert_eq(tide__curve_server(router, &k, &e), TIDE_OK);
    uint16_t port = tide_test_free_ports(1);
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%u", port);
    cr_assert_eq(zmq_bind(router, ep), 0);

    cr_expect(reaches(zctx, router, port, &k, 3000), "the cluster key was refused");
    cr_expect_eq(tide__zap_accepted(z), 1);
    /* Another key pair, knowing the cluster's public key (say it leaked):
     * CURVE completes, ZAP refuses. */
    void *d = zmq_socket(zctx, ZMQ_DEALER);
    zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(d, ZMQ_CURVE_SERVERKEY, k.public_key, 40);
    zmq_setsockopt(d, ZMQ_CURVE_PUBLICKEY, other.public_key, 40);
    zmq_setsockopt(d, ZMQ_CURVE_SECRETKEY, other.secret_key, 40);
    zmq_connect(d, ep);
    zmq_send(d, "ping", 4, ZMQ_DONTWAIT);
    zmq_pollitem_t it = {.socket = router, .events = ZMQ_POLLIN};
    cr_expect_eq(zmq_poll(&it, 1, 500), 0, "a client with another key got through");
    zmq_close(d);
    cr_expect_geq(tide__zap_refused(z), 1);
    cr_expect(strstr(lb.last, "does not hold the cluster key") != NULL, "log: '%s'", lb.last);
    cr_expect(strstr(lb.last, "127.0.0.1") != NULL, "log: '%s'", lb.last);
    /* Without keys, and with another cluster's keys: never reach the ROUTER. */
    cr_expect(!reaches(zctx, router, port, NULL, 500), "a client without keys got through");
    cr_expect(!reaches(zctx, router, port, &other, 500), "another cluster's key got through");
    /* Raw junk. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    cr_expect_eq(write(fd, junk, sizeof junk - 1), (ssize_t)sizeof junk - 1);
    cr_expect_eq(zmq_poll(&it, 1, 300), 0, "an HTTP request reached the ROUTER");
    close(fd);
    /* The right key still gets in afterwards. */
    cr_expect(reaches(zctx, router, port, &k, 3000), "the cluster key was refused after attacks");
    cr_expect(log_count(&lb) >= 1);
    zmq_close(router);
    tide__zap_stop(z);
    zmq_ctx_term(zctx);
}
