/*
 * The core of the ATS compatibility layer: the plugin's hookyard descriptor, memory, logging,
 * continuations, hooks and reenabling, over the hookyard function table.
 */
/* pthread_mutexattr_settype and strncasecmp are POSIX (XSI). */
#define _XOPEN_SOURCE 700

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#ifndef HY_TS_PLUGIN_NAME
#error "HY_TS_PLUGIN_NAME must be defined (cargo xtask ts-plugin does)"
#endif
#ifndef HY_TS_PLUGIN_VERSION
#define HY_TS_PLUGIN_VERSION "1.0.0"
#endif

HY_PLUGIN_DESCRIPTOR(HY_TS_PLUGIN_NAME, HY_TS_PLUGIN_VERSION, 0);

const hy_api *hy_ts_api;

/* -- Memory ---------------------------------------------------------------------------------- */

/* Like ATS, allocation failure ends the process: callers never check for NULL. */
void *_TSmalloc(size_t size, const char *path) {
    (void)path;
    void *p = malloc(size ? size : 1);
    if (!p) {
        abort();
    }
    return p;
}

char *_TSstrdup(const char *str, int64_t length, const char *path) {
    if (!str) {
        return NULL;
    }
    size_t len = length < 0 ? strlen(str) : (size_t)length;
    char *copy = _TSmalloc(len + 1, path);
    memcpy(copy, str, len);
    copy[len] = '\0';
    return copy;
}

void _TSfree(void *ptr) { free(ptr); }

/* -- Logging ----------------------------------------------------------------------------------- */

void hy_ts_logv(hy_log_level level, const char *prefix, const char *fmt, va_list args) {
    const hy_api *api = hy_ts_api;
    if (!api || !api->log_enabled(api->plugin, level)) {
        return;
    }
    char small[1024];
    size_t plen = strlen(prefix);
    if (plen >= sizeof small / 2) {
        plen = sizeof small / 2;
    }
    memcpy(small, prefix, plen);
    va_list copy;
    va_copy(copy, args);
    int n = vsnprintf(small + plen, sizeof small - plen, fmt, copy);
    va_end(copy);
    if (n < 0) {
        return;
    }
    if ((size_t)n < sizeof small - plen) {
        api->log(api->plugin, level, small, plen + (size_t)n);
        return;
    }
    char *big = malloc(plen + (size_t)n + 1);
    if (!big) {
        api->log(api->plugin, level, small, sizeof small - 1);
        return;
    }
    memcpy(big, prefix, plen);
    vsnprintf(big + plen, (size_t)n + 1, fmt, args);
    api->log(api->plugin, level, big, plen + (size_t)n);
    free(big);
}

#define HY_TS_LOG_FN(fn, level)                                                                   \
    void fn(const char *fmt, ...) {                                                               \
        va_list args;                                                                             \
        va_start(args, fmt);                                                                      \
        hy_ts_logv(level, "", fmt, args);                                                         \
        va_end(args);                                                                             \
    }
HY_TS_LOG_FN(TSStatus, HY_LOG_INFO)
HY_TS_LOG_FN(TSNote, HY_LOG_INFO)
HY_TS_LOG_FN(TSWarning, HY_LOG_WARN)
HY_TS_LOG_FN(TSError, HY_LOG_ERROR)

/* Debug tags are not filtered one by one: every tag is on when the plugin's debug level is. */
int TSIsDebugTagSet(const char *t) {
    (void)t;
    const hy_api *api = hy_ts_api;
    return api && api->log_enabled(api->plugin, HY_LOG_DEBUG);
}

void TSDebug(const char *tag, const char *format_str, ...) {
    char prefix[128];
    snprintf(prefix, sizeof prefix, "[%s] ", tag ? tag : "");
    va_list args;
    va_start(args, format_str);
    hy_ts_logv(HY_LOG_DEBUG, prefix, format_str, args);
    va_end(args);
}

TSReturnCode TSPluginRegister(const TSPluginRegistrationInfo *plugin_info) {
    /* The plugin's identity is its descriptor's, fixed at build time; ATS likewise only
     * records what it is told. */
    return plugin_info && plugin_info->plugin_name ? TS_SUCCESS : TS_ERROR;
}

/* -- Continuations ----------------------------------------------------------------------------- */

/* Mutexes from TSMutexCreate are never freed (ATS counts references; plugins do not release the
 * mutexes they create). */

pthread_mutex_t hy_ts_conts_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tsapi_cont *conts;

TSMutex TSMutexCreate(void) {
    TSMutex m = _TSmalloc(sizeof *m, __FILE__);
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&m->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    return m;
}

/* The hook callback running on this thread, so that a TSHttpTxnReenable inside it becomes the
 * callback's answer: hookyard's resume is for other threads only. */
struct hook_call {
    /* The hy_txn *, or the hy_ssn * of a session hook. */
    void *object;
    int session;
    int reenabled;
    hy_hook_result result;
    /* Calls the handler scheduled: they start once it has returned. */
    struct tsapi_action *deferred;
};
static __thread struct hook_call *current_call;

/* A lifecycle event, as ATS numbers it and with ATS's edata. */
static int32_t lifecycle(struct tsapi_cont *c, hy_event event, void *edata) {
    /* The handler may destroy its continuation: nothing of `c` is read after it. */
    TSMutex mutex = c->mutex;
    if (mutex) {
        pthread_mutex_lock(&mutex->lock);
    }
    if (event == HY_EVENT_HOOK(HY_HOOK_LIFECYCLE_MSG)) {
        const hy_lifecycle_msg *msg = edata;
        char *tag = _TSstrdup(msg->tag.ptr, (int64_t)msg->tag.len, __FILE__);
        TSPluginMsg ts_msg = {tag, msg->data, msg->data_len};
        c->func((TSCont)c, TS_EVENT_LIFECYCLE_MSG, &ts_msg);
        free(tag);
    } else {
        c->func((TSCont)c, TS_EVENT_LIFECYCLE_SHUTDOWN, NULL);
    }
    if (mutex) {
        pthread_mutex_unlock(&mutex->lock);
    }
    return HY_HOOK_CONTINUE;
}

int hy_ts_in_hook(void) { return current_call != NULL; }

void hy_ts_defer_schedule(struct tsapi_action *action) {
    hy_ts_action_push(&current_call->deferred, action);
}

int hy_ts_call(struct tsapi_cont *c, TSEvent event, void *edata) {
    /* The handler may destroy its continuation: nothing of `c` is read after it. */
    TSEventFunc func = c->func;
    TSMutex mutex = c->mutex;
    if (mutex) {
        pthread_mutex_lock(&mutex->lock);
    }
    int answer = func((TSCont)c, event, edata);
    if (mutex) {
        pthread_mutex_unlock(&mutex->lock);
    }
    return answer;
}

int TSContCall(TSCont contp, TSEvent event, void *edata) {
    if (!contp) {
        return 0;
    }
    if (contp->transform) {
        return hy_ts_transform_call(contp, event, edata);
    }
    return hy_ts_call(contp, event, edata);
}

TSMutex TSContMutexGet(TSCont contp) { return contp ? contp->mutex : NULL; }

static int32_t trampoline(hy_cont *cont, hy_event event, void *edata) {
    struct tsapi_cont *c = hy_ts_api->cont_data_get(cont);
    if (c->transform) {
        return hy_ts_transform_event(c, event, edata);
    }
    if (event == HY_EVENT_HOOK(HY_HOOK_LIFECYCLE_MSG) || event == HY_EVENT_HOOK(HY_HOOK_SHUTDOWN)) {
        return lifecycle(c, event, edata);
    }
    int is_hook = event >= HY_EVENT_HOOK_BASE && event < HY_EVENT_HOOK(HY_HOOK_PLUGINS_LOADED);
    hy_hook_id hook = event - HY_EVENT_HOOK_BASE;
    int is_ssn_hook = hook == HY_HOOK_SSN_START || hook == HY_HOOK_SSN_CLOSE;
    struct hook_call call = {edata, is_ssn_hook, 0, HY_HOOK_CONTINUE, NULL};
    struct hook_call *outer = current_call;
    current_call = is_hook ? &call : NULL;
    hy_ts_call(c, (TSEvent)event, edata);
    current_call = outer;
    hy_ts_submit_deferred(call.deferred);
    if (is_hook) {
        return call.reenabled ? call.result : HY_HOOK_PENDING;
    }
    return 0;
}

TSCont TSContCreate(TSEventFunc funcp, TSMutex mutexp) {
    const hy_api *api = hy_ts_api;
    if (!api || !funcp) {
        return NULL;
    }
    struct tsapi_cont *c = _TSmalloc(sizeof *c, __FILE__);
    c->func = funcp;
    c->data = NULL;
    c->mutex = mutexp;
    c->transform = NULL;
    c->actions = NULL;
    c->cont = api->cont_create(api->plugin, trampoline, c);
    if (!c->cont) {
        free(c);
        return NULL;
    }
    pthread_mutex_lock(&hy_ts_conts_lock);
    c->prev = NULL;
    c->next = conts;
    if (conts) {
        conts->prev = c;
    }
    conts = c;
    pthread_mutex_unlock(&hy_ts_conts_lock);
    return c;
}

static void unlink_cont(struct tsapi_cont *c) {
    if (c->prev) {
        c->prev->next = c->next;
    } else {
        conts = c->next;
    }
    if (c->next) {
        c->next->prev = c->prev;
    }
}

void TSContDestroy(TSCont contp) {
    if (!contp) {
        return;
    }
    hy_ts_cancel_actions(contp);
    pthread_mutex_lock(&hy_ts_conts_lock);
    unlink_cont(contp);
    pthread_mutex_unlock(&hy_ts_conts_lock);
    /* Waits for a handler running on another thread; from the continuation's own handler it
     * takes effect when the handler returns, which reads nothing of `contp` afterwards. */
    hy_ts_api->cont_destroy(contp->cont);
    if (contp->transform && !hy_ts_transform_free(contp)) {
        /* Its handler runs now on this thread: the transform frees it once that returns. */
        return;
    }
    free(contp);
}

void hy_ts_destroy_all_conts(void) {
    for (;;) {
        pthread_mutex_lock(&hy_ts_conts_lock);
        struct tsapi_cont *c = conts;
        pthread_mutex_unlock(&hy_ts_conts_lock);
        if (!c) {
            return;
        }
        TSContDestroy(c);
    }
}

void TSContDataSet(TSCont contp, void *data) {
    if (contp) {
        contp->data = data;
    }
}

void *TSContDataGet(TSCont contp) { return contp ? contp->data : NULL; }

/* -- Hooks ----------------------------------------------------------------------------------- */

static void hook_add(hy_hook_level level, void *object, TSHttpHookID id, TSCont contp) {
    const hy_api *api = hy_ts_api;
    if (!api || !contp) {
        TSError("TSHttpHookAdd: no continuation");
        return;
    }
    if (api->hook_add(level, object, (hy_hook_id)id, contp->cont, HY_PRIORITY_DEFAULT, NULL) !=
        HY_SUCCESS) {
        TSError("hook %d: registration refused", (int)id);
    }
}

void TSHttpHookAdd(TSHttpHookID id, TSCont contp) { hook_add(HY_HOOK_LEVEL_GLOBAL, NULL, id, contp); }

void TSHttpTxnHookAdd(TSHttpTxn txnp, TSHttpHookID id, TSCont contp) {
    if (id == TS_HTTP_REQUEST_TRANSFORM_HOOK || id == TS_HTTP_RESPONSE_TRANSFORM_HOOK) {
        hy_ts_transform_hook((hy_txn *)txnp, id, contp);
        return;
    }
    hook_add(HY_HOOK_LEVEL_TXN, txnp, id, contp);
}

void TSLifecycleHookAdd(TSLifecycleHookID id, TSCont contp) {
    hy_hook_id hook;
    switch (id) {
    case TS_LIFECYCLE_MSG_HOOK:
        hook = HY_HOOK_LIFECYCLE_MSG;
        break;
    case TS_LIFECYCLE_SHUTDOWN_HOOK:
        hook = HY_HOOK_SHUTDOWN;
        break;
    default:
        TSError("TSLifecycleHookAdd: hook %d is not in the subset", (int)id);
        return;
    }
    hook_add(HY_HOOK_LEVEL_GLOBAL, NULL, (TSHttpHookID)hook, contp);
}

void TSHttpSsnHookAdd(TSHttpSsn ssnp, TSHttpHookID id, TSCont contp) {
    hook_add(HY_HOOK_LEVEL_SESSION, ssnp, id, contp);
}

/* Records a reenable of the hook running on this thread for `object`; 0 when there is none. */
static int answer_current(void *object, int session, TSEvent event) {
    struct hook_call *call = current_call;
    if (!call || call->object != object || call->session != session || call->reenabled) {
        return 0;
    }
    call->reenabled = 1;
    call->result = event == TS_EVENT_HTTP_ERROR ? HY_HOOK_ERROR : HY_HOOK_CONTINUE;
    return 1;
}

void TSHttpSsnReenable(TSHttpSsn ssnp, TSEvent event) {
    if (answer_current(ssnp, 1, event)) {
        return;
    }
    hy_hook_result result = event == TS_EVENT_HTTP_ERROR ? HY_HOOK_ERROR : HY_HOOK_CONTINUE;
    if (hy_ts_api->ssn_resume((hy_ssn *)ssnp, result) != HY_SUCCESS) {
        TSError("TSHttpSsnReenable: the session is not waiting on this plugin");
    }
}

void TSHttpTxnReenable(TSHttpTxn txnp, TSEvent event) {
    if (answer_current(txnp, 0, event)) {
        return;
    }
    hy_hook_result result = event == TS_EVENT_HTTP_ERROR ? HY_HOOK_ERROR : HY_HOOK_CONTINUE;
    if (hy_ts_api->txn_resume((hy_txn *)txnp, result) != HY_SUCCESS) {
        TSError("TSHttpTxnReenable: the transaction is not waiting on this plugin");
    }
}
