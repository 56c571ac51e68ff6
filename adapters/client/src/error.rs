//! [`RequestError`]: what happened to a request that did not end with
//! `OK`, as every adapter reports it; [`Cause`]: why a connection ended.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use kairoi_proto::{ConnectionError, Outcome, SendError};

use crate::OutcomeKind;

/// Why a request did not end with `OK`, shared by every adapter
/// (`kairoi-std`, `kairoi-tokio`, `kairoi-smol`).
///
/// The variants say what the server may have done, which is what decides
/// whether sending the request again is safe:
///
/// | variant | the server... | retry? |
/// | --- | --- | --- |
/// | [`Rejected`](RequestError::Rejected) | answered `ERROR` | only after fixing the cause |
/// | [`NotSent`](RequestError::NotSent) | never saw it | yes |
/// | [`Unknown`](RequestError::Unknown) | may have applied it | a `SET` on a job that already ran schedules it again |
/// | [`TimedOut`](RequestError::TimedOut) | may still apply it | like `Unknown` |
/// | [`Invalid`](RequestError::Invalid) | never saw it: the request cannot be sent | no |
///
/// A client over several servers wraps what happened on one server in
/// [`OnServer`](RequestError::OnServer), naming it, and reports a rule that
/// did not end `OK` everywhere as [`Partial`](RequestError::Partial), with
/// each server's result. The `is_*` methods and
/// [`outcome_kind`](RequestError::outcome_kind) look through both, so code
/// that asks them works with one server or several.
///
/// It converts to [`std::io::Error`] for code that works in I/O errors.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The server answered `ERROR`: the instruction is invalid for it, or
    /// the job's runner is running right now.
    #[error("rejected by the server (ERROR): invalid instruction, or the job is running now")]
    Rejected,
    /// No response came within the request timeout. The server may still
    /// apply the request; its late response is ignored.
    #[error("no response within {timeout:?}")]
    TimedOut {
        /// The request timeout.
        timeout: Duration,
    },
    /// The connection could not be opened, or ended, before the request's
    /// last byte was written: the server never saw it.
    #[error("not sent: {cause}")]
    NotSent {
        /// Why the connection could not be used.
        cause: Cause,
    },
    /// The request was written, then the connection ended before the
    /// response: the server may or may not have applied it.
    #[error("outcome unknown, the request was written before the connection ended: {cause}")]
    Unknown {
        /// Why the connection ended.
        cause: Cause,
    },
    /// The request cannot be sent (it is longer than the message limit,
    /// for example). Nothing was written.
    #[error("invalid request: {0}")]
    Invalid(SendError),
    /// On a client over several servers: what happened to a request on
    /// the server it went to, by the server's name.
    #[error("server {server}: {error}")]
    OnServer {
        /// The server's name.
        server: Arc<str>,
        /// What happened there (never itself `OnServer` or `Partial`).
        error: Box<RequestError>,
    },
    /// On a client over several servers: a request that goes to every
    /// server (a rule) did not end `OK` on every one. Each server's
    /// result, in the builder's order. It counts as its most serious
    /// failure ([`RequestError::outcome_kind`]).
    #[error("not OK on every server: {}", Partial(.0))]
    Partial(Vec<(Arc<str>, Result<(), RequestError>)>),
}

/// Writes `a: ok; b: not sent: ...`.
struct Partial<'a>(&'a [(Arc<str>, Result<(), RequestError>)]);

impl std::fmt::Display for Partial<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (n, (server, result)) in self.0.iter().enumerate() {
            let sep = if n == 0 { "" } else { "; " };
            match result {
                Ok(()) => write!(f, "{sep}{server}: ok")?,
                Err(e) => write!(f, "{sep}{server}: {e}")?,
            }
        }
        Ok(())
    }
}

impl RequestError {
    /// Whether the server answered `ERROR`.
    pub fn is_rejected(&self) -> bool {
        self.outcome_kind() == OutcomeKind::Rejected
    }

    /// Whether no response came within the request timeout.
    pub fn is_timed_out(&self) -> bool {
        self.outcome_kind() == OutcomeKind::TimedOut
    }

    /// Whether the request was never sent.
    pub fn is_not_sent(&self) -> bool {
        self.outcome_kind() == OutcomeKind::NotSent
    }

    /// Whether the request was written and the connection ended before
    /// its response.
    pub fn is_unknown(&self) -> bool {
        self.outcome_kind() == OutcomeKind::Unknown
    }

    /// Whether the request could not be sent because of its own content.
    pub fn is_invalid(&self) -> bool {
        self.outcome_kind() == OutcomeKind::Invalid
    }

    /// How the request ended, as a [`Tally`](crate::Tally) counts it. An
    /// [`OnServer`](RequestError::OnServer) error counts as the error on
    /// its server; a [`Partial`](RequestError::Partial) one as its most
    /// serious failure: unknown, then timed out, not sent, rejected,
    /// invalid (a rule that was not sent to one server and applied on the
    /// others is not sent: sending it again is safe).
    pub fn outcome_kind(&self) -> OutcomeKind {
        match self {
            RequestError::Rejected => OutcomeKind::Rejected,
            RequestError::TimedOut { .. } => OutcomeKind::TimedOut,
            RequestError::NotSent { .. } => OutcomeKind::NotSent,
            RequestError::Unknown { .. } => OutcomeKind::Unknown,
            RequestError::Invalid(_) => OutcomeKind::Invalid,
            RequestError::OnServer { error, .. } => error.outcome_kind(),
            RequestError::Partial(results) => {
                let failed = || results.iter().filter_map(|(_, r)| r.as_ref().err());
                let has = |kind| failed().any(|e| e.outcome_kind() == kind);
                [
                    OutcomeKind::Unknown,
                    OutcomeKind::TimedOut,
                    OutcomeKind::NotSent,
                    OutcomeKind::Rejected,
                    OutcomeKind::Invalid,
                ]
                .into_iter()
                .find(|&kind| has(kind))
                .unwrap_or(OutcomeKind::Unknown)
            }
        }
    }

    /// The name of the server a request of a client over several servers
    /// failed on ([`RequestError::OnServer`]).
    pub fn server(&self) -> Option<&str> {
        match self {
            RequestError::OnServer { server, .. } => Some(server),
            _ => None,
        }
    }

    /// Whether sending the same request again cannot apply it twice: it
    /// was never sent (and not because of its content).
    pub fn is_safe_to_retry(&self) -> bool {
        self.is_not_sent()
    }

    /// Why the connection ended, for [`RequestError::NotSent`] and
    /// [`RequestError::Unknown`].
    pub fn cause(&self) -> Option<&Cause> {
        match self {
            RequestError::NotSent { cause } | RequestError::Unknown { cause } => Some(cause),
            RequestError::OnServer { error, .. } => error.cause(),
            _ => None,
        }
    }

    /// The error for a request that ended with `outcome`, or `None` for
    /// [`Outcome::Ok`]. `timeout` is the request timeout in force, `cause`
    /// says why the connection ended (for [`Outcome::NotSent`] and
    /// [`Outcome::Unknown`]).
    pub fn from_outcome(
        outcome: Outcome,
        timeout: Duration,
        cause: impl FnOnce() -> Cause,
    ) -> Option<Self> {
        match outcome {
            Outcome::Ok => None,
            Outcome::Rejected => Some(RequestError::Rejected),
            Outcome::TimedOut => Some(RequestError::TimedOut { timeout }),
            Outcome::NotSent => Some(RequestError::NotSent { cause: cause() }),
            // `Unknown`, and any outcome a later core adds: the server may
            // have applied it.
            _ => Some(RequestError::Unknown { cause: cause() }),
        }
    }

    /// The outcome this error stands for (`None` for
    /// [`RequestError::Invalid`], which never became a request).
    pub fn outcome(&self) -> Option<Outcome> {
        match self {
            RequestError::Rejected => Some(Outcome::Rejected),
            RequestError::TimedOut { .. } => Some(Outcome::TimedOut),
            RequestError::NotSent { .. } => Some(Outcome::NotSent),
            RequestError::Unknown { .. } => Some(Outcome::Unknown),
            RequestError::Invalid(_) => None,
            RequestError::OnServer { error, .. } => error.outcome(),
            RequestError::Partial(_) => match self.outcome_kind() {
                OutcomeKind::Rejected => Some(Outcome::Rejected),
                OutcomeKind::TimedOut => Some(Outcome::TimedOut),
                OutcomeKind::NotSent => Some(Outcome::NotSent),
                OutcomeKind::Invalid => None,
                _ => Some(Outcome::Unknown),
            },
        }
    }

    /// The closest [`io::ErrorKind`].
    pub fn kind(&self) -> io::ErrorKind {
        match self {
            RequestError::Rejected => io::ErrorKind::Other,
            RequestError::TimedOut { .. } => io::ErrorKind::TimedOut,
            RequestError::NotSent { cause } | RequestError::Unknown { cause } => cause.kind(),
            RequestError::Invalid(_) => io::ErrorKind::InvalidInput,
            RequestError::OnServer { error, .. } => error.kind(),
            RequestError::Partial(results) => results
                .iter()
                .filter_map(|(_, r)| r.as_ref().err())
                .find(|e| e.outcome_kind() == self.outcome_kind())
                .map_or(io::ErrorKind::Other, RequestError::kind),
        }
    }
}

impl From<RequestError> for io::Error {
    fn from(e: RequestError) -> io::Error {
        io::Error::new(e.kind(), e)
    }
}

/// Why a connection could not be opened or ended. Shared by every request
/// it affected.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Cause {
    /// No address of the server accepted a connection in time.
    #[error("cannot connect to {addr}: {error}")]
    Connect {
        /// The address tried last.
        addr: String,
        /// What connecting to it returned.
        error: Arc<io::Error>,
    },
    /// Reading or writing the socket failed.
    #[error("i/o error: {0}")]
    Io(Arc<io::Error>),
    /// The server closed the connection or broke the protocol.
    #[error("{0}")]
    Protocol(ConnectionError),
    /// Requests were active (written or waiting to be written, timed-out
    /// ones still awaiting their late answer included) and nothing was read
    /// from the server for a whole request timeout: the server is hung, or
    /// does not read. The connection was dropped and is replaced by the
    /// next request.
    #[error(
        "nothing read from the server for {waited:?} while requests were active, connection dropped"
    )]
    Unresponsive {
        /// How long nothing was read.
        waited: Duration,
    },
    /// The client was closed, or dropped, before the request could go.
    #[error("client closed")]
    Closed,
}

impl Cause {
    /// The closest [`io::ErrorKind`].
    pub fn kind(&self) -> io::ErrorKind {
        match self {
            Cause::Connect { error, .. } | Cause::Io(error) => error.kind(),
            Cause::Protocol(ConnectionError::ClosedWithActive { .. }) => {
                io::ErrorKind::ConnectionReset
            }
            Cause::Protocol(ConnectionError::Aborted) => io::ErrorKind::ConnectionAborted,
            Cause::Protocol(_) => io::ErrorKind::InvalidData,
            Cause::Unresponsive { .. } => io::ErrorKind::TimedOut,
            Cause::Closed => io::ErrorKind::NotConnected,
        }
    }

    /// A connection attempt to `addr` that failed with `error`.
    pub fn connect(addr: impl ToString, error: io::Error) -> Cause {
        Cause::Connect {
            addr: addr.to_string(),
            error: Arc::new(error),
        }
    }

    /// Wraps a transport error.
    pub fn io(error: io::Error) -> Cause {
        Cause::Io(Arc::new(error))
    }
}

impl From<Cause> for io::Error {
    fn from(cause: Cause) -> io::Error {
        io::Error::new(cause.kind(), cause)
    }
}

impl From<io::Error> for Cause {
    fn from(error: io::Error) -> Cause {
        Cause::io(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_convert_to_io_errors_with_a_matching_kind() {
        let timed_out = RequestError::TimedOut {
            timeout: Duration::from_secs(1),
        };
        assert_eq!(io::Error::from(timed_out).kind(), io::ErrorKind::TimedOut);
        let reset = RequestError::Unknown {
            cause: Cause::Protocol(ConnectionError::ClosedWithActive { active: 2 }),
        };
        let io = io::Error::from(reset);
        assert_eq!(io.kind(), io::ErrorKind::ConnectionReset);
        assert!(io.to_string().contains("2 request(s) active"), "{io}");
        let inner = io.into_inner().unwrap().downcast::<RequestError>().unwrap();
        assert!(inner.is_unknown() && !inner.is_safe_to_retry());
        let refused = RequestError::NotSent {
            cause: Cause::Connect {
                addr: "127.0.0.1:1".into(),
                error: Arc::new(io::ErrorKind::ConnectionRefused.into()),
            },
        };
        assert!(refused.is_safe_to_retry());
        assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused);
        assert_eq!(
            io::Error::from(RequestError::Invalid(SendError::EmptyBody)).kind(),
            io::ErrorKind::InvalidInput
        );
    }
}
