#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include "../mem/mem.h"

static enum log_level min_level = LOG_INFO;
static enum log_format format = LOG_LOGFMT;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static void (*before_line)(void); /* log_set_before_line */

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

/* What one conversion of a fields format produced. */
enum conv_kind { CONV_NUMBER, CONV_TEXT, CONV_BAD };

/*
 * Formats the one conversion that starts at *fmt (just after its '%') into
 * v, taking its argument (and any '*' width or precision) from ap, and moves
 * *fmt past it. Each argument is fetched with the type its length modifier
 * and conversion name, as printf would; a conversion this function does not
 * know (or %n) returns CONV_BAD and the caller stops reading arguments rather
 * than read one with the wrong type.
 */
static enum conv_kind
conv_one(struct buf *v, const char **fmt, va_list *ap)
{
	const char *f = *fmt;
	char spec[48], len[3] = "";
	size_t sl = 0;
	int width = 0, prec = -1, left = 0;
	char conv;

	spec[sl++] = '%';
	while (*f && strchr("-+ #0", *f) && sl < 8) {
		if (*f == '-')
			left = 1;
		spec[sl++] = *f++;
	}
	if (*f == '*') {
		width = va_arg(*ap, int);
		f++;
	} else {
		for (width = 0; *f >= '0' && *f <= '9' && width < 100000; f++)
			width = width * 10 + (*f - '0');
	}
	if (*f == '.') {
		f++;
		if (*f == '*') {
			prec = va_arg(*ap, int);
			f++;
		} else {
			for (prec = 0; *f >= '0' && *f <= '9' && prec < 100000; f++)
				prec = prec * 10 + (*f - '0');
		}
	}
	if (width < 0) { /* a negative '*' width means '-' */
		if (!left)
			spec[sl++] = '-';
		width = width < -100000 ? 100000 : -width;
	}
	if (width > 100000)
		width = 100000;
	if (prec > 100000)
		prec = 100000;
	if (width > 0)
		sl += (size_t)snprintf(spec + sl, sizeof(spec) - sl, "%d", width);
	if (prec >= 0)
		sl += (size_t)snprintf(spec + sl, sizeof(spec) - sl, ".%d", prec);
	if (*f && strchr("hlLjzt", *f)) {
		len[0] = *f++;
		if ((len[0] == 'h' || len[0] == 'l') && *f == len[0])
			len[1] = *f++;
	}
	conv = *f;
	if (conv == '\0')
		return CONV_BAD;
	*fmt = f + 1;
	sl += (size_t)snprintf(spec + sl, sizeof(spec) - sl, "%s%c", len, conv);
	if (sl >= sizeof(spec))
		return CONV_BAD;
	switch (conv) {
	case 'd': case 'i':
		if (strcmp(len, "l") == 0) buf_printf(v, spec, va_arg(*ap, long));
		else if (strcmp(len, "ll") == 0) buf_printf(v, spec, va_arg(*ap, long long));
		else if (strcmp(len, "j") == 0) buf_printf(v, spec, va_arg(*ap, intmax_t));
		else if (strcmp(len, "z") == 0) buf_printf(v, spec, va_arg(*ap, ssize_t));
		else if (strcmp(len, "t") == 0) buf_printf(v, spec, va_arg(*ap, ptrdiff_t));
		else if (len[0] == 'L') return CONV_BAD;
		else buf_printf(v, spec, va_arg(*ap, int));
		return CONV_NUMBER;
	case 'u': case 'x': case 'X': case 'o':
		if (strcmp(len, "l") == 0) buf_printf(v, spec, va_arg(*ap, unsigned long));
		else if (strcmp(len, "ll") == 0) buf_printf(v, spec, va_arg(*ap, unsigned long long));
		else if (strcmp(len, "j") == 0) buf_printf(v, spec, va_arg(*ap, uintmax_t));
		else if (strcmp(len, "z") == 0) buf_printf(v, spec, va_arg(*ap, size_t));
		else if (strcmp(len, "t") == 0) buf_printf(v, spec, va_arg(*ap, ptrdiff_t));
		else if (len[0] == 'L') return CONV_BAD;
		else buf_printf(v, spec, va_arg(*ap, unsigned));
		return conv == 'u' ? CONV_NUMBER : CONV_TEXT;
	case 'f': case 'F': case 'e': case 'E': case 'g': case 'G': case 'a': case 'A':
		if (len[0] == 'L') buf_printf(v, spec, va_arg(*ap, long double));
		else if (len[0] == '\0' || strcmp(len, "l") == 0) buf_printf(v, spec, va_arg(*ap, double));
		else return CONV_BAD;
		return conv == 'a' || conv == 'A' ? CONV_TEXT : CONV_NUMBER;
	case 'c':
		if (len[0]) return CONV_BAD;
		buf_printf(v, spec, va_arg(*ap, int));
		return CONV_TEXT;
	case 's': {
		const char *s;

		if (len[0])
			return CONV_BAD;
		s = va_arg(*ap, const char *);
		buf_printf(v, spec, s ? s : "(null)");
		return CONV_TEXT;
	}
	case 'p':
		if (len[0]) return CONV_BAD;
		buf_printf(v, spec, va_arg(*ap, void *));
		return CONV_TEXT;
	default:
		return CONV_BAD;
	}
}

/* Is s the whole text of a JSON number (RFC 8259 section 6)? */
static int
json_number(const char *s)
{
	if (*s == '-')
		s++;
	if (*s == '0')
		s++;
	else if (*s >= '1' && *s <= '9')
		while (*s >= '0' && *s <= '9')
			s++;
	else
		return 0;
	if (*s == '.') {
		if (!(*++s >= '0' && *s <= '9'))
			return 0;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!(*s >= '0' && *s <= '9'))
			return 0;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	return *s == '\0';
}

/* Does a logfmt value need quotes (empty values do not: "k=" is empty)? */
static int
needs_quotes(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f)
			return 1;
	}
	return 0;
}

/*
 * Appends the fields of one event to line, in logfmt or JSON. The fields
 * format is walked as "key=template key=\"template\" ...": keys and the
 * quoting come from the (trusted) format alone; each template is expanded on
 * its own (conv_one) and the result escaped as a whole, so what an argument
 * holds never changes where a field starts or ends.
 */
static void
fields_out(struct buf *line, enum log_format fmt, const char *f, va_list *ap)
{
	struct buf v;
	int bad = 0;

	buf_init(&v, (size_t)-1);
	while (*f && !bad) {
		const char *k;
		size_t kl;
		int quoted = 0, nconv = 0, nlit = 0, number = 0;

		while (*f == ' ')
			f++;
		if (!*f)
			break;
		k = f;
		while (*f && *f != '=' && *f != ' ' && *f != '%')
			f++;
		kl = (size_t)(f - k);
		buf_reset(&v);
		if (*f == '=') {
			f++;
			if (*f == '"') {
				quoted = 1;
				f++;
			}
			while (*f && (quoted ? *f != '"' : *f != ' ')) {
				enum conv_kind ck;

				if (*f == '%' && f[1] == '%') {
					buf_append(&v, "%", 1);
					f += 2;
					nlit++;
					continue;
				}
				if (*f == '\\' && quoted && f[1]) {
					buf_append(&v, f + 1, 1);
					f += 2;
					nlit++;
					continue;
				}
				if (*f != '%') {
					buf_append(&v, f++, 1);
					nlit++;
					continue;
				}
				f++;
				ck = conv_one(&v, &f, ap);
				if (ck == CONV_BAD) {
					buf_puts(&v, "!(bad format)");
					bad = 1;
					break;
				}
				nconv++;
				number = ck == CONV_NUMBER;
			}
			if (quoted && *f == '"')
				f++;
		} else if (*f == '%') { /* a conversion where a key should be */
			buf_puts(&v, "!(bad format)");
			bad = 1;
		}
		if (v.len > LOG_MAX_VALUE) {
			v.len = LOG_MAX_VALUE;
			buf_puts(&v, "...");
		}
		if (kl == 0)
			k = "field", kl = 5;
		if (fmt == LOG_JSON) {
			buf_puts(line, ",");
			buf_json_text(line, k, kl);
			buf_puts(line, ":");
			if (!quoted && nconv == 1 && nlit == 0 && number && json_number(v.data))
				buf_append(line, v.data, v.len);
			else
				buf_json_text(line, v.data ? v.data : "", v.len);
		} else {
			buf_puts(line, " ");
			buf_text_escape(line, k, kl, 1);
			buf_puts(line, "=");
			if (quoted || needs_quotes(v.data, v.len)) {
				buf_puts(line, "\"");
				buf_text_escape(line, v.data ? v.data : "", v.len, 1);
				buf_puts(line, "\"");
			} else {
				buf_append(line, v.data ? v.data : "", v.len);
			}
		}
	}
	buf_release(&v);
}

/* One whole line, '\n' included, into line. */
static void
format_line(struct buf *line, enum log_format fmt, enum log_level lvl, const char *ts,
            const char *msg, const char *fields_fmt, va_list *ap)
{
	size_t ml = strlen(msg);

	if (ml > LOG_MAX_VALUE)
		ml = LOG_MAX_VALUE;
	if (fmt == LOG_JSON) {
		buf_puts(line, "{\"ts\":");
		buf_json_text(line, ts, strlen(ts));
		buf_printf(line, ",\"level\":\"%s\",\"msg\":", names[lvl]);
		buf_json_text(line, msg, ml);
		if (fields_fmt)
			fields_out(line, fmt, fields_fmt, ap);
		buf_puts(line, "}\n");
	} else {
		buf_printf(line, "ts=%s level=%s msg=\"", ts, names[lvl]);
		buf_text_escape(line, msg, ml, 1);
		buf_puts(line, "\"");
		if (fields_fmt)
			fields_out(line, fmt, fields_fmt, ap);
		buf_puts(line, "\n");
	}
}

char *
log_format_line(enum log_format fmt, enum log_level lvl, const char *ts, const char *msg,
                const char *fields_fmt, ...)
{
	struct buf line;
	va_list ap;

	buf_init(&line, (size_t)-1);
	va_start(ap, fields_fmt);
	format_line(&line, fmt, lvl, ts, msg, fields_fmt, &ap);
	va_end(ap);
	return buf_take(&line);
}

void
log_event(enum log_level lvl, const char *msg, const char *fields_fmt, ...)
{
	struct buf line;
	char ts[32];
	struct timespec now;
	struct tm tm;
	va_list ap;

	if (lvl < min_level || lvl >= LOG_OFF)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);

	buf_init(&line, (size_t)-1);
	va_start(ap, fields_fmt);
	format_line(&line, format, lvl, ts, msg, fields_fmt, &ap);
	va_end(ap);
	pthread_mutex_lock(&lock);
	if (before_line)
		before_line();
	fputs(line.data, stderr);
	fflush(stderr);
	pthread_mutex_unlock(&lock);
	buf_release(&line);
}

void
log_set_before_line(void (*fn)(void))
{
	pthread_mutex_lock(&lock);
	before_line = fn;
	pthread_mutex_unlock(&lock);
}

void
log_fputs_text(FILE *f, const char *s)
{
	struct buf b;

	buf_init(&b, (size_t)-1);
	buf_text_escape(&b, s, strlen(s), 0);
	if (b.data)
		fputs(b.data, f);
	buf_release(&b);
}
