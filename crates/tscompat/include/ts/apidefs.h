/*
 * ts/apidefs.h: the types and constants of Apache Traffic Server's plugin API (9.2) that
 * hookyard's compatibility layer implements, with ATS's names and values.
 *
 * Only what hookyard implements is declared: an ATS plugin that uses anything else fails to
 * compile, naming the missing item. docs/porting.md lists the subset and every difference.
 */
#ifndef HOOKYARD_TS_APIDEFS_H
#define HOOKYARD_TS_APIDEFS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef tsapi
#define tsapi
#endif

#if defined(__GNUC__) || defined(__clang__)
#define TS_PRINTFLIKE(fmt, arg) __attribute__((format(printf, fmt, arg)))
#else
#define TS_PRINTFLIKE(fmt, arg)
#endif

typedef enum {
    TS_ERROR = -1,
    TS_SUCCESS = 0,
} TSReturnCode;

/* What TSPluginRegister is told about the plugin. */
typedef struct {
    const char *plugin_name;
    const char *vendor_name;
    const char *support_email;
} TSPluginRegistrationInfo;

/* The transaction and session hooks hookyard runs; the values are ATS's (and hookyard's). */
typedef enum {
    TS_HTTP_READ_REQUEST_HDR_HOOK = 0,
    TS_HTTP_OS_DNS_HOOK = 1,
    TS_HTTP_SEND_REQUEST_HDR_HOOK = 2,
    TS_HTTP_READ_RESPONSE_HDR_HOOK = 4,
    TS_HTTP_SEND_RESPONSE_HDR_HOOK = 5,
    TS_HTTP_TXN_START_HOOK = 9,
    TS_HTTP_TXN_CLOSE_HOOK = 10,
    TS_HTTP_SSN_START_HOOK = 11,
    TS_HTTP_SSN_CLOSE_HOOK = 12,
    TS_HTTP_PRE_REMAP_HOOK = 14,
    TS_HTTP_POST_REMAP_HOOK = 15,
} TSHttpHookID;

/* Events a continuation receives; a hook's event is TS_EVENT_HTTP_READ_REQUEST_HDR plus the
 * hook's id. */
typedef enum {
    TS_EVENT_NONE = 0,
    TS_EVENT_IMMEDIATE = 1,
    TS_EVENT_TIMEOUT = 2,
    TS_EVENT_ERROR = 3,
    TS_EVENT_CONTINUE = 4,

    TS_EVENT_HTTP_CONTINUE = 60000,
    TS_EVENT_HTTP_ERROR = 60001,
    TS_EVENT_HTTP_READ_REQUEST_HDR = 60002,
    TS_EVENT_HTTP_OS_DNS = 60003,
    TS_EVENT_HTTP_SEND_REQUEST_HDR = 60004,
    TS_EVENT_HTTP_READ_RESPONSE_HDR = 60006,
    TS_EVENT_HTTP_SEND_RESPONSE_HDR = 60007,
    TS_EVENT_HTTP_TXN_START = 60011,
    TS_EVENT_HTTP_TXN_CLOSE = 60012,
    TS_EVENT_HTTP_SSN_START = 60013,
    TS_EVENT_HTTP_SSN_CLOSE = 60014,
    TS_EVENT_HTTP_PRE_REMAP = 60016,
    TS_EVENT_HTTP_POST_REMAP = 60017,
} TSEvent;

/* Opaque handles. */
typedef struct tsapi_mloc *TSMLoc;
typedef struct tsapi_mbuffer *TSMBuffer;
typedef struct tsapi_httpssn *TSHttpSsn;
typedef struct tsapi_httptxn *TSHttpTxn;
typedef struct tsapi_mutex *TSMutex;
typedef struct tsapi_cont *TSCont;

/* The "no location" value: a TSMLoc that names nothing. */
#define TS_NULL_MLOC ((TSMLoc)0)

/* A continuation's handler. */
typedef int (*TSEventFunc)(TSCont contp, TSEvent event, void *edata);

#ifdef __cplusplus
}
#endif

#endif /* HOOKYARD_TS_APIDEFS_H */
