//! [`request_calls!`]: the single-request calls of every client, written
//! once for the blocking and the async client.

/// Expands, inside the `impl` of a client that has
/// `run(&self, Payload) -> Result<(), RequestError>` (async, or blocking
/// with `&mut self`), to `execute`, `execute_arguments`, `set_job` and
/// `set_rule`. `request_calls!(async)` or `request_calls!(blocking)`.
#[doc(hidden)]
#[macro_export]
macro_rules! request_calls {
    (async) => {
        $crate::request_calls!(@calls [async] [.await] []);
    };
    (blocking) => {
        $crate::request_calls!(@calls [] [] [mut]);
    };
    (@calls [$($async:tt)*] [$($await:tt)*] [$($mut:tt)?]) => {
        /// Sends one instruction and waits for its outcome, at most the
        /// request timeout in all: waiting for a connection, reconnecting
        /// and retries included.
        ///
        /// An async call is cancel safe: dropping its future gives up on
        /// the request. If none of its bytes were written it is withdrawn
        /// and never sent. If it was written, the server may still apply
        /// it; its identifier stays reserved until the late response
        /// arrives, so no later request can receive it.
        pub $($async)* fn execute(
            &$($mut)? self,
            instruction: &$crate::proto::Instruction,
        ) -> Result<(), $crate::RequestError> {
            self.run($crate::mux::Payload::Typed(instruction.clone()))$($await)*
        }

        /// Sends a request with any body, for instructions the typed layer
        /// does not know. Each argument is quoted as needed. As
        /// `execute` otherwise.
        pub $($async)* fn execute_arguments<A: AsRef<str>>(
            &$($mut)? self,
            body: impl IntoIterator<Item = A>,
        ) -> Result<(), $crate::RequestError> {
            let body = body.into_iter().map(|a| a.as_ref().to_owned()).collect();
            self.run($crate::mux::Payload::Raw(body))$($await)*
        }

        /// Schedules (or reschedules) the job `job` at `execution` (UTC).
        /// As `execute` otherwise.
        pub $($async)* fn set_job(
            &$($mut)? self,
            job: impl Into<$crate::proto::Text>,
            execution: $crate::proto::DateTime,
        ) -> Result<(), $crate::RequestError> {
            self.execute(&$crate::proto::Instruction::set(job, execution))$($await)*
        }

        /// Creates or replaces the rule `rule`: jobs whose identifier
        /// starts with `pattern` (the longest matching pattern wins) run
        /// with `runner`. As `execute` otherwise.
        pub $($async)* fn set_rule(
            &$($mut)? self,
            rule: impl Into<$crate::proto::Text>,
            pattern: impl Into<$crate::proto::Text>,
            runner: $crate::proto::Runner,
        ) -> Result<(), $crate::RequestError> {
            self.execute(&$crate::proto::Instruction::rule_set(rule, pattern, runner))$($await)*
        }
    };
}
