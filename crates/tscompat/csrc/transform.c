/*
 * ATS's transform vconnections over hookyard's body transforms (a HY_TRANSFORM_REWRITE each).
 *
 * A transform (TSTransformCreate) is a continuation with two sides. Its input side, the write
 * VIO (TSVConnWriteVIOGet), holds the body as hookyard delivers it: each chunk is appended to the
 * VIO's buffer and the handler is called (TS_EVENT_IMMEDIATE first, TS_EVENT_VCONN_WRITE_READY
 * after), and the end chunk fixes the VIO's byte count, so that its "to do" reaches 0 once the
 * handler has consumed everything. Its output side is what the handler writes through
 * TSVConnWrite on TSTransformOutputVConnGet: every TSVIOReenable of that VIO sends what is
 * readable (up to the VIO's byte count) on as the transform's output, and reaching the count
 * ends the output and brings TS_EVENT_VCONN_WRITE_COMPLETE. The end chunk stays pending until the
 * output ended, so a handler may finish it from another thread (a scheduled continuation).
 * When the transaction is done with the transform, TSVConnClosedGet answers 1 and the handler
 * gets one last TS_EVENT_IMMEDIATE, where ATS plugins destroy it.
 *
 * Everything of a transform happens with its mutex held (the one TSTransformCreate makes).
 */
#define _XOPEN_SOURCE 700

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct tsapi_vio {
    struct ts_transform *t;
    TSCont cont;
    TSVConn vconn;
    TSIOBuffer buffer;
    TSIOBufferReader reader;
    int64_t nbytes;
    int64_t ndone;
};

struct ts_transform {
    struct tsapi_mutex mutex;
    /* The transform itself, and the two continuations that stand for its sides. */
    struct tsapi_cont *vconn;
    struct tsapi_cont output;
    struct tsapi_cont upstream;
    hy_txn *txn;
    /* Valid from TSHttpTxnHookAdd until the close event has been handled. */
    hy_transform *handle;
    /* The body as it arrives (the VIO and buffer are the layer's). */
    struct tsapi_vio input;
    /* What the handler writes (its buffer and reader are the handler's). */
    struct tsapi_vio out;
    int out_active;
    /* The handler got its first event. */
    int started;
    /* A chunk's handler runs now (on the thread that holds the mutex). */
    int in_chunk;
    /* The end chunk waits for the output to end. */
    int pending;
    /* The output ended (transform_end). */
    int output_done;
    /* TS_EVENT_VCONN_WRITE_COMPLETE is owed to the handler. */
    int complete_owed;
    /* The transaction is done with the transform. */
    int closed;
    /* The handler (or TSVConnAbort) failed the transform. */
    int failed;
    /* Calls of the handler in progress, and a TSContDestroy that came during one. */
    int depth;
    int destroy_requested;
};

static void lock(struct ts_transform *t) { pthread_mutex_lock(&t->mutex.lock); }
static void unlock(struct ts_transform *t) { pthread_mutex_unlock(&t->mutex.lock); }

TSVConn TSTransformCreate(TSEventFunc event_funcp, TSHttpTxn txnp) {
    if (!event_funcp || !txnp) {
        return NULL;
    }
    struct ts_transform *t = calloc(1, sizeof *t);
    if (!t) {
        abort();
    }
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&t->mutex.lock, &attr);
    pthread_mutexattr_destroy(&attr);
    struct tsapi_cont *c = TSContCreate(event_funcp, &t->mutex);
    if (!c) {
        pthread_mutex_destroy(&t->mutex.lock);
        free(t);
        return NULL;
    }
    c->transform = t;
    t->vconn = c;
    t->output.transform = t;
    t->upstream.transform = t;
    t->txn = (hy_txn *)txnp;
    t->input.t = t;
    t->input.cont = &t->upstream;
    t->input.vconn = c;
    t->input.buffer = TSIOBufferCreate();
    t->input.reader = TSIOBufferReaderAlloc(t->input.buffer);
    t->input.nbytes = INT64_MAX;
    t->out.t = t;
    return c;
}

TSReturnCode hy_ts_transform_hook(hy_txn *txn, TSHttpHookID id, struct tsapi_cont *c) {
    struct ts_transform *t = c ? c->transform : NULL;
    if (!t || c != t->vconn || t->handle) {
        TSError("TSHttpTxnHookAdd: a transform hook takes a new TSTransformCreate vconnection");
        return TS_ERROR;
    }
    hy_body body = id == TS_HTTP_REQUEST_TRANSFORM_HOOK ? HY_BODY_REQUEST : HY_BODY_RESPONSE;
    if (hy_ts_api->transform_add(txn, body, HY_TRANSFORM_REWRITE, c->cont, HY_PRIORITY_DEFAULT,
                                 &t->handle) != HY_SUCCESS) {
        TSError("TSHttpTxnHookAdd: the transform came too late for the %s body",
                body == HY_BODY_REQUEST ? "request" : "response");
        t->handle = NULL;
        return TS_ERROR;
    }
    return TS_SUCCESS;
}

/* Calls the handler; a TSContDestroy inside only marks the transform. */
static void deliver(struct ts_transform *t, TSEvent event, void *edata) {
    t->depth++;
    hy_ts_call(t->vconn, event, edata);
    t->depth--;
}

/* Sends what the handler made readable on as output, ending it at the VIO's count. */
static void flush(struct ts_transform *t) {
    if (!t->out_active || t->output_done || t->failed || !t->handle) {
        return;
    }
    if (!t->in_chunk && !t->pending) {
        /* hookyard takes output only during a chunk: the next one sends it. */
        return;
    }
    int64_t want = t->out.nbytes - t->out.ndone;
    int64_t sent = 0;
    TSIOBufferReader reader = t->out.reader;
    for (TSIOBufferBlock b = TSIOBufferReaderStart(reader); b && sent < want;
         b = TSIOBufferBlockNext(b)) {
        int64_t avail = 0;
        const char *data = TSIOBufferBlockReadStart(b, reader, &avail);
        if (avail > want - sent) {
            avail = want - sent;
        }
        if (avail <= 0) {
            continue;
        }
        if (hy_ts_api->transform_write(t->handle, data, (size_t)avail) != HY_SUCCESS) {
            TSError("transform: the proxy refused the output (over transforms.buffer_limit?)");
            t->failed = 1;
            break;
        }
        sent += avail;
    }
    TSIOBufferReaderConsume(reader, sent);
    t->out.ndone += sent;
    if (!t->failed && t->out.ndone >= t->out.nbytes) {
        hy_ts_api->transform_end(t->handle);
        t->output_done = 1;
        t->complete_owed = 1;
    }
}

/* Ends the pending end chunk once the output ended or failed (any thread, mutex held). */
static void maybe_resume(struct ts_transform *t) {
    if (!t->pending || t->in_chunk || !(t->output_done || t->failed)) {
        return;
    }
    t->pending = 0;
    hy_ts_api->transform_resume(t->handle, t->failed ? HY_HOOK_ERROR : HY_HOOK_CONTINUE);
}

/* Delivers what the handler is owed, unless one of its calls is in progress. */
static void run_owed(struct ts_transform *t) {
    while (t->depth == 0 && t->complete_owed && !t->closed && !t->destroy_requested) {
        t->complete_owed = 0;
        deliver(t, TS_EVENT_VCONN_WRITE_COMPLETE, &t->out);
    }
}

static void free_transform(struct ts_transform *t) {
    TSIOBufferDestroy(t->input.buffer);
    pthread_mutex_destroy(&t->mutex.lock);
    free(t);
}

int hy_ts_transform_free(struct tsapi_cont *c) {
    struct ts_transform *t = c->transform;
    if (c != t->vconn) {
        TSError("TSContDestroy: a transform's side is not a continuation of its own");
        return 0;
    }
    if (t->depth > 0) {
        t->destroy_requested = 1;
        return 0;
    }
    free_transform(t);
    return 1;
}

/* Frees the transform if its handler destroyed it during the call that just ended; 1 if so. */
static int reap(struct ts_transform *t) {
    if (t->depth > 0 || !t->destroy_requested) {
        return 0;
    }
    struct tsapi_cont *c = t->vconn;
    free_transform(t);
    free(c);
    return 1;
}

static int32_t on_chunk(struct ts_transform *t, hy_chunk *chunk) {
    lock(t);
    t->in_chunk = 1;
    if (chunk->len) {
        TSIOBufferWrite(t->input.buffer, chunk->data, (int64_t)chunk->len);
    }
    if (chunk->end) {
        t->input.nbytes = t->input.ndone + TSIOBufferReaderAvail(t->input.reader);
    }
    TSEvent event = t->started ? TS_EVENT_VCONN_WRITE_READY : TS_EVENT_IMMEDIATE;
    t->started = 1;
    deliver(t, event, &t->input);
    flush(t);
    t->in_chunk = 0;
    run_owed(t);
    int32_t result = HY_HOOK_CONTINUE;
    if (t->failed) {
        result = HY_HOOK_ERROR;
    } else if (chunk->end && !t->output_done) {
        t->pending = 1;
        result = HY_HOOK_PENDING;
    }
    unlock(t);
    reap(t);
    return result;
}

static int32_t on_close(struct ts_transform *t) {
    lock(t);
    t->closed = 1;
    t->pending = 0;
    deliver(t, TS_EVENT_IMMEDIATE, NULL);
    t->handle = NULL;
    unlock(t);
    reap(t);
    return 0;
}

int32_t hy_ts_transform_event(struct tsapi_cont *c, hy_event event, void *edata) {
    struct ts_transform *t = c->transform;
    switch (event) {
    case HY_EVENT_TRANSFORM_CHUNK:
        return on_chunk(t, edata);
    case HY_EVENT_TRANSFORM_CLOSE:
        return on_close(t);
    default:
        TSError("transform: unexpected event %d", (int)event);
        return 0;
    }
}

int hy_ts_transform_call(struct tsapi_cont *c, TSEvent event, void *edata) {
    struct ts_transform *t = c->transform;
    if (c == t->vconn) {
        lock(t);
        deliver(t, event, edata);
        unlock(t);
        reap(t);
        return 0;
    }
    /* The body's producer (the input side) told it read some (WRITE_READY) or all of it
     * (WRITE_COMPLETE): the layer feeds the body as chunks come, so there is nothing to do; the
     * output side takes no calls. */
    return 0;
}

TSVConn TSTransformOutputVConnGet(TSVConn connp) {
    return connp && connp->transform ? &connp->transform->output : NULL;
}

TSVIO TSVConnWriteVIOGet(TSVConn connp) {
    return connp && connp->transform && connp == connp->transform->vconn
               ? &connp->transform->input
               : NULL;
}

int TSVConnClosedGet(TSVConn connp) {
    return connp && connp->transform && connp == connp->transform->vconn
               ? connp->transform->closed
               : 0;
}

TSVIO TSVConnWrite(TSVConn connp, TSCont contp, TSIOBufferReader readerp, int64_t nbytes) {
    struct ts_transform *t = connp ? connp->transform : NULL;
    if (!t || connp != &t->output || !readerp || nbytes < 0) {
        TSError("TSVConnWrite: only a transform's output vconnection is writable");
        return NULL;
    }
    lock(t);
    t->out.cont = contp;
    t->out.vconn = connp;
    t->out.reader = readerp;
    t->out.buffer = NULL;
    t->out.nbytes = nbytes;
    t->out.ndone = 0;
    t->out_active = 1;
    unlock(t);
    return &t->out;
}

void TSVConnShutdown(TSVConn connp, int read, int write) {
    (void)read;
    struct ts_transform *t = connp ? connp->transform : NULL;
    if (!t || !write) {
        return;
    }
    lock(t);
    if (connp == &t->output && !t->output_done && t->handle && !t->failed) {
        flush(t);
        if (!t->output_done && (t->in_chunk || t->pending)) {
            hy_ts_api->transform_end(t->handle);
            t->output_done = 1;
        }
    }
    maybe_resume(t);
    unlock(t);
}

void TSVConnAbort(TSVConn connp, int error) {
    (void)error;
    struct ts_transform *t = connp ? connp->transform : NULL;
    if (!t) {
        return;
    }
    lock(t);
    t->failed = 1;
    maybe_resume(t);
    unlock(t);
}

void TSHttpTxnUntransformedRespCache(TSHttpTxn txnp, int on) {
    (void)txnp;
    (void)on;
}

void TSHttpTxnTransformedRespCache(TSHttpTxn txnp, int on) {
    (void)txnp;
    (void)on;
}

void TSVIOReenable(TSVIO viop) {
    if (!viop) {
        return;
    }
    struct ts_transform *t = viop->t;
    lock(t);
    if (viop == &t->out) {
        flush(t);
    }
    run_owed(t);
    maybe_resume(t);
    unlock(t);
    reap(t);
}

TSIOBuffer TSVIOBufferGet(TSVIO viop) {
    if (!viop) {
        return NULL;
    }
    if (viop == &viop->t->out) {
        return viop->reader ? hy_ts_reader_buffer(viop->reader) : NULL;
    }
    /* NULL once the body's producer is gone, as ATS answers after the write side closed. */
    return viop->t->closed ? NULL : viop->buffer;
}

TSIOBufferReader TSVIOReaderGet(TSVIO viop) { return viop ? viop->reader : NULL; }

int64_t TSVIONBytesGet(TSVIO viop) { return viop ? viop->nbytes : 0; }

void TSVIONBytesSet(TSVIO viop, int64_t nbytes) {
    if (viop && nbytes >= 0) {
        viop->nbytes = nbytes;
    }
}

int64_t TSVIONDoneGet(TSVIO viop) { return viop ? viop->ndone : 0; }

void TSVIONDoneSet(TSVIO viop, int64_t ndone) {
    if (viop && ndone >= 0) {
        viop->ndone = ndone;
    }
}

int64_t TSVIONTodoGet(TSVIO viop) { return viop ? viop->nbytes - viop->ndone : 0; }

TSCont TSVIOContGet(TSVIO viop) { return viop ? viop->cont : NULL; }

TSVConn TSVIOVConnGet(TSVIO viop) { return viop ? viop->vconn : NULL; }

TSMutex TSVIOMutexGet(TSVIO viop) { return viop ? &viop->t->mutex : NULL; }
