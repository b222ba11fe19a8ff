/*
 * Fuzz target: the parsers of Cloudflare API answers (pkg/api/types.c). The
 * first byte picks the parser and the HTTP status, the rest is the response
 * body, as api.c hands it over (any bytes, not NUL-terminated by contract).
 * Lifecycle and CORS rules that parse are also serialized again (the PUT
 * bodies apply sends) and re-parsed.
 */
#include <stdlib.h>
#include <string.h>

#include "../../pkg/api/api.h"
#include "fuzz.h"

/* What the first byte selects (its value modulo PARSERS). */
enum parser {
	P_BUCKET_PAGE, P_KV_NS_PAGE, P_KV_KEYS_PAGE, P_LIFECYCLE, P_CORS, P_BUCKET,
	P_KV, P_KV_PAGE_FIND, P_OBJECT_COUNT, P_FIND_STORE, P_FIND_SECRET, P_PARSE_ID,
	P_LIST_NAMES, P_BULK_FAILURES, PARSERS
};

static void
strs_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* A call as api.c leaves it after an exchange: status and body. */
static void
call_init(struct api_call *c, long status, const uint8_t *body, size_t len)
{
	memset(c, 0, sizeof(*c));
	c->method = "GET";
	c->status = status;
	buf_init(&c->resp, API_MAX_RESPONSE);
	if (buf_append(&c->resp, body, len) != 0)
		abort();
}

static void
reparse(const char *json, int lifecycle)
{
	struct api_call c;

	/* the PUT body is {"rules": [...]}; the GET answer wraps it in result */
	char *wrapped = xasprintf("{\"success\":true,\"result\":%s}", json);

	call_init(&c, 200, (const uint8_t *)wrapped, strlen(wrapped));
	if (lifecycle) {
		struct lc_rule *r;
		size_t n;

		(void)api_parse_lifecycle(&c, &r, &n);
		lc_rules_free(r, n);
	} else {
		struct cors_rule *r;
		size_t n;

		(void)api_parse_cors(&c, &r, &n);
		cors_rules_free(r, n);
	}
	buf_release(&c.resp);
	free(wrapped);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct api_call c;
	enum parser which;
	long status;

	if (size < 1)
		return 0;
	which = (enum parser)(data[0] % PARSERS);
	status = data[0] & 0x80 ? 404 : 200;
	call_init(&c, status, data + 1, size - 1);
	switch (which) {
	case P_BUCKET_PAGE: {
		struct obs_bucket *v = NULL;
		size_t n = 0;
		char *next = NULL;

		(void)api_parse_bucket_page(&c, "eu", &v, &n, &next);
		for (size_t i = 0; i < n; i++)
			obs_bucket_release(&v[i]);
		free(v);
		free(next);
		break;
	}
	case P_KV_NS_PAGE: {
		struct obs_kv *v = NULL;
		size_t n = 0;
		int last;

		(void)api_parse_kv_ns_page(&c, 1, &v, &n, &last);
		for (size_t i = 0; i < n; i++)
			obs_kv_release(&v[i]);
		free(v);
		break;
	}
	case P_KV_KEYS_PAGE: {
		struct obs_kv k;
		size_t cap = 0;
		char *next = NULL;

		memset(&k, 0, sizeof(k));
		(void)api_parse_kv_keys_page(&c, &k, &cap, &next);
		free(next);
		obs_kv_release(&k);
		break;
	}
	case P_LIFECYCLE: {
		struct lc_rule *r;
		size_t n;

		if (api_parse_lifecycle(&c, &r, &n) == 0) {
			char *json = api_lifecycle_json(r, n);

			reparse(json, 1);
			free(json);
		}
		lc_rules_free(r, n);
		break;
	}
	case P_CORS: {
		struct cors_rule *r;
		size_t n;

		if (api_parse_cors(&c, &r, &n) == 1) {
			char *json = api_cors_json(r, n);

			reparse(json, 0);
			free(json);
		}
		cors_rules_free(r, n);
		break;
	}
	case P_BUCKET: {
		struct obs_bucket b;

		memset(&b, 0, sizeof(b));
		(void)api_parse_bucket(&c, &b);
		obs_bucket_release(&b);
		break;
	}
	case P_KV: {
		struct obs_kv k;

		memset(&k, 0, sizeof(k));
		(void)api_parse_kv(&c, &k);
		obs_kv_release(&k);
		break;
	}
	case P_KV_PAGE_FIND: {
		char *id;

		(void)api_kv_page_find(&c, "app-config", &id);
		free(id);
		break;
	}
	case P_OBJECT_COUNT: {
		int more;

		(void)api_parse_object_count(&c, &more);
		break;
	}
	case P_FIND_STORE: {
		char *id, *other;

		(void)api_find_store(&c, "default", &id, &other);
		free(id);
		free(other);
		break;
	}
	case P_FIND_SECRET: {
		char *comment, *id = api_find_secret(&c, "API_KEY_V1", &comment);

		free(id);
		free(comment);
		break;
	}
	case P_PARSE_ID: {
		char *id;

		api_parse_id(&c, &id);
		free(id);
		break;
	}
	case P_LIST_NAMES: {
		char **names, **comments;
		size_t n = api_list_names(&c, &names, &comments);

		strs_free(names, n);
		strs_free(comments, n);
		break;
	}
	case P_BULK_FAILURES:
		(void)api_bulk_failures(&c);
		break;
	case PARSERS:
	default:
		abort();
	}
	buf_release(&c.resp);
	return 0;
}
