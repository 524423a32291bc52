/*
 * Transactions beyond their headers: sessions, error responses, user arguments, statistics and
 * the configuration directory.
 */
#define _XOPEN_SOURCE 700

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "internal.h"

TSHttpSsn TSHttpTxnSsnGet(TSHttpTxn txnp) {
    return txnp ? (TSHttpSsn)hy_ts_api->txn_ssn_get((hy_txn *)txnp) : NULL;
}

static pthread_once_t config_dir_once = PTHREAD_ONCE_INIT;
static char *config_dir;

static void config_dir_init(void) {
    hy_str dir;
    if (hy_ts_api->config_dir_get(hy_ts_api->plugin, &dir) == HY_SUCCESS) {
        config_dir = _TSstrdup(dir.ptr, (int64_t)dir.len, __FILE__);
    }
}

/* A C string that lives as long as the plugin (the host's view is not NUL-terminated). */
const char *TSConfigDirGet(void) {
    pthread_once(&config_dir_once, config_dir_init);
    return config_dir;
}

/* Addresses handed out, per thread: the last HY_TS_ADDRS lookups stay valid (a transaction
 * pointer may be reused once its transaction ended, so nothing is looked up by it). */
#define HY_TS_ADDRS 64
static __thread struct sockaddr_storage addrs[HY_TS_ADDRS];
static __thread unsigned next_addr;

/* Parses `IP:PORT` or `[IPv6]:PORT`; 1 on success. */
static int parse_addr(const char *text, size_t len, struct sockaddr_storage *out) {
    char host[64];
    const char *colon = NULL;
    for (size_t i = len; i > 0; i--) {
        if (text[i - 1] == ':') {
            colon = text + i - 1;
            break;
        }
    }
    if (!colon) {
        return 0;
    }
    const char *h = text;
    size_t hlen = (size_t)(colon - text);
    if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    if (hlen == 0 || hlen >= sizeof host) {
        return 0;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    unsigned long port = 0;
    for (const char *p = colon + 1; p < text + len; p++) {
        if (*p < '0' || *p > '9' || (port = port * 10 + (unsigned long)(*p - '0')) > 65535) {
            return 0;
        }
    }
    memset(out, 0, sizeof *out);
    struct sockaddr_in *v4 = (struct sockaddr_in *)out;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        return 1;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        return 1;
    }
    return 0;
}

static const struct sockaddr *txn_addr(TSHttpTxn txnp, int which) {
    if (!txnp) {
        return NULL;
    }
    hy_str text;
    hy_return found = which ? hy_ts_api->incoming_addr_get((hy_txn *)txnp, &text)
                            : hy_ts_api->client_addr_get((hy_txn *)txnp, &text);
    struct sockaddr_storage *slot = &addrs[next_addr++ % HY_TS_ADDRS];
    if (found != HY_SUCCESS || !parse_addr(text.ptr, text.len, slot)) {
        return NULL;
    }
    return (const struct sockaddr *)slot;
}

const struct sockaddr *TSHttpTxnClientAddrGet(TSHttpTxn txnp) { return txn_addr(txnp, 0); }

const struct sockaddr *TSHttpTxnIncomingAddrGet(TSHttpTxn txnp) { return txn_addr(txnp, 1); }

static pthread_once_t plugin_dir_once = PTHREAD_ONCE_INIT;
static char *plugin_dir;

static void plugin_dir_init(void) {
    hy_str dir;
    if (hy_ts_api->plugin_dir_get(hy_ts_api->plugin, &dir) == HY_SUCCESS) {
        plugin_dir = _TSstrdup(dir.ptr, (int64_t)dir.len, __FILE__);
    }
}

/* A C string that lives as long as the plugin, like TSConfigDirGet's. */
const char *TSPluginDirGet(void) {
    pthread_once(&plugin_dir_once, plugin_dir_init);
    return plugin_dir;
}

TSReturnCode TSHostStatusGet(const char *hostname, const size_t hostname_len,
                             TSHostStatus *status, unsigned int *reason) {
    int32_t up = 0;
    if (!hostname ||
        hy_ts_api->host_status_get(hy_ts_api->plugin, hostname, hostname_len, &up) != HY_SUCCESS) {
        return TS_ERROR;
    }
    if (status) {
        *status = up ? TS_HOST_STATUS_UP : TS_HOST_STATUS_DOWN;
    }
    if (reason) {
        *reason = 0;
    }
    return TS_SUCCESS;
}

void TSHostStatusSet(const char *hostname, const size_t hostname_len, TSHostStatus status,
                     const unsigned int down_time, const unsigned int reason) {
    if (down_time) {
        TSWarning("TSHostStatusSet: down_time %u is not supported: the mark holds until changed",
                  down_time);
    }
    const char *why = reason & TS_HOST_STATUS_ACTIVE   ? "active"
                      : reason & TS_HOST_STATUS_LOCAL  ? "local"
                      : reason & TS_HOST_STATUS_SELF_DETECT ? "self_detect"
                                                            : "manual";
    int up = status != TS_HOST_STATUS_DOWN;
    if (!hostname || hy_ts_api->host_status_set(hy_ts_api->plugin, hostname, hostname_len, up,
                                                why, strlen(why)) != HY_SUCCESS) {
        TSError("TSHostStatusSet: no host \"%.*s\" in the proxy's strategies",
                (int)hostname_len, hostname ? hostname : "");
    }
}

void TSHttpTxnStatusSet(TSHttpTxn txnp, TSHttpStatus status) {
    hy_txn *txn = (hy_txn *)txnp;
    int32_t current;
    /* A client response exists once the transaction is answered directly or the origin's
     * response came: change its status. Before, answer directly. */
    if (hy_ts_api->status_get(txn, HY_MSG_CLIENT_RESPONSE, &current) == HY_SUCCESS) {
        if (hy_ts_api->status_set(txn, HY_MSG_CLIENT_RESPONSE, (int32_t)status) != HY_SUCCESS) {
            TSError("TSHttpTxnStatusSet: status %d refused", (int)status);
        }
    } else if (hy_ts_api->direct_response(txn, (int32_t)status, "", 0) != HY_SUCCESS) {
        TSError("TSHttpTxnStatusSet: status %d refused", (int)status);
    }
}

void TSHttpTxnErrorBodySet(TSHttpTxn txnp, char *buf, size_t buflength, char *mimetype) {
    hy_txn *txn = (hy_txn *)txnp;
    int32_t status = 500;
    if (hy_ts_api->status_get(txn, HY_MSG_CLIENT_RESPONSE, &status) != HY_SUCCESS) {
        status = 500;
    }
    if (hy_ts_api->direct_response(txn, status, buf ? buf : "", buf ? buflength : 0) !=
        HY_SUCCESS) {
        TSError("TSHttpTxnErrorBodySet: too late for a direct response");
    } else if (mimetype) {
        hy_ts_api->header_set(txn, HY_MSG_CLIENT_RESPONSE, "Content-Type", 12, mimetype,
                              strlen(mimetype));
    }
    free(buf);
    free(mimetype);
}

TSReturnCode TSUserArgIndexReserve(TSUserArgType type, const char *name, const char *description,
                                   int *arg_idx) {
    int32_t index;
    if (!name || !arg_idx ||
        hy_ts_api->user_arg_reserve((hy_user_arg_type)type, name, description, &index) !=
            HY_SUCCESS) {
        return TS_ERROR;
    }
    *arg_idx = index;
    return TS_SUCCESS;
}

TSReturnCode TSUserArgIndexNameLookup(TSUserArgType type, const char *name, int *arg_idx,
                                      const char **description) {
    int32_t index;
    if (!name || !arg_idx ||
        hy_ts_api->user_arg_name_lookup((hy_user_arg_type)type, name, &index, description) !=
            HY_SUCCESS) {
        return TS_ERROR;
    }
    *arg_idx = index;
    return TS_SUCCESS;
}

TSReturnCode TSUserArgIndexLookup(TSUserArgType type, int arg_idx, const char **name,
                                  const char **description) {
    return hy_ts_api->user_arg_index_lookup((hy_user_arg_type)type, arg_idx, name,
                                            description) == HY_SUCCESS
               ? TS_SUCCESS
               : TS_ERROR;
}

void TSUserArgSet(void *data, int arg_idx, void *arg) {
    if (hy_ts_api->user_arg_set(data, arg_idx, arg) != HY_SUCCESS) {
        TSError("TSUserArgSet: index %d refused for this object", arg_idx);
    }
}

void *TSUserArgGet(void *data, int arg_idx) {
    void *value = NULL;
    if (hy_ts_api->user_arg_get(data, arg_idx, &value) != HY_SUCCESS) {
        TSError("TSUserArgGet: index %d refused for this object", arg_idx);
        return NULL;
    }
    return value;
}

/* ATS's integer statistics may be set and decremented: hookyard gauges. */
int TSStatCreate(const char *the_name, TSRecordDataType the_type, TSStatPersistence persist,
                 TSStatSync sync) {
    (void)persist;
    (void)sync;
    int32_t id;
    if (!the_name || the_type != TS_RECORDDATATYPE_INT ||
        hy_ts_api->stat_create(hy_ts_api->plugin, the_name, strlen(the_name), HY_STAT_GAUGE,
                               &id) != HY_SUCCESS) {
        TSError("TSStatCreate: statistic \"%s\" refused", the_name ? the_name : "");
        return TS_ERROR;
    }
    return id;
}

void TSStatIntIncrement(int the_stat, TSMgmtInt amount) {
    hy_ts_api->stat_increment(hy_ts_api->plugin, the_stat, amount);
}

void TSStatIntDecrement(int the_stat, TSMgmtInt amount) {
    hy_ts_api->stat_increment(hy_ts_api->plugin, the_stat, -amount);
}

TSMgmtInt TSStatIntGet(int the_stat) {
    int64_t value = 0;
    hy_ts_api->stat_get(hy_ts_api->plugin, the_stat, &value);
    return value;
}

void TSStatIntSet(int the_stat, TSMgmtInt value) {
    hy_ts_api->stat_set(hy_ts_api->plugin, the_stat, value);
}
