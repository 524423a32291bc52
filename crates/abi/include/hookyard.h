/*
 * hookyard.h: the hookyard plugin ABI, version 1.5.
 *
 * One header is all a C plugin needs. A plugin is a shared object that exports
 *
 *   - the descriptor `hy_plugin_descriptor` (define it with HY_PLUGIN_DESCRIPTOR), which the
 *     host reads and checks before it touches any other symbol, and
 *   - the entry points of a remap plugin (hy_remap_*), of a global plugin (hy_plugin_*), or both.
 *
 * The host hands the plugin a function table (`const hy_api *`) in its init entry point; every
 * call into the host goes through it, so a plugin never links against the host's symbols. The
 * table stays valid until the plugin's done entry point returns.
 *
 * Compatibility rules:
 *   - The ABI major changes only when an existing item changes; the host refuses a plugin built
 *     for another major.
 *   - A minor adds items: constants, functions at the end of hy_api, fields at the end of the
 *     structures the host allocates. The host refuses a plugin built for a newer minor than its
 *     own, so a plugin may use every item of the header it was compiled with.
 *   - The first five fields of hy_descriptor never change, in any major, so the host can always
 *     name a plugin it refuses.
 *
 * Conventions:
 *   - hy_return functions answer HY_SUCCESS or HY_ERROR; out-parameters are written only on
 *     HY_SUCCESS. A NULL handle (or one of another kind: a hy_ssn * as a hy_txn *), a NULL
 *     string with a non-zero length and a NULL out-parameter not documented as optional get
 *     HY_ERROR (NULL or 0 where the function returns those, nothing for void functions).
 *     Method and header field names are tokens; field values have no control byte but tab.
 *   - Strings passed in are (pointer, length) and need no terminating NUL, except where a
 *     parameter is documented as a C string. Strings passed out are hy_str views into host
 *     memory: valid until the plugin changes the item they show, or until the call into the
 *     plugin that obtained them returns, whichever comes first. Copy what you keep.
 *   - A hy_txn may be used only while the host runs one of the plugin's remap calls or hooks for
 *     that transaction, or while the transaction is pending on one of the plugin's hooks (after
 *     HY_HOOK_PENDING, until txn_resume). Only the pending case allows another thread.
 *     The same holds for hy_ssn and session hooks.
 *   - Functions that take `hy_plugin *self` identify the calling plugin by it (pass
 *     `api->plugin`); they may be called from any thread.
 *   - No host function unwinds; no plugin entry point may unwind into the host (C++ plugins catch
 *     everything at the boundary).
 *
 * Keep in sync with crates/abi/src (Rust); `cargo test -p hookyard-abi` compiles a program
 * against this header and fails on any difference.
 */
#ifndef HOOKYARD_H
#define HOOKYARD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define HY_EXPORT __attribute__((visibility("default")))
#else
#define HY_EXPORT
#endif

/* ---------------------------------------------------------------------------------------------
 * Versions
 * ------------------------------------------------------------------------------------------- */

#define HY_ABI_MAJOR 1
#define HY_ABI_MINOR 6
/* (major << 16) | minor, as found in hy_api.version. */
#define HY_ABI_VERSION ((HY_ABI_MAJOR << 16) | HY_ABI_MINOR)
/* "HYPL" read as a little-endian uint32_t. */
#define HY_PLUGIN_MAGIC 0x4C505948

/* ---------------------------------------------------------------------------------------------
 * Scalar types
 * ------------------------------------------------------------------------------------------- */

/* Result of host functions and of init entry points. */
typedef int32_t hy_return;
#define HY_SUCCESS 0
#define HY_ERROR (-1)

/* Which HTTP message of a transaction a function works on. */
typedef int32_t hy_msg;
/* The client's request (rewritten by remap). From READ_REQUEST_HDR on. */
#define HY_MSG_CLIENT_REQUEST 0
/* The request sent to the origin. From SEND_REQUEST_HDR on. */
#define HY_MSG_ORIGIN_REQUEST 1
/* The origin's response. From READ_RESPONSE_HDR on. */
#define HY_MSG_ORIGIN_RESPONSE 2
/* The response sent to the client. From SEND_RESPONSE_HDR on, or after direct_response. */
#define HY_MSG_CLIENT_RESPONSE 3

/* Which URL of a transaction a function works on. */
typedef int32_t hy_url;
/* The client request's URL; read-write. In do_remap it is the remap request URL: changing it
 * changes where the request goes. */
#define HY_URL_REQUEST 0
/* The client request's URL as received, before any remap; read-only. */
#define HY_URL_PRISTINE 1
/* The matched rule's from URL (canonical form); read-only; only during and after remap. */
#define HY_URL_REMAP_FROM 2
/* The matched rule's to URL (for regex_map, expanded for this transaction); read-only. */
#define HY_URL_REMAP_TO 3

/* A part of a URL. */
typedef int32_t hy_url_part;
/* "http" or "https", lower case. */
#define HY_URL_PART_SCHEME 0
/* The host name, without port. */
#define HY_URL_PART_HOST 1
/* The explicit port in decimal, empty when the URL has none; set it to "" to remove it. */
#define HY_URL_PART_PORT 2
/* The path, with its leading '/' (unlike ATS's TSUrlPathGet). */
#define HY_URL_PART_PATH 3
/* The query, without the '?'; empty when there is none. */
#define HY_URL_PART_QUERY 4

/* Log levels for hy_api.log. */
typedef int32_t hy_log_level;
#define HY_LOG_ERROR 1
#define HY_LOG_WARN 2
#define HY_LOG_INFO 3
#define HY_LOG_DEBUG 4
#define HY_LOG_TRACE 5

/* Hook ids: ATS's TSHttpHookID values; lifecycle hooks from 64. */
typedef int32_t hy_hook_id;
#define HY_HOOK_READ_REQUEST_HDR 0
#define HY_HOOK_OS_DNS 1
#define HY_HOOK_SEND_REQUEST_HDR 2
#define HY_HOOK_READ_RESPONSE_HDR 4
#define HY_HOOK_SEND_RESPONSE_HDR 5
#define HY_HOOK_TXN_START 9
/* Cleanup hook: never skipped by thresholds, switches or removals; HY_HOOK_ERROR counts as
 * continue. */
#define HY_HOOK_TXN_CLOSE 10
#define HY_HOOK_SSN_START 11
/* Cleanup hook, like TXN_CLOSE. */
#define HY_HOOK_SSN_CLOSE 12
#define HY_HOOK_PRE_REMAP 14
#define HY_HOOK_POST_REMAP 15
/* Every plugin of a configuration generation is initialised. Global level only; edata NULL. */
#define HY_HOOK_PLUGINS_LOADED 64
/* The proxy is shutting down. Global level only; edata NULL. */
#define HY_HOOK_SHUTDOWN 65
/* An operator sent plugins a message (`hookyard ctl plugin msg NAME TAG [DATA]`; ATS's
 * TS_LIFECYCLE_MSG_HOOK). Global level only; edata is a const hy_lifecycle_msg *, valid for the
 * callback. Runs on the control thread; PENDING is not waited for. Since 1.4. */
#define HY_HOOK_LIFECYCLE_MSG 66
/* "Every hook", for thresholds. */
#define HY_HOOK_ANY (-1)

/* The level a hook callback is registered at (and a scope for priority control). */
typedef int32_t hy_hook_level;
/* Every session and transaction of the configuration generation; object NULL. */
#define HY_HOOK_LEVEL_GLOBAL 0
/* One session; object is a hy_ssn *. */
#define HY_HOOK_LEVEL_SESSION 1
/* One transaction; object is a hy_txn *. */
#define HY_HOOK_LEVEL_TXN 2

/* What a hook callback answers (the return value of its continuation handler). */
typedef int32_t hy_hook_result;
/* Go on with the next callback. */
#define HY_HOOK_CONTINUE 0
/* Fail the transaction: the remaining callbacks of the hook are skipped and the client gets an
 * error response (500 unless a direct response was set). On cleanup hooks, same as continue. */
#define HY_HOOK_ERROR 1
/* The plugin answers later, exactly once, by calling txn_resume (ssn_resume for session hooks)
 * with HY_HOOK_CONTINUE or HY_HOOK_ERROR, from any thread but the callback's own, within the
 * host's pending limit (after it the transaction answers 504 and the resume is refused). */
#define HY_HOOK_PENDING 2

/* Priorities: int32_t, higher runs first. */
/* hook_add: use the plugin's own priority. threshold_set: remove the threshold. */
#define HY_PRIORITY_DEFAULT (-2147483647 - 1)
#define HY_THRESHOLD_NONE (-2147483647 - 1)

/* Events a continuation handler receives. */
typedef int32_t hy_event;
/* Scheduled with a delay of 0; edata NULL. */
#define HY_EVENT_IMMEDIATE 1
/* Scheduled with a delay; edata NULL. */
#define HY_EVENT_TIMEOUT 2
/* A hook: the event is HY_EVENT_HOOK_BASE + the hook id (ATS: TS_EVENT_HTTP_READ_REQUEST_HDR + id).
 * edata is the hy_txn * for transaction hooks, the hy_ssn * for SSN_START and SSN_CLOSE, NULL for
 * lifecycle hooks. */
#define HY_EVENT_HOOK_BASE 60002
/* A transform's next chunk (since 1.5); edata is a hy_chunk *, valid until the handler returns
 * or, when it answers HY_HOOK_PENDING, until transform_resume. The handler answers a
 * hy_hook_result (see transform_add). */
#define HY_EVENT_TRANSFORM_CHUNK 3
/* A transform's last event (since 1.5); edata is its hy_transform *, invalid once the handler
 * returns. It comes once, after the end chunk, or when the body failed or the transaction ended
 * before it (then without an end chunk), and never while a chunk is pending. */
#define HY_EVENT_TRANSFORM_CLOSE 4
#define HY_EVENT_HOOK(hook) (HY_EVENT_HOOK_BASE + (hook))

/* User arg kinds (ATS's TSUserArgType). An index of kind k is slot + (k + 1) * 1000. */
typedef int32_t hy_user_arg_type;
#define HY_USER_ARG_TXN 0
#define HY_USER_ARG_SSN 1
#define HY_USER_ARG_CONN 2
#define HY_USER_ARG_GLB 3

/* Plugin statistics' kinds (since 1.4). */
typedef int32_t hy_stat_kind;
/* Only grows: stat_increment with an amount >= 0; stat_set refused. */
#define HY_STAT_COUNTER 0
/* Any value: stat_increment (any sign) and stat_set. */
#define HY_STAT_GAUGE 1

/* Which body of a transaction a transform works on (since 1.5). */
typedef int32_t hy_body;
/* The client's request body, on its way to the origin. */
#define HY_BODY_REQUEST 0
/* The origin's response body, on its way to the client. */
#define HY_BODY_RESPONSE 1

/* What a body transform may do (since 1.5); see transform_add. */
typedef int32_t hy_transform_kind;
/* Read-only: sees every chunk, cannot change it. The proxy forwards each chunk as it is, without
 * copying it. Content-Length is kept. */
#define HY_TRANSFORM_INSPECT 0
/* May change a chunk's bytes in place (hy_chunk.data is writable), never its length.
 * Content-Length is kept. */
#define HY_TRANSFORM_LENGTH_PRESERVING 1
/* Any output: the chunks are its input only, the output is what transform_write writes until
 * transform_end. The proxy re-frames the body: Content-Length is removed (chunked on HTTP/1.1),
 * or set anew when the whole output was written before the message head went. */
#define HY_TRANSFORM_REWRITE 2

/* What hy_remap_do_remap answers (ATS's TSRemapStatus). */
typedef int32_t hy_remap_status;
/* Nothing changed; the next plugin of the rule runs. */
#define HY_REMAP_NO_REMAP 0
/* The request URL was changed; the next plugin of the rule runs. */
#define HY_REMAP_DID_REMAP 1
/* Nothing changed; no further plugin of the rule runs. */
#define HY_REMAP_NO_REMAP_STOP 2
/* The request URL was changed; no further plugin of the rule runs. */
#define HY_REMAP_DID_REMAP_STOP 3
/* Treated as HY_REMAP_NO_REMAP, as ATS's code does (its documentation says it fails the
 * transaction). To fail a transaction, set a direct response and answer HY_REMAP_NO_REMAP_STOP. */
#define HY_REMAP_ERROR (-1)

/* What the post-reload entry points are told (ATS's TSRemapReloadStatus). */
typedef int32_t hy_reload_status;
#define HY_RELOAD_FAILURE 0
#define HY_RELOAD_SUCCESS_PLUGIN_USED 1
#define HY_RELOAD_SUCCESS_PLUGIN_UNUSED 2

/* What happened to the origin connection, for hy_remap_os_response (ATS's TSServerState). */
typedef int32_t hy_server_state;
#define HY_SERVER_STATE_UNDEFINED 0
#define HY_SERVER_STATE_ACTIVE_TIMEOUT 1
#define HY_SERVER_STATE_BAD_INCOMING_RESPONSE 2
#define HY_SERVER_STATE_CONNECTION_ALIVE 3
#define HY_SERVER_STATE_CONNECTION_CLOSED 4
#define HY_SERVER_STATE_CONNECTION_ERROR 5
#define HY_SERVER_STATE_INACTIVE_TIMEOUT 6
#define HY_SERVER_STATE_OPEN_RAW_ERROR 7
#define HY_SERVER_STATE_PARSE_ERROR 8
#define HY_SERVER_STATE_TRANSACTION_COMPLETE 9

/* Error buffers: init and new_instance entry points get a zeroed buffer of HY_ERRBUF_CAPACITY
 * bytes and errbuf_size = HY_ERRBUF_SIZE, so a message of up to errbuf_size bytes always leaves
 * room for the NUL. The host reads it only when the entry point returns HY_ERROR; an empty
 * message reads "Unknown plugin error". */
#define HY_ERRBUF_CAPACITY 2048
#define HY_ERRBUF_SIZE 2047

/* ---------------------------------------------------------------------------------------------
 * The descriptor
 * ------------------------------------------------------------------------------------------- */

/* The plugin cannot be unloaded (it registers something the process calls after an unload, such
 * as a thread-exit destructor). The host maps it with RTLD_NODELETE and never unloads it. */
#define HY_PLUGIN_FLAG_CANNOT_UNLOAD 0x1

typedef struct hy_descriptor {
    /* HY_PLUGIN_MAGIC. */
    uint32_t magic;
    /* HY_ABI_MAJOR and HY_ABI_MINOR of the header the plugin was built with. */
    uint16_t abi_major;
    uint16_t abi_minor;
    /* The plugin's name (identity for priorities and logs) and version: non-empty UTF-8 C
     * strings with static storage. */
    const char *name;
    const char *version;
    /* HY_PLUGIN_FLAG_* bits; the host refuses bits it does not know. */
    uint32_t flags;
    /* Zero. */
    uint32_t reserved;
} hy_descriptor;

/* The one symbol the host reads first. Define it with HY_PLUGIN_DESCRIPTOR. */
extern HY_EXPORT const hy_descriptor hy_plugin_descriptor;

/* Defines the descriptor, e.g. HY_PLUGIN_DESCRIPTOR("add_header", "1.0.0", 0); */
#define HY_PLUGIN_DESCRIPTOR(name, version, flags)                                                \
    HY_EXPORT const hy_descriptor hy_plugin_descriptor = {                                        \
        HY_PLUGIN_MAGIC, HY_ABI_MAJOR, HY_ABI_MINOR, (name), (version), (flags), 0}

/* ---------------------------------------------------------------------------------------------
 * Handles and small structures
 * ------------------------------------------------------------------------------------------- */

/* One loaded plugin version, as the host knows it (hy_api.plugin). */
typedef struct hy_plugin hy_plugin;
/* One HTTP transaction. */
typedef struct hy_txn hy_txn;
/* One client session. */
typedef struct hy_ssn hy_ssn;
/* A continuation: a handler and its data, owned by the plugin that created it. */
typedef struct hy_cont hy_cont;
/* One body transform of one transaction (since 1.5): valid from transform_add until its
 * HY_EVENT_TRANSFORM_CLOSE handler returns. */
typedef struct hy_transform hy_transform;

/* A string view into host memory; not NUL-terminated. */
typedef struct hy_str {
    const char *ptr;
    size_t len;
} hy_str;

/* An operator's message to plugins: the edata of HY_HOOK_LIFECYCLE_MSG (ATS's TSPluginMsg).
 * Host memory, valid for the callback; the tag is UTF-8, the data any bytes. Since 1.4. */
typedef struct hy_lifecycle_msg {
    hy_str tag;
    const void *data;
    size_t data_len;
} hy_lifecycle_msg;

/* A chunk of a body, the edata of HY_EVENT_TRANSFORM_CHUNK (since 1.5). Host memory. */
typedef struct hy_chunk {
    /* The transform it is for. */
    hy_transform *transform;
    /* Its bytes: read-only, except for a HY_TRANSFORM_LENGTH_PRESERVING transform, which may
     * change them in place (until it answers, or until transform_resume). */
    char *data;
    size_t len;
    /* 1 for the body's last chunk (which may be empty), else 0. */
    int32_t end;
} hy_chunk;

/* One hook callback, as callback_list reports it. */
typedef struct hy_callback_info {
    /* The registration's id (hook_add's *callback), for callback_*_set and callback_remove. */
    uint64_t id;
    /* The name of the plugin that registered it. */
    hy_str plugin;
    hy_hook_id hook;
    hy_hook_level level;
    /* Its priority for this transaction. */
    int32_t priority;
    /* 1 if it would run for this transaction, 0 if switched off or below the threshold. */
    int32_t enabled;
} hy_callback_info;

/* A continuation's handler. For hook events it answers a hy_hook_result; for other events the
 * answer is ignored (answer 0). */
typedef int32_t (*hy_cont_handler)(hy_cont *cont, hy_event event, void *edata);

/* ---------------------------------------------------------------------------------------------
 * The host function table
 * ------------------------------------------------------------------------------------------- */

typedef struct hy_api {
    /* sizeof(hy_api) as the host knows it; never smaller than the plugin's header. */
    uint32_t size;
    /* HY_ABI_VERSION of the host. */
    uint32_t version;
    /* This plugin version, for the functions that take `hy_plugin *self`. */
    hy_plugin *plugin;

    /* -- Logging and identity ---------------------------------------------------------------- */

    /* 1 if a message at `level` would be logged, else 0. */
    int32_t (*log_enabled)(hy_plugin *self, hy_log_level level);
    /* Logs `message` (UTF-8) at `level`, tagged with the plugin's name and version. */
    void (*log)(hy_plugin *self, hy_log_level level, const char *message, size_t len);
    /* The plugin's name and version as the host knows them (from its descriptor). The views
     * stay valid until the plugin's done entry point returns. */
    void (*plugin_name_get)(hy_plugin *self, hy_str *name);
    void (*plugin_version_get)(hy_plugin *self, hy_str *version);

    /* -- Messages ------------------------------------------------------------------------------ */

    /* The method of a request message. HY_ERROR for a response or a message not there yet. */
    hy_return (*method_get)(hy_txn *txn, hy_msg msg, hy_str *method);
    hy_return (*method_set)(hy_txn *txn, hy_msg msg, const char *method, size_t len);
    /* A part of a URL. url_set fails on a read-only URL and on an invalid value (a port that is
     * not 1-65535, a scheme other than http/https, a path without its leading '/'). */
    hy_return (*url_get)(hy_txn *txn, hy_url url, hy_url_part part, hy_str *value);
    hy_return (*url_set)(hy_txn *txn, hy_url url, hy_url_part part, const char *value, size_t len);
    /* The whole URL, e.g. "http://example.com:8080/a?b". */
    hy_return (*url_string_get)(hy_txn *txn, hy_url url, hy_str *value);
    /* The `index`th value (0-based, one per field, in order) of the header `name` (compared
     * ignoring ASCII case). HY_ERROR when there is no such value. */
    hy_return (*header_get)(hy_txn *txn, hy_msg msg, const char *name, size_t name_len,
                            size_t index, hy_str *value);
    /* The field at `position` (0-based) of the message, for iterating all fields. HY_ERROR past
     * the last field. */
    hy_return (*header_field_get)(hy_txn *txn, hy_msg msg, size_t position, hy_str *name,
                                  hy_str *value);
    /* Replaces every field `name` with one field `name: value` (added if there was none). */
    hy_return (*header_set)(hy_txn *txn, hy_msg msg, const char *name, size_t name_len,
                            const char *value, size_t value_len);
    /* Appends a field `name: value`, keeping existing fields of that name. */
    hy_return (*header_add)(hy_txn *txn, hy_msg msg, const char *name, size_t name_len,
                            const char *value, size_t value_len);
    /* Removes every field `name`; HY_SUCCESS also when there was none. */
    hy_return (*header_remove)(hy_txn *txn, hy_msg msg, const char *name, size_t name_len);
    /* The status code of a response message (100-999); the proxy sends every response as a
     * final one, so setting a 1xx status is refused. */
    hy_return (*status_get)(hy_txn *txn, hy_msg msg, int32_t *status);
    hy_return (*status_set)(hy_txn *txn, hy_msg msg, int32_t status);
    /* Answers the client with `status` (200-999) and `body` (copied) instead of going to the
     * origin; the origin hooks do not run, SEND_RESPONSE_HDR and the close hooks do. Afterwards
     * HY_MSG_CLIENT_RESPONSE exists and can be edited (e.g. to add Location). A later call
     * replaces an earlier one. Allowed up to and including POST_REMAP. */
    hy_return (*direct_response)(hy_txn *txn, int32_t status, const char *body, size_t body_len);

    /* -- Continuations -------------------------------------------------------------------------- */

    /* A continuation that calls `handler` with `data`, owned by the plugin. A live continuation
     * keeps the plugin's code loaded: destroy every continuation you create. NULL on failure. */
    hy_cont *(*cont_create)(hy_plugin *self, hy_cont_handler handler, void *data);
    /* Destroys a continuation: cancels its scheduled events and removes its hook registrations.
     * The handler is never started after this returns; an invocation running on another thread
     * is waited for; called from the continuation's own handler, it takes effect when the
     * handler returns. Any thread. */
    void (*cont_destroy)(hy_cont *cont);
    /* The `data` given to cont_create. Any thread. */
    void *(*cont_data_get)(hy_cont *cont);
    /* Calls the handler once, on a host thread, after `delay_ms` milliseconds (0: as soon as
     * possible), with HY_EVENT_TIMEOUT (HY_EVENT_IMMEDIATE for 0). Each call schedules one more
     * invocation. Any thread. */
    hy_return (*cont_schedule)(hy_cont *cont, uint64_t delay_ms);

    /* -- Hooks ---------------------------------------------------------------------------------- */

    /* Registers `cont` on `hook` at `level` (object: NULL, a hy_ssn * or a hy_txn *) with
     * `priority` (HY_PRIORITY_DEFAULT: the plugin's own; never above its ceiling). Writes the
     * registration's id to *callback unless it is NULL. Global registrations belong to the
     * configuration generation being loaded (from init) or serving. Lifecycle hooks: global
     * level only. A transaction-level registration of a continuation already registered on that
     * hook of that transaction is ignored (HY_SUCCESS, ATS behaviour). */
    hy_return (*hook_add)(hy_hook_level level, void *object, hy_hook_id hook, hy_cont *cont,
                          int32_t priority, uint64_t *callback);
    /* Ends a pending hook callback of a transaction or session with HY_HOOK_CONTINUE or
     * HY_HOOK_ERROR. Exactly once per HY_HOOK_PENDING, by the plugin whose callback answered it;
     * any thread but the callback's own. HY_ERROR, and nothing changes, for a second resume, a
     * resume when nothing of this plugin's is pending, and one after the pending limit. */
    hy_return (*txn_resume)(hy_txn *txn, hy_hook_result result);
    hy_return (*ssn_resume)(hy_ssn *ssn, hy_hook_result result);
    /* The session a transaction belongs to; valid at least as long as `txn` (the transaction
     * keeps its session, also after the client left). */
    hy_ssn *(*txn_ssn_get)(hy_txn *txn);

    /* -- User args (ATS's TSUserArg*) ----------------------------------------------------------- */

    /* Reserves a slot named `name` (C string) of `type`, or returns the one already reserved by
     * that name (idempotent: safe to call again on every reload). HY_ERROR when the kind is full
     * (txn 16, ssn 8, conn 4, glb 128 slots unless configured). `description` may be NULL. */
    hy_return (*user_arg_reserve)(hy_user_arg_type type, const char *name,
                                  const char *description, int32_t *index);
    /* The index (and description, unless NULL is passed) reserved under `name`. */
    hy_return (*user_arg_name_lookup)(hy_user_arg_type type, const char *name, int32_t *index,
                                      const char **description);
    /* The name (and description, unless NULL is passed) of a reserved index. The strings live
     * as long as the process. */
    hy_return (*user_arg_index_lookup)(hy_user_arg_type type, int32_t index, const char **name,
                                       const char **description);
    /* A slot's value. `object` is the hy_txn * for transaction indices, the hy_ssn * for session
     * and connection indices (the session's connection), NULL for global indices. Unset slots
     * read NULL; values are opaque to the host, which never frees them. HY_ERROR for an index
     * not reserved or of another kind than `object`. */
    hy_return (*user_arg_get)(void *object, int32_t index, void **value);
    hy_return (*user_arg_set)(void *object, int32_t index, void *value);

    /* -- Priorities (docs/priorities.md) -------------------------------------------------------- */

    /* The plugin's current priority and its operator-given ceiling. */
    hy_return (*plugin_priority_get)(hy_plugin *self, int32_t *priority, int32_t *ceiling);
    /* Sets the plugin's priority for its later registrations; HY_ERROR above the ceiling. */
    hy_return (*plugin_priority_set)(hy_plugin *self, int32_t priority);
    /* Switches every callback of the plugin named `plugin` on (enabled 1) or off (0) for one
     * session or transaction (level SESSION or TXN). Allowed for the caller itself and for
     * plugins whose ceiling is below the caller's; HY_ERROR for a name no plugin of the
     * configuration has. */
    hy_return (*plugin_enable_set)(hy_plugin *self, hy_hook_level level, void *object,
                                   const char *plugin, size_t len, int32_t enabled);
    /* The threshold set at exactly this scope (level, object) for `hook` (HY_HOOK_ANY: the
     * scope's threshold for all hooks); HY_THRESHOLD_NONE when there is none. A global
     * threshold is the one of the caller's configuration generation. */
    hy_return (*threshold_get)(hy_plugin *self, hy_hook_level level, void *object, int32_t hook,
                               int32_t *threshold);
    /* Sets or (HY_THRESHOLD_NONE) clears a threshold: callbacks with a lower priority are
     * skipped, except on cleanup hooks. The most specific scope wins (transaction over session
     * over global, a hook over HY_HOOK_ANY). HY_ERROR above the caller's ceiling. A global
     * threshold lasts until the next configuration generation. */
    hy_return (*threshold_set)(hy_plugin *self, hy_hook_level level, void *object, int32_t hook,
                               int32_t threshold);
    /* The callbacks `hook` would run for `txn`, in order. Writes up to `capacity` entries to
     * `infos` (NULL when capacity is 0) and the total number to *count. */
    hy_return (*callback_list)(hy_txn *txn, hy_hook_id hook, hy_callback_info *infos,
                               size_t capacity, size_t *count);
    /* Change one callback for one session or transaction (level SESSION or TXN): its priority,
     * whether it runs, or remove it. Only for callbacks whose priority is below the caller's
     * ceiling, and never to a priority above it. */
    hy_return (*callback_priority_set)(hy_plugin *self, hy_hook_level level, void *object,
                                       hy_hook_id hook, uint64_t callback, int32_t priority);
    hy_return (*callback_enable_set)(hy_plugin *self, hy_hook_level level, void *object,
                                     hy_hook_id hook, uint64_t callback, int32_t enabled);
    hy_return (*callback_remove)(hy_plugin *self, hy_hook_level level, void *object,
                                 hy_hook_id hook, uint64_t callback);

    /* -- The origin's address (since 1.1) ------------------------------------------------------- */

    /* The address the transaction connects to, as text `IP:PORT` (`[IPv6]:PORT`), valid until
     * the transaction ends: from OS_DNS on (resolved from the origin URL's host), or once set.
     * HY_ERROR while there is none yet. */
    hy_return (*server_addr_get)(hy_txn *txn, hy_str *addr);
    /* Connects the transaction to `addr` (`IP:PORT` or `[IPv6]:PORT`) instead of what the origin
     * URL's host resolves to; the Host field is unchanged. Set before OS_DNS, the host is not
     * resolved at all (ATS's TSHttpTxnServerAddrSet); at OS_DNS, it replaces the resolved
     * address. Allowed up to and including OS_DNS. */
    hy_return (*server_addr_set)(hy_txn *txn, const char *addr, size_t len);

    /* -- Coordination (since 1.2; docs/priorities.md) ----------------------------------------- */

    /* The priority and ceiling of the plugin named `plugin`. HY_ERROR for a name the caller's
     * configuration generation does not know. */
    hy_return (*plugin_priority_of_get)(hy_plugin *self, const char *plugin, size_t len,
                                        int32_t *priority, int32_t *ceiling);
    /* Sets the priority of the plugin named `plugin` for the rest of the caller's configuration
     * generation (its callbacks registered without a priority follow it). Allowed for the caller
     * itself and for plugins whose ceiling is below the caller's; never above that plugin's own
     * ceiling (the operator's max_priority). Logged with both names. */
    hy_return (*plugin_priority_of_set)(hy_plugin *self, const char *plugin, size_t len,
                                        int32_t priority);
    /* For one session or transaction (level SESSION or TXN): the callbacks of plugin `first`
     * run before those of plugin `then` on `hook` (HY_HOOK_ANY: every hook); enabled 0 takes
     * such a constraint of this scope away. Each plugin must be the caller or one whose ceiling
     * is below the caller's. HY_ERROR when it would close a cycle with the configured
     * constraints, the session's or the transaction's. */
    hy_return (*order_set)(hy_plugin *self, hy_hook_level level, void *object, int32_t hook,
                           const char *first, size_t first_len, const char *then,
                           size_t then_len, int32_t enabled);

    /* -- The client connection (since 1.3) --------------------------------------------------- */

    /* The transaction's client connection. Each writes text valid until the transaction ends;
     * all but client_protocol_get read the transaction's session (txn_ssn_get), and answer
     * HY_ERROR for a transaction without one. */

    /* The client's address, `IP:PORT` (`[IPv6]:PORT`); a v4-mapped IPv6 address is written as
     * IPv4 (ATS's TSHttpTxnClientAddrGet). */
    hy_return (*client_addr_get)(hy_txn *txn, hy_str *out);
    /* The proxy's address the client connected to, in the same form (ATS's
     * TSHttpTxnIncomingAddrGet). */
    hy_return (*incoming_addr_get)(hy_txn *txn, hy_str *out);
    /* "https" for a TLS connection, else "http". */
    hy_return (*client_scheme_get)(hy_txn *txn, hy_str *out);
    /* The SNI name the client sent, lowercase (ATS's TSVConnSslSniGet). HY_ERROR when the
     * connection is not TLS or the client sent none. */
    hy_return (*client_sni_get)(hy_txn *txn, hy_str *out);
    /* The ALPN protocol agreed on: "h2" or "http/1.1". HY_ERROR when none was: a plain
     * connection (h2c included), or a TLS client that offered none. */
    hy_return (*client_alpn_get)(hy_txn *txn, hy_str *out);
    /* The TLS version: "TLSv1.2" or "TLSv1.3". HY_ERROR when the connection is not TLS. */
    hy_return (*client_tls_version_get)(hy_txn *txn, hy_str *out);
    /* The HTTP version the transaction's request arrived in: "HTTP/1.0", "HTTP/1.1" or
     * "HTTP/2" (each stream of an HTTP/2 connection is a transaction in HTTP/2). */
    hy_return (*client_protocol_get)(hy_txn *txn, hy_str *out);

    /* -- Logging, statistics, messages (since 1.4) ------------------------------------------- */

    /* Sets field `name` of the transaction's access log line to `value` (replacing an earlier
     * value of that name), shown as %<{name}plf> in a format_string and under "plugin" in JSON
     * lines. name: 1 to 64 bytes of [A-Za-z0-9_.-]; value: UTF-8, at most 4096 bytes. A
     * transaction keeps at most 32 fields. Any hook of the transaction, TXN_CLOSE included. */
    hy_return (*log_field_set)(hy_txn *txn, const char *name, size_t name_len, const char *value,
                               size_t value_len);
    /* Creates the plugin's statistic `name` of `kind` (ATS's TSStatCreate), or finds the one
     * made before, and writes its id to *id. name: 1 to 128 bytes of [A-Za-z0-9_.:-]. Statistics
     * belong to the plugin's name: a reloaded or new version finds the same ones, values kept.
     * The same name with another kind, or more than 1000 statistics, is HY_ERROR. Shown on the
     * metrics endpoint as hookyard_plugin_stat{plugin="NAME",stat="name"}. */
    hy_return (*stat_create)(hy_plugin *self, const char *name, size_t name_len,
                             hy_stat_kind kind, int32_t *id);
    /* Adds `amount` (a counter: >= 0) to statistic `id` (ATS's TSStatIntIncrement). Any thread. */
    hy_return (*stat_increment)(hy_plugin *self, int32_t id, int64_t amount);
    /* Sets gauge `id` to `value` (ATS's TSStatIntSet); HY_ERROR for a counter. Any thread. */
    hy_return (*stat_set)(hy_plugin *self, int32_t id, int64_t value);
    /* Reads statistic `id` into *value (ATS's TSStatIntGet). Any thread. */
    hy_return (*stat_get)(hy_plugin *self, int32_t id, int64_t *value);
    /* Answers the message `msg` of a HY_HOOK_LIFECYCLE_MSG callback, during that callback: the
     * text (UTF-8) is printed by `hookyard ctl plugin msg` under the plugin's name. Several
     * calls append; at most 65536 bytes per plugin and message. */
    hy_return (*msg_reply)(hy_plugin *self, const hy_lifecycle_msg *msg, const char *text,
                           size_t len);

    /* -- Body transforms (since 1.5) ---------------------------------------------------------
     *
     * A transform sees a body as a stream of chunks, in order, each delivered to its
     * continuation as HY_EVENT_TRANSFORM_CHUNK (on the transaction's thread, one at a time), then
     * HY_EVENT_TRANSFORM_CLOSE. For each chunk the handler answers:
     *   HY_HOOK_CONTINUE  done with it: an inspect or length-preserving transform's chunk goes on
     *                     (as changed), and the next chunk comes;
     *   HY_HOOK_PENDING   not yet: nothing more comes until transform_resume, which the plugin
     *                     calls once, from any thread (the chunk's data stays valid till then);
     *                     a chunk held past the host's pending limit fails the transaction (a
     *                     late resume then only ends the chunk, and CLOSE follows);
     *   HY_HOOK_ERROR     the transform failed: the transaction ends like one whose origin broke
     *                     (502 before the response head went, else the client connection is
     *                     closed without the body's end), logged with the plugin's name.
     * Back-pressure: a body is read only as fast as the last transform's output is taken (by the
     * origin for a request body, by the client for a response body). The output a rewrite
     * transform wrote and was not taken yet is bounded by the `transforms.buffer_limit` setting;
     * a write past it fails the transaction as HY_HOOK_ERROR does.
     *
     * Several transforms on one body run in priority order, highest first (as hook callbacks);
     * each sees what the one before it let through. A transform whose plugin the transaction or
     * its session switched off (plugin_enable_set), or whose priority is below the threshold for
     * every hook (threshold_set with HY_HOOK_ANY), is skipped: it gets only its CLOSE event. A
     * body that is empty from the start (a HEAD response, a 204 or 304, a GET without body)
     * gives each transform just an empty end chunk.
     * ---------------------------------------------------------------------------------------- */

    /* Adds a transform of `kind` on `body` (a HY_BODY_*) to the transaction; `cont` receives
     * its events. Allowed from any of the transaction's hooks (or remap calls) before the body
     * starts: a request body's up to SEND_REQUEST_HDR, a response body's up to
     * SEND_RESPONSE_HDR; HY_ERROR later, and for a transaction answered directly. `priority`
     * orders it (HY_PRIORITY_DEFAULT: the plugin's priority; at most its ceiling). The handle is
     * written to *transform (optional: may be NULL). */
    hy_return (*transform_add)(hy_txn *txn, hy_body body, hy_transform_kind kind, hy_cont *cont,
                               int32_t priority, hy_transform **transform);
    /* Appends `len` bytes (copied) to a HY_TRANSFORM_REWRITE transform's output. From its CHUNK
     * handler, or from any thread while one of its chunks is pending. HY_ERROR for another kind,
     * after transform_end, or past the buffer limit (the transaction then fails). */
    hy_return (*transform_write)(hy_transform *transform, const char *data, size_t len);
    /* Ends a HY_TRANSFORM_REWRITE transform's output (its body ends there, whatever input is
     * left; no more chunks come). When and where transform_write may be called. Done with the end
     * chunk (HY_HOOK_CONTINUE), a rewrite transform's output ends without it. */
    hy_return (*transform_end)(hy_transform *transform);
    /* Ends the pending chunk with HY_HOOK_CONTINUE or HY_HOOK_ERROR, from any thread; HY_ERROR
     * when no chunk is pending. */
    hy_return (*transform_resume)(hy_transform *transform, hy_hook_result result);

    /* -- Reason phrases, the configuration directory (since 1.5) ----------------------------- */

    /* The reason phrase of a response message (ATS's TSHttpHdrReasonGet): the one the origin
     * sent or a plugin set, else the status's standard one ("" for an unknown status). */
    hy_return (*reason_get)(hy_txn *txn, hy_msg msg, hy_str *reason);
    /* Sets the reason phrase of a response message (ATS's TSHttpHdrReasonSet): at most 256
     * bytes of tab, space, visible ASCII and bytes >= 0x80; "" for the standard one. HTTP/2 has
     * no reason phrase: its clients never see it. */
    hy_return (*reason_set)(hy_txn *txn, hy_msg msg, const char *reason, size_t len);
    /* The proxy's configuration directory (ATS's TSConfigDirGet), absolute, without a trailing
     * '/'; valid until the plugin's done entry point. Any thread. */
    hy_return (*config_dir_get)(hy_plugin *self, hy_str *dir);
    /* During hy_remap_do_remap: argument `index` of the running instance, as its new_instance
     * got them (0 the rule's from URL, 1 its to URL, then the @pparam= values), so a plugin need
     * not keep its own copy. HY_ERROR past the last, and outside do_remap. */
    hy_return (*remap_param_get)(hy_txn *txn, size_t index, hy_str *param);

    /* -- Since 1.6 ------------------------------------------------------------------------- */

    /* The directory of the plugin file this version was loaded from, as the operator installed
     * it (canonical, absolute, without a trailing '/'; not the private copy the proxy maps):
     * ATS's TSPluginDirGet. Valid until the plugin's done entry point. Any thread. */
    hy_return (*plugin_dir_get)(hy_plugin *self, hy_str *dir);
    /* Marks origin host `name` of the serving strategies (`host:port`, or a host for each of its
     * ports, as `hookyard ctl host`) down, with `reason` (UTF-8; shown by `ctl hosts` after the
     * plugin's name), when `up` is 0; up again when `up` is 1 (`reason` unused: may be NULL).
     * It is an operator's mark: it holds across reloads until this call or `ctl host up` clears
     * it (ATS's TSHostStatusSet). HY_ERROR for a name no serving strategy has. Any thread. */
    hy_return (*host_status_set)(hy_plugin *self, const char *name, size_t name_len, int32_t up,
                                 const char *reason, size_t reason_len);
    /* Whether origin host `name` takes transactions now: *up is 1, or 0 when it is down for any
     * reason (a mark, failed checks). HY_ERROR for a name no serving strategy has. Any thread. */
    hy_return (*host_status_get)(hy_plugin *self, const char *name, size_t name_len, int32_t *up);
} hy_api;

/* ---------------------------------------------------------------------------------------------
 * Remap plugins (ATS remap.h, one to one)
 *
 * Required: hy_remap_init and hy_remap_do_remap. hy_remap_new_instance and
 * hy_remap_delete_instance come as a pair or not at all. The rest are optional.
 * ------------------------------------------------------------------------------------------- */

/* What do_remap is told about the rule and the request. Owned by the host; valid for the call. */
typedef struct hy_remap_request_info {
    /* sizeof(hy_remap_request_info) as the host knows it. */
    uint32_t size;
    /* 0 on entry. Set to 1 to answer the client with a redirect (302) to the request URL
     * (HY_URL_REQUEST, as changed by this plugin) instead of going to the origin; no further
     * plugin of the rule runs. */
    int32_t redirect;
    /* The rule's from and to URLs (as HY_URL_REMAP_FROM and HY_URL_REMAP_TO); read-only. */
    hy_str from_url;
    hy_str to_url;
} hy_remap_request_info;

/* Once per load of the plugin file, before any instance; the place to set up what every
 * instance shares and to keep `api`. On HY_ERROR (message in errbuf) the configuration load
 * fails. */
typedef hy_return (*hy_remap_init_fn)(const hy_api *api, char *errbuf, int32_t errbuf_size);
/* Once per @plugin= of a rule per configuration load: argv[0] the from URL, argv[1] the to URL,
 * then the @pparam= values; valid only during the call (getopt may permute them). Store the
 * instance in *ih (NULL on entry); on HY_ERROR the configuration load fails. Serialised. */
typedef hy_return (*hy_remap_new_instance_fn)(int32_t argc, char **argv, void **ih, char *errbuf,
                                              int32_t errbuf_size);
/* Per transaction whose matched rule lists the plugin, in rule order. Concurrent, also for the
 * same instance. */
typedef hy_remap_status (*hy_remap_do_remap_fn)(void *ih, hy_txn *txn,
                                                hy_remap_request_info *rri);
/* Once per successful new_instance, after the last transaction of its configuration ended. */
typedef void (*hy_remap_delete_instance_fn)(void *ih);
/* When no configuration uses the plugin any more; after it the table is invalid. */
typedef void (*hy_remap_done_fn)(void);
/* Before a configuration reload starts parsing (not for the initial load). */
typedef void (*hy_remap_pre_config_reload_fn)(void);
/* After a configuration load, on every loaded remap plugin (also the initial load). */
typedef void (*hy_remap_post_config_reload_fn)(hy_reload_status status);
/* After the origin answered, for the first plugin of the matched rule only. */
typedef void (*hy_remap_os_response_fn)(void *ih, hy_txn *txn, hy_server_state state);

HY_EXPORT hy_return hy_remap_init(const hy_api *api, char *errbuf, int32_t errbuf_size);
HY_EXPORT hy_return hy_remap_new_instance(int32_t argc, char **argv, void **ih, char *errbuf,
                                          int32_t errbuf_size);
HY_EXPORT hy_remap_status hy_remap_do_remap(void *ih, hy_txn *txn, hy_remap_request_info *rri);
HY_EXPORT void hy_remap_delete_instance(void *ih);
HY_EXPORT void hy_remap_done(void);
HY_EXPORT void hy_remap_pre_config_reload(void);
HY_EXPORT void hy_remap_post_config_reload(hy_reload_status status);
HY_EXPORT void hy_remap_os_response(void *ih, hy_txn *txn, hy_server_state state);

/* ---------------------------------------------------------------------------------------------
 * Global plugins (plugin.yaml)
 *
 * Required: hy_plugin_init. Beyond ATS, global plugins have done and reload notifications, so
 * they reload like remap plugins: a changed file loads as a new version (init runs again) and the
 * old version gets done once its last transaction ended.
 * ------------------------------------------------------------------------------------------- */

/* Once per load: argv[0] the plugin path, then the params of its plugin.yaml entry. Register
 * global hooks here; on HY_ERROR (message in errbuf) the configuration load fails. */
typedef hy_return (*hy_plugin_init_fn)(const hy_api *api, int32_t argc, const char **argv,
                                       char *errbuf, int32_t errbuf_size);
/* When no configuration uses this version any more; destroy every continuation here. */
typedef void (*hy_plugin_done_fn)(void);
/* Before a configuration reload starts. */
typedef void (*hy_plugin_pre_config_reload_fn)(void);
/* After a configuration load (USED when the new generation keeps this version). */
typedef void (*hy_plugin_post_config_reload_fn)(hy_reload_status status);

HY_EXPORT hy_return hy_plugin_init(const hy_api *api, int32_t argc, const char **argv,
                                   char *errbuf, int32_t errbuf_size);
HY_EXPORT void hy_plugin_done(void);
HY_EXPORT void hy_plugin_pre_config_reload(void);
HY_EXPORT void hy_plugin_post_config_reload(hy_reload_status status);

#ifdef __cplusplus
}
#endif

#endif /* HOOKYARD_H */
