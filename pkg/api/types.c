/*
 * Typed Cloudflare operations and their JSON: list walkers, lifecycle and
 * CORS bodies, and parsers from Cloudflare's shapes (REFERENCE §3, §4) into
 * our structs. cJSON trees never leave this file.
 */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../timefmt/timefmt.h"
#include "api.h"

/* The response as JSON; NULL when empty, malformed, too many values or
 * holding "\u0000", which cJSON would decode into a NUL that cuts a name
 * short (see api_json_parse). */
static cJSON *
parse_body(const struct api_call *c)
{
	char why[160];

	return api_json_parse(c, why, sizeof(why));
}

static const char *
jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static char *
jdup(const cJSON *o, const char *k)
{
	const char *s = jstr(o, k);

	return s ? xstrdup(s) : NULL;
}

/* A string member that is a valid server id (api_id_ok), else NULL. */
static const char *
jid(const cJSON *o, const char *k)
{
	const char *s = jstr(o, k);

	return api_id_ok(s) ? s : NULL;
}

/* A string member that is a valid server name (api_name_ok), else NULL. */
static const char *
jname(const cJSON *o, const char *k)
{
	const char *s = jstr(o, k);

	return api_name_ok(s) ? s : NULL;
}

/*
 * A JSON number within [0, max] (fractions truncated) into *out. -1 when v
 * is not a number or lies outside, infinities and NaN included: converting
 * such a double to an integer is undefined, and an answer that sends one is
 * malformed.
 */
static int
jint(const cJSON *v, int64_t max, int64_t *out)
{
	if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= (double)max))
		return -1;
	*out = (int64_t)v->valuedouble;
	return 0;
}

/* Room for one more element in *v (n used, *cap allocated): doubling, so a
 * listing of a million items is not a million reallocations. */
static void
grow(void **v, size_t n, size_t *cap, size_t size)
{
	if (n < *cap)
		return;
	*cap = *cap ? *cap * 2 : 64;
	*v = xrealloc(*v, *cap * size);
}

void
obs_bucket_release(struct obs_bucket *b)
{
	free(b->name);
	free(b->jurisdiction);
	free(b->location);
	free(b->storage_class);
	free(b->creation_date);
	lc_rules_free(b->rules, b->nrules);
	cors_rules_free(b->cors, b->ncors);
	memset(b, 0, sizeof(*b));
}

static void
keys_free(struct obs_key *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].meta_json);
	}
	free(v);
}

void
obs_kv_release(struct obs_kv *k)
{
	free(k->id);
	free(k->title);
	keys_free(k->keys, k->nkeys);
	memset(k, 0, sizeof(*k));
}

/*
 * The keys of one KV key page (the result array) that have a valid name,
 * appended to k->keys (*cap allocated) with their metadata, cfstorage's
 * content hash (metadata "cfs:h") and expiration. -1 when an expiration is
 * not a time (negative, or beyond API_JSON_INT_MAX): the page is malformed.
 */
static int
key_items(const cJSON *res, struct obs_kv *k, size_t *cap)
{
	const cJSON *it;
	int bad = 0;

	cJSON_ArrayForEach(it, res) {
		const cJSON *md = cJSON_GetObjectItemCaseSensitive(it, "metadata");
		const cJSON *ex = cJSON_GetObjectItemCaseSensitive(it, "expiration");
		struct obs_key *x;

		if (!jname(it, "name"))
			continue;
		grow((void **)&k->keys, k->nkeys, cap, sizeof(*k->keys));
		x = &k->keys[k->nkeys++];
		memset(x, 0, sizeof(*x));
		x->name = jdup(it, "name");
		if (cJSON_IsObject(md)) {
			const char *h = jstr(md, KV_RESERVED_META_KEY);

			x->meta_json = cJSON_PrintUnformatted(md);
			if (h)
				snprintf(x->hash, sizeof(x->hash), "%s", h);
		}
		if (cJSON_IsNumber(ex) && jint(ex, API_JSON_INT_MAX, &x->expiration) != 0)
			bad = 1;
	}
	return bad ? -1 : 0;
}

int
api_parse_kv_keys_page(const struct api_call *c, struct obs_kv *k, size_t *cap, char **next)
{
	cJSON *root, *info;
	const cJSON *res = api_page_items(c, &root);
	int count;

	*next = NULL;
	if (res == NULL) {
		cJSON_Delete(root);
		return -1;
	}
	count = cJSON_GetArraySize(res);
	if (key_items(res, k, cap) != 0)
		count = -1;
	info = cJSON_GetObjectItemCaseSensitive(root, "result_info");
	if (count >= 0)
		*next = jdup(info, "cursor");
	cJSON_Delete(root);
	return count;
}

/* A KV keys page's request: the namespace's escaped id is arg. */
static struct api_call *
keys_page_call(const char *cursor, const void *arg)
{
	struct api_call *c;
	char *esc;

	if (cursor == NULL)
		return api_listing_call("/storage/kv/namespaces/%s/keys?limit=%d",
		                        (const char *)arg, API_KV_KEYS_PAGE);
	esc = api_escape(cursor);
	c = api_listing_call("/storage/kv/namespaces/%s/keys?limit=%d&cursor=%s",
	                     (const char *)arg, API_KV_KEYS_PAGE, esc);
	free(esc);
	return c;
}

/* The keys being listed into (cap allocated of k->keys). */
struct keys_acc {
	struct obs_kv *k;
	size_t cap;
};

/* A KV keys page taken into a struct keys_acc; its cursor. */
static const char *
keys_take(const cJSON *items, const cJSON *info, void *acc, const char **bad)
{
	struct keys_acc *x = acc;

	if (key_items(items, x->k, &x->cap) != 0) {
		*bad = "a key's expiration is not a time";
		return NULL;
	}
	/* an empty page may still carry a cursor (expired keys are filtered
	 * out server-side): only an absent cursor ends the listing */
	return jstr(info, "cursor");
}

enum errcode
api_kv_keys(struct api *a, struct obs_kv *k, struct err *e)
{
	char *id = api_escape(k->id);
	struct keys_acc x = { .k = k };
	struct api_listing l;
	enum errcode rc;

	keys_free(k->keys, k->nkeys);
	k->keys = NULL;
	k->nkeys = 0;
	k->keys_read = 0;
	api_listing_init(&l, a, API_KV_KEYS_LIST_MAX_PAGES, API_KV_KEYS_LIST_MAX_ITEMS,
	                 "keys of KV namespace '%s'", k->title);
	rc = api_list_cursor(a, &l, NULL, keys_page_call, id, keys_take, &x, e);
	if (rc == ERR_OK)
		k->keys_read = 1;
	api_listing_release(&l);
	free(id);
	return rc;
}

enum errcode
api_kv_value(struct api *a, const char *ns_id, const char *key, char **val, size_t *len,
             struct err *e)
{
	char *esc = api_escape(key), *id = api_escape(ns_id);
	struct api_call *c = api_call_new("GET", "/storage/kv/namespaces/%s/values/%s", id, esc);
	enum errcode rc;

	free(esc);
	free(id);
	*val = NULL;
	*len = 0;
	rc = api_call_sync(a, c);
	if (rc == ERR_OK) {
		*len = c->resp.len;
		*val = buf_take(&c->resp);
	} else {
		rc = err_set(e, rc, "reading key '%s': %s", key, c->err.msg);
	}
	api_call_free(c);
	return rc;
}

void
lc_rules_free(struct lc_rule *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(r[i].id);
		free(r[i].prefix);
		for (size_t j = 0; j < r[i].ntransitions; j++)
			free(r[i].transitions[j].storage_class);
		free(r[i].transitions);
	}
	free(r);
}

static void
strs_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
cors_rules_free(struct cors_rule *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(r[i].id);
		strs_free(r[i].origins, r[i].norigins);
		strs_free(r[i].methods, r[i].nmethods);
		strs_free(r[i].headers, r[i].nheaders);
		strs_free(r[i].expose, r[i].nexpose);
	}
	free(r);
}

static void
fill_bucket(const cJSON *o, struct obs_bucket *b, const char *jurisdiction)
{
	const char *j = jstr(o, "jurisdiction");

	b->name = jdup(o, "name");
	b->jurisdiction = xstrdup(j ? j : jurisdiction ? jurisdiction : "default");
	b->location = jdup(o, "location");
	b->storage_class = xstrdup(jstr(o, "storage_class") ? jstr(o, "storage_class")
	                                                    : "Standard");
	b->creation_date = jdup(o, "creation_date");
	b->objects = -1;
}

int
api_parse_bucket(const struct api_call *c, struct obs_bucket *b)
{
	cJSON *root = parse_body(c), *res;
	int rc = -1;

	res = cJSON_GetObjectItemCaseSensitive(root, "result");
	if (cJSON_IsObject(res) && jname(res, "name")) {
		fill_bucket(res, b, c->jurisdiction);
		rc = 0;
	}
	cJSON_Delete(root);
	return rc;
}

int
api_parse_kv(const struct api_call *c, struct obs_kv *k)
{
	cJSON *root = parse_body(c), *res;
	int rc = -1;

	res = cJSON_GetObjectItemCaseSensitive(root, "result");
	if (cJSON_IsObject(res) && jid(res, "id") && jname(res, "title")) {
		k->id = jdup(res, "id");
		k->title = jdup(res, "title");
		rc = 0;
	}
	cJSON_Delete(root);
	return rc;
}

enum errcode
api_verify_token(struct api *a, struct err *e)
{
	struct api_call *c = api_call_new("GET", "/tokens/verify");
	enum errcode rc = api_call_sync(a, c);

	if (rc != ERR_OK) {
		if (c->status == 401 || c->status == 403)
			rc = err_set(e, ERR_AUTH, "the API token was refused (HTTP %ld, code %d); "
			             "check CLOUDFLARE_API_TOKEN or --api-token-file and the account id",
			             c->status, c->cf_code);
		else
			rc = err_set(e, rc, "cannot reach the API: %s", c->err.msg);
	}
	api_call_free(c);
	return rc;
}

/* The buckets of one page (result.buckets) that have a valid name, appended
 * to *v (*n used, *cap allocated), in `jurisdiction` unless one names its own. */
static void
bucket_items(const cJSON *list, const char *jurisdiction, struct obs_bucket **v,
             size_t *n, size_t *cap)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, list) {
		if (!jname(it, "name"))
			continue;
		grow((void **)v, *n, cap, sizeof(**v));
		memset(&(*v)[*n], 0, sizeof(**v));
		fill_bucket(it, &(*v)[(*n)++], jurisdiction);
	}
}

int
api_parse_bucket_page(const struct api_call *c, const char *jurisdiction,
                      struct obs_bucket **v, size_t *n, char **next)
{
	char why[160];
	cJSON *root = api_json_parse(c, why, sizeof(why)), *res, *list, *info;
	size_t cap = *n; /* *v holds exactly *n: the first append grows it */
	int count;

	*next = NULL;
	res = cJSON_GetObjectItemCaseSensitive(root, "result");
	list = cJSON_GetObjectItemCaseSensitive(res, "buckets");
	if (!cJSON_IsArray(list)) {
		cJSON_Delete(root);
		return -1;
	}
	count = cJSON_GetArraySize(list);
	bucket_items(list, jurisdiction, v, n, &cap);
	info = cJSON_GetObjectItemCaseSensitive(root, "result_info");
	*next = jdup(info, "cursor");
	cJSON_Delete(root);
	return count;
}

/* An R2 buckets page's request: the jurisdiction is arg. */
static struct api_call *
buckets_page_call(const char *cursor, const void *arg)
{
	const char *jurisdiction = arg;
	struct api_call *c;

	if (cursor) {
		char *esc = api_escape(cursor);

		c = api_listing_call("/r2/buckets?per_page=%d&cursor=%s", API_R2_PAGE, esc);
		free(esc);
	} else {
		c = api_listing_call("/r2/buckets?per_page=%d", API_R2_PAGE);
	}
	if (strcmp(jurisdiction, "default") != 0)
		c->jurisdiction = xstrdup(jurisdiction);
	return c;
}

/* The buckets of one jurisdiction being listed (n used, cap allocated). */
struct buckets_acc {
	const char *jurisdiction;
	struct obs_bucket *got;
	size_t n, cap;
};

/* An R2 buckets page taken into a struct buckets_acc; its cursor. */
static const char *
buckets_take(const cJSON *items, const cJSON *info, void *acc, const char **bad)
{
	struct buckets_acc *x = acc;

	(void)bad;
	bucket_items(items, x->jurisdiction, &x->got, &x->n, &x->cap);
	/* an empty page ends the listing whatever its cursor says */
	return cJSON_GetArraySize(items) > 0 ? jstr(info, "cursor") : NULL;
}

enum errcode
api_bucket_list(struct api *a, const char *jurisdiction, struct obs_bucket **v,
                size_t *n, struct err *e)
{
	struct buckets_acc x = { .jurisdiction = jurisdiction };
	struct api_listing l;
	enum errcode rc;

	api_listing_init(&l, a, API_R2_LIST_MAX_PAGES, API_R2_LIST_MAX_ITEMS,
	                 "R2 buckets (%s)", jurisdiction);
	rc = api_list_cursor(a, &l, "buckets", buckets_page_call, jurisdiction, buckets_take,
	                     &x, e);
	if (rc == ERR_OK && x.n > 0) {
		*v = xrealloc(*v, (*n + x.n) * sizeof(**v));
		memcpy(&(*v)[*n], x.got, x.n * sizeof(*x.got));
		*n += x.n;
	} else {
		for (size_t i = 0; i < x.n; i++)
			obs_bucket_release(&x.got[i]);
	}
	free(x.got);
	api_listing_release(&l);
	return rc;
}

/*
 * Page paging (KV namespaces): a page shorter than asked for, or the last of
 * result_info.total_pages, ends the listing. A server that lies in
 * total_pages or count and keeps sending full pages is stopped by the
 * listing's page and item bounds.
 */
/* An accumulator of namespaces (n used, cap allocated). */
struct ns_acc {
	struct obs_kv *v;
	size_t n, cap;
};

/* The namespaces of one page's result array that have a valid id and title,
 * appended to the accumulator. */
static void
ns_take(const cJSON *res, void *acc)
{
	struct ns_acc *x = acc;
	const cJSON *it;

	cJSON_ArrayForEach(it, res) {
		if (!jid(it, "id") || !jname(it, "title"))
			continue;
		grow((void **)&x->v, x->n, &x->cap, sizeof(*x->v));
		memset(&x->v[x->n], 0, sizeof(*x->v));
		x->v[x->n].id = jdup(it, "id");
		x->v[x->n++].title = jdup(it, "title");
	}
}

int
api_parse_kv_ns_page(const struct api_call *c, int page, struct obs_kv **v, size_t *n,
                     int *last)
{
	cJSON *root;
	const cJSON *res = api_page_items(c, &root);
	struct ns_acc x = { *v, *n, *n }; /* *v holds exactly *n: the first append grows it */
	int count;

	*last = 0;
	if (res == NULL) {
		cJSON_Delete(root);
		return -1;
	}
	count = cJSON_GetArraySize(res);
	ns_take(res, &x);
	*last = api_page_last(root, page, (size_t)count, API_KV_NS_PAGE);
	*v = x.v;
	*n = x.n;
	cJSON_Delete(root);
	return count;
}

static struct api_call *
ns_page_call(int page, const void *arg)
{
	(void)arg;
	return api_listing_call("/storage/kv/namespaces?page=%d&per_page=%d", page, API_KV_NS_PAGE);
}

enum errcode
api_kv_list(struct api *a, struct obs_kv **v, size_t *n, struct err *e)
{
	struct api_listing l;
	struct ns_acc x = { NULL, 0, 0 };
	enum errcode rc;

	api_listing_init(&l, a, API_KV_NS_LIST_MAX_PAGES, API_KV_NS_LIST_MAX_ITEMS,
	                 "KV namespaces");
	rc = api_list_numbered(a, &l, API_KV_NS_PAGE, ns_page_call, NULL, ns_take, &x, e);
	if (rc == ERR_OK && x.n > 0) {
		*v = xrealloc(*v, (*n + x.n) * sizeof(**v));
		memcpy(&(*v)[*n], x.v, x.n * sizeof(*x.v));
		*n += x.n;
	} else {
		for (size_t i = 0; i < x.n; i++)
			obs_kv_release(&x.v[i]);
	}
	free(x.v);
	api_listing_release(&l);
	return rc;
}

/* ---- lifecycle ---- */

static void
put_cond(cJSON *parent, const char *key, const struct lc_cond *cond)
{
	cJSON *wrap = cJSON_AddObjectToObject(parent, key);
	cJSON *c = cJSON_AddObjectToObject(wrap, "condition");

	if (cond->is_date) {
		char d[40];

		snprintf(d, sizeof(d), "%sT00:00:00.000Z", cond->date_text);
		cJSON_AddStringToObject(c, "type", "Date");
		cJSON_AddStringToObject(c, "date", d);
	} else {
		cJSON_AddStringToObject(c, "type", "Age");
		cJSON_AddNumberToObject(c, "maxAge", (double)(cond->days * 86400));
	}
}

/* Cloudflare's rule shape (REFERENCE §3.1): maxAge in seconds, dates at
 * midnight UTC as wrangler sends them. */
char *
api_lifecycle_json(const struct lc_rule *rules, size_t n)
{
	cJSON *root = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(root, "rules");
	char *s;

	for (size_t i = 0; i < n; i++) {
		const struct lc_rule *r = &rules[i];
		cJSON *o = cJSON_CreateObject(), *cond;

		cJSON_AddStringToObject(o, "id", r->id);
		cJSON_AddBoolToObject(o, "enabled", r->enabled);
		cond = cJSON_AddObjectToObject(o, "conditions");
		cJSON_AddStringToObject(cond, "prefix", r->prefix ? r->prefix : "");
		if (r->expire.set)
			put_cond(o, "deleteObjectsTransition", &r->expire);
		if (r->abort_mpu.set)
			put_cond(o, "abortMultipartUploadsTransition", &r->abort_mpu);
		if (r->ntransitions) {
			cJSON *ts = cJSON_AddArrayToObject(o, "storageClassTransitions");

			for (size_t j = 0; j < r->ntransitions; j++) {
				cJSON *t = cJSON_CreateObject(), *tmp = cJSON_CreateObject();

				put_cond(tmp, "x", &r->transitions[j].cond);
				cJSON_AddItemToObject(t, "condition", cJSON_DetachItemFromObject(
				    cJSON_GetObjectItemCaseSensitive(tmp, "x"), "condition"));
				cJSON_Delete(tmp);
				cJSON_AddStringToObject(t, "storageClass", r->transitions[j].storage_class
				                        ? r->transitions[j].storage_class : "InfrequentAccess");
				cJSON_AddItemToArray(ts, t);
			}
		}
		cJSON_AddItemToArray(arr, o);
	}
	s = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return s;
}

/* {"type":"Age","maxAge":N} or {"type":"Date","date":"..."} -> lc_cond. A
 * maxAge that is not whole days is kept as -seconds so it never equals a
 * declared day count (and is rewritten). */
static int
get_cond(const cJSON *c, struct lc_cond *out)
{
	const char *type = jstr(c, "type");

	if (type == NULL)
		return -1;
	out->set = 1;
	if (strcmp(type, "Date") == 0) {
		const char *d = jstr(c, "date");
		int64_t t;

		if (d == NULL || timefmt_parse_rfc3339(d, &t) != 0) {
			if (d == NULL || timefmt_parse_date(d, &t) != 0)
				return -1;
		}
		out->is_date = 1;
		out->date = t - t % 86400;
		snprintf(out->date_text, sizeof(out->date_text), "%.10s", d);
		return 0;
	}
	{
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(c, "maxAge");
		int64_t secs;

		if (jint(m, API_LC_MAX_AGE_S, &secs) != 0)
			return -1;
		out->days = secs % 86400 == 0 ? secs / 86400 : -secs;
	}
	return 0;
}

int
api_parse_lifecycle(const struct api_call *c, struct lc_rule **rules, size_t *n)
{
	cJSON *root = parse_body(c), *res, *arr, *it;
	int rc = 0;

	*rules = NULL;
	*n = 0;
	res = cJSON_GetObjectItemCaseSensitive(root, "result");
	arr = cJSON_GetObjectItemCaseSensitive(res, "rules");
	if (res == NULL || cJSON_IsNull(res)) {
		cJSON_Delete(root);
		return root ? 0 : -1;
	}
	if (arr != NULL && !cJSON_IsArray(arr)) {
		cJSON_Delete(root);
		return -1;
	}
	*rules = xcalloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(**rules));
	cJSON_ArrayForEach(it, arr) {
		struct lc_rule *r = &(*rules)[*n];
		const cJSON *en = cJSON_GetObjectItemCaseSensitive(it, "enabled");
		const cJSON *cond = cJSON_GetObjectItemCaseSensitive(it, "conditions");
		const cJSON *x, *ts, *t;

		r->id = xstrdup(jstr(it, "id") ? jstr(it, "id") : "");
		r->enabled = cJSON_IsBool(en) ? cJSON_IsTrue(en) : 1;
		r->prefix = xstrdup(jstr(cond, "prefix") ? jstr(cond, "prefix") : "");
		x = cJSON_GetObjectItemCaseSensitive(it, "deleteObjectsTransition");
		if (x && get_cond(cJSON_GetObjectItemCaseSensitive(x, "condition"), &r->expire))
			rc = -1;
		x = cJSON_GetObjectItemCaseSensitive(it, "abortMultipartUploadsTransition");
		if (x && get_cond(cJSON_GetObjectItemCaseSensitive(x, "condition"), &r->abort_mpu))
			rc = -1;
		ts = cJSON_GetObjectItemCaseSensitive(it, "storageClassTransitions");
		if (cJSON_IsArray(ts) && cJSON_GetArraySize(ts) > 0) {
			r->transitions = xcalloc((size_t)cJSON_GetArraySize(ts), sizeof(*r->transitions));
			cJSON_ArrayForEach(t, ts) {
				struct lc_transition *tr = &r->transitions[r->ntransitions++];

				if (get_cond(cJSON_GetObjectItemCaseSensitive(t, "condition"), &tr->cond))
					rc = -1;
				tr->storage_class = jdup(t, "storageClass");
			}
		}
		(*n)++;
	}
	cJSON_Delete(root);
	return rc;
}

/* ---- CORS ---- */

static void
add_strs(cJSON *o, const char *k, char *const *v, size_t n)
{
	cJSON *arr = cJSON_AddArrayToObject(o, k);

	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(v[i]));
}

char *
api_cors_json(const struct cors_rule *rules, size_t n)
{
	cJSON *root = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(root, "rules");
	char *s;

	for (size_t i = 0; i < n; i++) {
		const struct cors_rule *r = &rules[i];
		cJSON *o = cJSON_CreateObject(), *al;

		if (r->id)
			cJSON_AddStringToObject(o, "id", r->id);
		al = cJSON_AddObjectToObject(o, "allowed");
		add_strs(al, "methods", r->methods, r->nmethods);
		add_strs(al, "origins", r->origins, r->norigins);
		if (r->nheaders)
			add_strs(al, "headers", r->headers, r->nheaders);
		if (r->nexpose)
			add_strs(o, "exposeHeaders", r->expose, r->nexpose);
		if (r->max_age >= 0)
			cJSON_AddNumberToObject(o, "maxAgeSeconds", (double)r->max_age);
		cJSON_AddItemToArray(arr, o);
	}
	s = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return s;
}

static char **
get_strs(const cJSON *o, const char *k, size_t *n)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, k), *it;
	char **v;

	*n = 0;
	if (!cJSON_IsArray(arr))
		return NULL;
	v = xcalloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(*v));
	cJSON_ArrayForEach(it, arr)
		if (cJSON_IsString(it))
			v[(*n)++] = xstrdup(it->valuestring);
	return v;
}

int
api_parse_cors(const struct api_call *c, struct cors_rule **rules, size_t *n)
{
	cJSON *root, *res, *arr, *it;
	int bad = 0;

	*rules = NULL;
	*n = 0;
	if (c->status == 404)
		return 0; /* code 10059: no CORS configuration (REFERENCE §3.2) */
	root = parse_body(c);
	res = cJSON_GetObjectItemCaseSensitive(root, "result");
	arr = cJSON_GetObjectItemCaseSensitive(res, "rules");
	if (root == NULL) {
		return -1;
	}
	if (!cJSON_IsArray(arr)) {
		cJSON_Delete(root);
		return 0;
	}
	*rules = xcalloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(**rules));
	cJSON_ArrayForEach(it, arr) {
		struct cors_rule *r = &(*rules)[*n];
		const cJSON *al = cJSON_GetObjectItemCaseSensitive(it, "allowed");
		const cJSON *ma = cJSON_GetObjectItemCaseSensitive(it, "maxAgeSeconds");

		r->id = jdup(it, "id");
		r->methods = get_strs(al, "methods", &r->nmethods);
		r->origins = get_strs(al, "origins", &r->norigins);
		r->headers = get_strs(al, "headers", &r->nheaders);
		r->expose = get_strs(it, "exposeHeaders", &r->nexpose);
		r->max_age = -1;
		(*n)++;
		if (cJSON_IsNumber(ma) && jint(ma, API_JSON_INT_MAX, &r->max_age) != 0)
			bad = 1;
	}
	cJSON_Delete(root);
	return bad ? -1 : 1;
}

long
api_parse_object_count(const struct api_call *c, int *more)
{
	cJSON *root = parse_body(c), *res, *info;
	const char *cur;
	long n;

	*more = 0;
	res = cJSON_GetObjectItemCaseSensitive(root, "result");
	if (!cJSON_IsArray(res)) {
		cJSON_Delete(root);
		return -1;
	}
	n = cJSON_GetArraySize(res);
	info = cJSON_GetObjectItemCaseSensitive(root, "result_info");
	cur = jstr(info, "cursor");
	*more = cur && cur[0];
	cJSON_Delete(root);
	return n;
}

/* ---- Secrets Store ---- */

enum errcode
api_find_store(const struct api_call *c, const char *store, char **id, char **other)
{
	cJSON *root = parse_body(c), *res, *it;

	*id = *other = NULL;
	res = cJSON_GetObjectItemCaseSensitive(root, "result");
	if (!cJSON_IsArray(res)) {
		cJSON_Delete(root);
		return ERR_PERMANENT;
	}
	cJSON_ArrayForEach(it, res) {
		const char *n = jname(it, "name"), *i = jid(it, "id");

		if (!i)
			continue;
		if ((n && strcmp(n, store) == 0) || strcmp(i, store) == 0) {
			free(*id);
			*id = xstrdup(i);
		} else if (*other == NULL) {
			*other = xstrdup(n ? n : i);
		}
	}
	cJSON_Delete(root);
	return ERR_OK;
}

char *
api_find_secret(const struct api_call *c, const char *name, char **comment)
{
	cJSON *root = parse_body(c), *res, *it;
	char *id = NULL;

	if (comment)
		*comment = NULL;
	res = cJSON_GetObjectItemCaseSensitive(root, "result");
	cJSON_ArrayForEach(it, res) {
		const char *n = jname(it, "name");

		if (n && strcmp(n, name) == 0 && jid(it, "id")) {
			id = jdup(it, "id");
			if (comment)
				*comment = jdup(it, "comment");
			break;
		}
	}
	cJSON_Delete(root);
	return id;
}

void
api_parse_id(const struct api_call *c, char **id)
{
	cJSON *root = parse_body(c), *res;

	*id = NULL;
	res = cJSON_GetObjectItemCaseSensitive(root, "result");
	if (cJSON_IsArray(res))
		res = cJSON_GetArrayItem(res, 0);
	if (jid(res, "id"))
		*id = jdup(res, "id");
	cJSON_Delete(root);
}

size_t
api_list_names(const struct api_call *c, char ***names, char ***comments)
{
	cJSON *root = parse_body(c), *res, *it;
	size_t n = 0;

	*names = NULL;
	if (comments)
		*comments = NULL;
	res = cJSON_GetObjectItemCaseSensitive(root, "result");
	if (cJSON_IsArray(res)) {
		size_t cap = (size_t)cJSON_GetArraySize(res) + 1;

		*names = xcalloc(cap, sizeof(**names));
		if (comments)
			*comments = xcalloc(cap, sizeof(**comments));
		cJSON_ArrayForEach(it, res) {
			if (!jname(it, "name"))
				continue;
			(*names)[n] = jdup(it, "name");
			if (comments)
				(*comments)[n] = jdup(it, "comment");
			n++;
		}
	}
	cJSON_Delete(root);
	return n;
}

long
api_bulk_failures(const struct api_call *c)
{
	cJSON *root = parse_body(c), *res, *bad;
	long n = 0;

	res = cJSON_GetObjectItemCaseSensitive(root, "result");
	bad = cJSON_GetObjectItemCaseSensitive(res, "unsuccessful_keys");
	if (cJSON_IsArray(bad))
		n = cJSON_GetArraySize(bad);
	cJSON_Delete(root);
	return n;
}

int
api_kv_page_find(const struct api_call *c, const char *title, char **id)
{
	cJSON *root = parse_body(c), *res, *it;
	int n;

	*id = NULL;
	res = cJSON_GetObjectItemCaseSensitive(root, "result");
	if (!cJSON_IsArray(res)) {
		cJSON_Delete(root);
		return -1;
	}
	n = cJSON_GetArraySize(res);
	cJSON_ArrayForEach(it, res) {
		const char *t = jstr(it, "title");

		if (t && strcmp(t, title) == 0 && jid(it, "id") && *id == NULL)
			*id = jdup(it, "id");
	}
	cJSON_Delete(root);
	return n;
}
