//! The feeder's rules without a client: results handed in by hand.

use std::time::Duration;

use kairoi_proto::{DateTime, Instruction, Runner};

use super::*;

fn body(n: usize) -> Payload {
    Payload::Typed(Instruction::set(format!("j{n}"), DateTime::UNIX_EPOCH))
}

fn one() -> Shards {
    Shards::default()
}

/// The submission `next` must be: input position, server, body.
fn submitted(next: Option<Next>) -> (usize, usize, Payload) {
    match next {
        Some(Next::Submit {
            index,
            server,
            body,
            ..
        }) => (index, server, body),
        other => unreachable!("not a submission: {other:?}"),
    }
}

fn refused() -> RequestError {
    RequestError::NotSent {
        cause: Cause::connect("127.0.0.1:1", std::io::ErrorKind::ConnectionRefused.into()),
    }
}

#[test]
fn holds_at_most_the_limit_and_pulls_lazily() {
    let now = Instant::now();
    let mut f = Feeder::new((0..10).map(body), &one(), 3, RetryPolicy::NONE, None);
    let mut taken = Vec::new();
    while let Some(Next::Submit { index, .. }) = f.next(now) {
        taken.push(index);
    }
    assert_eq!(taken, [0, 1, 2]);
    assert_eq!(f.complete(now, 1, 0, Ok(()), None).unwrap().0, 1);
    assert_eq!(submitted(f.next(now)).0, 3);
    assert!(f.next(now).is_none());
}

#[test]
fn without_a_connection_only_one_is_taken_to_make_one() {
    let now = Instant::now();
    let mut f = Feeder::new((0..10).map(body), &one(), 8, RetryPolicy::NONE, None);
    f.set_connected(0, false);
    assert_eq!(submitted(f.next(now)).0, 0);
    assert!(f.next(now).is_none());
}

#[test]
fn retries_wait_their_backoff_and_count_in_the_limit() {
    let now = Instant::now();
    let backoff = Duration::from_millis(10);
    let policy = RetryPolicy::not_sent(1).with_backoff(backoff);
    let mut f = Feeder::new((0..2).map(body), &one(), 2, policy, None);
    let (_, _, b0) = submitted(f.next(now));
    assert_eq!(submitted(f.next(now)).0, 1);
    assert!(f.complete(now, 0, 0, Err(refused()), Some(b0)).is_none());
    assert!(f.next(now).is_none(), "the limit holds retries");
    assert_eq!(f.next_retry(), Some(now + backoff));
    let (i, _, b0) = submitted(f.next(now + backoff));
    assert_eq!(i, 0, "the retry first");
    let (i, r) = f.complete(now, 0, 0, Err(refused()), Some(b0)).unwrap();
    assert!(i == 0 && r.unwrap_err().is_not_sent(), "one resend only");
    assert!(f.complete(now, 1, 0, Ok(()), None).is_some());
    assert!(f.next(now).is_none() && f.is_done());
}

#[test]
fn no_retry_starts_past_the_deadline() {
    let now = Instant::now();
    let policy = RetryPolicy::not_sent(5).with_backoff(Duration::from_secs(1));
    let mut f = Feeder::new(std::iter::once(body(0)), &one(), 1, policy, Some(now));
    let (_, _, b) = submitted(f.next(now));
    assert!(f.complete(now, 0, 0, Err(refused()), Some(b)).is_some());
}

#[test]
fn unreachable_with_no_connection_drains_the_rest_at_once() {
    let now = Instant::now();
    let mut f = Feeder::new((0..1000).map(body), &one(), 4, RetryPolicy::NONE, None);
    f.set_connected(0, false);
    assert_eq!(submitted(f.next(now)).0, 0);
    assert!(f.complete(now, 0, 0, Err(refused()), None).is_some());
    let mut reported = 1;
    while let Some(next) = f.next(now) {
        assert!(
            matches!(&next, Next::Report(_, Err(e)) if e.is_not_sent()),
            "{next:?}"
        );
        reported += 1;
    }
    assert_eq!(reported, 1000);
    assert!(f.is_done());
}

#[test]
fn what_an_unreachable_server_had_taken_ends_at_once() {
    let now = Instant::now();
    let mut f = Feeder::new((0..8).map(body), &one(), 8, RetryPolicy::NONE, None);
    let (first, _, _) = submitted(f.next(now));
    // The connection goes; the rest were taken while it was up.
    f.set_connected(0, false);
    assert!(f.complete(now, first, 0, Err(refused()), None).is_some());
    let mut reported = 1;
    while let Some(next) = f.next(now) {
        assert!(
            matches!(&next, Next::Report(_, Err(e)) if e.is_not_sent()),
            "{next:?}"
        );
        reported += 1;
    }
    assert_eq!(reported, 8);
    assert!(f.is_done());
}

#[test]
fn an_unreachable_server_is_reported_lazily() {
    let now = Instant::now();
    let pulled = std::cell::Cell::new(0);
    let items = (0..1_000_000).map(|n| {
        pulled.set(pulled.get() + 1);
        body(n)
    });
    let mut f = Feeder::new(items, &one(), 4, RetryPolicy::NONE, None);
    f.set_connected(0, false);
    assert_eq!(submitted(f.next(now)).0, 0);
    assert!(f.complete(now, 0, 0, Err(refused()), None).is_some());
    for _ in 0..10 {
        assert!(matches!(f.next(now), Some(Next::Report(..))));
    }
    assert!(pulled.get() <= 12, "{} taken for 11 reported", pulled.get());
}

fn three() -> Shards {
    Shards::named(["a", "b", "c"]).unwrap()
}

#[test]
fn jobs_go_to_their_server_and_a_full_server_holds_the_batch() {
    let now = Instant::now();
    let shards = three();
    let bodies: Vec<Payload> = (0..100).map(body).collect();
    let placed: Vec<usize> = (0..100)
        .map(|n| shards.place(format!("j{n}").as_bytes()))
        .collect();
    let mut f = Feeder::new(bodies.into_iter(), &shards, 2, RetryPolicy::NONE, None);
    let mut held = [0usize; 3];
    while let Some(next) = f.next(now) {
        let (index, server, _) = submitted(Some(next));
        assert_eq!(server, placed[index], "job {index}");
        held[server] += 1;
    }
    assert!(held.iter().all(|&n| n <= 2), "{held:?}");
    // The batch waits at the first job whose server is full.
    let blocked = placed
        .iter()
        .enumerate()
        .position(|(i, &s)| placed[..i].iter().filter(|&&t| t == s).count() == 2)
        .unwrap();
    let first = (0..blocked)
        .find(|&i| placed[i] == placed[blocked])
        .unwrap();
    assert!(
        f.complete(now, first, placed[first], Ok(()), None)
            .is_some()
    );
    assert_eq!(submitted(f.next(now)).0, blocked);
}

#[test]
fn a_rule_goes_everywhere_and_is_resent_only_where_it_failed() {
    let now = Instant::now();
    let rule = Payload::Typed(Instruction::rule_set("r", "", Runner::shell("true")));
    let policy = RetryPolicy::not_sent(1).with_backoff(Duration::ZERO);
    let mut f = Feeder::new(std::iter::once(rule), &three(), 4, policy, None);
    let mut sent = Vec::new();
    while let Some(next) = f.next(now) {
        let (_, server, body) = submitted(Some(next));
        sent.push((server, body));
    }
    assert_eq!(sent.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [0, 1, 2]);
    let mut sent = sent.into_iter();
    let (_, b0) = sent.next().unwrap();
    assert!(f.complete(now, 0, 0, Ok(()), None).is_none());
    let (_, b1) = sent.next().unwrap();
    assert!(f.complete(now, 0, 1, Err(refused()), Some(b1)).is_none());
    assert!(
        f.complete(now, 0, 2, Err(RequestError::Rejected), None)
            .is_none()
    );
    drop(b0);
    let (_, server, b1) = submitted(f.next(now));
    assert_eq!(server, 1, "only the server where it was not sent");
    assert!(f.next(now).is_none());
    let (i, r) = f.complete(now, 0, 1, Err(refused()), Some(b1)).unwrap();
    let e = r.unwrap_err();
    assert_eq!(i, 0);
    assert!(e.is_not_sent(), "not sent is the most serious part: {e}");
    let RequestError::Partial(parts) = &e else {
        unreachable!("{e:?}")
    };
    assert_eq!(parts.len(), 3);
    assert!(parts[0].1.is_ok() && parts[2].1.as_ref().unwrap_err().is_rejected());
    assert!(
        e.to_string()
            .starts_with("not OK on every server: a: ok; b: not sent"),
        "{e}"
    );
    assert!(f.is_done());
}

#[test]
fn an_unreachable_server_fails_its_share_only_naming_it() {
    let now = Instant::now();
    let shards = three();
    let placed = |n: usize| shards.place(format!("j{n}").as_bytes());
    let down = placed(0);
    let mut f = Feeder::new((0..300).map(body), &shards, 8, RetryPolicy::NONE, None);
    f.set_connected(down, false);
    let (index, server, _) = submitted(f.next_for(down, now));
    assert_eq!((index, server), (0, down));
    let (_, r) = f.complete(now, 0, down, Err(refused()), None).unwrap();
    assert_eq!(r.unwrap_err().server(), Some(shards.names()[down].as_ref()));
    let mut submitted_to = Vec::new();
    let mut reported = 1;
    loop {
        match f.next(now) {
            Some(Next::Report(i, Err(e))) => {
                assert_eq!(placed(i), down, "only the down server's jobs");
                assert!(e.is_not_sent() && e.to_string().contains("server "), "{e}");
                reported += 1;
            }
            Some(Next::Submit { index, server, .. }) => {
                assert_ne!(server, down);
                submitted_to.push(index);
            }
            Some(other) => unreachable!("{other:?}"),
            None => match submitted_to.pop() {
                Some(i) => {
                    assert!(f.complete(now, i, placed(i), Ok(()), None).is_some());
                    reported += 1;
                }
                None => break,
            },
        }
    }
    assert_eq!(reported, 300);
    assert!(f.is_done());
}
