//! A peer that does not speak KCP: an HTTP server answering
//! `400 Bad Request` to whatever it reads. The request is unknown (it was
//! written), and the message says the answer was not KCP.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;

use common::{TempDir, cli, code, run, text, write_jsonl};

/// A server on a free port that answers every connection with an HTTP
/// 400 once it has read something, then closes it; gives its address.
fn http_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0; 4096];
            if matches!(stream.read(&mut buf), Ok(n) if n > 0) {
                let _ = stream.write_all(
                    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        }
    });
    addr
}

#[test]
fn set_against_an_http_server_says_its_answer_is_not_kcp() {
    let addr = http_server();
    let out = run(cli(&addr).args(["set", "x", "+1d"]));
    let (_, stderr) = text(&out);
    assert_eq!(code(&out), 3, "{stderr}");
    assert!(
        stderr.contains("=> unknown: ")
            && stderr.contains("answer was not KCP")
            && stderr.contains("4 arguments, expected 2")
            && stderr.contains("is this a Kairoi server?"),
        "{stderr}"
    );
}

#[test]
fn import_against_an_http_server_says_so_too() {
    let addr = http_server();
    let dir = TempDir::new("not-kcp");
    let file = dir.path("jobs.jsonl");
    write_jsonl(&file, "h.", 3, "2030-01-01 08:00:00");
    let out = run(cli(&addr).arg("import").arg(&file));
    let (_, stderr) = text(&out);
    assert!([2, 3].contains(&code(&out)), "{stderr}");
    assert!(
        stderr.contains("not KCP") && stderr.contains("is this a Kairoi server?"),
        "{stderr}"
    );
}
