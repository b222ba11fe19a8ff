#include "api.h"

#include <cJSON.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <curl/curl.h>
#include <ctype.h>
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../log/log.h"
#include "../url/url.h"
#include "../timefmt/timefmt.h"

#ifndef CFS_VERSION
#define CFS_VERSION "dev"
#endif

/* Transport failures (connection refused, name not found) are retried only
 * this often: an unreachable endpoint should fail in seconds, not minutes. */
#define API_CONNECT_RETRIES 2
/* 429s are retried more often than other failures: they cost nothing. */
#define API_THROTTLE_RETRIES 30

struct inflight {
	CURL *h;
	struct curl_slist *hdrs;
	long retry_after_s;  /* from the Retry-After header, -1 if none */
	size_t header_bytes; /* of this answer, against API_MAX_HEADER_BYTES */
	int headers_toobig;
	char errbuf[CURL_ERROR_SIZE];
};

/*
 * A sliding request window: the send times (monotonic ms) of the requests of
 * the last win_ms, in a ring that grows as it fills, up to `limit` slots, so
 * a large --rate-limit N costs memory only when that many requests are
 * actually sent within one window (8 bytes each), never up front.
 */
struct rate_window {
	int64_t *stamps;
	size_t head, count, cap;
	size_t limit;            /* at most this many in any window; 0: unlimited */
	int64_t win_ms;
};

struct api {
	CURLM *multi;
	CURL **idle;            /* easy handles kept for reuse (their connections live
	                           in the multi's shared cache) */
	size_t nidle;
	char *base;             /* without a trailing '/' */
	char *auth;             /* "Authorization: Bearer ..." */
	char *account;
	unsigned parallelism, running;
	unsigned rate_n, rate_secs, max_retries;
	struct rate_window all;  /* every request: rate_n per rate_secs */
	struct rate_window reads; /* GETs, when a read share is set (limit 0: none) */
	int64_t paused_until;   /* a 429's Retry-After */
	struct api_call **queue;
	size_t nqueue, capqueue;
	uint64_t rng;
	struct api_stats stats;
	api_observer_fn observer;
	void *observer_user;
	api_cancel_fn cancel;
	void *cancel_user;
	int64_t cancelled_at;    /* monotonic ms of the first cancel, 0 if none */
	size_t test_pages, test_items, test_bytes; /* API_TEST_LIST_BOUNDS_ENV, 0: none */
	struct api_call *inflight[API_MAX_PARALLELISM];
};

void
api_set_observer(struct api *a, api_observer_fn fn, void *user)
{
	a->observer = fn;
	a->observer_user = user;
}

void
api_set_cancel(struct api *a, api_cancel_fn fn, void *user)
{
	a->cancel = fn;
	a->cancel_user = user;
}

/*
 * "/r2/buckets/logs/cors?x=1" -> "/accounts/{account_id}/r2/buckets/{bucket_name}/cors":
 * each name or id takes the placeholder its parent collection implies.
 */
char *
api_route_template(const char *path)
{
	static const struct { const char *coll, *ph; } ph[] = {
		{ "buckets", "{bucket_name}" }, { "namespaces", "{namespace_id}" },
		{ "stores", "{store_id}" }, { "scripts", "{script_name}" },
		{ "values", "{key_name}" }, { "metadata", "{key_name}" },
		{ "objects", "{object_key}" },
	};
	struct buf b;
	const char *p = path, *prev = NULL;
	size_t prevlen = 0;
	int in_store_secrets = 0;

	buf_init(&b, 4096);
	buf_puts(&b, "/accounts/{account_id}");
	while (*p == '/') {
		const char *seg = ++p;
		size_t len = strcspn(seg, "/?");
		const char *out = NULL;

		for (size_t i = 0; prev && i < sizeof(ph) / sizeof(ph[0]); i++)
			if (strlen(ph[i].coll) == prevlen && strncmp(prev, ph[i].coll, prevlen) == 0)
				out = ph[i].ph;
		if (prev && prevlen == 7 && strncmp(prev, "secrets", 7) == 0 && len &&
		    !(len == 4 && strncmp(seg, "bulk", 4) == 0))
			out = in_store_secrets ? "{secret_id}" : "{secret_name}";
		if (len == 6 && strncmp(seg, "stores", 6) == 0)
			in_store_secrets = 1;
		if (len == 7 && strncmp(seg, "scripts", 7) == 0)
			in_store_secrets = 0;
		buf_puts(&b, "/");
		if (out)
			buf_puts(&b, out);
		else
			buf_append(&b, seg, len);
		prev = out ? "" : seg;
		prevlen = out ? 0 : len;
		p = seg + len;
		if (*p == '?')
			break;
	}
	return buf_take(&b);
}


static uint64_t
rnd(struct api *a)
{
	/* xorshift64*: jitter only, not security */
	a->rng ^= a->rng >> 12;
	a->rng ^= a->rng << 25;
	a->rng ^= a->rng >> 27;
	return a->rng * 2685821657736338717ULL;
}

/*
 * libcurl's allocator. Request bodies with a secret value are copied by
 * libcurl into its own send buffer (headers and a small body go out in one
 * write), and the Authorization header is copied too; libcurl frees those
 * buffers with the bytes in them. So every block libcurl frees is cleansed
 * first (its whole usable size, as malloc_usable_size() reports it), and a
 * realloc never leaves the old block behind uncleansed: it moves to a new
 * block and cleanses the old one, unless the block already has room.
 */
static void
cleansing_free(void *p)
{
	if (p == NULL)
		return;
	OPENSSL_cleanse(p, malloc_usable_size(p));
	free(p);
}

static void *
cleansing_malloc(size_t n)
{
	return malloc(n);
}

static void *
cleansing_calloc(size_t nmemb, size_t n)
{
	return calloc(nmemb, n);
}

static void *
cleansing_realloc(void *p, size_t n)
{
	size_t have;
	void *q;

	if (p == NULL)
		return malloc(n);
	if (n == 0) {
		cleansing_free(p);
		return NULL;
	}
	have = malloc_usable_size(p);
	if (n <= have)
		return p;
	if ((q = malloc(n)) == NULL)
		return NULL;
	memcpy(q, p, have);
	cleansing_free(p);
	return q;
}

static char *
cleansing_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = malloc(n);

	if (p)
		memcpy(p, s, n);
	return p;
}

static int curl_ready;

void
api_global_init(void)
{
	if (curl_ready)
		return;
	curl_global_init_mem(CURL_GLOBAL_DEFAULT, cleansing_malloc, cleansing_free,
	                     cleansing_realloc, cleansing_strdup, cleansing_calloc);
	curl_ready = 1;
}

/* One number of API_TEST_LIST_BOUNDS_ENV; 0 when absent or not a number. */
static size_t
test_bound(const char **p)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(*p, &end, 10);
	if (end == *p || errno != 0 || (*end != ',' && *end != '\0'))
		v = 0;
	*p = strchr(*p, ',') ? strchr(*p, ',') + 1 : *p + strlen(*p);
	return (size_t)v;
}

/* Tests only (see API_TEST_LIST_BOUNDS_ENV): lower listing bounds. */
static void
test_bounds(struct api *a)
{
	const char *p = getenv(API_TEST_LIST_BOUNDS_ENV);

	if (p == NULL || p[0] == '\0')
		return;
	a->test_pages = test_bound(&p);
	a->test_items = test_bound(&p);
	a->test_bytes = test_bound(&p);
}

struct api *
api_new(const struct api_config *cfg, struct err *e)
{
	struct api *a;
	char *base;

	if (cfg->base_url == NULL || cfg->base_url[0] == '\0') {
		err_set(e, ERR_INVALID, "no API endpoint");
		return NULL;
	}
	if (cfg->token == NULL || cfg->token[0] == '\0') {
		err_set(e, ERR_INVALID, "no API token: set CLOUDFLARE_API_TOKEN or use "
		        "--api-token-file FILE");
		return NULL;
	}
	for (const char *p = cfg->token; *p; p++) {
		if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e) {
			err_set(e, ERR_INVALID, "the API token contains spaces or control "
			        "characters");
			return NULL;
		}
	}
	if (cfg->account_id == NULL || cfg->account_id[0] == '\0') {
		err_set(e, ERR_INVALID, "no account: set CLOUDFLARE_ACCOUNT_ID or use "
		        "--account-id ID");
		return NULL;
	}
	if (strspn(cfg->account_id, "0123456789abcdefABCDEF") != strlen(cfg->account_id) ||
	    strlen(cfg->account_id) > 64) {
		err_set(e, ERR_INVALID, "account id '%.64s' is not a hex string",
		        cfg->account_id);
		return NULL;
	}
	api_global_init();
	/* libcurl's parser decides the host (plain http to loopback only, no
	 * userinfo); the base kept is its normalised form of what was checked */
	if (url_check_endpoint(cfg->base_url, "endpoint", &base, e) != ERR_OK)
		return NULL;
	a = xcalloc(1, sizeof(*a));
	a->multi = curl_multi_init();
	a->base = base; /* hand-over */
	a->auth = xasprintf("Authorization: Bearer %s", cfg->token);
	a->account = xstrdup(cfg->account_id);
	a->parallelism = cfg->parallelism ? cfg->parallelism : API_DEFAULT_PARALLELISM;
	if (a->parallelism > API_MAX_PARALLELISM)
		a->parallelism = API_MAX_PARALLELISM;
	a->rate_n = cfg->rate_n ? cfg->rate_n : API_DEFAULT_RATE_N;
	a->rate_secs = cfg->rate_secs ? cfg->rate_secs : API_DEFAULT_RATE_SECS;
	a->max_retries = cfg->max_retries ? cfg->max_retries : API_MAX_RETRIES;
	a->all.limit = a->rate_n;
	a->all.win_ms = (int64_t)a->rate_secs * 1000 + API_RATE_SLACK_MS;
	a->reads.win_ms = a->all.win_ms;
	a->idle = xcalloc(a->parallelism, sizeof(*a->idle));
	a->rng = cfg->seed ? cfg->seed : (uint64_t)time(NULL) * 2654435761u + 1;
	curl_multi_setopt(a->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)a->parallelism);
	test_bounds(a);
	return a;
}

void
api_free(struct api *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->nqueue; i++)
		api_call_free(a->queue[i]);
	free(a->queue);
	for (size_t i = 0; i < a->nidle; i++)
		curl_easy_cleanup(a->idle[i]);
	free(a->idle);
	curl_multi_cleanup(a->multi);
	free(a->base);
	if (a->auth) {
		memset(a->auth, 0, strlen(a->auth));
		free(a->auth);
	}
	free(a->account);
	free(a->all.stamps);
	free(a->reads.stamps);
	free(a);
}

const struct api_stats *
api_get_stats(const struct api *a)
{
	return &a->stats;
}

const char *
api_account(const struct api *a)
{
	return a->account;
}

/* A call whose response body may hold at most `limit` bytes. */
static struct api_call *
call_newv(const char *method, size_t limit, const char *fmt, va_list ap)
{
	struct api_call *c = xcalloc(1, sizeof(*c));
	struct buf b;

	c->method = method;
	buf_init(&b, 64 * 1024);
	buf_vprintf(&b, fmt, ap);
	c->path = buf_take(&b);
	buf_init(&c->resp, limit);
	return c;
}

struct api_call *
api_call_new(const char *method, const char *fmt, ...)
{
	struct api_call *c;
	va_list ap;

	va_start(ap, fmt);
	c = call_newv(method, API_MAX_RESPONSE, fmt, ap);
	va_end(ap);
	return c;
}

void
api_call_free(struct api_call *c)
{
	if (c == NULL)
		return;
	free(c->path);
	free(c->jurisdiction);
	free(c->storage_class);
	if (c->body && c->sensitive)
		OPENSSL_cleanse(c->body, c->body_len);
	free(c->body);
	buf_release(&c->resp);
	free(c);
}

int
api_id_ok(const char *s)
{
	size_t n = s ? strspn(s, "0123456789abcdefghijklmnopqrstuvwxyz"
	                         "ABCDEFGHIJKLMNOPQRSTUVWXYZ_-") : 0;

	return n > 0 && n <= API_ID_MAX && s[n] == '\0';
}

int
api_name_ok(const char *s)
{
	size_t n = 0;

	if (s == NULL)
		return 0;
	for (; s[n]; n++)
		if ((unsigned char)s[n] < 0x20 || (unsigned char)s[n] == 0x7f || n >= API_NAME_MAX)
			return 0;
	return n > 0;
}

int
api_path_ok(const char *path)
{
	const char *p = path;

	while (*p && *p != '?') {
		size_t dots = 0, other = 0;

		if (*p == '/') {
			p++;
			continue;
		}
		for (; *p && *p != '/' && *p != '?'; p++) {
			unsigned char ch = (unsigned char)*p;

			if (ch <= 0x20 || ch >= 0x7f || ch == '#' || ch == '\\')
				return 0;
			if (ch == '.') {
				dots++;
			} else if (ch == '%' && p[1] == '2' && (p[2] == 'e' || p[2] == 'E')) {
				dots++;
				p += 2;
			} else {
				other++;
			}
		}
		if (other == 0 && (dots == 1 || dots == 2))
			return 0; /* "." or "..": the server would resolve it */
	}
	for (; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '#')
			return 0;
	return 1;
}

char *
api_escape(const char *s)
{
	struct buf b;

	buf_init(&b, (size_t)-1);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~')
			buf_append(&b, s, 1);
		else
			buf_printf(&b, "%%%02X", ch);
	}
	return buf_take(&b);
}

static size_t
on_body(char *p, size_t size, size_t n, void *user)
{
	struct api_call *c = user;

	if (buf_append(&c->resp, p, size * n) < 0)
		return 0; /* too big: curl aborts with CURLE_WRITE_ERROR */
	return size * n;
}

static size_t
on_header(char *p, size_t size, size_t n, void *user)
{
	struct api_call *c = user;
	struct inflight *f = c->priv;
	size_t len = size * n;

	if (len > API_MAX_HEADER_BYTES - f->header_bytes) {
		f->headers_toobig = 1;
		return 0; /* an endless header stream: curl aborts the transfer */
	}
	f->header_bytes += len;
	if (len > 13 && strncasecmp(p, "content-type:", 13) == 0) {
		size_t k = 0;

		/* printable bytes only: it may end up in an error line */
		for (size_t i = 13; i < len && k + 1 < sizeof(c->content_type); i++)
			if ((unsigned char)p[i] > 0x20 && (unsigned char)p[i] < 0x7f)
				c->content_type[k++] = p[i];
		c->content_type[k] = '\0';
	}
	if (len > 12 && strncasecmp(p, "retry-after:", 12) == 0) {
		char v[64];
		size_t vl = len - 12 < sizeof(v) - 1 ? len - 12 : sizeof(v) - 1;
		char *end;
		long s;

		memcpy(v, p + 12, vl);
		v[vl] = '\0';
		s = strtol(v, &end, 10);
		if (end != v && s >= 0) {
			f->retry_after_s = s;
		} else {
			time_t t = curl_getdate(v + strspn(v, " "), NULL);

			if (t > 0)
				f->retry_after_s = t > time(NULL) ? (long)(t - time(NULL)) : 0;
		}
	}
	return len;
}

static int
is_write(const char *m)
{
	return strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0;
}

/* Starts c on an easy handle (reused when one is idle). */
static void
start(struct api *a, struct api_call *c)
{
	struct inflight *f = xcalloc(1, sizeof(*f));
	char *url, *hdr;

	int64_t now = mono_ms(), left;

	c->priv = f;
	f->retry_after_s = -1;
	f->h = a->nidle ? a->idle[--a->nidle] : curl_easy_init();
	curl_easy_reset(f->h);
	buf_reset(&c->resp);
	c->resp.toobig = 0;
	c->content_type[0] = '\0';
	if (c->first_ms == 0)
		c->first_ms = now;
	/* this attempt may take what is left of the call's deadline, at most
	 * API_TIMEOUT_MS */
	left = c->first_ms + API_CALL_DEADLINE_MS - now;
	if (left > API_TIMEOUT_MS)
		left = API_TIMEOUT_MS;
	if (left < 1)
		left = 1;
	url = xasprintf("%s/accounts/%s%s", a->base, a->account, c->path);
	curl_easy_setopt(f->h, CURLOPT_URL, url);
	free(url);
	curl_easy_setopt(f->h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(f->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(f->h, CURLOPT_CONNECTTIMEOUT_MS, (long)API_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(f->h, CURLOPT_TIMEOUT_MS, (long)left);
	curl_easy_setopt(f->h, CURLOPT_LOW_SPEED_LIMIT, (long)API_LOW_SPEED_BYTES);
	curl_easy_setopt(f->h, CURLOPT_LOW_SPEED_TIME, (long)API_LOW_SPEED_S);
	/* a Content-Length over the call's limit fails before the body is read */
	curl_easy_setopt(f->h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->resp.limit);
	curl_easy_setopt(f->h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(f->h, CURLOPT_USERAGENT, "cfstorage/" CFS_VERSION);
	curl_easy_setopt(f->h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(f->h, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(f->h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(f->h, CURLOPT_HEADERDATA, c);
	curl_easy_setopt(f->h, CURLOPT_ERRORBUFFER, f->errbuf);
	curl_easy_setopt(f->h, CURLOPT_PRIVATE, c);
	f->hdrs = curl_slist_append(f->hdrs, a->auth);
	f->hdrs = curl_slist_append(f->hdrs, "Accept: application/json");
	if (c->jurisdiction) {
		hdr = xasprintf("cf-r2-jurisdiction: %s", c->jurisdiction);
		f->hdrs = curl_slist_append(f->hdrs, hdr);
		free(hdr);
	}
	if (c->storage_class) {
		hdr = xasprintf("cf-r2-storage-class: %s", c->storage_class);
		f->hdrs = curl_slist_append(f->hdrs, hdr);
		free(hdr);
	}
	if (strcmp(c->method, "GET") == 0) {
		curl_easy_setopt(f->h, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(f->h, CURLOPT_CUSTOMREQUEST, c->method);
		/* a body on DELETE too (Secrets Store bulk delete, REFERENCE pitfall 13) */
		curl_easy_setopt(f->h, CURLOPT_POSTFIELDSIZE, (long)(c->body ? c->body_len : 0));
		curl_easy_setopt(f->h, CURLOPT_POSTFIELDS, c->body ? c->body : "");
		if (c->body)
			f->hdrs = curl_slist_append(f->hdrs, "Content-Type: application/json");
	}
	curl_easy_setopt(f->h, CURLOPT_HTTPHEADER, f->hdrs);
	c->attempts++;
	a->stats.requests++;
	if (is_write(c->method) && !c->read_only)
		a->stats.writes++;
	curl_multi_add_handle(a->multi, f->h);
	for (size_t i = 0; i < API_MAX_PARALLELISM; i++)
		if (a->inflight[i] == NULL) {
			a->inflight[i] = c;
			break;
		}
	a->running++;
	log_debug("api request", "method=%s path=\"%s\" attempt=%u", c->method, c->path,
	          c->attempts);
}

void
api_submit(struct api *a, struct api_call *c, api_done_fn done, void *user)
{
	c->done = done;
	c->user = user;
	if (a->nqueue == a->capqueue) {
		a->capqueue = a->capqueue ? a->capqueue * 2 : 16;
		a->queue = xrealloc(a->queue, a->capqueue * sizeof(*a->queue));
	}
	a->queue[a->nqueue++] = c;
}

/*
 * Counts the JSON values in a body without parsing it (every value but the
 * first follows a ',' or opens an array or object outside a string), so a
 * small body that would cost cJSON hundreds of megabytes is refused first.
 * Returns 1 when there are at most `max`.
 */
static int
json_values_ok(const char *p, size_t n, size_t max)
{
	size_t values = 1;
	int in_str = 0;

	for (size_t i = 0; i < n; i++) {
		char ch = p[i];

		if (in_str) {
			if (ch == '\\')
				i++;
			else if (ch == '"')
				in_str = 0;
		} else if (ch == '"') {
			in_str = 1;
		} else if ((ch == ',' || ch == '[' || ch == '{') && ++values > max) {
			return 0;
		}
	}
	return 1;
}

cJSON *
api_json_parse(const struct api_call *c, char *why, size_t whylen)
{
	const char *end;
	cJSON *root;

	if (c->resp.len == 0) {
		snprintf(why, whylen, "the response is empty");
		return NULL;
	}
	if (memmem(c->resp.data, c->resp.len, "\\u0000", 6) != NULL) {
		snprintf(why, whylen, "the response holds a NUL character (\\u0000)");
		return NULL;
	}
	if (!json_values_ok(c->resp.data, c->resp.len, API_JSON_MAX_VALUES)) {
		snprintf(why, whylen, "the response holds more than %d JSON values",
		         API_JSON_MAX_VALUES);
		return NULL;
	}
	root = cJSON_ParseWithLengthOpts(c->resp.data, c->resp.len, &end, 0);
	if (root == NULL)
		snprintf(why, whylen, "the response is not JSON (%zu bytes, content type '%s')",
		         c->resp.len, c->content_type[0] ? c->content_type : "none");
	return root;
}

/*
 * Cloudflare's envelope on a failed call: the first error's code and
 * message. `errors` may be anything a server sends (not an array, entries
 * without a code, 10,000 entries); only a number code and a string message
 * of the first entry are taken, and a body over API_MAX_ERROR_BODY is not
 * parsed at all.
 */
static void
envelope_error(struct api_call *c, int *code, char *msg, size_t len)
{
	cJSON *root, *errs, *first, *v;
	char why[128];

	*code = 0;
	msg[0] = '\0';
	if (c->resp.len > API_MAX_ERROR_BODY)
		return;
	root = api_json_parse(c, why, sizeof(why));
	if (root == NULL)
		return;
	errs = cJSON_GetObjectItemCaseSensitive(root, "errors");
	first = cJSON_IsArray(errs) ? cJSON_GetArrayItem(errs, 0) : NULL;
	if (cJSON_IsObject(first)) {
		v = cJSON_GetObjectItemCaseSensitive(first, "code");
		if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= 9999999)
			*code = (int)v->valuedouble;
		v = cJSON_GetObjectItemCaseSensitive(first, "message");
		if (cJSON_IsString(v))
			snprintf(msg, len, "%s", v->valuestring);
	}
	cJSON_Delete(root);
}

static int64_t
backoff_ms(struct api *a, unsigned attempt)
{
	int64_t cap = API_BACKOFF_BASE_MS;

	for (unsigned i = 1; i < attempt && cap < API_BACKOFF_CAP_MS; i++)
		cap *= 2;
	if (cap > API_BACKOFF_CAP_MS)
		cap = API_BACKOFF_CAP_MS;
	return (int64_t)(rnd(a) % (uint64_t)(cap + 1)); /* full jitter */
}

/*
 * Schedules another attempt of c after `wait` ms, if the call's wait budget
 * (API_CALL_MAX_WAIT_MS) and deadline (API_CALL_DEADLINE_MS) allow it:
 * returns 1, or 0 with the reason appended to c->err (c->rc stays as set).
 */
static int
retry_after(struct api_call *c, int64_t now, int64_t wait)
{
	size_t n = strlen(c->err.msg);

	if (c->waited_ms + wait > API_CALL_MAX_WAIT_MS) {
		snprintf(c->err.msg + n, sizeof(c->err.msg) - n, "; gave up after waiting "
		         "%lld s, the most one call waits is %d s", (long long)(c->waited_ms / 1000),
		         API_CALL_MAX_WAIT_MS / 1000);
		return 0;
	}
	if (now + wait >= c->first_ms + API_CALL_DEADLINE_MS) {
		snprintf(c->err.msg + n, sizeof(c->err.msg) - n, "; gave up after %u attempts, "
		         "the deadline of one call is %d s", c->attempts,
		         API_CALL_DEADLINE_MS / 1000);
		return 0;
	}
	c->waited_ms += wait;
	c->not_before_ms = now + wait;
	return 1;
}

/* Says in c->err that the call's retries of this kind are used up; 0. */
static int
gave_up(struct api_call *c)
{
	size_t n = strlen(c->err.msg);

	snprintf(c->err.msg + n, sizeof(c->err.msg) - n, "; gave up after %u attempts",
	         c->attempts);
	return 0;
}

/*
 * Decides what a finished attempt means: done (with rc set) or retry (returns
 * 1 with c->not_before_ms set). Every retry is bounded three ways: a count
 * per kind of failure, the call's total wait and the call's deadline.
 */
static int
classify(struct api *a, struct api_call *c, CURLcode cc)
{
	struct inflight *f = c->priv;
	int64_t now = mono_ms();
	int code;
	char msg[200];

	c->status = 0;
	if (cc != CURLE_OK) {
		int connect = cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST ||
		              cc == CURLE_COULDNT_RESOLVE_PROXY;
		int stall = cc == CURLE_OPERATION_TIMEDOUT;

		if (!connect)
			c->unheard++; /* it may have reached the server: its effect is unknown */

		if ((cc == CURLE_WRITE_ERROR && c->resp.toobig) || cc == CURLE_FILESIZE_EXCEEDED) {
			c->rc = err_set(&c->err, ERR_PERMANENT, "%s %s: response larger than %zu bytes",
			                c->method, c->path, c->resp.limit);
			return 0;
		}
		if (cc == CURLE_WRITE_ERROR && f->headers_toobig) {
			c->rc = err_set(&c->err, ERR_PERMANENT, "%s %s: response headers larger than "
			                "%u bytes", c->method, c->path, API_MAX_HEADER_BYTES);
			return 0;
		}
		if (cc == CURLE_SSL_CACERT || cc == CURLE_PEER_FAILED_VERIFICATION ||
		    cc == CURLE_SSL_CONNECT_ERROR || cc == CURLE_UNSUPPORTED_PROTOCOL) {
			c->rc = err_set(&c->err, ERR_PERMANENT, "%s", f->errbuf[0] ? f->errbuf
			                : curl_easy_strerror(cc));
			return 0;
		}
		c->rc = err_set(&c->err, ERR_TRANSIENT, "%s %s: %s", c->method, c->path,
		                f->errbuf[0] ? f->errbuf : curl_easy_strerror(cc));
		if (a->observer) {
			char *route = api_route_template(c->path);

			a->observer(c->method, route, 0, a->observer_user);
			free(route);
		}
		if (c->no_blind_retry && !connect)
			return 0; /* it may have been done: the caller looks first */
		if (stall && ++c->stalls > API_STALL_RETRIES)
			return gave_up(c);
		if (c->attempts > (connect ? API_CONNECT_RETRIES : a->max_retries))
			return gave_up(c);
		if (!retry_after(c, now, backoff_ms(a, c->attempts)))
			return 0;
		a->stats.retries++;
		return 1;
	}
	curl_easy_getinfo(f->h, CURLINFO_RESPONSE_CODE, &c->status);
	if (a->observer) {
		char *route = api_route_template(c->path);

		a->observer(c->method, route, c->status, a->observer_user);
		free(route);
	}
	if (c->status >= 200 && c->status < 300) {
		c->cf_code = 0;
		c->rc = ERR_OK;
		return 0;
	}
	envelope_error(c, &code, msg, sizeof(msg));
	c->cf_code = code;
	if (code)
		err_set(&c->err, ERR_PERMANENT, "%s %s: HTTP %ld, code %d: %s", c->method,
		        c->path, c->status, code, msg);
	else
		err_set(&c->err, ERR_PERMANENT, "%s %s: HTTP %ld", c->method, c->path,
		        c->status);
	if (c->status == 429) {
		long ra = f->retry_after_s >= 0 ? f->retry_after_s : 1;
		int64_t pause = (ra > API_RETRY_AFTER_CAP_S ? API_RETRY_AFTER_CAP_S : ra) * 1000;
		size_t n = strlen(c->err.msg);

		a->stats.throttled++;
		c->rc = c->err.code = ERR_RATELIMITED;
		if (now + pause > a->paused_until)
			a->paused_until = now + pause; /* the limit is per user: everyone waits */
		if (ra > API_RETRY_AFTER_CAP_S) {
			snprintf(c->err.msg + n, sizeof(c->err.msg) - n, "; Retry-After %ld s is "
			         "longer than the %d s cfstorage waits", ra, API_RETRY_AFTER_CAP_S);
			return 0;
		}
		if (c->attempts > API_THROTTLE_RETRIES)
			return gave_up(c);
		/* the wait lasts until the shared pause ends */
		if (!retry_after(c, now, a->paused_until - now))
			return 0;
		a->stats.rate_waits++;
		return 1;
	}
	if (c->status >= 500) {
		c->rc = c->err.code = ERR_TRANSIENT;
		if (c->no_blind_retry)
			return 0;
		if (c->attempts > a->max_retries)
			return gave_up(c);
		if (!retry_after(c, now, backoff_ms(a, c->attempts)))
			return 0;
		a->stats.retries++;
		return 1;
	}
	switch (c->status) {
	case 401: case 403: c->rc = ERR_AUTH; break;
	case 404: c->rc = ERR_NOTFOUND; break;
	case 409: c->rc = ERR_CONFLICT; break;
	case 400: c->rc = code == API_CF_KV_TITLE_EXISTS ? ERR_CONFLICT : ERR_INVALID; break;
	default: c->rc = ERR_PERMANENT; break;
	}
	c->err.code = c->rc;
	return 0;
}

/* Drops the stamps that left the window w. */
static void
rw_expire(struct rate_window *w, int64_t now)
{
	while (w->count > 0 && w->stamps[w->head] <= now - w->win_ms) {
		w->head = (w->head + 1) % w->cap;
		w->count--;
	}
}

/* How long until w has room for one more request (0: now). */
static int64_t
rw_wait(struct rate_window *w, int64_t now)
{
	if (w->limit == 0)
		return 0;
	rw_expire(w, now);
	if (w->count < w->limit)
		return 0;
	return w->stamps[w->head] + w->win_ms - now;
}

/* Records a request sent at now, growing the ring (doubling, at most to the
 * limit) when it is full. */
static void
rw_spend(struct rate_window *w, int64_t now)
{
	if (w->limit == 0)
		return;
	if (w->count == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : API_RATE_RING_MIN;
		int64_t *v;

		if (cap > w->limit)
			cap = w->limit;
		v = xcalloc(cap, sizeof(*v));
		for (size_t i = 0; i < w->count; i++)
			v[i] = w->stamps[(w->head + i) % w->cap];
		free(w->stamps);
		w->stamps = v;
		w->head = 0;
		w->cap = cap;
	}
	w->stamps[(w->head + w->count) % w->cap] = now;
	w->count++;
}

/* A read for the read share: a GET, or a POST that only reads (a D1 SELECT),
 * so a daemon's per-database reads stay inside its share too. */
static int
is_read(const struct api_call *c)
{
	return strcmp(c->method, "GET") == 0 || c->read_only;
}

/* How long until c may be sent (0: now): the whole budget, and for a read
 * the read share too. */
static int64_t
budget_wait(struct api *a, const struct api_call *c, int64_t now)
{
	int64_t w = rw_wait(&a->all, now), r;

	if (is_read(c) && (r = rw_wait(&a->reads, now)) > w)
		w = r;
	return w;
}

static void
spend(struct api *a, const struct api_call *c, int64_t now)
{
	rw_spend(&a->all, now);
	if (is_read(c))
		rw_spend(&a->reads, now);
}

void
api_set_read_share(struct api *a, unsigned n)
{
	a->reads.limit = n;
	if (n == 0 || n > a->rate_n)
		a->reads.limit = 0;
}

unsigned
api_read_room(struct api *a)
{
	int64_t now = mono_ms();
	size_t room;

	rw_expire(&a->all, now);
	room = a->all.count < a->all.limit ? a->all.limit - a->all.count : 0;
	if (a->reads.limit) {
		size_t r;

		rw_expire(&a->reads, now);
		r = a->reads.count < a->reads.limit ? a->reads.limit - a->reads.count : 0;
		if (r < room)
			room = r;
	}
	return (unsigned)room;
}

unsigned
api_read_limit(const struct api *a)
{
	return a->reads.limit ? (unsigned)a->reads.limit : a->rate_n;
}

unsigned
api_rate_secs(const struct api *a)
{
	return a->rate_secs;
}

unsigned
api_rate_n(const struct api *a)
{
	return a->rate_n;
}

void
api_window(struct api *a, unsigned long *reads, unsigned long *all)
{
	int64_t now = mono_ms();

	rw_expire(&a->all, now);
	rw_expire(&a->reads, now);
	*reads = a->reads.count;
	*all = a->all.count;
}

static void
untrack(struct api *a, const struct api_call *c)
{
	for (size_t i = 0; i < API_MAX_PARALLELISM; i++)
		if (a->inflight[i] == c) {
			a->inflight[i] = NULL;
			return;
		}
}

/* The grace period after a cancel is over: drop every call in flight. */
static void
abandon_inflight(struct api *a)
{
	for (size_t i = 0; i < API_MAX_PARALLELISM; i++) {
		struct api_call *c = a->inflight[i];
		struct inflight *f;

		if (c == NULL)
			continue;
		a->inflight[i] = NULL;
		f = c->priv;
		curl_multi_remove_handle(a->multi, f->h);
		curl_slist_free_all(f->hdrs);
		curl_easy_cleanup(f->h);
		free(f);
		c->priv = NULL;
		a->running--;
		c->rc = err_set(&c->err, ERR_TRANSIENT, "cancelled: shutting down, request abandoned");
		if (c->done) {
			c->done(c, c->user);
			api_call_free(c);
		}
	}
}

/* Starts the queued calls that are due, in queue order, while there is a free
 * slot and budget; lowers *next to when the next one can. 1 when the request
 * budget made one wait. */
static int
start_due(struct api *a, int64_t now, int64_t *next)
{
	int wait_budget = 0;

	/* start what may start, in queue order */
	for (size_t i = 0; i < a->nqueue && a->running < a->parallelism;) {
		struct api_call *c = a->queue[i];
		int64_t due = c->not_before_ms > a->paused_until ? c->not_before_ms
		                                                 : a->paused_until;
		int64_t bw;

		if (due > now) {
			if (due < *next)
				*next = due;
			i++;
			continue;
		}
		if ((bw = budget_wait(a, c, now)) > 0) {
			if (now + bw < *next)
				*next = now + bw;
			wait_budget = 1;
			if (rw_wait(&a->all, now) > 0)
				break;
			i++; /* only the read share is spent: writes behind it go on */
			continue;
		}
		memmove(&a->queue[i], &a->queue[i + 1], (a->nqueue - i - 1) * sizeof(*a->queue));
		a->nqueue--;
		if (!api_path_ok(c->path)) {
			/* a server-supplied id that escaped its checks must not
			 * become "../" in a request: fail it, send nothing */
			c->rc = err_set(&c->err, ERR_PERMANENT, "refused to request a path with "
			                "a '.' or '..' segment or a control character");
			if (c->done) {
				c->done(c, c->user);
				api_call_free(c);
			}
			continue;
		}
		spend(a, c, now);
		start(a, c);
	}
	return wait_budget;
}

/* Takes every finished transfer: retries what classify() says to, and runs
 * the others' done callbacks. */
static void
finish_done(struct api *a)
{
	CURLMsg *m;
	int still;

	curl_multi_perform(a->multi, &still);
	while ((m = curl_multi_info_read(a->multi, &still)) != NULL) {
		struct api_call *c;
		struct inflight *f;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&c);
		f = c->priv;
		curl_multi_remove_handle(a->multi, f->h);
		untrack(a, c);
		a->running--;
		int retry = classify(a, c, m->data.result);
		curl_slist_free_all(f->hdrs);
		if (a->nidle < a->parallelism)
			a->idle[a->nidle++] = f->h;
		else
			curl_easy_cleanup(f->h);
		free(f);
		c->priv = NULL;
		if (retry) {
			log_debug("api retry", "method=%s path=\"%s\" status=%ld", c->method,
			          c->path, c->status);
			api_submit(a, c, c->done, c->user);
			continue;
		}
		if (c->rc != ERR_OK)
			log_debug("api failure", "method=%s path=\"%s\" status=%ld", c->method,
			          c->path, c->status);
		if (c->done) {
			c->done(c, c->user);
			api_call_free(c);
		}
	}
}

void
api_wait(struct api *a)
{
	while (a->nqueue > 0 || a->running > 0) {
		int64_t now = mono_ms(), next = now + 1000;
		int wait_budget;

		/* shutting down: nothing new starts; what runs gets a grace period */
		if (a->cancel && (a->nqueue > 0 || a->running > 0)) {
			if (!a->cancel(a->cancel_user))
				a->cancelled_at = 0; /* e.g. leadership came back */
			else if (!a->cancelled_at)
				a->cancelled_at = now;
		}
		if (a->cancelled_at && a->running > 0 && now - a->cancelled_at > API_CANCEL_GRACE_MS) {
			abandon_inflight(a);
			continue;
		}
		if (a->cancelled_at && a->nqueue > 0) {
			while (a->nqueue > 0) {
				struct api_call *c = a->queue[--a->nqueue];

				c->rc = err_set(&c->err, ERR_TRANSIENT, "cancelled: shutting down");
				if (c->done) {
					c->done(c, c->user);
					api_call_free(c);
				}
			}
			continue;
		}
		wait_budget = start_due(a, now, &next);
		if (wait_budget)
			a->stats.rate_waits++;
		finish_done(a);
		if (a->nqueue > 0 && a->running < a->parallelism) {
			/* callbacks may have queued calls that can start now: never idle
			 * with a free slot and a due call */
			int64_t t = mono_ms(), soonest = INT64_MAX;

			for (size_t i = 0; i < a->nqueue; i++) {
				int64_t due = a->queue[i]->not_before_ms > a->paused_until
				            ? a->queue[i]->not_before_ms : a->paused_until;

				if (due <= t)
					due = t + budget_wait(a, a->queue[i], t);
				if (due < soonest)
					soonest = due;
			}
			if (soonest <= t)
				continue;
			if (soonest < next)
				next = soonest;
		}
		if (a->running > 0 || a->nqueue > 0) {
			int64_t t = next - mono_ms();

			if (a->running == 0 && a->nqueue > 0 && t <= 0)
				continue;
			curl_multi_poll(a->multi, NULL, 0, (int)(t < 1 ? 1 : t > 1000 ? 1000 : t), NULL);
		}
	}
}

/* A sync call keeps c: it runs with no callback, so api_wait leaves it alone. */
enum errcode
api_call_sync(struct api *a, struct api_call *c)
{
	c->done = NULL;
	api_submit(a, c, NULL, NULL);
	api_wait(a);
	return c->rc;
}

/* ---- listings ---- */

/* A cursor already used by a listing: its SHA-256 (a cursor may be up to
 * API_CURSOR_MAX bytes; the digest keeps the set small) and its page. */
struct api_seen {
	unsigned char d[SHA256_DIGEST_LENGTH];
	size_t page;             /* 0: empty slot */
};

void
api_listing_init(struct api_listing *l, const struct api *a, size_t max_pages,
                 size_t max_items, const char *fmt, ...)
{
	va_list ap;

	memset(l, 0, sizeof(*l));
	va_start(ap, fmt);
	vsnprintf(l->what, sizeof(l->what), fmt, ap);
	va_end(ap);
	l->max_pages = max_pages;
	l->max_items = max_items;
	l->max_bytes = API_LIST_MAX_BYTES;
	/* tests only: lower, never raise (API_TEST_LIST_BOUNDS_ENV) */
	if (a->test_pages && a->test_pages < l->max_pages)
		l->max_pages = a->test_pages;
	if (a->test_items && a->test_items < l->max_items)
		l->max_items = a->test_items;
	if (a->test_bytes && a->test_bytes < l->max_bytes)
		l->max_bytes = a->test_bytes;
}

void
api_listing_release(struct api_listing *l)
{
	free(l->seen);
	l->seen = NULL;
	l->nseen = l->capseen = 0;
}

struct api_call *
api_listing_call(const char *fmt, ...)
{
	struct api_call *c;
	va_list ap;

	va_start(ap, fmt);
	c = call_newv("GET", API_LIST_PAGE_MAX_BYTES, fmt, ap);
	va_end(ap);
	return c;
}

enum errcode
api_listing_page(struct api_listing *l, const struct api_call *c, size_t items, struct err *e)
{
	l->pages++;
	l->bytes += c->resp.len;
	l->items += items;
	if (l->items > l->max_items)
		return err_set(e, ERR_PERMANENT, "listing %s: more than %zu items, the limit of "
		               "one listing", l->what, l->max_items);
	if (l->bytes > l->max_bytes)
		return err_set(e, ERR_PERMANENT, "listing %s: more than %zu bytes of responses, "
		               "the limit of one listing", l->what, l->max_bytes);
	return ERR_OK;
}

enum errcode
api_listing_next(struct api_listing *l, struct err *e)
{
	if (l->pages >= l->max_pages)
		return err_set(e, ERR_PERMANENT, "listing %s: more than %zu pages, the limit of "
		               "one listing", l->what, l->max_pages);
	return ERR_OK;
}

const cJSON *
api_page_items(const struct api_call *c, cJSON **root)
{
	char why[160];
	const cJSON *res;

	*root = api_json_parse(c, why, sizeof(why));
	res = cJSON_GetObjectItemCaseSensitive(*root, "result");
	return cJSON_IsArray(res) ? res : NULL;
}

int
api_page_last(const cJSON *root, int page, size_t items, int per_page)
{
	const cJSON *tp = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(root, "result_info"), "total_pages");

	return items < (size_t)per_page || (cJSON_IsNumber(tp) && page >= tp->valuedouble);
}

/*
 * One page of a listing: sends c (freed here), parses its answer and finds
 * its item array (result, or result.<member> when member is not NULL), and
 * counts the page against the listing's bounds. ERR_OK with *rootp (which
 * the caller deletes) and *itemsp inside it, or the listing's error with
 * nothing left to free.
 */
static enum errcode
listing_fetch(struct api *a, struct api_listing *l, struct api_call *c, const char *member,
              cJSON **rootp, const cJSON **itemsp, struct err *e)
{
	enum errcode rc;
	char why[160], want[96];
	cJSON *root;
	const cJSON *items;

	*rootp = NULL;
	*itemsp = NULL;
	if (api_call_sync(a, c) != ERR_OK) {
		rc = err_set(e, c->rc, "listing %s: %s", l->what, c->err.msg);
		api_call_free(c);
		return rc;
	}
	root = api_json_parse(c, why, sizeof(why));
	items = cJSON_GetObjectItemCaseSensitive(root, "result");
	if (member)
		items = cJSON_GetObjectItemCaseSensitive(items, member);
	if (!cJSON_IsArray(items)) {
		snprintf(want, sizeof(want), "no result%s%s array in the response",
		         member ? "." : "", member ? member : "");
		rc = err_set(e, ERR_PERMANENT, "listing %s: %s", l->what, root ? want : why);
	} else {
		rc = api_listing_page(l, c, (size_t)cJSON_GetArraySize(items), e);
	}
	api_call_free(c);
	if (rc != ERR_OK) {
		cJSON_Delete(root);
		return rc;
	}
	*rootp = root;
	*itemsp = items;
	return ERR_OK;
}

enum errcode
api_list_numbered(struct api *a, struct api_listing *l, int per_page,
                  struct api_call *(*call)(int page, const void *arg), const void *arg,
                  void (*take)(const cJSON *res, void *acc), void *acc, struct err *e)
{
	enum errcode rc = ERR_OK;

	for (int page = 1; rc == ERR_OK; page++) {
		cJSON *root;
		const cJSON *res;
		int last;

		rc = listing_fetch(a, l, call(page, arg), NULL, &root, &res, e);
		if (rc != ERR_OK)
			break;
		take(res, acc);
		last = api_page_last(root, page, (size_t)cJSON_GetArraySize(res), per_page);
		cJSON_Delete(root);
		if (last)
			break;
		rc = api_listing_next(l, e);
	}
	return rc;
}

/*
 * Cursor paging (R2 buckets, KV keys; REFERENCE §1): each page's cursor,
 * as take() returns it, decides whether to ask for another page. An absent
 * or empty cursor ends the listing; one used before anywhere in the listing
 * fails it (REFERENCE pitfall 5: a server that loops must not loop us), as
 * does one more page than the listing's bound (api_listing_cursor).
 */
enum errcode
api_list_cursor(struct api *a, struct api_listing *l, const char *member,
                struct api_call *(*call)(const char *cursor, const void *arg), const void *arg,
                const char *(*take)(const cJSON *items, const cJSON *info, void *acc,
                                    const char **bad),
                void *acc, struct err *e)
{
	enum errcode rc = ERR_OK;
	char *cursor = NULL;
	int more = 1;

	while (more && rc == ERR_OK) {
		cJSON *root;
		const cJSON *items;
		const char *next, *bad = NULL;

		rc = listing_fetch(a, l, call(cursor, arg), member, &root, &items, e);
		if (rc != ERR_OK)
			break;
		next = take(items, cJSON_GetObjectItemCaseSensitive(root, "result_info"), acc, &bad);
		if (bad)
			rc = err_set(e, ERR_PERMANENT, "listing %s: %s", l->what, bad);
		else
			rc = api_listing_cursor(l, next, &more, e);
		if (rc == ERR_OK && more) {
			free(cursor);
			cursor = xstrdup(next);
		}
		cJSON_Delete(root);
	}
	free(cursor);
	return rc;
}

/* The slot of digest d: where it is, or the empty slot where it would go. */
static struct api_seen *
seen_slot(struct api_seen *v, size_t cap, const unsigned char *d)
{
	uint64_t h;
	size_t i;

	memcpy(&h, d, sizeof(h));
	for (i = (size_t)h & (cap - 1); v[i].page != 0; i = (i + 1) & (cap - 1))
		if (memcmp(v[i].d, d, sizeof(v[i].d)) == 0)
			break;
	return &v[i];
}

enum errcode
api_listing_cursor(struct api_listing *l, const char *cursor, int *more, struct err *e)
{
	unsigned char d[SHA256_DIGEST_LENGTH];
	struct api_seen *s;
	size_t len;

	*more = 0;
	if (cursor == NULL || cursor[0] == '\0')
		return ERR_OK;
	if ((len = strlen(cursor)) > API_CURSOR_MAX)
		return err_set(e, ERR_PERMANENT, "listing %s: page %zu gave a cursor of %zu bytes, "
		               "over the limit of %d", l->what, l->pages, len, API_CURSOR_MAX);
	SHA256((const unsigned char *)cursor, len, d);
	if (l->capseen == 0 || (l->nseen + 1) * 2 > l->capseen) {
		size_t cap = l->capseen ? l->capseen * 2 : 64;
		struct api_seen *v = xcalloc(cap, sizeof(*v));

		for (size_t i = 0; i < l->capseen; i++)
			if (l->seen[i].page != 0)
				*seen_slot(v, cap, l->seen[i].d) = l->seen[i];
		free(l->seen);
		l->seen = v;
		l->capseen = cap;
	}
	s = seen_slot(l->seen, l->capseen, d);
	if (s->page != 0)
		return err_set(e, ERR_PERMANENT, "listing %s: page %zu gave the cursor that page "
		               "%zu gave before, the listing loops", l->what, l->pages, s->page);
	memcpy(s->d, d, sizeof(s->d));
	s->page = l->pages ? l->pages : 1;
	l->nseen++;
	if (api_listing_next(l, e) != ERR_OK)
		return e->code;
	*more = 1;
	return ERR_OK;
}
