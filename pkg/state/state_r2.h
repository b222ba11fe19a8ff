/*
 * state_r2: the state as one object in an R2 bucket of the account
 * (--state r2://BUCKET/KEY[?jurisdiction=eu|fedramp]), reached through R2's
 * S3-compatible API with libcurl's own SigV4 signer (CURLOPT_AWS_SIGV4,
 * "aws:amz:auto:s3").
 *
 * Locking (docs/decisions.md, State in R2): a lock object KEY.lock beside
 * the state, created with If-None-Match: *, holding who holds it (host, pid,
 * command, start) and when it expires. The holder renews it from a thread
 * (PUT If-Match on its ETag); a second writer polls until it is free or
 * STATE_R2_WAIT_MS passes, then fails naming the holder; an expired lock is
 * taken over with If-Match on the ETag read, so two takers cannot both win.
 * State writes carry If-Match on the ETag read (If-None-Match: * for a first
 * write): a lost race is detected, never overwritten. Readers take no lock.
 * For the daemon the lock is its leadership lease, like the etcd backend.
 */
#ifndef CFS_STATE_R2_H
#define CFS_STATE_R2_H

#include "state.h"

/* Lock timings. Production values; tests shorten them through the
 * test-only environment override CFSTORAGE_TEST_R2_LOCK_MS="LEASE,RENEW,WAIT"
 * (milliseconds), never by sleeping. */
#define STATE_R2_LEASE_MS 60000   /* a lock not renewed for this long is expired */
#define STATE_R2_RENEW_MS 20000   /* the holder renews every third of the lease */
#define STATE_R2_WAIT_MS 120000   /* how long a second writer waits for the lock */
#define STATE_R2_POLL_MS 250      /* how often a waiting writer looks again */
/* One S3 request's bound. */
#define STATE_R2_TIMEOUT_MS 10000
/* Largest lock object read (it is a few hundred bytes). */
#define STATE_R2_MAX_LOCK 4096

/* What the r2 backend needs besides the URL; all borrowed for the call. */
struct state_r2_creds {
	const char *endpoint;   /* "https://ACCOUNT.r2.cloudflarestorage.com" or an override */
	int endpoint_override;  /* a custom endpoint: the jurisdiction travels as a header */
	const char *key_id;     /* S3 access key id */
	const char *secret;     /* S3 secret access key; never logged */
	const char *command;    /* "apply", "run": recorded in the lock */
};

/* 1 when path names an r2:// state. */
int state_is_r2(const char *path);
/*
 * Splits r2://BUCKET/KEY[?jurisdiction=J] (J: eu or fedramp); the strings are
 * new (free them). ERR_INVALID naming the fault.
 */
enum errcode state_r2_parse_url(const char *url, char **bucket, char **key, char **jurisdiction,
                                struct err *e) WARN_UNUSED_RESULT;
/*
 * Opens the state at url: lock 0 reads only; 1 takes the lock (waiting up
 * to STATE_R2_WAIT_MS; ERR_CONFLICT naming the holder); 1|STATE_STANDBY
 * tries once and otherwise opens as a standby (not the leader, no data)
 * that state_campaign() may promote. Free with state_close().
 */
enum errcode state_r2_open(const char *url, int lock, const struct state_r2_creds *c,
                           struct state **out, struct err *e) WARN_UNUSED_RESULT;
/* The lock object's text ("" when unlocked) and whether it is expired. */
enum errcode state_r2_lock_info(struct state *st, char **text, int *expired, struct err *e)
	WARN_UNUSED_RESULT;
/* Deletes the lock whoever holds it (state unlock --force). */
enum errcode state_r2_force_unlock(struct state *st, struct err *e) WARN_UNUSED_RESULT;
/* Whether the state object exists (migrate refuses a non-empty target). */
enum errcode state_r2_exists(struct state *st, int *exists, struct err *e) WARN_UNUSED_RESULT;
/* S3 requests this state made so far (they are not under the v4 budget). */
unsigned long state_s3_requests(const struct state *st);

/* The hooks state.c calls for an r2 state. */
enum errcode state_r2_campaign(struct state *st, struct err *e) WARN_UNUSED_RESULT;
int state_r2_is_leader(const struct state *st);
enum errcode state_r2_save(struct state *st, const char *data, struct err *e)
	WARN_UNUSED_RESULT;
void state_r2_close(struct state *st);

#endif
