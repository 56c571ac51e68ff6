//! [`LossyUtf8`]: input decoded as the reference server decodes it.

use alloc::vec::Vec;

/// The replacement character, U+FFFD, in UTF-8.
const REPLACEMENT: &[u8] = "\u{FFFD}".as_bytes();

/// Bytes read from a transport, decoded as the reference Kairoi server
/// decodes each read: as UTF-8, every invalid sequence replaced by U+FFFD
/// (`String::from_utf8_lossy` of the read's bytes), so that a request with
/// bytes that are not UTF-8 goes on instead of failing the connection.
///
/// A sequence cut by the end of a read is kept and decoded whole with the
/// next read, and a U+FFFD is written before it all the same, as the
/// reference server does: a character that straddles two reads comes out
/// after a replacement character (`docs/protocol.md` §2 of the
/// repository). A server that wants to read what the reference server
/// reads gives [`Server::receive`](crate::Server::receive) the text of
/// each read, read by read, in reads of at most 2 KiB as the reference
/// server's; one that wants strict UTF-8 gives the bytes as they are (and
/// the core refuses an argument that is not UTF-8).
///
/// ```
/// use kairoi_proto::LossyUtf8;
///
/// let mut input = LossyUtf8::default();
/// assert_eq!(input.decode(b"0 SET job\xff x"), "0 SET job\u{FFFD} x".as_bytes());
/// // "é" cut between two reads.
/// assert_eq!(input.decode(b" \xc3"), " \u{FFFD}".as_bytes());
/// assert_eq!(input.decode(b"\xa9\n"), "é\n".as_bytes());
/// ```
#[derive(Debug, Default, Clone)]
pub struct LossyUtf8 {
    /// The start of a sequence the last read ended in.
    tail: Vec<u8>,
    /// The text of the last read, when it differs from its bytes.
    text: Vec<u8>,
}

impl LossyUtf8 {
    /// The text of one read's `bytes`, after what the last read left
    /// unfinished: `bytes` themselves (no copy) when they are UTF-8 and
    /// nothing was left.
    pub fn decode<'a>(&'a mut self, bytes: &'a [u8]) -> &'a [u8] {
        if self.tail.is_empty() && core::str::from_utf8(bytes).is_ok() {
            return bytes;
        }
        self.text.clear();
        let mut input = core::mem::take(&mut self.tail);
        input.extend_from_slice(bytes);
        let mut chunks = input.utf8_chunks().peekable();
        while let Some(chunk) = chunks.next() {
            self.text.extend_from_slice(chunk.valid().as_bytes());
            let invalid = chunk.invalid();
            if invalid.is_empty() {
                continue;
            }
            // The last chunk's invalid bytes may be a sequence the next
            // read completes: kept when they can still be one (and
            // replaced all the same, as the reference server does).
            if chunks.peek().is_none() && could_continue(invalid) {
                self.tail.extend_from_slice(invalid);
            }
            self.text.extend_from_slice(REPLACEMENT);
        }
        &self.text
    }

    /// Bytes held from the last read: the start of a sequence it ended in.
    pub fn pending(&self) -> usize {
        self.tail.len()
    }
}

/// Whether `bytes`, invalid as they stand, are the start of a UTF-8
/// sequence that more bytes could complete.
fn could_continue(bytes: &[u8]) -> bool {
    core::str::from_utf8(bytes).is_err_and(|e| e.error_len().is_none())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(pieces: &[&[u8]]) -> Vec<u8> {
        let mut lossy = LossyUtf8::default();
        let mut out = Vec::new();
        for piece in pieces {
            out.extend_from_slice(lossy.decode(piece));
        }
        out
    }

    #[test]
    fn invalid_bytes_become_the_replacement_character() {
        assert_eq!(stream(&[b"job\xff x"]), "job\u{FFFD} x".as_bytes());
        assert_eq!(stream(&[b"\xc3\x28"]), "\u{FFFD}(".as_bytes());
        assert_eq!(stream(&[b"ok"]), b"ok");
    }

    #[test]
    fn a_sequence_cut_between_reads_gains_a_replacement_character_before_it() {
        let e = "é".as_bytes();
        assert_eq!(
            stream(&[b"a", &e[..1], &e[1..], b"b"]),
            "a\u{FFFD}éb".as_bytes()
        );
        let emoji = "🦀".as_bytes();
        assert_eq!(
            stream(&[&emoji[..1], &emoji[1..2], &emoji[2..3], &emoji[3..]]),
            "\u{FFFD}\u{FFFD}\u{FFFD}🦀".as_bytes()
        );
        // Cut, then followed by what cannot continue it.
        assert_eq!(stream(&[&e[..1], b"x"]), "\u{FFFD}\u{FFFD}x".as_bytes());
        // Whole in one read: no replacement.
        assert_eq!(stream(&[b"a\xc3\xa9b"]), "aéb".as_bytes());
        let mut held = LossyUtf8::default();
        let _ = held.decode(&emoji[..2]);
        assert_eq!(held.pending(), 2);
    }
}
