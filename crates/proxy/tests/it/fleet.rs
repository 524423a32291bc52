//! A fleet: a real etcd on loopback ports, three `hookyard run --etcd` nodes, `hookyard
//! publish` and `hookyard fleet status|promote|rollback`, all as an operator runs them. Skipped,
//! with the reason printed, where the `etcd` binary is absent (`.ci/run` installs it).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use hookyard_fixtures::{abi_include_dir, compile_c_with, versioned};
use tempfile::TempDir;

use crate::support::{DEADLINE, Origin, write};

mod credentials;

pub(crate) const CLUSTER: &str = "edge";

/// The `etcd` binary, or `None` after printing why the test does not run.
fn etcd_binary() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths).map(|dir| dir.join("etcd")).find(|path| path.is_file())
    });
    if found.is_none() {
        eprintln!("skipped: no `etcd` binary on PATH (Debian package etcd-server)");
    }
    found
}

/// A port free now, for a process to bind later (and again after a restart): taken below
/// the kernel's ephemeral range (from 32768 by default), so that no connection's local port
/// takes it in between.
fn free_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let (low, high) = ephemeral_range();
    let (start, span) =
        if low > 21_000 { (20_000, low - 20_000) } else { (high + 1, 65_535 - high) };
    let seed = std::process::id() % span;
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        assert!(n < span, "no free port left in {start}..{}", start + span);
        let port = u16::try_from(start + (seed + n) % span).unwrap();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// The kernel's range of ports for connections' local ends.
fn ephemeral_range() -> (u32, u32) {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap();
    let mut bounds = text.split_whitespace().map(|n| n.parse::<u32>().unwrap());
    (bounds.next().unwrap(), bounds.next().unwrap())
}

/// Polls `condition` every 20 ms until it holds, failing past [`DEADLINE`].
pub(crate) fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < DEADLINE, "{what}: not true within {DEADLINE:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One etcd member in a temporary directory, on two loopback ports.
pub(crate) struct Etcd {
    binary: PathBuf,
    pub(crate) dir: TempDir,
    client: u16,
    peer: u16,
    /// Serve clients over TLS, requiring a client certificate: (CA, server certificate, its
    /// key, a client certificate, its key).
    tls: Option<[PathBuf; 5]>,
    /// More arguments to etcd.
    extra: Vec<String>,
    child: Option<Child>,
}

impl Etcd {
    pub(crate) fn start() -> Option<Etcd> {
        Etcd::start_with(None)
    }

    pub(crate) fn start_with(tls: Option<[PathBuf; 5]>) -> Option<Etcd> {
        Etcd::start_with_args(tls, &[])
    }

    pub(crate) fn start_with_args(tls: Option<[PathBuf; 5]>, extra: &[&str]) -> Option<Etcd> {
        let binary = etcd_binary()?;
        let mut etcd = Etcd {
            binary,
            dir: tempfile::tempdir().unwrap(),
            client: free_port(),
            peer: free_port(),
            tls,
            extra: extra.iter().map(|a| (*a).to_owned()).collect(),
            child: None,
        };
        etcd.resume();
        Some(etcd)
    }

    pub(crate) fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.client)
    }

    /// `curl` of `path` on the member (with its CA and the client certificate under TLS).
    pub(crate) fn curl(&self, path: &str) -> Command {
        let mut command = Command::new("curl");
        command.args(["-sS", "--max-time", "5"]);
        if let Some([ca, _, _, cert, key]) = &self.tls {
            command.arg("--cacert").arg(ca).arg("--cert").arg(cert).arg("--key").arg(key);
        }
        command.arg(format!("{}{path}", self.url()));
        command
    }

    /// Starts the member (again, on the same data), and waits until it answers.
    fn resume(&mut self) {
        let peer = format!("http://127.0.0.1:{}", self.peer);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("etcd.log"))
            .unwrap();
        let child = Command::new(&self.binary)
            .args(["--name", "test", "--data-dir"])
            .arg(self.dir.path().join("data"))
            .args(["--listen-client-urls", &self.url(), "--advertise-client-urls", &self.url()])
            .args(["--listen-peer-urls", &peer, "--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", &format!("test={peer}")])
            .args(self.tls.iter().flat_map(|[ca, cert, key, _, _]| {
                let mut args: Vec<std::ffi::OsString> =
                    vec!["--client-cert-auth".into(), "--trusted-ca-file".into()];
                args.extend([ca.into(), "--cert-file".into(), cert.into(), "--key-file".into()]);
                args.push(key.into());
                args
            }))
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let started = Instant::now();
        loop {
            let output = self.curl("/health").output().unwrap();
            if String::from_utf8_lossy(&output.stdout).contains(r#""health":"true""#) {
                return;
            }
            if started.elapsed() > DEADLINE {
                let log = std::fs::read_to_string(self.dir.path().join("etcd.log"));
                let log = log.unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(30).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                panic!(
                    "etcd did not answer /health within {DEADLINE:?}; its log:\n{}",
                    tail.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the member.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One `GET` with `Connection: close`: the status and body, or `None` when it fails.
fn http_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let status = answer.split(' ').nth(1)?.parse().ok()?;
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Some((status, body))
}

/// An origin on its own thread, for processes that outlive any test runtime's await.
pub(crate) fn origin() -> SocketAddr {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let origin = Origin::start("o").await;
            sender.send(origin.addr).unwrap();
            std::future::pending::<()>().await;
        });
    });
    receiver.recv().unwrap()
}

fn hookyard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hookyard"))
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("HOOKYARD_TEST_REFUSE")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

pub(crate) fn text(output: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs a fleet command against `etcd`, failing the test unless it succeeds; its stdout.
fn fleet_ok(etcd: &Etcd, args: &[&str]) -> String {
    let url = etcd.url();
    let mut all = args.to_vec();
    all.extend(["--etcd", &url, "--cluster", CLUSTER]);
    let output = hookyard(&all);
    assert!(output.status.success(), "hookyard {all:?}: {}", text(&output));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn status(etcd: &Etcd) -> serde_json::Value {
    serde_json::from_str(&fleet_ok(etcd, &["fleet", "status", "--json"])).unwrap()
}

/// The status of node `name`, if its key is there.
fn node_status(etcd: &Etcd, name: &str) -> Option<serde_json::Value> {
    status(etcd)["nodes"].as_array().unwrap().iter().find(|n| n["node"] == name).cloned()
}

/// A configuration directory mapping every request to `origin` through the remap plugin
/// `plugin` (copied into it as `plugin.so`).
pub(crate) struct Config {
    pub(crate) dir: TempDir,
    origin: SocketAddr,
}

impl Config {
    pub(crate) fn new(origin: SocketAddr) -> Config {
        let dir = tempfile::tempdir().unwrap();
        // Each node's runtime directory lies in its own copy of the directory. A stopped node
        // drains without a grace: it leaves the status as soon as it stops serving.
        write(dir.path(), "hookyard.yaml", "runtime_dir: run\nworkers: 1\ndrain: {grace: 0s}\n");
        Config { dir, origin }
    }

    /// Makes the directory serve through `plugin`.
    pub(crate) fn with_plugin(&self, plugin: &Path) -> &Config {
        let staging = self.dir.path().join(".plugin.so.new");
        std::fs::copy(plugin, &staging).unwrap();
        std::fs::rename(&staging, self.dir.path().join("plugin.so")).unwrap();
        let rule = format!("map / http://{}/ @plugin=plugin.so\n", self.origin);
        write(self.dir.path(), "remap.config", &rule);
        self
    }

    fn publish(&self, etcd: &Etcd, canary: Option<&str>) -> String {
        let dir = self.dir.path().to_str().unwrap();
        match canary {
            Some(label) => fleet_ok(etcd, &["publish", "--config", dir, "--canary", label]),
            None => fleet_ok(etcd, &["publish", "--config", dir]),
        }
    }
}

/// The `fleet_refuse` test plugin: refuses to start where `HOOKYARD_TEST_REFUSE` is set.
fn refusable() -> PathBuf {
    static BUILT: std::sync::OnceLock<(TempDir, PathBuf)> = std::sync::OnceLock::new();
    let (_, path) = BUILT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("fleet_refuse.so");
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/plugins/fleet_refuse.c");
        compile_c_with(&source, &[], &[&abi_include_dir()], &out);
        (dir, out)
    });
    path.clone()
}

/// A `hookyard run --etcd` node.
pub(crate) struct Node {
    name: String,
    addr: SocketAddr,
    state: PathBuf,
    args: Vec<String>,
    refuse: Option<String>,
    child: Option<Child>,
}

impl Node {
    /// Starts node `name` with `labels` in `root/name`; `refuse`: the reason its machine
    /// refuses the `fleet_refuse` plugin.
    fn start(etcd: &Etcd, root: &Path, name: &str, labels: &[&str], refuse: Option<&str>) -> Node {
        Node::start_with(etcd, root, name, labels, refuse, &[])
    }

    /// As [`Node::start`], with more arguments to `run`.
    pub(crate) fn start_with(
        etcd: &Etcd,
        root: &Path,
        name: &str,
        labels: &[&str],
        refuse: Option<&str>,
        extra: &[&str],
    ) -> Node {
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let state = root.join(name);
        let mut args = vec!["run".to_owned(), "--etcd".to_owned(), etcd.url()];
        args.extend(["--cluster", CLUSTER, "--node", name].map(str::to_owned));
        args.extend(["--listen".to_owned(), addr.to_string()]);
        args.extend(["--state".to_owned(), state.to_str().unwrap().to_owned()]);
        for label in labels {
            args.extend(["--label".to_owned(), (*label).to_owned()]);
        }
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        let mut node = Node {
            name: name.to_owned(),
            addr,
            state,
            args,
            refuse: refuse.map(str::to_owned),
            child: None,
        };
        node.spawn();
        node
    }

    fn spawn(&mut self) {
        std::fs::create_dir_all(&self.state).unwrap();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.state.join("node.log"))
            .unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_hookyard"));
        command.args(&self.args).env_remove("RUST_LOG").env_remove("HOOKYARD_TEST_REFUSE");
        if let Some(reason) = &self.refuse {
            command.env("HOOKYARD_TEST_REFUSE", reason);
        }
        let child =
            command.stdin(Stdio::null()).stdout(log.try_clone().unwrap()).stderr(log).spawn();
        self.child = Some(child.unwrap());
        let addr = self.addr;
        let log = self.log();
        wait_until(&format!("{} answers\n{log}", self.name), || {
            http_get(addr, "/headers").is_some()
        });
    }

    /// Stops the node with SIGTERM, as an operator would, and waits for it.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = child.id().to_string();
            let _ = Command::new("kill").args(["-TERM", &pid]).status();
            let _ = child.wait();
        }
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.state.join("node.log")).unwrap_or_default()
    }

    /// The `X-Plugin-Version` the origin saw for one request, or why there is none.
    pub(crate) fn version(&self) -> String {
        match http_get(self.addr, "/headers") {
            Some((200, body)) => body
                .lines()
                .find_map(|l| l.strip_prefix("x-plugin-version: "))
                .unwrap_or("none")
                .to_owned(),
            Some((status, body)) => format!("status {status}: {body}"),
            None => "no answer".to_owned(),
        }
    }

    /// Loaded versions of the node's remap plugin, from `ctl plugins --json`.
    fn plugin_versions(&self) -> Vec<String> {
        let admin = self.state.join("live/run/admin.sock");
        let output = hookyard(&["ctl", "--admin", admin.to_str().unwrap(), "--json", "plugins"]);
        assert!(output.status.success(), "{}", text(&output));
        let plugins: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        plugins
            .as_array()
            .unwrap()
            .iter()
            .map(|p| format!("{} {}", p["version"].as_str().unwrap_or("?"), p["state"]))
            .collect()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Waits until every node answers with plugin version `version`.
fn all_serve(nodes: &[&Node], version: &str) {
    for node in nodes {
        wait_until(&format!("{} serves version {version}\n{}", node.name, node.log()), || {
            node.version() == version
        });
    }
}

/// `wrk` against one node, in the background.
struct Load {
    child: Child,
    node: String,
}

impl Load {
    fn start(node: &Node, seconds: u32) -> Load {
        let url = format!("http://{}/headers", node.addr);
        let child = Command::new("wrk")
            .args(["-t1", "-c4", &format!("-d{seconds}s"), "-H", "Host: site.test", &url])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("wrk (Debian package wrk) runs");
        Load { child, node: node.name.clone() }
    }

    /// Waits for wrk and checks that every request succeeded; returns how many there were.
    fn no_failures(self) -> u64 {
        let output = self.child.wait_with_output().unwrap();
        let report = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(output.status.success(), "wrk on {}: {}", self.node, text(&output));
        assert!(!report.contains("Non-2xx"), "wrk on {}: failed requests\n{report}", self.node);
        assert!(!report.contains("Socket errors"), "wrk on {}: socket errors\n{report}", self.node);
        let requests = report
            .lines()
            .find_map(|l| l.trim().split_once(" requests in ").map(|(n, _)| n.to_owned()))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        assert!(requests > 0, "wrk on {}: no requests\n{report}", self.node);
        requests
    }
}

#[test]
fn a_new_plugin_version_reaches_every_node_under_load_without_a_failed_request() {
    let Some(etcd) = Etcd::start() else { return };
    let root = tempfile::tempdir().unwrap();
    let config = Config::new(origin());
    config.with_plugin(&versioned(1)).publish(&etcd, None);
    let nodes: Vec<Node> =
        ["a", "b", "c"].iter().map(|n| Node::start(&etcd, root.path(), n, &[], None)).collect();
    let nodes: Vec<&Node> = nodes.iter().collect();
    all_serve(&nodes, "1");

    let loads: Vec<Load> = nodes.iter().map(|node| Load::start(node, 4)).collect();
    // Load runs for a second before the publish (pacing, not synchronisation).
    std::thread::sleep(Duration::from_secs(1));
    let published = config.with_plugin(&versioned(2)).publish(&etcd, None);
    assert!(published.contains("published revision 2"), "{published}");
    let started = Instant::now();
    all_serve(&nodes, "2");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "every node on revision 2 took {took:?}");
    eprintln!("every node served revision 2 within {took:?} of the publish");
    for load in loads {
        let requests = load.no_failures();
        eprintln!("{requests} requests, none failed");
    }

    for node in &nodes {
        wait_until(&format!("{}: only version 2 loaded", node.name), || {
            node.plugin_versions() == ["2 \"live\""]
        });
    }
    let status = status(&etcd);
    assert_eq!(status["stable"], 2, "{status}");
    for node in &nodes {
        wait_until(&format!("{} reports serving revision 2", node.name), || {
            node_status(&etcd, &node.name)
                .is_some_and(|s| s["serving"] == 2 && s["health"] == "serving")
        });
    }
}

#[test]
fn a_revision_every_node_refuses_leaves_them_serving_and_is_reported() {
    let Some(etcd) = Etcd::start() else { return };
    let root = tempfile::tempdir().unwrap();
    let config = Config::new(origin());
    config.with_plugin(&versioned(1)).publish(&etcd, None);
    let reason = "libfoo.so.1: cannot open shared object file";
    let mut nodes: Vec<Node> = ["a", "b", "c"]
        .iter()
        .map(|n| Node::start(&etcd, root.path(), n, &[], Some(reason)))
        .collect();
    all_serve(&nodes.iter().collect::<Vec<_>>(), "1");

    config.with_plugin(&refusable()).publish(&etcd, None);
    for node in &nodes {
        wait_until(&format!("{} reports refusing revision 2", node.name), || {
            node_status(&etcd, &node.name).is_some_and(|s| {
                s["health"] == "refusing" && s["refused"]["revision"] == 2 && s["serving"] == 1
            })
        });
        assert_eq!(node.version(), "1");
    }
    let shown = fleet_ok(&etcd, &["fleet", "status"]);
    for node in &nodes {
        let line = shown.lines().find(|l| l.split_whitespace().next() == Some(&node.name)).unwrap();
        assert!(line.contains("revision 2:") && line.contains(reason), "{shown}");
    }

    // The refused revision's files were put back: a restart serves revision 1 again.
    nodes[0].stop();
    nodes[0].spawn();
    assert_eq!(nodes[0].version(), "1", "{}", nodes[0].log());
}

#[test]
fn a_canary_reaches_its_label_then_everyone_and_rolls_back() {
    let Some(etcd) = Etcd::start() else { return };
    let root = tempfile::tempdir().unwrap();
    let config = Config::new(origin());
    config.with_plugin(&versioned(1)).publish(&etcd, None);
    let reason = "not on this machine";
    let canary = Node::start(&etcd, root.path(), "a", &["tier=canary"], Some(reason));
    let others: Vec<Node> = ["b", "c"]
        .iter()
        .map(|n| Node::start(&etcd, root.path(), n, &["tier=main"], None))
        .collect();
    let all = [&canary, &others[0], &others[1]];
    all_serve(&all, "1");

    let out = config.with_plugin(&versioned(2)).publish(&etcd, Some("tier=canary"));
    assert!(out.contains("revision 2") && out.contains("tier=canary"), "{out}");
    all_serve(&[&canary], "2");
    for node in &others {
        wait_until(&format!("{} reports its status", node.name), || {
            node_status(&etcd, &node.name).is_some()
        });
        let status = node_status(&etcd, &node.name).unwrap();
        assert_eq!((&status["serving"], &status["target"]), (&1.into(), &1.into()), "{status}");
        assert_eq!(node.version(), "1");
    }
    let shown = fleet_ok(&etcd, &["fleet", "status"]);
    assert!(shown.contains("stable revision 1, canary revision 2 for tier=canary"), "{shown}");

    let out = fleet_ok(&etcd, &["fleet", "promote"]);
    assert!(out.contains("promoted revision 2"), "{out}");
    all_serve(&all, "2");

    let out = fleet_ok(&etcd, &["fleet", "rollback"]);
    assert!(out.contains("revision 3") && out.contains("rollback of 2 to 1"), "{out}");
    all_serve(&all, "1");
    assert_eq!(status(&etcd)["stable"], 3);

    // A canary its node refuses is not promoted, unless forced.
    config.with_plugin(&refusable()).publish(&etcd, Some("tier=canary"));
    wait_until("the canary node refuses revision 4", || {
        node_status(&etcd, "a").is_some_and(|s| s["refused"]["revision"] == 4)
    });
    let url = etcd.url();
    let refused = hookyard(&["fleet", "promote", "--etcd", &url, "--cluster", CLUSTER]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{}", text(&refused));
    assert!(err.contains("canary revision 4 was refused") && err.contains(reason), "{err}");
    assert!(err.contains("--force"), "{err}");
    assert_eq!(status(&etcd)["stable"], 3);
    fleet_ok(&etcd, &["fleet", "promote", "--force"]);
    all_serve(&[&others[0], &others[1]], "refusable");
    assert_eq!(canary.version(), "1");
}

#[test]
fn nodes_serve_through_an_etcd_outage_and_a_restart_without_etcd() {
    let Some(mut etcd) = Etcd::start() else { return };
    let root = tempfile::tempdir().unwrap();
    let config = Config::new(origin());
    config.with_plugin(&versioned(1)).publish(&etcd, None);
    let mut nodes: Vec<Node> =
        ["a", "b", "c"].iter().map(|n| Node::start(&etcd, root.path(), n, &[], None)).collect();
    all_serve(&nodes.iter().collect::<Vec<_>>(), "1");

    let loads: Vec<Load> = nodes.iter().map(|node| Load::start(node, 3)).collect();
    etcd.stop();
    for load in loads {
        load.no_failures();
    }
    // A node restarted while etcd is down serves the revision it kept on disk.
    nodes[2].stop();
    nodes[2].spawn();
    assert_eq!(nodes[2].version(), "1", "{}", nodes[2].log());

    etcd.resume();
    let out = config.with_plugin(&versioned(2)).publish(&etcd, None);
    assert!(out.contains("published revision 2"), "{out}");
    all_serve(&nodes.iter().collect::<Vec<_>>(), "2");
    for node in &nodes {
        wait_until(&format!("{} reports revision 2", node.name), || {
            node_status(&etcd, &node.name).is_some_and(|s| s["serving"] == 2)
        });
    }

    // A node that stops leaves the status at once; one killed, once its lease (6 s) runs out.
    let stopped = Instant::now();
    nodes[1].stop();
    wait_until("node b leaves the status", || node_status(&etcd, "b").is_none());
    let took = stopped.elapsed();
    assert!(took < Duration::from_secs(4), "node b left the status after {took:?}");
    let mut killed = nodes[0].child.take().unwrap();
    killed.kill().unwrap();
    killed.wait().unwrap();
    wait_until("node a leaves the status", || node_status(&etcd, "a").is_none());
    assert!(node_status(&etcd, "c").is_some());
}

#[test]
fn a_file_larger_than_a_chunk_arrives_whole_and_a_corrupt_one_is_refused() {
    use base64::Engine as _;
    use sha2::Digest as _;
    let Some(etcd) = Etcd::start() else { return };
    let root = tempfile::tempdir().unwrap();
    let config = Config::new(origin());
    config.with_plugin(&versioned(1));
    // Three chunks of remap.config: the rule, then comments.
    let mut remap = std::fs::read_to_string(config.dir.path().join("remap.config")).unwrap();
    while remap.len() < 1_200_000 {
        remap.push_str("# a comment that makes remap.config longer than one etcd chunk\n");
    }
    write(config.dir.path(), "remap.config", &remap);
    config.publish(&etcd, None);
    let node = Node::start(&etcd, root.path(), "a", &[], None);
    assert_eq!(node.version(), "1", "{}", node.log());
    let copied = std::fs::read_to_string(node.state.join("live/remap.config")).unwrap();
    assert!(copied == remap, "remap.config arrived changed ({} bytes)", copied.len());

    // The plugin's first chunk replaced in etcd: a new node refuses to start on it.
    let plugin = std::fs::read(config.dir.path().join("plugin.so")).unwrap();
    let sha: String = sha2::Sha256::digest(&plugin).iter().map(|b| format!("{b:02x}")).collect();
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let key = format!("/hookyard/{CLUSTER}/blob/{sha}/000000");
    let body =
        format!(r#"{{"key":"{}","value":"{}"}}"#, b64(key.as_bytes()), b64(b"not the plugin"));
    let put = etcd.curl("/v3/kv/put").args(["-X", "POST", "-d", &body]).output().unwrap();
    assert!(put.status.success(), "{}", text(&put));
    let state = root.path().join("b");
    let mut fresh = Command::new(env!("CARGO_BIN_EXE_hookyard"))
        .args(["run", "--etcd", &etcd.url(), "--cluster", CLUSTER, "--node", "b"])
        .args(["--listen", "127.0.0.1:0", "--state", state.to_str().unwrap()])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut exited = None;
    wait_until("the node on a corrupt revision exits", || {
        exited = fresh.try_wait().unwrap();
        exited.is_some()
    });
    let mut stderr = String::new();
    fresh.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(!exited.unwrap().success(), "{stderr}");
    assert!(stderr.contains("plugin.so: content does not match its manifest"), "{stderr}");
    assert!(!state.join("live/plugin.so").exists(), "a corrupt file was written");
}

#[test]
fn publish_refuses_a_directory_that_fails_its_check_or_reaches_outside() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "remap.config", "map http://a.test/\n");
    let path = dir.path().to_str().unwrap();
    // Nothing listens on port 9: these fail before etcd is asked.
    let etcd = ["--etcd", "http://127.0.0.1:9", "--cluster", CLUSTER];
    let output = hookyard(&[&["publish", "--config", path][..], &etcd].concat());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{}", text(&output));
    assert!(err.contains("does not pass `hookyard check`"), "{err}");
    assert!(err.contains("remap.config:1:"), "{err}");

    let elsewhere = versioned(1);
    let rule = format!("map / http://127.0.0.1:9/ @plugin={}\n", elsewhere.display());
    write(dir.path(), "remap.config", &rule);
    let output = hookyard(&[&["publish", "--config", path][..], &etcd].concat());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{}", text(&output));
    assert!(
        err.contains("a revision carries only files under the configuration directory"),
        "{err}"
    );
}
