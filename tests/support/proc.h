/*
 * proc.h - run a program through the shell with its stdout and stderr
 * captured in files, and read them back; for tests that drive the built
 * programs as a user would (tests/net/test_launcher.c,
 * tests/net/test_program_flags.c).
 *
 *   tide_test_proc pr;
 *   tide_test_proc_init(&pr, "flags");                 // in the suite's .init
 *   int rc = tide_test_proc_run(&pr, "'%s' --help", tide_test_bin("wordcount"));
 *   cr_expect(strstr(tide_test_proc_out(&pr), "usage:") != NULL);
 *   tide_test_proc_fini(&pr);                          // in the suite's .fini
 *
 * Not thread-safe (static buffers); one tide_test_proc per test process.
 */
#ifndef TIDE_TEST_PROC_H
#define TIDE_TEST_PROC_H

typedef struct tide_test_proc {
    char out[64]; /* stdout of the last run */
    char err[64]; /* stderr of the last run */
} tide_test_proc;

/* Name the capture files /tmp/tide_<@tag>_<pid>.{out,err}. */
void tide_test_proc_init(tide_test_proc *p, const char *tag);

/* Remove the capture files. */
void tide_test_proc_fini(tide_test_proc *p);

/* Run the shell command @fmt... (printf-style, at most 8 KiB; it sets its own
 * stdin if it needs one) with stdout and stderr redirected to the capture
 * files. Returns its exit code (0..255), or -1 if the shell could not run or
 * did not exit normally. */
int tide_test_proc_run(tide_test_proc *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The captured stdout / stderr of the last run, up to 16 KiB, NUL-terminated,
 * in one of 4 rotating static buffers (valid for the next 3 calls; the caller
 * may write into it). "<cannot read PATH>" if the file cannot be read. */
char *tide_test_proc_out(const tide_test_proc *p);
char *tide_test_proc_err(const tide_test_proc *p);

#endif /* TIDE_TEST_PROC_H */
