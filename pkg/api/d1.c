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
	free(d->migs_error);
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

/* An accumulator of databases (n used, cap allocated). */
struct d1_acc {
	struct obs_d1 *v;
	size_t n, cap;
};

/* The valid items of one page's result array appended to the accumulator. */
static void
d1_take(const cJSON *res, void *acc)
{
	struct d1_acc *x = acc;
	const cJSON *it;

	cJSON_ArrayForEach(it, res) {
		struct obs_d1 d;

		if (d1_item(it, &d) != 0) {
			obs_d1_release(&d);
			continue;
		}
		if (x->n == x->cap) {
			x->cap = x->cap ? x->cap * 2 : 16;
			x->v = xrealloc(x->v, x->cap * sizeof(*x->v));
		}
		x->v[x->n++] = d;
	}
}

int
api_parse_d1_page(const struct api_call *c, int page, struct obs_d1 **v, size_t *n, int *last)
{
	cJSON *root;
	const cJSON *res = api_page_items(c, &root);
	struct d1_acc x = { *v, *n, *n };
	int count = -1;

	*last = 0;
	if (res) {
		count = cJSON_GetArraySize(res);
		d1_take(res, &x);
		*last = api_page_last(root, page, (size_t)count, API_D1_PAGE);
	}
	*v = x.v;
	*n = x.n;
	cJSON_Delete(root);
	return count;
}

/*
 * Every database, with page/per_page paging as wrangler's listDatabases does
 * (it stops at a short page); total_pages ends it too. Bounded by
 * API_D1_LIST_MAX_* like every listing.
 */
static struct api_call *
d1_page_call(int page, const void *arg)
{
	(void)arg;
	return api_op_d1_list_page(page, API_D1_PAGE);
}

enum errcode
api_d1_list(struct api *a, struct obs_d1 **v, size_t *n, struct err *e)
{
	struct api_listing l;
	struct d1_acc x = { NULL, 0, 0 };
	enum errcode rc;

	api_listing_init(&l, a, API_D1_LIST_MAX_PAGES, API_D1_LIST_MAX_ITEMS, "D1 databases");
	rc = api_list_numbered(a, &l, API_D1_PAGE, d1_page_call, NULL, d1_take, &x, e);
	if (rc == ERR_OK && x.n > 0) {
		*v = xrealloc(*v, (*n + x.n) * sizeof(**v));
		memcpy(&(*v)[*n], x.v, x.n * sizeof(*x.v));
		*n += x.n;
	} else {
		for (size_t i = 0; i < x.n; i++)
			obs_d1_release(&x.v[i]);
	}
	free(x.v);
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
			return -2;
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
