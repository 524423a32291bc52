/*
 * late_reader: a global test plugin that reads the client request's fields only after the
 * origin answered. At SEND_RESPONSE_HDR it writes them all, in the order header_field_get
 * gives, into the client response's `X-Client-Fields` as `name=value;` pairs. It registers no
 * other hook: the request may go to its origin with its fields as received.
 */
#include <stdio.h>
#include <string.h>

#include "hookyard.h"

HY_PLUGIN_DESCRIPTOR("late_reader", "1.0.0", 0);

static const hy_api *api;
static hy_cont *cont;

static int32_t on_event(hy_cont *c, hy_event event, void *edata) {
    (void)c;
    hy_txn *txn = edata;
    if (event != HY_EVENT_HOOK(HY_HOOK_SEND_RESPONSE_HDR)) return HY_HOOK_CONTINUE;
    char all[2048];
    size_t len = 0;
    hy_str name, value;
    for (size_t i = 0; api->header_field_get(txn, HY_MSG_CLIENT_REQUEST, i, &name, &value) ==
                       HY_SUCCESS;
         i++) {
        int n = snprintf(all + len, sizeof all - len, "%.*s=%.*s;", (int)name.len, name.ptr,
                         (int)value.len, value.ptr);
        if (n < 0 || (size_t)n >= sizeof all - len) return HY_HOOK_ERROR;
        len += (size_t)n;
    }
    if (api->header_set(txn, HY_MSG_CLIENT_RESPONSE, "X-Client-Fields", 15, all, len) !=
        HY_SUCCESS) {
        return HY_HOOK_ERROR;
    }
    return HY_HOOK_CONTINUE;
}

HY_EXPORT hy_return hy_plugin_init(const hy_api *host, int32_t argc, const char **argv,
                                   char *errbuf, int32_t errbuf_size) {
    (void)argc, (void)argv;
    if (host->version >> 16 != HY_ABI_MAJOR || host->size < sizeof(hy_api)) {
        snprintf(errbuf, (size_t)errbuf_size, "unsupported host table");
        return HY_ERROR;
    }
    api = host;
    cont = api->cont_create(api->plugin, on_event, NULL);
    if (!cont || api->hook_add(HY_HOOK_LEVEL_GLOBAL, NULL, HY_HOOK_SEND_RESPONSE_HDR, cont,
                               HY_PRIORITY_DEFAULT, NULL) != HY_SUCCESS) {
        snprintf(errbuf, (size_t)errbuf_size, "hook_add failed");
        return HY_ERROR;
    }
    return HY_SUCCESS;
}

HY_EXPORT void hy_plugin_done(void) {
    if (cont) api->cont_destroy(cont);
    cont = NULL;
    api = NULL;
}
