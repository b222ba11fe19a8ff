#include "report.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../log/log.h"
#include "../mem/mem.h"
#include "../secret/secret.h"
#include "../timefmt/timefmt.h"

/* One line of text output (the format has no '\n'): names, reasons and
 * error messages come from manifests and servers, so control characters are
 * made visible and each stays on its line. */
static void say(FILE *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
say(FILE *out, const char *fmt, ...)
{
	va_list ap;
	struct buf b;

	buf_init(&b, (size_t)-1);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	log_fputs_text(out, b.data ? b.data : "");
	fputc('\n', out);
	buf_release(&b);
}

const char *
report_sign(enum plan_op op)
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

const char *
report_sgr(const char *sign)
{
	switch (sign[0]) {
	case '+': return "\033[32m";
	case '~': return "\033[33m";
	case '-': return "\033[31m";
	case '!': return "\033[1;31m";
	default: return "";
	}
}

/* The marker, painted when o->color (and reset after it). */
static void
marker(char *buf, size_t len, const char *sign, const struct report_opts *o)
{
	const char *sgr = o->color ? report_sgr(sign) : "";

	snprintf(buf, len, "%s%s%s", sgr, sign, *sgr ? REPORT_SGR_RESET : "");
}

static const char *
verb(enum plan_op op)
{
	switch (op) {
	case PLAN_CREATE: return "create";
	case PLAN_UPDATE: return "update";
	case PLAN_DELETE: return "delete";
	case PLAN_ADOPT: return "adopt";
	case PLAN_REFUSE: return "refused,";
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
		/* a resource that left the manifests and is kept is an "orphan",
		 * told apart from a no-op by its op, not only its text */
		json_str(&b, "op", a->op == PLAN_NOOP && a->want == NULL ? "orphan"
		                   : plan_op_name(a->op));
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
			buf_puts(&b, ",");
			json_str(&b, "before", a->changes[j].before);
			buf_puts(&b, ",");
			json_str(&b, "after", a->changes[j].after);
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

static void plan_markdown(FILE *out, const struct plan *p, const struct apply_result *res,
                          const struct api_stats *stats, const struct report_opts *o);

void
report_plan(FILE *out, const struct plan *p, const struct apply_result *res,
            const struct api_stats *stats, const struct report_opts *o)
{
	int any = 0;

	if (o->json) {
		plan_json(out, p, res, stats);
		return;
	}
	if (o->markdown) {
		plan_markdown(out, p, res, stats, o);
		return;
	}
	for (size_t i = 0; i < p->n && !o->quiet; i++) {
		const struct plan_action *a = &p->v[i];
		const char *f = failure_of(res, a);
		char m[32];

		if (a->op == PLAN_NOOP && !a->reason && !a->note && !o->verbose)
			continue;
		if (!any++)
			fprintf(out, res ? "cfstorage applied these actions:\n\n"
			                 : "cfstorage will perform these actions:\n\n");
		if (a->op == PLAN_NOOP) {
			say(out, "  # %s %s: %s", kind_name(a->kind), a->name, a->what);
		} else {
			/* the marker is ours (and may be painted): the rest is made visible */
			marker(m, sizeof(m), report_sign(a->op), o);
			fprintf(out, "  %s ", m);
			say(out, "%s %s: %s %s", kind_name(a->kind), a->name, verb(a->op),
			    a->what ? a->what : "");
		}
		for (size_t j = 0; j < a->nchanges; j++) {
			char s[2] = { a->changes[j].sign, 0 };

			marker(m, sizeof(m), s, o);
			fprintf(out, "      %s ", m);
			say(out, "%s", a->changes[j].text);
		}
		if (a->reason)
			say(out, "      (%s)", a->reason);
		if (a->note)
			say(out, "      note: %s", a->note);
		if (f) {
			fprintf(out, "      %sFAILED%s: ", o->color ? report_sgr("!") : "",
			        o->color ? REPORT_SGR_RESET : "");
			say(out, "%s", f);
		}
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

/* The listing of a ledger target id ("store:S/N", "script:S/N"), or NULL. */
static const struct obs_starget *
starget_of(const struct snapshot *snap, const char *id, const char **base)
{
	const char *colon = strchr(id, ':'), *slash = strrchr(id, '/');
	char where[256];

	*base = slash ? slash + 1 : id;
	if (snap == NULL || !colon || !slash || slash < colon)
		return NULL;
	snprintf(where, sizeof(where), "%.*s", (int)(slash - colon - 1), colon + 1);
	return snapshot_starget(snap, strncmp(id, "script:", 7) == 0, where);
}

/* 1 present, 0 missing, -1 not observed. */
static int
held(const struct snapshot *snap, const char *id, unsigned n)
{
	const char *base;
	const struct obs_starget *o = starget_of(snap, id, &base);
	char name[300];

	if (o == NULL || o->missing)
		return -1;
	snprintf(name, sizeof(name), "%s_V%u", base, n);
	for (size_t i = 0; i < o->n; i++)
		if (strcmp(o->v[i].name, name) == 0)
			return 1;
	return 0;
}

/*
 * One line per target of the Secret: what its listing holds of the Secret's
 * names (versions, pointer, alias) and which of them carry no cfstorage
 * mark (Secrets Store comments; Worker bindings have none to show).
 */
static void
account_lines(FILE *out, const struct sec_ledger *l, const struct snapshot *snap)
{
	for (size_t k = 0; snap && k < l->ntargets; k++) {
		const char *base;
		const struct obs_starget *o = starget_of(snap, l->targets[k], &base);
		struct buf vers, other;
		char ptr[64] = "-", alias[64] = "-", vpref[300], pname[300];

		if (o == NULL)
			continue;
		if (o->missing) {
			fprintf(out, "  %s: %s does not exist\n", l->targets[k],
			        o->worker ? "the Worker script" : "the Secrets Store");
			continue;
		}
		buf_init(&vers, 64 * 1024);
		buf_init(&other, 64 * 1024);
		snprintf(vpref, sizeof(vpref), "%s_V", base);
		snprintf(pname, sizeof(pname), "%s_VERSION", base);
		for (size_t i = 0; i < o->n; i++) {
			const struct obs_secret *s = &o->v[i];
			unsigned n = secret_version_of(s->name, base);
			int mine = o->worker || secret_comment_marks(s->comment, l->name) ||
			           (s->comment && strcmp(s->comment, SECRET_ALIAS_LEGACY) == 0);

			if (n && mine)
				buf_printf(&vers, "%sV%u", vers.len ? " " : "", n);
			else if (strcmp(s->name, pname) == 0 && mine)
				snprintf(ptr, sizeof(ptr), o->worker ? "present" : "%u",
				         secret_comment_current(s->comment));
			else if (strcmp(s->name, base) == 0 && mine)
				snprintf(alias, sizeof(alias), o->worker ? "present" : "V%u",
				         secret_comment_current(s->comment));
			if ((n || strcmp(s->name, pname) == 0 || strcmp(s->name, base) == 0) && !mine)
				buf_printf(&other, "%s%s", other.len ? ", " : "", s->name);
		}
		fprintf(out, "  %s: holds %s; pointer %s; alias %s%s%s\n", l->targets[k],
		        vers.len ? vers.data : "no version", ptr, alias,
		        other.len ? "; unmarked: " : "", other.len ? other.data : "");
		buf_release(&vers);
		buf_release(&other);
	}
}

/* With the account read: "Degraded" when a target lost a version the ledger
 * keeps (previous or retained: nothing can restore it), "Ready" otherwise
 * (a lost current version is the next apply's rotation); NULL unread. */
static const char *
secret_condition(const struct sec_ledger *l, const struct snapshot *snap)
{
	if (snap == NULL)
		return NULL;
	for (size_t j = 0; j < l->n; j++) {
		const struct sec_version *v = &l->v[j];

		if (v->status != V_PREVIOUS && v->status != V_RETAINED)
			continue;
		for (size_t k = 0; k < v->ntargets; k++)
			if (held(snap, v->targets[k], v->n) == 0)
				return "Degraded";
	}
	return "Ready";
}

/* status -o json. */
static void
status_json(FILE *out, const struct state *st, const struct manifest_set *set,
            const struct snapshot *snap)
{
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
		if (x->kind == KIND_D1DATABASE) {
			json_str(&b, "databaseName", x->db_name);
			buf_puts(&b, ",\"migrations\":[");
			for (size_t k = 0; k < x->nmigs; k++) {
				buf_puts(&b, k ? "," : "");
				buf_json_string(&b, x->migs[k].name, strlen(x->migs[k].name));
			}
			buf_puts(&b, "],");
		}
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
		buf_puts(&b, ",");
		json_str(&b, "condition", secret_condition(l, snap));
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
			buf_puts(&b, "],\"missing\":[");
			for (size_t k = 0, m = 0; snap && k < v->ntargets; k++)
				if (v->status != V_DESTROYED && held(snap, v->targets[k], v->n) == 0) {
					buf_puts(&b, m++ ? "," : "");
					buf_json_string(&b, v->targets[k], strlen(v->targets[k]));
				}
			buf_puts(&b, "]}");
		}
		buf_puts(&b, "]}");
	}
	buf_puts(&b, st->nsecrets ? "\n]}\n" : "]}\n");
	fputs(b.data, out);
	buf_release(&b);
}

/* One inventory row's TARGET column: the bucket (and jurisdiction) or the
 * namespace title and id. */
static void
target_of(const struct inv_entry *x, char *buf, size_t len)
{
	int juris = x->jurisdiction && strcmp(x->jurisdiction, "default") != 0;

	if (x->kind == KIND_R2BUCKET)
		snprintf(buf, len, "%s%s%s%s", x->bucket_name ? x->bucket_name : "?",
		         juris ? " (" : "", juris ? x->jurisdiction : "", juris ? ")" : "");
	else if (x->kind == KIND_D1DATABASE)
		snprintf(buf, len, "%s%s%s (%zu migration%s)", x->db_name ? x->db_name : "?",
		         x->kv_id ? " " : "", x->kv_id ? x->kv_id : "", x->nmigs,
		         x->nmigs == 1 ? "" : "s");
	else
		snprintf(buf, len, "%s%s%s", x->title ? x->title : "?", x->kv_id ? " " : "",
		         x->kv_id ? x->kv_id : "");
}

/* The inventory as a table whose columns are as wide as their content. */
static void
inventory_table(FILE *out, const struct state *st)
{
	int wk = 4, wn = 4, wt = 6;
	char target[400];

	if (st->n == 0)
		return;
	for (size_t i = 0; i < st->n; i++) {
		int k = (int)strlen(kind_name(st->v[i]->kind)), n = (int)strlen(st->v[i]->name), t;

		target_of(st->v[i], target, sizeof(target));
		t = (int)strlen(target);
		wk = k > wk ? k : wk;
		wn = n > wn ? n : wn;
		wt = t > wt ? t : wt;
	}
	fprintf(out, "%-*s  %-*s  %-*s  %-8s %-9s %s\n", wk, "KIND", wn, "NAME", wt, "TARGET",
	        "POLICY", "ORIGIN", "CONDITION");
	for (size_t i = 0; i < st->n; i++) {
		const struct inv_entry *x = st->v[i];

		target_of(x, target, sizeof(target));
		say(out, "%-*s  %-*s  %-*s  %-8s %-9s %s", wk, kind_name(x->kind), wn, x->name, wt,
		    target, x->policy == DELETION_DELETE ? "Delete" : "Retain",
		    x->origin == ORIGIN_ADOPTED ? "adopted"
		    : x->origin == ORIGIN_IMPORTED ? "imported" : "created",
		    x->pending ? "Pending: create sent, outcome unknown" :
		    x->condition ? x->condition : "-");
	}
}

/* status as text: the inventory table, then each Secret's versions and what
 * its targets hold. */
static void
status_text(FILE *out, const struct state *st, const struct manifest_set *set,
            const struct snapshot *snap, const struct report_opts *o)
{
	if (st->n == 0 && st->nsecrets == 0) {
		fprintf(out, "The inventory is empty: cfstorage owns nothing yet.\n");
		return;
	}
	inventory_table(out, st);
	for (size_t i = 0; i < st->nsecrets; i++) {
		const struct sec_ledger *l = st->secrets[i];
		const struct sec_version *cur = ledger_current(l);
		char next[32];

		next_rotation(l, set, next, sizeof(next));
		fprintf(out, "%sSecret %s: current %s%u, next rotation %s, deletionPolicy %s%s%s\n",
		        i == 0 && st->n ? "\n" : (i ? "\n" : ""), l->name, cur ? "V" : "none",
		        cur ? cur->n : 0, next, l->policy == DELETION_DELETE ? "Delete" : "Retain",
		        secret_condition(l, snap) ? ", condition " : "",
		        secret_condition(l, snap) ? secret_condition(l, snap) : "");
		fprintf(out, "  %-8s %-10s %-17s %-21s %s\n", "VERSION", "STATUS", "FINGERPRINT",
		        "CREATED", "TARGETS");
		for (size_t j = l->n; j-- > 0;) {
			const struct sec_version *v = &l->v[j];
			char ts[32], vn[16];

			if (v->status == V_DESTROYED && !o->verbose)
				continue;
			timefmt_format(v->created, ts, sizeof(ts));
			snprintf(vn, sizeof(vn), "V%u", v->n);
			fprintf(out, "  %-8s %-10s %-17s %-21s ", vn, vstatus_name(v->status),
			        v->fp[0] ? v->fp : "-", ts);
			for (size_t k = 0; k < v->ntargets; k++)
				fprintf(out, "%s%s%s", k ? ", " : "", v->targets[k],
				        held(snap, v->targets[k], v->n) == 0 ? " (missing)" : "");
			fprintf(out, "%s\n", v->ntargets ? "" : "-");
		}
		account_lines(out, l, snap);
	}
}

void
report_status(FILE *out, const struct state *st, const struct manifest_set *set,
              const struct snapshot *snap, int64_t now, const struct report_opts *o)
{
	(void)now;
	if (o->json)
		status_json(out, st, set, snap);
	else
		status_text(out, st, set, snap, o);
}

/*
 * -o markdown, for a pull request comment or a CI job summary: the summary
 * line in bold, then the text plan in a ```diff block (so + and - lines are
 * coloured by the forge) inside a <details> that is open when something is
 * deleted or refused.
 */
static void
plan_markdown(FILE *out, const struct plan *p, const struct apply_result *res,
              const struct api_stats *stats, const struct report_opts *o)
{
	struct report_opts text = *o;
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);
	char *summary, *nl;
	int open = p->counts[PLAN_DELETE] || p->counts[PLAN_REFUSE];

	text.markdown = 0;
	text.color = 0;
	report_plan(mem, p, res, stats, &text);
	fclose(mem);
	/* the last line is the summary */
	if (len && buf[len - 1] == '\n')
		buf[--len] = '\0';
	nl = strrchr(buf, '\n');
	summary = nl ? nl + 1 : buf;
	fprintf(out, "#### cfstorage %s\n\n**%s**\n\n", res ? "apply" : "plan", summary);
	if (nl) {
		*nl = '\0';
		fprintf(out, "<details%s><summary>%zu action%s</summary>\n\n```diff\n",
		        open ? " open" : "", p->n, p->n == 1 ? "" : "s");
		/* markers in column 0, where a diff block colours them */
		for (char *line = buf, *next; line; line = next) {
			next = strchr(line, '\n');
			if (next)
				*next++ = '\0';
			fprintf(out, "%s\n", line + strspn(line, " "));
		}
		fprintf(out, "```\n\n</details>\n");
	}
	free(buf);
}
