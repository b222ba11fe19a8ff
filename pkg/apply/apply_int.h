/* Private to pkg/apply: what apply.c and secrets.c share. */
#ifndef CFS_APPLY_INT_H
#define CFS_APPLY_INT_H

#include "apply.h"

struct secret_job;

/* A Secrets Store id, by the store name (or id) the manifests use. While the
 * run's one lookup of it is in flight, id is NULL and the Secret jobs that
 * need it wait in `waiters`. */
struct store_cache {
	char *key, *id;
	struct secret_job *waiters;
};

/* One apply run: what every action's job shares. */
struct applier {
	struct api *api;
	struct state *st;
	int64_t now;
	struct apply_result *res;
	int64_t last_save_ms;
	int dirty;
	struct store_cache *stores; /* Secrets Store ids learnt this run */
	size_t nstores;
	apply_outcome_fn on_outcome; /* may be NULL */
	void *outcome_user;
};

/* Records a failed action (message shown to the user) and marks it. */
void apply_fail(struct applier *ap, const struct plan_action *a, const char *msg);
void apply_succeeded(struct applier *ap, const struct plan_action *a);
/* Saves the state when dirty: always with force, else at most every
 * APPLY_SAVE_INTERVAL_MS. */
void apply_save(struct applier *ap, int force);
/* Starts one Secret action's job: its steps are calls run by api_wait()
 * alongside every other job of the run; its outcome is recorded as it ends. */
void apply_secret(struct applier *ap, struct plan_action *a);
/* Runs one D1Database action to completion (synchronous calls; d1.c). */
void apply_d1(struct applier *ap, struct plan_action *a);
/* Forgets the Secrets Store ids the run learnt. */
void apply_stores_release(struct applier *ap);

#endif
