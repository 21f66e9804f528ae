/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cluster PKI (see certs.h for the files it keeps).
 *
 * certs_ensure() is idempotent: it loads what is on disk, checks it, and
 * issues only what is missing or no longer fit for purpose. The CA is never
 * replaced once ca.crt exists; a leaf certificate is reissued (with a fresh
 * key) when its pair is unreadable, the key does not match, it no longer
 * verifies against the CA, it expires within RENEW_BEFORE, or (serving) a
 * required subjectAltName is missing. Every file is written atomically
 * (temp file, fsync, rename, fsync of the directory), key before certificate,
 * so a crash leaves either the old pair or a key whose certificate is absent
 * or mismatched, which the next run repairs. A flock on the directory keeps
 * two processes from minting two CAs at once.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <ifaddrs.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "apiserver/certs.h"
#include "lib/macro.h"
#include "lib/strbuf.h"

#define DAY		      (24 * 3600)
#define CA_LIFETIME	      (3652 * DAY) /* ten years */
#define LEAF_LIFETIME	      (365 * DAY)
#define BACKDATE	      3600 /* notBefore is an hour early, for clock skew */
#define RENEW_BEFORE	      (30 * DAY)
#define MAX_PEM_FILE	      (1 << 20)
#define MAX_DNS_NAME	      253
#define KUBERNETES_SERVICE_IP "10.43.0.1"

DEFINE_TRIVIAL_CLEANUP_FUNC(gnutls_x509_crt_t, gnutls_x509_crt_deinit)
DEFINE_TRIVIAL_CLEANUP_FUNC(gnutls_x509_privkey_t, gnutls_x509_privkey_deinit)
DEFINE_TRIVIAL_CLEANUP_FUNC(gnutls_privkey_t, gnutls_privkey_deinit)

static void free_secret(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static void free_secretp(char **s)
{
	free_secret(*s);
}

static void datum_freep(gnutls_datum_t *d)
{
	gnutls_free(d->data);
	d->data = NULL;
	d->size = 0;
}

static void secret_datum_freep(gnutls_datum_t *d)
{
	if (d->data)
		explicit_bzero(d->data, d->size);
	datum_freep(d);
}

/* Set *ret_err (if wanted) and return r. */
_printf_(3, 4) static int fail(char **ret_err, int r, const char *fmt, ...)
{
	if (ret_err) {
		va_list ap;
		char *msg;
		va_start(ap, fmt);
		if (vasprintf(&msg, fmt, ap) < 0)
			msg = NULL;
		va_end(ap);
		free(*ret_err);
		*ret_err = msg ? msg : xstrdup("out of memory");
	}
	return r;
}

static int gnutls_errno(int g)
{
	switch (g) {
	case GNUTLS_E_MEMORY_ERROR:
		return -ENOMEM;
	case GNUTLS_E_BASE64_DECODING_ERROR:
	case GNUTLS_E_BASE64_UNEXPECTED_HEADER_ERROR:
	case GNUTLS_E_ASN1_DER_ERROR:
	case GNUTLS_E_ASN1_TAG_ERROR:
	case GNUTLS_E_ASN1_ELEMENT_NOT_FOUND:
	case GNUTLS_E_ASN1_GENERIC_ERROR:
	case GNUTLS_E_ASN1_DER_OVERFLOW:
	case GNUTLS_E_PK_INVALID_PRIVKEY:
	case GNUTLS_E_UNKNOWN_PK_ALGORITHM:
	case GNUTLS_E_ECC_UNSUPPORTED_CURVE:
		return -EBADMSG;
	case GNUTLS_E_INVALID_REQUEST:
		return -EINVAL;
	default:
		return -EIO;
	}
}

/* ---- files ---- */

/* mkdir -p with mode for every component created. */
static int mkdir_p(const char *dir, mode_t mode)
{
	_cleanup_free_ char *p = xstrdup(dir);
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

/* Read a small file relative to dfd, NUL-terminated. -ENOENT if absent. */
static int read_file_at(int dfd, const char *name, char **ret)
{
	_cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EBADMSG;
	if (st.st_size > MAX_PEM_FILE)
		return -EFBIG;

	size_t alloc = (size_t)st.st_size + 1, len = 0;
	_cleanup_free_ char *buf = xmalloc(alloc);
	for (;;) {
		if (len + 1 == alloc) {
			if (alloc > MAX_PEM_FILE)
				return -EFBIG;
			alloc *= 2;
			buf = xrealloc(buf, alloc);
		}
		ssize_t n = read(fd, buf + len, alloc - 1 - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = 0;
	if (strlen(buf) != len)
		return -EBADMSG;
	*ret = TAKE_PTR(buf);
	return 0;
}

/* Replace dfd/name with data atomically: temp file, fsync, rename, fsync dir. */
static int write_file_at(int dfd, const char *name, const char *data, mode_t mode)
{
	uint32_t rnd;
	int g = gnutls_rnd(GNUTLS_RND_NONCE, &rnd, sizeof(rnd));
	if (g < 0)
		return gnutls_errno(g);
	_cleanup_free_ char *tmp = xasprintf(".%s.%ld.%08x.tmp", name, (long)getpid(), rnd);

	int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, mode);
	if (fd < 0)
		return -errno;

	int r = 0;
	if (fchmod(fd, mode) < 0)
		r = -errno;
	for (size_t off = 0, len = strlen(data); r == 0 && off < len;) {
		ssize_t n = write(fd, data + off, len - off);
		if (n < 0) {
			if (errno != EINTR)
				r = -errno;
			continue;
		}
		off += (size_t)n;
	}
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && renameat(dfd, tmp, dfd, name) < 0)
		r = -errno;
	if (r < 0) {
		(void)unlinkat(dfd, tmp, 0);
		return r;
	}
	if (fsync(dfd) < 0)
		return -errno;
	return 0;
}

/* ---- subjectAltNames ---- */

struct san {
	int type; /* GNUTLS_SAN_DNSNAME or GNUTLS_SAN_IPADDRESS */
	size_t len;
	unsigned char data[MAX_DNS_NAME + 1]; /* name (not NUL-terminated) or 4/16 bytes */
};

struct san_list {
	struct san *v;
	size_t n, alloc;
};

static void san_list_release(struct san_list *l)
{
	free(l->v);
	*l = (struct san_list){};
}

static bool san_equal(const struct san *a, const struct san *b)
{
	if (a->type != b->type || a->len != b->len)
		return false;
	if (a->type == GNUTLS_SAN_DNSNAME)
		return strncasecmp((const char *)a->data, (const char *)b->data, a->len) == 0;
	return memcmp(a->data, b->data, a->len) == 0;
}

static bool san_list_contains(const struct san_list *l, const struct san *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (san_equal(&l->v[i], s))
			return true;
	return false;
}

static void san_list_add(struct san_list *l, int type, const void *data, size_t len)
{
	struct san s = { .type = type, .len = len };
	if (len > sizeof(s.data))
		return;
	memcpy(s.data, data, len);
	if (san_list_contains(l, &s))
		return;
	if (l->n == l->alloc) {
		l->alloc = l->alloc ? l->alloc * 2 : 16;
		l->v = xrealloc(l->v, l->alloc * sizeof(*l->v));
	}
	l->v[l->n++] = s;
}

static bool dns_name_valid(const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len > MAX_DNS_NAME)
		return false;
	for (const char *p = name; *p; p++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.' || c == '_' || c == '*'))
			return false;
	}
	return true;
}

/* Add name as an IP SAN if it parses as an address, else as a DNS SAN. */
static int san_list_add_name(struct san_list *l, const char *name)
{
	unsigned char addr[16];
	if (inet_pton(AF_INET, name, addr) == 1)
		san_list_add(l, GNUTLS_SAN_IPADDRESS, addr, 4);
	else if (inet_pton(AF_INET6, name, addr) == 1)
		san_list_add(l, GNUTLS_SAN_IPADDRESS, addr, 16);
	else if (dns_name_valid(name))
		san_list_add(l, GNUTLS_SAN_DNSNAME, name, strlen(name));
	else
		return -EINVAL;
	return 0;
}

static int required_sans(const char *const *extra_sans, struct san_list *ret, char **ret_err)
{
	static const char *const fixed[] = {
		"localhost",
		"kubernetes",
		"kubernetes.default",
		"kubernetes.default.svc",
		"kubernetes.default.svc.cluster.local",
		"127.0.0.1",
		"::1",
		KUBERNETES_SERVICE_IP,
	};
	struct san_list l = {};
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(fixed); i++)
		(void)san_list_add_name(&l, fixed[i]);

	char host[HOST_NAME_MAX + 1];
	if (gethostname(host, sizeof(host)) == 0) {
		host[sizeof(host) - 1] = 0;
		/* A host name that is not a valid DNS name is simply left out. */
		if (host[0])
			(void)san_list_add_name(&l, host);
	}

	struct ifaddrs *ifa;
	if (getifaddrs(&ifa) < 0) {
		r = -errno;
		san_list_release(&l);
		return fail(ret_err, r, "failed to list interface addresses: %s", strerror(-r));
	}
	for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr)
			continue;
		if (i->ifa_addr->sa_family == AF_INET) {
			const struct sockaddr_in *sin = (const void *)i->ifa_addr;
			san_list_add(&l, GNUTLS_SAN_IPADDRESS, &sin->sin_addr, 4);
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			const struct sockaddr_in6 *sin6 = (const void *)i->ifa_addr;
			if (IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr))
				continue;
			san_list_add(&l, GNUTLS_SAN_IPADDRESS, &sin6->sin6_addr, 16);
		}
	}
	freeifaddrs(ifa);

	for (const char *const *s = extra_sans; s && *s; s++) {
		r = san_list_add_name(&l, *s);
		if (r < 0) {
			san_list_release(&l);
			return fail(ret_err, r, "invalid subjectAltName '%s'", *s);
		}
	}
	*ret = l;
	return 0;
}

static void crt_get_sans(gnutls_x509_crt_t crt, struct san_list *l)
{
	for (unsigned i = 0;; i++) {
		unsigned char buf[MAX_DNS_NAME + 1];
		size_t size = sizeof(buf);
		unsigned critical;
		int t = gnutls_x509_crt_get_subject_alt_name(crt, i, buf, &size, &critical);
		if (t == GNUTLS_E_SHORT_MEMORY_BUFFER)
			continue; /* too long to be one of ours */
		if (t < 0)
			break;
		if ((t == GNUTLS_SAN_DNSNAME && size <= MAX_DNS_NAME) ||
		    (t == GNUTLS_SAN_IPADDRESS && (size == 4 || size == 16)))
			san_list_add(l, t, buf, size);
	}
}

/* ---- keys and certificates ---- */

static int key_generate(gnutls_x509_privkey_t *ret)
{
	_cleanup_(gnutls_x509_privkey_deinitp) gnutls_x509_privkey_t key = NULL;
	int g = gnutls_x509_privkey_init(&key);
	if (g < 0)
		return gnutls_errno(g);
	g = gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
					 GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0);
	if (g < 0)
		return gnutls_errno(g);
	*ret = TAKE_PTR(key);
	return 0;
}

static int key_import_pem(const char *pem, gnutls_x509_privkey_t *ret)
{
	_cleanup_(gnutls_x509_privkey_deinitp) gnutls_x509_privkey_t key = NULL;
	gnutls_datum_t d = { .data = (unsigned char *)pem, .size = (unsigned)strlen(pem) };
	int g = gnutls_x509_privkey_init(&key);
	if (g < 0)
		return gnutls_errno(g);
	g = gnutls_x509_privkey_import2(key, &d, GNUTLS_X509_FMT_PEM, NULL, 0);
	if (g < 0)
		return -EBADMSG;
	*ret = TAKE_PTR(key);
	return 0;
}

static int key_export_pem(gnutls_x509_privkey_t key, char **ret)
{
	_cleanup_(secret_datum_freep) gnutls_datum_t d = {};
	int g = gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &d);
	if (g < 0)
		return gnutls_errno(g);
	*ret = xstrndup((const char *)d.data, d.size);
	return 0;
}

static int crt_import_pem(const char *pem, gnutls_x509_crt_t *ret)
{
	_cleanup_(gnutls_x509_crt_deinitp) gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t d = { .data = (unsigned char *)pem, .size = (unsigned)strlen(pem) };
	int g = gnutls_x509_crt_init(&crt);
	if (g < 0)
		return gnutls_errno(g);
	g = gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM);
	if (g < 0)
		return -EBADMSG;
	*ret = TAKE_PTR(crt);
	return 0;
}

static int crt_export_pem(gnutls_x509_crt_t crt, char **ret)
{
	_cleanup_(datum_freep) gnutls_datum_t d = {};
	int g = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d);
	if (g < 0)
		return gnutls_errno(g);
	*ret = xstrndup((const char *)d.data, d.size);
	return 0;
}

static bool key_matches_crt(gnutls_x509_privkey_t key, gnutls_x509_crt_t crt)
{
	unsigned char a[64], b[64];
	size_t alen = sizeof(a), blen = sizeof(b);
	if (gnutls_x509_privkey_get_key_id(key, GNUTLS_KEYID_USE_SHA256, a, &alen) < 0 ||
	    gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA256, b, &blen) < 0)
		return false;
	return alen == blen && memcmp(a, b, alen) == 0;
}

/* Signature and validity period of crt against the single trusted ca. */
static bool crt_verifies(gnutls_x509_crt_t crt, gnutls_x509_crt_t ca)
{
	unsigned status = 0;
	if (gnutls_x509_crt_verify(crt, &ca, 1, 0, &status) < 0)
		return false;
	return status == 0;
}

struct cert_spec {
	const char *cn;
	const char *const *orgs; /* NULL-terminated, or NULL */
	bool ca;
	unsigned key_usage;
	const char *purpose; /* extKeyUsage OID, or NULL */
	time_t lifetime;
	const struct san_list *sans; /* or NULL */
};

/* Issue a certificate for key, signed by issuer/issuer_key, or self-signed
 * when issuer is NULL. */
static int crt_issue(const struct cert_spec *spec, gnutls_x509_crt_t issuer,
		     gnutls_x509_privkey_t issuer_key, gnutls_x509_privkey_t key,
		     gnutls_x509_crt_t *ret, char **ret_err)
{
	_cleanup_(gnutls_x509_crt_deinitp) gnutls_x509_crt_t crt = NULL;
	_cleanup_(gnutls_privkey_deinitp) gnutls_privkey_t signer = NULL;
	unsigned char serial[17], id[64];
	size_t id_len;
	time_t now = time(NULL);
	int g;

	if ((g = gnutls_x509_crt_init(&crt)) < 0)
		goto fail;
	if ((g = gnutls_x509_crt_set_version(crt, 3)) < 0)
		goto fail;

	/* 128 random bits, with a leading zero byte so the INTEGER is positive. */
	serial[0] = 0;
	if ((g = gnutls_rnd(GNUTLS_RND_NONCE, serial + 1, sizeof(serial) - 1)) < 0)
		goto fail;
	if ((g = gnutls_x509_crt_set_serial(crt, serial, sizeof(serial))) < 0)
		goto fail;
	if ((g = gnutls_x509_crt_set_activation_time(crt, now - BACKDATE)) < 0)
		goto fail;
	if ((g = gnutls_x509_crt_set_expiration_time(crt, now + spec->lifetime)) < 0)
		goto fail;
	if ((g = gnutls_x509_crt_set_key(crt, key)) < 0)
		goto fail;

	if ((g = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, spec->cn,
					       (unsigned)strlen(spec->cn))) < 0)
		goto fail;
	for (const char *const *o = spec->orgs; o && *o; o++)
		if ((g = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_ORGANIZATION_NAME, 0,
						       *o, (unsigned)strlen(*o))) < 0)
			goto fail;

	/* gnutls marks basicConstraints and keyUsage critical. */
	if ((g = gnutls_x509_crt_set_basic_constraints(crt, spec->ca, -1)) < 0)
		goto fail;
	if ((g = gnutls_x509_crt_set_key_usage(crt, spec->key_usage)) < 0)
		goto fail;
	if (spec->purpose && (g = gnutls_x509_crt_set_key_purpose_oid(crt, spec->purpose, 0)) < 0)
		goto fail;
	for (size_t i = 0; spec->sans && i < spec->sans->n; i++) {
		const struct san *s = &spec->sans->v[i];
		if ((g = gnutls_x509_crt_set_subject_alt_name(
			 crt, s->type, s->data, (unsigned)s->len, GNUTLS_FSAN_APPEND)) < 0)
			goto fail;
	}

	id_len = sizeof(id);
	if ((g = gnutls_x509_crt_get_key_id(crt, 0, id, &id_len)) < 0)
		goto fail;
	if ((g = gnutls_x509_crt_set_subject_key_id(crt, id, id_len)) < 0)
		goto fail;
	if (issuer) {
		unsigned critical;
		id_len = sizeof(id);
		g = gnutls_x509_crt_get_subject_key_id(issuer, id, &id_len, &critical);
		if (g < 0) {
			id_len = sizeof(id);
			g = gnutls_x509_crt_get_key_id(issuer, 0, id, &id_len);
		}
		if (g < 0)
			goto fail;
		if ((g = gnutls_x509_crt_set_authority_key_id(crt, id, id_len)) < 0)
			goto fail;
	}

	if ((g = gnutls_privkey_init(&signer)) < 0)
		goto fail;
	if ((g = gnutls_privkey_import_x509(signer, issuer ? issuer_key : key, 0)) < 0)
		goto fail;
	if ((g = gnutls_x509_crt_privkey_sign(crt, issuer ? issuer : crt, signer, GNUTLS_DIG_SHA256,
					      0)) < 0)
		goto fail;

	*ret = TAKE_PTR(crt);
	return 0;
fail:
	return fail(ret_err, gnutls_errno(g), "failed to issue certificate '%s': %s", spec->cn,
		    gnutls_strerror(g));
}

/* Issue a key and certificate, both as PEM. */
static int pair_issue(const struct cert_spec *spec, gnutls_x509_crt_t issuer,
		      gnutls_x509_privkey_t issuer_key, char **ret_cert_pem, char **ret_key_pem,
		      char **ret_err)
{
	_cleanup_(gnutls_x509_privkey_deinitp) gnutls_x509_privkey_t key = NULL;
	_cleanup_(gnutls_x509_crt_deinitp) gnutls_x509_crt_t crt = NULL;
	_cleanup_free_ char *cert_pem = NULL;
	_cleanup_(free_secretp) char *key_pem = NULL;
	int r;

	r = key_generate(&key);
	if (r < 0)
		return fail(ret_err, r, "failed to generate a key for '%s': %s", spec->cn,
			    strerror(-r));
	r = crt_issue(spec, issuer, issuer_key, key, &crt, ret_err);
	if (r < 0)
		return r;
	r = crt_export_pem(crt, &cert_pem);
	if (r >= 0)
		r = key_export_pem(key, &key_pem);
	if (r < 0)
		return fail(ret_err, r, "failed to export '%s': %s", spec->cn, strerror(-r));
	*ret_cert_pem = TAKE_PTR(cert_pem);
	*ret_key_pem = TAKE_PTR(key_pem);
	return 0;
}

static int client_spec_check(const char *cn, const char *const *groups)
{
	if (isempty(cn))
		return -EINVAL;
	for (const char *const *g = groups; g && *g; g++)
		if (isempty(*g))
			return -EINVAL;
	return 0;
}

static void client_spec(struct cert_spec *spec, const char *cn, const char *const *groups)
{
	*spec = (struct cert_spec){
		.cn = cn,
		.orgs = groups,
		.key_usage = GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_ENCIPHERMENT,
		.purpose = GNUTLS_KP_TLS_WWW_CLIENT,
		.lifetime = LEAF_LIFETIME,
	};
}

/* ---- certs_ensure ---- */

static int ensure_ca(int dfd, const char *dir, struct certs *c, gnutls_x509_crt_t *ret_crt,
		     gnutls_x509_privkey_t *ret_key, char **ret_err)
{
	_cleanup_(gnutls_x509_crt_deinitp) gnutls_x509_crt_t crt = NULL;
	_cleanup_(gnutls_x509_privkey_deinitp) gnutls_x509_privkey_t key = NULL;
	_cleanup_free_ char *cert_pem = NULL;
	_cleanup_(free_secretp) char *key_pem = NULL;
	int r;

	r = read_file_at(dfd, "ca.crt", &cert_pem);
	if (r < 0 && r != -ENOENT)
		return fail(ret_err, r, "failed to read '%s/ca.crt': %s", dir, strerror(-r));
	bool have_cert = r == 0;

	r = read_file_at(dfd, "ca.key", &key_pem);
	if (r == -ENOENT && have_cert)
		return fail(ret_err, r,
			    "'%s/ca.crt' exists but 'ca.key' is missing; not replacing the CA",
			    dir);
	if (r < 0 && r != -ENOENT)
		return fail(ret_err, r, "failed to read '%s/ca.key': %s", dir, strerror(-r));
	if (r == 0) {
		r = key_import_pem(key_pem, &key);
		if (r < 0)
			return fail(ret_err, r, "failed to parse '%s/ca.key': %s", dir,
				    strerror(-r));
	}

	if (have_cert) {
		r = crt_import_pem(cert_pem, &crt);
		if (r < 0)
			return fail(ret_err, r, "failed to parse '%s/ca.crt': %s", dir,
				    strerror(-r));
		if (!key_matches_crt(key, crt))
			return fail(ret_err, -EINVAL, "'%s/ca.key' does not match 'ca.crt'", dir);
	} else {
		/* No CA yet. A key left without its certificate (a crash between
		 * the two writes) is reused rather than thrown away. */
		if (!key) {
			r = key_generate(&key);
			if (r < 0)
				return fail(ret_err, r, "failed to generate the CA key: %s",
					    strerror(-r));
			r = key_export_pem(key, &key_pem);
			if (r < 0)
				return fail(ret_err, r, "failed to export the CA key: %s",
					    strerror(-r));
			r = write_file_at(dfd, "ca.key", key_pem, 0600);
			if (r < 0)
				return fail(ret_err, r, "failed to write '%s/ca.key': %s", dir,
					    strerror(-r));
		}
		_cleanup_free_ char *cn = xasprintf("c8s-ca@%lld", (long long)time(NULL));
		struct cert_spec spec = {
			.cn = cn,
			.ca = true,
			.key_usage = GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN |
				     GNUTLS_KEY_DIGITAL_SIGNATURE,
			.lifetime = CA_LIFETIME,
		};
		r = crt_issue(&spec, NULL, NULL, key, &crt, ret_err);
		if (r < 0)
			return r;
		r = crt_export_pem(crt, &cert_pem);
		if (r < 0)
			return fail(ret_err, r, "failed to export the CA certificate: %s",
				    strerror(-r));
		r = write_file_at(dfd, "ca.crt", cert_pem, 0644);
		if (r < 0)
			return fail(ret_err, r, "failed to write '%s/ca.crt': %s", dir,
				    strerror(-r));
	}

	c->ca_cert_pem = TAKE_PTR(cert_pem);
	c->ca_key_pem = TAKE_PTR(key_pem);
	*ret_crt = TAKE_PTR(crt);
	*ret_key = TAKE_PTR(key);
	return 0;
}

/* Whether the stored pair can be kept: both parse, match, verify against
 * the CA, are valid for RENEW_BEFORE more, and carry every SAN in want. */
static bool leaf_usable(const char *cert_pem, const char *key_pem, gnutls_x509_crt_t ca,
			const struct san_list *want)
{
	_cleanup_(gnutls_x509_crt_deinitp) gnutls_x509_crt_t crt = NULL;
	_cleanup_(gnutls_x509_privkey_deinitp) gnutls_x509_privkey_t key = NULL;
	_cleanup_(san_list_release) struct san_list have = {};
	time_t now = time(NULL);

	if (crt_import_pem(cert_pem, &crt) < 0 || key_import_pem(key_pem, &key) < 0)
		return false;
	if (!key_matches_crt(key, crt) || !crt_verifies(crt, ca))
		return false;
	time_t not_before = gnutls_x509_crt_get_activation_time(crt);
	time_t not_after = gnutls_x509_crt_get_expiration_time(crt);
	if (not_before == (time_t)-1 || not_after == (time_t)-1 || not_before > now ||
	    not_after - now < RENEW_BEFORE)
		return false;
	if (!want)
		return true;
	crt_get_sans(crt, &have);
	for (size_t i = 0; i < want->n; i++)
		if (!san_list_contains(&have, &want->v[i]))
			return false;
	return true;
}

static int ensure_leaf(int dfd, const char *dir, const char *crt_name, const char *key_name,
		       const struct cert_spec *spec, gnutls_x509_crt_t ca_crt,
		       gnutls_x509_privkey_t ca_key, char **ret_cert_pem, char **ret_key_pem,
		       char **ret_err)
{
	_cleanup_free_ char *cert_pem = NULL;
	_cleanup_(free_secretp) char *key_pem = NULL;
	int r;

	r = read_file_at(dfd, crt_name, &cert_pem);
	if (r < 0 && r != -ENOENT && r != -EBADMSG)
		return fail(ret_err, r, "failed to read '%s/%s': %s", dir, crt_name, strerror(-r));
	if (r == 0) {
		r = read_file_at(dfd, key_name, &key_pem);
		if (r < 0 && r != -ENOENT && r != -EBADMSG)
			return fail(ret_err, r, "failed to read '%s/%s': %s", dir, key_name,
				    strerror(-r));
	}
	if (cert_pem && key_pem && leaf_usable(cert_pem, key_pem, ca_crt, spec->sans)) {
		*ret_cert_pem = TAKE_PTR(cert_pem);
		*ret_key_pem = TAKE_PTR(key_pem);
		return 0;
	}
	free(TAKE_PTR(cert_pem));
	free_secret(TAKE_PTR(key_pem));

	r = pair_issue(spec, ca_crt, ca_key, &cert_pem, &key_pem, ret_err);
	if (r < 0)
		return r;
	r = write_file_at(dfd, key_name, key_pem, 0600);
	if (r < 0)
		return fail(ret_err, r, "failed to write '%s/%s': %s", dir, key_name, strerror(-r));
	r = write_file_at(dfd, crt_name, cert_pem, 0644);
	if (r < 0)
		return fail(ret_err, r, "failed to write '%s/%s': %s", dir, crt_name, strerror(-r));
	*ret_cert_pem = TAKE_PTR(cert_pem);
	*ret_key_pem = TAKE_PTR(key_pem);
	return 0;
}

int certs_ensure(const char *dir, const char *const *extra_sans, struct certs *ret, char **ret_err)
{
	_cleanup_(certs_release) struct certs c = {};
	_cleanup_(san_list_release) struct san_list want = {};
	_cleanup_(gnutls_x509_crt_deinitp) gnutls_x509_crt_t ca_crt = NULL;
	_cleanup_(gnutls_x509_privkey_deinitp) gnutls_x509_privkey_t ca_key = NULL;
	_cleanup_close_ int dfd = -1;
	int r;

	if (isempty(dir) || !ret)
		return fail(ret_err, -EINVAL, "no certificate directory given");

	r = required_sans(extra_sans, &want, ret_err);
	if (r < 0)
		return r;

	r = mkdir_p(dir, 0700);
	if (r < 0)
		return fail(ret_err, r, "failed to create '%s': %s", dir, strerror(-r));
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		r = -errno;
		return fail(ret_err, r, "failed to open '%s': %s", dir, strerror(-r));
	}
	while (flock(dfd, LOCK_EX) < 0) {
		r = -errno;
		if (r != -EINTR)
			return fail(ret_err, r, "failed to lock '%s': %s", dir, strerror(-r));
	}

	r = ensure_ca(dfd, dir, &c, &ca_crt, &ca_key, ret_err);
	if (r < 0)
		return r;

	struct cert_spec serving = {
		.cn = "kube-apiserver",
		.key_usage = GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_ENCIPHERMENT,
		.purpose = GNUTLS_KP_TLS_WWW_SERVER,
		.lifetime = LEAF_LIFETIME,
		.sans = &want,
	};
	r = ensure_leaf(dfd, dir, "serving.crt", "serving.key", &serving, ca_crt, ca_key,
			&c.serving_cert_pem, &c.serving_key_pem, ret_err);
	if (r < 0)
		return r;

	static const char *const admin_groups[] = { "system:masters", NULL };
	struct cert_spec admin;
	client_spec(&admin, "system:admin", admin_groups);
	r = ensure_leaf(dfd, dir, "admin.crt", "admin.key", &admin, ca_crt, ca_key,
			&c.admin_cert_pem, &c.admin_key_pem, ret_err);
	if (r < 0)
		return r;

	*ret = c;
	c = (struct certs){};
	return 0;
}

void certs_release(struct certs *c)
{
	if (!c)
		return;
	free(c->ca_cert_pem);
	free_secret(c->ca_key_pem);
	free(c->serving_cert_pem);
	free_secret(c->serving_key_pem);
	free(c->admin_cert_pem);
	free_secret(c->admin_key_pem);
	*c = (struct certs){};
}

int certs_issue_client(const struct certs *c, const char *cn, const char *const *groups,
		       char **ret_cert_pem, char **ret_key_pem)
{
	_cleanup_(gnutls_x509_crt_deinitp) gnutls_x509_crt_t ca_crt = NULL;
	_cleanup_(gnutls_x509_privkey_deinitp) gnutls_x509_privkey_t ca_key = NULL;
	struct cert_spec spec;
	int r;

	if (!c || !c->ca_cert_pem || !c->ca_key_pem || !ret_cert_pem || !ret_key_pem)
		return -EINVAL;
	r = client_spec_check(cn, groups);
	if (r < 0)
		return r;
	r = crt_import_pem(c->ca_cert_pem, &ca_crt);
	if (r < 0)
		return r;
	r = key_import_pem(c->ca_key_pem, &ca_key);
	if (r < 0)
		return r;
	client_spec(&spec, cn, groups);
	return pair_issue(&spec, ca_crt, ca_key, ret_cert_pem, ret_key_pem, NULL);
}

/* ---- peer verification ---- */

/* The idx-th value of a subject attribute. -ENOENT past the last one,
 * -EBADMSG for a value with an embedded NUL. */
static int crt_get_dn_value(gnutls_x509_crt_t crt, const char *oid, unsigned idx, char **ret)
{
	size_t size = 0;
	int g = gnutls_x509_crt_get_dn_by_oid(crt, oid, idx, 0, NULL, &size);
	if (g == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
		return -ENOENT;
	if (g != GNUTLS_E_SHORT_MEMORY_BUFFER && g < 0)
		return -EBADMSG;
	_cleanup_free_ char *buf = xmalloc(size + 1);
	size_t len = size + 1;
	g = gnutls_x509_crt_get_dn_by_oid(crt, oid, idx, 0, buf, &len);
	if (g < 0 || len > size)
		return -EBADMSG;
	buf[len] = 0;
	if (strlen(buf) != len)
		return -EBADMSG;
	*ret = TAKE_PTR(buf);
	return 0;
}

/* clientAuth (or anyExtendedKeyUsage) present, or no extKeyUsage at all. */
static bool crt_allows_client_auth(gnutls_x509_crt_t crt)
{
	bool have_eku = false;
	for (unsigned i = 0;; i++) {
		char oid[128];
		size_t size = sizeof(oid);
		unsigned critical;
		int g = gnutls_x509_crt_get_key_purpose_oid(crt, i, oid, &size, &critical);
		if (g == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		have_eku = true;
		if (g == GNUTLS_E_SHORT_MEMORY_BUFFER)
			continue;
		if (g < 0)
			return false;
		if (streq(oid, GNUTLS_KP_TLS_WWW_CLIENT) || streq(oid, GNUTLS_KP_ANY))
			return true;
	}
	return !have_eku;
}

int certs_verify_peer(gnutls_session_t session, const char *ca_cert_pem, char **ret_user,
		      char ***ret_groups)
{
	_cleanup_(gnutls_x509_crt_deinitp) gnutls_x509_crt_t ca = NULL;
	_cleanup_(gnutls_x509_crt_deinitp) gnutls_x509_crt_t crt = NULL;
	_cleanup_free_ char *user = NULL;
	_cleanup_strv_free_ char **groups = NULL;
	const gnutls_datum_t *peers;
	unsigned n_peers = 0;
	int r;

	if (!session || !ca_cert_pem || !ret_user || !ret_groups)
		return -EINVAL;
	peers = gnutls_certificate_get_peers(session, &n_peers);
	if (!peers || n_peers == 0)
		return -ENOENT;

	r = crt_import_pem(ca_cert_pem, &ca);
	if (r < 0)
		return r == -EBADMSG ? -EINVAL : r;

	if (gnutls_x509_crt_init(&crt) < 0)
		return -ENOMEM;
	if (gnutls_x509_crt_import(crt, &peers[0], GNUTLS_X509_FMT_DER) < 0)
		return -EACCES;
	if (!crt_verifies(crt, ca))
		return -EACCES;
	time_t now = time(NULL);
	time_t not_before = gnutls_x509_crt_get_activation_time(crt);
	time_t not_after = gnutls_x509_crt_get_expiration_time(crt);
	if (not_before == (time_t)-1 || not_after == (time_t)-1 || now < not_before ||
	    now > not_after)
		return -EACCES;
	if (!crt_allows_client_auth(crt))
		return -EACCES;

	r = crt_get_dn_value(crt, GNUTLS_OID_X520_COMMON_NAME, 0, &user);
	if (r < 0 || isempty(user))
		return -EACCES;

	size_t n = 0;
	groups = xnew(char *, 1);
	for (;;) {
		char *o;
		r = crt_get_dn_value(crt, GNUTLS_OID_X520_ORGANIZATION_NAME, (unsigned)n, &o);
		if (r == -ENOENT)
			break;
		if (r < 0)
			return -EACCES;
		groups = xrealloc(groups, (n + 2) * sizeof(*groups));
		groups[n++] = o;
		groups[n] = NULL;
	}

	*ret_user = TAKE_PTR(user);
	*ret_groups = TAKE_PTR(groups);
	return 0;
}

/* ---- kubeconfig ---- */

static void add_base64(struct strbuf *sb, const char *s)
{
	static const char tbl[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s);
	strbuf_grow(sb, (len + 2) / 3 * 4);
	for (; len >= 3; p += 3, len -= 3) {
		char q[4] = { tbl[p[0] >> 2], tbl[((p[0] & 3) << 4) | (p[1] >> 4)],
			      tbl[((p[1] & 15) << 2) | (p[2] >> 6)], tbl[p[2] & 63] };
		strbuf_add(sb, q, 4);
	}
	if (len) {
		unsigned v = (unsigned)p[0] << 16 | (len == 2 ? (unsigned)p[1] << 8 : 0);
		char q[4] = { tbl[v >> 18], tbl[(v >> 12) & 63],
			      len == 2 ? tbl[(v >> 6) & 63] : '=', '=' };
		strbuf_add(sb, q, 4);
	}
}

/* A YAML double-quoted scalar. */
static void add_yaml_str(struct strbuf *sb, const char *s)
{
	strbuf_addch(sb, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\') {
			strbuf_addch(sb, '\\');
			strbuf_addch(sb, (char)*p);
		} else if (*p < 0x20 || *p == 0x7f) {
			strbuf_addf(sb, "\\x%02x", *p);
		} else {
			strbuf_addch(sb, (char)*p);
		}
	}
	strbuf_addch(sb, '"');
}

int kubeconfig_write(const char *path, const char *name, const char *server_url,
		     const char *ca_cert_pem, const char *client_cert_pem,
		     const char *client_key_pem, const char *token)
{
	_cleanup_(strbuf_releasep) struct strbuf sb = STRBUF_INIT;
	_cleanup_free_ char *dir = NULL;
	_cleanup_close_ int dfd = -1;
	const char *base;
	int r;

	if (isempty(path) || isempty(name) || isempty(server_url))
		return -EINVAL;
	if (!token && (!client_cert_pem != !client_key_pem))
		return -EINVAL;

	const char *slash = strrchr(path, '/');
	if (slash) {
		dir = slash == path ? xstrdup("/") : xstrndup(path, (size_t)(slash - path));
		base = slash + 1;
	} else {
		dir = xstrdup(".");
		base = path;
	}
	if (!*base || streq(base, ".") || streq(base, ".."))
		return -EISDIR;

	strbuf_addstr(&sb, "apiVersion: v1\nkind: Config\nclusters:\n- name: ");
	add_yaml_str(&sb, name);
	strbuf_addstr(&sb, "\n  cluster:\n    server: ");
	add_yaml_str(&sb, server_url);
	if (ca_cert_pem) {
		strbuf_addstr(&sb, "\n    certificate-authority-data: ");
		add_base64(&sb, ca_cert_pem);
	}
	strbuf_addstr(&sb, "\nusers:\n- name: ");
	add_yaml_str(&sb, name);
	if (token) {
		strbuf_addstr(&sb, "\n  user:\n    token: ");
		add_yaml_str(&sb, token);
	} else if (client_cert_pem) {
		strbuf_addstr(&sb, "\n  user:\n    client-certificate-data: ");
		add_base64(&sb, client_cert_pem);
		strbuf_addstr(&sb, "\n    client-key-data: ");
		add_base64(&sb, client_key_pem);
	} else {
		strbuf_addstr(&sb, "\n  user: {}");
	}
	strbuf_addstr(&sb, "\ncontexts:\n- name: ");
	add_yaml_str(&sb, name);
	strbuf_addstr(&sb, "\n  context:\n    cluster: ");
	add_yaml_str(&sb, name);
	strbuf_addstr(&sb, "\n    user: ");
	add_yaml_str(&sb, name);
	strbuf_addstr(&sb, "\ncurrent-context: ");
	add_yaml_str(&sb, name);
	strbuf_addstr(&sb, "\npreferences: {}\n");

	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		r = -errno;
	else
		r = write_file_at(dfd, base, strbuf_str(&sb), 0600);
	explicit_bzero(sb.buf, sb.len);
	return r;
}
