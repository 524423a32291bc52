/*
 * ops_probe: a global test plugin for ABI 1.4's operations through the proxy: access log
 * fields, statistics and operator messages. Built with -DPROBE_NAME='"ops"' (its name).
 *
 * init         creates counter `requests` and gauge `last_len` (each twice: the second
 *              stat_create must give the same id), and checks what must be refused: a counter
 *              stat_set, a negative counter increment, `requests` again as a gauge, a bad name
 *              (init fails naming the check otherwise)
 * READ_REQUEST_HDR  sets log field `probe` to `seen`, and `tag` to the request's `X-Log-Tag`
 *              when it has one; counts `requests`
 * TXN_CLOSE    sets log field `closed` to `yes` (fields set at TXN_CLOSE reach the line)
 * LIFECYCLE_MSG  replies `NAME/BUILD got TAG [DATA] requests=N` (two msg_reply calls, appended), and
 *              sets `last_len` to the data's length; tag `refuse` answers HY_HOOK_ERROR
 *              without replying. Tags `host-down`, `host-up` and `host-get` with an origin
 *              host's name as data (ABI 1.6): mark it down (reason "by message") or up, or
 *              read it; the reply is `down`, `up`, `up=1`/`up=0`, or `refused`.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "hookyard.h"

#ifndef PROBE_NAME
#define PROBE_NAME "ops"
#endif
/* Which build: a rebuilt file with another value is a new version of the plugin. */
#ifndef PROBE_BUILD
#define PROBE_BUILD "1"
#endif

HY_PLUGIN_DESCRIPTOR(PROBE_NAME, "1.0.0", 0);

static const hy_api *api;
static int32_t requests = -1, last_len = -1;

static hy_return set_field(hy_txn *txn, const char *name, const char *value, size_t len) {
    return api->log_field_set(txn, name, strlen(name), value, len);
}

/* host-down, host-up, host-get NAME: an origin host's status, set or read. */
static int host_msg(const hy_lifecycle_msg *msg) {
    const char *name = msg->data;
    size_t len = msg->data_len;
    const char *tag = msg->tag.ptr + 5;
    size_t tag_len = msg->tag.len - 5;
    char text[64];
    int n;
    if (tag_len == 4 && memcmp(tag, "down", 4) == 0) {
        hy_return r = api->host_status_set(api->plugin, name, len, 0, "by message", 10);
        n = snprintf(text, sizeof text, "%s", r == HY_SUCCESS ? "down" : "refused");
    } else if (tag_len == 2 && memcmp(tag, "up", 2) == 0) {
        hy_return r = api->host_status_set(api->plugin, name, len, 1, NULL, 0);
        n = snprintf(text, sizeof text, "%s", r == HY_SUCCESS ? "up" : "refused");
    } else {
        int32_t up = -1;
        hy_return r = api->host_status_get(api->plugin, name, len, &up);
        n = r == HY_SUCCESS ? snprintf(text, sizeof text, "up=%d", (int)up)
                            : snprintf(text, sizeof text, "refused");
    }
    api->msg_reply(api->plugin, msg, text, (size_t)n);
    return HY_HOOK_CONTINUE;
}

static int on_event(hy_cont *cont, hy_event event, void *edata) {
    (void)cont;
    if (event == HY_EVENT_HOOK(HY_HOOK_READ_REQUEST_HDR)) {
        hy_txn *txn = edata;
        set_field(txn, "probe", "seen", 4);
        hy_str tag;
        if (api->header_get(txn, HY_MSG_CLIENT_REQUEST, "X-Log-Tag", 9, 0, &tag) == HY_SUCCESS) {
            set_field(txn, "tag", tag.ptr, tag.len);
        }
        api->stat_increment(api->plugin, requests, 1);
    } else if (event == HY_EVENT_HOOK(HY_HOOK_TXN_CLOSE)) {
        set_field(edata, "closed", "yes", 3);
    } else if (event == HY_EVENT_HOOK(HY_HOOK_LIFECYCLE_MSG)) {
        const hy_lifecycle_msg *msg = edata;
        if (msg->tag.len == 6 && memcmp(msg->tag.ptr, "refuse", 6) == 0) {
            return HY_HOOK_ERROR;
        }
        if (msg->tag.len > 5 && memcmp(msg->tag.ptr, "host-", 5) == 0) {
            return host_msg(msg);
        }
        int64_t n = -1;
        api->stat_get(api->plugin, requests, &n);
        char text[512];
        int len = snprintf(text, sizeof text, "%s/%s got %.*s [%.*s]", PROBE_NAME, PROBE_BUILD, (int)msg->tag.len,
                           msg->tag.ptr, (int)msg->data_len, (const char *)msg->data);
        api->msg_reply(api->plugin, msg, text, (size_t)len);
        len = snprintf(text, sizeof text, " requests=%lld", (long long)n);
        api->msg_reply(api->plugin, msg, text, (size_t)len);
        api->stat_set(api->plugin, last_len, (int64_t)msg->data_len);
    }
    return HY_HOOK_CONTINUE;
}

static hy_return fail(char *errbuf, int32_t size, const char *what) {
    snprintf(errbuf, (size_t)size, "check failed: %s", what);
    return HY_ERROR;
}

HY_EXPORT hy_return hy_plugin_init(const hy_api *host, int32_t argc, const char **argv,
                                   char *errbuf, int32_t errbuf_size) {
    (void)argc;
    (void)argv;
    api = host;
    int32_t again = -2;
    if (api->stat_create(api->plugin, "requests", 8, HY_STAT_COUNTER, &requests) != HY_SUCCESS ||
        api->stat_create(api->plugin, "last_len", 8, HY_STAT_GAUGE, &last_len) != HY_SUCCESS) {
        return fail(errbuf, errbuf_size, "stat_create");
    }
    if (api->stat_create(api->plugin, "requests", 8, HY_STAT_COUNTER, &again) != HY_SUCCESS ||
        again != requests) {
        return fail(errbuf, errbuf_size, "stat_create again gives the same id");
    }
    if (api->stat_create(api->plugin, "requests", 8, HY_STAT_GAUGE, &again) != HY_ERROR ||
        api->stat_create(api->plugin, "a b", 3, HY_STAT_GAUGE, &again) != HY_ERROR ||
        api->stat_set(api->plugin, requests, 5) != HY_ERROR ||
        api->stat_increment(api->plugin, requests, -1) != HY_ERROR ||
        api->stat_increment(api->plugin, 999, 1) != HY_ERROR) {
        return fail(errbuf, errbuf_size, "refusals");
    }
    hy_cont *cont = api->cont_create(api->plugin, on_event, NULL);
    const hy_hook_id hooks[] = {HY_HOOK_READ_REQUEST_HDR, HY_HOOK_TXN_CLOSE, HY_HOOK_LIFECYCLE_MSG};
    for (size_t i = 0; i < sizeof hooks / sizeof hooks[0]; i++) {
        if (api->hook_add(HY_HOOK_LEVEL_GLOBAL, NULL, hooks[i], cont, HY_PRIORITY_DEFAULT, NULL) !=
            HY_SUCCESS) {
            return fail(errbuf, errbuf_size, "hook_add");
        }
    }
    return HY_SUCCESS;
}
