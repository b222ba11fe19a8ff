/*
 * session: what a command that talks to Cloudflare holds while it runs —
 * the validated manifests, the endpoint (the embedded emulator with
 * --local), the token, the locked state and the API client — opened in the
 * order that makes an invalid manifest set cost zero requests.
 */
#ifndef CFS_SESSION_H
#define CFS_SESSION_H

#include <stdint.h>

#include "../api/api.h"
#include "../diag/diag.h"
#include "../emu/emu.h"
#include "../manifest/manifest.h"
#include "../state/state.h"

#define SESSION_DEFAULT_ENDPOINT "https://api.cloudflare.com/client/v4"
/* --local keeps the emulator's data and the state here. */
#define SESSION_LOCAL_DIR ".cfstorage/local"
/* Largest token file read. */
#define SESSION_MAX_TOKEN_FILE 4096

struct session_config {
	const char *const *paths;     /* -f PATHs */
	size_t npaths;
	int need_manifests;           /* no -f is an error */
	const char *const *path_roots; /* --allow-path-root */
	size_t npath_roots;
	const char *state;            /* --state; NULL: the default (or --local's) */
	int no_state;                 /* export: the account only, no state, no lock */
	int lock;                     /* 0 read-only, 1 locked, 1|STATE_STANDBY (run) */
	const char *account_id, *token_file, *endpoint, *now;
	int local;                    /* --local: the embedded emulator */
	int need_api;                 /* open the token and the client */
	unsigned parallelism, rate_n, rate_secs;
	const char *command;          /* recorded in an r2:// state's lock */
};

struct session {
	struct manifest_set set;
	struct state *st;
	struct api *api;
	struct emu *emu;
	char *token;                  /* wiped when released */
	int64_t now;                  /* --now, or the clock */
	char *endpoint;               /* the API base URL in use, and what chose it */
	const char *endpoint_from;    /* "--endpoint", "CLOUDFLARE_API_BASE_URL", ... */
};

/*
 * Opens everything cfg asks for. ERR_INVALID with diagnostics in d when the
 * manifests are invalid (nothing else was opened); any other error with e
 * set (one line, naming the setting at fault). Release with
 * session_release() in every case.
 */
enum errcode session_open(const struct session_config *cfg, struct session *s,
                          struct diags *d, struct err *e) WARN_UNUSED_RESULT;
void session_release(struct session *s);
/* An r2:// state: endpoint and S3 credentials, then state_r2_open (session_r2.c). */
enum errcode session_open_r2(const struct session_config *cfg, struct session *s,
                             const char *path, const char *endpoint, const char *account,
                             int lock, struct err *e) WARN_UNUSED_RESULT;

#endif
