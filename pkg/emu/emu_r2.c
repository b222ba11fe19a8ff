/*
 * emu_r2.c: R2 bucket management as Cloudflare serves it under
 * /accounts/{account_id}/r2/buckets (REFERENCE.md section 3): buckets per
 * jurisdiction (cf-r2-jurisdiction header), cursor-paged listing, storage
 * class change by header, whole-set lifecycle and CORS rules, and the object
 * keys seeded by tests so that non-empty deletes and lifecycle expiry show.
 *
 * Codes not published by Cloudflare and chosen here: an invalid argument
 * (jurisdiction, location hint, storage class, rule shape) or malformed JSON
 * is HTTP 400 code 10040, the code Cloudflare uses for a malformed body.
 */
#include "emu_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../mem/mem.h"

#define R2_ERR_EXISTS 10004      /* 409: bucket exists and you own it */
#define R2_ERR_NAME 10005        /* 400: invalid bucket name */
#define R2_ERR_NO_BUCKET 10006   /* 404: no such bucket */
#define R2_ERR_NOT_EMPTY 10008   /* 409: delete of a non-empty bucket */
#define R2_ERR_BAD_REQUEST 10040 /* 400: malformed body or argument */
#define R2_ERR_NO_CORS 10059     /* 404: the bucket has no CORS policy */
#define R2_CORS_MAX_AGE 86400    /* maxAgeSeconds upper bound (S5 cors.mdx) */

static const char *const locations[] = { "apac", "eeur", "enam", "weur", "wnam", "oc" };

/* The jurisdiction a call addresses: the header, "default" when absent;
 * NULL when it is not one Cloudflare knows. */
static const char *
jurisdiction(const struct emu_req *rq)
{
	const char *j = emu_header(rq, "cf-r2-jurisdiction");

	if (j == NULL || *j == '\0' || strcmp(j, "default") == 0)
		return "default";
	if (strcmp(j, "eu") == 0)
		return "eu";
	if (strcmp(j, "fedramp") == 0)
		return "fedramp";
	return NULL;
}

/* Cloudflare's bucket name rule: 3-63 of [a-z0-9-], alnum at both ends. */
static int
valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n < EMU_R2_NAME_MIN || n > EMU_R2_NAME_MAX || s[0] == '-' || s[n - 1] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	return 1;
}

static int
valid_class(const char *s)
{
	return strcmp(s, "Standard") == 0 || strcmp(s, "InfrequentAccess") == 0;
}

static cJSON *
bucket_json(const struct emu_bucket *b)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "name", b->name);
	cJSON_AddStringToObject(o, "creation_date", b->creation_date);
	cJSON_AddStringToObject(o, "location", b->location);
	cJSON_AddStringToObject(o, "jurisdiction", b->jurisdiction);
	cJSON_AddStringToObject(o, "storage_class", b->storage_class);
	return o;
}

/* R2 success results are objects: an "untyped" result is {} (S1 r2_v4_response). */
static void
ok_empty(struct emu_resp *rs)
{
	emu_ok(rs, cJSON_CreateObject());
}

/* Looks the path's bucket up in the call's jurisdiction; answers 404 10006
 * (or 400 for an unknown jurisdiction) and returns NULL when absent. */
static struct emu_bucket *
bucket_of(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	const char *j = jurisdiction(rq);
	struct emu_bucket *b;

	if (j == NULL) {
		emu_fail(rs, 400, R2_ERR_BAD_REQUEST, "invalid jurisdiction");
		return NULL;
	}
	b = emu_bucket_find(&e->m, j, emu_param(rq, "bucket_name"));
	if (b == NULL)
		emu_fail(rs, 404, R2_ERR_NO_BUCKET, "The specified bucket does not exist.");
	return b;
}

static long long
parse_rfc3339_day(const char *s)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (strptime(s, "%Y-%m-%d", &tm) == NULL)
		return -1;
	return (long long)timegm(&tm);
}

/*
 * Whether a seeded object still exists at `now`: an enabled lifecycle rule
 * whose prefix matches and whose deleteObjectsTransition condition (Age in
 * seconds since upload, or a Date) has passed has removed it. Cloudflare
 * applies rules within 24 hours; the emulator applies them at once.
 */
static int
object_live(const struct emu_bucket *b, const struct emu_object *o, long long now)
{
	const cJSON *r;

	cJSON_ArrayForEach(r, b->lifecycle) {
		const cJSON *cond = cJSON_GetObjectItemCaseSensitive(r, "conditions");
		const cJSON *pfx = cJSON_GetObjectItemCaseSensitive(cond, "prefix");
		const cJSON *del = cJSON_GetObjectItemCaseSensitive(r, "deleteObjectsTransition");
		const cJSON *c = cJSON_GetObjectItemCaseSensitive(del, "condition");
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(c, "type");

		if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "enabled")) ||
		    !cJSON_IsString(type))
			continue;
		if (cJSON_IsString(pfx) &&
		    strncmp(o->key, pfx->valuestring, strlen(pfx->valuestring)) != 0)
			continue;
		if (strcmp(type->valuestring, "Age") == 0) {
			const cJSON *age = cJSON_GetObjectItemCaseSensitive(c, "maxAge");

			long long secs;

			/* bounded: uploaded (<= EMU_CLOCK_MAX) plus 2^53 cannot overflow */
			if (emu_json_ll(age, 0, EMU_JSON_INT_MAX, &secs) == 0 &&
			    o->uploaded + secs <= now)
				return 0;
		} else if (strcmp(type->valuestring, "Date") == 0) {
			const cJSON *d = cJSON_GetObjectItemCaseSensitive(c, "date");
			long long t = cJSON_IsString(d) ? parse_rfc3339_day(d->valuestring) : -1;

			if (t >= 0 && t <= now)
				return 0;
		}
	}
	return 1;
}

static size_t
live_objects(const struct emu_bucket *b, long long now)
{
	size_t n = 0;

	for (size_t i = 0; i < b->objects.n; i++)
		n += (size_t)object_live(b, b->objects.v[i], now);
	return n;
}

static int
by_name(const void *a, const void *b)
{
	const struct emu_bucket *x = *(const struct emu_bucket *const *)a;
	const struct emu_bucket *y = *(const struct emu_bucket *const *)b;

	return strcmp(x->name, y->name);
}

/*
 * GET …/r2/buckets: the buckets of the call's jurisdiction, ordered by name
 * (direction asc|desc), filtered by name_contains and start_after, paged by
 * cursor and per_page (default 20). result is {buckets: [...]}, result_info
 * {cursor, per_page}; cursor is absent on the last page (S3, S4).
 */
static void
h_list(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	const char *j = jurisdiction(rq), *contains = emu_query(rq, "name_contains");
	const char *after = emu_query(rq, "start_after"), *cur = emu_query(rq, "cursor");
	const char *dir = emu_query(rq, "direction"), *order = emu_query(rq, "order");
	long long per = EMU_R2_PER_PAGE_DEFAULT;
	int desc = dir && strcasecmp(dir, "desc") == 0;
	struct emu_bucket **sel;
	size_t n = 0, out = 0;
	char *from = NULL;
	cJSON *res, *arr, *info;

	if (j == NULL) {
		emu_fail(rs, 400, R2_ERR_BAD_REQUEST, "invalid jurisdiction");
		return;
	}
	if ((dir && strcasecmp(dir, "asc") != 0 && !desc) ||
	    (order && strcmp(order, "name") != 0)) {
		emu_fail(rs, 400, R2_ERR_BAD_REQUEST, "invalid order or direction");
		return;
	}
	if (emu_query(rq, "per_page") &&
	    (emu_parse_ll(emu_query(rq, "per_page"), &per) || per < 1 || per > EMU_PER_PAGE_MAX)) {
		emu_fail(rs, 400, R2_ERR_BAD_REQUEST, "per_page must be 1..%d", EMU_PER_PAGE_MAX);
		return;
	}
	if (cur && *cur && (from = emu_cursor_read(cur)) == NULL) {
		emu_fail(rs, 400, R2_ERR_BAD_REQUEST, "invalid cursor");
		return;
	}
	sel = xcalloc(e->m.buckets.n + 1, sizeof(*sel));
	for (size_t i = 0; i < e->m.buckets.n; i++) {
		struct emu_bucket *b = e->m.buckets.v[i];

		if (strcmp(b->jurisdiction, j) != 0)
			continue;
		if (contains && !strstr(b->name, contains))
			continue;
		if (after && *after && strcmp(b->name, after) <= 0)
			continue;
		sel[n++] = b;
	}
	qsort(sel, n, sizeof(*sel), by_name);
	res = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(res, "buckets");
	info = cJSON_CreateObject();
	for (size_t k = 0; k < n; k++) {
		struct emu_bucket *b = sel[desc ? n - 1 - k : k];
		int c = from ? strcmp(b->name, from) : 1;

		if (from && (desc ? c >= 0 : c <= 0))
			continue;
		if (out == (size_t)per) {
			struct emu_bucket *last = sel[desc ? n - k : k - 1];
			char *next = emu_cursor_make(last->name);

			cJSON_AddStringToObject(info, "cursor", next);
			free(next);
			break;
		}
		cJSON_AddItemToArray(arr, bucket_json(b));
		out++;
	}
	cJSON_AddNumberToObject(info, "per_page", (double)per);
	free(sel);
	free(from);
	emu_ok_info(rs, 200, res, info);
}

static cJSON *
default_lifecycle(void)
{
	return cJSON_Parse("[{\"id\":\"Default Multipart Abort Rule\",\"enabled\":true,"
	                   "\"conditions\":{},\"abortMultipartUploadsTransition\":"
	                   "{\"condition\":{\"type\":\"Age\",\"maxAge\":604800}}}]");
}

/*
 * POST …/r2/buckets {name, locationHint?, storageClass?}: creates a bucket in
 * the header's jurisdiction. The same name may exist once per jurisdiction
 * (409 10004 otherwise). A location hint is honoured only the first time a
 * name is created; a re-created name keeps its old location (S5
 * data-location). The bucket starts with Cloudflare's default 7-day
 * multipart-abort lifecycle rule.
 */
static void
h_create(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	const char *j = jurisdiction(rq), *hint_s = NULL, *cls_s = "Standard";
	cJSON *body = emu_body_json(rq);
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(body, "name");
	const cJSON *hint = cJSON_GetObjectItemCaseSensitive(body, "locationHint");
	const cJSON *cls = cJSON_GetObjectItemCaseSensitive(body, "storageClass");
	struct emu_bucket *b;
	char loc[16];

	if (j == NULL) {
		emu_fail(rs, 400, R2_ERR_BAD_REQUEST, "invalid jurisdiction");
		goto out;
	}
	if (!cJSON_IsObject(body)) {
		emu_fail(rs, 400, R2_ERR_BAD_REQUEST, "The JSON you provided was not well formed.");
		goto out;
	}
	if (!cJSON_IsString(name) || !valid_name(name->valuestring)) {
		emu_fail(rs, 400, R2_ERR_NAME, "The specified bucket name is not valid.");
		goto out;
	}
	if (hint && !cJSON_IsNull(hint)) {
		size_t i;

		for (i = 0; cJSON_IsString(hint) && i < sizeof(locations) / sizeof(*locations); i++)
			if (strcasecmp(hint->valuestring, locations[i]) == 0)
				break;
		if (!cJSON_IsString(hint) || i == sizeof(locations) / sizeof(*locations)) {
			emu_fail(rs, 400, R2_ERR_BAD_REQUEST, "invalid locationHint");
			goto out;
		}
		hint_s = locations[i];
	}
	if (cls && !cJSON_IsNull(cls)) {
		if (!cJSON_IsString(cls) || !valid_class(cls->valuestring)) {
			emu_fail(rs, 400, R2_ERR_BAD_REQUEST, "invalid storageClass");
			goto out;
		}
		cls_s = cls->valuestring;
	}
	if (emu_bucket_find(&e->m, j, name->valuestring)) {
		emu_fail(rs, 409, R2_ERR_EXISTS,
		         "The bucket you tried to create already exists, and you own it.");
		goto out;
	}
	snprintf(loc, sizeof(loc), "%s", hint_s ? hint_s : strcmp(j, "eu") == 0 ? "weur" : "enam");
	for (char *c = loc; *c; c++)
		if (*c >= 'a' && *c <= 'z')
			*c = (char)(*c - 'a' + 'A');
	b = xcalloc(1, sizeof(*b));
	b->name = xstrdup(name->valuestring);
	b->jurisdiction = xstrdup(j);
	b->location = xstrdup(loc);
	for (size_t i = 0; i < e->m.tombs.n; i++) {
		struct emu_tomb *t = e->m.tombs.v[i];

		if (strcmp(t->name, b->name) == 0 && strcmp(t->jurisdiction, j) == 0) {
			free(b->location);
			b->location = xstrdup(t->location);
		}
	}
	b->storage_class = xstrdup(cls_s);
	b->creation_date = emu_iso_time(rq->now);
	b->lifecycle = default_lifecycle();
	emu_vec_push(&e->m.buckets, b);
	emu_ok(rs, bucket_json(b));
out:
	cJSON_Delete(body);
}

/* GET …/r2/buckets/{bucket_name}: the bucket, or 404 10006. */
static void
h_get(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	struct emu_bucket *b = bucket_of(e, rq, rs);

	if (b)
		emu_ok(rs, bucket_json(b));
}

/* PATCH …/r2/buckets/{bucket_name}: no body; the new default storage class
 * comes in the cf-r2-storage-class header (REFERENCE.md pitfall 7). */
static void
h_patch(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	struct emu_bucket *b = bucket_of(e, rq, rs);
	const char *cls = emu_header(rq, "cf-r2-storage-class");

	if (b == NULL)
		return;
	if (cls == NULL || !valid_class(cls)) {
		emu_fail(rs, 400, R2_ERR_BAD_REQUEST,
		         "header cf-r2-storage-class must be Standard or InfrequentAccess");
		return;
	}
	free(b->storage_class);
	b->storage_class = xstrdup(cls);
	emu_ok(rs, bucket_json(b));
}

/* DELETE …/r2/buckets/{bucket_name}: refused with 409 10008 while any object
 * is left; remembers where the name was placed (sticky location). */
static void
h_delete(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	struct emu_bucket *b = bucket_of(e, rq, rs);
	struct emu_tomb *t;
	int have = 0;

	if (b == NULL)
		return;
	if (live_objects(b, rq->now) > 0) {
		emu_fail(rs, 409, R2_ERR_NOT_EMPTY, "The bucket you tried to delete is not empty.");
		return;
	}
	for (size_t i = 0; i < e->m.tombs.n; i++) {
		t = e->m.tombs.v[i];
		have |= strcmp(t->name, b->name) == 0 && strcmp(t->jurisdiction, b->jurisdiction) == 0;
	}
	if (!have) {
		t = xcalloc(1, sizeof(*t));
		t->name = xstrdup(b->name);
		t->jurisdiction = xstrdup(b->jurisdiction);
		t->location = xstrdup(b->location);
		emu_vec_push(&e->m.tombs, t);
	}
	for (size_t i = 0; i < e->m.buckets.n; i++)
		if (e->m.buckets.v[i] == b) {
			emu_vec_remove(&e->m.buckets, i);
			break;
		}
	emu_bucket_free(b);
	ok_empty(rs);
}

/* GET …/lifecycle: {rules: [...]} as last PUT (or the default rule). */
static void
h_lc_get(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	struct emu_bucket *b = bucket_of(e, rq, rs);
	cJSON *res;

	if (b == NULL)
		return;
	res = cJSON_CreateObject();
	cJSON_AddItemToObject(res, "rules", cJSON_Duplicate(b->lifecycle, 1));
	emu_ok(rs, res);
}

/* The body's {rules: [...]} array, or NULL after answering 400. */
static cJSON *
rules_of(cJSON *body, struct emu_resp *rs)
{
	cJSON *rules = cJSON_GetObjectItemCaseSensitive(body, "rules");

	if (!cJSON_IsObject(body) || (rules && !cJSON_IsArray(rules))) {
		emu_fail(rs, 400, R2_ERR_BAD_REQUEST, "The JSON you provided was not well formed.");
		return NULL;
	}
	if (cJSON_GetArraySize(rules) > EMU_R2_RULES_MAX) {
		emu_fail(rs, 400, R2_ERR_BAD_REQUEST, "at most %d rules", EMU_R2_RULES_MAX);
		return NULL;
	}
	return rules;
}

/*
 * PUT …/lifecycle {rules}: replaces the whole rule set (wrangler reads,
 * edits and PUTs all of it). Each rule needs a unique string id, a boolean
 * enabled and an object conditions; at most 1000 rules.
 */
static void
h_lc_put(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	struct emu_bucket *b = bucket_of(e, rq, rs);
	cJSON *body, *rules;
	const cJSON *r, *r2;

	if (b == NULL)
		return;
	body = emu_body_json(rq);
	if ((rules = rules_of(body, rs)) == NULL && rs->status) {
		cJSON_Delete(body);
		return;
	}
	cJSON_ArrayForEach(r, rules) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(r, "id");
		const cJSON *cond = cJSON_GetObjectItemCaseSensitive(r, "conditions");

		if (!cJSON_IsString(id) || !cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(r, "enabled")) ||
		    (cond && !cJSON_IsObject(cond))) {
			emu_fail(rs, 400, R2_ERR_BAD_REQUEST,
			         "each rule needs a string id, a boolean enabled and object conditions");
			cJSON_Delete(body);
			return;
		}
		for (r2 = r->next; r2; r2 = r2->next) {
			const cJSON *id2 = cJSON_GetObjectItemCaseSensitive(r2, "id");

			if (cJSON_IsString(id2) && strcmp(id2->valuestring, id->valuestring) == 0) {
				emu_fail(rs, 400, R2_ERR_BAD_REQUEST, "duplicate rule id '%s'", id->valuestring);
				cJSON_Delete(body);
				return;
			}
		}
	}
	cJSON_Delete(b->lifecycle);
	b->lifecycle = rules ? cJSON_DetachItemViaPointer(body, rules) : cJSON_CreateArray();
	cJSON_Delete(body);
	ok_empty(rs);
}

/* GET …/cors: {rules} or, with no policy, 404 10059 (REFERENCE.md 3.2). */
static void
h_cors_get(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	struct emu_bucket *b = bucket_of(e, rq, rs);
	cJSON *res;

	if (b == NULL)
		return;
	if (b->cors == NULL) {
		emu_fail(rs, 404, R2_ERR_NO_CORS, "The CORS configuration does not exist.");
		return;
	}
	res = cJSON_CreateObject();
	cJSON_AddItemToObject(res, "rules", cJSON_Duplicate(b->cors, 1));
	emu_ok(rs, res);
}

static int
valid_cors_rule(const cJSON *r)
{
	static const char *const methods[] = { "GET", "PUT", "POST", "DELETE", "HEAD" };
	const cJSON *allowed = cJSON_GetObjectItemCaseSensitive(r, "allowed");
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(allowed, "methods");
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(allowed, "origins");
	const cJSON *age = cJSON_GetObjectItemCaseSensitive(r, "maxAgeSeconds");
	const cJSON *it;

	if (!cJSON_IsArray(m) || !cJSON_IsArray(o))
		return 0;
	cJSON_ArrayForEach(it, m) {
		size_t i;

		for (i = 0; cJSON_IsString(it) && i < 5; i++)
			if (strcmp(it->valuestring, methods[i]) == 0)
				break;
		if (!cJSON_IsString(it) || i == 5)
			return 0;
	}
	cJSON_ArrayForEach(it, o)
		if (!cJSON_IsString(it))
			return 0;
	if (age && (!cJSON_IsNumber(age) || age->valuedouble < 0 || age->valuedouble > R2_CORS_MAX_AGE))
		return 0;
	return 1;
}

/* PUT …/cors {rules}: replaces the policy. Each rule needs allowed.methods
 * (GET|PUT|POST|DELETE|HEAD) and allowed.origins; maxAgeSeconds <= 86400. */
static void
h_cors_put(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	struct emu_bucket *b = bucket_of(e, rq, rs);
	cJSON *body, *rules;
	const cJSON *r;

	if (b == NULL)
		return;
	body = emu_body_json(rq);
	if ((rules = rules_of(body, rs)) == NULL && rs->status) {
		cJSON_Delete(body);
		return;
	}
	cJSON_ArrayForEach(r, rules)
		if (!valid_cors_rule(r)) {
			emu_fail(rs, 400, R2_ERR_BAD_REQUEST,
			         "each CORS rule needs allowed.methods and allowed.origins");
			cJSON_Delete(body);
			return;
		}
	cJSON_Delete(b->cors);
	b->cors = rules ? cJSON_DetachItemViaPointer(body, rules) : cJSON_CreateArray();
	cJSON_Delete(body);
	ok_empty(rs);
}

/* DELETE …/cors: removes the policy (success even if there was none). */
static void
h_cors_delete(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	struct emu_bucket *b = bucket_of(e, rq, rs);

	if (b == NULL)
		return;
	cJSON_Delete(b->cors);
	b->cors = NULL;
	ok_empty(rs);
}

/*
 * GET …/objects: the live seeded objects, by key, filtered by prefix and
 * paged by cursor/per_page (result is an array, REFERENCE.md 3.5).
 */
static void
h_objects(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	struct emu_bucket *b = bucket_of(e, rq, rs);
	const char *prefix = emu_query(rq, "prefix"), *cur = emu_query(rq, "cursor");
	long long per = EMU_PER_PAGE_MAX;
	char *from = NULL;
	cJSON *arr, *info;
	size_t out = 0;

	if (b == NULL)
		return;
	if (emu_query(rq, "per_page") &&
	    (emu_parse_ll(emu_query(rq, "per_page"), &per) || per < 1 || per > EMU_PER_PAGE_MAX)) {
		emu_fail(rs, 400, R2_ERR_BAD_REQUEST, "per_page must be 1..%d", EMU_PER_PAGE_MAX);
		return;
	}
	if (cur && *cur && (from = emu_cursor_read(cur)) == NULL) {
		emu_fail(rs, 400, R2_ERR_BAD_REQUEST, "invalid cursor");
		return;
	}
	arr = cJSON_CreateArray();
	info = cJSON_CreateObject();
	for (size_t i = 0; i < b->objects.n; i++) { /* objects are kept sorted */
		struct emu_object *o = b->objects.v[i];
		cJSON *it;
		char *t;

		if ((from && strcmp(o->key, from) <= 0) || !object_live(b, o, rq->now) ||
		    (prefix && strncmp(o->key, prefix, strlen(prefix)) != 0))
			continue;
		if (out == (size_t)per) {
			char *next = emu_cursor_make(((struct emu_object *)b->objects.v[i - 1])->key);

			cJSON_AddStringToObject(info, "cursor", next);
			free(next);
			break;
		}
		it = cJSON_CreateObject();
		cJSON_AddStringToObject(it, "key", o->key);
		cJSON_AddNumberToObject(it, "size", (double)o->size);
		t = emu_iso_time(o->uploaded);
		cJSON_AddStringToObject(it, "last_modified", t);
		free(t);
		cJSON_AddStringToObject(it, "storage_class", b->storage_class);
		cJSON_AddItemToArray(arr, it);
		out++;
	}
	cJSON_AddNumberToObject(info, "per_page", (double)per);
	free(from);
	emu_ok_info(rs, 200, arr, info);
}

#define B "/accounts/{account_id}/r2/buckets"
const struct emu_route emu_r2_routes[] = {
	{ "GET", B, h_list, 0 },
	{ "POST", B, h_create, 0 },
	{ "GET", B "/{bucket_name}", h_get, 0 },
	{ "PATCH", B "/{bucket_name}", h_patch, 0 },
	{ "DELETE", B "/{bucket_name}", h_delete, 0 },
	{ "GET", B "/{bucket_name}/lifecycle", h_lc_get, 0 },
	{ "PUT", B "/{bucket_name}/lifecycle", h_lc_put, 0 },
	{ "GET", B "/{bucket_name}/cors", h_cors_get, 0 },
	{ "PUT", B "/{bucket_name}/cors", h_cors_put, 0 },
	{ "DELETE", B "/{bucket_name}/cors", h_cors_delete, 0 },
	{ "GET", B "/{bucket_name}/objects", h_objects, 0 },
};
#undef B
const size_t emu_r2_nroutes = sizeof(emu_r2_routes) / sizeof(emu_r2_routes[0]);
