/*
 * cfstorage: the command line (README: Commands). Parses flags into a
 * struct cli_opts and hands it to the command (pkg/cli); no logic of its own.
 *
 * Exit codes (README: Exit status): 0 ok / no changes, 1 error (bad flag,
 * I/O, API) or an action that failed or was refused, 2 plan: changes
 * pending, 3 invalid manifests.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../pkg/api/api.h"
#include "../../pkg/cli/cli.h"
#include "../../pkg/log/log.h"

#ifndef CFS_VERSION
#define CFS_VERSION "dev"
#endif




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
       OPT_ALLOW_PATH_ROOT, OPT_OUT, OPT_TO, OPT_MAN, OPT_NO_COLOR, OPT_YES,
       OPT_API_SHARE, OPT_OBSERVE_ALL };


/* The flag a getopt code stands for, -1 for none (version, token, errors). */
static int
flag_of(int c)
{
	switch (c) {
	case 'f': return CF_FILE;
	case 'o': return CF_OUTPUT;
	case 'q': return CF_QUIET;
	case 'v': return CF_VERBOSE;
	case 'h': return CF_HELP;
	case OPT_STATE: return CF_STATE;
	case OPT_ACCOUNT: return CF_ACCOUNT;
	case OPT_TOKEN_FILE: return CF_TOKEN_FILE;
	case OPT_ENDPOINT: return CF_ENDPOINT;
	case OPT_LOCAL: return CF_LOCAL;
	case OPT_NOW: return CF_NOW;
	case OPT_PRUNE: return CF_PRUNE;
	case OPT_ALLOW_EMPTY: return CF_ALLOW_EMPTY;
	case OPT_DRY_RUN: return CF_DRY_RUN;
	case OPT_FORCE: return CF_FORCE;
	case OPT_REBUILD: return CF_REBUILD;
	case OPT_VERIFY_VALUES: return CF_VERIFY_VALUES;
	case OPT_DIR: return CF_DIR;
	case OPT_KIND: return CF_KIND;
	case OPT_WITH_ENTRIES: return CF_WITH_ENTRIES;
	case OPT_INTERVAL: return CF_INTERVAL;
	case OPT_LISTEN: return CF_LISTEN;
	case OPT_ALLOW_PATH_ROOT: return CF_ALLOW_PATH_ROOT;
	case OPT_LOG_FORMAT: return CF_LOG_FORMAT;
	case OPT_LOG_LEVEL: return CF_LOG_LEVEL;
	case OPT_PARALLELISM: return CF_PARALLELISM;
	case OPT_RATE_LIMIT: return CF_RATE_LIMIT;
	case OPT_OUT: return CF_OUT;
	case OPT_TO: return CF_TO;
	case OPT_NO_COLOR: return CF_NO_COLOR;
	case OPT_YES: return CF_YES;
	case OPT_API_SHARE: return CF_API_SHARE;
	case OPT_OBSERVE_ALL: return CF_OBSERVE_ALL;
	default: return -1;
	}
}

static int
parse_args(int argc, char **argv, struct cli_opts *o)
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
		{ "api-share", required_argument, NULL, OPT_API_SHARE },
		{ "observe-all", no_argument, NULL, OPT_OBSERVE_ALL },
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
		{ "out", required_argument, NULL, OPT_OUT },
		{ "to", required_argument, NULL, OPT_TO },
		{ "no-color", no_argument, NULL, OPT_NO_COLOR },
		{ "yes", no_argument, NULL, OPT_YES },
		{ "man", no_argument, NULL, OPT_MAN }, /* hidden: make install writes cfstorage.1 */
		{ NULL, 0, NULL, 0 },
	};
	int c, idx;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":f:o:qvh", longopts, &idx)) != -1) {
		char name[80], hint[96];

		if (flag_of(c) >= 0)
			o->given |= 1ull << flag_of(c);
		switch (c) {
		case 'f':
			if (o->npaths == CLI_MAX_PATHS)
				return cli_fail("too many -f paths (at most %d)", CLI_MAX_PATHS);
			o->paths[o->npaths++] = optarg;
			break;
		case 'o':
			o->output = optarg;
			o->json = strcmp(optarg, "json") == 0;
			o->markdown = strcmp(optarg, "markdown") == 0;
			if (!o->json && !o->markdown && strcmp(optarg, "text") != 0 &&
			    strcmp(optarg, "yaml") != 0)
				return cli_fail("unknown output format '%.32s' (use text, json, markdown or "
				                "yaml)", optarg);
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
		case OPT_TO: o->to = optarg; break;
		case OPT_NO_COLOR: o->no_color = 1; break;
		case OPT_YES: o->yes = 1; break;
		case OPT_WITH_ENTRIES: o->with_entries = 1; break;
		case OPT_INTERVAL:
			if ((o->interval_ms = cli_parse_duration(optarg)) < 100)
				return cli_fail("--interval must be a duration such as 30s, 5m or 1h (at least 100ms)");
			break;
		case OPT_LISTEN: o->listen = optarg; break;
		case OPT_OUT: o->out = optarg; break;
		case OPT_ALLOW_PATH_ROOT:
			if (o->npath_roots == MANIFEST_MAX_PATH_ROOTS)
				return cli_fail("too many --allow-path-root folders (at most %d)",
				            MANIFEST_MAX_PATH_ROOTS);
			o->path_roots[o->npath_roots++] = optarg;
			break;
		case OPT_LOG_FORMAT:
			if (strcmp(optarg, "json") != 0 && strcmp(optarg, "logfmt") != 0)
				return cli_fail("--log-format must be json or logfmt");
			o->log_format = optarg;
			break;
		case OPT_LOG_LEVEL: {
			enum log_level lv;

			if (log_parse_level(optarg, &lv) != 0)
				return cli_fail("--log-level must be debug, info, warn, error or off");
			o->log_level = optarg;
			break;
		}
		case OPT_PARALLELISM: {
			char *end;
			long v;

			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || v < 1 || v > API_MAX_PARALLELISM)
				return cli_fail("--parallelism must be 1..%d", API_MAX_PARALLELISM);
			o->parallelism = (unsigned)v;
			break;
		}
		case OPT_RATE_LIMIT:
			if (cli_parse_rate(optarg, &o->rate_n, &o->rate_secs) != 0)
				return cli_fail("--rate-limit must be N/SECONDS, e.g. 1200/300");
			break;
		case OPT_API_SHARE: {
			char *end;
			long v;

			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || end == optarg || (*end && strcmp(end, "%") != 0) || v < 1 || v > 100)
				return cli_fail("--api-share must be a percentage 1..100, e.g. 25%%");
			o->api_share = (unsigned)v;
			break;
		}
		case OPT_OBSERVE_ALL: o->observe_all = 1; break;
		case OPT_VERSION:
			printf("cfstorage %s\n", CFS_VERSION);
			exit(EXIT_OK);
		case OPT_MAN:
			cli_man(stdout);
			exit(EXIT_OK);
		case OPT_TOKEN:
			return cli_fail("a token is never accepted on the command line; use "
			            "CLOUDFLARE_API_TOKEN or --api-token-file FILE");
		case ':':
			flag_name(argv[optind - 1], name, sizeof(name));
			return cli_fail("flag '%s' needs a value", name);
		default:
			flag_name(optopt ? (char[]){ '-', (char)optopt, 0 } : argv[optind - 1],
			          name, sizeof(name));
			cli_suggest(name, 1, hint, sizeof(hint));
			return cli_fail("unknown flag '%s'%s (see cfstorage --help)", name, hint);
		}
	}
	for (int i = optind; i < argc; i++) {
		if (o->cmd == CLI_NONE) {
			for (size_t k = 0; cli_commands[k].name; k++)
				if (strcmp(argv[i], cli_commands[k].name) == 0)
					o->cmd = cli_commands[k].cmd;
			if (o->cmd == CLI_NONE) {
				char hint[96];

				cli_suggest(argv[i], 0, hint, sizeof(hint));
				return cli_fail("unknown command '%.64s'%s (see cfstorage --help)", argv[i],
				                hint);
			}
			continue;
		}
		o->args = argv + i;
		o->nargs = (size_t)(argc - i);
		break;
	}
	return o->help ? EXIT_OK : cli_check_flags(o);
}


int
main(int argc, char **argv)
{
	struct cli_opts o;
	int rc;
	enum log_level lv = LOG_WARN;

	memset(&o, 0, sizeof(o));
	api_global_init(); /* before any libcurl use: its allocator cleanses */
	log_setup(LOG_WARN, LOG_LOGFMT);
	if (argc > 1 && strcmp(argv[1], "__complete") == 0) /* hidden: the shell completion */
		return cli_complete(argc - 2, argv + 2, stdout);
	/* Terraform's spelling, `plan -out FILE`, is getopt's --out */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "-out") == 0 || strncmp(argv[i], "-out=", 5) == 0) {
			static char dashed[4096];

			snprintf(dashed, sizeof(dashed), "-%s", argv[i]);
			argv[i] = dashed;
			break;
		}
	if ((rc = parse_args(argc, argv, &o)) != EXIT_OK)
		return rc;
	if (o.cmd == CLI_RUN)
		lv = LOG_INFO;
	if (o.verbose)
		lv = LOG_DEBUG;
	if (o.log_level)
		(void)log_parse_level(o.log_level, &lv);
	log_setup(lv, o.log_format && strcmp(o.log_format, "json") == 0 ? LOG_JSON : LOG_LOGFMT);
	if (o.help) {
		cli_usage_cmd(o.cmd, stdout);
		return EXIT_OK;
	}
	switch (o.cmd) {
	case CLI_NONE:
		cli_usage(stderr);
		return EXIT_ERROR;
	case CLI_VALIDATE: return cli_cmd_validate(&o);
	case CLI_PLAN: return cli_cmd_plan_apply(&o, 0);
	case CLI_APPLY: return cli_cmd_plan_apply(&o, 1);
	case CLI_STATUS: return cli_cmd_status(&o);
	case CLI_RUN: return cli_cmd_run(&o);
	case CLI_ROTATE: return cli_cmd_rotate(&o);
	case CLI_IMPORT: return cli_cmd_import(&o);
	case CLI_EXPORT: return cli_cmd_export(&o);
	case CLI_STATE: return cli_cmd_state(&o);
	}
	abort(); /* every command is handled above */
}
