/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pod spec: defaults and validation shared by pods and the pod
 * templates of replicasets and deployments.
 *
 * Defaults are those of core/v1 PodSpec, Container, Probe, Volume and
 * their parts (the Pod-only ones live in pods.c). Validation follows the
 * API server's PodSpec rules, reporting at the same field paths, including
 * the few places where Kubernetes reports an unindexed or oddly spelled
 * path ("volumeMounts.subPath", "downwarAPI"): clients and tests compare
 * those strings.
 */
#include "apiserver/registry/common.h"
#include "lib/names.h"
#include "lib/quantity.h"

#define FILE_MODE_MSG "must be a number between 0 and 0777 (octal), both inclusive"
#define INT32_MAX_STR "2147483647"

/* ---- defaults ---- */

/* Whether the image reference names the tag "latest", explicitly or by
 * omission (no tag and no digest). References that do not parse have no
 * tag, like Kubernetes' parser reports them. */
static bool image_tag_is_latest(const char *image)
{
	if (isempty(image))
		return false;
	for (const char *p = image; *p; p++)
		if (*p == ' ' || *p == '\t' || *p == '\n')
			return false;
	const char *at = strchr(image, '@');
	size_t n = at ? (size_t)(at - image) : strlen(image);
	const char *slash = memrchr(image, '/', n);
	const char *name = slash ? slash + 1 : image;
	const char *colon = memchr(name, ':', n - (size_t)(name - image));
	/* Repository path components are lower case (the registry host need not be). */
	const char *first = memchr(image, '/', n);
	const char *repo = image;
	if (first) {
		size_t hl = (size_t)(first - image);
		if (memchr(image, '.', hl) || memchr(image, ':', hl) ||
		    (hl == 9 && !strncmp(image, "localhost", 9)))
			repo = first + 1;
	}
	for (const char *p = repo; p < (colon ? colon : image + n); p++)
		if (*p >= 'A' && *p <= 'Z')
			return false;
	if (!colon)
		return !at;
	size_t tl = n - (size_t)(colon + 1 - image);
	return tl == 6 && !strncmp(colon + 1, "latest", 6);
}

static void http_get_defaults(json_t *h)
{
	if (!json_is_object(h))
		return;
	default_str(h, "path", "/");
	default_str(h, "scheme", "HTTP");
}

static void probe_defaults(json_t *probe)
{
	if (!json_is_object(probe))
		return;
	default_int_zero(probe, "timeoutSeconds", 1);
	default_int_zero(probe, "periodSeconds", 10);
	default_int_zero(probe, "successThreshold", 1);
	default_int_zero(probe, "failureThreshold", 3);
	http_get_defaults(json_object_get(probe, "httpGet"));
	json_t *grpc = json_object_get(probe, "grpc");
	if (json_is_object(grpc) && !json_object_get(grpc, "service"))
		json_set_str(grpc, "service", "");
}

static void lifecycle_defaults(json_t *lc)
{
	http_get_defaults(json_get(lc, "postStart.httpGet"));
	http_get_defaults(json_get(lc, "preStop.httpGet"));
}

static void field_ref_defaults(json_t *holder)
{
	json_t *fr = json_object_get(holder, "fieldRef");
	if (json_is_object(fr))
		default_str(fr, "apiVersion", "v1");
}

static void container_defaults(json_t *c)
{
	if (!json_is_object(c))
		return;
	default_str(c, "terminationMessagePath", "/dev/termination-log");
	default_str(c, "terminationMessagePolicy", "File");
	default_str(c, "imagePullPolicy",
		    image_tag_is_latest(json_get_str(c, "image")) ? "Always" : "IfNotPresent");
	if (!json_is_object(json_object_get(c, "resources")))
		json_object_set_new(c, "resources", json_object());
	size_t i;
	json_t *x;
	json_array_foreach(json_object_get(c, "ports"), i, x)
	{
		default_str(x, "protocol", "TCP");
	}
	json_array_foreach(json_object_get(c, "env"), i, x)
	{
		field_ref_defaults(json_object_get(x, "valueFrom"));
	}
	probe_defaults(json_object_get(c, "livenessProbe"));
	probe_defaults(json_object_get(c, "readinessProbe"));
	probe_defaults(json_object_get(c, "startupProbe"));
	lifecycle_defaults(json_object_get(c, "lifecycle"));
}

static void items_defaults(json_t *items)
{
	size_t i;
	json_t *x;
	json_array_foreach(items, i, x)
	{
		field_ref_defaults(x);
	}
}

static void volume_defaults(json_t *v)
{
	if (!json_is_object(v))
		return;
	/* A volume with no source is an emptyDir. */
	const char *k;
	json_t *src;
	bool any = false;
	json_object_foreach(v, k, src)
	{
		any = any || !streq(k, "name");
	}
	if (!any)
		json_object_set_new(v, "emptyDir", json_object());
	if ((src = json_object_get(v, "configMap")))
		default_int(src, "defaultMode", 0644);
	if ((src = json_object_get(v, "secret")))
		default_int(src, "defaultMode", 0644);
	if ((src = json_object_get(v, "downwardAPI"))) {
		default_int(src, "defaultMode", 0644);
		items_defaults(json_object_get(src, "items"));
	}
	if ((src = json_object_get(v, "projected"))) {
		default_int(src, "defaultMode", 0644);
		size_t i;
		json_t *s;
		json_array_foreach(json_object_get(src, "sources"), i, s)
		{
			json_t *tok = json_object_get(s, "serviceAccountToken");
			if (json_is_object(tok))
				default_int(tok, "expirationSeconds", 3600);
			items_defaults(json_get(s, "downwardAPI.items"));
		}
	}
	if ((src = json_object_get(v, "hostPath")) && json_is_object(src) &&
	    !json_object_get(src, "type"))
		json_set_str(src, "type", "");
	if ((src = json_object_get(v, "image")) && json_is_object(src))
		default_str(src, "pullPolicy",
			    image_tag_is_latest(json_get_str(src, "reference")) ? "Always"
										: "IfNotPresent");
	if ((src = json_get(v, "ephemeral.volumeClaimTemplate.spec")) && json_is_object(src))
		default_str(src, "volumeMode", "Filesystem");
}

void pod_spec_defaults(json_t *spec)
{
	if (!json_is_object(spec))
		return;
	default_str(spec, "restartPolicy", "Always");
	default_str(spec, "dnsPolicy", "ClusterFirst");
	default_int(spec, "terminationGracePeriodSeconds", 30);
	default_str(spec, "schedulerName", "default-scheduler");
	if (!json_is_object(json_object_get(spec, "securityContext")))
		json_object_set_new(spec, "securityContext", json_object());
	/* serviceAccount is the deprecated spelling of serviceAccountName: the
	 * newer one wins, and both read the same. */
	const char *sa = json_get_str(spec, "serviceAccountName");
	if (isempty(sa))
		sa = json_get_str(spec, "serviceAccount");
	if (!isempty(sa)) {
		/* Copied: setting the first field frees the string sa may point to. */
		_cleanup_free_ char *name = xstrdup(sa);
		json_set_str(spec, "serviceAccountName", name);
		json_set_str(spec, "serviceAccount", name);
	} else {
		json_object_del(spec, "serviceAccountName");
		json_object_del(spec, "serviceAccount");
	}
	size_t i;
	json_t *x;
	json_array_foreach(json_object_get(spec, "containers"), i, x)
	{
		container_defaults(x);
	}
	json_array_foreach(json_object_get(spec, "initContainers"), i, x)
	{
		container_defaults(x);
	}
	json_array_foreach(json_object_get(spec, "ephemeralContainers"), i, x)
	{
		container_defaults(x);
	}
	json_array_foreach(json_object_get(spec, "volumes"), i, x)
	{
		volume_defaults(x);
	}
}

/* ---- validation: shared state ---- */

struct spec_check {
	const struct pod_validate_opts *opts;
	json_t *spec;
	json_t *volumes; /* name -> volume, for the volumes that validated */
	json_t *claims;	 /* names of spec.resourceClaims */
	json_t *grace;	 /* terminationGracePeriodSeconds, or NULL */
	const char *restart_policy;
	bool host_users;
	struct field_errors *fe;
};

static const char *const protocols[] = { "SCTP", "TCP", "UDP", NULL };

static bool str_in(const char *s, const char *const *list)
{
	for (; s && *list; list++)
		if (streq(s, *list))
			return true;
	return false;
}

static void check_int_range(json_t *obj, const char *key, const char *path, int64_t lo, int64_t hi,
			    struct field_errors *fe)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return;
	int64_t n = json_integer_value(v);
	if (!json_is_integer(v) || n < lo || n > hi) {
		FE_PATHF(p, "%s.%s", path, key);
		_cleanup_free_ char *m = xasprintf("must be between %lld and %lld, inclusive",
						   (long long)lo, (long long)hi);
		fe_invalid(fe, p, v, m);
	}
}

static void check_file_mode(json_t *obj, const char *key, const char *path, struct field_errors *fe)
{
	json_t *v = json_object_get(obj, key);
	if (v && (json_integer_value(v) < 0 || json_integer_value(v) > 0777)) {
		FE_PATHF(p, "%s.%s", path, key);
		fe_invalid(fe, p, v, FILE_MODE_MSG);
	}
}

/* ---- paths inside volumes ---- */

static bool has_backsteps(const char *s)
{
	const char *p = s;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return true;
		if (!slash)
			return false;
		p = slash + 1;
	}
}

static void validate_no_backsteps(const char *s, const char *path, struct field_errors *fe)
{
	if (has_backsteps(s))
		fe_invalid_str(fe, path, s, "must not contain '..'");
}

/* Relative, with no ".." element. */
static void validate_local_descending_path(const char *s, const char *path, struct field_errors *fe)
{
	if (s[0] == '/')
		fe_invalid_str(fe, path, s, "must be a relative path");
	validate_no_backsteps(s, path, fe);
}

/* Relative, no ".." element, and not starting with "..". */
static void validate_local_non_reserved_path(const char *s, const char *path,
					     struct field_errors *fe)
{
	validate_local_descending_path(s, path, fe);
	if (startswith(s, "..") && !startswith(s, "../"))
		fe_invalid_str(fe, path, s, "must not start with '..'");
}

static void validate_key_to_path(json_t *kp, const char *path, struct field_errors *fe)
{
	FE_PATHF(keyp, "%s.key", path);
	FE_PATHF(pathp, "%s.path", path);
	if (!field_is_set(kp, "key"))
		fe_required(fe, keyp, NULL);
	const char *p = str_or_empty(kp, "path");
	if (!*p)
		fe_required(fe, pathp, NULL);
	validate_local_non_reserved_path(p, pathp, fe);
	check_file_mode(kp, "mode", path, fe);
}

static void validate_items(json_t *items, const char *path, struct field_errors *fe)
{
	size_t i;
	json_t *kp;
	json_array_foreach(items, i, kp)
	{
		FE_PATHF(ip, "%s.items[%zu]", path, i);
		validate_key_to_path(kp, ip, fe);
	}
}

/* ---- downward API ---- */

static const char *const env_field_paths[] = {
	"metadata.name",
	"metadata.namespace",
	"metadata.uid",
	"spec.nodeName",
	"spec.serviceAccountName",
	"status.hostIP",
	"status.hostIPs",
	"status.podIP",
	"status.podIPs",
	NULL,
};
static const char *const volume_field_paths[] = {
	"metadata.annotations", "metadata.labels", "metadata.name",
	"metadata.namespace",	"metadata.uid",	   NULL,
};
/* Everything a v1 downward API field path may name. */
static const char *const known_field_paths[] = {
	"metadata.annotations",
	"metadata.labels",
	"metadata.name",
	"metadata.namespace",
	"metadata.uid",
	"spec.nodeName",
	"spec.restartPolicy",
	"spec.serviceAccountName",
	"spec.schedulerName",
	"status.phase",
	"status.hostIP",
	"status.hostIPs",
	"status.podIP",
	"status.podIPs",
	NULL,
};

static void validate_object_field_selector(json_t *fs, const char *const *allowed, const char *path,
					   struct field_errors *fe)
{
	FE_PATHF(avp, "%s.apiVersion", path);
	FE_PATHF(fpp, "%s.fieldPath", path);
	const char *av = str_or_empty(fs, "apiVersion");
	const char *fp = str_or_empty(fs, "fieldPath");
	if (!*av) {
		fe_required(fe, avp, NULL);
		return;
	}
	if (!*fp) {
		fe_required(fe, fpp, NULL);
		return;
	}
	/* metadata.labels['key'] and metadata.annotations['key'] */
	const char *open = strstr(fp, "['");
	size_t n = strlen(fp);
	if (open && n >= 2 && streq(fp + n - 2, "']") && open + 2 <= fp + n - 2) {
		_cleanup_free_ char *base = xstrndup(fp, (size_t)(open - fp));
		_cleanup_free_ char *sub = xstrndup(open + 2, (size_t)(fp + n - 2 - (open + 2)));
		if (!streq(av, "v1")) {
			_cleanup_free_ char *m = xasprintf(
			    "error converting fieldPath: unsupported pod version: %s", av);
			fe_invalid_str(fe, fpp, fp, m);
		} else if (streq(base, "metadata.annotations")) {
			for (char *p = sub; *p; p++)
				if (*p >= 'A' && *p <= 'Z')
					*p = (char)(*p - 'A' + 'a');
			validate_qualified_name_at(sub, path, fe);
		} else if (streq(base, "metadata.labels")) {
			validate_qualified_name_at(sub, path, fe);
		} else {
			fe_invalid_str(fe, path, base, "does not support subscript");
		}
		return;
	}
	if (!streq(av, "v1")) {
		_cleanup_free_ char *m =
		    xasprintf("error converting fieldPath: unsupported pod version: %s", av);
		fe_invalid_str(fe, fpp, fp, m);
		return;
	}
	const char *canon = streq(fp, "spec.host") ? "spec.nodeName" : fp;
	if (!str_in(canon, known_field_paths)) {
		_cleanup_free_ char *m =
		    xasprintf("error converting fieldPath: field label not supported: %s", fp);
		fe_invalid_str(fe, fpp, fp, m);
		return;
	}
	if (!str_in(canon, allowed)) {
		_cleanup_json_ json_t *v = json_string(canon);
		fe_not_supported(fe, fpp, v, allowed);
	}
}

static bool divisor_ok(const char *q, const char *const *allowed)
{
	for (; *allowed; allowed++) {
		int c;
		if (quantity_cmp(q, *allowed, &c) == 0 && c == 0)
			return true;
	}
	return false;
}

static void validate_resource_field_selector(json_t *fs, bool volume, const char *path,
					     struct field_errors *fe)
{
	static const char *const resources[] = {
		"limits.cpu",	"limits.ephemeral-storage",   "limits.memory",
		"requests.cpu", "requests.ephemeral-storage", "requests.memory",
		NULL,
	};
	const char *r = str_or_empty(fs, "resource");
	if (volume && !field_is_set(fs, "containerName")) {
		FE_PATHF(p, "%s.containerName", path);
		fe_required(fe, p, NULL);
	} else if (!*r) {
		FE_PATHF(p, "%s.resource", path);
		fe_required(fe, p, NULL);
	} else if (!str_in(r, resources) && !startswith(r, "requests.hugepages-") &&
		   !startswith(r, "limits.hugepages-")) {
		FE_PATHF(p, "%s.resource", path);
		fe_not_supported(fe, p, json_object_get(fs, "resource"), resources);
	}
	const char *div = json_get_str(fs, "divisor");
	int c;
	if (!div || (quantity_cmp(div, "0", &c) == 0 && c == 0))
		return;
	static const char *const cpu[] = { "1m", "1", NULL };
	static const char *const bytes[] = { "1",   "1k",  "1M",  "1G",	 "1T",	"1P",  "1E",
					     "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei", NULL };
	FE_PATHF(dp, "%s.divisor", path);
	const char *what = NULL;
	bool ok = true;
	if (streq(r, "limits.cpu") || streq(r, "requests.cpu")) {
		ok = divisor_ok(div, cpu);
		what = "only divisor's values 1m and 1 are supported with the cpu resource";
	} else if (streq(r, "limits.memory") || streq(r, "requests.memory") ||
		   streq(r, "limits.ephemeral-storage") || streq(r, "requests.ephemeral-storage") ||
		   startswith(r, "requests.hugepages-") || startswith(r, "limits.hugepages-")) {
		ok = divisor_ok(div, bytes);
		what = "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, "
		       "1Ei are supported with this resource";
	}
	if (!ok)
		fe_invalid_str(fe, dp, r, what);
}

static void validate_downward_api_file(json_t *file, const char *path, struct field_errors *fe)
{
	FE_PATHF(pp, "%s.path", path);
	const char *p = str_or_empty(file, "path");
	if (!*p)
		fe_required(fe, pp, NULL);
	validate_local_non_reserved_path(p, pp, fe);
	json_t *fr = json_object_get(file, "fieldRef"),
	       *rr = json_object_get(file, "resourceFieldRef");
	if (fr) {
		FE_PATHF(frp, "%s.fieldRef", path);
		validate_object_field_selector(fr, volume_field_paths, frp, fe);
		if (rr)
			fe_invalid_str(
			    fe, path, "resource",
			    "fieldRef and resourceFieldRef can not be specified simultaneously");
	} else if (rr) {
		FE_PATHF(rrp, "%s.resourceFieldRef", path);
		validate_resource_field_selector(rr, true, rrp, fe);
	} else {
		fe_required(fe, path, "one of fieldRef and resourceFieldRef is required");
	}
	check_file_mode(file, "mode", path, fe);
}

/* ---- volumes ---- */

static void validate_host_path(json_t *hp, const char *path, struct field_errors *fe)
{
	static const char *const types[] = {
		"",	"BlockDevice",	"CharDevice", "Directory", "DirectoryOrCreate",
		"File", "FileOrCreate", "Socket",     NULL
	};
	const char *p = str_or_empty(hp, "path");
	FE_PATHF(pp, "%s.path", path);
	if (!*p) {
		fe_required(fe, pp, NULL);
		return;
	}
	validate_no_backsteps(p, pp, fe);
	json_t *t = json_object_get(hp, "type");
	if (t && !str_in(json_string_value(t), types)) {
		FE_PATHF(tp, "%s.type", path);
		fe_not_supported(fe, tp, t, types);
	}
}

static void validate_projected(json_t *pj, const char *path, struct field_errors *fe)
{
	check_file_mode(pj, "defaultMode", path, fe);
	_cleanup_json_ json_t *paths = json_object();
	size_t i, j;
	json_t *src, *it;
	json_array_foreach(json_object_get(pj, "sources"), i, src)
	{
		FE_PATHF(sp, "%s.sources[%zu]", path, i);
		int n = 0;
		static const char *const kinds[] = { "secret", "configMap" };
		for (size_t k = 0; k < 2; k++) {
			json_t *s = json_object_get(src, kinds[k]);
			if (!s)
				continue;
			n++;
			FE_PATHF(kp, "%s.%s", sp, kinds[k]);
			if (!field_is_set(s, "name")) {
				FE_PATHF(np, "%s.name", kp);
				fe_required(fe, np, NULL);
			}
			json_array_foreach(json_object_get(s, "items"), j, it)
			{
				FE_PATHF(ip, "%s.items[%zu]", kp, j);
				validate_key_to_path(it, ip, fe);
				const char *p = str_or_empty(it, "path");
				if (!*p)
					continue;
				if (json_object_get(paths, p))
					fe_invalid_str(fe, path, str_or_empty(s, "name"),
						       "conflicting duplicate paths");
				json_object_set_new(paths, p, json_true());
			}
		}
		json_t *dw = json_object_get(src, "downwardAPI");
		if (dw) {
			n++;
			FE_PATHF(dp, "%s.downwardAPI", sp);
			json_array_foreach(json_object_get(dw, "items"), j, it)
			{
				validate_downward_api_file(it, dp, fe);
				const char *p = str_or_empty(it, "path");
				if (!*p)
					continue;
				if (json_object_get(paths, p))
					fe_invalid_str(fe, path, p, "conflicting duplicate paths");
				json_object_set_new(paths, p, json_true());
			}
		}
		json_t *tok = json_object_get(src, "serviceAccountToken");
		if (tok) {
			n++;
			FE_PATHF(ep, "%s.serviceAccountToken.expirationSeconds", sp);
			json_t *exp = json_object_get(tok, "expirationSeconds");
			if (exp && json_integer_value(exp) < 600)
				fe_invalid(fe, ep, exp,
					   "may not specify a duration less than 10 minutes");
			if (exp && json_integer_value(exp) > (1LL << 32))
				fe_invalid(fe, ep, exp,
					   "may not specify a duration larger than 2^32 seconds");
			/* Kubernetes reports the token's path under the projected volume. */
			FE_PATHF(pp, "%s.path", path);
			const char *p = str_or_empty(tok, "path");
			if (!*p)
				fe_required(fe, pp, NULL);
			else
				validate_local_non_reserved_path(p, pp, fe);
		}
		json_t *ctb = json_object_get(src, "clusterTrustBundle");
		if (ctb) {
			n++;
			FE_PATHF(cp, "%s.clusterTrustBundle", sp);
			bool by_name = json_object_get(ctb, "name") != NULL;
			bool by_signer = json_object_get(ctb, "signerName") != NULL;
			if (by_name && by_signer)
				fe_invalid(fe, cp, ctb,
					   "only one of name and signerName may be used");
			else if (!by_name && !by_signer)
				fe_required(fe, cp, "either name or signerName must be specified");
			FE_PATHF(pp, "%s.path", cp);
			const char *p = str_or_empty(ctb, "path");
			if (!*p)
				fe_required(fe, pp, NULL);
			validate_local_non_reserved_path(p, pp, fe);
			if (json_object_get(paths, p))
				fe_invalid_str(fe, path, p, "conflicting duplicate paths");
			json_object_set_new(paths, p, json_true());
		}
		if (n > 1)
			fe_forbidden(fe, sp, "may not specify more than 1 volume type per source");
	}
}

static void validate_csi_driver(json_t *csi, const char *path, struct field_errors *fe)
{
	FE_PATHF(dp, "%s.driver", path);
	const char *d = str_or_empty(csi, "driver");
	if (!*d)
		fe_required(fe, dp, NULL);
	if (strlen(d) > 63)
		fe_too_long(fe, dp, 63);
	_cleanup_free_ char *lower = xstrdup(d);
	for (char *p = lower; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	_cleanup_free_ char *m = validate_dns1123_subdomain(lower);
	if (m)
		fe_invalid_str(fe, dp, d, m);
	json_t *ref = json_object_get(csi, "nodePublishSecretRef");
	if (ref && !field_is_set(ref, "name")) {
		FE_PATHF(np, "%s.nodePublishSecretRef.name", path);
		fe_required(fe, np, NULL);
	}
}

/* Volume sources in the order Kubernetes checks them, with the name each
 * reports a second source under. */
static const struct {
	const char *key, *report_as;
} volume_sources[] = {
	{ "emptyDir", "emptyDir" },
	{ "hostPath", "hostPath" },
	{ "gitRepo", "gitRepo" },
	{ "gcePersistentDisk", "gcePersistentDisk" },
	{ "awsElasticBlockStore", "awsElasticBlockStore" },
	{ "secret", "secret" },
	{ "nfs", "nfs" },
	{ "iscsi", "iscsi" },
	{ "glusterfs", "glusterfs" },
	{ "flocker", "flocker" },
	{ "persistentVolumeClaim", "persistentVolumeClaim" },
	{ "rbd", "rbd" },
	{ "cinder", "cinder" },
	{ "cephfs", "cephFS" },
	{ "quobyte", "quobyte" },
	{ "downwardAPI", "downwarAPI" },
	{ "fc", "fc" },
	{ "flexVolume", "flexVolume" },
	{ "configMap", "configMap" },
	{ "azureFile", "azureFile" },
	{ "vsphereVolume", "vsphereVolume" },
	{ "photonPersistentDisk", "photonPersistentDisk" },
	{ "portworxVolume", "portworxVolume" },
	{ "azureDisk", "azureDisk" },
	{ "storageos", "storageos" },
	{ "projected", "projected" },
	{ "scaleIO", "scaleIO" },
	{ "csi", "csi" },
	{ "ephemeral", "ephemeral" },
	{ "image", "image" },
};

static void validate_one_source(const char *key, json_t *src, const char *path, bool is_pod,
				struct field_errors *fe)
{
#define REQUIRE(field)                                       \
	do {                                                 \
		if (!field_is_set(src, field)) {             \
			FE_PATHF(_rp, "%s.%s", path, field); \
			fe_required(fe, _rp, NULL);          \
		}                                            \
	} while (0)
	if (streq(key, "emptyDir")) {
		const char *sl = json_get_str(src, "sizeLimit");
		if (sl && quantity_negative(sl)) {
			FE_PATHF(p, "%s.sizeLimit", path);
			fe_forbidden(fe, p, "SizeLimit field must be a valid resource quantity");
		}
	} else if (streq(key, "hostPath")) {
		validate_host_path(src, path, fe);
	} else if (streq(key, "gitRepo")) {
		REQUIRE("repository");
		FE_PATHF(p, "%s.directory", path);
		validate_local_descending_path(str_or_empty(src, "directory"), p, fe);
	} else if (streq(key, "secret")) {
		REQUIRE("secretName");
		check_file_mode(src, "defaultMode", path, fe);
		validate_items(json_object_get(src, "items"), path, fe);
	} else if (streq(key, "configMap")) {
		REQUIRE("name");
		check_file_mode(src, "defaultMode", path, fe);
		validate_items(json_object_get(src, "items"), path, fe);
	} else if (streq(key, "persistentVolumeClaim")) {
		REQUIRE("claimName");
	} else if (streq(key, "nfs")) {
		REQUIRE("server");
		REQUIRE("path");
		const char *p = str_or_empty(src, "path");
		if (p[0] != '/') {
			FE_PATHF(pp, "%s.path", path);
			fe_invalid_str(fe, pp, p, "must be an absolute path");
		}
	} else if (streq(key, "downwardAPI")) {
		check_file_mode(src, "defaultMode", path, fe);
		size_t i;
		json_t *f;
		/* Kubernetes reports the files under the volume source, unindexed. */
		json_array_foreach(json_object_get(src, "items"), i, f)
		{
			validate_downward_api_file(f, path, fe);
		}
	} else if (streq(key, "projected")) {
		validate_projected(src, path, fe);
	} else if (streq(key, "csi")) {
		validate_csi_driver(src, path, fe);
	} else if (streq(key, "ephemeral")) {
		json_t *t = json_object_get(src, "volumeClaimTemplate");
		FE_PATHF(tp, "%s.volumeClaimTemplate", path);
		if (!t) {
			fe_required(fe, tp, NULL);
		} else {
			FE_PATHF(am, "%s.spec.accessModes", tp);
			if (!json_array_size(json_get(t, "spec.accessModes")))
				fe_required(fe, am, "at least 1 access mode is required");
			FE_PATHF(rs, "%s.spec.resources[storage]", tp);
			if (!json_get(t, "spec.resources.requests.storage"))
				fe_required(fe, rs, NULL);
		}
	} else if (streq(key, "image")) {
		if (is_pod)
			REQUIRE("reference");
		validate_enum_required(src, "pullPolicy", path,
				       STRV("Always", "IfNotPresent", "Never"), fe);
	} else if (streq(key, "iscsi")) {
		REQUIRE("targetPortal");
		REQUIRE("iqn");
	} else if (streq(key, "rbd")) {
		REQUIRE("monitors");
		REQUIRE("image");
	} else if (streq(key, "cephfs")) {
		REQUIRE("monitors");
	} else if (streq(key, "glusterfs")) {
		REQUIRE("endpoints");
		REQUIRE("path");
	} else if (streq(key, "flexVolume")) {
		REQUIRE("driver");
	} else if (streq(key, "azureFile")) {
		REQUIRE("secretName");
		REQUIRE("shareName");
	} else if (streq(key, "azureDisk")) {
		REQUIRE("diskName");
		REQUIRE("diskURI");
	} else if (streq(key, "cinder") || streq(key, "portworxVolume")) {
		REQUIRE("volumeID");
	} else if (streq(key, "gcePersistentDisk")) {
		REQUIRE("pdName");
	} else if (streq(key, "awsElasticBlockStore")) {
		REQUIRE("volumeID");
	} else if (streq(key, "vsphereVolume")) {
		REQUIRE("volumePath");
	} else if (streq(key, "photonPersistentDisk")) {
		REQUIRE("pdID");
	} else if (streq(key, "quobyte")) {
		REQUIRE("registry");
		REQUIRE("volume");
	} else if (streq(key, "scaleIO")) {
		REQUIRE("gateway");
		REQUIRE("system");
		REQUIRE("volumeName");
	} else if (streq(key, "storageos")) {
		REQUIRE("volumeName");
	}
#undef REQUIRE
}

static void validate_volume_source(json_t *v, const char *path, bool is_pod,
				   struct field_errors *fe)
{
	int n = 0;
	for (size_t i = 0; i < ARRAY_SIZE(volume_sources); i++) {
		json_t *src = json_object_get(v, volume_sources[i].key);
		if (!src)
			continue;
		FE_PATHF(sp, "%s.%s", path, volume_sources[i].report_as);
		if (n > 0) {
			fe_forbidden(fe, sp, "may not specify more than 1 volume type");
			continue;
		}
		n++;
		/* Sources validate under their JSON name, but for gcePersistentDisk,
		 * which Kubernetes checks as "persistentDisk". */
		FE_PATHF(vp, "%s.%s", path,
			 streq(volume_sources[i].key, "gcePersistentDisk") ? "persistentDisk"
									   : volume_sources[i].key);
		validate_one_source(volume_sources[i].key, src, vp, is_pod, fe);
	}
	if (n == 0)
		fe_required(fe, path, "must specify a volume type");
}

static void validate_volumes(struct spec_check *sc, const char *path)
{
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(sc->spec, "volumes"), i, v)
	{
		struct field_errors el = { 0 };
		FE_PATHF(vp, "%s.volumes[%zu]", path, i);
		FE_PATHF(np, "%s.name", vp);
		const char *name = str_or_empty(v, "name");
		validate_volume_source(v, vp, sc->opts->is_pod, &el);
		if (!*name)
			fe_required(&el, np, NULL);
		else
			validate_dns_label_at(name, np, &el);
		if (json_object_get(sc->volumes, name))
			fe_duplicate(&el, np, json_object_get(v, "name"));
		if (el.n == 0)
			json_object_set(sc->volumes, name, v);
		field_errors_move(sc->fe, &el);
	}
}

/* ---- containers: ports, env, mounts ---- */

static void validate_container_ports(json_t *ports, const char *path, struct field_errors *fe)
{
	_cleanup_json_ json_t *names = json_object();
	size_t i;
	json_t *p;
	json_array_foreach(ports, i, p)
	{
		FE_PATHF(pp, "%s[%zu]", path, i);
		const char *name = str_or_empty(p, "name");
		if (*name) {
			FE_PATHF(np, "%s.name", pp);
			_cleanup_free_ char *m = validate_port_name(name);
			if (m)
				fe_invalid_str(fe, np, name, m);
			else if (json_object_get(names, name))
				fe_duplicate(fe, np, json_object_get(p, "name"));
			else
				json_object_set_new(names, name, json_true());
		}
		FE_PATHF(cp, "%s.containerPort", pp);
		if (!field_is_set(p, "containerPort"))
			fe_required(fe, cp, NULL);
		else
			validate_port_number(json_object_get(p, "containerPort"), cp, fe);
		if (field_is_set(p, "hostPort")) {
			FE_PATHF(hp, "%s.hostPort", pp);
			validate_port_number(json_object_get(p, "hostPort"), hp, fe);
		}
		validate_enum_required(p, "protocol", pp, protocols, fe);
	}
}

static void validate_key_selector(json_t *ks, const char *path, struct field_errors *fe)
{
	FE_PATHF(np, "%s.name", path);
	validate_dns_subdomain_at(str_or_empty(ks, "name"), np, fe);
	FE_PATHF(kp, "%s.key", path);
	const char *key = str_or_empty(ks, "key");
	if (!*key)
		fe_required(fe, kp, NULL);
	else
		validate_name_rule(validate_config_map_key, key, kp, fe);
}

static void validate_env(json_t *env, const char *path, struct field_errors *fe)
{
	size_t i;
	json_t *ev;
	json_array_foreach(env, i, ev)
	{
		FE_PATHF(ep, "%s[%zu]", path, i);
		FE_PATHF(np, "%s.name", ep);
		const char *name = str_or_empty(ev, "name");
		if (!*name)
			fe_required(fe, np, NULL);
		else
			validate_name_rule(validate_env_var_name, name, np, fe);
		json_t *vf = json_object_get(ev, "valueFrom");
		if (!vf)
			continue;
		FE_PATHF(vp, "%s.valueFrom", ep);
		int n = 0;
		json_t *x;
		if ((x = json_object_get(vf, "fieldRef"))) {
			n++;
			FE_PATHF(p, "%s.fieldRef", vp);
			validate_object_field_selector(x, env_field_paths, p, fe);
		}
		if ((x = json_object_get(vf, "resourceFieldRef"))) {
			n++;
			FE_PATHF(p, "%s.resourceFieldRef", vp);
			validate_resource_field_selector(x, false, p, fe);
		}
		if ((x = json_object_get(vf, "configMapKeyRef"))) {
			n++;
			FE_PATHF(p, "%s.configMapKeyRef", vp);
			validate_key_selector(x, p, fe);
		}
		if ((x = json_object_get(vf, "secretKeyRef"))) {
			n++;
			FE_PATHF(p, "%s.secretKeyRef", vp);
			validate_key_selector(x, p, fe);
		}
		if ((x = json_object_get(vf, "fileKeyRef")))
			n++;
		if (n == 0)
			fe_invalid_str(fe, vp, "",
				       "must specify one of: `fieldRef`, `resourceFieldRef`, "
				       "`configMapKeyRef` or `secretKeyRef`");
		else if (field_is_set(ev, "value"))
			fe_invalid_str(fe, vp, "",
				       "may not be specified when `value` is not empty");
		else if (n > 1)
			fe_invalid_str(fe, vp, "",
				       "may not have more than one field specified at a time");
	}
}

/* A ConfigMap or Secret name that a prefix may be made of: a trailing '-'
 * is allowed. */
static void validate_ref_name(json_t *ref, const char *path, struct field_errors *fe)
{
	FE_PATHF(np, "%s.name", path);
	const char *name = str_or_empty(ref, "name");
	if (!*name) {
		fe_required(fe, np, NULL);
		return;
	}
	size_t n = strlen(name);
	_cleanup_free_ char *trimmed = xstrndup(name, n > 1 && name[n - 1] == '-' ? n - 1 : n);
	_cleanup_free_ char *m = validate_dns1123_subdomain(trimmed);
	if (m)
		fe_invalid_str(fe, np, name, m);
}

static void validate_env_from(json_t *list, const char *path, struct field_errors *fe)
{
	size_t i;
	json_t *ef;
	json_array_foreach(list, i, ef)
	{
		FE_PATHF(ep, "%s[%zu]", path, i);
		const char *prefix = str_or_empty(ef, "prefix");
		if (*prefix) {
			FE_PATHF(pp, "%s.prefix", ep);
			validate_name_rule(validate_env_var_name, prefix, pp, fe);
		}
		int n = 0;
		json_t *x;
		if ((x = json_object_get(ef, "configMapRef"))) {
			n++;
			FE_PATHF(p, "%s.configMapRef", ep);
			validate_ref_name(x, p, fe);
		}
		if ((x = json_object_get(ef, "secretRef"))) {
			n++;
			FE_PATHF(p, "%s.secretRef", ep);
			validate_ref_name(x, p, fe);
		}
		/* Kubernetes reports these two on the list, not the entry. */
		if (n == 0)
			fe_invalid_str(fe, path, "",
				       "must specify one of: `configMapRef` or `secretRef`");
		else if (n > 1)
			fe_invalid_str(fe, path, "",
				       "may not have more than one field specified at a time");
	}
}

static bool container_privileged(json_t *c)
{
	return json_is_true(json_get(c, "securityContext.privileged"));
}

static bool volume_is_claim(json_t *v)
{
	return json_object_get(v, "persistentVolumeClaim") || json_object_get(v, "ephemeral");
}

static bool list_has_str(json_t *list, const char *key, const char *value)
{
	size_t i;
	json_t *x;
	json_array_foreach(list, i, x)
	{
		if (streq_ptr(json_get_str(x, key), value))
			return true;
	}
	return false;
}

static void validate_volume_mounts(struct spec_check *sc, json_t *c, const char *cpath)
{
	struct field_errors *fe = sc->fe;
	json_t *devices = json_object_get(c, "volumeDevices");
	_cleanup_json_ json_t *points = json_object();
	FE_PATHF(path, "%s.volumeMounts", cpath);
	size_t i;
	json_t *m;
	json_array_foreach(json_object_get(c, "volumeMounts"), i, m)
	{
		FE_PATHF(mp, "%s[%zu]", path, i);
		FE_PATHF(np, "%s.name", mp);
		FE_PATHF(pp, "%s.mountPath", mp);
		const char *name = str_or_empty(m, "name");
		const char *mount = str_or_empty(m, "mountPath");
		json_t *vol = json_object_get(sc->volumes, name);
		if (!*name)
			fe_required(fe, np, NULL);
		if (!vol) {
			_cleanup_json_ json_t *nv = json_string(name);
			fe_not_found(fe, np, nv);
		}
		if (!*mount)
			fe_required(fe, pp, NULL);
		if (json_object_get(points, mount))
			fe_invalid_str(fe, pp, mount, "must be unique");
		json_object_set_new(points, mount, json_true());
		if (list_has_str(devices, "name", name))
			fe_invalid_str(fe, np, name, "must not already exist in volumeDevices");
		if (list_has_str(devices, "devicePath", mount))
			fe_invalid_str(fe, pp, mount,
				       "must not already exist as a path in volumeDevices");
		const char *sub = str_or_empty(m, "subPath");
		const char *expr = str_or_empty(m, "subPathExpr");
		if (vol && json_object_get(vol, "image")) {
			if (*sub) {
				FE_PATHF(p, "%s.subPath", mp);
				fe_invalid_str(fe, p, sub, "not allowed in image volume sources");
			}
			if (*expr) {
				FE_PATHF(p, "%s.subPathExpr", mp);
				fe_invalid_str(fe, p, expr, "not allowed in image volume sources");
			}
		}
		/* As Kubernetes does, the path checks report on the list itself. */
		if (*sub) {
			FE_PATHF(p, "%s.subPath", path);
			validate_local_descending_path(sub, p, fe);
		}
		if (*expr) {
			if (*sub) {
				FE_PATHF(p, "%s.subPathExpr", mp);
				fe_invalid_str(fe, p, expr,
					       "subPathExpr and subPath are mutually exclusive");
			}
			FE_PATHF(p, "%s.subPathExpr", path);
			validate_local_descending_path(expr, p, fe);
		}
		json_t *prop = json_object_get(m, "mountPropagation");
		if (prop) {
			static const char *const modes[] = { "Bidirectional", "HostToContainer",
							     "None", NULL };
			FE_PATHF(p, "%s.mountPropagation", path);
			if (!str_in(json_string_value(prop), modes))
				fe_not_supported(fe, p, prop, modes);
			if (streq_ptr(json_string_value(prop), "Bidirectional") &&
			    !container_privileged(c))
				fe_forbidden(fe, p,
					     "Bidirectional mount propagation is available only to "
					     "privileged containers");
		}
		json_t *rro = json_object_get(m, "recursiveReadOnly");
		if (rro) {
			FE_PATHF(p, "%s.recursiveReadOnly", path);
			const char *r = json_string_value(rro);
			if (streq_ptr(r, "Enabled") || streq_ptr(r, "IfPossible")) {
				if (!json_is_true(json_object_get(m, "readOnly")))
					fe_forbidden(fe, p,
						     "may only be specified when readOnly is true");
				if (prop && !streq_ptr(json_string_value(prop), "None"))
					fe_forbidden(
					    fe, p,
					    "may only be specified when mountPropagation is None "
					    "or not specified");
			} else if (!streq_ptr(r, "Disabled")) {
				fe_not_supported(fe, p, rro,
						 STRV("Disabled", "Enabled", "IfPossible"));
			}
		}
	}
}

static void validate_volume_devices(struct spec_check *sc, json_t *c, const char *cpath)
{
	struct field_errors *fe = sc->fe;
	json_t *mounts = json_object_get(c, "volumeMounts");
	_cleanup_json_ json_t *names = json_object(), *paths = json_object();
	size_t i;
	json_t *d;
	json_array_foreach(json_object_get(c, "volumeDevices"), i, d)
	{
		FE_PATHF(dp, "%s.volumeDevices[%zu]", cpath, i);
		FE_PATHF(np, "%s.name", dp);
		FE_PATHF(pp, "%s.devicePath", dp);
		const char *name = str_or_empty(d, "name");
		const char *dev = str_or_empty(d, "devicePath");
		json_t *vol = json_object_get(sc->volumes, name);
		if (!*name)
			fe_required(fe, np, NULL);
		if (json_object_get(names, name))
			fe_invalid_str(fe, np, name, "must be unique");
		if (vol && !volume_is_claim(vol))
			fe_invalid_str(
			    fe, np, name,
			    "can only use volume source type of PersistentVolumeClaim or "
			    "Ephemeral for block mode");
		if (!vol) {
			_cleanup_json_ json_t *nv = json_string(name);
			fe_not_found(fe, np, nv);
		}
		if (!*dev)
			fe_required(fe, pp, NULL);
		if (json_object_get(paths, dev))
			fe_invalid_str(fe, pp, dev, "must be unique");
		if (*dev && has_backsteps(dev))
			fe_invalid_str(fe, pp, dev, "can not contain backsteps ('..')");
		else
			json_object_set_new(paths, dev, json_true());
		if (list_has_str(mounts, "name", name))
			fe_invalid_str(fe, np, name, "must not already exist in volumeMounts");
		if (list_has_str(mounts, "mountPath", dev))
			fe_invalid_str(fe, pp, dev,
				       "must not already exist as a path in volumeMounts");
		if (*name)
			json_object_set_new(names, name, json_true());
	}
}

/* ---- resources ---- */

static void validate_container_resource_name(const char *name, const char *path,
					     struct field_errors *fe)
{
	validate_resource_name(name, path, fe);
	if (!strchr(name, '/')) {
		if (!str_in(name, STRV("cpu", "memory", "ephemeral-storage")) &&
		    !resource_is_hugepages(name))
			fe_invalid_str(fe, path, name,
				       "must be a standard resource for containers");
	} else if (!resource_is_native(name) && !resource_is_extended(name)) {
		fe_invalid_str(fe, path, name, "doesn't follow extended resource name standard");
	}
}

/* One resources.limits or .requests entry: its name (pod-level resources
 * allow only cpu, memory and hugepages) and its quantity. */
static void validate_resource_entry(const char *name, json_t *q, const char *p, bool pod_level,
				    struct field_errors *fe)
{
	if (pod_level) {
		if (validate_resource_name(name, p, fe) && !str_in(name, STRV("cpu", "memory")) &&
		    !resource_is_hugepages(name)) {
			_cleanup_json_ json_t *v = json_string(name);
			fe_not_supported(fe, p, v, STRV("cpu", "memory"));
		}
	} else {
		validate_container_resource_name(name, p, fe);
	}
	validate_resource_quantity(name, q, p, fe);
}

static void validate_resource_requirements(json_t *res, const char *path, json_t *claims,
					   bool pod_level, struct field_errors *fe)
{
	FE_PATHF(lim_path, "%s.limits", path);
	FE_PATHF(req_path, "%s.requests", path);
	json_t *limits = json_object_get(res, "limits"),
	       *requests = json_object_get(res, "requests");
	bool lim_cm = false, req_cm = false, lim_hp = false, req_hp = false;
	const char *name;
	json_t *q;
	json_object_foreach(limits, name, q)
	{
		FE_PATHF(p, "%s[%s]", lim_path, name);
		validate_resource_entry(name, q, p, pod_level, fe);
		lim_hp = lim_hp || resource_is_hugepages(name);
		lim_cm = lim_cm || streq(name, "cpu") || streq(name, "memory");
	}
	json_object_foreach(requests, name, q)
	{
		FE_PATHF(p, "%s[%s]", req_path, name);
		validate_resource_entry(name, q, p, pod_level, fe);
		json_t *l = json_object_get(limits, name);
		int c;
		if (l && quantity_cmp(json_string_value(q), json_string_value(l), &c) == 0) {
			if (c != 0 && !resource_overcommit_allowed(name)) {
				_cleanup_free_ char *m = xasprintf(
				    "must be equal to %s limit of %s", name, json_string_value(l));
				fe_invalid(fe, req_path, q, m);
			} else if (c > 0) {
				_cleanup_free_ char *m =
				    xasprintf("must be less than or equal to %s limit of %s", name,
					      json_string_value(l));
				fe_invalid(fe, req_path, q, m);
			}
		} else if (!l && !resource_overcommit_allowed(name)) {
			fe_required(fe, lim_path,
				    "Limit must be set for non overcommitable resources");
		}
		req_hp = req_hp || resource_is_hugepages(name);
		req_cm = req_cm || streq(name, "cpu") || streq(name, "memory");
	}
	if (!lim_cm && !req_cm && (lim_hp || req_hp))
		fe_forbidden(fe, path, "HugePages require cpu or memory");
	_cleanup_json_ json_t *seen = json_object();
	size_t i;
	json_t *cl;
	json_array_foreach(json_object_get(res, "claims"), i, cl)
	{
		FE_PATHF(p, "%s.claims[%zu]", path, i);
		const char *cn = str_or_empty(cl, "name");
		if (!*cn) {
			fe_required(fe, p, NULL);
			continue;
		}
		const char *req = str_or_empty(cl, "request");
		_cleanup_free_ char *key = *req ? xasprintf("%s/%s", cn, req) : xstrdup(cn);
		if (*req) {
			FE_PATHF(rp, "%s.request", p);
			validate_dns_label_at(req, rp, fe);
		}
		if (json_object_get(seen, cn) || json_object_get(seen, key))
			fe_duplicate(fe, p, json_object_get(cl, "name"));
		json_object_set_new(seen, key, json_true());
		if (!json_object_get(claims, cn))
			fe_not_found(fe, p, json_object_get(cl, "name"));
	}
}

static void validate_resize_policy(json_t *list, const char *path, const char *restart_policy,
				   struct field_errors *fe)
{
	_cleanup_json_ json_t *seen = json_object();
	size_t i;
	json_t *p;
	json_array_foreach(list, i, p)
	{
		FE_PATHF(ip, "%s[%zu]", path, i);
		const char *rn = str_or_empty(p, "resourceName");
		const char *rp = str_or_empty(p, "restartPolicy");
		if (json_object_get(seen, rn))
			fe_duplicate(fe, ip, json_object_get(p, "resourceName"));
		json_object_set_new(seen, rn, json_true());
		if (!*rn)
			fe_required(fe, path, NULL);
		else if (!str_in(rn, STRV("cpu", "memory")))
			fe_not_supported(fe, path, json_object_get(p, "resourceName"),
					 STRV("cpu", "memory"));
		if (!*rp)
			fe_required(fe, path, NULL);
		else if (!str_in(rp, STRV("NotRequired", "RestartContainer")))
			fe_not_supported(fe, path, json_object_get(p, "restartPolicy"),
					 STRV("NotRequired", "RestartContainer"));
		if (streq_ptr(restart_policy, "Never") && !streq(rp, "NotRequired"))
			fe_invalid_str(fe, path, rp,
				       "must be 'NotRequired' when `restartPolicy` is 'Never'");
	}
}

/* ---- security contexts ---- */

static void validate_seccomp_profile(json_t *sp, const char *path, struct field_errors *fe)
{
	if (!sp)
		return;
	FE_PATHF(tp, "%s.type", path);
	FE_PATHF(lp, "%s.localhostProfile", path);
	static const char *const types[] = { "Localhost", "RuntimeDefault", "Unconfined", NULL };
	const char *t = str_or_empty(sp, "type");
	if (!*t)
		fe_required(fe, tp, "type is required when seccompProfile is set");
	else if (!str_in(t, types))
		fe_not_supported(fe, tp, json_object_get(sp, "type"), types);
	json_t *lh = json_object_get(sp, "localhostProfile");
	if (streq(t, "Localhost")) {
		if (!lh)
			fe_required(fe, lp, "must be set when seccomp type is Localhost");
		else
			validate_local_descending_path(str_or_empty(sp, "localhostProfile"), lp,
						       fe);
	} else if (lh) {
		fe_invalid(fe, lp, sp, "can only be set when seccomp type is Localhost");
	}
}

static void validate_apparmor_profile(json_t *ap, const char *path, struct field_errors *fe)
{
	if (!ap)
		return;
	FE_PATHF(tp, "%s.type", path);
	FE_PATHF(lp, "%s.localhostProfile", path);
	const char *t = str_or_empty(ap, "type");
	json_t *lh = json_object_get(ap, "localhostProfile");
	if (streq(t, "Localhost")) {
		const char *s = json_string_value(lh);
		if (!lh) {
			fe_required(fe, lp, "must be set when AppArmor type is Localhost");
		} else {
			size_t n = strlen(s ? s : "");
			bool padded =
			    n && (s[0] == ' ' || s[0] == '\t' || s[0] == '\n' || s[n - 1] == ' ' ||
				  s[n - 1] == '\t' || s[n - 1] == '\n');
			if (padded)
				fe_invalid(fe, lp, lh, "must not be padded with whitespace");
			else if (n == 0)
				fe_required(fe, lp, "must be set when AppArmor type is Localhost");
			if (n > 4095)
				fe_too_long(fe, lp, 4095);
		}
	} else if (streq(t, "RuntimeDefault") || streq(t, "Unconfined")) {
		if (lh)
			fe_invalid(fe, lp, lh, "can only be set when AppArmor type is Localhost");
	} else if (!*t) {
		fe_required(fe, tp, "type is required when appArmorProfile is set");
	} else {
		fe_not_supported(fe, tp, json_object_get(ap, "type"),
				 STRV("Localhost", "RuntimeDefault", "Unconfined"));
	}
}

static void validate_container_security_context(json_t *sc, const char *path, bool host_users,
						struct field_errors *fe)
{
	if (!json_is_object(sc))
		return;
	check_int_range(sc, "runAsUser", path, 0, 2147483647, fe);
	check_int_range(sc, "runAsGroup", path, 0, 2147483647, fe);
	json_t *pm = json_object_get(sc, "procMount");
	if (pm) {
		FE_PATHF(p, "%s.procMount", path);
		if (!str_in(json_string_value(pm), STRV("Default", "Unmasked")))
			fe_not_supported(fe, p, pm, STRV("Default", "Unmasked"));
		if (host_users && streq_ptr(json_string_value(pm), "Unmasked"))
			fe_invalid(fe, p, pm, "`hostUsers` must be false to use `Unmasked`");
	}
	FE_PATHF(sp, "%s.seccompProfile", path);
	validate_seccomp_profile(json_object_get(sc, "seccompProfile"), sp, fe);
	json_t *ape = json_object_get(sc, "allowPrivilegeEscalation");
	if (json_is_false(ape)) {
		if (json_is_true(json_object_get(sc, "privileged")))
			fe_invalid(fe, path, sc,
				   "cannot set `allowPrivilegeEscalation` to false and "
				   "`privileged` to true");
		size_t i;
		json_t *cap;
		json_array_foreach(json_get(sc, "capabilities.add"), i, cap)
		{
			if (streq_ptr(json_string_value(cap), "CAP_SYS_ADMIN"))
				fe_invalid(fe, path, sc,
					   "cannot set `allowPrivilegeEscalation` to false and "
					   "`capabilities.Add` CAP_SYS_ADMIN");
		}
	}
	FE_PATHF(ap, "%s.appArmorProfile", path);
	validate_apparmor_profile(json_object_get(sc, "appArmorProfile"), ap, fe);
}

/* ---- probes and lifecycle handlers ---- */

enum handler_kind { HANDLER_PROBE, HANDLER_LIFECYCLE };

static void validate_handler(json_t *h, enum handler_kind kind, json_t *grace, const char *path,
			     struct field_errors *fe)
{
	int n = 0;
	static const char *const keys[] = { "exec", "httpGet", "tcpSocket", "grpc", "sleep" };
	for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
		json_t *x = json_object_get(h, keys[k]);
		if (!x)
			continue;
		if ((kind == HANDLER_PROBE && streq(keys[k], "sleep")) ||
		    (kind == HANDLER_LIFECYCLE && streq(keys[k], "grpc")))
			continue;
		FE_PATHF(hp, "%s.%s", path, keys[k]);
		if (n > 0) {
			fe_forbidden(fe, hp, "may not specify more than 1 handler type");
			continue;
		}
		n++;
		if (streq(keys[k], "exec")) {
			if (!json_array_size(json_object_get(x, "command"))) {
				FE_PATHF(p, "%s.command", hp);
				fe_required(fe, p, NULL);
			}
		} else if (streq(keys[k], "httpGet")) {
			if (!field_is_set(x, "path")) {
				FE_PATHF(p, "%s.path", hp);
				fe_required(fe, p, NULL);
			}
			FE_PATHF(pp, "%s.port", hp);
			validate_port_num_or_name(json_object_get(x, "port"), pp, fe);
			json_t *scheme = json_object_get(x, "scheme");
			if (!str_in(json_string_value(scheme), STRV("HTTP", "HTTPS"))) {
				FE_PATHF(p, "%s.scheme", hp);
				_cleanup_json_ json_t *empty = json_string("");
				fe_not_supported(fe, p, scheme ? scheme : empty,
						 STRV("HTTP", "HTTPS"));
			}
			size_t i;
			json_t *hdr;
			json_array_foreach(json_object_get(x, "httpHeaders"), i, hdr)
			{
				const char *hn = str_or_empty(hdr, "name");
				bool ok = *hn;
				for (const char *c = hn; ok && *c; c++)
					ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
					     (*c >= '0' && *c <= '9') || *c == '-';
				if (!ok) {
					FE_PATHF(p, "%s.httpHeaders", hp);
					fe_invalid_str(
					    fe, p, hn,
					    "a valid HTTP header must consist of alphanumeric "
					    "characters or '-' (e.g. 'X-Header-Name')");
				}
			}
		} else if (streq(keys[k], "tcpSocket")) {
			FE_PATHF(pp, "%s.port", hp);
			validate_port_num_or_name(json_object_get(x, "port"), pp, fe);
		} else if (streq(keys[k], "grpc")) {
			FE_PATHF(pp, "%s.port", hp);
			json_t *port = json_object_get(x, "port");
			_cleanup_json_ json_t *zero = json_integer(0);
			validate_port_number(port ? port : zero, pp, fe);
		} else if (streq(keys[k], "sleep")) {
			json_t *secs = json_object_get(x, "seconds");
			int64_t s = json_integer_value(secs);
			if (json_is_integer(grace) && (s < 0 || s > json_integer_value(grace))) {
				_cleanup_json_ json_t *v = json_integer(s);
				_cleanup_free_ char *m =
				    xasprintf("must be non-negative and less than "
					      "terminationGracePeriodSeconds (%lld)",
					      (long long)json_integer_value(grace));
				fe_invalid(fe, hp, v, m);
			}
		}
	}
	if (n == 0)
		fe_required(fe, path, "must specify a handler type");
}

enum probe_kind { PROBE_LIVENESS, PROBE_READINESS, PROBE_STARTUP };

static void validate_probe(json_t *probe, enum probe_kind kind, json_t *grace, const char *path,
			   struct field_errors *fe)
{
	if (!probe)
		return;
	validate_handler(probe, HANDLER_PROBE, grace, path, fe);
	static const char *const nonneg[] = { "initialDelaySeconds", "timeoutSeconds",
					      "periodSeconds", "successThreshold",
					      "failureThreshold" };
	for (size_t i = 0; i < ARRAY_SIZE(nonneg); i++)
		validate_nonnegative(probe, nonneg[i], path, fe);
	json_t *tg = json_object_get(probe, "terminationGracePeriodSeconds");
	FE_PATHF(tgp, "%s.terminationGracePeriodSeconds", path);
	if (tg && json_integer_value(tg) <= 0)
		fe_invalid(fe, tgp, tg, "must be greater than 0");
	if (kind == PROBE_READINESS && tg)
		fe_invalid(fe, tgp, tg, "must not be set for readinessProbes");
	json_t *st = json_object_get(probe, "successThreshold");
	if (kind != PROBE_READINESS && json_integer_value(st) != 1) {
		FE_PATHF(p, "%s.successThreshold", path);
		_cleanup_json_ json_t *v = json_integer(json_integer_value(st));
		fe_invalid(fe, p, v, "must be 1");
	}
}

static void validate_lifecycle(json_t *lc, json_t *grace, const char *path, struct field_errors *fe)
{
	static const char *const hooks[] = { "postStart", "preStop" };
	for (size_t i = 0; i < 2; i++) {
		json_t *h = json_object_get(lc, hooks[i]);
		if (!h)
			continue;
		FE_PATHF(p, "%s.%s", path, hooks[i]);
		validate_handler(h, HANDLER_LIFECYCLE, grace, p, fe);
	}
	json_t *ss = json_object_get(lc, "stopSignal");
	if (ss && !json_is_string(ss)) {
		FE_PATHF(p, "%s.stopSignal", path);
		fe_invalid(fe, p, ss, "must be a signal name");
	}
}

static void validate_probes_and_lifecycle(struct spec_check *sc, json_t *c, const char *cpath)
{
	json_t *lc = json_object_get(c, "lifecycle");
	if (lc) {
		FE_PATHF(p, "%s.lifecycle", cpath);
		validate_lifecycle(lc, sc->grace, p, sc->fe);
	}
	FE_PATHF(lp, "%s.livenessProbe", cpath);
	FE_PATHF(rp, "%s.readinessProbe", cpath);
	FE_PATHF(sp, "%s.startupProbe", cpath);
	validate_probe(json_object_get(c, "livenessProbe"), PROBE_LIVENESS, sc->grace, lp, sc->fe);
	validate_probe(json_object_get(c, "readinessProbe"), PROBE_READINESS, sc->grace, rp,
		       sc->fe);
	validate_probe(json_object_get(c, "startupProbe"), PROBE_STARTUP, sc->grace, sp, sc->fe);
}

/* ---- containers ---- */

static void validate_container_common(struct spec_check *sc, json_t *c, const char *cpath)
{
	struct field_errors *fe = sc->fe;
	FE_PATHF(np, "%s.name", cpath);
	const char *name = str_or_empty(c, "name");
	if (!*name)
		fe_required(fe, np, NULL);
	else
		validate_dns_label_at(name, np, fe);
	if (!field_is_set(c, "image")) {
		FE_PATHF(p, "%s.image", cpath);
		fe_required(fe, p, NULL);
	}
	validate_enum_required(c, "terminationMessagePolicy", cpath,
			       STRV("File", "FallbackToLogsOnError"), fe);
	FE_PATHF(pp, "%s.ports", cpath);
	validate_container_ports(json_object_get(c, "ports"), pp, fe);
	FE_PATHF(ep, "%s.env", cpath);
	validate_env(json_object_get(c, "env"), ep, fe);
	FE_PATHF(efp, "%s.envFrom", cpath);
	validate_env_from(json_object_get(c, "envFrom"), efp, fe);
	validate_volume_mounts(sc, c, cpath);
	validate_volume_devices(sc, c, cpath);
	validate_enum_required(c, "imagePullPolicy", cpath, STRV("Always", "IfNotPresent", "Never"),
			       fe);
	FE_PATHF(rp, "%s.resources", cpath);
	validate_resource_requirements(json_object_get(c, "resources"), rp, sc->claims, false, fe);
	FE_PATHF(rzp, "%s.resizePolicy", cpath);
	validate_resize_policy(json_object_get(c, "resizePolicy"), rzp, sc->restart_policy, fe);
	FE_PATHF(scp, "%s.securityContext", cpath);
	validate_container_security_context(json_object_get(c, "securityContext"), scp,
					    sc->host_users, fe);
	if (sc->opts->is_pod) {
		const char *img = json_get_str(c, "image");
		size_t n = img ? strlen(img) : 0;
		if (n && (img[0] == ' ' || img[0] == '\t' || img[0] == '\n' || img[n - 1] == ' ' ||
			  img[n - 1] == '\t' || img[n - 1] == '\n')) {
			FE_PATHF(p, "%s.image", cpath);
			fe_invalid_str(fe, p, img, "must not have leading or trailing whitespace");
		}
	}
}

/* Host ports in use by the containers of list: protocol/hostIP/port. */
static void check_host_ports(json_t *list, size_t only, const char *path, json_t *seen,
			     struct field_errors *fe)
{
	size_t i, j;
	json_t *c, *p;
	json_array_foreach(list, i, c)
	{
		if (only != (size_t)-1 && i != only)
			continue;
		json_array_foreach(json_object_get(c, "ports"), j, p)
		{
			int64_t hp = json_get_int(p, "hostPort", 0);
			if (!hp)
				continue;
			_cleanup_free_ char *key =
			    xasprintf("%s/%s/%lld", str_or_empty(p, "protocol"),
				      str_or_empty(p, "hostIP"), (long long)hp);
			if (json_object_get(seen, key)) {
				FE_PATHF(pp, "%s[%zu].ports[%zu].hostPort", path, i, j);
				_cleanup_json_ json_t *v = json_string(key);
				fe_duplicate(fe, pp, v);
			}
			json_object_set_new(seen, key, json_true());
		}
	}
}

static void validate_containers(struct spec_check *sc, const char *path)
{
	FE_PATHF(cp, "%s.containers", path);
	json_t *list = json_object_get(sc->spec, "containers");
	if (json_array_size(list) == 0) {
		fe_required(sc->fe, cp, NULL);
		return;
	}
	_cleanup_json_ json_t *names = json_object();
	size_t i;
	json_t *c;
	json_array_foreach(list, i, c)
	{
		FE_PATHF(p, "%s[%zu]", cp, i);
		validate_container_common(sc, c, p);
		const char *name = str_or_empty(c, "name");
		if (json_object_get(names, name)) {
			FE_PATHF(np, "%s.name", p);
			_cleanup_json_ json_t *v = json_string(name);
			fe_duplicate(sc->fe, np, v);
		}
		json_object_set_new(names, name, json_true());
		validate_probes_and_lifecycle(sc, c, p);
		if (json_object_get(c, "restartPolicy")) {
			FE_PATHF(rp, "%s.restartPolicy", p);
			fe_forbidden(sc->fe, rp, "may not be set for non-init containers");
		}
	}
	_cleanup_json_ json_t *seen = json_object();
	check_host_ports(list, (size_t)-1, cp, seen, sc->fe);
}

static void validate_init_containers(struct spec_check *sc, const char *path)
{
	FE_PATHF(ip, "%s.initContainers", path);
	_cleanup_json_ json_t *names = json_object();
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(sc->spec, "containers"), i, c)
	{
		json_object_set_new(names, str_or_empty(c, "name"), json_true());
	}
	json_t *list = json_object_get(sc->spec, "initContainers");
	json_array_foreach(list, i, c)
	{
		FE_PATHF(p, "%s[%zu]", ip, i);
		validate_container_common(sc, c, p);
		json_t *rp = json_object_get(c, "restartPolicy");
		bool always = false;
		if (rp) {
			FE_PATHF(rpp, "%s.restartPolicy", p);
			if (!streq_ptr(json_string_value(rp), "Always"))
				fe_not_supported(sc->fe, rpp, rp, STRV("Always"));
			always = streq_ptr(json_string_value(rp), "Always");
		}
		const char *name = str_or_empty(c, "name");
		if (json_object_get(names, name)) {
			FE_PATHF(np, "%s.name", p);
			_cleanup_json_ json_t *v = json_string(name);
			fe_duplicate(sc->fe, np, v);
		} else if (*name) {
			json_object_set_new(names, name, json_true());
		}
		/* Init containers run one at a time: only their own ports may clash. */
		_cleanup_json_ json_t *seen = json_object();
		check_host_ports(list, i, ip, seen, sc->fe);
		if (always) {
			validate_probes_and_lifecycle(sc, c, p);
		} else {
			static const char *const banned[] = { "lifecycle", "livenessProbe",
							      "readinessProbe", "startupProbe" };
			for (size_t k = 0; k < ARRAY_SIZE(banned); k++) {
				if (!json_object_get(c, banned[k]))
					continue;
				FE_PATHF(bp, "%s.%s", p, banned[k]);
				fe_forbidden(sc->fe, bp,
					     "may not be set for init containers without "
					     "restartPolicy=Always");
			}
		}
	}
}

/* ---- the pod's security context ---- */

/* The kernel namespace a sysctl belongs to: "net", "ipc", "uts" or NULL. */
static const char *sysctl_namespace(const char *name)
{
	if (startswith(name, "net.") || startswith(name, "net/"))
		return "net";
	if (streq(name, "kernel.sem") || startswith(name, "kernel.shm") ||
	    startswith(name, "kernel.msg") || startswith(name, "fs.mqueue.") ||
	    startswith(name, "kernel/shm") || startswith(name, "kernel/msg") ||
	    startswith(name, "fs/mqueue/") || streq(name, "kernel/sem"))
		return "ipc";
	if (streq(name, "kernel.hostname") || streq(name, "kernel.domainname"))
		return "uts";
	return NULL;
}

static bool sysctl_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 253)
		return false;
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.' && s[i] != '/')
			continue;
		size_t len = i - start;
		if (len == 0)
			return false;
		for (size_t j = start; j < i; j++) {
			char c = s[j];
			bool an = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
			if (!an && (j == start || j == i - 1 || (c != '-' && c != '_')))
				return false;
		}
		start = i + 1;
	}
	return true;
}

static void validate_pod_security_context(json_t *spec, const char *path, struct field_errors *fe)
{
	json_t *sc = json_object_get(spec, "securityContext");
	if (!json_is_object(sc))
		return;
	FE_PATHF(scp, "%s.securityContext", path);
	check_int_range(sc, "fsGroup", scp, 0, 2147483647, fe);
	check_int_range(sc, "runAsUser", scp, 0, 2147483647, fe);
	check_int_range(sc, "runAsGroup", scp, 0, 2147483647, fe);
	size_t i;
	json_t *g;
	json_array_foreach(json_object_get(sc, "supplementalGroups"), i, g)
	{
		if (json_integer_value(g) < 0 || json_integer_value(g) > 2147483647) {
			FE_PATHF(p, "%s.supplementalGroups[%zu]", scp, i);
			fe_invalid(fe, p, g, "must be between 0 and " INT32_MAX_STR ", inclusive");
		}
	}
	/* The internal API keeps shareProcessNamespace in the security context,
	 * and Kubernetes reports it there. */
	json_t *spn = json_object_get(spec, "shareProcessNamespace");
	if (json_is_true(spn) && json_is_true(json_object_get(spec, "hostPID"))) {
		FE_PATHF(p, "%s.shareProcessNamespace", scp);
		fe_invalid(fe, p, spn, "ShareProcessNamespace and HostPID cannot both be enabled");
	}
	_cleanup_json_ json_t *names = json_object();
	bool host_net = json_is_true(json_object_get(spec, "hostNetwork"));
	bool host_ipc = json_is_true(json_object_get(spec, "hostIPC"));
	json_array_foreach(json_object_get(sc, "sysctls"), i, g)
	{
		FE_PATHF(np, "%s.sysctls[%zu].name", scp, i);
		const char *name = str_or_empty(g, "name");
		if (!*name)
			fe_required(fe, np, NULL);
		else if (!sysctl_name_ok(name))
			fe_invalid_str(
			    fe, np, name,
			    "must have at most 253 characters and be dot- or slash-separated "
			    "parts of lower-case letters, digits, '-' and '_', each beginning "
			    "and ending with a letter or digit");
		else if (json_object_get(names, name))
			fe_duplicate(fe, np, json_object_get(g, "name"));
		const char *ns = sysctl_namespace(name);
		if (host_net && streq_ptr(ns, "net"))
			fe_invalid_str(fe, np, name,
				       "may not be specified when 'hostNetwork' is true");
		else if (host_ipc && streq_ptr(ns, "ipc"))
			fe_invalid_str(fe, np, name, "may not be specified when 'hostIPC' is true");
		json_object_set_new(names, name, json_true());
	}
	validate_enum(sc, "fsGroupChangePolicy", scp, STRV("Always", "OnRootMismatch"), fe);
	FE_PATHF(sp, "%s.seccompProfile", scp);
	validate_seccomp_profile(json_object_get(sc, "seccompProfile"), sp, fe);
	FE_PATHF(ap, "%s.appArmorProfile", scp);
	validate_apparmor_profile(json_object_get(sc, "appArmorProfile"), ap, fe);
	validate_enum(sc, "supplementalGroupsPolicy", scp, STRV("Merge", "Strict"), fe);
	validate_enum(sc, "seLinuxChangePolicy", scp, STRV("MountOption", "Recursive"), fe);
}

/* ---- affinity ---- */

static void validate_node_selector_requirement(json_t *rq, bool check_values, const char *path,
					       struct field_errors *fe)
{
	FE_PATHF(vp, "%s.values", path);
	FE_PATHF(opp, "%s.operator", path);
	FE_PATHF(kp, "%s.key", path);
	const char *op = str_or_empty(rq, "operator");
	json_t *values = json_object_get(rq, "values");
	size_t n = json_array_size(values);
	if (streq(op, "In") || streq(op, "NotIn")) {
		if (n == 0)
			fe_required(fe, vp, "must be specified when `operator` is 'In' or 'NotIn'");
	} else if (streq(op, "Exists") || streq(op, "DoesNotExist")) {
		if (n > 0)
			fe_forbidden(
			    fe, vp,
			    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'");
	} else if (streq(op, "Gt") || streq(op, "Lt")) {
		if (n != 1)
			fe_required(
			    fe, vp,
			    "must be specified single value when `operator` is 'Lt' or 'Gt'");
	} else {
		fe_invalid_str(fe, opp, op, "not a valid selector operator");
	}
	validate_qualified_name_at(str_or_empty(rq, "key"), kp, fe);
	if (!check_values)
		return;
	size_t i;
	json_t *v;
	json_array_foreach(values, i, v)
	{
		_cleanup_free_ char *m = validate_label_value(json_string_value(v));
		if (m) {
			FE_PATHF(p, "%s[%zu]", vp, i);
			fe_invalid(fe, p, v, m);
		}
	}
}

static void validate_node_selector_term(json_t *term, bool check_values, const char *path,
					struct field_errors *fe)
{
	size_t i;
	json_t *rq;
	json_array_foreach(json_object_get(term, "matchExpressions"), i, rq)
	{
		FE_PATHF(p, "%s.matchExpressions[%zu]", path, i);
		validate_node_selector_requirement(rq, check_values, p, fe);
	}
	json_array_foreach(json_object_get(term, "matchFields"), i, rq)
	{
		FE_PATHF(p, "%s.matchFields[%zu]", path, i);
		const char *op = str_or_empty(rq, "operator");
		json_t *values = json_object_get(rq, "values");
		if (streq(op, "In") || streq(op, "NotIn")) {
			if (json_array_size(values) != 1) {
				FE_PATHF(vp, "%s.values", p);
				fe_required(
				    fe, vp,
				    "must be only one value when `operator` is 'In' or 'NotIn' "
				    "for node field selector");
			}
		} else {
			FE_PATHF(opp, "%s.operator", p);
			fe_invalid_str(fe, opp, op, "not a valid selector operator");
		}
		if (!streq(str_or_empty(rq, "key"), "metadata.name")) {
			FE_PATHF(kp, "%s.key", p);
			fe_invalid_str(fe, kp, str_or_empty(rq, "key"),
				       "not a valid field selector key");
		} else {
			size_t j;
			json_t *v;
			json_array_foreach(values, j, v)
			{
				FE_PATHF(vp, "%s.values[%zu]", p, j);
				validate_dns_subdomain_at(json_string_value(v), vp, fe);
			}
		}
	}
}

static void validate_pod_affinity_term(json_t *t, const char *path, struct field_errors *fe)
{
	FE_PATHF(lsp, "%s.labelSelector", path);
	validate_label_selector(json_object_get(t, "labelSelector"), lsp, fe);
	FE_PATHF(nsp, "%s.namespaceSelector", path);
	validate_label_selector(json_object_get(t, "namespaceSelector"), nsp, fe);
	size_t i;
	json_t *ns;
	json_array_foreach(json_object_get(t, "namespaces"), i, ns)
	{
		/* Kubernetes reports these under the singular "namespace". */
		FE_PATHF(p, "%s.namespace", path);
		validate_dns_label_at(json_string_value(ns), p, fe);
	}
	static const char *const lists[] = { "matchLabelKeys", "mismatchLabelKeys" };
	json_t *sel = json_object_get(t, "labelSelector");
	for (size_t l = 0; l < 2; l++) {
		json_t *keys = json_object_get(t, lists[l]);
		if (!json_array_size(keys))
			continue;
		FE_PATHF(kp, "%s.%s", path, lists[l]);
		if (!sel) {
			fe_forbidden(fe, kp, "must not be specified when labelSelector is not set");
			continue;
		}
		json_t *k;
		json_array_foreach(keys, i, k)
		{
			FE_PATHF(p, "%s[%zu]", kp, i);
			validate_qualified_name_at(json_string_value(k), p, fe);
		}
	}
	json_t *k;
	json_array_foreach(json_object_get(t, "matchLabelKeys"), i, k)
	{
		size_t j;
		json_t *m;
		json_array_foreach(json_object_get(t, "mismatchLabelKeys"), j, m)
		{
			if (json_equal(k, m)) {
				FE_PATHF(p, "%s.matchLabelKeys[%zu]", path, i);
				fe_invalid(fe, p, k,
					   "exists in both matchLabelKeys and mismatchLabelKeys");
			}
		}
	}
	FE_PATHF(tkp, "%s.topologyKey", path);
	const char *tk = str_or_empty(t, "topologyKey");
	if (!*tk)
		fe_required(fe, tkp, "can not be empty");
	validate_qualified_name_at(tk, tkp, fe);
}

static void check_weight(json_t *obj, const char *path, struct field_errors *fe)
{
	json_t *w = json_object_get(obj, "weight");
	int64_t v = json_integer_value(w);
	if (v <= 0 || v > 100) {
		FE_PATHF(p, "%s.weight", path);
		_cleanup_json_ json_t *wv = json_integer(v);
		fe_invalid(fe, p, wv, "must be in the range 1-100");
	}
}

static void validate_pod_affinity(json_t *pa, const char *path, struct field_errors *fe)
{
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(pa, "requiredDuringSchedulingIgnoredDuringExecution"), i,
			   t)
	{
		FE_PATHF(p, "%s.requiredDuringSchedulingIgnoredDuringExecution[%zu]", path, i);
		validate_pod_affinity_term(t, p, fe);
	}
	json_array_foreach(json_object_get(pa, "preferredDuringSchedulingIgnoredDuringExecution"),
			   i, t)
	{
		FE_PATHF(p, "%s.preferredDuringSchedulingIgnoredDuringExecution[%zu]", path, i);
		check_weight(t, p, fe);
		FE_PATHF(tp, "%s.podAffinityTerm", p);
		validate_pod_affinity_term(json_object_get(t, "podAffinityTerm"), tp, fe);
	}
}

static void validate_affinity(json_t *spec, const char *path, struct field_errors *fe)
{
	json_t *aff = json_object_get(spec, "affinity");
	if (!aff)
		return;
	json_t *na = json_object_get(aff, "nodeAffinity");
	if (na) {
		FE_PATHF(nap, "%s.affinity.nodeAffinity", path);
		json_t *req = json_object_get(na, "requiredDuringSchedulingIgnoredDuringExecution");
		if (req) {
			FE_PATHF(
			    tp,
			    "%s.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms",
			    nap);
			json_t *terms = json_object_get(req, "nodeSelectorTerms");
			if (!json_array_size(terms))
				fe_required(fe, tp, "must have at least one node selector term");
			size_t i;
			json_t *t;
			json_array_foreach(terms, i, t)
			{
				FE_PATHF(p, "%s[%zu]", tp, i);
				validate_node_selector_term(t, true, p, fe);
			}
		}
		size_t i;
		json_t *t;
		json_array_foreach(
		    json_object_get(na, "preferredDuringSchedulingIgnoredDuringExecution"), i, t)
		{
			FE_PATHF(p, "%s.preferredDuringSchedulingIgnoredDuringExecution[%zu]", nap,
				 i);
			check_weight(t, p, fe);
			FE_PATHF(pp, "%s.preference", p);
			/* Preferred terms may carry values no node has yet. */
			validate_node_selector_term(json_object_get(t, "preference"), false, pp,
						    fe);
		}
	}
	json_t *pa = json_object_get(aff, "podAffinity");
	if (pa) {
		FE_PATHF(p, "%s.affinity.podAffinity", path);
		validate_pod_affinity(pa, p, fe);
	}
	json_t *paa = json_object_get(aff, "podAntiAffinity");
	if (paa) {
		FE_PATHF(p, "%s.affinity.podAntiAffinity", path);
		validate_pod_affinity(paa, p, fe);
	}
}

/* ---- tolerations, DNS, gates, spread ---- */

void pod_tolerations_validate(json_t *tolerations, const char *path, struct field_errors *fe)
{
	static const char *const effects[] = { "NoSchedule", "PreferNoSchedule", "NoExecute",
					       NULL };
	size_t i;
	json_t *t;
	json_array_foreach(tolerations, i, t)
	{
		FE_PATHF(tp, "%s[%zu]", path, i);
		FE_PATHF(kp, "%s.key", tp);
		FE_PATHF(opp, "%s.operator", tp);
		FE_PATHF(ep, "%s.effect", tp);
		const char *key = str_or_empty(t, "key");
		const char *op = str_or_empty(t, "operator");
		const char *value = str_or_empty(t, "value");
		const char *effect = str_or_empty(t, "effect");
		if (*key)
			validate_qualified_name_at(key, kp, fe);
		if (!*key && !streq(op, "Exists"))
			fe_invalid_str(fe, opp, op,
				       "operator must be Exists when `key` is empty, which means "
				       "\"match all values and all keys\"");
		if (json_object_get(t, "tolerationSeconds") && !streq(effect, "NoExecute"))
			fe_invalid_str(
			    fe, ep, effect,
			    "effect must be 'NoExecute' when `tolerationSeconds` is set");
		if (!*op || streq(op, "Equal")) {
			_cleanup_free_ char *m = validate_label_value(value);
			if (m)
				fe_invalid_str(fe, opp, value, m);
		} else if (streq(op, "Exists")) {
			if (*value)
				fe_invalid_str(fe, opp, value,
					       "value must be empty when `operator` is 'Exists'");
		} else {
			fe_not_supported(fe, opp, json_object_get(t, "operator"),
					 STRV("Equal", "Exists"));
		}
		if (*effect && !str_in(effect, effects))
			fe_not_supported(fe, ep, json_object_get(t, "effect"), effects);
	}
}

static void validate_dns_config(json_t *spec, const char *path, struct field_errors *fe)
{
	json_t *dc = json_object_get(spec, "dnsConfig");
	FE_PATHF(dcp, "%s.dnsConfig", path);
	FE_PATHF(nsp, "%s.nameservers", dcp);
	json_t *ns = json_object_get(dc, "nameservers");
	if (streq(str_or_empty(spec, "dnsPolicy"), "None")) {
		if (!dc) {
			fe_required(fe, dcp, "must provide `dnsConfig` when `dnsPolicy` is None");
			return;
		}
		if (!json_array_size(ns)) {
			fe_required(
			    fe, nsp,
			    "must provide at least one DNS nameserver when `dnsPolicy` is None");
			return;
		}
	}
	if (!dc)
		return;
	if (json_array_size(ns) > 3)
		fe_invalid(fe, nsp, ns, "must not have more than 3 nameservers");
	size_t i;
	json_t *x;
	json_array_foreach(ns, i, x)
	{
		FE_PATHF(p, "%s[%zu]", nsp, i);
		validate_ip(json_string_value(x), p, fe);
	}
	FE_PATHF(sp, "%s.searches", dcp);
	json_t *searches = json_object_get(dc, "searches");
	if (json_array_size(searches) > 32)
		fe_invalid(fe, sp, searches, "must not have more than 32 search paths");
	size_t total = 0;
	json_array_foreach(searches, i, x)
	{
		total += (i ? 1 : 0) + strlen(str_or_empty_json(x, ""));
	}
	if (total > 2048)
		fe_invalid(fe, sp, searches,
			   "must not have more than 2048 characters (including spaces) in the "
			   "search list");
	json_array_foreach(searches, i, x)
	{
		const char *s = json_string_value(x);
		if (!s || streq(s, "."))
			continue;
		size_t n = strlen(s);
		_cleanup_free_ char *trim = xstrndup(s, n && s[n - 1] == '.' ? n - 1 : n);
		_cleanup_free_ char *m = validate_dns1123_subdomain_underscore(trim);
		if (m) {
			FE_PATHF(p, "%s[%zu]", sp, i);
			fe_invalid_str(fe, p, trim, m);
		}
	}
	json_array_foreach(json_object_get(dc, "options"), i, x)
	{
		if (!field_is_set(x, "name")) {
			FE_PATHF(p, "%s.options[%zu]", dcp, i);
			fe_required(fe, p, "must not be empty");
		}
	}
}

static void validate_topology_spread(json_t *list, const char *path, struct field_errors *fe)
{
	size_t i, j;
	json_t *c, *o;
	json_array_foreach(list, i, c)
	{
		FE_PATHF(cp, "%s[%zu]", path, i);
		json_t *skew = json_object_get(c, "maxSkew");
		if (json_integer_value(skew) <= 0) {
			FE_PATHF(p, "%s.maxSkew", cp);
			_cleanup_json_ json_t *v = json_integer(json_integer_value(skew));
			fe_invalid(fe, p, v, "must be greater than zero");
		}
		const char *tk = str_or_empty(c, "topologyKey");
		if (!*tk) {
			FE_PATHF(p, "%s.topologyKey", cp);
			fe_required(fe, p, "can not be empty");
		}
		const char *wu = str_or_empty(c, "whenUnsatisfiable");
		static const char *const actions[] = { "DoNotSchedule", "ScheduleAnyway", NULL };
		if (!str_in(wu, actions)) {
			FE_PATHF(p, "%s.whenUnsatisfiable", cp);
			_cleanup_json_ json_t *v = json_string(wu);
			fe_not_supported(fe, p, v, actions);
		}
		json_array_foreach(list, j, o)
		{
			if (j <= i || !streq(tk, str_or_empty(o, "topologyKey")) ||
			    !streq(wu, str_or_empty(o, "whenUnsatisfiable")))
				continue;
			FE_PATHF(p, "%s.{topologyKey, whenUnsatisfiable}", cp);
			_cleanup_free_ char *s = xasprintf("{%s, %s}", tk, wu);
			_cleanup_json_ json_t *v = json_string(s);
			fe_duplicate(fe, p, v);
			break;
		}
		json_t *md = json_object_get(c, "minDomains");
		if (md) {
			FE_PATHF(p, "%s.minDomains", cp);
			if (json_integer_value(md) <= 0)
				fe_invalid(fe, p, md, "must be greater than zero");
			if (!streq(wu, "DoNotSchedule")) {
				_cleanup_free_ char *m =
				    xasprintf("can only use minDomains if "
					      "whenUnsatisfiable=DoNotSchedule, not %s",
					      wu);
				fe_invalid(fe, p, md, m);
			}
		}
		validate_enum(c, "nodeAffinityPolicy", cp, STRV("Honor", "Ignore"), fe);
		validate_enum(c, "nodeTaintsPolicy", cp, STRV("Honor", "Ignore"), fe);
		json_t *keys = json_object_get(c, "matchLabelKeys");
		if (json_array_size(keys)) {
			FE_PATHF(kp, "%s.matchLabelKeys", cp);
			if (!json_object_get(c, "labelSelector"))
				fe_forbidden(fe, kp,
					     "must not be specified when labelSelector is not set");
			json_array_foreach(keys, j, o)
			{
				FE_PATHF(p, "%s[%zu]", kp, j);
				validate_qualified_name_at(json_string_value(o), p, fe);
			}
		}
		FE_PATHF(lsp, "%s.labelSelector", cp);
		validate_label_selector(json_object_get(c, "labelSelector"), lsp, fe);
	}
}

static void validate_os(json_t *spec, const char *path, struct field_errors *fe)
{
	json_t *os = json_object_get(spec, "os");
	if (!os)
		return;
	FE_PATHF(op, "%s.os", path);
	const char *name = str_or_empty(os, "name");
	if (!*name) {
		FE_PATHF(p, "%s.name", op);
		fe_required(fe, p, "cannot be empty");
		return;
	}
	if (!str_in(name, STRV("linux", "windows"))) {
		fe_not_supported(fe, op, json_object_get(os, "name"), STRV("linux", "windows"));
		return;
	}
	json_t *psc = json_object_get(spec, "securityContext");
	static const char *const lists[] = { "containers", "initContainers",
					     "ephemeralContainers" };
	if (streq(name, "linux")) {
		static const char msg[] = "windows options cannot be set for a linux pod";
		if (json_object_get(psc, "windowsOptions")) {
			FE_PATHF(p, "%s.securityContext.windowsOptions", path);
			fe_forbidden(fe, p, msg);
		}
		for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
			size_t i;
			json_t *c;
			json_array_foreach(json_object_get(spec, lists[l]), i, c)
			{
				if (!json_get(c, "securityContext.windowsOptions"))
					continue;
				FE_PATHF(p, "%s.%s[%zu].securityContext.windowsOptions", path,
					 lists[l], i);
				fe_forbidden(fe, p, msg);
			}
		}
		return;
	}
	static const char win[] = "cannot be set for a windows pod";
	static const char *const pod_fields[] = { "appArmorProfile",	 "seLinuxOptions",
						  "seccompProfile",	 "fsGroup",
						  "fsGroupChangePolicy", "sysctls",
						  "runAsUser",		 "runAsGroup",
						  "supplementalGroups",	 "supplementalGroupsPolicy",
						  "seLinuxChangePolicy" };
	for (size_t k = 0; k < ARRAY_SIZE(pod_fields); k++) {
		if (!json_object_get(psc, pod_fields[k]))
			continue;
		FE_PATHF(p, "%s.securityContext.%s", path, pod_fields[k]);
		fe_forbidden(fe, p, win);
	}
	static const char *const spec_fields[] = { "hostUsers", "hostPID", "hostIPC",
						   "shareProcessNamespace" };
	for (size_t k = 0; k < ARRAY_SIZE(spec_fields); k++) {
		json_t *v = json_object_get(spec, spec_fields[k]);
		if (!v || (json_is_false(v) && !streq(spec_fields[k], "hostUsers") &&
			   !streq(spec_fields[k], "shareProcessNamespace")))
			continue;
		FE_PATHF(p, "%s.%s", path, spec_fields[k]);
		fe_forbidden(fe, p, win);
	}
	static const char *const ctr_fields[] = { "appArmorProfile",
						  "seLinuxOptions",
						  "seccompProfile",
						  "capabilities",
						  "readOnlyRootFilesystem",
						  "privileged",
						  "allowPrivilegeEscalation",
						  "procMount",
						  "runAsUser",
						  "runAsGroup" };
	for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
		size_t i;
		json_t *c;
		json_array_foreach(json_object_get(spec, lists[l]), i, c)
		{
			json_t *csc = json_object_get(c, "securityContext");
			for (size_t k = 0; k < ARRAY_SIZE(ctr_fields); k++) {
				if (!json_object_get(csc, ctr_fields[k]))
					continue;
				FE_PATHF(p, "%s.%s[%zu].securityContext.%s", path, lists[l], i,
					 ctr_fields[k]);
				fe_forbidden(fe, p, win);
			}
		}
	}
}

/* ---- the spec ---- */

static void collect_claims(json_t *spec, const char *path, json_t *names, struct field_errors *fe)
{
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(spec, "resourceClaims"), i, c)
	{
		FE_PATHF(cp, "%s.resourceClaims[%zu]", path, i);
		FE_PATHF(np, "%s.name", cp);
		const char *name = str_or_empty(c, "name");
		if (!*name) {
			fe_required(fe, np, NULL);
		} else if (json_object_get(names, name)) {
			fe_duplicate(fe, np, json_object_get(c, "name"));
		} else {
			validate_dns_label_at(name, np, fe);
			json_object_set_new(names, name, json_true());
		}
		json_t *rcn = json_object_get(c, "resourceClaimName");
		json_t *rct = json_object_get(c, "resourceClaimTemplateName");
		if (rcn && rct)
			fe_invalid(
			    fe, cp, c,
			    "at most one of `resourceClaimName` or `resourceClaimTemplateName` "
			    "may be specified");
		if (!rcn && !rct)
			fe_invalid(fe, cp, c,
				   "must specify one of: `resourceClaimName`, "
				   "`resourceClaimTemplateName`");
		if (rcn) {
			FE_PATHF(p, "%s.resourceClaimName", cp);
			validate_dns_subdomain_at(json_string_value(rcn), p, fe);
		}
		if (rct) {
			FE_PATHF(p, "%s.resourceClaimTemplateName", cp);
			validate_dns_subdomain_at(json_string_value(rct), p, fe);
		}
	}
}

static void validate_str_rule(json_t *spec, const char *key, const char *path,
			      bool (*rule)(const char *, const char *, struct field_errors *),
			      struct field_errors *fe)
{
	const char *v = json_get_str(spec, key);
	if (isempty(v))
		return;
	FE_PATHF(p, "%s.%s", path, key);
	rule(v, p, fe);
}

void pod_spec_validate_opts(json_t *spec, const char *path, const struct pod_validate_opts *opts,
			    struct field_errors *fe)
{
	_cleanup_json_ json_t *volumes = json_object(), *claims = json_object();
	struct spec_check sc = {
		.opts = opts,
		.spec = spec,
		.volumes = volumes,
		.claims = claims,
		.grace = json_object_get(spec, "terminationGracePeriodSeconds"),
		.restart_policy = json_get_str(spec, "restartPolicy"),
		.host_users = !json_is_false(json_object_get(spec, "hostUsers")),
		.fe = fe,
	};
	size_t i, j;
	json_t *x, *y;

	FE_PATHF(tgp, "%s.terminationGracePeriodSeconds", path);
	if (!sc.grace)
		fe_required(fe, tgp, NULL);
	else if (json_integer_value(sc.grace) < 0)
		fe_invalid(fe, tgp, sc.grace, "must be greater than or equal to 0");
	validate_volumes(&sc, path);
	collect_claims(spec, path, claims, fe);
	validate_containers(&sc, path);
	validate_init_containers(&sc, path);
	json_t *pres = json_object_get(spec, "resources");
	if (pres) {
		FE_PATHF(p, "%s.resources", path);
		if (json_object_get(pres, "claims")) {
			FE_PATHF(cp, "%s.claims", p);
			fe_forbidden(fe, cp, "claims cannot be set for Resources at pod-level");
		}
		_cleanup_json_ json_t *no_claims = json_deep_copy(pres);
		json_object_del(no_claims, "claims");
		validate_resource_requirements(no_claims, p, claims, true, fe);
	}
	/* With the host's network, a pod's ports are the host's ports: a
	 * template may leave hostPort unset (it is defaulted on the pod). */
	if (json_is_true(json_object_get(spec, "hostNetwork"))) {
		json_array_foreach(json_object_get(spec, "containers"), i, x)
		{
			json_array_foreach(json_object_get(x, "ports"), j, y)
			{
				int64_t hp = json_get_int(y, "hostPort", 0);
				int64_t cp = json_get_int(y, "containerPort", 0);
				if ((opts->is_pod || hp != 0) && hp != cp) {
					FE_PATHF(p, "%s.containers[%zu].ports[%zu].hostPort", path,
						 i, j);
					_cleanup_json_ json_t *v = json_integer(hp);
					fe_invalid(fe, p, v,
						   "must match `containerPort` when `hostNetwork` "
						   "is true");
				}
			}
		}
	}
	validate_enum_required(spec, "restartPolicy", path, STRV("Always", "OnFailure", "Never"),
			       fe);
	validate_enum_required(spec, "dnsPolicy", path,
			       STRV("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"),
			       fe);
	FE_PATHF(nsp, "%s.nodeSelector", path);
	validate_labels_at(json_object_get(spec, "nodeSelector"), nsp, fe);
	validate_pod_security_context(spec, path, fe);
	json_array_foreach(json_object_get(spec, "imagePullSecrets"), i, x)
	{
		if (json_object_size(x) > 1 ||
		    (json_object_size(x) == 1 && !json_object_get(x, "name"))) {
			FE_PATHF(p, "%s.imagePullSecrets[%zu]", path, i);
			fe_invalid(fe, p, x, "only name may be set");
		}
	}
	validate_affinity(spec, path, fe);
	validate_dns_config(spec, path, fe);
	json_array_foreach(json_object_get(spec, "readinessGates"), i, x)
	{
		FE_PATHF(p, "%s.readinessGates[%zu].conditionType", path, i);
		validate_qualified_name_at(str_or_empty(x, "conditionType"), p, fe);
	}
	_cleanup_json_ json_t *gates = json_object();
	json_array_foreach(json_object_get(spec, "schedulingGates"), i, x)
	{
		FE_PATHF(p, "%s.schedulingGates[%zu]", path, i);
		const char *g = str_or_empty(x, "name");
		validate_qualified_name_at(g, p, fe);
		if (json_object_get(gates, g))
			fe_duplicate(fe, p, json_object_get(x, "name"));
		json_object_set_new(gates, g, json_true());
	}
	FE_PATHF(tsp, "%s.topologySpreadConstraints", path);
	validate_topology_spread(json_object_get(spec, "topologySpreadConstraints"), tsp, fe);
	if (json_is_false(json_object_get(spec, "hostUsers"))) {
		static const struct {
			const char *key, *report_as;
		} host_ns[] = { { "hostNetwork", "hostNetwork" },
				{ "hostPID", "HostPID" },
				{ "hostIPC", "HostIPC" } };
		for (size_t k = 0; k < ARRAY_SIZE(host_ns); k++) {
			if (!json_is_true(json_object_get(spec, host_ns[k].key)))
				continue;
			FE_PATHF(p, "%s.%s", path, host_ns[k].report_as);
			fe_forbidden(fe, p, "when `pod.Spec.HostUsers` is false");
		}
	}
	validate_str_rule(spec, "serviceAccountName", path, validate_dns_subdomain_at, fe);
	validate_str_rule(spec, "nodeName", path, validate_dns_subdomain_at, fe);
	check_int_range(spec, "activeDeadlineSeconds", path, 1, 2147483647, fe);
	validate_str_rule(spec, "hostname", path, validate_dns_label_at, fe);
	validate_str_rule(spec, "subdomain", path, validate_dns_label_at, fe);
	FE_PATHF(tp, "%s.tolerations", path);
	pod_tolerations_validate(json_object_get(spec, "tolerations"), tp, fe);
	json_array_foreach(json_object_get(spec, "hostAliases"), i, x)
	{
		FE_PATHF(p, "%s.hostAliases[%zu].ip", path, i);
		validate_ip(json_get_str(x, "ip"), p, fe);
		json_array_foreach(json_object_get(x, "hostnames"), j, y)
		{
			FE_PATHF(hp, "%s.hostAliases[%zu].hostnames[%zu]", path, i, j);
			validate_dns_subdomain_at(json_string_value(y), hp, fe);
		}
	}
	validate_str_rule(spec, "priorityClassName", path, validate_dns_subdomain_at, fe);
	json_t *rcn = json_object_get(spec, "runtimeClassName");
	if (rcn) {
		FE_PATHF(p, "%s.runtimeClassName", path);
		validate_dns_subdomain_at(json_string_value(rcn), p, fe);
	}
	if (json_object_get(spec, "preemptionPolicy"))
		validate_enum_required(spec, "preemptionPolicy", path,
				       STRV("PreemptLowerPriority", "Never"), fe);
	json_t *oh = json_object_get(spec, "overhead");
	if (oh) {
		FE_PATHF(p, "%s.overhead", path);
		_cleanup_json_ json_t *wrap = json_pack("{s:O}", "limits", oh);
		validate_resource_requirements(wrap, p, claims, false, fe);
	}
	validate_os(spec, path, fe);
}

void pod_spec_validate(json_t *spec, const char *path, struct field_errors *fe)
{
	static const struct pod_validate_opts template_opts = { .is_pod = false };
	pod_spec_validate_opts(spec, path, &template_opts, fe);
}

/* Annotations with meaning for pods (and templates). */
void pod_annotations_validate(json_t *ann, json_t *spec, const char *path, struct field_errors *fe)
{
	const char *k;
	json_t *v;
	json_object_foreach(ann, k, v)
	{
		const char *s = str_or_empty_json(v, "");
		FE_PATHF(p, "%s[%s]", path, k);
		if (streq(k, "kubernetes.io/config.mirror") &&
		    isempty(json_get_str(spec, "nodeName")))
			fe_invalid(fe, p, v,
				   "must set spec.nodeName if mirror pod annotation is set");
		if (streq(k, "controller.kubernetes.io/pod-deletion-cost")) {
			char *end;
			errno = 0;
			long long n = strtoll(s, &end, 10);
			if (!*s || *end || errno || n < INT32_MIN || n > INT32_MAX)
				fe_invalid(fe, p, v, "must be a 32bit integer");
		}
		if (streq(k, "seccomp.security.alpha.kubernetes.io/pod") ||
		    startswith(k, "container.seccomp.security.alpha.kubernetes.io/")) {
			FE_PATHF(sp, "%s.%s", path, k);
			if (startswith(s, "localhost/"))
				validate_local_descending_path(s + strlen("localhost/"), sp, fe);
			else if (!str_in(s,
					 STRV("runtime/default", "docker/default", "unconfined")))
				fe_invalid(fe, sp, v, "must be a valid seccomp profile");
		}
		if (startswith(k, "container.apparmor.security.beta.kubernetes.io/")) {
			const char *cname =
			    k + strlen("container.apparmor.security.beta.kubernetes.io/");
			static const char *const lists[] = { "containers", "initContainers",
							     "ephemeralContainers" };
			bool found = false;
			for (size_t l = 0; l < ARRAY_SIZE(lists); l++)
				found = found || list_has_str(json_object_get(spec, lists[l]),
							      "name", cname);
			if (!found)
				fe_invalid_str(fe, p, cname, "container not found");
			if (*s && !streq(s, "runtime/default") && !streq(s, "unconfined") &&
			    !startswith(s, "localhost/")) {
				_cleanup_free_ char *m =
				    xasprintf("invalid AppArmor profile name: \"%s\"", s);
				fe_invalid(fe, p, v, m);
			}
		}
	}
}

void pod_template_validate(json_t *tmpl, const char *path, struct field_errors *fe)
{
	/* Kubernetes reports a template's labels and annotations at
	 * <template>.labels and <template>.annotations. */
	FE_PATHF(lp, "%s.labels", path);
	validate_labels_at(json_get(tmpl, "metadata.labels"), lp, fe);
	FE_PATHF(ap, "%s.annotations", path);
	json_t *ann = json_get(tmpl, "metadata.annotations");
	validate_annotations_at(ann, ap, fe);
	json_t *spec = json_object_get(tmpl, "spec");
	pod_annotations_validate(ann, spec, ap, fe);
	FE_PATHF(sp, "%s.spec", path);
	pod_spec_validate(spec, sp, fe);
	if (json_array_size(json_object_get(spec, "ephemeralContainers"))) {
		FE_PATHF(p, "%s.spec.ephemeralContainers", path);
		fe_forbidden(fe, p, "ephemeral containers not allowed in pod template");
	}
}
