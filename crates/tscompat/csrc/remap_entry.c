/*
 * The hookyard remap entry points of an ATS remap plugin: each calls the plugin's TSRemap*
 * function. Linked only into plugins that define TSRemapInit; the optional entry points are
 * weak references, so a plugin without them behaves as ATS documents.
 */
#include <string.h>

#include "internal.h"

#pragma weak TSRemapNewInstance
#pragma weak TSRemapDeleteInstance
#pragma weak TSRemapDone
#pragma weak TSRemapPreConfigReload
#pragma weak TSRemapPostConfigReload
#pragma weak TSRemapOSResponse

hy_return hy_remap_init(const hy_api *api, char *errbuf, int32_t errbuf_size) {
    hy_ts_api = api;
    TSRemapInterface info = {sizeof info, TSREMAP_VERSION};
    return TSRemapInit(&info, errbuf, errbuf_size) == TS_SUCCESS ? HY_SUCCESS : HY_ERROR;
}

hy_return hy_remap_new_instance(int32_t argc, char **argv, void **ih, char *errbuf,
                                int32_t errbuf_size) {
    if (!TSRemapNewInstance) {
        return HY_SUCCESS;
    }
    return TSRemapNewInstance(argc, argv, ih, errbuf, errbuf_size) == TS_SUCCESS ? HY_SUCCESS
                                                                                 : HY_ERROR;
}

hy_remap_status hy_remap_do_remap(void *ih, hy_txn *txn, hy_remap_request_info *rri) {
    TSRemapRequestInfo info;
    memset(&info, 0, sizeof info);
    info.requestBufp = (TSMBuffer)txn;
    info.requestHdrp = HY_TS_HDR_LOC(HY_MSG_CLIENT_REQUEST);
    info.requestUrl = HY_TS_URL_LOC(HY_URL_REQUEST);
    info.mapFromUrl = HY_TS_URL_LOC(HY_URL_REMAP_FROM);
    info.mapToUrl = HY_TS_URL_LOC(HY_URL_REMAP_TO);
    TSRemapStatus status = TSRemapDoRemap(ih, (TSHttpTxn)txn, &info);
    if (info.redirect) {
        rri->redirect = 1;
    }
    return status < 0 ? HY_REMAP_NO_REMAP : (hy_remap_status)status;
}

void hy_remap_delete_instance(void *ih) {
    if (TSRemapDeleteInstance) {
        TSRemapDeleteInstance(ih);
    }
}

void hy_remap_done(void) {
    if (TSRemapDone) {
        TSRemapDone();
    }
    hy_ts_destroy_all_conts();
}

void hy_remap_pre_config_reload(void) {
    if (TSRemapPreConfigReload) {
        TSRemapPreConfigReload();
    }
}

void hy_remap_post_config_reload(hy_reload_status status) {
    if (TSRemapPostConfigReload) {
        TSRemapPostConfigReload((TSRemapReloadStatus)status);
    }
}

void hy_remap_os_response(void *ih, hy_txn *txn, hy_server_state state) {
    if (TSRemapOSResponse) {
        TSRemapOSResponse(ih, (TSHttpTxn)txn, (int)state);
    }
}
