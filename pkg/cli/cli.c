#include "cli.h"

#include "../diag/diag.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const struct cli_command cli_commands[] = {
	{ "validate", CLI_VALIDATE, "check manifests; print file:line:col: message for each mistake" },
	{ "plan", CLI_PLAN, "show what apply would change (exit 2 when there are changes)" },
	{ "apply", CLI_APPLY, "converge the account to the manifests" },
	{ "run", CLI_RUN, "reconcile forever: drift repair, rotation, probes, metrics" },
	{ "rotate", CLI_ROTATE, "rotate one Secret now" },
	{ "status", CLI_STATUS, "inventory, conditions, secret versions, next rotation" },
	{ "import", CLI_IMPORT, "adopt an existing resource into the inventory" },
	{ "export", CLI_EXPORT, "write manifests (adopt: true) for what the account holds" },
	{ "state", CLI_STATE, "show, unlock --force or migrate --to URL the state" },
	{ NULL, CLI_NONE, NULL },
};


const char cli_about[] =
	"Keeps a Cloudflare account's R2 buckets, Workers KV namespaces and rotating\n"
	"secrets in the state that YAML manifests declare.\n";

const char cli_global_flags[] =
	"  --state PATH           state file (default .cfstorage/state.json), etcd://...\n"
	"                         or r2://BUCKET/KEY (README: State)\n"
	"  --account-id ID        Cloudflare account (or CLOUDFLARE_ACCOUNT_ID)\n"
	"  --api-token-file FILE  file holding the API token (or CLOUDFLARE_API_TOKEN)\n"
	"  --endpoint URL         API base URL (or CLOUDFLARE_API_BASE_URL)\n"
	"  --local                use the embedded emulator (state under .cfstorage/local)\n"
	"  --now RFC3339          evaluate schedules as if it were that time\n"
	"  --allow-path-root DIR  manifests may also name files under DIR (repeatable);\n"
	"                         otherwise valueFrom.file stays in its manifest's folder\n"
	"  --parallelism N        at most N API requests at once (default 4)\n"
	"  --rate-limit N/SECS    at most N API requests per SECS seconds (default 1200/300)\n"
	"  --log-format FORMAT    logfmt (default) or json, for the log lines on stderr\n"
	"  --log-level LEVEL      debug, info, warn (default; info for run), error, off\n"
	"  --no-color             no colour on a terminal (or NO_COLOR set, not empty)\n"
	"  -v, --verbose          more detail;  -q, --quiet  less\n"
	"  -h, --help             help for any command;  --version\n";

const char cli_help_closing[] =
	"A token is never accepted as a command-line argument.\n"
	"Run 'cfstorage COMMAND --help' for a command's own flags.\n";

void
cli_usage(FILE *out)
{
	fprintf(out, "usage: cfstorage COMMAND [flags]\n\n%s\nCommands:\n", cli_about);
	for (size_t i = 0; cli_commands[i].name; i++)
		fprintf(out, "  %-9s %s\n", cli_commands[i].name, cli_commands[i].summary);
	fprintf(out, "\nGlobal flags:\n%s\n%s", cli_global_flags, cli_help_closing);
}

/* Each command's help: what `cfstorage COMMAND --help` prints and what the man
 * page (man.c) renders. */
const struct cli_help cli_helps[] = {
	{ CLI_VALIDATE,
	  "usage: cfstorage validate -f PATH... [-o text|json] [-q] [--allow-empty]\n",
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
	  "  --allow-empty          a PATH with no manifest is not an error\n"
	  "\n"
	  "Exit status: 0 valid, 3 invalid (or no manifest found), 1 when a path cannot\n"
	  "be read.\n" },
	{ CLI_PLAN,
	  "usage: cfstorage plan -f PATH... [--prune] [--allow-empty] [--verify-values]\n"
	  "                      [-out FILE] [-o text|json] [-q]\n",
	  "Shows what apply would change: + create, ~ update, - delete, = adopt,\n"
	  "! refused, · forget, ↻ rotate, # no changes (a note). Exit 0 no changes,\n"
	  "2 changes, 1 error, 3 invalid manifests (nothing is sent).\n"
	  "-out FILE saves the plan (the manifests' contents, the time, and what each\n"
	  "action relied on; never a value) for 'cfstorage apply FILE'.\n" },
	{ CLI_APPLY,
	  "usage: cfstorage apply -f PATH... [--dry-run] [--prune] [--allow-empty] [--yes]\n"
	  "                       [--parallelism N] [--rate-limit N/SECONDS] [--verify-values]\n"
	  "                       [-o text|json] [-q]\n"
	  "       cfstorage apply FILE     (a plan saved with plan -out FILE)\n",
	  "Converges the account. With FILE, applies exactly the saved plan, or\n"
	  "refuses (exit 1, naming what changed) when the manifests or the account\n"
	  "changed since it was made. --prune deletes owned resources that left the\n"
	  "manifests when their deletionPolicy is Delete (never an empty set without\n"
	  "--allow-empty). --verify-values also reads every declared KV value (one\n"
	  "request each) instead of trusting the content hash in the key listing.\n"
	  "On a terminal each action is printed as it completes, with a progress\n"
	  "line on stderr, and a plan that deletes asks first: only 'yes' goes on.\n"
	  "Not on a terminal (a pipe, CI) it never asks.\n"
	  "\n"
	  "  --yes                  delete without asking, on a terminal too\n"
	  "\n"
	  "Exit 0 converged, 1 an action failed or was refused, the deletion was\n"
	  "declined (or an error), 3 invalid manifests (nothing is sent).\n" },
	{ CLI_RUN,
	  "usage: cfstorage run -f PATH... [--interval DUR] [--listen ADDR]\n"
	  "                     [--log-format logfmt|json] [--log-level LEVEL] [--prune]\n"
	  "                     [--allow-empty] [--rate-limit N/SECONDS] [--api-share P%]\n"
	  "                     [--observe-all]\n",
	  "Reconciles forever: at start, on manifest changes, every --interval\n"
	  "(default 5m), when a rotation falls due, on SIGHUP. Serves /healthz,\n"
	  "/readyz and /metrics on --listen (default 127.0.0.1:9464; 'off' disables).\n"
	  "Its reads take at most --api-share (default 25%) of the --rate-limit budget\n"
	  "in any window; writes use the rest. List reads run every pass; lifecycle,\n"
	  "CORS and KV key listings in a rotation that fits the share, whose coverage\n"
	  "period (the longest any of them goes unread) is logged and exported.\n"
	  "--observe-all reads every part every pass (no rotation).\n"
	  "SIGTERM finishes in-flight requests, saves the state and exits 0.\n" },
	{ CLI_ROTATE,
	  "usage: cfstorage rotate NAME -f PATH... [--force] [--dry-run] [-o text|json]\n",
	  "Writes a new version of the Secret NAME now and applies its retain policy.\n"
	  "--force is needed when the current version is less than a day old.\n" },
	{ CLI_STATUS,
	  "usage: cfstorage status [-f PATH...] [--rebuild] [-o text|json] [-v]\n"
	  "                        [--interval DUR] [--api-share P%]\n",
	  "The inventory, conditions and every Secret's versions. With -f it also\n"
	  "reads the account: the next rotation, and what each Secret's targets hold\n"
	  "beside the ledger (versions present or missing, pointer, alias, names\n"
	  "without cfstorage's mark). -v shows destroyed versions too. --rebuild\n"
	  "-f PATH rebuilds the manifests' secret ledgers from the account (after a\n"
	  "lost state, or to accept that a retained version was lost).\n" },
	{ CLI_IMPORT,
	  "usage: cfstorage import KIND NAME -f PATH...\n",
	  "Adopts the existing resource that the manifest named NAME describes\n"
	  "(KIND is R2Bucket, KVNamespace, Secret or D1Database) without changing\n"
	  "it. A Secret's versions are recorded from the account and its pointer is\n"
	  "marked as cfstorage's; no version is written. A D1Database's rows in its\n"
	  "migrations table are recorded as applied.\n" },
	{ CLI_STATE,
	  "usage: cfstorage state show [--state URL]\n"
	  "       cfstorage state unlock --force [--state r2://BUCKET/KEY]\n"
	  "       cfstorage state migrate --to URL [--force] [--state URL]\n",
	  "show: the inventory and every Secret's ledger (fingerprints, never values),\n"
	  "and for an r2:// state who holds its lock. Takes no lock.\n"
	  "unlock --force: deletes an r2:// state's lock object whoever holds it, for\n"
	  "a holder that is gone (an expired lock is taken over without it).\n"
	  "migrate --to URL: copies the state to URL (a path, etcd://... or\n"
	  "r2://BUCKET/KEY) in one atomic write, holding both locks; a target that\n"
	  "already holds resources is refused without --force. The source is kept.\n"
	  "\n"
	  "Exit status: 0 done, 1 error (a held lock, a refused target).\n" },
	{ CLI_EXPORT,
	  "usage: cfstorage export [--dir DIR [--force]] [--kind KIND] [--with-entries] [-o yaml]\n",
	  "Writes manifests for every bucket (with lifecycle and CORS), KV namespace\n"
	  "(with --with-entries, its keys; values that are not short text go to files\n"
	  "under DIR/data/), D1 database (without migrations) and Secrets Store\n"
	  "secret (as a comment: values cannot be read). Every resource carries\n"
	  "adopt: true, so plan shows adopts only.\n"
	  "Without --dir, YAML goes to standard output. A file DIR already holds (you\n"
	  "may have edited it) is refused before any request unless --force.\n" },
	{ CLI_NONE, NULL, NULL },
};

/* The short spelling of a flag in the help texts, or NULL. */
static const char *
short_of(enum cli_flag f)
{
	switch (f) {
	case CF_FILE: return "-f";
	case CF_OUTPUT: return "-o";
	case CF_QUIET: return "-q";
	case CF_VERBOSE: return "-v";
	case CF_HELP: return "-h";
	case CF_OUT: return "-out";
	default: return NULL;
	}
}

/* Does text name the flag w ("--prune", "-f") as a whole word? */
static int
names_word(const char *text, const char *w)
{
	size_t n = strlen(w);

	for (const char *p = strstr(text, w); p; p = strstr(p + 1, w)) {
		char before = p == text ? ' ' : p[-1], after = p[n];

		if ((before == ' ' || before == '[' || before == '(' || before == '\n') &&
		    !(after == '-' || (after >= 'a' && after <= 'z')))
			return 1;
	}
	return 0;
}

/* Does cmd's help (usage and text) name flag f, in either spelling? */
static int
help_names(const struct cli_help *h, enum cli_flag f)
{
	char w[48];

	snprintf(w, sizeof(w), "--%s", cli_flag_name(f));
	if (names_word(h->usage, w) || names_word(h->text, w))
		return 1;
	return short_of(f) && (names_word(h->usage, short_of(f)) || names_word(h->text, short_of(f)));
}

/* The help of cmd: its usage, what it does and its own flags, then (for
 * commands that talk to the API) every other flag it takes, which the
 * global flags of cfstorage --help explain: --help lists every flag the
 * command accepts (cli_cmd_flags). */
void
cli_usage_cmd(enum cli_cmd cmd, FILE *out)
{
	const char *formats;
	uint64_t takes = cli_cmd_flags(cmd, &formats);

	for (size_t i = 0; cli_helps[i].usage; i++) {
		const struct cli_help *h = &cli_helps[i];
		size_t col = 0, k = 0;

		if (h->cmd != cmd)
			continue;
		fprintf(out, "%s\n%s", h->usage, h->text);
		for (int f = 0; f < CF_COUNT; f++) {
			const char *sh = short_of((enum cli_flag)f);
			char w[48];
			size_t n;

			if (!(takes & (1ull << f)) || help_names(h, (enum cli_flag)f))
				continue;
			n = (size_t)snprintf(w, sizeof(w), "%s%s%s", k++ ? ", " : "", sh ? "" : "--",
			                     sh ? sh : cli_flag_name((enum cli_flag)f));
			if (k == 1) {
				fputs("\nGlobal flags (see cfstorage --help): ", out);
				col = 37;
			} else if (col + n > 78) {
				fputs(",\n", out);
				memmove(w, w + 2, n - 1); /* the line starts with the flag */
				n -= 2;
				col = 0;
			}
			fputs(w, out);
			col += n;
		}
		if (k)
			fputs(".\n", out);
		return;
	}
	cli_usage(out);
}

int64_t
cli_parse_duration(const char *s)
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

int
cli_parse_rate(const char *s, unsigned *n, unsigned *secs)
{
	char *end;
	long a, b;

	errno = 0;
	a = strtol(s, &end, 10);
	if (errno || end == s || *end != '/' || a < 1 || a > CLI_RATE_MAX_N)
		return -1;
	s = end + 1;
	b = strtol(s, &end, 10);
	if (errno || end == s || *end != '\0' || b < 1 || b > CLI_RATE_MAX_SECS)
		return -1;
	*n = (unsigned)a;
	*secs = (unsigned)b;
	return 0;
}

static const char *const flag_names[CF_COUNT] = {
	[CF_FILE] = "filename", [CF_OUTPUT] = "output", [CF_QUIET] = "quiet",
	[CF_VERBOSE] = "verbose", [CF_HELP] = "help", [CF_STATE] = "state",
	[CF_ACCOUNT] = "account-id", [CF_TOKEN_FILE] = "api-token-file",
	[CF_ENDPOINT] = "endpoint", [CF_LOCAL] = "local", [CF_NOW] = "now",
	[CF_PRUNE] = "prune", [CF_ALLOW_EMPTY] = "allow-empty", [CF_DRY_RUN] = "dry-run",
	[CF_PARALLELISM] = "parallelism", [CF_RATE_LIMIT] = "rate-limit", [CF_FORCE] = "force",
	[CF_REBUILD] = "rebuild", [CF_VERIFY_VALUES] = "verify-values", [CF_DIR] = "dir",
	[CF_KIND] = "kind", [CF_WITH_ENTRIES] = "with-entries", [CF_INTERVAL] = "interval",
	[CF_LISTEN] = "listen", [CF_LOG_FORMAT] = "log-format", [CF_LOG_LEVEL] = "log-level",
	[CF_ALLOW_PATH_ROOT] = "allow-path-root", [CF_OUT] = "out", [CF_TO] = "to",
	[CF_NO_COLOR] = "no-color", [CF_YES] = "yes",
	[CF_API_SHARE] = "api-share", [CF_OBSERVE_ALL] = "observe-all",
};

const char *
cli_flag_name(enum cli_flag f)
{
	return f < CF_COUNT ? flag_names[f] : "?";
}

#define F(x) (1ull << (x))
/* Flags every command takes (README: Global flags). */
#define GLOBAL (F(CF_HELP) | F(CF_VERBOSE) | F(CF_QUIET) | F(CF_STATE) | F(CF_ACCOUNT) | \
                F(CF_TOKEN_FILE) | F(CF_ENDPOINT) | F(CF_LOCAL) | F(CF_NOW) | \
                F(CF_ALLOW_PATH_ROOT) | F(CF_LOG_FORMAT) | F(CF_LOG_LEVEL) | F(CF_NO_COLOR))
#define CLIENT (F(CF_PARALLELISM) | F(CF_RATE_LIMIT))

/* What each command takes beyond the global flags, and its -o formats. */
static const struct {
	enum cli_cmd cmd;
	uint64_t flags;
	const char *formats;     /* space-separated; NULL: no -o */
} own[] = {
	{ CLI_VALIDATE, F(CF_FILE) | F(CF_OUTPUT) | F(CF_ALLOW_EMPTY), "text json" },
	{ CLI_PLAN, F(CF_FILE) | F(CF_OUTPUT) | F(CF_PRUNE) | F(CF_ALLOW_EMPTY) |
	            F(CF_VERIFY_VALUES) | F(CF_OUT) | CLIENT, "text json markdown" },
	{ CLI_APPLY, F(CF_FILE) | F(CF_OUTPUT) | F(CF_PRUNE) | F(CF_ALLOW_EMPTY) | F(CF_DRY_RUN) |
	             F(CF_VERIFY_VALUES) | F(CF_YES) | CLIENT, "text json markdown" },
	{ CLI_RUN, F(CF_FILE) | F(CF_INTERVAL) | F(CF_LISTEN) | F(CF_PRUNE) | F(CF_ALLOW_EMPTY) |
	           F(CF_API_SHARE) | F(CF_OBSERVE_ALL) | CLIENT, NULL },
	{ CLI_ROTATE, F(CF_FILE) | F(CF_OUTPUT) | F(CF_FORCE) | F(CF_DRY_RUN) | CLIENT,
	  "text json" },
	{ CLI_STATUS, F(CF_FILE) | F(CF_OUTPUT) | F(CF_REBUILD) | F(CF_INTERVAL) | F(CF_API_SHARE) |
	              CLIENT, "text json" },
	{ CLI_IMPORT, F(CF_FILE) | CLIENT, NULL },
	{ CLI_EXPORT, F(CF_DIR) | F(CF_KIND) | F(CF_WITH_ENTRIES) | F(CF_OUTPUT) | F(CF_FORCE) |
	              CLIENT, "yaml" },
	{ CLI_STATE, F(CF_TO) | F(CF_FORCE), NULL },
};

/* The flags that take a value (the others are switches). */
#define VALUED (F(CF_FILE) | F(CF_OUTPUT) | F(CF_STATE) | F(CF_ACCOUNT) | F(CF_TOKEN_FILE) | \
                F(CF_ENDPOINT) | F(CF_NOW) | F(CF_PARALLELISM) | F(CF_RATE_LIMIT) | F(CF_DIR) | \
                F(CF_KIND) | F(CF_INTERVAL) | F(CF_LISTEN) | F(CF_LOG_FORMAT) | F(CF_LOG_LEVEL) | \
                F(CF_ALLOW_PATH_ROOT) | F(CF_OUT) | F(CF_API_SHARE))

int
cli_flag_takes_value(enum cli_flag f)
{
	return f < CF_COUNT && (VALUED & F(f)) != 0;
}

uint64_t
cli_cmd_flags(enum cli_cmd cmd, const char **formats)
{
	uint64_t allowed = GLOBAL;

	*formats = NULL;
	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
		if (own[i].cmd == cmd) {
			allowed |= own[i].flags;
			*formats = own[i].formats;
		}
	return allowed;
}

static const char *
cmd_name(enum cli_cmd c)
{
	for (size_t i = 0; cli_commands[i].name; i++)
		if (cli_commands[i].cmd == c)
			return cli_commands[i].name;
	return "cfstorage";
}

int
cli_check_flags(const struct cli_opts *o)
{
	const char *formats;
	uint64_t allowed = cli_cmd_flags(o->cmd, &formats);

	if (o->cmd == CLI_NONE)
		return EXIT_OK;
	for (int f = 0; f < CF_COUNT; f++)
		if ((o->given & F(f)) && !(allowed & F(f)))
			return cli_fail("'%s' takes no --%s (see cfstorage %s --help)", cmd_name(o->cmd),
			                flag_names[f], cmd_name(o->cmd));
	if (o->output && formats) {
		const char *p = strstr(formats, o->output);
		size_t n = strlen(o->output);

		if (p == NULL || n == 0 || (p[n] != ' ' && p[n] != '\0') ||
		    (p != formats && p[-1] != ' '))
			return cli_fail("'%s' writes %s, not '%.32s'", cmd_name(o->cmd),
			                strcmp(formats, "yaml") == 0 ? "yaml (-o yaml)"
			                : strstr(formats, "markdown") ? "text, json or markdown"
			                : "text or json (-o text|json)", o->output);
	}
	return EXIT_OK;
}

void
cli_suggest(const char *word, int flags, char *buf, size_t len)
{
	const char *cands[CF_COUNT + 16];
	const char *c;
	size_t n = 0;

	if (flags) {
		while (*word == '-')
			word++;
		for (int f = 0; f < CF_COUNT; f++)
			cands[n++] = flag_names[f];
	} else {
		for (size_t i = 0; cli_commands[i].name && n < 15; i++)
			cands[n++] = cli_commands[i].name;
	}
	cands[n] = NULL;
	c = diag_closest(word, cands);
	if (c)
		snprintf(buf, len, " (did you mean '%s%s'?)", flags ? "--" : "", c);
	else
		buf[0] = '\0';
}
