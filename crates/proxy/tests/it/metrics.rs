//! The metrics endpoint scraped with curl after real requests through `hookyard run`: request
//! durations and bytes per listener, origin connect times and errors, pools, build and process.

use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::cli::start_run;
use crate::support::{DEADLINE, Origin, config_dir, write};

/// curl `args`; its standard output.
fn curl(args: &[&str]) -> String {
    let output =
        Command::new("curl").args(["-sS", "--max-time", "10"]).args(args).output().unwrap();
    assert!(output.status.success(), "curl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// The value of the series `series` (name and labels exactly) on `page`.
fn value(page: &str, series: &str) -> Option<f64> {
    page.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Scrapes `url` until `done` holds for the page (the last counts of a response land when its
/// body is done with, just after the client has it); the page.
fn scrape_until(url: &str, what: &str, done: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        let page = curl(&[url]);
        if done(&page) {
            return page;
        }
        assert!(start.elapsed() < DEADLINE, "{what}:\n{page}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn metrics_count_the_requests_curl_made() {
    let origin = Origin::start("up").await;
    let dir = config_dir(&[]);
    write(dir.path(), "hookyard.yaml", "workers: 1\nadmin: run/admin.sock\nruntime_dir: run\n");
    write(
        dir.path(),
        "remap.config",
        &format!(
            "map http://up.test/ http://{}/\nmap http://down.test/ http://127.0.0.1:9/\n",
            origin.addr
        ),
    );
    let origin_label = format!("http://127.0.0.1:{}", origin.addr.port());
    let path = dir.path().to_owned();
    let connections = origin.connections.clone();
    tokio::task::spawn_blocking(move || {
        let args = ["--config", ".", "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0"];
        let (mut child, lines, addr) = start_run(&path, &args);
        let metrics = lines
            .recv_timeout(DEADLINE)
            .into_iter()
            .chain(std::iter::from_fn(|| lines.recv_timeout(DEADLINE).ok()))
            .find_map(|line| Some(line.split("hookyard: metrics on ").nth(1)?.to_owned()))
            .expect("run says where its metrics are");
        let proxy = format!("http://{addr}");
        // What curl counts: bytes it sent (request heads) and received (heads and bodies).
        let (mut sent, mut received) = (0.0, 0.0);
        let mut request = |host: &str, path: &str, want: &str| {
            let out = curl(&[
                "-o",
                "/dev/null",
                "-H",
                &format!("Host: {host}"),
                "-w",
                "%{http_code} %{size_request} %{size_header} %{size_download}",
                &format!("{proxy}{path}"),
            ]);
            let numbers: Vec<&str> = out.split(' ').collect();
            assert_eq!(numbers[0], want, "{host}{path}");
            sent += numbers[1].parse::<f64>().unwrap();
            received += numbers[2].parse::<f64>().unwrap() + numbers[3].parse::<f64>().unwrap();
        };
        for i in 0..5 {
            request("up.test", &format!("/item/{i}"), "200");
        }
        for _ in 0..3 {
            request("down.test", "/", "502");
        }
        request("nowhere.test", "/", "404");
        let listener = format!("{{listener=\"{addr}\"}}");
        let page = scrape_until(&metrics, "every request timed", |page| {
            value(page, &format!("hookyard_request_duration_seconds_count{listener}")) == Some(9.0)
        });
        let _ = child.kill();
        let _ = child.wait();

        // Per listener: one duration each, and the bytes curl counted, to the byte.
        let bucket = |le: &str| {
            let series = format!(
                "hookyard_request_duration_seconds_bucket{{listener=\"{addr}\",le=\"{le}\"}}"
            );
            value(&page, &series).unwrap_or_else(|| panic!("{series}:\n{page}"))
        };
        assert_eq!(bucket("+Inf"), 9.0, "{page}");
        assert!(bucket("0.001") <= bucket("0.25") && bucket("0.25") <= bucket("+Inf"));
        let sum = value(&page, &format!("hookyard_request_duration_seconds_sum{listener}"));
        assert!(sum.is_some_and(|s| s > 0.0 && s < 9.0 * 5.0), "{page}");
        assert_eq!(value(&page, &format!("hookyard_received_bytes_total{listener}")), Some(sent));
        assert_eq!(value(&page, &format!("hookyard_sent_bytes_total{listener}")), Some(received));
        assert_eq!(value(&page, "hookyard_responses_total{class=\"2xx\"}"), Some(5.0));
        assert_eq!(value(&page, "hookyard_responses_total{class=\"5xx\"}"), Some(3.0));

        // Per origin: the down one failed three times to connect; the up one never failed,
        // and every connection the origin accepted was timed.
        let errors = |origin: &str, kind: &str| {
            let series =
                format!("hookyard_origin_errors_total{{origin=\"{origin}\",kind=\"{kind}\"}}");
            value(&page, &series).unwrap_or_else(|| panic!("{series}:\n{page}"))
        };
        assert_eq!(errors("http://127.0.0.1:9", "connect"), 3.0);
        assert_eq!(errors("http://127.0.0.1:9", "connect_timeout"), 0.0);
        for kind in ["connect", "connect_timeout", "tls", "exchange", "response_timeout"] {
            assert_eq!(errors(&origin_label, kind), 0.0, "{kind}");
        }
        let accepted = connections.load(Ordering::SeqCst) as f64;
        let connect = format!("hookyard_origin_connect_seconds_count{{origin=\"{origin_label}\"}}");
        assert_eq!(value(&page, &connect), Some(accepted), "{page}");
        assert!(accepted >= 1.0);
        let open = value(&page, "hookyard_origin_connections").unwrap();
        let pooled = value(&page, "hookyard_origin_connections_pooled").unwrap();
        assert!(open >= 1.0 && open <= accepted, "{page}");
        assert!(pooled >= 1.0 && pooled <= open, "{page}");

        // The build and the process.
        let build =
            format!("hookyard_build_info{{version=\"{}\",commit=\"", env!("CARGO_PKG_VERSION"));
        assert!(page.lines().any(|l| l.starts_with(&build) && l.ends_with("\"} 1")), "{page}");
        assert!(value(&page, "process_open_fds").is_some_and(|n| n >= 3.0), "{page}");
        assert!(value(&page, "process_max_fds").is_some_and(|n| n >= 3.0), "{page}");
        assert!(value(&page, "process_resident_memory_bytes").is_some_and(|n| n > 0.0));
        assert!(value(&page, "process_cpu_seconds_total").is_some_and(|n| n >= 0.0));
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
        let started = value(&page, "process_start_time_seconds").unwrap();
        assert!((now.as_secs_f64() - started).abs() < 120.0, "{started} vs {now:?}");
        for line in page.lines().filter(|l| l.starts_with("# TYPE ")) {
            let kind = line.rsplit(' ').next().unwrap();
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
        }
    })
    .await
    .unwrap();
}

#[test]
fn the_metrics_address_answers_get_metrics_only() {
    let dir = config_dir(&[]);
    let args = [
        "--config",
        ".",
        "--listen",
        "127.0.0.1:0",
        "--metrics",
        "127.0.0.1:0",
        "--admin",
        "a.sock",
    ];
    let (mut child, lines, _) = start_run(dir.path(), &args);
    let metrics = std::iter::from_fn(|| lines.recv_timeout(DEADLINE).ok())
        .find_map(|line| Some(line.split("hookyard: metrics on ").nth(1)?.to_owned()))
        .expect("run says where its metrics are");
    let base = metrics.trim_end_matches("/metrics").to_owned();
    let status = |method: &str, path: &str| {
        curl(&["-o", "/dev/null", "-w", "%{http_code}", "-X", method, &format!("{base}{path}")])
    };
    let results = [
        status("GET", "/metrics"),
        status("GET", "/"),
        status("GET", "/metrics/"),
        status("GET", "/stats"),
        status("POST", "/metrics"),
    ];
    let head = curl(&["-I", &metrics]);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(results, ["200", "404", "404", "404", "405"]);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.to_lowercase().contains("content-type: text/plain; version=0.0.4"), "{head}");
}
