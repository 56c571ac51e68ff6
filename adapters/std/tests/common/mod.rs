//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::collections::HashSet;

use kairoi_std::{DateTime, Instruction, RequestError, Tally};

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

/// Counts the results, after checking that there is exactly one per
/// instruction: a result vector of the input's length.
pub fn tally(results: &[Result<(), RequestError>], expected_len: usize) -> Tally {
    assert_eq!(results.len(), expected_len, "one result per instruction");
    results.iter().collect()
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
