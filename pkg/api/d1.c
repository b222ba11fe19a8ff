/*
 * D1 databases: the list walker and the parsers of D1's answers (the SDK's
 * d1/database types: D1, DatabaseListResponse, QueryResult). cJSON trees
 * never leave this file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "api.h"

static const char *
jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

void
obs_d1_release(struct obs_d1 *d)
{
	free(d->uuid);
	free(d->name);
	free(d->jurisdiction);
	free(d->read_replication);
	for (size_t i = 0; i < d->nmigs; i++)
		free(d->migs[i]);
	free(d->migs);
	memset(d, 0, sizeof(*d));
}

/* One database object into d: uuid and name must be valid (api_id_ok,
 * api_name_ok); jurisdiction and read_replication.mode when present and
 * sensible. 0 or -1. */
static int
d1_item(const cJSON *it, struct obs_d1 *d)
{
	const char *uuid = jstr(it, "uuid"), *name = jstr(it, "name"), *j = jstr(it, "jurisdiction");
	const cJSON *rr = cJSON_GetObjectItemCaseSensitive(it, "read_replication");
	const char *mode = cJSON_IsObject(rr) ? jstr(rr, "mode") : NULL;

	memset(d, 0, sizeof(*d));
	d->user_tables = -1;
	if (!api_id_ok(uuid) || !api_name_ok(name))
		return -1;
	d->uuid = xstrdup(uuid);
	d->name = xstrdup(name);
	if (j && api_id_ok(j))
		d->jurisdiction = xstrdup(j);
	if (mode && (strcmp(mode, "auto") == 0 || strcmp(mode, "disabled") == 0))
		d->read_replication = xstrdup(mode);
	return 0;
}

int
api_parse_d1(const struct api_call *c, struct obs_d1 *d)
{
	char why[160];
	cJSON *root = api_json_parse(c, why, sizeof(why));
	const cJSON *res = cJSON_GetObjectItemCaseSensitive(root, "result");
	int rc = cJSON_IsObject(res) ? d1_item(res, d) : -1;

	cJSON_Delete(root);
	return rc;
}

/* The valid items of one page appended to *v (*n used, *cap allocated); 1
 * when page `page` is the last (a short page, or result_info.total_pages). */
static int
d1_items(const cJSON *res, const cJSON *root, int page, struct obs_d1 **v, size_t *n,
         size_t *cap)
{
	const cJSON *it, *info, *tp;

	cJSON_ArrayForEach(it, res) {
		struct obs_d1 d;

		if (d1_item(it, &d) != 0) {
			obs_d1_release(&d);
			continue;
		}
		if (*n == *cap) {
			*cap = *cap ? *cap * 2 : 16;
			*v = xrealloc(*v, *cap * sizeof(**v));
		}
		(*v)[(*n)++] = d;
	}
	info = cJSON_GetObjectItemCaseSensitive(root, "result_info");
	tp = cJSON_GetObjectItemCaseSensitive(info, "total_pages");
	return cJSON_GetArraySize(res) < API_D1_PAGE || (cJSON_IsNumber(tp) && page >= tp->valuedouble);
}

int
api_parse_d1_page(const struct api_call *c, int page, struct obs_d1 **v, size_t *n, int *last)
{
	char why[160];
	cJSON *root = api_json_parse(c, why, sizeof(why));
	const cJSON *res = cJSON_GetObjectItemCaseSensitive(root, "result");
	size_t cap = *n;
	int count = -1;

	*last = 0;
	if (cJSON_IsArray(res)) {
		count = cJSON_GetArraySize(res);
		*last = d1_items(res, root, page, v, n, &cap);
	}
	cJSON_Delete(root);
	return count;
}

/*
 * Every database, with page/per_page paging as wrangler's listDatabases does
 * (it stops at a short page); total_pages ends it too. Bounded by
 * API_D1_LIST_MAX_* like every listing.
 */
enum errcode
api_d1_list(struct api *a, struct obs_d1 **v, size_t *n, struct err *e)
{
	struct api_listing l;
	struct obs_d1 *got = NULL;
	size_t ngot = 0, cap = 0;
	enum errcode rc = ERR_OK;

	api_listing_init(&l, a, API_D1_LIST_MAX_PAGES, API_D1_LIST_MAX_ITEMS, "D1 databases");
	for (int page = 1; rc == ERR_OK; page++) {
		struct api_call *c = api_op_d1_list_page(page, API_D1_PAGE);
		char why[160];
		cJSON *root;
		const cJSON *res;
		int last;

		if (api_call_sync(a, c) != ERR_OK) {
			rc = err_set(e, c->rc, "listing %s: %s", l.what, c->err.msg);
			api_call_free(c);
			break;
		}
		root = api_json_parse(c, why, sizeof(why));
		res = cJSON_GetObjectItemCaseSensitive(root, "result");
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
		last = d1_items(res, root, page, &got, &ngot, &cap);
		cJSON_Delete(root);
		api_call_free(c);
		if (last)
			break;
		rc = api_listing_next(&l, e);
	}
	if (rc == ERR_OK && ngot > 0) {
		*v = xrealloc(*v, (*n + ngot) * sizeof(**v));
		memcpy(&(*v)[*n], got, ngot * sizeof(*got));
		*n += ngot;
	} else {
		for (size_t i = 0; i < ngot; i++)
			obs_d1_release(&got[i]);
	}
	free(got);
	api_listing_release(&l);
	return rc;
}

long
api_d1_rows(const struct api_call *c, size_t idx, const char *column, char ***out)
{
	char why[160];
	cJSON *root = api_json_parse(c, why, sizeof(why));
	const cJSON *res = cJSON_GetObjectItemCaseSensitive(root, "result"), *q, *rows, *row;
	char **v = NULL;
	long n = 0;

	*out = NULL;
	q = cJSON_IsArray(res) ? cJSON_GetArrayItem(res, (int)idx) : NULL;
	rows = cJSON_GetObjectItemCaseSensitive(q, "results");
	if (!cJSON_IsArray(rows)) {
		cJSON_Delete(root);
		return -1;
	}
	v = xcalloc((size_t)cJSON_GetArraySize(rows) + 1, sizeof(*v));
	cJSON_ArrayForEach(row, rows) {
		const cJSON *val = cJSON_GetObjectItemCaseSensitive(row, column);

		if (cJSON_IsString(val) && api_name_ok(val->valuestring)) {
			v[n++] = xstrdup(val->valuestring);
		} else if (cJSON_IsNumber(val) && val->valuedouble >= 0 &&
		           val->valuedouble <= (double)API_JSON_INT_MAX) {
			v[n++] = xasprintf("%lld", (long long)val->valuedouble);
		} else {
			for (long i = 0; i < n; i++)
				free(v[i]);
			free(v);
			cJSON_Delete(root);
			return -1;
		}
	}
	cJSON_Delete(root);
	*out = v;
	return n;
}

char *
api_d1_error(const struct api_call *c)
{
	char why[160];
	cJSON *root = api_json_parse(c, why, sizeof(why));
	const cJSON *errs = cJSON_GetObjectItemCaseSensitive(root, "errors");
	const char *m = jstr(cJSON_GetArrayItem(errs, 0), "message");
	char *out = m ? xstrndup(m, strnlen(m, API_D1_ERROR_MAX)) : NULL;

	cJSON_Delete(root);
	return out;
}
