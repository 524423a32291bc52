//! `https://` origins: verification against `origin_tls.ca_file` (and the system roots), the
//! per-rule `@origin_tls_verify=off`, the failures (verification, name, handshake) answered
//! 502 and logged, SNI, and pooling of origin TLS connections.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::support::{Client, config_dir, get, proxy, write};

/// A test certificate authority.
struct TestCa {
    cert: rcgen::Certificate,
    key: KeyPair,
}

/// A certificate and its key, as a TLS server holds them.
struct Identity {
    chain: Vec<CertificateDer<'static>>,
    key: Vec<u8>,
}

impl TestCa {
    fn new() -> TestCa {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, "hookyard test CA");
        let cert = params.self_signed(&key).unwrap();
        TestCa { cert, key }
    }

    fn pem(&self) -> String {
        self.cert.pem()
    }

    /// A certificate for `names` (DNS names or IP addresses) signed by this CA.
    fn issue(&self, names: &[&str]) -> Identity {
        self.issue_with(names, |_| {})
    }

    fn issue_with(&self, names: &[&str], edit: impl FnOnce(&mut CertificateParams)) -> Identity {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        edit(&mut params);
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        Identity { chain: vec![cert.der().clone()], key: key.serialize_der() }
    }
}

/// A certificate for `names` that signs itself.
fn self_signed(names: &[&str]) -> Identity {
    let key = KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let cert = CertificateParams::new(names).unwrap().self_signed(&key).unwrap();
    Identity { chain: vec![cert.der().clone()], key: key.serialize_der() }
}

/// An HTTPS origin on 127.0.0.1:0: answers `tls METHOD TARGET host=HOST`; counts the TCP
/// connections it accepted and the handshakes that completed, and keeps the SNI names seen.
struct TlsOrigin {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    handshakes: Arc<AtomicUsize>,
    sni: Arc<Mutex<Vec<Option<String>>>>,
}

impl TlsOrigin {
    async fn start(identity: Identity) -> TlsOrigin {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(identity.key));
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(identity.chain, key)
            .unwrap();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let origin = TlsOrigin {
            addr,
            accepted: Arc::default(),
            handshakes: Arc::default(),
            sni: Arc::default(),
        };
        let (accepted, handshakes, sni) =
            (origin.accepted.clone(), origin.handshakes.clone(), origin.sni.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                accepted.fetch_add(1, Ordering::SeqCst);
                let (acceptor, handshakes, sni) =
                    (acceptor.clone(), handshakes.clone(), sni.clone());
                tokio::spawn(async move {
                    // A client that refuses the certificate ends the handshake: no request.
                    let Ok(stream) = acceptor.accept(stream).await else { return };
                    let name = stream.get_ref().1.server_name().map(str::to_owned);
                    sni.lock().unwrap().push(name);
                    handshakes.fetch_add(1, Ordering::SeqCst);
                    let service = service_fn(respond);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        origin
    }

    fn port(&self) -> u16 {
        self.addr.port()
    }
}

async fn respond(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let host = request.headers().get("host").and_then(|h| h.to_str().ok()).unwrap_or("-");
    let text = format!("tls {} {} host={host}", request.method(), request.uri());
    Ok(Response::new(Full::new(Bytes::from(text))))
}

/// A configuration directory with `remap` and the test CA as `origin_tls.ca_file` (`ca.pem`,
/// relative to the directory), plus `settings` in `hookyard.yaml`.
fn with_ca(ca: &TestCa, settings: &str, remap: &str) -> tempfile::TempDir {
    let dir = config_dir(&[("remap.config", remap)]);
    write(dir.path(), "ca.pem", &ca.pem());
    write(dir.path(), "hookyard.yaml", &format!("origin_tls:\n  ca_file: ca.pem\n{settings}"));
    dir
}

#[tokio::test]
async fn an_origin_verified_by_the_configured_ca_answers_with_sni_from_the_rule() {
    let ca = TestCa::new();
    let origin = TlsOrigin::start(ca.issue(&["localhost", "127.0.0.1"])).await;
    let remap = format!(
        "map http://site.test/ https://localhost:{0}/base/\n\
         map http://ip.test/ https://127.0.0.1:{0}/\n",
        origin.port()
    );
    let dir = with_ca(&ca, "", &remap);
    let proxy = proxy(Some(dir.path()));
    let answer = get(proxy.addrs()[0], "site.test", "/x?y=1").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body, format!("tls GET /base/x?y=1 host=localhost:{}", origin.port()));
    // An IP address host is verified against the certificate's IP names, and sends no SNI.
    let answer = get(proxy.addrs()[0], "ip.test", "/z").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body, format!("tls GET /z host=127.0.0.1:{}", origin.port()));
    assert_eq!(*origin.sni.lock().unwrap(), [Some("localhost".to_owned()), None]);
}

#[tokio::test]
async fn without_the_ca_verification_fails_and_the_answer_says_so() {
    let ca = TestCa::new();
    let origin = TlsOrigin::start(ca.issue(&["localhost"])).await;
    let remap = format!("map http://site.test/ https://localhost:{}/\n", origin.port());
    let dir = config_dir(&[("remap.config", &remap)]);
    let proxy = proxy(Some(dir.path()));
    let answer = get(proxy.addrs()[0], "site.test", "/").await;
    assert_eq!(answer.status, 502);
    assert!(answer.body.contains("certificate verification failed"), "{}", answer.body);
    assert_eq!(origin.handshakes.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_rule_may_turn_verification_off_and_its_connections_are_pooled_apart() {
    let ca = TestCa::new();
    let origin = TlsOrigin::start(ca.issue(&["localhost"])).await;
    let remap = format!(
        "map http://off.test/ https://localhost:{0}/ @origin_tls_verify=off\n\
         map http://on.test/ https://localhost:{0}/\n",
        origin.port()
    );
    let dir = config_dir(&[("remap.config", &remap)]);
    let proxy = proxy(Some(dir.path()));
    let mut client = Client::connect(proxy.addrs()[0]).await;
    let answer = client.request("GET", "off.test", "/a").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body, format!("tls GET /a host=localhost:{}", origin.port()));
    // Same origin, same worker, an idle unverified connection in the pool: a verifying rule
    // must not take it.
    let answer = client.request("GET", "on.test", "/b").await;
    assert_eq!(answer.status, 502);
    assert!(answer.body.contains("certificate verification failed"), "{}", answer.body);
    assert_eq!(origin.handshakes.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn verification_off_by_default_may_be_turned_on_by_a_rule() {
    let ca = TestCa::new();
    let origin = TlsOrigin::start(self_signed(&["localhost"])).await;
    let remap = format!(
        "map http://default.test/ https://localhost:{0}/\n\
         map http://on.test/ https://localhost:{0}/ @origin_tls_verify=on\n",
        origin.port()
    );
    let dir = with_ca(&ca, "  verify: false\n", &remap);
    let proxy = proxy(Some(dir.path()));
    assert_eq!(get(proxy.addrs()[0], "default.test", "/").await.status, 200);
    let answer = get(proxy.addrs()[0], "on.test", "/").await;
    assert_eq!(answer.status, 502);
    assert!(answer.body.contains("certificate verification failed"), "{}", answer.body);
}

#[tokio::test]
async fn a_self_signed_origin_is_refused() {
    let ca = TestCa::new();
    let origin = TlsOrigin::start(self_signed(&["localhost"])).await;
    let remap = format!("map http://site.test/ https://localhost:{}/\n", origin.port());
    let dir = with_ca(&ca, "", &remap);
    let proxy = proxy(Some(dir.path()));
    let answer = get(proxy.addrs()[0], "site.test", "/").await;
    assert_eq!(answer.status, 502);
    assert!(answer.body.contains("certificate verification failed"), "{}", answer.body);
    assert_eq!(origin.handshakes.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_certificate_for_another_name_is_a_name_mismatch() {
    let ca = TestCa::new();
    let origin = TlsOrigin::start(ca.issue(&["other.test"])).await;
    let remap = format!("map http://site.test/ https://localhost:{}/\n", origin.port());
    let dir = with_ca(&ca, "", &remap);
    let proxy = proxy(Some(dir.path()));
    let answer = get(proxy.addrs()[0], "site.test", "/").await;
    assert_eq!(answer.status, 502);
    assert!(answer.body.contains("name mismatch"), "{}", answer.body);
}

#[tokio::test]
async fn an_expired_certificate_fails_verification() {
    let ca = TestCa::new();
    let identity = ca.issue_with(&["localhost"], |params| {
        params.not_before = rcgen::date_time_ymd(2000, 1, 1);
        params.not_after = rcgen::date_time_ymd(2001, 1, 1);
    });
    let origin = TlsOrigin::start(identity).await;
    let remap = format!("map http://site.test/ https://localhost:{}/\n", origin.port());
    let dir = with_ca(&ca, "", &remap);
    let proxy = proxy(Some(dir.path()));
    let answer = get(proxy.addrs()[0], "site.test", "/").await;
    assert_eq!(answer.status, 502);
    assert!(answer.body.contains("certificate verification failed"), "{}", answer.body);
}

#[tokio::test]
async fn an_origin_that_speaks_no_tls_is_a_handshake_failure() {
    let plain = crate::support::Origin::start("plain").await;
    let remap = format!("map http://site.test/ https://localhost:{}/\n", plain.addr.port());
    let dir = config_dir(&[("remap.config", &remap)]);
    let proxy = proxy(Some(dir.path()));
    let answer = get(proxy.addrs()[0], "site.test", "/").await;
    assert_eq!(answer.status, 502);
    assert!(answer.body.contains("tls handshake failed"), "{}", answer.body);
}

#[tokio::test]
async fn sequential_requests_reuse_one_origin_tls_connection() {
    let ca = TestCa::new();
    let origin = TlsOrigin::start(ca.issue(&["localhost"])).await;
    let remap = format!("map http://site.test/ https://localhost:{}/\n", origin.port());
    let dir = with_ca(&ca, "", &remap);
    let proxy = proxy(Some(dir.path()));
    let mut client = Client::connect(proxy.addrs()[0]).await;
    for path in ["/1", "/2", "/3"] {
        let answer = client.request("GET", "site.test", path).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.body, format!("tls GET {path} host=localhost:{}", origin.port()));
    }
    assert_eq!(origin.accepted.load(Ordering::SeqCst), 1, "one TCP connection to the origin");
    assert_eq!(origin.handshakes.load(Ordering::SeqCst), 1, "one TLS handshake");
}

#[test]
fn check_refuses_an_unreadable_or_empty_ca_file_with_its_line() {
    let dir = config_dir(&[("hookyard.yaml", "workers: 1\norigin_tls:\n  ca_file: missing.pem\n")]);
    let output =
        crate::cli::hookyard(dir.path()).args(["check", "--config", "."]).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{stdout}");
    assert!(stdout.contains("hookyard.yaml:3: `origin_tls.ca_file`: cannot read"), "{stdout}");
    write(dir.path(), "empty.pem", "not a certificate\n");
    write(dir.path(), "hookyard.yaml", "origin_tls: {ca_file: empty.pem}\n");
    let output =
        crate::cli::hookyard(dir.path()).args(["check", "--config", "."]).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{stdout}");
    assert!(stdout.contains("hookyard.yaml:1: `origin_tls.ca_file`:"), "{stdout}");
    assert!(stdout.contains("has no PEM certificate"), "{stdout}");
}

#[tokio::test]
async fn a_verification_failure_is_logged_once_with_the_origin_and_counted() {
    let ca = TestCa::new();
    let origin = TlsOrigin::start(ca.issue(&["localhost"])).await;
    let dir = config_dir(&[(
        "remap.config",
        &format!("map http://site.test/ https://localhost:{}/\n", origin.port()),
    )]);
    let path = dir.path().to_owned();
    // The binary is driven synchronously while the origin runs on the test's runtime.
    let (answer, page, logged) = tokio::task::spawn_blocking(move || {
        let metrics = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let metrics = metrics.to_string();
        let args = ["--config", ".", "--listen", "127.0.0.1:0", "--admin", "a.sock"];
        let (mut child, lines, addr) =
            crate::cli::start_run(&path, &[&args[..], &["--metrics", &metrics]].concat());
        let answer = crate::cli::http_get(&addr, "site.test", "/");
        let page = crate::cli::http_get(&metrics, "x", "/metrics");
        let _ = child.kill();
        let _ = child.wait();
        // The reader thread ends with the child's stderr: every line it wrote.
        (answer, page, lines.iter().collect::<Vec<String>>())
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 502"), "{answer}");
    let counted = "hookyard_origin_tls_failures_total{failure=\"verification\"} 1";
    assert!(page.contains(counted), "{page}");
    let none = "hookyard_origin_tls_failures_total{failure=\"name_mismatch\"} 0";
    assert!(page.contains(none), "{page}");
    let failures: Vec<&String> =
        logged.iter().filter(|l| l.contains("origin tls failed")).collect();
    assert_eq!(failures.len(), 1, "{logged:#?}");
    let line = failures[0];
    assert!(line.contains(&format!("https://localhost:{}", origin.port())), "{line}");
    assert!(line.contains("certificate verification failed: unknown issuer"), "{line}");
}
