/*
 * The hookyard global entry points of an ATS global plugin: init calls TSPluginInit; done
 * destroys the continuations the plugin left alive (ATS never unloads a global plugin, so its
 * plugins do not destroy them). Linked only into plugins that define TSPluginInit.
 */
#include "internal.h"

hy_return hy_plugin_init(const hy_api *api, int32_t argc, const char **argv, char *errbuf,
                         int32_t errbuf_size) {
    (void)errbuf;
    (void)errbuf_size;
    hy_ts_api = api;
    TSPluginInit(argc, argv);
    return HY_SUCCESS;
}

void hy_plugin_done(void) { hy_ts_destroy_all_conts(); }
