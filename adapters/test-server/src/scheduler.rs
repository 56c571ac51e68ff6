//! Rules and jobs in memory, with Kairoi's semantics (`docs/protocol.md`
//! §3 of the repository), and the channel through which jobs that fire
//! hand their shell runners to the runner thread.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Duration;

use kairoi_proto::{DateTime, Instruction, Runner, Status};

use crate::clock::{Clock, ClockState};
use crate::records::{Execution, JobState, JobStatus, Rule, RunOutcome, ShellRun};

/// The longest string the reference server stores, in bytes: it writes
/// each with a 16-bit length, and answers `ERROR` to a request with a
/// longer job identifier, rule identifier, pattern or runner argument.
const MAX_STORED: usize = u16::MAX as usize;

/// Whether one of a runner's arguments is longer than [`MAX_STORED`].
fn runner_too_long(runner: &Runner) -> bool {
    match runner {
        Runner::Shell { command } => command.len() > MAX_STORED,
        Runner::Amqp {
            dsn,
            exchange,
            routing_key,
        } => [dsn, exchange, routing_key]
            .iter()
            .any(|s| s.len() > MAX_STORED),
        _ => false,
    }
}

/// Decides what the runner of each fired job does.
pub(crate) type RunHook = Arc<dyn Fn(&Execution) -> RunOutcome + Send + Sync>;

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

/// A channel to the runner thread: the [`Launcher`] the scheduler fires
/// shell runs into, and the end the runner thread takes.
pub(crate) fn channel() -> (Launcher, Receiver<Launch>) {
    let (tx, rx) = mpsc::channel();
    (Launcher(tx), rx)
}

#[derive(Debug)]
struct RuleEntry {
    pattern: String,
    runner: Runner,
    /// When it was set; the latest wins between equal patterns.
    order: u64,
}

#[derive(Debug)]
struct JobEntry {
    execution: DateTime,
    status: JobStatus,
    /// Its key in `Scheduler::due` while it is planned.
    due_key: Option<(i64, u64)>,
}

/// The server's rules, jobs and execution log.
pub(crate) struct Scheduler {
    pub(crate) clock: ClockState,
    rules: BTreeMap<String, RuleEntry>,
    jobs: HashMap<String, JobEntry>,
    /// Planned jobs by (execution in Unix seconds, order set).
    due: BTreeMap<(i64, u64), String>,
    executions: Vec<Execution>,
    run_hook: Option<RunHook>,
    /// Runs shell runners for real, when the server was built to.
    launcher: Option<Launcher>,
    /// The shell runners that ended, in the order they ended.
    shell_runs: Vec<ShellRun>,
    next_order: u64,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("rules", &self.rules.len())
            .field("jobs", &self.jobs.len())
            .field("executions", &self.executions.len())
            .finish_non_exhaustive()
    }
}

impl Scheduler {
    pub(crate) fn new(clock: Clock) -> Self {
        Scheduler {
            clock: ClockState::new(clock),
            rules: BTreeMap::new(),
            jobs: HashMap::new(),
            due: BTreeMap::new(),
            executions: Vec::new(),
            run_hook: None,
            launcher: None,
            shell_runs: Vec::new(),
            next_order: 0,
        }
    }

    pub(crate) fn set_launcher(&mut self, launcher: Option<Launcher>) {
        self.launcher = launcher;
    }

    fn order(&mut self) -> u64 {
        self.next_order += 1;
        self.next_order
    }

    /// Applies a valid instruction and returns the answer.
    pub(crate) fn apply(&mut self, instruction: &Instruction) -> Status {
        match instruction {
            Instruction::Set { job, .. } if job.len() > MAX_STORED => Status::Error,
            Instruction::Set { job, execution } => self.set_job(job.as_str(), *execution),
            Instruction::RuleSet {
                rule,
                pattern,
                runner,
            } if rule.len() > MAX_STORED
                || pattern.len() > MAX_STORED
                || runner_too_long(runner) =>
            {
                Status::Error
            }
            Instruction::RuleSet {
                rule,
                pattern,
                runner,
            } => {
                let order = self.order();
                self.rules.insert(
                    rule.to_string(),
                    RuleEntry {
                        pattern: pattern.to_string(),
                        runner: runner.clone(),
                        order,
                    },
                );
                Status::Ok
            }
            // An instruction added to the core later: the reference server
            // knows only these two.
            _ => Status::Error,
        }
    }

    fn set_job(&mut self, id: &str, execution: DateTime) -> Status {
        let order = self.order();
        let key = (execution.unix_seconds(), order);
        match self.jobs.get_mut(id) {
            Some(entry) if entry.status == JobStatus::Triggered => return Status::Error,
            Some(entry) => {
                if let Some(old) = entry.due_key.take() {
                    self.due.remove(&old);
                }
                entry.execution = execution;
                entry.status = JobStatus::Planned;
                entry.due_key = Some(key);
            }
            None => {
                self.jobs.insert(
                    id.to_owned(),
                    JobEntry {
                        execution,
                        status: JobStatus::Planned,
                        due_key: Some(key),
                    },
                );
            }
        }
        self.due.insert(key, id.to_owned());
        Status::Ok
    }

    /// The rule whose pattern is the longest prefix of `job` (the latest
    /// set between equal patterns).
    fn matching_rule(&self, job: &str) -> Option<(&String, &RuleEntry)> {
        self.rules
            .iter()
            .filter(|(_, r)| job.starts_with(r.pattern.as_str()))
            .max_by_key(|(_, r)| (r.pattern.len(), r.order))
    }

    /// Fires every planned job whose time has come. Returns how many fired.
    pub(crate) fn fire_due(&mut self) -> usize {
        let now = self.clock.now();
        let mut fired = 0;
        while let Some(entry) = self.due.first_entry() {
            if entry.key().0 > now.unix_seconds() {
                break;
            }
            let id = entry.remove();
            fired += 1;
            let execution = self.matching_rule(&id).map(|(rule, entry)| Execution {
                job: id.clone(),
                rule: rule.clone(),
                runner: entry.runner.clone(),
                scheduled: DateTime::MIN,
                fired_at: now,
            });
            let Some(job) = self.jobs.get_mut(&id) else {
                continue;
            };
            job.due_key = None;
            job.status = match execution {
                None => JobStatus::Failed,
                Some(mut execution) => {
                    execution.scheduled = job.execution;
                    let launched = match (&self.launcher, &execution.runner) {
                        (Some(launcher), Runner::Shell { command }) => launcher.launch(Launch {
                            job: id.clone(),
                            command: command.to_string(),
                        }),
                        _ => false,
                    };
                    let outcome = if launched {
                        // Triggered until the command ends.
                        RunOutcome::Triggered
                    } else {
                        self.run_hook
                            .as_ref()
                            .map_or(RunOutcome::Executed, |hook| hook(&execution))
                    };
                    self.executions.push(execution);
                    outcome.status()
                }
            };
        }
        fired
    }

    /// How long until the next planned job is due, on a real clock.
    pub(crate) fn next_wait(&self) -> Option<Duration> {
        let (&(seconds, _), _) = self.due.first_key_value()?;
        let at = DateTime::from_unix_seconds(seconds).ok()?;
        self.clock.until(at)
    }

    pub(crate) fn set_run_hook(&mut self, hook: Option<RunHook>) {
        self.run_hook = hook;
    }

    /// Ends the run of a Triggered job. Returns whether it was Triggered.
    pub(crate) fn complete(&mut self, id: &str, outcome: RunOutcome) -> bool {
        match self.jobs.get_mut(id) {
            Some(job) if job.status == JobStatus::Triggered => {
                job.status = outcome.status();
                true
            }
            _ => false,
        }
    }

    pub(crate) fn job(&self, id: &str) -> Option<JobState> {
        self.jobs.get(id).map(|j| JobState {
            id: id.to_owned(),
            execution: j.execution,
            status: j.status,
        })
    }

    /// Every job, sorted by identifier.
    pub(crate) fn jobs(&self) -> Vec<JobState> {
        let mut jobs: Vec<JobState> = self
            .jobs
            .iter()
            .map(|(id, j)| JobState {
                id: id.clone(),
                execution: j.execution,
                status: j.status,
            })
            .collect();
        jobs.sort_by(|a, b| a.id.cmp(&b.id));
        jobs
    }

    pub(crate) fn job_count(&self) -> usize {
        self.jobs.len()
    }

    /// Every rule, sorted by identifier.
    pub(crate) fn rules(&self) -> Vec<Rule> {
        self.rules
            .iter()
            .map(|(id, r)| Rule {
                id: id.clone(),
                pattern: r.pattern.clone(),
                runner: r.runner.clone(),
            })
            .collect()
    }

    pub(crate) fn executions(&self) -> &[Execution] {
        &self.executions
    }

    pub(crate) fn record_shell_run(&mut self, run: ShellRun) {
        self.shell_runs.push(run);
    }

    pub(crate) fn shell_runs(&self) -> &[ShellRun] {
        &self.shell_runs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime {
        s.parse().unwrap()
    }

    fn scheduler() -> Scheduler {
        Scheduler::new(Clock::Manual(at("2030-01-01 00:00:00")))
    }

    #[test]
    fn longest_prefix_wins_and_unmatched_jobs_fail() {
        let mut s = scheduler();
        let rule = |id: &str, pattern: &str| {
            Instruction::rule_set(id, pattern, Runner::shell(format!("run-{id}")))
        };
        assert_eq!(s.apply(&rule("all", "app.")), Status::Ok);
        assert_eq!(s.apply(&rule("mail", "app.mail.")), Status::Ok);
        let when = at("2030-01-01 00:00:10");
        for job in ["app.mail.1", "app.sms.1", "other"] {
            assert_eq!(s.apply(&Instruction::set(job, when)), Status::Ok);
        }
        assert_eq!(s.fire_due(), 0);
        s.clock.advance(Duration::from_secs(10));
        assert_eq!(s.fire_due(), 3);
        let rules: Vec<_> = s
            .executions()
            .iter()
            .map(|e| (e.job.as_str(), e.rule.as_str()))
            .collect();
        assert_eq!(rules, [("app.mail.1", "mail"), ("app.sms.1", "all")]);
        assert_eq!(s.job("other").unwrap().status, JobStatus::Failed);
        assert_eq!(s.job("app.mail.1").unwrap().status, JobStatus::Executed);
    }

    #[test]
    fn triggered_jobs_refuse_set_until_completed() {
        let mut s = scheduler();
        s.apply(&Instruction::rule_set("r", "", Runner::shell("x")));
        s.set_run_hook(Some(Arc::new(|_: &Execution| RunOutcome::Triggered)));
        let past = at("2029-01-01 00:00:00");
        assert_eq!(s.apply(&Instruction::set("j", past)), Status::Ok);
        assert_eq!(s.fire_due(), 1);
        assert_eq!(s.job("j").unwrap().status, JobStatus::Triggered);
        assert_eq!(s.apply(&Instruction::set("j", past)), Status::Error);
        assert!(s.complete("j", RunOutcome::Failed));
        assert!(!s.complete("j", RunOutcome::Failed));
        assert_eq!(s.job("j").unwrap().status, JobStatus::Failed);
        assert_eq!(s.apply(&Instruction::set("j", past)), Status::Ok);
        assert_eq!(s.job("j").unwrap().status, JobStatus::Planned);
    }

    #[test]
    fn rescheduling_moves_a_planned_job() {
        let mut s = scheduler();
        s.apply(&Instruction::set("j", at("2030-01-01 00:00:05")));
        s.apply(&Instruction::set("j", at("2030-01-01 01:00:00")));
        s.clock.advance(Duration::from_secs(60));
        assert_eq!(s.fire_due(), 0);
        assert_eq!(s.job("j").unwrap().status, JobStatus::Planned);
        assert_eq!(s.job_count(), 1);
    }
}
