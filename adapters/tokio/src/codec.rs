//! [`KcpCodec`]: KCP messages for `tokio_util::codec::Framed`.
//!
//! For users with their own `Framed` stack (a proxy, a test peer, a server).
//! [`Client`](crate::Client) does not build on it: `SinkExt::send` is not
//! cancel-safe (a dropped `send` future may leave its item buffered, half
//! written, or lost, with no way to tell which), and a KCP client has to
//! know exactly which requests left the socket to tell
//! [`NotSent`](crate::RequestError::NotSent) from
//! [`Unknown`](crate::RequestError::Unknown).

use bytes::BytesMut;
use kairoi_proto::wire::{Decoder as WireDecoder, encode_message_checked};
use kairoi_proto::{Config, DecodeError, EncodeError, Text};
use tokio_util::codec::{Decoder, Encoder};

/// Decodes KCP messages into their arguments (identifier first) and
/// encodes argument lists, quoting as needed.
///
/// ```
/// use bytes::BytesMut;
/// use kairoi_tokio::codec::KcpCodec;
/// use tokio_util::codec::{Decoder, Encoder};
///
/// let mut codec = KcpCodec::default();
/// let mut buf = BytesMut::new();
/// codec.encode(["7", "SET", "my job", "2030-01-01 00:00:00"], &mut buf)?;
/// assert_eq!(&buf[..], b"7 SET \"my job\" \"2030-01-01 00:00:00\"\n");
/// let message = codec.decode(&mut buf)?.expect("a whole message");
/// assert_eq!(message[2], "my job");
/// # Ok::<(), kairoi_tokio::codec::CodecError>(())
/// ```
#[derive(Debug)]
pub struct KcpCodec {
    decoder: WireDecoder,
    config: Config,
}

impl KcpCodec {
    /// A codec with the limits of `config`.
    pub fn new(config: Config) -> Self {
        KcpCodec {
            decoder: WireDecoder::new(config),
            config,
        }
    }
}

impl Default for KcpCodec {
    fn default() -> Self {
        KcpCodec::new(Config::default())
    }
}

/// Why the codec failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The peer sent bytes that are not a valid message.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A message to encode breaks a limit (too few or too many arguments,
    /// too long); nothing was written.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The transport failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl Decoder for KcpCodec {
    type Item = Vec<Text>;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Vec<Text>>, CodecError> {
        if !src.is_empty() {
            self.decoder.extend(src);
            src.clear();
        }
        match self.decoder.next_frame()? {
            Some(_) => Ok(Some(self.decoder.take_message())),
            None => Ok(None),
        }
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Vec<Text>>, CodecError> {
        match self.decode(src)? {
            Some(message) => Ok(Some(message)),
            None => {
                self.decoder.finish()?;
                Ok(None)
            }
        }
    }
}

impl<I> Encoder<I> for KcpCodec
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    type Error = CodecError;

    fn encode(&mut self, item: I, dst: &mut BytesMut) -> Result<(), CodecError> {
        let args = item.into_iter().map(Utf8);
        encode_message_checked(dst, args, &self.config)?;
        Ok(())
    }
}

/// A text argument as the bytes the encoder takes.
struct Utf8<A>(A);

impl<A: AsRef<str>> AsRef<[u8]> for Utf8<A> {
    fn as_ref(&self) -> &[u8] {
        self.0.as_ref().as_bytes()
    }
}
