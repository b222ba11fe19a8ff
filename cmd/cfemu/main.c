/*
 * cfemu: the local Cloudflare v4 API emulator (README: cfemu).
 *
 *   cfemu --listen 127.0.0.1:PORT [--data DIR] [--token T] [--account-id A]
 *         [--rate-limit N/SECONDS] [--fault-rate P] [--latency-ms N] [--seed N]
 *         [--listen-any] [--s3-listen 127.0.0.1:PORT]
 *
 * The token comes from --token, else --token-file, else $CFEMU_TOKEN, else
 * "cfemu-token". (cfstorage never takes a token in argv; cfemu is a test
 * tool and the README gives it --token.) Prints
 * "listening on http://HOST:PORT" once it serves, then
 * "s3 listening on http://HOST:PORT" for R2's S3 API, and exits 0 on SIGTERM or
 * SIGINT. A bad flag is one line on stderr and exit 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../pkg/cli/cli.h"
#include "../../pkg/emu/emu.h"
#include "../../pkg/log/log.h"
#include "../../pkg/mem/mem.h"

/* Longest token read from --token-file. */
#define TOKEN_MAX 4096

static void
usage(FILE *f)
{
	fprintf(f,
	        "usage: cfemu --listen 127.0.0.1:PORT [--data DIR] [--token T | --token-file F]\n"
	        "             [--account-id A] [--rate-limit N/SECONDS] [--fault-rate P]\n"
	        "             [--latency-ms N] [--seed N] [--listen-any] [-v]\n"
	        "             [--s3-listen 127.0.0.1:PORT]\n"
	        "Serves the subset of the Cloudflare v4 API cfstorage uses: R2, Workers KV,\n"
	        "Secrets Store, Worker secrets, and D1 (each database a SQLite file under\n"
	        "DIR/d1). Without --data the data lives in memory only. --listen\n"
	        "127.0.0.1:0 picks a free port.\n"
	        "R2's S3 API (SigV4: key id = the token's id, secret = SHA-256 hex of the\n"
	        "token) is served on --s3-listen (default 127.0.0.1:0).\n"
	        "Test-only routes under /__emu/: stats, reset, clock, faults,\n"
	        "r2/BUCKET/objects, secret-values, d1/upload (D1 import uploads).\n"
	        "\n"
	        "Defaults: token '%s' (use --token-file to choose one), account id\n"
	        "%s.\n", EMU_DEFAULT_TOKEN, EMU_DEFAULT_ACCOUNT);
}

static int
parse_ul(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (s == NULL || *s == '\0' || *s == '-')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return -1;
	*out = v;
	return 0;
}

/* The token in a regular file (a FIFO is refused, not waited on). */
static char *
read_token(const char *path)
{
	char buf[TOKEN_MAX];
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return NULL;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return buf[0] ? xstrdup(buf) : NULL;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "listen-any", no_argument, NULL, 'A' },
		{ "s3-listen", required_argument, NULL, 'S' },
		{ "data", required_argument, NULL, 'd' },
		{ "token", required_argument, NULL, 't' },
		{ "token-file", required_argument, NULL, 'T' },
		{ "account-id", required_argument, NULL, 'a' },
		{ "rate-limit", required_argument, NULL, 'r' },
		{ "fault-rate", required_argument, NULL, 'f' },
		{ "latency-ms", required_argument, NULL, 'L' },
		{ "seed", required_argument, NULL, 's' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "man", no_argument, NULL, 'M' }, /* hidden: make install writes cfemu.1 */
		{ NULL, 0, NULL, 0 },
	};
	struct emu_config cfg;
	struct emu *emu;
	struct err err;
	char *token = NULL, *end;
	unsigned long v;
	sigset_t set;
	int c, sig;

	memset(&cfg, 0, sizeof(cfg));
	memset(&err, 0, sizeof(err));
	cfg.listen_addr = "127.0.0.1:0";
	opterr = 0;
	while ((c = getopt_long(argc, argv, "hv", opts, NULL)) != -1) {
		switch (c) {
		case 'l': cfg.listen_addr = optarg; break;
		case 'A': cfg.listen_any = 1; break;
		case 'S': cfg.s3_listen_addr = optarg; break;
		case 'd': cfg.data_dir = optarg; break;
		case 't':
			free(token);
			token = xstrdup(optarg);
			break;
		case 'T':
			free(token);
			if ((token = read_token(optarg)) == NULL) {
				fprintf(stderr, "cfemu: cannot read a token from '%s' (a regular file)\n", optarg);
				return 1;
			}
			break;
		case 'a': cfg.account_id = optarg; break;
		case 'r':
			if (cli_parse_rate(optarg, &cfg.rate_n, &cfg.rate_secs) != 0) {
				fprintf(stderr, "cfemu: --rate-limit wants N/SECONDS, got '%s'\n", optarg);
				return 1;
			}
			break;
		case 'f':
			errno = 0;
			cfg.fault_rate = strtod(optarg, &end);
			if (errno || *end || end == optarg || cfg.fault_rate < 0 || cfg.fault_rate > 1) {
				fprintf(stderr, "cfemu: --fault-rate wants a number in 0..1, got '%s'\n", optarg);
				return 1;
			}
			break;
		case 'L':
			if (parse_ul(optarg, 600000, &v)) {
				fprintf(stderr, "cfemu: --latency-ms wants 0..600000, got '%s'\n", optarg);
				return 1;
			}
			cfg.latency_ms = (unsigned)v;
			break;
		case 's':
			if (parse_ul(optarg, (unsigned long)-1, &v)) {
				fprintf(stderr, "cfemu: --seed wants a non-negative integer, got '%s'\n", optarg);
				return 1;
			}
			cfg.seed = v;
			break;
		case 'v': log_setup(LOG_DEBUG, LOG_LOGFMT); break;
		case 'h':
			usage(stdout);
			return 0;
		case 'M': {
			char *text = NULL;
			size_t len = 0;
			FILE *m = open_memstream(&text, &len);

			if (m == NULL)
				return 1;
			usage(m);
			fclose(m);
			cli_man_text(stdout, "cfemu", "a local emulator of the Cloudflare API cfstorage uses",
			             text);
			free(text);
			return 0;
		}
		default:
			fprintf(stderr, "cfemu: unknown or incomplete option '%s' (see --help)\n",
			        argv[optind - 1]);
			return 1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "cfemu: unexpected argument '%s' (see --help)\n", argv[optind]);
		return 1;
	}
	if (token == NULL && getenv("CFEMU_TOKEN") && *getenv("CFEMU_TOKEN"))
		token = xstrdup(getenv("CFEMU_TOKEN"));
	cfg.token = token;

	/* Block the stop signals before the server threads start, so that they
	 * inherit the mask and only sigwait() below sees the signals. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	emu = emu_start(&cfg, &err);
	if (emu == NULL) {
		fprintf(stderr, "cfemu: %s\n", err.msg);
		free(token);
		return 1;
	}
	{
		const char *colon = strrchr(cfg.listen_addr, ':');
		int hostlen = colon ? (int)(colon - cfg.listen_addr) : 0;

		printf("listening on http://%.*s:%u\n", hostlen, cfg.listen_addr, emu_port(emu));
		colon = cfg.s3_listen_addr ? strrchr(cfg.s3_listen_addr, ':') : NULL;
		printf("s3 listening on http://%.*s:%u\n", colon ? (int)(colon - cfg.s3_listen_addr) : 9,
		       colon ? cfg.s3_listen_addr : "127.0.0.1", emu_s3_port(emu));
		fflush(stdout);
	}
	while (sigwait(&set, &sig) != 0)
		;
	emu_stop(emu);
	free(token);
	return 0;
}
