/*
 * driver.c - replays fuzz corpora without libFuzzer: calls the target's
 * LLVMFuzzerTestOneInput on every file named on the command line, so that
 * `make test` (with gcc, and under SAN=1) runs every corpus input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
	int passed = 0, failed = 0;
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		if (!f) {
			fprintf(stderr, "cannot open %s\n", argv[i]);
			failed++;
			continue;
		}
		fseek(f, 0, SEEK_END);
		long size = ftell(f);
		fseek(f, 0, SEEK_SET);
		uint8_t *data = malloc(size > 0 ? (size_t)size : 1);
		size_t got = fread(data, 1, (size_t)(size > 0 ? size : 0), f);
		fclose(f);
		LLVMFuzzerTestOneInput(data, got);
		free(data);
		passed++;
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}
