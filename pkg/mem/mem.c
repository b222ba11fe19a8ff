#include "mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
oom(size_t n)
{
	fprintf(stderr, "fatal: out of memory allocating %zu bytes\n", n);
	abort();
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		oom(n);
	return p;
}

void *
xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

	if (p == NULL)
		oom(nmemb * size);
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		oom(n);
	return q;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	struct buf b;

	buf_init(&b, (size_t)-1);
	va_start(ap, fmt);
	(void)buf_vprintf(&b, fmt, ap);
	va_end(ap);
	return buf_take(&b);
}

void
buf_init(struct buf *b, size_t limit)
{
	memset(b, 0, sizeof(*b));
	b->limit = limit;
}

void
buf_release(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

/* Makes room for n more bytes plus the terminating NUL. */
static int
grow(struct buf *b, size_t n)
{
	size_t want;

	if (n > b->limit || b->len > b->limit - n) {
		b->toobig = 1;
		return -1;
	}
	want = b->len + n + 1;
	if (want <= b->cap)
		return 0;
	if (b->cap == 0)
		b->cap = 64;
	while (b->cap < want)
		b->cap *= 2;
	b->data = xrealloc(b->data, b->cap);
	return 0;
}

int
buf_reserve(struct buf *b, size_t n)
{
	return grow(b, n);
}

int
buf_append(struct buf *b, const void *p, size_t n)
{
	if (grow(b, n) < 0)
		return -1;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int
buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return -1;
	if (grow(b, (size_t)n) < 0)
		return -1;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

char *
buf_take(struct buf *b)
{
	char *p;

	if (b->data == NULL)
		return xstrdup("");
	p = b->data;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

int
buf_json_string(struct buf *b, const char *s, size_t n)
{
	int rc = buf_append(b, "\"", 1);

	for (size_t i = 0; i < n && rc == 0; i++) {
		unsigned char c = (unsigned char)s[i];

		switch (c) {
		case '"': rc = buf_puts(b, "\\\""); break;
		case '\\': rc = buf_puts(b, "\\\\"); break;
		case '\n': rc = buf_puts(b, "\\n"); break;
		case '\t': rc = buf_puts(b, "\\t"); break;
		case '\r': rc = buf_puts(b, "\\r"); break;
		default:
			if (c < 0x20 || c == 0x7f)
				rc = buf_printf(b, "\\u%04x", c);
			else
				rc = buf_append(b, &s[i], 1);
		}
	}
	if (rc == 0)
		rc = buf_append(b, "\"", 1);
	return rc;
}

/*
 * The length of the valid UTF-8 sequence at s (at most n bytes), with its
 * code point in *cp; 0 when the bytes are not valid UTF-8 (overlong forms,
 * surrogates and code points above U+10FFFF included, as RFC 3629 says).
 */
size_t
mem_utf8_seq(const unsigned char *s, size_t n, unsigned long *cp)
{
	size_t len;
	unsigned long c, min;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2, c = s[0] & 0x1f, min = 0x80;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3, c = s[0] & 0x0f, min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4, c = s[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* Code points that act on a terminal or a reader although they are not
 * C0 controls: DEL, the C1 controls (0x9b is CSI), and the bidi overrides
 * and isolates that reorder what a line shows, plus the JSON-hostile line
 * and paragraph separators. */
static int
is_hostile_cp(unsigned long c)
{
	return c == 0x7f || (c >= 0x80 && c <= 0x9f) || (c >= 0x202a && c <= 0x202e) ||
	       (c >= 0x2066 && c <= 0x2069) || c == 0x2028 || c == 0x2029 || c == 0x200e ||
	       c == 0x200f || c == 0x061c;
}

int
buf_json_text(struct buf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	int rc = buf_append(b, "\"", 1);

	for (size_t i = 0; i < n && rc == 0;) {
		unsigned long c;
		size_t len = mem_utf8_seq(u + i, n - i, &c);

		if (len == 0) {
			rc = buf_puts(b, "\\ufffd");
			i++;
			continue;
		}
		switch (c) {
		case '"': rc = buf_puts(b, "\\\""); break;
		case '\\': rc = buf_puts(b, "\\\\"); break;
		case '\n': rc = buf_puts(b, "\\n"); break;
		case '\t': rc = buf_puts(b, "\\t"); break;
		case '\r': rc = buf_puts(b, "\\r"); break;
		default:
			if (c < 0x20 || is_hostile_cp(c))
				rc = buf_printf(b, "\\u%04lx", c);
			else
				rc = buf_append(b, u + i, len);
		}
		i += len;
	}
	if (rc == 0)
		rc = buf_append(b, "\"", 1);
	return rc;
}

int
buf_text_escape(struct buf *b, const char *s, size_t n, int quotes)
{
	const unsigned char *u = (const unsigned char *)s;
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0;) {
		unsigned long c;
		size_t len = mem_utf8_seq(u + i, n - i, &c);

		if (len == 0) {
			rc = buf_printf(b, "\\x%02x", u[i]);
			i++;
			continue;
		}
		if (c == '\n')
			rc = buf_puts(b, "\\n");
		else if (c == '\r')
			rc = buf_puts(b, "\\r");
		else if (c == '\t')
			rc = buf_puts(b, "\\t");
		else if (quotes && (c == '"' || c == '\\'))
			rc = buf_printf(b, "\\%c", (int)c);
		else if (c < 0x20 || c == 0x7f)
			rc = buf_printf(b, "\\x%02lx", c);
		else if (is_hostile_cp(c))
			rc = buf_printf(b, "\\u%04lx", c);
		else
			rc = buf_append(b, u + i, len);
		i += len;
	}
	return rc;
}
