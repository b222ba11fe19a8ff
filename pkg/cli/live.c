/*
 * live.c: what cfstorage shows while a pass runs, on a terminal only — each
 * action's outcome on stdout as it completes, one progress line on stderr
 * redrawn in place, colour, and the question before deleting. None of it
 * happens when the stream is not a terminal, so what scripts read (the final
 * report, pkg/report) is the same as without it.
 *
 * A command runs one pass, so the display is one static instance. Its hooks
 * run on the thread that runs the pass: the outcome hook from apply
 * (reconcile_opts.on_outcome) and the tick from the API's poll.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "../log/log.h"
#include "../mem/mem.h"
#include "../reconcile/reconcile.h"
#include "../report/report.h"
#include "../timefmt/timefmt.h"
#include "cli.h"

static struct {
	int lines;          /* print each outcome on stdout */
	int bar;            /* draw the progress line on stderr */
	int color;          /* paint the markers on stdout */
	int ask;            /* ask before deleting */
	int shown;          /* the progress line is on the screen */
	int applying;       /* the plan is made: done/total */
	size_t done, total;
	int64_t start_ms, drawn_ms;
	pthread_t owner;    /* the thread that runs the pass (and draws) */
	struct api *api;
	int (*accept)(const struct plan *p, const struct snapshot *snap, void *user);
	void *accept_user;
} live;


/*
 * Colour on fd: a terminal, --no-color not given, NO_COLOR unset or empty
 * (no-color.org) and TERM not "dumb".
 */
int
cli_color(int fd, const struct cli_opts *o)
{
	const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");

	if (o->no_color || (nc && *nc) || (term && strcmp(term, "dumb") == 0))
		return 0;
	return isatty(fd);
}

/* Takes the progress line off the screen (before other output). */
static void
erase(void)
{
	if (!live.shown)
		return;
	fputs("\r\033[K", stderr);
	fflush(stderr);
	live.shown = 0;
}

/* log_set_before_line: a log line takes the progress line's place (it is
 * drawn again at the next tick). Only on the pass's thread: another one's
 * line (the embedded emulator's) may share the progress line's. */
static void
before_log(void)
{
	if (pthread_equal(pthread_self(), live.owner))
		erase();
}

/*
 * Draws the progress line once the pass has run for CLI_LIVE_AFTER_MS, at
 * most every CLI_LIVE_REDRAW_MS: done/total once the plan is made, the
 * requests so far, the waits for the rate budget or a Retry-After, and the
 * time. Cut to the terminal's width so that '\r' redraws it in place.
 */
static void
draw(void)
{
	const struct api_stats *s;
	struct winsize ws;
	char line[160];
	int64_t now = mono_ms(), el = now - live.start_ms;
	size_t cols = sizeof(line) - 1;
	int n;

	if (!live.bar || el < CLI_LIVE_AFTER_MS || now - live.drawn_ms < CLI_LIVE_REDRAW_MS)
		return;
	s = api_get_stats(live.api);
	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 && ws.ws_col - 1u < cols)
		cols = ws.ws_col - 1u;
	if (live.applying)
		n = snprintf(line, sizeof(line), "applying: %zu/%zu done, ", live.done, live.total);
	else
		n = snprintf(line, sizeof(line), "reading the account: ");
	snprintf(line + n, sizeof(line) - (size_t)n, "%lu request%s, %lu rate-limit wait%s, "
	         "%lld.%llds", s->requests, s->requests == 1 ? "" : "s", s->rate_waits,
	         s->rate_waits == 1 ? "" : "s", (long long)(el / 1000), (long long)(el % 1000 / 100));
	line[cols] = '\0';
	fprintf(stderr, "\r%s\033[K", line);
	fflush(stderr);
	live.shown = 1;
	live.drawn_ms = now;
}

void
cli_live_tick(void)
{
	if (live.api)
		draw();
}

/* What an action came to, in a word. */
static const char *
done_word(enum plan_op op)
{
	switch (op) {
	case PLAN_CREATE: return "created";
	case PLAN_UPDATE: return "updated";
	case PLAN_DELETE: return "deleted";
	case PLAN_ADOPT: return "adopted";
	case PLAN_FORGET: return "forgotten";
	case PLAN_ROTATE: return "rotated";
	case PLAN_NOOP: return "recorded";
	case PLAN_REFUSE: return "refused";
	}
	return "done";
}

/* apply_outcome_fn: "  + R2Bucket logs: created", or "  ! ...: the failure". */
static void
on_outcome(const struct plan_action *a, const char *failure, void *user)
{
	const char *sign = failure ? "!" : report_sign(a->op);
	const char *sgr = live.color ? report_sgr(sign) : "";
	char *rest;

	(void)user;
	if (a->op != PLAN_NOOP)
		live.done++;
	if (live.lines && (a->op != PLAN_NOOP || failure)) {
		erase();
		printf("  %s%s%s ", sgr, sign, *sgr ? REPORT_SGR_RESET : "");
		rest = xasprintf("%s %s: %s", kind_name(a->kind), a->name,
		                 failure ? failure : done_word(a->op));
		log_fputs_text(stdout, rest); /* names and messages made visible */
		free(rest);
		fputc('\n', stdout);
		fflush(stdout);
	}
	live.drawn_ms = 0;
	draw();
}

/* The terminal to ask on: stdin when it is one, else /dev/tty; NULL for
 * none (then apply does not ask). Close with fclose() unless stdin. */
static FILE *
answer_tty(void)
{
	int fd;
	FILE *f;

	if (isatty(STDIN_FILENO))
		return stdin;
	if ((fd = open("/dev/tty", O_RDONLY | O_NOCTTY | O_CLOEXEC)) < 0)
		return NULL;
	if ((f = fdopen(fd, "r")) == NULL)
		close(fd);
	return f;
}

/*
 * Asks before a plan that deletes (Terraform's manner): lists what goes and
 * takes only "yes". 0 to go on; 1 when declined, at end of input, or when
 * the read was interrupted.
 */
static int
confirm(const struct plan *p)
{
	size_t n = p->counts[PLAN_DELETE];
	char answer[CLI_ANSWER_MAX];
	FILE *in;
	int rc;

	if (!live.ask || n == 0 || (in = answer_tty()) == NULL)
		return 0;
	erase();
	printf("\ncfstorage will delete %s:\n\n", n == 1 ? "this resource" : "these resources");
	for (size_t i = 0; i < p->n; i++) {
		const struct plan_action *a = &p->v[i];
		const char *sgr = live.color ? report_sgr("-") : "";
		char *rest;

		if (a->op != PLAN_DELETE)
			continue;
		printf("  %s-%s ", sgr, *sgr ? REPORT_SGR_RESET : "");
		rest = xasprintf("%s %s: delete %s", kind_name(a->kind), a->name, a->what ? a->what : "");
		log_fputs_text(stdout, rest);
		free(rest);
		fputc('\n', stdout);
	}
	printf("\nDelete %zu resource%s? Only 'yes' will be accepted: ", n, n == 1 ? "" : "s");
	fflush(stdout);
	if (fgets(answer, sizeof(answer), in) == NULL) {
		printf("\n"); /* end of input or an interrupt: no answer was echoed */
		rc = 1;
	} else {
		rc = strcmp(answer, "yes\n") != 0;
	}
	if (in != stdin)
		fclose(in);
	fflush(stdout);
	live.start_ms = live.drawn_ms = mono_ms(); /* the wait for an answer is not work */
	return rc;
}

/* reconcile_opts.accept: the plan is made; ask if it deletes, then the
 * caller's own check (a saved plan's). */
static int
accept(const struct plan *p, const struct snapshot *snap, void *user)
{
	(void)user;
	live.total = 0;
	for (size_t i = 0; i < p->n; i++)
		if (p->v[i].op != PLAN_NOOP && p->v[i].op != PLAN_REFUSE)
			live.total++;
	if (live.accept && live.accept(p, snap, live.accept_user) != 0)
		return 1;
	if (confirm(p) != 0)
		return 1;
	live.applying = 1;
	return 0;
}

void
cli_live_wire(const struct cli_opts *o, struct api *a, struct reconcile_opts *ro, int ask)
{
	int text = !o->json && !o->markdown && !o->quiet;

	memset(&live, 0, sizeof(live));
	live.api = a;
	live.owner = pthread_self();
	live.start_ms = mono_ms();
	live.bar = !o->quiet && isatty(STDERR_FILENO);
	if (live.bar)
		log_set_before_line(before_log);
	if (ro->mode != RECONCILE_APPLY)
		return;
	live.lines = text && isatty(STDOUT_FILENO);
	live.color = live.lines && cli_color(STDOUT_FILENO, o);
	live.ask = ask && !o->yes && isatty(STDOUT_FILENO);
	live.accept = ro->accept;
	live.accept_user = ro->accept_user;
	ro->accept = accept;
	ro->accept_user = NULL;
	ro->on_outcome = on_outcome;
	ro->outcome_user = NULL;
}

void
cli_live_end(void)
{
	log_set_before_line(NULL);
	erase();
	live.api = NULL;
}
