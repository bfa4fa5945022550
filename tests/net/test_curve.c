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
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "cluster_run.h"
#include "curve.h"
#include "tide/config.h"
#include "wire.h"

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
    cr_expect(tide__zap_refused(z) >= 1, "refused %llu", (unsigned long long)tide__zap_refused(z));
    char last[256];
    pthread_mutex_lock(&lb.lock);
    snprintf(last, sizeof last, "%s", lb.last);
    pthread_mutex_unlock(&lb.lock);
    cr_expect(strstr(last, "does not hold the cluster key") != NULL, "log: '%s'", last);
    cr_expect(strstr(last, "127.0.0.1") != NULL, "log: '%s'", last);
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

/* ---- a cluster with keys -------------------------------------------------------- */

static void keyfile(char *path, size_t n, tide__curve_keys *k)
{
    tide_error e;
    tmp_path(path, n, "cluster.key");
    cr_assert_eq(tide__curve_generate(k, &e), TIDE_OK);
    cr_assert_eq(tide__curve_write(path, k, &e), TIDE_OK, "%s", e.msg);
}

/* A run with keys on loopback gives the same output as one without. */
Test(curve, keys_on_loopback_same_output)
{
    char path[128];
    tide__curve_keys k;
    keyfile(path, sizeof path, &k);
    const char *const keyed[] = {"--keys", path, NULL};
    const char *const xk[] = {"exchange", "5000", "3", "--keys", path, NULL};
    const char *const x[] = {"exchange", "5000", "3", NULL};
    int rc1, rc2, rc3, rc4;
    char *e1, *e2, *e3, *e4;
    char *plain = tide_test_run_sorted(2, 2, tide_test_bin("wordcount"), NULL, &rc1, &e1);
    char *secure = tide_test_run_sorted(2, 2, tide_test_bin("wordcount"), keyed, &rc2, &e2);
    char *xplain = tide_test_run_sorted(3, 1, tide_test_bin("netcheck"), x, &rc3, &e3);
    char *xsecure = tide_test_run_sorted(3, 1, tide_test_bin("netcheck"), xk, &rc4, &e4);
    unlink(path);
    cr_expect_eq(rc1, 0, "%s", e1);
    cr_expect_eq(rc2, 0, "%s", e2);
    cr_expect_eq(rc3, 0, "%s", e3);
    cr_expect_eq(rc4, 0, "%s", e4);
    cr_expect(strlen(plain) > 0 && strlen(xplain) > 0, "no output");
    cr_expect_str_eq(secure, plain);
    cr_expect_str_eq(xsecure, xplain);
    free(plain), free(secure), free(xplain), free(xsecure);
    free(e1), free(e2), free(e3), free(e4);
}

/* Raw TCP bytes to @port: junk or an HTTP request. */
static void raw_tcp(uint16_t port, const char *bytes)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
        ssize_t w = write(fd, bytes, strlen(bytes));
        (void)w;
        usleep(100000);
    }
    close(fd);
}

/* A ZeroMQ DEALER to @port sends junk; as a CURVE client with @k and server
 * key @server, if given, first a tide HELLO of the right job. 1 if anything
 * came back within 500 ms (a stranger that learns something). */
static int zmq_stranger(uint16_t port, const tide__curve_keys *k, const char *server)
{
    void *ctx = zmq_ctx_new();
    void *d = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof zero);
    if (k) {
        zmq_setsockopt(d, ZMQ_CURVE_SERVERKEY, server, 40);
        zmq_setsockopt(d, ZMQ_CURVE_PUBLICKEY, k->public_key, 40);
        zmq_setsockopt(d, ZMQ_CURVE_SECRETKEY, k->secret_key, 40);
    }
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%u", port);
    zmq_connect(d, ep);
    if (k) { /* a HELLO of the right job, as a member would say it */
        tide_config cfg;
        tide__wire_enc w;
        tide_error e;
        uint8_t hello[256];
        tide_config_init(&cfg);
        cfg.processes = 2, cfg.process = 1;
        snprintf(cfg.job, sizeof cfg.job, "netcheck");
        tide__wire_enc_init(&w);
        tide__wire_encode_hello(&w, &cfg, &e);
        tide__wire_flatten(&w, hello);
        zmq_send(d, hello, w.total, ZMQ_DONTWAIT);
        tide__wire_enc_fini(&w);
    }
    zmq_send(d, "junk", 4, ZMQ_DONTWAIT);
    zmq_pollitem_t it = {.socket = d, .events = ZMQ_POLLIN};
    int got = zmq_poll(&it, 1, 500) > 0;
    zmq_close(d);
    zmq_ctx_term(ctx);
    return got;
}

/* A 2-process job (with keys when @path) that strangers of every kind try
 * to join: each is refused and logged; the job finishes with every record
 * where it belongs. */
static void strangers(const char *path, const tide__curve_keys *k)
{
    tide__curve_keys other;
    tide_error e;
    tide__curve_generate(&other, &e);
    const char *const args[] = {"spin", "4", path ? "--keys" : NULL, path, NULL};
    tide_test_cluster c;
    cr_assert_eq(tide_test_cluster_start(&c, 2, 1, 2000, tide_test_bin("netcheck"), args), 0);
    int ready = 1;
    for (uint32_t i = 0; i < 2; i++) {
        uint64_t end = tide_test_now_ms() + 10000;
        char *s = NULL;
        do {
            free(s);
            usleep(10000);
            s = tide_test_slurp(c.out[i]);
        } while (strstr(s, "ready") == NULL && tide_test_now_ms() < end);
        ready &= strstr(s, "ready") != NULL;
        free(s);
    }
    int learned = 0;
    for (uint32_t i = 0; ready && i < 2; i++) {
        uint16_t port = (uint16_t)(c.port + i);
        raw_tcp(port, "\x01\x02junk\xff\x00\x00\x00\x00\x00\x00\x00\x01\x7f garbage");
        raw_tcp(port, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
        learned += zmq_stranger(port, NULL, NULL);
        if (path) {
            learned += zmq_stranger(port, &other, k->public_key);    /* leaked public key */
            learned += zmq_stranger(port, &other, other.public_key); /* another cluster's */
        }
    }
    tide_test_cluster_wait(&c, 15000);
    char *err[2], *out = tide_test_cluster_stdout(&c);
    int code[2];
    for (uint32_t i = 0; i < 2; i++) {
        err[i] = tide_test_slurp(c.err[i]);
        code[i] = tide_test_cluster_code(&c, i);
    }
    tide_test_cluster_cleanup(&c);
    cr_assert(ready, "the job did not start");
    cr_expect_eq(learned, 0, "a stranger got an answer");
    for (uint32_t i = 0; i < 2; i++) {
        cr_expect_eq(code[i], 0, "process %u failed: %s", i, err[i]);
        cr_expect(strstr(err[i], "Sanitizer") == NULL, "process %u: %s", i, err[i]);
        if (path) {
            cr_expect(strstr(err[i], "does not hold the cluster key") != NULL,
                      "process %u did not log the wrong key: %s", i, err[i]);
        } else {
            cr_expect(strstr(err[i], "dropped a frame from unidentified connection") != NULL,
                      "process %u did not log the strangers' frames: %s", i, err[i]);
        }
        /* Raw bytes, HTTP, and without keys the keyless client too. */
        int refusals = 0;
        for (const char *p = err[i]; (p = strstr(p, "refused a connection to")) != NULL; p++)
            refusals++;
        cr_expect(refusals >= 2, "process %u logged %d refused connections: %s", i, refusals,
                  err[i]);
        free(err[i]);
    }
    /* Every record arrived at its owner in its round. */
    unsigned long long records = 0, bad = 0, lines = 0;
    for (char *l = out; l && *l;) {
        unsigned long long r, b;
        if (sscanf(l, "spin worker=%*u records=%llu sum=%*u mix=%*x bad=%llu", &r, &b) == 2)
            records += r, bad += b, lines++;
        char *nl = strchr(l, '\n');
        l = nl ? nl + 1 : NULL;
    }
    cr_expect_eq(lines, 2, "output: %s", out);
    cr_expect(records > 0);
    cr_expect_eq(bad, 0);
    free(out);
}

Test(curve, strangers_refused_with_keys)
{
    char path[128];
    tide__curve_keys k;
    keyfile(path, sizeof path, &k);
    strangers(path, &k);
    unlink(path);
}

/* Without keys (loopback only) junk and HTTP must not kill the job either. */
Test(curve, junk_does_not_kill_a_job_without_keys)
{
    strangers(NULL, NULL);
}

/* A hosts file beyond loopback without --keys: refused before any socket. */
Test(curve, non_loopback_without_keys_refused)
{
    char hosts[128];
    tmp_path(hosts, sizeof hosts, "hosts");
    FILE *f = fopen(hosts, "w");
    fprintf(f, "127.0.0.1:20001\n10.1.2.3:20002  # another machine\n");
    fclose(f);
    const char *const args[] = {"-h", hosts, "exchange", "10", "1", NULL};
    tide_test_cluster c;
    cr_assert_eq(tide_test_cluster_start(&c, 2, 1, 2000, tide_test_bin("netcheck"), args), 0);
    tide_test_cluster_wait(&c, 5000);
    char want[256];
    snprintf(want, sizeof want, "%s:2: process 1 at 10.1.2.3:20002 is not on loopback", hosts);
    for (uint32_t i = 0; i < 2; i++) {
        char *err = tide_test_slurp(c.err[i]);
        cr_expect_eq(tide_test_cluster_code(&c, i), 1, "process %u: %s", i, err);
        cr_expect(strstr(err, want) != NULL, "'%s' lacks '%s'", err, want);
        cr_expect(strstr(err, "--keys FILE") != NULL, "%s", err);
        free(err);
    }
    tide_test_cluster_cleanup(&c);
    unlink(hosts);
}

/* `tide keygen`: a loadable key file, never overwritten, usage errors. */
Test(curve, keygen_command)
{
    char path[128], cmd[512];
    tmp_path(path, sizeof path, "kg.key");
    snprintf(cmd, sizeof cmd, "%s keygen -o %s 2>/dev/null", tide_test_bin("tide"), path);
    cr_expect_eq(system(cmd), 0);
    tide__curve_keys k;
    tide_error e;
    cr_expect_eq(tide__curve_load(path, &k, &e), TIDE_OK, "%s", e.msg);
    cr_expect_eq(WEXITSTATUS(system(cmd)), 1, "overwrote a key file");
    snprintf(cmd, sizeof cmd, "%s keygen --bogus 2>/dev/null", tide_test_bin("tide"));
    cr_expect_eq(WEXITSTATUS(system(cmd)), 2);
    snprintf(cmd, sizeof cmd, "%s keygen --help >/dev/null", tide_test_bin("tide"));
    cr_expect_eq(system(cmd), 0);
    unlink(path);
}

/* Is anything listening on @port at the IPv4 wildcard (0.0.0.0), or on
 * 127.0.0.1? From /proc/net/tcp (state 0A = LISTEN). */
static void listeners(uint16_t port, int *wildcard, int *loopback)
{
    char line[512], want[16];
    *wildcard = *loopback = 0;
    snprintf(want, sizeof want, ":%04X", port);
    FILE *f = fopen("/proc/net/tcp", "r");
    if (f == NULL) return;
    while (fgets(line, sizeof line, f)) {
        char local[64], remote[64], state[8];
        if (sscanf(line, " %*d: %63s %63s %7s", local, remote, state) != 3) continue;
        if (strcmp(state, "0A") != 0 || strstr(local, want) == NULL) continue;
        if (strncmp(local, "00000000:", 9) == 0) *wildcard = 1;
        if (strncmp(local, "0100007F:", 9) == 0) *loopback = 1;
    }
    fclose(f);
}

/* A hosts file naming a host binds that host's addresses, not 0.0.0.0. */
Test(curve, host_name_binds_its_addresses_only)
{
    char hosts[128];
    tmp_path(hosts, sizeof hosts, "hosts");
    uint16_t port = tide_test_free_ports(2);
    FILE *f = fopen(hosts, "w");
    fprintf(f, "localhost:%u\nlocalhost:%u\n", port, port + 1);
    fclose(f);
    const char *const args[] = {"-h", hosts, "spin", "4", NULL};
    tide_test_cluster c;
    cr_assert_eq(tide_test_cluster_start(&c, 2, 1, 2000, tide_test_bin("netcheck"), args), 0);
    int ready = 0, wildcard = 0, loopback = 0;
    uint64_t end = tide_test_now_ms() + 10000;
    while (!ready && tide_test_now_ms() < end) {
        char *s = tide_test_slurp(c.out[0]);
        ready = strstr(s, "ready") != NULL;
        free(s);
        usleep(10000);
    }
    if (ready) listeners(port, &wildcard, &loopback);
    int rc = tide_test_cluster_wait(&c, 10000);
    char *err = tide_test_slurp(c.err[0]);
    tide_test_cluster_cleanup(&c);
    unlink(hosts);
    cr_assert(ready, "the job did not start: %s", err);
    cr_expect_eq(rc, 0, "%s", err);
    cr_expect(loopback, "nothing listens on 127.0.0.1:%u", port);
    cr_expect(!wildcard, "something listens on 0.0.0.0:%u", port);
    free(err);
}

/* --keys FILE is a cluster flag: parsed out of argv, a value required. */
Test(curve, keys_flag)
{
    tide_config c;
    tide_error e;
    char a0[] = "prog", a1[] = "--keys", a2[] = "/etc/tide/cluster.key", a3[] = "input";
    char *argv[] = {a0, a1, a2, a3, NULL};
    int argc = 4;
    tide_config_init(&c);
    cr_expect_str_eq(c.keys, "", "keys by default");
    cr_assert_eq(tide_config_parse(&c, &argc, argv, &e), TIDE_OK, "%s", e.msg);
    cr_expect_str_eq(c.keys, "/etc/tide/cluster.key");
    cr_expect_eq(argc, 2);
    cr_expect_str_eq(argv[1], "input");
    char b1[] = "--keys=";
    char *argv2[] = {a0, b1, NULL};
    argc = 2;
    cr_expect_eq(tide_config_parse(&c, &argc, argv2, &e), TIDE_EINVAL);
    cr_expect_str_eq(e.msg, "option '--keys': empty file name");
    char *argv3[] = {a0, a1, NULL};
    argc = 2;
    cr_expect_eq(tide_config_parse(&c, &argc, argv3, &e), TIDE_EINVAL);
    cr_expect_str_eq(e.msg, "option '--keys' needs a value");
    cr_expect(strstr(tide_config_usage(), "--keys FILE") != NULL);
}
