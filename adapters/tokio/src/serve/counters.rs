//! [`ServeCounters`]: what a server built on [`serve`](super::serve) has
//! done, read while it runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
struct Inner {
    accepted: AtomicU64,
    open: AtomicU64,
    requests: AtomicU64,
    answered: AtomicU64,
    malformed: AtomicU64,
    dropped: AtomicU64,
    held: AtomicU64,
}

/// Live counters of [`serve`](super::serve): connections and requests. A
/// cheap handle: clones share the counts. Give one to
/// [`ServeOptions::with_counters`](super::ServeOptions::with_counters)
/// and keep a clone to read them.
#[derive(Debug, Clone, Default)]
pub struct ServeCounters(Arc<Inner>);

impl ServeCounters {
    /// Connections accepted since the start.
    pub fn connections_accepted(&self) -> u64 {
        self.0.accepted.load(Ordering::Relaxed)
    }

    /// Connections open now.
    pub fn connections_open(&self) -> u64 {
        self.0.open.load(Ordering::Relaxed)
    }

    /// Requests decoded since the start, valid or not.
    pub fn requests(&self) -> u64 {
        self.0.requests.load(Ordering::Relaxed)
    }

    /// Answers queued for writing since the start.
    pub fn answered(&self) -> u64 {
        self.0.answered.load(Ordering::Relaxed)
    }

    /// Connections closed on a malformed message.
    pub fn malformed(&self) -> u64 {
        self.0.malformed.load(Ordering::Relaxed)
    }

    /// Connections dropped by the server: a client that read none of its
    /// answers for the write timeout, or connections still open when a
    /// graceful stop ran out of time.
    pub fn dropped(&self) -> u64 {
        self.0.dropped.load(Ordering::Relaxed)
    }

    /// Bytes the connections hold now, all together: input read and not
    /// yet decoded, bodies of requests whose handlers run, answers not yet
    /// written. What each connection holds is bounded (see
    /// [`ServeOptions`](super::ServeOptions)).
    pub fn buffered_bytes(&self) -> u64 {
        self.0.held.load(Ordering::Relaxed)
    }

    /// A connection's held bytes changed from `before` to `now`.
    pub(super) fn held(&self, before: usize, now: usize) {
        if now > before {
            self.0
                .held
                .fetch_add((now - before) as u64, Ordering::Relaxed);
        } else if before > now {
            self.0
                .held
                .fetch_sub((before - now) as u64, Ordering::Relaxed);
        }
    }

    /// A connection accepted: counted open until the guard is dropped.
    pub(super) fn accepted(&self) -> OpenGuard {
        self.0.accepted.fetch_add(1, Ordering::Relaxed);
        self.0.open.fetch_add(1, Ordering::Relaxed);
        OpenGuard(self.clone())
    }

    pub(super) fn request(&self) {
        self.0.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn answer(&self) {
        self.0.answered.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn malformed_close(&self) {
        self.0.malformed.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn drop_connection(&self) {
        self.0.dropped.fetch_add(1, Ordering::Relaxed);
    }
}

/// Counts one connection open while it lives, however its task ends.
#[derive(Debug)]
pub(super) struct OpenGuard(ServeCounters);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}
