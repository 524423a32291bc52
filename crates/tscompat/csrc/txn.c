/*
 * Transactions beyond their headers: sessions, error responses, user arguments, statistics and
 * the configuration directory.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

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
