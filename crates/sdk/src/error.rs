//! The SDK's error: a message for the host.

use std::fmt;

/// A failure to report to the host: a message, which ends up in the error buffer of an init or
/// new-instance entry point, or in the log.
///
/// Any [`std::error::Error`] converts into it, so `?` works on the usual error types.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    message: String,
}

impl Error {
    /// An error with this message.
    pub fn new(message: impl fmt::Display) -> Error {
        Error { message: message.to_string() }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The error for a host function that answered `HY_ERROR`.
    pub(crate) fn host(function: &str) -> Error {
        Error::new(format_args!("the host refused `{function}`"))
    }

    /// The error for a call made before the host handed over its function table.
    pub(crate) fn no_host() -> Error {
        Error::new("the host's function table is not available (before init or after done)")
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl<E: std::error::Error> From<E> for Error {
    fn from(err: E) -> Error {
        Error::new(err)
    }
}

#[cfg(test)]
mod tests {
    use super::Error;

    #[test]
    fn errors_carry_their_message_and_convert_from_std_errors() {
        assert_eq!(Error::new("bad pparam").to_string(), "bad pparam");
        let parse: Error = "x".parse::<u16>().unwrap_err().into();
        assert_eq!(parse.message(), "invalid digit found in string");
        assert_eq!(Error::host("url_set").message(), "the host refused `url_set`");
    }
}
