/*
 * Message headers as ATS's TSMBuffer/TSMLoc API shows them, over hookyard's per-message field
 * calls. The TSMBuffer is the transaction; a header location names one of its messages; a field
 * location is the n-th field of a name (its "dup" index), found again on each call, so it
 * follows the message as other plugins change it.
 */
/* pthread_mutexattr_settype and strncasecmp are POSIX (XSI). */
#define _XOPEN_SOURCE 700

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

#define FIELD_MAGIC 0x48595446u /* "FTYH" */

struct tsapi_mloc {
    uint32_t magic;
    hy_msg msg;
    char *name;
    size_t name_len;
    /* Which field of that name, counted from 0 (attached fields only). */
    size_t dup;
    int attached;
    /* A detached field's value (created, not yet appended). */
    char *value;
    size_t value_len;
};

static int hdr_msg(TSMLoc hdr, hy_msg *msg) {
    uintptr_t v = (uintptr_t)hdr;
    if (v < HY_TS_HDR_LOC_BASE || v > HY_TS_HDR_LOC_BASE + HY_MSG_CLIENT_RESPONSE) {
        return 0;
    }
    *msg = (hy_msg)(v - HY_TS_HDR_LOC_BASE);
    return 1;
}

static struct tsapi_mloc *as_field(TSMLoc loc) {
    uintptr_t v = (uintptr_t)loc;
    if (v <= HY_TS_HDR_LOC_BASE + 0x100 || loc->magic != FIELD_MAGIC) {
        return NULL;
    }
    return loc;
}

static TSReturnCode msg_get(TSHttpTxn txnp, hy_msg msg, TSMBuffer *bufp, TSMLoc *offset) {
    hy_str probe;
    int32_t status;
    if (!txnp || !bufp || !offset) {
        return TS_ERROR;
    }
    /* A message that is not there yet is refused, as in ATS. */
    int exists = msg == HY_MSG_CLIENT_REQUEST || msg == HY_MSG_ORIGIN_REQUEST
                     ? hy_ts_api->method_get((hy_txn *)txnp, msg, &probe) == HY_SUCCESS
                     : hy_ts_api->status_get((hy_txn *)txnp, msg, &status) == HY_SUCCESS;
    if (!exists) {
        return TS_ERROR;
    }
    *bufp = (TSMBuffer)txnp;
    *offset = HY_TS_HDR_LOC(msg);
    return TS_SUCCESS;
}

TSReturnCode TSHttpTxnClientReqGet(TSHttpTxn txnp, TSMBuffer *bufp, TSMLoc *offset) {
    return msg_get(txnp, HY_MSG_CLIENT_REQUEST, bufp, offset);
}
TSReturnCode TSHttpTxnServerReqGet(TSHttpTxn txnp, TSMBuffer *bufp, TSMLoc *offset) {
    return msg_get(txnp, HY_MSG_ORIGIN_REQUEST, bufp, offset);
}
TSReturnCode TSHttpTxnServerRespGet(TSHttpTxn txnp, TSMBuffer *bufp, TSMLoc *offset) {
    return msg_get(txnp, HY_MSG_ORIGIN_RESPONSE, bufp, offset);
}
TSReturnCode TSHttpTxnClientRespGet(TSHttpTxn txnp, TSMBuffer *bufp, TSMLoc *offset) {
    return msg_get(txnp, HY_MSG_CLIENT_RESPONSE, bufp, offset);
}

static void field_free(struct tsapi_mloc *f) {
    f->magic = 0;
    free(f->name);
    free(f->value);
    free(f);
}

TSReturnCode TSHandleMLocRelease(TSMBuffer bufp, TSMLoc parent, TSMLoc mloc) {
    (void)bufp;
    (void)parent;
    /* Header and URL locations are names, not handles: nothing to free. */
    if ((uintptr_t)mloc <= HY_TS_HDR_LOC_BASE + 0x100) {
        return TS_SUCCESS;
    }
    struct tsapi_mloc *f = as_field(mloc);
    if (!f) {
        return TS_ERROR;
    }
    field_free(f);
    return TS_SUCCESS;
}

static struct tsapi_mloc *field_new(hy_msg msg, const char *name, size_t len, size_t dup,
                                    int attached) {
    struct tsapi_mloc *f = _TSmalloc(sizeof *f, __FILE__);
    f->magic = FIELD_MAGIC;
    f->msg = msg;
    f->name = _TSstrdup(name, (int64_t)len, __FILE__);
    f->name_len = len;
    f->dup = dup;
    f->attached = attached;
    f->value = NULL;
    f->value_len = 0;
    return f;
}

static int same_name(hy_str a, const char *b, size_t len) {
    return a.len == len && strncasecmp(a.ptr, b, len) == 0;
}

/* The number of fields of the message named `name` before `position`. */
static size_t dups_before(hy_txn *txn, hy_msg msg, const char *name, size_t len, size_t position) {
    size_t n = 0;
    hy_str fname, fvalue;
    for (size_t i = 0; i < position; i++) {
        if (hy_ts_api->header_field_get(txn, msg, i, &fname, &fvalue) != HY_SUCCESS) {
            break;
        }
        n += same_name(fname, name, len);
    }
    return n;
}

/* Where field `f` is in the message now; 0 when it is gone. */
static int field_position(hy_txn *txn, struct tsapi_mloc *f, size_t *position) {
    size_t seen = 0;
    hy_str name, value;
    for (size_t i = 0; hy_ts_api->header_field_get(txn, f->msg, i, &name, &value) == HY_SUCCESS;
         i++) {
        if (same_name(name, f->name, f->name_len) && seen++ == f->dup) {
            *position = i;
            return 1;
        }
    }
    return 0;
}

int TSMimeHdrFieldsCount(TSMBuffer bufp, TSMLoc offset) {
    hy_msg msg;
    if (!bufp || !hdr_msg(offset, &msg)) {
        return -1;
    }
    hy_str name, value;
    int n = 0;
    while (hy_ts_api->header_field_get((hy_txn *)bufp, msg, (size_t)n, &name, &value) ==
           HY_SUCCESS) {
        n++;
    }
    return n;
}

TSMLoc TSMimeHdrFieldGet(TSMBuffer bufp, TSMLoc hdr, int idx) {
    hy_msg msg;
    hy_str name, value;
    if (!bufp || !hdr_msg(hdr, &msg) || idx < 0 ||
        hy_ts_api->header_field_get((hy_txn *)bufp, msg, (size_t)idx, &name, &value) !=
            HY_SUCCESS) {
        return TS_NULL_MLOC;
    }
    size_t dup = dups_before((hy_txn *)bufp, msg, name.ptr, name.len, (size_t)idx);
    return field_new(msg, name.ptr, name.len, dup, 1);
}

TSMLoc TSMimeHdrFieldFind(TSMBuffer bufp, TSMLoc hdr, const char *name, int length) {
    hy_msg msg;
    hy_str value;
    if (!bufp || !name || !hdr_msg(hdr, &msg)) {
        return TS_NULL_MLOC;
    }
    size_t len = length < 0 ? strlen(name) : (size_t)length;
    if (hy_ts_api->header_get((hy_txn *)bufp, msg, name, len, 0, &value) != HY_SUCCESS) {
        return TS_NULL_MLOC;
    }
    return field_new(msg, name, len, 0, 1);
}

TSMLoc TSMimeHdrFieldNext(TSMBuffer bufp, TSMLoc hdr, TSMLoc field) {
    struct tsapi_mloc *f = as_field(field);
    size_t position;
    if (!bufp || !f || !f->attached || !field_position((hy_txn *)bufp, f, &position)) {
        return TS_NULL_MLOC;
    }
    return TSMimeHdrFieldGet(bufp, hdr, (int)position + 1);
}

TSMLoc TSMimeHdrFieldNextDup(TSMBuffer bufp, TSMLoc hdr, TSMLoc field) {
    struct tsapi_mloc *f = as_field(field);
    hy_str value;
    (void)hdr;
    if (!bufp || !f || !f->attached ||
        hy_ts_api->header_get((hy_txn *)bufp, f->msg, f->name, f->name_len, f->dup + 1, &value) !=
            HY_SUCCESS) {
        return TS_NULL_MLOC;
    }
    return field_new(f->msg, f->name, f->name_len, f->dup + 1, 1);
}

TSReturnCode TSMimeHdrFieldCreateNamed(TSMBuffer bufp, TSMLoc mh_mloc, const char *name,
                                       int name_len, TSMLoc *locp) {
    hy_msg msg;
    if (!bufp || !name || !locp || !hdr_msg(mh_mloc, &msg)) {
        return TS_ERROR;
    }
    size_t len = name_len < 0 ? strlen(name) : (size_t)name_len;
    *locp = field_new(msg, name, len, 0, 0);
    return TS_SUCCESS;
}

TSReturnCode TSMimeHdrFieldAppend(TSMBuffer bufp, TSMLoc hdr, TSMLoc field) {
    struct tsapi_mloc *f = as_field(field);
    hy_msg msg;
    hy_str value;
    if (!bufp || !f || f->attached || !hdr_msg(hdr, &msg) || msg != f->msg) {
        return TS_ERROR;
    }
    size_t dup = 0;
    while (hy_ts_api->header_get((hy_txn *)bufp, msg, f->name, f->name_len, dup, &value) ==
           HY_SUCCESS) {
        dup++;
    }
    if (hy_ts_api->header_add((hy_txn *)bufp, msg, f->name, f->name_len,
                              f->value ? f->value : "", f->value_len) != HY_SUCCESS) {
        return TS_ERROR;
    }
    f->attached = 1;
    f->dup = dup;
    free(f->value);
    f->value = NULL;
    f->value_len = 0;
    return TS_SUCCESS;
}

/* Rewrites the fields named like `f`: field `f` gets `value` (or goes, when remove is set). When
 * `f` is the only one of its name it is replaced in place; otherwise the fields of that name
 * move to the end of the message, in their order. */
static TSReturnCode rewrite(hy_txn *txn, struct tsapi_mloc *f, const char *value, size_t len,
                            int remove) {
    const hy_api *api = hy_ts_api;
    hy_str v;
    if (api->header_get(txn, f->msg, f->name, f->name_len, f->dup, &v) != HY_SUCCESS) {
        return TS_ERROR;
    }
    size_t count = f->dup + 1;
    while (api->header_get(txn, f->msg, f->name, f->name_len, count, &v) == HY_SUCCESS) {
        count++;
    }
    if (count == 1) {
        hy_return r = remove ? api->header_remove(txn, f->msg, f->name, f->name_len)
                             : api->header_set(txn, f->msg, f->name, f->name_len, value, len);
        return r == HY_SUCCESS ? TS_SUCCESS : TS_ERROR;
    }
    char **copies = calloc(count, sizeof *copies);
    size_t *lens = calloc(count, sizeof *lens);
    if (!copies || !lens) {
        abort();
    }
    for (size_t i = 0; i < count; i++) {
        if (api->header_get(txn, f->msg, f->name, f->name_len, i, &v) == HY_SUCCESS) {
            copies[i] = _TSstrdup(v.ptr, (int64_t)v.len, __FILE__);
            lens[i] = v.len;
        }
    }
    TSReturnCode rc = api->header_remove(txn, f->msg, f->name, f->name_len) == HY_SUCCESS
                          ? TS_SUCCESS
                          : TS_ERROR;
    for (size_t i = 0; rc == TS_SUCCESS && i < count; i++) {
        if (i == f->dup && remove) {
            continue;
        }
        const char *out = i == f->dup ? value : (copies[i] ? copies[i] : "");
        size_t out_len = i == f->dup ? len : lens[i];
        if (api->header_add(txn, f->msg, f->name, f->name_len, out, out_len) != HY_SUCCESS) {
            rc = TS_ERROR;
        }
    }
    for (size_t i = 0; i < count; i++) {
        free(copies[i]);
    }
    free(copies);
    free(lens);
    return rc;
}

TSReturnCode TSMimeHdrFieldRemove(TSMBuffer bufp, TSMLoc hdr, TSMLoc field) {
    struct tsapi_mloc *f = as_field(field);
    (void)hdr;
    if (!bufp || !f) {
        return TS_ERROR;
    }
    if (!f->attached) {
        return TS_SUCCESS;
    }
    /* The handle keeps the field's value, so it can be appended again. */
    hy_str v;
    if (hy_ts_api->header_get((hy_txn *)bufp, f->msg, f->name, f->name_len, f->dup, &v) !=
        HY_SUCCESS) {
        return TS_ERROR;
    }
    char *value = _TSstrdup(v.ptr, (int64_t)v.len, __FILE__);
    size_t value_len = v.len;
    if (rewrite((hy_txn *)bufp, f, NULL, 0, 1) != TS_SUCCESS) {
        free(value);
        return TS_ERROR;
    }
    f->attached = 0;
    f->value = value;
    f->value_len = value_len;
    return TS_SUCCESS;
}

TSReturnCode TSMimeHdrFieldDestroy(TSMBuffer bufp, TSMLoc hdr, TSMLoc field) {
    return TSMimeHdrFieldRemove(bufp, hdr, field);
}

const char *TSMimeHdrFieldNameGet(TSMBuffer bufp, TSMLoc hdr, TSMLoc field, int *length) {
    struct tsapi_mloc *f = as_field(field);
    (void)bufp;
    (void)hdr;
    if (!f) {
        return NULL;
    }
    if (length) {
        *length = (int)f->name_len;
    }
    return f->name;
}

/* The field's whole value: a view into the host (attached) or the handle's copy. */
static int whole_value(TSMBuffer bufp, struct tsapi_mloc *f, hy_str *out) {
    if (!f->attached) {
        out->ptr = f->value ? f->value : "";
        out->len = f->value_len;
        return 1;
    }
    return hy_ts_api->header_get((hy_txn *)bufp, f->msg, f->name, f->name_len, f->dup, out) ==
           HY_SUCCESS;
}

/* Element `idx` of a comma-separated value, without surrounding blanks. */
static int element(hy_str whole, int idx, hy_str *out) {
    size_t start = 0;
    int n = 0;
    for (size_t i = 0; i <= whole.len; i++) {
        if (i == whole.len || whole.ptr[i] == ',') {
            if (n == idx) {
                size_t b = start, e = i;
                while (b < e && (whole.ptr[b] == ' ' || whole.ptr[b] == '\t')) {
                    b++;
                }
                while (e > b && (whole.ptr[e - 1] == ' ' || whole.ptr[e - 1] == '\t')) {
                    e--;
                }
                out->ptr = whole.ptr + b;
                out->len = e - b;
                return 1;
            }
            n++;
            start = i + 1;
        }
    }
    return 0;
}

int TSMimeHdrFieldValuesCount(TSMBuffer bufp, TSMLoc hdr, TSMLoc field) {
    struct tsapi_mloc *f = as_field(field);
    hy_str whole;
    (void)hdr;
    if (!f || !whole_value(bufp, f, &whole)) {
        return 0;
    }
    if (whole.len == 0) {
        return 0;
    }
    int n = 1;
    for (size_t i = 0; i < whole.len; i++) {
        n += whole.ptr[i] == ',';
    }
    return n;
}

const char *TSMimeHdrFieldValueStringGet(TSMBuffer bufp, TSMLoc hdr, TSMLoc field, int idx,
                                         int *value_len_ptr) {
    struct tsapi_mloc *f = as_field(field);
    hy_str whole, part;
    (void)hdr;
    if (!f || !whole_value(bufp, f, &whole)) {
        return NULL;
    }
    if (idx >= 0) {
        if (!element(whole, idx, &part)) {
            return NULL;
        }
        whole = part;
    }
    if (value_len_ptr) {
        *value_len_ptr = (int)whole.len;
    }
    return whole.ptr;
}

/* Sets the field's whole value: a handle's copy (detached) or the message's field. */
static TSReturnCode set_whole(TSMBuffer bufp, struct tsapi_mloc *f, const char *value,
                              size_t len) {
    if (!f->attached) {
        char *copy = _TSstrdup(value, (int64_t)len, __FILE__);
        free(f->value);
        f->value = copy;
        f->value_len = len;
        return TS_SUCCESS;
    }
    return rewrite((hy_txn *)bufp, f, value, len, 0);
}

TSReturnCode TSMimeHdrFieldValueStringSet(TSMBuffer bufp, TSMLoc hdr, TSMLoc field, int idx,
                                          const char *value, int length) {
    struct tsapi_mloc *f = as_field(field);
    hy_str whole, part;
    (void)hdr;
    if (!f || (!value && length != 0) || !whole_value(bufp, f, &whole)) {
        return TS_ERROR;
    }
    size_t len = length < 0 ? strlen(value) : (size_t)length;
    /* The new whole value: `value` itself, or the old one with element idx replaced (or, past
     * the last element, `value` appended as a new one). */
    char *built = NULL;
    size_t built_len = len;
    if (idx >= 0 && whole.len > 0) {
        size_t pre, post_start;
        if (element(whole, idx, &part)) {
            pre = (size_t)(part.ptr - whole.ptr);
            post_start = pre + part.len;
        } else {
            pre = whole.len;
            post_start = whole.len;
        }
        int appended = pre == whole.len;
        built_len = pre + (appended ? 2 : 0) + len + (whole.len - post_start);
        built = _TSmalloc(built_len + 1, __FILE__);
        memcpy(built, whole.ptr, pre);
        size_t at = pre;
        if (appended) {
            memcpy(built + at, ", ", 2);
            at += 2;
        }
        if (len) {
            memcpy(built + at, value, len);
        }
        at += len;
        memcpy(built + at, whole.ptr + post_start, whole.len - post_start);
        value = built;
    }
    TSReturnCode rc = set_whole(bufp, f, value ? value : "", built_len);
    free(built);
    return rc;
}

/* Replaces element `idx` of the field's value with `before` + the element + `after` (an
 * insertion when `keep` is 0: the element is not kept, and `before` is the new element followed
 * by ", "). Past the last element (or idx < 0), `after` goes at the end. */
static TSReturnCode splice(TSMBuffer bufp, struct tsapi_mloc *f, int idx, const char *value,
                           size_t len, int insert) {
    hy_str whole, part;
    if (!whole_value(bufp, f, &whole)) {
        return TS_ERROR;
    }
    size_t at;
    int at_end = idx < 0 || whole.len == 0 || !element(whole, idx, &part);
    if (at_end) {
        at = whole.len;
    } else {
        at = (size_t)(part.ptr - whole.ptr) + (insert ? 0 : part.len);
    }
    /* An insertion before an element adds ", " after the new one; one at the end adds ", "
     * before it (when there is a value). */
    const char *sep_before = insert && at_end && whole.len > 0 ? ", " : "";
    const char *sep_after = insert && !at_end ? ", " : "";
    size_t n = whole.len + strlen(sep_before) + len + strlen(sep_after);
    char *built = _TSmalloc(n + 1, __FILE__);
    size_t o = 0;
    memcpy(built + o, whole.ptr, at);
    o += at;
    memcpy(built + o, sep_before, strlen(sep_before));
    o += strlen(sep_before);
    memcpy(built + o, value, len);
    o += len;
    memcpy(built + o, sep_after, strlen(sep_after));
    o += strlen(sep_after);
    memcpy(built + o, whole.ptr + at, whole.len - at);
    TSReturnCode rc = set_whole(bufp, f, built, n);
    free(built);
    return rc;
}

TSReturnCode TSMimeHdrFieldValueStringInsert(TSMBuffer bufp, TSMLoc hdr, TSMLoc field, int idx,
                                             const char *value, int length) {
    struct tsapi_mloc *f = as_field(field);
    (void)hdr;
    if (!f || !value) {
        return TS_ERROR;
    }
    return splice(bufp, f, idx, value, length < 0 ? strlen(value) : (size_t)length, 1);
}

TSReturnCode TSMimeHdrFieldValueAppend(TSMBuffer bufp, TSMLoc hdr, TSMLoc field, int idx,
                                       const char *value, int length) {
    struct tsapi_mloc *f = as_field(field);
    (void)hdr;
    if (!f || !value) {
        return TS_ERROR;
    }
    return splice(bufp, f, idx, value, length < 0 ? strlen(value) : (size_t)length, 0);
}

TSReturnCode TSMimeHdrFieldValuesClear(TSMBuffer bufp, TSMLoc hdr, TSMLoc field) {
    struct tsapi_mloc *f = as_field(field);
    (void)hdr;
    return f ? set_whole(bufp, f, "", 0) : TS_ERROR;
}

/* Element idx (the whole value for idx < 0) as a number; 0 when it is none. */
static long long number_of(TSMBuffer bufp, TSMLoc field, int idx, int is_unsigned) {
    struct tsapi_mloc *f = as_field(field);
    hy_str whole, part;
    if (!f || !whole_value(bufp, f, &whole)) {
        return 0;
    }
    if (idx >= 0) {
        if (!element(whole, idx, &part)) {
            return 0;
        }
        whole = part;
    }
    char text[32];
    size_t n = whole.len < sizeof text - 1 ? whole.len : sizeof text - 1;
    memcpy(text, whole.ptr, n);
    text[n] = '\0';
    return is_unsigned ? (long long)strtoull(text, NULL, 10) : strtoll(text, NULL, 10);
}

int TSMimeHdrFieldValueIntGet(TSMBuffer bufp, TSMLoc hdr, TSMLoc field, int idx) {
    (void)hdr;
    return (int)number_of(bufp, field, idx, 0);
}

int64_t TSMimeHdrFieldValueInt64Get(TSMBuffer bufp, TSMLoc hdr, TSMLoc field, int idx) {
    (void)hdr;
    return (int64_t)number_of(bufp, field, idx, 0);
}

unsigned int TSMimeHdrFieldValueUintGet(TSMBuffer bufp, TSMLoc hdr, TSMLoc field, int idx) {
    (void)hdr;
    return (unsigned int)number_of(bufp, field, idx, 1);
}

TSReturnCode TSMimeHdrFieldValueIntSet(TSMBuffer bufp, TSMLoc hdr, TSMLoc field, int idx,
                                       int value) {
    char text[16];
    int n = snprintf(text, sizeof text, "%d", value);
    return TSMimeHdrFieldValueStringSet(bufp, hdr, field, idx, text, n);
}

TSReturnCode TSMimeHdrFieldValueInt64Set(TSMBuffer bufp, TSMLoc hdr, TSMLoc field, int idx,
                                         int64_t value) {
    char text[24];
    int n = snprintf(text, sizeof text, "%lld", (long long)value);
    return TSMimeHdrFieldValueStringSet(bufp, hdr, field, idx, text, n);
}

TSReturnCode TSMimeHdrFieldValueUintSet(TSMBuffer bufp, TSMLoc hdr, TSMLoc field, int idx,
                                        unsigned int value) {
    char text[16];
    int n = snprintf(text, sizeof text, "%u", value);
    return TSMimeHdrFieldValueStringSet(bufp, hdr, field, idx, text, n);
}

TSReturnCode TSMimeHdrFieldCreate(TSMBuffer bufp, TSMLoc hdr, TSMLoc *locp) {
    return TSMimeHdrFieldCreateNamed(bufp, hdr, "", 0, locp);
}

TSReturnCode TSMimeHdrFieldNameSet(TSMBuffer bufp, TSMLoc hdr, TSMLoc field, const char *name,
                                   int length) {
    struct tsapi_mloc *f = as_field(field);
    (void)hdr;
    if (!f || !name) {
        return TS_ERROR;
    }
    size_t len = length < 0 ? strlen(name) : (size_t)length;
    if (f->attached) {
        /* A renamed field is the old one removed and a new one appended with its value. */
        if (TSMimeHdrFieldRemove(bufp, hdr, field) != TS_SUCCESS) {
            return TS_ERROR;
        }
        free(f->name);
        f->name = _TSstrdup(name, (int64_t)len, __FILE__);
        f->name_len = len;
        return TSMimeHdrFieldAppend(bufp, HY_TS_HDR_LOC(f->msg), field);
    }
    free(f->name);
    f->name = _TSstrdup(name, (int64_t)len, __FILE__);
    f->name_len = len;
    return TS_SUCCESS;
}

/* -- Message heads ----------------------------------------------------------------------------- */

static int head_args(TSMBuffer bufp, TSMLoc offset, hy_msg *msg) {
    return bufp && hdr_msg(offset, msg);
}

static size_t length_of(const char *value, int length) {
    return length < 0 ? strlen(value) : (size_t)length;
}

const char *TSHttpHdrMethodGet(TSMBuffer bufp, TSMLoc offset, int *length) {
    hy_msg msg;
    hy_str method;
    if (!head_args(bufp, offset, &msg) ||
        hy_ts_api->method_get((hy_txn *)bufp, msg, &method) != HY_SUCCESS) {
        return NULL;
    }
    if (length) {
        *length = (int)method.len;
    }
    return method.ptr;
}

TSReturnCode TSHttpHdrMethodSet(TSMBuffer bufp, TSMLoc offset, const char *value, int length) {
    hy_msg msg;
    if (!value || !head_args(bufp, offset, &msg)) {
        return TS_ERROR;
    }
    return hy_ts_api->method_set((hy_txn *)bufp, msg, value, length_of(value, length)) ==
                   HY_SUCCESS
               ? TS_SUCCESS
               : TS_ERROR;
}

TSHttpStatus TSHttpHdrStatusGet(TSMBuffer bufp, TSMLoc offset) {
    hy_msg msg;
    int32_t status;
    if (!head_args(bufp, offset, &msg) ||
        hy_ts_api->status_get((hy_txn *)bufp, msg, &status) != HY_SUCCESS) {
        return TS_HTTP_STATUS_NONE;
    }
    return (TSHttpStatus)status;
}

TSReturnCode TSHttpHdrStatusSet(TSMBuffer bufp, TSMLoc offset, TSHttpStatus status) {
    hy_msg msg;
    if (!head_args(bufp, offset, &msg)) {
        return TS_ERROR;
    }
    return hy_ts_api->status_set((hy_txn *)bufp, msg, (int32_t)status) == HY_SUCCESS ? TS_SUCCESS
                                                                                     : TS_ERROR;
}

const char *TSHttpHdrReasonGet(TSMBuffer bufp, TSMLoc offset, int *length) {
    hy_msg msg;
    hy_str reason;
    if (!head_args(bufp, offset, &msg) ||
        hy_ts_api->reason_get((hy_txn *)bufp, msg, &reason) != HY_SUCCESS) {
        return NULL;
    }
    if (length) {
        *length = (int)reason.len;
    }
    return reason.ptr;
}

TSReturnCode TSHttpHdrReasonSet(TSMBuffer bufp, TSMLoc offset, const char *value, int length) {
    hy_msg msg;
    if (!value || !head_args(bufp, offset, &msg)) {
        return TS_ERROR;
    }
    return hy_ts_api->reason_set((hy_txn *)bufp, msg, value, length_of(value, length)) ==
                   HY_SUCCESS
               ? TS_SUCCESS
               : TS_ERROR;
}
