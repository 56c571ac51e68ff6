//! What a test reads of the server: jobs, rules, the executions of the
//! jobs that fired, and the runs of shell runners.

use kairoi_proto::{DateTime, Runner};

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JobStatus {
    /// Waiting for its execution time.
    Planned,
    /// Fired; its runner is running now. A `SET` on it is answered `ERROR`.
    Triggered,
    /// Fired and its runner succeeded.
    Executed,
    /// Fired and its runner failed, or no rule matched it.
    Failed,
}

/// A job, as the test server holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct JobState {
    /// The job identifier.
    pub id: String,
    /// When it runs (or ran).
    pub execution: DateTime,
    /// Where it is in its life.
    pub status: JobStatus,
}

/// A rule, as the test server holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rule {
    /// The rule identifier.
    pub id: String,
    /// The job identifier prefix it matches (empty matches every job).
    pub pattern: String,
    /// What runs the matching jobs. The test server records the run and
    /// never executes it.
    pub runner: Runner,
}

/// One firing of a job against a rule, from
/// [`TestServer::executions`](crate::TestServer::executions).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Execution {
    /// The job identifier.
    pub job: String,
    /// The identifier of the rule that matched (the longest pattern).
    pub rule: String,
    /// The rule's runner at the time the job fired.
    pub runner: Runner,
    /// The job's execution time.
    pub scheduled: DateTime,
    /// The server's clock when the job fired.
    pub fired_at: DateTime,
}

/// What the runner of a fired job does, as decided by the hook given to
/// [`TestServer::set_run_outcome`](crate::TestServer::set_run_outcome).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RunOutcome {
    /// The runner succeeds: the job becomes [`JobStatus::Executed`] (the
    /// default).
    Executed,
    /// The runner fails: the job becomes [`JobStatus::Failed`].
    Failed,
    /// The runner keeps running: the job stays [`JobStatus::Triggered`]
    /// until [`TestServer::complete`](crate::TestServer::complete).
    Triggered,
}

impl RunOutcome {
    /// The status a job takes when its runner does this.
    pub(crate) fn status(self) -> JobStatus {
        match self {
            RunOutcome::Executed => JobStatus::Executed,
            RunOutcome::Failed => JobStatus::Failed,
            RunOutcome::Triggered => JobStatus::Triggered,
        }
    }
}

/// A `shell` runner that ran and ended, from
/// [`TestServer::shell_runs`](crate::TestServer::shell_runs).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShellRun {
    /// The job identifier, given to the command as its first parameter.
    pub job: String,
    /// The rule's command, run as `sh COMMAND JOB_ID`.
    pub command: String,
    /// How `sh` ended: its exit status, `None` when a signal ended it, or
    /// why it could not start.
    pub exit: Result<Option<i32>, String>,
    /// The status the job took.
    pub status: JobStatus,
}
