/*
 * oracle.h - the exporter tests' independent computation of the final
 * tables: reads a JSON Lines log with jansson (not the exporter's reader),
 * computes dashboard, usage and bookings naively, and compares them with
 * the tables of a SQLite (or PostgreSQL) database as sorted text rows.
 */
#ifndef FX_ORACLE_H
#define FX_ORACLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Sorted text rows "table|col|col|..." (NULL as "NULL"). */
typedef struct orows {
    char **r;
    size_t n, cap;
} orows;

void orows_free(orows *o);
void orows_add(orows *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void orows_sort(orows *o);

/* The tables (and offsets, as "offsets|stream|offset") of the first @limit
 * lines of JSON log @path (SIZE_MAX: all), skipping line @skip (1-based; 0:
 * none). */
void oracle_tables(const char *path, size_t limit, size_t skip, orows *out);

/* The same, with the exporter's --since window of @since µs (0: none):
 * the views of the events whose timestamp is >= the newest one's - @since;
 * the offsets of all of them. */
void oracle_tables_since(const char *path, size_t limit, size_t skip, long long since, orows *out);

/* The same rows read from SQLite file @db (every view's offsets table must
 * equal the others: they are all emitted, prefixed by their table). */
bool db_tables(const char *db, orows *out);

/* A fresh scratch directory into @dir (>= 64 bytes): on /dev/shm when
 * there is one (no disk flushes: the tests create hundreds of databases). */
void scratch_dir(char *dir, const char *name);

/* Compare; prints the first differences. */
bool orows_equal(const orows *want, const orows *got, const char *what);

#endif /* FX_ORACLE_H */
