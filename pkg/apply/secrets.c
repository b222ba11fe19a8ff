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
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../log/log.h"
#include "../mem/mem.h"
#include "../secret/secret.h"
#include "../timefmt/timefmt.h"
#include "apply_int.h"

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

/*
 * The id of the Secrets Store named (or with the id) `store`, learnt once per
 * run (borrowed: valid until apply_stores_release). Cloudflare allows one
 * store per account (REFERENCE §5): when the account has none, it is created
 * with that name.
 */
static enum errcode
store_id(struct applier *ap, const char *store, char **out, struct err *e)
{
	struct api_call *c;
	enum errcode rc;
	char *id = NULL, *other = NULL;

	for (size_t i = 0; i < ap->nstores; i++)
		if (strcmp(ap->stores[i].key, store) == 0) {
			*out = ap->stores[i].id;
			return ERR_OK;
		}
	c = api_op_store_list(API_SS_PAGE);
	if ((rc = api_call_sync(ap->api, c)) != ERR_OK) {
		rc = err_set(e, rc, "listing Secrets Stores: %s", c->err.msg);
		api_call_free(c);
		return rc;
	}
	rc = api_find_store(c, store, &id, &other);
	api_call_free(c);
	if (rc != ERR_OK)
		return err_set(e, rc, "listing Secrets Stores: unexpected response");
	if (id == NULL && other == NULL) {
		c = api_op_store_create(store);
		if ((rc = api_call_sync(ap->api, c)) != ERR_OK) {
			rc = err_set(e, rc, "creating Secrets Store '%s': %s", store, c->err.msg);
			api_call_free(c);
			return rc;
		}
		api_parse_id(c, &id);
		api_call_free(c);
	}
	if (id == NULL) {
		rc = err_set(e, ERR_NOTFOUND, "Secrets Store '%s' not found (the account has "
		             "store '%s'; Cloudflare allows one)", store, other ? other : "?");
		free(other);
		return rc;
	}
	free(other);
	ap->stores = xrealloc(ap->stores, (ap->nstores + 1) * sizeof(*ap->stores));
	ap->stores[ap->nstores].key = xstrdup(store);
	ap->stores[ap->nstores].id = id;
	ap->nstores++;
	*out = id;
	return ERR_OK;
}

/*
 * The id of the secret named exactly `name` in store `store_id` into *sid
 * (NULL when absent), from one search listing; `store` names it in errors.
 */
static enum errcode
find_secret(struct applier *ap, const char *store_id, const char *store, const char *name,
            char **sid, struct err *e)
{
	struct api_call *c = api_op_store_secrets_search(store_id, name, API_SS_PAGE);
	enum errcode rc;

	*sid = NULL;
	if ((rc = api_call_sync(ap->api, c)) != ERR_OK)
		rc = err_set(e, rc, "listing secrets of store '%s': %s", store, c->err.msg);
	else
		*sid = api_find_secret(c, name, NULL);
	api_call_free(c);
	return rc;
}

/*
 * Writes NAME = value (with comment) to one target; creates or replaces.
 * With must_be_new, a Secrets Store name that exists already is an error,
 * never overwritten (invariant 1: a version's value never changes; the
 * plan chose a number no target holds, this is the last check). The value
 * goes only into the request body, which the api cleanses when it frees it.
 */
static enum errcode
put_value(struct applier *ap, const struct secret_target *t, const char *name,
          const char *value, size_t vlen, const char *comment, int must_be_new,
          long *status, struct err *e)
{
	struct api_call *c;
	enum errcode rc;

	if (t->kind == TARGET_WORKER) {
		c = api_op_worker_secret_put(t->script, name, value, vlen);
	} else {
		char *sid = NULL, *store;

		if ((rc = store_id(ap, t->store, &store, e)) != ERR_OK)
			return rc;
		if ((rc = find_secret(ap, store, t->store, name, &sid, e)) != ERR_OK)
			return rc;
		if (sid && must_be_new) {
			free(sid);
			return err_set(e, ERR_CONFLICT, "%s exists already in Secrets Store '%s': a "
			               "version is never overwritten", name, t->store);
		}
		if (sid)
			c = api_op_store_secret_update(store, sid, value, vlen, comment);
		else
			c = api_op_store_secret_create(store, name, value, vlen, comment, t->scopes,
			                               t->nscopes);
		free(sid);
	}
	rc = api_call_sync(ap->api, c);
	if (status) /* the answer, when every attempt got one; else 0: an attempt may
	             * have taken effect unheard (a timeout before a retry) */
		*status = c->unheard == 0 ? c->status : 0;
	if (rc != ERR_OK)
		rc = err_set(e, rc, "writing %s to %s '%s': %s", name,
		             t->kind == TARGET_WORKER ? "Worker" : "Secrets Store",
		             t->kind == TARGET_WORKER ? t->script : t->store, c->err.msg);
	api_call_free(c);
	return rc;
}

/* Deletes NAME from the target named by a ledger id ("store:S/N", "script:S/N"). */
static enum errcode
delete_value(struct applier *ap, const char *target_id, const char *name, struct err *e)
{
	const char *colon = strchr(target_id, ':'), *slash = strrchr(target_id, '/');
	char *where;
	struct api_call *c;
	enum errcode rc;

	if (!colon || !slash || slash < colon)
		return err_set(e, ERR_INVALID, "bad target '%s' in the ledger", target_id);
	where = xstrndup(colon + 1, (size_t)(slash - colon - 1));
	if (strncmp(target_id, "script:", 7) == 0) {
		c = api_op_worker_secret_delete(where, name);
	} else {
		char *store, *sid;

		if ((rc = store_id(ap, where, &store, e)) != ERR_OK ||
		    (rc = find_secret(ap, store, where, name, &sid, e)) != ERR_OK) {
			free(where);
			return rc;
		}
		if (sid == NULL) {
			free(where);
			return ERR_OK; /* already gone */
		}
		c = api_op_store_secret_delete(store, sid);
		free(sid);
	}
	rc = api_call_sync(ap->api, c);
	if (rc == ERR_NOTFOUND)
		rc = ERR_OK;
	else if (rc != ERR_OK)
		rc = err_set(e, rc, "deleting %s from '%s': %s", name, where, c->err.msg);
	api_call_free(c);
	free(where);
	return rc;
}

static const char *
base_name(const struct plan_action *act, const struct sec_ledger *l)
{
	const char *slash;

	if (act->want && act->want->u.secret.ntargets)
		return act->want->u.secret.targets[0].name;
	slash = l && l->ntargets ? strrchr(l->targets[0], '/') : NULL;
	return slash ? slash + 1 : act->name;
}

/* The target's own secret name for a ledger target id. */
static const char *
name_of(const char *target_id)
{
	const char *slash = strrchr(target_id, '/');

	return slash ? slash + 1 : target_id;
}

/* Returns 0, or -1 after recording a failure. */
static int
destroy_versions(struct applier *ap, struct plan_action *act, struct sec_ledger *l)
{
	for (size_t i = 0; i < act->ndestroy; i++) {
		struct sec_version *v = ledger_find(l, act->destroy[i]);
		struct err e;

		if (v == NULL || v->status == V_DESTROYED)
			continue;
		err_clear(&e);
		for (size_t k = 0; k < v->ntargets; k++) {
			char *name = xasprintf("%s_V%u", name_of(v->targets[k]), v->n);
			enum errcode rc = delete_value(ap, v->targets[k], name, &e);

			free(name);
			if (rc != ERR_OK) {
				apply_fail(ap, act, e.msg);
				return -1;
			}
		}
		v->status = V_DESTROYED;
		for (size_t k = 0; k < v->ntargets; k++)
			free(v->targets[k]);
		free(v->targets);
		v->targets = NULL;
		v->ntargets = 0;
		ap->dirty = 1;
		apply_save(ap, 1);
	}
	return 0;
}

static void
delete_secret(struct applier *ap, struct plan_action *act, struct sec_ledger *l)
{
	struct err e;

	for (size_t k = 0; k < l->ntargets; k++) {
		const char *base = name_of(l->targets[k]);

		for (size_t i = 0; i < l->n; i++) {
			char *name;
			enum errcode rc;

			if (l->v[i].status == V_DESTROYED)
				continue;
			name = xasprintf("%s_V%u", base, l->v[i].n);
			err_clear(&e);
			rc = delete_value(ap, l->targets[k], name, &e);
			free(name);
			if (rc != ERR_OK) {
				apply_fail(ap, act, e.msg);
				return;
			}
		}
		for (int j = 0; j < 2; j++) {
			char *name = j ? xstrdup(base) : xasprintf("%s_VERSION", base);
			enum errcode rc;

			err_clear(&e);
			rc = j && !l->alias ? ERR_OK : delete_value(ap, l->targets[k], name, &e);
			free(name);
			if (rc != ERR_OK) {
				apply_fail(ap, act, e.msg);
				return;
			}
		}
	}
	state_ledger_remove(ap->st, act->name);
	ap->dirty = 1;
	ap->res->done[act->op]++;
	apply_save(ap, 1);
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

/* Phases 1-3 for one Secret; returns 0 when N became current. */
static int
rotate(struct applier *ap, struct plan_action *act, struct sec_ledger *l)
{
	const struct secret_spec *s = &act->want->u.secret;
	const char *base = base_name(act, l);
	struct secret_value *val = NULL;
	struct sec_version *v;
	char created[32], *comment, num[16];
	struct err e;
	int ok = 0, regen;

	v = ledger_find(l, act->version);
	/* invariant 1's one exception: our own pending version, no pointer moved */
	regen = v && v->status == V_PENDING && !v->published;
	if (v == NULL)
		v = ledger_add(l, act->version, ap->now);
	/* a pending version starts again: a fresh value, no targets yet */
	v->status = V_PENDING;
	v->created = ap->now;
	for (size_t k = 0; k < v->ntargets; k++)
		free(v->targets[k]);
	free(v->targets);
	v->targets = NULL;
	v->ntargets = 0;
	err_clear(&e);
	if (secret_generate(s->bytes, s->encoding, &val, &e) != ERR_OK) {
		apply_fail(ap, act, e.msg);
		return -1;
	}
	secret_fingerprint(val, v->fp);
	ap->dirty = 1;
	apply_save(ap, 1); /* write-ahead: N is pending before any target sees it */
	if (ap->res->state_error) {
		apply_fail(ap, act, "the state could not be saved: nothing was written");
		goto out;
	}
	timefmt_format(ap->now, created, sizeof(created));
	comment = xasprintf("cfstorage secret=%s version=%u fingerprint=%s created=%s",
	                    act->name, act->version, v->fp, created);
	for (size_t i = 0; i < s->ntargets; i++) {
		const struct secret_target *t = &s->targets[i];
		char *name = xasprintf("%s_V%u", t->name, act->version), *id;
		enum errcode rc = put_value(ap, t, name, val->text, val->len, comment, !regen,
		                            NULL, &e);

		free(name);
		if (rc != ERR_OK) {
			free(comment);
			apply_fail(ap, act, e.msg);
			goto out;
		}
		v = ledger_find(l, act->version);
		id = secret_target_id(t);
		ledger_add_target(&v->targets, &v->ntargets, id);
		ledger_add_target(&l->targets, &l->ntargets, id);
		free(id);
		ap->dirty = 1;
	}
	free(comment);
	apply_save(ap, 1);
	/* phase 2: every target holds V<N>; now the pointer (and alias) */
	snprintf(num, sizeof(num), "%u", act->version);
	comment = xasprintf("cfstorage secret=%s pointer current=%u", act->name, act->version);
	/* The first pointer write can take effect although we never hear back (a
	 * kill, a dropped connection, a timeout): from its sending on, V<N>'s value
	 * must never change, so an interrupted run goes on to N+1. Saved before
	 * the write (write-ahead); undone only when the server answered that it
	 * refused the write, so nothing can point at V<N> yet. */
	v = ledger_find(l, act->version);
	v->published = 1;
	ap->dirty = 1;
	apply_save(ap, 1);
	for (size_t i = 0; i < s->ntargets; i++) {
		const struct secret_target *t = &s->targets[i];
		char *name = xasprintf("%s_VERSION", t->name);
		long status = 0;
		enum errcode rc = put_value(ap, t, name, num, strlen(num), comment, 0, &status,
		                            &e);

		free(name);
		if (rc != ERR_OK && i == 0 && status >= 400) {
			v = ledger_find(l, act->version);
			v->published = 0; /* refused: no target points at it */
			ap->dirty = 1;
			apply_save(ap, 1);
		}
		if (rc == ERR_OK && s->alias) {
			char *ac = xasprintf("cfstorage secret=%s alias current=%u", act->name,
			                     act->version);

			rc = put_value(ap, t, t->name, val->text, val->len, ac, 0, NULL, &e);
			free(ac);
		}
		if (rc != ERR_OK) {
			free(comment);
			apply_fail(ap, act, e.msg);
			goto out;
		}
	}
	free(comment);
	make_current(ap, act, l);
	ok = 1;
	(void)base;
out:
	secret_value_free(val);
	return ok ? 0 : -1;
}

/*
 * The Secrets Store alias of one target copied again from <NAME>_V<cur> on
 * the server (POST …/duplicate): the value is never read. An alias that
 * exists but is not the current version is deleted first.
 */
static enum errcode
copy_alias(struct applier *ap, const struct secret_target *t, const char *secret, unsigned cur,
           struct err *e)
{
	char *store, *vname = xasprintf("%s_V%u", t->name, cur), *vid = NULL, *aid = NULL;
	char *comment = NULL;
	struct api_call *c;
	enum errcode rc;

	if ((rc = store_id(ap, t->store, &store, e)) != ERR_OK)
		goto out;
	/* one search for the base name lists both it and <NAME>_V<cur> */
	c = api_op_store_secrets_search(store, t->name, API_SS_PAGE);
	if ((rc = api_call_sync(ap->api, c)) != ERR_OK)
		rc = err_set(e, rc, "listing secrets of store '%s': %s", t->store, c->err.msg);
	vid = api_find_secret(c, vname, NULL);
	aid = api_find_secret(c, t->name, NULL);
	api_call_free(c);
	if (rc != ERR_OK)
		goto out;
	if (vid == NULL) {
		rc = err_set(e, ERR_NOTFOUND, "%s is not in Secrets Store '%s'", vname, t->store);
		goto out;
	}
	if (aid) {
		c = api_op_store_secret_delete(store, aid);
		rc = api_call_sync(ap->api, c);
		if (rc != ERR_OK && rc != ERR_NOTFOUND) {
			rc = err_set(e, rc, "deleting the stale alias %s: %s", t->name, c->err.msg);
			api_call_free(c);
			goto out;
		}
		api_call_free(c);
	}
	comment = xasprintf("cfstorage secret=%s alias current=%u", secret, cur);
	c = api_op_store_secret_duplicate(store, vid, t->name, comment, t->scopes, t->nscopes);
	if ((rc = api_call_sync(ap->api, c)) != ERR_OK)
		rc = err_set(e, rc, "copying %s to the alias %s: %s", vname, t->name, c->err.msg);
	api_call_free(c);
out:
	free(comment);
	free(vname);
	free(vid);
	free(aid);
	return rc;
}

/* Pointer and alias repairs the plan found (no new version). 0 or -1. */
static int
repair_targets(struct applier *ap, struct plan_action *act, struct sec_ledger *l)
{
	const struct secret_spec *s = &act->want->u.secret;
	const struct sec_version *cur = ledger_current(l);
	struct err e;

	if (cur == NULL)
		return 0;
	for (size_t i = 0; i < act->nfix_ptr; i++) {
		const struct secret_target *t = &s->targets[act->fix_ptr[i]];
		char *name = xasprintf("%s_VERSION", t->name), num[16];
		char *comment = xasprintf("cfstorage secret=%s pointer current=%u", act->name, cur->n);
		enum errcode rc;

		snprintf(num, sizeof(num), "%u", cur->n);
		err_clear(&e);
		rc = put_value(ap, t, name, num, strlen(num), comment, 0, NULL, &e);
		free(name);
		free(comment);
		if (rc != ERR_OK) {
			apply_fail(ap, act, e.msg);
			return -1;
		}
	}
	for (size_t i = 0; i < act->nfix_alias; i++) {
		err_clear(&e);
		if (copy_alias(ap, &s->targets[act->fix_alias[i]], act->name, cur->n, &e) != ERR_OK) {
			apply_fail(ap, act, e.msg);
			return -1;
		}
	}
	if (act->nfix_alias)
		l->alias = 1;
	return 0;
}

void
apply_secret(struct applier *ap, struct plan_action *act)
{
	struct sec_ledger *l;

	if (act->op == PLAN_REFUSE || (act->op == PLAN_NOOP && !act->record))
		return;
	if (act->ledger) {
		/* the ledger as the account showed it: recorded before anything else */
		state_ledger_replace(ap->st, act->ledger);
		ap->dirty = 1;
	}
	if (act->op == PLAN_FORGET) {
		state_ledger_remove(ap->st, act->name);
		ap->dirty = 1;
		ap->res->done[act->op]++;
		return;
	}
	l = act->want ? state_ledger_upsert(ap->st, act->name) : state_ledger(ap->st, act->name);
	if (l == NULL)
		return;
	if (act->del_secret) {
		delete_secret(ap, act, l);
		return;
	}
	l->policy = act->want->deletion_policy;
	ap->dirty = 1;
	if ((act->op == PLAN_CREATE || act->op == PLAN_ROTATE) && rotate(ap, act, l) != 0)
		return;
	if (act->op != PLAN_CREATE && act->op != PLAN_ROTATE && repair_targets(ap, act, l) != 0)
		return;
	if (destroy_versions(ap, act, l) != 0)
		return;
	if (act->op != PLAN_NOOP)
		ap->res->done[act->op]++;
	apply_save(ap, 1);
}
