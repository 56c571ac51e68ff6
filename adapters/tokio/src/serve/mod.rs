//! The serving loop of a Kairoi-compatible server, on Tokio (feature
//! `serve`): accept connections, run the core's [`Server`] role on each,
//! hand every request to a [`Handler`], write its answer.
//!
//! [`serve`] is what a front for Kairoi needs and nothing else: a proxy
//! ([`crate::proxy`] is built on it), a gateway that checks or rewrites
//! requests, a stand-in for Kairoi in another process. Each request
//! reaches the handler decoded ([`RequestRef`]: its identifier stays with
//! the loop, its body is given both parsed and as it came), and the
//! handler says how it is answered ([`Reply`]): at once, or when a future
//! ends. Everything else is the loop's:
//!
//! - **Answers as Kairoi writes them.** Answers repeat the request's
//!   identifier unquoted, as the reference server does (see
//!   [`ServeOptions::with_identifier_echo`]); identifiers need not be
//!   unique, each request gets its own answer, and answers go out as they
//!   are ready, out of order.
//! - **Input decoded as Kairoi decodes it.** Each read (of at most 2 KiB)
//!   is decoded as lossy UTF-8 ([`LossyUtf8`](kairoi_proto::LossyUtf8)):
//!   bytes that are not UTF-8 become U+FFFD and the request goes on.
//! - **A malformed message, or the end of the client's input, closes the
//!   connection as the reference server does:** the answers already made
//!   (a [`Reply::Now`] before it) are written, the futures of the requests
//!   before it still run to their end (the requests are applied) but
//!   their answers are not written, and nothing after it is read. Other
//!   connections are not affected.
//! - **Bounded memory per connection.** A connection reads nothing more
//!   while its window of requests is full ([`Config::max_active`]), while
//!   the bodies its handlers hold pass
//!   [`ServeOptions::with_max_in_flight_bytes`], or while the answers its
//!   client has not read pass [`ServeOptions::with_max_unwritten`]; a
//!   client that reads none of its answers for the write timeout is
//!   dropped. A slow client slows only itself.
//! - **Graceful stop.** When `shutdown` completes, the listener closes,
//!   each connection stops reading, finishes the requests it has read and
//!   writes their answers, then closes; [`serve`] returns once all have,
//!   or once the drain timeout has passed.
//!
//! A handler that answers every valid `SET` with `OK` and keeps nothing:
//!
//! ```no_run
//! use kairoi_proto::{InstructionRef, RequestRef, Status};
//! use kairoi_tokio::serve::{Reply, ServeOptions, handler_fn, serve};
//!
//! # #[tokio::main] async fn main() -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:5678").await?;
//! let handler = handler_fn(|request: &RequestRef<'_>| match request.instruction {
//!     Ok(InstructionRef::Set { .. }) => Reply::Now(Status::Ok),
//!     // A future: answered when it ends, from a task of its own.
//!     Ok(_) => Reply::Later(Box::pin(async { Status::Ok })),
//!     Err(_) => Reply::Now(Status::Error),
//! });
//! let shutdown = async {
//!     let _ = tokio::signal::ctrl_c().await;
//! };
//! serve(listener, handler, ServeOptions::default(), shutdown).await
//! # }
//! ```
//!
//! [`Server`]: kairoi_proto::Server
//! [`Config::max_active`]: kairoi_proto::Config::max_active

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use kairoi_proto::{RequestRef, Status};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

mod connection;
mod counters;
mod options;

pub use counters::ServeCounters;
pub use options::{DEFAULT_MAX_ARGUMENTS, DEFAULT_MAX_MESSAGE_LEN, ServeOptions};

/// How long the accept loop waits after an error that may pass (too many
/// open files, say) before it accepts again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// How a request is answered, as its [`Handler`] says.
#[derive(Debug)]
pub enum Reply<F> {
    /// Answered at once, as the reference server answers an invalid body
    /// from its connection thread: written even when a malformed message
    /// follows on the connection.
    Now(Status),
    /// Answered when the future ends, as the reference server answers a
    /// valid request from its database loop. The future runs as a task of
    /// its own (so many run at once) and always runs to its end: if the
    /// connection closes first, on a malformed message or at the end of
    /// the client's input, its answer is not written.
    Later(F),
}

/// What a server built on [`serve`] does with each request.
///
/// `call` gets the decoded request: its parsed instruction, or why the
/// body is not one, and [`RequestRef::body`], the arguments as they came.
/// It runs on the connection's task, so it should only decide; slow work
/// goes in the future of a [`Reply::Later`]. Its answer is written with
/// the request's identifier (the loop keeps the
/// [`token`](RequestRef::token)). A future that panics is answered
/// `ERROR`.
///
/// A closure `Fn(&RequestRef<'_>) -> Reply<F>` is a handler through
/// [`handler_fn`].
pub trait Handler: Send + Sync + 'static {
    /// The future of a [`Reply::Later`].
    type Future: Future<Output = Status> + Send + 'static;

    /// How to answer `request`.
    fn call(&self, request: &RequestRef<'_>) -> Reply<Self::Future>;
}

/// A [`Handler`] made of a closure: see [`handler_fn`].
#[derive(Debug, Clone)]
pub struct HandlerFn<F>(F);

/// Makes a closure a [`Handler`]. Name the argument's type
/// (`|request: &RequestRef<'_>| ...`) so that it takes a request of any
/// lifetime.
pub fn handler_fn<F, Fut>(f: F) -> HandlerFn<F>
where
    F: Fn(&RequestRef<'_>) -> Reply<Fut> + Send + Sync + 'static,
    Fut: Future<Output = Status> + Send + 'static,
{
    HandlerFn(f)
}

impl<F, Fut> Handler for HandlerFn<F>
where
    F: Fn(&RequestRef<'_>) -> Reply<Fut> + Send + Sync + 'static,
    Fut: Future<Output = Status> + Send + 'static,
{
    type Future = Fut;

    fn call(&self, request: &RequestRef<'_>) -> Reply<Fut> {
        (self.0)(request)
    }
}

impl<H: Handler> Handler for Arc<H> {
    type Future = H::Future;

    fn call(&self, request: &RequestRef<'_>) -> Reply<H::Future> {
        H::call(self, request)
    }
}

/// A boxed future of a [`Reply::Later`], for handlers whose futures differ
/// in type.
pub type BoxStatus = Pin<Box<dyn Future<Output = Status> + Send + 'static>>;

/// Serves every connection `listener` accepts with `handler` until
/// `shutdown` completes, then stops gracefully (see the [module
/// docs](self)): the listener closes, each connection finishes the
/// requests it has read and writes their answers, and this returns once
/// every connection has closed or the drain timeout has passed (the
/// connections left are then dropped).
///
/// Must run within a Tokio runtime with the I/O and time drivers (as
/// `#[tokio::main]` sets up): each connection, and each
/// [`Reply::Later`] future, is a task of its own.
///
/// # Errors
///
/// An accept error that may pass (too many open files, a connection reset
/// before it was accepted) is logged and accepting goes on 50 ms later;
/// any other one stops the server gracefully and is returned.
///
/// # Cancel safety
///
/// Dropping the future drops the listener and every connection at once;
/// the futures of requests already handed to the handler still run to
/// their end.
pub async fn serve<H, S>(
    listener: TcpListener,
    handler: H,
    options: ServeOptions,
    shutdown: S,
) -> io::Result<()>
where
    H: Handler,
    S: Future<Output = ()>,
{
    let handler = Arc::new(handler);
    let options = Arc::new(options);
    let stop = CancellationToken::new();
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let mut failed = None;
    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let open = options.counters().accepted();
                    connections.spawn(connection::run(
                        stream,
                        handler.clone(),
                        options.clone(),
                        stop.clone(),
                        open,
                    ));
                }
                Err(e) if is_transient(&e) => {
                    tracing::warn!(error = %e, "accepting a connection failed; accepting again shortly");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accepting connections failed: stopping");
                    failed = Some(e);
                    break;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    stop.cancel();
    drain(&mut connections, &options).await;
    match failed {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Waits for every connection to close, at most the drain timeout; then
/// drops those left.
async fn drain(connections: &mut JoinSet<()>, options: &ServeOptions) {
    let all = async { while connections.join_next().await.is_some() {} };
    let finished = match options.drain_timeout() {
        Some(limit) => tokio::time::timeout(limit, all).await.is_ok(),
        None => {
            all.await;
            true
        }
    };
    if !finished {
        let left = connections.len();
        tracing::warn!(
            connections = left,
            "the drain timeout passed: dropping the connections left"
        );
        for _ in 0..left {
            options.counters().drop_connection();
        }
        connections.shutdown().await;
    }
}

/// Whether an accept error may pass: a connection that ended before it
/// was accepted, or a resource (descriptors, memory) short for now.
fn is_transient(e: &io::Error) -> bool {
    use io::ErrorKind::*;
    if matches!(
        e.kind(),
        ConnectionAborted
            | ConnectionReset
            | ConnectionRefused
            | Interrupted
            | WouldBlock
            | TimedOut
    ) {
        return true;
    }
    // EMFILE, ENFILE, ENOBUFS, ENOMEM on Linux and the BSDs.
    matches!(e.raw_os_error(), Some(23 | 24 | 12 | 105 | 55))
}
