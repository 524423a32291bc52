/*
 * upper_transform: an ATS global plugin with a response transform, in the shape of ATS's
 * null_transform example. A 200 response to a request with "X-Transform: upper" has its body
 * upper-cased and followed by a line "\n[N bytes]" (N: the body's length before); with
 * "X-Transform: upper-later" the same, but the transform ends its output from a continuation
 * scheduled 20 ms after the body's end, not from its own handler. The client's address, as
 * TSHttpTxnClientAddrGet gives it, goes in the response field X-Client-Addr. A request with
 * "X-Transform-Request: upper" has its body changed the same way on its way to the origin.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <ts/ts.h>

#define PLUGIN_NAME "upper_transform"

struct transform_data {
    TSVIO output_vio;
    TSIOBuffer output_buffer;
    TSIOBufferReader output_reader;
    int64_t seen;
    int later;
    int finishing;
};

static void destroy_data(struct transform_data *data) {
    if (data->output_buffer) {
        TSIOBufferDestroy(data->output_buffer);
    }
    TSfree(data);
}

/* Writes the trailer and tells the output it is complete. */
static void finish_output(TSCont contp, struct transform_data *data) {
    char trailer[64];
    int n = snprintf(trailer, sizeof trailer, "\n[%lld bytes]", (long long)data->seen);
    TSIOBufferWrite(data->output_buffer, trailer, n);
    TSVIONBytesSet(data->output_vio, data->seen + n);
    TSVIOReenable(data->output_vio);
    (void)contp;
}

/* The continuation scheduled by "upper-later" (with the transform's mutex): finishes the
 * transform it was given. */
static int finish_later(TSCont contp, TSEvent event, void *edata) {
    (void)event;
    (void)edata;
    TSCont transform = TSContDataGet(contp);
    finish_output(transform, TSContDataGet(transform));
    TSContDestroy(contp);
    return 0;
}

static void handle_transform(TSCont contp) {
    TSVConn output_conn = TSTransformOutputVConnGet(contp);
    TSVIO input_vio = TSVConnWriteVIOGet(contp);
    struct transform_data *data = TSContDataGet(contp);
    if (!data->output_buffer) {
        data->output_buffer = TSIOBufferCreate();
        data->output_reader = TSIOBufferReaderAlloc(data->output_buffer);
        data->output_vio = TSVConnWrite(output_conn, contp, data->output_reader, INT64_MAX);
    }
    if (!TSVIOBufferGet(input_vio)) {
        TSVIONBytesSet(data->output_vio, TSVIONDoneGet(input_vio));
        TSVIOReenable(data->output_vio);
        return;
    }
    int64_t towrite = TSVIONTodoGet(input_vio);
    TSIOBufferReader reader = TSVIOReaderGet(input_vio);
    int64_t avail = TSIOBufferReaderAvail(reader);
    if (towrite > avail) {
        towrite = avail;
    }
    int64_t done = 0;
    while (done < towrite) {
        TSIOBufferBlock block = TSIOBufferReaderStart(reader);
        int64_t len = 0;
        const char *bytes = TSIOBufferBlockReadStart(block, reader, &len);
        if (len > towrite - done) {
            len = towrite - done;
        }
        char upper[4096];
        if (len > (int64_t)sizeof upper) {
            len = sizeof upper;
        }
        for (int64_t i = 0; i < len; i++) {
            upper[i] = (char)toupper((unsigned char)bytes[i]);
        }
        TSIOBufferWrite(data->output_buffer, upper, len);
        TSIOBufferReaderConsume(reader, len);
        done += len;
    }
    data->seen += done;
    TSVIONDoneSet(input_vio, TSVIONDoneGet(input_vio) + done);
    if (TSVIONTodoGet(input_vio) > 0) {
        if (done > 0) {
            TSVIOReenable(data->output_vio);
            TSContCall(TSVIOContGet(input_vio), TS_EVENT_VCONN_WRITE_READY, input_vio);
        }
        return;
    }
    if (data->finishing) {
        return;
    }
    data->finishing = 1;
    TSVIOReenable(data->output_vio);
    TSContCall(TSVIOContGet(input_vio), TS_EVENT_VCONN_WRITE_COMPLETE, input_vio);
    if (data->later) {
        TSCont later = TSContCreate(finish_later, TSContMutexGet(contp));
        TSContDataSet(later, contp);
        TSContScheduleOnPool(later, 20, TS_THREAD_POOL_TASK);
    } else {
        finish_output(contp, data);
    }
}

static int upper_transform(TSCont contp, TSEvent event, void *edata) {
    (void)edata;
    if (TSVConnClosedGet(contp)) {
        destroy_data(TSContDataGet(contp));
        TSContDestroy(contp);
        return 0;
    }
    switch (event) {
    case TS_EVENT_ERROR: {
        TSVIO input_vio = TSVConnWriteVIOGet(contp);
        TSContCall(TSVIOContGet(input_vio), TS_EVENT_ERROR, input_vio);
        break;
    }
    case TS_EVENT_VCONN_WRITE_COMPLETE:
        TSVConnShutdown(TSTransformOutputVConnGet(contp), 0, 1);
        break;
    case TS_EVENT_VCONN_WRITE_READY:
    default:
        handle_transform(contp);
        break;
    }
    return 0;
}

/* The `name` value of the client request: 0 none, 1 upper, 2 upper-later. */
static int wanted(TSHttpTxn txnp, const char *name) {
    TSMBuffer bufp;
    TSMLoc hdr;
    int mode = 0;
    if (TSHttpTxnClientReqGet(txnp, &bufp, &hdr) != TS_SUCCESS) {
        return 0;
    }
    TSMLoc field = TSMimeHdrFieldFind(bufp, hdr, name, (int)strlen(name));
    if (field) {
        int len = 0;
        const char *value = TSMimeHdrFieldValueStringGet(bufp, hdr, field, -1, &len);
        if (len == 5 && strncmp(value, "upper", 5) == 0) {
            mode = 1;
        } else if (len == 11 && strncmp(value, "upper-later", 11) == 0) {
            mode = 2;
        }
        TSHandleMLocRelease(bufp, hdr, field);
    }
    TSHandleMLocRelease(bufp, TS_NULL_MLOC, hdr);
    return mode;
}

static void add_client_addr(TSHttpTxn txnp) {
    const struct sockaddr *addr = TSHttpTxnClientAddrGet(txnp);
    char text[INET6_ADDRSTRLEN] = "?";
    if (addr && addr->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)addr)->sin_addr, text, sizeof text);
    } else if (addr && addr->sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)addr)->sin6_addr, text, sizeof text);
    }
    TSMBuffer bufp;
    TSMLoc hdr, field;
    if (TSHttpTxnClientRespGet(txnp, &bufp, &hdr) != TS_SUCCESS) {
        return;
    }
    if (TSMimeHdrFieldCreateNamed(bufp, hdr, "X-Client-Addr", 13, &field) == TS_SUCCESS) {
        TSMimeHdrFieldValueStringSet(bufp, hdr, field, -1, text, (int)strlen(text));
        TSMimeHdrFieldAppend(bufp, hdr, field);
        TSHandleMLocRelease(bufp, hdr, field);
    }
    TSHandleMLocRelease(bufp, TS_NULL_MLOC, hdr);
}

static void add_transform(TSHttpTxn txnp, TSHttpHookID hook, int mode) {
    TSVConn connp = TSTransformCreate(upper_transform, txnp);
    struct transform_data *data = TSmalloc(sizeof *data);
    memset(data, 0, sizeof *data);
    data->later = mode == 2;
    TSContDataSet(connp, data);
    TSHttpTxnHookAdd(txnp, hook, connp);
}

static int on_txn(TSCont contp, TSEvent event, void *edata) {
    (void)contp;
    TSHttpTxn txnp = (TSHttpTxn)edata;
    if (event == TS_EVENT_HTTP_READ_REQUEST_HDR) {
        int mode = wanted(txnp, "X-Transform-Request");
        if (mode) {
            add_transform(txnp, TS_HTTP_REQUEST_TRANSFORM_HOOK, mode);
        }
    } else if (event == TS_EVENT_HTTP_READ_RESPONSE_HDR) {
        TSMBuffer bufp;
        TSMLoc hdr;
        int mode = wanted(txnp, "X-Transform");
        if (mode && TSHttpTxnServerRespGet(txnp, &bufp, &hdr) == TS_SUCCESS) {
            if (TSHttpHdrStatusGet(bufp, hdr) == TS_HTTP_STATUS_OK) {
                add_transform(txnp, TS_HTTP_RESPONSE_TRANSFORM_HOOK, mode);
                TSHttpTxnUntransformedRespCache(txnp, 1);
                TSHttpTxnTransformedRespCache(txnp, 0);
            }
            TSHandleMLocRelease(bufp, TS_NULL_MLOC, hdr);
        }
    } else if (event == TS_EVENT_HTTP_SEND_RESPONSE_HDR) {
        add_client_addr(txnp);
    }
    TSHttpTxnReenable(txnp, TS_EVENT_HTTP_CONTINUE);
    return 0;
}

void TSPluginInit(int argc, const char *argv[]) {
    (void)argc;
    (void)argv;
    TSPluginRegistrationInfo info = {PLUGIN_NAME, "hookyard", "dev@hookyard.test"};
    if (TSPluginRegister(&info) != TS_SUCCESS) {
        TSError("[%s] registration failed", PLUGIN_NAME);
        return;
    }
    TSCont cont = TSContCreate(on_txn, NULL);
    TSHttpHookAdd(TS_HTTP_READ_REQUEST_HDR_HOOK, cont);
    TSHttpHookAdd(TS_HTTP_READ_RESPONSE_HDR_HOOK, cont);
    TSHttpHookAdd(TS_HTTP_SEND_RESPONSE_HDR_HOOK, cont);
}
