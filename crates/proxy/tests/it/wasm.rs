//! WebAssembly (proxy-wasm) plugins through the `hookyard` binary with curl and wrk: the
//! example filters of `plugins/wasm`, built from source with the proxy-wasm Rust SDK, loaded
//! from `plugin.yaml` and from `@plugin=NAME.wasm`, failing on purpose within their limits, and
//! reloaded under load.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use crate::cli::{hookyard, start_run};
use crate::drain::origin_thread;
use crate::support::{DEADLINE, Origin, write};

/// A running proxy with WebAssembly plugins in `plugins/`, in front of an [`Origin`] for
/// `site.test`.
struct Proxy {
    child: Child,
    addr: String,
    dir: tempfile::TempDir,
    log: Receiver<String>,
    _origin: Origin,
}

/// What curl got: the status, the head lower-cased, the body.
struct Got {
    status: u16,
    head: String,
    body: String,
    took: Duration,
}

impl Proxy {
    /// Starts the proxy with `plugin_yaml`, `remap_extra` after the `site.test` rule, and
    /// `yaml` in `hookyard.yaml`; `wasm` lists (file name, example) to install.
    fn start(wasm: &[(&str, &str)], plugin_yaml: &str, rule_options: &str, yaml: &str) -> Proxy {
        Proxy::start_in(tempfile::tempdir().unwrap(), wasm, plugin_yaml, rule_options, yaml)
    }

    /// As [`Proxy::start`], in `dir` (which may hold native plugins in `plugins/`).
    fn start_in(
        dir: tempfile::TempDir,
        wasm: &[(&str, &str)],
        plugin_yaml: &str,
        rule_options: &str,
        yaml: &str,
    ) -> Proxy {
        let origin = origin_thread();
        let plugins = dir.path().join("plugins");
        std::fs::create_dir_all(&plugins).unwrap();
        for (file, example) in wasm {
            std::fs::copy(hookyard_fixtures::wasm_plugin(example), plugins.join(file)).unwrap();
        }
        write(dir.path(), "plugin.yaml", plugin_yaml);
        write(
            dir.path(),
            "remap.config",
            &format!(
                "map http://site.test/ http://{0}/ {rule_options}\nmap http://plain.test/ http://{0}/\n",
                origin.addr
            ),
        );
        // A debug build's callbacks meet the default deadline (100 ms) unless the machine is
        // starved, as a full test run can starve it: tests of something else give them more.
        let limits = if yaml.contains("wasm:") { "" } else { "wasm:\n  deadline: 5s\n" };
        write(
            dir.path(),
            "hookyard.yaml",
            &format!("plugin_dirs: [plugins]\nruntime_dir: run\n{yaml}{limits}"),
        );
        let (child, log, addr) = start_run(
            dir.path(),
            &["--config", ".", "--listen", "127.0.0.1:0", "--admin", "a.sock"],
        );
        Proxy { child, addr, dir, log, _origin: origin }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    /// `curl` of `path` with `Host: host`.
    fn get(&self, host: &str, path: &str) -> Got {
        let started = Instant::now();
        let out = Command::new("curl")
            .args(["-s", "-i", "--max-time", "20", "-H", &format!("Host: {host}")])
            .arg(format!("http://{}{path}", self.addr))
            .output()
            .expect("curl (Debian package `curl`, installed by .ci/run)");
        let took = started.elapsed();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        Got { status, head: head.to_lowercase(), body: body.to_owned(), took }
    }

    fn ctl(&self, args: &[&str]) -> serde_json::Value {
        let output = hookyard(self.root())
            .args(["ctl", "--admin", "a.sock", "--json"])
            .args(args)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice(&output.stdout).unwrap()
    }

    /// The `ctl plugins` entries of WebAssembly plugin `name`.
    fn wasm_versions(&self, name: &str) -> Vec<serde_json::Value> {
        let plugins = self.ctl(&["plugins"]);
        plugins
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["name"] == name && p["wasm"].is_object())
            .cloned()
            .collect()
    }

    /// Waits for a log line containing `text`.
    fn logged(&self, text: &str) -> String {
        let start = Instant::now();
        loop {
            let left = DEADLINE.saturating_sub(start.elapsed());
            match self.log.recv_timeout(left) {
                Ok(line) if line.contains(text) => return line,
                Ok(_) => {}
                Err(_) => panic!("no log line with `{text}`"),
            }
        }
    }

    fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_sdk_header_filter_adds_its_fields_at_the_origin_and_the_client() {
    let plugin_yaml = "plugins:\n  - path: add_header.wasm\n    params: [x-wasm-one=1, x-wasm-two=2]\n  \
                       - path: tagger.wasm\n    config: \"x-tag=from-config\"\n";
    let proxy = Proxy::start(
        &[("add_header.wasm", "add_header"), ("tagger.wasm", "add_header")],
        plugin_yaml,
        "",
        "workers: 1\n",
    );
    let got = proxy.get("site.test", "/headers");
    assert_eq!(got.status, 200, "{}{}", got.head, got.body);
    // At the origin: the request fields both filters added.
    for field in ["x-wasm-one: 1", "x-wasm-two: 2", "x-tag: from-config"] {
        assert!(got.body.lines().any(|l| l == field), "origin saw no `{field}`:\n{}", got.body);
    }
    // At the client: the response fields.
    for field in ["x-wasm-one: 1", "x-wasm-two: 2", "x-tag: from-config"] {
        assert!(got.head.lines().any(|l| l == field), "client got no `{field}`:\n{}", got.head);
    }
    // The SDK example's local response: the origin is not asked.
    let hello = proxy.get("site.test", "/wasm-hello");
    assert_eq!(hello.status, 200);
    assert_eq!(hello.body, "Hello, World!\n");
    assert!(hello.head.contains("powered-by: proxy-wasm"), "{}", hello.head);
    let versions = proxy.wasm_versions("add_header");
    assert_eq!(versions.len(), 1, "{versions:?}");
    assert_eq!(versions[0]["kind"], "global");
    assert!(versions[0]["wasm"]["calls"].as_u64().unwrap() >= 3, "{versions:?}");
    assert_eq!(proxy.wasm_versions("tagger").len(), 1);
}

#[test]
fn a_remap_rule_runs_its_wasm_plugin_with_its_pparams() {
    let proxy = Proxy::start(
        &[("add_header.wasm", "add_header")],
        "",
        "@plugin=add_header.wasm @pparam=x-rule=r1 @pparam=x-more=m",
        "workers: 1\n",
    );
    let got = proxy.get("site.test", "/headers");
    assert_eq!(got.status, 200, "{}{}", got.head, got.body);
    assert!(got.body.lines().any(|l| l == "x-rule: r1"), "{}", got.body);
    assert!(got.body.lines().any(|l| l == "x-more: m"), "{}", got.body);
    assert!(got.head.lines().any(|l| l == "x-rule: r1"), "{}", got.head);
    // Another rule runs no filter.
    let plain = proxy.get("plain.test", "/headers");
    assert_eq!(plain.status, 200);
    assert!(!plain.body.contains("x-rule"), "{}", plain.body);
    assert!(!plain.head.contains("x-rule"), "{}", plain.head);
    assert_eq!(proxy.wasm_versions("add_header")[0]["kind"], "remap");
}

#[test]
fn a_filter_changes_the_origin_requests_method_path_and_authority() {
    let proxy = Proxy::start(
        &[("request_header.wasm", "request_header")],
        "",
        "@plugin=request_header.wasm @pparam=:method=PURGE @pparam=:path=/elsewhere?x=1 \
         @pparam=:authority=other.test",
        "workers: 1\n",
    );
    let got = proxy.get("site.test", "/asked");
    assert_eq!(got.status, 200, "{}{}", got.head, got.body);
    assert_eq!(got.body, "origin PURGE /elsewhere?x=1 host=other.test");
}

#[test]
fn a_missing_or_refusing_wasm_plugin_is_a_configuration_problem() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(hookyard_fixtures::wasm_plugin("add_header"), plugins.join("add_header.wasm"))
        .unwrap();
    write(dir.path(), "hookyard.yaml", "plugin_dirs: [plugins]\n");
    write(
        dir.path(),
        "plugin.yaml",
        "plugins:\n  - path: add_header.wasm\n    config: \"no pairs\"\n",
    );
    write(dir.path(), "remap.config", "map http://a.test/ http://127.0.0.1:9/ @plugin=gone.wasm\n");
    let out = hookyard(dir.path()).args(["check", "--config", "."]).output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("plugin.yaml:2: WebAssembly plugin")
            && text.contains("proxy_on_configure answered false"),
        "{text}"
    );
    assert!(text.contains("remap.config:1: WebAssembly plugin `gone.wasm` not found"), "{text}");
}

#[test]
fn a_trap_and_an_endless_loop_fail_only_their_own_transactions() {
    let mut proxy = Proxy::start(
        &[("misbehave.wasm", "misbehave")],
        "plugins:\n  - path: misbehave.wasm\n",
        "",
        "workers: 1\nwasm:\n  deadline: 500ms\n  memory: 16MiB\n  quarantine_after: 0\n",
    );
    // Loops on the one worker while other requests go through it.
    let addr = proxy.addr.clone();
    let loops: Vec<_> = (0..3)
        .map(|_| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let started = Instant::now();
                let out = Command::new("curl")
                    .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "20"])
                    .args(["-H", "Host: site.test"])
                    .arg(format!("http://{addr}/loop"))
                    .output()
                    .unwrap();
                (String::from_utf8_lossy(&out.stdout).into_owned(), started.elapsed())
            })
        })
        .collect();
    for _ in 0..10 {
        let fine = proxy.get("site.test", "/headers");
        assert_eq!(fine.status, 200, "{}{}", fine.head, fine.body);
        assert!(fine.body.lines().any(|l| l == "x-misbehave: fine"), "{}", fine.body);
        // Properties: the client's address, the request path.
        assert!(fine.body.lines().any(|l| l.starts_with("x-source: 127.0.0.1:")), "{}", fine.body);
        assert!(fine.body.lines().any(|l| l == "x-path: /headers"), "{}", fine.body);
    }
    for handle in loops {
        let (status, took) = handle.join().unwrap();
        assert_eq!(status, "500");
        // Its own deadline, after the other loops' on the one worker at worst.
        assert!(took < Duration::from_secs(4), "an endless loop held its transaction {took:?}");
    }
    for path in ["/trap", "/grow"] {
        let failed = proxy.get("site.test", path);
        assert_eq!(failed.status, 500, "{path}: {}", failed.body);
        assert!(failed.body.contains("WebAssembly plugin failed"), "{}", failed.body);
        assert!(failed.took < Duration::from_secs(2), "{path} took {:?}", failed.took);
    }
    assert!(proxy.alive(), "the process lives");
    let fine = proxy.get("site.test", "/after");
    assert_eq!(fine.status, 200);
    let wasm = &proxy.wasm_versions("misbehave")[0]["wasm"];
    assert_eq!(wasm["deadlines"], 3, "{wasm}");
    assert_eq!(wasm["traps"], 1, "{wasm}");
    assert_eq!(wasm["memory"], 1, "{wasm}");
    assert_eq!(wasm["quarantined"], false);
}

#[test]
fn a_plugin_failing_again_and_again_is_quarantined() {
    let proxy = Proxy::start(
        &[("misbehave.wasm", "misbehave")],
        "plugins:\n  - path: misbehave.wasm\n",
        "",
        "workers: 1\nmetrics: 127.0.0.1:0\nwasm:\n  deadline: 5s\n  quarantine_after: 3\n  \
         quarantine_window: 60s\n",
    );
    for _ in 0..3 {
        assert_eq!(proxy.get("site.test", "/trap").status, 500);
    }
    proxy.logged("quarantined");
    // Skipped now: the request goes to the origin untouched.
    let skipped = proxy.get("site.test", "/headers");
    assert_eq!(skipped.status, 200);
    assert!(!skipped.body.contains("x-misbehave"), "{}", skipped.body);
    let versions = proxy.wasm_versions("misbehave");
    assert_eq!(versions[0]["state"], "quarantined");
    assert_eq!(versions[0]["wasm"]["skipped"], 1);
    let text =
        hookyard(proxy.root()).args(["ctl", "--admin", "a.sock", "plugins"]).output().unwrap();
    assert!(String::from_utf8_lossy(&text.stdout).contains("QUARANTINED"));
    let metrics = hookyard(proxy.root())
        .args(["ctl", "--admin", "a.sock", "metrics", "^hookyard_wasm_"])
        .output()
        .unwrap();
    let metrics = String::from_utf8_lossy(&metrics.stdout).into_owned();
    let version = versions[0]["version"].as_str().unwrap().to_owned();
    let labels = format!("plugin=\"misbehave\",version=\"{version}\"");
    for series in [
        format!("hookyard_wasm_quarantined{{{labels}}} 1"),
        format!("hookyard_wasm_skipped_total{{{labels}}} 1"),
        format!("hookyard_wasm_failures_total{{{labels},kind=\"trap\"}} 3"),
    ] {
        assert!(metrics.lines().any(|l| l == series), "no `{series}` in:\n{metrics}");
    }
}

/// `bytes` with a custom section appended: another module version of the same code.
fn another_version(bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out.extend_from_slice(&[0, 3, 2, b'v', b'2']);
    out
}

#[test]
fn a_hundred_reloads_alternating_two_versions_under_load_fail_no_request() {
    let proxy = Proxy::start(
        &[("add_header.wasm", "add_header")],
        "plugins:\n  - path: add_header.wasm\n    params: [x-wasm=on]\n",
        "",
        "workers: 2\n",
    );
    let file = proxy.root().join("plugins/add_header.wasm");
    let one = std::fs::read(&file).unwrap();
    let two = another_version(&one);
    let wrk = Command::new("wrk")
        .args(["-t2", "-c8", "-d60s", "-H", "Host: site.test"])
        .arg(format!("http://{}/", proxy.addr))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wrk (Debian package `wrk`, installed by .ci/run)");
    let started = Instant::now();
    let mut modules = std::collections::BTreeSet::new();
    for round in 0..100 {
        let bytes = if round % 2 == 0 { &two } else { &one };
        std::fs::write(&file, bytes).unwrap();
        let report = proxy.ctl(&["reload"]);
        assert_eq!(report["ok"], true, "reload {round}: {report}");
        for v in proxy.wasm_versions("add_header") {
            modules.insert(v["wasm"]["module"].as_str().unwrap().to_owned());
        }
    }
    let reloading = started.elapsed();
    // wrk runs for its 60 s; a signal ends it early with its report.
    let _ = Command::new("kill").args(["-INT", &wrk.id().to_string()]).status();
    let output = wrk.wait_with_output().unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    let warnings: Vec<String> = proxy.log.try_iter().filter(|l| l.contains("WARN")).collect();
    let warnings = warnings.join("\n");
    assert!(!report.contains("Non-2xx"), "every answer 2xx:\n{report}\n{warnings}");
    assert!(!report.contains("Socket errors"), "no socket error:\n{report}\n{warnings}");
    let requests: u64 = report
        .lines()
        .find_map(|l| l.trim().split_once(" requests in ").map(|(n, _)| n.parse().unwrap()))
        .unwrap_or_else(|| panic!("a request count:\n{report}"));
    assert!(requests > 100, "{report}");
    assert_eq!(modules.len(), 2, "both versions served: {modules:?}");
    // The version of the last reload serves, with its header.
    let got = proxy.get("site.test", "/headers");
    assert!(got.head.contains("x-wasm: on"), "{}", got.head);
    eprintln!("100 reloads in {reloading:?} under {requests} requests");
}

/// `curl` POSTing `body` to `path` with `Host: host`: status, head, body.
fn post(proxy: &Proxy, host: &str, path: &str, body: &[u8]) -> Got {
    let file = proxy.root().join("post.bin");
    std::fs::write(&file, body).unwrap();
    let started = Instant::now();
    let out = Command::new("curl")
        .args(["-s", "-i", "--max-time", "20", "-H", &format!("Host: {host}"), "--data-binary"])
        .arg(format!("@{}", file.display()))
        .arg(format!("http://{}{path}", proxy.addr))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Got { status, head: head.to_lowercase(), body: body.to_owned(), took: started.elapsed() }
}

/// An origin that reads a request's whole body before it answers `len=N`, one request per
/// connection.
fn sink_origin() -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end().to_ascii_lowercase();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(n) = line.strip_prefix("content-length:") {
                        length = n.trim().parse().unwrap();
                    }
                }
                let mut body = vec![0; length];
                if reader.read_exact(&mut body).is_err() {
                    return;
                }
                let text = format!("len={length}");
                let mut out = stream;
                let _ = write!(
                    out,
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                    text.len()
                );
            });
        }
    });
    addr
}

#[test]
fn body_callbacks_see_request_and_response_bodies() {
    let sink = sink_origin();
    let proxy = Proxy::start(
        &[("body_inspect.wasm", "body_inspect"), ("add_header.wasm", "add_header")],
        "plugins:\n  - path: add_header.wasm\n",
        &format!("\nmap http://sink.test/ http://{sink}/ @plugin=body_inspect.wasm @pparam=secret"),
        "workers: 1\n",
    );
    // A clean body streams through the filters to the origin whole, and back (`/echo`).
    let clean: Vec<u8> = b"nothing to see here\n".iter().copied().cycle().take(300_000).collect();
    let got = post(&proxy, "site.test", "/echo", &clean);
    assert_eq!(got.status, 200, "{}", got.head);
    assert!(got.body.as_bytes() == clean.as_slice(), "the echoed body differs");
    assert!(got.head.contains("x-wasm-filter: add_header"), "{}", got.head);
    // The inspecting filter buffers the request body, and counts the response's.
    let got = post(&proxy, "sink.test", "/", &clean);
    assert_eq!(got.status, 200, "{}", got.head);
    assert_eq!(got.body, format!("len={}", clean.len()));
    proxy.logged("response body: 10 bytes");
    // A body with the word, past the first chunks, is refused before the origin sees its end.
    let mut dirty = clean.clone();
    dirty.extend_from_slice(b"the secret\n");
    let refused = post(&proxy, "sink.test", "/", &dirty);
    assert_eq!(refused.status, 403, "{}{}", refused.head, refused.body);
    assert_eq!(refused.body, "refused\n");
    assert!(refused.head.contains("x-body-inspect: refused"), "{}", refused.head);
    assert_eq!(proxy.wasm_versions("body_inspect")[0]["wasm"]["local_responses"], 1);
}

#[test]
fn a_filter_calls_another_rules_origin_before_its_request_goes_on() {
    let proxy = Proxy::start(
        &[("http_call.wasm", "http_call")],
        "",
        "@plugin=http_call.wasm @pparam=plain.test",
        "workers: 1\n",
    );
    let got = proxy.get("site.test", "/headers");
    assert_eq!(got.status, 200, "{}{}", got.head, got.body);
    // The call went to `plain.test`'s origin, and its answer into the request.
    assert!(
        got.body.lines().any(|l| l == "x-auth: origin GET /auth host=plain.test"),
        "{}",
        got.body
    );
    drop(proxy);
    // A call to an upstream no rule has fails: the filter refuses the request.
    let proxy = Proxy::start(
        &[("http_call.wasm", "http_call")],
        "",
        "@plugin=http_call.wasm @pparam=nowhere.test",
        "workers: 1\n",
    );
    let denied = proxy.get("site.test", "/headers");
    assert_eq!(denied.status, 403, "{}{}", denied.head, denied.body);
    assert_eq!(denied.body, "denied\n");
}

#[test]
fn a_native_plugin_switches_a_wasm_plugin_off_for_its_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    let probe = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/plugins/hook_probe.c");
    hookyard_fixtures::compile_c_with(
        &probe,
        &[],
        &[&hookyard_fixtures::abi_include_dir()],
        &plugins.join("probe.so"),
    );
    // The probe switches `tagger` off at READ_REQUEST_HDR (its ceiling outranks tagger's);
    // `add_header` still runs.
    let proxy = Proxy::start_in(
        dir,
        &[("add_header.wasm", "add_header"), ("tagger.wasm", "add_header")],
        "plugins:\n  - path: probe.so\n    params: [disable=tagger]\n  - path: add_header.wasm\n  \
         - path: tagger.wasm\n    config: \"x-tag=on\"\npriorities:\n  plugins:\n    - name: probe\n      \
         max_priority: 100\n",
        "",
        "workers: 1\n",
    );
    let got = proxy.get("site.test", "/headers");
    assert_eq!(got.status, 200, "{}{}", got.head, got.body);
    assert!(got.body.lines().any(|l| l == "x-wasm-filter: add_header"), "{}", got.body);
    assert!(!got.body.contains("x-tag"), "{}", got.body);
    assert!(!got.head.contains("x-tag"), "{}", got.head);
    assert_eq!(proxy.wasm_versions("tagger")[0]["wasm"]["calls"], 0);
}
