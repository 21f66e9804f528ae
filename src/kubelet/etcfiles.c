/* SPDX-License-Identifier: Apache-2.0 */
/* A pod's /etc/hosts, /etc/hostname and /etc/resolv.conf (see volumes.h). */
#include <ctype.h>

#include "kubelet/volumes.h"
#include "lib/json.h"
#include "lib/macro.h"
#include "lib/strbuf.h"
#include "runtime/fsutil.h"

#define MAX_NAMESERVERS 3
#define MAX_SEARCHES	32

/* Write path only when its content differs. The first write is atomic;
 * later ones (the pod's address once its network is attached, after its
 * first containers were made) happen in place: containers bind-mount the
 * file itself (its inode), so a replacement by rename would not reach them. */
static int write_if_changed(const char *path, const char *data, char **ret_err)
{
	_cleanup_free_ char *cur = NULL;
	size_t len = 0;
	int r;
	if (rt_read_file(path, &cur, &len) >= 0) {
		if (len == strlen(data) && streq(cur, data))
			return 0;
		r = rt_rewrite_file(path, data, strlen(data));
	} else {
		r = rt_write_file(path, data, strlen(data), 0644);
	}
	if (r < 0)
		*ret_err = xasprintf("cannot write %s: %s", path, strerror(-r));
	return r;
}

static char *pod_hostname(const json_t *pod)
{
	const char *h = json_get_str((json_t *)pod, "spec.hostname");
	if (isempty(h))
		h = json_get_str((json_t *)pod, "metadata.name");
	return xstrndup(h ? h : "", 63);
}

static void add_host_aliases(struct strbuf *sb, const json_t *pod)
{
	json_t *aliases = json_get((json_t *)pod, "spec.hostAliases");
	if (!json_array_size(aliases))
		return;
	strbuf_addstr(sb, "\n# Entries added by HostAliases.\n");
	size_t i;
	json_t *a;
	json_array_foreach(aliases, i, a)
	{
		const char *ip = json_string_value(json_object_get(a, "ip"));
		json_t *names = json_object_get(a, "hostnames");
		if (isempty(ip) || !json_array_size(names))
			continue;
		strbuf_addstr(sb, ip);
		size_t k;
		json_t *n;
		json_array_foreach(names, k, n) if (json_string_value(n))
		    strbuf_addf(sb, "\t%s", json_string_value(n));
		strbuf_addch(sb, '\n');
	}
}

static char *hosts_file(const json_t *pod, const char *pod_ip, const char *domain)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	if (json_get_bool((json_t *)pod, "spec.hostNetwork", false)) {
		_cleanup_free_ char *host = NULL;
		strbuf_addstr(&sb, "# Kubernetes-managed hosts file (host network).\n");
		if (rt_read_file("/etc/hosts", &host, NULL) >= 0)
			strbuf_addstr(&sb, host);
		add_host_aliases(&sb, pod);
		return strbuf_detach(&sb, NULL);
	}
	strbuf_addstr(&sb, "# Kubernetes-managed hosts file.\n"
			   "127.0.0.1\tlocalhost\n"
			   "::1\tlocalhost ip6-localhost ip6-loopback\n"
			   "fe00::0\tip6-localnet\n"
			   "fe00::0\tip6-mcastprefix\n"
			   "fe00::1\tip6-allnodes\n"
			   "fe00::2\tip6-allrouters\n");
	_cleanup_free_ char *host = pod_hostname(pod);
	const char *sub = json_get_str((json_t *)pod, "spec.subdomain");
	const char *ns = json_get_str((json_t *)pod, "metadata.namespace");
	if (!isempty(pod_ip)) {
		if (!isempty(sub))
			strbuf_addf(&sb, "%s\t%s.%s.%s.svc.%s\t%s\n", pod_ip, host, sub,
				    isempty(ns) ? "default" : ns, domain, host);
		else
			strbuf_addf(&sb, "%s\t%s\n", pod_ip, host);
	}
	add_host_aliases(&sb, pod);
	return strbuf_detach(&sb, NULL);
}

struct resolv {
	char *ns[MAX_NAMESERVERS + 8];
	size_t nns;
	char *search[MAX_SEARCHES + 8];
	size_t nsearch;
	char *opts[32];
	size_t nopts;
};

static void resolv_release(struct resolv *r)
{
	for (size_t i = 0; i < r->nns; i++)
		free(r->ns[i]);
	for (size_t i = 0; i < r->nsearch; i++)
		free(r->search[i]);
	for (size_t i = 0; i < r->nopts; i++)
		free(r->opts[i]);
}

static void add_unique(char **v, size_t *n, size_t max, const char *s)
{
	for (size_t i = 0; i < *n; i++)
		if (streq(v[i], s))
			return;
	if (*n < max)
		v[(*n)++] = xstrdup(s);
}

/* An option "name[:value]" replaces one of the same name. */
static void add_option(struct resolv *r, const char *opt)
{
	size_t nl = strcspn(opt, ":");
	for (size_t i = 0; i < r->nopts; i++)
		if (strncmp(r->opts[i], opt, nl) == 0 &&
		    (r->opts[i][nl] == 0 || r->opts[i][nl] == ':')) {
			free(r->opts[i]);
			r->opts[i] = xstrdup(opt);
			return;
		}
	if (r->nopts < ARRAY_SIZE(r->opts))
		r->opts[r->nopts++] = xstrdup(opt);
}

static void parse_host_resolv(struct resolv *r)
{
	_cleanup_free_ char *data = NULL;
	if (rt_read_file("/etc/resolv.conf", &data, NULL) < 0)
		return;
	char *save = NULL;
	for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *save2 = NULL;
		char *word = strtok_r(line, " \t", &save2);
		if (!word || word[0] == '#' || word[0] == ';')
			continue;
		bool is_ns = streq(word, "nameserver"),
		     is_search = streq(word, "search") || streq(word, "domain"),
		     is_opt = streq(word, "options");
		if (is_search) /* the last search/domain line wins, as in resolv.conf(5) */
			for (size_t i = 0; i < r->nsearch; i++)
				free(r->search[i]);
		if (is_search)
			r->nsearch = 0;
		for (char *w = strtok_r(NULL, " \t", &save2); w;
		     w = strtok_r(NULL, " \t", &save2)) {
			if (is_ns)
				add_unique(r->ns, &r->nns, MAX_NAMESERVERS, w);
			else if (is_search)
				add_unique(r->search, &r->nsearch, MAX_SEARCHES, w);
			else if (is_opt)
				add_option(r, w);
		}
	}
}

static char *resolv_file(const json_t *pod, const char *cluster_dns, const char *domain)
{
	_cleanup_(resolv_release) struct resolv r = { 0 };
	const char *policy = json_get_str((json_t *)pod, "spec.dnsPolicy");
	bool host_net = json_get_bool((json_t *)pod, "spec.hostNetwork", false);
	const char *ns = json_get_str((json_t *)pod, "metadata.namespace");
	if (isempty(ns))
		ns = "default";
	if (isempty(policy))
		policy = "ClusterFirst";
	bool cluster = (streq(policy, "ClusterFirst") && !host_net) ||
		       streq(policy, "ClusterFirstWithHostNet");
	if (streq(policy, "None")) {
		/* dnsConfig only */
	} else if (cluster && !isempty(cluster_dns)) {
		add_unique(r.ns, &r.nns, MAX_NAMESERVERS, cluster_dns);
		_cleanup_free_ char *s1 = xasprintf("%s.svc.%s", ns, domain);
		_cleanup_free_ char *s2 = xasprintf("svc.%s", domain);
		add_unique(r.search, &r.nsearch, MAX_SEARCHES, s1);
		add_unique(r.search, &r.nsearch, MAX_SEARCHES, s2);
		add_unique(r.search, &r.nsearch, MAX_SEARCHES, domain);
		add_option(&r, "ndots:5");
	} else
		parse_host_resolv(&r);

	json_t *dc = json_get((json_t *)pod, "spec.dnsConfig");
	size_t i;
	json_t *x;
	json_array_foreach(json_object_get(dc, "nameservers"), i, x) if (json_string_value(x))
	    add_unique(r.ns, &r.nns, MAX_NAMESERVERS, json_string_value(x));
	json_array_foreach(json_object_get(dc, "searches"), i, x) if (json_string_value(x))
	    add_unique(r.search, &r.nsearch, MAX_SEARCHES, json_string_value(x));
	json_array_foreach(json_object_get(dc, "options"), i, x)
	{
		const char *n = json_string_value(json_object_get(x, "name"));
		const char *v = json_string_value(json_object_get(x, "value"));
		if (isempty(n))
			continue;
		_cleanup_free_ char *o = v ? xasprintf("%s:%s", n, v) : xstrdup(n);
		add_option(&r, o);
	}

	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	strbuf_addstr(&sb, "");
	if (r.nsearch) {
		strbuf_addstr(&sb, "search");
		for (i = 0; i < r.nsearch; i++)
			strbuf_addf(&sb, " %s", r.search[i]);
		strbuf_addch(&sb, '\n');
	}
	for (i = 0; i < r.nns; i++)
		strbuf_addf(&sb, "nameserver %s\n", r.ns[i]);
	if (r.nopts) {
		strbuf_addstr(&sb, "options");
		for (i = 0; i < r.nopts; i++)
			strbuf_addf(&sb, " %s", r.opts[i]);
		strbuf_addch(&sb, '\n');
	}
	return strbuf_detach(&sb, NULL);
}

int pod_write_etc_files(const char *pod_dir, const json_t *pod, const char *pod_ip,
			const char *cluster_dns, const char *cluster_domain, char **ret_err)
{
	const char *domain = isempty(cluster_domain) ? "cluster.local" : cluster_domain;
	int r = rt_mkdir_p(pod_dir, 0750);
	if (r < 0) {
		*ret_err = xasprintf("cannot create %s: %s", pod_dir, strerror(-r));
		return r;
	}
	_cleanup_free_ char *hosts = hosts_file(pod, pod_ip, domain);
	_cleanup_free_ char *resolv = resolv_file(pod, cluster_dns, domain);
	_cleanup_free_ char *host = NULL;
	if (json_get_bool((json_t *)pod, "spec.hostNetwork", false)) {
		char buf[256] = "";
		gethostname(buf, sizeof(buf) - 1);
		host = xstrdup(buf);
	} else {
		host = pod_hostname(pod);
		const char *sub = json_get_str((json_t *)pod, "spec.subdomain");
		if (json_get_bool((json_t *)pod, "spec.setHostnameAsFQDN", false) &&
		    !isempty(sub)) {
			const char *ns = json_get_str((json_t *)pod, "metadata.namespace");
			char *fq = xasprintf("%s.%s.%s.svc.%s", host, sub,
					     isempty(ns) ? "default" : ns, domain);
			free(host);
			host = fq;
		}
	}
	_cleanup_free_ char *hostname = xasprintf("%s\n", host);
	const struct {
		const char *name, *data;
	} files[] = { { "etc-hosts", hosts },
		      { "etc-hostname", hostname },
		      { "etc-resolv.conf", resolv } };
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		_cleanup_free_ char *path = xasprintf("%s/%s", pod_dir, files[i].name);
		r = write_if_changed(path, files[i].data, ret_err);
		if (r < 0)
			return r;
	}
	return 0;
}
