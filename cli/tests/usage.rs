//! Usage errors found before anything is sent: a server address that is
//! not `host:port`, a list of servers that cannot be read, a timeout of
//! 0; and what `serve --help` and `rule --help` show.

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

#[test]
fn a_bad_list_of_servers_is_a_usage_error_naming_the_value() {
    let cases: [(&[&str], &[&str]); 7] = [
        (
            &["alpha=127.0.0.1:1", "127.0.0.1:2"],
            &["\"127.0.0.1:2\" has no name", "name=host:port"],
        ),
        (
            &["127.0.0.1:1", "127.0.0.1:2"],
            &["\"127.0.0.1:1\" has no name", "name=host:port"],
        ),
        (
            &["=127.0.0.1:1", "beta=127.0.0.1:2"],
            &["\"=127.0.0.1:1\": the name before `=` is empty"],
        ),
        (
            &["alpha=127.0.0.1:1", "alpha=127.0.0.1:2"],
            &["the server name \"alpha\" is given twice"],
        ),
        (
            &["alpha=localhost", "beta=127.0.0.1:2"],
            &[
                "server alpha: \"localhost\" has no port",
                "expected host:port",
            ],
        ),
        (
            &["alpha=127.0.0.1:99999,beta=127.0.0.1:2"],
            &["server alpha:", "not a number from 1 to 65535"],
        ),
        (
            &["alpha=127.0.0.1:1,,beta=127.0.0.1:2"],
            &["an empty entry", "\"alpha=127.0.0.1:1,,beta=127.0.0.1:2\""],
        ),
    ];
    let commands: [&[&str]; 4] = [
        &["set", "x", "now"],
        &["rule", "r", "p", "shell", "true"],
        &["import", "-"],
        &["which", "x"],
    ];
    for (addrs, words) in cases {
        for command in commands {
            let mut c = Command::new(BIN);
            c.env_remove("KAIROI_ADDR");
            for addr in addrs {
                c.args(["--addr", addr]);
            }
            let out = run(c.args(command));
            let (_, stderr) = text(&out);
            assert_eq!(code(&out), 64, "{addrs:?} {command:?}: {stderr}");
            assert!(
                stderr.contains("bad server address (--addr, or KAIROI_ADDR)"),
                "{addrs:?} {command:?}: {stderr}"
            );
            for word in words {
                assert!(stderr.contains(word), "{word:?} in {addrs:?}: {stderr}");
            }
        }
    }
    // From the environment too.
    let out = run(Command::new(BIN)
        .env("KAIROI_ADDR", "alpha=127.0.0.1:1,127.0.0.1:2")
        .args(["which", "x"]));
    assert_eq!(code(&out), 64, "{:?}", text(&out));
    assert!(text(&out).1.contains("KAIROI_ADDR"), "{:?}", text(&out));
}

#[test]
fn a_list_of_servers_split_around_the_command_is_refused() {
    // Only the values after the command would count: the list would lose
    // alpha and beta, and place jobs elsewhere.
    let out = run(Command::new(BIN).env_remove("KAIROI_ADDR").args([
        "--addr",
        "alpha=127.0.0.1:1",
        "--addr",
        "beta=127.0.0.1:2",
        "which",
        "--addr",
        "gamma=127.0.0.1:3",
        "x",
    ]));
    let (_, stderr) = text(&out);
    assert_eq!(code(&out), 64, "{stderr}");
    assert!(
        stderr.contains("both before the command")
            && stderr.contains("alpha=127.0.0.1:1,beta=127.0.0.1:2")
            && stderr.contains("give the whole list in one place"),
        "{stderr}"
    );
    // Given in one place, before or after the command, it is read.
    for args in [
        &[
            "--addr",
            "alpha=127.0.0.1:1",
            "--addr",
            "beta=127.0.0.1:2",
            "which",
            "x",
        ][..],
        &[
            "which",
            "x",
            "--addr",
            "alpha=127.0.0.1:1",
            "--addr",
            "beta=127.0.0.1:2",
        ],
    ] {
        let out = run(Command::new(BIN).env_remove("KAIROI_ADDR").args(args));
        assert_eq!(code(&out), 0, "{args:?}: {:?}", text(&out));
    }
}
