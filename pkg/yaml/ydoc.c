#include "ydoc.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "../mem/mem.h"

struct anchor {
	char *name;
	struct ynode *node;
};

struct frame {
	struct ynode *node;
	struct ynode *key;   /* mapping: key waiting for its value */
	char *anchor;        /* registered when the node is complete */
	size_t cap;
};

struct parser {
	struct ystream *s;
	struct diags *d;
	struct frame stack[YDOC_MAX_DEPTH + 1];
	int depth;
	struct anchor *anchors;
	size_t nanchors, capanchors;
	unsigned aliases;
	uint64_t expanded; /* nodes created plus nodes reached through aliases */
	struct ynode *root;
	int fatal;
};

static struct src_pos
pos_at(const struct ystream *s, unsigned line, unsigned col)
{
	struct src_pos p = { s->file, line, col };

	return p;
}

struct src_pos
ynode_pos(const struct ystream *s, const struct ynode *n)
{
	return pos_at(s, n->line, n->col);
}

static struct ynode *
node_new(struct parser *p, enum ynode_kind kind, yaml_mark_t mark)
{
	struct ystream *s = p->s;
	struct ynode *n = xcalloc(1, sizeof(*n));

	n->kind = kind;
	n->line = (unsigned)mark.line + 1;
	n->col = (unsigned)mark.column + 1;
	n->weight = 1;
	if (s->nall == s->capall) {
		s->capall = s->capall ? s->capall * 2 : 64;
		s->all = xrealloc(s->all, s->capall * sizeof(*s->all));
	}
	s->all[s->nall++] = n;
	return n;
}

static void
fatal(struct parser *p, unsigned line, unsigned col, const char *fmt, const char *arg)
{
	diags_add(p->d, pos_at(p->s, line, col), fmt, arg);
	p->fatal = 1;
}

/* Counts n's expansion against the file's node budget. */
static int
spend(struct parser *p, uint64_t w, unsigned line, unsigned col)
{
	p->expanded += w;
	if (p->expanded > YDOC_MAX_NODES) {
		diags_add(p->d, pos_at(p->s, line, col),
		          "document expands to more than %u nodes (too many aliases or "
		          "values); refused", YDOC_MAX_NODES);
		p->fatal = 1;
		return -1;
	}
	return 0;
}

/*
 * Hangs a finished node (or an alias target) under the current container, or
 * makes it the document root.
 */
static void
attach(struct parser *p, struct ynode *n, unsigned line, unsigned col)
{
	struct frame *f;
	struct ynode *c;

	if (p->depth == 0) {
		p->root = n;
		return;
	}
	f = &p->stack[p->depth - 1];
	c = f->node;
	c->weight += n->weight;
	if (c->kind == YNODE_SEQ) {
		if (c->n == f->cap) {
			f->cap = f->cap ? f->cap * 2 : 4;
			c->items = xrealloc(c->items, f->cap * sizeof(*c->items));
		}
		c->items[c->n++] = n;
		return;
	}
	if (f->key == NULL) {
		if (n->kind != YNODE_SCALAR) {
			fatal(p, line, col, "mapping keys must be plain strings%s", "");
			return;
		}
		if (n->len > YDOC_MAX_KEY) {
			diags_add(p->d, pos_at(p->s, line, col),
			          "mapping key is %zu bytes long; at most %u", n->len,
			          YDOC_MAX_KEY);
			p->fatal = 1;
			return;
		}
		f->key = n;
		return;
	}
	if (c->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 4;
		c->pairs = xrealloc(c->pairs, f->cap * sizeof(*c->pairs));
	}
	c->pairs[c->n].key = f->key;
	c->pairs[c->n].val = n;
	c->n++;
	f->key = NULL;
}

static int
pair_cmp(const void *a, const void *b)
{
	const struct ypair *x = *(const struct ypair *const *)a;
	const struct ypair *y = *(const struct ypair *const *)b;
	int c;

	if (x->key->len != y->key->len)
		return x->key->len < y->key->len ? -1 : 1;
	c = memcmp(x->key->s, y->key->s, x->key->len);
	if (c)
		return c;
	/* source order breaks ties, so the first one stays first */
	if (x->key->line != y->key->line)
		return x->key->line < y->key->line ? -1 : 1;
	return x->key->col < y->key->col ? -1 : (x->key->col > y->key->col);
}

static int
is_merge_key(const struct ynode *k)
{
	return k->plain && k->len == 2 && memcmp(k->s, "<<", 2) == 0;
}

static struct ypair *
find_sorted(struct ypair **sorted, size_t n, const struct ynode *key)
{
	size_t lo = 0, hi = n;

	/* compare by key text only: ignore position in the tie-break */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const struct ynode *k = sorted[mid]->key;
		int c = k->len != key->len ? (k->len < key->len ? -1 : 1)
		                           : memcmp(k->s, key->s, key->len);

		if (c == 0)
			return sorted[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/*
 * Finishes a mapping: reports duplicate keys (libyaml does not) and applies
 * YAML merge keys (`<<: *defaults`), explicit keys winning over merged ones.
 */
static void
finish_map(struct parser *p, struct ynode *m)
{
	struct ypair **sorted;
	size_t n = 0, nmerge = 0;

	if (m->n == 0)
		return;
	sorted = xmalloc(m->n * sizeof(*sorted));
	for (uint32_t i = 0; i < m->n; i++) {
		if (is_merge_key(m->pairs[i].key))
			nmerge++;
		else
			sorted[n++] = &m->pairs[i];
	}
	qsort(sorted, n, sizeof(*sorted), pair_cmp);
	for (size_t i = 1; i < n; i++) {
		const struct ynode *a = sorted[i - 1]->key, *b = sorted[i]->key;

		if (a->len == b->len && memcmp(a->s, b->s, a->len) == 0) {
			char shown[80];

			snprintf(shown, sizeof(shown), "%.*s%s", a->len > 64 ? 64 : (int)a->len,
			         a->s, a->len > 64 ? "..." : "");
			diags_add(p->d, ynode_pos(p->s, b),
			          "duplicate key '%s' (first at line %u, column %u)", shown,
			          a->line, a->col);
		}
	}
	if (nmerge) {
		struct ypair *out = xmalloc((size_t)m->n * sizeof(*out));
		size_t nout = 0, cap = m->n;

		for (uint32_t i = 0; i < m->n; i++)
			if (!is_merge_key(m->pairs[i].key))
				out[nout++] = m->pairs[i];
		for (uint32_t i = 0; i < m->n; i++) {
			const struct ynode *v = m->pairs[i].val;
			const struct ynode *const *srcs = (const struct ynode *const *)&v;
			uint32_t nsrc = 1;

			if (!is_merge_key(m->pairs[i].key))
				continue;
			if (v->kind == YNODE_SEQ) {
				srcs = (const struct ynode *const *)v->items;
				nsrc = v->n;
			}
			for (uint32_t j = 0; j < nsrc; j++) {
				const struct ynode *src = srcs[j];

				if (src->kind != YNODE_MAP) {
					diags_add(p->d, ynode_pos(p->s, m->pairs[i].key),
					          "merge key '<<' needs a mapping or a list of mappings");
					continue;
				}
				for (uint32_t k = 0; k < src->n; k++) {
					if (find_sorted(sorted, n, src->pairs[k].key))
						continue;
					/* earlier merge sources win over later ones */
					int seen = 0;
					for (size_t q = n; q < nout; q++)
						if (out[q].key->len == src->pairs[k].key->len &&
						    memcmp(out[q].key->s, src->pairs[k].key->s,
						           out[q].key->len) == 0)
							seen = 1;
					if (seen)
						continue;
					if (nout == cap) {
						cap *= 2;
						out = xrealloc(out, cap * sizeof(*out));
					}
					out[nout++] = src->pairs[k];
				}
			}
		}
		free(m->pairs);
		m->pairs = out;
		m->n = (uint32_t)nout;
	}
	free(sorted);
}

static void
register_anchor(struct parser *p, char *name, struct ynode *n)
{
	if (name == NULL)
		return;
	if (p->nanchors == p->capanchors) {
		p->capanchors = p->capanchors ? p->capanchors * 2 : 8;
		p->anchors = xrealloc(p->anchors, p->capanchors * sizeof(*p->anchors));
	}
	p->anchors[p->nanchors].name = name;
	p->anchors[p->nanchors].node = n;
	p->nanchors++;
}

static void
drop_anchors(struct parser *p)
{
	for (size_t i = 0; i < p->nanchors; i++)
		free(p->anchors[i].name);
	p->nanchors = 0;
}

/* Takes libyaml's heap string (freed with free()), leaving NULL behind. */
static char *
steal(yaml_char_t **s)
{
	char *r = (char *)*s;

	*s = NULL;
	return r;
}

/*
 * Checks a node's tag: only YAML's own (tag:yaml.org,2002:*) are accepted;
 * `!!str` makes a scalar non-plain. A rejected tag is reported and the node is
 * still built, so the tree keeps the shape of the text: skipping it would shift
 * every later key and value of its mapping, and skipping a mapping or sequence
 * would leave its end event without a frame to pop.
 */
static void
tag_check(struct parser *p, const yaml_char_t *tag, yaml_mark_t m, int *plain)
{
	if (tag == NULL)
		return;
	if (strcmp((const char *)tag, "tag:yaml.org,2002:str") == 0) {
		*plain = 0;
		return;
	}
	if (strncmp((const char *)tag, "tag:yaml.org,2002:", 18) == 0)
		return;
	*plain = 0;
	diags_add(p->d, pos_at(p->s, (unsigned)m.line + 1, (unsigned)m.column + 1),
	          "unsupported tag '%.64s'", (const char *)tag);
}

/* A mapping or a sequence starts: a frame on the stack (bounded depth). */
static void
on_collection(struct parser *p, yaml_event_t *ev, yaml_mark_t m, unsigned line, unsigned col)
{
	struct ynode *n;
	int mapping = ev->type == YAML_MAPPING_START_EVENT;
	int plain = 1;
	const yaml_char_t *tag = mapping ? ev->data.mapping_start.tag
	                                 : ev->data.sequence_start.tag;
	struct frame *f;

	tag_check(p, tag, m, &plain);
	if (p->depth > 0 && p->stack[p->depth - 1].node->kind == YNODE_MAP &&
	    p->stack[p->depth - 1].key == NULL) {
		fatal(p, line, col, "mapping keys must be plain strings%s", "");
		return;
	}
	if (p->depth >= YDOC_MAX_DEPTH) {
		diags_add(p->d, pos_at(p->s, line, col),
		          "nesting deeper than %d levels; refused", YDOC_MAX_DEPTH);
		p->fatal = 1;
		return;
	}
	if (spend(p, 1, line, col) < 0)
		return;
	n = node_new(p, mapping ? YNODE_MAP : YNODE_SEQ, m);
	f = &p->stack[p->depth++];
	memset(f, 0, sizeof(*f));
	f->node = n;
	f->anchor = mapping ? steal(&ev->data.mapping_start.anchor)
	                    : steal(&ev->data.sequence_start.anchor);
}

/* An alias: the anchored node attached again, its weight counted. */
static void
on_alias(struct parser *p, yaml_event_t *ev, unsigned line, unsigned col)
{
	const char *name = (const char *)ev->data.alias.anchor;
	struct ynode *target = NULL;

	for (size_t i = p->nanchors; i-- > 0;) {
		if (strcmp(p->anchors[i].name, name) == 0) {
			target = p->anchors[i].node;
			break;
		}
	}
	if (target == NULL) {
		fatal(p, line, col, "alias '*%.64s' refers to no complete anchor before it",
		      name);
		return;
	}
	if (++p->aliases > YDOC_MAX_ALIASES) {
		diags_add(p->d, pos_at(p->s, line, col),
		          "more than %u aliases in one file; refused", YDOC_MAX_ALIASES);
		p->fatal = 1;
		return;
	}
	if (spend(p, target->weight, line, col) < 0)
		return;
	attach(p, target, line, col);
}

static void
on_event(struct parser *p, yaml_event_t *ev)
{
	yaml_mark_t m = ev->start_mark;
	unsigned line = (unsigned)m.line + 1, col = (unsigned)m.column + 1;
	struct ynode *n;

	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (p->s->ndocs >= YDOC_MAX_DOCS) {
			diags_add(p->d, pos_at(p->s, line, col),
			          "more than %u documents in one file; refused", YDOC_MAX_DOCS);
			p->fatal = 1;
			return;
		}
		p->root = NULL;
		p->s->docs = xrealloc(p->s->docs, (p->s->ndocs + 1) * sizeof(*p->s->docs));
		p->s->docs[p->s->ndocs].root = NULL;
		p->s->docs[p->s->ndocs].line = line;
		p->s->docs[p->s->ndocs].col = col;
		p->s->ndocs++;
		break;
	case YAML_DOCUMENT_END_EVENT:
		if (p->s->ndocs == 0 || p->depth != 0) {
			/* every path that skips a start event stops the file first */
			fatal(p, line, col, "invalid YAML: unbalanced document%s", "");
			return;
		}
		p->s->docs[p->s->ndocs - 1].root = p->root;
		drop_anchors(p);
		break;
	case YAML_SCALAR_EVENT: {
		int plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;

		tag_check(p, ev->data.scalar.tag, m, &plain);
		if (spend(p, 1, line, col) < 0)
			return;
		n = node_new(p, YNODE_SCALAR, m);
		n->plain = plain ? 1 : 0;
		n->len = ev->data.scalar.length;
		n->s = steal(&ev->data.scalar.value);
		attach(p, n, line, col);
		register_anchor(p, steal(&ev->data.scalar.anchor), n);
		break;
	}
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		on_collection(p, ev, m, line, col);
		break;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT: {
		struct frame f;

		if (p->depth == 0) {
			/* every path that skips a start event stops the file first */
			fatal(p, line, col, "invalid YAML: end of a mapping or list that "
			      "never started%s", "");
			return;
		}
		f = p->stack[--p->depth];

		if (f.node->kind == YNODE_MAP)
			finish_map(p, f.node);
		/* the anchor becomes usable only now, so no alias can form a cycle */
		register_anchor(p, f.anchor, f.node);
		attach(p, f.node, f.node->line, f.node->col);
		break;
	}
	case YAML_ALIAS_EVENT:
		on_alias(p, ev, line, col);
		break;
	default:
		break;
	}
}

/* Position of byte `off` as 1-based line and column (in characters). */
static void
locate(const char *data, size_t off, unsigned *line, unsigned *col)
{
	unsigned l = 1, c = 1;

	for (size_t i = 0; i < off; i++) {
		if (data[i] == '\n') {
			l++;
			c = 1;
		} else if (((unsigned char)data[i] & 0xC0) != 0x80) {
			c++;
		}
	}
	*line = l;
	*col = c;
}

/* Returns the offset of the first byte that is not valid UTF-8, or len. */
static size_t
utf8_check(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t need;
		uint32_t cp, min;

		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xE0) == 0xC0) {
			need = 1; cp = c & 0x1F; min = 0x80;
		} else if ((c & 0xF0) == 0xE0) {
			need = 2; cp = c & 0x0F; min = 0x800;
		} else if ((c & 0xF8) == 0xF0) {
			need = 3; cp = c & 0x07; min = 0x10000;
		} else {
			return i;
		}
		if (len - i <= need)
			return i;
		for (size_t k = 1; k <= need; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return i;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return i;
		i += need + 1;
	}
	return len;
}


/* 1 when the tab at data[at] stands in a line's leading white space, where
 * libyaml's own message ("cannot start any token") would not say why. */
static int
tab_indents(const char *data, size_t at)
{
	while (at > 0 && data[at - 1] != '\n') {
		if (data[at - 1] != ' ' && data[at - 1] != '\t')
			return 0;
		at--;
	}
	return 1;
}
struct ystream *
ydoc_parse(const char *file, const char *data, size_t len, struct diags *d)
{
	struct ystream *s = xcalloc(1, sizeof(*s));
	struct parser p;
	yaml_parser_t yp;
	const char *nul;
	size_t bad;
	unsigned line, col;

	s->file = xstrdup(file);
	if (len > YDOC_MAX_FILE) {
		diags_add(d, pos_at(s, 0, 0), "file is %zu bytes; at most %u bytes allowed",
		          len, YDOC_MAX_FILE);
		return s;
	}
	if ((len >= 2 && ((data[0] == '\xff' && data[1] == '\xfe') ||
	                  (data[0] == '\xfe' && data[1] == '\xff'))) ||
	    (len >= 4 && data[0] == 0 && data[1] == 0 && data[2] == '\xfe')) {
		diags_add(d, pos_at(s, 1, 1), "file is UTF-16 or UTF-32; manifests must be "
		          "UTF-8");
		return s;
	}
	if ((nul = memchr(data, '\0', len)) != NULL) {
		locate(data, (size_t)(nul - data), &line, &col);
		diags_add(d, pos_at(s, line, col), "file contains a NUL byte; refused");
		return s;
	}
	bad = utf8_check((const unsigned char *)data, len);
	if (bad < len) {
		locate(data, bad, &line, &col);
		diags_add(d, pos_at(s, line, col),
		          "invalid UTF-8 (byte 0x%02x at offset %zu); refused",
		          (unsigned char)data[bad], bad);
		return s;
	}

	memset(&p, 0, sizeof(p));
	p.s = s;
	p.d = d;
	if (!yaml_parser_initialize(&yp)) {
		diags_add(d, pos_at(s, 0, 0), "cannot initialise the YAML parser");
		return s;
	}
	yaml_parser_set_input_string(&yp, (const unsigned char *)data, len);
	for (;;) {
		yaml_event_t ev;

		if (!yaml_parser_parse(&yp, &ev)) {
			unsigned el = (unsigned)yp.problem_mark.line + 1;
			unsigned ec = (unsigned)yp.problem_mark.column + 1;
			size_t at = yp.problem_mark.index;

			if (at < len && data[at] == '\t' && tab_indents(data, at))
				diags_add(d, pos_at(s, el, ec), "a tab in the indentation: YAML indents "
				          "with spaces only");
			else if (yp.context)
				diags_add(d, pos_at(s, el, ec), "invalid YAML: %s %s",
				          yp.problem ? yp.problem : "syntax error", yp.context);
			else
				diags_add(d, pos_at(s, el, ec), "invalid YAML: %s",
				          yp.problem ? yp.problem : "syntax error");
			p.fatal = 1;
			break;
		}
		on_event(&p, &ev);
		int end = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
		if (end || p.fatal)
			break;
	}
	yaml_parser_delete(&yp);
	if (p.fatal && s->ndocs > 0 && s->docs[s->ndocs - 1].root == NULL) {
		/* the document cut short is dropped: half a resource is not one */
		s->ndocs--;
	}
	/* free anchors and pending frames left by a fatal stop */
	drop_anchors(&p);
	free(p.anchors);
	while (p.depth > 0)
		free(p.stack[--p.depth].anchor);
	return s;
}

void
ystream_free(struct ystream *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->nall; i++) {
		struct ynode *n = s->all[i];

		free(n->s);
		free(n->items);
		free(n->pairs);
		free(n);
	}
	free(s->all);
	free(s->docs);
	free(s->file);
	free(s);
}

const struct ynode *
ynode_get(const struct ynode *map, const char *key)
{
	size_t kl = strlen(key);

	if (map == NULL || map->kind != YNODE_MAP)
		return NULL;
	for (uint32_t i = 0; i < map->n; i++) {
		const struct ynode *k = map->pairs[i].key;

		if (k->len == kl && memcmp(k->s, key, kl) == 0)
			return map->pairs[i].val;
	}
	return NULL;
}

int
ynode_is_null(const struct ynode *n)
{
	if (n == NULL)
		return 1;
	if (n->kind != YNODE_SCALAR || !n->plain)
		return 0;
	return n->len == 0 || strcmp(n->s, "~") == 0 || strcmp(n->s, "null") == 0 ||
	       strcmp(n->s, "Null") == 0 || strcmp(n->s, "NULL") == 0;
}

const char *
ynode_kind_name(const struct ynode *n)
{
	if (n == NULL || ynode_is_null(n))
		return "null";
	switch (n->kind) {
	case YNODE_MAP: return "a mapping";
	case YNODE_SEQ: return "a list";
	case YNODE_SCALAR: return "a scalar";
	}
	return "?";
}
