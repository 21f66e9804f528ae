/* SPDX-License-Identifier: Apache-2.0 */
#include <curl/curl.h>
#include <pthread.h>

#include "client/kclient.h"
#include "lib/base64.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/yamljson.h"

#define POOL_MAX 64

struct kclient {
	char *server;
	char *token;
	char *auth_header;
	struct curl_blob ca, cert, key;
	char *ca_pem, *cert_pem, *key_pem;
	bool insecure;
	char *user_agent;
	char *unix_socket;
	long timeout_ms;
	pthread_mutex_t mu;
	CURL *pool[POOL_MAX];
	size_t npool;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

const char *kclient_server(const struct kclient *c)
{
	return c->server;
}

/* ---- kubeconfig ---- */

static char *read_whole(const char *path)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	struct strbuf sb = STRBUF_INIT;
	char buf[8192];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		strbuf_add(&sb, buf, n);
	strbuf_grow(&sb, 0);
	return strbuf_detach(&sb, NULL);
}

static json_t *named(json_t *list, const char *name, const char *field)
{
	size_t i;
	json_t *e;
	json_array_foreach(list, i, e)
	{
		if (streq_ptr(json_get_str(e, "name"), name))
			return json_object_get(e, field);
	}
	return NULL;
}

/* PEM from "<key>-data" (base64) or "<key>" (a file path). */
static char *pem_from(json_t *section, const char *key)
{
	_cleanup_free_ char *dkey = xasprintf("%s-data", key);
	const char *data = json_get_str(section, dkey);
	if (data) {
		void *raw;
		size_t len;
		if (base64_decode(data, strlen(data), &raw, &len) < 0)
			return NULL;
		return raw;
	}
	const char *file = json_get_str(section, key);
	return file ? read_whole(file) : NULL;
}

static int load_kubeconfig(struct kclient *c, const char *path, char **ret_err)
{
	_cleanup_free_ char *text = read_whole(path);
	if (!text) {
		*ret_err = xasprintf("cannot read kubeconfig %s: %s", path, strerror(errno));
		return -errno;
	}
	json_t *cfg = NULL;
	_cleanup_free_ char *yerr = NULL;
	if (yaml_to_json(text, strlen(text), &cfg, &yerr) < 0) {
		*ret_err = xasprintf("kubeconfig %s: %s", path, yerr);
		return -EINVAL;
	}
	_cleanup_json_ json_t *cfgp = cfg;
	const char *ctxname = json_get_str(cfg, "current-context");
	json_t *ctx = named(json_object_get(cfg, "contexts"), ctxname, "context");
	if (!ctx && json_array_size(json_object_get(cfg, "contexts")) == 1)
		ctx =
		    json_object_get(json_array_get(json_object_get(cfg, "contexts"), 0), "context");
	if (!ctx) {
		*ret_err = xasprintf("kubeconfig %s has no current context", path);
		return -EINVAL;
	}
	json_t *cluster =
	    named(json_object_get(cfg, "clusters"), json_get_str(ctx, "cluster"), "cluster");
	json_t *user = named(json_object_get(cfg, "users"), json_get_str(ctx, "user"), "user");
	const char *server = json_get_str(cluster, "server");
	if (!server) {
		*ret_err = xasprintf("kubeconfig %s names no server", path);
		return -EINVAL;
	}
	c->server = xstrdup(server);
	c->ca_pem = pem_from(cluster, "certificate-authority");
	c->insecure = json_get_bool(cluster, "insecure-skip-tls-verify", false);
	c->cert_pem = pem_from(user, "client-certificate");
	c->key_pem = pem_from(user, "client-key");
	const char *tok = json_get_str(user, "token");
	if (tok)
		c->token = xstrdup(tok);
	return 0;
}

int kclient_new(const struct kclient_opts *opts, struct kclient **ret, char **ret_err)
{
	pthread_once(&curl_once, curl_init_once);
	struct kclient *c = xnew(struct kclient, 1);
	pthread_mutex_init(&c->mu, NULL);
	c->timeout_ms = opts->timeout_ms ? opts->timeout_ms : 30000;
	c->user_agent = xstrdup(opts->user_agent ? opts->user_agent : "c8s/v0.1");
	c->unix_socket = opts->unix_socket ? xstrdup(opts->unix_socket) : NULL;
	if (opts->kubeconfig) {
		int r = load_kubeconfig(c, opts->kubeconfig, ret_err);
		if (r < 0) {
			kclient_free(c);
			return r;
		}
	} else if (opts->server) {
		c->server = xstrdup(opts->server);
		if (opts->token)
			c->token = xstrdup(opts->token);
		if (opts->ca_file)
			c->ca_pem = read_whole(opts->ca_file);
		else
			c->insecure = true;
	} else {
		*ret_err = xstrdup("no kubeconfig and no server given");
		kclient_free(c);
		return -EINVAL;
	}
	size_t n = strlen(c->server);
	while (n && c->server[n - 1] == '/')
		c->server[--n] = 0;
	if (opts->token && !c->token)
		c->token = xstrdup(opts->token);
	if (c->token)
		c->auth_header = xasprintf("Authorization: Bearer %s", c->token);
	if (c->ca_pem)
		c->ca = (struct curl_blob){ c->ca_pem, strlen(c->ca_pem), CURL_BLOB_NOCOPY };
	if (c->cert_pem)
		c->cert = (struct curl_blob){ c->cert_pem, strlen(c->cert_pem), CURL_BLOB_NOCOPY };
	if (c->key_pem)
		c->key = (struct curl_blob){ c->key_pem, strlen(c->key_pem), CURL_BLOB_NOCOPY };
	*ret = c;
	return 0;
}

void kclient_free(struct kclient *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->npool; i++)
		curl_easy_cleanup(c->pool[i]);
	pthread_mutex_destroy(&c->mu);
	free(c->server);
	free(c->token);
	free(c->auth_header);
	free(c->ca_pem);
	free(c->cert_pem);
	free(c->key_pem);
	free(c->user_agent);
	free(c->unix_socket);
	free(c);
}

/* ---- handles ---- */

/* TLS settings, or the Unix socket that replaces the connection. */
static void setup_tls(struct kclient *c, CURL *h)
{
	if (c->unix_socket) {
		curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, c->unix_socket);
		return;
	}
	if (c->ca_pem)
		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &c->ca);
	if (c->insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (c->cert_pem && c->key_pem) {
		curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &c->cert);
		curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &c->key);
		curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
	}
}

static CURL *acquire(struct kclient *c)
{
	CURL *h = NULL;
	pthread_mutex_lock(&c->mu);
	if (c->npool)
		h = c->pool[--c->npool];
	pthread_mutex_unlock(&c->mu);
	if (!h) {
		h = curl_easy_init();
		if (!h)
			abort();
	}
	return h;
}

static void release(struct kclient *c, CURL *h)
{
	pthread_mutex_lock(&c->mu);
	if (c->npool < POOL_MAX) {
		c->pool[c->npool++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&c->mu);
	if (h)
		curl_easy_cleanup(h);
}

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
	strbuf_add(ud, p, size * n);
	return size * n;
}

void kresp_release(struct kresp *r)
{
	free(r->body);
	free(r->error);
	*r = (struct kresp){ 0 };
}

json_t *kresp_json(const struct kresp *r)
{
	if (!r->body || !r->len)
		return NULL;
	return json_loadb(r->body, r->len, 0, NULL);
}

const char *kresp_message(const struct kresp *r, char *buf, size_t size)
{
	if (r->code == 0)
		return r->error ? r->error : "request failed";
	_cleanup_json_ json_t *j = kresp_json(r);
	const char *m = json_get_str(j, "message");
	snprintf(buf, size, "%ld: %s", r->code, m ? m : (r->body ? r->body : ""));
	return buf;
}

int kclient_do(struct kclient *c, const char *method, const char *path, const char *body,
	       size_t body_len, const char *content_type, struct kresp *ret)
{
	CURL *h = acquire(c);
	struct strbuf out = STRBUF_INIT;
	struct curl_slist *hdrs = NULL;
	_cleanup_free_ char *url = xasprintf("%s%s", c->server, path);
	_cleanup_free_ char *ct =
	    xasprintf("Content-Type: %s", content_type ? content_type : "application/json");
	char errbuf[CURL_ERROR_SIZE] = "";

	*ret = (struct kresp){ 0 };
	curl_easy_reset(h);
	setup_tls(c, h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &out);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	if (c->auth_header)
		hdrs = curl_slist_append(hdrs, c->auth_header);
	if (body) {
		hdrs = curl_slist_append(hdrs, ct);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)body_len);
	} else if (!streq(method, "GET")) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	CURLcode cr = curl_easy_perform(h);
	curl_slist_free_all(hdrs);
	if (cr != CURLE_OK) {
		ret->error = xasprintf("%s %s: %s", method, path,
				       errbuf[0] ? errbuf : curl_easy_strerror(cr));
		strbuf_release(&out);
		curl_easy_cleanup(h);
		return -EIO;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &ret->code);
	release(c, h);
	strbuf_grow(&out, 0);
	ret->body = strbuf_detach(&out, &ret->len);
	return 0;
}

static json_t *do_json(struct kclient *c, const char *method, const char *path, json_t *body,
		       const char *ct, long *ret_code)
{
	_cleanup_free_ char *s = body ? json_dump_compact(body, NULL) : NULL;
	struct kresp r;
	long code = 0;
	json_t *out = NULL;
	if (kclient_do(c, method, path, s, s ? strlen(s) : 0, ct, &r) == 0) {
		code = r.code;
		if (code >= 200 && code < 300)
			out = kresp_json(&r);
		else
			log_v(4, "%s %s: %ld %s", method, path, code, r.body ? r.body : "");
	} else {
		log_v(2, "%s", r.error);
	}
	kresp_release(&r);
	if (ret_code)
		*ret_code = code;
	return out;
}

json_t *kclient_get(struct kclient *c, const char *path, long *ret_code)
{
	return do_json(c, "GET", path, NULL, NULL, ret_code);
}

json_t *kclient_post(struct kclient *c, const char *path, json_t *body, long *ret_code)
{
	return do_json(c, "POST", path, body, NULL, ret_code);
}

json_t *kclient_put(struct kclient *c, const char *path, json_t *body, long *ret_code)
{
	return do_json(c, "PUT", path, body, NULL, ret_code);
}

json_t *kclient_patch(struct kclient *c, const char *path, const char *patch_type, json_t *patch,
		      long *ret_code)
{
	return do_json(c, "PATCH", path, patch,
		       patch_type ? patch_type : "application/merge-patch+json", ret_code);
}

long kclient_delete(struct kclient *c, const char *path, json_t *options)
{
	long code = 0;
	json_t *j = do_json(c, "DELETE", path, options, NULL, &code);
	json_decref(j);
	return code;
}

/* ---- watch ---- */

struct watch_ctx {
	struct strbuf line;
	kwatch_fn fn;
	void *userdata;
	volatile bool *stop;
	bool stopped;
	struct strbuf errbody;
	long code;
	CURL *h;
};

static size_t watch_write(char *p, size_t size, size_t n, void *ud)
{
	struct watch_ctx *w = ud;
	size_t len = size * n;
	if (!w->code)
		curl_easy_getinfo(w->h, CURLINFO_RESPONSE_CODE, &w->code);
	if (w->code != 200) {
		strbuf_add(&w->errbody, p, len);
		return len;
	}
	while (len) {
		const char *nl = memchr(p, '\n', len);
		size_t take = nl ? (size_t)(nl - p) : len;
		strbuf_add(&w->line, p, take);
		if (!nl)
			break;
		p += take + 1;
		len -= take + 1;
		if (!w->line.len)
			continue;
		json_t *ev = json_loadb(w->line.buf, w->line.len, 0, NULL);
		bool go_on = true;
		if (ev) {
			size_t off = 0, olen = 0;
			if (!json_text_member(w->line.buf, w->line.len, "object", &off, &olen))
				olen = 0;
			go_on = w->fn(ev, olen ? w->line.buf + off : NULL, olen, w->userdata);
			json_decref(ev);
		}
		strbuf_reset(&w->line);
		if (!go_on) {
			w->stopped = true;
			return 0; /* abort the transfer */
		}
	}
	return size * n;
}

static int watch_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	struct watch_ctx *w = ud;
	if (w->stop && *w->stop) {
		w->stopped = true;
		return 1;
	}
	return 0;
}

int kclient_watch(struct kclient *c, const char *path, kwatch_fn fn, void *userdata,
		  volatile bool *stop)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hdrs = NULL;
	_cleanup_free_ char *url = xasprintf("%s%s", c->server, path);
	struct watch_ctx w = { .fn = fn, .userdata = userdata, .stop = stop, .h = h };
	char errbuf[CURL_ERROR_SIZE] = "";

	if (!h)
		abort();
	setup_tls(c, h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, watch_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &w);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, watch_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, &w);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	if (c->auth_header)
		hdrs = curl_slist_append(hdrs, c->auth_header);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	CURLcode cr = curl_easy_perform(h);
	curl_slist_free_all(hdrs);
	int r = 0;
	if (!w.code)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &w.code);
	if (w.stopped)
		r = 0;
	else if (cr != CURLE_OK) {
		log_v(2, "watch %s: %s", path, errbuf[0] ? errbuf : curl_easy_strerror(cr));
		r = -EIO;
	} else if (w.code != 200) {
		log_v(2, "watch %s: %ld %s", path, w.code, strbuf_str(&w.errbody));
		r = (int)w.code;
	}
	curl_easy_cleanup(h);
	strbuf_release(&w.line);
	strbuf_release(&w.errbody);
	return r;
}

/* ---- paths ---- */

char *kpath(const char *api_version, const char *plural, const char *ns, const char *name)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_addstr(&sb, strchr(api_version, '/') ? "/apis/" : "/api/");
	strbuf_addstr(&sb, api_version);
	if (ns && *ns)
		strbuf_addf(&sb, "/namespaces/%s", ns);
	strbuf_addf(&sb, "/%s", plural);
	if (name && *name)
		strbuf_addf(&sb, "/%s", name);
	return strbuf_detach(&sb, NULL);
}

char *kquery_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	struct strbuf sb = STRBUF_INIT;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~", *p))
			strbuf_addch(&sb, (char)*p);
		else {
			strbuf_addch(&sb, '%');
			strbuf_addch(&sb, hex[*p >> 4]);
			strbuf_addch(&sb, hex[*p & 15]);
		}
	}
	strbuf_grow(&sb, 0);
	return strbuf_detach(&sb, NULL);
}
