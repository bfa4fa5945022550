/*
 * main.c - tide-log: event-log tools.
 *
 *   tide-log convert IN OUT [--format jsonl|msgpack]
 *       Check IN (JSON Lines or MessagePack, detected) like tide-export
 *       does and write it to OUT in the other format (or --format).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "tide/tide.h"

static int convert(const char *in, const char *out, int to_msgpack)
{
    tide_error e = {0};
    char *paths[1] = {(char *)in};
    fx_log *l = fx_log_open(paths, 1, false, false, &e);
    if (l == NULL) {
        fprintf(stderr, "tide-log: %s\n", e.msg);
        return 1;
    }
    FILE *f = fopen(out, "wb");
    if (f == NULL) {
        fprintf(stderr, "tide-log: %s: %s\n", out, strerror(errno));
        fx_log_free(l);
        return 1;
    }
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    fx_batch b;
    fx_batch_init(&b);
    int n, rc = 0;
    uint64_t total = 0;
    char *sbuf = malloc(1 << 16);
    while ((n = fx_log_next(l, 10000, &b, &e)) > 0 && rc == 0) {
        for (int i = 0; i < n && rc == 0; i++) {
            uint32_t len;
            const uint8_t *row = fx_batch_row(&b, (uint32_t)i, &len);
            fx_ev ev;
            if (len + 256 > (1 << 16) || fx_event_from_row(row, len, &ev, sbuf, 1 << 16) < 0) {
                rc = 1;
                break;
            }
            if (to_msgpack) {
                msgpack_sbuffer_clear(&sb);
                fx_event_write_msgpack(&pk, &ev);
                if (fwrite(sb.data, 1, sb.size, f) != sb.size) rc = 1;
            } else if (fx_event_write_json(f, &ev) < 0) {
                rc = 1;
            }
        }
        total += (uint64_t)n;
    }
    if (n < 0) {
        fprintf(stderr, "tide-log: %s\n", e.msg);
        rc = 1;
    }
    if (fclose(f) != 0) rc = 1;
    free(sbuf);
    fx_batch_fini(&b);
    msgpack_sbuffer_destroy(&sb);
    fx_log_free(l);
    if (rc == 0)
        fprintf(stderr, "tide-log: %llu event(s) written to %s\n", (unsigned long long)total, out);
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: tide-log convert IN OUT [--format jsonl|msgpack]\n"
               "Convert an event log between JSON Lines and MessagePack (default: to the other\n"
               "format than IN's), checking every event.\n"
               "      --help     display this help and exit\n"
               "      --version  output version information and exit\n");
}

/* The format of @path from its first byte: 1 for MessagePack. */
static int is_msgpack(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) return 0;
    int c = fgetc(f);
    fclose(f);
    return (c >= 0x80 && c <= 0x8f) || c == 0xde || c == 0xdf;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("tide-log (tide) %s\n", TIDE_VERSION);
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    }
    if (argc >= 4 && strcmp(argv[1], "convert") == 0) {
        int to = !is_msgpack(argv[2]);
        if (argc == 6 && strcmp(argv[4], "--format") == 0)
            to = strcmp(argv[5], "msgpack") == 0;
        else if (argc != 4)
            goto bad;
        return convert(argv[2], argv[3], to);
    }
bad:
    usage(stderr);
    return 2;
}
