/*
 * session_r2.c: opening an r2:// state for a session — the S3 endpoint and
 * the S3 credentials, derived from what the session already has so that a
 * pipeline needs no second secret (README: State).
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../api/token.h"
#include "../mem/mem.h"
#include "../state/state_r2.h"
#include "session.h"

/*
 * The endpoint: CLOUDFLARE_R2_ENDPOINT when set (cfemu's S3 listener in
 * tests), the embedded emulator's S3 listener with --local, else
 * https://ACCOUNT[.eu|.fedramp].r2.cloudflarestorage.com (REFERENCE.md 10.2).
 * The credentials: R2_ACCESS_KEY_ID / R2_SECRET_ACCESS_KEY when both are
 * set, else derived from the API token as R2 documents (REFERENCE.md 10.1):
 * key id = the token's id (one token verify call), secret = SHA-256 hex of
 * the token value.
 */
enum errcode
session_open_r2(const struct session_config *cfg, struct session *s, const char *path,
                const char *endpoint, const char *account, int lock, struct err *e)
{
	const char *env_ep = getenv("CLOUDFLARE_R2_ENDPOINT");
	const char *env_id = getenv("R2_ACCESS_KEY_ID"), *env_sec = getenv("R2_SECRET_ACCESS_KEY");
	char *bucket = NULL, *key = NULL, *jur = NULL, *ep = NULL, *id = NULL, secret[65] = "";
	struct state_r2_creds c;
	enum errcode rc;

	memset(&c, 0, sizeof(c));
	if ((rc = state_r2_parse_url(path, &bucket, &key, &jur, e)) != ERR_OK)
		goto out;
	if (s->emu) {
		ep = xasprintf("http://127.0.0.1:%u", emu_s3_port(s->emu));
		c.endpoint_override = 1;
	} else if (env_ep && env_ep[0]) {
		ep = xstrdup(env_ep);
		c.endpoint_override = 1;
	} else if (account == NULL || account[0] == '\0') {
		rc = err_set(e, ERR_INVALID, "an r2:// state needs the account id (--account-id or "
		             "CLOUDFLARE_ACCOUNT_ID) or CLOUDFLARE_R2_ENDPOINT");
		goto out;
	} else {
		ep = xasprintf("https://%s%s%s.r2.cloudflarestorage.com", account,
		               strcmp(jur, "default") ? "." : "", strcmp(jur, "default") ? jur : "");
	}
	if (env_id && env_id[0] && env_sec && env_sec[0] && !s->emu) {
		c.key_id = env_id;
		c.secret = env_sec;
	} else {
		struct api_config ac;
		struct api *a;
		unsigned char d[32];
		unsigned int dl = 0;

		if (s->token == NULL) {
			rc = err_set(e, ERR_INVALID, "an r2:// state needs the API token (R2 credentials "
			             "are derived from it) or R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY");
			goto out;
		}
		memset(&ac, 0, sizeof(ac));
		ac.base_url = endpoint;
		ac.token = s->token;
		ac.account_id = account;
		ac.max_retries = 2;
		if ((a = api_new(&ac, e)) == NULL) {
			rc = e->code ? e->code : ERR_INVALID;
			goto out;
		}
		rc = api_token_id(a, &id, e);
		api_free(a);
		if (rc != ERR_OK)
			goto out;
		EVP_Digest(s->token, strlen(s->token), d, &dl, EVP_sha256(), NULL);
		for (int i = 0; i < 32; i++)
			snprintf(secret + 2 * i, 3, "%02x", d[i]);
		OPENSSL_cleanse(d, sizeof(d));
		c.key_id = id;
		c.secret = secret;
	}
	c.endpoint = ep;
	c.command = cfg->command;
	rc = state_r2_open(path, lock, &c, &s->st, e);
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	free(bucket);
	free(key);
	free(jur);
	free(ep);
	free(id);
	return rc;
}
