//! The KCP wire format: framing and tokenizing (decode) and quoting
//! (encode).
//!
//! A message is arguments separated by spaces and ended by a line feed.
//! An argument is a *simple* string (no space, quote or line feed) or a
//! *universal* string in double quotes, where only `\\` and `\"` are
//! escapes and a line feed is literal. These functions are the building
//! blocks of [`Client`](crate::Client) and [`Server`](crate::Server), and
//! of codecs for other I/O stacks.

mod decode;
mod encode;
mod scan;
pub(crate) mod transmit;
mod whole;

pub use decode::Decoder;
pub use encode::{
    encode_argument, encode_message, encode_message_checked, encoded_len, needs_quotes,
};
