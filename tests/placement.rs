//! Placement of job identifiers over named servers: the checked-in vectors
//! of `tests/placement/` (generated with the Python `xxhash` package by
//! `tests/placement/generate.py`), the movement guarantees under random
//! lists, and the balance over a million identifiers.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use kairoi_proto::placement::{place, score, xxh64};
use proptest::prelude::*;
use serde_json::Value;

fn vectors_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/placement")
        .join(name)
}

/// Each line of a JSON Lines file, parsed, with its line number.
fn lines(name: &str) -> Vec<(usize, Value)> {
    let path = vectors_file(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| {
            let value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{name}:{}: not JSON: {e}", n + 1));
            (n + 1, value)
        })
        .collect()
}

/// A byte string of the vectors: a JSON string (its UTF-8 bytes) or an
/// array of byte values.
fn bytes(value: &Value) -> Vec<u8> {
    match value {
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Array(items) => items
            .iter()
            .map(|b| {
                b.as_u64()
                    .and_then(|b| u8::try_from(b).ok())
                    .unwrap_or_else(|| panic!("not a byte: {b}"))
            })
            .collect(),
        other => panic!("not a byte string: {other}"),
    }
}

/// A decimal string of the vectors.
fn decimal(value: &Value) -> u64 {
    value
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a decimal string: {value}"))
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hexadecimal input"))
        .collect()
}

#[test]
fn placement_vectors() {
    let vectors = lines("vectors.jsonl");
    for (line, vector) in &vectors {
        let id = bytes(&vector["id"]);
        let servers: Vec<Vec<u8>> = vector["servers"]
            .as_array()
            .expect("servers")
            .iter()
            .map(bytes)
            .collect();
        let scores: Vec<u64> = vector["scores"]
            .as_array()
            .expect("scores")
            .iter()
            .map(decimal)
            .collect();
        assert_eq!(scores.len(), servers.len(), "line {line}");
        for (server, expected) in servers.iter().zip(&scores) {
            assert_eq!(
                score(server, &id),
                *expected,
                "line {line}: score of {server:?}"
            );
        }
        let index = place(&id, &servers).expect("a non-empty list");
        let expected = vector["index"].as_u64().expect("index");
        assert_eq!(index as u64, expected, "line {line}: index");
        assert_eq!(
            servers[index],
            bytes(&vector["server"]),
            "line {line}: server"
        );
    }
    assert!(vectors.len() >= 500, "only {} vectors", vectors.len());
    println!("placement: {} vectors agreed", vectors.len());
}

#[test]
fn xxh64_vectors() {
    let vectors = lines("xxh64.jsonl");
    let mut lengths = BTreeSet::new();
    for (line, vector) in &vectors {
        let input = hex(vector["input"].as_str().expect("input"));
        let seed = decimal(&vector["seed"]);
        assert_eq!(xxh64(&input, seed), decimal(&vector["hash"]), "line {line}");
        lengths.insert(input.len());
    }
    // Every length up to three stripes, so every combination of tails.
    assert!((0..=100).all(|len| lengths.contains(&len)));
    println!("xxh64: {} vectors agreed", vectors.len());
}

/// Distinct server names, a few kinds of them.
fn names(max: usize) -> impl Strategy<Value = Vec<Vec<u8>>> {
    let name = prop_oneof![
        (0u32..64).prop_map(|n| format!("kairoi-{n}").into_bytes()),
        prop::collection::vec(any::<u8>(), 0..12),
    ];
    prop::collection::btree_set(name, 1..=max).prop_map(|set| set.into_iter().collect())
}

fn ids() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..48), 1..64)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn adding_a_server_moves_identifiers_only_to_it(
        servers in names(10),
        added in prop::collection::vec(any::<u8>(), 0..12),
        at in any::<prop::sample::Index>(),
        ids in ids(),
    ) {
        prop_assume!(!servers.contains(&added));
        let mut grown = servers.clone();
        grown.insert(at.index(servers.len() + 1), added.clone());
        for id in &ids {
            let before = &servers[place(id, &servers).unwrap()];
            let after = &grown[place(id, &grown).unwrap()];
            prop_assert!(
                after == before || *after == added,
                "{id:?} moved from {before:?} to {after:?}"
            );
        }
    }

    #[test]
    fn removing_a_server_moves_only_its_identifiers(
        servers in names(10),
        removed in any::<prop::sample::Index>(),
        ids in ids(),
    ) {
        let removed = removed.index(servers.len());
        let mut shrunk = servers.clone();
        let name = shrunk.remove(removed);
        for id in &ids {
            let before = &servers[place(id, &servers).unwrap()];
            match place(id, &shrunk) {
                Some(index) => {
                    let after = &shrunk[index];
                    prop_assert!(
                        after == before || *before == name,
                        "{id:?} moved from {before:?} to {after:?}"
                    );
                }
                None => prop_assert!(shrunk.is_empty()),
            }
        }
    }

    #[test]
    fn the_order_of_the_list_does_not_matter(
        (servers, permuted) in names(10)
            .prop_flat_map(|s| (Just(s.clone()), Just(s).prop_shuffle())),
        ids in ids(),
    ) {
        for id in &ids {
            let chosen = &servers[place(id, &servers).unwrap()];
            let chosen_permuted = &permuted[place(id, &permuted).unwrap()];
            prop_assert_eq!(chosen, chosen_permuted);
        }
    }

    #[test]
    fn placement_is_the_highest_score_and_never_panics(
        servers in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..10),
        id in prop::collection::vec(any::<u8>(), 0..80),
    ) {
        // Any list at all, duplicates included.
        match place(&id, &servers) {
            None => prop_assert!(servers.is_empty()),
            Some(index) => {
                let best = (score(&servers[index], &id), std::cmp::Reverse(&servers[index]));
                for server in &servers {
                    prop_assert!((score(server, &id), std::cmp::Reverse(server)) <= best);
                }
                prop_assert!(!servers[..index].contains(&servers[index]));
            }
        }
    }
}

#[test]
fn a_million_identifiers_spread_evenly() {
    const IDS: usize = 1_000_000;
    let started = Instant::now();
    for n in [3, 5, 8] {
        let servers: Vec<String> = (1..=n).map(|i| format!("kairoi-{i}")).collect();
        let mut counts = vec![0usize; n];
        let mut id = String::new();
        for i in 0..IDS {
            id.clear();
            write!(id, "job-{i}").expect("writing to a String");
            counts[place(id.as_bytes(), &servers).expect("servers")] += 1;
        }
        let even = IDS as f64 / n as f64;
        let worst = counts
            .iter()
            .map(|&count| (count as f64 - even).abs() / even)
            .fold(0.0, f64::max);
        println!(
            "balance over {n} servers: worst deviation {:.3} % ({counts:?})",
            worst * 100.0
        );
        assert!(worst <= 0.02, "{n} servers: {counts:?}");
    }
    println!("balance: {:.1?}", started.elapsed());
}
