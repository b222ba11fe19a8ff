/*
 * emu_int: what the emulator's files share and nobody else sees — the data
 * model, the request and response of one call, the route tables and the
 * helpers that build Cloudflare's envelope. Every handler runs with the
 * emulator's mutex held and reads the time from the request (rq->now), never
 * from the system, so that journal replay reproduces it exactly.
 */
#ifndef CFS_EMU_INT_H
#define CFS_EMU_INT_H

#include <pthread.h>
#include <stddef.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "../mem/mem.h"
#include "emu.h"

/* Route parameters captured from one path ("{bucket_name}" ...). */
#define EMU_MAX_PARAMS 6
/* Pages: Cloudflare's defaults and the bounds the emulator accepts. */
#define EMU_R2_PER_PAGE_DEFAULT 20
#define EMU_PER_PAGE_MAX 1000 /* REFERENCE.md section 9: 1..1000 everywhere */
#define EMU_KV_NS_PER_PAGE_DEFAULT 20
#define EMU_KV_LIMIT_MIN 10    /* KV keys list limit bounds */
#define EMU_KV_LIMIT_MAX 1000
/* KV limits (REFERENCE.md section 4). */
#define EMU_KV_KEY_MAX 512
#define EMU_KV_VALUE_MAX (25u * 1024 * 1024)
#define EMU_KV_META_MAX 1024
#define EMU_KV_TTL_MIN 60
#define EMU_KV_BULK_MAX 10000
#define EMU_KV_NS_MAX 1000
/* R2 limits (REFERENCE.md section 3). */
#define EMU_R2_NAME_MIN 3
#define EMU_R2_NAME_MAX 63
#define EMU_R2_RULES_MAX 1000
/* Secrets Store: one store per account, secrets quota (REFERENCE.md 5). */
#define EMU_SS_STORES_MAX 1
#define EMU_SS_SECRETS_MAX 100
#define EMU_SS_VALUE_MAX 65536
/* D1 (emu_d1.c; REFERENCE.md section 11). One open SQLite file per database:
 * 100 databases stay well inside the default 1024-descriptor limit (D1's
 * own quota is 10 on Free, 50,000 on Paid). */
#define EMU_D1_DBS_MAX 100
#define EMU_D1_NAME_MAX 64            /* database name length */
#define EMU_D1_PER_PAGE_DEFAULT 100   /* list page size when none is asked */
#define EMU_D1_PER_PAGE_MAX 10000
#define EMU_D1_STMT_MAX 100000        /* D1: bytes in one SQL statement */
#define EMU_D1_PARAMS_MAX 100         /* D1: bound parameters per query */
#define EMU_D1_BATCH_MAX 1000         /* D1: queries per batch (invocation) */
#define EMU_D1_STATEMENTS_MAX 10000   /* statements in one request (cfemu's bound:
                                       * D1 states none for the HTTP API) */
#define EMU_D1_VALUE_MAX 2000000      /* D1: bytes in a string, BLOB or row */
#define EMU_D1_COLUMNS_MAX 100        /* D1: columns per table */
#define EMU_D1_QUERY_MS 30000         /* D1: longest query, milliseconds */
#define EMU_D1_DB_BYTES_MAX (500LL * 1024 * 1024) /* D1 Free plan's database size */
#define EMU_D1_RESULT_MAX (50u * 1024 * 1024)     /* D1: query result size */
/* Per-route fault rules kept at once. */
#define EMU_FAULT_RULES_MAX 256
/* Most calls one fault rule may fault. */
#define EMU_FAULT_COUNT_MAX 1000000000LL
/* Largest integer a JSON number holds exactly (2^53): every number taken from
 * a request body is bounded by it (or less) before it is cast or added to. */
#define EMU_JSON_INT_MAX 9007199254740992LL
/* The emulator's clock stays between the epoch and 9999-12-31T23:59:59Z, the
 * last second RFC 3339 can write. */
#define EMU_CLOCK_MAX 253402300799LL
/* R2's largest object, 5 TiB: the bound on seeded object sizes. */
#define EMU_R2_OBJECT_MAX (5LL << 40)

/* A growable array of pointers. */
struct vec {
	void **v;
	size_t n, cap;
};
void emu_vec_push(struct vec *v, void *p);
void emu_vec_insert(struct vec *v, size_t i, void *p);
void *emu_vec_remove(struct vec *v, size_t i);

struct emu_object {
	char *key;
	long long size;
	long long uploaded; /* emulator time */
	char *data;         /* S3 PutObject's bytes (size of them); NULL when seeded */
};

struct emu_bucket {
	char *name, *jurisdiction, *location, *storage_class, *creation_date;
	cJSON *lifecycle; /* array of rules, never NULL */
	cJSON *cors;      /* array of rules, NULL when the bucket has no policy */
	struct vec objects;
};

/* Where a deleted bucket's name was first placed: hints are sticky per name. */
struct emu_tomb {
	char *jurisdiction, *name, *location;
};

struct emu_kv {
	char *key;
	char *value;
	size_t len;
	char *metadata;       /* JSON text, or NULL */
	long long expiration; /* unix seconds, 0 = none */
};

struct emu_ns {
	char *id, *title;
	struct vec keys; /* struct emu_kv, sorted by key */
};

struct emu_secret {
	char *id, *name, *value, *comment, *created, *modified;
	cJSON *scopes; /* array of strings */
};

struct emu_sstore {
	char *id, *name, *created, *modified;
	struct vec secrets;
};

struct emu_wsecret {
	char *name, *type, *text;
};

struct emu_script {
	char *name, *created, *modified;
	struct vec secrets;
};

/* A D1 database: its metadata and its open SQLite file (emu_d1.c). */
struct emu_d1 {
	char *uuid, *name, *jurisdiction, *location, *created_at, *replication;
	char *path;         /* the SQLite file; NULL: in memory (no data dir) */
	void *db;           /* sqlite3 *, kept out of this header */
	char *upload;       /* the import file uploaded last (wrangler --file) */
	size_t upload_len;
	char upload_md5[33];
	cJSON *last_import; /* what an import poll answers */
	unsigned long long imports;
};

struct emu_model {
	struct vec buckets, tombs, namespaces, stores, scripts;
	struct vec d1s;     /* struct emu_d1, in creation order */
	long long clock_offset; /* seconds added to the system clock */
};

struct emu_kvpair {
	char *k, *v;
};

struct emu_req {
	char *method;
	char *path; /* without the /client/v4 prefix and query */
	struct vec query;   /* struct emu_kvpair */
	struct vec headers; /* struct emu_kvpair, lower-case names */
	char *body;         /* NUL-terminated */
	size_t body_len;
	long long now;      /* emulator clock, unix seconds */
	const char *route;  /* matched template, borrowed from the table */
	unsigned flags;     /* matched route's EMU_R_* */
	size_t nparams;
	char *pname[EMU_MAX_PARAMS], *pval[EMU_MAX_PARAMS];
	cJSON *ids;         /* ids made (live) or to hand out (replay) */
	size_t id_next;
	int replay;
	char *journal_body; /* when set, journaled instead of body */
	int no_journal;     /* handler asks that this write not be journaled */
	int read_only;      /* a POST that only read (a D1 query of read-only
	                     * statements): counted as a read in /__emu/stats */
	char *unlink_after; /* files to remove once the write is journaled (D1
	                     * delete: "PATH" and "PATH-journal"), or NULL */
};

struct emu_resp {
	unsigned status;
	char *body;
	size_t len;
	const char *ctype;
	unsigned retry_after; /* 0: no Retry-After header */
	int drop;             /* close the connection without answering */
	char etag[35];        /* S3: the ETag header ("" for none) */
	long long last_modified; /* S3: Last-Modified (0 for none) */
};

#define EMU_R_ADMIN 1u   /* a /__emu/ route: loopback only, no token, no stats */
#define EMU_R_JOURNAL 2u /* an admin route whose successful calls are journaled */
#define EMU_R_REST 4u    /* the template's last parameter takes the rest of the
                          * path (KV key names may hold "/") */

struct emu_route {
	const char *method;
	const char *tmpl; /* "{x}" matches one segment (see EMU_R_REST) */
	void (*fn)(struct emu *e, struct emu_req *rq, struct emu_resp *rs);
	unsigned flags;
};

struct emu_stat {
	char method[8];
	const char *route;
	unsigned status;
	unsigned long long count;
};

struct emu_fault {
	char *method; /* NULL: any */
	char *route;  /* a template, as in /__emu/stats */
	unsigned status; /* 0: drop the connection */
	unsigned count;  /* calls still to fault */
};

struct emu {
	char *listen_host, *data_dir, *token, *account_id;
	unsigned rate_n, rate_secs, latency_ms;
	double fault_rate;
	unsigned long seed;
	struct MHD_Daemon *mhd;
	unsigned port;
	pthread_mutex_t mu;
	struct emu_model m;
	unsigned long long requests, reads, writes;
	struct vec stats;  /* struct emu_stat */
	struct vec faults; /* struct emu_fault */
	long long rate_start;
	unsigned rate_count;
	unsigned long long rng;
	int journal_fd; /* -1: memory only */
	struct MHD_Daemon *s3_mhd; /* the S3 listener (emu_s3.c) */
	unsigned s3_port;
	unsigned long long s3_requests;
	unsigned d1_query_ms; /* longest D1 query; 0: EMU_D1_QUERY_MS */
};

/* The id token verify reports for the emulator's one token: also its S3
 * access key id (REFERENCE.md 10.1). */
#define EMU_TOKEN_ID "c0ffee00c0ffee00c0ffee00c0ffee00"

extern const struct emu_route emu_r2_routes[];
extern const size_t emu_r2_nroutes;
extern const struct emu_route emu_kv_routes[];
extern const size_t emu_kv_nroutes;
extern const struct emu_route emu_secrets_routes[];
extern const size_t emu_secrets_nroutes;
extern const struct emu_route emu_admin_routes[];
extern const size_t emu_admin_nroutes;
extern const struct emu_route emu_s3_routes[];
extern const size_t emu_s3_nroutes;
extern const struct emu_route emu_d1_routes[];
extern const size_t emu_d1_nroutes;
extern const struct emu_route emu_acct_routes[];
extern const size_t emu_acct_nroutes;

/* Request accessors; the strings are borrowed from rq. */
const char *emu_param(const struct emu_req *rq, const char *name);
const char *emu_query(const struct emu_req *rq, const char *name);
const char *emu_header(const struct emu_req *rq, const char *name);
/* Parses the body as JSON (whatever the content type); NULL if it is not. */
cJSON *emu_body_json(const struct emu_req *rq);
/* A new 32-hex id; replayed from the journal when rq->replay. Free it. */
char *emu_new_id(struct emu_req *rq);
/* RFC 3339 with milliseconds, "2024-05-01T10:00:00.000Z". Free it. */
char *emu_iso_time(long long t);

/* Envelope builders: each takes ownership of the cJSON it is given. */
void emu_ok(struct emu_resp *rs, cJSON *result);
void emu_ok_info(struct emu_resp *rs, unsigned status, cJSON *result,
                 cJSON *info);
void emu_fail(struct emu_resp *rs, unsigned status, int code,
              const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void emu_raw(struct emu_resp *rs, unsigned status, const char *ctype,
             const char *data, size_t len);
/* An opaque paging cursor naming the last item returned, and its reverse
 * (NULL when the cursor is not one the emulator made). Free the results. */
char *emu_cursor_make(const char *last);
char *emu_cursor_read(const char *cursor);
/* Parses a decimal integer strictly; returns -1 if s is not one. */
int emu_parse_ll(const char *s, long long *out);
/* A JSON number within [min, max] (both within +-EMU_JSON_INT_MAX), as an
 * integer (truncated); -1 when v is no number or out of range, which also
 * keeps a cast of 1e300 (undefined behaviour) from happening. */
int emu_json_ll(const cJSON *v, long long min, long long max, long long *out);

/* "HOST:PORT" or "[V6]:PORT" to a socket address; loopback unless any (emu.c). */
struct sockaddr_storage;
enum errcode emu_parse_listen(const char *s, int any, struct sockaddr_storage *ss, char **host,
                              struct err *err) WARN_UNUSED_RESULT;
/* The S3 listener (emu_s3.c): started after the v4 one, stopped before it. */
enum errcode emu_s3_start(struct emu *e, const char *addr, int any, struct err *err)
	WARN_UNUSED_RESULT;
void emu_s3_stop(struct emu *e);

/* Model lifetime (emu_store.c). */
void emu_model_release(struct emu_model *m);
struct emu_bucket *emu_bucket_find(struct emu_model *m, const char *jur,
                                   const char *name);
struct emu_script *emu_script_find(struct emu_model *m, const char *name);
void emu_bucket_free(struct emu_bucket *b);
void emu_kv_free(struct emu_kv *kv);
void emu_secret_free(struct emu_secret *s);
void emu_sstore_free(struct emu_sstore *s);
/* Closes a D1 database's file and frees it (emu_d1.c); the file stays. */
void emu_d1_free(struct emu_d1 *d);
/* Removes every D1 database's files (POST /__emu/reset; emu_d1.c). */
void emu_d1_unlink_all(struct emu_model *m);
/* Removes one D1 database's files: the SQLite file and its journal. */
void emu_d1_unlink(const char *path);

/* The journal (emu_store.c). */
enum errcode emu_journal_open(struct emu *e, struct err *err) WARN_UNUSED_RESULT;
int emu_journal_append(struct emu *e, const struct emu_req *rq);
void emu_journal_truncate(struct emu *e);
void emu_journal_close(struct emu *e);

/* Dispatch a request (emu.c); used by the server and by replay. */
void emu_dispatch(struct emu *e, struct emu_req *rq, struct emu_resp *rs,
                  int loopback);
/* Fills rq (zeroed first) with METHOD and the path of URL; the caller adds
 * query, headers and body. Release with emu_req_release(). */
void emu_req_init(struct emu_req *rq, const char *method, const char *url);
void emu_req_release(struct emu_req *rq);
/* Drops all data, counters and fault rules (caller holds the lock). */
void emu_reset_all(struct emu *e);
/* The bytes-decode helpers used by KV bulk writes (emu_store.c). */
char *emu_base64_decode(const char *in, size_t *outlen);

/* libmicrohttpd glue shared by the v4 listener (emu.c) and the S3 one
 * (emu_s3.c): a connection's buffered request body, the header/query
 * collector, and the callback that frees the connection. */
struct emu_conn {
	struct buf body;
};
enum MHD_Result emu_collect(void *cls, enum MHD_ValueKind kind, const char *key,
                            const char *value);
void emu_conn_done(void *cls, struct MHD_Connection *c, void **con_cls,
                   enum MHD_RequestTerminationCode toe);

#endif
