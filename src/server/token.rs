//! [`Token`]: the right to answer one request.

use core::fmt;
use core::hash::{Hash, Hasher};
use core::ops::Range;

use crate::text::Text;
use crate::text::borrowed::TextRef;

/// The right to answer one request, taken by
/// [`Server::respond`](crate::Server::respond). It is not `Clone`, so a
/// request is answered at most once.
///
/// It owns the request's identifier: up to [`Token::INLINE`] bytes are
/// kept inline (no allocation, no reference count), longer ones in a
/// [`Text`].
pub struct Token {
    identifier: Identifier,
}

enum Identifier {
    Inline { len: u8, bytes: [u8; Token::INLINE] },
    Shared(Text),
}

impl Token {
    /// The longest identifier kept inline (the token is then as small as a
    /// [`Text`]); every identifier that [`Client`](crate::Client) chooses
    /// fits.
    pub const INLINE: usize = 23;

    /// A token for the identifier `frame[id]`, which is UTF-8.
    #[inline]
    pub(crate) fn from_frame(frame: &[u8], id: Range<usize>) -> Self {
        // Copying a fixed-size window is cheaper than a copy of the exact
        // length; only the first `len` bytes are ever read.
        let window = frame
            .get(id.start..)
            .and_then(|w| w.first_chunk::<{ Token::INLINE }>());
        match (window, u8::try_from(id.len())) {
            (Some(bytes), Ok(len)) if id.len() <= Token::INLINE => Token {
                identifier: Identifier::Inline { len, bytes: *bytes },
            },
            _ => Token::copied(frame.get(id).unwrap_or_default()),
        }
    }

    /// A token for a short identifier, or a copy of a longer one.
    #[inline]
    pub(crate) fn copied(identifier: &[u8]) -> Self {
        match u8::try_from(identifier.len()) {
            Ok(len) if identifier.len() <= Token::INLINE => {
                let mut bytes = [0; Token::INLINE];
                bytes[..identifier.len()].copy_from_slice(identifier);
                Token {
                    identifier: Identifier::Inline { len, bytes },
                }
            }
            _ => Token::shared(TextRef::from_checked(identifier).to_text()),
        }
    }

    /// A token for a long identifier held in a [`Text`].
    pub(crate) fn shared(identifier: Text) -> Self {
        Token {
            identifier: Identifier::Shared(identifier),
        }
    }

    /// The identifier the client chose for the request.
    pub fn identifier(&self) -> TextRef<'_> {
        match &self.identifier {
            Identifier::Inline { len, bytes } => {
                TextRef::from_checked(bytes.get(..usize::from(*len)).unwrap_or_default())
            }
            Identifier::Shared(text) => text.into(),
        }
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("identifier", &self.identifier())
            .finish()
    }
}

impl PartialEq for Token {
    fn eq(&self, other: &Self) -> bool {
        self.identifier() == other.identifier()
    }
}

impl Eq for Token {}

impl Hash for Token {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.identifier().hash(state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;

    #[test]
    fn short_and_long_identifiers_read_back_the_same() {
        for len in [
            0,
            1,
            Token::INLINE - 1,
            Token::INLINE,
            Token::INLINE + 1,
            300,
        ] {
            let id: String = "é".repeat(len / 2) + &"x".repeat(len % 2);
            let token = Token::copied(id.as_bytes());
            assert_eq!(token.identifier(), id.as_str());
            assert_eq!(token, Token::shared(Text::from(id.as_str())));
            let inline = matches!(token.identifier, Identifier::Inline { .. });
            assert_eq!(inline, id.len() <= Token::INLINE, "{len}");
            // From a frame, with bytes after the identifier or without.
            let frame = id.clone() + " SET a \"2030-01-01 00:00:00\"";
            for frame in [&frame[..], &id[..]] {
                let token = Token::from_frame(frame.as_bytes(), 0..id.len());
                assert_eq!(token.identifier(), id.as_str());
                assert_eq!(token, Token::copied(id.as_bytes()));
            }
        }
    }
}
