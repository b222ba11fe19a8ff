/*
 * The resource set: freeing, and the checks that span documents and files
 * (the same resource twice, two resources that would manage one Cloudflare
 * object).
 */
#include <stdlib.h>
#include <openssl/evp.h>
#include <string.h>

#include "../mem/mem.h"
#include "internal.h"

const char *
kind_name(enum kind k)
{
	switch (k) {
	case KIND_R2BUCKET: return "R2Bucket";
	case KIND_KVNAMESPACE: return "KVNamespace";
	case KIND_SECRET: return "Secret";
	case KIND_D1DATABASE: return "D1Database";
	}
	return "?";
}

enum kind
kind_parse(const char *name)
{
	for (int k = KIND_R2BUCKET; k <= KIND_LAST; k++)
		if (strcmp(kind_name((enum kind)k), name) == 0)
			return (enum kind)k;
	return 0;
}

const struct resource *
manifest_find(const struct manifest_set *set, enum kind k, const char *name)
{
	for (size_t i = 0; i < set->n; i++)
		if (set->items[i].kind == k && strcmp(set->items[i].name, name) == 0)
			return &set->items[i];
	return NULL;
}

void
manifest_set_init(struct manifest_set *set)
{
	memset(set, 0, sizeof(*set));
}

static void
free_strs(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
manifest_resource_release(struct resource *r)
{
	free(r->name);
	for (size_t i = 0; i < r->nlabels; i++) {
		free(r->labels[i].key);
		free(r->labels[i].value);
	}
	free(r->labels);
	switch (r->kind) {
	case KIND_R2BUCKET: {
		struct r2_bucket_spec *b = &r->u.bucket;

		free(b->bucket_name);
		free(b->jurisdiction);
		free(b->location_hint);
		free(b->storage_class);
		for (size_t i = 0; i < b->nrules; i++) {
			free(b->rules[i].id);
			free(b->rules[i].prefix);
			for (size_t j = 0; j < b->rules[i].ntransitions; j++)
				free(b->rules[i].transitions[j].storage_class);
			free(b->rules[i].transitions);
		}
		free(b->rules);
		for (size_t i = 0; i < b->ncors; i++) {
			struct cors_rule *c = &b->cors[i];

			free(c->id);
			free_strs(c->origins, c->norigins);
			free_strs(c->methods, c->nmethods);
			free_strs(c->headers, c->nheaders);
			free_strs(c->expose, c->nexpose);
		}
		free(b->cors);
		break;
	}
	case KIND_KVNAMESPACE: {
		struct kv_namespace_spec *kv = &r->u.kv;

		free(kv->title);
		free(kv->prune_prefix);
		for (size_t i = 0; i < kv->nentries; i++) {
			free(kv->entries[i].key);
			free(kv->entries[i].value);
			free(kv->entries[i].value_file);
			free(kv->entries[i].value_root);
			free(kv->entries[i].metadata_json);
		}
		free(kv->entries);
		break;
	}
	case KIND_SECRET: {
		struct secret_spec *s = &r->u.secret;

		for (size_t i = 0; i < s->ntargets; i++) {
			free(s->targets[i].store);
			free(s->targets[i].script);
			free(s->targets[i].name);
			free_strs(s->targets[i].scopes, s->targets[i].nscopes);
		}
		free(s->targets);
		break;
	}
	case KIND_D1DATABASE: {
		struct d1_database_spec *s = &r->u.d1;

		free(s->database_name);
		free(s->location_hint);
		free(s->jurisdiction);
		free(s->read_replication);
		free(s->migrations_dir);
		free(s->migrations_real);
		free(s->migrations_table);
		for (size_t i = 0; i < s->nmigrations; i++) {
			free(s->migrations[i].name);
			free(s->migrations[i].path);
			free(s->migrations[i].root);
		}
		free(s->migrations);
		break;
	}
	}
	memset(r, 0, sizeof(*r));
}

void
manifest_set_free(struct manifest_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		manifest_resource_release(&set->items[i]);
	free(set->items);
	for (size_t i = 0; i < set->nfiles; i++)
		free(set->files[i]);
	free(set->files);
	free_strs(set->path_roots, set->npath_roots);
	memset(set, 0, sizeof(*set));
}

size_t
manifest_count(const struct manifest_set *set, enum kind k)
{
	size_t n = 0;

	for (size_t i = 0; i < set->n; i++)
		n += set->items[i].kind == k;
	return n;
}

/* One identity claimed by a resource, for the duplicate checks. */
struct claim {
	char *key;
	const struct resource *r;
	struct src_pos pos;
	char *desc;
	size_t order;
};

static int
claim_cmp(const void *a, const void *b)
{
	const struct claim *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	if (c)
		return c;
	return x->order < y->order ? -1 : (x->order > y->order);
}

static void
add_claim(struct claim **v, size_t *n, size_t *cap, char *key, const struct resource *r,
          struct src_pos pos, char *desc)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 32;
		*v = xrealloc(*v, *cap * sizeof(**v));
	}
	(*v)[*n].key = key;
	(*v)[*n].r = r;
	(*v)[*n].pos = pos;
	(*v)[*n].desc = desc;
	(*v)[*n].order = *n;
	(*n)++;
}

/*
 * Reports, at the later of two places, the same kind+name twice, two
 * R2Buckets on one bucketName+jurisdiction (Cloudflare's identity of a
 * bucket), two KVNamespaces with one title (Cloudflare refuses duplicate
 * titles, code 10014) and two Secret targets writing one secret name.
 */
void
manifest_check_set(const struct manifest_set *set, struct diags *d)
{
	struct claim *v = NULL;
	size_t n = 0, cap = 0;

	for (size_t i = 0; i < set->n; i++) {
		const struct resource *r = &set->items[i];

		if (r->name)
			add_claim(&v, &n, &cap, xasprintf("k:%s/%s", kind_name(r->kind), r->name), r,
			          r->name_pos, NULL);
		switch (r->kind) {
		case KIND_R2BUCKET:
			if (r->u.bucket.bucket_name)
				add_claim(&v, &n, &cap, xasprintf("b:%s/%s", r->u.bucket.jurisdiction,
				          r->u.bucket.bucket_name), r, r->name_pos.line ? r->name_pos : r->pos,
				          NULL);
			break;
		case KIND_KVNAMESPACE:
			if (r->u.kv.title)
				add_claim(&v, &n, &cap, xasprintf("t:%s", r->u.kv.title), r,
				          r->name_pos.line ? r->name_pos : r->pos, NULL);
			break;
		case KIND_D1DATABASE:
			if (r->u.d1.database_name)
				add_claim(&v, &n, &cap, xasprintf("d:%s", r->u.d1.database_name), r,
				          r->name_pos.line ? r->name_pos : r->pos, NULL);
			break;
		case KIND_SECRET:
			for (size_t j = 0; j < r->u.secret.ntargets; j++) {
				const struct secret_target *t = &r->u.secret.targets[j];

				if (!t->name || (!t->store && !t->script))
					continue;
				if (t->kind == TARGET_SECRETS_STORE)
					add_claim(&v, &n, &cap, xasprintf("s:store %s/%s", t->store, t->name),
					          r, t->pos, xasprintf("secret '%s' in Secrets Store "
					          "'%s'", t->name, t->store));
				else
					add_claim(&v, &n, &cap, xasprintf("s:script %s/%s", t->script, t->name),
					          r, t->pos, xasprintf("secret '%s' of Worker script "
					          "'%s'", t->name, t->script));
			}
			break;
		}
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), claim_cmp);
	for (size_t i = 1; i < n; i++) {
		const struct claim *a = &v[i - 1], *b = &v[i];
		const char *first = a->pos.file ? a->pos.file : "-";

		if (strcmp(a->key, b->key) != 0)
			continue;
		/* one mistake, one message: a duplicated resource also repeats its bucket */
		if (b->key[0] != 'k' && a->r != b->r && a->r->kind == b->r->kind && a->r->name &&
		    b->r->name && strcmp(a->r->name, b->r->name) == 0)
			continue;
		switch (b->key[0]) {
		case 'k':
			diags_add(d, b->pos, "duplicate %s '%s' (first defined at %s:%u:%u)",
			          kind_name(b->r->kind), b->r->name, first, a->pos.line, a->pos.col);
			break;
		case 'b':
			diags_add(d, b->pos, "R2Bucket '%s' manages bucket '%s' (jurisdiction %s), "
			          "as does R2Bucket '%s' at %s:%u:%u", b->r->name,
			          b->r->u.bucket.bucket_name, b->r->u.bucket.jurisdiction, a->r->name,
			          first, a->pos.line, a->pos.col);
			break;
		case 'd':
			diags_add(d, b->pos, "D1Database '%s' manages database '%s', as does "
			          "D1Database '%s' at %s:%u:%u", b->r->name, b->r->u.d1.database_name,
			          a->r->name, first, a->pos.line, a->pos.col);
			break;
		case 't':
			diags_add(d, b->pos, "KVNamespace '%s' has title '%s', as does "
			          "KVNamespace '%s' at %s:%u:%u", b->r->name, b->r->u.kv.title,
			          a->r->name, first, a->pos.line, a->pos.col);
			break;
		default:
			if (a->r == b->r)
				diags_add(d, b->pos, "target %s is listed twice (first at line %u)",
				          b->desc, a->pos.line);
			else
				diags_add(d, b->pos, "Secret '%s' writes %s, as does Secret '%s' at "
				          "%s:%u:%u", b->r->name, b->desc, a->r->name, first,
				          a->pos.line, a->pos.col);
			break;
		}
	}
	for (size_t i = 0; i < n; i++) {
		free(v[i].key);
		free(v[i].desc);
	}
	free(v);
}

/*
 * What the manifests say, as one digest: every file's bytes (load order)
 * and the content hash of every KV value they declare (a valueFrom.file can
 * change under an unchanged YAML).
 */
void
manifest_set_fingerprint(const struct manifest_set *set, unsigned char out[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 0;

	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	EVP_DigestUpdate(ctx, set->digest, sizeof(set->digest));
	for (size_t i = 0; i < set->n; i++)
		for (size_t k = 0; set->items[i].kind == KIND_KVNAMESPACE &&
		                   k < set->items[i].u.kv.nentries; k++)
			EVP_DigestUpdate(ctx, set->items[i].u.kv.entries[k].hash, 16);
	for (size_t i = 0; i < set->n; i++)
		for (size_t k = 0; set->items[i].kind == KIND_D1DATABASE &&
		                   k < set->items[i].u.d1.nmigrations; k++) {
			const struct d1_migration *m = &set->items[i].u.d1.migrations[k];

			EVP_DigestUpdate(ctx, m->name, strlen(m->name) + 1);
			EVP_DigestUpdate(ctx, m->hash, 16);
		}
	EVP_DigestFinal_ex(ctx, out, &n);
	EVP_MD_CTX_free(ctx);
}
