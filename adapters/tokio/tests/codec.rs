//! The tokio-util codec against the TestServer, in a `Framed` stack.

use futures_util::{SinkExt, StreamExt};
use kairoi_proto::EncodeError;
use kairoi_test_server::TestServer;
use kairoi_tokio::codec::{CodecError, KcpCodec};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

#[tokio::test]
async fn framed_requests_and_responses() {
    let server = TestServer::start().unwrap();
    let stream = TcpStream::connect(server.addr()).await.unwrap();
    let mut framed = Framed::new(stream, KcpCodec::default());
    framed
        .send(["a", "SET", "job \"1\"\n", "2999-01-01 00:00:00"])
        .await
        .unwrap();
    framed.send(["b", "UNSET", "job"]).await.unwrap();
    let mut answers = Vec::new();
    for _ in 0..2 {
        let message = framed.next().await.unwrap().unwrap();
        answers.push(
            message
                .iter()
                .map(|t| t.as_str().to_owned())
                .collect::<Vec<_>>(),
        );
    }
    answers.sort();
    assert_eq!(answers, [["a", "OK"], ["b", "ERROR"]]);
    assert!(server.job("job \"1\"\n").is_some());
}

#[tokio::test]
async fn the_encoder_refuses_what_the_server_would_choke_on() {
    let mut codec = KcpCodec::default();
    let mut buf = bytes::BytesMut::new();
    use tokio_util::codec::Encoder;
    assert!(matches!(
        codec.encode(["only-an-identifier"], &mut buf),
        Err(CodecError::Encode(EncodeError::TooFewArguments {
            count: 1
        }))
    ));
    let long = "x".repeat(70_000);
    assert!(matches!(
        codec.encode(["1", long.as_str()], &mut buf),
        Err(CodecError::Encode(EncodeError::MessageTooLong {
            limit: 65536,
            ..
        }))
    ));
    assert!(buf.is_empty(), "a refused message leaves nothing behind");
}

#[tokio::test]
async fn the_decoder_reports_malformed_and_truncated_streams() {
    use tokio_util::codec::Decoder;
    let mut codec = KcpCodec::default();
    let mut buf = bytes::BytesMut::from(&b"1 OK\n2 \"\\x\"\n"[..]);
    assert_eq!(codec.decode(&mut buf).unwrap().unwrap().len(), 2);
    assert!(matches!(codec.decode(&mut buf), Err(CodecError::Decode(_))));
    let mut codec = KcpCodec::default();
    let mut buf = bytes::BytesMut::from(&b"1 O"[..]);
    assert!(codec.decode(&mut buf).unwrap().is_none());
    assert!(matches!(
        codec.decode_eof(&mut buf),
        Err(CodecError::Decode(_))
    ));
}
