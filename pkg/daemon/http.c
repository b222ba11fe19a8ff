/*
 * The daemon's HTTP side: /healthz (the loop is alive), /readyz (the first
 * reconcile is done) and /metrics (Prometheus text format 0.0.4), served by
 * libmicrohttpd on its own thread from the counters in struct metrics.
 *
 * It is built not to hurt the reconciler when it is flooded: epoll (not
 * select(), which fails past descriptor 1,023), a bounded connection count
 * that leaves HTTP_FD_RESERVE descriptors to the reconciler, idle timeouts,
 * a per-address share, and error lines through a token bucket (see the
 * limits in daemon_int.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "../err/err.h"
#include "../log/log.h"
#include "../timefmt/timefmt.h"
#include "daemon_int.h"

#ifndef CFS_VERSION
#define CFS_VERSION "dev"
#endif

/* The loop counts as alive while its last step is this recent, or while a
 * reconcile pass that started this recently is running. */
#define HTTP_ALIVE_MS (60 * 1000)
#define HTTP_PASS_MAX_MS (15 * 60 * 1000)

struct http {
	struct MHD_Daemon *d;
	struct metrics *m;
	unsigned limit;          /* connections served at once */
	pthread_mutex_t log_lock;
	unsigned log_tokens;     /* the error-line token bucket */
	int64_t log_refill;      /* monotonic ms of the last refill */
	unsigned long log_dropped;
};


void
series_clear(struct series *v, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		free(v[i].labels);
	*n = 0;
}

void
series_add(struct series *v, size_t *n, const char *labels, double add, int set)
{
	for (size_t i = 0; i < *n; i++) {
		if (strcmp(v[i].labels, labels) == 0) {
			v[i].value = set ? add : v[i].value + add;
			return;
		}
	}
	if (*n >= DAEMON_MAX_SERIES)
		return; /* bounded: a runaway label set never grows memory */
	v[*n].labels = xstrdup(labels);
	v[*n].value = add;
	(*n)++;
}

static void
family(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
series_out(struct buf *b, const char *name, const struct series *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf_printf(b, "%s{%s} %.17g\n", name, v[i].labels, v[i].value);
}

char *
metrics_render(struct metrics *m)
{
	static const char *results[] = { "ok", "partial", "error", "invalid" };
	struct buf b;
	unsigned long cum = 0;

	buf_init(&b, (size_t)-1);
	pthread_mutex_lock(&m->lock);
	family(&b, "cfstorage_build_info", "gauge", "Build information.");
	buf_printf(&b, "cfstorage_build_info{version=\"%s\"} 1\n", CFS_VERSION);
	family(&b, "cfstorage_reconciles_total", "counter", "Reconcile passes by result.");
	for (int i = 0; i < 4; i++)
		buf_printf(&b, "cfstorage_reconciles_total{result=\"%s\"} %lu\n", results[i],
		           m->reconciles[i]);
	family(&b, "cfstorage_reconcile_duration_seconds", "histogram",
	       "Duration of reconcile passes.");
	for (int i = 0; i < DAEMON_HIST_BUCKETS; i++) {
		cum += m->hist[i];
		buf_printf(&b, "cfstorage_reconcile_duration_seconds_bucket{le=\"%g\"} %lu\n",
		           m->hist_le[i], cum);
	}
	buf_printf(&b, "cfstorage_reconcile_duration_seconds_bucket{le=\"+Inf\"} %lu\n",
	           m->hist_count);
	buf_printf(&b, "cfstorage_reconcile_duration_seconds_sum %.6f\n", m->hist_sum);
	buf_printf(&b, "cfstorage_reconcile_duration_seconds_count %lu\n", m->hist_count);
	family(&b, "cfstorage_api_requests_total", "counter",
	       "Cloudflare API requests by method, route and HTTP code (0: no answer).");
	series_out(&b, "cfstorage_api_requests_total", m->requests, m->nrequests);
	family(&b, "cfstorage_rate_limit_waits_total", "counter",
	       "Times the request budget or a 429 made calls wait.");
	buf_printf(&b, "cfstorage_rate_limit_waits_total %lu\n", m->rate_waits);
	family(&b, "cfstorage_drift_corrections_total", "counter",
	       "Changes applied by passes that no manifest change triggered.");
	buf_printf(&b, "cfstorage_drift_corrections_total %lu\n", m->drift);
	family(&b, "cfstorage_resources", "gauge", "Owned resources by kind and condition.");
	series_out(&b, "cfstorage_resources", m->resources, m->nresources);
	family(&b, "cfstorage_secret_current_version", "gauge", "Current version of each Secret.");
	series_out(&b, "cfstorage_secret_current_version", m->secret_version, m->nsecret_version);
	family(&b, "cfstorage_secret_next_rotation_timestamp_seconds", "gauge",
	       "When each Secret's next rotation falls due (unix seconds).");
	series_out(&b, "cfstorage_secret_next_rotation_timestamp_seconds", m->secret_next,
	           m->nsecret_next);
	family(&b, "cfstorage_secret_versions_lost", "gauge",
	       "Retained versions of each Secret that a target no longer holds (Degraded).");
	series_out(&b, "cfstorage_secret_versions_lost", m->secret_lost, m->nsecret_lost);
	family(&b, "cfstorage_manifests_valid", "gauge",
	       "1 when the last manifest load was valid (0: serving the last good set).");
	buf_printf(&b, "cfstorage_manifests_valid %d\n", m->manifests_valid);
	family(&b, "cfstorage_last_reconcile_timestamp_seconds", "gauge",
	       "When the last reconcile pass ended (unix seconds).");
	buf_printf(&b, "cfstorage_last_reconcile_timestamp_seconds %.0f\n", m->last_reconcile);
	family(&b, "cfstorage_leader", "gauge", "1 when this replica is the one that writes.");
	buf_printf(&b, "cfstorage_leader %d\n", m->leader);
	family(&b, "cfstorage_drift_coverage_seconds", "gauge", "Coverage period: the longest "
	       "any declared lifecycle, CORS policy, KV key listing, D1 replication mode or D1 "
	       "migrations table goes unread (-1: the read share cannot cover them).");
	buf_printf(&b, "cfstorage_drift_coverage_seconds %.3f\n", m->coverage_s);
	family(&b, "cfstorage_observation_age_seconds", "gauge",
	       "Time since the least recently read part of each kind was read.");
	{
		static const char *const kinds[OBS_NPARTS] = { "R2Bucket", "R2Bucket", "KVNamespace",
		                                                "D1Database", "D1Database" };
		double max = 0;
		int64_t now = mono_ms();

		for (int p = 0; p < OBS_NPARTS; p++) {
			double age;

			if (m->oldest_at[p] < 0)
				continue;
			age = (double)(now - m->oldest_at[p]) / 1000.0;
			buf_printf(&b, "cfstorage_observation_age_seconds{kind=\"%s\",part=\"%s\"} %.3f\n",
			           kinds[p], obs_part_names[p], age);
			if (age > max)
				max = age;
		}
		family(&b, "cfstorage_observation_age_max_seconds", "gauge",
		       "The largest of cfstorage_observation_age_seconds.");
		buf_printf(&b, "cfstorage_observation_age_max_seconds %.3f\n", max);
	}
	family(&b, "cfstorage_api_window_requests", "gauge", "Requests in the request "
	       "budget's current window: reads (GETs and D1 SELECTs) and writes.");
	buf_printf(&b, "cfstorage_api_window_requests{class=\"read\"} %lu\n", m->win_reads);
	buf_printf(&b, "cfstorage_api_window_requests{class=\"write\"} %lu\n",
	           m->win_all >= m->win_reads ? m->win_all - m->win_reads : 0);
	family(&b, "cfstorage_api_window_limit", "gauge", "The request budget per window: the "
	       "daemon's read share, and the whole budget.");
	buf_printf(&b, "cfstorage_api_window_limit{class=\"read\"} %u\n", m->read_limit);
	buf_printf(&b, "cfstorage_api_window_limit{class=\"all\"} %u\n", m->all_limit);
	{
		struct mallinfo2 mi = mallinfo2();
		long pages = 0, rss = 0;
		FILE *f = fopen("/proc/self/statm", "r");

		if (f) {
			if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
				rss = 0;
			fclose(f);
		}
		family(&b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
		buf_printf(&b, "process_resident_memory_bytes %ld\n", rss * sysconf(_SC_PAGESIZE));
		family(&b, "cfstorage_heap_inuse_bytes", "gauge",
		       "Heap bytes in use (malloc's uordblks plus mmapped blocks).");
		buf_printf(&b, "cfstorage_heap_inuse_bytes %zu\n", mi.uordblks + mi.hblkhd);
	}
	family(&b, "cfstorage_state_s3_requests_total", "counter", "R2 S3 API requests of an "
	       "r2:// state (lock, renewals, reads, writes); not under the API's budget.");
	buf_printf(&b, "cfstorage_state_s3_requests_total %lu\n", m->s3_requests);
	pthread_mutex_unlock(&m->lock);
	return buf_take(&b);
}

static enum MHD_Result
reply(struct MHD_Connection *c, unsigned status, const char *type, char *body)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body,
	                                                         MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	MHD_add_response_header(r, "Content-Type", type);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
       const char *version, const char *upload, size_t *upload_len, void **ctx)
{
	struct http *h = cls;
	struct metrics *m = h->m;
	int64_t now = mono_ms();
	int alive, ready;

	(void)version; (void)upload; (void)upload_len; (void)ctx;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply(c, 405, "text/plain", xstrdup("method not allowed\n"));
	pthread_mutex_lock(&m->lock);
	alive = now - m->heartbeat < HTTP_ALIVE_MS ||
	        (m->pass_started && now - m->pass_started < HTTP_PASS_MAX_MS);
	ready = m->ready;
	pthread_mutex_unlock(&m->lock);
	if (strcmp(url, "/healthz") == 0)
		return reply(c, alive ? 200 : 503, "text/plain",
		             xstrdup(alive ? "ok\n" : "the reconcile loop is stuck\n"));
	if (strcmp(url, "/readyz") == 0)
		return reply(c, ready ? 200 : 503, "text/plain",
		             xstrdup(ready ? "ready\n" : "first reconcile not done\n"));
	if (strcmp(url, "/metrics") == 0)
		return reply(c, 200, "text/plain; version=0.0.4; charset=utf-8", metrics_render(m));
	return reply(c, 404, "text/plain", xstrdup("not found\n"));
}

/*
 * libmicrohttpd's error lines ("Error accepting connection", "Server reached
 * connection limit") come once per event, so a flood would flood the log
 * too: they pass a token bucket, and the count of the lines dropped rides on
 * the next line written. Runs on libmicrohttpd's thread.
 */
static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct http *h = cls;
	char line[512];
	int64_t now = mono_ms();
	unsigned long dropped = 0;
	int write = 0;
	size_t n;

	pthread_mutex_lock(&h->log_lock);
	if (now - h->log_refill >= HTTP_LOG_REFILL_MS) {
		int64_t add = (now - h->log_refill) / HTTP_LOG_REFILL_MS;

		h->log_tokens = add >= HTTP_LOG_BURST || h->log_tokens + add >= HTTP_LOG_BURST
		              ? HTTP_LOG_BURST : h->log_tokens + (unsigned)add;
		h->log_refill += add * HTTP_LOG_REFILL_MS;
	}
	if (h->log_tokens > 0) {
		h->log_tokens--;
		dropped = h->log_dropped;
		h->log_dropped = 0;
		write = 1;
	} else {
		h->log_dropped++;
	}
	pthread_mutex_unlock(&h->log_lock);
	if (!write)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == ' '))
		line[--n] = '\0';
	log_warn("http server", "error=\"%s\" dropped_lines=%lu", line, dropped);
}

/*
 * The connection limit: what RLIMIT_NOFILE leaves after HTTP_FD_RESERVE,
 * capped at HTTP_MAX_CONNECTIONS and at least HTTP_MIN_CONNECTIONS (the rule
 * is spelled out in daemon_int.h).
 */
static unsigned
connection_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		return HTTP_MAX_CONNECTIONS;
	if (rl.rlim_cur <= HTTP_FD_RESERVE + HTTP_MIN_CONNECTIONS)
		return HTTP_MIN_CONNECTIONS;
	if (rl.rlim_cur - HTTP_FD_RESERVE >= HTTP_MAX_CONNECTIONS)
		return HTTP_MAX_CONNECTIONS;
	return (unsigned)(rl.rlim_cur - HTTP_FD_RESERVE);
}

struct http *
http_start(const char *listen, struct metrics *m, struct err *e)
{
	struct sockaddr_in sa;
	char host[64];
	const char *colon = strrchr(listen, ':');
	char *end;
	long port;
	struct http *h;
	unsigned per_ip;

	if (colon == NULL || (size_t)(colon - listen) >= sizeof(host)) {
		err_set(e, ERR_INVALID, "--listen '%s' must be HOST:PORT", listen);
		return NULL;
	}
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	if (errno || *end || port < 0 || port > 65535 ||
	    inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		err_set(e, ERR_INVALID, "--listen '%s' must be an IPv4 HOST:PORT", listen);
		return NULL;
	}
	h = xcalloc(1, sizeof(*h));
	h->m = m;
	h->limit = connection_limit();
	per_ip = h->limit > 1 && HTTP_PER_IP_CONNECTIONS > h->limit / 2 ? h->limit / 2
	                                                                 : HTTP_PER_IP_CONNECTIONS;
	pthread_mutex_init(&h->log_lock, NULL);
	h->log_tokens = HTTP_LOG_BURST;
	h->log_refill = mono_ms();
	/* MHD_USE_AUTO picks epoll on Linux (poll elsewhere), never select()
	 * while something better exists */
	h->d = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG,
	                        (uint16_t)port, NULL, NULL, handle, h,
	                        /* first, so every message takes this path */
	                        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h,
	                        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
	                        MHD_OPTION_CONNECTION_LIMIT, h->limit,
	                        MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip,
	                        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_CONNECTION_TIMEOUT_S,
	                        MHD_OPTION_END);
	if (h->d == NULL) {
		pthread_mutex_destroy(&h->log_lock);
		free(h);
		err_set(e, ERR_IO, "cannot listen on %s", listen);
		return NULL;
	}
	log_debug("http server started", "connection_limit=%u per_ip=%u epoll=%d", h->limit,
	          per_ip, MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD) != NULL);
	return h;
}

void
http_stop(struct http *h)
{
	if (h == NULL)
		return;
	MHD_stop_daemon(h->d);
	pthread_mutex_destroy(&h->log_lock);
	free(h);
}

unsigned
http_port(const struct http *h)
{
	const union MHD_DaemonInfo *i = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);

	return i ? i->port : 0;
}
