/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `c8s proxy-apply` (hidden, for tests and benchmarks): render the service
 * proxy's rules from Services and EndpointSlices in a JSON file (a List, or
 * any object with "items") and apply them in the current network
 * namespace, exactly as the node's proxy would.
 */
#include <jansson.h>
#include <pthread.h>
#include <signal.h>

#include "client/kclient.h"
#include "lib/flags.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "net/proxy.h"
#include "net/proxy_nft.h"
#include "net/proxy_rules.h"

struct model {
	struct proxy_service **svcs;
	size_t nsvcs;
	struct proxy_slice **slices;
	size_t nslices;
};

static void model_release(struct model *m)
{
	for (size_t i = 0; i < m->nsvcs; i++)
		proxy_service_free(m->svcs[i]);
	free(m->svcs);
	for (size_t i = 0; i < m->nslices; i++)
		proxy_slice_free(m->slices[i]);
	free(m->slices);
	memset(m, 0, sizeof(*m));
}

static int model_load(const char *path, struct model *m)
{
	json_error_t jerr;
	json_t *doc = json_load_file(path, 0, &jerr);
	if (!doc) {
		fprintf(stderr, "proxy-apply: %s:%d: %s\n", path, jerr.line, jerr.text);
		return -EINVAL;
	}
	json_t *items = json_object_get(doc, "items");
	if (!json_is_array(items)) {
		fprintf(stderr, "proxy-apply: %s: no \"items\" array\n", path);
		json_decref(doc);
		return -EINVAL;
	}
	size_t i;
	json_t *it;
	json_array_foreach(items, i, it)
	{
		const char *kind = json_string_value(json_object_get(it, "kind"));
		char *err = NULL;
		int r = 0;
		if (kind && streq(kind, "Service")) {
			struct proxy_service *s = NULL;
			r = proxy_service_parse(it, &s, &err);
			if (r >= 0) {
				m->svcs = xrealloc(m->svcs, (m->nsvcs + 1) * sizeof(*m->svcs));
				m->svcs[m->nsvcs++] = s;
			}
		} else if (kind && streq(kind, "EndpointSlice")) {
			struct proxy_slice *s = NULL;
			r = proxy_slice_parse(it, &s, &err);
			if (r >= 0 && s) {
				m->slices =
				    xrealloc(m->slices, (m->nslices + 1) * sizeof(*m->slices));
				m->slices[m->nslices++] = s;
			}
		} else {
			err =
			    xasprintf("item %zu: kind \"%s\" is neither Service nor EndpointSlice",
				      i, kind ? kind : "");
			r = -EINVAL;
		}
		if (r < 0) {
			fprintf(stderr, "proxy-apply: %s: %s\n", path, err);
			free(err);
			json_decref(doc);
			return r;
		}
	}
	json_decref(doc);
	return 0;
}

static const struct proxy_service *model_find(const struct model *m, const char *key)
{
	for (size_t i = 0; i < m->nsvcs; i++) {
		char k[160];
		snprintf(k, sizeof(k), "%s/%s", m->svcs[i]->ns, m->svcs[i]->name);
		if (streq(k, key))
			return m->svcs[i];
	}
	return NULL;
}

/* Render key's Service from m (absent: removed). */
static void render(struct proxy_rules *r, const struct model *m, const char *key,
		   struct strbuf *out)
{
	const struct proxy_slice **sl = xnew(const struct proxy_slice *, m->nslices + 1);
	size_t n = 0;
	for (size_t i = 0; i < m->nslices; i++) {
		char k[160];
		snprintf(k, sizeof(k), "%s/%s", m->slices[i]->ns, m->slices[i]->service);
		if (streq(k, key))
			sl[n++] = m->slices[i];
	}
	proxy_rules_service(r, key, model_find(m, key), sl, n, out);
	free(sl);
}

static void render_all(struct proxy_rules *r, const struct model *m, const struct model *also,
		       struct strbuf *out)
{
	for (int pass = 0; pass < 2; pass++) {
		const struct model *src = pass ? also : m;
		for (size_t i = 0; src && i < src->nsvcs; i++) {
			char k[160];
			snprintf(k, sizeof(k), "%s/%s", src->svcs[i]->ns, src->svcs[i]->name);
			if (pass && model_find(m, k))
				continue;
			render(r, m, k, out);
		}
	}
}

static int apply(struct proxy_nft *nft, const char *cmds, bool print, const char *what)
{
	if (print) {
		fputs(cmds, stdout);
		return 0;
	}
	uint64_t t0 = now_usec_monotonic();
	_cleanup_free_ char *err = NULL;
	if (proxy_nft_run(nft, cmds, &err) < 0) {
		fprintf(stderr, "proxy-apply: %s: %s\n", what, err);
		return -EINVAL;
	}
	fprintf(stderr, "proxy-apply: %s: %zu bytes applied in %.1f ms\n", what, strlen(cmds),
		(now_usec_monotonic() - t0) / 1000.0);
	return 0;
}

/* --kubeconfig: run the real proxy (informers and incremental syncs) until
 * SIGTERM or SIGINT. */
static int run_proxy(const char *kubeconfig, const struct svc_proxy_opts *o)
{
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* before any thread starts */
	struct kclient_opts ko = { .kubeconfig = kubeconfig, .user_agent = "c8s-proxy/v0.1" };
	struct kclient *kc = NULL;
	_cleanup_free_ char *err = NULL;
	if (kclient_new(&ko, &kc, &err) < 0) {
		fprintf(stderr, "proxy-apply: %s\n", err);
		return 1;
	}
	struct svc_proxy *p = NULL;
	if (svc_proxy_start(kc, o, &p) < 0) {
		kclient_free(kc);
		return 1;
	}
	int sig = 0;
	sigwait(&sigs, &sig);
	log_info("service proxy: signal %d, stopping", sig);
	svc_proxy_stop(p);
	kclient_free(kc);
	return 0;
}

int proxy_apply_main(int argc, char **argv)
{
	const char *table = "c8s", *node = "", *cluster_cidr = "10.42.0.0/16",
		   *dns_ip = "10.43.0.10", *from = NULL;
	const char *kubeconfig = NULL, *netns = NULL;
	bool print = false, del = false, cleanup = false;
	int sync_min_ms = 10, v = 0;
	const struct flag flags[] = {
		{ "table", FLAG_STRING, &table, "nftables table (family ip)" },
		{ "node-name", FLAG_STRING, &node,
		  "this node's name (externalTrafficPolicy Local)" },
		{ "cluster-cidr", FLAG_STRING, &cluster_cidr, "pod network" },
		{ "dns-ip", FLAG_STRING, &dns_ip, "address never DNATed" },
		{ "from", FLAG_STRING, &from,
		  "apply FILE fully first, then FILE2 as an incremental update" },
		{ "print", FLAG_BOOL, &print, "print the commands instead of applying them" },
		{ "delete", FLAG_BOOL, &del, "delete the table and exit" },
		{ "kubeconfig", FLAG_STRING, &kubeconfig,
		  "run the proxy against this cluster until SIGTERM (no FILE)" },
		{ "netns", FLAG_STRING, &netns, "with --kubeconfig: apply rules in this netns" },
		{ "sync-min-ms", FLAG_INT, &sync_min_ms,
		  "with --kubeconfig: least ms between syncs" },
		{ "cleanup", FLAG_BOOL, &cleanup, "with --kubeconfig: delete the table on exit" },
		{ "v", FLAG_INT, &v, "log verbosity" },
		{ 0 },
	};
	static const char usage[] =
	    "Usage: c8s proxy-apply [flags] FILE | --delete | --kubeconfig FILE\n"
	    "Apply the service proxy rules for the Services and EndpointSlices in FILE\n"
	    "(JSON with \"items\") to the current network namespace, replacing the table.\n";
	_cleanup_free_ char **args = NULL;
	int r = flags_parse(flags, usage, argc, argv, &args);
	if (r != 0)
		return r > 0 ? 0 : 2;
	log_set_verbosity(v);
	if (kubeconfig) {
		struct svc_proxy_opts o = { .node_name = node,
					    .cluster_cidr = cluster_cidr,
					    .service_cidr = "10.43.0.0/16",
					    .dns_ip = dns_ip,
					    .sync_min_ms = sync_min_ms,
					    .table = table,
					    .cleanup_on_stop = cleanup,
					    .netns = netns };
		return run_proxy(kubeconfig, &o);
	}
	struct proxy_nft *nft = print ? NULL : proxy_nft_new();
	int ret = 1;
	if (del) {
		_cleanup_strbuf_ struct strbuf cmds = STRBUF_INIT;
		proxy_rules_delete_table(table, &cmds);
		ret = apply(nft, strbuf_str(&cmds), print, "delete") < 0 ? 1 : 0;
		proxy_nft_free(nft);
		return ret;
	}
	if (!args || !args[0] || args[1]) {
		fprintf(stderr, "proxy-apply: exactly one FILE expected\n\n%s", usage);
		proxy_nft_free(nft);
		return 2;
	}
	struct proxy_rules rules;
	_cleanup_free_ char *err = NULL;
	struct proxy_rules_config rc = {
		.table = table, .node_name = node, .cluster_cidr = cluster_cidr, .dns_ip = dns_ip
	};
	if (proxy_rules_init(&rules, &rc, &err) < 0) {
		fprintf(stderr, "proxy-apply: %s\n", err);
		proxy_nft_free(nft);
		return 2;
	}
	struct model m = { 0 }, old = { 0 };
	if (model_load(args[0], &m) < 0 || (from && model_load(from, &old) < 0))
		goto out;
	_cleanup_strbuf_ struct strbuf cmds = STRBUF_INIT;
	proxy_rules_full_begin(&rules, &cmds);
	render_all(&rules, from ? &old : &m, NULL, &cmds);
	if (apply(nft, strbuf_str(&cmds), print, "full sync") < 0)
		goto out;
	if (from) {
		strbuf_reset(&cmds);
		render_all(&rules, &m, &old, &cmds);
		if (apply(nft, strbuf_str(&cmds), print, "incremental update") < 0)
			goto out;
	}
	ret = 0;
out:
	model_release(&m);
	model_release(&old);
	proxy_rules_release(&rules);
	proxy_nft_free(nft);
	return ret;
}
