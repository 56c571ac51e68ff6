//! One connection of a pool: a live driver, an attempt under way, or how
//! to make one again. No lock is ever held across a wait: connecting runs
//! in its own task, and callers wait for it with their own deadline.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use async_channel::{Receiver, Sender};
use futures_lite::io::{AsyncRead, AsyncWrite};

use super::driver::Driver;
use super::reply::Command;
use super::{Runtime, sleep_until};
use crate::backoff::Reconnect;
use crate::mux::Mux;
use crate::time::{deadline, instant_after};
use crate::{Cause, RequestError, ServerAddr, Settings, addr};

/// A running driver and the ways to reach it and to see it end.
#[derive(Debug)]
struct Live {
    commands: Sender<Command>,
    /// Closed by the driver when it ends.
    ended: Receiver<()>,
}

#[derive(Debug, Default)]
enum Link {
    /// No connection, and no attempt under way.
    #[default]
    Down,
    /// An attempt is under way; its end closes the channel.
    Connecting(Receiver<()>),
    Live(Live),
}

#[derive(Debug, Default)]
struct State {
    link: Link,
    /// [`Slot::close`] was called: never connect again.
    closed: bool,
    reconnect: Reconnect,
}

/// One connection of the pool.
#[derive(Debug, Default)]
pub(crate) struct Slot {
    state: Mutex<State>,
    /// Requests this slot holds (queued, written or ending), for
    /// least-loaded selection and `in_flight`.
    pub(crate) load: Arc<AtomicUsize>,
    /// Whether a driver is running, so that selection prefers live
    /// connections over one that is down.
    live: AtomicBool,
}

/// What [`Slot::sender`] found.
enum Found {
    Ready(Sender<Command>),
    Wait(Receiver<()>),
}

impl Slot {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the state half
        // changed: every change is one assignment.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether selection should prefer this slot.
    pub(crate) fn is_live(&self) -> bool {
        self.live.load(Ordering::Relaxed)
    }

    /// A sender to a live driver. When there is none, an attempt is
    /// started (or the one under way joined) and waited for until
    /// `deadline`. While the backoff after a failed attempt runs, the
    /// request fails at once with that attempt's error.
    pub(crate) async fn sender<R: Runtime>(
        self: &Arc<Self>,
        rt: &R,
        target: Option<&ServerAddr>,
        settings: &Settings,
        deadline: Option<Instant>,
    ) -> Result<Sender<Command>, RequestError> {
        let mut waited = false;
        loop {
            let done = match self.find(rt, target, settings, waited)? {
                Found::Ready(commands) => return Ok(commands),
                Found::Wait(done) => done,
            };
            waited = true;
            let attempt = async {
                let _ = done.recv().await;
                true
            };
            let expired = async {
                sleep_until(rt, deadline).await;
                false
            };
            if !futures_lite::future::or(attempt, expired).await {
                let cause = self.state().reconnect.last_error().cloned();
                let cause = cause.unwrap_or(Cause::Closed);
                return Err(RequestError::NotSent { cause });
            }
        }
    }

    fn find<R: Runtime>(
        self: &Arc<Self>,
        rt: &R,
        target: Option<&ServerAddr>,
        settings: &Settings,
        waited: bool,
    ) -> Result<Found, RequestError> {
        let mut state = self.state();
        let not_sent = |cause: Cause| Err(RequestError::NotSent { cause });
        if state.closed {
            return not_sent(Cause::Closed);
        }
        match &state.link {
            Link::Live(live) if !live.commands.is_closed() => {
                return Ok(Found::Ready(live.commands.clone()));
            }
            Link::Connecting(done) => return Ok(Found::Wait(done.clone())),
            Link::Live(_) | Link::Down => {}
        }
        self.live.store(false, Ordering::Relaxed);
        state.link = Link::Down;
        // A client over a caller's transport does not connect again.
        let Some(target) = target else {
            return not_sent(Cause::Closed);
        };
        // The attempt this caller waited for failed, or its backoff runs.
        let failed = if waited {
            state.reconnect.last_error()
        } else {
            state.reconnect.backing_off(Instant::now())
        };
        if let Some(cause) = failed {
            return not_sent(cause.clone());
        }
        let (tx, rx) = async_channel::bounded::<()>(1);
        state.link = Link::Connecting(rx.clone());
        let task = attempt(
            self.clone(),
            rt.clone(),
            target.clone(),
            settings.clone(),
            tx,
        );
        rt.spawn(Box::pin(task));
        Ok(Found::Wait(rx))
    }

    /// Installs a driver over `io`, a transport already connected.
    pub(crate) fn install<R: Runtime, T>(&self, rt: &R, io: T, settings: &Settings)
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let live = spawn_driver(rt, io, settings);
        let mut state = self.state();
        state.link = Link::Live(live);
        state.reconnect.succeeded();
        self.live.store(true, Ordering::Relaxed);
    }

    /// Asks the driver to close, then waits for it to end. The slot never
    /// connects again.
    pub(crate) async fn close(&self, deadline: Option<Instant>) {
        let link = {
            let mut state = self.state();
            state.closed = true;
            std::mem::take(&mut state.link)
        };
        self.live.store(false, Ordering::Relaxed);
        if let Link::Live(live) = link {
            let _ = live.commands.try_send(Command::Close { deadline });
            let _ = live.ended.recv().await;
        }
    }

    pub(crate) fn load(&self) -> usize {
        self.load.load(Ordering::Relaxed)
    }
}

/// One connection attempt (never started while a backoff runs): resolve
/// the address again, try each in turn, install the driver. Dropping
/// `done` at the end wakes every caller waiting for it.
async fn attempt<R: Runtime>(
    slot: Arc<Slot>,
    rt: R,
    target: ServerAddr,
    settings: Settings,
    done: Sender<()>,
) {
    let result = open(&rt, &target, &settings).await;
    let mut state = slot.state();
    match result {
        Ok(stream) if !state.closed => {
            drop(state);
            slot.install(&rt, stream, &settings);
        }
        // Closed in the meantime: the stream is dropped.
        Ok(_) => state.link = Link::Down,
        Err(cause) => {
            tracing::debug!(%cause, "connection attempt failed");
            state
                .reconnect
                .failed(Instant::now(), &settings.backoff, cause);
            state.link = Link::Down;
        }
    }
    drop(done);
}

/// Connects to the first address that answers within the timeout.
async fn open<R: Runtime>(
    rt: &R,
    target: &ServerAddr,
    settings: &Settings,
) -> Result<R::Stream, Cause> {
    let addrs = match target {
        ServerAddr::Resolved(addrs) => addrs.clone(),
        ServerAddr::Host(host) => rt
            .resolve(host.clone())
            .await
            .map_err(|e| Cause::connect(host, e))?,
    };
    let addrs = addr::non_empty(target, addrs).map_err(|e| Cause::connect(target, e))?;
    let mut last = Cause::Closed;
    for addr in addrs {
        let until = deadline(Instant::now(), settings.connect_timeout);
        let connect = async { Some(rt.connect(addr, settings.nodelay).await) };
        let expired = async {
            sleep_until(rt, until).await;
            None
        };
        let error = match futures_lite::future::or(connect, expired).await {
            Some(Ok(stream)) => return Ok(stream),
            Some(Err(e)) => e,
            None => std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!(
                    "no answer within {:?}",
                    settings.connect_timeout.unwrap_or_default()
                ),
            ),
        };
        last = Cause::connect(addr, error);
    }
    Err(last)
}

/// Starts a driver task over `io`.
fn spawn_driver<R: Runtime, T>(rt: &R, io: T, settings: &Settings) -> Live
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (commands, rx) = async_channel::unbounded();
    let (ended_tx, ended) = async_channel::bounded::<()>(1);
    let far = instant_after(Instant::now(), std::time::Duration::MAX);
    let driver = Driver::new(io, Mux::new(settings), rx, rt.timer(far));
    rt.spawn(Box::pin(async move {
        driver.await;
        drop(ended_tx);
    }));
    Live { commands, ended }
}
