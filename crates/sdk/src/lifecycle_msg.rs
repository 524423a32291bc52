//! Operator messages (since ABI 1.4; ATS's `TSLifecycleMsg`): what `hookyard ctl plugin msg
//! NAME TAG [DATA]` delivers on `LIFECYCLE_MSG`, as [`Event::Msg`](crate::Event::Msg).

use std::ptr::NonNull;

use hookyard_abi::{hy_api, hy_lifecycle_msg};

use crate::error::Error;
use crate::host::checked;

/// An operator's message, lent for the callback.
#[derive(Debug)]
pub struct LifecycleMsg<'a> {
    raw: NonNull<hy_lifecycle_msg>,
    api: &'static hy_api,
    _lent: std::marker::PhantomData<&'a hy_lifecycle_msg>,
}

impl LifecycleMsg<'_> {
    /// The message the host lends a `LIFECYCLE_MSG` callback.
    ///
    /// # Safety
    ///
    /// `raw` is null or the host's message, valid for the callback.
    pub(crate) unsafe fn from_raw(
        raw: *const hy_lifecycle_msg,
        api: &'static hy_api,
    ) -> Option<LifecycleMsg<'static>> {
        let raw = NonNull::new(raw.cast_mut())?;
        Some(LifecycleMsg { raw, api, _lent: std::marker::PhantomData })
    }

    fn msg(&self) -> &hy_lifecycle_msg {
        // SAFETY: the host's message, valid while `self` is (`from_raw`).
        unsafe { self.raw.as_ref() }
    }

    /// The message's tag (text that says what it is about); empty when not UTF-8.
    pub fn tag(&self) -> &str {
        let tag = self.msg().tag;
        if tag.ptr.is_null() {
            return "";
        }
        // SAFETY: the host's view of `len` bytes, valid for the callback.
        let bytes = unsafe { std::slice::from_raw_parts(tag.ptr.cast::<u8>(), tag.len) };
        std::str::from_utf8(bytes).unwrap_or("")
    }

    /// The message's data.
    pub fn data(&self) -> &[u8] {
        let msg = self.msg();
        if msg.data.is_null() {
            return &[];
        }
        // SAFETY: the host's data of `data_len` bytes, valid for the callback.
        unsafe { std::slice::from_raw_parts(msg.data.cast::<u8>(), msg.data_len) }
    }

    /// Answers the operator: `hookyard ctl plugin msg` prints `text` under the plugin's name
    /// (several calls append).
    ///
    /// # Errors
    ///
    /// The host refused (more than 64 KiB in all).
    pub fn reply(&self, text: &str) -> Result<(), Error> {
        // SAFETY: the message lent for this callback, and `text` readable for its length.
        let result = unsafe {
            (self.api.msg_reply)(
                self.api.plugin,
                self.raw.as_ptr(),
                text.as_ptr().cast(),
                text.len(),
            )
        };
        checked(result, "msg_reply")
    }
}
