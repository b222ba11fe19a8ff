/*
 * renew: the renewal thread of a held lease (the etcd leader lease, the
 * r2:// state lock), for the state backends and nobody else. Every
 * period_ms it calls renew(arg) until renewer_stop(), or until renew()
 * gives up (returns nonzero, having logged and marked the loss itself).
 */
#ifndef CFS_STATE_RENEW_H
#define CFS_STATE_RENEW_H

#include <pthread.h>

struct renewer {
	pthread_mutex_t mu;      /* guards stop, and what renew() shares under it */
	pthread_cond_t cv;       /* signalled by renewer_stop() */
	pthread_t thread;
	int running, stop;
	long long period_ms;
	int (*renew)(void *arg); /* runs without mu held; nonzero: give up */
	void *arg;
};

void renewer_init(struct renewer *r);
void renewer_destroy(struct renewer *r);
/* Starts the thread; when it cannot be created there are no renewals (the
 * lease then runs out, which its holder notices as a lost lease). */
void renewer_start(struct renewer *r, long long period_ms, int (*renew)(void *arg), void *arg);
/* Wakes the thread, waits for it to end, and makes r startable again. */
void renewer_stop(struct renewer *r);
/* The wall clock in milliseconds (CLOCK_REALTIME, the condition's clock). */
long long renewer_now_ms(void);

#endif
