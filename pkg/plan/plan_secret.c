/*
 * Planning a Secret: the account is the truth, the ledger a record of what
 * the account cannot say (fingerprints, history, what this tool left
 * pending). Every plan starts from what the targets hold now (the snapshot's
 * listings: names and comments, never values) and keeps three invariants:
 *
 *   1. a name <NAME>_V<N> that exists in any target is never written with a
 *      new value, except to regenerate a version that this tool's own ledger
 *      recorded as pending before any pointer moved to it;
 *   2. <NAME>_VERSION never moves backwards;
 *   3. a new version is max(N in the ledger, N seen in any target or
 *      pointer) + 1.
 *
 * When the ledger is missing, empty or behind the account (another checkout
 * rotated), it is rebuilt from the account before anything is planned: the
 * versions present, their fingerprints and creation times from the Secrets
 * Store comments, the current version from the pointer's comment. A Secret
 * whose names exist without cfstorage's mark is not ours (refused unless
 * adopt). Drift is repaired where it can be (pointer, Secrets Store alias by
 * a server-side copy), rotated past where a value is needed that cannot be
 * read back (current version or Worker alias lost), and reported where
 * nothing can bring it back (a retained version lost: Degraded, no write).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../mem/mem.h"
#include "../secret/secret.h"
#include "../timefmt/timefmt.h"
#include "plan_int.h"

/* What one target of a Secret holds in the account. */
struct tview {
	const struct secret_target *t;
	char *id;                        /* the ledger's "store:S/NAME", "script:S/NAME" */
	const struct obs_starget *o;     /* NULL: not observed */
	const struct obs_secret *ptr;    /* <NAME>_VERSION, NULL when absent */
	const struct obs_secret *alias;  /* <NAME>, NULL when absent */
};

/* The account's view of one Secret, target by target. */
struct aview {
	struct tview *t;
	size_t n;
	unsigned max_seen;   /* highest N of <NAME>_V<N> anywhere, or of a pointer's current */
	unsigned ptr_max;    /* highest current=N of a marked Secrets Store pointer */
	int present;         /* some version, pointer or alias exists */
	int marked;          /* some of it carries cfstorage's mark for this Secret */
	struct buf unmarked; /* names found without the mark, for a refusal */
};

static int
listed(const struct tview *tv)
{
	return tv->o && !tv->o->missing;
}

static const struct obs_secret *
find(const struct obs_starget *o, const char *name)
{
	for (size_t i = 0; o && i < o->n; i++)
		if (strcmp(o->v[i].name, name) == 0)
			return &o->v[i];
	return NULL;
}

static const struct obs_secret *
find_version(const struct tview *tv, unsigned n)
{
	char *name = xasprintf("%s_V%u", tv->t->name, n);
	const struct obs_secret *s = find(tv->o, name);

	free(name);
	return s;
}

static struct tview *
view_target(const struct aview *av, const char *id)
{
	for (size_t i = 0; i < av->n; i++)
		if (strcmp(av->t[i].id, id) == 0)
			return &av->t[i];
	return NULL;
}

/* One listed target's names: versions, pointer, alias, and their marks. */
static void
view_scan(const struct resource *r, struct aview *av, struct tview *tv, int worker_only)
{
	char *ptr = xasprintf("%s_VERSION", tv->t->name);

	for (size_t i = 0; i < tv->o->n; i++) {
		const struct obs_secret *s = &tv->o->v[i];
		unsigned n = secret_version_of(s->name, tv->t->name);
		int is_ptr = strcmp(s->name, ptr) == 0, is_alias = strcmp(s->name, tv->t->name) == 0;

		if (!n && !is_ptr && !is_alias)
			continue;
		av->present = 1;
		if (is_ptr)
			tv->ptr = s;
		if (is_alias)
			tv->alias = s;
		if (n > av->max_seen)
			av->max_seen = n;
		if (tv->o->worker) {
			/* Worker bindings carry no comment: for a Secret with only
			 * Worker targets, the pointer (written only by cfstorage's
			 * rotation) is the mark */
			if (is_ptr && worker_only)
				av->marked = 1;
			else
				buf_printf(&av->unmarked, "%s%s", av->unmarked.len ? ", " : "", s->name);
			continue;
		}
		if (secret_comment_marks(s->comment, r->name)) {
			av->marked = 1;
			if (is_ptr) {
				unsigned c = secret_comment_current(s->comment);

				if (c > av->ptr_max)
					av->ptr_max = c;
				if (c > av->max_seen)
					av->max_seen = c;
			}
		} else if (!is_alias || (s->comment && strcmp(s->comment, SECRET_ALIAS_LEGACY) != 0)) {
			buf_printf(&av->unmarked, "%s%s", av->unmarked.len ? ", " : "", s->name);
		}
	}
	free(ptr);
}

static void
view_build(const struct resource *r, const struct snapshot *snap, struct aview *av)
{
	const struct secret_spec *s = &r->u.secret;
	int worker_only = 1;

	memset(av, 0, sizeof(*av));
	buf_init(&av->unmarked, 4096);
	av->t = xcalloc(s->ntargets + 1, sizeof(*av->t));
	for (size_t i = 0; i < s->ntargets; i++)
		if (s->targets[i].kind != TARGET_WORKER)
			worker_only = 0;
	for (size_t i = 0; i < s->ntargets; i++) {
		struct tview *tv = &av->t[av->n++];
		int worker = s->targets[i].kind == TARGET_WORKER;

		tv->t = &s->targets[i];
		tv->id = secret_target_id(tv->t);
		tv->o = snapshot_starget(snap, worker, worker ? tv->t->script : tv->t->store);
		if (listed(tv))
			view_scan(r, av, tv, worker_only);
	}
}

static void
view_release(struct aview *av)
{
	for (size_t i = 0; i < av->n; i++)
		free(av->t[i].id);
	free(av->t);
	buf_release(&av->unmarked);
}

static int
has_target(const struct sec_version *v, const char *id)
{
	for (size_t i = 0; v && i < v->ntargets; i++)
		if (strcmp(v->targets[i], id) == 0)
			return 1;
	return 0;
}

static int
live_versions(const struct sec_ledger *l)
{
	for (size_t i = 0; l && i < l->n; i++)
		if (l->v[i].status != V_DESTROYED)
			return 1;
	return 0;
}

/* "V1–V3" or "V1, V3, V4": the live versions of l. */
static void
version_list(const struct sec_ledger *l, struct buf *b)
{
	size_t i = 0;

	while (i < l->n) {
		size_t j = i;

		if (l->v[i].status == V_DESTROYED) {
			i++;
			continue;
		}
		while (j + 1 < l->n && l->v[j + 1].status != V_DESTROYED && l->v[j + 1].n == l->v[j].n + 1)
			j++;
		buf_printf(b, "%sV%u", b->len ? ", " : "", l->v[i].n);
		if (j > i)
			buf_printf(b, "–V%u", l->v[j].n);
		i = j + 1;
	}
}

/* Adds to l a version that the account holds but the ledger does not know,
 * with what its Secrets Store comment says (fingerprint, creation time). */
static void
learn_version(struct sec_ledger *l, unsigned n, const struct obs_secret *s, const char *id,
              int64_t now)
{
	char *fp = s->comment ? secret_comment_field(s->comment, "fingerprint") : NULL;
	char *ct = s->comment ? secret_comment_field(s->comment, "created") : NULL;
	struct sec_version *x = ledger_find(l, n);
	int64_t created = now;

	if (ct)
		(void)timefmt_parse_rfc3339(ct, &created);
	if (x == NULL) {
		x = ledger_add(l, n, created);
		x->status = V_RETAINED;
	} else if (ct && created < x->created) {
		x->created = created;
	}
	if (fp && !x->fp[0])
		snprintf(x->fp, sizeof(x->fp), "%.16s", fp);
	ledger_add_target(&x->targets, &x->ntargets, id);
	ledger_add_target(&l->targets, &l->ntargets, id);
	free(fp);
	free(ct);
}

/*
 * The ledger as the account shows it: `old` (the state's, may be NULL) with
 * the versions the account holds that it lacks, and, when the account is
 * ahead of it (versions it does not know, or a pointer beyond its current),
 * statuses recomputed from the account's pointer. Unmarked Secrets Store
 * versions count only with adopt; a version the ledger destroyed that exists
 * again is somebody else's and is only noted. *changed says whether the
 * result differs from old. Free with ledger_free().
 */
static struct sec_ledger *
account_ledger(const struct resource *r, const struct aview *av, const struct sec_ledger *old,
               int64_t now, int *changed, struct buf *notes)
{
	const struct sec_version *oc = old ? ledger_current(old) : NULL;
	unsigned cur = oc ? oc->n : 0, newcur, prev = 0, ptr_max = av->ptr_max;
	struct sec_ledger *l;
	int learnt = 0;

	*changed = 0;
	if (old) {
		l = ledger_clone(old);
	} else {
		l = xcalloc(1, sizeof(*l));
		l->name = xstrdup(r->name);
		l->policy = r->deletion_policy;
		l->alias = r->u.secret.alias;
	}
	for (size_t i = 0; i < av->n; i++) {
		const struct tview *tv = &av->t[i];

		for (size_t k = 0; listed(tv) && k < tv->o->n; k++) {
			const struct obs_secret *s = &tv->o->v[k];
			unsigned n = secret_version_of(s->name, tv->t->name);
			const struct sec_version *x = n ? ledger_find(l, n) : NULL;

			if (!n)
				continue;
			if (x && x->status == V_DESTROYED) {
				buf_printf(notes, "%sV%u was destroyed by cfstorage but exists again on %s: "
				           "not ours, left alone", notes->len ? "; " : "", n, tv->id);
				continue;
			}
			if (!tv->o->worker && !r->adopt && !secret_comment_marks(s->comment, r->name))
				continue; /* not ours: never counted, never touched */
			if (x && old && ledger_find((struct sec_ledger *)old, n))
				continue; /* known: the ledger's record of its targets stands */
			learn_version(l, n, s, tv->id, now);
			learnt = 1;
		}
	}
	{
		const struct sec_version *p = old ? ledger_find((struct sec_ledger *)old, av->ptr_max)
		                                  : NULL;

		/* a pointer at a version our own ledger holds pending is our own
		 * interrupted pointer phase, not another run's: the plan goes on to
		 * N+1 (Worker pointers and aliases cannot be read to finish it) */
		if (p && p->status == V_PENDING)
			ptr_max = cur;
	}
	if (!learnt && ptr_max <= cur)
		return l;
	/* the account is ahead: its pointer says which version is current */
	newcur = ptr_max > cur ? ptr_max : cur;
	if (newcur == 0)
		for (size_t i = 0; i < l->n; i++)
			if (l->v[i].status != V_DESTROYED)
				newcur = l->v[i].n; /* no readable pointer: the newest */
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].status != V_DESTROYED && l->v[i].n < newcur && l->v[i].n > prev)
			prev = l->v[i].n;
	for (size_t i = 0; i < l->n; i++) {
		struct sec_version *x = &l->v[i];
		const struct sec_version *was = old ? ledger_find((struct sec_ledger *)old, x->n) : NULL;

		if (x->status == V_DESTROYED)
			continue;
		if (x->n == newcur) {
			x->status = V_CURRENT;
			x->published = 0;
			if (!x->current_at)
				x->current_at = x->created;
		} else if (x->n > newcur) {
			/* ours to regenerate only if our own ledger left it pending */
			x->status = V_PENDING;
			x->published = !(was && was->status == V_PENDING && !was->published);
		} else {
			x->status = x->n == prev ? V_PREVIOUS : V_RETAINED;
			x->published = 0;
		}
	}
	*changed = 1;
	return l;
}

static const char *
target_label(const struct secret_target *t)
{
	return t->kind == TARGET_SECRETS_STORE ? "Secrets Store" : "Worker";
}

static const char *
retain_text(const struct secret_spec *s, char *buf, size_t len)
{
	if (s->retain == RETAIN_COUNT)
		snprintf(buf, len, "retain count %lld", (long long)s->retain_n);
	else if (s->retain == RETAIN_DAYS)
		snprintf(buf, len, "retain %lld days", (long long)s->retain_n);
	else
		snprintf(buf, len, "retain forever");
	return buf;
}

/* The versions the retain policy releases once `cur` is current. */
static void
secret_destroys(struct plan_action *a, const struct secret_spec *s,
                const struct sec_ledger *l, unsigned cur, int64_t now)
{
	free(a->destroy);
	a->destroy = NULL;
	a->ndestroy = 0;
	if (l == NULL || l->n == 0)
		return;
	a->destroy = xcalloc(l->n, sizeof(*a->destroy));
	a->ndestroy = secret_destroyable(s, l, cur, now, a->destroy);
}

/*
 * A version the retain policy releases that no target holds any more was
 * destroyed already (by another checkout's run): recorded as destroyed, not
 * deleted again. Returns 1 when l changed.
 */
static int
settle_destroyed(struct plan_action *a, struct sec_ledger *l, const struct aview *av)
{
	int changed = 0;

	for (size_t i = 0; i < a->ndestroy;) {
		struct sec_version *x = ledger_find(l, a->destroy[i]);
		int held = 0;

		for (size_t k = 0; x && k < x->ntargets && !held; k++) {
			const struct tview *tv = view_target(av, x->targets[k]);

			held = tv == NULL || !listed(tv) || find_version(tv, x->n);
		}
		if (x == NULL || held) {
			i++;
			continue;
		}
		x->status = V_DESTROYED;
		for (size_t k = 0; k < x->ntargets; k++)
			free(x->targets[k]);
		x->ntargets = 0;
		a->destroy[i] = a->destroy[--a->ndestroy];
		changed = 1;
	}
	return changed;
}

static int
destroyed_now(const struct plan_action *a, unsigned n)
{
	for (size_t i = 0; i < a->ndestroy; i++)
		if (a->destroy[i] == n)
			return 1;
	return 0;
}

static void
refuse(struct plan_action *a, char *reason)
{
	a->op = PLAN_REFUSE;
	free(a->reason);
	a->reason = reason;
}

/* Refusals that come before any ledger work: what was not read, a Worker
 * script that does not exist, a store the account cannot have. */
static int
refuse_targets(struct plan_action *a, const struct aview *av)
{
	for (size_t i = 0; i < av->n; i++) {
		const struct tview *tv = &av->t[i];

		if (tv->o == NULL) {
			refuse(a, xasprintf("the account's secrets at %s were not read", tv->id));
			return 1;
		}
		if (tv->o->worker && tv->o->missing) {
			refuse(a, xasprintf("Worker script '%s' does not exist: cfstorage never creates "
			                    "Worker scripts; deploy it first (e.g. wrangler deploy)",
			                    tv->t->script));
			return 1;
		}
		if (!tv->o->worker && tv->o->other_store) {
			refuse(a, xasprintf("Secrets Store '%s' not found (the account has store '%s'; "
			                    "Cloudflare allows one)", tv->t->store, tv->o->other_store));
			return 1;
		}
	}
	return 0;
}

/*
 * Retained versions that a target recorded in the ledger no longer holds:
 * nothing can restore them (values are never stored), so the Secret is
 * Degraded and nothing is written until an operator acknowledges the loss.
 * The current version lost is not this case (a rotation repairs it); nor is
 * a version the retain policy releases now. Returns how many were lost.
 */
static unsigned
lost_versions(struct plan_action *a, const struct sec_ledger *l, const struct aview *av)
{
	unsigned lost = 0;

	for (size_t i = 0; i < l->n; i++) {
		const struct sec_version *x = &l->v[i];

		if ((x->status != V_PREVIOUS && x->status != V_RETAINED) || destroyed_now(a, x->n))
			continue;
		for (size_t k = 0; k < x->ntargets; k++) {
			const struct tview *tv = view_target(av, x->targets[k]);

			if (tv == NULL || !listed(tv) || find_version(tv, x->n))
				continue;
			plan_add_change(a, '!', "versions", "V%u lost on %s (data encrypted with it "
			                "cannot be decrypted)", x->n, tv->id);
			lost++;
		}
	}
	return lost;
}

static void
push_index(size_t **v, size_t *n, size_t i)
{
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = i;
}

/*
 * Pointer and alias drift on each target, for a Secret whose current version
 * every target holds. A pointer is rewritten (its value is the number); a
 * Secrets Store alias is copied again from <NAME>_V<cur> on the server; a
 * Worker alias cannot be (a Worker secret's value cannot be read or copied):
 * *rotate_why then says a new version must be rotated onto every target.
 */
static void
target_drift(struct plan_action *a, const struct resource *r, const struct aview *av,
             unsigned cur, char **rotate_why)
{
	for (size_t i = 0; i < av->n; i++) {
		const struct tview *tv = &av->t[i];
		int store = !tv->o->worker;

		if (!tv->ptr || (store && (!secret_comment_marks(tv->ptr->comment, r->name) ||
		                           secret_comment_current(tv->ptr->comment) != cur))) {
			unsigned at = tv->ptr && store ? secret_comment_current(tv->ptr->comment) : 0;

			push_index(&a->fix_ptr, &a->nfix_ptr, i);
			if (!tv->ptr)
				plan_add_change(a, '~', "pointer", "%s_VERSION on %s: missing → %u",
				                tv->t->name, tv->id, cur);
			else if (at && secret_comment_marks(tv->ptr->comment, r->name))
				plan_add_change(a, '~', "pointer", "%s_VERSION on %s: %u → %u", tv->t->name,
				                tv->id, at, cur);
			else
				plan_add_change(a, '~', "pointer", "%s_VERSION on %s: not written by "
				                "cfstorage → %u", tv->t->name, tv->id, cur);
		}
		if (!r->u.secret.alias)
			continue;
		if (!store && !tv->alias) {
			if (*rotate_why == NULL)
				*rotate_why = xasprintf("alias %s lost on %s: a Worker secret's value "
				                        "cannot be read back, so a new version is written "
				                        "everywhere", tv->t->name, tv->id);
		} else if (store && (!tv->alias || (strcmp(tv->alias->comment ? tv->alias->comment : "",
		                                          SECRET_ALIAS_LEGACY) != 0 &&
		                                    (!secret_comment_marks(tv->alias->comment, r->name) ||
		                                     secret_comment_current(tv->alias->comment) != cur)))) {
			push_index(&a->fix_alias, &a->nfix_alias, i);
			plan_add_change(a, '~', "alias", "alias %s on %s: %s → copy of %s_V%u",
			                tv->t->name, tv->id, tv->alias ? "not the current version"
			                : "missing", tv->t->name, cur);
		}
	}
}

/*
 * Which target lacks the current version, and why (NULL: none does). A
 * target that lost it is dropped from the version's record (*changed): the
 * loss is this rotation's reason, not a later Degraded.
 */
static char *
current_missing(struct sec_ledger *l, const struct aview *av, int *changed)
{
	struct sec_version *cur = (struct sec_version *)ledger_current(l);

	for (size_t i = 0; cur && i < av->n; i++) {
		const struct tview *tv = &av->t[i];

		if (find_version(tv, cur->n))
			continue;
		if (has_target(cur, tv->id)) {
			for (size_t k = 0; k < cur->ntargets; k++)
				if (strcmp(cur->targets[k], tv->id) == 0) {
					free(cur->targets[k]);
					cur->targets[k] = cur->targets[--cur->ntargets];
					break;
				}
			*changed = 1;
			return xasprintf("current version V%u lost on %s: a value cannot be read back, "
			                 "so a new version is written everywhere", cur->n, tv->id);
		}
		return xasprintf("target %s does not hold V%u, whose value cannot be read back: a "
		                 "new version is written everywhere", tv->id, cur->n);
	}
	return NULL;
}

/* What the Secret needs: create, rotate (and why), or nothing; sets a->op,
 * a->version and a->reason. `next` is invariant 3's number. */
static int
decide(struct plan_action *a, const struct resource *r, const struct sec_ledger *l,
       const struct plan_opts *o, unsigned next, unsigned ptr_max, char *why)
{
	const struct secret_spec *s = &r->u.secret;
	const struct sec_version *cur = ledger_current(l), *pend = ledger_pending(l);
	int64_t due = cur ? secret_next_due(s, cur->created) : 0;
	char when[32];

	a->version = next;
	if (!cur && !pend && ptr_max) {
		a->op = PLAN_ROTATE;
		a->reason = xasprintf("the pointer says V%u, which no target holds: a new version is "
		                      "written everywhere", ptr_max);
	} else if (!cur && !pend) {
		a->op = PLAN_CREATE;
		a->reason = xasprintf("first version: V%u", next);
	} else if (pend && pend->published) {
		a->op = PLAN_ROTATE;
		a->reason = xasprintf("V%u's pointer update was interrupted (some targets may point "
		                      "at it): V%u is written and every pointer moves to it",
		                      pend->n, next);
	} else if (pend) {
		/* invariant 1's one exception: our own ledger recorded it pending and no
		 * pointer moved to it, so nothing can have used its value */
		a->op = PLAN_ROTATE;
		a->version = pend->n;
		a->reason = xasprintf("V%u was left pending by an interrupted run: a fresh value "
		                      "is generated under the same number", pend->n);
	} else if (why) {
		a->op = PLAN_ROTATE;
		a->reason = why;
		return 1;
	} else if (o->rotate && strcmp(o->rotate, r->name) == 0) {
		if (!o->force && o->now - cur->created < SECRET_MIN_AGE_FOR_ROTATE) {
			timefmt_format(cur->created, when, sizeof(when));
			refuse(a, xasprintf("V%u was created at %s, less than a day ago; use --force "
			                    "to rotate again", cur->n, when));
			return 0;
		}
		a->op = PLAN_ROTATE;
		a->reason = xstrdup("rotation requested");
	} else if (o->now >= due) {
		timefmt_format(due, when, sizeof(when));
		when[10] = '\0';
		a->op = PLAN_ROTATE;
		a->reason = xasprintf("due since %s", when);
	}
	free(why);
	return 1;
}

static void
rotation_lines(struct plan_action *a, const struct secret_spec *s, struct sec_ledger *l,
               int64_t now)
{
	const struct sec_version *cur = ledger_current(l);
	char why[64];

	for (size_t i = 0; i < s->ntargets; i++) {
		const struct secret_target *t = &s->targets[i];

		plan_add_change(a, '+', "versions", "%s_V%u → %s %s", t->name, a->version,
		                target_label(t), t->kind == TARGET_SECRETS_STORE ? t->store : t->script);
	}
	if (cur)
		plan_add_change(a, '~', "pointer", "%s_VERSION: %u → %u", s->targets[0].name, cur->n,
		                a->version);
	else
		plan_add_change(a, '+', "pointer", "%s_VERSION: %u", s->targets[0].name, a->version);
	if (s->alias)
		plan_add_change(a, '~', "alias", "%s: the value of %s_V%u", s->targets[0].name,
		                s->targets[0].name, a->version);
	/* as the rotation will leave them: a half-published version is kept as
	 * retained, so the destroys planned now are all the policy wants after */
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].status == V_PENDING && l->v[i].n != a->version)
			l->v[i].status = V_RETAINED;
	secret_destroys(a, s, l, a->version, now);
	for (size_t i = 0; i < a->ndestroy; i++)
		plan_add_change(a, '-', "versions", "destroy V%u (%s)", a->destroy[i],
		                retain_text(s, why, sizeof(why)));
}

void
plan_secret(struct plan *p, const struct resource *r, const struct snapshot *snap,
            const struct state *st, const struct plan_opts *o)
{
	const struct secret_spec *s = &r->u.secret;
	const struct sec_ledger *old = state_ledger(st, r->name);
	struct plan_action *a = plan_add_action(p, PLAN_NOOP, KIND_SECRET, r->name);
	struct sec_ledger *l = NULL;
	const struct sec_version *cur;
	struct aview av;
	struct buf notes;
	int changed = 0, fresh = !live_versions(old);
	unsigned next;
	char *why = NULL, why_buf[64];

	a->want = r;
	a->what = xasprintf("%s_V<N> on %zu target%s", s->ntargets ? s->targets[0].name : "?",
	                    s->ntargets, s->ntargets == 1 ? "" : "s");
	buf_init(&notes, 64 * 1024);
	view_build(r, snap, &av);
	if (refuse_targets(a, &av))
		goto out;
	if (fresh && av.present && !av.marked && !r->adopt) {
		refuse(a, xasprintf("not owned: %s exist%s in the account without cfstorage's mark "
		                    "(made by hand or by another tool); set spec.adopt: true or run "
		                    "'cfstorage import Secret %s'", av.unmarked.len ? av.unmarked.data
		                    : "its names", av.unmarked.len && strchr(av.unmarked.data, ',')
		                    ? "" : "s", r->name));
		goto out;
	}
	l = account_ledger(r, &av, old, o->now, &changed, &notes);
	cur = ledger_current(l);
	next = (ledger_max(l) > av.max_seen ? ledger_max(l) : av.max_seen) + 1;
	if (cur) {
		secret_destroys(a, s, l, cur->n, o->now);
		changed |= settle_destroyed(a, l, &av);
	}
	if (changed) {
		struct buf b;

		buf_init(&b, 64 * 1024);
		version_list(l, &b);
		buf_printf(&notes, "%sledger %s from the account: %s, current %s%u",
		           notes.len ? "; " : "", fresh ? "rebuilt" : "brought up to date",
		           b.len ? b.data : "no version", cur ? "V" : "none", cur ? cur->n : 0);
		buf_release(&b);
	}
	if ((a->lost = lost_versions(a, l, &av)) > 0) {
		refuse(a, xasprintf("Degraded: %u retained version%s lost; nothing is written (to "
		                    "accept the loss: cfstorage status --rebuild -f PATH)", a->lost,
		                    a->lost == 1 ? "" : "s"));
		goto out;
	}
	if (fresh && av.present && !av.marked)
		a->op = PLAN_ADOPT;
	why = current_missing(l, &av, &changed);
	if (cur && !why && !ledger_pending(l))
		target_drift(a, r, &av, cur->n, &why);
	if (!decide(a, r, l, o, next, av.ptr_max, why))
		goto out;
	if (a->op == PLAN_CREATE || a->op == PLAN_ROTATE) {
		/* the rotation writes every pointer and alias */
		for (size_t i = 0; i < a->nchanges; i++) {
			free(a->changes[i].field);
			free(a->changes[i].text);
			free(a->changes[i].before);
			free(a->changes[i].after);
		}
		a->nchanges = 0;
		a->nfix_ptr = a->nfix_alias = 0;
		rotation_lines(a, s, l, o->now);
	} else if (cur) {
		for (size_t i = 0; i < a->ndestroy; i++)
			plan_add_change(a, '-', "versions", "destroy V%u (%s)", a->destroy[i],
			                retain_text(s, why_buf, sizeof(why_buf)));
		if (a->op == PLAN_NOOP && (a->ndestroy || a->nfix_ptr || a->nfix_alias))
			a->op = PLAN_UPDATE;
	}
	if (old && old->policy != r->deletion_policy) {
		plan_add_change(a, '~', "deletionPolicy", "deletionPolicy: %s → %s",
		                old->policy == DELETION_DELETE ? "Delete" : "Retain",
		                r->deletion_policy == DELETION_DELETE ? "Delete" : "Retain");
		a->record = 1;
		if (a->op == PLAN_NOOP)
			a->op = PLAN_UPDATE;
	}
	if (changed) {
		a->ledger = l; /* handed to the action: apply records it first */
		l = NULL;
		a->record = 1;
	}
out:
	if (notes.len && a->op != PLAN_REFUSE)
		a->note = buf_take(&notes);
	buf_release(&notes);
	ledger_free(l);
	view_release(&av);
}

int
plan_wanted_secret(const struct manifest_set *want, const char *name)
{
	for (size_t i = 0; i < want->n; i++)
		if (want->items[i].kind == KIND_SECRET && strcmp(want->items[i].name, name) == 0)
			return 1;
	return 0;
}

void
plan_secret_orphan(struct plan *p, const struct sec_ledger *l, const struct manifest_set *want,
                   const struct plan_opts *o)
{
	struct plan_action *a = plan_add_action(p, PLAN_NOOP, KIND_SECRET, l->name);

	a->what = xasprintf("%zu version%s on %zu target%s", l->n, l->n == 1 ? "" : "s",
	                    l->ntargets, l->ntargets == 1 ? "" : "s");
	if (!o->prune) {
		a->reason = xstrdup(l->policy == DELETION_DELETE
		    ? "no longer in the manifests; kept (apply --prune deletes every version: "
		      "deletionPolicy Delete)"
		    : "no longer in the manifests; kept (deletionPolicy Retain)");
	} else if (want->n == 0 && !o->allow_empty) {
		a->op = PLAN_REFUSE;
		a->reason = xstrdup("the manifest set is empty: refusing to prune everything "
		                    "without --allow-empty");
	} else if (l->policy != DELETION_DELETE) {
		a->op = PLAN_FORGET;
		a->reason = xstrdup("no longer in the manifests; deletionPolicy Retain: versions "
		                    "kept in the account, ledger dropped");
	} else {
		a->op = PLAN_DELETE;
		a->del_secret = 1;
		a->reason = xstrdup("no longer in the manifests; deletionPolicy Delete and --prune: "
		                    "every version, the pointer and the alias are deleted");
	}
}
