//! The request spans a client emits, written once for every client (a
//! [`BatchClient`]): one `kairoi_request` span per request, closed with
//! its outcome, whatever resends happened inside. [`capture`] installs a
//! global subscriber that records them: a test binary of its own, since
//! the drivers run on other threads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use kairoi_client::{RetryPolicy, Tally};
use kairoi_proto::Instruction;
use kairoi_test_server::TestServer;
use tracing::Subscriber;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

use crate::restart::{BatchClient, Options};
use crate::support::{batch, later};

/// The request spans closed so far, by their `outcome` field (`"none"`
/// for a span closed without one).
#[derive(Debug, Default, Clone)]
pub struct Closed(Arc<Mutex<HashMap<String, u64>>>);

impl Closed {
    /// The counts now.
    pub fn counts(&self) -> HashMap<String, u64> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The `outcome` field of a span, kept in its extensions.
struct Outcome(Option<String>);

impl Visit for Outcome {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "outcome" {
            self.0 = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "outcome" {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

struct Capture(Closed);

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if attrs.metadata().name() != "kairoi_request" {
            return;
        }
        let mut outcome = Outcome(None);
        attrs.record(&mut outcome);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(outcome);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            if let Some(outcome) = span.extensions_mut().get_mut::<Outcome>() {
                values.record(outcome);
            }
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let extensions = span.extensions();
        let Some(Outcome(outcome)) = extensions.get::<Outcome>() else {
            return;
        };
        let key = outcome.clone().unwrap_or_else(|| "none".to_owned());
        let mut closed = self.0.0.lock().unwrap_or_else(PoisonError::into_inner);
        *closed.entry(key).or_insert(0) += 1;
    }
}

/// Installs, once per process, a global subscriber that records the
/// request spans (at debug level), and returns what it recorded.
pub fn capture() -> Closed {
    static CLOSED: OnceLock<Closed> = OnceLock::new();
    CLOSED
        .get_or_init(|| {
            let closed = Closed::default();
            let subscriber = tracing_subscriber::registry().with(Capture(closed.clone()));
            tracing::subscriber::set_global_default(subscriber)
                .expect("no other global subscriber in this test binary");
            closed
        })
        .clone()
}

/// A batch with rejections, then single calls: one request span closed
/// per request, each with its outcome, and as many of each outcome as the
/// calls returned.
pub fn one_span_per_request_with_its_outcome<C: BatchClient>() {
    let closed = capture();
    let server = TestServer::start().expect("a test server");
    let options = Options {
        window: 32,
        connections: 2,
        request_timeout: Duration::from_secs(10),
        retry: RetryPolicy::not_sent(2),
    };
    let mut client = C::connect(server.addr(), options);
    server.faults().reject_every(4);
    let mut returned = Tally::default();
    client.execute_each(batch("span", 400).into_iter(), |_, r| returned.record(&r));
    for n in 0..10 {
        returned.record(&client.execute(Instruction::set(format!("one.{n}"), later())));
    }
    drop(client);
    let counts = closed.counts();
    let of = |name: &str| counts.get(name).copied().unwrap_or(0);
    assert_eq!(of("ok"), returned.ok, "{counts:?} against {returned:?}");
    assert_eq!(of("rejected"), returned.rejected, "{counts:?}");
    assert!(returned.rejected > 0);
    assert_eq!(
        counts.values().sum::<u64>(),
        410,
        "one span per request: {counts:?}"
    );
}
