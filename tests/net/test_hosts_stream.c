/*
 * test_hosts_stream.c - a hosts file is read a block at a time and a hosts
 * text is parsed whole through the same line cutter (net/cluster.c), so a
 * file gives exactly the verdict and table of its text: checked on random
 * files of entries, comments, blank lines, CRLF, NUL bytes and over-long
 * lines, with lines crossing the 4 KiB read blocks.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster.h"
#include "tide_test.h"

static tide__cluster a, b;

static size_t random_hosts(tide_rng *r, char *buf, size_t cap, uint32_t n)
{
    size_t len = 0;
    uint32_t entry = 0;
    while (len + 1200 < cap) {
        uint64_t k = tide_rng_below(r, 20);
        int w;
        if (k < 8 && entry < n + (k == 0))
            w = sprintf(buf + len, "127.0.0.%u:%u%s\n", 1 + entry % 200, 2000 + entry,
                        k == 1 ? "\r" : "");
        else if (k < 15)
            w = sprintf(buf + len, "# comment %llu\n", (unsigned long long)tide_rng_next(r));
        else if (k < 19)
            w = sprintf(buf + len, "%*s\n", (int)tide_rng_below(r, 300), "");
        else if (tide_rng_below(r, 8) == 0) { /* a fault */
            w = (int)tide_rng_below(r, 1100);
            memset(buf + len, tide_rng_below(r, 2) ? '#' : 'x', (size_t)w);
            buf[len + (size_t)w] = '\n';
            if (tide_rng_below(r, 4) == 0) buf[len] = '\0';
            w++;
        } else
            w = 0;
        if (k < 8 && entry < n + (k == 0)) entry++;
        len += (size_t)w;
        if (entry >= n && tide_rng_below(r, 6) == 0) break;
    }
    return len;
}

Test(hosts_stream, file_and_text_agree)
{
    tide_rng r = {tide_test_seed("hosts stream", 1)};
    static char text[16384];
    int ok = 0;
    for (int round = 0; round < 60; round++) {
        uint32_t n = 1 + (uint32_t)tide_rng_below(&r, 40);
        size_t len = random_hosts(&r, text, sizeof text, n);
        char path[] = "/tmp/tide_hosts_stream_XXXXXX";
        int fd = mkstemp(path);
        cr_assert(fd >= 0);
        cr_assert_eq(write(fd, text, len), (ssize_t)len);
        close(fd);
        tide_config c;
        tide_config_init(&c);
        c.processes = n;
        snprintf(c.hostfile, sizeof c.hostfile, "%s", path);
        tide_error ea, eb;
        tide_err_clear(&ea);
        tide_err_clear(&eb);
        int ra = tide__cluster_init(&a, &c, &ea);
        int rb = tide__cluster_parse(&b, path, text, len, n, 0, &eb);
        unlink(path);
        cr_assert_eq(ra, rb, "round %d: file %d (%s), text %d (%s)", round, ra, ea.msg, rb, eb.msg);
        cr_assert_str_eq(ea.msg, eb.msg);
        if (ra != TIDE_OK) continue;
        ok++;
        for (uint32_t i = 0; i < n; i++) {
            cr_assert_str_eq(a.peers[i].name, b.peers[i].name);
            cr_assert_eq(a.peers[i].line, b.peers[i].line);
        }
    }
    cr_expect(ok > 5, "only %d of 60 random files were valid", ok);
}
