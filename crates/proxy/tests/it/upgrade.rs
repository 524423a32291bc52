//! Zero-downtime upgrade (`hookyard run --takeover`): a client sending a request every
//! millisecond, on a kept-alive connection and on new ones in turn, across two upgrades of the
//! real binary; not one refused, reset or failed.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hookyard_fixtures::{abi_include_dir, compile_c_with};

use crate::cli::{hookyard, start_run};
use crate::drain::origin_thread;
use crate::support::{DEADLINE, write};

/// What the client saw.
#[derive(Default)]
struct Counts {
    kept_alive: AtomicU64,
    fresh: AtomicU64,
    /// Each failure, described.
    failures: std::sync::Mutex<Vec<String>>,
}

impl Counts {
    fn ok(&self) -> u64 {
        self.kept_alive.load(Ordering::Relaxed) + self.fresh.load(Ordering::Relaxed)
    }
}

/// One request on `stream`; whether the server keeps the connection open after it.
fn exchange(stream: &mut BufReader<TcpStream>) -> Result<bool, String> {
    stream
        .get_mut()
        .write_all(b"GET /up HTTP/1.1\r\nHost: site.test\r\n\r\n")
        .map_err(|e| format!("write: {e}"))?;
    let mut status = String::new();
    stream.read_line(&mut status).map_err(|e| format!("read: {e}"))?;
    if !status.starts_with("HTTP/1.1 200") {
        return Err(format!("status line {status:?}"));
    }
    let (mut length, mut close) = (None, false);
    loop {
        let mut line = String::new();
        stream.read_line(&mut line).map_err(|e| format!("read: {e}"))?;
        let line = line.trim_end().to_ascii_lowercase();
        if line.is_empty() {
            break;
        }
        if let Some(n) = line.strip_prefix("content-length:") {
            length = n.trim().parse::<usize>().ok();
        }
        close |= line == "connection: close";
    }
    let mut body = vec![0; length.ok_or("no content-length")?];
    stream.read_exact(&mut body).map_err(|e| format!("body: {e}"))?;
    if !body.starts_with(b"origin GET /up") {
        return Err(format!("body {:?}", String::from_utf8_lossy(&body)));
    }
    Ok(!close)
}

/// Every millisecond a request, alternately on the kept-alive connection (opened anew after a
/// `Connection: close`) and on a new one, until `stop`.
fn client(addr: String, counts: Arc<Counts>, stop: Arc<AtomicBool>) {
    let connect = || -> Result<BufReader<TcpStream>, String> {
        let stream = TcpStream::connect(&addr).map_err(|e| format!("connect: {e}"))?;
        stream.set_read_timeout(Some(DEADLINE)).map_err(|e| e.to_string())?;
        Ok(BufReader::new(stream))
    };
    let mut kept: Option<BufReader<TcpStream>> = None;
    let mut turn = 0u64;
    while !stop.load(Ordering::Relaxed) {
        turn += 1;
        let result = if turn.is_multiple_of(2) {
            let stream = match kept.take() {
                Some(stream) => Ok(stream),
                None => connect(),
            };
            stream.and_then(|mut stream| {
                let open = exchange(&mut stream)?;
                if open {
                    kept = Some(stream);
                }
                counts.kept_alive.fetch_add(1, Ordering::Relaxed);
                Ok(())
            })
        } else {
            connect().and_then(|mut stream| exchange(&mut stream)).map(|_| {
                counts.fresh.fetch_add(1, Ordering::Relaxed);
            })
        };
        if let Err(e) = result {
            counts.failures.lock().unwrap().push(format!("request {turn}: {e}"));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < DEADLINE, "{what}: not within {DEADLINE:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The process's exit status, or `None` if it still runs after [`DEADLINE`].
fn exit(child: &mut std::process::Child) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if start.elapsed() > DEADLINE {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn layout(root: &Path, origin: std::net::SocketAddr) {
    std::fs::create_dir_all(root.join("plugins")).unwrap();
    let add_header = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugins/c/add_header.c");
    compile_c_with(&add_header, &[], &[&abi_include_dir()], &root.join("plugins/add_header.so"));
    write(
        root,
        "hookyard.yaml",
        "workers: 2\nplugin_dirs: [plugins]\nruntime_dir: run\ndrain: {grace: 1s, deadline: 10s}\n",
    );
    // A remap plugin: each process loads it under its own plugin runtime directory (the
    // running one holds the lock of its own).
    write(
        root,
        "remap.config",
        &format!("map http://site.test/ http://{origin}/ @plugin=add_header.so @pparam=X-A:b\n"),
    );
}

#[test]
fn takeover_upgrades_twice_under_a_request_every_millisecond_and_fails_none() {
    let origin = origin_thread();
    let root = tempfile::tempdir().unwrap();
    layout(root.path(), origin.addr);
    let args = ["--config", ".", "--listen", "127.0.0.1:0", "--admin", "a.sock"];
    let (mut old, mut old_lines, addr) = start_run(root.path(), &args);
    let mut reap = Reap(vec![old.id()]);
    let counts = Arc::new(Counts::default());
    let stop = Arc::new(AtomicBool::new(false));
    let driver = {
        let (addr, counts, stop) = (addr.clone(), counts.clone(), stop.clone());
        std::thread::spawn(move || client(addr, counts, stop))
    };
    let mut served_before = Vec::new();
    for upgrade in 1..=2 {
        let before = counts.ok();
        wait_until("requests before the upgrade", || counts.ok() >= before + 200);
        served_before.push(counts.ok());
        let takeover = [&args[..], &["--takeover"]].concat();
        let (mut new, new_lines, new_addr) = start_run(root.path(), &takeover);
        reap.0.push(new.id());
        assert_eq!(new_addr, addr, "upgrade {upgrade}: the same listen address");
        let exited = exit(&mut old);
        if !exited.is_some_and(|status| status.success()) {
            let _ = (old.kill(), new.kill(), old.wait(), new.wait());
            let logged: Vec<String> = old_lines.try_iter().collect();
            panic!(
                "upgrade {upgrade}: the old process exits 0, not {exited:?}:\n{}",
                logged.join("\n")
            );
        }
        (old, old_lines) = (new, new_lines);
    }
    let after = counts.ok();
    wait_until("requests after the upgrades", || counts.ok() >= after + 200);
    stop.store(true, Ordering::Relaxed);
    driver.join().unwrap();
    let failures = counts.failures.lock().unwrap().clone();
    let status = hookyard(root.path()).args(["ctl", "--admin", "a.sock", "drain"]).output();
    assert!(status.unwrap().status.success());
    let exited = exit(&mut old);
    if exited.is_none() {
        let _ = (old.kill(), old.wait());
    }
    assert!(exited.is_some_and(|status| status.success()), "{exited:?}");
    eprintln!(
        "upgrade: {} requests kept-alive, {} on new connections, {} failed (before each upgrade: {served_before:?})",
        counts.kept_alive.load(Ordering::Relaxed),
        counts.fresh.load(Ordering::Relaxed),
        failures.len()
    );
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(root.path().join("run/plugins.next").is_dir(), "the successor's plugin directory");
}

/// A takeover needs a running hookyard that does not drain: without one `run --takeover` exits
/// 1 naming the control socket; a draining one refuses (and a SIGTERM during its drain ends the
/// grace at once).
#[test]
fn a_takeover_needs_a_running_hookyard_that_does_not_drain() {
    let root = tempfile::tempdir().unwrap();
    write(root.path(), "hookyard.yaml", "workers: 1\ndrain: {grace: 60s, deadline: 90s}\n");
    let args = ["run", "--config", ".", "--listen", "127.0.0.1:0", "--admin", "a.sock"];
    let alone = hookyard(root.path()).args(args).arg("--takeover").output().unwrap();
    let said = String::from_utf8_lossy(&alone.stderr);
    assert!(!alone.status.success());
    assert!(said.contains("cannot take over from the hookyard on a.sock"), "{said}");

    let (mut old, _lines, addr) = start_run(root.path(), &args[1..]);
    let _reap = Reap(vec![old.id()]);
    let drain = hookyard(root.path()).args(["ctl", "--admin", "a.sock", "drain"]).output();
    assert!(drain.unwrap().status.success());
    let refused = hookyard(root.path()).args(args).arg("--takeover").output().unwrap();
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(said.contains("this server drains: nothing to take over"), "{said}");
    // Still listening: the grace is a minute. A SIGTERM ends it now.
    assert!(TcpStream::connect(&addr).is_ok());
    let start = Instant::now();
    let term = std::process::Command::new("kill").args(["-TERM", &old.id().to_string()]).status();
    assert!(term.unwrap().success());
    let exited = exit(&mut old);
    if exited.is_none() {
        let _ = (old.kill(), old.wait());
    }
    assert!(exited.is_some_and(|s| s.success()), "{exited:?}");
    assert!(start.elapsed() < Duration::from_secs(30), "{:?}", start.elapsed());
}

/// One upgrade at a time: of two successors that both received the sockets, the second to
/// ask the old process to drain is refused (a real successor first, then a hand-made one).
#[test]
fn of_two_successors_only_the_first_hands_over() {
    use std::os::unix::net::UnixStream;

    let root = tempfile::tempdir().unwrap();
    write(root.path(), "hookyard.yaml", "workers: 1\ndrain: {grace: 60s, deadline: 90s}\n");
    let args = ["--config", ".", "--listen", "127.0.0.1:0", "--admin", "a.sock"];
    let (mut old, old_lines, _addr) = start_run(root.path(), &args);
    let _reap = Reap(vec![old.id()]);
    let mut second = UnixStream::connect(root.path().join("a.sock")).unwrap();
    second.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut reader = BufReader::new(second.try_clone().unwrap());
    second.write_all(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"takeover\"}\n").unwrap();
    let mut offer = String::new();
    // The descriptors that came with it are closed with the message, unread.
    reader.read_line(&mut offer).unwrap();
    assert!(offer.contains("\"listeners\""), "{offer}");
    let takeover = [&args[..], &["--takeover"]].concat();
    let (mut first, _first_lines, _) = start_run(root.path(), &takeover);
    let _reap_first = Reap(vec![first.id()]);
    second.write_all(b"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"drain\"}\n").unwrap();
    let mut refused = String::new();
    reader.read_line(&mut refused).unwrap();
    assert!(refused.contains("another successor took over first"), "{refused}");
    // The old one drains (the first successor's doing: once it says so, not before, or the
    // SIGTERM below would start a drain of its own, with the whole grace); a SIGTERM ends the
    // grace.
    let draining = std::iter::from_fn(|| old_lines.recv_timeout(DEADLINE).ok())
        .any(|line| line.contains("draining") && line.contains("grace="));
    assert!(draining, "the old process never said it drains");
    let term = std::process::Command::new("kill").args(["-TERM", &old.id().to_string()]).status();
    assert!(term.unwrap().success());
    assert!(exit(&mut old).is_some_and(|s| s.success()));
    let drain = hookyard(root.path()).args(["ctl", "--admin", "a.sock", "drain"]).output();
    assert!(drain.unwrap().status.success());
    let term = std::process::Command::new("kill").args(["-TERM", &first.id().to_string()]).status();
    assert!(term.unwrap().success());
    assert!(exit(&mut first).is_some_and(|s| s.success()));
}

/// Kills the processes still running when a test ends (a failed assertion would otherwise leave
/// them serving, holding the test's output open).
struct Reap(Vec<u32>);

impl Drop for Reap {
    fn drop(&mut self) {
        for pid in &self.0 {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}

/// In process: a takeover takes plain and TLS listeners (every worker's socket) and the
/// control socket; the TLS listener then serves the new server's certificates, the old server
/// drains and its control socket is the new one's.
#[test]
fn takeover_keeps_tls_listeners_and_the_control_socket() {
    use hookyard_proxy::{AdminSocket, Listeners, Server, ServerConfig};

    let (dir, _ca) = crate::tls::three_certificates();
    let admin = dir.path().join("admin.sock");
    let options = ServerConfig {
        config_dir: Some(dir.path().to_owned()),
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        listen_tls: vec!["127.0.0.1:0".parse().unwrap()],
        admin: AdminSocket::At(admin.clone()),
        metrics: Some("127.0.0.1:0".parse().unwrap()),
        workers: Some(3),
    };
    let old = Server::start(options.clone()).unwrap();
    // Fewer workers: the new server serves all three sockets of each address anyway.
    let new_options = ServerConfig { workers: Some(2), ..options };
    let new = Server::start_with(new_options, Listeners::TakeOver).unwrap();
    assert!(old.is_draining());
    assert_eq!(new.addrs(), old.addrs());
    assert_eq!(new.tls_addrs(), old.tls_addrs());
    assert_eq!(new.metrics_addr(), old.metrics_addr(), "the metrics socket went along");
    let tls = new.tls_addrs()[0];
    old.shutdown();
    old.wait();
    assert!(admin.exists(), "the old server left the control socket to the new one");
    let status = hookyard(dir.path())
        .args(["ctl", "--admin", admin.to_str().unwrap(), "--json", "status"])
        .output()
        .unwrap();
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(
        (status["workers"].as_u64(), &status["draining"]),
        (Some(2), &serde_json::json!(false))
    );
    // New connections, each spread by the kernel over the three sockets: one nobody served
    // would hang its client (12 tries miss one of three sockets with odds under 1 %).
    for _ in 0..12 {
        let output = crate::tls::curl(dir.path(), tls, "a.test", "/_hookyard/health", &[]);
        let said = crate::tls::text(&output);
        assert!(output.status.success() && said.contains("< HTTP/2 200"), "{said}");
        assert!(said.contains("CN=a.test"), "the new server's certificate: {said}");
    }
    new.shutdown();
    new.wait();
}
