/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cluster's PKI, kept under <data-dir>/tls/:
 *   ca.crt ca.key              cluster CA (ECDSA P-256, 10 years)
 *   serving.crt serving.key    API server certificate (1 year), signed by the CA
 *   admin.crt admin.key        client certificate CN=system:admin O=system:masters
 * All PEM; keys are written mode 0600.
 */
#pragma once

#include <gnutls/gnutls.h>
#include <stdbool.h>

struct certs {
	char *ca_cert_pem;
	char *ca_key_pem;
	char *serving_cert_pem;
	char *serving_key_pem;
	char *admin_cert_pem;
	char *admin_key_pem;
};

/*
 * Load the PKI from dir (created if missing), generating what is absent.
 * The serving certificate's subjectAltNames are: DNS localhost, kubernetes,
 * kubernetes.default, kubernetes.default.svc, kubernetes.default.svc.cluster.local,
 * the host name; IP 127.0.0.1, ::1, every address of the host's interfaces;
 * plus extra_sans (NULL-terminated; each an IP address or a DNS name). If the
 * existing serving certificate lacks any of these names, or expires within
 * 30 days, a new one is issued by the same CA.
 * Returns 0 or a negative errno; *ret_err (may be NULL) gets a message.
 */
int certs_ensure(const char *dir, const char *const *extra_sans, struct certs *ret, char **ret_err);
void certs_release(struct certs *c);

/* Issue a client certificate for user cn in groups (NULL-terminated), valid
 * for a year, signed by the CA in c. */
int certs_issue_client(const struct certs *c, const char *cn, const char *const *groups,
		       char **ret_cert_pem, char **ret_key_pem);

/*
 * Verify the peer certificate of a TLS session against the CA (PEM) and
 * return its subject CN (user) and O values (groups, NULL-terminated).
 * -ENOENT if the client sent no certificate, -EACCES if it does not verify.
 */
int certs_verify_peer(gnutls_session_t session, const char *ca_cert_pem, char **ret_user,
		      char ***ret_groups);

/*
 * Write a kubeconfig (mode 0600, atomically via a temp file + rename) with
 * one cluster (server URL, CA data), one user (client cert+key data, or a
 * bearer token when token != NULL), and a context named name that is current.
 */
int kubeconfig_write(const char *path, const char *name, const char *server_url,
		     const char *ca_cert_pem, const char *client_cert_pem,
		     const char *client_key_pem, const char *token);
