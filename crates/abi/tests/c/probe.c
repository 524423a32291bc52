/* A plugin whose descriptor and exports are chosen at compile time, for the load-time checks.
 *
 *   -DNO_DESCRIPTOR            export no descriptor
 *   -DDESC_MAGIC=x             descriptor magic (default HY_PLUGIN_MAGIC)
 *   -DDESC_MAJOR=x, -DDESC_MINOR=x, -DDESC_FLAGS=x
 *   -DWITH_<ENTRY>             export that remap entry point (INIT, DO_REMAP, NEW_INSTANCE,
 *                              DELETE_INSTANCE) or PLUGIN_INIT
 *
 * Every entry point counts its calls in hy_test_calls, so a test can prove none ran. */
#include <hookyard.h>

#ifndef DESC_MAGIC
#define DESC_MAGIC HY_PLUGIN_MAGIC
#endif
#ifndef DESC_MAJOR
#define DESC_MAJOR HY_ABI_MAJOR
#endif
#ifndef DESC_MINOR
#define DESC_MINOR HY_ABI_MINOR
#endif
#ifndef DESC_FLAGS
#define DESC_FLAGS 0
#endif

HY_EXPORT int hy_test_calls;

#ifndef NO_DESCRIPTOR
HY_EXPORT const hy_descriptor hy_plugin_descriptor = {
    DESC_MAGIC, DESC_MAJOR, DESC_MINOR, "probe", "0.3.1", DESC_FLAGS, 0};
#endif

#ifdef WITH_INIT
hy_return hy_remap_init(const hy_api *api, char *errbuf, int32_t errbuf_size) {
    (void)api, (void)errbuf, (void)errbuf_size;
    hy_test_calls++;
    return HY_SUCCESS;
}
#endif

#ifdef WITH_DO_REMAP
hy_remap_status hy_remap_do_remap(void *ih, hy_txn *txn, hy_remap_request_info *rri) {
    (void)ih, (void)txn, (void)rri;
    hy_test_calls++;
    return HY_REMAP_NO_REMAP;
}
#endif

#ifdef WITH_NEW_INSTANCE
hy_return hy_remap_new_instance(int32_t argc, char **argv, void **ih, char *errbuf,
                                int32_t errbuf_size) {
    (void)argc, (void)argv, (void)ih, (void)errbuf, (void)errbuf_size;
    hy_test_calls++;
    return HY_SUCCESS;
}
#endif

#ifdef WITH_DELETE_INSTANCE
void hy_remap_delete_instance(void *ih) {
    (void)ih;
    hy_test_calls++;
}
#endif

#ifdef WITH_PLUGIN_INIT
hy_return hy_plugin_init(const hy_api *api, int32_t argc, const char **argv, char *errbuf,
                         int32_t errbuf_size) {
    (void)api, (void)argc, (void)argv, (void)errbuf, (void)errbuf_size;
    hy_test_calls++;
    return HY_SUCCESS;
}
#endif
