//! A running test server: its listener, the timer that fires due jobs,
//! the shell runner thread, and a clean shutdown that joins every thread.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::TestServerBuilder;
use crate::listener::Listener;
use crate::lock;
use crate::runners::{self, ShellRunners};
use crate::scheduler::{self, Scheduler};
use crate::shared::Shared;

/// The longest the timer sleeps without looking at the clock again (a
/// real clock may be moved by the system).
const TIMER_MAX_SLEEP: Duration = Duration::from_millis(500);

/// The running threads of a test server.
#[derive(Debug)]
pub(crate) struct Running {
    pub(crate) shared: Arc<Shared>,
    pub(crate) addr: SocketAddr,
    listener: Option<Listener>,
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
            listener: None,
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
        running.listener = Some(Listener::start(listener, &shared)?);
        Ok(running)
    }

    /// Stops accepting, closes every connection and joins every thread.
    pub(crate) fn stop(&mut self) {
        self.shared.shutdown.store(true, Ordering::Release);
        self.shared.changed.notify_all();
        if let Some(listener) = self.listener.take() {
            listener.stop();
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
