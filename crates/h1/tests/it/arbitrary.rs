//! Arbitrary bytes: every parser and decoder answers with a value or an error, never a panic.

use bytes::BytesMut;
use hookyard_h1::{BodyKind, Decoder, Limits, parse_request, parse_response};
use http::Method;
use proptest::prelude::*;

/// Bytes that look like HTTP now and then: fragments of it mixed with noise.
fn input() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..16),
        Just(b"GET / HTTP/1.1\r\n".to_vec()),
        Just(b"HTTP/1.1 200 OK\r\n".to_vec()),
        Just(b"Content-Length: 5\r\n".to_vec()),
        Just(b"Transfer-Encoding: chunked\r\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n ".to_vec()),
        Just(b"5;x=y\r\n".to_vec()),
        Just(b": ".to_vec()),
    ];
    proptest::collection::vec(piece, 0..20).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn nothing_panics_on_arbitrary_bytes(bytes in input(), small in any::<bool>()) {
        let limits = if small {
            Limits { max_head_bytes: 40, max_headers: 2, max_chunk_line: 8, max_trailer_bytes: 16 }
        } else {
            Limits::default()
        };
        let mut buf = BytesMut::from(&bytes[..]);
        if let Ok(Some(head)) = parse_request(&mut buf, &limits) {
            let mut d = Decoder::new(head.body(), &limits);
            let _ = d.decode(&mut buf);
            let _ = d.finish();
        }
        for method in [Method::GET, Method::HEAD, Method::CONNECT] {
            let mut buf = BytesMut::from(&bytes[..]);
            // A head's fields, parsed, always go into a map: the proxy puts them there only
            // when it must, and a failure then would come too late to refuse the head.
            if let Ok(Some(head)) = parse_response(&mut buf, &limits, &method) {
                let (map, case) = head.lines().to_map().unwrap();
                prop_assert_eq!((map.len(), case.len()), (head.lines().len(), head.lines().len()));
            }
        }
        for kind in [BodyKind::Chunked, BodyKind::Length(7), BodyKind::UntilClose] {
            let mut d = Decoder::new(kind, &limits);
            let mut buf = BytesMut::from(&bytes[..]);
            for _ in 0..64 {
                match d.decode(&mut buf) {
                    Ok(hookyard_h1::Decoded::Data(_) | hookyard_h1::Decoded::Trailers(_)) => {}
                    _ => break,
                }
            }
            let _ = d.finish();
        }
    }
}

// A stream of pipelined requests, some mangled: what a server reads off it (requests, then the
// error that stopped it) does not depend on how the stream was split into reads.
proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn a_stream_reads_the_same_for_any_split(
        (stream, requests, mangled) in crate::support::mangled_stream(),
        cuts in proptest::collection::vec(0..200usize, 0..10),
        small in any::<bool>(),
    ) {
        let limits = if small {
            Limits { max_head_bytes: 48, max_headers: 2, max_chunk_line: 6, max_trailer_bytes: 8 }
        } else {
            Limits::default()
        };
        let mut cuts = cuts;
        cuts.sort_unstable();
        let whole = crate::support::read_stream(&stream, &[], &limits);
        if !mangled && !small {
            prop_assert_eq!((whole.0.len(), whole.1), (requests, None));
        }
        let split = crate::support::read_stream(&stream, &cuts, &limits);
        prop_assert_eq!(&whole, &split);
        let bytewise: Vec<usize> = (1..stream.len()).collect();
        prop_assert_eq!(whole, crate::support::read_stream(&stream, &bytewise, &limits));
    }
}
