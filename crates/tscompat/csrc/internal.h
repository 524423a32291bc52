/*
 * What the compatibility layer's C files share. Not installed: plugins see include/ts only.
 */
#ifndef HOOKYARD_TS_INTERNAL_H
#define HOOKYARD_TS_INTERNAL_H

#include <stdarg.h>

#include "hookyard.h"
#include "ts/remap.h"
#include "ts/ts.h"

/* The host's table, kept by the first init entry point (remap or global). */
extern const hy_api *hy_ts_api;

/* Called by the done entry points: destroys every continuation the plugin left alive, since a
 * live continuation keeps the plugin loaded and ATS plugins never destroy their global ones. */
void hy_ts_destroy_all_conts(void);

/* Logs a formatted message at `level`. */
void hy_ts_logv(hy_log_level level, const char *prefix, const char *fmt, va_list args);

/* Header locations: small integers that cannot be heap addresses; a field location is a
 * pointer to a struct ts_field. The TSMBuffer is the transaction itself. */
#define HY_TS_HDR_LOC_BASE 0x10u
#define HY_TS_HDR_LOC(msg) ((TSMLoc)(uintptr_t)(HY_TS_HDR_LOC_BASE + (unsigned)(msg)))
/* URL locations, likewise: one per hy_url. */
#define HY_TS_URL_LOC_BASE 0x20u
#define HY_TS_URL_LOC(url) ((TSMLoc)(uintptr_t)(HY_TS_URL_LOC_BASE + (unsigned)(url)))

#endif /* HOOKYARD_TS_INTERNAL_H */
