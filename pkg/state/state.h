/*
 * state: what cfstorage owns (the inventory) and, later, each secret's version
 * ledger, in a JSON file. Never a secret value or a token.
 *
 * The file is replaced atomically (temp file, fsync, rename, directory fsync),
 * mode 0600, under an exclusive lock (flock on FILE.lock, which also records
 * who holds it) so that two runs cannot interleave. A file with a newer schema
 * version is refused; a corrupt one is reported and never overwritten.
 */
#ifndef CFS_STATE_H
#define CFS_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "../err/err.h"
#include "../manifest/manifest.h"

#define STATE_VERSION 1
/* Largest state file we read. */
#define STATE_MAX_FILE (64u * 1024 * 1024)
#define STATE_DEFAULT_PATH ".cfstorage/state.json"

enum inv_origin { ORIGIN_CREATED = 0, ORIGIN_ADOPTED, ORIGIN_IMPORTED };

/* How the state learnt that a D1 migration was applied. */
enum mig_origin {
	MIG_APPLIED = 0,         /* cfstorage applied it (batch with its row) */
	MIG_FOUND,               /* its row was in the migrations table already (wrangler,
	                            or a batch whose outcome the run never heard): the
	                            hash is the file's when cfstorage first saw the row */
};

/* A D1 migration the database holds: its file name and content hash, never SQL. */
struct inv_migration {
	char *name;              /* "0001_init.sql", as the migrations table has it */
	char hash[17];
	enum mig_origin origin;
};

/* One owned resource. Strings are owned by the entry. */
struct inv_entry {
	enum kind kind;
	char *name;              /* metadata.name */
	char *bucket_name;       /* R2Bucket */
	char *jurisdiction;      /* R2Bucket */
	char *location_hint;     /* R2Bucket, as declared at creation/adoption */
	char *kv_id;             /* KVNamespace id, D1Database uuid; NULL while a create is pending */
	char *title;             /* KVNamespace */
	char *db_name;           /* D1Database: the database's name */
	int allow_data_loss;     /* D1Database: deletionPolicy Delete may drop its tables */
	char *migrations_table;  /* D1Database: its migrations table, NULL for d1_migrations */
	struct inv_migration *migs; /* D1Database: applied migrations, in order */
	size_t nmigs;
	enum deletion_policy policy;
	enum inv_origin origin;
	int pending;             /* a create was sent; its outcome is not known */
	int managed_lifecycle;   /* the manifest declared lifecycle when last applied */
	int managed_cors;
	char spec_hash[17];      /* truncated SHA-256 of the applied spec, hex */
	char *condition;         /* "Ready", or "Failed: ..." */
	char *updated;           /* RFC 3339 */
};

/* A secret version's life (docs/decisions.md, Secrets). */
enum vstatus { V_PENDING = 0, V_CURRENT, V_PREVIOUS, V_RETAINED, V_DESTROYED };

/* One version in a Secret's ledger: never the value, only its fingerprint. */
struct sec_version {
	unsigned n;
	int64_t created;         /* unix seconds */
	int64_t current_at;      /* when it became current; 0 if never */
	enum vstatus status;
	int published;           /* pointer writes began: some target may point here */
	char fp[17];             /* truncated SHA-256 of the value, hex */
	char **targets;          /* "store:STORE/NAME" / "script:SCRIPT/NAME" holding it */
	size_t ntargets;
};

struct sec_ledger {
	char *name;              /* metadata.name */
	enum deletion_policy policy;
	int alias;               /* <name> was written with the current value */
	char **targets;          /* every target ever written (for prune) */
	size_t ntargets;
	struct sec_version *v;   /* ascending n */
	size_t n;
};

/* etcd backend: the leader key's lease, renewed every third of it. */
#define STATE_ETCD_LEASE_TTL 15

struct state_etcd;
struct state_r2;

struct state {
	char *path;
	int lock_fd;
	int readonly;            /* opened without the lock (status) */
	struct state_etcd *etcd; /* etcd:// backend, NULL for a file */
	struct state_r2 *r2;     /* r2:// backend (state_r2.h), opened by state_r2_open */
	struct inv_entry **v;    /* stable pointers: entries never move */
	size_t n;
	struct sec_ledger **secrets; /* stable pointers */
	size_t nsecrets;
};

/*
 * Opens (creating its directory, mode 0700) and locks the state at path, then
 * reads it if it exists. ERR_CONFLICT when another process holds the lock
 * (the message names its pid, host and start time); ERR_IO for an unreadable,
 * corrupt or newer-version file. Free with state_close().
 */
enum errcode state_open(const char *path, int lock, struct state **out, struct err *e)
	WARN_UNUSED_RESULT;
/*
 * With an etcd:// path, `lock` is an election on an etcd lease
 * (STATE_ETCD_LEASE_TTL s): the winner reads and writes the state, renewing
 * the lease from a thread; a loser gets ERR_CONFLICT naming the holder, or,
 * with STATE_STANDBY, an open state that is not the leader (no data) and
 * can campaign again later.
 */
#define STATE_STANDBY 2
/* etcd: tries to become the leader; on success the state is (re)read. */
enum errcode state_campaign(struct state *st, struct err *e) WARN_UNUSED_RESULT;
/* 1 for a file state; for etcd, 1 while this process holds the lease. */
int state_is_leader(const struct state *st);
/* Writes the whole state atomically. */
enum errcode state_save(struct state *st, struct err *e) WARN_UNUSED_RESULT;
/* An empty state in memory (no file, no lock; saving it is refused): a plain
 * value for plans and tests. Free with state_close(). */
struct state *state_new(void);
/* Releases the lock and frees. NULL is fine. */
void state_close(struct state *st);
/*
 * Parses a state document held in memory as if it were the file `name`
 * (tests, fuzzing): no lock, read-only, the same checks as state_open.
 * *out is set in every case; free it with state_close().
 */
enum errcode state_load_buffer(const char *name, const char *data, size_t len,
                               struct state **out, struct err *e) WARN_UNUSED_RESULT;
/* The JSON text state_save writes for st; free with free(). */
char *state_serialize(const struct state *st);

/* The entry or ledger of a name, or NULL (like strchr: the result is the caller's
 * to change only when it holds the state mutably). */
struct inv_entry *state_find(const struct state *st, enum kind k, const char *name);
/* Adds an empty entry for (k, name) or returns the existing one. */
struct inv_entry *state_upsert(struct state *st, enum kind k, const char *name);
void state_remove(struct state *st, enum kind k, const char *name);
void inv_entry_release(struct inv_entry *e);

struct sec_ledger *state_ledger(const struct state *st, const char *name);
struct sec_ledger *state_ledger_upsert(struct state *st, const char *name);
void state_ledger_remove(struct state *st, const char *name);
/* Stores a copy of l as the ledger of l->name, replacing any. */
void state_ledger_replace(struct state *st, const struct sec_ledger *l);
/* A deep copy; free with ledger_free(). */
struct sec_ledger *ledger_clone(const struct sec_ledger *l);
void ledger_free(struct sec_ledger *l);
/* Appends a version (pending, no targets) and returns it; ledger pointers to
 * versions move: use the returned pointer only until the next add. */
struct sec_version *ledger_add(struct sec_ledger *l, unsigned n, int64_t created);
struct sec_version *ledger_find(struct sec_ledger *l, unsigned n);
void ledger_add_target(char ***v, size_t *n, const char *t);
const char *vstatus_name(enum vstatus s);
/* The recorded migration `name` of a D1Database entry, or NULL. */
struct inv_migration *inv_migration_find(const struct inv_entry *x, const char *name);
/* Records migration name with hash (replacing a record of the same name). */
void inv_migration_add(struct inv_entry *x, const char *name, const char *hash,
                       enum mig_origin origin);
/* Sets a string field, freeing the old value (s may be NULL). */
void inv_set(char **field, const char *s);

#endif
