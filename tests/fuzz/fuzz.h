/*
 * fuzz: what every target under tests/fuzz shares. Each fuzz_<target>.c
 * defines LLVMFuzzerTestOneInput; it is linked either with libFuzzer (clang,
 * -fsanitize=fuzzer: `make fuzz`) or with replay.c, a plain main that feeds
 * it the files of a corpus (any compiler: the regression corpus in
 * `make test`).
 */
#ifndef CFS_FUZZ_H
#define CFS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Runs one input; returns 0 (libFuzzer's contract). Must not leak, must not
 * keep state that changes what a later input does. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
