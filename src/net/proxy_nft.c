/* SPDX-License-Identifier: Apache-2.0 */
/* libnftables wrapper for the service proxy (proxy_nft.h). */
#include "net/proxy_nft.h"

#include <nftables/libnftables.h>

#include "lib/macro.h"

struct proxy_nft {
	struct nft_ctx *ctx;
};

struct proxy_nft *proxy_nft_new(void)
{
	struct proxy_nft *n = xnew(struct proxy_nft, 1);
	n->ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	assert_se(n->ctx);
	/* Keep nft's output and errors for ourselves instead of stdout/stderr. */
	nft_ctx_buffer_output(n->ctx);
	nft_ctx_buffer_error(n->ctx);
	return n;
}

void proxy_nft_free(struct proxy_nft *n)
{
	if (!n)
		return;
	nft_ctx_free(n->ctx);
	free(n);
}

int proxy_nft_run(struct proxy_nft *n, const char *cmds, char **ret_err)
{
	int r = nft_run_cmd_from_buffer(n->ctx, cmds);
	const char *err = nft_ctx_get_error_buffer(n->ctx); /* also resets it */
	(void)nft_ctx_get_output_buffer(n->ctx);
	if (r == 0)
		return 0;
	if (ret_err) {
		/* nft's message, trimmed of its trailing newline. */
		size_t len = err ? strlen(err) : 0;
		while (len && err[len - 1] == '\n')
			len--;
		*ret_err = len ? xstrndup(err, len) : xstrdup("nft failed without a message");
	}
	return -EINVAL;
}
