/*
 * edn.c - the strict EDN reader (see edn.h). Recursive descent over the
 * bytes, tracking line and column for error messages; nesting is bounded so
 * hostile input cannot exhaust the stack.
 */
#include "edn.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 200

typedef struct rd {
    const char *p, *end;
    int line, col;
    char *err;
    size_t errlen;
    bool failed;
} rd;

static void fail(rd *r, int line, int col, const char *fmt, ...)
{
    if (r->failed) return;
    r->failed = true;
    int k = snprintf(r->err, r->errlen, "%d:%d: ", line, col);
    va_list ap;
    va_start(ap, fmt);
    if (k >= 0 && (size_t)k < r->errlen) vsnprintf(r->err + k, r->errlen - (size_t)k, fmt, ap);
    va_end(ap);
}

static int peek(rd *r)
{
    return r->p < r->end ? (unsigned char)*r->p : -1;
}

static int next(rd *r)
{
    if (r->p >= r->end) return -1;
    int c = (unsigned char)*r->p++;
    if (c == '\n') {
        r->line++;
        r->col = 1;
    } else {
        r->col++;
    }
    return c;
}

static void skip_ws(rd *r)
{
    for (;;) {
        int c = peek(r);
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',') {
            next(r);
        } else if (c == ';') {
            while (peek(r) != -1 && peek(r) != '\n') next(r);
        } else {
            return;
        }
    }
}

static edn *mk(edn_type t, int line, int col)
{
    edn *x = calloc(1, sizeof *x);
    if (x) {
        x->t = t;
        x->line = line;
        x->col = col;
    }
    return x;
}

void edn_free(edn *x)
{
    if (!x) return;
    for (size_t i = 0; i < x->n; i++) edn_free(x->items[i]);
    free(x->items);
    free(x->s);
    free(x);
}

void edn_free_all(edn **forms, size_t n)
{
    for (size_t i = 0; i < n; i++) edn_free(forms[i]);
    free(forms);
}

static bool is_delim(int c)
{
    return c == -1 || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == '(' ||
           c == ')' || c == '[' || c == ']' || c == '{' || c == '}' || c == '"' || c == ';';
}

static bool sym_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr(".*+!-_?$%&=<>/:#'", c) != NULL;
}

static edn *read_form(rd *r, int depth);

static int push(edn *c, edn *x)
{
    edn **it = realloc(c->items, (c->n + 1) * sizeof *it);
    if (!it) return -1;
    c->items = it;
    c->items[c->n++] = x;
    return 0;
}

static edn *read_coll(rd *r, edn_type t, int close, int line, int col, int depth)
{
    edn *c = mk(t, line, col);
    if (!c) return NULL;
    for (;;) {
        skip_ws(r);
        int ch = peek(r);
        if (ch == -1) {
            fail(r, line, col, "unterminated %s", edn_type_name(t));
            break;
        }
        if (ch == close) {
            next(r);
            if (t == EDN_MAP && c->n % 2) {
                fail(r, line, col, "map literal has an odd number of forms");
                break;
            }
            return c;
        }
        if (ch == ')' || ch == ']' || ch == '}') {
            fail(r, r->line, r->col, "unexpected '%c' (expected '%c')", ch, close);
            break;
        }
        edn *x = read_form(r, depth + 1);
        if (!x) break;
        if (push(c, x) < 0) {
            edn_free(x);
            fail(r, line, col, "out of memory");
            break;
        }
    }
    edn_free(c);
    return NULL;
}

static edn *read_string(rd *r, int line, int col)
{
    size_t cap = 16, n = 0;
    char *s = malloc(cap);
    if (!s) return NULL;
    for (;;) {
        int c = next(r);
        if (c == -1) {
            fail(r, line, col, "unterminated string");
            free(s);
            return NULL;
        }
        if (c == '"') break;
        if (c == '\\') {
            int el = r->line, ec = r->col - 1; /* the backslash */
            int e = next(r);
            if (e == -1) {
                fail(r, line, col, "unterminated string");
                free(s);
                return NULL;
            }
            switch (e) {
            case 'n':
                c = '\n';
                break;
            case 't':
                c = '\t';
                break;
            case 'r':
                c = '\r';
                break;
            case '\\':
                c = '\\';
                break;
            case '"':
                c = '"';
                break;
            case 'u': {
                unsigned v = 0;
                for (int k = 0; k < 4; k++) {
                    int h = next(r);
                    int d = (h >= '0' && h <= '9')   ? h - '0'
                            : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                            : (h >= 'A' && h <= 'F') ? h - 'A' + 10
                                                     : -1;
                    if (d < 0) {
                        fail(r, el, ec, "bad \\u escape in string");
                        free(s);
                        return NULL;
                    }
                    v = v * 16 + (unsigned)d;
                }
                char u[4];
                int ul = 0;
                if (v < 0x80) {
                    u[ul++] = (char)v;
                } else if (v < 0x800) {
                    u[ul++] = (char)(0xC0 | (v >> 6));
                    u[ul++] = (char)(0x80 | (v & 0x3F));
                } else {
                    u[ul++] = (char)(0xE0 | (v >> 12));
                    u[ul++] = (char)(0x80 | ((v >> 6) & 0x3F));
                    u[ul++] = (char)(0x80 | (v & 0x3F));
                }
                for (int k = 0; k < ul; k++) {
                    if (n + 2 > cap) s = realloc(s, cap *= 2);
                    s[n++] = u[k];
                }
                continue;
            }
            default:
                fail(r, el, ec, "unknown escape '\\%c' in string", e < 0 ? '?' : e);
                free(s);
                return NULL;
            }
        }
        if (n + 2 > cap) {
            char *t = realloc(s, cap *= 2);
            if (!t) {
                free(s);
                return NULL;
            }
            s = t;
        }
        s[n++] = (char)c;
    }
    s[n] = 0;
    edn *x = mk(EDN_STR, line, col);
    if (!x) {
        free(s);
        return NULL;
    }
    x->s = s;
    x->slen = n;
    return x;
}

static edn *read_atom(rd *r, int line, int col)
{
    const char *start = r->p;
    while (!is_delim(peek(r))) {
        if (!sym_char(peek(r))) {
            fail(r, r->line, r->col, "invalid character '%c'", peek(r));
            return NULL;
        }
        next(r);
    }
    size_t n = (size_t)(r->p - start);
    char buf[512];
    if (n == 0) {
        fail(r, line, col, "invalid character '%c'", peek(r));
        return NULL;
    }
    if (n >= sizeof buf) {
        fail(r, line, col, "token too long");
        return NULL;
    }
    memcpy(buf, start, n);
    buf[n] = 0;
    bool num = (buf[0] >= '0' && buf[0] <= '9') ||
               ((buf[0] == '-' || buf[0] == '+') && buf[1] >= '0' && buf[1] <= '9');
    if (num) {
        bool real = strpbrk(buf, ".eE") != NULL;
        char *endp;
        errno = 0;
        if (!real) {
            long long v = strtoll(buf, &endp, 10);
            if (*endp == 'N' && endp[1] == 0) endp++;
            if (*endp) {
                fail(r, line, col, "malformed number '%s'", buf);
                return NULL;
            }
            if (errno == ERANGE) {
                fail(r, line, col, "integer '%s' overflows 64 bits", buf);
                return NULL;
            }
            edn *x = mk(EDN_INT, line, col);
            if (x) x->i = v;
            return x;
        }
        double v = strtod(buf, &endp);
        if (*endp == 'M' && endp[1] == 0) endp++;
        if (*endp || !isfinite(v)) {
            fail(r, line, col, "malformed real '%s'", buf);
            return NULL;
        }
        edn *x = mk(EDN_REAL, line, col);
        if (x) x->r = v;
        return x;
    }
    if (!strcmp(buf, "nil")) return mk(EDN_NIL, line, col);
    if (!strcmp(buf, "true") || !strcmp(buf, "false")) {
        edn *x = mk(EDN_BOOL, line, col);
        if (x) x->b = buf[0] == 't';
        return x;
    }
    edn_type t = EDN_SYM;
    const char *name = buf;
    if (buf[0] == ':') {
        t = EDN_KW;
        name = buf + 1;
        if (!*name || *name == ':' || name[strlen(name) - 1] == '/') {
            fail(r, line, col, "malformed keyword '%s'", buf);
            return NULL;
        }
    } else if (buf[0] == '#' || (n > 1 && buf[n - 1] == '/')) {
        fail(r, line, col, "malformed symbol '%s'", buf);
        return NULL;
    }
    edn *x = mk(t, line, col);
    if (!x) return NULL;
    x->s = strdup(name);
    x->slen = strlen(name);
    return x;
}

static edn *read_form(rd *r, int depth)
{
    if (depth > MAX_DEPTH) {
        fail(r, r->line, r->col, "nesting deeper than %d", MAX_DEPTH);
        return NULL;
    }
    skip_ws(r);
    int line = r->line, col = r->col;
    int c = peek(r);
    switch (c) {
    case -1:
        fail(r, line, col, "unexpected end of input");
        return NULL;
    case '(':
        next(r);
        return read_coll(r, EDN_LIST, ')', line, col, depth);
    case '[':
        next(r);
        return read_coll(r, EDN_VEC, ']', line, col, depth);
    case '{':
        next(r);
        return read_coll(r, EDN_MAP, '}', line, col, depth);
    case ')':
    case ']':
    case '}':
        fail(r, line, col, "unmatched '%c'", c);
        return NULL;
    case '"':
        next(r);
        return read_string(r, line, col);
    case '\'':
        next(r);
        return read_form(r, depth + 1);
    case '\\':
        fail(r, line, col, "character literals are not supported");
        return NULL;
    case '#': {
        next(r);
        int d = peek(r);
        if (d == '{') {
            next(r);
            return read_coll(r, EDN_SET, '}', line, col, depth);
        }
        if (d == '_') {
            next(r);
            edn *x = read_form(r, depth + 1);
            if (!x) return NULL;
            edn_free(x);
            return read_form(r, depth);
        }
        fail(r, line, col, "unsupported tagged literal '#%c'", d < 0 ? '?' : d);
        return NULL;
    }
    default:
        return read_atom(r, line, col);
    }
}

int edn_parse_all(const char *text, size_t len, edn ***forms, size_t *n, char *err, size_t errlen)
{
    rd r = {text, text + len, 1, 1, err, errlen, false};
    edn **v = NULL;
    size_t k = 0;
    for (;;) {
        skip_ws(&r);
        if (peek(&r) == -1) break;
        edn *x = read_form(&r, 0);
        if (!x) {
            if (!r.failed) fail(&r, r.line, r.col, "out of memory");
            edn_free_all(v, k);
            return -1;
        }
        edn **nv = realloc(v, (k + 1) * sizeof *nv);
        if (!nv) {
            edn_free(x);
            edn_free_all(v, k);
            fail(&r, r.line, r.col, "out of memory");
            return -1;
        }
        v = nv;
        v[k++] = x;
    }
    *forms = v;
    *n = k;
    return 0;
}

edn *edn_parse_one(const char *text, size_t len, char *err, size_t errlen)
{
    edn **v;
    size_t n;
    if (edn_parse_all(text, len, &v, &n, err, errlen) < 0) return NULL;
    if (n != 1) {
        snprintf(err, errlen, "1:1: expected exactly one form, got %zu", n);
        edn_free_all(v, n);
        return NULL;
    }
    edn *x = v[0];
    free(v);
    return x;
}

bool edn_is_sym(const edn *x, const char *name)
{
    return x && x->t == EDN_SYM && !strcmp(x->s, name);
}

bool edn_is_kw(const edn *x, const char *name)
{
    return x && x->t == EDN_KW && !strcmp(x->s, name);
}

const char *edn_type_name(edn_type t)
{
    static const char *names[] = {"nil",    "boolean", "integer", "real", "string", "keyword",
                                  "symbol", "list",    "vector",  "map",  "set"};
    return names[t];
}

typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1) cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) return;
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void print_rec(sbuf *b, const edn *x)
{
    char tmp[64];
    switch (x->t) {
    case EDN_NIL:
        sb_put(b, "nil", 3);
        break;
    case EDN_BOOL:
        sb_put(b, x->b ? "true" : "false", x->b ? 4 : 5);
        break;
    case EDN_INT:
        sb_put(b, tmp, (size_t)snprintf(tmp, sizeof tmp, "%lld", (long long)x->i));
        break;
    case EDN_REAL:
        sb_put(b, tmp, (size_t)snprintf(tmp, sizeof tmp, "%.17g", x->r));
        break;
    case EDN_STR:
        sb_put(b, "\"", 1);
        for (size_t i = 0; i < x->slen; i++) {
            char c = x->s[i];
            if (c == '"' || c == '\\') sb_put(b, "\\", 1);
            if (c == '\n')
                sb_put(b, "\\n", 2);
            else
                sb_put(b, &c, 1);
        }
        sb_put(b, "\"", 1);
        break;
    case EDN_KW:
        sb_put(b, ":", 1); /* fall through */
    case EDN_SYM:
        sb_put(b, x->s, x->slen);
        break;
    default: {
        const char *o = x->t == EDN_LIST  ? "("
                        : x->t == EDN_VEC ? "["
                        : x->t == EDN_MAP ? "{"
                                          : "#{";
        const char *c = x->t == EDN_LIST ? ")" : x->t == EDN_VEC ? "]" : "}";
        sb_put(b, o, strlen(o));
        for (size_t i = 0; i < x->n; i++) {
            if (i) sb_put(b, " ", 1);
            print_rec(b, x->items[i]);
        }
        sb_put(b, c, 1);
    }
    }
}

char *edn_to_string(const edn *x)
{
    sbuf b = {0};
    print_rec(&b, x);
    if (!b.p) return strdup("");
    return b.p;
}
