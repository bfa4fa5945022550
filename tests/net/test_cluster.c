/*
 * test_cluster.c - the process table: default ports, hosts files (good and
 * malformed, with file:line errors) and ZeroMQ endpoints.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster.h"
#include "tide/config.h"

static tide__cluster cl;
static tide_error e;

Test(cluster, default_ports)
{
    tide_config c;
    tide_config_init(&c);
    c.processes = 3;
    c.process = 1;
    c.base_port = 4000;
    cr_assert_eq(tide__cluster_init(&cl, &c, &e), TIDE_OK, "%s", e.msg);
    cr_expect_eq(cl.processes, 3);
    cr_expect_eq(cl.self, 1);
    cr_expect_str_eq(tide__cluster_peer_name(&cl, 2), "127.0.0.1:4002");
    char ep[64];
    cr_assert_eq(tide__cluster_bind_endpoint(&cl, 1, ep, sizeof ep), TIDE_OK);
    cr_expect_str_eq(ep, "tcp://127.0.0.1:4001");
    cr_assert_eq(tide__cluster_connect_endpoint(&cl, 0, ep, sizeof ep), TIDE_OK);
    cr_expect_str_eq(ep, "tcp://127.0.0.1:4000");
    cr_expect_eq(tide__cluster_connect_endpoint(&cl, 0, ep, 8), TIDE_ERANGE);
}

static int parse(const char *text, uint32_t n)
{
    tide_err_clear(&e);
    return tide__cluster_parse(&cl, "hosts", text, strlen(text), n, 0, &e);
}

Test(cluster, hosts_text)
{
    const char *text = "# the cluster\n"
                       "\n"
                       "  node-a.example.org:2101   # first\n"
                       "10.0.0.2:2102\r\n"
                       "[::1]:2103\n"
                       "\t\n"
                       "node_d:9";
    cr_assert_eq(parse(text, 4), TIDE_OK, "%s", e.msg);
    cr_expect_str_eq(cl.peers[0].host, "node-a.example.org");
    cr_expect_eq(cl.peers[0].port, 2101);
    cr_expect_eq(cl.peers[0].line, 3);
    cr_expect_eq(cl.peers[0].numeric, 0);
    cr_expect_eq(cl.peers[1].numeric, 1);
    cr_expect_eq(cl.peers[2].ipv6, 1);
    cr_expect_str_eq(cl.peers[2].name, "[::1]:2103");
    cr_expect_eq(cl.peers[3].line, 7);
    char ep[300];
    tide__cluster_bind_endpoint(&cl, 0, ep, sizeof ep);
    cr_expect_str_eq(ep, "tcp://*:2101");
    tide__cluster_connect_endpoint(&cl, 0, ep, sizeof ep);
    cr_expect_str_eq(ep, "tcp://node-a.example.org:2101");
    tide__cluster_bind_endpoint(&cl, 1, ep, sizeof ep);
    cr_expect_str_eq(ep, "tcp://10.0.0.2:2102");
    tide__cluster_bind_endpoint(&cl, 2, ep, sizeof ep);
    cr_expect_str_eq(ep, "tcp://[::1]:2103");
}

static void expect_bad(const char *text, uint32_t n, const char *where, const char *what)
{
    int rc = parse(text, n);
    cr_expect_eq(rc, TIDE_EPARSE, "'%s': rc %d", text, rc);
    cr_expect(strstr(e.msg, where) != NULL, "'%s' should say '%s'", e.msg, where);
    cr_expect(strstr(e.msg, what) != NULL, "'%s' should say '%s'", e.msg, what);
}

Test(cluster, malformed_hosts)
{
    expect_bad("a:1\nb\n", 2, "hosts:2:", "no port");
    expect_bad("a:1\nb:\n", 2, "hosts:2:", "empty port");
    expect_bad(":5\n", 1, "hosts:1:", "empty host");
    expect_bad("a:0\n", 1, "hosts:1:", "'0'");
    expect_bad("a:65536\n", 1, "hosts:1:", "65536");
    expect_bad("a:12x\n", 1, "hosts:1:", "12x");
    expect_bad("a:99999999999999999999\n", 1, "hosts:1:", "port");
    expect_bad("a b:1\n", 1, "hosts:1:", "bad character ' '");
    expect_bad("::1:5\n", 1, "hosts:1:", "IPv6");
    expect_bad("[::1:5\n", 1, "hosts:1:", "[ipv6]:port");
    expect_bad("[zz::1]:5\n", 1, "hosts:1:", "not an IPv6");
    expect_bad("a:1\na:1\n", 2, "hosts:2:", "line 1");
    expect_bad("a:1\n#\nb:2\nc:3\n", 2, "hosts:4:", "too many");
    expect_bad("a:1\n\n", 2, "hosts:", "1 entry");
    expect_bad("", 1, "hosts:", "0 entries");
    cr_expect_eq(tide__cluster_parse(&cl, "hosts", "a:1\0b:2\n", 8, 2, 0, &e), TIDE_EPARSE);
    cr_expect(strstr(e.msg, "hosts:1: NUL") != NULL, "%s", e.msg);
    char big[2000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    expect_bad(big, 1, "hosts:1:", "longer");
}

static char *write_tmp(const char *text)
{
    static char path[64];
    strcpy(path, "/tmp/tide_hosts_XXXXXX");
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

Test(cluster, hosts_file)
{
    tide_config c;
    tide_config_init(&c);
    c.processes = 2;
    c.process = 1;
    char *path = write_tmp("127.0.0.1:5001\n127.0.0.1:5002\n");
    strcpy(c.hostfile, path);
    cr_assert_eq(tide__cluster_init(&cl, &c, &e), TIDE_OK, "%s", e.msg);
    cr_expect_str_eq(cl.peers[1].name, "127.0.0.1:5002");
    unlink(path);

    path = write_tmp("127.0.0.1:5001\n# two\n127.0.0.1:x\n");
    strcpy(c.hostfile, path);
    cr_expect_eq(tide__cluster_init(&cl, &c, &e), TIDE_EPARSE);
    char where[80];
    snprintf(where, sizeof where, "%s:3:", path);
    cr_expect(strstr(e.msg, where) != NULL, "'%s' should say '%s'", e.msg, where);
    unlink(path);

    char big[1500];
    memset(big, 'h', sizeof big - 2);
    big[sizeof big - 2] = '\n';
    big[sizeof big - 1] = '\0';
    path = write_tmp(big);
    strcpy(c.hostfile, path);
    cr_expect_eq(tide__cluster_init(&cl, &c, &e), TIDE_EPARSE);
    cr_expect(strstr(e.msg, ":1: line longer") != NULL, "%s", e.msg);
    unlink(path);

    strcpy(c.hostfile, "/nonexistent/hosts");
    cr_expect_eq(tide__cluster_init(&cl, &c, &e), TIDE_EIO);
    cr_expect(strstr(e.msg, "/nonexistent/hosts") != NULL, "%s", e.msg);
}
