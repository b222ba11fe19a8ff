/*
 * report: the plan and the apply outcome for people (a terraform-style diff:
 * + create, ~ update, - delete, = adopt, ! refused, · forget) and for
 * machines (-o json, the same content).
 */
#ifndef CFS_REPORT_H
#define CFS_REPORT_H

#include <stdio.h>

#include "../api/api.h"
#include "../apply/apply.h"
#include "../plan/plan.h"
#include "../state/state.h"

struct report_opts {
	int json;
	int verbose;
	int color;
};

/* `res` is NULL for a plan. */
void report_plan(FILE *out, const struct plan *p, const struct apply_result *res,
                 const struct api_stats *stats, const struct report_opts *o);
/* The inventory and conditions (status). */
void report_status(FILE *out, const struct state *st, const struct report_opts *o);

#endif
