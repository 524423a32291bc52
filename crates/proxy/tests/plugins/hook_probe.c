/*
 * hook_probe: a global test plugin for the proxy's hook dispatch. Built once per name with
 * -DPROBE_NAME='"alpha"' (its descriptor name, so priorities can tell builds apart). Built with
 * -DPROBE_VERSION='"2.0.0"' too, that is its descriptor version (else 1.0.0), and
 * SEND_RESPONSE_HDR also adds `X-Probe-Version: VERSION` (canaries tell the two builds apart).
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
 *   resume_twice   READ_REQUEST_HDR answers PENDING; a thread resumes 20 ms later, and again
 *                  130 ms after that (the second resume must be refused)
 *   deny_late      READ_REQUEST_HDR answers PENDING; a thread sets a direct 403 300 ms later,
 *                  then resumes
 *   late=MS        READ_REQUEST_HDR answers PENDING; a thread resumes only MS ms later
 *   resume_now     READ_REQUEST_HDR calls txn_resume with nothing pending, then continues
 *   block=MS       READ_REQUEST_HDR blocks its thread (the worker) MS ms
 *   close_pending=MS  TXN_CLOSE answers PENDING; a thread MS ms later gets the transaction's
 *                  session (txn_ssn_get), counts the resume in a session user arg, takes a
 *                  number of the global sequence and resumes. SSN_CLOSE reads that user arg and
 *                  takes a number too. SEND_RESPONSE_HDR adds
 *                  `X-Probe-Close-Order: resumed=R ssn_close=S saw=N`: the numbers of the last
 *                  such resume and SSN_CLOSE (0: none yet), and how many resumes of its session
 *                  that SSN_CLOSE saw
 *   linger         done keeps its scheduled continuation (the version stays loaded by it)
 *   tick=MS        the continuation scheduled in init schedules itself again MS ms after each
 *                  run (a periodic event, counted in X-Probe-Scheduled)
 *   dns=ADDR       an OS_DNS callback adds `X-Probe-Dns-Was: <the resolved address>` to the
 *                  client request and connects the transaction to ADDR instead
 *   addr=ADDR      READ_REQUEST_HDR connects the transaction to ADDR (no resolution)
 *   hold=DIR       a request with `X-Probe-Hold: NAME` pends at READ_REQUEST_HDR: the probe
 *                  creates DIR/NAME.pending, and a thread resumes the transaction once DIR/NAME
 *                  exists (at most 30 s); its TXN_CLOSE creates DIR/NAME.closed
 *   hold_ssn       with hold=DIR: SSN_START pends the same way, as NAME `ssn`
 *
 * What it does on every transaction it runs for:
 *   READ_REQUEST_HDR   appends `X-Probe: NAME` to the client request (the origin echoes it)
 *                      and registers a transaction-level SEND_RESPONSE_HDR callback
 *   SEND_RESPONSE_HDR  appends `X-Probe-Order: NAME` (global callback) and
 *                      `X-Probe-Txn: NAME` (transaction callback) to the client response, and
 *                      `X-Probe-Closed: N` (TXN_CLOSE calls seen so far) and
 *                      `X-Probe-Scheduled: N` (scheduled events run so far),
 *                      `X-Probe-Sessions: STARTS/CLOSES` (SSN_START and SSN_CLOSE seen) and
 *                      `X-Probe-Loaded: N` (PLUGINS_LOADED seen) and
 *                      `X-Probe-Refused: N` (resumes the host refused so far), and what the
 *                      client connection's functions write (`-` for HY_ERROR):
 *                      `X-Client-Addr`, `X-Incoming-Addr`, `X-Client-Scheme`, `X-Client-Sni`,
 *                      `X-Client-Alpn`, `X-Client-Tls`, `X-Client-Protocol`
 *   TXN_CLOSE, SSN_START, SSN_CLOSE, PLUGINS_LOADED   count
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hookyard.h"

#ifndef PROBE_NAME
#define PROBE_NAME "probe"
#endif

#ifdef PROBE_VERSION
#define PROBE_STAMPS_VERSION 1
#else
#define PROBE_VERSION "1.0.0"
#define PROBE_STAMPS_VERSION 0
#endif

HY_PLUGIN_DESCRIPTOR(PROBE_NAME, PROBE_VERSION, 0);

static const hy_api *api;
static hy_cont *global_cont;
static hy_cont *txn_cont;
static hy_cont *tick_cont;
static int pending, fail, deny, resume_twice, deny_late, late_ms = -1, resume_now, status, block_ms;
static int linger, close_pending_ms = -1, tick_ms;
static char dns_addr[64], set_addr[64];
/* hold's directory (empty: off). */
static char hold_dir[400];
static int hold_ssn;
/* The session user arg close_pending counts resumes in. */
static int32_t ssn_arg;
/* close_pending's order: a global sequence, the numbers the last TXN_CLOSE resume and the last
 * SSN_CLOSE took, and what that SSN_CLOSE read from its session. */
static atomic_int sequence, close_resumed_at, ssn_closed_at, ssn_close_saw;
static char disable[64];
static char shutdown_path[512];
static atomic_int closed, scheduled, ssn_starts, ssn_closes, loaded, refused;
/* Threads started for pending hooks and not finished: done waits for them (its code goes). */
static atomic_int threads;

static void add(hy_txn *txn, hy_msg msg, const char *name, const char *value) {
    api->header_add(txn, msg, name, strlen(name), value, strlen(value));
}

/* What each of the client connection's functions writes, as a field of the client response
 * (`-` when it answers HY_ERROR). */
static void add_client_connection(hy_txn *txn) {
    struct {
        const char *field;
        hy_return (*get)(hy_txn *txn, hy_str *out);
    } const fields[] = {
        {"X-Client-Addr", api->client_addr_get},
        {"X-Incoming-Addr", api->incoming_addr_get},
        {"X-Client-Scheme", api->client_scheme_get},
        {"X-Client-Sni", api->client_sni_get},
        {"X-Client-Alpn", api->client_alpn_get},
        {"X-Client-Tls", api->client_tls_version_get},
        {"X-Client-Protocol", api->client_protocol_get},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        hy_str value;
        char text[128] = "-";
        if (fields[i].get(txn, &value) == HY_SUCCESS) {
            snprintf(text, sizeof text, "%.*s", (int)value.len, value.ptr);
        }
        add(txn, HY_MSG_CLIENT_RESPONSE, fields[i].field, text);
    }
}

static void *resume_later_body(void *txn);

static void *resume_later(void *txn) {
    resume_later_body(txn);
    atomic_fetch_sub(&threads, 1);
    return NULL;
}

static void *resume_later_body(void *txn) {
    struct timespec pause = {0, 20 * 1000 * 1000};
    nanosleep(&pause, NULL);
    add((hy_txn *)txn, HY_MSG_CLIENT_REQUEST, "X-Probe-Resumed", PROBE_NAME);
    api->txn_resume((hy_txn *)txn, HY_HOOK_CONTINUE);
    return NULL;
}

static void pause_ms(int ms) {
    struct timespec pause = {ms / 1000, (long)(ms % 1000) * 1000 * 1000};
    nanosleep(&pause, NULL);
}

static void resume_counted(hy_txn *txn) {
    if (api->txn_resume(txn, HY_HOOK_CONTINUE) != HY_SUCCESS) {
        atomic_fetch_add(&refused, 1);
    }
}

static void *resume_twice_later(void *txn) {
    pause_ms(20);
    resume_counted(txn);
    pause_ms(130);
    resume_counted(txn);
    atomic_fetch_sub(&threads, 1);
    return NULL;
}

static void *deny_later(void *txn) {
    pause_ms(300);
    api->direct_response(txn, 403, "denied\n", 7);
    add(txn, HY_MSG_CLIENT_RESPONSE, "X-Denied-By", PROBE_NAME);
    resume_counted(txn);
    atomic_fetch_sub(&threads, 1);
    return NULL;
}

static void *resume_very_late(void *txn) {
    pause_ms(late_ms);
    resume_counted(txn);
    atomic_fetch_sub(&threads, 1);
    return NULL;
}

/* The transaction's session, used after the client left: the session must outlive it. */
static void *resume_close_later(void *txn) {
    pause_ms(close_pending_ms);
    hy_ssn *ssn = api->txn_ssn_get(txn);
    void *seen = NULL;
    if (ssn != NULL && api->user_arg_get(ssn, ssn_arg, &seen) == HY_SUCCESS) {
        api->user_arg_set(ssn, ssn_arg, (void *)((intptr_t)seen + 1));
    }
    atomic_store(&close_resumed_at, atomic_fetch_add(&sequence, 1) + 1);
    resume_counted(txn);
    atomic_fetch_sub(&threads, 1);
    return NULL;
}

/* Runs `body` on a detached thread with the transaction; PENDING, or ERROR without a thread. */
static int32_t pend_with(void *(*body)(void *), hy_txn *txn) {
    pthread_t thread;
    atomic_fetch_add(&threads, 1);
    if (pthread_create(&thread, NULL, body, txn) != 0) {
        atomic_fetch_sub(&threads, 1);
        return HY_HOOK_ERROR;
    }
    pthread_detach(thread);
    return HY_HOOK_PENDING;
}

/* The request's `X-Probe-Hold` name into `name` (0 when it has none or hold is off). */
static int hold_name(hy_txn *txn, char *name, size_t size) {
    hy_str value;
    if (!hold_dir[0] || api->header_get(txn, HY_MSG_CLIENT_REQUEST, "X-Probe-Hold", 12, 0,
                                        &value) != HY_SUCCESS) {
        return 0;
    }
    snprintf(name, size, "%s/%.*s", hold_dir, (int)value.len, value.ptr);
    return 1;
}

static void touch_file(const char *path, const char *suffix) {
    char full[600];
    snprintf(full, sizeof full, "%s%s", path, suffix);
    FILE *out = fopen(full, "w");
    if (out) {
        fclose(out);
    }
}

struct hold {
    hy_txn *txn;
    hy_ssn *ssn;
    char path[520];
};

static void *release_when_told(void *arg) {
    struct hold *hold = arg;
    for (int i = 0; i < 30000; i++) {
        FILE *in = fopen(hold->path, "r");
        if (in) {
            fclose(in);
            break;
        }
        pause_ms(1);
    }
    if (hold->ssn != NULL) {
        api->ssn_resume(hold->ssn, HY_HOOK_CONTINUE);
    } else {
        resume_counted(hold->txn);
    }
    free(hold);
    atomic_fetch_sub(&threads, 1);
    return NULL;
}

/* Pends a transaction (or, with `ssn`, a session) until DIR/NAME exists (see `hold`). */
static int32_t hold_until_told(hy_txn *txn, hy_ssn *ssn, const char *path) {
    struct hold *hold = malloc(sizeof *hold);
    pthread_t thread;
    if (hold == NULL) {
        return HY_HOOK_ERROR;
    }
    hold->txn = txn;
    hold->ssn = ssn;
    snprintf(hold->path, sizeof hold->path, "%s", path);
    atomic_fetch_add(&threads, 1);
    if (pthread_create(&thread, NULL, release_when_told, hold) != 0) {
        atomic_fetch_sub(&threads, 1);
        free(hold);
        return HY_HOOK_ERROR;
    }
    pthread_detach(thread);
    /* Told only now: the thread exists, so the hook is pending once this returns. */
    touch_file(path, ".pending");
    return HY_HOOK_PENDING;
}

static int32_t on_global(hy_cont *cont, hy_event event, void *edata) {
    (void)cont;
    hy_txn *txn = edata;
    char number[32];
    char held[520];
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
        if (resume_now) {
            resume_counted(txn);
        }
        if (block_ms > 0) {
            pause_ms(block_ms);
        }
        if (set_addr[0] && api->server_addr_set(txn, set_addr, strlen(set_addr)) != HY_SUCCESS) {
            return HY_HOOK_ERROR;
        }
        if (hold_name(txn, held, sizeof held)) {
            return hold_until_told(txn, NULL, held);
        }
        if (pending) {
            return pend_with(resume_later, txn);
        }
        if (resume_twice) {
            return pend_with(resume_twice_later, txn);
        }
        if (deny_late) {
            return pend_with(deny_later, txn);
        }
        if (late_ms >= 0) {
            return pend_with(resume_very_late, txn);
        }
        return HY_HOOK_CONTINUE;
    case HY_HOOK_SEND_RESPONSE_HDR:
        if (status) {
            int32_t set = api->status_set(txn, HY_MSG_CLIENT_RESPONSE, status);
            add(txn, HY_MSG_CLIENT_RESPONSE, "X-Status-Set", set == HY_SUCCESS ? "ok" : "refused");
        }
        add(txn, HY_MSG_CLIENT_RESPONSE, "X-Probe-Order", PROBE_NAME);
        if (PROBE_STAMPS_VERSION) {
            add(txn, HY_MSG_CLIENT_RESPONSE, "X-Probe-Version", PROBE_VERSION);
        }
        snprintf(number, sizeof number, "%d", atomic_load(&closed));
        add(txn, HY_MSG_CLIENT_RESPONSE, "X-Probe-Closed", number);
        snprintf(number, sizeof number, "%d", atomic_load(&scheduled));
        add(txn, HY_MSG_CLIENT_RESPONSE, "X-Probe-Scheduled", number);
        snprintf(number, sizeof number, "%d/%d", atomic_load(&ssn_starts),
                 atomic_load(&ssn_closes));
        add(txn, HY_MSG_CLIENT_RESPONSE, "X-Probe-Sessions", number);
        snprintf(number, sizeof number, "%d", atomic_load(&loaded));
        add(txn, HY_MSG_CLIENT_RESPONSE, "X-Probe-Loaded", number);
        snprintf(number, sizeof number, "%d", atomic_load(&refused));
        add(txn, HY_MSG_CLIENT_RESPONSE, "X-Probe-Refused", number);
        add_client_connection(txn);
        if (close_pending_ms >= 0) {
            char order[96];
            snprintf(order, sizeof order, "resumed=%d ssn_close=%d saw=%d",
                     atomic_load(&close_resumed_at), atomic_load(&ssn_closed_at),
                     atomic_load(&ssn_close_saw));
            add(txn, HY_MSG_CLIENT_RESPONSE, "X-Probe-Close-Order", order);
        }
        return HY_HOOK_CONTINUE;
    case HY_HOOK_OS_DNS: {
        hy_str was;
        if (api->server_addr_get(txn, &was) == HY_SUCCESS) {
            snprintf(number, sizeof number, "%.*s", (int)was.len, was.ptr);
            add(txn, HY_MSG_CLIENT_REQUEST, "X-Probe-Dns-Was", number);
        }
        if (api->server_addr_set(txn, dns_addr, strlen(dns_addr)) != HY_SUCCESS) {
            return HY_HOOK_ERROR;
        }
        return HY_HOOK_CONTINUE;
    }
    case HY_HOOK_TXN_CLOSE:
        atomic_fetch_add(&closed, 1);
        if (hold_name(txn, held, sizeof held)) {
            touch_file(held, ".closed");
        }
        if (close_pending_ms >= 0) {
            return pend_with(resume_close_later, txn);
        }
        return HY_HOOK_CONTINUE;
    case HY_HOOK_SSN_START:
        atomic_fetch_add(&ssn_starts, 1);
        if (hold_ssn && hold_dir[0]) {
            snprintf(held, sizeof held, "%s/ssn", hold_dir);
            return hold_until_told(NULL, edata, held);
        }
        return HY_HOOK_CONTINUE;
    case HY_HOOK_SSN_CLOSE:
        atomic_fetch_add(&ssn_closes, 1);
        if (close_pending_ms >= 0) {
            void *seen = NULL;
            api->user_arg_get(edata, ssn_arg, &seen);
            atomic_store(&ssn_close_saw, (int)(intptr_t)seen);
            atomic_store(&ssn_closed_at, atomic_fetch_add(&sequence, 1) + 1);
        }
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
        if (tick_ms > 0) {
            api->cont_schedule(cont, tick_ms);
        }
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
        } else if (strcmp(argv[i], "resume_twice") == 0) {
            resume_twice = 1;
        } else if (strcmp(argv[i], "deny_late") == 0) {
            deny_late = 1;
        } else if (strncmp(argv[i], "late=", 5) == 0) {
            late_ms = atoi(argv[i] + 5);
        } else if (strncmp(argv[i], "dns=", 4) == 0) {
            snprintf(dns_addr, sizeof dns_addr, "%s", argv[i] + 4);
        } else if (strncmp(argv[i], "addr=", 5) == 0) {
            snprintf(set_addr, sizeof set_addr, "%s", argv[i] + 5);
        } else if (strncmp(argv[i], "hold=", 5) == 0) {
            snprintf(hold_dir, sizeof hold_dir, "%s", argv[i] + 5);
        } else if (strcmp(argv[i], "hold_ssn") == 0) {
            hold_ssn = 1;
        } else if (strcmp(argv[i], "linger") == 0) {
            linger = 1;
        } else if (strncmp(argv[i], "tick=", 5) == 0) {
            tick_ms = atoi(argv[i] + 5);
        } else if (strncmp(argv[i], "block=", 6) == 0) {
            block_ms = atoi(argv[i] + 6);
        } else if (strncmp(argv[i], "close_pending=", 14) == 0) {
            close_pending_ms = atoi(argv[i] + 14);
        } else if (strcmp(argv[i], "resume_now") == 0) {
            resume_now = 1;
        } else if (strcmp(argv[i], "init-fails") == 0) {
            snprintf(errbuf, (size_t)errbuf_size, "init refused on purpose");
            return HY_ERROR;
        } else {
            snprintf(errbuf, (size_t)errbuf_size, "unknown param %s", argv[i]);
            return HY_ERROR;
        }
    }
    if (close_pending_ms >= 0 &&
        api->user_arg_reserve(HY_USER_ARG_SSN, "hook_probe." PROBE_NAME ".closes", NULL,
                              &ssn_arg) != HY_SUCCESS) {
        snprintf(errbuf, (size_t)errbuf_size, "user_arg_reserve failed");
        return HY_ERROR;
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
    if (dns_addr[0] && api->hook_add(HY_HOOK_LEVEL_GLOBAL, NULL, HY_HOOK_OS_DNS, global_cont,
                                     HY_PRIORITY_DEFAULT, NULL) != HY_SUCCESS) {
        snprintf(errbuf, (size_t)errbuf_size, "hook_add OS_DNS failed");
        return HY_ERROR;
    }
    api->cont_schedule(tick_cont, 0);
    return HY_SUCCESS;
}

HY_EXPORT void hy_plugin_done(void) {
    while (atomic_load(&threads) > 0) {
        pause_ms(5);
    }
    api->cont_destroy(global_cont);
    api->cont_destroy(txn_cont);
    if (!linger) {
        api->cont_destroy(tick_cont);
    }
}
