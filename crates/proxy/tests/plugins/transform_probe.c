/*
 * transform_probe: a global test plugin for body transforms (ABI 1.5). READ_REQUEST_HDR reads
 * the client request's `X-Transform` field, a comma-separated list of transforms to add, each
 * `[req-]MODE[@PRIORITY]` (req-: on the request body, else on the response body):
 *
 *   inspect    read-only; counts chunks and bytes and an FNV-1a digest of them
 *   count      read-only; counts chunks and bytes only (the cheapest transform, for benches)
 *   upper      length-preserving; uppercases ASCII letters in place
 *   tag=C      length-preserving; replaces every byte `.` with C (so the order of two
 *              transforms shows: upper then tag=a leaves `a`, tag=a then upper leaves `A`)
 *   double     rewrite; writes each chunk twice, as it comes
 *   buffer     rewrite; keeps the whole body and writes it at the end chunk, in one write
 *   pend       rewrite; answers PENDING to every chunk; a thread writes the chunk uppercased
 *              1 ms later (from that thread), ends the output at the end chunk, and resumes
 *   hold       inspect; answers PENDING to every chunk; a thread resumes it 1 ms later
 *   stuck      inspect; answers PENDING to the first chunk and never resumes it (a broken
 *              plugin: the proxy's pending limit ends the transaction)
 *   fail       answers ERROR to the first chunk
 *   late=N     inspect; answers ERROR to the first chunk that takes it past N bytes
 *   flood=N    rewrite; writes N bytes at the first chunk (past the buffer limit: refused)
 *   cut=N      rewrite; passes the first N bytes on, then ends its output (transform_end)
 *
 * With the param `always=SPEC`, READ_REQUEST_HDR adds the one transform SPEC to every
 * transaction instead, reading no field (the request's fields may then stay as received).
 *
 * `X-Transform-Id: NAME` with the param `out=DIR`: each transform's CLOSE writes
 * DIR/NAME.MODE (appending) a line `chunks=C bytes=B fnv=HEX end=E writes=W refused=R`: the
 * chunks it saw, their bytes and digest, whether an end chunk came, and what transform_write
 * answered. `X-Transform-Self-Off: 1` switches this plugin off for the transaction after
 * adding the transforms; `X-Transform-Threshold: N` sets the transaction's threshold for every
 * hook to N.
 *
 * SEND_RESPONSE_HDR (ABI 1.5's small items): adds `X-Reason-Was: REASON` (reason_get of the
 * client response) and `X-Config-Dir: DIR` (config_dir_get); with `X-Reason: TEXT` on the
 * request, sets the client response's reason phrase to TEXT (`X-Reason-Set: ok` or `refused`).
 */
#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hookyard.h"

HY_PLUGIN_DESCRIPTOR("transform_probe", "1.0.0", 0);

static const hy_api *api;
static char out_dir[512];
/* The param `always=`: a transform added to every transaction (empty: none). */
static char always[64];

enum mode { INSPECT, UPPER, TAG, DOUBLE, BUFFER, PEND, HOLD, FAIL, LATE, FLOOD, CUT, COUNT, STUCK };

typedef struct probe {
    enum mode mode;
    char mode_name[32];
    char id[128];
    long arg;
    hy_cont *cont;
    hy_transform *transform;
    uint64_t chunks, bytes, fnv;
    int end, writes_ok, writes_refused;
    char *kept;
    size_t kept_len;
} probe;

/* A chunk a thread finishes. */
typedef struct later {
    probe *p;
    char *data;
    size_t len;
    int end;
} later;

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void count(probe *p, const hy_chunk *c) {
    p->chunks++;
    p->bytes += c->len;
    for (size_t i = 0; i < c->len; i++) {
        p->fnv = (p->fnv ^ (uint8_t)c->data[i]) * 1099511628211ULL;
    }
    if (c->end) {
        p->end = 1;
    }
}

static void write_out(probe *p, const char *data, size_t len) {
    if (api->transform_write(p->transform, data, len) == HY_SUCCESS) {
        p->writes_ok++;
    } else {
        p->writes_refused++;
    }
}

static void *finish_later(void *arg) {
    later *l = arg;
    sleep_ms(1);
    if (l->p->mode == PEND) {
        for (size_t i = 0; i < l->len; i++) {
            l->data[i] = (char)toupper((unsigned char)l->data[i]);
        }
        write_out(l->p, l->data, l->len);
        if (l->end) {
            api->transform_end(l->p->transform);
        }
    }
    api->transform_resume(l->p->transform, HY_HOOK_CONTINUE);
    free(l->data);
    free(l);
    return NULL;
}

static void close_probe(probe *p) {
    if (out_dir[0] && p->id[0]) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s.%s", out_dir, p->id, p->mode_name);
        FILE *f = fopen(path, "a");
        if (f) {
            fprintf(f, "chunks=%llu bytes=%llu fnv=%016llx end=%d writes=%d refused=%d\n",
                    (unsigned long long)p->chunks, (unsigned long long)p->bytes,
                    (unsigned long long)p->fnv, p->end, p->writes_ok, p->writes_refused);
            fclose(f);
        }
    }
    api->cont_destroy(p->cont);
    free(p->kept);
    free(p);
}

static int on_chunk(hy_cont *cont, hy_event event, void *edata) {
    probe *p = api->cont_data_get(cont);
    if (event == HY_EVENT_TRANSFORM_CLOSE) {
        close_probe(p);
        return 0;
    }
    if (event != HY_EVENT_TRANSFORM_CHUNK) {
        return 0;
    }
    hy_chunk *c = edata;
    uint64_t before = p->bytes;
    if (p->mode == COUNT) {
        p->chunks++;
        p->bytes += c->len;
        p->end |= c->end;
        return HY_HOOK_CONTINUE;
    }
    count(p, c);
    switch (p->mode) {
    case INSPECT:
        return HY_HOOK_CONTINUE;
    case UPPER:
        for (size_t i = 0; i < c->len; i++) {
            c->data[i] = (char)toupper((unsigned char)c->data[i]);
        }
        return HY_HOOK_CONTINUE;
    case TAG:
        for (size_t i = 0; i < c->len; i++) {
            if (c->data[i] == '.') {
                c->data[i] = (char)p->arg;
            }
        }
        return HY_HOOK_CONTINUE;
    case DOUBLE:
        write_out(p, c->data, c->len);
        write_out(p, c->data, c->len);
        return HY_HOOK_CONTINUE;
    case BUFFER:
        if (c->len) {
            p->kept = realloc(p->kept, p->kept_len + c->len);
            memcpy(p->kept + p->kept_len, c->data, c->len);
            p->kept_len += c->len;
        }
        if (c->end) {
            write_out(p, p->kept, p->kept_len);
        }
        return HY_HOOK_CONTINUE;
    case PEND:
    case HOLD: {
        later *l = calloc(1, sizeof *l);
        l->p = p;
        l->len = c->len;
        l->end = c->end;
        l->data = malloc(c->len + 1);
        memcpy(l->data, c->data, c->len);
        pthread_t thread;
        pthread_create(&thread, NULL, finish_later, l);
        pthread_detach(thread);
        return HY_HOOK_PENDING;
    }
    case FAIL:
        return HY_HOOK_ERROR;
    case LATE:
        return p->bytes > (uint64_t)p->arg ? HY_HOOK_ERROR : HY_HOOK_CONTINUE;
    case FLOOD:
        if (p->chunks == 1) {
            char *junk = calloc(1, (size_t)p->arg);
            write_out(p, junk, (size_t)p->arg);
            free(junk);
            /* Refused past the limit: the transaction fails; answering on changes nothing. */
        }
        return HY_HOOK_CONTINUE;
    case COUNT:
        return HY_HOOK_CONTINUE;
    case STUCK:
        return HY_HOOK_PENDING;
    case CUT: {
        uint64_t room = (uint64_t)p->arg > before ? (uint64_t)p->arg - before : 0;
        size_t n = c->len < room ? c->len : (size_t)room;
        write_out(p, c->data, n);
        if (p->bytes >= (uint64_t)p->arg) {
            api->transform_end(p->transform);
        }
        return HY_HOOK_CONTINUE;
    }
    }
    return HY_HOOK_ERROR;
}

static hy_transform_kind kind_of(enum mode m) {
    switch (m) {
    case INSPECT:
    case HOLD:
    case FAIL:
    case LATE:
    case COUNT:
    case STUCK:
        return HY_TRANSFORM_INSPECT;
    case UPPER:
    case TAG:
        return HY_TRANSFORM_LENGTH_PRESERVING;
    default:
        return HY_TRANSFORM_REWRITE;
    }
}

static void add(hy_txn *txn, const char *spec, size_t len, const hy_str *id) {
    char text[64];
    if (len >= sizeof text) {
        return;
    }
    memcpy(text, spec, len);
    text[len] = 0;
    hy_body body = HY_BODY_RESPONSE;
    char *s = text;
    if (strncmp(s, "req-", 4) == 0) {
        body = HY_BODY_REQUEST;
        s += 4;
    }
    int32_t priority = HY_PRIORITY_DEFAULT;
    char *at = strchr(s, '@');
    if (at) {
        *at = 0;
        priority = (int32_t)atoi(at + 1);
    }
    char *eq = strchr(s, '=');
    long arg = 0;
    if (eq) {
        *eq = 0;
        arg = eq[1] && strcmp(s, "tag") == 0 ? (long)(unsigned char)eq[1] : atol(eq + 1);
    }
    static const char *names[] = {"inspect", "upper", "tag",  "double", "buffer", "pend",
                                  "hold",    "fail",  "late", "flood",  "cut",   "count", "stuck"};
    int mode = -1;
    for (int i = 0; i < (int)(sizeof names / sizeof names[0]); i++) {
        if (strcmp(s, names[i]) == 0) {
            mode = i;
        }
    }
    if (mode < 0) {
        return;
    }
    probe *p = calloc(1, sizeof *p);
    p->mode = (enum mode)mode;
    p->arg = arg;
    p->fnv = 14695981039346656037ULL;
    snprintf(p->mode_name, sizeof p->mode_name, "%s%s", body == HY_BODY_REQUEST ? "req-" : "",
             names[mode]);
    if (id) {
        snprintf(p->id, sizeof p->id, "%.*s", (int)id->len, id->ptr);
    }
    p->cont = api->cont_create(api->plugin, on_chunk, p);
    if (api->transform_add(txn, body, kind_of(p->mode), p->cont, priority, &p->transform) !=
        HY_SUCCESS) {
        api->cont_destroy(p->cont);
        free(p);
    }
}

static int on_request(hy_cont *cont, hy_event event, void *edata) {
    (void)cont;
    (void)event;
    hy_txn *txn = edata;
    hy_str list, id, value;
    if (always[0]) {
        add(txn, always, strlen(always), NULL);
        return HY_HOOK_CONTINUE;
    }
    if (api->header_get(txn, HY_MSG_CLIENT_REQUEST, "X-Transform", 11, 0, &list) != HY_SUCCESS) {
        return HY_HOOK_CONTINUE;
    }
    int has_id =
        api->header_get(txn, HY_MSG_CLIENT_REQUEST, "X-Transform-Id", 14, 0, &id) == HY_SUCCESS;
    size_t start = 0;
    for (size_t i = 0; i <= list.len; i++) {
        if (i == list.len || list.ptr[i] == ',') {
            add(txn, list.ptr + start, i - start, has_id ? &id : NULL);
            start = i + 1;
        }
    }
    if (api->header_get(txn, HY_MSG_CLIENT_REQUEST, "X-Transform-Threshold", 21, 0, &value) ==
        HY_SUCCESS) {
        char n[16] = {0};
        memcpy(n, value.ptr, value.len < 15 ? value.len : 15);
        api->threshold_set(api->plugin, HY_HOOK_LEVEL_TXN, txn, HY_HOOK_ANY, (int32_t)atoi(n));
    }
    if (api->header_get(txn, HY_MSG_CLIENT_REQUEST, "X-Transform-Self-Off", 20, 0, &value) ==
        HY_SUCCESS) {
        api->plugin_enable_set(api->plugin, HY_HOOK_LEVEL_TXN, txn, "transform_probe", 15, 0);
    }
    return HY_HOOK_CONTINUE;
}

static int on_response(hy_cont *cont, hy_event event, void *edata) {
    (void)cont;
    (void)event;
    hy_txn *txn = edata;
    hy_str reason, dir, wanted;
    if (api->reason_get(txn, HY_MSG_CLIENT_RESPONSE, &reason) == HY_SUCCESS) {
        api->header_set(txn, HY_MSG_CLIENT_RESPONSE, "X-Reason-Was", 12, reason.ptr, reason.len);
    }
    if (api->config_dir_get(api->plugin, &dir) == HY_SUCCESS) {
        api->header_set(txn, HY_MSG_CLIENT_RESPONSE, "X-Config-Dir", 12, dir.ptr, dir.len);
    }
    if (api->header_get(txn, HY_MSG_CLIENT_REQUEST, "X-Reason", 8, 0, &wanted) == HY_SUCCESS) {
        int ok = api->reason_set(txn, HY_MSG_CLIENT_RESPONSE, wanted.ptr, wanted.len) == HY_SUCCESS;
        api->header_set(txn, HY_MSG_CLIENT_RESPONSE, "X-Reason-Set", 12, ok ? "ok" : "refused",
                        ok ? 2 : 7);
    }
    return HY_HOOK_CONTINUE;
}

HY_EXPORT hy_return hy_plugin_init(const hy_api *host, int32_t argc, const char **argv,
                                   char *errbuf, int32_t errbuf_size) {
    api = host;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "out=", 4) == 0) {
            snprintf(out_dir, sizeof out_dir, "%s", argv[i] + 4);
        } else if (strncmp(argv[i], "always=", 7) == 0) {
            snprintf(always, sizeof always, "%s", argv[i] + 7);
        }
    }
    hy_cont *cont = api->cont_create(api->plugin, on_request, NULL);
    hy_cont *response = api->cont_create(api->plugin, on_response, NULL);
    if (api->hook_add(HY_HOOK_LEVEL_GLOBAL, NULL, HY_HOOK_READ_REQUEST_HDR, cont,
                      HY_PRIORITY_DEFAULT, NULL) != HY_SUCCESS ||
        api->hook_add(HY_HOOK_LEVEL_GLOBAL, NULL, HY_HOOK_SEND_RESPONSE_HDR, response,
                      HY_PRIORITY_DEFAULT, NULL) != HY_SUCCESS) {
        snprintf(errbuf, (size_t)errbuf_size, "hook_add failed");
        return HY_ERROR;
    }
    return HY_SUCCESS;
}
