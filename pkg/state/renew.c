/*
 * renew.c: the renewal thread of a held lease (renew.h).
 */
#include "renew.h"

#include <time.h>

void
renewer_init(struct renewer *r)
{
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	r->running = r->stop = 0;
}

void
renewer_destroy(struct renewer *r)
{
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cv);
}

long long
renewer_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits a period (to its end: a spurious wakeup waits on), then renews;
 * ends at renewer_stop() or when renew() gives up. */
static void *
renewer_main(void *arg)
{
	struct renewer *r = arg;

	pthread_mutex_lock(&r->mu);
	while (!r->stop) {
		long long deadline = renewer_now_ms() + r->period_ms;
		struct timespec ts;
		int gave_up;

		ts.tv_sec = (time_t)(deadline / 1000);
		ts.tv_nsec = (long)(deadline % 1000) * 1000000L;
		while (!r->stop && renewer_now_ms() < deadline)
			pthread_cond_timedwait(&r->cv, &r->mu, &ts);
		if (r->stop)
			break;
		pthread_mutex_unlock(&r->mu);
		gave_up = r->renew(r->arg);
		pthread_mutex_lock(&r->mu);
		if (gave_up)
			break;
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

void
renewer_start(struct renewer *r, long long period_ms, int (*renew)(void *arg), void *arg)
{
	r->period_ms = period_ms;
	r->renew = renew;
	r->arg = arg;
	r->stop = 0;
	if (pthread_create(&r->thread, NULL, renewer_main, r) == 0)
		r->running = 1;
}

void
renewer_stop(struct renewer *r)
{
	if (!r->running)
		return;
	pthread_mutex_lock(&r->mu);
	r->stop = 1;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->thread, NULL);
	r->running = 0;
	r->stop = 0;
}
