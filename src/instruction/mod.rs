//! Typed request bodies: job `SET` and `RULE SET` with their runners.

use bytes::{BufMut, BytesMut};

use crate::datetime::DateTime;
use crate::error::InstructionError;
use crate::text::Text;
use crate::wire::encode_argument;

pub(crate) mod body;
pub(crate) mod borrowed;

pub use body::BodyRef;
pub(crate) use body::{Shape, TextBody};
pub use borrowed::{InstructionRef, RunnerRef};

/// A request body the typed layer knows. Other bodies are sent with
/// [`Client::send_arguments`](crate::Client::send_arguments).
///
/// ```
/// use kairoi_proto::{DateTime, Instruction, Runner};
/// let job = Instruction::set("app.mail.42", "2030-01-01 08:00:00".parse::<DateTime>()?);
/// let rule = Instruction::rule_set("mail", "app.mail.", Runner::shell("/bin/send-mail"));
/// assert_eq!(job.arguments().len(), 3);
/// assert_eq!(rule.arguments().len(), 6);
/// # Ok::<(), kairoi_proto::DateTimeError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[non_exhaustive]
pub enum Instruction {
    /// `SET <job> <execution>`: creates or reschedules a job.
    Set {
        /// The job identifier: any string, even empty.
        job: Text,
        /// When the job runs (UTC).
        execution: DateTime,
    },
    /// `RULE SET <rule> <pattern> <runner> <arguments...>`: creates or
    /// replaces a rule.
    RuleSet {
        /// The rule identifier.
        rule: Text,
        /// The job identifier prefix the rule matches (empty matches all).
        pattern: Text,
        /// What runs the matching jobs.
        runner: Runner,
    },
}

/// What runs the jobs that a rule matches.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[non_exhaustive]
pub enum Runner {
    /// `shell <command>`: runs `sh` with the command and the job identifier.
    Shell {
        /// A command or script path.
        command: Text,
    },
    /// `amqp <dsn> <exchange> <routing key>`: publishes the job identifier.
    Amqp {
        /// The server, as `amqp://user:pass@host:port/vhost`.
        dsn: Text,
        /// The exchange to publish to.
        exchange: Text,
        /// The routing key.
        routing_key: Text,
    },
}

/// The arguments of an [`Instruction`], in wire order, without copying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Argument<'a> {
    /// A text argument.
    Text(&'a [u8]),
    /// A date-time, written in its canonical form.
    DateTime(DateTime),
}

impl Runner {
    /// A `shell` runner.
    pub fn shell(command: impl Into<Text>) -> Self {
        Runner::Shell {
            command: command.into(),
        }
    }

    /// An `amqp` runner.
    pub fn amqp(
        dsn: impl Into<Text>,
        exchange: impl Into<Text>,
        routing_key: impl Into<Text>,
    ) -> Self {
        Runner::Amqp {
            dsn: dsn.into(),
            exchange: exchange.into(),
            routing_key: routing_key.into(),
        }
    }

    /// The runner's name on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            Runner::Shell { .. } => "shell",
            Runner::Amqp { .. } => "amqp",
        }
    }
}

impl Instruction {
    /// A job `SET`.
    pub fn set(job: impl Into<Text>, execution: DateTime) -> Self {
        Instruction::Set {
            job: job.into(),
            execution,
        }
    }

    /// A `RULE SET`.
    pub fn rule_set(rule: impl Into<Text>, pattern: impl Into<Text>, runner: Runner) -> Self {
        Instruction::RuleSet {
            rule: rule.into(),
            pattern: pattern.into(),
            runner,
        }
    }

    /// The body's arguments in wire order.
    pub fn arguments(&self) -> Arguments<'_> {
        let mut out = Arguments::default();
        match self {
            Instruction::Set { job, execution } => {
                out.push(Argument::Text(b"SET"));
                out.push(Argument::Text(job.as_bytes()));
                out.push(Argument::DateTime(*execution));
            }
            Instruction::RuleSet {
                rule,
                pattern,
                runner,
            } => {
                out.push(Argument::Text(b"RULE"));
                out.push(Argument::Text(b"SET"));
                out.push(Argument::Text(rule.as_bytes()));
                out.push(Argument::Text(pattern.as_bytes()));
                out.push(Argument::Text(runner.name().as_bytes()));
                match runner {
                    Runner::Shell { command } => out.push(Argument::Text(command.as_bytes())),
                    Runner::Amqp {
                        dsn,
                        exchange,
                        routing_key,
                    } => {
                        out.push(Argument::Text(dsn.as_bytes()));
                        out.push(Argument::Text(exchange.as_bytes()));
                        out.push(Argument::Text(routing_key.as_bytes()));
                    }
                }
            }
        }
        out
    }

    /// Appends the body to `out`, each argument preceded by one space.
    ///
    /// This writes exactly what encoding every item of
    /// [`Instruction::arguments`] would, without building the list.
    pub fn encode_body(&self, out: &mut BytesMut) {
        let text = |out: &mut BytesMut, t: &Text| {
            out.put_u8(b' ');
            encode_argument(out, t.as_bytes());
        };
        match self {
            Instruction::Set { job, execution } => {
                out.extend_from_slice(b" SET");
                text(out, job);
                // ` "YYYY-MM-DD HH:MM:SS"` in one fixed-size copy.
                let mut date = [b'"'; 22];
                date[0] = b' ';
                date[2..21].copy_from_slice(&execution.to_wire());
                out.extend_from_slice(&date);
            }
            Instruction::RuleSet {
                rule,
                pattern,
                runner,
            } => {
                out.extend_from_slice(b" RULE SET");
                text(out, rule);
                text(out, pattern);
                match runner {
                    Runner::Shell { command } => {
                        out.extend_from_slice(b" shell");
                        text(out, command);
                    }
                    Runner::Amqp {
                        dsn,
                        exchange,
                        routing_key,
                    } => {
                        out.extend_from_slice(b" amqp");
                        text(out, dsn);
                        text(out, exchange);
                        text(out, routing_key);
                    }
                }
            }
        }
    }

    /// The number of body arguments, as [`Instruction::arguments`] counts
    /// them.
    pub(crate) fn argument_count(&self) -> usize {
        match self {
            Instruction::Set { .. } => 3,
            Instruction::RuleSet { runner, .. } => match runner {
                Runner::Shell { .. } => 6,
                Runner::Amqp { .. } => 8,
            },
        }
    }

    /// Parses a request body (the arguments after the identifier), as a
    /// server does. Agrees with every strict vector of the reference server.
    pub fn parse(body: &[Text]) -> Result<Self, InstructionError> {
        Self::parse_body(body)
    }

    /// [`Instruction::parse`] over any [`Body`].
    pub(crate) fn parse_body<B: TextBody + ?Sized>(body: &B) -> Result<Self, InstructionError> {
        Ok(Self::from_shape(Shape::of(body)?, body))
    }

    /// The instruction of a body whose [`Shape`] is known.
    #[inline]
    pub(crate) fn from_shape<B: TextBody + ?Sized>(shape: Shape, body: &B) -> Self {
        match shape {
            Shape::Set(execution) => Instruction::Set {
                job: body.text(1),
                execution,
            },
            Shape::Shell => Instruction::RuleSet {
                rule: body.text(2),
                pattern: body.text(3),
                runner: Runner::Shell {
                    command: body.text(5),
                },
            },
            Shape::Amqp => Instruction::RuleSet {
                rule: body.text(2),
                pattern: body.text(3),
                runner: Runner::Amqp {
                    dsn: body.text(5),
                    exchange: body.text(6),
                    routing_key: body.text(7),
                },
            },
        }
    }
}

/// The arguments of an [`Instruction`], stored inline (an instruction has
/// at most 8).
#[derive(Debug, Clone, Copy, Default)]
pub struct Arguments<'a> {
    items: [Option<Argument<'a>>; 8],
    len: usize,
}

impl<'a> Arguments<'a> {
    fn push(&mut self, arg: Argument<'a>) {
        self.items[self.len] = Some(arg);
        self.len += 1;
    }

    /// The number of arguments.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there is no argument (never true for an instruction).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The arguments in wire order.
    pub fn iter(&self) -> impl Iterator<Item = Argument<'a>> + '_ {
        self.items[..self.len].iter().flatten().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The body written from the list of arguments, the plain way.
    fn via_arguments(instruction: &Instruction) -> BytesMut {
        let mut out = BytesMut::new();
        for arg in instruction.arguments().iter() {
            out.put_u8(b' ');
            match arg {
                Argument::Text(t) => encode_argument(&mut out, t),
                Argument::DateTime(d) => {
                    out.put_u8(b'"');
                    out.extend_from_slice(&d.to_wire());
                    out.put_u8(b'"');
                }
            }
        }
        out
    }

    #[test]
    fn encode_body_writes_the_arguments_in_order() {
        let when = DateTime::new(2026, 2, 3, 4, 5, 6).unwrap();
        let texts = [
            "",
            "plain",
            "two words",
            "a \"quote\"",
            "back\\slash",
            "line\nfeed",
            "🦀",
        ];
        let mut all = alloc::vec::Vec::new();
        for t in texts {
            all.push(Instruction::set(t, when));
            all.push(Instruction::rule_set(t, "app.", Runner::shell(t)));
            all.push(Instruction::rule_set("r", t, Runner::amqp(t, "x", t)));
        }
        for instruction in &all {
            let mut out = BytesMut::new();
            instruction.encode_body(&mut out);
            assert_eq!(out, via_arguments(instruction), "{instruction:?}");
            assert_eq!(instruction.argument_count(), instruction.arguments().len());
        }
    }
}
