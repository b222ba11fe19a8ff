#include "report.h"

#include <string.h>

#include "../mem/mem.h"
#include "../secret/secret.h"
#include "../timefmt/timefmt.h"

static const char *
sign(enum plan_op op)
{
	switch (op) {
	case PLAN_CREATE: return "+";
	case PLAN_UPDATE: return "~";
	case PLAN_DELETE: return "-";
	case PLAN_ADOPT: return "=";
	case PLAN_REFUSE: return "!";
	case PLAN_FORGET: return "·";
	case PLAN_ROTATE: return "↻";
	case PLAN_NOOP: return " ";
	}
	return "?";
}

static const char *
verb(enum plan_op op)
{
	switch (op) {
	case PLAN_CREATE: return "create";
	case PLAN_UPDATE: return "update";
	case PLAN_DELETE: return "delete";
	case PLAN_ADOPT: return "adopt";
	case PLAN_REFUSE: return "refused:";
	case PLAN_FORGET: return "forget";
	case PLAN_ROTATE: return "rotate";
	case PLAN_NOOP: return "no changes to";
	}
	return "?";
}

static void
json_str(struct buf *b, const char *k, const char *v)
{
	buf_printf(b, "\"%s\":", k);
	if (v)
		buf_json_string(b, v, strlen(v));
	else
		buf_puts(b, "null");
}

static const char *
failure_of(const struct apply_result *res, const struct plan_action *a)
{
	for (size_t i = 0; res && i < res->nfailures; i++)
		if (res->failures[i].kind == a->kind && strcmp(res->failures[i].name, a->name) == 0)
			return res->failures[i].msg;
	return NULL;
}

static void
plan_json(FILE *out, const struct plan *p, const struct apply_result *res,
          const struct api_stats *stats)
{
	struct buf b;

	buf_init(&b, (size_t)-1);
	buf_puts(&b, "{\"actions\":[");
	for (size_t i = 0; i < p->n; i++) {
		const struct plan_action *a = &p->v[i];
		const char *f = failure_of(res, a);

		buf_puts(&b, i ? ",\n  {" : "\n  {");
		json_str(&b, "op", plan_op_name(a->op));
		buf_puts(&b, ",");
		json_str(&b, "kind", kind_name(a->kind));
		buf_puts(&b, ",");
		json_str(&b, "name", a->name);
		buf_puts(&b, ",");
		json_str(&b, "target", a->what);
		buf_puts(&b, ",");
		json_str(&b, "reason", a->reason);
		buf_puts(&b, ",");
		json_str(&b, "note", a->note);
		buf_puts(&b, ",\"changes\":[");
		for (size_t j = 0; j < a->nchanges; j++) {
			char s[2] = { a->changes[j].sign, 0 };

			buf_puts(&b, j ? ",{" : "{");
			json_str(&b, "sign", s);
			buf_puts(&b, ",");
			json_str(&b, "field", a->changes[j].field);
			buf_puts(&b, ",");
			json_str(&b, "text", a->changes[j].text);
			buf_puts(&b, "}");
		}
		buf_puts(&b, "]");
		if (res) {
			buf_puts(&b, ",");
			json_str(&b, "result", f ? "failed" : (a->op == PLAN_NOOP && !a->record) ||
			         a->op == PLAN_REFUSE ? "skipped" : "done");
			buf_puts(&b, ",");
			json_str(&b, "error", f);
		}
		buf_puts(&b, "}");
	}
	buf_puts(&b, p->n ? "\n],\n\"summary\":{" : "],\n\"summary\":{");
	for (int op = PLAN_CREATE; op <= PLAN_ROTATE; op++)
		buf_printf(&b, "%s\"%s\":%zu", op == PLAN_CREATE ? "" : ",",
		           plan_op_name((enum plan_op)op), p->counts[op]);
	buf_printf(&b, ",\"noop\":%zu,\"changes\":%s", p->counts[PLAN_NOOP],
	           plan_has_changes(p) ? "true" : "false");
	if (res)
		buf_printf(&b, ",\"failed\":%zu", res->failed);
	buf_printf(&b, "},\n\"requests\":%lu,\"writes\":%lu}\n", stats ? stats->requests : 0,
	           stats ? stats->writes : 0);
	fputs(b.data, out);
	buf_release(&b);
}

void
report_plan(FILE *out, const struct plan *p, const struct apply_result *res,
            const struct api_stats *stats, const struct report_opts *o)
{
	int any = 0;

	if (o->json) {
		plan_json(out, p, res, stats);
		return;
	}
	for (size_t i = 0; i < p->n; i++) {
		const struct plan_action *a = &p->v[i];
		const char *f = failure_of(res, a);

		if (a->op == PLAN_NOOP && !a->reason && !a->note && !o->verbose)
			continue;
		if (!any++)
			fprintf(out, res ? "cfstorage applied these actions:\n\n"
			                 : "cfstorage will perform these actions:\n\n");
		if (a->op == PLAN_NOOP)
			fprintf(out, "  # %s %s: %s\n", kind_name(a->kind), a->name, a->what);
		else
			fprintf(out, "  %s %s %s: %s %s\n", sign(a->op), kind_name(a->kind), a->name,
			        verb(a->op), a->op == PLAN_REFUSE ? "" : a->what);
		for (size_t j = 0; j < a->nchanges; j++)
			fprintf(out, "      %c %s\n", a->changes[j].sign, a->changes[j].text);
		if (a->reason)
			fprintf(out, "      (%s)\n", a->reason);
		if (a->note)
			fprintf(out, "      note: %s\n", a->note);
		if (f)
			fprintf(out, "      FAILED: %s\n", f);
	}
	if (any)
		fputc('\n', out);
	if (!plan_has_changes(p)) {
		fprintf(out, "No changes: the account matches the manifests.");
	} else if (res == NULL) {
		fprintf(out, "Plan: %zu to create, %zu to update, %zu to delete, %zu to adopt, "
		        "%zu to rotate, %zu refused, %zu to forget.", p->counts[PLAN_CREATE],
		        p->counts[PLAN_UPDATE], p->counts[PLAN_DELETE], p->counts[PLAN_ADOPT],
		        p->counts[PLAN_ROTATE], p->counts[PLAN_REFUSE], p->counts[PLAN_FORGET]);
	} else {
		fprintf(out, "Apply: %zu created, %zu updated, %zu deleted, %zu adopted, "
		        "%zu rotated, %zu forgotten, %zu refused, %zu failed.", res->done[PLAN_CREATE],
		        res->done[PLAN_UPDATE], res->done[PLAN_DELETE], res->done[PLAN_ADOPT],
		        res->done[PLAN_ROTATE], res->done[PLAN_FORGET], p->counts[PLAN_REFUSE],
		        res->failed);
	}
	if (stats)
		fprintf(out, " %lu API request%s (%lu write%s).\n", stats->requests,
		        stats->requests == 1 ? "" : "s", stats->writes, stats->writes == 1 ? "" : "s");
	else
		fputc('\n', out);
}

static const struct resource *
secret_spec_of(const struct manifest_set *set, const char *name)
{
	for (size_t i = 0; set && i < set->n; i++)
		if (set->items[i].kind == KIND_SECRET && strcmp(set->items[i].name, name) == 0)
			return &set->items[i];
	return NULL;
}

/* The next rotation of ledger l as RFC 3339, or "-" (no spec or no rotation). */
static void
next_rotation(const struct sec_ledger *l, const struct manifest_set *set, char *buf,
              size_t len)
{
	const struct resource *r = secret_spec_of(set, l->name);
	const struct sec_version *cur = ledger_current(l);
	int64_t due;

	snprintf(buf, len, "-");
	if (r == NULL || cur == NULL)
		return;
	due = secret_next_due(&r->u.secret, cur->created);
	if (due != INT64_MAX)
		timefmt_format(due, buf, len);
}

void
report_status(FILE *out, const struct state *st, const struct manifest_set *set,
              int64_t now, const struct report_opts *o)
{
	(void)now;
	if (o->json) {
		struct buf b;

		buf_init(&b, (size_t)-1);
		buf_puts(&b, "{\"resources\":[");
		for (size_t i = 0; i < st->n; i++) {
			const struct inv_entry *x = st->v[i];

			buf_puts(&b, i ? ",\n  {" : "\n  {");
			json_str(&b, "kind", kind_name(x->kind));
			buf_puts(&b, ",");
			json_str(&b, "name", x->name);
			buf_puts(&b, ",");
			json_str(&b, "bucketName", x->bucket_name);
			buf_puts(&b, ",");
			json_str(&b, "jurisdiction", x->jurisdiction);
			buf_puts(&b, ",");
			json_str(&b, "id", x->kv_id);
			buf_puts(&b, ",");
			json_str(&b, "title", x->title);
			buf_puts(&b, ",");
			json_str(&b, "deletionPolicy", x->policy == DELETION_DELETE ? "Delete" : "Retain");
			buf_puts(&b, ",");
			json_str(&b, "origin", x->origin == ORIGIN_ADOPTED ? "adopted"
			         : x->origin == ORIGIN_IMPORTED ? "imported" : "created");
			buf_printf(&b, ",\"pending\":%s,", x->pending ? "true" : "false");
			json_str(&b, "condition", x->condition);
			buf_puts(&b, ",");
			json_str(&b, "updated", x->updated);
			buf_puts(&b, "}");
		}
		buf_puts(&b, st->n ? "\n],\n\"secrets\":[" : "],\n\"secrets\":[");
		for (size_t i = 0; i < st->nsecrets; i++) {
			const struct sec_ledger *l = st->secrets[i];
			const struct sec_version *cur = ledger_current(l);
			char next[32];

			next_rotation(l, set, next, sizeof(next));
			buf_puts(&b, i ? ",\n  {" : "\n  {");
			json_str(&b, "name", l->name);
			buf_puts(&b, ",");
			json_str(&b, "deletionPolicy", l->policy == DELETION_DELETE ? "Delete" : "Retain");
			if (cur)
				buf_printf(&b, ",\"current\":%u,", cur->n);
			else
				buf_puts(&b, ",\"current\":null,");
			json_str(&b, "nextRotation", strcmp(next, "-") ? next : NULL);
			buf_puts(&b, ",\"versions\":[");
			for (size_t j = 0; j < l->n; j++) {
				const struct sec_version *v = &l->v[j];
				char ts[32];

				timefmt_format(v->created, ts, sizeof(ts));
				buf_printf(&b, "%s{\"version\":%u,", j ? "," : "", v->n);
				json_str(&b, "status", vstatus_name(v->status));
				buf_puts(&b, ",");
				json_str(&b, "fingerprint", v->fp);
				buf_puts(&b, ",");
				json_str(&b, "created", ts);
				buf_puts(&b, ",\"targets\":[");
				for (size_t k = 0; k < v->ntargets; k++) {
					buf_puts(&b, k ? "," : "");
					buf_json_string(&b, v->targets[k], strlen(v->targets[k]));
				}
				buf_puts(&b, "]}");
			}
			buf_puts(&b, "]}");
		}
		buf_puts(&b, st->nsecrets ? "\n]}\n" : "]}\n");
		fputs(b.data, out);
		buf_release(&b);
		return;
	}
	if (st->n == 0 && st->nsecrets == 0) {
		fprintf(out, "The inventory is empty: cfstorage owns nothing yet.\n");
		return;
	}
	if (st->n)
		fprintf(out, "%-12s %-24s %-36s %-8s %-9s %s\n", "KIND", "NAME", "TARGET", "POLICY",
		        "ORIGIN", "CONDITION");
	for (size_t i = 0; i < st->n; i++) {
		const struct inv_entry *x = st->v[i];
		char target[160];

		if (x->kind == KIND_R2BUCKET)
			snprintf(target, sizeof(target), "%s%s%s%s", x->bucket_name ? x->bucket_name : "?",
			         x->jurisdiction && strcmp(x->jurisdiction, "default") ? " (" : "",
			         x->jurisdiction && strcmp(x->jurisdiction, "default") ? x->jurisdiction : "",
			         x->jurisdiction && strcmp(x->jurisdiction, "default") ? ")" : "");
		else
			snprintf(target, sizeof(target), "%s%s%s", x->title ? x->title : "?",
			         x->kv_id ? " " : "", x->kv_id ? x->kv_id : "");
		fprintf(out, "%-12s %-24s %-36s %-8s %-9s %s\n", kind_name(x->kind), x->name,
		        target, x->policy == DELETION_DELETE ? "Delete" : "Retain",
		        x->origin == ORIGIN_ADOPTED ? "adopted"
		        : x->origin == ORIGIN_IMPORTED ? "imported" : "created",
		        x->pending ? "Pending: create sent, outcome unknown" :
		        x->condition ? x->condition : "-");
	}
	for (size_t i = 0; i < st->nsecrets; i++) {
		const struct sec_ledger *l = st->secrets[i];
		const struct sec_version *cur = ledger_current(l);
		char next[32];

		next_rotation(l, set, next, sizeof(next));
		fprintf(out, "%sSecret %s: current %s%u, next rotation %s, deletionPolicy %s\n",
		        i == 0 && st->n ? "\n" : (i ? "\n" : ""), l->name, cur ? "V" : "none",
		        cur ? cur->n : 0, next, l->policy == DELETION_DELETE ? "Delete" : "Retain");
		fprintf(out, "  %-8s %-10s %-17s %-21s %s\n", "VERSION", "STATUS", "FINGERPRINT",
		        "CREATED", "TARGETS");
		for (size_t j = l->n; j-- > 0;) {
			const struct sec_version *v = &l->v[j];
			char ts[32], vn[16];

			timefmt_format(v->created, ts, sizeof(ts));
			snprintf(vn, sizeof(vn), "V%u", v->n);
			fprintf(out, "  %-8s %-10s %-17s %-21s ", vn, vstatus_name(v->status),
			        v->fp[0] ? v->fp : "-", ts);
			for (size_t k = 0; k < v->ntargets; k++)
				fprintf(out, "%s%s", k ? ", " : "", v->targets[k]);
			fprintf(out, "%s\n", v->ntargets ? "" : "-");
		}
	}
}
