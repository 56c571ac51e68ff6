//! [`Forward`]: the proxy's handler, each request to the upstream
//! client.

use kairoi_proto::{InstructionError, RequestRef, Status};

use crate::Client;
use crate::serve::{BoxStatus, Handler, Reply};

/// The [`Handler`] of the proxy: each request's body goes, as it came, to
/// an upstream [`Client`] (one server, or several with jobs placed by
/// identifier and rules sent to every server), and its outcome becomes the
/// answer.
///
/// | the request | the answer |
/// | --- | --- |
/// | a valid body | forwarded with [`Client::execute_arguments`]: `OK` when the upstream answered `OK` (on every server, for a rule), else `ERROR` |
/// | a `SET` whose date the core refuses | forwarded all the same: the upstream server decides (the reference server accepts lenient forms such as `2030-5-6 2:6:8`, and refuses the rest with `ERROR`) |
/// | any other invalid body (unknown instruction, wrong arity, unknown runner) | `ERROR` at once, without a round trip: what the reference server answers, also at once |
///
/// A request that could not be completed upstream (not sent, outcome
/// unknown, timed out) is answered `ERROR`, the only other word of the
/// protocol; its reason is logged (`tracing`, warn) and counted in the
/// client's [`stats`](Client::stats).
#[derive(Debug, Clone)]
pub struct Forward {
    client: Client,
}

impl Forward {
    /// Forwards to `client`.
    pub fn new(client: Client) -> Self {
        Forward { client }
    }

    /// The upstream client.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

impl Handler for Forward {
    type Future = BoxStatus;

    fn call(&self, request: &RequestRef<'_>) -> Reply<BoxStatus> {
        if let Err(invalid) = &request.instruction {
            if !matches!(invalid.error, InstructionError::InvalidExecution { .. }) {
                return Reply::Now(Status::Error);
            }
        }
        let body: Vec<String> = request.body.iter().map(|a| a.as_str().to_owned()).collect();
        let client = self.client.clone();
        Reply::Later(Box::pin(async move {
            match client.execute_arguments(&body).await {
                Ok(()) => Status::Ok,
                Err(e) if e.is_rejected() => Status::Error,
                Err(e) => {
                    let operation = body.first().map_or("", String::as_str);
                    tracing::warn!(
                        operation,
                        error = %e,
                        "request not completed upstream: answered ERROR"
                    );
                    Status::Error
                }
            }
        }))
    }
}
