//! Replays the fuzz corpus (`fuzz/corpus/<target>/`) through the bodies of
//! the fuzz targets, so every seed and every past finding runs on each
//! `cargo test`, without nightly or cargo-fuzz.
//!
//! The seeds are generated from `tests/vectors/*.jsonl` and the examples of
//! the protocol by [`seeds`]; `seed_corpus_is_current` checks that the files
//! match it, and rewrites them when `KAIROI_WRITE_SEEDS=1` is set. Files not
//! named `seed-*` are regressions (inputs that once failed) and are kept.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use kairoi_fuzz_harness::seed::{
    ClientScript, RoundtripScript, ServerScript, decode_input, decode_input_with_limits,
};
use kairoi_fuzz_harness::{client_session, decode_messages, roundtrip, server_session};
use serde_json::Value;

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 4] = [
    ("decode_messages", decode_messages),
    ("client_session", client_session),
    ("server_session", server_session),
    ("roundtrip", roundtrip),
];

/// The largest seed corpus of one target, in files.
const MAX_SEEDS: usize = 300;

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

fn corpus_files(target: &str) -> Vec<PathBuf> {
    let dir = corpus_dir(target);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn replay_fuzz_corpus() {
    let mut total = 0;
    let mut failures = Vec::new();
    for (name, target) in TARGETS {
        let files = corpus_files(name);
        assert!(!files.is_empty(), "no corpus for {name}");
        for file in &files {
            let data = std::fs::read(file).expect("corpus file");
            if catch_unwind(AssertUnwindSafe(|| target(&data))).is_err() {
                failures.push(file.display().to_string());
            }
        }
        total += files.len();
    }
    assert!(
        failures.is_empty(),
        "failing inputs:\n{}",
        failures.join("\n")
    );
    println!("fuzz corpus: {total} inputs replayed");
}

/// A stable file name for a seed (FNV-1a of its bytes).
fn seed_name(data: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("seed-{h:016x}")
}

fn vectors(file: &str) -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/vectors")
        .join(file);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("vector"))
        .collect()
}

/// The message vectors seeded: the hand-written ones at the top of the
/// file, then every 20th.
fn message_vectors() -> Vec<Value> {
    vectors("messages.jsonl")
        .into_iter()
        .enumerate()
        .filter(|(i, _)| *i < 48 || i % 20 == 0)
        .map(|(_, v)| v)
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|s| s.as_str().expect("string").to_owned())
        .collect()
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Streams from the protocol description (`docs/protocol.md` §1 and §2).
const EXAMPLES: [&str; 12] = [
    "A \"ab\"c\n",
    "A ab\"c\"\n",
    "A ab\"c d\n",
    "A B\r\n",
    "A \"\\n\"\n",
    "A \"\"\n",
    "W X OK\n",
    " OK\n",
    "0 OK\n1 ERROR\n",
    "1 ERROR\n0 OK\n",
    "A \"line\nfeed\" \"quote\\\"\" \"back\\\\slash\"\n",
    "0 SET app.domain.example_job.0 \"2020-05-26 22:26:18\"\n",
];

/// An instruction seed for `arbitrary`: variant, then fields.
const INSTRUCTION_SEEDS: [&[u8]; 4] = [
    b"\x00\x00\x00\x00\x09app.job.1\x00\x10\x20\x30\x40\x50\x60\x70",
    b"\xff\xff\xff\xff\x04mail\x09app.mail.\x00\x00\x00\x00\x0d/bin/send-mail",
    b"\xff\xff\xff\xff\x01r\x00\xff\xff\xff\xff\x13amqp://g:g@h:5672/\x02ex\x02rk",
    b"\x00\x00\x00\x00\x0ejob \"1\"\n\\ \xf0\x9f\x98\xb1\xff\xff\xff\xff\xff\xff\xff\xff",
];

fn decode_seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (i, v) in message_vectors().iter().enumerate() {
        let input = v["input"].as_str().expect("input").as_bytes();
        let cuts: Vec<u8> = match i % 4 {
            0 => vec![1; input.len().saturating_sub(1).min(255)],
            1 => vec![(input.len() / 2) as u8],
            _ => vec![],
        };
        out.push(decode_input(input, &cuts));
    }
    for example in EXAMPLES {
        out.push(decode_input(example.as_bytes(), &[1, 2, 3]));
        out.push(decode_input_with_limits(6, 2, example.as_bytes(), &[]));
    }
    out.push(decode_input_with_limits(4, 0, b"A B\nC D\nE  F\n", &[2, 2]));
    out.push(decode_input_with_limits(0, 3, b"A B C\nA B C D\n", &[]));
    out
}

fn client_seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for v in vectors("instructions.jsonl") {
        let args = strings(&v["arguments"]);
        let ok = v["response"] == "OK";
        let script = ClientScript::new()
            .send_arguments(&refs(&args))
            .transmit_all()
            .poll()
            .respond(0, ok)
            .poll()
            .close()
            .poll();
        out.push(script.into_bytes());
    }
    let job = ["SET", "app.job", "2030-01-01 08:00:00"];
    for v in message_vectors().iter().step_by(2) {
        let input = v["input"].as_str().expect("input").as_bytes();
        let script = ClientScript::new()
            .send_arguments(&job)
            .send_arguments(&job)
            .transmit_all()
            .receive(input)
            .poll()
            .eof()
            .poll();
        out.push(script.into_bytes());
    }
    for example in EXAMPLES {
        let script = ClientScript::new()
            .send_arguments(&job)
            .send_arguments(&job)
            .transmit_all()
            .receive(example.as_bytes())
            .poll();
        out.push(script.into_bytes());
    }
    for seed in INSTRUCTION_SEEDS {
        let script = ClientScript::new()
            .send(seed)
            .transmit(7)
            .transmit_all()
            .respond(0, true)
            .poll();
        out.push(script.into_bytes());
    }
    out.extend(client_scenarios().into_iter().map(ClientScript::into_bytes));
    out
}

/// Sessions that reach each rule of the client: pipelining, out-of-order
/// and duplicate responses, deadlines, cancels, partial writes, limits.
fn client_scenarios() -> Vec<ClientScript> {
    let job = ["SET", "app.job", "2030-01-01 08:00:00"];
    let many = |mut s: ClientScript, n: usize| {
        for _ in 0..n {
            s = s.send_arguments(&job);
        }
        s
    };
    // A partly written request forgotten by the table of 2 x 16 slots.
    let mut forgotten = many(ClientScript::with_limits(0, 0, 2), 1)
        .transmit(3)
        .cancel(0);
    for i in 1..=40 {
        forgotten = forgotten.send_arguments(&["X"]).cancel(i);
    }
    vec![
        forgotten.send_arguments(&job).transmit_all().poll(),
        // A partly written request whose (early) response is absorbed.
        many(ClientScript::new(), 3)
            .transmit(3)
            .cancel(0)
            .respond(0, true)
            .poll()
            .cancel(2)
            .transmit_all()
            .poll(),
        many(ClientScript::new(), 5)
            .transmit_all()
            .respond(3, true)
            .respond(0, false)
            .respond(4, true)
            .poll()
            .respond(1, true)
            .respond(2, true)
            .close()
            .poll(),
        many(ClientScript::new(), 2)
            .transmit_all()
            .respond(0, true)
            .respond(0, true)
            .poll(),
        many(ClientScript::new(), 3)
            .set_deadline(0, 100)
            .set_deadline(1, 50)
            .transmit(10)
            .advance(60)
            .poll()
            .transmit_all()
            .advance(60)
            .respond(0, true)
            .respond(2, false)
            .poll(),
        many(ClientScript::new(), 3)
            .transmit(5)
            .cancel(0)
            .cancel(1)
            .transmit_all()
            .respond(0, true)
            .respond(2, true)
            .poll(),
        many(ClientScript::new(), 3).transmit(40).abort().poll(),
        many(ClientScript::new(), 3)
            .transmit_all()
            .close()
            .respond(1, true)
            .poll_at_most(1)
            .eof()
            .poll(),
        many(ClientScript::new(), 1)
            .transmit_all()
            .respond_unknown(3)
            .poll(),
        many(ClientScript::new(), 1)
            .transmit_all()
            .respond_unknown_status(0)
            .poll(),
        many(ClientScript::with_limits(0, 0, 2), 4)
            .transmit_all()
            .respond(1, true)
            .poll()
            .send_arguments(&job)
            .poll(),
        many(ClientScript::with_limits(0, 0, 1), 1)
            .transmit(3)
            .cancel(0)
            .send_arguments(&job)
            .transmit_all()
            .respond(0, true)
            .respond(1, true)
            .poll(),
        many(ClientScript::with_limits(24, 3, 0), 1)
            .send_arguments(&["a", "b", "c"])
            .send_arguments(&["x"; 30])
            .send_arguments(&[])
            .transmit_all()
            .respond(0, true)
            .poll(),
        many(ClientScript::new(), 2)
            .transmit_all()
            .respond(1, false)
            .receive(b"0 O")
            .poll()
            .eof()
            .poll(),
    ]
}

fn server_seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for v in vectors("instructions.jsonl") {
        let args = strings(&v["arguments"]);
        let script = ServerScript::new()
            .message("A", &refs(&args))
            .poll()
            .respond(0, v["response"] == "OK")
            .transmit_all()
            .eof()
            .poll();
        out.push(script.into_bytes());
    }
    for (i, v) in message_vectors().iter().enumerate() {
        let input = v["input"].as_str().expect("input").as_bytes();
        let mut script = ServerScript::new().receive(input).poll();
        for k in 0..4 {
            script = script.respond(3 - k, k % 2 == 0);
        }
        script = if i % 2 == 0 {
            script.transmit(5).transmit_all().eof().poll()
        } else {
            script.eof().poll().transmit_all()
        };
        out.push(script.into_bytes());
    }
    for example in EXAMPLES {
        out.push(
            ServerScript::new()
                .receive(example.as_bytes())
                .poll()
                .into_bytes(),
        );
    }
    for (i, seed) in INSTRUCTION_SEEDS.iter().enumerate() {
        let script = ServerScript::new()
            .instruction(&i.to_string(), seed)
            .instruction("W X", seed)
            .instruction("", seed)
            .poll()
            .respond(1, true)
            .respond(0, false)
            .respond(0, true)
            .transmit_all();
        out.push(script.into_bytes());
    }
    let backpressure = ServerScript::with_limits(0, 0, 2)
        .message("0", &["SET", "a", "2030-01-01 08:00:00"])
        .message("1", &["SET", "b", "2030-01-01 08:00:00"])
        .message("2", &["SET", "c", "2030-01-01 08:00:00"])
        .poll()
        .respond(1, true)
        .poll()
        .eof()
        .poll()
        .respond(0, true)
        .respond(0, true)
        .poll()
        .transmit(3)
        .transmit_all();
    out.push(backpressure.into_bytes());
    let limits = ServerScript::with_limits(16, 3, 0)
        .message("0", &["a", "b"])
        .message("1", &["a", "b", "c"])
        .poll()
        .respond(0, true)
        .transmit_all();
    out.push(limits.into_bytes());
    out
}

fn roundtrip_seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for v in vectors("instructions.jsonl") {
        let args = strings(&v["arguments"]);
        let mut message = vec!["A".to_owned()];
        message.extend(args.iter().cloned());
        let script = RoundtripScript::new()
            .body(&refs(&args))
            .message(&refs(&message));
        out.push(script.into_bytes());
    }
    let mut script = RoundtripScript::new();
    for (i, v) in message_vectors().iter().enumerate() {
        for message in v["messages"].as_array().expect("messages") {
            script = script.message(&refs(&strings(message)));
        }
        if i % 3 == 2 {
            out.push(std::mem::take(&mut script).into_bytes());
        }
    }
    for seed in INSTRUCTION_SEEDS {
        out.push(RoundtripScript::new().instruction(seed).into_bytes());
    }
    out.push(
        RoundtripScript::new()
            .message(&[])
            .message(&[" ", "\""])
            .body(&["\\", "\n", ""])
            .instruction(INSTRUCTION_SEEDS[0])
            .into_bytes(),
    );
    out
}

/// Every seed file, by target then name.
fn seeds() -> BTreeMap<&'static str, BTreeMap<String, Vec<u8>>> {
    let all = [
        ("decode_messages", decode_seeds()),
        ("client_session", client_seeds()),
        ("server_session", server_seeds()),
        ("roundtrip", roundtrip_seeds()),
    ];
    all.into_iter()
        .map(|(target, inputs)| {
            let named: BTreeMap<String, Vec<u8>> =
                inputs.into_iter().map(|d| (seed_name(&d), d)).collect();
            assert!(named.len() <= MAX_SEEDS, "{target}: {} seeds", named.len());
            (target, named)
        })
        .collect()
}

/// Checks the seed files against the generator; with `KAIROI_WRITE_SEEDS=1`
/// rewrites them first (regressions are kept).
#[test]
fn seed_corpus_is_current() {
    if std::env::var_os("KAIROI_WRITE_SEEDS").is_some_and(|v| v == "1") {
        write_seed_corpus();
    }
    for (target, named) in seeds() {
        for (name, data) in &named {
            let path = corpus_dir(target).join(name);
            let on_disk = std::fs::read(&path).unwrap_or_default();
            assert!(
                on_disk == *data,
                "{} is missing or stale: run `KAIROI_WRITE_SEEDS=1 cargo test -p kairoi-fuzz-harness --test corpus`",
                path.display()
            );
        }
        for file in corpus_files(target) {
            let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
            assert!(
                !name.starts_with("seed-") || named.contains_key(name),
                "{} is no longer generated: delete it",
                file.display()
            );
        }
    }
}

/// Rewrites the seed files (regressions are kept).
fn write_seed_corpus() {
    for (target, named) in seeds() {
        let dir = corpus_dir(target);
        std::fs::create_dir_all(&dir).expect("corpus directory");
        for entry in std::fs::read_dir(&dir).expect("corpus directory") {
            let path = entry.expect("entry").path();
            if path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("seed-"))
            {
                std::fs::remove_file(&path).expect("remove old seed");
            }
        }
        for (name, data) in &named {
            std::fs::write(dir.join(name), data).expect("write seed");
        }
        println!("{target}: {} seeds", named.len());
    }
}
