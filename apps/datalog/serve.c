/*
 * serve.c - tide-datalog serve: a WebSocket server (libwebsockets) with
 * JSON messages, one per text frame.
 *
 * Requests (an "id" member, if any, is echoed in the reply):
 *   {"op":"create","schema":{"thug/name":"String","thug/boss":"Eid"}}
 *   {"op":"transact","tx":"[[:db/add 1 :thug/name \"x\"]]"}        (EDN text)
 *   {"op":"register","name":"q","query":"[:find ...]","rules":"[...]"}
 *   {"op":"subscribe","name":"q"}   {"op":"unsubscribe","name":"q"}
 *   {"op":"unregister","name":"q"}
 * Replies: {"ok":true,"op":...,"time":T} or {"error":"...","op":...}.
 * A subscriber receives {"query":"q","tuple":[...],"time":T,"diff":D}:
 * first the current answer (at the current time), then every change.
 * Global worker 0 (process 0) serves the socket and sends each form to
 * every worker of every process over the command dataflow (feed.h); it
 * runs the form too and answers the client with its own verdict (every
 * worker rejects a form alike).
 */
#include <jansson.h>
#include <libwebsockets.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "feed.h"
#include "serve.h"

typedef struct outmsg {
    struct outmsg *next;
    size_t len;
    unsigned char buf[]; /* LWS_PRE + len */
} outmsg;

typedef struct client {
    struct client *next;
    struct lws *wsi;
    outmsg *head, *tail;
    char **subs;
    int nsubs;
    char *in; /* fragments of the message being received */
    size_t inlen;
} client;

typedef struct server {
    dl_engine *g;
    dl_feed *feed;
    client *clients;
} server;

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void send_text(client *c, const char *s)
{
    size_t n = strlen(s);
    outmsg *m = malloc(sizeof *m + LWS_PRE + n);
    if (!m) return;
    m->next = NULL;
    m->len = n;
    memcpy(m->buf + LWS_PRE, s, n);
    if (c->tail)
        c->tail->next = m;
    else
        c->head = m;
    c->tail = m;
    lws_callback_on_writable(c->wsi);
}

static void send_json(client *c, json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);
    if (s) send_text(c, s);
    free(s);
    json_decref(o);
}

/* @s as a JSON string literal (malloc'd). */
static char *json_quote(const char *s)
{
    json_t *j = json_string(s);
    char *q = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    json_decref(j);
    return q;
}

static bool subscribed(const client *c, const char *name)
{
    for (int i = 0; i < c->nsubs; i++)
        if (!strcmp(c->subs[i], name)) return true;
    return false;
}

static void diff_json(dl_str *s, const char *name, const uint8_t *t, uint32_t len, uint64_t time,
                      int64_t diff)
{
    char tmp[64];
    s->n = 0;
    dl_str_puts(s, "{\"query\":");
    char *qn = json_quote(name);
    dl_str_puts(s, qn ? qn : "\"\"");
    free(qn);
    dl_str_puts(s, ",\"tuple\":[");
    dl_tuple_print(s, t, len, true);
    snprintf(tmp, sizeof tmp, "],\"time\":%llu,\"diff\":%lld}", (unsigned long long)time,
             (long long)diff);
    dl_str_puts(s, tmp);
}

/* Engine hook: a query's changes of one time, to its subscribers. */
static void on_diffs(void *ctx, dl_query *q, const dl_diffs *d)
{
    server *sv = ctx;
    dl_str s = {0};
    for (client *c = sv->clients; c; c = c->next) {
        if (!subscribed(c, q->name)) continue;
        for (size_t i = 0; i < d->n; i++) {
            diff_json(&s, q->name, d->d[i].tuple, d->d[i].len, d->d[i].time, d->d[i].diff);
            send_text(c, s.p);
        }
    }
    free(s.p);
}

static dl_query *find_query(dl_engine *g, const char *name)
{
    for (int i = 0; i < g->nqueries; i++)
        if (g->queries[i]->active && !g->queries[i]->action && !strcmp(g->queries[i]->name, name))
            return g->queries[i];
    return NULL;
}

/* Build the EDN form of a request (create, transact, register, unregister);
 * its text goes to *text (malloc'd) for the other workers. */
static edn *request_form(json_t *o, const char *op, dl_str *text, char *err, size_t errlen)
{
    dl_str s = {0};
    if (!strcmp(op, "create")) {
        json_t *schema = json_object_get(o, "schema");
        if (!json_is_object(schema) || json_object_size(schema) == 0) {
            snprintf(err, errlen, "create: \"schema\" must be an object {\"attr\": \"Type\", ...}");
            return NULL;
        }
        dl_str_puts(&s, "(create-db {");
        const char *k;
        json_t *v;
        json_object_foreach(schema, k, v)
        {
            if (!json_is_string(v) || !*k || strpbrk(k, " \t\n\"{}[]()")) {
                snprintf(err, errlen, "create: attribute %s: expected a name and a type string", k);
                free(s.p);
                return NULL;
            }
            dl_str_puts(&s, ":");
            dl_str_puts(&s, k);
            dl_str_puts(&s, " {:db/valueType :");
            dl_str_puts(&s, json_string_value(v));
            dl_str_puts(&s, "} ");
        }
        dl_str_puts(&s, "})");
    } else if (!strcmp(op, "transact")) {
        const char *tx = json_string_value(json_object_get(o, "tx"));
        if (!tx) {
            snprintf(err, errlen, "transact: \"tx\" must be EDN text");
            return NULL;
        }
        dl_str_puts(&s, "(transact\n");
        dl_str_puts(&s, tx);
        dl_str_puts(&s, "\n)");
    } else if (!strcmp(op, "register") || !strcmp(op, "unregister")) {
        const char *name = json_string_value(json_object_get(o, "name"));
        const char *q = json_string_value(json_object_get(o, "query"));
        const char *rules = json_string_value(json_object_get(o, "rules"));
        if (!name || (op[0] == 'r' && !q)) {
            snprintf(err, errlen, "%s: needs \"name\"%s", op,
                     op[0] == 'r' ? " and \"query\" (EDN text)" : "");
            return NULL;
        }
        char *qn = json_quote(name);
        dl_str_puts(&s, op[0] == 'r' ? "(register-query " : "(unregister-query ");
        dl_str_puts(&s, qn ? qn : "\"\"");
        free(qn);
        if (q) {
            dl_str_puts(&s, "\n");
            dl_str_puts(&s, q);
        }
        if (rules && op[0] == 'r') {
            dl_str_puts(&s, "\n");
            dl_str_puts(&s, rules);
        }
        dl_str_puts(&s, "\n)");
    } else {
        snprintf(err, errlen,
                 "unknown op \"%s\" (create transact register subscribe unsubscribe unregister)",
                 op);
        return NULL;
    }
    edn *x = edn_parse_one(s.p, s.n, err, errlen);
    if (x)
        *text = s;
    else
        free(s.p);
    return x;
}

static void handle(server *sv, client *c, const char *text, size_t len)
{
    dl_engine *g = sv->g;
    json_error_t je;
    json_t *o = json_loadb(text, len, 0, &je);
    json_t *reply = json_object();
    char err[512] = "";
    const char *op = o ? json_string_value(json_object_get(o, "op")) : NULL;
    if (o && json_object_get(o, "id")) json_object_set(reply, "id", json_object_get(o, "id"));
    if (!o) {
        snprintf(err, sizeof err, "malformed JSON at column %d: %s", je.column, je.text);
    } else if (!json_is_object(o) || !op) {
        snprintf(err, sizeof err, "a request is an object with an \"op\"");
    } else {
        json_object_set_new(reply, "op", json_string(op));
        if (!strcmp(op, "subscribe") || !strcmp(op, "unsubscribe")) {
            const char *name = json_string_value(json_object_get(o, "name"));
            dl_query *q = name ? find_query(g, name) : NULL;
            if (!q) {
                snprintf(err, sizeof err, "%s: no query named %s", op,
                         name ? name : "(missing \"name\")");
            } else if (op[0] == 's') {
                if (!subscribed(c, name)) {
                    c->subs = realloc(c->subs, (size_t)(c->nsubs + 1) * sizeof *c->subs);
                    c->subs[c->nsubs++] = strdup(name);
                }
                json_object_set_new(reply, "ok", json_true());
                json_object_set_new(reply, "time", json_integer((json_int_t)g->time));
                send_json(c, reply);
                reply = NULL;
                dl_str s = {0};
                for (size_t i = 0; i < q->state.n; i++) {
                    diff_json(&s, name, q->state.d[i].tuple, q->state.d[i].len, g->time,
                              q->state.d[i].diff);
                    send_text(c, s.p);
                }
                free(s.p);
            } else {
                for (int i = 0; i < c->nsubs; i++)
                    if (!strcmp(c->subs[i], name)) {
                        free(c->subs[i]);
                        c->subs[i--] = c->subs[--c->nsubs];
                    }
            }
        } else {
            dl_str ftext = {0};
            edn *form = request_form(o, op, &ftext, err, sizeof err);
            if (form) {
                err[0] = 0;
                /* every other worker runs it too (and rejects it alike);
                 * sent first: a transaction waits for all of them */
                int rc = dl_feed_push(sv->feed, ftext.p, ftext.n);
                free(ftext.p);
                if (rc == 0) rc = dl_feed_keep(sv->feed, form);
                if (rc == 0) rc = dl_engine_form(g, form, err, sizeof err);
                if (rc == 0) rc = dl_rules_run(g);
                if (rc < 0) {
                    snprintf(err, sizeof err, "runtime error %d: %s", rc,
                             tide_worker_error(g->w)->msg);
                    stop_flag = 1;
                } else if (rc == 0) {
                    err[0] = 0;
                }
            }
        }
    }
    if (reply) {
        if (err[0]) {
            json_object_set_new(reply, "error", json_string(err));
        } else {
            json_object_set_new(reply, "ok", json_true());
            json_object_set_new(reply, "time", json_integer((json_int_t)g->time));
        }
        send_json(c, reply);
    }
    json_decref(o);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    server *sv = lws_context_user(lws_get_context(wsi));
    client *c = user;
    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED:
        memset(c, 0, sizeof *c);
        c->wsi = wsi;
        c->next = sv->clients;
        sv->clients = c;
        break;
    case LWS_CALLBACK_RECEIVE: {
        char *nb = realloc(c->in, c->inlen + len + 1);
        if (!nb) return -1;
        c->in = nb;
        memcpy(c->in + c->inlen, in, len);
        c->inlen += len;
        if (c->inlen > (1u << 24)) return -1; /* 16 MiB per message at most */
        if (lws_is_final_fragment(wsi)) {
            c->in[c->inlen] = 0;
            handle(sv, c, c->in, c->inlen);
            c->inlen = 0;
        }
        break;
    }
    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (c->head) {
            outmsg *m = c->head;
            if (lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT) < (int)m->len) return -1;
            c->head = m->next;
            if (!c->head) c->tail = NULL;
            free(m);
            if (c->head) lws_callback_on_writable(wsi);
        }
        break;
    case LWS_CALLBACK_CLOSED: {
        for (client **p = &sv->clients; *p; p = &(*p)->next)
            if (*p == c) {
                *p = c->next;
                break;
            }
        while (c->head) {
            outmsg *m = c->head;
            c->head = m->next;
            free(m);
        }
        for (int i = 0; i < c->nsubs; i++) free(c->subs[i]);
        free(c->subs);
        free(c->in);
        break;
    }
    default:
        break;
    }
    return 0;
}

static struct lws_protocols protocols[] = {
    {"tide-datalog", callback, sizeof(client), 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

int dl_serve(tide_worker *w, const char *host, int port)
{
    dl_feed feedv, *feed = &feedv;
    int rc = dl_feed_open(feed, w);
    if (rc < 0) {
        dl_feed_fini(feed);
        return rc;
    }
    dl_engine g;
    rc = dl_engine_init(&g, w);
    if (rc < 0) {
        dl_engine_fini(&g);
        dl_feed_fini(feed);
        return rc;
    }
    if (g.index != 0) {
        g.out = NULL;
        rc = dl_feed_follow(feed, &g);
        if (rc >= 0) rc = dl_engine_close(&g);
        dl_engine_fini(&g);
        dl_feed_fini(feed);
        return rc < 0 ? rc : 0;
    }
    server sv = {&g, feed, NULL};
    g.out = NULL;
    g.keep_state = true;
    g.on_diffs = on_diffs;
    g.on_diffs_ctx = &sv;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = port;
    info.iface = host;
    info.protocols = protocols;
    info.user = &sv;
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
    struct lws_context *ctx = lws_create_context(&info);
    if (!ctx) {
        fprintf(stderr, "tide-datalog: cannot listen on %s:%d\n", host, port);
        rc = TIDE_ENET;
    } else {
        fprintf(stderr, "tide-datalog: serving on ws://%s:%d\n", host, port);
        while (!stop_flag && rc >= 0) {
            if (lws_service(ctx, 20) < 0) break;
            rc = tide_worker_step(w);
        }
        lws_context_destroy(ctx);
    }
    int crc = dl_feed_close(feed);
    if (rc >= 0) rc = crc;
    if (rc >= 0) rc = dl_engine_close(&g);
    dl_engine_fini(&g);
    dl_feed_fini(feed);
    return rc < 0 ? rc : 0;
}
