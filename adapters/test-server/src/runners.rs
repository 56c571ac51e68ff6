//! Shell runners run for real: the commands of jobs that fire against a
//! `shell` rule, started as the reference server starts them, and the job
//! completed when the command ends.

use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use crate::lock;
use crate::records::{RunOutcome, ShellRun};
use crate::scheduler::Launch;
use crate::shared::Shared;

/// What a [`TestServer`](crate::TestServer) does with the `shell` runners
/// of the jobs that fire, chosen with
/// [`TestServerBuilder::shell_runners`](crate::TestServerBuilder::shell_runners).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ShellRunners {
    /// Record the execution and run nothing (the default): the job's
    /// outcome comes from [`TestServer::set_run_outcome`](crate::TestServer::set_run_outcome).
    #[default]
    Record,
    /// Run them as the reference server does: `sh COMMAND JOB_ID`, with
    /// standard input, output and error closed, the job
    /// [`Triggered`](crate::JobStatus::Triggered) while it runs. The job is
    /// [`Executed`](crate::JobStatus::Executed) when `sh` ends, whatever its
    /// exit status, and [`Failed`](crate::JobStatus::Failed) only when `sh`
    /// cannot be started: the reference server does not look at the exit
    /// status.
    Run,
    /// Run them as [`ShellRunners::Run`] does, but the job is
    /// [`Executed`](crate::JobStatus::Executed) only when the command exits
    /// with status 0, and [`Failed`](crate::JobStatus::Failed) otherwise,
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

/// How often the runner thread looks at its running commands.
const POLL: Duration = Duration::from_millis(5);

/// The runner thread: starts each command it receives, completes its job
/// when it ends, and kills the commands still running at shutdown.
pub(crate) fn run(shared: &Shared, mode: ShellRunners, launches: &Receiver<Launch>) {
    let mut running: Vec<(Launch, Child)> = Vec::new();
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
                Ok(child) => running.push((launch, child)),
                Err(e) => complete(shared, launch, Err(e.to_string()), RunOutcome::Failed),
            },
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => std::thread::sleep(POLL),
        }
        let mut i = 0;
        while i < running.len() {
            let ended = match running[i].1.try_wait() {
                Ok(Some(status)) => Some((Ok(status.code()), mode.outcome(status))),
                Ok(None) => None,
                Err(e) => Some((Err(e.to_string()), RunOutcome::Failed)),
            };
            match ended {
                Some((exit, outcome)) => {
                    let (launch, _) = running.swap_remove(i);
                    complete(shared, launch, exit, outcome);
                }
                None => i += 1,
            }
        }
    }
}

/// Ends the job's run and records it.
fn complete(
    shared: &Shared,
    launch: Launch,
    exit: Result<Option<i32>, String>,
    outcome: RunOutcome,
) {
    {
        let mut state = lock(&shared.state);
        state.complete(&launch.job, outcome);
        state.record_shell_run(ShellRun {
            job: launch.job,
            command: launch.command,
            exit,
            status: outcome.status(),
        });
    }
    shared.changed.notify_all();
}
