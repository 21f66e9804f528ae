/* SPDX-License-Identifier: Apache-2.0 */
/* The pod spec: defaults and validation shared by pods and the pod
 * templates of replicasets and deployments. */
#include "apiserver/registry/common.h"
#include "lib/names.h"
#include "lib/quantity.h"

static bool image_is_latest(const char *image)
{
	if (!image)
		return true;
	if (strchr(image, '@'))
		return false;
	const char *slash = strrchr(image, '/');
	const char *colon = strrchr(slash ? slash : image, ':');
	return !colon || streq(colon + 1, "latest");
}

static void probe_defaults(json_t *probe)
{
	if (!json_is_object(probe))
		return;
	default_int(probe, "timeoutSeconds", 1);
	default_int(probe, "periodSeconds", 10);
	default_int(probe, "successThreshold", 1);
	default_int(probe, "failureThreshold", 3);
	json_t *http = json_object_get(probe, "httpGet");
	if (json_is_object(http)) {
		default_str(http, "path", "/");
		default_str(http, "scheme", "HTTP");
	}
}

static void container_defaults(json_t *c)
{
	default_str(c, "terminationMessagePath", "/dev/termination-log");
	default_str(c, "terminationMessagePolicy", "File");
	default_str(c, "imagePullPolicy",
		    image_is_latest(json_get_str(c, "image")) ? "Always" : "IfNotPresent");
	if (!json_object_get(c, "resources"))
		json_object_set_new(c, "resources", json_object());
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(c, "ports"), i, p) default_str(p, "protocol", "TCP");
	probe_defaults(json_object_get(c, "livenessProbe"));
	probe_defaults(json_object_get(c, "readinessProbe"));
	probe_defaults(json_object_get(c, "startupProbe"));
	/* Limits without requests: requests default to the limits. */
	json_t *res = json_object_get(c, "resources");
	json_t *limits = json_object_get(res, "limits");
	if (json_object_size(limits)) {
		json_t *req = json_object_ensure(res, "requests");
		const char *k;
		json_t *v;
		json_object_foreach(limits, k, v)
		{
			if (!json_object_get(req, k))
				json_object_set(req, k, v);
		}
	}
}

static void volume_defaults(json_t *v)
{
	json_t *src;
	if ((src = json_object_get(v, "configMap")))
		default_int(src, "defaultMode", 0644);
	if ((src = json_object_get(v, "secret")))
		default_int(src, "defaultMode", 0644);
	if ((src = json_object_get(v, "downwardAPI")))
		default_int(src, "defaultMode", 0644);
	if ((src = json_object_get(v, "projected")))
		default_int(src, "defaultMode", 0644);
	if ((src = json_object_get(v, "hostPath")))
		default_str(src, "type", "");
	/* A volume with no source is an emptyDir. */
	if (json_object_size(v) == 1 && json_object_get(v, "name"))
		json_object_set_new(v, "emptyDir", json_object());
}

void pod_spec_defaults(json_t *spec)
{
	if (!json_is_object(spec))
		return;
	default_str(spec, "restartPolicy", "Always");
	default_str(spec, "dnsPolicy", "ClusterFirst");
	default_int(spec, "terminationGracePeriodSeconds", 30);
	default_str(spec, "schedulerName", "default-scheduler");
	default_bool(spec, "enableServiceLinks", true);
	if (!json_object_get(spec, "securityContext"))
		json_object_set_new(spec, "securityContext", json_object());
	const char *sa = json_get_str(spec, "serviceAccountName");
	if (isempty(sa))
		sa = json_get_str(spec, "serviceAccount");
	/* Copied: setting the first field frees the string sa may point to. */
	_cleanup_free_ char *name = xstrdup(isempty(sa) ? "default" : sa);
	json_set_str(spec, "serviceAccountName", name);
	json_set_str(spec, "serviceAccount", name);
	size_t i;
	json_t *x;
	json_array_foreach(json_object_get(spec, "containers"), i, x) container_defaults(x);
	json_array_foreach(json_object_get(spec, "initContainers"), i, x) container_defaults(x);
	json_array_foreach(json_object_get(spec, "volumes"), i, x) volume_defaults(x);
}

static void validate_resources(json_t *res, const char *path, struct field_errors *fe)
{
	static const char *const kinds[] = { "limits", "requests" };
	for (size_t k = 0; k < 2; k++) {
		json_t *m = json_object_get(res, kinds[k]);
		const char *name;
		json_t *q;
		json_object_foreach(m, name, q)
		{
			_cleanup_free_ char *base = fe_path(path, kinds[k]);
			_cleanup_free_ char *p = fe_key(base, name);
			int64_t v;
			if (!json_is_string(q) || quantity_parse_milli(json_string_value(q), &v) < 0)
				fe_invalid(fe, p, q, "must be a valid quantity");
			else if (v < 0)
				fe_invalid(fe, p, q, "must be greater than or equal to 0");
		}
	}
	json_t *lim = json_object_get(res, "limits"), *req = json_object_get(res, "requests");
	const char *name;
	json_t *q;
	json_object_foreach(req, name, q)
	{
		json_t *l = json_object_get(lim, name);
		int64_t rv, lv;
		if (l && json_is_string(l) && json_is_string(q) &&
		    quantity_parse_milli(json_string_value(q), &rv) == 0 &&
		    quantity_parse_milli(json_string_value(l), &lv) == 0 && rv > lv) {
			_cleanup_free_ char *base = fe_path(path, "requests");
			_cleanup_free_ char *p = fe_key(base, name);
			_cleanup_free_ char *m =
				xasprintf("must be less than or equal to %s limit of %s", name,
					  json_string_value(l));
			fe_invalid(fe, p, q, m);
		}
	}
}

static void validate_container(json_t *c, const char *path, json_t *volumes,
			       struct field_errors *fe)
{
	_cleanup_free_ char *np = fe_path(path, "name");
	const char *name = json_get_str(c, "name");
	if (isempty(name)) {
		fe_required(fe, np, NULL);
	} else {
		_cleanup_free_ char *m = validate_dns1123_label(name);
		if (m)
			fe_invalid_str(fe, np, name, m);
	}
	if (isempty(json_get_str(c, "image"))) {
		_cleanup_free_ char *p = fe_path(path, "image");
		fe_required(fe, p, NULL);
	}
	validate_enum(c, "imagePullPolicy", path, STRV("Always", "IfNotPresent", "Never"), fe);
	validate_enum(c, "terminationMessagePolicy", path, STRV("File", "FallbackToLogsOnError"),
		      fe);

	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(c, "ports"), i, p)
	{
		_cleanup_free_ char *base = fe_path(path, "ports");
		_cleanup_free_ char *pp = fe_index(base, i);
		_cleanup_free_ char *cp = fe_path(pp, "containerPort");
		json_t *cport = json_object_get(p, "containerPort");
		if (!cport)
			fe_required(fe, cp, NULL);
		else
			validate_port_number(cport, cp, fe);
		json_t *hp = json_object_get(p, "hostPort");
		if (hp && json_integer_value(hp) != 0) {
			_cleanup_free_ char *hpp = fe_path(pp, "hostPort");
			validate_port_number(hp, hpp, fe);
		}
		validate_enum(p, "protocol", pp, STRV("SCTP", "TCP", "UDP"), fe);
		const char *pn = json_get_str(p, "name");
		if (!isempty(pn)) {
			_cleanup_free_ char *m = validate_port_name(pn);
			if (m) {
				_cleanup_free_ char *pnp = fe_path(pp, "name");
				fe_invalid_str(fe, pnp, pn, m);
			}
		}
	}
	json_array_foreach(json_object_get(c, "env"), i, p)
	{
		_cleanup_free_ char *base = fe_path(path, "env");
		_cleanup_free_ char *ep = fe_index(base, i);
		_cleanup_free_ char *enp = fe_path(ep, "name");
		const char *en = json_get_str(p, "name");
		if (isempty(en)) {
			fe_required(fe, enp, NULL);
		} else {
			_cleanup_free_ char *m = validate_env_var_name(en);
			if (m)
				fe_invalid_str(fe, enp, en, m);
		}
		if (json_object_get(p, "value") && json_object_get(p, "valueFrom")) {
			_cleanup_free_ char *vp = fe_path(ep, "valueFrom");
			fe_invalid(fe, vp, json_object_get(p, "valueFrom"),
				   "may not be specified when `value` is not empty");
		}
	}
	json_array_foreach(json_object_get(c, "volumeMounts"), i, p)
	{
		_cleanup_free_ char *base = fe_path(path, "volumeMounts");
		_cleanup_free_ char *mp = fe_index(base, i);
		const char *vn = json_get_str(p, "name");
		bool found = false;
		size_t j;
		json_t *v;
		json_array_foreach(volumes, j, v) found = found || streq_ptr(json_get_str(v, "name"), vn);
		if (!found) {
			_cleanup_free_ char *nnp = fe_path(mp, "name");
			fe_not_found(fe, nnp, json_object_get(p, "name"));
		}
		if (isempty(json_get_str(p, "mountPath"))) {
			_cleanup_free_ char *mpp = fe_path(mp, "mountPath");
			fe_required(fe, mpp, NULL);
		}
		const char *sub = json_get_str(p, "subPath");
		if (!isempty(sub) && (sub[0] == '/' || strstr(sub, ".."))) {
			_cleanup_free_ char *sp = fe_path(mp, "subPath");
			fe_invalid_str(fe, sp, sub,
				       sub[0] == '/' ? "must be a relative path"
						     : "must not contain '..'");
		}
	}
	_cleanup_free_ char *rp = fe_path(path, "resources");
	validate_resources(json_object_get(c, "resources"), rp, fe);
}

static void validate_containers(json_t *list, const char *path, json_t *volumes, bool required,
				json_t *seen, struct field_errors *fe)
{
	if (required && json_array_size(list) == 0) {
		fe_required(fe, path, NULL);
		return;
	}
	size_t i;
	json_t *c;
	json_array_foreach(list, i, c)
	{
		_cleanup_free_ char *p = fe_index(path, i);
		validate_container(c, p, volumes, fe);
		const char *name = json_get_str(c, "name");
		if (isempty(name))
			continue;
		if (json_object_get(seen, name)) {
			_cleanup_free_ char *np = fe_path(p, "name");
			fe_duplicate(fe, np, json_object_get(c, "name"));
		}
		json_object_set_new(seen, name, json_true());
	}
}

void pod_spec_validate(json_t *spec, const char *path, struct field_errors *fe)
{
	_cleanup_json_ json_t *seen = json_object(), *vseen = json_object();
	json_t *volumes = json_object_get(spec, "volumes");
	size_t i;
	json_t *v;

	json_array_foreach(volumes, i, v)
	{
		_cleanup_free_ char *base = fe_path(path, "volumes");
		_cleanup_free_ char *vp = fe_index(base, i);
		_cleanup_free_ char *np = fe_path(vp, "name");
		const char *name = json_get_str(v, "name");
		if (isempty(name)) {
			fe_required(fe, np, NULL);
			continue;
		}
		_cleanup_free_ char *m = validate_dns1123_label(name);
		if (m)
			fe_invalid_str(fe, np, name, m);
		if (json_object_get(vseen, name))
			fe_duplicate(fe, np, json_object_get(v, "name"));
		json_object_set_new(vseen, name, json_true());
		if (json_object_size(v) > 2) {
			_cleanup_free_ char *m2 = xstrdup("may not specify more than 1 volume type");
			fe_forbidden(fe, vp, m2);
		}
		json_t *hp = json_object_get(v, "hostPath");
		if (hp && isempty(json_get_str(hp, "path"))) {
			_cleanup_free_ char *hpp = fe_path(vp, "hostPath.path");
			fe_required(fe, hpp, NULL);
		}
	}
	_cleanup_free_ char *cp = fe_path(path, "containers");
	_cleanup_free_ char *ip = fe_path(path, "initContainers");
	validate_containers(json_object_get(spec, "initContainers"), ip, volumes, false, seen, fe);
	validate_containers(json_object_get(spec, "containers"), cp, volumes, true, seen, fe);
	validate_enum(spec, "restartPolicy", path, STRV("Always", "OnFailure", "Never"), fe);
	validate_enum(spec, "dnsPolicy", path,
		      STRV("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"), fe);
	validate_nonnegative(spec, "terminationGracePeriodSeconds", path, fe);
	json_t *ads = json_object_get(spec, "activeDeadlineSeconds");
	if (ads && json_integer_value(ads) <= 0) {
		_cleanup_free_ char *p = fe_path(path, "activeDeadlineSeconds");
		fe_invalid(fe, p, ads, "must be between 1 and 2147483647, inclusive");
	}
	_cleanup_free_ char *nsp = fe_path(path, "nodeSelector");
	meta_validate_labels(json_object_get(spec, "nodeSelector"), nsp, fe);
	json_array_foreach(json_object_get(spec, "tolerations"), i, v)
	{
		_cleanup_free_ char *base = fe_path(path, "tolerations");
		_cleanup_free_ char *tp = fe_index(base, i);
		validate_enum(v, "operator", tp, STRV("Equal", "Exists"), fe);
		validate_enum(v, "effect", tp, STRV("NoSchedule", "PreferNoSchedule", "NoExecute"),
			      fe);
		if (streq_ptr(json_get_str(v, "operator"), "Exists") &&
		    !isempty(json_get_str(v, "value"))) {
			_cleanup_free_ char *vp = fe_path(tp, "operator");
			fe_invalid(fe, vp, json_object_get(v, "operator"),
				   "value must be empty when `operator` is 'Exists'");
		}
	}
	const char *hostname = json_get_str(spec, "hostname");
	if (!isempty(hostname)) {
		_cleanup_free_ char *m = validate_dns1123_label(hostname);
		if (m) {
			_cleanup_free_ char *p = fe_path(path, "hostname");
			fe_invalid_str(fe, p, hostname, m);
		}
	}
}

void pod_template_validate(json_t *tmpl, const char *path, struct field_errors *fe)
{
	_cleanup_free_ char *lp = fe_path(path, "metadata.labels");
	meta_validate_labels(json_get(tmpl, "metadata.labels"), lp, fe);
	_cleanup_free_ char *sp = fe_path(path, "spec");
	pod_spec_validate(json_object_get(tmpl, "spec"), sp, fe);
}
