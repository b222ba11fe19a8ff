#include "apply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../log/log.h"
#include "../mem/mem.h"
#include "../timefmt/timefmt.h"
#include "apply_int.h"

enum step {
	ST_START = 0,
	ST_CREATE,
	ST_CHECK,
	ST_STORAGE_CLASS,
	ST_LIFECYCLE,
	ST_CORS,
	ST_RENAME,
	ST_KV_PUT,
	ST_KV_DEL,
	ST_DELETE,
	ST_RECORD,
	ST_DONE,
};


struct job {
	struct applier *ap;
	struct plan_action *a;
	enum step step;
	unsigned create_attempts;
	char *kv_id;        /* learnt from a KV create or check */
	size_t put_pos, del_pos; /* progress through the action's entries */
	int check_page;     /* KV create check: the namespace list page (1-based) */
};


void
apply_save(struct applier *ap, int force)
{
	int64_t now = mono_ms();

	if (!ap->dirty || (!force && now - ap->last_save_ms < APPLY_SAVE_INTERVAL_MS))
		return;
	if (state_save(ap->st, &ap->res->state_err) != ERR_OK)
		ap->res->state_error = 1;
	ap->dirty = 0;
	ap->last_save_ms = now;
}

/* Tells the caller's on_outcome hook, if any, how an action ended. */
static void
tell(struct applier *ap, const struct plan_action *a, const char *failure)
{
	if (ap->on_outcome)
		ap->on_outcome(a, failure, ap->outcome_user);
}

static int failed_before(const struct apply_result *r, const struct plan_action *a);

/* A job that ran to its end tells the hook it succeeded, unless a failure of
 * the action was already told (apply_fail). */
void
apply_succeeded(struct applier *ap, const struct plan_action *a)
{
	if (!failed_before(ap->res, a))
		tell(ap, a, NULL);
}

void
apply_finished(struct applier *ap, const struct plan_action *a)
{
	const struct apply_result *r = ap->res;

	for (size_t i = 0; i < r->nfailures; i++)
		if (r->failures[i].kind == a->kind && strcmp(r->failures[i].name, a->name) == 0) {
			tell(ap, a, r->failures[i].msg);
			return;
		}
	tell(ap, a, NULL);
}

/* Has a failure of the action been recorded? */
static int
failed_before(const struct apply_result *r, const struct plan_action *a)
{
	for (size_t i = 0; i < r->nfailures; i++)
		if (r->failures[i].kind == a->kind && strcmp(r->failures[i].name, a->name) == 0)
			return 1;
	return 0;
}

void
apply_fail(struct applier *ap, const struct plan_action *a, const char *msg)
{
	struct apply_result *r = ap->res;
	struct inv_entry *x;

	/* a Secret's job is secrets.c's: its first failure is told as it happens
	 * (a D1 database's job tells its outcome as it ends: apply_finished) */
	if (a->kind == KIND_SECRET && !failed_before(r, a))
		tell(ap, a, msg);

	r->failures = xrealloc(r->failures, (r->nfailures + 1) * sizeof(*r->failures));
	r->failures[r->nfailures].kind = a->kind;
	r->failures[r->nfailures].name = xstrdup(a->name);
	r->failures[r->nfailures].msg = xstrdup(msg);
	r->nfailures++;
	r->failed++;
	x = a->kind == KIND_SECRET ? NULL : state_find(ap->st, a->kind, a->name);
	if (x) {
		char *cond = xasprintf("Failed: %s", msg);

		inv_set(&x->condition, cond);
		free(cond);
		ap->dirty = 1;
	}
	log_warn("apply failed", "kind=%s name=%s", kind_name(a->kind), a->name);
}

static void
fail(struct job *j, const char *msg)
{
	apply_fail(j->ap, j->a, msg);
	tell(j->ap, j->a, msg);
	j->step = ST_DONE;
}

/*
 * A create that certainly did not happen (refused, or still absent after the
 * retries) must not stay pending: a later run would take a same-named
 * resource someone else makes for one it created. An entry this run added
 * goes; an older one keeps its record, no longer pending.
 */
static void
unpend(struct job *j)
{
	struct inv_entry *x = state_find(j->ap->st, j->a->kind, j->a->name);

	if (x == NULL)
		return;
	if (j->a->wa_new)
		state_remove(j->ap->st, j->a->kind, j->a->name);
	else
		x->pending = 0;
	j->ap->dirty = 1;
}

/* Writes the action's outcome into the inventory. */
static void
record(struct job *j)
{
	struct plan_action *a = j->a;
	struct state *st = j->ap->st;
	char ts[32];
	struct inv_entry *x;

	timefmt_format(j->ap->now, ts, sizeof(ts));
	if (a->op == PLAN_DELETE || a->op == PLAN_FORGET) {
		state_remove(st, a->kind, a->name);
		j->ap->dirty = 1;
		return;
	}
	if (a->want == NULL)
		return;
	x = state_upsert(st, a->kind, a->name);
	if (a->op == PLAN_ADOPT)
		x->origin = a->imported ? ORIGIN_IMPORTED : ORIGIN_ADOPTED;
	x->pending = 0;
	x->policy = a->want->deletion_policy;
	if (a->kind == KIND_R2BUCKET) {
		const struct r2_bucket_spec *b = &a->want->u.bucket;

		inv_set(&x->bucket_name, b->bucket_name);
		inv_set(&x->jurisdiction, b->jurisdiction);
		inv_set(&x->location_hint, b->location_hint);
		/* an unobserved part keeps its claim until a pass has read it and
		 * put it back to Cloudflare's default */
		x->managed_lifecycle = b->has_lifecycle ||
		                       (x->managed_lifecycle && (a->unobserved & PLAN_UNOBSERVED_LIFECYCLE));
		x->managed_cors = b->has_cors ||
		                  (x->managed_cors && (a->unobserved & PLAN_UNOBSERVED_CORS));
	} else if (a->kind == KIND_KVNAMESPACE) {
		inv_set(&x->title, a->want->u.kv.title);
		if (j->kv_id)
			inv_set(&x->kv_id, j->kv_id);
		else if (a->okv)
			inv_set(&x->kv_id, a->okv->id);
	}
	memcpy(x->spec_hash, a->spec_hash, sizeof(x->spec_hash));
	inv_set(&x->condition, "Ready");
	inv_set(&x->updated, ts);
	j->ap->dirty = 1;
}

static void advance(struct job *j);

static void
on_done(struct api_call *c, void *user)
{
	struct job *j = user;
	struct plan_action *a = j->a;
	char msg[ERR_MSG_MAX + 64];

	switch (j->step) {
	case ST_CREATE:
		if (c->rc == ERR_OK) {
			j->step = ST_STORAGE_CLASS;
			if (a->kind == KIND_KVNAMESPACE) {
				struct obs_kv k = { 0 };

				if (api_parse_kv(c, &k) == 0) {
					j->kv_id = k.id;
					k.id = NULL;
				} else {
					j->step = ST_CHECK; /* created, but which id? look it up */
					j->check_page = 1;
				}
				obs_kv_release(&k);
			}
		} else if (c->rc == ERR_TRANSIENT || c->rc == ERR_CONFLICT) {
			/* a create that timed out or "already exists": look before re-sending */
			j->step = ST_CHECK;
			j->check_page = 1;
		} else {
			snprintf(msg, sizeof(msg), "create failed: %s", c->err.msg);
			fail(j, msg);
			unpend(j);
		}
		break;
	case ST_CHECK:
		if (a->kind == KIND_KVNAMESPACE) {
			/* there is no get-by-title: page through the list (REFERENCE §4) */
			char *id = NULL;
			int n = c->rc == ERR_OK ? api_kv_page_find(c, a->want->u.kv.title, &id) : -1;

			if (n < 0) {
				snprintf(msg, sizeof(msg), "create could not be confirmed: %s",
				         c->rc == ERR_OK ? "unexpected list response" : c->err.msg);
				fail(j, msg);
			} else if (id) {
				free(j->kv_id);
				j->kv_id = id;
				j->step = ST_STORAGE_CLASS;
			} else if (n >= API_KV_NS_PAGE) {
				j->check_page++; /* the same step asks for the next page */
			} else if (j->create_attempts < APPLY_CREATE_ATTEMPTS) {
				j->step = ST_CREATE;
			} else {
				fail(j, "create failed: the namespace is still absent after retries");
				unpend(j);
			}
			break;
		}
		if (a->kind == KIND_R2BUCKET && c->rc == ERR_OK) {
			j->step = ST_STORAGE_CLASS;
		} else if (a->kind == KIND_R2BUCKET && c->rc == ERR_NOTFOUND &&
		           j->create_attempts < APPLY_CREATE_ATTEMPTS) {
			j->step = ST_CREATE;
		} else if (a->kind == KIND_R2BUCKET && c->rc == ERR_NOTFOUND) {
			fail(j, "create failed: the bucket is still absent after retries");
			unpend(j);
		} else if (a->kind == KIND_R2BUCKET) {
			snprintf(msg, sizeof(msg), "create could not be confirmed: %s", c->err.msg);
			fail(j, msg);
		}
		break;
	case ST_STORAGE_CLASS:
	case ST_LIFECYCLE:
	case ST_CORS:
	case ST_RENAME:
		if (c->rc != ERR_OK) {
			snprintf(msg, sizeof(msg), "%s failed: %s",
			         j->step == ST_STORAGE_CLASS ? "storage class change"
			         : j->step == ST_LIFECYCLE ? "lifecycle update"
			         : j->step == ST_CORS ? "CORS update" : "rename", c->err.msg);
			fail(j, msg);
		} else {
			j->step = j->step == ST_STORAGE_CLASS ? ST_LIFECYCLE
			        : j->step == ST_LIFECYCLE ? ST_CORS
			        : j->step == ST_CORS ? ST_RENAME : ST_KV_PUT;
		}
		break;
	case ST_KV_PUT:
	case ST_KV_DEL:
		if (c->rc != ERR_OK) {
			snprintf(msg, sizeof(msg), "KV bulk %s failed: %s",
			         j->step == ST_KV_PUT ? "write" : "delete", c->err.msg);
			fail(j, msg);
		} else if (api_bulk_failures(c) > 0) {
			snprintf(msg, sizeof(msg), "KV bulk %s: %ld keys were not accepted",
			         j->step == ST_KV_PUT ? "write" : "delete", api_bulk_failures(c));
			fail(j, msg);
		}
		/* else: the same step sends the next chunk, or moves on */
		break;
	case ST_DELETE:
		if (c->rc == ERR_OK || c->rc == ERR_NOTFOUND) {
			j->step = ST_RECORD;
		} else if (c->rc == ERR_CONFLICT && a->kind == KIND_R2BUCKET) {
			fail(j, "bucket is not empty: not deleted");
		} else {
			snprintf(msg, sizeof(msg), "delete failed: %s", c->err.msg);
			fail(j, msg);
		}
		break;
	default:
		abort();
	}
	advance(j);
}

/* The inventory's entry of a job's resource (actions name it by kind and
 * name; the write-ahead may just have added it), or NULL. */
static const struct inv_entry *
inv_of(const struct job *j)
{
	return state_find(j->ap->st, j->a->kind, j->a->name);
}

/* The bucket an action works on: as declared, else as the inventory has it. */
static const char *
bucket_name(const struct job *j)
{
	const struct inv_entry *x = inv_of(j);

	return j->a->want ? j->a->want->u.bucket.bucket_name
	                  : x && x->bucket_name ? x->bucket_name : j->a->name;
}

static const char *
bucket_juris(const struct job *j)
{
	const struct inv_entry *x = inv_of(j);
	const char *jur = j->a->want ? j->a->want->u.bucket.jurisdiction
	                             : x && x->jurisdiction ? x->jurisdiction : "default";

	return strcmp(jur, "default") == 0 ? NULL : jur;
}

static const char *
ns_id(const struct job *j)
{
	const struct inv_entry *x = inv_of(j);

	return j->kv_id ? j->kv_id : j->a->okv ? j->a->okv->id : x ? x->kv_id : NULL;
}

/*
 * The next bulk write of the action's entries: up to APPLY_KV_BULK_MAX items
 * and APPLY_KV_BULK_BYTES of JSON (api_kv_bulk_add adds the content hash to
 * each item's metadata and sends binary values base64). NULL after recording
 * a failure to read a value.
 */
static struct api_call *
kv_put_chunk(struct job *j)
{
	const struct kv_namespace_spec *kv = &j->a->want->u.kv;
	struct api_kv_bulk bulk;

	api_kv_bulk_init(&bulk);
	while (j->put_pos < j->a->nkv_put && bulk.count < APPLY_KV_BULK_MAX) {
		const struct kv_entry *en = &kv->entries[j->a->kv_put[j->put_pos]];
		size_t len;
		char *val;
		struct err e;
		int added;

		err_clear(&e);
		if (manifest_entry_value(en, &val, &len, &e) != ERR_OK) {
			api_kv_bulk_release(&bulk);
			fail(j, e.msg);
			return NULL;
		}
		added = api_kv_bulk_add(&bulk, en, val, len, APPLY_KV_BULK_BYTES);
		free(val);
		if (added < 0)
			break; /* this one starts the next request */
		j->put_pos++;
	}
	return api_op_kv_bulk_put(ns_id(j), &bulk);
}

/* The next bulk delete: up to APPLY_KV_BULK_MAX of the action's keys. */
static struct api_call *
kv_del_chunk(struct job *j)
{
	size_t n = j->a->nkv_del - j->del_pos;
	struct api_call *c;

	if (n > APPLY_KV_BULK_MAX)
		n = APPLY_KV_BULK_MAX;
	c = api_op_kv_bulk_delete(ns_id(j), j->a->kv_del + j->del_pos, n);
	j->del_pos += n;
	return c;
}

/*
 * The call that creates the action's resource, or looks it up after a create
 * that timed out or found the name taken (the check step). A KV namespace has
 * no get-by-title, so its check pages through the namespace list
 * (REFERENCE §4).
 */
static struct api_call *
create_call(struct job *j)
{
	const struct plan_action *a = j->a;

	if (j->step == ST_CHECK) {
		if (a->kind == KIND_KVNAMESPACE) {
			if (j->check_page < 1)
				j->check_page = 1;
			return api_op_kv_list_page(j->check_page, API_KV_NS_PAGE);
		}
		return api_op_bucket_get(bucket_name(j), bucket_juris(j));
	}
	j->create_attempts++;
	if (a->kind == KIND_R2BUCKET) {
		const struct r2_bucket_spec *b = &a->want->u.bucket;

		return api_op_bucket_create(b->bucket_name, bucket_juris(j), b->location_hint,
		                            b->storage_class);
	}
	return api_op_kv_create(a->want->u.kv.title);
}

/*
 * The call step j->step sends, or NULL when the action has nothing to do in
 * that step: then j->step has moved on to the next one. Steps run in the
 * order create → check → storage class → lifecycle → CORS → rename → KV
 * writes → KV deletes → record, or delete → record.
 */
static struct api_call *
step_call(struct job *j)
{
	const struct plan_action *a = j->a;

	switch (j->step) {
	case ST_CREATE:
	case ST_CHECK:
		return create_call(j);
	case ST_STORAGE_CLASS:
		if (a->set_storage_class && a->kind == KIND_R2BUCKET)
			return api_op_bucket_set_class(bucket_name(j), bucket_juris(j),
			                               a->want->u.bucket.storage_class);
		j->step = ST_LIFECYCLE;
		return NULL;
	case ST_LIFECYCLE:
		if (a->put_lifecycle)
			return api_op_lifecycle_put(bucket_name(j), bucket_juris(j), a->lc, a->nlc);
		j->step = ST_CORS;
		return NULL;
	case ST_CORS:
		if (a->put_cors)
			return api_op_cors_put(bucket_name(j), bucket_juris(j), a->want->u.bucket.cors,
			                       a->want->u.bucket.ncors);
		if (a->delete_cors)
			return api_op_cors_delete(bucket_name(j), bucket_juris(j));
		j->step = ST_RENAME;
		return NULL;
	case ST_RENAME:
		if (a->rename)
			return api_op_kv_rename(a->okv->id, a->want->u.kv.title);
		j->step = ST_KV_PUT;
		return NULL;
	case ST_KV_PUT:
		if (j->put_pos < a->nkv_put)
			return kv_put_chunk(j); /* NULL: failed reading a value, recorded */
		j->step = ST_KV_DEL;
		return NULL;
	case ST_KV_DEL:
		if (j->del_pos < a->nkv_del)
			return kv_del_chunk(j);
		j->step = ST_RECORD;
		return NULL;
	case ST_DELETE:
		if (a->kind == KIND_R2BUCKET)
			return api_op_bucket_delete(bucket_name(j), bucket_juris(j));
		return api_op_kv_delete(ns_id(j));
	default:
		abort();
	}
}

/* Sends the next call of j's state machine, or finishes it. */
static void
advance(struct job *j)
{
	struct plan_action *a = j->a;
	struct api_call *c;

	for (;;) {
		switch (j->step) {
		case ST_START:
			j->step = a->create ? ST_CREATE : a->del ? ST_DELETE : ST_STORAGE_CLASS;
			continue;
		case ST_RECORD:
			record(j);
			j->ap->res->done[a->op]++;
			log_info("applied", "kind=%s name=%s action=%s", kind_name(a->kind), a->name,
			         plan_op_name(a->op));
			tell(j->ap, a, NULL);
			j->step = ST_DONE;
			continue;
		case ST_DONE:
			apply_save(j->ap, 0);
			free(j->kv_id);
			free(j);
			return;
		default:
			if ((c = step_call(j)) == NULL)
				continue;
			api_submit(j->ap->api, c, on_done, j);
			return;
		}
	}
}

/* Does apply run a job for the action (API work, or a record to write)? */
static int
has_job(const struct plan_action *x)
{
	return !(x->op == PLAN_NOOP && !x->record) && x->op != PLAN_REFUSE;
}

void
apply_run(struct api *a, struct plan *p, struct state *st, int64_t now,
          apply_outcome_fn on_outcome, void *outcome_user, struct apply_result *res)
{
	struct applier ap = { .api = a, .st = st, .now = now, .res = res,
	                      .on_outcome = on_outcome, .outcome_user = outcome_user };

	memset(res, 0, sizeof(*res));
	/* write-ahead: every create is recorded as pending before it is sent */
	for (size_t i = 0; i < p->n; i++) {
		struct plan_action *x = &p->v[i];
		struct inv_entry *e;

		if (!x->create || x->want == NULL || x->kind == KIND_SECRET ||
		    x->kind == KIND_D1DATABASE)
			continue;
		x->wa_new = state_find(st, x->kind, x->name) == NULL;
		e = state_upsert(st, x->kind, x->name);
		if (e->kv_id == NULL && e->bucket_name == NULL)
			e->pending = 1;
		e->policy = x->want->deletion_policy;
		if (x->kind == KIND_R2BUCKET) {
			inv_set(&e->bucket_name, x->want->u.bucket.bucket_name);
			inv_set(&e->jurisdiction, x->want->u.bucket.jurisdiction);
			inv_set(&e->location_hint, x->want->u.bucket.location_hint);
			e->pending = 1;
		} else {
			inv_set(&e->title, x->want->u.kv.title);
			inv_set(&e->kv_id, NULL);
			e->pending = 1;
		}
		ap.dirty = 1;
	}
	apply_save(&ap, 1);
	if (res->state_error)
		return; /* nothing is sent that could not be recorded */
	for (size_t i = 0; i < p->n; i++) {
		struct plan_action *x = &p->v[i];
		struct job *j;

		if (!has_job(x))
			continue;
		if (x->kind == KIND_SECRET) {
			apply_secret(&ap, x); /* a job of its own (secrets.c) */
			continue;
		}
		if (x->kind == KIND_D1DATABASE) {
			apply_d1(&ap, x); /* a job of its own (d1.c) */
			continue;
		}
		j = xcalloc(1, sizeof(*j));
		j->ap = &ap;
		j->a = x;
		advance(j);
	}
	api_wait(a);
	apply_stores_release(&ap);
	ap.dirty = 1;
	apply_save(&ap, 1);
}

void
apply_result_release(struct apply_result *r)
{
	for (size_t i = 0; i < r->nfailures; i++) {
		free(r->failures[i].name);
		free(r->failures[i].msg);
	}
	free(r->failures);
	memset(r, 0, sizeof(*r));
}
