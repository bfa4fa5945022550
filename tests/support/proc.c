/*
 * proc.c - a program run through the shell, output captured (see proc.h).
 */
#include "proc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

void tide_test_proc_init(tide_test_proc *p, const char *tag)
{
    snprintf(p->out, sizeof p->out, "/tmp/tide_%s_%d.out", tag, (int)getpid());
    snprintf(p->err, sizeof p->err, "/tmp/tide_%s_%d.err", tag, (int)getpid());
}

void tide_test_proc_fini(tide_test_proc *p)
{
    unlink(p->out);
    unlink(p->err);
}

int tide_test_proc_run(tide_test_proc *p, const char *fmt, ...)
{
    char cmd[8192 + 256];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(cmd, 8192, fmt, ap);
    va_end(ap);
    if (k < 0 || k >= 8192) return -1;
    snprintf(cmd + k, sizeof cmd - (size_t)k, " >%s 2>%s", p->out, p->err);
    int st = system(cmd);
    return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The whole of @path (truncated at 16 KiB) in a rotating static buffer. */
static char *slurp(const char *path)
{
    static char buf[4][16384];
    static unsigned which;
    char *b = buf[which++ & 3];
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(b, sizeof buf[0], "<cannot read %s>", path);
        return b;
    }
    size_t n = fread(b, 1, sizeof buf[0] - 1, f);
    b[n] = '\0';
    fclose(f);
    return b;
}

char *tide_test_proc_out(const tide_test_proc *p)
{
    return slurp(p->out);
}

char *tide_test_proc_err(const tide_test_proc *p)
{
    return slurp(p->err);
}
