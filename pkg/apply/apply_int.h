/* Private to pkg/apply: what apply.c and secrets.c share. */
#ifndef CFS_APPLY_INT_H
#define CFS_APPLY_INT_H

#include "apply.h"

struct applier {
	struct api *api;
	struct state *st;
	int64_t now;
	struct apply_result *res;
	int64_t last_save_ms;
	int dirty;
};

/* Records a failed action (message shown to the user) and marks it. */
void apply_fail(struct applier *ap, const struct plan_action *a, const char *msg);
/* Saves the state when dirty: always with force, else at most every
 * APPLY_SAVE_INTERVAL_MS. */
void apply_save(struct applier *ap, int force);
/* Runs one Secret action to completion (synchronous calls). */
void apply_secret(struct applier *ap, struct plan_action *a);

#endif
