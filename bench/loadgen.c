/*
 * loadgen: a tiny keep-alive HTTP load generator for bench/emu_throughput.
 *
 *   loadgen METHOD URL CONNS SECONDS [BODY]
 *
 * Opens CONNS connections (one thread and one reused libcurl easy handle
 * each), sends METHOD URL back to back on each for SECONDS seconds after a
 * short warm-up, and prints one line:
 *
 *   requests=N seconds=S rps=R ok=N other=N errors=N p50_us=N p99_us=N
 *
 * For PUT, a "%d" in URL is replaced by a per-request counter (so each
 * write goes to a new key) and BODY (default "v") is sent as the body.
 * The bearer token comes from the environment (BENCH_TOKEN), never argv.
 * Only loopback URLs are accepted; proxies are never used.
 * Build: cc -O2 -o loadgen loadgen.c $(pkg-config --cflags --libs libcurl) -lpthread
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NBUCKETS 4096 /* latency histogram: 10 us buckets up to ~41 ms */
#define BUCKET_US 10

static const char *method, *url_tmpl, *body;
static double seconds;
static char auth[1024];
static atomic_int go;   /* 0 warm-up, 1 measuring, 2 stop */

struct worker {
	pthread_t th;
	int id;
	long n, ok, other, errors;
	long hist[NBUCKETS + 1];
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t
discard(char *p, size_t sz, size_t n, void *u)
{
	(void)p;
	(void)u;
	return sz * n;
}

static void *
run(void *arg)
{
	struct worker *w = arg;
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char url[2048];
	long seq = 0;
	int put = strcmp(method, "GET") != 0;

	h = curl_slist_append(h, auth);
	if (put)
		h = curl_slist_append(h, "Content-Type: text/plain");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
	if (put) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	}
	if (!strstr(url_tmpl, "%d"))
		curl_easy_setopt(c, CURLOPT_URL, url_tmpl);
	while (atomic_load(&go) < 2) {
		double t0, dt;
		long code = 0, us;
		CURLcode rc;
		int measuring;

		if (strstr(url_tmpl, "%d")) {
			char key[64];
			const char *p = strstr(url_tmpl, "%d");

			snprintf(key, sizeof key, "t%d-%ld", w->id, seq++);
			snprintf(url, sizeof url, "%.*s%s%s", (int)(p - url_tmpl), url_tmpl, key, p + 2);
			curl_easy_setopt(c, CURLOPT_URL, url);
		}
		measuring = atomic_load(&go) == 1;
		t0 = now_s();
		rc = curl_easy_perform(c);
		dt = now_s() - t0;
		if (!measuring || atomic_load(&go) != 1)
			continue;
		w->n++;
		if (rc != CURLE_OK) {
			w->errors++;
			continue;
		}
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		if (code >= 200 && code < 300)
			w->ok++;
		else
			w->other++;
		us = (long)(dt * 1e6);
		w->hist[us / BUCKET_US < NBUCKETS ? us / BUCKET_US : NBUCKETS]++;
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return NULL;
}

static long
pct(long *hist, long total, double q)
{
	long want = (long)(q * (double)total), acc = 0;

	for (int i = 0; i <= NBUCKETS; i++) {
		acc += hist[i];
		if (acc > want)
			return (long)(i + 1) * BUCKET_US;
	}
	return (long)NBUCKETS * BUCKET_US;
}

int
main(int argc, char **argv)
{
	int conns;
	const char *tok = getenv("BENCH_TOKEN");
	struct worker *ws;
	long n = 0, ok = 0, other = 0, errors = 0, hist[NBUCKETS + 1] = { 0 };
	double t0, el;
	struct timespec warm = { 0, 500 * 1000 * 1000 };

	if (argc < 5 || argc > 6) {
		fprintf(stderr, "usage: loadgen METHOD URL CONNS SECONDS [BODY]  (token in BENCH_TOKEN)\n");
		return 1;
	}
	method = argv[1];
	url_tmpl = argv[2];
	conns = atoi(argv[3]);
	seconds = atof(argv[4]);
	body = argc == 6 ? argv[5] : "v";
	if (strncmp(url_tmpl, "http://127.0.0.1:", 17) != 0) {
		fprintf(stderr, "loadgen: only http://127.0.0.1:PORT URLs\n");
		return 1;
	}
	if (conns < 1 || conns > 64 || seconds <= 0 || !tok || !*tok) {
		fprintf(stderr, "loadgen: bad arguments or BENCH_TOKEN unset\n");
		return 1;
	}
	snprintf(auth, sizeof auth, "Authorization: Bearer %s", tok);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	ws = calloc((size_t)conns, sizeof *ws);
	for (int i = 0; i < conns; i++) {
		ws[i].id = i;
		pthread_create(&ws[i].th, NULL, run, &ws[i]);
	}
	nanosleep(&warm, NULL); /* connections open, caches warm */
	atomic_store(&go, 1);
	t0 = now_s();
	{
		struct timespec d = { (time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9) };
		nanosleep(&d, NULL);
	}
	atomic_store(&go, 2);
	el = now_s() - t0;
	for (int i = 0; i < conns; i++) {
		pthread_join(ws[i].th, NULL);
		n += ws[i].n;
		ok += ws[i].ok;
		other += ws[i].other;
		errors += ws[i].errors;
		for (int b = 0; b <= NBUCKETS; b++)
			hist[b] += ws[i].hist[b];
	}
	printf("requests=%ld seconds=%.2f rps=%.0f ok=%ld other=%ld errors=%ld p50_us=%ld p99_us=%ld\n",
	       n, el, (double)n / el, ok, other, errors,
	       pct(hist, n - errors, 0.50), pct(hist, n - errors, 0.99));
	free(ws);
	curl_global_cleanup();
	return 0;
}
