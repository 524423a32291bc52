/*
 * hook_probe: a global test plugin for the proxy's hook dispatch. Built once per name with
 * -DPROBE_NAME='"alpha"' (its descriptor name, so priorities can tell builds apart).
 *
 * params (after argv[0], the path):
 *   pending        READ_REQUEST_HDR answers PENDING; a thread resumes the transaction 20 ms later
 *   fail           READ_REQUEST_HDR answers ERROR
 *   deny           READ_REQUEST_HDR sets a direct 403 response (with an X-Denied-By header)
 *   status=N       READ_REQUEST_HDR asks for a direct response N (adding `X-Direct-Refused: N`
 *                  to the client request if refused), SEND_RESPONSE_HDR sets the client
 *                  response's status to N (adding `X-Status-Set: ok` or `refused`)
 *   disable=NAME   READ_REQUEST_HDR switches plugin NAME off for the transaction
 *   lower=N        init lowers the plugin's own priority to N
 *   shutdown=PATH  the SHUTDOWN lifecycle hook writes "shutdown" to PATH
 *
 * What it does on every transaction it runs for:
 *   READ_REQUEST_HDR   appends `X-Probe: NAME` to the client request (the origin echoes it)
 *                      and registers a transaction-level SEND_RESPONSE_HDR callback
 *   SEND_RESPONSE_HDR  appends `X-Probe-Order: NAME` (global callback) and
 *                      `X-Probe-Txn: NAME` (transaction callback) to the client response, and
 *                      `X-Probe-Closed: N` (TXN_CLOSE calls seen so far) and
 *                      `X-Probe-Scheduled: N` (scheduled events run so far),
 *                      `X-Probe-Sessions: STARTS/CLOSES` (SSN_START and SSN_CLOSE seen) and
 *                      `X-Probe-Loaded: N` (PLUGINS_LOADED seen)
 *   TXN_CLOSE, SSN_START, SSN_CLOSE, PLUGINS_LOADED   count
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hookyard.h"

#ifndef PROBE_NAME
#define PROBE_NAME "probe"
#endif

HY_PLUGIN_DESCRIPTOR(PROBE_NAME, "1.0.0", 0);

static const hy_api *api;
static hy_cont *global_cont;
static hy_cont *txn_cont;
static hy_cont *tick_cont;
static int pending, fail, deny, status;
static char disable[64];
static char shutdown_path[512];
static atomic_int closed, scheduled, ssn_starts, ssn_closes, loaded;

static void add(hy_txn *txn, hy_msg msg, const char *name, const char *value) {
    api->header_add(txn, msg, name, strlen(name), value, strlen(value));
}

static void *resume_later(void *txn) {
    struct timespec pause = {0, 20 * 1000 * 1000};
    nanosleep(&pause, NULL);
    add((hy_txn *)txn, HY_MSG_CLIENT_REQUEST, "X-Probe-Resumed", PROBE_NAME);
    api->txn_resume((hy_txn *)txn, HY_HOOK_CONTINUE);
    return NULL;
}

static int32_t on_global(hy_cont *cont, hy_event event, void *edata) {
    (void)cont;
    hy_txn *txn = edata;
    char number[32];
    switch (event - HY_EVENT_HOOK_BASE) {
    case HY_HOOK_READ_REQUEST_HDR:
        add(txn, HY_MSG_CLIENT_REQUEST, "X-Probe", PROBE_NAME);
        api->hook_add(HY_HOOK_LEVEL_TXN, txn, HY_HOOK_SEND_RESPONSE_HDR, txn_cont,
                      HY_PRIORITY_DEFAULT, NULL);
        if (disable[0]) {
            api->plugin_enable_set(api->plugin, HY_HOOK_LEVEL_TXN, txn, disable, strlen(disable),
                                   0);
        }
        if (fail) {
            return HY_HOOK_ERROR;
        }
        if (status && api->direct_response(txn, status, "direct\n", 7) != HY_SUCCESS) {
            snprintf(number, sizeof number, "%d", status);
            add(txn, HY_MSG_CLIENT_REQUEST, "X-Direct-Refused", number);
        }
        if (deny) {
            api->direct_response(txn, 403, "denied\n", 7);
            add(txn, HY_MSG_CLIENT_RESPONSE, "X-Denied-By", PROBE_NAME);
            return HY_HOOK_CONTINUE;
        }
        if (pending) {
            pthread_t thread;
            if (pthread_create(&thread, NULL, resume_later, txn) != 0) {
                return HY_HOOK_ERROR;
            }
            pthread_detach(thread);
            return HY_HOOK_PENDING;
        }
        return HY_HOOK_CONTINUE;
    case HY_HOOK_SEND_RESPONSE_HDR:
        if (status) {
            int32_t set = api->status_set(txn, HY_MSG_CLIENT_RESPONSE, status);
            add(txn, HY_MSG_CLIENT_RESPONSE, "X-Status-Set", set == HY_SUCCESS ? "ok" : "refused");
        }
        add(txn, HY_MSG_CLIENT_RESPONSE, "X-Probe-Order", PROBE_NAME);
        snprintf(number, sizeof number, "%d", atomic_load(&closed));
        add(txn, HY_MSG_CLIENT_RESPONSE, "X-Probe-Closed", number);
        snprintf(number, sizeof number, "%d", atomic_load(&scheduled));
        add(txn, HY_MSG_CLIENT_RESPONSE, "X-Probe-Scheduled", number);
        snprintf(number, sizeof number, "%d/%d", atomic_load(&ssn_starts),
                 atomic_load(&ssn_closes));
        add(txn, HY_MSG_CLIENT_RESPONSE, "X-Probe-Sessions", number);
        snprintf(number, sizeof number, "%d", atomic_load(&loaded));
        add(txn, HY_MSG_CLIENT_RESPONSE, "X-Probe-Loaded", number);
        return HY_HOOK_CONTINUE;
    case HY_HOOK_TXN_CLOSE:
        atomic_fetch_add(&closed, 1);
        return HY_HOOK_CONTINUE;
    case HY_HOOK_SSN_START:
        atomic_fetch_add(&ssn_starts, 1);
        return HY_HOOK_CONTINUE;
    case HY_HOOK_SSN_CLOSE:
        atomic_fetch_add(&ssn_closes, 1);
        return HY_HOOK_CONTINUE;
    case HY_HOOK_PLUGINS_LOADED:
        atomic_fetch_add(&loaded, 1);
        return HY_HOOK_CONTINUE;
    case HY_HOOK_SHUTDOWN:
        if (shutdown_path[0]) {
            FILE *out = fopen(shutdown_path, "w");
            if (out) {
                fputs("shutdown", out);
                fclose(out);
            }
        }
        return HY_HOOK_CONTINUE;
    default:
        return HY_HOOK_CONTINUE;
    }
}

static int32_t on_txn(hy_cont *cont, hy_event event, void *edata) {
    (void)cont;
    if (event == HY_EVENT_HOOK(HY_HOOK_SEND_RESPONSE_HDR)) {
        add(edata, HY_MSG_CLIENT_RESPONSE, "X-Probe-Txn", PROBE_NAME);
    }
    return HY_HOOK_CONTINUE;
}

static int32_t on_tick(hy_cont *cont, hy_event event, void *edata) {
    (void)cont;
    (void)edata;
    if (event == HY_EVENT_IMMEDIATE || event == HY_EVENT_TIMEOUT) {
        atomic_fetch_add(&scheduled, 1);
    }
    return 0;
}

HY_EXPORT hy_return hy_plugin_init(const hy_api *host, int32_t argc, const char **argv,
                                   char *errbuf, int32_t errbuf_size) {
    api = host;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "pending") == 0) {
            pending = 1;
        } else if (strcmp(argv[i], "fail") == 0) {
            fail = 1;
        } else if (strcmp(argv[i], "deny") == 0) {
            deny = 1;
        } else if (strncmp(argv[i], "status=", 7) == 0) {
            status = atoi(argv[i] + 7);
        } else if (strncmp(argv[i], "disable=", 8) == 0) {
            snprintf(disable, sizeof disable, "%s", argv[i] + 8);
        } else if (strncmp(argv[i], "lower=", 6) == 0) {
            if (api->plugin_priority_set(api->plugin, atoi(argv[i] + 6)) != HY_SUCCESS) {
                snprintf(errbuf, (size_t)errbuf_size, "cannot set priority %s", argv[i] + 6);
                return HY_ERROR;
            }
        } else if (strncmp(argv[i], "shutdown=", 9) == 0) {
            snprintf(shutdown_path, sizeof shutdown_path, "%s", argv[i] + 9);
        } else if (strcmp(argv[i], "init-fails") == 0) {
            snprintf(errbuf, (size_t)errbuf_size, "init refused on purpose");
            return HY_ERROR;
        } else {
            snprintf(errbuf, (size_t)errbuf_size, "unknown param %s", argv[i]);
            return HY_ERROR;
        }
    }
    global_cont = api->cont_create(api->plugin, on_global, NULL);
    txn_cont = api->cont_create(api->plugin, on_txn, NULL);
    tick_cont = api->cont_create(api->plugin, on_tick, NULL);
    if (!global_cont || !txn_cont || !tick_cont) {
        snprintf(errbuf, (size_t)errbuf_size, "cont_create failed");
        return HY_ERROR;
    }
    int hooks[] = {HY_HOOK_READ_REQUEST_HDR, HY_HOOK_SEND_RESPONSE_HDR, HY_HOOK_TXN_CLOSE,
                   HY_HOOK_SSN_START,        HY_HOOK_SSN_CLOSE,         HY_HOOK_PLUGINS_LOADED,
                   HY_HOOK_SHUTDOWN};
    for (size_t i = 0; i < sizeof hooks / sizeof hooks[0]; i++) {
        if (api->hook_add(HY_HOOK_LEVEL_GLOBAL, NULL, hooks[i], global_cont, HY_PRIORITY_DEFAULT,
                          NULL) != HY_SUCCESS) {
            snprintf(errbuf, (size_t)errbuf_size, "hook_add failed");
            return HY_ERROR;
        }
    }
    api->cont_schedule(tick_cont, 0);
    return HY_SUCCESS;
}

HY_EXPORT void hy_plugin_done(void) {
    api->cont_destroy(global_cont);
    api->cont_destroy(txn_cont);
    api->cont_destroy(tick_cont);
}
