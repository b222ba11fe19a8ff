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
 * log2(statements) + 2 extra requests, only after a failure of SQL (D1's
 * 7500; any other refusal fails the migration with the server's message).
 * When every item ran, the COMMIT failed (a deferred foreign key).
 *
 * Each D1Database action is a job of apply's machine, as a Secret is: a step
 * enum (enum dstep) advanced from API callbacks, one call in flight per
 * database, so the migrations of one database keep their order (each batch
 * is sent only after the previous one's row is recorded and the state saved)
 * while databases, buckets, namespaces and Secrets progress together within
 * the API's concurrency and request budget. A cancelled run (SIGINT) fails
 * the next call of every job, so each database stops between two steps with
 * what it did recorded; the hook hears each action once, as its job ends.
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
/* D1: queries in one batch. A probe of the whole batch (is it the COMMIT that
 * fails?) is one more than the batch, so it is sent only when it fits. */
#define D1_BATCH_QUERIES_MAX 1000

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

/* A D1Database job's steps; the ones marked (call) send one. */
enum dstep {
	DS_START = 0,
	DS_CREATE,      /* (call) the create */
	DS_LOOKUP,      /* (call) a list page: the database after a create that got no
	                   answer or was refused as existing */
	DS_SETUP,       /* the inventory's record of the declared fields */
	DS_REPLICATION, /* (call) the read replication mode */
	DS_FOUND,       /* rows of the table the state lacked, recorded */
	DS_MIGRATE,     /* (call) the batch of migration d1_run[mig] */
	DS_PROBE,       /* (call) a bisection probe of the batch that failed */
	DS_DELETE,      /* (call) the delete */
	DS_FORGET,      /* the inventory's record goes */
	DS_FINISH,      /* the outcome recorded and saved */
	DS_DONE,
};

/* One D1Database action's job: one call in flight at a time. */
struct d1_job {
	struct applier *ap;
	struct plan_action *a;
	enum dstep step;
	int wa_new;              /* the write-ahead added the inventory entry */
	int failed;              /* a failure is recorded: no migration is sent after it */
	unsigned create_attempts;
	int page;                /* DS_LOOKUP: the list page (1-based) */
	size_t mig;              /* the next migration, an index into a->d1_run */
	struct mig_batch b;      /* the batch of d1_run[mig] while it is sent or bisected */
	char *why;               /* the failed batch's error: the server's, else ours */
	struct api_d1_stmt *scratch; /* a probe's items */
	size_t lo, hi;           /* bisection: the prefix [0, lo) runs, [0, hi) fails */
	int no_commit_probe;     /* the whole batch and a probe are over D1's batch size */
};

static void job_advance(struct d1_job *j);

/* The inventory entry of the job's database (stable: entries never move). */
static struct inv_entry *
inv(const struct d1_job *j)
{
	return state_find(j->ap->st, j->a->kind, j->a->name);
}

/* Records a failure of the job's action (told to the hook when the job
 * ends); no migration is sent after it. */
static void
d1_fail(struct d1_job *j, const char *msg)
{
	apply_fail(j->ap, j->a, msg);
	j->failed = 1;
}

static void on_call(struct api_call *c, void *user);

static void
submit(struct d1_job *j, struct api_call *c)
{
	api_submit(j->ap->api, c, on_call, j);
}

/* ---- create ---- */

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
	inv_set(&x->migrations_table, strcmp(s->migrations_table, D1_DEFAULT_MIGRATIONS_TABLE) == 0
	        ? NULL : s->migrations_table); /* prune tells it from the user's tables */
	ap->dirty = 1;
}

/* Write-ahead: a create is recorded as pending, with no migration (a new
 * database holds none), and saved before it is sent. 0, or -1 after
 * recording that the state could not be saved. */
static int
write_ahead(struct d1_job *j)
{
	struct inv_entry *x;

	j->wa_new = inv(j) == NULL;
	x = state_upsert(j->ap->st, j->a->kind, j->a->name);
	record_fields(j->ap, j->a, x);
	inv_set(&x->kv_id, NULL);
	x->pending = 1;
	for (size_t i = 0; i < x->nmigs; i++)
		free(x->migs[i].name);
	free(x->migs);
	x->migs = NULL;
	x->nmigs = 0;
	apply_save(j->ap, 1);
	if (j->ap->res->state_error) {
		d1_fail(j, "the state could not be saved: nothing was sent");
		return -1;
	}
	return 0;
}

/* A create that certainly did not happen must not stay pending: an entry the
 * write-ahead added goes; an older one keeps its record, no longer pending. */
static void
unpend(struct d1_job *j)
{
	struct inv_entry *x = inv(j);

	if (x && j->wa_new)
		state_remove(j->ap->st, j->a->kind, j->a->name);
	else if (x)
		x->pending = 0;
	j->ap->dirty = 1;
	apply_save(j->ap, 1);
}

/* The database exists with `uuid`: recorded, no longer pending, saved. */
static void
created(struct d1_job *j, const char *uuid)
{
	struct inv_entry *x = inv(j);

	inv_set(&x->kv_id, uuid);
	x->pending = 0;
	j->ap->dirty = 1;
	apply_save(j->ap, 1);
	j->step = DS_SETUP;
}

/*
 * The create's answer. One that got no answer, or was refused as existing
 * (wrangler's 7502), is looked up in the list before it is sent again
 * (no_blind_retry); any other refusal ends the job.
 */
static void
create_answer(struct d1_job *j, struct api_call *c)
{
	struct obs_d1 d;
	char msg[ERR_MSG_MAX + 64];

	memset(&d, 0, sizeof(d));
	if (c->rc == ERR_OK && api_parse_d1(c, &d) == 0) {
		created(j, d.uuid);
	} else if (c->rc == ERR_OK || c->rc == ERR_TRANSIENT || c->rc == ERR_CONFLICT ||
	           c->cf_code == API_CF_D1_EXISTS) {
		j->step = DS_LOOKUP;
		j->page = 1;
	} else {
		snprintf(msg, sizeof(msg), "create failed: %s", c->err.msg);
		d1_fail(j, msg);
		unpend(j);
		j->step = DS_DONE;
	}
	obs_d1_release(&d);
}

/* A list page's answer: the database found by name, or the next page, or the
 * create again (at most APPLY_CREATE_ATTEMPTS in all). */
static void
lookup_answer(struct d1_job *j, struct api_call *c)
{
	const char *name = j->a->want->u.d1.database_name;
	struct obs_d1 *v = NULL;
	size_t n = 0;
	int last = 1, count = c->rc == ERR_OK ? api_parse_d1_page(c, j->page, &v, &n, &last) : -1;
	const char *uuid = NULL;
	char msg[ERR_MSG_MAX + 64];

	for (size_t i = 0; i < n && !uuid; i++)
		if (strcmp(v[i].name, name) == 0)
			uuid = v[i].uuid;
	if (uuid) {
		created(j, uuid);
	} else if (count < 0) {
		/* the list did not answer: the create may have happened, so the
		 * entry stays pending and the next run's listing settles it */
		snprintf(msg, sizeof(msg), "create could not be confirmed: %s", c->err.msg);
		d1_fail(j, msg);
		j->step = DS_DONE;
	} else if (!last && j->page < API_D1_LIST_MAX_PAGES) {
		j->page++; /* the same step asks for the next page */
	} else if (j->create_attempts < APPLY_CREATE_ATTEMPTS) {
		j->step = DS_CREATE;
	} else {
		d1_fail(j, "create failed: the database is still absent after retries");
		unpend(j);
		j->step = DS_DONE;
	}
	for (size_t i = 0; i < n; i++)
		obs_d1_release(&v[i]);
	free(v);
}

/* ---- migrations ---- */

/* The migration the job is at. */
static const struct d1_migration *
cur_mig(const struct d1_job *j)
{
	return &j->a->want->u.d1.migrations[j->a->d1_run[j->mig]];
}

/* "; N later migrations not run" after the one the job is at, or "". */
static void
not_run(const struct d1_job *j, char *buf, size_t size)
{
	size_t later = j->a->nd1_run - j->mig - 1;

	buf[0] = '\0';
	if (later)
		snprintf(buf, size, "; %zu later migration%s not run", later, later == 1 ? "" : "s");
}

/* The batch of the next migration, or NULL after recording why it cannot be
 * sent (the file could not be read, or the request is too large). */
static struct api_call *
batch_call(struct d1_job *j)
{
	const struct d1_database_spec *s = &j->a->want->u.d1;
	const struct d1_migration *m = cur_mig(j);
	struct api_call *c = NULL;
	struct err e;
	char *msg = NULL, notrun[96];

	err_clear(&e);
	not_run(j, notrun, sizeof(notrun));
	if (batch_build(s, m, &j->b, &e) != ERR_OK)
		msg = xasprintf("migration %s: %s%s", m->name, e.msg, notrun);
	else if ((c = api_op_d1_batch(inv(j)->kv_id, j->b.v, j->b.n)) == NULL)
		msg = xasprintf("migration %s is over %u bytes as a request%s", m->name,
		                API_D1_BODY_MAX, notrun);
	if (msg)
		d1_fail(j, msg);
	free(msg);
	return c;
}

/*
 * The failed migration's message, recorded: at is the index into the batch
 * of the item that failed (the bisection's finding), or -1 when it is not
 * known. Item 0 is the table's CREATE, the last the INSERT of its row; at
 * the batch's length, every item ran and the COMMIT failed (a deferred
 * foreign key).
 */
static void
mig_report(struct d1_job *j, long at)
{
	const struct d1_database_spec *s = &j->a->want->u.d1;
	const struct d1_migration *m = cur_mig(j);
	const struct mig_batch *b = &j->b;
	char *path = shown_path(s, m), *msg, notrun[96];

	not_run(j, notrun, sizeof(notrun));
	if (at >= 1 && (size_t)at <= b->nst)
		msg = xasprintf("migration %s failed at %s:%u: %s (nothing of it was applied)%s",
		                m->name, path, b->st[at - 1].line, j->why, notrun);
	else if (at == (long)b->nst + 1)
		msg = xasprintf("migration %s: recording it in the table '%s'%s failed: %s "
		                "(nothing of it was applied)%s", m->name, s->migrations_table,
		                j->no_commit_probe ? " or the COMMIT" : "", j->why, notrun);
	else if (at == 0)
		msg = xasprintf("migration %s: creating the table '%s' failed: %s%s", m->name,
		                s->migrations_table, j->why, notrun);
	else if (at == (long)b->n)
		msg = xasprintf("migration %s: %s: failed at commit: %s (nothing of it was "
		                "applied)%s", m->name, path, j->why, notrun);
	else
		msg = xasprintf("migration %s failed (%s): %s (nothing of it was applied)%s",
		                m->name, path, j->why, notrun);
	d1_fail(j, msg);
	free(msg);
	free(path);
}

/*
 * The batch's answer. Applied: its row is in the table (same transaction),
 * so the state records it and is saved before the next batch is sent. No
 * answer: it committed or not, wholly; the next plan reads its row. Refused:
 * the bisection finds the statement.
 */
static void
batch_answer(struct d1_job *j, struct api_call *c)
{
	const struct d1_migration *m = cur_mig(j);
	char *srv, *msg, notrun[96];

	if (c->rc == ERR_OK) {
		inv_migration_add(inv(j), m->name, m->hash, MIG_APPLIED);
		j->ap->dirty = 1;
		apply_save(j->ap, 1);
		log_info("migration applied", "kind=D1Database name=%s migration=%s statements=%zu",
		         j->a->name, m->name, j->b.nst);
		if (j->ap->res->state_error) {
			/* what is not recorded is not built on: no later batch */
			not_run(j, notrun, sizeof(notrun));
			msg = xasprintf("migration %s was applied, but the state could not be saved: "
			                "%s%s", m->name, j->ap->res->state_err.msg, notrun);
			d1_fail(j, msg);
			free(msg);
		}
		batch_release(&j->b);
		j->mig++;
		return;
	}
	if (c->rc == ERR_TRANSIENT || c->status >= 500 || c->status == 0) {
		not_run(j, notrun, sizeof(notrun));
		msg = xasprintf("migration %s: no answer (%s); its outcome is read from the "
		                "table '%s' on the next run%s", m->name, c->err.msg,
		                j->a->want->u.d1.migrations_table, notrun);
		d1_fail(j, msg);
		free(msg);
		return;
	}
	srv = api_d1_error(c);
	j->why = srv ? srv : xstrdup(c->err.msg);
	if (c->cf_code != API_CF_D1_ERROR) {
		/* not an SQL error (a malformed request, no such database, ...):
		 * no statement to find, so no probe */
		not_run(j, notrun, sizeof(notrun));
		msg = xasprintf("migration %s was refused: %s (nothing of it was applied)%s",
		                m->name, j->why, notrun);
		d1_fail(j, msg);
		free(msg);
		return;
	}
	j->scratch = xcalloc(j->b.n + 1, sizeof(*j->scratch));
	j->lo = 0;          /* the empty prefix runs */
	j->hi = j->b.n + 1; /* the whole batch and its COMMIT do not */
	if (j->hi > D1_BATCH_QUERIES_MAX) {
		j->hi = j->b.n; /* no room for the commit probe */
		j->no_commit_probe = 1;
	}
	j->step = DS_PROBE;
}

/* The next probe: the batch's first `mid` items (all of them: whether the
 * COMMIT is what failed), then D1_PROBE_SQL, which fails, so nothing of it
 * stays; NULL when it is too large to send. */
static struct api_call *
probe_call(struct d1_job *j)
{
	size_t mid = j->lo + (j->hi - j->lo) / 2;

	memcpy(j->scratch, j->b.v, mid * sizeof(*j->scratch));
	j->scratch[mid] = (struct api_d1_stmt){ D1_PROBE_SQL, strlen(D1_PROBE_SQL), NULL, 0 };
	return api_op_d1_batch(inv(j)->kv_id, j->scratch, mid + 1);
}

/*
 * A probe's answer: its own error (the probe table named) means the prefix
 * ran, another error that an item of it failed. An answer that says neither
 * (no answer, a success) ends the bisection not knowing the statement.
 */
static void
probe_answer(struct d1_job *j, struct api_call *c)
{
	size_t mid = j->lo + (j->hi - j->lo) / 2;
	char *msg;
	int ran;

	if (c->rc == ERR_OK || c->rc == ERR_TRANSIENT || c->status >= 500 || c->status == 0) {
		mig_report(j, -1);
		j->step = DS_FINISH;
		return;
	}
	msg = api_d1_error(c);
	ran = strstr(msg ? msg : c->err.msg, D1_PROBE_TABLE) != NULL;
	free(msg);
	if (ran)
		j->lo = mid;
	else
		j->hi = mid;
}

/* ---- the job ---- */

/* Every call of a D1 job answers here; the job then goes on. */
static void
on_call(struct api_call *c, void *user)
{
	struct d1_job *j = user;
	char msg[ERR_MSG_MAX + 64];

	switch (j->step) {
	case DS_CREATE:
		create_answer(j, c);
		break;
	case DS_LOOKUP:
		lookup_answer(j, c);
		break;
	case DS_REPLICATION:
		if (c->rc != ERR_OK) {
			snprintf(msg, sizeof(msg), "read replication change failed: %s", c->err.msg);
			d1_fail(j, msg);
		}
		j->step = DS_FOUND;
		break;
	case DS_MIGRATE:
		batch_answer(j, c);
		break;
	case DS_PROBE:
		probe_answer(j, c);
		break;
	case DS_DELETE:
		if (c->rc == ERR_OK || c->rc == ERR_NOTFOUND) {
			j->step = DS_FORGET;
		} else {
			snprintf(msg, sizeof(msg), "delete failed: %s", c->err.msg);
			d1_fail(j, msg);
			j->step = DS_DONE;
		}
		break;
	default:
		abort();
	}
	job_advance(j);
}

/* The first step: a forget or delete, else a create (written ahead) or the
 * record of a database that exists. */
static enum dstep
first_step(struct d1_job *j)
{
	if (j->a->op == PLAN_FORGET)
		return DS_FORGET;
	if (j->a->op == PLAN_DELETE)
		return DS_DELETE;
	if (j->a->create)
		return write_ahead(j) == 0 ? DS_CREATE : DS_DONE;
	return DS_SETUP;
}

/* A database that exists (observed, or just created): the inventory records
 * it as declared. */
static void
setup(struct d1_job *j)
{
	struct plan_action *a = j->a;
	struct inv_entry *x = state_upsert(j->ap->st, a->kind, a->name);

	if (!a->create && a->od1) {
		inv_set(&x->kv_id, a->od1->uuid);
		x->pending = 0;
	}
	if (a->op == PLAN_ADOPT)
		x->origin = a->imported ? ORIGIN_IMPORTED : ORIGIN_ADOPTED;
	record_fields(j->ap, a, x);
}

/* The outcome: on success, the spec hash and Ready; saved either way. */
static void
finish(struct d1_job *j)
{
	struct plan_action *a = j->a;
	struct inv_entry *x = inv(j);
	char ts[32];

	timefmt_format(j->ap->now, ts, sizeof(ts));
	inv_set(&x->updated, ts);
	if (!j->failed) {
		memcpy(x->spec_hash, a->spec_hash, sizeof(x->spec_hash));
		inv_set(&x->condition, "Ready");
		j->ap->res->done[a->op]++;
		log_info("applied", "kind=%s name=%s action=%s", kind_name(a->kind), a->name,
		         plan_op_name(a->op));
	}
	j->ap->dirty = 1;
	apply_save(j->ap, 1);
}

/* The call of the job's step, or NULL when the step sends none (then it has
 * moved the job on). */
static struct api_call *
step_call(struct d1_job *j)
{
	struct plan_action *a = j->a;
	struct api_call *c;

	switch (j->step) {
	case DS_CREATE:
		j->create_attempts++;
		return api_op_d1_create(a->want->u.d1.database_name, a->want->u.d1.location_hint,
		                        a->want->u.d1.jurisdiction, a->want->u.d1.read_replication);
	case DS_LOOKUP:
		return api_op_d1_list_page(j->page, API_D1_PAGE);
	case DS_REPLICATION:
		if (a->set_replication)
			return api_op_d1_replication(inv(j)->kv_id, a->want->u.d1.read_replication);
		j->step = DS_FOUND;
		return NULL;
	case DS_MIGRATE:
		if (!j->failed && j->mig < a->nd1_run && j->ap->res->state_error)
			d1_fail(j, "the state could not be saved: no migration was sent");
		if (!j->failed && j->mig < a->nd1_run)
			return batch_call(j); /* NULL: recorded why it was not sent */
		j->step = DS_FINISH;
		return NULL;
	case DS_PROBE:
		if (j->hi - j->lo > 1 && (c = probe_call(j)) != NULL)
			return c;
		mig_report(j, j->hi - j->lo > 1 ? -1 : (long)j->lo); /* -1: a probe too large */
		j->step = DS_FINISH;
		return NULL;
	case DS_DELETE:
		return api_op_d1_delete(a->od1->uuid);
	default:
		abort();
	}
}

static void
job_free(struct d1_job *j)
{
	batch_release(&j->b);
	free(j->why);
	free(j->scratch);
	free(j);
}

/*
 * Advances j until it sends a call (its answer comes back through on_call)
 * or ends. Steps run in the order
 *   create (written ahead; a lookup when unanswered) → record → read
 *   replication → found rows → one batch per pending migration, in order,
 *   until the first failure (then its bisection probes) → outcome
 * or delete → forget. Every outcome is recorded in the state as it happens.
 */
static void
job_advance(struct d1_job *j)
{
	struct api_call *c;

	for (;;) {
		switch (j->step) {
		case DS_START:
			j->step = first_step(j);
			continue;
		case DS_SETUP:
			setup(j);
			j->step = DS_REPLICATION;
			continue;
		case DS_FOUND:
			for (size_t i = 0; i < j->a->nd1_found; i++) {
				const struct d1_migration *m =
					&j->a->want->u.d1.migrations[j->a->d1_found[i]];

				inv_migration_add(inv(j), m->name, m->hash, MIG_FOUND);
			}
			j->mig = 0;
			j->step = DS_MIGRATE;
			continue;
		case DS_FORGET:
			state_remove(j->ap->st, j->a->kind, j->a->name);
			j->ap->dirty = 1;
			j->ap->res->done[j->a->op]++;
			apply_save(j->ap, 1);
			j->step = DS_DONE;
			continue;
		case DS_FINISH:
			finish(j);
			j->step = DS_DONE;
			continue;
		case DS_DONE:
			apply_finished(j->ap, j->a); /* told once, as it ends */
			job_free(j);
			return;
		default:
			if ((c = step_call(j)) == NULL)
				continue;
			submit(j, c);
			return;
		}
	}
}

void
apply_d1(struct applier *ap, struct plan_action *a)
{
	struct d1_job *j;

	if (a->op == PLAN_REFUSE || (a->op == PLAN_NOOP && !a->record))
		return;
	if (ap->res->state_error)
		return; /* nothing is sent that could not be recorded */
	j = xcalloc(1, sizeof(*j));
	j->ap = ap;
	j->a = a;
	j->step = DS_START;
	job_advance(j);
}
