//! Request bodies as the typed layer reads them: the arguments after the
//! identifier, whether owned [`Text`]s or ranges of a received frame, and
//! the one place that decides which instruction a body is.

use alloc::vec::Vec;
use bytes::Bytes;
use core::ops::Range;

use crate::datetime::DateTime;
use crate::error::{InstructionError, excerpt};
use crate::text::Text;
use crate::text::borrowed::TextRef;

/// Read access to the arguments of a request body, whether they are
/// [`Text`] values or ranges of a received frame (which the server parses
/// without building a list of texts first).
pub(crate) trait Body {
    /// The number of arguments.
    fn len(&self) -> usize;
    /// Argument `i`, borrowed; `i < len()`.
    fn bytes(&self, i: usize) -> &[u8];
}

/// A [`Body`] whose arguments can be taken as shared [`Text`]s.
pub(crate) trait TextBody: Body {
    /// Argument `i` as a shared [`Text`]; `i < len()`.
    fn text(&self, i: usize) -> Text;
}

impl Body for [Text] {
    #[inline]
    fn len(&self) -> usize {
        <[Text]>::len(self)
    }
    #[inline]
    fn bytes(&self, i: usize) -> &[u8] {
        self[i].as_bytes()
    }
}

impl TextBody for [Text] {
    #[inline]
    fn text(&self, i: usize) -> Text {
        self[i].clone()
    }
}

/// A body inside a received frame: the arguments are `frame[spans[i]]`,
/// already checked to be UTF-8.
pub(crate) struct FrameBody<'a> {
    pub(crate) frame: &'a Bytes,
    pub(crate) spans: &'a [Range<usize>],
}

impl Body for FrameBody<'_> {
    #[inline]
    fn len(&self) -> usize {
        self.spans.len()
    }
    #[inline]
    fn bytes(&self, i: usize) -> &[u8] {
        &self.frame[self.spans[i].clone()]
    }
}

impl TextBody for FrameBody<'_> {
    #[inline]
    fn text(&self, i: usize) -> Text {
        Text::from_checked(self.frame.slice(self.spans[i].clone()))
    }
}

/// The arguments of a request body borrowed from the receive buffer, as
/// they came ([`RequestRef::body`](crate::server::RequestRef::body), and
/// the arguments of a body that is not a valid instruction). The
/// identifier is not among them.
#[derive(Clone, Copy)]
pub struct BodyRef<'a> {
    frame: &'a [u8],
    spans: &'a [Range<usize>],
}

impl<'a> BodyRef<'a> {
    /// The arguments `frame[spans[i]]`, already checked to be UTF-8.
    #[inline]
    pub(crate) fn new(frame: &'a [u8], spans: &'a [Range<usize>]) -> Self {
        BodyRef { frame, spans }
    }

    /// The number of arguments.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether there is no argument.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Argument `i`, if there is one.
    #[inline]
    pub fn get(&self, i: usize) -> Option<TextRef<'a>> {
        let span = self.spans.get(i)?;
        self.frame.get(span.clone()).map(TextRef::from_checked)
    }

    /// The arguments in order.
    pub fn iter(&self) -> impl Iterator<Item = TextRef<'a>> + 'a {
        let frame = self.frame;
        self.spans
            .iter()
            .filter_map(move |span| frame.get(span.clone()).map(TextRef::from_checked))
    }

    /// Owned copies of the arguments.
    pub fn to_texts(&self) -> Vec<Text> {
        self.iter().map(|t| t.to_text()).collect()
    }
}

impl Body for BodyRef<'_> {
    #[inline]
    fn len(&self) -> usize {
        self.spans.len()
    }
    #[inline]
    fn bytes(&self, i: usize) -> &[u8] {
        self.frame.get(self.spans[i].clone()).unwrap_or_default()
    }
}

impl core::fmt::Debug for BodyRef<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Which instruction a valid body is; its texts sit at fixed positions
/// (`SET <job> <execution>`, `RULE SET <rule> <pattern> shell <command>`,
/// `RULE SET <rule> <pattern> amqp <dsn> <exchange> <routing key>`).
pub(crate) enum Shape {
    /// A job `SET`, its execution time parsed.
    Set(DateTime),
    /// A `RULE SET` with a `shell` runner.
    Shell,
    /// A `RULE SET` with an `amqp` runner.
    Amqp,
}

impl Shape {
    /// Checks a request body (the arguments after the identifier), as a
    /// server does. Agrees with every strict vector of the reference server.
    #[inline]
    pub(crate) fn of<B: Body + ?Sized>(body: &B) -> Result<Self, InstructionError> {
        if body.len() == 0 {
            return Err(InstructionError::Empty);
        }
        match body.bytes(0) {
            b"SET" => {
                if body.len() != 3 {
                    return Err(InstructionError::Arity {
                        instruction: "SET",
                        expected: 2,
                        found: body.len() - 1,
                    });
                }
                DateTime::parse_wire(body.bytes(2))
                    .map(Shape::Set)
                    .map_err(|source| InstructionError::InvalidExecution {
                        value: excerpt(body.bytes(2)),
                        source,
                    })
            }
            b"RULE" if body.len() > 1 && body.bytes(1) == b"SET" => {
                if body.len() < 5 {
                    return Err(InstructionError::Arity {
                        instruction: "RULE SET",
                        expected: 4,
                        found: body.len() - 2,
                    });
                }
                Self::runner(body)
            }
            first => {
                let mut name = Vec::from(first);
                if name == b"RULE" && body.len() > 1 {
                    name.push(b' ');
                    name.extend_from_slice(body.bytes(1));
                }
                Err(InstructionError::UnknownInstruction {
                    name: excerpt(&name),
                })
            }
        }
    }

    /// Checks the runner part of a `RULE SET` body, from argument 4.
    fn runner<B: Body + ?Sized>(body: &B) -> Result<Self, InstructionError> {
        let found = body.len() - 5;
        let arity = |runner, expected, shape| {
            if found == expected {
                Ok(shape)
            } else {
                Err(InstructionError::RunnerArity {
                    runner,
                    expected,
                    found,
                })
            }
        };
        match body.bytes(4) {
            b"shell" => arity("shell", 1, Shape::Shell),
            b"amqp" => arity("amqp", 3, Shape::Amqp),
            other => Err(InstructionError::UnknownRunner {
                name: excerpt(other),
            }),
        }
    }
}
