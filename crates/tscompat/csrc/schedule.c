/*
 * Scheduled calls of continuations: TSContSchedule and its variants, TSActionCancel.
 *
 * Each scheduled call is a TSAction with a hookyard continuation of its own, so cancelling one
 * is destroying that continuation (which waits for a call running on another thread). An action
 * is on its continuation's list from scheduling until it has run (a one-shot one) or is
 * cancelled; whoever takes it off the list, under the continuations' lock, frees it.
 *
 * A call scheduled by a hook handler starts only after that handler has returned: the handler's
 * transaction is then the plugin's to use from the scheduled call, as in ATS, where the handler
 * and the call share the continuation's mutex.
 */
#define _XOPEN_SOURCE 700

#include <pthread.h>
#include <stdlib.h>

#include "internal.h"

/* How long a call whose continuation's mutex is held waits before it tries again (ATS retries
 * such events too). */
#define HY_TS_RETRY_MS 10

struct tsapi_action {
    struct tsapi_cont *target;
    hy_cont *cont;
    /* 0 for a one-shot call, else its period in ms. */
    uint64_t every;
    /* The one-shot delay, for deferred scheduling. */
    uint64_t delay;
    /* On the target's list (under the continuations' lock). */
    int linked;
    /* Cancelled while its call ran on this thread. */
    int cancelled;
    /* Not scheduled yet: waits in a hook call's deferred list. */
    int deferred;
    struct tsapi_action *prev, *next;
    /* The deferred list it is on. */
    struct tsapi_action *next_deferred;
};

/* The action whose call runs on this thread. */
static __thread struct tsapi_action *running;

static void link_action(struct tsapi_action *a) {
    struct tsapi_cont *c = a->target;
    a->prev = NULL;
    a->next = c->actions;
    if (c->actions) {
        c->actions->prev = a;
    }
    c->actions = a;
    a->linked = 1;
}

static void unlink_action(struct tsapi_action *a) {
    if (a->prev) {
        a->prev->next = a->next;
    } else {
        a->target->actions = a->next;
    }
    if (a->next) {
        a->next->prev = a->prev;
    }
    a->linked = 0;
}

/* Takes `a` off its list; 1 when this caller did (and so owns it now). *deferred tells whether
 * it still waits in a hook call's deferred list. */
static int take(struct tsapi_action *a, int *deferred) {
    pthread_mutex_lock(&hy_ts_conts_lock);
    int taken = a->linked;
    if (taken) {
        unlink_action(a);
        *deferred = a->deferred;
    }
    pthread_mutex_unlock(&hy_ts_conts_lock);
    return taken;
}

/* Ends an action this caller took off its list. */
static void finish(struct tsapi_action *a, int deferred) {
    if (deferred) {
        /* The hook call that deferred it finds it taken, and ends it. */
        return;
    }
    /* From the action's own call this takes effect when the call returns; elsewhere it waits
     * for a call running on another thread. */
    hy_ts_api->cont_destroy(a->cont);
    if (a == running) {
        /* Its call, on this thread, frees it once the handler returns. */
        a->cancelled = 1;
        return;
    }
    free(a);
}

static int32_t fire(hy_cont *cont, hy_event event, void *edata) {
    (void)edata;
    struct tsapi_action *a = hy_ts_api->cont_data_get(cont);
    struct tsapi_cont *c = a->target;
    TSMutex mutex = c->mutex;
    if (mutex && pthread_mutex_trylock(&mutex->lock) != 0) {
        hy_ts_api->cont_schedule(cont, HY_TS_RETRY_MS);
        return 0;
    }
    struct tsapi_action *outer = running;
    running = a;
    TSEvent ts_event = a->every ? TS_EVENT_TIMEOUT : (TSEvent)event;
    c->func((TSCont)c, ts_event, a);
    running = outer;
    if (mutex) {
        pthread_mutex_unlock(&mutex->lock);
    }
    if (a->cancelled) {
        free(a);
        return 0;
    }
    pthread_mutex_lock(&hy_ts_conts_lock);
    if (!a->linked) {
        /* Taken by a canceller on another thread, who waits for this call and frees it. */
        pthread_mutex_unlock(&hy_ts_conts_lock);
        return 0;
    }
    if (a->every) {
        hy_ts_api->cont_schedule(cont, a->every);
        pthread_mutex_unlock(&hy_ts_conts_lock);
        return 0;
    }
    unlink_action(a);
    pthread_mutex_unlock(&hy_ts_conts_lock);
    hy_ts_api->cont_destroy(cont);
    free(a);
    return 0;
}

static TSAction schedule(TSCont contp, TSHRTime delay, TSHRTime every) {
    const hy_api *api = hy_ts_api;
    if (!api || !contp || contp->transform || delay < 0 || every < 0) {
        TSError("TSContSchedule: no continuation, or a negative time");
        return NULL;
    }
    struct tsapi_action *a = _TSmalloc(sizeof *a, __FILE__);
    a->target = contp;
    a->every = (uint64_t)every;
    a->delay = (uint64_t)delay;
    a->cancelled = 0;
    a->deferred = 0;
    a->next_deferred = NULL;
    a->cont = api->cont_create(api->plugin, fire, a);
    if (!a->cont) {
        free(a);
        TSError("TSContSchedule: the proxy refused a continuation");
        return NULL;
    }
    pthread_mutex_lock(&hy_ts_conts_lock);
    link_action(a);
    if (hy_ts_in_hook()) {
        a->deferred = 1;
        hy_ts_defer_schedule(a);
    } else if (api->cont_schedule(a->cont, a->delay) != HY_SUCCESS) {
        unlink_action(a);
        pthread_mutex_unlock(&hy_ts_conts_lock);
        api->cont_destroy(a->cont);
        free(a);
        TSError("TSContSchedule: the proxy refused to schedule");
        return NULL;
    }
    pthread_mutex_unlock(&hy_ts_conts_lock);
    return a;
}

void hy_ts_action_push(struct tsapi_action **list, struct tsapi_action *action) {
    action->next_deferred = *list;
    *list = action;
}

void hy_ts_submit_deferred(struct tsapi_action *list) {
    while (list) {
        struct tsapi_action *a = list;
        list = a->next_deferred;
        pthread_mutex_lock(&hy_ts_conts_lock);
        a->deferred = 0;
        int ended = !a->linked;
        if (!ended && hy_ts_api->cont_schedule(a->cont, a->delay) != HY_SUCCESS) {
            unlink_action(a);
            ended = 1;
            TSError("TSContSchedule: the proxy refused to schedule");
        }
        pthread_mutex_unlock(&hy_ts_conts_lock);
        if (ended) {
            hy_ts_api->cont_destroy(a->cont);
            free(a);
        }
    }
}

TSAction TSContSchedule(TSCont contp, TSHRTime timeout) { return schedule(contp, timeout, 0); }

TSAction TSContScheduleOnPool(TSCont contp, TSHRTime timeout, TSThreadPool tp) {
    (void)tp;
    return schedule(contp, timeout, 0);
}

TSAction TSHttpSchedule(TSCont contp, TSHttpTxn txnp, TSHRTime timeout) {
    (void)txnp;
    return schedule(contp, timeout, 0);
}

TSAction TSContScheduleEvery(TSCont contp, TSHRTime every) {
    if (every <= 0) {
        TSError("TSContScheduleEvery: the period must be positive");
        return NULL;
    }
    return schedule(contp, every, every);
}

TSAction TSContScheduleEveryOnPool(TSCont contp, TSHRTime every, TSThreadPool tp) {
    (void)tp;
    return TSContScheduleEvery(contp, every);
}

void TSActionCancel(TSAction actionp) {
    int deferred = 0;
    if (actionp && take(actionp, &deferred)) {
        finish(actionp, deferred);
    }
}

void hy_ts_cancel_actions(struct tsapi_cont *c) {
    for (;;) {
        pthread_mutex_lock(&hy_ts_conts_lock);
        struct tsapi_action *a = c->actions;
        int deferred = 0;
        if (a) {
            deferred = a->deferred;
            unlink_action(a);
        }
        pthread_mutex_unlock(&hy_ts_conts_lock);
        if (!a) {
            return;
        }
        finish(a, deferred);
    }
}
