/*
 * observe: a typed snapshot of the account, read with as few requests as
 * possible: one paged bucket list per jurisdiction in use, one paged KV
 * namespace list, then (concurrently) lifecycle and CORS only for buckets
 * whose manifest declares them or whose inventory says cfstorage managed
 * them, and an object count only for buckets that may be pruned. Secrets:
 * one stores list and one paged secrets listing per Secrets Store, and one
 * secrets listing per Worker script, that the manifests' Secrets target.
 */
#ifndef CFS_OBSERVE_H
#define CFS_OBSERVE_H

#include "../api/api.h"
#include "../manifest/manifest.h"
#include "../state/state.h"

/* Objects listed to tell whether a bucket is empty (one page). */
#define OBSERVE_OBJECT_PAGE 1000

/*
 * A Secrets Store or a Worker script, listed once for every Secret that
 * targets it: names and comments, never a value (the API has none to give).
 */
struct obs_starget {
	int worker;              /* 1 a Worker script, 0 a Secrets Store */
	char *where;             /* the script, or the store as the manifests name it */
	char *store_id;          /* the store's id; NULL when the account has no such store */
	char *other_store;       /* the account's store when it is not `where` */
	int missing;             /* the script (or store) does not exist */
	struct obs_secret *v;
	size_t n;
};

struct snapshot {
	struct obs_bucket *buckets;
	size_t nbuckets;
	struct obs_kv *kvs;
	size_t nkvs;
	int listed_kv;           /* the KV list was read */
	int listed_juris[3];     /* default, eu, fedramp lists were read */
	struct obs_starget *stargets; /* every store and script a Secret targets */
	size_t nstargets;
	struct obs_d1 *d1s;      /* every D1 database (observe_d1.c) */
	size_t nd1s;
	int listed_d1;           /* the D1 list was read */
};

/*
 * The per-resource parts of an observation: each is one more read (or one
 * paged listing) per resource, on top of the list-level reads.
 */
enum obs_part {
	OBS_LIFECYCLE = 0,       /* a bucket's lifecycle rules */
	OBS_CORS,                /* a bucket's CORS policy */
	OBS_KV_KEYS,             /* a namespace's key listing */
	OBS_D1_REPLICATION,      /* a D1 database's read replication (a GET) */
	OBS_D1_MIGRATIONS,       /* a D1 database's migrations table (a SELECT) */
	OBS_NPARTS
};
extern const char *const obs_part_names[OBS_NPARTS];

/*
 * Which per-resource parts a pass reads (the daemon's rotation). want() is
 * asked once per part a full observation would read, with the resource's
 * kind and metadata.name; 0 leaves the part unread. An unread part is
 * UNKNOWN, never empty: its obs_bucket keeps lifecycle_read (cors_read) 0 and
 * its obs_kv keeps keys_read 0, and the plan then neither writes nor deletes
 * anything that part holds (plan.h: PLAN_UNOBSERVED_*). The list-level reads
 * (buckets, namespaces, Secrets Stores and scripts) are always made: they
 * catch creations, deletions and renames of whole resources.
 */
struct observe_sel {
	int (*want)(enum kind kind, const char *name, enum obs_part part, void *user);
	void *user;
};

/* Reads the account into snap; sel NULL reads every part. */
enum errcode observe_run(struct api *a, const struct manifest_set *want,
                         const struct state *st, int prune, const struct observe_sel *sel,
                         struct snapshot *snap, struct err *e) WARN_UNUSED_RESULT;
void snapshot_release(struct snapshot *s);
/*
 * D1 (observe_d1.c): one paged database list when the manifests or the
 * inventory hold a D1Database; then, concurrently, a GET of each declared
 * database that manages readReplication (the list does not show it), one
 * read of the migrations table of each that declares migrations, and the
 * table count of each that --prune may delete. The GET and the migrations
 * read are parts (OBS_D1_*) that sel may leave unread: an unread replication
 * mode or migration history is unknown, and the plan changes nothing there.
 * Called by observe_run.
 */
enum errcode observe_d1(struct api *a, const struct manifest_set *want,
                        const struct state *st, int prune, const struct observe_sel *sel,
                        struct snapshot *snap, struct err *e) WARN_UNUSED_RESULT;
/* The database with this uuid or name; NULL when absent. Borrowed. */
const struct obs_d1 *snapshot_d1_uuid(const struct snapshot *s, const char *uuid);
const struct obs_d1 *snapshot_d1_name(const struct snapshot *s, const char *name);
/* The database a D1Database entry or resource stands for: by the recorded
 * uuid, else by name. */
const struct obs_d1 *snapshot_d1_of(const struct snapshot *s, const struct inv_entry *x,
                                    const char *name);
void snapshot_d1_release(struct snapshot *s);
/*
 * --verify-values: reads the value of every declared entry whose key is
 * listed with the expected hash and, when the bytes do not hash to it
 * (changed behind the metadata's back), clears the listed hash so the plan
 * rewrites the entry. One GET per such key: only on request.
 */
enum errcode observe_verify_values(struct api *a, const struct manifest_set *want,
                                   const struct state *st, struct snapshot *snap,
                                   size_t *checked, struct err *e) WARN_UNUSED_RESULT;

/* Lookups; NULL when absent. Borrowed, valid until snapshot_release(). */
const struct obs_bucket *snapshot_bucket(const struct snapshot *s, const char *jurisdiction,
                                         const char *name);
const struct obs_kv *snapshot_kv_id(const struct snapshot *s, const char *id);
const struct obs_kv *snapshot_kv_title(const struct snapshot *s, const char *title);
/* The listing of a store (worker 0) or script (worker 1); NULL: not observed. */
const struct obs_starget *snapshot_starget(const struct snapshot *s, int worker,
                                           const char *where);

#endif
