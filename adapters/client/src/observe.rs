//! What a call records of each of its requests, as its caller sees it:
//! one outcome in the client's [`Counters`], one `tracing` span, and (with
//! the `metrics` feature) one duration, whatever resends happened inside.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;
use std::time::Instant;

use kairoi_proto::Instruction;
use tracing::Span;

use crate::metrics;
use crate::mux::Payload;
use crate::stats::Counters;
use crate::{OutcomeKind, RequestError};

/// A request being followed: when its call took it, and its span.
#[derive(Debug)]
struct Started {
    at: Instant,
    operation: &'static str,
    span: Span,
}

/// Values by input position, for the requests of a call that are taken
/// and not yet reported. Positions are taken in increasing order, and
/// most end within a window of the latest: they are kept in a ring
/// indexed by position (`position % ring.len()`), where the common case is
/// one slot read or written; a position whose slot still holds an older
/// one goes to a map instead. The ring doubles while it is less than
/// twice as long as the values held, so it stays within four times the
/// most values held at once.
#[derive(Debug)]
struct Positions<V> {
    ring: Vec<Option<(usize, V)>>,
    /// Values in the ring.
    in_ring: usize,
    others: HashMap<usize, V, BuildHasherDefault<PositionHasher>>,
}

impl<V> Default for Positions<V> {
    fn default() -> Self {
        Positions {
            ring: Vec::new(),
            in_ring: 0,
            others: HashMap::default(),
        }
    }
}

impl<V> Positions<V> {
    /// The shortest ring.
    const MIN_RING: usize = 4;

    fn len(&self) -> usize {
        self.in_ring + self.others.len()
    }

    fn slot(&self, position: usize) -> usize {
        position & (self.ring.len() - 1)
    }

    /// Keeps `value` for `position` (which holds none).
    fn insert(&mut self, position: usize, value: V) {
        if self.ring.len() < 2 * (self.len() + 1) {
            self.grow();
        }
        self.place(position, value);
    }

    fn place(&mut self, position: usize, value: V) {
        let at = self.slot(position);
        match &mut self.ring[at] {
            slot @ None => {
                *slot = Some((position, value));
                self.in_ring += 1;
            }
            Some(_) => {
                self.others.insert(position, value);
            }
        }
    }

    /// Doubles the ring and places every value again.
    fn grow(&mut self) {
        let len = (self.ring.len() * 2).max(Self::MIN_RING);
        let old = std::mem::replace(&mut self.ring, Vec::with_capacity(len));
        self.ring.resize_with(len, || None);
        self.in_ring = 0;
        let others = std::mem::take(&mut self.others);
        for (position, value) in old.into_iter().flatten().chain(others) {
            self.place(position, value);
        }
    }

    fn get(&self, position: usize) -> Option<&V> {
        match self.ring.get(self.slot_of(position)?) {
            Some(Some((p, value))) if *p == position => Some(value),
            _ => self.others.get(&position),
        }
    }

    fn remove(&mut self, position: usize) -> Option<V> {
        let at = self.slot_of(position)?;
        let slot = &mut self.ring[at];
        if slot.as_ref().is_some_and(|(p, _)| *p == position) {
            self.in_ring -= 1;
            return slot.take().map(|(_, value)| value);
        }
        self.others.remove(&position)
    }

    /// The slot of `position`, when the ring has any.
    fn slot_of(&self, position: usize) -> Option<usize> {
        (!self.ring.is_empty()).then(|| self.slot(position))
    }
}

/// Hashes input positions with one multiplication (Fibonacci hashing),
/// for the few that do not fit in [`Positions`]'s ring: the default
/// hasher, SipHash, is built against keys an attacker chooses, which
/// positions are not, and costs several times more.
#[derive(Debug, Default)]
struct PositionHasher(u64);

impl PositionHasher {
    const FACTOR: u64 = 0x9e37_79b9_7f4a_7c15;
}

impl Hasher for PositionHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(Self::FACTOR);
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = (self.0 ^ n as u64).wrapping_mul(Self::FACTOR);
    }
}

/// The records of one call.
#[derive(Debug, Default)]
pub(crate) struct Observer {
    counters: Option<Arc<Counters>>,
    /// Requests taken and not yet reported, when they are followed (a
    /// span is enabled, or durations are recorded), by input position.
    started: Positions<Started>,
    /// The request metrics' handles.
    metrics: metrics::Requests,
}

/// The operation's name, as the metrics and spans give it.
pub(crate) fn operation(body: &Payload) -> &'static str {
    match body {
        Payload::Typed(Instruction::Set { .. }) => "SET",
        Payload::Typed(_) => "RULE SET",
        Payload::Raw(arguments) => match arguments.first().map(String::as_str) {
            Some("SET") => "SET",
            Some("RULE") => "RULE SET",
            _ => "OTHER",
        },
    }
}

impl Observer {
    /// Records into `counters`.
    pub(crate) fn new(counters: Option<Arc<Counters>>) -> Self {
        Observer {
            counters,
            ..Observer::default()
        }
    }

    /// The call took the request at `index` at `now`.
    pub(crate) fn start(&mut self, index: usize, body: &Payload, now: Instant) {
        let operation = operation(body);
        let span = tracing::debug_span!(
            "kairoi_request",
            operation,
            id_len = tracing::field::Empty,
            id = tracing::field::Empty,
            queue_us = tracing::field::Empty,
            rtt_us = tracing::field::Empty,
            attempts = tracing::field::Empty,
            outcome = tracing::field::Empty,
        );
        if let Payload::Typed(Instruction::Set { job, .. }) = body {
            span.record("id_len", job.as_bytes().len());
        }
        if !span.is_disabled() || metrics::ENABLED {
            let started = Started {
                at: now,
                operation,
                span,
            };
            self.started.insert(index, started);
        }
    }

    /// The span of the request at `index`, for its attempts to record
    /// into (a disabled one when it is not followed).
    pub(crate) fn span(&self, index: usize) -> Span {
        self.started
            .get(index)
            .map_or_else(Span::none, |s| s.span.clone())
    }

    /// A request (or a rule's part) ended on the server at `server`.
    pub(crate) fn on_server(&self, server: usize, kind: OutcomeKind) {
        if let Some(counters) = &self.counters {
            if let Some(s) = counters.server_ref(server) {
                s.ended(kind);
            }
        }
    }

    /// A request is sent again to the server at `server`.
    pub(crate) fn resent(&self, server: usize) {
        if let Some(counters) = &self.counters {
            if let Some(s) = counters.server_ref(server) {
                s.resent();
            }
        }
    }

    /// The request at `index` is reported to its caller at `now`, after
    /// `attempts` attempts.
    pub(crate) fn end(
        &mut self,
        index: usize,
        result: &Result<(), RequestError>,
        attempts: u32,
        now: Instant,
    ) {
        let kind = OutcomeKind::of(result);
        if let Some(counters) = &self.counters {
            counters.ended(kind);
        }
        if let Some(started) = self.started.remove(index) {
            let took = now.saturating_duration_since(started.at);
            self.metrics.record(started.operation, kind, took);
            let span = started.span;
            span.record("attempts", attempts);
            span.record("outcome", kind.name());
            span.in_scope(|| match result {
                Ok(()) => tracing::debug!(took_us = took.as_micros() as u64, "request ended"),
                Err(e) => {
                    tracing::debug!(took_us = took.as_micros() as u64, error = %e, "request failed")
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Positions taken in order and ended in any order, some long after
    /// the others (as a request resent after a backoff): the ring and its
    /// map give back what a plain map does, and the ring stays within
    /// four times the most values held.
    #[test]
    fn positions_agree_with_a_map() {
        for seed in 0..20 {
            let mut rng = fastrand::Rng::with_seed(seed);
            let mut positions = Positions::default();
            let mut expected = HashMap::new();
            let mut open: Vec<usize> = Vec::new();
            let (mut most, mut spilled) = (0, false);
            for next in 0..20_000usize {
                // Most positions are followed; the window varies.
                if rng.u8(..10) > 0 {
                    positions.insert(next, next * 3);
                    expected.insert(next, next * 3);
                    open.push(next);
                }
                most = most.max(open.len());
                let window = [4, 64, 700][(next / 5_000) % 3];
                while open.len() > window || (!open.is_empty() && rng.u8(..4) == 0) {
                    // Mostly one of the oldest, now and then any.
                    let pick = match rng.u8(..8) {
                        0 => rng.usize(..open.len()),
                        _ => rng.usize(..open.len().min(8)),
                    };
                    // A few stay open for a long time.
                    if open[pick] % 97 == 0 && rng.u8(..50) > 0 {
                        break;
                    }
                    let position = open.swap_remove(pick);
                    assert_eq!(positions.get(position), expected.get(&position));
                    assert_eq!(positions.remove(position), expected.remove(&position));
                    assert_eq!(positions.remove(position), None);
                }
                let probe = rng.usize(..=next + 1);
                assert_eq!(positions.get(probe), expected.get(&probe), "seed {seed}");
                assert_eq!(positions.len(), expected.len());
                assert!(positions.ring.len() <= 4 * most.max(1), "seed {seed}");
                spilled |= !positions.others.is_empty();
            }
            assert!(spilled, "seed {seed}: the map was never needed");
            for position in open {
                assert_eq!(positions.remove(position), expected.remove(&position));
            }
            assert_eq!(positions.len(), 0);
        }
    }
}
