//! The client side of the control channel (`hookyard ctl`).

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

/// Why a control call failed.
#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    /// The socket could not be reached or the exchange broke.
    #[error("cannot talk to hookyard at {path}")]
    Io {
        /// The socket.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The socket belongs to another user, who could be impersonating hookyard.
    #[error(
        "refusing to talk to {path}: it is owned by uid {owner}, neither this user (uid {euid}) \
         nor root, so another user may have put it there"
    )]
    Untrusted {
        /// The socket.
        path: String,
        /// The socket's owner.
        owner: u32,
        /// This process's effective uid.
        euid: u32,
    },
    /// The answer was not JSON-RPC.
    #[error("hookyard answered something that is not JSON-RPC: {0}")]
    Protocol(String),
    /// The server answered with a JSON-RPC error.
    #[error("{message} (code {code})")]
    Remote {
        /// The JSON-RPC error code.
        code: i64,
        /// Its message.
        message: String,
    },
}

/// Calls `method` on the control socket at `path` and returns its `result`.
///
/// # Errors
///
/// The socket cannot be reached, the answer is not JSON-RPC, or the server answered an error.
pub fn call(path: &Path, method: &str) -> Result<Value, CtlError> {
    call_with(path, method, Value::Null)
}

/// As [`call`], with `params` (none when `Value::Null`).
///
/// # Errors
///
/// As for [`call`], and [`CtlError::Untrusted`] when the socket is owned by neither this user
/// nor root.
pub fn call_with(path: &Path, method: &str, params: Value) -> Result<Value, CtlError> {
    let io = |source| CtlError::Io { path: path.display().to_string(), source };
    check_owner(path).map_err(|e| match e {
        Ownership::Io(source) => io(source),
        Ownership::Other { owner, euid } => {
            CtlError::Untrusted { path: path.display().to_string(), owner, euid }
        }
    })?;
    let mut stream = UnixStream::connect(path).map_err(io)?;
    // A reload parses every file; allow it time, but never hang forever.
    stream.set_read_timeout(Some(Duration::from_secs(60))).map_err(io)?;
    let mut request = json!({ "jsonrpc": "2.0", "id": 1, "method": method });
    if !params.is_null() {
        request["params"] = params;
    }
    let mut line = request.to_string();
    line.push('\n');
    stream.write_all(line.as_bytes()).map_err(io)?;
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer).map_err(io)?;
    let answer: Value =
        serde_json::from_str(&answer).map_err(|e| CtlError::Protocol(e.to_string()))?;
    if let Some(error) = answer.get("error") {
        return Err(CtlError::Remote {
            code: error.get("code").and_then(Value::as_i64).unwrap_or(0),
            message: error
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("unknown error")
                .to_owned(),
        });
    }
    answer.get("result").cloned().ok_or_else(|| CtlError::Protocol("no `result`".to_owned()))
}

enum Ownership {
    Io(std::io::Error),
    Other { owner: u32, euid: u32 },
}

/// Refuses a socket owned by another user than this one or root: a request (a reload) must not
/// go to whoever managed to put a socket where hookyard's was expected.
fn check_owner(path: &Path) -> Result<(), Ownership> {
    // The owner of /proc/self is this process's effective user: the uid without `unsafe`.
    let euid = std::fs::metadata("/proc/self").map_err(Ownership::Io)?.uid();
    let owner = std::fs::metadata(path).map_err(Ownership::Io)?.uid();
    if owner == euid || owner == 0 { Ok(()) } else { Err(Ownership::Other { owner, euid }) }
}

/// A readable rendering of a method's result.
pub fn render(method: &str, result: &Value) -> String {
    let mut out = String::new();
    match method {
        "reload" => reload(&mut out, result),
        "status" => status(&mut out, result),
        "rules" => rules(&mut out, result),
        "hosts" => hosts(&mut out, result),
        "host_down" | "host_up" => {
            let state = if method == "host_down" { "down" } else { "up" };
            for host in result.as_array().into_iter().flatten() {
                let _ = writeln!(out, "{} {state}", s(host));
            }
        }
        "hooks" => hooks(&mut out, result),
        "plugins" => plugins(&mut out, result),
        "retire" => retired(&mut out, result),
        "config" => settings(&mut out, result, 0),
        "metrics" => out.push_str(result.as_str().unwrap_or_default()),
        "log_level" => {
            let _ = writeln!(out, "{}", s(&result["level"]));
        }
        "plugin_msg" => plugin_msg(&mut out, result),
        "drain" => {
            let _ = writeln!(
                out,
                "draining: listeners close in {} ms, the process exits within {} ms",
                s(&result["grace_left_ms"]),
                s(&result["deadline_left_ms"])
            );
        }
        _ => {
            let _ = writeln!(out, "{}", serde_json::to_string_pretty(result).unwrap_or_default());
        }
    }
    out
}

/// A JSON value as text: a string without its quotes.
fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn reload(out: &mut String, result: &Value) {
    let ok = result["ok"].as_bool().unwrap_or(false);
    let _ = writeln!(
        out,
        "reload {}: generation {} (was {}), {:.1} ms, from {}",
        if ok { "ok" } else { "FAILED, still serving the previous configuration" },
        s(&result["generation"]),
        s(&result["previous"]),
        result["millis"].as_f64().unwrap_or(0.0),
        s(&result["source"]),
    );
    for file in result["files"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "  {:<8} {} ({} µs)",
            s(&file["status"]),
            s(&file["file"]),
            s(&file["micros"])
        );
        for problem in file["problems"].as_array().into_iter().flatten() {
            let _ = writeln!(out, "    error: {}", s(problem));
        }
        for warning in file["warnings"].as_array().into_iter().flatten() {
            let _ = writeln!(out, "    warning: {}", s(warning));
        }
    }
    for plugin in result["plugins"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "  plugin   {} {} {} ({})",
            s(&plugin["status"]),
            s(&plugin["path"]),
            s(&plugin["name"]),
            s(&plugin["version"])
        );
    }
    for note in result["notes"].as_array().into_iter().flatten() {
        let _ = writeln!(out, "  note: {}", s(note));
    }
}

fn status(out: &mut String, result: &Value) {
    for key in [
        "generation",
        "source",
        "uptime_secs",
        "workers",
        "listen",
        "listen_tls",
        "connections",
        "in_flight",
        "requests",
        "reloads_ok",
        "reloads_failed",
        "rules",
        "draining",
    ] {
        let value = match &result[key] {
            Value::Array(items) => items.iter().map(s).collect::<Vec<_>>().join(", "),
            Value::Number(n) if key == "uptime_secs" => {
                format!("{:.0}", n.as_f64().unwrap_or(0.0))
            }
            other => s(other),
        };
        let _ = writeln!(out, "{key:<15} {value}");
    }
}

fn hosts(out: &mut String, result: &Value) {
    let hosts = result.as_array().map(Vec::as_slice).unwrap_or_default();
    if hosts.is_empty() {
        out.push_str("no strategy hosts\n");
        return;
    }
    let width = hosts.iter().map(|h| s(&h["name"]).len()).max().unwrap_or(4).max(4);
    let _ = writeln!(
        out,
        "{:<width$}  {:<5}  {:<12}  {:>10}  {:>8}",
        "NAME", "STATE", "REASON", "REQUESTS", "ERRORS"
    );
    for host in hosts {
        let reason = match s(&host["reason"]) {
            r if r.is_empty() => "-".to_owned(),
            r => r,
        };
        let _ = writeln!(
            out,
            "{:<width$}  {:<5}  {:<12}  {:>10}  {:>8}",
            s(&host["name"]),
            s(&host["state"]),
            reason,
            s(&host["requests"]),
            s(&host["errors"]),
        );
    }
}

fn rules(out: &mut String, result: &Value) {
    let rules = result.as_array().map(Vec::as_slice).unwrap_or_default();
    if rules.is_empty() {
        out.push_str("no remap rules\n");
    }
    for rule in rules {
        let _ = writeln!(out, "{}  {}", s(&rule["at"]), s(&rule["rule"]));
        for plugin in rule["plugins"].as_array().into_iter().flatten() {
            let _ = writeln!(out, "    plugin {}", s(plugin));
        }
    }
}

fn hooks(out: &mut String, result: &Value) {
    let hooks = result.as_array().map(Vec::as_slice).unwrap_or_default();
    if hooks.is_empty() {
        out.push_str("no hook callbacks\n");
    }
    for hook in hooks {
        let _ = writeln!(out, "{}", s(&hook["hook"]));
        for c in hook["callbacks"].as_array().into_iter().flatten() {
            let why: Vec<String> =
                c["constraints"].as_array().into_iter().flatten().map(s).collect();
            let _ = writeln!(
                out,
                "  {:>11} {:<20} {:<11} {:<6} {}{}{}",
                s(&c["priority"]),
                s(&c["plugin"]),
                s(&c["level"]),
                format!("#{}", s(&c["id"])),
                if why.is_empty() { "by priority".to_owned() } else { why.join(", ") },
                c["arm"].as_str().map(|arm| format!("  [{arm}]")).unwrap_or_default(),
                if c["enabled"] == true { "" } else { "  (below threshold)" },
            );
        }
    }
}

fn plugins(out: &mut String, result: &Value) {
    let versions = result.as_array().map(Vec::as_slice).unwrap_or_default();
    if versions.is_empty() {
        out.push_str("no plugin loaded\n");
    }
    for v in versions {
        let _ = writeln!(
            out,
            "#{:<4} {:<9} {} {} {} refs={} instances={} continuations={} age={:.0}s\n      {} scheduled={} dropped={}\n      {}\n      copy {}",
            s(&v["id"]),
            s(&v["state"]),
            s(&v["kind"]),
            s(&v["name"]),
            s(&v["version"]),
            s(&v["references"]),
            s(&v["instances"]),
            s(&v["continuations"]),
            v["age_secs"].as_f64().unwrap_or(0.0),
            retirement(v),
            s(&v["scheduled_events"]),
            s(&v["dropped_events"]),
            s(&v["path"]),
            s(&v["runtime_path"]),
        );
        let wasm = &v["wasm"];
        if wasm.is_object() {
            let _ = writeln!(
                out,
                "      wasm: module {} calls={} traps={} deadlines={} memory={} broken={} \
                 local_responses={} skipped={}{}",
                s(&wasm["module"]),
                s(&wasm["calls"]),
                s(&wasm["traps"]),
                s(&wasm["deadlines"]),
                s(&wasm["memory"]),
                s(&wasm["broken"]),
                s(&wasm["local_responses"]),
                s(&wasm["skipped"]),
                if wasm["quarantined"] == true { " QUARANTINED" } else { "" },
            );
        }
        let canary = &v["canary"];
        if canary.is_object() {
            let _ = writeln!(
                out,
                "      canary: {} {}% by {}, {} transactions",
                s(&canary["arm"]),
                canary["percent"].as_f64().unwrap_or(0.0),
                s(&canary["by"]),
                s(&canary["transactions"]),
            );
        }
    }
}

/// A version's retirement as text: `active`, `retired (drain 250 ms left)`, `force-retired`.
fn retirement(v: &Value) -> String {
    // `ctl plugins` has it as `retirement` (its `state` is the loader's); `retire` as `state`.
    let state = v["retirement"].as_str().or(v["state"].as_str()).unwrap_or("active");
    match v["drain_left_ms"].as_u64() {
        Some(left) if state == "retired" => format!("retired (drain {left} ms left)"),
        _ => state.to_owned(),
    }
}

/// `plugin msg`: who got it, then each plugin's reply.
fn plugin_msg(out: &mut String, result: &Value) {
    let delivered: Vec<String> =
        result["delivered"].as_array().into_iter().flatten().map(s).collect();
    match delivered.len() {
        0 => {
            let _ = writeln!(out, "delivered to no callback (no LIFECYCLE_MSG hook)");
        }
        n => {
            let _ = writeln!(out, "delivered to {n} callback(s): {}", delivered.join(", "));
        }
    }
    for reply in result["replies"].as_array().into_iter().flatten() {
        let _ = writeln!(out, "{}: {}", s(&reply["plugin"]), s(&reply["text"]));
    }
}

fn retired(out: &mut String, result: &Value) {
    for v in result.as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "#{:<4} {} {} {}",
            s(&v["id"]),
            s(&v["name"]),
            s(&v["version"]),
            retirement(v)
        );
    }
}

/// The series of a Prometheus text page whose metric name or family matches `pattern`, each
/// family's `# HELP` and `# TYPE` lines kept before its first series shown.
pub fn select_metrics(page: &str, pattern: &regex::Regex) -> String {
    let mut out = String::new();
    // The current family's name and comment lines, not yet written.
    let mut family = "";
    let mut comments: Vec<&str> = Vec::new();
    for line in page.lines() {
        if let Some(comment) = line.strip_prefix("# ") {
            let name = comment.split_whitespace().nth(1).unwrap_or_default();
            if name != family {
                family = name;
                comments.clear();
            }
            comments.push(line);
            continue;
        }
        let name = line.split(['{', ' ']).next().unwrap_or_default();
        if name.is_empty() {
            continue;
        }
        if pattern.is_match(name) || (!family.is_empty() && pattern.is_match(family)) {
            for comment in comments.drain(..) {
                out.push_str(comment);
                out.push('\n');
            }
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Settings (`ctl config`) in `hookyard.yaml`'s own form: durations as `10s` or `250ms`,
/// `~` for what is unset.
fn settings(out: &mut String, value: &Value, indent: usize) {
    let Value::Object(map) = value else {
        let _ = writeln!(out, "{}", scalar(value));
        return;
    };
    let pad = " ".repeat(indent);
    for (key, value) in map {
        match value {
            Value::Object(inner) if !inner.is_empty() && duration(value).is_none() => {
                let _ = writeln!(out, "{pad}{key}:");
                settings(out, value, indent + 2);
            }
            Value::Array(items) if items.iter().any(|i| i.is_object() || i.is_array()) => {
                let _ = writeln!(out, "{pad}{key}:");
                for item in items {
                    // JSON is YAML: a flow mapping per item.
                    let _ = writeln!(out, "{pad}  - {item}");
                }
            }
            Value::Array(items) => {
                let items: Vec<String> = items.iter().map(scalar).collect();
                let _ = writeln!(out, "{pad}{key}: [{}]", items.join(", "));
            }
            _ => {
                let _ = writeln!(out, "{pad}{key}: {}", scalar(value));
            }
        }
    }
}

/// A duration serialised as `{secs, nanos}`, in `hookyard.yaml`'s notation.
fn duration(value: &Value) -> Option<String> {
    let map = value.as_object().filter(|m| m.len() == 2)?;
    let secs = map.get("secs")?.as_u64()?;
    let nanos = map.get("nanos")?.as_u64()?;
    Some(match (secs, nanos) {
        (s, 0) if s > 0 && s % 3600 == 0 => format!("{}h", s / 3600),
        (s, 0) if s > 0 && s % 60 == 0 => format!("{}m", s / 60),
        (s, 0) => format!("{s}s"),
        (s, n) if n % 1_000_000 == 0 => format!("{}ms", s * 1000 + n / 1_000_000),
        (s, n) => format!("{}s", s as f64 + n as f64 / 1e9),
    })
}

/// One value on one line: plain when YAML reads it back as the same string, else quoted.
fn scalar(value: &Value) -> String {
    if let Some(d) = duration(value) {
        return d;
    }
    match value {
        Value::Null => "~".to_owned(),
        Value::String(text) => {
            let plain = !text.is_empty()
                && text.chars().all(|c| c.is_ascii_alphanumeric() || "_./-:@*".contains(c))
                && !text.starts_with([':', '-', '@', '*'])
                && !text.ends_with(':')
                && text.parse::<f64>().is_err()
                && !matches!(
                    text.as_str(),
                    "true" | "false" | "null" | "yes" | "no" | "on" | "off"
                );
            if plain { text.clone() } else { Value::String(text.clone()).to_string() }
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_selected_by_name_or_family() {
        let page = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\"} 1\na_total{x=\"2\"} 2\n\
                    # HELP b_seconds B.\n# TYPE b_seconds histogram\nb_seconds_bucket{le=\"+Inf\"} 3\n\
                    b_seconds_sum 0.5\nb_seconds_count 3\n";
        let only = |re: &str| select_metrics(page, &regex::Regex::new(re).unwrap());
        assert_eq!(
            only("^a_"),
            "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\"} 1\na_total{x=\"2\"} 2\n"
        );
        assert_eq!(only("^b_seconds$").lines().count(), 5, "the family's name selects it whole");
        assert_eq!(
            only("_count$"),
            "# HELP b_seconds B.\n# TYPE b_seconds histogram\nb_seconds_count 3\n"
        );
        assert_eq!(only("nothing"), "");
    }

    #[test]
    fn settings_read_as_hookyard_yaml() {
        let value = serde_json::json!({
            "listen": ["127.0.0.1:8080"],
            "admin": null,
            "health_path": "/_hookyard/health",
            "timeouts": {"idle": {"secs": 60, "nanos": 0}, "hook": {"secs": 0, "nanos": 250_000_000},
                         "long": {"secs": 7200, "nanos": 0}, "odd": {"secs": 90, "nanos": 0}},
            "certificates": [{"cert": "a.pem", "names": []}],
            "via_hostname": "true",
            "level": "warn,hookyard=info",
        });
        let mut out = String::new();
        settings(&mut out, &value, 0);
        assert_eq!(
            out,
            "admin: ~\ncertificates:\n  - {\"cert\":\"a.pem\",\"names\":[]}\n\
             health_path: /_hookyard/health\nlevel: \"warn,hookyard=info\"\n\
             listen: [127.0.0.1:8080]\ntimeouts:\n  hook: 250ms\n  idle: 1m\n  long: 2h\n  \
             odd: 90s\nvia_hostname: \"true\"\n"
        );
    }
}
