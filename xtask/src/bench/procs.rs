//! The servers of a load comparison: started bounded in time, in their own process groups, and
//! always torn down.
//!
//! Every server runs under coreutils `timeout`, which makes itself the leader of a new process
//! group and kills that group when the limit passes. So a server outlives no benchmark even if
//! xtask itself is killed (or interrupted with Ctrl-C, which the server's group does not see);
//! and [`Server`]'s `Drop` sends `SIGTERM`, then `SIGKILL`, to the whole group (nginx's workers
//! included) on every way out of the task, errors and panics too.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// A running server: the `timeout` process that leads its group.
pub(crate) struct Server {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Server {
    /// Starts `cmd` under `timeout LIMIT`, stdout and stderr to `log`.
    pub(crate) fn start(name: &str, cmd: &Command, limit: Duration, log: &Path) -> Result<Server> {
        let out = File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
        let mut wrapped = Command::new("timeout");
        wrapped
            .args(["-k", "5", &format!("{}", limit.as_secs().max(1))])
            .arg(cmd.get_program())
            .args(cmd.get_args())
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .process_group(0);
        for (key, value) in cmd.get_envs() {
            match value {
                Some(value) => wrapped.env(key, value),
                None => wrapped.env_remove(key),
            };
        }
        if let Some(dir) = cmd.get_current_dir() {
            wrapped.current_dir(dir);
        }
        let child = wrapped.spawn().with_context(|| format!("cannot start {name}"))?;
        Ok(Server { name: name.to_owned(), child, log: log.to_owned() })
    }

    /// The server's process group (its `timeout` wrapper's id): itself and every process it
    /// started.
    pub(crate) fn group(&self) -> u32 {
        self.child.id()
    }

    /// Waits until `GET /` with `host` on `addr` answers 200; fails early if the server exits.
    /// Returns the response head.
    pub(crate) fn wait_ready(
        &mut self,
        addr: SocketAddr,
        host: &str,
        within: Duration,
    ) -> Result<String> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("{} exited with {status} before it was ready{}", self.name, self.log_note());
            }
            let last = match get(addr, host) {
                Ok(response) if response.starts_with("HTTP/1.1 200") => return Ok(response),
                Ok(response) => response.lines().next().unwrap_or_default().to_owned(),
                Err(err) => format!("{err:#}"),
            };
            if Instant::now() > deadline {
                bail!(
                    "{} was not ready within {within:?} (last: {last}){}",
                    self.name,
                    self.log_note()
                );
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// The last lines of the server's log, for error messages; empty when it wrote none.
    fn log_note(&self) -> String {
        let tail = log_tail(&self.log);
        if tail.trim().is_empty() { String::new() } else { format!("; its log:\n{tail}") }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        stop_group(&mut self.child, Duration::from_secs(5));
    }
}

/// Stops a child started as the leader of its own process group: TERM to the group, up to
/// `grace` for the leader to exit, then KILL to whatever is left of the group, and reaps it.
pub(crate) fn stop_group(child: &mut Child, grace: Duration) {
    let group = format!("-{}", child.id());
    let signal = |sig: &str| {
        let _ = Command::new("kill")
            .args([sig, "--", &group])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    };
    signal("-TERM");
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            break;
        }
        thread::sleep(Duration::from_millis(50));
    }
    // Whatever is left of the group (a worker that ignored TERM, a helper), and the leader if
    // it is still there.
    signal("-KILL");
    let _ = child.kill();
    let _ = child.wait();
}

/// The last 20 lines of a file.
pub(crate) fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// A free port on 127.0.0.1 (asked of the kernel, then released for the server to take).
pub(crate) fn free_port() -> Result<u16> {
    let listener =
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("cannot bind 127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// One `GET /` with `Connection: close`; returns the whole response as text.
pub(crate) fn get(addr: SocketAddr, host: &str) -> Result<String> {
    let timeout = Duration::from_secs(2);
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(stream, "GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    Ok(String::from_utf8_lossy(&response).into_owned())
}

/// A header's value in a response's head (case-insensitive name).
pub(crate) fn header<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    let head = response.split("\r\n\r\n").next()?;
    head.lines().skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

/// Clock ticks per second of `/proc/*/stat` times: `USER_HZ`, 100 on every Linux architecture
/// the bench runs on.
const USER_HZ: u64 = 100;

/// CPU time a process group used: in user space and in the kernel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Cpu {
    pub(crate) user: Duration,
    pub(crate) system: Duration,
}

impl Cpu {
    /// User and system time together.
    pub(crate) fn total(self) -> Duration {
        self.user + self.system
    }

    /// What was used since `before`.
    pub(crate) fn since(self, before: Cpu) -> Cpu {
        Cpu {
            user: self.user.saturating_sub(before.user),
            system: self.system.saturating_sub(before.system),
        }
    }
}

/// The CPU time (every thread) the live processes of process group `group` used so far, from
/// `/proc/PID/stat`.
pub(crate) fn group_cpu(group: u32) -> Cpu {
    let (user, system) = stats()
        .filter_map(|(_, stat)| stat_ticks(&stat, group))
        .fold((0, 0), |(u, s), (du, ds)| (u + du, s + ds));
    let time = |ticks: u64| Duration::from_millis(ticks * 1000 / USER_HZ);
    Cpu { user: time(user), system: time(system) }
}

/// The live processes of process group `group`.
pub(crate) fn group_pids(group: u32) -> Vec<u32> {
    stats().filter(|(_, stat)| stat_group(stat) == Some(group)).map(|(pid, _)| pid).collect()
}

/// Every live process's id and `/proc/PID/stat` line.
fn stats() -> impl Iterator<Item = (u32, String)> {
    let dir = std::fs::read_dir("/proc").into_iter().flatten().filter_map(Result::ok);
    dir.filter_map(|e| {
        let pid = e.file_name().to_str()?.parse().ok()?;
        Some((pid, std::fs::read_to_string(e.path().join("stat")).ok()?))
    })
}

/// The fields of a `/proc/PID/stat` line after the command name, which is in parentheses and
/// may hold anything: from the state (field 3) on.
fn stat_fields(stat: &str) -> Option<Vec<&str>> {
    Some(stat.get(stat.rfind(')')? + 1..)?.split_whitespace().collect())
}

/// The process group (field 5) of a `/proc/PID/stat` line.
fn stat_group(stat: &str) -> Option<u32> {
    stat_fields(stat)?.get(2)?.parse().ok()
}

/// `utime` and `stime` (fields 14 and 15) of a `/proc/PID/stat` line when its process group
/// is `group`.
fn stat_ticks(stat: &str, group: u32) -> Option<(u64, u64)> {
    if stat_group(stat)? != group {
        return None;
    }
    let fields = stat_fields(stat)?;
    Some((fields.get(11)?.parse().ok()?, fields.get(12)?.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_found_in_the_head_only() {
        let response =
            "HTTP/1.1 200 OK\r\nX-Origin-Saw-Bench: hookyard\r\nServer: x\r\n\r\nX-Not: body";
        assert_eq!(header(response, "x-origin-saw-bench"), Some("hookyard"));
        assert_eq!(header(response, "X-Not"), None);
        assert_eq!(header(response, "Missing"), None);
    }

    #[test]
    fn stat_lines_give_user_and_system_ticks_of_the_group() {
        let line = "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 10 0 0 0 120 35 0 0 20 0 3 0";
        assert_eq!(stat_ticks(line, 4242), Some((120, 35)));
        assert_eq!(stat_ticks(line, 7), None);
        assert_eq!(stat_ticks("garbage", 4242), None);
        assert_eq!(stat_group(line), Some(4242));
        assert_eq!(stat_group("4242 (x) S 1 77 4242"), Some(77));
        assert_eq!(stat_group("garbage"), None);
    }

    #[test]
    fn this_process_is_in_its_own_group() {
        let group = std::fs::read_to_string("/proc/self/stat").ok().and_then(|s| stat_group(&s));
        let pids = group_pids(group.unwrap());
        assert!(pids.contains(&std::process::id()), "{pids:?}");
    }
}
