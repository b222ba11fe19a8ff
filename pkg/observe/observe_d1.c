/*
 * observe, D1 databases: the list, and per database only the reads its plan
 * needs (observe.h). Reads of the migrations table are plain SELECTs: names
 * only, never a row of user data.
 */
#include "observe.h"

#include <stdlib.h>
#include <string.h>

#include "../mem/mem.h"

const struct obs_d1 *
snapshot_d1_uuid(const struct snapshot *s, const char *uuid)
{
	for (size_t i = 0; uuid && i < s->nd1s; i++)
		if (strcmp(s->d1s[i].uuid, uuid) == 0)
			return &s->d1s[i];
	return NULL;
}

const struct obs_d1 *
snapshot_d1_name(const struct snapshot *s, const char *name)
{
	for (size_t i = 0; name && i < s->nd1s; i++)
		if (strcmp(s->d1s[i].name, name) == 0)
			return &s->d1s[i];
	return NULL;
}

const struct obs_d1 *
snapshot_d1_of(const struct snapshot *s, const struct inv_entry *x, const char *name)
{
	if (x && x->kv_id)
		return snapshot_d1_uuid(s, x->kv_id);
	return snapshot_d1_name(s, x && x->db_name ? x->db_name : name);
}

void
snapshot_d1_release(struct snapshot *s)
{
	for (size_t i = 0; i < s->nd1s; i++)
		obs_d1_release(&s->d1s[i]);
	free(s->d1s);
	s->d1s = NULL;
	s->nd1s = 0;
}

enum d1_read { READ_GET, READ_MIGS, READ_TABLES };

struct d1_job {
	struct obs_d1 *d;
	enum d1_read what;
	const char *table;       /* READ_MIGS: the declared migrations table */
	enum errcode *rc;
	struct err *e;
};

/* A migrations table that does not exist yet is an empty one: SQLite's
 * "no such table" (D1 passes the SQLite message through, code 7500). */
static int
no_such_table(const struct api_call *c)
{
	return c->status == 400 && strstr(c->err.msg, "no such table") != NULL;
}

/*
 * A read's answer into its database. A migrations table that SQL cannot read
 * as wrangler's (a column missing: D1's SQL error) or that holds a row with
 * no name (the history is ambiguous) is that database's problem: recorded in
 * d->migs_error, and its plan refuses it; any other failure fails the pass.
 */
static void
on_read(struct api_call *c, void *user)
{
	struct d1_job *j = user;
	struct obs_d1 *d = j->d;
	const char *what = j->what == READ_GET ? "the database" : j->what == READ_MIGS
	                   ? "the migrations table" : "the tables";

	if (c->rc != ERR_OK && j->what == READ_MIGS && c->cf_code == API_CF_D1_ERROR &&
	    !no_such_table(c)) {
		free(d->migs_error);
		d->migs_error = xasprintf("its migrations table '%s' does not have wrangler's "
		                          "columns (id, name, applied_at): %s", j->table, c->err.msg);
	} else if (c->rc != ERR_OK && !(j->what == READ_MIGS && no_such_table(c))) {
		if (*j->rc == ERR_OK)
			*j->rc = err_set(j->e, c->rc, "reading %s of D1 database '%s': %s", what,
			                 d->name, c->err.msg);
	} else if (j->what == READ_GET) {
		struct obs_d1 got;

		if (api_parse_d1(c, &got) == 0 && got.read_replication) {
			d->read_replication = got.read_replication;
			got.read_replication = NULL; /* hand-over */
		}
		obs_d1_release(&got);
		if (d->read_replication == NULL)
			d->read_replication = xstrdup("disabled"); /* not shown: never enabled */
	} else {
		char **names = NULL;
		long n = c->rc == ERR_OK ? api_d1_rows(c, 0, "name", &names) : 0;

		if (n == -2 && j->what == READ_MIGS) {
			free(d->migs_error);
			d->migs_error = xasprintf("its migrations table '%s' has a row whose name is "
			                          "NULL or not a file name: which migrations ran is "
			                          "ambiguous; fix the table's rows", j->table);
		} else if (n < 0) {
			if (*j->rc == ERR_OK)
				*j->rc = err_set(j->e, ERR_PERMANENT, "reading %s of D1 database '%s': "
				                 "unexpected answer", what, d->name);
		} else if (j->what == READ_MIGS) {
			d->migs = names;
			d->nmigs = (size_t)n;
			d->migs_read = 1;
			names = NULL;
		} else {
			d->user_tables = n;
		}
		for (long i = 0; names && i < n; i++)
			free(names[i]);
		free(names);
	}
	free(j);
}

static void
queue(struct api *a, struct obs_d1 *d, enum d1_read what, const char *table,
      enum errcode *rc, struct err *e)
{
	struct d1_job *j = xcalloc(1, sizeof(*j));
	struct api_call *c;

	j->d = d;
	j->what = what;
	j->table = table;
	j->rc = rc;
	j->e = e;
	if (what == READ_GET) {
		c = api_op_d1_get(d->uuid);
	} else {
		/* the table name is an SQL name checked at validation (parse.c) */
		const char *param[1] = { table };
		char *sql = what == READ_MIGS
		    ? xasprintf("SELECT name, applied_at FROM \"%s\" ORDER BY id", table)
		    : xstrdup("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT "
		              "LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_cf\\_%' ESCAPE "
		              "'\\' AND name <> ?1");
		struct api_d1_stmt s = { sql, strlen(sql), what == READ_MIGS ? NULL : param,
		                         what == READ_MIGS ? 0 : 1 };

		c = api_op_d1_select(d->uuid, &s);
		free(sql);
	}
	api_submit(a, c, on_read, j);
}

enum errcode
observe_d1(struct api *a, const struct manifest_set *want, const struct state *st, int prune,
           const struct observe_sel *sel, struct snapshot *snap, struct err *e)
{
	enum errcode rc = ERR_OK;
	int need = manifest_count(want, KIND_D1DATABASE) > 0;

	for (size_t i = 0; i < st->n && !need; i++)
		need = st->v[i]->kind == KIND_D1DATABASE;
	if (!need)
		return ERR_OK;
	if ((rc = api_d1_list(a, &snap->d1s, &snap->nd1s, e)) != ERR_OK)
		return rc;
	snap->listed_d1 = 1;
	/* only now is the array final: the reads keep pointers into it */
	for (size_t i = 0; i < want->n; i++) {
		const struct resource *r = &want->items[i];
		struct obs_d1 *d;

		if (r->kind != KIND_D1DATABASE)
			continue;
		d = (struct obs_d1 *)snapshot_d1_of(snap, state_find(st, KIND_D1DATABASE, r->name),
		                                    r->u.d1.database_name);
		if (d == NULL)
			continue;
		if (r->u.d1.read_replication && d->read_replication == NULL &&
		    (sel == NULL || sel->want(KIND_D1DATABASE, r->name, OBS_D1_REPLICATION, sel->user)))
			queue(a, d, READ_GET, NULL, &rc, e);
		if (r->u.d1.has_migrations && !d->migs_read &&
		    (sel == NULL || sel->want(KIND_D1DATABASE, r->name, OBS_D1_MIGRATIONS, sel->user)))
			queue(a, d, READ_MIGS, r->u.d1.migrations_table, &rc, e);
	}
	for (size_t i = 0; prune && i < st->n; i++) {
		const struct inv_entry *x = st->v[i];
		struct obs_d1 *d;

		if (x->kind != KIND_D1DATABASE || x->policy != DELETION_DELETE ||
		    x->allow_data_loss || manifest_find(want, KIND_D1DATABASE, x->name))
			continue;
		if ((d = (struct obs_d1 *)snapshot_d1_of(snap, x, x->name)) != NULL &&
		    d->user_tables < 0)
			queue(a, d, READ_TABLES, x->migrations_table ? x->migrations_table
			      : D1_DEFAULT_MIGRATIONS_TABLE, &rc, e); /* not a table of its own */
	}
	api_wait(a);
	return rc;
}
