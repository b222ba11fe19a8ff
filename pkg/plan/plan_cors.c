/*
 * A bucket's CORS policy, rule by rule: declared rules are matched with the
 * account's by id, else by identical content, else by position among the
 * rules left; a matched pair that differs is shown field by field (origins,
 * methods, headers, expose headers added and removed; max age before and
 * after), with each rule's JSON as before/after for -o json.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../mem/mem.h"
#include "plan_int.h"

static int
has(char *const *v, size_t n, const char *s, int nocase)
{
	for (size_t i = 0; i < n; i++)
		if ((nocase ? strcasecmp(v[i], s) : strcmp(v[i], s)) == 0)
			return 1;
	return 0;
}

/* "+ a, + b, - c" for one list field; empty when equal as sets. */
static void
list_delta(struct buf *b, const char *what, char *const *want, size_t nw, char *const *have,
           size_t nh, int nocase)
{
	size_t mark = b->len;
	int any = 0;

	buf_printf(b, "%s%s ", b->len ? "; " : "", what);
	for (size_t i = 0; i < nw; i++)
		if (!has(have, nh, want[i], nocase)) {
			buf_printf(b, "%s+ %s", any++ ? ", " : "", want[i]);
		}
	for (size_t i = 0; i < nh; i++)
		if (!has(want, nw, have[i], nocase)) {
			buf_printf(b, "%s- %s", any++ ? ", " : "", have[i]);
		}
	if (!any) {
		b->len = mark;
		b->data[mark] = '\0';
	}
}

static int
rule_same(const struct cors_rule *a, const struct cors_rule *b)
{
	struct buf d;
	int same;

	buf_init(&d, (size_t)-1);
	list_delta(&d, "o", a->origins, a->norigins, b->origins, b->norigins, 0);
	list_delta(&d, "m", a->methods, a->nmethods, b->methods, b->nmethods, 0);
	list_delta(&d, "h", a->headers, a->nheaders, b->headers, b->nheaders, 1);
	list_delta(&d, "e", a->expose, a->nexpose, b->expose, b->nexpose, 1);
	same = d.len == 0 && a->max_age == b->max_age;
	buf_release(&d);
	return same;
}

static const char *
rule_label(const struct cors_rule *r, size_t i, char *buf, size_t len)
{
	if (r->id && r->id[0])
		snprintf(buf, len, "cors rule '%s'", r->id);
	else
		snprintf(buf, len, "cors rule %zu", i + 1);
	return buf;
}

/* Adds the change lines; 1 when the policy differs at all. */
int
plan_cors_diff(struct plan_action *a, const struct cors_rule *want, size_t nw,
               const struct cors_rule *have, size_t nh)
{
	size_t *pair = xcalloc(nw + 1, sizeof(*pair));   /* have index + 1, 0 none */
	int *used = xcalloc(nh + 1, sizeof(*used)), differs = 0;
	char label[160];

	for (size_t i = 0; i < nw; i++) /* by id */
		for (size_t k = 0; want[i].id && want[i].id[0] && k < nh && !pair[i]; k++)
			if (!used[k] && have[k].id && strcmp(have[k].id, want[i].id) == 0)
				pair[i] = k + 1, used[k] = 1;
	for (size_t i = 0; i < nw; i++) /* by content */
		for (size_t k = 0; k < nh && !pair[i]; k++)
			if (!used[k] && rule_same(&want[i], &have[k]))
				pair[i] = k + 1, used[k] = 1;
	for (size_t i = 0, k = 0; i < nw; i++) { /* by position among the rest */
		while (!pair[i] && k < nh && used[k])
			k++;
		if (!pair[i] && k < nh)
			pair[i] = k + 1, used[k++] = 1;
	}
	for (size_t i = 0; i < nw; i++) {
		char *after = api_cors_json(&want[i], 1), *before;
		const struct cors_rule *h;
		struct buf d;

		if (!pair[i]) {
			plan_add_change_ba(a, '+', "cors", NULL, after, "%s: origins %s",
			                   rule_label(&want[i], i, label, sizeof(label)),
			                   want[i].norigins ? want[i].origins[0] : "-");
			free(after);
			differs = 1;
			continue;
		}
		h = &have[pair[i] - 1];
		if (rule_same(&want[i], h)) {
			free(after);
			continue;
		}
		buf_init(&d, (size_t)-1);
		list_delta(&d, "origins", want[i].origins, want[i].norigins, h->origins, h->norigins, 0);
		list_delta(&d, "methods", want[i].methods, want[i].nmethods, h->methods, h->nmethods, 0);
		list_delta(&d, "headers", want[i].headers, want[i].nheaders, h->headers, h->nheaders, 1);
		list_delta(&d, "expose", want[i].expose, want[i].nexpose, h->expose, h->nexpose, 1);
		if (want[i].max_age != h->max_age)
			buf_printf(&d, "%smaxAge %lld → %lld", d.len ? "; " : "", (long long)h->max_age,
			           (long long)want[i].max_age);
		before = api_cors_json(h, 1);
		plan_add_change_ba(a, '~', "cors", before, after, "%s: %s",
		                   rule_label(&want[i], i, label, sizeof(label)), d.data);
		free(before);
		free(after);
		buf_release(&d);
		differs = 1;
	}
	for (size_t k = 0; k < nh; k++) {
		char *before;

		if (used[k])
			continue;
		before = api_cors_json(&have[k], 1);
		plan_add_change_ba(a, '-', "cors", before, NULL, "%s: origins %s (not declared)",
		                   rule_label(&have[k], k, label, sizeof(label)),
		                   have[k].norigins ? have[k].origins[0] : "-");
		free(before);
		differs = 1;
	}
	free(pair);
	free(used);
	return differs;
}
