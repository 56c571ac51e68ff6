//! One slot of the pool: a live connection, or how to make one again.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kairoi_proto::{Cause, RequestError};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinHandle;

use crate::builder::Builder;
use crate::command::{Command, instant_after};
use crate::driver::Driver;

/// A running driver task and the way to reach it.
#[derive(Debug)]
pub(crate) struct Live {
    pub commands: mpsc::UnboundedSender<Command>,
    pub task: JoinHandle<()>,
}

#[derive(Debug, Default)]
struct State {
    live: Option<Live>,
    failures: u32,
    last_failure: Option<Instant>,
}

/// One connection of the pool. It connects again on demand after the
/// previous connection ended.
#[derive(Debug)]
pub(crate) struct Slot {
    state: Mutex<State>,
    /// Requests this slot's driver holds, for least-active selection.
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
        builder: &Builder,
        addrs: &[SocketAddr],
    ) -> Result<mpsc::UnboundedSender<Command>, RequestError> {
        let mut state = self.state.lock().await;
        if let Some(live) = &state.live {
            if !live.commands.is_closed() {
                return Ok(live.commands.clone());
            }
        }
        state.live = None;
        if addrs.is_empty() {
            // A client over a caller's transport cannot connect again.
            return Err(RequestError::NotSent {
                cause: Cause::Closed,
            });
        }
        if let Some(last) = state.last_failure {
            let wait = backoff(builder, state.failures);
            tokio::time::sleep_until(instant_after(last, wait).into()).await;
        }
        match open(builder, addrs).await {
            Ok(stream) => {
                state.failures = 0;
                state.last_failure = None;
                let live = self.spawn(stream, builder);
                let tx = live.commands.clone();
                state.live = Some(live);
                Ok(tx)
            }
            Err(cause) => {
                state.failures = state.failures.saturating_add(1);
                state.last_failure = Some(Instant::now());
                Err(RequestError::NotSent { cause })
            }
        }
    }

    /// Starts a driver task over `io`.
    pub(crate) fn spawn<T>(&self, io: T, builder: &Builder) -> Live
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (commands, rx) = mpsc::unbounded_channel();
        let driver = Driver::new(
            io,
            builder.config,
            builder.request_timeout,
            rx,
            self.active.clone(),
        );
        Live {
            commands,
            task: tokio::spawn(driver),
        }
    }

    /// Installs an already running connection.
    pub(crate) fn install(&self, live: Live) {
        if let Ok(mut state) = self.state.try_lock() {
            state.live = Some(live);
        }
    }

    /// Asks the driver to close and waits for it to end.
    pub(crate) async fn close(&self, deadline: Instant) {
        let live = self.state.lock().await.live.take();
        if let Some(live) = live {
            let _ = live.commands.send(Command::Close { deadline });
            let _ = live.task.await;
        }
    }

    pub(crate) fn load(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }
}

/// Connects to the first address that answers within the timeout.
async fn open(builder: &Builder, addrs: &[SocketAddr]) -> Result<TcpStream, Cause> {
    let mut last = Cause::Closed;
    for addr in addrs {
        let connect = TcpStream::connect(addr);
        let error = match tokio::time::timeout(builder.connect_timeout, connect).await {
            Ok(Ok(stream)) => match stream.set_nodelay(builder.nodelay) {
                Ok(()) => return Ok(stream),
                Err(e) => e,
            },
            Ok(Err(e)) => e,
            Err(_) => io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no answer within {:?}", builder.connect_timeout),
            ),
        };
        last = Cause::Connect {
            addr: addr.to_string(),
            error: Arc::new(error),
        };
    }
    Err(last)
}

/// The wait before the next attempt after `failures` failed ones in a row.
fn backoff(builder: &Builder, failures: u32) -> Duration {
    let (min, max) = builder.backoff;
    min.saturating_mul(1 << failures.saturating_sub(1).min(16))
        .min(max)
}
