//! What client handles send to a connection's driver task.

use std::time::{Duration, Instant};

use kairoi_proto::{Instruction, RequestError};
use tokio::sync::oneshot;

/// A request body.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    Typed(Instruction),
    Raw(Vec<String>),
}

/// The reply channel of one request.
pub(crate) type Reply = oneshot::Sender<Result<(), RequestError>>;

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

/// `now + after`, or an instant about a century away when that overflows,
/// so that any [`Duration`] the caller gives (even `Duration::MAX`) means
/// "practically never" instead of a panic.
pub(crate) fn instant_after(now: Instant, after: Duration) -> Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);
    now.checked_add(after)
        .or_else(|| now.checked_add(CENTURY))
        .unwrap_or(now)
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
