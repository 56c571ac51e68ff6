//! Deterministic corpora shared by every bench.
//!
//! - `responses`: 1,000,000 responses, `<id> OK` (90 %) and `<id> ERROR`
//!   (10 %), identifiers counting up from 0 in the client's base-36 form
//!   (so a `Client` that sent the matching requests matches every one).
//! - `requests`: 200,000 requests, 80 % job `SET`s, 10 % `RULE SET`s (half
//!   shell, half amqp) and 10 % `SET`s whose job identifier holds `\"`,
//!   `\\`, line feeds and emoji, encoded exactly as the `Client` sends them.
//! - `huge`: one message `1 SET "<payload>"` of an exact total length, whose
//!   payload has a line feed about every 80 bytes and an escape about every
//!   KiB.
//!
//! Every bench includes this file with `mod corpus;`, so not every bench
//! uses every item.
#![allow(dead_code)]

use kairoi_proto::{Client, Config, DateTime, Instruction, Runner};

/// Messages in the responses corpus.
pub const RESPONSES: usize = 1_000_000;
/// Messages in the requests corpus.
pub const REQUESTS: usize = 200_000;
/// The chunk size a server or client reads with.
pub const CHUNK: usize = 2 * 1024;
/// Length of the large huge message (8 MiB).
pub const HUGE_8MIB: usize = 8 << 20;
/// Length of the small huge message (2 MiB), to check linearity.
pub const HUGE_2MIB: usize = 2 << 20;

/// A small deterministic generator (xorshift64).
pub struct Rng(u64);

impl Rng {
    /// A generator with a fixed seed.
    pub fn new() -> Self {
        Rng(0x9e37_79b9_7f4a_7c15)
    }

    /// The next pseudo-random value.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A value in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The client's wire form of the request with sequence number `n`.
pub fn write_id(n: u64, out: &mut Vec<u8>) {
    use std::io::Write;
    // Writing to a `Vec` cannot fail.
    let _ = write!(out, "{}", kairoi_proto::RequestId::from_sequence(n));
}

/// The responses corpus: `count` responses to requests `0..count`, 10 %
/// of them `ERROR`, the rest `OK`.
pub fn responses(count: usize) -> Vec<u8> {
    let mut rng = Rng::new();
    let mut out = Vec::with_capacity(count * 10);
    for n in 0..count {
        write_id(n as u64, &mut out);
        if rng.below(10) == 0 {
            out.extend_from_slice(b" ERROR\n");
        } else {
            out.extend_from_slice(b" OK\n");
        }
    }
    out
}

/// An execution time in 2026.
fn when(rng: &mut Rng) -> DateTime {
    let start = DateTime::new(2026, 1, 1, 0, 0, 0).unwrap().unix_seconds();
    DateTime::from_unix_seconds(start + rng.below(365 * 86_400) as i64).unwrap()
}

/// The plain job `SET` of the corpus, number `n`.
pub fn set_job(n: usize, rng: &mut Rng) -> Instruction {
    Instruction::set(format!("app.domain.job.{n}"), when(rng))
}

/// The typed instructions of the requests corpus.
pub fn instructions(count: usize) -> Vec<Instruction> {
    let mut rng = Rng::new();
    (0..count)
        .map(|n| match n % 20 {
            0 => Instruction::rule_set(
                format!("rule.{n}"),
                format!("app.domain.{n}."),
                Runner::shell("/usr/local/bin/run-job --queue default"),
            ),
            10 => Instruction::rule_set(
                format!("rule.{n}"),
                format!("app.domain.{n}."),
                Runner::amqp(
                    "amqp://scheduler:secret@mq.internal:5672/jobs",
                    "kairoi.jobs",
                    format!("app.domain.{n}"),
                ),
            ),
            5 | 15 => Instruction::set(
                format!("app \"quoted\" C:\\jobs\\{n}\nsecond line 🦀 ✓ {n}"),
                when(&mut rng),
            ),
            _ => set_job(n, &mut rng),
        })
        .collect()
}

/// The bytes a `Client` sends for `instructions` (identifiers from 0).
pub fn encode(instructions: &[Instruction]) -> Vec<u8> {
    let config = Config::default().with_max_active(instructions.len().max(1));
    let mut client = Client::new(config);
    let mut out = Vec::new();
    for instruction in instructions {
        client.send(instruction).unwrap();
        let bytes = client.poll_transmit().unwrap();
        out.extend_from_slice(bytes);
        let n = bytes.len();
        client.consume_transmit(n);
    }
    out
}

/// The requests corpus: `count` requests as a `Client` sends them.
pub fn requests(count: usize) -> Vec<u8> {
    encode(&instructions(count))
}

/// One message `1 SET "<payload>"` of exactly `total` bytes, line feed
/// included. The payload is words of ASCII text with a line feed about
/// every 80 bytes and an escaped `"` or `\` about every KiB.
pub fn huge(total: usize) -> Vec<u8> {
    const WORDS: [&str; 8] = [
        "lorem",
        "ipsum",
        "dolor",
        "sit",
        "amet",
        "consectetur",
        "adipiscing",
        "elit",
    ];
    let mut rng = Rng::new();
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(b"1 SET \"");
    let body_end = total - 2; // closing quote and line feed
    let (mut line, mut since_escape) = (0, 0);
    while out.len() < body_end {
        let room = body_end - out.len();
        if since_escape >= 1000 && room >= 2 {
            out.extend_from_slice(if rng.below(2) == 0 { b"\\\"" } else { b"\\\\" });
            since_escape = 0;
            continue;
        }
        if line >= 76 {
            out.push(b'\n');
            line = 0;
            since_escape += 1;
            continue;
        }
        let word = WORDS[rng.below(WORDS.len() as u64) as usize].as_bytes();
        let piece = &word[..word.len().min(room)];
        out.extend_from_slice(piece);
        line += piece.len();
        since_escape += piece.len();
        if out.len() < body_end {
            out.push(b' ');
            line += 1;
            since_escape += 1;
        }
    }
    out.extend_from_slice(b"\"\n");
    debug_assert_eq!(out.len(), total);
    out
}
