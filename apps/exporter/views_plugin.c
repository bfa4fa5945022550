/*
 * views_plugin.c - loading a user's views (tide/views.h) and the functions
 * the ABI gives plugins (tide-export exports them, -rdynamic).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <string.h>

#include "views.h"

_Static_assert((int)TIDE_EV_STREAM == (int)EV_STREAM &&
                   (int)TIDE_EV_TIMESTAMP == (int)EV_TIMESTAMP &&
                   (int)TIDE_EV_TAGS == (int)EV_TAGS && (int)TIDE_EV_COUNT == (int)EV_COUNT &&
                   (int)TIDE_EV_NFIELDS == (int)EV_NFIELDS,
               "tide/views.h's event fields must be event.h's");

const tide_schema *tide_views_event_schema(void)
{
    return &FX_EVENT;
}

bool tide_views_has_tag(const tide_row *r, const char *tag)
{
    return fx_row_has_tag(r, tag);
}

/* A table or column name that is safe to put in SQL unquoted. */
static bool sql_name(const char *s)
{
    if (s == NULL || *s == '\0' || strlen(s) > 60) return false;
    for (; *s; s++)
        if (!(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9')))
            return false;
    return true;
}

/* The plugin resolves the ABI's functions in the object that loads it:
 * tide-export exports them (-rdynamic), but the cluster job
 * (apps/jobs/exporter.c) was loaded RTLD_LOCAL: make its symbols global
 * first (RTLD_NOLOAD: no second copy). */
static void export_abi(void)
{
    Dl_info info;
    if (dladdr((void *)tide_views_event_schema, &info) == 0 || info.dli_fname == NULL) return;
    void *self = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL);
    if (self) dlclose(self); /* the promotion stays; the reference goes */
}

const fx_views *fx_views_load(const char *path, void **handle, tide_error *e)
{
    export_abi();
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        tide_err_set(e, TIDE_EINVAL, "--views %s: %s", path, dlerror());
        return NULL;
    }
    const tide_views *(*entry)(void);
    *(void **)&entry = dlsym(h, TIDE_VIEWS_ENTRY);
    const tide_views *v = entry ? entry() : NULL;
    const char *why = NULL;
    if (entry == NULL)
        why = "no " TIDE_VIEWS_ENTRY " function";
    else if (v == NULL)
        why = TIDE_VIEWS_ENTRY " returned NULL";
    else
        why = fx_views_check(v);
    if (why) {
        tide_err_set(e, TIDE_EINVAL, "--views %s: %s", path, why);
        dlclose(h);
        return NULL;
    }
    *handle = h;
    return v;
}

const char *fx_views_check(const tide_views *v)
{
    const char *why = NULL;
    if (v->abi != TIDE_VIEWS_ABI)
        why = "built for another tide/views.h ABI";
    else if (v->n < 1 || v->n > 255 || v->views == NULL || v->build == NULL)
        why = "needs 1 to 255 views and a build function";
    for (int i = 0; why == NULL && i < v->n; i++) {
        const tide_view *t = &v->views[i];
        if (!sql_name(t->table) || t->schema == NULL || t->sql_types == NULL || t->schema->n == 0 ||
            t->primary_key >= (int)t->schema->n || t->index_columns > (int)t->schema->n ||
            t->key_columns < 0 || t->key_columns > (int)t->schema->n ||
            (t->primary_key >= 0 && t->key_columns > 0))
            why = "a view's table, schema or keys are invalid (a primary key and key_columns "
                  "together, or a key past the last column)";
        for (uint32_t c = 0; why == NULL && c < t->schema->n; c++)
            if (!sql_name(t->schema->names[c]) || t->sql_types[c] == NULL)
                why = "a column's name or SQL type is invalid";
    }
    return why;
}
