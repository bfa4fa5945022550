/*
 * cluster_run.h - run a tide program as N real processes on loopback, for
 * multi-process tests (tests/net/test_cluster_run.c; reusable by any layer).
 *
 * Each process i runs `PROG ARGS... -n N -w W -p i --port P --no-pin
 * --peer-timeout T` with stdout and stderr captured in files. Children get
 * PDEATHSIG=SIGKILL (a test that dies takes them along) and are always
 * reaped: tide_test_cluster_wait kills whatever outlives its deadline, and
 * tide_test_cluster_cleanup kills and reaps the rest and removes the files.
 * Ports: tide_test_free_ports picks N consecutive loopback ports that bind.
 *
 *   tide_test_cluster c;
 *   tide_test_cluster_start(&c, 2, 1, 10000, tide_test_bin("wordcount"), NULL);
 *   int rc = tide_test_cluster_wait(&c, 20000);   // 0: every process exited 0
 *   char *out = tide_test_cluster_stdout(&c);      // all stdouts, process order
 *   ...; free(out); tide_test_cluster_cleanup(&c);
 */
#ifndef TIDE_TEST_CLUSTER_RUN_H
#define TIDE_TEST_CLUSTER_RUN_H

#include <stdint.h>
#include <sys/types.h>

#define TIDE_TEST_MAX_PROCS 16

typedef struct tide_test_cluster {
    uint32_t n;                            /* processes started */
    uint16_t port;                         /* base port */
    pid_t pid[TIDE_TEST_MAX_PROCS];        /* 0 once reaped */
    int status[TIDE_TEST_MAX_PROCS];       /* wait status once reaped */
    uint64_t exit_ms[TIDE_TEST_MAX_PROCS]; /* when it was reaped (monotonic ms) */
    char out[TIDE_TEST_MAX_PROCS][64];     /* stdout file */
    char err[TIDE_TEST_MAX_PROCS][64];     /* stderr file */
} tide_test_cluster;

/* Path of program @name in the test binary's directory (static, 4 rotating buffers). */
const char *tide_test_bin(const char *name);

/* Monotonic milliseconds. */
uint64_t tide_test_now_ms(void);

/* Base of @n consecutive free loopback ports (0 if none found). */
uint16_t tide_test_free_ports(uint32_t n);

/* Start @n processes of @prog with @args (NULL-terminated, may be NULL), W = @w,
 * --peer-timeout @timeout_ms. 0, or -1 if a fork failed (started ones are killed). */
int tide_test_cluster_start(tide_test_cluster *c, uint32_t n, uint32_t w, uint32_t timeout_ms,
                            const char *prog, const char *const *args);

/* Wait for every process, at most @deadline_ms from now, then SIGKILL and reap
 * the rest. 0 if every process exited with status 0, else -1. */
int tide_test_cluster_wait(tide_test_cluster *c, uint32_t deadline_ms);

/* Exit code of process @i (128 + signal when killed), -1 while running. */
int tide_test_cluster_code(const tide_test_cluster *c, uint32_t i);

/* stdout of every process, concatenated in process order (malloc'd). */
char *tide_test_cluster_stdout(const tide_test_cluster *c);

/* The whole of file @path (malloc'd, "" if unreadable). */
char *tide_test_slurp(const char *path);

/* @text with its lines sorted (malloc'd): output of several processes compares
 * equal to a single process's regardless of interleaving. */
char *tide_test_sorted_lines(const char *text);

/* Kill (SIGKILL) and reap whatever still runs; remove the output files. */
void tide_test_cluster_cleanup(tide_test_cluster *c);

/* One-shot: run @prog under N x W (N = 1: a plain single process), wait up to
 * 30 s, return the sorted stdout (malloc'd) and the exit status (0 = all ok)
 * in *@rc; stderr of all processes in *@err if @err (malloc'd). */
char *tide_test_run_sorted(uint32_t n, uint32_t w, const char *prog, const char *const *args,
                           int *rc, char **err);

#endif /* TIDE_TEST_CLUSTER_RUN_H */
