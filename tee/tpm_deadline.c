/* The deadline TCTI (see tpm_deadline.h): opening the real TCTI, and each of
 * its transmits and receives, runs on a short-lived helper thread while the
 * caller waits on a monotonic deadline. A call that misses it is abandoned:
 * its thread keeps the real TCTI and a private buffer, so it never writes
 * into memory the caller has freed, and the real TCTI is never used again. */
#include "tpm_deadline.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tss2/tss2_tctildr.h>

#include "tss2_loader.h"

#define DEADLINE_TCTI_MAGIC 0x6376626f6f74646cULL /* "cvbootdl" */

enum call_kind { CALL_OPEN, CALL_TRANSMIT, CALL_RECEIVE };

/* One open, transmit or receive, shared by the caller and its thread; the
 * last of the two to let go frees it. */
struct call {
	pthread_mutex_t lock;
	pthread_cond_t done_cv;
	int refs;
	bool done;
	enum call_kind kind;
	char *conf;               /* CALL_OPEN: tctildr name, NULL = default */
	TSS2_TCTI_CONTEXT *inner; /* the real TCTI (CALL_OPEN: made, until taken) */
	bool size_only;           /* CALL_RECEIVE with a NULL buffer (asks the size) */
	int32_t timeout;          /* passed on to the real receive */
	uint8_t *buf;             /* private copy of the command / room for the answer */
	size_t size;
	TSS2_RC rc;
};

struct deadline_tcti {
	TSS2_TCTI_CONTEXT_COMMON_V2 common; /* first: what tpm2-tss calls through */
	TSS2_TCTI_CONTEXT *inner;
	long timeout_ms;
	struct timespec deadline;           /* of the command in flight */
	bool in_flight;                     /* transmitted, answer not yet received */
	bool expired;
};

static struct deadline_tcti *cast(TSS2_TCTI_CONTEXT *tcti)
{
	struct deadline_tcti *d = (struct deadline_tcti *)tcti;

	return d && d->common.v1.magic == DEADLINE_TCTI_MAGIC ? d : NULL;
}

static void deadline_in(long timeout_ms, struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += timeout_ms / 1000;
	ts->tv_nsec += (timeout_ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static void call_free(struct call *c)
{
	/* An open that finished after its caller gave up: nobody took it. */
	if (c->kind == CALL_OPEN && c->inner)
		Tss2_TctiLdr_Finalize(&c->inner);
	pthread_cond_destroy(&c->done_cv);
	pthread_mutex_destroy(&c->lock);
	free(c->conf);
	free(c->buf);
	free(c);
}

/* Drop one reference; c->lock is held and released here. */
static void call_unref_unlock(struct call *c)
{
	bool last = --c->refs == 0;

	pthread_mutex_unlock(&c->lock);
	if (last)
		call_free(c);
}

static void *call_thread(void *arg)
{
	struct call *c = arg;
	TSS2_TCTI_CONTEXT *made = NULL;
	size_t size = c->size;
	TSS2_RC rc;

	if (c->kind == CALL_OPEN)
		rc = Tss2_TctiLdr_Initialize(c->conf, &made);
	else if (c->kind == CALL_RECEIVE)
		rc = Tss2_Tcti_Receive(c->inner, &size, c->size_only ? NULL : c->buf, c->timeout);
	else
		rc = Tss2_Tcti_Transmit(c->inner, size, c->buf);
	pthread_mutex_lock(&c->lock);
	if (c->kind == CALL_OPEN)
		c->inner = rc == TSS2_RC_SUCCESS ? made : NULL;
	c->rc = rc;
	c->size = size;
	c->done = true;
	pthread_cond_signal(&c->done_cv);
	call_unref_unlock(c);
	return NULL;
}

static struct call *call_new(enum call_kind kind, TSS2_TCTI_CONTEXT *inner, size_t buf_len)
{
	struct call *c = calloc(1, sizeof(*c));
	pthread_condattr_t attr;

	if (!c)
		return NULL;
	if (!(c->buf = calloc(1, buf_len ? buf_len : 1))) {
		free(c);
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&c->done_cv, &attr);
	pthread_condattr_destroy(&attr);
	c->kind = kind;
	c->inner = inner;
	c->refs = 2;
	return c;
}

/* Run c on its own thread (signals blocked there: they are the main
 * thread's business) and wait until it is done or deadline passes; true if
 * done. copy_out runs under c->lock before c is let go. */
static bool run_bounded(struct call *c, const struct timespec *deadline,
			void (*copy_out)(struct call *c, void *ctx), void *ctx)
{
	sigset_t all, old;
	pthread_t thread;
	pthread_attr_t attr;
	bool started, done;

	sigfillset(&all);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	started = pthread_create(&thread, &attr, call_thread, c) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (!started) {
		c->rc = TSS2_TCTI_RC_MEMORY;
		c->done = true;
		copy_out(c, ctx);
		call_free(c);
		return true;
	}
	pthread_mutex_lock(&c->lock);
	while (!c->done && pthread_cond_timedwait(&c->done_cv, &c->lock, deadline) != ETIMEDOUT)
		;
	done = c->done;
	if (done)
		copy_out(c, ctx);
	call_unref_unlock(c);
	return done;
}

struct exchange_out {
	TSS2_RC rc;
	size_t *size;             /* CALL_RECEIVE */
	uint8_t *response;
	TSS2_TCTI_CONTEXT *inner; /* CALL_OPEN */
};

static void exchange_copy_out(struct call *c, void *ctx)
{
	struct exchange_out *out = ctx;

	out->rc = c->rc;
	if (c->kind == CALL_OPEN) {
		out->inner = c->inner;
		c->inner = NULL; /* taken */
	} else if (c->kind == CALL_RECEIVE) {
		*out->size = c->size;
		if (c->rc == TSS2_RC_SUCCESS && out->response)
			memcpy(out->response, c->buf, c->size);
	}
}

/* One bounded transmit or receive; a miss expires the context. */
static TSS2_RC bounded_exchange(struct deadline_tcti *d, struct call *c, struct exchange_out *out)
{
	if (run_bounded(c, &d->deadline, exchange_copy_out, out))
		return out->rc;
	d->expired = true; /* the thread keeps the real TCTI from now on */
	return TSS2_TCTI_RC_IO_ERROR;
}

static TSS2_RC deadline_transmit(TSS2_TCTI_CONTEXT *tcti, size_t size, const uint8_t *command)
{
	struct deadline_tcti *d = cast(tcti);
	struct exchange_out out = { 0 };
	struct call *c;

	if (!d)
		return TSS2_TCTI_RC_BAD_CONTEXT;
	if (!command)
		return TSS2_TCTI_RC_BAD_REFERENCE;
	if (d->expired)
		return TSS2_TCTI_RC_IO_ERROR;
	if (!(c = call_new(CALL_TRANSMIT, d->inner, size)))
		return TSS2_TCTI_RC_MEMORY;
	memcpy(c->buf, command, size);
	c->size = size;
	deadline_in(d->timeout_ms, &d->deadline);
	d->in_flight = true;
	return bounded_exchange(d, c, &out);
}

static TSS2_RC deadline_receive(TSS2_TCTI_CONTEXT *tcti, size_t *size, uint8_t *response,
				int32_t timeout)
{
	struct deadline_tcti *d = cast(tcti);
	struct exchange_out out = { .size = size, .response = response };
	struct call *c;
	TSS2_RC rc;

	if (!d)
		return TSS2_TCTI_RC_BAD_CONTEXT;
	if (!size)
		return TSS2_TCTI_RC_BAD_REFERENCE;
	if (d->expired)
		return TSS2_TCTI_RC_IO_ERROR;
	if (!(c = call_new(CALL_RECEIVE, d->inner, response ? *size : 0)))
		return TSS2_TCTI_RC_MEMORY;
	c->size_only = !response;
	c->size = *size;
	c->timeout = timeout;
	if (!d->in_flight)
		deadline_in(d->timeout_ms, &d->deadline);
	rc = bounded_exchange(d, c, &out);
	/* The answer is in, or the command failed: the next one gets a new
	 * deadline. A size query or TRY_AGAIN (non-blocking use) keeps this one. */
	if (rc != TSS2_TCTI_RC_TRY_AGAIN && !(rc == TSS2_RC_SUCCESS && !response))
		d->in_flight = false;
	return rc;
}

TSS2_RC tpm_deadline_open(const char *conf, long timeout_ms, TSS2_TCTI_CONTEXT **out,
			  bool *timed_out)
{
	struct exchange_out opened = { 0 };
	struct deadline_tcti *d = calloc(1, sizeof(*d));
	struct call *c = call_new(CALL_OPEN, NULL, 0);
	struct timespec deadline;

	*out = NULL;
	*timed_out = false;
	if (!d || !c || (conf && !(c->conf = strdup(conf)))) {
		free(d);
		if (c)
			call_free(c);
		return TSS2_TCTI_RC_MEMORY;
	}
	d->timeout_ms = timeout_ms > 0 ? timeout_ms : 1;
	deadline_in(d->timeout_ms, &deadline);
	if (!run_bounded(c, &deadline, exchange_copy_out, &opened)) {
		*timed_out = true;
		free(d);
		return TSS2_TCTI_RC_IO_ERROR;
	}
	if (opened.rc != TSS2_RC_SUCCESS) {
		free(d);
		return opened.rc;
	}
	d->common.v1.magic = DEADLINE_TCTI_MAGIC;
	d->common.v1.version = 2;
	d->common.v1.transmit = deadline_transmit;
	d->common.v1.receive = deadline_receive;
	/* cancel, poll handles, locality, sticky: not offered (NULL means
	 * TSS2_TCTI_RC_NOT_IMPLEMENTED); finalize: tpm_deadline_close. */
	d->inner = opened.inner;
	*out = (TSS2_TCTI_CONTEXT *)d;
	return TSS2_RC_SUCCESS;
}

bool tpm_deadline_expired(const TSS2_TCTI_CONTEXT *tcti)
{
	const struct deadline_tcti *d = (const struct deadline_tcti *)tcti;

	return d && d->common.v1.magic == DEADLINE_TCTI_MAGIC && d->expired;
}

void tpm_deadline_close(TSS2_TCTI_CONTEXT *tcti)
{
	struct deadline_tcti *d = cast(tcti);

	if (!d)
		return;
	if (!d->expired)
		Tss2_TctiLdr_Finalize(&d->inner);
	free(d);
}
