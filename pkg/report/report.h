/*
 * report: the plan and the apply outcome for people (a terraform-style diff:
 * + create, ~ update, - delete, = adopt, ! refused, · forget) and for
 * machines (-o json, the same content).
 */
#ifndef CFS_REPORT_H
#define CFS_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "../api/api.h"
#include "../apply/apply.h"
#include "../plan/plan.h"
#include "../state/state.h"

struct report_opts {
	int json;
	int verbose;
	int color;
	int quiet;               /* text: the summary line only */
	int markdown;            /* -o markdown: for a pull request or a job summary */
};

/* The marker of an action: + ~ - = ! · ↻, or " " for no change. */
const char *report_sign(enum plan_op op);
/* The colour (an ANSI SGR sequence) of a marker on a terminal, "" for none:
 * + green, ~ yellow, - red, ! bold red; REPORT_SGR_RESET ends it. */
const char *report_sgr(const char *sign);
#define REPORT_SGR_RESET "\033[0m"

/* `res` is NULL for a plan. o->color paints the markers (report_sgr). */
void report_plan(FILE *out, const struct plan *p, const struct apply_result *res,
                 const struct api_stats *stats, const struct report_opts *o);
/* The inventory, conditions and secret versions (status). `set` (may be
 * empty) gives each Secret's schedule for the next rotation; `snap` (NULL
 * when the account was not read) what each Secret's targets hold beside the
 * ledger: present, missing, or there without cfstorage's mark. Destroyed
 * versions only with verbose. */
void report_status(FILE *out, const struct state *st, const struct manifest_set *set,
                   const struct snapshot *snap, int64_t now, const struct report_opts *o);

#endif
