/* The one assertion macro of the C tests: count a failure, say where and
 * why, and go on so one run shows every failing check. */
#ifndef CVMBOOT_TEST_CHECK_H
#define CVMBOOT_TEST_CHECK_H

#include <stdio.h>

static int failures;

#define CHECK(cond, ...) do { \
	if (!(cond)) { \
		failures++; \
		fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
		fprintf(stderr, __VA_ARGS__); \
		fputc('\n', stderr); \
	} \
} while (0)

/* The end of a test's main(): its exit status, with a one-line summary. */
static inline int check_report(const char *what)
{
	if (failures) {
		fprintf(stderr, "%s: %d check(s) failed\n", what, failures);
		return 1;
	}
	printf("%s: all checks passed\n", what);
	return 0;
}

#endif
