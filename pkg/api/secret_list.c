/*
 * Secret listings for observation: the Secrets Store's stores and secrets
 * (page-paged, REFERENCE §5) and a Worker script's secret bindings
 * (REFERENCE §6). Neither API ever returns a value: what we get is names,
 * Secrets Store ids and comments, which is all a plan needs.
 */
#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"


/* The `result` of a response (api_json_parse: bounded, no "\u0000"); why
 * the body is unusable in `why` when *root is NULL. */
static cJSON *
result_of(const struct api_call *c, cJSON **root, char *why, size_t whylen)
{
	*root = api_json_parse(c, why, whylen);
	return cJSON_GetObjectItemCaseSensitive(*root, "result");
}

static char *
str_dup(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? xstrdup(v->valuestring) : NULL;
}

void
obs_secrets_free(struct obs_secret *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].id);
		free(v[i].comment);
	}
	free(v);
}

/* An accumulator of listed secrets (n used, cap allocated). */
struct secret_acc {
	struct obs_secret *v;
	size_t n, cap;
};

/* Appends the named items of a listing's result array to the accumulator:
 * a name or id that could not go into a URL is not listed. */
static void
take_secrets(const cJSON *res, void *acc)
{
	struct secret_acc *x = acc;
	const cJSON *it;

	cJSON_ArrayForEach(it, res) {
		const cJSON *nm = cJSON_GetObjectItemCaseSensitive(it, "name");

		if (!cJSON_IsString(nm) || !api_name_ok(nm->valuestring))
			continue;
		if (cJSON_GetObjectItemCaseSensitive(it, "id") &&
		    !api_id_ok(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "id"))))
			continue;
		if (x->n == x->cap) {
			x->cap = x->cap ? x->cap * 2 : 16;
			x->v = xrealloc(x->v, x->cap * sizeof(*x->v));
		}
		x->v[x->n].name = xstrdup(nm->valuestring);
		x->v[x->n].id = str_dup(it, "id");
		x->v[x->n].comment = str_dup(it, "comment");
		x->n++;
	}
}

enum errcode
api_store_lookup(struct api *a, const char *store, char **id, char **other, struct err *e)
{
	struct api_call *c = api_call_new("GET", "/secrets_store/stores?per_page=%d",
	                                  API_SS_PAGE);
	enum errcode rc;

	*id = *other = NULL;
	if ((rc = api_call_sync(a, c)) != ERR_OK)
		rc = err_set(e, rc, "listing Secrets Stores: %s", c->err.msg);
	else if (api_find_store(c, store, id, other) != ERR_OK)
		rc = err_set(e, ERR_PERMANENT, "listing Secrets Stores: unexpected response shape");
	api_call_free(c);
	return rc;
}

/*
 * Page paging, as api_kv_list: a short page or the last of total_pages ends
 * the listing, and a server that keeps sending full pages is stopped by the
 * listing's bounds (API_SS_LIST_MAX_*).
 */
static struct api_call *
store_page_call(int page, const void *arg)
{
	return api_listing_call("/secrets_store/stores/%s/secrets?page=%d&per_page=%d",
	                        (const char *)arg, page, API_SS_PAGE);
}

enum errcode
api_store_secrets(struct api *a, const char *store_id, struct obs_secret **v, size_t *n,
                  struct err *e)
{
	char *sid = api_escape(store_id);
	struct api_listing l;
	struct secret_acc x = { NULL, 0, 0 };
	enum errcode rc;

	api_listing_init(&l, a, API_SS_LIST_MAX_PAGES, API_SS_LIST_MAX_ITEMS,
	                 "secrets of Secrets Store '%s'", store_id);
	rc = api_list_numbered(a, &l, API_SS_PAGE, store_page_call, sid, take_secrets, &x, e);
	api_listing_release(&l);
	free(sid);
	if (rc != ERR_OK) {
		obs_secrets_free(x.v, x.n);
		x.v = NULL;
		x.n = 0;
	}
	*v = x.v;
	*n = x.n;
	return rc;
}

enum errcode
api_worker_secrets(struct api *a, const char *script, struct obs_secret **v, size_t *n,
                   struct err *e)
{
	char *s = api_escape(script);
	struct api_call *c = api_call_new("GET", "/workers/scripts/%s/secrets", s);
	enum errcode rc;
	cJSON *root = NULL;
	const cJSON *res;
	char why[160];
	struct secret_acc x = { NULL, 0, 0 };

	free(s);
	*v = NULL;
	*n = 0;
	rc = api_call_sync(a, c);
	if (rc == ERR_NOTFOUND && (c->cf_code == API_CF_WORKER_NO_SCRIPT || c->cf_code == 0))
		rc = err_set(e, ERR_NOTFOUND, "Worker script '%s' does not exist", script);
	else if (rc != ERR_OK)
		rc = err_set(e, rc, "listing secrets of Worker '%s': %s", script, c->err.msg);
	else if (!cJSON_IsArray(res = result_of(c, &root, why, sizeof(why))))
		rc = err_set(e, ERR_PERMANENT, "listing secrets of Worker '%s': %s", script,
		             root ? "no result array in the response" : why);
	else
		take_secrets(res, &x);
	cJSON_Delete(root);
	api_call_free(c);
	if (rc != ERR_OK) {
		obs_secrets_free(x.v, x.n);
	} else {
		*v = x.v;
		*n = x.n;
	}
	return rc;
}
