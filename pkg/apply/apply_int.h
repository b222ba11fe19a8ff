/* Private to pkg/apply: what apply.c and secrets.c share. */
#ifndef CFS_APPLY_INT_H
#define CFS_APPLY_INT_H

#include "apply.h"

/* A Secrets Store id, by the store name (or id) the manifests use. */
struct store_cache {
	char *key, *id;
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
};

/* Records a failed action (message shown to the user) and marks it. */
void apply_fail(struct applier *ap, const struct plan_action *a, const char *msg);
/* Saves the state when dirty: always with force, else at most every
 * APPLY_SAVE_INTERVAL_MS. */
void apply_save(struct applier *ap, int force);
/* Runs one Secret action to completion (synchronous calls). */
void apply_secret(struct applier *ap, struct plan_action *a);
/* Forgets the Secrets Store ids the run learnt. */
void apply_stores_release(struct applier *ap);

#endif
