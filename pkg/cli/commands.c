/*
 * The commands of cfstorage: each opens a session (pkg/session), runs one
 * reconcile pass or the daemon, reports (pkg/report) and maps the outcome to
 * an exit status. Flag parsing is cmd/cfstorage/main.c's.
 */
#include <signal.h>
#include <unistd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../daemon/daemon.h"
#include "../diag/diag.h"
#include "../export/export.h"
#include "../log/log.h"
#include "../mem/mem.h"
#include "../reconcile/reconcile.h"
#include "../report/report.h"
#include "../secret/secret.h"
#include "../session/session.h"
#include "../state/state_r2.h"
#include "cli.h"

/*
 * Prints "cfstorage: ..." and returns EXIT_ERROR, for one-line failures. The
 * message often quotes an API error or a path, so control characters in it
 * are made visible: it stays one line and cannot act on the terminal.
 */
int
cli_fail(const char *fmt, ...)
{
	va_list ap;
	struct buf b;

	buf_init(&b, (size_t)-1);
	buf_puts(&b, "cfstorage: ");
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	log_fputs_text(stderr, b.data);
	fputc('\n', stderr);
	buf_release(&b);
	return EXIT_ERROR;
}

/* Hands the --allow-path-root folders to a set before it is loaded. */
static int
allow_roots(const struct cli_opts *o, struct manifest_set *set)
{
	struct err e;

	err_clear(&e);
	for (size_t i = 0; i < o->npath_roots; i++)
		if (manifest_set_allow_root(set, o->path_roots[i], &e) != ERR_OK)
			return cli_fail("%s", e.msg);
	return EXIT_OK;
}

int
cli_cmd_validate(const struct cli_opts *o)
{
	struct manifest_set set;
	struct diags d;
	struct err e;
	int rc;

	if (o->nargs)
		return cli_fail("validate takes no arguments; use -f %.64s", o->args[0]);
	if (o->npaths == 0)
		return cli_fail("validate needs -f PATH (a file, a directory or '-')");
	manifest_set_init(&set);
	diags_init(&d);
	err_clear(&e);
	if ((rc = allow_roots(o, &set)) != EXIT_OK)
		goto out;
	if (manifest_load(o->paths, o->npaths, &set, &d, &e) != ERR_OK) {
		rc = cli_fail("%s", e.msg);
		goto out;
	}
	diags_sort(&d);
	if (set.nfiles == 0 && d.n == 0 && !o->allow_empty) {
		/* a typo in a folder name must not pass a CI check: nothing read is an error */
		rc = cli_fail("no manifests (*.yaml, *.yml) under %s%s; nothing was validated (use "
		              "--allow-empty if that is expected)", o->paths[0],
		              o->npaths > 1 ? " and the other paths" : "");
		rc = EXIT_INVALID;
		goto out;
	}
	if (o->json) {
		diags_print_json(&d, stdout);
	} else if (d.n) {
		diags_print_text(&d, stderr);
		fprintf(stderr, "%zu error%s\n", d.n + d.dropped, d.n + d.dropped == 1 ? "" : "s");
	} else if (!o->quiet) {
		size_t nd1 = manifest_count(&set, KIND_D1DATABASE);

		/* D1Database is counted only when present: older outputs stay the same */
		printf("ok: %zu resource%s in %zu file%s (%zu R2Bucket, %zu KVNamespace, "
		       "%zu Secret%s", set.n, set.n == 1 ? "" : "s", set.nfiles,
		       set.nfiles == 1 ? "" : "s", manifest_count(&set, KIND_R2BUCKET),
		       manifest_count(&set, KIND_KVNAMESPACE), manifest_count(&set, KIND_SECRET),
		       nd1 ? ", " : ")\n");
		if (nd1)
			printf("%zu D1Database)\n", nd1);
	}
	rc = d.n ? EXIT_INVALID : EXIT_OK;
out:
	diags_release(&d);
	manifest_set_free(&set);
	return rc;
}

/*
 * Opens what a command needs (pkg/session): the manifests are validated
 * before anything else, so an invalid set makes zero requests; their
 * diagnostics are printed here. EXIT_OK, EXIT_INVALID or EXIT_ERROR.
 */
int
cli_session_open(const struct cli_opts *o, struct session *c, int need_manifests, int need_api)
{
	struct session_config cfg;
	struct diags d;
	struct err e;
	int rc;

	memset(&cfg, 0, sizeof(cfg));
	cfg.paths = o->paths;
	cfg.npaths = o->npaths;
	cfg.need_manifests = need_manifests;
	cfg.path_roots = o->path_roots;
	cfg.npath_roots = o->npath_roots;
	cfg.state = o->state;
	cfg.no_state = o->cmd == CLI_EXPORT;
	cfg.lock = o->cmd == CLI_RUN ? 1 | STATE_STANDBY : 1;
	cfg.account_id = o->account_id;
	cfg.token_file = o->token_file;
	cfg.endpoint = o->endpoint;
	cfg.now = o->now;
	cfg.local = o->local;
	cfg.need_api = need_api;
	cfg.parallelism = o->parallelism;
	cfg.rate_n = o->rate_n;
	cfg.rate_secs = o->rate_secs;
	for (size_t i = 0; cli_commands[i].name; i++)
		if (cli_commands[i].cmd == o->cmd)
			cfg.command = cli_commands[i].name;
	diags_init(&d);
	err_clear(&e);
	rc = session_open(&cfg, c, &d, &e);
	if (rc == ERR_INVALID && d.n) {
		diags_sort(&d);
		diags_print_text(&d, stderr);
		fprintf(stderr, "%s\n", e.msg);
		rc = EXIT_INVALID;
	} else if (rc != ERR_OK) {
		rc = cli_fail("%s", e.msg);
	}
	diags_release(&d);
	return rc == ERR_OK ? EXIT_OK : (int)rc;
}

/* The state's own S3 requests (an r2:// state), counted apart from the
 * footer's API requests: R2's S3 API is not under the v4 API's budget. */
static void
report_s3(const struct cli_opts *o, const struct session *c)
{
	unsigned long n = state_s3_requests(c->st);

	if (n && !o->json && !o->markdown)
		printf("%lu R2 S3 request%s for the state (not under the API budget).\n", n,
		       n == 1 ? "" : "s");
}

/* The plan options every command shares. */
static struct plan_opts
plan_opts_of(const struct cli_opts *o, const struct session *c)
{
	struct plan_opts po;

	memset(&po, 0, sizeof(po));
	po.prune = o->prune;
	po.allow_empty = o->allow_empty;
	po.now = c->now;
	po.force = o->force;
	return po;
}

/* One reconcile pass; a failure to read the account is one line, exit 1. */
/*
 * Interrupts during a pass that may write: the first SIGINT or SIGTERM starts
 * no new call (pkg/api's cancel hook); calls in flight get their grace and
 * every outcome is recorded in the state as usual; the command then prints
 * what was done and exits 130 (143 for TERM). A second one exits at once:
 * the state is consistent after every recorded outcome (write-ahead,
 * atomic replace), so nothing is lost but the calls in flight.
 */
static volatile sig_atomic_t interrupted;

static void
on_interrupt(int sig)
{
	static const char msg[] = "\ncfstorage: interrupted: no new call starts; the calls in "
	                          "flight finish and are recorded (interrupt again to stop now)\n";

	if (interrupted)
		_exit(128 + sig);
	interrupted = sig;
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
		_exit(128 + sig);
}

/* The API's poll while calls run: no new call after an interrupt; it also
 * drives the progress line (live.c). */
static int
stop_requested(void *user)
{
	(void)user;
	cli_live_tick();
	return interrupted != 0;
}

static void
catch_interrupts(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_interrupt;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int
cli_pass(struct session *c, const struct reconcile_opts *ro, struct reconcile_result *r)
{
	struct err e;
	enum errcode rc;

	err_clear(&e);
	if (ro->mode == RECONCILE_APPLY)
		catch_interrupts();
	api_set_cancel(c->api, stop_requested, NULL);
	rc = reconcile_pass(c->api, &c->set, c->st, ro, r, &e);
	cli_live_end();
	if (rc == ERR_OK) {
		if (r->verified)
			log_info("values verified", "keys=%zu", r->verified);
		return EXIT_OK;
	}
	if (interrupted) {
		cli_fail("interrupted while reading the account: nothing was applied");
		return 128 + interrupted;
	}
	if (e.code == ERR_AUTH)
		return cli_fail("the API refused the token or account: %s", e.msg);
	if (e.code == ERR_TRANSIENT && c->endpoint)
		/* no answer at all: say which endpoint, and which setting chose it */
		return cli_fail("%s (endpoint %s, from %s)", e.msg, c->endpoint, c->endpoint_from);
	return cli_fail("%s", e.msg);
}

/* Exit status after an apply (Terraform's convention): 0 converged, 1 when
 * the state could not be saved or an action failed or was refused. */
int
cli_apply_exit(const struct reconcile_result *r)
{
	if (interrupted) {
		size_t done = 0;

		for (int op = 0; r->applied && op <= PLAN_ROTATE; op++)
			done += r->res.done[op];
		cli_fail("interrupted: %zu action%s done, %zu not done or not finished (see FAILED "
		         "above); the state records every finished call: run apply again to finish",
		         done, done == 1 ? "" : "s", r->applied ? r->res.failed : 0);
		return 128 + interrupted;
	}
	if (r->applied && r->res.state_error)
		return cli_fail("%s", r->res.state_err.msg);
	if ((r->applied && r->res.failed) || r->plan.counts[PLAN_REFUSE])
		return EXIT_ERROR;
	return EXIT_OK;
}

/*
 * Opens the session of a command that runs one pass (cli_session_open) and,
 * when it opened, sets j->ro to mode with the shared plan options. j is
 * zeroed first, so cli_job_close() is right on every path after this call.
 */
int
cli_job_open(struct cli_job *j, const struct cli_opts *o, enum reconcile_mode mode,
             int need_manifests, int need_api)
{
	int rc;

	memset(j, 0, sizeof(*j));
	j->rep.json = o->json;
	j->rep.verbose = o->verbose;
	j->rep.color = cli_color(STDOUT_FILENO, o);
	j->rep.quiet = o->quiet;
	j->rep.markdown = o->markdown;
	if ((rc = cli_session_open(o, &j->c, need_manifests, need_api)) != EXIT_OK)
		return rc;
	j->ro.mode = mode;
	j->ro.plan = plan_opts_of(o, &j->c);
	return EXIT_OK;
}

void
cli_job_report(const struct cli_job *j)
{
	report_plan(stdout, &j->r.plan, j->r.applied ? &j->r.res : NULL, api_get_stats(j->c.api),
	            &j->rep);
}

int
cli_job_close(struct cli_job *j, int rc)
{
	reconcile_result_release(&j->r);
	session_release(&j->c);
	return rc;
}

int
cli_cmd_plan_apply(const struct cli_opts *o, int apply)
{
	struct cli_job j;
	enum reconcile_mode mode = apply && !o->dry_run ? RECONCILE_APPLY : RECONCILE_PLAN;
	int rc;

	if (apply && o->nargs == 1)
		return cli_apply_saved(o, o->args[0]);
	if (o->nargs)
		return cli_fail("%s takes no arguments%s", apply ? "apply" : "plan",
		                apply ? " but a saved plan FILE" : "");
	if ((rc = cli_job_open(&j, o, mode, 1, 1)) != EXIT_OK)
		goto out;
	j.ro.verify_values = o->verify_values;
	cli_live_wire(o, j.c.api, &j.ro, 1);
	if ((rc = cli_pass(&j.c, &j.ro, &j.r)) != EXIT_OK)
		goto out;
	if (j.r.rejected) {
		/* the deletion question was declined: nothing was sent or saved */
		rc = interrupted ? 128 + interrupted
		                 : cli_fail("apply cancelled: nothing was changed");
		goto out;
	}
	cli_job_report(&j);
	report_s3(o, &j.c);
	if (mode == RECONCILE_PLAN && o->out && (rc = cli_plan_save(o->out, o, &j.c, &j.r)) != EXIT_OK)
		goto out;
	if (mode == RECONCILE_PLAN)
		rc = plan_has_changes(&j.r.plan) ? EXIT_CHANGES : EXIT_OK;
	else
		rc = cli_apply_exit(&j.r);
out:
	return cli_job_close(&j, rc);
}

/*
 * What `cfstorage run` with the same --rate-limit, --api-share and --interval
 * would state as its coverage period for these manifests at its start (the
 * daemon logs and exports the figure it keeps up to date).
 */
static void
status_coverage(const struct cli_opts *o, const struct manifest_set *set)
{
	unsigned n = o->rate_n ? o->rate_n : API_DEFAULT_RATE_N;
	unsigned secs = o->rate_secs ? o->rate_secs : API_DEFAULT_RATE_SECS;
	unsigned share = o->api_share ? o->api_share : DAEMON_DEFAULT_API_SHARE;
	int64_t iv = o->interval_ms ? o->interval_ms : DAEMON_DEFAULT_INTERVAL_MS;
	size_t parts;
	int64_t c = daemon_coverage_estimate(set, n, secs, share, iv, &parts);

	if (c < 0)
		printf("\nDrift coverage: unbounded: %u%% of %u/%u s does not cover the list reads "
		       "at --interval %llds\n", share, n, secs, (long long)(iv / 1000));
	else
		printf("\nDrift coverage: %zu part%s in rotation (lifecycles, CORS policies, key "
		       "listings, D1 replication modes and migration tables), each "
		       "read at least every %llds (cfstorage run --interval %llds, --api-share %u%% of "
		       "%u/%u s)\n", parts, parts == 1 ? "" : "s", (long long)((c + 999) / 1000),
		       (long long)(iv / 1000), share, n, secs);
}

/*
 * status [--rebuild]: the inventory and every Secret's versions; with -f the
 * account is read too (next rotation, what each target holds). --rebuild
 * builds the manifests' secret ledgers again from the account (after the
 * state was lost, or to accept that a version was lost) and saves them.
 */
int
cli_cmd_status(const struct cli_opts *o)
{
	struct cli_job j;
	const struct plan *p = &j.r.plan;
	int rc;

	if (o->rebuild && o->npaths == 0)
		return cli_fail("status --rebuild needs -f PATH: the manifests name the secrets and "
		            "their targets");
	if ((rc = cli_job_open(&j, o, o->rebuild ? RECONCILE_LEDGERS : RECONCILE_PLAN, 0,
	                       o->rebuild || o->npaths)) != EXIT_OK)
		goto out;
	if (o->npaths) {
		j.ro.rebuild_ledgers = o->rebuild;
		if ((rc = cli_pass(&j.c, &j.ro, &j.r)) != EXIT_OK)
			goto out;
		for (size_t i = 0; o->rebuild && i < p->n && rc == EXIT_OK; i++)
			if (p->v[i].kind == KIND_SECRET && p->v[i].op == PLAN_REFUSE)
				rc = cli_fail("Secret %s: %s", p->v[i].name, p->v[i].reason);
		if (rc == EXIT_OK && o->rebuild) {
			struct err e;

			err_clear(&e);
			if (state_save(j.c.st, &e) != ERR_OK)
				rc = cli_fail("%s", e.msg);
		}
		if (rc != EXIT_OK)
			goto out;
	}
	report_status(stdout, j.c.st, &j.c.set, o->npaths ? &j.r.snap : NULL, j.c.now, &j.rep);
	if (o->npaths && !o->json && !o->quiet)
		status_coverage(o, &j.c.set);
out:
	return cli_job_close(&j, rc);
}

/*
 * rotate NAME: a new version of one Secret now (refused when its current
 * version is less than a day old, unless --force), with the retain policy's
 * destroys. Nothing else in the manifests is touched.
 */
int
cli_cmd_rotate(const struct cli_opts *o)
{
	struct cli_job j;
	int rc;

	if (o->nargs != 1)
		return cli_fail("usage: cfstorage rotate NAME -f PATH [--force]");
	if ((rc = cli_job_open(&j, o, o->dry_run ? RECONCILE_PLAN : RECONCILE_APPLY, 1, 1)) != EXIT_OK)
		goto out;
	if (manifest_find(&j.c.set, KIND_SECRET, o->args[0]) == NULL) {
		rc = cli_fail("no Secret named '%.64s' in the manifests", o->args[0]);
		goto out;
	}
	j.ro.plan.rotate = j.ro.plan.only = o->args[0];
	j.ro.plan.only_kind = KIND_SECRET;
	j.ro.plan.prune = 0;
	cli_live_wire(o, j.c.api, &j.ro, 0);
	if ((rc = cli_pass(&j.c, &j.ro, &j.r)) != EXIT_OK)
		goto out;
	cli_job_report(&j);
	report_s3(o, &j.c);
	if (j.r.plan.counts[PLAN_REFUSE])
		rc = EXIT_ERROR;
	else if (o->dry_run)
		rc = EXIT_CHANGES;
	else
		rc = cli_apply_exit(&j.r);
out:
	return cli_job_close(&j, rc);
}

/*
 * import KIND NAME: adopts the existing Cloudflare resource that the manifest
 * named NAME describes, recording it in the inventory without changing it
 * (the next apply converges it). A Secret's ledger is recorded from the
 * account and its pointer marked as cfstorage's; no version is written.
 */
int
cli_cmd_import(const struct cli_opts *o)
{
	struct cli_job j;
	const struct apply_result *res = &j.r.res;
	struct resource *want;
	const struct plan_action *a;
	enum kind k;
	int rc;

	if (o->nargs != 2)
		return cli_fail("usage: cfstorage import KIND NAME -f PATH");
	if ((k = kind_parse(o->args[0])) == 0)
		return cli_fail("cannot import kind '%.32s' (R2Bucket, KVNamespace, Secret or D1Database)", o->args[0]);
	if ((rc = cli_job_open(&j, o, RECONCILE_APPLY, 1, 1)) != EXIT_OK)
		goto out;
	if ((want = (struct resource *)manifest_find(&j.c.set, k, o->args[1])) == NULL) {
		rc = cli_fail("no %s named '%.64s' in the manifests", o->args[0], o->args[1]);
		goto out;
	}
	want->adopt = 1; /* the command's own meaning of the manifest: take it over */
	j.ro.plan.only_kind = k;
	j.ro.plan.only = o->args[1];
	j.ro.plan.adopt_only = 1;
	j.ro.plan.prune = 0;
	if ((rc = cli_pass(&j.c, &j.ro, &j.r)) != EXIT_OK)
		goto out;
	a = j.r.plan.n ? &j.r.plan.v[0] : NULL;
	if (a == NULL || a->op == PLAN_REFUSE)
		rc = cli_fail("%s %s: %s", o->args[0], o->args[1], a ? a->reason : "not planned");
	else if (j.r.applied && (res->failed || res->state_error))
		rc = cli_fail("import failed: %s", res->state_error ? res->state_err.msg
		                                                   : res->failures[0].msg);
	else if (a->op == PLAN_NOOP && !a->ledger)
		printf("%s %s is already owned by cfstorage\n", o->args[0], o->args[1]);
	else
		printf("imported %s %s; run 'cfstorage plan' to see what apply would change\n",
		       o->args[0], o->args[1]);
out:
	return cli_job_close(&j, rc);
}


/* export: manifests for what the account holds (pkg/export). */
int
cli_cmd_export(const struct cli_opts *o)
{
	struct session c;
	struct export_opts eo;
	struct err e;
	int rc;

	if (o->nargs)
		return cli_fail("export takes no arguments");
	memset(&eo, 0, sizeof(eo));
	if (o->kind) {
		if (strcmp(o->kind, "R2Bucket") == 0)
			eo.kind = KIND_R2BUCKET;
		else if (strcmp(o->kind, "KVNamespace") == 0)
			eo.kind = KIND_KVNAMESPACE;
		else if (kind_parse(o->kind))
			eo.kind = kind_parse(o->kind);
		else
			return cli_fail("--kind must be R2Bucket, KVNamespace, Secret or D1Database");
	}
	if (o->with_entries && o->dir == NULL)
		return cli_fail("--with-entries needs --dir DIR (values may be written to files)");
	if (o->json)
		return cli_fail("export writes YAML (-o yaml)");
	if ((rc = cli_session_open(o, &c, 0, 1)) != EXIT_OK)
		goto out;
	eo.out_dir = o->dir;
	eo.with_entries = o->with_entries;
	eo.force = o->force;
	eo.out = stdout;
	err_clear(&e);
	if (export_run(c.api, &eo, &e) != ERR_OK)
		rc = cli_fail("%s", e.msg);
out:
	session_release(&c);
	return rc;
}

/*
 * run: the daemon. The manifests must be valid to start (exit 3 otherwise);
 * later invalid edits are reported and the last good set is kept.
 */
int
cli_cmd_run(const struct cli_opts *o)
{
	struct session c;
	struct daemon_opts d;
	struct err e;
	sigset_t mask;
	int rc;

	/* before any thread exists (the embedded emulator's, curl's), so that
	 * every thread inherits the mask and the loop's signalfd gets them all */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	if ((rc = cli_session_open(o, &c, 1, 1)) != EXIT_OK)
		goto out;
	secret_no_core_dumps();
	memset(&d, 0, sizeof(d));
	d.paths = o->paths;
	d.npaths = o->npaths;
	d.path_roots = o->path_roots;
	d.npath_roots = o->npath_roots;
	d.interval_ms = o->interval_ms ? o->interval_ms : DAEMON_DEFAULT_INTERVAL_MS;
	d.listen = o->listen ? o->listen : DAEMON_DEFAULT_LISTEN;
	d.now_offset = o->now ? c.now - (int64_t)time(NULL) : 0;
	d.prune = o->prune;
	d.allow_empty = o->allow_empty;
	d.api_share = o->api_share ? o->api_share : DAEMON_DEFAULT_API_SHARE;
	d.observe_all = o->observe_all;
	err_clear(&e);
	if (daemon_run(&d, &c.set, c.st, c.api, &e) != 0)
		rc = cli_fail("%s", e.msg);
out:
	session_release(&c);
	return rc;
}
