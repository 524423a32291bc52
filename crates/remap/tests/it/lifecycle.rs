//! The remap plugin lifecycle across generations, as ATS's code runs it (`PluginFactory.cc`,
//! `RemapPluginInfo.cc` in `src/proxy/http/remap/`; the guarantees of
//! <https://docs.trafficserver.apache.org/en/latest/developer-guide/plugins/remap-plugins.en.html>),
//! with a C plugin that records every call.

use std::ffi::{CStr, c_char};
use std::path::Path;
use std::sync::Arc;

use hookyard_abi::{self as abi, hy_remap_request_info, hy_str};
use hookyard_dso::{Library, Loader, LoaderConfig};
use hookyard_fixtures::{Sandbox, mapped, recorder};
use hookyard_remap::{ChainOutcome, Generation, Generations, Plugins, Remap, Request};

use crate::host::NullTables;

const INIT: i32 = 0;
const DELETE_INSTANCE: i32 = 2;
const DONE: i32 = 3;
const PRE: i32 = 4;
const DO_REMAP: i32 = 6;
const OS_RESPONSE: i32 = 7;

struct World {
    sandbox: Sandbox,
    loader: Loader,
    generations: Generations,
}

impl World {
    fn new() -> World {
        let sandbox = Sandbox::new();
        let loader =
            Loader::new(LoaderConfig::new(sandbox.runtime()).search_dir(sandbox.plugins()))
                .unwrap();
        let generations = Generations::new(Plugins::new(loader.clone(), Arc::new(NullTables)));
        World { sandbox, loader, generations }
    }

    fn install(&self, name: &str, defines: &[&str]) {
        self.sandbox.install(&recorder(defines), name);
    }

    fn load(&self, text: &str) -> Result<hookyard_remap::LoadReport, String> {
        self.generations.load_text(Path::new("remap.config"), text).map_err(|e| e.to_string())
    }

    /// The loaded library of the plugin whose config path is `name` in the current generation.
    fn library(&self, name: &str) -> Library {
        let plugins = self.generations.plugins().loaded();
        let plugin = plugins.iter().rev().find(|p| p.library().path().ends_with(name)).unwrap();
        plugin.library().clone()
    }

    fn flush(&self) {
        self.generations.plugins().flush();
        self.loader.flush_unloads();
    }
}

fn count(library: &Library, which: i32) -> i32 {
    // SAFETY: recorder.c defines `int rec_count(int)`.
    let f = unsafe { library.symbol::<extern "C" fn(i32) -> i32>("rec_count") }.unwrap();
    f(which)
}

fn counts(library: &Library) -> [i32; 8] {
    std::array::from_fn(|i| count(library, i as i32))
}

fn text_of(library: &Library, symbol: &str) -> String {
    // SAFETY: recorder.c defines these as `const char *(void)` returning a static buffer.
    let f = unsafe { library.symbol::<extern "C" fn() -> *const c_char>(symbol) }.unwrap();
    // SAFETY: a NUL-terminated static buffer of the loaded library.
    unsafe { CStr::from_ptr(f()) }.to_str().unwrap().to_owned()
}

fn last_post(library: &Library) -> i32 {
    // SAFETY: recorder.c defines `int rec_last_post(void)`.
    unsafe { library.symbol::<extern "C" fn() -> i32>("rec_last_post") }.unwrap()()
}

/// Runs the chain of the rule matching `url` in `generation`.
fn run_chain(generation: &Generation, url: &str) -> ChainOutcome {
    let request = crate::support::request(url);
    let Remap::Map { rule, .. } = generation.rules().remap(&request) else {
        panic!("{url} must map")
    };
    let chain = generation.chain(rule);
    let view = |s: &str| hy_str { ptr: s.as_ptr().cast(), len: s.len() };
    let (from, to) = (rule.from.to_string(), rule.to.to_string());
    let mut rri = hy_remap_request_info {
        size: size_of::<hy_remap_request_info>() as u32,
        redirect: 0,
        from_url: view(&from),
        to_url: view(&to),
    };
    // SAFETY: the recorder never uses the transaction handle; `rri` lives for the call.
    unsafe { chain.run(std::ptr::null_mut(), &mut rri, |_, _| {}, |_| {}) }
}

#[test]
fn the_first_load_inits_and_instantiates_and_tells_used_without_pre_reload() {
    let world = World::new();
    world.install("p.so", &[]);
    let report = world.load("map http://a/ http://b/ @plugin=p.so @pparam=x @pparam=y\n").unwrap();
    assert_eq!((report.generation, report.rules), (1, 1));
    assert!(report.plugins[0].loaded);
    let lib = world.library("p.so");
    // init, new_instance, delete, done, pre, post, do_remap, os_response
    assert_eq!(counts(&lib), [1, 1, 0, 0, 0, 1, 0, 0], "no pre on the first load");
    assert_eq!(last_post(&lib), abi::HY_RELOAD_SUCCESS_PLUGIN_USED);
    assert_eq!(text_of(&lib, "rec_last_argv"), "http://a/ http://b/ x y", "from, to, pparams");
}

#[test]
fn parameters_before_the_first_plugin_go_to_it() {
    let world = World::new();
    world.install("p1.so", &["-DRECORDER_VERSION=1"]);
    world.install("p2.so", &["-DRECORDER_VERSION=2"]);
    world
        .load("map http://url/path http://url/path @pparam=z @plugin=p1.so @pparam=1 @plugin=p2.so @pparam=2\n")
        .unwrap();
    assert_eq!(
        text_of(&world.library("p1.so"), "rec_last_argv"),
        "http://url/path http://url/path z 1"
    );
    assert_eq!(
        text_of(&world.library("p2.so"), "rec_last_argv"),
        "http://url/path http://url/path 2"
    );
}

#[test]
fn a_reload_reuses_an_unchanged_plugin_and_old_instances_go_after_their_generation() {
    let world = World::new();
    world.install("p.so", &[]);
    let config = "map http://a/ http://b/ @plugin=p.so\n";
    world.load(config).unwrap();
    let lib = world.library("p.so");
    let held = world.generations.current();

    let report = world.load(config).unwrap();
    assert!(!report.plugins[0].loaded, "an unchanged file is reused");
    assert_eq!(world.library("p.so").id(), lib.id());
    assert_eq!(counts(&lib), [1, 2, 0, 0, 1, 2, 0, 0], "no second init; pre then post on reload");
    world.flush();
    assert_eq!(count(&lib, DELETE_INSTANCE), 0, "a transaction still holds generation 1");

    assert_eq!(run_chain(&held, "http://a/x"), ChainOutcome { remapped: false, redirect: false });
    assert_eq!(count(&lib, DO_REMAP), 1, "the old generation still runs its instance");
    drop(held);
    world.flush();
    assert_eq!(count(&lib, DELETE_INSTANCE), 1, "deleted once its last transaction ended");
    assert_eq!(count(&lib, DONE), 0, "generation 2 still has an instance");

    // A configuration without the plugin: told UNUSED, then done once the old generation goes.
    world.load("map http://a/ http://b/\n").unwrap();
    assert_eq!(last_post(&lib), abi::HY_RELOAD_SUCCESS_PLUGIN_UNUSED);
    world.flush();
    assert_eq!((count(&lib, DELETE_INSTANCE), count(&lib, DONE)), (2, 1));
    let runtime = lib.runtime_path().to_owned();
    drop(lib);
    world.flush();
    assert!(!mapped(&runtime), "no instance and no handle left: the version unloads");
}

#[test]
fn a_changed_plugin_loads_beside_the_old_one_which_serves_its_generation() {
    let world = World::new();
    world.install("p.so", &["-DRECORDER_VERSION=1"]);
    let config = "map http://a/ http://b/ @plugin=p.so @pparam=label=A\n";
    world.load(config).unwrap();
    let v1 = world.library("p.so");
    let held = world.generations.current();

    world.install("p.so", &["-DRECORDER_VERSION=2"]);
    let report = world.load(config).unwrap();
    assert!(report.plugins[0].loaded, "a changed file is a new version");
    let v2 = world.library("p.so");
    assert_ne!(v1.id(), v2.id());
    assert_eq!(count(&v2, INIT), 1);
    assert_eq!(
        last_post(&v1),
        abi::HY_RELOAD_SUCCESS_PLUGIN_UNUSED,
        "the old version is not used by the new generation"
    );

    run_chain(&held, "http://a/x");
    run_chain(&world.generations.current(), "http://a/x");
    assert_eq!(
        (count(&v1, DO_REMAP), count(&v2, DO_REMAP)),
        (1, 1),
        "each generation runs its own version"
    );

    let v1_runtime = v1.runtime_path().to_owned();
    drop((held, v1));
    world.flush();
    assert!(!mapped(&v1_runtime), "v1 unloads after its generation's last transaction");
    assert!(mapped(v2.runtime_path()));
}

#[test]
fn init_failures_refuse_the_load_with_atss_messages_and_unload_the_plugin() {
    let world = World::new();
    world.install("boom.so", &["-DFAIL_INIT=\"boom\""]);
    world.install("quiet.so", &["-DFAIL_INIT=\"\""]);
    let err = world.load("map http://a/ http://b/\nmap http://c/ http://d/ @plugin=boom.so\nmap http://e/ http://f/ @plugin=quiet.so\n").unwrap_err();
    assert_eq!(
        err,
        "remap.config:2: failed to initialize plugin boom.so: boom\n\
         remap.config:3: failed to initialize plugin quiet.so: Unknown plugin error"
    );
    assert!(world.generations.plugins().loaded().is_empty(), "not in the loaded list");
    assert_eq!(world.generations.current().number(), 0, "nothing changed");
    world.flush();
    assert!(world.sandbox.version_dirs().is_empty(), "both copies unloaded and removed");
}

#[test]
fn a_failed_instance_refuses_the_reload_and_releases_what_it_created() {
    let world = World::new();
    world.install("p.so", &[]);
    world.load("map http://a/ http://b/ @plugin=p.so\n").unwrap();
    let p = world.library("p.so");
    world.install("q.so", &["-DRECORDER_VERSION=7"]);
    // Holding the version the reload will load keeps its counters readable after the teardown.
    let q = world.loader.load("q.so".as_ref()).unwrap();

    let err = world
        .load("map http://a/ http://b/ @plugin=p.so\nmap http://q/ http://r/ @plugin=q.so\nmap http://x/ http://y/ @plugin=p.so @pparam=fail\n")
        .unwrap_err();
    assert_eq!(
        err, "remap.config:3: failed to create instance for plugin p.so: bad args",
        "the instance error, with its line"
    );
    assert_eq!(world.generations.current().number(), 1, "the serving generation stays");
    assert_eq!(last_post(&p), abi::HY_RELOAD_FAILURE);

    // The brand-new Q got init, an instance, post(FAILURE), delete and done.
    world.flush();
    assert!(world.generations.plugins().loaded().iter().all(|x| x.version() != q.id()));
    assert_eq!(counts(&q), [1, 1, 1, 1, 0, 1, 0, 0]);
    assert_eq!(last_post(&q), abi::HY_RELOAD_FAILURE);
    let q_runtime = q.runtime_path().to_owned();
    drop(q);
    world.flush();
    assert!(!mapped(&q_runtime), "Q is unloaded");
    assert_eq!(
        counts(&p)[..3],
        [1, 3, 1],
        "p's failed and successful new instances of the attempt are deleted"
    );
    assert!(!run_chain(&world.generations.current(), "http://a/z").remapped);
}

#[test]
fn a_parse_error_loads_no_plugin_at_all() {
    let world = World::new();
    world.install("q.so", &[]);
    let err = world.load("map http://q/ http://r/ @plugin=q.so\nmap http://broken\n").unwrap_err();
    assert!(err.starts_with("remap.config:2: malformed line"), "{err}");
    assert!(world.generations.plugins().loaded().is_empty(), "parsing comes before loading");
    assert!(world.sandbox.version_dirs().is_empty());
}

#[test]
fn post_reload_tells_each_plugin_whether_the_new_generation_uses_it() {
    let world = World::new();
    world.install("p1.so", &["-DRECORDER_VERSION=1"]);
    world.install("p2.so", &["-DRECORDER_VERSION=2"]);
    world
        .load("map http://a/ http://b/ @plugin=p1.so\nmap http://c/ http://d/ @plugin=p2.so\n")
        .unwrap();
    let (p1, p2) = (world.library("p1.so"), world.library("p2.so"));
    world.load("map http://a/ http://b/ @plugin=p1.so\n").unwrap();
    assert_eq!(
        last_post(&p1),
        abi::HY_RELOAD_SUCCESS_PLUGIN_USED,
        "a plugin the new generation instantiates hears USED"
    );
    assert_eq!(last_post(&p2), abi::HY_RELOAD_SUCCESS_PLUGIN_UNUSED);
    assert_eq!((count(&p1, PRE), count(&p2, PRE)), (1, 1));
}

#[test]
fn the_chain_stops_redirects_and_treats_negative_answers_as_no_remap() {
    let world = World::new();
    world.install("p.so", &[]);
    world
        .load(
            "map http://stop/ http://x/ @plugin=p.so @pparam=label=1 @pparam=status=1 \
             @plugin=p.so @pparam=label=2 @pparam=status=2 @plugin=p.so @pparam=label=3\n\
             map http://redirect/ http://x/ @plugin=p.so @pparam=label=r @pparam=status=1 @pparam=redirect \
             @plugin=p.so @pparam=label=never\n\
             map http://quiet/ http://x/ @plugin=p.so @pparam=label=q @pparam=redirect \
             @plugin=p.so @pparam=label=neg @pparam=status=-1 @plugin=p.so @pparam=label=last\n",
        )
        .unwrap();
    let lib = world.library("p.so");
    let generation = world.generations.current();
    let trail = |url: &str| {
        // SAFETY: recorder.c defines `void rec_clear_trail(void)`.
        unsafe { lib.symbol::<extern "C" fn()>("rec_clear_trail") }.unwrap()();
        let outcome = run_chain(&generation, url);
        (outcome, text_of(&lib, "rec_trail"))
    };
    assert_eq!(
        trail("http://stop/"),
        (ChainOutcome { remapped: true, redirect: false }, "1,2".into()),
        "NO_REMAP_STOP ends it"
    );
    assert_eq!(
        trail("http://redirect/"),
        (ChainOutcome { remapped: true, redirect: true }, "r".into()),
        "DID_REMAP + redirect ends it"
    );
    assert_eq!(
        trail("http://quiet/"),
        (ChainOutcome { remapped: false, redirect: false }, "q,neg,last".into()),
        "a redirect flag without DID_REMAP is ignored, cleared for the next plugin; -1 is NO_REMAP"
    );

    // Only the first plugin of the rule hears how the origin answered.
    let request = crate::support::request("http://stop/");
    let Remap::Map { rule, .. } = generation.rules().remap(&request) else { panic!() };
    // SAFETY: the recorder never uses the transaction handle.
    unsafe { generation.chain(rule).os_response(std::ptr::null_mut(), 3) };
    assert_eq!(count(&lib, OS_RESPONSE), 1, "only the first plugin of the rule");
    let _ = Request { ..request };
}

/// A retired version is not brought back by a reload that still lists its unchanged file: the
/// file loads (and inits) as a fresh version, and the retired one goes with its generation.
#[test]
fn a_retired_plugin_loads_as_a_fresh_version_on_the_next_reload() {
    let world = World::new();
    world.install("p.so", &[]);
    let config = "map http://a/ http://b/ @plugin=p.so\n";
    world.load(config).unwrap();
    let old = world.generations.plugins().loaded().pop().unwrap();
    old.retire(hookyard_remap::Retire::Force);
    assert_eq!(old.context().state(), hookyard_context::ContextState::ForceRetired);

    let report = world.load(config).unwrap();
    assert!(report.plugins[0].loaded && !report.plugins[0].retired, "{report:?}");
    let fresh = world.library("p.so");
    assert_ne!(fresh.id(), old.version());
    assert_eq!(count(&fresh, INIT), 1, "the fresh version is initialised");
    let runtime = old.library().runtime_path().to_owned();
    drop(old);
    world.flush();
    assert!(!mapped(&runtime), "the retired version unloads once its generation is gone");
}

/// A serving remap plugin retired for good is skipped by its chain (as NO_REMAP), its drops
/// counted; draining, it still runs.
#[test]
fn a_retired_remap_plugin_is_skipped_by_its_chain_once_its_drain_is_over() {
    let world = World::new();
    world.install("p.so", &[]);
    world.load("map http://a/ http://b/ @plugin=p.so\n").unwrap();
    let generation = world.generations.current();
    let plugin = world.generations.plugins().loaded().pop().unwrap();
    plugin.retire(hookyard_remap::Retire::Drain(std::time::Duration::from_secs(3600)));
    run_chain(&generation, "http://a/x");
    assert_eq!(count(plugin.library(), DO_REMAP), 1, "draining: still called");
    plugin.retire(hookyard_remap::Retire::Force);
    assert_eq!(
        run_chain(&generation, "http://a/x"),
        ChainOutcome { remapped: false, redirect: false }
    );
    assert_eq!(count(plugin.library(), DO_REMAP), 1, "retired for good: not called");
    assert_eq!(plugin.context().snapshot().dropped_events, 1);
}
