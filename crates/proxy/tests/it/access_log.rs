//! The access log, read back and checked field by field against the requests that produced
//! it: ATS's `squid`, `common` and `extended`, nginx's `combined`, JSON lines, a custom
//! `format_string`; per listener; HTTP/2 and TLS; reload, rotation by size, reopen on
//! SIGUSR1, and the drop counter.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::support::{Origin, config_dir, exchange, proxy, wait_for, write};

const UA: &str = "log-test/1.0";
const REFERER: &str = "http://referer.test/page?x=1";

/// The request whose every field is checked: raw bytes, so its head's size is known.
fn request() -> String {
    format!(
        "GET /headers?q=1 HTTP/1.1\r\nHost: site.test\r\nUser-Agent: {UA}\r\n\
         Referer: {REFERER}\r\nConnection: close\r\n\r\n"
    )
}

/// A request no rule maps (the proxy answers 404 itself).
const NOT_FOUND: &str = "GET /missing HTTP/1.1\r\nHost: nowhere.test\r\nConnection: close\r\n\r\n";

/// What a raw exchange shows of a response.
struct Seen {
    status: u16,
    /// The head's bytes, with the blank line, as the proxy made it (without what hyper adds).
    head: usize,
    body: String,
    content_type: Option<String>,
}

fn seen(answer: &str) -> Seen {
    let (head, body) = answer.split_once("\r\n\r\n").expect("a whole response");
    let status = head[9..12].parse().unwrap();
    // hyper writes `Connection: close` itself, after the proxy's head (the client asked).
    let close = head
        .lines()
        .find(|l| l.eq_ignore_ascii_case("connection: close"))
        .map_or(0, |l| l.len() + 2);
    let content_type = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-type: ").map(str::to_owned));
    Seen { status, head: head.len() + 4 - close, body: body.to_owned(), content_type }
}

/// Waits for `n` lines in `path`; returns them.
async fn lines(path: &Path, n: usize) -> Vec<String> {
    wait_for("the access log lines", || {
        std::fs::read_to_string(path).is_ok_and(|t| t.lines().count() >= n)
    })
    .await;
    std::fs::read_to_string(path).unwrap().lines().map(str::to_owned).collect()
}

fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

/// The two exchanges every format test makes, with what the log must say of them.
struct Run {
    _dir: tempfile::TempDir,
    _origin: Origin,
    origin: SocketAddr,
    log: Vec<String>,
    mapped: Seen,
    not_found: Seen,
    /// The origin's request head size, from what it saw.
    origin_head: usize,
    before: f64,
    after: f64,
}

async fn run(access_log: &str) -> Run {
    let origin = Origin::start("o").await;
    let remap = format!("map http://site.test/ http://{}/\n", origin.addr);
    let settings = format!("forwarding: {{via_hostname: edge-1}}\naccess_log: {access_log}\n");
    let dir = config_dir(&[("remap.config", &remap), ("hookyard.yaml", &settings)]);
    let proxy = proxy(Some(dir.path()));
    let addr = proxy.addrs()[0];
    let before = now();
    let mapped = seen(&exchange(addr, request().as_bytes()).await);
    let not_found = seen(&exchange(addr, NOT_FOUND.as_bytes()).await);
    let log = lines(&dir.path().join("access.log"), 2).await;
    let after = now();
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(mapped.status, 200);
    assert_eq!(not_found.status, 404);
    // The origin lists the fields it received, one `name: value` a line.
    let origin_fields: usize = mapped.body.lines().map(|l| l.len() + 2).sum();
    let origin_head = "GET /headers?q=1 HTTP/1.1\r\n".len() + origin_fields + 2;
    Run {
        _dir: dir,
        origin: origin.addr,
        _origin: origin,
        log,
        mapped,
        not_found,
        origin_head,
        before,
        after,
    }
}

/// The `Via` line the proxy adds to responses (the origin's head lacks it).
fn via_len() -> usize {
    format!("via: http/1.1 edge-1 (hookyard/{})\r\n", env!("CARGO_PKG_VERSION")).len()
}

/// `[03/Dec/2026:06:23:02 +0000]`'s time, checked against the test's clock.
fn check_netscape_time(field: &str, run: &Run) {
    let inner = field.strip_prefix('[').and_then(|f| f.strip_suffix(']')).unwrap();
    let (stamp, zone) = inner.split_once(' ').unwrap();
    assert_eq!(zone, "+0000");
    let out = std::process::Command::new("date")
        .args(["-u", "-d", &stamp.replacen(':', " ", 1).replace('/', " "), "+%s"])
        .output()
        .unwrap();
    let secs: f64 = String::from_utf8(out.stdout).unwrap().trim().parse().unwrap();
    assert!(secs >= run.before.floor() && secs <= run.after, "{field}");
}

#[tokio::test]
async fn squid_has_atss_fields() {
    let run = run("{path: access.log, format: squid}").await;
    // %<cqtq> %<ttms> %<chi> %<crc>/%<pssc> %<psql> %<cqhm> %<cquc> %<caun> %<phr>/%<shn> %<psct>
    let f: Vec<&str> = run.log[0].split(' ').collect();
    assert_eq!(f.len(), 10, "{}", run.log[0]);
    let cqtq: f64 = f[0].parse().unwrap();
    assert!(cqtq >= run.before - 0.001 && cqtq <= run.after, "{cqtq}");
    assert_eq!(f[0].split_once('.').unwrap().1.len(), 3, "milliseconds");
    let ttms: f64 = f[1].parse().unwrap();
    assert!(ttms <= (run.after - run.before) * 1000.0 + 1.0, "{ttms}");
    assert_eq!(f[2], "127.0.0.1");
    assert_eq!(f[3], "TCP_MISS/200");
    assert_eq!(f[4], (run.mapped.head + run.mapped.body.len()).to_string());
    assert_eq!(f[5], "GET");
    assert_eq!(f[6], "http://site.test/headers?q=1");
    assert_eq!(f[7], "-");
    assert_eq!(f[8], "DIRECT/127.0.0.1");
    assert_eq!(f[9], "-", "the origin sent no Content-Type");
    let f: Vec<&str> = run.log[1].splitn(10, ' ').collect();
    assert_eq!(f[2..4], ["127.0.0.1", "TCP_MISS/404"]);
    assert_eq!(f[4], (run.not_found.head + run.not_found.body.len()).to_string());
    assert_eq!(f[5..9], ["GET", "http://nowhere.test/missing", "-", "NONE/-"]);
    let content_type = run.not_found.content_type.as_deref().unwrap();
    assert!(run.log[1].ends_with(&format!(" NONE/- {content_type}")), "{}", run.log[1]);
    let _ = run.origin;
}

#[tokio::test]
async fn common_and_extended_have_atss_fields() {
    let run = run("{path: access.log, format: common}").await;
    check_common(&run, &run.log[0], "GET /headers?q=1 HTTP/1.1", &run.mapped);
    check_common(&run, &run.log[1], "GET /missing HTTP/1.1", &run.not_found);
    let run = run_extended().await;
    // ... %<pssc> %<pscl> %<sssc> %<sscl> %<cqcl> %<pqcl> %<cqhl> %<pshl> %<pqhl> %<sshl> %<tts>
    let line = &run.log[0];
    check_common(&run, line, "GET /headers?q=1 HTTP/1.1", &run.mapped);
    let rest: Vec<&str> = line.rsplit('"').next().unwrap().split_whitespace().collect();
    let body = run.mapped.body.len().to_string();
    let cqhl = request().len().to_string();
    let pshl = run.mapped.head.to_string();
    let origin_head = run.origin_head.to_string();
    let sshl = (run.mapped.head - via_len()).to_string();
    assert_eq!(
        rest,
        ["200", &body, "200", &body, "0", "0", &cqhl, &pshl, &origin_head, &sshl, "0"],
        "{line}"
    );
    let line = &run.log[1];
    check_common(&run, line, "GET /missing HTTP/1.1", &run.not_found);
    let rest: Vec<&str> = line.rsplit('"').next().unwrap().split_whitespace().collect();
    let body = run.not_found.body.len().to_string();
    let cqhl = NOT_FOUND.len().to_string();
    let pshl = run.not_found.head.to_string();
    assert_eq!(rest, ["404", &body, "000", "0", "0", "0", &cqhl, &pshl, "0", "0", "0"], "{line}");
}

async fn run_extended() -> Run {
    run("{path: access.log, format: extended}").await
}

/// `%<chi> - %<caun> [%<cqtn>] "%<cqtx>" %<pssc> %<pscl>`, the start of common, extended and
/// combined.
fn check_common(run: &Run, line: &str, request_line: &str, answer: &Seen) {
    let (start, rest) = line.split_once(" [").unwrap();
    assert_eq!(start, "127.0.0.1 - -", "{line}");
    let (time, rest) = rest.split_once("] \"").unwrap();
    check_netscape_time(&format!("[{time}]"), run);
    let (quoted, rest) = rest.split_once("\" ").unwrap();
    assert_eq!(quoted, request_line, "{line}");
    let f: Vec<&str> = rest.split(' ').collect();
    assert_eq!(f[0], answer.status.to_string(), "{line}");
    assert_eq!(f[1], answer.body.len().to_string(), "{line}");
}

#[tokio::test]
async fn combined_is_nginxs() {
    let run = run("{path: access.log, format: combined}").await;
    let line = &run.log[0];
    check_common(&run, line, "GET /headers?q=1 HTTP/1.1", &run.mapped);
    let tail = format!("{} \"{}\" \"{UA}\"", run.mapped.body.len(), REFERER.replace('"', ""));
    assert!(line.ends_with(&tail), "{line}");
    let line = &run.log[1];
    check_common(&run, line, "GET /missing HTTP/1.1", &run.not_found);
    assert!(line.ends_with(" \"-\" \"-\""), "no referer, no user agent: {line}");
}

#[tokio::test]
async fn json_lines_have_every_field() {
    let run = run("{path: access.log, format: json}").await;
    let v: serde_json::Value = serde_json::from_str(&run.log[0]).unwrap();
    let time = v["time"].as_str().unwrap();
    assert!(time.ends_with('Z') && time.len() == 24, "{time}");
    assert_eq!(v["client"], "127.0.0.1");
    assert!(v["client_port"].as_u64().unwrap() > 0);
    assert_eq!(v["method"], "GET");
    assert_eq!(v["url"], "http://site.test/headers?q=1");
    assert_eq!(v["protocol"], "HTTP/1.1");
    assert_eq!(v["request_head_bytes"], request().len());
    assert_eq!(v["request_body_bytes"], 0);
    assert_eq!(v["status"], 200);
    assert_eq!(v["response_head_bytes"], run.mapped.head);
    assert_eq!(v["response_body_bytes"], run.mapped.body.len());
    assert_eq!(v["content_type"], serde_json::Value::Null);
    let ms = v["duration_ms"].as_f64().unwrap();
    assert!(ms >= 0.0 && ms <= (run.after - run.before) * 1000.0 + 1.0, "{ms}");
    assert_eq!(v["user_agent"], UA);
    assert_eq!(v["referer"], REFERER);
    assert_eq!(v["cache"], "TCP_MISS");
    assert_eq!(v["finished"], true);
    assert_eq!(v["origin"]["host"], "127.0.0.1");
    assert_eq!(v["origin"]["addr"], run.origin.to_string());
    assert_eq!(v["origin"]["status"], 200);
    assert_eq!(v["origin"]["request_head_bytes"], run.origin_head);
    assert_eq!(v["origin"]["response_head_bytes"], run.mapped.head - via_len());
    assert_eq!(v["origin"]["body_bytes"], run.mapped.body.len());
    assert_eq!(v["plugin"], serde_json::json!({}));
    let v: serde_json::Value = serde_json::from_str(&run.log[1]).unwrap();
    assert_eq!(v["url"], "http://nowhere.test/missing");
    assert_eq!(v["status"], 404);
    assert_eq!(v["origin"], serde_json::Value::Null);
    assert_eq!(v["user_agent"], serde_json::Value::Null);
    assert_eq!(v["content_type"], run.not_found.content_type.as_deref().unwrap());
}

#[tokio::test]
async fn a_format_string_takes_atss_fields_and_headers() {
    let format = "'%<cqhm>|%<cqup>|%<cqpv>|%<cqus>|%<chp>|%<{user-agent}cqh>|%<{Content-Length}psh>|\
                  %<{host}pqh>|%<{date}ssh>|%<shi>|%<pqsn>|%<cfsc>/%<pfsc>|%<cqtd>|%<cqtt>|%<cqts>|\
                  %<ttmsf>|%<{nothing}cqh>'";
    let run = run(&format!("{{path: access.log, format_string: {format}}}")).await;
    let f: Vec<&str> = run.log[0].split('|').collect();
    assert_eq!(f.len(), 17, "{}", run.log[0]);
    assert_eq!(f[16], "-");
    assert_eq!(f[0..4], ["GET", "/headers?q=1", "http/1.1", "http"], "{}", run.log[0]);
    assert!(f[4].parse::<u16>().unwrap() > 0);
    assert_eq!(f[5], UA);
    assert_eq!(f[6], run.mapped.body.len().to_string());
    assert_eq!(f[7], run.origin.to_string(), "the Host the origin got");
    assert!(f[8].ends_with(" GMT"), "the origin's Date: {}", f[8]);
    assert_eq!(f[9..12], ["127.0.0.1", "127.0.0.1", "FIN/FIN"]);
    assert_eq!(f[12].len(), 10);
    assert_eq!(f[13].len(), 8);
    let secs: f64 = f[14].parse().unwrap();
    assert!(secs >= run.before.floor() && secs <= run.after);
    assert!(f[15].contains('.'));
}

/// `curl` with `args`, from a blocking thread; its output, checked for success.
async fn curl_ok(args: Vec<String>) -> String {
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("curl").args(&args).output().unwrap()
    })
    .await
    .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "curl {all}");
    all
}

#[tokio::test]
async fn http2_tls_and_listeners_and_reload() {
    let origin = Origin::start("o").await;
    let dir = crate::tls::probed_https(&origin);
    let yaml = std::fs::read_to_string(dir.path().join("hookyard.yaml")).unwrap();
    write(
        dir.path(),
        "hookyard.yaml",
        &format!("{yaml}access_log: {{path: access.log, format: json}}\n"),
    );
    let proxy = crate::tls::tls_proxy(dir.path());
    let (plain, tls) = (proxy.addrs()[0], proxy.tls_addrs()[0]);
    let log = dir.path().join("access.log");
    let ca = dir.path().join("ca.pem").to_str().unwrap().to_owned();
    let https = |version: &str| {
        vec![
            "-sS".to_owned(),
            version.to_owned(),
            "--cacert".to_owned(),
            ca.clone(),
            "--resolve".to_owned(),
            format!("a.test:{}:127.0.0.1", tls.port()),
            // The rule's port is https's default.
            "-H".to_owned(),
            "Host: a.test".to_owned(),
            format!("https://a.test:{}/headers?v=1", tls.port()),
        ]
    };
    curl_ok(https("--http2")).await;
    curl_ok(https("--http1.1")).await;
    curl_ok(vec![
        "-sS".into(),
        "--http2-prior-knowledge".into(),
        "-A".into(),
        "h2c-agent".into(),
        format!("http://{plain}/nothing"),
    ])
    .await;
    let lines = lines(&log, 3).await;
    let v: Vec<serde_json::Value> =
        lines.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(v[0]["protocol"], "HTTP/2.0");
    assert_eq!(v[0]["url"], "https://a.test/headers?v=1");
    assert_eq!(v[0]["status"], 200);
    assert_eq!(v[0]["origin"]["host"], "127.0.0.1");
    assert!(v[0]["user_agent"].as_str().unwrap().starts_with("curl/"));
    assert_eq!(v[1]["protocol"], "HTTP/1.1");
    assert_eq!(v[1]["url"], v[0]["url"]);
    // The origin's answer lists what it got (`Via` names each protocol).
    assert!(v[1]["response_body_bytes"].as_u64().unwrap() > 100);
    assert_eq!(v[2]["protocol"], "HTTP/2.0");
    assert_eq!(v[2]["url"], format!("http://{plain}/nothing"));
    assert_eq!(v[2]["user_agent"], "h2c-agent");
    assert_eq!(v[2]["status"], 404);
    for v in &v {
        assert_eq!(v["client"], "127.0.0.1");
        assert_eq!(v["finished"], true);
    }
    // A reload to squid for the plain listener only: TLS transactions are no longer logged.
    let yaml =
        format!("{yaml}access_log: {{path: access.log, format: squid, listeners: ['{plain}']}}\n");
    write(dir.path(), "hookyard.yaml", &yaml);
    assert!(proxy.reload().ok);
    curl_ok(https("--http2")).await;
    curl_ok(vec!["-sS".into(), format!("http://{plain}/plain")]).await;
    let lines = self::lines(&log, 4).await;
    assert_eq!(lines.len(), 4, "the TLS transaction is not logged: {lines:?}");
    let f: Vec<&str> = lines[3].split(' ').collect();
    assert_eq!(
        f[3..7],
        ["TCP_MISS/404", f[4], "GET", &format!("http://{plain}/plain")][..],
        "{}",
        lines[3]
    );
}

/// One request to the health route (its line is the same length every second).
async fn health(addr: SocketAddr) {
    let answer = exchange(
        addr,
        b"GET /_hookyard/health HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// The value of a metric series in `text`.
fn metric(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {series} in {text}"))
}

#[tokio::test]
async fn rotates_by_size() {
    let dir =
        config_dir(&[("hookyard.yaml", "access_log: {path: access.log, rotate_size: 250}\n")]);
    let proxy = proxy(Some(dir.path()));
    for _ in 0..5 {
        health(proxy.addrs()[0]).await;
    }
    wait_for("five lines written", || {
        metric(&proxy.metrics_text(), "hookyard_access_log_lines_total") == 5
    })
    .await;
    let mut files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("access.log"))
        .collect();
    files.sort();
    let mut total = 0;
    for name in &files {
        let text = std::fs::read_to_string(dir.path().join(name)).unwrap();
        assert!(text.len() <= 250, "{name}: {} bytes", text.len());
        assert!(text.lines().all(|l| l.contains("/_hookyard/health")), "{text}");
        total += text.lines().count();
    }
    assert_eq!(total, 5, "{files:?}");
    // A squid line of the health route is about 100 bytes: two a file.
    assert_eq!(files.len(), 3, "{files:?}");
    // `access.log`, then the rotated ones: `access.log.YYYYMMDDTHHMMSSZ`, `.1` when taken.
    assert_eq!(files[0], "access.log");
    for name in &files[1..] {
        let stamp = name.strip_prefix("access.log.").unwrap();
        assert_eq!(stamp.split('.').next().unwrap().len(), "20261203T062302Z".len(), "{name}");
    }
    assert_eq!(metric(&proxy.metrics_text(), "hookyard_access_log_rotations_total"), 2);
    assert_eq!(metric(&proxy.metrics_text(), "hookyard_access_log_dropped_total"), 0);
}

#[tokio::test]
async fn a_full_queue_drops_and_counts() {
    // A FIFO nobody reads: the writer blocks opening it, so the queue (2 lines) fills.
    let dir = config_dir(&[("hookyard.yaml", "access_log: {path: access.log, queue: 2}\n")]);
    let fifo = dir.path().join("access.log");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let proxy = proxy(Some(dir.path()));
    for _ in 0..6 {
        health(proxy.addrs()[0]).await;
    }
    wait_for("four lines dropped", || {
        metric(&proxy.metrics_text(), "hookyard_access_log_dropped_total") == 4
    })
    .await;
    assert_eq!(metric(&proxy.metrics_text(), "hookyard_access_log_lines_total"), 0);
    // A reader lets the writer go on: the two queued lines arrive, nothing more.
    let lines = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        let reader = std::io::BufReader::new(std::fs::File::open(&fifo).unwrap());
        reader.lines().take(2).map(Result::unwrap).collect::<Vec<_>>()
    });
    let lines = crate::support::within("the queued lines", lines).await.unwrap();
    assert!(lines.iter().all(|l| l.contains(" 127.0.0.1 TCP_MISS/200 ")), "{lines:?}");
    wait_for("two lines written", || {
        metric(&proxy.metrics_text(), "hookyard_access_log_lines_total") == 2
    })
    .await;
    health(proxy.addrs()[0]).await;
    let text = proxy.metrics_text();
    assert_eq!(metric(&text, "hookyard_access_log_dropped_total"), 4);
}

/// A `hookyard run` configuration with an access log and sockets of its own.
const LOGGED_RUN: &str =
    "admin: a.sock\nruntime_dir: run\naccess_log: {path: access.log, format: common}\n";

#[test]
fn logrotate_renames_and_sigusr1_reopens() {
    use crate::cli::{http_get, start_run};
    let dir = config_dir(&[("hookyard.yaml", LOGGED_RUN)]);
    let (mut child, stderr, addr) =
        start_run(dir.path(), &["--config", ".", "--listen", "127.0.0.1:0"]);
    let log = dir.path().join("access.log");
    let count = |path: &Path| std::fs::read_to_string(path).map_or(0, |t| t.lines().count());
    let wait = |what: &str, cond: &dyn Fn() -> bool| {
        let start = std::time::Instant::now();
        while !cond() {
            assert!(start.elapsed() < crate::support::DEADLINE, "{what}");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    };
    assert!(http_get(&addr, "h.test", "/_hookyard/health?n=1").contains("200 OK"));
    wait("the first line", &|| count(&log) == 1);
    let rotated = dir.path().join("access.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    // Until SIGUSR1 the writer keeps the renamed file.
    assert!(http_get(&addr, "h.test", "/_hookyard/health?n=2").contains("200 OK"));
    wait("the second line, in the renamed file", &|| count(&rotated) == 2);
    assert!(!log.exists());
    let killed = std::process::Command::new("kill")
        .args(["-USR1", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let reopened = loop {
        match stderr.recv_timeout(crate::support::DEADLINE) {
            Ok(line) if line.contains("access log reopened") => break true,
            Ok(_) => {}
            Err(_) => break false,
        }
    };
    assert!(reopened, "no `access log reopened`");
    assert!(log.exists(), "reopening creates the file");
    assert!(http_get(&addr, "h.test", "/_hookyard/health?n=3").contains("200 OK"));
    wait("the third line, in the new file", &|| count(&log) == 1);
    assert_eq!(count(&rotated), 2);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("\"GET /_hookyard/health?n=3 HTTP/1.1\" 200 "), "{text}");
    let _ = child.kill();
    let _ = child.wait();
}

/// The handlers are in place before the proxy says it listens: a SIGUSR1 sent at once (a
/// logrotate run racing a start) reopens the log instead of ending the process.
#[test]
fn a_sigusr1_as_soon_as_the_proxy_listens_is_handled() {
    use crate::cli::{http_get, start_run};
    let dir = config_dir(&[("hookyard.yaml", LOGGED_RUN)]);
    let (mut child, stderr, addr) =
        start_run(dir.path(), &["--config", ".", "--listen", "127.0.0.1:0"]);
    let killed =
        std::process::Command::new("kill").args(["-USR1", &child.id().to_string()]).status();
    assert!(killed.unwrap().success());
    let reopened = loop {
        match stderr.recv_timeout(crate::support::DEADLINE) {
            Ok(line) if line.contains("access log reopened") => break true,
            Ok(_) => {}
            Err(_) => break false,
        }
    };
    assert!(reopened, "no `access log reopened`: {:?}", child.try_wait());
    assert!(http_get(&addr, "h.test", "/_hookyard/health").contains("200 OK"));
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test]
async fn rotates_by_age_and_follows_a_reload_to_another_file() {
    let dir = config_dir(&[("hookyard.yaml", "access_log: {path: a.log, rotate_interval: 1}\n")]);
    let proxy = proxy(Some(dir.path()));
    let addr = proxy.addrs()[0];
    health(addr).await;
    // The file has a line: a second after it was opened, it is renamed aside.
    wait_for("a rotation by age", || {
        metric(&proxy.metrics_text(), "hookyard_access_log_rotations_total") == 1
    })
    .await;
    health(addr).await;
    wait_for("the second line", || {
        std::fs::read_to_string(dir.path().join("a.log")).is_ok_and(|t| t.lines().count() == 1)
    })
    .await;
    let rotated: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("a.log."))
        .collect();
    assert_eq!(rotated.len(), 1, "{rotated:?}");
    let text = std::fs::read_to_string(dir.path().join(&rotated[0])).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    // A reload to another file and format: the next line goes there, in it.
    write(dir.path(), "hookyard.yaml", "access_log: {path: b.log, format: common}\n");
    assert!(proxy.reload().ok);
    health(addr).await;
    let b = dir.path().join("b.log");
    wait_for("the line in b.log", || std::fs::read_to_string(&b).is_ok_and(|t| !t.is_empty()))
        .await;
    let text = std::fs::read_to_string(&b).unwrap();
    assert!(text.starts_with("127.0.0.1 - - ["), "{text}");
    assert!(text.contains("\"GET /_hookyard/health HTTP/1.1\" 200 "), "{text}");
    assert_eq!(std::fs::read_to_string(dir.path().join("a.log")).unwrap().lines().count(), 1);
    // Switched off: that transaction leaves no line; switched on again, the next one does.
    write(dir.path(), "hookyard.yaml", "access_log: ~\n");
    assert!(proxy.reload().ok);
    health(addr).await;
    write(dir.path(), "hookyard.yaml", "access_log: {path: c.log}\n");
    assert!(proxy.reload().ok);
    health(addr).await;
    let c = dir.path().join("c.log");
    wait_for("the line in c.log", || std::fs::read_to_string(&c).is_ok_and(|t| !t.is_empty()))
        .await;
    // Lines are written in order: one from the switched-off time would have come before.
    let text = proxy.metrics_text();
    assert_eq!(metric(&text, "hookyard_access_log_lines_total"), 4, "{text}");
    assert_eq!(std::fs::read_to_string(&c).unwrap().lines().count(), 1);
    assert_eq!(std::fs::read_to_string(&b).unwrap().lines().count(), 1);
}

#[tokio::test]
async fn a_missing_log_directory_is_made() {
    let dir = config_dir(&[("hookyard.yaml", "access_log: {path: logs/deep/access.log}\n")]);
    let proxy = proxy(Some(dir.path()));
    health(proxy.addrs()[0]).await;
    let log = dir.path().join("logs/deep/access.log");
    wait_for("the line", || std::fs::read_to_string(&log).is_ok_and(|t| t.lines().count() == 1))
        .await;
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir.path().join("logs/deep")) & 0o027, 0, "not group-writable, not world");
    assert_eq!(mode(&log) & 0o037, 0);
}
