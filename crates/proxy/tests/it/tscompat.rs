//! ATS plugins rebuilt with the compatibility layer (`crates/tscompat`, the builder behind
//! `cargo xtask ts-plugin`), run through the proxy and asked with curl; and proof that the same
//! sources are genuine ATS plugins: they compile against Debian's trafficserver-dev headers.

use std::path::{Path, PathBuf};
use std::process::Command;

use hookyard_proxy::AdminSocket;
use tempfile::TempDir;

use crate::support::{Origin, config_dir, proxy, proxy_with, wait_for, write};

fn source(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tscompat/plugins").join(name)
}

/// A configuration directory with `files`, whose plugin directory holds the ATS plugins
/// `sources` built as `<stem>.so`.
fn setup(files: &[(&str, &str)], sources: &[&str]) -> TempDir {
    let named: Vec<(&str, String)> = sources
        .iter()
        .map(|s| (*s, Path::new(s).with_extension("so").to_str().unwrap().to_owned()))
        .collect();
    let named: Vec<(&str, &str)> = named.iter().map(|(s, o)| (*s, o.as_str())).collect();
    setup_named(files, &named)
}

/// As [`setup`], each source built under the given file name: statistics belong to a plugin's
/// name, so tests that run in one process and count give their plugin a name of their own.
fn setup_named(files: &[(&str, &str)], sources: &[(&str, &str)]) -> TempDir {
    let dir = config_dir(files);
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    let yaml = format!(
        "runtime_dir: {}\nplugin_dirs: [{}]\n",
        dir.path().join("run").display(),
        plugins.display()
    );
    write(dir.path(), "hookyard.yaml", &yaml);
    for (name, out) in sources {
        hookyard_tscompat::build_plugin(&[source(name)], &plugins.join(out)).unwrap();
    }
    dir
}

/// `curl -i` of `url` with `args`: the status line and header lines, and the body.
async fn curl(url: String, args: &[&str]) -> (Vec<String>, String) {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "-i", "--max-time", "10"]).args(args).arg(url);
    let output = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "curl: {}", String::from_utf8_lossy(&output.stderr));
    let (head, body) = text.split_once("\r\n\r\n").expect("a response head");
    (head.lines().map(str::to_owned).collect(), body.to_owned())
}

/// `hookyard ctl --admin SOCKET ARGS...`, from a blocking thread.
async fn ctl(socket: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hookyard"));
    cmd.args(["ctl", "--admin"]).arg(socket).args(args).env("RUST_LOG", "off");
    tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap()
}

fn header<'a>(head: &'a [String], name: &str) -> Vec<&'a str> {
    head.iter()
        .filter_map(|l| l.split_once(": "))
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
        .collect()
}

#[tokio::test]
async fn remap_plugin_instances_set_their_own_fields() {
    let origin = Origin::start("o").await;
    let remap = format!(
        "map http://a.test/ http://{0}/ @plugin=set_header_remap.so @pparam=X-Rule:a \
         @pparam=X-Team:blue\n\
         map http://b.test/ http://{0}/ @plugin=set_header_remap.so @pparam=X-Rule:b\n\
         map http://c.test/ http://{0}/ @plugin=set_header_remap.so @pparam=prefix=v2\n",
        origin.addr
    );
    let dir = setup(&[("remap.config", &remap)], &["set_header_remap.c"]);
    let proxy = proxy(Some(dir.path()));
    let url = format!("http://{}/headers", proxy.addrs()[0]);

    let (head, body) = curl(url.clone(), &["-H", "Host: a.test", "-H", "X-Rule: client"]).await;
    assert!(head[0].contains(" 200"), "{head:?}");
    let lines: Vec<&str> = body.lines().filter(|l| l.starts_with("x-")).collect();
    assert_eq!(lines, ["x-instance-count: 1", "x-remap-from: a.test", "x-rule: a", "x-team: blue"]);

    let (_, body) = curl(url.clone(), &["-H", "Host: b.test"]).await;
    let lines: Vec<&str> = body.lines().filter(|l| l.starts_with("x-")).collect();
    assert_eq!(lines, ["x-instance-count: 1", "x-remap-from: b.test", "x-rule: b"]);
    // Each instance keeps its own count.
    let (_, body) = curl(url, &["-H", "Host: a.test"]).await;
    assert!(body.contains("x-instance-count: 2"), "{body}");
    // An instance that rewrites the path (TSUrlPathGet/Set on the request URL).
    let page = format!("http://{}/page?q=1", proxy.addrs()[0]);
    let (_, body) = curl(page, &["-H", "Host: c.test"]).await;
    assert!(body.starts_with("o GET /v2/page?q=1 "), "{body}");
}

#[tokio::test]
async fn remap_plugin_refuses_bad_parameters_with_its_message() {
    let remap = "map http://a.test/ http://127.0.0.1:9/ @plugin=set_header_remap.so \
                 @pparam=no-colon\n";
    let dir = setup(&[("remap.config", remap)], &["set_header_remap.c"]);
    let output = Command::new(env!("CARGO_BIN_EXE_hookyard"))
        .args(["check", "--config"])
        .arg(dir.path())
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stdout) + String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("argument 1: expected NAME:VALUE, got \"no-colon\""), "{stderr}");
}

#[tokio::test]
async fn global_plugin_rewrites_request_and_response_headers() {
    let origin = Origin::start("o").await;
    let remap = format!("map http://site.test/ http://{}/\n", origin.addr);
    let plugin_yaml = "plugins:\n  - path: rewrite_headers.so\n    params: [ts-compat-test]\n";
    let dir =
        setup(&[("remap.config", &remap), ("plugin.yaml", plugin_yaml)], &["rewrite_headers.c"]);
    let proxy = proxy(Some(dir.path()));
    let url = format!("http://{}/headers", proxy.addrs()[0]);

    let (head, body) = curl(
        url,
        &[
            "-H",
            "Host: site.test",
            "-H",
            "X-Drop-One: 1",
            "-H",
            "X-Keep: yes",
            "-H",
            "X-Drop-Two: 2",
            "-H",
            "X-List: a, b, c",
            "-H",
            "X-Count: 41",
        ],
    )
    .await;
    assert_eq!(head[0], "HTTP/1.1 200 Rewritten");
    let lines: Vec<&str> = body.lines().filter(|l| l.starts_with("x-")).collect();
    assert_eq!(
        lines,
        ["x-count-next: 42", "x-count-seen: 41", "x-keep: yes", "x-list: zero, a, B, c!, end"]
    );
    assert_eq!(header(&head, "X-Request-Method"), ["GET"]);
    assert_eq!(header(&head, "X-Status-Seen"), ["200 OK"]);
    let config_dir = dir.path().canonicalize().unwrap();
    assert_eq!(header(&head, "X-Config-Dir"), [config_dir.to_str().unwrap()]);
    // The directory the plugin was found in, not the runtime copy the proxy loaded.
    let plugin_dir = config_dir.join("plugins");
    assert_eq!(header(&head, "X-Plugin-Dir"), [plugin_dir.to_str().unwrap()]);
    assert_eq!(header(&head, "X-Rewritten-By"), ["ts-compat-test"]);
    // curl sends Host, User-Agent and Accept besides the five fields above.
    assert_eq!(header(&head, "X-Request-Fields"), ["8"]);
}

#[tokio::test]
async fn error_responses_user_args_stats_and_session_hooks() {
    let origin = Origin::start("o").await;
    let remap = format!("map http://site.test/ http://{}/\n", origin.addr);
    let plugin_yaml = "plugins:\n  - path: deny_with_stats.so\n";
    let dir =
        setup(&[("remap.config", &remap), ("plugin.yaml", plugin_yaml)], &["deny_with_stats.c"]);
    let proxy = proxy(Some(dir.path()));
    let url = format!("http://{}/page", proxy.addrs()[0]);

    let (head, body) = curl(url.clone(), &["-H", "Host: site.test"]).await;
    assert!(head[0].contains(" 200"), "{head:?}");
    assert!(body.starts_with("o GET /page"), "{body}");
    assert_eq!(header(&head, "X-Request-Number"), ["1"]);
    assert_eq!(header(&head, "X-Denied"), ["0"]);
    // Registered per session from SSN_START with TSHttpSsnHookAdd.
    assert_eq!(header(&head, "X-Session-Hook"), ["1"]);

    let (head, body) = curl(url.clone(), &["-H", "Host: site.test", "-H", "X-Deny: yes"]).await;
    assert!(head[0].contains(" 403"), "{head:?}");
    assert_eq!(body, "denied by deny_with_stats\n");
    assert_eq!(header(&head, "Content-Type"), ["text/plain"]);
    assert_eq!(header(&head, "X-Request-Number"), ["2"]);
    assert_eq!(header(&head, "X-Denied"), ["1"]);

    let (head, _) = curl(url, &["-H", "Host: site.test"]).await;
    assert!(head[0].contains(" 200"), "{head:?}");
    assert_eq!(header(&head, "X-Request-Number"), ["3"]);
    assert_eq!(header(&head, "X-Denied"), ["1"]);
}

#[tokio::test]
async fn lifecycle_messages_reach_the_plugin() {
    let origin = Origin::start("o").await;
    let remap = format!("map http://site.test/ http://{}/\n", origin.addr);
    let plugin_yaml = "plugins:\n  - path: deny_msg.so\n";
    let files = [("remap.config", remap.as_str()), ("plugin.yaml", plugin_yaml)];
    let dir = setup_named(&files, &[("deny_with_stats.c", "deny_msg.so")]);
    let socket = dir.path().join("run/admin.sock");
    let proxy = proxy_with(Some(dir.path()), AdminSocket::At(socket.clone()));
    let url = format!("http://{}/page", proxy.addrs()[0]);

    let (head, _) = curl(url.clone(), &["-H", "Host: site.test"]).await;
    assert!(head[0].contains(" 200"), "{head:?}");
    let output = ctl(&socket, &["plugin", "msg", "deny_msg", "deny-all", "on"]).await;
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.starts_with("delivered to 1 callback(s): deny_msg"), "{text}");
    let (head, body) = curl(url.clone(), &["-H", "Host: site.test"]).await;
    assert!(head[0].contains(" 403"), "{head:?}");
    assert_eq!(body, "denied by deny_with_stats\n");
    let output = ctl(&socket, &["plugin", "msg", "deny_msg", "deny-all", "off"]).await;
    assert!(output.status.success(), "{output:?}");
    let (head, _) = curl(url, &["-H", "Host: site.test"]).await;
    assert!(head[0].contains(" 200"), "{head:?}");
}

/// ATS never unloads a global plugin, so its plugins leave their continuations alive; the layer
/// destroys them when hookyard is done with the version, which can then unload.
#[tokio::test]
async fn a_global_plugin_dropped_by_a_reload_unloads() {
    let origin = Origin::start("o").await;
    let remap = format!("map http://site.test/ http://{}/\n", origin.addr);
    let plugin_yaml = "plugins:\n  - path: deny_reload.so\n";
    let files = [("remap.config", remap.as_str()), ("plugin.yaml", plugin_yaml)];
    let dir = setup_named(&files, &[("deny_with_stats.c", "deny_reload.so")]);
    let proxy = proxy(Some(dir.path()));
    let loaded: Vec<(String, String, u64)> =
        proxy.plugins().into_iter().map(|p| (p.name, p.kind, p.continuations)).collect();
    // Four from TSPluginInit: the request/response handler, the session start and session
    // response handlers, and the message handler.
    assert_eq!(loaded, [("deny_reload".to_owned(), "global".to_owned(), 4)]);
    let (head, _) = curl(format!("http://{}/", proxy.addrs()[0]), &["-H", "Host: site.test"]).await;
    assert!(head[0].contains(" 200"), "{head:?}");

    write(dir.path(), "plugin.yaml", "plugins: []\n");
    let report = proxy.reload();
    assert!(report.ok, "{report:?}");
    wait_for("the dropped plugin to unload", || proxy.plugins().is_empty()).await;
}

/// curl POSTing `body` (from a file) to `url` with `args`: the head lines and the body bytes.
async fn post(url: String, body: &[u8], args: &[&str]) -> (Vec<String>, Vec<u8>) {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), body).unwrap();
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "-D", "-", "-o", "-", "--max-time", "20", "--data-binary"])
        .arg(format!("@{}", file.path().display()))
        .args(["-H", "Content-Type: text/plain", "-H", "Expect:"])
        .args(args)
        .arg(url);
    let output = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    assert!(output.status.success(), "curl: {}", String::from_utf8_lossy(&output.stderr));
    let split = output.stdout.windows(4).position(|w| w == b"\r\n\r\n").expect("a head");
    let head = String::from_utf8_lossy(&output.stdout[..split]);
    (head.lines().map(str::to_owned).collect(), output.stdout[split + 4..].to_vec())
}

/// What upper_transform makes of `body`.
fn uppered(body: &[u8]) -> Vec<u8> {
    let mut out = body.to_ascii_uppercase();
    out.extend_from_slice(format!("\n[{} bytes]", body.len()).as_bytes());
    out
}

#[tokio::test]
async fn a_response_transform_in_the_null_transform_shape_rewrites_bodies() {
    let origin = Origin::start("o").await;
    let remap = format!("map http://site.test/ http://{}/\n", origin.addr);
    let plugin_yaml = "plugins:\n  - path: upper_transform.so\n";
    let dir =
        setup(&[("remap.config", &remap), ("plugin.yaml", plugin_yaml)], &["upper_transform.c"]);
    let proxy = proxy(Some(dir.path()));
    let url = format!("http://{}/echo", proxy.addrs()[0]);
    let host = ["-H", "Host: site.test"];

    // Untouched without the field; the client's address from TSHttpTxnClientAddrGet.
    let (head, body) = post(url.clone(), b"hello, world", &host).await;
    assert!(head[0].contains(" 200"), "{head:?}");
    assert_eq!(body, b"hello, world");
    assert_eq!(header(&head, "X-Client-Addr"), ["127.0.0.1"]);

    // Small and large bodies (many chunks), finished in the handler or 20 ms later from a
    // scheduled continuation.
    let large: Vec<u8> = (0..3 * 1024 * 1024 + 17).map(|i| b"abcdefghij,\n"[i % 12]).collect();
    for mode in ["upper", "upper-later"] {
        let field = format!("X-Transform: {mode}");
        let args = ["-H", "Host: site.test", "-H", field.as_str()];
        let (head, body) = post(url.clone(), b"hello, world", &args).await;
        assert!(head[0].contains(" 200"), "{mode}: {head:?}");
        assert_eq!(String::from_utf8_lossy(&body), "HELLO, WORLD\n[12 bytes]", "{mode}");
        assert!(
            header(&head, "Content-Length").is_empty() || header(&head, "Content-Length") == ["23"]
        );
        let (head, body) = post(url.clone(), &large, &args).await;
        assert!(head[0].contains(" 200"), "{mode}: {head:?}");
        assert!(body == uppered(&large), "{mode}: {} bytes back", body.len());
        let (_, body) = post(url.clone(), b"", &args).await;
        assert_eq!(String::from_utf8_lossy(&body), "\n[0 bytes]", "{mode}");
        // The request body, on its way to the origin (which echoes it).
        let field = format!("X-Transform-Request: {mode}");
        let args = ["-H", "Host: site.test", "-H", field.as_str()];
        let (head, body) = post(url.clone(), &large, &args).await;
        assert!(head[0].contains(" 200"), "{mode}: {head:?}");
        assert!(body == uppered(&large), "{mode}: {} bytes back", body.len());
    }
}

/// Many transforms at once, half of them ended from scheduled continuations: every body right,
/// and every transform and scheduled continuation destroyed (the plugin then unloads).
#[tokio::test]
async fn concurrent_transforms_end_and_their_plugin_unloads() {
    let origin = Origin::start("o").await;
    let remap = format!("map http://site.test/ http://{}/\n", origin.addr);
    let plugin_yaml = "plugins:\n  - path: upper_many.so\n";
    let files = [("remap.config", remap.as_str()), ("plugin.yaml", plugin_yaml)];
    let dir = setup_named(&files, &[("upper_transform.c", "upper_many.so")]);
    let proxy = proxy(Some(dir.path()));
    let url = format!("http://{}/echo", proxy.addrs()[0]);
    let mut tasks = Vec::new();
    for i in 0..40 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let body: Vec<u8> = (0..(i * 5000 + 1)).map(|j| b'a' + (j % 26) as u8).collect();
            let mode = if i % 2 == 0 { "X-Transform: upper" } else { "X-Transform: upper-later" };
            let (head, got) = post(url, &body, &["-H", "Host: site.test", "-H", mode]).await;
            assert!(head[0].contains(" 200"), "{head:?}");
            assert!(got == uppered(&body), "request {i}: {} bytes back", got.len());
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    write(dir.path(), "plugin.yaml", "plugins: []\n");
    let report = proxy.reload();
    assert!(report.ok, "{report:?}");
    wait_for("the dropped plugin to unload", || proxy.plugins().is_empty()).await;
}

/// ATS's `plugin.config` lists the global plugins when there is no `plugin.yaml`: quoted
/// arguments, comments, reloads; `plugin.yaml` wins when both exist; `check` names bad lines.
#[tokio::test]
async fn an_ats_plugin_config_lists_global_plugins() {
    let origin = Origin::start("o").await;
    let remap = format!("map http://site.test/ http://{}/\n", origin.addr);
    let plugin_config = "# ATS global plugins\nrewrite_headers.so \"from plugin.config\"\n";
    let files = [("remap.config", remap.as_str()), ("plugin.config", plugin_config)];
    let dir = setup(&files, &["rewrite_headers.c"]);
    let proxy = proxy(Some(dir.path()));
    let url = format!("http://{}/headers", proxy.addrs()[0]);
    let (head, _) = curl(url.clone(), &["-H", "Host: site.test"]).await;
    assert_eq!(header(&head, "X-Rewritten-By"), ["from plugin.config"]);

    // New params need a new file, as for plugin.yaml: refused, naming plugin.config's line.
    write(dir.path(), "plugin.config", "rewrite_headers.so second\n");
    let report = proxy.reload();
    assert!(!report.ok, "{report:?}");
    assert!(report.problems.iter().any(|p| p.contains("plugin.config:1: ")), "{report:?}");
    let (head, _) = curl(url.clone(), &["-H", "Host: site.test"]).await;
    assert_eq!(header(&head, "X-Rewritten-By"), ["from plugin.config"]);

    write(dir.path(), "plugin.config", plugin_config);
    write(dir.path(), "plugin.yaml", "plugins: []\n");
    let report = proxy.reload();
    assert!(report.ok, "{report:?}");
    let warned = report.files.iter().flat_map(|f| &f.warnings).any(|w| w.contains("ignored"));
    assert!(warned, "{report:?}");
    let (head, _) = curl(url, &["-H", "Host: site.test"]).await;
    assert!(header(&head, "X-Rewritten-By").is_empty(), "{head:?}");

    std::fs::remove_file(dir.path().join("plugin.yaml")).unwrap();
    write(dir.path(), "plugin.config", "# fine\nrewrite_headers.so ok\nmissing.so\nx.so \"open\n");
    let output = Command::new(env!("CARGO_BIN_EXE_hookyard"))
        .args(["check", "--config"])
        .arg(dir.path())
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout) + String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{text}");
    assert!(text.contains("plugin.config:3: "), "{text}");
    assert!(text.contains("missing.so"), "{text}");
    assert!(text.contains("plugin.config:4: a quoted argument has no closing `\"`"), "{text}");
}

/// The value of the plugin statistic `stat` of `plugin` in the metrics text.
fn plugin_stat(text: &str, plugin: &str, stat: &str) -> Option<i64> {
    let name = format!("hookyard_plugin_stat{{plugin=\"{plugin}\",stat=\"{stat}\"}} ");
    text.lines().find_map(|l| l.strip_prefix(name.as_str())).and_then(|v| v.trim().parse().ok())
}

/// A C++ plugin: transactions held by scheduled continuations and reenabled from another
/// thread, a periodic continuation counting into a statistic, cancelled by a plugin message.
#[tokio::test]
async fn scheduled_continuations_hold_transactions_and_tick_until_cancelled() {
    let origin = Origin::start("o").await;
    let remap = format!("map http://site.test/ http://{}/\n", origin.addr);
    let plugin_yaml = "plugins:\n  - path: async_hold.so\n";
    let dir = setup(&[("remap.config", &remap), ("plugin.yaml", plugin_yaml)], &["async_hold.cc"]);
    let socket = dir.path().join("run/admin.sock");
    let proxy = proxy_with(Some(dir.path()), AdminSocket::At(socket.clone()));
    let url = format!("http://{}/headers", proxy.addrs()[0]);

    let started = std::time::Instant::now();
    let (head, body) = curl(url.clone(), &["-H", "Host: site.test", "-H", "X-Hold-Ms: 300"]).await;
    assert!(head[0].contains(" 200"), "{head:?}");
    assert!(started.elapsed() >= std::time::Duration::from_millis(300), "{:?}", started.elapsed());
    assert!(body.lines().any(|l| l == "x-held-ms: 300"), "{body}");
    // Twenty held at once, each released by its own continuation.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let hold = format!("X-Hold-Ms: {}", i * 7);
            let (head, body) = curl(url, &["-H", "Host: site.test", "-H", &hold]).await;
            assert!(head[0].contains(" 200"), "{head:?}");
            assert!(body.lines().any(|l| l == format!("x-held-ms: {}", i * 7)), "{body}");
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let (_, body) = curl(url, &["-H", "Host: site.test"]).await;
    assert!(!body.contains("x-held-ms"), "{body}");

    // The ticker counts every 50 ms until the message cancels it.
    let ticks = || plugin_stat(&proxy.metrics_text(), "async_hold", "async_hold.ticks");
    wait_for("ticks", || ticks().is_some_and(|n| n >= 3)).await;
    let output = ctl(&socket, &["plugin", "msg", "async_hold", "ticks", "stop"]).await;
    assert!(output.status.success(), "{output:?}");
    let stopped = ticks().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(ticks(), Some(stopped), "ticks went on after TSActionCancel");
}

#[test]
fn sources_compile_against_the_ats_headers() {
    let ats = Path::new("/usr/include/ts/ts.h");
    assert!(ats.exists(), "{} is missing: install Debian's trafficserver-dev", ats.display());
    let sources = [
        "set_header_remap.c",
        "rewrite_headers.c",
        "deny_with_stats.c",
        "upper_transform.c",
        "async_hold.cc",
    ];
    for name in sources {
        let compiler = if name.ends_with(".cc") { "c++" } else { "cc" };
        let status = Command::new(compiler)
            .args(["-fsyntax-only", "-Wall", "-Werror", "-I/usr/include"])
            .arg(source(name))
            .status()
            .unwrap();
        assert!(status.success(), "{name} does not compile against ATS's headers");
    }
}
