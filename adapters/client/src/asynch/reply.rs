//! The way back from a driver to one request's caller: the channel of the
//! call (a batch, or a single call as a batch of one), with the request's
//! input position.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use async_channel::Sender;

use crate::load::Load;
use crate::mux::Payload;
use crate::{Cause, RequestError, mux};

/// A command to a driver.
pub(crate) type Command = mux::Command<ChannelReply>;

/// A request's end as its call receives it: the input position, the
/// server's position, the result, and the body when the driver gave it
/// back (for a resend).
pub(crate) type Done = (usize, usize, Result<(), RequestError>, Option<Payload>);

/// The way back to one request's caller. It also
/// counts the request in its connection's load until it is answered or
/// dropped: queued, written, or waiting for the cause of the connection's
/// end.
#[derive(Debug)]
pub(crate) struct ChannelReply {
    /// Taken by [`mux::Reply::deliver`]; still here when the reply is
    /// dropped undelivered (its driver gone abnormally).
    tx: Option<Sender<Done>>,
    index: usize,
    server: usize,
    /// Dropped before the caller is answered.
    load: Option<Load>,
}

impl ChannelReply {
    pub(crate) fn new(
        tx: Sender<Done>,
        index: usize,
        server: usize,
        load: &Arc<AtomicUsize>,
    ) -> Self {
        ChannelReply {
            tx: Some(tx),
            index,
            server,
            load: Some(Load::new(load)),
        }
    }
}

impl mux::Reply for ChannelReply {
    fn is_closed(&self) -> bool {
        self.tx.as_ref().is_none_or(Sender::is_closed)
    }

    /// Answers the caller. The request leaves the load first, so a caller
    /// that has its answer never still counts it in `in_flight`.
    fn deliver(mut self, result: Result<(), RequestError>, body: Payload) {
        self.load = None;
        if let Some(tx) = self.tx.take() {
            // Unbounded: a failure only means the caller is gone.
            let _ = tx.try_send((self.index, self.server, result, Some(body)));
        }
    }
}

impl Drop for ChannelReply {
    /// A reply dropped undelivered (its driver ended abnormally) still
    /// gives its caller an outcome: the request may have been written.
    fn drop(&mut self) {
        self.load = None;
        if let Some(tx) = self.tx.take() {
            let cause = Cause::Closed;
            let unknown = Err(RequestError::Unknown { cause });
            let _ = tx.try_send((self.index, self.server, unknown, None));
        }
    }
}
