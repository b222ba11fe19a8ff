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

#include "../err/err.h"
#include "../manifest/manifest.h"

#define STATE_VERSION 1
/* Largest state file we read. */
#define STATE_MAX_FILE (64u * 1024 * 1024)
#define STATE_DEFAULT_PATH ".cfstorage/state.json"

enum inv_origin { ORIGIN_CREATED = 0, ORIGIN_ADOPTED, ORIGIN_IMPORTED };

/* One owned resource. Strings are owned by the entry. */
struct inv_entry {
	enum kind kind;
	char *name;              /* metadata.name */
	char *bucket_name;       /* R2Bucket */
	char *jurisdiction;      /* R2Bucket */
	char *location_hint;     /* R2Bucket, as declared at creation/adoption */
	char *kv_id;             /* KVNamespace; NULL while a create is pending */
	char *title;             /* KVNamespace */
	enum deletion_policy policy;
	enum inv_origin origin;
	int pending;             /* a create was sent; its outcome is not known */
	int managed_lifecycle;   /* the manifest declared lifecycle when last applied */
	int managed_cors;
	char spec_hash[17];      /* truncated SHA-256 of the applied spec, hex */
	char *condition;         /* "Ready", or "Failed: ..." */
	char *updated;           /* RFC 3339 */
};

struct state {
	char *path;
	int lock_fd;
	int readonly;            /* opened without the lock (status) */
	struct inv_entry **v;    /* stable pointers: entries never move */
	size_t n;
	char *secrets_json;      /* the ledger section, kept verbatim until issue 6 */
};

/*
 * Opens (creating its directory, mode 0700) and locks the state at path, then
 * reads it if it exists. ERR_CONFLICT when another process holds the lock
 * (the message names its pid, host and start time); ERR_IO for an unreadable,
 * corrupt or newer-version file. Free with state_close().
 */
enum errcode state_open(const char *path, int lock, struct state **out, struct err *e)
	WARN_UNUSED_RESULT;
/* Writes the whole state atomically. */
enum errcode state_save(struct state *st, struct err *e) WARN_UNUSED_RESULT;
/* Releases the lock and frees. NULL is fine. */
void state_close(struct state *st);

struct inv_entry *state_find(struct state *st, enum kind k, const char *name);
/* Adds an empty entry for (k, name) or returns the existing one. */
struct inv_entry *state_upsert(struct state *st, enum kind k, const char *name);
void state_remove(struct state *st, enum kind k, const char *name);
void inv_entry_release(struct inv_entry *e);
/* Sets a string field, freeing the old value (s may be NULL). */
void inv_set(char **field, const char *s);

#endif
