//! `cargo xtask tidy`: checks over the repository's text that no compiler makes.
//!
//! Two today. No file keeps a merge's conflict markers. No file cites the design notes the project was started from. They were never part
//! of the repository, so a reader cannot follow such a citation; a fact a file needs belongs in
//! `ARCHITECTURE.md` or `docs/`, or is cited from ATS's public documentation or source. The
//! check runs as a test of this crate too (`cargo test -p xtask`), so `cargo xtask ci` fails on
//! a new citation.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The names a file must not mention, spelt in pieces so that this file does not.
const UNCITABLE: [[&str; 2]; 2] = [["design", ".md"], ["ats-", "reference"]];

/// A merge's conflict markers, spelt in pieces so that this file has none.
const MARKERS: [[&str; 2]; 2] = [["<<<<", "<<< "], [">>>>", ">>> "]];

/// `cargo xtask tidy`.
pub(crate) fn check(root: &Path) -> Result<()> {
    let files = files(root)?;
    let markers: Vec<String> = MARKERS.iter().map(|parts| parts.concat()).collect();
    let conflicts = lines_where(root, &files, |line| markers.iter().any(|m| line.starts_with(m)))?;
    if !conflicts.is_empty() {
        bail!("{} line(s) left by an unresolved merge:\n{}", conflicts.len(), conflicts.join("\n"));
    }
    let found = citations(root, &files)?;
    if !found.is_empty() {
        bail!(
            "{} line(s) cite notes that are not in the repository; state the fact, or move it \
             into ARCHITECTURE.md or docs/, or cite ATS's public docs or source instead:\n{}",
            found.len(),
            found.join("\n")
        );
    }
    Ok(())
}

/// The files to check: those git tracks, or every file outside `target/` and `.git/` when this
/// is not a git checkout.
fn files(root: &Path) -> Result<Vec<PathBuf>> {
    let listed = Command::new("git").args(["ls-files", "-z"]).current_dir(root).output();
    if let Ok(out) = listed
        && out.status.success()
    {
        return Ok(out
            .stdout
            .split(|b| *b == 0)
            .filter(|name| !name.is_empty())
            .map(|name| PathBuf::from(String::from_utf8_lossy(name).into_owned()))
            .filter(|path| !path.starts_with("target"))
            .collect());
    }
    let mut out = Vec::new();
    walk(root, Path::new(""), &mut out)?;
    Ok(out)
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let full = root.join(dir);
    for entry in
        std::fs::read_dir(&full).with_context(|| format!("cannot list {}", full.display()))?
    {
        let entry = entry?;
        let name = dir.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            if name != Path::new("target") && name != Path::new(".git") {
                walk(root, &name, out)?;
            }
        } else {
            out.push(name);
        }
    }
    Ok(())
}

/// Every `path:line: text` among `files` (relative to `root`) that mentions an uncitable name.
fn citations(root: &Path, files: &[PathBuf]) -> Result<Vec<String>> {
    let names: Vec<String> = UNCITABLE.iter().map(|parts| parts.concat()).collect();
    lines_where(root, files, |line| names.iter().any(|name| line.contains(name.as_str())))
}

/// Every `path:line: text` among `files` (relative to `root`) whose line satisfies `flagged`.
fn lines_where(
    root: &Path,
    files: &[PathBuf],
    flagged: impl Fn(&str) -> bool,
) -> Result<Vec<String>> {
    let mut found = Vec::new();
    for file in files {
        let path = root.join(file);
        // A tracked file deleted in the work tree, or a symlink to a directory: nothing to read.
        if !path.is_file() {
            continue;
        }
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let text = String::from_utf8_lossy(&bytes);
        for (n, line) in text.lines().enumerate() {
            if flagged(line) {
                found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_file_cites_notes_outside_the_repository() {
        let root = crate::root();
        if let Err(err) = check(&root) {
            panic!("{err:#}");
        }
    }

    #[test]
    fn the_check_sees_what_it_looks_for() {
        let dir = std::env::temp_dir().join(format!("hookyard-xtask-tidy-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("target")).unwrap();
        let cited = format!("as {} §2 says\n", UNCITABLE[0].concat());
        std::fs::write(dir.join("a.md"), format!("fine\n{cited}")).unwrap();
        std::fs::write(dir.join("target/b.md"), &cited).unwrap();
        std::fs::write(dir.join("c.rs"), format!("// see {} §5\n", UNCITABLE[1].concat())).unwrap();
        let mut files = Vec::new();
        walk(&dir, Path::new(""), &mut files).unwrap();
        let mut found = citations(&dir, &files).unwrap();
        found.sort();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with("a.md:2: as "), "{found:?}");
        assert!(found[1].starts_with("c.rs:1: // see "), "{found:?}");
    }
}
