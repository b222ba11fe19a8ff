/*
 * complete.c: `cfstorage __complete WORD...`, the engine behind the bash and
 * zsh completion scripts (deploy/completion/). The shell passes the words
 * after the program name, the last one being the word under the cursor
 * (possibly empty); this prints the candidates that start with it, one a
 * line, from the same tables that parse and check the command line (cli.c):
 * commands, the flags of the command on the line, its -o formats, the kinds,
 * and the metadata.name of the resources in the -f manifests already given.
 * Nothing printed means "complete a file name". It never fails loudly: a
 * manifest that does not load just offers no names.
 */
#include "cli.h"

#include <string.h>

/* Most words looked at on one command line. */
#define COMPLETE_MAX_WORDS 1024

static const char *const kinds[] = { "R2Bucket", "KVNamespace", "Secret", "D1Database", NULL };
static const char *const log_formats[] = { "logfmt", "json", NULL };
static const char *const log_levels[] = { "debug", "info", "warn", "error", "off", NULL };

/* What the words before the cursor say. */
struct line {
	enum cli_cmd cmd;
	const char *args[2];     /* the first positional arguments after the command */
	size_t nargs;
	const char *paths[CLI_MAX_PATHS];
	size_t npaths;
};

static void
emit(FILE *out, const char *pre, const char *cand, const char *cur)
{
	size_t np = strlen(pre), nc = strlen(cur);

	/* PRE + cand must start with what was typed */
	if (np >= nc ? strncmp(pre, cur, nc) == 0
	             : strncmp(cur, pre, np) == 0 && strncmp(cand, cur + np, nc - np) == 0)
		fprintf(out, "%s%s\n", pre, cand);
}

static void
emit_list(FILE *out, const char *pre, const char *const *list, const char *cur)
{
	for (size_t i = 0; list[i]; i++)
		emit(out, pre, list[i], cur);
}

/* The flag named by a long option ("filename", "out"), or CF_COUNT. */
static enum cli_flag
flag_lookup(const char *name, size_t n)
{
	for (int f = 0; f < CF_COUNT; f++) {
		const char *fn = cli_flag_name((enum cli_flag)f);

		if (strlen(fn) == n && strncmp(fn, name, n) == 0)
			return (enum cli_flag)f;
	}
	return CF_COUNT;
}

static enum cli_flag
short_flag(char c)
{
	switch (c) {
	case 'f': return CF_FILE;
	case 'o': return CF_OUTPUT;
	case 'q': return CF_QUIET;
	case 'v': return CF_VERBOSE;
	case 'h': return CF_HELP;
	default: return CF_COUNT;
	}
}

static void
take_value(struct line *l, enum cli_flag f, const char *v)
{
	if (f == CF_FILE && strcmp(v, "-") != 0 && l->npaths < CLI_MAX_PATHS)
		l->paths[l->npaths++] = v; /* never "-": completion must not read stdin */
}

/*
 * Reads the finished words w[0..n) as getopt would: flags (long, "--x=v",
 * short clusters, Terraform's "-out"), their values, the command and its
 * positional arguments. Returns the flag still waiting for its value, or
 * CF_COUNT.
 */
static enum cli_flag
scan(struct line *l, char *const *w, size_t n)
{
	enum cli_flag pending = CF_COUNT;
	int flags_done = 0;

	for (size_t i = 0; i < n; i++) {
		const char *s = w[i];

		if (pending != CF_COUNT) {
			take_value(l, pending, s);
			pending = CF_COUNT;
		} else if (!flags_done && strcmp(s, "--") == 0) {
			flags_done = 1;
		} else if (!flags_done && (strncmp(s, "--", 2) == 0 || strcmp(s, "-out") == 0 ||
		                         strncmp(s, "-out=", 5) == 0)) {
			const char *name = s + (s[1] == '-' ? 2 : 1), *eq = strchr(name, '=');
			enum cli_flag f = flag_lookup(name, eq ? (size_t)(eq - name) : strlen(name));

			if (f != CF_COUNT && cli_flag_takes_value(f)) {
				if (eq)
					take_value(l, f, eq + 1);
				else
					pending = f;
			}
		} else if (!flags_done && s[0] == '-' && s[1] != '\0') {
			for (const char *c = s + 1; *c; c++) {
				enum cli_flag f = short_flag(*c);

				if (f != CF_COUNT && cli_flag_takes_value(f)) {
					if (c[1])
						take_value(l, f, c + 1);
					else
						pending = f;
					break;
				}
			}
		} else if (l->cmd == CLI_NONE) {
			for (size_t k = 0; cli_commands[k].name; k++)
				if (strcmp(s, cli_commands[k].name) == 0)
					l->cmd = cli_commands[k].cmd;
		} else if (l->nargs < sizeof(l->args) / sizeof(l->args[0])) {
			l->args[l->nargs++] = s;
		}
	}
	return pending;
}

/* The values flag f takes, for the command on the line. */
static void
complete_value(FILE *out, const struct line *l, enum cli_flag f, const char *pre,
               const char *cur)
{
	const char *formats = NULL;

	switch (f) {
	case CF_OUTPUT: {
		char buf[128];
		const char *list[8];
		size_t n = 0;

		(void)cli_cmd_flags(l->cmd, &formats);
		snprintf(buf, sizeof(buf), "%s", formats ? formats : "text json markdown yaml");
		for (char *save = NULL, *t = strtok_r(buf, " ", &save); t && n < 7;
		     t = strtok_r(NULL, " ", &save))
			list[n++] = t;
		list[n] = NULL;
		emit_list(out, pre, list, cur);
		break;
	}
	case CF_KIND: emit_list(out, pre, kinds, cur); break;
	case CF_LOG_FORMAT: emit_list(out, pre, log_formats, cur); break;
	case CF_LOG_LEVEL: emit_list(out, pre, log_levels, cur); break;
	default: break; /* a path, a number, a URL: the shell completes files */
	}
}

/* The metadata.name of every resource of kind k (0: any) in the -f
 * manifests, quietly nothing when they do not load. */
static void
complete_names(FILE *out, const struct line *l, enum kind k, const char *cur)
{
	struct manifest_set set;
	struct diags d;
	struct err e;

	if (l->npaths == 0)
		return;
	manifest_set_init(&set);
	diags_init(&d);
	memset(&e, 0, sizeof(e));
	if (manifest_load(l->paths, l->npaths, &set, &d, &e) != ERR_OK)
		set.n = 0; /* unreadable; a set with diagnostics still has its names */
	for (size_t i = 0; i < set.n; i++)
		if (set.items[i].name && (k == 0 || set.items[i].kind == k))
			emit(out, "", set.items[i].name, cur);
	diags_release(&d);
	manifest_set_free(&set);
}

/* The flags the command on the line takes, as --long names. */
static void
complete_flags(FILE *out, const struct line *l, const char *cur)
{
	const char *formats;
	uint64_t allowed = cli_cmd_flags(l->cmd, &formats);

	for (int f = 0; f < CF_COUNT; f++)
		if (allowed & (1ull << f))
			emit(out, "--", cli_flag_name((enum cli_flag)f), cur);
	if (l->cmd == CLI_NONE)
		emit(out, "--", "version", cur);
}

int
cli_complete(int argc, char *const argv[], FILE *out)
{
	char *w[COMPLETE_MAX_WORDS + 1];
	struct line l;
	enum cli_flag pending;
	size_t n = 0;
	const char *cur;

	memset(&l, 0, sizeof(l));
	/* bash splits "--kind=R2" into "--kind" "=" "R2": drop the "=" (and if
	 * the cursor is right after it, complete an empty value) */
	for (int i = 0; i < argc && n < COMPLETE_MAX_WORDS; i++) {
		if (strcmp(argv[i], "=") == 0 && n > 0 && strncmp(w[n - 1], "--", 2) == 0) {
			if (i == argc - 1)
				w[n++] = "";
			continue;
		}
		w[n++] = argv[i];
	}
	if (n == 0)
		w[n++] = "";
	cur = w[n - 1];
	pending = scan(&l, w, n - 1);

	if (pending != CF_COUNT) {
		complete_value(out, &l, pending, "", cur);
	} else if (strncmp(cur, "--", 2) == 0 && strchr(cur, '=')) {
		const char *eq = strchr(cur, '=');
		enum cli_flag f = flag_lookup(cur + 2, (size_t)(eq - cur - 2));
		char pre[64];

		if (f != CF_COUNT && (size_t)(eq - cur) + 1 < sizeof(pre)) {
			snprintf(pre, sizeof(pre), "%.*s", (int)(eq - cur) + 1, cur);
			complete_value(out, &l, f, pre, cur);
		}
	} else if (cur[0] == '-') {
		complete_flags(out, &l, cur);
	} else if (l.cmd == CLI_NONE) {
		for (size_t k = 0; cli_commands[k].name; k++)
			emit(out, "", cli_commands[k].name, cur);
	} else if (l.cmd == CLI_ROTATE && l.nargs == 0) {
		complete_names(out, &l, KIND_SECRET, cur);
	} else if (l.cmd == CLI_IMPORT && l.nargs == 0) {
		emit_list(out, "", kinds, cur);
	} else if (l.cmd == CLI_IMPORT && l.nargs == 1) {
		complete_names(out, &l, kind_parse(l.args[0]), cur);
	}
	fflush(out);
	return EXIT_OK;
}
