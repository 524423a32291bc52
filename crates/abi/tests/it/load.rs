//! The load-time rules on real shared objects: the descriptor is checked first and a refusal
//! says who, where, which versions and what to do; then ATS's entry-point rules (`RemapPluginInfo::load`
//! in ATS's `src/proxy/http/remap/RemapPluginInfo.cc`) with ATS's exact messages. Nothing of a refused plugin runs.

use std::path::Path;

use hookyard_abi::{Error, PluginKind, symbol, validate};
use hookyard_dso::{Library, Loader, LoaderConfig, ReloadMode};
use hookyard_fixtures::Sandbox;

use crate::support::{LibraryProbe, shared_object};

const REMAP_BASICS: &[&str] = &["-DWITH_INIT", "-DWITH_DO_REMAP"];

struct Env {
    sandbox: Sandbox,
    loader: Loader,
}

impl Env {
    fn new() -> Env {
        let sandbox = Sandbox::new();
        let loader = Loader::new(
            LoaderConfig::new(sandbox.runtime())
                .search_dir(sandbox.plugins())
                .mode(ReloadMode::Dynamic),
        )
        .unwrap();
        Env { sandbox, loader }
    }

    /// Builds `probe.c` with `defines` as `plugins/<name>` and loads it.
    fn load(&self, defines: &[&str], name: &str) -> Library {
        shared_object(&self.sandbox.plugins(), "probe.c", defines, name);
        self.loader.load(name.as_ref()).unwrap()
    }
}

/// Validates like a host would; returns the result, the symbols looked up, and how many entry
/// points ran.
fn check(
    kind: PluginKind,
    library: &Library,
    config_path: &str,
) -> (Result<String, Error>, Vec<String>, i32) {
    let mut probe = LibraryProbe::new(library);
    let result = validate(kind, config_path, library.path(), &mut probe).map(|id| id.name);
    // SAFETY: probe.c exports `int hy_test_calls`.
    let calls = unsafe { **library.symbol::<*const i32>("hy_test_calls").unwrap() };
    (result, probe.looked_up, calls)
}

fn refusal(env: &Env, defines: &[&str], name: &str) -> (String, Vec<String>) {
    let library = env.load(defines, name);
    let (result, looked_up, calls) = check(PluginKind::Remap, &library, name);
    assert_eq!(calls, 0, "no entry point of a refused plugin runs");
    (result.unwrap_err().to_string(), looked_up)
}

fn path_of(env: &Env, name: &str) -> String {
    env.loader.resolve(Path::new(name)).unwrap().display().to_string()
}

#[test]
fn a_plugin_built_for_the_next_major_is_refused_before_any_symbol_is_touched() {
    let env = Env::new();
    let mut defines = REMAP_BASICS.to_vec();
    defines.push("-DDESC_MAJOR=(HY_ABI_MAJOR+1)");
    let (message, looked_up) = refusal(&env, &defines, "major.so");
    assert_eq!(
        message,
        format!(
            "plugin probe 0.3.1 (`{}`) was built for plugin ABI 2.6, but this hookyard provides \
             ABI 1.6: rebuild the plugin against this hookyard's hookyard.h or hookyard-sdk, or \
             run a hookyard that provides ABI 2.x",
            path_of(&env, "major.so")
        )
    );
    assert!(looked_up.iter().all(|s| s == symbol::DESCRIPTOR), "{looked_up:?}");
}

#[test]
fn a_plugin_built_for_a_newer_minor_is_refused() {
    let env = Env::new();
    let mut defines = REMAP_BASICS.to_vec();
    defines.push("-DDESC_MINOR=(HY_ABI_MINOR+1)");
    let (message, looked_up) = refusal(&env, &defines, "minor.so");
    assert_eq!(
        message,
        format!(
            "plugin probe 0.3.1 (`{}`) was built for plugin ABI 1.7, newer than this hookyard's \
             ABI 1.6: upgrade hookyard to one that provides ABI 1.7 or later, or rebuild the \
             plugin against ABI 1.6",
            path_of(&env, "minor.so")
        )
    );
    assert!(looked_up.iter().all(|s| s == symbol::DESCRIPTOR), "{looked_up:?}");
}

#[test]
fn a_bad_magic_is_refused() {
    let env = Env::new();
    let mut defines = REMAP_BASICS.to_vec();
    defines.push("-DDESC_MAGIC=0x12345678");
    let (message, looked_up) = refusal(&env, &defines, "magic.so");
    assert!(
        message.starts_with(&format!(
            "plugin `{}` has no valid descriptor: `hy_plugin_descriptor` starts with 0x12345678",
            path_of(&env, "magic.so")
        )),
        "{message}"
    );
    assert_eq!(looked_up, [symbol::DESCRIPTOR]);
}

#[test]
fn a_plugin_without_a_descriptor_is_refused() {
    let env = Env::new();
    let mut defines = REMAP_BASICS.to_vec();
    defines.push("-DNO_DESCRIPTOR");
    let (message, looked_up) = refusal(&env, &defines, "bare.so");
    assert_eq!(
        message,
        format!(
            "plugin `{}` is not a hookyard plugin: it exports no `hy_plugin_descriptor`; build it \
             with HY_PLUGIN_DESCRIPTOR from hookyard.h or with hookyard-sdk's `plugin!` macro",
            path_of(&env, "bare.so")
        )
    );
    assert_eq!(looked_up, [symbol::DESCRIPTOR]);
}

#[test]
fn init_and_do_remap_alone_load() {
    let env = Env::new();
    let library = env.load(REMAP_BASICS, "basic.so");
    let (result, looked_up, calls) = check(PluginKind::Remap, &library, "basic.so");
    assert_eq!(result.unwrap(), "probe");
    assert_eq!(calls, 0);
    assert_eq!(looked_up[..2], [symbol::DESCRIPTOR, symbol::DESCRIPTOR], "descriptor first");
}

#[test]
fn missing_entry_points_fail_with_ats_messages() {
    let env = Env::new();
    let cases: &[(&[&str], &str, &str)] = &[
        (&["-DWITH_DO_REMAP"], "plugin_missing_init.so", "hy_remap_init"),
        (&["-DWITH_INIT"], "plugin_missing_doremap.so", "hy_remap_do_remap"),
        (
            &["-DWITH_INIT", "-DWITH_DO_REMAP", "-DWITH_NEW_INSTANCE"],
            "plugin_missing_deleteinstance.so",
            "hy_remap_delete_instance if hy_remap_new_instance is defined",
        ),
        (
            &["-DWITH_INIT", "-DWITH_DO_REMAP", "-DWITH_DELETE_INSTANCE"],
            "plugin_missing_newinstance.so",
            "hy_remap_new_instance if hy_remap_delete_instance is defined",
        ),
    ];
    for (defines, name, missing) in cases {
        let (message, _) = refusal(&env, defines, name);
        assert_eq!(message, format!("plugin {name} missing required function {missing}"));
    }
    // Both halves of the pair: fine.
    let library = env.load(
        &["-DWITH_INIT", "-DWITH_DO_REMAP", "-DWITH_NEW_INSTANCE", "-DWITH_DELETE_INSTANCE"],
        "pair.so",
    );
    assert!(check(PluginKind::Remap, &library, "pair.so").0.is_ok());
}

#[test]
fn a_global_plugin_needs_plugin_init() {
    let env = Env::new();
    let library = env.load(REMAP_BASICS, "remap_only.so");
    let (result, _, _) = check(PluginKind::Global, &library, "remap_only.so");
    assert_eq!(
        result.unwrap_err().to_string(),
        "plugin remap_only.so missing required function hy_plugin_init"
    );
    let library = env.load(&["-DWITH_PLUGIN_INIT"], "global.so");
    assert_eq!(check(PluginKind::Global, &library, "global.so").0.unwrap(), "probe");
}

#[test]
fn a_plugin_that_cannot_unload_says_so_and_the_host_pins_it() {
    let env = Env::new();
    let mut defines = REMAP_BASICS.to_vec();
    defines.push("-DDESC_FLAGS=HY_PLUGIN_FLAG_CANNOT_UNLOAD");
    let library = env.load(&defines, "sticky.so");
    let mut probe = LibraryProbe::new(&library);
    let identity = validate(PluginKind::Remap, "sticky.so", library.path(), &mut probe).unwrap();
    assert!(identity.cannot_unload());
    // What a host does with the flag: pin the version, which then stays mapped.
    library.pin().unwrap();
    let runtime = library.runtime_path().to_owned();
    drop(library);
    env.loader.flush_unloads();
    assert!(hookyard_fixtures::mapped(&runtime));
    assert_eq!(env.loader.stats().pinned, 1);
}
