/*
 * db_pg.c - the PostgreSQL backend of the writer (db.h), over libpq.
 */
#include "db.h"

int fx_db_pg_open(fx_db *db, const char *url, tide_error *e)
{
    return tide_err_set(e, TIDE_EINVAL, "%s: PostgreSQL is not supported yet", url);
}
