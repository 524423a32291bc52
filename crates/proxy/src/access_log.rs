//! The access log: one line per transaction, written off the request path.
//!
//! A transaction fills an entry as it runs (`record`) and hands it, when its response body is
//! done with, to a bounded queue; one writer thread formats the entries (`format`, `json`) and
//! appends them to the file, rotating it by size or age and reopening it on SIGUSR1
//! (`writer`). A full queue never blocks a worker: the entry is dropped and counted
//! (`hookyard_access_log_dropped_total`).

pub mod format;
mod json;
pub(crate) mod record;
mod writer;

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::warn;

pub use crate::config::AccessLogSettings as Settings;
pub use format::{Field, Format, FormatError, Piece};
pub use record::{Header, Message};

use crate::generation::{Generation, Serving};
use record::Entry;
pub(crate) use writer::DEFAULT_QUEUE;

/// What the writer thread receives.
enum Msg {
    /// A line to write.
    Entry(Box<Entry>),
    /// Look at the flags (reopen, stop).
    Wake,
}

/// The queue to the writer thread and its counters; shared by the workers (which send) and
/// the control side (metrics, SIGUSR1, shutdown).
#[derive(Debug)]
pub(crate) struct AccessLog {
    queue: SyncSender<Msg>,
    flags: Arc<Flags>,
    /// Ends when the writer thread does.
    done: Mutex<Option<Receiver<()>>>,
}

/// What the writer and the senders share.
#[derive(Debug, Default)]
struct Flags {
    /// Entries dropped: the queue was full, or the file could not be written.
    dropped: AtomicU64,
    /// Lines written.
    written: AtomicU64,
    /// Files rotated.
    rotations: AtomicU64,
    reopen: AtomicBool,
    stop: AtomicBool,
}

/// A transaction's line on its way: queued when dropped (the response body done with, or the
/// transaction dropped because its client left), whichever way the transaction ends.
#[derive(Debug)]
pub(crate) struct Logging {
    /// `None` only once queued.
    entry: Option<Box<Entry>>,
    sink: Arc<AccessLog>,
    /// Counts the request body sent to the origin.
    pub(crate) request_body: Option<crate::origin::body::BodyWatch>,
}

impl Logging {
    /// The line being filled in.
    pub(crate) fn entry(&mut self) -> Option<&mut Entry> {
        self.entry.as_deref_mut()
    }
}

impl Drop for Logging {
    fn drop(&mut self) {
        let Some(mut entry) = self.entry.take() else { return };
        entry.elapsed = entry.started.elapsed();
        if let Some(watch) = &self.request_body {
            entry.request_body = watch.bytes();
        }
        self.sink.send(entry);
    }
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Msg::Entry(_) => "Entry",
            Msg::Wake => "Wake",
        })
    }
}

impl AccessLog {
    /// Starts the writer thread; its queue holds `queue` entries (`access_log.queue` of the
    /// generation it starts with; the default when there is no access log yet).
    pub(crate) fn start(serving: &Arc<Serving>) -> std::io::Result<Arc<AccessLog>> {
        let first = serving.load().config.settings.access_log.clone();
        let capacity = first.as_ref().map_or(writer::DEFAULT_QUEUE, |s| s.queue);
        let (queue, received) = std::sync::mpsc::sync_channel(capacity);
        let flags = Arc::new(Flags::default());
        let (finished, done) = std::sync::mpsc::channel();
        let writer = writer::Writer::new(flags.clone(), first);
        std::thread::Builder::new().name("hookyard-access-log".to_owned()).spawn(move || {
            writer.run(&received);
            drop(finished);
        })?;
        Ok(Arc::new(AccessLog { queue, flags, done: Mutex::new(Some(done)) }))
    }

    /// The line of a transaction of `generation` on a connection accepted by `listener`, if
    /// the generation logs that listener.
    pub(crate) fn entry(
        self: &Arc<AccessLog>,
        generation: &Generation,
        listener: SocketAddr,
        client: SocketAddr,
        scheme: &'static str,
        parts: &http::request::Parts,
        fields: &dyn record::Fields,
    ) -> Option<Logging> {
        let settings = generation.config.settings.access_log.as_ref()?;
        if let Some(listeners) = &settings.listeners
            && !listeners.contains(&listener)
        {
            return None;
        }
        let entry = Entry::start(settings.clone(), generation.id, client, scheme, parts, fields);
        Some(Logging { entry: Some(Box::new(entry)), sink: self.clone(), request_body: None })
    }

    /// Queues `entry`; drops and counts it when the queue is full.
    pub(crate) fn send(&self, entry: Box<Entry>) {
        match self.queue.try_send(Msg::Entry(entry)) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.flags.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Appends the access log's counters (Prometheus text).
    pub(crate) fn render_metrics(&self, out: &mut String) {
        let series = [
            ("hookyard_access_log_lines_total", "Access log lines written.", &self.flags.written),
            (
                "hookyard_access_log_dropped_total",
                "Access log lines dropped: the queue was full or the file could not be written.",
                &self.flags.dropped,
            ),
            (
                "hookyard_access_log_rotations_total",
                "Access log files rotated.",
                &self.flags.rotations,
            ),
        ];
        for (name, help, value) in series {
            let value = value.load(Ordering::Relaxed);
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
        }
    }

    /// Closes the file and opens its path again (after logrotate renamed it: SIGUSR1).
    pub(crate) fn reopen(&self) {
        self.flags.reopen.store(true, Ordering::Relaxed);
        // A full queue needs no wake: the writer looks at the flag after each entry.
        let _ = self.queue.try_send(Msg::Wake);
    }

    /// Writes what is queued and stops the writer thread, waiting for it at most `limit`.
    pub(crate) fn stop(&self, limit: Duration) {
        self.flags.stop.store(true, Ordering::Relaxed);
        let _ = self.queue.try_send(Msg::Wake);
        let done = self.done.lock().map(|mut d| d.take()).unwrap_or_default();
        if let Some(done) = done
            && let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = done.recv_timeout(limit)
        {
            warn!(?limit, "the access log writer did not finish in time");
        }
    }
}
