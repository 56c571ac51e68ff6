//! What client handles send to a connection's driver task.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kairoi_proto::{Instruction, RequestError};
use smol::channel::Sender;

/// A request body.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    Typed(Instruction),
    Raw(Vec<String>),
}

/// The way back to one request's caller (a channel of capacity 1, used
/// once). It also counts the request in its connection's load until it is
/// answered or dropped: queued, written, or waiting for the cause of the
/// connection's end.
#[derive(Debug)]
pub(crate) struct Reply {
    tx: Sender<Result<(), RequestError>>,
    load: Load,
}

impl Reply {
    pub(crate) fn new(tx: Sender<Result<(), RequestError>>, load: &Arc<AtomicUsize>) -> Self {
        Reply {
            tx,
            load: Load::new(load),
        }
    }

    /// Whether the caller stopped waiting.
    pub(crate) fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Answers the caller. The request leaves the load first, so a caller
    /// that has its answer never still counts it in `in_flight`.
    pub(crate) fn send(self, result: Result<(), RequestError>) {
        drop(self.load);
        let _ = self.tx.try_send(result);
    }
}

#[derive(Debug)]
struct Load(Arc<AtomicUsize>);

impl Load {
    fn new(counter: &Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Load(counter.clone())
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One request on its way to the driver.
#[derive(Debug)]
pub(crate) struct Job {
    /// Names the request for [`Command::Cancel`].
    pub ticket: u64,
    pub body: Body,
    /// When the request times out, queue time included.
    pub deadline: Instant,
    pub queued_at: Instant,
    pub reply: Reply,
    pub span: tracing::Span,
}

#[derive(Debug)]
pub(crate) enum Command {
    Send(Box<Job>),
    /// The caller stopped waiting for this ticket.
    Cancel(u64),
    /// Finish the requests already submitted, then close; abort at the deadline.
    Close {
        deadline: Instant,
    },
}

/// `now + after`, or an instant about a century away when that overflows,
/// so that any [`Duration`] the caller gives (even `Duration::MAX`) means
/// "practically never" instead of a panic.
pub(crate) fn instant_after(now: Instant, after: Duration) -> Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);
    now.checked_add(after)
        .or_else(|| now.checked_add(CENTURY))
        .unwrap_or(now)
}
