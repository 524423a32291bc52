//! TLS listeners driven by real clients (`curl`, `openssl s_client`) and a rustls client that
//! keeps its connection: certificates by SNI, protocol versions, ALPN, session resumption,
//! reloads that swap a certificate, `hookyard check`.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use hookyard_proxy::{AdminSocket, Server, ServerConfig, ServerHandle};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::client::TlsStream;

use crate::support::{DEADLINE, Origin, config_dir, wait_for, write};

/// A test certificate authority that issues leaf certificates into a directory.
pub(crate) struct Ca {
    cert: rcgen::Certificate,
    key: rcgen::KeyPair,
}

impl Ca {
    fn new(dir: &Path) -> Ca {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, "hookyard test CA");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        std::fs::write(dir.join("ca.pem"), cert.pem()).unwrap();
        Ca { cert, key }
    }

    /// Writes `stem.pem` (a certificate for `names`, CN `cn`) and `stem.key` into `dir`.
    fn issue(&self, dir: &Path, stem: &str, names: &[&str], cn: &str) {
        self.issue_dated(dir, stem, names, cn, (2020, 2090));
    }

    fn issue_dated(&self, dir: &Path, stem: &str, names: &[&str], cn: &str, years: (i32, i32)) {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = rcgen::CertificateParams::new(names).unwrap();
        params.distinguished_name.push(rcgen::DnType::CommonName, cn);
        params.not_before = rcgen::date_time_ymd(years.0, 1, 1);
        params.not_after = rcgen::date_time_ymd(years.1, 1, 1);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        std::fs::write(dir.join(format!("{stem}.pem")), cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{stem}.key")), key.serialize_pem()).unwrap();
    }
}

impl Ca {
    /// An intermediate CA signed by this one, its certificate written to `dir/stem.pem`.
    fn intermediate(&self, dir: &Path, stem: &str) -> Ca {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, "hookyard intermediate CA");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        std::fs::write(dir.join(format!("{stem}.pem")), cert.pem()).unwrap();
        Ca { cert, key }
    }
}

/// A proxy on `dir` with one plain and one TLS listener on 127.0.0.1:0.
pub(crate) fn tls_proxy(dir: &Path) -> ServerHandle {
    Server::start(ServerConfig {
        config_dir: Some(dir.to_owned()),
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        listen_tls: vec!["127.0.0.1:0".parse().unwrap()],
        admin: AdminSocket::Off,
        metrics: None,
        workers: Some(2),
    })
    .unwrap()
}

/// A configuration directory with a CA and certificates for `a.test`, `*.w.test` and a default
/// (`default.test`), listed in `ssl_multicert.config`.
pub(crate) fn three_certificates() -> (tempfile::TempDir, Ca) {
    let dir = config_dir(&[]);
    let ca = Ca::new(dir.path());
    ca.issue(dir.path(), "a", &["a.test"], "a.test");
    ca.issue(dir.path(), "w", &["*.w.test"], "w.test");
    ca.issue(dir.path(), "d", &["default.test"], "default.test");
    write(
        dir.path(),
        "ssl_multicert.config",
        "# served by SNI\nssl_cert_name=a.pem ssl_key_name=a.key\n\
         ssl_cert_name=w.pem ssl_key_name=w.key\n\
         dest_ip=* ssl_cert_name=d.pem ssl_key_name=d.key\n",
    );
    (dir, ca)
}

fn run(program: &str, args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program} (install it: .ci/run lists it): {e}"));
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

pub(crate) fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `curl -v` of `https://NAME:PORT/PATH` resolved to `addr`, verifying against the test CA.
pub(crate) fn curl(dir: &Path, addr: SocketAddr, name: &str, path: &str, extra: &[&str]) -> Output {
    let resolve = format!("{name}:{}:127.0.0.1", addr.port());
    let url = format!("https://{name}:{}{path}", addr.port());
    let ca = dir.join("ca.pem");
    let mut args = vec!["-sS", "-v", "--max-time", "20", "--cacert", ca.to_str().unwrap()];
    args.extend(["--resolve", &resolve]);
    args.extend(extra);
    args.push(&url);
    run("curl", &args, "")
}

/// `openssl s_client` to `addr` with `args`, sending `request` (then waiting for the close).
pub(crate) fn s_client(addr: SocketAddr, args: &[&str], request: &str) -> String {
    let connect = addr.to_string();
    let mut all = vec!["s_client", "-connect", &connect, "-ign_eof"];
    all.extend(args);
    text(&run("openssl", &all, request))
}

const HEALTH: &str = "GET /_hookyard/health HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n";

/// The subject line `openssl s_client` printed for the server's certificate.
fn subject(output: &str) -> &str {
    output.lines().find(|l| l.starts_with("subject=")).unwrap_or_else(|| panic!("{output}"))
}

#[test]
fn sni_picks_each_name_s_certificate_and_the_default_for_the_rest() {
    let (dir, _ca) = three_certificates();
    let proxy = tls_proxy(dir.path());
    let addr = proxy.tls_addrs()[0];
    for name in ["a.test", "x.w.test"] {
        let output = curl(dir.path(), addr, name, "/_hookyard/health", &[]);
        let all = text(&output);
        assert!(output.status.success(), "{name}: {all}");
        assert_eq!(String::from_utf8_lossy(&output.stdout), "ok\n", "{name}: {all}");
        let cn = if name == "a.test" { "CN=a.test" } else { "CN=w.test" };
        assert!(all.contains(&format!("subject: {cn}")), "{name}: {all}");
    }
    let unknown = s_client(addr, &["-servername", "unknown.test"], HEALTH);
    assert_eq!(subject(&unknown), "subject=CN = default.test", "{unknown}");
    let none = s_client(addr, &["-noservername"], HEALTH);
    assert_eq!(subject(&none), "subject=CN = default.test", "{none}");
    // A wildcard covers one label only.
    let deep = s_client(addr, &["-servername", "a.b.w.test"], HEALTH);
    assert_eq!(subject(&deep), "subject=CN = default.test", "{deep}");
}

#[tokio::test]
async fn https_requests_are_routed_by_https_rules() {
    let origin = Origin::start("origin").await;
    let (dir, _ca) = three_certificates();
    write(
        dir.path(),
        "remap.config",
        &format!(
            "map https://a.test/ http://{}/secure/\nmap http://a.test/ http://{}/plain/\n",
            origin.addr, origin.addr
        ),
    );
    let proxy = tls_proxy(dir.path());
    let (tls, plain) = (proxy.tls_addrs()[0], proxy.addrs()[0]);
    // The clients block: off the runtime that serves the origin.
    let (body, plain) = tokio::task::spawn_blocking(move || {
        let output = curl(dir.path(), tls, "a.test", "/x", &["-H", "Host: a.test"]);
        assert!(output.status.success(), "{}", text(&output));
        (String::from_utf8_lossy(&output.stdout).into_owned(), s_client_free_http(plain))
    })
    .await
    .unwrap();
    assert!(body.starts_with("origin GET /secure/x"), "{body}");
    assert!(plain.contains("origin GET /plain/x"), "{plain}");
}

/// `GET /x` with `Host: a.test` over plain HTTP.
fn s_client_free_http(addr: SocketAddr) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    stream.write_all(b"GET /x HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn tls_1_2_and_1_3_connect_and_alpn_agrees_on_h2_or_http_1_1() {
    let (dir, _ca) = three_certificates();
    let proxy = tls_proxy(dir.path());
    let addr = proxy.tls_addrs()[0];
    for (flag, version) in [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")] {
        let output = s_client(addr, &[flag, "-servername", "a.test"], HEALTH);
        assert!(output.contains(&format!("Protocol  : {version}")), "{flag}: {output}");
        assert!(output.contains("HTTP/1.1 200 OK"), "{flag}: {output}");
    }
    let output = s_client(addr, &["-alpn", "http/1.1", "-servername", "a.test"], HEALTH);
    assert!(output.contains("ALPN protocol: http/1.1"), "{output}");
    assert!(output.contains("HTTP/1.1 200 OK"), "{output}");
    // HTTP/2 is preferred by a client that offers both.
    let output = s_client(addr, &["-alpn", "h2,http/1.1", "-servername", "a.test"], HEALTH);
    assert!(output.contains("ALPN protocol: h2"), "{output}");
    // A client without ALPN speaks HTTP/1.1.
    let output = s_client(addr, &["-servername", "a.test"], HEALTH);
    assert!(output.contains("No ALPN negotiated"), "{output}");
    assert!(output.contains("HTTP/1.1 200 OK"), "{output}");
}

#[test]
fn http2_tls_off_offers_http_1_1_only() {
    let (dir, _ca) = three_certificates();
    write(dir.path(), "hookyard.yaml", "http2:\n  tls: false\n");
    let proxy = tls_proxy(dir.path());
    let addr = proxy.tls_addrs()[0];
    let output = s_client(addr, &["-alpn", "h2,http/1.1", "-servername", "a.test"], HEALTH);
    assert!(output.contains("ALPN protocol: http/1.1"), "{output}");
    assert!(output.contains("HTTP/1.1 200 OK"), "{output}");
    let output = curl(dir.path(), addr, "a.test", "/_hookyard/health", &["--http2"]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(text(&output).contains("< HTTP/1.1 200"), "{}", text(&output));
}

/// A hook probe (`alpha`) and a rule `https://a.test/` to `origin`, with the certificates of
/// [`three_certificates`].
pub(crate) fn probed_https(origin: &Origin) -> tempfile::TempDir {
    let dir =
        crate::hooks::setup(origin, "plugins:\n  - path: alpha.so\n", &[("alpha", "alpha.so")]);
    let ca = Ca::new(dir.path());
    ca.issue(dir.path(), "a", &["a.test"], "a.test");
    write(dir.path(), "ssl_multicert.config", "dest_ip=* ssl_cert_name=a.pem ssl_key_name=a.key\n");
    write(dir.path(), "remap.config", &format!("map https://a.test/ http://{}/\n", origin.addr));
    let yaml = std::fs::read_to_string(dir.path().join("hookyard.yaml")).unwrap();
    write(dir.path(), "hookyard.yaml", &format!("{yaml}forwarding:\n  forwarded: [proto]\n"));
    dir
}

#[tokio::test]
async fn curl_over_h2_runs_every_stream_through_the_rule_and_hooks_in_one_session() {
    let origin = Origin::start("origin").await;
    let dir = probed_https(&origin);
    let proxy = tls_proxy(dir.path());
    let addr = proxy.tls_addrs()[0];
    let path = dir.path().to_owned();
    // Two URLs on one command line: curl sends both on one connection.
    let output = tokio::task::spawn_blocking(move || {
        let second = format!("https://a.test:{}/headers", addr.port());
        curl(&path, addr, "a.test", "/headers", &["--http2", "-i", "-H", "Host: a.test", &second])
    })
    .await
    .unwrap();
    let all = text(&output);
    assert!(output.status.success(), "{all}");
    assert!(all.contains("ALPN: server accepted h2"), "{all}");
    let out = String::from_utf8_lossy(&output.stdout).to_ascii_lowercase();
    assert_eq!(out.matches("http/2 200").count(), 2, "{all}");
    // The plugin's READ_REQUEST_HDR field reached the origin, by the https rule.
    assert_eq!(out.matches("x-probe: alpha").count(), 2, "{all}");
    assert_eq!(out.matches(&format!("host: {}", origin.addr)).count(), 2, "{all}");
    // One session for both streams: SSN_START once, no SSN_CLOSE yet.
    assert_eq!(out.matches("x-probe-sessions: 1/0").count(), 2, "{all}");
    // The origin is told the client's connection was TLS.
    assert_eq!(out.matches("forwarded: proto=https").count(), 2, "{all}");
    let text = proxy.metrics_text();
    assert!(text.contains("hookyard_http2_connections_total 1"), "{text}");
}

#[tokio::test]
async fn hyper_h2_over_tls_carries_concurrent_streams() {
    use http_body_util::{BodyExt, Empty};
    let origin = Origin::start("origin").await;
    let dir = probed_https(&origin);
    let proxy = tls_proxy(dir.path());
    let addr = proxy.tls_addrs()[0];
    let mut config = client_config(dir.path());
    config.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("a.test").unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp).await.unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (send, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tls),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let streams: Vec<_> = (0..20)
        .map(|i| {
            let mut send = send.clone();
            tokio::spawn(async move {
                let request = http::Request::builder()
                    .uri(format!("https://a.test/s/{i}"))
                    .body(Empty::<bytes::Bytes>::new())
                    .unwrap();
                send.ready().await.unwrap();
                let response = send.send_request(request).await.unwrap();
                let status = response.status();
                let sessions = response.headers().get("x-probe-sessions").cloned();
                let body = response.into_body().collect().await.unwrap().to_bytes();
                (status, sessions, String::from_utf8_lossy(&body).into_owned())
            })
        })
        .collect();
    for (i, stream) in streams.into_iter().enumerate() {
        let (status, sessions, body) = crate::support::within("a stream", stream).await.unwrap();
        assert_eq!(status, 200, "stream {i}: {body}");
        assert_eq!(body, format!("origin GET /s/{i} host={}", origin.addr));
        assert_eq!(sessions.unwrap(), "1/0", "stream {i}");
    }
}

#[test]
fn min_version_1_3_refuses_tls_1_2_and_counts_the_failure() {
    let (dir, _ca) = three_certificates();
    write(dir.path(), "hookyard.yaml", "tls:\n  min_version: '1.3'\n");
    let proxy = tls_proxy(dir.path());
    let addr = proxy.tls_addrs()[0];
    let refused = s_client(addr, &["-tls1_2", "-servername", "a.test"], HEALTH);
    assert!(!refused.contains("HTTP/1.1 200 OK"), "{refused}");
    let output = s_client(addr, &["-tls1_3", "-servername", "a.test"], HEALTH);
    assert!(output.contains("HTTP/1.1 200 OK"), "{output}");
    // Plain HTTP to the TLS listener is a failed handshake too.
    let _ = s_client_free_http(addr);
    let series = format!("hookyard_tls_handshake_failures_total{{endpoint=\"{addr}\"}} 2");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(wait_for("two failures counted", || proxy.metrics_text().contains(&series)));
}

#[test]
fn sessions_resume_by_ticket_and_by_session_id() {
    let (dir, _ca) = three_certificates();
    let proxy = tls_proxy(dir.path());
    let addr = proxy.tls_addrs()[0];
    let cases: [&[&str]; 3] = [&["-tls1_3"], &["-tls1_2"], &["-tls1_2", "-no_ticket"]];
    for flags in cases {
        let session = dir.path().join("session.pem");
        let session = session.to_str().unwrap();
        let mut first = flags.to_vec();
        first.extend(["-servername", "a.test", "-sess_out", session]);
        let output = s_client(addr, &first, HEALTH);
        assert!(output.contains("HTTP/1.1 200 OK"), "{flags:?}: {output}");
        let mut second = flags.to_vec();
        second.extend(["-servername", "a.test", "-sess_in", session]);
        let output = s_client(addr, &second, HEALTH);
        assert!(output.contains("\nReused, "), "{flags:?}: {output}");
        assert!(output.contains("HTTP/1.1 200 OK"), "{flags:?}: {output}");
    }
}

/// A rustls client trusting the test CA of `dir`.
fn connector(dir: &Path) -> tokio_rustls::TlsConnector {
    tokio_rustls::TlsConnector::from(Arc::new(client_config(dir)))
}

/// A rustls client configuration trusting the test CA of `dir`.
fn client_config(dir: &Path) -> rustls::ClientConfig {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(dir.join("ca.pem")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth()
}

async fn connect(
    dir: &Path,
    addr: SocketAddr,
    name: &'static str,
) -> TlsStream<tokio::net::TcpStream> {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    connector(dir).connect(ServerName::try_from(name).unwrap(), stream).await.unwrap()
}

/// The end-entity certificate the server presented.
fn presented(stream: &TlsStream<tokio::net::TcpStream>) -> Vec<u8> {
    stream.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

/// One keep-alive request for the health path; the response's body.
async fn health(stream: &mut TlsStream<tokio::net::TcpStream>) -> String {
    stream.write_all(b"GET /_hookyard/health HTTP/1.1\r\nHost: a.test\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while !answer.ends_with(b"ok\n") {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&answer));
        answer.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&answer).into_owned()
}

fn pem_der(path: &Path) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject;
    CertificateDer::from_pem_file(path).unwrap().to_vec()
}

#[test]
fn a_reload_swaps_a_certificate_for_new_handshakes_only() {
    let (dir, ca) = three_certificates();
    let proxy = tls_proxy(dir.path());
    let addr = proxy.tls_addrs()[0];
    assert_eq!(proxy.status().listen_tls, [addr.to_string()]);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let old = pem_der(&dir.path().join("a.pem"));
        let mut kept = connect(dir.path(), addr, "a.test").await;
        assert_eq!(presented(&kept), old);
        assert!(health(&mut kept).await.starts_with("HTTP/1.1 200"));

        ca.issue(dir.path(), "a", &["a.test"], "a.test renewed");
        let new = pem_der(&dir.path().join("a.pem"));
        let report = proxy.reload();
        assert!(report.ok, "{:?}", report.problems);

        assert!(health(&mut kept).await.starts_with("HTTP/1.1 200"), "the open connection");
        let fresh = connect(dir.path(), addr, "a.test").await;
        assert_eq!(presented(&fresh), new, "a new handshake gets the new certificate");

        // A key that does not match refuses the reload; the serving certificate stays.
        ca.issue(dir.path(), "other", &["a.test"], "other");
        std::fs::copy(dir.path().join("other.key"), dir.path().join("a.key")).unwrap();
        let report = proxy.reload();
        assert!(!report.ok);
        let multicert = dir.path().join("ssl_multicert.config").display().to_string();
        assert!(
            report.problems.iter().any(|p| p.starts_with(&format!("{multicert}:2: "))
                && p.contains("does not match the certificate")),
            "{:?}",
            report.problems
        );
        // Bad PEM too.
        write(dir.path(), "a.pem", "-----BEGIN CERTIFICATE-----\nnot base64!\n");
        let report = proxy.reload();
        assert!(!report.ok);
        assert!(report.problems.iter().any(|p| p.contains("bad PEM")), "{:?}", report.problems);
        let again = connect(dir.path(), addr, "a.test").await;
        assert_eq!(presented(&again), new, "the refused reload changed nothing");
        assert!(health(&mut kept).await.starts_with("HTTP/1.1 200"));
    });
}

#[test]
fn every_key_format_and_a_dual_rsa_and_ecdsa_entry() {
    let dir = config_dir(&[]);
    let d = dir.path();
    let openssl = |args: &[&str]| {
        let output = Command::new("openssl").args(args).current_dir(d).output().unwrap();
        assert!(output.status.success(), "openssl {args:?}: {}", text(&output));
    };
    // RSA with a PKCS#1 key, ECDSA with a SEC1 key, Ed25519 with a PKCS#8 key.
    let self_signed = |key: &str, cn: &str| {
        let subject = format!("/CN={cn}");
        let san = format!("subjectAltName=DNS:{cn}");
        let out = format!("{}.pem", cn.trim_end_matches(".test"));
        openssl(&[
            "req", "-x509", "-key", key, "-subj", &subject, "-addext", &san, "-days", "30", "-out",
            &out,
        ]);
    };
    openssl(&["genrsa", "-traditional", "-out", "rsa.key", "2048"]);
    openssl(&["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ec.key"]);
    openssl(&["genpkey", "-algorithm", "ed25519", "-out", "ed.key"]);
    self_signed("rsa.key", "rsa.test");
    self_signed("ec.key", "ec.test");
    self_signed("ed.key", "ed.test");
    assert!(std::fs::read_to_string(d.join("rsa.key")).unwrap().contains("BEGIN RSA PRIVATE KEY"));
    assert!(std::fs::read_to_string(d.join("ec.key")).unwrap().contains("BEGIN EC PRIVATE KEY"));
    // One entry with both an RSA and an ECDSA certificate for one name, as ATS allows.
    openssl(&[
        "req",
        "-x509",
        "-key",
        "rsa.key",
        "-subj",
        "/CN=dual rsa",
        "-addext",
        "subjectAltName=DNS:dual.test",
        "-days",
        "30",
        "-out",
        "dual-rsa.pem",
    ]);
    openssl(&[
        "req",
        "-x509",
        "-key",
        "ec.key",
        "-subj",
        "/CN=dual ec",
        "-addext",
        "subjectAltName=DNS:dual.test",
        "-days",
        "30",
        "-out",
        "dual-ec.pem",
    ]);
    write(
        d,
        "ssl_multicert.config",
        "ssl_cert_name=rsa.pem ssl_key_name=rsa.key\nssl_cert_name=ec.pem ssl_key_name=ec.key\n\
         ssl_cert_name=ed.pem ssl_key_name=ed.key\n\
         ssl_cert_name=dual-rsa.pem,dual-ec.pem ssl_key_name=rsa.key,ec.key\n",
    );
    let proxy = tls_proxy(d);
    let addr = proxy.tls_addrs()[0];
    for name in ["rsa", "ec", "ed"] {
        let output = s_client(addr, &["-servername", &format!("{name}.test")], HEALTH);
        assert_eq!(subject(&output), format!("subject=CN = {name}.test"), "{output}");
        assert!(output.contains("HTTP/1.1 200 OK"), "{output}");
    }
    let dual = |sigalgs: &str| {
        s_client(addr, &["-tls1_3", "-servername", "dual.test", "-sigalgs", sigalgs], HEALTH)
    };
    let output = dual("rsa_pss_rsae_sha256");
    assert_eq!(subject(&output), "subject=CN = dual rsa", "{output}");
    let output = dual("ecdsa_secp256r1_sha256");
    assert_eq!(subject(&output), "subject=CN = dual ec", "{output}");
}

#[test]
fn chains_from_an_ssl_cert_name_list_from_ssl_ca_name_or_from_the_file() {
    let dir = config_dir(&[]);
    let d = dir.path();
    let int = Ca::new(d).intermediate(d, "int");
    for name in ["list", "onekey", "extra", "file"] {
        int.issue(d, name, &[&format!("{name}.test")], name);
    }
    // `file.pem`: the key and the chain in the certificate's file.
    let bundle = [
        std::fs::read_to_string(d.join("file.pem")).unwrap(),
        std::fs::read_to_string(d.join("int.pem")).unwrap(),
        std::fs::read_to_string(d.join("file.key")).unwrap(),
    ];
    write(d, "file.pem", &bundle.concat());
    let list = std::fs::read_to_string(d.join("list.pem")).unwrap();
    write(d, "list.pem", &(list + &std::fs::read_to_string(d.join("list.key")).unwrap()));
    write(
        d,
        "ssl_multicert.config",
        "ssl_cert_name=list.pem,int.pem
         ssl_cert_name=onekey.pem,int.pem ssl_key_name=onekey.key
         ssl_cert_name=extra.pem ssl_key_name=extra.key ssl_ca_name=int.pem
         ssl_cert_name=file.pem
",
    );
    let proxy = tls_proxy(d);
    let addr = proxy.tls_addrs()[0];
    // curl trusts the root only: it verifies each name only if the intermediate is sent.
    for name in ["list", "onekey", "extra", "file"] {
        let output = curl(d, addr, &format!("{name}.test"), "/_hookyard/health", &[]);
        assert_eq!(String::from_utf8_lossy(&output.stdout), "ok\n", "{name}: {}", text(&output));
    }
}

fn hookyard_check(dir: &Path) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_hookyard"))
        .args(["check", "--config"])
        .arg(dir)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    (output.status.success(), text(&output))
}

#[test]
fn check_reports_mismatched_keys_expired_certificates_and_uncovered_names() {
    let dir = config_dir(&[]);
    let d = dir.path();
    let ca = Ca::new(d);
    ca.issue(d, "a", &["a.test"], "a.test");
    ca.issue(d, "b", &["b.test"], "b.test");
    ca.issue_dated(d, "old", &["old.test"], "old.test", (2001, 2002));
    write(
        d,
        "hookyard.yaml",
        "tls_listen: [127.0.0.1:0]\ntls:\n  certificates:\n    \
         - {cert: a.pem, key: a.key, names: [a.test, www.a.test]}\n    \
         - {cert: old.pem, key: old.key}\n",
    );
    let yaml = d.join("hookyard.yaml").display().to_string();
    let (ok, output) = hookyard_check(d);
    assert!(!ok, "{output}");
    assert!(
        output.contains(&format!("{yaml}:4: SNI name `www.a.test` is not covered by")),
        "{output}"
    );
    assert!(
        output.contains(&format!("{yaml}:5: ")) && output.contains("expired 2002-01-01"),
        "{output}"
    );

    write(
        d,
        "hookyard.yaml",
        "tls_listen: [127.0.0.1:0]\ntls:\n  certificates:\n    - {cert: a.pem, key: b.key}\n",
    );
    let (ok, output) = hookyard_check(d);
    assert!(!ok, "{output}");
    assert!(
        output.contains(&format!("{yaml}:4: "))
            && output.contains("does not match the certificate"),
        "{output}"
    );

    // Without certificates, TLS listeners are refused.
    write(d, "hookyard.yaml", "workers: 1\ntls_listen: [127.0.0.1:0]\n");
    let (ok, output) = hookyard_check(d);
    assert!(!ok, "{output}");
    assert!(
        output.contains(&format!("{yaml}:2: `tls_listen` is set but no certificate")),
        "{output}"
    );

    write(d, "ssl_multicert.config", "ssl_cert_name=a.pem ssl_key_name=a.key\n");
    let (ok, output) = hookyard_check(d);
    assert!(ok, "{output}");

    // Both sources: hookyard.yaml's list wins, and check says the other is not read.
    write(d, "hookyard.yaml", "tls:\n  certificates: [{cert: b.pem, key: b.key}]\n");
    let (ok, output) = hookyard_check(d);
    assert!(ok, "{output}");
    assert!(output.contains("warning: ") && output.contains("so "), "{output}");
    assert!(output.contains("ssl_multicert.config is not read"), "{output}");
}

#[test]
fn check_reports_ssl_multicert_parse_errors_with_their_lines() {
    let dir = config_dir(&[]);
    let d = dir.path();
    Ca::new(d).issue(d, "a", &["a.test"], "a.test");
    write(
        d,
        "ssl_multicert.config",
        "# one good line\nssl_cert_name=a.pem ssl_key_name=a.key\n\nssl_cert_name=a.pem colour=blue\n\
         ssl_key_name=a.key\nssl_cert_name=missing.pem\n",
    );
    let file = d.join("ssl_multicert.config").display().to_string();
    let (ok, output) = hookyard_check(d);
    assert!(!ok, "{output}");
    assert!(output.contains(&format!("{file}:4: unknown key `colour`")), "{output}");
    assert!(output.contains(&format!("{file}:5: an entry needs `ssl_cert_name`")), "{output}");
    // Files are read once the whole file parses.
    write(d, "ssl_multicert.config", "ssl_cert_name=missing.pem\n");
    let (ok, output) = hookyard_check(d);
    assert!(!ok, "{output}");
    assert!(
        output.contains(&format!("{file}:1: ")) && output.contains("missing.pem: cannot read"),
        "{output}"
    );
}

#[test]
fn run_listen_tls_serves_https_and_refuses_to_start_without_certificates() {
    use std::io::{BufRead, BufReader};
    let (dir, _ca) = three_certificates();
    let bin = env!("CARGO_BIN_EXE_hookyard");
    let admin = dir.path().join("admin.sock");
    let mut child = Command::new(bin)
        .args(["run", "--config"])
        .arg(dir.path())
        .args(["--listen", "127.0.0.1:0", "--listen-tls", "127.0.0.1:0", "--admin"])
        .arg(&admin)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (send, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                return;
            }
        }
    });
    let addr: Option<SocketAddr> = loop {
        match lines.recv_timeout(DEADLINE) {
            Ok(line) => {
                if let Some(addr) = line.split("listening on https://").nth(1) {
                    break addr.trim().parse().ok();
                }
            }
            Err(_) => break None,
        }
    };
    let output = addr.map(|addr| curl(dir.path(), addr, "a.test", "/_hookyard/health", &[]));
    let _ = child.kill();
    let _ = child.wait();
    let output = output.expect("hookyard printed its https address");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "ok\n", "{}", text(&output));

    let empty = config_dir(&[]);
    let output = Command::new(bin)
        .args(["run", "--config"])
        .arg(empty.path())
        .args(["--listen", "127.0.0.1:0", "--listen-tls", "127.0.0.1:0", "--admin"])
        .arg(empty.path().join("admin.sock"))
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        text(&output).contains("--listen-tls is given but no certificate"),
        "{}",
        text(&output)
    );
}

#[tokio::test]
async fn the_watcher_reloads_changed_certificates_and_ssl_multicert_config() {
    let dir = config_dir(&[("hookyard.yaml", "watch: true\n")]);
    let d = dir.path();
    let certs = d.join("certs");
    std::fs::create_dir(&certs).unwrap();
    let ca = Ca::new(d);
    ca.issue(&certs, "a", &["a.test"], "a.test");
    ca.issue(&certs, "b", &["b.test"], "b.test");
    write(d, "ssl_multicert.config", "ssl_cert_name=certs/a.pem ssl_key_name=certs/a.key\n");
    let proxy = tls_proxy(d);
    let addr = proxy.tls_addrs()[0];
    let first = connect(d, addr, "a.test").await;
    assert_eq!(presented(&first), pem_der(&certs.join("a.pem")));

    // Renewed in place, as certificate tools do: certificate and key, one after the other.
    ca.issue(&certs, "a", &["a.test"], "a.test renewed");
    let renewed = pem_der(&certs.join("a.pem"));
    poll_presented(d, addr, "a.test", &renewed).await;

    write(
        d,
        "ssl_multicert.config",
        "ssl_cert_name=certs/a.pem ssl_key_name=certs/a.key\n\
         ssl_cert_name=certs/b.pem ssl_key_name=certs/b.key\n",
    );
    poll_presented(d, addr, "b.test", &pem_der(&certs.join("b.pem"))).await;
    assert_eq!(proxy.status().reloads_ok, 2, "{:?}", proxy.status());
}

/// Connects until a handshake for `name` presents `expected`, failing past the deadline.
async fn poll_presented(dir: &Path, addr: SocketAddr, name: &'static str, expected: &[u8]) {
    let start = std::time::Instant::now();
    loop {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let server = ServerName::try_from(name).unwrap();
        // Before the reload, a name without its certificate fails verification.
        if let Ok(tls) = connector(dir).connect(server, stream).await
            && presented(&tls) == expected
        {
            return;
        }
        assert!(start.elapsed() < DEADLINE, "{name}: the new certificate is not served");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_stalled_handshake_and_an_idle_tls_connection_are_closed_by_their_timeouts() {
    let (dir, _ca) = three_certificates();
    write(dir.path(), "hookyard.yaml", "timeouts: {header_read: 300ms, idle: 300ms}\n");
    let proxy = tls_proxy(dir.path());
    let addr = proxy.tls_addrs()[0];

    // No ClientHello: closed after `timeouts.header_read`, counted as a failed handshake.
    let mut silent = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(DEADLINE, silent.read(&mut buf)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "{read:?}");
    let series = format!("hookyard_tls_handshake_failures_total{{endpoint=\"{addr}\"}} 1");
    assert!(proxy.metrics_text().contains(&series), "{}", proxy.metrics_text());

    // Served, then idle: closed after `timeouts.idle`, as a plain connection is.
    let mut idle = connect(dir.path(), addr, "a.test").await;
    assert!(health(&mut idle).await.starts_with("HTTP/1.1 200"));
    let read = tokio::time::timeout(DEADLINE, idle.read(&mut buf)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "{read:?}");
}
