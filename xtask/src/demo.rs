//! `cargo xtask demo`: hookyard with plugins in front of an origin, to try by hand.
//!
//! Builds the example plugins (`cargo xtask plugins`) and a plugin to replace (the `versioned`
//! test plugin, version 1), copies `examples/demo/` to `target/demo/` (its origin address set to
//! the origin's), starts an origin in this process and the proxy on the copy, prints curl
//! commands to try, and serves until Enter or Ctrl-C.
//!
//! `--check` does the same non-interactively, in `target/demo-check/` on ports the kernel picks:
//! every printed request is made and its answer checked, the plugin is replaced (the watch
//! reloads it), `hookyard ctl reload` runs, the new version must answer, and everything stops.
//!
//! The origin is a small HTTP/1.1 server on std threads, not the bench's nginx: nothing to
//! install, and it echoes the request line and headers, which is what shows plugins at work.
//!
//! The proxy runs under `sh`, which sends it SIGTERM (a graceful stop) when its standard input
//! closes: when this task ends, however it ends, Ctrl-C included (xtask has no signal handler).

use std::fmt::Write as _;
use std::io::{BufRead, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

const USAGE: &str = "usage: cargo xtask demo [--check]";

/// The origin address written in `examples/demo/remap.config`.
const CONFIG_ORIGIN: &str = "127.0.0.1:8000";

/// The ports the interactive demo prefers (those of `examples/demo/`).
const PROXY_PORT: u16 = 8080;
const ORIGIN_PORT: u16 = 8000;

/// Run by `sh -c` with the proxy's command line: leaves a watchdog that stops the proxy
/// gracefully (SIGTERM) when the pipe on its standard input closes, then becomes the proxy (the
/// same pid, so its exit is seen at once).
const WATCHDOG: &str =
    r#"exec 3<&0; (cat <&3 >/dev/null; kill -TERM $$ 2>/dev/null) & exec "$@" 3<&- </dev/null"#;

/// How long the proxy may take to answer after it started, and to reload after a change.
const READY: Duration = Duration::from_secs(30);
const RELOADED: Duration = Duration::from_secs(10);

/// `cargo xtask demo [--check]`.
pub(crate) fn task(root: &Path, args: &[String]) -> Result<()> {
    match args {
        [] => {
            let demo = Demo::prepare(root, false, true)?;
            let running = demo.start()?;
            print!("{}", demo.instructions());
            wait_for_enter();
            running.stop()?;
            eprintln!("xtask demo: stopped");
            Ok(())
        }
        [flag] if flag == "--check" => check(root, true),
        [flag] if flag == "--help" || flag == "-h" => {
            println!("{USAGE}");
            Ok(())
        }
        _ => bail!("{USAGE}"),
    }
}

/// `cargo xtask demo --check` with the debug `hookyard` and the plugins that `cargo xtask test`
/// has just built: no build of its own.
pub(crate) fn check_built(root: &Path) -> Result<()> {
    check(root, false)
}

fn check(root: &Path, build: bool) -> Result<()> {
    let demo = Demo::prepare(root, true, build)?;
    let running = demo.start()?;
    let outcome = demo.verify(&running);
    let stopped = running.stop();
    outcome?;
    stopped?;
    eprintln!("xtask demo: check passed ({:.1} s)", demo.started.elapsed().as_secs_f64());
    Ok(())
}

/// Built and configured, not yet started.
struct Demo {
    root: PathBuf,
    /// The configuration directory: `target/demo` or `target/demo-check`.
    dir: PathBuf,
    binary: PathBuf,
    proxy: SocketAddr,
    origin: TcpListener,
    started: Instant,
}

/// The origin and the proxy, running.
struct Running {
    proxy: Child,
    /// Closing it stops the proxy (see the module's documentation).
    watchdog: Option<ChildStdin>,
    log: PathBuf,
}

impl Demo {
    /// `check`: in `target/demo-check` on ports the kernel picks, with the debug build (the
    /// interactive demo: `target/demo`, the release build). `build`: build the plugins and
    /// `hookyard` first (else they must be there).
    fn prepare(root: &Path, check: bool, build: bool) -> Result<Demo> {
        let started = Instant::now();
        // Both at the depth of examples/demo, so the configuration's relative paths still hold.
        let dir = root.join("target").join(if check { "demo-check" } else { "demo" });
        std::fs::create_dir_all(dir.join("plugins"))?;

        let release = !check;
        if build {
            eprintln!("xtask demo: building the example plugins");
            crate::plugins::task(root, &[])?;
            eprintln!("xtask demo: building hookyard{}", if release { " (release)" } else { "" });
        }
        let binary = proxy_binary(root, release, build)?;
        build_versioned(root, &dir, 1)?;

        let port = |preferred| if check { 0 } else { preferred };
        let origin = TcpListener::bind((Ipv4Addr::LOCALHOST, port(ORIGIN_PORT)))
            .or_else(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
            .context("cannot bind the origin")?;
        let proxy = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port(port(PROXY_PORT))?));
        let origin_addr = origin.local_addr()?.to_string();
        for name in ["hookyard.yaml", "remap.config", "plugin.yaml"] {
            let mut text = std::fs::read_to_string(root.join("examples/demo").join(name))
                .with_context(|| format!("cannot read examples/demo/{name}"))?;
            text = text.replace(CONFIG_ORIGIN, &origin_addr);
            if check {
                // Its own plugins and runtime directory, beside an interactive demo's.
                text = text.replace("../../target/demo/", "../../target/demo-check/");
            }
            std::fs::write(dir.join(name), text)?;
        }
        Ok(Demo { root: root.to_owned(), dir, binary, proxy, origin, started })
    }

    fn start(&self) -> Result<Running> {
        let origin = self.origin.try_clone()?;
        thread::Builder::new().name("demo-origin".into()).spawn(move || serve_origin(origin))?;

        let log = self.dir.join("hookyard.log");
        let out = std::fs::File::create(&log)?;
        let mut cmd = Command::new("sh");
        cmd.args(["-c", WATCHDOG, "sh"])
            .arg(&self.binary)
            .arg("run")
            .arg("--config")
            .arg(&self.dir)
            .arg("--listen")
            .arg(self.proxy.to_string())
            .stdin(Stdio::piped())
            .stdout(out.try_clone()?)
            .stderr(out)
            // Ctrl-C goes to this task only; the proxy stops when its watchdog sees us gone.
            .process_group(0);
        let mut proxy = cmd.spawn().context("cannot start the proxy")?;
        let watchdog = proxy.stdin.take();
        let mut running = Running { proxy, watchdog, log };
        running.wait_ready(self.proxy)?;
        Ok(running)
    }

    /// The commands a person runs, relative to the repository root.
    fn instructions(&self) -> String {
        let rel = |p: &Path| p.strip_prefix(&self.root).unwrap_or(p).display().to_string();
        let (addr, dir, bin) = (self.proxy, rel(&self.dir), rel(&self.binary));
        let ctl = format!("{bin} ctl --admin {dir}/run/admin.sock");
        let origin = self.origin.local_addr().map(|a| a.to_string()).unwrap_or_default();
        let mut s = String::new();
        let _ = write!(
            s,
            "\n\
             hookyard serves {dir}/ (a copy of examples/demo/) on http://{addr}, in front of the\n\
             demo origin on {origin}, which echoes what reaches it. Log: {dir}/hookyard.log.\n\
             From the repository root, try:\n\n\
             # a plain map, a C plugin, a chain of C and Rust plugins, a redirect\n\
             curl -s -H 'Host: plain.demo' http://{addr}/hello\n\
             curl -s -H 'Host: headers.demo' http://{addr}/hello\n\
             curl -s -H 'Host: api.demo' http://{addr}/v1/users?id=7\n\
             curl -si -H 'Host: api.demo' http://{addr}/old/page\n\
             curl -si -H 'Host: api.demo' http://{addr}/admin/\n\
             curl -si -H 'Host: old.demo' http://{addr}/some/path\n\n\
             # the plugin to replace: it stamps X-Plugin-Version: 1\n\
             curl -s -H 'Host: version.demo' http://{addr}/\n\
             # build version 2 beside it and rename it over (the watch reloads; no signal needed)\n\
             cc -shared -fPIC -DPLUGIN_VERSION=2 -I crates/abi/include \\\n\
             \x20   crates/fixtures/c/versioned.c -o {dir}/plugins/.versioned.so.tmp \\\n\
             \x20   && mv {dir}/plugins/.versioned.so.tmp {dir}/plugins/versioned.so\n\
             curl -s -H 'Host: version.demo' http://{addr}/\n\n\
             # reload by hand, and look inside\n\
             {ctl} reload\n\
             {ctl} plugins\n\
             {ctl} rules\n\
             {ctl} status\n\n\
             # reinstall the example plugins: the watch reloads (a byte-identical file is reused)\n\
             cargo xtask plugins\n\
             # edit a rule: saved, it is served\n\
             ${{EDITOR:-vi}} {dir}/remap.config\n\n\
             Press Enter (or Ctrl-C) to stop the proxy and the origin.\n"
        );
        s
    }

    /// Makes the printed requests and checks their answers; replaces the plugin and checks the
    /// new version answers.
    fn verify(&self, running: &Running) -> Result<()> {
        let addr = self.proxy;
        let expect = |host: &str, path: &str, status: u16, wants: &[&str]| -> Result<()> {
            let answer = get(addr, host, path)?;
            // Header names in any case.
            let text = answer.text.to_ascii_lowercase();
            let missing: Vec<&&str> =
                wants.iter().filter(|w| !text.contains(&w.to_ascii_lowercase())).collect();
            if answer.status != status || !missing.is_empty() {
                bail!(
                    "{host}{path}: expected {status} with {missing:?}, got:\n{}{}",
                    answer.text,
                    running.log_note()
                );
            }
            eprintln!("xtask demo: ok  {status} {host}{path}");
            Ok(())
        };
        expect(
            "plain.demo",
            "/hello",
            200,
            &["demo origin: GET /hello HTTP/1.1", "x-request-id: "],
        )?;
        expect("headers.demo", "/hello", 200, &["x-demo: hello", "x-served-by: hookyard"])?;
        expect(
            "api.demo",
            "/v1/users?id=7",
            200,
            &["GET /api/v1/users?id=7", "x-chain: add_header"],
        )?;
        expect("api.demo", "/old/page", 302, &["location: ", "/new/page"])?;
        expect("api.demo", "/admin/", 403, &[])?;
        expect("old.demo", "/some/path", 301, &["location: http://plain.demo/some/path"])?;
        expect("version.demo", "/", 200, &["x-plugin-version: 1"])?;

        build_versioned(&self.root, &self.dir, 2)?;
        let deadline = Instant::now() + RELOADED;
        while !get(addr, "version.demo", "/")?.text.contains("x-plugin-version: 2") {
            if Instant::now() > deadline {
                bail!("version 2 not served {RELOADED:?} after the rename{}", running.log_note());
            }
            thread::sleep(Duration::from_millis(50));
        }
        eprintln!("xtask demo: ok  the watch reloaded the replaced plugin");
        let admin = self.dir.join("run/admin.sock");
        for method in ["reload", "plugins", "status"] {
            let out = Command::new(&self.binary)
                .arg("ctl")
                .arg("--admin")
                .arg(&admin)
                .arg(method)
                .output()
                .context("cannot run hookyard ctl")?;
            let text = String::from_utf8_lossy(&out.stdout);
            if !out.status.success() {
                bail!(
                    "hookyard ctl {method} failed: {text}{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            eprintln!("xtask demo: ok  hookyard ctl {method}");
            eprint!("{}", indent(&text));
        }
        expect("version.demo", "/", 200, &["x-plugin-version: 2"])?;
        expect("headers.demo", "/hello", 200, &["x-demo: hello"])?;
        Ok(())
    }
}

impl Running {
    /// Waits until the proxy answers its health route; fails early when it exits.
    fn wait_ready(&mut self, addr: SocketAddr) -> Result<()> {
        let deadline = Instant::now() + READY;
        loop {
            if let Some(status) = self.proxy.try_wait()? {
                bail!("the proxy exited with {status}{}", self.log_note());
            }
            if get(addr, "plain.demo", "/_hookyard/health").is_ok_and(|a| a.status == 200) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the proxy did not answer within {READY:?}{}", self.log_note());
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the proxy gracefully and waits for it; the origin ends with this process.
    fn stop(mut self) -> Result<()> {
        drop(self.watchdog.take());
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            if let Some(status) = self.proxy.try_wait()? {
                if !status.success() {
                    bail!("the proxy exited with {status}{}", self.log_note());
                }
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{}", self.proxy.id())])
                    .status();
                let _ = self.proxy.wait();
                bail!("the proxy did not stop within 40 s; killed{}", self.log_note());
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn log_note(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..].join("\n");
        format!("\nthe proxy's log ({}):\n{tail}", self.log.display())
    }
}

/// The `hookyard` binary (under `CARGO_TARGET_DIR`, taken from the root), built first when
/// `build`.
fn proxy_binary(root: &Path, release: bool, build: bool) -> Result<PathBuf> {
    if build {
        let mut cmd = crate::cargo_cmd();
        cmd.args(["build", "--locked", "--package", "hookyard-proxy", "--bin", "hookyard"]);
        if release {
            cmd.arg("--release");
        }
        crate::status(cmd)?;
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or(root.join("target"), |d| root.join(d));
    let binary = target.join(if release { "release" } else { "debug" }).join("hookyard");
    if !binary.is_file() {
        bail!("{} is not there (build it: cargo build -p hookyard-proxy)", binary.display());
    }
    Ok(binary)
}

/// Compiles the `versioned` plugin as `version` into `<dir>/plugins/versioned.so`: beside it
/// first, then renamed over it, as a deployment would.
fn build_versioned(root: &Path, dir: &Path, version: u32) -> Result<()> {
    let plugins = dir.join("plugins");
    let staging = plugins.join(".versioned.so.tmp");
    let mut cc = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".to_owned()));
    cc.args(["-shared", "-fPIC", "-O2", "-std=c11", "-Wall", "-Wextra", "-Werror"])
        .arg(format!("-DPLUGIN_VERSION={version}"))
        .arg("-I")
        .arg(root.join("crates/abi/include"))
        .arg("-o")
        .arg(&staging)
        .arg(root.join("crates/fixtures/c/versioned.c"));
    crate::status(cc)?;
    std::fs::rename(&staging, plugins.join("versioned.so")).context("cannot install versioned.so")
}

/// `preferred` when it is free, else one the kernel picks (0: always the kernel's).
fn free_port(preferred: u16) -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, preferred))
        .or_else(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
        .context("cannot bind 127.0.0.1")?;
    Ok(listener.local_addr()?.port())
}

/// Blocks until a line arrives on standard input; without one (stdin closed), forever.
fn wait_for_enter() {
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).is_ok_and(|n| n > 0) {
        return;
    }
    loop {
        thread::park();
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("      {l}\n")).collect()
}

/// The demo origin: answers every request with its request line and headers (sorted), one
/// request per connection.
fn serve_origin(listener: TcpListener) {
    for stream in listener.incoming().flatten() {
        thread::spawn(move || {
            let _ = answer(stream);
        });
    }
}

fn answer(mut stream: TcpStream) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let head = read_head(&mut stream)?;
    let mut lines = head.lines();
    let request_line = lines.next().unwrap_or_default();
    let mut headers: Vec<String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(name, value)| format!("{}: {}", name.trim().to_ascii_lowercase(), value.trim()))
        .collect();
    headers.sort();
    let body = format!("demo origin: {request_line}\n{}\n", headers.join("\n"));
    let length = body.len();
    write!(stream, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {length}\r\n")?;
    write!(stream, "Connection: close\r\n\r\n{body}")?;
    stream.flush()
}

/// Reads a request head (up to the blank line, at most 64 KiB).
fn read_head(stream: &mut TcpStream) -> std::io::Result<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let end = head.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(head.len());
    Ok(String::from_utf8_lossy(&head[..end]).into_owned())
}

/// A response: its status and its whole text (head and body).
struct Answer {
    status: u16,
    text: String,
}

/// `GET path` with `Host: host` and `Connection: close`.
fn get(addr: SocketAddr, host: &str, path: &str) -> Result<Answer> {
    let timeout = Duration::from_secs(5);
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")?;
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("not an HTTP response: {text:?}"))?;
    Ok(Answer { status, text })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_origin_echoes_the_request_line_and_sorted_headers() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        thread::spawn(move || serve_origin(listener));
        let answer = get(addr, "h.test", "/p?q=1").unwrap();
        assert_eq!(answer.status, 200);
        assert!(
            answer
                .text
                .ends_with("demo origin: GET /p?q=1 HTTP/1.1\nconnection: close\nhost: h.test\n"),
            "{}",
            answer.text
        );
    }

    #[test]
    fn the_example_config_names_the_origin_the_demo_replaces() {
        let root = crate::root();
        let remap = std::fs::read_to_string(root.join("examples/demo/remap.config")).unwrap();
        assert!(remap.contains(CONFIG_ORIGIN));
        let settings = std::fs::read_to_string(root.join("examples/demo/hookyard.yaml")).unwrap();
        assert!(settings.contains(&format!("127.0.0.1:{PROXY_PORT}")));
        assert!(CONFIG_ORIGIN.ends_with(&ORIGIN_PORT.to_string()));
    }
}
