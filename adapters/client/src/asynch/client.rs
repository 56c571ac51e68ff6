//! [`Client`]: a cloneable handle that multiplexes requests over a pool.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use async_channel::{Receiver, Sender};
use futures_lite::future;
use futures_lite::io::{AsyncRead, AsyncWrite};
use kairoi_proto::{DateTime, Instruction, Runner, Text};

use super::reply::{Command, Reply, To};
use super::slot::Slot;
use super::{ClientBuilder, Runtime, sleep_until};
use crate::load::least_loaded;
use crate::mux::{Payload, Submission};
use crate::time::{deadline, instant_after};
use crate::{Cause, InOrder, RequestError, ServerAddr, Settings};

#[derive(Debug)]
struct Shared<R> {
    rt: R,
    settings: Settings,
    /// Where to connect again; `None` for a caller's transport.
    target: Option<ServerAddr>,
    slots: Vec<Arc<Slot>>,
    next_slot: AtomicUsize,
    next_ticket: AtomicU64,
    closed: AtomicBool,
}

/// A KCP client over one connection or a pool of them, on the runtime `R`.
///
/// `Client` is `Clone + Send + Sync`; clones share the connections. Many
/// tasks calling [`Client::execute`] at once put their requests on the
/// wire together, without waiting for each other's responses, and
/// [`Client::execute_each`] streams a batch of any size through the
/// window.
///
/// Each connection is owned by a driver task that reads and writes at the
/// same time and wakes each request's caller with its outcome. A
/// connection that ends, or that reads nothing for a request timeout while
/// requests are active, is made again on the next request, with backoff
/// and jitter; requests it carried get their outcome
/// ([`RequestError::NotSent`] or [`RequestError::Unknown`]) and are never
/// retried silently (see [`RetryPolicy`](crate::RetryPolicy)).
///
/// Dropping every clone never blocks and never cancels a driver: it
/// finishes the requests already submitted (within the close timeout) and
/// ends.
#[derive(Debug)]
pub struct Client<R> {
    shared: Arc<Shared<R>>,
}

impl<R> Clone for Client<R> {
    fn clone(&self) -> Self {
        Client {
            shared: self.shared.clone(),
        }
    }
}

/// Withdraws or abandons a request whose caller stopped waiting.
struct CancelGuard {
    commands: Sender<Command>,
    ticket: u64,
    armed: bool,
}

impl Drop for CancelGuard {
    fn drop(&mut self) {
        if self.armed {
            // The channel is unbounded: this never blocks.
            let _ = self.commands.try_send(Command::Cancel(self.ticket));
        }
    }
}

/// A submitted single request: await `reply`.
///
/// Fields drop in order: the reply channel closes before the guard sends
/// its cancel, so a request still queued in the driver is seen as
/// abandoned whichever arrives first.
struct Pending {
    reply: Receiver<Result<(), RequestError>>,
    guard: CancelGuard,
}

impl<R: Runtime + Default> Client<R> {
    /// Connects with the default settings.
    ///
    /// # Cancel safety
    ///
    /// As for [`ClientBuilder::connect`].
    pub async fn connect(addr: impl Into<ServerAddr>) -> io::Result<Client<R>> {
        ClientBuilder::default().connect(addr).await
    }

    /// Settings for a new client.
    pub fn builder() -> ClientBuilder<R> {
        ClientBuilder::default()
    }
}

impl<R: Runtime> Client<R> {
    /// A client over a transport the caller connected: any
    /// `futures_io::AsyncRead + AsyncWrite` (TLS, a Unix socket, a pipe,
    /// an in-memory duplex...). It has one connection and does not
    /// reconnect: once the transport ends, requests fail with
    /// [`RequestError::NotSent`]. Of the builder's settings,
    /// `connections`, `connect_timeout`, `nodelay` and
    /// `reconnect_backoff` do not apply. The reference Kairoi server
    /// listens on TCP only: a Unix socket or TLS reaches it through a
    /// proxy.
    pub fn with_transport<T>(io: T, builder: ClientBuilder<R>) -> Client<R>
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let slot = Arc::new(Slot::default());
        slot.install(&builder.rt, io, &builder.settings);
        Client::new(builder, None, vec![slot])
    }

    fn new(builder: ClientBuilder<R>, target: Option<ServerAddr>, slots: Vec<Arc<Slot>>) -> Self {
        Client {
            shared: Arc::new(Shared {
                rt: builder.rt,
                settings: builder.settings,
                target,
                slots,
                next_slot: AtomicUsize::new(0),
                next_ticket: AtomicU64::new(0),
                closed: AtomicBool::new(false),
            }),
        }
    }

    pub(crate) async fn start(builder: ClientBuilder<R>, target: ServerAddr) -> io::Result<Self> {
        builder.settings.check()?;
        let count = builder.settings.connections.max(1);
        let slots = (0..count).map(|_| Arc::new(Slot::default())).collect();
        let client = Client::new(builder, Some(target), slots);
        let shared = &client.shared;
        for slot in &shared.slots {
            slot.sender(&shared.rt, shared.target.as_ref(), &shared.settings, None)
                .await
                .map_err(io::Error::from)?;
        }
        Ok(client)
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.shared.settings
    }

    /// Sends one instruction and waits for its outcome, at most the
    /// request timeout in all (reconnecting and retries included).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future gives up on the request. If none of its bytes
    /// were written it is withdrawn and never sent. If it was written, the
    /// server may still apply it; its identifier stays reserved until the
    /// late response arrives, so no later request can receive it.
    pub async fn execute(&self, instruction: &Instruction) -> Result<(), RequestError> {
        self.run(Payload::Typed(instruction.clone())).await
    }

    /// Sends a request with any body, for instructions the typed layer does
    /// not know. Each argument is quoted as needed.
    ///
    /// # Cancel safety
    ///
    /// As for [`Client::execute`].
    pub async fn execute_arguments<A: AsRef<str>>(
        &self,
        body: impl IntoIterator<Item = A>,
    ) -> Result<(), RequestError> {
        let body = body.into_iter().map(|a| a.as_ref().to_owned()).collect();
        self.run(Payload::Raw(body)).await
    }

    /// Schedules (or reschedules) `job` at `execution` (UTC).
    ///
    /// # Cancel safety
    ///
    /// As for [`Client::execute`].
    pub async fn set_job(
        &self,
        job: impl Into<Text>,
        execution: DateTime,
    ) -> Result<(), RequestError> {
        self.execute(&Instruction::set(job, execution)).await
    }

    /// Creates or replaces the rule `rule` for jobs starting with `pattern`
    /// (the longest matching pattern wins).
    ///
    /// # Cancel safety
    ///
    /// As for [`Client::execute`].
    pub async fn set_rule(
        &self,
        rule: impl Into<Text>,
        pattern: impl Into<Text>,
        runner: Runner,
    ) -> Result<(), RequestError> {
        self.execute(&Instruction::rule_set(rule, pattern, runner))
            .await
    }

    /// Sends a batch of any size, pipelined over the pool, and returns one
    /// result per instruction, in input order. Built on
    /// [`Client::execute_each`]: requests enter as the windows free up,
    /// and each one's timeout starts when it enters.
    ///
    /// # Cancel safety
    ///
    /// As for [`Client::execute_each`].
    pub async fn execute_all<I>(&self, instructions: I) -> Vec<Result<(), RequestError>>
    where
        I: IntoIterator,
        I::Item: Borrow<Instruction>,
    {
        let mut results = InOrder::default();
        self.execute_each(instructions, |index, result| results.put(index, result))
            .await;
        results.finish()
    }

    /// Sends a batch of any size and hands each result to `on_result` with
    /// the instruction's input position as soon as it is known (in
    /// completion order). The iterator is consumed lazily: the client
    /// holds at most a window per connection of the batch's requests at
    /// once, so memory stays bounded by the window, not the batch. Each
    /// request's timeout starts when it enters the window, so a batch of
    /// any size completes while the server keeps answering. Every
    /// instruction is reported exactly once before this returns.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future stops the batch: requests not yet written are
    /// withdrawn, written ones may still be applied (their late answers
    /// are absorbed), and the rest of the iterator is never read.
    pub async fn execute_each<I, F>(&self, instructions: I, mut on_result: F)
    where
        I: IntoIterator,
        I::Item: Borrow<Instruction>,
        F: FnMut(usize, Result<(), RequestError>),
    {
        let settings = &self.shared.settings;
        let limit = settings.batch_limit();
        let retry = settings.retry;
        let (tx, rx) = async_channel::unbounded();
        // Bodies kept for a resend, with the attempts left.
        let mut kept: HashMap<usize, (Payload, u32)> = HashMap::new();
        let mut outstanding = 0usize;
        let mut items = instructions.into_iter().enumerate();
        let mut exhausted = false;
        loop {
            while !exhausted && outstanding < limit {
                let Some((index, item)) = items.next() else {
                    exhausted = true;
                    break;
                };
                let body = Payload::Typed(item.borrow().clone());
                if retry.attempts() > 0 {
                    kept.insert(index, (body.clone(), retry.attempts()));
                }
                self.submit_batch(index, body, &tx).await;
                outstanding += 1;
            }
            if outstanding == 0 {
                break;
            }
            // `tx` is held here, so the channel never closes.
            let Ok((index, result)) = rx.recv().await else {
                break;
            };
            outstanding -= 1;
            if let (Err(e), Some((body, left))) = (&result, kept.get_mut(&index)) {
                if *left > 0 && retry.allows(e) && !self.is_closed() {
                    *left -= 1;
                    let body = body.clone();
                    let backoff = retry.backoff();
                    if !backoff.is_zero() {
                        self.shared
                            .rt
                            .timer(instant_after(Instant::now(), backoff))
                            .await;
                    }
                    self.submit_batch(index, body, &tx).await;
                    outstanding += 1;
                    continue;
                }
            }
            kept.remove(&index);
            on_result(index, result);
        }
    }

    /// Stops new requests, waits for the active ones (at most the close
    /// timeout, after which they end as [`RequestError::Unknown`]) and
    /// closes every connection. Later requests fail with
    /// [`RequestError::NotSent`].
    ///
    /// # Cancel safety
    ///
    /// Dropping the future stops waiting; the connections still close.
    pub async fn close(&self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        let until = deadline(Instant::now(), self.shared.settings.close_timeout);
        for slot in &self.shared.slots {
            slot.close(until).await;
        }
    }

    /// Requests held by the connections now, waiting for room or for a
    /// response.
    pub fn in_flight(&self) -> usize {
        self.shared.slots.iter().map(|s| s.load()).sum()
    }

    fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::SeqCst)
    }

    /// One request, resent while the retry policy allows, all within one
    /// request timeout.
    async fn run(&self, body: Payload) -> Result<(), RequestError> {
        let settings = &self.shared.settings;
        let until = settings.request_deadline(Instant::now());
        let retry = settings.retry;
        let mut left = retry.attempts();
        let mut current = body;
        loop {
            let keep = (left > 0).then(|| current.clone());
            let result = self.once(current, until).await;
            match (&result, keep) {
                (Err(e), Some(again)) if retry.allows(e) && !self.is_closed() => {
                    left -= 1;
                    let resume = instant_after(Instant::now(), retry.backoff());
                    if until.is_some_and(|u| resume >= u) {
                        return result;
                    }
                    if !retry.backoff().is_zero() {
                        self.shared.rt.timer(resume).await;
                    }
                    current = again;
                }
                _ => return result,
            }
        }
    }

    /// One attempt of a single request: the connection is found, the
    /// request handed to it and its answer awaited, all before `until`.
    async fn once(&self, body: Payload, until: Option<Instant>) -> Result<(), RequestError> {
        let (tx, rx) = async_channel::bounded(1);
        let (commands, ticket) = self.submit(body, until, To::One(tx)).await?;
        let pending = Pending {
            reply: rx,
            guard: CancelGuard {
                commands,
                ticket,
                armed: true,
            },
        };
        let answer = async { Some(pending.reply.recv().await) };
        let expired = async {
            sleep_until(&self.shared.rt, until).await;
            None
        };
        match future::or(answer, expired).await {
            Some(result) => {
                let mut pending = pending;
                pending.guard.armed = false;
                // The driver answers every request it took; a lost reply
                // means the driver itself is gone, after the request may
                // have been written.
                result.unwrap_or(Err(RequestError::Unknown {
                    cause: Cause::Closed,
                }))
            }
            // Dropping `pending` withdraws the request, or abandons it if
            // it was written.
            None => Err(RequestError::TimedOut {
                timeout: self.shared.settings.request_timeout.unwrap_or_default(),
            }),
        }
    }

    /// A batch request: its result goes to `tx`, whatever happens.
    async fn submit_batch(
        &self,
        index: usize,
        body: Payload,
        tx: &Sender<(usize, Result<(), RequestError>)>,
    ) {
        let until = self.shared.settings.request_deadline(Instant::now());
        let to = To::Batch {
            tx: tx.clone(),
            index,
        };
        if let Err(e) = self.submit(body, until, to).await {
            let _ = tx.try_send((index, Err(e)));
        }
    }

    /// Hands a request to the least busy connection, waiting for one to be
    /// made until `until`. Gives the driver's channel and the ticket.
    async fn submit(
        &self,
        body: Payload,
        until: Option<Instant>,
        to: To,
    ) -> Result<(Sender<Command>, u64), RequestError> {
        let shared = &self.shared;
        if self.is_closed() {
            return Err(RequestError::NotSent {
                cause: Cause::Closed,
            });
        }
        let slot = self.pick();
        let commands = slot
            .sender(&shared.rt, shared.target.as_ref(), &shared.settings, until)
            .await?;
        let ticket = shared.next_ticket.fetch_add(1, Ordering::Relaxed);
        let job = Submission {
            ticket,
            body,
            queued_at: Instant::now(),
            reply: Reply::new(to, &slot.load),
        };
        if commands.try_send(Command::Send(Box::new(job))).is_err() {
            return Err(RequestError::NotSent {
                cause: Cause::Closed,
            });
        }
        Ok((commands, ticket))
    }

    /// The live connection with the fewest requests, ties taken in turn;
    /// a connection that is down only when none is live.
    fn pick(&self) -> &Arc<Slot> {
        let slots = &self.shared.slots;
        let start = self.shared.next_slot.fetch_add(1, Ordering::Relaxed);
        let rank = |i: usize| {
            let slot: &Slot = &slots[i];
            (usize::from(!slot.is_live()) << (usize::BITS - 1)) | slot.load().min(usize::MAX >> 1)
        };
        &slots[least_loaded(slots.len(), start, rank).unwrap_or(0)]
    }
}
