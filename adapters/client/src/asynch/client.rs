//! [`Client`]: a cloneable handle that multiplexes requests over a pool.

use std::borrow::Borrow;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use async_channel::Sender;
use futures_lite::future;
use futures_lite::io::{AsyncRead, AsyncWrite};

use super::reply::{ChannelReply, Command, Done};
use super::slot::{self, Slot};
use super::{ClientBuilder, Runtime, sleep_until};
use crate::feed::{Feeder, Next};
use crate::load::least_loaded;
use crate::mux::{Payload, Submission};
use crate::proto::Instruction;
use crate::shard::{Shards, Startup};
use crate::stats::{Counters, Stats};
use crate::time::deadline;
use crate::{Cause, InOrder, RequestError, ServerAddr, Settings};

#[derive(Debug)]
struct Shared<R> {
    rt: R,
    settings: Settings,
    shards: Shards,
    /// The connections of each server, in the order of `shards`.
    servers: Vec<Vec<Slot>>,
    counters: Arc<Counters>,
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
/// requests are active, is made again, with backoff and jitter. Requests
/// it had written end [`RequestError::Unknown`] and are never resent
/// silently (see [`RetryPolicy`](crate::RetryPolicy)); requests it had not
/// written, and new ones, wait for the next connection as
/// [`Disconnected`](crate::Disconnected) says.
///
/// Over several servers ([`ClientBuilder::connect_servers`]), each server
/// has its own pool; a job goes to the server its identifier is placed on
/// ([`kairoi_proto::placement`]), a rule to every server. A server that is
/// down fails only its own jobs, as [`RequestError::OnServer`] naming it;
/// nothing moves to another server.
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

/// How many results a batch reports at once before it lets other tasks
/// run.
const YIELD_EVERY: usize = 4096;

/// Withdraws or abandons the requests of a single call whose caller
/// stopped waiting (one per server it went to).
#[derive(Default)]
struct CancelGuard(Vec<(Sender<Command>, u64)>);

impl Drop for CancelGuard {
    fn drop(&mut self) {
        for (commands, ticket) in self.0.drain(..) {
            // The channel is unbounded: this never blocks.
            let _ = commands.try_send(Command::Cancel(ticket));
        }
    }
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
    /// `connections`, `connect_timeout`, `nodelay`, `reconnect_backoff`
    /// and `when_disconnected` do not apply. The reference Kairoi server
    /// listens on TCP only: a Unix socket or TLS reaches it through a
    /// proxy.
    pub fn with_transport<T>(io: T, builder: ClientBuilder<R>) -> Client<R>
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let shards = Shards::default();
        let counters = Arc::new(Counters::new(&shards));
        let (rt, settings) = (&builder.rt, &builder.settings);
        let slot = Slot::start(rt, settings, Some(io), None, counters.server(0));
        Client::new(builder, shards, vec![vec![slot]], counters)
    }

    fn new(
        builder: ClientBuilder<R>,
        shards: Shards,
        servers: Vec<Vec<Slot>>,
        counters: Arc<Counters>,
    ) -> Self {
        Client {
            shared: Arc::new(Shared {
                rt: builder.rt,
                settings: builder.settings,
                shards,
                servers,
                counters,
                next_slot: AtomicUsize::new(0),
                next_ticket: AtomicU64::new(0),
                closed: AtomicBool::new(false),
            }),
        }
    }

    /// Connects every connection of the pool of each server, then hands
    /// each to its driver, which makes it again whenever it ends. With
    /// several servers, a server that cannot be reached starts down (see
    /// [`Startup`]).
    pub(crate) async fn start(
        builder: ClientBuilder<R>,
        shards: Shards,
        targets: Vec<ServerAddr>,
    ) -> io::Result<Self> {
        builder.settings.check()?;
        let (rt, settings) = (&builder.rt, &builder.settings);
        let counters = Arc::new(Counters::new(&shards));
        let mut startup = Startup::new(&shards);
        let mut servers = Vec::new();
        for (server, target) in targets.iter().enumerate() {
            let mut slots = Vec::new();
            for _ in 0..settings.connections.max(1) {
                let stream = match startup.is_down(server) {
                    true => None,
                    false => match slot::open(rt, target, settings).await {
                        Ok(stream) => Some(stream),
                        Err(cause) => {
                            startup.failed(server, cause);
                            None
                        }
                    },
                };
                let connect = slot::connector(rt, target, settings);
                let counted = counters.server(server);
                slots.push(Slot::start(rt, settings, stream, connect, counted));
            }
            servers.push(slots);
        }
        startup.finish()?;
        Ok(Client::new(builder, shards, servers, counters))
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.shared.settings
    }

    crate::request_calls!(async);

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
    /// once (those waiting for a retry included), so memory stays bounded
    /// by the window, not the batch. Each request's timeout starts when it
    /// enters the window, so a batch of any size completes while the
    /// server keeps answering. Every instruction is reported exactly once
    /// before this returns.
    ///
    /// A batch rides out a server restart: only the requests written
    /// before the connection ended end [`RequestError::Unknown`]; the rest
    /// go out on the next connection, and nothing more is taken from the
    /// iterator while no connection exists. Once the server has been
    /// unreachable for a whole request timeout, the rest of the iterator
    /// is reported [`RequestError::NotSent`] at once (see
    /// [`Disconnected`](crate::Disconnected)).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future stops the batch: requests not yet written are
    /// withdrawn, written ones may still be applied (their late answers
    /// are absorbed), and the rest of the iterator is never read.
    pub async fn execute_each<I, F>(&self, instructions: I, on_result: F)
    where
        I: IntoIterator,
        I::Item: Borrow<Instruction>,
        F: FnMut(usize, Result<(), RequestError>),
    {
        let settings = &self.shared.settings;
        let items = instructions
            .into_iter()
            .map(|item| Payload::Typed(item.borrow().clone()));
        let shards = &self.shared.shards;
        let feeder = Feeder::new(items, shards, settings.batch_limit(), settings.retry, None)
            .counting(&self.shared.counters);
        let (tx, rx) = async_channel::unbounded();
        self.feed(feeder, &tx, &rx, on_result, None).await;
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
        for slot in self.slots() {
            slot.close(until).await;
        }
    }

    /// Every connection of every server.
    fn slots(&self) -> impl Iterator<Item = &Slot> {
        self.shared.servers.iter().flatten()
    }

    /// Requests held by the connections now, waiting for room, for a
    /// connection or for a response.
    pub fn in_flight(&self) -> usize {
        self.slots().map(|s| s.load()).sum()
    }

    fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::SeqCst)
    }

    /// Whether any connection of the pool is up now.
    pub fn is_connected(&self) -> bool {
        self.slots().any(Slot::is_live)
    }

    /// How many connections are up now, of every server.
    pub fn open_connections(&self) -> usize {
        self.slots().filter(|s| s.is_live()).count()
    }

    /// What the client has done since it was built: requests by outcome
    /// (as their callers saw them), and for each server its requests,
    /// what is queued and in the window now, connections, bytes and the
    /// last connection error. Cheap: it reads counters the client keeps
    /// anyway.
    pub fn stats(&self) -> Stats {
        self.shared.counters.snapshot()
    }

    /// The names of the servers of a client over several servers, in the
    /// builder's order (empty with one server).
    pub fn servers(&self) -> &[Arc<str>] {
        self.shared.shards.names()
    }

    /// Whether a connection to the server at `server` is up now.
    fn is_up(&self, server: usize) -> bool {
        self.shared.servers[server].iter().any(Slot::is_live)
    }

    /// Tells the feeder which servers have a connection now.
    fn sync<I: Iterator<Item = Payload>>(&self, feeder: &mut Feeder<I>) {
        for server in 0..self.shared.servers.len() {
            feeder.set_connected(server, self.is_up(server));
        }
    }

    /// One request, resent while the retry policy allows, all within one
    /// request timeout: a batch of one.
    async fn run(&self, body: Payload) -> Result<(), RequestError> {
        let settings = &self.shared.settings;
        let until = settings.request_deadline(Instant::now());
        let shards = &self.shared.shards;
        let feeder = Feeder::new(std::iter::once(body), shards, 1, settings.retry, until)
            .counting(&self.shared.counters);
        let mut result = None;
        // Declared before the channel, so dropped after it: a request
        // still queued is seen as abandoned whichever the driver sees
        // first.
        let mut guard = CancelGuard::default();
        let (tx, rx) = async_channel::unbounded();
        let record = |_, r| result = Some(r);
        self.feed(feeder, &tx, &rx, record, Some(&mut guard)).await;
        guard.0.clear();
        // `feed` reports every request exactly once.
        result.unwrap_or(Err(RequestError::NotSent {
            cause: Cause::Closed,
        }))
    }

    /// Runs a feeder to its end: submits what it gives, hands it each
    /// result, and reports what it says to `on_result`. `guard`, for a
    /// single call, names the requests submitted.
    async fn feed<I, F>(
        &self,
        mut feeder: Feeder<I>,
        tx: &Sender<Done>,
        rx: &async_channel::Receiver<Done>,
        mut on_result: F,
        mut guard: Option<&mut CancelGuard>,
    ) where
        I: Iterator<Item = Payload>,
        F: FnMut(usize, Result<(), RequestError>),
    {
        let mut reported = 0usize;
        loop {
            self.sync(&mut feeder);
            while let Some(next) = feeder.next(Instant::now()) {
                match next {
                    Next::Submit {
                        index,
                        server,
                        body,
                        span,
                    } => {
                        let deadline = feeder.deadline();
                        let sent = self.submit(index, server, body, span, deadline, tx);
                        if let (Some(guard), Some((commands, ticket))) = (guard.as_mut(), sent) {
                            guard.0.push((commands.clone(), ticket));
                        }
                    }
                    Next::Report(index, result) => {
                        on_result(index, result);
                        reported += 1;
                        if reported % YIELD_EVERY == 0 {
                            // A batch reported at once (the server is
                            // unreachable) lets other tasks run.
                            future::yield_now().await;
                        }
                    }
                }
            }
            if feeder.is_done() {
                return;
            }
            let retry = feeder.next_retry();
            let done = async { rx.recv().await.ok() };
            let due = async {
                sleep_until(&self.shared.rt, retry).await;
                None
            };
            // `tx` is held here, so the channel never closes.
            if let Some((index, server, result, body)) = future::or(done, due).await {
                feeder.set_connected(server, self.is_up(server));
                let now = Instant::now();
                if let Some((i, r)) = feeder.complete(now, index, server, result, body) {
                    on_result(i, r);
                }
            }
        }
    }

    /// Hands a request to the least busy connection of the server at
    /// `server`; its result comes back on `tx`, whatever happens. Gives
    /// the driver's channel and the ticket.
    fn submit(
        &self,
        index: usize,
        server: usize,
        body: Payload,
        span: tracing::Span,
        deadline: Option<Instant>,
        tx: &Sender<Done>,
    ) -> Option<(&Sender<Command>, u64)> {
        let shared = &self.shared;
        let slot = self.pick(server);
        let ticket = shared.next_ticket.fetch_add(1, Ordering::Relaxed);
        let job = Submission {
            ticket,
            body,
            queued_at: Instant::now(),
            deadline,
            reply: ChannelReply::new(tx.clone(), index, server, &slot.load),
            span,
        };
        let commands = slot.commands();
        if self.is_closed() {
            job.reject(Cause::Closed);
            return None;
        }
        match commands.try_send(Command::Send(Box::new(job))) {
            Ok(()) => Some((commands, ticket)),
            Err(e) => {
                if let Command::Send(job) = e.into_inner() {
                    job.reject(Cause::Closed);
                }
                None
            }
        }
    }

    /// The live connection of the server at `server` with the fewest
    /// requests, ties taken in turn; a connection that is down only when
    /// none is live.
    fn pick(&self, server: usize) -> &Slot {
        let slots = &self.shared.servers[server];
        let start = self.shared.next_slot.fetch_add(1, Ordering::Relaxed);
        let rank = |i: usize| {
            let slot: &Slot = &slots[i];
            (usize::from(!slot.is_live()) << (usize::BITS - 1)) | slot.load().min(usize::MAX >> 1)
        };
        &slots[least_loaded(slots.len(), start, rank).unwrap_or(0)]
    }
}
