//! The process log: `tracing` events to standard error, as text or JSON lines, through a filter
//! that `hookyard ctl log-level` replaces at run time.
//!
//! A process has one subscriber, so the filter's handle is process-wide too: [`install`] keeps
//! it where the control channel finds it ([`installed`]). A server started in a process that
//! installed no subscriber (a test) has no filter to change, and says so.
//!
//! The filter is our own layer over `EnvFilter` (`Swappable`), not `tracing_subscriber`'s
//! `reload` layer: that one takes a lock at every call, and a connection's span is entered and
//! left at every poll of the connection, several times a request.

use std::io::IsTerminal as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use arc_swap::ArcSwap;
use serde::Serialize;
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::subscriber::{Interest, Subscriber};
use tracing_core::{LevelFilter, Metadata};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};
use tracing_subscriber::util::SubscriberInitExt as _;

/// The filter used when neither `RUST_LOG` nor `log.level` gives one.
pub const DEFAULT_LEVEL: &str = "warn,hookyard=info";

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// One readable line per event (colour only on a terminal).
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `fields` (with `message`),
    /// and the `spans` the event happened in.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<LogFormat, String> {
        match text {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("`{other}` is not `text` or `json`")),
        }
    }
}

/// `log:` of `hookyard.yaml`: read at start (a reload that changes it notes a restart is
/// needed; `ctl log-level` changes the filter of a running process).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LogSettings {
    /// Text or JSON lines.
    pub format: LogFormat,
    /// The filter (an `EnvFilter` directive such as `info` or `warn,hookyard=debug`); `None`:
    /// `RUST_LOG`, else [`DEFAULT_LEVEL`]. `RUST_LOG`, when set, wins over it.
    pub level: Option<String>,
}

/// Why a log filter was refused.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The directive does not parse.
    #[error("`{directive}` is not a log filter (such as `debug` or `warn,hookyard=trace`)")]
    Directive {
        /// What was given.
        directive: String,
        /// Why it does not parse.
        #[source]
        source: tracing_subscriber::filter::ParseError,
    },
    /// The directive is empty, which would silence everything.
    #[error("an empty log filter would silence everything; give one such as `info`")]
    Empty,
    /// This process installed no reloadable subscriber.
    #[error("this process has no reloadable log filter")]
    NotInstalled,
}

/// The running process's log filter, replaceable.
pub struct LogControl {
    filter: Swappable,
    /// The directive in force as it was given (`EnvFilter` shows its own normal form).
    directive: Mutex<String>,
}

impl std::fmt::Debug for LogControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogControl").field("level", &self.level()).finish()
    }
}

impl LogControl {
    /// The filter in force, as directives.
    pub fn level(&self) -> String {
        self.directive.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Replaces the filter with `directive`.
    ///
    /// # Errors
    ///
    /// The directive does not parse (the filter in force stays).
    pub fn set_level(&self, directive: &str) -> Result<(), LogError> {
        let filter = parse(directive)?;
        // Under the lock, so that two changes at once leave the filter and its text agreeing.
        let mut current = self.directive.lock().unwrap_or_else(PoisonError::into_inner);
        self.filter.replace(directive, filter);
        directive.clone_into(&mut current);
        Ok(())
    }
}

/// The process's filter layer: an `EnvFilter`, replaced whole by [`Swappable::replace`].
///
/// `EnvFilter` looks a span up under a lock at each entry and exit, which only a filter with
/// span directives (`[conn]=debug`) needs: for any other the lookup finds nothing. This layer
/// skips the span calls while no such filter is in force, after one atomic load.
#[derive(Clone)]
struct Swappable(Arc<Filter>);

struct Filter {
    in_force: ArcSwap<EnvFilter>,
    /// Whether the filter in force may have span directives (true while one is replaced by
    /// another too): then `EnvFilter` tracks the spans they match, from creation to close, and
    /// their entries and exits.
    spans: AtomicBool,
}

impl Swappable {
    fn new(directive: &str, filter: EnvFilter) -> Swappable {
        Swappable(Arc::new(Filter {
            in_force: ArcSwap::from_pointee(filter),
            spans: AtomicBool::new(has_span_directives(directive)),
        }))
    }

    /// Puts `filter` (parsed from `directive`) in force, for callsites seen before too.
    ///
    /// A span is only ever tracked by the filter in force when it was made: entered under one
    /// filter and left under another, it is left alone by both (as with `reload`). The flag is
    /// raised before a filter with span directives goes in, and lowered after one without them
    /// did, so that a span entry one filter saw is never skipped while that filter is in force.
    fn replace(&self, directive: &str, filter: EnvFilter) {
        let spans = has_span_directives(directive);
        if spans {
            self.0.spans.store(true, Ordering::SeqCst);
        }
        self.0.in_force.store(Arc::new(filter));
        if !spans {
            self.0.spans.store(false, Ordering::SeqCst);
        }
        // Each callsite's cached interest, and the highest level enabled, are asked again.
        tracing_core::callsite::rebuild_interest_cache();
        // Records of crates that log through the `log` facade stop where this filter stops.
        log::set_max_level(log_level(LevelFilter::current()));
    }

    /// The filter in force, when span calls are to go to it.
    fn for_spans(&self) -> Option<arc_swap::Guard<Arc<EnvFilter>>> {
        self.0.spans.load(Ordering::Relaxed).then(|| self.0.in_force.load())
    }
}

/// Whether `directive` may have span or field directives, written in brackets
/// (`target[span{field=value}]=level`).
fn has_span_directives(directive: &str) -> bool {
    directive.contains('[')
}

/// The `log` facade's level for a `tracing` level.
fn log_level(level: LevelFilter) -> log::LevelFilter {
    match level.into_level() {
        None => log::LevelFilter::Off,
        Some(tracing_core::Level::ERROR) => log::LevelFilter::Error,
        Some(tracing_core::Level::WARN) => log::LevelFilter::Warn,
        Some(tracing_core::Level::INFO) => log::LevelFilter::Info,
        Some(tracing_core::Level::DEBUG) => log::LevelFilter::Debug,
        Some(_) => log::LevelFilter::Trace,
    }
}

// Each call goes to the filter in force, as `EnvFilter`'s own `Layer` methods do.
impl<S: Subscriber> Layer<S> for Swappable {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        Layer::<S>::register_callsite(&**self.0.in_force.load(), metadata)
    }

    fn enabled(&self, metadata: &Metadata<'_>, ctx: Context<'_, S>) -> bool {
        Layer::<S>::enabled(&**self.0.in_force.load(), metadata, ctx)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Layer::<S>::max_level_hint(&**self.0.in_force.load())
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if let Some(filter) = self.for_spans() {
            Layer::<S>::on_new_span(&**filter, attrs, id, ctx);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(filter) = self.for_spans() {
            Layer::<S>::on_record(&**filter, id, values, ctx);
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        if let Some(filter) = self.for_spans() {
            Layer::<S>::on_enter(&**filter, id, ctx);
        }
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        if let Some(filter) = self.for_spans() {
            Layer::<S>::on_exit(&**filter, id, ctx);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if let Some(filter) = self.for_spans() {
            Layer::<S>::on_close(&**filter, id, ctx);
        }
    }
}

static INSTALLED: OnceLock<LogControl> = OnceLock::new();

/// Parses a filter directive, refusing what `EnvFilter` would silently drop.
pub(crate) fn parse(directive: &str) -> Result<EnvFilter, LogError> {
    if directive.trim().is_empty() {
        return Err(LogError::Empty);
    }
    EnvFilter::builder()
        .parse(directive)
        .map_err(|source| LogError::Directive { directive: directive.to_owned(), source })
}

/// Installs the process's subscriber: `format` lines to standard error, filtered by
/// `RUST_LOG` when set, else `level`, else [`DEFAULT_LEVEL`]; returns the reload handle also
/// kept for [`installed`].
///
/// # Errors
///
/// `level` (or `RUST_LOG`) is not a filter; a subscriber is already installed.
pub fn install(format: LogFormat, level: Option<&str>) -> Result<&'static LogControl, LogError> {
    let from_env = std::env::var("RUST_LOG").ok().filter(|v| !v.trim().is_empty());
    let directive = from_env.as_deref().or(level).unwrap_or(DEFAULT_LEVEL);
    let filter = Swappable::new(directive, parse(directive)?);
    let ansi = std::io::stderr().is_terminal();
    let text = (format == LogFormat::Text)
        .then(|| tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_ansi(ansi));
    let json = (format == LogFormat::Json).then(|| {
        tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(false)
            .with_span_list(true)
            .with_writer(std::io::stderr)
    });
    tracing_subscriber::registry()
        .with(filter.clone())
        .with(text)
        .with(json)
        .try_init()
        .map_err(|_| LogError::NotInstalled)?;
    let directive = Mutex::new(directive.to_owned());
    Ok(INSTALLED.get_or_init(|| LogControl { filter, directive }))
}

/// The filter [`install`] installed, if this process did.
///
/// # Errors
///
/// [`LogError::NotInstalled`] when no subscriber was installed by [`install`].
pub fn installed() -> Result<&'static LogControl, LogError> {
    INSTALLED.get().ok_or(LogError::NotInstalled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_parse_or_are_refused_with_the_text() {
        assert!(parse("debug").is_ok());
        assert!(parse("warn,hookyard=trace").is_ok());
        for bad in ["", "  ", "hookyard=loud", "[{"] {
            let err = parse(bad).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains("is not a log filter") || err.contains("empty"), "{bad}: {err}");
        }
    }

    /// The levels of the events that reached the subscriber.
    #[derive(Clone, Default)]
    struct Seen(Arc<Mutex<Vec<tracing::Level>>>);

    impl<S: Subscriber> Layer<S> for Seen {
        fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
            self.0.lock().unwrap().push(*event.metadata().level());
        }
    }

    impl Seen {
        fn take(&self) -> Vec<tracing::Level> {
            std::mem::take(&mut *self.0.lock().unwrap())
        }
    }

    fn swappable(directive: &str) -> Swappable {
        Swappable::new(directive, parse(directive).unwrap())
    }

    fn replace(filter: &Swappable, directive: &str) {
        filter.replace(directive, parse(directive).unwrap());
    }

    #[test]
    fn a_replaced_filter_holds_for_events_and_spans_made_before() {
        use tracing::Level;
        let filter = swappable("warn");
        let seen = Seen::default();
        let subscriber = tracing_subscriber::registry().with(filter.clone()).with(seen.clone());
        tracing::subscriber::with_default(subscriber, || {
            let conn = tracing::info_span!("conn");
            let emit = || {
                tracing::debug!("debug");
                tracing::warn!("warn");
            };
            conn.in_scope(emit);
            assert_eq!(seen.take(), [Level::WARN]);
            // A span directive: debug events within `conn` spans, made from now on.
            replace(&filter, "warn,[conn]=debug");
            let later = tracing::info_span!("conn");
            later.in_scope(emit);
            assert_eq!(seen.take(), [Level::DEBUG, Level::WARN]);
            emit();
            assert_eq!(seen.take(), [Level::WARN], "outside the span");
            // Entered under one filter, left under the next: neither is thrown off.
            let entered = later.enter();
            replace(&filter, "debug");
            drop(entered);
            emit();
            assert_eq!(seen.take(), [Level::DEBUG, Level::WARN]);
            replace(&filter, "warn,[conn]=debug");
            let third = tracing::info_span!("conn");
            let entered = third.enter();
            replace(&filter, "error");
            drop(entered);
            third.in_scope(emit);
            emit();
            assert!(seen.take().is_empty(), "nothing under error");
            replace(&filter, "warn,[conn]=debug");
            tracing::info_span!("conn").in_scope(emit);
            emit();
            assert_eq!(seen.take(), [Level::DEBUG, Level::WARN, Level::WARN]);
        });
    }

    #[test]
    fn the_log_facade_gets_the_same_level() {
        for (level, log) in [
            (LevelFilter::OFF, log::LevelFilter::Off),
            (LevelFilter::ERROR, log::LevelFilter::Error),
            (LevelFilter::WARN, log::LevelFilter::Warn),
            (LevelFilter::INFO, log::LevelFilter::Info),
            (LevelFilter::DEBUG, log::LevelFilter::Debug),
            (LevelFilter::TRACE, log::LevelFilter::Trace),
        ] {
            assert_eq!(log_level(level), log, "{level}");
        }
    }

    #[test]
    fn only_bracketed_directives_follow_spans() {
        for (directive, spans) in [
            ("warn,hookyard=info", false),
            ("off", false),
            ("[conn]=debug", true),
            ("hookyard[conn{peer=1.2.3.4}]=trace", true),
        ] {
            assert_eq!(has_span_directives(directive), spans, "{directive}");
            assert_eq!(swappable(directive).for_spans().is_some(), spans, "{directive}");
        }
    }

    #[test]
    fn formats_parse() {
        assert_eq!("json".parse::<LogFormat>(), Ok(LogFormat::Json));
        assert_eq!("text".parse::<LogFormat>(), Ok(LogFormat::Text));
        assert!("xml".parse::<LogFormat>().is_err());
    }
}
