//! systemd integration: the notifications a `Type=notify` service sends (`sd_notify(3)`), read
//! from a datagram socket standing in for the service manager.

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::cli::hookyard;
use crate::support::{DEADLINE, write};

/// The next notification, failing past [`DEADLINE`].
fn next(socket: &UnixDatagram) -> String {
    let mut buffer = [0u8; 4096];
    let n = socket.recv(&mut buffer).expect("a notification in time");
    String::from_utf8_lossy(&buffer[..n]).into_owned()
}

#[test]
fn ready_reloading_and_stopping_are_notified() {
    let root = tempfile::tempdir().unwrap();
    write(root.path(), "hookyard.yaml", "workers: 1\ndrain: {grace: 0, deadline: 5s}\n");
    let path = root.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    socket.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut child = hookyard(root.path())
        .args(["run", "--config", ".", "--listen", "127.0.0.1:0", "--admin", "a.sock"])
        .env("NOTIFY_SOCKET", &path)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ready = next(&socket);
    assert!(ready.lines().any(|l| l == "READY=1"), "{ready}");
    // Ready means listening: the control socket answers at once.
    let status = hookyard(root.path()).args(["ctl", "--admin", "a.sock", "status"]).output();
    assert!(status.unwrap().status.success());

    let hup = Command::new("kill").args(["-HUP", &child.id().to_string()]).status().unwrap();
    assert!(hup.success());
    let reloading = next(&socket);
    assert!(reloading.lines().any(|l| l == "RELOADING=1"), "{reloading}");
    let reloaded = next(&socket);
    assert!(reloaded.lines().any(|l| l == "READY=1"), "{reloaded}");
    assert!(reloaded.contains("STATUS=reloaded: generation 2"), "{reloaded}");

    let drain = hookyard(root.path()).args(["ctl", "--admin", "a.sock", "drain"]).output();
    assert!(drain.unwrap().status.success());
    let stopping = next(&socket);
    assert!(stopping.lines().any(|l| l == "STOPPING=1"), "{stopping}");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(start.elapsed() < DEADLINE, "the drained proxy did not exit");
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    assert!(status.success(), "{status}");
}

/// Socket activation by `systemd-socket-activate` (systemd's own launcher): the proxy serves on
/// the socket it passes (`LISTEN_FDS`), the connection that started it included, and binds none.
#[test]
fn serves_on_the_sockets_systemd_passes() {
    if Command::new("systemd-socket-activate").arg("--help").output().is_err() {
        eprintln!("skipped: systemd-socket-activate is not installed");
        return;
    }
    let root = tempfile::tempdir().unwrap();
    write(root.path(), "hookyard.yaml", "workers: 2\nlisten: [127.0.0.1:1]\ndrain: {grace: 0}\n");
    // The launcher needs a port of its own choosing: a free one, taken again at once (a clash
    // with another process in between fails its bind, and the loop tries another).
    let (mut launcher, addr) = (0..5)
        .find_map(|_| {
            let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
            let mut launcher = Command::new("systemd-socket-activate")
                .args(["-l", &port.to_string(), "--fdname=http"])
                .arg(env!("CARGO_BIN_EXE_hookyard"))
                .args(["run", "--config", ".", "--admin", "a.sock"])
                .current_dir(root.path())
                .env_remove("RUST_LOG")
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let start = Instant::now();
            while start.elapsed() < DEADLINE {
                if std::net::TcpStream::connect(port).is_ok() {
                    return Some((launcher, port));
                }
                if launcher.try_wait().unwrap().is_some() {
                    return None;
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            let _ = (launcher.kill(), launcher.wait());
            None
        })
        .expect("systemd-socket-activate listens");
    // The first connection started the proxy; this one is served by it.
    let answer = crate::cli::http_get(&addr.to_string(), "x", "/_hookyard/health");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let status =
        hookyard(root.path()).args(["ctl", "--admin", "a.sock", "--json", "status"]).output();
    let status: serde_json::Value = serde_json::from_slice(&status.unwrap().stdout).unwrap();
    assert_eq!(status["listen"], serde_json::json!([addr.to_string()]), "not hookyard.yaml's");
    let drain = hookyard(root.path()).args(["ctl", "--admin", "a.sock", "drain"]).output();
    assert!(drain.unwrap().status.success());
    let start = Instant::now();
    let exited = loop {
        if let Some(status) = launcher.try_wait().unwrap() {
            break status;
        }
        assert!(start.elapsed() < DEADLINE, "the drained proxy did not exit");
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    assert!(exited.success(), "{exited}");
}
