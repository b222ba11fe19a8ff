/*
 * log: one line per event on stderr, logfmt (default) or JSON.
 *   level=info msg="bucket created" kind=R2Bucket name=logs
 * Fields after the message are given as a printf-checked "k=v k=v" string;
 * in JSON mode they are turned into object members. Never pass a token or a
 * secret value here.
 */
#ifndef CFS_LOG_H
#define CFS_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF };
enum log_format { LOG_LOGFMT = 0, LOG_JSON };

void log_setup(enum log_level min, enum log_format fmt);
enum log_level log_get_level(void);
int log_parse_level(const char *s, enum log_level *out);

/* msg is a plain sentence; fields (may be NULL) is "key=value ..." text. */
void log_event(enum log_level lvl, const char *msg, const char *fields_fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_debug(msg, ...) log_event(LOG_DEBUG, msg, __VA_ARGS__)
#define log_info(msg, ...) log_event(LOG_INFO, msg, __VA_ARGS__)
#define log_warn(msg, ...) log_event(LOG_WARN, msg, __VA_ARGS__)
#define log_error(msg, ...) log_event(LOG_ERROR, msg, __VA_ARGS__)

#endif
