/*
 * manifest: load YAML manifests (files, directories, stdin) into typed desired
 * resources and validate them against the resource model (README) and Cloudflare's
 * limits (docs/cloudflare-api/REFERENCE.md in this repository).
 *
 * Every problem in every file is collected into a `struct diags` with its
 * position; nothing stops at the first mistake. A resource set with any
 * diagnostic must not be used for API calls.
 */
#ifndef CFS_MANIFEST_H
#define CFS_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "../diag/diag.h"
#include "../err/err.h"

#define MANIFEST_API_VERSION "cfstorage.dev/v1alpha1"

/* metadata.name: a DNS-1123 label, as Kubernetes names are. */
#define MANIFEST_NAME_MAX 63
/* R2 bucket names: 3-63 of [a-z0-9-], alphanumeric at both ends (REFERENCE §3). */
#define R2_BUCKET_NAME_MIN 3
#define R2_BUCKET_NAME_MAX 63
/* Lifecycle rules per bucket (REFERENCE §3.1). */
#define R2_LIFECYCLE_MAX_RULES 1000
/* Longest lifecycle rule id we accept; Cloudflare documents none. */
#define R2_LIFECYCLE_ID_MAX 255
/* Days in a lifecycle condition: up to 100 years keeps maxAge in range. */
#define R2_LIFECYCLE_MAX_DAYS 36500
/* CORS maxAgeSeconds ceiling (REFERENCE §3.2). */
#define R2_CORS_MAX_AGE 86400
/* CORS rules per bucket; R2 documents 100 as the practical ceiling. */
#define R2_CORS_MAX_RULES 100
/* KV limits (REFERENCE §4). */
#define KV_KEY_MAX 512
#define KV_VALUE_MAX (25u * 1024 * 1024)
#define KV_METADATA_MAX 1024
/* Bytes of KV metadata kept for cfstorage's own content hash, under
 * KV_RESERVED_META_KEY, so declared metadata may use the rest. */
#define KV_METADATA_RESERVED 64
#define KV_RESERVED_META_KEY "cfs:h"
#define KV_TTL_MIN 60
/* Longest namespace title we accept (Cloudflare documents none; 512 keeps
 * every list page small). */
#define KV_TITLE_MAX 512
/* Secret generation: 16 bytes (128 bits) at least; 512 keeps the hex form
 * within the Secrets Store's documented 1,024-byte value limit. */
#define SECRET_BYTES_MIN 16
#define SECRET_BYTES_MAX 512
#define SECRET_VALUE_MAX 1024
/* Base secret name; _V<N> and _VERSION are appended, so leave room. */
#define SECRET_NAME_MAX 64
#define SECRET_EVERY_DAYS_MAX 3650
#define SECRET_RETAIN_MAX 1000
/* Worker script names (Cloudflare: up to 63 of [a-z0-9_-]). */
#define WORKER_SCRIPT_MAX 63
/* D1 database names: 1-64 of [a-z0-9_-], alphanumeric first (wrangler and
 * the dashboard accept these; Cloudflare documents no other rule). */
#define D1_NAME_MAX 64
/* Migration files in one folder: far more than a schema's history needs. */
#define D1_MIGRATIONS_MAX 10000
/* One migration file: D1 takes at most 100,000 bytes per SQL statement and a
 * request body of a few MB; 1 MiB of SQL is one batch that still fits. */
#define D1_MIGRATION_FILE_MAX (1024u * 1024)
/* One statement (D1's documented maximum SQL statement length). */
#define D1_STATEMENT_MAX 100000
/* Statements in one migration file: each is one item of one batch, with the
 * migrations table's CREATE and INSERT, within D1's 1000 queries a batch. */
#define D1_MIGRATION_MAX_STATEMENTS 998
/* Longest migrations table name (an SQL identifier we interpolate). */
#define D1_TABLE_NAME_MAX 64
/* wrangler's migrations table (src/d1/constants.ts DEFAULT_MIGRATION_TABLE). */
#define D1_DEFAULT_MIGRATIONS_TABLE "d1_migrations"
/* Most resources in one run. */
#define MANIFEST_MAX_RESOURCES 10000
/* Directory recursion limit (symlinked directories could loop). */
#define MANIFEST_MAX_DIR_DEPTH 16
/* Most manifest files in one load: far more than an account needs, and a
 * folder of generated or linked files cannot make a load unbounded. */
#define MANIFEST_MAX_FILES 10000
/* Most folders walked in one load. Each is walked once, however many
 * symlinks lead to it (a loop or a fan-out costs one visit per folder). */
#define MANIFEST_MAX_DIRS 4096
/* Most directory entries looked at in one load, manifests or not. */
#define MANIFEST_MAX_DIR_ENTRIES 200000
/* Most extra folders a manifest path may reach (--allow-path-root). */
#define MANIFEST_MAX_PATH_ROOTS 16

enum kind { KIND_R2BUCKET = 1, KIND_KVNAMESPACE, KIND_SECRET, KIND_D1DATABASE };
/* The last kind: loops over every kind run to it. */
#define KIND_LAST KIND_D1DATABASE

enum deletion_policy { DELETION_RETAIN = 0, DELETION_DELETE };

struct label {
	char *key, *value;
};

/* A lifecycle condition: after N days (Age) or on a date (Date). */
struct lc_cond {
	int set;          /* 0 when absent */
	int is_date;
	int64_t days;     /* Age: days (sent as seconds) */
	int64_t date;     /* Date: unix seconds, midnight UTC */
	char date_text[11];
};

struct lc_transition {
	struct lc_cond cond;
	char *storage_class; /* "InfrequentAccess" */
};

struct lc_rule {
	char *id;
	int enabled;
	char *prefix;              /* "" = whole bucket */
	struct lc_cond expire;     /* deleteObjectsTransition */
	struct lc_cond abort_mpu;  /* abortMultipartUploadsTransition (Age only) */
	struct lc_transition *transitions;
	size_t ntransitions;
	struct src_pos pos;
};

struct cors_rule {
	char *id;                 /* optional */
	char **origins; size_t norigins;
	char **methods; size_t nmethods;
	char **headers; size_t nheaders;
	char **expose;  size_t nexpose;
	int64_t max_age;          /* -1 when absent */
	struct src_pos pos;
};

struct r2_bucket_spec {
	char *bucket_name;       /* default: metadata.name */
	char *jurisdiction;      /* "default" | "eu" | "fedramp" */
	char *location_hint;     /* NULL or apac|eeur|enam|weur|wnam|oc */
	char *storage_class;     /* "Standard" (default) | "InfrequentAccess" */
	int has_lifecycle;       /* lifecycle: given (then it owns the rule set) */
	int64_t delete_after_days; /* shorthand; 0 = absent */
	struct lc_rule *rules;   /* the full rules, shorthand included as a rule */
	size_t nrules;
	int has_cors;
	struct cors_rule *cors;
	size_t ncors;
};

struct kv_entry {
	char *key;
	char *value;             /* inline value, or NULL with value_file */
	size_t value_len;
	char *value_file;        /* real path, inside value_root */
	char *value_root;        /* real path of the folder value_file must stay in */
	int64_t ttl_seconds;     /* 0 = none */
	int64_t expiration;      /* 0 = none (unix seconds) */
	char *metadata_json;     /* serialized JSON object or NULL */
	struct src_pos pos;
	char hash[17];           /* content hash (manifest_hash_entries), hex */
	int binary;              /* the value is not UTF-8 text: sent base64 */
};

struct kv_namespace_spec {
	char *title;             /* default: metadata.name */
	struct kv_entry *entries;
	size_t nentries;
	int has_entries;
	int prune;
	char *prune_prefix;      /* prune only keys under it (NULL: all) */
};

enum secret_encoding { SECRET_BASE64 = 0, SECRET_BASE64URL, SECRET_HEX };
enum retain_mode { RETAIN_FOREVER = 0, RETAIN_COUNT, RETAIN_DAYS };
enum target_kind { TARGET_SECRETS_STORE = 1, TARGET_WORKER };

struct secret_target {
	enum target_kind kind;
	char *store;             /* secretsStore: store name or id */
	char *script;            /* workerSecret: script name */
	char *name;              /* secret name at the target */
	char **scopes; size_t nscopes; /* secretsStore only; default [workers] */
	struct src_pos pos;
};

struct secret_spec {
	int64_t bytes;
	enum secret_encoding encoding;
	int has_rotation;
	int64_t every_days;      /* 0 = never rotated */
	int64_t start_at;        /* unix seconds; 0 = from each version's creation */
	enum retain_mode retain;
	int64_t retain_n;        /* versions (count) or days */
	int alias;               /* also write <name> with the current value */
	struct secret_target *targets;
	size_t ntargets;
};

/* One migration file of a D1Database, in apply order. */
struct d1_migration {
	char *name;              /* the file name, e.g. "0001_init.sql": the row wrangler records */
	unsigned long number;    /* its NNNN prefix */
	char *path;              /* real path */
	char *root;              /* the folder the path must stay in */
	char hash[17];           /* content hash of the file's bytes (manifest_d1_hash), hex */
	size_t nstatements;
};

struct d1_database_spec {
	char *database_name;     /* default: metadata.name */
	char *location_hint;     /* NULL or wnam|enam|weur|eeur|apac|oc (immutable) */
	char *jurisdiction;      /* NULL or eu|fedramp (immutable) */
	char *read_replication;  /* NULL (not managed), "auto" or "disabled" */
	int has_migrations;
	char *migrations_dir;    /* as written in the manifest */
	char *migrations_real;   /* its real path (the daemon watches it); NULL if invalid */
	char *migrations_table;  /* default D1_DEFAULT_MIGRATIONS_TABLE */
	struct d1_migration *migrations; /* sorted by file name (= by number) */
	size_t nmigrations;
	int allow_data_loss;     /* deletionPolicy Delete may drop a database with tables */
	struct src_pos dir_pos;  /* migrations.dir, for messages about its files */
};

struct resource {
	enum kind kind;
	char *name;              /* metadata.name */
	struct label *labels;
	size_t nlabels;
	enum deletion_policy deletion_policy;
	int adopt;               /* spec.adopt: take over an existing resource */
	struct src_pos pos;      /* the document's first line */
	struct src_pos name_pos; /* metadata.name */
	union {
		struct r2_bucket_spec bucket;
		struct kv_namespace_spec kv;
		struct secret_spec secret;
		struct d1_database_spec d1;
	} u;
};

struct manifest_set {
	struct resource *items;
	size_t n;
	char **files;            /* every file read, in order; positions point here */
	size_t nfiles;
	unsigned char digest[32]; /* SHA-256 of every file read, in order (load.c) */
	char **path_roots;       /* real paths: manifest_set_allow_root() */
	size_t npath_roots;
};

/*
 * Paths in a manifest (valueFrom.file) resolve against the manifest's own
 * folder (the current folder for stdin) and must stay inside it: no absolute
 * path, no '..' that climbs out, no symlink that leads out. This adds `dir`
 * (the operator's --allow-path-root) as one more folder such paths may reach,
 * by absolute path or by '..'. Call it before manifest_load(); ERR_INVALID
 * when dir is not a folder or more than MANIFEST_MAX_PATH_ROOTS were given.
 */
enum errcode manifest_set_allow_root(struct manifest_set *set, const char *dir,
                                     struct err *e) WARN_UNUSED_RESULT;

/*
 * Loads and validates every PATH (a file, a directory searched for *.yaml and
 * *.yml in sorted order, skipping names that start with '.', or "-" for
 * stdin). Problems with the manifests go to `d` (then the set must not be
 * used); a path that cannot be read at all returns ERR_IO with e set.
 * Free the set with manifest_set_free() in every case.
 */
enum errcode manifest_load(const char *const *paths, size_t npaths,
                           struct manifest_set *set, struct diags *d,
                           struct err *e) WARN_UNUSED_RESULT;

/* Validates one buffer as if it were the file `name` (tests, fuzzing). */
void manifest_load_buffer(const char *name, const char *data, size_t len,
                          struct manifest_set *set, struct diags *d);
/* Cross-document checks; manifest_load runs them itself. */
void manifest_check_set(const struct manifest_set *set, struct diags *d);

/*
 * Computes every KV entry's content hash (value bytes, declared metadata and
 * expiry mode; SHA-256 truncated to 16 hex digits), reading valueFrom files.
 * The hash is what cfstorage stores under KV_RESERVED_META_KEY and compares
 * with the key listing, so an unchanged entry is never read or written.
 */
enum errcode manifest_hash_entries(struct manifest_set *set, struct err *e)
	WARN_UNUSED_RESULT;
/* The content hash of entry en holding val[0..len). */
void manifest_entry_hash(const struct kv_entry *en, const char *val, size_t len,
                         char out[17]);
/* Reads an entry's value (inline or from its file); free *out with free(). */
enum errcode manifest_entry_value(const struct kv_entry *en, char **out, size_t *len,
                                  struct err *e) WARN_UNUSED_RESULT;
/* 1 when data is UTF-8 text without NUL bytes (sent as a JSON string). */
int manifest_is_text(const char *data, size_t len);

/* Folders already walked, by (device, inode): a sorted set. */
struct manifest_dirset {
	struct manifest_dirid { uint64_t dev, ino; } *v;
	size_t n, cap;
};
/* Adds a folder; 1 when it is new, 0 when it was walked already. */
int manifest_dirset_add(struct manifest_dirset *s, uint64_t dev, uint64_t ino);
void manifest_dirset_release(struct manifest_dirset *s);

void manifest_set_init(struct manifest_set *set);
void manifest_set_free(struct manifest_set *set);

/* One SQL statement of a migration file: bytes [off, off+len) of the file
 * (leading comments and the final ';' left out) and the 1-based line and
 * column where it starts. */
struct sql_stmt {
	size_t off, len;
	unsigned line, col;
};
/*
 * Splits SQL text into statements at ';', as SQLite reads it: quotes ('...',
 * "...", `...`, [...]), -- and block comments are skipped, and a CREATE
 * TRIGGER statement runs to the ';' after its closing END (CASE ... END
 * inside it counted). Statements that hold only comments and blanks are
 * dropped. *out is the caller's to free; returns the count.
 */
size_t manifest_sql_split(const char *sql, size_t len, struct sql_stmt **out);
/* The content hash of a migration file's bytes (SHA-256, 16 hex digits). */
void manifest_d1_hash(const char *data, size_t len, char out[17]);
/*
 * Reads migration m's file (confined to its folder as valueFrom files are)
 * and checks it still has the hash validation saw; ERR_CONFLICT when it
 * changed since. Free *out with free().
 */
enum errcode manifest_d1_read(const struct d1_migration *m, char **out, size_t *len,
                              struct err *e) WARN_UNUSED_RESULT;

const char *kind_name(enum kind k);
/* The kind named "R2Bucket", "KVNamespace", "Secret" or "D1Database"; 0 for any other. */
enum kind kind_parse(const char *name);
/* What the set says, as one SHA-256: every file's bytes in load order and
 * the content hash of every declared KV value (after manifest_hash_entries)
 * and of every D1 migration file. */
void manifest_set_fingerprint(const struct manifest_set *set, unsigned char out[32]);
/* The resource (k, metadata.name) of the set, or NULL. */
const struct resource *manifest_find(const struct manifest_set *set, enum kind k,
                                     const char *name);
/* Counts the resources of kind k. */
size_t manifest_count(const struct manifest_set *set, enum kind k);

#endif
