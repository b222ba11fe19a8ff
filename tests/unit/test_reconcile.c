/* Unit tests for pkg/reconcile: whole passes (observe → plan → apply →
 * record) against the emulator running in this process on a loopback port,
 * the same HTTP client path as against Cloudflare. Each test gets a fresh
 * emulator (memory only), a fresh in-memory state and its own manifests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../pkg/emu/emu.h"
#include "../../pkg/mem/mem.h"
#include "../../pkg/reconcile/reconcile.h"
#include "../../pkg/secret/secret.h"

#define NOW 1800000000LL
#define HDR "apiVersion: cfstorage.dev/v1alpha1\n"

static const char *const manifests =
	HDR "kind: R2Bucket\nmetadata: {name: logs}\nspec:\n  cors:\n    rules:\n"
	"      - {allowedOrigins: ['https://a.example'], allowedMethods: [GET]}\n---\n"
	HDR "kind: KVNamespace\nmetadata: {name: flags}\nspec:\n  entries:\n    - {key: k, value: v}\n---\n"
	HDR "kind: Secret\nmetadata: {name: key}\nspec:\n  generate: {bytes: 16}\n"
	"  targets:\n    - secretsStore: {store: default, name: KEY}\n";

struct fx {
	struct emu *emu;
	struct api *api;
	struct manifest_set set;
	struct state *st;
	struct reconcile_result r;
	char dir[64], path[96];
};

static int
setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	struct emu_config ec;
	struct api_config ac;
	struct diags d;
	struct err e;
	char *url;

	memset(&ec, 0, sizeof(ec));
	ec.listen_addr = "127.0.0.1:0";
	err_clear(&e);
	if ((f->emu = emu_start(&ec, &e)) == NULL)
		fail_msg("emu_start: %s", e.msg);
	url = xasprintf("http://127.0.0.1:%u/client/v4", emu_port(f->emu));
	memset(&ac, 0, sizeof(ac));
	ac.base_url = url;
	ac.token = EMU_DEFAULT_TOKEN;
	ac.account_id = EMU_DEFAULT_ACCOUNT;
	if ((f->api = api_new(&ac, &e)) == NULL)
		fail_msg("api_new: %s", e.msg);
	free(url);
	manifest_set_init(&f->set);
	diags_init(&d);
	manifest_load_buffer("t.yaml", manifests, strlen(manifests), &f->set, &d);
	assert_int_equal(d.n, 0);
	diags_release(&d);
	assert_int_equal(manifest_hash_entries(&f->set, &e), ERR_OK);
	snprintf(f->dir, sizeof(f->dir), "/tmp/cfs-test-reconcile-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/state.json", f->dir);
	assert_int_equal(state_open(f->path, 1, &f->st, &e), ERR_OK);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	reconcile_result_release(&f->r);
	api_free(f->api);
	emu_stop(f->emu);
	state_close(f->st);
	manifest_set_free(&f->set);
	unlink(f->path);
	{
		char lock[128];

		snprintf(lock, sizeof(lock), "%s.lock", f->path);
		unlink(lock);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static void
run(struct fx *f, enum reconcile_mode mode, const struct plan_opts *po)
{
	struct reconcile_opts ro;
	struct err e;

	reconcile_result_release(&f->r);
	memset(&ro, 0, sizeof(ro));
	ro.mode = mode;
	if (po)
		ro.plan = *po;
	ro.plan.now = NOW;
	err_clear(&e);
	if (reconcile_pass(f->api, &f->set, f->st, &ro, &f->r, &e) != ERR_OK)
		fail_msg("reconcile_pass: %s", e.msg);
}

/* plan reads and writes nothing; apply converges; the next plan is clean
 * and reads only (its requests are the pass's own count). */
static void
test_plan_apply_converge(void **state)
{
	struct fx *f = *state;

	run(f, RECONCILE_PLAN, NULL);
	assert_int_equal(f->r.plan.counts[PLAN_CREATE], 3);
	assert_false(f->r.applied);
	assert_int_equal(f->r.writes, 0);
	assert_true(f->r.requests > 0);
	assert_int_equal(f->st->n, 0);
	run(f, RECONCILE_APPLY, NULL);
	assert_true(f->r.applied);
	assert_int_equal(f->r.res.failed, 0);
	assert_int_equal(f->r.res.done[PLAN_CREATE], 3);
	assert_true(f->r.writes >= 3);
	assert_int_equal(f->st->n, 2);
	assert_int_equal(f->st->nsecrets, 1);
	run(f, RECONCILE_APPLY, NULL);
	assert_false(plan_has_changes(&f->r.plan));
	assert_false(f->r.applied);
	assert_int_equal(f->r.writes, 0);
}

/* only: one resource planned and applied, the others untouched. */
static void
test_only_one_resource(void **state)
{
	struct fx *f = *state;
	struct plan_opts po;

	memset(&po, 0, sizeof(po));
	po.only_kind = KIND_KVNAMESPACE;
	po.only = "flags";
	run(f, RECONCILE_APPLY, &po);
	assert_int_equal(f->r.plan.n, 1);
	assert_int_equal(f->r.res.done[PLAN_CREATE], 1);
	assert_int_equal(f->st->n, 1);
	assert_int_equal(f->st->v[0]->kind, KIND_KVNAMESPACE);
	run(f, RECONCILE_PLAN, NULL);
	assert_int_equal(f->r.plan.counts[PLAN_CREATE], 2);
}

/* holds: the held resource is refused as held, the rest converge, and the
 * plan's counts say so (no caller edits the plan). */
static void
test_holds(void **state)
{
	struct fx *f = *state;
	struct plan_hold h = { KIND_R2BUCKET, "logs", "backing off" };
	struct plan_opts po;

	memset(&po, 0, sizeof(po));
	po.holds = &h;
	po.nholds = 1;
	run(f, RECONCILE_APPLY, &po);
	assert_int_equal(f->r.plan.counts[PLAN_REFUSE], 1);
	assert_int_equal(f->r.plan.counts[PLAN_CREATE], 2);
	assert_true(f->r.plan.v[0].held);
	assert_int_equal(f->r.res.done[PLAN_CREATE], 2);
	run(f, RECONCILE_PLAN, NULL);
	assert_int_equal(f->r.plan.counts[PLAN_CREATE], 1);
}

/* LEDGERS (status --rebuild): the Secret's ledger comes back from the account
 * after the state lost it, and nothing is sent but reads. */
static void
test_rebuild_ledgers(void **state)
{
	struct fx *f = *state;
	struct reconcile_opts ro;
	struct err e;

	run(f, RECONCILE_APPLY, NULL);
	state_ledger_remove(f->st, "key");
	reconcile_result_release(&f->r);
	memset(&ro, 0, sizeof(ro));
	ro.mode = RECONCILE_LEDGERS;
	ro.rebuild_ledgers = 1;
	ro.plan.now = NOW;
	err_clear(&e);
	assert_int_equal(reconcile_pass(f->api, &f->set, f->st, &ro, &f->r, &e), ERR_OK);
	assert_int_equal(f->r.writes, 0);
	assert_non_null(state_ledger(f->st, "key"));
	assert_int_equal(ledger_current(state_ledger(f->st, "key"))->n, 1);
}

/* A refused token is ERR_AUTH, and the pass writes nothing. */
static void
test_refused_credentials(void **state)
{
	struct fx *f = *state;
	struct api_config ac;
	struct reconcile_opts ro;
	struct api *bad;
	struct err e;
	char *url = xasprintf("http://127.0.0.1:%u/client/v4", emu_port(f->emu));

	memset(&ac, 0, sizeof(ac));
	ac.base_url = url;
	ac.token = "not-the-token";
	ac.account_id = EMU_DEFAULT_ACCOUNT;
	err_clear(&e);
	bad = api_new(&ac, &e);
	assert_non_null(bad);
	memset(&ro, 0, sizeof(ro));
	ro.mode = RECONCILE_APPLY;
	ro.plan.now = NOW;
	reconcile_result_release(&f->r);
	assert_int_equal(reconcile_pass(bad, &f->set, f->st, &ro, &f->r, &e), ERR_AUTH);
	assert_int_equal(f->r.writes, 0);
	assert_int_equal(f->st->n, 0);
	api_free(bad);
	free(url);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(x) cmocka_unit_test_setup_teardown(x, setup, teardown)
		T(test_plan_apply_converge),
		T(test_only_one_resource),
		T(test_holds),
		T(test_rebuild_ledgers),
		T(test_refused_credentials),
#undef T
	};

	return cmocka_run_group_tests_name("reconcile", tests, NULL, NULL);
}
