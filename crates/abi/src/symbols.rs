//! Symbol names, and ATS's rules for which entry points a plugin must export.

use crate::error::Error;

/// The descriptor static every plugin exports.
pub const DESCRIPTOR: &str = "hy_plugin_descriptor";

/// `hy_remap_init` (required).
pub const REMAP_INIT: &str = "hy_remap_init";
/// `hy_remap_new_instance` (only together with `hy_remap_delete_instance`).
pub const REMAP_NEW_INSTANCE: &str = "hy_remap_new_instance";
/// `hy_remap_do_remap` (required).
pub const REMAP_DO_REMAP: &str = "hy_remap_do_remap";
/// `hy_remap_delete_instance` (only together with `hy_remap_new_instance`).
pub const REMAP_DELETE_INSTANCE: &str = "hy_remap_delete_instance";
/// `hy_remap_done` (optional).
pub const REMAP_DONE: &str = "hy_remap_done";
/// `hy_remap_pre_config_reload` (optional).
pub const REMAP_PRE_CONFIG_RELOAD: &str = "hy_remap_pre_config_reload";
/// `hy_remap_post_config_reload` (optional).
pub const REMAP_POST_CONFIG_RELOAD: &str = "hy_remap_post_config_reload";
/// `hy_remap_os_response` (optional).
pub const REMAP_OS_RESPONSE: &str = "hy_remap_os_response";

/// Every remap entry point, in the order of ATS's `RemapPluginInfo`.
pub const REMAP_ALL: [&str; 8] = [
    REMAP_INIT,
    REMAP_NEW_INSTANCE,
    REMAP_DO_REMAP,
    REMAP_DELETE_INSTANCE,
    REMAP_DONE,
    REMAP_PRE_CONFIG_RELOAD,
    REMAP_POST_CONFIG_RELOAD,
    REMAP_OS_RESPONSE,
];

/// `hy_plugin_init` (required for a global plugin).
pub const PLUGIN_INIT: &str = "hy_plugin_init";
/// `hy_plugin_done` (optional).
pub const PLUGIN_DONE: &str = "hy_plugin_done";
/// `hy_plugin_pre_config_reload` (optional).
pub const PLUGIN_PRE_CONFIG_RELOAD: &str = "hy_plugin_pre_config_reload";
/// `hy_plugin_post_config_reload` (optional).
pub const PLUGIN_POST_CONFIG_RELOAD: &str = "hy_plugin_post_config_reload";

/// Every global plugin entry point.
pub const GLOBAL_ALL: [&str; 4] =
    [PLUGIN_INIT, PLUGIN_DONE, PLUGIN_PRE_CONFIG_RELOAD, PLUGIN_POST_CONFIG_RELOAD];

/// How a plugin is used: which entry points it must export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PluginKind {
    /// Named by `@plugin=` in `remap.config`.
    Remap,
    /// Listed in `plugin.yaml`.
    Global,
}

impl PluginKind {
    /// The entry points of this kind.
    pub fn entry_points(self) -> &'static [&'static str] {
        match self {
            PluginKind::Remap => &REMAP_ALL,
            PluginKind::Global => &GLOBAL_ALL,
        }
    }
}

/// Checks that a plugin exports what its kind requires, given which symbols it exports.
///
/// For remap plugins these are ATS's rules (`RemapPluginInfo::load`), first failure wins:
/// init, then do_remap, then delete_instance without new_instance, then new_instance without
/// delete_instance. A global plugin needs `hy_plugin_init`. `config_path` is the plugin path as
/// the configuration wrote it.
///
/// # Errors
///
/// [`Error::MissingFunction`], whose message is ATS's:
/// `plugin <config_path> missing required function <symbol>[ if <other> is defined]`.
pub fn check_symbols(
    kind: PluginKind,
    config_path: &str,
    mut exports: impl FnMut(&str) -> bool,
) -> Result<(), Error> {
    let missing = |symbol: &str, condition: Option<&str>| Error::MissingFunction {
        config_path: config_path.to_owned(),
        symbol: symbol.to_owned(),
        defined: condition.map(str::to_owned),
    };
    match kind {
        PluginKind::Global => {
            if !exports(PLUGIN_INIT) {
                return Err(missing(PLUGIN_INIT, None));
            }
        }
        PluginKind::Remap => {
            if !exports(REMAP_INIT) {
                return Err(missing(REMAP_INIT, None));
            }
            if !exports(REMAP_DO_REMAP) {
                return Err(missing(REMAP_DO_REMAP, None));
            }
            let new_instance = exports(REMAP_NEW_INSTANCE);
            let delete_instance = exports(REMAP_DELETE_INSTANCE);
            if delete_instance && !new_instance {
                return Err(missing(REMAP_NEW_INSTANCE, Some(REMAP_DELETE_INSTANCE)));
            }
            if new_instance && !delete_instance {
                return Err(missing(REMAP_DELETE_INSTANCE, Some(REMAP_NEW_INSTANCE)));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(kind: PluginKind, exported: &[&str]) -> Result<(), String> {
        check_symbols(kind, "plugin_test.so", |s| exported.contains(&s)).map_err(|e| e.to_string())
    }

    #[test]
    fn remap_plugins_follow_ats_rules_first_failure_wins() {
        assert_eq!(check(PluginKind::Remap, &[REMAP_INIT, REMAP_DO_REMAP]), Ok(()));
        assert_eq!(check(PluginKind::Remap, &REMAP_ALL), Ok(()));
        assert_eq!(
            check(PluginKind::Remap, &[REMAP_DO_REMAP, REMAP_NEW_INSTANCE]),
            Err("plugin plugin_test.so missing required function hy_remap_init".into())
        );
        assert_eq!(
            check(PluginKind::Remap, &[REMAP_INIT, REMAP_DELETE_INSTANCE]),
            Err("plugin plugin_test.so missing required function hy_remap_do_remap".into())
        );
        assert_eq!(
            check(PluginKind::Remap, &[REMAP_INIT, REMAP_DO_REMAP, REMAP_DELETE_INSTANCE]),
            Err("plugin plugin_test.so missing required function hy_remap_new_instance if \
                 hy_remap_delete_instance is defined"
                .into())
        );
        assert_eq!(
            check(PluginKind::Remap, &[REMAP_INIT, REMAP_DO_REMAP, REMAP_NEW_INSTANCE]),
            Err("plugin plugin_test.so missing required function hy_remap_delete_instance if \
                 hy_remap_new_instance is defined"
                .into())
        );
    }

    #[test]
    fn global_plugins_need_init_only() {
        assert_eq!(check(PluginKind::Global, &[PLUGIN_INIT]), Ok(()));
        assert_eq!(
            check(PluginKind::Global, &[PLUGIN_DONE, REMAP_INIT]),
            Err("plugin plugin_test.so missing required function hy_plugin_init".into())
        );
    }
}
