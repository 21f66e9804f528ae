/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The OCI mounts of a container (see container_mounts() in volumes.h).
 *
 * subPath: the path is checked (relative, no ".."), then opened from the
 * volume's root with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS), so a
 * symlink that leads out of the volume fails with EXDEV. Missing directories
 * are created one component at a time under that same rule. The opened fd
 * is then bind-mounted (through /proc/self/fd) at
 * <pod dir>/volume-subpaths/<volume>/<container>/<index>, which is what the
 * runtime mounts: the container cannot swap a component for a symlink
 * between the check and the runtime's mount (as the kubelet does).
 */
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "kubelet/kenv_internal.h"
#include "kubelet/vol_internal.h"
#include "kubelet/volumes.h"
#include "lib/json.h"
#include "lib/macro.h"
#include "runtime/fsutil.h"

static int openat2_beneath(int dfd, const char *path, int flags)
{
	struct open_how how = { .flags = (uint64_t)flags | O_CLOEXEC,
				.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS };
	int fd = (int)syscall(SYS_openat2, dfd, path, &how, sizeof(how));
	return fd < 0 ? -errno : fd;
}

static char *escape_msg(const char *vol, const char *sub)
{
	return xasprintf("subPath \"%s\" of volume \"%s\" escapes the volume (through a "
			 "symlink or an absolute link)",
			 sub, vol);
}

/* Open (creating missing directories) sub inside root; an O_PATH fd. */
static int subpath_open(const char *root, const char *vol, const char *sub, int *ret_fd,
			char **ret_err)
{
	_cleanup_close_ int rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0) {
		int r = -errno;
		*ret_err =
		    xasprintf("volume \"%s\": cannot open %s: %s", vol, root, strerror(errno));
		return r;
	}
	int fd = openat2_beneath(rfd, sub, O_PATH);
	if (fd >= 0) {
		*ret_fd = fd;
		return 0;
	}
	if (fd == -EXDEV || fd == -ELOOP) {
		*ret_err = escape_msg(vol, sub);
		return -EPERM;
	}
	if (fd != -ENOENT) {
		*ret_err =
		    xasprintf("subPath \"%s\" of volume \"%s\": %s", sub, vol, strerror(-fd));
		return fd;
	}
	/* Create what is missing, each component checked again. */
	_cleanup_free_ char *copy = xstrdup(sub);
	_cleanup_close_ int cur = TAKE_FD(rfd);
	char *save = NULL;
	for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (streq(c, "."))
			continue;
		int next = openat2_beneath(cur, c, O_PATH);
		if (next == -ENOENT) {
			if (mkdirat(cur, c, 0755) < 0 && errno != EEXIST) {
				int r = -errno;
				*ret_err = xasprintf("subPath \"%s\" of volume \"%s\": cannot "
						     "create \"%s\": %s",
						     sub, vol, c, strerror(errno));
				return r;
			}
			next = openat2_beneath(cur, c, O_PATH | O_DIRECTORY | O_NOFOLLOW);
		}
		if (next == -EXDEV || next == -ELOOP) {
			*ret_err = escape_msg(vol, sub);
			return -EPERM;
		}
		if (next < 0) {
			*ret_err = xasprintf("subPath \"%s\" of volume \"%s\": %s", sub, vol,
					     strerror(-next));
			return next;
		}
		close(cur);
		cur = next;
	}
	*ret_fd = TAKE_FD(cur);
	return 0;
}

/* Bind the checked fd at target (a file or directory made to match). */
static int subpath_bind(int fd, const char *target, char **ret_err)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	kvol_umount_all(target);
	_cleanup_free_ char *parent = xstrdup(target);
	*strrchr(parent, '/') = 0;
	int r = rt_mkdir_p(parent, 0750);
	if (r < 0) {
		*ret_err = xasprintf("cannot create %s: %s", parent, strerror(-r));
		return r;
	}
	struct stat tst;
	if (lstat(target, &tst) == 0 && (S_ISDIR(tst.st_mode) != S_ISDIR(st.st_mode))) {
		if (S_ISDIR(tst.st_mode))
			rmdir(target);
		else
			unlink(target);
	}
	if (S_ISDIR(st.st_mode))
		mkdir(target, 0750);
	else {
		int t = open(target, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (t >= 0)
			close(t);
	}
	_cleanup_free_ char *src = xasprintf("/proc/self/fd/%d", fd);
	if (mount(src, target, NULL, MS_BIND, NULL) < 0) {
		r = -errno;
		*ret_err = xasprintf("cannot bind the subPath at %s: %s", target, strerror(errno));
		return r;
	}
	return 0;
}

/* Variables subPathExpr may use: the container's env values and fieldRefs. */
struct expr_env {
	const json_t *pod, *container;
	char *last;
};

static const char *expr_lookup(void *ud, const char *name, size_t nlen)
{
	struct expr_env *e = ud;
	const char *found = NULL;
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(e->container, "env"), i, v)
	{
		const char *n = json_string_value(json_object_get(v, "name"));
		if (!n || strlen(n) != nlen || strncmp(n, name, nlen) != 0)
			continue;
		const char *val = json_string_value(json_object_get(v, "value"));
		const char *fp =
		    json_get_str(json_object_get(v, "valueFrom"), "fieldRef.fieldPath");
		if (fp) {
			char *out = NULL, *err = NULL;
			if (kenv_field_ref(e->pod, fp, NULL, NULL, &out, &err) == 0) {
				free(e->last);
				e->last = out;
				found = out;
			}
			free(err);
		} else if (val)
			found = val;
	}
	return found;
}

static json_t *bind_mount(const char *dst, const char *src, bool ro, const char *propagation)
{
	return json_pack("{s:s, s:s, s:s, s:[s, s, s]}", "destination", dst, "type", "bind",
			 "source", src, "options", "rbind", propagation, ro ? "ro" : "rw");
}

static size_t depth(const char *p)
{
	size_t n = 0;
	for (; *p; p++)
		if (*p == '/' && p[1] && p[1] != '/')
			n++;
	return n;
}

static int cmp_depth(const void *a, const void *b)
{
	const char *da = json_string_value(json_object_get(*(json_t *const *)a, "destination"));
	const char *db = json_string_value(json_object_get(*(json_t *const *)b, "destination"));
	size_t x = depth(da), y = depth(db);
	return x < y ? -1 : x > y ? 1 : 0;
}

static bool user_mounts(const json_t *container, const char *dst)
{
	size_t i;
	json_t *m;
	json_array_foreach(
	    json_object_get(container, "volumeMounts"), i,
	    m) if (streq_ptr(json_string_value(json_object_get(m, "mountPath")), dst)) return true;
	return false;
}

static int volume_mount(const char *pod_dir, const json_t *pod, const json_t *container,
			size_t index, const json_t *vm, json_t **ret, char **ret_err)
{
	const char *cname = str_or_empty_json((json_t *)container, "name");
	const char *vname = json_string_value(json_object_get(vm, "name"));
	const char *dst = json_string_value(json_object_get(vm, "mountPath"));
	const char *sub = json_string_value(json_object_get(vm, "subPath"));
	const char *expr = json_string_value(json_object_get(vm, "subPathExpr"));
	const char *prop = json_string_value(json_object_get(vm, "mountPropagation"));
	bool ro = json_is_true(json_object_get(vm, "readOnly"));
	int r;

	if (isempty(dst)) {
		*ret_err = xasprintf("volumeMount \"%s\" without a mountPath", vname ? vname : "");
		return -EINVAL;
	}
	json_t *vol = kvol_find(pod, vname);
	if (!vol) {
		*ret_err = xasprintf("cannot find volume \"%s\" to mount into container \"%s\"",
				     vname ? vname : "", cname);
		return -ENOENT;
	}
	/* Written by the agent only: read-only whatever the pod says (as the
	 * kubelet does since CVE-2017-1002102), so a container cannot plant
	 * symlinks where the agent rewrites files. */
	if (json_object_get(vol, "configMap") || json_object_get(vol, "secret") ||
	    json_object_get(vol, "downwardAPI") || json_object_get(vol, "projected"))
		ro = true;
	const char *propagation = "rprivate";
	if (streq_ptr(prop, "HostToContainer"))
		propagation = "rslave";
	else if (streq_ptr(prop, "Bidirectional"))
		propagation = "rshared";

	_cleanup_free_ char *root = NULL;
	json_t *hp = json_object_get(vol, "hostPath");
	if (hp)
		root = xstrdup(str_or_empty_json(hp, "path"));
	else
		root = xasprintf("%s/volumes/%s", pod_dir, vname);

	_cleanup_free_ char *expanded = NULL;
	if (!isempty(expr)) {
		if (!isempty(sub)) {
			*ret_err = xasprintf("volumeMount \"%s\": subPath and subPathExpr are "
					     "mutually exclusive",
					     vname);
			return -EINVAL;
		}
		struct expr_env e = { pod, container, NULL };
		expanded = kenv_expand(expr, expr_lookup, &e, 4096);
		free(e.last);
		if (!expanded) {
			*ret_err = xasprintf("subPathExpr of volume \"%s\" expands to more than "
					     "4096 bytes",
					     vname);
			return -E2BIG;
		}
		sub = expanded;
	}
	_cleanup_free_ char *dest = dst[0] == '/' ? xstrdup(dst) : xasprintf("/%s", dst);
	if (isempty(sub)) {
		*ret = bind_mount(dest, root, ro, propagation);
		return 0;
	}
	const char *bad = kvol_bad_relpath(sub);
	if (bad) {
		*ret_err = xasprintf("subPath \"%s\" of volume \"%s\" %s", sub, vname, bad);
		return -EPERM;
	}
	_cleanup_close_ int fd = -1;
	r = subpath_open(root, vname, sub, &fd, ret_err);
	if (r < 0)
		return r;
	_cleanup_free_ char *target =
	    xasprintf("%s/volume-subpaths/%s/%s/%zu", pod_dir, vname, cname, index);
	r = subpath_bind(fd, target, ret_err);
	if (r < 0)
		return r;
	*ret = bind_mount(dest, target, ro, propagation);
	return 0;
}

int container_mounts(const char *pod_dir, const json_t *pod, const json_t *container,
		     json_t **ret_mounts, char **ret_err)
{
	_cleanup_json_ json_t *mounts =
	    json_pack("[{s:s, s:s, s:s, s:[s, s, s]},"
		      " {s:s, s:s, s:s, s:[s, s, s]},"
		      " {s:s, s:s, s:s, s:[s, s, s, s, s]},"
		      " {s:s, s:s, s:s, s:[s, s, s]},"
		      " {s:s, s:s, s:s, s:[s, s, s, s]},"
		      " {s:s, s:s, s:s, s:[s, s, s, s, s]}]",
		      "destination", "/proc", "type", "proc", "source", "proc", "options", "nosuid",
		      "noexec", "nodev", /* */
		      "destination", "/dev", "type", "tmpfs", "source", "tmpfs", "options",
		      "nosuid", "strictatime", "mode=755", /* */
		      "destination", "/dev/pts", "type", "devpts", "source", "devpts", "options",
		      "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", /* */
		      "destination", "/dev/mqueue", "type", "mqueue", "source", "mqueue", "options",
		      "nosuid", "noexec", "nodev", /* */
		      "destination", "/sys", "type", "sysfs", "source", "sysfs", "options",
		      "nosuid", "noexec", "nodev", "ro", /* */
		      "destination", "/sys/fs/cgroup", "type", "cgroup", "source", "cgroup",
		      "options", "nosuid", "noexec", "nodev", "relatime", "ro");

	/* /dev/shm: the pod's shared tmpfs when set up, else the container's own. */
	_cleanup_free_ char *shm = xasprintf("%s/volumes/.shm", pod_dir);
	if (!user_mounts(container, "/dev/shm")) {
		if (kvol_is_mountpoint(shm))
			json_array_append_new(mounts,
					      bind_mount("/dev/shm", shm, false, "rprivate"));
		else
			json_array_append_new(
			    mounts,
			    json_pack("{s:s, s:s, s:s, s:[s, s, s, s, s]}", "destination",
				      "/dev/shm", "type", "tmpfs", "source", "shm", "options",
				      "nosuid", "noexec", "nodev", "mode=1777", "size=65536k"));
	}

	/* The pod's /etc files, unless the container mounts its own there. */
	const struct {
		const char *file, *dst;
	} etc[] = { { "etc-hosts", "/etc/hosts" },
		    { "etc-hostname", "/etc/hostname" },
		    { "etc-resolv.conf", "/etc/resolv.conf" } };
	for (size_t i = 0; i < ARRAY_SIZE(etc); i++) {
		_cleanup_free_ char *src = xasprintf("%s/%s", pod_dir, etc[i].file);
		if (access(src, F_OK) < 0 || user_mounts(container, etc[i].dst))
			continue;
		json_array_append_new(mounts, bind_mount(etc[i].dst, src, false, "rprivate"));
	}

	/* The termination message file, empty for each new instance. */
	const char *cname = str_or_empty_json((json_t *)container, "name");
	const char *tmp = json_string_value(json_object_get(container, "terminationMessagePath"));
	if (isempty(tmp))
		tmp = "/dev/termination-log";
	if (!isempty(cname) && !strchr(cname, '/') && cname[0] != '.') {
		_cleanup_free_ char *cdir = xasprintf("%s/containers/%s", pod_dir, cname);
		_cleanup_free_ char *tl = xasprintf("%s/termination-log", cdir);
		int r = rt_mkdir_p(cdir, 0750);
		int fd =
		    r < 0 ? -1
			  : open(tl, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0666);
		if (fd < 0) {
			*ret_err =
			    xasprintf("cannot create %s: %s", tl, strerror(r < 0 ? -r : errno));
			return r < 0 ? r : -errno;
		}
		fchmod(fd, 0666);
		close(fd);
		if (tmp[0] == '/' && !kvol_bad_relpath(tmp + 1))
			json_array_append_new(mounts, bind_mount(tmp, tl, false, "rprivate"));
	}

	/* The volumes, parents before children. */
	_cleanup_json_ json_t *vms = json_array();
	size_t i;
	json_t *vm;
	json_array_foreach(json_object_get(container, "volumeMounts"), i, vm)
	{
		json_t *m = NULL;
		_cleanup_free_ char *err = NULL;
		int r = volume_mount(pod_dir, pod, container, i, vm, &m, &err);
		if (r < 0) {
			*ret_err = xasprintf("container \"%s\": %s", cname, err);
			return r;
		}
		json_array_append_new(vms, m);
	}
	size_t n = json_array_size(vms);
	_cleanup_free_ json_t **sorted = xnew(json_t *, n + 1);
	for (i = 0; i < n; i++)
		sorted[i] = json_array_get(vms, i);
	/* qsort is not stable: the index breaks ties. */
	for (i = 1; i < n; i++)
		for (size_t j = i; j > 0 && cmp_depth(&sorted[j - 1], &sorted[j]) > 0; j--) {
			json_t *t = sorted[j];
			sorted[j] = sorted[j - 1];
			sorted[j - 1] = t;
		}
	for (i = 0; i < n; i++)
		json_array_append(mounts, sorted[i]);
	*ret_mounts = TAKE_PTR(mounts);
	return 0;
}
