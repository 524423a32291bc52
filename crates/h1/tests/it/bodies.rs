//! Body decoders and encoders: each chunked rule, limits, and the same result for any split of
//! the input.

use bytes::BytesMut;
use hookyard_h1::{BodyKind, Decoded, Decoder, Encoder, ErrorKind, Limits};
use http::HeaderMap;
use proptest::prelude::*;

use crate::support::{Outcome, decode_split};

fn chunked() -> Decoder {
    Decoder::new(BodyKind::Chunked, &Limits::default())
}

fn whole(kind: BodyKind, input: &[u8], eof: bool) -> Outcome {
    decode_split(&mut Decoder::new(kind, &Limits::default()), input, &[], eof)
}

#[test]
fn a_length_body_ends_at_its_length() {
    let (data, trailers, rest) = whole(BodyKind::Length(5), b"hello world", false).unwrap();
    assert_eq!((&data[..], trailers, &rest[..]), (&b"hello"[..], None, &b" world"[..]));
    assert_eq!(whole(BodyKind::Length(5), b"hel", true), Err(ErrorKind::IncompleteBody));
    let (data, _, rest) = whole(BodyKind::Empty, b"next", false).unwrap();
    assert!(data.is_empty());
    assert_eq!(rest, b"next");
}

#[test]
fn an_until_close_body_takes_everything() {
    let (data, _, _) = whole(BodyKind::UntilClose, b"all of it", true).unwrap();
    assert_eq!(data, b"all of it");
    let mut d = Decoder::new(BodyKind::UntilClose, &Limits::default());
    assert_eq!(d.decode(&mut BytesMut::new()).unwrap(), Decoded::NeedMore);
    d.finish().unwrap();
    assert!(d.is_done());
}

#[test]
fn chunked_bodies_decode_with_extensions_and_trailers() {
    let input: &[u8] = b"5\r\nhello\r\n6;name=value;quoted=\"a b\"\r\n world\r\n\
                         A \t;x\r\n0123456789\r\n000\r\nTrailer-One: 1\r\ntrailer-two:  2 \r\n\r\nNEXT";
    let (data, trailers, rest) = whole(BodyKind::Chunked, input, false).unwrap();
    assert_eq!(data, b"hello world0123456789");
    let trailers = trailers.unwrap();
    assert_eq!(trailers["trailer-one"], "1");
    assert_eq!(trailers["trailer-two"], "2");
    assert_eq!(rest, b"NEXT");
    let (data, trailers, rest) = whole(BodyKind::Chunked, b"0\r\n\r\n", false).unwrap();
    assert!(data.is_empty() && trailers.is_none() && rest.is_empty());
}

#[test]
fn chunked_rules_refuse_each_malformed_form() {
    use ErrorKind::*;
    let table: &[(&[u8], ErrorKind)] = &[
        (b"x\r\n", ChunkSize),
        (b"\r\n", ChunkSize),
        (b"-1\r\n", ChunkSize),
        (b"+1\r\n", ChunkSize),
        (b"0x5\r\nhello\r\n", ChunkSize),
        (b"5\nhello\r\n0\r\n\r\n", ChunkSize),
        (b"5\r\rhello", ChunkSize),
        (b"5;a\nb\r\nhello\r\n", ChunkSize),
        (b"5;a\x00\r\nhello\r\n", ChunkSize),
        (b" 5\r\nhello\r\n", ChunkSize),
        (b"5 5\r\nhello\r\n", ChunkSize),
        (b"10000000000000000\r\n", ChunkSize),
        (b"fffffffffffffffffff\r\nhello\r\n0\r\n\r\n", ChunkSize),
        (b"5\rhello\r\n0\r\n\r\n", ChunkSize),
        (b"5;a=\"x\ny\"\r\nhello\r\n0\r\n\r\n", ChunkSize),
        (b"5\r\nhelloX\r\n", ChunkDataEnd),
        (b"5\r\nhello\n0\r\n\r\n", ChunkDataEnd),
        (b"5\r\nhello\rX", ChunkDataEnd),
        (b"0\r\nContent-Length: 5\r\n\r\n", Trailer),
        (b"0\r\ntransfer-encoding: chunked\r\n\r\n", Trailer),
        (b"0\r\nBad Name: x\r\n\r\n", Trailer),
        (b"0\r\nX: a\r\n b\r\n\r\n", Trailer),
        // Found by the mangled-stream differential: hyper reads this section on to the next
        // CRLF CRLF, httparse would end it at the bare LF.
        (b"0\r\nT: 1 \n\r\nGET / HTTP/1.1\r\n\r\n", Trailer),
        (b"0\r\nT: 1\r\nU: 2\n\n", Trailer),
        (b"0\r\n\n", Trailer),
    ];
    for (input, want) in table {
        let got = whole(BodyKind::Chunked, input, true);
        assert_eq!(
            got.map(|_| ()),
            Err(*want),
            "{}",
            String::from_utf8_lossy(input).escape_debug()
        );
    }
    // Leading zeros do not count against the size: 16 significant digits is the most.
    let (data, _, _) =
        whole(BodyKind::Chunked, b"00000000000000000001\r\nx\r\n0\r\n\r\n", false).unwrap();
    assert_eq!(data, b"x");
    assert_eq!(whole(BodyKind::Chunked, b"5\r\nhel", true), Err(ErrorKind::IncompleteBody));
}

#[test]
fn a_failed_decoder_stays_failed() {
    let mut d = chunked();
    let mut buf = BytesMut::from(&b"zz\r\n"[..]);
    assert_eq!(d.decode(&mut buf).unwrap_err().kind(), ErrorKind::ChunkSize);
    let mut more = BytesMut::from(&b"5\r\nhello\r\n"[..]);
    assert_eq!(d.decode(&mut more).unwrap_err().kind(), ErrorKind::ChunkSize);
    assert_eq!(d.finish().unwrap_err().kind(), ErrorKind::ChunkSize);
}

#[test]
fn chunk_lines_and_trailers_are_bounded() {
    let limits =
        Limits { max_chunk_line: 16, max_trailer_bytes: 32, max_headers: 2, ..Limits::default() };
    let decode = |input: &[u8]| {
        decode_split(&mut Decoder::new(BodyKind::Chunked, &limits), input, &[], true).map(|_| ())
    };
    // 16 bytes with CRLF, then 17.
    assert_eq!(decode(b"1;aaaaaaaaaaaa\r\nx\r\n0\r\n\r\n"), Ok(()));
    assert_eq!(
        decode(b"1;aaaaaaaaaaaaa\r\nx\r\n0\r\n\r\n"),
        Err(ErrorKind::ChunkLineTooLong { limit: 16 })
    );
    assert_eq!(
        decode(b"0000000000000000001\r\nx\r\n"),
        Err(ErrorKind::ChunkLineTooLong { limit: 16 })
    );
    assert_eq!(decode(b"0\r\nA: 1\r\nB: 2\r\n\r\n"), Ok(()));
    assert_eq!(
        decode(b"0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"),
        Err(ErrorKind::TrailersTooLarge { limit: 32 })
    );
    assert_eq!(
        decode(b"0\r\nA: 0123456789012345678901234567\r\n\r\n"),
        Err(ErrorKind::TrailersTooLarge { limit: 32 })
    );
}

/// A chunked body built from parts, with what decoding it must give.
fn chunked_body() -> impl Strategy<Value = (Vec<u8>, Vec<u8>, Vec<(String, String)>)> {
    let chunk = (proptest::collection::vec(any::<u8>(), 1..40), 0..4u8, any::<bool>(), 0..3usize);
    let trailer = ("[A-Za-z][A-Za-z0-9-]{0,10}", "[ -~]{0,12}");
    (proptest::collection::vec(chunk, 0..6), proptest::collection::vec(trailer, 0..3), 0..3usize)
        .prop_map(|(chunks, trailers, zeros)| {
            let mut wire = Vec::new();
            let mut data = Vec::new();
            for (bytes, ext, upper, pad) in chunks {
                let size =
                    if upper { format!("{:X}", bytes.len()) } else { format!("{:x}", bytes.len()) };
                wire.extend_from_slice("0".repeat(pad).as_bytes());
                wire.extend_from_slice(size.as_bytes());
                wire.extend_from_slice(match ext {
                    0 => &b""[..],
                    1 => b";a",
                    2 => b" ;name=value",
                    _ => b";q=\"x y\";z",
                });
                wire.extend_from_slice(b"\r\n");
                wire.extend_from_slice(&bytes);
                wire.extend_from_slice(b"\r\n");
                data.extend_from_slice(&bytes);
            }
            wire.extend_from_slice("0".repeat(zeros + 1).as_bytes());
            wire.extend_from_slice(b"\r\n");
            let trailers: Vec<_> = trailers
                .into_iter()
                .filter(|(n, _)| {
                    !n.eq_ignore_ascii_case("content-length")
                        && !n.eq_ignore_ascii_case("transfer-encoding")
                })
                .map(|(n, v)| (n, v.trim().to_owned()))
                .collect();
            for (name, value) in &trailers {
                wire.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
            }
            wire.extend_from_slice(b"\r\n");
            (wire, data, trailers)
        })
}

fn cuts() -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(0..400usize, 0..12).prop_map(|mut cuts| {
        cuts.sort_unstable();
        cuts
    })
}

proptest! {
    #[test]
    fn chunked_decoding_is_the_same_for_any_split(
        (wire, data, trailers) in chunked_body(),
        next in proptest::collection::vec(any::<u8>(), 0..20),
        cuts in cuts(),
    ) {
        let input = [&wire[..], &next[..]].concat();
        let (got, got_trailers, rest) = decode_split(&mut chunked(), &input, &cuts, false).unwrap();
        prop_assert_eq!(got, data);
        prop_assert_eq!(rest, next);
        let got_trailers: Vec<_> = got_trailers
            .iter()
            .flatten()
            .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap().to_owned()))
            .collect();
        let want: Vec<_> = trailers.iter().map(|(n, v)| (n.to_ascii_lowercase(), v.clone())).collect();
        prop_assert_eq!(got_trailers, want);
    }

    #[test]
    fn mangled_chunked_input_gives_one_result_for_any_split(
        (wire, _, _) in chunked_body(),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
        cuts in cuts(),
        eof in any::<bool>(),
    ) {
        let mut input = wire;
        for (at, byte) in flips {
            let at = at % input.len();
            input[at] = byte;
        }
        let whole = decode_split(&mut chunked(), &input, &[], eof);
        let split = decode_split(&mut chunked(), &input, &cuts, eof);
        prop_assert_eq!(whole, split);
    }

    #[test]
    fn length_decoding_is_the_same_for_any_split(
        body in proptest::collection::vec(any::<u8>(), 0..200),
        len in 0..250u64,
        cuts in cuts(),
        eof in any::<bool>(),
    ) {
        let kind = if len == 0 { BodyKind::Empty } else { BodyKind::Length(len) };
        let a = decode_split(&mut Decoder::new(kind, &Limits::default()), &body, &[], eof);
        let b = decode_split(&mut Decoder::new(kind, &Limits::default()), &body, &cuts, eof);
        prop_assert_eq!(&a, &b);
        match a {
            Ok((data, _, rest)) => {
                prop_assert_eq!(data.len() as u64, len);
                prop_assert_eq!([data, rest].concat(), body);
            }
            Err(kind) => {
                prop_assert_eq!(kind, ErrorKind::IncompleteBody);
                prop_assert!((body.len() as u64) < len);
            }
        }
    }

    #[test]
    fn until_close_decoding_is_the_same_for_any_split(
        body in proptest::collection::vec(any::<u8>(), 0..200),
        cuts in cuts(),
    ) {
        let (data, _, _) = decode_split(&mut Decoder::new(BodyKind::UntilClose, &Limits::default()), &body, &cuts, true).unwrap();
        prop_assert_eq!(data, body);
    }

    #[test]
    fn encoded_chunks_decode_to_the_same_data_and_trailers(
        pieces in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..50), 0..8),
        trailer in proptest::option::of("[a-z]{1,8}"),
        cuts in cuts(),
    ) {
        let mut wire = BytesMut::new();
        let mut encoder = Encoder::new(BodyKind::Chunked);
        for piece in &pieces {
            encoder.data(piece, &mut wire).unwrap();
        }
        let mut map = HeaderMap::new();
        if let Some(t) = &trailer {
            map.insert("x-trailer", t.parse().unwrap());
        }
        encoder.finish(Some(&map), &mut wire).unwrap();
        let (data, trailers, rest) = decode_split(&mut chunked(), &wire, &cuts, false).unwrap();
        prop_assert_eq!(data, pieces.concat());
        prop_assert_eq!(trailers.unwrap_or_default(), map);
        prop_assert!(rest.is_empty());
    }
}

#[test]
fn the_length_encoder_checks_the_length() {
    let mut dst = BytesMut::new();
    let mut e = Encoder::new(BodyKind::Length(5));
    e.data(b"hel", &mut dst).unwrap();
    assert_eq!(e.data(b"lo!", &mut dst).unwrap_err().kind(), ErrorKind::BodyTooLong);
    assert_eq!(e.finish(None, &mut dst).unwrap_err().kind(), ErrorKind::BodyTooShort);
    e.data(b"lo", &mut dst).unwrap();
    e.finish(None, &mut dst).unwrap();
    assert_eq!(&dst[..], b"hello");
    assert_eq!(e.data(b"x", &mut dst).unwrap_err().kind(), ErrorKind::BodyTooLong);
    let mut empty = Encoder::new(BodyKind::Empty);
    assert_eq!(empty.data(b"x", &mut dst).unwrap_err().kind(), ErrorKind::BodyTooLong);
    empty.finish(None, &mut dst).unwrap();
}

#[test]
fn the_chunked_encoder_writes_chunks_and_a_last_chunk() {
    let mut dst = BytesMut::new();
    let mut e = Encoder::new(BodyKind::Chunked);
    e.data(b"", &mut dst).unwrap();
    e.data(&[b'a'; 26], &mut dst).unwrap();
    let mut trailers = HeaderMap::new();
    trailers.insert("x-sum", "abc".parse().unwrap());
    e.finish(Some(&trailers), &mut dst).unwrap();
    let want = [&b"1A\r\n"[..], &[b'a'; 26], b"\r\n0\r\nx-sum: abc\r\n\r\n"].concat();
    assert_eq!(&dst[..], &want[..]);
}

#[test]
fn framing_written_apart_from_the_data_is_the_same() {
    for kind in [BodyKind::Chunked, BodyKind::Length(9), BodyKind::UntilClose] {
        let (mut whole, mut apart) = (BytesMut::new(), BytesMut::new());
        let (mut a, mut b) = (Encoder::new(kind), Encoder::new(kind));
        for piece in [&b"abc"[..], b"", b"defghi"] {
            a.data(piece, &mut whole).unwrap();
            let after = b.frame(piece.len(), &mut apart).unwrap();
            apart.extend_from_slice(piece);
            apart.extend_from_slice(after);
        }
        a.finish(None, &mut whole).unwrap();
        b.finish(None, &mut apart).unwrap();
        assert_eq!(whole, apart, "{kind:?}");
    }
    let mut e = Encoder::new(BodyKind::Length(2));
    assert_eq!(e.frame(3, &mut BytesMut::new()).unwrap_err().kind(), ErrorKind::BodyTooLong);
}

#[test]
fn a_long_trailer_section_byte_by_byte_reads_as_at_once() {
    // Read a byte at a time, like chunk-size lines: linear in its length however it arrives.
    let value = "v".repeat(16_000);
    let input = format!("0\r\nX-Long: {value}\r\nX-Short: s\r\n\r\nNEXT");
    let limits = Limits { max_trailer_bytes: 16_100, ..Limits::default() };
    let bytewise: Vec<usize> = (1..input.len()).collect();
    let mut decoder = Decoder::new(BodyKind::Chunked, &limits);
    let (data, trailers, rest) =
        decode_split(&mut decoder, input.as_bytes(), &bytewise, false).unwrap();
    assert!(data.is_empty());
    let trailers = trailers.unwrap();
    assert_eq!(trailers["x-long"], value.as_str());
    assert_eq!(trailers["x-short"], "s");
    assert_eq!(rest, b"NEXT");
}
