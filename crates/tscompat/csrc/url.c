/*
 * URLs as ATS's TSUrl* calls show them, over hookyard's url_get/url_set. A URL location names
 * one of the transaction's URLs (the TSMBuffer is the transaction).
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

static int url_of(TSMBuffer bufp, TSMLoc loc, hy_url *url) {
    uintptr_t v = (uintptr_t)loc;
    if (!bufp || v < HY_TS_URL_LOC_BASE || v > HY_TS_URL_LOC_BASE + HY_URL_REMAP_TO) {
        return 0;
    }
    *url = (hy_url)(v - HY_TS_URL_LOC_BASE);
    return 1;
}

TSReturnCode TSHttpHdrUrlGet(TSMBuffer bufp, TSMLoc offset, TSMLoc *locp) {
    /* Only the client request has a URL of its own in hookyard. */
    if (!bufp || !locp || offset != HY_TS_HDR_LOC(HY_MSG_CLIENT_REQUEST)) {
        return TS_ERROR;
    }
    *locp = HY_TS_URL_LOC(HY_URL_REQUEST);
    return TS_SUCCESS;
}

TSReturnCode TSHttpTxnPristineUrlGet(TSHttpTxn txnp, TSMBuffer *bufp, TSMLoc *url_loc) {
    if (!txnp || !bufp || !url_loc) {
        return TS_ERROR;
    }
    *bufp = (TSMBuffer)txnp;
    *url_loc = HY_TS_URL_LOC(HY_URL_PRISTINE);
    return TS_SUCCESS;
}

char *TSUrlStringGet(TSMBuffer bufp, TSMLoc offset, int *length) {
    hy_url url;
    hy_str value;
    if (!url_of(bufp, offset, &url) ||
        hy_ts_api->url_string_get((hy_txn *)bufp, url, &value) != HY_SUCCESS) {
        return NULL;
    }
    if (length) {
        *length = (int)value.len;
    }
    return _TSstrdup(value.ptr, (int64_t)value.len, __FILE__);
}

static const char *part_get(TSMBuffer bufp, TSMLoc offset, hy_url_part part, int *length) {
    hy_url url;
    hy_str value;
    if (!url_of(bufp, offset, &url) ||
        hy_ts_api->url_get((hy_txn *)bufp, url, part, &value) != HY_SUCCESS) {
        return NULL;
    }
    if (part == HY_URL_PART_PATH && value.len > 0 && value.ptr[0] == '/') {
        value.ptr++;
        value.len--;
    }
    if (length) {
        *length = (int)value.len;
    }
    return value.ptr;
}

static TSReturnCode part_set(TSMBuffer bufp, TSMLoc offset, hy_url_part part, const char *value,
                             int length) {
    hy_url url;
    if (!value || !url_of(bufp, offset, &url)) {
        return TS_ERROR;
    }
    size_t len = length < 0 ? strlen(value) : (size_t)length;
    hy_return r;
    if (part == HY_URL_PART_PATH) {
        /* ATS paths have no leading '/'; hookyard's do. */
        char *path = _TSmalloc(len + 2, __FILE__);
        path[0] = '/';
        memcpy(path + 1, value, len);
        r = hy_ts_api->url_set((hy_txn *)bufp, url, part, path, len + 1);
        _TSfree(path);
    } else {
        r = hy_ts_api->url_set((hy_txn *)bufp, url, part, value, len);
    }
    return r == HY_SUCCESS ? TS_SUCCESS : TS_ERROR;
}

const char *TSUrlSchemeGet(TSMBuffer bufp, TSMLoc offset, int *length) {
    return part_get(bufp, offset, HY_URL_PART_SCHEME, length);
}
TSReturnCode TSUrlSchemeSet(TSMBuffer bufp, TSMLoc offset, const char *value, int length) {
    return part_set(bufp, offset, HY_URL_PART_SCHEME, value, length);
}
const char *TSUrlHostGet(TSMBuffer bufp, TSMLoc offset, int *length) {
    return part_get(bufp, offset, HY_URL_PART_HOST, length);
}
TSReturnCode TSUrlHostSet(TSMBuffer bufp, TSMLoc offset, const char *value, int length) {
    return part_set(bufp, offset, HY_URL_PART_HOST, value, length);
}
const char *TSUrlPathGet(TSMBuffer bufp, TSMLoc offset, int *length) {
    return part_get(bufp, offset, HY_URL_PART_PATH, length);
}
TSReturnCode TSUrlPathSet(TSMBuffer bufp, TSMLoc offset, const char *value, int length) {
    return part_set(bufp, offset, HY_URL_PART_PATH, value, length);
}
const char *TSUrlHttpQueryGet(TSMBuffer bufp, TSMLoc offset, int *length) {
    return part_get(bufp, offset, HY_URL_PART_QUERY, length);
}
TSReturnCode TSUrlHttpQuerySet(TSMBuffer bufp, TSMLoc offset, const char *value, int length) {
    return part_set(bufp, offset, HY_URL_PART_QUERY, value, length);
}

int TSUrlPortGet(TSMBuffer bufp, TSMLoc offset) {
    int len;
    const char *port = part_get(bufp, offset, HY_URL_PART_PORT, &len);
    if (port && len > 0) {
        int n = 0;
        for (int i = 0; i < len; i++) {
            n = n * 10 + (port[i] - '0');
        }
        return n;
    }
    const char *scheme = part_get(bufp, offset, HY_URL_PART_SCHEME, &len);
    return scheme && len == 5 && memcmp(scheme, "https", 5) == 0 ? 443 : 80;
}

TSReturnCode TSUrlPortSet(TSMBuffer bufp, TSMLoc offset, int port) {
    char text[16];
    snprintf(text, sizeof text, "%d", port);
    return part_set(bufp, offset, HY_URL_PART_PORT, text, -1);
}
