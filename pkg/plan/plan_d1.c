/*
 * plan, D1 databases: create, read replication, and schema migrations.
 *
 * A migration is applied when its file name is not a row of the database's
 * migrations table (wrangler's `d1_migrations`: id, name, applied_at), in
 * file-name order, as wrangler does. The state keeps each applied file's
 * content hash (never its SQL): a file whose hash differs from the recorded
 * one was edited after it ran, and the database is refused (migrations are
 * append-only). A row the state has no hash for (wrangler applied it, or a
 * batch committed but the run never heard) counts as applied, and the file's
 * hash at that moment is recorded (docs/decisions.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../mem/mem.h"
#include "plan_int.h"

static int
str_eq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static int
listed(const struct obs_d1 *d, const char *name)
{
	for (size_t i = 0; i < d->nmigs; i++)
		if (strcmp(d->migs[i], name) == 0)
			return 1;
	return 0;
}

/* Every declared migration on a database that does not exist yet. */
static void
all_pending(struct plan_action *a, const struct d1_database_spec *s)
{
	a->d1_run = xcalloc(s->nmigrations + 1, sizeof(*a->d1_run));
	for (size_t i = 0; i < s->nmigrations; i++) {
		a->d1_run[a->nd1_run++] = i;
		plan_add_change(a, '+', "migrations", "migration %s", s->migrations[i].name);
	}
}

/*
 * The declared migrations against the table's rows and the recorded hashes:
 * pending ones are planned in order, rows without a hash are recorded, and
 * an applied file that changed refuses the action (every such file named).
 * Returns 0, or -1 when refused.
 */
static int
plan_migrations(struct plan_action *a, const struct d1_database_spec *s,
                const struct obs_d1 *d, const struct inv_entry *inv)
{
	struct buf edited;
	size_t nedited = 0;

	buf_init(&edited, 4096);
	a->d1_run = xcalloc(s->nmigrations + 1, sizeof(*a->d1_run));
	a->d1_found = xcalloc(s->nmigrations + 1, sizeof(*a->d1_found));
	for (size_t i = 0; i < s->nmigrations; i++) {
		const struct d1_migration *m = &s->migrations[i];
		const struct inv_migration *rec = inv_migration_find(inv, m->name);

		if (listed(d, m->name)) {
			if (rec && strcmp(rec->hash, m->hash) != 0) {
				buf_printf(&edited, "%s'%s'", nedited ? ", " : "", m->name);
				nedited++;
			} else if (rec == NULL) {
				a->d1_found[a->nd1_found++] = i;
			}
			continue;
		}
		a->d1_run[a->nd1_run++] = i;
		if (rec)
			plan_add_change(a, '+', "migrations", "migration %s (recorded as applied, but "
			                "the table '%s' has no row for it)", m->name, s->migrations_table);
		else
			plan_add_change(a, '+', "migrations", "migration %s", m->name);
	}
	if (nedited) {
		a->op = PLAN_REFUSE;
		a->reason = xasprintf("migration%s %s changed after %s applied (content hash "
		                      "differs from the one recorded); migrations are append-only: "
		                      "restore the file and add a new migration instead",
		                      nedited == 1 ? "" : "s", edited.data,
		                      nedited == 1 ? "it was" : "they were");
		a->nd1_run = a->nd1_found = 0;
	}
	buf_release(&edited);
	return nedited ? -1 : 0;
}

void
plan_d1(struct plan *p, const struct resource *r, const struct snapshot *snap,
        const struct state *st)
{
	const struct d1_database_spec *s = &r->u.d1;
	const struct inv_entry *inv = state_find(st, KIND_D1DATABASE, r->name);
	const struct obs_d1 *d;
	struct plan_action *a = plan_add_action(p, PLAN_NOOP, KIND_D1DATABASE, r->name);

	a->want = r;
	a->what = xasprintf("database '%s'", s->database_name);
	plan_spec_hash(r, a->spec_hash);
	if (inv && !inv->pending) {
		if (inv->db_name && strcmp(inv->db_name, s->database_name) != 0) {
			a->op = PLAN_REFUSE;
			a->reason = xasprintf("requires replacement: the database is '%s' and D1 cannot "
			                      "rename one; cfstorage never deletes and recreates a "
			                      "database", inv->db_name);
			return;
		}
		if (!str_eq(inv->jurisdiction, s->jurisdiction) ||
		    !str_eq(inv->location_hint, s->location_hint)) {
			int j = !str_eq(inv->jurisdiction, s->jurisdiction);
			const char *was = j ? inv->jurisdiction : inv->location_hint;
			const char *now = j ? s->jurisdiction : s->location_hint;

			a->op = PLAN_REFUSE;
			a->reason = xasprintf("requires replacement: %s %s → %s is set only when a "
			                      "database is created; cfstorage never deletes and "
			                      "recreates a database", j ? "jurisdiction" : "locationHint",
			                      was ? was : "(none)", now ? now : "(none)");
			return;
		}
	}
	d = snapshot_d1_of(snap, inv && !inv->pending ? inv : NULL, s->database_name);
	a->od1 = d;
	if (d == NULL && inv && inv->kv_id && snapshot_d1_name(snap, s->database_name)) {
		a->op = PLAN_REFUSE;
		a->reason = xasprintf("database '%s' (%s) is gone, and another database with that "
		                      "name exists: run 'cfstorage import D1Database %s' to take it "
		                      "over", s->database_name, inv->kv_id, r->name);
		return;
	}
	if (d == NULL) {
		a->op = PLAN_CREATE;
		a->create = 1;
		if (inv && !inv->pending)
			a->reason = xstrdup("it was deleted outside cfstorage; creating it again (every "
			                    "migration runs again)");
		if (s->location_hint)
			plan_add_change(a, '+', "locationHint", "locationHint: %s", s->location_hint);
		if (s->jurisdiction)
			plan_add_change(a, '+', "jurisdiction", "jurisdiction: %s", s->jurisdiction);
		if (s->read_replication)
			plan_add_change(a, '+', "readReplication", "readReplication: %s",
			                s->read_replication);
		all_pending(a, s);
		return;
	}
	if (!str_eq(d->jurisdiction, s->jurisdiction) &&
	    !(d->jurisdiction == NULL && s->jurisdiction == NULL)) {
		a->op = PLAN_REFUSE;
		a->reason = xasprintf("requires replacement: the database is in jurisdiction %s, "
		                      "the manifest says %s; a jurisdiction is set only when a "
		                      "database is created", d->jurisdiction ? d->jurisdiction : "(none)",
		                      s->jurisdiction ? s->jurisdiction : "(none)");
		return;
	}
	if (inv == NULL) {
		if (!r->adopt) {
			a->op = PLAN_REFUSE;
			a->reason = xasprintf("database '%s' exists in the account but cfstorage does "
			                      "not own it; set 'adopt: true' or run 'cfstorage import "
			                      "D1Database %s'", s->database_name, r->name);
			return;
		}
		a->op = PLAN_ADOPT;
		a->record = 1;
	} else if (inv->pending) {
		a->reason = xstrdup("completing a create that was interrupted");
		a->record = 1;
	}
	if (s->has_migrations && d->migs_error) {
		a->op = PLAN_REFUSE;
		a->reason = xstrdup(d->migs_error);
		a->record = 0;
		return;
	}
	if (s->read_replication && d->read_replication &&
	    strcmp(s->read_replication, d->read_replication) != 0) {
		plan_add_change_ba(a, '~', "readReplication", d->read_replication, s->read_replication,
		                   "readReplication: %s → %s", d->read_replication,
		                   s->read_replication);
		a->set_replication = 1;
	}
	if (s->has_migrations && d->migs_read && plan_migrations(a, s, d, inv) != 0)
		return;
	if (a->nd1_found) {
		struct buf b;

		buf_init(&b, 1024);
		for (size_t i = 0; i < a->nd1_found && i < 3; i++)
			buf_printf(&b, "%s%s", i ? ", " : "", s->migrations[a->d1_found[i]].name);
		a->note = xasprintf("%zu migration%s applied outside cfstorage (%s%s): recorded as "
		                    "applied, with the file's content hash as it is now",
		                    a->nd1_found, a->nd1_found == 1 ? "" : "s", b.data,
		                    a->nd1_found > 3 ? ", ..." : "");
		buf_release(&b);
		a->record = 1;
	}
	if (inv)
		plan_record_policy(a, r, inv);
	if (inv && inv->allow_data_loss != s->allow_data_loss)
		a->record = 1;
	if (a->op == PLAN_NOOP && a->nchanges)
		a->op = PLAN_UPDATE;
}

/*
 * A database that left the manifests: as other kinds (plan.c plan_orphan),
 * and a database that holds tables of its own (anything but sqlite_*, _cf_*
 * and the migrations table) is deleted only when its recorded
 * allowDataLoss is true.
 */
void
plan_d1_orphan(struct plan *p, const struct inv_entry *x, const struct snapshot *snap,
               const struct manifest_set *want, const struct plan_opts *o)
{
	struct plan_action *a = plan_add_action(p, PLAN_NOOP, x->kind, x->name);
	const struct obs_d1 *d = snapshot_d1_of(snap, x, x->name);

	a->what = xasprintf("database '%s'", x->db_name ? x->db_name : x->name);
	a->od1 = d;
	if (plan_orphan_kept(a, x, d != NULL, want, o))
		return;
	if (!x->allow_data_loss && d->user_tables != 0) {
		a->op = PLAN_REFUSE;
		if (d->user_tables < 0)
			a->reason = xstrdup("its tables could not be counted: not deleted (set "
			                    "'allowDataLoss: true' to delete a database with data)");
		else
			a->reason = xasprintf("database holds %ld table%s of its own: not deleted "
			                      "(deletionPolicy Delete needs 'allowDataLoss: true' for "
			                      "a database with data)", d->user_tables,
			                      d->user_tables == 1 ? "" : "s");
		return;
	}
	a->op = PLAN_DELETE;
	a->del = 1;
	a->reason = xstrdup("no longer in the manifests; deletionPolicy Delete and --prune");
}
