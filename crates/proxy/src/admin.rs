//! The control channel: JSON-RPC 2.0 over a Unix socket created 0600, one request per line and
//! one answer per line.
//!
//! Methods: `reload`, `status`, `config`, `rules`, `plugins`, `retire` (`{"name", "force"}`),
//! `plugin_msg` (`{"name", "tag", "data"}`), `hooks`, `metrics` (the Prometheus page as one
//! string), `log_level` (`{"level"}` optional), `drain`, and `takeover` (`server/handover.rs`:
//! the listening sockets go with the answer).

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::watch;
use tracing::{debug, info, warn};

use crate::control::Control;
use crate::limit::Permit;

/// The longest request line read.
const MAX_REQUEST: usize = 64 * 1024;

/// Creates the socket 0600 without a window in which it has other permissions: bound under a
/// temporary name, restricted, then renamed into place. A stale socket (nobody answers) is
/// replaced; a live one is an error.
///
/// The socket's directory is created 0700 when missing, and must be private to this user either
/// way (`hookyard_dso::ensure_private_dir`): whoever else can write there could replace the socket.
///
/// # Errors
///
/// Why the socket (or its private directory) cannot be had.
pub(crate) fn bind(path: &Path) -> std::io::Result<UnixListener> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        hookyard_dso::ensure_private_dir(dir).map_err(|e| {
            std::io::Error::new(std::io::ErrorKind::PermissionDenied, e.to_string())
        })?;
    }
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                "another hookyard answers on it",
            ));
        }
        std::fs::remove_file(path)?;
    }
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".{}.tmp", std::process::id()));
    let temporary = PathBuf::from(temporary);
    let _ = std::fs::remove_file(&temporary);
    let listener = UnixListener::bind(&temporary)?;
    let placed = std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(0o600))
        .and_then(|()| std::fs::rename(&temporary, path))
        .and_then(|()| listener.set_nonblocking(true));
    if let Err(e) = placed {
        let _ = std::fs::remove_file(&temporary);
        return Err(e);
    }
    Ok(listener)
}

pub(crate) async fn serve(
    listener: UnixListener,
    path: PathBuf,
    control: Arc<Control>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut handed_over = control.handover.subscribe();
    let listener = match tokio::net::UnixListener::from_std(listener) {
        Ok(listener) => listener,
        Err(e) => {
            warn!(error = %e, "cannot register the control socket");
            return;
        }
    };
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let Some(permit) = control.limits.admin.admit() else { continue };
                    let idle = control.reloader.serving().load().config.settings.timeouts.idle;
                    tokio::spawn(session(stream, control.clone(), idle, permit));
                }
                Err(e) => {
                    warn!(error = %e, "control socket accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            changed = stopped.changed() => if changed.is_err() || *stopped.borrow() { break },
            // The successor serves the socket now (its own descriptor of it, or its own
            // socket at another path).
            () = async { let _ = handed_over.wait_for(|handed| *handed).await; } => {
                // Its clients are the successor's now; the sessions open here (the successor's
                // own, which waits for its answer) are served until the server stops.
                drop(listener);
                let _ = stopped.wait_for(|stopped| *stopped).await;
                break;
            }
        }
    }
    if !control.handover.took_admin() {
        let _ = std::fs::remove_file(&path);
    }
}

/// One client of the control socket, until it closes, sends nothing for `idle` (a silent or
/// half-sent request line), or fails.
async fn session(stream: tokio::net::UnixStream, control: Arc<Control>, idle: Duration, _: Permit) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let mut line = String::new();
    // This client took the sockets over: its `drain` hands the server over.
    let mut successor = false;
    loop {
        line.clear();
        let mut limited = (&mut lines).take(MAX_REQUEST as u64);
        match tokio::time::timeout(idle, limited.read_line(&mut line)).await {
            Ok(Ok(0)) => return,
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                debug!(error = %e, "control session read failed");
                return;
            }
            Err(_) => {
                debug!(?idle, "control session idle; closed");
                return;
            }
        }
        if line.trim().is_empty() {
            continue;
        }
        if let Some((id, admin)) = takeover_request(&line) {
            info!("takeover requested on the control socket");
            let offered = if control.drain.is_draining() {
                Err("this server drains: nothing to take over".to_owned())
            } else {
                control.handover.offer(id.clone(), admin.as_deref(), &write).await
            };
            match offered {
                Ok(()) => {
                    successor = true;
                    continue;
                }
                Err(reason) => {
                    warn!(%reason, "takeover refused");
                    let mut bytes = error(id, -32000, &reason).to_string().into_bytes();
                    bytes.push(b'\n');
                    if write.write_all(&bytes).await.is_err() {
                        return;
                    }
                    continue;
                }
            }
        }
        if successor && is_method(&line, "drain") {
            if !control.handover.commit() {
                let id =
                    serde_json::from_str::<Value>(&line).ok().and_then(|r| r.get("id").cloned());
                let refusal =
                    error(id.unwrap_or(Value::Null), -32000, "another successor took over first");
                let mut bytes = refusal.to_string().into_bytes();
                bytes.push(b'\n');
                if write.write_all(&bytes).await.is_err() {
                    return;
                }
                continue;
            }
            info!("the successor serves: handing over and draining");
        }
        let answer = answer(&line, &control).await;
        let mut bytes = answer.to_string().into_bytes();
        bytes.push(b'\n');
        if write.write_all(&bytes).await.is_err() {
            return;
        }
    }
}

/// A `takeover` request's id and the successor's control socket path.
fn takeover_request(line: &str) -> Option<(Value, Option<PathBuf>)> {
    let request: Value = serde_json::from_str(line).ok()?;
    if request.get("method")? != "takeover" || request.get("jsonrpc")? != "2.0" {
        return None;
    }
    let admin = request.pointer("/params/admin").and_then(Value::as_str).map(PathBuf::from);
    Some((request.get("id").cloned().unwrap_or(Value::Null), admin))
}

/// Whether `line` is a request for `method`.
fn is_method(line: &str, method: &str) -> bool {
    serde_json::from_str::<Value>(line)
        .is_ok_and(|r| r.get("method").and_then(Value::as_str) == Some(method))
}

/// Answers one JSON-RPC request (notifications, without `id`, are answered too: a client that
/// sends one still gets a line, which keeps the line protocol simple).
async fn answer(line: &str, control: &Arc<Control>) -> Value {
    let request: Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => return error(Value::Null, -32700, &format!("parse error: {e}")),
    };
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    if request.get("jsonrpc") != Some(&json!("2.0")) {
        return error(id, -32600, "invalid request: `jsonrpc` must be \"2.0\"");
    }
    let Some(method) = request.get("method").and_then(Value::as_str) else {
        return error(id, -32600, "invalid request: `method` must be a string");
    };
    let result = match method {
        "reload" => {
            info!("reload requested on the control socket");
            let control = control.clone();
            match tokio::task::spawn_blocking(move || control.reloader.reload()).await {
                Ok(report) => serde_json::to_value(report),
                Err(e) => return error(id, -32603, &format!("reload failed: {e}")),
            }
        }
        "status" => serde_json::to_value(control.status()),
        "config" => control.effective_settings(),
        "metrics" => serde_json::to_value(crate::metrics::render(control)),
        "log_level" => match log_level(&request) {
            Ok(level) => serde_json::to_value(json!({ "level": level })),
            Err(e) => return error(id, -32000, &e),
        },
        "retire" => {
            let Some(name) = request.pointer("/params/name").and_then(Value::as_str) else {
                return error(id, -32602, "invalid params: `retire` needs `name`, a string");
            };
            let force = request.pointer("/params/force").and_then(Value::as_bool).unwrap_or(false);
            info!(plugin = name, force, "plugin retirement requested on the control socket");
            match control.reloader.retire(name, force) {
                Ok(retired) => serde_json::to_value(retired),
                Err(unknown) => return error(id, -32602, &unknown.to_string()),
            }
        }
        "plugin_msg" => {
            let text =
                |key: &str| request.pointer(&format!("/params/{key}")).and_then(Value::as_str);
            let (Some(name), Some(tag)) = (text("name"), text("tag")) else {
                return error(
                    id,
                    -32602,
                    "invalid params: `plugin_msg` needs `name` and `tag`, strings",
                );
            };
            let data = text("data").unwrap_or_default().as_bytes().to_vec();
            let hooks = control.reloader.serving().load().hooks.clone();
            let known = hooks.plugin_names();
            if name != "*" && !known.iter().any(|k| k == name) {
                let known = if known.is_empty() { "none".to_owned() } else { known.join(", ") };
                return error(
                    id,
                    -32602,
                    &format!("no plugin `{name}` is loaded (loaded: {known})"),
                );
            }
            info!(plugin = name, tag, "plugin message sent on the control socket");
            let (name, tag) = (name.to_owned(), tag.to_owned());
            let to = (name != "*").then_some(name);
            // Plugin code runs: off the control runtime's thread.
            let delivery =
                tokio::task::spawn_blocking(move || hooks.message(to.as_deref(), &tag, &data));
            match delivery.await {
                Ok(d) => Ok(json!({
                    "delivered": d.delivered,
                    "replies": d.replies.iter().map(|(plugin, text)| json!({"plugin": plugin, "text": text})).collect::<Vec<_>>(),
                })),
                Err(e) => return error(id, -32603, &format!("message delivery failed: {e}")),
            }
        }
        "drain" => {
            info!("drain requested on the control socket");
            serde_json::to_value(control.drain())
        }
        "rules" => serde_json::to_value(control.rules()),
        "hosts" => serde_json::to_value(control.hosts()),
        "host_down" | "host_up" => {
            let text =
                |key: &str| request.pointer(&format!("/params/{key}")).and_then(Value::as_str);
            let Some(name) = text("name") else {
                return error(
                    id,
                    -32602,
                    &format!("invalid params: `{method}` needs `name`, a string"),
                );
            };
            let reason = (method == "host_down").then(|| text("reason").unwrap_or("manual"));
            info!(host = name, reason, "host marked on the control socket");
            match control.mark_host(name, reason) {
                Ok(changed) => serde_json::to_value(changed),
                Err(unknown) => return error(id, -32602, &unknown.to_string()),
            }
        }
        "plugins" => serde_json::to_value(control.reloader.plugins()),
        "hooks" if request.pointer("/params/txn_sample") == Some(&json!(true)) => {
            match control.sampler.next(std::time::Duration::from_secs(10)).await {
                Some(sample) => serde_json::to_value(sample),
                None => {
                    return error(id, -32000, "no transaction arrived within 10 s to sample");
                }
            }
        }
        "hooks" => serde_json::to_value(control.hooks()),
        other => {
            return error(
                id,
                -32601,
                &format!(
                    "method not found: `{other}` (expected reload, status, config, rules, hosts, host_down, host_up, plugins, retire, plugin_msg, hooks, metrics, log_level, drain, takeover)"
                ),
            );
        }
    };
    match result {
        Ok(result) => json!({ "jsonrpc": "2.0", "id": id, "result": result }),
        Err(e) => error(id, -32603, &format!("internal error: {e}")),
    }
}

/// `log_level`: the process's log filter, replaced first by `params.level` when given.
fn log_level(request: &Value) -> Result<String, String> {
    let log = crate::log::installed().map_err(|e| e.to_string())?;
    if let Some(level) = request.pointer("/params/level") {
        let Some(level) = level.as_str() else {
            return Err("invalid params: `level` must be a string".to_owned());
        };
        log.set_level(level).map_err(|e| {
            let mut text = e.to_string();
            if let Some(cause) = std::error::Error::source(&e) {
                text = format!("{text}: {cause}");
            }
            text
        })?;
        info!(level, "log filter changed on the control socket");
    }
    Ok(log.level())
}

fn error(id: Value, code: i64, message: &str) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message } })
}
