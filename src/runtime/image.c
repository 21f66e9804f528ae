/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The image store. See image.h for the layout on disk and README.md for
 * the theory of operation.
 */
#include <archive.h>
#include <archive_entry.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "lib/json.h"
#include "lib/log.h"
#include "lib/macro.h"
#include "lib/strbuf.h"
#include "runtime/digest.h"
#include "runtime/fsutil.h"
#include "runtime/image.h"
#include "runtime/registry.h"
#include "runtime/unpack.h"

#define STATE_FILE	 "refs.json"
#define BLOBS_DIR	 "blobs/sha256"
#define CONFIG_MAX	 (16 << 20)
#define MANIFEST_MAX	 (4 << 20)
#define MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"

/* A job (pull of a ref, download of a blob, unpack of a layer) that
 * others asking for the same thing wait for instead of repeating. */
struct inflight {
	struct inflight *next;
	char *key;
	pthread_cond_t cond;
	bool done;
	int r;
	char *err;
	unsigned waiters;
};

struct image_store {
	char *dir; /* absolute */
	int dirfd;
	int lockfd;
	char **insecure;
	pthread_mutex_t mu;
	/* under mu: */
	json_t *state; /* refs.json: {"refs": {ref: {digest, manifest}}, "imports": {...}} */
	struct inflight *inflight;
	unsigned waiting;
};

/* A parsed image manifest. */
struct manifest {
	char *config;
	int64_t config_size;
	size_t nlayers;
	char **layers;
	int64_t *sizes;
};

static void manifest_release(struct manifest *m)
{
	free(m->config);
	for (size_t i = 0; i < m->nlayers; i++)
		free(m->layers[i]);
	free(m->layers);
	free(m->sizes);
	*m = (struct manifest){ 0 };
}

/* ---- files ---- */

static int mkdir_p(const char *path, mode_t mode)
{
	_cleanup_free_ char *p = xstrdup(path);

	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int read_all_fd(int fd, size_t max, char **ret, size_t *ret_len)
{
	struct strbuf sb = STRBUF_INIT;
	char buf[65536];

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0) {
			int r = -errno;
			if (r == -EINTR)
				continue;
			strbuf_release(&sb);
			return r;
		}
		if (n == 0)
			break;
		if (sb.len + (size_t)n > max) {
			strbuf_release(&sb);
			return -EFBIG;
		}
		strbuf_add(&sb, buf, (size_t)n);
	}
	strbuf_grow(&sb, 0);
	*ret_len = sb.len;
	*ret = strbuf_detach(&sb, NULL);
	return 0;
}

static int read_at(int dirfd, const char *name, size_t max, char **ret, size_t *ret_len)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return -errno;
	return read_all_fd(fd, max, ret, ret_len);
}

static char *blob_rel(const char *digest)
{
	return xasprintf(BLOBS_DIR "/%s", digest_hex(digest));
}

static bool blob_exists(struct image_store *s, const char *digest)
{
	_cleanup_free_ char *rel = blob_rel(digest);
	struct stat st;

	return fstatat(s->dirfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

static int blob_read(struct image_store *s, const char *digest, size_t max, char **ret,
		     size_t *ret_len)
{
	_cleanup_free_ char *rel = blob_rel(digest);

	return read_at(s->dirfd, rel, max, ret, ret_len);
}

/* A temporary file under tmp/, on the store's filesystem. */
static int tmp_file(struct image_store *s, char **ret_path)
{
	char *path = xasprintf("%s/tmp/blob-XXXXXX", s->dir);
	int fd = mkostemp(path, O_CLOEXEC);

	if (fd < 0) {
		int r = -errno;
		free(path);
		return r;
	}
	*ret_path = path;
	return fd;
}

/* Make the verified content at tmp (fd open on it) the blob digest. */
static int blob_commit(struct image_store *s, int fd, const char *tmp, const char *digest)
{
	_cleanup_free_ char *rel = blob_rel(digest);

	if (fchmod(fd, 0644) < 0 || fsync(fd) < 0)
		return -errno;
	if (renameat(AT_FDCWD, tmp, s->dirfd, rel) < 0)
		return -errno;
	return 0;
}

static int blob_put_buf(struct image_store *s, const void *p, size_t n, char ret[DIGEST_BUF_LEN])
{
	_cleanup_free_ char *tmp = NULL;
	int r;

	sha256_digest(p, n, ret);
	if (blob_exists(s, ret))
		return 0;
	_cleanup_close_ int fd = tmp_file(s, &tmp);
	if (fd < 0)
		return fd;
	r = rt_write_all(fd, p, n);
	if (r >= 0)
		r = blob_commit(s, fd, tmp, ret);
	if (r < 0)
		unlink(tmp);
	return r;
}

/* Directory entries (blob renames) durable before refs.json names them. */
static void sync_blobs_dir(struct image_store *s)
{
	_cleanup_close_ int fd = openat(s->dirfd, BLOBS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0)
		(void)fsync(fd);
}

/* ---- state (refs.json) ---- */

static int state_save(struct image_store *s)
{
	size_t len;
	_cleanup_free_ char *text = json_dumps(s->state, JSON_INDENT(1) | JSON_SORT_KEYS);
	_cleanup_close_ int fd = -1;
	int r;

	assert_se(text);
	len = strlen(text);
	fd = openat(s->dirfd, STATE_FILE ".tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	r = rt_write_all(fd, text, len);
	if (r < 0)
		return r;
	if (rt_write_all(fd, "\n", 1) < 0 || fsync(fd) < 0)
		return -errno;
	if (renameat(s->dirfd, STATE_FILE ".tmp", s->dirfd, STATE_FILE) < 0)
		return -errno;
	(void)fsync(s->dirfd);
	return 0;
}

static int state_load(struct image_store *s)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r;

	r = read_at(s->dirfd, STATE_FILE, 64 << 20, &text, &len);
	if (r == -ENOENT) {
		s->state = json_object();
	} else if (r < 0) {
		return r;
	} else {
		s->state = json_loadb(text, len, 0, NULL);
		if (!json_is_object(s->state))
			return -EBADMSG;
	}
	json_object_ensure(s->state, "refs");
	json_object_ensure(s->state, "imports");
	return 0;
}

struct ref_record {
	char *ref;
	char *digest;	/* what the ref resolved to: manifest or index */
	char *manifest; /* the linux/amd64 image manifest */
};

static void ref_record_release(struct ref_record *r)
{
	free(r->ref);
	free(r->digest);
	free(r->manifest);
}

/* Record refs and save, all at once. */
static int refs_record(struct image_store *s, const struct ref_record *v, size_t n)
{
	int r;

	sync_blobs_dir(s);
	pthread_mutex_lock(&s->mu);
	json_t *refs = json_object_get(s->state, "refs");
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_object();
		json_set_str(e, "digest", v[i].digest);
		json_set_str(e, "manifest", v[i].manifest);
		json_object_set_new(refs, v[i].ref, e);
	}
	r = state_save(s);
	pthread_mutex_unlock(&s->mu);
	return r;
}

static bool refs_lookup(struct image_store *s, const char *ref, char **ret_digest,
			char **ret_manifest)
{
	bool found = false;

	pthread_mutex_lock(&s->mu);
	json_t *e = json_object_get(json_object_get(s->state, "refs"), ref);
	const char *d = json_get_str(e, "digest"), *m = json_get_str(e, "manifest");
	if (digest_valid(d) && digest_valid(m)) {
		*ret_digest = xstrdup(d);
		*ret_manifest = xstrdup(m);
		found = true;
	}
	pthread_mutex_unlock(&s->mu);
	return found;
}

/* ---- in-flight jobs ---- */

/* NULL when another thread was doing key: it has finished, and *ret_r and
 * *ret_err (if given) tell how. Otherwise the caller does the job and
 * must call inflight_finish(). */
static struct inflight *inflight_join(struct image_store *s, const char *key, int *ret_r,
				      char **ret_err)
{
	struct inflight *f;

	pthread_mutex_lock(&s->mu);
	for (f = s->inflight; f; f = f->next)
		if (streq(f->key, key))
			break;
	if (f) {
		f->waiters++;
		s->waiting++;
		while (!f->done)
			pthread_cond_wait(&f->cond, &s->mu);
		s->waiting--;
		if (ret_r)
			*ret_r = f->r;
		if (ret_err)
			*ret_err = f->err ? xstrdup(f->err) : NULL;
		if (--f->waiters == 0) {
			pthread_cond_destroy(&f->cond);
			free(f->key);
			free(f->err);
			free(f);
		}
		pthread_mutex_unlock(&s->mu);
		return NULL;
	}
	f = xnew(struct inflight, 1);
	f->key = xstrdup(key);
	pthread_cond_init(&f->cond, NULL);
	f->next = s->inflight;
	s->inflight = f;
	pthread_mutex_unlock(&s->mu);
	return f;
}

static void inflight_finish(struct image_store *s, struct inflight *f, int r, const char *err)
{
	pthread_mutex_lock(&s->mu);
	for (struct inflight **p = &s->inflight; *p; p = &(*p)->next) {
		if (*p == f) {
			*p = f->next;
			break;
		}
	}
	f->done = true;
	f->r = r;
	f->err = err ? xstrdup(err) : NULL;
	if (f->waiters) {
		pthread_cond_broadcast(&f->cond);
		f = NULL;
	}
	pthread_mutex_unlock(&s->mu);
	if (f) {
		pthread_cond_destroy(&f->cond);
		free(f->key);
		free(f->err);
		free(f);
	}
}

unsigned image_store_waiting(struct image_store *s)
{
	pthread_mutex_lock(&s->mu);
	unsigned n = s->waiting;
	pthread_mutex_unlock(&s->mu);
	return n;
}

/* ---- manifests, indexes, configs ---- */

static bool layer_media_type_ok(const char *mt)
{
	return !mt || startswith(mt, "application/vnd.oci.image.layer.") ||
	       startswith(mt, "application/vnd.docker.image.rootfs.");
}

enum manifest_kind { KIND_MANIFEST, KIND_INDEX };

static int manifest_kind(json_t *j, const char *content_type, enum manifest_kind *ret,
			 char **ret_err)
{
	const char *mt = json_get_str(j, "mediaType");

	if (!mt)
		mt = content_type;
	if (mt && (streq(mt, MT_OCI_INDEX) || streq(mt, MT_DOCKER_LIST)))
		*ret = KIND_INDEX;
	else if (mt && (streq(mt, MT_OCI_MANIFEST) || streq(mt, MT_DOCKER_MANIFEST)))
		*ret = KIND_MANIFEST;
	else if (!mt && json_is_array(json_object_get(j, "manifests")))
		*ret = KIND_INDEX;
	else if (!mt && json_is_object(json_object_get(j, "config")))
		*ret = KIND_MANIFEST;
	else {
		*ret_err = xasprintf("unsupported manifest type \"%s\"", mt ? mt : "unknown");
		return -EPROTONOSUPPORT;
	}
	return 0;
}

/* The linux/amd64 entry of an index. */
static int index_pick(json_t *index, char ret[DIGEST_BUF_LEN], char **ret_err)
{
	size_t i;
	json_t *m;

	json_array_foreach(json_object_get(index, "manifests"), i, m)
	{
		const char *d = json_get_str(m, "digest");

		if (streq_ptr(json_get_str(m, "platform.os"), "linux") &&
		    streq_ptr(json_get_str(m, "platform.architecture"), "amd64") &&
		    digest_valid(d)) {
			memcpy(ret, d, DIGEST_BUF_LEN);
			return 0;
		}
	}
	*ret_err = xstrdup("no matching manifest for linux/amd64 in the manifest list entries");
	return -ENOENT;
}

static int manifest_parse(json_t *j, struct manifest *ret, char **ret_err)
{
	struct manifest m = { 0 };
	json_t *layers = json_object_get(j, "layers");
	const char *cmt = json_get_str(j, "config.mediaType");
	size_t i;
	json_t *l;

	if (json_get_int(j, "schemaVersion", 0) != 2) {
		*ret_err = xstrdup("unsupported manifest schema version");
		return -EPROTONOSUPPORT;
	}
	if (cmt && !streq(cmt, MT_OCI_CONFIG) && !streq(cmt, MT_DOCKER_CONFIG)) {
		*ret_err = xasprintf("not a container image (config media type \"%s\")", cmt);
		return -EPROTONOSUPPORT;
	}
	/* Sizes are required (as the OCI spec says): they bound every download. */
	if (!digest_valid(json_get_str(j, "config.digest")) ||
	    json_get_int(j, "config.size", -1) < 0 || !json_is_array(layers)) {
		*ret_err = xstrdup("invalid manifest");
		return -EBADMSG;
	}
	m.config = xstrdup(json_get_str(j, "config.digest"));
	m.config_size = json_get_int(j, "config.size", -1);
	m.layers = xnew(char *, json_array_size(layers) + 1);
	m.sizes = xnew(int64_t, json_array_size(layers) + 1);
	json_array_foreach(layers, i, l)
	{
		const char *d = json_get_str(l, "digest");
		const char *mt = json_get_str(l, "mediaType");

		if (!digest_valid(d) || json_get_int(l, "size", -1) < 0) {
			manifest_release(&m);
			*ret_err = xstrdup("invalid manifest: bad layer descriptor");
			return -EBADMSG;
		}
		if (!layer_media_type_ok(mt)) {
			manifest_release(&m);
			*ret_err = xasprintf("unsupported layer media type \"%s\"", mt);
			return -EPROTONOSUPPORT;
		}
		m.layers[m.nlayers] = xstrdup(d);
		m.sizes[m.nlayers++] = json_get_int(l, "size", -1);
	}
	*ret = m;
	return 0;
}

/* rootfs.diff_ids of a config, checked against the layer count; and a
 * check that the image is for Linux. */
static int config_diff_ids(json_t *config, size_t nlayers, char ***ret, char **ret_err)
{
	json_t *ids = json_get(config, "rootfs.diff_ids");
	const char *os = json_get_str(config, "os");
	size_t i;
	json_t *d;

	if (os && !streq(os, "linux")) {
		*ret_err =
		    xasprintf("image operating system \"%s\" cannot be used on this platform", os);
		return -EPROTONOSUPPORT;
	}
	if (!json_is_object(config) || !json_is_array(ids) || json_array_size(ids) != nlayers) {
		*ret_err = xasprintf("image config: rootfs.diff_ids does not list the %zu layers",
				     nlayers);
		return -EBADMSG;
	}
	char **v = xnew(char *, nlayers + 1);
	json_array_foreach(ids, i, d)
	{
		if (!digest_valid(json_string_value(d))) {
			for (size_t k = 0; k < i; k++)
				free(v[k]);
			free(v);
			*ret_err = xstrdup("image config: invalid diff ID");
			return -EBADMSG;
		}
		v[i] = xstrdup(json_string_value(d));
	}
	*ret = v;
	return 0;
}

/* ---- images ---- */

void image_free(struct image *img)
{
	if (!img)
		return;
	free(img->ref);
	free(img->id);
	free(img->repo_digest);
	json_decref(img->config);
	for (size_t i = 0; i < img->nlayers; i++)
		free(img->diff_ids[i]);
	free(img->diff_ids);
	free(img);
}

/* Build the image ref names from its stored manifest and config. */
static int image_load(struct image_store *s, const char *ref, const char *digest,
		      const char *manifest, struct image **ret, char **ret_err)
{
	_cleanup_free_ char *body = NULL, *err = NULL;
	_cleanup_json_ json_t *mj = NULL, *cj = NULL;
	struct manifest m = { 0 };
	struct image_name n = { 0 };
	size_t len;
	int r;

	r = blob_read(s, manifest, MANIFEST_MAX, &body, &len);
	if (r < 0) {
		err = xasprintf("reading manifest %s: %s", manifest, strerror(-r));
		goto out;
	}
	mj = json_loadb(body, len, 0, NULL);
	r = manifest_parse(mj, &m, &err);
	if (r < 0)
		goto out;
	free(TAKE_PTR(body));
	r = blob_read(s, m.config, CONFIG_MAX, &body, &len);
	if (r < 0) {
		err = xasprintf("reading config %s: %s", m.config, strerror(-r));
		goto out;
	}
	cj = json_loadb(body, len, 0, NULL);
	char **diff_ids;
	r = config_diff_ids(cj, m.nlayers, &diff_ids, &err);
	if (r < 0)
		goto out;

	struct image *img = xnew(struct image, 1);
	img->ref = xstrdup(ref);
	img->id = xstrdup(m.config);
	if (image_name_parse(ref, &n) == 0) {
		_cleanup_free_ char *repo = image_name_repo(&n);
		img->repo_digest = xasprintf("%s@%s", repo, digest);
	} else {
		img->repo_digest = xstrdup(digest);
	}
	json_t *c = json_object_get(cj, "config");
	img->config = json_is_object(c) ? json_incref(c) : json_object();
	img->nlayers = m.nlayers;
	img->diff_ids = diff_ids;
	for (size_t i = 0; i < m.nlayers; i++)
		img->size += m.sizes[i] > 0 ? m.sizes[i] : 0;
	*ret = img;
	r = 0;
out:
	manifest_release(&m);
	image_name_release(&n);
	if (r < 0 && ret_err)
		*ret_err = TAKE_PTR(err);
	return r;
}

static bool is_image_id(const char *s)
{
	if (startswith(s, "sha256:"))
		return digest_valid(s);
	if (strlen(s) != DIGEST_HEX_LEN)
		return false;
	_cleanup_free_ char *d = xasprintf("sha256:%s", s);
	return digest_valid(d);
}

/* All refs, copied out of the state. */
static size_t refs_snapshot(struct image_store *s, struct ref_record **ret)
{
	struct ref_record *v;
	size_t n = 0;
	const char *k;
	json_t *e;

	pthread_mutex_lock(&s->mu);
	json_t *refs = json_object_get(s->state, "refs");
	v = xnew(struct ref_record, json_object_size(refs) + 1);
	json_object_foreach(refs, k, e)
	{
		const char *d = json_get_str(e, "digest"), *m = json_get_str(e, "manifest");
		if (!digest_valid(d) || !digest_valid(m))
			continue;
		v[n].ref = xstrdup(k);
		v[n].digest = xstrdup(d);
		v[n].manifest = xstrdup(m);
		n++;
	}
	pthread_mutex_unlock(&s->mu);
	*ret = v;
	return n;
}

static void refs_snapshot_free(struct ref_record *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ref_record_release(&v[i]);
	free(v);
}

static int image_get_by_id(struct image_store *s, const char *id, struct image **ret)
{
	_cleanup_free_ char *want =
	    startswith(id, "sha256:") ? xstrdup(id) : xasprintf("sha256:%s", id);
	struct ref_record *v;
	size_t n = refs_snapshot(s, &v);
	int r = -ENOENT;

	for (size_t i = 0; i < n && r == -ENOENT; i++) {
		struct image *img;
		if (image_load(s, v[i].ref, v[i].digest, v[i].manifest, &img, NULL) < 0)
			continue;
		if (streq(img->id, want)) {
			*ret = img;
			r = 0;
		} else {
			image_free(img);
		}
	}
	refs_snapshot_free(v, n);
	return r;
}

char *image_ref_normalize(const char *ref)
{
	struct image_name n;

	if (image_name_parse(ref, &n) < 0)
		return NULL;
	char *s = image_name_format(&n);
	image_name_release(&n);
	return s;
}

static int image_get_err(struct image_store *s, const char *ref, struct image **ret, char **ret_err)
{
	_cleanup_free_ char *norm = NULL, *digest = NULL, *manifest = NULL;

	if (is_image_id(ref))
		return image_get_by_id(s, ref, ret);
	norm = image_ref_normalize(ref);
	if (!norm)
		return -EINVAL;
	if (!refs_lookup(s, norm, &digest, &manifest))
		return -ENOENT;
	return image_load(s, norm, digest, manifest, ret, ret_err);
}

int image_get(struct image_store *s, const char *ref, struct image **ret)
{
	return image_get_err(s, ref, ret, NULL);
}

int image_list(struct image_store *s, struct image ***ret, size_t *ret_n)
{
	struct ref_record *v;
	size_t n = refs_snapshot(s, &v), k = 0;
	struct image **out = xnew(struct image *, n + 1);

	for (size_t i = 0; i < n; i++)
		if (image_load(s, v[i].ref, v[i].digest, v[i].manifest, &out[k], NULL) == 0)
			k++;
	refs_snapshot_free(v, n);
	*ret = out;
	*ret_n = k;
	return 0;
}

/* ---- pulling ---- */

static bool host_is_loopback(const char *domain)
{
	_cleanup_free_ char *host = NULL;

	if (domain[0] == '[') {
		const char *end = strchr(domain, ']');
		host = xstrndup(domain + 1, end ? (size_t)(end - domain - 1) : strlen(domain + 1));
	} else {
		host = xstrndup(domain, strcspn(domain, ":"));
	}
	if (streq(host, "localhost"))
		return true;
	struct in_addr a4;
	struct in6_addr a6;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return false;
}

static bool plain_http(struct image_store *s, const char *domain)
{
	if (host_is_loopback(domain))
		return true;
	for (char **p = s->insecure; p && *p; p++) {
		size_t n = strcspn(domain, ":");
		if (streq(*p, domain) || (strlen(*p) == n && strncmp(*p, domain, n) == 0))
			return true;
	}
	return false;
}

/* "https://index.docker.io/v1/" -> "docker.io"; "host:port/" -> "host:port" */
static char *auth_domain(const char *registry)
{
	const char *p = registry;

	if (startswith(p, "https://"))
		p += 8;
	else if (startswith(p, "http://"))
		p += 7;
	char *d = xstrndup(p, strcspn(p, "/"));
	if (streq(d, "index.docker.io") || streq(d, "registry-1.docker.io")) {
		free(d);
		d = xstrdup("docker.io");
	}
	return d;
}

static const struct registry_auth *find_auth(const struct registry_auth *auths, size_t n,
					     const char *domain)
{
	for (size_t i = 0; i < n; i++) {
		if (!auths[i].registry)
			continue;
		_cleanup_free_ char *d = auth_domain(auths[i].registry);
		if (streq(d, domain))
			return &auths[i];
	}
	return NULL;
}

static int download_blob(struct image_store *s, struct registry_client *c, const char *digest,
			 int64_t size, char **ret_err)
{
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int fd = tmp_file(s, &tmp);
	int r;

	if (fd < 0) {
		*ret_err = xasprintf("creating a temporary file: %s", strerror(-fd));
		return fd;
	}
	r = registry_get_blob(c, digest, size, fd, ret_err);
	if (r >= 0) {
		r = blob_commit(s, fd, tmp, digest);
		if (r < 0)
			*ret_err = xasprintf("storing blob %s: %s", digest, strerror(-r));
	}
	if (r < 0)
		unlink(tmp);
	return r;
}

/* Fetch a blob unless present; one download at a time per digest. */
static int pull_blob(struct image_store *s, struct registry_client *c, const char *digest,
		     int64_t size, char **ret_err)
{
	for (;;) {
		if (blob_exists(s, digest))
			return 0;
		_cleanup_free_ char *key = xasprintf("blob:%s", digest);
		struct inflight *f = inflight_join(s, key, NULL, NULL);
		if (!f)
			continue; /* done by another pull: look again */
		int r = download_blob(s, c, digest, size, ret_err);
		inflight_finish(s, f, r, NULL);
		return r;
	}
}

/* GET a manifest, store it, parse it. */
static int pull_manifest(struct image_store *s, struct registry_client *c, const char *reference,
			 char ret_digest[DIGEST_BUF_LEN], json_t **ret_json,
			 enum manifest_kind *ret_kind, char **ret_err)
{
	_cleanup_free_ char *body = NULL, *mt = NULL;
	size_t len;
	int r;

	r = registry_get_manifest(c, reference, &body, &len, &mt, ret_digest, ret_err);
	if (r < 0)
		return r;
	json_t *j = json_loadb(body, len, 0, NULL);
	if (!json_is_object(j)) {
		json_decref(j);
		*ret_err = xasprintf("manifest %s: invalid JSON", reference);
		return -EBADMSG;
	}
	r = manifest_kind(j, mt, ret_kind, ret_err);
	if (r >= 0) {
		char d[DIGEST_BUF_LEN];
		r = blob_put_buf(s, body, len, d);
		if (r < 0)
			*ret_err = xasprintf("storing manifest: %s", strerror(-r));
	}
	if (r < 0) {
		json_decref(j);
		return r;
	}
	*ret_json = j;
	return 0;
}

static int pull_do(struct image_store *s, const struct image_name *n, const char *norm,
		   const struct registry_auth *auth, char **ret_err)
{
	struct registry_client_opts o = {
		.domain = n->domain,
		.repo = n->path,
		.plain_http = plain_http(s, n->domain),
		.username = auth ? auth->username : NULL,
		.password = auth ? auth->password : NULL,
	};
	struct registry_client *c = registry_client_new(&o);
	char top[DIGEST_BUF_LEN], md[DIGEST_BUF_LEN];
	_cleanup_json_ json_t *j = NULL, *cj = NULL;
	_cleanup_free_ char *cbody = NULL, *by_digest = NULL;
	struct ref_record rec[2];
	struct manifest m = { 0 };
	enum manifest_kind kind;
	char **diff_ids = NULL;
	size_t clen, nrec = 0;
	int r;

	r = pull_manifest(s, c, n->digest ? n->digest : n->tag, top, &j, &kind, ret_err);
	if (r < 0)
		goto out;
	memcpy(md, top, sizeof(md));
	if (kind == KIND_INDEX) {
		r = index_pick(j, md, ret_err);
		if (r < 0)
			goto out;
		json_decref(TAKE_PTR(j));
		r = pull_manifest(s, c, md, md, &j, &kind, ret_err);
		if (r < 0)
			goto out;
		if (kind != KIND_MANIFEST) {
			*ret_err = xasprintf("manifest %s: an index inside an index", md);
			r = -EPROTONOSUPPORT;
			goto out;
		}
	}
	r = manifest_parse(j, &m, ret_err);
	if (r < 0)
		goto out;

	r = pull_blob(s, c, m.config, m.config_size, ret_err);
	if (r < 0)
		goto out;
	r = blob_read(s, m.config, CONFIG_MAX, &cbody, &clen);
	if (r < 0) {
		*ret_err = xasprintf("reading config %s: %s", m.config, strerror(-r));
		goto out;
	}
	cj = json_loadb(cbody, clen, 0, NULL);
	r = config_diff_ids(cj, m.nlayers, &diff_ids, ret_err);
	if (r < 0)
		goto out;

	for (size_t i = 0; i < m.nlayers; i++) {
		r = pull_blob(s, c, m.layers[i], m.sizes[i], ret_err);
		if (r < 0)
			goto out;
	}

	rec[nrec++] = (struct ref_record){ (char *)norm, top, md };
	if (!n->digest) {
		_cleanup_free_ char *repo = image_name_repo(n);
		by_digest = xasprintf("%s@%s", repo, top);
		rec[nrec++] = (struct ref_record){ by_digest, top, md };
	}
	r = refs_record(s, rec, nrec);
	if (r < 0)
		*ret_err = xasprintf("saving " STATE_FILE ": %s", strerror(-r));
out:
	if (diff_ids) {
		for (size_t i = 0; i < m.nlayers; i++)
			free(diff_ids[i]);
		free(diff_ids);
	}
	manifest_release(&m);
	registry_client_free(c);
	return r;
}

int image_pull(struct image_store *s, const char *ref, const struct registry_auth *auths,
	       size_t nauths, struct image **ret, char **ret_err)
{
	_cleanup_free_ char *norm = NULL, *key = NULL, *err = NULL;
	struct image_name n;
	int r;

	if (image_name_parse(ref, &n) < 0) {
		if (ret_err)
			*ret_err = xasprintf("invalid reference format: \"%s\"", ref ? ref : "");
		return -EINVAL;
	}
	norm = image_name_format(&n);
	/* Pulls share their work only when they present the same credentials:
	 * a pod without them must not get an image through another's. */
	const struct registry_auth *auth = find_auth(auths, nauths, n.domain);
	char cred[DIGEST_BUF_LEN] = "";
	if (auth) {
		const char *user = auth->username ? auth->username : "";
		const char *pass = auth->password ? auth->password : "";
		struct sha256 h;
		sha256_init(&h);
		sha256_update(&h, user, strlen(user) + 1); /* with its NUL: a separator */
		sha256_update(&h, pass, strlen(pass));
		sha256_final(&h, cred);
	}
	key = xasprintf("pull:%s %s", norm, cred);
	struct inflight *f = inflight_join(s, key, &r, &err);
	if (f) {
		r = pull_do(s, &n, norm, auth, &err);
		inflight_finish(s, f, r, err);
	}
	image_name_release(&n);
	if (r >= 0) {
		free(TAKE_PTR(err));
		r = image_get_err(s, norm, ret, &err);
	}
	if (r < 0 && ret_err)
		*ret_err = err ? TAKE_PTR(err) : xstrdup(strerror(-r));
	return r;
}

/* ---- importing archives ---- */

struct arc_file {
	char *path; /* clean path in the archive */
	char *link; /* symlink or hard link: clean path of the target */
	char *tmp;  /* name in the extraction directory */
	char digest[DIGEST_BUF_LEN];
	int64_t size;
	bool stored; /* moved into the content store */
};

struct arc {
	char *dir; /* extraction directory (absolute) */
	int dirfd;
	struct arc_file *v;
	size_t n, alloc;
};

static void arc_release(struct arc *a)
{
	for (size_t i = 0; i < a->n; i++) {
		free(a->v[i].path);
		free(a->v[i].link);
		free(a->v[i].tmp);
	}
	free(a->v);
	if (a->dirfd >= 0)
		close(a->dirfd);
	if (a->dir) {
		unpack_rm_rf_at(AT_FDCWD, a->dir);
		free(a->dir);
	}
}

/* Lexically clean "base/rel" into a path in the archive; NULL if it
 * leaves the archive. */
static char *arc_clean(const char *base, const char *rel)
{
	_cleanup_free_ char *joined =
	    rel[0] == '/' || !*base ? xstrdup(rel) : xasprintf("%s/%s", base, rel);
	struct strbuf sb = STRBUF_INIT;

	for (const char *p = joined; *p;) {
		const char *e = strchrnul(p, '/');
		size_t n = (size_t)(e - p);

		if (n == 2 && p[0] == '.' && p[1] == '.') {
			char *slash = sb.len ? strrchr(sb.buf, '/') : NULL;
			if (!sb.len) {
				strbuf_release(&sb);
				return NULL;
			}
			strbuf_setlen(&sb, slash ? (size_t)(slash - sb.buf) : 0);
		} else if (n && !(n == 1 && p[0] == '.')) {
			if (sb.len)
				strbuf_addch(&sb, '/');
			strbuf_add(&sb, p, n);
		}
		p = *e ? e + 1 : e;
	}
	return strbuf_detach(&sb, NULL);
}

static struct arc_file *arc_add(struct arc *a, char *path)
{
	if (a->n == a->alloc) {
		a->alloc = a->alloc ? 2 * a->alloc : 16;
		a->v = xrealloc(a->v, a->alloc * sizeof(*a->v));
	}
	struct arc_file *f = &a->v[a->n++];
	*f = (struct arc_file){ .path = path, .size = -1 };
	return f;
}

/* Read the archive once: every regular file goes to the extraction
 * directory under a generated name, hashed on the way; links are noted. */
static int arc_extract(struct image_store *s, const char *path, struct arc *a, char **ret_err)
{
	struct archive *ar = archive_read_new();
	struct archive_entry *e;
	char *buf = xmalloc(128 * 1024);
	int r;

	assert_se(ar);
	a->dir = xasprintf("%s/tmp/import-XXXXXX", s->dir);
	if (!mkdtemp(a->dir)) {
		r = -errno;
		free(TAKE_PTR(a->dir));
		*ret_err = xasprintf("creating a temporary directory: %s", strerror(-r));
		goto out;
	}
	a->dirfd = open(a->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (a->dirfd < 0) {
		r = -errno;
		*ret_err = xasprintf("opening %s: %s", a->dir, strerror(-r));
		goto out;
	}
	archive_read_support_filter_gzip(ar);
	archive_read_support_filter_zstd(ar);
	archive_read_support_format_tar(ar);
	if (archive_read_open_filename(ar, path, 128 * 1024) != ARCHIVE_OK) {
		r = archive_errno(ar) > 0 ? -archive_errno(ar) : -EBADMSG;
		*ret_err = xasprintf("reading %s: %s", path, archive_error_string(ar));
		goto out;
	}
	for (;;) {
		r = archive_read_next_header(ar, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			r = archive_errno(ar) > 0 ? -archive_errno(ar) : -EBADMSG;
			*ret_err = xasprintf("reading %s: %s", path, archive_error_string(ar));
			goto out;
		}
		char *p = arc_clean("", archive_entry_pathname(e) ? archive_entry_pathname(e) : "");
		if (!p || !*p) {
			free(p);
			continue;
		}
		const char *hl = archive_entry_hardlink(e);
		if (hl) {
			char *t = arc_clean("", hl);
			if (t)
				arc_add(a, p)->link = t;
			else
				free(p);
			continue;
		}
		if (archive_entry_filetype(e) == AE_IFLNK) {
			_cleanup_free_ char *dir = xstrdup(p);
			char *slash = strrchr(dir, '/');
			*(slash ? slash : dir) = 0;
			char *t = arc_clean(dir, archive_entry_symlink(e) ? archive_entry_symlink(e)
									  : "");
			if (t)
				arc_add(a, p)->link = t;
			else
				free(p);
			continue;
		}
		if (archive_entry_filetype(e) != AE_IFREG) {
			free(p);
			continue;
		}
		struct arc_file *f = arc_add(a, p);
		f->tmp = xasprintf("f%zu", a->n);
		_cleanup_close_ int fd =
		    openat(a->dirfd, f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0) {
			r = -errno;
			*ret_err = xasprintf("extracting %s: %s", p, strerror(-r));
			goto out;
		}
		struct sha256 h;
		sha256_init(&h);
		f->size = 0;
		for (;;) {
			la_ssize_t n = archive_read_data(ar, buf, 128 * 1024);
			if (n == 0)
				break;
			if (n < 0) {
				sha256_release(&h);
				r = archive_errno(ar) > 0 ? -archive_errno(ar) : -EBADMSG;
				*ret_err =
				    xasprintf("reading %s: %s", path, archive_error_string(ar));
				goto out;
			}
			sha256_update(&h, buf, (size_t)n);
			r = rt_write_all(fd, buf, (size_t)n);
			if (r < 0) {
				sha256_release(&h);
				*ret_err = xasprintf("extracting %s: %s", p, strerror(-r));
				goto out;
			}
			f->size += n;
		}
		sha256_final(&h, f->digest);
	}
	r = 0;
out:
	archive_read_free(ar);
	free(buf);
	return r;
}

static struct arc_file *arc_find(struct arc *a, const char *path)
{
	_cleanup_free_ char *p = arc_clean("", path);

	for (int hops = 0; p && hops < 16; hops++) {
		struct arc_file *f = NULL;
		for (size_t i = 0; i < a->n; i++)
			if (streq(a->v[i].path, p))
				f = &a->v[i];
		if (!f || !f->link)
			return f;
		free(p);
		p = xstrdup(f->link);
	}
	return NULL;
}

static struct arc_file *arc_find_digest(struct arc *a, const char *digest)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].tmp && streq(a->v[i].digest, digest))
			return &a->v[i];
	return NULL;
}

static int arc_read(struct image_store *s, struct arc *a, struct arc_file *f, size_t max,
		    char **ret, size_t *ret_len)
{
	if (f->stored)
		return blob_read(s, f->digest, max, ret, ret_len);
	return read_at(a->dirfd, f->tmp, max, ret, ret_len);
}

/* Move a verified file into the content store (its name is its digest). */
static int arc_store(struct image_store *s, struct arc *a, struct arc_file *f, char **ret_err)
{
	_cleanup_free_ char *rel = blob_rel(f->digest);
	int r = 0;

	if (f->stored || blob_exists(s, f->digest)) {
		f->stored = true;
		return 0;
	}
	_cleanup_close_ int fd = openat(a->dirfd, f->tmp, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fchmod(fd, 0644) < 0 || fsync(fd) < 0 ||
	    renameat(a->dirfd, f->tmp, s->dirfd, rel) < 0)
		r = -errno;
	if (r < 0) {
		*ret_err = xasprintf("storing %s: %s", f->path, strerror(-r));
		return r;
	}
	f->stored = true;
	return 0;
}

/* The first bytes tell a layer's compression. */
static const char *arc_layer_media_type(struct image_store *s, struct arc *a, struct arc_file *f)
{
	_cleanup_free_ char *rel = f->stored ? blob_rel(f->digest) : NULL;
	_cleanup_close_ int fd = f->stored ? openat(s->dirfd, rel, O_RDONLY | O_CLOEXEC)
					   : openat(a->dirfd, f->tmp, O_RDONLY | O_CLOEXEC);
	unsigned char m[4] = { 0 };

	if (fd >= 0 && read(fd, m, sizeof(m)) == (ssize_t)sizeof(m)) {
		if (m[0] == 0x1f && m[1] == 0x8b)
			return MT_OCI_LAYER_GZIP;
		if (m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd)
			return MT_OCI_LAYER_ZSTD;
	}
	return MT_OCI_LAYER;
}

struct records {
	struct ref_record *v;
	size_t n, alloc;
};

static void records_add(struct records *rs, const char *ref, const char *digest,
			const char *manifest)
{
	for (size_t i = 0; i < rs->n; i++) {
		if (streq(rs->v[i].ref, ref)) {
			free(rs->v[i].digest);
			free(rs->v[i].manifest);
			rs->v[i].digest = xstrdup(digest);
			rs->v[i].manifest = xstrdup(manifest);
			return;
		}
	}
	if (rs->n == rs->alloc) {
		rs->alloc = rs->alloc ? 2 * rs->alloc : 4;
		rs->v = xrealloc(rs->v, rs->alloc * sizeof(*rs->v));
	}
	rs->v[rs->n++] = (struct ref_record){ xstrdup(ref), xstrdup(digest), xstrdup(manifest) };
}

static void records_release(struct records *rs)
{
	for (size_t i = 0; i < rs->n; i++)
		ref_record_release(&rs->v[i]);
	free(rs->v);
}

/* A docker-archive image: its layers and config, and a manifest made for it. */
static int import_docker_image(struct image_store *s, struct arc *a, json_t *item,
			       struct records *rs, char **ret_err)
{
	json_t *layers = json_object_get(item, "Layers");
	const char *config_path = json_get_str(item, "Config");
	_cleanup_free_ char *cbody = NULL, *body = NULL;
	_cleanup_json_ json_t *cj = NULL, *m = NULL;
	char **diff_ids = NULL;
	char md[DIGEST_BUF_LEN];
	size_t clen, i;
	json_t *l;
	int r;

	struct arc_file *cf = config_path ? arc_find(a, config_path) : NULL;
	if (!cf || !json_is_array(layers)) {
		*ret_err = xasprintf("manifest.json: config \"%s\" not in the archive",
				     config_path ? config_path : "");
		return -EBADMSG;
	}
	r = arc_read(s, a, cf, CONFIG_MAX, &cbody, &clen);
	if (r < 0) {
		*ret_err = xasprintf("reading %s: %s", config_path, strerror(-r));
		return r;
	}
	cj = json_loadb(cbody, clen, 0, NULL);
	r = config_diff_ids(cj, json_array_size(layers), &diff_ids, ret_err);
	if (r < 0)
		return r;
	r = arc_store(s, a, cf, ret_err);
	if (r < 0)
		goto out;

	m = json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:[]}", "schemaVersion", 2, "mediaType",
		      MT_OCI_MANIFEST, "config", "mediaType", MT_OCI_CONFIG, "digest", cf->digest,
		      "size", (json_int_t)cf->size, "layers");
	assert_se(m);
	json_array_foreach(layers, i, l)
	{
		const char *lp = json_string_value(l);
		struct arc_file *lf = lp ? arc_find(a, lp) : NULL;
		if (!lf) {
			*ret_err = xasprintf("manifest.json: layer \"%s\" not in the archive",
					     lp ? lp : "");
			r = -EBADMSG;
			goto out;
		}
		const char *mt = arc_layer_media_type(s, a, lf);
		/* An uncompressed layer is its own diff; compressed ones are
		 * checked when unpacked. */
		if (streq(mt, MT_OCI_LAYER) && !streq(lf->digest, diff_ids[i])) {
			*ret_err = xasprintf("layer \"%s\" is %s, the config says %s", lp,
					     lf->digest, diff_ids[i]);
			r = -EBADMSG;
			goto out;
		}
		r = arc_store(s, a, lf, ret_err);
		if (r < 0)
			goto out;
		json_array_append_new(json_object_get(m, "layers"),
				      json_pack("{s:s, s:s, s:I}", "mediaType", mt, "digest",
						lf->digest, "size", (json_int_t)lf->size));
	}

	body = json_dumps(m, JSON_COMPACT);
	r = blob_put_buf(s, body, strlen(body), md);
	if (r < 0) {
		*ret_err = xasprintf("storing manifest: %s", strerror(-r));
		goto out;
	}
	json_array_foreach(json_object_get(item, "RepoTags"), i, l)
	{
		_cleanup_free_ char *norm = image_ref_normalize(json_string_value(l));
		if (norm)
			records_add(rs, norm, md, md);
	}
out:
	for (i = 0; i < json_array_size(layers); i++)
		free(diff_ids[i]);
	free(diff_ids);
	return r;
}

static int import_docker(struct image_store *s, struct arc *a, struct arc_file *mf,
			 struct records *rs, char **ret_err)
{
	_cleanup_free_ char *body = NULL;
	_cleanup_json_ json_t *j = NULL;
	size_t len, i;
	json_t *item;
	int r;

	r = arc_read(s, a, mf, MANIFEST_MAX, &body, &len);
	if (r < 0) {
		*ret_err = xasprintf("reading manifest.json: %s", strerror(-r));
		return r;
	}
	j = json_loadb(body, len, 0, NULL);
	if (!json_is_array(j)) {
		*ret_err = xstrdup("manifest.json: not a JSON array");
		return -EBADMSG;
	}
	json_array_foreach(j, i, item)
	{
		r = import_docker_image(s, a, item, rs, ret_err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Read and store the blob digest of an oci-archive (found by content, so
 * verified); parse it as JSON. */
static int oci_blob_json(struct image_store *s, struct arc *a, const char *digest, json_t **ret,
			 char **ret_err)
{
	_cleanup_free_ char *body = NULL;
	size_t len;
	int r;

	struct arc_file *f = digest_valid(digest) ? arc_find_digest(a, digest) : NULL;
	if (!f) {
		if (digest_valid(digest) && blob_exists(s, digest)) {
			r = blob_read(s, digest, CONFIG_MAX, &body, &len);
		} else {
			*ret_err = xasprintf("blob %s not in the archive", digest ? digest : "");
			return -EBADMSG;
		}
	} else {
		r = arc_read(s, a, f, CONFIG_MAX, &body, &len);
		if (r >= 0)
			r = arc_store(s, a, f, ret_err);
	}
	if (r < 0) {
		if (!*ret_err)
			*ret_err = xasprintf("reading blob %s: %s", digest, strerror(-r));
		return r;
	}
	*ret = json_loadb(body, len, 0, NULL);
	if (!json_is_object(*ret)) {
		json_decref(*ret);
		*ret_err = xasprintf("blob %s: invalid JSON", digest);
		return -EBADMSG;
	}
	return 0;
}

static int oci_store_blob(struct image_store *s, struct arc *a, const char *digest, char **ret_err)
{
	struct arc_file *f = arc_find_digest(a, digest);

	if (f)
		return arc_store(s, a, f, ret_err);
	if (blob_exists(s, digest))
		return 0;
	*ret_err = xasprintf("blob %s not in the archive", digest);
	return -EBADMSG;
}

/* The name an index entry gives its image: containerd's annotation, or the
 * OCI ref name when it is a full reference (skopeo writes
 * "c8s.test/busybox:1"); a bare tag names no repository. */
static char *oci_ref_name(json_t *desc)
{
	json_t *ann = json_object_get(desc, "annotations");
	const char *name = json_string_value(json_object_get(ann, "io.containerd.image.name"));

	if (!name) {
		name = json_string_value(json_object_get(ann, "org.opencontainers.image.ref.name"));
		if (name && !strpbrk(name, "/:@"))
			name = NULL;
	}
	return name ? image_ref_normalize(name) : NULL;
}

static int import_oci(struct image_store *s, struct arc *a, struct arc_file *index_file,
		      struct records *rs, char **ret_err)
{
	_cleanup_free_ char *body = NULL;
	_cleanup_json_ json_t *index = NULL;
	size_t len, i;
	json_t *desc;
	int r;

	r = arc_read(s, a, index_file, MANIFEST_MAX, &body, &len);
	if (r < 0) {
		*ret_err = xasprintf("reading index.json: %s", strerror(-r));
		return r;
	}
	index = json_loadb(body, len, 0, NULL);
	if (!json_is_array(json_object_get(index, "manifests"))) {
		*ret_err = xstrdup("index.json: no manifests");
		return -EBADMSG;
	}
	json_array_foreach(json_object_get(index, "manifests"), i, desc)
	{
		const char *top = json_get_str(desc, "digest");
		char md[DIGEST_BUF_LEN];
		_cleanup_json_ json_t *j = NULL;
		struct manifest m = { 0 };
		enum manifest_kind kind;

		r = oci_blob_json(s, a, top, &j, ret_err);
		if (r < 0)
			return r;
		r = manifest_kind(j, json_get_str(desc, "mediaType"), &kind, ret_err);
		if (r < 0)
			return r;
		snprintf(md, sizeof(md), "%s", top);
		if (kind == KIND_INDEX) {
			r = index_pick(j, md, ret_err);
			if (r < 0)
				return r;
			json_decref(TAKE_PTR(j));
			r = oci_blob_json(s, a, md, &j, ret_err);
			if (r < 0)
				return r;
		}
		r = manifest_parse(j, &m, ret_err);
		if (r < 0)
			return r;
		_cleanup_json_ json_t *cj = NULL;
		r = oci_blob_json(s, a, m.config, &cj, ret_err);
		char **diff_ids = NULL;
		if (r >= 0)
			r = config_diff_ids(cj, m.nlayers, &diff_ids, ret_err);
		for (size_t k = 0; r >= 0 && k < m.nlayers; k++)
			r = oci_store_blob(s, a, m.layers[k], ret_err);
		if (diff_ids) {
			for (size_t k = 0; k < m.nlayers; k++)
				free(diff_ids[k]);
			free(diff_ids);
		}
		manifest_release(&m);
		if (r < 0)
			return r;
		_cleanup_free_ char *name = oci_ref_name(desc);
		if (name)
			records_add(rs, name, top, md);
	}
	return 0;
}

int image_import(struct image_store *s, const char *path, char ***ret_refs, char **ret_err)
{
	struct arc a = { .dirfd = -1 };
	struct records rs = { 0 };
	_cleanup_free_ char *err = NULL;
	struct arc_file *f;
	int r;

	r = arc_extract(s, path, &a, &err);
	if (r < 0)
		goto out;
	if ((f = arc_find(&a, "manifest.json")) && f->tmp) {
		r = import_docker(s, &a, f, &rs, &err);
	} else if ((f = arc_find(&a, "index.json")) && f->tmp) {
		r = import_oci(s, &a, f, &rs, &err);
	} else {
		err = xstrdup("neither a docker-archive (manifest.json) nor an oci-archive "
			      "(index.json)");
		r = -EINVAL;
	}
	if (r < 0)
		goto out;
	r = refs_record(s, rs.v, rs.n);
	if (r < 0) {
		err = xasprintf("saving " STATE_FILE ": %s", strerror(-r));
		goto out;
	}
	if (ret_refs) {
		char **v = xnew(char *, rs.n + 1);
		for (size_t i = 0; i < rs.n; i++)
			v[i] = xstrdup(rs.v[i].ref);
		*ret_refs = v;
	}
	r = 0;
out:
	records_release(&rs);
	arc_release(&a);
	if (r < 0 && ret_err)
		*ret_err = err ? TAKE_PTR(err) : xstrdup(strerror(-r));
	return r;
}

/* Archives already imported, unchanged, whose refs are all still here. */
static bool import_is_current(struct image_store *s, const char *key, const struct stat *st)
{
	bool current = false;
	size_t i;
	json_t *ref;

	pthread_mutex_lock(&s->mu);
	json_t *e = json_object_get(json_object_get(s->state, "imports"), key);
	json_t *refs = json_object_get(s->state, "refs");
	if (json_get_int(e, "size", -1) == (int64_t)st->st_size &&
	    json_get_int(e, "mtime_ns", -1) ==
		(int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec) {
		current = true;
		json_array_foreach(json_object_get(e, "refs"), i, ref) current &=
		    json_object_get(refs, json_string_value(ref)) != NULL;
	}
	pthread_mutex_unlock(&s->mu);
	return current;
}

static void import_note(struct image_store *s, const char *key, const struct stat *st, char **refs)
{
	json_t *e = json_object(), *v = json_array();

	json_set_int(e, "size", (int64_t)st->st_size);
	json_set_int(e, "mtime_ns", (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec);
	for (char **p = refs; p && *p; p++)
		json_array_append_new(v, json_string(*p));
	json_object_set_new(e, "refs", v);
	pthread_mutex_lock(&s->mu);
	json_object_set_new(json_object_get(s->state, "imports"), key, e);
	int r = state_save(s);
	pthread_mutex_unlock(&s->mu);
	if (r < 0)
		log_warn("saving %s/" STATE_FILE ": %s", s->dir, strerror(-r));
}

int image_import_dir(struct image_store *s, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		struct stat st;

		if (n < 5 || !streq(de->d_name + n - 4, ".tar"))
			continue;
		_cleanup_free_ char *path = xasprintf("%s/%s", dir, de->d_name);
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (import_is_current(s, path, &st)) {
			log_v(2, "image archive %s already imported", path);
			continue;
		}
		_cleanup_strv_free_ char **refs = NULL;
		_cleanup_free_ char *err = NULL;
		int r = image_import(s, path, &refs, &err);
		if (r < 0) {
			log_error("importing image archive %s: %s", path, err);
			continue;
		}
		for (char **p = refs; *p; p++)
			log_info("imported image %s from %s", *p, path);
		import_note(s, path, &st, refs);
	}
	closedir(d);
	return 0;
}

/* ---- layers ---- */

static int unpack_layer(struct image_store *s, const char *rel, const char *blob,
			const char *diff_id, char **ret_err)
{
	_cleanup_free_ char *brel = blob_rel(blob);
	_cleanup_free_ char *tmp = xasprintf("%s/layers/.tmp-XXXXXX", s->dir);
	_cleanup_free_ char *err = NULL;
	char got[DIGEST_BUF_LEN];
	int r;

	_cleanup_close_ int fd = openat(s->dirfd, brel, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		*ret_err = xasprintf("layer %s: %s (pull the image again)", blob, strerror(-r));
		return r;
	}
	if (!mkdtemp(tmp) || chmod(tmp, 0755) < 0) {
		r = -errno;
		*ret_err = xasprintf("creating %s: %s", tmp, strerror(-r));
		return r;
	}
	r = layer_unpack_digest(fd, tmp, got, &err);
	if (r < 0) {
		*ret_err = xasprintf("unpacking layer %s: %s", blob, err ? err : strerror(-r));
		goto fail;
	}
	/* The chain ID names the directory: its content must be what the
	 * config claims, or one image could poison another's layers. */
	if (!streq(got, diff_id)) {
		*ret_err =
		    xasprintf("layer %s: uncompressed content is %s, the image config says %s",
			      blob, got, diff_id);
		r = -EBADMSG;
		goto fail;
	}
	if (renameat(AT_FDCWD, tmp, s->dirfd, rel) < 0) {
		r = -errno;
		if (r == -EEXIST || r == -ENOTEMPTY) {
			unpack_rm_rf_at(AT_FDCWD, tmp);
			return 0;
		}
		*ret_err = xasprintf("renaming %s: %s", tmp, strerror(-r));
		goto fail;
	}
	return 0;
fail:
	unpack_rm_rf_at(AT_FDCWD, tmp);
	return r;
}

static bool dir_exists(int dirfd, const char *rel)
{
	struct stat st;

	return fstatat(dirfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

static int ensure_layer(struct image_store *s, const char *chain, const char *blob,
			const char *diff_id, char **ret_err)
{
	_cleanup_free_ char *rel = xasprintf("layers/%s", digest_hex(chain));

	for (;;) {
		if (dir_exists(s->dirfd, rel))
			return 0;
		_cleanup_free_ char *key = xasprintf("layer:%s", chain);
		struct inflight *f = inflight_join(s, key, NULL, NULL);
		if (!f)
			continue;
		int r = unpack_layer(s, rel, blob, diff_id, ret_err);
		inflight_finish(s, f, r, NULL);
		return r;
	}
}

/* The layer blobs of img, from a stored manifest with its config: the
 * one its ref names, else any. */
static int image_layer_blobs(struct image_store *s, const struct image *img, char ***ret)
{
	struct ref_record *v;
	size_t n = refs_snapshot(s, &v);
	int r = -ENOENT;

	for (int pass = 0; pass < 2 && r == -ENOENT; pass++) {
		for (size_t i = 0; i < n && r == -ENOENT; i++) {
			_cleanup_free_ char *body = NULL, *err = NULL;
			_cleanup_json_ json_t *j = NULL;
			struct manifest m = { 0 };
			size_t len;

			if (streq_ptr(v[i].ref, img->ref) != (pass == 0))
				continue;
			if (blob_read(s, v[i].manifest, MANIFEST_MAX, &body, &len) < 0)
				continue;
			j = json_loadb(body, len, 0, NULL);
			if (manifest_parse(j, &m, &err) < 0)
				continue;
			if (streq(m.config, img->id) && m.nlayers == img->nlayers) {
				*ret = TAKE_PTR(m.layers);
				m.nlayers = 0;
				r = 0;
			}
			manifest_release(&m);
		}
	}
	refs_snapshot_free(v, n);
	return r;
}

int image_prepare(struct image_store *s, const struct image *img, char ***ret_lowerdirs,
		  char **ret_err)
{
	_cleanup_strv_free_ char **blobs = NULL;
	_cleanup_free_ char *err = NULL;
	size_t n = img->nlayers;
	int r;

	r = image_layer_blobs(s, img, &blobs);
	if (r < 0) {
		if (ret_err)
			*ret_err = xasprintf("image %s is not in the store", img->id);
		return r;
	}

	char(*chains)[DIGEST_BUF_LEN] = xcalloc(n ? n : 1, DIGEST_BUF_LEN);
	char **dirs = xnew(char *, n + 2);
	digest_chain_ids(img->diff_ids, n, chains);
	for (size_t i = 0; i < n && r >= 0; i++)
		r = ensure_layer(s, chains[i], blobs[i], img->diff_ids[i], &err);
	if (r >= 0 && n == 0) {
		/* overlayfs needs a lower directory */
		if (mkdirat(s->dirfd, "layers/empty", 0755) < 0 && errno != EEXIST)
			r = -errno;
		dirs[0] = xasprintf("%s/layers/empty", s->dir);
	}
	for (size_t i = 0; i < n; i++)
		dirs[i] = xasprintf("%s/layers/%s", s->dir, digest_hex(chains[n - 1 - i]));
	free(chains);
	if (r < 0) {
		strv_freep(&dirs);
		if (ret_err)
			*ret_err = err ? TAKE_PTR(err) : xstrdup(strerror(-r));
		return r;
	}
	*ret_lowerdirs = dirs;
	return 0;
}

/* ---- open, close ---- */

static void clean_layer_tmp(struct image_store *s)
{
	_cleanup_close_ int fd = openat(s->dirfd, "layers", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;
	struct dirent *de;

	if (fd < 0 || !(d = fdopendir(fd)))
		return;
	fd = -1;
	while ((de = readdir(d)))
		if (startswith(de->d_name, ".tmp-"))
			unpack_rm_rf_at(dirfd(d), de->d_name);
	closedir(d);
}

int image_store_open(const char *dir, const char *const *insecure_registries,
		     struct image_store **ret)
{
	struct image_store *s;
	int r;

	r = mkdir_p(dir, 0755);
	if (r < 0)
		return r;
	s = xnew(struct image_store, 1);
	s->lockfd = -1;
	s->dirfd = -1;
	pthread_mutex_init(&s->mu, NULL);
	s->dir = realpath(dir, NULL);
	if (!s->dir) {
		r = -errno;
		goto fail;
	}
	s->dirfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0) {
		r = -errno;
		goto fail;
	}
	s->lockfd = openat(s->dirfd, ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->lockfd < 0) {
		r = -errno;
		goto fail;
	}
	if (flock(s->lockfd, LOCK_EX | LOCK_NB) < 0) {
		r = errno == EWOULDBLOCK ? -EBUSY : -errno;
		goto fail;
	}
	unpack_rm_rf_at(s->dirfd, "tmp");
	static const char *const subdirs[] = { "blobs", BLOBS_DIR, "layers", "tmp" };
	for (size_t i = 0; i < ARRAY_SIZE(subdirs); i++) {
		if (mkdirat(s->dirfd, subdirs[i], 0755) < 0 && errno != EEXIST) {
			r = -errno;
			goto fail;
		}
	}
	clean_layer_tmp(s);
	r = state_load(s);
	if (r < 0)
		goto fail;
	size_t n = 0;
	while (insecure_registries && insecure_registries[n])
		n++;
	s->insecure = xnew(char *, n + 1);
	for (size_t i = 0; i < n; i++)
		s->insecure[i] = xstrdup(insecure_registries[i]);
	*ret = s;
	return 0;
fail:
	image_store_close(s);
	return r;
}

void image_store_close(struct image_store *s)
{
	if (!s)
		return;
	assert_se(!s->inflight);
	json_decref(s->state);
	strv_freep(&s->insecure);
	if (s->lockfd >= 0)
		close(s->lockfd);
	if (s->dirfd >= 0)
		close(s->dirfd);
	pthread_mutex_destroy(&s->mu);
	free(s->dir);
	free(s);
}
