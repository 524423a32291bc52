//! The ABI version and the descriptor's magic number.

use crate::layout::define_constants;

define_constants! {
    CONSTANTS;
    /// The ABI major: changes only when an existing item changes. A plugin built for another
    /// major is refused.
    HY_ABI_MAJOR: u16 = 1;
    /// The ABI minor: grows when items are added. A plugin built for a newer minor than the
    /// host's is refused.
    HY_ABI_MINOR: u16 = 6;
    /// `(major << 16) | minor`, the value of [`hy_api::version`](crate::hy_api::version).
    HY_ABI_VERSION: u32 = ((HY_ABI_MAJOR as u32) << 16) | HY_ABI_MINOR as u32;
    /// The first field of every descriptor: `"HYPL"` read as a little-endian `u32`.
    HY_PLUGIN_MAGIC: u32 = u32::from_le_bytes(*b"HYPL");
}
