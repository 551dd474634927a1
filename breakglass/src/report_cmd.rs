//! `breakglass report`: what was read while a bucket was open, window by window, from the audit
//! trail: the same report the stakeholders got after the window closed (`breakglass_core::trail::report`).

use std::process::ExitCode;

use breakglass_aws::{Clients, S3AuditLog};
use breakglass_core::trail::history::{self, Entry};
use breakglass_core::trail::report;
use serde_json::Value;
use time::OffsetDateTime;

use crate::exit::Exit;
use crate::history_cmd::{locate, parse_since, read_trail, trail_command, Located, TrailAt};
use crate::input::{load_config, CliError};
use crate::ReportArgs;

pub fn run(a: &ReportArgs) -> Result<ExitCode, CliError> {
    let config = load_config(&a.trail.aws.config)?;
    let Located { audit, account, prefix, place } =
        locate(&config, &a.trail.bucket, a.trail.account.as_deref(), a.from.audit_bucket.as_deref())?;
    let since = a.from.since.as_deref().map(parse_since).transpose()?;
    let now = OffsetDateTime::now_utc();
    let runtime = crate::aws_cmd::runtime()?;
    let clients = runtime
        .block_on(Clients::load(a.trail.aws.endpoint_url.as_deref()))
        .map_err(|e| CliError::Input(e.to_string()))?;
    let log = S3AuditLog::for_config(&clients, &audit);
    let (history_read, (reads, read_warnings)) =
        runtime.block_on(read_trail(&log, &audit, &prefix, &place))?;
    for w in history_read.warnings.iter().chain(&read_warnings) {
        eprintln!("breakglass: warning: {w}");
    }
    let records: Vec<Value> =
        history_read.records.iter().filter_map(|(_, t)| serde_json::from_str::<Value>(t).ok()).collect();
    let (entries, _) = history::build(&records);
    let all = report::windows(&entries);
    let chosen: Vec<&Entry> = match (&a.window, since) {
        (Some(id), _) => {
            let w = all.iter().find(|e| breakglass_core::time::format_time(e.start()) == *id).copied();
            vec![w.ok_or_else(|| {
                let at =
                    TrailAt { account: account.as_deref(), audit_bucket: a.from.audit_bucket.as_deref() };
                let history = trail_command("history", &a.trail.aws.config, &a.trail.bucket, at, &[]);
                CliError::Input(format!(
                    "no window `{id}` in the history of `{}`: `{history}` lists them",
                    a.trail.bucket
                ))
            })?]
        }
        (None, Some(t)) => all.into_iter().filter(|e| e.last() >= t).collect(),
        (None, None) => all.last().copied().into_iter().collect(),
    };
    // Refused reads are filed by the slot they were recorded in, for all buckets: only those from
    // the first window shown on are read.
    let denied = match chosen.iter().map(|w| w.start()).min() {
        Some(first) => runtime
            .block_on(report::denied_since(&log, &audit.prefix, &place, first))
            .map_err(|e| CliError::port(format_args!("audit trail `s3://{}`", audit.bucket), &e))?,
        None => Vec::new(),
    };
    let reports: Vec<breakglass_core::events::WindowReport> = chosen
        .iter()
        .filter_map(|w| report::for_window(&a.trail.bucket, account.as_deref(), w, &reads, &denied, now))
        .collect();
    if a.csv {
        let mut rows = Vec::new();
        for w in &chosen {
            let id = breakglass_core::time::format_time(w.start());
            let mut all = report::within(w, &reads, now);
            all.extend(report::within(w, &denied, now));
            all.sort_by(|x, y| x.time.cmp(&y.time));
            rows.extend(all.into_iter().map(|r| (id.clone(), r)));
        }
        print!("{}", report::csv(&rows));
    } else if a.json {
        println!("{}", serde_json::to_string_pretty(&reports).unwrap_or_default());
    } else if reports.is_empty() {
        println!(
            "No access window of {} in the audit trail (s3://{}/{prefix}).",
            a.trail.bucket, audit.bucket
        );
    } else {
        let path = a.trail.aws.config.to_string_lossy();
        let texts: Vec<String> = reports.iter().map(|r| report::text(r, Some(&path))).collect();
        print!("{}", texts.join("\n"));
    }
    // Reads outside a grant, like a bucket that is not lawful, deserve attention: exit 3.
    let problems = reports.iter().any(breakglass_core::events::WindowReport::is_alert)
        || !history_read.warnings.is_empty()
        || !read_warnings.is_empty();
    Ok(if problems { Exit::Found.into() } else { ExitCode::SUCCESS })
}
