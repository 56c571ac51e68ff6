//! The listener, its accept loop, the timer that fires due jobs, and a
//! clean shutdown that joins every thread.

use std::collections::HashMap;
use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use kairoi_proto::Config;

use crate::TestServerBuilder;
use crate::connection;
use crate::faults::Faults;
use crate::lock;
use crate::runners::{self, ShellRunners};
use crate::scheduler::Scheduler;

/// The longest the timer sleeps without looking at the clock again (a
/// real clock may be moved by the system).
const TIMER_MAX_SLEEP: Duration = Duration::from_millis(500);

/// State shared by the server's threads and the [`TestServer`] handle.
///
/// [`TestServer`]: crate::TestServer
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) state: Mutex<Scheduler>,
    /// Notified when rules, jobs, the clock or the execution log change.
    pub(crate) changed: Condvar,
    pub(crate) faults: Faults,
    pub(crate) config: Config,
    pub(crate) shutdown: AtomicBool,
    pub(crate) accepted: AtomicUsize,
    pub(crate) open: AtomicUsize,
    pub(crate) requests: AtomicU64,
    /// The scheduler's tick: valid requests are applied and answered at
    /// the first tick after they are read (zero: at once).
    pub(crate) tick: Duration,
    /// When the first tick was.
    pub(crate) epoch: Instant,
}

impl Shared {
    /// The first tick after `t` (`t` itself with a zero tick).
    pub(crate) fn next_tick(&self, t: Instant) -> Instant {
        if self.tick.is_zero() {
            return t;
        }
        let since = t.saturating_duration_since(self.epoch).as_nanos();
        // Less than one tick, and than the time since the epoch.
        let into = since % self.tick.as_nanos();
        let into = Duration::from_nanos(u64::try_from(into).unwrap_or(u64::MAX));
        crate::instant_after(t, self.tick.saturating_sub(into))
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutdown.load(Ordering::Acquire)
    }

    /// Fires the jobs that are due and wakes whoever waits for changes.
    pub(crate) fn fire_due(&self) {
        let fired = lock(&self.state).fire_due();
        if fired > 0 {
            self.changed.notify_all();
        }
    }
}

/// The connections: a handle to close each open one (removed by its
/// thread as it ends, so that an ended connection's socket closes at
/// once), and every thread not yet joined.
#[derive(Debug, Default)]
struct Registry {
    open: Mutex<HashMap<u64, TcpStream>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Registry {
    /// Closes every open connection.
    fn close_all(&self) {
        for stream in lock(&self.open).values() {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// The running threads of a test server.
#[derive(Debug)]
pub(crate) struct Running {
    pub(crate) shared: Arc<Shared>,
    pub(crate) addr: SocketAddr,
    accept: Option<JoinHandle<()>>,
    timer: Option<JoinHandle<()>>,
    runner: Option<JoinHandle<()>>,
    connections: Arc<Registry>,
}

impl Running {
    pub(crate) fn start(setup: TestServerBuilder) -> io::Result<Running> {
        let listener = TcpListener::bind(setup.listen)?;
        let addr = listener.local_addr()?;
        let mut scheduler = Scheduler::new(setup.clock);
        let launches = match setup.shell {
            ShellRunners::Record => None,
            _ => {
                let (launcher, launches) = runners::channel();
                scheduler.set_launcher(Some(launcher));
                Some(launches)
            }
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(scheduler),
            changed: Condvar::new(),
            faults: Faults::new(),
            config: setup.config,
            shutdown: AtomicBool::new(false),
            accepted: AtomicUsize::new(0),
            open: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            tick: setup.tick,
            epoch: Instant::now(),
        });
        shared.faults.set_per_request_cost(setup.per_request_cost);
        let connections = Arc::new(Registry::default());
        let timer = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("kairoi-test-timer".into())
                .spawn(move || run_timer(&shared))?
        };
        let mut running = Running {
            shared: Arc::clone(&shared),
            addr,
            accept: None,
            timer: Some(timer),
            runner: None,
            connections: Arc::clone(&connections),
        };
        if let Some(launches) = launches {
            let shared = Arc::clone(&shared);
            let mode = setup.shell;
            running.runner = Some(
                thread::Builder::new()
                    .name("kairoi-test-runner".into())
                    .spawn(move || runners::run(&shared, mode, &launches))?,
            );
        }
        let accept = thread::Builder::new()
            .name("kairoi-test-accept".into())
            .spawn(move || accept_loop(&listener, &shared, &connections))?;
        running.accept = Some(accept);
        Ok(running)
    }

    /// Stops accepting, closes every connection and joins every thread.
    pub(crate) fn stop(&mut self) {
        self.shared.shutdown.store(true, Ordering::Release);
        self.shared.changed.notify_all();
        if let Some(accept) = self.accept.take() {
            // Wake the blocking accept. If even that fails the thread is
            // left to end at its next accept: it owns nothing but the
            // listener and a reference to the shared state.
            if TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)).is_ok() {
                let _ = accept.join();
            }
        }
        self.connections.close_all();
        let threads = std::mem::take(&mut *lock(&self.connections.threads));
        for handle in threads {
            let _ = handle.join();
        }
        if let Some(timer) = self.timer.take() {
            let _ = timer.join();
        }
        if let Some(runner) = self.runner.take() {
            let _ = runner.join();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>, connections: &Arc<Registry>) {
    let mut next_id = 0u64;
    loop {
        let accepted = listener.accept();
        if shared.is_shutting_down() {
            return;
        }
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of descriptors or an aborted handshake: try again.
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let Ok(handle) = stream.try_clone() else {
            continue;
        };
        let id = next_id;
        next_id += 1;
        shared.accepted.fetch_add(1, Ordering::Relaxed);
        shared.open.fetch_add(1, Ordering::AcqRel);
        lock(&connections.open).insert(id, handle);
        let for_thread = Arc::clone(shared);
        let registry = Arc::clone(connections);
        let spawned = thread::Builder::new()
            .name("kairoi-test-conn".into())
            .spawn(move || {
                connection::serve(&for_thread, stream);
                // The last handle on the socket: it closes now, and a peer
                // that still writes is reset.
                lock(&registry.open).remove(&id);
                {
                    // Under the lock, so that a waiter cannot miss the change.
                    let _state = lock(&for_thread.state);
                    for_thread.open.fetch_sub(1, Ordering::AcqRel);
                }
                for_thread.changed.notify_all();
            });
        let mut threads = lock(&connections.threads);
        // Forget the threads that ended.
        threads.retain(|h| !h.is_finished());
        match spawned {
            Ok(thread) => threads.push(thread),
            Err(_) => {
                shared.open.fetch_sub(1, Ordering::AcqRel);
                if let Some(handle) = lock(&connections.open).remove(&id) {
                    let _ = handle.shutdown(Shutdown::Both);
                }
            }
        }
        drop(threads);
        // A stop() that closed the connections while this one was being
        // registered missed it: close it here.
        if shared.is_shutting_down() {
            connections.close_all();
        }
    }
}

/// Fires due jobs when their time comes (real clock), or whenever the
/// state changes (a manual clock moved, a job set in the past).
fn run_timer(shared: &Shared) {
    let mut state = lock(&shared.state);
    loop {
        if shared.is_shutting_down() {
            return;
        }
        if state.fire_due() > 0 {
            shared.changed.notify_all();
        }
        let wait = state
            .next_wait()
            .map_or(TIMER_MAX_SLEEP, |w| w.min(TIMER_MAX_SLEEP));
        // A job due within the next second is fired when its second
        // starts; wait at least 1 ms so that rounding cannot spin.
        let wait = wait.max(Duration::from_millis(1));
        state = match shared.changed.wait_timeout(state, wait) {
            Ok((guard, _)) => guard,
            Err(poisoned) => poisoned.into_inner().0,
        };
    }
}
