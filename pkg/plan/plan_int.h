/* Shared by the plan's files: building actions. Not for other modules. */
#ifndef CFS_PLAN_INT_H
#define CFS_PLAN_INT_H

#include "plan.h"

/* Appends an action (NOOP fields zeroed) and returns it; valid until the next add. */
struct plan_action *plan_add_action(struct plan *p, enum plan_op op, enum kind k,
                                    const char *name);
/* Appends a change line to a. */
void plan_add_change(struct plan_action *a, char sign, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Appends a change line with the values before and after (copied; NULL for none). */
void plan_add_change_ba(struct plan_action *a, char sign, const char *field, const char *before,
                        const char *after, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
/* A CORS policy, rule by rule (plan_cors.c); 1 when it differs. */
int plan_cors_diff(struct plan_action *a, const struct cors_rule *want, size_t nw,
                   const struct cors_rule *have, size_t nh);

/* Secrets (secret.c). */
void plan_secret(struct plan *p, const struct resource *r, const struct snapshot *snap,
                 const struct state *st, const struct plan_opts *o);
void plan_secret_orphan(struct plan *p, const struct sec_ledger *l, const struct manifest_set *want,
                        const struct plan_opts *o);
int plan_wanted_secret(const struct manifest_set *want, const char *name);

/* D1 databases (plan_d1.c): a declared database, and one that left the manifests. */
void plan_d1(struct plan *p, const struct resource *r, const struct snapshot *snap,
             const struct state *st);
int plan_orphan_kept(struct plan_action *a, const struct inv_entry *x, int present,
                     const struct manifest_set *want, const struct plan_opts *o);
void plan_d1_orphan(struct plan *p, const struct inv_entry *x, const struct snapshot *snap,
                    const struct manifest_set *want, const struct plan_opts *o);
/* Adds "~ deletionPolicy" and marks a->record when the inventory differs (plan.c). */
void plan_record_policy(struct plan_action *a, const struct resource *r,
                        const struct inv_entry *inv);

#endif
