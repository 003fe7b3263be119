/* Fixed private keys of the JWE harness (fuzz_jwe.c). The seeds in
 * corpus/jwe/ are encrypted to them (make_seeds.py reads this file): test
 * keys, published on purpose, never used for anything else. */
#ifndef CVMBOOT_FUZZ_KEYS_H
#define CVMBOOT_FUZZ_KEYS_H

static const char fuzz_key_p256[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg8KtLAdUuaTcNfRI1\n"
	"OwaSZ/i8L5PC1q6W8plB3JxTL46hRANCAATzc2qbZJVC/s4MIGWbM7ldjt+SbUOc\n"
	"bj1R5/Wg4nAl7HRLt5oV1f1KfFNwbgYx624Nn2oBFmJS5DxMJc/ePcGj\n"
	"-----END PRIVATE KEY-----\n";

static const char fuzz_key_p521[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIHuAgEAMBAGByqGSM49AgEGBSuBBAAjBIHWMIHTAgEBBEIBPYv9K0V507naiydq\n"
	"0I8o5u8Vm3HpxJLq4qmsQiNfgaU20rGMDad/H5o6A2TBrBP8xJiPgcwVBW2zDvmC\n"
	"Ox8gZr2hgYkDgYYABACt7fJUjHla2YMPI9BxRWcjXhpRkWA5guadqMleCnhZpmu5\n"
	"CpWiKz/1PR+iExq18fkcWBn1OcZPVDI4A+Eq5CZFwwHgAFbK57g8BIqjZ5+gzT37\n"
	"vm7hQ/9+MnZlfL0AKaOB8w4VdEE+WbukJ3j4F9efBG5PQ43TmO7VI5kq1YO84j2N\n"
	"qw==\n"
	"-----END PRIVATE KEY-----\n";

static const char fuzz_key_rsa2048[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCvNT5sE2xSqKho\n"
	"OvDbFhqNusPJzEnHHA//hoT+7+oNgN6dKbdmVXhW8b53FG8a+druBH7E636Y+5yu\n"
	"kIx3evL9SsY93e2nOFJol1Hi6YMFf/ASKgC6Rl63mDhcQzwnXQJXrTyYIy9cNPcO\n"
	"o8V91ladAzwqbmWPi0G1L7YrILks7Y1iOQQjGz/wYxR60iOgeqYTRHymsl8458E1\n"
	"mZiagHBL6NCfUDELdqOdI6RfNwvqhCmayZuwpNHL+uS9JBM7ji4Qh2hD7rULBxr7\n"
	"7micJ6UU0XycoqaVQG6h2AceKKWXaJpCiSSXVld5OsXjqvqi4rQmOC/WZi+BKAYn\n"
	"5H65/rgrAgMBAAECggEAENM+ntdQqDFtFrFOTuO1AhZE1fypuxatTJ8I54h3g/tz\n"
	"pUkLxSaBC2xkm3/ZWZBT31aMK/Hnct56weK8sn6algtXtTo6J7xHYabiZLWC8QTD\n"
	"s6LX9gtq7huOkgGc5bTPVEcdEgkS87pcXUoJ3Zc3MxXL8dEvLJU1ZqZhyot2bONs\n"
	"UQWri617mrh4kl+NV0bG7X6AolF+gdrwyp6YyNEDbIUH359LL+Bqmn/+7OHBYFR2\n"
	"SAS+IqYcwKxM6fbO3aJjWpzwDUjibREfe3nmp+FNGdNxlp0gEYsr6OKBbsudQrA5\n"
	"oI+E122Cs5PLFGDcjfxZnWnZI72qHg9T8nZ0hBsSaQKBgQDjNmaz9lT4eH2OfFsY\n"
	"WghLZraD2lhMXt6ymYUxz2HhNqAawMpshjGYC1TsfgyoDUu0xld5eE9FpeY9fTPm\n"
	"52bWo9KNvwmtvGBLnFNIkJFhVWVdlKuJPrnQT/VVz0ttWR7jJQoyW07DhS5W7EkN\n"
	"9j4pbRpTJz9gTlPpfYrFNheVOQKBgQDFaBW7fJoNSshoPsUnwYe4unLVzZZX8pDP\n"
	"amryDeYRvGgocyYqFXcO6JE3xc2TRQOiBc5nJsWi+ir2B7a0IYAo84SlD4YpVd6o\n"
	"TJ1WMfJwckwSQZiDWUg41CgdeduR7G0hzJAyfF258SPwNc24ktEZbWC2XOkwjK+f\n"
	"4JOmQJQ8gwKBgQDcGS3B9MR48VdHOIWSAFz6laQF8/QG/vuhbP/OsYKyhJTxdYJh\n"
	"QFk4XPnGIZCnFkIY+u1vuLCp2jw/olItwkkncQic0MtSZiGt/N/cclayP+Pyk/ra\n"
	"901OUrZoimcZpPQ7uvy2rSaOViv+feOCx9+Nh6exl1pYM2grzbYote6AWQKBgA4a\n"
	"U4MjcbYFY6/e3CLs9o9B8rZHi7gYwjOvPJiyWX9m4GITZ+SVx/2uq8E6RmeBBLNs\n"
	"isRfxrrP+IW/I1RXGFrUmuNX6pPFaLTJVGw2AUX7RGgBe63WkQxOS9dfP0p7g4ho\n"
	"ntycee2wxoqArYPEKWARqlkc5iPryRg46RN1haGVAoGAYPoL0O4yecV316zglG7s\n"
	"5H38ZtgGVFhzy15YWWma2C2k5QMmjemFjxSyyi8nmiaoXaZxgWEpspE5Y5dkn6rn\n"
	"3dewUXwNHlli6Z2B/2CbGlPYTyXqfUJUCIXTk7ii2YZ5lcWFm5Q5LRaZfyXJgPR+\n"
	"6efob0HKZLkU9C5Jten4Eys=\n"
	"-----END PRIVATE KEY-----\n";

#endif
