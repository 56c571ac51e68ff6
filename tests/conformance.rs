//! Replays the reference server's vectors: every message vector whole, at
//! every two-way split and byte by byte; every instruction vector against
//! the server role's body parser.
//!
//! Reads every `*.jsonl` in `tests/vectors/`, and in `$KAIROI_VECTORS_DIR`
//! when it is set.

use std::path::{Path, PathBuf};

use kairoi_proto::wire::Decoder;
use kairoi_proto::{Config, Instruction, Text};
use serde_json::Value;

#[derive(Debug, PartialEq)]
struct Decoded {
    messages: Vec<Vec<String>>,
    outcome: &'static str,
    rest: usize,
}

fn decode(chunks: &[&[u8]]) -> Decoded {
    let mut decoder = Decoder::new(Config::default());
    let mut messages = Vec::new();
    let total: usize = chunks.iter().map(|c| c.len()).sum();
    let mut fed = 0;
    for chunk in chunks {
        decoder.extend(chunk);
        fed += chunk.len();
        loop {
            match decoder.next_frame() {
                Ok(Some(_)) => messages.push(
                    decoder
                        .take_message()
                        .into_iter()
                        .map(String::from)
                        .collect(),
                ),
                Ok(None) => break,
                Err(_) => {
                    return Decoded {
                        messages,
                        outcome: "error",
                        // Bytes not fed yet are unconsumed too.
                        rest: decoder.buffered() + total - fed,
                    };
                }
            }
        }
    }
    let rest = decoder.buffered();
    // The reference parser calls an empty stream "incomplete": no message yet.
    let outcome = if rest == 0 && !messages.is_empty() {
        "complete"
    } else {
        "incomplete"
    };
    Decoded {
        messages,
        outcome,
        rest,
    }
}

fn check_message(v: &Value) -> Result<(), String> {
    let input = v["input"].as_str().ok_or("no input")?.as_bytes();
    let expected = Decoded {
        messages: serde_json::from_value(v["messages"].clone()).map_err(|e| e.to_string())?,
        outcome: match v["outcome"].as_str() {
            Some("complete") => "complete",
            Some("incomplete") => "incomplete",
            Some("error") => "error",
            other => return Err(format!("unknown outcome {other:?}")),
        },
        rest: v["rest"].as_str().map_or(0, |r| r.len()),
    };
    let whole = decode(&[input]);
    if whole != expected {
        return Err(format!("whole: got {whole:?}, expected {expected:?}"));
    }
    for split in 0..=input.len() {
        let (a, b) = input.split_at(split);
        let got = decode(&[a, b]);
        if got != expected {
            return Err(format!("split at {split}: got {got:?}"));
        }
    }
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    let got = decode(&bytes);
    if got != expected {
        return Err(format!("byte by byte: got {got:?}"));
    }
    Ok(())
}

fn check_instruction(v: &Value) -> Result<(), String> {
    let args: Vec<Text> = v["arguments"]
        .as_array()
        .ok_or("no arguments")?
        .iter()
        .map(|a| a.as_str().map(Text::from).ok_or("argument is not a string"))
        .collect::<Result<_, _>>()?;
    let strict = v["strict"].as_bool().unwrap_or(true);
    let expected_ok = match v["response"].as_str() {
        Some("OK") => true,
        Some("ERROR") => false,
        other => return Err(format!("unknown response {other:?}")),
    };
    let parsed = Instruction::parse(&args);
    if strict && parsed.is_ok() != expected_ok {
        return Err(format!("parsed {parsed:?}, server said {}", v["response"]));
    }
    if !strict && expected_ok && parsed.is_ok() {
        // A lenient form the server accepts may be accepted or refused;
        // accepted, it must at least be a SET of the same job.
        if !matches!(parsed, Ok(Instruction::Set { .. })) {
            return Err(format!("lenient form parsed as {parsed:?}"));
        }
    }
    Ok(())
}

fn vector_files() -> Vec<PathBuf> {
    let mut dirs = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")];
    if let Some(extra) = std::env::var_os("KAIROI_VECTORS_DIR") {
        dirs.push(PathBuf::from(extra));
    }
    let mut files = Vec::new();
    for dir in dirs {
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let mut found: Vec<PathBuf> = entries
            .map(|e| e.expect("directory entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
            .collect();
        found.sort();
        files.extend(found);
    }
    files
}

#[test]
fn conformance_vectors() {
    let mut agreed = 0;
    let mut failures = Vec::new();
    for file in vector_files() {
        let text = std::fs::read_to_string(&file).expect("vector file");
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let name = format!("{}:{}", file.display(), n + 1);
            let result = serde_json::from_str::<Value>(line)
                .map_err(|e| e.to_string())
                .and_then(|v| {
                    if v.get("input").is_some() {
                        check_message(&v)
                    } else if v.get("arguments").is_some() {
                        check_instruction(&v)
                    } else {
                        Err("neither a message nor an instruction vector".into())
                    }
                });
            match result {
                Ok(()) => agreed += 1,
                Err(e) => failures.push(format!("{name}: {e}\n    {line}")),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} vector(s) disagree:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(agreed >= 3102, "only {agreed} vectors read");
    println!("conformance: {agreed} vectors agreed");
}
