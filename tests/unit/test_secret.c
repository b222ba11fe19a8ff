/* Unit tests for pkg/secret (generation, encodings, schedule and retain
 * arithmetic in UTC with leap days) and for the Secret side of plan_compute
 * (the two-phase state machine's decisions). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../pkg/mem/mem.h"
#include "../../pkg/plan/plan.h"
#include "../../pkg/secret/secret.h"
#include "../../pkg/timefmt/timefmt.h"

static int64_t
at(const char *rfc3339)
{
	int64_t t = 0;

	assert_int_equal(timefmt_parse_rfc3339(rfc3339, &t), 0);
	return t;
}

static void
test_generate_encodings(void **state)
{
	struct secret_value *a = NULL, *b = NULL, *h = NULL, *s = NULL;
	struct err e;
	char fa[17], fb[17];

	(void)state;
	assert_int_equal(secret_generate(32, SECRET_BASE64URL, &a, &e), ERR_OK);
	assert_int_equal(secret_generate(32, SECRET_BASE64URL, &b, &e), ERR_OK);
	assert_int_equal(secret_generate(32, SECRET_HEX, &h, &e), ERR_OK);
	assert_int_equal(secret_generate(16, SECRET_BASE64, &s, &e), ERR_OK);
	assert_int_equal(a->len, 43);
	assert_int_equal(h->len, 64);
	assert_int_equal(s->len, 24);
	assert_int_equal(s->text[23], '=');
	assert_int_equal(strspn(a->text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                        "0123456789-_"), 43);
	assert_int_equal(strspn(h->text, "0123456789abcdef"), 64);
	assert_string_not_equal(a->text, b->text);
	secret_fingerprint(a, fa);
	secret_fingerprint(b, fb);
	assert_int_equal(strlen(fa), 16);
	assert_string_not_equal(fa, fb);
	secret_fingerprint(a, fb);
	assert_string_equal(fa, fb);
	secret_value_free(h);
	assert_int_equal(secret_generate(0, SECRET_HEX, &h, &e), ERR_INVALID);
	assert_null(h);
	secret_value_free(a);
	secret_value_free(b);
	secret_value_free(s);
	secret_value_free(NULL);
}

static void
test_next_due(void **state)
{
	struct secret_spec s;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_true(secret_next_due(&s, 0) == INT64_MAX);
	s.has_rotation = 1;
	s.every_days = 90;
	/* from creation: 90 whole UTC days, through the 2028 leap day */
	assert_int_equal(secret_next_due(&s, at("2027-12-31T10:00:00Z")),
	                 at("2028-03-30T10:00:00Z"));
	s.every_days = 1;
	assert_int_equal(secret_next_due(&s, at("2028-02-28T23:59:59Z")),
	                 at("2028-02-29T23:59:59Z"));
	/* startAt anchors the schedule: the first point after creation */
	s.every_days = 30;
	s.start_at = at("2027-01-01T00:00:00Z");
	assert_int_equal(secret_next_due(&s, at("2026-12-15T00:00:00Z")), s.start_at);
	assert_int_equal(secret_next_due(&s, at("2027-01-01T00:00:00Z")),
	                 at("2027-01-31T00:00:00Z"));
	assert_int_equal(secret_next_due(&s, at("2027-02-05T12:00:00Z")),
	                 at("2027-03-02T00:00:00Z"));
	/* offsets are plain UTC arithmetic: no DST shifts */
	assert_int_equal(at("2027-03-28T01:30:00+01:00"), at("2027-03-28T00:30:00Z"));
}

static struct sec_ledger *
ledger(const char *statuses, int64_t day0)
{
	struct sec_ledger *l = xcalloc(1, sizeof(*l));

	for (unsigned i = 0; statuses[i]; i++) {
		struct sec_version *v = ledger_add(l, i + 1, day0 + (int64_t)i * 30 * SECRET_DAY);

		v->status = statuses[i] == 'c' ? V_CURRENT : statuses[i] == 'p' ? V_PREVIOUS
		          : statuses[i] == 'r' ? V_RETAINED : statuses[i] == 'd' ? V_DESTROYED
		          : V_PENDING;
	}
	return l;
}

static void
ledger_release(struct sec_ledger *l)
{
	free(l->v);
	free(l);
}

static void
test_retain_count(void **state)
{
	struct secret_spec s = { .retain = RETAIN_COUNT, .retain_n = 2 };
	struct sec_ledger *l = ledger("pc", 0);
	unsigned out[8];

	(void)state;
	/* V3 becoming current with V2 current and V1 previous: V1 goes */
	assert_int_equal(secret_destroyable(&s, l, 3, 0, out), 1);
	assert_int_equal(out[0], 1);
	/* with V2 becoming current, nothing goes yet */
	ledger_release(l);
	l = ledger("c", 0);
	assert_int_equal(secret_destroyable(&s, l, 2, 0, out), 0);
	ledger_release(l);
	/* count 3 over five versions, V6 coming: V1, V2, V3 go; pending never */
	s.retain_n = 3;
	l = ledger("drrpcx", 0);
	l->v[5].status = V_PENDING;
	assert_int_equal(secret_destroyable(&s, l, 6, 0, out), 2);
	assert_int_equal(out[0], 3);
	assert_int_equal(out[1], 2);
	ledger_release(l);
}

/* A rotation whose pointer phase was cut: V2 was published (a target pointed at
 * it) but never current, and V3 replaces it. V1, current until then, is the
 * previous version: count 2 keeps V3 and V1, and V2 goes only with V3. */
static void
test_retain_half_published(void **state)
{
	struct secret_spec s = { .retain = RETAIN_COUNT, .retain_n = 2 };
	struct sec_ledger *l = ledger("crP", 0); /* V1 current, V2 half-published, V3 coming */
	unsigned out[8];

	(void)state;
	l->v[1].published = 1;
	assert_int_equal(secret_destroyable(&s, l, 3, 0, out), 0);
	/* as recorded after it: V3 current, V1 previous, V2 retained */
	l->v[0].status = V_PREVIOUS;
	l->v[2].status = V_CURRENT;
	assert_int_equal(secret_destroyable(&s, l, 3, 0, out), 0);
	ledger_release(l);
	/* V4 coming: V1 goes (count), V2 stays with V3 (previous) */
	l = ledger("rrpP", 0);
	l->v[1].published = 1;
	assert_int_equal(secret_destroyable(&s, l, 4, 0, out), 1);
	assert_int_equal(out[0], 1);
	ledger_release(l);
	/* V5 coming: V3 goes, and V2 with it */
	l = ledger("drrpP", 0);
	l->v[1].published = 1;
	assert_int_equal(secret_destroyable(&s, l, 5, 0, out), 2);
	assert_int_equal(out[0], 3);
	assert_int_equal(out[1], 2);
	ledger_release(l);
	/* days, V4 coming long after: V3 is the previous and V2 stays with it;
	 * V1 goes */
	s.retain = RETAIN_DAYS;
	s.retain_n = 1;
	l = ledger("prcP", 0);
	l->v[1].published = 1;
	assert_int_equal(secret_destroyable(&s, l, 4, 10000 * SECRET_DAY, out), 1);
	assert_int_equal(out[0], 1);
	ledger_release(l);
}

static void
test_retain_days_and_forever(void **state)
{
	struct secret_spec s = { .retain = RETAIN_DAYS, .retain_n = 100 };
	struct sec_ledger *l = ledger("rrrpc", 0); /* created days 0, 30, 60, 90, 120 */
	unsigned out[8];

	(void)state;
	assert_int_equal(secret_destroyable(&s, l, 5, 120 * SECRET_DAY, out), 1);
	assert_int_equal(out[0], 1);
	/* never current or previous, however old */
	assert_int_equal(secret_destroyable(&s, l, 5, 10000 * SECRET_DAY, out), 3);
	s.retain = RETAIN_FOREVER;
	assert_int_equal(secret_destroyable(&s, l, 5, 10000 * SECRET_DAY, out), 0);
	ledger_release(l);
}

/* The Secret side of plan_compute: the phases' decisions. */
struct fx {
	struct manifest_set set;
	struct diags d;
	struct snapshot snap;
	struct state *st;
	struct plan p;
};

static int
setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	const char *y = "apiVersion: cfstorage.dev/v1alpha1\nkind: Secret\nmetadata: {name: k}\n"
	                "spec:\n  generate: {bytes: 32}\n  rotation: {everyDays: 90, retain: "
	                "{mode: count, versions: 2}}\n  targets:\n"
	                "    - secretsStore: {store: default, name: K}\n"
	                "    - workerSecret: {script: api, name: K}\n";

	manifest_set_init(&f->set);
	diags_init(&f->d);
	manifest_load_buffer("t.yaml", y, strlen(y), &f->set, &f->d);
	assert_int_equal(f->d.n, 0);
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

static struct sec_version *
version(struct fx *f, unsigned n, enum vstatus s, int64_t created, int both)
{
	struct sec_ledger *l = state_ledger_upsert(f->st, "k");
	struct sec_version *v = ledger_add(l, n, created);

	v->status = s;
	ledger_add_target(&v->targets, &v->ntargets, "store:default/K");
	if (both)
		ledger_add_target(&v->targets, &v->ntargets, "script:api/K");
	return v;
}

static void
list_name(struct obs_starget *o, const char *name, const char *comment)
{
	o->v = xrealloc(o->v, (o->n + 1) * sizeof(*o->v));
	o->v[o->n].name = xstrdup(name);
	o->v[o->n].id = o->worker ? NULL : xasprintf("id-%s", name);
	o->v[o->n].comment = o->worker || !comment ? NULL : xstrdup(comment);
	o->n++;
}

/* The account as the ledger says it is: each live version on the targets
 * that recorded it, the pointer at the current version on both. */
static void
mirror(struct fx *f)
{
	const struct sec_ledger *l = state_ledger(f->st, "k");
	const struct sec_version *cur = l ? ledger_current(l) : NULL;
	const char *ids[2] = { "store:default/K", "script:api/K" };

	snapshot_release(&f->snap);
	f->snap.stargets = xcalloc(2, sizeof(*f->snap.stargets));
	f->snap.nstargets = 2;
	for (int t = 0; t < 2; t++) {
		struct obs_starget *o = &f->snap.stargets[t];
		char name[32], comment[128];

		o->worker = t;
		o->where = xstrdup(t ? "api" : "default");
		o->store_id = t ? NULL : xstrdup("store-id");
		for (size_t i = 0; l && i < l->n; i++) {
			int held = 0;

			for (size_t k = 0; k < l->v[i].ntargets; k++)
				held |= strcmp(l->v[i].targets[k], ids[t]) == 0;
			if (!held || l->v[i].status == V_DESTROYED)
				continue;
			snprintf(name, sizeof(name), "K_V%u", l->v[i].n);
			snprintf(comment, sizeof(comment), "cfstorage secret=k version=%u", l->v[i].n);
			list_name(o, name, comment);
		}
		if (cur) {
			snprintf(comment, sizeof(comment), "cfstorage secret=k pointer current=%u", cur->n);
			list_name(o, "K_VERSION", comment);
		}
	}
}

static const struct plan_action *
run(struct fx *f, int64_t now, const char *rotate, int force)
{
	struct plan_opts o;
	struct err e;

	memset(&o, 0, sizeof(o));
	o.now = now;
	o.rotate = rotate;
	o.force = force;

	mirror(f);
	plan_release(&f->p);
	assert_int_equal(plan_compute(&f->set, &f->snap, f->st, &o, &f->p, &e), ERR_OK);
	assert_int_equal(f->p.n, 1);
	return &f->p.v[0];
}

static void
test_plan_first_due_pending(void **state)
{
	struct fx *f = *state;
	const struct plan_action *a;
	int64_t d0 = at("2027-01-01T00:00:00Z");

	a = run(f, d0, NULL, 0);
	assert_int_equal(a->op, PLAN_CREATE);
	assert_int_equal(a->version, 1);
	version(f, 1, V_CURRENT, d0, 1);
	assert_int_equal(run(f, d0 + 89 * SECRET_DAY, NULL, 0)->op, PLAN_NOOP);
	a = run(f, d0 + 90 * SECRET_DAY, NULL, 0);
	assert_int_equal(a->op, PLAN_ROTATE);
	assert_int_equal(a->version, 2);
	assert_string_equal(a->reason, "due since 2027-04-01");
	/* phase 1 died: V2 pending is completed under the same number */
	version(f, 2, V_PENDING, d0 + 90 * SECRET_DAY, 0);
	a = run(f, d0 + 91 * SECRET_DAY, NULL, 0);
	assert_int_equal(a->op, PLAN_ROTATE);
	assert_int_equal(a->version, 2);
	assert_int_equal(a->ndestroy, 0);
	/* phase 2 died after a pointer moved: V2 may be in use, never rewritten */
	ledger_find(state_ledger(f->st, "k"), 2)->published = 1;
	a = run(f, d0 + 92 * SECRET_DAY, NULL, 0);
	assert_int_equal(a->op, PLAN_ROTATE);
	assert_int_equal(a->version, 3);
	assert_non_null(strstr(a->reason, "pointer update was interrupted"));
}

static void
test_plan_missing_target_and_young_rotate(void **state)
{
	struct fx *f = *state;
	const struct plan_action *a;
	int64_t d0 = at("2027-01-01T00:00:00Z");

	version(f, 1, V_PREVIOUS, d0, 1);
	version(f, 2, V_CURRENT, d0 + SECRET_DAY, 0); /* only the store holds V2 */
	a = run(f, d0 + 2 * SECRET_DAY, NULL, 0);
	assert_int_equal(a->op, PLAN_ROTATE);
	assert_int_equal(a->version, 3);
	assert_non_null(strstr(a->reason, "script:api/K does not hold V2"));
	assert_int_equal(a->ndestroy, 1); /* V3 current: V1 goes (count 2) */
	assert_int_equal(a->destroy[0], 1);
	state_ledger_remove(f->st, "k");
	version(f, 1, V_CURRENT, d0, 1);
	a = run(f, d0 + 3600, "k", 0);
	assert_int_equal(a->op, PLAN_REFUSE);
	assert_non_null(strstr(a->reason, "use --force"));
	a = run(f, d0 + 3600, "k", 1);
	assert_int_equal(a->op, PLAN_ROTATE);
	assert_int_equal(a->version, 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generate_encodings),
		cmocka_unit_test(test_next_due),
		cmocka_unit_test(test_retain_count),
		cmocka_unit_test(test_retain_days_and_forever),
		cmocka_unit_test(test_retain_half_published),
		cmocka_unit_test_setup_teardown(test_plan_first_due_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plan_missing_target_and_young_rotate, setup,
		                                teardown),
	};

	return cmocka_run_group_tests_name("secret", tests, NULL, NULL);
}
