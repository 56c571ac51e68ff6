//! [`RequestError`]: what happened to a request that did not succeed, as the
//! adapters report it.

use std::io;
use std::sync::Arc;

use crate::client::Outcome;
use crate::error::{ConnectionError, SendError};

/// Why a connection could not carry a request.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Cause {
    /// The protocol state machine closed the connection.
    #[error(transparent)]
    Connection(ConnectionError),
    /// The transport failed (connect, read or write).
    #[error("{0}")]
    Io(Arc<io::Error>),
    /// The client was closed.
    #[error("client closed")]
    Closed,
}

impl From<io::Error> for Cause {
    fn from(e: io::Error) -> Self {
        Cause::Io(Arc::new(e))
    }
}

/// What happened to a request that did not end with `OK`, shared by every
/// adapter (`kairoi-std`, `kairoi-tokio`, `kairoi-smol`).
///
/// | variant | the server... | safe to retry? |
/// | --- | --- | --- |
/// | [`Rejected`](RequestError::Rejected) | answered `ERROR` | after fixing the cause |
/// | [`TimedOut`](RequestError::TimedOut) | did not answer in time; may apply it | `SET` is idempotent, but a job that already ran is scheduled again |
/// | [`NotSent`](RequestError::NotSent) | never saw it | yes |
/// | [`Unknown`](RequestError::Unknown) | may or may not have applied it | as for `TimedOut` |
/// | [`Invalid`](RequestError::Invalid) | never saw it: the request breaks a limit | after fixing it |
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The server answered `ERROR`: an invalid body, or a job that is
    /// running right now.
    #[error("rejected by the server")]
    Rejected,
    /// No response before the request timeout.
    #[error("no response before the request timeout")]
    TimedOut,
    /// The request never left: the server did not see it.
    #[error("not sent: {cause}")]
    NotSent {
        /// Why.
        cause: Cause,
    },
    /// The request was written, then the connection ended before the
    /// response.
    #[error("outcome unknown, the request was written but {cause}")]
    Unknown {
        /// Why.
        cause: Cause,
    },
    /// The request itself is invalid (empty body, too long, too many
    /// arguments); nothing was sent.
    #[error("invalid request: {0}")]
    Invalid(SendError),
}

impl RequestError {
    /// The error for a request that ended with `outcome`, or `None` for
    /// [`Outcome::Ok`]. `cause` says why the connection ended, for
    /// [`Outcome::NotSent`] and [`Outcome::Unknown`].
    pub fn from_outcome(outcome: Outcome, cause: impl FnOnce() -> Cause) -> Option<Self> {
        match outcome {
            Outcome::Ok => None,
            Outcome::Rejected => Some(RequestError::Rejected),
            Outcome::TimedOut => Some(RequestError::TimedOut),
            Outcome::NotSent => Some(RequestError::NotSent { cause: cause() }),
            Outcome::Unknown => Some(RequestError::Unknown { cause: cause() }),
        }
    }

    /// Whether the server answered `ERROR`.
    pub fn is_rejected(&self) -> bool {
        matches!(self, RequestError::Rejected)
    }

    /// Whether the request timed out.
    pub fn is_timed_out(&self) -> bool {
        matches!(self, RequestError::TimedOut)
    }

    /// Whether the request never left (including invalid requests).
    pub fn is_not_sent(&self) -> bool {
        matches!(
            self,
            RequestError::NotSent { .. } | RequestError::Invalid(_)
        )
    }

    /// Whether the request was written and its outcome is unknown.
    pub fn is_unknown(&self) -> bool {
        matches!(self, RequestError::Unknown { .. })
    }

    /// Whether sending it again cannot apply it twice.
    pub fn is_safe_to_retry(&self) -> bool {
        matches!(self, RequestError::NotSent { .. })
    }

    /// The outcome this error stands for (`None` for
    /// [`RequestError::Invalid`], which never became a request).
    pub fn outcome(&self) -> Option<Outcome> {
        match self {
            RequestError::Rejected => Some(Outcome::Rejected),
            RequestError::TimedOut => Some(Outcome::TimedOut),
            RequestError::NotSent { .. } => Some(Outcome::NotSent),
            RequestError::Unknown { .. } => Some(Outcome::Unknown),
            RequestError::Invalid(_) => None,
        }
    }
}

impl From<RequestError> for io::Error {
    fn from(e: RequestError) -> io::Error {
        let kind = match &e {
            RequestError::Rejected => io::ErrorKind::Other,
            RequestError::TimedOut => io::ErrorKind::TimedOut,
            RequestError::Invalid(_) => io::ErrorKind::InvalidInput,
            RequestError::NotSent { cause } | RequestError::Unknown { cause } => match cause {
                Cause::Io(io) => io.kind(),
                Cause::Connection(_) => io::ErrorKind::InvalidData,
                Cause::Closed => io::ErrorKind::NotConnected,
            },
        };
        io::Error::new(kind, e)
    }
}
