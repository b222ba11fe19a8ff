/*
 * cfstorage: the command line (shared/DESIGN.md §9). Parses flags, wires the
 * modules together and maps outcomes to exit codes; no logic of its own.
 *
 * Exit codes: 0 ok / no changes, 1 error (bad flag, I/O, API), 2 changes
 * pending or partially applied, 3 invalid manifests.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../pkg/diag/diag.h"
#include "../../pkg/log/log.h"
#include "../../pkg/manifest/manifest.h"
#include "../../pkg/mem/mem.h"

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
	   CMD_IMPORT };

struct opts {
	enum cmd cmd;
	const char *paths[MAX_PATHS];
	size_t npaths;
	int json;
	int quiet, verbose;
	int help;
	const char *state, *account_id, *token_file, *endpoint, *now;
	int local;
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
	        "\n"
	        "Exit status: 0 valid, 3 invalid, 1 when a path cannot be read.\n");
}

/* Prints "cfstorage: ..." and returns EXIT_ERROR, for one-line failures. */
static int
fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
fail(const char *fmt, ...)
{
	va_list ap;

	fputs("cfstorage: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
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
       OPT_VERSION, OPT_TOKEN };

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
			else if (strcmp(optarg, "text") == 0)
				o->json = 0;
			else
				return fail("unknown output format '%.32s' (use text or json)", optarg);
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

int
main(int argc, char **argv)
{
	struct opts o;
	int rc;

	memset(&o, 0, sizeof(o));
	log_setup(LOG_WARN, LOG_LOGFMT);
	if ((rc = parse_args(argc, argv, &o)) != EXIT_OK)
		return rc;
	if (o.verbose)
		log_setup(LOG_DEBUG, LOG_LOGFMT);
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
	default:
		if (o.help) {
			usage(stdout);
			return EXIT_OK;
		}
		return fail("'%s' is not available in this build yet",
		            commands[o.cmd - 1].name);
	}
}
