/*
 * export.c: `cfstorage export`. Reads the account first (buckets with their
 * lifecycle and CORS, namespaces with their keys and values, secret names),
 * then renders YAML into one buffer per kind and writes it out, so a read that
 * fails leaves no half-written manifests behind.
 *
 * Every string that comes from the account is written double-quoted with
 * JSON-style escapes (a JSON string is a YAML double-quoted scalar), plus the
 * escapes YAML needs beyond JSON's: C1 controls (U+0085 is a line break in
 * YAML 1.1), U+2028/U+2029 (line breaks too) and U+FFFE/U+FFFF (not printable),
 * which libyaml would otherwise refuse or fold.
 */
#include "export.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../log/log.h"
#include "../manifest/manifest.h"
#include "../mem/mem.h"

/* The rule Cloudflare adds to every bucket; cfstorage keeps it implicitly. */
#define DEFAULT_LC_ID "Default Multipart Abort Rule"
/* The id cfstorage gives the `deleteAfterDays` shorthand rule. */
#define SHORTHAND_LC_ID "cfstorage-delete-after-days"
/* Largest YAML we render for one kind (ids and values are bounded; this
 * only stops a runaway account from eating the machine). */
#define RENDER_MAX ((size_t)1 << 30)
#define SECS_PER_DAY 86400

static const char *const jurisdictions[] = { "default", "eu", "fedramp" };

/* ---- a set of strings (metadata.names and data file names) ---- */

struct strset {
	char **slot;
	size_t cap, n;
};

static uint64_t
hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static int
strset_has(const struct strset *s, const char *k)
{
	if (s->cap == 0)
		return 0;
	for (size_t i = hash_str(k) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
		if (s->slot[i] == NULL)
			return 0;
		if (strcmp(s->slot[i], k) == 0)
			return 1;
	}
}

/* Adds a copy of k (the caller checked it is absent). */
static void
strset_add(struct strset *s, const char *k)
{
	if (2 * (s->n + 1) > s->cap) {
		struct strset g = { xcalloc(s->cap ? s->cap * 2 : 64, sizeof(char *)),
		                    s->cap ? s->cap * 2 : 64, 0 };

		for (size_t i = 0; i < s->cap; i++)
			if (s->slot[i]) {
				size_t j = hash_str(s->slot[i]) & (g.cap - 1);

				while (g.slot[j])
					j = (j + 1) & (g.cap - 1);
				g.slot[j] = s->slot[i];
				g.n++;
			}
		free(s->slot);
		*s = g;
	}
	for (size_t i = hash_str(k) & (s->cap - 1);; i = (i + 1) & (s->cap - 1))
		if (s->slot[i] == NULL) {
			s->slot[i] = xstrdup(k);
			s->n++;
			return;
		}
}

static void
strset_release(struct strset *s)
{
	for (size_t i = 0; i < s->cap; i++)
		free(s->slot[i]);
	free(s->slot);
	memset(s, 0, sizeof(*s));
}

/*
 * Claims `base` in `used`, or base-2, base-3 ... (the base shortened so the
 * result keeps within `max` bytes and ends in neither '-' nor '.'). Returns
 * the name claimed; free with free().
 */
static char *
claim_unique(struct strset *used, const char *base, size_t max)
{
	char *name = xstrdup(base);

	for (unsigned n = 2; strset_has(used, name); n++) {
		char suffix[16];
		size_t keep;

		snprintf(suffix, sizeof(suffix), "-%u", n);
		keep = strlen(base);
		if (keep + strlen(suffix) > max)
			keep = max - strlen(suffix);
		while (keep > 0 && (base[keep - 1] == '-' || base[keep - 1] == '.'))
			keep--;
		free(name);
		name = xasprintf("%.*s%s", (int)keep, base, suffix);
	}
	strset_add(used, name);
	return name;
}

/*
 * A DNS-1123 label (what metadata.name must be) made from a bucket name or a
 * title: lower case, every run of other bytes one '-', no '-' at either end,
 * at most MANIFEST_NAME_MAX bytes; `fallback` when nothing is left.
 */
static char *
dns_label(const char *s, const char *fallback)
{
	char out[MANIFEST_NAME_MAX + 1];
	size_t n = 0;
	int dash = 1; /* drops leading separators */

	for (; *s && n < MANIFEST_NAME_MAX; s++) {
		char ch = *s;

		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')) {
			out[n++] = ch;
			dash = 0;
		} else if (!dash) {
			out[n++] = '-';
			dash = 1;
		}
	}
	while (n > 0 && out[n - 1] == '-')
		n--;
	out[n] = '\0';
	return xstrdup(n ? out : fallback);
}

/* ---- text checks and quoting ---- */

/* One strict UTF-8 sequence (pkg/mem's decoder): its length and code point, or 0. */
static size_t
utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned long c = 0;
	size_t len = mem_utf8_seq(s, n, &c);

	*cp = (uint32_t)c;
	return len;
}

/* 1 when s[0..n) is valid UTF-8 without NUL bytes. */
static int
is_text(const char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t l = utf8_next((const unsigned char *)s + i, n - i, &cp);

		if (l == 0 || cp == 0)
			return 0;
		i += l;
	}
	return 1;
}

/* Code points a YAML double-quoted scalar cannot hold raw (see the top). */
static int
needs_yaml_escape(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 ||
	       cp == 0xfffe || cp == 0xffff;
}

/*
 * Appends s[0..n) (valid UTF-8, checked by the caller) as a double-quoted YAML
 * scalar: buf_json_string's escapes, plus \uXXXX for what YAML cannot hold
 * raw. Strings that need nothing beyond JSON go through buf_json_string.
 */
static void
put_str(struct buf *b, const char *s, size_t n)
{
	size_t i, run = 0;

	for (i = 0; i < n;) {
		uint32_t cp = 0;
		size_t l = utf8_next((const unsigned char *)s + i, n - i, &cp);

		if (l == 0)
			l = 1;
		if (needs_yaml_escape(cp))
			break;
		i += l;
	}
	if (i >= n) {
		(void)buf_json_string(b, s, n);
		return;
	}
	(void)buf_puts(b, "\"");
	for (i = 0; i < n;) {
		uint32_t cp = 0;
		size_t l = utf8_next((const unsigned char *)s + i, n - i, &cp);

		if (l == 0)
			l = 1;
		if (needs_yaml_escape(cp)) {
			struct buf part;

			/* the run before it, escaped as JSON without its quotes */
			buf_init(&part, RENDER_MAX);
			(void)buf_json_string(&part, s + run, i - run);
			(void)buf_append(b, part.data + 1, part.len - 2);
			buf_release(&part);
			(void)buf_printf(b, "\\u%04X", (unsigned)cp);
			run = i + l;
		}
		i += l;
	}
	if (run < n) {
		struct buf part;

		buf_init(&part, RENDER_MAX);
		(void)buf_json_string(&part, s + run, n - run);
		(void)buf_append(b, part.data + 1, part.len - 2);
		buf_release(&part);
	}
	(void)buf_puts(b, "\"");
}

static void
put_cstr(struct buf *b, const char *s)
{
	put_str(b, s, strlen(s));
}

/* ["a", "b"] */
static void
put_list(struct buf *b, char *const *v, size_t n)
{
	(void)buf_puts(b, "[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			(void)buf_puts(b, ", ");
		put_cstr(b, v[i]);
	}
	(void)buf_puts(b, "]");
}

/* ---- KV metadata: drop the reserved key, re-emit as a flow mapping ---- */

/* Skips whitespace in JSON text. */
static size_t
skip_ws(const char *s, size_t i, size_t n)
{
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
		i++;
	return i;
}

/* The end of the JSON string starting at s[i] == '"' (one past its closing
 * quote), or 0 when it does not close. */
static size_t
skip_string(const char *s, size_t i, size_t n)
{
	for (i++; i < n; i++) {
		if (s[i] == '\\')
			i++;
		else if (s[i] == '"')
			return i + 1;
	}
	return 0;
}

/* Appends the JSON text s[i..end) with YAML escapes inside its strings and a
 * space after ',' and ':' outside them (JSON is a YAML flow collection). */
static void
put_json(struct buf *b, const char *s, size_t i, size_t end)
{
	while (i < end) {
		if (s[i] == '"') {
			size_t e = skip_string(s, i, end);

			if (e == 0)
				e = end;
			for (size_t j = i; j < e;) {
				uint32_t cp = 0;
				size_t l = utf8_next((const unsigned char *)s + j, e - j, &cp);

				if (l == 0)
					l = 1;
				if (needs_yaml_escape(cp))
					(void)buf_printf(b, "\\u%04X", (unsigned)cp);
				else
					(void)buf_append(b, s + j, l);
				j += l;
			}
			i = e;
		} else if (s[i] == ',' || s[i] == ':') {
			(void)buf_append(b, s + i, 1);
			(void)buf_puts(b, " ");
			i = skip_ws(s, i + 1, end);
		} else if (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
			i++;
		} else {
			(void)buf_append(b, s + i, 1);
			i++;
		}
	}
}

/* The end of the JSON value starting at s[i] (strings, containers, scalars). */
static size_t
skip_value(const char *s, size_t i, size_t n)
{
	int depth = 0;

	while (i < n) {
		char ch = s[i];

		if (ch == '"') {
			size_t e = skip_string(s, i, n);

			if (e == 0)
				return n;
			i = e;
			if (depth == 0)
				return i;
			continue;
		}
		if (ch == '{' || ch == '[') {
			depth++;
		} else if (ch == '}' || ch == ']') {
			if (depth == 0)
				return i;
			if (--depth == 0)
				return i + 1;
		} else if (depth == 0 && (ch == ',' || ch == ' ' || ch == '\n' || ch == '\t' ||
		                          ch == '\r')) {
			return i;
		}
		i++;
	}
	return i;
}

/*
 * Renders a key's metadata (a JSON object as the key listing gave it) without
 * cfstorage's reserved hash key, as a YAML flow mapping; *out is NULL when no
 * member is left. The manifest loader turns it back into the same JSON: its
 * quoted scalars stay strings and plain numbers, true, false and null keep
 * their type. Returns the JSON length of what is kept (for the limit check).
 */
static size_t
metadata_yaml(const char *json, char **out)
{
	size_t n = strlen(json), i = skip_ws(json, 0, n), kept = 0, jlen = 2;
	struct buf b;

	*out = NULL;
	if (i >= n || json[i] != '{')
		return 0;
	buf_init(&b, RENDER_MAX);
	(void)buf_puts(&b, "{");
	i = skip_ws(json, i + 1, n);
	while (i < n && json[i] == '"') {
		size_t kend = skip_string(json, i, n), vstart, vend;
		int reserved;

		if (kend == 0)
			break;
		reserved = kend - i - 2 == strlen(KV_RESERVED_META_KEY) &&
		           memcmp(json + i + 1, KV_RESERVED_META_KEY, kend - i - 2) == 0;
		vstart = skip_ws(json, kend, n);
		if (vstart >= n || json[vstart] != ':')
			break;
		vstart = skip_ws(json, vstart + 1, n);
		vend = skip_value(json, vstart, n);
		if (!reserved) {
			if (kept++)
				(void)buf_puts(&b, ", ");
			put_json(&b, json, i, kend);
			(void)buf_puts(&b, ": ");
			put_json(&b, json, vstart, vend);
			jlen += (kend - i) + 1 + (vend - vstart) + (kept > 1);
		}
		i = skip_ws(json, vend, n);
		if (i < n && json[i] == ',')
			i = skip_ws(json, i + 1, n);
	}
	(void)buf_puts(&b, "}");
	if (kept)
		*out = buf_take(&b);
	buf_release(&b);
	return kept ? jlen : 0;
}

/* ---- reading the account ---- */

struct xentry {
	const struct obs_key *k;     /* borrowed from the namespace */
	const char *skip;            /* why the key cannot be declared, or NULL */
	char *file_name;             /* data/ name reserved for it (used if needed) */
	char *value;                 /* inline text */
	size_t value_len;
	int to_file;                 /* the value was written to file_name */
	int gone;                    /* deleted between the listing and the read */
};

struct xkv {
	struct obs_kv kv;
	char *name;                  /* metadata.name */
	struct xentry *entries;
	size_t nentries;
};

struct xbucket {
	struct obs_bucket *b;        /* borrowed */
	char *name;                  /* metadata.name */
};

struct store_names {
	char *store;
	char **names;
	size_t n;
};

struct xctx {
	struct api *a;
	const struct export_opts *o;
	enum errcode rc;             /* the first failure of an async read */
	struct err *e;
	char *data_dir;              /* out_dir/data, created on first use */
	int data_made;
};

/* Every bucket of every jurisdiction, with lifecycle and CORS read in
 * parallel. */
static enum errcode
read_buckets(struct xctx *x, struct obs_bucket **v, size_t *n)
{
	enum errcode rc = ERR_OK;

	for (size_t j = 0; j < sizeof(jurisdictions) / sizeof(*jurisdictions); j++) {
		rc = api_bucket_list(x->a, jurisdictions[j], v, n, x->e);
		if (rc != ERR_OK)
			return rc;
	}
	for (size_t i = 0; i < *n; i++) {
		api_bucket_read(x->a, &(*v)[i], API_BUCKET_LIFECYCLE, &x->rc, x->e);
		api_bucket_read(x->a, &(*v)[i], API_BUCKET_CORS, &x->rc, x->e);
	}
	api_wait(x->a);
	return x->rc;
}

/* Why a key cannot be declared in a manifest (the loader's rules), or NULL. */
static const char *
key_problem(const char *k)
{
	size_t len = strlen(k);

	if (!is_text(k, len))
		return "is not valid UTF-8";
	if (len == 0 || len > KV_KEY_MAX)
		return "is empty or longer than 512 bytes";
	if (strcmp(k, ".") == 0 || strcmp(k, "..") == 0)
		return "is '.' or '..'";
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)k[i] < 0x20 || k[i] == 0x7f)
			return "contains control characters";
	return NULL;
}

/* data/ file name for a key: "<namespace name>__<key>" with every byte
 * outside [A-Za-z0-9._-] made '_', shortened, and unique. */
static char *
data_name(struct strset *used, const char *ns, const char *key)
{
	char base[EXPORT_DATA_NAME_MAX + 1];
	size_t n = (size_t)snprintf(base, sizeof(base), "%s__", ns);

	if (n >= sizeof(base))
		n = sizeof(base) - 1;
	for (const char *p = key; *p && n < EXPORT_DATA_NAME_MAX; p++) {
		char ch = *p;

		base[n++] = ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		             (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_')
		            ? ch : '_';
	}
	base[n] = '\0';
	return claim_unique(used, base, EXPORT_DATA_NAME_MAX);
}

/* Writes len bytes to path through path.tmp and rename(2), so a reader never
 * sees half a file. */
static enum errcode
write_file(const char *path, const char *data, size_t len, struct err *e)
{
	char *tmp = xasprintf("%s.tmp", path);
	enum errcode rc = ERR_OK;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);

	if (fd < 0) {
		rc = err_set(e, ERR_IO, "cannot write '%s': %s", tmp, strerror(errno));
		goto out;
	}
	for (size_t off = 0; off < len;) {
		ssize_t w = write(fd, data + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			rc = err_set(e, ERR_IO, "cannot write '%s': %s", tmp, strerror(errno));
			break;
		}
		off += (size_t)w;
	}
	if (close(fd) != 0 && rc == ERR_OK)
		rc = err_set(e, ERR_IO, "cannot write '%s': %s", tmp, strerror(errno));
	if (rc == ERR_OK && rename(tmp, path) != 0)
		rc = err_set(e, ERR_IO, "cannot rename '%s' to '%s': %s", tmp, path,
		             strerror(errno));
	if (rc != ERR_OK)
		(void)unlink(tmp);
out:
	free(tmp);
	return rc;
}

static enum errcode
make_dir(const char *path, struct err *e)
{
	if (mkdir(path, 0777) != 0 && errno != EEXIST)
		return err_set(e, ERR_IO, "cannot create directory '%s': %s", path,
		               strerror(errno));
	return ERR_OK;
}

struct value_read {
	struct xctx *x;
	struct xentry *en;
	const char *ns_title;
};

/*
 * A value arrives: short text is kept for the YAML; anything else (binary,
 * NUL bytes, EXPORT_INLINE_MAX or more) goes to its data/ file at once, so
 * large values are never all in memory together. A key deleted since the
 * listing (404) is dropped.
 */
static void
on_value(struct api_call *c, void *user)
{
	struct value_read *r = user;
	struct xentry *en = r->en;
	struct xctx *x = r->x;

	if (c->rc == ERR_NOTFOUND) {
		en->gone = 1;
	} else if (c->rc != ERR_OK) {
		if (x->rc == ERR_OK)
			x->rc = err_set(x->e, c->rc, "reading key '%.80s' of namespace '%.80s': %s",
			                en->k->name, r->ns_title, c->err.msg);
	} else if (c->resp.len < EXPORT_INLINE_MAX && is_text(c->resp.data, c->resp.len)) {
		en->value_len = c->resp.len;
		en->value = buf_take(&c->resp);
	} else if (x->rc == ERR_OK) {
		char *path = xasprintf("%s/%s", x->data_dir, en->file_name);
		struct err we;

		if (!x->data_made && make_dir(x->data_dir, &we) != ERR_OK) {
			x->rc = we.code;
			*x->e = we;
		} else {
			x->data_made = 1;
			if (write_file(path, c->resp.data ? c->resp.data : "", c->resp.len, &we) !=
			    ERR_OK) {
				x->rc = we.code;
				*x->e = we;
			} else {
				en->to_file = 1;
			}
		}
		free(path);
	}
	free(r);
}

static int
kv_title_cmp(const void *a, const void *b)
{
	const struct obs_kv *x = a, *y = b;

	return strcmp(x->title ? x->title : "", y->title ? y->title : "");
}

/* Every namespace; with with_entries every key and value as well. */
static enum errcode
read_kvs(struct xctx *x, struct strset *used, struct xkv **out, size_t *nout)
{
	struct obs_kv *v = NULL;
	size_t n = 0;
	struct strset files = { 0 };
	enum errcode rc;

	*out = NULL;
	*nout = 0;
	rc = api_kv_list(x->a, &v, &n, x->e);
	if (rc != ERR_OK)
		goto out;
	if (n > 1)
		qsort(v, n, sizeof(*v), kv_title_cmp);
	*out = xcalloc(n + 1, sizeof(**out));
	for (size_t i = 0; i < n; i++) {
		struct xkv *k = &(*out)[(*nout)++];
		char *label;

		k->kv = v[i]; /* the namespace moves into the export; v[i] is dropped below */
		memset(&v[i], 0, sizeof(v[i]));
		label = dns_label(k->kv.title ? k->kv.title : "", "kv");
		k->name = claim_unique(used, label, MANIFEST_NAME_MAX);
		free(label);
	}
	for (size_t i = 0; x->o->with_entries && i < *nout; i++) {
		struct xkv *k = &(*out)[i];

		rc = api_kv_keys(x->a, &k->kv, x->e);
		if (rc != ERR_OK)
			goto out;
		k->entries = xcalloc(k->kv.nkeys + 1, sizeof(*k->entries));
		k->nentries = k->kv.nkeys;
		for (size_t j = 0; j < k->kv.nkeys; j++) {
			struct xentry *en = &k->entries[j];
			struct value_read *r;

			en->k = &k->kv.keys[j];
			if ((en->skip = key_problem(en->k->name)) != NULL)
				continue;
			en->file_name = data_name(&files, k->name, en->k->name);
			r = xcalloc(1, sizeof(*r));
			r->x = x;
			r->en = en;
			r->ns_title = k->kv.title;
			api_submit(x->a, api_op_kv_value_get(k->kv.id, en->k->name), on_value, r);
		}
		api_wait(x->a);
		if ((rc = x->rc) != ERR_OK)
			goto out;
	}
out:
	for (size_t i = 0; i < n; i++)
		obs_kv_release(&v[i]);
	free(v);
	strset_release(&files);
	return rc;
}

/* The stores and the names of their secrets, page by page. */
static enum errcode
read_secrets(struct xctx *x, struct store_names **out, size_t *nout)
{
	struct api_call *c = api_op_store_list(EXPORT_SECRETS_PAGE);
	char **stores = NULL;
	size_t nstores = 0;
	enum errcode rc;

	*out = NULL;
	*nout = 0;
	if ((rc = api_call_sync(x->a, c)) != ERR_OK) {
		rc = err_set(x->e, rc, "listing Secrets Store stores: %s", c->err.msg);
		goto out;
	}
	nstores = api_list_names(c, &stores, NULL);
	*out = xcalloc(nstores + 1, sizeof(**out));
	for (size_t i = 0; i < nstores; i++) {
		struct store_names *s = &(*out)[(*nout)++];
		char *id = NULL, *other = NULL;
		size_t cap = 0;

		s->store = xstrdup(stores[i]);
		if (api_find_store(c, stores[i], &id, &other) != ERR_OK || id == NULL) {
			free(id);
			free(other);
			rc = err_set(x->e, ERR_PERMANENT, "Secrets Store '%s': no id in the store list",
			             stores[i]);
			goto out;
		}
		free(other);
		for (int page = 1; page <= EXPORT_MAX_SECRET_PAGES; page++) {
			struct api_call *p = api_op_store_secrets_page(id, page, EXPORT_SECRETS_PAGE);
			char **names = NULL;
			size_t got;

			if ((rc = api_call_sync(x->a, p)) != ERR_OK) {
				rc = err_set(x->e, rc, "listing secrets of store '%s': %s", stores[i],
				             p->err.msg);
				api_call_free(p);
				break;
			}
			got = api_list_names(p, &names, NULL);
			api_call_free(p);
			if (s->n + got > cap) {
				cap = (s->n + got) * 2;
				s->names = xrealloc(s->names, cap * sizeof(*s->names));
			}
			for (size_t k = 0; k < got; k++)
				s->names[s->n++] = names[k]; /* moved */
			free(names);
			if (got < EXPORT_SECRETS_PAGE)
				break;
		}
		free(id);
		if (rc != ERR_OK)
			goto out;
	}
out:
	for (size_t i = 0; i < nstores; i++)
		free(stores[i]);
	free(stores);
	api_call_free(c);
	return rc;
}

/* ---- rendering ---- */

static void
put_head(struct buf *b, const char *kind, const char *name)
{
	(void)buf_printf(b, "apiVersion: %s\nkind: %s\nmetadata:\n  name: %s\nspec:\n",
	                 MANIFEST_API_VERSION, kind, name);
}

/*
 * A lifecycle condition in days as the manifest wants it, written as
 * `<lead><field>: N` with any comment above it at `indent`. Cloudflare's
 * maxAge is seconds and api.c gives -seconds when it is not whole days, which
 * a manifest cannot say: rounded up, with a comment (the plan will show it).
 */
static void
put_days(struct buf *b, const char *indent, const char *lead, const char *field,
         const struct lc_cond *c)
{
	int64_t days = c->days;

	if (days < 0) {
		(void)buf_printf(b, "%s# Cloudflare has %lld seconds, not whole days: rounded up\n",
		                 indent, (long long)-days);
		days = (-days + SECS_PER_DAY - 1) / SECS_PER_DAY;
	}
	(void)buf_printf(b, "%s%s: %lld\n", lead, field, (long long)days);
}

/* 1 when a rule is exactly what `deleteAfterDays: N` makes. */
static int
is_shorthand(const struct lc_rule *r)
{
	return strcmp(r->id, SHORTHAND_LC_ID) == 0 && r->enabled && r->prefix[0] == '\0' &&
	       r->expire.set && !r->expire.is_date && r->expire.days > 0 &&
	       !r->abort_mpu.set && r->ntransitions == 0;
}

static void
put_rule(struct buf *b, const struct lc_rule *r, unsigned idx)
{
	char gen[32];
	const char *id = r->id;

	if (id[0] == '\0') {
		snprintf(gen, sizeof(gen), "rule-%u", idx + 1);
		id = gen;
		(void)buf_puts(b, "      # Cloudflare has this rule without an id: one was made up\n");
	}
	(void)buf_puts(b, "      - id: ");
	put_cstr(b, id);
	(void)buf_puts(b, "\n");
	if (!r->enabled)
		(void)buf_puts(b, "        enabled: false\n");
	if (r->prefix[0]) {
		(void)buf_puts(b, "        prefix: ");
		put_cstr(b, r->prefix);
		(void)buf_puts(b, "\n");
	}
	if (r->expire.set && r->expire.is_date)
		(void)buf_printf(b, "        expireOnDate: \"%s\"\n", r->expire.date_text);
	else if (r->expire.set)
		put_days(b, "        ", "        ", "expireAfterDays", &r->expire);
	if (r->abort_mpu.set && !r->abort_mpu.is_date)
		put_days(b, "        ", "        ", "abortMultipartUploadsAfterDays",
		         &r->abort_mpu);
	else if (r->abort_mpu.set)
		(void)buf_printf(b, "        # Cloudflare aborts multipart uploads on %s; a manifest "
		                 "can only say a number of days\n", r->abort_mpu.date_text);
	if (r->ntransitions)
		(void)buf_puts(b, "        transitions:\n");
	for (size_t t = 0; t < r->ntransitions; t++) {
		const struct lc_transition *tr = &r->transitions[t];

		if (tr->cond.is_date)
			(void)buf_printf(b, "          - onDate: \"%s\"\n", tr->cond.date_text);
		else
			put_days(b, "          ", "          - ", "afterDays", &tr->cond);
		(void)buf_puts(b, "            storageClass: ");
		put_cstr(b, tr->storage_class ? tr->storage_class : "InfrequentAccess");
		(void)buf_puts(b, "\n");
	}
}

static void
put_bucket(struct buf *b, const struct xbucket *xb)
{
	const struct obs_bucket *ob = xb->b;
	size_t nuser = 0;
	const struct lc_rule *shorthand = NULL;

	put_head(b, "R2Bucket", xb->name);
	(void)buf_puts(b, "  bucketName: ");
	put_cstr(b, ob->name);
	(void)buf_puts(b, "\n");
	if (strcmp(ob->jurisdiction, "default") != 0) {
		(void)buf_puts(b, "  jurisdiction: ");
		put_cstr(b, ob->jurisdiction);
		(void)buf_puts(b, "\n");
	}
	if (ob->location && ob->location[0]) {
		(void)buf_puts(b, "  # locationHint is not exported: Cloudflare reports where the "
		               "bucket is (");
		if (is_text(ob->location, strlen(ob->location)))
			(void)buf_printf(b, "%.16s", ob->location);
		(void)buf_puts(b, "),\n  # not the hint it was created with\n");
	}
	if (ob->storage_class && strcmp(ob->storage_class, "Standard") != 0) {
		(void)buf_puts(b, "  storageClass: ");
		put_cstr(b, ob->storage_class);
		(void)buf_puts(b, "\n");
	}
	for (size_t i = 0; i < ob->nrules; i++) {
		if (strcmp(ob->rules[i].id, DEFAULT_LC_ID) == 0)
			continue;
		if (shorthand == NULL && is_shorthand(&ob->rules[i]))
			shorthand = &ob->rules[i];
		else
			nuser++;
	}
	if (nuser || shorthand) {
		unsigned idx = 0;

		(void)buf_puts(b, "  lifecycle:\n");
		if (shorthand)
			(void)buf_printf(b, "    deleteAfterDays: %lld\n",
			                 (long long)shorthand->expire.days);
		if (nuser)
			(void)buf_puts(b, "    rules:\n");
		for (size_t i = 0; i < ob->nrules; i++, idx++) {
			if (strcmp(ob->rules[i].id, DEFAULT_LC_ID) == 0 || &ob->rules[i] == shorthand)
				continue;
			put_rule(b, &ob->rules[i], idx);
		}
	}
	/* a policy with no rules is left unmanaged: `cors: {rules: []}` would
	 * mean "delete the policy" */
	if (ob->has_cors && ob->ncors) {
		(void)buf_puts(b, "  cors:\n    rules:\n");
		for (size_t i = 0; i < ob->ncors; i++) {
			const struct cors_rule *r = &ob->cors[i];
			const char *lead = "      - ";

			if (r->id) {
				(void)buf_printf(b, "%sid: ", lead);
				put_cstr(b, r->id);
				(void)buf_puts(b, "\n");
				lead = "        ";
			}
			(void)buf_printf(b, "%sallowedOrigins: ", lead);
			put_list(b, r->origins, r->norigins);
			(void)buf_puts(b, "\n        allowedMethods: ");
			put_list(b, r->methods, r->nmethods);
			(void)buf_puts(b, "\n");
			if (r->nheaders) {
				(void)buf_puts(b, "        allowedHeaders: ");
				put_list(b, r->headers, r->nheaders);
				(void)buf_puts(b, "\n");
			}
			if (r->nexpose) {
				(void)buf_puts(b, "        exposeHeaders: ");
				put_list(b, r->expose, r->nexpose);
				(void)buf_puts(b, "\n");
			}
			if (r->max_age >= 0)
				(void)buf_printf(b, "        maxAgeSeconds: %lld\n", (long long)r->max_age);
		}
	}
	(void)buf_puts(b, "  adopt: true\n  deletionPolicy: Retain\n");
}

static void
put_entry(struct buf *b, const struct xentry *en)
{
	char *md = NULL;
	size_t mdlen = 0;

	if (en->k->meta_json)
		mdlen = metadata_yaml(en->k->meta_json, &md);
	(void)buf_puts(b, "    - key: ");
	put_cstr(b, en->k->name);
	(void)buf_puts(b, "\n");
	if (en->to_file) {
		char *rel = xasprintf("%s/%s", EXPORT_DATA_DIR, en->file_name);

		(void)buf_puts(b, "      valueFrom:\n        file: ");
		put_cstr(b, rel);
		(void)buf_puts(b, "\n");
		free(rel);
	} else {
		(void)buf_puts(b, "      value: ");
		put_str(b, en->value ? en->value : "", en->value_len);
		(void)buf_puts(b, "\n");
	}
	if (md && mdlen <= KV_METADATA_MAX - KV_METADATA_RESERVED) {
		(void)buf_printf(b, "      metadata: %s\n", md);
	} else if (md) {
		(void)buf_printf(b, "      # metadata not exported: %zu bytes as JSON, more than the "
		                 "%d a manifest may declare\n", mdlen,
		                 KV_METADATA_MAX - KV_METADATA_RESERVED);
	}
	if (en->k->expiration > 0)
		(void)buf_printf(b, "      expiration: %lld\n", (long long)en->k->expiration);
	free(md);
}

static void
put_kv(struct buf *b, const struct xkv *k, int with_entries)
{
	size_t nskip = 0, nlive = 0;

	put_head(b, "KVNamespace", k->name);
	(void)buf_puts(b, "  title: ");
	put_cstr(b, k->kv.title ? k->kv.title : "");
	(void)buf_puts(b, "\n");
	for (size_t i = 0; i < k->nentries; i++) {
		nskip += k->entries[i].skip != NULL;
		nlive += k->entries[i].skip == NULL && !k->entries[i].gone;
	}
	if (nskip) {
		(void)buf_printf(b, "  # %zu key%s cannot be declared in a manifest and %s left "
		                 "out:\n", nskip, nskip == 1 ? "" : "s", nskip == 1 ? "is" : "are");
		for (size_t i = 0; i < k->nentries; i++) {
			const struct xentry *en = &k->entries[i];

			if (!en->skip)
				continue;
			(void)buf_puts(b, "  #   ");
			if (is_text(en->k->name, strlen(en->k->name)))
				put_cstr(b, en->k->name);
			else
				(void)buf_puts(b, "(a key)");
			(void)buf_printf(b, " %s\n", en->skip);
		}
	}
	if (with_entries && nlive) {
		(void)buf_puts(b, "  entries:\n");
		for (size_t i = 0; i < k->nentries; i++)
			if (!k->entries[i].skip && !k->entries[i].gone)
				put_entry(b, &k->entries[i]);
	}
	(void)buf_puts(b, "  adopt: true\n  deletionPolicy: Retain\n");
}

static void
put_secrets(struct buf *b, const struct store_names *s, size_t n)
{
	size_t total = 0;

	for (size_t i = 0; i < n; i++)
		total += s[i].n;
	(void)buf_printf(b, "# Secrets Store: %zu secret%s. Values cannot be read back, so no "
	                 "manifest is\n# written for them; a Secret manifest generates and "
	                 "rotates its own values.\n", total, total == 1 ? "" : "s");
	for (size_t i = 0; i < n; i++) {
		(void)buf_puts(b, "# store ");
		put_cstr(b, s[i].store);
		(void)buf_puts(b, ":\n");
		for (size_t j = 0; j < s[i].n; j++) {
			(void)buf_puts(b, "#   ");
			put_cstr(b, s[i].names[j]);
			(void)buf_puts(b, "\n");
		}
	}
}

static void
put_file_header(struct buf *b, const char *what, const char *account)
{
	(void)buf_printf(b, "# %s exported by cfstorage export from account %s.\n"
	                 "# Every resource is adopted as it is (spec.adopt: true) and kept in "
	                 "the account\n# if it leaves the manifests (deletionPolicy: Retain). "
	                 "Review before applying.\n", what, account);
}

static enum errcode
write_out(const struct export_opts *o, const char *file, const struct buf *b, size_t count,
          const char *kind, struct err *e)
{
	char *path = xasprintf("%s/%s", o->out_dir, file);
	enum errcode rc = write_file(path, b->data, b->len, e);

	if (rc == ERR_OK && o->out)
		fprintf(o->out, "wrote %s: %zu %s\n", path, count, kind);
	free(path);
	return rc;
}

static int
bucket_cmp(const void *a, const void *b)
{
	const struct obs_bucket *x = a, *y = b;
	size_t ix = 0, iy = 0;

	for (size_t j = 0; j < sizeof(jurisdictions) / sizeof(*jurisdictions); j++) {
		if (strcmp(x->jurisdiction, jurisdictions[j]) == 0)
			ix = j;
		if (strcmp(y->jurisdiction, jurisdictions[j]) == 0)
			iy = j;
	}
	if (ix != iy)
		return ix < iy ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* What export read from the account, names given: the input of the rendering. */
struct xread {
	struct obs_bucket *buckets;
	struct xbucket *xb;          /* one per bucket, in the same (sorted) order */
	size_t nbuckets;
	struct xkv *kvs;
	size_t nkvs;
	struct store_names *stores;
	size_t nstores;
	struct obs_d1 *d1s;          /* sorted by name, read_replication read */
	char **d1names;              /* metadata.name of each */
	size_t nd1s;
	struct strset used;          /* metadata.name values taken */
};

static void
xread_release(struct xread *r)
{
	for (size_t i = 0; i < r->nbuckets; i++) {
		obs_bucket_release(&r->buckets[i]);
		if (r->xb)
			free(r->xb[i].name);
	}
	free(r->buckets);
	free(r->xb);
	for (size_t i = 0; i < r->nkvs; i++) {
		for (size_t j = 0; j < r->kvs[i].nentries; j++) {
			free(r->kvs[i].entries[j].file_name);
			free(r->kvs[i].entries[j].value);
		}
		free(r->kvs[i].entries);
		free(r->kvs[i].name);
		obs_kv_release(&r->kvs[i].kv);
	}
	free(r->kvs);
	for (size_t i = 0; i < r->nstores; i++) {
		for (size_t j = 0; j < r->stores[i].n; j++)
			free(r->stores[i].names[j]);
		free(r->stores[i].names);
		free(r->stores[i].store);
	}
	free(r->stores);
	for (size_t i = 0; i < r->nd1s; i++) {
		obs_d1_release(&r->d1s[i]);
		free(r->d1names ? r->d1names[i] : NULL);
	}
	free(r->d1s);
	free(r->d1names);
	strset_release(&r->used);
	memset(r, 0, sizeof(*r));
}

/* Options that do not go together: ERR_INVALID with the reason. */
static enum errcode
check_opts(const struct export_opts *o, struct err *e)
{
	if (o->kind < 0 || o->kind > KIND_LAST)
		return err_set(e, ERR_INVALID, "unknown kind %d", o->kind);
	if (o->with_entries && o->out_dir == NULL)
		return err_set(e, ERR_INVALID, "exporting entries needs an output directory: values "
		               "that are not short text are written to files beside the YAML");
	if (o->out_dir == NULL && o->out == NULL)
		return err_set(e, ERR_INVALID, "no output directory and no output stream");
	return ERR_OK;
}

static int
d1_cmp(const void *a, const void *b)
{
	return strcmp(((const struct obs_d1 *)a)->name, ((const struct obs_d1 *)b)->name);
}

/* Every D1 database (the list), and each one's read replication (a GET: the
 * list does not show it), given a unique metadata.name. */
static enum errcode
read_d1(struct xctx *x, struct xread *r)
{
	enum errcode rc = api_d1_list(x->a, &r->d1s, &r->nd1s, x->e);

	if (rc != ERR_OK)
		return rc;
	if (r->nd1s > 1)
		qsort(r->d1s, r->nd1s, sizeof(*r->d1s), d1_cmp);
	r->d1names = xcalloc(r->nd1s + 1, sizeof(*r->d1names));
	for (size_t i = 0; i < r->nd1s && rc == ERR_OK; i++) {
		struct api_call *c = api_op_d1_get(r->d1s[i].uuid);
		char *label = dns_label(r->d1s[i].name, "database");
		struct obs_d1 got;

		r->d1names[i] = claim_unique(&r->used, label, MANIFEST_NAME_MAX);
		free(label);
		if (api_call_sync(x->a, c) != ERR_OK)
			rc = err_set(x->e, c->rc, "reading D1 database '%s': %s", r->d1s[i].name,
			             c->err.msg);
		else if (api_parse_d1(c, &got) == 0) {
			free(r->d1s[i].read_replication);
			r->d1s[i].read_replication = got.read_replication;
			got.read_replication = NULL; /* hand-over */
			obs_d1_release(&got);
		}
		api_call_free(c);
	}
	return rc;
}

/* One D1Database document: no migrations (the account does not say where a
 * schema came from) and no locationHint (not shown by the API). */
static void
put_d1(struct buf *b, const struct obs_d1 *d, const char *name)
{
	put_head(b, "D1Database", name);
	if (strcmp(d->name, name) != 0) {
		(void)buf_puts(b, "  databaseName: ");
		put_cstr(b, d->name);
		(void)buf_puts(b, "\n");
	}
	if (d->jurisdiction && (strcmp(d->jurisdiction, "eu") == 0 ||
	                        strcmp(d->jurisdiction, "fedramp") == 0))
		(void)buf_printf(b, "  jurisdiction: %s\n", d->jurisdiction);
	if (d->read_replication)
		(void)buf_printf(b, "  readReplication: %s\n", d->read_replication);
	(void)buf_puts(b, "  # migrations: {dir: migrations} applies a folder of NNNN_name.sql "
	               "files; rows\n  # already in its migrations table count as applied\n");
	(void)buf_puts(b, "  adopt: true\n  deletionPolicy: Retain\n");
}

/*
 * Reads the kinds o asks for into r: buckets (sorted by jurisdiction, then
 * name, each given a unique metadata.name), namespaces (sorted by title, with
 * entries when asked) and Secrets Store names. Stops at the first failure.
 */
static enum errcode
read_account(struct xctx *x, struct xread *r)
{
	const struct export_opts *o = x->o;
	enum errcode rc;

	if (o->kind == 0 || o->kind == KIND_R2BUCKET) {
		if ((rc = read_buckets(x, &r->buckets, &r->nbuckets)) != ERR_OK)
			return rc;
		if (r->nbuckets > 1)
			qsort(r->buckets, r->nbuckets, sizeof(*r->buckets), bucket_cmp);
		r->xb = xcalloc(r->nbuckets + 1, sizeof(*r->xb));
		for (size_t i = 0; i < r->nbuckets; i++) {
			char *label = dns_label(r->buckets[i].name, "bucket");

			r->xb[i].b = &r->buckets[i];
			r->xb[i].name = claim_unique(&r->used, label, MANIFEST_NAME_MAX);
			free(label);
		}
	}
	if ((o->kind == 0 || o->kind == KIND_KVNAMESPACE) &&
	    (rc = read_kvs(x, &r->used, &r->kvs, &r->nkvs)) != ERR_OK)
		return rc;
	if ((o->kind == 0 || o->kind == KIND_SECRET) &&
	    (rc = read_secrets(x, &r->stores, &r->nstores)) != ERR_OK)
		return rc;
	if ((o->kind == 0 || o->kind == KIND_D1DATABASE) && (rc = read_d1(x, r)) != ERR_OK)
		return rc;
	log_debug("export read", "buckets=%zu namespaces=%zu stores=%zu databases=%zu",
	          r->nbuckets, r->nkvs, r->nstores, r->nd1s);
	return ERR_OK;
}

/* Without an output directory: one stream, the buckets' and namespaces'
 * documents separated by `---`, the secret names as closing comments. */
static enum errcode
write_stream(const struct export_opts *o, const char *account, const struct buf *bb,
             const struct buf *bk, const struct buf *bs, struct err *e)
{
	enum errcode rc = ERR_OK;
	struct buf all;
	int docs = 0;

	buf_init(&all, RENDER_MAX);
	put_file_header(&all, "Manifests", account);
	if (bb->len) {
		(void)buf_append(&all, bb->data, bb->len);
		docs = 1;
	}
	if (bk->len) {
		if (docs)
			(void)buf_puts(&all, "---\n");
		(void)buf_append(&all, bk->data, bk->len);
	}
	/* comments only: after the last document, not a document of their own */
	if (bs->len)
		(void)buf_append(&all, bs->data, bs->len);
	if (fwrite(all.data, 1, all.len, o->out) != all.len || fflush(o->out) != 0)
		rc = err_set(e, ERR_IO, "cannot write the manifests: %s", strerror(errno));
	buf_release(&all);
	return rc;
}

/* One file (header, an optional note, then the rendered documents) in o->out_dir. */
static enum errcode
write_kind(const struct export_opts *o, const char *file, const char *what,
           const char *account, const char *note, const struct buf *docs, size_t count,
           const char *kind, struct err *e)
{
	struct buf f;
	enum errcode rc;

	buf_init(&f, RENDER_MAX);
	put_file_header(&f, what, account);
	if (note)
		(void)buf_puts(&f, note);
	(void)buf_append(&f, docs->data, docs->len);
	rc = write_out(o, file, &f, count, kind, e);
	buf_release(&f);
	return rc;
}

/* With an output directory: one file per kind asked for. */
static enum errcode
write_files(const struct export_opts *o, const char *account, const struct xread *r,
            const struct buf *bb, const struct buf *bk, const struct buf *bs, struct err *e)
{
	enum errcode rc = ERR_OK;

	if (o->kind == 0 || o->kind == KIND_R2BUCKET) {
		rc = write_kind(o, EXPORT_FILE_BUCKETS, "R2 buckets", account,
		                r->nbuckets ? NULL : "# The account has no R2 buckets.\n", bb,
		                r->nbuckets, "R2Bucket", e);
		if (rc != ERR_OK)
			return rc;
	}
	if (o->kind == 0 || o->kind == KIND_KVNAMESPACE) {
		char *note = xasprintf("%s%s", o->with_entries ? "# Values that are not short text "
		                       "are in " EXPORT_DATA_DIR "/, beside this file.\n" : "",
		                       r->nkvs ? "" : "# The account has no KV namespaces.\n");

		rc = write_kind(o, EXPORT_FILE_KV, "KV namespaces", account, note, bk, r->nkvs,
		                "KVNamespace", e);
		free(note);
		if (rc != ERR_OK)
			return rc;
	}
	if (o->kind == 0 || o->kind == KIND_SECRET) {
		size_t total = 0;

		for (size_t i = 0; i < r->nstores; i++)
			total += r->stores[i].n;
		rc = write_kind(o, EXPORT_FILE_SECRETS, "Secret names", account, NULL, bs, total,
		                "secret names (comments)", e);
	}
	return rc;
}

/*
 * Without force, refuses (before any request) to replace a file the export
 * would write, or the data folder: the user may have edited them since the
 * last export.
 */
static enum errcode
check_targets(const struct export_opts *o, struct err *e)
{
	const char *files[] = { EXPORT_FILE_BUCKETS, EXPORT_FILE_KV, EXPORT_FILE_SECRETS,
	                        EXPORT_DATA_DIR, EXPORT_FILE_D1 };
	const int kinds[] = { KIND_R2BUCKET, KIND_KVNAMESPACE, KIND_SECRET, KIND_KVNAMESPACE,
	                      KIND_D1DATABASE };
	enum errcode rc = ERR_OK;

	for (size_t i = 0; i < 5 && !o->force && rc == ERR_OK; i++) {
		char *path;
		struct stat st;

		if ((o->kind && o->kind != kinds[i]) || (i == 3 && !o->with_entries))
			continue;
		path = xasprintf("%s/%s", o->out_dir, files[i]);
		if (lstat(path, &st) == 0)
			rc = err_set(e, ERR_CONFLICT, "'%s' exists and may hold your edits; export "
			             "--force replaces it", path);
		free(path);
	}
	return rc;
}

/*
 * Checks the options, reads everything asked for, renders each kind into its
 * own buffer and only then writes: to the stream, or one file per kind.
 */
enum errcode
export_run(struct api *a, const struct export_opts *o, struct err *e)
{
	struct xctx x = { .a = a, .o = o, .e = e };
	struct xread r = { 0 };
	struct buf bb, bk, bs, bd;
	enum errcode rc;

	buf_init(&bd, RENDER_MAX);
	buf_init(&bb, RENDER_MAX);
	buf_init(&bk, RENDER_MAX);
	buf_init(&bs, RENDER_MAX);
	if ((rc = check_opts(o, e)) != ERR_OK)
		goto out;
	if (o->out_dir) {
		if ((rc = make_dir(o->out_dir, e)) != ERR_OK || (rc = check_targets(o, e)) != ERR_OK)
			goto out;
		x.data_dir = xasprintf("%s/%s", o->out_dir, EXPORT_DATA_DIR);
	}
	if ((rc = read_account(&x, &r)) != ERR_OK)
		goto out;
	for (size_t i = 0; i < r.nbuckets; i++) {
		if (i)
			(void)buf_puts(&bb, "---\n");
		put_bucket(&bb, &r.xb[i]);
	}
	for (size_t i = 0; i < r.nkvs; i++) {
		if (i)
			(void)buf_puts(&bk, "---\n");
		put_kv(&bk, &r.kvs[i], o->with_entries);
	}
	for (size_t i = 0; i < r.nd1s; i++) {
		if (i)
			(void)buf_puts(&bd, "---\n");
		put_d1(&bd, &r.d1s[i], r.d1names[i]);
	}
	if (o->kind == 0 || o->kind == KIND_SECRET)
		put_secrets(&bs, r.stores, r.nstores);
	if (o->out_dir == NULL) {
		if (bd.len && bk.len)
			(void)buf_puts(&bk, "---\n");
		(void)buf_append(&bk, bd.data, bd.len); /* after the namespaces */
		rc = write_stream(o, api_account(a), &bb, &bk, &bs, e);
	} else {
		rc = write_files(o, api_account(a), &r, &bb, &bk, &bs, e);
		if (rc == ERR_OK && (o->kind == 0 || o->kind == KIND_D1DATABASE))
			rc = write_kind(o, EXPORT_FILE_D1, "D1 databases", api_account(a),
			                r.nd1s ? NULL : "# The account has no D1 databases.\n", &bd,
			                r.nd1s, "D1Database", e);
	}
out:
	xread_release(&r);
	free(x.data_dir);
	buf_release(&bb);
	buf_release(&bk);
	buf_release(&bs);
	buf_release(&bd);
	return rc;
}
