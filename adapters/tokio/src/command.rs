//! What client handles send to a connection's driver task.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

use kairoi_proto::RequestError;
use kairoi_proto::RequestId;
use kairoi_proto::mux::{self, Load};
use tokio::sync::oneshot;

/// A command to a driver.
pub(crate) type Command = mux::Command<Reply>;

/// The way back to one request's caller (a oneshot channel), with its
/// trace span. It also counts the request in its
/// connection's load until it is answered or dropped: queued, written, or
/// waiting for the cause of the connection's end.
#[derive(Debug)]
pub(crate) struct Reply {
    tx: oneshot::Sender<Result<(), RequestError>>,
    load: Load,
    span: tracing::Span,
    sent_at: Option<Instant>,
}

impl Reply {
    pub(crate) fn new(
        tx: oneshot::Sender<Result<(), RequestError>>,
        load: &Arc<AtomicUsize>,
    ) -> Self {
        Reply {
            tx,
            load: Load::new(load),
            span: tracing::debug_span!(
                "kairoi_request",
                id = tracing::field::Empty,
                queue_us = tracing::field::Empty,
                rtt_us = tracing::field::Empty
            ),
            sent_at: None,
        }
    }
}

impl mux::Reply for Reply {
    fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    fn sent(&mut self, id: RequestId, queued: Duration) {
        self.span.record("id", tracing::field::display(id));
        self.span.record("queue_us", queued.as_micros() as u64);
        self.sent_at = Some(Instant::now());
    }

    /// Answers the caller. The request leaves the load first, so a caller
    /// that has its answer never still counts it in `in_flight`.
    fn send(self, result: Result<(), RequestError>) {
        if let Some(sent_at) = self.sent_at {
            self.span
                .record("rtt_us", sent_at.elapsed().as_micros() as u64);
        }
        self.span
            .in_scope(|| tracing::debug!(ok = result.is_ok(), "request ended"));
        drop(self.load);
        let _ = self.tx.send(result);
    }
}
