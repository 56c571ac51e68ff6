//! Typed request bodies: job `SET` and `RULE SET` with their runners.

use alloc::string::String;
use bytes::{BufMut, BytesMut};

use crate::datetime::DateTime;
use crate::error::{InstructionError, excerpt};
use crate::text::Text;
use crate::wire::encode_argument;

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

    fn parse(args: &[Text]) -> Result<Self, InstructionError> {
        let arity = |runner, expected| {
            if args.len() - 1 == expected {
                Ok(())
            } else {
                Err(InstructionError::RunnerArity {
                    runner,
                    expected,
                    found: args.len() - 1,
                })
            }
        };
        match args[0].as_bytes() {
            b"shell" => {
                arity("shell", 1)?;
                Ok(Runner::Shell {
                    command: args[1].clone(),
                })
            }
            b"amqp" => {
                arity("amqp", 3)?;
                Ok(Runner::Amqp {
                    dsn: args[1].clone(),
                    exchange: args[2].clone(),
                    routing_key: args[3].clone(),
                })
            }
            other => Err(InstructionError::UnknownRunner {
                name: excerpt(other),
            }),
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
    pub fn encode_body(&self, out: &mut BytesMut) {
        for arg in self.arguments().iter() {
            out.put_u8(b' ');
            match arg {
                Argument::Text(t) => encode_argument(out, t),
                Argument::DateTime(d) => {
                    out.put_u8(b'"');
                    out.extend_from_slice(&d.to_wire());
                    out.put_u8(b'"');
                }
            }
        }
    }

    /// Parses a request body (the arguments after the identifier), as a
    /// server does. Agrees with every strict vector of the reference server.
    pub fn parse(body: &[Text]) -> Result<Self, InstructionError> {
        let Some(name) = body.first() else {
            return Err(InstructionError::Empty);
        };
        match name.as_bytes() {
            b"SET" => {
                if body.len() != 3 {
                    return Err(InstructionError::Arity {
                        instruction: "SET",
                        expected: 2,
                        found: body.len() - 1,
                    });
                }
                let execution = DateTime::parse_wire(body[2].as_bytes()).map_err(|source| {
                    InstructionError::InvalidExecution {
                        value: excerpt(body[2].as_bytes()),
                        source,
                    }
                })?;
                Ok(Instruction::Set {
                    job: body[1].clone(),
                    execution,
                })
            }
            b"RULE" if body.get(1).is_some_and(|s| s == "SET") => {
                if body.len() < 5 {
                    return Err(InstructionError::Arity {
                        instruction: "RULE SET",
                        expected: 4,
                        found: body.len() - 2,
                    });
                }
                Ok(Instruction::RuleSet {
                    rule: body[2].clone(),
                    pattern: body[3].clone(),
                    runner: Runner::parse(&body[4..])?,
                })
            }
            _ => {
                let mut name = String::from(name.as_str());
                if name == "RULE" {
                    if let Some(sub) = body.get(1) {
                        name.push(' ');
                        name.push_str(sub.as_str());
                    }
                }
                Err(InstructionError::UnknownInstruction {
                    name: excerpt(name.as_bytes()),
                })
            }
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
