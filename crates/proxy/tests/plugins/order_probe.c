/* A test plugin for the coordination functions of ABI 1.2, built under several names
 * (-DPROBE_NAME="..."). Params:
 *   order=FIRST>THEN      READ_REQUEST_HDR: order_set for the transaction (every hook), and the
 *                         return code in `X-Order-Set: NAME=RC` on the client response
 *   ssn-order=FIRST>THEN  SSN_START: the same for the session
 *   priority-of=NAME:P    PLUGINS_LOADED: plugin_priority_of_set(NAME, P); the return code and
 *                         what plugin_priority_of_get then reads, in
 *                         `X-Priority-Of: NAME=RC,PRIORITY/CEILING` on every response
 * On every transaction SEND_RESPONSE_HDR appends `X-Order: NAME` to the client response (its
 * global callback registered without a priority: it follows the plugin's priority).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookyard.h"

#ifndef PROBE_NAME
#define PROBE_NAME "order"
#endif

HY_PLUGIN_DESCRIPTOR(PROBE_NAME, "1.0.0", 0);

static const hy_api *api;
static hy_cont *cont;
static char order_first[64], order_then[64], ssn_first[64], ssn_then[64];
static char of_name[64];
static int of_priority, of_wanted;
static char of_result[160];
static char order_result[96];

static void add(hy_txn *txn, const char *name, const char *value) {
    api->header_add(txn, HY_MSG_CLIENT_RESPONSE, name, strlen(name), value, strlen(value));
}

/* Splits `FIRST>THEN` into the two buffers; 0 when there is no `>`. */
static int split(const char *arg, char *first, char *then) {
    const char *gt = strchr(arg, '>');
    if (!gt || gt - arg >= 64 || strlen(gt + 1) >= 64) {
        return 0;
    }
    memcpy(first, arg, (size_t)(gt - arg));
    first[gt - arg] = 0;
    snprintf(then, 64, "%s", gt + 1);
    return 1;
}

static int32_t on_hook(hy_cont *c, hy_event event, void *edata) {
    (void)c;
    switch (event - HY_EVENT_HOOK_BASE) {
    case HY_HOOK_READ_REQUEST_HDR:
        if (order_first[0]) {
            hy_return rc = api->order_set(api->plugin, HY_HOOK_LEVEL_TXN, edata, HY_HOOK_ANY,
                                          order_first, strlen(order_first), order_then,
                                          strlen(order_then), 1);
            snprintf(order_result, sizeof order_result, "%s=%d", PROBE_NAME, rc);
        }
        break;
    case HY_HOOK_SSN_START:
        if (ssn_first[0]) {
            api->order_set(api->plugin, HY_HOOK_LEVEL_SESSION, edata, HY_HOOK_ANY, ssn_first,
                           strlen(ssn_first), ssn_then, strlen(ssn_then), 1);
        }
        return HY_HOOK_CONTINUE;
    case HY_HOOK_PLUGINS_LOADED:
        if (of_wanted) {
            hy_return rc = api->plugin_priority_of_set(api->plugin, of_name, strlen(of_name),
                                                       of_priority);
            int32_t priority = 0, ceiling = 0;
            api->plugin_priority_of_get(api->plugin, of_name, strlen(of_name), &priority,
                                        &ceiling);
            snprintf(of_result, sizeof of_result, "%s=%d,%d/%d", of_name, rc, priority, ceiling);
        }
        return HY_HOOK_CONTINUE;
    case HY_HOOK_SEND_RESPONSE_HDR:
        add(edata, "X-Order", PROBE_NAME);
        if (order_first[0]) {
            add(edata, "X-Order-Set", order_result);
        }
        if (of_wanted) {
            add(edata, "X-Priority-Of", of_result);
        }
        break;
    default:
        break;
    }
    return HY_HOOK_CONTINUE;
}

HY_EXPORT hy_return hy_plugin_init(const hy_api *host, int32_t argc, const char **argv,
                                   char *errbuf, int32_t errbuf_size) {
    api = host;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "order=", 6) == 0 && split(argv[i] + 6, order_first, order_then)) {
            continue;
        }
        if (strncmp(argv[i], "ssn-order=", 10) == 0 &&
            split(argv[i] + 10, ssn_first, ssn_then)) {
            continue;
        }
        const char *colon = strchr(argv[i], ':');
        if (strncmp(argv[i], "priority-of=", 12) == 0 && colon && colon - argv[i] - 12 < 64) {
            memcpy(of_name, argv[i] + 12, (size_t)(colon - argv[i] - 12));
            of_name[colon - argv[i] - 12] = 0;
            of_priority = atoi(colon + 1);
            of_wanted = 1;
            continue;
        }
        snprintf(errbuf, (size_t)errbuf_size, "unknown param %s", argv[i]);
        return HY_ERROR;
    }
    cont = api->cont_create(api->plugin, on_hook, NULL);
    if (!cont) {
        snprintf(errbuf, (size_t)errbuf_size, "cont_create failed");
        return HY_ERROR;
    }
    int hooks[] = {HY_HOOK_READ_REQUEST_HDR, HY_HOOK_SEND_RESPONSE_HDR, HY_HOOK_SSN_START,
                   HY_HOOK_PLUGINS_LOADED};
    for (size_t i = 0; i < sizeof hooks / sizeof hooks[0]; i++) {
        if (api->hook_add(HY_HOOK_LEVEL_GLOBAL, NULL, hooks[i], cont, HY_PRIORITY_DEFAULT, NULL) !=
            HY_SUCCESS) {
            snprintf(errbuf, (size_t)errbuf_size, "hook_add failed");
            return HY_ERROR;
        }
    }
    return HY_SUCCESS;
}

HY_EXPORT void hy_plugin_done(void) {
    api->cont_destroy(cont);
}
