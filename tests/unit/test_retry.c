/* Unit tests for kbs/retry.c: ceilings double up to the cap without
 * overflow, full jitter stays in [0, ceiling] and varies, the budget ends
 * the retries, Retry-After is a floor with a growing spread, its two forms. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "retry.h"

#include "check.h"

static void test_ceilings(void)
{
	struct retry r;
	static const long want[] = { 500, 1000, 2000, 4000, 8000, 10000, 10000, 10000 };

	retry_init(&r, 500, 10000, 120000);
	for (int i = 0; i < 8; i++)
		CHECK(retry_ceiling_ms(&r, i) == want[i], "attempt %d: %ld", i, retry_ceiling_ms(&r, i));
	/* Far attempts and huge values never overflow. */
	CHECK(retry_ceiling_ms(&r, 1000) == 10000, "attempt 1000");
	CHECK(retry_ceiling_ms(&r, INT_MAX) == 10000, "attempt INT_MAX");
	CHECK(retry_ceiling_ms(&r, -3) == 500, "negative attempt");
	retry_init(&r, LONG_MAX / 3, LONG_MAX, 1000);
	CHECK(retry_ceiling_ms(&r, 70) == LONG_MAX, "huge base: %ld", retry_ceiling_ms(&r, 70));
	CHECK(retry_ceiling_ms(&r, 1) == LONG_MAX / 3 * 2, "huge base doubled once");
	/* A zero base stays zero, at once. */
	retry_init(&r, 0, 1000, 1000);
	CHECK(retry_ceiling_ms(&r, INT_MAX) == 0, "zero base");
	/* A cap below the base wins. */
	retry_init(&r, 500, 100, 1000);
	CHECK(retry_ceiling_ms(&r, 0) == 100, "cap < base");
}

static void test_jitter(void)
{
	struct retry r;
	long min = LONG_MAX, max = -1, counts[4] = { 0 };
	int distinct_first = 0;
	long first = -1;

	/* Many draws at one ceiling: all within [0, 1000], spread over the range. */
	retry_init(&r, 1000, 1000, 1000000);
	for (int i = 0; i < 20000; i++) {
		long d = retry_next_delay_ms(&r, -1);

		CHECK(d >= 0 && d <= 1000, "draw %d = %ld", i, d);
		if (d < min)
			min = d;
		if (d > max)
			max = d;
		counts[d * 4 / 1001]++;
	}
	CHECK(min < 20 && max > 980, "range poorly covered: %ld..%ld", min, max);
	for (int q = 0; q < 4; q++)
		CHECK(counts[q] > 4000 && counts[q] < 6000, "quarter %d has %ld of 20000", q, counts[q]);
	CHECK(r.attempt == 20000, "attempt counter %d", r.attempt);

	/* Each delay respects the growing ceiling. */
	retry_init(&r, 100, 1600, 1000000);
	for (int i = 0; i < 10; i++) {
		long ceiling = retry_ceiling_ms(&r, r.attempt), d = retry_next_delay_ms(&r, -1);

		CHECK(d >= 0 && d <= ceiling, "attempt %d: %ld > %ld", i, d, ceiling);
	}

	/* Two schedules are not the same sequence (seeded from the kernel). */
	for (int i = 0; i < 8; i++) {
		retry_init(&r, 1000000, 1000000, 100000000);
		long d = retry_next_delay_ms(&r, -1);

		if (d != first)
			distinct_first++;
		first = d;
	}
	CHECK(distinct_first >= 7, "first delays repeat across schedules (%d distinct)", distinct_first);
}

static void test_budget(void)
{
	struct retry r;
	long d;

	/* No budget: no retry at all. */
	retry_init(&r, 500, 10000, 0);
	CHECK(retry_remaining_ms(&r) == 0, "remaining %ld", retry_remaining_ms(&r));
	CHECK(retry_next_delay_ms(&r, -1) == -1, "budget 0 must give -1");
	CHECK(retry_next_delay_ms(&r, 0) == -1, "budget 0 with Retry-After must give -1");

	/* Budget spent (start moved into the past): -1. */
	retry_init(&r, 500, 10000, 5000);
	CHECK(retry_remaining_ms(&r) > 4000 && retry_remaining_ms(&r) <= 5000, "fresh %ld",
	      retry_remaining_ms(&r));
	r.start_ms -= 6000;
	CHECK(retry_remaining_ms(&r) == 0 && retry_next_delay_ms(&r, -1) == -1, "spent budget");

	/* Delays are clamped to half of what is left. */
	retry_init(&r, 100000, 100000, 1000);
	for (int i = 0; i < 50; i++) {
		d = retry_next_delay_ms(&r, -1);
		CHECK(d >= 0 && d <= 500, "clamped jitter %ld", d);
	}
	/* A Retry-After reaching past the budget: give up now, no pointless wait.
	 * About 700 ms are left; the checks hold for up to 200 ms of real time
	 * passing between them (valgrind on a busy CI host). */
	retry_init(&r, 100, 1000, 3000);
	r.start_ms -= 2300;
	CHECK(retry_next_delay_ms(&r, 60000) == -1, "Retry-After past the budget must give -1");
	CHECK(retry_next_delay_ms(&r, 700) == -1, "Retry-After = what is left must give -1");
	CHECK(retry_next_delay_ms(&r, 550) == -1, "under 200 ms left after Retry-After: -1");
	/* Its spread (900 ms uncut) is cut to half of what is left after it:
	 * the retry still has time to run before the end. */
	d = retry_next_delay_ms(&r, 300);
	CHECK(d >= 300 && d <= 500, "Retry-After spread cut to the budget left: %ld", d);

	/* Retry-After below the remaining budget is a floor, beyond the cap. */
	retry_init(&r, 100, 1000, 100000);
	d = retry_next_delay_ms(&r, 7000);
	CHECK(d >= 7000 && d <= 7000 + 21000, "Retry-After 7s: %ld", d);
	d = retry_next_delay_ms(&r, 0);
	CHECK(d >= 0 && d <= 200, "Retry-After 0 is full jitter over the ceiling: %ld", d);
	CHECK(r.attempt == 2, "attempts counted with Retry-After too");

	/* Real time passes on the monotonic clock. */
	retry_init(&r, 1, 1, 1000);
	sleep_ms(30);
	CHECK(retry_remaining_ms(&r) <= 970, "remaining after 30ms: %ld", retry_remaining_ms(&r));
	{
		long long t0 = monotonic_ms();

		sleep_ms(20);
		CHECK(monotonic_ms() - t0 >= 20, "sleep_ms(20) slept %lld", monotonic_ms() - t0);
	}
}

/* Retry-After is a floor, not an appointment: a fleet refused together
 * with "Retry-After: 1" spreads over [1 s, 4 s] at its first retry, and
 * wider at each further one, instead of coming back at once. */
static void test_retry_after_spread(void)
{
	static const long want[] = { 3000, 3900, 5070, 6591, 8568 };
	struct retry r;
	long counts[6] = { 0 }, min = LONG_MAX, max = -1;

	retry_init(&r, 500, 10000, 1000000);
	for (int i = 0; i < 5; i++)
		CHECK(retry_spread_ms(&r, i, 1000) == want[i], "spread %d: %ld", i,
		      retry_spread_ms(&r, i, 1000));
	/* No floor: full jitter over the backoff ceiling, as before. */
	CHECK(retry_spread_ms(&r, 0, 0) == 500 && retry_spread_ms(&r, 3, -1) == 4000,
	      "no floor: the ceiling");
	/* A small floor never spreads less than the backoff ceiling. */
	CHECK(retry_spread_ms(&r, 6, 10) == 10000, "small floor: %ld", retry_spread_ms(&r, 6, 10));
	/* No overflow at the extremes, and no endless loop. */
	CHECK(retry_spread_ms(&r, INT_MAX, 7L * 24 * 3600 * 1000) >= LONG_MAX / 13,
	      "huge spread: %ld", retry_spread_ms(&r, INT_MAX, 7L * 24 * 3600 * 1000));
	CHECK(retry_spread_ms(&r, INT_MAX, 1) == 10000, "tiny floor, far attempt");
	CHECK(retry_spread_ms(&r, 0, LONG_MAX) == LONG_MAX, "floor LONG_MAX");

	/* 7000 first retries after Retry-After: 1 s: in [1000, 4000], spread
	 * evenly over it (1/6 per 500 ms), never all at the floor. */
	for (int i = 0; i < 7000; i++) {
		long d;

		retry_init(&r, 500, 10000, 1000000);
		d = retry_next_delay_ms(&r, 1000);
		CHECK(d >= 1000 && d <= 4000, "draw %d = %ld", i, d);
		if (d < min)
			min = d;
		if (d > max)
			max = d;
		counts[(d - 1000) * 6 / 3001]++;
	}
	CHECK(min < 1050 && max > 3950, "range poorly covered: %ld..%ld", min, max);
	for (int q = 0; q < 6; q++)
		CHECK(counts[q] > 950 && counts[q] < 1400, "slice %d has %ld of 7000", q, counts[q]);
	/* The window grows with each refusal. */
	retry_init(&r, 500, 10000, 1000000);
	for (int i = 0; i < 5; i++) {
		long d = retry_next_delay_ms(&r, 1000);

		CHECK(d >= 1000 && d <= 1000 + want[i], "retry %d: %ld", i, d);
	}
}

static void test_retry_after(void)
{
	const long long now = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */

	CHECK(retry_after_parse_ms("120", now) == 120000, "delta 120");
	CHECK(retry_after_parse_ms("0", now) == 0, "delta 0");
	CHECK(retry_after_parse_ms("  5 \r\n", now) == 5000, "blanks around");
	CHECK(retry_after_parse_ms("99999999999999999999999", now) == 7L * 24 * 3600 * 1000,
	      "huge delta saturates at a week");
	CHECK(retry_after_parse_ms("Sun, 06 Nov 1994 08:49:37 GMT", now) == 0, "date = now");
	CHECK(retry_after_parse_ms("Sun, 06 Nov 1994 08:50:07 GMT", now) == 30000, "date +30s");
	CHECK(retry_after_parse_ms("Mon, 07 Nov 1994 08:49:37 GMT", now) == 86400000L, "date +1d");
	CHECK(retry_after_parse_ms("Sat, 05 Nov 1994 08:49:37 GMT", now) == 0, "past date");
	CHECK(retry_after_parse_ms("Thu, 01 Jan 2026 00:00:00 GMT", 1767225600 - 3) == 3000,
	      "2026 date: %ld", retry_after_parse_ms("Thu, 01 Jan 2026 00:00:00 GMT", 1767225600 - 3));
	CHECK(retry_after_parse_ms("Fri, 31 Dec 9999 23:59:59 GMT", now) == 7L * 24 * 3600 * 1000,
	      "far date saturates");
	/* Invalid forms. */
	static const char *const bad[] = {
		"", " ", "-5", "1.5", "5s", "0x10", "soon",
		"Sunday, 06-Nov-94 08:49:37 GMT",        /* RFC 850: not IMF-fixdate */
		"Sun Nov  6 08:49:37 1994",              /* asctime */
		"Sun, 06 Nov 1994 08:49:37 UTC",
		"Sun, 6 Nov 1994 08:49:37 GMT",
		"Sun, 06 Nov 94 08:49:37 GMT",
		"Sun, 06 Foo 1994 08:49:37 GMT",
		"Sun, 32 Nov 1994 08:49:37 GMT",
		"Sun, 31 Nov 1994 08:49:37 GMT",
		"Sun, 06 Nov 1994 24:00:00 GMT",
		"Sun, 06 Nov 1994 08:60:00 GMT",
		"Xyz, 06 Nov 1994 08:49:37 GMT",
		"Sun, 06 Nov 1994 08:49:37 GMTx",
		"Sun, 06 Nov 1969 08:49:37 GMT",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(retry_after_parse_ms(bad[i], now) == -1, "'%s' accepted", bad[i]);
	CHECK(retry_after_parse_ms(NULL, now) == -1, "NULL");
}

int main(void)
{
	test_ceilings();
	test_jitter();
	test_budget();
	test_retry_after_spread();
	test_retry_after();
	return check_report("retry");
}
