//! `breakglass enforce`: one reconcile pass of the enforcer and the sentinel. Without `--event`:
//! every bucket, a few at a time, each reported in config order with its error in place, then what
//! the sentinel repaired, a summary line, and the exit code by the worst outcome (as `status`).
//! With `--event`: the Lambda's answer to that one event, as JSON.

use std::fmt::Write as _;
use std::process::ExitCode;

use breakglass_aws::wiring::{guard_ports, Aws, GuardPorts};
use breakglass_aws::Clients;
use breakglass_core::guard::enforce::{Cause, EnforceError, Outcome};
use breakglass_core::guard::pass::{Checked, Swept};
use breakglass_core::guard::per_account::by_account;
use breakglass_core::guard::sentinel::{Repair, Sentinel};
use breakglass_core::runtime::{enforce_and_guard_event, Guard, Settings};
use serde::Serialize;
use time::OffsetDateTime;

use crate::aws_cmd::{accounts, plural, print_json, progress, read_event, runtime};
use crate::exit::Exit;
use crate::input::{load_config, CliError};
use crate::EnforceArgs;

/// One bucket as `enforce` reports it (`--json`: one element of `buckets`).
#[derive(Debug, Serialize)]
struct BucketEnforced {
    bucket: String,
    /// `closed`, `lawful` (open lawfully), `remediated` (ClosedAccess written and verified),
    /// `would-remediate` (`--dry-run`), or `error` when the policy could not be reconciled.
    outcome: &'static str,
    /// The outcome in words, with the error.
    detail: String,
    /// Why the policy was not lawful.
    reason: Option<String>,
    /// `drift`, `expired`, `unauthorised` or `unapproved`.
    cause: Option<&'static str>,
    before_sha256: Option<String>,
    after_sha256: Option<String>,
    /// Why the bucket (its policy, or its settings) could not be reconciled.
    error: Option<String>,
    #[serde(skip)]
    exit: Exit,
}

/// What the sentinel put back or reported around the policies (`--json`: one of `repairs`).
#[derive(Debug, Serialize)]
struct RepairDone {
    /// `bucket`, `role` or `topic`.
    kind: &'static str,
    subject: String,
    what: String,
    repaired: bool,
    error: Option<String>,
}

/// The counts the summary line gives (`--json`: `summary`).
#[derive(Debug, Serialize)]
struct Summary {
    buckets: usize,
    /// Closed, or open lawfully: nothing to do.
    lawful: usize,
    /// ClosedAccess written (with `--dry-run`: would be).
    remediated: usize,
    /// Buckets not reconciled, and the failures of no one bucket (`errors`).
    errors: usize,
    repairs: usize,
    /// The exit code (`breakglass --help`): the worst outcome's.
    exit_code: u8,
}

/// `breakglass enforce --json` without `--event`.
#[derive(Debug, Serialize)]
struct EnforceOutput {
    dry_run: bool,
    buckets: Vec<BucketEnforced>,
    repairs: Vec<RepairDone>,
    /// Failures of no one bucket: the roles' and the topic's checks, the events not published.
    errors: Vec<String>,
    summary: Summary,
}

pub fn enforce(a: &EnforceArgs, settings: &Settings) -> Result<ExitCode, CliError> {
    let config = load_config(&a.aws.config)?;
    let event = a.event.as_deref().map(read_event).transpose()?;
    runtime()?.block_on(async {
        let clients =
            Clients::load(a.aws.endpoint_url.as_deref()).await.map_err(|e| CliError::Input(e.to_string()))?;
        let accounts = accounts(&clients, &config, !a.dry_run).await?;
        // The two-person rule's approvals, from the config's audit trail (signatures checked).
        let audit = config.audit.clone();
        let alarm = settings.alarm_topic_arn.clone();
        let GuardPorts { mut enforcer, control } =
            guard_ports(&clients, accounts, config, audit, &a.event_bus, alarm, a.dry_run);
        // The CLI's dry run writes nothing anywhere, events and thus mails, records and digests
        // included (the Lambda's DryRun setting does report them); what it would do is printed.
        if a.dry_run {
            enforcer.bus = enforcer.bus.withheld();
        }
        // The paths around the policy too: bucket settings and investigator trust (and the
        // notification topic's subscriptions when BREAKGLASS_TOPIC_ARN and _SUBSCRIPTIONS are set).
        let expected = settings.expected().map_err(|e| CliError::Input(e.to_string()))?;
        let sentinel = Sentinel {
            config: &enforcer.config,
            store: &enforcer.store,
            bus: &enforcer.bus,
            control: &control,
            expected: &expected,
            dry_run: a.dry_run,
        };
        let now = OffsetDateTime::now_utc();
        if let Some(event) = &event {
            let guard =
                Guard::<Aws> { enforcer: &enforcer, sentinel: &sentinel, fanout: None, heartbeat: None };
            let answer = enforce_and_guard_event(&guard, event, now).await.map_err(enforce_error)?;
            print_json(&answer);
            return Ok(ExitCode::SUCCESS);
        }
        let buckets = &enforcer.config.buckets;
        let bar = progress(2 * buckets.len());
        let swept = enforcer.sweep(buckets.iter().collect(), now, &|| bar.inc(1)).await;
        // The settings after the policies, as the Lambda orders its writes.
        let settings = by_account(buckets.iter().collect(), |b| {
            let (sentinel, bar) = (&sentinel, &bar);
            async move {
                let settings = sentinel.sweep_bucket(b, now).await;
                bar.inc(1);
                settings
            }
        })
        .await;
        let control = sentinel.control_checks(now).await;
        bar.finish_and_clear();
        Ok(report(a, swept, settings, control))
    })
}

/// Prints the pass, a line per bucket and the summary (or `--json`), and answers its exit code.
fn report(
    a: &EnforceArgs,
    swept: Swept,
    settings: Vec<Result<Vec<Repair>, EnforceError>>,
    control: Result<Vec<Repair>, EnforceError>,
) -> ExitCode {
    let mut repairs = Vec::new();
    let mut rows = Vec::new();
    for (checked, settings) in swept.buckets.into_iter().zip(settings) {
        let mut row = row(checked);
        match settings {
            Ok(found) => repairs.extend(found),
            // A policy error already names what is wrong with the bucket; a settings error only adds to it.
            Err(e) if row.error.is_none() => {
                let _ = write!(row.detail, "; its settings: error: {e}");
                row.exit = row.exit.max(exit_of(&e));
                row.error = Some(e.to_string());
            }
            Err(_) => {}
        }
        rows.push(row);
    }
    let mut others = Vec::new();
    match control {
        Ok(found) => repairs.extend(found),
        Err(e) => others.push(e),
    }
    if let Err(e) = swept.published {
        others.push(EnforceError::Bus(e));
    }
    let exit = rows.iter().map(|r| r.exit).chain(others.iter().map(exit_of)).max().unwrap_or(Exit::Ok);
    let failed = rows.iter().filter(|r| r.error.is_some()).count();
    let summary = Summary {
        buckets: rows.len(),
        lawful: rows.iter().filter(|r| matches!(r.outcome, "closed" | "lawful")).count(),
        remediated: rows.iter().filter(|r| matches!(r.outcome, "remediated" | "would-remediate")).count(),
        errors: failed + others.len(),
        repairs: repairs.len(),
        exit_code: exit.code(),
    };
    if failed > 0 {
        eprintln!(
            "breakglass: {} of {} could not be reconciled (each error is on its bucket's line)",
            failed,
            plural(summary.buckets, "bucket")
        );
    }
    let repairs: Vec<RepairDone> = repairs
        .into_iter()
        .map(|r| RepairDone {
            kind: r.kind,
            subject: r.subject,
            what: r.what,
            repaired: r.repaired,
            error: r.error,
        })
        .collect();
    let errors: Vec<String> = others.iter().map(ToString::to_string).collect();
    let out = EnforceOutput { dry_run: a.dry_run, buckets: rows, repairs, errors, summary };
    if a.json {
        match serde_json::to_value(&out) {
            Ok(v) => print_json(&v),
            Err(e) => eprintln!("breakglass: cannot print json: {e}"),
        }
    } else {
        print!("{}", human(&out));
    }
    exit.into()
}

/// One bucket's line: what the enforcer did, or the error that kept it from reconciling.
fn row(c: Checked) -> BucketEnforced {
    let mut r = BucketEnforced {
        bucket: c.bucket,
        outcome: "error",
        detail: String::new(),
        reason: None,
        cause: None,
        before_sha256: None,
        after_sha256: None,
        error: None,
        exit: Exit::Ok,
    };
    let report = match c.result {
        Ok(report) => report,
        Err(e) => {
            r.exit = exit_of(&e);
            r.detail = format!("error: {e}");
            r.error = Some(e.to_string());
            return r;
        }
    };
    let reason = report.reason.clone().unwrap_or_default();
    (r.outcome, r.exit, r.detail) = match &report.outcome {
        Outcome::Lawful if report.before_state == "closed" => ("closed", Exit::Ok, report.before.clone()),
        Outcome::Lawful => ("lawful", Exit::Ok, report.before.clone()),
        Outcome::Closed => {
            ("remediated", Exit::Found, format!("remediated: ClosedAccess written ({reason})"))
        }
        Outcome::WouldClose => ("would-remediate", Exit::Found, format!("would remediate ({reason})")),
        Outcome::Refused(e) => {
            r.error = Some(format!("s3 refused ClosedAccess: {e}"));
            ("error", Exit::Refused, format!("error: s3 refused ClosedAccess: {e} ({reason})"))
        }
        Outcome::Unverified(found) => {
            r.error = Some(format!("wrote ClosedAccess but read back `{found}`"));
            ("error", Exit::Retry, format!("error: wrote ClosedAccess but read back `{found}`"))
        }
    };
    r.reason = report.reason;
    r.cause = report.cause.map(Cause::word);
    r.before_sha256 = report.before_hash.map(|h| h.to_string());
    r.after_sha256 = report.after_hash.map(|h| h.to_string());
    r
}

/// The human form: a line per bucket, the sentinel's repairs, the failures of no one bucket, then
/// the summary.
fn human(out: &EnforceOutput) -> String {
    let mut text = String::new();
    for r in &out.buckets {
        let _ = writeln!(text, "{:<32} {}", r.bucket, r.detail);
    }
    for r in &out.repairs {
        let done = match (&r.error, r.repaired) {
            (Some(e), _) => format!("not repaired: {e}"),
            (None, true) => "repaired".to_owned(),
            (None, false) => "reported".to_owned(),
        };
        let _ = writeln!(text, "{} {}: {} ({done})", r.kind, r.subject, r.what);
    }
    for e in &out.errors {
        let _ = writeln!(text, "error: {e}");
    }
    let s = &out.summary;
    let _ = writeln!(
        text,
        "{}: {} closed/lawful, {} {}, {}",
        plural(s.buckets, "bucket"),
        s.lawful,
        s.remediated,
        if out.dry_run { "would remediate" } else { "remediated" },
        plural(s.errors, "error")
    );
    text
}

/// An enforce error's kind: what AWS refused is not worth retrying unchanged; the rest is.
fn exit_of(e: &EnforceError) -> Exit {
    match e {
        EnforceError::Aws { source, .. } | EnforceError::Bus(source) | EnforceError::Queue(source)
            if !source.is_retryable() =>
        {
            Exit::Refused
        }
        _ => Exit::Retry,
    }
}

/// An enforce error as the CLI fails with it (`--event`), in its kind.
fn enforce_error(e: EnforceError) -> CliError {
    match exit_of(&e) {
        Exit::Refused => CliError::AwsRefused(e.to_string()),
        _ => CliError::Aws(e.to_string()),
    }
}
