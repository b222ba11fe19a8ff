/* Private to pkg/apply: what apply.c, secrets.c and d1.c share. */
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
/* Starts one D1Database action's job (d1.c): create, read replication, its
 * pending migrations one batch at a time, or a delete; calls run by
 * api_wait() alongside every other job; its outcome recorded as it ends. */
void apply_d1(struct applier *ap, struct plan_action *a);
/* A job has ended: the hook hears its first recorded failure, or success. */
void apply_finished(struct applier *ap, const struct plan_action *a);
/* Forgets the Secrets Store ids the run learnt. */
void apply_stores_release(struct applier *ap);

#endif
