//! The process log: `tracing` events to standard error, as text or JSON lines, through a filter
//! that `hookyard ctl log-level` replaces at run time.
//!
//! A process has one subscriber, so the reload handle is process-wide too: [`install`] keeps it
//! where the control channel finds it ([`installed`]). A server started in a process that
//! installed no subscriber (a test) has no filter to change, and says so.

use std::io::IsTerminal as _;
use std::sync::{Mutex, OnceLock, PoisonError};

use serde::Serialize;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Registry, reload};

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
    /// The subscriber is gone (the process is ending).
    #[error("the log filter cannot be replaced")]
    Reload(#[source] reload::Error),
}

/// The running process's log filter, replaceable.
pub struct LogControl {
    handle: reload::Handle<EnvFilter, Registry>,
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
    /// The directive does not parse (the filter in force stays), or the subscriber is gone.
    pub fn set_level(&self, directive: &str) -> Result<(), LogError> {
        let filter = parse(directive)?;
        // Under the lock, so that two changes at once leave the filter and its text agreeing.
        let mut current = self.directive.lock().unwrap_or_else(PoisonError::into_inner);
        self.handle.reload(filter).map_err(LogError::Reload)?;
        directive.clone_into(&mut current);
        Ok(())
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
    let (filter, handle) = reload::Layer::new(parse(directive)?);
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
        .with(filter)
        .with(text)
        .with(json)
        .try_init()
        .map_err(|_| LogError::NotInstalled)?;
    let directive = Mutex::new(directive.to_owned());
    Ok(INSTALLED.get_or_init(|| LogControl { handle, directive }))
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

    #[test]
    fn formats_parse() {
        assert_eq!("json".parse::<LogFormat>(), Ok(LogFormat::Json));
        assert_eq!("text".parse::<LogFormat>(), Ok(LogFormat::Text));
        assert!("xml".parse::<LogFormat>().is_err());
    }
}
