#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../mem/mem.h"

static enum log_level min_level = LOG_INFO;
static enum log_format format = LOG_LOGFMT;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static const char *names[] = { "debug", "info", "warn", "error", "off" };

void
log_setup(enum log_level min, enum log_format fmt)
{
	min_level = min;
	format = fmt;
}

enum log_level
log_get_level(void)
{
	return min_level;
}

int
log_parse_level(const char *s, enum log_level *out)
{
	for (int i = 0; i <= LOG_OFF; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

/* Appends s as a JSON string body (without quotes). */
static void
json_escape(struct buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			buf_printf(b, "\\%c", c);
		else if (c < 0x20)
			buf_printf(b, "\\u%04x", c);
		else
			buf_append(b, &s[i], 1);
	}
}

/*
 * Turns "k=v k2=\"quoted v\"" into ,"k":"v","k2":"quoted v" for JSON output.
 */
static void
fields_to_json(struct buf *b, const char *f)
{
	while (*f) {
		const char *k, *v;
		size_t kl, vl;

		while (*f == ' ')
			f++;
		if (!*f)
			break;
		k = f;
		while (*f && *f != '=' && *f != ' ')
			f++;
		kl = (size_t)(f - k);
		if (*f != '=') {
			v = "";
			vl = 0;
		} else {
			f++;
			if (*f == '"') {
				v = ++f;
				while (*f && !(*f == '"' && f[-1] != '\\'))
					f++;
				vl = (size_t)(f - v);
				if (*f)
					f++;
			} else {
				v = f;
				while (*f && *f != ' ')
					f++;
				vl = (size_t)(f - v);
			}
		}
		buf_puts(b, ",\"");
		json_escape(b, k, kl);
		buf_puts(b, "\":\"");
		json_escape(b, v, vl);
		buf_puts(b, "\"");
	}
}

void
log_event(enum log_level lvl, const char *msg, const char *fields_fmt, ...)
{
	struct buf fields, line;
	char ts[32];
	struct timespec now;
	struct tm tm;

	if (lvl < min_level || lvl >= LOG_OFF)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);

	buf_init(&fields, 64 * 1024);
	if (fields_fmt) {
		va_list ap;

		va_start(ap, fields_fmt);
		buf_vprintf(&fields, fields_fmt, ap);
		va_end(ap);
	}
	buf_init(&line, 128 * 1024);
	if (format == LOG_JSON) {
		buf_printf(&line, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"", ts,
		           names[lvl]);
		json_escape(&line, msg, strlen(msg));
		buf_puts(&line, "\"");
		if (fields.len)
			fields_to_json(&line, fields.data);
		buf_puts(&line, "}\n");
	} else {
		buf_printf(&line, "ts=%s level=%s msg=\"", ts, names[lvl]);
		json_escape(&line, msg, strlen(msg));
		buf_puts(&line, "\"");
		if (fields.len)
			buf_printf(&line, " %s", fields.data);
		buf_puts(&line, "\n");
	}
	pthread_mutex_lock(&lock);
	fputs(line.data, stderr);
	fflush(stderr);
	pthread_mutex_unlock(&lock);
	buf_release(&fields);
	buf_release(&line);
}
