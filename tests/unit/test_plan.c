/* Unit tests for pkg/plan: every action and every canonicalisation rule.
 * Desired state comes from YAML text, observed state from Cloudflare-shaped
 * JSON run through the API module's parsers, the inventory from an
 * in-memory state. plan_compute itself does no I/O. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../pkg/api/api.h"
#include "../../pkg/mem/mem.h"
#include "../../pkg/plan/plan.h"

struct fx {
	struct manifest_set set;
	struct diags d;
	struct snapshot snap;
	struct state *st;
	struct plan p;
	struct plan_opts o;
};

static int
setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));

	manifest_set_init(&f->set);
	diags_init(&f->d);
	f->st = state_new();
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	plan_release(&f->p);
	snapshot_release(&f->snap);
	state_close(f->st);
	manifest_set_free(&f->set);
	diags_release(&f->d);
	free(f);
	return 0;
}

#define HDR "apiVersion: cfstorage.dev/v1alpha1\n"

static void
want(struct fx *f, const char *yaml)
{
	manifest_load_buffer("t.yaml", yaml, strlen(yaml), &f->set, &f->d);
	assert_int_equal(f->d.n, 0);
}

/* An observed bucket; lifecycle/cors JSON are Cloudflare GET bodies or NULL. */
static struct obs_bucket *
have_bucket(struct fx *f, const char *name, const char *juris, const char *sc,
            const char *lc_json, const char *cors_json, long objects)
{
	struct obs_bucket *b;

	f->snap.buckets = xrealloc(f->snap.buckets, (f->snap.nbuckets + 1) * sizeof(*b));
	b = &f->snap.buckets[f->snap.nbuckets++];
	memset(b, 0, sizeof(*b));
	b->name = xstrdup(name);
	b->jurisdiction = xstrdup(juris);
	b->storage_class = xstrdup(sc);
	b->objects = objects;
	if (lc_json) {
		struct api_call *c = api_call_new("GET", "/lc");

		c->status = 200;
		buf_puts(&c->resp, lc_json);
		assert_int_equal(api_parse_lifecycle(c, &b->rules, &b->nrules), 0);
		b->lifecycle_read = 1;
		api_call_free(c);
	}
	if (cors_json) {
		struct api_call *c = api_call_new("GET", "/cors");

		c->status = strcmp(cors_json, "404") == 0 ? 404 : 200;
		if (c->status == 200)
			buf_puts(&c->resp, cors_json);
		b->has_cors = api_parse_cors(c, &b->cors, &b->ncors);
		assert_true(b->has_cors >= 0);
		b->cors_read = 1;
		api_call_free(c);
	}
	return b;
}

static void
have_kv(struct fx *f, const char *id, const char *title)
{
	f->snap.kvs = xrealloc(f->snap.kvs, (f->snap.nkvs + 1) * sizeof(*f->snap.kvs));
	memset(&f->snap.kvs[f->snap.nkvs], 0, sizeof(*f->snap.kvs));
	f->snap.kvs[f->snap.nkvs].id = xstrdup(id);
	f->snap.kvs[f->snap.nkvs].title = xstrdup(title);
	f->snap.nkvs++;
}

static struct inv_entry *
own_bucket(struct fx *f, const char *name, const char *bucket, const char *juris,
           enum deletion_policy pol)
{
	struct inv_entry *x = state_upsert(f->st, KIND_R2BUCKET, name);

	x->bucket_name = xstrdup(bucket);
	x->jurisdiction = xstrdup(juris);
	x->policy = pol;
	return x;
}

static void
compute(struct fx *f)
{
	struct err e;

	assert_int_equal(plan_compute(&f->set, &f->snap, f->st, &f->o, &f->p, &e), ERR_OK);
}

static int
has_change(const struct plan_action *a, const char *text)
{
	for (size_t i = 0; i < a->nchanges; i++)
		if (strstr(a->changes[i].text, text))
			return 1;
	return 0;
}

#define DEFAULT_RULE "{\"id\":\"Default Multipart Abort Rule\",\"enabled\":true," \
	"\"conditions\":{},\"abortMultipartUploadsTransition\":{\"condition\":{\"type\":\"Age\"," \
	"\"maxAge\":604800}}}"
#define BUCKET_LC HDR "kind: R2Bucket\nmetadata: {name: logs}\nspec:\n" \
	"  lifecycle: {deleteAfterDays: 30}\n"

static void
test_create_includes_default_rule(void **state)
{
	struct fx *f = *state;

	want(f, BUCKET_LC);
	compute(f);
	assert_int_equal(f->p.n, 1);
	assert_int_equal(f->p.v[0].op, PLAN_CREATE);
	assert_true(f->p.v[0].create && f->p.v[0].put_lifecycle);
	assert_int_equal(f->p.v[0].nlc, 2);
	assert_string_equal(f->p.v[0].lc[1].id, PLAN_DEFAULT_LC_ID);
	assert_int_equal(f->p.counts[PLAN_CREATE], 1);
	assert_true(plan_has_changes(&f->p));
}

static void
test_converged_is_clean_days_vs_seconds(void **state)
{
	struct fx *f = *state;

	want(f, BUCKET_LC);
	own_bucket(f, "logs", "logs", "default", DELETION_RETAIN)->managed_lifecycle = 1;
	/* maxAge in seconds, rule order reversed, prefix absent = "" */
	have_bucket(f, "logs", "default", "Standard",
	            "{\"result\":{\"rules\":[" DEFAULT_RULE ",{\"id\":\"cfstorage-delete-after-days\","
	            "\"enabled\":true,\"conditions\":{},\"deleteObjectsTransition\":{\"condition\":"
	            "{\"type\":\"Age\",\"maxAge\":2592000}}}]}}", NULL, -1);
	compute(f);
	assert_int_equal(f->p.v[0].op, PLAN_NOOP);
	assert_int_equal(f->p.v[0].nchanges, 0);
	assert_false(plan_has_changes(&f->p));
}

static void
test_seconds_not_whole_days_differ(void **state)
{
	struct fx *f = *state;

	want(f, BUCKET_LC);
	own_bucket(f, "logs", "logs", "default", DELETION_RETAIN)->managed_lifecycle = 1;
	have_bucket(f, "logs", "default", "Standard",
	            "{\"result\":{\"rules\":[{\"id\":\"cfstorage-delete-after-days\",\"enabled\":true,"
	            "\"conditions\":{\"prefix\":\"\"},\"deleteObjectsTransition\":{\"condition\":"
	            "{\"type\":\"Age\",\"maxAge\":2592001}}}]}}", NULL, -1);
	compute(f);
	assert_int_equal(f->p.v[0].op, PLAN_UPDATE);
	assert_true(f->p.v[0].put_lifecycle);
	assert_true(has_change(&f->p.v[0], "expire 2592001s → 30 days"));
}

static void
test_rules_keyed_by_id_and_transitions_as_set(void **state)
{
	struct fx *f = *state;

	want(f, HDR "kind: R2Bucket\nmetadata: {name: logs}\nspec:\n  lifecycle:\n    rules:\n"
	        "      - id: a\n        transitions:\n          - {afterDays: 5, storageClass: "
	        "InfrequentAccess}\n          - {onDate: 2027-01-01, storageClass: InfrequentAccess}\n"
	        "      - id: b\n        prefix: x/\n        expireOnDate: 2027-06-01\n");
	own_bucket(f, "logs", "logs", "default", DELETION_RETAIN)->managed_lifecycle = 1;
	have_bucket(f, "logs", "default", "Standard",
	            "{\"result\":{\"rules\":[{\"id\":\"b\",\"enabled\":true,\"conditions\":{\"prefix\":"
	            "\"x/\"},\"deleteObjectsTransition\":{\"condition\":{\"type\":\"Date\",\"date\":"
	            "\"2027-06-01T00:00:00.000Z\"}}},{\"id\":\"a\",\"enabled\":true,\"conditions\":"
	            "{\"prefix\":\"\"},\"storageClassTransitions\":[{\"condition\":{\"type\":\"Date\","
	            "\"date\":\"2027-01-01T00:00:00Z\"},\"storageClass\":\"InfrequentAccess\"},"
	            "{\"condition\":{\"type\":\"Age\",\"maxAge\":432000},\"storageClass\":"
	            "\"InfrequentAccess\"}]}]}}", NULL, -1);
	compute(f);
	assert_int_equal(f->p.v[0].op, PLAN_NOOP);
}

static void
test_rule_added_removed_changed(void **state)
{
	struct fx *f = *state;

	want(f, HDR "kind: R2Bucket\nmetadata: {name: logs}\nspec:\n  lifecycle:\n    rules:\n"
	        "      - {id: keep, expireAfterDays: 10, enabled: false}\n"
	        "      - {id: new, abortMultipartUploadsAfterDays: 2}\n");
	own_bucket(f, "logs", "logs", "default", DELETION_RETAIN)->managed_lifecycle = 1;
	have_bucket(f, "logs", "default", "Standard",
	            "{\"result\":{\"rules\":[{\"id\":\"keep\",\"enabled\":true,\"conditions\":{},"
	            "\"deleteObjectsTransition\":{\"condition\":{\"type\":\"Age\",\"maxAge\":864000}}},"
	            "{\"id\":\"old\",\"enabled\":true,\"conditions\":{},\"deleteObjectsTransition\":"
	            "{\"condition\":{\"type\":\"Age\",\"maxAge\":86400}}}]}}", NULL, -1);
	compute(f);
	assert_int_equal(f->p.v[0].op, PLAN_UPDATE);
	assert_true(has_change(&f->p.v[0], "lifecycle rule 'keep': enabled true → false"));
	assert_true(has_change(&f->p.v[0], "lifecycle rule 'new'"));
	assert_true(has_change(&f->p.v[0], "lifecycle rule 'old'"));
	assert_int_equal(f->p.v[0].nlc, 2); /* no default rule observed: none added */
}

static void
test_cors_order_and_case_insensitive(void **state)
{
	struct fx *f = *state;

	want(f, HDR "kind: R2Bucket\nmetadata: {name: web}\nspec:\n  cors:\n    rules:\n"
	        "      - {allowedOrigins: [\"https://a.example\", \"https://b.example\"], "
	        "allowedMethods: [GET, HEAD], allowedHeaders: [Content-Type], maxAgeSeconds: 60}\n"
	        "      - {allowedOrigins: [\"*\"], allowedMethods: [PUT]}\n");
	own_bucket(f, "web", "web", "default", DELETION_RETAIN)->managed_cors = 1;
	have_bucket(f, "web", "default", "Standard", NULL,
	            "{\"result\":{\"rules\":[{\"allowed\":{\"methods\":[\"PUT\"],\"origins\":[\"*\"]}},"
	            "{\"allowed\":{\"methods\":[\"HEAD\",\"GET\"],\"origins\":[\"https://b.example\","
	            "\"https://a.example\"],\"headers\":[\"content-type\"]},\"maxAgeSeconds\":60}]}}", -1);
	compute(f);
	assert_int_equal(f->p.v[0].op, PLAN_NOOP);
}

/* CORS rule by rule: an origin added and one removed, an age changed, a rule
 * the account has that is not declared; before/after carry each rule. */
static void
test_cors_rule_diff(void **state)
{
	struct fx *f = *state;
	const struct plan_action *a;

	want(f, HDR "kind: R2Bucket\nmetadata: {name: web}\nspec:\n  cors:\n    rules:\n"
	        "      - {allowedOrigins: [\"https://a.example\", \"https://c.example\"], "
	        "allowedMethods: [GET], maxAgeSeconds: 600}\n");
	own_bucket(f, "web", "web", "default", DELETION_RETAIN)->managed_cors = 1;
	have_bucket(f, "web", "default", "Standard", NULL,
	            "{\"result\":{\"rules\":[{\"allowed\":{\"methods\":[\"GET\"],\"origins\":"
	            "[\"https://a.example\",\"https://b.example\"]},\"maxAgeSeconds\":60},"
	            "{\"allowed\":{\"methods\":[\"PUT\"],\"origins\":[\"*\"]}}]}}", -1);
	compute(f);
	a = &f->p.v[0];
	assert_int_equal(a->op, PLAN_UPDATE);
	assert_true(has_change(a, "cors rule 1: origins + https://c.example, - https://b.example; "
	                          "maxAge 60 → 600"));
	assert_true(has_change(a, "cors rule 2: origins * (not declared)"));
	assert_int_equal(a->nchanges, 2);
	assert_non_null(strstr(a->changes[0].before, "https://b.example"));
	assert_non_null(strstr(a->changes[0].after, "https://c.example"));
	assert_null(a->changes[1].after);
}

static void
test_cors_missing_differs_and_empty_deletes(void **state)
{
	struct fx *f = *state;

	want(f, HDR "kind: R2Bucket\nmetadata: {name: aaa}\nspec:\n  cors:\n    rules:\n"
	        "      - {allowedOrigins: [\"*\"], allowedMethods: [GET]}\n---\n"
	        HDR "kind: R2Bucket\nmetadata: {name: bbb}\nspec:\n  cors: {rules: []}\n");
	own_bucket(f, "aaa", "aaa", "default", DELETION_RETAIN);
	own_bucket(f, "bbb", "bbb", "default", DELETION_RETAIN);
	have_bucket(f, "aaa", "default", "Standard", NULL, "404", -1);
	have_bucket(f, "bbb", "default", "Standard", NULL,
	            "{\"result\":{\"rules\":[{\"allowed\":{\"methods\":[\"GET\"],\"origins\":[\"*\"]}}]}}",
	            -1);
	compute(f);
	assert_int_equal(f->p.v[0].op, PLAN_UPDATE);
	assert_true(f->p.v[0].put_cors);
	assert_int_equal(f->p.v[1].op, PLAN_UPDATE);
	assert_true(f->p.v[1].delete_cors);
}

static void
test_storage_class_update_and_policy_change(void **state)
{
	struct fx *f = *state;

	want(f, HDR "kind: R2Bucket\nmetadata: {name: aaa}\nspec: {storageClass: InfrequentAccess}\n"
	        "---\n" HDR "kind: R2Bucket\nmetadata: {name: bbb}\nspec: {deletionPolicy: Delete}\n");
	own_bucket(f, "aaa", "aaa", "default", DELETION_RETAIN);
	own_bucket(f, "bbb", "bbb", "default", DELETION_RETAIN);
	have_bucket(f, "aaa", "default", "Standard", NULL, NULL, -1);
	have_bucket(f, "bbb", "default", "Standard", NULL, NULL, -1);
	compute(f);
	assert_int_equal(f->p.v[0].op, PLAN_UPDATE);
	assert_true(f->p.v[0].set_storage_class);
	assert_true(has_change(&f->p.v[0], "storageClass: Standard → InfrequentAccess"));
	assert_int_equal(f->p.v[1].op, PLAN_UPDATE);
	assert_true(f->p.v[1].record);
	assert_false(f->p.v[1].set_storage_class || f->p.v[1].put_lifecycle);
	assert_true(has_change(&f->p.v[1], "deletionPolicy: Retain → Delete"));
}

static void
test_immutable_fields_refused(void **state)
{
	struct fx *f = *state;
	struct inv_entry *x;

	want(f, HDR "kind: R2Bucket\nmetadata: {name: aaa}\nspec: {bucketName: aaa-new}\n---\n"
	        HDR "kind: R2Bucket\nmetadata: {name: bbb}\nspec: {jurisdiction: eu}\n---\n"
	        HDR "kind: R2Bucket\nmetadata: {name: ccc}\nspec: {locationHint: weur}\n");
	own_bucket(f, "aaa", "aaa", "default", DELETION_RETAIN);
	own_bucket(f, "bbb", "bbb", "default", DELETION_RETAIN);
	x = own_bucket(f, "ccc", "ccc", "default", DELETION_RETAIN);
	x->location_hint = xstrdup("enam");
	compute(f);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(f->p.v[i].op, PLAN_REFUSE);
		assert_non_null(strstr(f->p.v[i].reason, "requires replacement"));
	}
	assert_int_equal(f->p.counts[PLAN_REFUSE], 3);
}

static void
test_unowned_refused_or_adopted(void **state)
{
	struct fx *f = *state;

	want(f, HDR "kind: R2Bucket\nmetadata: {name: aaa}\nspec: {}\n---\n"
	        HDR "kind: R2Bucket\nmetadata: {name: bbb}\nspec: {adopt: true, storageClass: "
	        "InfrequentAccess}\n---\n" HDR "kind: KVNamespace\nmetadata: {name: k}\nspec: {}\n");
	have_bucket(f, "aaa", "default", "Standard", NULL, NULL, -1);
	have_bucket(f, "bbb", "default", "Standard", NULL, NULL, -1);
	have_kv(f, "id1", "k");
	compute(f);
	assert_int_equal(f->p.v[0].op, PLAN_REFUSE);
	assert_non_null(strstr(f->p.v[0].reason, "cfstorage import R2Bucket aaa"));
	assert_int_equal(f->p.v[1].op, PLAN_ADOPT);
	assert_true(f->p.v[1].set_storage_class);
	assert_int_equal(f->p.v[2].op, PLAN_REFUSE);
}

/* only: one resource planned, orphans and the rest left out; the counts are
 * the plan's own. */
static void
test_option_only(void **state)
{
	struct fx *f = *state;
	struct inv_entry *x;

	want(f, HDR "kind: R2Bucket\nmetadata: {name: aaa}\nspec: {}\n---\n"
	        HDR "kind: KVNamespace\nmetadata: {name: k}\nspec: {}\n");
	x = state_upsert(f->st, KIND_R2BUCKET, "gone");
	x->bucket_name = xstrdup("gone");
	f->o.only_kind = KIND_KVNAMESPACE;
	f->o.only = "k";
	compute(f);
	assert_int_equal(f->p.n, 1);
	assert_string_equal(f->p.v[0].name, "k");
	assert_int_equal(f->p.v[0].op, PLAN_CREATE);
	assert_int_equal(f->p.counts[PLAN_CREATE], 1);
	assert_int_equal(f->p.counts[PLAN_NOOP], 0);
}

/* adopt_only (import): an adoption changes nothing, a resource that is not in
 * the account is refused, one already owned is left alone. */
static void
test_option_adopt_only(void **state)
{
	struct fx *f = *state;
	struct inv_entry *x;

	want(f, HDR "kind: R2Bucket\nmetadata: {name: aaa}\nspec: {adopt: true, storageClass: "
	        "InfrequentAccess}\n---\n" HDR "kind: R2Bucket\nmetadata: {name: bbb}\nspec: {}\n"
	        "---\n" HDR "kind: R2Bucket\nmetadata: {name: ccc}\nspec: {storageClass: "
	        "InfrequentAccess}\n");
	have_bucket(f, "aaa", "default", "Standard", NULL, NULL, -1);
	have_bucket(f, "ccc", "default", "Standard", NULL, NULL, -1);
	x = state_upsert(f->st, KIND_R2BUCKET, "ccc");
	x->bucket_name = xstrdup("ccc");
	x->jurisdiction = xstrdup("default");
	f->o.adopt_only = 1;
	compute(f);
	assert_int_equal(f->p.v[0].op, PLAN_ADOPT);
	assert_true(f->p.v[0].imported);
	assert_false(f->p.v[0].set_storage_class);
	assert_int_equal(f->p.v[1].op, PLAN_REFUSE);
	assert_non_null(strstr(f->p.v[1].reason, "nothing to import"));
	assert_false(f->p.v[1].create);
	assert_int_equal(f->p.v[2].op, PLAN_NOOP);
	assert_false(f->p.v[2].set_storage_class);
	assert_int_equal(f->p.counts[PLAN_ADOPT], 1);
	assert_int_equal(f->p.counts[PLAN_REFUSE], 1);
}

/* holds (the daemon's backoff): work on a held resource is refused as held,
 * a held resource with nothing to do stays a no-op, the counts follow. */
static void
test_option_holds(void **state)
{
	struct fx *f = *state;
	struct plan_hold h[2] = { { KIND_R2BUCKET, "aaa", "backing off" },
	                          { KIND_KVNAMESPACE, "k", "backing off" } };
	struct inv_entry *x;

	want(f, HDR "kind: R2Bucket\nmetadata: {name: aaa}\nspec: {}\n---\n"
	        HDR "kind: KVNamespace\nmetadata: {name: k}\nspec: {}\n---\n"
	        HDR "kind: R2Bucket\nmetadata: {name: zzz}\nspec: {}\n");
	have_kv(f, "id1", "k");
	x = state_upsert(f->st, KIND_KVNAMESPACE, "k");
	x->kv_id = xstrdup("id1");
	x->title = xstrdup("k");
	f->o.holds = h;
	f->o.nholds = 2;
	compute(f);
	assert_int_equal(f->p.v[0].op, PLAN_REFUSE);
	assert_true(f->p.v[0].held);
	assert_string_equal(f->p.v[0].reason, "backing off");
	assert_false(f->p.v[1].held);
	assert_int_equal(f->p.v[2].op, PLAN_CREATE);
	assert_int_equal(f->p.counts[PLAN_REFUSE], 1);
	assert_int_equal(f->p.counts[PLAN_CREATE], 1);
}

static void
test_recreate_after_outside_delete_and_pending(void **state)
{
	struct fx *f = *state;
	struct inv_entry *x;

	want(f, HDR "kind: R2Bucket\nmetadata: {name: aaa}\nspec: {}\n---\n"
	        HDR "kind: R2Bucket\nmetadata: {name: bbb}\nspec: {}\n");
	own_bucket(f, "aaa", "aaa", "default", DELETION_RETAIN);
	x = own_bucket(f, "bbb", "bbb", "default", DELETION_RETAIN);
	x->pending = 1;
	have_bucket(f, "bbb", "default", "Standard", NULL, NULL, -1);
	compute(f);
	assert_int_equal(f->p.v[0].op, PLAN_CREATE);
	assert_non_null(strstr(f->p.v[0].reason, "deleted outside cfstorage"));
	assert_int_equal(f->p.v[1].op, PLAN_NOOP);
	assert_true(f->p.v[1].record);
	assert_non_null(strstr(f->p.v[1].reason, "interrupted"));
}

static void
test_kv_rename_conflict_and_recreate(void **state)
{
	struct fx *f = *state;
	struct inv_entry *x;

	want(f, HDR "kind: KVNamespace\nmetadata: {name: a}\nspec: {title: alpha}\n---\n"
	        HDR "kind: KVNamespace\nmetadata: {name: b}\nspec: {title: taken}\n---\n"
	        HDR "kind: KVNamespace\nmetadata: {name: c}\nspec: {}\n");
	x = state_upsert(f->st, KIND_KVNAMESPACE, "a");
	x->kv_id = xstrdup("id-a");
	x = state_upsert(f->st, KIND_KVNAMESPACE, "b");
	x->kv_id = xstrdup("id-b");
	x = state_upsert(f->st, KIND_KVNAMESPACE, "c");
	x->kv_id = xstrdup("id-c");
	have_kv(f, "id-a", "renamed-by-hand");
	have_kv(f, "id-b", "bee");
	have_kv(f, "id-x", "taken");
	compute(f);
	assert_int_equal(f->p.v[0].op, PLAN_UPDATE);
	assert_true(f->p.v[0].rename);
	assert_true(has_change(&f->p.v[0], "title: 'renamed-by-hand' → 'alpha'"));
	assert_int_equal(f->p.v[1].op, PLAN_REFUSE);
	assert_int_equal(f->p.v[2].op, PLAN_CREATE);
}

static void
setup_orphans(struct fx *f)
{
	struct inv_entry *x;

	want(f, HDR "kind: KVNamespace\nmetadata: {name: stays}\nspec: {}\n");
	x = state_upsert(f->st, KIND_KVNAMESPACE, "stays");
	x->kv_id = xstrdup("id-s");
	have_kv(f, "id-s", "stays");
	own_bucket(f, "del", "del", "default", DELETION_DELETE);
	own_bucket(f, "keep", "keep", "default", DELETION_RETAIN);
	own_bucket(f, "full", "full", "default", DELETION_DELETE);
	own_bucket(f, "gone", "gone", "eu", DELETION_DELETE);
	have_bucket(f, "del", "default", "Standard", NULL, NULL, 0);
	have_bucket(f, "keep", "default", "Standard", NULL, NULL, -1);
	have_bucket(f, "full", "default", "Standard", NULL, NULL, 42);
}

static void
test_orphans_without_prune_are_kept(void **state)
{
	struct fx *f = *state;

	setup_orphans(f);
	compute(f);
	assert_int_equal(f->p.n, 5);
	for (size_t i = 1; i < 5; i++) {
		assert_int_equal(f->p.v[i].op, PLAN_NOOP);
		assert_non_null(strstr(f->p.v[i].reason, "no longer in the manifests; kept"));
	}
	assert_false(plan_has_changes(&f->p));
}

static void
test_orphans_with_prune(void **state)
{
	struct fx *f = *state;

	setup_orphans(f);
	f->o.prune = 1;
	compute(f);
	assert_int_equal(f->p.v[1].op, PLAN_DELETE);
	assert_true(f->p.v[1].del);
	assert_int_equal(f->p.v[2].op, PLAN_FORGET);   /* Retain */
	assert_int_equal(f->p.v[3].op, PLAN_REFUSE);   /* not empty */
	assert_string_equal(f->p.v[3].reason, "bucket is not empty (42 objects): not deleted");
	assert_int_equal(f->p.v[4].op, PLAN_FORGET);   /* already gone */
}

static void
test_empty_set_never_prunes_everything(void **state)
{
	struct fx *f = *state;

	own_bucket(f, "del", "del", "default", DELETION_DELETE);
	have_bucket(f, "del", "default", "Standard", NULL, NULL, 0);
	f->o.prune = 1;
	compute(f);
	assert_int_equal(f->p.v[0].op, PLAN_REFUSE);
	assert_non_null(strstr(f->p.v[0].reason, "--allow-empty"));
	plan_release(&f->p);
	f->o.allow_empty = 1;
	compute(f);
	assert_int_equal(f->p.v[0].op, PLAN_DELETE);
}

static void
test_lifecycle_no_longer_declared_resets(void **state)
{
	struct fx *f = *state;

	want(f, HDR "kind: R2Bucket\nmetadata: {name: logs}\nspec: {}\n");
	own_bucket(f, "logs", "logs", "default", DELETION_RETAIN)->managed_lifecycle = 1;
	have_bucket(f, "logs", "default", "Standard",
	            "{\"result\":{\"rules\":[" DEFAULT_RULE ",{\"id\":\"x\",\"enabled\":true,"
	            "\"conditions\":{},\"deleteObjectsTransition\":{\"condition\":{\"type\":\"Age\","
	            "\"maxAge\":86400}}}]}}", NULL, -1);
	compute(f);
	assert_int_equal(f->p.v[0].op, PLAN_UPDATE);
	assert_true(f->p.v[0].put_lifecycle);
	assert_int_equal(f->p.v[0].nlc, 1);
	assert_string_equal(f->p.v[0].lc[0].id, PLAN_DEFAULT_LC_ID);
}

/* Unobserved is unknown, not empty (the daemon's rotation reads a bucket's
 * lifecycle and CORS, and a namespace's keys, only every so many passes):
 * a part that was not read is neither written, nor deleted, nor reverted. */
static void
test_unobserved_parts_are_unknown(void **state)
{
	struct fx *f = *state;
	struct inv_entry *x;

	want(f, HDR "kind: R2Bucket\nmetadata: {name: logs}\nspec:\n"
	        "  lifecycle: {deleteAfterDays: 30}\n"
	        "  cors: {rules: [{allowedOrigins: ['*'], allowedMethods: [GET]}]}\n"
	        "---\n" HDR "kind: R2Bucket\nmetadata: {name: old}\nspec: {}\n"
	        "---\n" HDR "kind: KVNamespace\nmetadata: {name: ns}\nspec:\n"
	        "  entries:\n    - {key: a, value: b}\n");
	own_bucket(f, "logs", "logs", "default", DELETION_RETAIN)->managed_lifecycle = 1;
	x = own_bucket(f, "old", "old", "default", DELETION_RETAIN);
	x->managed_lifecycle = 1; /* no longer declared: would be reset if read */
	x->managed_cors = 1;
	x = state_upsert(f->st, KIND_KVNAMESPACE, "ns");
	x->kv_id = xstrdup("id-ns");
	/* listed, but no part read: lifecycle_read, cors_read, keys_read all 0 */
	have_bucket(f, "logs", "default", "Standard", NULL, NULL, -1);
	have_bucket(f, "old", "default", "Standard", NULL, NULL, -1);
	have_kv(f, "id-ns", "ns");
	compute(f);
	assert_int_equal(f->p.n, 3);
	for (size_t i = 0; i < f->p.n; i++) {
		const struct plan_action *a = &f->p.v[i];

		assert_int_equal(a->op, PLAN_NOOP);
		assert_false(a->put_lifecycle || a->put_cors || a->delete_cors);
		assert_int_equal(a->nkv_put, 0);
		assert_int_equal(a->nkv_del, 0);
		assert_int_equal(a->nchanges, 0);
		if (strcmp(a->name, "ns") == 0)
			assert_int_equal(a->unobserved, PLAN_UNOBSERVED_KV_KEYS);
		else
			assert_int_equal(a->unobserved,
			                 PLAN_UNOBSERVED_LIFECYCLE | PLAN_UNOBSERVED_CORS);
	}
	assert_false(plan_has_changes(&f->p));
}

/* The same parts, read and empty, are acted on: the contrast to the above. */
static void
test_observed_empty_parts_are_repaired(void **state)
{
	struct fx *f = *state;

	want(f, HDR "kind: R2Bucket\nmetadata: {name: logs}\nspec:\n"
	        "  lifecycle: {deleteAfterDays: 30}\n"
	        "  cors: {rules: [{allowedOrigins: ['*'], allowedMethods: [GET]}]}\n");
	own_bucket(f, "logs", "logs", "default", DELETION_RETAIN)->managed_lifecycle = 1;
	have_bucket(f, "logs", "default", "Standard", "{\"result\":{\"rules\":[]}}", "404", -1);
	compute(f);
	assert_int_equal(f->p.v[0].op, PLAN_UPDATE);
	assert_true(f->p.v[0].put_lifecycle && f->p.v[0].put_cors);
	assert_int_equal(f->p.v[0].unobserved, 0);
}

static void
test_kv_entries_listing_only(void **state)
{
	struct fx *f = *state;
	struct inv_entry *x;
	struct obs_kv *k;
	const char *names[] = { "same", "changed", "foreign", "stranger" };
	int64_t now = 2000000000;
	struct err e;

	want(f, HDR "kind: KVNamespace\nmetadata: {name: ns}\nspec:\n  prune: true\n  entries:\n"
	        "    - {key: same, value: a}\n    - {key: changed, value: b}\n"
	        "    - {key: foreign, value: c}\n    - {key: missing, value: d, ttlSeconds: 60}\n"
	        "    - {key: passed, value: e, expiration: 1999999999}\n"
	        "    - {key: too-close, value: f, expiration: 2000000030}\n"
	        "    - {key: later, value: g, expiration: 2000003600}\n");
	err_clear(&e);
	assert_int_equal(manifest_hash_entries(&f->set, &e), ERR_OK);
	x = state_upsert(f->st, KIND_KVNAMESPACE, "ns");
	x->kv_id = xstrdup("id-ns");
	have_kv(f, "id-ns", "ns");
	k = &f->snap.kvs[0];
	k->keys_read = 1;
	k->keys = xcalloc(4, sizeof(*k->keys));
	for (int i = 0; i < 4; i++)
		k->keys[i].name = xstrdup(names[i]);
	k->nkeys = 4;
	memcpy(k->keys[0].hash, f->set.items[0].u.kv.entries[0].hash, 17);
	memcpy(k->keys[1].hash, "0123456789abcdef", 17);
	f->o.now = now;
	compute(f);
	assert_int_equal(f->p.v[0].op, PLAN_UPDATE);
	/* changed, foreign (no hash), missing, later; not same, passed, too-close */
	assert_int_equal(f->p.v[0].nkv_put, 4);
	assert_int_equal(f->p.v[0].kv_put[0], 1);
	assert_int_equal(f->p.v[0].kv_put[1], 2);
	assert_int_equal(f->p.v[0].kv_put[2], 3);
	assert_int_equal(f->p.v[0].kv_put[3], 6);
	assert_true(has_change(&f->p.v[0], "entry 'foreign' (written outside cfstorage)"));
	assert_true(has_change(&f->p.v[0], "entry 'changed' (changed)"));
	assert_int_equal(f->p.v[0].nkv_del, 1);
	assert_string_equal(f->p.v[0].kv_del[0], "stranger");
}

static void
test_spec_hash_stable_and_sensitive(void **state)
{
	struct fx *f = *state;
	char h1[17], h2[17], h3[17];

	want(f, BUCKET_LC "---\n" HDR "kind: R2Bucket\nmetadata: {name: logs2}\nspec:\n"
	        "  lifecycle: {deleteAfterDays: 31}\n");
	plan_spec_hash(&f->set.items[0], h1);
	plan_spec_hash(&f->set.items[0], h2);
	plan_spec_hash(&f->set.items[1], h3);
	assert_string_equal(h1, h2);
	assert_string_not_equal(h1, h3);
	assert_int_equal(strlen(h1), 16);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(x) cmocka_unit_test_setup_teardown(x, setup, teardown)
		T(test_create_includes_default_rule),
		T(test_converged_is_clean_days_vs_seconds),
		T(test_seconds_not_whole_days_differ),
		T(test_rules_keyed_by_id_and_transitions_as_set),
		T(test_rule_added_removed_changed),
		T(test_cors_order_and_case_insensitive),
		T(test_cors_missing_differs_and_empty_deletes),
		T(test_cors_rule_diff),
		T(test_storage_class_update_and_policy_change),
		T(test_immutable_fields_refused),
		T(test_unowned_refused_or_adopted),
		T(test_option_only),
		T(test_option_adopt_only),
		T(test_option_holds),
		T(test_recreate_after_outside_delete_and_pending),
		T(test_kv_rename_conflict_and_recreate),
		T(test_orphans_without_prune_are_kept),
		T(test_orphans_with_prune),
		T(test_empty_set_never_prunes_everything),
		T(test_lifecycle_no_longer_declared_resets),
		T(test_kv_entries_listing_only),
		T(test_unobserved_parts_are_unknown),
		T(test_observed_empty_parts_are_repaired),
		T(test_spec_hash_stable_and_sensitive),
#undef T
	};

	return cmocka_run_group_tests_name("plan", tests, NULL, NULL);
}
