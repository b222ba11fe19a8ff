/*
 * test_emu: the emulator in-process on a loopback port 0, talked to with
 * libcurl — routing and auth, R2 cursor paging, KV page and cursor paging,
 * persistence across a restart, D1 batches and persistence, the rate
 * limiter, seeded faults, and the refusals of emu_start.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "../../pkg/emu/emu.h"
#include "../../pkg/mem/mem.h"

#define ACCT "/client/v4/accounts/" EMU_DEFAULT_ACCOUNT
/* Largest response a test reads. */
#define RESP_MAX (1u << 20)

struct fx {
	struct emu *emu;
	char base[64];
	char dir[64]; /* data directory, "" for memory */
	CURL *curl;
};

static size_t
on_body(char *p, size_t size, size_t n, void *ud)
{
	return buf_append(ud, p, size * n) == 0 ? size * n : 0;
}

static size_t
on_header(char *p, size_t size, size_t n, void *ud)
{
	(void)buf_append(ud, p, size * n);
	return size * n;
}

/*
 * One call: returns the HTTP status (0 on a transport error); the body is in
 * out (released by the caller), the response headers in hdrs if given.
 */
static long
call(struct fx *f, const char *method, const char *path, const char *body,
     const char *token, struct buf *out, struct buf *hdrs)
{
	struct curl_slist *h = NULL;
	char url[512], auth[128];
	long status = 0;

	buf_init(out, RESP_MAX);
	snprintf(url, sizeof(url), "%s%s", f->base, path);
	curl_easy_reset(f->curl);
	curl_easy_setopt(f->curl, CURLOPT_URL, url);
	curl_easy_setopt(f->curl, CURLOPT_CUSTOMREQUEST, method);
	if (token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		h = curl_slist_append(h, auth);
	}
	h = curl_slist_append(h, "Content-Type: application/json");
	curl_easy_setopt(f->curl, CURLOPT_HTTPHEADER, h);
	if (body)
		curl_easy_setopt(f->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(f->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(f->curl, CURLOPT_WRITEDATA, out);
	if (hdrs) {
		buf_init(hdrs, RESP_MAX);
		curl_easy_setopt(f->curl, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(f->curl, CURLOPT_HEADERDATA, hdrs);
	}
	if (curl_easy_perform(f->curl) == CURLE_OK)
		curl_easy_getinfo(f->curl, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	return status;
}

/* Parses a response body; free with cJSON_Delete(). */
static cJSON *
json(struct buf *b)
{
	const char *end;
	cJSON *j = cJSON_ParseWithLengthOpts(b->data ? b->data : "", b->len + 1, &end, 1);

	buf_release(b);
	assert_non_null(j);
	return j;
}

static long
call_json(struct fx *f, const char *method, const char *path, const char *body,
          cJSON **out)
{
	struct buf b;
	long st = call(f, method, path, body, EMU_DEFAULT_TOKEN, &b, NULL);

	*out = json(&b);
	return st;
}

static int
err_code(const cJSON *j)
{
	const cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "errors"), 0);

	return cJSON_GetObjectItem(e, "code")->valueint;
}

static void
fx_start(struct fx *f, const struct emu_config *cfg)
{
	struct err e;

	memset(&e, 0, sizeof(e));
	f->emu = emu_start(cfg, &e);
	if (f->emu == NULL)
		fail_msg("emu_start: %s", e.msg);
	snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%u", emu_port(f->emu));
}

static int
setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	struct emu_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.listen_addr = "127.0.0.1:0";
	fx_start(f, &cfg);
	f->curl = curl_easy_init();
	*state = f;
	return 0;
}

static int
rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	emu_stop(f->emu);
	curl_easy_cleanup(f->curl);
	if (f->dir[0])
		nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* Unknown routes are 404/7003, a missing or wrong token 403/10000, a
 * malformed account id 404/7003, a foreign one 403/10000. */
static void
test_routing_and_auth(void **state)
{
	struct fx *f = *state;
	struct buf b;
	cJSON *j;

	assert_int_equal(call_json(f, "GET", "/client/v4/nothing/here", NULL, &j), 404);
	assert_int_equal(err_code(j), 7003);
	assert_false(cJSON_IsTrue(cJSON_GetObjectItem(j, "success")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "result")));
	cJSON_Delete(j);
	assert_int_equal(call(f, "GET", ACCT "/r2/buckets", NULL, NULL, &b, NULL), 403);
	j = json(&b);
	assert_int_equal(err_code(j), 10000);
	cJSON_Delete(j);
	assert_int_equal(call(f, "GET", ACCT "/r2/buckets", NULL, "wrong", &b, NULL), 403);
	buf_release(&b);
	assert_int_equal(call_json(f, "GET", "/client/v4/accounts/xyz/r2/buckets", NULL, &j), 404);
	assert_int_equal(err_code(j), 7003);
	cJSON_Delete(j);
	assert_int_equal(call_json(f, "GET", "/accounts/ffffffffffffffffffffffffffffffff/r2/buckets",
	                           NULL, &j), 403);
	cJSON_Delete(j);
	/* a wrong method on a known path is no route either */
	assert_int_equal(call_json(f, "PATCH", ACCT "/storage/kv/namespaces", "{}", &j), 404);
	assert_int_equal(err_code(j), 7003);
	cJSON_Delete(j);
}

/* KV key names may hold "/" (the route's last parameter takes the rest). */
static void
test_kv_key_with_slash(void **state)
{
	struct fx *f = *state;
	char path[256];
	struct buf b;
	cJSON *j;
	const char *id;

	assert_int_equal(call_json(f, "POST", ACCT "/storage/kv/namespaces", "{\"title\":\"t\"}", &j), 200);
	id = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "result"), "id")->valuestring;
	snprintf(path, sizeof(path), ACCT "/storage/kv/namespaces/%s/values/a%%2Fb/c", id);
	assert_int_equal(call(f, "PUT", path, "v", EMU_DEFAULT_TOKEN, &b, NULL), 200);
	buf_release(&b);
	assert_int_equal(call(f, "GET", path, NULL, EMU_DEFAULT_TOKEN, &b, NULL), 200);
	assert_int_equal(b.len, 1);
	assert_memory_equal(b.data, "v", 1);
	buf_release(&b);
	snprintf(path, sizeof(path), ACCT "/storage/kv/namespaces/%s/keys", id);
	cJSON_Delete(j);
	assert_int_equal(call_json(f, "GET", path, NULL, &j), 200);
	assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "result"), 0)->child->valuestring,
	                    "a/b/c");
	cJSON_Delete(j);
}

/* R2 listing follows cursors over every bucket exactly once, in order. */
static void
test_r2_cursor_paging(void **state)
{
	struct fx *f = *state;
	char path[512], body[64], cursor[256] = "", seen[512] = "";
	cJSON *j;

	for (int i = 0; i < 7; i++) {
		snprintf(body, sizeof(body), "{\"name\":\"bucket-%d\"}", i);
		assert_int_equal(call_json(f, "POST", ACCT "/r2/buckets", body, &j), 200);
		cJSON_Delete(j);
	}
	for (int page = 0; page < 10; page++) {
		const cJSON *b, *c;

		snprintf(path, sizeof(path), ACCT "/r2/buckets?per_page=3%s%s",
		         cursor[0] ? "&cursor=" : "", cursor);
		assert_int_equal(call_json(f, "GET", path, NULL, &j), 200);
		cJSON_ArrayForEach(b, cJSON_GetObjectItem(cJSON_GetObjectItem(j, "result"), "buckets")) {
			strcat(seen, cJSON_GetObjectItem(b, "name")->valuestring + 7);
		}
		c = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "result_info"), "cursor");
		snprintf(cursor, sizeof(cursor), "%s", cJSON_IsString(c) ? c->valuestring : "");
		cJSON_Delete(j);
		if (!cursor[0])
			break;
	}
	assert_string_equal(seen, "0123456");
	assert_int_equal(call_json(f, "POST", ACCT "/r2/buckets", "{\"name\":\"bucket-1\"}", &j), 409);
	assert_int_equal(err_code(j), 10004);
	cJSON_Delete(j);
}

/* KV namespaces page by page/per_page with an empty page past the end; a
 * duplicate title is 400/10014. */
static void
test_kv_namespace_paging(void **state)
{
	struct fx *f = *state;
	char body[64], path[256];
	cJSON *j;
	int total = 0;

	for (int i = 0; i < 5; i++) {
		snprintf(body, sizeof(body), "{\"title\":\"ns%d\"}", i);
		assert_int_equal(call_json(f, "POST", ACCT "/storage/kv/namespaces", body, &j), 200);
		cJSON_Delete(j);
	}
	assert_int_equal(call_json(f, "POST", ACCT "/storage/kv/namespaces", "{\"title\":\"ns1\"}", &j), 400);
	assert_int_equal(err_code(j), 10014);
	cJSON_Delete(j);
	for (int page = 1;; page++) {
		int n;

		snprintf(path, sizeof(path), ACCT "/storage/kv/namespaces?per_page=2&page=%d", page);
		assert_int_equal(call_json(f, "GET", path, NULL, &j), 200);
		n = cJSON_GetArraySize(cJSON_GetObjectItem(j, "result"));
		assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "result_info"), "total_count")->valueint, 5);
		cJSON_Delete(j);
		total += n;
		if (n == 0)
			break;
		assert_true(page < 10);
	}
	assert_int_equal(total, 5);
}

/* Data under a data directory survives stop and start, and so does the
 * clock offset; without one, a restart is empty. */
static void
test_persistence(void **state)
{
	struct fx *f = *state;
	struct emu_config cfg;
	cJSON *j;

	emu_stop(f->emu);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_emu.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	memset(&cfg, 0, sizeof(cfg));
	cfg.listen_addr = "127.0.0.1:0";
	cfg.data_dir = f->dir;
	fx_start(f, &cfg);
	assert_int_equal(call_json(f, "POST", ACCT "/r2/buckets", "{\"name\":\"kept\"}", &j), 200);
	cJSON_Delete(j);
	assert_int_equal(call_json(f, "PUT", ACCT "/r2/buckets/kept/cors",
	                           "{\"rules\":[{\"allowed\":{\"methods\":[\"GET\"],\"origins\":[\"*\"]}}]}", &j), 200);
	cJSON_Delete(j);
	assert_int_equal(call_json(f, "POST", "/__emu/clock", "{\"advance\":1000}", &j), 200);
	cJSON_Delete(j);
	emu_stop(f->emu);
	fx_start(f, &cfg);
	assert_int_equal(call_json(f, "GET", ACCT "/r2/buckets/kept", NULL, &j), 200);
	cJSON_Delete(j);
	assert_int_equal(call_json(f, "GET", ACCT "/r2/buckets/kept/cors", NULL, &j), 200);
	cJSON_Delete(j);
	assert_int_equal(call_json(f, "GET", "/__emu/clock", NULL, &j), 200);
	assert_int_equal(cJSON_GetObjectItem(j, "offset")->valueint, 1000);
	cJSON_Delete(j);
	/* a reset empties the journal too */
	assert_int_equal(call_json(f, "POST", "/__emu/reset", NULL, &j), 200);
	cJSON_Delete(j);
	emu_stop(f->emu);
	fx_start(f, &cfg);
	assert_int_equal(call_json(f, "GET", ACCT "/r2/buckets/kept", NULL, &j), 404);
	cJSON_Delete(j);
}

/* The uuid of the database a create answered (copied into out). */
static void
d1_create(struct fx *f, const char *name, char out[40])
{
	char body[128];
	cJSON *j;

	snprintf(body, sizeof(body), "{\"name\":\"%s\"}", name);
	assert_int_equal(call_json(f, "POST", ACCT "/d1/database", body, &j), 200);
	snprintf(out, 40, "%s",
	         cJSON_GetObjectItem(cJSON_GetObjectItem(j, "result"), "uuid")->valuestring);
	cJSON_Delete(j);
}

/* rows in table t of database id, via /raw */
static int
d1_count(struct fx *f, const char *id)
{
	char path[160];
	cJSON *j;
	int n;

	snprintf(path, sizeof(path), ACCT "/d1/database/%s/raw", id);
	assert_int_equal(call_json(f, "POST", path, "{\"sql\":\"SELECT count(*) FROM t\"}", &j), 200);
	n = cJSON_GetArrayItem(cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(
		cJSON_GetArrayItem(cJSON_GetObjectItem(j, "result"), 0), "results"), "rows"), 0), 0)->valueint;
	cJSON_Delete(j);
	return n;
}

/* D1: one result per statement with D1's meta; a batch failing in its second
 * statement is HTTP 400, code 7500, SQLite's text, and leaves nothing. */
static void
test_d1_batch_all_or_nothing(void **state)
{
	struct fx *f = *state;
	char id[40], path[160];
	const cJSON *res, *meta;
	cJSON *j;

	d1_create(f, "unit", id);
	assert_int_equal(strlen(id), 36);
	snprintf(path, sizeof(path), ACCT "/d1/database/%s/query", id);
	assert_int_equal(call_json(f, "POST", path,
	                           "{\"sql\":\"CREATE TABLE t(x TEXT); INSERT INTO t VALUES (?)\","
	                           "\"params\":[\"a\"]}", &j), 200);
	res = cJSON_GetObjectItem(j, "result");
	assert_int_equal(cJSON_GetArraySize(res), 2);
	meta = cJSON_GetObjectItem(cJSON_GetArrayItem(res, 1), "meta");
	assert_int_equal(cJSON_GetObjectItem(meta, "changes")->valueint, 1);
	assert_int_equal(cJSON_GetObjectItem(meta, "last_row_id")->valueint, 1);
	assert_true(cJSON_GetObjectItem(meta, "size_after")->valueint > 0);
	cJSON_Delete(j);
	assert_int_equal(call_json(f, "POST", path,
	                           "{\"batch\":[{\"sql\":\"INSERT INTO t VALUES ('b')\"},"
	                           "{\"sql\":\"INSERT INTO nosuch VALUES (1)\"}]}", &j), 400);
	assert_int_equal(err_code(j), 7500);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "errors"), 0),
	                                        "message")->valuestring,
	                    "no such table: nosuch: SQLITE_ERROR");
	cJSON_Delete(j);
	assert_int_equal(d1_count(f, id), 1);
	/* explicit transactions would break that: refused */
	assert_int_equal(call_json(f, "POST", path, "{\"sql\":\"COMMIT\"}", &j), 400);
	assert_int_equal(err_code(j), 7500);
	cJSON_Delete(j);
}

/* D1 with a data directory: rows and settings survive a restart; a deleted
 * database stays deleted. */
static void
test_d1_persistence(void **state)
{
	struct fx *f = *state;
	struct emu_config cfg;
	char id[40], gone[40], path[160];
	cJSON *j;

	emu_stop(f->emu);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_emu.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	memset(&cfg, 0, sizeof(cfg));
	cfg.listen_addr = "127.0.0.1:0";
	cfg.data_dir = f->dir;
	fx_start(f, &cfg);
	d1_create(f, "kept", id);
	d1_create(f, "gone", gone);
	snprintf(path, sizeof(path), ACCT "/d1/database/%s/query", id);
	assert_int_equal(call_json(f, "POST", path,
	                           "{\"sql\":\"CREATE TABLE t(x); INSERT INTO t VALUES (1), (2)\"}", &j), 200);
	cJSON_Delete(j);
	snprintf(path, sizeof(path), ACCT "/d1/database/%s", id);
	assert_int_equal(call_json(f, "PUT", path, "{\"read_replication\":{\"mode\":\"auto\"}}", &j), 200);
	cJSON_Delete(j);
	snprintf(path, sizeof(path), ACCT "/d1/database/%s", gone);
	assert_int_equal(call_json(f, "DELETE", path, NULL, &j), 200);
	cJSON_Delete(j);
	emu_stop(f->emu);
	fx_start(f, &cfg);
	assert_int_equal(d1_count(f, id), 2);
	assert_int_equal(call_json(f, "GET", ACCT "/d1/database/kept", NULL, &j), 200);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "result"),
	                                                             "read_replication"), "mode")->valuestring,
	                    "auto");
	cJSON_Delete(j);
	assert_int_equal(call_json(f, "GET", path, NULL, &j), 404);
	assert_int_equal(err_code(j), 7404);
	cJSON_Delete(j);
}

/* Past rate_n calls in the window: 429, code 971, Retry-After. */
static void
test_rate_limit(void **state)
{
	struct fx *f = *state;
	struct emu_config cfg;
	struct buf b, h;
	cJSON *j;

	emu_stop(f->emu);
	memset(&cfg, 0, sizeof(cfg));
	cfg.listen_addr = "127.0.0.1:0";
	cfg.rate_n = 2;
	cfg.rate_secs = 100;
	fx_start(f, &cfg);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(call_json(f, "GET", ACCT "/r2/buckets", NULL, &j), 200);
		cJSON_Delete(j);
	}
	assert_int_equal(call(f, "GET", ACCT "/r2/buckets", NULL, EMU_DEFAULT_TOKEN, &b, &h), 429);
	{
		const char *ra = strcasestr(h.data, "\nRetry-After: ");
		long secs;

		assert_non_null(ra);
		secs = strtol(ra + strlen("\nRetry-After: "), NULL, 10);
		assert_true(secs >= 1 && secs <= 100);
	}
	buf_release(&h);
	j = json(&b);
	assert_int_equal(err_code(j), 971);
	cJSON_Delete(j);
	/* test routes are not limited */
	assert_int_equal(call_json(f, "GET", "/__emu/stats", NULL, &j), 200);
	assert_int_equal(cJSON_GetObjectItem(j, "requests")->valueint, 3);
	cJSON_Delete(j);
}

/* The same seed gives the same fault sequence. */
static void
test_seeded_faults(void **state)
{
	struct fx *f = *state;
	struct emu_config cfg;
	long seq[2][40];
	struct buf b;

	memset(&cfg, 0, sizeof(cfg));
	cfg.listen_addr = "127.0.0.1:0";
	cfg.fault_rate = 0.5;
	cfg.seed = 42;
	for (int run = 0; run < 2; run++) {
		emu_stop(f->emu);
		fx_start(f, &cfg);
		for (int i = 0; i < 40; i++) {
			seq[run][i] = call(f, "GET", ACCT "/r2/buckets", NULL, EMU_DEFAULT_TOKEN, &b, NULL);
			buf_release(&b);
		}
	}
	assert_memory_equal(seq[0], seq[1], sizeof(seq[0]));
	{
		int ok = 0, bad = 0;

		for (int i = 0; i < 40; i++) {
			ok += seq[0][i] == 200;
			bad += seq[0][i] != 200;
		}
		assert_true(ok > 5 && bad > 5);
	}
}

/* emu_start refuses a non-loopback address, and a malformed account id. */
static void
test_start_refusals(void **state)
{
	struct emu_config cfg;
	struct err e;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	memset(&e, 0, sizeof(e));
	cfg.listen_addr = "0.0.0.0:0";
	assert_null(emu_start(&cfg, &e));
	assert_int_equal(e.code, ERR_INVALID);
	assert_non_null(strstr(e.msg, "listen-any"));
	cfg.listen_addr = "127.0.0.1:0";
	cfg.account_id = "not-an-id";
	assert_null(emu_start(&cfg, &e));
	cfg.account_id = NULL;
	cfg.listen_addr = "127.0.0.1:99999";
	assert_null(emu_start(&cfg, &e));
}

/*
 * Reproducer: POST /__emu/clock {"advance":9e18} twice overflowed the clock
 * offset. Every number from an admin body is bounded: out of range is a 400
 * and changes nothing; in range still works.
 */
static void
test_admin_numbers_bounded(void **state)
{
	struct fx *f = *state;
	static const char *const clock_bad[] = {
		"{\"advance\":9e18}", "{\"advance\":1e300}", "{\"advance\":-1e300}",
		"{\"now\":1e300}", "{\"now\":-1}", "{\"offset\":-9e18}",
		"{\"offset\":1e19}", "{\"now\":253402300800}",
	};
	cJSON *j;
	long long off;

	for (size_t i = 0; i < sizeof(clock_bad) / sizeof(clock_bad[0]); i++) {
		assert_int_equal(call_json(f, "POST", "/__emu/clock", clock_bad[i], &j), 400);
		cJSON_Delete(j);
	}
	/* the 9e18 pair, and advances that would walk past year 9999 one by one */
	assert_int_equal(call_json(f, "POST", "/__emu/clock", "{\"advance\":9e18}", &j), 400);
	cJSON_Delete(j);
	for (int i = 0; i < 3; i++) {
		long st = call_json(f, "POST", "/__emu/clock", "{\"advance\":100000000000}", &j);

		cJSON_Delete(j);
		assert_int_equal(st, i < 2 ? 200 : 400); /* 1e11 s is ~3,169 years */
	}
	assert_int_equal(call_json(f, "GET", "/__emu/clock", NULL, &j), 200);
	off = (long long)cJSON_GetObjectItem(j, "offset")->valuedouble;
	assert_true(off == 200000000000LL);
	cJSON_Delete(j);
	assert_int_equal(call_json(f, "POST", "/__emu/clock", "{\"now\":253402300799}", &j), 200);
	assert_true((long long)cJSON_GetObjectItem(j, "now")->valuedouble == 253402300799LL);
	cJSON_Delete(j);
	assert_int_equal(call_json(f, "POST", "/__emu/clock", "{\"offset\":0}", &j), 200);
	cJSON_Delete(j);

	/* fault counts and seeded sizes */
	assert_int_equal(call_json(f, "POST", "/__emu/faults",
	                           "{\"route\":\"/x\",\"status\":500,\"count\":1e300}", &j), 400);
	cJSON_Delete(j);
	assert_int_equal(call_json(f, "POST", "/__emu/faults",
	                           "{\"route\":\"/x\",\"status\":500,\"count\":3}", &j), 200);
	cJSON_Delete(j);
	assert_int_equal(call_json(f, "POST", ACCT "/r2/buckets", "{\"name\":\"seeded\"}", &j), 200);
	cJSON_Delete(j);
	assert_int_equal(call_json(f, "POST", "/__emu/r2/seeded/objects",
	                           "[{\"key\":\"a\",\"size\":1e300}]", &j), 400);
	cJSON_Delete(j);
	assert_int_equal(call_json(f, "POST", "/__emu/r2/seeded/objects",
	                           "[{\"key\":\"a\",\"size\":1,\"uploaded\":-1e300}]", &j), 400);
	cJSON_Delete(j);
	assert_int_equal(call_json(f, "POST", "/__emu/r2/seeded/objects",
	                           "[{\"key\":\"a\",\"size\":10}]", &j), 200);
	cJSON_Delete(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_routing_and_auth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kv_key_with_slash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_r2_cursor_paging, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kv_namespace_paging, setup, teardown),
		cmocka_unit_test_setup_teardown(test_persistence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_d1_batch_all_or_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_d1_persistence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rate_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seeded_faults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_admin_numbers_bounded, setup, teardown),
		cmocka_unit_test(test_start_refusals),
	};
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
