/*
 * The daemon's observation rotation. List-level reads (bucket, namespace and
 * Secrets listings) run every pass: they catch creations, deletions and
 * renames of whole resources. Every per-resource part the manifests declare
 * (a bucket's lifecycle, its CORS, a namespace's key listing) is one item
 * here, read when the rotation picks it: urgent items first (their resource
 * changed in the manifests, or failed), then the least recently read, as
 * many as the read share has room for now. From the share, the interval and
 * the count of items follows the coverage period: the longest any item can
 * go unread.
 */
#include <stdlib.h>
#include <string.h>

#include "../plan/plan.h"
#include "daemon.h"
#include "daemon_int.h"

static int
item_cmp(const void *x, const void *y)
{
	const struct sched_item *a = x, *b = y;
	int c = (a->kind > b->kind) - (a->kind < b->kind);

	if (c == 0)
		c = strcmp(a->name, b->name);
	return c ? c : (a->part > b->part) - (a->part < b->part);
}

static struct sched_item *
find(const struct sched *s, enum kind k, const char *name, enum obs_part part)
{
	struct sched_item key = { k, (char *)name, part, 0, 0, 0 };

	return s->n ? bsearch(&key, s->v, s->n, sizeof(*s->v), item_cmp) : NULL;
}

static int
res_cmp(const void *x, const void *y)
{
	const struct resource *a = *(const struct resource *const *)x;
	const struct resource *b = *(const struct resource *const *)y;
	int c = (a->kind > b->kind) - (a->kind < b->kind);

	return c ? c : strcmp(a->name, b->name);
}

static void
add(struct sched_item **v, size_t *n, size_t *cap, const struct resource *r, enum obs_part p)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		*v = xrealloc(*v, *cap * sizeof(**v));
	}
	(*v)[*n].kind = r->kind;
	(*v)[*n].name = xstrdup(r->name);
	(*v)[*n].part = p;
	(*v)[*n].last = 0;
	(*v)[*n].urgent = 0;
	(*v)[*n].picked = 0;
	(*n)++;
}

void
sched_release(struct sched *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].name);
	free(s->v);
	free(s->order);
	s->v = NULL;
	s->order = NULL;
	s->n = 0;
}

/* A D1 database's migration files are the same (names and content hashes):
 * a file added or edited makes the database urgent, as a spec change does. */
static int
same_migrations(const struct resource *r, const struct resource *o)
{
	const struct d1_database_spec *a = &r->u.d1, *b = &o->u.d1;

	if (r->kind != KIND_D1DATABASE)
		return 1;
	if (a->nmigrations != b->nmigrations)
		return 0;
	for (size_t i = 0; i < a->nmigrations; i++)
		if (strcmp(a->migrations[i].name, b->migrations[i].name) != 0 ||
		    strcmp(a->migrations[i].hash, b->migrations[i].hash) != 0)
			return 0;
	return 1;
}

/*
 * The items of `set`, keeping what the old table knew of each (when it was
 * last read, whether it is urgent). A resource whose spec differs from the
 * one in `old` (or that `old` lacks) is urgent: a manifest change is observed
 * and applied at once, whatever the rotation says.
 */
void
sched_rebuild(struct sched *s, const struct manifest_set *set, const struct manifest_set *old)
{
	struct sched_item *v = NULL;
	const struct resource **olds = NULL;
	size_t n = 0, cap = 0;

	for (size_t i = 0; i < set->n; i++) {
		const struct resource *r = &set->items[i];

		if (r->kind == KIND_R2BUCKET) {
			if (r->u.bucket.has_lifecycle)
				add(&v, &n, &cap, r, OBS_LIFECYCLE);
			if (r->u.bucket.has_cors)
				add(&v, &n, &cap, r, OBS_CORS);
		} else if (r->kind == KIND_KVNAMESPACE && r->u.kv.has_entries) {
			add(&v, &n, &cap, r, OBS_KV_KEYS);
		} else if (r->kind == KIND_D1DATABASE) {
			if (r->u.d1.read_replication)
				add(&v, &n, &cap, r, OBS_D1_REPLICATION);
			if (r->u.d1.has_migrations)
				add(&v, &n, &cap, r, OBS_D1_MIGRATIONS);
		}
	}
	if (n)
		qsort(v, n, sizeof(*v), item_cmp);
	for (size_t i = 0; i < n; i++) {
		const struct sched_item *was = find(s, v[i].kind, v[i].name, v[i].part);

		if (was) {
			v[i].last = was->last;
			v[i].urgent = was->urgent;
		}
	}
	/* the old set by (kind, name), for one lookup per resource */
	if (old) {
		olds = xcalloc(old->n + 1, sizeof(*olds));
		for (size_t k = 0; k < old->n; k++)
			olds[k] = &old->items[k];
		qsort(olds, old->n, sizeof(*olds), res_cmp);
	}
	for (size_t i = 0; old && i < set->n; i++) {
		const struct resource *r = &set->items[i];
		const struct resource *const *f = old->n ? bsearch(&r, olds, old->n, sizeof(*olds),
		                                                  res_cmp) : NULL;
		const struct resource *o = f ? *f : NULL;
		char h1[17], h2[17];

		if (o) {
			plan_spec_hash(r, h1);
			plan_spec_hash(o, h2);
			if (strcmp(h1, h2) == 0 && same_migrations(r, o))
				continue;
		}
		for (enum obs_part p = 0; p < OBS_NPARTS; p++) {
			struct sched_item key = { r->kind, (char *)r->name, p, 0, 0, 0 };
			struct sched_item *it = n ? bsearch(&key, v, n, sizeof(*v), item_cmp) : NULL;

			if (it)
				it->urgent = 1;
		}
	}
	free(olds);
	sched_release(s);
	s->v = v;
	s->n = n;
	s->order = xcalloc(n + 1, sizeof(*s->order));
}

void
sched_mark_urgent(struct sched *s, enum kind k, const char *name)
{
	for (enum obs_part p = 0; p < OBS_NPARTS; p++) {
		struct sched_item *it = find(s, k, name, p);

		if (it)
			it->urgent = 1;
	}
}

static int
older(const void *x, const void *y)
{
	const struct sched_item *a = *(const struct sched_item *const *)x;
	const struct sched_item *b = *(const struct sched_item *const *)y;

	if (a->last != b->last)
		return a->last < b->last ? -1 : 1;
	return item_cmp(a, b); /* a stable, fair order among equals */
}

/*
 * Picks what the next pass reads: every urgent item, then the least recently
 * read, up to `room` in all (urgent ones may go past it: the share's reserve
 * is for them). With all set, every item. Returns how many were picked.
 */
size_t
sched_pick(struct sched *s, size_t room, int all)
{
	size_t picked = 0;

	for (size_t i = 0; i < s->n; i++) {
		s->v[i].picked = all || s->v[i].urgent;
		picked += (size_t)s->v[i].picked;
		s->order[i] = &s->v[i];
	}
	if (all || picked >= room)
		return picked;
	qsort(s->order, s->n, sizeof(*s->order), older);
	for (size_t i = 0; i < s->n && picked < room; i++)
		if (!s->order[i]->picked) {
			s->order[i]->picked = 1;
			picked++;
		}
	return picked;
}

/* observe_sel's want(): a part not in the table (a part no longer declared
 * that the inventory still claims) is read every pass until it is reset. */
int
sched_want(enum kind k, const char *name, enum obs_part part, void *user)
{
	const struct sched_item *it = find(user, k, name, part);

	return it == NULL || it->picked;
}

/* After a pass that observed: the picked items were read at `at`. */
void
sched_commit(struct sched *s, int64_t at)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].picked) {
			s->v[i].last = at;
			s->v[i].urgent = 0;
			s->v[i].picked = 0;
		}
}

/* The oldest read (or, never read, the start) of each part, into age_ms[]
 * (-1: no such item). */
void
sched_ages(const struct sched *s, int64_t now, int64_t start, int64_t age_ms[OBS_NPARTS])
{
	for (int p = 0; p < OBS_NPARTS; p++)
		age_ms[p] = -1;
	for (size_t i = 0; i < s->n; i++) {
		int64_t at = s->v[i].last ? s->v[i].last : start;

		if (now - at > age_ms[s->v[i].part])
			age_ms[s->v[i].part] = now - at;
	}
}

/*
 * The coverage period in ms, or -1 when the share cannot cover even the list
 * reads. n items; `limit` reads per window of window_ms, `reserve` of them
 * left to manifest changes, `lists` list reads per pass, passes every
 * interval_ms ±10% (each taking pass_ms).
 *
 * With passes more often than the window, a pass takes the room the window
 * has now, less the list reads of this pass and of the P - 1 passes that can
 * still start before its reads leave the window; the lists of the passes
 * already in the window are spent too, so a round reads
 * limit - reserve - (2P - 1) lists parts, and the next round starts with the
 * first pass after the window has passed: one window and at most one interval
 * later. With passes at most once a window, every pass finds the share free;
 * when every pass of a window can read every part, each pass does.
 * One round more than the reads need, for the first pass's start.
 */
int64_t
sched_coverage(size_t n, unsigned limit, unsigned reserve, unsigned lists, int64_t window_ms,
               int64_t interval_ms, int64_t pass_ms, int all)
{
	int64_t imax = interval_ms + interval_ms / 10 + pass_ms;
	int64_t imin = interval_ms - interval_ms / 10;
	int64_t passes, per_round, rounds;

	if (all || n == 0)
		return imax;
	if (imin < 1)
		imin = 1;
	if (imin >= window_ms) {
		per_round = (int64_t)limit - reserve - lists;
		if (per_round <= 0)
			return -1;
		rounds = ((int64_t)n + per_round - 1) / per_round;
		return rounds <= 1 ? imax : (rounds + 1) * imax;
	}
	passes = (window_ms + imin - 1) / imin; /* passes that can start in one window */
	if (((int64_t)n + lists) * passes <= (int64_t)limit - reserve)
		return imax; /* every pass reads every part */
	per_round = (int64_t)limit - reserve - (2 * passes - 1) * lists;
	if (per_round <= 0)
		return -1;
	rounds = ((int64_t)n + per_round - 1) / per_round;
	return (rounds + 1) * (window_ms + imax) + imax;
}
