/*
 * keygen.c - `tide keygen [-o FILE]`: write a new cluster key file.
 *
 * The key file holds one CURVE key pair (net/curve.h); every process of a
 * cluster reads the same file (--keys FILE), and only its holders can
 * connect to the cluster's ports. Without -o the key goes to stdout (for a
 * secret store); with -o the file is created with mode 0600 and an existing
 * file is never overwritten.
 */
#include <stdio.h>
#include <string.h>

#include "../../net/curve.h" /* internal: the CLI links libtide statically */
#include "commands.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: tide keygen [-o FILE]\n"
               "Write a new cluster key (a ZeroMQ CURVE key pair) to FILE, created with\n"
               "mode 0600 and never overwritten, or to standard output. Give the same file\n"
               "to every process of the cluster with --keys FILE: every socket of the\n"
               "cluster then uses CURVE, and only holders of the file can connect. Keys are\n"
               "required whenever any address of the cluster is not loopback.\n"
               "\n"
               "  -o, --output FILE  write the key file FILE\n"
               "      --help         display this help and exit\n"
               "\n"
               "Exit status: 0 on success, 1 if the key could not be made or written, 2 on\n"
               "a usage error.\n");
}

static int usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "tide keygen: %s '%s'\nTry 'tide keygen --help'.\n", what, arg);
    return 2;
}

int tide_cmd_keygen(int argc, char **argv)
{
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            if (i + 1 >= argc) return usage_error("option needs a file name:", a);
            if (out) return usage_error("output given twice:", argv[i + 1]);
            out = argv[++i];
        } else if (strncmp(a, "--output=", 9) == 0) {
            if (out) return usage_error("output given twice:", a + 9);
            out = a + 9;
        } else if (strncmp(a, "-o", 2) == 0 && a[2]) {
            if (out) return usage_error("output given twice:", a + 2);
            out = a + 2;
        } else {
            return usage_error(a[0] == '-' ? "unknown option" : "unexpected argument", a);
        }
    }
    if (out && out[0] == '\0') return usage_error("empty file name", out);
    tide__curve_keys k;
    tide_error e;
    int rc = tide__curve_generate(&k, &e);
    if (rc == 0 && out) {
        rc = tide__curve_write(out, &k, &e);
    } else if (rc == 0) {
        char text[512];
        int n = tide__curve_format(&k, text, sizeof text);
        if (n < 0 || fwrite(text, 1, (size_t)n, stdout) != (size_t)n || fflush(stdout) != 0)
            rc = tide_err_set(&e, TIDE_EIO, "writing to standard output failed");
        memset(text, 0, sizeof text);
    }
    tide__curve_wipe(&k);
    if (rc < 0) {
        fprintf(stderr, "tide keygen: %s\n", e.msg);
        return 1;
    }
    if (out) fprintf(stderr, "tide keygen: wrote %s\n", out);
    return 0;
}
