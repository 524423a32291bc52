//! The writer thread: formats queued entries, appends them to the file, rotates it by size or
//! age, reopens it on request, and follows a reload that changed the file.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tracing::{error, info};

use super::record::Civil;
use super::{Flags, Msg, Settings};

/// The queue's length when `access_log.queue` does not say.
pub(crate) const DEFAULT_QUEUE: usize = 16_384;

/// How long a file that could not be opened is left before the next try.
const RETRY: Duration = Duration::from_secs(1);

/// The longest the thread sleeps without looking at its flags and the rotation age.
const TICK: Duration = Duration::from_secs(1);

/// The writer's state.
pub(super) struct Writer {
    flags: Arc<Flags>,
    /// The settings of the newest generation seen, and its number.
    settings: Option<Arc<Settings>>,
    generation: u64,
    out: Option<Output>,
    /// When opening failed last.
    failed_at: Option<Instant>,
    line: String,
}

/// The open file.
struct Output {
    file: BufWriter<File>,
    /// Its size.
    size: u64,
    opened: Instant,
}

impl Writer {
    pub(super) fn new(flags: Arc<Flags>, settings: Option<Arc<Settings>>) -> Writer {
        Writer { flags, settings, generation: 0, out: None, failed_at: None, line: String::new() }
    }

    /// Writes entries until told to stop (or every sender is gone).
    pub(super) fn run(mut self, queue: &Receiver<Msg>) {
        self.open();
        loop {
            let msg = match queue.recv_timeout(TICK) {
                Ok(msg) => Some(msg),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            };
            if let Some(msg) = msg {
                self.handle(msg);
            }
            // Everything queued now, then one flush: a burst costs one write.
            while let Ok(msg) = queue.try_recv() {
                self.handle(msg);
            }
            self.flush();
            self.reopen_if_asked();
            self.maybe_rotate_by_age();
            if self.flags.stop.load(Ordering::Relaxed) {
                break;
            }
        }
        self.flush();
    }

    /// Reopens the file if asked to: after SIGUSR1, what follows goes to a new file.
    fn reopen_if_asked(&mut self) {
        if self.flags.reopen.swap(false, Ordering::Relaxed) {
            self.flush();
            self.out = None;
            self.failed_at = None;
            self.open();
            if let Some(s) = &self.settings {
                info!(path = %s.path.display(), "access log reopened");
            }
        }
    }

    fn handle(&mut self, msg: Msg) {
        self.reopen_if_asked();
        let Msg::Entry(entry) = msg else { return };
        if entry.generation > self.generation {
            self.generation = entry.generation;
            let changed = self.settings.as_ref().is_none_or(|s| !same_file(s, &entry.settings));
            self.settings = Some(entry.settings.clone());
            if changed {
                self.flush();
                self.out = None;
                self.failed_at = None;
                self.open();
            }
        }
        self.line.clear();
        entry.settings.format.write(&entry, &mut self.line);
        self.write_line();
    }

    /// Appends the formatted line, rotating first when it would pass `rotate_size`.
    fn write_line(&mut self) {
        let Some(settings) = self.settings.clone() else { return };
        if let (Some(limit), Some(out)) = (settings.rotate_size, &self.out)
            && out.size > 0
            && out.size + self.line.len() as u64 > limit
        {
            self.rotate(&settings);
        }
        if self.out.is_none() {
            self.open();
        }
        let Some(out) = &mut self.out else {
            self.flags.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        };
        match out.file.write_all(self.line.as_bytes()) {
            Ok(()) => {
                out.size += self.line.len() as u64;
                self.flags.written.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                error!(path = %settings.path.display(), error = %e, "cannot write the access log");
                self.flags.dropped.fetch_add(1, Ordering::Relaxed);
                self.out = None;
                self.failed_at = Some(Instant::now());
            }
        }
    }

    fn flush(&mut self) {
        if let Some(out) = &mut self.out
            && let Err(e) = out.file.flush()
        {
            error!(error = %e, "cannot write the access log");
            self.out = None;
            self.failed_at = Some(Instant::now());
        }
    }

    /// Opens the configured file for appending, unless an open failed less than [`RETRY`] ago.
    fn open(&mut self) {
        let Some(settings) = &self.settings else { return };
        if self.failed_at.is_some_and(|at| at.elapsed() < RETRY) {
            return;
        }
        match open(&settings.path) {
            Ok(file) => {
                let size = file.metadata().map_or(0, |m| m.len());
                self.out =
                    Some(Output { file: BufWriter::new(file), size, opened: Instant::now() });
                self.failed_at = None;
            }
            Err(e) => {
                error!(path = %settings.path.display(), error = %e, "cannot open the access log");
                self.failed_at = Some(Instant::now());
            }
        }
    }

    fn maybe_rotate_by_age(&mut self) {
        let Some(settings) = self.settings.clone() else { return };
        if let (Some(age), Some(out)) = (settings.rotate_interval, &self.out)
            && out.opened.elapsed() >= age
        {
            if out.size > 0 {
                self.rotate(&settings);
            } else if let Some(out) = &mut self.out {
                // Nothing to keep: an empty file is not rotated, its age starts again.
                out.opened = Instant::now();
            }
        }
    }

    /// Renames the file aside (`PATH.YYYYMMDDTHHMMSSZ`, `.1`, `.2` ... when taken) and opens
    /// a new one.
    fn rotate(&mut self, settings: &Settings) {
        self.flush();
        self.out = None;
        let aside = rotated_name(&settings.path, SystemTime::now());
        match std::fs::rename(&settings.path, &aside) {
            Ok(()) => {
                self.flags.rotations.fetch_add(1, Ordering::Relaxed);
                info!(path = %settings.path.display(), to = %aside.display(), "access log rotated");
            }
            Err(e) => {
                error!(path = %settings.path.display(), error = %e, "cannot rotate the access log")
            }
        }
        self.failed_at = None;
        self.open();
    }
}

/// Whether two settings write the same file the same way (a reload that changes only the
/// format keeps the file open).
fn same_file(a: &Settings, b: &Settings) -> bool {
    a.path == b.path && a.rotate_size == b.rotate_size && a.rotate_interval == b.rotate_interval
}

/// Opens `path` for appending, making its directory first when missing.
fn open(path: &Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
        && !dir.exists()
    {
        std::fs::DirBuilder::new().recursive(true).mode(0o750).create(dir)?;
    }
    OpenOptions::new().create(true).append(true).mode(0o640).open(path)
}

/// A free name beside `path` for its rotated contents.
fn rotated_name(path: &Path, now: SystemTime) -> PathBuf {
    let c = Civil::of(now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs());
    let stamp = format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    );
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(&stamp);
    let base = PathBuf::from(name);
    let mut candidate = base.clone();
    let mut n = 1;
    while candidate.symlink_metadata().is_ok() {
        let mut name = base.as_os_str().to_owned();
        name.push(format!(".{n}"));
        candidate = PathBuf::from(name);
        n += 1;
    }
    candidate
}
