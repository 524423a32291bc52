//! `watch: true`: a change in the configuration directory, an included directory or a plugin
//! file reloads without a signal; a burst of changes is one reload; a bad file is refused and the
//! old rules keep answering.
//!
//! Nothing here waits a fixed time: each test polls for the effect it expects (a rule answering,
//! a counter moving) until [`DEADLINE`].

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use hookyard_fixtures::versioned;
use hookyard_proxy::ServerHandle;

use crate::support::{Answer, DEADLINE, Origin, config_dir, get, proxy, within, write};

const WATCH: &str = "watch: true\n";

fn map(host: &str, origin: &Origin) -> String {
    format!("map http://{host}/ http://{}/\n", origin.addr)
}

/// Requests `host` `target` on new connections until `expect` holds.
async fn answer_until(
    addr: SocketAddr,
    host: &str,
    target: &str,
    what: &str,
    expect: impl Fn(&Answer) -> bool,
) -> Answer {
    let start = Instant::now();
    loop {
        let answer = get(addr, host, target).await;
        if expect(&answer) {
            return answer;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "{what}: not seen within {DEADLINE:?}; last {} {}",
            answer.status,
            answer.body
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls the server's status until `condition` holds.
async fn status_until(
    proxy: &ServerHandle,
    what: &str,
    condition: impl Fn(&hookyard_proxy::Status) -> bool,
) {
    let start = Instant::now();
    loop {
        let status = proxy.status();
        if condition(&status) {
            return;
        }
        assert!(start.elapsed() < DEADLINE, "{what}: not true within {DEADLINE:?}: {status:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Writes beside, then renames over, as editors and deployment tools do.
fn replace(dir: &Path, name: &str, text: &str) {
    let staging = format!(".{name}.tmp");
    write(dir, &staging, text);
    std::fs::rename(dir.join(staging), dir.join(name)).unwrap();
}

#[tokio::test]
async fn a_changed_remap_config_reloads_without_a_signal_and_the_watch_stops_on_shutdown() {
    let (a, b) = (Origin::start("a").await, Origin::start("b").await);
    let dir =
        config_dir(&[("hookyard.yaml", WATCH), ("remap.config", &map("www.example.com", &a))]);
    let proxy = proxy(Some(dir.path()));
    let addr = proxy.addrs()[0];
    assert!(get(addr, "www.example.com", "/").await.body.starts_with("a GET /"));

    write(dir.path(), "remap.config", &map("www.example.com", &b));
    answer_until(addr, "www.example.com", "/", "the new rule", |a| a.body.starts_with("b GET /"))
        .await;
    let status = proxy.status();
    assert!(status.generation >= 2 && status.reloads_ok >= 1, "{status:?}");
    assert_eq!(status.reloads_failed, 0);

    proxy.shutdown();
    within("the server threads, the watch thread with them", async {
        tokio::task::spawn_blocking(move || proxy.wait()).await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_burst_of_writes_and_renames_is_one_reload() {
    let (a, b, c) = (Origin::start("a").await, Origin::start("b").await, Origin::start("c").await);
    let dir =
        config_dir(&[("hookyard.yaml", WATCH), ("remap.config", &map("www.example.com", &a))]);
    let proxy = proxy(Some(dir.path()));
    let addr = proxy.addrs()[0];

    // Five quick changes, each a valid configuration, the last one to origin b.
    for i in 0..4 {
        let text =
            format!("{}map http://burst{i}.test/ http://{}/\n", map("www.example.com", &a), a.addr);
        if i % 2 == 0 {
            write(dir.path(), "remap.config", &text);
        } else {
            replace(dir.path(), "remap.config", &text);
        }
    }
    write(dir.path(), "remap.config", &map("www.example.com", &b));
    answer_until(addr, "www.example.com", "/", "the burst's last rule", |a| {
        a.body.starts_with("b GET /")
    })
    .await;

    // A later change, once the burst is served: reloads run one after another, so when its
    // rule answers, every reload the burst caused has run.
    write(dir.path(), "remap.config", &map("www.example.com", &c));
    answer_until(addr, "www.example.com", "/", "the later rule", |a| a.body.starts_with("c GET /"))
        .await;
    let status = proxy.status();
    eprintln!("a burst of 5 changes, then 1 change: {} reloads", status.reloads_ok);
    assert_eq!(status.reloads_failed, 0);
    // Exactly 2 when the burst is one; a loaded machine may pause the writer past the quiet
    // period once.
    assert!((2..=3).contains(&status.reloads_ok), "{status:?}");
    assert_eq!(status.generation, 1 + status.reloads_ok);
}

#[tokio::test]
async fn a_bad_remap_config_is_refused_and_the_old_rules_keep_answering() {
    let (a, b) = (Origin::start("a").await, Origin::start("b").await);
    let dir =
        config_dir(&[("hookyard.yaml", WATCH), ("remap.config", &map("www.example.com", &a))]);
    let proxy = proxy(Some(dir.path()));
    let addr = proxy.addrs()[0];

    write(dir.path(), "remap.config", "map http://www.example.com/\nbogus a b\n");
    status_until(&proxy, "the refused reload", |s| s.reloads_failed >= 1).await;
    let answer = get(addr, "www.example.com", "/still").await;
    assert!(answer.body.starts_with("a GET /still"), "{}", answer.body);
    let status = proxy.status();
    assert_eq!((status.generation, status.reloads_ok), (1, 0));

    // Fixed: served at the next change.
    replace(dir.path(), "remap.config", &map("www.example.com", &b));
    answer_until(addr, "www.example.com", "/", "the fixed rule", |a| a.body.starts_with("b GET /"))
        .await;
}

#[tokio::test]
async fn a_new_file_in_an_included_directory_reloads() {
    let (a, b) = (Origin::start("a").await, Origin::start("b").await);
    let dir = config_dir(&[
        ("hookyard.yaml", WATCH),
        ("remap.config", &format!(".include conf.d\n{}", map("www.example.com", &a))),
    ]);
    std::fs::create_dir(dir.path().join("conf.d")).unwrap();
    let proxy = proxy(Some(dir.path()));
    let addr = proxy.addrs()[0];
    assert_eq!(get(addr, "new.test", "/").await.status, 404);

    write(&dir.path().join("conf.d"), "new.config", &map("new.test", &b));
    answer_until(addr, "new.test", "/", "the included rule", |a| a.body.starts_with("b GET /"))
        .await;
}

/// A watched configuration whose one rule runs `versioned.so` from its `plugins` directory
/// (returned, still empty).
fn watched_plugin_dir(origin: &Origin) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = config_dir(&[(
        "remap.config",
        &format!("map http://site.test/ http://{}/ @plugin=versioned.so\n", origin.addr),
    )]);
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    let settings = format!(
        "{WATCH}runtime_dir: {}\nplugin_dirs: [{}]\n",
        dir.path().join("run").display(),
        plugins.display()
    );
    write(dir.path(), "hookyard.yaml", &settings);
    (dir, plugins)
}

#[tokio::test]
async fn a_plugin_file_replaced_by_rename_serves_its_new_version() {
    let origin = Origin::start("o").await;
    let (dir, plugins) = watched_plugin_dir(&origin);
    let install = |version: u32| {
        let staging = plugins.join(".versioned.so.tmp");
        std::fs::copy(versioned(version), &staging).unwrap();
        std::fs::rename(&staging, plugins.join("versioned.so")).unwrap();
    };
    install(1);
    let proxy = proxy(Some(dir.path()));
    let addr = proxy.addrs()[0];
    let first = get(addr, "site.test", "/headers").await;
    assert!(first.body.contains("x-plugin-version: 1"), "{}", first.body);

    install(2);
    answer_until(addr, "site.test", "/headers", "version 2", |a| {
        a.body.contains("x-plugin-version: 2")
    })
    .await;
    let status = proxy.status();
    assert_eq!(status.reloads_failed, 0, "{status:?}");
    assert!(status.reloads_ok >= 1, "{status:?}");
    let rules = proxy.rules();
    assert!(rules[0].plugins[0].starts_with("versioned 2 (#"), "{:?}", rules[0].plugins);
}

#[tokio::test]
async fn a_plugin_rewritten_in_place_slowly_serves_its_new_version_once_whole() {
    use std::io::Write;
    let origin = Origin::start("o").await;
    let (dir, plugins) = watched_plugin_dir(&origin);
    std::fs::copy(versioned(1), plugins.join("versioned.so")).unwrap();
    let proxy = proxy(Some(dir.path()));
    let addr = proxy.addrs()[0];
    assert!(get(addr, "site.test", "/headers").await.body.contains("x-plugin-version: 1"));

    // The new build is written over the old file in five pieces, about a second in all (the
    // pauses pace the writer; they synchronise nothing). Between pieces the server keeps
    // serving the old version: a reload that reads a cut-short file is refused.
    let new = std::fs::read(versioned(2)).unwrap();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(plugins.join("versioned.so"))
        .unwrap();
    for chunk in new.chunks(new.len().div_ceil(5)) {
        let answer = get(addr, "site.test", "/headers").await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert!(answer.body.contains("x-plugin-version: 1"), "{}", answer.body);
        file.write_all(chunk).unwrap();
        tokio::time::sleep(Duration::from_millis(220)).await;
    }
    drop(file);
    answer_until(addr, "site.test", "/headers", "version 2 once whole", |a| {
        a.body.contains("x-plugin-version: 2")
    })
    .await;
    let rules = proxy.rules();
    assert!(rules[0].plugins[0].starts_with("versioned 2 (#"), "{:?}", rules[0].plugins);
}

#[tokio::test]
async fn a_remap_config_written_longer_than_a_burst_may_last_is_read_once_whole() {
    use std::io::Write;
    let origin = Origin::start("o").await;
    let dir = config_dir(&[("hookyard.yaml", WATCH), ("remap.config", &map("old.test", &origin))]);
    let proxy = proxy(Some(dir.path()));
    let addr = proxy.addrs()[0];
    assert_eq!(get(addr, "old.test", "/").await.status, 200);

    // Written without pause for about three seconds, longer than a burst of changes is waited
    // for: the reload still waits until the file stops changing, so it never reads a cut-off
    // line (which would fail to parse).
    let text: String = (0..40).map(|i| map(&format!("host{i}.test"), &origin)).collect();
    // A thread of its own, so that the writer's pauses stay short when the test runtime is
    // busy; the writes are what the watcher must wait out.
    let path = dir.path().join("remap.config");
    let writer = std::thread::spawn(move || {
        let mut file = std::fs::OpenOptions::new().write(true).truncate(true).open(path).unwrap();
        let started = Instant::now();
        let chunks = text.as_bytes().chunks(6);
        let pause = Duration::from_millis(3000) / u32::try_from(chunks.len()).unwrap();
        for chunk in chunks {
            file.write_all(chunk).unwrap();
            std::thread::sleep(pause);
        }
        started.elapsed()
    });
    let elapsed = tokio::task::spawn_blocking(move || writer.join().unwrap()).await.unwrap();
    assert!(elapsed > Duration::from_secs(2), "longer than a burst may last");
    answer_until(addr, "host39.test", "/", "the whole file", |a| a.status == 200).await;
    let status = proxy.status();
    assert_eq!(status.reloads_failed, 0, "no reload read a half-written file: {status:?}");
    assert_eq!(status.rules, 40, "{status:?}");
}

#[tokio::test]
async fn a_changed_strategies_yaml_reloads() {
    let (a, b) = (Origin::start("a").await, Origin::start("b").await);
    let pool = |origin: &Origin| {
        format!(
            "strategies:\n  - strategy: pool\n    policy: first_live\n    groups:\n      - - host: 127.0.0.1\n          protocol: [{{scheme: http, port: {}}}]\n",
            origin.addr.port()
        )
    };
    let dir = config_dir(&[
        ("hookyard.yaml", WATCH),
        ("strategies.yaml", &pool(&a)),
        ("remap.config", "map http://www.example.com/ http://origin.test/ @strategy=pool\n"),
    ]);
    let proxy = proxy(Some(dir.path()));
    let addr = proxy.addrs()[0];
    assert!(get(addr, "www.example.com", "/").await.body.starts_with("a GET /"));
    replace(dir.path(), "strategies.yaml", &pool(&b));
    answer_until(addr, "www.example.com", "/", "the new strategy", |a| {
        a.body.starts_with("b GET /")
    })
    .await;
}
