/* SPDX-License-Identifier: Apache-2.0 */
#include <yaml.h>

#include "lib/macro.h"
#include "lib/yamljson.h"

#define MAX_DEPTH 128

struct anchor {
	char *name;
	json_t *value;
};

struct parser {
	yaml_parser_t p;
	struct anchor *anchors;
	size_t nanchors;
	char *err;
};

static bool match_int(const char *s, json_int_t *ret)
{
	char *end;
	if (!*s)
		return false;
	errno = 0;
	long long v;
	if (startswith(s, "0x"))
		v = strtoll(s + 2, &end, 16);
	else if (startswith(s, "0o"))
		v = strtoll(s + 2, &end, 8);
	else {
		const char *p = s + (*s == '-' || *s == '+');
		if (!*p)
			return false;
		for (; *p; p++)
			if (*p < '0' || *p > '9')
				return false;
		v = strtoll(s, &end, 10);
	}
	if (errno || *end)
		return false;
	*ret = v;
	return true;
}

static bool match_float(const char *s, double *ret)
{
	char *end;
	bool digit = false;
	for (const char *p = s; *p; p++) {
		if ((*p >= '0' && *p <= '9'))
			digit = true;
		else if (!strchr("+-.eE", *p))
			return false;
	}
	if (!digit)
		return false;
	errno = 0;
	*ret = strtod(s, &end);
	return !errno && !*end;
}

static json_t *scalar(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	json_int_t i;
	double d;

	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || ev->data.scalar.tag)
		return json_stringn(v, len);
	if (len == 0 || streq(v, "~") || streq(v, "null") || streq(v, "Null") || streq(v, "NULL"))
		return json_null();
	if (streq(v, "true") || streq(v, "True") || streq(v, "TRUE"))
		return json_true();
	if (streq(v, "false") || streq(v, "False") || streq(v, "FALSE"))
		return json_false();
	if (match_int(v, &i))
		return json_integer(i);
	if (match_float(v, &d))
		return json_real(d);
	return json_stringn(v, len);
}

static void remember(struct parser *ps, const yaml_char_t *anchor, json_t *v)
{
	if (!anchor)
		return;
	ps->anchors = xrealloc(ps->anchors, (ps->nanchors + 1) * sizeof(*ps->anchors));
	ps->anchors[ps->nanchors].name = xstrdup((const char *)anchor);
	ps->anchors[ps->nanchors].value = json_incref(v);
	ps->nanchors++;
}

static json_t *parse_node(struct parser *ps, yaml_event_t *ev, int depth);

static bool next(struct parser *ps, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&ps->p, ev)) {
		if (!ps->err)
			ps->err = xasprintf("line %zu: %s", ps->p.problem_mark.line + 1,
					    ps->p.problem ? ps->p.problem : "syntax error");
		return false;
	}
	return true;
}

static json_t *parse_node(struct parser *ps, yaml_event_t *ev, int depth)
{
	json_t *out = NULL;
	if (depth > MAX_DEPTH) {
		ps->err = xstrdup("document nested too deeply");
		return NULL;
	}
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		out = scalar(ev);
		remember(ps, ev->data.scalar.anchor, out);
		return out;
	case YAML_ALIAS_EVENT:
		for (size_t i = ps->nanchors; i-- > 0;)
			if (streq(ps->anchors[i].name, (const char *)ev->data.alias.anchor))
				return json_deep_copy(ps->anchors[i].value);
		ps->err = xasprintf("unknown anchor %s", ev->data.alias.anchor);
		return NULL;
	case YAML_SEQUENCE_START_EVENT: {
		yaml_char_t *anchor = ev->data.sequence_start.anchor
					      ? (yaml_char_t *)xstrdup((char *)ev->data.sequence_start.anchor)
					      : NULL;
		out = json_array();
		for (;;) {
			yaml_event_t e;
			if (!next(ps, &e))
				goto fail_seq;
			if (e.type == YAML_SEQUENCE_END_EVENT) {
				yaml_event_delete(&e);
				break;
			}
			json_t *item = parse_node(ps, &e, depth + 1);
			yaml_event_delete(&e);
			if (!item)
				goto fail_seq;
			json_array_append_new(out, item);
		}
		remember(ps, anchor, out);
		free(anchor);
		return out;
	fail_seq:
		free(anchor);
		json_decref(out);
		return NULL;
	}
	case YAML_MAPPING_START_EVENT: {
		yaml_char_t *anchor = ev->data.mapping_start.anchor
					      ? (yaml_char_t *)xstrdup((char *)ev->data.mapping_start.anchor)
					      : NULL;
		out = json_object();
		for (;;) {
			yaml_event_t ke, ve;
			if (!next(ps, &ke))
				goto fail_map;
			if (ke.type == YAML_MAPPING_END_EVENT) {
				yaml_event_delete(&ke);
				break;
			}
			if (ke.type != YAML_SCALAR_EVENT) {
				yaml_event_delete(&ke);
				ps->err = xstrdup("only scalar mapping keys are supported");
				goto fail_map;
			}
			_cleanup_free_ char *key = xstrndup((const char *)ke.data.scalar.value,
							    ke.data.scalar.length);
			yaml_event_delete(&ke);
			if (!next(ps, &ve))
				goto fail_map;
			json_t *val = parse_node(ps, &ve, depth + 1);
			yaml_event_delete(&ve);
			if (!val)
				goto fail_map;
			if (streq(key, "<<") && json_is_object(val)) {
				/* Merge key: copy in what is not set yet. */
				json_object_update_missing(out, val);
				json_decref(val);
			} else {
				json_object_set_new(out, key, val);
			}
		}
		remember(ps, anchor, out);
		free(anchor);
		return out;
	fail_map:
		free(anchor);
		json_decref(out);
		return NULL;
	}
	default:
		ps->err = xstrdup("unexpected YAML event");
		return NULL;
	}
}

int yaml_to_json(const char *text, size_t len, json_t **ret, char **ret_err)
{
	struct parser ps = { 0 };
	yaml_event_t ev;
	json_t *out = NULL;

	yaml_parser_initialize(&ps.p);
	yaml_parser_set_input_string(&ps.p, (const unsigned char *)text, len);
	while (!out && !ps.err) {
		if (!next(&ps, &ev))
			break;
		switch (ev.type) {
		case YAML_STREAM_START_EVENT:
		case YAML_DOCUMENT_START_EVENT:
			break;
		case YAML_STREAM_END_EVENT:
			out = json_null();
			break;
		default:
			out = parse_node(&ps, &ev, 0);
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&ps.p);
	for (size_t i = 0; i < ps.nanchors; i++) {
		free(ps.anchors[i].name);
		json_decref(ps.anchors[i].value);
	}
	free(ps.anchors);
	if (!out) {
		if (ret_err)
			*ret_err = ps.err ? ps.err : xstrdup("invalid YAML");
		else
			free(ps.err);
		return -EINVAL;
	}
	free(ps.err);
	*ret = out;
	return 0;
}
