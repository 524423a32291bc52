/*
 * add_header: a remap plugin in C that adds request headers given by its pparams.
 *
 *   map http://example.com/ http://origin.internal/ \
 *       @plugin=add_header.so @pparam=X-Served-By:hookyard @pparam=X-Team:edge
 *
 * Each pparam is "Name:value" (spaces after the colon are skipped). The headers are appended to
 * the client request, so the origin sees them. Build: cargo xtask plugins.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hookyard.h>

HY_PLUGIN_DESCRIPTOR("add_header", "1.0.0", 0);

/* The host's table: valid from init until done returns. */
static const hy_api *api;

typedef struct field {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} field;

/* One per @plugin= of a rule: the fields, and the text they point into. */
typedef struct instance {
    size_t count;
    char *text;
    field fields[];
} instance;

static void say(hy_log_level level, const char *message) {
    if (api && api->log_enabled(api->plugin, level)) api->log(api->plugin, level, message, strlen(message));
}

hy_return hy_remap_init(const hy_api *host, char *errbuf, int32_t errbuf_size) {
    if (host->version >> 16 != HY_ABI_MAJOR || host->size < sizeof(hy_api)) {
        snprintf(errbuf, (size_t)errbuf_size, "add_header: unsupported host table (version %#x)",
                 (unsigned)host->version);
        return HY_ERROR;
    }
    api = host;
    say(HY_LOG_DEBUG, "add_header: initialised");
    return HY_SUCCESS;
}

static int is_token(const char *s, size_t len) {
    if (len == 0) return 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] <= ' ' || s[i] >= 127 || strchr("\"(),/:;<=>?@[\\]{}", s[i])) return 0;
    }
    return 1;
}

hy_return hy_remap_new_instance(int32_t argc, char **argv, void **ih, char *errbuf,
                                int32_t errbuf_size) {
    /* argv[0] and argv[1] are the rule's from and to URLs; the pparams follow. */
    if (argc < 3) {
        snprintf(errbuf, (size_t)errbuf_size, "give at least one @pparam=Name:value");
        return HY_ERROR;
    }
    size_t count = (size_t)argc - 2, total = 0;
    for (size_t i = 0; i < count; i++) total += strlen(argv[i + 2]) + 1;
    instance *inst = malloc(sizeof(instance) + count * sizeof(field));
    char *text = malloc(total);
    if (!inst || !text) {
        free(inst), free(text);
        snprintf(errbuf, (size_t)errbuf_size, "out of memory");
        return HY_ERROR;
    }
    inst->count = count;
    inst->text = text;
    /* argv is only valid during this call: copy. */
    for (size_t i = 0; i < count; i++) {
        const char *param = argv[i + 2];
        const char *colon = strchr(param, ':');
        if (!colon || !is_token(param, (size_t)(colon - param))) {
            snprintf(errbuf, (size_t)errbuf_size, "pparam \"%s\" is not Name:value", param);
            free(inst->text), free(inst);
            return HY_ERROR;
        }
        size_t len = strlen(param);
        memcpy(text, param, len + 1);
        const char *value = text + (colon - param) + 1;
        while (*value == ' ') value++;
        inst->fields[i] = (field){text, (size_t)(colon - param), value, strlen(value)};
        text += len + 1;
    }
    *ih = inst;
    return HY_SUCCESS;
}

hy_remap_status hy_remap_do_remap(void *ih, hy_txn *txn, hy_remap_request_info *rri) {
    (void)rri;
    const instance *inst = ih;
    for (size_t i = 0; i < inst->count; i++) {
        const field *f = &inst->fields[i];
        if (api->header_add(txn, HY_MSG_CLIENT_REQUEST, f->name, f->name_len, f->value,
                            f->value_len) != HY_SUCCESS) {
            say(HY_LOG_ERROR, "add_header: the host refused a header");
            return HY_REMAP_ERROR;
        }
    }
    /* The URL is unchanged: the next plugin of the rule runs. */
    return HY_REMAP_NO_REMAP;
}

void hy_remap_delete_instance(void *ih) {
    instance *inst = ih;
    free(inst->text);
    free(inst);
}

void hy_remap_pre_config_reload(void) { say(HY_LOG_DEBUG, "add_header: reload starting"); }

void hy_remap_post_config_reload(hy_reload_status status) {
    say(HY_LOG_DEBUG, status == HY_RELOAD_FAILURE ? "add_header: reload failed"
                                                  : "add_header: reload done");
}

void hy_remap_done(void) {
    say(HY_LOG_DEBUG, "add_header: done");
    api = NULL;
}
