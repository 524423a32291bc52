//! A plugin's code stays loaded while one of its continuations lives.

use hookyard_context::{Context, Continuation};
use hookyard_dso::{Loader, LoaderConfig};
use hookyard_fixtures::{CPlugin, Sandbox, VersionFn, c_plugin, mapped};

#[test]
fn the_version_stays_loaded_while_a_continuation_lives_and_unloads_after_the_last() {
    let sandbox = Sandbox::new();
    let loader =
        Loader::new(LoaderConfig::new(sandbox.runtime()).search_dir(sandbox.plugins())).unwrap();
    sandbox.install(&c_plugin(CPlugin::Version(3)), "plugin.so");
    let library = loader.load("plugin.so".as_ref()).unwrap();
    let runtime = library.runtime_path().to_owned();
    // SAFETY: version.c defines `int hy_test_version(void)`.
    let symbol = unsafe { library.symbol::<VersionFn>("hy_test_version") }.unwrap();
    // A bare function pointer: only the context keeps its code loaded from here on.
    let version: VersionFn = *symbol;
    drop(symbol);
    let context = Context::plugin("versioned", library);
    let info = context.snapshot();
    assert_eq!(info.name, "versioned");
    assert_eq!(info.version, Some(context.library().unwrap().id()));
    assert_eq!(context.to_string(), format!("versioned (version {})", info.version.unwrap()));

    let (first, second) = context.run(|| (Continuation::new(version), Continuation::new(version)));
    context.retire(None);
    drop(context);
    loader.flush_unloads();
    assert!(mapped(&runtime), "two continuations keep the code loaded");

    assert_eq!(first.invoke(|f| f()).unwrap(), 3);
    drop(first);
    loader.flush_unloads();
    assert!(mapped(&runtime), "one continuation still keeps it loaded");
    assert_eq!(second.invoke(|f| f()).unwrap(), 3);

    drop(second);
    loader.flush_unloads();
    assert!(!mapped(&runtime), "the last continuation's destruction unloads the version");
    assert_eq!(loader.stats().unloaded, 1);
}
