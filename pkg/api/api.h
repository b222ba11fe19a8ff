/*
 * api: the Cloudflare v4 client. libcurl's multi interface drives every
 * request of a run with bounded concurrency over reused connections; one
 * request budget (a sliding window, default 1200 per 300 s, as Cloudflare's
 * global limit) covers the whole run, and a 429's Retry-After pauses all
 * calls. 5xx answers and dropped connections are retried with exponential
 * backoff and full jitter, except for calls marked no_blind_retry (creates),
 * which return ERR_TRANSIENT so the caller can look before it re-sends.
 *
 * The token is never logged or put in an error message. Plain http:// is
 * refused except to loopback addresses; TLS verification is always on.
 * cJSON stays inside this module: callers get our own structs.
 */
#ifndef CFS_API_H
#define CFS_API_H

#include <stddef.h>
#include <stdint.h>

#include "../err/err.h"
#include "../manifest/manifest.h"
#include "../mem/mem.h"

/* Cloudflare's global limit: 1200 requests per 5 minutes per user. */
#define API_DEFAULT_RATE_N 1200
#define API_DEFAULT_RATE_SECS 300
/* A request counts in its window this much longer than the window itself:
 * the server sees it a little after we send it, and must never count more
 * than N in any S seconds of its own clock. */
#define API_RATE_SLACK_MS 250
/* First size of a request window's ring of send times; it doubles as
 * requests are sent, up to the window's limit (8 bytes a slot). */
#define API_RATE_RING_MIN 64
/* Concurrent requests in flight. */
#define API_DEFAULT_PARALLELISM 4
#define API_MAX_PARALLELISM 64
/* Retries of one call on 5xx, 429 or a dropped connection. */
#define API_MAX_RETRIES 6
/* Backoff: full jitter over base * 2^attempt, capped. */
#define API_BACKOFF_BASE_MS 250
#define API_BACKOFF_CAP_MS 8000
/* The longest Retry-After we wait out: a 429 from Cloudflare's global limiter
 * blocks the user for the next 5 minutes (REFERENCE §1), so a real answer never
 * asks for more. A longer one fails the call at once (waiting an hour, or the
 * 11 days a hostile "Retry-After: 999999" asks for, helps nobody); the pause
 * it sets for the other calls is capped at this. */
#define API_RETRY_AFTER_CAP_S 300
/* Total wait of one call, Retry-After and backoff summed over its retries:
 * one full 5-minute block plus backoff, so a call that is still refused after
 * Cloudflare's block has passed fails instead of waiting again (30 throttled
 * retries at 300 s each would stall it 2.5 h). A Retry-After that does not fit
 * in what is left of it fails the call without waiting. */
#define API_CALL_MAX_WAIT_MS 330000
/* Deadline of one call from its first attempt to its answer, every attempt,
 * backoff and Retry-After included: the wait budget above plus a few attempts
 * of API_TIMEOUT_MS. No retry is scheduled past it, and each attempt's
 * CURLOPT_TIMEOUT_MS is what is left of it (at most API_TIMEOUT_MS). */
#define API_CALL_DEADLINE_MS 600000
#define API_CONNECT_TIMEOUT_MS 10000
/* After a cancel (SIGTERM), calls in flight get this long, then are dropped
 * (a dropped create stays pending in the state and is completed later). */
#define API_CANCEL_GRACE_MS 3000
/* One attempt, connect to last byte: a 25 MiB KV value at a slow 1 MiB/s
 * still fits. */
#define API_TIMEOUT_MS 60000
/* A stalled exchange: fewer than API_LOW_SPEED_BYTES a second for
 * API_LOW_SPEED_S seconds on end (CURLOPT_LOW_SPEED_LIMIT/TIME), headers and
 * server think time included, is aborted. Cloudflare answers API calls within
 * a few seconds and sends each answer in one go; a server that trickles its
 * headers byte by byte (slowloris) or sends 1 byte every 2 s is caught in 10 s
 * instead of holding the call for API_TIMEOUT_MS per attempt. */
#define API_LOW_SPEED_BYTES 64
#define API_LOW_SPEED_S 10
/* A stalled or timed-out attempt is retried this often: once covers a
 * connection that died silently; a server that trickles again is not a blip. */
#define API_STALL_RETRIES 1
/* Largest response body kept (a KV value may be 25 MiB). A Content-Length
 * above it fails the call before a byte of the body is read. */
#define API_MAX_RESPONSE (26u * 1024 * 1024)
/* Response headers of one answer, all lines summed: Cloudflare sends under
 * 2 KiB; an endless header stream is cut here. */
#define API_MAX_HEADER_BYTES (64u * 1024)
/* JSON values in one parsed response (cJSON spends ~80 bytes on each, so a
 * 4 MiB body of "0,0,0,..." would take 160 MB): a full page of 1,000 KV keys
 * with metadata, or 1,000 lifecycle rules, is under 20,000; 10,000 error
 * objects are 30,000. A body with more is refused unparsed. */
#define API_JSON_MAX_VALUES 200000
/* Error envelopes are parsed (for their code and message) only up to this
 * size; a larger error body is reported by its HTTP status alone. */
#define API_MAX_ERROR_BODY (1024u * 1024)
/* Page sizes we ask for. */
#define API_R2_PAGE 1000
#define API_KV_NS_PAGE 100
/* D1 databases per list page (wrangler asks for 10; the API takes more). */
#define API_D1_PAGE 100
/* Secrets Store stores and secrets per page (the API's maximum is 100). */
#define API_SS_PAGE 100
/* KV keys per page (the API's maximum, REFERENCE §4). */
#define API_KV_KEYS_PAGE 1000

/*
 * Bounds of one listing (every page of R2 buckets in a jurisdiction, of KV
 * namespaces, of one namespace's keys, of one store's secrets). Each is set
 * above what a real account can hold, so reaching one means the server is
 * looping or lying; the listing then fails with one line that names it and
 * the bound. A cursor that was already used anywhere in the listing (not only
 * the previous one: A,B,A loops too) ends it the same way.
 *
 * R2 buckets: 1,000,000 is the per-account limit REFERENCE §7 knows (code
 * 10009 "too many buckets") and ten times the default limit of 100,000 in
 * Cloudflare's current R2 limits page (which allows more, at a price); it is
 * 1,000 full pages of API_R2_PAGE, and ~300 MB held in memory. Pages are
 * doubled for a server that sends short ones. */
#define API_R2_LIST_MAX_ITEMS 1000000
#define API_R2_LIST_MAX_PAGES 2000
/* KV namespaces: 1,000 per account (REFERENCE §4); ten times that, in pages
 * of API_KV_NS_PAGE, is 100 pages. */
#define API_KV_NS_LIST_MAX_ITEMS 10000
#define API_KV_NS_LIST_MAX_PAGES 100
/* KV keys: Cloudflare sets no limit per namespace. cfstorage keeps a
 * namespace's whole key listing in memory (~200 bytes a key), so it reads at
 * most 1,000,000 keys (~200 MB, 1,000 full pages); a namespace with more is
 * not one it can keep entries in. Pages may come short or empty (expired keys
 * are filtered after paging), hence twice the full-page count. */
#define API_KV_KEYS_LIST_MAX_ITEMS 1000000
#define API_KV_KEYS_LIST_MAX_PAGES 2000
/* Secrets Store secrets: 100 per account (REFERENCE §5, raised from 20);
 * a hundred times that, in pages of API_SS_PAGE. */
#define API_SS_LIST_MAX_ITEMS 10000
#define API_SS_LIST_MAX_PAGES 100
/* D1 databases: 50,000 per account on the paid plan (Cloudflare's D1 limits
 * page); twice that, in pages of API_D1_PAGE. */
#define API_D1_LIST_MAX_ITEMS 100000
#define API_D1_LIST_MAX_PAGES 2000
/* Response bytes of one listing, summed over its pages: 1,000,000 buckets are
 * ~150 MB of JSON, 1,000,000 keys with a short metadata object about as much. */
#define API_LIST_MAX_BYTES (256u * 1024 * 1024)
/* One page of a listing: 1,000 KV keys with names of 512 bytes and metadata of
 * 1,024 (Cloudflare's maxima) are ~1.6 MB; a larger page is refused. */
#define API_LIST_PAGE_MAX_BYTES (4u * 1024 * 1024)
/* A listing cursor longer than this is refused (Cloudflare's are well under
 * 200 bytes; each one used goes into the next request's URL). */
#define API_CURSOR_MAX 2048
/*
 * For tests only: CFSTORAGE_TEST_LIST_BOUNDS="PAGES,ITEMS,BYTES" lowers every
 * listing's page, item and byte bound to at most these (0 keeps a bound), so
 * the hostile-API suite reaches them in seconds and megabytes. It can only
 * lower a bound, never raise one; nothing but tests/e2e/hostile_api.sh sets it.
 */
#define API_TEST_LIST_BOUNDS_ENV "CFSTORAGE_TEST_LIST_BOUNDS"
/* Integers read from an answer must lie in [0, 2^53]: beyond it a JSON
 * number is no longer exact, and converting it could overflow. */
#define API_JSON_INT_MAX 9007199254740992LL
/* Longest lifecycle maxAge read back, in seconds: 1,000 years, far beyond
 * R2_LIFECYCLE_MAX_DAYS, so a rule anyone wrote fits while its day count
 * times 86,400 stays in range. */
#define API_LC_MAX_AGE_S (1000LL * 366 * 86400)
/* Longest id the server may give us (KV namespaces, Secrets Store stores and
 * secrets: Cloudflare's are 32 hex digits); ids are [0-9A-Za-z_-] only. */
#define API_ID_MAX 64
/* Longest name, title or key the server may give us (bucket names are at most
 * 63 bytes, KV keys 512, titles 512 by our own rule). */
#define API_NAME_MAX 1024

struct api_config {
	const char *base_url;   /* e.g. https://api.cloudflare.com/client/v4 */
	const char *token;      /* borrowed; never logged */
	const char *account_id;
	unsigned parallelism;   /* 0: API_DEFAULT_PARALLELISM */
	unsigned rate_n, rate_secs; /* 0: the defaults */
	unsigned max_retries;   /* 0: API_MAX_RETRIES */
	unsigned long seed;     /* jitter; 0: from the clock */
};

struct api_stats {
	unsigned long requests;  /* HTTP exchanges sent (retries included) */
	unsigned long writes;    /* of which POST, PUT, PATCH, DELETE */
	unsigned long retries;
	unsigned long rate_waits; /* times the budget or a Retry-After made us wait */
	unsigned long throttled;  /* 429 answers */
};

struct api;

struct api_call;
typedef void (*api_done_fn)(struct api_call *c, void *user);

/* One logical request; filled by api_call_new(), read by the done callback. */
struct api_call {
	/* request */
	const char *method;
	char *path;              /* after the base URL, with the query */
	char *jurisdiction;      /* cf-r2-jurisdiction header, NULL for none */
	char *storage_class;     /* cf-r2-storage-class header (bucket PATCH) */
	char *body;              /* JSON body or NULL */
	size_t body_len;
	int no_blind_retry;      /* a create: transient failure is returned, not retried */
	int sensitive;           /* the body holds a secret value: cleansed on free */
	int read_only;           /* a POST that only reads (a D1 SELECT): not a write */
	/* result */
	long status;             /* HTTP status of the last attempt, 0 if none */
	struct buf resp;
	enum errcode rc;
	struct err err;          /* one line, e.g. "HTTP 409 code 10004: ..." */
	int cf_code;             /* first Cloudflare error code, 0 if none */
	char content_type[64];   /* of the last answer (printable bytes only), "" if none */
	unsigned attempts;
	unsigned unheard;        /* attempts sent that got no HTTP answer (effect unknown) */
	/* plumbing */
	api_done_fn done;
	void *user;
	/* private to api.c */
	void *priv;
	int64_t not_before_ms;
	int64_t first_ms;        /* monotonic start of the first attempt, 0 before */
	int64_t waited_ms;       /* Retry-After and backoff waited so far */
	unsigned stalls;         /* attempts that stalled or timed out */
};

/*
 * Initialises libcurl with allocation callbacks that cleanse every block it
 * frees, so no request buffer leaves a secret value or the token in freed
 * heap. Call it once at the start of main(), before anything uses libcurl
 * (the etcd client included): libcurl takes the callbacks only at its first
 * global init. api_new() calls it too.
 */
void api_global_init(void);
struct api *api_new(const struct api_config *cfg, struct err *e) WARN_UNUSED_RESULT;
void api_free(struct api *a);
const struct api_stats *api_get_stats(const struct api *a);
/*
 * A read share (the daemon's --api-share): GETs are limited to n in any
 * window of the budget's seconds, on top of the whole budget that every
 * request counts in. A read held back by its share never holds back a write
 * queued behind it, so writes always have the rest of the budget. 0 (or n at
 * least the whole budget) lifts the share.
 */
void api_set_read_share(struct api *a, unsigned n);
/* Reads that may be sent now without waiting (share and budget). */
unsigned api_read_room(struct api *a);
/* Reads allowed in one window: the share, else the whole budget. */
unsigned api_read_limit(const struct api *a);
unsigned api_rate_secs(const struct api *a);
unsigned api_rate_n(const struct api *a);
/* Requests in the current window: reads (GETs, counted only while a share is
 * set) and all of them. */
void api_window(struct api *a, unsigned long *reads, unsigned long *all);
const char *api_account(const struct api *a);

/* A call for METHOD on a printf-formatted path below /accounts/{id}
 * (pass the rest, e.g. "/r2/buckets"). Free with api_call_free() unless it
 * was submitted (then the api frees it after its done callback). */
struct api_call *api_call_new(const char *method, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void api_call_free(struct api_call *c);
/* Queues c; done(c, user) runs from api_wait(); c is freed after it returns. */
void api_submit(struct api *a, struct api_call *c, api_done_fn done, void *user);
/* Runs until every queued call (including ones queued by callbacks) is done. */
void api_wait(struct api *a);
/* Runs one call to completion; the caller keeps and frees c. */
enum errcode api_call_sync(struct api *a, struct api_call *c);

/* Called after every HTTP exchange with its method, route template (e.g.
 * "/accounts/{account_id}/r2/buckets/{bucket_name}") and status (0: no
 * answer); for metrics. */
typedef void (*api_observer_fn)(const char *method, const char *route, long status,
                                void *user);
void api_set_observer(struct api *a, api_observer_fn fn, void *user);
/* Polled while calls wait to start: when it returns 1 no new call starts
 * (queued ones fail with ERR_TRANSIENT "cancelled"), running ones finish. */
typedef int (*api_cancel_fn)(void *user);
void api_set_cancel(struct api *a, api_cancel_fn fn, void *user);
/* The route template of a path below /accounts/{id} (query dropped). */
char *api_route_template(const char *path);

/* Percent-encodes s for a path segment or a query value; free with free(). */
char *api_escape(const char *s);
/*
 * Server-supplied ids and names are checked where they are parsed, before
 * they can reach a URL: an id is 1..API_ID_MAX of [0-9A-Za-z_-]; a name is
 * 1..API_NAME_MAX bytes without control characters (it is escaped with
 * api_escape when it becomes a path segment). A response holding a NUL
 * ("\u0000", which would cut a name short) is not parsed at all. Items that
 * fail are treated as not listed.
 */
int api_id_ok(const char *s);
int api_name_ok(const char *s);
/* 0 when a request path has a "." or ".." segment (also %2E-encoded) or a
 * byte that is no URL path character; such a call fails without a request. */
int api_path_ok(const char *path);

/*
 * One listing walked page by page against its bounds (API_*_LIST_MAX_*,
 * API_LIST_MAX_BYTES, API_CURSOR_MAX). Every bound reached, and every cursor
 * that was already used anywhere in the listing, fails it with one line that
 * names the listing and the bound. Use: api_listing_init(), then per page
 * api_listing_call() for the request and api_listing_page() with its answer,
 * then api_listing_cursor() (cursor paging) or api_listing_next() (page
 * paging) to ask whether another page may be fetched; api_listing_release().
 */
struct api_listing {
	char what[128];          /* e.g. "R2 buckets (eu)": the subject of every error */
	size_t max_pages, max_items, max_bytes;
	size_t pages, items, bytes;
	struct api_seen *seen;   /* hash set of the cursors used (SHA-256) */
	size_t nseen, capseen;
};
void api_listing_init(struct api_listing *l, const struct api *a, size_t max_pages,
                      size_t max_items, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
void api_listing_release(struct api_listing *l);
/* api_call_new() for one page: its body may be at most API_LIST_PAGE_MAX_BYTES. */
struct api_call *api_listing_call(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Counts a page that came back with `items` entries (every entry, also ones
 * skipped as invalid) against the page, item and byte bounds. */
enum errcode api_listing_page(struct api_listing *l, const struct api_call *c, size_t items,
                              struct err *e) WARN_UNUSED_RESULT;
/* Page paging: may another page be fetched? ERR_OK, or the pages bound. */
enum errcode api_listing_next(struct api_listing *l, struct err *e) WARN_UNUSED_RESULT;
/* Cursor paging: the cursor a page gave. An absent or empty one ends the
 * listing (*more = 0); a new one is remembered (*more = 1) and then counts
 * against the pages bound; one used before, or one over API_CURSOR_MAX
 * bytes, fails the listing. */
enum errcode api_listing_cursor(struct api_listing *l, const char *cursor, int *more,
                                struct err *e) WARN_UNUSED_RESULT;
/*
 * The response body as JSON (a cJSON tree the caller deletes), or NULL with
 * why it is not usable in `why`: empty, not JSON (naming the content type),
 * holding "\u0000" (which would cut a name short), or more than
 * API_JSON_MAX_VALUES values (counted before parsing). For types.c and
 * secret_list.c: cJSON does not leave the module.
 */
struct cJSON;
struct cJSON *api_json_parse(const struct api_call *c, char *why, size_t whylen);
/* Page paging's end: a page of `items` entries under `per_page`, or page
 * `page` being result_info.total_pages (of the response `root`). */
int api_page_last(const struct cJSON *root, int page, size_t items, int per_page);
/* One page's answer parsed: its result array, or NULL when the body is not
 * JSON or holds none. *root is the parsed tree either way (NULL when the
 * body is not JSON): the caller deletes it. For the asynchronous page
 * readers (apply's create checks) that walk a listing one answer at a time. */
const struct cJSON *api_page_items(const struct api_call *c, struct cJSON **root);
/*
 * A page-numbered listing (page=1, 2, ...) walked to its end: call(page,
 * arg) builds each page's request (with api_listing_call), take(result,
 * acc) appends the valid entries of its result array to the caller's
 * accumulator; a short page or total_pages ends it (api_page_last) and the
 * listing's bounds stop a server that never does. On a failure, what was
 * taken stays in acc for the caller to release.
 */
enum errcode api_list_numbered(struct api *a, struct api_listing *l, int per_page,
                               struct api_call *(*call)(int page, const void *arg),
                               const void *arg,
                               void (*take)(const struct cJSON *res, void *acc), void *acc,
                               struct err *e) WARN_UNUSED_RESULT;
/*
 * A cursor-paged listing walked to its end: call(cursor, arg) builds each
 * page's request (with api_listing_call; cursor NULL for the first page),
 * whose items are the array result (member NULL) or result.<member>;
 * take(items, result_info, acc, &bad) appends the valid ones to the
 * caller's accumulator and returns the page's next cursor (pointing into
 * result_info; NULL ends the listing), or sets bad to why the page is not
 * usable, which fails the listing. The cursors are checked by
 * api_listing_cursor(). On a failure, what was taken stays in acc for the
 * caller to release.
 */
enum errcode api_list_cursor(struct api *a, struct api_listing *l, const char *member,
                             struct api_call *(*call)(const char *cursor, const void *arg),
                             const void *arg,
                             const char *(*take)(const struct cJSON *items,
                                                 const struct cJSON *info, void *acc,
                                                 const char **bad),
                             void *acc, struct err *e) WARN_UNUSED_RESULT;

/* ---- typed operations (each a thin, documented wrapper over calls) ---- */

struct obs_bucket {
	char *name, *jurisdiction, *location, *storage_class, *creation_date;
	int lifecycle_read;      /* rules below are what the account has */
	struct lc_rule *rules;
	size_t nrules;
	int cors_read;
	int has_cors;            /* a CORS policy exists (even with 0 rules) */
	struct cors_rule *cors;
	size_t ncors;
	long objects;            /* -1 unknown; else objects counted (capped) */
};

/* One key of a namespace as the key listing shows it (no value). */
struct obs_key {
	char *name;
	char *meta_json;         /* the metadata as JSON text, NULL when none */
	char hash[17];           /* cfstorage's content hash (metadata "cfs:h"), "" if none */
	int64_t expiration;      /* unix seconds, 0 when none */
};

struct obs_kv {
	char *id, *title;
	int keys_read;           /* keys below are the namespace's whole listing */
	struct obs_key *keys;
	size_t nkeys;
};

void obs_bucket_release(struct obs_bucket *b);
void obs_kv_release(struct obs_kv *k);

/* Token check on /accounts/{id}/tokens/verify (account tokens fail the user
 * route with code 1000, REFERENCE §2). ERR_PERMANENT on a bad token. */
enum errcode api_verify_token(struct api *a, struct err *e) WARN_UNUSED_RESULT;

/* Every bucket of one jurisdiction, following result_info.cursor (REFERENCE
 * pitfall 5) and stopping on a repeated cursor. Appends to *v. */
enum errcode api_bucket_list(struct api *a, const char *jurisdiction,
                             struct obs_bucket **v, size_t *n, struct err *e)
	WARN_UNUSED_RESULT;
/* Every KV namespace, page by page until a short or empty page. */
enum errcode api_kv_list(struct api *a, struct obs_kv **v, size_t *n, struct err *e)
	WARN_UNUSED_RESULT;

/* Every key of a namespace, following the cursor (limit 1000 a page, REFERENCE
 * §4), with metadata and expiration; replaces k->keys. */
enum errcode api_kv_keys(struct api *a, struct obs_kv *k, struct err *e) WARN_UNUSED_RESULT;
/* One value's raw bytes (no envelope on success). Free *val with free(). */
enum errcode api_kv_value(struct api *a, const char *ns_id, const char *key, char **val,
                          size_t *len, struct err *e) WARN_UNUSED_RESULT;

/* One page of each listing, read by the same code as the walkers above
 * (which add their bounds on pages, items and cursors); for tests and
 * fuzzing. Each appends the page's valid items to *v (*n of them, or to
 * k->keys with capacity *cap) and returns the page's item count, -1 when the
 * body is not a listing. A bucket or key page hands its cursor to *next
 * (NULL when absent; free it); a namespace page sets *last when page `page`
 * is the last (a short page, or result_info.total_pages). */
int api_parse_bucket_page(const struct api_call *c, const char *jurisdiction,
                          struct obs_bucket **v, size_t *n, char **next);
int api_parse_kv_keys_page(const struct api_call *c, struct obs_kv *k, size_t *cap,
                           char **next);
int api_parse_kv_ns_page(const struct api_call *c, int page, struct obs_kv **v, size_t *n,
                         int *last);

/* From a KV bulk write/delete result: how many keys were not accepted
 * (unsuccessful_keys), 0 when the result is null or {}. */
long api_bulk_failures(const struct api_call *c);

/* JSON bodies and parsers for the apply state machines. */
char *api_lifecycle_json(const struct lc_rule *rules, size_t n);
char *api_cors_json(const struct cors_rule *rules, size_t n);
/* Parses a lifecycle GET result into rules; 0 or -1. */
int api_parse_lifecycle(const struct api_call *c, struct lc_rule **rules, size_t *n);
/* Parses a CORS GET: 1 policy present, 0 none (404 code 10059 or no rules
 * key), -1 unparseable. */
int api_parse_cors(const struct api_call *c, struct cors_rule **rules, size_t *n);
/* Parses a bucket object result (create/get). 0 or -1. */
int api_parse_bucket(const struct api_call *c, struct obs_bucket *b);
/* One page of a KV namespace list: the id of the namespace titled `title`
 * (NULL if not on this page); returns the page's item count, -1 when
 * unparseable. */
int api_kv_page_find(const struct api_call *c, const char *title, char **id);
/* Parses a KV namespace result (create). 0 or -1. */
int api_parse_kv(const struct api_call *c, struct obs_kv *k);
/* Counts the objects of an objects-list result (result array length) and
 * whether more pages follow. -1 if unparseable. */
long api_parse_object_count(const struct api_call *c, int *more);

/* Secrets Store helpers. From a stores list: the id of the store whose name
 * or id is `store` (*id), else the name of another store (*other), both NULL
 * when the account has none. Returns ERR_OK or ERR_PERMANENT on bad JSON. */
enum errcode api_find_store(const struct api_call *c, const char *store, char **id,
                            char **other);
/* From a secrets list: the id of the secret named exactly `name` (NULL if
 * absent); its comment into *comment when not NULL. */
char *api_find_secret(const struct api_call *c, const char *name, char **comment);
/* `result.id` of a created object (a store), or `result[0].id`. */
void api_parse_id(const struct api_call *c, char **id);
/* Names (and comments) from a Secrets Store secrets list or a Worker secrets
 * list; free each with free(). */
size_t api_list_names(const struct api_call *c, char ***names, char ***comments);

/* One secret as a Secrets Store or Worker listing shows it: never a value. */
struct obs_secret {
	char *name;
	char *id;                /* Secrets Store secret id; NULL for a Worker binding */
	char *comment;           /* Secrets Store comment; NULL when none (Workers: always) */
};
void obs_secrets_free(struct obs_secret *v, size_t n);
/* The stores list (one request): the id of the store named (or with the id)
 * `store` into *id, else another store's name into *other; both NULL when
 * the account has no store. */
enum errcode api_store_lookup(struct api *a, const char *store, char **id, char **other,
                              struct err *e) WARN_UNUSED_RESULT;
/* Every secret of a store, page by page (names, ids, comments). */
enum errcode api_store_secrets(struct api *a, const char *store_id, struct obs_secret **v,
                               size_t *n, struct err *e) WARN_UNUSED_RESULT;
/* Every secret binding of a Worker script (one request, not paged);
 * ERR_NOTFOUND when the script does not exist. */
enum errcode api_worker_secrets(struct api *a, const char *script, struct obs_secret **v,
                                size_t *n, struct err *e) WARN_UNUSED_RESULT;

void lc_rules_free(struct lc_rule *r, size_t n);
void cors_rules_free(struct cors_rule *r, size_t n);

/* ---- D1 (docs/cloudflare-api, the SDK's d1/database resource) ---- */

/* One D1 database as the account shows it, and what observe read of it. */
struct obs_d1 {
	char *uuid, *name;
	char *jurisdiction;      /* "eu", "fedramp", ...; NULL when none */
	char *read_replication;  /* "auto" | "disabled"; NULL when not shown (the list
	                            omits it: a GET tells) */
	int migs_read;           /* migs below are the migrations table's rows */
	char *migs_error;        /* why the migrations table cannot be read as wrangler's
	                            (its plan is refused), or NULL */
	char **migs;             /* names in the migrations table, by id */
	size_t nmigs;
	long user_tables;        /* tables other than sqlite_*, _cf_* and the migrations
	                            table; -1 when not read */
};
void obs_d1_release(struct obs_d1 *d);

/* Every D1 database, page by page until a short page (or total_pages). */
enum errcode api_d1_list(struct api *a, struct obs_d1 **v, size_t *n, struct err *e)
	WARN_UNUSED_RESULT;
/* One list page's databases appended to *v; the page's item count, -1 when it
 * is not a listing; *last when it is the last page. For tests and fuzzing. */
int api_parse_d1_page(const struct api_call *c, int page, struct obs_d1 **v, size_t *n,
                      int *last);
/* A database object (create, get) into d (uuid, name, jurisdiction,
 * read_replication.mode). 0 or -1. */
int api_parse_d1(const struct api_call *c, struct obs_d1 *d);

/* One statement of a query or a batch: SQL text [sql, sql+len) and string
 * parameters bound to ?1.. in order. */
struct api_d1_stmt {
	const char *sql;
	size_t len;
	const char *const *params;
	size_t nparams;
};
/*
 * Of a /query answer (result: one QueryResult per statement), the string
 * values of `column` in the rows of statement `idx`, in order; free each and
 * the array. Returns the row count, -1 when the answer is not a query result,
 * -2 when a row's value is not a name (NULL, a BLOB, ...; numbers are
 * written as decimal).
 */
long api_d1_rows(const struct api_call *c, size_t idx, const char *column, char ***out);
/* The longest server error message kept (a SQLite message is one line). */
#define API_D1_ERROR_MAX 1024
/* The first `errors[].message` of a failed answer (a copy, at most
 * API_D1_ERROR_MAX bytes), or NULL. */
char *api_d1_error(const struct api_call *c);

/* ---- Cloudflare's error codes ----
 *
 * The `errors[].code` values cfstorage (or cfemu's answers it must match)
 * branches on, from REFERENCE §7. Codes are per product: the same number can
 * mean different things in R2 and KV, so a caller tests the HTTP status (our
 * errcode) first and the code second. */
enum api_cf_code {
	API_CF_RATE_LIMITED = 971,       /* 429: the request budget is spent (with Retry-After) */
	API_CF_INVALID_TOKEN = 1000,     /* invalid API token: an account token on /user/tokens/verify */
	API_CF_NO_ROUTE = 7003,          /* 404: no route for the URI (bad path or method) */
	API_CF_AUTH = 10000,             /* 401/403: authentication error (missing or refused token) */
	API_CF_R2_BUCKET_EXISTS = 10004, /* 409: R2 create of a bucket that exists (and you own) */
	API_CF_R2_NO_BUCKET = 10006,     /* 404: R2 no such bucket (also: wrong jurisdiction header) */
	API_CF_WORKER_NO_SCRIPT = 10007, /* 404: the Worker script does not exist */
	API_CF_R2_NOT_EMPTY = 10008,     /* 409: R2 delete of a bucket that still holds objects */
	API_CF_KV_NO_KEY = 10009,        /* 404: KV key not found (R2 uses 10009 otherwise) */
	API_CF_KV_NO_NAMESPACE = 10013,  /* 404: KV namespace not found */
	API_CF_KV_TITLE_EXISTS = 10014,  /* 400: KV namespace title already taken */
	API_CF_R2_NO_CORS = 10059,       /* 404: the bucket has no CORS policy */
	API_CF_D1_ERROR = 7500,          /* 400: D1 query failed (the SQL error in the message) */
	API_CF_D1_EXISTS = 7502,         /* 400: D1 create of a name that exists (wrangler's check) */
	API_CF_D1_NOT_FOUND = 7404,      /* 404: no such D1 database */
};

/* ---- typed operations: one constructor per Cloudflare call ----
 *
 * Every route and request body cfstorage sends is built here and nowhere else.
 * Each constructor returns a ready call (method, route with every path
 * segment and query value escaped with api_escape, the cf-r2-jurisdiction
 * header, the JSON body, and the no_blind_retry / sensitive flags); the caller
 * runs it with api_call_sync() or api_submit() and reads the result with the
 * parsers above. Free with api_call_free() unless submitted. A `jurisdiction`
 * of NULL or "default" sends no header (eu and fedramp buckets are visible
 * only with it, REFERENCE §3). Borrowed arguments are copied.
 */

/* Bodies without a secret value or a KV entry are small: names, titles,
 * comments and scopes (a bucket name is at most 63 bytes, a title 512). */
#define API_BODY_SMALL_MAX 4096
/* Bodies that carry a secret value (at most SECRET_VALUE_MAX bytes, escaped
 * up to 6 bytes a byte) or a Secrets Store comment and scopes. */
#define API_BODY_SECRET_MAX (64u * 1024)

/* R2 buckets (REFERENCE §3). A create is no_blind_retry: a timed-out create
 * is looked up before it is re-sent. storage_class "Standard" (the default)
 * is not sent. */
struct api_call *api_op_bucket_create(const char *name, const char *jurisdiction,
                                      const char *location_hint, const char *storage_class);
struct api_call *api_op_bucket_get(const char *name, const char *jurisdiction);
/* PATCH with the cf-r2-storage-class header (no body). */
struct api_call *api_op_bucket_set_class(const char *name, const char *jurisdiction,
                                         const char *storage_class);
struct api_call *api_op_bucket_delete(const char *name, const char *jurisdiction);
/* One page of objects (to tell whether a bucket is empty). */
struct api_call *api_op_bucket_objects(const char *name, const char *jurisdiction,
                                       int per_page);
/* Lifecycle rules: GET, and PUT of the whole rule set (api_lifecycle_json). */
struct api_call *api_op_lifecycle_get(const char *name, const char *jurisdiction);
struct api_call *api_op_lifecycle_put(const char *name, const char *jurisdiction,
                                      const struct lc_rule *rules, size_t n);
/* CORS policy: GET (404 code API_CF_R2_NO_CORS when none), PUT, DELETE. */
struct api_call *api_op_cors_get(const char *name, const char *jurisdiction);
struct api_call *api_op_cors_put(const char *name, const char *jurisdiction,
                                 const struct cors_rule *rules, size_t n);
struct api_call *api_op_cors_delete(const char *name, const char *jurisdiction);

/* Which configuration api_bucket_read() fetches. */
enum api_bucket_part {
	API_BUCKET_LIFECYCLE,
	API_BUCKET_CORS,
};
/*
 * Queues the read of one bucket's lifecycle rules or CORS policy (one GET in
 * b's jurisdiction) and fills b when it completes (during api_wait()):
 * lifecycle_read with rules, or cors_read with has_cors and cors. A 404 on
 * the CORS read that is not "no such bucket" means the bucket has no policy
 * (code API_CF_R2_NO_CORS, REFERENCE §3.2). A failure or an unparseable
 * answer sets *rc and e, unless *rc already holds an earlier failure. b, rc
 * and e must stay valid until api_wait() returns. observe and export share it.
 */
void api_bucket_read(struct api *a, struct obs_bucket *b, enum api_bucket_part part,
                     enum errcode *rc, struct err *e);

/* KV namespaces (REFERENCE §4). A create is no_blind_retry; there is no
 * get-by-title, so a create is confirmed by paging through the list. */
struct api_call *api_op_kv_create(const char *title);
struct api_call *api_op_kv_list_page(int page, int per_page);
struct api_call *api_op_kv_rename(const char *ns_id, const char *title);
struct api_call *api_op_kv_delete(const char *ns_id);
/* One value's raw bytes (no envelope on success). */
struct api_call *api_op_kv_value_get(const char *ns_id, const char *key);

/*
 * A KV bulk write body, built item by item: api_kv_bulk_init(), then
 * api_kv_bulk_add() per entry, then api_op_kv_bulk_put() takes the body (or
 * api_kv_bulk_release() drops it).
 */
struct api_kv_bulk {
	struct buf body;
	size_t count;            /* items in the body */
};
void api_kv_bulk_init(struct api_kv_bulk *b);
void api_kv_bulk_release(struct api_kv_bulk *b);
/*
 * Appends entry en holding val[0..len): its key, the value (base64 when
 * en->binary), its TTL or expiration, and its metadata with the content hash
 * added under KV_RESERVED_META_KEY. Returns 0, or -1 (nothing appended) when
 * b already holds an item and this one would take the body past max_bytes:
 * it starts the next request.
 */
int api_kv_bulk_add(struct api_kv_bulk *b, const struct kv_entry *en, const char *val,
                    size_t len, size_t max_bytes);
/* PUT …/bulk with the items of b (b is left empty). */
struct api_call *api_op_kv_bulk_put(const char *ns_id, struct api_kv_bulk *b);
/* POST …/bulk/delete of keys[0..n). */
struct api_call *api_op_kv_bulk_delete(const char *ns_id, char *const *keys, size_t n);

/* Secrets Store (REFERENCE §5): stores, and secrets by store id. Bodies that
 * hold a value are sized for the worst case up front, so the value is never
 * copied into a block that realloc frees uncleansed, and are marked
 * sensitive (cleansed when the call is freed). */
struct api_call *api_op_store_list(int per_page);
struct api_call *api_op_store_create(const char *name);
/* The secrets whose name contains `name` (Cloudflare's search). */
struct api_call *api_op_store_secrets_search(const char *store_id, const char *name,
                                             int per_page);
struct api_call *api_op_store_secrets_page(const char *store_id, int page, int per_page);
/* POST of one new secret [{name, value, comment, scopes}]; sensitive. */
struct api_call *api_op_store_secret_create(const char *store_id, const char *name,
                                            const char *value, size_t vlen,
                                            const char *comment, char *const *scopes,
                                            size_t nscopes);
/* PATCH of an existing secret's value and comment; sensitive. */
struct api_call *api_op_store_secret_update(const char *store_id, const char *secret_id,
                                            const char *value, size_t vlen,
                                            const char *comment);
struct api_call *api_op_store_secret_delete(const char *store_id, const char *secret_id);
/* POST …/duplicate: a copy of the secret under `name`, made by the server
 * (the value is never read). */
struct api_call *api_op_store_secret_duplicate(const char *store_id, const char *secret_id,
                                               const char *name, const char *comment,
                                               char *const *scopes, size_t nscopes);

/* Worker script secrets (REFERENCE §6): PUT creates or replaces one
 * secret_text binding (sensitive); DELETE removes it. */
struct api_call *api_op_worker_secret_put(const char *script, const char *name,
                                          const char *value, size_t vlen);
struct api_call *api_op_worker_secret_delete(const char *script, const char *name);

/* D1 databases (the SDK's d1/database: create, list, get, update, delete,
 * query). A create is no_blind_retry (the name is looked up before a create
 * is re-sent); so is a batch: a batch that timed out may have committed, so it
 * is never re-sent blind (its migration row tells, on the next read). */
#define API_D1_BODY_MAX (4u * 1024 * 1024)
/* POST /d1/database {name, primary_location_hint?, jurisdiction?,
 * read_replication?: {mode}}. */
struct api_call *api_op_d1_create(const char *name, const char *location_hint,
                                  const char *jurisdiction, const char *read_replication);
struct api_call *api_op_d1_list_page(int page, int per_page);
struct api_call *api_op_d1_get(const char *uuid);
/* PUT /d1/database/{uuid} {read_replication: {mode}} (the SDK's update). */
struct api_call *api_op_d1_replication(const char *uuid, const char *mode);
struct api_call *api_op_d1_delete(const char *uuid);
/* POST /d1/database/{uuid}/query {sql, params}: one statement. */
struct api_call *api_op_d1_query(const char *uuid, const struct api_d1_stmt *s);
/* The same for a SELECT: marked read_only, so it is not counted as a write. */
struct api_call *api_op_d1_select(const char *uuid, const struct api_d1_stmt *s);
/* POST /d1/database/{uuid}/query {batch: [{sql, params}...]}: the statements run
 * in one transaction, all or nothing. NULL when the body would pass
 * API_D1_BODY_MAX. */
struct api_call *api_op_d1_batch(const char *uuid, const struct api_d1_stmt *v, size_t n);

#endif
