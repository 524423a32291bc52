//! The `process_*` series of the Prometheus conventions, read from `/proc/self` at each scrape:
//! CPU time, memory, open files and their limit, threads, start time.

use std::fmt::Write as _;

/// The unit of the times in `/proc/<pid>/stat`: `USER_HZ`, which the kernel fixes at 100 in its
/// ABI on every architecture Linux exports it for (`CONFIG_HZ` is converted before it shows).
const USER_HZ: f64 = 100.0;

/// What `/proc/self` tells about the process.
#[derive(Debug, Default, PartialEq)]
struct Process {
    cpu_seconds: f64,
    resident_bytes: u64,
    virtual_bytes: u64,
    open_fds: u64,
    max_fds: Option<u64>,
    threads: u64,
    start_time_seconds: f64,
}

/// Appends the `process_*` series (nothing when `/proc` cannot be read).
pub(crate) fn render(out: &mut String) {
    let Some(process) = read() else { return };
    let mut series = vec![
        (
            "process_cpu_seconds_total",
            "counter",
            "User and system CPU time spent, in seconds.",
            process.cpu_seconds,
        ),
        (
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
            process.resident_bytes as f64,
        ),
        (
            "process_virtual_memory_bytes",
            "gauge",
            "Virtual memory size in bytes.",
            process.virtual_bytes as f64,
        ),
        ("process_open_fds", "gauge", "Open file descriptors.", process.open_fds as f64),
        ("process_threads", "gauge", "Operating system threads.", process.threads as f64),
        (
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since the Unix epoch, in seconds.",
            process.start_time_seconds,
        ),
    ];
    if let Some(max) = process.max_fds {
        series.push((
            "process_max_fds",
            "gauge",
            "The limit on open file descriptors.",
            max as f64,
        ));
    }
    for (name, kind, help, value) in series {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
    }
}

fn read() -> Option<Process> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let boot = std::fs::read_to_string("/proc/stat").ok()?;
    let mut process = parse(&stat, &status, &limits, &boot)?;
    process.open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
    Some(process)
}

/// The process from the texts of `/proc/self/stat`, `/proc/self/status`, `/proc/self/limits`
/// and `/proc/stat` (its boot time).
fn parse(stat: &str, status: &str, limits: &str, boot: &str) -> Option<Process> {
    // The command name (field 2) is in parentheses and may hold spaces and `)`; the fields
    // after the last `)` start at field 3 (`state`).
    let fields: Vec<&str> = stat.get(stat.rfind(')')? + 1..)?.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    let ticks = field(14)? + field(15)?;
    let kib = |key: &str| {
        status.lines().find_map(|line| {
            let rest = line.strip_prefix(key)?.trim().strip_suffix("kB")?;
            rest.trim().parse::<u64>().ok()
        })
    };
    let boot_time: u64 =
        boot.lines().find_map(|l| l.strip_prefix("btime ")).and_then(|t| t.trim().parse().ok())?;
    let max_fds = limits.lines().find_map(|line| {
        let rest = line.strip_prefix("Max open files")?;
        rest.split_whitespace().next()?.parse().ok()
    });
    Some(Process {
        cpu_seconds: ticks as f64 / USER_HZ,
        resident_bytes: kib("VmRSS:").unwrap_or(0) * 1024,
        virtual_bytes: field(23)?,
        open_fds: 0,
        max_fds,
        threads: field(20)?,
        start_time_seconds: boot_time as f64 + field(22)? as f64 / USER_HZ,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_texts_are_read() {
        let stat = "4242 (hookyard (x) y) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 50 0 0 20 0 \
                    7 0 12345 104857600 2000 18446744073709551615";
        let status = "Name:\thookyard\nVmSize:\t  102400 kB\nVmRSS:\t    8000 kB\nThreads:\t7\n";
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max open files            1024                 524288               files\n";
        let boot = "cpu  1 2 3\nbtime 1700000000\nprocesses 5\n";
        let p = parse(stat, status, limits, boot).unwrap();
        assert_eq!(p.cpu_seconds, 3.0);
        assert_eq!(p.resident_bytes, 8_192_000);
        assert_eq!(p.virtual_bytes, 104_857_600);
        assert_eq!(p.max_fds, Some(1024));
        assert_eq!(p.threads, 7);
        assert_eq!(p.start_time_seconds, 1_700_000_123.45);
    }

    #[test]
    fn this_process_is_read() {
        let p = read().unwrap();
        assert!(p.open_fds >= 3 && p.threads >= 1 && p.resident_bytes > 0, "{p:?}");
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
        assert!(p.start_time_seconds <= now.as_secs_f64() + 1.0, "{p:?}");
        assert!(p.start_time_seconds > now.as_secs_f64() - 3600.0, "{p:?}");
    }
}
