//! [`InstructionRef`]: a typed request body borrowed from the receive
//! buffer.

use crate::datetime::DateTime;
use crate::error::InstructionError;
use crate::instruction::body::{BodyRef, Shape};
use crate::instruction::{Instruction, Runner};
use crate::text::borrowed::TextRef;

/// An [`Instruction`] whose texts are borrowed from the receive buffer, as
/// [`Server::poll_event_ref`](crate::Server::poll_event_ref) yields it:
/// decoding one costs no allocation and no reference count.
/// [`InstructionRef::to_instruction`] makes an owned copy.
///
/// ```
/// use kairoi_proto::{DateTime, Instruction, InstructionRef};
/// let job = Instruction::set("app.mail.42", "2030-01-01 08:00:00".parse::<DateTime>()?);
/// let borrowed = job.borrowed();
/// assert!(matches!(borrowed, InstructionRef::Set { job, .. } if job == "app.mail.42"));
/// assert_eq!(borrowed.to_instruction(), job);
/// # Ok::<(), kairoi_proto::DateTimeError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InstructionRef<'a> {
    /// `SET <job> <execution>`: creates or reschedules a job.
    Set {
        /// The job identifier: any string, even empty.
        job: TextRef<'a>,
        /// When the job runs (UTC).
        execution: DateTime,
    },
    /// `RULE SET <rule> <pattern> <runner> <arguments...>`: creates or
    /// replaces a rule.
    RuleSet {
        /// The rule identifier.
        rule: TextRef<'a>,
        /// The job identifier prefix the rule matches (empty matches all).
        pattern: TextRef<'a>,
        /// What runs the matching jobs.
        runner: RunnerRef<'a>,
    },
}

/// A [`Runner`] whose texts are borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RunnerRef<'a> {
    /// `shell <command>`: runs `sh` with the command and the job identifier.
    Shell {
        /// A command or script path.
        command: TextRef<'a>,
    },
    /// `amqp <dsn> <exchange> <routing key>`: publishes the job identifier.
    Amqp {
        /// The server, as `amqp://user:pass@host:port/vhost`.
        dsn: TextRef<'a>,
        /// The exchange to publish to.
        exchange: TextRef<'a>,
        /// The routing key.
        routing_key: TextRef<'a>,
    },
}

impl<'a> InstructionRef<'a> {
    /// Parses a request body borrowed from a frame, like
    /// [`Instruction::parse`].
    #[inline]
    pub(crate) fn parse(body: &BodyRef<'a>) -> Result<Self, InstructionError> {
        let text = |i| body.get(i).unwrap_or_default();
        Ok(match Shape::of(body)? {
            Shape::Set(execution) => InstructionRef::Set {
                job: text(1),
                execution,
            },
            Shape::Shell => InstructionRef::RuleSet {
                rule: text(2),
                pattern: text(3),
                runner: RunnerRef::Shell { command: text(5) },
            },
            Shape::Amqp => InstructionRef::RuleSet {
                rule: text(2),
                pattern: text(3),
                runner: RunnerRef::Amqp {
                    dsn: text(5),
                    exchange: text(6),
                    routing_key: text(7),
                },
            },
        })
    }

    /// An owned copy.
    pub fn to_instruction(&self) -> Instruction {
        match *self {
            InstructionRef::Set { job, execution } => Instruction::Set {
                job: job.to_text(),
                execution,
            },
            InstructionRef::RuleSet {
                rule,
                pattern,
                runner,
            } => Instruction::RuleSet {
                rule: rule.to_text(),
                pattern: pattern.to_text(),
                runner: runner.to_runner(),
            },
        }
    }
}

impl RunnerRef<'_> {
    /// The runner's name on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            RunnerRef::Shell { .. } => "shell",
            RunnerRef::Amqp { .. } => "amqp",
        }
    }

    /// An owned copy.
    pub fn to_runner(&self) -> Runner {
        match *self {
            RunnerRef::Shell { command } => Runner::Shell {
                command: command.to_text(),
            },
            RunnerRef::Amqp {
                dsn,
                exchange,
                routing_key,
            } => Runner::Amqp {
                dsn: dsn.to_text(),
                exchange: exchange.to_text(),
                routing_key: routing_key.to_text(),
            },
        }
    }
}

impl Instruction {
    /// The instruction with its texts borrowed.
    pub fn borrowed(&self) -> InstructionRef<'_> {
        match self {
            Instruction::Set { job, execution } => InstructionRef::Set {
                job: job.into(),
                execution: *execution,
            },
            Instruction::RuleSet {
                rule,
                pattern,
                runner,
            } => InstructionRef::RuleSet {
                rule: rule.into(),
                pattern: pattern.into(),
                runner: runner.borrowed(),
            },
        }
    }
}

impl Runner {
    /// The runner with its texts borrowed.
    pub fn borrowed(&self) -> RunnerRef<'_> {
        match self {
            Runner::Shell { command } => RunnerRef::Shell {
                command: command.into(),
            },
            Runner::Amqp {
                dsn,
                exchange,
                routing_key,
            } => RunnerRef::Amqp {
                dsn: dsn.into(),
                exchange: exchange.into(),
                routing_key: routing_key.into(),
            },
        }
    }
}

impl From<InstructionRef<'_>> for Instruction {
    fn from(i: InstructionRef<'_>) -> Self {
        i.to_instruction()
    }
}

impl PartialEq<Instruction> for InstructionRef<'_> {
    fn eq(&self, other: &Instruction) -> bool {
        *self == other.borrowed()
    }
}

impl PartialEq<InstructionRef<'_>> for Instruction {
    fn eq(&self, other: &InstructionRef<'_>) -> bool {
        self.borrowed() == *other
    }
}
