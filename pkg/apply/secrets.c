/*
 * Applying Secret actions: the two-phase rotation (docs/decisions.md, Secrets).
 *
 *   1. Version N is recorded as pending in the ledger and saved (write-ahead).
 *   2. A fresh value is generated and written as <name>_V<N> to every target.
 *   3. Only when every target holds it: <name>_VERSION = N (and <name> itself
 *      with alias) on every target; then N is current, the old current becomes
 *      previous, the old previous retained.
 *   4. Versions the retain policy releases are deleted from every target that
 *      holds them and marked destroyed.
 * A failure anywhere stops that Secret with N still pending; the next run
 * generates a new value under the same number, so no target is ever pointed
 * at a version another target lacks. Values never leave struct secret_value
 * except inside request bodies that are cleansed when freed.
 *
 * Each Secret action is a job of apply's machine: a state enum (enum sstep)
 * advanced from API callbacks, one call in flight per Secret, so the steps of
 * one Secret keep their order while several Secrets (and the buckets and
 * namespaces of the run) progress together within the API's concurrency and
 * request budget. A step that writes is one "op": the Secrets Store id (one
 * shared lookup per store and run), the secret's id by name, then the write.
 * A cancelled run (SIGINT) fails the next call of every job, so each Secret
 * stops between two steps with what it did recorded.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../log/log.h"
#include "../mem/mem.h"
#include "../secret/secret.h"
#include "../timefmt/timefmt.h"
#include "apply_int.h"

/* A Secret job's steps; the ones marked (op) send calls. */
enum sstep {
	SS_START = 0,
	SS_VERSION,    /* (op) <NAME>_V<N> to target i */
	SS_PUBLISH,    /* the published mark, saved before the first pointer write */
	SS_POINTER,    /* (op) <NAME>_VERSION = N on target i */
	SS_ALIAS,      /* (op) <NAME> = the value on target i */
	SS_CURRENT,    /* N becomes current */
	SS_FIX_PTR,    /* (op) a pointer repair, fix_ptr[i] */
	SS_FIX_ALIAS,  /* (op) an alias copy, fix_alias[i] */
	SS_DESTROY,    /* (op) destroy[i] deleted from its target k */
	SS_DELETE,     /* (op) prune: on ledger target k, name i (versions, pointer, alias) */
	SS_FINISH,
	SS_DONE,
};

/* What one op does, and the stage it is in. */
enum op_kind { OP_PUT, OP_DELETE, OP_ALIAS };
enum op_stage {
	OS_STORE = 0,  /* the Secrets Store id (cached, or one lookup per run) */
	OS_STORE_CREATE, /* the account has no store: create it */
	OS_FIND,       /* the secret's id by name (one search listing) */
	OS_WRITE,      /* the write (or the delete) */
	OS_DEL_ALIAS,  /* alias copy: the stale alias deleted */
	OS_DUP,        /* alias copy: the server duplicates <NAME>_V<cur> */
	OS_END,
};

/* One write of a Secret's step with the lookups it needs first. */
struct secret_op {
	enum op_kind kind;
	enum op_stage stage;
	int worker;                     /* a Worker target: no lookups */
	char *where;                    /* the store (name or id) or the script */
	char *name;                     /* the secret name at the target */
	const struct secret_target *t;  /* PUT, ALIAS: the declared target */
	const char *value;              /* PUT: borrowed, cleansed by its owner */
	size_t vlen;
	char *comment;
	int must_be_new;                /* PUT: an existing name is an error */
	unsigned cur;                   /* ALIAS: the current version */
	const char *store;              /* the store id, borrowed from the cache */
	char *sid, *aid;                /* found: the secret's id, the stale alias's */
	enum errcode rc;
	struct err e;
	long status;                    /* PUT: the answer when every attempt got one */
};

struct secret_job {
	struct applier *ap;
	struct plan_action *act;
	struct sec_ledger *l;           /* stable: the state holds ledger pointers */
	enum sstep step;
	size_t i, k;
	int regen;                      /* our own unpublished pending version again */
	char num[16];                   /* the pointer's value */
	struct secret_value *val;
	char *comment;                  /* of this phase's writes */
	struct secret_op op;
	struct secret_job *wait_next;   /* in a store_cache's waiters */
};

static void job_advance(struct secret_job *j);
static void op_advance(struct secret_job *j);
static void step_done(struct secret_job *j);

void
apply_stores_release(struct applier *ap)
{
	for (size_t i = 0; i < ap->nstores; i++) {
		free(ap->stores[i].key);
		free(ap->stores[i].id);
	}
	free(ap->stores);
	ap->stores = NULL;
	ap->nstores = 0;
}

static void
op_release(struct secret_op *o)
{
	free(o->where);
	free(o->name);
	free(o->comment);
	free(o->sid);
	free(o->aid);
	memset(o, 0, sizeof(*o));
}

/* Ends the op with an error (code and message as err_set formats them). */
static void __attribute__((format(printf, 3, 4)))
op_fail(struct secret_job *j, enum errcode rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(j->op.e.msg, sizeof(j->op.e.msg), fmt, ap);
	va_end(ap);
	j->op.e.code = rc;
	j->op.rc = rc;
	j->op.stage = OS_END;
}

static void on_call(struct api_call *c, void *user);

static void
submit(struct secret_job *j, struct api_call *c)
{
	api_submit(j->ap->api, c, on_call, j);
}

/* ---- the Secrets Store id: one lookup per store and run ---- */

static struct store_cache *
cache_find(struct applier *ap, const char *key)
{
	for (size_t i = 0; i < ap->nstores; i++)
		if (strcmp(ap->stores[i].key, key) == 0)
			return &ap->stores[i];
	return NULL;
}

/*
 * The store id of j's op: from the cache, else j waits for the lookup in
 * flight, else j starts it (the stores list; Cloudflare allows one store per
 * account, REFERENCE §5: with none, it is created under the name declared).
 */
static void
store_resolve(struct secret_job *j)
{
	struct applier *ap = j->ap;
	struct store_cache *sc = cache_find(ap, j->op.where);

	if (sc && sc->id) {
		j->op.store = sc->id;
		j->op.stage = OS_FIND;
		op_advance(j);
	} else if (sc) {
		j->wait_next = sc->waiters;
		sc->waiters = j;
	} else {
		ap->stores = xrealloc(ap->stores, (ap->nstores + 1) * sizeof(*ap->stores));
		sc = &ap->stores[ap->nstores++];
		sc->key = xstrdup(j->op.where);
		sc->id = NULL;
		sc->waiters = NULL;
		submit(j, api_op_store_list(API_SS_PAGE));
	}
}

/*
 * The lookup j ran has ended: with the id (owned, now the cache's), or
 * without it (the entry goes, so the next job that needs the store looks
 * again, as a run of one Secret after another would). j goes on, then every
 * waiter resolves again.
 */
static void
store_settle(struct secret_job *j, char *id)
{
	struct applier *ap = j->ap;
	struct store_cache *sc = cache_find(ap, j->op.where);
	struct secret_job *w = sc->waiters;

	sc->waiters = NULL;
	if (id) {
		sc->id = id;
		j->op.store = id;
		j->op.stage = OS_FIND;
	} else {
		size_t at = (size_t)(sc - ap->stores);

		free(sc->key);
		ap->stores[at] = ap->stores[--ap->nstores];
	}
	op_advance(j);
	while (w) {
		struct secret_job *next = w->wait_next;

		w->wait_next = NULL;
		store_resolve(w);
		w = next;
	}
}

/* The answer of the stores list or of the store create. */
static void
store_answer(struct secret_job *j, struct api_call *c)
{
	char *id = NULL, *other = NULL;

	if (j->op.stage == OS_STORE_CREATE) {
		if (c->rc != ERR_OK) {
			op_fail(j, c->rc, "creating Secrets Store '%s': %s", j->op.where, c->err.msg);
		} else {
			api_parse_id(c, &id);
			if (id == NULL)
				op_fail(j, ERR_NOTFOUND, "Secrets Store '%s' not found (the account has "
				        "store '?'; Cloudflare allows one)", j->op.where);
		}
		store_settle(j, id);
		return;
	}
	if (c->rc != ERR_OK) {
		op_fail(j, c->rc, "listing Secrets Stores: %s", c->err.msg);
	} else if (api_find_store(c, j->op.where, &id, &other) != ERR_OK) {
		op_fail(j, ERR_PERMANENT, "listing Secrets Stores: unexpected response");
	} else if (id == NULL && other == NULL) {
		j->op.stage = OS_STORE_CREATE;
		submit(j, api_op_store_create(j->op.where));
		return;
	} else if (id == NULL) {
		op_fail(j, ERR_NOTFOUND, "Secrets Store '%s' not found (the account has store "
		        "'%s'; Cloudflare allows one)", j->op.where, other);
	}
	free(other);
	store_settle(j, id);
}

/* ---- one op: lookups, then the write ---- */

/*
 * The write of a PUT (creates or replaces NAME = value, with comment, on one
 * target). With must_be_new, a Secrets Store name that exists already is an
 * error, never overwritten (invariant 1: a version's value never changes; the
 * plan chose a number no target holds, this is the last check). The value
 * goes only into the request body, which the api cleanses when it frees it.
 */
static void
put_write(struct secret_job *j)
{
	struct secret_op *o = &j->op;

	if (o->worker) {
		submit(j, api_op_worker_secret_put(o->where, o->name, o->value, o->vlen));
	} else if (o->sid && o->must_be_new) {
		op_fail(j, ERR_CONFLICT, "%s exists already in Secrets Store '%s': a version is "
		        "never overwritten", o->name, o->where);
		step_done(j);
	} else if (o->sid) {
		submit(j, api_op_store_secret_update(o->store, o->sid, o->value, o->vlen,
		                                     o->comment));
	} else {
		submit(j, api_op_store_secret_create(o->store, o->name, o->value, o->vlen,
		                                     o->comment, o->t->scopes, o->t->nscopes));
	}
}

/* Sends the call of the op's stage, or ends the op (then the step goes on). */
static void
op_advance(struct secret_job *j)
{
	struct secret_op *o = &j->op;

	switch (o->stage) {
	case OS_STORE:
		if (o->worker) {
			o->stage = OS_WRITE;
			op_advance(j);
		} else {
			store_resolve(j);
		}
		return;
	case OS_FIND: /* for an alias copy, the base name's search lists <NAME>_V<cur> too */
		submit(j, api_op_store_secrets_search(o->store, o->kind == OP_ALIAS ? o->t->name
		                                      : o->name, API_SS_PAGE));
		return;
	case OS_WRITE:
		if (o->kind == OP_PUT) {
			put_write(j);
		} else if (o->worker) {
			submit(j, api_op_worker_secret_delete(o->where, o->name));
		} else if (o->sid == NULL) {
			o->stage = OS_END; /* already gone */
			step_done(j);
		} else {
			submit(j, api_op_store_secret_delete(o->store, o->sid));
		}
		return;
	case OS_DEL_ALIAS:
		submit(j, api_op_store_secret_delete(o->store, o->aid));
		return;
	case OS_DUP:
		submit(j, api_op_store_secret_duplicate(o->store, o->sid, o->t->name, o->comment,
		                                        o->t->scopes, o->t->nscopes));
		return;
	case OS_END:
		step_done(j);
		return;
	default:
		abort();
	}
}

/* The answer of a search: the ids the op needs, and its next stage. */
static void
find_answer(struct secret_job *j, struct api_call *c)
{
	struct secret_op *o = &j->op;

	if (c->rc != ERR_OK) {
		op_fail(j, c->rc, "listing secrets of store '%s': %s", o->where, c->err.msg);
		return;
	}
	o->sid = api_find_secret(c, o->name, NULL);
	if (o->kind != OP_ALIAS) {
		o->stage = OS_WRITE;
		return;
	}
	o->aid = api_find_secret(c, o->t->name, NULL);
	if (o->sid == NULL)
		op_fail(j, ERR_NOTFOUND, "%s is not in Secrets Store '%s'", o->name, o->where);
	else
		o->stage = o->aid ? OS_DEL_ALIAS : OS_DUP;
}

/* The answer of the op's write (or delete, or duplicate). */
static void
write_answer(struct secret_job *j, struct api_call *c)
{
	struct secret_op *o = &j->op;

	o->stage = OS_END;
	o->rc = c->rc;
	if (o->kind == OP_PUT) {
		/* the answer, when every attempt got one; else 0: an attempt may have
		 * taken effect unheard (a timeout before a retry) */
		o->status = c->unheard == 0 ? c->status : 0;
		if (c->rc != ERR_OK)
			op_fail(j, c->rc, "writing %s to %s '%s': %s", o->name,
			        o->worker ? "Worker" : "Secrets Store", o->where, c->err.msg);
	} else if (o->kind == OP_DELETE) {
		if (c->rc == ERR_NOTFOUND)
			o->rc = ERR_OK;
		else if (c->rc != ERR_OK)
			op_fail(j, c->rc, "deleting %s from '%s': %s", o->name, o->where, c->err.msg);
	} else if (c->rc != ERR_OK) {
		op_fail(j, c->rc, "copying %s to the alias %s: %s", o->name, o->t->name, c->err.msg);
	}
}

/* Every call of a Secret job answers here. */
static void
on_call(struct api_call *c, void *user)
{
	struct secret_job *j = user;
	struct secret_op *o = &j->op;

	switch (o->stage) {
	case OS_STORE:
	case OS_STORE_CREATE:
		store_answer(j, c);
		return; /* it went on */
	case OS_FIND:
		find_answer(j, c);
		break;
	case OS_WRITE:
	case OS_DUP:
		write_answer(j, c);
		break;
	case OS_DEL_ALIAS:
		if (c->rc != ERR_OK && c->rc != ERR_NOTFOUND)
			op_fail(j, c->rc, "deleting the stale alias %s: %s", o->t->name, c->err.msg);
		else
			o->stage = OS_DUP;
		break;
	default:
		abort();
	}
	op_advance(j);
}

/* Starts an op on a declared target: kind, name (owned), comment (owned);
 * the caller has released the previous op and set what else this one needs. */
static void
op_target(struct secret_job *j, enum op_kind kind, const struct secret_target *t, char *name,
          char *comment)
{
	j->op.kind = kind;
	j->op.t = t;
	j->op.worker = t->kind == TARGET_WORKER;
	j->op.where = xstrdup(j->op.worker ? t->script : t->store);
	j->op.name = name;
	j->op.comment = comment;
	op_advance(j);
}

/* A PUT of value[0..vlen) as `name` (owned) to target t. */
static void
op_put(struct secret_job *j, const struct secret_target *t, char *name, const char *value,
       size_t vlen, char *comment, int must_be_new)
{
	op_release(&j->op);
	j->op.value = value;
	j->op.vlen = vlen;
	j->op.must_be_new = must_be_new;
	op_target(j, OP_PUT, t, name, comment);
}

/* A delete of `name` (owned) from the target a ledger names ("store:S/N",
 * "script:S/N"); 0, or -1 after recording a bad target id as the failure. */
static int
op_delete(struct secret_job *j, const char *target_id, char *name)
{
	const char *colon = strchr(target_id, ':'), *slash = strrchr(target_id, '/');

	op_release(&j->op);
	if (!colon || !slash || slash < colon) {
		char msg[ERR_MSG_MAX];

		free(name);
		snprintf(msg, sizeof(msg), "bad target '%s' in the ledger", target_id);
		apply_fail(j->ap, j->act, msg);
		return -1;
	}
	j->op.kind = OP_DELETE;
	j->op.worker = strncmp(target_id, "script:", 7) == 0;
	j->op.where = xstrndup(colon + 1, (size_t)(slash - colon - 1));
	j->op.name = name;
	op_advance(j);
	return 0;
}

/* ---- one Secret's job ---- */

/* The target's own secret name for a ledger target id. */
static const char *
name_of(const char *target_id)
{
	const char *slash = strrchr(target_id, '/');

	return slash ? slash + 1 : target_id;
}

static void
job_free(struct secret_job *j)
{
	op_release(&j->op);
	free(j->comment);
	secret_value_free(j->val);
	free(j);
}

/*
 * Phase 1: version N is pending again (a fresh value, no targets yet),
 * recorded and saved before any target sees it (write-ahead). 0, or -1
 * after recording the failure.
 */
static int
rotate_start(struct secret_job *j)
{
	struct applier *ap = j->ap;
	const struct plan_action *act = j->act;
	const struct secret_spec *s = &act->want->u.secret;
	struct sec_version *v = ledger_find(j->l, act->version);
	char created[32];
	struct err e;

	/* invariant 1's one exception: our own pending version, no pointer moved */
	j->regen = v && v->status == V_PENDING && !v->published;
	if (v == NULL)
		v = ledger_add(j->l, act->version, ap->now);
	v->status = V_PENDING;
	v->created = ap->now;
	for (size_t k = 0; k < v->ntargets; k++)
		free(v->targets[k]);
	free(v->targets);
	v->targets = NULL;
	v->ntargets = 0;
	err_clear(&e);
	if (secret_generate(s->bytes, s->encoding, &j->val, &e) != ERR_OK) {
		apply_fail(ap, act, e.msg);
		return -1;
	}
	secret_fingerprint(j->val, v->fp);
	ap->dirty = 1;
	apply_save(ap, 1); /* write-ahead: N is pending before any target sees it */
	if (ap->res->state_error) {
		apply_fail(ap, act, "the state could not be saved: nothing was written");
		return -1;
	}
	timefmt_format(ap->now, created, sizeof(created));
	j->comment = xasprintf("cfstorage secret=%s version=%u fingerprint=%s created=%s",
	                       act->name, act->version, v->fp, created);
	return 0;
}

/*
 * Phase 2 is done (every target holds V<N>): the pointer comes next. The
 * first pointer write can take effect although we never hear back (a kill, a
 * dropped connection, a timeout): from its sending on, V<N>'s value must
 * never change, so an interrupted run goes on to N+1. The mark is saved
 * before the write (write-ahead); undone only when the server answered that
 * it refused the write, so nothing can point at V<N> yet (step_done).
 */
static void
publish(struct secret_job *j)
{
	struct sec_version *v;

	apply_save(j->ap, 1);
	free(j->comment);
	j->comment = xasprintf("cfstorage secret=%s pointer current=%u", j->act->name,
	                       j->act->version);
	snprintf(j->num, sizeof(j->num), "%u", j->act->version);
	v = ledger_find(j->l, j->act->version);
	v->published = 1;
	j->ap->dirty = 1;
	apply_save(j->ap, 1);
	j->i = 0;
	j->step = SS_POINTER;
}

/*
 * Phase 3, once every target points at V<N>: N becomes current, the old
 * current previous, the old previous retained (and a half-published version
 * of an earlier run retained, never reused); saved at once.
 */
static void
make_current(struct applier *ap, const struct plan_action *act, struct sec_ledger *l)
{
	struct sec_version *v;

	for (size_t i = 0; i < l->n; i++) {
		if (l->v[i].status == V_PREVIOUS)
			l->v[i].status = V_RETAINED;
		else if (l->v[i].status == V_CURRENT)
			l->v[i].status = V_PREVIOUS;
		else if (l->v[i].status == V_PENDING && l->v[i].n != act->version)
			l->v[i].status = V_RETAINED; /* a half-published version: kept, never reused */
	}
	v = ledger_find(l, act->version);
	v->status = V_CURRENT;
	v->published = 0;
	v->current_at = ap->now;
	l->alias = act->want->u.secret.alias;
	ap->dirty = 1;
	apply_save(ap, 1);
	log_info("secret version current", "name=%s version=%u fingerprint=%s", act->name,
	         act->version, v->fp);
}

/*
 * Pointer and alias repairs the plan found (no new version): the next one
 * is sent (1), or the step moves on to the destroys (0). The alias of a
 * Secrets Store target is copied again from <NAME>_V<cur> on the server
 * (POST …/duplicate): the value is never read; a stale alias is deleted
 * first.
 */
static int
repair_next(struct secret_job *j)
{
	const struct plan_action *act = j->act;
	const struct secret_spec *s = &act->want->u.secret;
	const struct sec_version *cur = ledger_current(j->l);
	const struct secret_target *t;

	if (j->step == SS_FIX_PTR && j->i < act->nfix_ptr) {
		t = &s->targets[act->fix_ptr[j->i]];
		snprintf(j->num, sizeof(j->num), "%u", cur->n);
		op_put(j, t, xasprintf("%s_VERSION", t->name), j->num, strlen(j->num),
		       xasprintf("cfstorage secret=%s pointer current=%u", act->name, cur->n), 0);
		return 1;
	}
	if (j->step == SS_FIX_PTR) {
		j->step = SS_FIX_ALIAS;
		j->i = 0;
	}
	if (j->i < act->nfix_alias) {
		t = &s->targets[act->fix_alias[j->i]];
		op_release(&j->op);
		j->op.cur = cur->n;
		op_target(j, OP_ALIAS, t, xasprintf("%s_V%u", t->name, cur->n),
		          xasprintf("cfstorage secret=%s alias current=%u", act->name, cur->n));
		return 1;
	}
	if (act->nfix_alias)
		j->l->alias = 1;
	j->step = SS_DESTROY;
	j->i = j->k = 0;
	return 0;
}

/*
 * Phase 4: the next delete of a version the retain policy releases, from one
 * target that holds it (1); a version gone from all of them is marked
 * destroyed and saved at once (0, as when the step moves on).
 */
static int
destroy_next(struct secret_job *j)
{
	const struct plan_action *act = j->act;
	struct sec_version *v;

	if (j->i >= act->ndestroy) {
		j->step = SS_FINISH;
		return 0;
	}
	v = ledger_find(j->l, act->destroy[j->i]);
	if (v && v->status != V_DESTROYED && j->k < v->ntargets) {
		const char *tid = v->targets[j->k];

		if (op_delete(j, tid, xasprintf("%s_V%u", name_of(tid), v->n)) != 0) {
			j->step = SS_DONE;
			return 0;
		}
		return 1;
	}
	if (v && v->status != V_DESTROYED) {
		v->status = V_DESTROYED;
		for (size_t k = 0; k < v->ntargets; k++)
			free(v->targets[k]);
		free(v->targets);
		v->targets = NULL;
		v->ntargets = 0;
		j->ap->dirty = 1;
		apply_save(j->ap, 1);
	}
	j->i++;
	j->k = 0;
	return 0;
}

/*
 * Prune: on every target the ledger names, every version not destroyed, then
 * the pointer, then the alias (when written); the next delete is sent (1).
 * When all are gone the ledger goes and is saved (0).
 */
static int
delete_next(struct secret_job *j)
{
	struct sec_ledger *l = j->l;

	while (j->k < l->ntargets) {
		const char *tid = l->targets[j->k], *base = name_of(tid);
		char *name = NULL;

		if (j->i < l->n && l->v[j->i].status != V_DESTROYED)
			name = xasprintf("%s_V%u", base, l->v[j->i].n);
		else if (j->i == l->n)
			name = xasprintf("%s_VERSION", base);
		else if (j->i == l->n + 1 && l->alias)
			name = xstrdup(base);
		else if (j->i > l->n + 1) {
			j->k++;
			j->i = 0;
			continue;
		}
		if (name == NULL) {
			j->i++;
			continue;
		}
		if (op_delete(j, tid, name) != 0) {
			j->step = SS_DONE;
			return 0;
		}
		return 1;
	}
	state_ledger_remove(j->ap->st, j->act->name);
	j->l = NULL;
	j->ap->dirty = 1;
	j->ap->res->done[j->act->op]++;
	apply_save(j->ap, 1);
	j->step = SS_DONE;
	return 0;
}

/*
 * What the action needs before its first call: the ledger as the account
 * showed it recorded, a forget done, the step to start from chosen, and for
 * a create or rotation, phase 1.
 */
static void
job_start(struct secret_job *j)
{
	struct applier *ap = j->ap;
	struct plan_action *act = j->act;

	if (act->ledger) {
		/* the ledger as the account showed it: recorded before anything else */
		state_ledger_replace(ap->st, act->ledger);
		ap->dirty = 1;
	}
	j->step = SS_DONE;
	if (act->op == PLAN_FORGET) {
		state_ledger_remove(ap->st, act->name);
		ap->dirty = 1;
		ap->res->done[act->op]++;
		return;
	}
	j->l = act->want ? state_ledger_upsert(ap->st, act->name)
	                 : state_ledger(ap->st, act->name);
	if (j->l == NULL)
		return;
	if (act->del_secret) {
		j->step = SS_DELETE;
		return;
	}
	j->l->policy = act->want->deletion_policy;
	ap->dirty = 1;
	if (act->op == PLAN_CREATE || act->op == PLAN_ROTATE)
		j->step = rotate_start(j) == 0 ? SS_VERSION : SS_DONE;
	else
		j->step = ledger_current(j->l) ? SS_FIX_PTR : SS_DESTROY;
}

/*
 * Advances j until it sends a call (its answer comes back through
 * step_done) or ends. Steps run in the order
 *   versions → publish → pointer (and alias) per target → current → destroys
 * for a create or rotation, repairs → destroys otherwise, deletes for a
 * prune; every outcome is recorded in the state as it happens.
 */
static void
job_advance(struct secret_job *j)
{
	const struct plan_action *act = j->act;
	const struct secret_spec *s = act->want ? &act->want->u.secret : NULL;
	const struct secret_target *t;

	for (;;) {
		switch (j->step) {
		case SS_START:
			job_start(j);
			continue;
		case SS_VERSION:
			if (j->i == s->ntargets) {
				publish(j);
				continue;
			}
			t = &s->targets[j->i];
			op_put(j, t, xasprintf("%s_V%u", t->name, act->version), j->val->text,
			       j->val->len, xstrdup(j->comment), !j->regen);
			return;
		case SS_POINTER:
			if (j->i == s->ntargets) {
				j->step = SS_CURRENT;
				continue;
			}
			t = &s->targets[j->i];
			op_put(j, t, xasprintf("%s_VERSION", t->name), j->num, strlen(j->num),
			       xstrdup(j->comment), 0);
			return;
		case SS_ALIAS:
			t = &s->targets[j->i];
			op_put(j, t, xstrdup(t->name), j->val->text, j->val->len,
			       xasprintf("cfstorage secret=%s alias current=%u", act->name,
			                 act->version), 0);
			return;
		case SS_CURRENT:
			make_current(j->ap, act, j->l);
			j->step = SS_DESTROY;
			j->i = j->k = 0;
			continue;
		case SS_FIX_PTR:
		case SS_FIX_ALIAS:
			if (repair_next(j))
				return;
			continue;
		case SS_DESTROY:
			if (destroy_next(j))
				return;
			continue;
		case SS_DELETE:
			if (delete_next(j))
				return;
			continue;
		case SS_FINISH:
			if (act->op != PLAN_NOOP)
				j->ap->res->done[act->op]++;
			apply_save(j->ap, 1);
			j->step = SS_DONE;
			continue;
		case SS_DONE:
			apply_succeeded(j->ap, act); /* told as it ends; a failure was told already */
			job_free(j);
			return;
		default:
			abort();
		}
	}
}

/*
 * The op of j's step has ended. A failure stops the Secret where it is (a
 * version stays pending; the first pointer write refused by the server, so
 * that nothing can point at V<N>, takes the published mark back); a success
 * moves the step on.
 */
static void
step_done(struct secret_job *j)
{
	const struct secret_op *o = &j->op;
	struct sec_version *v;

	if (o->rc != ERR_OK) {
		if (j->step == SS_POINTER && j->i == 0 && o->status >= 400) {
			v = ledger_find(j->l, j->act->version);
			v->published = 0; /* refused: no target points at it */
			j->ap->dirty = 1;
			apply_save(j->ap, 1);
		}
		apply_fail(j->ap, j->act, o->e.msg);
		j->step = SS_DONE;
		job_advance(j);
		return;
	}
	switch (j->step) {
	case SS_VERSION: {
		char *id = secret_target_id(o->t);

		v = ledger_find(j->l, j->act->version);
		ledger_add_target(&v->targets, &v->ntargets, id);
		ledger_add_target(&j->l->targets, &j->l->ntargets, id);
		free(id);
		j->ap->dirty = 1;
		j->i++;
		break;
	}
	case SS_POINTER:
		if (j->act->want->u.secret.alias)
			j->step = SS_ALIAS;
		else
			j->i++;
		break;
	case SS_ALIAS:
		j->step = SS_POINTER;
		j->i++;
		break;
	case SS_FIX_PTR:
	case SS_FIX_ALIAS:
	case SS_DELETE:
		j->i++;
		break;
	case SS_DESTROY:
		j->k++;
		break;
	default:
		abort();
	}
	job_advance(j);
}

void
apply_secret(struct applier *ap, struct plan_action *act)
{
	struct secret_job *j;

	if (act->op == PLAN_REFUSE || (act->op == PLAN_NOOP && !act->record))
		return;
	if (ap->res->state_error)
		return; /* nothing is sent that could not be recorded */
	j = xcalloc(1, sizeof(*j));
	j->ap = ap;
	j->act = act;
	j->step = SS_START;
	job_advance(j);
}
