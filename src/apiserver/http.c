/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>

#include "apiserver/apiserver.h"
#include "apiserver/cache.h"
#include "apiserver/certs.h"
#include "apiserver/http.h"
#include "apiserver/proxy.h"
#include "apiserver/schema.h"
#include "lib/base64.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/selector.h"
#include "lib/yamljson.h"

#define CT_JSON "application/json"

/* ---- small helpers ---- */

const char *req_query(struct req *r, const char *key)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *req_header(struct req *r, const char *key)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, key);
}

/* Booleans as Go's strconv.ParseBool reads them. */
static bool parse_bool(const char *v)
{
	static const char *const yes[] = { "1", "t", "T", "true", "TRUE", "True" };
	for (size_t i = 0; v && i < ARRAY_SIZE(yes); i++)
		if (streq(v, yes[i]))
			return true;
	return false;
}

static bool query_true(struct req *r, const char *key)
{
	return parse_bool(req_query(r, key));
}

void req_respond(struct req *r, unsigned code, struct MHD_Response *resp)
{
	if (r->resp)
		MHD_destroy_response(r->resp);
	r->resp = resp;
	r->code = code;
}

static void add_common_headers(struct MHD_Response *resp, const char *content_type)
{
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache, private");
}

void req_respond_buf(struct req *r, unsigned code, char *buf, size_t len, const char *content_type)
{
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer_with_free_callback(len, buf, free);
	add_common_headers(resp, content_type ? content_type : CT_JSON);
	req_respond(r, code, resp);
}

void req_respond_json(struct req *r, unsigned code, json_t *j)
{
	size_t len;
	char *s = json_dump_compact(j, &len);
	json_decref(j);
	req_respond_buf(r, code, s, len, CT_JSON);
}

static void obj_free_cb(void *cls)
{
	obj_unref(cls);
}

void req_respond_obj(struct req *r, unsigned code, struct obj *o)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback_cls(
	    o->len, (void *)obj_json(o), obj_free_cb, o);
	add_common_headers(resp, CT_JSON);
	req_respond(r, code, resp);
}

void req_respond_error(struct req *r, const struct api_error *e)
{
	log_v(3, "%s %s: %d %s", r->method, r->path, e->code, e->message ? e->message : "");
	req_respond_json(r, (unsigned)e->code, api_error_status(e));
	if (e->retry_after)
		MHD_add_response_header(r->resp, "Retry-After", e->retry_after);
}

void req_respond_status(struct req *r, int code, const char *reason, const char *fmt, ...)
{
	struct api_error e = { 0 };
	va_list ap;
	va_start(ap, fmt);
	char *msg;
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	e.code = code;
	e.reason = reason;
	e.message = msg;
	req_respond_error(r, &e);
	api_error_release(&e);
}

static void respond_not_found(struct req *r)
{
	req_respond_status(r, 404, "NotFound", "the server could not find the requested resource");
}

/* ---- authentication ---- */

static bool public_path(const struct route *route)
{
	return route->kind == R_HEALTH || route->kind == R_VERSION || route->kind == R_CACERTS;
}

static void conn_ctx_free(struct conn_ctx *cc)
{
	if (!cc)
		return;
	free(cc->user);
	if (cc->groups) {
		for (char **g = cc->groups; *g; g++)
			free(*g);
		free(cc->groups);
	}
	free(cc);
}

static bool token_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char d = (unsigned char)(la != lb);
	for (size_t i = 0; i < la && i < lb; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

/* Who is asking: a client certificate signed by the cluster CA (checked
 * once per connection), or a bearer token. */
static const char *authenticate(struct req *r)
{
	struct conn_ctx *cc = r->cc;
	if (cc && !cc->checked) {
		cc->checked = true;
		const union MHD_ConnectionInfo *ci =
		    MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
		if (ci && ci->tls_session) {
			char *user = NULL, **groups = NULL;
			if (certs_verify_peer(ci->tls_session, r->srv->certs.ca_cert_pem, &user,
					      &groups) == 0) {
				cc->user = user;
				cc->groups = groups;
			}
		}
	}
	if (cc && cc->user)
		return cc->user;
	const char *auth = req_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
	if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
		const char *tok = auth + 7;
		if (r->srv->admin_token && token_equal(tok, r->srv->admin_token))
			return "system:admin";
		/* Agents present the join token (whole, or its secret part). */
		if (r->srv->node_token && (token_equal(tok, r->srv->node_token) ||
					   token_equal(tok, r->srv->node_token_secret)))
			return "system:node";
	}
	return NULL;
}

/* ---- content negotiation ---- */

static enum accept_format parse_accept(const char *accept)
{
	if (!accept)
		return ACCEPT_JSON;
	/* Offers are in preference order; take the first one we serve. */
	_cleanup_free_ char *copy = xstrdup(accept);
	char *save = NULL;
	for (char *part = strtok_r(copy, ",", &save); part; part = strtok_r(NULL, ",", &save)) {
		while (*part == ' ')
			part++;
		if (strstr(part, "as=Table") && strstr(part, "g=meta.k8s.io"))
			return ACCEPT_TABLE;
		if (strstr(part, "as=APIGroupDiscoveryList") &&
		    strstr(part, "g=apidiscovery.k8s.io")) {
			if (strstr(part, "v=v2beta1"))
				return ACCEPT_DISCOVERY_V2B1;
			if (strstr(part, "v=v2"))
				return ACCEPT_DISCOVERY_V2;
		}
		if (startswith(part, "application/json") || startswith(part, "*/*") ||
		    startswith(part, "application/*"))
			return ACCEPT_JSON;
	}
	return ACCEPT_JSON;
}

/* ---- request bodies ---- */

static char *media_type(const char *ct)
{
	if (!ct)
		return xstrdup("");
	size_t n = strcspn(ct, ";");
	while (n && ct[n - 1] == ' ')
		n--;
	char *s = xstrndup(ct, n);
	for (char *p = s; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return s;
}

/* Decode a protobuf body into JSON, typed by the kind in its envelope. */
static json_t *decode_protobuf(struct req *r, struct api_error *err)
{
	_cleanup_free_ char *av = NULL, *kind = NULL, *perr = NULL;
	const uint8_t *raw;
	size_t raw_len;
	json_t *obj = NULL;

	if (k8s_protobuf_unwrap(r->body.buf, r->body.len, &av, &kind, &raw, &raw_len) < 0) {
		api_error_bad_request(err, "the protobuf body is not a Kubernetes object envelope");
		return NULL;
	}
	const char *slash = av ? strchr(av, '/') : NULL;
	_cleanup_free_ char *group = slash ? xstrndup(av, (size_t)(slash - av)) : xstrdup("");
	const char *type_name = NULL;
	const struct resource *res = resource_find_kind(group, kind ? kind : "");
	if (res)
		type_name = res->type_name;
	else if (kind && (streq(kind, "DeleteOptions") || streq(kind, "Scale") ||
			  streq(kind, "Binding") || streq(kind, "Eviction")))
		type_name = kind;
	const struct schema_type *t =
	    type_name ? schema_find_type(schema_builtin(), type_name) : NULL;
	if (!t) {
		api_error_bad_request(err, "no kind \"%s\" is registered for version \"%s\"",
				      kind ? kind : "", av ? av : "");
		return NULL;
	}
	if (schema_proto_decode(t, raw, raw_len, &obj, &perr) < 0) {
		api_error_bad_request(err, "%s in version \"%s\" cannot be handled as a %s: %s",
				      kind, av, kind, perr ? perr : "malformed protobuf");
		return NULL;
	}
	json_set_str(obj, "apiVersion", av);
	json_set_str(obj, "kind", kind);
	return obj;
}

/* The body as JSON, or NULL with err set (400 or 415). */
static json_t *decode_body(struct req *r, bool patch, struct api_error *err)
{
	_cleanup_free_ char *mt = media_type(req_header(r, MHD_HTTP_HEADER_CONTENT_TYPE));
	json_error_t jerr;

	if (r->body.len == 0) {
		api_error_bad_request(err, "the request body is empty");
		return NULL;
	}
	if (streq(mt, "application/vnd.kubernetes.protobuf")) {
		if (patch) {
			api_error_set(err, 415, "UnsupportedMediaType",
				      "the body of the request was in an unknown format - accepted "
				      "media types include: application/json-patch+json, "
				      "application/merge-patch+json, application/apply-patch+yaml, "
				      "application/strategic-merge-patch+json");
			return NULL;
		}
		return decode_protobuf(r, err);
	}
	bool yaml = streq(mt, "application/yaml") || streq(mt, "application/apply-patch+yaml");
	bool json = streq(mt, CT_JSON) || streq(mt, "application/json-patch+json") ||
		    streq(mt, "application/merge-patch+json") ||
		    streq(mt, "application/strategic-merge-patch+json") || streq(mt, "") ||
		    streq(mt, "application/apply-patch+json");
	if (!yaml && !json) {
		api_error_set(err, 415, "UnsupportedMediaType",
			      "the body of the request was in an unknown format - accepted media "
			      "types include: application/json, application/yaml, "
			      "application/vnd.kubernetes.protobuf");
		return NULL;
	}
	json_t *j = json_loadb(r->body.buf, r->body.len, JSON_DECODE_ANY, &jerr);
	if (!j && yaml) {
		_cleanup_free_ char *yerr = NULL;
		if (yaml_to_json(r->body.buf, r->body.len, &j, &yerr) < 0) {
			api_error_bad_request(err, "error converting YAML to JSON: %s",
					      yerr ? yerr : "invalid YAML");
			return NULL;
		}
	}
	if (!j) {
		api_error_bad_request(
		    err, "couldn't get version/kind; json parse error: %s (line %d, column %d)",
		    jerr.text, jerr.line, jerr.column);
		return NULL;
	}
	return j;
}

/* ---- API operations over HTTP ---- */

static int parse_write_options(struct req *r, struct api_op *op)
{
	const char *dry = req_query(r, "dryRun");
	if (dry && *dry) {
		if (!streq(dry, "All")) {
			api_error_bad_request(&op->err, "Invalid dry run value: %s", dry);
			return -EINVAL;
		}
		op->dry_run = true;
	}
	const char *fv = req_query(r, "fieldValidation");
	if (fv && *fv) {
		if (streq(fv, "Strict"))
			op->fv = FV_STRICT;
		else if (streq(fv, "Warn"))
			op->fv = FV_WARN;
		else if (streq(fv, "Ignore"))
			op->fv = FV_IGNORE;
		else {
			api_error_bad_request(&op->err,
					      "fieldValidation parameter unsupported: %s, must be "
					      "one of Ignore, Warn, Strict",
					      fv);
			return -EINVAL;
		}
	}
	const char *fm = req_query(r, "fieldManager");
	if (fm && strlen(fm) > 128) {
		api_error_bad_request(&op->err,
				      "fieldManager: Too long: must have at most 128 bytes");
		return -EINVAL;
	}
	op->field_manager = fm;
	op->force = query_true(r, "force");
	return 0;
}

static enum op_subresource subresource(struct req *r, bool *ret_ok)
{
	const struct resource *res = r->route.res;
	const char *sub = r->route.sub;
	*ret_ok = true;
	if (!sub)
		return SUB_NONE;
	if (streq(sub, "status") && (res->flags & RES_STATUS))
		return SUB_STATUS;
	if (streq(sub, "scale") && (res->flags & RES_SCALE))
		return SUB_SCALE;
	if (streq(sub, "finalize") && (res->flags & RES_FINALIZE))
		return SUB_FINALIZE;
	if (streq(sub, "binding") && (res->flags & RES_BINDING))
		return SUB_BINDING;
	*ret_ok = false;
	return SUB_NONE;
}

static void add_warnings(struct req *r, struct api_op *op)
{
	for (size_t i = 0; i < op->nwarnings && r->resp; i++) {
		struct strbuf sb = STRBUF_INIT;
		strbuf_addstr(&sb, "299 - ");
		strbuf_add_json_str(&sb, op->warnings[i]);
		MHD_add_response_header(r->resp, "Warning", strbuf_str(&sb));
		strbuf_release(&sb);
	}
}

static void respond_result(struct req *r, struct api_op *op)
{
	const struct resource *res = r->route.res;
	bool convert = resource_storage(res) != res && op->sub == SUB_NONE;

	if (op->err.code) {
		req_respond_error(r, &op->err);
		add_warnings(r, op);
		return;
	}
	if (r->accept == ACCEPT_TABLE && op->verb == VERB_GET && op->sub == SUB_NONE &&
	    op->result_obj) {
		struct obj *o = op->result_obj;
		json_t *t = table_build(res, &o, 1, req_query(r, "includeObject"), true,
					(int64_t)now_usec_realtime());
		/* a Table of one object carries its resourceVersion */
		char rv[24];
		snprintf(rv, sizeof(rv), "%lld", (long long)o->rev);
		json_set_str(json_object_ensure(t, "metadata"), "resourceVersion", rv);
		req_respond_json(r, 200, t);
		return;
	}
	if (op->result_obj && !convert) {
		req_respond_obj(r, (unsigned)op->code, TAKE_PTR(op->result_obj));
	} else if (op->result_obj) {
		req_respond_json(r, (unsigned)op->code, convert_from_storage(res, op->result_obj));
	} else if (op->result) {
		json_t *j = TAKE_PTR(op->result);
		if (convert && res->from_storage && json_is_object(j) &&
		    !json_object_get(j, "items")) {
			json_t *c = res->from_storage(j);
			json_decref(j);
			j = c;
		}
		req_respond_json(r, (unsigned)op->code, j);
	} else {
		req_respond_json(r, 200, status_success());
	}
	add_warnings(r, op);
}

static void op_completed(struct api_op *op)
{
	struct req *r = op->userdata;
	pthread_mutex_lock(&r->mu);
	r->completed = true;
	bool resume = r->suspended;
	r->suspended = false;
	pthread_mutex_unlock(&r->mu);
	if (resume)
		MHD_resume_connection(r->conn);
}

/* Run (or continue) the request's operation; answer when it is done. */
static void drive_op(struct req *r)
{
	for (;;) {
		if (api_op_run(&r->op) == OP_DONE) {
			r->op_active = false;
			respond_result(r, &r->op);
			return;
		}
		pthread_mutex_lock(&r->mu);
		if (r->completed) {
			r->completed = false;
			pthread_mutex_unlock(&r->mu);
			continue;
		}
		r->suspended = true;
		MHD_suspend_connection(r->conn);
		pthread_mutex_unlock(&r->mu);
		return;
	}
}

static void continue_op(struct req *r)
{
	pthread_mutex_lock(&r->mu);
	r->completed = false;
	pthread_mutex_unlock(&r->mu);
	drive_op(r);
}

static int parse_selectors(struct req *r, struct obj_filter *f, struct label_selector *ls,
			   struct field_selector *fs, struct api_error *err)
{
	_cleanup_free_ char *msg = NULL;
	const char *lsel = req_query(r, "labelSelector");
	const char *fsel = req_query(r, "fieldSelector");

	*ls = (struct label_selector){ 0 };
	*fs = (struct field_selector){ 0 };
	if (label_selector_parse(lsel, ls, &msg) < 0) {
		api_error_bad_request(err, "unable to parse requirement: %s", msg ? msg : lsel);
		return -EINVAL;
	}
	if (field_selector_parse(fsel, fs, &msg) < 0) {
		label_selector_release(ls);
		api_error_bad_request(err, "%s", msg ? msg : "invalid field selector");
		return -EINVAL;
	}
	const struct resource *st = resource_storage(r->route.res);
	for (size_t i = 0; i < fs->n; i++) {
		const char *field = fs->reqs[i].field;
		if (!streq(field, "metadata.name") && !streq(field, "metadata.namespace") &&
		    resource_field_index(st, field) < 0) {
			/* The message first: field belongs to fs. */
			api_error_bad_request(err, "field label not supported: %s", field);
			label_selector_release(ls);
			field_selector_release(fs);
			return -EINVAL;
		}
	}
	f->ns = r->route.ns;
	f->name = r->route.name; /* legacy watch of one object */
	f->labels = ls->n || ls->match_nothing ? ls : NULL;
	f->fields = fs->n ? fs : NULL;
	return 0;
}

/* ---- list ---- */

struct continue_token {
	int64_t rev;
	char *start;
};

static char *encode_continue(int64_t rev, const char *key)
{
	_cleanup_json_ json_t *j = json_pack("{s:s, s:I, s:s}", "v", "meta.k8s.io/v1", "rv",
					     (json_int_t)rev, "start", key);
	_cleanup_free_ char *s = json_dump_compact(j, NULL);
	return base64url_encode(s, strlen(s));
}

static int decode_continue(const char *tok, struct continue_token *ret)
{
	void *raw;
	size_t len;
	if (base64url_decode(tok, strlen(tok), &raw, &len) < 0)
		return -EINVAL;
	_cleanup_free_ void *rawp = raw;
	_cleanup_json_ json_t *j = json_loadb(raw, len, 0, NULL);
	const char *start = json_get_str(j, "start");
	int64_t rev = json_get_int(j, "rv", 0);
	if (!start || rev <= 0)
		return -EINVAL;
	ret->rev = rev;
	ret->start = xstrdup(start);
	return 0;
}

/* A list answer streamed from the objects' own bytes: head, items joined
 * by commas, tail. Nothing is copied into one big buffer. */
struct list_response {
	struct obj **objs;
	size_t n;
	char *head;
	char *tail;
	size_t item;   /* next item to send */
	size_t offset; /* within the current piece */
	int piece;     /* 0 head, 1 items, 2 tail, 3 done */
};

static void list_response_free(void *cls)
{
	struct list_response *lr = cls;
	for (size_t i = 0; i < lr->n; i++)
		obj_unref(lr->objs[i]);
	free(lr->objs);
	free(lr->head);
	free(lr->tail);
	free(lr);
}

static size_t copy_piece(const char *src, size_t len, size_t *offset, char *buf, size_t max)
{
	size_t n = MIN(len - *offset, max);
	memcpy(buf, src + *offset, n);
	*offset += n;
	return n;
}

static ssize_t list_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct list_response *lr = cls;
	size_t done = 0;
	while (done < max && lr->piece < 3) {
		if (lr->piece == 0) {
			size_t len = strlen(lr->head);
			done += copy_piece(lr->head, len, &lr->offset, buf + done, max - done);
			if (lr->offset == len) {
				lr->piece = 1;
				lr->offset = 0;
			}
		} else if (lr->piece == 1) {
			if (lr->item == lr->n) {
				lr->piece = 2;
				lr->offset = 0;
				continue;
			}
			/* Item i is sent as ",<json>" except the first. */
			struct obj *o = lr->objs[lr->item];
			size_t sep = lr->item ? 1 : 0, len = sep + o->len;
			if (lr->offset < sep) {
				buf[done++] = ',';
				lr->offset = 1;
				continue;
			}
			size_t off = lr->offset - sep;
			size_t n = MIN(o->len - off, max - done);
			memcpy(buf + done, obj_json(o) + off, n);
			done += n;
			lr->offset += n;
			if (lr->offset == len) {
				lr->item++;
				lr->offset = 0;
			}
		} else {
			size_t len = strlen(lr->tail);
			done += copy_piece(lr->tail, len, &lr->offset, buf + done, max - done);
			if (lr->offset == len)
				lr->piece = 3;
		}
	}
	if (done == 0 && lr->piece == 3)
		return MHD_CONTENT_READER_END_OF_STREAM;
	return (ssize_t)done;
}

static void serve_list(struct req *r)
{
	const struct resource *res = r->route.res;
	struct obj_filter f = { 0 };
	struct label_selector ls;
	struct field_selector fs;
	struct api_error err = { 0 };
	struct obj_list l = { 0 };
	struct continue_token ct = { 0 };
	size_t limit = 0;

	if (parse_selectors(r, &f, &ls, &fs, &err) < 0) {
		req_respond_error(r, &err);
		api_error_release(&err);
		return;
	}
	f.name = NULL;
	const char *lim = req_query(r, "limit");
	if (lim && *lim)
		limit = (size_t)strtoull(lim, NULL, 10);
	const char *cont = req_query(r, "continue");
	const char *rvm = req_query(r, "resourceVersionMatch");
	const char *rvq = req_query(r, "resourceVersion");
	int64_t at_rev = 0;
	if (!isempty(cont)) {
		if (decode_continue(cont, &ct) < 0) {
			api_error_bad_request(&err,
					      "continue key is not valid: incorrect encoded start "
					      "resourceVersion (version meta.k8s.io/v1)");
			goto error;
		}
		if (ct.rev != cache_rev(r->srv->cache))
			at_rev = ct.rev;
	} else if (rvm && streq(rvm, "Exact") && !isempty(rvq)) {
		at_rev = strtoll(rvq, NULL, 10);
		if (at_rev == cache_rev(r->srv->cache))
			at_rev = 0;
	}
	if (at_rev) {
		int rr = cache_list_at(r->srv->cache, res, &f, ct.start, limit, at_rev, &l);
		if (rr == -ERANGE) {
			if (ct.start)
				api_error_gone(&err,
					       "The provided continue parameter is too old to "
					       "display a consistent list result. You can start a "
					       "new list without the continue parameter.");
			else
				api_error_gone(
				    &err, "The resourceVersion for the provided list is too old.");
			goto error;
		}
		if (rr < 0) {
			api_error_internal(&err, "listing from storage: %s", strerror(-rr));
			goto error;
		}
	} else {
		cache_list(r->srv->cache, res, &f, ct.start, limit, &l);
		if (ct.rev)
			l.rev = ct.rev;
	}

	if (r->accept == ACCEPT_TABLE) {
		json_t *t = table_build(res, l.items, l.n, req_query(r, "includeObject"), true,
					(int64_t)now_usec_realtime());
		json_t *meta = json_object_ensure(t, "metadata");
		char rv[24];
		snprintf(rv, sizeof(rv), "%lld", (long long)l.rev);
		json_set_str(meta, "resourceVersion", rv);
		if (l.next_key) {
			_cleanup_free_ char *tok = encode_continue(l.rev, l.next_key);
			json_set_str(meta, "continue", tok);
			if (!f.labels && !f.fields && !l.remaining_unknown)
				json_set_int(meta, "remainingItemCount", (int64_t)l.remaining);
		}
		req_respond_json(r, 200, t);
		goto out;
	}

	/* Plain list: the objects' own bytes, joined without copying. */
	struct list_response *lr = xnew(struct list_response, 1);
	struct strbuf head = STRBUF_INIT;
	strbuf_addf(
	    &head,
	    "{\"kind\":\"%sList\",\"apiVersion\":\"%s\",\"metadata\":{\"resourceVersion\":\"%lld\"",
	    res->kind, res->api_version, (long long)l.rev);
	if (l.next_key) {
		_cleanup_free_ char *tok = encode_continue(l.rev, l.next_key);
		strbuf_addf(&head, ",\"continue\":\"%s\"", tok);
		/* The count is unknown to clients when a selector filtered it. */
		if (!f.labels && !f.fields && !l.remaining_unknown)
			strbuf_addf(&head, ",\"remainingItemCount\":%zu", l.remaining);
	}
	strbuf_addstr(&head, "},\"items\":[");
	lr->head = strbuf_detach(&head, NULL);
	lr->tail = xstrdup("]}");
	bool convert = resource_storage(res) != res;
	if (convert) {
		for (size_t i = 0; i < l.n; i++) {
			json_t *c = convert_from_storage(res, l.items[i]);
			char *s = json_dump_compact(c, NULL);
			json_decref(c);
			obj_unref(l.items[i]);
			/* Wrap converted JSON in a throwaway object for uniform freeing. */
			l.items[i] = obj_new_from_bytes(res, "", s, strlen(s), 0, 0);
			free(s);
		}
	}
	lr->objs = TAKE_PTR(l.items);
	lr->n = l.n;
	l.n = 0;
	uint64_t total = strlen(lr->head) + strlen(lr->tail);
	for (size_t i = 0; i < lr->n; i++)
		total += lr->objs[i]->len + (i ? 1 : 0);
	struct MHD_Response *resp = MHD_create_response_from_callback(total, 64 * 1024, list_reader,
								      lr, list_response_free);
	add_common_headers(resp, CT_JSON);
	req_respond(r, 200, resp);
	goto out;

error:
	req_respond_error(r, &err);
out:
	api_error_release(&err);
	obj_list_release(&l);
	free(ct.start);
	label_selector_release(&ls);
	field_selector_release(&fs);
}

/* ---- dispatch ---- */

/* A deletecollection running on its own thread. */
struct bg_collection {
	struct req *r;
	struct label_selector ls;
	struct field_selector fs;
	bool done;
};

static void *bg_collection_main(void *arg)
{
	struct bg_collection *bg = arg;
	struct req *r = bg->r;
	api_op_run(&r->op);
	pthread_mutex_lock(&r->mu);
	bg->done = true;
	bool resume = r->suspended;
	r->suspended = false;
	pthread_mutex_unlock(&r->mu);
	if (resume)
		MHD_resume_connection(r->conn);
	return NULL;
}

static void bg_collection_free(struct bg_collection *bg)
{
	if (!bg)
		return;
	label_selector_release(&bg->ls);
	field_selector_release(&bg->fs);
	free(bg);
}

static void start_op(struct req *r, enum api_verb verb, enum op_subresource sub, json_t *body)
{
	struct api_op *op = &r->op;
	api_op_init(op, r->srv, r->route.res, verb);
	op->sub = sub;
	op->ns = r->route.ns;
	op->name = r->route.name;
	op->user = r->user;
	op->body = body;
	op->on_done = op_completed;
	op->userdata = r;
	r->op_active = true;
	drive_op(r);
}

static enum patch_type patch_type_of(struct req *r)
{
	_cleanup_free_ char *mt = media_type(req_header(r, MHD_HTTP_HEADER_CONTENT_TYPE));
	if (streq(mt, "application/json-patch+json"))
		return PATCH_JSON;
	if (streq(mt, "application/merge-patch+json"))
		return PATCH_MERGE;
	if (streq(mt, "application/strategic-merge-patch+json"))
		return PATCH_STRATEGIC;
	if (streq(mt, "application/apply-patch+yaml") || streq(mt, "application/apply-patch+json"))
		return PATCH_APPLY;
	return PATCH_NONE;
}

/* DeleteOptions from the body and the query. */
static json_t *delete_options(struct req *r, struct api_op *op)
{
	json_t *body;
	if (r->body.len) {
		body = decode_body(r, false, &op->err);
		if (!body)
			return NULL;
		if (!json_is_object(body)) {
			json_decref(body);
			api_error_bad_request(&op->err, "DeleteOptions must be a JSON object");
			return NULL;
		}
	} else {
		body = json_object();
	}
	/* kubectl delete --dry-run=server sends dryRun in the body */
	size_t i;
	json_t *d;
	json_array_foreach(json_object_get(body, "dryRun"), i, d)
	{
		if (!streq_ptr(json_string_value(d), "All")) {
			api_error_bad_request(&op->err, "Invalid dry run value: %s",
					      json_string_value(d) ? json_string_value(d) : "");
			json_decref(body);
			return NULL;
		}
		op->dry_run = true;
	}
	const char *gp = req_query(r, "gracePeriodSeconds");
	if (gp && *gp)
		json_set_int(body, "gracePeriodSeconds", strtoll(gp, NULL, 10));
	const char *pp = req_query(r, "propagationPolicy");
	if (pp && *pp)
		json_set_str(body, "propagationPolicy", pp);
	const char *policy = json_get_str(body, "propagationPolicy");
	if (policy && !streq(policy, "Orphan") && !streq(policy, "Background") &&
	    !streq(policy, "Foreground")) {
		struct field_errors fe = { 0 };
		static const char *const allowed[] = { "Background", "Foreground", "Orphan", NULL };
		fe_not_supported(&fe, "propagationPolicy",
				 json_object_get(body, "propagationPolicy"), allowed);
		api_error_invalid(&op->err, r->route.res, r->route.name, &fe);
		field_errors_release(&fe);
		json_decref(body);
		return NULL;
	}
	return body;
}

static void serve_write(struct req *r, enum api_verb verb, enum op_subresource sub)
{
	struct api_op *op = &r->op;
	json_t *body = NULL;

	api_op_init(op, r->srv, r->route.res, verb);
	op->sub = sub;
	op->ns = r->route.ns;
	op->name = r->route.name;
	op->user = r->user;
	op->user_agent = req_header(r, MHD_HTTP_HEADER_USER_AGENT);
	if (parse_write_options(r, op) < 0)
		goto fail;

	if (verb == VERB_PATCH) {
		op->patch_type = patch_type_of(r);
		if (op->patch_type == PATCH_NONE) {
			api_error_set(&op->err, 415, "UnsupportedMediaType",
				      "the body of the request was in an unknown format - accepted "
				      "media types include: application/json-patch+json, "
				      "application/merge-patch+json, application/apply-patch+yaml, "
				      "application/strategic-merge-patch+json");
			goto fail;
		}
		if (op->patch_type == PATCH_APPLY && isempty(op->field_manager)) {
			api_error_bad_request(&op->err, "PATCH, application/apply-patch+yaml "
							"requests require fieldManager to be set");
			goto fail;
		}
	}

	if (verb == VERB_DELETE || verb == VERB_DELETECOLLECTION) {
		body = delete_options(r, op);
		if (!body)
			goto fail;
	} else {
		body = decode_body(r, verb == VERB_PATCH, &op->err);
		if (!body)
			goto fail;
		if (verb != VERB_PATCH) {
			if (api_op_check_body(op, body, r->body.buf, r->body.len) < 0)
				goto fail;
			const struct resource *res = r->route.res;
			if (sub == SUB_NONE && resource_storage(res) != res && res->to_storage) {
				json_t *c = res->to_storage(body);
				json_decref(body);
				body = c;
			}
		}
	}
	op->body = body;
	body = NULL;

	if (verb == VERB_DELETECOLLECTION) {
		/* Many writes: run them on a thread of their own so that this
		 * worker's other connections are not held up. */
		struct bg_collection *bg = xnew(struct bg_collection, 1);
		if (parse_selectors(r, &op->filter, &bg->ls, &bg->fs, &op->err) < 0) {
			free(bg);
			goto fail;
		}
		op->filter.name = NULL;
		bg->r = r;
		r->bg = bg;
		pthread_mutex_lock(&r->mu);
		r->suspended = true;
		MHD_suspend_connection(r->conn);
		pthread_mutex_unlock(&r->mu);
		pthread_t t;
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &attr, bg_collection_main, bg) != 0)
			bg_collection_main(bg);
		pthread_attr_destroy(&attr);
		return;
	}

	op->on_done = op_completed;
	op->userdata = r;
	r->op_active = true;
	drive_op(r);
	return;

fail:
	json_decref(body);
	req_respond_error(r, &op->err);
	add_warnings(r, op);
}

/* Create-only resources answered from the request (reviews). */
static void serve_virtual(struct req *r)
{
	const struct resource *res = r->route.res;
	struct api_error err = { 0 };
	json_t *result = NULL;

	if (!streq(r->method, "POST") || r->route.name) {
		req_respond_status(
		    r, 405, "MethodNotAllowed",
		    "the server does not allow this method on the requested resource");
		return;
	}
	/* Reviews need nothing from a protobuf body (kubectl's typed client
	 * sends one): answer from the credentials. */
	_cleanup_free_ char *mt = media_type(req_header(r, MHD_HTTP_HEADER_CONTENT_TYPE));
	bool proto = streq(mt, "application/vnd.kubernetes.protobuf");
	_cleanup_json_ json_t *body = proto ? json_object() : decode_body(r, false, &err);
	if (proto)
		json_object_set_new(body, "spec", json_pack("{s:{}}", "resourceAttributes"));
	if (body && !json_is_object(body))
		api_error_bad_request(&err, "the request body must be a JSON object");
	if (!err.code) {
		struct api_ctx ctx = {
			.srv = r->srv,
			.res = res,
			.user = r->user,
			.groups = r->cc ? (const char *const *)r->cc->groups : NULL,
			.now_usec = (int64_t)now_usec_realtime(),
		};
		if (res->create_virtual(&ctx, body, &result, &err) == 0) {
			req_respond_json(r, 201, result);
			return;
		}
	}
	req_respond_error(r, &err);
	api_error_release(&err);
}

static void serve_resource(struct req *r)
{
	const struct resource *res = r->route.res;
	const char *m = r->method;
	bool ok;
	enum op_subresource sub = subresource(r, &ok);

	if (proxy_handles(r)) {
		proxy_serve(r); /* pods/log, exec, attach, portforward, proxy */
		return;
	}

	if (res->flags & RES_VIRTUAL) {
		serve_virtual(r);
		return;
	}
	if (!ok || r->route.rest) {
		respond_not_found(r);
		return;
	}
	if (streq(m, "GET")) {
		if (r->route.name && !r->route.legacy_watch) {
			if (sub == SUB_BINDING || sub == SUB_FINALIZE) {
				req_respond_status(r, 405, "MethodNotAllowed",
						   "the server does not allow this method on the "
						   "requested resource");
				return;
			}
			start_op(r, VERB_GET, sub, NULL);
			return;
		}
		if (query_true(r, "watch") || r->route.legacy_watch) {
			watch_serve(r, NULL);
			return;
		}
		serve_list(r);
		return;
	}
	if (streq(m, "POST")) {
		if (!r->route.name && sub == SUB_NONE) {
			if (res->namespaced && !r->route.ns) {
				respond_not_found(r);
				return;
			}
			serve_write(r, VERB_CREATE, SUB_NONE);
			return;
		}
		if (r->route.name && sub == SUB_BINDING) {
			serve_write(r, VERB_CREATE, SUB_BINDING);
			return;
		}
	} else if (streq(m, "PUT") && r->route.name && sub != SUB_BINDING) {
		serve_write(r, VERB_UPDATE, sub);
		return;
	} else if (streq(m, "PATCH") && r->route.name && sub != SUB_BINDING &&
		   sub != SUB_FINALIZE) {
		serve_write(r, VERB_PATCH, sub);
		return;
	} else if (streq(m, "DELETE") && sub == SUB_NONE) {
		serve_write(r, r->route.name ? VERB_DELETE : VERB_DELETECOLLECTION, SUB_NONE);
		return;
	}
	req_respond_status(r, 405, "MethodNotAllowed",
			   "the server does not allow this method on the requested resource");
}

static void serve_health(struct req *r)
{
	req_respond_buf(r, 200, xstrdup("ok"), 2, "text/plain; charset=utf-8");
}

static void serve_version(struct req *r)
{
	json_t *v = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "major", "1",
			      "minor", "32", "gitVersion", "v1.32.0-c8s", "gitCommit", "c8s",
			      "gitTreeState", "clean", "buildDate", "2026-11-29T00:00:00Z",
			      "goVersion", "c8s (C)", "compiler", "gcc", "platform", "linux/amd64");
	req_respond_json(r, 200, v);
}

static void dispatch(struct req *r)
{
	if (r->body_too_large) {
		req_respond_status(r, 413, "RequestEntityTooLarge",
				   "Request entity too large: limit is %zu", r->srv->opts.max_body);
		return;
	}
	switch (r->route.kind) {
	case R_HEALTH:
		serve_health(r);
		return;
	case R_VERSION:
		serve_version(r);
		return;
	case R_CACERTS:
		req_respond_buf(r, 200, xstrdup(r->srv->certs.ca_cert_pem),
				strlen(r->srv->certs.ca_cert_pem), "text/plain; charset=utf-8");
		return;
	case R_ROOT:
	case R_API:
	case R_APIS:
	case R_API_GROUP:
	case R_GROUP_VERSION:
		discovery_serve(r);
		return;
	case R_OPENAPI_V2:
	case R_OPENAPI_V3:
	case R_OPENAPI_V3_GV:
		openapi_serve(r);
		return;
	case R_RESOURCE:
		serve_resource(r);
		return;
	case R_NOT_FOUND:
		break;
	}
	respond_not_found(r);
}

/* ---- libmicrohttpd callbacks ---- */

static void req_free(struct req *r)
{
	if (!r)
		return;
	if (r->resp)
		MHD_destroy_response(r->resp);
	api_op_release(&r->op);
	route_release(&r->route);
	strbuf_release(&r->body);
	free(r->path);
	pthread_mutex_destroy(&r->mu);
	if (r->ext_free)
		r->ext_free(r->ext);
	free(r);
}

static enum MHD_Result queue(struct req *r)
{
	struct MHD_Response *resp = TAKE_PTR(r->resp);
	enum MHD_Result ret = MHD_queue_response(r->conn, r->code, resp);
	MHD_destroy_response(resp);
	log_v(4, "%s %s -> %u", r->method, r->path, r->code);
	return ret;
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *conn, const char *url,
				      const char *method, const char *version,
				      const char *upload_data, size_t *upload_data_size,
				      void **con_cls)
{
	struct apiserver *srv = cls;
	struct req *r = *con_cls;

	if (!r) {
		r = xnew(struct req, 1);
		r->srv = srv;
		r->conn = conn;
		r->method = method;
		r->path = xstrdup(url);
		pthread_mutex_init(&r->mu, NULL);
		const union MHD_ConnectionInfo *ci =
		    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
		r->cc = ci ? ci->socket_context : NULL;
		*con_cls = r;
		route_parse(url, &r->route);
		r->accept = parse_accept(req_header(r, MHD_HTTP_HEADER_ACCEPT));
		r->user = authenticate(r);
		if (!r->user && !public_path(&r->route)) {
			req_respond_status(r, 401, "Unauthorized", "Unauthorized");
			return queue(r);
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (r->body.len + *upload_data_size > srv->opts.max_body)
			r->body_too_large = true;
		else
			strbuf_add(&r->body, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (r->resp)
		return queue(r);
	if (r->bg) {
		pthread_mutex_lock(&r->mu);
		bool done = r->bg->done;
		pthread_mutex_unlock(&r->mu);
		if (!done)
			return MHD_YES;
		respond_result(r, &r->op);
		bg_collection_free(r->bg);
		r->bg = NULL;
		return queue(r);
	}
	if (r->op_active)
		continue_op(r);
	else
		dispatch(r);
	if (r->resp)
		return queue(r);
	return MHD_YES;
}

static void completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	req_free(*con_cls);
	*con_cls = NULL;
}

static void connection_cb(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
		*socket_context = xnew(struct conn_ctx, 1);
	else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		conn_ctx_free(*socket_context);
		*socket_context = NULL;
	}
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	size_t n = strlen(buf);
	while (n && buf[n - 1] == '\n')
		buf[--n] = 0;
	log_v(2, "http: %s", buf);
}

int http_start(struct apiserver *srv)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TLS |
			 MHD_ALLOW_SUSPEND_RESUME | MHD_ALLOW_UPGRADE | MHD_USE_ERROR_LOG |
			 MHD_USE_TURBO;

	if (inet_pton(AF_INET, srv->opts.bind_address, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)srv->opts.secure_port);
	} else if (inet_pton(AF_INET6, srv->opts.bind_address, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)srv->opts.secure_port);
		flags |= MHD_USE_IPv6;
	} else {
		log_error("--bind-address %s is not an IP address", srv->opts.bind_address);
		return -EINVAL;
	}

	srv->mhd = MHD_start_daemon(
	    flags, (uint16_t)srv->opts.secure_port, NULL, NULL, access_handler, srv,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_SOCK_ADDR, &ss,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)srv->opts.threads, MHD_OPTION_HTTPS_MEM_KEY,
	    srv->certs.serving_key_pem, MHD_OPTION_HTTPS_MEM_CERT, srv->certs.serving_cert_pem,
	    MHD_OPTION_HTTPS_MEM_TRUST, srv->certs.ca_cert_pem, MHD_OPTION_HTTPS_PRIORITIES,
	    "NORMAL:-VERS-TLS1.0:-VERS-TLS1.1", MHD_OPTION_NOTIFY_COMPLETED, completed_cb, srv,
	    MHD_OPTION_NOTIFY_CONNECTION, connection_cb, srv, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned)0, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(128 * 1024),
	    MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024, MHD_OPTION_END);
	if (!srv->mhd) {
		log_error("cannot listen on %s:%d (address in use, or TLS setup failed)",
			  srv->opts.bind_address, srv->opts.secure_port);
		return -EADDRINUSE;
	}
	return 0;
}

int http_start_local(struct apiserver *srv, const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	/* The data directory is ours (the store's lock says so): a socket
	 * left there belongs to a server that is gone. */
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	mode_t old = umask(0077);
	int r = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (r < 0 || listen(fd, 1024) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	srv->mhd_local = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
		MHD_ALLOW_UPGRADE | MHD_USE_ERROR_LOG | MHD_USE_TURBO,
	    0, NULL, NULL, access_handler, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	    MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)2,
	    MHD_OPTION_NOTIFY_COMPLETED, completed_cb, srv, MHD_OPTION_NOTIFY_CONNECTION,
	    connection_cb, srv, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)0,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(128 * 1024), MHD_OPTION_END);
	if (!srv->mhd_local) {
		close(fd);
		unlink(path);
		return -EIO;
	}
	srv->local_socket = xstrdup(path);
	return 0;
}

void http_stop(struct apiserver *srv)
{
	if (srv->mhd_local) {
		MHD_stop_daemon(srv->mhd_local);
		srv->mhd_local = NULL;
		unlink(srv->local_socket);
		free(srv->local_socket);
		srv->local_socket = NULL;
	}
	if (srv->mhd) {
		MHD_stop_daemon(srv->mhd);
		srv->mhd = NULL;
	}
}
