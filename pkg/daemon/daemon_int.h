/* Private to pkg/daemon: the counters the loop writes and HTTP reads. */
#ifndef CFS_DAEMON_INT_H
#define CFS_DAEMON_INT_H

#include <pthread.h>
#include <stdint.h>

#include "../manifest/manifest.h"
#include "../mem/mem.h"
#include "../observe/observe.h"

#define DAEMON_HIST_BUCKETS 10
#define DAEMON_MAX_SERIES 512

struct series {
	char *labels;            /* e.g. method="GET",route="/..",code="200" */
	double value;
};

struct metrics {
	pthread_mutex_t lock;
	int ready;               /* first reconcile done */
	int64_t heartbeat;       /* monotonic ms of the loop's last step */
	int64_t pass_started;    /* monotonic ms, 0 when idle */
	unsigned long reconciles[4]; /* ok, partial, error, invalid */
	double hist_le[DAEMON_HIST_BUCKETS];
	unsigned long hist[DAEMON_HIST_BUCKETS + 1];
	double hist_sum;
	unsigned long hist_count;
	unsigned long rate_waits;
	unsigned long drift;
	int manifests_valid;
	int leader;              /* this replica writes */
	unsigned long s3_requests; /* the r2:// state's own, apart from the API's */
	double last_reconcile;   /* unix seconds */
	struct series requests[DAEMON_MAX_SERIES];
	size_t nrequests;
	struct series resources[64];  /* kind, condition */
	size_t nresources;
	struct series secret_version[DAEMON_MAX_SERIES];
	size_t nsecret_version;
	struct series secret_next[DAEMON_MAX_SERIES];
	size_t nsecret_next;
	struct series secret_lost[DAEMON_MAX_SERIES]; /* retained versions lost, per Secret */
	size_t nsecret_lost;
	/* observation rotation (schedule.c) */
	double coverage_s;       /* coverage period; -1: the share cannot cover it */
	int64_t oldest_at[OBS_NPARTS]; /* monotonic ms of each part's oldest read
	                                  (the start when never read); -1: none declared */
	/* the request budget's current window */
	unsigned long win_reads, win_all;
	unsigned read_limit, all_limit;
};

/* One per-resource part the daemon reads in rotation. */
struct sched_item {
	enum kind kind;
	char *name;              /* metadata.name */
	enum obs_part part;
	int64_t last;            /* monotonic ms of the pass that read it, 0: never */
	int urgent;              /* read next pass: changed in the manifests, or failed */
	int picked;              /* read by the pass being run */
};

/* Sorted by (kind, name, part) for lookups from observe. */
struct sched {
	struct sched_item *v;
	size_t n;
	struct sched_item **order; /* scratch for sched_pick */
};
void sched_rebuild(struct sched *s, const struct manifest_set *set,
                   const struct manifest_set *old);
void sched_release(struct sched *s);
void sched_mark_urgent(struct sched *s, enum kind k, const char *name);
size_t sched_pick(struct sched *s, size_t room, int all);
int sched_want(enum kind k, const char *name, enum obs_part part, void *user);
void sched_commit(struct sched *s, int64_t at);
void sched_ages(const struct sched *s, int64_t now, int64_t start, int64_t age_ms[OBS_NPARTS]);
int64_t sched_coverage(size_t n, unsigned limit, unsigned reserve, unsigned lists,
                       int64_t window_ms, int64_t interval_ms, int64_t pass_ms, int all);

/*
 * Limits of the HTTP side (/healthz, /readyz, /metrics). Its clients are a
 * few probes and one scraper, so it is small on purpose, and it may never
 * take the file descriptors the reconciler needs: the connection limit is
 *   min(HTTP_MAX_CONNECTIONS, RLIMIT_NOFILE soft limit - HTTP_FD_RESERVE),
 * but at least HTTP_MIN_CONNECTIONS. libmicrohttpd accepts a connection
 * beyond it and closes it at once, so it holds a descriptor for an instant.
 */
/* Connections served at once: probes and a scraper need a handful. */
#define HTTP_MAX_CONNECTIONS 64
/* Descriptors left to the reconciler: up to API_MAX_PARALLELISM (64) API
 * connections, curl's resolver and wake-up pairs, the state file, its lock
 * and journal, etcd, the manifest walk, inotify, signalfd, epoll, stdio. */
#define HTTP_FD_RESERVE 256
/* Served even under a tiny RLIMIT_NOFILE, so the probes still answer. */
#define HTTP_MIN_CONNECTIONS 4
/* One client address holds at most this share, so one slowloris peer
 * cannot take every slot from the probes. */
#define HTTP_PER_IP_CONNECTIONS (HTTP_MAX_CONNECTIONS / 2)
/* An idle connection (no bytes either way) is closed after this long. */
#define HTTP_CONNECTION_TIMEOUT_S 5
/* libmicrohttpd's error lines go through a token bucket: a burst of this
 * many, then one per HTTP_LOG_REFILL_MS; the lines dropped in between are
 * counted in the next line that is written. */
#define HTTP_LOG_BURST 10
#define HTTP_LOG_REFILL_MS 10000

struct http;
struct http *http_start(const char *listen, struct metrics *m, struct err *e);
void http_stop(struct http *h);
/* The bound port (after asking for port 0). */
unsigned http_port(const struct http *h);
/* Prometheus text exposition of m (caller holds no lock). */
char *metrics_render(struct metrics *m);
/* Adds v to the series with these labels (creating it). Caller holds the lock. */
void series_add(struct series *v, size_t *n, const char *labels, double add, int set);
void series_clear(struct series *v, size_t *n);

#endif
