/*
 * baseline_wordcount.c - the hand-written single-threaded word count that
 * tide's word count is compared with (the COST baseline): split on
 * whitespace, hash each word with the same XXH3, count in the same table.
 */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "baselines.h"

uint64_t baseline_wordcount(const char *text, size_t len, bench_wordtab *t)
{
    uint64_t words = 0;
    size_t i = 0;
    while (i < len) {
        while (i < len && (text[i] == ' ' || text[i] == '\n')) i++;
        size_t s = i;
        while (i < len && text[i] != ' ' && text[i] != '\n') i++;
        if (i > s) {
            bench_wordtab_add(t, text + s, (uint32_t)(i - s), XXH3_64bits(text + s, i - s), 1);
            words++;
        }
    }
    return words;
}
