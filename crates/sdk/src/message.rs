//! Which message and which URL of a transaction a call works on.

use hookyard_abi as abi;

/// An HTTP message of a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Msg {
    /// The client's request (rewritten by remap). From `READ_REQUEST_HDR` on.
    ClientRequest,
    /// The request sent to the origin. From `SEND_REQUEST_HDR` on.
    OriginRequest,
    /// The origin's response. From `READ_RESPONSE_HDR` on.
    OriginResponse,
    /// The response sent to the client. From `SEND_RESPONSE_HDR` on, or after
    /// [`Txn::respond`](crate::Txn::respond).
    ClientResponse,
}

impl Msg {
    /// The C value (`HY_MSG_*`).
    pub const fn raw(self) -> abi::hy_msg {
        match self {
            Msg::ClientRequest => abi::HY_MSG_CLIENT_REQUEST,
            Msg::OriginRequest => abi::HY_MSG_ORIGIN_REQUEST,
            Msg::OriginResponse => abi::HY_MSG_ORIGIN_RESPONSE,
            Msg::ClientResponse => abi::HY_MSG_CLIENT_RESPONSE,
        }
    }
}

/// A URL of a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Url {
    /// The client request's URL; read-write. In `do_remap`, changing it changes where the
    /// request goes.
    Request,
    /// The client request's URL as received, before any remap; read-only.
    Pristine,
    /// The matched rule's from URL; read-only.
    RemapFrom,
    /// The matched rule's to URL; read-only.
    RemapTo,
}

impl Url {
    /// The C value (`HY_URL_*`).
    pub const fn raw(self) -> abi::hy_url {
        match self {
            Url::Request => abi::HY_URL_REQUEST,
            Url::Pristine => abi::HY_URL_PRISTINE,
            Url::RemapFrom => abi::HY_URL_REMAP_FROM,
            Url::RemapTo => abi::HY_URL_REMAP_TO,
        }
    }
}

/// A part of a URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UrlPart {
    /// `http` or `https`.
    Scheme,
    /// The host name, without port.
    Host,
    /// The explicit port in decimal, empty when there is none.
    Port,
    /// The path, with its leading `/`.
    Path,
    /// The query, without the `?`; empty when there is none.
    Query,
}

impl UrlPart {
    /// The C value (`HY_URL_PART_*`).
    pub const fn raw(self) -> abi::hy_url_part {
        match self {
            UrlPart::Scheme => abi::HY_URL_PART_SCHEME,
            UrlPart::Host => abi::HY_URL_PART_HOST,
            UrlPart::Port => abi::HY_URL_PART_PORT,
            UrlPart::Path => abi::HY_URL_PART_PATH,
            UrlPart::Query => abi::HY_URL_PART_QUERY,
        }
    }
}
