/*
 * ts/ts.h: the functions of Apache Traffic Server's plugin API (9.2) that hookyard's
 * compatibility layer implements, with ATS's names and signatures. Build a plugin with
 * `cargo xtask ts-plugin SRC... -o OUT.so`; docs/porting.md lists the subset and every
 * difference from ATS.
 */
#ifndef HOOKYARD_TS_TS_H
#define HOOKYARD_TS_TS_H

#include "apidefs.h"

struct sockaddr;

#ifdef __cplusplus
extern "C" {
#endif

/* -- Memory: the pointer of one call, freed by the other ------------------------------------- */

#define TS_RES_MEM_PATH __FILE__
#define TSmalloc(s) _TSmalloc((s), TS_RES_MEM_PATH)
#define TSstrdup(p) _TSstrdup((p), -1, TS_RES_MEM_PATH)
#define TSstrndup(p, n) _TSstrdup((p), (n), TS_RES_MEM_PATH)
#define TSfree(p) _TSfree(p)
tsapi void *_TSmalloc(size_t size, const char *path);
tsapi char *_TSstrdup(const char *str, int64_t length, const char *path);
tsapi void _TSfree(void *ptr);

/* -- Registration and logging ----------------------------------------------------------------- */

/* Entry point of a global plugin (plugin.yaml); argv[0] is the plugin's path. */
tsapi void TSPluginInit(int argc, const char *argv[]);
tsapi TSReturnCode TSPluginRegister(const TSPluginRegistrationInfo *plugin_info);

tsapi void TSStatus(const char *fmt, ...) TS_PRINTFLIKE(1, 2);
tsapi void TSNote(const char *fmt, ...) TS_PRINTFLIKE(1, 2);
tsapi void TSWarning(const char *fmt, ...) TS_PRINTFLIKE(1, 2);
tsapi void TSError(const char *fmt, ...) TS_PRINTFLIKE(1, 2);
tsapi int TSIsDebugTagSet(const char *t);
tsapi void TSDebug(const char *tag, const char *format_str, ...) TS_PRINTFLIKE(2, 3);

/* -- Continuations and hooks ------------------------------------------------------------------ */

tsapi TSMutex TSMutexCreate(void);
tsapi TSCont TSContCreate(TSEventFunc funcp, TSMutex mutexp);
tsapi void TSContDestroy(TSCont contp);
tsapi void TSContDataSet(TSCont contp, void *data);
tsapi void *TSContDataGet(TSCont contp);

tsapi void TSHttpHookAdd(TSHttpHookID id, TSCont contp);
tsapi void TSHttpTxnHookAdd(TSHttpTxn txnp, TSHttpHookID id, TSCont contp);
tsapi void TSHttpTxnReenable(TSHttpTxn txnp, TSEvent event);
tsapi void TSLifecycleHookAdd(TSLifecycleHookID id, TSCont contp);
tsapi void TSHttpSsnHookAdd(TSHttpSsn ssnp, TSHttpHookID id, TSCont contp);
tsapi void TSHttpSsnReenable(TSHttpSsn ssnp, TSEvent event);

tsapi TSHttpSsn TSHttpTxnSsnGet(TSHttpTxn txnp);
tsapi const char *TSConfigDirGet(void);
/* The directory the plugin's file was installed in (hookyard searches several plugin
 * directories: the one it was found in). */
tsapi const char *TSPluginDirGet(void);
tsapi TSMutex TSContMutexGet(TSCont contp);
/* Calls the continuation's handler now, on this thread, with its mutex held. */
tsapi int TSContCall(TSCont contp, TSEvent event, void *edata);

/* -- Scheduling ------------------------------------------------------------------------------- */
/* Calls the handler once after `timeout` milliseconds (TS_EVENT_TIMEOUT; TS_EVENT_IMMEDIATE for
 * 0) with the TSAction as edata, on one of the proxy's threads whatever the pool, and never
 * before the hook handler that scheduled it has returned. */
tsapi TSAction TSContSchedule(TSCont contp, TSHRTime timeout);
tsapi TSAction TSContScheduleOnPool(TSCont contp, TSHRTime timeout, TSThreadPool tp);
tsapi TSAction TSHttpSchedule(TSCont contp, TSHttpTxn txnp, TSHRTime timeout);
/* Calls the handler every `every` milliseconds (TS_EVENT_TIMEOUT) until cancelled. */
tsapi TSAction TSContScheduleEvery(TSCont contp, TSHRTime every);
tsapi TSAction TSContScheduleEveryOnPool(TSCont contp, TSHRTime every, TSThreadPool tp);
/* Cancels a scheduled call that has not run (any periodic one). */
tsapi void TSActionCancel(TSAction actionp);

/* The client's address and the proxy's address it connected to. Each call's answer stays valid
 * for the next 63 calls on the same thread: copy it to keep it longer. */
tsapi struct sockaddr const *TSHttpTxnClientAddrGet(TSHttpTxn txnp);
tsapi struct sockaddr const *TSHttpTxnIncomingAddrGet(TSHttpTxn txnp);

/* -- Origin hosts ------------------------------------------------------------------------------ */
/* Whether a host of the proxy's strategies (`host:port`, or a host) is up; TS_ERROR for a name
 * no strategy has. `reason` (optional) is 0: hookyard does not say why a host is down. */
tsapi TSReturnCode TSHostStatusGet(const char *hostname, const size_t hostname_len,
                                   TSHostStatus *status, unsigned int *reason);
/* Marks a host down (TS_HOST_STATUS_DOWN) or up, as `hookyard ctl host` does; `down_time` is
 * not supported (the mark holds until changed) and `reason` names the mark. */
tsapi void TSHostStatusSet(const char *hostname, const size_t hostname_len, TSHostStatus status,
                           const unsigned int down_time, const unsigned int reason);

/* -- Error responses -------------------------------------------------------------------------- */

/* Answers the client with `status` instead of going to the origin (before and at POST_REMAP),
 * or changes the client response's status (later). */
tsapi void TSHttpTxnStatusSet(TSHttpTxn txnp, TSHttpStatus status);
/* Answers the client with `buf` (taken over: allocate it with TSmalloc) as the body, of type
 * `mimetype` (taken over too; may be NULL), and the status TSHttpTxnStatusSet set (else 500). */
tsapi void TSHttpTxnErrorBodySet(TSHttpTxn txnp, char *buf, size_t buflength, char *mimetype);

/* -- User arguments --------------------------------------------------------------------------- */

tsapi TSReturnCode TSUserArgIndexReserve(TSUserArgType type, const char *name,
                                         const char *description, int *arg_idx);
tsapi TSReturnCode TSUserArgIndexNameLookup(TSUserArgType type, const char *name, int *arg_idx,
                                            const char **description);
tsapi TSReturnCode TSUserArgIndexLookup(TSUserArgType type, int arg_idx, const char **name,
                                        const char **description);
tsapi void TSUserArgSet(void *data, int arg_idx, void *arg);
tsapi void *TSUserArgGet(void *data, int arg_idx);

/* -- Statistics ------------------------------------------------------------------------------- */

/* Creates (or finds again, after a reload) the plugin's statistic `the_name`; its id, or
 * TS_ERROR. */
tsapi int TSStatCreate(const char *the_name, TSRecordDataType the_type, TSStatPersistence persist,
                       TSStatSync sync);
tsapi void TSStatIntIncrement(int the_stat, TSMgmtInt amount);
tsapi void TSStatIntDecrement(int the_stat, TSMgmtInt amount);
tsapi TSMgmtInt TSStatIntGet(int the_stat);
tsapi void TSStatIntSet(int the_stat, TSMgmtInt value);

/* -- Messages --------------------------------------------------------------------------------- */

tsapi TSReturnCode TSHttpTxnClientReqGet(TSHttpTxn txnp, TSMBuffer *bufp, TSMLoc *offset);
tsapi TSReturnCode TSHttpTxnClientRespGet(TSHttpTxn txnp, TSMBuffer *bufp, TSMLoc *offset);
tsapi TSReturnCode TSHttpTxnServerReqGet(TSHttpTxn txnp, TSMBuffer *bufp, TSMLoc *offset);
tsapi TSReturnCode TSHttpTxnServerRespGet(TSHttpTxn txnp, TSMBuffer *bufp, TSMLoc *offset);
tsapi TSReturnCode TSHandleMLocRelease(TSMBuffer bufp, TSMLoc parent, TSMLoc mloc);

/* -- HTTP message heads ----------------------------------------------------------------------- */

tsapi const char *TSHttpHdrMethodGet(TSMBuffer bufp, TSMLoc offset, int *length);
tsapi TSReturnCode TSHttpHdrMethodSet(TSMBuffer bufp, TSMLoc offset, const char *value, int length);
tsapi TSHttpStatus TSHttpHdrStatusGet(TSMBuffer bufp, TSMLoc offset);
tsapi TSReturnCode TSHttpHdrStatusSet(TSMBuffer bufp, TSMLoc offset, TSHttpStatus status);
tsapi const char *TSHttpHdrReasonGet(TSMBuffer bufp, TSMLoc offset, int *length);
tsapi TSReturnCode TSHttpHdrReasonSet(TSMBuffer bufp, TSMLoc offset, const char *value, int length);

/* -- URLs ------------------------------------------------------------------------------------- */

tsapi TSReturnCode TSHttpHdrUrlGet(TSMBuffer bufp, TSMLoc offset, TSMLoc *locp);
tsapi TSReturnCode TSHttpTxnPristineUrlGet(TSHttpTxn txnp, TSMBuffer *bufp, TSMLoc *url_loc);
/* The whole URL, allocated with TSmalloc: free it with TSfree. */
tsapi char *TSUrlStringGet(TSMBuffer bufp, TSMLoc offset, int *length);
tsapi const char *TSUrlSchemeGet(TSMBuffer bufp, TSMLoc offset, int *length);
tsapi TSReturnCode TSUrlSchemeSet(TSMBuffer bufp, TSMLoc offset, const char *value, int length);
tsapi const char *TSUrlHostGet(TSMBuffer bufp, TSMLoc offset, int *length);
tsapi TSReturnCode TSUrlHostSet(TSMBuffer bufp, TSMLoc offset, const char *value, int length);
/* The explicit port, else the scheme's (80 or 443). */
tsapi int TSUrlPortGet(TSMBuffer bufp, TSMLoc offset);
tsapi TSReturnCode TSUrlPortSet(TSMBuffer bufp, TSMLoc offset, int port);
/* The path without its leading '/'. */
tsapi const char *TSUrlPathGet(TSMBuffer bufp, TSMLoc offset, int *length);
tsapi TSReturnCode TSUrlPathSet(TSMBuffer bufp, TSMLoc offset, const char *value, int length);
tsapi const char *TSUrlHttpQueryGet(TSMBuffer bufp, TSMLoc offset, int *length);
tsapi TSReturnCode TSUrlHttpQuerySet(TSMBuffer bufp, TSMLoc offset, const char *value, int length);

/* -- MIME fields ------------------------------------------------------------------------------ */

tsapi int TSMimeHdrFieldsCount(TSMBuffer bufp, TSMLoc offset);
tsapi TSMLoc TSMimeHdrFieldGet(TSMBuffer bufp, TSMLoc hdr, int idx);
tsapi TSMLoc TSMimeHdrFieldFind(TSMBuffer bufp, TSMLoc hdr, const char *name, int length);
tsapi TSMLoc TSMimeHdrFieldNext(TSMBuffer bufp, TSMLoc hdr, TSMLoc field);
tsapi TSMLoc TSMimeHdrFieldNextDup(TSMBuffer bufp, TSMLoc hdr, TSMLoc field);
tsapi TSReturnCode TSMimeHdrFieldCreateNamed(TSMBuffer bufp, TSMLoc mh_mloc, const char *name,
                                             int name_len, TSMLoc *locp);
tsapi TSReturnCode TSMimeHdrFieldAppend(TSMBuffer bufp, TSMLoc hdr, TSMLoc field);
tsapi TSReturnCode TSMimeHdrFieldRemove(TSMBuffer bufp, TSMLoc hdr, TSMLoc field);
tsapi TSReturnCode TSMimeHdrFieldDestroy(TSMBuffer bufp, TSMLoc hdr, TSMLoc field);
tsapi const char *TSMimeHdrFieldNameGet(TSMBuffer bufp, TSMLoc hdr, TSMLoc field, int *length);
tsapi int TSMimeHdrFieldValuesCount(TSMBuffer bufp, TSMLoc hdr, TSMLoc field);
tsapi const char *TSMimeHdrFieldValueStringGet(TSMBuffer bufp, TSMLoc hdr, TSMLoc field, int idx,
                                               int *value_len_ptr);
tsapi TSReturnCode TSMimeHdrFieldValueStringSet(TSMBuffer bufp, TSMLoc hdr, TSMLoc field, int idx,
                                                const char *value, int length);
/* Inserts `value` as element idx (-1: the last), with ", " between elements. */
tsapi TSReturnCode TSMimeHdrFieldValueStringInsert(TSMBuffer bufp, TSMLoc hdr, TSMLoc field,
                                                   int idx, const char *value, int length);
/* Appends `value` to element idx (-1: to the whole value), with no separator. */
tsapi TSReturnCode TSMimeHdrFieldValueAppend(TSMBuffer bufp, TSMLoc hdr, TSMLoc field, int idx,
                                             const char *value, int length);
tsapi TSReturnCode TSMimeHdrFieldValuesClear(TSMBuffer bufp, TSMLoc hdr, TSMLoc field);
/* Element idx (-1: the whole value) read as a decimal number; 0 when it is none. */
tsapi int TSMimeHdrFieldValueIntGet(TSMBuffer bufp, TSMLoc hdr, TSMLoc field, int idx);
tsapi int64_t TSMimeHdrFieldValueInt64Get(TSMBuffer bufp, TSMLoc hdr, TSMLoc field, int idx);
tsapi unsigned int TSMimeHdrFieldValueUintGet(TSMBuffer bufp, TSMLoc hdr, TSMLoc field, int idx);
tsapi TSReturnCode TSMimeHdrFieldValueIntSet(TSMBuffer bufp, TSMLoc hdr, TSMLoc field, int idx,
                                             int value);
tsapi TSReturnCode TSMimeHdrFieldValueInt64Set(TSMBuffer bufp, TSMLoc hdr, TSMLoc field, int idx,
                                               int64_t value);
tsapi TSReturnCode TSMimeHdrFieldValueUintSet(TSMBuffer bufp, TSMLoc hdr, TSMLoc field, int idx,
                                              unsigned int value);
/* A field with no name yet: name it with TSMimeHdrFieldNameSet before appending it. */
tsapi TSReturnCode TSMimeHdrFieldCreate(TSMBuffer bufp, TSMLoc hdr, TSMLoc *locp);
/* Renames a field; an appended one moves to the end of the message. */
tsapi TSReturnCode TSMimeHdrFieldNameSet(TSMBuffer bufp, TSMLoc hdr, TSMLoc field,
                                         const char *name, int length);

/* -- Body transforms -------------------------------------------------------------------------- */
/* A transform vconnection for the transaction; register it on TS_HTTP_REQUEST_TRANSFORM_HOOK or
 * TS_HTTP_RESPONSE_TRANSFORM_HOOK with TSHttpTxnHookAdd. Its handler gets TS_EVENT_IMMEDIATE
 * and TS_EVENT_VCONN_WRITE_READY as input arrives, TS_EVENT_VCONN_WRITE_COMPLETE when its
 * output is done, and a last event once TSVConnClosedGet answers 1. */
tsapi TSVConn TSTransformCreate(TSEventFunc event_funcp, TSHttpTxn txnp);
tsapi TSVConn TSTransformOutputVConnGet(TSVConn connp);
tsapi TSVIO TSVConnWriteVIOGet(TSVConn connp);
tsapi int TSVConnClosedGet(TSVConn connp);
tsapi TSVIO TSVConnWrite(TSVConn connp, TSCont contp, TSIOBufferReader readerp, int64_t nbytes);
tsapi void TSVConnShutdown(TSVConn connp, int read, int write);
tsapi void TSVConnAbort(TSVConn connp, int error);
/* There is no cache: both are accepted and change nothing. */
tsapi void TSHttpTxnUntransformedRespCache(TSHttpTxn txnp, int on);
tsapi void TSHttpTxnTransformedRespCache(TSHttpTxn txnp, int on);

tsapi void TSVIOReenable(TSVIO viop);
tsapi TSIOBuffer TSVIOBufferGet(TSVIO viop);
tsapi TSIOBufferReader TSVIOReaderGet(TSVIO viop);
tsapi int64_t TSVIONBytesGet(TSVIO viop);
tsapi void TSVIONBytesSet(TSVIO viop, int64_t nbytes);
tsapi int64_t TSVIONDoneGet(TSVIO viop);
tsapi void TSVIONDoneSet(TSVIO viop, int64_t ndone);
tsapi int64_t TSVIONTodoGet(TSVIO viop);
tsapi TSCont TSVIOContGet(TSVIO viop);
tsapi TSVConn TSVIOVConnGet(TSVIO viop);
tsapi TSMutex TSVIOMutexGet(TSVIO viop);

/* -- I/O buffers ------------------------------------------------------------------------------ */
tsapi TSIOBuffer TSIOBufferCreate(void);
tsapi TSIOBuffer TSIOBufferSizedCreate(TSIOBufferSizeIndex index);
tsapi void TSIOBufferDestroy(TSIOBuffer bufp);
tsapi int64_t TSIOBufferWaterMarkGet(TSIOBuffer bufp);
tsapi void TSIOBufferWaterMarkSet(TSIOBuffer bufp, int64_t water_mark);
tsapi int64_t TSIOBufferWrite(TSIOBuffer bufp, const void *buf, int64_t length);
tsapi int64_t TSIOBufferCopy(TSIOBuffer bufp, TSIOBufferReader readerp, int64_t length,
                             int64_t offset);
tsapi TSIOBufferBlock TSIOBufferStart(TSIOBuffer bufp);
tsapi void TSIOBufferProduce(TSIOBuffer bufp, int64_t nbytes);
tsapi TSIOBufferBlock TSIOBufferBlockNext(TSIOBufferBlock blockp);
tsapi const char *TSIOBufferBlockReadStart(TSIOBufferBlock blockp, TSIOBufferReader readerp,
                                           int64_t *avail);
tsapi int64_t TSIOBufferBlockReadAvail(TSIOBufferBlock blockp, TSIOBufferReader readerp);
tsapi char *TSIOBufferBlockWriteStart(TSIOBufferBlock blockp, int64_t *avail);
tsapi int64_t TSIOBufferBlockWriteAvail(TSIOBufferBlock blockp);
tsapi TSIOBufferReader TSIOBufferReaderAlloc(TSIOBuffer bufp);
tsapi TSIOBufferReader TSIOBufferReaderClone(TSIOBufferReader readerp);
tsapi void TSIOBufferReaderFree(TSIOBufferReader readerp);
tsapi TSIOBufferBlock TSIOBufferReaderStart(TSIOBufferReader readerp);
tsapi void TSIOBufferReaderConsume(TSIOBufferReader readerp, int64_t nbytes);
tsapi int64_t TSIOBufferReaderAvail(TSIOBufferReader readerp);
tsapi int64_t TSIOBufferReaderCopy(TSIOBufferReader readerp, void *buf, int64_t length);

#ifdef __cplusplus
}

/* Debug controls (ATS 10's C++ API; ATS 9.2 has only TSDebug): `static DbgCtl dbg{"tag"};`
 * then `Dbg(dbg, "format", ...)`. The message is built only when debug logging is on. */
class DbgCtl {
  public:
    explicit DbgCtl(const char *tag) : tag_(tag) {}
    const char *tag() const { return tag_; }
    bool on() const { return TSIsDebugTagSet(tag_) != 0; }

  private:
    const char *tag_;
};
#define Dbg(ctl, ...)                                                                             \
    do {                                                                                          \
        if ((ctl).on()) {                                                                         \
            TSDebug((ctl).tag(), __VA_ARGS__);                                                    \
        }                                                                                         \
    } while (0)
#endif

#endif /* HOOKYARD_TS_TS_H */
