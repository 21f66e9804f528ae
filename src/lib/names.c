/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Name syntax checks. Every rule is a hand-written matcher rather than a
 * regex: these run for every object written through the API server.
 * Each validator collects all the rules a string breaks and joins them with
 * "; ", the way the API server reports several causes for one field.
 */
#include <inttypes.h>

#include "lib/names.h"
#include "lib/strbuf.h"

#define DNS1123_LABEL_MAX     63
#define DNS1123_SUBDOMAIN_MAX 253
#define DNS1035_LABEL_MAX     63
#define QUALIFIED_NAME_MAX    63
#define LABEL_VALUE_MAX	      63
#define PORT_NAME_MAX	      15
#define CONFIG_MAP_KEY_MAX    253
#define ANNOTATIONS_SIZE_MAX  (256 * 1024)

#define RE_DNS1123_LABEL     "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
#define RE_DNS1123_SUBDOMAIN RE_DNS1123_LABEL "(\\." RE_DNS1123_LABEL ")*"
#define RE_DNS1035_LABEL     "[a-z]([-a-z0-9]*[a-z0-9])?"
#define RE_QUALIFIED_NAME    "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
#define RE_LABEL_VALUE	     "(" RE_QUALIFIED_NAME ")?"
#define RE_ENV_VAR_NAME	     "[-._a-zA-Z][-._a-zA-Z0-9]*"
#define RE_CONFIG_MAP_KEY    "[-._a-zA-Z0-9]+"

static const char msg_dns1123_label[] =
    "a lowercase RFC 1123 label may contain only lower-case letters, digits and '-', "
    "and must begin and end with a letter or digit (e.g. 'my-name' or '123-abc'; "
    "regex '" RE_DNS1123_LABEL "')";
static const char msg_dns1123_subdomain[] =
    "a lowercase RFC 1123 subdomain may contain only lower-case letters, digits, '-' and "
    "'.', and each dot-separated part must begin and end with a letter or digit "
    "(e.g. 'example.com'; regex '" RE_DNS1123_SUBDOMAIN "')";
static const char msg_dns1035_label[] =
    "a DNS-1035 label may contain only lower-case letters, digits and '-', must begin "
    "with a letter and end with a letter or digit (e.g. 'my-name' or 'abc-123'; "
    "regex '" RE_DNS1035_LABEL "')";
static const char msg_qualified_name[] =
    "may contain only letters, digits, '-', '_' and '.', and must begin and end with a "
    "letter or digit (e.g. 'MyName', 'my.name' or '123-abc'; regex '" RE_QUALIFIED_NAME "')";
static const char msg_label_value[] =
    "a label value must be empty or contain only letters, digits, '-', '_' and '.', "
    "beginning and ending with a letter or digit (e.g. 'MyValue', 'my_value' or '12345'; "
    "regex '" RE_LABEL_VALUE "')";
static const char msg_env_var_name[] =
    "an environment variable name may contain only letters, digits, '_', '-' and '.', and "
    "must not begin with a digit (e.g. 'my.env-name', 'MY_ENV.NAME' or 'MyEnvName1'; "
    "regex '" RE_ENV_VAR_NAME "')";
static const char msg_config_map_key[] =
    "a config key may contain only letters, digits, '-', '_' and '.' (e.g. 'key.name', "
    "'KEY_NAME' or 'key-name'; regex '" RE_CONFIG_MAP_KEY "')";

/* Accumulates rule violations; NULL result when there were none. */
struct errs {
	struct strbuf sb;
};

static void errs_add(struct errs *e, const char *prefix, const char *msg)
{
	if (e->sb.len)
		strbuf_addstr(&e->sb, "; ");
	if (prefix)
		strbuf_addstr(&e->sb, prefix);
	strbuf_addstr(&e->sb, msg);
}

static void errs_add_max_len(struct errs *e, const char *prefix, size_t max)
{
	char buf[64];
	snprintf(buf, sizeof(buf), "must be no more than %zu characters", max);
	errs_add(e, prefix, buf);
}

static char *errs_finish(struct errs *e)
{
	if (!e->sb.len)
		return NULL;
	return strbuf_detach(&e->sb, NULL);
}

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alnum(char c)
{
	return is_alpha(c) || is_digit(c);
}

/* [a-z0-9]([-a-z0-9]*[a-z0-9])? over s[0..n); with first_letter, [a-z] first. */
static bool match_dns_label(const char *s, size_t n, bool first_letter)
{
	if (n == 0)
		return false;
	if (first_letter ? !(s[0] >= 'a' && s[0] <= 'z') : !is_lower_alnum(s[0]))
		return false;
	if (!is_lower_alnum(s[n - 1]))
		return false;
	for (size_t i = 1; i + 1 < n; i++)
		if (!is_lower_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

/* Dot-separated RFC 1123 labels (no per-label length limit, as upstream). */
static bool match_dns_subdomain(const char *s, size_t n)
{
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '.') {
			if (!match_dns_label(s + start, i - start, false))
				return false;
			start = i + 1;
		}
	}
	return true;
}

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9] */
static bool match_qualified_part(const char *s, size_t n)
{
	if (n == 0 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return false;
	for (size_t i = 1; i + 1 < n; i++)
		if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

static bool is_key_char(char c)
{
	return is_alnum(c) || c == '-' || c == '_' || c == '.';
}

char *validate_dns1123_label(const char *s)
{
	struct errs e = { STRBUF_INIT };
	size_t n = s ? strlen(s) : 0;

	if (!s)
		s = "";
	if (n > DNS1123_LABEL_MAX)
		errs_add_max_len(&e, NULL, DNS1123_LABEL_MAX);
	if (!match_dns_label(s, n, false)) {
		if (match_dns_subdomain(s, n))
			errs_add(&e, NULL, "must not contain dots");
		else
			errs_add(&e, NULL, msg_dns1123_label);
	}
	return errs_finish(&e);
}

static void check_subdomain(struct errs *e, const char *prefix, const char *s, size_t n)
{
	if (n > DNS1123_SUBDOMAIN_MAX)
		errs_add_max_len(e, prefix, DNS1123_SUBDOMAIN_MAX);
	if (!match_dns_subdomain(s, n))
		errs_add(e, prefix ? "prefix part: " : NULL, msg_dns1123_subdomain);
}

char *validate_dns1123_subdomain(const char *s)
{
	struct errs e = { STRBUF_INIT };

	if (!s)
		s = "";
	check_subdomain(&e, NULL, s, strlen(s));
	return errs_finish(&e);
}

char *validate_dns1035_label(const char *s)
{
	struct errs e = { STRBUF_INIT };
	size_t n = s ? strlen(s) : 0;

	if (!s)
		s = "";
	if (n > DNS1035_LABEL_MAX)
		errs_add_max_len(&e, NULL, DNS1035_LABEL_MAX);
	if (!match_dns_label(s, n, true))
		errs_add(&e, NULL, msg_dns1035_label);
	return errs_finish(&e);
}

char *validate_qualified_name(const char *s)
{
	struct errs e = { STRBUF_INIT };
	const char *name;

	if (!s)
		s = "";
	const char *slash = strchr(s, '/');
	if (slash && strchr(slash + 1, '/')) {
		errs_add(&e, "a qualified name ", msg_qualified_name);
		errs_add(&e, NULL,
			 "it may carry one optional DNS subdomain prefix followed by '/' "
			 "(e.g. 'example.com/MyName')");
		return errs_finish(&e);
	}
	if (slash) {
		size_t plen = (size_t)(slash - s);
		if (plen == 0)
			errs_add(&e, NULL, "prefix part must be non-empty");
		else
			check_subdomain(&e, "prefix part ", s, plen);
		name = slash + 1;
	} else {
		name = s;
	}

	size_t n = strlen(name);
	if (n == 0) {
		errs_add(&e, NULL, "name part must be non-empty");
	} else {
		if (n > QUALIFIED_NAME_MAX)
			errs_add_max_len(&e, "name part ", QUALIFIED_NAME_MAX);
		if (!match_qualified_part(name, n))
			errs_add(&e, "name part ", msg_qualified_name);
	}
	return errs_finish(&e);
}

char *validate_label_value(const char *s)
{
	struct errs e = { STRBUF_INIT };
	size_t n = s ? strlen(s) : 0;

	if (n > LABEL_VALUE_MAX)
		errs_add_max_len(&e, NULL, LABEL_VALUE_MAX);
	if (n > 0 && !match_qualified_part(s, n))
		errs_add(&e, NULL, msg_label_value);
	return errs_finish(&e);
}

/* The rules upstream applies to names that may become file names. */
static void check_dot_names(struct errs *e, const char *s)
{
	if (streq(s, "."))
		errs_add(e, NULL, "must not be '.'");
	else if (streq(s, ".."))
		errs_add(e, NULL, "must not be '..'");
	else if (startswith(s, ".."))
		errs_add(e, NULL, "must not start with '..'");
}

char *validate_env_var_name(const char *s)
{
	struct errs e = { STRBUF_INIT };
	bool ok;

	if (!s)
		s = "";
	ok = *s && !is_digit(*s);
	for (const char *p = s; ok && *p; p++)
		ok = is_key_char(*p);
	if (!ok)
		errs_add(&e, NULL, msg_env_var_name);
	check_dot_names(&e, s);
	return errs_finish(&e);
}

char *validate_port_name(const char *s)
{
	struct errs e = { STRBUF_INIT };
	bool charset = true, letter = false;

	if (!s)
		s = "";
	size_t n = strlen(s);
	if (n > PORT_NAME_MAX)
		errs_add_max_len(&e, NULL, PORT_NAME_MAX);
	for (size_t i = 0; i < n; i++) {
		if (s[i] >= 'a' && s[i] <= 'z')
			letter = true;
		else if (!is_digit(s[i]) && s[i] != '-')
			charset = false;
	}
	if (n == 0 || !charset)
		errs_add(&e, NULL,
			 "must contain only lower-case letters (a-z), digits (0-9) and '-'");
	if (!letter)
		errs_add(&e, NULL, "must contain at least one letter (a-z)");
	if (strstr(s, "--"))
		errs_add(&e, NULL, "must not contain two hyphens in a row");
	if (n > 0 && (s[0] == '-' || s[n - 1] == '-'))
		errs_add(&e, NULL, "must not begin or end with '-'");
	return errs_finish(&e);
}

char *validate_config_map_key(const char *s)
{
	struct errs e = { STRBUF_INIT };
	bool ok;

	if (!s)
		s = "";
	size_t n = strlen(s);
	if (n > CONFIG_MAP_KEY_MAX)
		errs_add_max_len(&e, NULL, CONFIG_MAP_KEY_MAX);
	ok = n > 0;
	for (size_t i = 0; ok && i < n; i++)
		ok = is_key_char(s[i]);
	if (!ok)
		errs_add(&e, NULL, msg_config_map_key);
	check_dot_names(&e, s);
	return errs_finish(&e);
}

char *validate_annotations_size(json_t *annotations)
{
	const char *key;
	size_t key_len;
	json_t *v;
	uint64_t total = 0;

	if (!json_is_object(annotations))
		return NULL;
	json_object_keylen_foreach(annotations, key, key_len, v)
	{
		total += key_len;
		if (json_is_string(v))
			total += json_string_length(v);
	}
	if (total <= ANNOTATIONS_SIZE_MAX)
		return NULL;
	return xasprintf("annotations total %" PRIu64 " bytes; the sum of key and value "
			 "lengths must be no more than %d bytes",
			 total, ANNOTATIONS_SIZE_MAX);
}
