//! [`Text`]: an immutable, cheaply cloneable UTF-8 string backed by [`Bytes`].

use alloc::string::String;
use alloc::vec::Vec;
use bytes::Bytes;

pub(crate) mod borrowed;

pub use borrowed::TextRef;
use core::fmt;
use core::str::Utf8Error;

/// An immutable UTF-8 string backed by [`Bytes`].
///
/// Arguments decoded from the wire are `Text` values that share the receive
/// buffer, so decoding them costs no copy. Cloning is a reference-count
/// increment. Build one from a `&'static str` with [`Text::from_static`]
/// (no copy), from a `String` (no copy) or from any `&str` (one copy).
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Text(Bytes);

impl Text {
    /// An empty text.
    pub const fn new() -> Self {
        Text(Bytes::new())
    }

    /// Wraps a static string without copying it.
    pub const fn from_static(s: &'static str) -> Self {
        Text(Bytes::from_static(s.as_bytes()))
    }

    /// Wraps `bytes` after checking that they are UTF-8.
    pub fn from_utf8(bytes: Bytes) -> Result<Self, Utf8Error> {
        core::str::from_utf8(&bytes)?;
        Ok(Text(bytes))
    }

    /// Wraps bytes already known to be UTF-8 (checked in debug builds).
    pub(crate) fn from_checked(bytes: Bytes) -> Self {
        debug_assert!(core::str::from_utf8(&bytes).is_ok());
        Text(bytes)
    }

    /// The text as a string slice.
    ///
    /// This validates the bytes again (the crate forbids `unsafe`), which is
    /// linear in the length; use [`Text::as_bytes`] on hot paths.
    pub fn as_str(&self) -> &str {
        // Every constructor checks UTF-8, so this cannot fail; the fallback
        // only exists so that no code path can panic.
        core::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The UTF-8 bytes of the text.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The shared buffer behind the text.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the text is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Text(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        Text(Bytes::from(s.into_bytes()))
    }
}

impl From<&String> for Text {
    fn from(s: &String) -> Self {
        Text::from(s.as_str())
    }
}

impl From<Text> for Bytes {
    fn from(t: Text) -> Bytes {
        t.0
    }
}

impl From<Text> for String {
    fn from(t: Text) -> String {
        String::from(t.as_str())
    }
}

impl TryFrom<Vec<u8>> for Text {
    type Error = alloc::string::FromUtf8Error;
    fn try_from(v: Vec<u8>) -> Result<Self, Self::Error> {
        String::from_utf8(v).map(Text::from)
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<[u8]> for Text {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<Text> for str {
    fn eq(&self, other: &Text) -> bool {
        other == self
    }
}

impl PartialEq<Text> for &str {
    fn eq(&self, other: &Text) -> bool {
        other == *self
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for Text {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        <&str as arbitrary::Arbitrary>::arbitrary(u).map(Text::from)
    }
}
