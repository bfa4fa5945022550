/*
 * fuzz_hosts.c - libFuzzer target for the hosts-file parser (net/cluster.c).
 *
 * Input: byte 0 picks N (1..64), byte 1 this process's index, the rest is
 * the hosts file text. A parse either fails with TIDE_EPARSE/TIDE_EINVAL and
 * a message, or gives a table with the promised invariants: exactly N
 * entries, pairwise distinct "host:port" names, ports in 1..65535, hosts
 * non-empty, NUL-terminated and of allowed characters, and endpoints that
 * format. Any violation aborts.
 *
 * Built by scripts/fuzz.sh; replayed in the regular suite by
 * tests/net/test_fuzz_replay.c (TIDE_FUZZ_REPLAY, fuzz_hosts_one).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"

#define HOSTS_CHECK(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_hosts: %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static int fuzz_hosts_one(const uint8_t *data, size_t size)
{
    static tide__cluster cl; /* ~34 KiB */
    if (size < 2) return 0;
    uint32_t n = 1 + data[0] % TIDE_MAX_PROCESSES;
    uint32_t self = data[1] % (n + 1); /* n itself: out of range, must be refused */
    /* An exact-size copy of the text: a read past it is an ASan report. */
    size_t len = size - 2;
    char *text = malloc(len ? len : 1);
    if (len) memcpy(text, data + 2, len);
    tide_error e;
    tide_err_clear(&e);
    int rc = tide__cluster_parse(&cl, "fuzz", text, len, n, self, &e);
    free(text);
    if (rc != TIDE_OK) {
        HOSTS_CHECK(rc == TIDE_EPARSE || rc == TIDE_EINVAL);
        HOSTS_CHECK(e.msg[0] != '\0');
        return 0;
    }
    HOSTS_CHECK(self < n && cl.processes == n && cl.self == self);
    for (uint32_t i = 0; i < n; i++) {
        const tide__peer *p = &cl.peers[i];
        size_t hl = strnlen(p->host, sizeof p->host);
        HOSTS_CHECK(hl > 0 && hl < sizeof p->host);
        HOSTS_CHECK(p->port >= 1);
        HOSTS_CHECK(strnlen(p->name, sizeof p->name) < sizeof p->name);
        HOSTS_CHECK(p->line >= 1);
        for (size_t k = 0; k < hl; k++) HOSTS_CHECK(p->host[k] != '#' && p->host[k] != ' ');
        for (uint32_t j = 0; j < i; j++) HOSTS_CHECK(strcmp(p->name, cl.peers[j].name) != 0);
        char ep[TIDE__HOST_MAX + 32];
        HOSTS_CHECK(tide__cluster_bind_endpoint(&cl, i, ep, sizeof ep) == TIDE_OK);
        HOSTS_CHECK(tide__cluster_connect_endpoint(&cl, i, ep, sizeof ep) == TIDE_OK);
        HOSTS_CHECK(strncmp(ep, "tcp://", 6) == 0);
    }
    return 0;
}

#ifndef TIDE_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_hosts_one(data, size);
}
#endif
