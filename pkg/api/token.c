/*
 * token.c: what the state backend needs to know about the API token itself.
 * R2 derives S3 credentials from an API token (cloudflare-api/REFERENCE.md
 * 12.1): the access key id is the token's id, which token verify reports.
 */
#include <cJSON.h>
#include <string.h>

#include "../mem/mem.h"
#include "token.h"

/*
 * The id of the token the client holds, from GET
 * /accounts/{id}/tokens/verify (result.id). Free *id. ERR_PERMANENT when
 * the token is refused; the token itself never appears in a message.
 */
enum errcode
api_token_id(struct api *a, char **id, struct err *e)
{
	struct api_call *c = api_call_new("GET", "/tokens/verify");
	enum errcode rc = api_call_sync(a, c);
	cJSON *root = NULL;
	const cJSON *v;
	const char *end;

	*id = NULL;
	if (rc != ERR_OK) {
		if (c->status == 401 || c->status == 403)
			rc = err_set(e, ERR_PERMANENT, "the API token was refused (HTTP %ld); R2 "
			             "credentials cannot be derived from it", c->status);
		else
			rc = err_set(e, rc, "cannot reach the API: %s", c->err.msg);
		goto out;
	}
	if (c->resp.len)
		root = cJSON_ParseWithLengthOpts(c->resp.data, c->resp.len, &end, 0);
	v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "result"), "id");
	if (!cJSON_IsString(v) || v->valuestring[0] == '\0' || strlen(v->valuestring) > 128)
		rc = err_set(e, ERR_PERMANENT, "token verify gave no token id");
	else
		*id = xstrdup(v->valuestring);
out:
	cJSON_Delete(root);
	api_call_free(c);
	return rc;
}
