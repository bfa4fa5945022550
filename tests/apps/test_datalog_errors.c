/*
 * test_datalog_errors.c - rejected input: malformed EDN (each with its
 * line:column), and some 200 malformed transactions, queries and forms
 * run through tide-datalog between good ones: each prints its error, and
 * the answers of the registered queries never move (state unchanged).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../apps/datalog/edn.h"

typedef struct ecase {
    const char *text, *err;
} ecase;

static const ecase edn_cases[] = {
    {"(", "1:1: unterminated list"},
    {"[1 2", "1:1: unterminated vector"},
    {"{:a 1", "1:1: unterminated map"},
    {"#{1", "1:1: unterminated set"},
    {")", "1:1: unmatched ')'"},
    {"]", "1:1: unmatched ']'"},
    {"}", "1:1: unmatched '}'"},
    {"(1 ]", "1:4: unexpected ']' (expected ')')"},
    {"[1 )", "1:4: unexpected ')' (expected ']')"},
    {"{:a 1 :b}", "1:1: map literal has an odd number of forms"},
    {"\"abc", "1:1: unterminated string"},
    {"\"a\\qb\"", "1:3: unknown escape '\\q' in string"},
    {"\"\\u12g4\"", "1:2: bad \\u escape in string"},
    {"99999999999999999999", "1:1: integer '99999999999999999999' overflows 64 bits"},
    {"-99999999999999999999", "1:1: integer '-99999999999999999999' overflows 64 bits"},
    {"12abc", "1:1: malformed number '12abc'"},
    {"1.2.3", "1:1: malformed real '1.2.3'"},
    {"1e999", "1:1: malformed real '1e999'"},
    {":", "1:1: malformed keyword ':'"},
    {"::a", "1:1: malformed keyword '::a'"},
    {":a/", "1:1: malformed keyword ':a/'"},
    {"a/", "1:1: malformed symbol 'a/'"},
    {"#foo 1", "1:1: unsupported tagged literal '#f'"},
    {"#", "1:1: unsupported tagged literal '#?'"},
    {"\\a", "1:1: character literals are not supported"},
    {"'", "1:2: unexpected end of input"},
    {"#_", "1:3: unexpected end of input"},
    {"a@b", "1:2: invalid character '@'"},
    {"\n\n   (1 2", "3:4: unterminated list"},
    {"; c\n[1\n 2 }", "3:4: unexpected '}' (expected ']')"},
    {"{:a {:b [1 2 (3]}}", "1:16: unexpected ']' (expected ')')"},
    {"[1 2] ^", "1:7: invalid character '^'"},
    {"(a b c) \"x", "1:9: unterminated string"},
    {"[:find ?x :where [?x :a \"b]]", "1:25: unterminated string"},
    {"@x", "1:1: invalid character '@'"},
    {"~", "1:1: invalid character '~'"},
    {"`a", "1:1: invalid character '`'"},
    {"[[[[", "1:4: unterminated vector"},
    {"{1 2 3}", "1:1: map literal has an odd number of forms"},
    {"(1 2 3 \"\\", "1:8: unterminated string"},
};

Test(datalog_errors, edn_reader)
{
    for (size_t i = 0; i < sizeof edn_cases / sizeof edn_cases[0]; i++) {
        char err[256] = "";
        edn **f;
        size_t n;
        int rc =
            edn_parse_all(edn_cases[i].text, strlen(edn_cases[i].text), &f, &n, err, sizeof err);
        cr_expect_eq(rc, -1, "case %zu '%s' parsed", i, edn_cases[i].text);
        cr_expect_str_eq(err, edn_cases[i].err, "case %zu '%s'", i, edn_cases[i].text);
    }
    /* and the good forms read back exactly */
    const char *good =
        "(a 'b [1 -2 3.5 \"s\\n\\\"\" :k/w nil true false] {:x #{1}} #_ skipped ; c\n x)";
    char err[256];
    edn *x = edn_parse_one(good, strlen(good), err, sizeof err);
    cr_assert(x, "%s", err);
    char *s = edn_to_string(x);
    cr_expect_str_eq(s, "(a b [1 -2 3.5 \"s\\n\\\"\" :k/w nil true false] {:x #{1}} x)");
    free(s);
    edn_free(x);
    /* nesting is bounded */
    char deep[1000];
    memset(deep, '[', sizeof deep - 1);
    deep[sizeof deep - 1] = 0;
    cr_expect_null(edn_parse_one(deep, strlen(deep), err, sizeof err));
    cr_expect(strstr(err, "nesting deeper than 200"), "%s", err);
}

/* Malformed forms: (text, expected message fragment). */
static const ecase bad_forms[] = {
    /* transactions: types */
    {"(transact [[:db/add 1 :t/s 5]])", ":t/s expects a :String value, got integer"},
    {"(transact [[:db/add 1 :t/s true]])", ":t/s expects a :String value, got boolean"},
    {"(transact [[:db/add 1 :t/s nil]])", ":t/s expects a :String value, got nil"},
    {"(transact [[:db/add 1 :t/s 1.5]])", ":t/s expects a :String value, got real"},
    {"(transact [[:db/add 1 :t/s :kw]])", ":t/s expects a :String value, got keyword"},
    {"(transact [[:db/add 1 :t/s [1]]])", ":t/s expects a :String value, got vector"},
    {"(transact [[:db/add 1 :t/n \"5\"]])", ":t/n expects a :Number value, got string"},
    {"(transact [[:db/add 1 :t/n 1.5]])", ":t/n expects a :Number value, got real"},
    {"(transact [[:db/add 1 :t/n false]])", ":t/n expects a :Number value, got boolean"},
    {"(transact [[:db/add 1 :t/n nil]])", ":t/n expects a :Number value, got nil"},
    {"(transact [[:db/add 1 :t/n sym]])", ":t/n expects a :Number value, got symbol"},
    {"(transact [[:db/add 1 :t/n {:a 1}]])", ":t/n expects a :Number value, got map"},
    {"(transact [[:db/add 1 :t/r \"x\"]])", ":t/r expects a :Real value, got string"},
    {"(transact [[:db/add 1 :t/r true]])", ":t/r expects a :Real value, got boolean"},
    {"(transact [[:db/add 1 :t/r nil]])", ":t/r expects a :Real value, got nil"},
    {"(transact [[:db/add 1 :t/b 1]])", ":t/b expects a :Bool value, got integer"},
    {"(transact [[:db/add 1 :t/b \"true\"]])", ":t/b expects a :Bool value, got string"},
    {"(transact [[:db/add 1 :t/b nil]])", ":t/b expects a :Bool value, got nil"},
    {"(transact [[:db/add 1 :t/e -1]])", ":t/e expects a :Eid value, got a negative integer"},
    {"(transact [[:db/add 1 :t/e \"1\"]])", ":t/e expects a :Eid value, got string"},
    {"(transact [[:db/add 1 :t/e 1.0]])", ":t/e expects a :Eid value, got real"},
    {"(transact [[:db/add 1 :t/i \"2020\"]])", ":t/i expects a :Instant value, got string"},
    {"(transact [[:db/add 1 :t/i 1.5]])", ":t/i expects a :Instant value, got real"},
    {"(transact [{:db/id 1 :t/n \"x\"}])", ":t/n expects a :Number value, got string"},
    {"(transact [{:db/id 1 :t/s 1}])", ":t/s expects a :String value, got integer"},
    {"(transact [[:db/retract 1 :t/n \"x\"]])", ":t/n expects a :Number value, got string"},
    /* transactions: attributes, ids, forms */
    {"(transact [[:db/add 1 :t/zz 1]])", "unknown attribute :t/zz"},
    {"(transact [[:db/add 1 :zz 1]])", "unknown attribute :zz"},
    {"(transact [[:db/add 1 \"t/n\" 1]])", "attribute must be a keyword, got string"},
    {"(transact [[:db/add 1 t/n 1]])", "attribute must be a keyword, got symbol"},
    {"(transact [{:db/id 1 :t/zz 1}])", "unknown attribute :t/zz"},
    {"(transact [{:db/id 1 \"t/n\" 1}])", "attribute must be a keyword, got string"},
    {"(transact [[:db/retract 1 :t/zz]])", "unknown attribute :t/zz"},
    {"(transact [[:db/add -1 :t/n 1]])",
     "entity id must be a non-negative integer, got a negative integer"},
    {"(transact [[:db/add \"1\" :t/n 1]])", "entity id must be a non-negative integer, got string"},
    {"(transact [[:db/add 1.5 :t/n 1]])", "entity id must be a non-negative integer, got real"},
    {"(transact [[:db/add nil :t/n 1]])", "entity id must be a non-negative integer, got nil"},
    {"(transact [[:db/add ?x :t/n 1]])", "entity id must be a non-negative integer, got symbol"},
    {"(transact [{:db/id -5 :t/n 1}])",
     "entity id must be a non-negative integer, got a negative integer"},
    {"(transact [{:db/id \"a\" :t/n 1}])", "entity id must be a non-negative integer, got string"},
    {"(transact [[:db/retractEntity -1]])", "entity id must be a non-negative integer"},
    {"(transact [[:db/retractEntity \"x\"]])",
     "entity id must be a non-negative integer, got string"},
    {"(transact [{:t/n 1}])", "entity map without :db/id"},
    {"(transact [{}])", "entity map without :db/id"},
    {"(transact [[:db/add 1 :t/n]])", ":db/add takes e a v, got 2 argument(s)"},
    {"(transact [[:db/add 1]])", ":db/add takes e a v, got 1 argument(s)"},
    {"(transact [[:db/add]])", ":db/add takes e a v, got 0 argument(s)"},
    {"(transact [[:db/add 1 :t/n 1 2]])", ":db/add takes e a v, got 4 argument(s)"},
    {"(transact [[:db/retract 1]])", ":db/retract takes e a v or e a, got 1 argument(s)"},
    {"(transact [[:db/retract 1 :t/n 1 2]])", ":db/retract takes e a v or e a, got 4 argument(s)"},
    {"(transact [[:db/retractEntity]])", ":db/retractEntity takes one entity id"},
    {"(transact [[:db/retractEntity 1 2]])", ":db/retractEntity takes one entity id"},
    {"(transact [[:db/frob 1 :t/n 1]])", "unknown transaction operation :db/frob"},
    {"(transact [[:add 1 :t/n 1]])", "unknown transaction operation :add"},
    {"(transact [[db/add 1 :t/n 1]])", "transaction form must be an entity map or"},
    {"(transact [[]])", "transaction form must be an entity map or"},
    {"(transact [1])", "transaction form must be an entity map or "
                       "[:db/add|:db/retract|:db/retractEntity ...], got integer"},
    {"(transact [\"x\"])", "got string"},
    {"(transact [(:db/add 1 :t/n 1)])", "got list"},
    {"(transact [#{1}])", "got set"},
    {"(transact {:db/id 1})", "a transaction is a vector of forms, got map"},
    {"(transact 1)", "a transaction is a vector of forms, got integer"},
    {"(transact \"x\")", "a transaction is a vector of forms, got string"},
    {"(transact)", "(transact [forms...])"},
    {"(transact [] [])", "(transact [forms...])"},
    /* a good first form, then a bad one: the whole transaction is rejected */
    {"(transact [[:db/add 9 :t/n 9] [:db/add 9 :t/n \"x\"]])", ":t/n expects a :Number value"},
    {"(transact [{:db/id 9 :t/n 9} [:db/frob]])", "unknown transaction operation :db/frob"},
    {"(transact [[:db/retractEntity 1] [:db/add 1 :t/zz 1]])", "unknown attribute :t/zz"},
    {"(transact [[:db/retract 1 :t/n] {:t/n 1}])", "entity map without :db/id"},
    /* queries: structure */
    {"(register-query \"x\" '[:where [?e :t/n ?v]])", "query has no :find elements"},
    {"(register-query \"x\" '[?e :find ?e [?e :t/n ?v]])", "a query starts with :find"},
    {"(register-query \"x\" '[:find])", "query has no :find elements"},
    {"(register-query \"x\" '[:find :where [?e :t/n ?v]])", "query has no :find elements"},
    {"(register-query \"x\" '[:find ?e :find ?v [?e :t/n ?v]])", "section :find given twice"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/n ?v] :with ?v])",
     "expected a clause ([e a v], (rule ...), [(pred ...)]), got keyword"},
    {"(register-query \"x\" '[:find ?e :with ?v :find ?e])", "section :find given twice"},
    {"(register-query \"x\" '[:find ?e :having [?e :t/n ?v]])", "unknown query section :having"},
    {"(register-query \"x\" '[:find ?e :with 1 [?e :t/n ?v]])", ":with takes variables"},
    {"(register-query \"x\" '[:find ?e :in $ ?p [?e :t/n ?p]])",
     "the query's :in takes 1 value(s)"},
    {"(register-query \"x\" '[:find ?e :in $ ?p [?e :t/n ?p]] nil [1 2])",
     "the query's :in takes 1 value(s)"},
    {"(register-query \"x\" '[:find ?e :in $ ?p [?e :t/n ?p]] nil [:k])",
     "a parameter value must be a number, string or boolean"},
    {"(register-query \"x\" '[:find ?e :in $ ?p [?e :t/n ?p]] nil 5)",
     "the query's :in takes 1 value(s)"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/n _]] nil [1])",
     "arguments given but the query has no :in"},
    {"(register-query \"x\" '[:find ?e :in $ x [?e :t/n _]] nil [1])",
     ":in takes $ and ?variables (scalar bindings), got x"},
    {"(register-query \"x\" '(:find ?e [?e :t/n ?v]))",
     "a query is a vector [:find ... :where ...], got list"},
    {"(register-query \"x\" '{:find [?e]})", "a query is a vector"},
    {"(register-query \"x\" 1)", "a query is a vector"},
    {"(register-query \"x\" '[:find ?y :where [?e :t/n ?v]])",
     "find variable ?y is not bound by the query"},
    {"(register-query \"x\" '[:find ?e ?z :where [?e :t/n ?v]])", "find variable ?z is not bound"},
    {"(register-query \"x\" '[:find (sum ?z) :where [?e :t/n ?v]])",
     "aggregated variable ?z is not bound"},
    {"(register-query \"x\" '[:find (median ?v) :where [?e :t/n ?v]])",
     "unknown aggregate 'median' (sum count count-distinct min max avg)"},
    {"(register-query \"x\" '[:find ?e (sum ?v) :with ?q :where [?e :t/n ?v]])",
     ":with variable ?q is not bound"},
    {"(register-query \"x\" '[:find e :where [?e :t/n ?v]])",
     "find element must be ?var or (aggregate ?var)"},
    {"(register-query \"x\" '[:find 1 :where [?e :t/n ?v]])", "find element must be ?var"},
    {"(register-query \"x\" '[:find (sum) :where [?e :t/n ?v]])",
     "find element must be ?var or (aggregate ?var)"},
    {"(register-query \"x\" '[:find (sum ?v ?e) :where [?e :t/n ?v]])",
     "find element must be ?var or (aggregate ?var)"},
    {"(register-query \"x\" '[:find (sum 1) :where [?e :t/n ?v]])",
     "find element must be ?var or (aggregate ?var)"},
    /* queries: patterns */
    {"(register-query \"x\" '[:find ?e :where [?e :t/zz ?v]])", "unknown attribute :t/zz"},
    {"(register-query \"x\" '[:find ?e :where [?e ?a ?v]])",
     "attribute must be a keyword, got symbol"},
    {"(register-query \"x\" '[:find ?e :where [?e \"t/n\" ?v]])",
     "attribute must be a keyword, got string"},
    {"(register-query \"x\" '[:find ?e :where [?e]])",
     "data pattern must be [e a v] or [e a], got 1 element(s)"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/n ?v ?w]])",
     "data pattern must be [e a v] or [e a], got 4 element(s)"},
    {"(register-query \"x\" '[:find ?e :where []])",
     "expected a clause ([e a v], (rule ...), [(pred ...)]), got an empty vector"},
    {"(register-query \"x\" '[:find ?e :where [\"e\" :t/n ?e]])",
     "entity position must be a variable, _ or an integer id"},
    {"(register-query \"x\" '[:find ?e :where [true :t/n ?e]])",
     "entity position must be a variable"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/n \"5\"]])",
     ":t/n holds :Number values, the pattern has string"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/s 5]])",
     ":t/s holds :String values, the pattern has integer"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/b 1]])",
     ":t/b holds :Bool values, the pattern has integer"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/r \"x\"]])",
     ":t/r holds :Real values, the pattern has string"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/e 1.5]])",
     ":t/e holds :Eid values, the pattern has real"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/n :kw]])",
     "expected a variable, _ or a constant (string, number, boolean), got keyword"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/n nil]])",
     "expected a variable, _ or a constant (string, number, boolean), got nil"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/n [1]]])", "got vector"},
    {"(register-query \"x\" '[:find ?e :where 5])",
     "expected a clause ([e a v], (rule ...), [(pred ...)]), got integer"},
    {"(register-query \"x\" '[:find ?e :where \"x\"])", "got string"},
    {"(register-query \"x\" '[:find ?e :where :kw])", "got keyword"},
    {"(register-query \"x\" '[:find ?e :where ?e])", "got symbol"},
    /* queries: predicates and functions */
    {"(register-query \"x\" '[:find ?e :where [?e :t/n ?v] [(foo ?v 1)]])",
     "unknown function or predicate 'foo'"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/n ?v] [(< ?v)]])",
     "'<' takes 2+ arguments, got 1"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/n ?v] [(> ?v)]])",
     "'>' takes 2+ arguments, got 1"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/n ?v] [(= ?v)]])",
     "'=' takes 2+ arguments, got 1"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/n ?v] [(!= ?v)]])",
     "'!=' takes 2+ arguments, got 1"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/n ?v] [(<= ?v)]])",
     "'<=' takes 2+ arguments, got 1"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/n ?v] [(>= ?v)]])",
     "'>=' takes 2+ arguments, got 1"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/n ?v] [(add ?v) ?w]])",
     "'add' takes 2 to 8 arguments, got 1"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/n ?v] [(subtract ?v) ?w]])",
     "'subtract' takes 2 to 8 arguments, got 1"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/n ?v] [(multiply ?v) ?w]])",
     "'multiply' takes 2 to 8 arguments, got 1"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/n ?v] [(divide ?v) ?w]])",
     "'divide' takes 2 to 8 arguments, got 1"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/n ?v] [(str) ?w]])",
     "'str' takes 2 to 8 arguments, got 0"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/n ?v] [(< ?v 1) ?w]])",
     "predicate '<' binds nothing"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/n ?v] [(add ?v 1)]])",
     "function 'add' needs one output variable"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/n ?v] [(add ?v 1) 5]])",
     "function 'add' needs one output variable"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/n ?v] [(add ?v 1) ?a ?b]])",
     "function 'add' needs one output variable"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/n ?v] [(add ?v 1) ?v]])",
     "output variable of a function is already bound"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/n ?v] [(< ?q 1)]])",
     "a variable of this expression is never bound"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/n ?v] [(add ?q 1) ?w]])",
     "a variable of this expression is never bound"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/n ?v] [(< _ 1)]])",
     "'_' is not allowed as an argument of '<'"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/n ?v] [(< ?v :k)]])",
     "expected a variable, _ or a constant"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/n ?v] [()]])", "expected (function args...)"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/n ?v] [(1 2)]])",
     "expected (function args...)"},
    /* queries: not, or, and */
    {"(register-query \"x\" '[:find ?e :where [?e :t/n ?v] (not)])",
     "not needs at least one clause"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/n ?v] (not-join [?e])])",
     "not-join needs at least one clause"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/n ?v] (not-join ?e [?e :t/s _])])",
     "not-join needs a vector of variables"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/n ?v] (not-join [] [?e :t/s _])])",
     "not-join needs a vector of variables"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/n ?v] (not-join [1] [?e :t/s _])])",
     "not-join: expected a variable"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/n ?v] (not-join [?q] [?q :t/s _])])",
     "not-join variable ?q is not bound"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/n ?v] (not [?e :t/zz _])])",
     "unknown attribute :t/zz"},
    {"(register-query \"x\" '[:find ?e :where (or)])", "or needs at least one branch"},
    {"(register-query \"x\" '[:find ?e :where (or-join [?e])])",
     "or-join needs at least one branch"},
    {"(register-query \"x\" '[:find ?e :where (or-join ?e [?e :t/n _])])",
     "or-join needs a vector of variables"},
    {"(register-query \"x\" '[:find ?e :where (or-join [1] [?e :t/n _])])",
     "or-join: expected a variable"},
    {"(register-query \"x\" '[:find ?e :where (or-join [?e] [?x :t/n _])])",
     "or-join branch does not bind ?e"},
    {"(register-query \"x\" '[:find ?e :where (or [?e :t/n _] [?x :t/s _])])",
     "or branches share no variable (use or-join)"},
    {"(register-query \"x\" '[:find ?e :where (or [?e :t/zz _] [?e :t/s _])])",
     "unknown attribute :t/zz"},
    {"(register-query \"x\" '[:find ?e :where (and [?e :t/zz _])])", "unknown attribute :t/zz"},
    {"(register-query \"x\" '[:find ?e :where ()])",
     "expected (not ...), (or ...), (rule args...), got an empty or odd list"},
    {"(register-query \"x\" '[:find ?e :where (1 2)])", "got an empty or odd list"},
    /* queries: get-else, missing? */
    {"(register-query \"x\" '[:find ?e :where [?e :t/n _] [(get-else $ ?e :t/s) ?s]])",
     "expected [(get-else $ ?e :attr default) ?v]"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/n _] [(get-else ?e :t/s \"d\" 1) ?s]])",
     "expected [(get-else $ ?e :attr default) ?v]"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/n _] [(get-else $ ?e :t/s \"d\")]])",
     "expected [(get-else $ ?e :attr default) ?v]"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/n _] [(get-else $ ?q :t/s \"d\") ?s]])",
     "get-else: the entity must be a bound variable"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/n _] [(get-else $ 1 :t/s \"d\") ?s]])",
     "get-else: the entity must be a bound variable"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/n _] [(get-else $ ?e :t/zz \"d\") ?s]])",
     "unknown attribute :t/zz"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/n _] [(get-else $ ?e :t/s ?d) ?s]])",
     "get-else: the default must be a constant"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/n ?s] [(get-else $ ?e :t/s \"d\") ?s]])",
     "get-else: output variable is already bound"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/n _] [(missing? $ ?e)]])",
     "expected [(missing? $ ?e :attr)]"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/n _] [(missing? ?e :t/s)]])",
     "expected [(missing? $ ?e :attr)]"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/n _] [(missing? $ 1 :t/s)]])",
     "expected [(missing? $ ?e :attr)]"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/n _] [(missing? $ ?q :t/s)]])",
     "missing?: ?q is not bound"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/n _] [(missing? $ ?e :t/zz)]])",
     "unknown attribute :t/zz"},
    {"(register-query \"x\" '[:find ?e :where [?e :t/n _] [(missing? $ ?e :t/s) ?x]])",
     "expected [(missing? $ ?e :attr)]"},
    /* queries: rules and relations */
    {"(register-query \"x\" '[:find ?e :where (nope ?e)])", "unknown rule or query 'nope'"},
    {"(register-query \"x\" '[:find ?e :where [nope ?e]])", "unknown rule or query 'nope'"},
    {"(register-query \"x\" '[:find ?e :where (x ?e)])", "unknown rule or query 'x'"},
    {"(register-query \"x\" '[:find ?e :where [all-n ?e]])",
     "query all-n has 2 column(s), used with 1"},
    {"(register-query \"x\" '[:find ?e :where [all-n ?e ?v ?w]])",
     "query all-n has 2 column(s), used with 3"},
    {"(register-query \"x\" '[:find ?e :where (r ?e ?f)] '[[(r ?x) [?x :t/n _]]])",
     "rule r takes 1 argument(s), called with 2"},
    {"(register-query \"x\" '[:find ?e :where (r ?e)] '[[(r ?x) [?x :t/n _]] [(r ?x ?y) [?x :t/n "
     "?y]]])",
     "rule r defined with 1 and 2 arguments"},
    {"(register-query \"x\" '[:find ?e :where (r ?e)] '[[(r ?x ?y) [?x :t/n _]]])",
     "rule r: head variable ?y is not bound by the body"},
    {"(register-query \"x\" '[:find ?e :where (r ?e)] '[[(r ?x) [?y :t/n _]]])",
     "rule r: head variable ?x is not bound by the body"},
    {"(register-query \"x\" '[:find ?e :where (r ?e)] '[[(r 1) [?y :t/n _]]])",
     "rule head arguments must be variables"},
    {"(register-query \"x\" '[:find ?e :where (r ?e)] '[[r ?x [?x :t/n _]]])",
     "a rule is [(name ?args...) clauses...]"},
    {"(register-query \"x\" '[:find ?e :where (r ?e)] '[[(r ?x)]])",
     "a rule is [(name ?args...) clauses...]"},
    {"(register-query \"x\" '[:find ?e :where (r ?e)] '[(r ?x) [?x :t/n _]])",
     "a rule is [(name ?args...) clauses...]"},
    {"(register-query \"x\" '[:find ?e :where (r ?e)] '{:r 1})",
     "rules must be a vector of [(name ?args...) clauses...]"},
    {"(register-query \"x\" '[:find ?e :where (r ?e)] '[[(r ?x) [?x :t/zz _]]])",
     "unknown attribute :t/zz"},
    {"(register-query \"x\" '[:find ?e :where (r ?e)] '[[(r ?x) [?x :t/n _] (not (r ?x))]])",
     "negation through recursion is not stratified: r -> (not) r"},
    {"(register-query \"x\" '[:find ?e :where (p ?e)] '[[(p ?x) [?x :t/n _] (q ?x)] [(q ?x) [?x "
     ":t/n _] (not (p ?x))]])",
     "negation through recursion is not stratified: "},
    {"(register-query \"x\" '[:find ?e :where (p ?e)] '[[(p ?x) [?x :t/n _] (not-join [?x] (q "
     "?x))] [(q ?x) (p ?x)]])",
     "negation through recursion is not stratified"},
    {"(register-query \"x\" '[:find ?e :where (a ?e)] '[[(a ?x) (b ?x)] [(b ?x) (c ?x)] [(c ?x) "
     "[?x :t/n _] (not (a ?x))]])",
     "negation through recursion is not stratified"},
    {"(register-query \"x\" '[:find ?e :where (r ?e)] '[[(r ?x) [?x :t/n ?v] [(< ?v ?w)]]])",
     "a variable of this expression is never bound"},
    /* forms */
    {"(frobnicate 1)", "unknown form (frobnicate ...)"},
    {"(create-db)", "(create-db SCHEMA)"},
    {"(create-db {} {})", "(create-db SCHEMA)"},
    {"(create-db {})", "schema declares no attribute"},
    {"(create-db [])", "schema must be a map of attribute to {:db/valueType T}, got a vector"},
    {"(create-db {:t/n {:db/valueType :Number}})", "attribute :t/n already exists"},
    {"(create-db {:u/a {:db/valueType :Number} :u/b {:db/valueType :Nope}})",
     ":u/b: unknown value type"},
    {"(create-db {:u/a {:db/valueType :Number} :u/a {:db/valueType :Number}})",
     "attribute :u/a declared twice"},
    {"(create-db {\"u/a\" {:db/valueType :Number}})", "attribute name must be a keyword"},
    {"(create-db {:db/x {:db/valueType :Number}})", ":db/x: the db/ namespace is reserved"},
    {"(create-db {:u/a :Number})", ":u/a: expected {:db/valueType T}"},
    {"(create-db {:u/a {}})", ":u/a: missing :db/valueType"},
    {"(create-db {:u/a {:db/type :Number}})", ":u/a: unknown schema key"},
    {"(create-db {:u/a {:db/valueType \"String\"}})", ":u/a: unknown value type"},
    {"(register-query \"\" '[:find ?e ?v :where [?e :t/n ?v]])", "a query needs a non-empty name"},
    {"(register-query x '[:find ?e :where [?e :t/n _]])",
     "(register-query \"name\" QUERY [RULES [ARGS]])"},
    {"(register-query \"x\")", "(register-query \"name\" QUERY [RULES [ARGS]])"},
    {"(register-query \"x\" '[:find ?e [?e :t/n _]] [] [] [])",
     "(register-query \"name\" QUERY [RULES [ARGS]])"},
    {"(unregister-query \"nope\")", "no query named nope is registered"},
    {"(unregister-query nope)", "(unregister-query \"name\")"},
    {"(unregister-query)", "(unregister-query \"name\")"},
    {"(business-rule \"r\" '[:find ?e [?e :t/n _]])", "(business-rule \"name\" QUERY"},
    {"(business-rule \"r\" '[:find ?e [?e :t/n _]] [])", "(business-rule \"name\" QUERY"},
    {"(business-rule \"r\" '[:find ?e [?e :t/n _]] {})", "the action needs :tx [template forms]"},
    {"(business-rule \"r\" '[:find ?e [?e :t/n _]] {:tx [] :prob 2})", ":prob must be in [0, 1]"},
    {"(business-rule \"r\" '[:find ?e [?e :t/n _]] {:tx [] :when 2})",
     "unknown or malformed action key"},
    {"(business-rule \"r\" '[:find ?e [?e :t/zz _]] {:tx []})", "unknown attribute :t/zz"},
    {"[1 2]", "expected a form (create-db ...)"},
    {"1", "expected a form"},
    {"\"x\"", "expected a form"},
    {"()", "expected a form"},
    {"(1 2)", "expected a form"},
};

#define SRC_DIR TIDE_BUILD_DIR

Test(datalog_errors, rejected_forms_leave_state)
{
    size_t n = sizeof bad_forms / sizeof bad_forms[0];
    cr_assert_geq(n, 200, "only %zu cases", n);
    char path[64];
    snprintf(path, sizeof path, "/tmp/dl_errors_%d.edn", getpid());
    FILE *f = fopen(path, "w");
    cr_assert(f);
    /* line 1..4: schema, data, two queries; then one bad form per line */
    fprintf(f, "(create-db {:t/s {:db/valueType :String} :t/n {:db/valueType :Number} :t/r "
               "{:db/valueType :Real} :t/b {:db/valueType :Bool} :t/e {:db/valueType :Eid} :t/i "
               "{:db/valueType :Instant}})\n");
    fprintf(f,
            "(transact [{:db/id 1 :t/s \"a\" :t/n 1 :t/r 1.5 :t/b true :t/e 2 :t/i 7} [:db/add 2 "
            ":t/n 2]])\n");
    fprintf(f, "(register-query \"all-n\" '[:find ?e ?v :where [?e :t/n ?v]])\n");
    fprintf(f, "(register-query \"all-s\" '[:find ?e ?v :where [?e :t/s ?v]])\n");
    for (size_t i = 0; i < n; i++) fprintf(f, "%s\n", bad_forms[i].text);
    fprintf(f, "(transact [[:db/add 3 :t/n 3]])\n");
    fclose(f);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "timeout 60 %s/tide-datalog run %s 2>&1", TIDE_BUILD_DIR, path);
    FILE *p = popen(cmd, "r");
    size_t cap = 1 << 20, len = 0, k;
    char *out = malloc(cap);
    while ((k = fread(out + len, 1, cap - len - 1, p)) > 0) len += k;
    out[len] = 0;
    cr_assert_eq(pclose(p), 0, "%s", out);
    unlink(path);
    /* one error line per bad form, in order, naming its line */
    char *l = out;
    const char *want_first[] = {"[\"all-n\" ([(1 1) 2 1] [(2 2) 2 1])]\n",
                                "[\"all-s\" ([(1 \"a\") 3 1])]\n"};
    for (int i = 0; i < 2; i++) {
        cr_assert(!strncmp(l, want_first[i], strlen(want_first[i])), "expected %s got %.200s",
                  want_first[i], l);
        l += strlen(want_first[i]);
    }
    for (size_t i = 0; i < n; i++) {
        char *nl = strchr(l, '\n');
        cr_assert(nl, "output ends before case %zu (%s)", i, bad_forms[i].text);
        *nl = 0;
        char prefix[32];
        snprintf(prefix, sizeof prefix, "error: %zu:", i + 5);
        cr_expect(!strncmp(l, prefix, strlen(prefix)) && strstr(l, bad_forms[i].err),
                  "case %zu %s: expected '%s...%s', got '%s'", i, bad_forms[i].text, prefix,
                  bad_forms[i].err, l);
        l = nl + 1;
    }
    /* nothing changed: the next good transaction is time 4 and adds only its datom */
    cr_assert_str_eq(l, "[\"all-n\" ([(3 3) 4 1])]\n");
    free(out);
}
