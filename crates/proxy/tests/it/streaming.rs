//! Bodies stream both ways: the echo of the first chunk comes back before the rest is sent,
//! which a buffering proxy could not do.

use bytes::Bytes;
use http::Request;
use http_body_util::BodyExt;
use http_body_util::channel::Channel;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::support::{Origin, config_dir, proxy, within};

#[tokio::test]
async fn a_large_body_streams_both_ways() {
    const CHUNK: usize = 64 * 1024;
    const CHUNKS: usize = 128; // 8 MiB
    let origin = Origin::start("a").await;
    let dir = config_dir(&[(
        "remap.config",
        &format!("map http://www.example.com/ http://{}/\n", origin.addr),
    )]);
    let proxy = proxy(Some(dir.path()));

    let stream = TcpStream::connect(proxy.addrs()[0]).await.unwrap();
    let (mut send, conn) = hyper::client::conn::http1::handshake::<
        _,
        Channel<Bytes, std::convert::Infallible>,
    >(TokioIo::new(stream))
    .await
    .unwrap();
    tokio::spawn(conn);
    let (mut body_tx, body) = Channel::new(4);
    let request = Request::post("/echo").header("host", "www.example.com").body(body).unwrap();
    let chunk = |i: usize| Bytes::from(vec![(i % 251) as u8; CHUNK]);

    body_tx.send_data(chunk(0)).await.unwrap();
    let response = within("the response head", send.send_request(request)).await.unwrap();
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let mut received = Vec::with_capacity(CHUNK * CHUNKS);
    while received.len() < CHUNK {
        let frame = within("the first chunk's echo", body.frame()).await.unwrap().unwrap();
        received.extend_from_slice(&frame.into_data().unwrap());
    }
    let sender = tokio::spawn(async move {
        for i in 1..CHUNKS {
            body_tx.send_data(chunk(i)).await.unwrap();
        }
    });
    while let Some(frame) = within("the echo", body.frame()).await {
        received.extend_from_slice(&frame.unwrap().into_data().unwrap());
    }
    sender.await.unwrap();
    assert_eq!(received.len(), CHUNK * CHUNKS);
    for (i, piece) in received.chunks(CHUNK).enumerate() {
        assert!(piece.iter().all(|&b| b == (i % 251) as u8), "chunk {i} differs");
    }
}
