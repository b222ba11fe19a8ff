/*
 * cli: the command line's words in one place — the commands, their help
 * text (what --help prints; the one source for any other rendering of it)
 * and the parsers for the values flags take, shared by both binaries.
 */
#ifndef CFS_CLI_H
#define CFS_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../manifest/manifest.h"
#include "../reconcile/reconcile.h"
#include "../report/report.h"
#include "../session/session.h"

enum cli_cmd { CLI_NONE, CLI_VALIDATE, CLI_PLAN, CLI_APPLY, CLI_RUN, CLI_ROTATE, CLI_STATUS,
	       CLI_IMPORT, CLI_EXPORT, CLI_STATE };

struct cli_command {
	const char *name;
	enum cli_cmd cmd;
	const char *summary;
};

/* Every command, in the order help lists them; ends with a NULL name. */
extern const struct cli_command cli_commands[];

/* cfstorage --help. */
void cli_usage(FILE *out);
/* cfstorage COMMAND --help: the command's own flags. */
void cli_usage_cmd(enum cli_cmd cmd, FILE *out);

/* The help texts as data, for --help and the man page (man.c). */
struct cli_help {
	enum cli_cmd cmd;
	const char *usage;       /* "usage: cfstorage CMD ..." lines */
	const char *text;        /* what it does, its own flags ("  -f, --x  what") */
};
/* One per command; ends with a NULL usage. */
extern const struct cli_help cli_helps[];
/* What cfstorage does, its global flags, and the closing note of --help. */
extern const char cli_about[], cli_global_flags[], cli_help_closing[];

/* cfstorage --man: the page cfstorage(1) in roff, from the texts above. */
void cli_man(FILE *out);
/* A page NAME(1) in roff from a --help text: its "usage: " lines become the
 * synopsis, the rest the description (cfemu --man). */
void cli_man_text(FILE *out, const char *name, const char *what, const char *help);
/* cfstorage __complete WORD...: the candidates for the last WORD, one a line
 * (commands, flags, -o formats, kinds, names from the -f manifests); nothing
 * when the shell should complete file names. Always EXIT_OK. */
int cli_complete(int argc, char *const argv[], FILE *out);

/* "500ms", "2s", "5m", "1h" (a bare number is seconds) -> milliseconds; -1
 * when malformed. */
int64_t cli_parse_duration(const char *s);
/* A request budget far beyond any account's, over at most a year. */
#define CLI_RATE_MAX_N 100000000
#define CLI_RATE_MAX_SECS (86400 * 365)
/* "N/SECONDS" with both positive and within those bounds: 0, or -1. */
int cli_parse_rate(const char *s, unsigned *n, unsigned *secs);


/* Exit codes, one table for every command (README). */
#define EXIT_OK 0
#define EXIT_ERROR 1
#define EXIT_CHANGES 2
#define EXIT_INVALID 3

/* Most -f paths on one command line. */
#define CLI_MAX_PATHS 256

/* Every flag, for the per-command check (cli_check_flags). */
enum cli_flag { CF_FILE, CF_OUTPUT, CF_QUIET, CF_VERBOSE, CF_HELP, CF_STATE, CF_ACCOUNT,
	CF_TOKEN_FILE, CF_ENDPOINT, CF_LOCAL, CF_NOW, CF_PRUNE, CF_ALLOW_EMPTY, CF_DRY_RUN,
	CF_PARALLELISM, CF_RATE_LIMIT, CF_FORCE, CF_REBUILD, CF_VERIFY_VALUES, CF_DIR, CF_KIND,
	CF_WITH_ENTRIES, CF_INTERVAL, CF_LISTEN, CF_LOG_FORMAT, CF_LOG_LEVEL, CF_ALLOW_PATH_ROOT,
	CF_OUT, CF_TO, CF_NO_COLOR, CF_YES,
	CF_API_SHARE, CF_OBSERVE_ALL, CF_COUNT };

/* The command line, parsed (cmd/cfstorage/main.c). */
struct cli_opts {
	enum cli_cmd cmd;
	const char *paths[CLI_MAX_PATHS];
	size_t npaths;
	int json;
	int quiet, verbose;
	int help;
	const char *state, *account_id, *token_file, *endpoint, *now;
	int local;
	int prune, allow_empty, dry_run, force, rebuild, verify_values, with_entries;
	int no_color;            /* --no-color (NO_COLOR in the environment: cli_color) */
	int yes;                 /* apply --yes: delete without asking on a terminal */
	const char *dir, *kind;
	const char *to;          /* state migrate --to URL */
	int64_t interval_ms;
	const char *listen, *log_format, *log_level;
	const char *path_roots[MANIFEST_MAX_PATH_ROOTS]; /* --allow-path-root */
	size_t npath_roots;
	unsigned parallelism, rate_n, rate_secs;
	unsigned api_share;      /* run --api-share: percent of the budget for reads, 0: default */
	int observe_all;         /* run --observe-all: every part every pass, no rotation */
	char **args;
	size_t nargs;
	uint64_t given;          /* 1 << enum cli_flag, for every flag on the line */
	const char *output;      /* -o as given */
	const char *out;         /* plan -out FILE */
	int markdown;            /* -o markdown */
};

/* The long name of a flag ("dry-run"), for messages. */
const char *cli_flag_name(enum cli_flag f);
/* 1 when the flag takes a value (-f PATH, --kind KIND). */
int cli_flag_takes_value(enum cli_flag f);
/* Every flag cmd takes (1 << enum cli_flag, the global ones included), and
 * its -o formats, space-separated (NULL: no -o). */
uint64_t cli_cmd_flags(enum cli_cmd cmd, const char **formats);
/* Refuses (one line, EXIT_ERROR) a flag or an -o format the command does not
 * take, naming the command's help. EXIT_OK otherwise. */
int cli_check_flags(const struct cli_opts *o);
/* " (did you mean 'X'?)" for a mistyped command or flag name, or "". */
void cli_suggest(const char *word, int flags, char *buf, size_t len);

/* Prints "cfstorage: ..." (control characters made visible, so it stays one
 * line) and returns EXIT_ERROR. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The commands (commands.c): each opens what it needs, runs, reports, and
 * returns the process's exit status. */
int cli_cmd_validate(const struct cli_opts *o);
int cli_cmd_plan_apply(const struct cli_opts *o, int apply);
int cli_cmd_status(const struct cli_opts *o);
int cli_cmd_rotate(const struct cli_opts *o);
int cli_cmd_import(const struct cli_opts *o);
int cli_cmd_export(const struct cli_opts *o);
int cli_cmd_run(const struct cli_opts *o);
/* state show | unlock --force | migrate --to URL (state_cmd.c). */
int cli_cmd_state(const struct cli_opts *o);

/* Shared by the commands (commands.c, planfile.c). */
struct session;
struct api;
struct reconcile_opts;
struct reconcile_result;
/*
 * What a command that runs one reconcile pass holds: its session, its
 * pass's options and result, and how it reports. cli_job_open() opens the
 * session and sets ro to the mode and the shared plan options; the command
 * then sets what is its own (ro's other fields, cli_live_wire, cli_pass).
 * cli_job_close() releases it all, opened or not, and returns rc.
 */
struct cli_job {
	struct session c;
	struct reconcile_opts ro;
	struct reconcile_result r;
	struct report_opts rep;
};
int cli_job_open(struct cli_job *j, const struct cli_opts *o, enum reconcile_mode mode,
                 int need_manifests, int need_api);
/* The plan and, after an apply, its outcomes (report_plan) on stdout. */
void cli_job_report(const struct cli_job *j);
int cli_job_close(struct cli_job *j, int rc);
/* Opens a session for o (manifests printed as diagnostics when invalid). */
int cli_session_open(const struct cli_opts *o, struct session *c, int need_manifests,
                     int need_api);
/* One reconcile pass; a failure to read the account is one line, exit 1. */
int cli_pass(struct session *c, const struct reconcile_opts *ro, struct reconcile_result *r);
/* apply's exit status (0 converged, 1 failed, refused or state not saved). */
int cli_apply_exit(const struct reconcile_result *r);
/* plan -out FILE: the plan and what it relied on (planfile.c). */
int cli_plan_save(const char *path, const struct cli_opts *o, const struct session *s,
                  const struct reconcile_result *r);
/* apply FILE: refused, naming what changed, unless the plan is still exact. */
int cli_apply_saved(const struct cli_opts *o, const char *path);

/* What a pass shows on a terminal (live.c). */
/* The progress line appears once a pass has run this long ... */
#define CLI_LIVE_AFTER_MS 1000
/* ... and is redrawn at most this often (the API's poll drives it, at least
 * once a second while calls run). */
#define CLI_LIVE_REDRAW_MS 100
/* The longest answer to the deletion question read (longer: not "yes"). */
#define CLI_ANSWER_MAX 64
/* Colour on fd: a terminal, no --no-color, NO_COLOR unset or empty, TERM
 * not "dumb". */
int cli_color(int fd, const struct cli_opts *o);
/*
 * Sets up the display of the pass ro is for (call it just before cli_pass):
 * the progress line on stderr when it is a terminal (not with -q); with
 * RECONCILE_APPLY, each outcome on stdout when it is a terminal (text output,
 * not -q), and with ask a question before a plan that deletes when stdout is
 * a terminal and stdin or /dev/tty is one to answer on (not with --yes). It
 * chains ro->accept (a saved plan's check runs first) and sets
 * ro->on_outcome. A declined question makes the pass r->rejected.
 */
void cli_live_wire(const struct cli_opts *o, struct api *a, struct reconcile_opts *ro, int ask);
/* Redraws the progress line when due (called from the API's poll). */
void cli_live_tick(void);
/* Takes the progress line off the screen; the pass is over. */
void cli_live_end(void);

#endif
