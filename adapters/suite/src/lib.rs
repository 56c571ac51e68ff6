//! The test suite of the async client (`kairoi_client::Client`), written
//! once and run under every runtime: `kairoi-tokio` and `kairoi-smol` each
//! expand [`suite!`] (and [`bulk_suite!`]) with their [`Harness`] in a test
//! file, so both runtimes pass the same tests.
//!
//! The restart cases are written once for every client of the workspace,
//! the blocking one included, over [`restart::BatchClient`]:
//! [`restart_suite!`] against a `TestServer`, [`live_restart_suite!`]
//! against the reference server, which [`reference`](mod@reference)
//! starts, restarts and reads the log of (for the fidelity test of
//! `kairoi-test-server` too).
//!
//! The cases talk to a real `TestServer` (or a plain socket) over
//! loopback. They wait on conditions with generous deadlines, never on
//! fixed sleeps for correctness.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::future::Future;

use kairoi_client::Runtime;

pub mod bulk;
pub mod faults;
pub mod lifecycle;
pub mod live;
pub mod live_restart;
pub mod live_shards;
pub mod liveness;
pub mod observed;
pub mod pipelining;
pub mod reference;
pub mod restart;
pub mod shards;
pub mod spans;
pub mod support;

/// How a runtime runs a test case.
pub trait Harness {
    /// The runtime under test.
    type Rt: Runtime + Default;

    /// Runs `future` to completion on the runtime, from a plain thread.
    fn block_on<F: Future>(future: F) -> F::Output;
}

/// Expands to one `#[test]` per case of the suite, each run on the
/// harness's runtime.
#[macro_export]
macro_rules! suite {
    ($harness:ty) => {
        $crate::tests!($harness;
            lifecycle::cancelled_after_the_write_never_steals_a_later_reply,
            lifecycle::cancelled_before_the_write_is_withdrawn,
            lifecycle::in_flight_counts_queued_and_written_requests,
            lifecycle::close_waits_for_requests_in_flight,
            lifecycle::close_past_its_deadline_ends_requests_as_unknown,
            lifecycle::dropping_the_close_future_does_not_cut_requests_off,
            lifecycle::dropping_the_client_lets_the_driver_finish,
            lifecycle::reconnects_after_the_server_drops_the_connection,
            lifecycle::the_request_after_a_broken_connection_reconnects,
            lifecycle::failed_attempts_back_off_and_calls_fail_fast_meanwhile,
            lifecycle::a_call_waits_for_a_server_that_comes_back,
            lifecycle::retry_policy_resends_not_sent_requests,
            lifecycle::retry_policy_can_resend_requests_of_unknown_outcome,
            lifecycle::extreme_settings_never_panic,
            lifecycle::a_host_name_is_resolved_again_on_reconnect,
            lifecycle::over_a_caller_connected_transport,
            lifecycle::a_transport_that_ends_is_not_replaced,
            faults::delayed_responses_time_out_and_the_quiet_connection_is_replaced,
            faults::close_after_n_requests_then_reconnect,
            faults::close_without_answer,
            faults::malformed_and_unmatched_responses_end_the_connection,
            faults::rejected_requests_get_their_own_error,
            faults::a_server_that_stops_reading_gives_outcomes_not_a_hang,
            pipelining::the_client_and_its_futures_are_send_and_sync,
            pipelining::a_thousand_tasks_share_one_connection,
            pipelining::shuffled_responses_reach_their_own_callers,
            pipelining::execute_all_keeps_input_order_through_a_small_window,
            pipelining::execute_each_reports_each_position_once,
            pipelining::typed_raw_and_rule_requests,
            pipelining::a_pool_of_four_beats_one_connection,
            liveness::a_server_that_reads_but_never_answers_is_replaced,
            liveness::twelve_callers_to_a_refused_port_end_within_their_timeout,
            liveness::three_thousand_tasks_end_when_the_server_stops,
            liveness::a_server_restarted_mid_batch_ends_every_request_once,
        );
    };
}

/// Expands to the bulk case: a million requests through each batch call
/// (it measures the process's memory, so it has a test binary of its
/// own).
#[macro_export]
macro_rules! bulk_suite {
    ($harness:ty) => {
        $crate::tests!($harness; bulk::a_million_requests_through_each_batch_call);
    };
}

/// Expands to the restart cases ([`restart`]) for a
/// [`restart::BatchClient`]: each client of the workspace runs them in a
/// test binary of its own.
#[macro_export]
macro_rules! restart_suite {
    ($client:ty) => {
        $crate::restart_suite!(@cases $client;
            a_batch_rides_out_two_restarts,
            a_retried_lazy_batch_rides_out_restarts_in_bounded_memory,
            a_batch_against_a_server_that_stays_away_ends_promptly,
        );
    };
    (@cases $client:ty; $($name:ident),* $(,)?) => {
        $crate::restart_suite!(@cases_in restart $client; $($name),*);
    };
    (@cases_in $module:ident $client:ty; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $crate::$module::$name::<$client>();
            }
        )*
    };
}

/// Expands to the cases of a client over several servers ([`shards`])
/// for a [`restart::BatchClient`].
#[macro_export]
macro_rules! shard_suite {
    ($client:ty) => {
        $crate::restart_suite!(@cases_in shards $client;
            jobs_land_on_their_placed_server_and_rules_on_all,
            a_stopped_server_fails_only_its_share_naming_it,
            a_server_down_at_the_start_fails_only_its_share,
        );
    };
}

/// Expands to the cases of what a client says it did ([`observed`]) for
/// an [`observed::ObservedClient`].
#[macro_export]
macro_rules! observed_suite {
    ($client:ty) => {
        $crate::restart_suite!(@cases_in observed $client;
            the_snapshot_counts_what_the_calls_returned,
            the_snapshot_of_several_servers_counts_each,
        );
    };
}

/// Expands to the span case ([`spans`]) for a
/// [`restart::BatchClient`]: in a test binary of its own, since it
/// installs a global subscriber.
#[macro_export]
macro_rules! span_suite {
    ($client:ty) => {
        $crate::restart_suite!(@cases_in spans $client;
            one_span_per_request_with_its_outcome,
        );
    };
}

/// Expands to the live cases, against the server at `KAIROI_ADDR`. They
/// are ignored by a plain `cargo test` (which says so), and run with
/// `-- --ignored`; without the variable they then fail, naming it.
#[macro_export]
macro_rules! live_suite {
    ($harness:ty) => {
        $crate::tests!(@ignore "live: needs a Kairoi server at KAIROI_ADDR (see the README)"; $harness;
            live::a_quarter_million_jobs_in_one_batch_all_ok,
            live::a_pool_of_four_keeps_up_with_four_raw_sockets,
        );
    };
}

/// Expands to the live restart case ([`live_restart`]) and the live case
/// over three servers ([`live_shards`]) for a
/// [`restart::BatchClient`], against reference servers it starts and
/// restarts itself from the binary at `KAIROI_REFERENCE_BIN`. It is
/// ignored by a plain `cargo test` (which says so), and runs with
/// `-- --ignored`; without the variable it then fails, naming it.
#[macro_export]
macro_rules! live_restart_suite {
    ($client:ty) => {
        #[test]
        #[ignore = "live: needs the reference server's binary at KAIROI_REFERENCE_BIN (see the README)"]
        fn a_batch_rides_out_a_reference_server_restart() {
            $crate::live_restart::a_batch_rides_out_a_reference_server_restart::<$client>();
        }

        #[test]
        #[ignore = "live: needs the reference server's binary at KAIROI_REFERENCE_BIN (see the README)"]
        fn a_batch_over_three_reference_servers() {
            $crate::live_shards::a_batch_over_three_reference_servers::<$client>();
        }

        #[test]
        #[ignore = "live: needs the reference server's binary at KAIROI_REFERENCE_BIN (see the README)"]
        fn three_servers_against_one_and_raw_sockets() {
            $crate::live_shards::three_servers_against_one_and_raw_sockets::<$client>();
        }
    };
}

/// Expands to one `#[test]` per named case (`@ignore "reason";` first:
/// each ignored unless asked for).
#[doc(hidden)]
#[macro_export]
macro_rules! tests {
    (@ignore $reason:literal; $harness:ty; $($module:ident :: $name:ident),* $(,)?) => {
        $(
            #[test]
            #[ignore = $reason]
            fn $name() {
                $crate::tests!(@run $harness, $module, $name);
            }
        )*
    };
    (@run $harness:ty, $module:ident, $name:ident) => {
        <$harness as $crate::Harness>::block_on(
            $crate::$module::$name::<<$harness as $crate::Harness>::Rt>(),
        )
    };
    ($harness:ty; $($module:ident :: $name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $crate::tests!(@run $harness, $module, $name);
            }
        )*
    };
}
