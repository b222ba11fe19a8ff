/* Unit tests for pkg/api without a server: URL and token checks, path
 * escaping, route templates for metrics, and Cloudflare's lifecycle and CORS
 * shapes in both directions. */
#include <cJSON.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../pkg/api/api.h"
#include "../../pkg/mem/mem.h"
#include "../../pkg/url/url.h"

static void
expect_refused(const char *url, const char *token, const char *acct, const char *msg)
{
	struct api_config cfg = { url, token, acct, 0, 0, 0, 0, 1 };
	struct err e;

	err_clear(&e);
	assert_null(api_new(&cfg, &e));
	assert_non_null(strstr(e.msg, msg));
	if (token)
		assert_null(strstr(e.msg, token)); /* never echoed */
}

static void
test_new_checks(void **state)
{
	struct api_config cfg = { "http://127.0.0.1:1/client/v4/", "tok", "0123abcd", 0, 0, 0, 0, 1 };
	struct err e;
	struct api *a;

	(void)state;
	expect_refused("http://192.0.2.1/client/v4", "s3cr3t", "ab", "only loopback");
	expect_refused("ftp://x", "s3cr3t", "ab", "must start with https://");
	expect_refused("https://api.example", NULL, "ab", "no API token");
	expect_refused("https://api.example", "bad token", "ab", "spaces or control");
	expect_refused("https://api.example", "s3cr3t", "not-hex!", "not a hex string");
	err_clear(&e);
	a = api_new(&cfg, &e);
	assert_non_null(a);
	assert_string_equal(api_account(a), "0123abcd");
	assert_int_equal(api_get_stats(a)->requests, 0);
	api_free(a);
}

/*
 * Reproducer: the plain-http loopback check was a string prefix, so
 * "http://127.0.0.1@198.51.100.7/" sent the token to 198.51.100.7 and
 * "http://localhost.example.com/" passed. libcurl's parser decides now.
 */
static void
test_endpoint_host_table(void **state)
{
	static const struct {
		const char *url;
		const char *want; /* NULL: accepted; else a part of the message */
	} cases[] = {
		{ "http://127.0.0.1:8787/client/v4", NULL },
		{ "http://127.255.3.4/client/v4/", NULL },
		{ "http://localhost:1/client/v4", NULL },
		{ "http://LOCALHOST:1/", NULL },
		{ "http://[::1]:8787/client/v4", NULL },
		{ "https://api.cloudflare.com/client/v4", NULL },
		{ "HTTPS://api.cloudflare.com/client/v4", NULL },
		{ "http://127.0.0.1@198.51.100.7/", "holds a user name or password" },
		{ "http://127.0.0.1:80@198.51.100.7/", "holds a user name or password" },
		{ "http://user:pw@127.0.0.1/", "holds a user name or password" },
		{ "https://tok:s3cr3t@api.cloudflare.com/", "holds a user name or password" },
		{ "http://localhost.example.com/", "only loopback" },
		{ "http://localhost./", "only loopback" },
		{ "http://127.0.0.1.nip.io/", "only loopback" },
		{ "http://128.0.0.1/", "only loopback" },
		{ "http://[::2]/", "only loopback" },
		{ "http://[::ffff:198.51.100.7]/", "only loopback" },
		{ "http://198.51.100.7#@127.0.0.1/", "must not have a query or fragment" },
		{ "http://127.0.0.1/client/v4?x=1", "must not have a query or fragment" },
		{ "http://127.0.0.1:99999/", "is not a valid URL" },
		{ "http://[::1/client/v4", "is not a valid URL" },
		{ "http:///client/v4", "only loopback" }, /* libcurl reads host "client" */
		{ "ftp://127.0.0.1/", "must start with https://" },
		{ "//127.0.0.1/", "must start with https://" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct api_config cfg = { cases[i].url, "tok", "0123abcd", 0, 0, 0, 0, 1 };
		struct err e;
		struct api *a;

		err_clear(&e);
		a = api_new(&cfg, &e);
		if (cases[i].want == NULL) {
			if (a == NULL)
				fail_msg("'%s' refused: %s", cases[i].url, e.msg);
			api_free(a);
			continue;
		}
		if (a != NULL || strstr(e.msg, cases[i].want) == NULL)
			fail_msg("'%s': want '%s', got '%s'", cases[i].url, cases[i].want,
			         a ? "accepted" : e.msg);
		assert_null(strstr(e.msg, "s3cr3t")); /* a password is never echoed */
	}
}

/* The normalised base (libcurl's form, no trailing '/') is what requests use. */
static void
test_endpoint_normalised(void **state)
{
	char *norm = NULL;
	struct err e;

	(void)state;
	err_clear(&e);
	assert_int_equal(url_check_endpoint("http://LOCALHOST:8787/client/v4//", "endpoint",
	                                    &norm, &e), ERR_OK);
	assert_non_null(strstr(norm, ":8787/client/v4"));
	assert_int_not_equal(norm[strlen(norm) - 1], '/');
	free(norm);
	assert_true(url_host_is_loopback("127.0.0.1"));
	assert_true(url_host_is_loopback("[::1]"));
	assert_true(url_host_is_loopback("::1"));
	assert_false(url_host_is_loopback("127.0.0.1.example"));
	assert_false(url_host_is_loopback("localhostx"));
	assert_false(url_host_is_loopback("[::1"));
}

/* A call whose response body is body[0..len) (len 0: strlen), as if the
 * server had sent it. */
static struct api_call *
answered(const char *body, size_t len)
{
	struct api_call *c = api_call_new("GET", "/x");

	assert_int_equal(buf_append(&c->resp, body, len ? len : strlen(body)), 0);
	return c;
}

/*
 * Reproducer: ids and names from the server went unchecked into URL paths
 * (a namespace id "../../x" was requested as a path) and a NUL in a listed
 * name cut it short. Checked at the parse boundary; paths are checked again.
 */
static void
test_server_ids_and_names(void **state)
{
	static const char *const bad_ids[] = {
		"../../x", "..", "a/b", "a%2fb", "a b", "", "a.b", "id\n",
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0",
	};
	static const char nul_list[] =
		"{\"result\":[{\"id\":\"0123456789abcdef0123456789abcdef\",\"title\":\"a\\u0000b\"}]}";
	struct api_call *c;
	struct obs_kv k;
	char **names = NULL, *id = NULL;

	(void)state;
	assert_true(api_id_ok("0123456789abcdef0123456789abcdef"));
	assert_true(api_id_ok("Ab_-9"));
	for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++)
		if (api_id_ok(bad_ids[i]))
			fail_msg("id '%s' accepted", bad_ids[i]);
	assert_true(api_name_ok("logs bucket/é"));
	assert_false(api_name_ok(""));
	assert_false(api_name_ok("a\x01b"));
	assert_false(api_name_ok(NULL));

	/* a namespace whose id climbs: not parsed, so never requested */
	c = answered("{\"result\":{\"id\":\"../../x\",\"title\":\"t\"}}", 0);
	memset(&k, 0, sizeof(k));
	assert_int_equal(api_parse_kv(c, &k), -1);
	assert_null(k.id);
	api_call_free(c);
	c = answered("{\"result\":[{\"id\":\"../../x\",\"title\":\"t\"}]}", 0);
	assert_int_equal(api_kv_page_find(c, "t", &id), 1);
	assert_null(id);
	api_call_free(c);
	/* a NUL in a listed name: the response is not used at all */
	c = answered(nul_list, sizeof(nul_list) - 1);
	assert_int_equal(api_kv_page_find(c, "a", &id), -1);
	assert_null(id);
	api_call_free(c);
	c = answered("{\"result\":[{\"name\":\"ok\"},{\"name\":\"bad\\u0001\"},{\"name\":7}]}", 0);
	assert_int_equal(api_list_names(c, &names, NULL), 1);
	assert_string_equal(names[0], "ok");
	free(names[0]);
	free(names);
	api_call_free(c);

	/* the last guard: a path with a dot segment is never requested */
	assert_true(api_path_ok("/storage/kv/namespaces/0123abcd/values/a%2Fb?cursor=x.y"));
	assert_true(api_path_ok("/r2/buckets/logs/objects?per_page=1"));
	assert_true(api_path_ok("/storage/kv/namespaces/x/values/..."));
	assert_false(api_path_ok("/storage/kv/namespaces/../../x/keys"));
	assert_false(api_path_ok("/storage/kv/namespaces/%2e%2E/keys"));
	assert_false(api_path_ok("/r2/buckets/./cors"));
	assert_false(api_path_ok("/r2/buckets/a b"));
	assert_false(api_path_ok("/r2/buckets/a#b"));
	assert_false(api_path_ok("/r2/buckets/x?q=a\nb"));
}

static void
test_escape_and_routes(void **state)
{
	char *s;

	(void)state;
	s = api_escape("a/b c%?&=é");
	assert_string_equal(s, "a%2Fb%20c%25%3F%26%3D%C3%A9");
	free(s);
	s = api_route_template("/r2/buckets/logs/cors?x=1");
	assert_string_equal(s, "/accounts/{account_id}/r2/buckets/{bucket_name}/cors");
	free(s);
	s = api_route_template("/storage/kv/namespaces/abc/values/k%2Fx");
	assert_string_equal(s, "/accounts/{account_id}/storage/kv/namespaces/{namespace_id}"
	                       "/values/{key_name}");
	free(s);
	s = api_route_template("/secrets_store/stores/s1/secrets/x1");
	assert_string_equal(s, "/accounts/{account_id}/secrets_store/stores/{store_id}"
	                       "/secrets/{secret_id}");
	free(s);
	s = api_route_template("/workers/scripts/api/secrets/K_V1");
	assert_string_equal(s, "/accounts/{account_id}/workers/scripts/{script_name}"
	                       "/secrets/{secret_name}");
	free(s);
	s = api_route_template("/storage/kv/namespaces/abc/bulk/delete");
	assert_string_equal(s, "/accounts/{account_id}/storage/kv/namespaces/{namespace_id}"
	                       "/bulk/delete");
	free(s);
}

static struct api_call *
answer(long status, const char *json)
{
	struct api_call *c = api_call_new("GET", "/x");

	c->status = status;
	buf_puts(&c->resp, json);
	return c;
}

static void
test_lifecycle_round_trip(void **state)
{
	struct lc_rule in[2], *out = NULL;
	struct lc_transition tr = { { 1, 0, 30, 0, "" }, (char *)"InfrequentAccess" };
	size_t n = 0;
	char *json, *wrapped;
	struct api_call *c;

	(void)state;
	memset(in, 0, sizeof(in));
	in[0].id = (char *)"a";
	in[0].enabled = 1;
	in[0].prefix = (char *)"logs/";
	in[0].expire.set = 1;
	in[0].expire.days = 90;
	in[0].transitions = &tr;
	in[0].ntransitions = 1;
	in[1].id = (char *)"b";
	in[1].prefix = (char *)"";
	in[1].expire.set = 1;
	in[1].expire.is_date = 1;
	strcpy(in[1].expire.date_text, "2027-01-02");
	json = api_lifecycle_json(in, 2);
	assert_non_null(strstr(json, "\"maxAge\":7776000"));
	assert_non_null(strstr(json, "\"date\":\"2027-01-02T00:00:00.000Z\""));
	wrapped = xasprintf("{\"success\":true,\"result\":%s}", json);
	c = answer(200, wrapped);
	assert_int_equal(api_parse_lifecycle(c, &out, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(out[0].prefix, "logs/");
	assert_int_equal(out[0].expire.days, 90);
	assert_int_equal(out[0].transitions[0].cond.days, 30);
	assert_false(out[1].enabled);
	assert_true(out[1].expire.is_date);
	assert_int_equal(out[1].expire.date, 1798848000);
	lc_rules_free(out, n);
	api_call_free(c);
	free(wrapped);
	free(json);
}

static void
test_cors_and_counts(void **state)
{
	struct cors_rule *r = NULL;
	size_t n = 0;
	int more = 0;
	struct api_call *c;

	(void)state;
	c = answer(404, "{\"success\":false,\"errors\":[{\"code\":10059,\"message\":\"none\"}]}");
	assert_int_equal(api_parse_cors(c, &r, &n), 0);
	assert_int_equal(n, 0);
	api_call_free(c);
	c = answer(200, "{\"success\":true,\"result\":{\"rules\":[{\"allowed\":{\"methods\":[\"GET\"],"
	                "\"origins\":[\"*\"],\"headers\":[\"x\"]},\"exposeHeaders\":[\"etag\"],"
	                "\"maxAgeSeconds\":60}]}}");
	assert_int_equal(api_parse_cors(c, &r, &n), 1);
	assert_int_equal(n, 1);
	assert_string_equal(r[0].origins[0], "*");
	assert_int_equal(r[0].max_age, 60);
	cors_rules_free(r, n);
	api_call_free(c);
	c = answer(200, "{\"success\":true,\"result\":[{\"key\":\"a\"},{\"key\":\"b\"}],"
	                "\"result_info\":{\"cursor\":\"next\"}}");
	assert_int_equal(api_parse_object_count(c, &more), 2);
	assert_true(more);
	api_call_free(c);
	c = answer(200, "{\"success\":true,\"result\":{\"successful_key_count\":1,"
	                "\"unsuccessful_keys\":[\"x\",\"y\"]}}");
	assert_int_equal(api_bulk_failures(c), 2);
	api_call_free(c);
}


/* A loopback api for the listing helpers (no request is sent). */
static struct api *
local_api(void)
{
	struct api_config cfg = { "http://127.0.0.1:1/client/v4", "tok", "0123abcd", 0, 0, 0, 0, 1 };
	struct err e;
	struct api *a;

	err_clear(&e);
	a = api_new(&cfg, &e);
	assert_non_null(a);
	return a;
}

/*
 * Reproducer: an A,B,A cursor cycle ran 1,200 requests without end (only the
 * previous cursor was compared). Any cursor used before ends the listing.
 */
static void
test_listing_cursors(void **state)
{
	struct api *a = local_api();
	struct api_listing l;
	struct api_call *c = answered("{}", 0);
	struct err e;
	char big[API_CURSOR_MAX + 2];
	int more;

	(void)state;
	err_clear(&e);
	api_listing_init(&l, a, 1000, 1000000, "R2 buckets (%s)", "eu");
	assert_string_equal(l.what, "R2 buckets (eu)");
	assert_int_equal(api_listing_page(&l, c, 1, &e), ERR_OK);
	assert_int_equal(api_listing_cursor(&l, "A", &more, &e), ERR_OK);
	assert_true(more);
	assert_int_equal(api_listing_page(&l, c, 1, &e), ERR_OK);
	assert_int_equal(api_listing_cursor(&l, "B", &more, &e), ERR_OK);
	assert_true(more);
	assert_int_equal(api_listing_page(&l, c, 1, &e), ERR_OK);
	assert_int_equal(api_listing_cursor(&l, "A", &more, &e), ERR_PERMANENT);
	assert_false(more);
	assert_string_equal(e.msg, "listing R2 buckets (eu): page 3 gave the cursor that page 1 "
	                    "gave before, the listing loops");
	api_listing_release(&l);

	/* many fresh cursors: the set grows and still finds an old one */
	api_listing_init(&l, a, 100000, 100000000, "keys");
	for (int i = 0; i < 5000; i++) {
		char cur[32];

		snprintf(cur, sizeof(cur), "cursor-%d", i);
		assert_int_equal(api_listing_page(&l, c, 0, &e), ERR_OK);
		assert_int_equal(api_listing_cursor(&l, cur, &more, &e), ERR_OK);
		assert_true(more);
	}
	assert_int_equal(api_listing_cursor(&l, "cursor-1234", &more, &e), ERR_PERMANENT);
	assert_non_null(strstr(e.msg, "gave the cursor that page 1235 gave before"));
	/* absent or empty: the end, not an error */
	assert_int_equal(api_listing_cursor(&l, NULL, &more, &e), ERR_OK);
	assert_false(more);
	assert_int_equal(api_listing_cursor(&l, "", &more, &e), ERR_OK);
	assert_false(more);
	memset(big, 'c', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(api_listing_cursor(&l, big, &more, &e), ERR_PERMANENT);
	assert_non_null(strstr(e.msg, "a cursor of 2049 bytes, over the limit of 2048"));
	api_listing_release(&l);
	api_call_free(c);
	api_free(a);
}

/* Reproducer: fresh cursors with 1,000 buckets a page reached 311 MB. Each
 * bound ends the listing with one line naming it. */
static void
test_listing_bounds(void **state)
{
	struct api *a = local_api();
	struct api_listing l;
	struct api_call *c = answered("0123456789", 0);
	struct err e;
	int more;

	(void)state;
	err_clear(&e);
	/* pages */
	api_listing_init(&l, a, 3, 1000, "KV namespaces");
	for (int i = 0; i < 3; i++)
		assert_int_equal(api_listing_page(&l, c, 100, &e), ERR_OK);
	assert_int_equal(api_listing_next(&l, &e), ERR_PERMANENT);
	assert_string_equal(e.msg, "listing KV namespaces: more than 3 pages, the limit of one "
	                    "listing");
	assert_int_equal(api_listing_cursor(&l, "new", &more, &e), ERR_PERMANENT);
	assert_false(more);
	api_listing_release(&l);
	/* items */
	api_listing_init(&l, a, 10, 150, "secrets of Secrets Store '%s'", "s");
	assert_int_equal(api_listing_page(&l, c, 100, &e), ERR_OK);
	assert_int_equal(api_listing_page(&l, c, 100, &e), ERR_PERMANENT);
	assert_non_null(strstr(e.msg, "more than 150 items"));
	api_listing_release(&l);
	/* bytes: the real bound, reached with a test override of 15 */
	setenv(API_TEST_LIST_BOUNDS_ENV, "0,0,15", 1);
	api_free(a);
	a = local_api();
	api_listing_init(&l, a, 10, 1000, "R2 buckets (default)");
	assert_int_equal(l.max_bytes, 15);
	assert_int_equal(l.max_pages, 10);
	assert_int_equal(api_listing_page(&l, c, 1, &e), ERR_OK);
	assert_int_equal(api_listing_page(&l, c, 1, &e), ERR_PERMANENT);
	assert_non_null(strstr(e.msg, "more than 15 bytes of responses"));
	api_listing_release(&l);
	/* the override only lowers */
	setenv(API_TEST_LIST_BOUNDS_ENV, "5,99999999999,x", 1);
	api_free(a);
	a = local_api();
	api_listing_init(&l, a, 10, 1000, "t");
	assert_int_equal(l.max_pages, 5);
	assert_int_equal(l.max_items, 1000);
	assert_int_equal(l.max_bytes, API_LIST_MAX_BYTES);
	api_listing_release(&l);
	unsetenv(API_TEST_LIST_BOUNDS_ENV);
	api_call_free(c);
	api_free(a);
}

/* A small body that would cost cJSON hundreds of megabytes is refused before
 * it is parsed; commas and brackets inside strings do not count. */
static void
test_json_bounds(void **state)
{
	struct api_call *c;
	struct buf b;
	struct cJSON *root;
	char why[160];

	(void)state;
	buf_init(&b, (size_t)-1);
	buf_puts(&b, "{\"result\":[");
	for (int i = 0; i < API_JSON_MAX_VALUES; i++)
		buf_puts(&b, "0,");
	buf_puts(&b, "0]}");
	c = answered(b.data, b.len);
	assert_null(api_json_parse(c, why, sizeof(why)));
	assert_string_equal(why, "the response holds more than 200000 JSON values");
	api_call_free(c);
	buf_reset(&b);
	buf_puts(&b, "{\"result\":\"");
	for (int i = 0; i < API_JSON_MAX_VALUES; i++)
		buf_puts(&b, ",[{");
	buf_puts(&b, "\"}");
	c = answered(b.data, b.len);
	root = api_json_parse(c, why, sizeof(why));
	assert_non_null(root);
	cJSON_Delete(root);
	api_call_free(c);
	buf_release(&b);
	c = answered("<html>", 0);
	snprintf(c->content_type, sizeof(c->content_type), "%s", "text/html");
	assert_null(api_json_parse(c, why, sizeof(why)));
	assert_string_equal(why, "the response is not JSON (6 bytes, content type 'text/html')");
	api_call_free(c);
	c = answered("{\"result\":[{\"name\":\"a\\u0000b\"}]}", 0);
	assert_null(api_json_parse(c, why, sizeof(why)));
	assert_non_null(strstr(why, "NUL"));
	api_call_free(c);
	c = api_call_new("GET", "/x");
	assert_null(api_json_parse(c, why, sizeof(why)));
	assert_string_equal(why, "the response is empty");
	api_call_free(c);
	/* a listing page's body is capped lower than a KV value's */
	c = api_listing_call("/r2/buckets?per_page=%d", API_R2_PAGE);
	assert_int_equal(c->resp.limit, API_LIST_PAGE_MAX_BYTES);
	api_call_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_checks),
		cmocka_unit_test(test_endpoint_host_table),
		cmocka_unit_test(test_endpoint_normalised),
		cmocka_unit_test(test_server_ids_and_names),
		cmocka_unit_test(test_escape_and_routes),
		cmocka_unit_test(test_lifecycle_round_trip),
		cmocka_unit_test(test_cors_and_counts),
		cmocka_unit_test(test_listing_cursors),
		cmocka_unit_test(test_listing_bounds),
		cmocka_unit_test(test_json_bounds),
	};

	return cmocka_run_group_tests_name("api", tests, NULL, NULL);
}
