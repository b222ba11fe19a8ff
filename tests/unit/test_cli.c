/* Unit tests for pkg/cli's renderings of the command line's tables: the man
 * page keeps roff control characters and non-ASCII text inert, and the
 * completion engine offers what the parser accepts (flags per command, -o
 * formats, kinds) and nothing when a file name is wanted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../pkg/cli/cli.h"

/* What cli_complete prints for the words w[0..n); free with free(). */
static char *
complete(int n, char *const *w)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(cli_complete(n, w, f), EXIT_OK);
	fclose(f);
	return buf;
}

static void
test_man_escapes(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	cli_man_text(f, "x", "a tool",
	             "usage: x --flag [-a]\n"
	             "       [-b]\n"
	             ".SH FORGED\n"
	             "'also a request\n"
	             "back\\slash · ↻\n"
	             "\n"
	             "  -f, --file PATH    what it is\n"
	             "                     and more\n");
	fclose(f);
	assert_non_null(strstr(buf, ".TH X 1 "));
	assert_non_null(strstr(buf, "\nx \\- a tool\n"));
	assert_non_null(strstr(buf, ".nf\nx \\-\\-flag [\\-a]\n[\\-b]\n.fi\n"));
	assert_null(strstr(buf, "\n.SH FORGED"));
	assert_non_null(strstr(buf, "\n\\&.SH FORGED\n"));
	assert_non_null(strstr(buf, "\n\\&'also a request\n"));
	assert_non_null(strstr(buf, "back\\eslash \\[u00B7] \\[u21BB]\n"));
	assert_non_null(strstr(buf, ".TP\n\\fB\\-f, \\-\\-file PATH\\fR\nwhat it is\nand more\n"));
	free(buf);
}

static void
test_man_page_has_every_command(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	cli_man(f);
	fclose(f);
	for (size_t i = 0; cli_commands[i].name; i++) {
		char want[64];

		snprintf(want, sizeof(want), "\n.SS %s\n", cli_commands[i].name);
		assert_non_null(strstr(buf, want));
	}
	for (const char *p = buf; *p; p++)
		assert_true((unsigned char)*p < 0x80); /* all of it escaped to ASCII */
	free(buf);
}

static void
test_complete(void **state)
{
	char *out;

	(void)state;
	out = complete(2, (char *const[]){ "plan", "--pru" });
	assert_string_equal(out, "--prune\n");
	free(out);
	out = complete(2, (char *const[]){ "validate", "--dr" }); /* validate refuses it */
	assert_string_equal(out, "");
	free(out);
	out = complete(3, (char *const[]){ "export", "-o", "" });
	assert_string_equal(out, "yaml\n");
	free(out);
	out = complete(4, (char *const[]){ "export", "--kind", "=", "" }); /* bash's split */
	assert_string_equal(out, "R2Bucket\nKVNamespace\nSecret\nD1Database\n");
	free(out);
	out = complete(2, (char *const[]){ "export", "--kind=S" }); /* zsh's word */
	assert_string_equal(out, "--kind=Secret\n");
	free(out);
	out = complete(3, (char *const[]){ "plan", "-f", "" }); /* a path: the shell's */
	assert_string_equal(out, "");
	free(out);
	out = complete(3, (char *const[]){ "-v", "--state=s.json", "sta" });
	assert_string_equal(out, "status\nstate\n");
	free(out);
	out = complete(0, NULL);
	assert_non_null(strstr(out, "validate\n"));
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_man_escapes),
		cmocka_unit_test(test_man_page_has_every_command),
		cmocka_unit_test(test_complete),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
