/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>

#include "apiserver/registry/common.h"
#include "lib/names.h"
#include "lib/quantity.h"
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

void format_since(int64_t usec, char *buf)
{
	if (usec <= -2000000) /* 2 s */
		strcpy(buf, "<invalid>");
	else
		human_duration(usec, buf);
}

void format_age(const char *ts, int64_t now_usec, char *buf)
{
	int64_t t;
	if (!ts || time_parse_rfc3339(ts, &t) < 0) {
		strcpy(buf, "<unknown>");
		return;
	}
	format_since(now_usec - t, buf);
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

void default_int_zero(json_t *obj, const char *key, int64_t v)
{
	json_t *cur = json_object_get(obj, key);
	if (!cur || (json_is_integer(cur) && json_integer_value(cur) == 0))
		json_set_int(obj, key, v);
}

bool field_is_set(json_t *obj, const char *key)
{
	return !json_is_empty_value(json_object_get(obj, key));
}

/* ---- generic field checks ---- */

void field_errors_move(struct field_errors *dst, struct field_errors *src)
{
	if (dst->n + src->n > dst->alloc) {
		dst->alloc = dst->n + src->n + 4;
		dst->v = xrealloc(dst->v, dst->alloc * sizeof(*dst->v));
	}
	for (size_t i = 0; i < src->n; i++)
		dst->v[dst->n++] = src->v[i];
	free(src->v);
	*src = (struct field_errors){ 0 };
}

void validate_required_str(json_t *obj, const char *key, const char *path, struct field_errors *fe)
{
	if (isempty(json_string_value(json_object_get(obj, key)))) {
		_cleanup_free_ char *p = fe_path(path, key);
		fe_required(fe, p, NULL);
	}
}

static bool in_list(const char *s, const char *const *allowed)
{
	for (const char *const *a = allowed; s && *a; a++)
		if (streq(s, *a))
			return true;
	return false;
}

void validate_enum(json_t *obj, const char *key, const char *path, const char *const *allowed,
		   struct field_errors *fe)
{
	json_t *v = json_object_get(obj, key);
	if (!v || in_list(json_string_value(v), allowed))
		return;
	_cleanup_free_ char *p = fe_path(path, key);
	fe_not_supported(fe, p, v, allowed);
}

void validate_enum_required(json_t *obj, const char *key, const char *path,
			    const char *const *allowed, struct field_errors *fe)
{
	json_t *v = json_object_get(obj, key);
	if (!v || (json_is_string(v) && !json_string_length(v))) {
		_cleanup_free_ char *p = fe_path(path, key);
		fe_required(fe, p, NULL);
		return;
	}
	validate_enum(obj, key, path, allowed, fe);
}

void validate_port_number(json_t *v, const char *path, struct field_errors *fe)
{
	json_int_t n = json_integer_value(v);
	if (!json_is_integer(v) || n < 1 || n > 65535)
		fe_invalid(fe, path, v, "must be between 1 and 65535, inclusive");
}

void validate_port_num_or_name(json_t *v, const char *path, struct field_errors *fe)
{
	if (json_is_string(v)) {
		_cleanup_free_ char *m = validate_port_name(json_string_value(v));
		if (m)
			fe_invalid(fe, path, v, m);
		return;
	}
	if (!v) {
		_cleanup_json_ json_t *zero = json_integer(0);
		validate_port_number(zero, path, fe);
		return;
	}
	validate_port_number(v, path, fe);
}

void validate_nonnegative(json_t *obj, const char *key, const char *path, struct field_errors *fe)
{
	json_t *v = json_object_get(obj, key);
	if (v && json_integer_value(v) < 0) {
		_cleanup_free_ char *p = fe_path(path, key);
		fe_invalid(fe, p, v, "must be greater than or equal to 0");
	}
}

bool validate_name_rule(char *(*rule)(const char *), const char *value, const char *path,
			struct field_errors *fe)
{
	_cleanup_free_ char *m = rule(value ? value : "");
	if (!m)
		return true;
	fe_invalid_str(fe, path, value ? value : "", m);
	return false;
}

bool validate_dns_label_at(const char *value, const char *path, struct field_errors *fe)
{
	return validate_name_rule(validate_dns1123_label, value, path, fe);
}

bool validate_dns_subdomain_at(const char *value, const char *path, struct field_errors *fe)
{
	return validate_name_rule(validate_dns1123_subdomain, value, path, fe);
}

bool validate_qualified_name_at(const char *value, const char *path, struct field_errors *fe)
{
	return validate_name_rule(validate_qualified_name, value, path, fe);
}

void validate_labels_at(json_t *labels, const char *path, struct field_errors *fe)
{
	const char *k;
	json_t *v;
	json_object_foreach(labels, k, v)
	{
		validate_qualified_name_at(k, path, fe);
		if (!json_is_string(v)) {
			fe_invalid(fe, path, v, "must be a string");
			continue;
		}
		_cleanup_free_ char *m = validate_label_value(json_string_value(v));
		if (m)
			fe_invalid(fe, path, v, m);
	}
}

void validate_annotations_at(json_t *annotations, const char *path, struct field_errors *fe)
{
	const char *k;
	json_t *v;
	json_object_foreach(annotations, k, v)
	{
		_cleanup_free_ char *lower = xstrdup(k);
		for (char *p = lower; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		_cleanup_free_ char *m = validate_qualified_name(lower);
		if (m)
			fe_invalid_str(fe, path, k, m);
	}
	_cleanup_free_ char *sm = validate_annotations_size(annotations);
	if (sm)
		fe_too_long(fe, path, 256 * 1024);
}

static bool is_sub_label(const char *s, size_t n)
{
	size_t i = 0;
	if (n && s[0] == '_')
		i++;
	if (i >= n)
		return false;
	for (size_t j = i; j < n; j++) {
		char c = s[j];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		bool edge = j == i || j == n - 1;
		if (!alnum && (edge || (c != '-' && c != '_')))
			return false;
	}
	return true;
}

char *validate_dns1123_subdomain_underscore(const char *s)
{
	size_t n = strlen(s);
	if (n > 253)
		return xstrdup("must be no more than 253 characters");
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.')
			continue;
		if (!is_sub_label(s + start, i - start))
			return xstrdup("a lowercase RFC 1123 subdomain may contain only lower-case "
				       "letters, digits, '_', '-' and '.', and each dot-separated "
				       "part must begin and end with a letter or digit, optionally "
				       "after one leading '_' (e.g. 'example.com' or "
				       "'_sip._tcp.example.com')");
		start = i + 1;
	}
	return NULL;
}

void validate_label_selector(json_t *sel, const char *path, struct field_errors *fe)
{
	if (!json_is_object(sel))
		return;
	FE_PATHF(ml, "%s.matchLabels", path);
	validate_labels_at(json_object_get(sel, "matchLabels"), ml, fe);
	size_t i, k;
	json_t *e, *v;
	json_array_foreach(json_object_get(sel, "matchExpressions"), i, e)
	{
		FE_PATHF(ep, "%s.matchExpressions[%zu]", path, i);
		FE_PATHF(vp, "%s.values", ep);
		FE_PATHF(op_path, "%s.operator", ep);
		FE_PATHF(kp, "%s.key", ep);
		const char *op = str_or_empty(e, "operator");
		json_t *values = json_object_get(e, "values");
		size_t nvals = json_array_size(values);
		if (streq(op, "In") || streq(op, "NotIn")) {
			if (nvals == 0)
				fe_required(fe, vp,
					    "must be specified when `operator` is 'In' or 'NotIn'");
		} else if (streq(op, "Exists") || streq(op, "DoesNotExist")) {
			if (nvals)
				fe_forbidden(fe, vp,
					     "may not be specified when `operator` is 'Exists' or "
					     "'DoesNotExist'");
		} else {
			_cleanup_json_ json_t *opv = json_string(op);
			fe_invalid(fe, op_path, opv, "not a valid selector operator");
		}
		validate_qualified_name_at(str_or_empty(e, "key"), kp, fe);
		json_array_foreach(values, k, v)
		{
			_cleanup_free_ char *m = validate_label_value(json_string_value(v));
			if (m) {
				FE_PATHF(p, "%s[%zu]", vp, k);
				fe_invalid(fe, p, v, m);
			}
		}
	}
}

void validate_immutable_value(json_t *a, json_t *b, const char *path, struct field_errors *fe)
{
	if (json_is_null(a))
		a = NULL;
	if (json_is_null(b))
		b = NULL;
	if ((a || b) && !(a && b && json_equal(a, b)))
		fe_invalid(fe, path, a, "field is immutable");
}

void validate_immutable(json_t *obj, json_t *old, const char *path, struct field_errors *fe)
{
	validate_immutable_value(json_get(obj, path), json_get(old, path), path, fe);
}

/* ---- IP addresses and CIDRs ---- */

/* IPv4 in dotted decimal, tolerating leading zeros (and saying so). */
static bool parse_ipv4(const char *s, size_t n, unsigned char out[4], bool *leading_zero)
{
	size_t i = 0;
	for (int part = 0; part < 4; part++) {
		if (part) {
			if (i >= n || s[i] != '.')
				return false;
			i++;
		}
		size_t start = i;
		unsigned v = 0;
		while (i < n && s[i] >= '0' && s[i] <= '9') {
			v = v * 10 + (unsigned)(s[i] - '0');
			if (v > 255)
				return false;
			i++;
		}
		if (i == start)
			return false;
		if (i - start > 1 && s[start] == '0')
			*leading_zero = true;
		out[part] = (unsigned char)v;
	}
	return i == n;
}

/* 4 or 6 with the address in out (IPv4 in the first 4 bytes), or 0. */
static int ip_parse(const char *s, size_t n, unsigned char out[16], bool *leading_zero)
{
	*leading_zero = false;
	if (!s || n == 0 || n >= 64)
		return 0;
	char buf[64];
	memcpy(buf, s, n);
	buf[n] = 0;
	if (memchr(buf, ':', n))
		return inet_pton(AF_INET6, buf, out) == 1 ? 6 : 0;
	return parse_ipv4(buf, n, out, leading_zero) ? 4 : 0;
}

static bool ipv6_is_v4_mapped(const unsigned char a[16])
{
	static const unsigned char prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	return memcmp(a, prefix, 12) == 0;
}

int ip_family(const char *s)
{
	unsigned char a[16];
	bool lz;
	return s ? ip_parse(s, strlen(s), a, &lz) : 0;
}

/* The IP and CIDR fields of the served kinds are all "legacy" ones to
 * Kubernetes: without the StrictIPCIDRValidation gate (off by default) it
 * accepts leading zeros, IPv4-mapped and non-canonical forms there, and so
 * do we. */
void validate_ip(const char *s, const char *path, struct field_errors *fe)
{
	if (!ip_family(s))
		fe_invalid_str(fe, path, s,
			       "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)");
}

void validate_cidr(const char *s, const char *path, struct field_errors *fe)
{
	const char *slash = s ? strchr(s, '/') : NULL;
	unsigned char a[16];
	bool lz = false;
	int fam = slash ? ip_parse(s, (size_t)(slash - s), a, &lz) : 0;
	const char *bits = slash ? slash + 1 : "";
	size_t nb = strlen(bits);
	unsigned len = 0;
	bool ok = fam && nb > 0 && nb <= 3;
	for (size_t i = 0; ok && i < nb; i++) {
		ok = bits[i] >= '0' && bits[i] <= '9';
		len = len * 10 + (unsigned)(bits[i] - '0');
	}
	if (!ok || len > (fam == 4 ? 32u : 128u))
		fe_invalid_str(fe, path, s,
			       "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)");
}

void validate_non_special_ip(const char *s, const char *path, struct field_errors *fe)
{
	unsigned char a[16];
	bool lz;
	int fam = s ? ip_parse(s, strlen(s), a, &lz) : 0;
	if (!fam) {
		fe_invalid_str(fe, path, s, "must be a valid IP address");
		return;
	}
	if (fam == 6 && ipv6_is_v4_mapped(a)) {
		memmove(a, a + 12, 4);
		fam = 4;
	}
	static const unsigned char zero[16];
	static const unsigned char loop6[16] = { [15] = 1 };
	if (memcmp(a, zero, fam == 4 ? 4 : 16) == 0) {
		_cleanup_free_ char *m = xasprintf("may not be unspecified (%s)", s);
		fe_invalid_str(fe, path, s, m);
	}
	if ((fam == 4 && a[0] == 127) || (fam == 6 && memcmp(a, loop6, 16) == 0))
		fe_invalid_str(fe, path, s,
			       "may not be in the loopback range (127.0.0.0/8, ::1/128)");
	if ((fam == 4 && a[0] == 169 && a[1] == 254) ||
	    (fam == 6 && a[0] == 0xfe && (a[1] & 0xc0) == 0x80))
		fe_invalid_str(fe, path, s,
			       "may not be in the link-local range (169.254.0.0/16, fe80::/10)");
	if ((fam == 4 && a[0] == 224 && a[1] == 0 && a[2] == 0) ||
	    (fam == 6 && a[0] == 0xff && (a[1] & 0x0f) == 0x02))
		fe_invalid_str(
		    fe, path, s,
		    "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)");
}

bool ips_are_dual_stack(json_t *list, bool cidrs)
{
	bool v4 = false, v6 = false;
	size_t i;
	json_t *x;
	json_array_foreach(list, i, x)
	{
		const char *s = json_string_value(x);
		if (!s)
			continue;
		unsigned char a[16];
		bool lz;
		const char *slash = cidrs ? strchr(s, '/') : NULL;
		int fam = ip_parse(s, slash ? (size_t)(slash - s) : strlen(s), a, &lz);
		v4 = v4 || fam == 4;
		v6 = v6 || fam == 6;
	}
	return v4 && v6;
}

/* ---- quantities and resource names ---- */

int quantity_cmp(const char *a, const char *b, int *ret)
{
	int64_t x, y;
	if (!a || !b || !quantity_valid(a) || !quantity_valid(b))
		return -EINVAL;
	if (quantity_parse_milli(a, &x) < 0 || quantity_parse_milli(b, &y) < 0) {
		/* Too large for thousandths: whole units are precise enough. */
		if (quantity_parse(a, &x) < 0 || quantity_parse(b, &y) < 0)
			return -EINVAL;
	}
	*ret = x < y ? -1 : x > y;
	return 0;
}

bool quantity_negative(const char *q)
{
	int c;
	return quantity_cmp(q, "0", &c) == 0 && c < 0;
}

bool resource_is_hugepages(const char *name)
{
	return startswith(name, "hugepages-");
}

bool resource_is_native(const char *name)
{
	return !strchr(name, '/') || strstr(name, "kubernetes.io/");
}

bool resource_is_extended(const char *name)
{
	if (resource_is_native(name) || startswith(name, "requests."))
		return false;
	_cleanup_free_ char *req = xasprintf("requests.%s", name);
	_cleanup_free_ char *m = validate_qualified_name(req);
	return !m;
}

bool resource_overcommit_allowed(const char *name)
{
	return resource_is_native(name) && !resource_is_hugepages(name);
}

static bool resource_is_integer(const char *name)
{
	static const char *const counted[] = { "pods",
					       "services",
					       "replicationcontrollers",
					       "resourcequotas",
					       "secrets",
					       "configmaps",
					       "persistentvolumeclaims",
					       "services.nodeports",
					       "services.loadbalancers",
					       NULL };
	return in_list(name, counted) || resource_is_extended(name);
}

static bool resource_is_standard(const char *name)
{
	static const char *const standard[] = {
		"cpu",
		"memory",
		"ephemeral-storage",
		"requests.cpu",
		"requests.memory",
		"requests.ephemeral-storage",
		"limits.cpu",
		"limits.memory",
		"limits.ephemeral-storage",
		"pods",
		"services",
		"replicationcontrollers",
		"resourcequotas",
		"secrets",
		"configmaps",
		"persistentvolumeclaims",
		"storage",
		"requests.storage",
		"services.nodeports",
		"services.loadbalancers",
		NULL,
	};
	return in_list(name, standard) || startswith(name, "hugepages-") ||
	       startswith(name, "requests.hugepages-");
}

bool validate_resource_name(const char *name, const char *path, struct field_errors *fe)
{
	if (!validate_qualified_name_at(name, path, fe))
		return false;
	if (!strchr(name, '/') && !resource_is_standard(name)) {
		fe_invalid_str(fe, path, name,
			       "must be a standard resource type or fully qualified");
		return false;
	}
	return true;
}

void validate_resource_quantity(const char *resource, json_t *q, const char *path,
				struct field_errors *fe)
{
	const char *s = json_string_value(q);
	if (!s || !quantity_valid(s)) {
		fe_invalid(fe, path, q, "must be a valid quantity");
		return;
	}
	if (quantity_negative(s))
		fe_invalid(fe, path, q, "must be greater than or equal to 0");
	int64_t m;
	if (resource_is_integer(resource) && quantity_parse_milli(s, &m) == 0 && m % 1000 != 0)
		fe_invalid(fe, path, q, "must be an integer");
}
