/*
 * state_r2.c: the r2:// state backend (state_r2.h). Every request is signed
 * by libcurl (CURLOPT_AWS_SIGV4 "aws:amz:auto:s3" with CURLOPT_USERPWD
 * KEY:SECRET); the payload hash goes in x-amz-content-sha256, as S3 wants.
 * The R2 behaviour relied on is in cloudflare-api/REFERENCE.md section 10:
 * conditional PutObject (If-Match, If-None-Match: *) answering 412
 * PreconditionFailed, ETags, the endpoints and region "auto".
 */
#include "state_r2.h"

#include <curl/curl.h>
#include <cJSON.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../log/log.h"
#include "../mem/mem.h"
#include "../url/url.h"
#include "renew.h"
#include "state_int.h"

/* Longest ETag kept (R2's are a quoted 32-hex MD5, or longer for multipart). */
#define R2_ETAG_MAX 80

struct state_r2 {
	CURL *h, *rh;            /* one handle per thread: the caller's, the renewer's */
	char *base;              /* checked endpoint, no trailing '/' */
	char *bucket, *key, *lock_key, *jurisdiction;
	int jur_header;          /* send cf-r2-jurisdiction (custom endpoint) */
	char *userpwd;           /* "KEY:SECRET": cleansed on free */
	char state_etag[R2_ETAG_MAX]; /* of the state read or last written; "" = absent */
	char lock_etag[R2_ETAG_MAX];
	char host[128], command[32], started[32];
	long long lease_ms, renew_ms, wait_ms;
	int leader;
	atomic_int lost;
	atomic_ulong requests;
	struct renewer renewer;  /* its mu guards lock_etag between the threads */
	long long last_ok;       /* when the last renewal that succeeded was sent */
};

/* One answer. */
struct s3_resp {
	long status;
	struct buf body;
	char etag[R2_ETAG_MAX];
};

int
state_is_r2(const char *path)
{
	return path && strncmp(path, "r2://", 5) == 0;
}

static long long
now_ms(void)
{
	return renewer_now_ms();
}

enum errcode
state_r2_parse_url(const char *url, char **bucket, char **key, char **jurisdiction,
                   struct err *e)
{
	const char *b = url + 5, *slash, *q;
	size_t bl;

	*bucket = *key = *jurisdiction = NULL;
	if (!state_is_r2(url))
		return err_set(e, ERR_INVALID, "state '%.200s' is not r2://BUCKET/KEY", url);
	slash = strchr(b, '/');
	q = strchr(b, '?');
	bl = slash ? (size_t)(slash - b) : 0;
	if (slash == NULL || bl < 3 || bl > 63 || slash[1] == '\0' || slash[1] == '?' ||
	    (q && q < slash))
		return err_set(e, ERR_INVALID, "state '%.200s' must be r2://BUCKET/KEY (a bucket "
		               "name of 3..63 characters, then the object key)", url);
	for (size_t i = 0; i < bl; i++)
		if (!((b[i] >= 'a' && b[i] <= 'z') || (b[i] >= '0' && b[i] <= '9') || b[i] == '-'))
			return err_set(e, ERR_INVALID, "state '%.200s': bucket names hold a-z, 0-9 "
			               "and '-' only", url);
	if (q) {
		if (strcmp(q, "?jurisdiction=eu") == 0)
			*jurisdiction = xstrdup("eu");
		else if (strcmp(q, "?jurisdiction=fedramp") == 0)
			*jurisdiction = xstrdup("fedramp");
		else if (strcmp(q, "?jurisdiction=default") != 0)
			return err_set(e, ERR_INVALID, "state '%.200s': the only query is "
			               "?jurisdiction=eu or ?jurisdiction=fedramp", url);
	}
	*bucket = xstrndup(b, bl);
	*key = q ? xstrndup(slash + 1, (size_t)(q - slash - 1)) : xstrdup(slash + 1);
	if (*jurisdiction == NULL)
		*jurisdiction = xstrdup("default");
	return ERR_OK;
}

/* ---- one S3 request ---- */

static size_t
on_body(char *p, size_t size, size_t n, void *user)
{
	return buf_append(user, p, size * n) < 0 ? 0 : size * n;
}

static size_t
on_header(char *p, size_t size, size_t n, void *user)
{
	struct s3_resp *r = user;
	size_t len = size * n;

	if (len > 5 && strncasecmp(p, "etag:", 5) == 0) {
		const char *v = p + 5;
		size_t vl = len - 5;

		while (vl && (*v == ' ' || *v == '\t'))
			v++, vl--;
		while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
			vl--;
		snprintf(r->etag, sizeof(r->etag), "%.*s", (int)vl, v);
	}
	return len;
}

/* S3's URI encoding of a key: unreserved characters and '/' stay. */
static void
key_encode(struct buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~' || c == '/')
			buf_append(b, (const char *)&c, 1);
		else
			buf_printf(b, "%%%02X", c);
	}
}

/* The <Code> of an S3 error body, for messages ("" when none). */
static void
s3_code(const struct s3_resp *r, char *out, size_t len)
{
	const char *p = r->body.data ? memmem(r->body.data, r->body.len, "<Code>", 6) : NULL;
	const char *q = p ? memmem(p, r->body.len - (size_t)(p - r->body.data), "</Code>", 7) : NULL;

	if (p && q && q - p - 6 < 64)
		snprintf(out, len, " %.*s", (int)(q - p - 6), p + 6);
	else
		out[0] = '\0';
}

/*
 * Sends METHOD on KEY with libcurl's SigV4 and fills r. body (len bytes) is
 * sent for PUT. if_match: an ETag the object must have; if_none_match_star:
 * the object must not exist. ERR_TRANSIENT when no answer came; any HTTP
 * status is ERR_OK (the caller reads r->status).
 */
static enum errcode
s3(struct state_r2 *x, CURL *h, const char *method, const char *key, const char *body,
   size_t len, const char *if_match, int if_none_match_star, struct s3_resp *r, struct err *e)
{
	struct curl_slist *hl = NULL;
	struct buf url, line;
	char sha[65];
	unsigned char d[32];
	unsigned int dl = 0;
	CURLcode cc;

	memset(r, 0, sizeof(*r));
	buf_init(&r->body, STATE_MAX_FILE);
	buf_init(&url, (size_t)-1);
	buf_printf(&url, "%s/%s/", x->base, x->bucket);
	key_encode(&url, key);
	EVP_Digest(body ? body : "", body ? len : 0, d, &dl, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		snprintf(sha + 2 * i, 3, "%02x", d[i]);
	buf_init(&line, (size_t)-1);
	buf_printf(&line, "x-amz-content-sha256: %s", sha);
	hl = curl_slist_append(hl, line.data);
	if (if_match) {
		buf_reset(&line);
		buf_printf(&line, "If-Match: %s", if_match);
		hl = curl_slist_append(hl, line.data);
	}
	if (if_none_match_star)
		hl = curl_slist_append(hl, "If-None-Match: *");
	if (x->jur_header && strcmp(x->jurisdiction, "default") != 0) {
		buf_reset(&line);
		buf_printf(&line, "cf-r2-jurisdiction: %s", x->jurisdiction);
		hl = curl_slist_append(hl, line.data);
	}
	if (body)
		hl = curl_slist_append(hl, "Content-Type: application/json");
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url.data);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)STATE_R2_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_AWS_SIGV4, "aws:amz:auto:s3");
	curl_easy_setopt(h, CURLOPT_USERPWD, x->userpwd);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &r->body);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (strcmp(method, "PUT") == 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? len : 0));
	} else if (strcmp(method, "DELETE") == 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
	}
	cc = curl_easy_perform(h);
	atomic_fetch_add(&x->requests, 1);
	curl_slist_free_all(hl);
	buf_release(&line);
	buf_release(&url);
	if (cc != CURLE_OK)
		return err_set(e, ERR_TRANSIENT, "R2 %s '%s/%s': %s", method, x->bucket, key,
		               curl_easy_strerror(cc));
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	return ERR_OK;
}

/* An S3 answer that is neither success nor an expected condition. */
static enum errcode
s3_unexpected(struct state_r2 *x, const char *what, const struct s3_resp *r, struct err *e)
{
	char code[80];

	s3_code(r, code, sizeof(code));
	if (r->status == 404 && strstr(code, "NoSuchBucket"))
		return err_set(e, ERR_NOTFOUND, "state bucket '%s' does not exist (create it first: "
		               "it holds only the state)", x->bucket);
	return err_set(e, r->status == 401 || r->status == 403 ? ERR_AUTH :
	               r->status >= 500 || r->status == 429 ? ERR_TRANSIENT : ERR_PERMANENT,
	               "R2 %s of '%s': HTTP %ld%s", what, x->bucket, r->status, code);
}

/* ---- the lock ---- */

/* The lock document: who holds it and until when (epoch milliseconds). */
static char *
lock_doc(struct state_r2 *x, long long expires)
{
	cJSON *o = cJSON_CreateObject();
	char *s, who[256];

	snprintf(who, sizeof(who), "pid %ld on host %s since %s (%s)", (long)getpid(), x->host,
	         x->started, x->command);
	cJSON_AddStringToObject(o, "holder", who);
	cJSON_AddStringToObject(o, "host", x->host);
	cJSON_AddNumberToObject(o, "pid", (double)getpid());
	cJSON_AddStringToObject(o, "command", x->command);
	cJSON_AddStringToObject(o, "started", x->started);
	cJSON_AddNumberToObject(o, "expiresMs", (double)expires);
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

/* The holder text and expiry of a lock document; expires 0 when unreadable. */
static void
lock_parse(const struct s3_resp *r, char *holder, size_t hl, long long *expires)
{
	const char *end;
	cJSON *o = r->body.len ? cJSON_ParseWithLengthOpts(r->body.data, r->body.len, &end, 0) : NULL;
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(o, "holder");
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, "expiresMs");

	snprintf(holder, hl, "%.200s", cJSON_IsString(h) ? h->valuestring : "unknown holder");
	*expires = cJSON_IsNumber(x) ? (long long)x->valuedouble : 0;
	cJSON_Delete(o);
}

/*
 * One attempt at the lock: create it (If-None-Match: *), or take an expired
 * one over (If-Match on the ETag read). 1 when held, 0 when someone else
 * holds it (holder filled), or an error.
 */
static enum errcode
lock_try(struct state_r2 *x, int *held, char *holder, size_t hl, struct err *e)
{
	struct s3_resp r;
	enum errcode rc;
	long long expires;
	char *doc = lock_doc(x, now_ms() + x->lease_ms);
	char etag[R2_ETAG_MAX];

	*held = 0;
	rc = s3(x, x->h, "PUT", x->lock_key, doc, strlen(doc), NULL, 1, &r, e);
	if (rc != ERR_OK)
		goto out;
	if (r.status == 200) {
		*held = 1;
		snprintf(x->lock_etag, sizeof(x->lock_etag), "%s", r.etag);
		goto out;
	}
	if (r.status != 412) {
		rc = s3_unexpected(x, "lock create", &r, e);
		goto out;
	}
	buf_release(&r.body);
	if ((rc = s3(x, x->h, "GET", x->lock_key, NULL, 0, NULL, 0, &r, e)) != ERR_OK)
		goto out;
	if (r.status == 404) { /* released in between: the next attempt creates it */
		snprintf(holder, hl, "a holder that just released it");
		goto out;
	}
	if (r.status != 200) {
		rc = s3_unexpected(x, "lock read", &r, e);
		goto out;
	}
	lock_parse(&r, holder, hl, &expires);
	snprintf(etag, sizeof(etag), "%s", r.etag);
	if (expires > now_ms())
		goto out;
	buf_release(&r.body);
	free(doc);
	doc = lock_doc(x, now_ms() + x->lease_ms);
	if ((rc = s3(x, x->h, "PUT", x->lock_key, doc, strlen(doc), etag, 0, &r, e)) != ERR_OK)
		goto out;
	if (r.status == 200) {
		*held = 1;
		snprintf(x->lock_etag, sizeof(x->lock_etag), "%s", r.etag);
		log_warn("took over an expired state lock", "state=\"r2://%s/%s\" previous=\"%s\"",
		         x->bucket, x->key, holder);
	} else if (r.status != 412) { /* 412: another taker won */
		rc = s3_unexpected(x, "lock takeover", &r, e);
	}
out:
	buf_release(&r.body);
	free(doc);
	return rc;
}

/* Renews the lock (every renew_ms; If-Match on its ETag); marks it lost
 * the moment R2 says another holder has it, or when no renewal succeeded
 * for nearly a lease (a taker may win once it expires). Nonzero when it
 * gives up. */
static int
renew_lock(void *arg)
{
	struct state *st = arg;
	struct state_r2 *x = st->r2;
	long long sent;
	struct s3_resp r;
	struct err e;
	char *doc, etag[R2_ETAG_MAX];
	enum errcode rc;

	pthread_mutex_lock(&x->renewer.mu);
	snprintf(etag, sizeof(etag), "%s", x->lock_etag);
	pthread_mutex_unlock(&x->renewer.mu);
	sent = now_ms();
	doc = lock_doc(x, sent + x->lease_ms);
	err_clear(&e);
	rc = s3(x, x->rh, "PUT", x->lock_key, doc, strlen(doc), etag, 0, &r, &e);
	free(doc);
	if (rc == ERR_OK && r.status == 200) {
		pthread_mutex_lock(&x->renewer.mu);
		snprintf(x->lock_etag, sizeof(x->lock_etag), "%s", r.etag);
		pthread_mutex_unlock(&x->renewer.mu);
		x->last_ok = sent; /* the lease runs from when we asked */
		buf_release(&r.body);
		return 0;
	}
	buf_release(&r.body);
	if ((rc == ERR_OK && r.status == 412) ||
	    now_ms() - x->last_ok >= x->lease_ms - x->renew_ms / 2) {
		atomic_store(&x->lost, 1);
		log_warn("state lock lost: no more writes", "state=\"r2://%s/%s\"", x->bucket,
		         x->key);
		return 1;
	}
	return 0;
}

/* Reads the state object into st (absent: empty, a first run). */
static enum errcode
read_state(struct state *st, struct err *e)
{
	struct state_r2 *x = st->r2;
	struct s3_resp r;
	enum errcode rc;

	state_int_clear(st);
	x->state_etag[0] = '\0';
	if ((rc = s3(x, x->h, "GET", x->key, NULL, 0, NULL, 0, &r, e)) != ERR_OK)
		goto out;
	if (r.status == 404) {
		char code[80];

		s3_code(&r, code, sizeof(code));
		if (strstr(code, "NoSuchBucket"))
			rc = s3_unexpected(x, "state read", &r, e);
		goto out;
	}
	if (r.status != 200) {
		rc = r.body.toobig ? err_set(e, ERR_IO, "state '%s' is larger than %u bytes",
		                             st->path, STATE_MAX_FILE)
		                   : s3_unexpected(x, "state read", &r, e);
		goto out;
	}
	snprintf(x->state_etag, sizeof(x->state_etag), "%s", r.etag);
	rc = state_int_parse(st, r.body.data ? r.body.data : "", r.body.len, e);
out:
	buf_release(&r.body);
	return rc;
}

/* Deletes our lock (If-Match on our ETag: never someone else's). */
static void
release(struct state_r2 *x)
{
	struct s3_resp r;
	struct err e;

	if (s3(x, x->h, "DELETE", x->lock_key, NULL, 0, x->lock_etag, 0, &r, &e) == ERR_OK &&
	    r.status / 100 != 2)
		log_debug("state lock not released", "status=%ld", r.status);
	buf_release(&r.body);
}

/*
 * Takes the lock, waiting up to wait_ms (0: one attempt) in bounded polls,
 * then reads the state and starts the renewer. ERR_CONFLICT naming the
 * holder when the wait ends first.
 */
static enum errcode
acquire(struct state *st, long long wait_ms, struct err *e)
{
	struct state_r2 *x = st->r2;
	long long deadline = now_ms() + wait_ms;
	char holder[256] = "unknown holder";
	int held = 0, logged = 0;
	enum errcode rc;

	for (;;) {
		if ((rc = lock_try(x, &held, holder, sizeof(holder), e)) != ERR_OK)
			return rc;
		if (held || now_ms() >= deadline)
			break;
		if (!logged++)
			log_info("waiting for the state lock", "state=\"%s\" holder=\"%s\"", st->path,
			         holder);
		{
			struct timespec ts = { STATE_R2_POLL_MS / 1000,
			                       (long)(STATE_R2_POLL_MS % 1000) * 1000000L };

			nanosleep(&ts, NULL); /* a bounded poll on the lock, not a wait for time */
		}
	}
	if (!held)
		return err_set(e, ERR_CONFLICT, "state '%s' is locked by another cfstorage (%s)%s",
		               st->path, holder, wait_ms ? "; waited for it, in vain" : "");
	x->leader = 1;
	atomic_store(&x->lost, 0);
	if ((rc = read_state(st, e)) != ERR_OK) {
		release(x);
		x->leader = 0;
		return rc;
	}
	x->last_ok = now_ms();
	renewer_start(&x->renewer, x->renew_ms, renew_lock, st);
	return ERR_OK;
}

enum errcode
state_r2_campaign(struct state *st, struct err *e)
{
	struct state_r2 *x = st->r2;
	enum errcode rc;

	if (x->leader && !atomic_load(&x->lost))
		return ERR_OK;
	renewer_stop(&x->renewer);
	x->leader = 0;
	if ((rc = acquire(st, 0, e)) == ERR_OK)
		log_info("leader elected", "state=\"%s\"", st->path);
	return rc;
}

int
state_r2_is_leader(const struct state *st)
{
	return st->r2->leader && !atomic_load(&st->r2->lost);
}

enum errcode
state_r2_save(struct state *st, const char *data, struct err *e)
{
	struct state_r2 *x = st->r2;
	struct s3_resp r;
	enum errcode rc;

	if (!state_r2_is_leader(st))
		return err_set(e, ERR_CONFLICT, "the state lock is not held: the state was not written");
	rc = s3(x, x->h, "PUT", x->key, data, strlen(data), x->state_etag[0] ? x->state_etag : NULL,
	        x->state_etag[0] == '\0', &r, e);
	if (rc == ERR_OK && r.status == 200) {
		snprintf(x->state_etag, sizeof(x->state_etag), "%s", r.etag);
	} else if (rc == ERR_OK && r.status == 412) {
		atomic_store(&x->lost, 1);
		rc = err_set(e, ERR_CONFLICT, "state '%s' was changed by someone else since it was "
		             "read; not overwritten", st->path);
	} else if (rc == ERR_OK) {
		rc = s3_unexpected(x, "state write", &r, e);
	}
	buf_release(&r.body);
	return rc;
}

void
state_r2_close(struct state *st)
{
	struct state_r2 *x = st->r2;

	if (x == NULL)
		return;
	renewer_stop(&x->renewer);
	if (x->leader && !atomic_load(&x->lost))
		release(x);
	curl_easy_cleanup(x->h);
	curl_easy_cleanup(x->rh);
	if (x->userpwd) {
		OPENSSL_cleanse(x->userpwd, strlen(x->userpwd));
		free(x->userpwd);
	}
	free(x->base);
	free(x->bucket);
	free(x->key);
	free(x->lock_key);
	free(x->jurisdiction);
	renewer_destroy(&x->renewer);
	free(x);
	st->r2 = NULL;
}

/* The test-only override of the lock timings (state_r2.h). */
static void
timings(struct state_r2 *x)
{
	const char *t = getenv("CFSTORAGE_TEST_R2_LOCK_MS");
	long long v[3];

	x->lease_ms = STATE_R2_LEASE_MS;
	x->renew_ms = STATE_R2_RENEW_MS;
	x->wait_ms = STATE_R2_WAIT_MS;
	if (t && sscanf(t, "%lld,%lld,%lld", &v[0], &v[1], &v[2]) == 3 && v[0] >= 100 &&
	    v[1] >= 10 && v[1] < v[0] && v[2] >= 0) {
		x->lease_ms = v[0];
		x->renew_ms = v[1];
		x->wait_ms = v[2];
	}
}

enum errcode
state_r2_open(const char *url, int lock, const struct state_r2_creds *c, struct state **out,
              struct err *e)
{
	struct state *st = xcalloc(1, sizeof(*st));
	struct state_r2 *x = xcalloc(1, sizeof(*x));
	enum errcode rc;
	time_t now = time(NULL);
	struct tm tm;

	st->path = xstrdup(url);
	st->lock_fd = -1;
	st->readonly = !lock;
	st->r2 = x;
	*out = st;
	renewer_init(&x->renewer);
	x->h = curl_easy_init();
	x->rh = curl_easy_init();
	timings(x);
	if ((rc = state_r2_parse_url(url, &x->bucket, &x->key, &x->jurisdiction, e)) != ERR_OK)
		return rc;
	x->lock_key = xasprintf("%s.lock", x->key);
	if (c->key_id == NULL || c->secret == NULL || !c->key_id[0] || !c->secret[0])
		return err_set(e, ERR_INVALID, "state '%s' needs R2 credentials", url);
	if (strchr(c->key_id, ':'))
		return err_set(e, ERR_INVALID, "R2 access key id holds ':'");
	if ((rc = url_check_endpoint(c->endpoint, "R2 endpoint", &x->base, e)) != ERR_OK)
		return rc;
	x->jur_header = c->endpoint_override;
	x->userpwd = xasprintf("%s:%s", c->key_id, c->secret);
	gethostname(x->host, sizeof(x->host) - 1);
	snprintf(x->command, sizeof(x->command), "%s", c->command ? c->command : "cfstorage");
	gmtime_r(&now, &tm);
	strftime(x->started, sizeof(x->started), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!lock) /* a reader: the state as the holder last wrote it, no lock */
		return read_state(st, e);
	rc = acquire(st, (lock & STATE_STANDBY) ? 0 : x->wait_ms, e);
	if (rc == ERR_CONFLICT && (lock & STATE_STANDBY)) {
		log_info("standby: another replica is the leader", "detail=\"%s\"", e->msg);
		err_clear(e);
		return ERR_OK;
	}
	return rc;
}

enum errcode
state_r2_lock_info(struct state *st, char **text, int *expired, struct err *e)
{
	struct state_r2 *x = st->r2;
	struct s3_resp r;
	enum errcode rc;
	char holder[256];
	long long exp;

	*text = NULL;
	*expired = 0;
	if ((rc = s3(x, x->h, "GET", x->lock_key, NULL, 0, NULL, 0, &r, e)) != ERR_OK)
		goto out;
	if (r.status == 404) {
		*text = xstrdup("");
	} else if (r.status == 200) {
		lock_parse(&r, holder, sizeof(holder), &exp);
		*text = xstrdup(holder);
		*expired = exp <= now_ms();
	} else {
		rc = s3_unexpected(x, "lock read", &r, e);
	}
out:
	buf_release(&r.body);
	return rc;
}

enum errcode
state_r2_force_unlock(struct state *st, struct err *e)
{
	struct state_r2 *x = st->r2;
	struct s3_resp r;
	enum errcode rc = s3(x, x->h, "DELETE", x->lock_key, NULL, 0, NULL, 0, &r, e);

	if (rc == ERR_OK && r.status / 100 != 2)
		rc = s3_unexpected(x, "lock delete", &r, e);
	buf_release(&r.body);
	return rc;
}

enum errcode
state_r2_exists(struct state *st, int *exists, struct err *e)
{
	*exists = st->r2->state_etag[0] != '\0';
	(void)e;
	return ERR_OK;
}

unsigned long
state_s3_requests(const struct state *st)
{
	return st && st->r2 ? atomic_load(&st->r2->requests) : 0;
}
