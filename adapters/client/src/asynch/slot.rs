//! One connection of a pool: the channel to the driver task that owns it
//! for the client's whole life, connecting again as its [`Mux`] asks.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use async_channel::{Receiver, Sender};
use futures_lite::future::Boxed;
use futures_lite::io::{AsyncRead, AsyncWrite};

use super::driver::Driver;
use super::reply::Command;
use super::{Runtime, sleep_until};
use crate::mux::Mux;
use crate::stats::ServerCounters;
use crate::time::{deadline, instant_after};
use crate::{Cause, ServerAddr, Settings, addr};

/// Makes a new connection for a driver: `None` for a transport the
/// caller made, which is never replaced.
pub(crate) type Connector<T> = Option<Box<dyn FnMut() -> Boxed<Result<T, Cause>> + Send>>;

/// One connection of the pool.
#[derive(Debug)]
pub(crate) struct Slot {
    commands: Sender<Command>,
    /// Closed by the driver when it ends.
    ended: Receiver<()>,
    /// Requests this slot holds (queued, written or ending), for
    /// least-loaded selection and `in_flight`.
    pub(crate) load: Arc<AtomicUsize>,
    /// Whether a connection is up, so that selection prefers it over one
    /// that is down.
    live: Arc<AtomicBool>,
}

impl Slot {
    /// A slot over `io` (a connection already made, or none yet), whose
    /// driver makes new ones with `connect`.
    pub(crate) fn start<R: Runtime, T>(
        rt: &R,
        settings: &Settings,
        io: Option<T>,
        connect: Connector<T>,
        counters: Arc<ServerCounters>,
    ) -> Slot
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (commands, rx) = async_channel::unbounded();
        let (ended_tx, ended) = async_channel::bounded::<()>(1);
        let live = Arc::new(AtomicBool::new(false));
        let mut mux = Mux::new(settings, connect.is_some()).counting(counters);
        if io.is_some() {
            mux.connected(Instant::now());
            live.store(true, Ordering::Relaxed);
        }
        let far = instant_after(Instant::now(), std::time::Duration::MAX);
        let driver = Driver::new(io, connect, mux, rx, rt.timer(far), live.clone());
        rt.spawn(Box::pin(async move {
            driver.await;
            drop(ended_tx);
        }));
        Slot {
            commands,
            ended,
            load: Arc::new(AtomicUsize::new(0)),
            live,
        }
    }

    /// The channel to the driver.
    pub(crate) fn commands(&self) -> &Sender<Command> {
        &self.commands
    }

    /// Whether selection should prefer this slot.
    pub(crate) fn is_live(&self) -> bool {
        self.live.load(Ordering::Relaxed)
    }

    /// Asks the driver to close, then waits for it to end.
    pub(crate) async fn close(&self, deadline: Option<Instant>) {
        let _ = self.commands.try_send(Command::Close { deadline });
        let _ = self.ended.recv().await;
    }

    pub(crate) fn load(&self) -> usize {
        self.load.load(Ordering::Relaxed)
    }
}

/// A connector to `target` on `rt`.
pub(crate) fn connector<R: Runtime>(
    rt: &R,
    target: &ServerAddr,
    settings: &Settings,
) -> Connector<R::Stream> {
    let (rt, target, settings) = (rt.clone(), target.clone(), settings.clone());
    Some(Box::new(move || {
        let (rt, target, settings) = (rt.clone(), target.clone(), settings.clone());
        Box::pin(async move { open(&rt, &target, &settings).await })
    }))
}

/// Connects to the first address that answers within the timeout,
/// resolving a host name again first.
pub(crate) async fn open<R: Runtime>(
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
