/*
 * async_hold: an ATS global plugin in C++ that works asynchronously.
 *
 * A request with "X-Hold-Ms: N" (0 <= N <= 10000) is held for N ms: its READ_REQUEST_HDR
 * handler schedules a per-transaction continuation (TSContScheduleOnPool) and returns without
 * reenabling; the continuation adds "X-Held-Ms: N" to the request and reenables the
 * transaction from the task thread. A periodic continuation (TSContScheduleEvery, every 50 ms)
 * counts its ticks in the statistic "async_hold.ticks"; the plugin message "ticks stop" cancels
 * it (TSActionCancel).
 */
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <ts/ts.h>

namespace
{
const char PLUGIN_NAME[] = "async_hold";

int ticks_stat = -1;
TSAction ticker;
TSMutex ticker_mutex;

struct Hold {
  TSHttpTxn txn;
  long ms;
};

std::string
field_value(TSMBuffer bufp, TSMLoc hdr, const char *name)
{
  std::string value;
  TSMLoc field = TSMimeHdrFieldFind(bufp, hdr, name, static_cast<int>(std::strlen(name)));
  if (field != TS_NULL_MLOC) {
    int len           = 0;
    const char *bytes = TSMimeHdrFieldValueStringGet(bufp, hdr, field, -1, &len);
    value.assign(bytes ? bytes : "", bytes ? len : 0);
    TSHandleMLocRelease(bufp, hdr, field);
  }
  return value;
}

int
release(TSCont contp, TSEvent event, void *edata)
{
  (void)edata;
  Hold *hold = static_cast<Hold *>(TSContDataGet(contp));
  TSMBuffer bufp;
  TSMLoc hdr;
  if (event == TS_EVENT_TIMEOUT || event == TS_EVENT_IMMEDIATE) {
    if (TSHttpTxnClientReqGet(hold->txn, &bufp, &hdr) == TS_SUCCESS) {
      TSMLoc field;
      if (TSMimeHdrFieldCreateNamed(bufp, hdr, "X-Held-Ms", 9, &field) == TS_SUCCESS) {
        std::string text = std::to_string(hold->ms);
        TSMimeHdrFieldValueStringSet(bufp, hdr, field, -1, text.c_str(), static_cast<int>(text.size()));
        TSMimeHdrFieldAppend(bufp, hdr, field);
        TSHandleMLocRelease(bufp, hdr, field);
      }
      TSHandleMLocRelease(bufp, TS_NULL_MLOC, hdr);
    }
    TSHttpTxnReenable(hold->txn, TS_EVENT_HTTP_CONTINUE);
  }
  delete hold;
  TSContDestroy(contp);
  return 0;
}

int
on_request(TSCont contp, TSEvent event, void *edata)
{
  (void)contp;
  (void)event;
  TSHttpTxn txnp = static_cast<TSHttpTxn>(edata);
  TSMBuffer bufp;
  TSMLoc hdr;
  long ms = -1;
  if (TSHttpTxnClientReqGet(txnp, &bufp, &hdr) == TS_SUCCESS) {
    std::string value = field_value(bufp, hdr, "X-Hold-Ms");
    if (!value.empty()) {
      char *end = nullptr;
      ms        = std::strtol(value.c_str(), &end, 10);
      if (*end != '\0' || ms < 0 || ms > 10000) {
        ms = -1;
      }
    }
    TSHandleMLocRelease(bufp, TS_NULL_MLOC, hdr);
  }
  if (ms < 0) {
    TSHttpTxnReenable(txnp, TS_EVENT_HTTP_CONTINUE);
    return 0;
  }
  TSDebug(PLUGIN_NAME, "holding a transaction for %ld ms", ms);
  TSCont later = TSContCreate(release, TSMutexCreate());
  TSContDataSet(later, new Hold{txnp, ms});
  TSContScheduleOnPool(later, ms, TS_THREAD_POOL_TASK);
  return 0;
}

int
on_tick(TSCont contp, TSEvent event, void *edata)
{
  (void)contp;
  (void)event;
  (void)edata;
  TSStatIntIncrement(ticks_stat, 1);
  return 0;
}

int
on_message(TSCont contp, TSEvent event, void *edata)
{
  (void)contp;
  if (event == TS_EVENT_LIFECYCLE_MSG) {
    const TSPluginMsg *msg = static_cast<const TSPluginMsg *>(edata);
    std::string data(static_cast<const char *>(msg->data), msg->data_size);
    if (std::strcmp(msg->tag, "ticks") == 0 && data == "stop" && ticker) {
      TSActionCancel(ticker);
      ticker = nullptr;
      TSNote("[%s] ticks stopped", PLUGIN_NAME);
    }
  }
  return 0;
}
} // namespace

void
TSPluginInit(int argc, const char *argv[])
{
  (void)argc;
  (void)argv;
  TSPluginRegistrationInfo info;
  info.plugin_name   = PLUGIN_NAME;
  info.vendor_name   = "hookyard";
  info.support_email = "dev@hookyard.test";
  if (TSPluginRegister(&info) != TS_SUCCESS) {
    TSError("[%s] registration failed", PLUGIN_NAME);
    return;
  }
  ticks_stat = TSStatCreate("async_hold.ticks", TS_RECORDDATATYPE_INT, TS_STAT_NON_PERSISTENT, TS_STAT_SYNC_SUM);
  TSHttpHookAdd(TS_HTTP_READ_REQUEST_HDR_HOOK, TSContCreate(on_request, nullptr));
  ticker_mutex = TSMutexCreate();
  ticker       = TSContScheduleEveryOnPool(TSContCreate(on_tick, ticker_mutex), 50, TS_THREAD_POOL_TASK);
  TSLifecycleHookAdd(TS_LIFECYCLE_MSG_HOOK, TSContCreate(on_message, nullptr));
}
