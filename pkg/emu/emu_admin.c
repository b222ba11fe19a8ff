/*
 * emu_admin.c: the test-only /__emu/ routes (README: cfemu). They are
 * served only to loopback clients, need no token and are not counted in
 * the statistics. Shapes:
 *   GET    /__emu/stats          {"requests","reads","writes","routes":[{method,route,status,count}]}
 *                                (a write is a POST, PUT, PATCH or DELETE, except a D1
 *                                query or raw whose statements are all read-only)
 *   POST   /__emu/reset          drops all data, counters, fault rules, the clock offset
 *   GET    /__emu/clock          {"now": unix, "offset": seconds}
 *   POST   /__emu/clock          {"now": unix} | {"advance": seconds} | {"offset": seconds};
 *                                the clock stays within 0..EMU_CLOCK_MAX (else 400)
 *   GET    /__emu/faults         {"rules":[{method,route,status,count}]}
 *   POST   /__emu/faults         one rule or an array: {method?, route, status, count?=1};
 *                                status 0 (or "drop": true) drops the connection
 *   DELETE /__emu/faults         removes every rule
 *   POST   /__emu/r2/BUCKET/objects   [{key, size, uploaded?}] (or {"objects": [...]});
 *                                jurisdiction from ?jurisdiction= or cf-r2-jurisdiction
 *   DELETE /__emu/r2/BUCKET/objects   removes every seeded object
 *   GET    /__emu/secret-values  {"workers":{SCRIPT:{NAME:VALUE}},"secretsStore":{STORE_ID:{NAME:VALUE}}}
 * Clock moves and seeded objects are journaled; fault rules are not (they
 * describe one test run, not data).
 */
#include "emu_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../mem/mem.h"

/* Codes for the admin routes' own errors (not Cloudflare's). */
#define ADMIN_ERR_BAD_REQUEST 1001
#define ADMIN_ERR_NOT_FOUND 1003

/* GET /__emu/stats: counters since start (or reset), in the shape the README documents. */
static void
h_stats(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	cJSON *root = cJSON_CreateObject(), *routes;
	char *text;

	(void)rq;
	cJSON_AddNumberToObject(root, "requests", (double)e->requests);
	cJSON_AddNumberToObject(root, "reads", (double)e->reads);
	cJSON_AddNumberToObject(root, "writes", (double)e->writes);
	cJSON_AddNumberToObject(root, "s3_requests", (double)e->s3_requests);
	routes = cJSON_AddArrayToObject(root, "routes");
	for (size_t i = 0; i < e->stats.n; i++) {
		const struct emu_stat *s = e->stats.v[i];
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "method", s->method);
		cJSON_AddStringToObject(o, "route", s->route);
		cJSON_AddNumberToObject(o, "status", s->status);
		cJSON_AddNumberToObject(o, "count", (double)s->count);
		cJSON_AddItemToArray(routes, o);
	}
	text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	emu_raw(rs, 200, "application/json", text, strlen(text));
	free(text);
}

/* POST /__emu/reset: everything goes, the journal included. */
static void
h_reset(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	emu_d1_unlink_all(&e->m);
	emu_reset_all(e);
	if (!rq->replay)
		emu_journal_truncate(e);
	emu_raw(rs, 200, "application/json", "{\"reset\":true}", 14);
}

static void
clock_out(struct emu *e, long long now, struct emu_resp *rs)
{
	char text[128];
	int n = snprintf(text, sizeof(text), "{\"now\":%lld,\"offset\":%lld}", now,
	                 e->m.clock_offset);

	emu_raw(rs, 200, "application/json", text, (size_t)n);
}

static void
h_clock_get(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	clock_out(e, rq->now, rs);
}

/*
 * POST /__emu/clock: sets the emulator's clock ({"now"}), moves it
 * ({"advance"}) or sets the offset from the system clock ({"offset"}). The
 * journal records the resulting offset, so a restart keeps the clock. Every
 * number is bounded before arithmetic and the clock must stay within
 * [0, EMU_CLOCK_MAX]: {"advance": 9e18} twice once overflowed the offset.
 */
static void
h_clock_set(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	cJSON *body = emu_body_json(rq);
	const cJSON *now = cJSON_GetObjectItemCaseSensitive(body, "now");
	const cJSON *adv = cJSON_GetObjectItemCaseSensitive(body, "advance");
	const cJSON *off = cJSON_GetObjectItemCaseSensitive(body, "offset");
	long long sys = rq->now - e->m.clock_offset, v, offset;
	int bad;

	if (cJSON_IsNumber(now)) {
		bad = emu_json_ll(now, 0, EMU_CLOCK_MAX, &v);
		offset = v - sys;
	} else if (cJSON_IsNumber(adv)) {
		bad = emu_json_ll(adv, -EMU_CLOCK_MAX, EMU_CLOCK_MAX, &v);
		offset = e->m.clock_offset + v;
	} else if (cJSON_IsNumber(off)) {
		bad = emu_json_ll(off, -EMU_CLOCK_MAX, EMU_CLOCK_MAX, &v);
		offset = v;
	} else {
		emu_fail(rs, 400, ADMIN_ERR_BAD_REQUEST,
		         "body must be {\"now\": unix} or {\"advance\": seconds} or {\"offset\": seconds}");
		cJSON_Delete(body);
		return;
	}
	cJSON_Delete(body);
	/* |sys|, |clock_offset| and |v| are below 2^40 here: no overflow */
	if (bad || sys + offset < 0 || sys + offset > EMU_CLOCK_MAX) {
		emu_fail(rs, 400, ADMIN_ERR_BAD_REQUEST, "the clock must stay between 0 and %lld "
		         "(9999-12-31T23:59:59Z)", EMU_CLOCK_MAX);
		return;
	}
	e->m.clock_offset = offset;
	rq->journal_body = xasprintf("{\"offset\":%lld}", e->m.clock_offset);
	clock_out(e, sys + e->m.clock_offset, rs);
}

static void
faults_out(struct emu *e, struct emu_resp *rs)
{
	cJSON *root = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(root, "rules");
	char *text;

	for (size_t i = 0; i < e->faults.n; i++) {
		const struct emu_fault *f = e->faults.v[i];
		cJSON *o = cJSON_CreateObject();

		if (f->method)
			cJSON_AddStringToObject(o, "method", f->method);
		cJSON_AddStringToObject(o, "route", f->route);
		cJSON_AddNumberToObject(o, "status", f->status);
		cJSON_AddNumberToObject(o, "count", f->count);
		cJSON_AddItemToArray(arr, o);
	}
	text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	emu_raw(rs, 200, "application/json", text, strlen(text));
	free(text);
}

static void
h_faults_get(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	(void)rq;
	faults_out(e, rs);
}

/*
 * POST /__emu/faults: adds rules. A rule faults the next `count` calls of
 * `route` (a template exactly as /__emu/stats prints it) and `method` (any
 * when absent) with `status`: 429 comes with code 971 and Retry-After, 502
 * and 503 as an HTML gateway page, others as an envelope; status 0 or
 * "drop": true closes the connection without an answer. The first rule
 * with calls left wins.
 */
static void
h_faults_add(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	cJSON *body = emu_body_json(rq), *list;
	const cJSON *it;
	long long n;

	if (cJSON_IsObject(body)) {
		list = cJSON_CreateArray();
		cJSON_AddItemReferenceToArray(list, body);
	} else if (cJSON_IsArray(body)) {
		list = cJSON_CreateArrayReference(body->child);
	} else {
		emu_fail(rs, 400, ADMIN_ERR_BAD_REQUEST, "body must be a fault rule or an array of them");
		cJSON_Delete(body);
		return;
	}
	cJSON_ArrayForEach(it, list) {
		const cJSON *route = cJSON_GetObjectItemCaseSensitive(it, "route");
		const cJSON *method = cJSON_GetObjectItemCaseSensitive(it, "method");
		const cJSON *status = cJSON_GetObjectItemCaseSensitive(it, "status");
		const cJSON *count = cJSON_GetObjectItemCaseSensitive(it, "count");
		int drop = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "drop"));

		if (!cJSON_IsString(route) || (method && !cJSON_IsString(method)) ||
		    (!drop && (!cJSON_IsNumber(status) ||
		               (status->valueint != 0 && (status->valueint < 100 || status->valueint > 599)))) ||
		    (count && emu_json_ll(count, 1, EMU_FAULT_COUNT_MAX, &n) != 0) ||
		    e->faults.n >= EMU_FAULT_RULES_MAX) {
			emu_fail(rs, 400, ADMIN_ERR_BAD_REQUEST,
			         "a rule is {method?, route, status (0 or 100..599), count? "
			         "(1..%lld)}", EMU_FAULT_COUNT_MAX);
			goto out;
		}
	}
	cJSON_ArrayForEach(it, list) {
		struct emu_fault *f = xcalloc(1, sizeof(*f));
		const cJSON *method = cJSON_GetObjectItemCaseSensitive(it, "method");
		const cJSON *count = cJSON_GetObjectItemCaseSensitive(it, "count");

		f->route = xstrdup(cJSON_GetObjectItemCaseSensitive(it, "route")->valuestring);
		f->method = method ? xstrdup(method->valuestring) : NULL;
		f->status = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "drop"))
		                ? 0 : (unsigned)cJSON_GetObjectItemCaseSensitive(it, "status")->valueint;
		f->count = count && emu_json_ll(count, 1, EMU_FAULT_COUNT_MAX, &n) == 0
		                ? (unsigned)n : 1;
		emu_vec_push(&e->faults, f);
	}
	faults_out(e, rs);
out:
	cJSON_Delete(list);
	cJSON_Delete(body);
}

static void
h_faults_clear(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	(void)rq;
	for (size_t i = 0; i < e->faults.n; i++) {
		struct emu_fault *f = e->faults.v[i];

		free(f->method);
		free(f->route);
		free(f);
	}
	e->faults.n = 0;
	faults_out(e, rs);
}

static struct emu_bucket *
seed_bucket(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	const char *j = emu_query(rq, "jurisdiction");
	struct emu_bucket *b;

	if (j == NULL || *j == '\0')
		j = emu_header(rq, "cf-r2-jurisdiction");
	if (j == NULL || *j == '\0')
		j = "default";
	b = emu_bucket_find(&e->m, j, emu_param(rq, "bucket_name"));
	if (b == NULL)
		emu_fail(rs, 404, ADMIN_ERR_NOT_FOUND, "no bucket '%s' in jurisdiction '%s'",
		         emu_param(rq, "bucket_name"), j);
	return b;
}

/* POST /__emu/r2/BUCKET/objects: adds (or resizes) object keys, kept sorted. */
static void
h_seed(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	struct emu_bucket *b = seed_bucket(e, rq, rs);
	cJSON *body;
	const cJSON *list, *it;
	char text[64];
	int n;

	if (b == NULL)
		return;
	body = emu_body_json(rq);
	list = cJSON_IsArray(body) ? body : cJSON_GetObjectItemCaseSensitive(body, "objects");
	if (!cJSON_IsArray(list)) {
		emu_fail(rs, 400, ADMIN_ERR_BAD_REQUEST, "body must be [{\"key\": ..., \"size\": ...}]");
		goto out;
	}
	cJSON_ArrayForEach(it, list) {
		const cJSON *key = cJSON_GetObjectItemCaseSensitive(it, "key");
		const cJSON *size = cJSON_GetObjectItemCaseSensitive(it, "size");

		const cJSON *up = cJSON_GetObjectItemCaseSensitive(it, "uploaded");
		long long v;

		if (!cJSON_IsString(key) || key->valuestring[0] == '\0' ||
		    (size && emu_json_ll(size, 0, EMU_R2_OBJECT_MAX, &v) != 0) ||
		    (cJSON_IsNumber(up) && emu_json_ll(up, 0, EMU_CLOCK_MAX, &v) != 0)) {
			emu_fail(rs, 400, ADMIN_ERR_BAD_REQUEST, "each object needs a key, a size "
			         "(0..%lld) and an optional uploaded time (0..%lld)",
			         EMU_R2_OBJECT_MAX, EMU_CLOCK_MAX);
			goto out;
		}
	}
	cJSON_ArrayForEach(it, list) {
		const char *key = cJSON_GetObjectItemCaseSensitive(it, "key")->valuestring;
		const cJSON *size = cJSON_GetObjectItemCaseSensitive(it, "size");
		const cJSON *up = cJSON_GetObjectItemCaseSensitive(it, "uploaded");
		struct emu_object *o = NULL;
		size_t i;

		for (i = 0; i < b->objects.n; i++) {
			int c = strcmp(((struct emu_object *)b->objects.v[i])->key, key);

			if (c == 0)
				o = b->objects.v[i];
			if (c >= 0)
				break;
		}
		if (o == NULL) {
			o = xcalloc(1, sizeof(*o));
			o->key = xstrdup(key);
			emu_vec_insert(&b->objects, i, o);
		}
		long long v;

		/* both checked above */
		o->size = size && emu_json_ll(size, 0, EMU_R2_OBJECT_MAX, &v) == 0 ? v : 0;
		o->uploaded = emu_json_ll(up, 0, EMU_CLOCK_MAX, &v) == 0 ? v : rq->now;
	}
	n = snprintf(text, sizeof(text), "{\"objects\":%zu}", b->objects.n);
	emu_raw(rs, 200, "application/json", text, (size_t)n);
out:
	cJSON_Delete(body);
}

/* DELETE /__emu/r2/BUCKET/objects: empties the bucket. */
static void
h_unseed(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	struct emu_bucket *b = seed_bucket(e, rq, rs);

	if (b == NULL)
		return;
	for (size_t i = 0; i < b->objects.n; i++) {
		struct emu_object *o = b->objects.v[i];

		free(o->key);
		free(o->data);
		free(o);
	}
	b->objects.n = 0;
	emu_raw(rs, 200, "application/json", "{\"objects\":0}", 13);
}

/* GET /__emu/secret-values: every stored secret value, for rotation and
 * leak checks in tests. */
static void
h_secret_values(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	cJSON *root = cJSON_CreateObject(), *w, *ss;
	char *text;

	(void)rq;
	w = cJSON_AddObjectToObject(root, "workers");
	for (size_t i = 0; i < e->m.scripts.n; i++) {
		const struct emu_script *s = e->m.scripts.v[i];
		cJSON *o = cJSON_AddObjectToObject(w, s->name);

		for (size_t k = 0; k < s->secrets.n; k++) {
			const struct emu_wsecret *b = s->secrets.v[k];

			if (b->text)
				cJSON_AddStringToObject(o, b->name, b->text);
		}
	}
	ss = cJSON_AddObjectToObject(root, "secretsStore");
	for (size_t i = 0; i < e->m.stores.n; i++) {
		const struct emu_sstore *st = e->m.stores.v[i];
		cJSON *o = cJSON_AddObjectToObject(ss, st->id);

		for (size_t k = 0; k < st->secrets.n; k++) {
			const struct emu_secret *s = st->secrets.v[k];

			cJSON_AddStringToObject(o, s->name, s->value);
		}
	}
	text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	emu_raw(rs, 200, "application/json", text, strlen(text));
	free(text);
}

#define A EMU_R_ADMIN
#define J (EMU_R_ADMIN | EMU_R_JOURNAL)
const struct emu_route emu_admin_routes[] = {
	{ "GET", "/__emu/stats", h_stats, A },
	{ "POST", "/__emu/reset", h_reset, A },
	{ "GET", "/__emu/clock", h_clock_get, A },
	{ "POST", "/__emu/clock", h_clock_set, J },
	{ "GET", "/__emu/faults", h_faults_get, A },
	{ "POST", "/__emu/faults", h_faults_add, A },
	{ "DELETE", "/__emu/faults", h_faults_clear, A },
	{ "POST", "/__emu/r2/{bucket_name}/objects", h_seed, J },
	{ "DELETE", "/__emu/r2/{bucket_name}/objects", h_unseed, J },
	{ "GET", "/__emu/secret-values", h_secret_values, A },
};
#undef A
#undef J
const size_t emu_admin_nroutes = sizeof(emu_admin_routes) / sizeof(emu_admin_routes[0]);
