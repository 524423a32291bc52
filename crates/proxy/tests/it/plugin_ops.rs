//! ABI 1.4 through the proxy with a C plugin (`ops_probe.c`): access log fields (TXN_CLOSE's
//! included), statistics on the metrics page (kept across a reload that loads a new version),
//! and `hookyard ctl plugin msg NAME|* TAG [DATA]` delivering on LIFECYCLE_MSG with replies.

use std::path::Path;
use std::process::{Command, Output};

use hookyard_fixtures::{abi_include_dir, compile_c_with};
use hookyard_proxy::AdminSocket;

use crate::support::{Origin, config_dir, exchange, proxy_with, wait_for, write};

/// Builds `ops_probe.c` as plugin `name` (build `build`) into `dir/plugins/FILE`, replacing
/// it by a rename (as an operator deploys).
fn build(dir: &Path, name: &str, build: &str, file: &str) {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/plugins/ops_probe.c");
    let tmp = dir.join("plugins").join(format!("{file}.new"));
    let defines = [format!("-DPROBE_NAME=\"{name}\""), format!("-DPROBE_BUILD=\"{build}\"")];
    let defines: Vec<&str> = defines.iter().map(String::as_str).collect();
    compile_c_with(&source, &defines, &[&abi_include_dir()], &tmp);
    std::fs::rename(&tmp, dir.join("plugins").join(file)).unwrap();
}

/// `hookyard ctl --admin SOCKET ARGS...`, from a blocking thread.
async fn ctl(socket: &Path, args: &[&str]) -> Output {
    let (socket, args) =
        (socket.to_owned(), args.iter().map(|a| a.to_string()).collect::<Vec<_>>());
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_hookyard"))
            .args(["ctl", "--admin"])
            .arg(&socket)
            .args(&args)
            .env("RUST_LOG", "off")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn metric(text: &str, series: &str) -> Option<String> {
    text.lines().find_map(|l| Some(l.strip_prefix(series)?.strip_prefix(' ')?.to_owned()))
}

#[tokio::test]
async fn log_fields_stats_and_operator_messages() {
    let origin = Origin::start("o").await;
    let remap = format!("map http://site.test/ http://{}/\n", origin.addr);
    let dir = config_dir(&[
        ("remap.config", &remap),
        ("plugin.yaml", "plugins:\n  - path: ops_a.so\n  - path: ops_b.so\n"),
    ]);
    std::fs::create_dir(dir.path().join("plugins")).unwrap();
    build(dir.path(), "ops_a", "1", "ops_a.so");
    build(dir.path(), "ops_b", "1", "ops_b.so");
    let yaml = format!(
        "runtime_dir: {}\nplugin_dirs: [{}]\naccess_log: {{path: access.log, format: json}}\n",
        dir.path().join("run").display(),
        dir.path().join("plugins").display()
    );
    write(dir.path(), "hookyard.yaml", &yaml);
    let socket = dir.path().join("run/admin.sock");
    let proxy = proxy_with(Some(dir.path()), AdminSocket::At(socket.clone()));
    let addr = proxy.addrs()[0];
    let request =
        "GET /x HTTP/1.1\r\nHost: site.test\r\nX-Log-Tag: blue\r\nConnection: close\r\n\r\n";
    assert!(exchange(addr, request.as_bytes()).await.starts_with("HTTP/1.1 200"));

    // The access log line has both plugins' fields, TXN_CLOSE's included.
    let log = dir.path().join("access.log");
    wait_for("the access log line", || std::fs::read_to_string(&log).is_ok_and(|t| !t.is_empty()))
        .await;
    let line: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&log).unwrap().trim()).unwrap();
    assert_eq!(
        line["plugin"],
        serde_json::json!({"probe": "seen", "tag": "blue", "closed": "yes"}),
        "{line}"
    );

    // Statistics, by plugin name.
    let text = proxy.metrics_text();
    assert!(text.contains("# TYPE hookyard_plugin_stat untyped"), "{text}");
    for plugin in ["ops_a", "ops_b"] {
        let requests = format!("hookyard_plugin_stat{{plugin=\"{plugin}\",stat=\"requests\"}}");
        assert_eq!(metric(&text, &requests).as_deref(), Some("1"), "{text}");
    }
    let last_len = "hookyard_plugin_stat{plugin=\"ops_a\",stat=\"last_len\"}";
    assert_eq!(metric(&text, last_len).as_deref(), Some("0"));

    // A message to one plugin, with data: its reply is printed.
    let output = ctl(&socket, &["plugin", "msg", "ops_a", "hello", "world"]).await;
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        stdout(&output),
        "delivered to 1 callback(s): ops_a\nops_a: ops_a/1 got hello [world] requests=1\n"
    );
    assert_eq!(metric(&proxy.metrics_text(), last_len).as_deref(), Some("5"));
    // To every plugin, without data.
    let output = ctl(&socket, &["plugin", "msg", "*", "ping"]).await;
    assert!(output.status.success(), "{output:?}");
    let text = stdout(&output);
    assert!(text.starts_with("delivered to 2 callback(s): "), "{text}");
    assert!(text.contains("ops_a: ops_a/1 got ping [] requests=1\n"), "{text}");
    assert!(text.contains("ops_b: ops_b/1 got ping [] requests=1\n"), "{text}");
    // A callback that answers ERROR and replies nothing.
    let output = ctl(&socket, &["plugin", "msg", "ops_b", "refuse"]).await;
    assert!(output.status.success(), "{output:?}");
    assert_eq!(stdout(&output), "delivered to 1 callback(s): ops_b\n");
    // An unknown plugin: an error naming the loaded ones, exit 1.
    let output = ctl(&socket, &["plugin", "msg", "nosuch", "hello"]).await;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no plugin `nosuch` is loaded (loaded: ops_a, ops_b)"), "{stderr}");
    // The raw result, for scripts.
    let output = ctl(&socket, &["--json", "plugin", "msg", "ops_a", "t", "d"]).await;
    let v: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(v["delivered"], serde_json::json!(["ops_a"]));
    assert_eq!(v["replies"][0]["text"], "ops_a/1 got t [d] requests=1");

    // A new build of ops_a, loaded by a reload: its statistics go on where the old left off.
    build(dir.path(), "ops_a", "2", "ops_a.so");
    assert!(proxy.reload().ok);
    assert!(exchange(addr, request.as_bytes()).await.starts_with("HTTP/1.1 200"));
    let output = ctl(&socket, &["plugin", "msg", "ops_a", "again"]).await;
    assert_eq!(
        stdout(&output),
        "delivered to 1 callback(s): ops_a\nops_a: ops_a/2 got again [] requests=2\n"
    );
    let text = proxy.metrics_text();
    let requests = "hookyard_plugin_stat{plugin=\"ops_a\",stat=\"requests\"}";
    assert_eq!(metric(&text, requests).as_deref(), Some("2"), "{text}");

    // The fields in a format_string, a missing one as `-`.
    let format = "'%<cqhm> %<{tag}plf> %<{probe}plf> %<{closed}plf> %<{missing}plf>'";
    let yaml = yaml.replace("format: json", &format!("format_string: {format}"));
    write(dir.path(), "hookyard.yaml", &yaml);
    assert!(proxy.reload().ok);
    assert!(exchange(addr, request.as_bytes()).await.starts_with("HTTP/1.1 200"));
    wait_for("the custom line", || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.lines().count() == 3)
    })
    .await;
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.lines().nth(2), Some("GET blue seen yes -"), "{text}");
}
