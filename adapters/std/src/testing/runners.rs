//! Shell runners run for real: the commands of jobs that fire against a
//! `shell` rule, started as the reference server starts them, and the job
//! completed when the command ends.

use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use super::lock;
use super::scheduler::RunOutcome;
use super::server::Shared;

/// What a [`TestServer`](super::TestServer) does with the `shell` runners
/// of the jobs that fire, chosen with
/// [`TestServerBuilder::shell_runners`](super::TestServerBuilder::shell_runners).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ShellRunners {
    /// Record the execution and run nothing (the default): the job's
    /// outcome comes from [`TestServer::set_run_outcome`](super::TestServer::set_run_outcome).
    #[default]
    Record,
    /// Run them as the reference server does: `sh COMMAND JOB_ID`, with
    /// standard input, output and error closed, the job
    /// [`Triggered`](super::JobStatus::Triggered) while it runs. The job is
    /// [`Executed`](super::JobStatus::Executed) when `sh` ends, whatever its
    /// exit status, and [`Failed`](super::JobStatus::Failed) only when `sh`
    /// cannot be started: the reference server does not look at the exit
    /// status.
    Run,
    /// Run them as [`ShellRunners::Run`] does, but the job is
    /// [`Executed`](super::JobStatus::Executed) only when the command exits
    /// with status 0, and [`Failed`](super::JobStatus::Failed) otherwise,
    /// as Kairoi's documentation describes it.
    RunCheckingStatus,
}

impl ShellRunners {
    /// The outcome of a run that ended with `status`.
    fn outcome(self, status: ExitStatus) -> RunOutcome {
        match self {
            ShellRunners::RunCheckingStatus if !status.success() => RunOutcome::Failed,
            _ => RunOutcome::Executed,
        }
    }
}

/// A shell runner to start: `sh command job`.
#[derive(Debug)]
pub(crate) struct Launch {
    pub(crate) job: String,
    pub(crate) command: String,
}

/// Hands shell runners to the runner thread.
#[derive(Debug, Clone)]
pub(crate) struct Launcher(Sender<Launch>);

impl Launcher {
    /// Queues `launch`. Returns whether the runner thread took it (it
    /// stops only when the server shuts down).
    pub(crate) fn launch(&self, launch: Launch) -> bool {
        self.0.send(launch).is_ok()
    }
}

/// How often the runner thread looks at its running commands.
const POLL: Duration = Duration::from_millis(5);

/// A channel to the runner thread, and the end [`run`] takes.
pub(crate) fn channel() -> (Launcher, Receiver<Launch>) {
    let (tx, rx) = mpsc::channel();
    (Launcher(tx), rx)
}

/// The runner thread: starts each command it receives, completes its job
/// when it ends, and kills the commands still running at shutdown.
pub(crate) fn run(shared: &Shared, mode: ShellRunners, launches: &Receiver<Launch>) {
    let mut running: Vec<(String, Child)> = Vec::new();
    loop {
        if shared.is_shutting_down() {
            for (_, mut child) in running {
                let _ = child.kill();
                let _ = child.wait();
            }
            return;
        }
        match launches.recv_timeout(POLL) {
            Ok(launch) => match Command::new("sh")
                .arg(&launch.command)
                .arg(&launch.job)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
            {
                Ok(child) => running.push((launch.job, child)),
                Err(_) => complete(shared, &launch.job, RunOutcome::Failed),
            },
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => std::thread::sleep(POLL),
        }
        running.retain_mut(|(job, child)| match child.try_wait() {
            Ok(Some(status)) => {
                complete(shared, job, mode.outcome(status));
                false
            }
            Ok(None) => true,
            Err(_) => {
                complete(shared, job, RunOutcome::Failed);
                false
            }
        });
    }
}

fn complete(shared: &Shared, job: &str, outcome: RunOutcome) {
    lock(&shared.state).complete(job, outcome);
    shared.changed.notify_all();
}
