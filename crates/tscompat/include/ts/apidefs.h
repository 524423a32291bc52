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
    /* Body transforms: register a TSTransformCreate vconnection with TSHttpTxnHookAdd. */
    TS_HTTP_REQUEST_TRANSFORM_HOOK = 6,
    TS_HTTP_RESPONSE_TRANSFORM_HOOK = 7,
    TS_HTTP_TXN_START_HOOK = 9,
    TS_HTTP_TXN_CLOSE_HOOK = 10,
    TS_HTTP_SSN_START_HOOK = 11,
    TS_HTTP_SSN_CLOSE_HOOK = 12,
    TS_HTTP_PRE_REMAP_HOOK = 14,
    TS_HTTP_POST_REMAP_HOOK = 15,
} TSHttpHookID;

/* The lifecycle hooks hookyard runs; the values are ATS's. */
typedef enum {
    /* An operator's message: `hookyard ctl plugin msg NAME TAG [DATA]`; edata a TSPluginMsg *. */
    TS_LIFECYCLE_MSG_HOOK = 5,
    TS_LIFECYCLE_SHUTDOWN_HOOK = 7,
} TSLifecycleHookID;

/* What TS_LIFECYCLE_MSG_HOOK's continuation gets; valid for the call. */
typedef struct {
    /* NUL-terminated. */
    const char *tag;
    void const *data;
    size_t data_size;
} TSPluginMsg;

/* Events a continuation receives; a hook's event is TS_EVENT_HTTP_READ_REQUEST_HDR plus the
 * hook's id. */
typedef enum {
    TS_EVENT_NONE = 0,
    TS_EVENT_IMMEDIATE = 1,
    TS_EVENT_TIMEOUT = 2,
    TS_EVENT_ERROR = 3,
    TS_EVENT_CONTINUE = 4,
    /* A vconnection's events, as a transform sees them. */
    TS_EVENT_VCONN_READ_READY = 100,
    TS_EVENT_VCONN_WRITE_READY = 101,
    TS_EVENT_VCONN_READ_COMPLETE = 102,
    TS_EVENT_VCONN_WRITE_COMPLETE = 103,
    TS_EVENT_VCONN_EOS = 104,

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

    TS_EVENT_LIFECYCLE_MSG = 60105,
    TS_EVENT_LIFECYCLE_SHUTDOWN = 60107,
} TSEvent;

/* HTTP status codes, as TSHttpTxnStatusSet takes them. */
typedef enum {
    TS_HTTP_STATUS_NONE = 0,
    TS_HTTP_STATUS_CONTINUE = 100,
    TS_HTTP_STATUS_SWITCHING_PROTOCOL = 101,
    TS_HTTP_STATUS_EARLY_HINTS = 103,
    TS_HTTP_STATUS_OK = 200,
    TS_HTTP_STATUS_CREATED = 201,
    TS_HTTP_STATUS_ACCEPTED = 202,
    TS_HTTP_STATUS_NON_AUTHORITATIVE_INFORMATION = 203,
    TS_HTTP_STATUS_NO_CONTENT = 204,
    TS_HTTP_STATUS_RESET_CONTENT = 205,
    TS_HTTP_STATUS_PARTIAL_CONTENT = 206,
    TS_HTTP_STATUS_MULTI_STATUS = 207,
    TS_HTTP_STATUS_ALREADY_REPORTED = 208,
    TS_HTTP_STATUS_IM_USED = 211,
    TS_HTTP_STATUS_MULTIPLE_CHOICES = 300,
    TS_HTTP_STATUS_MOVED_PERMANENTLY = 301,
    TS_HTTP_STATUS_MOVED_TEMPORARILY = 302,
    TS_HTTP_STATUS_SEE_OTHER = 303,
    TS_HTTP_STATUS_NOT_MODIFIED = 304,
    TS_HTTP_STATUS_USE_PROXY = 305,
    TS_HTTP_STATUS_TEMPORARY_REDIRECT = 307,
    TS_HTTP_STATUS_PERMANENT_REDIRECT = 308,
    TS_HTTP_STATUS_BAD_REQUEST = 400,
    TS_HTTP_STATUS_UNAUTHORIZED = 401,
    TS_HTTP_STATUS_PAYMENT_REQUIRED = 402,
    TS_HTTP_STATUS_FORBIDDEN = 403,
    TS_HTTP_STATUS_NOT_FOUND = 404,
    TS_HTTP_STATUS_METHOD_NOT_ALLOWED = 405,
    TS_HTTP_STATUS_NOT_ACCEPTABLE = 406,
    TS_HTTP_STATUS_PROXY_AUTHENTICATION_REQUIRED = 407,
    TS_HTTP_STATUS_REQUEST_TIMEOUT = 408,
    TS_HTTP_STATUS_CONFLICT = 409,
    TS_HTTP_STATUS_GONE = 410,
    TS_HTTP_STATUS_LENGTH_REQUIRED = 411,
    TS_HTTP_STATUS_PRECONDITION_FAILED = 412,
    TS_HTTP_STATUS_REQUEST_ENTITY_TOO_LARGE = 413,
    TS_HTTP_STATUS_REQUEST_URI_TOO_LONG = 414,
    TS_HTTP_STATUS_UNSUPPORTED_MEDIA_TYPE = 415,
    TS_HTTP_STATUS_REQUESTED_RANGE_NOT_SATISFIABLE = 416,
    TS_HTTP_STATUS_EXPECTATION_FAILED = 417,
    TS_HTTP_STATUS_UNPROCESSABLE_ENTITY = 422,
    TS_HTTP_STATUS_LOCKED = 423,
    TS_HTTP_STATUS_FAILED_DEPENDENCY = 424,
    TS_HTTP_STATUS_UPGRADE_REQUIRED = 426,
    TS_HTTP_STATUS_PRECONDITION_REQUIRED = 428,
    TS_HTTP_STATUS_TOO_MANY_REQUESTS = 429,
    TS_HTTP_STATUS_REQUEST_HEADER_FIELDS_TOO_LARGE = 431,
    TS_HTTP_STATUS_UNAVAILABLE_FOR_LEGAL_REASONS = 451,
    TS_HTTP_STATUS_INTERNAL_SERVER_ERROR = 500,
    TS_HTTP_STATUS_NOT_IMPLEMENTED = 501,
    TS_HTTP_STATUS_BAD_GATEWAY = 502,
    TS_HTTP_STATUS_SERVICE_UNAVAILABLE = 503,
    TS_HTTP_STATUS_GATEWAY_TIMEOUT = 504,
    TS_HTTP_STATUS_HTTPVER_NOT_SUPPORTED = 505,
    TS_HTTP_STATUS_VARIANT_ALSO_NEGOTIATES = 506,
    TS_HTTP_STATUS_INSUFFICIENT_STORAGE = 507,
    TS_HTTP_STATUS_LOOP_DETECTED = 508,
    TS_HTTP_STATUS_NOT_EXTENDED = 510,
    TS_HTTP_STATUS_NETWORK_AUTHENTICATION_REQUIRED = 511,
} TSHttpStatus;

/* The kinds of user argument slots; the values are ATS's (and hookyard's). */
typedef enum {
    TS_USER_ARGS_TXN = 0,
    TS_USER_ARGS_SSN = 1,
    TS_USER_ARGS_VCONN = 2,
    TS_USER_ARGS_GLB = 3,
    TS_USER_ARGS_COUNT = 4,
} TSUserArgType;

/* Statistics: only integer ones exist; persistence and sync are accepted and ignored. */
typedef int64_t TSMgmtInt;
typedef enum {
    TS_RECORDDATATYPE_NULL = 0,
    TS_RECORDDATATYPE_INT = 1,
} TSRecordDataType;
typedef enum {
    TS_STAT_PERSISTENT = 1,
    TS_STAT_NON_PERSISTENT = 2,
} TSStatPersistence;
typedef enum {
    TS_STAT_SYNC_SUM = 0,
    TS_STAT_SYNC_COUNT = 1,
    TS_STAT_SYNC_AVG = 2,
    TS_STAT_SYNC_TIMEAVG = 3,
} TSStatSync;

/* An origin host's status (TSHostStatusGet/Set): the hosts of the proxy's strategies. */
typedef enum {
    TS_HOST_STATUS_INIT,
    TS_HOST_STATUS_DOWN,
    TS_HOST_STATUS_UP,
} TSHostStatus;

/* Why a host is down, as bits. */
typedef enum {
    TS_HOST_STATUS_ACTIVE = 0x1,
    TS_HOST_STATUS_LOCAL = 0x2,
    TS_HOST_STATUS_MANUAL = 0x4,
    TS_HOST_STATUS_SELF_DETECT = 0x8,
    TS_HOST_STATUS_ALL = 0xf,
} TSHostStatusReason;

/* Opaque handles. */
typedef struct tsapi_mloc *TSMLoc;
typedef struct tsapi_mbuffer *TSMBuffer;
typedef struct tsapi_httpssn *TSHttpSsn;
typedef struct tsapi_httptxn *TSHttpTxn;
typedef struct tsapi_mutex *TSMutex;
typedef struct tsapi_cont *TSCont;

/* Scheduling: where an event runs (every pool is the proxy's own threads here) and its delay
 * in milliseconds. */
typedef enum {
    TS_THREAD_POOL_NET,
    TS_THREAD_POOL_TASK,
    TS_THREAD_POOL_DNS,
    TS_THREAD_POOL_UDP,
} TSThreadPool;
typedef int64_t TSHRTime;

/* Body transforms: a vconnection is a continuation (TSContDataGet works on it). */
typedef struct tsapi_cont *TSVConn;
typedef struct tsapi_vio *TSVIO;
typedef struct tsapi_action *TSAction;
typedef struct tsapi_iobuffer *TSIOBuffer;
typedef struct tsapi_bufferblock *TSIOBufferBlock;
typedef struct tsapi_bufferreader *TSIOBufferReader;

/* The sizes TSIOBufferSizedCreate takes: 128 bytes << index. */
typedef enum {
    TS_IOBUFFER_SIZE_INDEX_128 = 0,
    TS_IOBUFFER_SIZE_INDEX_256 = 1,
    TS_IOBUFFER_SIZE_INDEX_512 = 2,
    TS_IOBUFFER_SIZE_INDEX_1K = 3,
    TS_IOBUFFER_SIZE_INDEX_2K = 4,
    TS_IOBUFFER_SIZE_INDEX_4K = 5,
    TS_IOBUFFER_SIZE_INDEX_8K = 6,
    TS_IOBUFFER_SIZE_INDEX_16K = 7,
    TS_IOBUFFER_SIZE_INDEX_32K = 8,
    TS_IOBUFFER_SIZE_INDEX_64K = 9,
    TS_IOBUFFER_SIZE_INDEX_128K = 10,
    TS_IOBUFFER_SIZE_INDEX_256K = 11,
    TS_IOBUFFER_SIZE_INDEX_512K = 12,
    TS_IOBUFFER_SIZE_INDEX_1M = 13,
    TS_IOBUFFER_SIZE_INDEX_2M = 14,
} TSIOBufferSizeIndex;

/* The "no location" value: a TSMLoc that names nothing. */
#define TS_NULL_MLOC ((TSMLoc)0)

/* A continuation's handler. */
typedef int (*TSEventFunc)(TSCont contp, TSEvent event, void *edata);

#ifdef __cplusplus
}
#endif

#endif /* HOOKYARD_TS_APIDEFS_H */
