/* SPDX-License-Identifier: Apache-2.0 */
#include "apiserver/registry/common.h"
#include "lib/names.h"
#include "lib/selector.h"
#include "lib/strbuf.h"
#include "lib/timeutil.h"

void cell_str(json_t *cells, const char *s)
{
	json_array_append_new(cells, json_string(s ? s : ""));
}

void cell_int(json_t *cells, int64_t v)
{
	json_array_append_new(cells, json_integer(v));
}

void format_age(const char *ts, int64_t now_usec, char *buf)
{
	int64_t t;
	if (!ts || time_parse_rfc3339(ts, &t) < 0) {
		strcpy(buf, "<unknown>");
		return;
	}
	human_duration(now_usec - t, buf);
}

void cell_age(json_t *cells, json_t *obj, int64_t now_usec)
{
	char age[32];
	format_age(json_get_str(obj, "metadata.creationTimestamp"), now_usec, age);
	cell_str(cells, age);
}

char *format_labels(json_t *labels)
{
	struct strbuf sb = STRBUF_INIT;
	const char *k;
	json_t *v;
	json_object_foreach(labels, k, v)
	{
		if (sb.len)
			strbuf_addch(&sb, ',');
		strbuf_addf(&sb, "%s=%s", k, json_string_value(v) ? json_string_value(v) : "");
	}
	if (!sb.len)
		strbuf_addstr(&sb, "<none>");
	return strbuf_detach(&sb, NULL);
}

char *join_field(json_t *array, const char *key)
{
	struct strbuf sb = STRBUF_INIT;
	size_t i;
	json_t *x;
	json_array_foreach(array, i, x)
	{
		const char *s = key ? json_get_str(x, key) : json_string_value(x);
		if (!s)
			continue;
		if (sb.len)
			strbuf_addch(&sb, ',');
		strbuf_addstr(&sb, s);
	}
	strbuf_grow(&sb, 0);
	return strbuf_detach(&sb, NULL);
}

const char *str_or_empty(json_t *obj, const char *path)
{
	const char *s = json_get_str(obj, path);
	return s ? s : "";
}

void default_str(json_t *obj, const char *key, const char *v)
{
	json_t *cur = json_object_get(obj, key);
	if (!cur || (json_is_string(cur) && !json_string_length(cur)))
		json_set_str(obj, key, v);
}

void default_int(json_t *obj, const char *key, int64_t v)
{
	if (!json_object_get(obj, key))
		json_set_int(obj, key, v);
}

void default_bool(json_t *obj, const char *key, bool v)
{
	if (!json_object_get(obj, key))
		json_object_set_new(obj, key, json_boolean(v));
}

void validate_required_str(json_t *obj, const char *key, const char *path, struct field_errors *fe)
{
	if (isempty(json_string_value(json_object_get(obj, key)))) {
		_cleanup_free_ char *p = fe_path(path, key);
		fe_required(fe, p, NULL);
	}
}

void validate_enum(json_t *obj, const char *key, const char *path, const char *const *allowed,
		   struct field_errors *fe)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return;
	const char *s = json_string_value(v);
	for (const char *const *a = allowed; *a; a++)
		if (s && streq(s, *a))
			return;
	_cleanup_free_ char *p = fe_path(path, key);
	fe_not_supported(fe, p, v, allowed);
}

void validate_port_number(json_t *v, const char *path, struct field_errors *fe)
{
	json_int_t n = json_integer_value(v);
	if (!json_is_integer(v) || n < 1 || n > 65535)
		fe_invalid(fe, path, v, "must be between 1 and 65535, inclusive");
}

void validate_nonnegative(json_t *obj, const char *key, const char *path, struct field_errors *fe)
{
	json_t *v = json_object_get(obj, key);
	if (v && json_integer_value(v) < 0) {
		_cleanup_free_ char *p = fe_path(path, key);
		fe_invalid(fe, p, v, "must be greater than or equal to 0");
	}
}

void validate_label_selector(json_t *sel, const char *path, struct field_errors *fe)
{
	if (!sel)
		return;
	_cleanup_free_ char *ml = fe_path(path, "matchLabels");
	meta_validate_labels(json_object_get(sel, "matchLabels"), ml, fe);
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(sel, "matchExpressions"), i, e)
	{
		_cleanup_free_ char *base = fe_path(path, "matchExpressions");
		_cleanup_free_ char *ep = fe_index(base, i);
		const char *op = json_get_str(e, "operator");
		size_t nvals = json_array_size(json_object_get(e, "values"));
		_cleanup_free_ char *kp = fe_path(ep, "key");
		_cleanup_free_ char *km = validate_qualified_name(str_or_empty(e, "key"));
		if (km)
			fe_invalid(fe, kp, json_object_get(e, "key"), km);
		_cleanup_free_ char *vp = fe_path(ep, "values");
		_cleanup_free_ char *op_path = fe_path(ep, "operator");
		if (op && (streq(op, "In") || streq(op, "NotIn"))) {
			if (nvals == 0)
				fe_required(fe, vp, "must be specified when `operator` is 'In' or 'NotIn'");
		} else if (op && (streq(op, "Exists") || streq(op, "DoesNotExist"))) {
			if (nvals)
				fe_forbidden(fe, vp,
					     "may not be specified when `operator` is 'Exists' or 'DoesNotExist'");
		} else {
			fe_invalid(fe, op_path, json_object_get(e, "operator"),
				   "not a valid selector operator");
		}
	}
}

void validate_immutable(json_t *obj, json_t *old, const char *path, struct field_errors *fe)
{
	json_t *a = json_get(obj, path), *b = json_get(old, path);
	if ((a || b) && !(a && b && json_equal(a, b)))
		fe_invalid(fe, path, a, "field is immutable");
}
