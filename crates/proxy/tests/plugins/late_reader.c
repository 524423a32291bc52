/*
 * late_reader: a global test plugin that reads a request's fields late. At SEND_RESPONSE_HDR it
 * writes the client request's fields, in the order header_field_get gives, into the client
 * response's `X-Client-Fields` as `name=value;` pairs. With the parameter `origin` it also reads
 * the origin request's fields at SEND_REQUEST_HDR, and writes them the same way into
 * `X-Origin-Fields` (kept in one buffer meanwhile: one transaction at a time).
 */
#include <stdio.h>
#include <string.h>

#include "hookyard.h"

HY_PLUGIN_DESCRIPTOR("late_reader", "1.0.0", 0);

static const hy_api *api;
static hy_cont *cont;
static char origin_fields[2048];

/* The fields of `msg` as `name=value;` pairs into `out`; its length, or -1 if too long. */
static int fields_of(hy_txn *txn, hy_msg msg, char *out, size_t size) {
    size_t len = 0;
    hy_str name, value;
    out[0] = 0;
    for (size_t i = 0; api->header_field_get(txn, msg, i, &name, &value) == HY_SUCCESS; i++) {
        int n = snprintf(out + len, size - len, "%.*s=%.*s;", (int)name.len, name.ptr,
                         (int)value.len, value.ptr);
        if (n < 0 || (size_t)n >= size - len) return -1;
        len += (size_t)n;
    }
    return (int)len;
}

static hy_return set(hy_txn *txn, const char *name, const char *value, size_t len) {
    return api->header_set(txn, HY_MSG_CLIENT_RESPONSE, name, strlen(name), value, len);
}

static int32_t on_event(hy_cont *c, hy_event event, void *edata) {
    (void)c;
    hy_txn *txn = edata;
    if (event == HY_EVENT_HOOK(HY_HOOK_SEND_REQUEST_HDR)) {
        return fields_of(txn, HY_MSG_ORIGIN_REQUEST, origin_fields, sizeof origin_fields) < 0
                   ? HY_HOOK_ERROR
                   : HY_HOOK_CONTINUE;
    }
    if (event != HY_EVENT_HOOK(HY_HOOK_SEND_RESPONSE_HDR)) return HY_HOOK_CONTINUE;
    char all[2048];
    int len = fields_of(txn, HY_MSG_CLIENT_REQUEST, all, sizeof all);
    if (len < 0 || set(txn, "X-Client-Fields", all, (size_t)len) != HY_SUCCESS) {
        return HY_HOOK_ERROR;
    }
    if (origin_fields[0] &&
        set(txn, "X-Origin-Fields", origin_fields, strlen(origin_fields)) != HY_SUCCESS) {
        return HY_HOOK_ERROR;
    }
    return HY_HOOK_CONTINUE;
}

HY_EXPORT hy_return hy_plugin_init(const hy_api *host, int32_t argc, const char **argv,
                                   char *errbuf, int32_t errbuf_size) {
    if (host->version >> 16 != HY_ABI_MAJOR || host->size < sizeof(hy_api)) {
        snprintf(errbuf, (size_t)errbuf_size, "unsupported host table");
        return HY_ERROR;
    }
    api = host;
    int origin = argc > 1 && strcmp(argv[1], "origin") == 0;
    cont = api->cont_create(api->plugin, on_event, NULL);
    if (!cont) {
        snprintf(errbuf, (size_t)errbuf_size, "cont_create failed");
        return HY_ERROR;
    }
    hy_hook_id hooks[] = {HY_HOOK_SEND_RESPONSE_HDR, HY_HOOK_SEND_REQUEST_HDR};
    for (int i = 0; i < 1 + origin; i++) {
        if (api->hook_add(HY_HOOK_LEVEL_GLOBAL, NULL, hooks[i], cont, HY_PRIORITY_DEFAULT, NULL) !=
            HY_SUCCESS) {
            snprintf(errbuf, (size_t)errbuf_size, "hook_add failed");
            return HY_ERROR;
        }
    }
    return HY_SUCCESS;
}

HY_EXPORT void hy_plugin_done(void) {
    if (cont) api->cont_destroy(cont);
    cont = NULL;
    api = NULL;
}
