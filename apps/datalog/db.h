/*
 * db.h - the schema and the transactor: datoms [e a v] and transactions
 * in Datomic's forms.
 *
 * Each worker keeps the same copy of the current datoms (every worker runs
 * the same forms in the same order), so every worker agrees on whether a
 * transaction is accepted and on its changes; only worker 0 feeds them into
 * the dataflow. Attributes are cardinality-many sets, as in 3DF: adding a
 * second value keeps the first (retract it explicitly, or use
 * [:db/retract e a], which retracts whatever value e has).
 */
#ifndef DL_DB_H
#define DL_DB_H

#include "edn.h"
#include "val.h"

typedef enum dl_type { T_STRING, T_NUMBER, T_REAL, T_BOOL, T_EID, T_INSTANT } dl_type;

typedef struct dl_attr {
    char *name; /* without ':' */
    dl_type type;
} dl_attr;

/* One change of a transaction: datom (e, attr, v) with diff +1 / -1. */
typedef struct dl_change {
    int64_t e;
    int attr;
    uint8_t *v;
    uint32_t vlen;
    int diff;
} dl_change;

typedef struct dl_datom_set dl_datom_set;

typedef struct dl_db {
    dl_attr *attrs;
    int nattrs;
    dl_datom_set *set;
} dl_db;

int dl_db_init(dl_db *db);
void dl_db_fini(dl_db *db);
int dl_db_attr(const dl_db *db, const char *name); /* index or -1 */
const char *dl_type_name(dl_type t);

/* Add attributes from a schema map {:a {:db/valueType :String} ...};
 * all or nothing. @first gets the index of the first new attribute. */
int dl_db_create(dl_db *db, const edn *schema, int *first, char *err, size_t errlen);

/* Validate transaction @tx (a vector of forms) against the schema and the
 * current datoms; on success apply it and return its net changes
 * (*out, *n; free with dl_changes_free). On error nothing changes, -1. */
int dl_db_transact(dl_db *db, const edn *tx, dl_change **out, size_t *n, char *err, size_t errlen);
void dl_changes_free(dl_change *c, size_t n);

/* Bulk integer datoms of attribute @a (a :Number or :Eid attribute), for
 * loaders and benchmarks: no EDN, no per-form checks; adding a present or
 * retracting an absent datom is skipped. Applied at once; the net changes
 * go to *out (free with dl_changes_free). -1 when out of memory. */
int dl_db_apply_ints(dl_db *db, int a, const int64_t *e, const int64_t *v, const int *diff,
                     size_t n, dl_change **out, size_t *nout);
/* Number of datoms currently held. */
size_t dl_db_count(const dl_db *db);

#endif
