/* Lines for a person at the console while cvmboot waits or gives up: logged
 * like any other line and, when plymouth runs the boot splash, shown
 * through it too (plymouth display-message), so the splash hides nothing. */
#ifndef CVMBOOT_PROGRESS_H
#define CVMBOOT_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>

/* Whether progress lines also go to plymouth (off by default: the boot job
 * turns it on). */
void progress_use_plymouth(bool on);
/* Log one line at PRIORITY and, when enabled and plymouth answers
 * `plymouth --ping`, show it on the splash in place of the last one. Each
 * plymouth call is bounded (PROGRESS_PLYMOUTH_WAIT_MS); nothing here can
 * stall the boot. */
void progress_msg(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Like progress_msg, but the line stays on the splash next to the one
 * before it (for the last lines of a failed boot), instead of replacing it. */
void progress_keep(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "12.3 s": a duration for a person, in seconds with one decimal. */
void progress_seconds(long ms, char *out, size_t out_len);

#define PROGRESS_PLYMOUTH_WAIT_MS 1000

#endif
