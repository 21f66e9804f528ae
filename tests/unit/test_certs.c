/* SPDX-License-Identifier: Apache-2.0 */
#include "unit.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <ftw.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <ifaddrs.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "apiserver/certs.h"

static const char *const pki_files[] = { "ca.crt",	"ca.key",    "serving.crt",
					 "serving.key", "admin.crt", "admin.key" };

/* ---- helpers ---- */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void rm_rf(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

struct tmp {
	char *root; /* the mkdtemp directory */
	char *tls;  /* root/data/tls: not yet existing, two levels deep */
};

static void tmp_setup(struct tmp *t)
{
	char tmpl[] = "/tmp/test_certs.XXXXXX";
	assert_non_null(mkdtemp(tmpl));
	t->root = xstrdup(tmpl);
	t->tls = xasprintf("%s/data/tls", tmpl);
}

static void tmp_release(struct tmp *t)
{
	rm_rf(t->root);
	free(t->root);
	free(t->tls);
}

/* Each test gets two fresh temp trees, removed by teardown even when it fails. */
static int setup(void **state)
{
	struct tmp *t = xnew(struct tmp, 2);
	tmp_setup(&t[0]);
	tmp_setup(&t[1]);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tmp *t = *state;
	tmp_release(&t[0]);
	tmp_release(&t[1]);
	free(t);
	return 0;
}

static char *slurp(const char *dir, const char *name)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	assert_non_null(f);
	char *buf = NULL;
	size_t len = 0;
	_cleanup_fclose_ FILE *m = open_memstream(&buf, &len);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		fwrite(chunk, 1, n, m);
	fclose(TAKE_PTR(m));
	return buf;
}

static mode_t file_mode(const char *dir, const char *name)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static void ensure_ok(const char *dir, const char *const *extra, struct certs *c)
{
	_cleanup_free_ char *err = NULL;
	int r = certs_ensure(dir, extra, c, &err);
	if (r < 0)
		fail_msg("certs_ensure: %d %s", r, err ? err : "(no message)");
	assert_null(err);
}

static gnutls_x509_crt_t crt_load(const char *pem)
{
	gnutls_x509_crt_t crt;
	gnutls_datum_t d = { (unsigned char *)pem, (unsigned)strlen(pem) };
	assert_int_equal(gnutls_x509_crt_init(&crt), 0);
	assert_int_equal(gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM), 0);
	return crt;
}

static gnutls_x509_privkey_t key_load(const char *pem)
{
	gnutls_x509_privkey_t key;
	gnutls_datum_t d = { (unsigned char *)pem, (unsigned)strlen(pem) };
	assert_int_equal(gnutls_x509_privkey_init(&key), 0);
	assert_int_equal(gnutls_x509_privkey_import(key, &d, GNUTLS_X509_FMT_PEM), 0);
	return key;
}

static char *crt_pem(gnutls_x509_crt_t crt)
{
	gnutls_datum_t d;
	assert_int_equal(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d), 0);
	char *s = xstrndup((char *)d.data, d.size);
	gnutls_free(d.data);
	return s;
}

static bool verifies(const char *cert_pem, const char *ca_pem)
{
	gnutls_x509_crt_t crt = crt_load(cert_pem), ca = crt_load(ca_pem);
	unsigned status = 0;
	int g = gnutls_x509_crt_verify(crt, &ca, 1, 0, &status);
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_crt_deinit(ca);
	return g == 0 && status == 0;
}

static char *dn_value(const char *pem, const char *oid, unsigned idx)
{
	gnutls_x509_crt_t crt = crt_load(pem);
	char buf[256];
	size_t size = sizeof(buf);
	int g = gnutls_x509_crt_get_dn_by_oid(crt, oid, idx, 0, buf, &size);
	gnutls_x509_crt_deinit(crt);
	return g < 0 ? NULL : xstrndup(buf, size);
}

static bool has_purpose(const char *pem, const char *oid)
{
	gnutls_x509_crt_t crt = crt_load(pem);
	bool found = false;
	for (unsigned i = 0;; i++) {
		char buf[128];
		size_t size = sizeof(buf);
		if (gnutls_x509_crt_get_key_purpose_oid(crt, i, buf, &size, NULL) < 0)
			break;
		if (streq(buf, oid))
			found = true;
	}
	gnutls_x509_crt_deinit(crt);
	return found;
}

/* SAN present? name is "DNS:..." or "IP:...". */
static bool has_san(const char *pem, const char *name)
{
	gnutls_x509_crt_t crt = crt_load(pem);
	bool found = false;
	for (unsigned i = 0; !found; i++) {
		unsigned char buf[512];
		char text[600];
		size_t size = sizeof(buf) - 1;
		int t = gnutls_x509_crt_get_subject_alt_name(crt, i, buf, &size, NULL);
		if (t < 0)
			break;
		if (t == GNUTLS_SAN_DNSNAME) {
			buf[size] = 0;
			snprintf(text, sizeof(text), "DNS:%s", (char *)buf);
		} else if (t == GNUTLS_SAN_IPADDRESS) {
			char a[INET6_ADDRSTRLEN];
			inet_ntop(size == 4 ? AF_INET : AF_INET6, buf, a, sizeof(a));
			snprintf(text, sizeof(text), "IP:%s", a);
		} else {
			continue;
		}
		found = streq(text, name);
	}
	gnutls_x509_crt_deinit(crt);
	return found;
}

/* Re-sign an existing certificate with the CA after moving its validity. */
static char *resign(const struct certs *c, const char *pem, time_t not_before, time_t not_after)
{
	gnutls_x509_crt_t crt = crt_load(pem), ca = crt_load(c->ca_cert_pem);
	gnutls_x509_privkey_t ca_key = key_load(c->ca_key_pem);
	assert_int_equal(gnutls_x509_crt_set_activation_time(crt, not_before), 0);
	assert_int_equal(gnutls_x509_crt_set_expiration_time(crt, not_after), 0);
	assert_int_equal(gnutls_x509_crt_sign2(crt, ca, ca_key, GNUTLS_DIG_SHA256, 0), 0);
	char *out = crt_pem(crt);
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_crt_deinit(ca);
	gnutls_x509_privkey_deinit(ca_key);
	return out;
}

static void write_to(const char *dir, const char *name, const char *data)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
	_cleanup_fclose_ FILE *f = fopen(path, "we");
	assert_non_null(f);
	assert_int_equal(fputs(data, f) >= 0, 1);
}

/* ---- a real TLS handshake over a socketpair ---- */

struct tls_end {
	int fd;
	const char *cert_pem, *key_pem; /* our certificate, optional for the client */
	const char *trust_pem;		/* client: verifies the server; server: CA names */
	int handshake;
	/* server only: */
	const char *verify_ca_pem;
	int verify;
	char *user;
	char **groups;
};

static gnutls_certificate_credentials_t creds_new(const struct tls_end *e)
{
	gnutls_certificate_credentials_t cred;
	assert_int_equal(gnutls_certificate_allocate_credentials(&cred), 0);
	if (e->cert_pem) {
		gnutls_datum_t crt = { (unsigned char *)e->cert_pem,
				       (unsigned)strlen(e->cert_pem) };
		gnutls_datum_t key = { (unsigned char *)e->key_pem, (unsigned)strlen(e->key_pem) };
		assert_int_equal(
		    gnutls_certificate_set_x509_key_mem(cred, &crt, &key, GNUTLS_X509_FMT_PEM), 0);
	}
	if (e->trust_pem) {
		gnutls_datum_t ca = { (unsigned char *)e->trust_pem,
				      (unsigned)strlen(e->trust_pem) };
		assert_int_equal(
		    gnutls_certificate_set_x509_trust_mem(cred, &ca, GNUTLS_X509_FMT_PEM), 1);
	}
	return cred;
}

static int handshake(gnutls_session_t s)
{
	int g;
	do {
		g = gnutls_handshake(s);
	} while (g < 0 && !gnutls_error_is_fatal(g));
	return g;
}

static void *server_main(void *arg)
{
	struct tls_end *e = arg;
	gnutls_certificate_credentials_t cred = creds_new(e);
	gnutls_session_t s;
	gnutls_init(&s, GNUTLS_SERVER);
	gnutls_set_default_priority(s);
	gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred);
	gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUEST);
	gnutls_transport_set_int(s, e->fd);
	gnutls_handshake_set_timeout(s, 10000);
	e->handshake = handshake(s);
	if (e->handshake == 0) {
		e->verify = certs_verify_peer(s, e->verify_ca_pem, &e->user, &e->groups);
		gnutls_record_send(s, "k", 1);
		gnutls_bye(s, GNUTLS_SHUT_WR);
	}
	shutdown(e->fd, SHUT_RDWR);
	gnutls_deinit(s);
	gnutls_certificate_free_credentials(cred);
	return NULL;
}

static void *client_main(void *arg)
{
	struct tls_end *e = arg;
	gnutls_certificate_credentials_t cred = creds_new(e);
	gnutls_session_t s;
	gnutls_init(&s, GNUTLS_CLIENT);
	gnutls_set_default_priority(s);
	gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred);
	gnutls_server_name_set(s, GNUTLS_NAME_DNS, "localhost", strlen("localhost"));
	/* The client checks the serving certificate against the CA and host name. */
	gnutls_session_set_verify_cert(s, "localhost", 0);
	gnutls_transport_set_int(s, e->fd);
	gnutls_handshake_set_timeout(s, 10000);
	gnutls_record_set_timeout(s, 10000);
	e->handshake = handshake(s);
	if (e->handshake == 0) {
		char b;
		(void)gnutls_record_recv(s, &b, 1);
		gnutls_bye(s, GNUTLS_SHUT_WR);
	}
	shutdown(e->fd, SHUT_RDWR);
	gnutls_deinit(s);
	gnutls_certificate_free_credentials(cred);
	return NULL;
}

/* Handshake a client presenting cert/key (either may be NULL) with a server
 * using c's serving certificate; the server calls certs_verify_peer(). */
static void tls_run(const struct certs *c, const char *client_cert, const char *client_key,
		    bool server_sends_ca_names, struct tls_end *server)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	*server = (struct tls_end){
		.fd = sv[0],
		.cert_pem = c->serving_cert_pem,
		.key_pem = c->serving_key_pem,
		.trust_pem = server_sends_ca_names ? c->ca_cert_pem : NULL,
		.verify_ca_pem = c->ca_cert_pem,
		.verify = 1,
	};
	struct tls_end client = {
		.fd = sv[1],
		.cert_pem = client_cert,
		.key_pem = client_key,
		.trust_pem = c->ca_cert_pem,
	};
	pthread_t ts, tc;
	assert_int_equal(pthread_create(&ts, NULL, server_main, server), 0);
	assert_int_equal(pthread_create(&tc, NULL, client_main, &client), 0);
	pthread_join(ts, NULL);
	pthread_join(tc, NULL);
	close(sv[0]);
	close(sv[1]);
	if (client.handshake != 0)
		fail_msg("client handshake: %s", gnutls_strerror(client.handshake));
	if (server->handshake != 0)
		fail_msg("server handshake: %s", gnutls_strerror(server->handshake));
}

static void tls_end_release(struct tls_end *e)
{
	free(e->user);
	strv_freep(&e->groups);
}

/* ---- tests ---- */

static const char *const extra_a[] = { "c8s.example.com", "192.0.2.10", "2001:db8::10", NULL };
static const char *const extra_ab[] = { "c8s.example.com", "192.0.2.10", "2001:db8::10",
					"other.example.org", NULL };

static void test_generate(void **state)
{
	struct tmp t = ((struct tmp *)*state)[0];
	struct certs c = {};
	ensure_ok(t.tls, extra_a, &c);

	/* Directory created 0700 two levels deep; keys 0600; contents as returned. */
	struct stat st;
	assert_int_equal(stat(t.tls, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(file_mode(t.tls, "ca.key"), 0600);
	assert_int_equal(file_mode(t.tls, "serving.key"), 0600);
	assert_int_equal(file_mode(t.tls, "admin.key"), 0600);
	const char *const fields[] = { c.ca_cert_pem,	  c.ca_key_pem,	    c.serving_cert_pem,
				       c.serving_key_pem, c.admin_cert_pem, c.admin_key_pem };
	for (size_t i = 0; i < ARRAY_SIZE(pki_files); i++) {
		_cleanup_free_ char *data = slurp(t.tls, pki_files[i]);
		assert_string_equal(data, fields[i]);
	}
	assert_non_null(strstr(c.ca_cert_pem, "-----BEGIN CERTIFICATE-----"));
	assert_non_null(strstr(c.ca_key_pem, "PRIVATE KEY-----"));

	/* The CA. */
	gnutls_x509_crt_t ca = crt_load(c.ca_cert_pem);
	unsigned critical = 0, usage = 0;
	assert_int_equal(gnutls_x509_crt_get_basic_constraints(ca, &critical, NULL, NULL), 1);
	assert_true(critical);
	assert_true(gnutls_x509_crt_get_key_usage(ca, &usage, NULL) >= 0);
	assert_true(usage & GNUTLS_KEY_KEY_CERT_SIGN);
	assert_true(usage & GNUTLS_KEY_CRL_SIGN);
	assert_true(usage & GNUTLS_KEY_DIGITAL_SIGNATURE);
	unsigned bits = 0;
	assert_int_equal(gnutls_x509_crt_get_pk_algorithm(ca, &bits), GNUTLS_PK_ECDSA);
	assert_int_equal(gnutls_x509_crt_get_signature_algorithm(ca), GNUTLS_SIGN_ECDSA_SHA256);
	time_t now = time(NULL);
	assert_true(gnutls_x509_crt_get_activation_time(ca) <= now - 3000);
	assert_true(gnutls_x509_crt_get_expiration_time(ca) >= now + 3650L * 86400);
	unsigned char serial[32];
	size_t serial_len = sizeof(serial);
	assert_int_equal(gnutls_x509_crt_get_serial(ca, serial, &serial_len), 0);
	assert_true(serial_len >= 15 && serial_len <= 17);
	assert_true(serial_len < 17 || serial[0] == 0); /* a positive INTEGER */
	gnutls_x509_crt_deinit(ca);
	_cleanup_free_ char *ca_cn = dn_value(c.ca_cert_pem, GNUTLS_OID_X520_COMMON_NAME, 0);
	assert_true(startswith(ca_cn, "c8s-ca@"));
	assert_true(verifies(c.ca_cert_pem, c.ca_cert_pem));

	/* The serving certificate. */
	assert_true(verifies(c.serving_cert_pem, c.ca_cert_pem));
	_cleanup_free_ char *cn = dn_value(c.serving_cert_pem, GNUTLS_OID_X520_COMMON_NAME, 0);
	assert_string_equal(cn, "kube-apiserver");
	assert_true(has_purpose(c.serving_cert_pem, GNUTLS_KP_TLS_WWW_SERVER));
	const char *const want[] = {
		"DNS:localhost",
		"DNS:kubernetes",
		"DNS:kubernetes.default",
		"DNS:kubernetes.default.svc",
		"DNS:kubernetes.default.svc.cluster.local",
		"DNS:c8s.example.com",
		"IP:127.0.0.1",
		"IP:::1",
		"IP:10.43.0.1",
		"IP:192.0.2.10",
		"IP:2001:db8::10",
	};
	for (size_t i = 0; i < ARRAY_SIZE(want); i++)
		if (!has_san(c.serving_cert_pem, want[i]))
			fail_msg("serving certificate lacks %s", want[i]);
	assert_false(has_san(c.serving_cert_pem, "DNS:other.example.org"));

	/* The host name and every interface address except IPv6 link-local. */
	char host[HOST_NAME_MAX + 1] = "";
	gethostname(host, sizeof(host) - 1);
	_cleanup_free_ char *host_san = xasprintf("DNS:%s", host);
	assert_true(has_san(c.serving_cert_pem, host_san));
	struct ifaddrs *ifa;
	assert_int_equal(getifaddrs(&ifa), 0);
	for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
		char a[INET6_ADDRSTRLEN], san[INET6_ADDRSTRLEN + 3];
		if (!i->ifa_addr)
			continue;
		int af = i->ifa_addr->sa_family;
		const void *addr;
		if (af == AF_INET)
			addr = &((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr;
		else if (af == AF_INET6)
			addr = &((struct sockaddr_in6 *)(void *)i->ifa_addr)->sin6_addr;
		else
			continue;
		inet_ntop(af, addr, a, sizeof(a));
		snprintf(san, sizeof(san), "IP:%s", a);
		bool link_local =
		    af == AF_INET6 && IN6_IS_ADDR_LINKLOCAL((const struct in6_addr *)addr);
		if (has_san(c.serving_cert_pem, san) == link_local)
			fail_msg("%s: link-local %d, in certificate %d", san, link_local,
				 !link_local);
	}
	freeifaddrs(ifa);

	/* The admin certificate. */
	assert_true(verifies(c.admin_cert_pem, c.ca_cert_pem));
	_cleanup_free_ char *admin_cn = dn_value(c.admin_cert_pem, GNUTLS_OID_X520_COMMON_NAME, 0);
	_cleanup_free_ char *admin_o =
	    dn_value(c.admin_cert_pem, GNUTLS_OID_X520_ORGANIZATION_NAME, 0);
	assert_string_equal(admin_cn, "system:admin");
	assert_string_equal(admin_o, "system:masters");
	assert_true(has_purpose(c.admin_cert_pem, GNUTLS_KP_TLS_WWW_CLIENT));
	assert_false(has_purpose(c.admin_cert_pem, GNUTLS_KP_TLS_WWW_SERVER));

	certs_release(&c);
	certs_release(&c); /* idempotent */
}

static void test_reuse_byte_for_byte(void **state)
{
	struct tmp t = ((struct tmp *)*state)[0];
	struct certs c1 = {}, c2 = {};
	ensure_ok(t.tls, extra_a, &c1);
	char *before[ARRAY_SIZE(pki_files)];
	for (size_t i = 0; i < ARRAY_SIZE(pki_files); i++)
		before[i] = slurp(t.tls, pki_files[i]);

	ensure_ok(t.tls, extra_a, &c2);
	for (size_t i = 0; i < ARRAY_SIZE(pki_files); i++) {
		_cleanup_free_ char *after = slurp(t.tls, pki_files[i]);
		assert_string_equal(before[i], after);
		free(before[i]);
	}
	assert_string_equal(c1.ca_cert_pem, c2.ca_cert_pem);
	assert_string_equal(c1.serving_cert_pem, c2.serving_cert_pem);
	assert_string_equal(c1.serving_key_pem, c2.serving_key_pem);
	assert_string_equal(c1.admin_cert_pem, c2.admin_cert_pem);
	assert_string_equal(c1.admin_key_pem, c2.admin_key_pem);

	/* No temp files are left behind. */
	DIR *d = opendir(t.tls);
	assert_non_null(d);
	size_t n = 0;
	for (struct dirent *de; (de = readdir(d));)
		if (de->d_name[0] != '.')
			n++;
		else if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
			fail_msg("left behind: %s", de->d_name);
	closedir(d);
	assert_int_equal(n, ARRAY_SIZE(pki_files));

	certs_release(&c1);
	certs_release(&c2);
}

static void test_new_san_reissues_serving_only(void **state)
{
	struct tmp t = ((struct tmp *)*state)[0];
	struct certs c1 = {}, c2 = {};
	ensure_ok(t.tls, extra_a, &c1);
	ensure_ok(t.tls, extra_ab, &c2);

	assert_string_equal(c1.ca_cert_pem, c2.ca_cert_pem);
	assert_string_equal(c1.ca_key_pem, c2.ca_key_pem);
	assert_string_equal(c1.admin_cert_pem, c2.admin_cert_pem);
	assert_string_not_equal(c1.serving_cert_pem, c2.serving_cert_pem);
	assert_string_not_equal(c1.serving_key_pem, c2.serving_key_pem);
	assert_true(has_san(c2.serving_cert_pem, "DNS:other.example.org"));
	assert_true(has_san(c2.serving_cert_pem, "DNS:c8s.example.com"));
	assert_true(verifies(c2.serving_cert_pem, c1.ca_cert_pem));
	_cleanup_free_ char *ca = slurp(t.tls, "ca.crt");
	_cleanup_free_ char *serving = slurp(t.tls, "serving.crt");
	assert_string_equal(ca, c1.ca_cert_pem);
	assert_string_equal(serving, c2.serving_cert_pem);

	/* Going back to fewer SANs keeps the certificate: it has all required ones. */
	struct certs c3 = {};
	ensure_ok(t.tls, extra_a, &c3);
	assert_string_equal(c3.serving_cert_pem, c2.serving_cert_pem);

	certs_release(&c1);
	certs_release(&c2);
	certs_release(&c3);
}

static void test_expiry_renewal(void **state)
{
	struct tmp t = ((struct tmp *)*state)[0];
	struct certs c = {}, c2 = {}, c3 = {};
	ensure_ok(t.tls, NULL, &c);
	time_t now = time(NULL);

	/* 60 days left: kept. */
	_cleanup_free_ char *sixty = resign(&c, c.serving_cert_pem, now - 3600, now + 60 * 86400);
	write_to(t.tls, "serving.crt", sixty);
	ensure_ok(t.tls, NULL, &c2);
	assert_string_equal(c2.serving_cert_pem, sixty);

	/* 10 days left: reissued by the same CA, valid for about a year. */
	_cleanup_free_ char *ten = resign(&c, c.serving_cert_pem, now - 3600, now + 10 * 86400);
	write_to(t.tls, "serving.crt", ten);
	ensure_ok(t.tls, NULL, &c3);
	assert_string_not_equal(c3.serving_cert_pem, ten);
	assert_string_equal(c3.ca_cert_pem, c.ca_cert_pem);
	assert_true(verifies(c3.serving_cert_pem, c.ca_cert_pem));
	gnutls_x509_crt_t crt = crt_load(c3.serving_cert_pem);
	assert_true(gnutls_x509_crt_get_expiration_time(crt) > now + 300 * 86400);
	gnutls_x509_crt_deinit(crt);

	certs_release(&c);
	certs_release(&c2);
	certs_release(&c3);
}

static void test_ca_never_replaced(void **state)
{
	struct tmp t = ((struct tmp *)*state)[0];
	struct certs c = {}, c2 = {};
	ensure_ok(t.tls, NULL, &c);

	/* A CA certificate without its key is an error, not a reason to mint a new CA. */
	_cleanup_free_ char *key_path = xasprintf("%s/ca.key", t.tls);
	assert_int_equal(unlink(key_path), 0);
	_cleanup_free_ char *err = NULL;
	assert_int_equal(certs_ensure(t.tls, NULL, &c2, &err), -ENOENT);
	assert_non_null(err);
	assert_null(c2.ca_cert_pem);
	_cleanup_free_ char *ca = slurp(t.tls, "ca.crt");
	assert_string_equal(ca, c.ca_cert_pem);

	/* A key that does not belong to the certificate is an error too. */
	write_to(t.tls, "ca.key", c.admin_key_pem);
	free(TAKE_PTR(err));
	assert_int_equal(certs_ensure(t.tls, NULL, &c2, &err), -EINVAL);
	assert_non_null(strstr(err, "does not match"));

	/* A damaged serving certificate is simply reissued. */
	write_to(t.tls, "ca.key", c.ca_key_pem);
	write_to(t.tls, "serving.crt", "garbage\n");
	ensure_ok(t.tls, NULL, &c2);
	assert_string_equal(c2.ca_cert_pem, c.ca_cert_pem);
	assert_true(verifies(c2.serving_cert_pem, c.ca_cert_pem));

	certs_release(&c);
	certs_release(&c2);
}

static void test_bad_extra_san(void **state)
{
	struct tmp t = ((struct tmp *)*state)[0];
	struct certs c = {};
	const char *const bad[] = { "ok.example.com", "not a name", NULL };
	_cleanup_free_ char *err = NULL;
	assert_int_equal(certs_ensure(t.tls, bad, &c, &err), -EINVAL);
	assert_non_null(strstr(err, "not a name"));
	assert_null(c.ca_cert_pem);
}

static void test_foreign_ca_rejected(void **state)
{
	struct tmp a = ((struct tmp *)*state)[0], b = ((struct tmp *)*state)[1];
	struct certs ca = {}, cb = {};
	ensure_ok(a.tls, NULL, &ca);
	ensure_ok(b.tls, NULL, &cb);
	assert_string_not_equal(ca.ca_cert_pem, cb.ca_cert_pem);
	assert_false(verifies(cb.admin_cert_pem, ca.ca_cert_pem));
	assert_false(verifies(cb.serving_cert_pem, ca.ca_cert_pem));

	/* Over TLS: the server does not advertise CA names, so the client sends
	 * its foreign certificate, and verification refuses it. */
	struct tls_end server;
	tls_run(&ca, cb.admin_cert_pem, cb.admin_key_pem, false, &server);
	assert_int_equal(server.verify, -EACCES);
	assert_null(server.user);
	tls_end_release(&server);

	certs_release(&ca);
	certs_release(&cb);
}

static void test_verify_peer_tls(void **state)
{
	struct tmp t = ((struct tmp *)*state)[0];
	struct certs c = {};
	ensure_ok(t.tls, NULL, &c);
	struct tls_end server;

	/* The admin certificate. */
	tls_run(&c, c.admin_cert_pem, c.admin_key_pem, true, &server);
	assert_int_equal(server.verify, 0);
	assert_string_equal(server.user, "system:admin");
	assert_non_null(server.groups);
	assert_string_equal(server.groups[0], "system:masters");
	assert_null(server.groups[1]);
	tls_end_release(&server);

	/* No client certificate. */
	tls_run(&c, NULL, NULL, true, &server);
	assert_int_equal(server.verify, -ENOENT);
	assert_null(server.user);
	assert_null(server.groups);
	tls_end_release(&server);

	/* An issued client certificate with several groups, and one with none. */
	const char *const groups[] = { "dev", "system:authenticated", "team-a", NULL };
	_cleanup_free_ char *cert = NULL, *key = NULL;
	assert_int_equal(certs_issue_client(&c, "alice", groups, &cert, &key), 0);
	tls_run(&c, cert, key, true, &server);
	assert_int_equal(server.verify, 0);
	assert_string_equal(server.user, "alice");
	for (size_t i = 0; i < 3; i++)
		assert_string_equal(server.groups[i], groups[i]);
	assert_null(server.groups[3]);
	tls_end_release(&server);

	_cleanup_free_ char *cert2 = NULL, *key2 = NULL;
	assert_int_equal(certs_issue_client(&c, "system:node:n1", NULL, &cert2, &key2), 0);
	tls_run(&c, cert2, key2, true, &server);
	assert_int_equal(server.verify, 0);
	assert_string_equal(server.user, "system:node:n1");
	assert_null(server.groups[0]);
	tls_end_release(&server);

	/* A serverAuth-only certificate is not a client certificate. */
	tls_run(&c, c.serving_cert_pem, c.serving_key_pem, true, &server);
	assert_int_equal(server.verify, -EACCES);
	tls_end_release(&server);

	/* An expired certificate from the right CA. */
	time_t now = time(NULL);
	_cleanup_free_ char *expired = resign(&c, c.admin_cert_pem, now - 400 * 86400, now - 86400);
	tls_run(&c, expired, c.admin_key_pem, false, &server);
	assert_int_equal(server.verify, -EACCES);
	tls_end_release(&server);

	/* Bad arguments to certs_issue_client. */
	char *x = NULL, *y = NULL;
	assert_int_equal(certs_issue_client(&c, "", NULL, &x, &y), -EINVAL);
	assert_null(x);
	assert_null(y);

	certs_release(&c);
}

static void test_verify_peer_no_handshake(void **state)
{
	gnutls_session_t s;
	assert_int_equal(gnutls_init(&s, GNUTLS_SERVER), 0);
	char *user = NULL, **groups = NULL;
	assert_int_equal(certs_verify_peer(s, "not a PEM", &user, &groups), -ENOENT);
	assert_null(user);
	assert_null(groups);
	gnutls_deinit(s);
}

/* The base64 value after "key: " on its own line, decoded. */
static char *yaml_b64(const char *yaml, const char *key)
{
	_cleanup_free_ char *needle = xasprintf("%s: ", key);
	const char *p = strstr(yaml, needle);
	assert_non_null(p);
	p += strlen(needle);
	const char *end = strchr(p, '\n');
	assert_non_null(end);
	gnutls_datum_t in = { (unsigned char *)p, (unsigned)(end - p) }, out;
	assert_int_equal(gnutls_base64_decode2(&in, &out), 0);
	char *s = xstrndup((char *)out.data, out.size);
	gnutls_free(out.data);
	return s;
}

static void test_kubeconfig(void **state)
{
	struct tmp t = ((struct tmp *)*state)[0];
	struct certs c = {};
	ensure_ok(t.tls, NULL, &c);

	assert_int_equal(kubeconfig_write(t.tls, "c8s", "https://127.0.0.1:6443", c.ca_cert_pem,
					  c.admin_cert_pem, c.admin_key_pem, NULL),
			 -EISDIR);
	_cleanup_free_ char *path = xasprintf("%s/admin.kubeconfig", t.root);
	assert_int_equal(kubeconfig_write(path, "c8s", "https://127.0.0.1:6443", c.ca_cert_pem,
					  c.admin_cert_pem, c.admin_key_pem, NULL),
			 0);
	assert_int_equal(file_mode(t.root, "admin.kubeconfig"), 0600);
	_cleanup_free_ char *y = slurp(t.root, "admin.kubeconfig");
	assert_true(startswith(y, "apiVersion: v1\nkind: Config\n"));
	assert_non_null(strstr(y, "    server: \"https://127.0.0.1:6443\"\n"));
	assert_non_null(strstr(y, "current-context: \"c8s\"\n"));
	_cleanup_free_ char *ca = yaml_b64(y, "certificate-authority-data");
	_cleanup_free_ char *crt = yaml_b64(y, "client-certificate-data");
	_cleanup_free_ char *key = yaml_b64(y, "client-key-data");
	assert_string_equal(ca, c.ca_cert_pem);
	assert_string_equal(crt, c.admin_cert_pem);
	assert_string_equal(key, c.admin_key_pem);
	assert_null(strstr(y, "token"));

	/* A token user, replacing the file; odd characters are quoted. */
	assert_int_equal(kubeconfig_write(path, "we\"ird\\name", "https://[::1]:6443",
					  c.ca_cert_pem, NULL, NULL, "abc.def"),
			 0);
	_cleanup_free_ char *y2 = slurp(t.root, "admin.kubeconfig");
	assert_non_null(strstr(y2, "    token: \"abc.def\"\n"));
	assert_non_null(strstr(y2, "current-context: \"we\\\"ird\\\\name\"\n"));
	assert_null(strstr(y2, "client-key-data"));
	assert_int_equal(file_mode(t.root, "admin.kubeconfig"), 0600);

	/* base64 padding: lengths 1, 2 and 3 mod 3. */
	const char *const samples[] = { "a", "ab", "abc", "abcd" };
	for (size_t i = 0; i < ARRAY_SIZE(samples); i++) {
		assert_int_equal(
		    kubeconfig_write(path, "x", "https://h", samples[i], NULL, NULL, "t"), 0);
		_cleanup_free_ char *yi = slurp(t.root, "admin.kubeconfig");
		_cleanup_free_ char *d = yaml_b64(yi, "certificate-authority-data");
		assert_string_equal(d, samples[i]);
	}

	assert_int_equal(
	    kubeconfig_write(path, "x", "https://h", NULL, c.admin_cert_pem, NULL, NULL), -EINVAL);

	certs_release(&c);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_generate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reuse_byte_for_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_san_reissues_serving_only, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_expiry_renewal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ca_never_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_extra_san, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_ca_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_peer_tls, setup, teardown),
		cmocka_unit_test(test_verify_peer_no_handshake),
		cmocka_unit_test_setup_teardown(test_kubeconfig, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
