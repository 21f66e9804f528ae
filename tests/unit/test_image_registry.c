/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pulls: from Debian's docker-registry on a free loopback port (anonymous
 * and with htpasswd basic auth), and from a small fake registry in this
 * program for bearer tokens and concurrent pulls. Every registry process
 * is started here and stopped by its PID; nothing leaves loopback.
 * Runs as root.
 */
#include "fixtures/image_fixtures.h"

#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include "lib/base64.h"
#include "runtime/image.h"
#include "runtime/registry.h"

/* htpasswd line for c8s / s3cret (bcrypt, cost 4), made with
 * /usr/bin/python3 -c 'import crypt; print(crypt.crypt("s3cret",
 *     crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))' */
#define HTPASSWD "c8s:$2b$04$7glUe0xcSlxmXp7dNwbaT.T6.B133PKYYFTeHbDkkmeI1CgRGuBje\n"

/* ---- docker-registry processes ---- */

struct registry {
	char *dir;
	int port;
	pid_t pid;
	char *host; /* "127.0.0.1:PORT" */
};

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static size_t discard(char *p, size_t size, size_t nmemb, void *userdata)
{
	return size * nmemb;
}

static size_t location_header(char *p, size_t size, size_t nmemb, void *userdata)
{
	char **loc = userdata;
	size_t len = size * nmemb;

	if (len > 10 && strncasecmp(p, "Location: ", 10) == 0) {
		free(*loc);
		*loc = xstrndup(p + 10, strcspn(p + 10, "\r\n"));
	}
	return len;
}

/* One HTTP request with libcurl; the status, or 0 if none came. With
 * ret_location, the Location header of the answer. */
static long http_loc(const char *method, const char *url, const char *content_type,
		     const void *body, size_t len, const char *userpwd, char **ret_location)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	long status = 0;

	if (ret_location) {
		*ret_location = NULL;
		curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, location_header);
		curl_easy_setopt(c, CURLOPT_HEADERDATA, ret_location);
	}

	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	if (content_type) {
		_cleanup_free_ char *ct = xasprintf("Content-Type: %s", content_type);
		h = curl_slist_append(h, ct);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	}
	if (userpwd)
		curl_easy_setopt(c, CURLOPT_USERPWD, userpwd);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return status;
}

static long http(const char *method, const char *url, const char *content_type, const void *body,
		 size_t len, const char *userpwd)
{
	return http_loc(method, url, content_type, body, len, userpwd, NULL);
}

static void registry_start(struct registry *r, const char *dir, bool auth)
{
	r->dir = xstrdup(dir);
	r->port = free_port();
	r->host = xasprintf("127.0.0.1:%d", r->port);
	_cleanup_free_ char *config = xasprintf("%s/config.yml", dir);
	_cleanup_free_ char *htpasswd = xasprintf("%s/htpasswd", dir);
	_cleanup_free_ char *log = xasprintf("%s/registry.log", dir);
	_cleanup_free_ char *text =
	    xasprintf("version: 0.1\n"
		      "log:\n  level: error\n"
		      "storage:\n  filesystem:\n    rootdirectory: %s/storage\n"
		      "  delete:\n    enabled: true\n"
		      "http:\n  addr: %s\n"
		      "%s%s%s",
		      dir, r->host,
		      auth ? "auth:\n  htpasswd:\n    realm: c8s\n"
			     "    path: "
			   : "",
		      auth ? htpasswd : "", auth ? "\n" : "");
	assert_int_equal(mkdir(dir, 0755), 0);
	fx_write(config, text);
	fx_write(htpasswd, HTPASSWD);

	fflush(NULL);
	r->pid = fork();
	assert_true(r->pid >= 0);
	if (r->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(127);
		execlp("docker-registry", "docker-registry", "serve", config, (char *)NULL);
		_exit(127);
	}
	/* Ready when /v2/ answers (200, or 401 with auth); bounded. */
	_cleanup_free_ char *url = xasprintf("http://%s/v2/", r->host);
	for (int i = 0; i < 200; i++) {
		long st = http("GET", url, NULL, NULL, 0, NULL);
		if (st == 200 || st == 401)
			return;
		usleep(50 * 1000);
	}
	fail_msg("docker-registry did not start (see %s)", log);
}

static void registry_stop(struct registry *r)
{
	if (r->pid > 0) {
		kill(r->pid, SIGTERM);
		waitpid(r->pid, NULL, 0);
	}
	r->pid = 0;
	free(r->dir);
	free(r->host);
}

/* Push the busybox test image (OCI layout) as name:tag. */
static void push_busybox(const char *layout, const struct registry *r, const char *name,
			 const char *creds)
{
	int rc = fx_sh("unshare -m sh -c 'mount -t tmpfs tmpfs /var/lib/containers && "
		       "exec skopeo copy -q --dest-tls-verify=false %s%s oci:%s:1 "
		       "docker://%s/%s' >/dev/null",
		       creds ? "--dest-creds=" : "", creds ? creds : "", layout, r->host, name);
	assert_int_equal(rc, 0);
}

/* Upload a blob and a manifest through the distribution API. */
static void put_blob(const struct registry *r, const char *repo, const void *data, size_t len,
		     const char *digest)
{
	_cleanup_free_ char *url = xasprintf("http://%s/v2/%s/blobs/uploads/", r->host, repo);
	_cleanup_free_ char *loc = NULL;

	/* start an upload, then finish it in one PUT with the content */
	assert_int_equal(http_loc("POST", url, NULL, "", 0, NULL, &loc), 202);
	assert_non_null(loc);
	_cleanup_free_ char *full =
	    startswith(loc, "/") ? xasprintf("http://%s%s", r->host, loc) : xstrdup(loc);
	_cleanup_free_ char *put =
	    xasprintf("%s%sdigest=%s", full, strchr(full, '?') ? "&" : "?", digest);
	assert_int_equal(http("PUT", put, "application/octet-stream", data, len, NULL), 201);
}

static void put_manifest(const struct registry *r, const char *repo, const char *tag,
			 const char *media_type, const char *body)
{
	_cleanup_free_ char *url = xasprintf("http://%s/v2/%s/manifests/%s", r->host, repo, tag);
	assert_int_equal(http("PUT", url, media_type, body, strlen(body), NULL), 201);
}

static void push_fx_image(const struct registry *r, const char *repo, const char *tag,
			  const struct fx_image *im)
{
	size_t len;
	_cleanup_free_ char *layer = fx_read(im->layer, &len);

	put_blob(r, repo, layer, len, im->layer_digest);
	put_blob(r, repo, im->config, strlen(im->config), im->config_digest);
	put_manifest(r, repo, tag, "application/vnd.oci.image.manifest.v1+json", im->manifest);
}

/* ---- the group: one anonymous registry with the images ---- */

struct group {
	char *dir;
	char *images;
	struct registry reg;
	char *busybox_digest; /* manifest of busybox:1 */
	char *busybox_id;
	int seq;
};

static struct group G;

static int group_setup(void **state)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	G.dir = fx_tmpdir("image-registry");
	G.images = xasprintf("%s/images", G.dir);
	if (!fx_build_test_images(G.images)) {
		fprintf(stderr, "cannot build the test images (umoci, skopeo)\n");
		return -1;
	}
	_cleanup_free_ char *regdir = xasprintf("%s/registry", G.dir);
	registry_start(&G.reg, regdir, false);
	_cleanup_free_ char *layout = xasprintf("%s/layout", G.images);
	push_busybox(layout, &G.reg, "busybox:1", NULL);

	_cleanup_free_ char *index_path = xasprintf("%s/index.json", layout);
	json_t *index = json_load_file(index_path, 0, NULL);
	json_t *desc = json_array_get(json_object_get(index, "manifests"), 0);
	G.busybox_digest = xstrdup(json_string_value(json_object_get(desc, "digest")));
	json_decref(index);
	_cleanup_free_ char *mpath =
	    xasprintf("%s/blobs/sha256/%s", layout, digest_hex(G.busybox_digest));
	json_t *m = json_load_file(mpath, 0, NULL);
	G.busybox_id =
	    xstrdup(json_string_value(json_object_get(json_object_get(m, "config"), "digest")));
	json_decref(m);
	return 0;
}

static int group_teardown(void **state)
{
	registry_stop(&G.reg);
	fx_rm_rf(G.dir);
	free(G.dir);
	free(G.images);
	free(G.busybox_digest);
	free(G.busybox_id);
	curl_global_cleanup();
	return 0;
}

struct fixture {
	char *dir;
	struct image_store *s;
	int fds; /* open before the test */
};

static int setup(void **state)
{
	struct fixture *f = xnew(struct fixture, 1);

	f->fds = fx_count_fds();
	f->dir = xasprintf("%s/store-%d", G.dir, ++G.seq);
	assert_int_equal(image_store_open(f->dir, NULL, &f->s), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	image_store_close(f->s);
	fx_rm_rf(f->dir);
	free(f->dir);
	int fds = f->fds;
	free(f);
	assert_int_equal(fx_count_fds(), fds); /* nothing leaked */
	return 0;
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* ---- anonymous pulls ---- */

static void test_pull(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *ref = xasprintf("%s/busybox:1", G.reg.host);
	_cleanup_free_ char *blobs = xasprintf("%s/blobs/sha256", f->dir);
	_cleanup_free_ char *err = NULL;
	struct image *img = NULL, *again = NULL, *got = NULL;

	uint64_t before = registry_requests_total();
	assert_int_equal(image_pull(f->s, ref, NULL, 0, &img, &err), 0);
	/* manifest, config, one layer; one connection */
	assert_int_equal(registry_requests_total() - before, 3);
	assert_int_equal(count_entries(blobs), 3);
	assert_string_equal(img->ref, ref);
	assert_string_equal(img->id, G.busybox_id);
	_cleanup_free_ char *rd = xasprintf("%s/busybox@%s", G.reg.host, G.busybox_digest);
	assert_string_equal(img->repo_digest, rd);
	assert_string_equal(
	    json_string_value(json_array_get(json_object_get(img->config, "Cmd"), 0)), "/bin/sh");
	assert_int_equal(img->nlayers, 1);

	/* again: the manifest is fetched, the blobs are reused */
	before = registry_requests_total();
	assert_int_equal(image_pull(f->s, ref, NULL, 0, &again, &err), 0);
	assert_int_equal(registry_requests_total() - before, 1);
	assert_int_equal(count_entries(blobs), 3);
	assert_string_equal(again->id, img->id);

	/* the store answers by ref, by repo digest, after a restart */
	image_store_close(f->s);
	assert_int_equal(image_store_open(f->dir, NULL, &f->s), 0);
	assert_int_equal(image_get(f->s, ref, &got), 0);
	image_free(got);
	assert_int_equal(image_get(f->s, rd, &got), 0);
	assert_string_equal(got->id, img->id);
	image_free(got);
	_cleanup_free_ char *tmp = xasprintf("%s/tmp", f->dir);
	assert_int_equal(count_entries(tmp), 0);

	image_free(img);
	image_free(again);
}

static void test_pull_by_digest(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *ref = xasprintf("%s/busybox@%s", G.reg.host, G.busybox_digest);
	_cleanup_free_ char *err = NULL;
	struct image *img = NULL;

	assert_int_equal(image_pull(f->s, ref, NULL, 0, &img, &err), 0);
	assert_string_equal(img->ref, ref);
	assert_string_equal(img->repo_digest, ref);
	assert_string_equal(img->id, G.busybox_id);
	image_free(img);

	/* a digest the registry does not have */
	_cleanup_free_ char *bad = xasprintf(
	    "%s/busybox@sha256:0000000000000000000000000000000000000000000000000000000000000000",
	    G.reg.host);
	assert_int_equal(image_pull(f->s, bad, NULL, 0, &img, &err), -ENOENT);
	assert_string_equal(err, "manifest unknown: manifest unknown");
}

static void test_pull_missing(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *ref = xasprintf("%s/busybox:nope", G.reg.host);
	_cleanup_free_ char *ref2 = xasprintf("%s/nosuchrepo:1", G.reg.host);
	_cleanup_free_ char *err = NULL;
	struct image *img = NULL;

	assert_int_equal(image_pull(f->s, ref, NULL, 0, &img, &err), -ENOENT);
	assert_string_equal(err, "manifest unknown: manifest unknown");
	free(TAKE_PTR(err));
	/* (this registry says the same for a repository it does not know) */
	assert_int_equal(image_pull(f->s, ref2, NULL, 0, &img, &err), -ENOENT);
	assert_string_equal(err, "manifest unknown: manifest unknown");
	free(TAKE_PTR(err));
	assert_int_equal(image_get(f->s, ref, &img), -ENOENT);
	assert_int_equal(image_pull(f->s, "Not A Ref", NULL, 0, &img, &err), -EINVAL);
	assert_non_null(strstr(err, "invalid reference format"));
	free(TAKE_PTR(err));

	/* nothing listening */
	_cleanup_free_ char *closed = xasprintf("127.0.0.1:%d/busybox:1", free_port());
	assert_int_equal(image_pull(f->s, closed, NULL, 0, &img, &err), -ECONNREFUSED);
	assert_non_null(strstr(err, "127.0.0.1"));
}

/* An index (arm64 first) resolves to the linux/amd64 manifest. */
static void test_pull_index(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *layout = xasprintf("%s/layout", G.images);
	_cleanup_free_ char *err = NULL;
	const struct fx_entry v[] = { { "hello", 'f', "arm64 build" } };
	struct fx_image arm;
	struct image *img = NULL;

	push_busybox(layout, &G.reg, "multi:amd64", NULL);
	fx_image_make(&arm, f->dir, "arm", "arm64", v, ARRAY_SIZE(v));
	push_fx_image(&G.reg, "multi", "arm64", &arm);

	_cleanup_free_ char *mpath =
	    xasprintf("%s/blobs/sha256/%s", layout, digest_hex(G.busybox_digest));
	size_t amd_len;
	_cleanup_free_ char *amd = fx_read(mpath, &amd_len);
	json_t *index = json_pack(
	    "{s:i, s:s, s:[{s:s, s:s, s:I, s:{s:s, s:s, s:s}}, {s:s, s:s, s:I, s:{s:s, s:s}}]}",
	    "schemaVersion", 2, "mediaType", MT_OCI_INDEX, "manifests", "mediaType",
	    MT_OCI_MANIFEST, "digest", arm.manifest_digest, "size",
	    (json_int_t)strlen(arm.manifest), "platform", "architecture", "arm64", "os", "linux",
	    "variant", "v8", "mediaType", MT_OCI_MANIFEST, "digest", G.busybox_digest, "size",
	    (json_int_t)amd_len, "platform", "architecture", "amd64", "os", "linux");
	_cleanup_free_ char *body = json_dumps(index, JSON_COMPACT);
	json_decref(index);
	char index_digest[DIGEST_BUF_LEN];
	sha256_digest(body, strlen(body), index_digest);
	put_manifest(&G.reg, "multi", "1", MT_OCI_INDEX, body);

	_cleanup_free_ char *ref = xasprintf("%s/multi:1", G.reg.host);
	assert_int_equal(image_pull(f->s, ref, NULL, 0, &img, &err), 0);
	assert_string_equal(img->id, G.busybox_id);
	/* the repo digest is the index's: what the tag names */
	_cleanup_free_ char *rd = xasprintf("%s/multi@%s", G.reg.host, index_digest);
	assert_string_equal(img->repo_digest, rd);
	image_free(img);

	/* an index without linux/amd64 */
	json_t *arm_only =
	    json_pack("{s:i, s:s, s:[{s:s, s:s, s:I, s:{s:s, s:s}}]}", "schemaVersion", 2,
		      "mediaType", MT_OCI_INDEX, "manifests", "mediaType", MT_OCI_MANIFEST,
		      "digest", arm.manifest_digest, "size", (json_int_t)strlen(arm.manifest),
		      "platform", "architecture", "arm64", "os", "linux");
	_cleanup_free_ char *body2 = json_dumps(arm_only, JSON_COMPACT);
	json_decref(arm_only);
	put_manifest(&G.reg, "multi", "armonly", MT_OCI_INDEX, body2);
	_cleanup_free_ char *ref2 = xasprintf("%s/multi:armonly", G.reg.host);
	assert_int_equal(image_pull(f->s, ref2, NULL, 0, &img, &err), -ENOENT);
	assert_non_null(strstr(err, "linux/amd64"));
	fx_image_release(&arm);
}

/* A blob altered in the registry's storage is refused and not kept. */
static void test_pull_corrupt_blob(void **state)
{
	struct fixture *f = *state;
	const struct fx_entry v[] = { { "data", 'f', "some content that will be altered" } };
	_cleanup_free_ char *err = NULL;
	struct fx_image im;
	struct image *img = NULL;

	fx_image_make(&im, f->dir, "corrupt", "amd64", v, ARRAY_SIZE(v));
	push_fx_image(&G.reg, "corrupt", "1", &im);
	_cleanup_free_ char *data =
	    xasprintf("%s/storage/docker/registry/v2/blobs/sha256/%.2s/%s/data", G.reg.dir,
		      digest_hex(im.layer_digest), digest_hex(im.layer_digest));
	size_t len;
	_cleanup_free_ char *content = fx_read(data, &len);
	assert_int_equal(len, im.layer_size);
	content[len / 2] ^= 0x55; /* same size, other bytes */
	int fd = open(data, O_WRONLY | O_TRUNC | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, len), (ssize_t)len);
	close(fd);

	_cleanup_free_ char *ref = xasprintf("%s/corrupt:1", G.reg.host);
	assert_int_equal(image_pull(f->s, ref, NULL, 0, &img, &err), -EBADMSG);
	assert_non_null(strstr(err, "digest mismatch"));
	assert_non_null(strstr(err, im.layer_digest));
	_cleanup_free_ char *blob =
	    xasprintf("%s/blobs/sha256/%s", f->dir, digest_hex(im.layer_digest));
	assert_false(fx_exists(blob));
	_cleanup_free_ char *tmp = xasprintf("%s/tmp", f->dir);
	assert_int_equal(count_entries(tmp), 0);
	assert_int_equal(image_get(f->s, ref, &img), -ENOENT);
	fx_image_release(&im);
}

/* ---- basic auth (htpasswd) ---- */

static void test_basic_auth(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *dir = xasprintf("%s/auth-registry", G.dir);
	_cleanup_free_ char *layout = xasprintf("%s/layout", G.images);
	_cleanup_free_ char *err = NULL;
	struct registry reg = { 0 };
	struct image *img = NULL;

	registry_start(&reg, dir, true);
	push_busybox(layout, &reg, "private:1", "c8s:s3cret");
	_cleanup_free_ char *ref = xasprintf("%s/private:1", reg.host);

	/* anonymous */
	int r = image_pull(f->s, ref, NULL, 0, &img, &err);
	_cleanup_free_ char *err_anon = TAKE_PTR(err);
	/* wrong password (and credentials for another registry, unused) */
	const struct registry_auth bad[] = {
		{ "other.example.com", "c8s", "s3cret" },
		{ reg.host, "c8s", "wrong" },
	};
	int r_bad = image_pull(f->s, ref, bad, ARRAY_SIZE(bad), &img, &err);
	_cleanup_free_ char *err_bad = TAKE_PTR(err);
	/* right password, the registry named as a URL */
	_cleanup_free_ char *url = xasprintf("http://%s/", reg.host);
	const struct registry_auth good[] = { { url, "c8s", "s3cret" } };
	int r_good = image_pull(f->s, ref, good, ARRAY_SIZE(good), &img, &err);

	registry_stop(&reg);
	fx_rm_rf(dir);
	assert_int_equal(r, -EACCES);
	assert_string_equal(err_anon, "unauthorized: authentication required");
	assert_int_equal(r_bad, -EACCES);
	assert_string_equal(err_bad, "unauthorized: authentication required");
	assert_int_equal(r_good, 0);
	assert_string_equal(img->id, G.busybox_id);
	image_free(img);
}

/* ---- a fake registry: bearer tokens, and a gate to hold answers ---- */

struct fake {
	int lfd, port;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool stop, gate;
	int manifest_gets, token_gets;
	char *token_auth; /* Authorization sent to the token endpoint */
	const char *want_basic;
	struct fx_image im;
};

static void send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void respond(int fd, int status, const char *extra_headers, const char *ctype,
		    const void *body, size_t len)
{
	_cleanup_free_ char *head =
	    xasprintf("HTTP/1.1 %d X\r\nContent-Length: %zu\r\nContent-Type: %s\r\n%s"
		      "Connection: close\r\n\r\n",
		      status, len, ctype, extra_headers ? extra_headers : "");
	send_all(fd, head, strlen(head));
	send_all(fd, body, len);
}

static char *header(const char *req, const char *name)
{
	_cleanup_free_ char *needle = xasprintf("\r\n%s: ", name);
	const char *p = strcasestr(req, needle);

	if (!p)
		return NULL;
	p += strlen(needle);
	return xstrndup(p, strcspn(p, "\r\n"));
}

static void fake_serve(struct fake *fk, int fd)
{
	struct strbuf req = STRBUF_INIT;
	char buf[4096];

	while (!strstr(strbuf_str(&req), "\r\n\r\n")) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0) {
			strbuf_release(&req);
			return;
		}
		strbuf_add(&req, buf, (size_t)n);
	}
	char path[1024] = "";
	sscanf(req.buf, "GET %1023s", path);
	_cleanup_free_ char *auth = header(req.buf, "Authorization");
	static const char json[] = "application/json";

	if (startswith(path, "/token")) {
		pthread_mutex_lock(&fk->mu);
		fk->token_gets++;
		free(fk->token_auth);
		fk->token_auth = auth ? xstrdup(auth) : NULL;
		pthread_mutex_unlock(&fk->mu);
		if (fk->want_basic && !streq_ptr(auth, fk->want_basic)) {
			static const char deny[] =
			    "{\"details\":\"incorrect username or password\"}";
			respond(fd, 401, NULL, json, deny, strlen(deny));
		} else {
			static const char tok[] = "{\"token\":\"tok123\",\"expires_in\":300}";
			respond(fd, 200, NULL, json, tok, strlen(tok));
		}
	} else if (!streq_ptr(auth, "Bearer tok123")) {
		static const char unauth[] =
		    "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication "
		    "required\"}]}";
		_cleanup_free_ char *h =
		    xasprintf("WWW-Authenticate: Bearer realm=\"http://127.0.0.1:%d/token\","
			      "service=\"fake-registry\",scope=\"repository:fake:pull\"\r\n",
			      fk->port);
		respond(fd, 401, h, json, unauth, strlen(unauth));
	} else if (streq(path, "/v2/fake/manifests/1")) {
		pthread_mutex_lock(&fk->mu);
		fk->manifest_gets++;
		pthread_cond_broadcast(&fk->cond);
		while (fk->gate && !fk->stop)
			pthread_cond_wait(&fk->cond, &fk->mu);
		pthread_mutex_unlock(&fk->mu);
		_cleanup_free_ char *h =
		    xasprintf("Docker-Content-Digest: %s\r\n", fk->im.manifest_digest);
		respond(fd, 200, h, MT_OCI_MANIFEST, fk->im.manifest, strlen(fk->im.manifest));
	} else if (startswith(path, "/v2/fake/blobs/") && streq(path + 15, fk->im.config_digest)) {
		respond(fd, 200, NULL, "application/octet-stream", fk->im.config,
			strlen(fk->im.config));
	} else if (startswith(path, "/v2/fake/blobs/") && streq(path + 15, fk->im.layer_digest)) {
		size_t len;
		_cleanup_free_ char *layer = fx_read(fk->im.layer, &len);
		respond(fd, 200, NULL, "application/octet-stream", layer, len);
	} else {
		static const char nf[] = "{\"errors\":[{\"code\":\"BLOB_UNKNOWN\",\"message\":"
					 "\"blob unknown to registry\"}]}";
		respond(fd, 404, NULL, json, nf, strlen(nf));
	}
	strbuf_release(&req);
}

static void *fake_main(void *arg)
{
	struct fake *fk = arg;

	for (;;) {
		struct pollfd p = { .fd = fk->lfd, .events = POLLIN };
		pthread_mutex_lock(&fk->mu);
		bool stop = fk->stop;
		pthread_mutex_unlock(&fk->mu);
		if (stop)
			break;
		if (poll(&p, 1, 50) <= 0)
			continue;
		int fd = accept4(fk->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		fake_serve(fk, fd);
		close(fd);
	}
	return NULL;
}

static void fake_start(struct fake *fk, const char *dir)
{
	const struct fx_entry v[] = { { "fake", 'f', "served by the fake registry" } };
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);

	pthread_mutex_init(&fk->mu, NULL);
	pthread_cond_init(&fk->cond, NULL);
	fx_image_make(&fk->im, dir, "fake", "amd64", v, ARRAY_SIZE(v));
	fk->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fk->lfd >= 0);
	assert_int_equal(bind(fk->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fk->lfd, (struct sockaddr *)&a, &len), 0);
	assert_int_equal(listen(fk->lfd, 16), 0);
	fk->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&fk->thread, NULL, fake_main, fk), 0);
}

static void fake_stop(struct fake *fk)
{
	pthread_mutex_lock(&fk->mu);
	fk->stop = true;
	pthread_cond_broadcast(&fk->cond);
	pthread_mutex_unlock(&fk->mu);
	pthread_join(fk->thread, NULL);
	close(fk->lfd);
	free(fk->token_auth);
	fx_image_release(&fk->im);
	pthread_cond_destroy(&fk->cond);
	pthread_mutex_destroy(&fk->mu);
}

struct puller {
	struct image_store *s;
	const char *ref;
	const struct registry_auth *auth;
	int r;
	char *err;
	struct image *img;
};

static void *pull_thread(void *arg)
{
	struct puller *p = arg;

	p->r = image_pull(p->s, p->ref, p->auth, p->auth ? 1 : 0, &p->img, &p->err);
	return NULL;
}

/* Poll cond (bounded: 10 s). */
#define WAIT_FOR(cond)                         \
	do {                                   \
		int _i = 0;                    \
		while (!(cond) && _i++ < 1000) \
			usleep(10 * 1000);     \
		assert_true(cond);             \
	} while (0)

static int fake_get(struct fake *fk, int *field)
{
	pthread_mutex_lock(&fk->mu);
	int v = *field;
	pthread_mutex_unlock(&fk->mu);
	return v;
}

/* Bearer auth: a token from the realm, fetched with the credentials. */
static void test_bearer(void **state)
{
	struct fixture *f = *state;
	struct fake fk = { 0 };
	_cleanup_free_ char *err = NULL;
	struct image *img = NULL;

	fake_start(&fk, f->dir);
	_cleanup_free_ char *host = xasprintf("127.0.0.1:%d", fk.port);
	_cleanup_free_ char *ref = xasprintf("%s/fake:1", host);
	_cleanup_free_ char *basic_raw = base64_encode("u:p", 3);
	_cleanup_free_ char *basic = xasprintf("Basic %s", basic_raw);
	fk.want_basic = basic;
	const struct registry_auth good = { host, "u", "p" }, bad = { host, "u", "nope" };

	int r_bad = image_pull(f->s, ref, &bad, 1, &img, &err);
	_cleanup_free_ char *err_bad = TAKE_PTR(err);
	int r_good = image_pull(f->s, ref, &good, 1, &img, &err);
	int tokens = fake_get(&fk, &fk.token_gets);
	_cleanup_free_ char *token_auth = fk.token_auth ? xstrdup(fk.token_auth) : NULL;
	_cleanup_free_ char *want_id = xstrdup(fk.im.config_digest);
	fake_stop(&fk);

	assert_int_equal(r_bad, -EACCES);
	assert_string_equal(err_bad, "unauthorized: incorrect username or password");
	assert_int_equal(r_good, 0);
	assert_string_equal(img->id, want_id);
	/* one token per pull, reused for the manifest and both blobs */
	assert_int_equal(tokens, 2);
	assert_string_equal(token_auth, basic);
	image_free(img);
}

/* Concurrent pulls of one ref: the second waits for the first and the
 * registry sees one pull. */
static void test_concurrent_pulls(void **state)
{
	struct fixture *f = *state;
	struct fake fk = { .gate = true };

	fake_start(&fk, f->dir);
	_cleanup_free_ char *host = xasprintf("127.0.0.1:%d", fk.port);
	_cleanup_free_ char *ref = xasprintf("%s/fake:1", host);
	struct puller a = { .s = f->s, .ref = ref }, b = a;
	pthread_t ta, tb;

	assert_int_equal(pthread_create(&ta, NULL, pull_thread, &a), 0);
	WAIT_FOR(fake_get(&fk, &fk.manifest_gets) == 1); /* a is in the registry */
	assert_int_equal(pthread_create(&tb, NULL, pull_thread, &b), 0);
	WAIT_FOR(image_store_waiting(f->s) == 1); /* b waits for a */
	pthread_mutex_lock(&fk.mu);
	fk.gate = false;
	pthread_cond_broadcast(&fk.cond);
	pthread_mutex_unlock(&fk.mu);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	int manifests = fake_get(&fk, &fk.manifest_gets);
	int tokens = fake_get(&fk, &fk.token_gets);

	/* a later pull goes to the registry again (for the manifest only) */
	struct puller c = { .s = f->s, .ref = ref };
	pull_thread(&c);
	int manifests_after = fake_get(&fk, &fk.manifest_gets);
	fake_stop(&fk);

	assert_int_equal(a.r, 0);
	assert_int_equal(b.r, 0);
	assert_int_equal(c.r, 0);
	assert_int_equal(manifests, 1);
	assert_int_equal(tokens, 1); /* anonymous token */
	assert_string_equal(a.img->id, b.img->id);
	assert_string_equal(a.img->id, c.img->id);
	assert_int_equal(manifests_after, 2);
	image_free(a.img);
	image_free(b.img);
	image_free(c.img);
}

/* Pulls with different credentials do not share: one without them does not
 * get the image through another pod's pull in flight. */
static void test_concurrent_pulls_other_credentials(void **state)
{
	struct fixture *f = *state;
	struct fake fk = { .gate = true };

	fake_start(&fk, f->dir);
	_cleanup_free_ char *host = xasprintf("127.0.0.1:%d", fk.port);
	_cleanup_free_ char *ref = xasprintf("%s/fake:1", host);
	_cleanup_free_ char *basic_raw = base64_encode("u:p", 3);
	_cleanup_free_ char *basic = xasprintf("Basic %s", basic_raw);
	fk.want_basic = basic;
	const struct registry_auth good = { host, "u", "p" };
	struct puller a = { .s = f->s, .ref = ref, .auth = &good }, b = { .s = f->s, .ref = ref };
	pthread_t ta, tb;

	assert_int_equal(pthread_create(&ta, NULL, pull_thread, &a), 0);
	WAIT_FOR(fake_get(&fk, &fk.manifest_gets) == 1); /* a is in the registry */
	assert_int_equal(pthread_create(&tb, NULL, pull_thread, &b), 0);
	usleep(200 * 1000);
	int waiting = image_store_waiting(f->s); /* b did not join a */
	pthread_mutex_lock(&fk.mu);
	fk.gate = false;
	pthread_cond_broadcast(&fk.cond);
	pthread_mutex_unlock(&fk.mu);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	int tokens = fake_get(&fk, &fk.token_gets);
	fake_stop(&fk);

	assert_int_equal(waiting, 0);
	assert_int_equal(a.r, 0);
	assert_int_equal(b.r, -EACCES);
	assert_string_equal(b.err, "unauthorized: incorrect username or password");
	assert_int_equal(tokens, 2);
	image_free(a.img);
	free(a.err);
	free(b.err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pull, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pull_by_digest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pull_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pull_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pull_corrupt_blob, setup, teardown),
		cmocka_unit_test_setup_teardown(test_basic_auth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bearer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_pulls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_pulls_other_credentials, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
