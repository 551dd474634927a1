//! The two-person rule from the command line: `request` asks (nothing opens), `approve` by another
//! person opens exactly what was asked, `deny` ends it. Who is who comes from STS, never from an
//! argument. A refused decision (self-approval, not an approver, expired, already decided) is put on
//! the bus like any decision, so it is recorded and mailed as an attempt.

use std::process::ExitCode;
use std::time::Duration as StdDuration;

use breakglass_aws::S3AuditLog;
use breakglass_config::{AuditConfig, BucketConfig, Config};
use breakglass_core::access::approval::{self, from_records};
use breakglass_core::events::{AccessRequest, Decision, OwnEvent};
use breakglass_core::ports::EventBus;
use breakglass_core::trail::audit::bucket_prefix;
use serde_json::Value;

use crate::aws_cmd::{change_command, check_account, operate_error, print_json, report, runtime, Operator};
use crate::input::{choose_bucket, load_config, CliError};
use crate::{DecideArgs, OpenArgs};

pub fn request(a: &OpenArgs) -> Result<ExitCode, CliError> {
    let config = load_config(&a.change.aws.config)?;
    let bucket = choose_bucket(&config, Some(&a.change.bucket))?;
    check_account(&config, bucket, a.change.account.as_deref())?;
    let duration = breakglass_config::parse_duration(&a.duration).ok_or_else(|| {
        CliError::Input(format!("invalid --duration `{}`: expected e.g. `4h`, `90m`, `1h30m`", a.duration))
    })?;
    let readers = a.readers.iter().cloned().collect();
    runtime()?.block_on(async {
        let op = Operator::connect(&a.change.aws, &a.outcome.event_bus, &config).await?;
        let q = approval::request(bucket, &op.who, &a.change.reason, &a.ticket, duration, &readers, op.now)
            .map_err(|e| match e {
            approval::RequestError::NotTwoPerson(_) => {
                CliError::Input(format!("{e}; open it with `{}`", change_command("open", a)))
            }
            e => CliError::Input(e.to_string()),
        })?;
        op.bus
            .put(&OwnEvent::AccessRequest(q.clone()).to_bus())
            .await
            .map_err(|e| CliError::port("the request could not be put on the bus", &e))?;
        if a.outcome.json {
            print_json(&OwnEvent::AccessRequest(q).detail());
        } else {
            println!("requested access to {} for {} ({}): request {}", q.bucket, q.duration, q.ticket, q.id);
            let account = config.organisation.as_ref().map(|_| bucket.account.as_str());
            let path = a.change.aws.config.to_string_lossy();
            let cmd = approval::decide_command("approve", &q.id, &q.bucket, account, Some(&path));
            println!("  another approver decides: {cmd}");
            println!("  it expires at {}", q.expires_at);
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// The audit trail's location for the approvals, and a bucket's records in it.
fn trail(config: &Config) -> Result<AuditConfig, CliError> {
    config.audit.clone().ok_or_else(|| {
        CliError::Input(
            "the config has no `[audit]` table: the two-person rule keeps its requests there".into(),
        )
    })
}

async fn records(
    log: &S3AuditLog,
    audit: &AuditConfig,
    config: &Config,
    b: &BucketConfig,
) -> Result<Vec<Value>, CliError> {
    let account = config.organisation.as_ref().map(|_| b.account.as_str());
    let prefix = bucket_prefix(audit, account, &b.name);
    let read = log
        .read_all(&prefix)
        .await
        .map_err(|e| CliError::port(format_args!("audit trail `s3://{}/{prefix}`", audit.bucket), &e))?;
    for w in &read.warnings {
        eprintln!("breakglass: warning: {w}");
    }
    Ok(read.records.iter().filter_map(|(_, t)| serde_json::from_str(t).ok()).collect())
}

pub fn decide(a: &DecideArgs, approve: bool) -> Result<ExitCode, CliError> {
    let config = load_config(&a.aws.config)?;
    let audit = trail(&config)?;
    if a.id.len() > 64 || !a.id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(CliError::Input(format!(
            "invalid request id `{}`: expected what `breakglass request` printed",
            a.id
        )));
    }
    let candidates: Vec<&BucketConfig> = match &a.bucket {
        Some(name) => {
            let b = choose_bucket(&config, Some(name))?;
            check_account(&config, b, a.account.as_deref())?;
            vec![b]
        }
        None => config.buckets.iter().filter(|b| b.two_person.is_some()).collect(),
    };
    runtime()?.block_on(async {
        let op = Operator::connect(&a.aws, &a.outcome.event_bus, &config).await?;
        let log = S3AuditLog::for_config(&op.clients, &audit);
        let mut found = None;
        for b in candidates {
            let recs = records(&log, &audit, &config, b).await?;
            let (requests, decisions) = from_records(&recs);
            if let Some(q) = requests.into_iter().find(|q| q.id == a.id) {
                found = Some((b, q, decisions));
                break;
            }
        }
        let Some((bucket, q, decisions)) = found else {
            return Err(CliError::Input(format!(
                "no request `{}` in the audit trail (a new request is recorded within seconds; name its --bucket)",
                a.id
            )));
        };
        // A decision of this approver already recorded (a run that timed out waiting): resume it.
        let mine = decisions.iter().find(|d| d.id == q.id && d.decision == "approved" && d.by == op.who).cloned();
        let decision = match mine {
            Some(d) if approve => d,
            _ => decide_now(&op, bucket, &q, &decisions, approve).await?,
        };
        if !approve {
            if a.outcome.json {
                print_json(&OwnEvent::Decision(decision).detail());
            } else {
                println!("denied request {} for {}: nothing was opened", q.id, q.bucket);
            }
            return Ok(ExitCode::SUCCESS);
        }
        // The approval is in the audit trail before the bucket opens: the enforcer, which holds every
        // OpenAccess of this bucket against the trail, must find it there.
        let path = a.aws.config.to_string_lossy();
        wait_recorded(&log, &audit, &config, bucket, &decision, a.wait, &path).await?;
        let done = breakglass_core::access::operate::open_approved(bucket, &op.store, &op.bus, &decision, &op.who, op.now)
            .await
            .map_err(|e| operate_error(e, &a.aws.config))?;
        report(&done, a.outcome.json);
        Ok(ExitCode::SUCCESS)
    })
}

async fn decide_now(
    op: &Operator,
    bucket: &BucketConfig,
    q: &AccessRequest,
    decisions: &[Decision],
    approve: bool,
) -> Result<Decision, CliError> {
    let put = |d: Decision| async move {
        op.bus
            .put(&OwnEvent::Decision(d).to_bus())
            .await
            .map_err(|e| CliError::port("the decision could not be put on the bus", &e))
    };
    let decided = approval::decide_live(bucket, &op.store, q, decisions, &op.who, approve, op.now)
        .await
        .map_err(|e| CliError::port(format_args!("bucket `{}`", bucket.name), &e))?;
    match decided {
        Ok(d) => {
            put(d.clone()).await?;
            Ok(d)
        }
        Err(refused) => {
            let (refused, why) = *refused;
            // Recorded and mailed as an attempt; the person asking is told why.
            if let Err(e) = put(refused).await {
                eprintln!("breakglass: warning: {e}");
            }
            Err(CliError::Input(format!("refused: {why}")))
        }
    }
}

async fn wait_recorded(
    log: &S3AuditLog,
    audit: &AuditConfig,
    config: &Config,
    bucket: &BucketConfig,
    decision: &Decision,
    seconds: u64,
    path: &str,
) -> Result<(), CliError> {
    let account = config.organisation.as_ref().map(|_| bucket.account.as_str());
    let deadline = std::time::Instant::now() + StdDuration::from_secs(seconds);
    loop {
        let recs = records(log, audit, config, bucket).await?;
        let (_, decisions) = from_records(&recs);
        if decisions.iter().any(|d| d.id == decision.id && d.decision == "approved" && d.by == decision.by) {
            return Ok(());
        }
        if std::time::Instant::now() >= deadline {
            return Err(CliError::Aws(format!(
                "the approval of request {} is not in the audit trail after {seconds} s (is the notifier running?): nothing was opened; run `{}` again",
                decision.id,
                approval::decide_command("approve", &decision.id, &bucket.name, account, Some(path))
            )));
        }
        tokio::time::sleep(StdDuration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::approval::decide_command;
    use crate::{Cli, Command};

    /// What `request` and a timed-out `approve` print must parse as printed, flags included.
    #[test]
    fn the_printed_decide_commands_parse() {
        for verb in ["approve", "deny"] {
            for account in [None, Some("111122223333")] {
                let cmd =
                    decide_command(verb, "r-1a2b", "acme-logs", account, Some("examples/breakglass.toml"));
                let argv: Vec<&str> = cmd.split(' ').collect();
                let parsed = Cli::try_parse_from(&argv).map_err(|e| e.to_string());
                let a = match parsed {
                    Ok(Cli { command: Command::Approve(a) | Command::Deny(a) }) => a,
                    other => panic!("`{cmd}`: {other:?}"),
                };
                assert_eq!(a.id, "r-1a2b");
                assert_eq!(a.bucket.as_deref(), Some("acme-logs"));
                assert_eq!(a.account.as_deref(), account);
                assert_eq!(a.aws.config.to_str(), Some("examples/breakglass.toml"));
            }
        }
    }
}
