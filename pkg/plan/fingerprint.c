/*
 * Fingerprints of what a plan relied on, for saved plans (`plan -out FILE`,
 * `apply FILE`): per action, the action itself (op and every change line) and
 * what the account showed of its resource (a bucket's class, location,
 * lifecycle and CORS as read, its object count; a namespace's id, title and
 * key listing; a Secret's names and comments at each target). If any of it
 * differs when the saved plan is applied, the plan is stale.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "../mem/mem.h"
#include "plan.h"

static void
bucket_part(struct buf *b, const struct obs_bucket *ob)
{
	char *lc, *cors;

	if (ob == NULL) {
		buf_puts(b, "bucket:absent|");
		return;
	}
	lc = ob->lifecycle_read ? api_lifecycle_json(ob->rules, ob->nrules) : NULL;
	cors = ob->cors_read && ob->has_cors ? api_cors_json(ob->cors, ob->ncors) : NULL;
	buf_printf(b, "bucket:%s|%s|%s|%s|%d:%s|%d:%d:%s|%ld|", ob->name, ob->jurisdiction,
	           ob->location ? ob->location : "", ob->storage_class ? ob->storage_class : "",
	           ob->lifecycle_read, lc ? lc : "", ob->cors_read, ob->has_cors, cors ? cors : "",
	           ob->objects);
	free(lc);
	free(cors);
}

static void
kv_part(struct buf *b, const struct obs_kv *k)
{
	if (k == NULL) {
		buf_puts(b, "kv:absent|");
		return;
	}
	buf_printf(b, "kv:%s|%s|%d|", k->id, k->title, k->keys_read);
	for (size_t i = 0; i < k->nkeys; i++)
		buf_printf(b, "%s=%s@%lld|", k->keys[i].name, k->keys[i].hash,
		           (long long)k->keys[i].expiration);
}

/* A D1 database: its identity, replication and the migrations table's rows. */
static void
d1_part(struct buf *b, const struct obs_d1 *d)
{
	if (d == NULL) {
		buf_puts(b, "d1:absent|");
		return;
	}
	buf_printf(b, "d1:%s|%s|%s|%s|%d|%ld|", d->uuid, d->name,
	           d->jurisdiction ? d->jurisdiction : "",
	           d->read_replication ? d->read_replication : "", d->migs_read, d->user_tables);
	for (size_t i = 0; i < d->nmigs; i++)
		buf_printf(b, "m:%s|", d->migs[i]);
}

/* A Secret's names (and comments) at each of its targets. */
static void
secret_part(struct buf *b, const struct resource *r, const struct snapshot *snap)
{
	for (size_t i = 0; r && i < r->u.secret.ntargets; i++) {
		const struct secret_target *t = &r->u.secret.targets[i];
		int worker = t->kind == TARGET_WORKER;
		const struct obs_starget *o = snapshot_starget(snap, worker,
		                                               worker ? t->script : t->store);
		size_t bl = strlen(t->name);

		buf_printf(b, "target:%d:%s|%d|", worker, worker ? t->script : t->store,
		           o ? o->missing : -1);
		for (size_t k = 0; o && k < o->n; k++)
			if (strncmp(o->v[k].name, t->name, bl) == 0)
				buf_printf(b, "%s#%s|", o->v[k].name, o->v[k].comment ? o->v[k].comment : "");
	}
}

void
plan_fingerprint(const struct plan_action *a, const struct snapshot *snap, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	struct buf b;

	buf_init(&b, (size_t)-1);
	buf_printf(&b, "%s|%s|%s|%s|", plan_op_name(a->op), kind_name(a->kind), a->name,
	           a->reason ? a->reason : "");
	for (size_t i = 0; i < a->nchanges; i++)
		buf_printf(&b, "%c%s|", a->changes[i].sign, a->changes[i].text);
	if (a->kind == KIND_R2BUCKET)
		bucket_part(&b, a->ob);
	else if (a->kind == KIND_KVNAMESPACE)
		kv_part(&b, a->okv);
	else if (a->kind == KIND_D1DATABASE)
		d1_part(&b, a->od1);
	else
		secret_part(&b, a->want, snap);
	EVP_Digest(b.data, b.len, md, &mdlen, EVP_sha256(), NULL);
	buf_release(&b);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}
