/* Retry schedule for KBS operations: exponential backoff with full jitter,
 * capped, inside a total time budget on the monotonic clock; Retry-After
 * as a floor with a random spread above it. */
#include "retry.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define RETRY_AFTER_MAX_S (7L * 24 * 3600) /* longer answers are cut to a week */
/* The spread after a Retry-After of F: 3 F at the first retry, 30 % wider
 * at each further one. A fleet refused together then comes back over a
 * window wide enough for the KBS to serve it, instead of all at F again. */
#define SPREAD_FIRST_NUM 3
#define SPREAD_FIRST_DEN 1
#define SPREAD_GROWTH_NUM 13
#define SPREAD_GROWTH_DEN 10
/* A retry is worth its wait only with this much budget left to run in. */
#define RETRY_MIN_RUN_MS 100

/* splitmix64: small, fast, good enough to spread retries (not for keys). */
static uint64_t next_random(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* Seed from the kernel; never block in early boot: fall back to clock and pid. */
static uint64_t random_seed(void)
{
	uint64_t seed = 0;
	struct timespec ts;

	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) == (ssize_t)sizeof(seed))
		return seed;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 16) ^
	       (uint64_t)(uintptr_t)&seed;
}

void retry_init(struct retry *r, long base_ms, long cap_ms, long budget_ms)
{
	memset(r, 0, sizeof(*r));
	r->base_ms = base_ms > 0 ? base_ms : 0;
	r->cap_ms = cap_ms > 0 ? cap_ms : 0;
	r->budget_ms = budget_ms > 0 ? budget_ms : 0;
	r->start_ms = monotonic_ms();
	r->rng = random_seed();
}

long retry_ceiling_ms(const struct retry *r, int attempt)
{
	long ceiling = r->base_ms;

	if (attempt < 0 || ceiling <= 0)
		attempt = 0;
	/* Double until the cap; stop before an overflow could happen. */
	for (int i = 0; i < attempt && ceiling < r->cap_ms; i++) {
		if (ceiling > LONG_MAX / 2) {
			ceiling = r->cap_ms;
			break;
		}
		ceiling *= 2;
	}
	return ceiling < r->cap_ms ? ceiling : r->cap_ms;
}

long retry_remaining_ms(const struct retry *r)
{
	long long used = monotonic_ms() - r->start_ms;

	if (used < 0)
		used = 0;
	return used >= r->budget_ms ? 0 : (long)(r->budget_ms - used);
}

long retry_spread_ms(const struct retry *r, int attempt, long floor_ms)
{
	long ceiling = retry_ceiling_ms(r, attempt), spread;

	if (floor_ms <= 0 || floor_ms > LONG_MAX / SPREAD_FIRST_NUM)
		return floor_ms > 0 ? LONG_MAX : ceiling;
	spread = floor_ms * SPREAD_FIRST_NUM / SPREAD_FIRST_DEN;
	/* 1.3^170 > 2^63: after that many steps any spread has saturated. */
	for (int i = 0; i < attempt && i < 170 && spread < LONG_MAX / SPREAD_GROWTH_NUM; i++)
		spread = spread * SPREAD_GROWTH_NUM / SPREAD_GROWTH_DEN;
	return spread > ceiling ? spread : ceiling;
}

long retry_next_delay_ms(struct retry *r, long retry_after_ms)
{
	long remaining = retry_remaining_ms(r), floor = retry_after_ms > 0 ? retry_after_ms : 0;
	long spread;

	/* The server asked us to stay away past the budget, or too little
	 * would be left for the retry to run: no point waiting. */
	if (remaining <= 0 || floor >= remaining || remaining - floor < 2 * RETRY_MIN_RUN_MS)
		return -1;
	/* Near the end of the budget the wait takes at most half of what is
	 * left after the floor, so the retry itself still has time to run. */
	spread = retry_spread_ms(r, r->attempt, floor);
	if (spread > (remaining - floor) / 2)
		spread = (remaining - floor) / 2;
	if (r->attempt < INT_MAX)
		r->attempt++;
	/* Uniform in [floor, floor + spread]; the modulo bias is negligible (spread << 2^64). */
	return floor + (long)(next_random(&r->rng) % ((uint64_t)spread + 1));
}

/* ------------------------------------------------------------------ */
/* Retry-After: delta-seconds or an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"). */

static int parse_fixed_digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int month_index(const char *s)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

	for (int i = 0; i < 12; i++)
		if (!strncmp(s, months + 3 * i, 3))
			return i;
	return -1;
}

static bool is_day_name(const char *s)
{
	static const char days[] = "MonTueWedThuFriSatSun";

	for (int i = 0; i < 7; i++)
		if (!strncmp(s, days + 3 * i, 3))
			return true;
	return false;
}

/* "Sun, 06 Nov 1994 08:49:37 GMT" (exactly 29 bytes) to unix time; -1 if invalid. */
static long long parse_imf_fixdate(const char *s)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int day, year, hour, min, sec, mon;
	struct tm tm;

	if (strlen(s) != 29 || !is_day_name(s) || strncmp(s + 3, ", ", 2) || s[7] != ' ' ||
	    s[11] != ' ' || s[16] != ' ' || s[19] != ':' || s[22] != ':' || strcmp(s + 25, " GMT"))
		return -1;
	mon = month_index(s + 8);
	if (mon < 0 || parse_fixed_digits(s + 5, 2, &day) || parse_fixed_digits(s + 12, 4, &year) ||
	    parse_fixed_digits(s + 17, 2, &hour) || parse_fixed_digits(s + 20, 2, &min) ||
	    parse_fixed_digits(s + 23, 2, &sec))
		return -1;
	if (day < 1 || day > mdays[mon] || year < 1970 || hour > 23 || min > 59 || sec > 60)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = mon;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	return (long long)timegm(&tm);
}

long retry_after_parse_ms(const char *value, long long now_unix)
{
	char buf[64];
	size_t start, len;
	long long seconds = 0;

	if (!value)
		return -1;
	start = strspn(value, " \t");
	len = strlen(value + start);
	while (len && (value[start + len - 1] == ' ' || value[start + len - 1] == '\t' ||
		       value[start + len - 1] == '\r' || value[start + len - 1] == '\n'))
		len--;
	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, value + start, len);
	buf[len] = '\0';
	if (buf[0] >= '0' && buf[0] <= '9') {
		for (const char *p = buf; *p; p++) {
			if (*p < '0' || *p > '9')
				return -1;
			if (seconds < RETRY_AFTER_MAX_S)
				seconds = seconds * 10 + (*p - '0');
		}
	} else {
		long long when = parse_imf_fixdate(buf);

		if (when < 0)
			return -1;
		seconds = when > now_unix ? when - now_unix : 0;
	}
	if (seconds > RETRY_AFTER_MAX_S)
		seconds = RETRY_AFTER_MAX_S;
	return (long)(seconds * 1000);
}
