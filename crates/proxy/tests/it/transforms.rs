//! Body transforms (ABI 1.5) through the `hookyard` binary with curl, driven by the C plugin
//! `transform_probe.c`: every kind on `Content-Length` and chunked bodies, the framing the
//! client gets, priority order, switches and thresholds, pending chunks resumed from another
//! thread, failures before and after the head, client and origin aborts mid-body, HTTP/2, and
//! 100 MB both ways with the proxy's peak RSS bounded.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use hookyard_fixtures::{abi_include_dir, compile_c_with};

use crate::cli::start_run;
use crate::support::{DEADLINE, config_dir, write};

/// The bytes every origin body is made of, cycled.
const PATTERN: &[u8] = b"hello.world\n";

fn pattern(len: usize) -> Vec<u8> {
    PATTERN.iter().copied().cycle().take(len).collect()
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(14695981039346656037_u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(1099511628211))
}

/// The FNV-1a digest of `len` pattern bytes, without holding them.
fn pattern_fnv(len: usize) -> u64 {
    PATTERN
        .iter()
        .cycle()
        .take(len)
        .fold(14695981039346656037_u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(1099511628211))
}

/// A raw HTTP/1.1 origin on its own threads, one request per connection:
/// - `GET /cl/N`: N pattern bytes with `Content-Length`;
/// - `GET /chunked/N`: N pattern bytes, chunked in 16 KiB chunks;
/// - `GET /encoded/N`, `GET /bin/N`: as `/cl/N`, but `Content-Encoding: br`, or
///   `Content-Type: application/octet-stream` (not `text/plain`);
/// - `GET /abort/N`: `Content-Length: 2N`, N bytes, then the connection closes;
/// - `POST /sink`: reads the body (either framing) and answers
///   `len=L fnv=HEX head=FIRST 24 BYTES`.
struct RawOrigin {
    addr: String,
}

impl RawOrigin {
    fn start() -> RawOrigin {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                std::thread::spawn(move || {
                    let _ = serve(stream);
                });
            }
        });
        RawOrigin { addr }
    }
}

fn serve(stream: TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let target = line.split(' ').nth(1).unwrap_or("/").to_owned();
    let (mut length, mut chunked) = (0_usize, false);
    loop {
        let mut field = String::new();
        reader.read_line(&mut field)?;
        let field = field.trim_end();
        if field.is_empty() {
            break;
        }
        let lower = field.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
            chunked = true;
        }
    }
    let n = |prefix: &str| target.strip_prefix(prefix).and_then(|n| n.parse::<usize>().ok());
    if target == "/sink" {
        let (mut len, mut hash, mut head) = (0_usize, 14695981039346656037_u64, Vec::new());
        let mut take = |bytes: &[u8]| {
            len += bytes.len();
            hash = bytes.iter().fold(hash, |h, b| (h ^ u64::from(*b)).wrapping_mul(1099511628211));
            let room = 24_usize.saturating_sub(head.len());
            head.extend_from_slice(&bytes[..room.min(bytes.len())]);
        };
        let mut buf = vec![0_u8; 64 << 10];
        if chunked {
            loop {
                let mut size = String::new();
                reader.read_line(&mut size)?;
                let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16)
                    .map_err(|_| std::io::Error::other("bad chunk size"))?;
                if size == 0 {
                    let mut end = String::new();
                    while reader.read_line(&mut end)? > 2 {
                        end.clear();
                    }
                    break;
                }
                let mut left = size;
                while left > 0 {
                    let got = reader.read(&mut buf[..left.min(64 << 10)])?;
                    if got == 0 {
                        return Ok(());
                    }
                    take(&buf[..got]);
                    left -= got;
                }
                let mut crlf = [0_u8; 2];
                reader.read_exact(&mut crlf)?;
            }
        } else {
            let mut left = length;
            while left > 0 {
                let got = reader.read(&mut buf[..left.min(64 << 10)])?;
                if got == 0 {
                    return Ok(());
                }
                take(&buf[..got]);
                left -= got;
            }
        }
        let text = format!("len={len} fnv={hash:016x} head={}", String::from_utf8_lossy(&head));
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            text.len()
        );
        out.write_all(head.as_bytes())?;
        return out.write_all(text.as_bytes());
    }
    let block = pattern(PATTERN.len() * 5461); // 65532 bytes, whole patterns
    let send = |out: &mut TcpStream, mut left: usize, chunk: usize, chunked: bool| {
        while left > 0 {
            let n = left.min(chunk);
            if chunked {
                out.write_all(format!("{n:x}\r\n").as_bytes())?;
            }
            // Whole patterns per block, so the body is the pattern throughout.
            let mut sent = 0;
            while sent < n {
                let m = (n - sent).min(block.len());
                out.write_all(&block[..m])?;
                sent += m;
            }
            if chunked {
                out.write_all(b"\r\n")?;
            }
            left -= n;
        }
        std::io::Result::Ok(())
    };
    if let Some(len) = n("/cl/") {
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
        );
        out.write_all(head.as_bytes())?;
        send(&mut out, len, block.len(), false)?;
    } else if let Some(len) = n("/chunked/") {
        let head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
        out.write_all(head.as_bytes())?;
        send(&mut out, len, 16 * PATTERN.len() * 100, true)?;
        out.write_all(b"0\r\n\r\n")?;
    } else if let Some(len) = n("/encoded/").or(n("/bin/")) {
        let field = if target.starts_with("/encoded/") {
            "Content-Type: text/plain\r\nContent-Encoding: br"
        } else {
            "Content-Type: application/octet-stream"
        };
        let head = format!(
            "HTTP/1.1 200 OK\r\n{field}\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
        );
        out.write_all(head.as_bytes())?;
        send(&mut out, len, block.len(), false)?;
    } else if let Some(len) = n("/abort/") {
        let head =
            format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", 2 * len);
        out.write_all(head.as_bytes())?;
        send(&mut out, len, block.len(), false)?;
        out.flush()?;
    } else {
        out.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?;
    }
    Ok(())
}

/// The proxy binary with `transform_probe` loaded (`out=` its CLOSE lines' directory), mapping
/// `site.test` to the origin.
struct Proxy {
    child: Child,
    addr: String,
    dir: tempfile::TempDir,
    /// The proxy's stderr lines (its log).
    log: std::sync::mpsc::Receiver<String>,
}

impl Proxy {
    fn start(origin: &RawOrigin, yaml: &str) -> Proxy {
        Proxy::with_examples(origin, yaml, &[])
    }

    /// As [`Proxy::start`], with example plugins after the probe in `plugin.yaml`: each
    /// (package, library, params), built and installed as `LIBRARY.so`.
    fn with_examples(origin: &RawOrigin, yaml: &str, examples: &[(&str, &str, &str)]) -> Proxy {
        let dir = config_dir(&[(
            "remap.config",
            &format!("map http://site.test/ http://{}/\n", origin.addr),
        )]);
        let plugins = dir.path().join("plugins");
        std::fs::create_dir_all(&plugins).unwrap();
        std::fs::create_dir_all(dir.path().join("out")).unwrap();
        let probe = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/plugins/transform_probe.c");
        compile_c_with(&probe, &[], &[&abi_include_dir()], &plugins.join("transform_probe.so"));
        let out = dir.path().join("out");
        let mut plugin_yaml = format!(
            "plugins:\n  - path: transform_probe.so\n    params: [out={}]\n",
            out.display()
        );
        for (package, lib, params) in examples {
            let built = hookyard_fixtures::rust_cdylib(package, lib);
            std::fs::copy(built, plugins.join(format!("{lib}.so"))).unwrap();
            plugin_yaml.push_str(&format!("  - path: {lib}.so\n    params: [{params}]\n"));
        }
        write(dir.path(), "plugin.yaml", &plugin_yaml);
        write(
            dir.path(),
            "hookyard.yaml",
            &format!("plugin_dirs: [plugins]\nruntime_dir: run\n{yaml}"),
        );
        let (child, log, addr) = start_run(
            dir.path(),
            &["--config", ".", "--listen", "127.0.0.1:0", "--admin", "admin.sock"],
        );
        Proxy { child, addr, dir, log }
    }

    /// Waits for a log line containing `text`; the line.
    fn logged(&self, text: &str) -> String {
        let start = Instant::now();
        loop {
            let left = DEADLINE.saturating_sub(start.elapsed());
            match self.log.recv_timeout(left) {
                Ok(line) if line.contains(text) => return line,
                Ok(_) => {}
                Err(_) => panic!("no log line with `{text}`"),
            }
        }
    }

    fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    /// What transform `mode` of request `id` wrote at its CLOSE (waiting for it).
    fn closed(&self, id: &str, mode: &str) -> String {
        let path = self.out().join(format!("{id}.{mode}"));
        let start = Instant::now();
        loop {
            if let Ok(text) = std::fs::read_to_string(&path)
                && text.ends_with('\n')
            {
                return text;
            }
            assert!(start.elapsed() < DEADLINE, "no CLOSE of {id}.{mode}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The proxy's peak resident set (VmHWM), in KiB.
    fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What curl got.
struct Got {
    /// curl's exit code.
    code: i32,
    /// The response head, lower-cased.
    head: String,
    /// The response head as it came.
    raw_head: String,
    body: Vec<u8>,
}

impl Got {
    fn status(&self) -> &str {
        self.head.split(' ').nth(1).unwrap_or("")
    }

    fn has(&self, field: &str) -> bool {
        self.head.lines().any(|l| l.trim_end() == field)
    }
}

/// `curl` to the proxy for `path` with `X-Transform: transforms` (and `extra` arguments).
fn curl(proxy: &Proxy, path: &str, transforms: &str, id: &str, extra: &[&str]) -> Got {
    let head = tempfile::NamedTempFile::new().unwrap();
    let body = tempfile::NamedTempFile::new().unwrap();
    let output = Command::new("curl")
        .args(["-sS", "--max-time", "60", "-H", "Host: site.test", "-D"])
        .arg(head.path())
        .arg("-o")
        .arg(body.path())
        .args(["-H", &format!("X-Transform: {transforms}"), "-H", &format!("X-Transform-Id: {id}")])
        .args(extra)
        .arg(format!("http://{}{path}", proxy.addr))
        .output()
        .unwrap();
    let raw_head = std::fs::read_to_string(head.path()).unwrap();
    Got {
        code: output.status.code().unwrap_or(-1),
        head: raw_head.to_ascii_lowercase(),
        raw_head,
        body: std::fs::read(body.path()).unwrap(),
    }
}

fn upper(bytes: &[u8]) -> Vec<u8> {
    bytes.to_ascii_uppercase()
}

#[test]
fn inspect_and_length_preserving_keep_content_length_and_see_every_byte() {
    let origin = RawOrigin::start();
    let proxy = Proxy::start(&origin, "");
    let len = 300_000;
    let got = curl(&proxy, &format!("/cl/{len}"), "inspect,upper", "a", &[]);
    assert_eq!((got.code, got.status()), (0, "200"), "{}", got.head);
    assert!(got.has(&format!("content-length: {len}")), "{}", got.head);
    assert_eq!(got.body, upper(&pattern(len)));
    let line = proxy.closed("a", "inspect");
    assert!(line.contains(&format!("bytes={len} fnv={:016x} end=1", pattern_fnv(len))), "{line}");
    assert!(proxy.closed("a", "upper").contains(&format!("bytes={len} ")));
    // Chunked in, chunked out.
    let got = curl(&proxy, &format!("/chunked/{len}"), "upper", "b", &[]);
    assert_eq!(got.code, 0);
    assert!(got.has("transfer-encoding: chunked"), "{}", got.head);
    assert_eq!(got.body, upper(&pattern(len)));
}

#[test]
fn a_rewrite_is_rechunked_or_gets_a_new_length_when_whole() {
    let origin = RawOrigin::start();
    let proxy = Proxy::start(&origin, "");
    let len = 200_000;
    let doubled: Vec<u8> = {
        // Each chunk twice, as it came: compare lengths and the doubled pattern per line.
        pattern(len)
    };
    let got = curl(&proxy, &format!("/cl/{len}"), "double", "d", &[]);
    assert_eq!(got.code, 0);
    assert!(got.has("transfer-encoding: chunked"), "{}", got.head);
    assert!(!got.head.contains("content-length"), "{}", got.head);
    assert_eq!(got.body.len(), 2 * doubled.len());
    // Buffered whole (a small body): a new Content-Length.
    let got = curl(&proxy, "/chunked/5000", "buffer", "e", &[]);
    assert_eq!(got.code, 0);
    assert!(got.has("content-length: 5000"), "{}", got.head);
    assert_eq!(got.body, pattern(5000));
    // Cut short: the output ends at 1000 bytes, the rest of the origin's body is not read.
    let got = curl(&proxy, "/cl/100000", "cut=1000", "f", &[]);
    assert_eq!((got.code, got.body.len()), (0, 1000));
    assert_eq!(got.body, pattern(1000));
}

#[test]
fn several_transforms_run_in_priority_order_and_obey_switches_and_thresholds() {
    let origin = RawOrigin::start();
    let proxy = Proxy::start(&origin, "");
    // Higher priority first (a plugin's ceiling is 0 by default): upper (-1) then tag=x (-9)
    // leaves `x`; tag=x (-1) then upper (-9) leaves `X`.
    let got = curl(&proxy, "/cl/24", "tag=x@-9,upper@-1", "p1", &[]);
    assert_eq!(got.body, b"HELLOxWORLD\nHELLOxWORLD\n");
    let got = curl(&proxy, "/cl/24", "upper@-9,tag=x@-1", "p2", &[]);
    assert_eq!(got.body, b"HELLOXWORLD\nHELLOXWORLD\n");
    // A priority above the plugin's ceiling is refused.
    let got = curl(&proxy, "/cl/24", "upper@5", "p0", &[]);
    assert_eq!(got.body, pattern(24));
    // Below the transaction's threshold: skipped, with only its CLOSE.
    let got =
        curl(&proxy, "/cl/24", "upper@-9,tag=x@-1", "p3", &["-H", "X-Transform-Threshold: -5"]);
    assert_eq!(got.body, b"helloxworld\nhelloxworld\n");
    assert!(proxy.closed("p3", "upper").starts_with("chunks=0 bytes=0"));
    // The plugin switched off for the transaction: none runs.
    let got = curl(&proxy, "/cl/24", "upper", "p4", &["-H", "X-Transform-Self-Off: 1"]);
    assert_eq!(got.body, pattern(24));
    assert!(proxy.closed("p4", "upper").starts_with("chunks=0 bytes=0 fnv=cbf29ce484222325 end=0"));
}

#[test]
fn pending_chunks_resume_from_another_thread() {
    let origin = RawOrigin::start();
    let proxy = Proxy::start(&origin, "");
    for (i, path) in ["/cl/150000", "/chunked/150000"].iter().enumerate() {
        let id = format!("pend{i}");
        let got = curl(&proxy, path, "hold,pend", &id, &[]);
        assert_eq!(got.code, 0, "{}", got.head);
        assert_eq!(got.body, upper(&pattern(150_000)));
        assert!(proxy.closed(&id, "hold").contains("bytes=150000 "));
        assert!(proxy.closed(&id, "pend").contains("end=1"));
    }
}

#[test]
fn a_failing_transform_is_a_502_before_the_head_and_a_cut_body_after() {
    let origin = RawOrigin::start();
    let proxy = Proxy::start(&origin, "transforms: { buffer_limit: 64KiB }\n");
    let got = curl(&proxy, "/cl/1000", "fail", "x1", &[]);
    assert_eq!((got.code, got.status()), (0, "502"), "{}", got.head);
    assert!(String::from_utf8_lossy(&got.body).contains("a body transform failed"));
    // Past the buffer limit in one write: refused, and the transaction fails.
    let got = curl(&proxy, "/cl/1000", "flood=100000", "x2", &[]);
    assert_eq!(got.status(), "502", "{}", got.head);
    assert!(proxy.closed("x2", "flood").contains("writes=0 refused=1"));
    // After the head went: the client gets a truncated body, never a complete wrong one.
    let got = curl(&proxy, "/cl/2000000", "late=500000", "x3", &[]);
    assert_eq!(got.status(), "200");
    assert_ne!(got.code, 0, "curl must see the body cut");
    assert!(got.body.len() < 2_000_000);
    // The next transaction on the proxy is not disturbed.
    let got = curl(&proxy, "/cl/1000", "upper", "x4", &[]);
    assert_eq!((got.code, got.body), (0, upper(&pattern(1000))));
}

#[test]
fn client_and_origin_aborts_mid_body_close_the_transforms() {
    let origin = RawOrigin::start();
    let proxy = Proxy::start(&origin, "");
    // The origin closes halfway: the client's body is cut, the transform closes without end.
    let got = curl(&proxy, "/abort/300000", "inspect", "o1", &[]);
    assert_ne!(got.code, 0);
    assert!(got.body.len() < 600_000);
    let line = proxy.closed("o1", "inspect");
    assert!(line.contains("end=0"), "{line}");
    // The client leaves mid-body (a large response it stops reading).
    let mut stream = TcpStream::connect(&proxy.addr).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let request = "GET /cl/50000000 HTTP/1.1\r\nHost: site.test\r\nX-Transform: upper,hold\r\n\
                   X-Transform-Id: c1\r\n\r\n";
    stream.write_all(request.as_bytes()).unwrap();
    let mut first = vec![0_u8; 100_000];
    stream.read_exact(&mut first).unwrap();
    drop(stream);
    let line = proxy.closed("c1", "upper");
    assert!(line.contains("end=0"), "{line}");
    assert!(proxy.closed("c1", "hold").contains("end=0"));
}

#[test]
fn request_bodies_are_transformed_on_their_way_to_the_origin() {
    let origin = RawOrigin::start();
    let proxy = Proxy::start(&origin, "");
    let body = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(body.path(), pattern(100_000)).unwrap();
    let data = format!("@{}", body.path().display());
    let post = ["--data-binary", data.as_str(), "-H", "Content-Type: application/octet-stream"];
    let got = curl(&proxy, "/sink", "req-upper,req-inspect", "r1", &post);
    let expected = upper(&pattern(100_000));
    let text = String::from_utf8_lossy(&got.body).into_owned();
    assert_eq!(
        text,
        format!(
            "len=100000 fnv={:016x} head={}",
            fnv(&expected),
            String::from_utf8_lossy(&expected[..24])
        )
    );
    assert!(proxy.closed("r1", "req-inspect").contains("bytes=100000 "));
    let got = curl(&proxy, "/sink", "req-double", "r2", &post);
    assert!(
        String::from_utf8_lossy(&got.body).starts_with("len=200000 "),
        "{:?}",
        String::from_utf8_lossy(&got.body)
    );
    let got = curl(&proxy, "/sink", "req-fail", "r3", &post);
    assert_eq!(got.status(), "502", "{}", got.head);
}

#[test]
fn http2_streams_are_transformed() {
    let origin = RawOrigin::start();
    let proxy = Proxy::start(&origin, "");
    let got = curl(&proxy, "/chunked/100000", "upper,pend", "h1", &["--http2-prior-knowledge"]);
    assert_eq!(got.code, 0, "{}", got.head);
    assert!(got.head.starts_with("http/2 200"), "{}", got.head);
    assert_eq!(got.body, upper(&pattern(100_000)));
    let got = curl(&proxy, "/cl/1000", "fail", "h2", &["--http2-prior-knowledge"]);
    assert!(got.head.starts_with("http/2 502"), "{}", got.head);
}

#[test]
fn a_hundred_megabytes_each_way_with_the_proxys_memory_bounded() {
    let origin = RawOrigin::start();
    let proxy = Proxy::start(&origin, "");
    let len = 100 << 20;
    let before = proxy.peak_rss_kib();
    let got =
        curl(&proxy, &format!("/cl/{len}"), "inspect,upper,double", "big1", &["-o", "/dev/null"]);
    assert_eq!(got.code, 0);
    let line = proxy.closed("big1", "inspect");
    assert!(line.contains(&format!("bytes={len} fnv={:016x} end=1", pattern_fnv(len))), "{line}");
    let body = proxy.dir.path().join("big.bin");
    {
        let mut file = std::fs::File::create(&body).unwrap();
        let block = pattern(PATTERN.len() << 16);
        let mut left = len;
        while left > 0 {
            let n = left.min(block.len());
            file.write_all(&block[..n]).unwrap();
            left -= n;
        }
    }
    let data = format!("@{}", body.display());
    let got =
        curl(&proxy, "/sink", "req-upper,req-inspect", "big2", &["-T", &data[1..], "-X", "POST"]);
    assert!(
        String::from_utf8_lossy(&got.body).starts_with(&format!("len={len} ")),
        "{}",
        String::from_utf8_lossy(&got.body)
    );
    let peak = proxy.peak_rss_kib();
    eprintln!("proxy VmHWM: {before} KiB before, {peak} KiB after 2 x 100 MiB");
    assert!(peak < before + 64 * 1024, "peak RSS grew from {before} KiB to {peak} KiB");
}

const GZIP: (&str, &str, &str) = ("hookyard-plugin-gzip", "gzip", "level=6, min_size=1000");
const SUBSTITUTE: (&str, &str, &str) = ("hookyard-plugin-substitute", "substitute", "\"o=0\"");
const BODY_HASH: (&str, &str, &str) = ("hookyard-plugin-body-hash", "body_hash", "");

/// The SHA-256 of `bytes`, by `sha256sum`.
fn sha256(bytes: &[u8]) -> String {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), bytes).unwrap();
    let output = Command::new("sha256sum").arg(file.path()).output().unwrap();
    String::from_utf8(output.stdout).unwrap().split(' ').next().unwrap().to_owned()
}

#[test]
fn the_gzip_example_compresses_what_the_client_accepts() {
    let origin = RawOrigin::start();
    let proxy = Proxy::with_examples(&origin, "", &[GZIP]);
    let len = 300_000;
    // curl decodes what it asked for with --compressed.
    let got = curl(&proxy, &format!("/cl/{len}"), "", "g1", &["--compressed"]);
    assert_eq!(got.code, 0, "{}", got.head);
    assert!(got.has("content-encoding: gzip") && got.has("vary: accept-encoding"), "{}", got.head);
    assert_eq!(got.body, pattern(len));
    // The bytes on the wire: gzip, and much smaller (this pattern compresses so well that the
    // encoder's output was whole before the head went: a new Content-Length).
    let raw = curl(&proxy, &format!("/cl/{len}"), "", "g2", &["-H", "Accept-Encoding: gzip"]);
    assert_eq!(&raw.body[..2], [0x1f, 0x8b]);
    assert!(raw.body.len() < len / 50, "{} bytes", raw.body.len());
    assert!(raw.has(&format!("content-length: {}", raw.body.len())), "{}", raw.head);
    // A small body buffered whole goes with a Content-Length of the compressed size.
    let small = curl(&proxy, "/chunked/2000", "", "g3", &["-H", "Accept-Encoding: gzip"]);
    assert!(small.has(&format!("content-length: {}", small.body.len())), "{}", small.head);
    // Not accepted, already encoded, too small, not text: passed through as it came.
    for (path, accept) in [
        ("/cl/5000", "br"),
        ("/cl/5000", "gzip;q=0"),
        ("/encoded/5000", "gzip"),
        ("/cl/500", "gzip"),
        ("/bin/5000", "gzip"),
    ] {
        let header = format!("Accept-Encoding: {accept}");
        let got = curl(&proxy, path, "", "g4", &["-H", &header]);
        assert!(!got.has("content-encoding: gzip"), "{path} {accept}: {}", got.head);
        assert_eq!(got.body.len(), path.rsplit('/').next().unwrap().parse::<usize>().unwrap());
    }
    // HTTP/2 too.
    let got =
        curl(&proxy, "/chunked/100000", "", "g5", &["--compressed", "--http2-prior-knowledge"]);
    assert!(
        got.head.starts_with("http/2 200") && got.has("content-encoding: gzip"),
        "{}",
        got.head
    );
    assert_eq!(got.body, pattern(100_000));
}

#[test]
fn the_substitute_and_body_hash_examples_change_in_place_and_read() {
    let origin = RawOrigin::start();
    let proxy = Proxy::with_examples(&origin, "", &[SUBSTITUTE, BODY_HASH]);
    let got = curl(&proxy, "/cl/100000", "", "s1", &[]);
    assert!(got.has("content-length: 100000"), "{}", got.head);
    let expected: Vec<u8> =
        pattern(100_000).iter().map(|b| if *b == b'o' { b'0' } else { *b }).collect();
    assert_eq!(got.body, expected);
    // Not text: not substituted; the hash of what the client got is logged.
    let got = curl(&proxy, "/bin/70000", "", "s2", &[]);
    assert_eq!(got.body, pattern(70_000));
    let line = proxy.logged("body_hash: GET http://site.test/bin/70000");
    assert!(line.contains(&format!("sha256={} bytes=70000", sha256(&pattern(70_000)))), "{line}");
    // A body the origin cut short has no digest.
    let got = curl(&proxy, "/abort/50000", "", "s3", &[]);
    assert_ne!(got.code, 0);
    let line = proxy.logged("body_hash: GET http://site.test/abort/50000");
    assert!(line.contains("incomplete"), "{line}");
}

#[test]
fn the_examples_stream_a_hundred_megabytes_with_the_proxys_memory_bounded() {
    let origin = RawOrigin::start();
    let proxy = Proxy::with_examples(&origin, "", &[GZIP, SUBSTITUTE, BODY_HASH]);
    let before = proxy.peak_rss_kib();
    let len = 100 << 20;
    let path = format!("/chunked/{len}");
    let got = curl(&proxy, &path, "", "big", &["-H", "Accept-Encoding: gzip", "-o", "/dev/null"]);
    assert_eq!(got.code, 0, "{}", got.head);
    assert!(got.has("content-encoding: gzip"), "{}", got.head);
    let line = proxy.logged(&format!("body_hash: GET http://site.test{path}"));
    assert!(line.contains("sha256="), "{line}");
    let got = curl(&proxy, &format!("/cl/{len}"), "", "big2", &["-o", "/dev/null"]);
    assert_eq!(got.code, 0, "{}", got.head);
    let line = proxy.logged(&format!("body_hash: GET http://site.test/cl/{len}"));
    assert!(line.contains(&format!("bytes={len}")), "{line}");
    let peak = proxy.peak_rss_kib();
    eprintln!("proxy VmHWM with the examples: {before} KiB before, {peak} KiB after 2 x 100 MiB");
    assert!(peak < before + 64 * 1024, "peak RSS grew from {before} KiB to {peak} KiB");
}

#[test]
fn plugins_read_and_set_reason_phrases_and_read_the_configuration_directory() {
    let origin = RawOrigin::start();
    let proxy = Proxy::start(&origin, "");
    let got = curl(&proxy, "/cl/10", "", "r1", &[]);
    assert!(got.head.starts_with("http/1.1 200 ok\r\n"), "{}", got.head);
    assert!(got.has("x-reason-was: ok"), "{}", got.head);
    let dir = std::fs::canonicalize(proxy.dir.path()).unwrap();
    let shown = got
        .raw_head
        .lines()
        .find_map(|l| l.split_once(": ").filter(|(n, _)| n.eq_ignore_ascii_case("x-config-dir")))
        .unwrap()
        .1;
    assert_eq!(
        std::fs::canonicalize(shown.trim_end()).unwrap(),
        dir,
        "the configuration directory"
    );
    let got = curl(&proxy, "/cl/10", "", "r2", &["-H", "X-Reason: Fine Today"]);
    assert!(got.raw_head.starts_with("HTTP/1.1 200 Fine Today\r\n"), "{}", got.raw_head);
    assert!(got.has("x-reason-set: ok"), "{}", got.head);
    // A 404 from the origin keeps its standard phrase unless set.
    let got = curl(&proxy, "/nothing", "", "r3", &[]);
    assert!(got.head.starts_with("http/1.1 404 not found\r\n"), "{}", got.head);
    assert!(got.has("x-reason-was: not found"), "{}", got.head);
}

#[test]
fn a_chunk_pending_past_the_limit_ends_the_transaction() {
    let origin = RawOrigin::start();
    let proxy = Proxy::start(&origin, "timeouts: { hook_pending: 300ms }\n");
    let started = Instant::now();
    let got = curl(&proxy, "/cl/1000", "stuck", "t1", &[]);
    assert_eq!(got.status(), "502", "{}", got.head);
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    let line = proxy.logged("stayed pending past timeouts.hook_pending");
    assert!(line.contains("transform_probe"), "{line}");
    // Other transactions go on.
    let got = curl(&proxy, "/cl/1000", "upper", "t2", &[]);
    assert_eq!((got.code, got.body), (0, upper(&pattern(1000))));
}
