/* SPDX-License-Identifier: Apache-2.0 */
/* The OCI bundle (config.json) of a container of a pod (see bundle.h). */
#include "kubelet/bundle.h"

#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/openat2.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "kubelet/kenv_internal.h"
#include "lib/json.h"
#include "lib/macro.h"
#include "lib/quantity.h"
#include "runtime/fsutil.h"

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* containerd's default capability set. */
static const char *const default_caps[] = {
	"CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",	   "CAP_FOWNER",
	"CAP_MKNOD",   "CAP_NET_RAW",	   "CAP_SETGID",	   "CAP_SETUID",
	"CAP_SETFCAP", "CAP_SETPCAP",	   "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
	"CAP_KILL",    "CAP_AUDIT_WRITE",
};

/* Every capability by number (linux/capability.h order). */
static const char *const all_caps[] = {
	"CAP_CHOWN",
	"CAP_DAC_OVERRIDE",
	"CAP_DAC_READ_SEARCH",
	"CAP_FOWNER",
	"CAP_FSETID",
	"CAP_KILL",
	"CAP_SETGID",
	"CAP_SETUID",
	"CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST",
	"CAP_NET_ADMIN",
	"CAP_NET_RAW",
	"CAP_IPC_LOCK",
	"CAP_IPC_OWNER",
	"CAP_SYS_MODULE",
	"CAP_SYS_RAWIO",
	"CAP_SYS_CHROOT",
	"CAP_SYS_PTRACE",
	"CAP_SYS_PACCT",
	"CAP_SYS_ADMIN",
	"CAP_SYS_BOOT",
	"CAP_SYS_NICE",
	"CAP_SYS_RESOURCE",
	"CAP_SYS_TIME",
	"CAP_SYS_TTY_CONFIG",
	"CAP_MKNOD",
	"CAP_LEASE",
	"CAP_AUDIT_WRITE",
	"CAP_AUDIT_CONTROL",
	"CAP_SETFCAP",
	"CAP_MAC_OVERRIDE",
	"CAP_MAC_ADMIN",
	"CAP_SYSLOG",
	"CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND",
	"CAP_AUDIT_READ",
	"CAP_PERFMON",
	"CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
};

static const char *const masked_paths[] = {
	"/proc/acpi",
	"/proc/asound",
	"/proc/kcore",
	"/proc/keys",
	"/proc/latency_stats",
	"/proc/timer_list",
	"/proc/timer_stats",
	"/proc/sched_debug",
	"/proc/scsi",
	"/sys/firmware",
	"/sys/devices/virtual/powercap",
};
static const char *const readonly_paths[] = {
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

static size_t last_cap(void)
{
	_cleanup_free_ char *s = NULL;
	size_t n = ARRAY_SIZE(all_caps);
	if (rt_read_file("/proc/sys/kernel/cap_last_cap", &s, NULL) >= 0) {
		long l = strtol(s, NULL, 10);
		if (l > 0 && (size_t)l + 1 < n)
			n = (size_t)l + 1;
	}
	return n;
}

/* "net_admin" / "NET_ADMIN" / "CAP_NET_ADMIN" -> its index in all_caps, or -1. */
static int cap_index(const char *name)
{
	_cleanup_free_ char *up = xasprintf(
	    "%s%s", startswith(name, "CAP_") || startswith(name, "cap_") ? "" : "CAP_", name);
	for (char *p = up; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	for (size_t i = 0; i < ARRAY_SIZE(all_caps); i++)
		if (streq(all_caps[i], up))
			return (int)i;
	return -1;
}

/* The container's securityContext field, else the pod's. */
static json_t *sc_get(const struct bundle_opts *o, const char *key)
{
	json_t *v = json_object_get(json_object_get(o->container, "securityContext"), key);
	if (!v)
		v = json_object_get(json_get((json_t *)o->pod, "spec.securityContext"), key);
	return v;
}

static int build_caps(const struct bundle_opts *o, bool privileged, json_t **ret, char **ret_err)
{
	bool on[ARRAY_SIZE(all_caps)] = { 0 };
	size_t n = last_cap();
	if (privileged) {
		for (size_t i = 0; i < n; i++)
			on[i] = true;
	} else {
		for (size_t i = 0; i < ARRAY_SIZE(default_caps); i++)
			on[cap_index(default_caps[i])] = true;
		json_t *caps = json_object_get(json_object_get(o->container, "securityContext"),
					       "capabilities");
		json_t *add = json_object_get(caps, "add"), *drop = json_object_get(caps, "drop");
		size_t i;
		json_t *x;
		json_array_foreach(add, i, x) if (streq_ptr(json_string_value(x),
							    "ALL")) for (size_t k = 0; k < n; k++)
		    on[k] = true;
		json_array_foreach(drop, i, x) if (streq_ptr(json_string_value(x), "ALL"))
		    memset(on, 0, sizeof(on));
		const struct {
			json_t *list;
			bool value;
		} steps[] = { { add, true }, { drop, false } };
		for (size_t s = 0; s < ARRAY_SIZE(steps); s++)
			json_array_foreach(steps[s].list, i, x)
			{
				const char *name = json_string_value(x);
				if (!name) {
					*ret_err = xstrdup("capabilities: a name is not a string");
					return -EINVAL;
				}
				if (streq(name, "ALL"))
					continue;
				int idx = cap_index(name);
				if (idx < 0) {
					*ret_err = xasprintf("unknown capability \"%s\"", name);
					return -EINVAL;
				}
				on[idx] = steps[s].value;
			}
	}
	json_t *set = json_array();
	for (size_t i = 0; i < ARRAY_SIZE(all_caps); i++)
		if (on[i])
			json_array_append_new(set, json_string(all_caps[i]));
	*ret = json_pack("{s:O, s:O, s:O}", "bounding", set, "effective", set, "permitted", set);
	json_decref(set);
	return 0;
}

/* Open rel inside root, resolving symlinks as if root were "/". */
static int open_in_root(const char *root, const char *rel)
{
	_cleanup_close_ int rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0)
		return -errno;
	struct open_how how = { .flags = O_RDONLY | O_CLOEXEC,
				.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	int fd = (int)syscall(SYS_openat2, rfd, rel, &how, sizeof(how));
	return fd < 0 ? -errno : fd;
}

/* A line-by-line scan of rootfs/etc/<file> for an entry whose field 0 (name)
 * or field 2 (id) matches; the fields copied into ret (up to n). */
static bool db_find(const char *rootfs, const char *file, const char *name, int64_t id,
		    char **fields, size_t nf)
{
	if (!rootfs)
		return false;
	int fd = open_in_root(rootfs, file);
	if (fd < 0)
		return false;
	_cleanup_fclose_ FILE *f = fdopen(fd, "re");
	if (!f) {
		close(fd);
		return false;
	}
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) > 0) {
		line[strcspn(line, "\n")] = 0;
		char *fs[8] = { 0 };
		size_t k = 0;
		char *p = line;
		while (k < ARRAY_SIZE(fs)) {
			fs[k++] = p;
			p = strchr(p, ':');
			if (!p)
				break;
			*p++ = 0;
		}
		if (k < 3)
			continue;
		bool match =
		    name ? streq(fs[0], name) : (strtoll(fs[2], NULL, 10) == id && !isempty(fs[2]));
		if (!match)
			continue;
		for (size_t i = 0; i < nf; i++)
			fields[i] = xstrdup(i < k && fs[i] ? fs[i] : "");
		return true;
	}
	return false;
}

static bool parse_id(const char *s, int64_t *ret)
{
	if (isempty(s))
		return false;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (*end || errno || v < 0 || v > UINT32_MAX)
		return false;
	*ret = v;
	return true;
}

/* The groups of /etc/group listing user by name. */
static void member_groups(const char *rootfs, const char *user, json_t *gids)
{
	if (!rootfs || isempty(user))
		return;
	int fd = open_in_root(rootfs, "etc/group");
	if (fd < 0)
		return;
	_cleanup_fclose_ FILE *f = fdopen(fd, "re");
	if (!f) {
		close(fd);
		return;
	}
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) > 0) {
		line[strcspn(line, "\n")] = 0;
		char *name = line, *pw = strchr(name, ':');
		char *gid = pw ? strchr(pw + 1, ':') : NULL;
		char *mem = gid ? strchr(gid + 1, ':') : NULL;
		if (!mem)
			continue;
		*mem++ = 0;
		int64_t g;
		if (!parse_id(gid + 1, &g))
			continue;
		_cleanup_free_ char *list = xasprintf(",%s,", mem);
		_cleanup_free_ char *needle = xasprintf(",%s,", user);
		if (strstr(list, needle))
			json_array_append_new(gids, json_integer(g));
	}
}

static void gid_add(json_t *gids, int64_t g)
{
	size_t i;
	json_t *x;
	json_array_foreach(gids, i, x) if (json_integer_value(x) == g) return;
	json_array_append_new(gids, json_integer(g));
}

static int build_user(const struct bundle_opts *o, json_t **ret, char **ret_err)
{
	int64_t uid = 0, gid = 0;
	_cleanup_free_ char *uname = NULL;
	const char *iuser = json_string_value(json_object_get(o->image_config, "User"));
	json_t *ru = sc_get(o, "runAsUser"), *rg = sc_get(o, "runAsGroup");

	if (json_is_integer(ru)) {
		uid = json_integer_value(ru);
		char *f[4] = { 0 };
		if (db_find(o->rootfs, "etc/passwd", NULL, uid, f, 4)) {
			uname = f[0];
			parse_id(f[3], &gid);
			free(f[1]);
			free(f[2]);
			free(f[3]);
		}
	} else if (!isempty(iuser)) {
		_cleanup_free_ char *u = xstrdup(iuser);
		char *g = strchr(u, ':');
		if (g)
			*g++ = 0;
		char *f[4] = { 0 };
		if (parse_id(u, &uid)) {
			if (db_find(o->rootfs, "etc/passwd", NULL, uid, f, 4)) {
				uname = f[0];
				parse_id(f[3], &gid);
			}
		} else if (db_find(o->rootfs, "etc/passwd", u, 0, f, 4)) {
			uname = f[0];
			if (!parse_id(f[2], &uid) || !parse_id(f[3], &gid)) {
				for (size_t i = 1; i < 4; i++)
					free(f[i]);
				*ret_err = xasprintf("invalid passwd entry for user \"%s\"", u);
				return -EINVAL;
			}
		} else {
			*ret_err =
			    xasprintf("unable to find user %s: no matching entries in passwd "
				      "file",
				      u);
			return -ENOENT;
		}
		for (size_t i = 1; i < 4; i++)
			free(f[i]);
		if (!isempty(g)) {
			char *gf[3] = { 0 };
			if (parse_id(g, &gid))
				;
			else if (db_find(o->rootfs, "etc/group", g, 0, gf, 3) &&
				 parse_id(gf[2], &gid))
				;
			else {
				for (size_t i = 0; i < 3; i++)
					free(gf[i]);
				*ret_err = xasprintf("unable to find group %s: no matching entries "
						     "in group file",
						     g);
				return -ENOENT;
			}
			for (size_t i = 0; i < 3; i++)
				free(gf[i]);
		}
	}
	if (json_is_integer(rg))
		gid = json_integer_value(rg);
	if (uid < 0 || uid > UINT32_MAX || gid < 0 || gid > UINT32_MAX) {
		*ret_err = xasprintf("invalid user %" PRId64 " or group %" PRId64, uid, gid);
		return -EINVAL;
	}
	if (json_is_true(sc_get(o, "runAsNonRoot")) && uid == 0) {
		*ret_err = xstrdup("container has runAsNonRoot and image will run as root");
		return -EPERM;
	}

	json_t *gids = json_array();
	member_groups(o->rootfs, uname, gids);
	json_t *psc = json_get((json_t *)o->pod, "spec.securityContext");
	size_t i;
	json_t *x;
	json_array_foreach(json_object_get(psc, "supplementalGroups"), i, x) if (json_is_integer(x))
	    gid_add(gids, json_integer_value(x));
	json_t *fsg = json_object_get(psc, "fsGroup");
	if (json_is_integer(fsg))
		gid_add(gids, json_integer_value(fsg));
	*ret = json_pack("{s:I, s:I}", "uid", (json_int_t)uid, "gid", (json_int_t)gid);
	if (json_array_size(gids))
		json_object_set_new(*ret, "additionalGids", gids);
	else
		json_decref(gids);
	return 0;
}

static const char *env_lookup(void *ud, const char *name, size_t nlen)
{
	char *const *env = ud;
	const char *found = NULL;
	for (; env && *env; env++)
		if (strncmp(*env, name, nlen) == 0 && (*env)[nlen] == '=')
			found = *env + nlen + 1;
	return found;
}

static int build_args(const struct bundle_opts *o, json_t **ret, char **ret_err)
{
	json_t *cmd = json_object_get(o->container, "command");
	json_t *args = json_object_get(o->container, "args");
	json_t *ep = json_object_get(o->image_config, "Entrypoint");
	json_t *icmd = json_object_get(o->image_config, "Cmd");
	json_t *out = json_array();
	bool expand_first = true, expand_second = true;
	json_t *first, *second;
	if (json_array_size(cmd)) {
		first = cmd;
		second = args;
	} else if (json_array_size(args)) {
		first = ep;
		second = args;
		expand_first = false;
	} else {
		first = ep;
		second = icmd;
		expand_first = expand_second = false;
	}
	json_t *lists[] = { first, second };
	bool expand[] = { expand_first, expand_second };
	for (size_t l = 0; l < 2; l++) {
		size_t i;
		json_t *x;
		json_array_foreach(lists[l], i, x)
		{
			const char *s = json_string_value(x);
			if (!s) {
				json_decref(out);
				*ret_err = xstrdup("command and args must be strings");
				return -EINVAL;
			}
			if (expand[l]) {
				_cleanup_free_ char *e =
				    kenv_expand(s, env_lookup, (void *)o->env, 1024 * 1024);
				if (!e) {
					json_decref(out);
					*ret_err =
					    xstrdup("an argument expands to more than 1 MiB");
					return -E2BIG;
				}
				json_array_append_new(out, json_string_nocheck(e));
			} else
				json_array_append_new(out, json_string_nocheck(s));
		}
	}
	if (!json_array_size(out)) {
		json_decref(out);
		*ret_err = xstrdup("no command specified");
		return -EINVAL;
	}
	*ret = out;
	return 0;
}

static bool env_has(char *const *env, const char *name)
{
	return env_lookup((void *)env, name, strlen(name)) != NULL;
}

static json_t *build_env(const struct bundle_opts *o)
{
	json_t *env = json_array();
	if (!env_has(o->env, "PATH"))
		json_array_append_new(env, json_string(DEFAULT_PATH));
	for (char *const *e = o->env; e && *e; e++)
		json_array_append_new(env, json_string_nocheck(*e));
	if (!isempty(o->hostname) && !env_has(o->env, "HOSTNAME")) {
		_cleanup_free_ char *h = xasprintf("HOSTNAME=%s", o->hostname);
		json_array_append_new(env, json_string_nocheck(h));
	}
	if (o->tty && !env_has(o->env, "TERM"))
		json_array_append_new(env, json_string("TERM=xterm"));
	return env;
}

/* The pod's QoS class as the kubelet computes it. */
static const char *qos_class(const json_t *pod)
{
	bool any = false, guaranteed = true;
	const char *lists[] = { "containers", "initContainers" };
	json_t *spec = json_object_get(pod, "spec");
	for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
		size_t i;
		json_t *c;
		json_array_foreach(json_object_get(spec, lists[l]), i, c)
		{
			const char *res[] = { "cpu", "memory" };
			for (size_t k = 0; k < 2; k++) {
				int64_t req, lim;
				bool milli = k == 0;
				bool hr =
				    kenv_resource_value(c, "requests", res[k], milli, &req) == 0;
				bool hl =
				    kenv_resource_value(c, "limits", res[k], milli, &lim) == 0;
				if (hr || hl)
					any = true;
				if (!hl || (hr && req != lim))
					guaranteed = false;
			}
		}
	}
	return !any ? "BestEffort" : guaranteed ? "Guaranteed" : "Burstable";
}

static int oom_score_adj(const struct bundle_opts *o)
{
	const char *q = qos_class(o->pod);
	int adj;
	if (streq(q, "Guaranteed"))
		adj = -997;
	else if (streq(q, "BestEffort"))
		adj = 1000;
	else {
		int64_t req = 0, cap = kenv_machine_memory();
		kenv_resource_value(o->container, "requests", "memory", false, &req);
		if (req == 0)
			kenv_resource_value(o->container, "limits", "memory", false, &req);
		adj = cap > 0 ? (int)(1000 - (1000 * (double)req) / (double)cap) : 999;
		adj = MAX(adj, 2);
		adj = MIN(adj, 999);
	}
	/* Without CAP_SYS_RESOURCE a child cannot go below our own value. */
	_cleanup_free_ char *s = NULL;
	if (rt_read_file("/proc/self/oom_score_adj", &s, NULL) >= 0)
		adj = MAX(adj, (int)strtol(s, NULL, 10));
	return adj;
}

static int build_resources(const struct bundle_opts *o, bool privileged, json_t **ret,
			   char **ret_err)
{
	json_t *res = json_object();
	int64_t mem, cpu_req, cpu_lim;
	int r = kenv_resource_value(o->container, "limits", "memory", false, &mem);
	if (r == 0 && mem > 0) {
		json_t *m = json_pack("{s:I}", "limit", (json_int_t)mem);
		if (access("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes", F_OK) == 0)
			json_object_set_new(m, "swap", json_integer(mem));
		json_object_set_new(res, "memory", m);
	} else if (r < 0 && r != -ENOENT)
		goto bad;
	json_t *cpu = json_object();
	r = kenv_resource_value(o->container, "requests", "cpu", true, &cpu_req);
	if (r == -ENOENT)
		r = kenv_resource_value(o->container, "limits", "cpu", true, &cpu_req);
	if (r == -ENOENT)
		cpu_req = 0;
	else if (r < 0) {
		json_decref(cpu);
		goto bad;
	}
	/* MilliCPUToShares: 2 minimum (also for no request). */
	int64_t shares = cpu_req * 1024 / 1000;
	json_object_set_new(cpu, "shares", json_integer(MAX(shares, 2)));
	r = kenv_resource_value(o->container, "limits", "cpu", true, &cpu_lim);
	if (r == 0 && cpu_lim > 0) {
		int64_t period = 100000, quota = cpu_lim * period / 1000;
		json_object_set_new(cpu, "quota", json_integer(MAX(quota, 1000)));
		json_object_set_new(cpu, "period", json_integer(period));
	} else if (r < 0 && r != -ENOENT) {
		json_decref(cpu);
		goto bad;
	}
	json_object_set_new(res, "cpu", cpu);
	json_object_set_new(res, "devices",
			    json_pack("[{s:b, s:s}]", "allow", privileged, "access", "rwm"));
	*ret = res;
	return 0;
bad:
	json_decref(res);
	*ret_err = xstrdup("invalid resources quantity");
	return -EINVAL;
}

static json_t *build_namespaces(const struct bundle_opts *o)
{
	json_t *ns = json_array();
	bool host_pid = json_get_bool((json_t *)o->pod, "spec.hostPID", false);
	if (!host_pid)
		json_array_append_new(ns, json_pack("{s:s}", "type", "pid"));
	json_array_append_new(ns, json_pack("{s:s}", "type", "mount"));
	json_array_append_new(ns, json_pack("{s:s}", "type", "cgroup"));
	struct {
		const char *type, *path;
		bool host;
	} shared[] = {
		{ "network", o->netns, json_get_bool((json_t *)o->pod, "spec.hostNetwork", false) },
		{ "uts", o->utsns, false },
		{ "ipc", o->ipcns, json_get_bool((json_t *)o->pod, "spec.hostIPC", false) },
	};
	for (size_t i = 0; i < ARRAY_SIZE(shared); i++) {
		if (shared[i].path)
			json_array_append_new(ns, json_pack("{s:s, s:s}", "type", shared[i].type,
							    "path", shared[i].path));
		else if (!shared[i].host)
			json_array_append_new(ns, json_pack("{s:s}", "type", shared[i].type));
	}
	return ns;
}

static json_t *strs(const char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

int bundle_write(const char *bundle_dir, const struct bundle_opts *o, char **ret_err)
{
	_cleanup_free_ char *err = NULL;
	_cleanup_json_ json_t *caps = NULL, *user = NULL, *args = NULL, *res = NULL;
	const char *cname = str_or_empty_json((json_t *)o->container, "name");
	bool privileged = json_is_true(
	    json_object_get(json_object_get(o->container, "securityContext"), "privileged"));
	int r;

	if (!o->rootfs) {
		*ret_err = xasprintf("container \"%s\": no root filesystem", cname);
		return -EINVAL;
	}
	if ((r = build_caps(o, privileged, &caps, &err)) < 0 ||
	    (r = build_user(o, &user, &err)) < 0 || (r = build_args(o, &args, &err)) < 0 ||
	    (r = build_resources(o, privileged, &res, &err)) < 0) {
		*ret_err = xasprintf("container \"%s\": %s", cname, err);
		return r;
	}

	const char *cwd = json_string_value(json_object_get(o->container, "workingDir"));
	if (isempty(cwd))
		cwd = json_string_value(json_object_get(o->image_config, "WorkingDir"));
	if (isempty(cwd))
		cwd = "/";
	if (cwd[0] != '/') {
		*ret_err =
		    xasprintf("container \"%s\": workingDir \"%s\" is not absolute", cname, cwd);
		return -EINVAL;
	}

	/* allowPrivilegeEscalation is a container-only field. */
	json_t *ape = json_object_get(json_object_get(o->container, "securityContext"),
				      "allowPrivilegeEscalation");
	bool nnp = !(privileged || json_is_true(ape));

	struct rlimit rl = { 0 };
	json_t *rlimits = json_array();
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY) {
		json_int_t n = (json_int_t)MIN(rl.rlim_max, (rlim_t)1048576);
		json_array_append_new(rlimits, json_pack("{s:s, s:I, s:I}", "type", "RLIMIT_NOFILE",
							 "hard", n, "soft", n));
	}

	json_t *process =
	    json_pack("{s:b, s:O, s:O, s:o, s:s, s:O, s:b, s:o, s:i}", "terminal", o->tty, "user",
		      user, "args", args, "env", build_env(o), "cwd", cwd, "capabilities", caps,
		      "noNewPrivileges", nnp, "rlimits", rlimits, "oomScoreAdj", oom_score_adj(o));

	json_t *mounts = o->mounts ? json_deep_copy(o->mounts) : json_array();
	if (privileged) {
		/* /sys read-write, as containerd does for privileged containers. */
		size_t i;
		json_t *m;
		json_array_foreach(mounts, i, m)
		{
			if (!streq_ptr(json_string_value(json_object_get(m, "destination")),
				       "/sys"))
				continue;
			json_t *opts = json_array(), *old = json_object_get(m, "options");
			size_t k;
			json_t *x;
			json_array_foreach(old, k, x) if (!streq_ptr(json_string_value(x), "ro"))
			    json_array_append(opts, x);
			json_array_append_new(opts, json_string("rw"));
			json_object_set_new(m, "options", opts);
		}
	}

	json_t *linux_ =
	    json_pack("{s:o, s:O}", "namespaces", build_namespaces(o), "resources", res);
	if (!privileged) {
		json_object_set_new(linux_, "maskedPaths",
				    strs(masked_paths, ARRAY_SIZE(masked_paths)));
		json_object_set_new(linux_, "readonlyPaths",
				    strs(readonly_paths, ARRAY_SIZE(readonly_paths)));
	}
	if (!isempty(o->cgroups_path))
		json_object_set_new(linux_, "cgroupsPath", json_string(o->cgroups_path));
	json_t *sysctls = json_get((json_t *)o->pod, "spec.securityContext");
	sysctls = json_object_get(sysctls, "sysctls");
	if (json_array_size(sysctls)) {
		json_t *sc = json_object();
		size_t i;
		json_t *x;
		json_array_foreach(sysctls, i, x)
		{
			const char *k = json_string_value(json_object_get(x, "name"));
			const char *v = json_string_value(json_object_get(x, "value"));
			if (k && v)
				json_object_set_new(sc, k, json_string(v));
		}
		json_object_set_new(linux_, "sysctl", sc);
	}

	_cleanup_json_ json_t *cfg =
	    json_pack("{s:s, s:o, s:{s:s, s:b}, s:o, s:o}", "ociVersion", "1.0.2", "process",
		      process, "root", "path", o->rootfs, "readonly",
		      json_is_true(json_object_get(json_object_get(o->container, "securityContext"),
						   "readOnlyRootFilesystem")),
		      "mounts", mounts, "linux", linux_);
	if (!isempty(o->hostname))
		json_object_set_new(cfg, "hostname", json_string(o->hostname));
	json_object_set_new(cfg, "annotations",
			    json_pack("{s:s, s:s, s:s, s:s}", "io.kubernetes.cri.container-type",
				      "container", "io.kubernetes.cri.container-name", cname,
				      "io.kubernetes.pod.name",
				      str_or_empty_json((json_t *)o->pod, "metadata.name"),
				      "io.kubernetes.pod.namespace",
				      str_or_empty_json((json_t *)o->pod, "metadata.namespace")));

	_cleanup_free_ char *data = json_dumps(cfg, JSON_INDENT(1));
	_cleanup_free_ char *path = xasprintf("%s/config.json", bundle_dir);
	if (!data) {
		*ret_err = xstrdup("cannot serialize config.json");
		return -ENOMEM;
	}
	r = rt_write_file(path, data, strlen(data), 0600);
	if (r < 0) {
		*ret_err = xasprintf("cannot write %s: %s", path, strerror(-r));
		return r;
	}
	return 0;
}

static const struct {
	const char *name;
	int sig;
} signals[] = {
	{ "HUP", SIGHUP },	 { "INT", SIGINT },   { "QUIT", SIGQUIT },     { "ILL", SIGILL },
	{ "TRAP", SIGTRAP },	 { "ABRT", SIGABRT }, { "IOT", SIGIOT },       { "BUS", SIGBUS },
	{ "FPE", SIGFPE },	 { "KILL", SIGKILL }, { "USR1", SIGUSR1 },     { "SEGV", SIGSEGV },
	{ "USR2", SIGUSR2 },	 { "PIPE", SIGPIPE }, { "ALRM", SIGALRM },     { "TERM", SIGTERM },
	{ "STKFLT", SIGSTKFLT }, { "CHLD", SIGCHLD }, { "CONT", SIGCONT },     { "STOP", SIGSTOP },
	{ "TSTP", SIGTSTP },	 { "TTIN", SIGTTIN }, { "TTOU", SIGTTOU },     { "URG", SIGURG },
	{ "XCPU", SIGXCPU },	 { "XFSZ", SIGXFSZ }, { "VTALRM", SIGVTALRM }, { "PROF", SIGPROF },
	{ "WINCH", SIGWINCH },	 { "IO", SIGIO },     { "POLL", SIGPOLL },     { "PWR", SIGPWR },
	{ "SYS", SIGSYS },
};

int bundle_stop_signal(const json_t *image_config)
{
	const char *s = json_string_value(json_object_get(image_config, "StopSignal"));
	if (isempty(s))
		return SIGTERM;
	char *end;
	long n = strtol(s, &end, 10);
	if (!*end && end != s)
		return n > 0 && n < NSIG ? (int)n : SIGTERM;
	_cleanup_free_ char *up = xstrdup(s);
	for (char *p = up; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	const char *name = startswith(up, "SIG") ? up + 3 : up;
	for (size_t i = 0; i < ARRAY_SIZE(signals); i++)
		if (streq(signals[i].name, name))
			return signals[i].sig;
	if (startswith(name, "RTMIN") || startswith(name, "RTMAX")) {
		const char *rest = name + 5;
		long off = 0;
		if (*rest) {
			off = strtol(rest, &end, 10);
			if (*end)
				return SIGTERM;
		}
		int sig = startswith(name, "RTMIN") ? SIGRTMIN + (int)off : SIGRTMAX + (int)off;
		return sig >= SIGRTMIN && sig <= SIGRTMAX ? sig : SIGTERM;
	}
	return SIGTERM;
}
