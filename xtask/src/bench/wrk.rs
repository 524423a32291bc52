//! Runs `wrk` and reads its results.
//!
//! wrk runs with `--latency` (the human-readable distribution) and a `done()` Lua script that
//! prints one machine-readable line with exact numbers ([`SCRIPT`]). The line is preferred; the
//! `--latency` text is the fallback, so a wrk whose Lua support is broken still gives numbers
//! (rounded to wrk's two decimals).

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// The `done()` hook: one line, `hookyard-bench:` then `key=value` pairs, all integers
/// (durations in microseconds). It defines no `request`/`response` function, which would make
/// wrk slower.
pub(crate) const SCRIPT: &str = r#"-- written by cargo xtask bench: one line of exact results
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "hookyard-bench: requests=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d status=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.status, e.connect, e.read, e.write, e.timeout))
end
"#;

/// The load generator's settings, the same for every proxy.
#[derive(Clone, Debug)]
pub(crate) struct Load {
    pub(crate) threads: u32,
    pub(crate) connections: u32,
    pub(crate) duration: Duration,
}

/// One wrk run's result.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Sample {
    pub(crate) requests: u64,
    pub(crate) rps: f64,
    pub(crate) p50_us: f64,
    pub(crate) p99_us: f64,
    /// Responses with a status ≥ 400 (wrk's "Non-2xx or 3xx responses").
    pub(crate) status_errors: u64,
    /// connect + read + write + timeout errors.
    pub(crate) socket_errors: u64,
    /// CPU time the server used per request meanwhile, in microseconds (when measured).
    pub(crate) cpu_us: Option<f64>,
    /// The part of it in user space: the server's own code, without the kernel's work on its
    /// sockets (when measured).
    pub(crate) user_us: Option<f64>,
}

impl Sample {
    pub(crate) fn errors(&self) -> u64 {
        self.status_errors + self.socket_errors
    }
}

/// One contender of a comparison: a server at `addr` and the samples wrk took of it.
pub(crate) struct Side {
    pub(crate) name: &'static str,
    pub(crate) addr: SocketAddr,
    /// The server's process group, whose CPU time each run measures.
    pub(crate) group: Option<u32>,
    pub(crate) samples: Vec<Sample>,
}

impl Side {
    pub(crate) fn new(name: &'static str, addr: SocketAddr) -> Side {
        Side { name, addr, group: None, samples: Vec::new() }
    }

    /// The side served by the processes of `group` (their CPU time is measured per run).
    pub(crate) fn in_group(self, group: u32) -> Side {
        Side { group: Some(group), ..self }
    }

    /// The median of its samples' CPU time per request, in microseconds, if measured.
    pub(crate) fn median_cpu_us(&self) -> Option<f64> {
        median_cpu(&self.samples)
    }

    /// The median of the CPU time per request `time` reads of its samples, if measured.
    pub(crate) fn median_time_us(&self, time: fn(&Sample) -> Option<f64>) -> Option<f64> {
        median_time(&self.samples, time)
    }

    /// The median of its samples' requests per second.
    pub(crate) fn median_rps(&self) -> f64 {
        super::report::median(&self.samples.iter().map(|s| s.rps).collect::<Vec<_>>())
    }

    /// The median of its samples' p99 latencies, in microseconds.
    pub(crate) fn median_p99_us(&self) -> f64 {
        super::report::median(&self.samples.iter().map(|s| s.p99_us).collect::<Vec<_>>())
    }
}

/// Warms every side up once (`warmup`, at least a second, discarded), then runs `rounds`
/// rounds of `load`, every side once a round in an order rotating by one each round, printing a
/// line per run tagged with `label`.
pub(crate) fn rotate(
    load: &Load,
    warmup: Duration,
    rounds: u32,
    script: &Path,
    label: &str,
    sides: &mut [Side],
) -> Result<()> {
    for side in sides.iter() {
        let warm = Load { duration: warmup.max(Duration::from_secs(1)), ..load.clone() };
        run(&warm, script, &format!("http://{}/", side.addr))?;
    }
    for round in 0..rounds as usize {
        for i in 0..sides.len() {
            let n = sides.len();
            let side = &mut sides[(round + i) % n];
            let sample = run_measured(load, script, &format!("http://{}/", side.addr), side.group)?;
            eprintln!(
                "xtask bench: {label} round {}/{rounds} {:<7} {:>8.0} req/s  errors {}",
                round + 1,
                side.name,
                sample.rps,
                sample.errors()
            );
            side.samples.push(sample);
        }
    }
    Ok(())
}

/// The median CPU time per request of the samples that measured it.
pub(crate) fn median_cpu(samples: &[Sample]) -> Option<f64> {
    median_time(samples, |s| s.cpu_us)
}

/// The median of the CPU time per request `time` reads of the samples that measured it.
fn median_time(samples: &[Sample], time: fn(&Sample) -> Option<f64>) -> Option<f64> {
    let times: Vec<f64> = samples.iter().filter_map(time).collect();
    (!times.is_empty()).then(|| super::report::median(&times))
}

/// [`run`], measuring the CPU time process group `group` (the server) used per request.
pub(crate) fn run_measured(
    load: &Load,
    script: &Path,
    url: &str,
    group: Option<u32>,
) -> Result<Sample> {
    let before = group.map(super::procs::group_cpu);
    let mut sample = run(load, script, url)?;
    if let (Some(group), Some(before)) = (group, before)
        && sample.requests > 0
    {
        let used = super::procs::group_cpu(group).since(before);
        let per_request = |time: Duration| time.as_secs_f64() * 1e6 / sample.requests as f64;
        sample.cpu_us = Some(per_request(used.total()));
        sample.user_us = Some(per_request(used.user));
    }
    Ok(sample)
}

/// Runs wrk against `url`; bounded by `timeout` (coreutils) at the run's duration + 30 s.
pub(crate) fn run(load: &Load, script: &Path, url: &str) -> Result<Sample> {
    let secs = load.duration.as_secs().max(1);
    let mut cmd = Command::new("timeout");
    cmd.args(["-k", "5", &format!("{}", secs + 30), "wrk"])
        .args(["-t", &load.threads.to_string(), "-c", &load.connections.to_string()])
        .args(["-d", &format!("{secs}s"), "--timeout", "2s", "--latency", "-s"])
        .arg(script)
        .arg(url);
    let out = cmd.output().context("cannot run wrk (through timeout)")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "wrk exited with {}: {}{}",
            out.status,
            stdout.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    parse(&stdout).with_context(|| format!("cannot read wrk's output:\n{stdout}"))
}

/// Reads wrk's output: the script's line when present, else the `--latency` text.
pub(crate) fn parse(out: &str) -> Result<Sample> {
    match out.lines().find_map(|l| l.trim().strip_prefix("hookyard-bench:")) {
        Some(line) => parse_script_line(line),
        None => parse_text(out),
    }
}

fn parse_script_line(line: &str) -> Result<Sample> {
    let get = |key: &str| -> Result<u64> {
        let value = line
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(key).and_then(|rest| rest.strip_prefix('=')))
            .with_context(|| format!("no `{key}=` in the script's line"))?;
        value.parse().with_context(|| format!("`{key}={value}` is not a number"))
    };
    let requests = get("requests")?;
    let duration_us = get("duration_us")?;
    if duration_us == 0 {
        bail!("wrk ran for 0 µs");
    }
    Ok(Sample {
        requests,
        rps: requests as f64 / (duration_us as f64 / 1e6),
        p50_us: get("p50_us")? as f64,
        p99_us: get("p99_us")? as f64,
        status_errors: get("status")?,
        socket_errors: get("connect")? + get("read")? + get("write")? + get("timeout")?,
        cpu_us: None,
        user_us: None,
    })
}

/// The `--latency` text: `50%  453.00us`, `99%  1.05ms`, `Requests/sec: 67361.13`, and the
/// error lines wrk prints only when they are not zero.
fn parse_text(out: &str) -> Result<Sample> {
    let (mut rps, mut p50, mut p99, mut requests) = (None, None, None, None);
    let (mut status_errors, mut socket_errors) = (0, 0);
    for line in out.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("Requests/sec:") {
            rps = Some(v.trim().parse::<f64>().context("bad Requests/sec")?);
        } else if let Some(v) = line.strip_prefix("50%") {
            p50 = Some(duration_us(v.trim())?);
        } else if let Some(v) = line.strip_prefix("99%") {
            p99 = Some(duration_us(v.trim())?);
        } else if let Some(v) = line.strip_prefix("Non-2xx or 3xx responses:") {
            status_errors = v.trim().parse().context("bad Non-2xx count")?;
        } else if let Some(v) = line.strip_prefix("Socket errors:") {
            // "connect 0, read 0, write 0, timeout 0"
            for part in v.split(',') {
                let n = part.split_whitespace().nth(1).context("bad Socket errors line")?;
                socket_errors += n.parse::<u64>().context("bad socket error count")?;
            }
        } else if line.contains(" requests in ") {
            let n = line.split_whitespace().next().unwrap_or_default();
            requests = Some(n.parse::<u64>().context("bad request count")?);
        }
    }
    Ok(Sample {
        requests: requests.context("no `N requests in` line")?,
        rps: rps.context("no Requests/sec line")?,
        p50_us: p50.context("no 50% line (was --latency given?)")?,
        p99_us: p99.context("no 99% line (was --latency given?)")?,
        status_errors,
        socket_errors,
        cpu_us: None,
        user_us: None,
    })
}

/// wrk's durations: `453.00us`, `1.05ms`, `2.00s`, `1.50m`.
fn duration_us(text: &str) -> Result<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic()).context("no unit")?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().with_context(|| format!("bad duration `{text}`"))?;
    let scale = match unit {
        "us" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        "m" => 60e6,
        "h" => 3600e6,
        _ => bail!("unknown unit in `{text}`"),
    };
    Ok(number * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
Running 10s test @ http://127.0.0.1:8080/
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   476.53us  168.23us   8.45ms   91.32%
    Req/Sec    67.70k     3.34k   72.33k    76.00%
  Latency Distribution
     50%  453.00us
     75%  516.00us
     90%  607.00us
     99%    1.05ms
  673628 requests in 10.00s, 97.65MB read
  Socket errors: connect 1, read 2, write 0, timeout 4
  Non-2xx or 3xx responses: 12
Requests/sec:  67361.13
Transfer/sec:      9.76MB
";

    #[test]
    fn latency_text_is_read() {
        let s = parse(TEXT).expect("parses");
        assert_eq!(s.requests, 673_628);
        assert!((s.rps - 67_361.13).abs() < 1e-6);
        assert!((s.p50_us - 453.0).abs() < 1e-9);
        assert!((s.p99_us - 1050.0).abs() < 1e-9);
        assert_eq!((s.status_errors, s.socket_errors, s.errors()), (12, 7, 19));
    }

    #[test]
    fn script_line_wins_over_text() {
        let out = format!(
            "{TEXT}hookyard-bench: requests=1000 duration_us=2000000 p50_us=400 p99_us=1234 \
             max_us=9000 status=3 connect=0 read=1 write=0 timeout=0\n"
        );
        let s = parse(&out).expect("parses");
        assert_eq!(s.requests, 1000);
        assert!((s.rps - 500.0).abs() < 1e-9);
        assert_eq!((s.p50_us, s.p99_us), (400.0, 1234.0));
        assert_eq!((s.status_errors, s.socket_errors), (3, 1));
    }

    #[test]
    fn clean_run_has_no_errors() {
        let clean: String = TEXT
            .lines()
            .filter(|l| !l.contains("errors") && !l.contains("Non-2xx"))
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(parse(&clean).expect("parses").errors(), 0);
    }

    #[test]
    fn durations_in_every_unit() {
        assert_eq!(duration_us("12.00us").ok(), Some(12.0));
        assert_eq!(duration_us("1.50ms").ok(), Some(1500.0));
        assert_eq!(duration_us("2.00s").ok(), Some(2e6));
        assert_eq!(duration_us("1.00m").ok(), Some(60e6));
        assert!(duration_us("3.0parsecs").is_err());
        assert!(duration_us("fast").is_err());
    }

    #[test]
    fn missing_pieces_are_errors() {
        assert!(parse("Requests/sec: 10\n").is_err());
        assert!(parse("hookyard-bench: requests=1 duration_us=0 p50_us=1 p99_us=1").is_err());
        assert!(parse("hookyard-bench: requests=x").is_err());
    }
}
