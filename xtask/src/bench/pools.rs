//! `cargo xtask bench`'s origin-pool part: the throughput of one `map` rule whose requests go
//! round robin to three origins (one nginx listening on three ports) through a
//! `strategies.yaml` strategy (`@strategy=`), against the same rule to one of those ports, each on a hookyard of its own, asked by wrk
//! in alternating rounds. The goal is "within noise": picking a host per request costs next to
//! nothing against a request.
//!
//! After the rounds each pool host must have served a third of the pool's requests, give or take
//! 5 % of them (read from `hookyard_host_requests_total` on the pool proxy's metrics address), or
//! the part fails: a balanced split is what makes the comparison honest.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::procs::{self, Server};
use super::wrk::{self, Side};
use super::{Options, hookyard, install, nginx};

/// `strategies.yaml` with strategy `bench`: round robin over `ports` on 127.0.0.1.
fn strategies(ports: &[u16]) -> String {
    let mut text = String::from("# written by cargo xtask bench\nhosts:\n");
    for (i, port) in ports.iter().enumerate() {
        text.push_str(&format!(
            "  - &h{i}\n    host: 127.0.0.1\n    protocol:\n      - scheme: http\n        \
             port: {port}\n"
        ));
    }
    text.push_str("groups:\n  - &all\n");
    for i in 0..ports.len() {
        text.push_str(&format!("    - <<: *h{i}\n      weight: 1\n"));
    }
    text.push_str(
        "strategies:\n  - strategy: bench\n    policy: rr_strict\n    go_direct: false\n    \
         scheme: http\n    groups: [*all]\n",
    );
    text
}

/// Starts a hookyard in `dir` with one rule to `origin` (and `@strategy=bench` with
/// `strategies` when given), metrics on `metrics` when given.
fn start(
    binary: &Path,
    dir: &Path,
    origin: u16,
    strategies: Option<&str>,
    metrics: Option<SocketAddr>,
    limit: Duration,
) -> Result<(Server, SocketAddr)> {
    std::fs::create_dir_all(dir.join("run"))?;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, procs::free_port()?));
    let mut settings = hookyard::settings(dir);
    if let Some(metrics) = metrics {
        settings.push_str(&format!("metrics: {metrics}\n"));
    }
    std::fs::write(dir.join("hookyard.yaml"), settings)?;
    let from = format!("http://{addr}/");
    let mut rule = hookyard::rule(&from, origin, None);
    if let Some(text) = strategies {
        std::fs::write(dir.join("strategies.yaml"), text)?;
        rule = format!("{} @strategy=bench\n", rule.trim_end());
    }
    std::fs::write(dir.join("remap.config"), rule)?;
    let ready = Duration::from_secs(20);
    let server = hookyard::serve(binary, dir, addr, limit, ready, "stdout.log")?;
    Ok((server, addr))
}

/// `cargo xtask bench`'s pool part, in `dir`.
pub(crate) fn compare(root: &Path, o: &Options, dir: &Path) -> Result<()> {
    let installed = install::ensure()?;
    if let Some((_, why)) = installed.unavailable.iter().find(|(p, _)| *p == "nginx") {
        bail!("nginx is needed as the origins of the pool comparison: {why}");
    }
    let binary = hookyard::build(root)?;
    let limit =
        (o.wrk.duration + Duration::from_secs(10)) * 2 * (o.rounds + 1) + Duration::from_secs(120);
    // One nginx process on three ports: the pool's three origins cost the machine what the
    // single origin does, so only the strategy differs.
    let (origins, addrs) =
        nginx::start_origin_ports(&dir.join("origin"), 3, limit, Duration::from_secs(20))?;
    let ports: Vec<u16> = addrs.iter().map(SocketAddr::port).collect();
    let metrics = SocketAddr::from((Ipv4Addr::LOCALHOST, procs::free_port()?));
    let (single_server, single) = start(&binary, &dir.join("single"), ports[0], None, None, limit)?;
    let text = strategies(&ports);
    let (pool_server, pool) =
        start(&binary, &dir.join("pool"), ports[0], Some(&text), Some(metrics), limit)?;
    let script = dir.join("report.lua");
    std::fs::write(&script, wrk::SCRIPT)?;
    let mut sides = [
        Side::new("single", single).in_group(single_server.group()),
        Side::new("pool", pool).in_group(pool_server.group()),
    ];
    wrk::rotate(&o.wrk, o.warmup, o.rounds, &script, "pool", &mut sides)?;
    let split = host_requests(metrics).context("reading the pool's per-host requests")?;
    drop((pool_server, single_server, origins));
    println!("{}", table(&sides, &split));
    check_split(&split)
}

/// `hookyard_host_requests_total{host}` of the metrics at `addr`.
fn host_requests(addr: SocketAddr) -> Result<Vec<(String, u64)>> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(stream, "GET /metrics HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    Ok(parse_host_requests(&text))
}

fn parse_host_requests(text: &str) -> Vec<(String, u64)> {
    text.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("hookyard_host_requests_total{host=\"")?;
            let (host, value) = rest.split_once("\"}")?;
            Some((host.to_owned(), value.trim().parse().ok()?))
        })
        .collect()
}

/// Every host within 5 % of the pool's requests of an even share.
fn check_split(split: &[(String, u64)]) -> Result<()> {
    let total: u64 = split.iter().map(|(_, n)| n).sum();
    if split.len() != 3 || total == 0 {
        bail!("expected three hosts with requests, got {split:?}");
    }
    let even = total as f64 / 3.0;
    for (host, n) in split {
        if (*n as f64 - even).abs() > total as f64 * 0.05 {
            bail!("host {host} served {n} of {total} requests: not round robin");
        }
    }
    Ok(())
}

/// The report: each side's median throughput and p99, their ratio, the per-host split.
fn table(sides: &[Side], split: &[(String, u64)]) -> String {
    let rps: Vec<f64> = sides.iter().map(Side::median_rps).collect();
    let mut out =
        String::from("three-host round-robin strategy against one origin (median of rounds)\n");
    for (side, rps) in sides.iter().zip(&rps) {
        let p99 = side.median_p99_us();
        let cpu = side.median_cpu_us().map_or_else(|| "-".to_owned(), |c| format!("{c:.2}"));
        out.push_str(&format!(
            "  {:<6} {:>9.0} req/s  p99 {:>7.0} us  cpu {cpu} us/request\n",
            side.name, rps, p99
        ));
    }
    out.push_str(&format!("  pool / single: {:.3}", rps[1] / rps[0]));
    if let (Some(single), Some(pool)) = (sides[0].median_cpu_us(), sides[1].median_cpu_us()) {
        out.push_str(&format!(", cpu per request {:.3}", pool / single));
    }
    out.push('\n');
    let hosts: Vec<String> = split.iter().map(|(h, n)| format!("{h} {n}")).collect();
    out.push_str(&format!("  requests per host: {}\n", hosts.join(", ")));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_strategy_lists_every_port_round_robin() {
        let text = strategies(&[8001, 8002]);
        assert!(text.contains("  - &h1\n    host: 127.0.0.1\n"), "{text}");
        assert!(text.contains("port: 8002\n"), "{text}");
        assert!(text.contains("    - <<: *h0\n      weight: 1\n"), "{text}");
        assert!(text.contains("policy: rr_strict"), "{text}");
    }

    #[test]
    fn host_requests_are_read_from_the_metrics() {
        let text = "# TYPE hookyard_host_requests_total counter\n\
                    hookyard_host_requests_total{host=\"127.0.0.1:1\"} 10\n\
                    hookyard_host_requests_total{host=\"127.0.0.1:2\"} 11\n\
                    hookyard_host_up{host=\"127.0.0.1:1\"} 1\n";
        assert_eq!(
            parse_host_requests(text),
            [("127.0.0.1:1".to_owned(), 10), ("127.0.0.1:2".to_owned(), 11)]
        );
        let even = [("a".to_owned(), 100), ("b".to_owned(), 101), ("c".to_owned(), 99)];
        assert!(check_split(&even).is_ok());
        let skewed = [("a".to_owned(), 200), ("b".to_owned(), 50), ("c".to_owned(), 50)];
        assert!(check_split(&skewed).is_err());
    }
}
