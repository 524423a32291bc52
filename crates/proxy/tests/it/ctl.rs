//! `hookyard ctl` as an operator types it against a running `hookyard run`: the socket found
//! from `--config DIR`, `metrics [REGEX]`, `log-level`, `config`; and `check --json`.

use std::path::Path;
use std::process::Output;
use std::sync::mpsc;
use std::time::Instant;

use crate::cli::{hookyard, http_get, start_run};
use crate::support::{DEADLINE, config_dir, write};

/// `hookyard ctl ARGS...` run in `cwd`.
fn ctl(cwd: &Path, args: &[&str]) -> Output {
    hookyard(cwd).arg("ctl").args(args).output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Waits for a line of `lines` that satisfies `wanted`; every line seen meanwhile goes to
/// `seen`.
fn wait_line(
    lines: &mpsc::Receiver<String>,
    seen: &mut Vec<String>,
    wanted: impl Fn(&str) -> bool,
) -> Option<String> {
    let start = Instant::now();
    while let Ok(line) = lines.recv_timeout(DEADLINE.saturating_sub(start.elapsed())) {
        seen.push(line.clone());
        if wanted(&line) {
            return Some(line);
        }
    }
    None
}

/// A running `hookyard run --config DIR` whose `hookyard.yaml` puts the control socket in
/// `DIR/run/admin.sock`; killed when dropped.
struct Running {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
    addr: String,
    dir: tempfile::TempDir,
}

impl Running {
    fn start(yaml: &str, extra: &[&str]) -> Running {
        let dir = config_dir(&[]);
        write(dir.path(), "hookyard.yaml", yaml);
        // Nothing listens on the discard port: such requests are answered 502.
        write(dir.path(), "remap.config", "map http://down.test/ http://127.0.0.1:9/\n");
        let args = [&["--config", ".", "--listen", "127.0.0.1:0"][..], extra].concat();
        let (child, lines, addr) = start_run(dir.path(), &args);
        Running { child, lines, addr, dir }
    }

    /// `hookyard ctl --config DIR ARGS...`, from another directory: only `--config` says where.
    fn ctl(&self, args: &[&str]) -> Output {
        let elsewhere = tempfile::tempdir().unwrap();
        let dir = self.dir.path().to_str().unwrap();
        ctl(elsewhere.path(), &[&["--config", dir][..], args].concat())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const YAML: &str = "admin: run/admin.sock\nruntime_dir: run\n";

#[test]
fn ctl_finds_the_socket_from_the_config_dir() {
    let proxy = Running::start(YAML, &[]);
    let status = proxy.ctl(&["status"]);
    assert!(status.status.success(), "{}", stderr(&status));
    assert!(stdout(&status).contains(&proxy.addr), "{}", stdout(&status));
    // The flag also goes after the method.
    let dir = proxy.dir.path().to_str().unwrap();
    let after = ctl(Path::new("/"), &["status", "--config", dir]);
    assert!(after.status.success(), "{}", stderr(&after));
    // Without the configuration, the default socket is somewhere else.
    let missing = ctl(proxy.dir.path(), &["--admin", "run/nothing.sock", "status"]);
    assert!(!missing.status.success());
    assert!(stderr(&missing).contains("run/nothing.sock"), "{}", stderr(&missing));
    // A configuration that does not parse is said, with its line.
    let bad = config_dir(&[("hookyard.yaml", "admin: [1, 2]\n")]);
    let output = ctl(Path::new("/"), &["--config", bad.path().to_str().unwrap(), "status"]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("hookyard.yaml:1:"), "{}", stderr(&output));
}

#[test]
fn ctl_metrics_selects_series_by_regex_and_counts_match_requests() {
    let proxy = Running::start(YAML, &[]);
    for _ in 0..3 {
        assert!(http_get(&proxy.addr, "x", "/_hookyard/health").starts_with("HTTP/1.1 200"));
    }
    for _ in 0..2 {
        assert!(http_get(&proxy.addr, "x", "/nowhere").starts_with("HTTP/1.1 404"));
    }
    let output = proxy.ctl(&["metrics", "^hookyard_responses_total$"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        "# HELP hookyard_responses_total Responses sent, by status class.\n\
         # TYPE hookyard_responses_total counter\n\
         hookyard_responses_total{class=\"1xx\"} 0\n\
         hookyard_responses_total{class=\"2xx\"} 3\n\
         hookyard_responses_total{class=\"3xx\"} 0\n\
         hookyard_responses_total{class=\"4xx\"} 2\n\
         hookyard_responses_total{class=\"5xx\"} 0\n"
    );
    let all = stdout(&proxy.ctl(&["metrics"]));
    assert!(all.contains("# TYPE hookyard_uptime_seconds gauge"), "{all}");
    assert!(all.contains("hookyard_reloads_total{result=\"ok\"} 0"), "{all}");
    let none = proxy.ctl(&["metrics", "^no_such_metric"]);
    assert!(none.status.success());
    assert_eq!(stdout(&none), "");
    let bad = proxy.ctl(&["metrics", "(unclosed"]);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("`(unclosed` is not a regular expression"), "{}", stderr(&bad));
    let json = proxy.ctl(&["--json", "metrics", "generation$"]);
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert!(value.as_str().unwrap().contains("hookyard_generation 1\n"), "{value}");
}

#[test]
fn ctl_log_level_changes_the_filter_of_the_running_process() {
    let mut proxy = Running::start(YAML, &[]);
    let shown = proxy.ctl(&["log-level"]);
    assert!(shown.status.success(), "{}", stderr(&shown));
    assert_eq!(stdout(&shown), "warn,hookyard=info\n");
    // An unreachable origin is a debug line.
    let set = proxy.ctl(&["log-level", "hookyard=debug"]);
    assert!(set.status.success(), "{}", stderr(&set));
    assert_eq!(stdout(&set), "hookyard=debug\n");
    assert_eq!(stdout(&proxy.ctl(&["log-level"])), "hookyard=debug\n");
    let mut seen = Vec::new();
    let changed = wait_line(&proxy.lines, &mut seen, |l| l.contains("log filter changed"));
    assert!(changed.is_some(), "{seen:#?}");
    assert!(http_get(&proxy.addr, "down.test", "/").starts_with("HTTP/1.1 502"));
    let debug = wait_line(&proxy.lines, &mut seen, |l| l.contains("DEBUG"));
    assert!(debug.is_some(), "a debug line after the change: {seen:#?}");
    // A bad filter is refused and the one in force stays.
    let bad = proxy.ctl(&["log-level", "hookyard=loud"]);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("`hookyard=loud` is not a log filter"), "{}", stderr(&bad));
    assert_eq!(stdout(&proxy.ctl(&["log-level"])), "hookyard=debug\n");
    // A span directive: debug lines from within a connection (a head refused, here).
    let spans = proxy.ctl(&["log-level", "warn,[conn]=debug"]);
    assert!(spans.status.success(), "{}", stderr(&spans));
    assert!(http_get(&proxy.addr, "x", "/a b").starts_with("HTTP/1.1 400"));
    let refused = wait_line(&proxy.lines, &mut seen, |l| l.contains("request head refused"));
    assert!(refused.is_some_and(|l| l.contains("DEBUG") && l.contains("conn{")), "{seen:#?}");
    let off = proxy.ctl(&["log-level", "off"]);
    assert!(off.status.success(), "{}", stderr(&off));
    assert!(http_get(&proxy.addr, "down.test", "/").starts_with("HTTP/1.1 502"));
    let _ = proxy.child.kill();
    let _ = proxy.child.wait();
    let after: Vec<String> = proxy.lines.try_iter().collect();
    assert!(after.iter().all(|l| !l.contains("DEBUG")), "nothing logged at off: {after:#?}");
}

#[test]
fn ctl_config_prints_the_settings_in_force() {
    let yaml = format!("{YAML}workers: 1\ntimeouts: {{idle: 90s}}\n");
    let proxy = Running::start(&yaml, &["--metrics", "127.0.0.1:0"]);
    let output = proxy.ctl(&["config"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let run = proxy.dir.path().canonicalize().unwrap().join("run");
    for line in [
        format!("listen: [{}]", proxy.addr),
        format!("admin: {}", run.join("admin.sock").display()),
        format!("runtime_dir: {}", run.display()),
        "workers: 1".to_owned(),
        "  idle: 90s".to_owned(),
        "  header_read: 10s".to_owned(),
        "health_path: /_hookyard/health".to_owned(),
        "  format: text".to_owned(),
    ] {
        assert!(text.lines().any(|l| l == line), "{line:?} in:\n{text}");
    }
    assert!(text.lines().any(|l| l.starts_with("metrics: 127.0.0.1:")), "{text}");
    let json = proxy.ctl(&["--json", "config"]);
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["timeouts"]["idle"], serde_json::json!({ "secs": 90, "nanos": 0 }));
    assert_eq!(value["listen"][0], proxy.addr.as_str());
    assert_eq!(value["log"]["format"], "text");
    assert_eq!(value["worker_cpu_affinity"], "off");

    // A reload applies the idle timeout; the settings read at start only stay the start's.
    let changed = format!(
        "{YAML}workers: 2\nworker_cpu_affinity: auto\ntimeouts: {{idle: 30s}}\n\
         origin_pool: {{max_idle: 5}}\n"
    );
    write(proxy.dir.path(), "hookyard.yaml", &changed);
    let reload = proxy.ctl(&["reload"]);
    assert!(reload.status.success(), "{}{}", stdout(&reload), stderr(&reload));
    let notes = stdout(&reload);
    for what in ["workers", "worker_cpu_affinity", "origin_pool"] {
        let note = format!("`{what}` changed: takes effect at the next start");
        assert!(notes.contains(&note), "{note:?} in:\n{notes}");
    }
    let text = stdout(&proxy.ctl(&["config"]));
    for line in ["workers: 1", "worker_cpu_affinity: \"off\"", "  idle: 30s", "  max_idle: 1024"] {
        assert!(text.lines().any(|l| l == line), "{line:?} in:\n{text}");
    }
}

#[test]
fn the_log_is_json_lines_with_log_format_json() {
    for (yaml, flag) in [(YAML.to_owned(), true), (format!("{YAML}log: {{format: json}}\n"), false)]
    {
        let extra: &[&str] = if flag { &["--log-format", "json"] } else { &[] };
        let proxy = Running::start(&yaml, extra);
        assert!(proxy.ctl(&["log-level", "info"]).status.success());
        let mut seen = Vec::new();
        let changed = wait_line(&proxy.lines, &mut seen, |l| l.contains("log filter changed"))
            .unwrap_or_else(|| panic!("{seen:#?}"));
        let event: serde_json::Value = serde_json::from_str(&changed).unwrap();
        assert_eq!(event["level"], "INFO", "{event}");
        assert_eq!(event["fields"]["message"], "log filter changed on the control socket");
        assert_eq!(event["fields"]["level"], "info", "{event}");
        assert!(event["timestamp"].is_string(), "{event}");
        assert!(event["target"].as_str().unwrap().starts_with("hookyard"), "{event}");
    }
    let dir = config_dir(&[]);
    let output = hookyard(dir.path())
        .args(["run", "--config", ".", "--log-format", "xml"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(stderr(&output).contains("`xml` is not `text` or `json`"), "{}", stderr(&output));
}

#[test]
fn a_log_level_in_hookyard_yaml_is_the_starting_filter() {
    let proxy = Running::start(&format!("{YAML}log: {{level: 'warn,hookyard=debug'}}\n"), &[]);
    assert_eq!(stdout(&proxy.ctl(&["log-level"])), "warn,hookyard=debug\n");
}

#[test]
fn check_json_gives_every_problem_as_an_object() {
    let dir = config_dir(&[
        ("hookyard.yaml", "workers: 0\nlog: {format: xml}\n"),
        ("remap.config", "map http://a.test/ http://127.0.0.1:9/\nmap http://a.test/ http://b/\n"),
    ]);
    let output = hookyard(dir.path()).args(["check", "--config", ".", "--json"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(value["ok"], false);
    let problems = value["problems"].as_array().unwrap();
    let settings = dir.path().join("hookyard.yaml");
    let at = |line: u64| {
        problems.iter().find(|p| p["line"] == line && p["file"] == settings.to_str().unwrap())
    };
    assert!(at(1).unwrap()["reason"].as_str().unwrap().starts_with("`workers` must be"));
    assert_eq!(at(2).unwrap()["reason"], "`log.format`: `xml` is not `text` or `json`");
    let files = value["files"].as_array().unwrap();
    assert!(
        files.iter().any(|f| f["status"] == "FAILED" && f["file"] == settings.to_str().unwrap())
    );
    let good = config_dir(&[("remap.config", "map http://a.test/ http://127.0.0.1:9/\n")]);
    let output = hookyard(good.path()).args(["check", "--config", ".", "--json"]).output().unwrap();
    assert!(output.status.success(), "{}", stdout(&output));
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(value["ok"], true);
    assert_eq!(value["problems"], serde_json::json!([]));
}
