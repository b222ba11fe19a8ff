/*
 * emu_d1.c: D1 databases (REFERENCE.md section 11), each backed by a real
 * SQLite database.
 *
 * Routes, under /accounts/{account_id}/d1/database:
 *   POST   ""                       create {name, primary_location_hint?,
 *                                   jurisdiction?, read_replication?}
 *   GET    ""                       list, paged (page, per_page, name)
 *   GET    /{database_id}           get (by uuid, or by name as wrangler asks)
 *   DELETE /{database_id}           delete
 *   PUT|PATCH /{database_id}        read_replication {mode: auto|disabled}
 *   POST   /{database_id}/query     {sql, params?} | {batch: [{sql, params?}]}
 *   POST   /{database_id}/raw       the same, rows as arrays
 *   POST   /{database_id}/import    {action: init|ingest|poll} (wrangler
 *                                   d1 execute --remote --file)
 * plus POST /graphql (wrangler d1 info's metrics: answered with no rows) and
 * PUT /__emu/d1/upload/{database_id}/{filename}, the "presigned" upload URL
 * an import init hands out (loopback, no token, as a presigned URL).
 *
 * What is faithful: one request (a multi-statement `sql`, or a `batch`) runs
 * in ONE transaction, all or nothing, as D1 does; results come one per
 * statement; SQL errors are HTTP 400, code 7500, "<sqlite message>[ at
 * offset N]: SQLITE_<CODE>", the form wrangler prints; foreign keys are
 * enforced (D1's default); D1's limits on statement length, bound
 * parameters, value size and columns; explicit transactions, ATTACH (and so
 * VACUUM) and PRAGMAs outside D1's list are refused (SQLITE_AUTH).
 * What is not: rows_read and rows_written are approximations (D1's SQLite
 * counts them itself); duration is this machine's; there are no replicas,
 * bookmarks only count imports, and /graphql has no metrics.
 *
 * Persistence: database metadata (create, delete, replication) goes through
 * the journal like every other write; the rows live in data_dir/d1/
 * <uuid>.sqlite3, written by SQLite with a rollback journal and
 * synchronous=FULL, so an acknowledged query is durable and a query cut by
 * a crash rolls back on the next open. Queries are not journaled (SQLite is
 * their log). Without a data directory each database is in memory.
 */
#include "emu_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "../mem/mem.h"

/* D1's error codes (REFERENCE.md section 11). */
#define D1_ERR_MALFORMED 7400 /* "The request is malformed: ..." */
#define D1_ERR_NOT_FOUND 7404
#define D1_ERR_TOO_MANY 7406  /* the account's database quota */
#define D1_ERR_SQL 7500       /* SQLite's errors */
#define D1_ERR_EXISTS 7502    /* a database with that name already exists */
/* VM instructions between two checks of a query's deadline. */
#define D1_PROGRESS_OPS 1000
/* SQLite's whole heap in this process: a runaway query fails, not the host. */
#define D1_HEAP_MAX (512LL * 1024 * 1024)

static const char *const locations[] = { "wnam", "enam", "weur", "eeur", "apac", "oc" };
static const char *const jurisdictions[] = { "eu", "fedramp", "us" };
/* The PRAGMAs D1 allows (the rest are refused with SQLITE_AUTH). */
static const char *const pragmas[] = {
	"table_list", "table_info", "table_xinfo", "index_list", "index_info",
	"index_xinfo", "foreign_key_list", "foreign_key_check", "foreign_keys",
	"defer_foreign_keys", "quick_check", "optimize", "case_sensitive_like",
	"ignore_check_constraints", "legacy_alter_table", "recursive_triggers",
	"reverse_unordered_selects",
};

/* ---- the model ---- */

void
emu_d1_free(struct emu_d1 *d)
{
	if (d == NULL)
		return;
	sqlite3_close_v2(d->db);
	free(d->uuid);
	free(d->name);
	free(d->jurisdiction);
	free(d->location);
	free(d->created_at);
	free(d->replication);
	free(d->path);
	free(d->upload);
	cJSON_Delete(d->last_import);
	free(d);
}

void
emu_d1_unlink(const char *path)
{
	char *j;

	if (path == NULL)
		return;
	(void)unlink(path);
	j = xasprintf("%s-journal", path);
	(void)unlink(j);
	free(j);
}

void
emu_d1_unlink_all(struct emu_model *m)
{
	for (size_t i = 0; i < m->d1s.n; i++) {
		struct emu_d1 *d = m->d1s.v[i];

		sqlite3_close_v2(d->db);
		d->db = NULL;
		emu_d1_unlink(d->path);
	}
}

static int
in_list(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, list[i]) == 0)
			return 1;
	return 0;
}

/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" in lower-case hex. */
static int
is_uuid(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
			return 0;
		}
	}
	return i == 36;
}

static struct emu_d1 *
find_uuid(struct emu_model *m, const char *uuid)
{
	for (size_t i = 0; i < m->d1s.n; i++) {
		struct emu_d1 *d = m->d1s.v[i];

		if (strcmp(d->uuid, uuid) == 0)
			return d;
	}
	return NULL;
}

static struct emu_d1 *
find_name(struct emu_model *m, const char *name)
{
	for (size_t i = 0; i < m->d1s.n; i++) {
		struct emu_d1 *d = m->d1s.v[i];

		if (strcmp(d->name, name) == 0)
			return d;
	}
	return NULL;
}

/* D1 names: 1..EMU_D1_NAME_MAX letters, digits, '-' and '_'. */
static int
name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > EMU_D1_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
			return 0;
	return 1;
}

/* ---- SQLite ---- */

/* The state of one request's run over a database. */
struct run {
	sqlite3 *db;
	int user;          /* user SQL is being prepared: the authorizer applies */
	int import;        /* an import: BEGIN/COMMIT in the file are skipped */
	int txn_stmt;      /* the statement just prepared is BEGIN/COMMIT/... */
	int raw;           /* rows as arrays (the /raw route) */
	struct timespec deadline;
	size_t bytes;      /* result bytes so far */
	long long queries, rows_read, rows_written;
	size_t prepared;   /* user statements prepared */
	int wrote;         /* one of them may write (not sqlite3_stmt_readonly), or one
	                      failed to prepare, so what it would do is unknown */
	double ms;
	cJSON *results;    /* one item per statement */
	char err[640];     /* the error message when a step failed */
};

static double
ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/*
 * The authorizer D1 puts in front of user SQL: no ATTACH/DETACH (VACUUM
 * asks for ATTACH too), no explicit transactions (the emulator holds the
 * request's transaction: a COMMIT inside it would break all-or-nothing),
 * and only D1's PRAGMAs. Internal statements run with run->user unset.
 */
static int
authorize(void *cls, int action, const char *a, const char *b, const char *c,
          const char *d)
{
	struct run *r = cls;

	(void)b;
	(void)c;
	(void)d;
	if (!r->user)
		return SQLITE_OK;
	switch (action) {
	case SQLITE_ATTACH:
	case SQLITE_DETACH:
	case SQLITE_SAVEPOINT:
		return SQLITE_DENY;
	case SQLITE_TRANSACTION:
		if (r->import) { /* a dump's BEGIN TRANSACTION / COMMIT: skipped */
			r->txn_stmt = 1;
			return SQLITE_OK;
		}
		return SQLITE_DENY;
	case SQLITE_PRAGMA:
		return a && in_list(a, pragmas, sizeof(pragmas) / sizeof(pragmas[0]))
		       ? SQLITE_OK : SQLITE_DENY;
	default:
		return SQLITE_OK;
	}
}

/* Interrupts a query past its deadline (D1's longest query). */
static int
progress(void *cls)
{
	struct run *r = cls;
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec > r->deadline.tv_sec ||
	       (t.tv_sec == r->deadline.tv_sec && t.tv_nsec > r->deadline.tv_nsec);
}

static const char *
code_name(int rc)
{
	static const char *const names[] = {
		"SQLITE_OK", "SQLITE_ERROR", "SQLITE_INTERNAL", "SQLITE_PERM",
		"SQLITE_ABORT", "SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_NOMEM",
		"SQLITE_READONLY", "SQLITE_INTERRUPT", "SQLITE_IOERR", "SQLITE_CORRUPT",
		"SQLITE_NOTFOUND", "SQLITE_FULL", "SQLITE_CANTOPEN", "SQLITE_PROTOCOL",
		"SQLITE_EMPTY", "SQLITE_SCHEMA", "SQLITE_TOOBIG", "SQLITE_CONSTRAINT",
		"SQLITE_MISMATCH", "SQLITE_MISUSE", "SQLITE_NOLFS", "SQLITE_AUTH",
		"SQLITE_FORMAT", "SQLITE_RANGE", "SQLITE_NOTADB",
	};
	int p = rc & 0xff;

	return p >= 0 && (size_t)p < sizeof(names) / sizeof(names[0]) ? names[p] : "SQLITE_ERROR";
}

/* D1's text for a SQLite error: "no such table: t at offset 14: SQLITE_ERROR". */
static void
sql_error(struct run *r, int rc)
{
	int off = sqlite3_error_offset(r->db);

	if (off >= 0)
		snprintf(r->err, sizeof(r->err), "%s at offset %d: %s",
		         sqlite3_errmsg(r->db), off, code_name(rc));
	else
		snprintf(r->err, sizeof(r->err), "%s: %s", sqlite3_errmsg(r->db), code_name(rc));
}

/* Runs an internal statement (no authorizer); 0 on success. */
static int
exec_internal(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

/* One integer from an internal query, or 0. */
static long long
query_ll(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	long long v = 0;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static long long
db_size(sqlite3 *db)
{
	return query_ll(db, "PRAGMA page_count") * query_ll(db, "PRAGMA page_size");
}

/*
 * Opens (creating) a database's SQLite file with D1's settings: D1's
 * limits, foreign keys on, a rollback journal with synchronous=FULL (a
 * commit is on disk when it returns), and a page cap at
 * EMU_D1_DB_BYTES_MAX. Returns NULL when the file cannot be opened.
 */
static sqlite3 *
db_open(const char *path)
{
	sqlite3 *db = NULL;
	char pragma[96];

	sqlite3_hard_heap_limit64(D1_HEAP_MAX);
	if (sqlite3_open_v2(path ? path : ":memory:", &db,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	                    NULL) != SQLITE_OK) {
		sqlite3_close_v2(db);
		return NULL;
	}
	sqlite3_limit(db, SQLITE_LIMIT_LENGTH, EMU_D1_VALUE_MAX);
	sqlite3_limit(db, SQLITE_LIMIT_SQL_LENGTH, EMU_D1_STMT_MAX);
	sqlite3_limit(db, SQLITE_LIMIT_VARIABLE_NUMBER, EMU_D1_PARAMS_MAX);
	sqlite3_limit(db, SQLITE_LIMIT_COLUMN, EMU_D1_COLUMNS_MAX);
	sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
	sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, (int *)NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
	snprintf(pragma, sizeof(pragma), "PRAGMA max_page_count=%lld",
	         EMU_D1_DB_BYTES_MAX / 4096);
	if (exec_internal(db, "PRAGMA page_size=4096") != 0 ||
	    exec_internal(db, "PRAGMA journal_mode=DELETE") != 0 ||
	    exec_internal(db, "PRAGMA synchronous=FULL") != 0 ||
	    exec_internal(db, "PRAGMA foreign_keys=ON") != 0 ||
	    exec_internal(db, pragma) != 0) {
		sqlite3_close_v2(db);
		return NULL;
	}
	return db;
}

/* The database's handle, reopened if a reset closed it. */
static sqlite3 *
handle(struct emu_d1 *d)
{
	if (d->db == NULL)
		d->db = db_open(d->path);
	return d->db;
}

/* A column value as JSON: numbers, text, BLOBs as arrays of bytes, null. */
static cJSON *
value_json(sqlite3_stmt *st, int i, size_t *bytes)
{
	switch (sqlite3_column_type(st, i)) {
	case SQLITE_INTEGER:
		*bytes += 8;
		return cJSON_CreateNumber((double)sqlite3_column_int64(st, i));
	case SQLITE_FLOAT:
		*bytes += 8;
		return cJSON_CreateNumber(sqlite3_column_double(st, i));
	case SQLITE_TEXT: {
		const unsigned char *t = sqlite3_column_text(st, i);

		*bytes += 8 + (size_t)sqlite3_column_bytes(st, i);
		return cJSON_CreateString(t ? (const char *)t : "");
	}
	case SQLITE_BLOB: {
		const unsigned char *p = sqlite3_column_blob(st, i);
		int n = sqlite3_column_bytes(st, i);
		cJSON *a = cJSON_CreateArray();

		*bytes += 8 + 4 * (size_t)n;
		for (int k = 0; k < n && p; k++)
			cJSON_AddItemToArray(a, cJSON_CreateNumber(p[k]));
		return a;
	}
	default:
		*bytes += 8;
		return cJSON_CreateNull();
	}
}

/*
 * Binds params (a JSON array, or NULL) to st. A statement with placeholders
 * takes exactly the params given; so does a lone statement. Strings,
 * numbers, booleans and null are accepted (the SDK types strings; D1 and
 * its clients also send numbers). Returns 0, or -1 with r->err set.
 */
static int
bind_params(struct run *r, sqlite3_stmt *st, const cJSON *params, int lone)
{
	int want = sqlite3_bind_parameter_count(st);
	int have = params ? cJSON_GetArraySize(params) : 0;
	const cJSON *p;
	int i = 0;

	if (want == 0 && (!lone || have == 0))
		return 0;
	if (want != have) {
		snprintf(r->err, sizeof(r->err),
		         "Wrong number of parameter bindings for SQL query (%d given, %d wanted): "
		         "SQLITE_RANGE", have, want);
		return -1;
	}
	cJSON_ArrayForEach(p, params) {
		int rc;

		i++;
		if (cJSON_IsString(p))
			rc = sqlite3_bind_text(st, i, p->valuestring, -1, SQLITE_TRANSIENT);
		else if (cJSON_IsBool(p))
			rc = sqlite3_bind_int(st, i, cJSON_IsTrue(p));
		else if (cJSON_IsNull(p))
			rc = sqlite3_bind_null(st, i);
		else if (p->valuedouble >= -(double)EMU_JSON_INT_MAX &&
		         p->valuedouble <= (double)EMU_JSON_INT_MAX && /* before the cast */
		         p->valuedouble == (double)(long long)p->valuedouble)
			rc = sqlite3_bind_int64(st, i, (sqlite3_int64)p->valuedouble);
		else
			rc = sqlite3_bind_double(st, i, p->valuedouble);
		if (rc != SQLITE_OK) {
			sql_error(r, rc);
			return -1;
		}
	}
	return 0;
}

/* Adds rows of one statement to out (objects, or the raw {columns, rows}). */
static int
step_rows(struct run *r, sqlite3_stmt *st, cJSON **out, long long *nrows)
{
	int ncol = sqlite3_column_count(st), rc;
	cJSON *rows = cJSON_CreateArray();

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		cJSON *row = r->raw ? cJSON_CreateArray() : cJSON_CreateObject();

		for (int i = 0; i < ncol; i++) {
			cJSON *v = value_json(st, i, &r->bytes);
			const char *name = sqlite3_column_name(st, i);

			if (r->raw) {
				cJSON_AddItemToArray(row, v);
			} else {
				name = name ? name : "";
				/* a repeated column name keeps the last value, as in JS */
				if (cJSON_GetObjectItemCaseSensitive(row, name))
					cJSON_ReplaceItemInObjectCaseSensitive(row, name, v);
				else
					cJSON_AddItemToObject(row, name, v);
			}
		}
		cJSON_AddItemToArray(rows, row);
		(*nrows)++;
		if (r->bytes > EMU_D1_RESULT_MAX) {
			snprintf(r->err, sizeof(r->err),
			         "query result larger than %u bytes: SQLITE_TOOBIG", EMU_D1_RESULT_MAX);
			cJSON_Delete(rows);
			return -1;
		}
	}
	if (rc != SQLITE_DONE) {
		sql_error(r, rc);
		cJSON_Delete(rows);
		return -1;
	}
	if (r->raw) {
		cJSON *o = cJSON_CreateObject(), *cols = cJSON_AddArrayToObject(o, "columns");

		for (int i = 0; i < ncol; i++) {
			const char *name = sqlite3_column_name(st, i);

			cJSON_AddItemToArray(cols, cJSON_CreateString(name ? name : ""));
		}
		cJSON_AddItemToObject(o, "rows", rows);
		*out = o;
	} else {
		*out = rows;
	}
	return 0;
}

/* The region a database lives in, upper case as D1 reports it: its hint,
 * else Western Europe for the EU jurisdiction, else Eastern North America. */
static void
region_of(const struct emu_d1 *d, char out[8])
{
	const char *r = d->location ? d->location
	              : d->jurisdiction && strcmp(d->jurisdiction, "eu") == 0 ? "weur" : "enam";

	snprintf(out, 8, "%s", r);
	for (size_t i = 0; out[i]; i++)
		if (out[i] >= 'a' && out[i] <= 'z')
			out[i] = (char)(out[i] - 'a' + 'A');
}

/* D1's per-statement meta; size_after is filled in once the commit is done. */
static cJSON *
meta_json(const struct emu_d1 *d, double ms, long long changes, long long last_id,
          int changed, long long rread, long long rwritten)
{
	cJSON *m = cJSON_CreateObject(), *t;
	char region[8];

	region_of(d, region);
	cJSON_AddStringToObject(m, "served_by", "cfemu");
	cJSON_AddStringToObject(m, "served_by_region", region);
	cJSON_AddBoolToObject(m, "served_by_primary", 1);
	t = cJSON_AddObjectToObject(m, "timings");
	cJSON_AddNumberToObject(t, "sql_duration_ms", ms);
	cJSON_AddNumberToObject(m, "duration", ms);
	cJSON_AddNumberToObject(m, "changes", (double)changes);
	cJSON_AddNumberToObject(m, "last_row_id", (double)last_id);
	cJSON_AddBoolToObject(m, "changed_db", changed);
	cJSON_AddNumberToObject(m, "size_after", 0);
	cJSON_AddNumberToObject(m, "rows_read", (double)rread);
	cJSON_AddNumberToObject(m, "rows_written", (double)rwritten);
	return m;
}

/*
 * Runs every statement of sql (len bytes) inside the open transaction,
 * adding one result per statement to r->results. Returns 0, or -1 with
 * r->err holding D1's message. nstmts counts statements against max.
 */
static int
run_sql(struct run *r, const struct emu_d1 *d, const char *sql, size_t len,
        const cJSON *params, size_t *nstmts, size_t max)
{
	const char *p = sql, *end = sql + len;
	int lone;

	{ /* a lone statement binds strictly (see bind_params) */
		sqlite3_stmt *st = NULL;
		const char *tail = NULL;

		r->user = 1;
		r->txn_stmt = 0;
		lone = sqlite3_prepare_v2(r->db, p, (int)len, &st, &tail) == SQLITE_OK &&
		       tail != NULL;
		if (lone) {
			while (tail < end && (*tail == ' ' || *tail == '\t' || *tail == '\n' ||
			                      *tail == '\r' || *tail == ';'))
				tail++;
			lone = tail == end;
		}
		sqlite3_finalize(st);
		r->user = 0;
	}
	while (p < end) {
		sqlite3_stmt *st = NULL;
		const char *tail = NULL;
		struct timespec t0;
		long long before, nrows = 0, changes;
		int rc, ro;
		cJSON *rows = NULL, *res;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		r->user = 1;
		r->txn_stmt = 0;
		rc = sqlite3_prepare_v2(r->db, p, (int)(end - p), &st, &tail);
		r->user = 0;
		if (rc != SQLITE_OK) {
			r->wrote = 1;
			sql_error(r, rc);
			return -1;
		}
		if (st == NULL) { /* only blanks or comments were left */
			p = tail;
			continue;
		}
		if (tail - p > EMU_D1_STMT_MAX) {
			snprintf(r->err, sizeof(r->err),
			         "statement too long (over %d bytes): SQLITE_TOOBIG", EMU_D1_STMT_MAX);
			sqlite3_finalize(st);
			return -1;
		}
		if (++*nstmts > max) {
			snprintf(r->err, sizeof(r->err), "too many statements (over %zu)", max);
			sqlite3_finalize(st);
			return -1;
		}
		if (r->txn_stmt) { /* BEGIN/COMMIT of an imported dump */
			sqlite3_finalize(st);
			p = tail;
			continue;
		}
		if (bind_params(r, st, params, lone) != 0) {
			sqlite3_finalize(st);
			return -1;
		}
		ro = sqlite3_stmt_readonly(st);
		r->prepared++;
		r->wrote |= !ro;
		before = sqlite3_total_changes64(r->db);
		if (step_rows(r, st, &rows, &nrows) != 0) {
			sqlite3_finalize(st);
			return -1;
		}
		changes = sqlite3_total_changes64(r->db) - before;
		{
			long long scanned = sqlite3_stmt_status(st, SQLITE_STMTSTATUS_FULLSCAN_STEP, 0);
			long long rread = scanned > nrows ? scanned : nrows;
			double ms = ms_since(&t0);

			res = cJSON_CreateObject();
			cJSON_AddItemToObject(res, "results", rows);
			cJSON_AddBoolToObject(res, "success", 1);
			cJSON_AddItemToObject(res, "meta",
			                      meta_json(d, ms, changes, sqlite3_last_insert_rowid(r->db),
			                                !ro, rread, changes));
			r->rows_read += rread;
			r->rows_written += changes;
			r->ms += ms;
			r->queries++;
		}
		sqlite3_finalize(st);
		cJSON_AddItemToArray(r->results, res);
		p = tail;
	}
	return 0;
}

/* One item of a request: {sql, params?}. Returns 0 or -1 with r->err. */
static int
run_item(struct run *r, const struct emu_d1 *d, const cJSON *item, size_t *nstmts)
{
	const cJSON *sql = cJSON_GetObjectItemCaseSensitive(item, "sql");
	const cJSON *params = cJSON_GetObjectItemCaseSensitive(item, "params");
	const cJSON *p;

	if (!cJSON_IsString(sql)) {
		snprintf(r->err, sizeof(r->err), "The request is malformed: sql must be a string");
		return -2;
	}
	if (params != NULL && !cJSON_IsNull(params)) {
		if (!cJSON_IsArray(params) || cJSON_GetArraySize(params) > EMU_D1_PARAMS_MAX) {
			snprintf(r->err, sizeof(r->err),
			         "The request is malformed: params must be an array of at most %d values",
			         EMU_D1_PARAMS_MAX);
			return -2;
		}
		cJSON_ArrayForEach(p, params)
			if (!cJSON_IsString(p) && !cJSON_IsNumber(p) && !cJSON_IsBool(p) &&
			    !cJSON_IsNull(p)) {
				snprintf(r->err, sizeof(r->err),
				         "The request is malformed: a param must be a string, number, "
				         "boolean or null");
				return -2;
			}
	} else {
		params = NULL;
	}
	return run_sql(r, d, sql->valuestring, strlen(sql->valuestring), params, nstmts,
	               EMU_D1_STATEMENTS_MAX);
}

/*
 * Runs fn over the database in one transaction: BEGIN IMMEDIATE, the
 * statements, COMMIT; on any failure ROLLBACK, so nothing of the request
 * stays (D1's batches are all or nothing). size_after is then set in every
 * result. Returns 0, -1 (SQL error in r->err) or -2 (malformed request).
 */
static int
in_transaction(struct emu *e, struct emu_d1 *d, struct run *r,
               int (*fn)(struct run *, const struct emu_d1 *, const void *),
               const void *arg)
{
	unsigned ms = e->d1_query_ms ? e->d1_query_ms : EMU_D1_QUERY_MS;
	int rc;

	r->db = handle(d);
	if (r->db == NULL) {
		snprintf(r->err, sizeof(r->err), "cannot open the database: SQLITE_CANTOPEN");
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &r->deadline);
	r->deadline.tv_sec += ms / 1000;
	r->deadline.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (r->deadline.tv_nsec >= 1000000000L) {
		r->deadline.tv_sec++;
		r->deadline.tv_nsec -= 1000000000L;
	}
	r->results = cJSON_CreateArray();
	sqlite3_set_authorizer(r->db, authorize, r);
	sqlite3_progress_handler(r->db, D1_PROGRESS_OPS, progress, r);
	if (exec_internal(r->db, "BEGIN IMMEDIATE") != 0) {
		sql_error(r, sqlite3_errcode(r->db));
		rc = -1;
		goto out;
	}
	rc = fn(r, d, arg);
	if (rc == 0 && sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		sql_error(r, sqlite3_extended_errcode(r->db));
		rc = -1;
	}
	if (rc != 0 && sqlite3_get_autocommit(r->db) == 0)
		(void)exec_internal(r->db, "ROLLBACK");
out:
	sqlite3_progress_handler(r->db, 0, NULL, NULL);
	sqlite3_set_authorizer(r->db, NULL, NULL);
	if (rc == 0) {
		long long size = db_size(r->db);
		cJSON *it;

		cJSON_ArrayForEach(it, r->results) {
			cJSON *m = cJSON_GetObjectItemCaseSensitive(it, "meta");

			cJSON_ReplaceItemInObjectCaseSensitive(m, "size_after",
			                                       cJSON_CreateNumber((double)size));
		}
	}
	return rc;
}

/* ---- JSON ---- */

static int
count_tables(sqlite3 *db)
{
	return (int)query_ll(db, "SELECT count(*) FROM sqlite_master WHERE type='table' "
	                         "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
	                         "AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\'");
}

/* The D1 object (SDK D1): get, create, update. */
static cJSON *
d1_json(struct emu_d1 *d)
{
	cJSON *o = cJSON_CreateObject(), *rr;
	sqlite3 *db = handle(d);

	cJSON_AddStringToObject(o, "uuid", d->uuid);
	cJSON_AddStringToObject(o, "name", d->name);
	cJSON_AddStringToObject(o, "created_at", d->created_at);
	cJSON_AddStringToObject(o, "version", "production");
	cJSON_AddNumberToObject(o, "num_tables", db ? count_tables(db) : 0);
	cJSON_AddNumberToObject(o, "file_size", db ? (double)db_size(db) : 0);
	if (d->jurisdiction)
		cJSON_AddStringToObject(o, "jurisdiction", d->jurisdiction);
	else
		cJSON_AddNullToObject(o, "jurisdiction");
	rr = cJSON_AddObjectToObject(o, "read_replication");
	cJSON_AddStringToObject(rr, "mode", d->replication);
	return o;
}

/* A list item (SDK DatabaseListResponse). */
static cJSON *
d1_list_json(const struct emu_d1 *d)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "uuid", d->uuid);
	cJSON_AddStringToObject(o, "name", d->name);
	cJSON_AddStringToObject(o, "created_at", d->created_at);
	cJSON_AddStringToObject(o, "version", "production");
	if (d->jurisdiction)
		cJSON_AddStringToObject(o, "jurisdiction", d->jurisdiction);
	else
		cJSON_AddNullToObject(o, "jurisdiction");
	return o;
}

static void
malformed(struct emu_resp *rs, const char *what)
{
	emu_fail(rs, 400, D1_ERR_MALFORMED, "The request is malformed: %s", what);
}

/* read_replication {mode} from a body; NULL with *bad set when invalid. */
static const char *
replication_mode(const cJSON *body, int required, int *bad)
{
	const cJSON *rr = cJSON_GetObjectItemCaseSensitive(body, "read_replication");
	const cJSON *mode = cJSON_GetObjectItemCaseSensitive(rr, "mode");

	*bad = 0;
	if (rr == NULL) {
		*bad = required;
		return NULL;
	}
	if (!cJSON_IsString(mode) ||
	    (strcmp(mode->valuestring, "auto") != 0 && strcmp(mode->valuestring, "disabled") != 0)) {
		*bad = 1;
		return NULL;
	}
	return mode->valuestring;
}

/* ---- handlers ---- */

/*
 * POST /accounts/{account_id}/d1/database: a new database. The uuid is a
 * version-4-shaped rendering of a journaled id, so replay gives the same
 * one and reopens the same file. With a jurisdiction the location hint is
 * ignored (SDK DatabaseCreateParams).
 */
static void
h_create(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	cJSON *body = emu_body_json(rq), *out;
	const cJSON *name, *hint, *jur;
	const char *mode;
	struct emu_d1 *d;
	char *id, uuid[37], region[8];
	int bad;

	name = cJSON_GetObjectItemCaseSensitive(body, "name");
	hint = cJSON_GetObjectItemCaseSensitive(body, "primary_location_hint");
	jur = cJSON_GetObjectItemCaseSensitive(body, "jurisdiction");
	mode = replication_mode(body, 0, &bad);
	if (!cJSON_IsObject(body) || !cJSON_IsString(name) || !name_ok(name->valuestring)) {
		malformed(rs, "name must be 1 to 64 letters, digits, '-' or '_'");
		goto out;
	}
	if (hint && !cJSON_IsNull(hint) &&
	    (!cJSON_IsString(hint) ||
	     !in_list(hint->valuestring, locations, sizeof(locations) / sizeof(locations[0])))) {
		malformed(rs, "primary_location_hint must be one of wnam, enam, weur, eeur, apac, oc");
		goto out;
	}
	if (jur && !cJSON_IsNull(jur) &&
	    (!cJSON_IsString(jur) ||
	     !in_list(jur->valuestring, jurisdictions, sizeof(jurisdictions) / sizeof(jurisdictions[0])))) {
		malformed(rs, "jurisdiction must be one of eu, fedramp, us");
		goto out;
	}
	if (bad) {
		malformed(rs, "read_replication.mode must be auto or disabled");
		goto out;
	}
	if (find_name(&e->m, name->valuestring)) {
		emu_fail(rs, 400, D1_ERR_EXISTS, "A database with that name already exists");
		goto out;
	}
	if (e->m.d1s.n >= EMU_D1_DBS_MAX) {
		emu_fail(rs, 400, D1_ERR_TOO_MANY,
		         "You have reached the maximum number of D1 databases (%d)", EMU_D1_DBS_MAX);
		goto out;
	}
	id = emu_new_id(rq);
	snprintf(uuid, sizeof(uuid), "%.8s-%.4s-4%.3s-%c%.3s-%.12s", id, id + 8, id + 13,
	         "89ab"[(id[16] >= 'a' ? id[16] - 'a' + 10 : id[16] - '0') & 3], id + 17, id + 20);
	free(id);
	d = xcalloc(1, sizeof(*d));
	d->uuid = xstrdup(uuid);
	d->name = xstrdup(name->valuestring);
	if (cJSON_IsString(jur))
		d->jurisdiction = xstrdup(jur->valuestring);
	else if (cJSON_IsString(hint))
		d->location = xstrdup(hint->valuestring);
	d->created_at = emu_iso_time(rq->now);
	d->replication = xstrdup(mode ? mode : "disabled");
	if (e->data_dir) {
		char *dir = xasprintf("%s/d1", e->data_dir);

		if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
			free(dir);
			emu_d1_free(d);
			emu_fail(rs, 500, 10001, "cannot create the D1 directory");
			goto out;
		}
		d->path = xasprintf("%s/%s.sqlite3", dir, d->uuid);
		free(dir);
	}
	d->db = db_open(d->path);
	if (d->db == NULL) {
		emu_d1_free(d);
		emu_fail(rs, 500, 10001, "cannot open the database file");
		goto out;
	}
	emu_vec_push(&e->m.d1s, d);
	out = d1_json(d);
	region_of(d, region);
	cJSON_AddStringToObject(out, "created_in_region", region);
	emu_ok(rs, out);
out:
	cJSON_Delete(body);
}

/*
 * GET /accounts/{account_id}/d1/database: paged by page (1-based) and
 * per_page (1..EMU_D1_PER_PAGE_MAX), in creation order; `name` keeps the
 * databases whose name contains it. result_info as the v4 page style.
 */
static void
h_list(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	const char *qn = emu_query(rq, "name");
	long long page = 1, per = EMU_D1_PER_PAGE_DEFAULT, total = 0, skip, count = 0;
	cJSON *arr, *info;

	if ((emu_query(rq, "page") &&
	     (emu_parse_ll(emu_query(rq, "page"), &page) || page < 1 || page > EMU_JSON_INT_MAX)) ||
	    (emu_query(rq, "per_page") &&
	     (emu_parse_ll(emu_query(rq, "per_page"), &per) || per < 1 || per > EMU_D1_PER_PAGE_MAX))) {
		malformed(rs, "page must be 1 or more and per_page 1 to 10000");
		return;
	}
	arr = cJSON_CreateArray();
	/* (page - 1) * per cannot overflow: page <= 2^53 and per <= 10^4 */
	skip = (page - 1) * per;
	for (size_t i = 0; i < e->m.d1s.n; i++) {
		const struct emu_d1 *d = e->m.d1s.v[i];

		if (qn && *qn && strstr(d->name, qn) == NULL)
			continue;
		if (total >= skip && count < per) {
			cJSON_AddItemToArray(arr, d1_list_json(d));
			count++;
		}
		total++;
	}
	info = cJSON_CreateObject();
	cJSON_AddNumberToObject(info, "page", (double)page);
	cJSON_AddNumberToObject(info, "per_page", (double)per);
	cJSON_AddNumberToObject(info, "count", (double)count);
	cJSON_AddNumberToObject(info, "total_count", (double)total);
	cJSON_AddNumberToObject(info, "total_pages", (double)((total + per - 1) / per));
	emu_ok_info(rs, 200, arr, info);
}

/*
 * The database a {database_id} names: a uuid; GET also takes a name (what
 * wrangler's getDatabaseInfoFromIdOrName does). Fails the response (7400
 * for an id that is no uuid, 7404 for none) and returns NULL otherwise.
 */
static struct emu_d1 *
lookup(struct emu *e, struct emu_req *rq, struct emu_resp *rs, int by_name)
{
	const char *id = emu_param(rq, "database_id");
	struct emu_d1 *d = NULL;

	if (is_uuid(id))
		d = find_uuid(&e->m, id);
	else if (by_name)
		d = find_name(&e->m, id);
	else {
		malformed(rs, "failed to decode id");
		return NULL;
	}
	if (d == NULL)
		emu_fail(rs, 404, D1_ERR_NOT_FOUND, "The database %s could not be found", id);
	return d;
}

/* GET .../d1/database/{database_id}: the D1 object; `fields` keeps only the
 * comma-separated fields named (SDK DatabaseGetParams). */
static void
h_get(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	struct emu_d1 *d = lookup(e, rq, rs, 1);
	const char *fields = emu_query(rq, "fields");
	cJSON *o;

	if (d == NULL)
		return;
	o = d1_json(d);
	if (fields && *fields) {
		cJSON *it = o->child;

		while (it) {
			cJSON *next = it->next;
			const char *f = fields;
			size_t n = strlen(it->string);
			int keep = 0;

			while (*f && !keep) {
				const char *c = strchrnul(f, ',');

				keep = (size_t)(c - f) == n && strncmp(f, it->string, n) == 0;
				f = *c ? c + 1 : c;
			}
			if (!keep)
				cJSON_Delete(cJSON_DetachItemViaPointer(o, it));
			it = next;
		}
	}
	emu_ok(rs, o);
}

/* DELETE .../d1/database/{database_id}: the database goes, and its file once
 * the delete is journaled (see emu_dispatch). */
static void
h_delete(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	struct emu_d1 *d = lookup(e, rq, rs, 0);

	if (d == NULL)
		return;
	for (size_t i = 0; i < e->m.d1s.n; i++)
		if (e->m.d1s.v[i] == d) {
			emu_vec_remove(&e->m.d1s, i);
			break;
		}
	/* the files go after the journal record (emu_dispatch) */
	if (d->path) {
		free(rq->unlink_after);
		rq->unlink_after = xstrdup(d->path);
	}
	emu_d1_free(d);
	emu_ok(rs, NULL);
}

/* PUT (read_replication required) and PATCH .../d1/database/{database_id}. */
static void
h_update(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	struct emu_d1 *d = lookup(e, rq, rs, 0);
	cJSON *body;
	const char *mode;
	int bad;

	if (d == NULL)
		return;
	body = emu_body_json(rq);
	mode = replication_mode(body, strcmp(rq->method, "PUT") == 0, &bad);
	if (!cJSON_IsObject(body) || bad) {
		malformed(rs, "read_replication.mode must be auto or disabled");
		cJSON_Delete(body);
		return;
	}
	if (mode) {
		free(d->replication);
		d->replication = xstrdup(mode);
	}
	cJSON_Delete(body);
	emu_ok(rs, d1_json(d));
}

/* The body of a query: {sql, params?} or {batch: [...]} (fn for in_transaction). */
static int
run_body(struct run *r, const struct emu_d1 *d, const void *arg)
{
	const cJSON *body = arg, *batch = cJSON_GetObjectItemCaseSensitive(body, "batch"), *it;
	size_t nstmts = 0;

	if (batch == NULL)
		return run_item(r, d, body, &nstmts);
	cJSON_ArrayForEach(it, batch) {
		int rc = run_item(r, d, it, &nstmts);

		if (rc != 0)
			return rc;
	}
	return 0;
}

/*
 * POST .../{database_id}/query and /raw: every statement of the request in
 * one transaction; the result is an array with one {results, success, meta}
 * per statement. A SQL error fails the whole request (HTTP 400, 7500) and
 * leaves nothing of it. Not journaled: SQLite keeps the rows. A request
 * whose statements are all read-only (sqlite3_stmt_readonly: a SELECT, the
 * migrations-table and table-count reads) is counted as a read in
 * /__emu/stats; one with a statement that failed to prepare is a write, as
 * what it would have done is unknown.
 */
static void
query(struct emu *e, struct emu_req *rq, struct emu_resp *rs, int raw)
{
	struct emu_d1 *d = lookup(e, rq, rs, 0);
	cJSON *body, *batch;
	struct run r;
	int rc;

	rq->no_journal = 1;
	if (d == NULL)
		return;
	body = emu_body_json(rq);
	batch = cJSON_GetObjectItemCaseSensitive(body, "batch");
	if (!cJSON_IsObject(body) ||
	    (batch == NULL && !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(body, "sql"))) ||
	    (batch != NULL && (!cJSON_IsArray(batch) || cJSON_GetArraySize(batch) == 0 ||
	                       cJSON_GetArraySize(batch) > EMU_D1_BATCH_MAX))) {
		malformed(rs, "the body must be {sql, params?} or {batch: [{sql, params?}, ...]} "
		              "(1 to 1000 queries)");
		cJSON_Delete(body);
		return;
	}
	memset(&r, 0, sizeof(r));
	r.raw = raw;
	rc = in_transaction(e, d, &r, run_body, body);
	rq->read_only = r.prepared > 0 && !r.wrote;
	if (rc == -2)
		emu_fail(rs, 400, D1_ERR_MALFORMED, "%s", r.err);
	else if (rc != 0)
		emu_fail(rs, 400, D1_ERR_SQL, "%s", r.err);
	else if (cJSON_GetArraySize(r.results) == 0)
		emu_fail(rs, 400, D1_ERR_SQL, "No SQL statements detected: SQLITE_ERROR");
	else {
		emu_ok(rs, r.results);
		r.results = NULL;
	}
	cJSON_Delete(r.results);
	cJSON_Delete(body);
}

static void
h_query(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	query(e, rq, rs, 0);
}

static void
h_raw(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	query(e, rq, rs, 1);
}

/* An import's statements (fn for in_transaction): the uploaded file. */
static int
run_upload(struct run *r, const struct emu_d1 *d, const void *arg)
{
	size_t nstmts = 0;

	(void)arg;
	r->import = 1;
	return run_sql(r, d, d->upload, d->upload_len, NULL, &nstmts, (size_t)-1);
}

static char *
bookmark(const struct emu_d1 *d)
{
	char hex[33];
	size_t k = 0;

	for (const char *p = d->uuid; *p && k < 32; p++)
		if (*p != '-')
			hex[k++] = *p;
	hex[k] = '\0';
	return xasprintf("%08llx-00000000-00000000-%s", d->imports, hex);
}

/*
 * POST .../{database_id}/import, wrangler's `d1 execute --remote --file`:
 * init {etag} answers an upload_url on this emulator (loopback) and a
 * filename; the client PUTs the file there; ingest {etag, filename} runs
 * the whole file in one transaction and answers status "complete" at once
 * (or "error" with nothing applied); poll answers the last ingest's result.
 */
static void
h_import(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	struct emu_d1 *d = lookup(e, rq, rs, 0);
	cJSON *body, *out = NULL;
	const cJSON *action, *etag, *filename;

	rq->no_journal = 1;
	if (d == NULL)
		return;
	body = emu_body_json(rq);
	action = cJSON_GetObjectItemCaseSensitive(body, "action");
	etag = cJSON_GetObjectItemCaseSensitive(body, "etag");
	filename = cJSON_GetObjectItemCaseSensitive(body, "filename");
	if (!cJSON_IsString(action)) {
		malformed(rs, "action must be init, ingest or poll");
	} else if (strcmp(action->valuestring, "init") == 0) {
		const char *host = e->listen_host ? e->listen_host : "127.0.0.1";
		char *url, *fn;

		if (!cJSON_IsString(etag) || strlen(etag->valuestring) != 32 ||
		    strspn(etag->valuestring, "0123456789abcdef") != 32) {
			malformed(rs, "etag must be the file's MD5 in lower-case hex");
			goto out;
		}
		if (strcmp(host, "0.0.0.0") == 0)
			host = "127.0.0.1";
		else if (strcmp(host, "[::]") == 0)
			host = "[::1]";
		fn = xasprintf("%s.sql", etag->valuestring);
		url = xasprintf("http://%s:%u/__emu/d1/upload/%s/%s", host, e->port, d->uuid, fn);
		out = cJSON_CreateObject();
		cJSON_AddBoolToObject(out, "success", 1);
		cJSON_AddStringToObject(out, "filename", fn);
		cJSON_AddStringToObject(out, "upload_url", url);
		free(url);
		free(fn);
		emu_ok(rs, out);
	} else if (strcmp(action->valuestring, "ingest") == 0) {
		struct run r;
		char *bm;
		int rc;

		if (!cJSON_IsString(etag) || !cJSON_IsString(filename)) {
			malformed(rs, "ingest needs etag and filename");
			goto out;
		}
		out = cJSON_CreateObject();
		cJSON_AddStringToObject(out, "type", "import");
		if (d->upload == NULL || strcmp(d->upload_md5, etag->valuestring) != 0) {
			cJSON_AddBoolToObject(out, "success", 0);
			cJSON_AddStringToObject(out, "status", "error");
			cJSON_AddStringToObject(out, "error", "no uploaded file has that etag");
			cJSON_AddItemToObject(out, "messages", cJSON_CreateArray());
			emu_ok(rs, out);
			goto out;
		}
		memset(&r, 0, sizeof(r));
		rc = in_transaction(e, d, &r, run_upload, NULL);
		d->imports++;
		bm = bookmark(d);
		cJSON_AddStringToObject(out, "at_bookmark", bm);
		if (rc != 0) {
			cJSON_AddBoolToObject(out, "success", 0);
			cJSON_AddStringToObject(out, "status", "error");
			cJSON_AddStringToObject(out, "error", r.err);
			cJSON_AddItemToObject(out, "messages", cJSON_CreateArray());
		} else {
			cJSON *res, *meta, *msgs;
			long long size = db_size(r.db);

			cJSON_AddBoolToObject(out, "success", 1);
			cJSON_AddStringToObject(out, "status", "complete");
			msgs = cJSON_AddArrayToObject(out, "messages");
			cJSON_AddItemToArray(msgs, cJSON_CreateString("Import complete (cfemu)"));
			res = cJSON_AddObjectToObject(out, "result");
			cJSON_AddStringToObject(res, "final_bookmark", bm);
			cJSON_AddNumberToObject(res, "num_queries", (double)r.queries);
			meta = meta_json(d, r.ms, r.rows_written, sqlite3_last_insert_rowid(r.db),
			                 r.rows_written > 0, r.rows_read, r.rows_written);
			cJSON_ReplaceItemInObjectCaseSensitive(meta, "size_after",
			                                       cJSON_CreateNumber((double)size));
			cJSON_AddItemToObject(res, "meta", meta);
		}
		free(bm);
		cJSON_Delete(r.results);
		free(d->upload);
		d->upload = NULL;
		d->upload_len = 0;
		cJSON_Delete(d->last_import);
		d->last_import = cJSON_Duplicate(out, 1);
		emu_ok(rs, out);
	} else if (strcmp(action->valuestring, "poll") == 0) {
		if (d->last_import) {
			emu_ok(rs, cJSON_Duplicate(d->last_import, 1));
		} else {
			out = cJSON_CreateObject();
			cJSON_AddBoolToObject(out, "success", 0);
			cJSON_AddStringToObject(out, "type", "import");
			cJSON_AddStringToObject(out, "status", "error");
			cJSON_AddStringToObject(out, "error", "no import is running");
			cJSON_AddItemToObject(out, "messages", cJSON_CreateArray());
			emu_ok(rs, out);
		}
	} else {
		malformed(rs, "action must be init, ingest or poll");
	}
out:
	cJSON_Delete(body);
}

/*
 * PUT /__emu/d1/upload/{database_id}/{filename}: the upload URL an import
 * init handed out. Keeps the bytes (memory only: an import does not
 * survive a restart of the emulator) and answers their MD5 as ETag.
 */
static void
h_upload(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	struct emu_d1 *d;
	unsigned char md[16];
	unsigned int ml = 0;

	rq->no_journal = 1;
	d = is_uuid(emu_param(rq, "database_id")) ? find_uuid(&e->m, emu_param(rq, "database_id"))
	                                          : NULL;
	if (d == NULL) {
		emu_fail(rs, 404, D1_ERR_NOT_FOUND, "no such database");
		return;
	}
	EVP_Digest(rq->body, rq->body_len, md, &ml, EVP_md5(), NULL);
	for (size_t i = 0; i < 16; i++)
		snprintf(d->upload_md5 + 2 * i, 3, "%02x", md[i]);
	free(d->upload);
	d->upload = xmalloc(rq->body_len + 1);
	memcpy(d->upload, rq->body, rq->body_len);
	d->upload[rq->body_len] = '\0';
	d->upload_len = rq->body_len;
	snprintf(rs->etag, sizeof(rs->etag), "\"%s\"", d->upload_md5);
	emu_raw(rs, 200, "text/plain", "", 0);
}

/*
 * POST /graphql: wrangler `d1 info` asks for the last day's D1 metrics. The
 * emulator keeps none and answers the query's shape with no rows, so
 * wrangler prints zeros.
 */
static void
h_graphql(struct emu *e, struct emu_req *rq, struct emu_resp *rs)
{
	static const char body[] =
		"{\"data\":{\"viewer\":{\"accounts\":[{\"d1AnalyticsAdaptiveGroups\":[],"
		"\"d1QueriesAdaptiveGroups\":[]}]}},\"errors\":null}";

	(void)e;
	rq->no_journal = 1;
	emu_raw(rs, 200, "application/json", body, sizeof(body) - 1);
}

#define D1 "/accounts/{account_id}/d1/database"

const struct emu_route emu_d1_routes[] = {
	{ "POST", D1, h_create, 0 },
	{ "GET", D1, h_list, 0 },
	{ "GET", D1 "/{database_id}", h_get, 0 },
	{ "DELETE", D1 "/{database_id}", h_delete, 0 },
	{ "PUT", D1 "/{database_id}", h_update, 0 },
	{ "PATCH", D1 "/{database_id}", h_update, 0 },
	{ "POST", D1 "/{database_id}/query", h_query, 0 },
	{ "POST", D1 "/{database_id}/raw", h_raw, 0 },
	{ "POST", D1 "/{database_id}/import", h_import, 0 },
	{ "POST", "/graphql", h_graphql, 0 },
	{ "PUT", "/__emu/d1/upload/{database_id}/{filename}", h_upload, EMU_R_ADMIN },
};
const size_t emu_d1_nroutes = sizeof(emu_d1_routes) / sizeof(emu_d1_routes[0]);
