/*
 * test_fuzz_replay.c - the libFuzzer targets' inputs, replayed in the
 * regular suite: every file of the committed seed corpora
 * (tests/fuzz/corpus/<target>/) and every crash input ever found
 * (tests/fuzz/regress/<target>/) goes through the same checks as under
 * libFuzzer (tests/fuzz/fuzz_<target>.c, included here); a violation aborts,
 * which Criterion reports as a crash. Under the ASan flavour this is the
 * fuzzers' sanitizer run, without clang.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TIDE_FUZZ_REPLAY
#include "../fuzz/fuzz_hosts.c"
#include "../fuzz/fuzz_wire.c"

typedef int (*fuzz_fn)(const uint8_t *data, size_t size);

/* tests/fuzz/<kind>/<target>, found from this file's own path. */
static void fuzz_dir(char *buf, size_t size, const char *kind, const char *target)
{
    char here[1024];
    snprintf(here, sizeof here, "%s", __FILE__);
    snprintf(buf, size, "%s/../fuzz/%s/%s", dirname(here), kind, target);
}

/* Run @fn on every file of the directory; the number of files. */
static int replay_dir(const char *dir, fuzz_fn fn)
{
    DIR *d = opendir(dir);
    if (d == NULL) return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        FILE *f = fopen(path, "rb");
        cr_assert_not_null(f, "%s", path);
        fseek(f, 0, SEEK_END);
        long len = ftell(f);
        fseek(f, 0, SEEK_SET);
        /* Exact size, as libFuzzer hands it over. */
        uint8_t *p = malloc(len > 0 ? (size_t)len : 1);
        cr_assert_eq(fread(p, 1, (size_t)len, f), (size_t)len);
        fclose(f);
        fprintf(stderr, "replay %s\n", path);
        fn(p, (size_t)len);
        free(p);
        n++;
    }
    closedir(d);
    return n;
}

static void replay(const char *target, fuzz_fn fn, int min_corpus)
{
    char dir[1100];
    fuzz_dir(dir, sizeof dir, "corpus", target);
    int n = replay_dir(dir, fn);
    cr_assert(n >= min_corpus, "%s: %d seed files, expected at least %d", dir, n, min_corpus);
    fuzz_dir(dir, sizeof dir, "regress", target);
    cr_assert(replay_dir(dir, fn) >= 0, "%s is missing", dir);
}

Test(fuzz_replay, wire)
{
    replay("wire", fuzz_wire_one, 10);
}

Test(fuzz_replay, hosts)
{
    replay("hosts", fuzz_hosts_one, 10);
}
