/* libcurl wrapper for the KBS client (see http.h): one easy handle, so the
 * TLS connection and the in-memory cookie survive between requests. Trust is
 * ca_file alone when it is set; answers are bounded in size and time. */
#include "http.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_header.h"
#include "log.h"
#include "secmem.h"

struct http {
	CURL *curl;
	const struct kbs_client_options *opts;
	long connections;
	char errbuf[CURL_ERROR_SIZE]; /* libcurl's detailed reason for a failure */
};

/* Where one answer goes: its body (bounded by max_response_bytes) and a
 * count of its header bytes (bounded by HTTP_HEADERS_MAX). */
struct sink {
	struct http_response *r;
	size_t cap;   /* allocated */
	size_t limit; /* max_response_bytes */
	size_t header_bytes;
	bool headers_too_large;
	bool oom;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct sink *s = userdata;
	struct http_response *r = s->r;
	size_t n = size * nmemb;

	if (n > s->limit - r->body_len) {
		r->too_large = true;
		return 0; /* aborts the transfer */
	}
	if (r->body_len + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		char *grown;

		while (cap < r->body_len + n + 1)
			cap *= 2;
		/* No realloc: the old buffer is wiped, not left behind in the heap. */
		grown = malloc(cap);
		if (!grown) {
			s->oom = true;
			return 0;
		}
		if (r->body) {
			memcpy(grown, r->body, r->body_len);
			secure_free(r->body, s->cap);
		}
		r->body = grown;
		s->cap = cap;
	}
	memcpy(r->body + r->body_len, data, n);
	r->body_len += n;
	r->body[r->body_len] = '\0';
	return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct sink *s = userdata;
	size_t n = size * nmemb;

	if (n > HTTP_HEADERS_MAX - s->header_bytes) {
		s->headers_too_large = true;
		return 0; /* aborts the transfer */
	}
	s->header_bytes += n;
	http_header_parse(s->r, data, n, (long long)time(NULL));
	return n;
}

/* Trust and transport settings; any of them refused is an error, never a
 * silent fallback to libcurl's defaults. */
static CURLcode configure(CURL *c, const struct kbs_client_options *opts, char *errbuf)
{
	const char *protocols = opts->insecure_http ? "http,https" : "https";
	CURLcode rc;

	if ((rc = curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L)) ||
	    (rc = curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf)) ||
	    /* The session cookie lives in memory only: no cookie file is read or written. */
	    (rc = curl_easy_setopt(c, CURLOPT_COOKIEFILE, "")) ||
	    /* A redirect is an answer like any other, never followed. */
	    (rc = curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L)) ||
	    (rc = curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, protocols)) ||
	    (rc = curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, protocols)) ||
	    /* Straight to the configured URL: proxies named in the environment
	     * (https_proxy, ALL_PROXY, ...) are ignored. */
	    (rc = curl_easy_setopt(c, CURLOPT_PROXY, "")) ||
	    (rc = curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2)) ||
	    (rc = curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L)) ||
	    (rc = curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L)) ||
	    /* No CURLSSLOPT_NATIVE_CA (it would add the system store) and no
	     * best-effort revocation or other relaxations. */
	    (rc = curl_easy_setopt(c, CURLOPT_SSL_OPTIONS, 0L)) ||
	    (rc = curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, opts->connect_timeout_ms)) ||
	    (rc = curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)opts->max_response_bytes)) ||
	    (rc = curl_easy_setopt(c, CURLOPT_USERAGENT, "cvmboot/" CVMBOOT_VERSION)) ||
	    (rc = curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body)) ||
	    (rc = curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header)))
		return rc;
	if (!opts->ca_file[0])
		return CURLE_OK; /* the system store: libcurl's built-in CA bundle and directory */
	/* ca_file is the only trust anchor: libcurl's built-in CA directory
	 * (/etc/ssl/certs on Debian) would otherwise stay trusted beside it. */
	if ((rc = curl_easy_setopt(c, CURLOPT_CAINFO, opts->ca_file)) ||
	    (rc = curl_easy_setopt(c, CURLOPT_CAPATH, NULL)))
		return rc;
	return CURLE_OK;
}

struct http *http_new(const struct kbs_client_options *opts, struct err *e)
{
	struct http *h = calloc(1, sizeof(*h));
	CURLcode rc;

	if (!h || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(h->curl = curl_easy_init())) {
		free(h);
		err_set(e, CVM_E_INTERNAL, "cannot initialise libcurl");
		return NULL;
	}
	h->opts = opts;
	if ((rc = configure(h->curl, opts, h->errbuf))) {
		err_set(e, CVM_E_INTERNAL, "libcurl refuses a TLS/HTTP setting: %s",
			curl_easy_strerror(rc));
		http_free(h);
		return NULL;
	}
	return h;
}

void http_free(struct http *h)
{
	if (!h)
		return;
	curl_easy_cleanup(h->curl);
	free(h);
}

void http_reset_cookies(struct http *h)
{
	curl_easy_setopt(h->curl, CURLOPT_COOKIELIST, "ALL");
}

/* Printable, bounded copy of libcurl's reason (it may quote a certificate name). */
static void set_transport_error(struct http_response *r, const char *reason)
{
	size_t j = 0;

	for (size_t i = 0; reason[i] && reason[i] != '\n' && j + 1 < sizeof(r->transport_error); i++)
		r->transport_error[j++] = isprint((unsigned char)reason[i]) ? reason[i] : '?';
	r->transport_error[j] = '\0';
}

static struct curl_slist *request_headers(bool post)
{
	/* "Expect:" off: no 100-continue round trip before a large POST body. */
	const char *lines[] = { "Accept: application/json", "Expect:",
				post ? "Content-Type: application/json" : NULL };
	struct curl_slist *headers = NULL;

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]) && lines[i]; i++) {
		struct curl_slist *more = curl_slist_append(headers, lines[i]);

		if (!more) {
			curl_slist_free_all(headers);
			return NULL;
		}
		headers = more;
	}
	return headers;
}

/* What the transfer ended with, into r; -1 on local failure (OOM). */
static int record_result(struct http *h, CURLcode rc, const struct sink *sink,
			 struct http_response *r)
{
	if (sink->oom)
		return -1;
	if (r->too_large || rc == CURLE_FILESIZE_EXCEEDED) {
		r->too_large = true;
		curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &r->status);
		return 0;
	}
	if (sink->headers_too_large) {
		r->status = 0;
		snprintf(r->transport_error, sizeof(r->transport_error),
			 "response headers larger than %d bytes", HTTP_HEADERS_MAX);
		return 0;
	}
	if (rc != CURLE_OK) {
		r->status = 0;
		r->tls_unverified = rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE;
		set_transport_error(r, h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc));
		return 0;
	}
	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &r->status);
	if (!r->body && !(r->body = calloc(1, 1)))
		return -1;
	return 0;
}

int http_request(struct http *h, const char *url, const char *body, long timeout_ms,
		 struct http_response *r)
{
	struct curl_slist *headers;
	struct sink sink = { .r = r, .limit = (size_t)h->opts->max_response_bytes };
	long connects = 0;
	CURLcode rc;

	memset(r, 0, sizeof(*r));
	r->retry_after_ms = -1;
	if (strncmp(url, "http://", 7) == 0)
		log_warn("INSECURE: plain HTTP to %s (insecure_http = true): evidence and "
			 "session are visible to the network", url);
	if (!(headers = request_headers(body != NULL)))
		return -1;
	if (timeout_ms <= 0 || timeout_ms > h->opts->request_timeout_ms)
		timeout_ms = h->opts->request_timeout_ms;
	curl_easy_setopt(h->curl, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h->curl, CURLOPT_URL, url);
	curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(h->curl, CURLOPT_HEADERDATA, &sink);
	if (body) {
		curl_easy_setopt(h->curl, CURLOPT_POST, 1L);
		curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	} else {
		curl_easy_setopt(h->curl, CURLOPT_HTTPGET, 1L);
	}
	h->errbuf[0] = '\0';
	rc = curl_easy_perform(h->curl);
	curl_easy_getinfo(h->curl, CURLINFO_NUM_CONNECTS, &connects);
	h->connections += connects;
	curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(headers);
	if (record_result(h, rc, &sink, r)) {
		http_response_clear(r);
		return -1;
	}
	return 0;
}

void http_response_clear(struct http_response *r)
{
	if (r->body)
		secure_free(r->body, r->body_len);
	r->body = NULL;
	r->body_len = 0;
}

long http_connections(const struct http *h)
{
	return h->connections;
}
