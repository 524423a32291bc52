//! The errors of reserving and addressing user arg slots.

use std::ffi::NulError;

use crate::Kind;

/// Why a slot could not be reserved or addressed, or a registry could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Every slot of the kind is reserved under another name.
    #[error("all {capacity} {kind} user arg slots are reserved; none is left for `{name}`")]
    Full {
        /// The kind that is full.
        kind: Kind,
        /// Its capacity.
        capacity: usize,
        /// The name that was refused.
        name: String,
    },
    /// A name or description holds a NUL byte, so C plugins could not read it back.
    #[error("the {field} of user arg `{}` contains a nul byte", name.escape_debug())]
    Nul {
        /// `"name"` or `"description"`.
        field: &'static str,
        /// The name as given.
        name: String,
        /// Where the NUL byte is.
        #[source]
        source: NulError,
    },
    /// A C kind value is not one of the four kinds.
    #[error("user arg kind {value} is not 0 to 3")]
    InvalidKind {
        /// The value as the C side gave it.
        value: i32,
    },
    /// A raw index lies in no kind's range (1000–4999).
    #[error("user arg index {index} belongs to no kind")]
    InvalidIndex {
        /// The raw index.
        index: i32,
    },
    /// A raw index belongs to another kind than the object it is used on.
    #[error("user arg index {index} is a {actual} index, used where a {expected} index is needed")]
    WrongKind {
        /// The raw index.
        index: i32,
        /// The kind the caller addressed.
        expected: Kind,
        /// The kind whose range holds the index.
        actual: Kind,
    },
    /// A raw index is in its kind's range but no slot is reserved there.
    #[error("no {kind} user arg slot is reserved at index {index}")]
    NotReserved {
        /// The kind.
        kind: Kind,
        /// The raw index.
        index: i32,
    },
    /// A typed index lies beyond this registry's table: it came from another registry.
    #[error("{kind} user arg index {index} lies beyond this table of {capacity} slots")]
    ForeignIndex {
        /// The kind.
        kind: Kind,
        /// The raw index.
        index: i32,
        /// The table's capacity.
        capacity: usize,
    },
    /// A capacity exceeds what the raw index encoding can address.
    #[error("{kind} user arg capacity {requested} exceeds the maximum of {max}")]
    Capacity {
        /// The kind.
        kind: Kind,
        /// The capacity asked for.
        requested: usize,
        /// The largest capacity allowed, [`MAX_CAPACITY`](crate::MAX_CAPACITY).
        max: usize,
    },
}

#[cfg(test)]
mod tests {
    use std::ffi::CString;

    use super::Error;
    use crate::Kind;

    #[test]
    fn messages_name_the_kind_and_the_index() {
        let cases = [
            (
                Error::Full { kind: Kind::Session, capacity: 8, name: "x".into() },
                "all 8 session user arg slots are reserved; none is left for `x`",
            ),
            (
                Error::WrongKind {
                    index: 2000,
                    expected: Kind::Transaction,
                    actual: Kind::Session,
                },
                "user arg index 2000 is a session index, used where a transaction index is needed",
            ),
            (
                Error::NotReserved { kind: Kind::Global, index: 4005 },
                "no global user arg slot is reserved at index 4005",
            ),
            (Error::InvalidIndex { index: 999 }, "user arg index 999 belongs to no kind"),
        ];
        for (err, message) in cases {
            assert_eq!(err.to_string(), message);
        }
    }

    #[test]
    fn nul_error_escapes_the_name_and_keeps_the_cause() {
        let source = CString::new("a\0b").err();
        let err = source.map(|source| Error::Nul { field: "name", name: "a\0b".into(), source });
        let err = err.map(|e| (e.to_string(), std::error::Error::source(&e).is_some()));
        assert_eq!(
            err,
            Some(("the name of user arg `a\\0b` contains a nul byte".to_owned(), true))
        );
    }
}
