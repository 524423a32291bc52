/*
 * ts/remap.h: the entry points of an Apache Traffic Server remap plugin (9.2), as hookyard's
 * compatibility layer calls them. Every entry point of ATS's remap API is here; TSRemapInit and
 * TSRemapDoRemap are required, the rest optional.
 */
#ifndef HOOKYARD_TS_REMAP_H
#define HOOKYARD_TS_REMAP_H

#include "apidefs.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TSREMAP_VMAJOR 3
#define TSREMAP_VMINOR 0
#define TSREMAP_VERSION ((TSREMAP_VMAJOR << 16) | TSREMAP_VMINOR)

/* What TSRemapInit is told about the host. */
typedef struct _tsremap_api_info {
    unsigned long size;
    unsigned long tsremap_version;
} TSRemapInterface;

/* What TSRemapDoRemap is told about the rule and the request. Owned by the host; never
 * release its locations. */
typedef struct _tm_remap_request_info {
    /* The rule's from and to URLs; read-only. */
    TSMLoc mapFromUrl;
    TSMLoc mapToUrl;
    /* The request URL; changing it changes where the request goes. */
    TSMLoc requestUrl;
    /* The client request, as TSHttpTxnClientReqGet gives it. */
    TSMBuffer requestBufp;
    TSMLoc requestHdrp;
    /* Set to 1 to answer with a redirect to the (changed) request URL. */
    int redirect;
} TSRemapRequestInfo;

typedef enum {
    TSREMAP_NO_REMAP = 0,
    TSREMAP_DID_REMAP = 1,
    TSREMAP_NO_REMAP_STOP = 2,
    TSREMAP_DID_REMAP_STOP = 3,
    /* Treated as TSREMAP_NO_REMAP, as ATS does. */
    TSREMAP_ERROR = -1,
} TSRemapStatus;

typedef enum {
    TSREMAP_CONFIG_RELOAD_FAILURE = 0,
    TSREMAP_CONFIG_RELOAD_SUCCESS_PLUGIN_USED = 1,
    TSREMAP_CONFIG_RELOAD_SUCCESS_PLUGIN_UNUSED = 2,
} TSRemapReloadStatus;

tsapi TSReturnCode TSRemapInit(TSRemapInterface *api_info, char *errbuf, int errbuf_size);
tsapi void TSRemapPreConfigReload(void);
tsapi void TSRemapPostConfigReload(TSRemapReloadStatus reloadStatus);
tsapi TSRemapStatus TSRemapDoRemap(void *ih, TSHttpTxn rh, TSRemapRequestInfo *rri);
tsapi void TSRemapDone(void);
tsapi TSReturnCode TSRemapNewInstance(int argc, char *argv[], void **ih, char *errbuf,
                                      int errbuf_size);
tsapi void TSRemapDeleteInstance(void *);
tsapi void TSRemapOSResponse(void *ih, TSHttpTxn rh, int os_response_type);

#ifdef __cplusplus
}
#endif

#endif /* HOOKYARD_TS_REMAP_H */
