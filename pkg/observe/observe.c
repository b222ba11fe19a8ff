#include "observe.h"

#include <stdlib.h>
#include <string.h>

#include "../mem/mem.h"

static const char *const juris[] = { "default", "eu", "fedramp" };

const char *const obs_part_names[OBS_NPARTS] = { "lifecycle", "cors", "kv_keys", "replication",
                                                   "migrations" };

/* Does the selection read this part now? */
static int
selected(const struct observe_sel *sel, enum kind k, const char *name, enum obs_part part)
{
	return sel == NULL || sel->want(k, name, part, sel->user);
}

/* A bucket by (name, jurisdiction): a declared resource or an inventory entry. */
struct bref {
	const char *name, *juris;
	const void *p;
	size_t idx;              /* position in its array: the first one wins */
};

static int
bref_cmp(const void *x, const void *y)
{
	const struct bref *a = x, *b = y;
	int c = strcmp(a->name, b->name);

	if (c == 0)
		c = strcmp(a->juris, b->juris);
	return c ? c : (a->idx > b->idx) - (a->idx < b->idx);
}

static int
bref_key_cmp(const void *x, const void *y)
{
	const struct bref *a = x, *b = y;
	int c = strcmp(a->name, b->name);

	return c ? c : strcmp(a->juris, b->juris);
}

static const void *
bref_find(const struct bref *v, size_t n, const char *name, const char *jur)
{
	struct bref k = { name, jur, NULL, 0 };
	const struct bref *f = n ? bsearch(&k, v, n, sizeof(*v), bref_key_cmp) : NULL;

	while (f && f > v && bref_key_cmp(f - 1, &k) == 0)
		f--; /* the first declared (recorded) of equal ones */
	return f ? f->p : NULL;
}

static int
juris_index(const char *j)
{
	for (int i = 0; i < 3; i++)
		if (j && strcmp(juris[i], j) == 0)
			return i;
	return 0;
}

const struct obs_bucket *
snapshot_bucket(const struct snapshot *s, const char *jurisdiction, const char *name)
{
	for (size_t i = 0; i < s->nbuckets; i++)
		if (strcmp(s->buckets[i].name, name) == 0 &&
		    strcmp(s->buckets[i].jurisdiction, jurisdiction) == 0)
			return &s->buckets[i];
	return NULL;
}

const struct obs_kv *
snapshot_kv_id(const struct snapshot *s, const char *id)
{
	for (size_t i = 0; i < s->nkvs; i++)
		if (strcmp(s->kvs[i].id, id) == 0)
			return &s->kvs[i];
	return NULL;
}

const struct obs_kv *
snapshot_kv_title(const struct snapshot *s, const char *title)
{
	for (size_t i = 0; i < s->nkvs; i++)
		if (strcmp(s->kvs[i].title, title) == 0)
			return &s->kvs[i];
	return NULL;
}

const struct obs_starget *
snapshot_starget(const struct snapshot *s, int worker, const char *where)
{
	for (size_t i = 0; i < s->nstargets; i++)
		if (s->stargets[i].worker == worker && strcmp(s->stargets[i].where, where) == 0)
			return &s->stargets[i];
	return NULL;
}

void
snapshot_release(struct snapshot *s)
{
	for (size_t i = 0; i < s->nstargets; i++) {
		free(s->stargets[i].where);
		free(s->stargets[i].store_id);
		free(s->stargets[i].other_store);
		obs_secrets_free(s->stargets[i].v, s->stargets[i].n);
	}
	free(s->stargets);
	for (size_t i = 0; i < s->nbuckets; i++)
		obs_bucket_release(&s->buckets[i]);
	free(s->buckets);
	for (size_t i = 0; i < s->nkvs; i++)
		obs_kv_release(&s->kvs[i]);
	free(s->kvs);
	snapshot_d1_release(s);
	memset(s, 0, sizeof(*s));
}

/* The account's namespace for KVNamespace r: by the id the inventory
 * recorded, else by title (adoption, or a create left pending). */
static struct obs_kv *
namespace_of(const struct resource *r, const struct state *st, struct snapshot *snap)
{
	for (size_t s = 0; s < st->n; s++)
		if (st->v[s]->kind == KIND_KVNAMESPACE && strcmp(st->v[s]->name, r->name) == 0 &&
		    st->v[s]->kv_id)
			return (struct obs_kv *)snapshot_kv_id(snap, st->v[s]->kv_id);
	return (struct obs_kv *)snapshot_kv_title(snap, r->u.kv.title);
}

struct objects_read {
	struct obs_bucket *b;
	enum errcode *rc;
	struct err *e;
};

/* One page of a bucket's objects: how many (OBSERVE_OBJECT_PAGE meaning "at
 * least that many"), or -1 when the answer is not a list. */
static void
on_objects(struct api_call *c, void *user)
{
	struct objects_read *r = user;
	struct obs_bucket *b = r->b;

	if (c->rc != ERR_OK) {
		if (*r->rc == ERR_OK)
			*r->rc = err_set(r->e, c->rc, "reading %s of bucket '%s': %s", "objects",
			                 b->name, c->err.msg);
	} else {
		int more;
		long n = api_parse_object_count(c, &more);

		b->objects = n < 0 ? -1 : (more && n < OBSERVE_OBJECT_PAGE ? OBSERVE_OBJECT_PAGE : n);
	}
	free(r);
}

/* Queues the object count of b (a bucket that may be pruned: is it empty?). */
static void
queue_objects(struct api *a, struct obs_bucket *b, enum errcode *rc, struct err *e)
{
	struct objects_read *r = xcalloc(1, sizeof(*r));

	r->b = b;
	r->rc = rc;
	r->e = e;
	api_submit(a, api_op_bucket_objects(b->name, b->jurisdiction, OBSERVE_OBJECT_PAGE),
	           on_objects, r);
}

/* Lists one store or script (t) into the snapshot. A script that does not
 * exist, or a store the account lacks, is recorded as missing, not an error:
 * the plan refuses what targets a missing script and creates a store. */
static enum errcode
list_target(struct api *a, struct obs_starget *t, struct err *e)
{
	enum errcode rc;

	if (t->worker) {
		rc = api_worker_secrets(a, t->where, &t->v, &t->n, e);
		if (rc == ERR_NOTFOUND) {
			t->missing = 1;
			err_clear(e);
			rc = ERR_OK;
		}
		return rc;
	}
	if ((rc = api_store_lookup(a, t->where, &t->store_id, &t->other_store, e)) != ERR_OK)
		return rc;
	if (t->store_id == NULL) {
		t->missing = 1;
		return ERR_OK;
	}
	return api_store_secrets(a, t->store_id, &t->v, &t->n, e);
}

/* Every distinct store and script the manifests' Secrets target, listed. */
static enum errcode
observe_secrets(struct api *a, const struct manifest_set *want, struct snapshot *snap,
                struct err *e)
{
	enum errcode rc = ERR_OK;

	for (size_t i = 0; i < want->n && rc == ERR_OK; i++) {
		const struct secret_spec *s = &want->items[i].u.secret;

		if (want->items[i].kind != KIND_SECRET)
			continue;
		for (size_t k = 0; k < s->ntargets && rc == ERR_OK; k++) {
			const struct secret_target *t = &s->targets[k];
			int worker = t->kind == TARGET_WORKER;
			const char *where = worker ? t->script : t->store;
			struct obs_starget *o;

			if (snapshot_starget(snap, worker, where))
				continue;
			snap->stargets = xrealloc(snap->stargets,
			                          (snap->nstargets + 1) * sizeof(*snap->stargets));
			o = &snap->stargets[snap->nstargets++];
			memset(o, 0, sizeof(*o));
			o->worker = worker;
			o->where = xstrdup(where);
			rc = list_target(a, o, e);
		}
	}
	return rc;
}

/*
 * Reads what the plan needs and nothing more (issue 5: "lifecycle and CORS
 * read only for buckets that declare them or that we own").
 */
enum errcode
observe_run(struct api *a, const struct manifest_set *want, const struct state *st,
            int prune, const struct observe_sel *sel, struct snapshot *snap, struct err *e)
{
	int need_j[3] = { 0, 0, 0 }, need_kv = 0;
	enum errcode rc = ERR_OK;
	struct bref *wb = NULL, *sb = NULL;
	size_t nwb = 0, nsb = 0;

	memset(snap, 0, sizeof(*snap));
	for (size_t i = 0; i < want->n; i++) {
		if (want->items[i].kind == KIND_R2BUCKET)
			need_j[juris_index(want->items[i].u.bucket.jurisdiction)] = 1;
		else if (want->items[i].kind == KIND_KVNAMESPACE)
			need_kv = 1;
	}
	for (size_t i = 0; i < st->n; i++) {
		if (st->v[i]->kind == KIND_R2BUCKET)
			need_j[juris_index(st->v[i]->jurisdiction)] = 1;
		else if (st->v[i]->kind == KIND_KVNAMESPACE)
			need_kv = 1;
	}
	for (int j = 0; j < 3 && rc == ERR_OK; j++) {
		if (!need_j[j])
			continue;
		rc = api_bucket_list(a, juris[j], &snap->buckets, &snap->nbuckets, e);
		snap->listed_juris[j] = rc == ERR_OK;
	}
	if (rc == ERR_OK && need_kv) {
		rc = api_kv_list(a, &snap->kvs, &snap->nkvs, e);
		snap->listed_kv = rc == ERR_OK;
	}
	if (rc == ERR_OK)
		rc = observe_secrets(a, want, snap, e);
	if (rc == ERR_OK)
		rc = observe_d1(a, want, st, prune, sel, snap, e);
	if (rc != ERR_OK)
		return rc;
	/* KV entries: the key listing of each namespace that declares entries
	 * (names, metadata with the content hash, expiration; never values) */
	for (size_t i = 0; i < want->n && rc == ERR_OK; i++) {
		const struct resource *r = &want->items[i];
		struct obs_kv *k;

		if (r->kind != KIND_KVNAMESPACE || !r->u.kv.has_entries)
			continue;
		k = namespace_of(r, st, snap);
		if (k && !k->keys_read && selected(sel, KIND_KVNAMESPACE, r->name, OBS_KV_KEYS))
			rc = api_kv_keys(a, k, e);
	}
	if (rc != ERR_OK)
		return rc;
	/* declared and recorded buckets by (name, jurisdiction), first match
	 * kept, so each listed bucket finds its own in O(log n) */
	wb = xcalloc(want->n + 1, sizeof(*wb));
	for (size_t k = 0; k < want->n; k++)
		if (want->items[k].kind == KIND_R2BUCKET)
			wb[nwb++] = (struct bref){ want->items[k].u.bucket.bucket_name,
			                           want->items[k].u.bucket.jurisdiction, &want->items[k],
			                           k };
	sb = xcalloc(st->n + 1, sizeof(*sb));
	for (size_t k = 0; k < st->n; k++)
		if (st->v[k]->kind == KIND_R2BUCKET && st->v[k]->bucket_name)
			sb[nsb++] = (struct bref){ st->v[k]->bucket_name, st->v[k]->jurisdiction ?
			                           st->v[k]->jurisdiction : "default", st->v[k], k };
	qsort(wb, nwb, sizeof(*wb), bref_cmp);
	qsort(sb, nsb, sizeof(*sb), bref_cmp);
	/* Only now is the bucket array final: reads keep pointers into it. */
	for (size_t i = 0; i < snap->nbuckets; i++) {
		struct obs_bucket *b = &snap->buckets[i];
		const struct resource *r = bref_find(wb, nwb, b->name, b->jurisdiction);
		const struct inv_entry *x = bref_find(sb, nsb, b->name, b->jurisdiction);
		const char *rname = r ? r->name : x ? x->name : b->name;

		if (((r && r->u.bucket.has_lifecycle) || (x && x->managed_lifecycle)) &&
		    selected(sel, KIND_R2BUCKET, rname, OBS_LIFECYCLE))
			api_bucket_read(a, b, API_BUCKET_LIFECYCLE, &rc, e);
		if (((r && r->u.bucket.has_cors) || (x && x->managed_cors)) &&
		    selected(sel, KIND_R2BUCKET, rname, OBS_CORS))
			api_bucket_read(a, b, API_BUCKET_CORS, &rc, e);
		if (prune && x && r == NULL && x->policy == DELETION_DELETE) {
			int still_wanted = 0;

			for (size_t k = 0; k < want->n; k++)
				if (want->items[k].kind == KIND_R2BUCKET &&
				    strcmp(want->items[k].name, x->name) == 0)
					still_wanted = 1;
			if (!still_wanted)
				queue_objects(a, b, &rc, e);
		}
	}
	api_wait(a);
	free(wb);
	free(sb);
	return rc;
}

enum errcode
observe_verify_values(struct api *a, const struct manifest_set *want, const struct state *st,
                      struct snapshot *snap, size_t *checked, struct err *e)
{
	*checked = 0;
	for (size_t i = 0; i < want->n; i++) {
		const struct resource *r = &want->items[i];
		struct obs_kv *k;

		if (r->kind != KIND_KVNAMESPACE || !r->u.kv.has_entries)
			continue;
		k = namespace_of(r, st, snap);
		if (k == NULL || !k->keys_read)
			continue;
		for (size_t j = 0; j < r->u.kv.nentries; j++) {
			const struct kv_entry *en = &r->u.kv.entries[j];
			struct obs_key *key = NULL;
			char *val, h[17];
			size_t len;
			enum errcode rc;

			for (size_t q = 0; q < k->nkeys && !key; q++)
				if (strcmp(k->keys[q].name, en->key) == 0)
					key = &k->keys[q];
			if (key == NULL || strcmp(key->hash, en->hash) != 0)
				continue; /* already planned for a write */
			rc = api_kv_value(a, k->id, en->key, &val, &len, e);
			if (rc == ERR_NOTFOUND) {
				key->hash[0] = '\0';
				continue;
			}
			if (rc != ERR_OK)
				return rc;
			manifest_entry_hash(en, val, len, h);
			free(val);
			(*checked)++;
			if (strcmp(h, en->hash) != 0)
				snprintf(key->hash, sizeof(key->hash), "%s", "0000000000000000");
		}
	}
	return ERR_OK;
}
