/*
 * emu_secrets.c: Secrets Store (/accounts/{account_id}/secrets_store,
 * REFERENCE.md section 5) and Worker scripts with their secret bindings
 * (/accounts/{account_id}/workers/scripts, section 6). Secret values are
 * write-only: no route returns them (only the test route
 * /__emu/secret-values does).
 *
 * Codes not published by Cloudflare and chosen here (Secrets Store errors
 * use the common envelope): 400 code 1001 bad request, 400 code 1002 a
 * limit reached (a second store: Cloudflare allows one per account), 404
 * code 1003 store or secret not found, 409 code 1004 a secret name taken,
 * 409 code 1005 "store_not_empty" (S3). Worker secret not found: 404 code
 * 10056. Script not found: 404 code 10007 as wrangler expects (S4).
 */
#include "emu_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../mem/mem.h"

#define SS_ERR_BAD_REQUEST 1001
#define SS_ERR_LIMIT 1002
#define SS_ERR_NOT_FOUND 1003
#define SS_ERR_NAME_TAKEN 1004
#define SS_ERR_NOT_EMPTY 1005
#define WK_ERR_NO_SCRIPT 10007
#define WK_ERR_NO_SECRET 10056
#define SS_PER_PAGE_DEFAULT 20
#define SS_NAME_MAX 255 /* secret and store name length bound (inferred) */

/* ---- Secrets Store ---- */

static cJSON *
store_json(const struct emu *e, const struct emu_sstore *s)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "id", s->id);
	cJSON_AddStringToObject(o, "name", s->name);
	cJSON_AddStringToObject(o, "created", s->created);
	cJSON_AddStringToObject(o, "modified", s->modified);
	cJSON_AddStringToObject(o, "account_id", e->account_id);
	return o;
}

static cJSON *
secret_json(const struct emu_sstore *st, const struct emu_secret *s)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "id", s->id);
	cJSON_AddStringToObject(o, "name", s->name);
	cJSON_AddStringToObject(o, "status", "active");
	cJSON_AddStringToObject(o, "store_id", st->id);
	cJSON_AddStringToObject(o, "created", s->created);
	cJSON_AddStringToObject(o, "modified", s->modified);
	if (s->comment)
		cJSON_AddStringToObject(o, "comment", s->comment);
	cJSON_AddItemToObject(o, "scopes", cJSON_Duplicate(s->scopes, 1));
	return o;
}

static size_t
secrets_total(const struct emu *e)
{
	size_t n = 0;

	for (size_t i = 0; i < e->m.stores.n; i++)
		n += ((struct emu_sstore *)e->m.stores.v[i])->secrets.n;
	return n;
}

/* page/per_page of a store or secret list; -1 after answering 400. */
static int
paging(const struct emu_req *rq, long long *page, long long *per, struct emu_resp *rs)
{
	*page = 1;
	*per = SS_PER_PAGE_DEFAULT;
	if ((emu_query(rq, "page") && (emu_parse_ll(emu_query(rq, "page"), page) || *page < 1)) ||
	    (emu_query(rq, "per_page") &&
	     (emu_parse_ll(emu_query(rq, "per_page"), per) || *per < 1 || *per > EMU_PER_PAGE_MAX))) {
		emu_fail(rs, 400, SS_ERR_BAD_REQUEST, "invalid page or per_page");
		return -1;
	}
	return 0;
}

static cJSON *
page_info(long long page, long long per, size_t count, size_t total)
{
	cJSON *info = cJSON_CreateObject();

	cJSON_AddNumberToObject(info, "page", (double)page);
	cJSON_AddNumberToObject(info, "per_page", (double)per);
	cJSON_AddNumberToObject(info, "count", (double)count);
	cJSON_AddNumberToObject(info, "total_count", (double)total);
	cJSON_AddNumberToObject(info, "total_pages",
	                        (double)((total + (size_t)per - 1) / (size_t)per));
	return info;
}

/* Orders stores or secrets by the string field named by arg (for qsort_r). */
static int
field_cmp(const void *a, const void *b, void *arg)
{
	const char *sort_field = arg;
	const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
	const cJSON *fx = cJSON_GetObjectItemCaseSensitive(x, sort_field);
	const cJSON *fy = cJSON_GetObjectItemCaseSensitive(y, sort_field);

	return strcmp(cJSON_IsString(fx) ? fx->valuestring : "",
	              cJSON_IsString(fy) ? fy->valuestring : "");
}

/*
 * Pages an array of JSON items (which it consumes): ordered by `order`
 * when given (a field name), direction asc|desc; an empty page past the end.
 */
static void
page_out(struct emu_resp *rs, const struct emu_req *rq, cJSON *all, long long page,
         long long per)
{
	const char *order = emu_query(rq, "order"), *dir = emu_query(rq, "direction");
	size_t n = (size_t)cJSON_GetArraySize(all), first = (size_t)(page - 1) * (size_t)per;
	cJSON **items = xcalloc(n + 1, sizeof(*items));
	cJSON *out = cJSON_CreateArray();
	int desc = dir && strcasecmp(dir, "desc") == 0;

	for (size_t i = 0; i < n; i++)
		items[i] = cJSON_GetArrayItem(all, (int)i);
	if (order)
		qsort_r(items, n, sizeof(*items), field_cmp, (void *)order);
	for (size_t k = first; k < n && k < first + (size_t)per; k++)
		cJSON_AddItemToArray(out, cJSON_Duplicate(items[desc ? n - 1 - k : k], 1));
	free(items);
	cJSON_Delete(all);
	emu_ok_info(rs, 200, out, page_info(page, per, (size_t)cJSON_GetArraySize(out), n));
}

/* GET …/secrets_store/quota: {secrets: {quota, usage}} over the account. */
static void
h_quota(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	cJSON *r = cJSON_CreateObject(), *s;

	(void)rq;
	s = cJSON_AddObjectToObject(r, "secrets");
	cJSON_AddNumberToObject(s, "quota", EMU_SS_SECRETS_MAX);
	cJSON_AddNumberToObject(s, "usage", (double)secrets_total(e));
	emu_ok(rs, r);
}

/* GET …/stores: page-paged, order name|created|modified. */
static void
h_stores_list(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	long long page, per;
	cJSON *all;
	const char *order = emu_query(rq, "order");

	if (paging(rq, &page, &per, rs))
		return;
	if (order && strcmp(order, "name") && strcmp(order, "created") && strcmp(order, "modified")) {
		emu_fail(rs, 400, SS_ERR_BAD_REQUEST, "invalid order '%s'", order);
		return;
	}
	all = cJSON_CreateArray();
	for (size_t i = 0; i < e->m.stores.n; i++)
		cJSON_AddItemToArray(all, store_json(e, e->m.stores.v[i]));
	page_out(rs, rq, all, page, per);
}

/* POST …/stores {name}: Cloudflare allows one store per account; a second
 * is refused with 400 code 1002. */
static void
h_store_create(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	cJSON *body = emu_body_json(rq);
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(body, "name");
	struct emu_sstore *s;

	if (!cJSON_IsString(name) || name->valuestring[0] == '\0' ||
	    strlen(name->valuestring) > SS_NAME_MAX) {
		emu_fail(rs, 400, SS_ERR_BAD_REQUEST, "request must carry a store name");
	} else if (e->m.stores.n >= EMU_SS_STORES_MAX) {
		emu_fail(rs, 400, SS_ERR_LIMIT,
		         "maximum number of stores exceeded (%d per account)", EMU_SS_STORES_MAX);
	} else {
		s = xcalloc(1, sizeof(*s));
		s->id = emu_new_id(rq);
		s->name = xstrdup(name->valuestring);
		s->created = emu_iso_time(rq->now);
		s->modified = emu_iso_time(rq->now);
		emu_vec_push(&e->m.stores, s);
		emu_ok(rs, store_json(e, s));
	}
	cJSON_Delete(body);
}

static struct emu_sstore *
store_of(struct emu *e, struct emu_req *rq, struct emu_resp *rs, size_t *idx)
{
	const char *id = emu_param(rq, "store_id");

	for (size_t i = 0; i < e->m.stores.n; i++) {
		struct emu_sstore *s = e->m.stores.v[i];

		if (strcmp(s->id, id) == 0) {
			if (idx)
				*idx = i;
			return s;
		}
	}
	emu_fail(rs, 404, SS_ERR_NOT_FOUND, "store not found");
	return NULL;
}

static void
h_store_get(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	struct emu_sstore *s = store_of(e, rq, rs, NULL);

	if (s)
		emu_ok(rs, store_json(e, s));
}

/* DELETE …/stores/{id}[?force=true]: a store holding secrets is refused
 * (409 store_not_empty) unless forced, which deletes them too (S3). */
static void
h_store_delete(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	size_t idx;
	struct emu_sstore *s = store_of(e, rq, rs, &idx);
	const char *force = emu_query(rq, "force");

	if (s == NULL)
		return;
	if (s->secrets.n > 0 && !(force && strcmp(force, "true") == 0)) {
		emu_fail(rs, 409, SS_ERR_NOT_EMPTY,
		         "store_not_empty: the store still holds secrets; use force=true");
		return;
	}
	emu_sstore_free(emu_vec_remove(&e->m.stores, idx));
	emu_ok(rs, NULL);
}

static int
has_scope(const struct emu_secret *s, const char *scope, size_t len)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, s->scopes)
		if (cJSON_IsString(it) && strlen(it->valuestring) == len &&
		    strncmp(it->valuestring, scope, len) == 0)
			return 1;
	return 0;
}

/* GET …/stores/{id}/secrets: page-paged, search (substring of the name),
 * scopes (comma list; each must be present), order name|comment|created|
 * modified|status. Values are never included. */
static void
h_secrets_list(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	struct emu_sstore *st = store_of(e, rq, rs, NULL);
	const char *search = emu_query(rq, "search"), *scopes = emu_query(rq, "scopes");
	long long page, per;
	cJSON *all;

	if (st == NULL || paging(rq, &page, &per, rs))
		return;
	all = cJSON_CreateArray();
	for (size_t i = 0; i < st->secrets.n; i++) {
		struct emu_secret *s = st->secrets.v[i];
		const char *p = scopes;
		int keep = !(search && *search && !strstr(s->name, search));

		while (keep && p && *p) {
			size_t len = strcspn(p, ",");

			keep = len == 0 || has_scope(s, p, len);
			p += len + (p[len] == ',');
		}
		if (keep)
			cJSON_AddItemToArray(all, secret_json(st, s));
	}
	page_out(rs, rq, all, page, per);
}

static struct emu_secret *
secret_by_name(const struct emu_sstore *st, const char *name)
{
	for (size_t i = 0; i < st->secrets.n; i++) {
		struct emu_secret *s = st->secrets.v[i];

		if (strcmp(s->name, name) == 0)
			return s;
	}
	return NULL;
}

static int
valid_scopes(const cJSON *scopes)
{
	const cJSON *it;

	if (!cJSON_IsArray(scopes) || cJSON_GetArraySize(scopes) == 0)
		return 0;
	cJSON_ArrayForEach(it, scopes)
		if (!cJSON_IsString(it) || it->valuestring[0] == '\0')
			return 0;
	return 1;
}

/*
 * POST …/stores/{id}/secrets: a JSON array of {name, value, scopes,
 * comment?}. All items are checked first (names unique in the store and
 * the request, value <= 64 KiB, the account quota), then all are created;
 * the result is the array of secrets without values, not paged.
 */
static void
h_secrets_create(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	struct emu_sstore *st = store_of(e, rq, rs, NULL);
	cJSON *body, *out;
	const cJSON *it, *it2;

	if (st == NULL)
		return;
	body = emu_body_json(rq);
	if (!cJSON_IsArray(body) || cJSON_GetArraySize(body) == 0) {
		emu_fail(rs, 400, SS_ERR_BAD_REQUEST, "request body must be a non-empty JSON array");
		goto out;
	}
	cJSON_ArrayForEach(it, body) {
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(it, "name");
		const cJSON *value = cJSON_GetObjectItemCaseSensitive(it, "value");
		const cJSON *comment = cJSON_GetObjectItemCaseSensitive(it, "comment");

		if (!cJSON_IsString(name) || name->valuestring[0] == '\0' ||
		    strlen(name->valuestring) > SS_NAME_MAX || !cJSON_IsString(value) ||
		    !valid_scopes(cJSON_GetObjectItemCaseSensitive(it, "scopes")) ||
		    (comment && !cJSON_IsString(comment))) {
			emu_fail(rs, 400, SS_ERR_BAD_REQUEST,
			         "each secret needs a name, a string value and non-empty scopes");
			goto out;
		}
		if (strlen(value->valuestring) > EMU_SS_VALUE_MAX) {
			emu_fail(rs, 400, SS_ERR_BAD_REQUEST, "secret value larger than %d bytes",
			         EMU_SS_VALUE_MAX);
			goto out;
		}
		for (it2 = it->next; it2; it2 = it2->next) {
			const cJSON *n2 = cJSON_GetObjectItemCaseSensitive(it2, "name");

			if (cJSON_IsString(n2) && strcmp(n2->valuestring, name->valuestring) == 0)
				break;
		}
		if (it2 || secret_by_name(st, name->valuestring)) {
			emu_fail(rs, 409, SS_ERR_NAME_TAKEN, "secret_name_already_exists: '%s'",
			         name->valuestring);
			goto out;
		}
	}
	if (secrets_total(e) + (size_t)cJSON_GetArraySize(body) > EMU_SS_SECRETS_MAX) {
		emu_fail(rs, 400, SS_ERR_LIMIT, "secrets quota of %d exceeded", EMU_SS_SECRETS_MAX);
		goto out;
	}
	out = cJSON_CreateArray();
	cJSON_ArrayForEach(it, body) {
		struct emu_secret *s = xcalloc(1, sizeof(*s));
		const cJSON *comment = cJSON_GetObjectItemCaseSensitive(it, "comment");

		s->id = emu_new_id(rq);
		s->name = xstrdup(cJSON_GetObjectItemCaseSensitive(it, "name")->valuestring);
		s->value = xstrdup(cJSON_GetObjectItemCaseSensitive(it, "value")->valuestring);
		s->comment = comment ? xstrdup(comment->valuestring) : NULL;
		s->scopes = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(it, "scopes"), 1);
		s->created = emu_iso_time(rq->now);
		s->modified = emu_iso_time(rq->now);
		emu_vec_push(&st->secrets, s);
		cJSON_AddItemToArray(out, secret_json(st, s));
	}
	emu_ok(rs, out);
out:
	cJSON_Delete(body);
}

/* DELETE …/stores/{id}/secrets {ids: [...]}: deletes those secrets; unknown
 * ids are ignored. HTTP 202 with a null result (S6). */
static void
h_secrets_bulk_delete(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	struct emu_sstore *st = store_of(e, rq, rs, NULL);
	cJSON *body;
	const cJSON *ids, *it;

	if (st == NULL)
		return;
	body = emu_body_json(rq);
	ids = cJSON_GetObjectItemCaseSensitive(body, "ids");
	if (!cJSON_IsArray(ids)) {
		emu_fail(rs, 400, SS_ERR_BAD_REQUEST, "request body must be {\"ids\": [...]}");
		cJSON_Delete(body);
		return;
	}
	cJSON_ArrayForEach(it, ids)
		for (size_t i = 0; cJSON_IsString(it) && i < st->secrets.n; i++)
			if (strcmp(((struct emu_secret *)st->secrets.v[i])->id, it->valuestring) == 0) {
				emu_secret_free(emu_vec_remove(&st->secrets, i));
				break;
			}
	cJSON_Delete(body);
	emu_ok_info(rs, 202, NULL, NULL);
}

static struct emu_secret *
secret_of(struct emu_sstore *st, struct emu_req *rq, struct emu_resp *rs, size_t *idx)
{
	const char *id = emu_param(rq, "secret_id");

	for (size_t i = 0; i < st->secrets.n; i++) {
		struct emu_secret *s = st->secrets.v[i];

		if (strcmp(s->id, id) == 0) {
			if (idx)
				*idx = i;
			return s;
		}
	}
	emu_fail(rs, 404, SS_ERR_NOT_FOUND, "secret not found");
	return NULL;
}

static void
h_secret_get(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	struct emu_sstore *st = store_of(e, rq, rs, NULL);
	struct emu_secret *s = st ? secret_of(st, rq, rs, NULL) : NULL;

	if (s)
		emu_ok(rs, secret_json(st, s));
}

/* PATCH …/secrets/{id} {value?, scopes?, comment?}: how a secret rotates. */
static void
h_secret_patch(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	struct emu_sstore *st = store_of(e, rq, rs, NULL);
	struct emu_secret *s = st ? secret_of(st, rq, rs, NULL) : NULL;
	cJSON *body;
	const cJSON *value, *scopes, *comment;

	if (s == NULL)
		return;
	body = emu_body_json(rq);
	value = cJSON_GetObjectItemCaseSensitive(body, "value");
	scopes = cJSON_GetObjectItemCaseSensitive(body, "scopes");
	comment = cJSON_GetObjectItemCaseSensitive(body, "comment");
	if (!cJSON_IsObject(body) || (value && !cJSON_IsString(value)) ||
	    (scopes && !valid_scopes(scopes)) || (comment && !cJSON_IsString(comment)) ||
	    (value && strlen(value->valuestring) > EMU_SS_VALUE_MAX)) {
		emu_fail(rs, 400, SS_ERR_BAD_REQUEST, "invalid secret update");
		cJSON_Delete(body);
		return;
	}
	if (value) {
		explicit_bzero(s->value, strlen(s->value));
		free(s->value);
		s->value = xstrdup(value->valuestring);
	}
	if (scopes) {
		cJSON_Delete(s->scopes);
		s->scopes = cJSON_Duplicate(scopes, 1);
	}
	if (comment) {
		free(s->comment);
		s->comment = xstrdup(comment->valuestring);
	}
	free(s->modified);
	s->modified = emu_iso_time(rq->now);
	cJSON_Delete(body);
	emu_ok(rs, secret_json(st, s));
}

/* DELETE …/secrets/{id}: HTTP 202, null result (S6). */
static void
h_secret_delete(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	size_t idx;
	struct emu_sstore *st = store_of(e, rq, rs, NULL);
	struct emu_secret *s = st ? secret_of(st, rq, rs, &idx) : NULL;

	if (s == NULL)
		return;
	emu_secret_free(emu_vec_remove(&st->secrets, idx));
	emu_ok_info(rs, 202, NULL, NULL);
}

/* POST …/secrets/{id}/duplicate {name, scopes, comment?}: a new secret with
 * the same value, copied server-side. */
static void
h_secret_duplicate(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	struct emu_sstore *st = store_of(e, rq, rs, NULL);
	struct emu_secret *s = st ? secret_of(st, rq, rs, NULL) : NULL, *d;
	cJSON *body;
	const cJSON *name, *scopes, *comment;

	if (s == NULL)
		return;
	body = emu_body_json(rq);
	name = cJSON_GetObjectItemCaseSensitive(body, "name");
	scopes = cJSON_GetObjectItemCaseSensitive(body, "scopes");
	comment = cJSON_GetObjectItemCaseSensitive(body, "comment");
	if (!cJSON_IsString(name) || name->valuestring[0] == '\0' || !valid_scopes(scopes) ||
	    (comment && !cJSON_IsString(comment))) {
		emu_fail(rs, 400, SS_ERR_BAD_REQUEST, "duplicate needs a name and scopes");
	} else if (secret_by_name(st, name->valuestring)) {
		emu_fail(rs, 409, SS_ERR_NAME_TAKEN, "secret_name_already_exists: '%s'",
		         name->valuestring);
	} else if (secrets_total(e) >= EMU_SS_SECRETS_MAX) {
		emu_fail(rs, 400, SS_ERR_LIMIT, "secrets quota of %d exceeded", EMU_SS_SECRETS_MAX);
	} else {
		d = xcalloc(1, sizeof(*d));
		d->id = emu_new_id(rq);
		d->name = xstrdup(name->valuestring);
		d->value = xstrdup(s->value);
		d->comment = comment ? xstrdup(comment->valuestring) : NULL;
		d->scopes = cJSON_Duplicate(scopes, 1);
		d->created = emu_iso_time(rq->now);
		d->modified = emu_iso_time(rq->now);
		emu_vec_push(&st->secrets, d);
		emu_ok(rs, secret_json(st, d));
	}
	cJSON_Delete(body);
}

/* ---- Worker scripts ---- */

static cJSON *
script_json(const struct emu_script *s)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "id", s->name);
	cJSON_AddStringToObject(o, "created_on", s->created);
	cJSON_AddStringToObject(o, "modified_on", s->modified);
	return o;
}

/* PUT …/workers/scripts/{name}: any body uploads (creates or replaces) the
 * script; the emulator keeps only the record, not the code. */
static void
h_script_put(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	const char *name = emu_param(rq, "script_name");
	struct emu_script *s = emu_script_find(&e->m, name);

	if (s == NULL) {
		s = xcalloc(1, sizeof(*s));
		s->name = xstrdup(name);
		s->created = emu_iso_time(rq->now);
		emu_vec_push(&e->m.scripts, s);
	}
	free(s->modified);
	s->modified = emu_iso_time(rq->now);
	emu_ok(rs, script_json(s));
}

static void
h_scripts_list(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	cJSON *arr = cJSON_CreateArray();

	(void)rq;
	for (size_t i = 0; i < e->m.scripts.n; i++)
		cJSON_AddItemToArray(arr, script_json(e->m.scripts.v[i]));
	emu_ok(rs, arr);
}

/* The path's script, or NULL after 404 code 10007 (S4: wrangler branches on
 * it to upload a draft Worker). */
static struct emu_script *
script_of(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	struct emu_script *s = emu_script_find(&e->m, emu_param(rq, "script_name"));

	if (s == NULL)
		emu_fail(rs, 404, WK_ERR_NO_SCRIPT, "workers.api.error.script_not_found");
	return s;
}

/* DELETE …/workers/scripts/{name}: the script and its secrets. */
static void
h_script_delete(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	struct emu_script *s = script_of(e, rq, rs);
	struct emu_model one;

	if (s == NULL)
		return;
	for (size_t i = 0; i < e->m.scripts.n; i++)
		if (e->m.scripts.v[i] == s) {
			emu_vec_remove(&e->m.scripts, i);
			break;
		}
	memset(&one, 0, sizeof(one)); /* freed through the model's destructor */
	emu_vec_push(&one.scripts, s);
	emu_model_release(&one);
	emu_ok(rs, NULL);
}

static cJSON *
binding_json(const struct emu_wsecret *w)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "name", w->name);
	cJSON_AddStringToObject(o, "type", w->type);
	return o;
}

static size_t
wsecret_idx(const struct emu_script *s, const char *name)
{
	for (size_t i = 0; i < s->secrets.n; i++)
		if (strcmp(((struct emu_wsecret *)s->secrets.v[i])->name, name) == 0)
			return i;
	return (size_t)-1;
}

/*
 * PUT …/scripts/{name}/secrets {name, type, text}: creates or replaces one
 * binding; type secret_text (text required) or secret_key. The result is
 * the binding without its value.
 */
static void
h_wsecret_put(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	struct emu_script *s = script_of(e, rq, rs);
	cJSON *body;
	const cJSON *name, *type, *text;
	struct emu_wsecret *w;
	size_t i;

	if (s == NULL)
		return;
	body = emu_body_json(rq);
	name = cJSON_GetObjectItemCaseSensitive(body, "name");
	type = cJSON_GetObjectItemCaseSensitive(body, "type");
	text = cJSON_GetObjectItemCaseSensitive(body, "text");
	if (!cJSON_IsString(name) || name->valuestring[0] == '\0' ||
	    (type && !cJSON_IsString(type)) ||
	    (type && strcmp(type->valuestring, "secret_text") != 0 &&
	     strcmp(type->valuestring, "secret_key") != 0) ||
	    ((!type || strcmp(type->valuestring, "secret_text") == 0) && !cJSON_IsString(text))) {
		emu_fail(rs, 400, 10021, "a secret needs a name, a type and its text");
		cJSON_Delete(body);
		return;
	}
	i = wsecret_idx(s, name->valuestring);
	if (i == (size_t)-1) {
		w = xcalloc(1, sizeof(*w));
		w->name = xstrdup(name->valuestring);
		emu_vec_push(&s->secrets, w);
	} else {
		w = s->secrets.v[i];
		free(w->type);
		if (w->text)
			explicit_bzero(w->text, strlen(w->text));
		free(w->text);
	}
	w->type = xstrdup(type ? type->valuestring : "secret_text");
	w->text = cJSON_IsString(text) ? xstrdup(text->valuestring) : NULL;
	free(s->modified);
	s->modified = emu_iso_time(rq->now);
	cJSON_Delete(body);
	emu_ok(rs, binding_json(w));
}

/* GET …/scripts/{name}/secrets: every binding, no values, one page. */
static void
h_wsecret_list(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	struct emu_script *s = script_of(e, rq, rs);
	cJSON *arr;

	if (s == NULL)
		return;
	arr = cJSON_CreateArray();
	for (size_t i = 0; i < s->secrets.n; i++)
		cJSON_AddItemToArray(arr, binding_json(s->secrets.v[i]));
	emu_ok(rs, arr);
}

static void
h_wsecret_get(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	struct emu_script *s = script_of(e, rq, rs);
	size_t i;

	if (s == NULL)
		return;
	i = wsecret_idx(s, emu_param(rq, "secret_name"));
	if (i == (size_t)-1)
		emu_fail(rs, 404, WK_ERR_NO_SECRET, "secret not found");
	else
		emu_ok(rs, binding_json(s->secrets.v[i]));
}

static void
h_wsecret_delete(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	struct emu_script *s = script_of(e, rq, rs);
	struct emu_wsecret *w;
	size_t i;

	if (s == NULL)
		return;
	i = wsecret_idx(s, emu_param(rq, "secret_name"));
	if (i == (size_t)-1) {
		emu_fail(rs, 404, WK_ERR_NO_SECRET, "secret not found");
		return;
	}
	w = emu_vec_remove(&s->secrets, i);
	if (w->text)
		explicit_bzero(w->text, strlen(w->text));
	free(w->name);
	free(w->type);
	free(w->text);
	free(w);
	emu_ok(rs, NULL);
}

#define S "/accounts/{account_id}/secrets_store"
#define W "/accounts/{account_id}/workers/scripts"
const struct emu_route emu_secrets_routes[] = {
	{ "GET", S "/quota", h_quota, 0 },
	{ "GET", S "/stores", h_stores_list, 0 },
	{ "POST", S "/stores", h_store_create, 0 },
	{ "GET", S "/stores/{store_id}", h_store_get, 0 },
	{ "DELETE", S "/stores/{store_id}", h_store_delete, 0 },
	{ "GET", S "/stores/{store_id}/secrets", h_secrets_list, 0 },
	{ "POST", S "/stores/{store_id}/secrets", h_secrets_create, 0 },
	{ "DELETE", S "/stores/{store_id}/secrets", h_secrets_bulk_delete, 0 },
	{ "GET", S "/stores/{store_id}/secrets/{secret_id}", h_secret_get, 0 },
	{ "PATCH", S "/stores/{store_id}/secrets/{secret_id}", h_secret_patch, 0 },
	{ "DELETE", S "/stores/{store_id}/secrets/{secret_id}", h_secret_delete, 0 },
	{ "POST", S "/stores/{store_id}/secrets/{secret_id}/duplicate", h_secret_duplicate, 0 },
	{ "GET", W, h_scripts_list, 0 },
	{ "PUT", W "/{script_name}", h_script_put, 0 },
	{ "DELETE", W "/{script_name}", h_script_delete, 0 },
	{ "GET", W "/{script_name}/secrets", h_wsecret_list, 0 },
	{ "PUT", W "/{script_name}/secrets", h_wsecret_put, 0 },
	{ "GET", W "/{script_name}/secrets/{secret_name}", h_wsecret_get, 0 },
	{ "DELETE", W "/{script_name}/secrets/{secret_name}", h_wsecret_delete, 0 },
};
#undef S
#undef W
const size_t emu_secrets_nroutes = sizeof(emu_secrets_routes) / sizeof(emu_secrets_routes[0]);
