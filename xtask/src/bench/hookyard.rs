//! hookyard: the release build of `hookyard-proxy`, one remap rule to the origin, and the C
//! `add_header` remap plugin on that rule when the proxy can run it.
//!
//! Whether it can is asked of the binary itself: `hookyard check` of the directory with the
//! plugin rule. When the check refuses it (the plugin does not build or load here), the
//! plugin-less rule is benched instead, and the report says so (`"hookyard_plugin": false`)
//! with the proxy's own reason, rather than the run failing.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::procs::Server;

/// The plugin on the bench rule: `plugins/c/<name>.c` and its pparams. `None` benches the
/// plugin-less rule on purpose (the one-line switch).
pub(crate) const PLUGIN: Option<(&str, &[&str])> = Some(("add_header", &["X-Bench:hookyard"]));

/// What the bench serves.
pub(crate) struct Setup {
    /// The rule runs [`PLUGIN`].
    pub(crate) plugin: bool,
    /// Why it does not, when it does not.
    pub(crate) note: Option<String>,
}

/// Builds `hookyard` in release and returns its path.
pub(crate) fn build(root: &Path) -> Result<PathBuf> {
    super::build_release(root, "hookyard-proxy", "hookyard")
}

/// The remap rule from `from` (a URL) to the origin, with or without the plugin.
pub(crate) fn rule(from: &str, origin: u16, plugin: Option<(&Path, &[&str])>) -> String {
    let mut rule = format!("map {from} http://127.0.0.1:{origin}/");
    if let Some((path, params)) = plugin {
        rule.push_str(&format!(" @plugin={}", path.display()));
        for param in params {
            rule.push_str(&format!(" @pparam={param}"));
        }
    }
    rule.push('\n');
    rule
}

/// `hookyard.yaml`: the runtime directory (control socket) inside the bench directory, each
/// worker pinned to its core (as nginx's are); the rest is the defaults (one worker per core).
pub(crate) fn settings(dir: &Path) -> String {
    format!(
        "# written by cargo xtask bench\nruntime_dir: {}\nworker_cpu_affinity: auto\n",
        dir.join("run").display()
    )
}

/// Runs `binary` on the configuration in `dir`, listening on `addr` (its output to `dir/log`),
/// and waits until it serves, within `ready`.
pub(crate) fn serve(
    binary: &Path,
    dir: &Path,
    addr: SocketAddr,
    limit: Duration,
    ready: Duration,
    log: &str,
) -> Result<Server> {
    let mut cmd = Command::new(binary);
    cmd.arg("run").arg("--config").arg(dir).arg("--listen").arg(addr.to_string());
    let mut server = Server::start("hookyard", &cmd, limit, &dir.join(log))?;
    server.wait_ready(addr, &addr.to_string(), ready)?;
    Ok(server)
}

/// Writes the configuration into `dir`: with the plugin when `hookyard check` accepts it, else
/// without.
pub(crate) fn prepare(
    root: &Path,
    binary: &Path,
    dir: &Path,
    port: u16,
    origin: u16,
) -> Result<Setup> {
    std::fs::create_dir_all(dir.join("run"))?;
    std::fs::write(dir.join("hookyard.yaml"), settings(dir))?;
    let remap = dir.join("remap.config");
    let from = format!("http://127.0.0.1:{port}/");
    let mut note = None;
    if let Some((name, params)) = PLUGIN {
        let plugin = compile_plugin(root, dir, name)?;
        std::fs::write(&remap, rule(&from, origin, Some((&plugin, params))))?;
        match check(binary, dir)? {
            None => return Ok(Setup { plugin: true, note: None }),
            Some(reason) => note = Some(format!("`{name}` refused by `hookyard check`: {reason}")),
        }
    }
    std::fs::write(&remap, rule(&from, origin, None))?;
    if let Some(reason) = check(binary, dir)? {
        bail!("hookyard refuses even the plugin-less rule: {reason}");
    }
    Ok(Setup {
        plugin: false,
        note: note.or_else(|| Some("disabled in xtask (PLUGIN = None)".into())),
    })
}

/// `hookyard check --config dir`: `None` when it passes, else its problem lines.
fn check(binary: &Path, dir: &Path) -> Result<Option<String>> {
    let out = Command::new(binary)
        .arg("check")
        .arg("--config")
        .arg(dir)
        .output()
        .with_context(|| format!("cannot run {}", binary.display()))?;
    if out.status.success() {
        return Ok(None);
    }
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    Ok(Some(problems(&text)))
}

/// The problem lines of `check`'s output (`file:line: reason`), or all of it when none are.
fn problems(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| l.contains(".config:") || l.contains(".yaml:") || l.contains("error"))
        .collect();
    if lines.is_empty() { text.trim().to_owned() } else { lines.join("; ") }
}

/// Compiles `plugins/c/<name>.c` against the ABI header, as `cargo xtask plugins` does.
pub(crate) fn compile_plugin(root: &Path, dir: &Path, name: &str) -> Result<PathBuf> {
    let out = dir.join(format!("{name}.so"));
    let mut cc = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".to_owned()));
    cc.args(["-shared", "-fPIC", "-O2", "-std=c11", "-Wall", "-Wextra", "-Werror", "-I"])
        .arg(root.join("crates/abi/include"))
        .arg("-o")
        .arg(&out)
        .arg(root.join("plugins/c").join(format!("{name}.c")));
    crate::status(cc)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_with_and_without_plugin() {
        assert_eq!(
            rule("http://127.0.0.1:8080/", 8000, None),
            "map http://127.0.0.1:8080/ http://127.0.0.1:8000/\n"
        );
        let params: &[&str] = &["X-Bench:hookyard"];
        assert_eq!(
            rule("http://127.0.0.1:8080/", 8000, Some((Path::new("/b/add_header.so"), params))),
            "map http://127.0.0.1:8080/ http://127.0.0.1:8000/ @plugin=/b/add_header.so \
             @pparam=X-Bench:hookyard\n"
        );
    }

    #[test]
    fn problems_keep_the_located_lines() {
        let out = "hookyard.yaml   ok\nremap.config    FAILED\n\
                   /b/remap.config:1: remap plugin `/b/add_header.so`: this build cannot run remap plugins yet\n";
        assert_eq!(
            problems(out),
            "/b/remap.config:1: remap plugin `/b/add_header.so`: this build cannot run remap plugins yet"
        );
        assert_eq!(problems("something odd\n"), "something odd");
    }
}
