/* Unit tests for a Secret's plan against the account (pkg/plan/plan_secret.c):
 * a table of ledger/account combinations, each checked against the three
 * invariants (a name that exists is never written with a new value except our
 * own pending version; the pointer never moves backwards; a new version is
 * max(ledger, account) + 1) and against the action it must produce. The
 * account is a snapshot of listings (names and comments), the ledger an
 * in-memory state; plan_compute does no I/O. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../pkg/mem/mem.h"
#include "../../pkg/plan/plan.h"
#include "../../pkg/secret/secret.h"

#define NOW 1800000000LL
#define STORE "store:default/K"
#define WORKER "script:api/K"

static const char *const spec =
	"apiVersion: cfstorage.dev/v1alpha1\n"
	"kind: Secret\n"
	"metadata: {name: k}\n"
	"spec:\n"
	"  generate: {bytes: 32}\n"
	"  rotation: {everyDays: 90, retain: {mode: count, versions: 5}}\n"
	"  alias: %s\n"
	"  adopt: %s\n"
	"  targets:\n"
	"    - secretsStore: {store: default, name: K}\n"
	"    - workerSecret: {script: api, name: K}\n";

/* One case: the ledger and what each target lists. Names in the lists are
 * "K_V3", "K_VERSION=3" (a marked pointer at 3; =x unmarked), "K" (alias of V3;
 * "K=5" of V5);
 * a trailing "!" on a version means a comment without cfstorage's mark. */
struct tcase {
	const char *what;
	const char *ledger;        /* "3c 2p 1r 4P 4Q 1d": n + status (c current, p previous,
	                              r retained, P pending, Q pending published, d destroyed);
	                              every live version recorded on both targets unless "s"
	                              (store only) follows */
	const char *store, *worker; /* space-separated names */
	int adopt;
	enum plan_op op;
	unsigned version;           /* for create/rotate */
	int nfix_ptr, nfix_alias;
	unsigned cur_after;         /* the recorded ledger's current (0: no new ledger) */
	unsigned lost;
};

static const struct tcase cases[] = {
	{ "fresh runner, account at V3", NULL, "K_V1 K_V2 K_V3 K_VERSION=3 K",
	  "K_V1 K_V2 K_V3 K_VERSION K", 0, PLAN_NOOP, 0, 0, 0, 3, 0 },
	{ "fresh runner, a gap (V2 destroyed)", NULL, "K_V1 K_V3 K_VERSION=3 K",
	  "K_V1 K_V3 K_VERSION K", 0, PLAN_NOOP, 0, 0, 0, 3, 0 },
	{ "our pending V4 on the store only: regenerated under 4", "3c 2p 1r 4Ps",
	  "K_V1 K_V2 K_V3 K_V4 K_VERSION=3 K", "K_V1 K_V2 K_V3 K_VERSION K", 0,
	  PLAN_ROTATE, 4, 0, 0, 0, 0 },
	{ "someone else's pending V4 (no ledger): V5", NULL,
	  "K_V1 K_V2 K_V3 K_V4 K_VERSION=3 K", "K_V1 K_V2 K_V3 K_VERSION K", 0,
	  PLAN_ROTATE, 5, 0, 0, 3, 0 },
	{ "a pointer ahead of the ledger, its version present", "3c 2p 1r",
	  "K_V1 K_V2 K_V3 K_V4 K_V5 K_VERSION=5 K=5", "K_V1 K_V2 K_V3 K_V4 K_V5 K_VERSION K", 0,
	  PLAN_NOOP, 0, 0, 0, 5, 0 },
	{ "a pointer ahead of the ledger, its version nowhere", "3c 2p 1r",
	  "K_V1 K_V2 K_V3 K_VERSION=5 K", "K_V1 K_V2 K_V3 K_VERSION K", 0,
	  PLAN_ROTATE, 6, 0, 0, 0, 0 },
	{ "pointer deleted on the worker: rewritten, no version", "3c 2p 1r",
	  "K_V1 K_V2 K_V3 K_VERSION=3 K", "K_V1 K_V2 K_V3 K", 0, PLAN_UPDATE, 0, 1, 0, 0, 0 },
	{ "pointer not ours on the store: rewritten", "3c 2p 1r",
	  "K_V1 K_V2 K_V3 K_VERSION=x K", "K_V1 K_V2 K_V3 K_VERSION K", 0,
	  PLAN_UPDATE, 0, 1, 0, 0, 0 },
	{ "store alias deleted: copied again", "3c 2p 1r",
	  "K_V1 K_V2 K_V3 K_VERSION=3", "K_V1 K_V2 K_V3 K_VERSION K", 0, PLAN_UPDATE, 0, 0, 1, 0, 0 },
	{ "worker alias deleted: a new version", "3c 2p 1r",
	  "K_V1 K_V2 K_V3 K_VERSION=3 K", "K_V1 K_V2 K_V3 K_VERSION", 0, PLAN_ROTATE, 4, 0, 0, 0, 0 },
	{ "current version lost on the worker: V4 everywhere", "3c 2p 1r",
	  "K_V1 K_V2 K_V3 K_VERSION=3 K", "K_V1 K_V2 K_VERSION K", 0, PLAN_ROTATE, 4, 0, 0, 3, 0 },
	{ "a retained version lost: Degraded, nothing written", "3c 2p 1r",
	  "K_V1 K_V3 K_VERSION=3 K", "K_V1 K_V2 K_V3 K_VERSION K", 0, PLAN_REFUSE, 0, 0, 0, 0, 1 },
	{ "our published pending V4: V5", "3c 2p 1r 4Q",
	  "K_V1 K_V2 K_V3 K_V4 K_VERSION=3 K", "K_V1 K_V2 K_V3 K_V4 K_VERSION K", 0,
	  PLAN_ROTATE, 5, 0, 0, 0, 0 },
	{ "our pointer phase killed after the store: V5, never V4 finished", "3c 2p 1r 4Q",
	  "K_V1 K_V2 K_V3 K_V4 K_VERSION=4 K=4", "K_V1 K_V2 K_V3 K_V4 K_VERSION K", 0,
	  PLAN_ROTATE, 5, 0, 0, 0, 0 },
	{ "made by hand: refused", NULL, "K_V1! K_VERSION=x", "K_V1", 0, PLAN_REFUSE, 0, 0, 0, 0, 0 },
	{ "made by hand, adopt: numbering goes on, nothing overwritten", NULL,
	  "K_V1! K_V2! K_VERSION=x K!", "K_V1 K_V2 K_VERSION K", 1, PLAN_ADOPT, 0, 1, 1, 2, 0 },
	{ "a hand-made V7 in the store: the next version is 8", "3c 2p 1d",
	  "K_V2 K_V3 K_V7! K_VERSION=3 K", "K_V2 K_V3 K_VERSION K", 0, PLAN_NOOP, 0, 0, 0, 0, 0 },
	{ "a version we destroyed exists again: left alone", "3c 2p 1d",
	  "K_V1! K_V2 K_V3 K_VERSION=3 K", "K_V2 K_V3 K_VERSION K", 0, PLAN_NOOP, 0, 0, 0, 0, 0 },
	{ "nothing anywhere: the first version", NULL, "", "", 0, PLAN_CREATE, 1, 0, 0, 0, 0 },
};

static void
list_add(struct obs_starget *o, const char *word)
{
	struct obs_secret *s;
	char name[64];
	const char *eq = strchr(word, '=');
	size_t len = eq ? (size_t)(eq - word) : strlen(word);
	int unmarked = word[strlen(word) - 1] == '!';

	if (unmarked)
		len--;
	snprintf(name, sizeof(name), "%.*s", (int)len, word);
	o->v = xrealloc(o->v, (o->n + 1) * sizeof(*o->v));
	s = &o->v[o->n++];
	memset(s, 0, sizeof(*s));
	s->name = xstrdup(name);
	if (o->worker)
		return;
	s->id = xasprintf("id-%s", name);
	if (strcmp(name, "K") == 0 && !unmarked)
		s->comment = xasprintf("cfstorage secret=k alias current=%s", eq ? eq + 1 : "3");
	else if (eq && eq[1] != 'x')
		s->comment = xasprintf("cfstorage secret=k pointer current=%s", eq + 1);
	else if (!eq && !unmarked)
		s->comment = xasprintf("cfstorage secret=k version=%s fingerprint=00112233445566%02d "
		                       "created=2027-01-01T00:00:00Z", name + 3,
		                       (int)strtol(name + 3, NULL, 10));
}

static void
listing(struct snapshot *snap, int worker, const char *where, const char *names)
{
	struct obs_starget *o;
	char *copy = xstrdup(names), *save = NULL;

	snap->stargets = xrealloc(snap->stargets, (snap->nstargets + 1) * sizeof(*o));
	o = &snap->stargets[snap->nstargets++];
	memset(o, 0, sizeof(*o));
	o->worker = worker;
	o->where = xstrdup(where);
	if (!worker)
		o->store_id = xstrdup("store-id");
	for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save))
		list_add(o, w);
	free(copy);
}

static void
ledger(struct state *st, const char *spec_text)
{
	struct sec_ledger *l;
	char *copy, *save = NULL;

	if (spec_text == NULL)
		return;
	l = state_ledger_upsert(st, "k");
	l->alias = 1;
	ledger_add_target(&l->targets, &l->ntargets, STORE);
	ledger_add_target(&l->targets, &l->ntargets, WORKER);
	copy = xstrdup(spec_text);
	for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		unsigned n = (unsigned)strtoul(w, NULL, 10);
		const char *st_code = w + strspn(w, "0123456789");
		struct sec_version *v = ledger_add(l, n, NOW - 86400 * (10 - n));

		v->status = st_code[0] == 'c' ? V_CURRENT : st_code[0] == 'p' ? V_PREVIOUS
		          : st_code[0] == 'r' ? V_RETAINED : st_code[0] == 'd' ? V_DESTROYED : V_PENDING;
		v->published = st_code[0] == 'Q';
		if (v->status == V_CURRENT)
			v->current_at = v->created;
		snprintf(v->fp, sizeof(v->fp), "00112233445566%02u", n);
		if (v->status == V_DESTROYED)
			continue;
		ledger_add_target(&v->targets, &v->ntargets, STORE);
		if (st_code[1] != 's')
			ledger_add_target(&v->targets, &v->ntargets, WORKER);
	}
	free(copy);
}

static int
listed(const struct snapshot *snap, unsigned n)
{
	char name[32];

	snprintf(name, sizeof(name), "K_V%u", n);
	for (size_t i = 0; i < snap->nstargets; i++)
		for (size_t k = 0; k < snap->stargets[i].n; k++)
			if (strcmp(snap->stargets[i].v[k].name, name) == 0)
				return 1;
	return 0;
}

/* The three invariants, for any plan of the Secret. */
static void
check_invariants(const struct tcase *c, const struct plan_action *a,
                 const struct sec_ledger *old, const struct snapshot *snap)
{
	unsigned seen = 0, ptr = 0, lmax = old ? ledger_max(old) : 0;
	const struct sec_version *oc = old ? ledger_current(old) : NULL;

	for (size_t i = 0; i < snap->nstargets; i++)
		for (size_t k = 0; k < snap->stargets[i].n; k++) {
			const struct obs_secret *s = &snap->stargets[i].v[k];
			unsigned n = secret_version_of(s->name, "K");
			unsigned p = secret_comment_current(s->comment);

			seen = n > seen ? n : seen;
			if (strcmp(s->name, "K_VERSION") == 0 && p > ptr)
				ptr = p;
		}
	if (a->op != PLAN_CREATE && a->op != PLAN_ROTATE)
		return;
	if (listed(snap, a->version)) {
		/* invariant 1: only our own pending version, no pointer at it */
		const struct sec_version *v = old ? ledger_find((struct sec_ledger *)old, a->version) : NULL;

		if (!(v && v->status == V_PENDING && !v->published && ptr < a->version))
			fail_msg("%s: V%u exists and would be rewritten", c->what, a->version);
	} else {
		unsigned want = (lmax > seen ? lmax : seen);

		want = (want > ptr ? want : ptr) + 1;
		if (a->version != want) /* invariant 3 */
			fail_msg("%s: new version V%u, want V%u", c->what, a->version, want);
	}
	/* invariant 2: the pointer moves to the new version, never below */
	if (a->version < ptr || (oc && a->version < oc->n))
		fail_msg("%s: pointer would move back to %u", c->what, a->version);
}

/* One plan of the Secret k: its manifest (alias, adopt), what each target
 * lists (worker NULL: the script was not listed), the ledger, and the time. */
struct one {
	struct manifest_set set;
	struct diags d;
	struct snapshot snap;
	struct state *st;
	struct plan p;
	char *yaml;
};

static const struct plan_action *
plan_one(struct one *f, int alias, int adopt, const char *store, const char *worker,
         const char *ledger_text, int64_t now)
{
	struct plan_opts o;
	struct err e;

	memset(f, 0, sizeof(*f));
	f->st = state_new();
	f->yaml = xasprintf(spec, alias ? "true" : "false", adopt ? "true" : "false");
	manifest_set_init(&f->set);
	diags_init(&f->d);
	manifest_load_buffer("t.yaml", f->yaml, strlen(f->yaml), &f->set, &f->d);
	assert_int_equal(f->d.n, 0);
	listing(&f->snap, 0, "default", store);
	if (worker)
		listing(&f->snap, 1, "api", worker);
	ledger(f->st, ledger_text);
	memset(&o, 0, sizeof(o));
	o.now = now;
	assert_int_equal(plan_compute(&f->set, &f->snap, f->st, &o, &f->p, &e), ERR_OK);
	assert_int_equal(f->p.n, 1);
	return &f->p.v[0];
}

static void
one_release(struct one *f)
{
	plan_release(&f->p);
	snapshot_release(&f->snap);
	state_close(f->st);
	manifest_set_free(&f->set);
	diags_release(&f->d);
	free(f->yaml);
}

static void
test_table(void **unused)
{
	(void)unused;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct tcase *c = &cases[i];
		struct one f;
		const struct plan_action *a = plan_one(&f, 1, c->adopt, c->store, c->worker,
		                                       c->ledger, NOW);

		if (a->op != c->op)
			fail_msg("%s: op %s, want %s (%s)", c->what, plan_op_name(a->op),
			         plan_op_name(c->op), a->reason ? a->reason : "");
		check_invariants(c, a, state_ledger(f.st, "k"), &f.snap);
		if ((c->op == PLAN_CREATE || c->op == PLAN_ROTATE) && a->version != c->version)
			fail_msg("%s: version %u, want %u", c->what, a->version, c->version);
		if ((int)a->nfix_ptr != c->nfix_ptr || (int)a->nfix_alias != c->nfix_alias)
			fail_msg("%s: %zu pointer and %zu alias repairs, want %d and %d", c->what,
			         a->nfix_ptr, a->nfix_alias, c->nfix_ptr, c->nfix_alias);
		if (c->cur_after) {
			const struct sec_version *cur = a->ledger ? ledger_current(a->ledger) : NULL;

			if (cur == NULL || cur->n != c->cur_after)
				fail_msg("%s: recorded current %u, want %u", c->what, cur ? cur->n : 0,
				         c->cur_after);
		}
		assert_int_equal(a->lost, c->lost);
		one_release(&f);
	}
}

/* A rotation's number with a hand-made V7 in the store is 8, never 4. */
static void
test_rotation_past_unmarked(void **unused)
{
	struct one f;
	const struct plan_action *a;

	(void)unused;
	a = plan_one(&f, 1, 0, "K_V2 K_V3 K_V7! K_VERSION=3 K", "K_V2 K_V3 K_VERSION K",
	             "3c 2p 1d", NOW + 200LL * 86400);
	assert_int_equal(a->op, PLAN_ROTATE);
	assert_int_equal(a->version, 8);
	one_release(&f);
}

/* A target that was not listed is refused, never planned from the ledger. */
static void
test_unobserved_refused(void **unused)
{
	struct one f;
	const struct plan_action *a;

	(void)unused;
	a = plan_one(&f, 0, 0, "", NULL, NULL, NOW);
	assert_int_equal(a->op, PLAN_REFUSE);
	assert_non_null(strstr(a->reason, "script:api/K were not read"));
	one_release(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_rotation_past_unmarked),
		cmocka_unit_test(test_unobserved_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
