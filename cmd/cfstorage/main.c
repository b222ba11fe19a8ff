/*
 * cfstorage: the command line (shared/DESIGN.md §9). Parses flags, wires the
 * modules together and maps outcomes to exit codes; no logic of its own.
 *
 * Exit codes: 0 ok / no changes, 1 error (bad flag, I/O, API), 2 changes
 * pending or partially applied, 3 invalid manifests.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../pkg/api/api.h"
#include "../../pkg/apply/apply.h"
#include "../../pkg/daemon/daemon.h"
#include "../../pkg/diag/diag.h"
#include "../../pkg/emu/emu.h"
#include "../../pkg/export/export.h"
#include "../../pkg/log/log.h"
#include "../../pkg/manifest/manifest.h"
#include "../../pkg/mem/mem.h"
#include "../../pkg/observe/observe.h"
#include "../../pkg/plan/plan.h"
#include "../../pkg/reconcile/reconcile.h"
#include "../../pkg/session/session.h"
#include "../../pkg/report/report.h"
#include "../../pkg/secret/secret.h"
#include "../../pkg/state/state.h"
#include "../../pkg/timefmt/timefmt.h"

#ifndef CFS_VERSION
#define CFS_VERSION "dev"
#endif

#define EXIT_OK 0
#define EXIT_ERROR 1
#define EXIT_CHANGES 2
#define EXIT_INVALID 3

/* Most -f paths on one command line. */
#define MAX_PATHS 256

enum cmd { CMD_NONE, CMD_VALIDATE, CMD_PLAN, CMD_APPLY, CMD_RUN, CMD_ROTATE, CMD_STATUS,
	   CMD_IMPORT, CMD_EXPORT };

struct opts {
	enum cmd cmd;
	const char *paths[MAX_PATHS];
	size_t npaths;
	int json;
	int quiet, verbose;
	int help;
	const char *state, *account_id, *token_file, *endpoint, *now;
	int local;
	int prune, allow_empty, dry_run, force, rebuild, verify_values, with_entries;
	const char *dir, *kind;
	int64_t interval_ms;
	const char *listen, *log_format, *log_level;
	const char *path_roots[MANIFEST_MAX_PATH_ROOTS]; /* --allow-path-root */
	size_t npath_roots;
	unsigned parallelism, rate_n, rate_secs;
	char **args;
	size_t nargs;
};

static const struct {
	const char *name;
	enum cmd cmd;
	const char *summary;
} commands[] = {
	{ "validate", CMD_VALIDATE, "check manifests; print file:line:col: message for each mistake" },
	{ "plan", CMD_PLAN, "show what apply would change (exit 2 when there are changes)" },
	{ "apply", CMD_APPLY, "converge the account to the manifests" },
	{ "run", CMD_RUN, "reconcile forever: drift repair, rotation, probes, metrics" },
	{ "rotate", CMD_ROTATE, "rotate one Secret now" },
	{ "status", CMD_STATUS, "inventory, conditions, secret versions, next rotation" },
	{ "import", CMD_IMPORT, "adopt an existing resource into the inventory" },
	{ "export", CMD_EXPORT, "write manifests (adopt: true) for what the account holds" },
};

static void
usage(FILE *out)
{
	fprintf(out,
	        "usage: cfstorage COMMAND [flags]\n"
	        "\n"
	        "Keeps a Cloudflare account's R2 buckets, Workers KV namespaces and rotating\n"
	        "secrets in the state that YAML manifests declare.\n"
	        "\n"
	        "Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].summary);
	fprintf(out,
	        "\n"
	        "Global flags:\n"
	        "  --state PATH           state file (default .cfstorage/state.json)\n"
	        "  --account-id ID        Cloudflare account (or CLOUDFLARE_ACCOUNT_ID)\n"
	        "  --api-token-file FILE  file holding the API token (or CLOUDFLARE_API_TOKEN)\n"
	        "  --endpoint URL         API base URL (or CLOUDFLARE_API_BASE_URL)\n"
	        "  --local                use the embedded emulator (state under .cfstorage/local)\n"
	        "  --now RFC3339          evaluate schedules as if it were that time\n"
	        "  --allow-path-root DIR  manifests may also name files under DIR (repeatable);\n"
	        "                         otherwise valueFrom.file stays in its manifest's folder\n"
	        "  -v, --verbose          more detail;  -q, --quiet  less\n"
	        "  -h, --help             help for any command;  --version\n"
	        "\n"
	        "A token is never accepted as a command-line argument.\n"
	        "Run 'cfstorage COMMAND --help' for a command's own flags.\n");
}

static void
usage_validate(FILE *out)
{
	fprintf(out,
	        "usage: cfstorage validate -f PATH... [-o text|json] [-q]\n"
	        "\n"
	        "Checks manifests without contacting Cloudflare. PATH is a file, a directory\n"
	        "(every *.yaml and *.yml below it, in sorted order; names starting with '.'\n"
	        "are skipped) or '-' for standard input. Every mistake in every file is\n"
	        "reported, sorted by file and position, as file:line:col: message.\n"
	        "\n"
	        "  -f, --filename PATH    manifests to read (repeatable)\n"
	        "  -o, --output FORMAT    text (default) or json: [{file,line,col,message}]\n"
	        "  -q, --quiet            print nothing when the manifests are valid\n"
	        "  --allow-path-root DIR  valueFrom.file may also name files under DIR; without\n"
	        "                         it a file must be inside its manifest's folder (the\n"
	        "                         current folder for '-'): no absolute path, no '..' out,\n"
	        "                         no symlink out\n"
	        "\n"
	        "Exit status: 0 valid, 3 invalid, 1 when a path cannot be read.\n");
}

/* The own flags of each command that talks to the API (validate has its own). */
static void
usage_cmd(enum cmd cmd, FILE *out)
{
	switch (cmd) {
	case CMD_PLAN:
		fprintf(out, "usage: cfstorage plan -f PATH... [--prune] [--allow-empty] [-o text|json]\n\n"
		        "Shows what apply would change: + create, ~ update, - delete, = adopt,\n"
		        "! refused, · forget, ↻ rotate. Exit 0 no changes, 2 changes, 1 error,\n"
		        "3 invalid manifests (nothing is sent).\n");
		break;
	case CMD_APPLY:
		fprintf(out, "usage: cfstorage apply -f PATH... [--dry-run] [--prune] [--allow-empty]\n"
		        "                       [--parallelism N] [--rate-limit N/SECONDS] [--verify-values]\n"
		        "                       [-o text|json]\n\n"
		        "Converges the account. --prune deletes owned resources that left the\n"
		        "manifests when their deletionPolicy is Delete (never an empty set without\n"
		        "--allow-empty). --verify-values also reads every declared KV value (one\n"
		        "request each) instead of trusting the content hash in the key listing.\n"
		        "Exit 0 converged, 2 something failed or was refused.\n");
		break;
	case CMD_RUN:
		fprintf(out, "usage: cfstorage run -f PATH... [--interval DUR] [--listen ADDR]\n"
		        "                     [--log-format logfmt|json] [--log-level LEVEL] [--prune]\n\n"
		        "Reconciles forever: at start, on manifest changes, every --interval\n"
		        "(default 5m), when a rotation falls due, on SIGHUP. Serves /healthz,\n"
		        "/readyz and /metrics on --listen (default 127.0.0.1:9464; 'off' disables).\n"
		        "SIGTERM finishes in-flight requests, saves the state and exits 0.\n");
		break;
	case CMD_ROTATE:
		fprintf(out, "usage: cfstorage rotate NAME -f PATH... [--force] [--dry-run]\n\n"
		        "Writes a new version of the Secret NAME now and applies its retain policy.\n"
		        "--force is needed when the current version is less than a day old.\n");
		break;
	case CMD_STATUS:
		fprintf(out, "usage: cfstorage status [-f PATH...] [--rebuild] [-o text|json] [-v]\n\n"
		        "The inventory, conditions and every Secret's versions. With -f it also\n"
		        "reads the account: the next rotation, and what each Secret's targets hold\n"
		        "beside the ledger (versions present or missing, pointer, alias, names\n"
		        "without cfstorage's mark). -v shows destroyed versions too. --rebuild\n"
		        "-f PATH rebuilds the manifests' secret ledgers from the account (after a\n"
		        "lost state, or to accept that a retained version was lost).\n");
		break;
	case CMD_EXPORT:
		fprintf(out, "usage: cfstorage export [--dir DIR] [--kind KIND] [--with-entries] [-o yaml]\n\n"
		        "Writes manifests for every bucket (with lifecycle and CORS), KV namespace\n"
		        "(with --with-entries, its keys; values that are not short text go to files\n"
		        "under DIR/data/) and Secrets Store secret (as a comment: values cannot be\n"
		        "read). Every resource carries adopt: true, so plan shows adopts only.\n"
		        "Without --dir, YAML goes to standard output.\n");
		break;
	case CMD_IMPORT:
		fprintf(out, "usage: cfstorage import KIND NAME -f PATH...\n\n"
		        "Adopts the existing resource that the manifest named NAME describes\n"
		        "(KIND is R2Bucket, KVNamespace or Secret) without changing it. A Secret's\n"
		        "versions are recorded from the account and its pointer is marked as\n"
		        "cfstorage's; no version is written.\n");
		break;
	default:
		usage(out);
		return;
	}
	fprintf(out, "\nGlobal flags (see cfstorage --help): --state, --account-id, --api-token-file,\n"
	        "--endpoint, --local, --now, --allow-path-root, -v, -q.\n");
}

/*
 * Prints "cfstorage: ..." and returns EXIT_ERROR, for one-line failures. The
 * message often quotes an API error or a path, so control characters in it
 * are made visible: it stays one line and cannot act on the terminal.
 */
static int
fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
fail(const char *fmt, ...)
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

/* The flag's name without any "=value", so a mistyped secret is never echoed. */
static void
flag_name(const char *arg, char *out, size_t len)
{
	size_t n = strcspn(arg, "=");

	snprintf(out, len, "%.*s", (int)(n < 64 ? n : 64), arg);
}

enum { OPT_STATE = 256, OPT_ACCOUNT, OPT_TOKEN_FILE, OPT_ENDPOINT, OPT_LOCAL, OPT_NOW,
       OPT_VERSION, OPT_TOKEN, OPT_PRUNE, OPT_ALLOW_EMPTY, OPT_DRY_RUN, OPT_PARALLELISM,
       OPT_RATE_LIMIT, OPT_FORCE, OPT_REBUILD, OPT_INTERVAL, OPT_LISTEN, OPT_LOG_FORMAT,
       OPT_LOG_LEVEL, OPT_VERIFY_VALUES, OPT_DIR, OPT_KIND, OPT_WITH_ENTRIES,
       OPT_ALLOW_PATH_ROOT };

/* "500ms", "2s", "5m", "1h" -> milliseconds; -1 when malformed. */
static int64_t
parse_duration(const char *s)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || v <= 0 || v > 100000000)
		return -1;
	if (strcmp(end, "ms") == 0)
		return v;
	if (strcmp(end, "s") == 0 || *end == '\0')
		return v * 1000;
	if (strcmp(end, "m") == 0)
		return v * 60000;
	if (strcmp(end, "h") == 0)
		return v * 3600000;
	return -1;
}

/* "N/SECONDS" with both positive. */
static int
parse_rate(const char *s, unsigned *n, unsigned *secs)
{
	char *end;
	long a, b;

	errno = 0;
	a = strtol(s, &end, 10);
	if (errno || end == s || *end != '/' || a < 1 || a > 1000000)
		return -1;
	s = end + 1;
	b = strtol(s, &end, 10);
	if (errno || end == s || *end != '\0' || b < 1 || b > 86400)
		return -1;
	*n = (unsigned)a;
	*secs = (unsigned)b;
	return 0;
}

static int
parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "filename", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "state", required_argument, NULL, OPT_STATE },
		{ "account-id", required_argument, NULL, OPT_ACCOUNT },
		{ "api-token-file", required_argument, NULL, OPT_TOKEN_FILE },
		{ "endpoint", required_argument, NULL, OPT_ENDPOINT },
		{ "local", no_argument, NULL, OPT_LOCAL },
		{ "now", required_argument, NULL, OPT_NOW },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "api-token", optional_argument, NULL, OPT_TOKEN },
		{ "token", optional_argument, NULL, OPT_TOKEN },
		{ "prune", no_argument, NULL, OPT_PRUNE },
		{ "allow-empty", no_argument, NULL, OPT_ALLOW_EMPTY },
		{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
		{ "parallelism", required_argument, NULL, OPT_PARALLELISM },
		{ "rate-limit", required_argument, NULL, OPT_RATE_LIMIT },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "rebuild", no_argument, NULL, OPT_REBUILD },
		{ "verify-values", no_argument, NULL, OPT_VERIFY_VALUES },
		{ "dir", required_argument, NULL, OPT_DIR },
		{ "kind", required_argument, NULL, OPT_KIND },
		{ "with-entries", no_argument, NULL, OPT_WITH_ENTRIES },
		{ "interval", required_argument, NULL, OPT_INTERVAL },
		{ "listen", required_argument, NULL, OPT_LISTEN },
		{ "log-format", required_argument, NULL, OPT_LOG_FORMAT },
		{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
		{ "allow-path-root", required_argument, NULL, OPT_ALLOW_PATH_ROOT },
		{ NULL, 0, NULL, 0 },
	};
	int c, idx;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":f:o:qvh", longopts, &idx)) != -1) {
		char name[80];

		switch (c) {
		case 'f':
			if (o->npaths == MAX_PATHS)
				return fail("too many -f paths (at most %d)", MAX_PATHS);
			o->paths[o->npaths++] = optarg;
			break;
		case 'o':
			if (strcmp(optarg, "json") == 0)
				o->json = 1;
			else if (strcmp(optarg, "text") == 0 || strcmp(optarg, "yaml") == 0)
				o->json = 0;
			else
				return fail("unknown output format '%.32s' (use text, json or yaml)", optarg);
			break;
		case 'q': o->quiet = 1; break;
		case 'v': o->verbose++; break;
		case 'h': o->help = 1; break;
		case OPT_STATE: o->state = optarg; break;
		case OPT_ACCOUNT: o->account_id = optarg; break;
		case OPT_TOKEN_FILE: o->token_file = optarg; break;
		case OPT_ENDPOINT: o->endpoint = optarg; break;
		case OPT_LOCAL: o->local = 1; break;
		case OPT_NOW: o->now = optarg; break;
		case OPT_PRUNE: o->prune = 1; break;
		case OPT_ALLOW_EMPTY: o->allow_empty = 1; break;
		case OPT_DRY_RUN: o->dry_run = 1; break;
		case OPT_FORCE: o->force = 1; break;
		case OPT_REBUILD: o->rebuild = 1; break;
		case OPT_VERIFY_VALUES: o->verify_values = 1; break;
		case OPT_DIR: o->dir = optarg; break;
		case OPT_KIND: o->kind = optarg; break;
		case OPT_WITH_ENTRIES: o->with_entries = 1; break;
		case OPT_INTERVAL:
			if ((o->interval_ms = parse_duration(optarg)) < 100)
				return fail("--interval must be a duration such as 30s, 5m or 1h (at least 100ms)");
			break;
		case OPT_LISTEN: o->listen = optarg; break;
		case OPT_ALLOW_PATH_ROOT:
			if (o->npath_roots == MANIFEST_MAX_PATH_ROOTS)
				return fail("too many --allow-path-root folders (at most %d)",
				            MANIFEST_MAX_PATH_ROOTS);
			o->path_roots[o->npath_roots++] = optarg;
			break;
		case OPT_LOG_FORMAT:
			if (strcmp(optarg, "json") != 0 && strcmp(optarg, "logfmt") != 0)
				return fail("--log-format must be json or logfmt");
			o->log_format = optarg;
			break;
		case OPT_LOG_LEVEL: {
			enum log_level lv;

			if (log_parse_level(optarg, &lv) != 0)
				return fail("--log-level must be debug, info, warn, error or off");
			o->log_level = optarg;
			break;
		}
		case OPT_PARALLELISM: {
			char *end;
			long v;

			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || v < 1 || v > API_MAX_PARALLELISM)
				return fail("--parallelism must be 1..%d", API_MAX_PARALLELISM);
			o->parallelism = (unsigned)v;
			break;
		}
		case OPT_RATE_LIMIT:
			if (parse_rate(optarg, &o->rate_n, &o->rate_secs) != 0)
				return fail("--rate-limit must be N/SECONDS, e.g. 1200/300");
			break;
		case OPT_VERSION:
			printf("cfstorage %s\n", CFS_VERSION);
			exit(EXIT_OK);
		case OPT_TOKEN:
			return fail("a token is never accepted on the command line; use "
			            "CLOUDFLARE_API_TOKEN or --api-token-file FILE");
		case ':':
			flag_name(argv[optind - 1], name, sizeof(name));
			return fail("flag '%s' needs a value", name);
		default:
			flag_name(optopt ? (char[]){ '-', (char)optopt, 0 } : argv[optind - 1],
			          name, sizeof(name));
			return fail("unknown flag '%s' (see cfstorage --help)", name);
		}
	}
	for (int i = optind; i < argc; i++) {
		if (o->cmd == CMD_NONE) {
			for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
				if (strcmp(argv[i], commands[k].name) == 0)
					o->cmd = commands[k].cmd;
			if (o->cmd == CMD_NONE)
				return fail("unknown command '%.64s' (see cfstorage --help)", argv[i]);
			continue;
		}
		o->args = argv + i;
		o->nargs = (size_t)(argc - i);
		break;
	}
	return EXIT_OK;
}

/* Hands the --allow-path-root folders to a set before it is loaded. */
static int
allow_roots(const struct opts *o, struct manifest_set *set)
{
	struct err e;

	err_clear(&e);
	for (size_t i = 0; i < o->npath_roots; i++)
		if (manifest_set_allow_root(set, o->path_roots[i], &e) != ERR_OK)
			return fail("%s", e.msg);
	return EXIT_OK;
}

static int
cmd_validate(const struct opts *o)
{
	struct manifest_set set;
	struct diags d;
	struct err e;
	int rc;

	if (o->nargs)
		return fail("validate takes no arguments; use -f %.64s", o->args[0]);
	if (o->npaths == 0)
		return fail("validate needs -f PATH (a file, a directory or '-')");
	manifest_set_init(&set);
	diags_init(&d);
	err_clear(&e);
	if ((rc = allow_roots(o, &set)) != EXIT_OK)
		goto out;
	if (manifest_load(o->paths, o->npaths, &set, &d, &e) != ERR_OK) {
		rc = fail("%s", e.msg);
		goto out;
	}
	diags_sort(&d);
	if (o->json) {
		diags_print_json(&d, stdout);
	} else if (d.n) {
		diags_print_text(&d, stderr);
		fprintf(stderr, "%zu error%s\n", d.n + d.dropped, d.n + d.dropped == 1 ? "" : "s");
	} else if (!o->quiet) {
		printf("ok: %zu resource%s in %zu file%s (%zu R2Bucket, %zu KVNamespace, "
		       "%zu Secret)\n", set.n, set.n == 1 ? "" : "s", set.nfiles,
		       set.nfiles == 1 ? "" : "s", manifest_count(&set, KIND_R2BUCKET),
		       manifest_count(&set, KIND_KVNAMESPACE), manifest_count(&set, KIND_SECRET));
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
static int
ctx_open(const struct opts *o, struct session *c, int need_manifests, int need_api)
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
	cfg.no_state = o->cmd == CMD_EXPORT;
	cfg.lock = o->cmd == CMD_RUN ? 1 | STATE_STANDBY : 1;
	cfg.account_id = o->account_id;
	cfg.token_file = o->token_file;
	cfg.endpoint = o->endpoint;
	cfg.now = o->now;
	cfg.local = o->local;
	cfg.need_api = need_api;
	cfg.parallelism = o->parallelism;
	cfg.rate_n = o->rate_n;
	cfg.rate_secs = o->rate_secs;
	diags_init(&d);
	err_clear(&e);
	rc = session_open(&cfg, c, &d, &e);
	if (rc == ERR_INVALID && d.n) {
		diags_sort(&d);
		diags_print_text(&d, stderr);
		fprintf(stderr, "%s\n", e.msg);
		rc = EXIT_INVALID;
	} else if (rc != ERR_OK) {
		rc = fail("%s", e.msg);
	}
	diags_release(&d);
	return rc == ERR_OK ? EXIT_OK : (int)rc;
}

/* The plan options every command shares. */
static struct plan_opts
plan_opts_of(const struct opts *o, const struct session *c)
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
static int
pass(struct session *c, const struct reconcile_opts *ro, struct reconcile_result *r)
{
	struct err e;

	err_clear(&e);
	if (reconcile_pass(c->api, &c->set, c->st, ro, r, &e) == ERR_OK) {
		if (r->verified)
			log_info("values verified", "keys=%zu", r->verified);
		return EXIT_OK;
	}
	if (e.code == ERR_AUTH)
		return fail("the API refused the token or account: %s", e.msg);
	return fail("%s", e.msg);
}

/* Exit status after an apply: a state that could not be saved is an error;
 * a failed or refused action leaves changes pending. */
static int
apply_exit(const struct reconcile_result *r)
{
	if (r->applied && r->res.state_error)
		return fail("%s", r->res.state_err.msg);
	if ((r->applied && r->res.failed) || r->plan.counts[PLAN_REFUSE])
		return EXIT_CHANGES;
	return EXIT_OK;
}

static int
cmd_plan_apply(const struct opts *o, int apply)
{
	struct session c;
	struct reconcile_opts ro;
	struct reconcile_result r;
	struct report_opts rep = { o->json, o->verbose, 0 };
	int rc;

	memset(&r, 0, sizeof(r));
	if ((rc = ctx_open(o, &c, 1, 1)) != EXIT_OK)
		goto out;
	memset(&ro, 0, sizeof(ro));
	ro.mode = apply && !o->dry_run ? RECONCILE_APPLY : RECONCILE_PLAN;
	ro.plan = plan_opts_of(o, &c);
	ro.verify_values = o->verify_values;
	if ((rc = pass(&c, &ro, &r)) != EXIT_OK)
		goto out;
	report_plan(stdout, &r.plan, r.applied ? &r.res : NULL, api_get_stats(c.api), &rep);
	if (ro.mode == RECONCILE_PLAN)
		rc = plan_has_changes(&r.plan) ? EXIT_CHANGES : EXIT_OK;
	else
		rc = apply_exit(&r);
out:
	reconcile_result_release(&r);
	session_release(&c);
	return rc;
}

/*
 * status [--rebuild]: the inventory and every Secret's versions; with -f the
 * account is read too (next rotation, what each target holds). --rebuild
 * builds the manifests' secret ledgers again from the account (after the
 * state was lost, or to accept that a version was lost) and saves them.
 */
static int
cmd_status(const struct opts *o)
{
	struct session c;
	struct reconcile_opts ro;
	struct reconcile_result r;
	struct report_opts rep = { o->json, o->verbose, 0 };
	int rc;

	memset(&r, 0, sizeof(r));
	if (o->rebuild && o->npaths == 0)
		return fail("status --rebuild needs -f PATH: the manifests name the secrets and "
		            "their targets");
	if ((rc = ctx_open(o, &c, 0, o->rebuild || o->npaths)) != EXIT_OK)
		goto out;
	if (o->npaths) {
		memset(&ro, 0, sizeof(ro));
		ro.mode = o->rebuild ? RECONCILE_LEDGERS : RECONCILE_PLAN;
		ro.rebuild_ledgers = o->rebuild;
		ro.plan = plan_opts_of(o, &c);
		if ((rc = pass(&c, &ro, &r)) != EXIT_OK)
			goto out;
		for (size_t i = 0; o->rebuild && i < r.plan.n && rc == EXIT_OK; i++)
			if (r.plan.v[i].kind == KIND_SECRET && r.plan.v[i].op == PLAN_REFUSE)
				rc = fail("Secret %s: %s", r.plan.v[i].name, r.plan.v[i].reason);
		if (rc == EXIT_OK && o->rebuild) {
			struct err e;

			err_clear(&e);
			if (state_save(c.st, &e) != ERR_OK)
				rc = fail("%s", e.msg);
		}
		if (rc != EXIT_OK)
			goto out;
	}
	report_status(stdout, c.st, &c.set, o->npaths ? &r.snap : NULL, c.now, &rep);
out:
	reconcile_result_release(&r);
	session_release(&c);
	return rc;
}

/*
 * rotate NAME: a new version of one Secret now (refused when its current
 * version is less than a day old, unless --force), with the retain policy's
 * destroys. Nothing else in the manifests is touched.
 */
static int
cmd_rotate(const struct opts *o)
{
	struct session c;
	struct reconcile_opts ro;
	struct reconcile_result r;
	struct report_opts rep = { o->json, o->verbose, 0 };
	int rc;

	memset(&r, 0, sizeof(r));
	if (o->nargs != 1)
		return fail("usage: cfstorage rotate NAME -f PATH [--force]");
	if ((rc = ctx_open(o, &c, 1, 1)) != EXIT_OK)
		goto out;
	if (manifest_find(&c.set, KIND_SECRET, o->args[0]) == NULL) {
		rc = fail("no Secret named '%.64s' in the manifests", o->args[0]);
		goto out;
	}
	memset(&ro, 0, sizeof(ro));
	ro.mode = o->dry_run ? RECONCILE_PLAN : RECONCILE_APPLY;
	ro.plan = plan_opts_of(o, &c);
	ro.plan.rotate = ro.plan.only = o->args[0];
	ro.plan.only_kind = KIND_SECRET;
	ro.plan.prune = 0;
	if ((rc = pass(&c, &ro, &r)) != EXIT_OK)
		goto out;
	report_plan(stdout, &r.plan, r.applied ? &r.res : NULL, api_get_stats(c.api), &rep);
	if (r.plan.counts[PLAN_REFUSE])
		rc = EXIT_ERROR;
	else if (o->dry_run)
		rc = EXIT_CHANGES;
	else
		rc = apply_exit(&r);
out:
	reconcile_result_release(&r);
	session_release(&c);
	return rc;
}

/*
 * import KIND NAME: adopts the existing Cloudflare resource that the manifest
 * named NAME describes, recording it in the inventory without changing it
 * (the next apply converges it). A Secret's ledger is recorded from the
 * account and its pointer marked as cfstorage's; no version is written.
 */
static int
cmd_import(const struct opts *o)
{
	struct session c;
	struct reconcile_opts ro;
	struct reconcile_result r;
	struct resource *want;
	const struct plan_action *a;
	enum kind k;
	int rc;

	memset(&r, 0, sizeof(r));
	if (o->nargs != 2)
		return fail("usage: cfstorage import KIND NAME -f PATH");
	if ((k = kind_parse(o->args[0])) == 0)
		return fail("cannot import kind '%.32s' (R2Bucket, KVNamespace or Secret)", o->args[0]);
	if ((rc = ctx_open(o, &c, 1, 1)) != EXIT_OK)
		goto out;
	if ((want = (struct resource *)manifest_find(&c.set, k, o->args[1])) == NULL) {
		rc = fail("no %s named '%.64s' in the manifests", o->args[0], o->args[1]);
		goto out;
	}
	want->adopt = 1; /* the command's own meaning of the manifest: take it over */
	memset(&ro, 0, sizeof(ro));
	ro.mode = RECONCILE_APPLY;
	ro.plan = plan_opts_of(o, &c);
	ro.plan.only_kind = k;
	ro.plan.only = o->args[1];
	ro.plan.adopt_only = 1;
	ro.plan.prune = 0;
	if ((rc = pass(&c, &ro, &r)) != EXIT_OK)
		goto out;
	a = r.plan.n ? &r.plan.v[0] : NULL;
	if (a == NULL || a->op == PLAN_REFUSE)
		rc = fail("%s %s: %s", o->args[0], o->args[1], a ? a->reason : "not planned");
	else if (r.applied && (r.res.failed || r.res.state_error))
		rc = fail("import failed: %s", r.res.state_error ? r.res.state_err.msg
		                                                 : r.res.failures[0].msg);
	else if (a->op == PLAN_NOOP && !a->ledger)
		printf("%s %s is already owned by cfstorage\n", o->args[0], o->args[1]);
	else
		printf("imported %s %s; run 'cfstorage plan' to see what apply would change\n",
		       o->args[0], o->args[1]);
out:
	reconcile_result_release(&r);
	session_release(&c);
	return rc;
}

/* export: manifests for what the account holds (pkg/export). */
static int
cmd_export(const struct opts *o)
{
	struct session c;
	struct export_opts eo;
	struct err e;
	int rc;

	if (o->nargs)
		return fail("export takes no arguments");
	memset(&eo, 0, sizeof(eo));
	if (o->kind) {
		if (strcmp(o->kind, "R2Bucket") == 0)
			eo.kind = KIND_R2BUCKET;
		else if (strcmp(o->kind, "KVNamespace") == 0)
			eo.kind = KIND_KVNAMESPACE;
		else if (strcmp(o->kind, "Secret") == 0)
			eo.kind = KIND_SECRET;
		else
			return fail("--kind must be R2Bucket, KVNamespace or Secret");
	}
	if (o->with_entries && o->dir == NULL)
		return fail("--with-entries needs --dir DIR (values may be written to files)");
	if (o->json)
		return fail("export writes YAML (-o yaml)");
	if ((rc = ctx_open(o, &c, 0, 1)) != EXIT_OK)
		goto out;
	eo.out_dir = o->dir;
	eo.with_entries = o->with_entries;
	eo.out = stdout;
	err_clear(&e);
	if (export_run(c.api, &eo, &e) != ERR_OK)
		rc = fail("%s", e.msg);
out:
	session_release(&c);
	return rc;
}

/*
 * run: the daemon. The manifests must be valid to start (exit 3 otherwise);
 * later invalid edits are reported and the last good set is kept.
 */
static int
cmd_run(const struct opts *o)
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
	if ((rc = ctx_open(o, &c, 1, 1)) != EXIT_OK)
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
	err_clear(&e);
	if (daemon_run(&d, &c.set, c.st, c.api, &e) != 0)
		rc = fail("%s", e.msg);
out:
	session_release(&c);
	return rc;
}

int
main(int argc, char **argv)
{
	struct opts o;
	int rc;
	enum log_level lv = LOG_WARN;

	memset(&o, 0, sizeof(o));
	api_global_init(); /* before any libcurl use: its allocator cleanses */
	log_setup(LOG_WARN, LOG_LOGFMT);
	if ((rc = parse_args(argc, argv, &o)) != EXIT_OK)
		return rc;
	if (o.cmd == CMD_RUN)
		lv = LOG_INFO;
	if (o.verbose)
		lv = LOG_DEBUG;
	if (o.log_level)
		(void)log_parse_level(o.log_level, &lv);
	log_setup(lv, o.log_format && strcmp(o.log_format, "json") == 0 ? LOG_JSON : LOG_LOGFMT);
	if (o.cmd == CMD_NONE) {
		if (o.help) {
			usage(stdout);
			return EXIT_OK;
		}
		usage(stderr);
		return EXIT_ERROR;
	}
	switch (o.cmd) {
	case CMD_VALIDATE:
		if (o.help) {
			usage_validate(stdout);
			return EXIT_OK;
		}
		return cmd_validate(&o);
	case CMD_PLAN:
	case CMD_APPLY:
		if (o.help) {
			usage_cmd(o.cmd, stdout);
			return EXIT_OK;
		}
		return cmd_plan_apply(&o, o.cmd == CMD_APPLY);
	case CMD_STATUS:
		if (o.help) {
			usage_cmd(o.cmd, stdout);
			return EXIT_OK;
		}
		return cmd_status(&o);
	case CMD_RUN:
		if (o.help) {
			usage_cmd(o.cmd, stdout);
			return EXIT_OK;
		}
		return cmd_run(&o);
	case CMD_ROTATE:
		if (o.help) {
			usage_cmd(o.cmd, stdout);
			return EXIT_OK;
		}
		return cmd_rotate(&o);
	case CMD_IMPORT:
		if (o.help) {
			usage_cmd(o.cmd, stdout);
			return EXIT_OK;
		}
		return cmd_import(&o);
	case CMD_EXPORT:
		if (o.help) {
			usage_cmd(o.cmd, stdout);
			return EXIT_OK;
		}
		return cmd_export(&o);
	default:
		if (o.help) {
			usage(stdout);
			return EXIT_OK;
		}
		abort(); /* every command is handled above */
	}
}
