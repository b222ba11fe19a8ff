#include "daemon.h"

#include <errno.h>
#include <openssl/evp.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include "../log/log.h"
#include "../reconcile/reconcile.h"
#include "../secret/secret.h"
#include "../state/state_r2.h"
#include "../timefmt/timefmt.h"
#include "daemon_int.h"

enum reason { R_START, R_CHANGE, R_INTERVAL, R_HUP, R_ROTATION, R_BACKOFF, R_RETRY };
static const char *reason_names[] = { "start", "manifest-change", "interval", "sighup",
	                              "rotation-due", "backoff-expired", "retry" };

struct backoff {
	enum kind kind;
	char *name;
	unsigned failures;
	int64_t until;           /* monotonic ms */
};

/* A resource the last pass refused, and why: logged when the reason changes. */
struct refusal {
	enum kind kind;
	char *name;
	char *reason;
};

struct loop {
	const struct daemon_opts *o;
	struct manifest_set set;
	struct state *st;
	struct api *api;
	int sigfd, infd, epfd;
	struct metrics m;
	struct http *http;
	struct backoff *bo;
	size_t nbo;
	int stopping;
	int64_t next_interval, debounce, pass_errors_until;
	unsigned pass_errors;
	int hup;
	int was_leader;
	int64_t next_campaign;
	uint64_t rng;
	unsigned char applied[32]; /* set_digest of the manifests the loop holds */
	struct refusal *refused;   /* the last pass's refusals, by resource */
	size_t nrefused;
	struct sched sched;        /* the observation rotation (schedule.c) */
	int64_t started;           /* monotonic ms the loop started */
	unsigned lists;            /* list-level reads a pass makes (the last one's) */
	unsigned reserve;          /* reads of the share kept for manifest changes */
	int64_t coverage_ms;       /* the coverage period last logged (0: none yet) */
	int64_t pass_ms;           /* how long the last pass took */
	int64_t interval_ms;       /* --interval, or DAEMON_TEST_INTERVAL_ENV's */
	int64_t paced_ms;          /* the stretched interval last logged */
};


static int64_t
wall_now(const struct loop *l)
{
	return (int64_t)time(NULL) + l->o->now_offset;
}

static int64_t
jittered(struct loop *l, int64_t ms)
{
	/* ±10%, so replicas and restarts do not beat in step */
	l->rng ^= l->rng << 13;
	l->rng ^= l->rng >> 7;
	l->rng ^= l->rng << 17;
	return ms - ms / 10 + (int64_t)(l->rng % (uint64_t)(ms / 5 + 1));
}

/* Reads pending signals; returns 1 when a stop was asked for. */
static int
drain_signals(struct loop *l)
{
	struct signalfd_siginfo si;

	while (read(l->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
			if (!l->stopping)
				log_info("stopping", "signal=%s", si.ssi_signo == SIGTERM ? "TERM" : "INT");
			l->stopping = 1;
		} else if (si.ssi_signo == SIGHUP) {
			l->hup = 1;
		}
	}
	return l->stopping;
}

static int
cancel_cb(void *user)
{
	struct loop *l = user;

	/* a leader that lost its lease starts no new call */
	return drain_signals(l) || !state_is_leader(l->st);
}

static void
observe_request(const char *method, const char *route, long status, void *user)
{
	struct loop *l = user;
	char labels[600];

	snprintf(labels, sizeof(labels), "method=\"%s\",route=\"%s\",code=\"%ld\"", method,
	         route, status);
	pthread_mutex_lock(&l->m.lock);
	series_add(l->m.requests, &l->m.nrequests, labels, 1, 0);
	pthread_mutex_unlock(&l->m.lock);
}

/* ---- watching the manifests ---- */

/*
 * Watches path (a file's folder, or a folder and every folder below it).
 * Symlinks are followed, but each folder is watched once (seen, by device
 * and inode) and at most MANIFEST_MAX_DIRS of them, so a symlink loop or
 * fan-out costs one watch per folder, as manifest_load's walk does.
 */
static void
watch_tree(struct loop *l, const char *path, int depth, struct manifest_dirset *seen)
{
	struct stat st;
	DIR *d;
	struct dirent *de;

	if (stat(path, &st) != 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		/* a file: watch its directory, so rename-on-save is seen */
		char *copy = xstrdup(path), *slash = strrchr(copy, '/');

		if (slash)
			*slash = '\0';
		(void)inotify_add_watch(l->infd, slash ? (copy[0] ? copy : "/") : ".",
		                        IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE |
		                        IN_DELETE | IN_ATTRIB);
		free(copy);
		return;
	}
	if (!manifest_dirset_add(seen, (uint64_t)st.st_dev, (uint64_t)st.st_ino) ||
	    seen->n > MANIFEST_MAX_DIRS)
		return;
	(void)inotify_add_watch(l->infd, path, IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM |
	                        IN_CREATE | IN_DELETE | IN_ATTRIB | IN_DELETE_SELF);
	if (depth >= MANIFEST_MAX_DIR_DEPTH || (d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char *sub;

		if (de->d_name[0] == '.')
			continue; /* ".", "..", and hidden folders, which -f DIR skips too */
		sub = xasprintf("%s/%s", path, de->d_name);
		if (stat(sub, &st) == 0 && S_ISDIR(st.st_mode))
			watch_tree(l, sub, depth + 1, seen);
		free(sub);
	}
	closedir(d);
}

static void
rewatch(struct loop *l)
{
	struct manifest_dirset seen = { 0 };

	if (l->infd >= 0) {
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, l->infd, NULL);
		close(l->infd);
	}
	l->infd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (l->infd < 0)
		return;
	for (size_t i = 0; i < l->o->npaths; i++)
		if (strcmp(l->o->paths[i], "-") != 0)
			watch_tree(l, l->o->paths[i], 0, &seen);
	/* D1 migrations folders: a new .sql file is a new migration */
	for (size_t i = 0; i < l->set.n; i++)
		if (l->set.items[i].kind == KIND_D1DATABASE && l->set.items[i].u.d1.migrations_real)
			watch_tree(l, l->set.items[i].u.d1.migrations_real, 0, &seen);
	manifest_dirset_release(&seen);
	{
		struct epoll_event ev = { .events = EPOLLIN, .data.fd = l->infd };

		epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->infd, &ev);
	}
}

/*
 * Reloads the manifests; a valid set replaces the last good one. Returns 0
 * when the set is invalid or unreadable (the last good one stays), 1 when it
 * is valid and says what the last one said, 2 when it changed.
 */
static int
reload(struct loop *l)
{
	struct manifest_set set;
	struct diags d;
	struct err e;
	enum errcode rc = ERR_OK;
	int ok;

	manifest_set_init(&set);
	diags_init(&d);
	err_clear(&e);
	for (size_t i = 0; i < l->o->npath_roots && rc == ERR_OK; i++)
		rc = manifest_set_allow_root(&set, l->o->path_roots[i], &e);
	if (rc != ERR_OK || manifest_load(l->o->paths, l->o->npaths, &set, &d, &e) != ERR_OK ||
	    (d.n == 0 && manifest_hash_entries(&set, &e) != ERR_OK)) {
		log_error("manifests unreadable; keeping the last good set", "error=\"%s\"", e.msg);
		ok = 0;
	} else if (d.n) {
		diags_sort(&d);
		for (size_t i = 0; i < d.n && i < 20; i++)
			log_error("manifest invalid", "file=\"%s\" line=%u col=%u error=\"%s\"",
			          d.v[i].file, d.v[i].line, d.v[i].col, d.v[i].msg);
		log_error("manifests invalid; keeping the last good set and making no writes "
		          "for the change", "errors=%zu", d.n);
		ok = 0;
	} else {
		unsigned char dg[32];

		manifest_set_fingerprint(&set, dg);
		ok = memcmp(dg, l->applied, sizeof(dg)) != 0 ? 2 : 1;
		if (ok == 2) /* what changed is observed at once */
			sched_rebuild(&l->sched, &set, &l->set);
		manifest_set_free(&l->set);
		l->set = set; /* hand-over: the loop owns the new set */
		manifest_set_init(&set);
		memcpy(l->applied, dg, sizeof(dg));
		if (ok == 2)
			log_info("manifests loaded", "resources=%zu files=%zu", l->set.n, l->set.nfiles);
		else
			log_debug("manifests unchanged", "files=%zu", l->set.nfiles);
	}
	manifest_set_free(&set);
	diags_release(&d);
	pthread_mutex_lock(&l->m.lock);
	l->m.manifests_valid = ok != 0;
	pthread_mutex_unlock(&l->m.lock);
	rewatch(l);
	return ok;
}

/* ---- backoff ---- */

static struct backoff *
bo_find(struct loop *l, enum kind k, const char *name)
{
	for (size_t i = 0; i < l->nbo; i++)
		if (l->bo[i].kind == k && strcmp(l->bo[i].name, name) == 0)
			return &l->bo[i];
	return NULL;
}

static void
bo_fail(struct loop *l, enum kind k, const char *name, int64_t now)
{
	struct backoff *b = bo_find(l, k, name);
	int64_t d = DAEMON_BACKOFF_MIN_MS;

	if (b == NULL) {
		l->bo = xrealloc(l->bo, (l->nbo + 1) * sizeof(*l->bo));
		b = &l->bo[l->nbo++];
		b->kind = k;
		b->name = xstrdup(name);
		b->failures = 0;
	}
	for (unsigned i = 0; i < b->failures && d < DAEMON_BACKOFF_MAX_MS; i++)
		d *= 2;
	if (d > DAEMON_BACKOFF_MAX_MS)
		d = DAEMON_BACKOFF_MAX_MS;
	b->failures++;
	b->until = now + d;
	log_warn("resource backing off", "kind=%s name=%s failures=%u retry_in_ms=%lld",
	         kind_name(k), name, b->failures, (long long)d);
}

static void
bo_clear(struct loop *l, enum kind k, const char *name)
{
	struct backoff *b = bo_find(l, k, name);

	if (b == NULL)
		return;
	free(b->name);
	*b = l->bo[--l->nbo];
}

/* ---- metrics from the state ---- */

static void
gauges(struct loop *l)
{
	pthread_mutex_lock(&l->m.lock);
	series_clear(l->m.resources, &l->m.nresources);
	for (int k = KIND_R2BUCKET; k <= KIND_KVNAMESPACE; k++) {
		const char *conds[] = { "Ready", "Failed", "Pending", "Refused" };

		for (int c = 0; c < 4; c++) {
			char labels[128];

			snprintf(labels, sizeof(labels), "kind=\"%s\",condition=\"%s\"",
			         kind_name((enum kind)k), conds[c]);
			series_add(l->m.resources, &l->m.nresources, labels, 0, 1);
		}
	}
	for (size_t i = 0; i < l->st->n; i++) {
		const struct inv_entry *x = l->st->v[i];
		const char *cond = x->pending ? "Pending" : x->condition &&
		                   strncmp(x->condition, "Failed", 6) == 0 ? "Failed" : "Ready";
		char labels[128];

		snprintf(labels, sizeof(labels), "kind=\"%s\",condition=\"%s\"", kind_name(x->kind),
		         cond);
		series_add(l->m.resources, &l->m.nresources, labels, 1, 0);
	}
	for (size_t i = 0; i < l->nrefused; i++) {
		char labels[128];

		snprintf(labels, sizeof(labels), "kind=\"%s\",condition=\"Refused\"",
		         kind_name(l->refused[i].kind));
		series_add(l->m.resources, &l->m.nresources, labels, 1, 0);
	}
	series_clear(l->m.secret_version, &l->m.nsecret_version);
	series_clear(l->m.secret_next, &l->m.nsecret_next);
	for (size_t i = 0; i < l->st->nsecrets; i++) {
		const struct sec_ledger *g = l->st->secrets[i];
		const struct sec_version *cur = ledger_current(g);
		char labels[160];

		snprintf(labels, sizeof(labels), "name=\"%s\"", g->name);
		series_add(l->m.secret_version, &l->m.nsecret_version, labels, cur ? cur->n : 0, 1);
		for (size_t k = 0; cur && k < l->set.n; k++)
			if (l->set.items[k].kind == KIND_SECRET &&
			    strcmp(l->set.items[k].name, g->name) == 0 &&
			    secret_next_due(&l->set.items[k].u.secret, cur->created) != INT64_MAX)
				series_add(l->m.secret_next, &l->m.nsecret_next, labels,
				           (double)secret_next_due(&l->set.items[k].u.secret, cur->created), 1);
	}
	pthread_mutex_unlock(&l->m.lock);
}

/* The next time (monotonic ms) a rotation falls due, or INT64_MAX. */
static int64_t
next_rotation(struct loop *l)
{
	int64_t best = INT64_MAX, now = mono_ms(), wall = wall_now(l);

	for (size_t i = 0; i < l->set.n; i++) {
		const struct resource *r = &l->set.items[i];
		const struct sec_ledger *g;
		const struct sec_version *cur;
		int64_t due, at;

		if (r->kind != KIND_SECRET)
			continue;
		g = state_ledger(l->st, r->name);
		cur = ledger_current(g);
		if (cur == NULL)
			continue; /* created by the pass that is running anyway */
		due = secret_next_due(&r->u.secret, cur->created);
		if (due == INT64_MAX)
			continue;
		at = due <= wall ? now : now + (due - wall) * 1000;
		{
			const struct backoff *b = bo_find(l, KIND_SECRET, r->name);

			if (b && b->until > at)
				at = b->until; /* a failing rotation waits for its backoff */
			if (l->pass_errors_until > at)
				at = l->pass_errors_until; /* so does everything while passes fail */
		}
		if (at < best)
			best = at;
	}
	return best;
}

/* ---- one reconcile pass ---- */

static void
refusals_free(struct refusal *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].reason);
	}
	free(v);
}

/*
 * The plan's refusals (not the daemon's own holds): each logged once per
 * change of reason, not every pass, and kept for the Refused gauge. Returns
 * how many there are.
 */
static size_t
refusals(struct loop *l, const struct plan *p)
{
	struct refusal *now = xcalloc(p->n + 1, sizeof(*now));
	size_t n = 0;

	for (size_t i = 0; i < p->n; i++) {
		const struct plan_action *a = &p->v[i];
		const char *was = NULL;

		if (a->op != PLAN_REFUSE || a->held)
			continue;
		for (size_t k = 0; k < l->nrefused && !was; k++)
			if (l->refused[k].kind == a->kind && strcmp(l->refused[k].name, a->name) == 0)
				was = l->refused[k].reason;
		if (was == NULL || strcmp(was, a->reason ? a->reason : "") != 0)
			log_warn("refused", "kind=%s name=%s reason=\"%s\"", kind_name(a->kind), a->name,
			         a->reason ? a->reason : "");
		now[n].kind = a->kind;
		now[n].name = xstrdup(a->name);
		now[n].reason = xstrdup(a->reason ? a->reason : "");
		n++;
	}
	refusals_free(l->refused, l->nrefused);
	l->refused = now;
	l->nrefused = n;
	return n;
}

/*
 * The Degraded Secrets of a plan (retained versions that a target lost): a
 * gauge per Secret, and a warning whenever a Secret's count changes, so a
 * loss is logged once rather than every pass.
 */
static void
secrets_lost(struct loop *l, const struct plan *p)
{
	pthread_mutex_lock(&l->m.lock);
	for (size_t i = 0; i < p->n; i++) {
		const struct plan_action *a = &p->v[i];
		char labels[160];
		double was = 0;

		if (a->kind != KIND_SECRET || a->want == NULL)
			continue;
		snprintf(labels, sizeof(labels), "name=\"%s\"", a->name);
		for (size_t k = 0; k < l->m.nsecret_lost; k++)
			if (strcmp(l->m.secret_lost[k].labels, labels) == 0)
				was = l->m.secret_lost[k].value;
		if ((double)a->lost != was && a->lost)
			log_warn("secret versions lost", "name=%s lost=%u reason=\"%s\"", a->name,
			         a->lost, a->reason ? a->reason : "");
		series_add(l->m.secret_lost, &l->m.nsecret_lost, labels, (double)a->lost, 1);
	}
	pthread_mutex_unlock(&l->m.lock);
}

/*
 * The interval passes actually run at: --interval, stretched when the list
 * reads of the passes of one window would take more than half of what the
 * share leaves after its reserve, so list reads never crowd the rotation out
 * nor wait for the budget (a pass that waited would delay a manifest change).
 * The naive loop (--observe-all) keeps --interval and waits.
 */
static int64_t
pace_of(unsigned limit, unsigned reserve, unsigned lists, int64_t window, int64_t interval,
        int all)
{
	int64_t half = limit > reserve ? (int64_t)(limit - reserve) / 2 : 1;
	int64_t allowed, min_iv;

	if (all)
		return interval;
	/* a round spends the lists of 2P - 1 passes (sched_coverage) */
	allowed = (half / (lists ? lists : 1) + 1) / 2;
	if (allowed < 1)
		allowed = 1;
	/* ceil(window / (0.9 * interval)) passes fit in one window */
	min_iv = window * 10 / (9 * allowed) + 1;
	return interval > min_iv ? interval : min_iv;
}

static int64_t
pace(const struct loop *l)
{
	return pace_of(api_read_limit(l->api), l->reserve, l->lists,
	               (int64_t)api_rate_secs(l->api) * 1000 + API_RATE_SLACK_MS, l->interval_ms,
	               l->o->observe_all);
}

/*
 * The coverage period for the current set, share and interval: exported, and
 * logged at start and whenever it changes by more than a tenth (it moves a
 * little with the list reads a pass needs and how long a pass takes).
 */
static void
coverage(struct loop *l)
{
	unsigned limit = api_read_limit(l->api);
	int64_t window = (int64_t)api_rate_secs(l->api) * 1000 + API_RATE_SLACK_MS;
	int64_t iv = pace(l);
	int64_t c = sched_coverage(l->sched.n, limit, l->reserve, l->lists, window,
	                           iv, l->pass_ms, l->o->observe_all);
	int64_t was = l->coverage_ms, ages[OBS_NPARTS], now = mono_ms();
	unsigned long wr, wa;

	sched_ages(&l->sched, now, l->started, ages);
	api_window(l->api, &wr, &wa);
	pthread_mutex_lock(&l->m.lock);
	l->m.coverage_s = c < 0 ? -1 : (double)c / 1000.0;
	for (int p = 0; p < OBS_NPARTS; p++)
		l->m.oldest_at[p] = ages[p] < 0 ? -1 : now - ages[p];
	l->m.win_reads = wr;
	l->m.win_all = wa;
	l->m.read_limit = limit;
	l->m.all_limit = api_rate_n(l->api);
	pthread_mutex_unlock(&l->m.lock);
	if (was != 0 && c >= 0 && was >= 0 && c - was <= was / 10 && was - c <= was / 10)
		return;
	l->coverage_ms = c ? c : 1;
	if (c < 0)
		log_warn("drift coverage unbounded: the read share does not cover the list reads",
		         "read_share=%u per_s=%u lists_per_pass=%u interval_ms=%lld", limit,
		         api_rate_secs(l->api), l->lists, (long long)iv);
	else
		log_info("drift coverage", "coverage_s=%lld parts=%zu read_share=%u per_s=%u "
		         "reserve=%u lists_per_pass=%u interval_ms=%lld rotation=%s",
		         (long long)((c + 999) / 1000), l->sched.n, limit, api_rate_secs(l->api),
		         l->reserve, l->lists, (long long)iv, l->o->observe_all ? "off" : "on");
	if (iv != l->interval_ms && iv != l->paced_ms)
		log_warn("interval stretched to fit the list reads in the read share",
		         "interval_ms=%lld wanted_ms=%lld lists_per_pass=%u read_share=%u",
		         (long long)iv, (long long)l->interval_ms, l->lists, limit);
	l->paced_ms = iv;
}

/* What each applied action changed, one line per field (as plan prints it). */
static void
change_lines(const struct plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		const struct plan_action *a = &p->v[i];

		if (a->held || a->op == PLAN_NOOP || a->op == PLAN_REFUSE)
			continue;
		for (size_t k = 0; k < a->nchanges; k++) {
			const struct plan_change *c = &a->changes[k];

			log_info("change", "kind=%s name=%s op=%s field=%s sign=%c change=\"%s\"",
			         kind_name(a->kind), a->name, plan_op_name(a->op),
			         c->field ? c->field : "", c->sign, c->text ? c->text : "");
		}
	}
}

/*
 * Picks the parts this pass reads: those of resources whose backoff is over
 * first, then the rotation's, as many as the share has room for now, less
 * the reserve for manifest changes and the list reads of every pass that can
 * start before these reads leave the window, so a pass never waits for the
 * budget. Returns how many.
 */
static size_t
pick_parts(struct loop *l, int64_t now)
{
	int64_t iv = pace(l), imin = iv - iv / 10;
	int64_t window = (int64_t)api_rate_secs(l->api) * 1000 + API_RATE_SLACK_MS;
	size_t keep = (size_t)l->reserve + (size_t)l->lists *
	              (size_t)(imin >= window ? 1 : (window + imin - 1) / imin);
	size_t room = api_read_room(l->api);

	for (size_t k = 0; k < l->nbo; k++)
		if (l->bo[k].until <= now)
			sched_mark_urgent(&l->sched, l->bo[k].kind, l->bo[k].name);
	return sched_pick(&l->sched, room > keep ? room - keep : 0, l->o->observe_all);
}

/* Counts what a pass did and moves each resource's backoff: a failure backs
 * off, anything else clears it, a resource that left the manifests drops it. */
static void
tally(struct loop *l, const struct reconcile_result *r, size_t *applied, size_t *failed,
      size_t *skipped)
{
	int64_t now = mono_ms();

	for (size_t i = 0; i < r->plan.n; i++) {
		const struct plan_action *a = &r->plan.v[i];
		int bad = 0;

		for (size_t k = 0; r->applied && k < r->res.nfailures; k++)
			if (r->res.failures[k].kind == a->kind &&
			    strcmp(r->res.failures[k].name, a->name) == 0)
				bad = 1;
		if (a->held) {
			(*skipped)++;
		} else if (bad) {
			bo_fail(l, a->kind, a->name, now);
			(*failed)++;
		} else {
			/* done, or nothing to do any more (reverted, refused, gone):
			 * a stale backoff would wake the loop for nothing */
			bo_clear(l, a->kind, a->name);
			if (a->op != PLAN_NOOP && a->op != PLAN_REFUSE)
				(*applied)++;
		}
	}
	for (size_t k = 0; k < l->nbo;) {
		int seen = 0;

		for (size_t i = 0; i < r->plan.n && !seen; i++)
			seen = r->plan.v[i].kind == l->bo[k].kind &&
			       strcmp(r->plan.v[i].name, l->bo[k].name) == 0;
		if (seen) {
			k++;
		} else {
			free(l->bo[k].name); /* the resource left the manifests */
			l->bo[k] = l->bo[--l->nbo];
		}
	}
}

/* A finished pass in the metrics: its result, duration, budget waits and the
 * drift it corrected (changes no manifest edit asked for). */
static void
record_pass(struct loop *l, int result, double secs, unsigned long waits, size_t drift)
{
	pthread_mutex_lock(&l->m.lock);
	l->m.reconciles[result]++;
	for (int i = 0; i < DAEMON_HIST_BUCKETS; i++)
		if (secs <= l->m.hist_le[i]) {
			l->m.hist[i]++;
			break;
		}
	l->m.hist_sum += secs;
	l->m.hist_count++;
	l->m.rate_waits += waits;
	l->m.drift += drift;
	l->m.last_reconcile = (double)wall_now(l);
	l->m.pass_started = 0;
	l->m.ready = 1;
	pthread_mutex_unlock(&l->m.lock);
}

static void
pass(struct loop *l, enum reason why)
{
	struct reconcile_opts ro;
	struct reconcile_result r;
	struct plan_hold *holds = xcalloc(l->nbo + 1, sizeof(*holds));
	struct err e;
	int64_t t0 = mono_ms(), now = t0;
	unsigned long waits0 = api_get_stats(l->api)->rate_waits;
	size_t applied = 0, failed = 0, skipped = 0;
	unsigned long req_done = 0;
	size_t refused = 0, picked;
	unsigned long reads_done = 0, writes_done = 0, win_reads, win_all;
	struct observe_sel sel = { sched_want, &l->sched };
	int result;

	pthread_mutex_lock(&l->m.lock);
	l->m.pass_started = t0;
	pthread_mutex_unlock(&l->m.lock);
	memset(&ro, 0, sizeof(ro));
	ro.mode = RECONCILE_APPLY;
	ro.plan.prune = l->o->prune;
	ro.plan.allow_empty = l->o->allow_empty;
	ro.plan.now = wall_now(l);
	/* resources backing off after a failure wait: planned as held */
	for (size_t k = 0; k < l->nbo; k++)
		if (l->bo[k].until > now) {
			holds[ro.plan.nholds].kind = l->bo[k].kind;
			holds[ro.plan.nholds].name = l->bo[k].name;
			holds[ro.plan.nholds].why = "backing off after a failure";
			ro.plan.nholds++;
		}
	ro.plan.holds = holds;
	picked = pick_parts(l, now);
	ro.observe = &sel;
	err_clear(&e);
	if (reconcile_pass(l->api, &l->set, l->st, &ro, &r, &e) != ERR_OK) {
		log_error("observe failed", "reason=%s error=\"%s\"", reason_names[why], e.msg);
		result = 2;
		l->pass_errors++;
		req_done = r.requests;
		reads_done = r.requests - r.writes;
		writes_done = r.writes;
		reconcile_result_release(&r);
		free(holds);
		goto done;
	}
	sched_commit(&l->sched, t0);
	/* the list reads of this pass: its reads less the parts it picked */
	reads_done = r.requests - r.writes;
	writes_done = r.writes;
	{
		unsigned long rest = reads_done > picked ? reads_done - picked : 1;

		l->lists = (unsigned)(rest > UINT_MAX ? UINT_MAX : rest);
	}
	if (r.applied)
		change_lines(&r.plan);
	secrets_lost(l, &r.plan);
	refused = refusals(l, &r.plan);
	tally(l, &r, &applied, &failed, &skipped);
	for (size_t k = 0; r.applied && k < r.res.nfailures; k++)
		log_warn("apply failed", "kind=%s name=%s error=\"%s\"",
		         kind_name(r.res.failures[k].kind), r.res.failures[k].name, r.res.failures[k].msg);
	if (r.applied && r.res.state_error)
		log_error("state not saved", "error=\"%s\"", r.res.state_err.msg);
	result = r.applied && r.res.state_error ? 2 : failed ? 1 : 0;
	l->pass_errors = r.applied && r.res.state_error ? l->pass_errors + 1 : 0;
	req_done = r.requests;
	reconcile_result_release(&r);
	free(holds);
done:
	/* the snapshot and plan just freed are tens of MB at 10,000 resources:
	 * give their pages back instead of holding the high-water mark */
	malloc_trim(0);
	l->pass_ms = mono_ms() - t0;
	coverage(l);
	api_window(l->api, &win_reads, &win_all);
	record_pass(l, result, (double)(mono_ms() - t0) / 1000.0,
	            api_get_stats(l->api)->rate_waits - waits0, why == R_INTERVAL ? applied : 0);
	gauges(l);
	log_info("reconcile done", "reason=%s result=%s applied=%zu failed=%zu refused=%zu "
	         "backing_off=%zu requests=%lu reads=%lu writes=%lu parts_read=%zu "
	         "window_reads=%lu read_share=%u window_requests=%lu budget=%u duration_ms=%lld",
	         reason_names[why], result == 0 ? "ok" : result == 1 ? "partial" : "error",
	         applied, failed, refused, skipped, req_done, reads_done, writes_done, picked,
	         win_reads, api_read_limit(l->api), win_all, api_rate_n(l->api),
	         (long long)(mono_ms() - t0));
	if (l->pass_errors) {
		int64_t d = DAEMON_BACKOFF_MIN_MS;

		for (unsigned i = 1; i < l->pass_errors && d < DAEMON_BACKOFF_MAX_MS; i++)
			d *= 2;
		l->pass_errors_until = mono_ms() + (d > DAEMON_BACKOFF_MAX_MS ? DAEMON_BACKOFF_MAX_MS : d);
	} else {
		l->pass_errors_until = 0;
	}
	l->next_interval = mono_ms() + jittered(l, pace(l));
}

/* 1 when a file event's name can be a manifest: a *.yaml or *.yml, a folder
 * (it may hold some), or a file named by -f; never a name starting with '.'
 * (the state under .cfstorage/, editor swap files), as -f DIR reads them. */
static int
manifest_name(const struct loop *l, const struct inotify_event *ev)
{
	const char *n = ev->name, *dot;

	if (ev->len == 0 || (ev->mask & (IN_DELETE_SELF | IN_IGNORED | IN_Q_OVERFLOW)))
		return 1; /* a watched folder itself changed, or events were lost */
	if (n[0] == '.')
		return 0;
	if (ev->mask & IN_ISDIR)
		return 1;
	dot = strrchr(n, '.');
	if (dot && (strcmp(dot, ".yaml") == 0 || strcmp(dot, ".yml") == 0 ||
	            strcmp(dot, ".sql") == 0)) /* .sql: a D1 migration */
		return 1;
	for (size_t i = 0; i < l->o->npaths; i++) {
		const char *slash = strrchr(l->o->paths[i], '/');

		if (strcmp(slash ? slash + 1 : l->o->paths[i], n) == 0)
			return 1;
	}
	return 0;
}

/* Drains the inotify queue; 1 when some event can concern a manifest. */
static int
manifest_event(struct loop *l)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t len;
	int any = 0;

	while ((len = read(l->infd, buf, sizeof(buf))) > 0)
		for (char *p = buf; p < buf + len;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			any |= manifest_name(l, ev);
			p += sizeof(*ev) + ev->len;
		}
	return any;
}

/* Waits up to timeout_ms for a signal or a manifest change, and takes them. */
static void
wait_events(struct loop *l, int64_t timeout_ms)
{
	struct epoll_event evs[4];
	int n = epoll_wait(l->epfd, evs, 4, (int)(timeout_ms > 60000 ? 60000
	                                          : timeout_ms > 0 ? timeout_ms : 1));

	for (int i = 0; i < n; i++) {
		if (evs[i].data.fd == l->sigfd) {
			drain_signals(l);
		} else if (evs[i].data.fd == l->infd && manifest_event(l)) {
			l->debounce = mono_ms() + DAEMON_DEBOUNCE_MS;
		}
	}
}

/*
 * A replica that is not the leader serves its probes, campaigns every
 * DAEMON_CAMPAIGN_MS and otherwise waits. Returns 1 when it just became the
 * leader (the caller reconciles at once, on freshly read manifests).
 */
static int
standby(struct loop *l, int64_t now)
{
	if (l->was_leader) {
		log_warn("leadership lost; standing by", "state=\"%s\"", l->st->path);
		l->was_leader = 0;
	}
	if (now >= l->next_campaign) {
		struct err ce;

		err_clear(&ce);
		if (state_campaign(l->st, &ce) == ERR_OK && state_is_leader(l->st)) {
			/* the manifests may have changed while we stood by: a pass on a
			 * stale set could prune what the old leader made */
			reload(l);
			l->debounce = 0;
			return 1;
		}
		l->next_campaign = now + DAEMON_CAMPAIGN_MS;
	}
	wait_events(l, l->next_campaign - now);
	return 0;
}

/* When the leader must next wake, and why: the interval, a retry after
 * failed passes, a resource's backoff, a rotation falling due, an edit. */
static int64_t
next_wake(struct loop *l, enum reason *why)
{
	int64_t wake = l->next_interval, rot = next_rotation(l);

	*why = R_INTERVAL;
	if (l->pass_errors_until && l->pass_errors_until < wake) {
		wake = l->pass_errors_until;
		*why = R_RETRY;
	}
	for (size_t i = 0; i < l->nbo; i++)
		if (l->bo[i].until < wake) {
			wake = l->bo[i].until;
			*why = R_BACKOFF;
		}
	if (rot < wake) {
		wake = rot;
		*why = R_ROTATION;
	}
	if (l->debounce && l->debounce < wake) {
		wake = l->debounce;
		*why = R_CHANGE;
	}
	return wake;
}

/* Signals, the event loop and the probes; 0, or -1 with e set. */
static int
loop_open(struct loop *l, const struct daemon_opts *o, struct err *e)
{
	static const double le[DAEMON_HIST_BUCKETS] = { 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
	                                                300 };
	struct epoll_event ev;
	sigset_t mask;

	l->infd = -1;
	l->rng = (uint64_t)time(NULL) * 2654435761u ^ (uint64_t)getpid();
	pthread_mutex_init(&l->m.lock, NULL);
	memcpy(l->m.hist_le, le, sizeof(le));
	l->m.manifests_valid = 1;
	l->m.heartbeat = mono_ms();
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	l->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->sigfd < 0 || l->epfd < 0) {
		err_set(e, ERR_IO, "cannot set up the event loop: %s", strerror(errno));
		return -1;
	}
	ev.events = EPOLLIN;
	ev.data.fd = l->sigfd;
	epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->sigfd, &ev);
	rewatch(l);
	if (o->listen && o->listen[0] && strcmp(o->listen, "off") != 0) {
		if ((l->http = http_start(o->listen, &l->m, e)) == NULL)
			return -1;
		printf("listening on http://%.*s:%u\n", (int)(strrchr(o->listen, ':') - o->listen),
		       o->listen, http_port(l->http));
		fflush(stdout);
	}
	return 0;
}

static void
loop_close(struct loop *l)
{
	api_set_cancel(l->api, NULL, NULL);
	api_set_observer(l->api, NULL, NULL);
	http_stop(l->http);
	if (l->infd >= 0)
		close(l->infd);
	if (l->sigfd >= 0)
		close(l->sigfd);
	if (l->epfd >= 0)
		close(l->epfd);
	for (size_t i = 0; i < l->nbo; i++)
		free(l->bo[i].name);
	free(l->bo);
	refusals_free(l->refused, l->nrefused);
	sched_release(&l->sched);
	pthread_mutex_lock(&l->m.lock);
	series_clear(l->m.requests, &l->m.nrequests);
	series_clear(l->m.resources, &l->m.nresources);
	series_clear(l->m.secret_version, &l->m.nsecret_version);
	series_clear(l->m.secret_next, &l->m.nsecret_next);
	series_clear(l->m.secret_lost, &l->m.nsecret_lost);
	pthread_mutex_unlock(&l->m.lock);
	pthread_mutex_destroy(&l->m.lock);
	manifest_set_free(&l->set);
}

/* Reads per window for a share of percent pct of n (100 or 0: all of it). */
static unsigned
share_of(unsigned n, unsigned pct)
{
	unsigned limit = pct == 0 || pct >= 100 ? n : (unsigned)((uint64_t)n * pct / 100);

	return limit ? limit : 1;
}

static unsigned
reserve_of(unsigned limit)
{
	unsigned r = limit * DAEMON_READ_RESERVE_PCT / 100;

	if (r < DAEMON_READ_RESERVE_MIN)
		r = DAEMON_READ_RESERVE_MIN;
	return r >= limit ? limit / 2 : r;
}

/* The list reads of one pass over set, before a pass has measured them: the
 * pages of each bucket listing (API_R2_PAGE) and of the namespace listing
 * (API_KV_NS_PAGE), a listing per Secret target (a first guess), and the
 * pages of the D1 listing (API_D1_PAGE). */
static unsigned
lists_guess(const struct manifest_set *set)
{
	size_t b[3] = { 0, 0, 0 }, kv = 0, sec = 0, d1 = 0;
	unsigned n = 0;

	for (size_t i = 0; i < set->n; i++) {
		const struct resource *r = &set->items[i];

		if (r->kind == KIND_R2BUCKET)
			b[strcmp(r->u.bucket.jurisdiction, "eu") == 0 ? 1 :
			  strcmp(r->u.bucket.jurisdiction, "fedramp") == 0 ? 2 : 0]++;
		else if (r->kind == KIND_KVNAMESPACE)
			kv++;
		else if (r->kind == KIND_SECRET)
			sec += r->u.secret.ntargets;
		else if (r->kind == KIND_D1DATABASE)
			d1++;
	}
	for (int j = 0; j < 3; j++)
		n += (unsigned)((b[j] + API_R2_PAGE - 1) / API_R2_PAGE);
	n += (unsigned)(kv ? kv / API_KV_NS_PAGE + 1 : 0);
	n += (unsigned)sec;
	n += (unsigned)(d1 ? d1 / API_D1_PAGE + 1 : 0);
	return n ? n : 1;
}

int64_t
daemon_coverage_estimate(const struct manifest_set *set, unsigned rate_n, unsigned rate_secs,
                         unsigned share_pct, int64_t interval_ms, size_t *parts)
{
	struct sched s = { 0 };
	unsigned limit = share_of(rate_n, share_pct);
	int64_t c, window = (int64_t)rate_secs * 1000 + API_RATE_SLACK_MS;

	sched_rebuild(&s, set, NULL);
	*parts = s.n;
	c = sched_coverage(s.n, limit, reserve_of(limit), lists_guess(set), window,
	                   pace_of(limit, reserve_of(limit), lists_guess(set), window, interval_ms, 0),
	                   0, 0);
	sched_release(&s);
	return c;
}

int
daemon_run(const struct daemon_opts *o, struct manifest_set *set, struct state *st,
           struct api *a, struct err *e)
{
	struct loop l;
	int rc = 0, first = 1;

	memset(&l, 0, sizeof(l));
	l.o = o;
	l.set = *set; /* hand-over */
	manifest_set_init(set);
	l.st = st;
	l.api = a;
	l.sigfd = l.epfd = l.infd = -1;
	manifest_set_fingerprint(&l.set, l.applied);
	if (loop_open(&l, o, e) != 0) {
		rc = 1;
		goto out;
	}
	api_set_observer(a, observe_request, &l);
	api_set_cancel(a, cancel_cb, &l);
	api_set_read_share(a, share_of(api_rate_n(a), o->api_share));
	l.reserve = reserve_of(api_read_limit(a));
	l.started = mono_ms();
	l.interval_ms = o->interval_ms;
	if (getenv(DAEMON_TEST_INTERVAL_ENV)) {
		char *end;
		long v = strtol(getenv(DAEMON_TEST_INTERVAL_ENV), &end, 10);

		if (*end == '\0' && v >= 1 && v < o->interval_ms)
			l.interval_ms = v; /* tests only: may only shorten it */
	}
	l.lists = lists_guess(&l.set); /* each pass measures it */
	sched_rebuild(&l.sched, &l.set, NULL);
	malloc_trim(0); /* what loading the manifests and the state used is free now */
	log_info("daemon started", "interval_ms=%lld resources=%zu budget=%u per_s=%u "
	         "api_share_pct=%u", (long long)l.interval_ms, l.set.n, api_rate_n(a),
	         api_rate_secs(a), o->api_share ? o->api_share : 100);
	coverage(&l);
	while (!l.stopping) {
		int64_t now = mono_ms(), wake;
		enum reason why;
		int lead = state_is_leader(l.st);

		pthread_mutex_lock(&l.m.lock);
		l.m.heartbeat = now;
		l.m.leader = lead;
		l.m.s3_requests = state_s3_requests(l.st);
		if (!lead)
			l.m.ready = 1; /* a standby is ready: it serves probes and waits */
		pthread_mutex_unlock(&l.m.lock);
		if (!lead) {
			if (standby(&l, now))
				first = 1; /* the new leader reconciles at once */
			continue;
		}
		l.was_leader = 1;
		if (first) {
			first = 0;
			pass(&l, R_START);
		} else if (l.hup) {
			l.hup = 0;
			log_info("reload requested", "signal=HUP");
			reload(&l);
			pass(&l, R_HUP);
		} else if (l.debounce && now >= l.debounce) {
			l.debounce = 0;
			if (reload(&l) == 2) /* a save that changed nothing starts no pass */
				pass(&l, R_CHANGE);
		} else if ((wake = next_wake(&l, &why)) <= now) {
			if (why != R_CHANGE)
				pass(&l, why);
		} else {
			wait_events(&l, wake - now);
		}
	}
	log_info("daemon stopped", "state=saved");
out:
	loop_close(&l);
	return rc;
}
