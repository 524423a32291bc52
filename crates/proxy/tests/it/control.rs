//! The control channel: JSON-RPC over a 0600 Unix socket, `hookyard ctl`, and metrics.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::process::Command;

use hookyard_proxy::{AdminSocket, Server, ServerConfig, ctl};

use crate::support::{config_dir, get, proxy_with};

#[tokio::test]
async fn reload_status_rules_plugins_and_hooks_methods() {
    let dir = config_dir(&[("remap.config", "map http://www.example.com/ http://127.0.0.1:9/\n")]);
    let socket = dir.path().join("run/admin.sock");
    let proxy = proxy_with(Some(dir.path()), AdminSocket::At(socket.clone()));
    assert_eq!(std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777, 0o600);

    let socket2 = socket.clone();
    let (status, rules, reload, plugins, hooks) = tokio::task::spawn_blocking(move || {
        (
            ctl::call(&socket2, "status").unwrap(),
            ctl::call(&socket2, "rules").unwrap(),
            ctl::call(&socket2, "reload").unwrap(),
            ctl::call(&socket2, "plugins").unwrap(),
            ctl::call(&socket2, "hooks").unwrap(),
        )
    })
    .await
    .unwrap();
    assert_eq!(status["generation"], 1);
    assert_eq!(status["workers"], 2);
    assert_eq!(rules[0]["rule"], "map http://www.example.com/ http://127.0.0.1:9/");
    assert!(rules[0]["at"].as_str().unwrap().ends_with("remap.config:1"), "{rules}");
    assert_eq!(rules[0]["plugins"], serde_json::json!([]), "a rule without plugins");
    assert_eq!(reload["ok"], true);
    assert_eq!(reload["generation"], 2);
    assert_eq!(reload["files"][1]["status"], "loaded");
    assert_eq!(plugins, serde_json::json!([]), "no plugin loaded");
    assert_eq!(ctl::render("plugins", &plugins), "no plugin loaded\n");
    assert_eq!(hooks, serde_json::json!([]), "no global plugin, no callbacks");
    assert_eq!(ctl::render("hooks", &hooks), "no hook callbacks\n");
    assert_eq!(proxy.generation().id, 2);

    // Raw JSON-RPC: errors for an unknown method and for a line that is not JSON.
    let socket2 = socket.clone();
    let answers = tokio::task::spawn_blocking(move || {
        let mut stream = UnixStream::connect(&socket2).unwrap();
        stream
            .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"dance\"}\nnot json\n")
            .unwrap();
        let mut reader = BufReader::new(stream);
        let mut lines = Vec::new();
        for _ in 0..2 {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            lines.push(serde_json::from_str::<serde_json::Value>(&line).unwrap());
        }
        lines
    })
    .await
    .unwrap();
    assert_eq!(answers[0]["id"], 7);
    assert_eq!(answers[0]["error"]["code"], -32601);
    assert_eq!(answers[1]["error"]["code"], -32700);

    // The command-line client.
    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_hookyard"))
            .args(["ctl", "--admin"])
            .arg(&socket)
            .arg("status")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("generation      2"), "{text}");
}

#[tokio::test]
async fn metrics_are_served_in_prometheus_text() {
    let handle = Server::start(ServerConfig {
        config_dir: None,
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        listen_tls: Vec::new(),
        admin: AdminSocket::Off,
        metrics: Some("127.0.0.1:0".parse().unwrap()),
        workers: Some(1),
    })
    .unwrap();
    assert_eq!(get(handle.addrs()[0], "localhost", "/nothing").await.status, 404);
    let metrics = get(handle.metrics_addr().unwrap(), "localhost", "/metrics").await;
    assert_eq!(metrics.status, 200);
    for series in [
        "hookyard_responses_total{class=\"4xx\"} 1",
        "hookyard_generation 1",
        "hookyard_reloads_total{result=\"failed\"} 0",
        "hookyard_connections ",
        "hookyard_transactions_in_flight 0",
    ] {
        assert!(metrics.body.contains(series), "missing {series} in:\n{}", metrics.body);
    }
}

/// Whether the tests run as root (needed to give a file to another user); says so otherwise.
fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    let root = std::fs::metadata("/proc/self").unwrap().uid() == 0;
    if !root {
        eprintln!("not root: cannot chown to another user; this test checks nothing here");
    }
    root
}

#[tokio::test]
async fn ctl_refuses_a_socket_owned_by_another_user() {
    if !is_root() {
        return;
    }
    let dir = config_dir(&[]);
    let socket = dir.path().join("run/admin.sock");
    let _proxy = proxy_with(Some(dir.path()), AdminSocket::At(socket.clone()));
    std::os::unix::fs::chown(&socket, Some(65534), Some(65534)).unwrap();
    let (err, output) = tokio::task::spawn_blocking(move || {
        let err = ctl::call(&socket, "reload").unwrap_err();
        let output = Command::new(env!("CARGO_BIN_EXE_hookyard"))
            .args(["ctl", "--admin"])
            .arg(&socket)
            .arg("status")
            .env("RUST_LOG", "off")
            .output()
            .unwrap();
        (err, output)
    })
    .await
    .unwrap();
    assert!(matches!(err, ctl::CtlError::Untrusted { owner: 65534, .. }), "{err:?}");
    assert!(err.to_string().contains("owned by uid 65534"), "{err}");
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("refusing to talk to"), "{stderr}");
    assert!(stderr.contains("owned by uid 65534"), "{stderr}");
}

#[test]
fn a_control_socket_directory_another_user_owns_is_refused() {
    if !is_root() {
        return;
    }
    let dir = config_dir(&[]);
    let run = dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    std::os::unix::fs::chown(&run, Some(65534), Some(65534)).unwrap();
    let Err(err) = Server::start(ServerConfig {
        config_dir: Some(dir.path().to_owned()),
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        listen_tls: Vec::new(),
        admin: AdminSocket::At(run.join("admin.sock")),
        metrics: None,
        workers: Some(1),
    }) else {
        panic!("must be refused");
    };
    let message = anyhow_chain(&err);
    assert!(message.contains("owned by uid 65534"), "{message}");
    assert!(message.contains(&run.display().to_string()), "{message}");
    assert!(!run.join("admin.sock").exists());
}

#[test]
fn a_control_socket_directory_others_can_write_is_refused() {
    let dir = config_dir(&[]);
    let run = dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o777)).unwrap();
    let Err(err) = Server::start(ServerConfig {
        config_dir: Some(dir.path().to_owned()),
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        listen_tls: Vec::new(),
        admin: AdminSocket::At(run.join("admin.sock")),
        metrics: None,
        workers: Some(1),
    }) else {
        panic!("must be refused");
    };
    let message = anyhow_chain(&err);
    assert!(message.contains("mode 0777"), "{message}");
    assert!(!run.join("admin.sock").exists());
}

#[test]
fn root_defaults_to_var_lib_hookyard_without_xdg_runtime_dir() {
    if !is_root() {
        return;
    }
    let ctl = |xdg: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_hookyard"));
        command.args(["ctl", "status"]).env("RUST_LOG", "off").env_remove("XDG_RUNTIME_DIR");
        if let Some(xdg) = xdg {
            command.env("XDG_RUNTIME_DIR", xdg);
        }
        let output = command.output().unwrap();
        assert!(!output.status.success());
        String::from_utf8(output.stderr).unwrap()
    };
    let stderr = ctl(None);
    assert!(stderr.contains("/var/lib/hookyard/admin.sock"), "{stderr}");
    let xdg = tempfile::tempdir().unwrap();
    let stderr = ctl(Some(xdg.path().to_str().unwrap()));
    let expected = xdg.path().join("hookyard/admin.sock");
    assert!(stderr.contains(&expected.display().to_string()), "{stderr}");
}

/// An error and its sources, one after the other.
fn anyhow_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
