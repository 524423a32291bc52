//! What the codec costs per message: parsing a typical browser request head (14 fields, 600
//! bytes), encoding it again with its names' case and order, and parsing a typical origin
//! response head.
//!
//! - `codec/parse_request`: `parse_request` on the head, into `http` types and a `HeaderMap`;
//! - `codec/encode_request`: `encode_request` of that head, one field changed and one added;
//! - `codec/parse_response`: `parse_response` on a 9-field response head (its fields kept as
//!   received, as a proxy that changes none of them forwards them);
//! - `codec/parse_response_to_map`: the same, its fields then put in a `HeaderMap`.
//!
//! Run: `cargo bench -p hookyard-h1 --bench codec` (CI only builds it; a quick check that it
//! runs: `cargo bench -p hookyard-h1 --bench codec -- --test`).
//!
//! Measured: not yet (the numbers come from a full run on a quiet machine).
#![allow(clippy::unwrap_used, reason = "a benchmark that cannot set up should fail loudly")]
#![allow(missing_docs, reason = "criterion's macros generate undocumented items")]

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hookyard_h1::{Limits, encode_request, parse_request, parse_response};
use http::{HeaderValue, Method};

const REQUEST: &[u8] = b"GET /wiki/Special:Search?search=reverse+proxy&go=Go HTTP/1.1\r\n\
Host: en.wikipedia.org\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n\
Accept-Language: en-US,en;q=0.5\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Referer: https://en.wikipedia.org/wiki/Main_Page\r\n\
Connection: keep-alive\r\n\
Cookie: enwikimwuser-sessionId=1a2b3c4d5e6f; WMF-Last-Access=03-Dec-2026; GeoIP=DE:BE:Berlin\r\n\
Upgrade-Insecure-Requests: 1\r\n\
Sec-Fetch-Dest: document\r\n\
Sec-Fetch-Mode: navigate\r\n\
Sec-Fetch-Site: same-origin\r\n\
Sec-Fetch-User: ?1\r\n\
Priority: u=0, i\r\n\r\n";

const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\n\
Server: nginx/1.26.2\r\n\
Date: Thu, 03 Dec 2026 11:00:00 GMT\r\n\
Content-Type: text/html; charset=UTF-8\r\n\
Content-Length: 48213\r\n\
Connection: keep-alive\r\n\
Last-Modified: Wed, 02 Dec 2026 09:30:00 GMT\r\n\
ETag: \"67a1b2c3-bc55\"\r\n\
Cache-Control: private, s-maxage=0, max-age=0, must-revalidate\r\n\
Accept-Ranges: bytes\r\n\r\n";

fn codec(c: &mut Criterion) {
    let limits = Limits::default();
    let mut group = c.benchmark_group("codec");
    group.throughput(Throughput::Elements(1));

    group.bench_function("parse_request", |b| {
        b.iter(|| {
            let mut buf = BytesMut::from(REQUEST);
            black_box(parse_request(&mut buf, &limits).unwrap().unwrap())
        });
    });

    let mut head = parse_request(&mut BytesMut::from(REQUEST), &limits).unwrap().unwrap();
    head.headers.insert("host", HeaderValue::from_static("origin.internal"));
    head.headers.insert("via", HeaderValue::from_static("1.1 hookyard"));
    let mut out = BytesMut::with_capacity(1024);
    group.bench_function("encode_request", |b| {
        b.iter(|| {
            out.clear();
            encode_request(
                &head.method,
                &head.uri,
                head.version,
                &head.headers,
                Some(&head.case),
                &mut out,
            );
            black_box(out.len())
        });
    });

    group.bench_function("parse_response", |b| {
        b.iter(|| {
            let mut buf = BytesMut::from(RESPONSE);
            black_box(parse_response(&mut buf, &limits, &Method::GET).unwrap().unwrap())
        });
    });

    group.bench_function("parse_response_to_map", |b| {
        b.iter(|| {
            let mut buf = BytesMut::from(RESPONSE);
            let head = parse_response(&mut buf, &limits, &Method::GET).unwrap().unwrap();
            black_box(head.into_parts_and_case().unwrap())
        });
    });
    group.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
