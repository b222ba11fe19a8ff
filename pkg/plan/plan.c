#include "plan.h"
#include "plan_int.h"

#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>

#include "../mem/mem.h"
#include "../secret/secret.h"
#include "../timefmt/timefmt.h"

const char *
plan_op_name(enum plan_op op)
{
	switch (op) {
	case PLAN_NOOP: return "noop";
	case PLAN_CREATE: return "create";
	case PLAN_UPDATE: return "update";
	case PLAN_DELETE: return "delete";
	case PLAN_ADOPT: return "adopt";
	case PLAN_REFUSE: return "refuse";
	case PLAN_FORGET: return "forget";
	case PLAN_ROTATE: return "rotate";
	}
	abort();
}

static void
add_change(struct plan_action *a, char sign, const char *field, const char *before,
           const char *after, const char *fmt, va_list ap)
{
	struct buf b;

	buf_init(&b, 4096);
	buf_vprintf(&b, fmt, ap);
	a->changes = xrealloc(a->changes, (a->nchanges + 1) * sizeof(*a->changes));
	a->changes[a->nchanges].sign = sign;
	a->changes[a->nchanges].field = xstrdup(field);
	a->changes[a->nchanges].text = buf_take(&b);
	a->changes[a->nchanges].before = before ? xstrdup(before) : NULL;
	a->changes[a->nchanges].after = after ? xstrdup(after) : NULL;
	a->nchanges++;
}

void
plan_add_change(struct plan_action *a, char sign, const char *field, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add_change(a, sign, field, NULL, NULL, fmt, ap);
	va_end(ap);
}

void
plan_add_change_ba(struct plan_action *a, char sign, const char *field, const char *before,
                   const char *after, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add_change(a, sign, field, before, after, fmt, ap);
	va_end(ap);
}

struct plan_action *
plan_add_action(struct plan *p, enum plan_op op, enum kind k, const char *name)
{
	struct plan_action *a;

	p->v = xrealloc(p->v, (p->n + 1) * sizeof(*p->v));
	a = &p->v[p->n++];
	memset(a, 0, sizeof(*a));
	a->op = op;
	a->kind = k;
	a->name = xstrdup(name);
	return a;
}

/* ---- canonical forms ---- */

static int
cond_equal(const struct lc_cond *a, const struct lc_cond *b)
{
	if (a->set != b->set)
		return 0;
	if (!a->set)
		return 1;
	if (a->is_date != b->is_date)
		return 0;
	return a->is_date ? a->date == b->date : a->days == b->days;
}

static void
cond_text(const struct lc_cond *c, char *buf, size_t len)
{
	if (!c->set)
		snprintf(buf, len, "none");
	else if (c->is_date)
		snprintf(buf, len, "%s", c->date_text);
	else if (c->days < 0)
		snprintf(buf, len, "%llds", (long long)-c->days);
	else
		snprintf(buf, len, "%lld days", (long long)c->days);
}

static int
trans_cmp(const void *x, const void *y)
{
	const struct lc_transition *a = x, *b = y;

	if (a->cond.is_date != b->cond.is_date)
		return a->cond.is_date - b->cond.is_date;
	if (a->cond.is_date)
		return a->cond.date < b->cond.date ? -1 : a->cond.date > b->cond.date;
	return a->cond.days < b->cond.days ? -1 : a->cond.days > b->cond.days;
}

/* Transitions compare as a set: Cloudflare may return them in any order. */
static int
transitions_equal(const struct lc_rule *a, const struct lc_rule *b)
{
	struct lc_transition *x, *y;
	int eq = 1;

	if (a->ntransitions != b->ntransitions)
		return 0;
	if (a->ntransitions == 0)
		return 1;
	x = xmalloc(a->ntransitions * sizeof(*x));
	y = xmalloc(b->ntransitions * sizeof(*y));
	memcpy(x, a->transitions, a->ntransitions * sizeof(*x));
	memcpy(y, b->transitions, b->ntransitions * sizeof(*y));
	qsort(x, a->ntransitions, sizeof(*x), trans_cmp);
	qsort(y, b->ntransitions, sizeof(*y), trans_cmp);
	for (size_t i = 0; i < a->ntransitions && eq; i++) {
		const char *sa = x[i].storage_class ? x[i].storage_class : "InfrequentAccess";
		const char *sb = y[i].storage_class ? y[i].storage_class : "InfrequentAccess";

		eq = cond_equal(&x[i].cond, &y[i].cond) && strcmp(sa, sb) == 0;
	}
	free(x);
	free(y);
	return eq;
}

/* Adds "~ lifecycle rule 'id': ..." lines for each differing field of one
 * rule; returns how many differ. */
static int
rule_diff(struct plan_action *act, const struct lc_rule *want, const struct lc_rule *have)
{
	char field[300], f1[40], f2[40];
	int n = 0;

	snprintf(field, sizeof(field), "lifecycle.rules[%s]", want->id);
	if (want->enabled != have->enabled) {
		plan_add_change(act, '~', field, "lifecycle rule '%s': enabled %s → %s", want->id,
		       have->enabled ? "true" : "false", want->enabled ? "true" : "false");
		n++;
	}
	if (strcmp(want->prefix ? want->prefix : "", have->prefix ? have->prefix : "") != 0) {
		plan_add_change(act, '~', field, "lifecycle rule '%s': prefix '%s' → '%s'", want->id,
		       have->prefix ? have->prefix : "", want->prefix ? want->prefix : "");
		n++;
	}
	if (!cond_equal(&want->expire, &have->expire)) {
		cond_text(&have->expire, f1, sizeof(f1));
		cond_text(&want->expire, f2, sizeof(f2));
		plan_add_change(act, '~', field, "lifecycle rule '%s': expire %s → %s", want->id, f1, f2);
		n++;
	}
	if (!cond_equal(&want->abort_mpu, &have->abort_mpu)) {
		cond_text(&have->abort_mpu, f1, sizeof(f1));
		cond_text(&want->abort_mpu, f2, sizeof(f2));
		plan_add_change(act, '~', field, "lifecycle rule '%s': abort multipart uploads %s → %s",
		       want->id, f1, f2);
		n++;
	}
	if (!transitions_equal(want, have)) {
		plan_add_change(act, '~', field, "lifecycle rule '%s': transitions (%zu) → (%zu)", want->id,
		       have->ntransitions, want->ntransitions);
		n++;
	}
	return n;
}

static const struct lc_rule *
find_rule(const struct lc_rule *v, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].id && strcmp(v[i].id, id) == 0)
			return &v[i];
	return NULL;
}

static void
copy_cond(struct lc_cond *d, const struct lc_cond *s)
{
	*d = *s;
}

static void
copy_rule(struct lc_rule *d, const struct lc_rule *s)
{
	memset(d, 0, sizeof(*d));
	d->id = xstrdup(s->id ? s->id : "");
	d->enabled = s->enabled;
	d->prefix = xstrdup(s->prefix ? s->prefix : "");
	copy_cond(&d->expire, &s->expire);
	copy_cond(&d->abort_mpu, &s->abort_mpu);
	if (s->ntransitions) {
		d->transitions = xcalloc(s->ntransitions, sizeof(*d->transitions));
		for (size_t i = 0; i < s->ntransitions; i++) {
			copy_cond(&d->transitions[i].cond, &s->transitions[i].cond);
			d->transitions[i].storage_class = xstrdup(s->transitions[i].storage_class
			        ? s->transitions[i].storage_class : "InfrequentAccess");
		}
		d->ntransitions = s->ntransitions;
	}
}

static void
default_rule(struct lc_rule *d)
{
	memset(d, 0, sizeof(*d));
	d->id = xstrdup(PLAN_DEFAULT_LC_ID);
	d->enabled = 1;
	d->prefix = xstrdup("");
	d->abort_mpu.set = 1;
	d->abort_mpu.days = PLAN_DEFAULT_LC_DAYS;
}

/*
 * The rule set cfstorage will PUT: the declared rules, plus Cloudflare's
 * default multipart-abort rule as the account has it (or, for a new bucket,
 * as Cloudflare creates it) unless the manifest declares a rule with that id.
 * Keeping it means a converged bucket never shows it as a diff (REFERENCE
 * pitfall 4) and uploads that never finish are still cleaned up.
 */
static void
desired_rules(const struct r2_bucket_spec *b, const struct obs_bucket *ob,
              struct lc_rule **out, size_t *n)
{
	const struct lc_rule *def = NULL;
	int keep_default;

	*out = xcalloc(b->nrules + 2, sizeof(**out));
	*n = 0;
	for (size_t i = 0; i < b->nrules; i++)
		copy_rule(&(*out)[(*n)++], &b->rules[i]);
	keep_default = find_rule(b->rules, b->nrules, PLAN_DEFAULT_LC_ID) == NULL;
	if (!keep_default)
		return;
	if (ob && ob->lifecycle_read)
		def = find_rule(ob->rules, ob->nrules, PLAN_DEFAULT_LC_ID);
	if (def)
		copy_rule(&(*out)[(*n)++], def);
	else if (ob == NULL)
		default_rule(&(*out)[(*n)++]);
}

/* Compares the wanted set with the account's; adds change lines; returns 1
 * when they differ. */
static int
lifecycle_diff(struct plan_action *act, const struct lc_rule *want, size_t nwant,
               const struct lc_rule *have, size_t nhave)
{
	int differ = 0;

	for (size_t i = 0; i < nwant; i++) {
		const struct lc_rule *h = find_rule(have, nhave, want[i].id);
		char field[300];

		snprintf(field, sizeof(field), "lifecycle.rules[%s]", want[i].id);
		if (h == NULL) {
			plan_add_change(act, '+', field, "lifecycle rule '%s'", want[i].id);
			differ = 1;
		} else if (rule_diff(act, &want[i], h)) {
			differ = 1;
		}
	}
	for (size_t i = 0; i < nhave; i++) {
		if (find_rule(want, nwant, have[i].id) == NULL) {
			char field[300];

			snprintf(field, sizeof(field), "lifecycle.rules[%s]", have[i].id);
			plan_add_change(act, '-', field, "lifecycle rule '%s'", have[i].id);
			differ = 1;
		}
	}
	return differ;
}

/* CORS in canonical text: each rule's lists sorted (allowed headers lower
 * case, as HTTP compares them), rules sorted, so order never makes a diff. */
static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
canon_list(struct buf *b, char *const *v, size_t n, int lower)
{
	char **c = xcalloc(n + 1, sizeof(*c));

	for (size_t i = 0; i < n; i++) {
		c[i] = xstrdup(v[i]);
		if (lower)
			for (char *p = c[i]; *p; p++)
				*p = (char)tolower((unsigned char)*p);
	}
	if (n > 1)
		qsort(c, n, sizeof(*c), str_cmp);
	buf_puts(b, "[");
	for (size_t i = 0; i < n; i++) {
		buf_printf(b, "%s%s", i ? "," : "", c[i]);
		free(c[i]);
	}
	buf_puts(b, "]");
	free(c);
}

static char *
canon_cors(const struct cors_rule *r, size_t n)
{
	char **rules = xcalloc(n + 1, sizeof(*rules));
	struct buf out;

	for (size_t i = 0; i < n; i++) {
		struct buf b;

		buf_init(&b, (size_t)-1);
		buf_puts(&b, "o=");
		canon_list(&b, r[i].origins, r[i].norigins, 0);
		buf_puts(&b, " m=");
		canon_list(&b, r[i].methods, r[i].nmethods, 0);
		buf_puts(&b, " h=");
		canon_list(&b, r[i].headers, r[i].nheaders, 1);
		buf_puts(&b, " e=");
		canon_list(&b, r[i].expose, r[i].nexpose, 1);
		if (r[i].max_age >= 0)
			buf_printf(&b, " age=%lld", (long long)r[i].max_age);
		rules[i] = buf_take(&b);
	}
	if (n > 1)
		qsort(rules, n, sizeof(*rules), str_cmp);
	buf_init(&out, (size_t)-1);
	for (size_t i = 0; i < n; i++) {
		buf_printf(&out, "%s\n", rules[i]);
		free(rules[i]);
	}
	free(rules);
	return buf_take(&out);
}

/* ---- spec hash ---- */

void
plan_spec_hash(const struct resource *r, char out[17])
{
	struct buf b;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	buf_init(&b, (size_t)-1);
	buf_printf(&b, "%s|%s|%d|", kind_name(r->kind), r->name,
	           r->deletion_policy == DELETION_DELETE);
	for (size_t i = 0; i < r->nlabels; i++)
		buf_printf(&b, "l:%s=%s|", r->labels[i].key, r->labels[i].value);
	if (r->kind == KIND_R2BUCKET) {
		const struct r2_bucket_spec *s = &r->u.bucket;
		char *lc = s->has_lifecycle ? api_lifecycle_json(s->rules, s->nrules) : NULL;
		char *cors = s->has_cors ? canon_cors(s->cors, s->ncors) : NULL;

		buf_printf(&b, "%s|%s|%s|%s|%s|%s", s->bucket_name, s->jurisdiction,
		           s->location_hint ? s->location_hint : "", s->storage_class,
		           lc ? lc : "-", cors ? cors : "-");
		free(lc);
		free(cors);
	} else if (r->kind == KIND_KVNAMESPACE) {
		buf_printf(&b, "%s", r->u.kv.title);
	} else if (r->kind == KIND_D1DATABASE) {
		const struct d1_database_spec *s = &r->u.d1;

		buf_printf(&b, "%s|%s|%s|%s|%d|%s", s->database_name,
		           s->jurisdiction ? s->jurisdiction : "", s->location_hint ? s->location_hint : "",
		           s->read_replication ? s->read_replication : "", s->allow_data_loss,
		           s->has_migrations ? s->migrations_table : "-");
	}
	EVP_Digest(b.data, b.len, md, &mdlen, EVP_sha256(), NULL);
	buf_release(&b);
	for (int i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* ---- per kind ---- */

static char *
bucket_what(const char *name, const char *juris)
{
	if (juris && strcmp(juris, "default") != 0)
		return xasprintf("bucket '%s' (%s)", name, juris);
	return xasprintf("bucket '%s'", name);
}

void
plan_record_policy(struct plan_action *a, const struct resource *r, const struct inv_entry *inv)
{
	if (inv && inv->policy != r->deletion_policy) {
		plan_add_change(a, '~', "deletionPolicy", "deletionPolicy: %s → %s",
		       inv->policy == DELETION_DELETE ? "Delete" : "Retain",
		       r->deletion_policy == DELETION_DELETE ? "Delete" : "Retain");
		a->record = 1;
	}
	if (inv && strcmp(inv->spec_hash, a->spec_hash) != 0)
		a->record = 1; /* labels and other local fields: record quietly */
}

/* Field-level comparison of a wanted bucket with the account's. */
static void
bucket_compare(struct plan_action *a, const struct r2_bucket_spec *b,
               const struct obs_bucket *ob, const struct inv_entry *inv)
{
	if (strcmp(ob->storage_class, b->storage_class) != 0) {
		plan_add_change(a, '~', "storageClass", "storageClass: %s → %s", ob->storage_class,
		       b->storage_class);
		a->set_storage_class = 1;
	}
	/* a part that was not read is unknown: nothing below touches it */
	if ((b->has_lifecycle || (inv && inv->managed_lifecycle)) && !ob->lifecycle_read)
		a->unobserved |= PLAN_UNOBSERVED_LIFECYCLE;
	if ((b->has_cors || (inv && inv->managed_cors)) && !ob->cors_read)
		a->unobserved |= PLAN_UNOBSERVED_CORS;
	if (b->has_lifecycle && ob->lifecycle_read) {
		desired_rules(b, ob, &a->lc, &a->nlc);
		if (lifecycle_diff(a, a->lc, a->nlc, ob->rules, ob->nrules))
			a->put_lifecycle = 1;
	} else if (!b->has_lifecycle && inv && inv->managed_lifecycle && ob->lifecycle_read) {
		/* no longer declared: back to Cloudflare's default */
		struct r2_bucket_spec none = { 0 };

		desired_rules(&none, ob, &a->lc, &a->nlc);
		if (a->nlc == 0) {
			default_rule(&a->lc[0]);
			a->nlc = 1;
		}
		if (lifecycle_diff(a, a->lc, a->nlc, ob->rules, ob->nrules))
			a->put_lifecycle = 1;
		a->record = 1;
	}
	if (b->has_cors && ob->cors_read) {
		if (b->ncors == 0) {
			if (ob->has_cors) {
				plan_add_change(a, '-', "cors", "cors policy (%zu rule%s)", ob->ncors,
				       ob->ncors == 1 ? "" : "s");
				a->delete_cors = 1;
			}
		} else {
			char *w = canon_cors(b->cors, b->ncors), *h = canon_cors(ob->cors, ob->ncors);

			if (!ob->has_cors) {
				plan_add_change(a, '+', "cors", "cors policy (%zu rule%s)", b->ncors,
				       b->ncors == 1 ? "" : "s");
				a->put_cors = 1;
			} else if (strcmp(w, h) != 0) {
				plan_cors_diff(a, b->cors, b->ncors, ob->cors, ob->ncors);
				a->put_cors = 1;
			}
			free(w);
			free(h);
		}
	} else if (!b->has_cors && inv && inv->managed_cors && ob->cors_read && ob->has_cors) {
		plan_add_change(a, '-', "cors", "cors policy (no longer declared)");
		a->delete_cors = 1;
		a->record = 1;
	}
}

static void
plan_bucket(struct plan *p, const struct resource *r, const struct snapshot *snap,
            const struct state *st)
{
	const struct r2_bucket_spec *b = &r->u.bucket;
	const struct inv_entry *inv = state_find(st, KIND_R2BUCKET, r->name);
	const struct obs_bucket *ob;
	struct plan_action *a = plan_add_action(p, PLAN_NOOP, KIND_R2BUCKET, r->name);

	a->want = r;
	a->what = bucket_what(b->bucket_name, b->jurisdiction);
	plan_spec_hash(r, a->spec_hash);
	if (inv && !inv->pending) {
		if (inv->bucket_name && (strcmp(inv->bucket_name, b->bucket_name) != 0 ||
		                         strcmp(inv->jurisdiction, b->jurisdiction) != 0)) {
			a->op = PLAN_REFUSE;
			a->reason = xasprintf("requires replacement: the bucket is '%s' (%s) and "
			                      "bucketName/jurisdiction cannot change; cfstorage never "
			                      "deletes and recreates a bucket", inv->bucket_name,
			                      inv->jurisdiction);
			return;
		}
		if ((inv->location_hint || b->location_hint) &&
		    (!inv->location_hint || !b->location_hint ||
		     strcmp(inv->location_hint, b->location_hint) != 0)) {
			a->op = PLAN_REFUSE;
			a->reason = xasprintf("requires replacement: locationHint %s → %s is honoured "
			                      "only when a bucket is created",
			                      inv->location_hint ? inv->location_hint : "(none)",
			                      b->location_hint ? b->location_hint : "(none)");
			return;
		}
	}
	ob = snapshot_bucket(snap, b->jurisdiction, b->bucket_name);
	a->ob = ob;
	if (ob == NULL) {
		a->op = PLAN_CREATE;
		a->create = 1;
		if (inv && !inv->pending)
			a->reason = xstrdup("it was deleted outside cfstorage; creating it again");
		if (strcmp(b->storage_class, "Standard") != 0)
			plan_add_change(a, '+', "storageClass", "storageClass: %s", b->storage_class);
		if (b->location_hint)
			plan_add_change(a, '+', "locationHint", "locationHint: %s", b->location_hint);
		if (b->has_lifecycle) {
			desired_rules(b, NULL, &a->lc, &a->nlc);
			for (size_t i = 0; i < b->nrules; i++)
				plan_add_change(a, '+', "lifecycle", "lifecycle rule '%s'", b->rules[i].id);
			a->put_lifecycle = 1;
		}
		if (b->has_cors && b->ncors) {
			plan_add_change(a, '+', "cors", "cors policy (%zu rule%s)", b->ncors, b->ncors == 1 ? "" : "s");
			a->put_cors = 1;
		}
		return;
	}
	if (inv == NULL) {
		if (!r->adopt) {
			a->op = PLAN_REFUSE;
			a->reason = xasprintf("%s exists in the account but cfstorage does not own it; "
			                      "set 'adopt: true' or run 'cfstorage import R2Bucket %s'",
			                      a->what, r->name);
			return;
		}
		a->op = PLAN_ADOPT;
		a->record = 1;
		bucket_compare(a, b, ob, NULL);
		return;
	}
	if (inv->pending) {
		a->reason = xstrdup("completing a create that was interrupted");
		a->record = 1;
	}
	bucket_compare(a, b, ob, inv);
	plan_record_policy(a, r, inv);
	if (a->nchanges)
		a->op = PLAN_UPDATE;
	if (b->has_lifecycle != inv->managed_lifecycle || b->has_cors != inv->managed_cors)
		a->record = 1;
}

static int
key_cmp(const void *x, const void *y)
{
	return strcmp((*(const struct obs_key *const *)x)->name,
	              (*(const struct obs_key *const *)y)->name);
}

static const struct obs_key *
find_key(const struct obs_key *const *sorted, size_t n, const char *name)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(sorted[mid]->name, name);

		if (c == 0)
			return sorted[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int
entry_declared(const struct kv_namespace_spec *kv, const char *key)
{
	for (size_t i = 0; i < kv->nentries; i++)
		if (kv->entries[i].key && strcmp(kv->entries[i].key, key) == 0)
			return 1;
	return 0;
}

/*
 * KV entries, compared through the key listing alone: an entry is written
 * when its key is missing or its stored content hash differs from the
 * declared one (a value written by anyone else has none). ttlSeconds entries
 * are written again after they expire (the manifest says the key should
 * exist); an entry with an absolute `expiration` that has passed is not.
 * With prune, listed keys that are not declared are deleted; without it,
 * they are never touched.
 */
static void
plan_entries(struct plan_action *a, const struct kv_namespace_spec *kv,
             const struct obs_kv *ok, int64_t now)
{
	const struct obs_key **sorted = NULL;
	size_t nsorted = 0, lines = 0, hidden = 0;

	if (kv->has_entries && ok && !ok->keys_read)
		a->unobserved |= PLAN_UNOBSERVED_KV_KEYS; /* unknown: no entry written */
	if (!kv->has_entries || (ok && !ok->keys_read))
		return;
	if (ok && ok->nkeys) {
		sorted = xmalloc(ok->nkeys * sizeof(*sorted));
		for (size_t i = 0; i < ok->nkeys; i++)
			sorted[nsorted++] = &ok->keys[i];
		qsort(sorted, nsorted, sizeof(*sorted), key_cmp);
	}
	a->kv_put = xcalloc(kv->nentries + 1, sizeof(*a->kv_put));
	for (size_t i = 0; i < kv->nentries; i++) {
		const struct kv_entry *en = &kv->entries[i];
		const struct obs_key *k = find_key(sorted, nsorted, en->key);
		const char *why = NULL;

		/* written once until then: once it has passed, or is too close for
		 * Cloudflare to accept (expirations must be >= 60 s ahead, REFERENCE §4;
		 * one bad item would fail the whole bulk request), it is left alone */
		if (en->expiration && en->expiration < now + KV_TTL_MIN)
			continue;
		if (k == NULL)
			why = "+";
		else if (strcmp(k->hash, en->hash) != 0)
			why = k->hash[0] ? "~ changed" : "~ written outside cfstorage";
		if (why == NULL)
			continue;
		a->kv_put[a->nkv_put++] = i;
		if (lines < PLAN_MAX_ENTRY_LINES) {
			lines++;
			if (why[0] == '+')
				plan_add_change(a, '+', "entries", "entry '%s'", en->key);
			else
				plan_add_change(a, '~', "entries", "entry '%s' (%s)", en->key, why + 2);
		} else {
			hidden++;
		}
	}
	if (kv->prune) {
		size_t pl = kv->prune_prefix ? strlen(kv->prune_prefix) : 0;

		for (size_t i = 0; i < nsorted; i++) {
			if (entry_declared(kv, sorted[i]->name) ||
			    (pl && strncmp(sorted[i]->name, kv->prune_prefix, pl) != 0))
				continue;
			a->kv_del = xrealloc(a->kv_del, (a->nkv_del + 1) * sizeof(*a->kv_del));
			a->kv_del[a->nkv_del++] = xstrdup(sorted[i]->name);
			if (lines < PLAN_MAX_ENTRY_LINES) {
				lines++;
				plan_add_change(a, '-', "entries", "entry '%s' (not declared; prune)", sorted[i]->name);
			} else {
				hidden++;
			}
		}
	}
	if (hidden)
		plan_add_change(a, '~', "entries", "... and %zu more entr%s", hidden, hidden == 1 ? "y" : "ies");
	free(sorted);
}

static void plan_kv_ns(struct plan *p, const struct resource *r, const struct snapshot *snap,
                       const struct state *st);

static void
plan_kv(struct plan *p, const struct resource *r, const struct snapshot *snap,
        const struct state *st, int64_t now)
{
	struct plan_action *a;

	plan_kv_ns(p, r, snap, st);
	a = &p->v[p->n - 1];
	if (a->op == PLAN_REFUSE)
		return;
	plan_entries(a, &r->u.kv, a->create ? NULL : a->okv, now);
	if (a->op == PLAN_NOOP && (a->nkv_put || a->nkv_del))
		a->op = PLAN_UPDATE;
}

static void
plan_kv_ns(struct plan *p, const struct resource *r, const struct snapshot *snap,
           const struct state *st)
{
	const struct kv_namespace_spec *kv = &r->u.kv;
	const struct inv_entry *inv = state_find(st, KIND_KVNAMESPACE, r->name);
	const struct obs_kv *ok = NULL, *taken;
	struct plan_action *a = plan_add_action(p, PLAN_NOOP, KIND_KVNAMESPACE, r->name);

	a->want = r;
	a->what = xasprintf("namespace '%s'", kv->title);
	plan_spec_hash(r, a->spec_hash);
	if (inv && inv->kv_id)
		ok = snapshot_kv_id(snap, inv->kv_id);
	else if (inv && inv->pending)
		ok = snapshot_kv_title(snap, inv->title ? inv->title : kv->title);
	taken = snapshot_kv_title(snap, kv->title);
	if (inv && (inv->kv_id || inv->pending)) {
		if (ok == NULL) {
			a->op = PLAN_CREATE;
			a->create = 1;
			if (inv->kv_id)
				a->reason = xstrdup("it was deleted outside cfstorage; creating it again");
			return;
		}
		a->okv = ok;
		if (inv->pending) {
			a->reason = xstrdup("completing a create that was interrupted");
			a->record = 1;
		}
		if (strcmp(ok->title, kv->title) != 0) {
			if (taken && taken != ok) {
				a->op = PLAN_REFUSE;
				a->reason = xasprintf("cannot rename namespace '%s' to '%s': another "
				                      "namespace (%s) has that title", ok->title, kv->title,
				                      taken->id);
				return;
			}
			plan_add_change(a, '~', "title", "title: '%s' → '%s'", ok->title, kv->title);
			a->rename = 1;
		}
		plan_record_policy(a, r, inv);
		if (a->nchanges)
			a->op = PLAN_UPDATE;
		return;
	}
	if (taken) {
		a->okv = taken;
		if (!r->adopt) {
			a->op = PLAN_REFUSE;
			a->reason = xasprintf("namespace '%s' exists in the account but cfstorage does "
			                      "not own it; set 'adopt: true' or run 'cfstorage import "
			                      "KVNamespace %s'", kv->title, r->name);
			return;
		}
		a->op = PLAN_ADOPT;
		a->record = 1;
		return;
	}
	a->op = PLAN_CREATE;
	a->create = 1;
}

static int
wanted(const struct manifest_set *want, const struct inv_entry *x)
{
	for (size_t i = 0; i < want->n; i++)
		if (want->items[i].kind == x->kind && strcmp(want->items[i].name, x->name) == 0)
			return 1;
	return 0;
}

/*
 * What every kind decides alike for a resource that left the manifests:
 * kept without --prune; refused for an empty manifest set without
 * --allow-empty; forgotten when it is gone from the account (`present` 0)
 * or its recorded policy is Retain. Returns 1 when that decided it, 0 when
 * the kind's own checks (a bucket's objects, a database's tables) decide
 * whether it is deleted.
 */
int
plan_orphan_kept(struct plan_action *a, const struct inv_entry *x, int present,
                 const struct manifest_set *want, const struct plan_opts *o)
{
	if (!o->prune) {
		a->reason = xstrdup(x->policy == DELETION_DELETE
		    ? "no longer in the manifests; kept (apply --prune deletes it: deletionPolicy Delete)"
		    : "no longer in the manifests; kept (deletionPolicy Retain)");
		return 1;
	}
	if (want->n == 0 && !o->allow_empty) {
		a->op = PLAN_REFUSE;
		a->reason = xstrdup("the manifest set is empty: refusing to prune everything "
		                    "without --allow-empty");
		return 1;
	}
	if (!present) {
		a->op = PLAN_FORGET;
		a->reason = xstrdup("no longer in the manifests and already gone from the account");
		return 1;
	}
	if (x->policy != DELETION_DELETE) {
		a->op = PLAN_FORGET;
		a->reason = xstrdup("no longer in the manifests; deletionPolicy Retain: kept in the "
		                    "account, dropped from the inventory");
		return 1;
	}
	return 0;
}

/*
 * A resource in the inventory that left the manifests: deleted only when it
 * is owned, its recorded policy is Delete and --prune was given; never when
 * the manifest set is empty without --allow-empty; never a bucket that holds
 * objects. The plan shows it either way.
 */
static void
plan_orphan(struct plan *p, const struct inv_entry *x, const struct snapshot *snap,
            const struct manifest_set *want, const struct plan_opts *o)
{
	struct plan_action *a = plan_add_action(p, PLAN_NOOP, x->kind, x->name);

	if (x->kind == KIND_R2BUCKET) {
		a->what = bucket_what(x->bucket_name ? x->bucket_name : x->name, x->jurisdiction);
		a->ob = snapshot_bucket(snap, x->jurisdiction ? x->jurisdiction : "default",
		                        x->bucket_name ? x->bucket_name : x->name);
	} else if (x->kind == KIND_KVNAMESPACE) {
		a->what = xasprintf("namespace '%s'", x->title ? x->title : x->name);
		a->okv = x->kv_id ? snapshot_kv_id(snap, x->kv_id) : NULL;
	} else {
		abort(); /* Secrets are in the ledger, not the inventory */
	}
	if (plan_orphan_kept(a, x, (x->kind == KIND_R2BUCKET && a->ob) ||
	                            (x->kind == KIND_KVNAMESPACE && a->okv), want, o))
		return;
	if (x->kind == KIND_R2BUCKET && a->ob->objects > 0) {
		a->op = PLAN_REFUSE;
		a->reason = xasprintf("bucket is not empty (%ld%s object%s): not deleted",
		                      a->ob->objects, a->ob->objects >= OBSERVE_OBJECT_PAGE ? "+" : "",
		                      a->ob->objects == 1 ? "" : "s");
		return;
	}
	a->op = PLAN_DELETE;
	a->del = 1;
	a->reason = xstrdup("no longer in the manifests; deletionPolicy Delete and --prune");
}


static int
is_only(const struct plan_opts *o, enum kind k, const char *name)
{
	return o->only == NULL || (o->only_kind == k && strcmp(o->only, name) == 0);
}

/*
 * import: an adoption records ownership and changes nothing (the next apply
 * converges); a resource that is not in the account is refused, one already
 * owned is left as it is, and a Secret's rotation waits for the next apply.
 */
static void
adopt_only(struct plan_action *a)
{
	int adopt = a->op == PLAN_ADOPT;

	if (a->op == PLAN_CREATE) {
		a->op = PLAN_REFUSE;
		free(a->reason);
		a->reason = xasprintf("%s does not exist in the account; nothing to import", a->what);
	} else if (a->kind == KIND_SECRET) {
		if (a->op == PLAN_ROTATE || a->op == PLAN_UPDATE || a->op == PLAN_ADOPT) {
			a->op = PLAN_ADOPT;
			a->ndestroy = 0;
		}
		return;
	} else if (a->op != PLAN_REFUSE && !adopt) {
		a->op = PLAN_NOOP;
		a->record = 0;
		free(a->note);
		a->note = xstrdup("already owned by cfstorage: nothing to import");
	}
	a->imported = adopt;
	a->create = a->set_storage_class = a->put_lifecycle = a->put_cors = 0;
	a->delete_cors = a->rename = a->del = 0;
	a->nkv_put = a->nkv_del = 0;
	a->set_replication = 0;
	a->nd1_run = 0;
}

static void
hold(struct plan_action *a, const struct plan_opts *o)
{
	if (a->op == PLAN_NOOP || a->op == PLAN_REFUSE)
		return;
	for (size_t i = 0; i < o->nholds; i++)
		if (o->holds[i].kind == a->kind && strcmp(o->holds[i].name, a->name) == 0) {
			a->op = PLAN_REFUSE;
			a->held = 1;
			free(a->reason);
			a->reason = xstrdup(o->holds[i].why ? o->holds[i].why : "on hold");
			return;
		}
}

enum errcode
plan_compute(const struct manifest_set *want, const struct snapshot *snap,
             const struct state *st, const struct plan_opts *o, struct plan *out,
             struct err *e)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < want->n; i++) {
		const struct resource *r = &want->items[i];

		if (!is_only(o, r->kind, r->name))
			continue;
		if (r->kind == KIND_R2BUCKET)
			plan_bucket(out, r, snap, st);
		else if (r->kind == KIND_KVNAMESPACE)
			plan_kv(out, r, snap, st, o->now);
		else if (r->kind == KIND_SECRET)
			plan_secret(out, r, snap, st, o);
		else if (r->kind == KIND_D1DATABASE)
			plan_d1(out, r, snap, st);
	}
	for (size_t i = 0; o->only == NULL && i < st->nsecrets; i++)
		if (!plan_wanted_secret(want, st->secrets[i]->name))
			plan_secret_orphan(out, st->secrets[i], want, o);
	for (size_t i = 0; o->only == NULL && i < st->n; i++)
		if (st->v[i]->kind == KIND_D1DATABASE && !wanted(want, st->v[i]))
			plan_d1_orphan(out, st->v[i], snap, want, o);
		else if (st->v[i]->kind != KIND_SECRET && !wanted(want, st->v[i]))
			plan_orphan(out, st->v[i], snap, want, o);
	for (size_t i = 0; i < out->n; i++) {
		if (o->adopt_only)
			adopt_only(&out->v[i]);
		hold(&out->v[i], o);
		out->counts[out->v[i].op]++;
	}
	if (o->only && out->n == 0)
		return err_set(e, ERR_NOTFOUND, "no %s named '%.64s' in the manifests",
		               kind_name(o->only_kind), o->only);
	return ERR_OK;
}

void
plan_release(struct plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		struct plan_action *a = &p->v[i];

		free(a->name);
		free(a->what);
		free(a->reason);
		free(a->note);
		for (size_t j = 0; j < a->nchanges; j++) {
			free(a->changes[j].field);
			free(a->changes[j].text);
			free(a->changes[j].before);
			free(a->changes[j].after);
		}
		free(a->changes);
		lc_rules_free(a->lc, a->nlc);
		free(a->destroy);
		ledger_free(a->ledger);
		free(a->fix_ptr);
		free(a->fix_alias);
		free(a->kv_put);
		for (size_t j = 0; j < a->nkv_del; j++)
			free(a->kv_del[j]);
		free(a->kv_del);
		free(a->d1_run);
		free(a->d1_found);
	}
	free(p->v);
	memset(p, 0, sizeof(*p));
}

int
plan_has_changes(const struct plan *p)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->v[i].op != PLAN_NOOP)
			return 1;
	return 0;
}
