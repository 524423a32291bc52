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
        "hooks" => hooks(&mut out, result),
        "plugins" => plugins(&mut out, result),
        "retire" => retired(&mut out, result),
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
