//! Requests borrowed from the receive buffer:
//! [`Server::poll_event_ref`].

use crate::error::{DecodeError, InstructionError};
use crate::instruction::body::BodyRef;
use crate::instruction::borrowed::InstructionRef;

use super::{InvalidInstruction, Next, Request, Server, ServerEvent, Token};

/// One decoded request whose texts borrow the receive buffer, from
/// [`Server::poll_event_ref`].
#[derive(Debug)]
pub struct RequestRef<'a> {
    /// Pass it to [`Server::respond`]. It owns the identifier, so it
    /// outlives the borrow.
    pub token: Token,
    /// The parsed body.
    pub instruction: Result<InstructionRef<'a>, InvalidInstructionRef<'a>>,
    /// The body's arguments as they came (the identifier left out),
    /// valid or not: what a proxy forwards unchanged.
    pub body: BodyRef<'a>,
}

/// A body that is not a valid instruction, borrowed: see
/// [`InvalidInstruction`].
#[derive(Debug, Clone)]
pub struct InvalidInstructionRef<'a> {
    /// The body's arguments (the identifier left out).
    pub arguments: BodyRef<'a>,
    /// Why it is not a valid instruction.
    pub error: InstructionError,
}

/// What [`Server::poll_event_ref`] reports: [`ServerEvent`] with the
/// request borrowed.
#[derive(Debug)]
#[non_exhaustive]
pub enum ServerEventRef<'a> {
    /// A request to answer.
    Request(RequestRef<'a>),
    /// See [`ServerEvent::Ended`].
    Ended,
    /// See [`ServerEvent::Failed`].
    Failed(DecodeError),
}

impl RequestRef<'_> {
    /// The request with its texts copied out of the receive buffer.
    pub fn into_owned(self) -> Request {
        Request {
            token: self.token,
            instruction: match self.instruction {
                Ok(instruction) => Ok(instruction.to_instruction()),
                Err(invalid) => Err(InvalidInstruction {
                    arguments: invalid.arguments.to_texts(),
                    error: invalid.error,
                }),
            },
        }
    }
}

impl ServerEventRef<'_> {
    /// The event with its texts copied out of the receive buffer.
    pub fn into_owned(self) -> ServerEvent {
        match self {
            ServerEventRef::Request(request) => ServerEvent::Request(request.into_owned()),
            ServerEventRef::Ended => ServerEvent::Ended,
            ServerEventRef::Failed(e) => ServerEvent::Failed(e),
        }
    }
}

impl Server {
    /// The next event, like [`Server::poll_event`], with the request's
    /// texts borrowed from the receive buffer until the next call: no
    /// allocation and no reference count per request. The [`Token`] owns
    /// its identifier, so requests can still be answered later and in any
    /// order.
    ///
    /// ```
    /// use kairoi_proto::{Config, InstructionRef, Server, ServerEventRef, Status};
    /// let mut server = Server::new(Config::default());
    /// let _ = server.receive(b"7 SET app.mail.42 \"2030-01-01 08:00:00\"\n");
    /// let mut tokens = Vec::new();
    /// while let Some(ServerEventRef::Request(request)) = server.poll_event_ref() {
    ///     if let Ok(InstructionRef::Set { job, execution }) = request.instruction {
    ///         assert_eq!(job, "app.mail.42");
    ///         assert_eq!(execution.year(), 2030);
    ///     }
    ///     tokens.push(request.token);
    /// }
    /// for token in tokens {
    ///     server.respond(token, Status::Ok)?;
    /// }
    /// assert_eq!(server.poll_transmit(), Some(&b"7 OK\n"[..]));
    /// # Ok::<(), kairoi_proto::RespondError>(())
    /// ```
    #[must_use]
    #[inline]
    pub fn poll_event_ref(&mut self) -> Option<ServerEventRef<'_>> {
        Some(match self.next()? {
            Next::Frame => {
                let (frame, spans) = self.decoder.frame();
                let (id, spans) = spans.split_first().unwrap_or((&(0..0), &[]));
                let token = Token::from_frame(frame, id.clone());
                let body = BodyRef::new(frame, spans);
                let instruction =
                    InstructionRef::parse(&body).map_err(|error| InvalidInstructionRef {
                        arguments: body,
                        error,
                    });
                ServerEventRef::Request(RequestRef {
                    token,
                    instruction,
                    body,
                })
            }
            Next::Ended => ServerEventRef::Ended,
            Next::Failed(e) => ServerEventRef::Failed(e),
        })
    }
}
