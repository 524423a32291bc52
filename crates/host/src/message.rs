//! Operator messages to plugins (`hookyard ctl plugin msg`; ATS's `TSLifecycleMsg`): delivered
//! on `LIFECYCLE_MSG` to the global callbacks of one plugin or all, with the answers they give
//! through `msg_reply`.

use std::ffi::c_void;
use std::sync::{Mutex, PoisonError};

use hookyard_abi::{HY_ERROR, HY_SUCCESS, hy_lifecycle_msg, hy_return, hy_str, rules};
use hookyard_hooks::{Dispatch, HookId, Local, Outcome, Progress};
use tracing::warn;

use crate::global::GlobalHooks;

/// Tells a lent message pointer from garbage.
const MSG_TAG: u32 = 0x6879_6d67;

/// What a message's callbacks see (`hy_lifecycle_msg *` points at `msg`, its first field) and
/// what they answer.
#[repr(C)]
pub(crate) struct MessageState {
    msg: hy_lifecycle_msg,
    tag: u32,
    /// Per plugin name, in the order they first answered.
    replies: Mutex<Vec<(String, String)>>,
}

impl MessageState {
    /// The state of a message pointer a plugin passed back.
    ///
    /// # Safety
    ///
    /// `msg` is null or the `hy_lifecycle_msg` a `LIFECYCLE_MSG` callback running now was
    /// given.
    pub(crate) unsafe fn of<'a>(msg: *const hy_lifecycle_msg) -> Option<&'a MessageState> {
        // SAFETY: per the contract `msg` is the first field of a live `MessageState`
        // (`repr(C)`), so the whole state is readable.
        let state = unsafe { msg.cast::<MessageState>().as_ref()? };
        (state.tag == MSG_TAG).then_some(state)
    }

    /// Appends `text` to `plugin`'s answer.
    pub(crate) fn reply(&self, plugin: &str, text: &[u8]) -> hy_return {
        let mut replies = self.replies.lock().unwrap_or_else(PoisonError::into_inner);
        let at = match replies.iter().position(|(p, _)| p == plugin) {
            Some(at) => at,
            None => {
                replies.push((plugin.to_owned(), String::new()));
                replies.len() - 1
            }
        };
        match rules::msg_reply(text, replies[at].1.len()) {
            Ok(text) => {
                replies[at].1.push_str(text);
                HY_SUCCESS
            }
            Err(_) => HY_ERROR,
        }
    }
}

/// What delivering a message did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delivery {
    /// The plugins whose `LIFECYCLE_MSG` callbacks ran, in the order they ran (one entry per
    /// callback).
    pub delivered: Vec<String>,
    /// What plugins answered, per plugin name.
    pub replies: Vec<(String, String)>,
}

impl GlobalHooks {
    /// The names of the plugin versions this generation was built from.
    pub fn plugin_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.members().iter().map(|m| m.name.clone()).collect();
        names.dedup();
        names
    }

    /// Runs the `LIFECYCLE_MSG` callbacks of plugin `to` (every plugin for `None`) with the
    /// message `tag` and `data`, on this thread.
    pub fn message(&self, to: Option<&str>, tag: &str, data: &[u8]) -> Delivery {
        let mut state = MessageState {
            msg: hy_lifecycle_msg {
                tag: hy_str { ptr: tag.as_ptr().cast(), len: tag.len() },
                data: data.as_ptr().cast(),
                data_len: data.len(),
            },
            tag: MSG_TAG,
            replies: Mutex::default(),
        };
        let edata: *mut c_void = std::ptr::from_mut(&mut state).cast();
        let table = self.table.load_full();
        let mut delivered = Vec::new();
        let mut dispatch = Dispatch::new(HookId::LifecycleMsg);
        let progress = dispatch.run(
            Some(&*table),
            &self.priorities,
            &mut (),
            |_: &()| Local::default(),
            |handler, hook, _: &mut ()| {
                let plugin = &handler.plugin().name;
                if to.is_some_and(|to| to != plugin) {
                    return Outcome::Continue;
                }
                delivered.push(plugin.clone());
                // An ERROR answer does not keep the message from the other plugins.
                match handler.fire_hook(hook, edata, self.slow_callback) {
                    Outcome::Pending => Outcome::Pending,
                    _ => Outcome::Continue,
                }
            },
        );
        if progress == Progress::Pending {
            warn!("a LIFECYCLE_MSG callback answered PENDING; messages do not wait");
        }
        let replies = state.replies.into_inner().unwrap_or_else(PoisonError::into_inner);
        Delivery { delivered, replies }
    }
}
