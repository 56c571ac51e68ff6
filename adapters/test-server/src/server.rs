//! A running test server: its listener, taken down and brought up again
//! on the same address to simulate a restart, the timer that fires due
//! jobs, the shell runner thread, and a clean shutdown that joins every
//! thread.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::TestServerBuilder;
use crate::listener::Listener;
use crate::lock;
use crate::runners::{self, ShellRunners};
use crate::scheduler::{self, Scheduler};
use crate::shared::Shared;

/// The longest the timer sleeps without looking at the clock again (a
/// real clock may be moved by the system).
const TIMER_MAX_SLEEP: Duration = Duration::from_millis(500);
/// How long bringing a server up tries to bind its address again while
/// the port is in use (by a socket closing, or another process).
const REBIND_FOR: Duration = Duration::from_secs(2);
/// The pause between two of those tries.
const REBIND_PAUSE: Duration = Duration::from_millis(10);

/// The running threads of a test server.
#[derive(Debug)]
pub(crate) struct Running {
    pub(crate) shared: Arc<Shared>,
    pub(crate) addr: SocketAddr,
    /// The listener and its connections while the server is up.
    listener: Mutex<Option<Listener>>,
    timer: Option<JoinHandle<()>>,
    runner: Option<JoinHandle<()>>,
}

impl Running {
    pub(crate) fn start(setup: TestServerBuilder) -> io::Result<Running> {
        let listener = TcpListener::bind(setup.listen)?;
        let addr = listener.local_addr()?;
        let mut scheduler = Scheduler::new(setup.clock);
        let launches = match setup.shell {
            ShellRunners::Record => None,
            _ => {
                let (launcher, launches) = scheduler::channel();
                scheduler.set_launcher(Some(launcher));
                Some(launches)
            }
        };
        let shared = Arc::new(Shared::new(scheduler, setup.config, setup.tick));
        shared.faults.set_per_request_cost(setup.per_request_cost);
        let timer = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("kairoi-test-timer".into())
                .spawn(move || run_timer(&shared))?
        };
        let mut running = Running {
            shared: Arc::clone(&shared),
            addr,
            listener: Mutex::new(None),
            timer: Some(timer),
            runner: None,
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
        *lock(&running.listener) = Some(Listener::start(listener, &shared)?);
        Ok(running)
    }

    /// Whether the server accepts connections.
    pub(crate) fn is_up(&self) -> bool {
        lock(&self.listener).is_some()
    }

    /// Closes the listener and every connection, and pauses the firing of
    /// jobs, until [`Running::bring_up`]. Does nothing while down.
    pub(crate) fn take_down(&self) {
        let mut listener = lock(&self.listener);
        if let Some(up) = listener.take() {
            self.shared.down.store(true, Ordering::Release);
            up.stop();
        }
    }

    /// Listens on the server's address again, then fires the jobs that
    /// became due while it was down. Does nothing while up.
    pub(crate) fn bring_up(&self) -> io::Result<()> {
        let mut listener = lock(&self.listener);
        if listener.is_some() {
            return Ok(());
        }
        let bound = bind_again(self.addr)?;
        *listener = Some(Listener::start(bound, &self.shared)?);
        self.shared.down.store(false, Ordering::Release);
        drop(listener);
        self.shared.fire_due();
        self.shared.changed.notify_all();
        Ok(())
    }

    /// Stops accepting, closes every connection and joins every thread.
    pub(crate) fn stop(&mut self) {
        self.shared.shutdown.store(true, Ordering::Release);
        self.shared.changed.notify_all();
        let listener = self
            .listener
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(up) = listener.take() {
            up.stop();
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

/// Binds `addr` again, trying for [`REBIND_FOR`] while it is in use.
fn bind_again(addr: SocketAddr) -> io::Result<TcpListener> {
    let deadline = Instant::now() + REBIND_FOR;
    loop {
        match TcpListener::bind(addr) {
            Err(e) if e.kind() == io::ErrorKind::AddrInUse && Instant::now() < deadline => {
                thread::sleep(REBIND_PAUSE);
            }
            bound => return bound,
        }
    }
}

/// Fires due jobs when their time comes (real clock), or whenever the
/// state changes (a manual clock moved, a job set in the past); none
/// while the server is down.
fn run_timer(shared: &Shared) {
    let mut state = lock(&shared.state);
    loop {
        if shared.is_shutting_down() {
            return;
        }
        let down = shared.is_down();
        if !down && state.fire_due() > 0 {
            shared.changed.notify_all();
        }
        let next = if down { None } else { state.next_wait() };
        let wait = next.map_or(TIMER_MAX_SLEEP, |w| w.min(TIMER_MAX_SLEEP));
        // A job due within the next second is fired when its second
        // starts; wait at least 1 ms so that rounding cannot spin.
        let wait = wait.max(Duration::from_millis(1));
        state = match shared.changed.wait_timeout(state, wait) {
            Ok((guard, _)) => guard,
            Err(poisoned) => poisoned.into_inner().0,
        };
    }
}
