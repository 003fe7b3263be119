/* The monotonic clock in milliseconds, and sleeping on it: what every
 * bounded wait (retries, device polling, paravisor polling) measures with. */
#ifndef CVMBOOT_CLOCK_H
#define CVMBOOT_CLOCK_H

long long monotonic_ms(void);
/* Sleep ms milliseconds (nothing for ms <= 0), resuming after signals. */
void sleep_ms(long ms);

#endif
