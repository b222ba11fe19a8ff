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

/* Appends the named items of a listing's result array to *v (*cap
 * allocated, doubling); the array's length, or -1 when it is none. */
static int
append_items(const cJSON *res, struct obs_secret **v, size_t *n, size_t *cap)
{
	const cJSON *it;
	int count = 0;

	if (!cJSON_IsArray(res))
		return -1;
	cJSON_ArrayForEach(it, res) {
		const cJSON *nm = cJSON_GetObjectItemCaseSensitive(it, "name");
		char *name;

		count++;
		/* a name or id that could not go into a URL is not listed */
		if (!cJSON_IsString(nm) || !api_name_ok(nm->valuestring))
			continue;
		if (cJSON_GetObjectItemCaseSensitive(it, "id") &&
		    !api_id_ok(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "id"))))
			continue;
		name = xstrdup(nm->valuestring);
		if (*n == *cap) {
			*cap = *cap ? *cap * 2 : 16;
			*v = xrealloc(*v, *cap * sizeof(**v));
		}
		(*v)[*n].name = name;
		(*v)[*n].id = str_dup(it, "id");
		(*v)[*n].comment = str_dup(it, "comment");
		(*n)++;
	}
	return count;
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
enum errcode
api_store_secrets(struct api *a, const char *store_id, struct obs_secret **v, size_t *n,
                  struct err *e)
{
	char *sid = api_escape(store_id);
	struct api_listing l;
	enum errcode rc = ERR_OK;
	size_t cap = 0;

	*v = NULL;
	*n = 0;
	api_listing_init(&l, a, API_SS_LIST_MAX_PAGES, API_SS_LIST_MAX_ITEMS,
	                 "secrets of Secrets Store '%s'", store_id);
	for (int page = 1; rc == ERR_OK; page++) {
		struct api_call *c = api_listing_call("/secrets_store/stores/%s/secrets?page=%d"
		                                      "&per_page=%d", sid, page, API_SS_PAGE);
		cJSON *root, *res, *tp;
		char why[160];
		int count, last;

		if ((rc = api_call_sync(a, c)) != ERR_OK) {
			rc = err_set(e, rc, "listing %s: %s", l.what, c->err.msg);
			api_call_free(c);
			break;
		}
		res = result_of(c, &root, why, sizeof(why));
		if (!cJSON_IsArray(res))
			rc = err_set(e, ERR_PERMANENT, "listing %s: %s", l.what,
			             root ? "no result array in the response" : why);
		else
			rc = api_listing_page(&l, c, (size_t)cJSON_GetArraySize(res), e);
		if (rc != ERR_OK) {
			cJSON_Delete(root);
			api_call_free(c);
			break;
		}
		count = append_items(res, v, n, &cap);
		tp = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(root, "result_info"), "total_pages");
		last = count < API_SS_PAGE || (cJSON_IsNumber(tp) && page >= tp->valuedouble);
		cJSON_Delete(root);
		api_call_free(c);
		if (last)
			break;
		rc = api_listing_next(&l, e);
	}
	api_listing_release(&l);
	free(sid);
	if (rc != ERR_OK) {
		obs_secrets_free(*v, *n);
		*v = NULL;
		*n = 0;
	}
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
	char why[160];
	size_t cap = 0;

	free(s);
	*v = NULL;
	*n = 0;
	rc = api_call_sync(a, c);
	if (rc == ERR_NOTFOUND && (c->cf_code == API_CF_WORKER_NO_SCRIPT || c->cf_code == 0))
		rc = err_set(e, ERR_NOTFOUND, "Worker script '%s' does not exist", script);
	else if (rc != ERR_OK)
		rc = err_set(e, rc, "listing secrets of Worker '%s': %s", script, c->err.msg);
	else if (append_items(result_of(c, &root, why, sizeof(why)), v, n, &cap) < 0)
		rc = err_set(e, ERR_PERMANENT, "listing secrets of Worker '%s': %s", script,
		             root ? "no result array in the response" : why);
	cJSON_Delete(root);
	api_call_free(c);
	if (rc != ERR_OK) {
		obs_secrets_free(*v, *n);
		*v = NULL;
		*n = 0;
	}
	return rc;
}
