/*
 * deny_with_stats: an ATS global plugin. Requests with an X-Deny field get a 403 with a plain
 * text body; every response carries X-Request-Number (the request's number, kept in a
 * transaction user argument from READ_REQUEST_HDR to SEND_RESPONSE_HDR) and X-Denied (the
 * number of denied requests, from a statistic). Each client session registers a session-level
 * SEND_RESPONSE_HDR hook that adds X-Session-Hook. The message "deny-all" (`traffic_ctl plugin
 * msg deny-all on|off`; hookyard: `hookyard ctl plugin msg deny_with_stats deny-all on|off`)
 * denies every request, or stops doing so.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <ts/ts.h>

#define PLUGIN_NAME "deny_with_stats"

static int arg_index;
static int deny_all;
static int requests_stat;
static int denied_stat;

static void add_field(TSMBuffer bufp, TSMLoc hdr, const char *name, long value) {
    char text[32];
    TSMLoc field;
    snprintf(text, sizeof text, "%ld", value);
    if (TSMimeHdrFieldCreateNamed(bufp, hdr, name, (int)strlen(name), &field) != TS_SUCCESS) {
        return;
    }
    TSMimeHdrFieldValueStringSet(bufp, hdr, field, -1, text, (int)strlen(text));
    TSMimeHdrFieldAppend(bufp, hdr, field);
    TSHandleMLocRelease(bufp, hdr, field);
}

static TSEvent on_request(TSHttpTxn txnp) {
    TSStatIntIncrement(requests_stat, 1);
    TSUserArgSet(txnp, arg_index, (void *)(intptr_t)TSStatIntGet(requests_stat));
    TSMBuffer bufp;
    TSMLoc hdr;
    if (TSHttpTxnClientReqGet(txnp, &bufp, &hdr) != TS_SUCCESS) {
        return TS_EVENT_HTTP_CONTINUE;
    }
    TSMLoc deny = TSMimeHdrFieldFind(bufp, hdr, "X-Deny", 6);
    if (deny != TS_NULL_MLOC) {
        TSHandleMLocRelease(bufp, hdr, deny);
    }
    TSHandleMLocRelease(bufp, TS_NULL_MLOC, hdr);
    if (deny == TS_NULL_MLOC && !__atomic_load_n(&deny_all, __ATOMIC_RELAXED)) {
        return TS_EVENT_HTTP_CONTINUE;
    }
    TSStatIntIncrement(denied_stat, 1);
    TSHttpTxnStatusSet(txnp, TS_HTTP_STATUS_FORBIDDEN);
    const char *body = "denied by " PLUGIN_NAME "\n";
    TSHttpTxnErrorBodySet(txnp, TSstrdup(body), strlen(body), TSstrdup("text/plain"));
    return TS_EVENT_HTTP_ERROR;
}

static void on_response(TSHttpTxn txnp) {
    TSMBuffer bufp;
    TSMLoc hdr;
    if (TSHttpTxnClientRespGet(txnp, &bufp, &hdr) != TS_SUCCESS) {
        return;
    }
    add_field(bufp, hdr, "X-Request-Number", (long)(intptr_t)TSUserArgGet(txnp, arg_index));
    add_field(bufp, hdr, "X-Denied", (long)TSStatIntGet(denied_stat));
    TSHandleMLocRelease(bufp, TS_NULL_MLOC, hdr);
}

static int handler(TSCont contp, TSEvent event, void *edata) {
    TSHttpTxn txnp = (TSHttpTxn)edata;
    TSEvent next = TS_EVENT_HTTP_CONTINUE;
    (void)contp;
    switch (event) {
    case TS_EVENT_HTTP_READ_REQUEST_HDR:
        next = on_request(txnp);
        break;
    case TS_EVENT_HTTP_SEND_RESPONSE_HDR:
        on_response(txnp);
        break;
    default:
        break;
    }
    TSHttpTxnReenable(txnp, next);
    return 0;
}

static int on_session_response(TSCont contp, TSEvent event, void *edata) {
    TSHttpTxn txnp = (TSHttpTxn)edata;
    (void)contp;
    if (event == TS_EVENT_HTTP_SEND_RESPONSE_HDR) {
        TSMBuffer bufp;
        TSMLoc hdr;
        if (TSHttpTxnClientRespGet(txnp, &bufp, &hdr) == TS_SUCCESS) {
            add_field(bufp, hdr, "X-Session-Hook", 1);
            TSHandleMLocRelease(bufp, TS_NULL_MLOC, hdr);
        }
    }
    TSHttpTxnReenable(txnp, TS_EVENT_HTTP_CONTINUE);
    return 0;
}

static TSCont session_response_cont;

static int on_message(TSCont contp, TSEvent event, void *edata) {
    (void)contp;
    if (event == TS_EVENT_LIFECYCLE_MSG) {
        const TSPluginMsg *msg = edata;
        if (strcmp(msg->tag, "deny-all") == 0) {
            int on = msg->data_size == 2 && memcmp(msg->data, "on", 2) == 0;
            __atomic_store_n(&deny_all, on, __ATOMIC_RELAXED);
            TSNote("[%s] deny-all %s", PLUGIN_NAME, on ? "on" : "off");
        }
    }
    return 0;
}

static int on_session_start(TSCont contp, TSEvent event, void *edata) {
    TSHttpSsn ssnp = (TSHttpSsn)edata;
    (void)contp;
    if (event == TS_EVENT_HTTP_SSN_START) {
        TSHttpSsnHookAdd(ssnp, TS_HTTP_SEND_RESPONSE_HDR_HOOK, session_response_cont);
    }
    TSHttpSsnReenable(ssnp, TS_EVENT_HTTP_CONTINUE);
    return 0;
}

void TSPluginInit(int argc, const char *argv[]) {
    TSPluginRegistrationInfo info = {PLUGIN_NAME, "hookyard", "dev@hookyard.invalid"};
    (void)argc;
    (void)argv;
    if (TSPluginRegister(&info) != TS_SUCCESS) {
        TSError("[%s] registration failed", PLUGIN_NAME);
        return;
    }
    if (TSUserArgIndexReserve(TS_USER_ARGS_TXN, PLUGIN_NAME, "request number", &arg_index) !=
        TS_SUCCESS) {
        TSError("[%s] no user argument slot", PLUGIN_NAME);
        return;
    }
    requests_stat = TSStatCreate(PLUGIN_NAME ".requests", TS_RECORDDATATYPE_INT,
                                 TS_STAT_NON_PERSISTENT, TS_STAT_SYNC_SUM);
    denied_stat = TSStatCreate(PLUGIN_NAME ".denied", TS_RECORDDATATYPE_INT,
                               TS_STAT_NON_PERSISTENT, TS_STAT_SYNC_SUM);
    TSCont cont = TSContCreate(handler, NULL);
    TSHttpHookAdd(TS_HTTP_READ_REQUEST_HDR_HOOK, cont);
    TSHttpHookAdd(TS_HTTP_SEND_RESPONSE_HDR_HOOK, cont);
    session_response_cont = TSContCreate(on_session_response, NULL);
    TSHttpHookAdd(TS_HTTP_SSN_START_HOOK, TSContCreate(on_session_start, NULL));
    TSLifecycleHookAdd(TS_LIFECYCLE_MSG_HOOK, TSContCreate(on_message, NULL));
}
