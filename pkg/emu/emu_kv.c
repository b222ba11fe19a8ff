/*
 * emu_kv.c: Workers KV as Cloudflare serves it under
 * /accounts/{account_id}/storage/kv/namespaces (REFERENCE.md section 4):
 * page-paged namespaces, cursor-paged keys in lexicographic order, raw and
 * multipart value writes with metadata and expiry, bulk write and delete.
 * Expiry is measured against the emulator's clock (rq->now), which tests
 * move with /__emu/clock; an expired key is gone for every read.
 *
 * Codes not published by Cloudflare and chosen here: unknown namespace 404
 * code 10013 (observed; wrangler's mocks use 10009), bad expiry 400 code
 * 10019, a too-long key 414 code 10033, a too-large value or metadata 413
 * code 10011/10012, malformed bodies and bad arguments 400 code 10026.
 */
#include "emu_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../mem/mem.h"

#define KV_ERR_KEY_NOT_FOUND 10009 /* 404 "get: 'key not found'" (OBS) */
#define KV_ERR_VALUE_TOO_BIG 10011
#define KV_ERR_META_TOO_BIG 10012
#define KV_ERR_NO_NAMESPACE 10013
#define KV_ERR_TITLE_EXISTS 10014  /* 400, S4 kv/index.ts */
#define KV_ERR_EXPIRY 10019
#define KV_ERR_BAD_REQUEST 10026
#define KV_ERR_KEY_TOO_LONG 10033

static struct emu_ns *
ns_find(struct emu *e, const char *id)
{
	for (size_t i = 0; i < e->m.namespaces.n; i++) {
		struct emu_ns *ns = e->m.namespaces.v[i];

		if (strcmp(ns->id, id) == 0)
			return ns;
	}
	return NULL;
}

/* The path's namespace, or NULL after answering 404. */
static struct emu_ns *
ns_of(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	struct emu_ns *ns = ns_find(e, emu_param(rq, "namespace_id"));

	if (ns == NULL)
		emu_fail(rs, 404, KV_ERR_NO_NAMESPACE, "namespace not found");
	return ns;
}

static cJSON *
ns_json(const struct emu_ns *ns)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "id", ns->id);
	cJSON_AddStringToObject(o, "title", ns->title);
	cJSON_AddBoolToObject(o, "supports_url_encoding", 1);
	return o;
}

static int
title_taken(struct emu *e, const char *title, const struct emu_ns *except)
{
	for (size_t i = 0; i < e->m.namespaces.n; i++) {
		struct emu_ns *ns = e->m.namespaces.v[i];

		if (ns != except && strcmp(ns->title, title) == 0)
			return 1;
	}
	return 0;
}

/* Orders namespaces by title when *by_title, else by id (for qsort_r). */
static int
ns_cmp(const void *a, const void *b, void *by_title)
{
	const struct emu_ns *x = *(const struct emu_ns *const *)a;
	const struct emu_ns *y = *(const struct emu_ns *const *)b;

	return *(int *)by_title ? strcmp(x->title, y->title) : strcmp(x->id, y->id);
}

/*
 * GET …/namespaces: page (1-based) and per_page (default 20), ordered by id
 * or title (creation order when no order is given), asc or desc. A page past
 * the last is an empty result: wrangler and the SDK page until they see one.
 */
static void
h_ns_list(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	const char *order = emu_query(rq, "order"), *dir = emu_query(rq, "direction");
	long long page = 1, per = EMU_KV_NS_PER_PAGE_DEFAULT;
	size_t n = e->m.namespaces.n, first;
	struct emu_ns **sel;
	cJSON *arr, *info;
	int desc = dir && strcasecmp(dir, "desc") == 0;

	if ((emu_query(rq, "page") && (emu_parse_ll(emu_query(rq, "page"), &page) || page < 1)) ||
	    (emu_query(rq, "per_page") &&
	     (emu_parse_ll(emu_query(rq, "per_page"), &per) || per < 1 || per > EMU_PER_PAGE_MAX)) ||
	    (order && strcmp(order, "id") != 0 && strcmp(order, "title") != 0) ||
	    (dir && !desc && strcasecmp(dir, "asc") != 0)) {
		emu_fail(rs, 400, KV_ERR_BAD_REQUEST, "invalid page, per_page, order or direction");
		return;
	}
	sel = xcalloc(n + 1, sizeof(*sel));
	for (size_t i = 0; i < n; i++)
		sel[i] = e->m.namespaces.v[i];
	if (order) {
		int by_title = strcmp(order, "title") == 0;

		qsort_r(sel, n, sizeof(*sel), ns_cmp, &by_title);
	}
	arr = cJSON_CreateArray();
	first = (size_t)(page - 1) * (size_t)per;
	for (size_t k = first; k < n && k < first + (size_t)per; k++)
		cJSON_AddItemToArray(arr, ns_json(sel[desc ? n - 1 - k : k]));
	info = cJSON_CreateObject();
	cJSON_AddNumberToObject(info, "page", (double)page);
	cJSON_AddNumberToObject(info, "per_page", (double)per);
	cJSON_AddNumberToObject(info, "count", cJSON_GetArraySize(arr));
	cJSON_AddNumberToObject(info, "total_count", (double)n);
	cJSON_AddNumberToObject(info, "total_pages", (double)((n + (size_t)per - 1) / (size_t)per));
	free(sel);
	emu_ok_info(rs, 200, arr, info);
}

/* The body's non-empty string "title", or NULL after answering 400. */
static char *
title_of(struct emu_req *rq, struct emu_resp *rs)
{
	cJSON *body = emu_body_json(rq);
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(body, "title");
	char *title = NULL;

	if (!cJSON_IsString(t) || t->valuestring[0] == '\0')
		emu_fail(rs, 400, KV_ERR_BAD_REQUEST, "request must carry a non-empty string title");
	else
		title = xstrdup(t->valuestring);
	cJSON_Delete(body);
	return title;
}

/* POST …/namespaces {title}: a duplicate title is 400 code 10014. */
static void
h_ns_create(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	char *title = title_of(rq, rs);
	struct emu_ns *ns;

	if (title == NULL)
		return;
	if (title_taken(e, title, NULL)) {
		emu_fail(rs, 400, KV_ERR_TITLE_EXISTS,
		         "a namespace with this account ID and title already exists");
		free(title);
		return;
	}
	if (e->m.namespaces.n >= EMU_KV_NS_MAX) {
		emu_fail(rs, 400, KV_ERR_BAD_REQUEST, "too many namespaces (limit %d)", EMU_KV_NS_MAX);
		free(title);
		return;
	}
	ns = xcalloc(1, sizeof(*ns));
	ns->id = emu_new_id(rq);
	ns->title = title; /* handed to ns */
	emu_vec_push(&e->m.namespaces, ns);
	emu_ok(rs, ns_json(ns));
}

static void
h_ns_get(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	struct emu_ns *ns = ns_of(e, rq, rs);

	if (ns)
		emu_ok(rs, ns_json(ns));
}

/* PUT …/namespaces/{id} {title}: rename. The result is the namespace, as the
 * SDK types it (S3) and wrangler's `kv namespace rename` reads `.title` from
 * it; S1's null result would crash wrangler. */
static void
h_ns_rename(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	struct emu_ns *ns = ns_of(e, rq, rs);
	char *title;

	if (ns == NULL || (title = title_of(rq, rs)) == NULL)
		return;
	if (title_taken(e, title, ns)) {
		emu_fail(rs, 400, KV_ERR_TITLE_EXISTS,
		         "a namespace with this account ID and title already exists");
		free(title);
		return;
	}
	free(ns->title);
	ns->title = title;
	emu_ok(rs, ns_json(ns));
}

/* DELETE …/namespaces/{id}: the namespace and all its keys. */
static void
h_ns_delete(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	struct emu_ns *ns = ns_of(e, rq, rs);

	if (ns == NULL)
		return;
	for (size_t i = 0; i < e->m.namespaces.n; i++)
		if (e->m.namespaces.v[i] == ns) {
			emu_vec_remove(&e->m.namespaces, i);
			break;
		}
	for (size_t k = 0; k < ns->keys.n; k++)
		emu_kv_free(ns->keys.v[k]);
	free(ns->keys.v);
	free(ns->id);
	free(ns->title);
	free(ns);
	emu_ok(rs, NULL);
}

/* ---- keys ---- */

/* Binary search: the index of key, or where it would go (*found = 0). */
static size_t
key_pos(const struct emu_ns *ns, const char *key, int *found)
{
	size_t lo = 0, hi = ns->keys.n;

	*found = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(((struct emu_kv *)ns->keys.v[mid])->key, key);

		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int
live(const struct emu_kv *kv, long long now)
{
	return kv->expiration == 0 || kv->expiration > now;
}

/* A live entry, or NULL when absent or expired. */
static struct emu_kv *
kv_find(const struct emu_ns *ns, const char *key, long long now)
{
	int found;
	size_t i = key_pos(ns, key, &found);

	return found && live(ns->keys.v[i], now) ? ns->keys.v[i] : NULL;
}

/* Writes overwrite value, expiry and metadata together (S5 kv limits).
 * Takes ownership of value and metadata. */
static void
kv_put(struct emu_ns *ns, const char *key, char *value, size_t len,
       char *metadata, long long expiration)
{
	int found;
	size_t i = key_pos(ns, key, &found);
	struct emu_kv *kv;

	if (found) {
		kv = ns->keys.v[i];
		free(kv->value);
		free(kv->metadata);
	} else {
		kv = xcalloc(1, sizeof(*kv));
		kv->key = xstrdup(key);
		emu_vec_insert(&ns->keys, i, kv);
	}
	kv->value = value;
	kv->len = len;
	kv->metadata = metadata;
	kv->expiration = expiration;
}

static void
kv_del(struct emu_ns *ns, const char *key)
{
	int found;
	size_t i = key_pos(ns, key, &found);

	if (found)
		emu_kv_free(emu_vec_remove(&ns->keys, i));
}

/* Checks a key name: non-empty, at most 512 bytes, not "." or "..". */
static int
check_key(const char *key, struct emu_resp *rs)
{
	if (strlen(key) > EMU_KV_KEY_MAX) {
		emu_fail(rs, 414, KV_ERR_KEY_TOO_LONG,
		         "key name is longer than %d bytes", EMU_KV_KEY_MAX);
		return -1;
	}
	if (*key == '\0' || strcmp(key, ".") == 0 || strcmp(key, "..") == 0) {
		emu_fail(rs, 400, KV_ERR_BAD_REQUEST, "illegal key name '%s'", key);
		return -1;
	}
	return 0;
}

/*
 * The absolute expiry a write asks for: expiration_ttl (>= 60, wins when
 * both are given) or expiration (unix seconds, at least 60 s ahead), else 0.
 * Returns -1 after answering 400 code 10019.
 */
static int
expiry(long long now, int has_exp, long long exp, int has_ttl, long long ttl,
       long long *out, struct emu_resp *rs)
{
	*out = 0;
	if (has_ttl) {
		if (ttl < EMU_KV_TTL_MIN) {
			emu_fail(rs, 400, KV_ERR_EXPIRY,
			         "Invalid expiration_ttl of %lld. Expiration TTL must be at least %d.",
			         ttl, EMU_KV_TTL_MIN);
			return -1;
		}
		*out = now + ttl;
	} else if (has_exp) {
		if (exp < now + EMU_KV_TTL_MIN) {
			emu_fail(rs, 400, KV_ERR_EXPIRY,
			         "Invalid expiration of %lld. Expiration times must be at least "
			         "%d seconds in the future.", exp, EMU_KV_TTL_MIN);
			return -1;
		}
		*out = exp;
	}
	return 0;
}

/* Serialized metadata (at most 1024 bytes), or NULL; -1 after answering. */
static int
meta_text(const cJSON *meta, char **out, struct emu_resp *rs)
{
	*out = NULL;
	if (meta == NULL || cJSON_IsNull(meta))
		return 0;
	*out = cJSON_PrintUnformatted(meta);
	if (strlen(*out) > EMU_KV_META_MAX) {
		emu_fail(rs, 413, KV_ERR_META_TOO_BIG,
		         "metadata is larger than %d bytes", EMU_KV_META_MAX);
		free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

/*
 * GET …/keys: live keys in lexicographic order after cursor, with prefix,
 * limit 10..1000 (default 1000). Each item has name and, when set,
 * expiration and metadata. result_info {count, cursor}; cursor is "" on the
 * last page.
 */
static void
h_keys(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	struct emu_ns *ns = ns_of(e, rq, rs);
	const char *prefix = emu_query(rq, "prefix"), *cur = emu_query(rq, "cursor");
	long long limit = EMU_KV_LIMIT_MAX;
	char *from = NULL;
	size_t start = 0, out = 0, plen = prefix ? strlen(prefix) : 0;
	cJSON *arr, *info;
	int found;

	if (ns == NULL)
		return;
	if (emu_query(rq, "limit") &&
	    (emu_parse_ll(emu_query(rq, "limit"), &limit) || limit < EMU_KV_LIMIT_MIN ||
	     limit > EMU_KV_LIMIT_MAX)) {
		emu_fail(rs, 400, KV_ERR_BAD_REQUEST, "limit must be between %d and %d",
		         EMU_KV_LIMIT_MIN, EMU_KV_LIMIT_MAX);
		return;
	}
	if (cur && *cur && (from = emu_cursor_read(cur)) == NULL) {
		emu_fail(rs, 400, KV_ERR_BAD_REQUEST, "invalid cursor");
		return;
	}
	if (from) {
		start = key_pos(ns, from, &found);
		start += (size_t)found;
	} else if (prefix) {
		start = key_pos(ns, prefix, &found);
	}
	arr = cJSON_CreateArray();
	info = cJSON_CreateObject();
	for (size_t i = start; i < ns->keys.n; i++) {
		struct emu_kv *kv = ns->keys.v[i];
		cJSON *it;

		if (prefix && strncmp(kv->key, prefix, plen) != 0) {
			if (strcmp(kv->key, prefix) > 0)
				break; /* sorted: no later key has the prefix */
			continue;
		}
		if (!live(kv, rq->now))
			continue;
		if (out == (size_t)limit) {
			char *next = emu_cursor_make(((struct emu_kv *)ns->keys.v[i - 1])->key);

			cJSON_AddStringToObject(info, "cursor", next);
			free(next);
			break;
		}
		it = cJSON_CreateObject();
		cJSON_AddStringToObject(it, "name", kv->key);
		if (kv->expiration)
			cJSON_AddNumberToObject(it, "expiration", (double)kv->expiration);
		if (kv->metadata)
			cJSON_AddItemToObject(it, "metadata", cJSON_Parse(kv->metadata));
		cJSON_AddItemToArray(arr, it);
		out++;
	}
	if (!cJSON_GetObjectItemCaseSensitive(info, "cursor"))
		cJSON_AddStringToObject(info, "cursor", "");
	cJSON_AddNumberToObject(info, "count", (double)out);
	free(from);
	emu_ok_info(rs, 200, arr, info);
}

/* GET …/values/{key}: the raw bytes, no envelope; 404 10009 when absent. */
static void
h_value_get(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	struct emu_ns *ns = ns_of(e, rq, rs);
	struct emu_kv *kv;

	if (ns == NULL)
		return;
	kv = kv_find(ns, emu_param(rq, "key_name"), rq->now);
	if (kv == NULL)
		emu_fail(rs, 404, KV_ERR_KEY_NOT_FOUND, "get: 'key not found'");
	else
		emu_raw(rs, 200, "application/octet-stream", kv->value, kv->len);
}

/* GET …/metadata/{key}: the metadata JSON itself (null when none). */
static void
h_meta_get(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	struct emu_ns *ns = ns_of(e, rq, rs);
	struct emu_kv *kv;

	if (ns == NULL)
		return;
	kv = kv_find(ns, emu_param(rq, "key_name"), rq->now);
	if (kv == NULL)
		emu_fail(rs, 404, KV_ERR_KEY_NOT_FOUND, "get: 'key not found'");
	else
		emu_ok(rs, kv->metadata ? cJSON_Parse(kv->metadata) : NULL);
}

struct part {
	const char *p;
	size_t len;
	int present;
};

/*
 * Splits a multipart/form-data body into its "value" and "metadata" parts
 * (the form wrangler and the SDK use for single-key writes with metadata).
 * Returns -1 when the content type has no boundary or the body is malformed.
 */
static int
multipart(const char *ctype, const char *body, size_t len, struct part *value,
          struct part *meta)
{
	const char *b = strcasestr(ctype, "boundary="), *end = body + len, *p;
	char delim[256];
	size_t blen, dlen;

	if (b == NULL)
		return -1;
	b += strlen("boundary=");
	if (*b == '"') {
		b++;
		blen = strcspn(b, "\"");
	} else {
		blen = strcspn(b, "; \t");
	}
	if (blen == 0 || blen > 200)
		return -1;
	dlen = (size_t)snprintf(delim, sizeof(delim), "--%.*s", (int)blen, b);
	p = memmem(body, len, delim, dlen);
	while (p != NULL) {
		const char *hdr, *hend, *data, *next, *name;
		struct part *dst = NULL;

		p += dlen;
		if (end - p >= 2 && p[0] == '-' && p[1] == '-')
			return 0; /* closing delimiter */
		if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
			return -1;
		hdr = p + 2;
		hend = memmem(hdr, (size_t)(end - hdr), "\r\n\r\n", 4);
		if (hend == NULL)
			return -1;
		data = hend + 4;
		next = memmem(data, (size_t)(end - data), delim, dlen);
		if (next == NULL || next - data < 2)
			return -1;
		name = memmem(hdr, (size_t)(hend - hdr), "name=\"", 6);
		if (name && (size_t)(hend - name) >= 12 && strncmp(name + 6, "value\"", 6) == 0)
			dst = value;
		else if (name && (size_t)(hend - name) >= 15 && strncmp(name + 6, "metadata\"", 9) == 0)
			dst = meta;
		if (dst) {
			dst->p = data;
			dst->len = (size_t)(next - 2 - data); /* the CRLF before the delimiter */
			dst->present = 1;
		}
		p = next;
	}
	return -1;
}

static int
query_ll(const struct emu_req *rq, const char *name, long long *out, int *has,
         struct emu_resp *rs)
{
	const char *s = emu_query(rq, name);

	*has = s != NULL && *s != '\0';
	if (*has && emu_parse_ll(s, out) != 0) {
		emu_fail(rs, 400, KV_ERR_EXPIRY, "%s must be an integer", name);
		return -1;
	}
	return 0;
}

/*
 * PUT …/values/{key}: the body is the value, or multipart/form-data with
 * "value" and "metadata" (JSON) parts. Query expiration / expiration_ttl
 * set the expiry; value <= 25 MiB, metadata <= 1024 bytes.
 */
static void
h_value_put(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	struct emu_ns *ns = ns_of(e, rq, rs);
	const char *key = emu_param(rq, "key_name"), *ct = emu_header(rq, "content-type");
	struct part value = { rq->body, rq->body_len, 1 }, meta = { NULL, 0, 0 };
	long long exp = 0, ttl = 0, at;
	int has_exp, has_ttl;
	char *mtext = NULL;

	if (ns == NULL || check_key(key, rs) != 0)
		return;
	if (query_ll(rq, "expiration", &exp, &has_exp, rs) ||
	    query_ll(rq, "expiration_ttl", &ttl, &has_ttl, rs) ||
	    expiry(rq->now, has_exp, exp, has_ttl, ttl, &at, rs))
		return;
	if (ct && strncasecmp(ct, "multipart/form-data", 19) == 0) {
		value.present = 0;
		if (multipart(ct, rq->body, rq->body_len, &value, &meta) != 0 || !value.present) {
			emu_fail(rs, 400, KV_ERR_BAD_REQUEST,
			         "multipart body must have a 'value' part");
			return;
		}
	}
	if (value.len > EMU_KV_VALUE_MAX) {
		emu_fail(rs, 413, KV_ERR_VALUE_TOO_BIG, "value is larger than %u bytes",
		         EMU_KV_VALUE_MAX);
		return;
	}
	if (meta.present) {
		const char *jend;
		char *text = xstrndup(meta.p, meta.len); /* cJSON wants the NUL in range */
		cJSON *m = cJSON_ParseWithLengthOpts(text, meta.len + 1, &jend, 1);

		free(text);

		if (m == NULL) {
			emu_fail(rs, 400, KV_ERR_BAD_REQUEST, "metadata is not valid JSON");
			return;
		}
		if (meta_text(m, &mtext, rs) != 0) {
			cJSON_Delete(m);
			return;
		}
		cJSON_Delete(m);
	}
	kv_put(ns, key, xstrndup(value.p, value.len), value.len, mtext, at);
	emu_ok(rs, NULL);
}

/* DELETE …/values/{key}: succeeds whether or not the key exists. */
static void
h_value_delete(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	struct emu_ns *ns = ns_of(e, rq, rs);

	if (ns == NULL)
		return;
	kv_del(ns, emu_param(rq, "key_name"));
	emu_ok(rs, NULL);
}

static cJSON *
bulk_result(size_t n)
{
	cJSON *r = cJSON_CreateObject();

	cJSON_AddNumberToObject(r, "successful_key_count", (double)n);
	cJSON_AddItemToObject(r, "unsuccessful_keys", cJSON_CreateArray());
	return r;
}

/* The body as a JSON array of 0..10000 items, or NULL after answering 400. */
static cJSON *
bulk_body(struct emu_req *rq, struct emu_resp *rs)
{
	cJSON *body = emu_body_json(rq);

	if (!cJSON_IsArray(body)) {
		emu_fail(rs, 400, KV_ERR_BAD_REQUEST, "request body must be a JSON array");
		cJSON_Delete(body);
		return NULL;
	}
	if (cJSON_GetArraySize(body) > EMU_KV_BULK_MAX) {
		emu_fail(rs, 400, KV_ERR_BAD_REQUEST, "at most %d items per request",
		         EMU_KV_BULK_MAX);
		cJSON_Delete(body);
		return NULL;
	}
	return body;
}

static int
item_ll(const cJSON *it, const char *name, long long *out, int *has)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(it, name);

	*has = v != NULL && !cJSON_IsNull(v);
	*out = 0;
	/* bounded before the cast: 1e300 would be undefined behaviour */
	if (*has && emu_json_ll(v, -EMU_JSON_INT_MAX, EMU_JSON_INT_MAX, out) != 0)
		return -1;
	return 0;
}

/*
 * PUT …/bulk: [{key, value, base64?, expiration?, expiration_ttl?,
 * metadata?}], at most 10,000. Every item is checked before any is
 * written, so a refused request changes nothing.
 */
static void
h_bulk_put(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	struct emu_ns *ns = ns_of(e, rq, rs);
	cJSON *body;
	const cJSON *it;
	size_t n = 0;

	if (ns == NULL || (body = bulk_body(rq, rs)) == NULL)
		return;
	for (int pass = 0; pass < 2; pass++) {
		cJSON_ArrayForEach(it, body) {
			const cJSON *k = cJSON_GetObjectItemCaseSensitive(it, "key");
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(it, "value");
			int b64 = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "base64"));
			long long exp, ttl, at;
			int has_exp, has_ttl;
			char *mtext, *val;
			size_t vlen;

			if (!cJSON_IsString(k) || !cJSON_IsString(v)) {
				emu_fail(rs, 400, KV_ERR_BAD_REQUEST,
				         "each item needs a string key and a string value");
				goto out;
			}
			if (check_key(k->valuestring, rs) != 0)
				goto out;
			if (item_ll(it, "expiration", &exp, &has_exp) ||
			    item_ll(it, "expiration_ttl", &ttl, &has_ttl)) {
				emu_fail(rs, 400, KV_ERR_EXPIRY, "expiration must be a number");
				goto out;
			}
			if (expiry(rq->now, has_exp, exp, has_ttl, ttl, &at, rs) ||
			    meta_text(cJSON_GetObjectItemCaseSensitive(it, "metadata"), &mtext, rs))
				goto out;
			if (b64) {
				val = emu_base64_decode(v->valuestring, &vlen);
				if (val == NULL) {
					free(mtext);
					emu_fail(rs, 400, KV_ERR_BAD_REQUEST,
					         "value of '%s' is not valid base64", k->valuestring);
					goto out;
				}
			} else {
				vlen = strlen(v->valuestring);
				val = xstrdup(v->valuestring);
			}
			if (vlen > EMU_KV_VALUE_MAX) {
				free(mtext);
				free(val);
				emu_fail(rs, 413, KV_ERR_VALUE_TOO_BIG, "value is larger than %u bytes",
				         EMU_KV_VALUE_MAX);
				goto out;
			}
			if (pass == 0) {
				free(mtext);
				free(val);
				continue;
			}
			kv_put(ns, k->valuestring, val, vlen, mtext, at);
			n++;
		}
	}
	emu_ok(rs, bulk_result(n));
out:
	cJSON_Delete(body);
}

/* POST …/bulk/delete (and the deprecated DELETE …/bulk): an array of key
 * names, at most 10,000; absent keys count as deleted. */
static void
h_bulk_delete(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	struct emu_ns *ns = ns_of(e, rq, rs);
	cJSON *body;
	const cJSON *it;
	size_t n = 0;

	if (ns == NULL || (body = bulk_body(rq, rs)) == NULL)
		return;
	cJSON_ArrayForEach(it, body)
		if (!cJSON_IsString(it)) {
			emu_fail(rs, 400, KV_ERR_BAD_REQUEST, "request body must be an array of key names");
			cJSON_Delete(body);
			return;
		}
	cJSON_ArrayForEach(it, body) {
		kv_del(ns, it->valuestring);
		n++;
	}
	cJSON_Delete(body);
	emu_ok(rs, bulk_result(n));
}

/* POST …/bulk/get {keys (<=100), type?, withMetadata?}: text values (or
 * parsed JSON with type=json), null for absent keys. */
static void
h_bulk_get(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	struct emu_ns *ns = ns_of(e, rq, rs);
	cJSON *body, *res, *vals;
	const cJSON *keys, *type, *it;
	int json, meta;

	if (ns == NULL)
		return;
	body = emu_body_json(rq);
	keys = cJSON_GetObjectItemCaseSensitive(body, "keys");
	type = cJSON_GetObjectItemCaseSensitive(body, "type");
	json = cJSON_IsString(type) && strcmp(type->valuestring, "json") == 0;
	meta = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "withMetadata"));
	if (!cJSON_IsArray(keys) || cJSON_GetArraySize(keys) > 100) {
		emu_fail(rs, 400, KV_ERR_BAD_REQUEST, "keys must be an array of at most 100 names");
		cJSON_Delete(body);
		return;
	}
	res = cJSON_CreateObject();
	vals = cJSON_AddObjectToObject(res, "values");
	cJSON_ArrayForEach(it, keys) {
		struct emu_kv *kv = cJSON_IsString(it) ? kv_find(ns, it->valuestring, rq->now) : NULL;
		cJSON *v;

		if (!cJSON_IsString(it))
			continue;
		if (kv == NULL) {
			cJSON_AddNullToObject(vals, it->valuestring);
			continue;
		}
		v = json ? cJSON_Parse(kv->value) : NULL;
		if (v == NULL) {
			char *s = xstrndup(kv->value, kv->len);

			v = cJSON_CreateString(s);
			free(s);
		}
		if (meta) {
			cJSON *w = cJSON_CreateObject();

			cJSON_AddItemToObject(w, "value", v);
			cJSON_AddItemToObject(w, "metadata",
			                      kv->metadata ? cJSON_Parse(kv->metadata) : cJSON_CreateNull());
			if (kv->expiration)
				cJSON_AddNumberToObject(w, "expiration", (double)kv->expiration);
			v = w;
		}
		cJSON_AddItemToObject(vals, it->valuestring, v);
	}
	cJSON_Delete(body);
	emu_ok(rs, res);
}

#define N "/accounts/{account_id}/storage/kv/namespaces"
const struct emu_route emu_kv_routes[] = {
	{ "GET", N, h_ns_list, 0 },
	{ "POST", N, h_ns_create, 0 },
	{ "GET", N "/{namespace_id}", h_ns_get, 0 },
	{ "PUT", N "/{namespace_id}", h_ns_rename, 0 },
	{ "DELETE", N "/{namespace_id}", h_ns_delete, 0 },
	{ "GET", N "/{namespace_id}/keys", h_keys, 0 },
	{ "GET", N "/{namespace_id}/values/{key_name}", h_value_get, EMU_R_REST },
	{ "PUT", N "/{namespace_id}/values/{key_name}", h_value_put, EMU_R_REST },
	{ "DELETE", N "/{namespace_id}/values/{key_name}", h_value_delete, EMU_R_REST },
	{ "GET", N "/{namespace_id}/metadata/{key_name}", h_meta_get, EMU_R_REST },
	{ "PUT", N "/{namespace_id}/bulk", h_bulk_put, 0 },
	{ "POST", N "/{namespace_id}/bulk/delete", h_bulk_delete, 0 },
	{ "DELETE", N "/{namespace_id}/bulk", h_bulk_delete, 0 },
	{ "POST", N "/{namespace_id}/bulk/get", h_bulk_get, 0 },
};
#undef N
const size_t emu_kv_nroutes = sizeof(emu_kv_routes) / sizeof(emu_kv_routes[0]);
