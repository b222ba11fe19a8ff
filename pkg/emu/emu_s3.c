/*
 * emu_s3: R2's S3-compatible object API, path-style (/{bucket}/{key}), on a
 * listener of its own (cfemu --s3-listen). It serves what cfstorage's r2
 * state backend and the AWS SDK tests need: GetObject, HeadObject,
 * PutObject (If-Match, If-None-Match), DeleteObject (If-Match) and
 * ListObjectsV2, with S3's XML error bodies and ETags
 * (cloudflare-api/REFERENCE.md section 10).
 *
 * Every request must carry an AWS Signature V4 that verifies (region "auto"
 * or "us-east-1", service "s3") with the credentials R2 derives from the
 * emulator's API token: access key id = the token's id (what token verify
 * reports), secret access key = lower-case hex SHA-256 of the token value.
 *
 * The objects are the v4 API's objects (struct emu_object in a bucket of
 * the model): a bucket holding one is not empty and cannot be deleted. A
 * verified request is run as an internal admin route under /__emu/s3/
 * (JURISDICTION/BUCKET[/KEY]) through emu_dispatch, so writes are journaled
 * and replayed like every other write, and S3 requests stay out of the v4
 * rate limiter (R2's S3 API is not under the 1,200/5 min limit). Those
 * routes are also reachable, unsigned, from loopback on the v4 listener,
 * like every /__emu/ route (test-only).
 *
 * Jurisdictions: R2 serves eu and fedramp buckets on ACCOUNT.eu.r2... and
 * ACCOUNT.fedramp.r2...; the emulator takes the jurisdiction from a Host
 * label "eu" or "fedramp" in the same places, and, as its documented
 * equivalent on a plain 127.0.0.1 endpoint, from a signed cf-r2-jurisdiction
 * header (the v4 API's header name).
 */
#include "emu_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "../log/log.h"
#include "../mem/mem.h"

/* ListObjectsV2: S3's default and largest max-keys. */
#define S3_MAX_KEYS 1000
/* Largest difference between x-amz-date and the clock (S3's 15 minutes). */
#define S3_SKEW_SECS 900
/* Seconds an idle keep-alive connection is kept open. */
#define S3_CONN_TIMEOUT 120
/* Longest Authorization header or signed-header list we parse. */
#define S3_AUTH_MAX 2048
#define S3_NS "http://s3.amazonaws.com/doc/2006-03-01/"

/* ---- small helpers ---- */

static void
hex(const unsigned char *d, size_t n, char *out)
{
	static const char h[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = h[d[i] >> 4];
		out[2 * i + 1] = h[d[i] & 15];
	}
	out[2 * n] = '\0';
}

static void
sha256_hex(const void *p, size_t n, char out[65])
{
	unsigned char d[32];
	unsigned int dl = 0;

	EVP_Digest(p, n, d, &dl, EVP_sha256(), NULL);
	hex(d, 32, out);
}

static void
hmac(const void *key, size_t klen, const char *msg, unsigned char out[32])
{
	unsigned int ol = 32;

	HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg), out, &ol);
}

/* S3's URI encoding: unreserved characters stay, '/' too when keep_slash. */
static void
uri_encode(struct buf *b, const char *s, int keep_slash)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/'))
			buf_append(b, (const char *)&c, 1);
		else
			buf_printf(b, "%%%02X", c);
	}
}

static void
xml_escape(struct buf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': buf_puts(b, "&amp;"); break;
		case '<': buf_puts(b, "&lt;"); break;
		case '>': buf_puts(b, "&gt;"); break;
		case '"': buf_puts(b, "&quot;"); break;
		default: buf_append(b, s, 1);
		}
	}
}

/* An S3 error: status, <Error><Code>code</Code><Message>msg</Message></Error>. */
static void
s3_fail(struct emu_resp *rs, unsigned status, const char *code, const char *msg)
{
	struct buf b;

	buf_init(&b, (size_t)-1);
	buf_printf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code>"
	           "<Message>", code);
	xml_escape(&b, msg);
	buf_puts(&b, "</Message></Error>");
	free(rs->body);
	rs->status = status;
	rs->len = b.len;
	rs->body = buf_take(&b);
	rs->ctype = "application/xml";
}

static void
etag_of(const struct emu_object *o, char out[35])
{
	unsigned char d[16];
	unsigned int dl = 0;
	char h[33];

	EVP_Digest(o->data ? o->data : "", o->data ? (size_t)o->size : 0, d, &dl, EVP_md5(), NULL);
	hex(d, 16, h);
	snprintf(out, 35, "\"%s\"", h);
}

/* Whether the If-Match / If-None-Match list in h holds etag ("*" = any). */
static int
etag_listed(const char *h, const char *etag)
{
	char tok[80];

	while (*h) {
		size_t n;

		while (*h == ' ' || *h == ',')
			h++;
		n = strcspn(h, ",");
		while (n > 0 && h[n - 1] == ' ')
			n--;
		if (n == 0)
			break;
		snprintf(tok, sizeof(tok), "%.*s", (int)n, h);
		if (strcmp(tok, "*") == 0)
			return 1;
		if (etag) {
			const char *a = tok, *b = etag;
			size_t al = strlen(a), bl = strlen(b);

			if (strncmp(a, "W/", 2) == 0)
				a += 2, al -= 2;
			if (al >= 2 && a[0] == '"')
				a++, al -= 2;
			if (bl >= 2 && b[0] == '"')
				b++, bl -= 2;
			if (al == bl && strncmp(a, b, al) == 0)
				return 1;
		}
		h += strcspn(h, ",");
	}
	return 0;
}

/* ---- the handlers (admin routes, run by emu_dispatch with the mutex) ---- */

static struct emu_bucket *
s3_bucket(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	struct emu_bucket *b = emu_bucket_find(&e->m, emu_param(rq, "jurisdiction"),
	                                       emu_param(rq, "bucket_name"));

	if (b == NULL)
		s3_fail(rs, 404, "NoSuchBucket", "The specified bucket does not exist.");
	return b;
}

/* The object at key and its index, or the index it would go to (objects
 * are kept sorted by key). */
static struct emu_object *
obj_find(struct emu_bucket *b, const char *key, size_t *at)
{
	size_t i;

	for (i = 0; i < b->objects.n; i++) {
		int c = strcmp(((struct emu_object *)b->objects.v[i])->key, key);

		if (c == 0) {
			*at = i;
			return b->objects.v[i];
		}
		if (c > 0)
			break;
	}
	*at = i;
	return NULL;
}

/*
 * Conditional headers on a write (REFERENCE.md 10.3): If-Match fails when
 * the key does not exist or its ETag is not listed; If-None-Match fails
 * when the key exists and "*" or its ETag is listed. 0 when they hold.
 */
static int
preconditions_fail(const struct emu_req *rq, const struct emu_object *o)
{
	const char *im = emu_header(rq, "if-match"), *inm = emu_header(rq, "if-none-match");
	char etag[35];

	if (o)
		etag_of(o, etag);
	if (im && (o == NULL || !etag_listed(im, etag)))
		return 1;
	if (inm && o && etag_listed(inm, etag))
		return 1;
	return 0;
}

static void
set_etag(struct emu_resp *rs, const struct emu_object *o)
{
	etag_of(o, rs->etag);
	rs->last_modified = o->uploaded;
}

/* GetObject / HeadObject: the object's bytes (none for a seeded object). */
static void
h_get(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	struct emu_bucket *b = s3_bucket(e, rq, rs);
	struct emu_object *o;
	size_t at;

	if (b == NULL)
		return;
	o = obj_find(b, emu_param(rq, "key"), &at);
	if (o == NULL) {
		s3_fail(rs, 404, "NoSuchKey", "The specified key does not exist.");
		return;
	}
	emu_raw(rs, 200, "application/octet-stream", o->data ? o->data : "",
	        o->data ? (size_t)o->size : 0);
	set_etag(rs, o);
}

/* PutObject, conditional on If-Match / If-None-Match (412 PreconditionFailed). */
static void
h_put(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	struct emu_bucket *b = s3_bucket(e, rq, rs);
	struct emu_object *o;
	size_t at;

	if (b == NULL)
		return;
	o = obj_find(b, emu_param(rq, "key"), &at);
	if (preconditions_fail(rq, o)) {
		s3_fail(rs, 412, "PreconditionFailed",
		        "At least one of the pre-conditions you specified did not hold");
		return;
	}
	if (o == NULL) {
		o = xcalloc(1, sizeof(*o));
		o->key = xstrdup(emu_param(rq, "key"));
		emu_vec_insert(&b->objects, at, o);
	}
	free(o->data);
	o->data = xmalloc(rq->body_len + 1);
	memcpy(o->data, rq->body, rq->body_len);
	o->data[rq->body_len] = '\0';
	o->size = (long long)rq->body_len;
	o->uploaded = rq->now;
	emu_raw(rs, 200, "application/xml", "", 0);
	set_etag(rs, o);
}

/* DeleteObject: 204 whether or not the key existed; If-Match must hold. */
static void
h_delete(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	struct emu_bucket *b = s3_bucket(e, rq, rs);
	struct emu_object *o;
	size_t at;

	if (b == NULL)
		return;
	o = obj_find(b, emu_param(rq, "key"), &at);
	if (emu_header(rq, "if-match") && preconditions_fail(rq, o)) {
		s3_fail(rs, 412, "PreconditionFailed",
		        "At least one of the pre-conditions you specified did not hold");
		return;
	}
	if (o) {
		emu_vec_remove(&b->objects, at);
		free(o->key);
		free(o->data);
		free(o);
	}
	emu_raw(rs, 204, "application/xml", "", 0);
}

/* ListObjectsV2: keys after the continuation token (or start-after) with
 * the prefix, at most max-keys (1..1000) of them. */
static void
h_list(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	struct emu_bucket *b = s3_bucket(e, rq, rs);
	const char *prefix = emu_query(rq, "prefix"), *tok = emu_query(rq, "continuation-token");
	const char *after = emu_query(rq, "start-after");
	long long max = S3_MAX_KEYS;
	char *from = NULL;
	size_t count = 0, i;
	struct buf x;
	const char *last = NULL;

	if (b == NULL)
		return;
	if (emu_query(rq, "max-keys") &&
	    (emu_parse_ll(emu_query(rq, "max-keys"), &max) != 0 || max < 0 || max > S3_MAX_KEYS)) {
		s3_fail(rs, 400, "InvalidArgument", "max-keys must be 0..1000");
		return;
	}
	if (tok && *tok && (from = emu_cursor_read(tok)) == NULL) {
		s3_fail(rs, 400, "InvalidArgument", "The continuation token provided is incorrect");
		return;
	}
	if (from == NULL && after && *after)
		from = xstrdup(after);
	if (prefix == NULL)
		prefix = "";
	buf_init(&x, (size_t)-1);
	for (i = 0; i < b->objects.n; i++) {
		struct emu_object *o = b->objects.v[i];
		char etag[35], *when;

		if ((from && strcmp(o->key, from) <= 0) || strncmp(o->key, prefix, strlen(prefix)) != 0)
			continue;
		if ((long long)count == max)
			break;
		etag_of(o, etag);
		when = emu_iso_time(o->uploaded);
		buf_puts(&x, "<Contents><Key>");
		xml_escape(&x, o->key);
		buf_printf(&x, "</Key><LastModified>%s</LastModified><ETag>&quot;%.32s&quot;</ETag>"
		           "<Size>%lld</Size><StorageClass>STANDARD</StorageClass></Contents>",
		           when, etag + 1, o->size);
		free(when);
		last = o->key;
		count++;
	}
	{
		struct buf b2;
		int more = i < b->objects.n && (long long)count == max && last;

		buf_init(&b2, (size_t)-1);
		buf_puts(&b2, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\""
		         S3_NS "\"><Name>");
		xml_escape(&b2, b->name);
		buf_puts(&b2, "</Name><Prefix>");
		xml_escape(&b2, prefix);
		buf_printf(&b2, "</Prefix><KeyCount>%zu</KeyCount><MaxKeys>%lld</MaxKeys>"
		           "<IsTruncated>%s</IsTruncated>", count, max, more ? "true" : "false");
		if (more) {
			char *c = emu_cursor_make(last);

			buf_printf(&b2, "<NextContinuationToken>%s</NextContinuationToken>", c);
			free(c);
		}
		buf_append(&b2, x.data ? x.data : "", x.len);
		buf_puts(&b2, "</ListBucketResult>");
		emu_raw(rs, 200, "application/xml", b2.data, b2.len);
		buf_release(&b2);
	}
	buf_release(&x);
	free(from);
}

#define S3R "/__emu/s3/{jurisdiction}/{bucket_name}"
#define A EMU_R_ADMIN
const struct emu_route emu_s3_routes[] = {
	{ "GET", S3R, h_list, A },
	{ "GET", S3R "/{key}", h_get, A | EMU_R_REST },
	{ "HEAD", S3R "/{key}", h_get, A | EMU_R_REST },
	{ "PUT", S3R "/{key}", h_put, A | EMU_R_REST | EMU_R_JOURNAL },
	{ "DELETE", S3R "/{key}", h_delete, A | EMU_R_REST | EMU_R_JOURNAL },
};
const size_t emu_s3_nroutes = sizeof(emu_s3_routes) / sizeof(emu_s3_routes[0]);
#undef A

/* ---- Signature V4 ---- */

/* What a request brings to the verifier; strings borrowed. */
struct s3_in {
	const char *method, *path;       /* path decoded, as libmicrohttpd gives it */
	const struct vec *query, *headers;
	const char *body;
	size_t body_len;
};

static const char *
hdr(const struct vec *v, const char *name)
{
	for (size_t i = 0; i < v->n; i++) {
		const struct emu_kvpair *p = v->v[i];

		if (strcmp(p->k, name) == 0)
			return p->v;
	}
	return NULL;
}

static int
cmp_pair(const void *a, const void *b)
{
	const char *const *x = a, *const *y = b;

	return strcmp(*x, *y);
}

/* The canonical query: every "enc(k)=enc(v)", sorted, joined by '&'. */
static void
canonical_query(struct buf *out, const struct vec *q)
{
	char **v = xcalloc(q->n + 1, sizeof(*v));

	for (size_t i = 0; i < q->n; i++) {
		const struct emu_kvpair *p = q->v[i];
		struct buf b;

		buf_init(&b, (size_t)-1);
		uri_encode(&b, p->k, 0);
		buf_puts(&b, "=");
		uri_encode(&b, p->v, 0);
		v[i] = buf_take(&b);
	}
	qsort(v, q->n, sizeof(*v), cmp_pair);
	for (size_t i = 0; i < q->n; i++) {
		buf_printf(out, "%s%s", i ? "&" : "", v[i]);
		free(v[i]);
	}
	free(v);
}

/* A header value trimmed, inner runs of spaces made one. */
static void
header_value(struct buf *out, const char *s)
{
	int space = 0;

	while (*s == ' ' || *s == '\t')
		s++;
	for (; *s; s++) {
		if (*s == ' ' || *s == '\t') {
			space = 1;
			continue;
		}
		if (space)
			buf_puts(out, " ");
		space = 0;
		buf_append(out, s, 1);
	}
}

/* The value of "NAME=" in an Authorization header, up to ',' or the end. */
static int
auth_field(const char *auth, const char *name, char *out, size_t len)
{
	const char *p = strstr(auth, name);
	size_t n;

	if (p == NULL)
		return -1;
	p += strlen(name);
	n = strcspn(p, ", ");
	if (n == 0 || n >= len)
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

/*
 * Verifies the request's AWS Signature V4 (header form) against akid and
 * secret: 0 when it holds, else an S3 error code with its status in rs.
 * The canonical request is built as AWS defines it for S3: the path
 * URI-encoded once, the query sorted, the signed headers with trimmed
 * values, and the payload hash the client declared in x-amz-content-sha256
 * (checked against the body unless UNSIGNED-PAYLOAD).
 */
static int
sigv4_verify(const struct s3_in *in, const char *akid, const char *secret, long long now,
             struct emu_resp *rs)
{
	const char *auth = hdr(in->headers, "authorization");
	const char *date = hdr(in->headers, "x-amz-date");
	const char *payload = hdr(in->headers, "x-amz-content-sha256");
	char cred[256], signed_h[S3_AUTH_MAX], sig[80], want[65], creq_hash[65];
	char *parts[5] = { 0 }, *save = NULL, *p;
	unsigned char k[32], k2[32];
	struct buf creq, sts, key0;
	int rc = -1, n = 0;
	struct tm tm;

	if (auth == NULL || strncmp(auth, "AWS4-HMAC-SHA256 ", 17) != 0 || strlen(auth) > S3_AUTH_MAX) {
		s3_fail(rs, 403, "AccessDenied", "Access Denied");
		return -1;
	}
	if (auth_field(auth, "Credential=", cred, sizeof(cred)) != 0 ||
	    auth_field(auth, "SignedHeaders=", signed_h, sizeof(signed_h)) != 0 ||
	    auth_field(auth, "Signature=", sig, sizeof(sig)) != 0 || date == NULL ||
	    strlen(date) != 16 || payload == NULL) {
		s3_fail(rs, 400, "AuthorizationHeaderMalformed",
		        "The authorization header is malformed");
		return -1;
	}
	for (p = strtok_r(cred, "/", &save); p && n < 5; p = strtok_r(NULL, "/", &save))
		parts[n++] = p;
	if (n != 5 || strcmp(parts[4], "aws4_request") != 0 || strcmp(parts[3], "s3") != 0 ||
	    strncmp(parts[1], date, 8) != 0 ||
	    (strcmp(parts[2], "auto") != 0 && strcmp(parts[2], "us-east-1") != 0 &&
	     strcmp(parts[2], "") != 0)) {
		s3_fail(rs, 400, "AuthorizationHeaderMalformed",
		        "The authorization header is malformed; region must be auto");
		return -1;
	}
	if (strcmp(parts[0], akid) != 0) {
		s3_fail(rs, 403, "InvalidAccessKeyId",
		        "The AWS Access Key Id you provided does not exist in our records.");
		return -1;
	}
	memset(&tm, 0, sizeof(tm));
	if (strptime(date, "%Y%m%dT%H%M%SZ", &tm) == NULL ||
	    llabs((long long)timegm(&tm) - now) > S3_SKEW_SECS) {
		s3_fail(rs, 403, "RequestTimeTooSkewed",
		        "The difference between the request time and the current time is too large.");
		return -1;
	}
	if (strncmp(payload, "STREAMING-", 10) == 0) {
		s3_fail(rs, 501, "NotImplemented", "Streaming payload signing is not implemented");
		return -1;
	}
	if (strcmp(payload, "UNSIGNED-PAYLOAD") != 0) {
		sha256_hex(in->body, in->body_len, want);
		if (strcmp(want, payload) != 0) {
			s3_fail(rs, 400, "XAmzContentSHA256Mismatch",
			        "The provided 'x-amz-content-sha256' header does not match what was computed.");
			return -1;
		}
	}
	buf_init(&creq, (size_t)-1);
	buf_printf(&creq, "%s\n", in->method);
	uri_encode(&creq, in->path, 1);
	buf_puts(&creq, "\n");
	canonical_query(&creq, in->query);
	buf_puts(&creq, "\n");
	{
		char *list = xstrdup(signed_h), *sv = NULL;
		int host = 0;

		for (p = strtok_r(list, ";", &sv); p; p = strtok_r(NULL, ";", &sv)) {
			const char *v = hdr(in->headers, p);

			host |= strcmp(p, "host") == 0;
			buf_printf(&creq, "%s:", p);
			if (v)
				header_value(&creq, v);
			buf_puts(&creq, "\n");
		}
		free(list);
		if (!host) {
			buf_release(&creq);
			s3_fail(rs, 400, "AuthorizationHeaderMalformed", "host must be a signed header");
			return -1;
		}
	}
	buf_printf(&creq, "\n%s\n%s", signed_h, payload);
	sha256_hex(creq.data, creq.len, creq_hash);
	buf_init(&sts, (size_t)-1);
	buf_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", date, parts[1],
	           parts[2], parts[3], creq_hash);
	buf_init(&key0, (size_t)-1);
	buf_printf(&key0, "AWS4%s", secret);
	hmac(key0.data, key0.len, parts[1], k);
	hmac(k, 32, parts[2], k2);
	hmac(k2, 32, parts[3], k);
	hmac(k, 32, "aws4_request", k2);
	{
		unsigned char s[32];
		char sh[65];

		hmac(k2, 32, sts.data, s);
		hex(s, 32, sh);
		if (strlen(sig) == 64 && CRYPTO_memcmp(sh, sig, 64) == 0)
			rc = 0;
		else
			s3_fail(rs, 403, "SignatureDoesNotMatch", "The request signature we calculated "
			        "does not match the signature you provided. Check your secret access key "
			        "and signing method.");
	}
	OPENSSL_cleanse(key0.data, key0.len);
	OPENSSL_cleanse(k, sizeof(k));
	OPENSSL_cleanse(k2, sizeof(k2));
	buf_release(&key0);
	buf_release(&sts);
	buf_release(&creq);
	return rc;
}

/* ---- the listener ---- */

/* "eu" / "fedramp" from cf-r2-jurisdiction or a Host label; else "default". */
static const char *
jurisdiction_of(const struct vec *headers)
{
	static const char *const known[] = { "eu", "fedramp" };
	const char *j = hdr(headers, "cf-r2-jurisdiction"), *host = hdr(headers, "host");

	for (size_t i = 0; i < 2; i++) {
		size_t n = strlen(known[i]);

		if (j && strcmp(j, known[i]) == 0)
			return known[i];
		if (j == NULL && host) {
			const char *dot = strchr(host, '.');

			if (strncmp(host, known[i], n) == 0 && host[n] == '.')
				return known[i];
			if (dot && strncmp(dot + 1, known[i], n) == 0 && dot[1 + n] == '.')
				return known[i];
		}
	}
	return "default";
}

/*
 * One S3 request: buffer the body, verify the signature, then run it as the
 * internal /__emu/s3/ route and answer with the handler's status, body and
 * ETag.
 */
static enum MHD_Result
on_s3(void *cls, struct MHD_Connection *c, const char *url, const char *method,
      const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct emu *e = cls;
	struct emu_conn *cn = *con_cls;
	struct emu_req rq;
	struct emu_resp rs;
	struct MHD_Response *resp;
	struct s3_in in;
	enum MHD_Result ret;
	char secret[65];

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
	memset(&rq, 0, sizeof(rq));
	memset(&rs, 0, sizeof(rs));
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, emu_collect, &rq.query);
	MHD_get_connection_values(c, MHD_HEADER_KIND, emu_collect, &rq.headers);
	rq.ids = cJSON_CreateArray();
	rq.method = xstrdup(method);
	rq.body_len = cn->body.len;
	rq.body = cn->body.data ? buf_take(&cn->body) : xstrdup("");
	in = (struct s3_in){ method, url, &rq.query, &rq.headers, rq.body, rq.body_len };
	pthread_mutex_lock(&e->mu);
	sha256_hex(e->token, strlen(e->token), secret);
	e->s3_requests++;
	pthread_mutex_unlock(&e->mu);
	if (cn->body.toobig) {
		s3_fail(&rs, 413, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size");
	} else if (url[0] != '/' || url[1] == '\0' || url[1] == '/') {
		s3_fail(&rs, 400, "InvalidRequest", "path-style requests only: /BUCKET[/KEY]");
	} else if (sigv4_verify(&in, EMU_TOKEN_ID, secret, (long long)time(NULL), &rs) == 0) {
		const char *slash = strchr(url + 1, '/');

		if (slash && slash[1] == '\0')
			slash = NULL; /* "/bucket/" is the bucket */
		rq.path = slash ? xasprintf("/__emu/s3/%s/%.*s/%s", jurisdiction_of(&rq.headers),
		                            (int)(slash - url - 1), url + 1, slash + 1)
		                : xasprintf("/__emu/s3/%s/%.*s", jurisdiction_of(&rq.headers),
		                            (int)strcspn(url + 1, "/"), url + 1);
		if (strcmp(method, "GET") && strcmp(method, "HEAD") && strcmp(method, "PUT") &&
		    strcmp(method, "DELETE"))
			s3_fail(&rs, 405, "MethodNotAllowed", "The specified method is not allowed");
		else if (!slash && strcmp(method, "GET") != 0)
			s3_fail(&rs, 501, "NotImplemented", "Bucket operations other than "
			        "ListObjectsV2 are not implemented by cfemu");
		else
			emu_dispatch(e, &rq, &rs, 1);
	}
	OPENSSL_cleanse(secret, sizeof(secret));
	emu_req_release(&rq);
	if (rs.body == NULL)
		s3_fail(&rs, 404, "NoSuchKey", "no such route");
	resp = MHD_create_response_from_buffer(rs.len, rs.body, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, rs.ctype);
	if (rs.etag[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, rs.etag);
	if (rs.last_modified > 0) {
		char when[64];
		time_t t = (time_t)rs.last_modified;
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_LAST_MODIFIED, when);
	}
	ret = MHD_queue_response(c, rs.status, resp);
	MHD_destroy_response(resp);
	return ret;
}

enum errcode
emu_s3_start(struct emu *e, const char *addr, int any, struct err *err)
{
	struct sockaddr_storage ss;
	char *host = NULL;
	const union MHD_DaemonInfo *di;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
	                 MHD_USE_POLL | MHD_USE_ITC;

	if (emu_parse_listen(addr, any, &ss, &host, err) != ERR_OK)
		return err->code;
	free(host);
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	e->s3_mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_s3, e,
	                             MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	                             MHD_OPTION_NOTIFY_COMPLETED, emu_conn_done, e,
	                             MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)S3_CONN_TIMEOUT,
	                             MHD_OPTION_END);
	if (e->s3_mhd == NULL)
		return err_set(err, ERR_IO, "cannot listen on '%s' (S3)", addr);
	di = MHD_get_daemon_info(e->s3_mhd, MHD_DAEMON_INFO_BIND_PORT);
	e->s3_port = di ? di->port : 0;
	return ERR_OK;
}

void
emu_s3_stop(struct emu *e)
{
	if (e->s3_mhd)
		MHD_stop_daemon(e->s3_mhd);
	e->s3_mhd = NULL;
}

unsigned
emu_s3_port(const struct emu *e)
{
	return e->s3_port;
}
