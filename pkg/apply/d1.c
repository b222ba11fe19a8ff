/*
 * apply, D1 databases: create (written ahead as pending), read replication,
 * then each pending migration as ONE batch, in order.
 *
 * A batch is one transaction (D1 runs a batch all or nothing), and it holds
 * the migration's statements followed by the INSERT of its row into the
 * migrations table, as wrangler's `d1 migrations apply` appends that INSERT
 * to the file. So a migration is either applied and recorded in the database
 * or not applied at all, whatever happens to this process; the state's hash
 * is written after, and a row the state missed is recorded by the next plan.
 *
 * The first migration that fails stops the database: later ones are not
 * sent. The server says what failed but not which statement, so the failing
 * statement is found by bisection over the batch's prefixes, each probe ending
 * in a statement that must fail (so every probe rolls back): at most
 * log2(statements) + 1 extra requests, only after a failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../log/log.h"
#include "../mem/mem.h"
#include "../timefmt/timefmt.h"
#include "apply_int.h"

/* The statement that ends every bisection probe: it fails (no such table),
 * and its name in the error says the prefix before it ran. */
#define D1_PROBE_TABLE "cfstorage_probe_no_such_table_7f3c"
#define D1_PROBE_SQL "SELECT 1 FROM " D1_PROBE_TABLE

/* The migration file's path as the user can open it: the manifest's folder,
 * the migrations folder as written, the file name. Free it. */
static char *
shown_path(const struct d1_database_spec *s, const struct d1_migration *m)
{
	const char *mf = s->dir_pos.file, *slash = mf ? strrchr(mf, '/') : NULL;

	if (mf == NULL || strcmp(mf, "<stdin>") == 0 || slash == NULL)
		return xasprintf("%s/%s", s->migrations_dir, m->name);
	return xasprintf("%.*s/%s/%s", (int)(slash - mf), mf, s->migrations_dir, m->name);
}

/* The migrations table, created as wrangler creates it (initMigrationsTable),
 * so either tool can read and extend what the other applied. */
static char *
table_sql(const char *table)
{
	return xasprintf("CREATE TABLE IF NOT EXISTS \"%s\"(\n"
	                 "\tid         INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	                 "\tname       TEXT UNIQUE,\n"
	                 "\tapplied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL\n)", table);
}

/* One migration's batch: the table, the file's statements, its row. */
struct mig_batch {
	char *data;              /* the file */
	size_t len;
	struct sql_stmt *st;
	size_t nst;
	struct api_d1_stmt *v;   /* [0] table, [1..nst] statements, [nst+1] the INSERT */
	size_t n;
	char *create, *insert;
	const char *param[1];
};

static void
batch_release(struct mig_batch *b)
{
	free(b->data);
	free(b->st);
	free(b->v);
	free(b->create);
	free(b->insert);
	memset(b, 0, sizeof(*b));
}

static enum errcode
batch_build(const struct d1_database_spec *s, const struct d1_migration *m,
            struct mig_batch *b, struct err *e)
{
	enum errcode rc;

	memset(b, 0, sizeof(*b));
	if ((rc = manifest_d1_read(m, &b->data, &b->len, e)) != ERR_OK)
		return rc;
	b->nst = manifest_sql_split(b->data, b->len, &b->st);
	b->create = table_sql(s->migrations_table);
	b->insert = xasprintf("INSERT INTO \"%s\" (name) VALUES (?1)", s->migrations_table);
	b->param[0] = m->name;
	b->v = xcalloc(b->nst + 2, sizeof(*b->v));
	b->v[b->n++] = (struct api_d1_stmt){ b->create, strlen(b->create), NULL, 0 };
	for (size_t i = 0; i < b->nst; i++)
		b->v[b->n++] = (struct api_d1_stmt){ b->data + b->st[i].off, b->st[i].len, NULL, 0 };
	b->v[b->n++] = (struct api_d1_stmt){ b->insert, strlen(b->insert), b->param, 1 };
	return ERR_OK;
}

/* One probe: items [0, k) of b then D1_PROBE_SQL, which fails, so nothing
 * stays. 1 when the probe's own error came back (the k items ran), 0 when
 * an earlier item failed, -1 when the answer says neither. */
static int
probe(struct applier *ap, const char *uuid, const struct mig_batch *b, size_t k,
      struct api_d1_stmt *scratch)
{
	struct api_call *c;
	char *msg;
	int r;

	memcpy(scratch, b->v, k * sizeof(*scratch));
	scratch[k] = (struct api_d1_stmt){ D1_PROBE_SQL, strlen(D1_PROBE_SQL), NULL, 0 };
	if ((c = api_op_d1_batch(uuid, scratch, k + 1)) == NULL)
		return -1;
	(void)api_call_sync(ap->api, c);
	if (c->rc == ERR_OK || c->rc == ERR_TRANSIENT || c->status >= 500 || c->status == 0) {
		api_call_free(c);
		return -1;
	}
	msg = api_d1_error(c);
	r = strstr(msg ? msg : c->err.msg, D1_PROBE_TABLE) != NULL;
	free(msg);
	api_call_free(c);
	return r;
}

/*
 * Which item of the failed batch b failed: the longest prefix that runs,
 * found by bisection over probes (ceil(log2(items)) requests). The full
 * batch failed, so the prefix of all items does not run; the empty one does.
 * Returns the index into b->v, or -1 when a probe went wrong.
 */
static long
bisect(struct applier *ap, const char *uuid, const struct mig_batch *b)
{
	struct api_d1_stmt *scratch = xcalloc(b->n + 1, sizeof(*scratch));
	size_t lo = 0, hi = b->n;
	long found = -1;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		int r = probe(ap, uuid, b, mid, scratch);

		if (r < 0)
			goto out;
		if (r)
			lo = mid;
		else
			hi = mid;
	}
	found = (long)lo;
out:
	free(scratch);
	return found;
}

/* Applies migration m: one batch; on failure the message names the file and
 * line of the failing statement. 0, or -1 with the failure recorded. */
static int
run_migration(struct applier *ap, struct plan_action *a, struct inv_entry *x,
              const char *uuid, const struct d1_migration *m, size_t later)
{
	const struct d1_database_spec *s = &a->want->u.d1;
	struct mig_batch b;
	struct api_call *c;
	struct err e;
	char *msg = NULL, *path = NULL, *srv = NULL, notrun[96] = "";
	int rc = -1;

	err_clear(&e);
	if (later)
		snprintf(notrun, sizeof(notrun), "; %zu later migration%s not run", later,
		         later == 1 ? "" : "s");
	if (batch_build(s, m, &b, &e) != ERR_OK) {
		msg = xasprintf("migration %s: %s%s", m->name, e.msg, notrun);
		goto out;
	}
	if ((c = api_op_d1_batch(uuid, b.v, b.n)) == NULL) {
		msg = xasprintf("migration %s is over %u bytes as a request%s", m->name,
		                API_D1_BODY_MAX, notrun);
		goto out;
	}
	(void)api_call_sync(ap->api, c);
	if (c->rc == ERR_OK) {
		api_call_free(c);
		inv_migration_add(x, m->name, m->hash, MIG_APPLIED);
		ap->dirty = 1;
		apply_save(ap, 1);
		log_info("migration applied", "kind=D1Database name=%s migration=%s statements=%zu",
		         a->name, m->name, b.nst);
		rc = 0;
		goto out;
	}
	srv = api_d1_error(c);
	path = shown_path(s, m);
	if (c->rc == ERR_TRANSIENT || c->status >= 500 || c->status == 0) {
		/* no answer: it committed or not, wholly; the next plan reads its row */
		msg = xasprintf("migration %s: no answer (%s); its outcome is read from the "
		                "table '%s' on the next run%s", m->name, c->err.msg,
		                s->migrations_table, notrun);
	} else {
		long at = bisect(ap, uuid, &b);
		const char *why = srv ? srv : c->err.msg;

		if (at >= 1 && (size_t)at <= b.nst)
			msg = xasprintf("migration %s failed at %s:%u: %s (nothing of it was applied)%s",
			                m->name, path, b.st[at - 1].line, why, notrun);
		else if (at == (long)b.nst + 1)
			msg = xasprintf("migration %s: recording it in the table '%s' failed: %s "
			                "(nothing of it was applied)%s", m->name, s->migrations_table,
			                why, notrun);
		else if (at == 0)
			msg = xasprintf("migration %s: creating the table '%s' failed: %s%s", m->name,
			                s->migrations_table, why, notrun);
		else
			msg = xasprintf("migration %s failed (%s): %s (nothing of it was applied)%s",
			                m->name, path, why, notrun);
	}
	api_call_free(c);
out:
	if (msg)
		apply_fail(ap, a, msg);
	free(msg);
	free(path);
	free(srv);
	batch_release(&b);
	return rc;
}

/* Finds the database named `name` by listing (a create that timed out or
 * found the name taken); its uuid, or NULL. */
static char *
lookup(struct applier *ap, const char *name, struct err *e)
{
	struct obs_d1 *v = NULL;
	size_t n = 0;
	char *uuid = NULL;

	if (api_d1_list(ap->api, &v, &n, e) == ERR_OK)
		for (size_t i = 0; i < n && !uuid; i++)
			if (strcmp(v[i].name, name) == 0)
				uuid = xstrdup(v[i].uuid);
	for (size_t i = 0; i < n; i++)
		obs_d1_release(&v[i]);
	free(v);
	return uuid;
}

/* Creates the database; its uuid, or NULL with the failure recorded. A create
 * without an answer, or refused as existing, is looked up before it is sent
 * again (no_blind_retry). */
static char *
create(struct applier *ap, struct plan_action *a, int *failed)
{
	const struct d1_database_spec *s = &a->want->u.d1;
	char *uuid = NULL, msg[ERR_MSG_MAX + 64];

	*failed = 0;
	for (unsigned attempt = 0; attempt < APPLY_CREATE_ATTEMPTS && !uuid; attempt++) {
		struct api_call *c = api_op_d1_create(s->database_name, s->location_hint,
		                                      s->jurisdiction, s->read_replication);
		struct obs_d1 d;
		struct err e;

		(void)api_call_sync(ap->api, c);
		if (c->rc == ERR_OK && api_parse_d1(c, &d) == 0) {
			uuid = d.uuid;
			d.uuid = NULL; /* hand-over */
			obs_d1_release(&d);
		} else if (c->rc == ERR_OK || c->rc == ERR_TRANSIENT || c->rc == ERR_CONFLICT ||
		           c->cf_code == API_CF_D1_EXISTS) {
			if (c->rc == ERR_OK)
				obs_d1_release(&d);
			err_clear(&e);
			uuid = lookup(ap, s->database_name, &e);
		} else {
			snprintf(msg, sizeof(msg), "create failed: %s", c->err.msg);
			apply_fail(ap, a, msg);
			*failed = 1;
			api_call_free(c);
			return NULL;
		}
		api_call_free(c);
	}
	if (uuid == NULL) {
		apply_fail(ap, a, "create failed: the database is still absent after retries");
		*failed = 1;
	}
	return uuid;
}

/* The inventory's record of the declared fields (not the condition). */
static void
record_fields(struct applier *ap, struct plan_action *a, struct inv_entry *x)
{
	const struct d1_database_spec *s = &a->want->u.d1;

	inv_set(&x->db_name, s->database_name);
	inv_set(&x->jurisdiction, s->jurisdiction);
	inv_set(&x->location_hint, s->location_hint);
	x->policy = a->want->deletion_policy;
	x->allow_data_loss = s->allow_data_loss;
	ap->dirty = 1;
}

void
apply_d1(struct applier *ap, struct plan_action *a)
{
	struct inv_entry *x;
	char *uuid = NULL, ts[32];
	int failed = 0, wa_new;

	if (a->op == PLAN_REFUSE || (a->op == PLAN_NOOP && !a->record))
		return;
	if (a->op == PLAN_FORGET || a->op == PLAN_DELETE) {
		if (a->op == PLAN_DELETE) {
			struct api_call *c = api_op_d1_delete(a->od1->uuid);

			(void)api_call_sync(ap->api, c);
			if (c->rc != ERR_OK && c->rc != ERR_NOTFOUND) {
				char msg[ERR_MSG_MAX + 64];

				snprintf(msg, sizeof(msg), "delete failed: %s", c->err.msg);
				apply_fail(ap, a, msg);
				api_call_free(c);
				return;
			}
			api_call_free(c);
		}
		state_remove(ap->st, a->kind, a->name);
		ap->dirty = 1;
		ap->res->done[a->op]++;
		apply_save(ap, 1);
		apply_succeeded(ap, a);
		return;
	}
	wa_new = state_find(ap->st, a->kind, a->name) == NULL;
	x = state_upsert(ap->st, a->kind, a->name);
	if (a->create) {
		/* write-ahead: a create is recorded as pending before it is sent */
		record_fields(ap, a, x);
		inv_set(&x->kv_id, NULL);
		x->pending = 1;
		for (size_t i = 0; i < x->nmigs; i++)
			free(x->migs[i].name);
		free(x->migs);
		x->migs = NULL;
		x->nmigs = 0; /* a new database holds no migration */
		apply_save(ap, 1);
		if (ap->res->state_error)
			return;
		if ((uuid = create(ap, a, &failed)) == NULL) {
			if (wa_new)
				state_remove(ap->st, a->kind, a->name);
			else
				x->pending = 0;
			ap->dirty = 1;
			apply_save(ap, 1);
			return;
		}
		inv_set(&x->kv_id, uuid);
		free(uuid);
		x->pending = 0;
		apply_save(ap, 1);
	} else if (a->od1) {
		inv_set(&x->kv_id, a->od1->uuid);
		x->pending = 0;
	}
	if (a->op == PLAN_ADOPT)
		x->origin = a->imported ? ORIGIN_IMPORTED : ORIGIN_ADOPTED;
	record_fields(ap, a, x);
	if (a->set_replication) {
		struct api_call *c = api_op_d1_replication(x->kv_id, a->want->u.d1.read_replication);

		(void)api_call_sync(ap->api, c);
		if (c->rc != ERR_OK) {
			char msg[ERR_MSG_MAX + 64];

			snprintf(msg, sizeof(msg), "read replication change failed: %s", c->err.msg);
			apply_fail(ap, a, msg);
			failed = 1;
		}
		api_call_free(c);
	}
	for (size_t i = 0; i < a->nd1_found; i++) {
		const struct d1_migration *m = &a->want->u.d1.migrations[a->d1_found[i]];

		inv_migration_add(x, m->name, m->hash, MIG_FOUND);
	}
	for (size_t i = 0; !failed && i < a->nd1_run; i++)
		if (run_migration(ap, a, x, x->kv_id, &a->want->u.d1.migrations[a->d1_run[i]],
		                  a->nd1_run - i - 1) != 0)
			failed = 1;
	timefmt_format(ap->now, ts, sizeof(ts));
	inv_set(&x->updated, ts);
	if (!failed) {
		memcpy(x->spec_hash, a->spec_hash, sizeof(x->spec_hash));
		inv_set(&x->condition, "Ready");
		ap->res->done[a->op]++;
		log_info("applied", "kind=%s name=%s action=%s", kind_name(a->kind), a->name,
		         plan_op_name(a->op));
	}
	ap->dirty = 1;
	apply_save(ap, 1);
	if (!failed)
		apply_succeeded(ap, a);
}
