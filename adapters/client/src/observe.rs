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

/// A hasher for input positions: one multiplication (the positions of a
/// call are distinct small integers; no peer chooses them).
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
    /// Whether requests are followed (a span each, or a duration): decided
    /// when the call starts, so that a call nobody watches pays nothing
    /// per request for it.
    follow: bool,
    /// Whether request spans are enabled: decided when the call starts.
    spans: bool,
    metrics: metrics::Requests,
    /// Requests taken and not yet reported, when they are followed (a
    /// span is enabled, or durations are recorded).
    started: HashMap<usize, Started, BuildHasherDefault<PositionHasher>>,
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
        let spans = tracing::enabled!(tracing::Level::DEBUG);
        Observer {
            counters,
            follow: metrics::ENABLED || spans,
            spans,
            ..Observer::default()
        }
    }

    /// The call took the request at `index` at `now`.
    pub(crate) fn start(&mut self, index: usize, body: &Payload, now: Instant) {
        if !self.follow {
            return;
        }
        let operation = operation(body);
        let span = match self.spans {
            true => tracing::debug_span!(
                "kairoi_request",
                operation,
                id_len = tracing::field::Empty,
                id = tracing::field::Empty,
                queue_us = tracing::field::Empty,
                rtt_us = tracing::field::Empty,
                attempts = tracing::field::Empty,
                outcome = tracing::field::Empty,
            ),
            false => Span::none(),
        };
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
        match self.spans {
            true => self
                .started
                .get(&index)
                .map_or_else(Span::none, |s| s.span.clone()),
            false => Span::none(),
        }
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
        if self.started.is_empty() {
            return;
        }
        if let Some(started) = self.started.remove(&index) {
            let took = now.saturating_duration_since(started.at);
            self.metrics.record(started.operation, kind, took);
            let span = started.span;
            if span.is_disabled() {
                return;
            }
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
