/* SPDX-License-Identifier: Apache-2.0 */
#include <assert.h>
#include <pthread.h>
#include <stdarg.h>

#include "apiserver/apiserver.h"
#include "apiserver/cache.h"
#include "apiserver/meta.h"
#include "apiserver/ops.h"
#include "apiserver/patch.h"
#include "apiserver/schema.h"
#include "apiserver/ssa.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/random.h"
#include "lib/selector.h"
#include "lib/timeutil.h"

enum { ST_START = 0, ST_SUBMITTED = 1 };
#define MAX_RETRIES 32

void api_op_init(struct api_op *op, struct apiserver *srv, const struct resource *res,
		 enum api_verb verb)
{
	*op = (struct api_op){
		.srv = srv,
		.res = res,
		.verb = verb,
		.code = 200,
	};
}

void api_op_release(struct api_op *op)
{
	json_decref(op->body);
	json_decref(op->result);
	json_decref(op->pending);
	json_decref(op->old);
	obj_unref(op->result_obj);
	obj_unref(op->cur);
	free(op->key);
	free(op->store_key);
	free(op->value);
	for (size_t i = 0; i < op->nwarnings; i++)
		free(op->warnings[i]);
	free(op->warnings);
	api_error_release(&op->err);
	op->body = op->result = op->pending = op->old = NULL;
	op->result_obj = op->cur = NULL;
	op->key = op->store_key = op->value = NULL;
	op->warnings = NULL;
	op->nwarnings = 0;
}

void api_op_warn(struct api_op *op, const char *fmt, ...)
{
	va_list ap;
	char *s;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	op->warnings = xrealloc(op->warnings, (op->nwarnings + 2) * sizeof(char *));
	op->warnings[op->nwarnings++] = s;
	op->warnings[op->nwarnings] = NULL;
}

const char *api_op_manager(const struct api_op *op)
{
	static __thread char buf[128];
	if (!isempty(op->field_manager))
		return op->field_manager;
	if (!isempty(op->user_agent)) {
		size_t n = strcspn(op->user_agent, "/ ");
		snprintf(buf, sizeof(buf), "%.*s", (int)MIN(n, sizeof(buf) - 1), op->user_agent);
		return buf;
	}
	return "unknown";
}

char *object_key(const struct resource *res, const char *ns, const char *name)
{
	if (res->namespaced)
		return xasprintf("%s/%s", ns ? ns : "", name);
	return xstrdup(name);
}

char *store_key(const struct resource *res, const char *ns, const char *name)
{
	const struct resource *s = resource_storage(res);
	_cleanup_free_ char *k = object_key(res, ns, name);
	return xasprintf("/registry/%s/%s", s->storage ? s->storage : s->plural, k);
}

static struct api_ctx ctx_for(struct api_op *op)
{
	return (struct api_ctx){
		.srv = op->srv,
		.res = resource_storage(op->res),
		.ns = op->ns,
		.user = op->user,
		.now_usec = (int64_t)now_usec_realtime(),
		.dry_run = op->dry_run,
	};
}

static int op_done_error(struct api_op *op)
{
	op->state = ST_START;
	return OP_DONE;
}

static void sop_done(struct store_op *sop)
{
	struct api_op *op = sop->userdata;
	op->on_done(op);
}

/* Serialize what is stored: the object without its resourceVersion. */
static void serialize_pending(struct api_op *op)
{
	json_t *meta = json_object_get(op->pending, "metadata");
	_cleanup_json_ json_t *rv = json_incref(json_object_get(meta, "resourceVersion"));
	json_object_del(meta, "resourceVersion");
	free(op->value);
	op->value = json_dump_compact(op->pending, NULL);
	if (rv)
		json_object_set(meta, "resourceVersion", rv);
}

static int submit(struct api_op *op, enum store_op_type type, int64_t expect_rev)
{
	assert(op->on_done);
	op->sop = (struct store_op){
		.type = type,
		.key = op->store_key,
		.value = op->value,
		.value_len = op->value ? strlen(op->value) : 0,
		.expect_rev = expect_rev,
		/* The cache builds its copy from this instead of parsing. */
		.origin = type == STORE_OP_DELETE ? NULL : op->pending,
		.done = sop_done,
		.userdata = op,
	};
	op->state = ST_SUBMITTED;
	store_submit(op->srv->store, &op->sop);
	return OP_PENDING;
}

static void set_rv(json_t *obj, int64_t rev)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "%lld", (long long)rev);
	json_set_str(json_object_ensure(obj, "metadata"), "resourceVersion", buf);
}

static int finish_write(struct api_op *op, int code)
{
	op->code = code;
	op->state = ST_START;
	/* The cache already holds what was written, serialized: answer with
	 * it unless a later write replaced it meanwhile. */
	if (op->sop.type != STORE_OP_DELETE && op->key) {
		struct obj *o = cache_get(op->srv->cache, op->res, op->key);
		if (o && o->rev == op->sop.rev) {
			obj_unref(op->result_obj);
			op->result_obj = o;
			json_decref(op->result);
			op->result = NULL;
			return OP_DONE;
		}
		obj_unref(o);
	}
	set_rv(op->pending, op->sop.rev);
	json_decref(op->result);
	op->result = op->pending;
	op->pending = NULL;
	return OP_DONE;
}

static const char *meta_str(json_t *obj, const char *field)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), field));
}

/* The namespace object for a namespaced request, checking it can take new
 * content. Returns 0 or sets op->err. */
static int check_namespace(struct api_op *op, const char *name_for_error)
{
	const struct resource *nsres = resource_find("", "v1", "namespaces");
	_cleanup_obj_ struct obj *ns = cache_get(op->srv->cache, nsres, op->ns);
	if (!ns) {
		api_error_not_found(&op->err, nsres, op->ns);
		return -ENOENT;
	}
	/* Every create checks its namespace: parse it only when the name of
	 * the field is in the text (as the server serialized it). */
	if (!memmem(obj_json(ns), ns->len, "\"deletionTimestamp\"", 19))
		return 0;
	_cleanup_json_ json_t *j = obj_parse(ns);
	if (meta_str(j, "deletionTimestamp")) {
		_cleanup_free_ char *why = xasprintf(
		    "unable to create new content in namespace %s because it is being terminated",
		    op->ns);
		api_error_forbidden(&op->err, op->res, name_for_error, why);
		op->err.reason = "Forbidden";
		return -EACCES;
	}
	return 0;
}

/* ---- get ---- */

static json_t *scale_of(const struct resource *res, json_t *obj)
{
	json_t *s = json_object(), *meta = json_object(), *spec = json_object(),
	       *status = json_object();
	json_t *om = json_object_get(obj, "metadata");
	const char *copy[] = { "name", "namespace", "uid", "resourceVersion", "creationTimestamp" };

	json_set_str(s, "kind", "Scale");
	json_set_str(s, "apiVersion", "autoscaling/v1");
	for (size_t i = 0; i < ARRAY_SIZE(copy); i++) {
		json_t *v = json_object_get(om, copy[i]);
		if (v)
			json_object_set(meta, copy[i], v);
	}
	json_object_set_new(s, "metadata", meta);
	json_set_int(spec, "replicas", json_get_int(obj, "spec.replicas", 1));
	json_object_set_new(s, "spec", spec);
	json_set_int(status, "replicas", json_get_int(obj, "status.replicas", 0));
	struct label_selector sel;
	_cleanup_free_ char *err = NULL;
	if (label_selector_from_json(json_get(obj, "spec.selector"), &sel, &err) == 0) {
		_cleanup_free_ char *str = label_selector_to_string(&sel);
		json_set_str(status, "selector", str);
		label_selector_release(&sel);
	}
	json_object_set_new(s, "status", status);
	(void)res;
	return s;
}

static int op_get(struct api_op *op)
{
	_cleanup_free_ char *key = object_key(op->res, op->ns, op->name);
	struct obj *o = cache_get(op->srv->cache, op->res, key);
	if (!o) {
		api_error_not_found(&op->err, op->res, op->name);
		return OP_DONE;
	}
	if (op->sub == SUB_SCALE) {
		_cleanup_json_ json_t *j = obj_parse(o);
		op->result = scale_of(op->res, j);
		obj_unref(o);
		return OP_DONE;
	}
	op->result_obj = o;
	return OP_DONE;
}

/* ---- create ---- */

static void generate_name(struct api_op *op, json_t *meta)
{
	const char *prefix = json_string_value(json_object_get(meta, "generateName"));
	size_t max = op->res->name_rule == NAME_DNS1123_SUBDOMAIN ? 253 : 63;
	char suffix[6];
	random_name_suffix(suffix, 5);
	size_t plen = MIN(strlen(prefix), max - 5);
	_cleanup_free_ char *name = xasprintf("%.*s%s", (int)plen, prefix, suffix);
	json_set_str(meta, "name", name);
}

static int prepare_keys(struct api_op *op, const char *name)
{
	free(op->key);
	free(op->store_key);
	op->key = object_key(op->res, op->ns, name);
	op->store_key = store_key(op->res, op->ns, name);
	return 0;
}

static int op_create(struct api_op *op)
{
	struct api_ctx ctx = ctx_for(op);
	const struct resource *res = resource_storage(op->res);

	if (op->state == ST_SUBMITTED) {
		int r = op->sop.result;
		op->state = ST_START;
		if (r == 0) {
			finish_write(op, 201);
			if (res->flags & RES_CREATION_EVENT) {
				json_t *written = op->pending ? op->pending : op->result;
				set_rv(written, op->sop.rev);
				recorder_created(op->srv, res, written, op->user);
			}
			return OP_DONE;
		}
		if (r == -EEXIST && op->generated_name && ++op->attempts < 8) {
			json_t *meta = json_object_get(op->pending, "metadata");
			generate_name(op, meta);
			prepare_keys(op, meta_str(op->pending, "name"));
			serialize_pending(op);
			return submit(op, STORE_OP_CREATE, 0);
		}
		if (res->release)
			res->release(&ctx, op->pending, NULL);
		if (r == -EEXIST)
			api_error_already_exists(&op->err, op->res, meta_str(op->pending, "name"));
		else
			api_error_internal(&op->err, "storage error: %s", strerror(-r));
		return OP_DONE;
	}

	json_decref(op->pending);
	op->pending = op->body;
	op->body = NULL;
	json_t *obj = op->pending;
	if (!json_is_object(obj)) {
		api_error_bad_request(&op->err, "the request body must be a JSON object");
		return OP_DONE;
	}
	json_t *meta = json_object_ensure(obj, "metadata");

	if (res->namespaced) {
		const char *bns = json_string_value(json_object_get(meta, "namespace"));
		if (!isempty(bns) && !streq(bns, op->ns)) {
			api_error_bad_request(&op->err,
					      "the namespace of the provided object does "
					      "not match the namespace sent on the request");
			return OP_DONE;
		}
		/* op->ns may point into this very object: only set it when absent. */
		if (isempty(bns))
			json_set_str(meta, "namespace", op->ns);
	} else {
		json_object_del(meta, "namespace");
	}

	const char *rv = json_string_value(json_object_get(meta, "resourceVersion"));
	if (!isempty(rv)) {
		api_error_internal(&op->err,
				   "resourceVersion should not be set on objects to be created");
		return OP_DONE;
	}

	const char *name = json_string_value(json_object_get(meta, "name"));
	const char *gen = json_string_value(json_object_get(meta, "generateName"));
	if (isempty(name) && !isempty(gen)) {
		generate_name(op, meta);
		op->generated_name = true;
	}
	name = json_string_value(json_object_get(meta, "name"));

	if (res->namespaced && check_namespace(op, name) < 0)
		return OP_DONE;

	if (res->defaults)
		res->defaults(obj);
	meta_prepare_create(&ctx, obj);
	if (res->prepare_create)
		res->prepare_create(&ctx, obj);

	struct field_errors fe = { 0 };
	meta_validate(&ctx, obj, NULL, &fe);
	if (res->validate)
		res->validate(&ctx, obj, NULL, &fe);
	if (fe.n) {
		api_error_invalid(&op->err, res, name, &fe);
		field_errors_release(&fe);
		return OP_DONE;
	}
	prepare_keys(op, name);
	for (;;) {
		_cleanup_obj_ struct obj *existing = cache_get(op->srv->cache, op->res, op->key);
		if (!existing)
			break;
		if (!op->generated_name || ++op->attempts >= 8) {
			api_error_already_exists(&op->err, op->res, name);
			return OP_DONE;
		}
		generate_name(op, meta);
		name = json_string_value(json_object_get(meta, "name"));
		prepare_keys(op, name);
	}
	if (res->allocate && res->allocate(&ctx, obj, NULL, &op->err) < 0)
		return OP_DONE;
	if (op->dry_run) {
		if (res->release)
			res->release(&ctx, obj, NULL);
		op->result = TAKE_PTR(op->pending);
		op->code = 201;
		return OP_DONE;
	}
	serialize_pending(op);
	return submit(op, STORE_OP_CREATE, 0);
}

/* ---- update and patch ---- */

/* The object the client wants, from the body or by patching old. Returns
 * a new reference or NULL with op->err set. */
static json_t *desired_object(struct api_op *op, json_t *old)
{
	json_t *input = op->body;
	_cleanup_json_ json_t *patched = NULL;

	if (op->verb == VERB_PATCH) {
		/* Strategic and merge patches build a copy of their base; JSON
		 * patches and apply may change theirs in place. */
		bool copies = op->patch_type == PATCH_STRATEGIC || op->patch_type == PATCH_MERGE;
		_cleanup_json_ json_t *base = op->sub == SUB_SCALE ? scale_of(op->res, old)
					      : copies		   ? json_incref(old)
								   : json_deep_copy(old);
		patched = patch_apply(op, base, op->body);
		if (!patched)
			return NULL;
		if (op->sub != SUB_SCALE && api_op_check_patched(op, patched) < 0)
			return NULL;
		input = patched;
	}

	if (!json_is_object(input)) {
		api_error_bad_request(&op->err, "the request body must be a JSON object");
		return NULL;
	}

	switch (op->sub) {
	case SUB_NONE:
		return json_deep_copy(input);
	case SUB_STATUS: {
		json_t *n = json_deep_copy(old);
		json_t *st = json_object_get(input, "status");
		if (st)
			json_object_set_new(n, "status", json_deep_copy(st));
		else
			json_object_del(n, "status");
		json_t *rv = json_get(input, "metadata.resourceVersion");
		if (rv)
			json_object_set(json_object_ensure(n, "metadata"), "resourceVersion", rv);
		return n;
	}
	case SUB_FINALIZE: {
		json_t *n = json_deep_copy(old);
		json_t *fin = json_get(input, "spec.finalizers");
		json_t *spec = json_object_ensure(n, "spec");
		if (fin)
			json_object_set_new(spec, "finalizers", json_deep_copy(fin));
		else
			json_object_del(spec, "finalizers");
		return n;
	}
	case SUB_SCALE: {
		json_t *replicas = json_get(input, "spec.replicas");
		if (replicas && !json_is_integer(replicas)) {
			api_error_bad_request(&op->err, "spec.replicas must be an integer");
			return NULL;
		}
		json_t *n = json_deep_copy(old);
		json_set_int(json_object_ensure(n, "spec"), "replicas",
			     replicas ? json_integer_value(replicas) : 0);
		json_t *rv = json_get(input, "metadata.resourceVersion");
		if (rv)
			json_object_set(json_object_ensure(n, "metadata"), "resourceVersion", rv);
		else
			json_object_del(json_object_get(n, "metadata"), "resourceVersion");
		return n;
	}
	case SUB_BINDING:
		break;
	}
	api_error_method_not_allowed(&op->err);
	return NULL;
}

static bool is_finalized(const struct resource *res, json_t *obj)
{
	json_t *fin = json_get(obj, "metadata.finalizers");
	if (json_array_size(fin) > 0)
		return false;
	return res->is_finalized ? res->is_finalized(obj) : true;
}

static int op_update(struct api_op *op)
{
	struct api_ctx ctx = ctx_for(op);
	const struct resource *res = resource_storage(op->res);

	if (op->state == ST_SUBMITTED) {
		int r = op->sop.result;
		op->state = ST_START;
		if (r == 0) {
			if (res->release && !op->delete_instead)
				res->release(&ctx, op->old, op->pending);
			if (op->delete_instead) {
				if (res->release)
					res->release(&ctx, op->old, NULL);
				if (res->after_delete)
					res->after_delete(&ctx, op->pending, true);
			}
			return finish_write(op, 200);
		}
		if (res->release && !op->delete_instead)
			res->release(&ctx, op->pending, op->old);
		if (r == -ESTALE && !op->has_precondition && ++op->attempts < MAX_RETRIES)
			goto again;
		if (r == -ESTALE)
			api_error_conflict(&op->err, op->res, op->name, NULL);
		else if (r == -ENOENT)
			api_error_not_found(&op->err, op->res, op->name);
		else
			api_error_internal(&op->err, "storage error: %s", strerror(-r));
		return OP_DONE;
	}

again:
	op->delete_instead = false;
	prepare_keys(op, op->name);
	obj_unref(op->cur);
	op->cur = cache_get(op->srv->cache, op->res, op->key);
	if (!op->cur) {
		if (op->verb == VERB_PATCH && op->patch_type == PATCH_APPLY && op->sub == SUB_NONE)
			return patch_apply_create(op);
		api_error_not_found(&op->err, op->res, op->name);
		return op_done_error(op);
	}
	json_decref(op->old);
	op->old = obj_parse(op->cur);
	json_t *old = op->old;

	json_decref(op->pending);
	op->pending = desired_object(op, old);
	if (!op->pending)
		return op_done_error(op);
	json_t *obj = op->pending;
	json_t *meta = json_object_ensure(obj, "metadata");

	/* Preconditions: a resourceVersion the client sent must be current. */
	const char *rv = json_string_value(json_object_get(meta, "resourceVersion"));
	op->has_precondition = !isempty(rv);
	if (op->verb == VERB_PATCH && op->sub != SUB_SCALE) {
		/* A patch only carries a precondition if it names one itself. */
		const char *prv = json_string_value(json_get(op->body, "metadata.resourceVersion"));
		op->has_precondition = !isempty(prv);
	}
	if (op->has_precondition) {
		char cur[24];
		snprintf(cur, sizeof(cur), "%lld", (long long)op->cur->rev);
		if (!streq(rv, cur)) {
			api_error_conflict(&op->err, op->res, op->name, NULL);
			return op_done_error(op);
		}
	}

	const char *bname = json_string_value(json_object_get(meta, "name"));
	if (!isempty(bname) && !streq(bname, op->name)) {
		api_error_bad_request(
		    &op->err, "the name of the object (%s) does not match the name on the URL (%s)",
		    bname, op->name);
		return op_done_error(op);
	}
	if (res->namespaced) {
		const char *bns = json_string_value(json_object_get(meta, "namespace"));
		if (!isempty(bns) && !streq(bns, op->ns)) {
			api_error_bad_request(&op->err,
					      "the namespace of the provided object does not match "
					      "the namespace sent on the request");
			return op_done_error(op);
		}
	}
	const char *uid = json_string_value(json_object_get(meta, "uid"));
	const char *old_uid = meta_str(old, "uid");
	if (!isempty(uid) && old_uid && !streq(uid, old_uid)) {
		_cleanup_free_ char *why = xasprintf(
		    "Precondition failed: UID in precondition: %s, UID in object meta: %s", uid,
		    old_uid);
		api_error_conflict(&op->err, op->res, op->name, why);
		return op_done_error(op);
	}

	meta_prepare_update(&ctx, obj, old);
	if (op->sub == SUB_NONE && (res->flags & RES_STATUS)) {
		json_t *st = json_object_get(old, "status");
		if (st)
			json_object_set(obj, "status", st);
		else
			json_object_del(obj, "status");
	}
	if (res->defaults)
		res->defaults(obj);
	if (op->sub == SUB_NONE && res->prepare_update)
		res->prepare_update(&ctx, obj, old);

	struct field_errors fe = { 0 };
	meta_validate(&ctx, obj, old, &fe);
	if (op->sub == SUB_STATUS) {
		if (res->validate_status)
			res->validate_status(&ctx, obj, old, &fe);
	} else if (res->validate) {
		res->validate(&ctx, obj, old, &fe);
	}
	if (fe.n) {
		api_error_invalid(&op->err, res, op->name, &fe);
		field_errors_release(&fe);
		return op_done_error(op);
	}

	if (op->patch_type != PATCH_APPLY) {
		struct ssa_request req = {
			.manager = api_op_manager(op),
			.api_version = res->api_version,
			.subresource = op->sub == SUB_STATUS  ? "status"
				       : op->sub == SUB_SCALE ? "scale"
							      : NULL,
			.now_usec = ctx.now_usec,
		};
		ssa_track_update(schema_find_type(schema_builtin(), res->type_name), old, obj,
				 &req);
	}

	if ((res->flags & RES_GENERATION) &&
	    !json_equal(json_object_get(obj, "spec"), json_object_get(old, "spec")))
		json_set_int(meta, "generation", json_get_int(old, "metadata.generation", 0) + 1);

	/* Nothing changed: answer with what is stored, write nothing. */
	json_object_set(meta, "resourceVersion", json_get(old, "metadata.resourceVersion"));
	if (json_equal(obj, old)) {
		op->result_obj = TAKE_PTR(op->cur);
		op->code = 200;
		return op_done_error(op);
	}

	if (res->allocate && res->allocate(&ctx, obj, old, &op->err) < 0)
		return op_done_error(op);

	if (op->dry_run) {
		if (res->release)
			res->release(&ctx, obj, old);
		op->result = TAKE_PTR(op->pending);
		return op_done_error(op);
	}

	/* The last finalizer gone: deleted now, unless a graceful deletion is
	 * still under way (a pod's kubelet finishes it with grace 0). */
	if (meta_str(obj, "deletionTimestamp") && is_finalized(res, obj) &&
	    json_get_int(obj, "metadata.deletionGracePeriodSeconds", 0) == 0) {
		op->delete_instead = true;
		serialize_pending(op);
		return submit(op, STORE_OP_DELETE, op->cur->rev);
	}
	serialize_pending(op);
	return submit(op, STORE_OP_UPDATE, op->cur->rev);
}

/* ---- delete ---- */

static void add_finalizer(json_t *meta, const char *name)
{
	json_t *fin = json_object_get(meta, "finalizers");
	if (!json_is_array(fin)) {
		fin = json_array();
		json_object_set_new(meta, "finalizers", fin);
	}
	size_t i;
	json_t *f;
	json_array_foreach(fin, i, f)
	{
		if (streq_ptr(json_string_value(f), name))
			return;
	}
	json_array_append_new(fin, json_string(name));
}

static int op_delete(struct api_op *op)
{
	struct api_ctx ctx = ctx_for(op);
	const struct resource *res = resource_storage(op->res);

	if (op->state == ST_SUBMITTED) {
		int r = op->sop.result;
		op->state = ST_START;
		if (r == 0) {
			if (op->delete_instead) {
				/* Removed: answer with its last state. */
				if (res->release)
					res->release(&ctx, op->old, NULL);
				if (res->after_delete)
					res->after_delete(&ctx, op->old, true);
				json_decref(op->pending);
				op->pending = json_incref(op->old);
			} else if (res->after_delete) {
				res->after_delete(&ctx, op->pending, false);
			}
			return finish_write(op, 200);
		}
		if (r == -ESTALE && !op->has_precondition && ++op->attempts < MAX_RETRIES)
			goto again;
		if (r == -ESTALE)
			api_error_conflict(&op->err, op->res, op->name, NULL);
		else if (r == -ENOENT)
			api_error_not_found(&op->err, op->res, op->name);
		else
			api_error_internal(&op->err, "storage error: %s", strerror(-r));
		return OP_DONE;
	}

again:
	prepare_keys(op, op->name);
	obj_unref(op->cur);
	op->cur = cache_get(op->srv->cache, op->res, op->key);
	if (!op->cur) {
		api_error_not_found(&op->err, op->res, op->name);
		return op_done_error(op);
	}
	json_decref(op->old);
	op->old = obj_parse(op->cur);

	json_t *opts = op->body;
	const char *puid = json_string_value(json_get(opts, "preconditions.uid"));
	const char *prv = json_string_value(json_get(opts, "preconditions.resourceVersion"));
	op->has_precondition = !isempty(puid) || !isempty(prv);
	if (!isempty(puid) && !streq_ptr(puid, meta_str(op->old, "uid"))) {
		_cleanup_free_ char *why = xasprintf(
		    "Precondition failed: UID in precondition: %s, UID in object meta: %s", puid,
		    meta_str(op->old, "uid") ? meta_str(op->old, "uid") : "");
		api_error_conflict(&op->err, op->res, op->name, why);
		return op_done_error(op);
	}
	if (!isempty(prv) && !streq_ptr(prv, meta_str(op->old, "resourceVersion"))) {
		_cleanup_free_ char *why =
		    xasprintf("Precondition failed: ResourceVersion in precondition: %s, "
			      "ResourceVersion in object meta: %s",
			      prv, meta_str(op->old, "resourceVersion"));
		api_error_conflict(&op->err, op->res, op->name, why);
		return op_done_error(op);
	}

	json_decref(op->pending);
	op->pending = json_deep_copy(op->old);
	json_t *meta = json_object_ensure(op->pending, "metadata");
	/* Foreground and orphan deletion leave the object in place, marked with
	 * a finalizer the garbage collector removes once it has dealt with the
	 * dependents. */
	const char *policy = json_get_str(opts, "propagationPolicy");
	if (json_get_bool(opts, "orphanDependents", false))
		policy = "Orphan";
	if (policy && (streq(policy, "Foreground") || streq(policy, "Orphan")))
		add_finalizer(meta, streq(policy, "Foreground") ? "foregroundDeletion" : "orphan");
	bool mark = json_array_size(json_object_get(meta, "finalizers")) > 0;
	if (res->on_delete && res->on_delete(&ctx, op->pending, opts))
		mark = true;
	if (mark && !json_object_get(meta, "deletionTimestamp")) {
		char ts[32];
		time_format_rfc3339(ctx.now_usec, ts);
		json_set_str(meta, "deletionTimestamp", ts);
		json_set_int(meta, "deletionGracePeriodSeconds", 0);
	}
	if (op->dry_run) {
		op->result = TAKE_PTR(op->pending);
		return op_done_error(op);
	}
	if (mark) {
		if (json_equal(op->pending, op->old)) {
			op->result_obj = TAKE_PTR(op->cur);
			return op_done_error(op);
		}
		op->delete_instead = false;
		serialize_pending(op);
		return submit(op, STORE_OP_UPDATE, op->cur->rev);
	}
	op->delete_instead = true;
	free(op->value);
	op->value = NULL;
	return submit(op, STORE_OP_DELETE, op->cur->rev);
}

/* ---- deletecollection (synchronous, writes in parallel) ---- */

#define DC_IN_FLIGHT 128

struct dc_slot {
	struct api_op op;
	char *ns;
	bool busy;
	bool ready; /* the store answered; run the op again */
};

struct dc {
	pthread_mutex_t mu;
	pthread_cond_t cond;
};

static void dc_done(struct api_op *op)
{
	struct dc_slot *slot = (struct dc_slot *)op; /* op is the first member */
	struct dc *dc = op->userdata;
	pthread_mutex_lock(&dc->mu);
	slot->ready = true;
	pthread_cond_signal(&dc->cond);
	pthread_mutex_unlock(&dc->mu);
}

/* A finished delete: keep its result, or the first real error. */
static void dc_collect(struct api_op *op, struct dc_slot *slot, json_t *items)
{
	if (!slot->op.err.code) {
		if (slot->op.result)
			json_array_append(items, slot->op.result);
		else if (slot->op.result_obj)
			json_array_append_new(items, obj_parse(slot->op.result_obj));
	} else if (slot->op.err.code != 404 && !op->err.code) {
		op->err = slot->op.err;
		slot->op.err = (struct api_error){ 0 };
	}
	api_op_release(&slot->op);
	free(slot->ns);
	slot->ns = NULL;
	slot->busy = false;
}

static int op_deletecollection(struct api_op *op)
{
	struct obj_list l;
	struct dc dc = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER };
	struct dc_slot *slots = xnew(struct dc_slot, DC_IN_FLIGHT);
	json_t *items = json_array();
	size_t next = 0, busy = 0;

	cache_list(op->srv->cache, op->res, &op->filter, NULL, 0, &l);
	while (next < l.n || busy) {
		/* Start deletes while there is room: the store commits them together. */
		for (size_t k = 0; k < DC_IN_FLIGHT && next < l.n; k++) {
			struct dc_slot *slot = &slots[k];
			if (slot->busy)
				continue;
			struct obj *o = l.items[next++];
			api_op_init(&slot->op, op->srv, op->res, VERB_DELETE);
			if (op->res->namespaced)
				slot->ns = xstrndup(obj_key(o), o->ns_len);
			slot->op.ns = slot->ns;
			slot->op.name = obj_name(o);
			slot->op.user = op->user;
			slot->op.dry_run = op->dry_run;
			slot->op.body = op->body ? json_deep_copy(op->body) : NULL;
			slot->op.on_done = dc_done;
			slot->op.userdata = &dc;
			slot->busy = true;
			slot->ready = false;
			busy++;
			if (api_op_run(&slot->op) == OP_DONE) {
				dc_collect(op, slot, items);
				busy--;
			}
		}
		if (!busy)
			continue;
		/* Wait for answers, then move each answered op along. */
		pthread_mutex_lock(&dc.mu);
		bool any = false;
		while (!any) {
			for (size_t k = 0; k < DC_IN_FLIGHT; k++)
				any = any || (slots[k].busy && slots[k].ready);
			if (!any)
				pthread_cond_wait(&dc.cond, &dc.mu);
		}
		pthread_mutex_unlock(&dc.mu);
		for (size_t k = 0; k < DC_IN_FLIGHT; k++) {
			struct dc_slot *slot = &slots[k];
			pthread_mutex_lock(&dc.mu);
			bool ready = slot->busy && slot->ready;
			slot->ready = false;
			pthread_mutex_unlock(&dc.mu);
			if (!ready)
				continue;
			if (api_op_run(&slot->op) == OP_DONE) {
				dc_collect(op, slot, items);
				busy--;
			}
		}
	}
	free(slots);
	obj_list_release(&l);
	if (op->err.code) {
		json_decref(items);
		return OP_DONE;
	}
	json_t *list = json_object();
	_cleanup_free_ char *kind = xasprintf("%sList", op->res->kind);
	json_set_str(list, "kind", kind);
	json_set_str(list, "apiVersion", op->res->api_version);
	json_object_set_new(list, "metadata", json_object());
	json_object_set_new(list, "items", items);
	op->result = list;
	return OP_DONE;
}

/* ---- pods/binding ---- */

static int op_binding(struct api_op *op)
{
	const char *node = json_string_value(json_get(op->body, "target.name"));
	if (op->state == ST_SUBMITTED) {
		int r = op->sop.result;
		op->state = ST_START;
		if (r == 0) {
			json_decref(op->result);
			op->result = status_success();
			json_set_int(op->result, "code", 201);
			op->code = 201;
			return OP_DONE;
		}
		if (r == -ESTALE && ++op->attempts < MAX_RETRIES)
			goto again;
		if (r == -ENOENT)
			api_error_not_found(&op->err, op->res, op->name);
		else
			api_error_internal(&op->err, "storage error: %s", strerror(-r));
		return OP_DONE;
	}
	if (isempty(node)) {
		struct field_errors fe = { 0 };
		fe_required(&fe, "target.name", NULL);
		api_error_invalid(&op->err, op->res, op->name, &fe);
		field_errors_release(&fe);
		return OP_DONE;
	}
again:
	prepare_keys(op, op->name);
	obj_unref(op->cur);
	op->cur = cache_get(op->srv->cache, op->res, op->key);
	if (!op->cur) {
		api_error_not_found(&op->err, op->res, op->name);
		return op_done_error(op);
	}
	json_decref(op->pending);
	op->pending = obj_parse(op->cur);
	if (meta_str(op->pending, "deletionTimestamp")) {
		api_error_conflict(&op->err, op->res, op->name,
				   "pod is being deleted, cannot be assigned to a host");
		return op_done_error(op);
	}
	const char *cur_node = json_get_str(op->pending, "spec.nodeName");
	if (!isempty(cur_node)) {
		_cleanup_free_ char *why =
		    xasprintf("pod %s is already assigned to node \"%s\"", op->name, cur_node);
		api_error_conflict(&op->err, op->res, op->name, why);
		return op_done_error(op);
	}
	json_set_str(json_object_ensure(op->pending, "spec"), "nodeName", node);
	/* PodScheduled=True */
	json_t *status = json_object_ensure(op->pending, "status");
	json_t *conds = json_object_get(status, "conditions");
	if (!json_is_array(conds)) {
		conds = json_array();
		json_object_set_new(status, "conditions", conds);
	}
	size_t i;
	json_t *c;
	json_array_foreach(conds, i, c)
	{
		if (streq_ptr(json_string_value(json_object_get(c, "type")), "PodScheduled")) {
			json_array_remove(conds, i);
			break;
		}
	}
	char ts[32];
	time_format_rfc3339((int64_t)now_usec_realtime(), ts);
	c = json_pack("{s:s, s:s, s:n, s:s}", "type", "PodScheduled", "status", "True",
		      "lastProbeTime", "lastTransitionTime", ts);
	json_array_append_new(conds, c);
	if (op->dry_run) {
		op->result = status_success();
		op->code = 201;
		return op_done_error(op);
	}
	serialize_pending(op);
	return submit(op, STORE_OP_UPDATE, op->cur->rev);
}

int api_op_run(struct api_op *op)
{
	switch (op->verb) {
	case VERB_GET:
		return op_get(op);
	case VERB_CREATE:
		if (op->sub == SUB_BINDING)
			return op_binding(op);
		return op_create(op);
	case VERB_UPDATE:
	case VERB_PATCH: {
		int r = op_update(op);
		if (r == OP_DONE && !op->err.code && op->sub == SUB_SCALE) {
			/* The scale subresource answers with a Scale. */
			json_t *obj = op->result       ? json_incref(op->result)
				      : op->result_obj ? obj_parse(op->result_obj)
						       : NULL;
			if (obj) {
				json_decref(op->result);
				obj_unref(op->result_obj);
				op->result_obj = NULL;
				op->result = scale_of(op->res, obj);
				json_decref(obj);
			}
		}
		return r;
	}
	case VERB_DELETE:
		return op_delete(op);
	case VERB_DELETECOLLECTION:
		return op_deletecollection(op);
	case VERB_LIST:
	case VERB_WATCH:
		break;
	}
	api_error_method_not_allowed(&op->err);
	return OP_DONE;
}

struct sync_wait {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool done;
};

static void sync_done(struct api_op *op)
{
	struct sync_wait *w = op->userdata;
	pthread_mutex_lock(&w->mu);
	w->done = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->mu);
}

int api_op_run_sync(struct api_op *op)
{
	struct sync_wait w = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false };
	op->on_done = sync_done;
	op->userdata = &w;
	while (api_op_run(op) == OP_PENDING) {
		pthread_mutex_lock(&w.mu);
		while (!w.done)
			pthread_cond_wait(&w.cond, &w.mu);
		w.done = false;
		pthread_mutex_unlock(&w.mu);
	}
	return op->err.code ? -1 : 0;
}
