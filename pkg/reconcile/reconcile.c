#include "reconcile.h"

#include <string.h>

#include "../secret/secret.h"

/* Is there anything for apply to do (API work or a record to write)? */
static int
has_work(const struct plan *p)
{
	if (plan_has_changes(p))
		return 1;
	for (size_t i = 0; i < p->n; i++)
		if (p->v[i].record)
			return 1;
	return 0;
}

/* status --rebuild: each Secret's ledger as the account shows it. */
static void
record_ledgers(const struct plan *p, struct state *st)
{
	for (size_t i = 0; i < p->n; i++) {
		const struct plan_action *a = &p->v[i];

		if (a->kind == KIND_SECRET && a->want && a->ledger)
			state_ledger_replace(st, a->ledger);
	}
}

enum errcode
reconcile_pass(struct api *a, const struct manifest_set *set, struct state *st,
               const struct reconcile_opts *o, struct reconcile_result *r, struct err *e)
{
	const struct api_stats *s = api_get_stats(a);
	unsigned long req0 = s->requests, wr0 = s->writes;
	enum errcode rc;

	memset(r, 0, sizeof(*r));
	if (o->rebuild_ledgers)
		for (size_t i = 0; i < set->n; i++)
			if (set->items[i].kind == KIND_SECRET)
				state_ledger_remove(st, set->items[i].name);
	/* observe */
	if ((rc = observe_run(a, set, st, o->plan.prune, o->observe, &r->snap, e)) != ERR_OK)
		goto out;
	if (o->verify_values &&
	    (rc = observe_verify_values(a, set, st, &r->snap, &r->verified, e)) != ERR_OK)
		goto out;
	/* plan */
	if ((rc = plan_compute(set, &r->snap, st, &o->plan, &r->plan, e)) != ERR_OK)
		goto out;
	/* apply, recording each outcome in the state as it happens */
	if (o->mode == RECONCILE_LEDGERS) {
		record_ledgers(&r->plan, st);
	} else if (o->mode == RECONCILE_APPLY && o->accept &&
	           o->accept(&r->plan, &r->snap, o->accept_user) != 0) {
		r->rejected = 1;
	} else if (o->mode == RECONCILE_APPLY && has_work(&r->plan)) {
		secret_no_core_dumps(); /* values may be generated from here on */
		apply_run(a, &r->plan, st, o->plan.now, o->on_outcome, o->outcome_user, &r->res);
		r->applied = 1;
	}
out:
	r->requests = s->requests - req0;
	r->writes = s->writes - wr0;
	return rc;
}

void
reconcile_result_release(struct reconcile_result *r)
{
	if (r->applied)
		apply_result_release(&r->res);
	plan_release(&r->plan);
	snapshot_release(&r->snap);
	memset(r, 0, sizeof(*r));
}
