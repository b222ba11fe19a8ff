/*
 * log: one line per event on stderr, logfmt (default) or JSON.
 *   level=info msg="bucket created" kind=R2Bucket name=logs
 * Fields after the message are given as a printf-checked "k=v k=\"v\"" format.
 * The format is trusted (a literal in the code) and its arguments are not: a
 * value may come from a server's error message or a manifest. So the format is
 * split into keys and value templates first, each value is formatted on its
 * own, and only then escaped for the output: in logfmt a value is quoted when
 * it needs to be and `"`, `\` and control characters are escaped; in JSON each
 * value is a JSON string (through a real encoder), or a number when its
 * template is one numeric conversion. No argument can start a line, add a
 * field or move the terminal's cursor. Never pass a token or a secret value.
 */
#ifndef CFS_LOG_H
#define CFS_LOG_H

#include <stdio.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF };
enum log_format { LOG_LOGFMT = 0, LOG_JSON };

/* A field value longer than this is cut and ends in "...": one event is one
 * line a person can read, whatever a server answered. */
#define LOG_MAX_VALUE (8 * 1024)

void log_setup(enum log_level min, enum log_format fmt);
enum log_level log_get_level(void);
int log_parse_level(const char *s, enum log_level *out);

/* msg is a plain sentence; fields (may be NULL) is "key=value ..." text. */
void log_event(enum log_level lvl, const char *msg, const char *fields_fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* fn (NULL: none) runs before each line is written, under the log's lock:
 * e.g. to take a progress line off the terminal first. */
void log_set_before_line(void (*fn)(void));

/*
 * Formats one event as log_event() would print it, into a heap string that
 * ends in '\n' (free with free()); `ts` is the timestamp text. For tests.
 */
char *log_format_line(enum log_format fmt, enum log_level lvl, const char *ts,
                      const char *msg, const char *fields_fmt, ...)
	__attribute__((format(printf, 5, 6)));

/*
 * Writes s to f for a person's terminal, with control characters, C1 and
 * bidi controls and invalid UTF-8 made visible (\n, \x1b, \u009b), so text
 * from a server or a file can neither recolour the terminal nor start a line
 * of its own.
 */
void log_fputs_text(FILE *f, const char *s);

#define log_debug(msg, ...) log_event(LOG_DEBUG, msg, __VA_ARGS__)
#define log_info(msg, ...) log_event(LOG_INFO, msg, __VA_ARGS__)
#define log_warn(msg, ...) log_event(LOG_WARN, msg, __VA_ARGS__)
#define log_error(msg, ...) log_event(LOG_ERROR, msg, __VA_ARGS__)

#endif
