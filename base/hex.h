/* Hexadecimal: the one encoder and decoder (evidence fields, report data
 * given on the command line, the HCL report's user-data, config numbers). */
#ifndef CVMBOOT_HEX_H
#define CVMBOOT_HEX_H

#include <stddef.h>

/* Value of one hex digit (either case), -1 if c is not one. */
int hex_digit(char c);
/* Lowercase hex of in, malloc'ed and NUL-terminated; NULL on OOM. */
char *hex_encode(const unsigned char *in, size_t len);
/* Decode exactly hex_len characters (even, at most 2 * max) into out;
 * *len gets the byte count. Returns 0 or -1. */
int hex_decode(const char *hex, size_t hex_len, unsigned char *out, size_t max, size_t *len);

#endif
