/*
 * mem: allocation that aborts on out-of-memory, so no caller carries an OOM
 * branch (as Redis does with zmalloc), and a small growable byte buffer with a
 * hard size limit (as curl's dynbuf with its `toobig`).
 */
#ifndef CFS_MEM_H
#define CFS_MEM_H

#include <stdarg.h>
#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a fresh heap string; free with free(). */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * A byte buffer that grows up to `limit` bytes and is always NUL-terminated.
 * buf_init() before use, buf_release() after; buf_take() hands the bytes to
 * the caller (free with free()) and leaves the buffer empty.
 */
struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t limit; /* appends that would exceed it fail and set toobig */
	int toobig;
};

void buf_init(struct buf *b, size_t limit);
void buf_release(struct buf *b);
/* Returns 0, or -1 (and sets toobig) when the limit would be exceeded. */
int buf_append(struct buf *b, const void *p, size_t n);
/* Makes room for n more bytes now, so later appends do not move the data. */
int buf_reserve(struct buf *b, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);
char *buf_take(struct buf *b);
/* Appends s[0..n) as a quoted JSON string (escapes quotes, backslashes,
 * control bytes). */
int buf_json_string(struct buf *b, const char *s, size_t n);
/* The length of the valid UTF-8 sequence at s (at most n bytes, n >= 1) and its
 * code point in *cp; 0 when invalid (overlong, surrogate, above U+10FFFF). */
size_t mem_utf8_seq(const unsigned char *s, size_t n, unsigned long *cp);
/*
 * Appends s[0..n) as a quoted JSON string for text from anywhere (a server's
 * error message, a file): UTF-8 is checked (an invalid byte becomes U+FFFD, so
 * the line stays valid JSON), and control characters, DEL, C1 controls and
 * U+2028/U+2029 are written as \uXXXX.
 */
int buf_json_text(struct buf *b, const char *s, size_t n);
/*
 * Appends s[0..n) for a terminal or a log line with every byte that could
 * act on a terminal made visible: \n, \r, \t, other C0 controls and DEL as
 * \xHH, C1 controls and bidi overrides as \uXXXX, invalid UTF-8 as \xHH.
 * With `quotes` set, `"` and `\` are escaped too (a logfmt quoted value).
 */
int buf_text_escape(struct buf *b, const char *s, size_t n, int quotes);
void buf_reset(struct buf *b);

#endif
