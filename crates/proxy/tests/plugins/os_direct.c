/* A remap plugin that answers the client itself once the origin has answered: its os_response
 * asks for a direct response (503, "answered by os_response"). Its rule's transactions have
 * plugin state but no hooks. */
#include <string.h>

#include <hookyard.h>

HY_PLUGIN_DESCRIPTOR("os_direct", "1", 0);

static const hy_api *host;

hy_return hy_remap_init(const hy_api *api, char *errbuf, int32_t errbuf_size) {
    (void)errbuf;
    (void)errbuf_size;
    host = api;
    return HY_SUCCESS;
}

hy_remap_status hy_remap_do_remap(void *ih, hy_txn *txn, hy_remap_request_info *rri) {
    (void)ih;
    (void)txn;
    (void)rri;
    return HY_REMAP_NO_REMAP;
}

void hy_remap_os_response(void *ih, hy_txn *txn, hy_server_state state) {
    (void)ih;
    (void)state;
    static const char body[] = "answered by os_response\n";
    host->direct_response(txn, 503, body, strlen(body));
}
