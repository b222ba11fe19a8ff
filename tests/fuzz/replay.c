/*
 * The replay driver: a plain main for a fuzz target, so its corpus runs with
 * any compiler and without libFuzzer (the regression corpus in `make test`).
 *
 *     replay_<target> PATH...
 *
 * Each PATH is a file, or a directory whose regular files are run in name
 * order. The name of each input goes to stderr before it runs, so the last
 * one named is the one that crashed. Exit 0 when every input ran, 1 when a
 * path could not be read.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../pkg/mem/mem.h"
#include "fuzz.h"

/* Largest input replayed: libFuzzer's inputs stay far below it. */
#define REPLAY_MAX_INPUT (16u * 1024 * 1024)

static int
run_file(const char *path, unsigned long *count)
{
	FILE *f = fopen(path, "rb");
	struct buf b;
	char chunk[65536];
	size_t r;
	int rc = 0;

	if (f == NULL) {
		fprintf(stderr, "replay: cannot read '%s': %s\n", path, strerror(errno));
		return -1;
	}
	buf_init(&b, REPLAY_MAX_INPUT);
	while ((r = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_append(&b, chunk, r) != 0)
			break;
	if (ferror(f) || b.toobig) {
		fprintf(stderr, "replay: cannot read '%s' (error, or over %u bytes)\n", path,
		        REPLAY_MAX_INPUT);
		rc = -1;
	} else {
		fprintf(stderr, "replay: %s\n", path);
		/* a copy of exactly the input's size, so ASan sees any overread */
		{
			uint8_t *in = xmalloc(b.len ? b.len : 1);

			if (b.len)
				memcpy(in, b.data, b.len);
			(void)LLVMFuzzerTestOneInput(in, b.len);
			free(in);
		}
		(*count)++;
	}
	fclose(f);
	buf_release(&b);
	return rc;
}

static int
cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
run_path(const char *path, unsigned long *count)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0;
	int rc = 0;

	if (stat(path, &st) != 0) {
		fprintf(stderr, "replay: cannot read '%s': %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return run_file(path, count);
	if ((d = opendir(path)) == NULL) {
		fprintf(stderr, "replay: cannot read '%s': %s\n", path, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		char *full;

		if (de->d_name[0] == '.')
			continue;
		full = xasprintf("%s/%s", path, de->d_name);
		if (stat(full, &st) == 0 && S_ISREG(st.st_mode)) {
			names = xrealloc(names, (n + 1) * sizeof(*names));
			names[n++] = full;
		} else {
			free(full);
		}
	}
	closedir(d);
	if (n > 1)
		qsort(names, n, sizeof(*names), cmp);
	for (size_t i = 0; i < n; i++) {
		if (run_file(names[i], count) != 0)
			rc = -1;
		free(names[i]);
	}
	free(names);
	return rc;
}

int
main(int argc, char **argv)
{
	unsigned long count = 0;
	int rc = 0;

	for (int i = 1; i < argc; i++)
		if (run_path(argv[i], &count) != 0)
			rc = 1;
	fprintf(stderr, "replay: %lu inputs\n", count);
	return rc;
}
