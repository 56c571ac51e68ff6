//! [`IdentifierEcho`]: how a [`Server`](crate::Server) writes a request's
//! identifier back in its answer.

use bytes::BytesMut;

use crate::wire::encode_argument;

/// How a [`Server`](crate::Server) writes a request's identifier back in
/// its answer, chosen once per server with
/// [`Server::with_identifier_echo`](crate::Server::with_identifier_echo).
///
/// The reference Kairoi server writes the identifier back *as it decoded
/// it, without quoting it again* (`docs/protocol.md` §2 of the
/// repository): the request `"W X" SET ...` is answered `W X OK`, a line of
/// three arguments that no client can match, and the request `"" SET ...`
/// is answered ` OK`, a malformed line. Clients that work with it use
/// short, non-empty simple identifiers (as [`Client`](crate::Client)
/// does), which both modes write alike.
///
/// - [`IdentifierEcho::Quoted`], the default, writes the identifier as an
///   argument must be written, quoted and escaped when it needs it, so
///   that every identifier, whatever its bytes, comes back to the client
///   as the very identifier it sent. Choose it for a server of your own.
/// - [`IdentifierEcho::Unquoted`] writes it as the reference server does.
///   Choose it where a client must see exactly what Kairoi would send it:
///   a stand-in for Kairoi in tests, or a proxy in front of one.
///
/// ```
/// use kairoi_proto::{Config, IdentifierEcho, Server, ServerEvent, Status};
///
/// for (echo, answer) in [
///     (IdentifierEcho::Quoted, &b"\"W X\" OK\n"[..]),
///     (IdentifierEcho::Unquoted, &b"W X OK\n"[..]),
/// ] {
///     let mut server = Server::new(Config::default()).with_identifier_echo(echo);
///     let _ = server.receive(b"\"W X\" SET job \"2030-01-01 08:00:00\"\n");
///     let Some(ServerEvent::Request(request)) = server.poll_event() else {
///         unreachable!("one whole request was received");
///     };
///     server.respond(request.token, Status::Ok)?;
///     assert_eq!(server.poll_transmit(), Some(answer));
/// }
/// # Ok::<(), kairoi_proto::RespondError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum IdentifierEcho {
    /// Quoted and escaped as any argument is when it needs it (empty, or
    /// holding a space, a double quote or a line feed): every identifier
    /// round-trips. The default.
    #[default]
    Quoted,
    /// The identifier's text as decoded (quotes removed, escapes undone),
    /// written without quoting it again, as the reference server does. An
    /// identifier that needs quoting comes out as a line its client cannot
    /// match, or a malformed one; a line feed in it starts a new line.
    /// Only the client that chose such an identifier sees the result.
    Unquoted,
}

impl IdentifierEcho {
    /// Appends `identifier` to `out` in this mode.
    #[inline]
    pub(crate) fn write(self, out: &mut BytesMut, identifier: &[u8]) {
        match self {
            IdentifierEcho::Quoted => encode_argument(out, identifier),
            IdentifierEcho::Unquoted => out.extend_from_slice(identifier),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(echo: IdentifierEcho, identifier: &[u8]) -> BytesMut {
        let mut out = BytesMut::new();
        echo.write(&mut out, identifier);
        out
    }

    /// The two modes agree on every simple identifier, and differ exactly
    /// on those that need quotes.
    #[test]
    fn the_modes_differ_only_where_quoting_is_needed() {
        let cases: [(&[u8], &[u8]); 7] = [
            (b"0", b"0"),
            (b"zz9", b"zz9"),
            (b"", b"\"\""),
            (b"W X", b"\"W X\""),
            (b"a\"b", b"\"a\\\"b\""),
            (b"a\nb", b"\"a\nb\""),
            (b"back\\slash", b"back\\slash"),
        ];
        for (identifier, quoted) in cases {
            assert_eq!(written(IdentifierEcho::Quoted, identifier), quoted);
            assert_eq!(written(IdentifierEcho::Unquoted, identifier), identifier);
        }
        assert_eq!(IdentifierEcho::default(), IdentifierEcho::Quoted);
    }
}
