/* A remap plugin that only some machines can run: its init fails with the text of the
 * environment variable HOOKYARD_TEST_REFUSE when that is set, as a plugin missing a library
 * there would. Elsewhere it stamps requests `X-Plugin-Version: refusable`. */
#include <stdlib.h>
#include <string.h>

#include <hookyard.h>

HY_PLUGIN_DESCRIPTOR("fleet_refuse", "1", 0);

static const hy_api *host;

hy_return hy_remap_init(const hy_api *api, char *errbuf, int32_t errbuf_size) {
    const char *why = getenv("HOOKYARD_TEST_REFUSE");
    if (why != NULL) {
        strncpy(errbuf, why, (size_t)errbuf_size - 1);
        errbuf[errbuf_size - 1] = '\0';
        return HY_ERROR;
    }
    host = api;
    return HY_SUCCESS;
}

hy_remap_status hy_remap_do_remap(void *ih, hy_txn *txn, hy_remap_request_info *rri) {
    (void)ih;
    (void)rri;
    static const char name[] = "X-Plugin-Version";
    static const char value[] = "refusable";
    if (host->header_set(txn, HY_MSG_CLIENT_REQUEST, name, strlen(name), value, strlen(value)) != HY_SUCCESS) {
        return HY_REMAP_ERROR;
    }
    return HY_REMAP_NO_REMAP;
}
