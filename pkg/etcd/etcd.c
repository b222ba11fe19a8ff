#include "etcd.h"

#include <cJSON.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../mem/mem.h"
#include "../url/url.h"

struct etcd {
	CURL *h;
	char *base;      /* http://HOST:PORT */
};

static char *
b64(const char *s, size_t n)
{
	char *out = xmalloc(4 * ((n + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
	return out;
}

static char *
unb64(const char *s, size_t *len)
{
	size_t n = strlen(s), pad = 0;
	char *out = xmalloc(3 * (n / 4) + 2);
	int r;

	if (n % 4) {
		free(out);
		return NULL;
	}
	r = EVP_DecodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
	if (r < 0) {
		free(out);
		return NULL;
	}
	if (n >= 1 && s[n - 1] == '=')
		pad++;
	if (n >= 2 && s[n - 2] == '=')
		pad++;
	*len = (size_t)r - pad;
	out[*len] = '\0';
	return out;
}

struct etcd *
etcd_new(const char *url, char **prefix, struct err *e)
{
	const char *rest, *slash;
	char *base, *checked;
	struct etcd *c;
	int tls;

	if (strncmp(url, "etcd://", 7) == 0) {
		rest = url + 7;
		tls = 0;
	} else if (strncmp(url, "etcds://", 8) == 0) {
		rest = url + 8;
		tls = 1;
	} else {
		err_set(e, ERR_INVALID, "state '%s' must be etcd://HOST:PORT/PREFIX", url);
		return NULL;
	}
	slash = strchr(rest, '/');
	if (slash == NULL || slash == rest || slash[1] == '\0') {
		err_set(e, ERR_INVALID, "state '%s' must be etcd://HOST:PORT/PREFIX", url);
		return NULL;
	}
	/* the host as libcurl will see it: plain etcd:// only to loopback, and
	 * no userinfo ("etcd://127.0.0.1@198.51.100.7/p" is not loopback) */
	base = xasprintf("%s://%.*s", tls ? "https" : "http", (int)(slash - rest), rest);
	if (url_check_endpoint(base, "etcd endpoint", &checked, e) != ERR_OK) {
		if (!tls && strstr(e->msg, "only loopback"))
			err_set(e, ERR_INVALID, "plain etcd:// is allowed only to loopback (127.0.0.0/8, "
			        "::1, localhost); use etcds://");
		free(base);
		return NULL;
	}
	free(base);
	c = xcalloc(1, sizeof(*c));
	c->base = checked; /* hand-over */
	c->h = curl_easy_init();
	*prefix = xstrdup(slash);
	return c;
}

void
etcd_free(struct etcd *c)
{
	if (c == NULL)
		return;
	curl_easy_cleanup(c->h);
	free(c->base);
	free(c);
}

static size_t
on_body(char *p, size_t size, size_t n, void *user)
{
	return buf_append(user, p, size * n) < 0 ? 0 : size * n;
}

/* POSTs body to path; returns the parsed JSON answer or NULL with e set. */
static cJSON *
call(struct etcd *c, const char *path, const char *body, struct err *e)
{
	struct buf resp;
	char *url = xasprintf("%s%s", c->base, path);
	CURLcode cc;
	long status = 0;
	cJSON *root = NULL;
	const char *end;

	buf_init(&resp, 4 * ETCD_MAX_VALUE);
	curl_easy_reset(c->h);
	curl_easy_setopt(c->h, CURLOPT_URL, url);
	curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, (long)ETCD_TIMEOUT_MS);
	curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &resp);
	cc = curl_easy_perform(c->h);
	free(url);
	if (cc != CURLE_OK) {
		err_set(e, ERR_TRANSIENT, "etcd at %s: %s", c->base, curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
	root = resp.len ? cJSON_ParseWithLengthOpts(resp.data, resp.len, &end, 0) : NULL;
	if (status != 200 || root == NULL) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "message");

		err_set(e, status >= 500 ? ERR_TRANSIENT : ERR_PERMANENT, "etcd %s: HTTP %ld%s%s",
		        path, status, cJSON_IsString(m) ? ": " : "", cJSON_IsString(m) ? m->valuestring : "");
		cJSON_Delete(root);
		root = NULL;
	}
out:
	buf_release(&resp);
	return root;
}

static int64_t
jint(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	if (cJSON_IsString(v))
		return strtoll(v->valuestring, NULL, 10);
	if (cJSON_IsNumber(v))
		return (int64_t)v->valuedouble;
	return 0;
}

enum errcode
etcd_get(struct etcd *c, const char *key, char **val, size_t *len, int64_t *lease,
         struct err *e)
{
	char *k = b64(key, strlen(key)), *body = xasprintf("{\"key\":\"%s\"}", k);
	cJSON *root = call(c, "/v3/kv/range", body, e), *kvs, *first;
	enum errcode rc;

	free(k);
	free(body);
	*val = NULL;
	if (root == NULL)
		return e->code;
	kvs = cJSON_GetObjectItemCaseSensitive(root, "kvs");
	first = cJSON_GetArrayItem(kvs, 0);
	if (first == NULL) {
		rc = err_set(e, ERR_NOTFOUND, "etcd key '%s' not found", key);
	} else {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(first, "value");

		*val = unb64(cJSON_IsString(v) ? v->valuestring : "", len);
		if (lease)
			*lease = jint(first, "lease");
		rc = *val ? ERR_OK : err_set(e, ERR_PERMANENT, "etcd key '%s': bad value", key);
	}
	cJSON_Delete(root);
	return rc;
}

enum errcode
etcd_lease_grant(struct etcd *c, int ttl, int64_t *id, struct err *e)
{
	char *body = xasprintf("{\"TTL\":%d}", ttl);
	cJSON *root = call(c, "/v3/lease/grant", body, e);

	free(body);
	if (root == NULL)
		return e->code;
	*id = jint(root, "ID");
	cJSON_Delete(root);
	return *id ? ERR_OK : err_set(e, ERR_PERMANENT, "etcd gave no lease");
}

enum errcode
etcd_lease_keepalive(struct etcd *c, int64_t id, int64_t *ttl, struct err *e)
{
	char *body = xasprintf("{\"ID\":\"%lld\"}", (long long)id);
	cJSON *root = call(c, "/v3/lease/keepalive", body, e), *res;

	free(body);
	if (root == NULL)
		return e->code;
	res = cJSON_GetObjectItemCaseSensitive(root, "result");
	*ttl = jint(res, "TTL"); /* absent when the lease no longer exists */
	cJSON_Delete(root);
	return ERR_OK;
}

enum errcode
etcd_lease_revoke(struct etcd *c, int64_t id, struct err *e)
{
	char *body = xasprintf("{\"ID\":\"%lld\"}", (long long)id);
	cJSON *root = call(c, "/v3/lease/revoke", body, e);

	free(body);
	if (root == NULL)
		return e->code;
	cJSON_Delete(root);
	return ERR_OK;
}

enum errcode
etcd_create(struct etcd *c, const char *key, const char *value, int64_t lease, int *won,
            struct err *e)
{
	char *k = b64(key, strlen(key)), *v = b64(value, strlen(value));
	char *body = xasprintf("{\"compare\":[{\"key\":\"%s\",\"target\":\"CREATE\","
	                       "\"create_revision\":\"0\"}],\"success\":[{\"request_put\":"
	                       "{\"key\":\"%s\",\"value\":\"%s\",\"lease\":\"%lld\"}}]}",
	                       k, k, v, (long long)lease);
	cJSON *root = call(c, "/v3/kv/txn", body, e);

	free(k);
	free(v);
	free(body);
	if (root == NULL)
		return e->code;
	*won = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "succeeded"));
	cJSON_Delete(root);
	return ERR_OK;
}

enum errcode
etcd_put_guarded(struct etcd *c, const char *key, const char *val, size_t len,
                 const char *guard_key, const char *guard_value, struct err *e)
{
	char *k, *v, *gk, *gv, *body;
	cJSON *root;
	int ok;

	if (len > ETCD_MAX_VALUE)
		return err_set(e, ERR_PERMANENT, "state is %zu bytes; etcd takes at most %u", len,
		               ETCD_MAX_VALUE);
	k = b64(key, strlen(key));
	v = b64(val, len);
	gk = b64(guard_key, strlen(guard_key));
	gv = b64(guard_value, strlen(guard_value));
	body = xasprintf("{\"compare\":[{\"key\":\"%s\",\"target\":\"VALUE\",\"result\":\"EQUAL\","
	                 "\"value\":\"%s\"}],\"success\":[{\"request_put\":{\"key\":\"%s\","
	                 "\"value\":\"%s\"}}]}", gk, gv, k, v);
	root = call(c, "/v3/kv/txn", body, e);
	free(k);
	free(v);
	free(gk);
	free(gv);
	free(body);
	if (root == NULL)
		return e->code;
	ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "succeeded"));
	cJSON_Delete(root);
	return ok ? ERR_OK : err_set(e, ERR_CONFLICT, "leadership lost: the state was not "
	                                              "written");
}
