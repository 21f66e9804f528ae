/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Label and field selectors.
 *
 * The label selector parser is a small recursive-descent parser over an
 * on-the-fly lexer (no token array). Requirements are kept sorted by key
 * (stable), and the values of "in"/"notin" sets parsed from a string are
 * sorted and de-duplicated, so that the string form is deterministic.
 * Matching walks packed labels and never allocates.
 */
#include <inttypes.h>

#include "lib/names.h"
#include "lib/selector.h"
#include "lib/strbuf.h"

/* ---- requirements ------------------------------------------------------ */

static void label_req_release(struct label_req *r)
{
	free(r->key);
	if (r->values)
		for (size_t i = 0; i < r->nvalues; i++)
			free(r->values[i]);
	free(r->values);
	*r = (struct label_req){ 0 };
}

void label_selector_release(struct label_selector *sel)
{
	if (!sel)
		return;
	for (size_t i = 0; i < sel->n; i++)
		label_req_release(&sel->reqs[i]);
	free(sel->reqs);
	*sel = (struct label_selector){ 0 };
}

static void label_selector_releasep(struct label_selector *sel)
{
	label_selector_release(sel);
}

static struct label_req *selector_add_req(struct label_selector *sel, const char *key, size_t klen,
					  enum label_op op)
{
	sel->reqs = xrealloc(sel->reqs, (sel->n + 1) * sizeof(*sel->reqs));
	struct label_req *r = &sel->reqs[sel->n++];
	*r = (struct label_req){ .key = xstrndup(key, klen), .op = op };
	r->values = xnew(char *, 1);
	return r;
}

static void req_add_value(struct label_req *r, const char *v, size_t vlen)
{
	r->values = xrealloc(r->values, (r->nvalues + 2) * sizeof(char *));
	r->values[r->nvalues++] = xstrndup(v, vlen);
	r->values[r->nvalues] = NULL;
}

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sort and de-duplicate a requirement's values (a set, as upstream has it). */
static void req_normalize_values(struct label_req *r)
{
	size_t out = 0;

	if (r->nvalues < 2)
		return;
	qsort(r->values, r->nvalues, sizeof(char *), cmp_strp);
	for (size_t i = 0; i < r->nvalues; i++) {
		if (out > 0 && streq(r->values[out - 1], r->values[i]))
			free(r->values[i]);
		else
			r->values[out++] = r->values[i];
	}
	r->nvalues = out;
	r->values[out] = NULL;
}

/* Stable insertion sort by key; selectors hold a handful of requirements. */
static void selector_sort(struct label_selector *sel)
{
	for (size_t i = 1; i < sel->n; i++) {
		struct label_req tmp = sel->reqs[i];
		size_t j = i;
		while (j > 0 && strcmp(sel->reqs[j - 1].key, tmp.key) > 0) {
			sel->reqs[j] = sel->reqs[j - 1];
			j--;
		}
		sel->reqs[j] = tmp;
	}
}

/* Strict base-10 int64 (optional sign, digits only), like Go's ParseInt. */
static bool parse_int64(const char *s, int64_t *ret)
{
	bool neg = false;
	uint64_t v = 0, limit;

	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	if (!*s)
		return false;
	limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		unsigned d = (unsigned)(*s - '0');
		if (v > (limit - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*ret = neg ? (int64_t)(0 - v) : (int64_t)v;
	return true;
}

static const char *op_name(enum label_op op)
{
	switch (op) {
	case LABEL_OP_EQ:
		return "=";
	case LABEL_OP_NEQ:
		return "!=";
	case LABEL_OP_IN:
		return "in";
	case LABEL_OP_NOTIN:
		return "notin";
	case LABEL_OP_EXISTS:
		return "exists";
	case LABEL_OP_NOT_EXISTS:
		return "!";
	case LABEL_OP_GT:
		return ">";
	case LABEL_OP_LT:
		return "<";
	}
	return "?";
}

/* Checks shared by the string parser and the JSON form: key syntax, value
 * syntax, integer operands for gt/lt. Returns a message or NULL. */
static char *req_check(const struct label_req *r)
{
	_cleanup_free_ char *kmsg = validate_qualified_name(r->key);
	if (kmsg)
		return xasprintf("invalid label key \"%s\": %s", r->key, kmsg);
	for (size_t i = 0; i < r->nvalues; i++) {
		_cleanup_free_ char *vmsg = validate_label_value(r->values[i]);
		if (vmsg)
			return xasprintf("invalid value \"%s\" for label key \"%s\": %s",
					 r->values[i], r->key, vmsg);
	}
	if (r->op == LABEL_OP_GT || r->op == LABEL_OP_LT) {
		int64_t dummy;
		if (r->nvalues != 1 || !parse_int64(r->values[0], &dummy))
			return xasprintf("value \"%s\" for label key \"%s\" must be an integer "
					 "for operator '%s'",
					 r->nvalues ? r->values[0] : "", r->key, op_name(r->op));
	}
	return NULL;
}

/* ---- lexer -------------------------------------------------------------- */

enum tok {
	T_END,
	T_IDENT,
	T_COMMA,
	T_LPAREN,
	T_RPAREN,
	T_BANG,
	T_EQ,
	T_DEQ,
	T_NEQ,
	T_GT,
	T_LT,
};

struct token {
	enum tok t;
	const char *p;
	size_t len;
};

struct parser {
	const char *pos;
	struct token cur;
};

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_special(char c)
{
	return strchr("=!(),<>", c) && c != 0;
}

static void next(struct parser *ps)
{
	const char *p = ps->pos;
	struct token t = { T_END, p, 0 };

	while (is_space(*p))
		p++;
	t.p = p;
	if (!*p) {
		ps->cur = t;
		ps->pos = p;
		return;
	}
	t.len = 1;
	switch (*p) {
	case ',':
		t.t = T_COMMA;
		break;
	case '(':
		t.t = T_LPAREN;
		break;
	case ')':
		t.t = T_RPAREN;
		break;
	case '>':
		t.t = T_GT;
		break;
	case '<':
		t.t = T_LT;
		break;
	case '=':
		t.t = T_EQ;
		if (p[1] == '=') {
			t.t = T_DEQ;
			t.len = 2;
		}
		break;
	case '!':
		t.t = T_BANG;
		if (p[1] == '=') {
			t.t = T_NEQ;
			t.len = 2;
		}
		break;
	default:
		t.t = T_IDENT;
		while (p[t.len] && !is_space(p[t.len]) && !is_special(p[t.len]))
			t.len++;
	}
	ps->cur = t;
	ps->pos = p + t.len;
}

static bool cur_is_word(const struct parser *ps, const char *w)
{
	return ps->cur.t == T_IDENT && ps->cur.len == strlen(w) &&
	       !memcmp(ps->cur.p, w, ps->cur.len);
}

/* "'tok'" or "end of input", for messages. */
static char *describe(const struct token *t)
{
	if (t->t == T_END)
		return xstrdup("end of input");
	return xasprintf("'%.*s'", (int)t->len, t->p);
}

static bool at_req_end(const struct parser *ps)
{
	return ps->cur.t == T_END || ps->cur.t == T_COMMA;
}

/* ---- label selector parser --------------------------------------------- */

static char *parse_values_set(struct parser *ps, struct label_req *r)
{
	if (ps->cur.t != T_LPAREN) {
		_cleanup_free_ char *d = describe(&ps->cur);
		return xasprintf("found %s, expected '(' after '%s'", d, op_name(r->op));
	}
	next(ps);
	if (ps->cur.t == T_RPAREN)
		return xasprintf("the value set of '%s' for label key \"%s\" must not be empty",
				 op_name(r->op), r->key);
	for (;;) {
		/* An element may be empty: "(a,,b)" and "(a,)" include "". */
		if (ps->cur.t == T_IDENT) {
			req_add_value(r, ps->cur.p, ps->cur.len);
			next(ps);
		} else if (ps->cur.t == T_COMMA || ps->cur.t == T_RPAREN) {
			req_add_value(r, "", 0);
		} else if (ps->cur.t == T_END) {
			return xasprintf("missing ')' to close the value set of label key \"%s\"",
					 r->key);
		} else {
			_cleanup_free_ char *d = describe(&ps->cur);
			return xasprintf("found %s in the value set of label key \"%s\", "
					 "expected a value, ',' or ')'",
					 d, r->key);
		}
		if (ps->cur.t == T_COMMA) {
			next(ps);
			continue;
		}
		if (ps->cur.t == T_RPAREN) {
			next(ps);
			break;
		}
		if (ps->cur.t == T_END)
			return xasprintf("missing ')' to close the value set of label key \"%s\"",
					 r->key);
		_cleanup_free_ char *d = describe(&ps->cur);
		return xasprintf(
		    "found %s in the value set of label key \"%s\", expected ',' or ')'", d,
		    r->key);
	}
	req_normalize_values(r);
	return NULL;
}

/* Parses one requirement into sel; returns an error message or NULL. */
static char *parse_requirement(struct parser *ps, struct label_selector *sel)
{
	bool negate = false;
	enum label_op op;

	if (ps->cur.t == T_BANG) {
		negate = true;
		next(ps);
	}
	if (ps->cur.t != T_IDENT) {
		_cleanup_free_ char *d = describe(&ps->cur);
		return xasprintf("found %s, expected a label key", d);
	}
	struct token key = ps->cur;
	next(ps);

	if (negate) {
		if (!at_req_end(ps)) {
			_cleanup_free_ char *d = describe(&ps->cur);
			return xasprintf("found %s after '!%.*s', expected ',' or end of input", d,
					 (int)key.len, key.p);
		}
		op = LABEL_OP_NOT_EXISTS;
	} else if (at_req_end(ps)) {
		op = LABEL_OP_EXISTS;
	} else if (ps->cur.t == T_EQ || ps->cur.t == T_DEQ) {
		op = LABEL_OP_EQ;
	} else if (ps->cur.t == T_NEQ) {
		op = LABEL_OP_NEQ;
	} else if (ps->cur.t == T_GT) {
		op = LABEL_OP_GT;
	} else if (ps->cur.t == T_LT) {
		op = LABEL_OP_LT;
	} else if (cur_is_word(ps, "in")) {
		op = LABEL_OP_IN;
	} else if (cur_is_word(ps, "notin")) {
		op = LABEL_OP_NOTIN;
	} else {
		_cleanup_free_ char *d = describe(&ps->cur);
		return xasprintf("found %s after label key \"%.*s\", expected an operator "
				 "(=, ==, !=, in, notin, >, <), ',' or end of input",
				 d, (int)key.len, key.p);
	}

	struct label_req *r = selector_add_req(sel, key.p, key.len, op);
	switch (op) {
	case LABEL_OP_EXISTS:
	case LABEL_OP_NOT_EXISTS:
		break;
	case LABEL_OP_IN:
	case LABEL_OP_NOTIN: {
		next(ps);
		char *err = parse_values_set(ps, r);
		if (err)
			return err;
		break;
	}
	default:
		next(ps);
		if (at_req_end(ps)) {
			req_add_value(r, "", 0);
		} else if (ps->cur.t == T_IDENT) {
			req_add_value(r, ps->cur.p, ps->cur.len);
			next(ps);
		} else {
			_cleanup_free_ char *d = describe(&ps->cur);
			return xasprintf(
			    "found %s after '%s', expected a value for label key \"%s\"", d,
			    op_name(op), r->key);
		}
	}
	return req_check(r);
}

int label_selector_parse(const char *s, struct label_selector *ret, char **ret_err)
{
	_cleanup_(label_selector_releasep) struct label_selector sel = { 0 };
	struct parser ps = { .pos = s ? s : "" };
	char *err = NULL;

	next(&ps);
	while (ps.cur.t != T_END) {
		/* Callers prefix "unable to parse requirement: " when reporting. */
		err = parse_requirement(&ps, &sel);
		if (err)
			break;
		if (ps.cur.t == T_END)
			break;
		if (ps.cur.t != T_COMMA) {
			_cleanup_free_ char *d = describe(&ps.cur);
			err = xasprintf("found %s, expected ',' or end of input", d);
			break;
		}
		next(&ps);
		if (ps.cur.t != T_IDENT && ps.cur.t != T_BANG) {
			_cleanup_free_ char *d = describe(&ps.cur);
			err = xasprintf("found %s, expected a requirement after ','", d);
			break;
		}
	}
	if (err) {
		if (ret_err)
			*ret_err = err;
		else
			free(err);
		return -EINVAL;
	}
	selector_sort(&sel);
	*ret = sel;
	sel = (struct label_selector){ 0 };
	return 0;
}

/* ---- metav1.LabelSelector ---------------------------------------------- */

static char *from_json_expr(json_t *expr, size_t idx, struct label_selector *sel)
{
	static const struct {
		const char *name;
		enum label_op op;
	} ops[] = {
		{ "In", LABEL_OP_IN },
		{ "NotIn", LABEL_OP_NOTIN },
		{ "Exists", LABEL_OP_EXISTS },
		{ "DoesNotExist", LABEL_OP_NOT_EXISTS },
	};

	if (!json_is_object(expr))
		return xasprintf("matchExpressions[%zu]: must be an object", idx);
	json_t *jkey = json_object_get(expr, "key");
	if (jkey && !json_is_string(jkey))
		return xasprintf("matchExpressions[%zu].key: must be a string", idx);
	const char *key = jkey ? json_string_value(jkey) : "";

	json_t *jop = json_object_get(expr, "operator");
	const char *opstr = json_is_string(jop) ? json_string_value(jop) : NULL;
	if (!opstr)
		return xasprintf("matchExpressions[%zu].operator: must be one of In, NotIn, "
				 "Exists or DoesNotExist",
				 idx);
	size_t k;
	for (k = 0; k < ARRAY_SIZE(ops); k++)
		if (streq(opstr, ops[k].name))
			break;
	if (k == ARRAY_SIZE(ops))
		return xasprintf("matchExpressions[%zu].operator: \"%s\" is not a valid label "
				 "selector operator (use In, NotIn, Exists or DoesNotExist)",
				 idx, opstr);
	enum label_op op = ops[k].op;

	json_t *jvals = json_object_get(expr, "values");
	if (jvals && !json_is_null(jvals) && !json_is_array(jvals))
		return xasprintf("matchExpressions[%zu].values: must be an array of strings", idx);
	size_t nvals = json_is_array(jvals) ? json_array_size(jvals) : 0;
	if ((op == LABEL_OP_IN || op == LABEL_OP_NOTIN) && nvals == 0)
		return xasprintf("matchExpressions[%zu].values: must be non-empty when operator "
				 "is %s",
				 idx, opstr);
	if ((op == LABEL_OP_EXISTS || op == LABEL_OP_NOT_EXISTS) && nvals != 0)
		return xasprintf("matchExpressions[%zu].values: must be empty when operator is %s",
				 idx, opstr);

	struct label_req *r = selector_add_req(sel, key, strlen(key), op);
	for (size_t i = 0; i < nvals; i++) {
		json_t *v = json_array_get(jvals, i);
		if (!json_is_string(v))
			return xasprintf("matchExpressions[%zu].values[%zu]: must be a string", idx,
					 i);
		req_add_value(r, json_string_value(v), strlen(json_string_value(v)));
	}
	char *msg = req_check(r);
	if (msg) {
		char *wrapped = xasprintf("matchExpressions[%zu]: %s", idx, msg);
		free(msg);
		return wrapped;
	}
	return NULL;
}

static char *from_json(json_t *j, struct label_selector *sel)
{
	json_t *ml = json_object_get(j, "matchLabels");
	json_t *me = json_object_get(j, "matchExpressions");
	const char *key;
	json_t *v;

	if (ml && !json_is_null(ml)) {
		if (!json_is_object(ml))
			return xstrdup("matchLabels: must be an object of strings");
		json_object_foreach(ml, key, v)
		{
			if (!json_is_string(v))
				return xasprintf("matchLabels[%s]: must be a string", key);
			struct label_req *r = selector_add_req(sel, key, strlen(key), LABEL_OP_EQ);
			req_add_value(r, json_string_value(v), strlen(json_string_value(v)));
			char *msg = req_check(r);
			if (msg) {
				char *wrapped = xasprintf("matchLabels: %s", msg);
				free(msg);
				return wrapped;
			}
		}
	}
	if (me && !json_is_null(me)) {
		if (!json_is_array(me))
			return xstrdup("matchExpressions: must be an array");
		for (size_t i = 0; i < json_array_size(me); i++) {
			char *msg = from_json_expr(json_array_get(me, i), i, sel);
			if (msg)
				return msg;
		}
	}
	return NULL;
}

int label_selector_from_json(json_t *j, struct label_selector *ret, char **ret_err)
{
	_cleanup_(label_selector_releasep) struct label_selector sel = { 0 };

	if (!j || json_is_null(j)) {
		*ret = (struct label_selector){ .match_nothing = true };
		return 0;
	}
	char *err = json_is_object(j) ? from_json(j, &sel)
				      : xstrdup("a label selector must be a JSON object");
	if (err) {
		if (ret_err)
			*ret_err = err;
		else
			free(err);
		return -EINVAL;
	}
	selector_sort(&sel);
	*ret = sel;
	sel = (struct label_selector){ 0 };
	return 0;
}

bool label_selector_is_everything(const struct label_selector *sel)
{
	return !sel || (!sel->match_nothing && sel->n == 0);
}

char *label_selector_to_string(const struct label_selector *sel)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addstr(&sb, "");
	if (!sel || sel->match_nothing)
		return strbuf_detach(&sb, NULL);
	for (size_t i = 0; i < sel->n; i++) {
		const struct label_req *r = &sel->reqs[i];
		if (i)
			strbuf_addch(&sb, ',');
		if (r->op == LABEL_OP_NOT_EXISTS)
			strbuf_addch(&sb, '!');
		strbuf_addstr(&sb, r->key);
		switch (r->op) {
		case LABEL_OP_EXISTS:
		case LABEL_OP_NOT_EXISTS:
			continue;
		case LABEL_OP_IN:
		case LABEL_OP_NOTIN: {
			/* Sorted on output without touching the selector. */
			_cleanup_free_ char **v = xnew(char *, r->nvalues + 1);
			memcpy(v, r->values, r->nvalues * sizeof(char *));
			qsort(v, r->nvalues, sizeof(char *), cmp_strp);
			strbuf_addf(&sb, " %s (", op_name(r->op));
			for (size_t k = 0; k < r->nvalues; k++)
				strbuf_addf(&sb, "%s%s", k ? "," : "", v[k]);
			/* A set holding only "" is written "(,)": "()" is rejected. */
			if (r->nvalues == 1 && !*v[0])
				strbuf_addch(&sb, ',');
			strbuf_addch(&sb, ')');
			break;
		}
		default:
			strbuf_addstr(&sb, op_name(r->op));
			strbuf_addstr(&sb, r->nvalues ? r->values[0] : "");
		}
	}
	return strbuf_detach(&sb, NULL);
}

/* ---- matching ----------------------------------------------------------- */

const char *packed_labels_get(const char *packed, const char *key)
{
	if (!packed)
		return NULL;
	while (*packed) {
		const char *k = packed;
		size_t klen = strlen(k);
		const char *v = k + klen + 1;
		if (streq(k, key))
			return v;
		packed = v + strlen(v) + 1;
	}
	return NULL;
}

char *packed_labels_from_json(json_t *labels, size_t *ret_len)
{
	struct strbuf sb = STRBUF_INIT;
	const char *key;
	size_t key_len;
	json_t *v;

	if (json_is_object(labels)) {
		json_object_keylen_foreach(labels, key, key_len, v)
		{
			/* Skip what cannot be a label: empty keys, non-strings, NULs. */
			if (key_len == 0 || strlen(key) != key_len || !json_is_string(v))
				continue;
			const char *s = json_string_value(v);
			size_t n = json_string_length(v);
			if (strlen(s) != n)
				continue;
			strbuf_add(&sb, key, key_len + 1);
			strbuf_add(&sb, s, n + 1);
		}
	}
	strbuf_add(&sb, "", 1);
	return strbuf_detach(&sb, ret_len);
}

static bool req_has_value(const struct label_req *r, const char *v)
{
	for (size_t i = 0; i < r->nvalues; i++)
		if (streq(r->values[i], v))
			return true;
	return false;
}

static bool req_matches(const struct label_req *r, const char *packed)
{
	const char *v = packed_labels_get(packed, r->key);
	int64_t have, want;

	switch (r->op) {
	case LABEL_OP_EQ:
	case LABEL_OP_IN:
		return v && req_has_value(r, v);
	case LABEL_OP_NEQ:
	case LABEL_OP_NOTIN:
		return !v || !req_has_value(r, v);
	case LABEL_OP_EXISTS:
		return v != NULL;
	case LABEL_OP_NOT_EXISTS:
		return v == NULL;
	case LABEL_OP_GT:
	case LABEL_OP_LT:
		if (!v || r->nvalues != 1 || !parse_int64(v, &have) ||
		    !parse_int64(r->values[0], &want))
			return false;
		return r->op == LABEL_OP_GT ? have > want : have < want;
	}
	return false;
}

bool label_selector_matches(const struct label_selector *sel, const char *packed_labels)
{
	if (!sel)
		return true;
	if (sel->match_nothing)
		return false;
	for (size_t i = 0; i < sel->n; i++)
		if (!req_matches(&sel->reqs[i], packed_labels))
			return false;
	return true;
}

/* ---- field selectors ---------------------------------------------------- */

void field_selector_release(struct field_selector *sel)
{
	if (!sel)
		return;
	for (size_t i = 0; i < sel->n; i++) {
		free(sel->reqs[i].field);
		free(sel->reqs[i].value);
	}
	free(sel->reqs);
	*sel = (struct field_selector){ 0 };
}

static void field_selector_releasep(struct field_selector *sel)
{
	field_selector_release(sel);
}

/* Unescape a value; returns NULL and sets *ret_err on a bad escape or an
 * unescaped '='. */
static char *unescape_value(const char *s, size_t n, const char *term, char **ret_err)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addstr(&sb, "");
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '\\') {
			if (i + 1 == n) {
				*ret_err =
				    xasprintf("invalid field selector term '%s': value ends in "
					      "a lone '\\'",
					      term);
				goto fail;
			}
			c = s[++i];
			if (c != '\\' && c != ',' && c != '=' && c != '!') {
				*ret_err =
				    xasprintf("invalid field selector term '%s': invalid "
					      "escape sequence '\\%c' (only '\\\\', '\\,', '\\=' "
					      "and '\\!' are allowed)",
					      term, c);
				goto fail;
			}
		} else if (c == '=') {
			*ret_err = xasprintf("invalid field selector term '%s': '=' in a value "
					     "must be escaped as '\\='",
					     term);
			goto fail;
		}
		strbuf_addch(&sb, c);
	}
	return strbuf_detach(&sb, NULL);
fail:
	strbuf_release(&sb);
	return NULL;
}

static char *parse_field_term(const char *term, struct field_selector *sel)
{
	size_t n = strlen(term), i, oplen = 0;
	bool neq = false;

	for (i = 0; i < n; i++) {
		if (term[i] == '!' && term[i + 1] == '=') {
			neq = true;
			oplen = 2;
			break;
		}
		if (term[i] == '=') {
			oplen = term[i + 1] == '=' ? 2 : 1;
			break;
		}
	}
	if (!oplen)
		return xasprintf("invalid field selector term '%s': expected 'field=value', "
				 "'field==value' or 'field!=value'",
				 term);
	if (i == 0)
		return xasprintf("invalid field selector term '%s': missing the field name", term);

	char *err = NULL;
	char *value = unescape_value(term + i + oplen, n - i - oplen, term, &err);
	if (!value)
		return err;
	sel->reqs = xrealloc(sel->reqs, (sel->n + 1) * sizeof(*sel->reqs));
	sel->reqs[sel->n++] = (struct field_req){
		.field = xstrndup(term, i),
		.value = value,
		.neq = neq,
	};
	return NULL;
}

int field_selector_parse(const char *s, struct field_selector *ret, char **ret_err)
{
	_cleanup_(field_selector_releasep) struct field_selector sel = { 0 };
	char *err = NULL;

	if (!s)
		s = "";
	/* Split on commas not preceded by an escaping backslash. */
	for (const char *p = s, *start = s;; p++) {
		if (*p == '\\' && p[1]) {
			p++;
			continue;
		}
		if (*p && *p != ',')
			continue;
		if (p > start) {
			_cleanup_free_ char *term = xstrndup(start, (size_t)(p - start));
			err = parse_field_term(term, &sel);
			if (err)
				break;
		}
		if (!*p)
			break;
		start = p + 1;
	}
	if (err) {
		if (ret_err)
			*ret_err = err;
		else
			free(err);
		return -EINVAL;
	}
	*ret = sel;
	sel = (struct field_selector){ 0 };
	return 0;
}

bool field_selector_matches(const struct field_selector *sel, field_lookup_fn lookup,
			    const void *obj)
{
	if (!sel)
		return true;
	for (size_t i = 0; i < sel->n; i++) {
		const char *v = lookup(obj, sel->reqs[i].field);
		bool eq = streq(v ? v : "", sel->reqs[i].value);
		if (eq == sel->reqs[i].neq)
			return false;
	}
	return true;
}

const char *field_selector_required_value(const struct field_selector *sel, const char *field)
{
	if (!sel)
		return NULL;
	for (size_t i = 0; i < sel->n; i++)
		if (!sel->reqs[i].neq && streq(sel->reqs[i].field, field))
			return sel->reqs[i].value;
	return NULL;
}
