//! A description of every item of the ABI, so other declarations of it can be checked against
//! the Rust ones.
//!
//! The items are declared through the macros of this module, which record each constant's
//! value, each structure's size, alignment and fields, and each type alias's spelling as they
//! define them: the lists are complete by construction. The crate's tests compile a C program
//! against `include/hookyard.h` that reports the same facts and fail on any difference.

/// A constant: its name and value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Constant {
    /// The C name, e.g. `HY_ABI_MAJOR`.
    pub name: &'static str,
    /// The value (every ABI constant fits in an `i64`).
    pub value: i64,
}

/// A field of a `#[repr(C)]` structure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// The field's name.
    pub name: &'static str,
    /// Its offset in bytes.
    pub offset: usize,
    /// Its size in bytes.
    pub size: usize,
    /// Its Rust type as written, e.g. `*const c_char`.
    pub ty: &'static str,
}

/// A `#[repr(C)]` structure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Struct {
    /// The C name, e.g. `hy_api`.
    pub name: &'static str,
    /// Its size in bytes.
    pub size: usize,
    /// Its alignment in bytes.
    pub align: usize,
    /// Its fields, in order.
    pub fields: &'static [Field],
}

/// A type alias: a scalar (`hy_return = i32`) or a function pointer type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Alias {
    /// The C name, e.g. `hy_return`.
    pub name: &'static str,
    /// The Rust type as written.
    pub ty: &'static str,
}

/// An exported entry point: the symbol and the alias of its function type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryPoint {
    /// The symbol, e.g. `hy_remap_init`.
    pub symbol: &'static str,
    /// The alias naming its type, e.g. `hy_remap_init_fn`.
    pub ty: &'static str,
}

/// Every constant of the ABI.
pub fn constants() -> Vec<Constant> {
    [
        crate::version::CONSTANTS,
        crate::api::CONSTANTS,
        crate::descriptor::CONSTANTS,
        crate::remap::CONSTANTS,
    ]
    .concat()
}

/// Every structure of the ABI.
pub fn structs() -> Vec<Struct> {
    vec![
        crate::hy_descriptor::LAYOUT,
        crate::hy_str::LAYOUT,
        crate::hy_lifecycle_msg::LAYOUT,
        crate::hy_chunk::LAYOUT,
        crate::hy_callback_info::LAYOUT,
        crate::hy_api::LAYOUT,
        crate::hy_remap_request_info::LAYOUT,
    ]
}

/// Every type alias of the ABI.
pub fn aliases() -> Vec<Alias> {
    [crate::api::ALIASES, crate::remap::ALIASES, crate::global::ALIASES].concat()
}

/// Every opaque handle type of the ABI.
pub fn opaque_types() -> Vec<&'static str> {
    crate::api::OPAQUE.to_vec()
}

/// Every entry point a plugin may export (the descriptor is a static, not listed here).
pub fn entry_points() -> Vec<EntryPoint> {
    [crate::remap::ENTRY_POINTS, crate::global::ENTRY_POINTS].concat()
}

/// Defines constants and records them in the `pub(crate)` list `$list`.
macro_rules! define_constants {
    ($list:ident; $( $(#[$m:meta])* $name:ident : $t:ty = $v:expr; )*) => {
        $( $(#[$m])* pub const $name: $t = $v; )*

        pub(crate) const $list: &[$crate::layout::Constant] = &[
            $( $crate::layout::Constant { name: stringify!($name), value: $name as i64 }, )*
        ];
    };
}

/// Defines a `#[repr(C)]` structure and records its layout in its `LAYOUT` constant.
macro_rules! define_struct {
    (
        $(#[$m:meta])*
        pub struct $name:ident {
            $( $(#[$fm:meta])* pub $field:ident : $t:ty, )*
        }
    ) => {
        $(#[$m])*
        #[repr(C)]
        pub struct $name {
            $( $(#[$fm])* pub $field: $t, )*
        }

        impl $name {
            pub(crate) const LAYOUT: $crate::layout::Struct = $crate::layout::Struct {
                name: stringify!($name),
                size: ::core::mem::size_of::<$name>(),
                align: ::core::mem::align_of::<$name>(),
                fields: &[
                    $(
                        $crate::layout::Field {
                            name: stringify!($field),
                            offset: ::core::mem::offset_of!($name, $field),
                            size: ::core::mem::size_of::<$t>(),
                            ty: stringify!($t),
                        },
                    )*
                ],
            };
        }
    };
}

/// Defines type aliases and records them in the `pub(crate)` list `$list`.
macro_rules! define_aliases {
    ($list:ident; $( $(#[$m:meta])* pub type $name:ident = $t:ty; )*) => {
        $( $(#[$m])* pub type $name = $t; )*

        pub(crate) const $list: &[$crate::layout::Alias] = &[
            $( $crate::layout::Alias { name: stringify!($name), ty: stringify!($t) }, )*
        ];
    };
}

/// Defines opaque handle types (never constructed in Rust, only pointed to) and records them.
macro_rules! define_opaque {
    ($list:ident; $( $(#[$m:meta])* $name:ident; )*) => {
        $(
            $(#[$m])*
            #[repr(C)]
            pub struct $name {
                _private: [u8; 0],
                _not_send_sync_unpin: ::core::marker::PhantomData<(*mut u8, ::core::marker::PhantomPinned)>,
            }
        )*

        pub(crate) const $list: &[&str] = &[ $( stringify!($name), )* ];
    };
}

/// Records entry points (symbol, type alias) in the `pub(crate)` list `$list`.
macro_rules! define_entry_points {
    ($list:ident; $( $symbol:ident : $t:ident, )*) => {
        pub(crate) const $list: &[$crate::layout::EntryPoint] = &[
            $( $crate::layout::EntryPoint { symbol: stringify!($symbol), ty: stringify!($t) }, )*
        ];
    };
}

pub(crate) use {
    define_aliases, define_constants, define_entry_points, define_opaque, define_struct,
};
