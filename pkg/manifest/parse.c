/*
 * The manifest schema: YAML nodes -> typed resources, with every rule of
 * the resource model (README) and every Cloudflare limit checked and reported at the
 * line and column of the value at fault. Parsing never stops at the first
 * problem; a field that is wrong is reported and left at its default.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "../mem/mem.h"
#include "../timefmt/timefmt.h"
#include "internal.h"

struct ctx {
	const struct ystream *s;
	const char *file;    /* the set's copy */
	const char *basedir;
	struct diags *d;
	const char *const *roots; /* --allow-path-root folders (real paths) */
	size_t nroots;
};

static struct src_pos
at(const struct ctx *c, const struct ynode *n)
{
	struct src_pos p = { c->file, n ? n->line : 0, n ? n->col : 0 };

	return p;
}

#define report(c, n, ...) diags_add((c)->d, at((c), (n)), __VA_ARGS__)

/* A value as shown in a message: at most max characters, control bytes
 * escaped. */
static const char *
show_n(const struct ynode *n, char *buf, size_t len, size_t max)
{
	size_t o = 0;

	if (n == NULL || n->kind != YNODE_SCALAR) {
		snprintf(buf, len, "%s", ynode_kind_name(n));
		return buf;
	}
	for (size_t i = 0; i < n->len && o + 8 < len; i++) {
		unsigned char ch = (unsigned char)n->s[i];

		if (i == max) {
			o += (size_t)snprintf(buf + o, len - o, "...");
			break;
		}
		if (ch < 0x20 || ch == 0x7f)
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", ch);
		else
			buf[o++] = (char)ch;
	}
	buf[o] = '\0';
	return buf;
}

/* show_n for short values: 40 characters. */
static const char *
show(const struct ynode *n, char *buf, size_t len)
{
	return show_n(n, buf, len, 40);
}

/* ---- did you mean ---- */

static void
hint_suffix(const char *word, const char *const *cands, char *buf, size_t len)
{
	const char *c = diag_closest(word, cands);

	if (c)
		snprintf(buf, len, " (did you mean '%s'?)", c);
	else
		buf[0] = '\0';
}

/* Reports every key of map not in `allowed`. */
static void
check_fields(struct ctx *c, const struct ynode *map, const char *const *allowed)
{
	for (uint32_t i = 0; i < map->n; i++) {
		const struct ynode *k = map->pairs[i].key;
		int ok = 0;
		char hint[96], shown[64];

		for (size_t j = 0; allowed[j]; j++)
			if (strlen(allowed[j]) == k->len && memcmp(allowed[j], k->s, k->len) == 0)
				ok = 1;
		if (ok)
			continue;
		show(k, shown, sizeof(shown));
		hint_suffix(shown, allowed, hint, sizeof(hint));
		report(c, k, "unknown field '%s'%s", shown, hint);
	}
}

/* ---- typed getters: each reports its own problem and returns presence ---- */

static const struct ynode *
field(const struct ynode *map, const char *key)
{
	const struct ynode *v = ynode_get(map, key);

	return v;
}

/* The key node of `key` in map, for positions of "conflicts with" messages. */
static const struct ynode *
key_node(const struct ynode *map, const char *key)
{
	size_t kl = strlen(key);

	for (uint32_t i = 0; map && i < map->n; i++)
		if (map->pairs[i].key->len == kl && memcmp(map->pairs[i].key->s, key, kl) == 0)
			return map->pairs[i].key;
	return NULL;
}

static void
missing(struct ctx *c, const struct ynode *map, const char *what)
{
	report(c, map, "missing required field '%s'", what);
}

/* A non-null scalar as a string. Returns 1 when set, 0 absent, -1 wrong. */
static int
get_str(struct ctx *c, const struct ynode *map, const char *key, char **out,
        int required)
{
	const struct ynode *v = field(map, key);

	if (v == NULL) {
		if (required)
			missing(c, map, key);
		return 0;
	}
	if (v->kind != YNODE_SCALAR || ynode_is_null(v)) {
		report(c, v, "'%s' must be a string, got %s", key, ynode_kind_name(v));
		return -1;
	}
	if (v->len == 0 || strlen(v->s) != v->len) {
		report(c, v, "'%s' must not be empty", key);
		return -1;
	}
	*out = xstrndup(v->s, v->len);
	return 1;
}

static int
get_bool(struct ctx *c, const struct ynode *map, const char *key, int *out)
{
	const struct ynode *v = field(map, key);
	char shown[64];

	if (v == NULL)
		return 0;
	if (v->kind == YNODE_SCALAR && v->plain) {
		if (!strcmp(v->s, "true") || !strcmp(v->s, "True") || !strcmp(v->s, "TRUE")) {
			*out = 1;
			return 1;
		}
		if (!strcmp(v->s, "false") || !strcmp(v->s, "False") ||
		    !strcmp(v->s, "FALSE")) {
			*out = 0;
			return 1;
		}
	}
	if (v->kind == YNODE_SCALAR && !v->plain &&
	    (!strcmp(v->s, "true") || !strcmp(v->s, "false")))
		report(c, v, "'%s' must be true or false, got the string '%s' (remove the quotes)",
		       key, v->s);
	else
		report(c, v, "'%s' must be true or false, got '%s'", key,
		       show(v, shown, sizeof(shown)));
	return -1;
}

/* A plain decimal integer within [min, max]. */
static int
get_int(struct ctx *c, const struct ynode *map, const char *key, int64_t min,
        int64_t max, int64_t *out, int required)
{
	const struct ynode *v = field(map, key);
	char shown[64], *end;
	long long x;
	const char *p;

	if (v == NULL) {
		if (required)
			missing(c, map, key);
		return 0;
	}
	if (v->kind != YNODE_SCALAR || !v->plain || v->len == 0) {
		report(c, v, "'%s' must be an integer, got %s%s%s", key,
		       v->kind == YNODE_SCALAR ? "'" : "", show(v, shown, sizeof(shown)),
		       v->kind == YNODE_SCALAR ? "'" : "");
		return -1;
	}
	p = v->s;
	if (*p == '+' || *p == '-')
		p++;
	for (const char *q = p; *q; q++) {
		if (!isdigit((unsigned char)*q) || !*p) {
			report(c, v, "'%s' must be an integer, got '%s'", key,
			       show(v, shown, sizeof(shown)));
			return -1;
		}
	}
	errno = 0;
	x = strtoll(v->s, &end, 10);
	if (errno == ERANGE || *end != '\0' || x < min || x > max) {
		report(c, v, "'%s' must be between %lld and %lld, got %s", key,
		       (long long)min, (long long)max, show(v, shown, sizeof(shown)));
		return -1;
	}
	*out = x;
	return 1;
}

static const struct ynode *
get_map(struct ctx *c, const struct ynode *map, const char *key, int required)
{
	const struct ynode *v = field(map, key);

	if (v == NULL) {
		if (required)
			missing(c, map, key);
		return NULL;
	}
	if (v->kind != YNODE_MAP) {
		report(c, v, "'%s' must be a mapping, got %s", key, ynode_kind_name(v));
		return NULL;
	}
	return v;
}

static const struct ynode *
get_seq(struct ctx *c, const struct ynode *map, const char *key, int required)
{
	const struct ynode *v = field(map, key);

	if (v == NULL) {
		if (required)
			missing(c, map, key);
		return NULL;
	}
	if (v->kind != YNODE_SEQ) {
		report(c, v, "'%s' must be a list, got %s", key, ynode_kind_name(v));
		return NULL;
	}
	return v;
}

/* One of a fixed set of words; *out is the canonical spelling. */
static int
get_enum(struct ctx *c, const struct ynode *map, const char *key,
         const char *const *words, const char **out)
{
	char *s = NULL;
	int r = get_str(c, map, key, &s, 0);
	struct buf list;
	char hint[96];

	if (r <= 0)
		return r;
	for (size_t i = 0; words[i]; i++) {
		if (strcmp(words[i], s) == 0) {
			*out = words[i];
			free(s);
			return 1;
		}
	}
	buf_init(&list, 1024);
	for (size_t i = 0; words[i]; i++)
		buf_printf(&list, "%s%s", i ? ", " : "", words[i]);
	hint_suffix(s, words, hint, sizeof(hint));
	{
		char shown[64];

		report(c, field(map, key), "'%s' must be one of %s, got '%s'%s", key, list.data,
		       show(field(map, key), shown, sizeof(shown)), hint);
	}
	buf_release(&list);
	free(s);
	return -1;
}

/* 1 when a sequence item becomes an entry of get_strlist's list: callers
 * that walk the sequence beside the list skip exactly the items it skips. */
static int
strlist_item(const struct ynode *it)
{
	return it->kind == YNODE_SCALAR && !ynode_is_null(it) && it->len > 0;
}

/* A list of non-empty strings. */
static int
get_strlist(struct ctx *c, const struct ynode *map, const char *key, char ***out,
            size_t *nout, int required)
{
	const struct ynode *seq = get_seq(c, map, key, required);
	char **v;
	size_t n = 0;

	if (seq == NULL)
		return field(map, key) ? -1 : 0;
	v = xcalloc(seq->n + 1, sizeof(*v));
	for (uint32_t i = 0; i < seq->n; i++) {
		const struct ynode *it = seq->items[i];

		if (!strlist_item(it)) {
			report(c, it, "items of '%s' must be non-empty strings, got %s", key,
			       ynode_kind_name(it));
			continue;
		}
		v[n++] = xstrndup(it->s, it->len);
	}
	*out = v;
	*nout = n;
	return 1;
}

/* ---- shared fields ---- */

static int
is_dns_label(const char *s, size_t max)
{
	size_t l = strlen(s);

	if (l == 0 || l > max)
		return 0;
	for (size_t i = 0; i < l; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-'))
			return 0;
	}
	return s[0] != '-' && s[l - 1] != '-';
}

static const char *const deletion_words[] = { "Retain", "Delete", NULL };

static void
parse_deletion(struct ctx *c, const struct ynode *spec, struct resource *r)
{
	const char *w;

	if (get_enum(c, spec, "deletionPolicy", deletion_words, &w) == 1)
		r->deletion_policy = strcmp(w, "Delete") == 0 ? DELETION_DELETE : DELETION_RETAIN;
}

/* Kubernetes label rules: optional DNS prefix and '/', a name of up to 63
 * [A-Za-z0-9._-] with alphanumeric ends; values the same, or empty. */
static int
label_part_ok(const char *s, size_t l)
{
	if (l == 0 || l > 63)
		return 0;
	for (size_t i = 0; i < l; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return 0;
	return isalnum((unsigned char)s[0]) && isalnum((unsigned char)s[l - 1]);
}

static void
parse_labels(struct ctx *c, const struct ynode *meta, struct resource *r)
{
	const struct ynode *m = get_map(c, meta, "labels", 0);

	if (m == NULL)
		return;
	r->labels = xcalloc(m->n + 1, sizeof(*r->labels));
	for (uint32_t i = 0; i < m->n; i++) {
		const struct ynode *k = m->pairs[i].key, *v = m->pairs[i].val;
		const char *slash = memchr(k->s, '/', k->len);
		const char *name = slash ? slash + 1 : k->s;
		size_t nl = k->len - (size_t)(name - k->s);
		char shown[64];

		if (!label_part_ok(name, nl) ||
		    (slash && (slash == k->s || (size_t)(slash - k->s) > 253))) {
			report(c, k, "label key '%s' is not valid (up to 63 of [A-Za-z0-9._-], "
			       "alphanumeric at both ends, with an optional DNS prefix and '/')",
			       show(k, shown, sizeof(shown)));
			continue;
		}
		if (v->kind != YNODE_SCALAR) {
			report(c, v, "label '%s' must have a string value, got %s",
			       show(k, shown, sizeof(shown)), ynode_kind_name(v));
			continue;
		}
		if (!ynode_is_null(v) && !label_part_ok(v->s, v->len)) {
			report(c, v, "label value '%s' is not valid (up to 63 of [A-Za-z0-9._-], "
			       "alphanumeric at both ends)", show(v, shown, sizeof(shown)));
			continue;
		}
		r->labels[r->nlabels].key = xstrndup(k->s, k->len);
		r->labels[r->nlabels].value = ynode_is_null(v) ? xstrdup("") : xstrndup(v->s, v->len);
		r->nlabels++;
	}
}

/* ---- R2Bucket ---- */

static const char *const jurisdiction_words[] = { "default", "eu", "fedramp", NULL };
static const char *const location_words[] = { "apac", "eeur", "enam", "weur", "wnam",
	                                          "oc", NULL };
static const char *const storage_class_words[] = { "Standard", "InfrequentAccess", NULL };
static const char *const transition_class_words[] = { "InfrequentAccess", NULL };
static const char *const cors_method_words[] = { "GET", "PUT", "POST", "DELETE", "HEAD",
	                                         NULL };

/* Cloudflare's bucket naming rule (REFERENCE §3, error 10005); returns a
 * reason or NULL. */
static const char *
bucket_name_problem(const char *s)
{
	size_t l = strlen(s);

	if (l < R2_BUCKET_NAME_MIN || l > R2_BUCKET_NAME_MAX)
		return "must be 3 to 63 characters long";
	for (size_t i = 0; i < l; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-'))
			return "may contain only lower-case letters, digits and '-'";
	}
	if (s[0] == '-' || s[l - 1] == '-')
		return "must start and end with a letter or digit";
	return NULL;
}

/* afterDays: N | onDate: YYYY-MM-DD, under the two names given. */
static void
parse_cond(struct ctx *c, const struct ynode *map, const char *days_key,
           const char *date_key, struct lc_cond *out)
{
	int64_t days;
	char *date = NULL;
	int hd = get_int(c, map, days_key, 1, R2_LIFECYCLE_MAX_DAYS, &days, 0);
	int hdt = get_str(c, map, date_key, &date, 0);

	if (hd != 0 && hdt != 0 && field(map, days_key) && field(map, date_key)) {
		report(c, key_node(map, date_key), "'%s' and '%s' cannot both be set", days_key,
		       date_key);
	} else if (hd == 1) {
		out->set = 1;
		out->days = days;
	} else if (hdt == 1) {
		int64_t t;

		if (timefmt_parse_date(date, &t) != 0) {
			char shown[64];

			report(c, field(map, date_key),
			       "'%s' must be a date as YYYY-MM-DD, got '%s'", date_key,
			       show(field(map, date_key), shown, sizeof(shown)));
		} else {
			out->set = 1;
			out->is_date = 1;
			out->date = t;
			snprintf(out->date_text, sizeof(out->date_text), "%s", date);
		}
	}
	free(date);
}

static void
parse_rule(struct ctx *c, const struct ynode *m, struct lc_rule *rule)
{
	static const char *const fields[] = { "id", "enabled", "prefix", "expireAfterDays",
		"expireOnDate", "abortMultipartUploadsAfterDays", "transitions", NULL };
	static const char *const tfields[] = { "afterDays", "onDate", "storageClass", NULL };
	const struct ynode *ts;
	char *prefix = NULL;
	int64_t days;

	check_fields(c, m, fields);
	rule->enabled = 1;
	rule->pos = at(c, m);
	if (get_str(c, m, "id", &rule->id, 1) == 1 && strlen(rule->id) > R2_LIFECYCLE_ID_MAX)
		report(c, field(m, "id"), "lifecycle rule id is %zu characters; at most %d",
		       strlen(rule->id), R2_LIFECYCLE_ID_MAX);
	(void)get_bool(c, m, "enabled", &rule->enabled);
	if (field(m, "prefix") && ynode_is_null(field(m, "prefix")))
		prefix = xstrdup("");
	else if (field(m, "prefix") && field(m, "prefix")->kind == YNODE_SCALAR &&
	         field(m, "prefix")->len == 0)
		prefix = xstrdup("");
	else if (get_str(c, m, "prefix", &prefix, 0) == 1 && strlen(prefix) > 1024)
		report(c, field(m, "prefix"), "'prefix' is longer than an R2 object key (1024 bytes)");
	rule->prefix = prefix ? prefix : xstrdup("");
	parse_cond(c, m, "expireAfterDays", "expireOnDate", &rule->expire);
	if (get_int(c, m, "abortMultipartUploadsAfterDays", 1, R2_LIFECYCLE_MAX_DAYS, &days,
	            0) == 1) {
		rule->abort_mpu.set = 1;
		rule->abort_mpu.days = days;
	}
	if ((ts = get_seq(c, m, "transitions", 0)) != NULL) {
		rule->transitions = xcalloc(ts->n + 1, sizeof(*rule->transitions));
		for (uint32_t i = 0; i < ts->n; i++) {
			const struct ynode *t = ts->items[i];
			struct lc_transition *tr = &rule->transitions[rule->ntransitions];
			const char *sc;

			if (t->kind != YNODE_MAP) {
				report(c, t, "a transition must be a mapping, got %s", ynode_kind_name(t));
				continue;
			}
			check_fields(c, t, tfields);
			parse_cond(c, t, "afterDays", "onDate", &tr->cond);
			if (!tr->cond.set && !field(t, "afterDays") && !field(t, "onDate"))
				report(c, t, "a transition needs 'afterDays' or 'onDate'");
			if (!field(t, "storageClass"))
				missing(c, t, "storageClass");
			else if (get_enum(c, t, "storageClass", transition_class_words, &sc) == 1)
				tr->storage_class = xstrdup(sc);
			if (tr->cond.set && !tr->cond.is_date && rule->expire.set &&
			    !rule->expire.is_date && tr->cond.days >= rule->expire.days)
				report(c, field(t, "afterDays"),
				       "transition after %lld days is not before expiry after %lld days",
				       (long long)tr->cond.days, (long long)rule->expire.days);
			rule->ntransitions++;
		}
	}
	if (!field(m, "expireAfterDays") && !field(m, "expireOnDate") &&
	    !field(m, "abortMultipartUploadsAfterDays") &&
	    (ts == NULL || ts->n == 0) && !field(m, "transitions"))
		report(c, m, "lifecycle rule has no action: set expireAfterDays, expireOnDate, "
		       "abortMultipartUploadsAfterDays or transitions");
}

#define LC_SHORTHAND_ID "cfstorage-delete-after-days"

static void
parse_lifecycle(struct ctx *c, const struct ynode *lc, struct r2_bucket_spec *b)
{
	static const char *const fields[] = { "deleteAfterDays", "rules", NULL };
	const struct ynode *rules;
	int64_t days;
	size_t cap;

	check_fields(c, lc, fields);
	b->has_lifecycle = 1;
	rules = get_seq(c, lc, "rules", 0);
	if (lc->n == 0)
		report(c, lc, "lifecycle needs 'deleteAfterDays' or 'rules'");
	cap = (rules ? rules->n : 0) + 1;
	if (cap - 1 > R2_LIFECYCLE_MAX_RULES)
		report(c, rules, "%zu lifecycle rules; Cloudflare allows at most %d per bucket",
		       cap - 1, R2_LIFECYCLE_MAX_RULES);
	b->rules = xcalloc(cap, sizeof(*b->rules));
	if (get_int(c, lc, "deleteAfterDays", 1, R2_LIFECYCLE_MAX_DAYS, &days, 0) == 1) {
		struct lc_rule *r = &b->rules[b->nrules++];

		b->delete_after_days = days;
		r->id = xstrdup(LC_SHORTHAND_ID);
		r->enabled = 1;
		r->prefix = xstrdup("");
		r->expire.set = 1;
		r->expire.days = days;
		r->pos = at(c, field(lc, "deleteAfterDays"));
	}
	for (uint32_t i = 0; rules && i < rules->n; i++) {
		const struct ynode *m = rules->items[i];
		struct lc_rule *r;

		if (m->kind != YNODE_MAP) {
			report(c, m, "a lifecycle rule must be a mapping, got %s", ynode_kind_name(m));
			continue;
		}
		r = &b->rules[b->nrules++];
		parse_rule(c, m, r);
		if (r->id == NULL)
			continue;
		for (size_t j = 0; j + 1 < b->nrules; j++) {
			if (b->rules[j].id && strcmp(b->rules[j].id, r->id) == 0) {
				if (strcmp(r->id, LC_SHORTHAND_ID) == 0)
					report(c, field(m, "id"), "lifecycle rule id '%s' is reserved for "
					       "'deleteAfterDays'", r->id);
				else
					report(c, field(m, "id"), "duplicate lifecycle rule id '%s' "
					       "(first at line %u)", r->id, b->rules[j].pos.line);
				break;
			}
		}
	}
	if (b->nrules > R2_LIFECYCLE_MAX_RULES && !(rules && rules->n > R2_LIFECYCLE_MAX_RULES))
		report(c, lc, "%zu lifecycle rules; Cloudflare allows at most %d per bucket",
		       b->nrules, R2_LIFECYCLE_MAX_RULES);
}

/* "*", or scheme://host[:port] with no path (R2 CORS, REFERENCE §3.2). */
static const char *
origin_problem(const char *o)
{
	const char *host, *p;

	if (strcmp(o, "*") == 0)
		return NULL;
	if (strncmp(o, "https://", 8) == 0)
		host = o + 8;
	else if (strncmp(o, "http://", 7) == 0)
		host = o + 7;
	else
		return "must be '*' or start with http:// or https://";
	if (*host == '\0')
		return "has no host";
	if (strncmp(host, "*.", 2) == 0)
		host += 2;
	for (p = host; *p && *p != ':'; p++) {
		if (*p == '/')
			return "must not have a path (not even a trailing '/')";
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.')
			return "has an invalid host";
	}
	if (p == host)
		return "has no host";
	if (*p == ':') {
		char *end;
		long port;

		errno = 0;
		port = isdigit((unsigned char)p[1]) ? strtol(p + 1, &end, 10) : (end = (char *)p + 1, 0);
		if (end == p + 1 || *end != '\0' || errno || port < 1 || port > 65535)
			return *end == '/' ? "must not have a path (not even a trailing '/')"
			                   : "has an invalid port";
	}
	return NULL;
}

static int
header_ok(const char *h)
{
	if (strcmp(h, "*") == 0)
		return 1;
	for (; *h; h++)
		if (!isalnum((unsigned char)*h) && !strchr("!#$%&'*+-.^_`|~", *h))
			return 0;
	return 1;
}

static void
parse_cors(struct ctx *c, const struct ynode *cors, struct r2_bucket_spec *b)
{
	static const char *const fields[] = { "rules", NULL };
	static const char *const rfields[] = { "id", "allowedOrigins", "allowedMethods",
		"allowedHeaders", "exposeHeaders", "maxAgeSeconds", NULL };
	const struct ynode *rules;

	check_fields(c, cors, fields);
	b->has_cors = 1;
	if ((rules = get_seq(c, cors, "rules", 1)) == NULL)
		return;
	if (rules->n > R2_CORS_MAX_RULES)
		report(c, rules, "%u CORS rules; at most %d", rules->n, R2_CORS_MAX_RULES);
	b->cors = xcalloc(rules->n + 1, sizeof(*b->cors));
	for (uint32_t i = 0; i < rules->n; i++) {
		const struct ynode *m = rules->items[i], *seq;
		struct cors_rule *r;

		if (m->kind != YNODE_MAP) {
			report(c, m, "a CORS rule must be a mapping, got %s", ynode_kind_name(m));
			continue;
		}
		r = &b->cors[b->ncors++];
		r->pos = at(c, m);
		r->max_age = -1;
		check_fields(c, m, rfields);
		(void)get_str(c, m, "id", &r->id, 0);
		if (get_strlist(c, m, "allowedOrigins", &r->origins, &r->norigins, 1) == 1) {
			seq = field(m, "allowedOrigins");
			if (seq->n == 0)
				report(c, seq, "'allowedOrigins' must list at least one origin");
			for (uint32_t j = 0, k = 0; j < seq->n; j++) {
				const char *why;

				if (!strlist_item(seq->items[j]))
					continue;
				if ((why = origin_problem(r->origins[k])) != NULL)
					report(c, seq->items[j], "origin '%s' %s", r->origins[k], why);
				k++;
			}
		}
		if (get_strlist(c, m, "allowedMethods", &r->methods, &r->nmethods, 1) == 1) {
			seq = field(m, "allowedMethods");
			if (seq->n == 0)
				report(c, seq, "'allowedMethods' must list at least one method");
			for (uint32_t j = 0, k = 0; j < seq->n; j++) {
				int ok = 0;
				char hint[96];

				if (!strlist_item(seq->items[j]))
					continue;
				for (size_t w = 0; cors_method_words[w]; w++)
					ok |= strcmp(cors_method_words[w], r->methods[k]) == 0;
				for (size_t q = 0; ok && q < k; q++)
					if (strcmp(r->methods[q], r->methods[k]) == 0) {
						report(c, seq->items[j], "method '%s' is listed twice",
						       r->methods[k]);
						break;
					}
				if (!ok) {
					hint_suffix(r->methods[k], cors_method_words, hint, sizeof(hint));
					report(c, seq->items[j], "method '%s' is not one of GET, PUT, POST, "
					       "DELETE, HEAD%s", r->methods[k], hint);
				}
				k++;
			}
		}
		if (get_strlist(c, m, "allowedHeaders", &r->headers, &r->nheaders, 0) == 1) {
			seq = field(m, "allowedHeaders");
			for (uint32_t j = 0, k = 0; j < seq->n; j++) {
				if (!strlist_item(seq->items[j]))
					continue;
				if (!header_ok(r->headers[k]))
					report(c, seq->items[j], "header name '%s' is not a valid HTTP token",
					       r->headers[k]);
				k++;
			}
		}
		if (get_strlist(c, m, "exposeHeaders", &r->expose, &r->nexpose, 0) == 1) {
			seq = field(m, "exposeHeaders");
			for (uint32_t j = 0, k = 0; j < seq->n; j++) {
				if (!strlist_item(seq->items[j]))
					continue;
				if (!header_ok(r->expose[k]) || strcmp(r->expose[k], "*") == 0)
					report(c, seq->items[j], "expose header '%s' is not a valid HTTP "
					       "header name", r->expose[k]);
				k++;
			}
		}
		(void)get_int(c, m, "maxAgeSeconds", 0, R2_CORS_MAX_AGE, &r->max_age, 0);
	}
}

static void
parse_bucket(struct ctx *c, const struct ynode *spec, struct resource *r)
{
	static const char *const fields[] = { "bucketName", "jurisdiction", "locationHint",
		"storageClass", "lifecycle", "cors", "deletionPolicy", "adopt", NULL };
	struct r2_bucket_spec *b = &r->u.bucket;
	const char *w;
	const struct ynode *m;

	check_fields(c, spec, fields);
	if (get_str(c, spec, "bucketName", &b->bucket_name, 0) == 1) {
		const char *why = bucket_name_problem(b->bucket_name);
		char shown[64];

		if (why)
			report(c, field(spec, "bucketName"), "bucket name '%s' %s",
			       show(field(spec, "bucketName"), shown, sizeof(shown)), why);
	} else if (r->name) {
		const char *why = bucket_name_problem(r->name);

		b->bucket_name = xstrdup(r->name);
		/* an invalid metadata.name has been reported already */
		if (why && !field(spec, "bucketName") && is_dns_label(r->name, MANIFEST_NAME_MAX))
			diags_add(c->d, r->name_pos, "bucket name '%s' (from metadata.name) %s; "
			          "set spec.bucketName", r->name, why);
	}
	b->jurisdiction = xstrdup(get_enum(c, spec, "jurisdiction", jurisdiction_words, &w) == 1
	                          ? w : "default");
	if (get_enum(c, spec, "locationHint", location_words, &w) == 1)
		b->location_hint = xstrdup(w);
	b->storage_class = xstrdup(get_enum(c, spec, "storageClass", storage_class_words, &w) == 1
	                           ? w : "Standard");
	if ((m = get_map(c, spec, "lifecycle", 0)) != NULL)
		parse_lifecycle(c, m, b);
	if ((m = get_map(c, spec, "cors", 0)) != NULL)
		parse_cors(c, m, b);
	parse_deletion(c, spec, r);
	(void)get_bool(c, spec, "adopt", &r->adopt);
}

/* ---- KVNamespace ---- */

/* Serializes a YAML node as JSON (plain scalars that read as numbers, true,
 * false or null keep that type). */
static void
to_json(const struct ynode *n, struct buf *b)
{
	if (n->kind == YNODE_MAP) {
		buf_puts(b, "{");
		for (uint32_t i = 0; i < n->n; i++) {
			if (i)
				buf_puts(b, ",");
			buf_json_string(b, n->pairs[i].key->s, n->pairs[i].key->len);
			buf_puts(b, ":");
			to_json(n->pairs[i].val, b);
		}
		buf_puts(b, "}");
	} else if (n->kind == YNODE_SEQ) {
		buf_puts(b, "[");
		for (uint32_t i = 0; i < n->n; i++) {
			if (i)
				buf_puts(b, ",");
			to_json(n->items[i], b);
		}
		buf_puts(b, "]");
	} else if (ynode_is_null(n)) {
		buf_puts(b, "null");
	} else if (n->plain && (!strcmp(n->s, "true") || !strcmp(n->s, "false"))) {
		buf_puts(b, n->s);
	} else {
		char *end;
		int num = 0;

		if (n->plain && n->len && strchr("-0123456789", n->s[0])) {
			errno = 0;
			(void)strtod(n->s, &end);
			num = *end == '\0' && errno == 0;
		}
		if (num)
			buf_puts(b, n->s);
		else
			buf_json_string(b, n->s, n->len);
	}
}

static const char *
kv_key_problem(const char *k, size_t len)
{
	if (len == 0)
		return "must not be empty";
	if (len > KV_KEY_MAX)
		return "is longer than 512 bytes";
	if ((len == 1 && k[0] == '.') || (len == 2 && k[0] == '.' && k[1] == '.'))
		return "cannot be '.' or '..'";
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)k[i];

		/* Cloudflare takes any bytes but '.' and '..' (REFERENCE §4); spaces are
		 * fine (quote the key), control characters are refused: they would
		 * reach terminals and logs */
		if (ch < 0x20 || ch == 0x7f)
			return "must not contain control characters (tab, newline, ...)";
	}
	return NULL;
}

/*
 * Resolves valueFrom.file: relative to the manifest's folder (the current
 * folder for stdin) and confined to it or to an --allow-path-root folder, so
 * whoever edits a manifest cannot publish any file the process can read.
 */
static void
value_file(struct ctx *c, const struct ynode *n, const char *file, struct kv_entry *e)
{
	const char *home = strcmp(c->file, "<stdin>") == 0
	                   ? "the current folder (the manifest is read from stdin)"
	                   : "the manifest's folder";
	char *real = NULL, *root = NULL, shown[320];
	struct stat st;
	int err_no;

	show_n(n, shown, sizeof(shown), 160);
	switch (manifest_path_resolve(c->basedir, file, c->roots, c->nroots, &real, &root,
	                              &err_no)) {
	case PATH_OK:
		break;
	case PATH_ABSOLUTE:
		report(c, n, "file '%s' is an absolute path outside %s; use a path relative to "
		       "it, or allow its folder with --allow-path-root", shown, home);
		return;
	case PATH_DOTDOT:
		report(c, n, "file '%s' climbs out of %s with '..'; files must stay inside it "
		       "(or in a folder allowed with --allow-path-root)", shown, home);
		return;
	case PATH_SYMLINK:
		report(c, n, "file '%s' leads out of %s through a symlink; files must stay "
		       "inside it (or in a folder allowed with --allow-path-root)", shown, home);
		return;
	case PATH_MISSING:
		report(c, n, "cannot read file '%s': %s", shown, strerror(err_no));
		return;
	}
	if (stat(real, &st) != 0)
		report(c, n, "cannot read file '%s': %s", shown, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		report(c, n, "'%s' is not a regular file", shown);
	else if ((uint64_t)st.st_size > KV_VALUE_MAX)
		report(c, n, "file '%s' is %lld bytes; Workers KV allows at most %u", shown,
		       (long long)st.st_size, KV_VALUE_MAX);
	e->value_file = real;
	e->value_root = root;
}

static void
parse_entry(struct ctx *c, const struct ynode *m, struct kv_entry *e)
{
	static const char *const fields[] = { "key", "value", "valueFrom", "ttlSeconds",
		"expiration", "metadata", NULL };
	static const char *const vffields[] = { "file", NULL };
	const struct ynode *k = field(m, "key"), *v = field(m, "value"), *vf, *md;

	check_fields(c, m, fields);
	e->pos = at(c, m);
	if (k == NULL) {
		missing(c, m, "key");
	} else if (k->kind != YNODE_SCALAR || (ynode_is_null(k) && k->len)) {
		report(c, k, "'key' must be a string, got %s", ynode_kind_name(k));
	} else {
		const char *why = kv_key_problem(k->s, k->len);
		char shown[64];

		if (why)
			report(c, k, "key '%s' %s", show(k, shown, sizeof(shown)), why);
		else
			e->key = xstrndup(k->s, k->len);
	}
	vf = field(m, "valueFrom");
	if (v && vf) {
		report(c, key_node(m, "valueFrom"), "'value' and 'valueFrom' cannot both be set");
	} else if (!v && !vf) {
		report(c, m, "entry needs 'value' or 'valueFrom'");
	} else if (v) {
		if (v->kind != YNODE_SCALAR)
			report(c, v, "'value' must be a string, got %s (use a block scalar '|' "
			       "for JSON text)", ynode_kind_name(v));
		else if (v->len > KV_VALUE_MAX)
			report(c, v, "value is %zu bytes; Workers KV allows at most %u", v->len,
			       KV_VALUE_MAX);
		else {
			e->value = xstrndup(v->s, v->len);
			e->value_len = v->len;
		}
	} else if ((vf = get_map(c, m, "valueFrom", 0)) != NULL) {
		char *file = NULL;

		check_fields(c, vf, vffields);
		if (get_str(c, vf, "file", &file, 1) == 1)
			value_file(c, field(vf, "file"), file, e);
		free(file);
	}
	if (field(m, "ttlSeconds") && field(m, "expiration"))
		report(c, key_node(m, "expiration"), "'ttlSeconds' and 'expiration' cannot both "
		       "be set");
	(void)get_int(c, m, "ttlSeconds", KV_TTL_MIN, INT32_MAX, &e->ttl_seconds, 0);
	(void)get_int(c, m, "expiration", 1, INT64_C(253402300799), &e->expiration, 0);
	if ((md = field(m, "metadata")) != NULL) {
		if (md->kind != YNODE_MAP) {
			report(c, md, "'metadata' must be a mapping (a JSON object), got %s",
			       ynode_kind_name(md));
		} else if (ynode_get(md, KV_RESERVED_META_KEY)) {
			report(c, key_node(md, KV_RESERVED_META_KEY), "metadata key '%s' is "
			       "reserved for cfstorage", KV_RESERVED_META_KEY);
		} else {
			struct buf b;

			buf_init(&b, (size_t)KV_METADATA_MAX * 64);
			to_json(md, &b);
			if (b.toobig || b.len > KV_METADATA_MAX - KV_METADATA_RESERVED)
				report(c, md, "metadata is %s%zu bytes as JSON; at most %d (Cloudflare's "
				       "%d less %d reserved for cfstorage)", b.toobig ? "over " : "",
				       b.len, KV_METADATA_MAX - KV_METADATA_RESERVED, KV_METADATA_MAX,
				       KV_METADATA_RESERVED);
			else
				e->metadata_json = buf_take(&b);
			buf_release(&b);
		}
	}
}

static int
entry_key_cmp(const void *a, const void *b)
{
	const struct kv_entry *x = *(const struct kv_entry *const *)a;
	const struct kv_entry *y = *(const struct kv_entry *const *)b;
	int c = strcmp(x->key, y->key);

	if (c)
		return c;
	return x->pos.line < y->pos.line ? -1 : (x->pos.line > y->pos.line);
}

static void
parse_kv(struct ctx *c, const struct ynode *spec, struct resource *r)
{
	static const char *const fields[] = { "title", "entries", "prune", "prunePrefix",
		"deletionPolicy", "adopt", NULL };
	struct kv_namespace_spec *kv = &r->u.kv;
	const struct ynode *es;

	check_fields(c, spec, fields);
	if (get_str(c, spec, "title", &kv->title, 0) == 1) {
		const struct ynode *t = field(spec, "title");

		if (strlen(kv->title) > KV_TITLE_MAX)
			report(c, t, "'title' is %zu bytes; at most %d", strlen(kv->title),
			       KV_TITLE_MAX);
		for (const char *p = kv->title; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f) {
				report(c, t, "'title' must not contain control characters");
				break;
			}
	} else if (r->name && !field(spec, "title")) {
		kv->title = xstrdup(r->name);
	}
	(void)get_bool(c, spec, "prune", &kv->prune);
	if (get_str(c, spec, "prunePrefix", &kv->prune_prefix, 0) == 1) {
		if (strlen(kv->prune_prefix) > KV_KEY_MAX)
			report(c, field(spec, "prunePrefix"), "'prunePrefix' is longer than a key "
			       "(512 bytes)");
		if (!field(spec, "prune"))
			report(c, key_node(spec, "prunePrefix"), "'prunePrefix' needs 'prune: true'");
	}
	if ((es = get_seq(c, spec, "entries", 0)) != NULL) {
		struct kv_entry **sorted;
		size_t n = 0;

		kv->has_entries = 1;
		kv->entries = xcalloc(es->n + 1, sizeof(*kv->entries));
		for (uint32_t i = 0; i < es->n; i++) {
			if (es->items[i]->kind != YNODE_MAP) {
				report(c, es->items[i], "an entry must be a mapping, got %s",
				       ynode_kind_name(es->items[i]));
				continue;
			}
			parse_entry(c, es->items[i], &kv->entries[kv->nentries++]);
		}
		sorted = xmalloc((kv->nentries + 1) * sizeof(*sorted));
		for (size_t i = 0; i < kv->nentries; i++)
			if (kv->entries[i].key)
				sorted[n++] = &kv->entries[i];
		qsort(sorted, n, sizeof(*sorted), entry_key_cmp);
		for (size_t i = 1; i < n; i++)
			if (strcmp(sorted[i - 1]->key, sorted[i]->key) == 0)
				diags_add(c->d, sorted[i]->pos, "duplicate entry key '%.64s' (first at "
				          "line %u)", sorted[i]->key, sorted[i - 1]->pos.line);
		free(sorted);
	} else if (field(spec, "prune")) {
		report(c, key_node(spec, "prune"), "'prune' needs 'entries' (it deletes keys "
		       "that are not declared)");
	}
	parse_deletion(c, spec, r);
	(void)get_bool(c, spec, "adopt", &r->adopt);
}

/* ---- Secret ---- */

static const char *const encoding_words[] = { "base64", "base64url", "hex", NULL };
static const char *const retain_words[] = { "retain_forever", "count", "days", NULL };
static const char *const scope_words[] = { "workers", "ai_gateway", "dex", "access",
	                                   "containers", "websearch", NULL };

/* Secret names at targets: an identifier, so that _V<N> and _VERSION can be
 * appended and the result is still a valid binding name. */
static const char *
secret_name_problem(const char *s)
{
	size_t l = strlen(s);

	if (l > SECRET_NAME_MAX)
		return "is longer than 64 characters";
	if (!(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return "must start with a letter or '_'";
	for (size_t i = 0; i < l; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return "may contain only letters, digits and '_'";
	return NULL;
}

static void
parse_target(struct ctx *c, const struct ynode *m, struct secret_target *t)
{
	static const char *const fields[] = { "secretsStore", "workerSecret", NULL };
	static const char *const ssfields[] = { "store", "name", "scopes", NULL };
	static const char *const wfields[] = { "script", "name", NULL };
	const struct ynode *ss = field(m, "secretsStore"), *ws = field(m, "workerSecret");
	const struct ynode *body;

	check_fields(c, m, fields);
	t->pos = at(c, m);
	if (ss && ws) {
		report(c, key_node(m, "workerSecret"), "a target is either 'secretsStore' or "
		       "'workerSecret', not both");
		return;
	}
	if (!ss && !ws) {
		if (m->n == 0 || field(m, "name"))
			report(c, m, "a target needs 'secretsStore' or 'workerSecret'");
		return;
	}
	if (ss) {
		if ((body = get_map(c, m, "secretsStore", 0)) == NULL)
			return;
		t->kind = TARGET_SECRETS_STORE;
		check_fields(c, body, ssfields);
		(void)get_str(c, body, "store", &t->store, 1);
		if (field(body, "scopes")) {
			if (get_strlist(c, body, "scopes", &t->scopes, &t->nscopes, 0) == 1) {
				const struct ynode *seq = field(body, "scopes");

				if (seq->n == 0)
					report(c, seq, "'scopes' must list at least one scope");
				for (uint32_t j = 0, k = 0; j < seq->n; j++) {
					int ok = 0;
					char hint[96];

					if (!strlist_item(seq->items[j]))
						continue;
					for (size_t w = 0; scope_words[w]; w++)
						ok |= strcmp(scope_words[w], t->scopes[k]) == 0;
					if (!ok) {
						hint_suffix(t->scopes[k], scope_words, hint, sizeof(hint));
						report(c, seq->items[j], "scope '%s' is not one of workers, "
						       "ai_gateway, dex, access, containers, websearch%s",
						       t->scopes[k], hint);
					}
					k++;
				}
			}
		} else {
			t->scopes = xcalloc(2, sizeof(*t->scopes));
			t->scopes[0] = xstrdup("workers");
			t->nscopes = 1;
		}
	} else {
		if ((body = get_map(c, m, "workerSecret", 0)) == NULL)
			return;
		t->kind = TARGET_WORKER;
		check_fields(c, body, wfields);
		if (get_str(c, body, "script", &t->script, 1) == 1 &&
		    (strlen(t->script) > WORKER_SCRIPT_MAX ||
		     strspn(t->script, "abcdefghijklmnopqrstuvwxyz0123456789-_") !=
		             strlen(t->script))) {
			char shown[64];

			report(c, field(body, "script"), "script name '%s' may contain only "
			       "lower-case letters, digits, '-' and '_' (at most 63)",
			       show(field(body, "script"), shown, sizeof(shown)));
		}
	}
	if (get_str(c, body, "name", &t->name, 1) == 1) {
		const char *why = secret_name_problem(t->name);
		char shown[64];

		if (why)
			report(c, field(body, "name"), "secret name '%s' %s",
			       show(field(body, "name"), shown, sizeof(shown)), why);
	}
}

static size_t
encoded_len(int64_t bytes, enum secret_encoding enc)
{
	switch (enc) {
	case SECRET_HEX: return (size_t)bytes * 2;
	case SECRET_BASE64: return ((size_t)bytes + 2) / 3 * 4;
	case SECRET_BASE64URL: return ((size_t)bytes * 4 + 2) / 3;
	}
	return 0;
}

static void
parse_secret(struct ctx *c, const struct ynode *spec, struct resource *r)
{
	static const char *const fields[] = { "generate", "rotation", "targets", "alias",
		"deletionPolicy", "adopt", NULL };
	static const char *const gfields[] = { "bytes", "encoding", NULL };
	static const char *const rfields[] = { "everyDays", "startAt", "retain", NULL };
	static const char *const retfields[] = { "mode", "versions", "days", NULL };
	struct secret_spec *s = &r->u.secret;
	const struct ynode *g, *rot, *ret, *ts;
	const char *w;

	check_fields(c, spec, fields);
	s->bytes = 32;
	if ((g = get_map(c, spec, "generate", 1)) != NULL) {
		check_fields(c, g, gfields);
		(void)get_int(c, g, "bytes", SECRET_BYTES_MIN, SECRET_BYTES_MAX, &s->bytes, 1);
		if (get_enum(c, g, "encoding", encoding_words, &w) == 1)
			s->encoding = !strcmp(w, "hex") ? SECRET_HEX
			            : !strcmp(w, "base64url") ? SECRET_BASE64URL : SECRET_BASE64;
		if (encoded_len(s->bytes, s->encoding) > SECRET_VALUE_MAX)
			report(c, g, "%lld bytes encode to %zu characters; secret values are at "
			       "most %d", (long long)s->bytes, encoded_len(s->bytes, s->encoding),
			       SECRET_VALUE_MAX);
	}
	if ((rot = get_map(c, spec, "rotation", 0)) != NULL) {
		char *start = NULL;

		s->has_rotation = 1;
		check_fields(c, rot, rfields);
		(void)get_int(c, rot, "everyDays", 1, SECRET_EVERY_DAYS_MAX, &s->every_days, 1);
		if (get_str(c, rot, "startAt", &start, 0) == 1 &&
		    timefmt_parse_rfc3339(start, &s->start_at) != 0) {
			char shown[64];

			report(c, field(rot, "startAt"), "'startAt' must be an RFC 3339 time such as "
			       "2027-01-01T00:00:00Z, got '%s'",
			       show(field(rot, "startAt"), shown, sizeof(shown)));
		}
		free(start);
		if ((ret = get_map(c, rot, "retain", 0)) != NULL) {
			check_fields(c, ret, retfields);
			if (!field(ret, "mode"))
				missing(c, ret, "mode");
			else if (get_enum(c, ret, "mode", retain_words, &w) == 1) {
				s->retain = !strcmp(w, "count") ? RETAIN_COUNT
				          : !strcmp(w, "days") ? RETAIN_DAYS : RETAIN_FOREVER;
				if (s->retain == RETAIN_COUNT)
					(void)get_int(c, ret, "versions", 2, SECRET_RETAIN_MAX, &s->retain_n, 1);
				else if (field(ret, "versions"))
					report(c, key_node(ret, "versions"), "'versions' applies only to "
					       "mode 'count'");
				if (s->retain == RETAIN_DAYS)
					(void)get_int(c, ret, "days", 1, R2_LIFECYCLE_MAX_DAYS, &s->retain_n, 1);
				else if (field(ret, "days"))
					report(c, key_node(ret, "days"), "'days' applies only to mode 'days'");
			}
		}
	}
	(void)get_bool(c, spec, "alias", &s->alias);
	(void)get_bool(c, spec, "adopt", &r->adopt);
	if ((ts = get_seq(c, spec, "targets", 1)) != NULL) {
		if (ts->n == 0)
			report(c, ts, "'targets' must list at least one target");
		s->targets = xcalloc(ts->n + 1, sizeof(*s->targets));
		for (uint32_t i = 0; i < ts->n; i++) {
			if (ts->items[i]->kind != YNODE_MAP) {
				report(c, ts->items[i], "a target must be a mapping, got %s",
				       ynode_kind_name(ts->items[i]));
				continue;
			}
			parse_target(c, ts->items[i], &s->targets[s->ntargets++]);
		}
	}
	parse_deletion(c, spec, r);
}

/* ---- D1Database ---- */

static const char *const d1_location_words[] = { "wnam", "enam", "weur", "eeur", "apac",
	                                         "oc", NULL };
static const char *const d1_juris_words[] = { "eu", "fedramp", NULL };
static const char *const d1_replication_words[] = { "auto", "disabled", NULL };

/* D1 database names (D1_NAME_MAX); returns a reason or NULL. */
static const char *
d1_name_problem(const char *s)
{
	size_t l = strlen(s);

	if (l == 0 || l > D1_NAME_MAX)
		return "must be 1 to 64 characters long";
	if (!isalnum((unsigned char)s[0]) || isupper((unsigned char)s[0]))
		return "must start with a lower-case letter or a digit";
	if (strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-_") != l)
		return "may contain only lower-case letters, digits, '-' and '_'";
	return NULL;
}

/*
 * migrations: {dir, table}. The folder resolves against the manifest's
 * folder and stays inside it (or an --allow-path-root folder), as valueFrom
 * files do; the table is an SQL identifier, since it is written into the
 * statements as wrangler writes it.
 */
static void
parse_migrations(struct ctx *c, const struct ynode *m, struct d1_database_spec *s)
{
	static const char *const fields[] = { "dir", "table", NULL };
	const char *home = strcmp(c->file, "<stdin>") == 0
	                   ? "the current folder (the manifest is read from stdin)"
	                   : "the manifest's folder";
	const struct ynode *dn;
	char *real = NULL, *root = NULL, shown[320];
	struct stat st;
	int err_no;

	check_fields(c, m, fields);
	s->has_migrations = 1;
	if (get_str(c, m, "table", &s->migrations_table, 0) == 1) {
		const char *t = s->migrations_table;

		if (strlen(t) > D1_TABLE_NAME_MAX || !(isalpha((unsigned char)t[0]) || t[0] == '_') ||
		    strspn(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") !=
		            strlen(t) || strncasecmp(t, "sqlite_", 7) == 0 ||
		    strncasecmp(t, "_cf_", 4) == 0)
			report(c, field(m, "table"), "'table' must be an SQL name: up to %d letters, "
			       "digits and '_', not starting with a digit, 'sqlite_' or '_cf_'",
			       D1_TABLE_NAME_MAX);
	} else if (!field(m, "table")) {
		s->migrations_table = xstrdup(D1_DEFAULT_MIGRATIONS_TABLE);
	}
	if (get_str(c, m, "dir", &s->migrations_dir, 1) != 1)
		return;
	dn = field(m, "dir");
	s->dir_pos = at(c, dn);
	show_n(dn, shown, sizeof(shown), 160);
	switch (manifest_path_resolve(c->basedir, s->migrations_dir, c->roots, c->nroots, &real,
	                              &root, &err_no)) {
	case PATH_OK:
		break;
	case PATH_ABSOLUTE:
		report(c, dn, "migrations folder '%s' is an absolute path outside %s; use a path "
		       "relative to it, or allow its folder with --allow-path-root", shown, home);
		return;
	case PATH_DOTDOT:
		report(c, dn, "migrations folder '%s' climbs out of %s with '..'; it must stay "
		       "inside it (or in a folder allowed with --allow-path-root)", shown, home);
		return;
	case PATH_SYMLINK:
		report(c, dn, "migrations folder '%s' leads out of %s through a symlink; it must "
		       "stay inside it (or in a folder allowed with --allow-path-root)", shown, home);
		return;
	case PATH_MISSING:
		report(c, dn, "migrations folder '%s' does not exist (relative to %s): %s", shown,
		       home, strerror(err_no));
		return;
	}
	if (stat(real, &st) != 0 || !S_ISDIR(st.st_mode))
		report(c, dn, "migrations folder '%s' is not a folder", shown);
	else {
		manifest_d1_scan(s, real, root, s->dir_pos, c->d);
		s->migrations_real = real; /* hand-over */
		real = NULL;
	}
	free(real);
	free(root);
}

static void
parse_d1(struct ctx *c, const struct ynode *spec, struct resource *r)
{
	static const char *const fields[] = { "databaseName", "locationHint", "jurisdiction",
		"readReplication", "migrations", "deletionPolicy", "allowDataLoss", "adopt", NULL };
	struct d1_database_spec *s = &r->u.d1;
	const struct ynode *m;
	const char *w;

	check_fields(c, spec, fields);
	if (get_str(c, spec, "databaseName", &s->database_name, 0) == 1) {
		const char *why = d1_name_problem(s->database_name);
		char shown[64];

		if (why)
			report(c, field(spec, "databaseName"), "database name '%s' %s",
			       show(field(spec, "databaseName"), shown, sizeof(shown)), why);
	} else if (r->name && !field(spec, "databaseName")) {
		s->database_name = xstrdup(r->name);
	}
	if (get_enum(c, spec, "locationHint", d1_location_words, &w) == 1)
		s->location_hint = xstrdup(w);
	if (get_enum(c, spec, "jurisdiction", d1_juris_words, &w) == 1)
		s->jurisdiction = xstrdup(w);
	if (field(spec, "locationHint") && field(spec, "jurisdiction"))
		report(c, key_node(spec, "locationHint"), "'locationHint' is ignored when "
		       "'jurisdiction' is set (D1 places the database in the jurisdiction); "
		       "set one of them");
	if (get_enum(c, spec, "readReplication", d1_replication_words, &w) == 1)
		s->read_replication = xstrdup(w);
	if ((m = get_map(c, spec, "migrations", 0)) != NULL)
		parse_migrations(c, m, s);
	parse_deletion(c, spec, r);
	(void)get_bool(c, spec, "allowDataLoss", &s->allow_data_loss);
	if (s->allow_data_loss && r->deletion_policy != DELETION_DELETE)
		report(c, key_node(spec, "allowDataLoss"), "'allowDataLoss' applies only to "
		       "'deletionPolicy: Delete'");
	(void)get_bool(c, spec, "adopt", &r->adopt);
}

/* ---- documents ---- */

static const char *const kind_words[] = { "R2Bucket", "KVNamespace", "Secret", "D1Database",
	                                  NULL };

static void
parse_doc(struct ctx *c, const struct ydoc *doc, struct manifest_set *set)
{
	static const char *const fields[] = { "apiVersion", "kind", "metadata", "spec", NULL };
	static const char *const mfields[] = { "name", "labels", "annotations", NULL };
	const struct ynode *root = doc->root, *meta, *spec, *v;
	struct resource r;
	const char *kw = NULL;
	char *s = NULL, shown[64];

	if (root == NULL || ynode_is_null(root))
		return; /* an empty document, as after a trailing '---' */
	if (root->kind != YNODE_MAP) {
		report(c, root, "a manifest document must be a mapping, got %s",
		       ynode_kind_name(root));
		return;
	}
	memset(&r, 0, sizeof(r));
	r.pos = at(c, root);
	check_fields(c, root, fields);
	if (get_str(c, root, "apiVersion", &s, 1) == 1 && strcmp(s, MANIFEST_API_VERSION) != 0)
		report(c, field(root, "apiVersion"), "unsupported apiVersion '%s' (expected '%s')",
		       show(field(root, "apiVersion"), shown, sizeof(shown)), MANIFEST_API_VERSION);
	free(s);
	s = NULL;
	if ((v = field(root, "kind")) == NULL) {
		missing(c, root, "kind");
	} else if (get_str(c, root, "kind", &s, 1) == 1) {
		char hint[96];

		for (size_t i = 0; kind_words[i]; i++)
			if (strcmp(kind_words[i], s) == 0)
				kw = kind_words[i];
		if (kw == NULL) {
			hint_suffix(s, kind_words, hint, sizeof(hint));
			report(c, v, "unknown kind '%s'%s", show(v, shown, sizeof(shown)), hint);
		}
	}
	free(s);
	if ((meta = get_map(c, root, "metadata", 1)) != NULL) {
		const struct ynode *an;

		check_fields(c, meta, mfields);
		if (get_str(c, meta, "name", &r.name, 1) == 1) {
			r.name_pos = at(c, field(meta, "name"));
			if (!is_dns_label(r.name, MANIFEST_NAME_MAX))
				report(c, field(meta, "name"), "metadata.name '%s' must be up to 63 "
				       "lower-case letters, digits and '-', alphanumeric at both ends",
				       show(field(meta, "name"), shown, sizeof(shown)));
		}
		parse_labels(c, meta, &r);
		if ((an = get_map(c, meta, "annotations", 0)) != NULL)
			for (uint32_t i = 0; i < an->n; i++)
				if (an->pairs[i].val->kind != YNODE_SCALAR)
					report(c, an->pairs[i].val, "annotation values must be strings, "
					       "got %s", ynode_kind_name(an->pairs[i].val));
	}
	spec = get_map(c, root, "spec", 1);
	if (kw == NULL || spec == NULL) {
		manifest_resource_release(&r);
		return;
	}
	if (!strcmp(kw, "R2Bucket")) {
		r.kind = KIND_R2BUCKET;
		parse_bucket(c, spec, &r);
	} else if (!strcmp(kw, "KVNamespace")) {
		r.kind = KIND_KVNAMESPACE;
		parse_kv(c, spec, &r);
	} else if (!strcmp(kw, "D1Database")) {
		r.kind = KIND_D1DATABASE;
		parse_d1(c, spec, &r);
	} else {
		r.kind = KIND_SECRET;
		parse_secret(c, spec, &r);
	}
	if (set->n >= MANIFEST_MAX_RESOURCES) {
		report(c, root, "more than %d resources; refused", MANIFEST_MAX_RESOURCES);
	}
	set->items = xrealloc(set->items, (set->n + 1) * sizeof(*set->items));
	set->items[set->n++] = r;
}

void
manifest_parse_stream(const struct ystream *s, const char *file, const char *basedir,
                      struct manifest_set *set, struct diags *d)
{
	struct ctx c = { s, file, basedir, d, (const char *const *)set->path_roots,
	                 set->npath_roots };

	for (size_t i = 0; i < s->ndocs; i++)
		parse_doc(&c, &s->docs[i], set);
}
