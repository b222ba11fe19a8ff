/* Unit tests for pkg/manifest: typed results, defaults, the checks across
 * documents, and directory loading. */
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

#include "../../pkg/manifest/manifest.h"
#include "../../pkg/mem/mem.h"

struct fx {
	struct manifest_set set;
	struct diags d;
	char dir[64];
};

static int
setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));

	manifest_set_init(&f->set);
	diags_init(&f->d);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	manifest_set_free(&f->set);
	diags_release(&f->d);
	if (f->dir[0]) {
		char *cmd = xasprintf("rm -rf '%s'", f->dir);

		assert_int_equal(system(cmd), 0);
		free(cmd);
	}
	free(f);
	return 0;
}

static void
load(struct fx *f, const char *text)
{
	manifest_load_buffer("m.yaml", text, strlen(text), &f->set, &f->d);
	manifest_check_set(&f->set, &f->d);
	diags_sort(&f->d);
}

#define HDR "apiVersion: cfstorage.dev/v1alpha1\n"

static void
test_bucket_defaults(void **state)
{
	struct fx *f = *state;
	const struct r2_bucket_spec *b;

	load(f, HDR "kind: R2Bucket\nmetadata: {name: logs}\nspec: {}\n");
	assert_int_equal(f->d.n, 0);
	assert_int_equal(f->set.n, 1);
	assert_int_equal(f->set.items[0].kind, KIND_R2BUCKET);
	b = &f->set.items[0].u.bucket;
	assert_string_equal(b->bucket_name, "logs");
	assert_string_equal(b->jurisdiction, "default");
	assert_string_equal(b->storage_class, "Standard");
	assert_null(b->location_hint);
	assert_false(b->has_lifecycle);
	assert_int_equal(f->set.items[0].deletion_policy, DELETION_RETAIN);
	assert_false(f->set.items[0].adopt);
	assert_int_equal(f->set.items[0].name_pos.line, 3);
}

static void
test_lifecycle_shorthand_and_rules(void **state)
{
	struct fx *f = *state;
	const struct r2_bucket_spec *b;

	load(f, HDR "kind: R2Bucket\nmetadata: {name: logs}\nspec:\n  lifecycle:\n"
	        "    deleteAfterDays: 30\n    rules:\n      - id: tmp\n        prefix: tmp/\n"
	        "        expireOnDate: 2027-01-02\n        transitions:\n"
	        "          - afterDays: 3\n            storageClass: InfrequentAccess\n");
	assert_int_equal(f->d.n, 0);
	b = &f->set.items[0].u.bucket;
	assert_true(b->has_lifecycle);
	assert_int_equal(b->nrules, 2);
	assert_string_equal(b->rules[0].id, "cfstorage-delete-after-days");
	assert_int_equal(b->rules[0].expire.days, 30);
	assert_string_equal(b->rules[0].prefix, "");
	assert_string_equal(b->rules[1].id, "tmp");
	assert_true(b->rules[1].expire.is_date);
	assert_int_equal(b->rules[1].expire.date, 1798848000); /* 2027-01-02T00:00:00Z */
	assert_int_equal(b->rules[1].ntransitions, 1);
	assert_int_equal(b->rules[1].transitions[0].cond.days, 3);
	assert_true(b->rules[1].enabled);
}

static void
test_kv_entries_metadata_json(void **state)
{
	struct fx *f = *state;
	const struct kv_namespace_spec *kv;

	load(f, HDR "kind: KVNamespace\nmetadata: {name: flags}\nspec:\n  entries:\n"
	        "    - key: a\n      value: x\n      ttlSeconds: 120\n"
	        "      metadata: {n: 3, on: true, s: \"7\", l: [1, b], z: ~}\n");
	assert_int_equal(f->d.n, 0);
	kv = &f->set.items[0].u.kv;
	assert_string_equal(kv->title, "flags");
	assert_int_equal(kv->nentries, 1);
	assert_string_equal(kv->entries[0].metadata_json,
	                    "{\"n\":3,\"on\":true,\"s\":\"7\",\"l\":[1,\"b\"],\"z\":null}");
	assert_int_equal(kv->entries[0].ttl_seconds, 120);
	assert_int_equal(kv->entries[0].value_len, 1);
}

static void
test_secret_defaults(void **state)
{
	struct fx *f = *state;
	const struct secret_spec *s;

	load(f, HDR "kind: Secret\nmetadata: {name: k}\nspec:\n  generate: {bytes: 32}\n"
	        "  rotation: {everyDays: 90}\n  targets:\n"
	        "    - secretsStore: {store: default, name: K}\n"
	        "    - workerSecret: {script: api, name: K}\n");
	assert_int_equal(f->d.n, 0);
	s = &f->set.items[0].u.secret;
	assert_int_equal(s->encoding, SECRET_BASE64);
	assert_int_equal(s->retain, RETAIN_FOREVER);
	assert_int_equal(s->every_days, 90);
	assert_int_equal(s->ntargets, 2);
	assert_int_equal(s->targets[0].nscopes, 1);
	assert_string_equal(s->targets[0].scopes[0], "workers");
	assert_int_equal(s->targets[1].kind, TARGET_WORKER);
	assert_string_equal(s->targets[1].script, "api");
}

static void
test_all_errors_collected(void **state)
{
	struct fx *f = *state;

	load(f, HDR "kind: R2Bucket\nmetadata: {name: logs}\nspec:\n  bucketname: x\n"
	        "  jurisdiction: mars\n  lifecycle: {deleteAfterDays: 0}\n---\n"
	        HDR "kind: KVNamespace\nmetadata: {name: f}\nspec:\n  entries:\n"
	        "    - key: a\n      value: x\n      ttlSeconds: 10\n"
	        "    - key: a\n      value: y\n");
	assert_int_equal(f->d.n, 5);
	assert_int_equal(f->d.v[0].line, 5);
	assert_string_equal(f->d.v[0].msg, "unknown field 'bucketname' (did you mean "
	                    "'bucketName'?)");
	assert_int_equal(f->d.v[4].line, 17);
	assert_non_null(strstr(f->d.v[4].msg, "duplicate entry key 'a'"));
}

static void
test_cross_document(void **state)
{
	struct fx *f = *state;

	load(f, HDR "kind: R2Bucket\nmetadata: {name: a}\nspec: {bucketName: same}\n---\n"
	        HDR "kind: R2Bucket\nmetadata: {name: b}\nspec: {bucketName: same, "
	        "jurisdiction: eu}\n---\n"
	        HDR "kind: R2Bucket\nmetadata: {name: c}\nspec: {bucketName: same}\n");
	assert_int_equal(f->d.n, 1);
	assert_int_equal(f->d.v[0].line, 13);
	assert_non_null(strstr(f->d.v[0].msg, "R2Bucket 'c' manages bucket 'same'"));
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
test_directory_sorted_skips_dot(void **state)
{
	struct fx *f = *state;
	const char *paths[1];
	struct err e;
	char p[128];

	snprintf(f->dir, sizeof(f->dir), "/tmp/cfs-test-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(p, sizeof(p), "%s/sub", f->dir);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/..data", f->dir);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/b.yml", f->dir);
	write_file(p, HDR "kind: KVNamespace\nmetadata: {name: b}\nspec: {}\n");
	snprintf(p, sizeof(p), "%s/sub/a.yaml", f->dir);
	write_file(p, HDR "kind: KVNamespace\nmetadata: {name: a}\nspec: {}\n");
	snprintf(p, sizeof(p), "%s/..data/a.yaml", f->dir);
	write_file(p, HDR "kind: KVNamespace\nmetadata: {name: a}\nspec: {}\n");
	snprintf(p, sizeof(p), "%s/notes.txt", f->dir);
	write_file(p, "not yaml: [");
	paths[0] = f->dir;
	err_clear(&e);
	assert_int_equal(manifest_load(paths, 1, &f->set, &f->d, &e), ERR_OK);
	assert_int_equal(f->d.n, 0);
	assert_int_equal(f->set.n, 2);
	assert_string_equal(f->set.items[0].name, "b");  /* "b.yml" < "sub" */
	assert_string_equal(f->set.items[1].name, "a");
}

static void
test_missing_path_is_io(void **state)
{
	struct fx *f = *state;
	const char *paths[] = { "/nonexistent/cfstorage.yaml" };
	struct err e;

	err_clear(&e);
	assert_int_equal(manifest_load(paths, 1, &f->set, &f->d, &e), ERR_IO);
	assert_string_equal(e.msg, "cannot open '/nonexistent/cfstorage.yaml': No such file "
	                    "or directory");
}

/* A temporary folder with m/ (the manifests) and out/ (outside them). */
static void
make_tree(struct fx *f, char *p, size_t len)
{
	snprintf(f->dir, sizeof(f->dir), "/tmp/cfs-test-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(p, len, "%s/m", f->dir);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, len, "%s/m/sub", f->dir);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, len, "%s/out", f->dir);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, len, "%s/out/secret", f->dir);
	write_file(p, "token");
	snprintf(p, len, "%s/m/sub/ok.txt", f->dir);
	write_file(p, "fine");
	snprintf(p, len, "%s/m/link", f->dir);
	assert_int_equal(symlink("../out/secret", p), 0);
}

#define KV_FILES(a, b, c, d) HDR "kind: KVNamespace\nmetadata: {name: n}\nspec:\n  entries:\n" \
	"    - {key: a, valueFrom: {file: " a "}}\n    - {key: b, valueFrom: {file: " b "}}\n" \
	"    - {key: c, valueFrom: {file: " c "}}\n    - {key: d, valueFrom: {file: " d "}}\n"

/*
 * Reproducer: `valueFrom: {file: /etc/cfstorage/token}` (or ../../x) put any
 * readable file into KV. A path must stay in the manifest's folder unless an
 * --allow-path-root folder holds it.
 */
static void
test_value_file_confined(void **state)
{
	struct fx *f = *state;
	const char *paths[1];
	char p[128], m[128];
	struct err e;

	make_tree(f, p, sizeof(p));
	snprintf(m, sizeof(m), "%s/m/kv.yaml", f->dir);
	write_file(m, KV_FILES("sub/ok.txt", "../out/secret", "/etc/passwd", "link"));
	paths[0] = m;
	err_clear(&e);
	assert_int_equal(manifest_load(paths, 1, &f->set, &f->d, &e), ERR_OK);
	diags_sort(&f->d);
	assert_int_equal(f->d.n, 3);
	assert_int_equal(f->d.v[0].line, 7);
	assert_int_equal(f->d.v[0].col, 34);
	assert_non_null(strstr(f->d.v[0].msg, "file '../out/secret' climbs out of the "
	                       "manifest's folder with '..'"));
	assert_non_null(strstr(f->d.v[1].msg, "file '/etc/passwd' is an absolute path"));
	assert_non_null(strstr(f->d.v[2].msg, "file 'link' leads out of the manifest's "
	                       "folder through a symlink"));

	/* the operator allows out/: the '..' path and the symlink are fine now */
	manifest_set_free(&f->set);
	manifest_set_init(&f->set);
	diags_release(&f->d);
	diags_init(&f->d);
	snprintf(p, sizeof(p), "%s/out", f->dir);
	assert_int_equal(manifest_set_allow_root(&f->set, p, &e), ERR_OK);
	write_file(m, KV_FILES("sub/ok.txt", "../out/secret", "sub/../link", "link"));
	assert_int_equal(manifest_load(paths, 1, &f->set, &f->d, &e), ERR_OK);
	assert_int_equal(f->d.n, 0);
	assert_int_equal(manifest_hash_entries(&f->set, &e), ERR_OK);
	snprintf(p, sizeof(p), "%s/m/kv.yaml", f->dir);
	assert_int_equal(manifest_set_allow_root(&f->set, p, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "is not a folder"));
}

/* A file swapped after validation (a symlink out, a folder made a symlink,
 * a FIFO) is refused when it is read, without blocking. */
static void
test_value_file_swapped_after_validation(void **state)
{
	struct fx *f = *state;
	const char *paths[1];
	char p[128], q[128], m[128];
	struct kv_entry *en;
	char *val = NULL;
	size_t len;
	struct err e;

	make_tree(f, p, sizeof(p));
	snprintf(m, sizeof(m), "%s/m/kv.yaml", f->dir);
	write_file(m, KV_FILES("sub/ok.txt", "sub/ok.txt", "sub/ok.txt", "sub/ok.txt"));
	paths[0] = m;
	err_clear(&e);
	assert_int_equal(manifest_load(paths, 1, &f->set, &f->d, &e), ERR_OK);
	assert_int_equal(f->d.n, 0);
	en = &f->set.items[0].u.kv.entries[0];
	assert_int_equal(manifest_entry_value(en, &val, &len, &e), ERR_OK);
	assert_string_equal(val, "fine");
	free(val);

	/* the file becomes a symlink to out/secret */
	snprintf(p, sizeof(p), "%s/m/sub/ok.txt", f->dir);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(symlink("../../out/secret", p), 0);
	assert_int_not_equal(manifest_entry_value(en, &val, &len, &e), ERR_OK);
	assert_null(val);

	/* the folder becomes a symlink to out/, which holds an ok.txt */
	snprintf(q, sizeof(q), "%s/out/ok.txt", f->dir);
	write_file(q, "leaked");
	snprintf(p, sizeof(p), "%s/m/sub", f->dir);
	snprintf(q, sizeof(q), "%s/m/sub.old", f->dir);
	assert_int_equal(rename(p, q), 0);
	assert_int_equal(symlink("../out", p), 0);
	assert_int_equal(manifest_entry_value(en, &val, &len, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "now leads outside"));
	assert_null(val);

	/* a FIFO: refused at once, no writer needed */
	assert_int_equal(unlink(p), 0);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/m/sub/ok.txt", f->dir);
	assert_int_equal(mkfifo(p, 0600), 0);
	assert_int_equal(manifest_entry_value(en, &val, &len, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "is not a regular file"));
	assert_null(val);
}

/* Reproducer: a FIFO in a manifest folder hung the load; a symlink loop or
 * fan-out walked folders again and again. Each folder is walked once. */
static void
test_walk_fifo_loop_and_dirset(void **state)
{
	struct fx *f = *state;
	struct manifest_dirset ds = { 0 };
	const char *paths[2];
	char p[128];
	struct err e;

	snprintf(f->dir, sizeof(f->dir), "/tmp/cfs-test-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(p, sizeof(p), "%s/a.yaml", f->dir);
	write_file(p, HDR "kind: KVNamespace\nmetadata: {name: a}\nspec: {}\n");
	snprintf(p, sizeof(p), "%s/self", f->dir);
	assert_int_equal(symlink(".", p), 0);
	snprintf(p, sizeof(p), "%s/again", f->dir);
	assert_int_equal(symlink(f->dir, p), 0);
	paths[0] = paths[1] = f->dir;
	err_clear(&e);
	assert_int_equal(manifest_load(paths, 2, &f->set, &f->d, &e), ERR_OK);
	assert_int_equal(f->d.n, 0);
	assert_int_equal(f->set.nfiles, 1);

	snprintf(p, sizeof(p), "%s/b.yaml", f->dir);
	assert_int_equal(mkfifo(p, 0600), 0);
	manifest_set_free(&f->set);
	manifest_set_init(&f->set);
	assert_int_equal(manifest_load(paths, 1, &f->set, &f->d, &e), ERR_IO);
	assert_non_null(strstr(e.msg, "b.yaml' is not a regular file"));

	assert_int_equal(manifest_dirset_add(&ds, 1, 9), 1);
	assert_int_equal(manifest_dirset_add(&ds, 2, 1), 1);
	assert_int_equal(manifest_dirset_add(&ds, 1, 3), 1);
	assert_int_equal(manifest_dirset_add(&ds, 1, 9), 0);
	assert_int_equal(manifest_dirset_add(&ds, 2, 1), 0);
	assert_int_equal(ds.n, 3);
	manifest_dirset_release(&ds);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bucket_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lifecycle_shorthand_and_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kv_entries_metadata_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_secret_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_all_errors_collected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cross_document, setup, teardown),
		cmocka_unit_test_setup_teardown(test_directory_sorted_skips_dot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_path_is_io, setup, teardown),
		cmocka_unit_test_setup_teardown(test_value_file_confined, setup, teardown),
		cmocka_unit_test_setup_teardown(test_walk_fifo_loop_and_dirset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_value_file_swapped_after_validation, setup,
		                                teardown),
	};

	return cmocka_run_group_tests_name("manifest", tests, NULL, NULL);
}
