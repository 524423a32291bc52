//! Apache Traffic Server 9.2 (Debian's `trafficserver`), relocated into the bench directory.
//!
//! What works on Debian 12's 9.2 package: `traffic_server` started directly (no
//! `traffic_manager`), with `TS_RUNROOT` naming a directory whose `runroot.yaml` points
//! `sysconfdir`, `logdir`, `runtimedir`, `localstatedir` and `cachedir` into the bench
//! directory while binaries and modules stay in `/usr`. Its `records.config` (9.2 still reads
//! `records.config`; `records.yaml` is 10.x) sets the port on 127.0.0.1, turns the HTTP cache and
//! logging off, and keeps the invoking user (`proxy.config.admin.user_id #-1`), so it runs as
//! root or not without touching `/etc/trafficserver`, `/var/log` or `/run`. An empty
//! `storage.config` means no cache disk: ATS warns "Cache Disabled" and proxies.
//!
//! The map rule carries a null remap plugin, compiled here against `trafficserver-dev`'s
//! headers: `TSRemapInit` succeeds and `TSRemapDoRemap` returns `TSREMAP_NO_REMAP`, so ATS pays
//! for a remap plugin call per request, as hookyard does for its plugin.

use std::path::Path;
use std::process::Command;

use anyhow::Result;

/// The null remap plugin.
pub(crate) const NULL_REMAP_C: &str = r#"/* written by cargo xtask bench: a remap plugin that does nothing */
#include <ts/ts.h>
#include <ts/remap.h>

TSReturnCode TSRemapInit(TSRemapInterface *api, char *errbuf, int errbuf_size) {
    (void)api, (void)errbuf, (void)errbuf_size;
    return TS_SUCCESS;
}

TSRemapStatus TSRemapDoRemap(void *ih, TSHttpTxn txn, TSRemapRequestInfo *rri) {
    (void)ih, (void)txn, (void)rri;
    return TSREMAP_NO_REMAP;
}
"#;

/// The configuration files the runroot's `etc/` needs: name and text.
pub(crate) fn files(
    dir: &Path,
    port: u16,
    origin: u16,
    plugin: &Path,
) -> Vec<(&'static str, String)> {
    let records = format!(
        "# written by cargo xtask bench\n\
         CONFIG proxy.config.http.server_ports STRING {port}:ipv4:ip-in=127.0.0.1\n\
         CONFIG proxy.config.admin.user_id STRING #-1\n\
         CONFIG proxy.config.http.cache.http INT 0\n\
         CONFIG proxy.config.log.logging_enabled INT 0\n\
         CONFIG proxy.config.url_remap.remap_required INT 1\n\
         CONFIG proxy.config.net.connections_throttle INT 10000\n\
         CONFIG proxy.config.crash_log_helper STRING /bin/true\n\
         CONFIG proxy.config.body_factory.template_sets_dir STRING /etc/trafficserver/body_factory\n\
         CONFIG proxy.config.diags.debug.enabled INT 0\n"
    );
    let remap = format!(
        "map http://127.0.0.1:{port}/ http://127.0.0.1:{origin}/ @plugin={}\n",
        plugin.display()
    );
    let ip_allow =
        "ip_allow:\n  - apply: in\n    ip_addrs: 127.0.0.1\n    action: allow\n    methods: ALL\n";
    let mut files = vec![
        ("records.config", records),
        ("remap.config", remap),
        ("ip_allow.yaml", ip_allow.to_owned()),
        ("runroot.yaml", runroot(dir)),
    ];
    for empty in [
        "plugin.config",
        "storage.config",
        "volume.config",
        "hosting.config",
        "cache.config",
        "parent.config",
        "logging.yaml",
        "sni.yaml",
        "ssl_multicert.config",
        "splitdns.config",
        "socks.config",
        "strategies.yaml",
    ] {
        files.push((empty, String::new()));
    }
    files
}

/// `runroot.yaml`: lives in `dir` itself (`TS_RUNROOT=dir`); the other files go to `dir/etc`.
fn runroot(dir: &Path) -> String {
    let d = dir.display();
    format!(
        "prefix: {d}\n\
         exec_prefix: /usr\n\
         bindir: /usr/bin\n\
         sbindir: /usr/sbin\n\
         sysconfdir: {d}/etc\n\
         datadir: {d}/cache\n\
         includedir: /usr/include\n\
         libdir: /usr/lib/trafficserver\n\
         libexecdir: /usr/lib/trafficserver/modules\n\
         localstatedir: {d}/run\n\
         runtimedir: {d}/run\n\
         logdir: {d}/log\n\
         cachedir: {d}/cache\n"
    )
}

/// Writes the runroot under `dir` and compiles the null plugin into it.
pub(crate) fn prepare(dir: &Path, port: u16, origin: u16) -> Result<()> {
    for sub in ["etc", "log", "run", "cache"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    let source = dir.join("null_remap.c");
    std::fs::write(&source, NULL_REMAP_C)?;
    let plugin = dir.join("null_remap.so");
    let mut cc = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".to_owned()));
    cc.args(["-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&plugin)
        .arg(&source);
    crate::status(cc)?;
    for (name, text) in files(dir, port, origin, &plugin) {
        let path = if name == "runroot.yaml" { dir.join(name) } else { dir.join("etc").join(name) };
        std::fs::write(path, text)?;
    }
    Ok(())
}

/// `traffic_server` with the runroot.
pub(crate) fn command(traffic_server: &Path, dir: &Path) -> Command {
    let mut cmd = Command::new(traffic_server);
    cmd.env("TS_RUNROOT", dir).current_dir(dir);
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_stays_in_the_bench_directory() {
        let files =
            files(Path::new("/tmp/b/ats"), 8082, 8000, Path::new("/tmp/b/ats/null_remap.so"));
        let get = |name: &str| files.iter().find(|(n, _)| *n == name).map(|(_, t)| t.as_str());
        let records = get("records.config").expect("records");
        assert!(records.contains("server_ports STRING 8082:ipv4:ip-in=127.0.0.1"));
        assert!(records.contains("cache.http INT 0"));
        assert_eq!(
            get("remap.config"),
            Some(
                "map http://127.0.0.1:8082/ http://127.0.0.1:8000/ @plugin=/tmp/b/ats/null_remap.so\n"
            )
        );
        let runroot = get("runroot.yaml").expect("runroot");
        for key in ["sysconfdir", "logdir", "runtimedir", "localstatedir", "cachedir"] {
            let line = runroot.lines().find(|l| l.starts_with(key)).expect(key);
            assert!(line.contains("/tmp/b/ats/"), "{line}");
        }
        assert_eq!(get("storage.config"), Some(""));
    }
}
