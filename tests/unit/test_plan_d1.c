/* Unit tests for pkg/plan's D1 databases (plan_d1.c), from plain values: a
 * D1Database resource built in memory (migration names and hashes, no
 * files), an observed database with its migrations table's rows, and an
 * in-memory inventory. Also the SQL splitter apply relies on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../pkg/api/api.h"
#include "../../pkg/mem/mem.h"
#include "../../pkg/plan/plan.h"

struct fx {
	struct manifest_set set;
	struct snapshot snap;
	struct state *st;
	struct plan p;
	struct plan_opts o;
};

static int
setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));

	manifest_set_init(&f->set);
	f->st = state_new();
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	plan_release(&f->p);
	snapshot_release(&f->snap);
	state_close(f->st);
	manifest_set_free(&f->set);
	free(f);
	return 0;
}

/* A declared database `name` with migrations "NAME=HASH" (NULL-terminated). */
static struct resource *
want_db(struct fx *f, const char *name, const char *const *migs)
{
	struct resource *r;
	struct d1_database_spec *s;

	f->set.items = xrealloc(f->set.items, (f->set.n + 1) * sizeof(*f->set.items));
	r = &f->set.items[f->set.n++];
	memset(r, 0, sizeof(*r));
	r->kind = KIND_D1DATABASE;
	r->name = xstrdup(name);
	s = &r->u.d1;
	s->database_name = xstrdup(name);
	s->migrations_table = xstrdup(D1_DEFAULT_MIGRATIONS_TABLE);
	s->migrations_dir = xstrdup("migrations");
	for (size_t i = 0; migs && migs[i]; i++) {
		const char *eq = strchr(migs[i], '=');

		s->has_migrations = 1;
		s->migrations = xrealloc(s->migrations, (s->nmigrations + 1) * sizeof(*s->migrations));
		memset(&s->migrations[s->nmigrations], 0, sizeof(*s->migrations));
		s->migrations[s->nmigrations].name = xstrndup(migs[i], (size_t)(eq - migs[i]));
		snprintf(s->migrations[s->nmigrations].hash, 17, "%s", eq + 1);
		s->nmigrations++;
	}
	if (migs)
		s->has_migrations = 1;
	return r;
}

/* The account's database, with the migrations table's rows (NULL: not read). */
static struct obs_d1 *
have_db(struct fx *f, const char *uuid, const char *name, const char *juris,
        const char *replication, const char *const *rows)
{
	struct obs_d1 *d;

	f->snap.d1s = xrealloc(f->snap.d1s, (f->snap.nd1s + 1) * sizeof(*d));
	d = &f->snap.d1s[f->snap.nd1s++];
	memset(d, 0, sizeof(*d));
	d->uuid = xstrdup(uuid);
	d->name = xstrdup(name);
	d->jurisdiction = juris ? xstrdup(juris) : NULL;
	d->read_replication = replication ? xstrdup(replication) : NULL;
	d->user_tables = -1;
	if (rows) {
		d->migs_read = 1;
		for (size_t i = 0; rows[i]; i++) {
			d->migs = xrealloc(d->migs, (d->nmigs + 1) * sizeof(*d->migs));
			d->migs[d->nmigs++] = xstrdup(rows[i]);
		}
	}
	f->snap.listed_d1 = 1;
	return d;
}

/* An owned database in the inventory with migrations "NAME=HASH". */
static struct inv_entry *
owned(struct fx *f, const char *name, const char *uuid, const char *const *migs)
{
	struct inv_entry *x = state_upsert(f->st, KIND_D1DATABASE, name);

	inv_set(&x->kv_id, uuid);
	inv_set(&x->db_name, name);
	for (size_t i = 0; migs && migs[i]; i++) {
		const char *eq = strchr(migs[i], '=');
		char *n = xstrndup(migs[i], (size_t)(eq - migs[i]));

		inv_migration_add(x, n, eq + 1, MIG_APPLIED);
		free(n);
	}
	return x;
}

static struct plan_action *
plan(struct fx *f)
{
	struct err e;

	plan_release(&f->p);
	assert_int_equal(plan_compute(&f->set, &f->snap, f->st, &f->o, &f->p, &e), ERR_OK);
	assert_true(f->p.n >= 1);
	return &f->p.v[0];
}

static int
has_change(const struct plan_action *a, const char *text)
{
	for (size_t i = 0; i < a->nchanges; i++)
		if (strcmp(a->changes[i].text, text) == 0)
			return 1;
	return 0;
}

static const char *const three[] = { "0001_init.sql=1111111111111111",
	                             "0002_users.sql=2222222222222222",
	                             "0003_add_index.sql=3333333333333333", NULL };

static void
creates_with_every_migration(void **state)
{
	struct fx *f = *state;
	struct resource *r = want_db(f, "app", three);
	struct plan_action *a;

	r->u.d1.read_replication = xstrdup("auto");
	r->u.d1.location_hint = xstrdup("weur");
	a = plan(f);
	assert_int_equal(a->op, PLAN_CREATE);
	assert_true(a->create);
	assert_int_equal(a->nd1_run, 3);
	assert_true(has_change(a, "migration 0003_add_index.sql"));
	assert_true(has_change(a, "readReplication: auto"));
	assert_true(has_change(a, "locationHint: weur"));
}

static void
converged_is_clean(void **state)
{
	struct fx *f = *state;
	const char *const rows[] = { "0001_init.sql", "0002_users.sql", "0003_add_index.sql", NULL };

	want_db(f, "app", three);
	have_db(f, "u-1", "app", NULL, "disabled", rows);
	owned(f, "app", "u-1", three);
	assert_int_equal(plan(f)->op, PLAN_NOOP);
	assert_false(plan_has_changes(&f->p));
}

static void
one_new_migration(void **state)
{
	struct fx *f = *state;
	const char *const rows[] = { "0001_init.sql", "0002_users.sql", NULL };
	struct plan_action *a;

	want_db(f, "app", three);
	have_db(f, "u-1", "app", NULL, NULL, rows);
	owned(f, "app", "u-1", (const char *const[]){ three[0], three[1], NULL });
	a = plan(f);
	assert_int_equal(a->op, PLAN_UPDATE);
	assert_int_equal(a->nd1_run, 1);
	assert_int_equal(a->d1_run[0], 2);
	assert_int_equal(a->nchanges, 1);
	assert_string_equal(a->changes[0].text, "migration 0003_add_index.sql");
}

static void
edited_migration_refused(void **state)
{
	struct fx *f = *state;
	const char *const rows[] = { "0001_init.sql", "0002_users.sql", NULL };
	struct plan_action *a;

	want_db(f, "app", three);
	have_db(f, "u-1", "app", NULL, NULL, rows);
	owned(f, "app", "u-1", (const char *const[]){ three[0], "0002_users.sql=aaaaaaaaaaaaaaaa",
	                                              NULL });
	a = plan(f);
	assert_int_equal(a->op, PLAN_REFUSE);
	assert_non_null(strstr(a->reason, "'0002_users.sql' changed after it was applied"));
	assert_int_equal(a->nd1_run, 0);
}

static void
wrangler_rows_count_as_applied(void **state)
{
	struct fx *f = *state;
	const char *const rows[] = { "0001_init.sql", "0002_users.sql", NULL };
	struct plan_action *a;

	want_db(f, "app", three);
	have_db(f, "u-1", "app", NULL, NULL, rows);
	owned(f, "app", "u-1", NULL); /* no hash recorded: wrangler applied both */
	a = plan(f);
	assert_int_equal(a->op, PLAN_UPDATE);
	assert_int_equal(a->nd1_run, 1);
	assert_int_equal(a->nd1_found, 2);
	assert_true(a->record);
	assert_non_null(strstr(a->note, "2 migrations applied outside cfstorage"));
}

static void
replication_changes(void **state)
{
	struct fx *f = *state;
	struct resource *r = want_db(f, "app", NULL);
	struct plan_action *a;

	r->u.d1.read_replication = xstrdup("auto");
	have_db(f, "u-1", "app", NULL, "disabled", NULL);
	owned(f, "app", "u-1", NULL);
	a = plan(f);
	assert_int_equal(a->op, PLAN_UPDATE);
	assert_true(a->set_replication);
	assert_true(has_change(a, "readReplication: disabled → auto"));
}

static void
immutable_changes_refused(void **state)
{
	struct fx *f = *state;
	struct resource *r = want_db(f, "app", NULL);
	struct inv_entry *x;
	struct plan_action *a;

	r->u.d1.location_hint = xstrdup("enam");
	have_db(f, "u-1", "app", NULL, NULL, NULL);
	x = owned(f, "app", "u-1", NULL);
	inv_set(&x->location_hint, "weur");
	a = plan(f);
	assert_int_equal(a->op, PLAN_REFUSE);
	assert_non_null(strstr(a->reason, "locationHint weur → enam"));
	/* jurisdiction: the account's database is in eu, the manifest says none */
	inv_set(&x->location_hint, NULL);
	free(r->u.d1.location_hint);
	r->u.d1.location_hint = NULL;
	free(f->snap.d1s[0].jurisdiction);
	f->snap.d1s[0].jurisdiction = xstrdup("eu");
	a = plan(f);
	assert_int_equal(a->op, PLAN_REFUSE);
	assert_non_null(strstr(a->reason, "jurisdiction eu"));
}

static void
recreated_outside_refused(void **state)
{
	struct fx *f = *state;
	struct plan_action *a;

	want_db(f, "app", NULL);
	owned(f, "app", "u-old", NULL);
	a = plan(f);
	assert_int_equal(a->op, PLAN_CREATE); /* deleted outside: created again */
	assert_non_null(strstr(a->reason, "deleted outside cfstorage"));
	have_db(f, "u-new", "app", NULL, NULL, NULL);
	a = plan(f);
	assert_int_equal(a->op, PLAN_REFUSE); /* someone made another one */
	assert_non_null(strstr(a->reason, "another database with that name"));
}

static void
unowned_refused_or_adopted(void **state)
{
	struct fx *f = *state;
	struct resource *r = want_db(f, "app", three);
	const char *const rows[] = { "0001_init.sql", NULL };
	struct plan_action *a;

	have_db(f, "u-1", "app", NULL, NULL, rows);
	a = plan(f);
	assert_int_equal(a->op, PLAN_REFUSE);
	assert_non_null(strstr(a->reason, "cfstorage import D1Database app"));
	r->adopt = 1;
	a = plan(f);
	assert_int_equal(a->op, PLAN_ADOPT);
	assert_int_equal(a->nd1_found, 1);
	assert_int_equal(a->nd1_run, 2);
}

static void
orphan_with_tables_kept(void **state)
{
	struct fx *f = *state;
	struct inv_entry *x = owned(f, "old", "u-9", NULL);
	struct obs_d1 *d = have_db(f, "u-9", "old", NULL, NULL, NULL);
	struct plan_action *a;

	want_db(f, "other", NULL);
	x->policy = DELETION_DELETE;
	d->user_tables = 2;
	f->o.prune = 1;
	plan(f);
	a = &f->p.v[1];
	assert_int_equal(a->op, PLAN_REFUSE);
	assert_non_null(strstr(a->reason, "holds 2 tables"));
	x->allow_data_loss = 1;
	plan(f);
	assert_int_equal(f->p.v[1].op, PLAN_DELETE);
	d->user_tables = 0;
	x->allow_data_loss = 0;
	plan(f);
	assert_int_equal(f->p.v[1].op, PLAN_DELETE);
	f->o.prune = 0;
	plan(f);
	assert_int_equal(f->p.v[1].op, PLAN_NOOP);
}

static void
sql_split_keeps_lines(void **state)
{
	static const char sql[] =
		"-- header; not a statement\n"
		"CREATE TABLE a (x TEXT DEFAULT 'a;b', \"c;d\" INT);\n"
		"/* block ; */ INSERT INTO a VALUES ('it''s; fine', 1);\n"
		"\n"
		"CREATE TEMP TRIGGER t AFTER INSERT ON a BEGIN\n"
		"  UPDATE a SET x = CASE WHEN x = '' THEN 'y' ELSE x END;\n"
		"  SELECT 1;\n"
		"END;\n"
		"  ;  \n"
		"SELECT [odd;name] FROM a -- trailing\n";
	struct sql_stmt *v = NULL;
	size_t n = manifest_sql_split(sql, strlen(sql), &v);

	(void)state;
	assert_int_equal(n, 4);
	assert_int_equal(v[0].line, 2);
	assert_int_equal(v[1].line, 3);
	assert_int_equal(v[1].col, 15);
	assert_memory_equal(sql + v[1].off, "INSERT INTO a", 13);
	assert_int_equal(v[2].line, 5);
	assert_memory_equal(sql + v[2].off + v[2].len - 3, "END", 3);
	assert_int_equal(v[3].line, 10);
	free(v);
	assert_int_equal(manifest_sql_split("-- only\n/* comments */\n", 23, &v), 0);
	free(v);
}

/* A trigger ends only at "; END ;", as sqlite3_complete says: columns named
 * `begin` and `end` are words of the body, and CASE ... END still nests. */
static void
sql_split_trigger_words(void **state)
{
	static const char sql[] =
		"CREATE TABLE ev(id INTEGER PRIMARY KEY, begin INT, end INT);\n"
		"CREATE TRIGGER tr AFTER INSERT ON ev BEGIN UPDATE ev SET end = 1 WHERE id = "
		"new.id; END;\n"
		"create temporary trigger t2 after update on ev begin\n"
		"  update ev set begin = case when end > 0 then end else 0 end where id = 1;\n"
		"  -- a comment between\n"
		"  select 1; /* and here */ end ;\n"
		"EXPLAIN CREATE TRIGGER t3 AFTER DELETE ON ev BEGIN SELECT 1; END;\n"
		"SELECT begin, end FROM ev;\n"
		"UPDATE ev SET end = 2;\n";
	struct sql_stmt *v = NULL;
	size_t n = manifest_sql_split(sql, strlen(sql), &v);

	(void)state;
	assert_int_equal(n, 6);
	assert_int_equal(v[1].line, 2);
	assert_memory_equal(sql + v[1].off + v[1].len - 3, "END", 3);
	assert_int_equal(v[2].line, 3);
	assert_memory_equal(sql + v[2].off + v[2].len - 3, "end", 3);
	assert_int_equal(v[3].line, 7);
	assert_int_equal(v[4].line, 8);
	assert_int_equal(v[5].line, 9);
	free(v);
}

/* A UTF-8 byte order mark is skipped, lines and columns as without it; a
 * file of a mark, blanks and comments holds no statement. */
static void
sql_split_bom(void **state)
{
	static const char sql[] = "\xef\xbb\xbf" "CREATE TABLE a (x INT);\n  SELECT 1;\n";
	static const char empty[] = "\xef\xbb\xbf" "\n-- nothing\n/* here */\n";
	struct sql_stmt *v = NULL;
	size_t n = manifest_sql_split(sql, strlen(sql), &v);

	(void)state;
	assert_int_equal(n, 2);
	assert_int_equal(v[0].off, 3);
	assert_int_equal(v[0].line, 1);
	assert_int_equal(v[0].col, 1);
	assert_int_equal(v[1].line, 2);
	assert_int_equal(v[1].col, 3);
	free(v);
	assert_int_equal(manifest_sql_split(empty, strlen(empty), &v), 0);
	free(v);
}

int
main(void)
{
#define T(x) cmocka_unit_test_setup_teardown(x, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(creates_with_every_migration),
		T(converged_is_clean),
		T(one_new_migration),
		T(edited_migration_refused),
		T(wrangler_rows_count_as_applied),
		T(replication_changes),
		T(immutable_changes_refused),
		T(recreated_outside_refused),
		T(unowned_refused_or_adopted),
		T(orphan_with_tables_kept),
		cmocka_unit_test(sql_split_keeps_lines),
		cmocka_unit_test(sql_split_trigger_words),
		cmocka_unit_test(sql_split_bom),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
