//! One slot of the pool: a live connection, or how to make one again.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use kairoi_proto::{Cause, RequestError};
use smol::channel::{self, Sender};
use smol::future;
use smol::io::{AsyncRead, AsyncWrite};
use smol::lock::Mutex;
use smol::net::TcpStream;
use smol::{Task, Timer};

use crate::builder::ClientBuilder;
use kairoi_proto::mux::{Mux, Reconnect};

use crate::command::Command;
use crate::driver::Driver;

/// A running driver task and the way to reach it.
///
/// Dropping a smol [`Task`] cancels it, which would cut requests off
/// without their outcome, so a `Live` that goes away detaches its task
/// instead: the driver always ends on its own.
#[derive(Debug)]
pub(crate) struct Live {
    pub commands: Sender<Command>,
    task: Option<Task<()>>,
}

impl Drop for Live {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.detach();
        }
    }
}

#[derive(Debug, Default)]
struct State {
    live: Option<Live>,
    /// [`Slot::close`] was called: never connect again.
    closed: bool,
    reconnect: Reconnect,
}

/// One connection of the pool. It connects again on demand after the
/// previous connection ended.
#[derive(Debug)]
pub(crate) struct Slot {
    state: Mutex<State>,
    /// Requests this slot holds (queued, written or ending), for
    /// least-active selection and [`Client::in_flight`](crate::Client::in_flight).
    pub active: Arc<AtomicUsize>,
}

impl Slot {
    pub(crate) fn new() -> Self {
        Slot {
            state: Mutex::new(State::default()),
            active: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// A sender to a live driver, connecting first when there is none.
    pub(crate) async fn sender(
        &self,
        builder: &ClientBuilder,
        addrs: &[SocketAddr],
    ) -> Result<Sender<Command>, RequestError> {
        let mut state = self.state.lock().await;
        if let Some(live) = &state.live {
            if !live.commands.is_closed() {
                return Ok(live.commands.clone());
            }
        }
        state.live = None;
        if addrs.is_empty() || state.closed {
            // A closed client, or a client over a caller's transport, does
            // not connect again.
            return Err(RequestError::NotSent {
                cause: Cause::Closed,
            });
        }
        let (min, max) = builder.backoff;
        if let Some(at) = state.reconnect.next_attempt(min, max) {
            Timer::at(at).await;
        }
        match open(builder, addrs).await {
            Ok(stream) => {
                state.reconnect.succeeded();
                let live = self.spawn(stream, builder);
                let tx = live.commands.clone();
                state.live = Some(live);
                Ok(tx)
            }
            Err(cause) => {
                state.reconnect.failed(Instant::now());
                Err(RequestError::NotSent { cause })
            }
        }
    }

    /// Starts a driver task over `io`.
    pub(crate) fn spawn<T>(&self, io: T, builder: &ClientBuilder) -> Live
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (commands, rx) = channel::unbounded();
        let mux = Mux::new(
            builder.config,
            builder.request_timeout,
            builder.close_timeout,
        );
        let driver = Driver::new(io, mux, rx);
        Live {
            commands,
            task: Some(smol::spawn(driver)),
        }
    }

    /// Installs the connection of a new slot.
    pub(crate) fn install(&self, live: Live) {
        // The slot was just made: nothing else holds its lock.
        if let Some(mut state) = self.state.try_lock() {
            state.live = Some(live);
        }
    }

    /// Asks the driver to close, then waits for it to end. The slot never
    /// connects again.
    pub(crate) async fn close(&self, deadline: Instant) {
        let live = {
            let mut state = self.state.lock().await;
            state.closed = true;
            state.live.take()
        };
        if let Some(mut live) = live {
            let _ = live.commands.try_send(Command::Close { deadline });
            if let Some(task) = live.task.as_mut() {
                // If this wait is dropped, `live` detaches the task.
                task.await;
            }
        }
    }

    pub(crate) fn load(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }
}

/// Connects to the first address that answers within the timeout.
async fn open(builder: &ClientBuilder, addrs: &[SocketAddr]) -> Result<TcpStream, Cause> {
    let mut last = Cause::Closed;
    for &addr in addrs {
        let attempt = async { TcpStream::connect(addr).await.map(Some) };
        let expire = async {
            Timer::after(builder.connect_timeout).await;
            Ok(None)
        };
        let error = match future::or(attempt, expire).await {
            Ok(Some(stream)) => match stream.set_nodelay(builder.nodelay) {
                Ok(()) => return Ok(stream),
                Err(e) => e,
            },
            Ok(None) => io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no answer within {:?}", builder.connect_timeout),
            ),
            Err(e) => e,
        };
        last = Cause::Connect {
            addr: addr.to_string(),
            error: Arc::new(error),
        };
    }
    Err(last)
}
