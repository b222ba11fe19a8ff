/*
 * emu: cfemu, a local emulator of the subset of Cloudflare's v4 API that
 * cfstorage uses (R2 buckets with lifecycle and CORS, Workers KV, Secrets
 * Store, Worker script secrets, D1 databases on SQLite, token verify,
 * accounts), served by a libmicrohttpd thread so that cmd/cfemu and
 * `cfstorage --local` exercise the same HTTP client path as the real API
 * (README: cfemu).
 *
 * Choices this module makes, where Cloudflare's behaviour is not published
 * (cloudflare-api/REFERENCE.md is the source for everything else):
 * - Routes are served both at "/client/v4/..." and at "/..." (Prism forwards
 *   with the prefix; cfstorage's --endpoint may include it or not).
 * - A missing or wrong bearer token: HTTP 403, code 10000 "Authentication
 *   error". An account id that is not 32 hex digits: HTTP 404, code 7003
 *   "Could not route to ..., perhaps your object identifier is invalid?"; a
 *   well-formed id that is not the emulator's account: HTTP 403, code 10000.
 *   An unknown route or method: HTTP 404, code 7003.
 * - Rate limiting is a fixed window per token, measured on the emulator's
 *   clock (so tests move past it with /__emu/clock): once N requests were
 *   served in the window, every call gets HTTP 429, code 971, and a
 *   Retry-After header until the window ends, as Cloudflare's global limiter.
 * - Persistence (data_dir != NULL): an append-only journal of acknowledged
 *   writes (data_dir/journal). Each record is the request as the handler saw
 *   it (method, path, query, relevant headers, body) plus the emulator time
 *   and the ids it generated, with a CRC; it is written and fdatasync'd
 *   before the response is sent, and replayed through the same handlers on
 *   start. A torn record at the tail (kill -9 mid-write) is cut off: it was
 *   never acknowledged. The token is never journaled.
 */
#ifndef CFS_EMU_H
#define CFS_EMU_H

#include "../err/err.h"

/* The token used when the caller gives none (tests and --local only). */
#define EMU_DEFAULT_TOKEN "cfemu-token"
/* The account id used when the caller gives none: 32 hex digits, as real ids. */
#define EMU_DEFAULT_ACCOUNT "0123456789abcdef0123456789abcdef"
/* Cloudflare's global limit: 1200 requests per user per 5 minutes. */
#define EMU_DEFAULT_RATE_N 1200
#define EMU_DEFAULT_RATE_SECS 300
/* Largest request body accepted (KV bulk writes may be 100 MB). */
#define EMU_MAX_BODY (101u * 1024 * 1024)

struct emu_config {
	const char *listen_addr; /* "127.0.0.1:0"; IPv4 or [IPv6]:port */
	int listen_any;          /* allow a non-loopback listen address */
	const char *data_dir;    /* NULL: memory only */
	const char *token;       /* NULL: EMU_DEFAULT_TOKEN */
	const char *account_id;  /* NULL: EMU_DEFAULT_ACCOUNT */
	unsigned rate_n, rate_secs; /* 0: the defaults above */
	double fault_rate;       /* 0..1: share of API calls given a random fault */
	unsigned latency_ms;     /* added to every API call */
	unsigned long seed;      /* seeds the fault generator */
	const char *s3_listen_addr; /* R2's S3 API (emu_s3.c); NULL: "127.0.0.1:0" */
};

struct emu;

/*
 * Starts the emulator: loads data_dir (replaying its journal) when set, binds
 * listen_addr and serves on internal threads. Returns NULL and fills e when
 * the address is refused or unusable, or the data directory cannot be loaded.
 * Free with emu_stop().
 */
struct emu *emu_start(const struct emu_config *cfg, struct err *e);
/* The bound port (useful after asking for port 0). */
unsigned emu_port(const struct emu *emu);
/* The S3 listener's bound port. */
unsigned emu_s3_port(const struct emu *emu);
/* Stops serving, waits for in-flight requests, frees everything. NULL is fine. */
void emu_stop(struct emu *emu);

#endif
