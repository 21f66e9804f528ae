/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The .def parser and the type and field lookups (format: types/README.md).
 * Type checking of JSON bodies is in schema_check.c, protobuf decoding in
 * schema_proto.c.
 *
 * Memory: everything a parsed schema points to (types, fields, references,
 * strings, lookup tables) lives in one bump arena, a short list of large
 * blocks whose first block is sized from the input, so the built-in schema
 * takes one or two allocations. Two more arrays hold the types in definition
 * order and sorted by name.
 *
 * Lookups: each type carries two indexes built once at parse time, reached
 * from the public struct schema_type (it is the first member of struct
 * type_impl):
 *  - by_name: field indices sorted by JSON name, for binary search;
 *  - by_proto: when the field numbers are small (every Kubernetes type), a
 *    dense table number -> index + 1; otherwise indices sorted by number.
 */
#include <pthread.h>
#include <stdalign.h>
#include <stdarg.h>

#include "apiserver/schema.h"
#include "lib/log.h"
#include "lib/strbuf.h"

/* Field indexes are uint16_t. */
#define MAX_FIELDS 65535
/* Largest protobuf field number (2^29 - 1). */
#define MAX_PROTO_NUMBER 536870911
/* A dense proto table is used when it has at most this many unused slots. */
#define DENSE_SLACK 64
/* Words on one line before the description. */
#define MAX_WORDS 32

/* ---- arena ---- */

struct arena_block {
	struct arena_block *next;
	size_t size, used;
	max_align_t data[];
};

struct arena {
	struct arena_block *head;
	size_t next_size;
};

static void *arena_alloc(struct arena *a, size_t n)
{
	const size_t align = alignof(max_align_t);
	n = (n + align - 1) & ~(align - 1);
	struct arena_block *b = a->head;
	if (!b || b->size - b->used < n) {
		size_t size = MAX(n, a->next_size);
		b = xmalloc(sizeof(*b) + size);
		b->size = size;
		b->used = 0;
		b->next = a->head;
		a->head = b;
		a->next_size = 64 * 1024;
	}
	void *p = (char *)b->data + b->used;
	b->used += n;
	memset(p, 0, n);
	return p;
}

static char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);
	memcpy(p, s, n);
	p[n] = 0;
	return p;
}

static void arena_release(struct arena *a)
{
	while (a->head) {
		struct arena_block *b = a->head;
		a->head = b->next;
		free(b);
	}
}

/* ---- schema ---- */

struct type_impl {
	struct schema_type pub; /* first, so a schema_type pointer converts back */
	const uint16_t *by_name;
	const uint16_t *by_proto;
	size_t nproto; /* dense: table size; sparse: entries */
	bool dense;
	unsigned line;
};

struct schema {
	struct arena arena;
	struct type_impl **types;  /* definition order */
	struct type_impl **sorted; /* by name */
	size_t ntypes;
};

static const struct type_impl *impl(const struct schema_type *t)
{
	return (const struct type_impl *)t;
}

/* Shared references for elements of a scalar kind ("[]string"). */
static const struct schema_ref scalar_refs[] = {
	[SK_STRING] = { SK_STRING, NULL, NULL },
	[SK_INT32] = { SK_INT32, NULL, NULL },
	[SK_INT64] = { SK_INT64, NULL, NULL },
	[SK_BOOL] = { SK_BOOL, NULL, NULL },
	[SK_DOUBLE] = { SK_DOUBLE, NULL, NULL },
	[SK_BYTES] = { SK_BYTES, NULL, NULL },
	[SK_TIME] = { SK_TIME, NULL, NULL },
	[SK_MICROTIME] = { SK_MICROTIME, NULL, NULL },
	[SK_DURATION] = { SK_DURATION, NULL, NULL },
	[SK_QUANTITY] = { SK_QUANTITY, NULL, NULL },
	[SK_INTORSTRING] = { SK_INTORSTRING, NULL, NULL },
	[SK_FREEFORM] = { SK_FREEFORM, NULL, NULL },
};

static const struct {
	const char *name;
	enum schema_kind kind;
} scalar_names[] = {
	{ "string", SK_STRING },
	{ "int32", SK_INT32 },
	{ "int64", SK_INT64 },
	{ "bool", SK_BOOL },
	{ "double", SK_DOUBLE },
	{ "bytes", SK_BYTES },
	{ "time", SK_TIME },
	{ "microtime", SK_MICROTIME },
	{ "duration", SK_DURATION },
	{ "quantity", SK_QUANTITY },
	{ "intorstring", SK_INTORSTRING },
	{ "object", SK_FREEFORM },
};

/* ---- parser ---- */

struct tok {
	const char *p;
	size_t n;
};

static bool tok_eq(struct tok t, const char *s)
{
	return strlen(s) == t.n && memcmp(t.p, s, t.n) == 0;
}

static bool tok_prefix(struct tok t, const char *prefix, struct tok *ret_rest)
{
	size_t n = strlen(prefix);
	if (t.n < n || memcmp(t.p, prefix, n) != 0)
		return false;
	*ret_rest = (struct tok){ t.p + n, t.n - n };
	return true;
}

/* A field being collected for the current type. */
struct pending_field {
	struct schema_field f;
	unsigned line;
	const char *struct_name; /* f.ref is SK_STRUCT, resolved at the end */
};

/* A struct reference to resolve once every type is known. */
struct fixup {
	struct schema_ref *ref;
	const char *name;
	unsigned line;
};

struct parser {
	struct schema *s;
	unsigned line;
	char *err;
	unsigned err_line;

	const char *pkg;    /* OpenAPI prefix */
	const char *go_pkg; /* its last element */

	struct type_impl *cur;
	struct pending_field *fields;
	size_t nfields, afields;

	struct fixup *fixups;
	size_t nfixups, afixups;

	size_t atypes;
	/* Open-addressing set of type names, for duplicates and resolution. */
	struct type_impl **hash;
	size_t hash_size;
};

static int perr_at(struct parser *p, unsigned line, const char *fmt, ...) _printf_(3, 4);
static int perr_at(struct parser *p, unsigned line, const char *fmt, ...)
{
	if (p->err)
		return -EINVAL;
	struct strbuf sb = STRBUF_INIT;
	strbuf_addf(&sb, "line %u: ", line);
	va_list ap;
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	p->err = strbuf_detach(&sb, NULL);
	p->err_line = line;
	return -EINVAL;
}

#define perr(p, ...) perr_at((p), (p)->line, __VA_ARGS__)

static uint64_t hash_name(const char *s, size_t n)
{
	uint64_t h = 14695981039346656037ull; /* FNV-1a */
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return h;
}

static struct type_impl **hash_slot(struct parser *p, const char *name, size_t n)
{
	size_t mask = p->hash_size - 1;
	for (size_t i = hash_name(name, n) & mask;; i = (i + 1) & mask) {
		struct type_impl *t = p->hash[i];
		if (!t || (strlen(t->pub.name) == n && memcmp(t->pub.name, name, n) == 0))
			return &p->hash[i];
	}
}

static struct type_impl *hash_find(struct parser *p, const char *name)
{
	if (!p->hash_size)
		return NULL;
	return *hash_slot(p, name, strlen(name));
}

static void hash_add(struct parser *p, struct type_impl *t)
{
	if ((p->s->ntypes + 1) * 2 > p->hash_size) {
		struct type_impl **old = p->hash;
		size_t old_size = p->hash_size;
		p->hash_size = old_size ? old_size * 2 : 256;
		p->hash = xnew(struct type_impl *, p->hash_size);
		for (size_t i = 0; i < old_size; i++)
			if (old[i])
				*hash_slot(p, old[i]->pub.name, strlen(old[i]->pub.name)) = old[i];
		free(old);
	}
	*hash_slot(p, t->pub.name, strlen(t->pub.name)) = t;
}

static bool is_ident(struct tok t)
{
	if (!t.n || !(t.p[0] == '_' || (t.p[0] >= 'A' && t.p[0] <= 'Z') ||
		      (t.p[0] >= 'a' && t.p[0] <= 'z')))
		return false;
	for (size_t i = 1; i < t.n; i++) {
		char c = t.p[i];
		if (!(c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9')))
			return false;
	}
	return true;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* Decode the quoted description starting at *q (a '"'); it must end the line. */
static int parse_description(struct parser *p, const char *q, const char *end, const char **ret)
{
	/* The decoded text is never longer than the quoted one. */
	char *out = arena_alloc(&p->s->arena, (size_t)(end - q));
	size_t n = 0;
	const char *c = q + 1;
	for (;; c++) {
		if (c >= end)
			return perr(p, "unterminated description");
		if (*c == '"')
			break;
		if (*c == '\\') {
			if (c + 1 >= end || (c[1] != '"' && c[1] != '\\'))
				return perr(p, "bad escape in description (only \\\" and \\\\)");
			c++;
		}
		out[n++] = *c;
	}
	out[n] = 0;
	for (c++; c < end; c++)
		if (!is_space(*c))
			return perr(p, "unexpected text after the description");
	*ret = out;
	return 0;
}

/* Split a line into words and an optional trailing description. */
static int split_line(struct parser *p, const char *c, const char *end, struct tok *words,
		      size_t *ret_n, const char **ret_desc)
{
	size_t n = 0;
	*ret_desc = NULL;
	for (;;) {
		while (c < end && is_space(*c))
			c++;
		if (c >= end)
			break;
		if (*c == '"') {
			*ret_n = n;
			return parse_description(p, c, end, ret_desc);
		}
		const char *w = c;
		while (c < end && !is_space(*c))
			c++;
		const char *quote = memchr(w, '"', (size_t)(c - w));
		if (quote) {
			/* The word runs on to the description's closing quote. */
			return perr(p, "unexpected '\"' in \"%.*s\"", (int)(quote - w + 1), w);
		}
		if (n == MAX_WORDS)
			return perr(p, "too many words");
		words[n++] = (struct tok){ w, (size_t)(c - w) };
	}
	*ret_n = n;
	return 0;
}

static void add_fixup(struct parser *p, struct schema_ref *ref, const char *name, unsigned line)
{
	if (p->nfixups == p->afixups) {
		p->afixups = p->afixups ? p->afixups * 2 : 256;
		p->fixups = xrealloc(p->fixups, p->afixups * sizeof(*p->fixups));
	}
	p->fixups[p->nfixups++] = (struct fixup){ ref, name, line };
}

/*
 * Parse a type expression ("string", "[]Container", "map[quantity]") into
 * *ref. A named type is left unresolved: its name is returned in
 * *ret_struct_name when ref is the field's own reference (it moves when the
 * type ends), or recorded as a fixup when ref is an element in the arena.
 */
static int parse_type_expr(struct parser *p, struct tok t, struct schema_ref *ref, bool in_arena,
			   const char **ret_struct_name)
{
	struct tok inner;
	enum schema_kind coll = 0;

	if (tok_prefix(t, "[]", &inner))
		coll = SK_LIST;
	else if (tok_prefix(t, "map[", &inner) && inner.n > 0 && inner.p[inner.n - 1] == ']') {
		coll = SK_MAP;
		inner.n--;
	}
	if (coll) {
		if (!inner.n)
			return perr(p, "bad type \"%.*s\"", (int)t.n, t.p);
		ref->kind = coll;
		for (size_t i = 0; i < ARRAY_SIZE(scalar_names); i++)
			if (tok_eq(inner, scalar_names[i].name)) {
				ref->elem = &scalar_refs[scalar_names[i].kind];
				return 0;
			}
		struct schema_ref *elem = arena_alloc(&p->s->arena, sizeof(*elem));
		ref->elem = elem;
		return parse_type_expr(p, inner, elem, true, NULL);
	}

	for (size_t i = 0; i < ARRAY_SIZE(scalar_names); i++)
		if (tok_eq(t, scalar_names[i].name)) {
			ref->kind = scalar_names[i].kind;
			return 0;
		}
	if (!is_ident(t))
		return perr(p, "bad type \"%.*s\"", (int)t.n, t.p);
	ref->kind = SK_STRUCT;
	const char *name = arena_strndup(&p->s->arena, t.p, t.n);
	if (in_arena)
		add_fixup(p, ref, name, p->line);
	else
		*ret_struct_name = name;
	return 0;
}

/* Split "a,b,c" (or "A|B") into a NULL-terminated arena vector. */
static int split_values(struct parser *p, struct tok flag, struct tok v, char sep,
			const char *const **ret)
{
	size_t n = 1;
	for (size_t i = 0; i < v.n; i++)
		n += v.p[i] == sep;
	const char **vec = arena_alloc(&p->s->arena, (n + 1) * sizeof(*vec));
	const char *c = v.p, *end = v.p + v.n;
	for (size_t i = 0; i < n; i++) {
		const char *e = memchr(c, sep, (size_t)(end - c));
		if (!e)
			e = end;
		if (e == c)
			return perr(p, "empty value in \"%.*s\"", (int)flag.n, flag.p);
		vec[i] = arena_strndup(&p->s->arena, c, (size_t)(e - c));
		c = e + 1;
	}
	*ret = vec;
	return 0;
}

static int parse_flag(struct parser *p, struct tok w, struct schema_field *f)
{
	static const struct {
		const char *name;
		unsigned flag;
	} simple[] = {
		{ "opt", SF_OPTIONAL },	 { "req", SF_REQUIRED },
		{ "ro", SF_READONLY },	 { "retainkeys", SF_RETAIN_KEYS },
		{ "set", SF_LIST_SET },	 { "atomic", SF_LIST_ATOMIC },
		{ "inline", SF_INLINE }, { "merge", SF_MERGE },
	};
	struct tok v;

	for (size_t i = 0; i < ARRAY_SIZE(simple); i++)
		if (tok_eq(w, simple[i].name)) {
			f->flags |= simple[i].flag;
			return 0;
		}
	if (tok_prefix(w, "merge=", &v)) {
		if (!v.n)
			return perr(p, "empty value in \"merge=\"");
		f->merge_key = arena_strndup(&p->s->arena, v.p, v.n);
		return 0;
	}
	if (tok_prefix(w, "listmap=", &v)) {
		f->flags |= SF_LIST_MAP;
		return split_values(p, w, v, ',', &f->listmap);
	}
	if (tok_prefix(w, "enum=", &v))
		return split_values(p, w, v, '|', &f->enums);
	return perr(p, "unknown flag \"%.*s\"", (int)w.n, w.p);
}

static int parse_field(struct parser *p, const char *c, const char *end)
{
	struct tok w[MAX_WORDS];
	size_t n;
	const char *desc;
	int r;

	if (!p->cur)
		return perr(p, "field line outside a type");
	r = split_line(p, c, end, w, &n, &desc);
	if (r < 0)
		return r;
	if (n < 3)
		return perr(p, "a field needs a name, a type and a proto number");
	if (!desc)
		return perr(p, "field \"%.*s\" has no description", (int)w[0].n, w[0].p);
	if (p->nfields == MAX_FIELDS)
		return perr(p, "too many fields");
	if (p->nfields == p->afields) {
		p->afields = p->afields ? p->afields * 2 : 32;
		p->fields = xrealloc(p->fields, p->afields * sizeof(*p->fields));
	}
	struct pending_field *pf = &p->fields[p->nfields];
	*pf = (struct pending_field){ .line = p->line };
	struct schema_field *f = &pf->f;

	for (size_t i = 0; i < w[0].n; i++)
		if ((unsigned char)w[0].p[i] < 0x20)
			return perr(p, "bad field name");
	f->name = arena_strndup(&p->s->arena, w[0].p, w[0].n);
	f->description = desc;
	r = parse_type_expr(p, w[1], &f->ref, false, &pf->struct_name);
	if (r < 0)
		return r;

	if (tok_eq(w[2], "-")) {
		f->flags |= SF_NO_PROTO;
	} else {
		long v = 0;
		for (size_t i = 0; i < w[2].n; i++) {
			if (w[2].p[i] < '0' || w[2].p[i] > '9' || v > MAX_PROTO_NUMBER) {
				v = -1;
				break;
			}
			v = v * 10 + (w[2].p[i] - '0');
		}
		if (v < 1 || v > MAX_PROTO_NUMBER)
			return perr(p, "bad proto number \"%.*s\"", (int)w[2].n, w[2].p);
		f->proto = (int)v;
	}

	for (size_t i = 3; i < n; i++) {
		r = parse_flag(p, w[i], f);
		if (r < 0)
			return r;
	}
	if ((f->merge_key || (f->flags & (SF_LIST_MAP | SF_LIST_SET | SF_MERGE))) &&
	    f->ref.kind != SK_LIST)
		return perr(p, "merge=, listmap= and set apply to lists only");
	if ((f->flags & SF_INLINE) && (f->ref.kind != SK_STRUCT || !f->proto))
		return perr(p, "inline applies to a struct field with a proto number");
	p->nfields++;
	return 0;
}

static int cmp_field_name(const void *a, const void *b, void *arg)
{
	const struct pending_field *fs = arg;
	const struct pending_field *x = &fs[*(const uint16_t *)a], *y = &fs[*(const uint16_t *)b];
	int c = strcmp(x->f.name, y->f.name);
	return c ? c : (x->line > y->line) - (x->line < y->line);
}

static int cmp_field_proto(const void *a, const void *b, void *arg)
{
	const struct pending_field *fs = arg;
	const struct pending_field *x = &fs[*(const uint16_t *)a], *y = &fs[*(const uint16_t *)b];
	if (x->f.proto != y->f.proto)
		return (x->f.proto > y->f.proto) - (x->f.proto < y->f.proto);
	return (x->line > y->line) - (x->line < y->line);
}

/* Close the current type: copy its fields into the arena and build its indexes. */
static int finish_type(struct parser *p)
{
	struct type_impl *t = p->cur;
	struct pending_field *pf = p->fields;
	size_t n = p->nfields;
	const struct pending_field *dup_name = NULL, *dup_proto = NULL, *dup_proto_first = NULL;

	if (!t)
		return 0;
	p->cur = NULL;
	p->nfields = 0;

	uint16_t *by_name = arena_alloc(&p->s->arena, n * sizeof(*by_name));
	for (size_t i = 0; i < n; i++)
		by_name[i] = (uint16_t)i;
	qsort_r(by_name, n, sizeof(*by_name), cmp_field_name, pf);
	for (size_t i = 1; i < n; i++) {
		const struct pending_field *b = &pf[by_name[i]];
		if (streq(pf[by_name[i - 1]].f.name, b->f.name) &&
		    (!dup_name || b->line < dup_name->line))
			dup_name = b;
	}

	/* Proto numbers: dense table when the numbers are small. */
	size_t nproto = 0;
	int max_proto = 0;
	for (size_t i = 0; i < n; i++)
		if (pf[i].f.proto) {
			nproto++;
			max_proto = MAX(max_proto, pf[i].f.proto);
		}
	uint16_t *by_proto;
	if ((size_t)max_proto <= nproto + DENSE_SLACK) {
		t->dense = true;
		t->nproto = (size_t)max_proto + 1;
		by_proto = arena_alloc(&p->s->arena, t->nproto * sizeof(*by_proto));
		for (size_t i = 0; i < n; i++) {
			int num = pf[i].f.proto;
			if (!num)
				continue;
			if (by_proto[num]) {
				if (!dup_proto) {
					dup_proto = &pf[i];
					dup_proto_first = &pf[by_proto[num] - 1];
				}
				continue;
			}
			by_proto[num] = (uint16_t)(i + 1);
		}
	} else {
		t->nproto = nproto;
		by_proto = arena_alloc(&p->s->arena, nproto * sizeof(*by_proto));
		for (size_t i = 0, j = 0; i < n; i++)
			if (pf[i].f.proto)
				by_proto[j++] = (uint16_t)i;
		qsort_r(by_proto, nproto, sizeof(*by_proto), cmp_field_proto, pf);
		for (size_t i = 1; i < nproto; i++) {
			const struct pending_field *a = &pf[by_proto[i - 1]], *b = &pf[by_proto[i]];
			if (a->f.proto == b->f.proto && (!dup_proto || b->line < dup_proto->line)) {
				dup_proto = b;
				dup_proto_first = a;
			}
		}
	}

	if (dup_name && (!dup_proto || dup_name->line <= dup_proto->line))
		return perr_at(p, dup_name->line, "duplicate field \"%s\" in type \"%s\"",
			       dup_name->f.name, t->pub.name);
	if (dup_proto)
		return perr_at(p, dup_proto->line,
			       "duplicate proto number %d in type \"%s\" (\"%s\" and \"%s\")",
			       dup_proto->f.proto, t->pub.name, dup_proto_first->f.name,
			       dup_proto->f.name);

	struct schema_field *fields = arena_alloc(&p->s->arena, n * sizeof(*fields));
	for (size_t i = 0; i < n; i++) {
		fields[i] = pf[i].f;
		if (pf[i].struct_name)
			add_fixup(p, &fields[i].ref, pf[i].struct_name, pf[i].line);
	}
	t->pub.fields = fields;
	t->pub.nfields = n;
	t->by_name = by_name;
	t->by_proto = by_proto;
	return 0;
}

static int parse_package(struct parser *p, struct tok *w, size_t n, const char *desc)
{
	if (n != 2 || desc)
		return perr(p, "expected \"package <name>\"");
	for (size_t i = 0; i < w[1].n; i++) {
		char c = w[1].p[i];
		if (!(c == '.' || c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9')))
			return perr(p, "bad package name \"%.*s\"", (int)w[1].n, w[1].p);
	}
	const char *last = w[1].p + w[1].n;
	while (last > w[1].p && last[-1] != '.')
		last--;
	if (last == w[1].p + w[1].n)
		return perr(p, "bad package name \"%.*s\"", (int)w[1].n, w[1].p);
	p->pkg = arena_strndup(&p->s->arena, w[1].p, w[1].n);
	p->go_pkg = arena_strndup(&p->s->arena, last, (size_t)(w[1].p + w[1].n - last));
	return 0;
}

static int parse_type_line(struct parser *p, struct tok *w, size_t n, const char *desc)
{
	struct schema *s = p->s;
	struct tok openapi = { NULL, 0 }, go = { NULL, 0 }, v;

	if (n < 2)
		return perr(p, "expected \"type <Name> [openapi=...] [go=...] \"description\"\"");
	if (!desc)
		return perr(p, "type \"%.*s\" has no description", (int)w[1].n, w[1].p);
	if (!is_ident(w[1]))
		return perr(p, "bad type name \"%.*s\"", (int)w[1].n, w[1].p);
	for (size_t i = 0; i < ARRAY_SIZE(scalar_names); i++)
		if (tok_eq(w[1], scalar_names[i].name))
			return perr(p, "type name \"%s\" is reserved", scalar_names[i].name);
	for (size_t i = 2; i < n; i++) {
		if (tok_prefix(w[i], "openapi=", &v) && v.n)
			openapi = v;
		else if (tok_prefix(w[i], "go=", &v) && v.n)
			go = v;
		else
			return perr(p, "unknown type attribute \"%.*s\"", (int)w[i].n, w[i].p);
	}
	if (!p->pkg && (!openapi.p || !go.p))
		return perr(p, "type \"%.*s\" before any package line", (int)w[1].n, w[1].p);
	if (p->hash_size) {
		struct type_impl *old = *hash_slot(p, w[1].p, w[1].n);
		if (old)
			return perr(p, "duplicate type \"%s\" (first defined on line %u)",
				    old->pub.name, old->line);
	}

	struct type_impl *t = arena_alloc(&s->arena, sizeof(*t));
	t->line = p->line;
	t->pub.name = arena_strndup(&s->arena, w[1].p, w[1].n);
	t->pub.description = desc;
	if (openapi.p)
		t->pub.openapi_name = arena_strndup(&s->arena, openapi.p, openapi.n);
	else {
		size_t size = strlen(p->pkg) + 1 + w[1].n + 1;
		char *o = arena_alloc(&s->arena, size);
		snprintf(o, size, "%s.%.*s", p->pkg, (int)w[1].n, w[1].p);
		t->pub.openapi_name = o;
	}
	if (go.p)
		t->pub.go_name = arena_strndup(&s->arena, go.p, go.n);
	else {
		size_t size = strlen(p->go_pkg) + 1 + w[1].n + 1;
		char *g = arena_alloc(&s->arena, size);
		snprintf(g, size, "%s.%.*s", p->go_pkg, (int)w[1].n, w[1].p);
		t->pub.go_name = g;
	}
	t->pub.fields = NULL;

	if (s->ntypes == p->atypes) {
		p->atypes = p->atypes ? p->atypes * 2 : 64;
		s->types = xrealloc(s->types, p->atypes * sizeof(*s->types));
	}
	hash_add(p, t);
	s->types[s->ntypes++] = t;
	p->cur = t;
	return 0;
}

static int parse_line(struct parser *p, const char *c, const char *end)
{
	struct tok w[MAX_WORDS];
	size_t n;
	const char *desc;
	int r;

	while (end > c && (end[-1] == '\r' || is_space(end[-1])))
		end--;
	const char *first = c;
	while (first < end && is_space(*first))
		first++;
	if (first == end || *first == '#')
		return 0;
	if (first != c)
		return parse_field(p, first, end);

	r = finish_type(p);
	if (r < 0)
		return r;
	r = split_line(p, c, end, w, &n, &desc);
	if (r < 0)
		return r;
	if (n == 0)
		return perr(p, "a description without a type");
	if (tok_eq(w[0], "package"))
		return parse_package(p, w, n, desc);
	if (tok_eq(w[0], "type"))
		return parse_type_line(p, w, n, desc);
	return perr(p, "unknown directive \"%.*s\"", (int)w[0].n, w[0].p);
}

static int cmp_type_name(const void *a, const void *b)
{
	const struct type_impl *x = *(const struct type_impl *const *)a;
	const struct type_impl *y = *(const struct type_impl *const *)b;
	return strcmp(x->pub.name, y->pub.name);
}

static int resolve(struct parser *p)
{
	const struct fixup *bad = NULL;
	for (size_t i = 0; i < p->nfixups; i++) {
		struct fixup *fx = &p->fixups[i];
		struct type_impl *t = hash_find(p, fx->name);
		if (t)
			fx->ref->type = &t->pub;
		else if (!bad || fx->line < bad->line)
			bad = fx;
	}
	if (bad)
		return perr_at(p, bad->line, "undefined type \"%s\"", bad->name);
	return 0;
}

static int parse_text(const char *text, struct schema **ret, char **ret_err, unsigned *ret_line)
{
	struct schema *s = xnew(struct schema, 1);
	struct parser p = { .s = s };
	int r = 0;

	/* Size the first block so that typical input fits: strings are at most
	 * the text, and each line adds at most a few small structs. */
	size_t len = strlen(text), lines = 1;
	for (const char *c = text; (c = strchr(c, '\n')); c++)
		lines++;
	s->arena.next_size = len + lines * (sizeof(struct schema_field) + 48) + 4096;

	for (const char *c = text; *c && r >= 0;) {
		const char *nl = strchr(c, '\n');
		const char *end = nl ? nl : c + strlen(c);
		p.line++;
		r = parse_line(&p, c, end);
		c = nl ? nl + 1 : end;
	}
	if (r >= 0)
		r = finish_type(&p);
	if (r >= 0)
		r = resolve(&p);
	if (r >= 0) {
		s->sorted = xnew(struct type_impl *, s->ntypes);
		if (s->ntypes)
			memcpy(s->sorted, s->types, s->ntypes * sizeof(*s->sorted));
		qsort(s->sorted, s->ntypes, sizeof(*s->sorted), cmp_type_name);
	}
	free(p.fields);
	free(p.fixups);
	free(p.hash);
	if (r < 0) {
		schema_free(s);
		if (ret_err)
			*ret_err = TAKE_PTR(p.err);
		if (ret_line)
			*ret_line = p.err_line;
		free(p.err);
		return r;
	}
	*ret = s;
	return 0;
}

int schema_parse(const char *text, struct schema **ret, char **ret_err)
{
	return parse_text(text, ret, ret_err, NULL);
}

void schema_free(struct schema *s)
{
	if (!s)
		return;
	arena_release(&s->arena);
	free(s->types);
	free(s->sorted);
	free(s);
}

/* ---- built-in schema ---- */

extern const char c8s_embedded_types[];

static struct schema *builtin;
static pthread_once_t builtin_once = PTHREAD_ONCE_INIT;

static void builtin_init(void)
{
	_cleanup_free_ char *err = NULL;
	unsigned line = 0;
	int r = parse_text(c8s_embedded_types, &builtin, &err, &line);
	if (r >= 0)
		return;

	/* The line number counts over all files concatenated: quote the line. */
	const char *c = c8s_embedded_types;
	for (unsigned i = 1; i < line && c; i++) {
		c = strchr(c, '\n');
		if (c)
			c++;
	}
	int n = c ? (int)strcspn(c, "\n") : 0;
	log_emit('F', __FILE__, __LINE__,
		 "built-in API types (src/apiserver/types/*.def) do not parse: %s: \"%.*s\"",
		 err ? err : strerror(-r), n, c ? c : "");
	abort();
}

const struct schema *schema_builtin(void)
{
	pthread_once(&builtin_once, builtin_init);
	return builtin;
}

/* ---- lookups ---- */

const struct schema_type *schema_find_type(const struct schema *s, const char *name)
{
	if (!s || !name)
		return NULL;
	size_t lo = 0, hi = s->ntypes;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, s->sorted[mid]->pub.name);
		if (c == 0)
			return &s->sorted[mid]->pub;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const struct schema_field *schema_field_by_name(const struct schema_type *t, const char *name)
{
	if (!t || !name)
		return NULL;
	const uint16_t *idx = impl(t)->by_name;
	size_t lo = 0, hi = t->nfields;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct schema_field *f = &t->fields[idx[mid]];
		int c = strcmp(name, f->name);
		if (c == 0)
			return (f->flags & SF_INLINE) ? NULL : f; /* not a JSON field */
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const struct schema_field *schema_field_by_proto(const struct schema_type *t, int number)
{
	if (!t || number <= 0)
		return NULL;
	const struct type_impl *ti = impl(t);
	if (ti->dense) {
		if ((size_t)number >= ti->nproto || !ti->by_proto[number])
			return NULL;
		return &t->fields[ti->by_proto[number] - 1];
	}
	size_t lo = 0, hi = ti->nproto;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct schema_field *f = &t->fields[ti->by_proto[mid]];
		if (f->proto == number)
			return f;
		if (number < f->proto)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const struct schema_type *schema_type_at(const struct schema *s, size_t i)
{
	if (!s || i >= s->ntypes)
		return NULL;
	return &s->types[i]->pub;
}
