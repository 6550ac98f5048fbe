/* Request slots and the bounded queue of requests waiting for one. */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "internal.h"
#include "server/server_internal.h"

/* A request waiting for a slot; lives on the waiting thread's stack. */
struct maas_srv_waiter {
    maas_srv_waiter *next;
};

maas_status maas_srv_pool_init(maas_srv_pool *p, int n_slots, int max_queue)
{
    *p = (maas_srv_pool){.n_slots = n_slots, .max_queue = max_queue};
    p->busy = calloc((size_t)n_slots, sizeof *p->busy);
    if (!p->busy)
        return maas_fail(MAAS_ERR_OUT_OF_MEMORY, "cannot allocate %d request slots", n_slots);

    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&p->changed, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&p->mutex, NULL);
    return MAAS_OK;
}

void maas_srv_pool_destroy(maas_srv_pool *p)
{
    if (!p->busy)
        return;
    pthread_cond_destroy(&p->changed);
    pthread_mutex_destroy(&p->mutex);
    free(p->busy);
    p->busy = NULL;
}

/* Returns the index of a free slot, or -1.  Caller holds the mutex. */
static int find_free(const maas_srv_pool *p)
{
    for (int i = 0; i < p->n_slots; i++)
        if (!p->busy[i])
            return i;
    return -1;
}

static void unlink_waiter(maas_srv_pool *p, maas_srv_waiter *w)
{
    maas_srv_waiter **link = &p->head;
    maas_srv_waiter *prev = NULL;
    while (*link && *link != w) {
        prev = *link;
        link = &(*link)->next;
    }
    MAAS_ASSERT(*link == w);
    *link = w->next;
    if (p->tail == w)
        p->tail = prev;
    p->n_waiting--;
}

int maas_srv_pool_acquire(maas_srv_pool *p, bool (*give_up)(void *), void *arg)
{
    pthread_mutex_lock(&p->mutex);

    /* Fast path: closed, a free slot and an empty queue, or a full queue.
     * The slot stays -1 when the request has to wait. */
    int slot = -1;
    if (p->closed)
        slot = MAAS_SRV_POOL_CLOSED;
    else if (!p->head && (slot = find_free(p)) >= 0) {
        p->busy[slot] = true;
        p->n_busy++;
    } else if (p->n_waiting >= p->max_queue)
        slot = MAAS_SRV_POOL_FULL;
    if (slot != -1) {
        pthread_mutex_unlock(&p->mutex);
        return slot;
    }

    /* Wait at the tail of the queue until first in line with a free slot. */
    maas_srv_waiter self = {0};
    if (p->tail)
        p->tail->next = &self;
    else
        p->head = &self;
    p->tail = &self;
    p->n_waiting++;

    for (;;) {
        if (p->closed) {
            slot = MAAS_SRV_POOL_CLOSED;
            break;
        }
        if (p->head == &self && (slot = find_free(p)) >= 0) {
            p->busy[slot] = true;
            p->n_busy++;
            break;
        }
        if (give_up && give_up(arg)) {
            slot = MAAS_SRV_POOL_GAVE_UP;
            break;
        }
        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_nsec += 50 * 1000 * 1000;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
        int rc = pthread_cond_timedwait(&p->changed, &p->mutex, &deadline);
        MAAS_ASSERT(rc == 0 || rc == ETIMEDOUT);
    }

    /* Leaving the queue may make the next waiter first in line. */
    unlink_waiter(p, &self);
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->mutex);
    return slot;
}

void maas_srv_pool_release(maas_srv_pool *p, int slot)
{
    pthread_mutex_lock(&p->mutex);
    MAAS_ASSERT(slot >= 0 && slot < p->n_slots && p->busy[slot]);
    p->busy[slot] = false;
    p->n_busy--;
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->mutex);
}

void maas_srv_pool_close(maas_srv_pool *p)
{
    pthread_mutex_lock(&p->mutex);
    p->closed = true;
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->mutex);
}

void maas_srv_pool_counts(maas_srv_pool *p, int *busy, int *waiting)
{
    pthread_mutex_lock(&p->mutex);
    *busy = p->n_busy;
    *waiting = p->n_waiting;
    pthread_mutex_unlock(&p->mutex);
}
