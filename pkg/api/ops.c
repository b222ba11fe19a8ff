/*
 * Typed operations: the one place that knows Cloudflare's routes and request
 * bodies. Each constructor returns a call ready for api_call_sync() or
 * api_submit(); nothing here sends anything, so apply stays an asynchronous
 * job machine and observe and export choose their own concurrency.
 *
 * Every path segment and query value a caller passes is escaped with
 * api_escape (bucket names, namespace ids, keys, store and secret ids,
 * script and secret names), so no name can add a segment or a query
 * parameter; a "." or ".." segment is still refused unsent by api_path_ok.
 */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

/* Hands the JSON in b to c as its body. */
static void
set_body(struct api_call *c, struct buf *b)
{
	c->body_len = b->len;
	c->body = buf_take(b);
}

/* The cf-r2-jurisdiction header, except for the default jurisdiction. */
static void
set_jurisdiction(struct api_call *c, const char *jurisdiction)
{
	if (jurisdiction && strcmp(jurisdiction, "default") != 0)
		c->jurisdiction = xstrdup(jurisdiction);
}

/* ---- R2 buckets ---- */

/* METHOD /r2/buckets/{name}SUFFIX in the bucket's jurisdiction; suffix is a
 * constant of ours ("", "/lifecycle", "/cors"). */
static struct api_call *
bucket_call(const char *method, const char *name, const char *jurisdiction,
            const char *suffix)
{
	char *esc = api_escape(name);
	struct api_call *c = api_call_new(method, "/r2/buckets/%s%s", esc, suffix);

	free(esc);
	set_jurisdiction(c, jurisdiction);
	return c;
}

struct api_call *
api_op_bucket_create(const char *name, const char *jurisdiction, const char *location_hint,
                     const char *storage_class)
{
	struct api_call *c = api_call_new("POST", "/r2/buckets");
	struct buf body;

	buf_init(&body, API_BODY_SMALL_MAX);
	(void)buf_puts(&body, "{\"name\":");
	(void)buf_json_string(&body, name, strlen(name));
	if (location_hint) {
		(void)buf_puts(&body, ",\"locationHint\":");
		(void)buf_json_string(&body, location_hint, strlen(location_hint));
	}
	if (storage_class && strcmp(storage_class, "Standard") != 0) {
		(void)buf_puts(&body, ",\"storageClass\":");
		(void)buf_json_string(&body, storage_class, strlen(storage_class));
	}
	(void)buf_puts(&body, "}");
	set_body(c, &body);
	set_jurisdiction(c, jurisdiction);
	c->no_blind_retry = 1;
	return c;
}

struct api_call *
api_op_bucket_get(const char *name, const char *jurisdiction)
{
	return bucket_call("GET", name, jurisdiction, "");
}

struct api_call *
api_op_bucket_set_class(const char *name, const char *jurisdiction, const char *storage_class)
{
	struct api_call *c = bucket_call("PATCH", name, jurisdiction, "");

	c->storage_class = xstrdup(storage_class);
	return c;
}

struct api_call *
api_op_bucket_delete(const char *name, const char *jurisdiction)
{
	return bucket_call("DELETE", name, jurisdiction, "");
}

struct api_call *
api_op_bucket_objects(const char *name, const char *jurisdiction, int per_page)
{
	char *esc = api_escape(name);
	struct api_call *c = api_call_new("GET", "/r2/buckets/%s/objects?per_page=%d", esc, per_page);

	free(esc);
	set_jurisdiction(c, jurisdiction);
	return c;
}

struct api_call *
api_op_lifecycle_get(const char *name, const char *jurisdiction)
{
	return bucket_call("GET", name, jurisdiction, "/lifecycle");
}

struct api_call *
api_op_lifecycle_put(const char *name, const char *jurisdiction, const struct lc_rule *rules,
                     size_t n)
{
	struct api_call *c = bucket_call("PUT", name, jurisdiction, "/lifecycle");

	c->body = api_lifecycle_json(rules, n);
	c->body_len = strlen(c->body);
	return c;
}

struct api_call *
api_op_cors_get(const char *name, const char *jurisdiction)
{
	return bucket_call("GET", name, jurisdiction, "/cors");
}

struct api_call *
api_op_cors_put(const char *name, const char *jurisdiction, const struct cors_rule *rules,
                size_t n)
{
	struct api_call *c = bucket_call("PUT", name, jurisdiction, "/cors");

	c->body = api_cors_json(rules, n);
	c->body_len = strlen(c->body);
	return c;
}

struct api_call *
api_op_cors_delete(const char *name, const char *jurisdiction)
{
	return bucket_call("DELETE", name, jurisdiction, "/cors");
}

struct bucket_read {
	struct obs_bucket *b;
	enum api_bucket_part part;
	enum errcode *rc;
	struct err *e;
};

/*
 * A lifecycle or CORS answer for one bucket. "No CORS policy" is a 404 with
 * code API_CF_R2_NO_CORS (or, as the reference allows, a 200 without rules);
 * a 404 with API_CF_R2_NO_BUCKET is a real failure: the bucket went away.
 */
static void
on_bucket_read(struct api_call *c, void *user)
{
	struct bucket_read *r = user;
	struct obs_bucket *b = r->b;
	int cors = r->part == API_BUCKET_CORS;

	if (cors && c->rc == ERR_NOTFOUND && c->cf_code != API_CF_R2_NO_BUCKET) {
		b->cors_read = 1;
		b->has_cors = 0;
	} else if (c->rc != ERR_OK) {
		if (*r->rc == ERR_OK)
			*r->rc = err_set(r->e, c->rc, "reading %s of bucket '%s': %s",
			                 cors ? "CORS" : "lifecycle", b->name, c->err.msg);
	} else if (!cors) {
		if (api_parse_lifecycle(c, &b->rules, &b->nrules) == 0)
			b->lifecycle_read = 1;
		else if (*r->rc == ERR_OK)
			*r->rc = err_set(r->e, ERR_PERMANENT, "bucket '%s': unexpected lifecycle "
			                 "response", b->name);
	} else {
		int has = api_parse_cors(c, &b->cors, &b->ncors);

		if (has >= 0) {
			b->cors_read = 1;
			b->has_cors = has;
		} else if (*r->rc == ERR_OK) {
			*r->rc = err_set(r->e, ERR_PERMANENT, "bucket '%s': unexpected CORS "
			                 "response", b->name);
		}
	}
	free(r);
}

void
api_bucket_read(struct api *a, struct obs_bucket *b, enum api_bucket_part part,
                enum errcode *rc, struct err *e)
{
	struct bucket_read *r = xcalloc(1, sizeof(*r));
	struct api_call *c = part == API_BUCKET_CORS ? api_op_cors_get(b->name, b->jurisdiction)
	                                             : api_op_lifecycle_get(b->name, b->jurisdiction);

	r->b = b;
	r->part = part;
	r->rc = rc;
	r->e = e;
	api_submit(a, c, on_bucket_read, r);
}

/* ---- KV namespaces ---- */

/* {"title": title}: the body of a namespace create and rename. */
static void
title_body(struct api_call *c, const char *title)
{
	struct buf body;

	buf_init(&body, API_BODY_SMALL_MAX);
	(void)buf_puts(&body, "{\"title\":");
	(void)buf_json_string(&body, title, strlen(title));
	(void)buf_puts(&body, "}");
	set_body(c, &body);
}

/* METHOD /storage/kv/namespaces/{ns_id}SUFFIX. */
static struct api_call *
ns_call(const char *method, const char *ns_id, const char *suffix)
{
	char *esc = api_escape(ns_id);
	struct api_call *c = api_call_new(method, "/storage/kv/namespaces/%s%s", esc, suffix);

	free(esc);
	return c;
}

struct api_call *
api_op_kv_create(const char *title)
{
	struct api_call *c = api_call_new("POST", "/storage/kv/namespaces");

	title_body(c, title);
	c->no_blind_retry = 1;
	return c;
}

struct api_call *
api_op_kv_list_page(int page, int per_page)
{
	return api_call_new("GET", "/storage/kv/namespaces?page=%d&per_page=%d", page, per_page);
}

struct api_call *
api_op_kv_rename(const char *ns_id, const char *title)
{
	struct api_call *c = ns_call("PUT", ns_id, "");

	title_body(c, title);
	return c;
}

struct api_call *
api_op_kv_delete(const char *ns_id)
{
	return ns_call("DELETE", ns_id, "");
}

struct api_call *
api_op_kv_value_get(const char *ns_id, const char *key)
{
	char *id = api_escape(ns_id), *k = api_escape(key);
	struct api_call *c = api_call_new("GET", "/storage/kv/namespaces/%s/values/%s", id, k);

	free(id);
	free(k);
	return c;
}

void
api_kv_bulk_init(struct api_kv_bulk *b)
{
	buf_init(&b->body, (size_t)-1);
	(void)buf_puts(&b->body, "[");
	b->count = 0;
}

void
api_kv_bulk_release(struct api_kv_bulk *b)
{
	buf_release(&b->body);
	b->count = 0;
}

/*
 * One item of a bulk write (REFERENCE §4): {key, value[, base64],
 * expiration_ttl | expiration, metadata}. The metadata is the declared
 * object with cfstorage's content hash as its first member.
 */
int
api_kv_bulk_add(struct api_kv_bulk *b, const struct kv_entry *en, const char *val, size_t len,
                size_t max_bytes)
{
	struct buf *body = &b->body;
	size_t mark = body->len;

	(void)buf_puts(body, b->count ? ",{\"key\":" : "{\"key\":");
	(void)buf_json_string(body, en->key, strlen(en->key));
	(void)buf_puts(body, ",\"value\":");
	if (en->binary) {
		char *b64 = xmalloc(4 * ((len + 2) / 3) + 1);

		EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)val, (int)len);
		(void)buf_printf(body, "\"%s\",\"base64\":true", b64);
		free(b64);
	} else {
		(void)buf_json_string(body, val, len);
	}
	if (en->ttl_seconds)
		(void)buf_printf(body, ",\"expiration_ttl\":%lld", (long long)en->ttl_seconds);
	else if (en->expiration)
		(void)buf_printf(body, ",\"expiration\":%lld", (long long)en->expiration);
	(void)buf_printf(body, ",\"metadata\":{\"%s\":\"%s\"", KV_RESERVED_META_KEY, en->hash);
	if (en->metadata_json && strlen(en->metadata_json) > 2)
		(void)buf_printf(body, ",%s", en->metadata_json + 1);
	else
		(void)buf_puts(body, "}");
	(void)buf_puts(body, "}");
	if (b->count > 0 && body->len > max_bytes) {
		body->len = mark; /* this one starts the next request */
		body->data[mark] = '\0';
		return -1;
	}
	b->count++;
	return 0;
}

struct api_call *
api_op_kv_bulk_put(const char *ns_id, struct api_kv_bulk *b)
{
	struct api_call *c = ns_call("PUT", ns_id, "/bulk");

	(void)buf_puts(&b->body, "]");
	set_body(c, &b->body);
	b->count = 0;
	return c;
}

struct api_call *
api_op_kv_bulk_delete(const char *ns_id, char *const *keys, size_t n)
{
	struct api_call *c = ns_call("POST", ns_id, "/bulk/delete");
	struct buf body;

	buf_init(&body, (size_t)-1);
	(void)buf_puts(&body, "[");
	for (size_t i = 0; i < n; i++) {
		(void)buf_puts(&body, i ? "," : "");
		(void)buf_json_string(&body, keys[i], strlen(keys[i]));
	}
	(void)buf_puts(&body, "]");
	set_body(c, &body);
	return c;
}

/* ---- Secrets Store ---- */

/* A JSON array of scope names, after `,"scopes":`. */
static void
put_scopes(struct buf *body, char *const *scopes, size_t n)
{
	(void)buf_puts(body, ",\"scopes\":[");
	for (size_t i = 0; i < n; i++) {
		(void)buf_puts(body, i ? "," : "");
		(void)buf_json_string(body, scopes[i], strlen(scopes[i]));
	}
	(void)buf_puts(body, "]");
}

/* Worst-case JSON length of the scope array (every byte escaped as \u00XX). */
static size_t
scopes_room(char *const *scopes, size_t n)
{
	size_t room = 16;

	for (size_t i = 0; i < n; i++)
		room += strlen(scopes[i]) * 6 + 3;
	return room;
}

/*
 * A body buffer for a secret value: room for the worst case (every byte of
 * the value and of the other strings escaped as \u00XX) is reserved before
 * anything is written, so the value is never copied into a block that
 * realloc frees uncleansed. `extra` is the worst case of everything else.
 */
static void
secret_body_init(struct buf *body, size_t vlen, size_t extra)
{
	buf_init(body, API_BODY_SECRET_MAX);
	(void)buf_reserve(body, vlen * 6 + extra + 512);
}

/* METHOD /secrets_store/stores/{store_id}/secrets[/{secret_id}]SUFFIX. */
static struct api_call *
secret_call(const char *method, const char *store_id, const char *secret_id,
            const char *suffix)
{
	char *st = api_escape(store_id), *sid = secret_id ? api_escape(secret_id) : NULL;
	struct api_call *c = api_call_new(method, "/secrets_store/stores/%s/secrets%s%s%s", st,
	                          sid ? "/" : "", sid ? sid : "", suffix);

	free(st);
	free(sid);
	return c;
}

struct api_call *
api_op_store_list(int per_page)
{
	return api_call_new("GET", "/secrets_store/stores?per_page=%d", per_page);
}

struct api_call *
api_op_store_create(const char *name)
{
	struct api_call *c = api_call_new("POST", "/secrets_store/stores");
	struct buf body;

	buf_init(&body, API_BODY_SMALL_MAX);
	(void)buf_puts(&body, "{\"name\":");
	(void)buf_json_string(&body, name, strlen(name));
	(void)buf_puts(&body, "}");
	set_body(c, &body);
	return c;
}

struct api_call *
api_op_store_secrets_search(const char *store_id, const char *name, int per_page)
{
	char *st = api_escape(store_id), *q = api_escape(name);
	struct api_call *c = api_call_new("GET", "/secrets_store/stores/%s/secrets?search=%s&per_page=%d",
	                          st, q, per_page);

	free(st);
	free(q);
	return c;
}

struct api_call *
api_op_store_secrets_page(const char *store_id, int page, int per_page)
{
	char *st = api_escape(store_id);
	struct api_call *c = api_call_new("GET", "/secrets_store/stores/%s/secrets?page=%d&per_page=%d",
	                          st, page, per_page);

	free(st);
	return c;
}

struct api_call *
api_op_store_secret_create(const char *store_id, const char *name, const char *value,
                           size_t vlen, const char *comment, char *const *scopes,
                           size_t nscopes)
{
	struct api_call *c = secret_call("POST", store_id, NULL, "");
	struct buf body;

	secret_body_init(&body, vlen, strlen(name) * 6 + strlen(comment) * 6 +
	                 scopes_room(scopes, nscopes));
	(void)buf_puts(&body, "[{\"name\":");
	(void)buf_json_string(&body, name, strlen(name));
	(void)buf_puts(&body, ",\"value\":");
	(void)buf_json_string(&body, value, vlen);
	(void)buf_puts(&body, ",\"comment\":");
	(void)buf_json_string(&body, comment, strlen(comment));
	put_scopes(&body, scopes, nscopes);
	(void)buf_puts(&body, "}]");
	c->sensitive = 1;
	set_body(c, &body);
	return c;
}

struct api_call *
api_op_store_secret_update(const char *store_id, const char *secret_id, const char *value,
                           size_t vlen, const char *comment)
{
	struct api_call *c = secret_call("PATCH", store_id, secret_id, "");
	struct buf body;

	secret_body_init(&body, vlen, strlen(comment) * 6);
	(void)buf_puts(&body, "{\"value\":");
	(void)buf_json_string(&body, value, vlen);
	(void)buf_puts(&body, ",\"comment\":");
	(void)buf_json_string(&body, comment, strlen(comment));
	(void)buf_puts(&body, "}");
	c->sensitive = 1;
	set_body(c, &body);
	return c;
}

struct api_call *
api_op_store_secret_delete(const char *store_id, const char *secret_id)
{
	return secret_call("DELETE", store_id, secret_id, "");
}

struct api_call *
api_op_store_secret_duplicate(const char *store_id, const char *secret_id, const char *name,
                              const char *comment, char *const *scopes, size_t nscopes)
{
	struct api_call *c = secret_call("POST", store_id, secret_id, "/duplicate");
	struct buf body;

	buf_init(&body, API_BODY_SECRET_MAX);
	(void)buf_puts(&body, "{\"name\":");
	(void)buf_json_string(&body, name, strlen(name));
	(void)buf_puts(&body, ",\"comment\":");
	(void)buf_json_string(&body, comment, strlen(comment));
	put_scopes(&body, scopes, nscopes);
	(void)buf_puts(&body, "}");
	set_body(c, &body);
	return c;
}

/* ---- Worker script secrets ---- */

struct api_call *
api_op_worker_secret_put(const char *script, const char *name, const char *value,
                         size_t vlen)
{
	char *s = api_escape(script);
	struct api_call *c = api_call_new("PUT", "/workers/scripts/%s/secrets", s);
	struct buf body;

	free(s);
	secret_body_init(&body, vlen, strlen(name) * 6);
	(void)buf_puts(&body, "{\"name\":");
	(void)buf_json_string(&body, name, strlen(name));
	(void)buf_puts(&body, ",\"type\":\"secret_text\",\"text\":");
	(void)buf_json_string(&body, value, vlen);
	(void)buf_puts(&body, "}");
	c->sensitive = 1;
	set_body(c, &body);
	return c;
}

struct api_call *
api_op_worker_secret_delete(const char *script, const char *name)
{
	char *s = api_escape(script), *n = api_escape(name);
	struct api_call *c = api_call_new("DELETE", "/workers/scripts/%s/secrets/%s", s, n);

	free(s);
	free(n);
	return c;
}

/* ---- D1 databases ---- */

/* METHOD /d1/database/{uuid}SUFFIX; suffix is a constant of ours. */
static struct api_call *
d1_call(const char *method, const char *uuid, const char *suffix)
{
	char *esc = api_escape(uuid);
	struct api_call *c = api_call_new(method, "/d1/database/%s%s", esc, suffix);

	free(esc);
	return c;
}

struct api_call *
api_op_d1_create(const char *name, const char *location_hint, const char *jurisdiction,
                 const char *read_replication)
{
	struct api_call *c = api_call_new("POST", "/d1/database");
	struct buf body;

	buf_init(&body, API_BODY_SMALL_MAX);
	(void)buf_puts(&body, "{\"name\":");
	(void)buf_json_string(&body, name, strlen(name));
	if (location_hint) {
		(void)buf_puts(&body, ",\"primary_location_hint\":");
		(void)buf_json_string(&body, location_hint, strlen(location_hint));
	}
	if (jurisdiction) {
		(void)buf_puts(&body, ",\"jurisdiction\":");
		(void)buf_json_string(&body, jurisdiction, strlen(jurisdiction));
	}
	if (read_replication) {
		(void)buf_puts(&body, ",\"read_replication\":{\"mode\":");
		(void)buf_json_string(&body, read_replication, strlen(read_replication));
		(void)buf_puts(&body, "}");
	}
	(void)buf_puts(&body, "}");
	set_body(c, &body);
	c->no_blind_retry = 1;
	return c;
}

struct api_call *
api_op_d1_list_page(int page, int per_page)
{
	return api_call_new("GET", "/d1/database?page=%d&per_page=%d", page, per_page);
}

struct api_call *
api_op_d1_get(const char *uuid)
{
	return d1_call("GET", uuid, "");
}

struct api_call *
api_op_d1_replication(const char *uuid, const char *mode)
{
	struct api_call *c = d1_call("PUT", uuid, "");
	struct buf body;

	buf_init(&body, API_BODY_SMALL_MAX);
	(void)buf_puts(&body, "{\"read_replication\":{\"mode\":");
	(void)buf_json_string(&body, mode, strlen(mode));
	(void)buf_puts(&body, "}}");
	set_body(c, &body);
	return c;
}

struct api_call *
api_op_d1_delete(const char *uuid)
{
	return d1_call("DELETE", uuid, "");
}

/* {"sql": ..., "params": [...]} of one statement into b. */
static void
d1_stmt_json(struct buf *b, const struct api_d1_stmt *s)
{
	(void)buf_puts(b, "{\"sql\":");
	(void)buf_json_text(b, s->sql, s->len);
	if (s->nparams) {
		(void)buf_puts(b, ",\"params\":[");
		for (size_t i = 0; i < s->nparams; i++) {
			(void)buf_puts(b, i ? "," : "");
			(void)buf_json_text(b, s->params[i], strlen(s->params[i]));
		}
		(void)buf_puts(b, "]");
	}
	(void)buf_puts(b, "}");
}

struct api_call *
api_op_d1_query(const char *uuid, const struct api_d1_stmt *s)
{
	struct api_call *c = d1_call("POST", uuid, "/query");
	struct buf body;

	buf_init(&body, API_D1_BODY_MAX);
	d1_stmt_json(&body, s);
	if (body.toobig) {
		buf_release(&body);
		api_call_free(c);
		return NULL;
	}
	set_body(c, &body);
	return c;
}

struct api_call *
api_op_d1_select(const char *uuid, const struct api_d1_stmt *s)
{
	struct api_call *c = api_op_d1_query(uuid, s);

	if (c)
		c->read_only = 1;
	return c;
}

struct api_call *
api_op_d1_batch(const char *uuid, const struct api_d1_stmt *v, size_t n)
{
	struct api_call *c = d1_call("POST", uuid, "/query");
	struct buf body;

	buf_init(&body, API_D1_BODY_MAX);
	(void)buf_puts(&body, "{\"batch\":[");
	for (size_t i = 0; i < n; i++) {
		(void)buf_puts(&body, i ? "," : "");
		d1_stmt_json(&body, &v[i]);
	}
	(void)buf_puts(&body, "]}");
	if (body.toobig) {
		buf_release(&body);
		api_call_free(c);
		return NULL;
	}
	set_body(c, &body);
	c->no_blind_retry = 1;
	return c;
}
