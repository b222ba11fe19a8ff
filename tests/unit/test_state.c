/* Unit tests for pkg/state (file backend): round trip of the inventory and
 * the secret ledger, mode 0600, the exclusive lock, and refusal of corrupt or
 * newer files without touching them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../pkg/mem/mem.h"
#include "../../pkg/state/state.h"
#include "../../pkg/state/state_r2.h"

struct fx {
	char dir[64];
	char *path;
};

static int
setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/cfs-state-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->path = xasprintf("%s/sub/state.json", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char *cmd = xasprintf("rm -rf '%s'", f->dir);

	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(f->path);
	free(f);
	return 0;
}

static void
write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void
test_round_trip(void **state)
{
	struct fx *f = *state;
	struct state *st = NULL;
	struct inv_entry *x;
	struct sec_ledger *l;
	struct sec_version *v;
	struct err e;
	struct stat sb;

	err_clear(&e);
	assert_int_equal(state_open(f->path, 1, &st, &e), ERR_OK);
	x = state_upsert(st, KIND_R2BUCKET, "logs");
	inv_set(&x->bucket_name, "acme-logs");
	inv_set(&x->jurisdiction, "eu");
	x->policy = DELETION_DELETE;
	x->managed_lifecycle = 1;
	x->pending = 1;
	memcpy(x->spec_hash, "0123456789abcdef", 17);
	l = state_ledger_upsert(st, "key");
	v = ledger_add(l, 2, 1800000000);
	v->status = V_CURRENT;
	memcpy(v->fp, "fedcba9876543210", 17);
	ledger_add_target(&v->targets, &v->ntargets, "store:default/K");
	v = ledger_add(l, 1, 1790000000); /* kept in ascending order */
	v->status = V_PREVIOUS;
	v = ledger_add(l, 3, 1800000000); /* a cut pointer phase, kept as retained */
	v->status = V_RETAINED;
	v->published = 1;
	assert_int_equal(state_save(st, &e), ERR_OK);
	state_close(st);
	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);

	assert_int_equal(state_open(f->path, 1, &st, &e), ERR_OK);
	x = state_find(st, KIND_R2BUCKET, "logs");
	assert_non_null(x);
	assert_string_equal(x->bucket_name, "acme-logs");
	assert_string_equal(x->jurisdiction, "eu");
	assert_int_equal(x->policy, DELETION_DELETE);
	assert_true(x->managed_lifecycle && x->pending);
	assert_string_equal(x->spec_hash, "0123456789abcdef");
	l = state_ledger(st, "key");
	assert_non_null(l);
	assert_int_equal(l->n, 3);
	assert_int_equal(l->v[2].status, V_RETAINED);
	assert_true(l->v[2].published);
	assert_false(l->v[0].published || l->v[1].published);
	assert_int_equal(l->v[0].n, 1);
	assert_int_equal(l->v[0].status, V_PREVIOUS);
	assert_int_equal(l->v[1].status, V_CURRENT);
	assert_int_equal(l->v[1].created, 1800000000);
	assert_string_equal(l->v[1].fp, "fedcba9876543210");
	assert_string_equal(l->v[1].targets[0], "store:default/K");
	state_remove(st, KIND_R2BUCKET, "logs");
	assert_null(state_find(st, KIND_R2BUCKET, "logs"));
	state_close(st);
}

static void
test_lock_names_holder(void **state)
{
	struct fx *f = *state;
	struct state *a = NULL, *b = NULL;
	struct err e;

	err_clear(&e);
	assert_int_equal(state_open(f->path, 1, &a, &e), ERR_OK);
	assert_int_equal(state_open(f->path, 1, &b, &e), ERR_CONFLICT);
	assert_non_null(strstr(e.msg, "is locked by another cfstorage (pid"));
	state_close(b);
	b = NULL;
	/* read-only opens (status) do not need the lock */
	err_clear(&e);
	assert_int_equal(state_open(f->path, 0, &b, &e), ERR_OK);
	assert_int_equal(state_save(b, &e), ERR_IO);
	state_close(b);
	state_close(a);
	assert_int_equal(state_open(f->path, 1, &b, &e), ERR_OK);
	state_close(b);
}

static void
test_corrupt_and_newer_refused_untouched(void **state)
{
	struct fx *f = *state;
	struct state *st = NULL;
	struct err e;
	char *sub = xasprintf("%s/sub", f->dir), buf[64] = { 0 };
	FILE *fp;

	assert_int_equal(mkdir(sub, 0700), 0);
	free(sub);
	write_file(f->path, "{not json");
	err_clear(&e);
	assert_int_equal(state_open(f->path, 1, &st, &e), ERR_IO);
	assert_non_null(strstr(e.msg, "is corrupt"));
	state_close(st);
	fp = fopen(f->path, "r");
	assert_non_null(fgets(buf, sizeof(buf), fp));
	fclose(fp);
	assert_string_equal(buf, "{not json");
	write_file(f->path, "{\"schemaVersion\": 7, \"resources\": []}");
	assert_int_equal(state_open(f->path, 1, &st, &e), ERR_IO);
	assert_non_null(strstr(e.msg, "schema version 7, newer than"));
	state_close(st);
}

/*
 * Reproducer: `--state state.json` (no '/') crashed every command, because
 * dirname() returned a read-only "." that make_parent wrote into. A bare name
 * and a relative path with doubled slashes, opened from inside the folder.
 */
static void
test_bare_and_relative_names(void **state)
{
	struct fx *f = *state;
	const char *names[] = { "state.json", "./state2.json", "a//b/state.json" };
	char cwd[4096];
	struct stat sb;

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(f->dir), 0);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct state *st = NULL;
		struct err e;

		err_clear(&e);
		assert_int_equal(state_open(names[i], 1, &st, &e), ERR_OK);
		inv_set(&state_upsert(st, KIND_KVNAMESPACE, "flags")->title, "flags");
		assert_int_equal(state_save(st, &e), ERR_OK);
		state_close(st);
		st = NULL;
		assert_int_equal(stat(names[i], &sb), 0);
		assert_int_equal(sb.st_mode & 0777, 0600);
		assert_int_equal(state_open(names[i], 0, &st, &e), ERR_OK);
		assert_non_null(state_find(st, KIND_KVNAMESPACE, "flags"));
		state_close(st);
	}
	assert_int_equal(chdir(cwd), 0);
}

/* r2://BUCKET/KEY[?jurisdiction=J]: split, and refused with the reason. */
static void
test_r2_url(void **state)
{
	static const char *const bad[] = {
		"r2://", "r2://ab/k", "r2://Bucket/k", "r2://bucket", "r2://bucket/",
		"r2://bucket/k?jurisdiction=us-west", "r2://bucket/k?x=1", "r2://b?x/k",
	};
	char *b, *k, *j;
	struct state *st = NULL;
	struct err e;

	(void)state;
	err_clear(&e);
	assert_int_equal(state_r2_parse_url("r2://cfstorage-state/env/prod.json", &b, &k, &j, &e),
	                 ERR_OK);
	assert_string_equal(b, "cfstorage-state");
	assert_string_equal(k, "env/prod.json");
	assert_string_equal(j, "default");
	free(b); free(k); free(j);
	assert_int_equal(state_r2_parse_url("r2://state-eu/p.json?jurisdiction=eu", &b, &k, &j, &e),
	                 ERR_OK);
	assert_string_equal(k, "p.json");
	assert_string_equal(j, "eu");
	free(b); free(k); free(j);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err_clear(&e);
		assert_int_equal(state_r2_parse_url(bad[i], &b, &k, &j, &e), ERR_INVALID);
		assert_null(b);
		assert_true(strstr(e.msg, "r2://") != NULL);
	}
	/* an r2:// state is never opened as a file, and needs credentials */
	assert_int_equal(state_open("r2://bucket/k", 1, &st, &e), ERR_INVALID);
	state_close(st);
}

/* The etcd endpoint is checked by host, not by prefix (as the API's is). */
static void
test_etcd_endpoint_host(void **state)
{
	static const char *const refused[] = {
		"etcd://127.0.0.1@198.51.100.7:2379/p", "etcd://localhost.example.com:2379/p",
		"etcd://127.0.0.1.nip.io:2379/p", "etcds://u:pw@etcd.example:2379/p",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		struct state *st = NULL;
		struct err e;

		err_clear(&e);
		assert_int_equal(state_open(refused[i], 1, &st, &e), ERR_INVALID);
		assert_true(strstr(e.msg, "only to loopback") || strstr(e.msg, "user name"));
		state_close(st);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_names_holder, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_and_newer_refused_untouched, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_bare_and_relative_names, setup, teardown),
		cmocka_unit_test(test_etcd_endpoint_host),
		cmocka_unit_test(test_r2_url),
	};

	return cmocka_run_group_tests_name("state", tests, NULL, NULL);
}
