//! Every scenario the harness runs. A new one needs its recording:
//! see the module docs of `main.rs`.

use crate::script::Scenario;

/// A time long past: a job set at it runs at once.
const PAST: &str = "\"2000-01-01 00:00:00\"";
/// A time that does not come during a test.
const FUTURE: &str = "\"2099-01-01 00:00:00\"";

/// A `SET` of `job` (already in wire form) at `when`.
fn set(id: &str, job: &str, when: &str) -> String {
    format!("{id} SET {job} {when}\n")
}

/// A rule `name` for `pattern` whose runner records its runs as `name`.
fn rule(id: &str, name: &str, pattern: &str) -> String {
    format!("{id} RULE SET {name} {pattern} shell {{run:{name}}}\n")
}

pub fn all() -> Vec<Scenario> {
    let mut all = Vec::new();
    all.extend(instructions());
    all.extend(malformed());
    all.extend(encoding());
    all.extend(lifecycle());
    all.extend(connections());
    all.extend(differences());
    all
}

/// The differences kept on purpose, each checked on both sides.
fn differences() -> Vec<Scenario> {
    vec![
        Scenario::new("lenient_dates")
            .differs("the TestServer refuses the lenient date forms a client must not write")
            .write(concat!(
                "0 SET len.short \"2099-5-6 2:6:8\"\n",
                "1 SET len.space \" 2099-01-01 00:00:00\"\n",
                "2 SET len.two-spaces \"2099-01-01  00:00:00\"\n",
                "3 SET len.plus \"+2099-01-01 00:00:00\"\n",
                "4 SET len.second60 \"2099-01-01 00:00:60\"\n",
            )),
        Scenario::new("a_date_past_2262")
            .differs(
                "the TestServer keeps in memory what the reference server writes to disk wrong",
            )
            .write(set("0", "late.job", "\"9999-12-31 23:59:59\"")),
    ]
}

/// Valid and invalid bodies of every instruction.
fn instructions() -> Vec<Scenario> {
    vec![
        Scenario::new("set_a_future_job").write(set("0", "app.a", FUTURE)),
        Scenario::new("set_bodies_of_the_wrong_shape").write(concat!(
            "0 SET\n",
            "1 SET app.a\n",
            "2 SET app.a \"2099-01-01 00:00:00\" extra\n",
            "3 set app.a \"2099-01-01 00:00:00\"\n",
            "4 SET app.a 2099-01-01\n",
            "5 SET app.a \"2099-01-01T00:00:00\"\n",
            "6 SET app.a \"2099-01-01 00:00:00Z\"\n",
            "7 NOPE x\n",
            "8 \"\" x\n",
        )),
        Scenario::new("set_impossible_and_edge_dates").write(concat!(
            "0 SET d.feb29 \"2021-02-29 00:00:00\"\n",
            "1 SET d.leap \"2020-02-29 12:00:00\"\n",
            "2 SET d.month13 \"2099-13-01 00:00:00\"\n",
            "3 SET d.hour24 \"2099-01-01 24:00:00\"\n",
            "4 SET d.minute60 \"2099-01-01 00:60:00\"\n",
            "5 SET d.second61 \"2099-01-01 00:00:61\"\n",
            "6 SET d.late \"2262-04-11 23:47:16\"\n",
            "7 SET d.year10000 \"10000-01-01 00:00:00\"\n",
            "8 SET d.words \"tomorrow at noon\"\n",
        )),
        Scenario::new("rule_set_bodies").write(concat!(
            "0 RULE SET r.shell app.shell. shell /bin/true\n",
            "1 RULE SET r.amqp app.amqp. amqp amqp://guest:guest@127.0.0.1:5672/%2f jobs app.jobs\n",
            "2 RULE SET r.empty \"\" shell /bin/true\n",
            "3 RULE SET r.upper app. SHELL /bin/true\n",
            "4 RULE SET r.http app. http http://x\n",
            "5 RULE SET r.arity app. shell\n",
            "6 RULE SET r.arity2 app. shell a b\n",
            "7 RULE SET r.amqp2 app. amqp dsn exchange\n",
            "8 RULE r app. shell x\n",
            "9 RULE GET r\n",
            "10 rule set r app. shell x\n",
        )),
        Scenario::new("a_rule_set_again_is_replaced")
            .write(format!(
                "{}0 RULE SET r app. shell /bin/false\n",
                rule("1", "first", "app.")
            ))
            .write(format!("2 RULE SET r app.b. shell {{run:second}}\n{}", set("3", "app.b.x", PAST)))
            .runs(1),
        Scenario::new("errors_come_before_the_answer_of_an_earlier_valid_request").write(concat!(
            "0 SET \n",
            "1 \"2030-01-01 00:00:00\"\n",
            "1 SET app.victim.1 \"2030-01-01 00:00:00\"\n",
            "2 SET app.victim.2 \"2030-01-01 00:00:00\"\n",
            "3 SET\n",
        )),
        Scenario::new("duplicate_request_identifiers").write(format!(
            "{}{}0 SET\n",
            set("0", "dup.a", FUTURE),
            set("0", "dup.b", FUTURE)
        )),
        Scenario::new("request_identifiers_of_every_form").write(format!(
            "{}{}{}{}",
            set("\"\"", "id.empty", FUTURE),
            set("\"a b\"", "id.space", FUTURE),
            set("\"q\\\"uote\\\\\"", "id.quote", FUTURE),
            set("\"line\nfeed\"", "id.lf", FUTURE),
        )),
        Scenario::new("many_arguments").write(format!("0 SET {}\n", ["a"; 100].join(" "))),
        Scenario::new("long_identifiers")
            .write(set("0", &"j".repeat(60_000), FUTURE))
            .write(set("1", &"k".repeat(65_535), FUTURE))
            .write(set("2", &"l".repeat(65_536), FUTURE))
            .write(format!(
                "3 RULE SET {} p. shell /bin/true\n",
                "r".repeat(70_000)
            )),
    ]
}

/// Malformed messages before, between and after valid ones, in one read
/// and across reads.
fn malformed() -> Vec<Scenario> {
    vec![
        Scenario::new("a_malformed_message_alone").write("X\n"),
        Scenario::new("malformed_messages_of_every_kind")
            .write_on(0, "\n")
            .write_on(1, "   \n")
            .write_on(2, "0 \"bad \\x escape\"\n")
            .write_on(3, "0 SET a\"b \"2099-01-01 00:00:00\"\n")
            .write_on(4, "0 \"a\"b SET\n"),
        Scenario::new("valid_then_malformed_in_one_read").write(format!(
            "{}X\n",
            set("0", "raw.valid-before-malformed", "\"2030-01-01 12:00:00\"")
        )),
        Scenario::new("invalid_then_malformed_in_one_read")
            .write("0 RULE SET app.rule.lf app.lf. shell \nX\n"),
        Scenario::new("malformed_between_valid_requests").write(format!(
            "{}1 SET\nX\n{}",
            set("0", "m.before", FUTURE),
            set("2", "m.after", FUTURE)
        )),
        Scenario::new("malformed_in_a_later_read_than_valid_ones").pieces(&[
            set("0", "m.first", FUTURE).as_bytes(),
            b"1 SET\n",
            b"X\n",
        ]),
        Scenario::new("malformed_after_answers")
            .write(set("0", "m.answered", FUTURE))
            .write(format!("{}X\n", set("1", "m.unanswered", FUTURE))),
        Scenario::new("an_unterminated_quote_waits_for_its_end")
            .pieces(&[b"0 SET \"split ", b"id\" \"2099-01-01 00:00:00\"\n"]),
        Scenario::new("an_unterminated_quote_then_the_end_of_input")
            .write(set("0", "u.before", FUTURE))
            .write_and_close("1 SET \"never closed"),
        Scenario::new("a_message_cut_across_reads").pieces(&[
            b"0 SE",
            b"T cut.job \"2099-01",
            b"-01 00:00:00\"\n1 SET\n",
        ]),
    ]
}

/// Identifiers of every kind, and bytes that are not UTF-8.
fn encoding() -> Vec<Scenario> {
    vec![
        Scenario::new("job_identifiers_of_every_kind")
            .write(rule("0", "all", "\"\""))
            .write(format!(
                "{}{}{}{}{}{}",
                set("1", "\"with space\"", PAST),
                set("2", "\"quote\\\"and\\\\backslash\"", PAST),
                set("3", "\"line\nfeed\"", PAST),
                set("4", "\"\"", PAST),
                set("5", "émoji🦀", PAST),
                set("6", "'single'", PAST),
            ))
            .runs(6),
        Scenario::new("invalid_utf8_in_a_job_identifier")
            .write(b"0 SET job\xffx \"2099-01-01 00:00:00\"\n"),
        Scenario::new("invalid_utf8_in_an_instruction").write(
            b"0 S\xc3ET j \"2099-01-01 00:00:00\"\n1 SET \xe2\x82 \"2099-01-01 00:00:00\"\n",
        ),
        Scenario::new("utf8_cut_across_reads").pieces(&[
            b"0 SET cut.\xc3",
            b"\xa9 \"2099-01-01 00:00:00\"\n1 SET cut.\xf0\x9f",
            b"\xa6\x80 \"2099-01-01 00:00:00\"\n",
        ]),
        Scenario::new("invalid_utf8_in_a_request_identifier")
            .write(b"\xff SET bad.id \"2099-01-01 00:00:00\"\n\xfe SET\n"),
    ]
}

/// Jobs through their life: runs, rules chosen, rescheduling in every
/// status.
fn lifecycle() -> Vec<Scenario> {
    vec![
        Scenario::new("a_past_job_with_no_rule_fails").write(set("0", "nobody.job", PAST)),
        Scenario::new("a_past_job_runs_against_its_rule")
            .write(rule("0", "app", "app."))
            .write(set("1", "app.now", PAST))
            .runs(1),
        Scenario::new("a_rule_and_a_past_job_in_one_read")
            .write(format!(
                "{}{}",
                rule("0", "app", "app."),
                set("1", "app.now", PAST)
            ))
            .runs(1),
        Scenario::new("the_longest_prefix_wins")
            .write(format!(
                "{}{}{}",
                rule("0", "all", "\"\""),
                rule("1", "app", "app."),
                rule("2", "mail", "app.mail.")
            ))
            .write(format!(
                "{}{}{}{}",
                set("3", "app.mail.1", PAST),
                set("4", "app.sms.1", PAST),
                set("5", "other.1", PAST),
                set("6", "app.mai", PAST)
            ))
            .runs(4),
        Scenario::new("a_job_with_no_matching_rule_fails")
            .write(rule("0", "app", "app."))
            .write(format!(
                "{}{}",
                set("1", "elsewhere.1", PAST),
                set("2", "APP.1", PAST)
            )),
        Scenario::new("rescheduling_a_planned_job")
            .write(set("0", "re.planned", FUTURE))
            .write(set("1", "re.planned", "\"2098-06-01 00:00:00\"")),
        Scenario::new("rescheduling_a_planned_job_into_the_past")
            .write(rule("0", "re", "re."))
            .write(set("1", "re.soon", FUTURE))
            .write(set("2", "re.soon", PAST))
            .runs(1),
        Scenario::new("rescheduling_an_executed_job")
            .write(rule("0", "re", "re."))
            .write(set("1", "re.done", PAST))
            .runs(1)
            .write(set("2", "re.done", PAST))
            .runs(2)
            .write(set("3", "re.done", FUTURE)),
        Scenario::new("rescheduling_a_failed_job")
            .write(set("0", "re.failed", PAST))
            .write(set("1", "re.failed", FUTURE)),
        Scenario::new("rescheduling_a_triggered_job_is_refused")
            .write(format!(
                "0 RULE SET slow slow. shell {{slow:slow}}\n{}",
                set("1", "slow.job", PAST)
            ))
            .write(format!("{}3 SET\n", set("2", "slow.job", FUTURE)))
            .runs(1)
            .write(set("4", "slow.job", FUTURE)),
        Scenario::new("a_rule_changed_before_its_job_runs")
            .write(rule("0", "old", "chg."))
            .write(set("1", "chg.job", FUTURE))
            .write(format!(
                "2 RULE SET old chg. shell {{run:new}}\n{}",
                set("3", "chg.job", PAST)
            ))
            .runs(1),
        Scenario::new("many_jobs_in_one_write")
            .write(rule("0", "bulk", "bulk."))
            .write(
                (0..100)
                    .map(|i| set(&format!("{}", i + 1), &format!("bulk.{i:03}"), PAST))
                    .collect::<String>(),
            )
            .runs(100),
    ]
}

/// Several connections, and how connections end.
fn connections() -> Vec<Scenario> {
    vec![
        Scenario::new("connections_share_one_state")
            .write_on(0, rule("0", "shared", "shared."))
            .write_on(1, set("0", "shared.job", PAST))
            .runs(1),
        Scenario::new("each_connection_gets_its_own_answers")
            .write_on(0, set("0", "c0.job", FUTURE))
            .write_on(1, format!("{}0 SET\n", set("0", "c1.job", FUTURE)))
            .write_on(2, "0 NOPE\n")
            .write_on(3, "X\n")
            .write_on(0, set("1", "c0.again", FUTURE)),
        Scenario::new("a_malformed_message_closes_only_its_connection")
            .write_on(0, set("0", "alive.before", FUTURE))
            .write_on(1, "X\n")
            .write_on(0, set("1", "alive.after", FUTURE)),
        Scenario::new("twenty_connections_at_once")
            .write_on(0, rule("0", "many", "many."))
            .each(
                (1..=20)
                    .map(|c| {
                        let job = if c % 5 == 0 {
                            "X\n".to_owned()
                        } else {
                            format!("{}{c} SET\n", set("0", &format!("many.{c:02}"), PAST))
                        };
                        (c, job)
                    })
                    .collect(),
            )
            .runs(16),
        Scenario::new("the_end_of_input_after_answers")
            .write(set("0", "eof.answered", FUTURE))
            .write_and_close(set("1", "eof.last", FUTURE)),
        Scenario::new("the_end_of_input_right_after_an_invalid_request")
            .write(set("0", "eof.before", FUTURE))
            .write_and_close("1 SET\n"),
        Scenario::new("the_end_of_input_alone").write_and_close(""),
    ]
}
