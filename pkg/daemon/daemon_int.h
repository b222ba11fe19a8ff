/* Private to pkg/daemon: the counters the loop writes and HTTP reads. */
#ifndef CFS_DAEMON_INT_H
#define CFS_DAEMON_INT_H

#include <pthread.h>
#include <stdint.h>

#include "../mem/mem.h"

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
};

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
