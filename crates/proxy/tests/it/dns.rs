//! Origin names through the resolver (`dns:` of hookyard.yaml): answers kept for their TTL,
//! names that do not exist remembered, on the real binary with a DNS stub on loopback.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::cli::{http_get, start_run};
use crate::support::{DEADLINE, write};

/// A DNS server on 127.0.0.1 answering `A` questions from its table (TTL and address per
/// name; other names NXDOMAIN, other types no records), counting questions per name.
struct Stub {
    addr: SocketAddr,
    answers: Arc<Mutex<HashMap<String, (u32, Ipv4Addr)>>>,
    asked: Arc<Mutex<HashMap<String, Vec<Instant>>>>,
}

impl Stub {
    fn start() -> Stub {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = socket.local_addr().unwrap();
        let answers: Arc<Mutex<HashMap<String, (u32, Ipv4Addr)>>> = Arc::default();
        let asked: Arc<Mutex<HashMap<String, Vec<Instant>>>> = Arc::default();
        let (table, log) = (answers.clone(), asked.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            loop {
                let Ok((n, from)) = socket.recv_from(&mut buf) else { return };
                let Some((name, qtype, end)) = question(&buf[..n]) else { continue };
                if qtype == 1 {
                    log.lock().unwrap().entry(name.clone()).or_default().push(Instant::now());
                }
                let answer = table.lock().unwrap().get(&name).copied();
                let reply = reply(&buf[..end], qtype, answer);
                let _ = socket.send_to(&reply, from);
            }
        });
        Stub { addr, answers, asked }
    }

    fn set(&self, name: &str, ttl: u32, ip: Ipv4Addr) {
        self.answers.lock().unwrap().insert(name.to_owned(), (ttl, ip));
    }

    /// When `A` questions for `name` came.
    fn asked(&self, name: &str) -> Vec<Instant> {
        self.asked.lock().unwrap().get(name).cloned().unwrap_or_default()
    }
}

/// The question of a query: its name (lower case, no final dot), type, and where it ends.
fn question(packet: &[u8]) -> Option<(String, u16, usize)> {
    let mut at = 12;
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*packet.get(at)?);
        at += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(packet.get(at..at + len)?).to_ascii_lowercase());
        at += len;
    }
    let qtype = u16::from_be_bytes([*packet.get(at)?, *packet.get(at + 1)?]);
    Some((labels.join("."), qtype, at + 4))
}

/// The reply to `query` (header and question): an `A` record with `answer` for an `A`
/// question, NXDOMAIN for a name not in the table, else no records.
fn reply(query: &[u8], qtype: u16, answer: Option<(u32, Ipv4Addr)>) -> Vec<u8> {
    let mut out = query.to_vec();
    let rd = query[2] & 1;
    out[2] = 0x80 | rd; // a response, recursion desired as asked
    out[3] = if answer.is_some() { 0x80 } else { 0x83 }; // recursion available; NXDOMAIN
    out[4..12].copy_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    if let (Some((ttl, ip)), 1) = (answer, qtype) {
        out[7] = 1;
        out.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
        out.extend_from_slice(&ttl.to_be_bytes());
        out.extend_from_slice(&[0, 4]);
        out.extend_from_slice(&ip.octets());
    }
    out
}

/// An origin on `addr` answering every request with `name` and closing the connection, so
/// every request the proxy sends it needs a new connection (and a name look-up).
fn closing_origin(addr: SocketAddr, name: &'static str) -> SocketAddr {
    let listener = TcpListener::bind(addr).unwrap();
    let bound = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{name}",
                name.len()
            );
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    bound
}

fn body(addr: &str, host: &str) -> String {
    let answer = http_get(addr, host, "/");
    answer.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned()
}

#[test]
fn answers_are_kept_for_their_ttl_and_missing_names_are_remembered() {
    let stub = Stub::start();
    let first = closing_origin("127.0.0.1:0".parse().unwrap(), "first");
    // The address the name moves to: the same port on 127.0.0.2.
    closing_origin(SocketAddr::new([127, 0, 0, 2].into(), first.port()), "second");
    stub.set("origin.test", 2, Ipv4Addr::new(127, 0, 0, 1));
    let root = tempfile::tempdir().unwrap();
    write(
        root.path(),
        "hookyard.yaml",
        &format!(
            "listen: 127.0.0.1:0\nworkers: 1\nadmin: a.sock\nruntime_dir: run\n\
             dns: {{nameservers: ['{}'], negative_ttl: 30s}}\n",
            stub.addr
        ),
    );
    write(
        root.path(),
        "remap.config",
        &format!(
            "map http://site.test/ http://origin.test:{port}/\n\
             map http://gone.site/ http://gone.test:{port}/\n",
            port = first.port()
        ),
    );
    let (child, _log, addr) = start_run(Path::new(root.path()), &["--config", "."]);
    let _proxy = crate::pools::Running(child);
    let started = Instant::now();
    for _ in 0..5 {
        assert_eq!(body(&addr, "site.test"), "first");
    }
    let asked = stub.asked("origin.test");
    if started.elapsed() < Duration::from_millis(1900) {
        assert_eq!(asked.len(), 1, "five connections within the TTL, one question");
    }
    // The name moves; the proxy follows once the 2 s TTL ran out, not before.
    stub.set("origin.test", 2, Ipv4Addr::new(127, 0, 0, 2));
    let moved = loop {
        let answered = body(&addr, "site.test");
        if answered == "second" {
            break Instant::now();
        }
        assert_eq!(answered, "first");
        assert!(started.elapsed() < DEADLINE, "the answer's TTL was never honoured");
        std::thread::sleep(Duration::from_millis(50));
    };
    let asked = stub.asked("origin.test");
    assert!(asked.len() >= 2, "{asked:?}");
    let kept = asked[1].duration_since(asked[0]);
    assert!(kept >= Duration::from_millis(1900), "the answer was kept {kept:?}, its TTL is 2 s");
    assert!(moved.duration_since(asked[0]) >= Duration::from_millis(1900));
    println!("dns: answer kept {kept:?} for a TTL of 2 s, then the new address was used");

    for _ in 0..3 {
        let answer = http_get(&addr, "gone.site", "/");
        assert!(answer.starts_with("HTTP/1.1 502"), "{answer}");
    }
    assert_eq!(stub.asked("gone.test").len(), 1, "a missing name is asked once, then remembered");
}
