/* Unit tests for pkg/api's typed operations (ops.c) without a server: each
 * constructor's method, route (every segment escaped), jurisdiction header,
 * flags and JSON body, and the KV bulk body's size split. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "../../pkg/api/api.h"
#include "../../pkg/mem/mem.h"

/* Checks c's method and path, and that the path is one the client sends. */
static void
expect_route(const struct api_call *c, const char *method, const char *path)
{
	assert_string_equal(c->method, method);
	assert_string_equal(c->path, path);
	assert_true(api_path_ok(c->path));
}

/* The body of c parsed as JSON (free with cJSON_Delete). */
static cJSON *
body_json(const struct api_call *c)
{
	cJSON *j;

	assert_non_null(c->body);
	assert_int_equal(strlen(c->body), c->body_len);
	j = cJSON_ParseWithLength(c->body, c->body_len);
	assert_non_null(j);
	return j;
}

static const char *
str_of(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	assert_true(cJSON_IsString(v));
	return v->valuestring;
}

static void
test_buckets(void **state)
{
	struct api_call *c;
	cJSON *j;

	(void)state;
	c = api_op_bucket_create("logs", "eu", "weur", "InfrequentAccess");
	expect_route(c, "POST", "/r2/buckets");
	assert_string_equal(c->jurisdiction, "eu");
	assert_true(c->no_blind_retry);
	assert_false(c->sensitive);
	assert_string_equal(c->body, "{\"name\":\"logs\",\"locationHint\":\"weur\","
	                    "\"storageClass\":\"InfrequentAccess\"}");
	api_call_free(c);
	/* the defaults are not sent: no header, no hint, no Standard class */
	c = api_op_bucket_create("logs", "default", NULL, "Standard");
	assert_null(c->jurisdiction);
	assert_string_equal(c->body, "{\"name\":\"logs\"}");
	api_call_free(c);

	c = api_op_bucket_get("a/b c", NULL);
	expect_route(c, "GET", "/r2/buckets/a%2Fb%20c");
	assert_null(c->jurisdiction);
	assert_null(c->body);
	assert_false(c->no_blind_retry);
	api_call_free(c);
	c = api_op_bucket_set_class("logs", "fedramp", "InfrequentAccess");
	expect_route(c, "PATCH", "/r2/buckets/logs");
	assert_string_equal(c->storage_class, "InfrequentAccess");
	assert_string_equal(c->jurisdiction, "fedramp");
	api_call_free(c);
	c = api_op_bucket_delete("..", "eu");
	assert_string_equal(c->path, "/r2/buckets/..");
	assert_false(api_path_ok(c->path)); /* the client sends no "..": it fails unsent */
	api_call_free(c);
	c = api_op_bucket_objects("logs", "eu", 1000);
	expect_route(c, "GET", "/r2/buckets/logs/objects?per_page=1000");
	assert_string_equal(c->jurisdiction, "eu");
	api_call_free(c);

	c = api_op_lifecycle_get("logs", "default");
	expect_route(c, "GET", "/r2/buckets/logs/lifecycle");
	assert_null(c->jurisdiction);
	api_call_free(c);
	c = api_op_lifecycle_put("logs", "eu", NULL, 0);
	expect_route(c, "PUT", "/r2/buckets/logs/lifecycle");
	j = body_json(c);
	assert_true(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "rules")));
	cJSON_Delete(j);
	api_call_free(c);
	c = api_op_cors_get("logs", "eu");
	expect_route(c, "GET", "/r2/buckets/logs/cors");
	assert_string_equal(c->jurisdiction, "eu");
	api_call_free(c);
	c = api_op_cors_put("logs", NULL, NULL, 0);
	expect_route(c, "PUT", "/r2/buckets/logs/cors");
	j = body_json(c);
	cJSON_Delete(j);
	api_call_free(c);
	c = api_op_cors_delete("logs", NULL);
	expect_route(c, "DELETE", "/r2/buckets/logs/cors");
	api_call_free(c);
}

static void
test_namespaces(void **state)
{
	struct api_call *c;
	cJSON *j;

	(void)state;
	c = api_op_kv_create("my \"cache\"");
	expect_route(c, "POST", "/storage/kv/namespaces");
	assert_true(c->no_blind_retry);
	j = body_json(c);
	assert_string_equal(str_of(j, "title"), "my \"cache\"");
	cJSON_Delete(j);
	api_call_free(c);
	c = api_op_kv_list_page(3, 100);
	expect_route(c, "GET", "/storage/kv/namespaces?page=3&per_page=100");
	api_call_free(c);
	c = api_op_kv_rename("0123abcd", "new");
	expect_route(c, "PUT", "/storage/kv/namespaces/0123abcd");
	assert_string_equal(c->body, "{\"title\":\"new\"}");
	assert_false(c->no_blind_retry);
	api_call_free(c);
	c = api_op_kv_delete("0123abcd");
	expect_route(c, "DELETE", "/storage/kv/namespaces/0123abcd");
	api_call_free(c);
	c = api_op_kv_value_get("0123abcd", "dir/k?x=1&y#");
	expect_route(c, "GET", "/storage/kv/namespaces/0123abcd/values/dir%2Fk%3Fx%3D1%26y%23");
	api_call_free(c);
}

static void
test_kv_bulk(void **state)
{
	struct kv_entry a = { .key = "k/1", .ttl_seconds = 120, .metadata_json = "{\"n\":1}",
	                      .hash = "00112233aabbccdd" };
	struct kv_entry b = { .key = "bin", .binary = 1, .expiration = 1900000000,
	                      .hash = "ffffffffffffffff" };
	struct api_kv_bulk bulk;
	struct api_call *c;
	const cJSON *it, *meta;
	cJSON *j;
	size_t one;

	(void)state;
	api_kv_bulk_init(&bulk);
	assert_int_equal(api_kv_bulk_add(&bulk, &a, "v1", 2, 1u << 20), 0);
	assert_int_equal(api_kv_bulk_add(&bulk, &b, "\0\1\2", 3, 1u << 20), 0);
	assert_int_equal(bulk.count, 2);
	c = api_op_kv_bulk_put("0123abcd", &bulk);
	assert_int_equal(bulk.count, 0);
	expect_route(c, "PUT", "/storage/kv/namespaces/0123abcd/bulk");
	j = body_json(c);
	assert_int_equal(cJSON_GetArraySize(j), 2);
	it = cJSON_GetArrayItem(j, 0);
	assert_string_equal(str_of(it, "key"), "k/1");
	assert_string_equal(str_of(it, "value"), "v1");
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(it, "expiration_ttl")->valuedouble, 120);
	meta = cJSON_GetObjectItemCaseSensitive(it, "metadata");
	assert_string_equal(str_of(meta, KV_RESERVED_META_KEY), "00112233aabbccdd");
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(meta, "n")->valuedouble, 1);
	it = cJSON_GetArrayItem(j, 1);
	assert_string_equal(str_of(it, "value"), "AAEC"); /* base64 of 00 01 02 */
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "base64")));
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(it, "expiration")->valuedouble,
	                 1900000000);
	cJSON_Delete(j);
	api_call_free(c);

	/* the size limit: the first item always goes; one past the limit waits */
	api_kv_bulk_init(&bulk);
	assert_int_equal(api_kv_bulk_add(&bulk, &a, "v1", 2, 10), 0);
	one = bulk.body.len;
	assert_int_equal(api_kv_bulk_add(&bulk, &a, "v1", 2, one + 5), -1);
	assert_int_equal(bulk.count, 1);
	assert_int_equal(bulk.body.len, one);
	c = api_op_kv_bulk_put("0123abcd", &bulk);
	j = body_json(c);
	assert_int_equal(cJSON_GetArraySize(j), 1);
	cJSON_Delete(j);
	api_call_free(c);
	api_kv_bulk_init(&bulk);
	api_kv_bulk_release(&bulk);

	{
		char *keys[] = { "a", "b\"c" };

		c = api_op_kv_bulk_delete("0123abcd", keys, 2);
		expect_route(c, "POST", "/storage/kv/namespaces/0123abcd/bulk/delete");
		assert_string_equal(c->body, "[\"a\",\"b\\\"c\"]");
		api_call_free(c);
	}
}

static void
test_secrets_store(void **state)
{
	char *scopes[] = { "workers", "ai_gateway" };
	struct api_call *c;
	const cJSON *it;
	cJSON *j;

	(void)state;
	c = api_op_store_list(100);
	expect_route(c, "GET", "/secrets_store/stores?per_page=100");
	api_call_free(c);
	c = api_op_store_create("default");
	expect_route(c, "POST", "/secrets_store/stores");
	assert_string_equal(c->body, "{\"name\":\"default\"}");
	assert_false(c->sensitive);
	api_call_free(c);
	c = api_op_store_secrets_search("s1", "A&B=C", 100);
	expect_route(c, "GET", "/secrets_store/stores/s1/secrets?search=A%26B%3DC&per_page=100");
	api_call_free(c);
	c = api_op_store_secrets_page("s1", 2, 100);
	expect_route(c, "GET", "/secrets_store/stores/s1/secrets?page=2&per_page=100");
	api_call_free(c);

	c = api_op_store_secret_create("s1", "API_V1", "hunter2", 7, "cfstorage x", scopes, 2);
	expect_route(c, "POST", "/secrets_store/stores/s1/secrets");
	assert_true(c->sensitive);
	j = body_json(c);
	assert_int_equal(cJSON_GetArraySize(j), 1);
	it = cJSON_GetArrayItem(j, 0);
	assert_string_equal(str_of(it, "name"), "API_V1");
	assert_string_equal(str_of(it, "value"), "hunter2");
	assert_string_equal(str_of(it, "comment"), "cfstorage x");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(it, "scopes")), 2);
	cJSON_Delete(j);
	api_call_free(c);
	c = api_op_store_secret_update("s1", "id/9", "hunter3", 7, "c");
	expect_route(c, "PATCH", "/secrets_store/stores/s1/secrets/id%2F9");
	assert_true(c->sensitive);
	assert_string_equal(c->body, "{\"value\":\"hunter3\",\"comment\":\"c\"}");
	api_call_free(c);
	c = api_op_store_secret_delete("s1", "x1");
	expect_route(c, "DELETE", "/secrets_store/stores/s1/secrets/x1");
	assert_null(c->body);
	api_call_free(c);
	c = api_op_store_secret_duplicate("s1", "x1", "API", "alias", scopes, 1);
	expect_route(c, "POST", "/secrets_store/stores/s1/secrets/x1/duplicate");
	assert_false(c->sensitive); /* no value: the server copies it */
	assert_string_equal(c->body, "{\"name\":\"API\",\"comment\":\"alias\","
	                    "\"scopes\":[\"workers\"]}");
	api_call_free(c);
}

/* A value whose every byte must be escaped (the worst case the pre-sizing
 * covers) still round-trips through the body. */
static void
test_worker_secrets(void **state)
{
	char value[SECRET_VALUE_MAX];
	struct api_call *c;
	cJSON *j;

	(void)state;
	for (size_t i = 0; i < sizeof(value); i++)
		value[i] = (char)(1 + i % 7); /* \u0001..\u0007: 6 bytes each */
	c = api_op_worker_secret_put("api", "TOKEN", value, sizeof(value));
	expect_route(c, "PUT", "/workers/scripts/api/secrets");
	assert_true(c->sensitive);
	assert_true(c->body_len > 6 * sizeof(value));
	j = body_json(c);
	assert_string_equal(str_of(j, "name"), "TOKEN");
	assert_string_equal(str_of(j, "type"), "secret_text");
	assert_int_equal(strlen(str_of(j, "text")), sizeof(value));
	assert_memory_equal(str_of(j, "text"), value, sizeof(value));
	cJSON_Delete(j);
	api_call_free(c);
	c = api_op_worker_secret_delete("api", "TOKEN_V2");
	expect_route(c, "DELETE", "/workers/scripts/api/secrets/TOKEN_V2");
	api_call_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buckets),
		cmocka_unit_test(test_namespaces),
		cmocka_unit_test(test_kv_bulk),
		cmocka_unit_test(test_secrets_store),
		cmocka_unit_test(test_worker_secrets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
