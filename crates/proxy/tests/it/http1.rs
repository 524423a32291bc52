//! The HTTP/1 connection the proxy serves with its own codec: what a client sees of the
//! protocol itself (interim `100 Continue`, HTTP/1.0 keep-alive, `HEAD`, `Date`, refused heads),
//! over raw sockets so every byte is checked.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{Origin, config_dir, exchange, proxy, read_to_close, within};

/// A proxy with one rule to `origin` for `site.test`, and a rule that refuses everyone.
fn rules(origin: &Origin) -> String {
    format!(
        "map http://site.test/ http://{0}/\n\
         map http://closed.test/ http://{0}/ @action=allow @src_ip=192.0.2.1\n",
        origin.addr
    )
}

/// Reads until `count` complete responses of known length are in, or the connection closes.
async fn read_responses(stream: &mut TcpStream, count: usize) -> String {
    let mut seen = Vec::new();
    within("the responses", async {
        let mut buf = [0u8; 8192];
        while complete(&seen) < count {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    String::from_utf8_lossy(&seen).into_owned()
}

/// How many whole responses with a `content-length` `bytes` holds (interim ones not counted).
fn complete(bytes: &[u8]) -> usize {
    let text = String::from_utf8_lossy(bytes);
    let mut rest = text.as_ref();
    let mut count = 0;
    while let Some(end) = rest.find("\r\n\r\n") {
        let head = &rest[..end];
        let after = &rest[end + 4..];
        if head.contains(" 100 Continue") {
            rest = after;
            continue;
        }
        let length = head
            .lines()
            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length: ")?.parse().ok())
            .unwrap_or(0usize);
        if after.len() < length {
            break;
        }
        rest = &after[length..];
        count += 1;
    }
    count
}

#[tokio::test]
async fn expect_continue_is_answered_when_the_body_is_wanted_and_not_before_a_refusal() {
    let origin = Origin::start("o").await;
    let dir = config_dir(&[("remap.config", &rules(&origin))]);
    let proxy = proxy(Some(dir.path()));
    let addr = proxy.addrs()[0];

    // Wanted: the interim answer comes before the client sends its body.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = "POST /echo HTTP/1.1\r\nHost: site.test\r\nContent-Length: 5\r\n\
                Expect: 100-continue\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut interim = vec![0u8; "HTTP/1.1 100 Continue\r\n\r\n".len()];
    within("100 Continue", stream.read_exact(&mut interim)).await.unwrap();
    assert_eq!(interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    stream.write_all(b"hello").await.unwrap();
    let answer = read_responses(&mut stream, 1).await;
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.ends_with("\r\n\r\nhello"), "{answer}");

    // Refused before the body is read: no interim answer; the unsent body cannot be framed, so
    // the connection closes after the answer.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = "POST /x HTTP/1.1\r\nHost: closed.test\r\nContent-Length: 5\r\n\
                Expect: 100-continue\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    let answer = read_to_close(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 403 "), "{answer}");
    assert!(!answer.contains("100 Continue"), "{answer}");
}

#[tokio::test]
async fn an_http10_client_is_answered_in_http10_and_kept_alive_only_when_it_asks() {
    let origin = Origin::start("o").await;
    let dir = config_dir(&[("remap.config", &rules(&origin))]);
    let proxy = proxy(Some(dir.path()));
    let addr = proxy.addrs()[0];

    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = "GET /a HTTP/1.0\r\nHost: site.test\r\nConnection: keep-alive\r\n\r\n";
    stream.write_all(request.as_bytes()).await.unwrap();
    let first = read_responses(&mut stream, 1).await;
    assert!(first.starts_with("HTTP/1.0 200 OK\r\n"), "{first}");
    assert!(first.to_ascii_lowercase().contains("\r\nconnection: keep-alive\r\n"), "{first}");
    // Kept: a second request on the same connection, this time without keep-alive.
    stream.write_all(b"GET /b HTTP/1.0\r\nHost: site.test\r\n\r\n").await.unwrap();
    let second = read_to_close(&mut stream).await;
    assert!(second.starts_with("HTTP/1.0 200 OK\r\n"), "{second}");
    assert!(second.contains("\r\n\r\no GET /b host="), "{second}");
}

#[tokio::test]
async fn head_keeps_the_length_without_a_body_and_every_answer_has_a_date() {
    let origin = Origin::start("o").await;
    let dir = config_dir(&[("remap.config", &rules(&origin))]);
    let proxy = proxy(Some(dir.path()));
    let stream = "HEAD /h HTTP/1.1\r\nHost: site.test\r\n\r\n\
                  GET /h HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n";
    let answer = exchange(proxy.addrs()[0], stream.as_bytes()).await;
    let (head, get) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(get.starts_with("HTTP/1.1 200 OK\r\n"), "the HEAD answer had a body: {answer}");
    let body = get.split_once("\r\n\r\n").unwrap().1;
    assert!(body.starts_with("o GET /h host="), "{answer}");
    // The origin answered HEAD with the length of its text for HEAD: one byte longer.
    assert!(head.contains(&format!("content-length: {}", body.len() + 1)), "{answer}");
    for head in [head, get] {
        let date = head.lines().find_map(|l| l.strip_prefix("date: ")).expect("a Date");
        let date = httpdate::parse_http_date(date).unwrap();
        let off = std::time::SystemTime::now().duration_since(date).unwrap_or_default();
        assert!(off < Duration::from_secs(5), "{date:?}");
    }
}

#[tokio::test]
async fn a_refused_head_is_answered_with_its_reason_and_the_connection_closed() {
    let dir = config_dir(&[]);
    let proxy = proxy(Some(dir.path()));
    let stream = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd\
                  GET /next HTTP/1.1\r\nHost: a\r\n\r\n";
    let answer = exchange(proxy.addrs()[0], stream.as_bytes()).await;
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{answer}");
    assert!(head.contains("\r\nconnection: close"), "{answer}");
    assert!(body.starts_with("Bad Request: ") && body.ends_with('\n'), "{answer}");
    assert!(body.to_ascii_lowercase().contains("content-length"), "{body}");
    assert_eq!(answer.matches("HTTP/1.1 ").count(), 1, "{answer}");
}
