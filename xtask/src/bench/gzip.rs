//! The gzip comparison of issue 18: hookyard with the `gzip` example plugin against nginx's
//! `gzip on`, at the same level, in front of the same origin serving the same text page (the
//! repository's own documentation, concatenated: real prose and tables, not a repeated
//! pattern). Both are asked with `Accept-Encoding: gzip` by the same wrk settings, in rotating
//! order; the report gives each one's requests per second, p99, compressed size and
//! compression ratio, side by side.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::procs::{self, Server};
use super::{Options, hookyard, install, nginx, report, wrk};

/// The compression level both use (nginx's `gzip_comp_level`, the plugin's `level=`).
const LEVEL: u32 = 6;

/// The smallest body either compresses (nginx's `gzip_min_length`, the plugin's `min_size=`).
const MIN_SIZE: u32 = 1024;

/// wrk's script: the bench's `done()` line, and the header that asks for gzip.
fn script() -> String {
    format!("wrk.headers[\"Accept-Encoding\"] = \"gzip\"\n{}", wrk::SCRIPT)
}

/// The page: every Markdown file of `docs/` and `ARCHITECTURE.md`, in name order.
fn page(root: &Path) -> Result<Vec<u8>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    files.sort();
    files.push(root.join("ARCHITECTURE.md"));
    let mut page = Vec::new();
    for file in files {
        page.extend(std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?);
    }
    Ok(page)
}

/// The origin: nginx serving `html/page.txt` as `text/plain`, uncompressed.
fn origin_conf(dir: &Path, port: u16) -> String {
    format!(
        "# written by cargo xtask bench\n\
         daemon off;\nmaster_process on;\n{}worker_processes 1;\n\
         pid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
         events {{\n    worker_connections 4096;\n}}\n\
         http {{\n    access_log off;\n    client_body_temp_path {d}/tmp/body;\n\
         \x20   proxy_temp_path {d}/tmp/proxy;\n    fastcgi_temp_path {d}/tmp/fastcgi;\n\
         \x20   uwsgi_temp_path {d}/tmp/uwsgi;\n    scgi_temp_path {d}/tmp/scgi;\n\
         \x20   server {{\n        listen 127.0.0.1:{port} reuseport;\n\
         \x20       keepalive_requests 1000000;\n        root {d}/html;\n\
         \x20       default_type text/plain;\n        location / {{ try_files /page.txt =404; }}\n\
         \x20   }}\n}}\n",
        if nginx::is_root() { "user root;\n" } else { "" },
        d = dir.display(),
    )
}

/// The nginx contender: its `proxy_pass` configuration with `gzip on` at [`LEVEL`].
fn nginx_conf(dir: &Path, port: u16, origin: u16) -> String {
    let gzip = format!(
        "    gzip on;\n    gzip_comp_level {LEVEL};\n    gzip_min_length {MIN_SIZE};\n\
         \x20   gzip_proxied any;\n    gzip_vary on;\n    gzip_types text/plain;\n"
    );
    nginx::proxy_conf(dir, port, origin).replacen(
        "    access_log off;\n",
        &format!("    access_log off;\n{gzip}"),
        1,
    )
}

/// One `GET /` asking for gzip; the response's `Content-Encoding` and body size.
fn probe(addr: SocketAddr) -> Result<(String, usize)> {
    let timeout = Duration::from_secs(5);
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    write!(
        stream,
        "GET / HTTP/1.1\r\nHost: {addr}\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").context("no response head")?;
    let head = format!("{}\r\n\r\n", String::from_utf8_lossy(&response[..split]));
    let encoding = procs::header(&head, "content-encoding").unwrap_or("none");
    let mut body = response.len() - split - 4;
    if procs::header(&head, "transfer-encoding").is_some() {
        body = dechunked_len(&response[split + 4..])?;
    }
    Ok((encoding.to_owned(), body))
}

/// The data length of a chunked body.
fn dechunked_len(mut body: &[u8]) -> Result<usize> {
    let mut total = 0;
    loop {
        let line = body.windows(2).position(|w| w == b"\r\n").context("cut chunk size")?;
        let text = String::from_utf8_lossy(&body[..line]);
        let size = usize::from_str_radix(text.split(';').next().unwrap_or("").trim(), 16)
            .with_context(|| format!("bad chunk size `{text}`"))?;
        if size == 0 {
            return Ok(total);
        }
        total += size;
        body = body.get(line + 2 + size + 2..).context("cut chunk")?;
    }
}

/// Builds the `gzip` example in release; its path.
fn build_plugin(root: &Path) -> Result<PathBuf> {
    let mut cmd = crate::cargo_cmd();
    cmd.args(["build", "--release", "--locked", "--package", "hookyard-plugin-gzip"]);
    crate::status(cmd)?;
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root.join(dir),
        None => root.join("target"),
    };
    Ok(target.join("release/libgzip.so"))
}

/// A contender's results.
struct Side {
    name: &'static str,
    addr: SocketAddr,
    encoding: String,
    size: usize,
    samples: Vec<wrk::Sample>,
}

/// `cargo xtask bench`'s gzip part, in `dir`.
pub(crate) fn compare(root: &Path, o: &Options, dir: &Path) -> Result<()> {
    let installed = install::ensure()?;
    if let Some((_, why)) = installed.unavailable.iter().find(|(p, _)| *p == "nginx") {
        bail!("nginx is needed for the gzip comparison: {why}");
    }
    let page = page(root)?;
    let binary = hookyard::build(root)?;
    let plugin = build_plugin(root)?;
    let limit =
        (o.wrk.duration + Duration::from_secs(10)) * 2 * (o.rounds + 1) + Duration::from_secs(120);
    let ready = Duration::from_secs(20);

    let origin_dir = dir.join("origin");
    std::fs::create_dir_all(origin_dir.join("tmp"))?;
    std::fs::create_dir_all(origin_dir.join("html"))?;
    std::fs::write(origin_dir.join("html/page.txt"), &page)?;
    let origin = SocketAddr::from((Ipv4Addr::LOCALHOST, procs::free_port()?));
    std::fs::write(origin_dir.join("nginx.conf"), origin_conf(&origin_dir, origin.port()))?;
    let mut origin_server = Server::start(
        "origin nginx",
        &nginx::command(&install::nginx(), &origin_dir),
        limit,
        &origin_dir.join("stdout.log"),
    )?;
    origin_server.wait_ready(origin, &origin.to_string(), ready)?;

    let ngx_dir = dir.join("nginx");
    std::fs::create_dir_all(ngx_dir.join("tmp"))?;
    let ngx = SocketAddr::from((Ipv4Addr::LOCALHOST, procs::free_port()?));
    std::fs::write(ngx_dir.join("nginx.conf"), nginx_conf(&ngx_dir, ngx.port(), origin.port()))?;
    let mut ngx_server = Server::start(
        "nginx",
        &nginx::command(&install::nginx(), &ngx_dir),
        limit,
        &ngx_dir.join("stdout.log"),
    )?;
    ngx_server.wait_ready(ngx, &ngx.to_string(), ready)?;

    let hy_dir = dir.join("hookyard");
    std::fs::create_dir_all(hy_dir.join("run"))?;
    let hy = SocketAddr::from((Ipv4Addr::LOCALHOST, procs::free_port()?));
    std::fs::write(hy_dir.join("hookyard.yaml"), hookyard::settings(&hy_dir))?;
    let from = format!("http://{hy}/");
    std::fs::write(hy_dir.join("remap.config"), hookyard::rule(&from, origin.port(), None))?;
    let entry = format!(
        "plugins:\n  - path: {}\n    params: [level={LEVEL}, min_size={MIN_SIZE}, types=text/plain]\n",
        plugin.display()
    );
    std::fs::write(hy_dir.join("plugin.yaml"), entry)?;
    let hy_server = hookyard::serve(&binary, &hy_dir, hy, limit, ready, "stdout.log")?;

    let lua = script();
    let script = dir.join("gzip.lua");
    std::fs::write(&script, lua)?;
    let mut sides = [("hookyard", hy), ("nginx", ngx)].map(|(name, addr)| Side {
        name,
        addr,
        encoding: String::new(),
        size: 0,
        samples: Vec::new(),
    });
    for side in &mut sides {
        (side.encoding, side.size) = probe(side.addr)?;
        if side.encoding != "gzip" {
            bail!("{} did not gzip the page (Content-Encoding: {})", side.name, side.encoding);
        }
        wrk::run(
            &wrk::Load { duration: o.warmup.max(Duration::from_secs(1)), ..o.wrk.clone() },
            &script,
            &format!("http://{}/", side.addr),
        )?;
    }
    for round in 0..o.rounds as usize {
        for i in 0..sides.len() {
            let side = &mut sides[(round + i) % 2];
            let sample = wrk::run(&o.wrk, &script, &format!("http://{}/", side.addr))?;
            side.samples.push(sample);
        }
    }
    drop((hy_server, ngx_server, origin_server));
    println!("{}", table(page.len(), &sides));
    Ok(())
}

/// The side-by-side report.
fn table(original: usize, sides: &[Side]) -> String {
    let mut out = format!(
        "gzip at level {LEVEL}, {original} bytes of text per response, Accept-Encoding: gzip\n\
         | proxy    | req/s (median) | p99 ms (median) | gzip bytes | ratio |\n\
         |----------|----------------|-----------------|------------|-------|\n"
    );
    let mut rps = Vec::new();
    for side in sides {
        let r = report::median(&side.samples.iter().map(|s| s.rps).collect::<Vec<_>>());
        let p99 = report::median(&side.samples.iter().map(|s| s.p99_us).collect::<Vec<_>>());
        rps.push(r);
        out.push_str(&format!(
            "| {:<8} | {:>14.0} | {:>15.2} | {:>10} | {:>5.3} |\n",
            side.name,
            r,
            p99 / 1000.0,
            side.size,
            side.size as f64 / original as f64
        ));
    }
    if let [hy, ngx] = rps[..]
        && ngx > 0.0
    {
        out.push_str(&format!("hookyard / nginx requests per second: {:.2}\n", hy / ngx));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_measured_without_framing() {
        assert_eq!(dechunked_len(b"5\r\nhello\r\n3;x=1\r\nabc\r\n0\r\n\r\n").unwrap(), 8);
        assert!(dechunked_len(b"zz\r\n").is_err());
    }

    #[test]
    fn nginx_gzips_at_the_same_level() {
        let conf = nginx_conf(Path::new("/b"), 8080, 8000);
        assert!(conf.contains("gzip on;") && conf.contains("gzip_comp_level 6;"), "{conf}");
        assert!(conf.contains("proxy_pass http://origin;"), "{conf}");
    }
}
