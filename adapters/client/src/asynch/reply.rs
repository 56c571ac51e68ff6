//! The way back from a driver to one request's caller: a single call's
//! channel, or a batch's shared one.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

use async_channel::Sender;
use kairoi_proto::RequestId;

use crate::load::Load;
use crate::{Cause, RequestError, mux};

/// A command to a driver.
pub(crate) type Command = mux::Command<Reply>;

/// Where a result goes.
#[derive(Debug)]
pub(crate) enum To {
    /// A single call waiting on its own channel.
    One(Sender<Result<(), RequestError>>),
    /// A batch, with the request's input position.
    Batch {
        tx: Sender<(usize, Result<(), RequestError>)>,
        index: usize,
    },
}

/// The way back to one request's caller, with its trace span. It also
/// counts the request in its connection's load until it is answered or
/// dropped: queued, written, or waiting for the cause of the connection's
/// end.
#[derive(Debug)]
pub(crate) struct Reply {
    /// Taken by [`mux::Reply::deliver`]; still here when the reply is
    /// dropped undelivered (its driver gone abnormally).
    to: Option<To>,
    /// Dropped before the caller is answered.
    load: Option<Load>,
    span: tracing::Span,
    sent_at: Option<Instant>,
}

impl Reply {
    pub(crate) fn new(to: To, load: &Arc<AtomicUsize>) -> Self {
        Reply {
            to: Some(to),
            load: Some(Load::new(load)),
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
        match &self.to {
            Some(To::One(tx)) => tx.is_closed(),
            Some(To::Batch { tx, .. }) => tx.is_closed(),
            None => true,
        }
    }

    fn admitted(&mut self, id: RequestId, queued: Duration) {
        self.span.record("id", tracing::field::display(id));
        self.span.record(
            "queue_us",
            u64::try_from(queued.as_micros()).unwrap_or(u64::MAX),
        );
        self.sent_at = Some(Instant::now());
    }

    /// Answers the caller. The request leaves the load first, so a caller
    /// that has its answer never still counts it in `in_flight`.
    fn deliver(mut self, result: Result<(), RequestError>) {
        if let Some(sent_at) = self.sent_at {
            let rtt = u64::try_from(sent_at.elapsed().as_micros()).unwrap_or(u64::MAX);
            self.span.record("rtt_us", rtt);
        }
        self.span
            .in_scope(|| tracing::debug!(ok = result.is_ok(), "request ended"));
        self.load = None;
        if let Some(to) = self.to.take() {
            send(to, result);
        }
    }
}

/// Hands `result` to the caller. The channels are unbounded or have room
/// for the one result: a failure only means the caller is gone.
fn send(to: To, result: Result<(), RequestError>) {
    match to {
        To::One(tx) => drop(tx.try_send(result)),
        To::Batch { tx, index } => drop(tx.try_send((index, result))),
    }
}

impl Drop for Reply {
    /// A reply dropped undelivered (its driver ended abnormally) still
    /// gives its caller an outcome: the request may have been written.
    fn drop(&mut self) {
        self.load = None;
        if let Some(to) = self.to.take() {
            send(
                to,
                Err(RequestError::Unknown {
                    cause: Cause::Closed,
                }),
            );
        }
    }
}
