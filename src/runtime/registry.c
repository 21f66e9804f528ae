/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <curl/curl.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

#include "lib/base64.h"
#include "lib/json.h"
#include "lib/macro.h"
#include "lib/strbuf.h"
#include "runtime/registry.h"

#define MANIFEST_MAX   (4 << 20) /* as containerd */
#define SMALL_BODY_MAX (1 << 20)
#define USER_AGENT     "c8s"
#define ACCEPT_MANIFESTS \
	"Accept: " MT_OCI_MANIFEST ", " MT_OCI_INDEX ", " MT_DOCKER_MANIFEST ", " MT_DOCKER_LIST

static atomic_uint_fast64_t requests_total;

uint64_t registry_requests_total(void)
{
	return atomic_load(&requests_total);
}

/* ---- references (the grammar of github.com/distribution/reference) ---- */

static bool lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)* */
static bool valid_path_component(const char *p, size_t n)
{
	size_t i = 0;

	if (n == 0 || !lower_alnum(p[0]))
		return false;
	while (i < n) {
		if (lower_alnum(p[i])) {
			i++;
			continue;
		}
		size_t j = i + 1;
		if (p[i] == '_') {
			if (j < n && p[j] == '_')
				j++;
		} else if (p[i] == '-') {
			while (j < n && p[j] == '-')
				j++;
		} else if (p[i] != '.') {
			return false;
		}
		if (j >= n || !lower_alnum(p[j]))
			return false;
		i = j;
	}
	return true;
}

/* host components [a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])? joined by '.', or
 * an IPv6 address in brackets; then an optional :port. */
static bool valid_domain(const char *d)
{
	const char *p = d;

	if (*p == '[') {
		const char *end = strchr(p, ']');
		if (!end || end == p + 1)
			return false;
		for (const char *q = p + 1; q < end; q++)
			if (!isxdigit((unsigned char)*q) && *q != ':' && *q != '.')
				return false;
		p = end + 1;
	} else {
		for (;;) {
			const char *s = p;
			while (isalnum((unsigned char)*p) || *p == '-')
				p++;
			if (p == s || s[0] == '-' || p[-1] == '-')
				return false;
			if (*p != '.')
				break;
			p++;
		}
	}
	if (*p == ':') {
		p++;
		if (!isdigit((unsigned char)*p))
			return false;
		while (isdigit((unsigned char)*p))
			p++;
	}
	return *p == 0;
}

/* [\w][\w.-]{0,127} */
static bool valid_tag(const char *t)
{
	size_t n = strlen(t);

	if (n == 0 || n > 128 || !(isalnum((unsigned char)t[0]) || t[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(isalnum((unsigned char)t[i]) || t[i] == '_' || t[i] == '.' || t[i] == '-'))
			return false;
	return true;
}

void image_name_release(struct image_name *n)
{
	free(n->domain);
	free(n->path);
	free(n->tag);
	free(n->digest);
	*n = (struct image_name){ 0 };
}

int image_name_parse(const char *ref, struct image_name *ret)
{
	struct image_name n = { 0 };
	const char *at;
	char *colon, *slash;

	if (isempty(ref) || strlen(ref) > 1024)
		return -EINVAL;
	at = strchr(ref, '@');
	if (at) {
		if (!digest_valid(at + 1))
			return -EINVAL;
		n.digest = xstrdup(at + 1);
	}
	_cleanup_free_ char *name = at ? xstrndup(ref, (size_t)(at - ref)) : xstrdup(ref);

	slash = strrchr(name, '/');
	colon = strrchr(slash ? slash : name, ':');
	if (colon) {
		*colon = 0;
		if (!valid_tag(colon + 1))
			goto invalid;
		n.tag = xstrdup(colon + 1);
	}

	const char *rest = name;
	char *first = strchr(name, '/');
	if (first) {
		size_t len = (size_t)(first - name);
		bool upper = false;
		for (size_t i = 0; i < len; i++)
			upper |= isupper((unsigned char)name[i]) != 0;
		if (memchr(name, '.', len) || memchr(name, ':', len) ||
		    (len == 9 && startswith(name, "localhost")) || upper) {
			n.domain = xstrndup(name, len);
			rest = first + 1;
		}
	}
	if (!n.domain || streq(n.domain, "index.docker.io")) {
		free(n.domain);
		n.domain = xstrdup("docker.io");
	}
	if (!valid_domain(n.domain))
		goto invalid;
	if (streq(n.domain, "docker.io") && !strchr(rest, '/'))
		n.path = xasprintf("library/%s", rest);
	else
		n.path = xstrdup(rest);
	for (const char *p = n.path;;) {
		const char *e = strchrnul(p, '/');
		if (!valid_path_component(p, (size_t)(e - p)))
			goto invalid;
		if (!*e)
			break;
		p = e + 1;
	}
	if (strlen(n.domain) + 1 + strlen(n.path) > 255)
		goto invalid;
	if (!n.tag && !n.digest)
		n.tag = xstrdup("latest");
	*ret = n;
	return 0;
invalid:
	image_name_release(&n);
	return -EINVAL;
}

char *image_name_format(const struct image_name *n)
{
	return xasprintf("%s/%s%s%s%s%s", n->domain, n->path, n->tag ? ":" : "",
			 n->tag ? n->tag : "", n->digest ? "@" : "", n->digest ? n->digest : "");
}

char *image_name_repo(const struct image_name *n)
{
	return xasprintf("%s/%s", n->domain, n->path);
}

/* ---- errors ---- */

static const char *status_text(long status)
{
	switch (status) {
	case 401:
		return "unauthorized";
	case 403:
		return "denied";
	case 404:
		return "not found";
	case 429:
		return "toomanyrequests";
	default:
		return NULL;
	}
}

char *registry_error_message(long status, const char *body, size_t len)
{
	_cleanup_json_ json_t *j = body && len ? json_loadb(body, len, 0, NULL) : NULL;
	json_t *errors = json_object_get(j, "errors");
	struct strbuf sb = STRBUF_INIT;
	size_t i;
	json_t *e;

	json_array_foreach(errors, i, e)
	{
		const char *code = json_get_str(e, "code");
		const char *message = json_get_str(e, "message");

		if (!code && !message)
			continue;
		if (sb.len)
			strbuf_addstr(&sb, "; ");
		if (code) {
			for (const char *p = code; *p; p++)
				strbuf_addch(&sb,
					     *p == '_' ? ' ' : (char)tolower((unsigned char)*p));
		} else {
			strbuf_addstr(&sb, status_text(status) ? status_text(status) : "error");
		}
		if (!isempty(message))
			strbuf_addf(&sb, ": %s", message);
	}
	if (!sb.len && json_get_str(j, "details")) /* token servers */
		strbuf_addf(&sb, "%s: %s", status_text(status) ? status_text(status) : "error",
			    json_get_str(j, "details"));
	if (!sb.len) {
		if (status_text(status))
			strbuf_addstr(&sb, status_text(status));
		else
			strbuf_addf(&sb, "unexpected HTTP status %ld", status);
	}
	return strbuf_detach(&sb, NULL);
}

static int status_errno(long status)
{
	switch (status) {
	case 401:
	case 403:
		return -EACCES;
	case 404:
		return -ENOENT;
	default:
		return -EPROTO;
	}
}

/* ---- challenges ---- */

void registry_challenge_release(struct registry_challenge *ch)
{
	free(ch->scheme);
	free(ch->realm);
	free(ch->service);
	free(ch->scope);
	*ch = (struct registry_challenge){ 0 };
}

/* scheme param="value", param=token, ... (RFC 7235); the first challenge. */
int registry_parse_challenge(const char *value, struct registry_challenge *ret)
{
	struct registry_challenge ch = { 0 };
	const char *p = value;

	while (*p == ' ' || *p == '\t')
		p++;
	const char *s = p;
	while (*p && *p != ' ' && *p != '\t' && *p != ',')
		p++;
	if (p == s)
		return -EINVAL;
	ch.scheme = xstrndup(s, (size_t)(p - s));
	for (char *q = ch.scheme; *q; q++)
		*q = (char)tolower((unsigned char)*q);

	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (!*p)
			break;
		const char *k = p;
		while (*p && *p != '=' && *p != ' ' && *p != ',')
			p++;
		size_t klen = (size_t)(p - k);
		if (*p != '=')
			break; /* a following challenge's scheme: only the first is read */
		p++;
		struct strbuf v = STRBUF_INIT;
		if (*p == '"') {
			p++;
			while (*p && *p != '"') {
				if (*p == '\\' && p[1])
					p++;
				strbuf_addch(&v, *p++);
			}
			if (*p == '"')
				p++;
		} else {
			while (*p && *p != ',' && *p != ' ')
				strbuf_addch(&v, *p++);
		}
		char *val = strbuf_detach(&v, NULL);
		char **slot = NULL;
		if (klen == 5 && strncasecmp(k, "realm", 5) == 0)
			slot = &ch.realm;
		else if (klen == 7 && strncasecmp(k, "service", 7) == 0)
			slot = &ch.service;
		else if (klen == 5 && strncasecmp(k, "scope", 5) == 0)
			slot = &ch.scope;
		if (slot && !*slot)
			*slot = val;
		else
			free(val);
	}
	*ret = ch;
	return 0;
}

/* ---- the client ---- */

struct registry_client {
	CURL *curl;
	char *domain;
	char *repo;
	char *base; /* "https://host/v2/" */
	bool plain_http;
	char *username, *password;
	char *auth_header; /* "Authorization: ...", once negotiated */
	char errbuf[CURL_ERROR_SIZE];
};

struct response {
	CURL *curl;
	long status;
	struct strbuf body;
	size_t limit;
	bool too_large;
	/* a 200 answer streams here instead of into body */
	int fd;
	struct sha256 *hash;
	int64_t expect_size;
	int64_t got;
	int write_errno;
	/* headers of the last answer */
	char *content_type, *docker_digest, *www_authenticate;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct registry_client *registry_client_new(const struct registry_client_opts *o)
{
	struct registry_client *c = xnew(struct registry_client, 1);
	/* Docker Hub's API is served from another name than its references use. */
	const char *host = streq(o->domain, "docker.io") ? "registry-1.docker.io" : o->domain;

	pthread_once(&curl_once, curl_init_once);
	c->curl = curl_easy_init();
	assert_se(c->curl);
	c->domain = xstrdup(o->domain);
	c->repo = xstrdup(o->repo);
	c->plain_http = o->plain_http;
	c->base = xasprintf("%s://%s/v2/", o->plain_http ? "http" : "https", host);
	c->username = o->username ? xstrdup(o->username) : NULL;
	c->password = o->password ? xstrdup(o->password) : NULL;
	return c;
}

void registry_client_free(struct registry_client *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->curl);
	free(c->domain);
	free(c->repo);
	free(c->base);
	free(c->username);
	if (c->password) {
		explicit_bzero(c->password, strlen(c->password));
		free(c->password);
	}
	free(c->auth_header);
	free(c);
}

static void response_reset(struct response *res)
{
	res->status = 0;
	strbuf_reset(&res->body);
	res->too_large = false;
	res->write_errno = 0;
	free(res->content_type);
	free(res->docker_digest);
	free(res->www_authenticate);
	res->content_type = res->docker_digest = res->www_authenticate = NULL;
}

static void response_release(struct response *res)
{
	response_reset(res);
	strbuf_release(&res->body);
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *userdata)
{
	struct response *res = userdata;
	size_t len = size * nmemb;
	long status = 0;

	curl_easy_getinfo(res->curl, CURLINFO_RESPONSE_CODE, &status);
	if (res->fd >= 0 && status == 200) {
		if (res->expect_size >= 0 && res->got + (int64_t)len > res->expect_size) {
			res->too_large = true;
			return 0;
		}
		sha256_update(res->hash, p, len);
		for (size_t off = 0; off < len;) {
			ssize_t w = write(res->fd, p + off, len - off);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				res->write_errno = errno;
				return 0;
			}
			off += (size_t)w;
		}
		res->got += (int64_t)len;
		return len;
	}
	if (res->body.len + len > res->limit) {
		res->too_large = true;
		return 0;
	}
	strbuf_add(&res->body, p, len);
	return len;
}

static char *header_value(const char *line, size_t len, const char *name)
{
	size_t nlen = strlen(name);

	if (len <= nlen || strncasecmp(line, name, nlen) != 0 || line[nlen] != ':')
		return NULL;
	const char *v = line + nlen + 1;
	const char *end = line + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	return xstrndup(v, (size_t)(end - v));
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *userdata)
{
	struct response *res = userdata;
	size_t len = size * nmemb;
	char *v;

	if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		/* a new answer (after a redirect or a 100): forget the last one's */
		free(res->content_type);
		free(res->docker_digest);
		free(res->www_authenticate);
		res->content_type = res->docker_digest = res->www_authenticate = NULL;
	} else if ((v = header_value(p, len, "Content-Type"))) {
		free(res->content_type);
		res->content_type = v;
	} else if ((v = header_value(p, len, "Docker-Content-Digest"))) {
		free(res->docker_digest);
		res->docker_digest = v;
	} else if ((v = header_value(p, len, "WWW-Authenticate"))) {
		if (!res->www_authenticate)
			res->www_authenticate = v;
		else
			free(v);
	}
	return len;
}

static int transport_error(struct registry_client *c, CURLcode cc, struct response *res,
			   char **ret_err)
{
	int r;

	if (cc == CURLE_WRITE_ERROR && res->too_large) {
		*ret_err = xstrdup("answer larger than expected");
		return -EBADMSG;
	}
	if (cc == CURLE_WRITE_ERROR && res->write_errno) {
		*ret_err = xasprintf("writing: %s", strerror(res->write_errno));
		return -res->write_errno;
	}
	switch (cc) {
	case CURLE_COULDNT_CONNECT:
		r = -ECONNREFUSED;
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		r = -EHOSTUNREACH;
		break;
	case CURLE_OPERATION_TIMEDOUT:
		r = -ETIMEDOUT;
		break;
	default:
		r = -EIO;
		break;
	}
	*ret_err =
	    xasprintf("%s: %s", c->domain, c->errbuf[0] ? c->errbuf : curl_easy_strerror(cc));
	return r;
}

/* One GET on the client's handle (connections are kept between calls). */
static int perform(struct registry_client *c, const char *url, const char *accept,
		   const char *auth_header, struct response *res, char **ret_err)
{
	struct curl_slist *headers = NULL;
	CURLcode cc;

	response_reset(res);
	res->curl = c->curl;
	c->errbuf[0] = 0;
	curl_easy_reset(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c->curl, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c->curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, 30L);
	/* No overall limit (layers can be large) but no stalled transfers. */
	curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(c->curl, CURLOPT_USERAGENT, USER_AGENT);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, res);
	curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, res);
	if (accept)
		headers = curl_slist_append(headers, accept);
	if (auth_header)
		headers = curl_slist_append(headers, auth_header);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers);

	cc = curl_easy_perform(c->curl);
	atomic_fetch_add(&requests_total, 1);
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &res->status);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(headers);
	if (cc != CURLE_OK)
		return transport_error(c, cc, res, ret_err);
	return 0;
}

static char *basic_header(const char *user, const char *password)
{
	_cleanup_free_ char *plain = xasprintf("%s:%s", user, password ? password : "");
	_cleanup_free_ char *b64 = base64_encode(plain, strlen(plain));

	explicit_bzero(plain, strlen(plain));
	return xasprintf("Authorization: Basic %s", b64);
}

static bool realm_may_get_credentials(struct registry_client *c, const char *realm)
{
	return startswith(realm, "https://") || c->plain_http;
}

static int fetch_token(struct registry_client *c, const struct registry_challenge *ch,
		       char **ret_token, char **ret_err)
{
	_cleanup_free_ char *scope_default = xasprintf("repository:%s:pull", c->repo);
	const char *scope = ch->scope ? ch->scope : scope_default;
	struct strbuf url = STRBUF_INIT;
	struct response res = { .fd = -1, .limit = SMALL_BODY_MAX };
	_cleanup_free_ char *auth = NULL;
	_cleanup_json_ json_t *j = NULL;
	const char *tok;
	char *esc;
	int r;

	if (!ch->realm ||
	    !(startswith(ch->realm, "https://") || startswith(ch->realm, "http://"))) {
		*ret_err = xstrdup("unauthorized: bearer challenge without a usable realm");
		return -EACCES;
	}
	strbuf_addstr(&url, ch->realm);
	strbuf_addch(&url, strchr(ch->realm, '?') ? '&' : '?');
	if (ch->service) {
		esc = curl_easy_escape(c->curl, ch->service, 0);
		strbuf_addf(&url, "service=%s&", esc);
		curl_free(esc);
	}
	esc = curl_easy_escape(c->curl, scope, 0);
	strbuf_addf(&url, "scope=%s", esc);
	curl_free(esc);
	if (c->username && realm_may_get_credentials(c, ch->realm))
		auth = basic_header(c->username, c->password);

	r = perform(c, strbuf_str(&url), NULL, auth, &res, ret_err);
	strbuf_release(&url);
	if (r < 0)
		goto out;
	if (res.status != 200) {
		*ret_err = registry_error_message(res.status, res.body.buf, res.body.len);
		r = res.status == 404 ? -EACCES : status_errno(res.status);
		goto out;
	}
	j = json_loadb(res.body.buf ? res.body.buf : "", res.body.len, 0, NULL);
	tok = json_get_str(j, "token");
	if (isempty(tok))
		tok = json_get_str(j, "access_token");
	if (isempty(tok)) {
		*ret_err = xstrdup("unauthorized: no token in the token server's answer");
		r = -EACCES;
		goto out;
	}
	*ret_token = xstrdup(tok);
	r = 0;
out:
	response_release(&res);
	return r;
}

/* React to a 401's challenge: 1 to retry with new credentials, 0 if there
 * is nothing to retry with, or an error. */
static int authenticate(struct registry_client *c, const char *challenge, char **ret_err)
{
	struct registry_challenge ch;
	int r;

	if (registry_parse_challenge(challenge, &ch) < 0)
		return 0;
	if (streq(ch.scheme, "basic")) {
		r = 0;
		if (c->username) {
			free(c->auth_header);
			c->auth_header = basic_header(c->username, c->password);
			r = 1;
		}
	} else if (streq(ch.scheme, "bearer")) {
		_cleanup_free_ char *token = NULL;
		r = fetch_token(c, &ch, &token, ret_err);
		if (r == 0) {
			free(c->auth_header);
			c->auth_header = xasprintf("Authorization: Bearer %s", token);
			r = 1;
		}
	} else {
		r = 0;
	}
	registry_challenge_release(&ch);
	return r;
}

/* GET base + path, authenticating once on a 401; 0 only for a 200. */
static int request(struct registry_client *c, const char *path, const char *accept,
		   struct response *res, char **ret_err)
{
	_cleanup_free_ char *url = xasprintf("%s%s", c->base, path);
	int r;

	for (int attempt = 0;; attempt++) {
		r = perform(c, url, accept, c->auth_header, res, ret_err);
		if (r < 0)
			return r;
		if (res->status != 401 || attempt > 0 || !res->www_authenticate)
			break;
		_cleanup_free_ char *challenge = xstrdup(res->www_authenticate);
		r = authenticate(c, challenge, ret_err);
		if (r < 0)
			return r;
		if (r == 0)
			break;
	}
	if (res->status == 200)
		return 0;
	*ret_err = registry_error_message(res->status, res->body.buf, res->body.len);
	return status_errno(res->status);
}

int registry_get_manifest(struct registry_client *c, const char *reference, char **ret_body,
			  size_t *ret_len, char **ret_media_type, char ret_digest[DIGEST_BUF_LEN],
			  char **ret_err)
{
	_cleanup_free_ char *path = xasprintf("%s/manifests/%s", c->repo, reference);
	struct response res = { .fd = -1, .limit = MANIFEST_MAX };
	char digest[DIGEST_BUF_LEN];
	int r;

	r = request(c, path, ACCEPT_MANIFESTS, &res, ret_err);
	if (r < 0)
		goto out;
	sha256_digest(res.body.buf ? res.body.buf : "", res.body.len, digest);
	if (startswith(reference, "sha256:") && !streq(reference, digest)) {
		*ret_err =
		    xasprintf("manifest %s: digest mismatch (content is %s)", reference, digest);
		r = -EBADMSG;
		goto out;
	}
	if (res.docker_digest && startswith(res.docker_digest, "sha256:") &&
	    !streq(res.docker_digest, digest)) {
		*ret_err = xasprintf("manifest %s: digest mismatch (Docker-Content-Digest %s, "
				     "content is %s)",
				     reference, res.docker_digest, digest);
		r = -EBADMSG;
		goto out;
	}
	if (ret_media_type) {
		*ret_media_type = NULL;
		if (res.content_type) {
			size_t n = strcspn(res.content_type, "; ");
			*ret_media_type = xstrndup(res.content_type, n);
		}
	}
	memcpy(ret_digest, digest, DIGEST_BUF_LEN);
	*ret_len = res.body.len;
	strbuf_grow(&res.body, 0);
	*ret_body = strbuf_detach(&res.body, NULL);
	r = 0;
out:
	response_release(&res);
	return r;
}

int registry_get_blob(struct registry_client *c, const char *digest, int64_t size, int fd,
		      char **ret_err)
{
	_cleanup_free_ char *path = xasprintf("%s/blobs/%s", c->repo, digest);
	struct sha256 hash;
	struct response res = {
		.fd = fd, .hash = &hash, .expect_size = size, .limit = SMALL_BODY_MAX
	};
	char got[DIGEST_BUF_LEN];
	int r;

	sha256_init(&hash);
	r = request(c, path, NULL, &res, ret_err);
	if (r < 0) {
		if (r == -EBADMSG) {
			free(*ret_err);
			*ret_err = xasprintf("blob %s: size mismatch (more than %" PRId64 " bytes)",
					     digest, size);
		}
		goto out;
	}
	sha256_final(&hash, got);
	if (size >= 0 && res.got != size) {
		*ret_err =
		    xasprintf("blob %s: size mismatch (%" PRId64 " bytes, expected %" PRId64 ")",
			      digest, res.got, size);
		r = -EBADMSG;
		goto out;
	}
	if (!streq(got, digest)) {
		*ret_err = xasprintf("blob %s: digest mismatch (content is %s)", digest, got);
		r = -EBADMSG;
		goto out;
	}
	r = 0;
out:
	sha256_release(&hash);
	response_release(&res);
	return r;
}
