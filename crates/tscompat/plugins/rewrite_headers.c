/*
 * rewrite_headers: an ATS global plugin (plugin.yaml) that rewrites headers.
 *
 * On READ_REQUEST_HDR it removes every client request field whose name starts with
 * "X-Drop-", upper-cases the second element of X-List, puts "zero" before its first, "!" after
 * its third and "end" after its last, renames X-Count to X-Count-Seen and adds X-Count-Next with
 * the number plus one, and adds a transaction hook on
 * SEND_RESPONSE_HDR that adds "X-Rewritten-By: ARG" to the response (ARG: its first argument)
 * and "X-Request-Fields: N", the number of request fields it saw, "X-Request-Method" and
 * "X-Status-Seen" (the response's status and reason before it changes the reason to
 * "Rewritten"), "X-Config-Dir", the proxy's configuration directory, and "X-Plugin-Dir", the
 * directory of the plugin's file.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <ts/ts.h>

#define PLUGIN_NAME "rewrite_headers"

static char *rewritten_by;
static TSCont response_cont;

static void add_field(TSMBuffer bufp, TSMLoc hdr, const char *name, const char *value) {
    TSMLoc field;
    if (TSMimeHdrFieldCreateNamed(bufp, hdr, name, (int)strlen(name), &field) != TS_SUCCESS) {
        return;
    }
    TSMimeHdrFieldValueStringSet(bufp, hdr, field, -1, value, (int)strlen(value));
    TSMimeHdrFieldAppend(bufp, hdr, field);
    TSHandleMLocRelease(bufp, hdr, field);
}

/* Per transaction: what the response hook reports about the request. */
struct txn_state {
    int fields;
    char method[16];
};

static int rewrite_request(TSHttpTxn txnp, struct txn_state *state) {
    TSMBuffer bufp;
    TSMLoc hdr;
    if (TSHttpTxnClientReqGet(txnp, &bufp, &hdr) != TS_SUCCESS) {
        TSError("[%s] no client request", PLUGIN_NAME);
        return 0;
    }
    int method_len;
    const char *method = TSHttpHdrMethodGet(bufp, hdr, &method_len);
    if (method) {
        snprintf(state->method, sizeof state->method, "%.*s", method_len, method);
    }
    int seen = 0;
    int idx = 0;
    TSMLoc field;
    while ((field = TSMimeHdrFieldGet(bufp, hdr, idx)) != TS_NULL_MLOC) {
        seen++;
        int len;
        const char *name = TSMimeHdrFieldNameGet(bufp, hdr, field, &len);
        if (len >= 7 && strncasecmp(name, "X-Drop-", 7) == 0) {
            TSDebug(PLUGIN_NAME, "dropping %.*s", len, name);
            /* The fields after it move up by one: idx stays. */
            TSMimeHdrFieldDestroy(bufp, hdr, field);
        } else {
            idx++;
        }
        TSHandleMLocRelease(bufp, hdr, field);
    }
    TSMLoc list = TSMimeHdrFieldFind(bufp, hdr, "X-List", 6);
    if (list != TS_NULL_MLOC) {
        int len;
        const char *second = TSMimeHdrFieldValueStringGet(bufp, hdr, list, 1, &len);
        if (second) {
            char upper[256];
            int n = len < (int)sizeof upper ? len : (int)sizeof upper;
            for (int i = 0; i < n; i++) {
                upper[i] = (char)toupper((unsigned char)second[i]);
            }
            TSMimeHdrFieldValueStringSet(bufp, hdr, list, 1, upper, n);
        }
        /* "a, B, c" becomes "zero, a, B, c!, end". */
        TSMimeHdrFieldValueStringInsert(bufp, hdr, list, 0, "zero", 4);
        TSMimeHdrFieldValueAppend(bufp, hdr, list, 3, "!", 1);
        TSMimeHdrFieldValueStringInsert(bufp, hdr, list, -1, "end", 3);
        TSHandleMLocRelease(bufp, hdr, list);
    }
    /* X-Count: N becomes X-Count-Next: N+1, a field created unnamed and named after. */
    TSMLoc count = TSMimeHdrFieldFind(bufp, hdr, "X-Count", 7);
    if (count != TS_NULL_MLOC) {
        int n = TSMimeHdrFieldValueIntGet(bufp, hdr, count, -1);
        TSMimeHdrFieldNameSet(bufp, hdr, count, "X-Count-Seen", 12);
        TSHandleMLocRelease(bufp, hdr, count);
        TSMLoc next;
        if (TSMimeHdrFieldCreate(bufp, hdr, &next) == TS_SUCCESS) {
            TSMimeHdrFieldNameSet(bufp, hdr, next, "X-Count-Next", 12);
            TSMimeHdrFieldValueIntSet(bufp, hdr, next, -1, n + 1);
            TSMimeHdrFieldAppend(bufp, hdr, next);
            TSHandleMLocRelease(bufp, hdr, next);
        }
    }
    TSHandleMLocRelease(bufp, TS_NULL_MLOC, hdr);
    return seen;
}

static void rewrite_response(TSHttpTxn txnp, const struct txn_state *state) {
    TSMBuffer bufp;
    TSMLoc hdr;
    if (TSHttpTxnClientRespGet(txnp, &bufp, &hdr) != TS_SUCCESS) {
        TSError("[%s] no client response", PLUGIN_NAME);
        return;
    }
    char text[300];
    snprintf(text, sizeof text, "%d", state->fields);
    add_field(bufp, hdr, "X-Rewritten-By", rewritten_by);
    add_field(bufp, hdr, "X-Request-Fields", text);
    add_field(bufp, hdr, "X-Request-Method", state->method);
    int reason_len = 0;
    const char *reason = TSHttpHdrReasonGet(bufp, hdr, &reason_len);
    snprintf(text, sizeof text, "%d %.*s", (int)TSHttpHdrStatusGet(bufp, hdr), reason_len,
             reason ? reason : "");
    add_field(bufp, hdr, "X-Status-Seen", text);
    TSHttpHdrReasonSet(bufp, hdr, "Rewritten", 9);
    const char *config_dir = TSConfigDirGet();
    add_field(bufp, hdr, "X-Config-Dir", config_dir ? config_dir : "");
    const char *plugin_dir = TSPluginDirGet();
    add_field(bufp, hdr, "X-Plugin-Dir", plugin_dir ? plugin_dir : "");
    TSHandleMLocRelease(bufp, TS_NULL_MLOC, hdr);
}

static int on_response(TSCont contp, TSEvent event, void *edata) {
    TSHttpTxn txnp = (TSHttpTxn)edata;
    struct txn_state *state = TSContDataGet(contp);
    if (event == TS_EVENT_HTTP_SEND_RESPONSE_HDR) {
        rewrite_response(txnp, state);
    } else if (event == TS_EVENT_HTTP_TXN_CLOSE) {
        TSfree(state);
        TSContDestroy(contp);
    }
    TSHttpTxnReenable(txnp, TS_EVENT_HTTP_CONTINUE);
    return 0;
}

static int on_request(TSCont contp, TSEvent event, void *edata) {
    TSHttpTxn txnp = (TSHttpTxn)edata;
    (void)contp;
    if (event == TS_EVENT_HTTP_READ_REQUEST_HDR) {
        struct txn_state *state = TSmalloc(sizeof *state);
        state->method[0] = '\0';
        state->fields = rewrite_request(txnp, state);
        TSCont per_txn = TSContCreate(on_response, NULL);
        TSContDataSet(per_txn, state);
        TSHttpTxnHookAdd(txnp, TS_HTTP_SEND_RESPONSE_HDR_HOOK, per_txn);
        TSHttpTxnHookAdd(txnp, TS_HTTP_TXN_CLOSE_HOOK, per_txn);
    }
    TSHttpTxnReenable(txnp, TS_EVENT_HTTP_CONTINUE);
    return 0;
}

void TSPluginInit(int argc, const char *argv[]) {
    TSPluginRegistrationInfo info;
    info.plugin_name = PLUGIN_NAME;
    info.vendor_name = "hookyard";
    info.support_email = "dev@hookyard.invalid";
    if (TSPluginRegister(&info) != TS_SUCCESS) {
        TSError("[%s] registration failed", PLUGIN_NAME);
        return;
    }
    rewritten_by = TSstrdup(argc > 1 ? argv[1] : PLUGIN_NAME);
    response_cont = TSContCreate(on_request, TSMutexCreate());
    TSHttpHookAdd(TS_HTTP_READ_REQUEST_HDR_HOOK, response_cont);
}
