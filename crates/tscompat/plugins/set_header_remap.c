/*
 * set_header_remap: an ATS remap plugin. Each instance (one per @plugin= of a rule) takes
 * @pparam=NAME:VALUE arguments and sets those fields on the client request of every
 * transaction its rule maps; it also counts its transactions in X-Instance-Count and reports
 * the rule's from host in X-Remap-From. The argument prefix=SEGMENT puts SEGMENT in front of
 * the request path instead.
 *
 *   map http://a.test/ http://origin/ @plugin=set_header_remap.so @pparam=X-Rule:a
 */
#include <stdio.h>
#include <string.h>

#include <ts/ts.h>
#include <ts/remap.h>

#define PLUGIN_NAME "set_header_remap"

struct field {
    char *name;
    char *value;
};

struct instance {
    char *prefix;
    int count;
    struct field *fields;
    unsigned long hits;
};

TSReturnCode TSRemapInit(TSRemapInterface *api_info, char *errbuf, int errbuf_size) {
    if (!api_info || api_info->tsremap_version < TSREMAP_VERSION) {
        snprintf(errbuf, errbuf_size, "remap API version too old");
        return TS_ERROR;
    }
    TSDebug(PLUGIN_NAME, "initialised");
    return TS_SUCCESS;
}

TSReturnCode TSRemapNewInstance(int argc, char *argv[], void **ih, char *errbuf,
                                int errbuf_size) {
    struct instance *inst = TSmalloc(sizeof *inst);
    inst->prefix = NULL;
    inst->count = 0;
    inst->hits = 0;
    inst->fields = TSmalloc(sizeof(struct field) * (argc > 2 ? argc - 2 : 1));
    for (int i = 2; i < argc; i++) {
        if (strncmp(argv[i], "prefix=", 7) == 0) {
            TSfree(inst->prefix);
            inst->prefix = TSstrdup(argv[i] + 7);
            continue;
        }
        const char *colon = strchr(argv[i], ':');
        if (!colon || colon == argv[i]) {
            snprintf(errbuf, errbuf_size, "argument %d: expected NAME:VALUE, got \"%s\"", i - 1,
                     argv[i]);
            for (int j = 0; j < inst->count; j++) {
                TSfree(inst->fields[j].name);
                TSfree(inst->fields[j].value);
            }
            TSfree(inst->fields);
            TSfree(inst->prefix);
            TSfree(inst);
            return TS_ERROR;
        }
        inst->fields[inst->count].name = TSstrndup(argv[i], colon - argv[i]);
        inst->fields[inst->count].value = TSstrdup(colon + 1);
        inst->count++;
    }
    *ih = inst;
    return TS_SUCCESS;
}

void TSRemapDeleteInstance(void *ih) {
    struct instance *inst = ih;
    for (int i = 0; i < inst->count; i++) {
        TSfree(inst->fields[i].name);
        TSfree(inst->fields[i].value);
    }
    TSfree(inst->fields);
    TSfree(inst->prefix);
    TSfree(inst);
}

static void set_field(TSMBuffer bufp, TSMLoc hdr, const char *name, const char *value) {
    TSMLoc field = TSMimeHdrFieldFind(bufp, hdr, name, (int)strlen(name));
    if (field != TS_NULL_MLOC) {
        TSMimeHdrFieldValueStringSet(bufp, hdr, field, -1, value, (int)strlen(value));
    } else if (TSMimeHdrFieldCreateNamed(bufp, hdr, name, (int)strlen(name), &field) ==
               TS_SUCCESS) {
        TSMimeHdrFieldValueStringSet(bufp, hdr, field, -1, value, (int)strlen(value));
        TSMimeHdrFieldAppend(bufp, hdr, field);
    }
    TSHandleMLocRelease(bufp, hdr, field);
}

TSRemapStatus TSRemapDoRemap(void *ih, TSHttpTxn rh, TSRemapRequestInfo *rri) {
    struct instance *inst = ih;
    (void)rh;
    for (int i = 0; i < inst->count; i++) {
        set_field(rri->requestBufp, rri->requestHdrp, inst->fields[i].name,
                  inst->fields[i].value);
    }
    char hits[32];
    snprintf(hits, sizeof hits, "%lu", __atomic_add_fetch(&inst->hits, 1, __ATOMIC_RELAXED));
    set_field(rri->requestBufp, rri->requestHdrp, "X-Instance-Count", hits);
    int len;
    const char *from = TSUrlHostGet(rri->requestBufp, rri->mapFromUrl, &len);
    if (from) {
        char host[256];
        snprintf(host, sizeof host, "%.*s", len, from);
        set_field(rri->requestBufp, rri->requestHdrp, "X-Remap-From", host);
    }
    if (!inst->prefix) {
        return TSREMAP_NO_REMAP;
    }
    const char *path = TSUrlPathGet(rri->requestBufp, rri->requestUrl, &len);
    char new_path[1024];
    int n = snprintf(new_path, sizeof new_path, "%s/%.*s", inst->prefix, path ? len : 0,
                     path ? path : "");
    if (n < 0 || n >= (int)sizeof new_path ||
        TSUrlPathSet(rri->requestBufp, rri->requestUrl, new_path, n) != TS_SUCCESS) {
        TSError("[%s] cannot set the path", PLUGIN_NAME);
        return TSREMAP_NO_REMAP;
    }
    return TSREMAP_DID_REMAP;
}
