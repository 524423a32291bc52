//! etcd's users and TLS client certificates, through `publish`, `run` and `fleet status`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use hookyard_fixtures::versioned;

use super::{CLUSTER, Config, Etcd, Node, origin, text, wait_until};

const PASSWORD: &str = "s3same-open";

/// `hookyard` with `args`, then `--etcd URL --cluster CLUSTER`, without inherited secrets.
fn hookyard(etcd: &Etcd, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hookyard"));
    command.args(args).args(["--etcd", &etcd.url(), "--cluster", CLUSTER]);
    command.env_remove("RUST_LOG").env_remove("HOOKYARD_ETCD_PASSWORD");
    command
}

/// Turns etcd's authentication on, with a `root` user, through etcd's JSON gateway.
fn enable_auth(etcd: &Etcd) {
    let user = format!(r#"{{"name":"root","password":"{PASSWORD}"}}"#);
    for (path, body) in [
        ("/v3/auth/user/add", user.as_str()),
        ("/v3/auth/role/add", r#"{"name":"root"}"#),
        ("/v3/auth/user/grant", r#"{"user":"root","role":"root"}"#),
        ("/v3/auth/enable", "{}"),
    ] {
        let output = etcd.curl(path).args(["-X", "POST", "-d", body]).output().unwrap();
        let answer = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success() && !answer.contains("error"), "{path}: {answer}");
    }
}

#[test]
fn a_user_and_password_reach_etcd_and_no_output_shows_the_password() {
    // Tokens that expire after a second, so the node outlives its first one.
    let Some(etcd) = Etcd::start_with_args(None, &["--auth-token-ttl", "1"]) else { return };
    enable_auth(&etcd);
    let config = Config::new(origin());
    config.with_plugin(&versioned(1));
    let dir = config.dir.path().to_str().unwrap();

    let anonymous = hookyard(&etcd, &["publish", "--config", dir]).output().unwrap();
    assert!(!anonymous.status.success(), "{}", text(&anonymous));

    let wrong = hookyard(&etcd, &["publish", "--config", dir, "--etcd-user", "root"])
        .env("HOOKYARD_ETCD_PASSWORD", "not-the-password")
        .output()
        .unwrap();
    assert!(!wrong.status.success(), "{}", text(&wrong));
    assert!(text(&wrong).contains("authentication failed"), "{}", text(&wrong));
    assert!(!text(&wrong).contains("not-the-password"), "{}", text(&wrong));

    let published = hookyard(&etcd, &["publish", "--config", dir, "--etcd-user", "root"])
        .env("HOOKYARD_ETCD_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(published.status.success(), "{}", text(&published));

    let root = tempfile::tempdir().unwrap();
    let password_file = root.path().join("password");
    std::fs::write(&password_file, format!("{PASSWORD}\n")).unwrap();
    let login = ["--etcd-user", "root", "--etcd-password-file", password_file.to_str().unwrap()];
    let node = Node::start_with(&etcd, root.path(), "a", &[], None, &login);
    assert_eq!(node.version(), "1", "{}", node.log());
    let status = || {
        hookyard(&etcd, &["fleet", "status", "--etcd-user", "root"])
            .env("HOOKYARD_ETCD_PASSWORD", PASSWORD)
            .output()
            .unwrap()
    };
    wait_until("fleet status shows node a serving", || serving(&status(), "a"));
    let status = status();

    // Past its token's lifetime the node still follows the cluster.
    std::thread::sleep(Duration::from_millis(2500));
    config.with_plugin(&versioned(2));
    let again = hookyard(&etcd, &["publish", "--config", dir, "--etcd-user", "root"])
        .env("HOOKYARD_ETCD_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", text(&again));
    wait_until("the node serves version 2", || node.version() == "2");
    for output in [text(&published), text(&status), node.log()] {
        assert!(!output.contains(PASSWORD), "the password is shown:\n{output}");
    }
}

/// Whether `fleet status` succeeded and shows `node` serving.
fn serving(status: &std::process::Output, node: &str) -> bool {
    assert!(status.status.success(), "{}", text(status));
    let shown = String::from_utf8_lossy(&status.stdout);
    shown.lines().any(|l| l.split_whitespace().next() == Some(node) && l.contains("serving"))
}

/// A CA, a certificate for 127.0.0.1 and a client certificate, in `dir`.
fn certificates(dir: &Path) -> [PathBuf; 5] {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.distinguished_name.push(rcgen::DnType::CommonName, "fleet test CA");
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca = params.self_signed(&ca_key).unwrap();
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let mut files = vec![ca_file];
    for (stem, names) in [("server", vec!["127.0.0.1".to_owned()]), ("client", Vec::new())] {
        let mut params = rcgen::CertificateParams::new(names).unwrap();
        params.distinguished_name.push(rcgen::DnType::CommonName, stem);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
        let (cert_file, key_file) =
            (dir.join(format!("{stem}.pem")), dir.join(format!("{stem}.key")));
        std::fs::write(&cert_file, cert.pem()).unwrap();
        std::fs::write(&key_file, key.serialize_pem()).unwrap();
        files.extend([cert_file, key_file]);
    }
    files.try_into().unwrap()
}

#[test]
fn a_tls_etcd_with_client_certificates_serves_the_fleet() {
    let certs = tempfile::tempdir().unwrap();
    let files = certificates(certs.path());
    let [ca, _, _, cert, key] = files.clone().map(|f| f.to_str().unwrap().to_owned());
    let Some(etcd) = Etcd::start_with(Some(files)) else { return };
    let config = Config::new(origin());
    config.with_plugin(&versioned(1));
    let dir = config.dir.path().to_str().unwrap();

    let anonymous =
        hookyard(&etcd, &["publish", "--config", dir, "--etcd-ca", &ca]).output().unwrap();
    assert!(!anonymous.status.success(), "{}", text(&anonymous));

    let tls = ["--etcd-ca", &ca, "--etcd-cert", &cert, "--etcd-key", &key];
    let published =
        hookyard(&etcd, &[&["publish", "--config", dir][..], &tls].concat()).output().unwrap();
    assert!(published.status.success(), "{}", text(&published));

    let root = tempfile::tempdir().unwrap();
    let node = Node::start_with(&etcd, root.path(), "a", &[], None, &tls);
    assert_eq!(node.version(), "1", "{}", node.log());
    wait_until("fleet status shows node a serving", || {
        serving(&hookyard(&etcd, &[&["fleet", "status"][..], &tls].concat()).output().unwrap(), "a")
    });
}
