/*
 * coord_probe: a global test plugin for the coordination functions of the ABI (priorities,
 * thresholds, switching and removing callbacks, listing them). Built once per name with
 * -DPROBE_NAME='"alpha"'; plugin.yaml gives each build its priority and ceiling.
 *
 * What it does on every transaction whose callbacks run:
 *   READ_REQUEST_HDR   appends NAME to `X-Read` of the client request (one field, values joined
 *                      with ',', so the order survives the origin's sorted echo), then performs
 *                      the coordination actions addressed to it (below) unless `act=` says
 *                      otherwise
 *   SEND_REQUEST_HDR   appends NAME to `X-Send` of the request to the origin
 *   SEND_RESPONSE_HDR  appends NAME to `X-Respond` of the client response, adds one
 *                      `X-Coord-Result` per action it performed on this transaction, and
 *                      `X-Unseen-Closes: NAME=N`: how many TXN_CLOSE calls it got for
 *                      transactions whose READ_REQUEST_HDR it did not run (skipped callbacks),
 *                      and `X-Open: NAME=N`: how many transactions whose READ_REQUEST_HDR it
 *                      ran have not had its TXN_CLOSE yet (this one included)
 *   TXN_CLOSE          frees the transaction's state, counting the unseen ones
 *
 * params (after argv[0], the path):
 *   txn=HOOK      READ_REQUEST_HDR also registers a transaction-level callback on HOOK, which
 *                 stamps `NAME/txn`
 *   ssn=HOOK      the first READ_REQUEST_HDR of a session registers a session-level callback on
 *                 HOOK, which stamps `NAME/ssn`
 *   act=HOOK      performs the actions on HOOK (READ_REQUEST_HDR, SEND_REQUEST_HDR or
 *                 SEND_RESPONSE_HDR, after its stamp) instead of on READ_REQUEST_HDR, e.g. to act
 *                 on transaction callbacks other builds registered meanwhile
 *
 * Actions: request fields `X-Coord: ACTOR OP=ARGS`, performed by the build named ACTOR in its
 * READ_REQUEST_HDR callback, in field order. SCOPE is global, session (the transaction's) or txn;
 * HOOK a hook name (READ_REQUEST_HDR, ...) or ANY; N an integer or `none`.
 *   threshold=SCOPE:HOOK:N          threshold_set (none: HY_THRESHOLD_NONE, i.e. clear)
 *   threshold-get=SCOPE:HOOK        threshold_get; the result adds the value (or none)
 *   priority=SCOPE:PLUGIN:HOOK:N    callback_priority_set on each of PLUGIN's callbacks on HOOK
 *   disable=SCOPE:PLUGIN:HOOK       callback_enable_set(0) on each of them
 *   enable=SCOPE:PLUGIN:HOOK        callback_enable_set(1) on each of them
 *   remove=SCOPE:PLUGIN:HOOK        callback_remove on each of them
 *   plugin=SCOPE:PLUGIN:on|off      plugin_enable_set
 *   list=HOOK                       callback_list; the result adds `PLUGIN:PRIORITY:LEVEL:ENABLED`
 *                                   per callback, in order, separated by spaces
 *   own-priority=N                  plugin_priority_set
 *   own-priority-get                plugin_priority_get; the result adds PRIORITY/CEILING
 * Each result reads `OP=ARGS -> RC` (RC: the return code; one per callback acted on, joined
 * with ','; `none` when PLUGIN has no callback listed on HOOK), followed by what it adds.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookyard.h"

#ifndef PROBE_NAME
#define PROBE_NAME "probe"
#endif

HY_PLUGIN_DESCRIPTOR(PROBE_NAME, "1.0.0", 0);

#define MAX_RESULTS 16
#define RESULT_LEN 512
#define MAX_LISTED 32

static const hy_api *api;
static hy_cont *global_cont, *txn_cont, *ssn_cont;
static int txn_hook = -1, ssn_hook = -1, act_hook = HY_HOOK_READ_REQUEST_HDR;
static int32_t txn_arg, ssn_arg;
static atomic_int unseen_closes, open_states;

/* What the probe keeps per transaction whose READ_REQUEST_HDR it ran. */
struct txn_state {
    int results;
    char result[MAX_RESULTS][RESULT_LEN];
};

static const struct {
    const char *name;
    int32_t id;
} hooks[] = {
    {"READ_REQUEST_HDR", HY_HOOK_READ_REQUEST_HDR},
    {"OS_DNS", HY_HOOK_OS_DNS},
    {"SEND_REQUEST_HDR", HY_HOOK_SEND_REQUEST_HDR},
    {"READ_RESPONSE_HDR", HY_HOOK_READ_RESPONSE_HDR},
    {"SEND_RESPONSE_HDR", HY_HOOK_SEND_RESPONSE_HDR},
    {"TXN_START", HY_HOOK_TXN_START},
    {"TXN_CLOSE", HY_HOOK_TXN_CLOSE},
    {"PRE_REMAP", HY_HOOK_PRE_REMAP},
    {"POST_REMAP", HY_HOOK_POST_REMAP},
    {"ANY", HY_HOOK_ANY},
};

/* The hook named `name`; 0 when there is none. */
static int hook_by_name(const char *name, int32_t *id) {
    for (size_t i = 0; i < sizeof hooks / sizeof hooks[0]; i++) {
        if (strcmp(hooks[i].name, name) == 0) {
            *id = hooks[i].id;
            return 1;
        }
    }
    return 0;
}

static const char *level_name(hy_hook_level level) {
    switch (level) {
    case HY_HOOK_LEVEL_GLOBAL:
        return "global";
    case HY_HOOK_LEVEL_SESSION:
        return "session";
    case HY_HOOK_LEVEL_TXN:
        return "txn";
    default:
        return "?";
    }
}

/* Appends `label` to the one field `name` of `msg`, joined with ','. */
static void stamp(hy_txn *txn, hy_msg msg, const char *name, const char *label) {
    char value[RESULT_LEN];
    hy_str old;
    if (api->header_get(txn, msg, name, strlen(name), 0, &old) == HY_SUCCESS) {
        snprintf(value, sizeof value, "%.*s,%s", (int)old.len, old.ptr, label);
    } else {
        snprintf(value, sizeof value, "%s", label);
    }
    api->header_set(txn, msg, name, strlen(name), value, strlen(value));
}

/* Stamps `label` into the message `hook` writes to; other hooks stamp nothing. */
static void stamp_hook(hy_txn *txn, int hook, const char *label) {
    switch (hook) {
    case HY_HOOK_READ_REQUEST_HDR:
        stamp(txn, HY_MSG_CLIENT_REQUEST, "X-Read", label);
        break;
    case HY_HOOK_SEND_REQUEST_HDR:
        stamp(txn, HY_MSG_ORIGIN_REQUEST, "X-Send", label);
        break;
    case HY_HOOK_SEND_RESPONSE_HDR:
        stamp(txn, HY_MSG_CLIENT_RESPONSE, "X-Respond", label);
        break;
    default:
        break;
    }
}

/* The scope an action names: its level and object; 0 for an unknown scope. */
static int scope(hy_txn *txn, const char *name, hy_hook_level *level, void **object) {
    if (strcmp(name, "global") == 0) {
        *level = HY_HOOK_LEVEL_GLOBAL;
        *object = NULL;
    } else if (strcmp(name, "session") == 0) {
        *level = HY_HOOK_LEVEL_SESSION;
        *object = api->txn_ssn_get(txn);
    } else if (strcmp(name, "txn") == 0) {
        *level = HY_HOOK_LEVEL_TXN;
        *object = txn;
    } else {
        return 0;
    }
    return 1;
}

/* Splits `text` at ':' into at most `max` parts; the number of parts. */
static int split(char *text, char **parts, int max) {
    int n = 0;
    char *save = NULL;
    for (char *part = strtok_r(text, ":", &save); part && n < max;
         part = strtok_r(NULL, ":", &save)) {
        parts[n++] = part;
    }
    return n;
}

/* Appends formatted text to `out` (of RESULT_LEN bytes). */
static void append(char *out, const char *text) {
    size_t used = strlen(out);
    snprintf(out + used, RESULT_LEN - used, "%s", text);
}

static void append_rc(char *out, hy_return rc) {
    char number[16];
    snprintf(number, sizeof number, "%d", rc);
    append(out, number);
}

/* Lists `hook`'s callbacks for `txn` into `out`; the return code. */
static hy_return list(hy_txn *txn, int32_t hook, char *out) {
    hy_callback_info infos[MAX_LISTED];
    size_t count = 0;
    hy_return rc = api->callback_list(txn, hook, infos, MAX_LISTED, &count);
    append_rc(out, rc);
    for (size_t i = 0; rc == HY_SUCCESS && i < count && i < MAX_LISTED; i++) {
        char entry[128];
        snprintf(entry, sizeof entry, " %.*s:%d:%s:%d", (int)infos[i].plugin.len,
                 infos[i].plugin.ptr, infos[i].priority, level_name(infos[i].level),
                 infos[i].enabled);
        append(out, entry);
    }
    return rc;
}

enum change { PRIORITY, DISABLE, ENABLE, REMOVE };

/* Applies `change` to every callback of `plugin` on `hook` that the transaction lists. */
static void change_callbacks(hy_txn *txn, hy_hook_level level, void *object, const char *plugin,
                             int32_t hook, enum change change, int32_t priority, char *out) {
    hy_callback_info infos[MAX_LISTED];
    size_t count = 0;
    hy_return rc = api->callback_list(txn, hook, infos, MAX_LISTED, &count);
    if (rc != HY_SUCCESS) {
        append_rc(out, rc);
        return;
    }
    int acted = 0;
    for (size_t i = 0; i < count && i < MAX_LISTED; i++) {
        if (infos[i].plugin.len != strlen(plugin) ||
            memcmp(infos[i].plugin.ptr, plugin, infos[i].plugin.len) != 0) {
            continue;
        }
        uint64_t id = infos[i].id;
        switch (change) {
        case PRIORITY:
            rc = api->callback_priority_set(api->plugin, level, object, hook, id, priority);
            break;
        case DISABLE:
            rc = api->callback_enable_set(api->plugin, level, object, hook, id, 0);
            break;
        case ENABLE:
            rc = api->callback_enable_set(api->plugin, level, object, hook, id, 1);
            break;
        case REMOVE:
            rc = api->callback_remove(api->plugin, level, object, hook, id);
            break;
        }
        if (acted++) {
            append(out, ",");
        }
        append_rc(out, rc);
    }
    if (!acted) {
        append(out, "none");
    }
}

/* An integer or `none` (HY_THRESHOLD_NONE); 0 when it is neither. */
static int number_or_none(const char *text, int32_t *value) {
    if (strcmp(text, "none") == 0) {
        *value = HY_THRESHOLD_NONE;
        return 1;
    }
    char *end;
    long parsed = strtol(text, &end, 10);
    if (*text == '\0' || *end != '\0') {
        return 0;
    }
    *value = (int32_t)parsed;
    return 1;
}

/* Performs one action (`op`, `args`, both modified) and writes its result after `out`'s
 * `OP=ARGS -> `. */
static void act(hy_txn *txn, const char *op, char *args, char *out) {
    char *part[4] = {0};
    int parts = split(args, part, 4);
    hy_hook_level level;
    void *object;
    int32_t hook, value;
    if (strcmp(op, "threshold") == 0 && parts == 3 && scope(txn, part[0], &level, &object) &&
        hook_by_name(part[1], &hook) && number_or_none(part[2], &value)) {
        append_rc(out, api->threshold_set(api->plugin, level, object, hook, value));
    } else if (strcmp(op, "threshold-get") == 0 && parts == 2 &&
               scope(txn, part[0], &level, &object) && hook_by_name(part[1], &hook)) {
        hy_return rc = api->threshold_get(api->plugin, level, object, hook, &value);
        append_rc(out, rc);
        if (rc == HY_SUCCESS && value == HY_THRESHOLD_NONE) {
            append(out, " none");
        } else if (rc == HY_SUCCESS) {
            append(out, " ");
            append_rc(out, value);
        }
    } else if (strcmp(op, "priority") == 0 && parts == 4 &&
               scope(txn, part[0], &level, &object) && hook_by_name(part[2], &hook) &&
               number_or_none(part[3], &value)) {
        change_callbacks(txn, level, object, part[1], hook, PRIORITY, value, out);
    } else if ((strcmp(op, "disable") == 0 || strcmp(op, "enable") == 0 ||
                strcmp(op, "remove") == 0) &&
               parts == 3 && scope(txn, part[0], &level, &object) &&
               hook_by_name(part[2], &hook)) {
        enum change change = op[0] == 'd' ? DISABLE : op[0] == 'e' ? ENABLE : REMOVE;
        change_callbacks(txn, level, object, part[1], hook, change, 0, out);
    } else if (strcmp(op, "plugin") == 0 && parts == 3 && scope(txn, part[0], &level, &object) &&
               (strcmp(part[2], "on") == 0 || strcmp(part[2], "off") == 0)) {
        int32_t on = strcmp(part[2], "on") == 0;
        append_rc(out, api->plugin_enable_set(api->plugin, level, object, part[1],
                                              strlen(part[1]), on));
    } else if (strcmp(op, "list") == 0 && parts == 1 && hook_by_name(part[0], &hook)) {
        list(txn, hook, out);
    } else if (strcmp(op, "own-priority") == 0 && parts == 1 &&
               number_or_none(part[0], &value)) {
        append_rc(out, api->plugin_priority_set(api->plugin, value));
    } else if (strcmp(op, "own-priority-get") == 0 && parts == 0) {
        int32_t priority, ceiling;
        hy_return rc = api->plugin_priority_get(api->plugin, &priority, &ceiling);
        append_rc(out, rc);
        if (rc == HY_SUCCESS) {
            char both[32];
            snprintf(both, sizeof both, " %d/%d", priority, ceiling);
            append(out, both);
        }
    } else {
        append(out, "unknown action");
    }
}

/* Performs the actions of the request's `X-Coord` fields addressed to this build. */
static void act_all(hy_txn *txn, struct txn_state *state) {
    hy_str field;
    for (size_t i = 0; api->header_get(txn, HY_MSG_CLIENT_REQUEST, "X-Coord", 7, i, &field) ==
                       HY_SUCCESS;
         i++) {
        char text[RESULT_LEN];
        snprintf(text, sizeof text, "%.*s", (int)field.len, field.ptr);
        char *action = strchr(text, ' ');
        if (action == NULL) {
            continue;
        }
        *action++ = '\0';
        if (strcmp(text, PROBE_NAME) != 0 || state->results == MAX_RESULTS) {
            continue;
        }
        char *out = state->result[state->results++];
        snprintf(out, RESULT_LEN, "%s -> ", action);
        char *args = strchr(action, '=');
        if (args != NULL) {
            *args++ = '\0';
        } else {
            args = action + strlen(action);
        }
        act(txn, action, args, out);
    }
}

/* Registers the callbacks the params ask for on this transaction and its session. */
static void register_local(hy_txn *txn) {
    if (txn_hook >= 0) {
        api->hook_add(HY_HOOK_LEVEL_TXN, txn, txn_hook, txn_cont, HY_PRIORITY_DEFAULT, NULL);
    }
    hy_ssn *ssn = api->txn_ssn_get(txn);
    void *added = NULL;
    if (ssn_hook >= 0 && api->user_arg_get(ssn, ssn_arg, &added) == HY_SUCCESS && !added) {
        api->hook_add(HY_HOOK_LEVEL_SESSION, ssn, ssn_hook, ssn_cont, HY_PRIORITY_DEFAULT, NULL);
        api->user_arg_set(ssn, ssn_arg, (void *)1);
    }
}

static int32_t read_request(hy_txn *txn) {
    struct txn_state *state = calloc(1, sizeof *state);
    if (state == NULL) {
        return HY_HOOK_ERROR;
    }
    api->user_arg_set(txn, txn_arg, state);
    atomic_fetch_add(&open_states, 1);
    stamp_hook(txn, HY_HOOK_READ_REQUEST_HDR, PROBE_NAME);
    register_local(txn);
    return HY_HOOK_CONTINUE;
}

/* Performs the transaction's actions if `hook` is the one to act on. */
static void act_on(hy_txn *txn, int hook) {
    struct txn_state *state = NULL;
    if (hook == act_hook && api->user_arg_get(txn, txn_arg, (void **)&state) == HY_SUCCESS &&
        state != NULL) {
        act_all(txn, state);
    }
}

static void send_response(hy_txn *txn) {
    stamp_hook(txn, HY_HOOK_SEND_RESPONSE_HDR, PROBE_NAME);
    act_on(txn, HY_HOOK_SEND_RESPONSE_HDR);
    struct txn_state *state = NULL;
    api->user_arg_get(txn, txn_arg, (void **)&state);
    for (int i = 0; state != NULL && i < state->results; i++) {
        api->header_add(txn, HY_MSG_CLIENT_RESPONSE, "X-Coord-Result", 14, state->result[i],
                        strlen(state->result[i]));
    }
    char unseen[64];
    snprintf(unseen, sizeof unseen, "%s=%d", PROBE_NAME, atomic_load(&unseen_closes));
    api->header_add(txn, HY_MSG_CLIENT_RESPONSE, "X-Unseen-Closes", 15, unseen, strlen(unseen));
    char open[64];
    snprintf(open, sizeof open, "%s=%d", PROBE_NAME, atomic_load(&open_states));
    api->header_add(txn, HY_MSG_CLIENT_RESPONSE, "X-Open", 6, open, strlen(open));
}

static void txn_close(hy_txn *txn) {
    struct txn_state *state = NULL;
    api->user_arg_get(txn, txn_arg, (void **)&state);
    if (state == NULL) {
        atomic_fetch_add(&unseen_closes, 1);
        return;
    }
    api->user_arg_set(txn, txn_arg, NULL);
    atomic_fetch_sub(&open_states, 1);
    free(state);
}

static int32_t on_global(hy_cont *cont, hy_event event, void *edata) {
    (void)cont;
    hy_txn *txn = edata;
    switch (event - HY_EVENT_HOOK_BASE) {
    case HY_HOOK_READ_REQUEST_HDR: {
        int32_t result = read_request(txn);
        act_on(txn, HY_HOOK_READ_REQUEST_HDR);
        return result;
    }
    case HY_HOOK_SEND_REQUEST_HDR:
        stamp_hook(txn, HY_HOOK_SEND_REQUEST_HDR, PROBE_NAME);
        act_on(txn, HY_HOOK_SEND_REQUEST_HDR);
        return HY_HOOK_CONTINUE;
    case HY_HOOK_SEND_RESPONSE_HDR:
        send_response(txn);
        return HY_HOOK_CONTINUE;
    case HY_HOOK_TXN_CLOSE:
        txn_close(txn);
        return HY_HOOK_CONTINUE;
    default:
        return HY_HOOK_CONTINUE;
    }
}

static int32_t on_txn(hy_cont *cont, hy_event event, void *edata) {
    (void)cont;
    stamp_hook(edata, (int)(event - HY_EVENT_HOOK_BASE), PROBE_NAME "/txn");
    return HY_HOOK_CONTINUE;
}

static int32_t on_ssn(hy_cont *cont, hy_event event, void *edata) {
    (void)cont;
    stamp_hook(edata, (int)(event - HY_EVENT_HOOK_BASE), PROBE_NAME "/ssn");
    return HY_HOOK_CONTINUE;
}

static hy_return fail(char *errbuf, int32_t errbuf_size, const char *what, const char *arg) {
    snprintf(errbuf, (size_t)errbuf_size, "%s%s", what, arg);
    return HY_ERROR;
}

HY_EXPORT hy_return hy_plugin_init(const hy_api *host, int32_t argc, const char **argv,
                                   char *errbuf, int32_t errbuf_size) {
    api = host;
    for (int i = 1; i < argc; i++) {
        int32_t hook;
        if (strncmp(argv[i], "txn=", 4) == 0 && hook_by_name(argv[i] + 4, &hook) && hook >= 0) {
            txn_hook = hook;
        } else if (strncmp(argv[i], "ssn=", 4) == 0 && hook_by_name(argv[i] + 4, &hook) &&
                   hook >= 0) {
            ssn_hook = hook;
        } else if (strncmp(argv[i], "act=", 4) == 0 && hook_by_name(argv[i] + 4, &hook) &&
                   (hook == HY_HOOK_READ_REQUEST_HDR || hook == HY_HOOK_SEND_REQUEST_HDR ||
                    hook == HY_HOOK_SEND_RESPONSE_HDR)) {
            act_hook = hook;
        } else {
            return fail(errbuf, errbuf_size, "unknown param ", argv[i]);
        }
    }
    if (api->user_arg_reserve(HY_USER_ARG_TXN, "coord_probe." PROBE_NAME, NULL, &txn_arg) !=
            HY_SUCCESS ||
        api->user_arg_reserve(HY_USER_ARG_SSN, "coord_probe." PROBE_NAME ".ssn", NULL,
                              &ssn_arg) != HY_SUCCESS) {
        return fail(errbuf, errbuf_size, "user_arg_reserve failed", "");
    }
    global_cont = api->cont_create(api->plugin, on_global, NULL);
    txn_cont = api->cont_create(api->plugin, on_txn, NULL);
    ssn_cont = api->cont_create(api->plugin, on_ssn, NULL);
    if (!global_cont || !txn_cont || !ssn_cont) {
        return fail(errbuf, errbuf_size, "cont_create failed", "");
    }
    int global[] = {HY_HOOK_READ_REQUEST_HDR, HY_HOOK_SEND_REQUEST_HDR, HY_HOOK_SEND_RESPONSE_HDR,
                    HY_HOOK_TXN_CLOSE};
    for (size_t i = 0; i < sizeof global / sizeof global[0]; i++) {
        if (api->hook_add(HY_HOOK_LEVEL_GLOBAL, NULL, global[i], global_cont, HY_PRIORITY_DEFAULT,
                          NULL) != HY_SUCCESS) {
            return fail(errbuf, errbuf_size, "hook_add failed", "");
        }
    }
    return HY_SUCCESS;
}

HY_EXPORT void hy_plugin_done(void) {
    api->cont_destroy(global_cont);
    api->cont_destroy(txn_cont);
    api->cont_destroy(ssn_cont);
}
