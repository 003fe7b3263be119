/* Retry schedule: exponential backoff with full jitter, capped, within a
 * total time budget; Retry-After is a floor with a random spread above it. */
#ifndef CVMBOOT_RETRY_H
#define CVMBOOT_RETRY_H

#include <stdbool.h>
#include <stdint.h>

#include "clock.h"

struct retry {
	long base_ms, cap_ms, budget_ms;
	long long start_ms;   /* monotonic clock at start */
	int attempt;          /* attempts made so far */
	uint64_t rng;         /* jitter state */
};

void retry_init(struct retry *r, long base_ms, long cap_ms, long budget_ms);
/* Upper bound of the delay before retry number attempt (0-based):
 * min(cap, base * 2^attempt). */
long retry_ceiling_ms(const struct retry *r, int attempt);
/* Width of the random spread of the wait before retry number attempt:
 * without a floor, the backoff ceiling (full jitter); with a floor (the
 * server's Retry-After), 3 x floor growing by 30 % per attempt, or the
 * ceiling if that is larger. */
long retry_spread_ms(const struct retry *r, int attempt, long floor_ms);
/* Next delay: retry_after_ms (-1 if the server sent none) is a floor, not
 * an appointment: uniform in [floor, floor + spread], the spread cut to
 * half of what the budget has left after the floor. Returns -1 (no retry)
 * when the budget is spent, or the floor leaves less than 200 ms of it (a
 * retry could not run). Advances attempt. */
long retry_next_delay_ms(struct retry *r, long retry_after_ms);
/* Milliseconds left in the budget (>= 0). */
long retry_remaining_ms(const struct retry *r);
/* Parse a Retry-After header value (delta seconds or HTTP date); -1 if invalid. */
long retry_after_parse_ms(const char *value, long long now_unix);

#endif
