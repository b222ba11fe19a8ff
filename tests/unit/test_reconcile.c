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
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>

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

/* Two Secrets on one Secrets Store, with alias: their rotations run as jobs
 * of the same apply machine. */
static const char *const two_secrets =
	HDR "kind: Secret\nmetadata: {name: a}\nspec:\n  generate: {bytes: 16}\n  alias: true\n"
	"  targets:\n    - secretsStore: {store: default, name: A}\n---\n"
	HDR "kind: Secret\nmetadata: {name: b}\nspec:\n  generate: {bytes: 16}\n  alias: true\n"
	"  targets:\n    - secretsStore: {store: default, name: B}\n";

/* Latency of every emulated call in the two-Secrets tests: long enough that
 * calls of both Secrets are in flight together, short enough for a unit test. */
#define TWO_LATENCY_MS 10

/* A fresh emulator (every call delayed by latency_ms), a client of it, an
 * in-memory state in a fresh temporary folder; no manifests yet. */
static struct fx *
fx_new(unsigned latency_ms)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	struct emu_config ec;
	struct api_config ac;
	struct err e;
	char *url;

	memset(&ec, 0, sizeof(ec));
	ec.listen_addr = "127.0.0.1:0";
	ec.latency_ms = latency_ms;
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
	snprintf(f->dir, sizeof(f->dir), "/tmp/cfs-test-reconcile-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/state.json", f->dir);
	assert_int_equal(state_open(f->path, 1, &f->st, &e), ERR_OK);
	return f;
}

static int
setup_with(void **state, const char *text, unsigned latency_ms)
{
	struct fx *f = fx_new(latency_ms);
	struct diags d;
	struct err e;

	diags_init(&d);
	manifest_load_buffer("t.yaml", text, strlen(text), &f->set, &d);
	assert_int_equal(d.n, 0);
	diags_release(&d);
	err_clear(&e);
	assert_int_equal(manifest_hash_entries(&f->set, &e), ERR_OK);
	*state = f;
	return 0;
}

static int
setup(void **state)
{
	return setup_with(state, manifests, 0);
}

static int
setup_two(void **state)
{
	return setup_with(state, two_secrets, TWO_LATENCY_MS);
}

/* nftw callback: removes what the test wrote under its folder. */
static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
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
	assert_int_equal(nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS), 0);
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

/* ---- two Secrets: their rotations are jobs of one apply machine ---- */

/* The api's cancel hook, polled while calls wait or run: it watches the state
 * between calls and, when asked, stops the run as a SIGINT does. */
struct probe {
	struct fx *f;
	int overlap;          /* both Secrets were seen mid-rotation at once */
	int stop_at_overlap;  /* then stop the run */
	int stopped;
};

/* V1 of the Secret is written to a target but not yet current. */
static int
mid_rotation(const struct state *st, const char *name)
{
	struct sec_ledger *l = state_ledger(st, name);
	struct sec_version *v = l ? ledger_find(l, 1) : NULL;

	return v && v->status == V_PENDING && v->ntargets >= 1;
}

static int
probe(void *user)
{
	struct probe *p = user;

	if (mid_rotation(p->f->st, "a") && mid_rotation(p->f->st, "b")) {
		p->overlap = 1;
		if (p->stop_at_overlap)
			p->stopped = 1;
	}
	return p->stopped;
}

static size_t
collect(char *ptr, size_t size, size_t n, void *user)
{
	return buf_append(user, ptr, size * n) == 0 ? size * n : 0;
}

/* The value of `name` in the emulator's Secrets Store (its test route
 * GET /__emu/secret-values), or NULL when absent; free with free(). */
static char *
emu_value(struct fx *f, const char *name)
{
	char *url = xasprintf("http://127.0.0.1:%u/__emu/secret-values", emu_port(f->emu));
	CURL *h = curl_easy_init();
	struct buf b;
	cJSON *root, *store, *v;
	char *out = NULL;

	buf_init(&b, 1u << 20);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	assert_int_equal(curl_easy_perform(h), CURLE_OK);
	curl_easy_cleanup(h);
	free(url);
	root = cJSON_ParseWithLength(b.data, b.len);
	assert_non_null(root);
	store = cJSON_GetObjectItem(root, "secretsStore");
	store = store ? store->child : NULL; /* the account's one store */
	v = store ? cJSON_GetObjectItem(store, name) : NULL;
	if (cJSON_IsString(v))
		out = xstrdup(v->valuestring);
	cJSON_Delete(root);
	buf_release(&b);
	return out;
}

/* On the account: NAME_VERSION says `n`, and the alias NAME holds NAME_V<n>. */
static void
assert_points_at(struct fx *f, const char *base, unsigned n)
{
	char *vname = xasprintf("%s_V%u", base, n), *pname = xasprintf("%s_VERSION", base);
	char *ptr = emu_value(f, pname), *val = emu_value(f, vname), *alias = emu_value(f, base);
	char num[16];

	snprintf(num, sizeof(num), "%u", n);
	assert_non_null(ptr);
	assert_string_equal(ptr, num);
	assert_non_null(val);
	assert_non_null(alias);
	assert_string_equal(alias, val);
	free(vname);
	free(pname);
	free(ptr);
	free(val);
	free(alias);
}

/* Two Secrets created in one apply: both are seen mid-rotation at once (a
 * run of one Secret after the other never shows that: the second one's
 * ledger is made only when the first is current), and both converge. */
static void
test_secrets_concurrent(void **state)
{
	struct fx *f = *state;
	struct probe p = { .f = f };

	api_set_cancel(f->api, probe, &p);
	run(f, RECONCILE_APPLY, NULL);
	assert_true(p.overlap);
	assert_int_equal(f->r.res.failed, 0);
	assert_int_equal(f->r.res.done[PLAN_CREATE], 2);
	assert_int_equal(ledger_current(state_ledger(f->st, "a"))->n, 1);
	assert_int_equal(ledger_current(state_ledger(f->st, "b"))->n, 1);
	assert_points_at(f, "A", 1);
	assert_points_at(f, "B", 1);
	run(f, RECONCILE_PLAN, NULL);
	assert_false(plan_has_changes(&f->r.plan));
	api_set_cancel(f->api, NULL, NULL);
}

/*
 * An interrupt while both Secrets are mid-rotation: no new call starts, so
 * each stops between two steps with what it did recorded; the state says
 * what the account holds (V1 where the ledger records it, no pointer unless
 * V1 is marked published), and one more apply converges without writing a
 * published version again.
 */
static void
test_secrets_interrupted(void **state)
{
	struct fx *f = *state;
	struct probe p = { .f = f, .stop_at_overlap = 1 };
	static const char *const names[2] = { "a", "b" }, *const bases[2] = { "A", "B" };
	char *seen[2];
	int published[2];

	api_set_cancel(f->api, probe, &p);
	run(f, RECONCILE_APPLY, NULL);
	assert_true(p.stopped);
	assert_true(f->r.res.failed >= 1);
	assert_int_equal(f->r.res.failed + f->r.res.done[PLAN_CREATE], 2);
	assert_false(f->r.res.state_error);
	for (int i = 0; i < 2; i++) {
		struct sec_version *v = ledger_find(state_ledger(f->st, names[i]), 1);
		char *vname = xasprintf("%s_V1", bases[i]), *pname = xasprintf("%s_VERSION", bases[i]);
		char *ptr = emu_value(f, pname);

		assert_non_null(v);
		seen[i] = emu_value(f, vname);
		/* recorded as written ⇔ written */
		assert_int_equal(v->ntargets == 1, seen[i] != NULL);
		published[i] = v->status == V_CURRENT || v->published;
		if (!published[i])
			assert_null(ptr); /* no pointer moved before the mark */
		free(ptr);
		free(vname);
		free(pname);
	}
	p.stop_at_overlap = 0;
	p.stopped = 0;
	run(f, RECONCILE_APPLY, NULL);
	assert_int_equal(f->r.res.failed, 0);
	for (int i = 0; i < 2; i++) {
		const struct sec_version *cur = ledger_current(state_ledger(f->st, names[i]));
		char *vname = xasprintf("%s_V1", bases[i]), *now;

		assert_non_null(cur);
		assert_points_at(f, bases[i], cur->n);
		now = emu_value(f, vname);
		if (published[i]) /* a version that may be pointed at is never rewritten */
			assert_string_equal(now, seen[i]);
		free(now);
		free(vname);
		free(seen[i]);
	}
	run(f, RECONCILE_PLAN, NULL);
	assert_false(plan_has_changes(&f->r.plan));
	api_set_cancel(f->api, NULL, NULL);
}

/* What the outcome hook heard. */
struct heard {
	size_t n, failed;
	enum kind kinds[8];
};

static void
hear(const struct plan_action *a, const char *failure, void *user)
{
	struct heard *h = user;

	if (h->n < sizeof(h->kinds) / sizeof(h->kinds[0]))
		h->kinds[h->n] = a->kind;
	h->n++;
	h->failed += failure != NULL;
}

/* apply tells the hook of each action once, as it completes: the bucket and
 * the namespace from their jobs, the Secret once the run's calls are done
 * (last); a plan pass tells nothing. */
static void
test_outcome_hook(void **state)
{
	struct fx *f = *state;
	struct reconcile_opts ro;
	struct heard h;
	struct err e;

	memset(&h, 0, sizeof(h));
	memset(&ro, 0, sizeof(ro));
	ro.mode = RECONCILE_PLAN;
	ro.plan.now = NOW;
	ro.on_outcome = hear;
	ro.outcome_user = &h;
	err_clear(&e);
	assert_int_equal(reconcile_pass(f->api, &f->set, f->st, &ro, &f->r, &e), ERR_OK);
	assert_int_equal(h.n, 0);
	reconcile_result_release(&f->r);
	ro.mode = RECONCILE_APPLY;
	assert_int_equal(reconcile_pass(f->api, &f->set, f->st, &ro, &f->r, &e), ERR_OK);
	assert_int_equal(f->r.res.failed, 0);
	assert_int_equal(h.n, 3);
	assert_int_equal(h.failed, 0);
	assert_int_equal(h.kinds[2], KIND_SECRET);
	assert_true((h.kinds[0] == KIND_R2BUCKET && h.kinds[1] == KIND_KVNAMESPACE) ||
	            (h.kinds[0] == KIND_KVNAMESPACE && h.kinds[1] == KIND_R2BUCKET));
}

/* ---- two D1 databases: their migrations are jobs of one apply machine ---- */

/* Migrations per database in the D1 tests. */
#define D1_NMIGS 4
static const char *const d1_names[2] = { "alpha", "beta" };

/* Writes FILE (relative to the test's folder) with the text. */
static void
put_file(struct fx *f, const char *rel, const char *text)
{
	char *path = xasprintf("%s/%s", f->dir, rel);
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
	free(path);
}

/* Two D1Databases, each with D1_NMIGS migrations in its own folder (each
 * creates table t<i> and writes a row), loaded from files as the CLI does;
 * every call delayed so that both databases' batches are in flight together. */
static int
setup_d1(void **state)
{
	struct fx *f = fx_new(TWO_LATENCY_MS);
	const char *paths[1];
	struct diags d;
	struct err e;
	char *yaml = xstrdup("");

	for (int k = 0; k < 2; k++) {
		char *dir = xasprintf("%s/%s", f->dir, d1_names[k]), *doc;

		assert_int_equal(mkdir(dir, 0700), 0);
		free(dir);
		for (int i = 1; i <= D1_NMIGS; i++) {
			char *rel = xasprintf("%s/000%d_t%d.sql", d1_names[k], i, i);
			char *sql = xasprintf("CREATE TABLE t%d (x);\nINSERT INTO t%d VALUES (%d);\n", i,
			                      i, i);

			put_file(f, rel, sql);
			free(rel);
			free(sql);
		}
		doc = xasprintf("%s%s" HDR "kind: D1Database\nmetadata: {name: %s}\nspec:\n"
		                "  migrations: {dir: %s}\n", yaml, k ? "---\n" : "", d1_names[k],
		                d1_names[k]);
		free(yaml);
		yaml = doc;
	}
	put_file(f, "d1.yaml", yaml);
	free(yaml);
	paths[0] = xasprintf("%s/d1.yaml", f->dir);
	diags_init(&d);
	err_clear(&e);
	assert_int_equal(manifest_load(paths, 1, &f->set, &d, &e), ERR_OK);
	assert_int_equal(d.n, 0);
	diags_release(&d);
	free((char *)paths[0]);
	*state = f;
	return 0;
}

/* The migrations the state records for database k (0 when none). */
static size_t
d1_recorded(const struct fx *f, int k)
{
	const struct inv_entry *x = state_find(f->st, KIND_D1DATABASE, d1_names[k]);

	return x ? x->nmigs : 0;
}

/* Database k is mid-way: some of its migrations recorded, not all. */
static int
d1_midway(const struct fx *f, int k)
{
	size_t n = d1_recorded(f, k);

	return n >= 1 && n < D1_NMIGS;
}

/* The api's cancel hook for the D1 tests (as probe() for the Secrets). */
static int
d1_probe(void *user)
{
	struct probe *p = user;

	if (d1_midway(p->f, 0) && d1_midway(p->f, 1)) {
		p->overlap = 1;
		if (p->stop_at_overlap)
			p->stopped = 1;
	}
	return p->stopped;
}

/* Runs `sql` (read-only) on database k through the API; the string values of
 * `column` in its rows, their count in *n (-1: the query failed). */
static char **
d1_select(struct fx *f, int k, const char *sql, const char *column, long *n)
{
	const struct inv_entry *x = state_find(f->st, KIND_D1DATABASE, d1_names[k]);
	struct api_d1_stmt st = { sql, strlen(sql), NULL, 0 };
	struct api_call *c;
	char **out = NULL;

	assert_non_null(x);
	c = api_op_d1_select(x->kv_id, &st);
	*n = api_call_sync(f->api, c) == ERR_OK ? api_d1_rows(c, 0, column, &out) : -1;
	api_call_free(c);
	return out;
}

static void
strv_free(char **v, long n)
{
	for (long i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/*
 * Database k as the account holds it agrees with the state: migration i's
 * row is in the table exactly when its table t<i> exists (applied and
 * recorded in one batch, or not at all), the rows are a prefix of the
 * files in order, and the state records exactly those. Returns how many.
 */
static size_t
d1_check(struct fx *f, int k)
{
	const struct inv_entry *x = state_find(f->st, KIND_D1DATABASE, d1_names[k]);
	long nrows, ntables;
	char **rows = d1_select(f, k, "SELECT name FROM d1_migrations ORDER BY id", "name", &nrows);
	char **tables = d1_select(f, k, "SELECT name FROM sqlite_master WHERE type = 'table' AND "
	                          "name GLOB 't[0-9]' ORDER BY name", "name", &ntables);

	if (nrows < 0)
		nrows = 0; /* no table yet: no migration */
	assert_int_equal(ntables, nrows);
	assert_int_equal(x->nmigs, (size_t)nrows);
	for (long i = 0; i < nrows; i++) {
		char want[64], table[32];

		snprintf(want, sizeof(want), "000%ld_t%ld.sql", i + 1, i + 1);
		snprintf(table, sizeof(table), "t%ld", i + 1);
		assert_string_equal(rows[i], want);
		assert_string_equal(tables[i], table);
		assert_string_equal(x->migs[i].name, want);
	}
	strv_free(rows, nrows);
	strv_free(tables, ntables);
	return (size_t)nrows;
}

/* One apply pass with the outcome hook. */
static void
run_heard(struct fx *f, struct heard *h)
{
	struct reconcile_opts ro;
	struct err e;

	reconcile_result_release(&f->r);
	memset(h, 0, sizeof(*h));
	memset(&ro, 0, sizeof(ro));
	ro.mode = RECONCILE_APPLY;
	ro.plan.now = NOW;
	ro.on_outcome = hear;
	ro.outcome_user = h;
	err_clear(&e);
	if (reconcile_pass(f->api, &f->set, f->st, &ro, &f->r, &e) != ERR_OK)
		fail_msg("reconcile_pass: %s", e.msg);
}

/* Two databases created and migrated in one apply: both are seen mid-way at
 * once (a run of one database after the other never shows that), both
 * converge with one batch per migration, the hook hears each once. */
static void
test_d1_concurrent(void **state)
{
	struct fx *f = *state;
	struct probe p = { .f = f };
	struct heard h;

	api_set_cancel(f->api, d1_probe, &p);
	run_heard(f, &h);
	assert_true(p.overlap);
	assert_int_equal(f->r.res.failed, 0);
	assert_int_equal(f->r.res.done[PLAN_CREATE], 2);
	assert_int_equal(h.n, 2);
	assert_int_equal(h.failed, 0);
	/* 2 creates + 2 x D1_NMIGS batches, no probe */
	assert_int_equal(f->r.writes, 2 + 2 * D1_NMIGS);
	for (int k = 0; k < 2; k++) {
		assert_int_equal(d1_check(f, k), D1_NMIGS);
		assert_string_equal(state_find(f->st, KIND_D1DATABASE, d1_names[k])->condition,
		                    "Ready");
	}
	run(f, RECONCILE_PLAN, NULL);
	assert_false(plan_has_changes(&f->r.plan));
	api_set_cancel(f->api, NULL, NULL);
}

/*
 * An interrupt while both databases are mid-way: no new call starts, so each
 * stops between two batches; every migration is applied and recorded (row,
 * table, state) or not at all, and the hook hears each database once. The
 * next pass applies the rest and the plan is clean.
 */
static void
test_d1_interrupted(void **state)
{
	struct fx *f = *state;
	struct probe p = { .f = f, .stop_at_overlap = 1 };
	struct heard h;
	size_t before[2];

	api_set_cancel(f->api, d1_probe, &p);
	run_heard(f, &h);
	assert_true(p.stopped);
	assert_true(f->r.res.failed >= 1);
	assert_int_equal(f->r.res.failed + f->r.res.done[PLAN_CREATE], 2);
	assert_false(f->r.res.state_error);
	assert_int_equal(h.n, 2);
	assert_int_equal(h.failed, f->r.res.failed);
	p.stop_at_overlap = 0;
	p.stopped = 0;
	for (int k = 0; k < 2; k++) {
		before[k] = d1_check(f, k);
		assert_true(before[k] >= 1);
	}
	assert_true(before[0] < D1_NMIGS || before[1] < D1_NMIGS);
	run(f, RECONCILE_PLAN, NULL);
	assert_true(plan_has_changes(&f->r.plan));
	run_heard(f, &h);
	assert_int_equal(f->r.res.failed, 0);
	/* the databases that stopped short, each told once */
	assert_int_equal(h.n, (before[0] < D1_NMIGS) + (before[1] < D1_NMIGS));
	assert_int_equal(h.failed, 0);
	for (int k = 0; k < 2; k++)
		assert_int_equal(d1_check(f, k), D1_NMIGS);
	/* each pending migration once, one batch each: nothing sent twice */
	assert_int_equal(f->r.writes, 2 * D1_NMIGS - before[0] - before[1]);
	run(f, RECONCILE_PLAN, NULL);
	assert_false(plan_has_changes(&f->r.plan));
	api_set_cancel(f->api, NULL, NULL);
}

/* The cancel hook of test_d1_save_fails: once a migration is recorded, every
 * later save of the state fails (as a full disk would); never cancels. */
static int
d1_save_breaks(void *user)
{
	struct probe *p = user;

	if (d1_recorded(p->f, 0) + d1_recorded(p->f, 1) >= 1)
		p->f->st->readonly = 1;
	return 0;
}

/* A batch applied whose record cannot be saved ends its database's run: no
 * later migration is sent (each database at most one batch past the failing
 * save), and each action fails saying so. */
static void
test_d1_save_fails(void **state)
{
	struct fx *f = *state;
	struct probe p = { .f = f };
	struct heard h;

	api_set_cancel(f->api, d1_save_breaks, &p);
	run_heard(f, &h);
	api_set_cancel(f->api, NULL, NULL);
	f->st->readonly = 0;
	assert_true(f->r.res.state_error);
	assert_int_equal(f->r.res.failed, 2);
	assert_int_equal(h.failed, 2);
	for (int k = 0; k < 2; k++)
		assert_true(d1_check(f, k) <= 2);
	for (size_t i = 0; i < f->r.res.nfailures; i++)
		assert_non_null(strstr(f->r.res.failures[i].msg, "the state could not be saved"));
}

/* The daemon's read share counts a POST that only reads (a D1 SELECT) as a
 * read, and a D1 write outside it: a GET, a SELECT and a write against a
 * share of 10. */
static void
test_read_share_counts_selects(void **state)
{
	struct fx *f = fx_new(0);
	static const struct api_d1_stmt sel = { "SELECT 1", 8, NULL, 0 };
	static const struct api_d1_stmt ins = { "CREATE TABLE t (x)", 18, NULL, 0 };
	const char *uuid = "00000000-0000-4000-8000-000000000000";
	struct api_call *c;
	unsigned room;

	(void)state;
	api_set_read_share(f->api, 10);
	room = api_read_room(f->api);
	assert_int_equal(room, 10);
	c = api_op_d1_get(uuid);
	(void)api_call_sync(f->api, c);
	api_call_free(c);
	assert_int_equal(api_read_room(f->api), room - 1);
	c = api_op_d1_select(uuid, &sel);
	(void)api_call_sync(f->api, c);
	api_call_free(c);
	assert_int_equal(api_read_room(f->api), room - 2);
	c = api_op_d1_query(uuid, &ins);
	(void)api_call_sync(f->api, c);
	api_call_free(c);
	assert_int_equal(api_read_room(f->api), room - 2);
	*state = f;
	assert_int_equal(teardown(state), 0);
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
		T(test_outcome_hook),
#undef T
		cmocka_unit_test_setup_teardown(test_secrets_concurrent, setup_two, teardown),
		cmocka_unit_test_setup_teardown(test_secrets_interrupted, setup_two, teardown),
		cmocka_unit_test_setup_teardown(test_d1_concurrent, setup_d1, teardown),
		cmocka_unit_test_setup_teardown(test_d1_interrupted, setup_d1, teardown),
		cmocka_unit_test_setup_teardown(test_d1_save_fails, setup_d1, teardown),
		cmocka_unit_test(test_read_share_counts_selects),
	};

	return cmocka_run_group_tests_name("reconcile", tests, NULL, NULL);
}
