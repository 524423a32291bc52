//! The rules of body transforms (since 1.5): what `transform_add`, `transform_write`,
//! `transform_end` and `transform_resume` accept, and how a transform's chunk answer and its
//! output buffer decide what happens next. Every host runs transforms through these, the SDK's
//! test host included.

use super::{Checked, REFUSED, check};
use crate::{
    HY_BODY_REQUEST, HY_BODY_RESPONSE, HY_HOOK_CONTINUE, HY_HOOK_ERROR, HY_HOOK_PENDING,
    HY_TRANSFORM_INSPECT, HY_TRANSFORM_LENGTH_PRESERVING, HY_TRANSFORM_REWRITE, hy_body,
    hy_hook_result, hy_transform_kind,
};

/// Which body of a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Body {
    /// The client's request body.
    Request,
    /// The origin's response body.
    Response,
}

/// What a transform may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Read-only.
    Inspect,
    /// Changes bytes in place.
    LengthPreserving,
    /// Writes any output.
    Rewrite,
}

impl Kind {
    /// Whether the body keeps its `Content-Length` through a transform of this kind.
    pub fn keeps_length(self) -> bool {
        self != Kind::Rewrite
    }
}

/// `transform_add`'s body and kind; `started` says whether that body has started already
/// (its head went: the host's to tell).
///
/// # Errors
///
/// `HY_ERROR` for a value that names no body or kind, or a body that started.
pub fn transform_add(
    body: hy_body,
    kind: hy_transform_kind,
    started: bool,
) -> Checked<(Body, Kind)> {
    let body = match body {
        HY_BODY_REQUEST => Body::Request,
        HY_BODY_RESPONSE => Body::Response,
        _ => return Err(REFUSED),
    };
    let kind = match kind {
        HY_TRANSFORM_INSPECT => Kind::Inspect,
        HY_TRANSFORM_LENGTH_PRESERVING => Kind::LengthPreserving,
        HY_TRANSFORM_REWRITE => Kind::Rewrite,
        _ => return Err(REFUSED),
    };
    check(!started)?;
    Ok((body, kind))
}

/// `transform_write` of `len` bytes to a transform of `kind` whose output has `ended` or not and
/// holds `queued` bytes not taken yet, under `limit`.
///
/// # Errors
///
/// `HY_ERROR` for a transform that is not a rewrite, whose output ended, or whose queue would
/// pass `limit` ([`Write::Overflow`] tells the host the transaction fails).
pub fn transform_write(
    kind: Kind,
    ended: bool,
    queued: usize,
    len: usize,
    limit: usize,
) -> Result<(), Write> {
    if kind != Kind::Rewrite || ended {
        return Err(Write::Refused);
    }
    if queued.saturating_add(len) > limit {
        return Err(Write::Overflow);
    }
    Ok(())
}

/// Why a `transform_write` is refused (`HY_ERROR` either way).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Write {
    /// Not a rewrite transform, or its output ended: nothing else happens.
    Refused,
    /// Past the buffer limit: the transaction fails.
    Overflow,
}

/// `transform_end` on a transform of `kind` whose output has `ended` or not.
///
/// # Errors
///
/// `HY_ERROR` for a transform that is not a rewrite, or whose output ended already.
pub fn transform_end(kind: Kind, ended: bool) -> Checked<()> {
    check(kind == Kind::Rewrite && !ended)
}

/// What a transform's answer to a chunk means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Done with the chunk.
    Continue,
    /// The chunk is held until `transform_resume`.
    Pending,
    /// The transform failed.
    Error,
}

/// A chunk handler's answer; an unknown value is an error (as for hooks).
pub fn chunk_answer(answer: i32) -> Answer {
    match answer {
        HY_HOOK_CONTINUE => Answer::Continue,
        HY_HOOK_PENDING => Answer::Pending,
        _ => Answer::Error,
    }
}

/// `transform_resume`'s result, when a chunk is `pending` or not.
///
/// # Errors
///
/// `HY_ERROR` for anything but `HY_HOOK_CONTINUE` and `HY_HOOK_ERROR`, or when no chunk is
/// pending.
pub fn transform_resume(result: hy_hook_result, pending: bool) -> Checked<Answer> {
    check(pending)?;
    match result {
        HY_HOOK_CONTINUE => Ok(Answer::Continue),
        HY_HOOK_ERROR => Ok(Answer::Error),
        _ => Err(REFUSED),
    }
}

/// Whether a transform of `plugin_enabled` (the transaction's and session's say on its plugin)
/// and `priority` runs, under `threshold` (the one for every hook in force).
pub fn transform_runs(plugin_enabled: bool, priority: i32, threshold: Option<i32>) -> bool {
    plugin_enabled && threshold.is_none_or(|t| priority >= t)
}

/// Parses a byte size as the `transforms.buffer_limit` setting writes it: a number with an
/// optional unit `B`, `KiB`, `MiB`, `GiB` (or `K`, `M`, `G`, the same binary units).
///
/// # Errors
///
/// A message saying what is wrong.
pub fn byte_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: usize =
        number.parse().map_err(|_| format!("`{text}` is not a size (e.g. 64KiB, 1MiB)"))?;
    let scale: usize = match unit.trim() {
        "" | "B" => 1,
        "K" | "KiB" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        other => return Err(format!("unknown size unit `{other}` (B, KiB, MiB, GiB)")),
    };
    number.checked_mul(scale).ok_or_else(|| format!("`{text}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HY_ERROR;

    #[test]
    fn transform_add_checks_body_kind_and_start() {
        assert_eq!(
            transform_add(HY_BODY_RESPONSE, HY_TRANSFORM_REWRITE, false),
            Ok((Body::Response, Kind::Rewrite))
        );
        assert_eq!(transform_add(2, HY_TRANSFORM_INSPECT, false), Err(HY_ERROR));
        assert_eq!(transform_add(HY_BODY_REQUEST, 3, false), Err(HY_ERROR));
        assert_eq!(transform_add(HY_BODY_REQUEST, HY_TRANSFORM_INSPECT, true), Err(HY_ERROR));
    }

    #[test]
    fn writes_are_for_open_rewrites_within_the_limit() {
        assert_eq!(transform_write(Kind::Rewrite, false, 10, 6, 16), Ok(()));
        assert_eq!(transform_write(Kind::Rewrite, false, 10, 7, 16), Err(Write::Overflow));
        assert_eq!(transform_write(Kind::Rewrite, true, 0, 1, 16), Err(Write::Refused));
        assert_eq!(transform_write(Kind::Inspect, false, 0, 1, 16), Err(Write::Refused));
        assert_eq!(transform_end(Kind::Rewrite, false), Ok(()));
        assert_eq!(transform_end(Kind::Rewrite, true), Err(HY_ERROR));
        assert_eq!(transform_end(Kind::LengthPreserving, false), Err(HY_ERROR));
    }

    #[test]
    fn answers_and_resumes() {
        assert_eq!(chunk_answer(HY_HOOK_CONTINUE), Answer::Continue);
        assert_eq!(chunk_answer(HY_HOOK_PENDING), Answer::Pending);
        assert_eq!(chunk_answer(HY_HOOK_ERROR), Answer::Error);
        assert_eq!(chunk_answer(7), Answer::Error);
        assert_eq!(transform_resume(HY_HOOK_CONTINUE, true), Ok(Answer::Continue));
        assert_eq!(transform_resume(HY_HOOK_ERROR, true), Ok(Answer::Error));
        assert_eq!(transform_resume(HY_HOOK_PENDING, true), Err(HY_ERROR));
        assert_eq!(transform_resume(HY_HOOK_CONTINUE, false), Err(HY_ERROR));
    }

    #[test]
    fn switches_and_thresholds() {
        assert!(transform_runs(true, 0, None));
        assert!(transform_runs(true, 5, Some(5)));
        assert!(!transform_runs(true, 4, Some(5)));
        assert!(!transform_runs(false, 9, None));
    }

    #[test]
    fn sizes() {
        assert_eq!(byte_size("1MiB"), Ok(1 << 20));
        assert_eq!(byte_size("64 KiB"), Ok(64 << 10));
        assert_eq!(byte_size("100"), Ok(100));
        assert_eq!(byte_size("2G"), Ok(2 << 30));
        assert!(byte_size("1TB").is_err());
        assert!(byte_size("MiB").is_err());
        assert!(byte_size("99999999999999999999G").is_err());
    }
}
