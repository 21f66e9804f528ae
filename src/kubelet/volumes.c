/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A pod's volumes under <pod dir>/volumes/<name> (see volumes.h).
 *
 * configMap, secret, downwardAPI and projected volumes are written like the
 * kubelet's atomic writer: the files live in a "..<timestamp>" directory,
 * "..data" is a symlink to it, and each top-level name is a symlink
 * "NAME -> ..data/NAME". An update writes a new timestamped directory and
 * swaps "..data" with one rename(2), so a reader sees the old or the new
 * set of files, never a mix.
 */
#include "kubelet/volumes.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>

#include "kubelet/kenv_internal.h"
#include "kubelet/vol_internal.h"
#include "lib/json.h"
#include "lib/macro.h"
#include "lib/quantity.h"
#include "lib/strbuf.h"
#include "runtime/fsutil.h"

bool kvol_is_mountpoint(const char *path)
{
	/* st_dev cannot tell a bind mount from the same file system: ask the
	 * kernel whether path is a mount's root (Linux 5.8+). */
	struct statx sx;
	if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &sx) < 0)
		return false;
	if (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)
		return (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
	struct stat st, pst;
	_cleanup_free_ char *parent = xasprintf("%s/..", path);
	if (lstat(path, &st) < 0 || stat(parent, &pst) < 0)
		return false;
	return st.st_dev != pst.st_dev;
}

/* Every mount point at or below prefix in /proc/self/mountinfo, deepest
 * (longest) first; NULL-terminated. */
static char **mounts_below(const char *prefix)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	size_t n = 0, plen = strlen(prefix);
	char **v = xnew(char *, 1);
	if (!f)
		return v;
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) > 0) {
		char *save = NULL, *field = strtok_r(line, " ", &save);
		for (int i = 0; field && i < 4; i++)
			field = strtok_r(NULL, " ", &save);
		if (!field)
			continue;
		/* unescape \040 and friends */
		_cleanup_free_ char *mp = xstrdup(field);
		char *w = mp;
		for (const char *r = field; *r;) {
			if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] && r[3]) {
				*w++ = (char)strtol((char[]){ r[1], r[2], r[3], 0 }, NULL, 8);
				r += 4;
			} else
				*w++ = *r++;
		}
		*w = 0;
		if (strncmp(mp, prefix, plen) != 0 || (mp[plen] != '/' && mp[plen] != 0))
			continue;
		v = xrealloc(v, (n + 2) * sizeof(char *));
		v[n++] = TAKE_PTR(mp);
		v[n] = NULL;
	}
	/* deepest first: longer paths before their prefixes */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strlen(v[j - 1]) < strlen(v[j]); j--) {
			char *t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return v;
}

/* Unmount everything at or below dir; -EBUSY if something stays. */
static int umount_below(const char *dir)
{
	for (int round = 0; round < 8; round++) {
		_cleanup_strv_free_ char **m = mounts_below(dir);
		if (!m[0])
			return 0;
		for (char **p = m; *p; p++)
			umount2(*p, MNT_DETACH);
	}
	_cleanup_strv_free_ char **m = mounts_below(dir);
	return m[0] ? -EBUSY : 0;
}

void kvol_umount_all(const char *path)
{
	for (int i = 0; i < 64 && kvol_is_mountpoint(path); i++)
		if (umount2(path, MNT_DETACH) < 0)
			break;
}

const char *kvol_bad_relpath(const char *p)
{
	if (isempty(p))
		return "must not be empty";
	if (p[0] == '/')
		return "must be a relative path";
	if (strlen(p) > 4096)
		return "is too long";
	for (const char *c = p; *c;) {
		size_t n = strcspn(c, "/");
		if (n == 2 && c[0] == '.' && c[1] == '.')
			return "must not contain '..'";
		c += n;
		if (*c)
			c++;
	}
	return NULL;
}

bool kvol_name_valid(const char *name)
{
	return !isempty(name) && name[0] != '.' && !strchr(name, '/') && strlen(name) <= 253;
}

json_t *kvol_find(const json_t *pod, const char *name)
{
	size_t i;
	json_t *v;
	json_array_foreach(
	    json_get((json_t *)pod, "spec.volumes"), i,
	    v) if (streq_ptr(json_string_value(json_object_get(v, "name")), name)) return v;
	return NULL;
}

/* One file of an atomically written volume. */
struct payload_file {
	char *path;
	char *data;
	size_t len;
	mode_t mode;
};

struct payload {
	struct payload_file *f;
	size_t n, alloc;
};

static void payload_release(struct payload *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->f[i].path);
		free(p->f[i].data);
	}
	free(p->f);
	*p = (struct payload){ 0 };
}

/* Add a file (data taken); a later file of the same path replaces it. */
static int payload_add(struct payload *p, const char *path, char *data, size_t len, mode_t mode,
		       char **ret_err)
{
	const char *bad = kvol_bad_relpath(path);
	if (!bad && startswith(path, ".."))
		bad = "must not start with '..'";
	if (bad) {
		free(data);
		*ret_err = xasprintf("invalid path \"%s\": %s", path, bad);
		return -EINVAL;
	}
	for (size_t i = 0; i < p->n; i++)
		if (streq(p->f[i].path, path)) {
			free(p->f[i].data);
			p->f[i].data = data;
			p->f[i].len = len;
			p->f[i].mode = mode;
			return 0;
		}
	if (p->n == p->alloc) {
		p->alloc = p->alloc ? p->alloc * 2 : 8;
		p->f = xrealloc(p->f, p->alloc * sizeof(*p->f));
	}
	p->f[p->n++] = (struct payload_file){ xstrdup(path), data, len, mode };
	return 0;
}

static int item_mode(const json_t *o, const char *key, mode_t def, mode_t *ret, char **ret_err)
{
	json_t *m = json_object_get(o, key);
	if (!m || json_is_null(m)) {
		*ret = def;
		return 0;
	}
	if (!json_is_integer(m) || json_integer_value(m) < 0 || json_integer_value(m) > 0777) {
		*ret_err = xasprintf("%s must be a number between 0 and 0777 (decimal 511)", key);
		return -EINVAL;
	}
	*ret = (mode_t)json_integer_value(m);
	return 0;
}

/* configMap / secret source (also as a projected source) into p. */
static int payload_object(const json_t *pod, const json_t *src, bool secret, mode_t def_mode,
			  const struct kubelet_lookup *lk, struct payload *p, char **ret_err)
{
	const char *ns = json_get_str((json_t *)pod, "metadata.namespace");
	if (isempty(ns))
		ns = "default";
	const char *name = json_string_value(json_object_get(src, secret ? "secretName" : "name"));
	if (!name && secret)
		name = json_string_value(json_object_get(src, "name"));
	bool optional = json_is_true(json_object_get(src, "optional"));
	const char *what = secret ? "secret" : "configmap";
	if (isempty(name)) {
		*ret_err = xasprintf("%s volume without a name", what);
		return -EINVAL;
	}
	if (!lk || !lk->get) {
		*ret_err = xasprintf("cannot read %s \"%s\": no API access", what, name);
		return -ENOTSUP;
	}
	_cleanup_free_ char *err = NULL;
	_cleanup_json_ json_t *obj =
	    lk->get(lk->ud, secret ? "secrets" : "configmaps", ns, name, &err);
	if (!obj) {
		if (optional)
			return 0;
		*ret_err = err ? TAKE_PTR(err) : xasprintf("%s \"%s\" not found", what, name);
		return -ENOENT;
	}
	int r;
	json_t *items = json_object_get(src, "items");
	if (json_array_size(items)) {
		size_t i;
		json_t *it;
		json_array_foreach(items, i, it)
		{
			const char *key = json_string_value(json_object_get(it, "key"));
			const char *path = json_string_value(json_object_get(it, "path"));
			mode_t mode;
			if (isempty(key) || isempty(path)) {
				*ret_err = xasprintf("%s \"%s\": an item needs a key and a path",
						     what, name);
				return -EINVAL;
			}
			if ((r = item_mode(it, "mode", def_mode, &mode, ret_err)) < 0)
				return r;
			size_t len = 0;
			char *data = kenv_object_key(obj, secret, key, &len);
			if (!data) {
				if (optional)
					continue;
				*ret_err = xasprintf("%s references non-existent %s key: %s",
						     secret ? "secret" : "configmap",
						     secret ? "secret" : "config", key);
				return -ENOENT;
			}
			if ((r = payload_add(p, path, data, len, mode, ret_err)) < 0)
				return r;
		}
		return 0;
	}
	const char *fields[] = { "data", "binaryData" };
	for (size_t f = 0; f < (secret ? 1u : 2u); f++) {
		const char *key;
		json_t *v;
		json_object_foreach(json_object_get(obj, fields[f]), key, v)
		{
			size_t len = 0;
			char *data = kenv_object_key(obj, secret, key, &len);
			if (!data)
				continue;
			if ((r = payload_add(p, key, data, len, def_mode, ret_err)) < 0)
				return r;
		}
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Labels or annotations as the downward API volume writes them: sorted
 * key="value" lines (value quoted with escapes). */
static char *format_map(const json_t *m)
{
	size_t n = json_object_size(m), i = 0;
	_cleanup_free_ const char **keys = xnew(const char *, n + 1);
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)m, k, v) keys[i++] = k;
	qsort(keys, n, sizeof(char *), cmp_str);
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	strbuf_addstr(&sb, "");
	for (i = 0; i < n; i++) {
		const char *s = json_string_value(json_object_get(m, keys[i]));
		if (i)
			strbuf_addch(&sb, '\n');
		strbuf_addf(&sb, "%s=", keys[i]);
		strbuf_add_json_str(&sb, s ? s : "");
	}
	return strbuf_detach(&sb, NULL);
}

static int payload_downward(const json_t *pod, const json_t *src, mode_t def_mode,
			    const char *pod_ip, struct payload *p, char **ret_err)
{
	size_t i;
	json_t *it;
	int r;
	json_array_foreach(json_object_get(src, "items"), i, it)
	{
		const char *path = json_string_value(json_object_get(it, "path"));
		mode_t mode;
		if ((r = item_mode(it, "mode", def_mode, &mode, ret_err)) < 0)
			return r;
		json_t *fr = json_object_get(it, "fieldRef");
		json_t *rr = json_object_get(it, "resourceFieldRef");
		char *val = NULL;
		if (fr) {
			const char *fp = json_string_value(json_object_get(fr, "fieldPath"));
			json_t *meta = json_object_get(pod, "metadata");
			if (streq_ptr(fp, "metadata.labels"))
				val = format_map(json_object_get(meta, "labels"));
			else if (streq_ptr(fp, "metadata.annotations"))
				val = format_map(json_object_get(meta, "annotations"));
			else if ((r = kenv_field_ref(pod, fp, pod_ip, NULL, &val, ret_err)) < 0)
				return r;
		} else if (rr) {
			if ((r = kenv_resource_ref(pod, NULL, rr, &val, ret_err)) < 0)
				return r;
		} else {
			*ret_err = xasprintf("downwardAPI item \"%s\" needs a fieldRef or a "
					     "resourceFieldRef",
					     path ? path : "");
			return -EINVAL;
		}
		if ((r = payload_add(p, path ? path : "", val, strlen(val), mode, ret_err)) < 0)
			return r;
	}
	return 0;
}

/* Whether dir holds exactly the payload (same files, contents and modes). */
static size_t count_files(int dfd)
{
	size_t n = 0;
	_cleanup_close_ int fd = dup(dfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d)
		return SIZE_MAX;
	TAKE_FD(fd);
	struct dirent *de;
	while ((de = readdir(d))) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			_cleanup_close_ int sub = openat(
			    dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			size_t k = sub >= 0 ? count_files(sub) : SIZE_MAX;
			if (k == SIZE_MAX) {
				n = SIZE_MAX;
				break;
			}
			n += k;
		} else
			n++;
	}
	closedir(d);
	return n;
}

static bool payload_matches(const char *dir, const struct payload *p, gid_t gid)
{
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return false;
	for (size_t i = 0; i < p->n; i++) {
		_cleanup_close_ int fd =
		    openat(dfd, p->f[i].path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		struct stat st;
		if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
		    (size_t)st.st_size != p->f[i].len || (st.st_mode & 07777) != p->f[i].mode ||
		    (gid != (gid_t)-1 && st.st_gid != gid))
			return false;
		_cleanup_free_ char *buf = xmalloc(p->f[i].len + 1);
		size_t got = 0;
		while (got < p->f[i].len) {
			ssize_t k = read(fd, buf + got, p->f[i].len - got);
			if (k <= 0)
				return false;
			got += (size_t)k;
		}
		if (memcmp(buf, p->f[i].data, p->f[i].len) != 0)
			return false;
	}
	return count_files(dfd) == p->n;
}

static int write_payload_dir(const char *dir, const struct payload *p, gid_t gid, char **ret_err)
{
	for (size_t i = 0; i < p->n; i++) {
		_cleanup_free_ char *path = xasprintf("%s/%s", dir, p->f[i].path);
		char *slash = strrchr(path, '/');
		*slash = 0;
		int r = rt_mkdir_p(path, 0755);
		*slash = '/';
		if (r < 0) {
			*ret_err =
			    xasprintf("cannot create the directory of %s: %s", path, strerror(-r));
			return r;
		}
		_cleanup_close_ int fd =
		    open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0) {
			r = -errno;
			*ret_err = xasprintf("cannot create %s: %s", path, strerror(errno));
			return r;
		}
		for (size_t off = 0; off < p->f[i].len;) {
			ssize_t k = write(fd, p->f[i].data + off, p->f[i].len - off);
			if (k < 0) {
				r = -errno;
				*ret_err = xasprintf("cannot write %s: %s", path, strerror(errno));
				return r;
			}
			off += (size_t)k;
		}
		if (gid != (gid_t)-1 && fchown(fd, (uid_t)-1, gid) < 0) {
			r = -errno;
			*ret_err = xasprintf("cannot chown %s: %s", path, strerror(errno));
			return r;
		}
		if (fchmod(fd, p->f[i].mode) < 0) {
			r = -errno;
			*ret_err = xasprintf("cannot chmod %s: %s", path, strerror(errno));
			return r;
		}
	}
	return 0;
}

/* Write the payload into target atomically (see the top of this file). */
static int atomic_write(const char *target, const struct payload *p, gid_t gid, char **ret_err)
{
	int r = rt_mkdir_p(target, 0755);
	if (r < 0) {
		*ret_err = xasprintf("cannot create %s: %s", target, strerror(-r));
		return r;
	}
	_cleanup_free_ char *data_link = xasprintf("%s/..data", target);
	char old[256] = "";
	ssize_t ol = readlink(data_link, old, sizeof(old) - 1);
	if (ol > 0)
		old[ol] = 0;
	else
		old[0] = 0;
	bool same = false;
	if (old[0] && !strchr(old, '/')) {
		_cleanup_free_ char *od = xasprintf("%s/%s", target, old);
		same = payload_matches(od, p, gid);
	}

	if (!same) {
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		char ts[64];
		strftime(ts, sizeof(ts), "%Y_%m_%d_%H_%M_%S", &tm);
		_cleanup_free_ char *tmpl = xasprintf("%s/..%s.XXXXXX", target, ts);
		if (!mkdtemp(tmpl)) {
			r = -errno;
			*ret_err = xasprintf("cannot create a directory in %s: %s", target,
					     strerror(errno));
			return r;
		}
		chmod(tmpl, 0755);
		if (gid != (gid_t)-1)
			(void)!chown(tmpl, (uid_t)-1, gid);
		r = write_payload_dir(tmpl, p, gid, ret_err);
		if (r < 0) {
			rt_rm_rf(tmpl);
			return r;
		}
		_cleanup_free_ char *tmp_link = xasprintf("%s/..data_tmp", target);
		unlink(tmp_link);
		if (symlink(strrchr(tmpl, '/') + 1, tmp_link) < 0 ||
		    rename(tmp_link, data_link) < 0) {
			r = -errno;
			*ret_err = xasprintf("cannot switch %s: %s", data_link, strerror(errno));
			unlink(tmp_link);
			rt_rm_rf(tmpl);
			return r;
		}
	}

	/* Top-level names: NAME -> ..data/NAME; stale ones removed. */
	for (size_t i = 0; i < p->n; i++) {
		size_t n = strcspn(p->f[i].path, "/");
		_cleanup_free_ char *top = xstrndup(p->f[i].path, n);
		_cleanup_free_ char *link = xasprintf("%s/%s", target, top);
		_cleanup_free_ char *want = xasprintf("..data/%s", top);
		char cur[4096];
		ssize_t cl = readlink(link, cur, sizeof(cur) - 1);
		if (cl >= 0) {
			cur[cl] = 0;
			if (streq(cur, want))
				continue;
		}
		unlink(link);
		if (symlink(want, link) < 0) {
			r = -errno;
			*ret_err = xasprintf("cannot create %s: %s", link, strerror(errno));
			return r;
		}
	}
	DIR *d = opendir(target);
	if (d) {
		struct dirent *de;
		while ((de = readdir(d))) {
			const char *n = de->d_name;
			_cleanup_free_ char *full = xasprintf("%s/%s", target, n);
			if (startswith(n, "..")) {
				/* An old timestamped directory (not the current one). */
				char cur[256];
				ssize_t cl = readlink(data_link, cur, sizeof(cur) - 1);
				if (cl > 0)
					cur[cl] = 0;
				struct stat st;
				if (!streq(n, "..") && !streq(n, "..data") && cl > 0 &&
				    !streq(n, cur) && lstat(full, &st) == 0 && S_ISDIR(st.st_mode))
					rt_rm_rf(full);
				continue;
			}
			if (streq(n, "."))
				continue;
			bool keep = false;
			for (size_t i = 0; i < p->n && !keep; i++) {
				size_t l = strcspn(p->f[i].path, "/");
				keep = strlen(n) == l && strncmp(n, p->f[i].path, l) == 0;
			}
			if (!keep)
				unlink(full);
		}
		closedir(d);
	}
	return 0;
}

static gid_t pod_fs_group(const json_t *pod)
{
	json_t *g = json_get((json_t *)pod, "spec.securityContext.fsGroup");
	return json_is_integer(g) ? (gid_t)json_integer_value(g) : (gid_t)-1;
}

static int setup_empty_dir(const char *dir, const json_t *pod, const json_t *src, char **ret_err)
{
	const char *medium = json_string_value(json_object_get(src, "medium"));
	gid_t gid = pod_fs_group(pod);
	int r = rt_mkdir_p(dir, 0777);
	if (r < 0) {
		*ret_err = xasprintf("cannot create %s: %s", dir, strerror(-r));
		return r;
	}
	if (streq_ptr(medium, "Memory")) {
		if (!kvol_is_mountpoint(dir)) {
			_cleanup_free_ char *opts = NULL;
			const char *sl = json_string_value(json_object_get(src, "sizeLimit"));
			int64_t size = 0;
			if (!isempty(sl) && (quantity_parse(sl, &size) < 0 || size < 0)) {
				*ret_err = xasprintf("invalid emptyDir sizeLimit \"%s\"", sl);
				return -EINVAL;
			}
			opts = size > 0 ? xasprintf("mode=0777,size=%" PRId64, size)
					: xstrdup("mode=0777");
			if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0) {
				r = -errno;
				*ret_err =
				    xasprintf("cannot mount tmpfs at %s: %s", dir, strerror(errno));
				return r;
			}
		}
	} else if (!isempty(medium)) {
		*ret_err = xasprintf("emptyDir medium \"%s\" is not supported", medium);
		return -EINVAL;
	}
	if (gid != (gid_t)-1) {
		(void)!chown(dir, (uid_t)-1, gid);
		chmod(dir, 02777);
	} else
		chmod(dir, 0777);
	return 0;
}

static int check_host_path(const json_t *src, char **ret_err)
{
	const char *path = json_string_value(json_object_get(src, "path"));
	const char *type = json_string_value(json_object_get(src, "type"));
	if (isempty(path) || path[0] != '/') {
		*ret_err = xasprintf("hostPath \"%s\" must be an absolute path", path ? path : "");
		return -EINVAL;
	}
	if (kvol_bad_relpath(path + 1) && path[1]) {
		*ret_err = xasprintf("hostPath \"%s\" must not contain '..'", path);
		return -EINVAL;
	}
	if (!type)
		type = "";
	struct stat st;
	bool exists = stat(path, &st) == 0;
	int r;
	if (streq(type, "DirectoryOrCreate") && !exists) {
		r = rt_mkdir_p(path, 0755);
		if (r < 0) {
			*ret_err = xasprintf("hostPath \"%s\": cannot create the directory: %s",
					     path, strerror(-r));
			return r;
		}
		return 0;
	}
	if (streq(type, "FileOrCreate") && !exists) {
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd < 0) {
			r = -errno;
			*ret_err = xasprintf("hostPath \"%s\": cannot create the file: %s", path,
					     strerror(errno));
			return r;
		}
		close(fd);
		return 0;
	}
	if (!exists) {
		*ret_err = isempty(type) ? xasprintf("hostPath \"%s\" does not exist", path)
					 : xasprintf("hostPath type check failed: %s does not "
						     "exist (type %s)",
						     path, type);
		return -ENOENT;
	}
	struct {
		const char *type;
		mode_t fmt;
		const char *what;
	} checks[] = {
		{ "Directory", S_IFDIR, "a directory" },
		{ "DirectoryOrCreate", S_IFDIR, "a directory" },
		{ "File", S_IFREG, "a file" },
		{ "FileOrCreate", S_IFREG, "a file" },
		{ "Socket", S_IFSOCK, "a socket" },
		{ "CharDevice", S_IFCHR, "a character device" },
		{ "BlockDevice", S_IFBLK, "a block device" },
	};
	if (isempty(type))
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(checks); i++)
		if (streq(type, checks[i].type)) {
			if ((st.st_mode & S_IFMT) == checks[i].fmt)
				return 0;
			*ret_err = xasprintf("hostPath type check failed: %s is not %s", path,
					     checks[i].what);
			return -EINVAL;
		}
	*ret_err = xasprintf("hostPath \"%s\": unknown type \"%s\"", path, type);
	return -EINVAL;
}

static int setup_one(const char *pod_dir, const json_t *pod, const json_t *vol, const char *pod_ip,
		     const struct kubelet_lookup *lk, char **ret_err)
{
	const char *name = json_string_value(json_object_get(vol, "name"));
	_cleanup_free_ char *dir = xasprintf("%s/volumes/%s", pod_dir, name);
	_cleanup_(payload_release) struct payload p = { 0 };
	json_t *src;
	mode_t def_mode;
	int r;

	if ((src = json_object_get(vol, "emptyDir")))
		return setup_empty_dir(dir, pod, src, ret_err);
	if ((src = json_object_get(vol, "hostPath")))
		return check_host_path(src, ret_err);
	if ((src = json_object_get(vol, "configMap")) || (src = json_object_get(vol, "secret"))) {
		bool secret = json_object_get(vol, "secret") != NULL;
		if ((r = item_mode(src, "defaultMode", 0644, &def_mode, ret_err)) < 0)
			return r;
		if ((r = payload_object(pod, src, secret, def_mode, lk, &p, ret_err)) < 0)
			return r;
	} else if ((src = json_object_get(vol, "downwardAPI"))) {
		if ((r = item_mode(src, "defaultMode", 0644, &def_mode, ret_err)) < 0)
			return r;
		if ((r = payload_downward(pod, src, def_mode, pod_ip, &p, ret_err)) < 0)
			return r;
	} else if ((src = json_object_get(vol, "projected"))) {
		if ((r = item_mode(src, "defaultMode", 0644, &def_mode, ret_err)) < 0)
			return r;
		size_t i;
		json_t *s, *x;
		json_array_foreach(json_object_get(src, "sources"), i, s)
		{
			if ((x = json_object_get(s, "configMap")))
				r = payload_object(pod, x, false, def_mode, lk, &p, ret_err);
			else if ((x = json_object_get(s, "secret")))
				r = payload_object(pod, x, true, def_mode, lk, &p, ret_err);
			else if ((x = json_object_get(s, "downwardAPI")))
				r = payload_downward(pod, x, def_mode, pod_ip, &p, ret_err);
			else {
				*ret_err = xstrdup("projected volume: only configMap, secret and "
						   "downwardAPI sources are supported");
				r = -EOPNOTSUPP;
			}
			if (r < 0)
				return r;
		}
	} else {
		*ret_err = xstrdup("unsupported volume type");
		return -EOPNOTSUPP;
	}
	/* Secrets never touch the disk: secret and projected volumes live on a
	 * tmpfs, as the kubelet's do. */
	if (json_object_get(vol, "secret") || json_object_get(vol, "projected")) {
		if ((r = rt_mkdir_p(dir, 0755)) < 0) {
			*ret_err = xasprintf("cannot create %s: %s", dir, strerror(-r));
			return r;
		}
		if (!kvol_is_mountpoint(dir) &&
		    mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0) {
			r = -errno;
			*ret_err = xasprintf("cannot mount tmpfs at %s: %s", dir, strerror(errno));
			return r;
		}
	}
	return atomic_write(dir, &p, pod_fs_group(pod), ret_err);
}

int pod_volumes_setup(const char *pod_dir, const json_t *pod, const char *pod_ip,
		      const struct kubelet_lookup *lk, char **ret_err)
{
	_cleanup_free_ char *vdir = xasprintf("%s/volumes", pod_dir);
	int r = rt_mkdir_p(vdir, 0750);
	if (r < 0) {
		*ret_err = xasprintf("cannot create %s: %s", vdir, strerror(-r));
		return r;
	}
	/* The pod's /dev/shm, shared by its containers (as the sandbox's is). */
	_cleanup_free_ char *shm = xasprintf("%s/.shm", vdir);
	if (!kvol_is_mountpoint(shm)) {
		rt_mkdir_p(shm, 01777);
		if (mount("shm", shm, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
			  "mode=1777,size=67108864") < 0) {
			r = -errno;
			*ret_err = xasprintf("cannot mount the pod's /dev/shm at %s: %s", shm,
					     strerror(errno));
			return r;
		}
	}

	size_t i;
	json_t *vol;
	json_array_foreach(json_get((json_t *)pod, "spec.volumes"), i, vol)
	{
		const char *name = json_string_value(json_object_get(vol, "name"));
		if (!kvol_name_valid(name)) {
			*ret_err = xasprintf("invalid volume name \"%s\"", name ? name : "");
			return -EINVAL;
		}
		_cleanup_free_ char *err = NULL;
		r = setup_one(pod_dir, pod, vol, pod_ip, lk, &err);
		if (r < 0) {
			*ret_err = xasprintf("volume \"%s\": %s", name, err ? err : strerror(-r));
			return r;
		}
	}
	return 0;
}

int pod_volumes_teardown(const char *pod_dir)
{
	int ret = 0;
	const char *subdirs[] = { "volume-subpaths", "volumes" };
	for (size_t i = 0; i < ARRAY_SIZE(subdirs); i++) {
		_cleanup_free_ char *dir = xasprintf("%s/%s", pod_dir, subdirs[i]);
		/* Never remove files while anything is still mounted below: a
		 * subPath bind of a hostPath would take the host's files along. */
		int r = umount_below(dir);
		if (r == 0)
			r = rt_rm_rf(dir);
		if (r < 0 && ret == 0)
			ret = r;
	}
	return ret;
}
