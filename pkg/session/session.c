#include "session.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../mem/mem.h"
#include "../state/state_r2.h"
#include "../timefmt/timefmt.h"

void
session_release(struct session *s)
{
	api_free(s->api);
	state_close(s->st);
	emu_stop(s->emu);
	manifest_set_free(&s->set);
	free(s->endpoint);
	if (s->token) {
		memset(s->token, 0, strlen(s->token));
		free(s->token);
	}
	memset(s, 0, sizeof(*s));
}

/*
 * Reads the token from FILE, refusing a file that group or others may read
 * (like ssh does with keys) and anything but a regular file (a FIFO would
 * block); trailing whitespace is dropped.
 */
static enum errcode
read_token_file(const char *path, char **out, struct err *e)
{
	struct stat st;
	char buf[SESSION_MAX_TOKEN_FILE + 1];
	ssize_t n;
	/* O_NONBLOCK: a FIFO must not hang us waiting for a writer */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);

	if (fd < 0)
		return err_set(e, ERR_IO, "cannot open token file '%s': %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return err_set(e, ERR_IO, "token file '%s' is not a regular file", path);
	}
	if (st.st_mode & 077) {
		close(fd);
		return err_set(e, ERR_IO, "token file '%s' is readable by group or others (mode "
		               "%04o); run: chmod 600 '%s'", path, (unsigned)(st.st_mode & 07777), path);
	}
	n = read(fd, buf, SESSION_MAX_TOKEN_FILE);
	close(fd);
	if (n < 0)
		return err_set(e, ERR_IO, "cannot read token file '%s': %s", path, strerror(errno));
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' ||
	                 buf[n - 1] == '\t'))
		n--;
	buf[n] = '\0';
	if (n == 0)
		return err_set(e, ERR_IO, "token file '%s' is empty", path);
	*out = xstrdup(buf);
	memset(buf, 0, sizeof(buf));
	return ERR_OK;
}

/* Loads and validates; ERR_INVALID with d filled when the set is invalid. */
static enum errcode
load(const struct session_config *cfg, struct manifest_set *set, struct diags *d,
     struct err *e)
{
	enum errcode rc;

	if (cfg->npaths == 0)
		return cfg->need_manifests ? err_set(e, ERR_INVALID, "needs -f PATH (a file, a "
		                                     "directory or '-')") : ERR_OK;
	for (size_t i = 0; i < cfg->npath_roots; i++)
		if ((rc = manifest_set_allow_root(set, cfg->path_roots[i], e)) != ERR_OK)
			return rc;
	if ((rc = manifest_load(cfg->paths, cfg->npaths, set, d, e)) != ERR_OK)
		return rc == ERR_INVALID ? ERR_IO : rc; /* a path that cannot be read */
	if (d->n)
		return err_set(e, ERR_INVALID, "%zu error%s; nothing was sent to Cloudflare",
		               d->n + d->dropped, d->n + d->dropped == 1 ? "" : "s");
	return manifest_hash_entries(set, e);
}

/* The embedded emulator on a loopback port, its data under --local's folder. */
static enum errcode
start_local(struct session *s, char **url, struct err *e)
{
	struct emu_config ec;

	memset(&ec, 0, sizeof(ec));
	ec.listen_addr = "127.0.0.1:0";
	ec.data_dir = SESSION_LOCAL_DIR "/emu";
	if (mkdir(".cfstorage", 0700) != 0 && errno != EEXIST)
		return err_set(e, ERR_IO, "cannot create '.cfstorage': %s", strerror(errno));
	if (mkdir(SESSION_LOCAL_DIR, 0700) != 0 && errno != EEXIST)
		return err_set(e, ERR_IO, "cannot create '%s': %s", SESSION_LOCAL_DIR,
		               strerror(errno));
	if ((s->emu = emu_start(&ec, e)) == NULL)
		return err_set(e, ERR_IO, "cannot start the embedded emulator: %s", e->msg);
	*url = xasprintf("http://127.0.0.1:%u/client/v4", emu_port(s->emu));
	s->token = xstrdup(EMU_DEFAULT_TOKEN);
	return ERR_OK;
}

/* The token: --api-token-file, else CLOUDFLARE_API_TOKEN (never a flag). */
static enum errcode
find_token(const struct session_config *cfg, struct session *s, struct err *e)
{
	const char *env = getenv("CLOUDFLARE_API_TOKEN");

	if (cfg->token_file)
		return read_token_file(cfg->token_file, &s->token, e);
	if (env && env[0]) {
		s->token = xstrdup(env);
		return ERR_OK;
	}
	return err_set(e, ERR_INVALID, "no API token: set CLOUDFLARE_API_TOKEN or use "
	               "--api-token-file FILE");
}

enum errcode
session_open(const struct session_config *cfg, struct session *s, struct diags *d,
             struct err *e)
{
	const char *endpoint, *account, *state_path = cfg->state;
	struct api_config ac;
	char *url = NULL;
	enum errcode rc;

	memset(s, 0, sizeof(*s));
	manifest_set_init(&s->set);
	s->now = (int64_t)time(NULL);
	if (cfg->now && timefmt_parse_rfc3339(cfg->now, &s->now) != 0)
		return err_set(e, ERR_INVALID, "--now '%.64s' is not an RFC 3339 time such as "
		               "2027-02-20T00:00:00Z", cfg->now);
	if ((rc = load(cfg, &s->set, d, e)) != ERR_OK)
		return rc;
	if (cfg->local) {
		if (cfg->endpoint)
			return err_set(e, ERR_INVALID, "--local and --endpoint cannot be used together");
		if ((rc = start_local(s, &url, e)) != ERR_OK)
			return rc;
		endpoint = url;
		s->endpoint_from = "--local";
		account = EMU_DEFAULT_ACCOUNT;
		if (state_path == NULL)
			state_path = SESSION_LOCAL_DIR "/state.json";
	} else {
		endpoint = cfg->endpoint ? cfg->endpoint : getenv("CLOUDFLARE_API_BASE_URL");
		s->endpoint_from = cfg->endpoint ? "--endpoint" : "CLOUDFLARE_API_BASE_URL";
		if (endpoint == NULL || endpoint[0] == '\0') {
			endpoint = SESSION_DEFAULT_ENDPOINT;
			s->endpoint_from = "the default";
		}
		account = cfg->account_id ? cfg->account_id : getenv("CLOUDFLARE_ACCOUNT_ID");
		if (cfg->need_api && (rc = find_token(cfg, s, e)) != ERR_OK)
			return rc;
		if (!cfg->need_api && state_is_r2(state_path) && find_token(cfg, s, e) != ERR_OK)
			err_clear(e); /* session_open_r2 says what is missing */
	}
	if (cfg->need_api && (account == NULL || strlen(account) != 32 ||
	                      strspn(account, "0123456789abcdefABCDEF") != 32)) {
		rc = account == NULL || account[0] == '\0'
		   ? err_set(e, ERR_INVALID, "no account: set CLOUDFLARE_ACCOUNT_ID or use "
		             "--account-id ID")
		   : err_set(e, ERR_INVALID, "account id '%.64s' (from %s) is not 32 hexadecimal "
		             "digits; it is in the dashboard URL, dash.cloudflare.com/ACCOUNT_ID",
		             account, cfg->account_id ? "--account-id" : "CLOUDFLARE_ACCOUNT_ID");
		goto out;
	}
	if (!cfg->no_state && state_is_r2(state_path))
		rc = session_open_r2(cfg, s, state_path, endpoint, account,
		                     cfg->need_api ? cfg->lock : 0, e);
	else if (!cfg->no_state)
		rc = state_open(state_path ? state_path : STATE_DEFAULT_PATH,
		                cfg->need_api ? cfg->lock : 0, &s->st, e);
	if (rc != ERR_OK)
		goto out;
	s->endpoint = xstrdup(endpoint);
	if (cfg->need_api) {
		memset(&ac, 0, sizeof(ac));
		ac.base_url = endpoint;
		ac.token = s->token;
		ac.account_id = account;
		ac.parallelism = cfg->parallelism;
		ac.rate_n = cfg->rate_n;
		ac.rate_secs = cfg->rate_secs;
		if ((s->api = api_new(&ac, e)) == NULL)
			rc = e->code ? e->code : ERR_INVALID;
	}
out:
	free(url);
	return rc;
}
