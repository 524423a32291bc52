/*
 * txn_hooks: a global plugin in C whose one continuation is called at eight hooks of every
 * transaction and does nothing but let it go on: what the plugin machinery alone costs.
 *
 *   # plugin.yaml
 *   plugins:
 *     - path: txn_hooks.so
 *
 * Init registers the continuation globally on TXN_START, READ_REQUEST_HDR, PRE_REMAP,
 * POST_REMAP, SEND_REQUEST_HDR, READ_RESPONSE_HDR, SEND_RESPONSE_HDR and TXN_CLOSE; each call
 * counts itself in a stat (`txn_hooks.calls`, one relaxed add per call). `cargo xtask bench`
 * runs it against nginx (issue 17's goal: the machinery costs close to nothing).
 * Build: cargo xtask plugins.
 */
#include <stdio.h>
#include <string.h>

#include <hookyard.h>

HY_PLUGIN_DESCRIPTOR("txn_hooks", "1.0.0", 0);

/* The host's table: valid from init until done returns. */
static const hy_api *api;
static hy_cont *on_hook;
static int32_t calls_stat;

static const int32_t HOOKS[] = {
    HY_HOOK_TXN_START,         HY_HOOK_READ_REQUEST_HDR, HY_HOOK_PRE_REMAP,
    HY_HOOK_POST_REMAP,        HY_HOOK_SEND_REQUEST_HDR, HY_HOOK_READ_RESPONSE_HDR,
    HY_HOOK_SEND_RESPONSE_HDR, HY_HOOK_TXN_CLOSE,
};

static int32_t handle(hy_cont *cont, hy_event event, void *edata) {
    (void)cont, (void)event, (void)edata;
    api->stat_increment(api->plugin, calls_stat, 1);
    return HY_HOOK_CONTINUE;
}

HY_EXPORT hy_return hy_plugin_init(const hy_api *host, int32_t argc, const char **argv,
                                   char *errbuf, int32_t errbuf_size) {
    (void)argc, (void)argv;
    if (host->version >> 16 != HY_ABI_MAJOR || host->size < sizeof(hy_api)) {
        snprintf(errbuf, (size_t)errbuf_size, "unsupported host table (version %#x)",
                 (unsigned)host->version);
        return HY_ERROR;
    }
    api = host;
    const char *name = "txn_hooks.calls";
    if (api->stat_create(api->plugin, name, strlen(name), HY_STAT_COUNTER, &calls_stat) !=
        HY_SUCCESS) {
        snprintf(errbuf, (size_t)errbuf_size, "stat_create failed");
        return HY_ERROR;
    }
    on_hook = api->cont_create(api->plugin, handle, NULL);
    if (!on_hook) {
        snprintf(errbuf, (size_t)errbuf_size, "cont_create failed");
        return HY_ERROR;
    }
    for (size_t i = 0; i < sizeof HOOKS / sizeof HOOKS[0]; i++) {
        if (api->hook_add(HY_HOOK_LEVEL_GLOBAL, NULL, HOOKS[i], on_hook, HY_PRIORITY_DEFAULT,
                          NULL) != HY_SUCCESS) {
            snprintf(errbuf, (size_t)errbuf_size, "hook_add failed for hook %d", (int)HOOKS[i]);
            api->cont_destroy(on_hook);
            on_hook = NULL;
            return HY_ERROR;
        }
    }
    return HY_SUCCESS;
}

/* No configuration uses this version any more: destroy what init made. */
HY_EXPORT void hy_plugin_done(void) {
    if (on_hook) api->cont_destroy(on_hook);
    on_hook = NULL;
    api = NULL;
}
