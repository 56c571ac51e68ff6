//! [`Client`]: a cloneable handle that multiplexes requests over a pool.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use kairoi_proto::{Cause, DateTime, Instruction, RequestError, Runner, Text};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::ToSocketAddrs;
use tokio::sync::{mpsc, oneshot};

use crate::builder::ClientBuilder;
use kairoi_proto::mux::{self, Body, Job, instant_after};

use crate::command::{Command, Reply};
use crate::connection::Slot;

#[derive(Debug)]
struct Shared {
    builder: ClientBuilder,
    addrs: Vec<SocketAddr>,
    slots: Vec<Slot>,
    next_slot: AtomicUsize,
    next_ticket: AtomicU64,
    closed: AtomicBool,
}

/// A KCP client over one connection or a pool of them.
///
/// `Client` is `Clone + Send + Sync`; clones share the connections. Many
/// tasks calling [`Client::execute`] at once put their requests on the
/// wire together, without waiting for each other's responses: this is
/// what lifts a client far above the reference server's 126 sequential
/// round trips per second.
///
/// Each connection is owned by a driver task that reads and writes at the
/// same time and wakes each request's caller with its outcome. A
/// connection that ends is made again, with backoff, on the next request;
/// requests it carried get their outcome ([`RequestError::NotSent`] or
/// [`RequestError::Unknown`]) and are never retried silently (see
/// [`RetryPolicy`](crate::RetryPolicy)).
///
/// Each driver is a Tokio task. Dropping every clone never blocks and
/// never cancels a driver: it finishes the requests already submitted
/// (within the [close timeout](crate::ClientBuilder::close_timeout)) and ends.
#[derive(Debug, Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

/// Withdraws or abandons a request whose caller stopped waiting.
struct CancelGuard {
    commands: mpsc::UnboundedSender<Command>,
    ticket: u64,
    armed: bool,
}

impl Drop for CancelGuard {
    fn drop(&mut self) {
        if self.armed {
            let _ = self.commands.send(Command::Cancel(self.ticket));
        }
    }
}

/// A submitted request: await `reply`.
///
/// Fields drop in order: the reply channel closes before the guard sends
/// its cancel, so a request still queued in the driver is seen as
/// abandoned whichever arrives first.
struct Pending {
    reply: oneshot::Receiver<Result<(), RequestError>>,
    guard: CancelGuard,
}

impl Pending {
    async fn wait(mut self) -> Result<(), RequestError> {
        let result = (&mut self.reply).await;
        self.guard.armed = false;
        // The driver answers every request it took; a lost reply means the
        // driver itself is gone, after the request may have been written.
        result.unwrap_or(Err(RequestError::Unknown {
            cause: Cause::Closed,
        }))
    }
}

impl Client {
    /// Connects with the default settings.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future closes the connections made so far.
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<Client> {
        ClientBuilder::default().connect(addr).await
    }

    /// Settings for a new client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client over a transport the caller connected: any Tokio
    /// `AsyncRead + AsyncWrite` (TLS, a Unix socket, an in-memory
    /// duplex...). It has one connection and does
    /// not reconnect: once the transport ends, requests fail with
    /// [`RequestError::NotSent`]. Of the builder's settings, the
    /// connection ones (`connections`, `connect_timeout`, `nodelay`,
    /// `reconnect_backoff`) do not apply.
    ///
    /// ```no_run
    /// # async fn run() -> std::io::Result<()> {
    /// let stream = tokio::net::UnixStream::connect("/run/kairoi.sock").await?;
    /// let client = kairoi_tokio::Client::with_transport(stream, kairoi_tokio::Client::builder());
    /// # Ok(()) }
    /// ```
    pub fn with_transport<T>(io: T, builder: ClientBuilder) -> Client
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let slot = Slot::new();
        let live = slot.spawn(io, &builder);
        slot.install(live);
        Client {
            shared: Arc::new(Shared {
                builder,
                addrs: Vec::new(),
                slots: vec![slot],
                next_slot: AtomicUsize::new(0),
                next_ticket: AtomicU64::new(0),
                closed: AtomicBool::new(false),
            }),
        }
    }

    pub(crate) async fn start(
        builder: ClientBuilder,
        addrs: Vec<SocketAddr>,
    ) -> io::Result<Client> {
        let slots = (0..builder.connections).map(|_| Slot::new()).collect();
        let client = Client {
            shared: Arc::new(Shared {
                builder,
                addrs,
                slots,
                next_slot: AtomicUsize::new(0),
                next_ticket: AtomicU64::new(0),
                closed: AtomicBool::new(false),
            }),
        };
        for slot in &client.shared.slots {
            slot.sender(&client.shared.builder, &client.shared.addrs)
                .await
                .map_err(io::Error::from)?;
        }
        Ok(client)
    }

    /// Sends one instruction and waits for its outcome.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future gives up on the request. If none of its bytes
    /// were written it is withdrawn and never sent. If it was written, the
    /// server may still apply it; its identifier stays reserved until the
    /// late response arrives, so no later request can receive it.
    pub async fn execute(&self, instruction: &Instruction) -> Result<(), RequestError> {
        self.run(Body::Typed(instruction.clone())).await
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
        self.run(Body::Raw(body)).await
    }

    /// Schedules (or reschedules) `job` at `execution`.
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

    /// Creates or replaces the rule `rule` for jobs starting with `pattern`.
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

    /// Sends every instruction at once, pipelined over the pool, and
    /// returns their results in input order, one per instruction.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future gives up on every request of the batch that has
    /// no outcome yet, as [`Client::execute`] does for one.
    pub async fn execute_all(
        &self,
        instructions: impl IntoIterator<Item = Instruction>,
    ) -> Vec<Result<(), RequestError>> {
        let mut pending = Vec::new();
        for instruction in instructions {
            pending.push(self.submit(Body::Typed(instruction)).await);
        }
        let mut results = Vec::with_capacity(pending.len());
        for (p, body) in pending {
            let result = match p {
                Ok(p) => p.wait().await,
                Err(e) => Err(e),
            };
            results.push(self.retry(body, result).await);
        }
        results
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
        let deadline = instant_after(Instant::now(), self.shared.builder.close_timeout);
        for slot in &self.shared.slots {
            slot.close(deadline).await;
        }
    }

    /// Requests held by the connections now, waiting for room or for a
    /// response.
    pub fn in_flight(&self) -> usize {
        self.shared.slots.iter().map(Slot::load).sum()
    }

    async fn run(&self, body: Body) -> Result<(), RequestError> {
        let (pending, body) = self.submit(body).await;
        let result = match pending {
            Ok(p) => p.wait().await,
            Err(e) => Err(e),
        };
        self.retry(body, result).await
    }

    /// Sends the request again as long as the retry policy allows.
    async fn retry(
        &self,
        body: Option<Body>,
        result: Result<(), RequestError>,
    ) -> Result<(), RequestError> {
        let Some(body) = body else {
            return result;
        };
        let stopped = || self.shared.closed.load(Ordering::SeqCst);
        let policy = self.shared.builder.retry;
        mux::retry(policy, stopped, result, || async {
            let backoff = policy.backoff();
            if !backoff.is_zero() {
                tokio::time::sleep(backoff).await;
            }
            match self.submit(body.clone()).await.0 {
                Ok(p) => p.wait().await,
                Err(e) => Err(e),
            }
        })
        .await
    }

    /// Hands a request to the least busy connection.
    ///
    /// The body comes back only when the retry policy may send it again.
    async fn submit(&self, body: Body) -> (Result<Pending, RequestError>, Option<Body>) {
        let shared = &self.shared;
        let kept = |body: &Body| (shared.builder.retry.attempts() > 0).then(|| body.clone());
        if shared.closed.load(Ordering::SeqCst) {
            let e = RequestError::NotSent {
                cause: Cause::Closed,
            };
            return (Err(e), kept(&body));
        }
        let slot = self.pick();
        let commands = match slot.sender(&shared.builder, &shared.addrs).await {
            Ok(c) => c,
            Err(e) => return (Err(e), kept(&body)),
        };
        let now = Instant::now();
        let ticket = shared.next_ticket.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        let reply = Reply::new(tx, &slot.active);
        let kept = kept(&body);
        let job = Job::new(ticket, body, now, shared.builder.request_timeout, reply);
        if commands.send(Command::Send(Box::new(job))).is_err() {
            let e = RequestError::NotSent {
                cause: Cause::Closed,
            };
            return (Err(e), kept);
        }
        let pending = Pending {
            reply: rx,
            guard: CancelGuard {
                commands,
                ticket,
                armed: true,
            },
        };
        (Ok(pending), kept)
    }

    /// The connection with the fewest active requests, ties taken in turn.
    fn pick(&self) -> &Slot {
        let slots = &self.shared.slots;
        let start = self.shared.next_slot.fetch_add(1, Ordering::Relaxed);
        &slots[mux::least_loaded(slots.len(), start, |i| slots[i].load()).unwrap_or(0)]
    }
}
