/* Unit tests for pkg/log and the text escapers in pkg/mem: a hostile value
 * (escape sequences, a newline that would forge a line, a quote that would
 * add a field) stays inside its field in both formats; JSON lines keep
 * numbers as numbers; invalid UTF-8 never makes a line invalid JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "../../pkg/log/log.h"
#include "../../pkg/mem/mem.h"

#define TS "2027-01-01T00:00:00Z"
#define HOSTILE "a\x1b[31m\nlevel=error msg=forged\" x=\"y"

static void
assert_one_clean_line(const char *line)
{
	size_t n = strlen(line);

	assert_true(n > 0 && line[n - 1] == '\n');
	for (size_t i = 0; i + 1 < n; i++) {
		unsigned char c = (unsigned char)line[i];

		assert_true(c >= 0x20 && c != 0x7f);
	}
}

static void
test_logfmt_hostile(void **state)
{
	char *l;

	(void)state;
	l = log_format_line(LOG_LOGFMT, LOG_ERROR, TS, "observe failed", "reason=%s error=\"%s\"",
	                    "interval", HOSTILE);
	assert_one_clean_line(l);
	assert_string_equal(l, "ts=" TS " level=error msg=\"observe failed\" reason=interval "
	                       "error=\"a\\x1b[31m\\nlevel=error msg=forged\\\" x=\\\"y\"\n");
	free(l);
	/* an unquoted template whose value needs quotes gets them */
	l = log_format_line(LOG_LOGFMT, LOG_INFO, TS, "m", "name=%s n=%d", "a b=c", 7);
	assert_string_equal(l, "ts=" TS " level=info msg=\"m\" name=\"a b=c\" n=7\n");
	free(l);
	/* the message itself is escaped too */
	l = log_format_line(LOG_LOGFMT, LOG_INFO, TS, "two\nlines\"", NULL);
	assert_string_equal(l, "ts=" TS " level=info msg=\"two\\nlines\\\"\"\n");
	free(l);
}

static void
test_json_hostile_and_numbers(void **state)
{
	char *l;

	(void)state;
	l = log_format_line(LOG_JSON, LOG_ERROR, TS, "observe failed", "reason=%s error=\"%s\"",
	                    "interval", HOSTILE);
	assert_one_clean_line(l);
	assert_string_equal(l, "{\"ts\":\"" TS "\",\"level\":\"error\",\"msg\":\"observe failed\","
	                       "\"reason\":\"interval\",\"error\":\"a\\u001b[31m\\nlevel=error "
	                       "msg=forged\\\" x=\\\"y\"}\n");
	free(l);
	l = log_format_line(LOG_JSON, LOG_INFO, TS, "m",
	                    "n=%zu d=%lld f=%.1f s=%s q=\"%u\" h=%x mixed=%u/%u pct=100%%",
	                    (size_t)3, -5LL, 2.5, "12", 4u, 255u, 1u, 2u);
	assert_string_equal(l, "{\"ts\":\"" TS "\",\"level\":\"info\",\"msg\":\"m\",\"n\":3,"
	                       "\"d\":-5,\"f\":2.5,\"s\":\"12\",\"q\":\"4\",\"h\":\"ff\","
	                       "\"mixed\":\"1/2\",\"pct\":\"100%\"}\n");
	free(l);
	/* not a JSON number although the conversion is numeric */
	l = log_format_line(LOG_JSON, LOG_INFO, TS, "m", "z=%03d inf=%g", 7, HUGE_VAL);
	assert_string_equal(l, "{\"ts\":\"" TS "\",\"level\":\"info\",\"msg\":\"m\","
	                       "\"z\":\"007\",\"inf\":\"inf\"}\n");
	free(l);
}

static void
test_utf8_and_c1(void **state)
{
	char *l;
	struct buf b;

	(void)state;
	/* invalid UTF-8, a C1 CSI (U+009B) and a bidi override (U+202E) */
	l = log_format_line(LOG_JSON, LOG_WARN, TS, "m", "v=\"%s\"", "\xff" "x\xc2\x9b" "y\xe2\x80\xae" "é");
	assert_string_equal(l, "{\"ts\":\"" TS "\",\"level\":\"warn\",\"msg\":\"m\","
	                       "\"v\":\"\\ufffdx\\u009by\\u202eé\"}\n");
	free(l);
	l = log_format_line(LOG_LOGFMT, LOG_WARN, TS, "m", "v=\"%s\"", "\xff" "x\xc2\x9b" "é\x7f");
	assert_string_equal(l, "ts=" TS " level=warn msg=\"m\" v=\"\\xffx\\u009bé\\x7f\"\n");
	free(l);
	buf_init(&b, (size_t)-1);
	buf_text_escape(&b, "C:\\dir \"q\"\t\x1b", 12, 0);
	assert_string_equal(b.data, "C:\\dir \"q\"\\t\\x1b");
	buf_release(&b);
}

static void
test_format_conversions(void **state)
{
	char *l, big[LOG_MAX_VALUE + 100];

	(void)state;
	l = log_format_line(LOG_LOGFMT, LOG_INFO, TS, "m", "a=%.3s b=%*d c=%-4s| d=%p e=%c",
	                    "abcdef", 5, 42, "x", (void *)NULL, 'Q');
	assert_non_null(strstr(l, " a=abc b=\"   42\" c=\"x   |\" d="));
	assert_non_null(strstr(l, " e=Q\n"));
	free(l);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	l = log_format_line(LOG_LOGFMT, LOG_INFO, TS, "m", "big=%s", big);
	assert_true(strlen(l) < LOG_MAX_VALUE + 100);
	assert_non_null(strstr(l, "xxx...\n"));
	free(l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_logfmt_hostile),
		cmocka_unit_test(test_json_hostile_and_numbers),
		cmocka_unit_test(test_utf8_and_c1),
		cmocka_unit_test(test_format_conversions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
