/*
 * response_header: a global plugin in C that adds headers to every response the proxy sends.
 *
 *   # plugin.yaml
 *   plugins:
 *     - path: response_header.so
 *       params: [X-Served-By:hookyard, "Cache-Control: no-store"]
 *
 * Each param is "Name:value" (spaces after the colon are skipped). Init registers one global
 * continuation on SEND_RESPONSE_HDR, which appends the fields to the client response of every
 * transaction: the origin's answers and the proxy's own (a 404, a plugin's direct response).
 * Done destroys the continuation, so the plugin unloads when a reload replaces it.
 * Build: cargo xtask plugins.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hookyard.h>

HY_PLUGIN_DESCRIPTOR("response_header", "1.0.0", 0);

/* The host's table: valid from init until done returns. */
static const hy_api *api;

typedef struct field {
    char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} field;

/* Set by init, read by the hook on any worker, freed by done: init and done never run while a
 * hook of this version can. */
static field *fields;
static size_t count;
static hy_cont *on_response;

static void release(void) {
    for (size_t i = 0; i < count; i++) free(fields[i].name);
    free(fields);
    fields = NULL;
    count = 0;
}

/* Every hook the continuation is registered on calls this; `edata` is the transaction. */
static int32_t handle(hy_cont *cont, hy_event event, void *edata) {
    (void)cont;
    if (event != HY_EVENT_HOOK(HY_HOOK_SEND_RESPONSE_HDR)) return HY_HOOK_CONTINUE;
    hy_txn *txn = edata;
    for (size_t i = 0; i < count; i++) {
        const field *f = &fields[i];
        if (api->header_add(txn, HY_MSG_CLIENT_RESPONSE, f->name, f->name_len, f->value,
                            f->value_len) != HY_SUCCESS) {
            const char *message = "response_header: the host refused a header";
            api->log(api->plugin, HY_LOG_ERROR, message, strlen(message));
        }
    }
    /* HY_HOOK_ERROR would answer the client with an error instead. */
    return HY_HOOK_CONTINUE;
}

HY_EXPORT hy_return hy_plugin_init(const hy_api *host, int32_t argc, const char **argv,
                                   char *errbuf, int32_t errbuf_size) {
    if (host->version >> 16 != HY_ABI_MAJOR || host->size < sizeof(hy_api)) {
        snprintf(errbuf, (size_t)errbuf_size, "unsupported host table (version %#x)",
                 (unsigned)host->version);
        return HY_ERROR;
    }
    api = host;
    /* argv[0] is the plugin's path; the params follow, valid during this call only: copy. */
    if (argc < 2) {
        snprintf(errbuf, (size_t)errbuf_size, "give at least one param Name:value");
        return HY_ERROR;
    }
    fields = calloc((size_t)argc - 1, sizeof(field));
    if (!fields) {
        snprintf(errbuf, (size_t)errbuf_size, "out of memory");
        return HY_ERROR;
    }
    for (int32_t i = 1; i < argc; i++) {
        const char *colon = strchr(argv[i], ':');
        if (!colon || colon == argv[i]) {
            snprintf(errbuf, (size_t)errbuf_size, "param \"%s\" is not Name:value", argv[i]);
            release();
            return HY_ERROR;
        }
        field *f = &fields[count];
        size_t len = strlen(argv[i]);
        f->name = malloc(len + 1);
        if (!f->name) {
            snprintf(errbuf, (size_t)errbuf_size, "out of memory");
            release();
            return HY_ERROR;
        }
        memcpy(f->name, argv[i], len + 1);
        count++;
        f->name_len = (size_t)(colon - argv[i]);
        f->value = f->name + f->name_len + 1;
        while (*f->value == ' ') f->value++;
        f->value_len = strlen(f->value);
    }
    /* One continuation for the plugin; a global registration runs for every transaction. */
    on_response = api->cont_create(api->plugin, handle, NULL);
    if (!on_response) {
        snprintf(errbuf, (size_t)errbuf_size, "cont_create failed");
        release();
        return HY_ERROR;
    }
    if (api->hook_add(HY_HOOK_LEVEL_GLOBAL, NULL, HY_HOOK_SEND_RESPONSE_HDR, on_response,
                      HY_PRIORITY_DEFAULT, NULL) != HY_SUCCESS) {
        snprintf(errbuf, (size_t)errbuf_size, "hook_add failed");
        api->cont_destroy(on_response);
        on_response = NULL;
        release();
        return HY_ERROR;
    }
    return HY_SUCCESS;
}

/* No configuration uses this version any more: destroy what init made. */
HY_EXPORT void hy_plugin_done(void) {
    if (on_response) api->cont_destroy(on_response);
    on_response = NULL;
    release();
    api = NULL;
}
