/* libcurl wrapper for the KBS client (see http.h): one easy handle, so the
 * TLS connection and the in-memory cookie survive between requests. */
#include "http.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_header.h"
#include "log.h"
#include "secmem.h"

struct http {
	CURL *curl;
	const struct config *cfg;
	long connections;
};

struct body_sink {
	struct http_response *r;
	size_t cap;   /* allocated */
	size_t limit; /* max_response_bytes */
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct body_sink *s = userdata;
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
		if (!grown)
			return 0;
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
	size_t n = size * nmemb;

	http_header_parse(userdata, data, n, (long long)time(NULL));
	return n;
}

struct http *http_new(const struct config *cfg, struct err *e)
{
	struct http *h = calloc(1, sizeof(*h));

	if (!h || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(h->curl = curl_easy_init())) {
		free(h);
		err_set(e, CVM_E_INTERNAL, "cannot initialise libcurl");
		return NULL;
	}
	h->cfg = cfg;
	CURL *c = h->curl;
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_COOKIEFILE, ""); /* in-memory cookie engine */
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, cfg->insecure_http ? "http,https" : "https");
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (cfg->ca_file[0])
		curl_easy_setopt(c, CURLOPT_CAINFO, cfg->ca_file);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, cfg->connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)cfg->max_response_bytes);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "cvmboot/" CVMBOOT_VERSION);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
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

int http_request(struct http *h, const char *url, const char *body, long timeout_ms,
		 struct http_response *r)
{
	struct curl_slist *headers = NULL;
	struct body_sink sink = { .r = r, .limit = (size_t)h->cfg->max_response_bytes };
	long connects = 0;
	CURLcode rc;

	memset(r, 0, sizeof(*r));
	r->retry_after_ms = -1;
	if (strncmp(url, "http://", 7) == 0)
		log_warn("INSECURE: plain HTTP to %s (insecure_http = true): evidence and "
			 "session are visible to the network", url);
	headers = curl_slist_append(headers, "Accept: application/json");
	if (body) {
		struct curl_slist *more = curl_slist_append(headers, "Content-Type: application/json");

		if (!more) {
			curl_slist_free_all(headers);
			return -1;
		}
		headers = more;
	}
	if (!headers)
		return -1;
	if (timeout_ms <= 0 || timeout_ms > h->cfg->request_timeout_ms)
		timeout_ms = h->cfg->request_timeout_ms;
	curl_easy_setopt(h->curl, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h->curl, CURLOPT_URL, url);
	curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(h->curl, CURLOPT_HEADERDATA, r);
	if (body) {
		curl_easy_setopt(h->curl, CURLOPT_POST, 1L);
		curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	} else {
		curl_easy_setopt(h->curl, CURLOPT_HTTPGET, 1L);
	}
	rc = curl_easy_perform(h->curl);
	curl_easy_getinfo(h->curl, CURLINFO_NUM_CONNECTS, &connects);
	h->connections += connects;
	curl_slist_free_all(headers);

	if (r->too_large || rc == CURLE_FILESIZE_EXCEEDED) {
		r->too_large = true;
		curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &r->status);
		return 0;
	}
	if (rc != CURLE_OK) {
		r->status = 0;
		r->tls_unverified = rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE;
		snprintf(r->transport_error, sizeof(r->transport_error), "%s",
			 curl_easy_strerror(rc));
		return 0;
	}
	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &r->status);
	if (!r->body) {
		r->body = calloc(1, 1);
		if (!r->body)
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
