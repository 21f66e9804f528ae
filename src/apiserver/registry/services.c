/* SPDX-License-Identifier: Apache-2.0 */
/* core/v1 Service: defaults, validation, cluster IP and node port
 * allocation (alloc.c), printing. */
#include <arpa/inet.h>

#include "apiserver/alloc.h"
#include "apiserver/apiserver.h"
#include "apiserver/registry/common.h"
#include "lib/names.h"
#include "lib/strbuf.h"

static bool type_is(json_t *spec, const char *t)
{
	return streq(str_or_empty(spec, "type"), t);
}

static bool wants_node_ports(json_t *spec)
{
	return type_is(spec, "NodePort") ||
	       (type_is(spec, "LoadBalancer") &&
		json_get_bool(spec, "allocateLoadBalancerNodePorts", true));
}

/* NodePort and LoadBalancer services, and any with external IPs, take
 * traffic from outside the cluster. */
static bool externally_accessible(json_t *spec)
{
	return type_is(spec, "NodePort") || type_is(spec, "LoadBalancer") ||
	       (type_is(spec, "ClusterIP") &&
		json_array_size(json_object_get(spec, "externalIPs")));
}

static bool is_headless(json_t *spec)
{
	json_t *ips = json_object_get(spec, "clusterIPs");
	return json_array_size(ips) == 1 &&
	       streq_ptr(json_string_value(json_array_get(ips, 0)), "None");
}

static void svc_defaults(json_t *obj)
{
	json_t *spec = json_object_ensure(obj, "spec");
	default_str(spec, "type", "ClusterIP");
	default_str(spec, "sessionAffinity", "None");
	if (streq(str_or_empty(spec, "sessionAffinity"), "None"))
		json_object_del(spec, "sessionAffinityConfig");
	if (streq(str_or_empty(spec, "sessionAffinity"), "ClientIP") &&
	    !json_get(spec, "sessionAffinityConfig.clientIP.timeoutSeconds"))
		json_object_set_new(spec, "sessionAffinityConfig",
				    json_pack("{s:{s:i}}", "clientIP", "timeoutSeconds", 10800));
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(spec, "ports"), i, p)
	{
		default_str(p, "protocol", "TCP");
		json_t *tp = json_object_get(p, "targetPort");
		if ((!tp || json_is_empty_value(tp)) && json_object_get(p, "port"))
			json_object_set(p, "targetPort", json_object_get(p, "port"));
	}
	if (externally_accessible(spec))
		default_str(spec, "externalTrafficPolicy", "Cluster");
	if (type_is(spec, "NodePort") || type_is(spec, "LoadBalancer") ||
	    type_is(spec, "ClusterIP"))
		default_str(spec, "internalTrafficPolicy", "Cluster");
	if (!type_is(spec, "ExternalName")) {
		/* The IP family fields are the allocator's; this server is IPv4 only. */
		if (!json_object_get(spec, "ipFamilies"))
			json_object_set_new(spec, "ipFamilies", json_pack("[s]", "IPv4"));
		default_str(spec, "ipFamilyPolicy", "SingleStack");
	}
	if (type_is(spec, "LoadBalancer"))
		default_bool(spec, "allocateLoadBalancerNodePorts", true);
	const char *ip = json_get_str(spec, "clusterIP");
	if (!isempty(ip) && !json_array_size(json_object_get(spec, "clusterIPs")))
		json_object_set_new(spec, "clusterIPs", json_pack("[s]", ip));
	json_t *status = json_object_ensure(obj, "status");
	json_t *lb = json_object_ensure(status, "loadBalancer");
	if (type_is(spec, "LoadBalancer")) {
		json_array_foreach(json_object_get(lb, "ingress"), i, p)
		{
			if (!isempty(json_get_str(p, "ip")) && !json_object_get(p, "ipMode"))
				json_set_str(p, "ipMode", "VIP");
		}
	}
}

/* Fields that belong to one service type, dropped when an update moves
 * the service away from that type and leaves them as they were. */
static void drop_type_dependent_fields(json_t *spec, json_t *ospec)
{
	static const char *const unchanged_drops[] = { "clusterIP", "clusterIPs", "ipFamilies",
						       "ipFamilyPolicy" };
	if (type_is(spec, "ExternalName") && !type_is(ospec, "ExternalName")) {
		for (size_t i = 0; i < ARRAY_SIZE(unchanged_drops); i++) {
			json_t *v = json_object_get(spec, unchanged_drops[i]);
			if (v && json_equal(v, json_object_get(ospec, unchanged_drops[i])))
				json_object_del(spec, unchanged_drops[i]);
		}
	}
	if (!wants_node_ports(spec)) {
		size_t i, k;
		json_t *p, *op;
		json_array_foreach(json_object_get(spec, "ports"), i, p)
		{
			json_t *np = json_object_get(p, "nodePort");
			if (!np)
				continue;
			json_array_foreach(json_object_get(ospec, "ports"), k, op)
			{
				if (json_equal(np, json_object_get(op, "nodePort"))) {
					json_object_del(p, "nodePort");
					break;
				}
			}
		}
	}
	if (!type_is(spec, "LoadBalancer")) {
		static const char *const lb_only[] = { "allocateLoadBalancerNodePorts",
						       "loadBalancerClass" };
		for (size_t i = 0; i < ARRAY_SIZE(lb_only); i++) {
			json_t *v = json_object_get(spec, lb_only[i]);
			if (v && json_equal(v, json_object_get(ospec, lb_only[i])))
				json_object_del(spec, lb_only[i]);
		}
	}
	json_t *etp = json_object_get(spec, "externalTrafficPolicy");
	if (etp && !externally_accessible(spec) &&
	    json_equal(etp, json_object_get(ospec, "externalTrafficPolicy")))
		json_object_del(spec, "externalTrafficPolicy");
	json_t *hc = json_object_get(spec, "healthCheckNodePort");
	if (hc &&
	    !(type_is(spec, "LoadBalancer") &&
	      streq(str_or_empty(spec, "externalTrafficPolicy"), "Local")) &&
	    json_equal(hc, json_object_get(ospec, "healthCheckNodePort")))
		json_object_del(spec, "healthCheckNodePort");
}

static void svc_prepare_update(struct api_ctx *ctx, json_t *obj, json_t *old)
{
	json_t *spec = json_object_ensure(obj, "spec"), *ospec = json_object_get(old, "spec");
	drop_type_dependent_fields(spec, ospec);
	/* An update that leaves out what was allocated keeps it. */
	if (isempty(json_get_str(spec, "clusterIP")) && !type_is(spec, "ExternalName") &&
	    !type_is(ospec, "ExternalName")) {
		json_t *ip = json_object_get(ospec, "clusterIP");
		if (ip)
			json_object_set(spec, "clusterIP", ip);
		json_t *ips = json_object_get(ospec, "clusterIPs");
		if (ips && !json_array_size(json_object_get(spec, "clusterIPs")))
			json_object_set(spec, "clusterIPs", ips);
	}
	if (!wants_node_ports(spec))
		return;
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(spec, "ports"), i, p)
	{
		if (json_get_int(p, "nodePort", 0))
			continue;
		size_t k;
		json_t *op;
		json_array_foreach(json_object_get(ospec, "ports"), k, op)
		{
			if (json_equal(json_object_get(op, "port"), json_object_get(p, "port")) &&
			    json_equal(json_object_get(op, "protocol"),
				       json_object_get(p, "protocol")) &&
			    json_get_int(op, "nodePort", 0))
				json_object_set(p, "nodePort", json_object_get(op, "nodePort"));
		}
	}
}

static void validate_ports(json_t *spec, struct field_errors *fe)
{
	json_t *ports = json_object_get(spec, "ports");
	size_t n = json_array_size(ports), i, k;
	json_t *p, *q;
	if (n == 0 && !type_is(spec, "ExternalName") && !is_headless(spec))
		fe_required(fe, "spec.ports", NULL);
	_cleanup_json_ json_t *names = json_object();
	json_array_foreach(ports, i, p)
	{
		FE_PATHF(pp, "spec.ports[%zu]", i);
		FE_PATHF(np, "%s.name", pp);
		const char *name = str_or_empty(p, "name");
		if (n > 1 && !*name) {
			fe_required(fe, np, NULL);
		} else if (*name) {
			validate_dns_label_at(name, np, fe);
			if (json_object_get(names, name))
				fe_duplicate(fe, np, json_object_get(p, "name"));
			json_object_set_new(names, name, json_true());
		}
		FE_PATHF(portp, "%s.port", pp);
		json_t *port = json_object_get(p, "port");
		_cleanup_json_ json_t *zero = json_integer(0);
		validate_port_number(port ? port : zero, portp, fe);
		validate_enum_required(p, "protocol", pp, STRV("SCTP", "TCP", "UDP"), fe);
		FE_PATHF(tpp, "%s.targetPort", pp);
		validate_port_num_or_name(json_object_get(p, "targetPort"), tpp, fe);
		const char *ap = json_get_str(p, "appProtocol");
		if (ap) {
			FE_PATHF(app, "%s.appProtocol", pp);
			validate_qualified_name_at(ap, app, fe);
		}
	}
	if (type_is(spec, "ClusterIP")) {
		json_array_foreach(ports, i, p)
		{
			if (!json_get_int(p, "nodePort", 0))
				continue;
			FE_PATHF(npp, "spec.ports[%zu].nodePort", i);
			fe_forbidden(fe, npp, "may not be used when `type` is 'ClusterIP'");
		}
	}
	/* (protocol, nodePort) and (protocol, port) are each unique. */
	json_array_foreach(ports, i, p)
	{
		json_t *np = json_object_get(p, "nodePort");
		if (!json_integer_value(np))
			continue;
		json_array_foreach(ports, k, q)
		{
			if (k >= i)
				break;
			if (json_equal(np, json_object_get(q, "nodePort")) &&
			    streq(str_or_empty(p, "protocol"), str_or_empty(q, "protocol"))) {
				FE_PATHF(npp, "spec.ports[%zu].nodePort", i);
				fe_duplicate(fe, npp, np);
				break;
			}
		}
	}
	json_array_foreach(ports, i, p)
	{
		json_array_foreach(ports, k, q)
		{
			if (k >= i)
				break;
			if (json_get_int(p, "port", 0) == json_get_int(q, "port", 0) &&
			    streq(str_or_empty(p, "protocol"), str_or_empty(q, "protocol"))) {
				FE_PATHF(pp, "spec.ports[%zu]", i);
				_cleanup_json_ json_t *key = json_pack(
				    "{s:I, s:s}", "port", (json_int_t)json_get_int(p, "port", 0),
				    "protocol", str_or_empty(p, "protocol"));
				fe_duplicate(fe, pp, key);
				break;
			}
		}
	}
}

static void validate_cluster_ips(json_t *spec, struct field_errors *fe)
{
	const char *ip = str_or_empty(spec, "clusterIP");
	json_t *ips = json_object_get(spec, "clusterIPs");
	size_t n = json_array_size(ips), i;
	json_t *x;
	if (*ip) {
		if (n == 0)
			fe_required(fe, "spec.clusterIPs", NULL);
		else if (!streq_ptr(json_string_value(json_array_get(ips, 0)), ip))
			fe_invalid(fe, "spec.clusterIPs", ips,
				   "first value must match `clusterIP`");
	} else if (n) {
		fe_invalid(fe, "spec.clusterIPs", ips,
			   "must be empty when `clusterIP` is not specified");
	}
	json_t *fams = json_object_get(spec, "ipFamilies");
	_cleanup_json_ json_t *seen = json_object();
	json_array_foreach(fams, i, x)
	{
		FE_PATHF(p, "spec.ipFamilies[%zu]", i);
		const char *f = json_string_value(x);
		if (!streq_ptr(f, "IPv4") && !streq_ptr(f, "IPv6"))
			fe_not_supported(fe, p, x, STRV("IPv4", "IPv6"));
		if (f && json_object_get(seen, f))
			fe_duplicate(fe, p, x);
		if (f)
			json_object_set_new(seen, f, json_true());
	}
	validate_enum(spec, "ipFamilyPolicy", "spec",
		      STRV("PreferDualStack", "RequireDualStack", "SingleStack"), fe);
	bool bad = false;
	json_array_foreach(ips, i, x)
	{
		const char *s = json_string_value(x);
		if (i == 0 && streq_ptr(s, "None")) {
			if (n > 1) {
				bad = true;
				fe_invalid(fe, "spec.clusterIPs", ips,
					   "'None' must be the first and only value");
			}
			continue;
		}
		FE_PATHF(p, "spec.clusterIPs[%zu]", i);
		size_t before = fe->n;
		validate_ip(s, p, fe);
		bad = bad || fe->n != before;
	}
	if (n > 2)
		fe_invalid(fe, "spec.clusterIPs", ips, "may only hold up to 2 values");
	if (bad)
		return;
	if (n > 1 && !ips_are_dual_stack(ips, false))
		fe_invalid(fe, "spec.clusterIPs", ips,
			   "may specify no more than one IP for each IP family");
	if (is_headless(spec))
		return;
	json_array_foreach(ips, i, x)
	{
		const char *f = json_string_value(json_array_get(fams, i));
		if (!f)
			break;
		int fam = ip_family(json_string_value(x));
		if ((streq(f, "IPv4") && fam == 6) || (streq(f, "IPv6") && fam != 6)) {
			FE_PATHF(p, "spec.clusterIPs[%zu]", i);
			_cleanup_free_ char *m =
			    xasprintf("expected an %s value as indicated by `ipFamilies[%zu]`",
				      streq(f, "IPv4") ? "IPv4" : "IPv6", i);
			fe_invalid(fe, p, x, m);
		}
	}
}

/* What an update may do to the allocated addresses and families. */
static void validate_ip_updates(json_t *spec, json_t *ospec, struct field_errors *fe)
{
	if (type_is(spec, "ExternalName") || type_is(ospec, "ExternalName"))
		return;
	bool h = is_headless(spec), oh = is_headless(ospec);
	static const struct {
		const char *key, *what;
	} lists[] = { { "clusterIPs", "clusterIP" }, { "ipFamilies", "ipFamily" } };
	for (size_t l = 0; l < 2; l++) {
		if (h && oh)
			continue;
		if (l == 1 && h != oh)
			continue;
		json_t *now = json_object_get(spec, lists[l].key),
		       *was = json_object_get(ospec, lists[l].key);
		size_t n = json_array_size(now), on = json_array_size(was);
		FE_PATHF(p0, "spec.%s[0]", lists[l].key);
		if (n == on) {
			for (size_t i = 0; i < on; i++) {
				if (json_equal(json_array_get(now, i), json_array_get(was, i)))
					continue;
				/* Kubernetes reports a changed family at index 0 whatever the
				 * index. */
				FE_PATHF(p, "spec.%s[%zu]", lists[l].key, l == 0 ? i : 0);
				fe_invalid(fe, p, now, "may not change once set");
			}
		} else if (on > n) {
			if (n == 0) {
				_cleanup_free_ char *m =
				    xasprintf("primary %s can not be unset", lists[l].what);
				fe_invalid(fe, p0, now, m);
			} else if (!json_equal(json_array_get(now, 0), json_array_get(was, 0))) {
				fe_invalid(fe, p0, now, "may not change once set");
			}
			if (n == 1 && !streq(str_or_empty(spec, "ipFamilyPolicy"), "SingleStack")) {
				_cleanup_free_ char *m = xasprintf(
				    "must be set to 'SingleStack' when releasing the secondary %s",
				    lists[l].what);
				fe_invalid(fe, "spec.ipFamilyPolicy",
					   json_object_get(spec, "ipFamilyPolicy"), m);
			}
		} else if (on > 0 && !json_equal(json_array_get(now, 0), json_array_get(was, 0))) {
			fe_invalid(fe, p0, now, "may not change once set");
		}
	}
}

static void svc_validate(struct api_ctx *ctx, json_t *obj, json_t *old, struct field_errors *fe)
{
	json_t *spec = json_object_get(obj, "spec"), *ospec = json_object_get(old, "spec");
	size_t i;
	json_t *x;
	if (old) {
		validate_ip_updates(spec, ospec, fe);
		if (type_is(spec, "LoadBalancer") && type_is(ospec, "LoadBalancer") &&
		    !json_equal(json_object_get(spec, "loadBalancerClass"),
				json_object_get(ospec, "loadBalancerClass")) &&
		    (json_object_get(spec, "loadBalancerClass") ||
		     json_object_get(ospec, "loadBalancerClass")))
			fe_invalid(fe, "spec.loadBalancerClass",
				   json_object_get(spec, "loadBalancerClass"),
				   "may not change once set");
		bool hc = type_is(spec, "LoadBalancer") &&
			  streq(str_or_empty(spec, "externalTrafficPolicy"), "Local");
		bool ohc = type_is(ospec, "LoadBalancer") &&
			   streq(str_or_empty(ospec, "externalTrafficPolicy"), "Local");
		if (hc && ohc &&
		    json_get_int(spec, "healthCheckNodePort", 0) !=
			json_get_int(ospec, "healthCheckNodePort", 0))
			fe_forbidden(fe, "spec.healthCheckNodePort", "field is immutable");
	}

	if (type_is(spec, "LoadBalancer") && is_headless(spec))
		fe_invalid(fe, "spec.clusterIPs[0]",
			   json_array_get(json_object_get(spec, "clusterIPs"), 0),
			   "may not be set to 'None' for LoadBalancer services");
	if (type_is(spec, "NodePort") && is_headless(spec))
		fe_invalid(fe, "spec.clusterIPs[0]",
			   json_array_get(json_object_get(spec, "clusterIPs"), 0),
			   "may not be set to 'None' for NodePort services");
	if (type_is(spec, "ExternalName")) {
		if (json_array_size(json_object_get(spec, "clusterIPs")))
			fe_forbidden(fe, "spec.clusterIPs",
				     "may not be set for ExternalName services");
		if (json_array_size(json_object_get(spec, "ipFamilies")))
			fe_forbidden(fe, "spec.ipFamilies",
				     "may not be set for ExternalName services");
		if (json_object_get(spec, "ipFamilyPolicy"))
			fe_forbidden(fe, "spec.ipFamilyPolicy",
				     "may not be set for ExternalName services");
		/* A CNAME may end with a dot to say it is fully qualified. */
		const char *en = str_or_empty(spec, "externalName");
		size_t n = strlen(en);
		_cleanup_free_ char *cname = xstrndup(en, n && en[n - 1] == '.' ? n - 1 : n);
		if (*cname)
			validate_dns_subdomain_at(cname, "spec.externalName", fe);
		else
			fe_required(fe, "spec.externalName", NULL);
	}
	validate_ports(spec, fe);
	validate_labels_at(json_object_get(spec, "selector"), "spec.selector", fe);
	validate_enum_required(spec, "sessionAffinity", "spec", STRV("ClientIP", "None"), fe);
	const char *aff = str_or_empty(spec, "sessionAffinity");
	json_t *sac = json_object_get(spec, "sessionAffinityConfig");
	if (streq(aff, "ClientIP")) {
		json_t *t = json_get(sac, "clientIP.timeoutSeconds");
		if (!sac)
			fe_required(fe, "spec.sessionAffinityConfig",
				    "when session affinity type is ClientIP");
		else if (!json_object_get(sac, "clientIP"))
			fe_required(fe, "spec.sessionAffinityConfig.clientIP",
				    "when session affinity type is ClientIP");
		else if (!t)
			fe_required(fe, "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
				    "when session affinity type is ClientIP");
		else if (json_integer_value(t) <= 0 || json_integer_value(t) > 86400)
			fe_invalid(fe, "spec.sessionAffinityConfig.clientIP.timeoutSeconds", t,
				   "must be greater than 0 and less than 86400");
	} else if (streq(aff, "None") && sac) {
		fe_forbidden(fe, "spec.sessionAffinityConfig",
			     "must not be set when session affinity is None");
	}
	if (!type_is(spec, "ExternalName"))
		validate_cluster_ips(spec, fe);
	json_array_foreach(json_object_get(spec, "externalIPs"), i, x)
	{
		FE_PATHF(p, "spec.externalIPs[%zu]", i);
		size_t before = fe->n;
		validate_ip(json_string_value(x), p, fe);
		if (fe->n == before)
			validate_non_special_ip(json_string_value(x), p, fe);
	}
	validate_enum_required(spec, "type", "spec",
			       STRV("ClusterIP", "ExternalName", "LoadBalancer", "NodePort"), fe);
	json_t *ranges = json_object_get(spec, "loadBalancerSourceRanges");
	if (json_array_size(ranges)) {
		/* Kubernetes spells this path with a capital L. */
		if (!type_is(spec, "LoadBalancer"))
			fe_forbidden(fe, "spec.LoadBalancerSourceRanges",
				     "may only be used when `type` is 'LoadBalancer'");
		json_array_foreach(ranges, i, x)
		{
			FE_PATHF(p, "spec.LoadBalancerSourceRanges[%zu]", i);
			const char *s = str_or_empty_json(x, "");
			while (*s == ' ' || *s == '\t')
				s++;
			size_t n = strlen(s);
			while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
				n--;
			_cleanup_free_ char *t = xstrndup(s, n);
			validate_cidr(t, p, fe);
		}
	}
	if (json_object_get(spec, "allocateLoadBalancerNodePorts") &&
	    !type_is(spec, "LoadBalancer"))
		fe_forbidden(fe, "spec.allocateLoadBalancerNodePorts",
			     "may only be used when `type` is 'LoadBalancer'");
	json_t *lbc = json_object_get(spec, "loadBalancerClass");
	if (lbc && type_is(spec, "LoadBalancer"))
		validate_qualified_name_at(json_string_value(lbc), "spec.loadBalancerClass", fe);
	else if (lbc)
		fe_forbidden(fe, "spec.loadBalancerClass",
			     "may only be used when `type` is 'LoadBalancer'");
	json_t *etp = json_object_get(spec, "externalTrafficPolicy");
	if (!externally_accessible(spec)) {
		if (etp && !json_is_empty_value(etp))
			fe_invalid(fe, "spec.externalTrafficPolicy", etp,
				   "may only be set for externally-accessible services");
	} else {
		validate_enum_required(spec, "externalTrafficPolicy", "spec",
				       STRV("Cluster", "Local"), fe);
	}
	json_t *hc = json_object_get(spec, "healthCheckNodePort");
	bool needs_hc = type_is(spec, "LoadBalancer") &&
			streq(str_or_empty(spec, "externalTrafficPolicy"), "Local");
	if (!needs_hc && json_integer_value(hc))
		fe_invalid(fe, "spec.healthCheckNodePort", hc,
			   "may only be set when `type` is 'LoadBalancer' and "
			   "`externalTrafficPolicy` is 'Local'");
	else if (needs_hc && json_integer_value(hc))
		validate_port_number(hc, "spec.healthCheckNodePort", fe);
	if (!json_object_get(spec, "internalTrafficPolicy") &&
	    (type_is(spec, "NodePort") || type_is(spec, "LoadBalancer") ||
	     type_is(spec, "ClusterIP")))
		fe_required(fe, "spec.internalTrafficPolicy", NULL);
	validate_enum(spec, "internalTrafficPolicy", "spec", STRV("Cluster", "Local"), fe);
	validate_enum(spec, "trafficDistribution", "spec",
		      STRV("PreferClose", "PreferSameNode", "PreferSameZone"), fe);
}

static void svc_validate_status(struct api_ctx *ctx, json_t *obj, json_t *old,
				struct field_errors *fe)
{
	json_t *spec = json_object_get(obj, "spec");
	json_t *ingress = json_get(obj, "status.loadBalancer.ingress");
	if (json_array_size(ingress) && !type_is(spec, "LoadBalancer")) {
		fe_forbidden(fe, "status.loadBalancer.ingress",
			     "may only be used when `spec.type` is 'LoadBalancer'");
		return;
	}
	size_t i;
	json_t *in;
	json_array_foreach(ingress, i, in)
	{
		FE_PATHF(p, "status.loadBalancer.ingress[%zu]", i);
		const char *ip = json_get_str(in, "ip");
		json_t *mode = json_object_get(in, "ipMode");
		if (!isempty(ip)) {
			FE_PATHF(ipp, "%s.ip", p);
			validate_ip(ip, ipp, fe);
		}
		FE_PATHF(mp, "%s.ipMode", p);
		if (!mode && !isempty(ip))
			fe_required(fe, mp, "must be specified when `ip` is set");
		else if (mode && isempty(ip))
			fe_forbidden(fe, mp, "may not be specified when `ip` is not set");
		else if (mode && !streq_ptr(json_string_value(mode), "VIP") &&
			 !streq_ptr(json_string_value(mode), "Proxy"))
			fe_not_supported(fe, mp, mode, STRV("Proxy", "VIP"));
		const char *host = json_get_str(in, "hostname");
		if (!isempty(host)) {
			FE_PATHF(hp, "%s.hostname", p);
			validate_dns_subdomain_at(host, hp, fe);
			if (ip_family(host))
				fe_invalid_str(fe, hp, host,
					       "must be a DNS name, not an IP address");
		}
	}
}

/* Reserve the cluster IP and node ports obj needs that old does not hold. */
static int svc_allocate(struct api_ctx *ctx, json_t *obj, json_t *old, struct api_error *err)
{
	struct allocators *a = ctx->srv->alloc;
	json_t *spec = json_object_ensure(obj, "spec"), *ospec = json_object_get(old, "spec");
	const char *ip = json_get_str(spec, "clusterIP");
	const char *oip = json_get_str(ospec, "clusterIP");
	char out[16];
	bool got_ip = false;

	if (!type_is(spec, "ExternalName") && !streq_ptr(ip, "None") &&
	    !(ip && oip && streq(ip, oip))) {
		int r = alloc_ip(a, ip, out);
		if (r < 0) {
			struct field_errors fe = { 0 };
			_cleanup_free_ char *m =
			    r == -EEXIST
				? xasprintf(
				      "failed to allocate IP %s: provided IP is already allocated",
				      ip)
			    : r == -ERANGE
				? xasprintf("failed to allocate IP %s: the provided IP (%s) is not "
					    "in the valid range. The range of valid IPs is %s",
					    ip, ip, alloc_cidr(a))
				: xstrdup("failed to allocate a serviceIP: range is full");
			fe_invalid_str(&fe, "spec.clusterIPs", ip ? ip : "", m);
			api_error_invalid(err, ctx->res, json_get_str(obj, "metadata.name"), &fe);
			field_errors_release(&fe);
			return r;
		}
		json_set_str(spec, "clusterIP", out);
		json_object_set_new(spec, "clusterIPs", json_pack("[s]", out));
		got_ip = true;
	}
	if (!wants_node_ports(spec))
		return 0;
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(spec, "ports"), i, p)
	{
		int want = (int)json_get_int(p, "nodePort", 0), got;
		bool held = false;
		size_t k;
		json_t *op;
		json_array_foreach(json_object_get(ospec, "ports"), k, op)
		{
			held = held || (want && json_get_int(op, "nodePort", 0) == want);
		}
		if (held)
			continue;
		int r = alloc_port(a, want, &got);
		if (r < 0) {
			/* Give back what this call took. */
			for (size_t j = 0; j < i; j++) {
				json_t *q = json_array_get(json_object_get(spec, "ports"), j);
				int np = (int)json_get_int(q, "nodePort", 0);
				bool oheld = false;
				json_array_foreach(json_object_get(ospec, "ports"), k, op)
				{
					oheld = oheld || json_get_int(op, "nodePort", 0) == np;
				}
				if (!oheld)
					alloc_release_port(a, np);
			}
			if (got_ip)
				alloc_release_ip(a, json_get_str(spec, "clusterIP"));
			struct field_errors fe = { 0 };
			_cleanup_free_ char *path = fe_index("spec.ports", i);
			_cleanup_free_ char *npath = fe_path(path, "nodePort");
			int mn, mx;
			alloc_port_range(a, &mn, &mx);
			_cleanup_free_ char *m =
			    r == -EEXIST   ? xstrdup("provided port is already allocated")
			    : r == -ERANGE ? xasprintf("provided port is not in the valid range. "
						       "The range of valid ports is %d-%d",
						       mn, mx)
					   : xstrdup("range is full");
			fe_invalid(&fe, npath, json_object_get(p, "nodePort"), m);
			api_error_invalid(err, ctx->res, json_get_str(obj, "metadata.name"), &fe);
			field_errors_release(&fe);
			return r;
		}
		json_set_int(p, "nodePort", got);
	}
	return 0;
}

/* Give back what obj holds and new_obj does not. */
static void svc_release(struct api_ctx *ctx, json_t *obj, json_t *new_obj)
{
	struct allocators *a = ctx->srv->alloc;
	const char *ip = json_get_str(obj, "spec.clusterIP");
	const char *nip = json_get_str(new_obj, "spec.clusterIP");
	if (!isempty(ip) && !streq(ip, "None") && !streq_ptr(ip, nip))
		alloc_release_ip(a, ip);
	size_t i, k;
	json_t *p, *np;
	json_array_foreach(json_get(obj, "spec.ports"), i, p)
	{
		int port = (int)json_get_int(p, "nodePort", 0);
		if (!port)
			continue;
		bool kept = false;
		json_array_foreach(json_get(new_obj, "spec.ports"), k, np)
		{
			kept = kept || json_get_int(np, "nodePort", 0) == port;
		}
		if (!kept)
			alloc_release_port(a, port);
	}
}

static void svc_get_fields(json_t *obj, const char **v)
{
	v[0] = json_get_str(obj, "spec.clusterIP");
	v[1] = json_get_str(obj, "spec.type");
}

static const struct table_column svc_columns[] = {
	{ "Name", "string", "name", "Name of the service.", 0 },
	{ "Type", "string", "", "How the service is exposed.", 0 },
	{ "Cluster-IP", "string", "", "The service's address inside the cluster.", 0 },
	{ "External-IP", "string", "", "Addresses the service is reachable at from outside.", 0 },
	{ "Port(s)", "string", "", "The service's ports.", 0 },
	{ "Age", "string", "", "Time since the service was created.", 0 },
	{ "Selector", "string", "", "The labels that pick the service's pods.", 1 },
};

static void svc_row(json_t *obj, json_t *cells, int64_t now)
{
	json_t *spec = json_object_get(obj, "spec");
	const char *type = str_or_empty(spec, "type");
	json_t *ips = json_object_get(spec, "clusterIPs");
	const char *cip = json_string_value(json_array_get(ips, 0));
	if (isempty(cip))
		cip = json_get_str(spec, "clusterIP");
	struct strbuf ext = STRBUF_INIT, ports = STRBUF_INIT;
	if (streq(type, "ExternalName")) {
		strbuf_addstr(&ext, str_or_empty(spec, "externalName"));
	} else {
		/* as upstream: a load balancer's ingress addresses, then the
		 * external IPs */
		size_t i;
		json_t *x;
		bool lb = streq(type, "LoadBalancer");
		json_array_foreach(lb ? json_get(obj, "status.loadBalancer.ingress") : NULL, i, x)
		{
			const char *v = json_get_str(x, "ip");
			if (isempty(v))
				v = json_get_str(x, "hostname");
			if (isempty(v))
				continue;
			if (ext.len)
				strbuf_addch(&ext, ',');
			strbuf_addstr(&ext, v);
		}
		json_array_foreach(json_object_get(spec, "externalIPs"), i, x)
		{
			if (ext.len)
				strbuf_addch(&ext, ',');
			strbuf_addstr(&ext, json_string_value(x));
		}
		if (lb && !ext.len)
			strbuf_addstr(&ext, "<pending>");
	}
	if (!ext.len)
		strbuf_addstr(&ext, "<none>");
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(spec, "ports"), i, p)
	{
		if (ports.len)
			strbuf_addch(&ports, ',');
		int64_t np = json_get_int(p, "nodePort", 0);
		if (np)
			strbuf_addf(&ports, "%lld:%lld/%s", (long long)json_get_int(p, "port", 0),
				    (long long)np, str_or_empty(p, "protocol"));
		else
			strbuf_addf(&ports, "%lld/%s", (long long)json_get_int(p, "port", 0),
				    str_or_empty(p, "protocol"));
	}
	if (!ports.len)
		strbuf_addstr(&ports, "<none>");
	cell_str(cells, json_get_str(obj, "metadata.name"));
	cell_str(cells, type);
	cell_str(cells, isempty(cip) ? "<none>" : cip);
	cell_str(cells, strbuf_str(&ext));
	cell_str(cells, strbuf_str(&ports));
	cell_age(cells, obj, now);
	json_t *sel = json_object_get(spec, "selector");
	_cleanup_free_ char *s = format_labels(sel);
	cell_str(cells, s);
	strbuf_release(&ext);
	strbuf_release(&ports);
}

const struct resource resource_services = {
	RESOURCE_CORE_V1,
	.kind = "Service",
	.plural = "services",
	.singular = "service",
	.namespaced = true,
	.short_names = STRV("svc"),
	.categories = STRV("all"),
	.type_name = "Service",
	.flags = RES_STATUS | RES_CREATION_EVENT | RES_PROXY,
	.name_rule = NAME_DNS1035_LABEL,
	.fields = STRV("spec.clusterIP", "spec.type"),
	.get_fields = svc_get_fields,
	.defaults = svc_defaults,
	.prepare_update = svc_prepare_update,
	.validate = svc_validate,
	.validate_status = svc_validate_status,
	.allocate = svc_allocate,
	.release = svc_release,
	.columns = svc_columns,
	.ncolumns = ARRAY_SIZE(svc_columns),
	.row = svc_row,
};
