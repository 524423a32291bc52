//! The `hookyard` binary as an operator runs it: relative paths, start-up errors, log output.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Instant;

use hookyard_fixtures::{abi_include_dir, compile_c_with};

use crate::support::{DEADLINE, config_dir, write};

pub fn hookyard(cwd: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hookyard"));
    command.current_dir(cwd).env_remove("RUST_LOG").stdin(Stdio::null());
    command
}

/// A configuration in `conf/` whose settings name `../plugins` and `../run` relatively, with a
/// global plugin (by a relative name) and a remap plugin.
fn relative_layout(root: &Path) {
    let conf = root.join("conf");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::create_dir_all(root.join("plugins")).unwrap();
    let probe = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/plugins/hook_probe.c");
    compile_c_with(&probe, &[], &[&abi_include_dir()], &root.join("plugins/probe.so"));
    let add_header = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugins/c/add_header.c");
    compile_c_with(&add_header, &[], &[&abi_include_dir()], &root.join("plugins/add_header.so"));
    write(&conf, "hookyard.yaml", "plugin_dirs: [../plugins]\nruntime_dir: ../run\n");
    write(&conf, "plugin.yaml", "plugins:\n  - path: probe.so\n");
    write(
        &conf,
        "remap.config",
        "map http://site.test/ http://127.0.0.1:9/ @plugin=add_header.so @pparam=X-A:b\n",
    );
}

#[test]
fn check_takes_a_relative_config_and_relative_plugin_dirs() {
    let root = tempfile::tempdir().unwrap();
    relative_layout(root.path());
    let output = hookyard(root.path()).args(["check", "--config", "conf"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn run_takes_a_relative_config_and_relative_plugin_dirs() {
    let root = tempfile::tempdir().unwrap();
    relative_layout(root.path());
    let args = ["--config", "conf", "--listen", "127.0.0.1:0", "--admin", "admin.sock"];
    let (mut child, _, addr) = start_run(root.path(), &args);
    let answer = http_get(&addr, "site.test", "/_hookyard/health");
    let _ = child.kill();
    let _ = child.wait();
    assert!(answer.ends_with("ok\n"), "{answer}");
    assert!(root.path().join("run/plugins").is_dir(), "the relative runtime_dir is used");
}

#[test]
fn a_start_up_error_is_said_once_in_plain_text() {
    let dir = config_dir(&[("remap.config", "map http://a.test/\n")]);
    let stderr = refused_start(dir.path());
    assert_eq!(stderr.matches("remap.config:1:").count(), 1, "{stderr}");
    assert!(stderr.contains("hookyard: cannot start: the configuration has problems"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "no colour codes when stderr is not a terminal: {stderr}");
}

/// `hookyard run` on the configuration in `dir`, which must refuse to start: what it says.
fn refused_start(dir: &Path) -> String {
    let output = hookyard(dir)
        .args(["run", "--config", ".", "--listen", "127.0.0.1:0", "--admin", "admin.sock"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    String::from_utf8(output.stderr).unwrap()
}

/// Starts `hookyard run` in `cwd` with `args`; returns it and its stderr lines as they come,
/// once it listens (the listen address printed first).
pub fn start_run(
    cwd: &Path,
    args: &[&str],
) -> (std::process::Child, mpsc::Receiver<String>, String) {
    let mut child = hookyard(cwd).arg("run").args(args).stderr(Stdio::piped()).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                return;
            }
        }
    });
    let start = Instant::now();
    let mut seen = Vec::new();
    let listening = loop {
        let left = DEADLINE.saturating_sub(start.elapsed());
        match received.recv_timeout(left) {
            Ok(line) => match line.split("listening on http://").nth(1) {
                Some(addr) => break Some(addr.trim().to_owned()),
                None => seen.push(line),
            },
            Err(_) => break None,
        }
    };
    match listening {
        Some(addr) => (child, received, addr),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the proxy did not start:\n{}", seen.join("\n"));
        }
    }
}

/// One request over a new connection, read to its end; the whole answer.
pub fn http_get(addr: &str, host: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn slow_plugin_callbacks_are_timed_and_named_in_a_warning() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("plugins")).unwrap();
    let probe = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/plugins/hook_probe.c");
    compile_c_with(&probe, &[], &[&abi_include_dir()], &root.path().join("plugins/probe.so"));
    let recorder = hookyard_fixtures::recorder(&[]);
    std::fs::copy(recorder, root.path().join("plugins/recorder.so")).unwrap();
    write(
        root.path(),
        "hookyard.yaml",
        "plugin_dirs: [plugins]\nruntime_dir: run\nlimits: {slow_callback: 10ms}\n",
    );
    write(root.path(), "plugin.yaml", "plugins:\n  - path: probe.so\n    params: [block=30]\n");
    write(
        root.path(),
        "remap.config",
        "map http://site.test/ http://127.0.0.1:9/ @plugin=recorder.so @pparam=sleep=30\n",
    );
    // Port 0, read back from what `run` prints: a port picked here could be taken meanwhile.
    let args = ["--config", ".", "--listen", "127.0.0.1:0", "--admin", "a.sock"];
    let (mut child, lines, addr) =
        start_run(root.path(), &[&args[..], &["--metrics", "127.0.0.1:0"]].concat());
    let metrics = lines
        .recv_timeout(DEADLINE)
        .into_iter()
        .chain(std::iter::from_fn(|| lines.recv_timeout(DEADLINE).ok()))
        .find_map(|line| {
            let at = line.split("hookyard: metrics on http://").nth(1)?;
            Some(at.trim_end_matches("/metrics").to_owned())
        })
        .expect("run says where its metrics are");
    let answer = http_get(&addr, "site.test", "/");
    assert!(answer.starts_with("HTTP/1.1 502"), "the origin is down: {answer}");
    let page = http_get(&metrics, "x", "/metrics");
    let _ = child.kill();
    let _ = child.wait();
    let logged: Vec<String> = lines.try_iter().collect();
    let slow: Vec<&String> =
        logged.iter().filter(|l| l.contains("longer than limits.slow_callback")).collect();
    assert!(
        slow.iter().any(|l| l.contains("plugin=recorder") && l.contains("do_remap")),
        "{logged:#?}"
    );
    assert!(
        slow.iter().any(|l| l.contains("plugin=probe") && l.contains("READ_REQUEST_HDR")),
        "{logged:#?}"
    );
    let count = "hookyard_plugin_remap_seconds_count{plugin=\"recorder\",version=\"test\"} 1";
    assert!(page.contains(count), "{page}");
    let fast =
        "hookyard_plugin_remap_seconds_bucket{plugin=\"recorder\",version=\"test\",le=\"0.01\"} 0";
    assert!(page.contains(fast), "{page}");
}

/// The CPUs of a `/proc` status's `Cpus_allowed_list` (`0-3,6`).
fn allowed_cpus(status: &str) -> Vec<usize> {
    let list = status
        .lines()
        .find_map(|line| line.strip_prefix("Cpus_allowed_list:"))
        .expect("a status gives its CPUs")
        .trim();
    let mut cpus = Vec::new();
    for part in list.split(',') {
        let (first, last) = part.split_once('-').unwrap_or((part, part));
        cpus.extend(first.parse::<usize>().unwrap()..=last.parse().unwrap());
    }
    cpus
}

/// The CPUs each thread of `pid` may run on, its worker threads' in start order, and the
/// others'.
fn threads_cpus(pid: u32) -> (Vec<Vec<usize>>, Vec<Vec<usize>>) {
    let mut tasks: Vec<u32> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .map(|task| task.unwrap().file_name().to_string_lossy().parse().unwrap())
        .collect();
    tasks.sort_unstable();
    let (mut workers, mut others) = (Vec::new(), Vec::new());
    for task in tasks {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/task/{task}/comm")).unwrap();
        let status = std::fs::read_to_string(format!("/proc/{pid}/task/{task}/status")).unwrap();
        // `hookyard-worker-N`, cut to the kernel's 15 bytes.
        let to = if comm.starts_with("hookyard-worker") { &mut workers } else { &mut others };
        to.push(allowed_cpus(&status));
    }
    (workers, others)
}

#[test]
fn workers_run_on_the_cpus_worker_cpu_affinity_gives() {
    let ours = allowed_cpus(&std::fs::read_to_string("/proc/self/status").unwrap());
    let listed = *ours.last().unwrap();
    let cases = [
        (format!("workers: 3\nworker_cpu_affinity: [{listed}]\n"), vec![vec![listed]; 3]),
        (
            "workers: 3\nworker_cpu_affinity: auto\n".to_owned(),
            (0..3).map(|i| vec![ours[i % ours.len()]]).collect(),
        ),
        ("workers: 2\n".to_owned(), vec![ours.clone(); 2]),
    ];
    for (settings, expected) in cases {
        let dir = config_dir(&[("hookyard.yaml", &settings)]);
        let args = ["--config", ".", "--listen", "127.0.0.1:0", "--admin", "admin.sock"];
        let (mut child, _, addr) = start_run(dir.path(), &args);
        let answer = http_get(&addr, "site.test", "/_hookyard/health");
        // Each worker pins itself as it starts.
        let start = Instant::now();
        let (workers, others) = loop {
            let (workers, others) = threads_cpus(child.id());
            if workers == expected || start.elapsed() > DEADLINE {
                break (workers, others);
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        let _ = child.kill();
        let _ = child.wait();
        assert!(answer.ends_with("ok\n"), "{settings}: {answer}");
        assert_eq!(workers, expected, "{settings}");
        assert!(others.iter().all(|cpus| *cpus == ours), "{settings}: the others stay: {others:?}");
    }
}

#[test]
fn a_cpu_the_proxy_may_not_run_on_is_refused_at_start() {
    let ours = allowed_cpus(&std::fs::read_to_string("/proc/self/status").unwrap());
    let other = (0..1024).find(|cpu| !ours.contains(cpu)).unwrap();
    let settings = format!("workers: 2\nworker_cpu_affinity: [{}, {other}]\n", ours[0]);
    let dir = config_dir(&[("hookyard.yaml", &settings)]);
    let stderr = refused_start(dir.path());
    let reason = format!(
        "hookyard.yaml:2: `worker_cpu_affinity`: CPU {other} is not one this process may run on"
    );
    assert!(stderr.contains(&reason), "{stderr}");
}
