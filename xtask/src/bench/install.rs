//! The Debian packages the comparisons need, installed when missing.
//!
//! Idempotent: each package is looked for by the file it brings, so a machine that has them
//! runs no `apt-get` at all. Otherwise `apt-get update` runs once, then one `apt-get install`
//! of everything missing; if that fails, each package is tried alone, so that (say) a missing
//! `trafficserver` only makes ATS unavailable. Without `wrk` or `nginx` (the origin) there is no
//! comparison: that is an error.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Result, bail};

/// What a package brings, and which contender needs it.
pub(crate) struct Need {
    pub(crate) package: &'static str,
    pub(crate) file: &'static str,
    /// The proxy (or `tls`: the TLS comparison) that cannot run without it; `None`: nothing
    /// can.
    pub(crate) for_proxy: Option<&'static str>,
}

pub(crate) const NEEDS: &[Need] = &[
    Need { package: "wrk", file: "/usr/bin/wrk", for_proxy: None },
    Need { package: "nginx-light", file: "/usr/sbin/nginx", for_proxy: None },
    Need { package: "trafficserver", file: "/usr/bin/traffic_server", for_proxy: Some("ats") },
    Need { package: "trafficserver-dev", file: "/usr/include/ts/remap.h", for_proxy: Some("ats") },
    Need { package: "openssl", file: "/usr/bin/openssl", for_proxy: Some("tls") },
    Need { package: "nghttp2-client", file: "/usr/bin/h2load", for_proxy: Some("tls") },
    Need { package: "curl", file: "/usr/bin/curl", for_proxy: Some("tls") },
    Need {
        package: "valgrind",
        file: "/usr/bin/callgrind_control",
        for_proxy: Some("instructions"),
    },
];

/// The packages' state after installing: proxies that cannot run, with the reason.
pub(crate) struct Installed {
    pub(crate) unavailable: Vec<(&'static str, String)>,
}

pub(crate) fn ensure() -> Result<Installed> {
    let missing: Vec<&Need> = NEEDS.iter().filter(|n| !Path::new(n.file).exists()).collect();
    if missing.is_empty() {
        return Ok(Installed { unavailable: Vec::new() });
    }
    let names: Vec<&str> = missing.iter().map(|n| n.package).collect();
    eprintln!("xtask bench: installing Debian packages: {}", names.join(" "));
    let mut failure = None;
    if !super::nginx::is_root() {
        failure = Some(format!(
            "not root, cannot install; run `sudo apt-get install {}` first",
            names.join(" ")
        ));
    } else if let Err(err) = apt(&["update", "-q"]) {
        failure = Some(format!("apt-get update failed: {err:#}"));
    } else {
        let mut args = vec!["install", "-y", "-q", "--no-install-recommends"];
        args.extend(&names);
        if apt(&args).is_err() {
            for name in &names {
                if let Err(err) = apt(&["install", "-y", "-q", "--no-install-recommends", name]) {
                    eprintln!("xtask bench: cannot install {name}: {err:#}");
                }
            }
        }
    }
    let mut unavailable = Vec::new();
    for need in NEEDS.iter().filter(|n| !Path::new(n.file).exists()) {
        let why = match &failure {
            Some(f) => format!("Debian package `{}` missing ({f})", need.package),
            None => {
                format!("Debian package `{}` could not be installed (apt-get failed)", need.package)
            }
        };
        match need.for_proxy {
            None => bail!("{why}; the load comparison cannot run without it"),
            Some(proxy) => unavailable.push((proxy, why)),
        }
    }
    Ok(Installed { unavailable })
}

fn apt(args: &[&str]) -> Result<()> {
    let mut cmd = Command::new("timeout");
    // Bounded: a stuck mirror must not hang the task.
    cmd.args(["-k", "10", "900", "apt-get"]).args(args).env("DEBIAN_FRONTEND", "noninteractive");
    crate::status(cmd)
}

/// The installed binaries.
pub(crate) fn nginx() -> PathBuf {
    PathBuf::from("/usr/sbin/nginx")
}

pub(crate) fn traffic_server() -> PathBuf {
    PathBuf::from("/usr/bin/traffic_server")
}

/// `dpkg-query`'s version of a package, or `?`.
pub(crate) fn version(package: &str) -> String {
    Command::new("dpkg-query")
        .args(["-W", "-f", "${Version}", package])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "?".to_owned())
}
