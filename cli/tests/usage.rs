//! Usage errors found before anything is sent: a server address that is
//! not `host:port`, a timeout of 0; and what `serve --help` and
//! `rule --help` show.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{BIN, cli, code, run, text};

#[test]
fn an_address_without_a_port_is_a_usage_error() {
    for addr in ["localhost", "localhost:http", "::1:5678", ""] {
        let out = run(cli(addr).args(["set", "x", "now"]));
        let (_, stderr) = text(&out);
        assert_eq!(code(&out), 64, "--addr {addr:?}: {stderr}");
        assert!(
            stderr.contains("bad server address") && stderr.contains("expected host:port"),
            "--addr {addr:?}: {stderr}"
        );
        assert!(!stderr.contains("safe to send again"), "{stderr}");
    }
    let out = run(cli("localhost").args(["set", "x", "now"]));
    assert!(
        text(&out).1.contains("\"localhost\" has no port"),
        "{:?}",
        text(&out)
    );
    // From the environment too.
    let out = run(Command::new(BIN)
        .env("KAIROI_ADDR", "localhost")
        .args(["set", "x", "now"]));
    assert_eq!(code(&out), 64, "{:?}", text(&out));
    assert!(text(&out).1.contains("KAIROI_ADDR"), "{:?}", text(&out));
}

#[test]
fn serve_starts_whatever_kairoi_addr_holds() {
    let mut child = Command::new(BIN)
        .env("KAIROI_ADDR", "localhost")
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The first line, or the end of stdout if it exits.
    let mut first = String::new();
    let _ = BufReader::new(child.stdout.take().unwrap()).read_line(&mut first);
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    assert!(
        first.starts_with("listening on 127.0.0.1:"),
        "{first:?} {:?}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_timeout_of_zero_is_refused_when_parsing() {
    for option in ["--timeout", "--connect-timeout"] {
        for zero in ["0", "0s", "0ms"] {
            let out = run(cli("127.0.0.1:1").args([option, zero, "set", "x", "now"]));
            let (_, stderr) = text(&out);
            assert_eq!(code(&out), 64, "{option} {zero}: {stderr}");
            assert!(
                stderr.contains(option) && stderr.contains("must be more than 0"),
                "{option} {zero}: {stderr}"
            );
        }
    }
}

#[test]
fn serve_help_shows_only_its_own_options() {
    let out = run(Command::new(BIN).args(["serve", "--help"]));
    let (stdout, _) = text(&out);
    assert_eq!(code(&out), 0);
    assert!(stdout.contains("--listen"), "{stdout}");
    for client in ["--addr", "--timeout", "--connect-timeout"] {
        assert!(
            !stdout.contains(client),
            "{client} in serve --help: {stdout}"
        );
    }
    // Given to serve, a client option is refused, naming --listen.
    let out = run(Command::new(BIN).args(["serve", "--addr", "127.0.0.1:0"]));
    assert_eq!(code(&out), 64, "{:?}", text(&out));
    assert!(text(&out).1.contains("--listen"), "{:?}", text(&out));
    // The top-level help still shows them.
    let out = run(Command::new(BIN).arg("--help"));
    assert!(text(&out).0.contains("--connect-timeout"));
}

#[test]
fn rule_help_names_the_runner() {
    let out = run(Command::new(BIN).args(["rule", "--help"]));
    let (stdout, _) = text(&out);
    assert_eq!(code(&out), 0);
    assert!(
        stdout.contains("<NAME> <PATTERN> <RUNNER>") && stdout.contains("Runners:"),
        "{stdout}"
    );
    assert!(!stdout.contains("<COMMAND>"), "{stdout}");
    let out = run(Command::new(BIN).args(["rule", "n", "p", "shell", "--help"]));
    assert!(text(&out).0.contains("<COMMAND>"), "{:?}", text(&out));
}
