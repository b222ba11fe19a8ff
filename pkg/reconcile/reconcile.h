/*
 * reconcile: one pass of the pipeline, the same for every caller (plan,
 * apply, rotate, import, status, the daemon's loop):
 *
 *   observe → plan → apply → record → outcome
 *
 * Loading and validating the manifests is the caller's (an invalid set never
 * reaches a pass). The caller says what it wants through reconcile_opts and
 * gets back the plan, what apply did, and the requests the pass made; it
 * never edits the plan. Nothing here prints: reporting is the caller's.
 */
#ifndef CFS_RECONCILE_H
#define CFS_RECONCILE_H

#include <stdint.h>

#include "../api/api.h"
#include "../apply/apply.h"
#include "../manifest/manifest.h"
#include "../observe/observe.h"
#include "../plan/plan.h"
#include "../state/state.h"

enum reconcile_mode {
	RECONCILE_PLAN = 0,     /* observe and plan; nothing is written */
	RECONCILE_APPLY,        /* ... then apply and record every outcome */
	RECONCILE_LEDGERS,      /* ... then record the Secrets' ledgers as the account
	                           shows them (status --rebuild), nothing sent */
};

struct reconcile_opts {
	enum reconcile_mode mode;
	struct plan_opts plan;   /* prune, now, rotate, only, adopt_only, holds */
	int verify_values;       /* read every declared KV value (one GET each) */
	/* Which per-resource parts observe reads (the daemon's rotation); NULL:
	 * all of them. What is not read is unknown to the plan, not absent. */
	const struct observe_sel *observe;
	int rebuild_ledgers;     /* drop the manifests' secret ledgers before planning */
	/* With RECONCILE_APPLY: asked between plan and apply; non-zero means do not
	 * apply (a saved plan that no longer matches the account). */
	int (*accept)(const struct plan *p, const struct snapshot *snap, void *user);
	void *accept_user;
	/* With RECONCILE_APPLY: each action's outcome as it completes (may be
	 * NULL), for a live display (pkg/apply: apply_outcome_fn). */
	apply_outcome_fn on_outcome;
	void *outcome_user;
};

struct reconcile_result {
	struct snapshot snap;    /* what the account held */
	struct plan plan;
	struct apply_result res; /* valid when applied */
	int applied;             /* apply ran (there was work, or something to record) */
	int rejected;            /* accept() said no: nothing was applied */
	size_t verified;         /* KV values read with verify_values */
	unsigned long requests;  /* made by this pass (retries included) */
	unsigned long writes;
};

/*
 * Runs one pass. ERR_OK when the account was read and planned (apply's own
 * per-resource failures and a state that could not be saved are in r->res);
 * otherwise the observe error (ERR_AUTH when the API refused the
 * credentials), with e set and nothing written. Free r with
 * reconcile_result_release() in every case.
 */
enum errcode reconcile_pass(struct api *a, const struct manifest_set *set, struct state *st,
                            const struct reconcile_opts *o, struct reconcile_result *r,
                            struct err *e) WARN_UNUSED_RESULT;
void reconcile_result_release(struct reconcile_result *r);

#endif
