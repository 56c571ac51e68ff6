//! [`TextRef`]: a UTF-8 string borrowed from a receive buffer.

use core::fmt;

use crate::text::Text;

/// A UTF-8 string borrowed from the receive buffer: the borrowed
/// counterpart of [`Text`], in the requests of
/// [`Server::poll_event_ref`](crate::Server::poll_event_ref).
///
/// The decoder has checked that the bytes are UTF-8. Reading them costs
/// nothing with [`TextRef::as_bytes`]; [`TextRef::as_str`] checks them
/// again (the crate forbids `unsafe`), which is linear in the length.
/// [`TextRef::to_text`] copies them into an owned [`Text`].
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TextRef<'a>(&'a [u8]);

impl<'a> TextRef<'a> {
    /// Wraps bytes already known to be UTF-8 (checked in debug builds).
    #[inline]
    pub(crate) fn from_checked(bytes: &'a [u8]) -> Self {
        debug_assert!(core::str::from_utf8(bytes).is_ok());
        TextRef(bytes)
    }

    /// Borrows a string.
    pub const fn new(s: &'a str) -> Self {
        TextRef(s.as_bytes())
    }

    /// The UTF-8 bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }

    /// The text as a string slice (see the type's documentation for the
    /// cost).
    pub fn as_str(&self) -> &'a str {
        // Every constructor has UTF-8 bytes, so this cannot fail; the
        // fallback only exists so that no code path can panic.
        core::str::from_utf8(self.0).unwrap_or_default()
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the text is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// An owned copy.
    pub fn to_text(&self) -> Text {
        Text::from(self.as_str())
    }
}

impl fmt::Debug for TextRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for TextRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'a> From<&'a str> for TextRef<'a> {
    fn from(s: &'a str) -> Self {
        TextRef(s.as_bytes())
    }
}

impl<'a> From<&'a Text> for TextRef<'a> {
    fn from(t: &'a Text) -> Self {
        TextRef(t.as_bytes())
    }
}

impl From<TextRef<'_>> for Text {
    fn from(t: TextRef<'_>) -> Self {
        t.to_text()
    }
}

impl AsRef<[u8]> for TextRef<'_> {
    fn as_ref(&self) -> &[u8] {
        self.0
    }
}

impl PartialEq<str> for TextRef<'_> {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<&str> for TextRef<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<Text> for TextRef<'_> {
    fn eq(&self, other: &Text) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<TextRef<'_>> for Text {
    fn eq(&self, other: &TextRef<'_>) -> bool {
        self.as_bytes() == other.0
    }
}

impl PartialEq<TextRef<'_>> for str {
    fn eq(&self, other: &TextRef<'_>) -> bool {
        self.as_bytes() == other.0
    }
}

impl PartialEq<TextRef<'_>> for &str {
    fn eq(&self, other: &TextRef<'_>) -> bool {
        self.as_bytes() == other.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_and_converts_like_the_owned_text() {
        let owned = Text::from("tâche 7");
        let borrowed = TextRef::from(&owned);
        assert_eq!(borrowed, "tâche 7");
        assert_eq!("tâche 7", borrowed);
        assert_eq!(borrowed, owned);
        assert_eq!(owned, borrowed);
        assert_eq!(borrowed.to_text(), owned);
        assert_eq!(borrowed.as_str(), "tâche 7");
        assert_eq!(borrowed.len(), 8);
        assert_eq!(
            alloc::format!("{borrowed} {borrowed:?}"),
            "tâche 7 \"tâche 7\""
        );
        assert!(TextRef::default().is_empty());
    }
}
