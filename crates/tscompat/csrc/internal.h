/*
 * What the compatibility layer's C files share. Not installed: plugins see include/ts only.
 */
#ifndef HOOKYARD_TS_INTERNAL_H
#define HOOKYARD_TS_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>

#include "hookyard.h"
#include "ts/remap.h"
#include "ts/ts.h"

/* The host's table, kept by the first init entry point (remap or global). */
extern const hy_api *hy_ts_api;

/* Called by the done entry points: destroys every continuation the plugin left alive, since a
 * live continuation keeps the plugin loaded and ATS plugins never destroy their global ones. */
void hy_ts_destroy_all_conts(void);

/* Logs a formatted message at `level`. */
void hy_ts_logv(hy_log_level level, const char *prefix, const char *fmt, va_list args);

/* An ATS mutex: held around every call of a continuation created with it. Recursive, since ATS
 * lets a handler take its own continuation's lock again. */
struct tsapi_mutex {
    pthread_mutex_t lock;
};

struct ts_transform;
struct tsapi_action;

/* A continuation: a plain one (TSContCreate) or a transform vconnection (TSTransformCreate). */
struct tsapi_cont {
    TSEventFunc func;
    void *data;
    TSMutex mutex;
    hy_cont *cont;
    /* Set for a transform vconnection (and its output vconnection and input side). */
    struct ts_transform *transform;
    /* Its scheduled calls (schedule.c), under the continuations' lock. */
    struct tsapi_action *actions;
    struct tsapi_cont *prev, *next;
};

/* Guards the continuation list and every continuation's list of scheduled calls. */
extern pthread_mutex_t hy_ts_conts_lock;

/* Calls a continuation's handler with its mutex held; what the handler answered. */
int hy_ts_call(struct tsapi_cont *c, TSEvent event, void *edata);

/* Scheduling (schedule.c). Cancels and frees every scheduled call of `c`; called by
 * TSContDestroy before the continuation goes. */
void hy_ts_cancel_actions(struct tsapi_cont *c);
/* Whether this thread runs a hook handler now: calls scheduled meanwhile wait for it to return. */
int hy_ts_in_hook(void);
/* Defers `action`'s scheduling (delay in ms) until the running hook handler returns. */
void hy_ts_defer_schedule(struct tsapi_action *action);
/* Adds `action` to a list of deferred calls. */
void hy_ts_action_push(struct tsapi_action **list, struct tsapi_action *action);
/* Schedules what the hook handler that just returned deferred. */
void hy_ts_submit_deferred(struct tsapi_action *list);

/* Transforms (transform.c). Handles a transform vconnection's hookyard event. */
int32_t hy_ts_transform_event(struct tsapi_cont *c, hy_event event, void *edata);
/* Registers a transform vconnection on a transform hook of `txn`. */
TSReturnCode hy_ts_transform_hook(hy_txn *txn, TSHttpHookID id, struct tsapi_cont *c);
/* TSContCall on a transform vconnection or one of its sides. */
int hy_ts_transform_call(struct tsapi_cont *c, TSEvent event, void *edata);
/* Frees a transform's state; 0 when its handler runs now on this thread (it is freed after). */
int hy_ts_transform_free(struct tsapi_cont *c);

/* The buffer a reader reads. */
TSIOBuffer hy_ts_reader_buffer(TSIOBufferReader readerp);

/* Header locations: small integers that cannot be heap addresses; a field location is a
 * pointer to a struct ts_field. The TSMBuffer is the transaction itself. */
#define HY_TS_HDR_LOC_BASE 0x10u
#define HY_TS_HDR_LOC(msg) ((TSMLoc)(uintptr_t)(HY_TS_HDR_LOC_BASE + (unsigned)(msg)))
/* URL locations, likewise: one per hy_url. */
#define HY_TS_URL_LOC_BASE 0x20u
#define HY_TS_URL_LOC(url) ((TSMLoc)(uintptr_t)(HY_TS_URL_LOC_BASE + (unsigned)(url)))

#endif /* HOOKYARD_TS_INTERNAL_H */
