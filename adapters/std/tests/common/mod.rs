//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::collections::HashSet;

use kairoi_std::{DateTime, Instruction, RequestError};

/// A date-time from its wire form.
pub fn at(s: &str) -> DateTime {
    s.parse().expect("a valid date-time")
}

/// A job `SET` for `n` jobs named `prefix{n}`, far in the future.
pub fn jobs(prefix: &str, n: usize) -> Vec<Instruction> {
    let when = at("2099-01-01 00:00:00");
    (0..n)
        .map(|i| Instruction::set(format!("{prefix}{i}"), when))
        .collect()
}

/// Counts of each kind of result.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub ok: usize,
    pub rejected: usize,
    pub timed_out: usize,
    pub not_sent: usize,
    pub unknown: usize,
    pub invalid: usize,
}

impl Tally {
    pub fn total(&self) -> usize {
        self.ok + self.rejected + self.timed_out + self.not_sent + self.unknown + self.invalid
    }
}

/// Counts the results, after checking that there is exactly one per
/// instruction: a result vector of the input's length.
pub fn tally(results: &[Result<(), RequestError>], expected_len: usize) -> Tally {
    assert_eq!(results.len(), expected_len, "one result per instruction");
    let mut t = Tally::default();
    for r in results {
        match r {
            Ok(()) => t.ok += 1,
            Err(e) if e.is_rejected() => t.rejected += 1,
            Err(e) if e.is_timed_out() => t.timed_out += 1,
            Err(e) if e.is_not_sent() => t.not_sent += 1,
            Err(e) if e.is_unknown() => t.unknown += 1,
            Err(e) if e.is_invalid() => t.invalid += 1,
            Err(e) => panic!("unclassified error {e:?}"),
        }
    }
    assert_eq!(t.total(), expected_len);
    t
}

/// Runs `execute_each` and checks that every position was reported exactly
/// once; returns the results in input order.
pub fn each_exactly_once(
    client: &mut kairoi_std::Client,
    instructions: &[Instruction],
) -> Vec<Result<(), RequestError>> {
    let mut seen = HashSet::new();
    let mut results: Vec<Option<Result<(), RequestError>>> = vec![None; instructions.len()];
    client.execute_each(instructions, |index, result| {
        assert!(seen.insert(index), "position {index} reported twice");
        assert!(index < instructions.len(), "position {index} out of range");
        results[index] = Some(result);
    });
    assert_eq!(
        seen.len(),
        instructions.len(),
        "some positions never reported"
    );
    results.into_iter().map(Option::unwrap).collect()
}
