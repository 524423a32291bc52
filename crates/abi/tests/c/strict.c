/* The header under the strictest warnings, with a descriptor and every entry point defined
 * with exactly its declared type. Compiled, never run. */
#include <hookyard.h>

HY_PLUGIN_DESCRIPTOR("strict", "1.0.0", HY_PLUGIN_FLAG_CANNOT_UNLOAD);

hy_return hy_remap_init(const hy_api *api, char *errbuf, int32_t errbuf_size) {
    (void)api, (void)errbuf, (void)errbuf_size;
    return HY_SUCCESS;
}
hy_return hy_remap_new_instance(int32_t argc, char **argv, void **ih, char *errbuf,
                                int32_t errbuf_size) {
    (void)argc, (void)argv, (void)ih, (void)errbuf, (void)errbuf_size;
    return HY_SUCCESS;
}
hy_remap_status hy_remap_do_remap(void *ih, hy_txn *txn, hy_remap_request_info *rri) {
    (void)ih, (void)txn, (void)rri;
    return HY_REMAP_NO_REMAP;
}
void hy_remap_delete_instance(void *ih) { (void)ih; }
void hy_remap_done(void) {}
void hy_remap_pre_config_reload(void) {}
void hy_remap_post_config_reload(hy_reload_status status) { (void)status; }
void hy_remap_os_response(void *ih, hy_txn *txn, hy_server_state state) {
    (void)ih, (void)txn, (void)state;
}
hy_return hy_plugin_init(const hy_api *api, int32_t argc, const char **argv, char *errbuf,
                         int32_t errbuf_size) {
    (void)api, (void)argc, (void)argv, (void)errbuf, (void)errbuf_size;
    return HY_SUCCESS;
}
void hy_plugin_done(void) {}
void hy_plugin_pre_config_reload(void) {}
void hy_plugin_post_config_reload(hy_reload_status status) { (void)status; }
