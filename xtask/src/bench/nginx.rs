//! nginx, twice: the origin every proxy forwards to, and the `proxy_pass` contender.
//!
//! Each gets its own `nginx.conf` in the bench directory, with its own pid file, error log and
//! temp paths (`-p DIR -e LOG` keeps nginx away from `/var/log/nginx` even before it reads the
//! file), runs in the foreground (`daemon off`), and as the invoking user (`user root` only
//! when that is root, so workers can write the temp paths).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};

use super::install;
use super::procs::{self, Server};

/// The origin's body: small, static, the same for every proxy.
pub(crate) const BODY: &str = "hello from the hookyard bench origin\n";

/// The header through which the origin reflects the request header `X-Bench`: a proxy whose
/// plugin added `X-Bench` is seen doing so in its response.
pub(crate) const REFLECT: &str = "X-Origin-Saw-Bench";

/// The origin: one worker, `return 200` with [`BODY`], no access log.
pub(crate) fn origin_conf(dir: &Path, port: u16) -> String {
    let server = format!(
        "    server {{\n\
         \x20       listen 127.0.0.1:{port} reuseport;\n\
         \x20       keepalive_requests 1000000;\n\
         \x20       location / {{\n\
         \x20           default_type text/plain;\n\
         \x20           add_header {REFLECT} \"$http_x_bench\";\n\
         \x20           return 200 \"{}\";\n\
         \x20       }}\n\
         \x20   }}\n",
        BODY.escape_default()
    );
    conf(dir, 1, "", &server)
}

/// The contender: `worker_processes auto` (one per core, each pinned to it by
/// `worker_cpu_affinity auto`), `proxy_pass` to an upstream with a keepalive pool, HTTP/1.1 to
/// the origin, no access log, no buffering limits in the way of a 37-byte body.
pub(crate) fn proxy_conf(dir: &Path, port: u16, origin: u16) -> String {
    let server = format!(
        "    server {{\n\
         \x20       listen 127.0.0.1:{port} reuseport;\n\
         \x20       keepalive_requests 1000000;\n\
         \x20       location / {{\n\
         \x20           proxy_pass http://origin;\n\
         \x20           proxy_http_version 1.1;\n\
         \x20           proxy_set_header Connection \"\";\n\
         \x20       }}\n\
         \x20   }}\n"
    );
    conf(dir, 0, &upstream(origin, 64), &server)
}

/// `conf` (one of this module's) as one process: no master, one worker, which does all the
/// work in the process started (what a profiler that follows one process needs).
pub(crate) fn single_process(conf: &str) -> String {
    conf.replace("master_process on;", "master_process off;")
        .replace("worker_processes auto;\nworker_cpu_affinity auto;", "worker_processes 1;")
}

/// The TLS contender: as [`proxy_conf`], on a TLS listener with HTTP/2 (`cert` and `key`, TLS 1.3
/// only), and `/health` answered by nginx itself (what the handshake clients fetch). Its pool
/// keeps up to 1024 idle origin connections: HTTP/2 clients have many more requests in flight
/// than connections, and a smaller pool would close and reopen origin connections all along.
pub(crate) fn tls_conf(dir: &Path, port: u16, origin: u16, cert: &Path, key: &Path) -> String {
    let server = format!(
        "    server {{\n\
         \x20       listen 127.0.0.1:{port} ssl http2 reuseport;\n\
         \x20       ssl_certificate {};\n\
         \x20       ssl_certificate_key {};\n\
         \x20       ssl_protocols TLSv1.3;\n\
         \x20       keepalive_requests 1000000;\n\
         \x20       location = /health {{\n\
         \x20           default_type text/plain;\n\
         \x20           return 200 \"ok\\n\";\n\
         \x20       }}\n\
         \x20       location / {{\n\
         \x20           proxy_pass http://origin;\n\
         \x20           proxy_http_version 1.1;\n\
         \x20           proxy_set_header Connection \"\";\n\
         \x20       }}\n\
         \x20   }}\n",
        cert.display(),
        key.display()
    );
    conf(dir, 0, &upstream(origin, 1024), &server)
}

/// The origin as an upstream keeping up to `idle` idle connections per worker.
fn upstream(origin: u16, idle: u32) -> String {
    format!(
        "    upstream origin {{\n\
         \x20       server 127.0.0.1:{origin};\n\
         \x20       keepalive {idle};\n\
         \x20       keepalive_requests 1000000;\n\
         \x20   }}\n"
    )
}

/// `workers` 0 means `auto`.
fn conf(dir: &Path, workers: u32, upstream: &str, server: &str) -> String {
    let d = dir.display();
    // One worker per core, each pinned to its own, as hookyard's workers are in the bench.
    let workers = if workers == 0 {
        "auto;\nworker_cpu_affinity auto".to_owned()
    } else {
        workers.to_string()
    };
    let user = if is_root() { "user root;\n" } else { "" };
    format!(
        "# written by cargo xtask bench\n\
         daemon off;\n\
         master_process on;\n\
         {user}worker_processes {workers};\n\
         pid {d}/nginx.pid;\n\
         error_log {d}/error.log warn;\n\
         events {{\n    worker_connections 4096;\n}}\n\
         http {{\n\
         \x20   access_log off;\n\
         \x20   client_body_temp_path {d}/tmp/body;\n\
         \x20   proxy_temp_path {d}/tmp/proxy;\n\
         \x20   fastcgi_temp_path {d}/tmp/fastcgi;\n\
         \x20   uwsgi_temp_path {d}/tmp/uwsgi;\n\
         \x20   scgi_temp_path {d}/tmp/scgi;\n\
         {upstream}{server}}}\n"
    )
}

/// Starts the origin ([`origin_conf`]) in `dir` on a free port and waits until it serves.
pub(crate) fn start_origin(
    dir: &Path,
    limit: Duration,
    ready: Duration,
) -> Result<(Server, SocketAddr)> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, procs::free_port()?));
    std::fs::create_dir_all(dir.join("tmp"))?;
    std::fs::write(dir.join("nginx.conf"), origin_conf(dir, addr.port()))?;
    let mut server = Server::start(
        "origin nginx",
        &command(&install::nginx(), dir),
        limit,
        &dir.join("stdout.log"),
    )?;
    server.wait_ready(addr, &addr.to_string(), ready).context("the origin did not start")?;
    Ok((server, addr))
}

/// The origin of [`start_origin`] listening on several ports at once (one process, one worker:
/// as many origin servers as ports, at the cost of one).
pub(crate) fn start_origin_ports(
    dir: &Path,
    count: usize,
    limit: Duration,
    ready: Duration,
) -> Result<(Server, Vec<SocketAddr>)> {
    let mut addrs = Vec::new();
    for _ in 0..count {
        addrs.push(SocketAddr::from((Ipv4Addr::LOCALHOST, procs::free_port()?)));
    }
    std::fs::create_dir_all(dir.join("tmp"))?;
    let first = format!("listen 127.0.0.1:{} reuseport;", addrs[0].port());
    let all: Vec<String> =
        addrs.iter().map(|a| format!("listen 127.0.0.1:{} reuseport;", a.port())).collect();
    let conf = origin_conf(dir, addrs[0].port()).replace(&first, &all.join("\n        "));
    std::fs::write(dir.join("nginx.conf"), conf)?;
    let mut server = Server::start(
        "origin nginx",
        &command(&install::nginx(), dir),
        limit,
        &dir.join("stdout.log"),
    )?;
    for addr in &addrs {
        server.wait_ready(*addr, &addr.to_string(), ready).context("the origin did not start")?;
    }
    Ok((server, addrs))
}

/// The command that runs the configuration written to `dir/nginx.conf`.
pub(crate) fn command(nginx: &Path, dir: &Path) -> Command {
    let mut cmd = Command::new(nginx);
    cmd.arg("-p")
        .arg(dir)
        .arg("-e")
        .arg(dir.join("error.log"))
        .arg("-c")
        .arg(dir.join("nginx.conf"));
    cmd
}

pub(crate) fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_process_has_no_master_and_one_worker() {
        let conf = single_process(&proxy_conf(Path::new("/tmp/b/nginx"), 8081, 8000));
        assert!(conf.contains("master_process off;"));
        assert!(conf.contains("worker_processes 1;"));
        assert!(!conf.contains("master_process on;"));
        assert!(!conf.contains("auto;"), "{conf}");
    }

    #[test]
    fn proxy_keeps_upstream_connections_alive() {
        let conf = proxy_conf(Path::new("/tmp/b/nginx"), 8081, 8000);
        assert!(conf.contains("listen 127.0.0.1:8081 reuseport;"));
        assert!(conf.contains("server 127.0.0.1:8000;"));
        assert!(conf.contains("keepalive 64;"));
        assert!(conf.contains("proxy_set_header Connection \"\";"));
        assert!(conf.contains("pid /tmp/b/nginx/nginx.pid;"));
        assert!(conf.contains("worker_processes auto;\nworker_cpu_affinity auto;\n"));
        assert_eq!(conf.matches('{').count(), conf.matches('}').count());
    }

    #[test]
    fn tls_serves_h2_with_the_given_certificate() {
        let conf =
            tls_conf(Path::new("/b/t"), 8443, 8000, Path::new("/b/c.pem"), Path::new("/b/k.pem"));
        assert!(conf.contains("listen 127.0.0.1:8443 ssl http2 reuseport;"));
        assert!(conf.contains("ssl_certificate /b/c.pem;"));
        assert!(conf.contains("ssl_certificate_key /b/k.pem;"));
        assert!(conf.contains("ssl_protocols TLSv1.3;"));
        assert!(conf.contains("return 200 \"ok\\n\";"));
        assert_eq!(conf.matches('{').count(), conf.matches('}').count());
    }

    #[test]
    fn origin_returns_the_body_and_reflects_x_bench() {
        let conf = origin_conf(Path::new("/tmp/b/origin"), 8000);
        assert!(conf.contains("return 200 \"hello from the hookyard bench origin\\n\";"));
        assert!(conf.contains("add_header X-Origin-Saw-Bench \"$http_x_bench\";"));
        assert!(conf.contains("worker_processes 1;"));
        assert_eq!(conf.matches('{').count(), conf.matches('}').count());
    }
}
