/*
 * daemon: `cfstorage run`, the operator loop (README: Run it as an operator).
 *
 * One thread owns every wait: epoll over a signalfd (SIGTERM, SIGINT, SIGHUP)
 * and an inotify descriptor (the manifest paths and their directories), with
 * the epoll timeout as the one timer. Each wake-up does one bounded step and
 * computes when it must run next: at start, 300 ms after the last manifest
 * change, at the interval (±10% jitter), when a secret rotation falls due,
 * when a resource's backoff ends, and on SIGHUP. A reconcile pass is observe
 * → plan → apply on the last valid manifest set; a resource that failed waits
 * 1 s, doubling to 5 min, before it is tried again while the others go on.
 * HTTP (libmicrohttpd, its own thread) serves /healthz, /readyz and /metrics.
 */
#ifndef CFS_DAEMON_H
#define CFS_DAEMON_H

#include <stdint.h>

#include "../api/api.h"
#include "../manifest/manifest.h"
#include "../state/state.h"

#define DAEMON_DEFAULT_INTERVAL_MS (5 * 60 * 1000)
#define DAEMON_DEFAULT_LISTEN "127.0.0.1:9464"
/* Manifest changes settle this long before a reload (editors write twice). */
#define DAEMON_DEBOUNCE_MS 300
/* Per-resource backoff after a failure: 1 s doubling to 5 min. */
#define DAEMON_BACKOFF_MIN_MS 1000
#define DAEMON_BACKOFF_MAX_MS (5 * 60 * 1000)
/* A standby campaigns for the lease this often. */
#define DAEMON_CAMPAIGN_MS 3000
/* SIGTERM: in-flight requests get API_CANCEL_GRACE_MS, then are dropped. */
/* Percent of the token's request budget the daemon's reads may take in any
 * window (--api-share): the token is shared with every other tool using it. */
#define DAEMON_DEFAULT_API_SHARE 25
/* Reads of the share the rotation leaves free, for the reads a manifest
 * change needs at once: this percent of the share, and at least
 * DAEMON_READ_RESERVE_MIN. */
#define DAEMON_READ_RESERVE_PCT 15
#define DAEMON_READ_RESERVE_MIN 3
/*
 * For tests only: CFSTORAGE_TEST_INTERVAL_MS=N shortens the interval to N ms
 * (below --interval's 100 ms floor), so tests/e2e/daemon_memory.sh can run
 * 1,000 passes in seconds. It can only shorten the interval.
 */
#define DAEMON_TEST_INTERVAL_ENV "CFSTORAGE_TEST_INTERVAL_MS"

struct daemon_opts {
	const char *const *paths;
	size_t npaths;
	const char *const *path_roots; /* --allow-path-root: see manifest_set_allow_root */
	size_t npath_roots;
	int64_t interval_ms;
	const char *listen;      /* "127.0.0.1:9464"; "" or "off" disables HTTP */
	int64_t now_offset;      /* --now: seconds added to the wall clock */
	int prune, allow_empty;
	unsigned api_share;      /* percent of the request budget for reads (1..100) */
	int observe_all;         /* every part every pass: no rotation (the naive loop) */
};

/*
 * The coverage period (ms) a daemon started with these settings would have for
 * `set` at its start: *parts per-resource parts in rotation, a first guess of
 * the list reads a pass needs (refined by each pass). -1: the share cannot
 * cover the list reads. For `status`.
 */
int64_t daemon_coverage_estimate(const struct manifest_set *set, unsigned rate_n,
                                 unsigned rate_secs, unsigned share_pct, int64_t interval_ms,
                                 size_t *parts);

/*
 * Runs until SIGTERM/SIGINT. `set` is the first valid manifest set (taken
 * over: freed by the daemon); `st` and `a` stay the caller's. Returns 0 on a
 * clean stop, 1 when it could not start (the message is in e).
 */
int daemon_run(const struct daemon_opts *o, struct manifest_set *set, struct state *st,
               struct api *a, struct err *e);

#endif
