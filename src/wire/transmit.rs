//! The bytes a role has queued for the transport, and how much of them
//! the transport took: the bookkeeping both roles share.

use bytes::{Buf, BytesMut};

/// The bytes waiting in `tx`, or `None` when there are none.
#[inline]
pub(crate) fn pending(tx: &BytesMut) -> Option<&[u8]> {
    if tx.is_empty() { None } else { Some(tx) }
}

/// Drops the first `written` bytes of `tx` (at most all of them) and says
/// how many were dropped.
#[inline]
pub(crate) fn consume(tx: &mut BytesMut, written: usize) -> usize {
    let n = written.min(tx.len());
    tx.advance(n);
    n
}

/// Appends every byte of `tx` to `out`; returns how many. `tx` still holds
/// them: the caller consumes them as its role requires.
#[inline]
pub(crate) fn copy_all(tx: &BytesMut, out: &mut BytesMut) -> usize {
    out.extend_from_slice(tx);
    tx.len()
}
