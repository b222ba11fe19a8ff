/*
 * etcd: the few etcd v3 operations cfstorage's HA needs, through etcd's
 * HTTP/JSON gateway (the range, txn and lease routes under /v3) with libcurl.
 * Keys and values travel base64-encoded, int64s as strings, as the gateway
 * expects. Plain http is allowed only to loopback (tests); otherwise https.
 */
#ifndef CFS_ETCD_H
#define CFS_ETCD_H

#include <stddef.h>
#include <stdint.h>

#include "../err/err.h"

/* Largest value we read or write (etcd's default request limit is 1.5 MiB). */
#define ETCD_MAX_VALUE (1536u * 1024)
#define ETCD_TIMEOUT_MS 5000

struct etcd;

/* url: etcd://HOST:PORT/PREFIX (plain, loopback only) or etcds://HOST:PORT/PREFIX.
 * *prefix gets the key prefix (free with free()). */
struct etcd *etcd_new(const char *url, char **prefix, struct err *e);
void etcd_free(struct etcd *c);

/* ERR_NOTFOUND when the key is absent; *val is NUL-terminated, free with free(). */
enum errcode etcd_get(struct etcd *c, const char *key, char **val, size_t *len,
                      int64_t *lease, struct err *e) WARN_UNUSED_RESULT;
enum errcode etcd_lease_grant(struct etcd *c, int ttl, int64_t *id, struct err *e)
	WARN_UNUSED_RESULT;
/* *ttl is the remaining TTL; 0 means the lease is gone. */
enum errcode etcd_lease_keepalive(struct etcd *c, int64_t id, int64_t *ttl, struct err *e)
	WARN_UNUSED_RESULT;
enum errcode etcd_lease_revoke(struct etcd *c, int64_t id, struct err *e)
	WARN_UNUSED_RESULT;
/* Puts key=value bound to lease only if the key does not exist; *won says
 * whether it did. */
enum errcode etcd_create(struct etcd *c, const char *key, const char *value, int64_t lease,
                         int *won, struct err *e) WARN_UNUSED_RESULT;
/* Puts key=val only while guard_key still holds guard_value; ERR_CONFLICT
 * when it does not (leadership lost). */
enum errcode etcd_put_guarded(struct etcd *c, const char *key, const char *val, size_t len,
                              const char *guard_key, const char *guard_value, struct err *e)
	WARN_UNUSED_RESULT;

#endif
