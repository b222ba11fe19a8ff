/*
 * apply: executes a plan through the API with bounded concurrency. Each
 * action is a small state machine (create → check → storage class →
 * lifecycle → CORS → record; for a Secret, its rotation's steps; for a D1
 * database, its create and migrations one batch at a time) advanced
 * from API callbacks, all of them together; one action's failure never stops
 * the others. Creates are written ahead to the state as
 * pending, so a run killed at any point is completed by the next one instead
 * of leaving an unowned resource behind; outcomes are written as they happen.
 */
#ifndef CFS_APPLY_H
#define CFS_APPLY_H

#include <stdint.h>

#include "../api/api.h"
#include "../plan/plan.h"
#include "../state/state.h"

/* Saves of the state are at most this often while actions complete (and
 * always at the end); pending creates are saved before any is sent. */
#define APPLY_SAVE_INTERVAL_MS 200
/* Bulk KV writes and deletes: Cloudflare takes at most 10,000 items and
 * 100 MB per request (REFERENCE §4); we stay a little under the size. */
#define APPLY_KV_BULK_MAX 10000
#define APPLY_KV_BULK_BYTES (95u * 1024 * 1024)
/* Creates re-sent after a timeout found nothing. */
#define APPLY_CREATE_ATTEMPTS 3

struct apply_failure {
	enum kind kind;
	char *name;
	char *msg;
};

struct apply_result {
	size_t done[PLAN_ROTATE + 1];  /* actions finished, by op */
	size_t failed;
	struct apply_failure *failures;
	size_t nfailures;
	int state_error;               /* the state could not be saved */
	struct err state_err;
};

/*
 * Told of each action's outcome as it completes, from the thread that runs
 * apply_run (between API callbacks): failure is NULL when the action is done,
 * else the message recorded in apply_result (borrowed for the call). Each
 * action is told once: a Secret's failure as it happens, its success as its
 * job ends; a D1 database's outcome (its first failure) as its job ends. For
 * a live display; it must not call into the api.
 */
typedef void (*apply_outcome_fn)(const struct plan_action *a, const char *failure, void *user);

/* Runs every action of p that has work; `now` stamps the inventory.
 * on_outcome (may be NULL) hears every action's outcome as it happens. */
void apply_run(struct api *a, struct plan *p, struct state *st, int64_t now,
               apply_outcome_fn on_outcome, void *outcome_user, struct apply_result *res);
void apply_result_release(struct apply_result *r);

#endif
