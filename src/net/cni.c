/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CNI plugin invocation per the CNI 1.0 spec: the network configuration
 * list is built here (never read from /etc/cni), each plugin is run with
 * the CNI_* environment and its configuration on stdin, and ADD passes
 * each plugin's result to the next as prevResult. See README.md.
 */
#include "net/cni.h"

#include <linux/magic.h>
#include <sys/statfs.h>

#include "lib/json.h"
#include "lib/macro.h"
#include "lib/strbuf.h"
#include "runtime/spawn.h"

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

#define CNI_VERSION	  "1.0.0"
#define NETWORK_NAME	  "c8s"
#define PLUGIN_TIMEOUT_MS (60 * 1000)

static void set_err(char **ret_err, char *msg)
{
	if (ret_err) {
		free(*ret_err);
		*ret_err = msg;
	} else {
		free(msg);
	}
}

/*
 * The network configuration list:
 *   bridge (gateway on the bridge, masquerade unless the node does it, hairpin) with host-local
 *   IPAM over the pod CIDR and a default route through the bridge, then
 *   portmap (hostPorts, through runtimeConfig.portMappings).
 */
static json_t *netconf_list(const struct cni_config *cfg)
{
	json_t *ipam = json_pack("{s:s, s:[[{s:s}]], s:[{s:s}], s:s}", "type", "host-local",
				 "ranges", "subnet", cfg->pod_cidr, "routes", "dst", "0.0.0.0/0",
				 "dataDir", cfg->state_dir);
	json_t *bridge =
	    json_pack("{s:s, s:s, s:b, s:b, s:b}", "type", "bridge", "bridge", cfg->bridge,
		      "isGateway", true, "ipMasq", !cfg->no_masquerade, "hairpinMode", true);
	if (cfg->mtu > 0)
		json_object_set_new(bridge, "mtu", json_integer(cfg->mtu));
	json_object_set_new(bridge, "ipam", ipam);
	json_t *portmap =
	    json_pack("{s:s, s:{s:b}}", "type", "portmap", "capabilities", "portMappings", true);
	return json_pack("{s:s, s:s, s:[o, o]}", "cniVersion", CNI_VERSION, "name", NETWORK_NAME,
			 "plugins", bridge, portmap);
}

/* One plugin's stdin: its entry of the list, with the list's name and
 * version, the runtime config for the capabilities it declares, and
 * prevResult. */
static json_t *plugin_conf(json_t *list, json_t *plugin, json_t *port_mappings, json_t *prev_result)
{
	json_t *c = json_deep_copy(plugin);
	json_object_set(c, "cniVersion", json_object_get(list, "cniVersion"));
	json_object_set(c, "name", json_object_get(list, "name"));
	if (json_is_true(json_get(c, "capabilities.portMappings")))
		json_object_set_new(
		    c, "runtimeConfig",
		    json_pack("{s:o}", "portMappings",
			      port_mappings ? json_incref(port_mappings) : json_array()));
	if (prev_result)
		json_object_set(c, "prevResult", prev_result);
	return c;
}

static bool have_mappings(json_t *port_mappings)
{
	return json_is_array(port_mappings) && json_array_size(port_mappings) > 0;
}

/* Run one plugin; *ret_result is its parsed stdout (ADD). */
static int run_plugin(const struct cni_config *cfg, const char *command, const char *type,
		      const char *container_id, const char *netns, const char *ifname, json_t *conf,
		      json_t **ret_result, char **ret_err)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", cfg->plugin_dir, type);
	_cleanup_free_ char *e_cmd = xasprintf("CNI_COMMAND=%s", command);
	_cleanup_free_ char *e_id = xasprintf("CNI_CONTAINERID=%s", container_id);
	_cleanup_free_ char *e_ns = xasprintf("CNI_NETNS=%s", netns ? netns : "");
	_cleanup_free_ char *e_if = xasprintf("CNI_IFNAME=%s", ifname);
	_cleanup_free_ char *e_path = xasprintf("CNI_PATH=%s", cfg->plugin_dir);
	/* The plugins are Go programs: one OS thread for the Go runtime saves a
	 * quarter of their start-up CPU (bridge passes it on to host-local). */
	const char *env[] = { spawn_default_path, e_cmd, e_id, e_ns, e_if, e_path,
			      "GOMAXPROCS=1",	  NULL };
	const char *argv[] = { path, NULL };
	struct spawn_opts so = { .argv = argv, .env = env };

	size_t len;
	_cleanup_free_ char *input = json_dump_compact(conf, &len);
	_cleanup_strbuf_ struct strbuf out = STRBUF_INIT;
	_cleanup_strbuf_ struct strbuf err = STRBUF_INIT;
	int r = spawn_run(&so, input, len, &out, &err, PLUGIN_TIMEOUT_MS);
	if (r < 0) {
		set_err(ret_err, xasprintf("CNI %s %s: %s", type, command, strerror(-r)));
		return r;
	}
	json_error_t jerr;
	_cleanup_json_ json_t *res = out.len ? json_loads(strbuf_str(&out), 0, &jerr) : NULL;
	if (r != 0) {
		/* The spec's error: {"code", "msg", "details"} on stdout. */
		const char *msg = res ? json_get_str(res, "msg") : NULL;
		const char *details = res ? json_get_str(res, "details") : NULL;
		set_err(ret_err,
			xasprintf("CNI %s %s failed: %s%s%s", type, command,
				  msg ? msg : (err.len ? strbuf_str(&err) : strbuf_str(&out)),
				  !isempty(details) ? ": " : "", !isempty(details) ? details : ""));
		return -EIO;
	}
	if (ret_result) {
		if (!json_is_object(res)) {
			set_err(ret_err, xasprintf("CNI %s %s: unparsable result \"%s\"", type,
						   command, strbuf_str(&out)));
			return -EBADMSG;
		}
		*ret_result = TAKE_PTR(res);
	}
	return 0;
}

/* The netns still exists (an nsfs mount), so plugins can enter it. */
static bool netns_alive(const char *netns)
{
	struct statfs sfs;
	return !isempty(netns) && statfs(netns, &sfs) == 0 && sfs.f_type == NSFS_MAGIC;
}

int cni_del(const struct cni_config *cfg, const char *container_id, const char *netns,
	    const char *ifname, json_t *port_mappings, char **ret_err)
{
	/* Without the namespace, plugins only release what lives outside it
	 * (addresses, rules): CNI_NETNS is then empty, as the spec allows. */
	const char *ns = netns_alive(netns) ? netns : "";
	_cleanup_json_ json_t *list = netconf_list(cfg);
	json_t *plugins = json_object_get(list, "plugins");
	int r = 0;
	char *first_err = NULL;

	/* Reverse order of ADD. portmap has nothing to undo without mappings. */
	for (size_t i = json_array_size(plugins); i-- > 0;) {
		json_t *p = json_array_get(plugins, i);
		const char *type = json_get_str(p, "type");
		if (streq(type, "portmap") && !have_mappings(port_mappings))
			continue;
		_cleanup_json_ json_t *conf = plugin_conf(list, p, port_mappings, NULL);
		char *err = NULL;
		int q = run_plugin(cfg, "DEL", type, container_id, ns, ifname, conf, NULL, &err);
		if (q < 0 && r == 0) {
			r = q;
			first_err = TAKE_PTR(err);
		}
		free(err);
	}
	if (r < 0)
		set_err(ret_err, first_err);
	else
		free(first_err);
	return r;
}

/* The pod's address: the first IP of the result on an interface inside
 * the sandbox (or of any interface if none says so), without its prefix. */
static char *result_ip(json_t *result, const char *netns)
{
	json_t *ifaces = json_object_get(result, "interfaces");
	json_t *ips = json_object_get(result, "ips");
	size_t i;
	json_t *ip;
	const char *fallback = NULL;
	json_array_foreach(ips, i, ip)
	{
		const char *addr = json_get_str(ip, "address");
		if (!addr)
			continue;
		json_t *idx = json_object_get(ip, "interface");
		json_t *iface = json_is_integer(idx)
				    ? json_array_get(ifaces, (size_t)json_integer_value(idx))
				    : NULL;
		const char *sandbox = iface ? json_get_str(iface, "sandbox") : NULL;
		if (sandbox && streq(sandbox, netns))
			return xstrndup(addr, strcspn(addr, "/"));
		if (!fallback)
			fallback = addr;
	}
	return fallback ? xstrndup(fallback, strcspn(fallback, "/")) : NULL;
}

int cni_add(const struct cni_config *cfg, const char *container_id, const char *netns,
	    const char *ifname, json_t *port_mappings, char **ret_ip, char **ret_err)
{
	if (isempty(container_id) || isempty(ifname) || isempty(cfg->pod_cidr) ||
	    isempty(cfg->bridge) || isempty(cfg->state_dir) || isempty(cfg->plugin_dir)) {
		set_err(ret_err, xstrdup("CNI: container id, interface, bridge, pod CIDR, state "
					 "and plugin directories are required"));
		return -EINVAL;
	}
	if (!netns_alive(netns)) {
		set_err(ret_err,
			xasprintf("CNI: \"%s\" is not a network namespace", netns ? netns : ""));
		return -ENOENT;
	}

	/* No loopback plugin: sandbox_create brought lo up (README.md). */
	int r;
	_cleanup_json_ json_t *list = netconf_list(cfg);
	json_t *plugins = json_object_get(list, "plugins");
	_cleanup_json_ json_t *prev = NULL;
	size_t i;
	json_t *p;
	json_array_foreach(plugins, i, p)
	{
		const char *type = json_get_str(p, "type");
		if (streq(type, "portmap") && !have_mappings(port_mappings))
			continue;
		_cleanup_json_ json_t *conf = plugin_conf(list, p, port_mappings, prev);
		json_t *result = NULL;
		r = run_plugin(cfg, "ADD", type, container_id, netns, ifname, conf, &result,
			       ret_err);
		if (r < 0) {
			/* The spec: a failed ADD is cleaned up with DEL. */
			(void)cni_del(cfg, container_id, netns, ifname, port_mappings, NULL);
			return r;
		}
		json_decref(prev);
		prev = result;
	}

	_cleanup_free_ char *ip = prev ? result_ip(prev, netns) : NULL;
	if (!ip) {
		set_err(ret_err, xstrdup("CNI: the result has no IP address"));
		(void)cni_del(cfg, container_id, netns, ifname, port_mappings, NULL);
		return -EBADMSG;
	}
	*ret_ip = TAKE_PTR(ip);
	return 0;
}
