/*
 * emu.c: the server half of cfemu — libmicrohttpd wiring, routing, the
 * Cloudflare envelope, bearer auth, the global rate limiter, fault injection,
 * request statistics, and the account and token-verify routes.
 */
#include "emu_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "../log/log.h"
#include "../mem/mem.h"

/* Seconds an idle keep-alive connection is kept open. */
#define EMU_CONN_TIMEOUT 120
/* The prefix real clients put before every route. */
#define EMU_PREFIX "/client/v4"

/* ---- small helpers shared by the handlers ---- */

/* Appends p; the array grows geometrically. */
void
emu_vec_push(struct vec *v, void *p)
{
	emu_vec_insert(v, v->n, p);
}

/* Inserts p at index i (0 <= i <= n), shifting the tail up. */
void
emu_vec_insert(struct vec *v, size_t i, void *p)
{
	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 8;
		v->v = xrealloc(v->v, v->cap * sizeof(*v->v));
	}
	memmove(v->v + i + 1, v->v + i, (v->n - i) * sizeof(*v->v));
	v->v[i] = p;
	v->n++;
}

/* Removes and returns element i; the caller frees it. */
void *
emu_vec_remove(struct vec *v, size_t i)
{
	void *p = v->v[i];

	memmove(v->v + i, v->v + i + 1, (v->n - i - 1) * sizeof(*v->v));
	v->n--;
	return p;
}

/* The value of a route parameter such as "bucket_name", or NULL. */
const char *
emu_param(const struct emu_req *rq, const char *name)
{
	for (size_t i = 0; i < rq->nparams; i++)
		if (strcmp(rq->pname[i], name) == 0)
			return rq->pval[i];
	return NULL;
}

static const char *
kv_get(const struct vec *v, const char *name)
{
	for (size_t i = 0; i < v->n; i++) {
		const struct emu_kvpair *p = v->v[i];

		if (strcasecmp(p->k, name) == 0)
			return p->v;
	}
	return NULL;
}

/* The first query argument of that name (already percent-decoded), or NULL. */
const char *
emu_query(const struct emu_req *rq, const char *name)
{
	return kv_get(&rq->query, name);
}

/* A request header by case-insensitive name, or NULL. */
const char *
emu_header(const struct emu_req *rq, const char *name)
{
	return kv_get(&rq->headers, name);
}

/*
 * Parses the body as JSON whatever its content type: wrangler sends JSON as
 * text/plain;charset=UTF-8 on R2 and Secrets Store creates (REFERENCE.md 9).
 * Trailing garbage makes it invalid. Free with cJSON_Delete().
 */
cJSON *
emu_body_json(const struct emu_req *rq)
{
	const char *end = NULL;

	if (rq->body_len == 0)
		return NULL;
	/* With require_null_terminated, cJSON wants the NUL inside the length:
	 * rq->body always has one at body_len. */
	return cJSON_ParseWithLengthOpts(rq->body, rq->body_len + 1, &end, 1);
}

/*
 * Cursors are "c1." followed by the hex of the last name returned: opaque to
 * clients, as Cloudflare's are, and stable across restarts of the emulator.
 */
char *
emu_cursor_make(const char *last)
{
	size_t n = strlen(last);
	char *c = xmalloc(3 + 2 * n + 1);

	memcpy(c, "c1.", 3);
	for (size_t i = 0; i < n; i++)
		snprintf(c + 3 + 2 * i, 3, "%02x", (unsigned char)last[i]);
	c[3 + 2 * n] = '\0';
	return c;
}

char *
emu_cursor_read(const char *cursor)
{
	size_t n;
	char *out;

	if (strncmp(cursor, "c1.", 3) != 0)
		return NULL;
	cursor += 3;
	n = strlen(cursor);
	if (n % 2 != 0)
		return NULL;
	out = xmalloc(n / 2 + 1);
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v = 0;

		for (int k = 0; k < 2; k++) {
			char ch = cursor[2 * i + (size_t)k];

			v <<= 4;
			if (ch >= '0' && ch <= '9') v |= (unsigned)(ch - '0');
			else if (ch >= 'a' && ch <= 'f') v |= (unsigned)(ch - 'a' + 10);
			else {
				free(out);
				return NULL;
			}
		}
		out[i] = (char)v;
	}
	out[n / 2] = '\0';
	return out;
}

/* Strict decimal parse: the whole string, no overflow. */
int
emu_parse_ll(const char *s, long long *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

int
emu_json_ll(const cJSON *v, long long min, long long max, long long *out)
{
	/* written so that NaN fails too */
	if (!cJSON_IsNumber(v) || !(v->valuedouble >= (double)min) ||
	    !(v->valuedouble <= (double)max))
		return -1;
	*out = (long long)v->valuedouble;
	return 0;
}

/* RFC 3339 UTC with milliseconds, the form Cloudflare's R2 and Secrets
 * Store responses use. */
char *
emu_iso_time(long long t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char s[64];

	gmtime_r(&tt, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S.000Z", &tm);
	return xstrdup(s);
}

static void
set_json(struct emu_resp *rs, unsigned status, cJSON *root)
{
	free(rs->body);
	rs->body = cJSON_PrintUnformatted(root);
	if (rs->body == NULL)
		abort(); /* only on out of memory */
	rs->len = strlen(rs->body);
	rs->status = status;
	rs->ctype = "application/json";
	cJSON_Delete(root);
}

/*
 * Cloudflare's success envelope: {"result", "success": true, "errors": [],
 * "messages": [], "result_info"?} (S2 common.yaml). result may be NULL,
 * which is sent as null; info is optional. Takes ownership of both.
 */
void
emu_ok_info(struct emu_resp *rs, unsigned status, cJSON *result, cJSON *info)
{
	cJSON *root = cJSON_CreateObject();

	cJSON_AddItemToObject(root, "result",
	                      result ? result : cJSON_CreateNull());
	cJSON_AddBoolToObject(root, "success", 1);
	cJSON_AddItemToObject(root, "errors", cJSON_CreateArray());
	cJSON_AddItemToObject(root, "messages", cJSON_CreateArray());
	if (info != NULL)
		cJSON_AddItemToObject(root, "result_info", info);
	set_json(rs, status, root);
}

/* A 200 success envelope without result_info. */
void
emu_ok(struct emu_resp *rs, cJSON *result)
{
	emu_ok_info(rs, 200, result, NULL);
}

/*
 * Cloudflare's failure envelope: success false, result null, one error
 * {code, message}. Codes are per product (REFERENCE.md section 7).
 */
void
emu_fail(struct emu_resp *rs, unsigned status, int code, const char *fmt, ...)
{
	cJSON *root = cJSON_CreateObject(), *errs, *item;
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cJSON_AddNullToObject(root, "result");
	cJSON_AddBoolToObject(root, "success", 0);
	errs = cJSON_AddArrayToObject(root, "errors");
	item = cJSON_CreateObject();
	cJSON_AddNumberToObject(item, "code", code);
	cJSON_AddStringToObject(item, "message", msg);
	cJSON_AddItemToArray(errs, item);
	cJSON_AddItemToObject(root, "messages", cJSON_CreateArray());
	set_json(rs, status, root);
}

/* A raw body (KV value GET returns bytes, no envelope). Copies data. */
void
emu_raw(struct emu_resp *rs, unsigned status, const char *ctype,
        const char *data, size_t len)
{
	free(rs->body);
	rs->body = xmalloc(len + 1);
	memcpy(rs->body, data, len);
	rs->body[len] = '\0';
	rs->len = len;
	rs->status = status;
	rs->ctype = ctype;
}

/* ---- accounts and token verify (REFERENCE.md section 2) ---- */

static cJSON *
account_json(const struct emu *e)
{
	cJSON *a = cJSON_CreateObject(), *settings;

	cJSON_AddStringToObject(a, "id", e->account_id);
	cJSON_AddStringToObject(a, "name", "cfemu account");
	cJSON_AddStringToObject(a, "type", "standard");
	cJSON_AddStringToObject(a, "created_on", "2024-01-01T00:00:00.000000Z");
	settings = cJSON_AddObjectToObject(a, "settings");
	cJSON_AddBoolToObject(settings, "enforce_twofactor", 0);
	return a;
}

/*
 * GET /accounts: the one account the token can see, paged by page/per_page
 * (5..50, default 20) with an empty page past the end, as the SDK expects.
 */
static void
h_accounts_list(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	long long page = 1, per = 20;
	cJSON *arr = cJSON_CreateArray(), *info = cJSON_CreateObject();

	if (emu_query(rq, "page") && (emu_parse_ll(emu_query(rq, "page"), &page) || page < 1))
		page = 1;
	if (emu_query(rq, "per_page") && (emu_parse_ll(emu_query(rq, "per_page"), &per) || per < 1))
		per = 20;
	if (page == 1)
		cJSON_AddItemToArray(arr, account_json(e));
	cJSON_AddNumberToObject(info, "page", (double)page);
	cJSON_AddNumberToObject(info, "per_page", (double)per);
	cJSON_AddNumberToObject(info, "count", page == 1 ? 1 : 0);
	cJSON_AddNumberToObject(info, "total_count", 1);
	cJSON_AddNumberToObject(info, "total_pages", 1);
	emu_ok_info(rs, 200, arr, info);
}

/* GET /accounts/{account_id}: the account (the id was checked by dispatch). */
static void
h_account_get(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	(void)rq;
	emu_ok(rs, account_json(e));
}

/*
 * GET /user/tokens/verify and /accounts/{id}/tokens/verify: the token is
 * active. Cloudflare adds the message "This API Token is valid and active".
 */
static void
h_token_verify(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	cJSON *root = cJSON_CreateObject(), *res, *msgs, *m;

	(void)e;
	(void)rq;
	res = cJSON_AddObjectToObject(root, "result");
	cJSON_AddStringToObject(res, "id", EMU_TOKEN_ID);
	cJSON_AddStringToObject(res, "status", "active");
	cJSON_AddBoolToObject(root, "success", 1);
	cJSON_AddItemToObject(root, "errors", cJSON_CreateArray());
	msgs = cJSON_AddArrayToObject(root, "messages");
	m = cJSON_CreateObject();
	cJSON_AddNumberToObject(m, "code", 10000);
	cJSON_AddStringToObject(m, "message", "This API Token is valid and active");
	cJSON_AddNullToObject(m, "type");
	cJSON_AddItemToArray(msgs, m);
	set_json(rs, 200, root);
}

const struct emu_route emu_acct_routes[] = {
	{ "GET", "/accounts", h_accounts_list, 0 },
	{ "GET", "/accounts/{account_id}", h_account_get, 0 },
	{ "GET", "/user/tokens/verify", h_token_verify, 0 },
	{ "GET", "/accounts/{account_id}/tokens/verify", h_token_verify, 0 },
};
const size_t emu_acct_nroutes = sizeof(emu_acct_routes) / sizeof(emu_acct_routes[0]);

/* ---- routing ---- */

static void
params_clear(struct emu_req *rq)
{
	for (size_t i = 0; i < rq->nparams; i++) {
		free(rq->pname[i]);
		free(rq->pval[i]);
	}
	rq->nparams = 0;
}

/*
 * Matches path against a template segment by segment. "{x}" takes one
 * non-empty segment; with rest, the template's last "{x}" takes the
 * non-empty rest (KV key names may hold "/"). On a match the parameters are
 * in rq; on a miss rq holds none.
 */
static int
match(const char *tmpl, const char *path, int rest_ok, struct emu_req *rq)
{
	const char *t = tmpl, *p = path;

	params_clear(rq);
	while (*t != '\0' && *p != '\0') {
		if (*t != '/' || *p != '/')
			goto miss;
		t++;
		p++;
		if (*t == '{') {
			const char *close = strchr(t, '}');
			int rest = rest_ok && close[1] == '\0';
			const char *pe = rest ? p + strlen(p) : strchrnul(p, '/');

			if (pe == p || rq->nparams == EMU_MAX_PARAMS)
				goto miss;
			rq->pname[rq->nparams] = xstrndup(t + 1, (size_t)(close - t - 1));
			rq->pval[rq->nparams] = xstrndup(p, (size_t)(pe - p));
			rq->nparams++;
			t = close + 1;
			p = pe;
		} else {
			const char *te = strchrnul(t, '/');
			const char *pe = strchrnul(p, '/');

			if (te - t != pe - p || strncmp(t, p, (size_t)(te - t)) != 0)
				goto miss;
			t = te;
			p = pe;
		}
	}
	if (*t == '\0' && *p == '\0')
		return 1;
miss:
	params_clear(rq);
	return 0;
}

static const struct {
	const struct emu_route *r;
	const size_t *n;
} tables[] = {
	{ emu_acct_routes, &emu_acct_nroutes },
	{ emu_r2_routes, &emu_r2_nroutes },
	{ emu_kv_routes, &emu_kv_nroutes },
	{ emu_secrets_routes, &emu_secrets_nroutes },
	{ emu_d1_routes, &emu_d1_nroutes },
	{ emu_admin_routes, &emu_admin_nroutes },
	{ emu_s3_routes, &emu_s3_nroutes },
};

/* Finds the route for (method, path); NULL when none matches. */
static const struct emu_route *
route_find(struct emu_req *rq)
{
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		for (size_t j = 0; j < *tables[i].n; j++) {
			const struct emu_route *r = &tables[i].r[j];

			if (strcmp(r->method, rq->method) == 0 &&
			    match(r->tmpl, rq->path, (r->flags & EMU_R_REST) != 0, rq))
				return r;
		}
	return NULL;
}

static int
is_write(const char *method)
{
	return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
}

static int
is_hex32(const char *s)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
			return 0;
	return n == 32;
}

/* splitmix64: the deterministic generator behind --seed. */
static unsigned long long
rng_next(struct emu *e)
{
	unsigned long long z = (e->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double
rng_unit(struct emu *e)
{
	return (double)(rng_next(e) >> 11) / 9007199254740992.0;
}

static void
stat_count(struct emu *e, const struct emu_req *rq, const char *route,
           unsigned status)
{
	struct emu_stat *s;

	/* with -v, one line per request: what the e2e scripts time reads by */
	log_debug("request", "method=%s path=\"%s\" status=%u", rq->method, rq->path, status);
	e->requests++;
	if (is_write(rq->method) && !rq->read_only)
		e->writes++;
	else
		e->reads++;
	for (size_t i = 0; i < e->stats.n; i++) {
		s = e->stats.v[i];
		if (s->status == status && strcmp(s->route, route) == 0 &&
		    strcmp(s->method, rq->method) == 0) {
			s->count++;
			return;
		}
	}
	s = xcalloc(1, sizeof(*s));
	snprintf(s->method, sizeof(s->method), "%s", rq->method);
	s->route = route; /* a template from a static table */
	s->status = status;
	s->count = 1;
	emu_vec_push(&e->stats, s);
}

/*
 * An injected failure. 429 carries code 971 and Retry-After as Cloudflare's
 * limiter; 502 and 503 come as the HTML page Cloudflare's edge serves (a
 * client must not expect JSON from a gateway error); others as an envelope.
 */
static void
inject(struct emu_resp *rs, unsigned status)
{
	static const char html[] =
		"<html><head><title>cfemu injected fault</title></head>"
		"<body><h1>Bad gateway or service unavailable</h1></body></html>\n";

	if (status == 0) {
		rs->drop = 1;
		rs->status = 0;
	} else if (status == 429) {
		emu_fail(rs, 429, 971,
		         "Please wait and consider throttling your request speed");
		rs->retry_after = 1;
	} else if (status == 502 || status == 503) {
		emu_raw(rs, status, "text/html", html, sizeof(html) - 1);
		if (status == 503)
			rs->retry_after = 1;
	} else {
		emu_fail(rs, status, status >= 500 ? 10001 : 10000,
		         "injected fault (cfemu)");
	}
}

/* A matching per-route fault rule with calls left, consumed; or -1. */
static int
fault_rule(struct emu *e, const struct emu_req *rq, const char *route)
{
	for (size_t i = 0; i < e->faults.n; i++) {
		struct emu_fault *f = e->faults.v[i];

		if (f->count == 0 || strcmp(f->route, route) != 0)
			continue;
		if (f->method && strcasecmp(f->method, rq->method) != 0)
			continue;
		f->count--;
		return (int)f->status;
	}
	return -1;
}

static int
authorized(const struct emu *e, const struct emu_req *rq)
{
	const char *h = emu_header(rq, "authorization");
	size_t n, i;
	unsigned char diff = 0;

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return 0;
	h += 7;
	n = strlen(e->token);
	if (strlen(h) != n)
		return 0;
	for (i = 0; i < n; i++) /* constant time over the token's length */
		diff |= (unsigned char)(h[i] ^ e->token[i]);
	return diff == 0;
}

/*
 * Cloudflare's global limiter, per token: rate_n calls per rate_secs window
 * on the emulator clock; past it every call is refused with HTTP 429, code
 * 971 and Retry-After (seconds to the window's end, rounded up).
 */
static int
rate_limited(struct emu *e, const struct emu_req *rq, struct emu_resp *rs)
{
	if (rq->now - e->rate_start >= (long long)e->rate_secs || rq->now < e->rate_start) {
		e->rate_start = rq->now;
		e->rate_count = 0;
	}
	if (e->rate_count >= e->rate_n) {
		long long left = e->rate_start + e->rate_secs - rq->now;

		emu_fail(rs, 429, 971,
		         "Please wait and consider throttling your request speed");
		rs->retry_after = left > 0 ? (unsigned)left : 1;
		return 1;
	}
	e->rate_count++;
	return 0;
}

/*
 * Runs one request through the emulator: route, faults, auth, rate limit,
 * account check, handler, journal, statistics — in that order. Replayed
 * journal records skip everything but the handler. Takes the mutex itself
 * (latency is slept outside it).
 */
void
emu_dispatch(struct emu *e, struct emu_req *rq, struct emu_resp *rs,
             int loopback)
{
	const struct emu_route *r = route_find(rq);
	const char *acct;
	int f;

	if (r && (r->flags & EMU_R_ADMIN) && !loopback)
		r = NULL;
	if (!rq->replay && e->latency_ms > 0 && !(r && (r->flags & EMU_R_ADMIN))) {
		struct timespec ts = { e->latency_ms / 1000,
		                       (long)(e->latency_ms % 1000) * 1000000L };

		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}
	pthread_mutex_lock(&e->mu);
	if (!rq->replay)
		rq->now = (long long)time(NULL) + e->m.clock_offset;
	if (r != NULL) {
		rq->route = r->tmpl;
		rq->flags = r->flags;
	}
	if (rq->replay) {
		if (r == NULL)
			emu_fail(rs, 404, 7003, "no route");
		else
			r->fn(e, rq, rs);
		if (rq->unlink_after && rs->status / 100 == 2)
			emu_d1_unlink(rq->unlink_after);
		goto out;
	}
	if (r && (r->flags & EMU_R_ADMIN)) {
		r->fn(e, rq, rs);
		if ((r->flags & EMU_R_JOURNAL) && rs->status / 100 == 2 &&
		    !rq->no_journal && emu_journal_append(e, rq) != 0)
			emu_fail(rs, 500, 10001, "journal write failed");
		goto out;
	}
	if (r == NULL) {
		emu_fail(rs, 404, 7003,
		         "Could not route to %s, perhaps your object identifier is invalid?",
		         rq->path);
		stat_count(e, rq, "(unmatched)", 404);
		goto out;
	}
	f = fault_rule(e, rq, r->tmpl);
	if (f < 0 && e->fault_rate > 0 && rng_unit(e) < e->fault_rate) {
		static const unsigned kinds[] = { 500, 502, 503, 0 };

		f = (int)kinds[rng_next(e) % 4];
	}
	if (f >= 0) {
		inject(rs, (unsigned)f);
	} else if (!authorized(e, rq)) {
		emu_fail(rs, 403, 10000, "Authentication error");
	} else if (rate_limited(e, rq, rs)) {
		;
	} else if ((acct = emu_param(rq, "account_id")) != NULL && !is_hex32(acct)) {
		emu_fail(rs, 404, 7003,
		         "Could not route to %s, perhaps your object identifier is invalid?",
		         rq->path);
	} else if (acct != NULL && strcmp(acct, e->account_id) != 0) {
		emu_fail(rs, 403, 10000, "Authentication error");
	} else {
		r->fn(e, rq, rs);
		if (is_write(rq->method) && rs->status / 100 == 2 &&
		    !rq->no_journal && emu_journal_append(e, rq) != 0)
			emu_fail(rs, 500, 10001, "journal write failed");
		/* only once the delete is durable: a crash before leaves the
		 * database whole, as the unacknowledged delete never happened */
		if (rq->unlink_after && rs->status / 100 == 2)
			emu_d1_unlink(rq->unlink_after);
	}
	stat_count(e, rq, r->tmpl, rs->status);
out:
	pthread_mutex_unlock(&e->mu);
}

/*
 * Starts a request for METHOD on the decoded URL path: the "/client/v4"
 * prefix is optional (see emu.h) and trailing slashes are dropped, so
 * "/accounts/x/" routes as "/accounts/x".
 */
void
emu_req_init(struct emu_req *rq, const char *method, const char *url)
{
	const char *path = url;
	size_t n;

	memset(rq, 0, sizeof(*rq));
	if (strncmp(path, EMU_PREFIX, strlen(EMU_PREFIX)) == 0 &&
	    (path[strlen(EMU_PREFIX)] == '/' || path[strlen(EMU_PREFIX)] == '\0'))
		path += strlen(EMU_PREFIX);
	rq->method = xstrdup(method);
	rq->path = xstrdup(*path ? path : "/");
	n = strlen(rq->path);
	while (n > 1 && rq->path[n - 1] == '/')
		rq->path[--n] = '\0';
	rq->ids = cJSON_CreateArray();
}

/* Frees everything a request owns (not rq itself). */
void
emu_req_release(struct emu_req *rq)
{
	struct vec *vs[] = { &rq->query, &rq->headers };

	for (size_t k = 0; k < 2; k++) {
		for (size_t i = 0; i < vs[k]->n; i++) {
			struct emu_kvpair *p = vs[k]->v[i];

			free(p->k);
			free(p->v);
			free(p);
		}
		free(vs[k]->v);
	}
	params_clear(rq);
	free(rq->method);
	free(rq->path);
	free(rq->body);
	free(rq->journal_body);
	free(rq->unlink_after);
	cJSON_Delete(rq->ids);
	memset(rq, 0, sizeof(*rq));
}

/* Drops all data, counters, fault rules and the clock offset. */
void
emu_reset_all(struct emu *e)
{
	emu_model_release(&e->m);
	memset(&e->m, 0, sizeof(e->m));
	for (size_t i = 0; i < e->stats.n; i++)
		free(e->stats.v[i]);
	free(e->stats.v);
	memset(&e->stats, 0, sizeof(e->stats));
	for (size_t i = 0; i < e->faults.n; i++) {
		struct emu_fault *f = e->faults.v[i];

		free(f->method);
		free(f->route);
		free(f);
	}
	free(e->faults.v);
	memset(&e->faults, 0, sizeof(e->faults));
	e->requests = e->reads = e->writes = 0;
	e->rate_start = 0;
	e->rate_count = 0;
}

/* ---- libmicrohttpd glue ---- */

/*
 * MHD_get_connection_values callback: appends one header (name lower-cased)
 * or query argument to the vec in cls.
 */
enum MHD_Result
emu_collect(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct vec *v = cls;
	struct emu_kvpair *p = xcalloc(1, sizeof(*p));

	p->k = xstrdup(key);
	p->v = xstrdup(value ? value : "");
	if (kind == MHD_HEADER_KIND)
		for (char *c = p->k; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
	emu_vec_push(v, p);
	return MHD_YES;
}

static int
client_is_loopback(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa;

	if (ci == NULL || ci->client_addr == NULL)
		return 0;
	sa = ci->client_addr;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) ||
		       (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) &&
		        in6->sin6_addr.s6_addr[12] == 127);
	}
	return 0;
}

/*
 * The MHD access handler: buffers the body (up to EMU_MAX_BODY; beyond it
 * HTTP 413), then builds a struct emu_req and dispatches it. Returning
 * MHD_NO makes MHD close the connection: that is how a dropped-connection
 * fault is delivered.
 */
static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url,
           const char *method, const char *version, const char *upload,
           size_t *upload_size, void **con_cls)
{
	struct emu *e = cls;
	struct emu_conn *cn = *con_cls;
	struct emu_req rq;
	struct emu_resp rs;
	struct MHD_Response *resp;
	enum MHD_Result ret;

	(void)version;
	if (cn == NULL) {
		cn = xcalloc(1, sizeof(*cn));
		buf_init(&cn->body, EMU_MAX_BODY);
		*con_cls = cn;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		(void)buf_append(&cn->body, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	memset(&rs, 0, sizeof(rs));
	emu_req_init(&rq, method, url);
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, emu_collect, &rq.query);
	MHD_get_connection_values(c, MHD_HEADER_KIND, emu_collect, &rq.headers);
	if (cn->body.toobig) {
		emu_fail(&rs, 413, 10000, "request body larger than %u bytes",
		         EMU_MAX_BODY);
	} else {
		rq.body_len = cn->body.len;
		rq.body = cn->body.data ? buf_take(&cn->body) : xstrdup("");
		emu_dispatch(e, &rq, &rs, client_is_loopback(c));
	}
	emu_req_release(&rq);
	if (rs.drop) {
		free(rs.body);
		return MHD_NO;
	}
	resp = MHD_create_response_from_buffer(rs.len, rs.body, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, rs.ctype);
	if (rs.etag[0] != '\0') /* D1's import upload answers its MD5 */
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, rs.etag);
	if (rs.retry_after) {
		char ra[32];

		snprintf(ra, sizeof(ra), "%u", rs.retry_after);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	ret = MHD_queue_response(c, rs.status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* MHD's request-completed callback: frees the connection's buffered body. */
void
emu_conn_done(void *cls, struct MHD_Connection *c, void **con_cls,
              enum MHD_RequestTerminationCode toe)
{
	struct emu_conn *cn = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (cn == NULL)
		return;
	buf_release(&cn->body);
	free(cn);
	*con_cls = NULL;
}

/*
 * Splits "HOST:PORT" or "[V6]:PORT" into a socket address. "localhost"
 * means 127.0.0.1. Refuses a non-loopback host unless any is set.
 */
enum errcode
emu_parse_listen(const char *s, int any, struct sockaddr_storage *ss, char **host,
             struct err *err)
{
	const char *colon;
	char h[128];
	long long port;
	int loop;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL || close[1] != ':')
			return err_set(err, ERR_INVALID, "bad listen address '%s'", s);
		snprintf(h, sizeof(h), "%.*s", (int)(close - s - 1), s + 1);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || colon == s)
			return err_set(err, ERR_INVALID,
			               "bad listen address '%s' (want HOST:PORT)", s);
		snprintf(h, sizeof(h), "%.*s", (int)(colon - s), s);
	}
	if (emu_parse_ll(colon + 1, &port) != 0 || port < 0 || port > 65535)
		return err_set(err, ERR_INVALID, "bad port in listen address '%s'", s);
	if (strcmp(h, "localhost") == 0)
		snprintf(h, sizeof(h), "127.0.0.1");
	if (s[0] != '[') {
		struct sockaddr_in *in = (void *)ss;

		in->sin_family = AF_INET;
		in->sin_port = htons((unsigned short)port);
		if (inet_pton(AF_INET, h, &in->sin_addr) != 1)
			return err_set(err, ERR_INVALID, "bad listen host '%s'", h);
		loop = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	} else {
		struct sockaddr_in6 *in6 = (void *)ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((unsigned short)port);
		if (inet_pton(AF_INET6, h, &in6->sin6_addr) != 1)
			return err_set(err, ERR_INVALID, "bad listen host '%s'", h);
		loop = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
	}
	if (!loop && !any)
		return err_set(err, ERR_INVALID,
		               "refusing to listen on non-loopback address '%s' "
		               "(use --listen-any)", s);
	*host = s[0] == '[' ? xasprintf("[%s]", h) : xstrdup(h);
	return ERR_OK;
}

static void
emu_free(struct emu *e)
{
	emu_reset_all(e);
	emu_journal_close(e);
	pthread_mutex_destroy(&e->mu);
	free(e->listen_host);
	free(e->data_dir);
	free(e->token);
	free(e->account_id);
	free(e);
}

/*
 * Loads the data directory (if any), binds and starts serving. The listen
 * address must be loopback unless listen_any (README: cfemu).
 */
struct emu *
emu_start(const struct emu_config *cfg, struct err *err)
{
	struct emu *e = xcalloc(1, sizeof(*e));
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *di;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD |
	                 MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
	                 MHD_USE_ITC; /* wakes the poll thread at once on stop */

	pthread_mutex_init(&e->mu, NULL);
	e->journal_fd = -1;
	e->token = xstrdup(cfg->token ? cfg->token : EMU_DEFAULT_TOKEN);
	e->account_id = xstrdup(cfg->account_id ? cfg->account_id : EMU_DEFAULT_ACCOUNT);
	e->rate_n = cfg->rate_n ? cfg->rate_n : EMU_DEFAULT_RATE_N;
	e->rate_secs = cfg->rate_secs ? cfg->rate_secs : EMU_DEFAULT_RATE_SECS;
	e->latency_ms = cfg->latency_ms;
	e->fault_rate = cfg->fault_rate;
	e->seed = cfg->seed;
	e->rng = cfg->seed ^ 0x5eedc0de5eedc0deULL;
	if (!is_hex32(e->account_id)) {
		err_set(err, ERR_INVALID, "account id '%s' is not 32 hex digits",
		        e->account_id);
		goto fail;
	}
	if (emu_parse_listen(cfg->listen_addr ? cfg->listen_addr : "127.0.0.1:0",
	                 cfg->listen_any, &ss, &e->listen_host, err) != ERR_OK)
		goto fail;
	if (cfg->data_dir != NULL) {
		e->data_dir = xstrdup(cfg->data_dir);
		if (emu_journal_open(e, err) != ERR_OK)
			goto fail;
	}
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	e->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, e,
	                          MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	                          MHD_OPTION_NOTIFY_COMPLETED, emu_conn_done, e,
	                          MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)EMU_CONN_TIMEOUT,
	                          MHD_OPTION_END);
	if (e->mhd == NULL) {
		err_set(err, ERR_IO, "cannot listen on '%s'",
		        cfg->listen_addr ? cfg->listen_addr : "127.0.0.1:0");
		goto fail;
	}
	di = MHD_get_daemon_info(e->mhd, MHD_DAEMON_INFO_BIND_PORT);
	e->port = di ? di->port : 0;
	if (emu_s3_start(e, cfg->s3_listen_addr ? cfg->s3_listen_addr : "127.0.0.1:0",
	                 cfg->listen_any, err) != ERR_OK) {
		MHD_stop_daemon(e->mhd);
		goto fail;
	}
	log_debug("emulator started", "port=%u", e->port);
	return e;
fail:
	emu_free(e);
	return NULL;
}

unsigned
emu_port(const struct emu *e)
{
	return e->port;
}

void
emu_stop(struct emu *e)
{
	if (e == NULL)
		return;
	emu_s3_stop(e);
	if (e->mhd)
		MHD_stop_daemon(e->mhd);
	emu_free(e);
}
