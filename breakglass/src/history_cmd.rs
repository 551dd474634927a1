//! `breakglass history`: reads a bucket's audit records and shows them newest first, an open window
//! as one entry with its start, extensions, expiry and actual close.

use std::fmt::Write as _;
use std::process::ExitCode;

use breakglass_aws::{Clients, S3AuditLog};
use breakglass_core::audit::bucket_prefix;
use breakglass_core::history::{self, Entry, Step};
use breakglass_core::{parse_time, role_name};
use canonical_policies::config::is_bucket_name;
use canonical_policies::{format_expiry, AuditConfig, HumanDuration};
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::input::{load_config, CliError};
use crate::HistoryArgs;

pub fn run(a: &HistoryArgs) -> Result<ExitCode, CliError> {
    let config = load_config(&a.aws.config)?;
    let audit = match (&a.audit_bucket, &config.audit) {
        (Some(bucket), base) => {
            AuditConfig::for_bucket(bucket, base.as_ref()).map_err(|e| CliError::Input(e.to_string()))?
        }
        (None, Some(c)) => c.clone(),
        (None, None) => {
            return Err(CliError::Input("the config has no `[audit]` table; pass --audit-bucket".into()))
        }
    };
    if !is_bucket_name(&a.bucket) {
        return Err(CliError::Input(format!("invalid --bucket `{}`: not an s3 bucket name", a.bucket)));
    }
    let since = a.since.as_deref().map(parse_since).transpose()?;
    let now = OffsetDateTime::now_utc();
    // Organisation mode keys records by account too: the config's account of the bucket, which
    // `--account` must agree with (or name, for a bucket no longer configured).
    let account = match (&config.organisation, config.bucket(&a.bucket), &a.account) {
        (None, _, None) => None,
        (None, _, Some(_)) => {
            return Err(CliError::Input(
                "--account is for organisation mode; the config has no `[organisation]`".into(),
            ))
        }
        (Some(_), Some(b), Some(given)) if *given != b.account => {
            return Err(CliError::Input(format!(
                "--account `{given}`: bucket `{}` is in account `{}` in the config",
                a.bucket, b.account
            )))
        }
        (Some(_), Some(b), _) => Some(b.account.clone()),
        (Some(_), None, Some(given)) if canonical_policies::policy::is_account_id(given) => {
            Some(given.clone())
        }
        (Some(_), None, Some(given)) => {
            return Err(CliError::Input(format!("invalid --account `{given}`: expected 12 digits")))
        }
        (Some(_), None, None) => {
            return Err(CliError::Input(format!(
                "bucket `{}` is not in the config: name its account with --account",
                a.bucket
            )))
        }
    };
    let prefix = bucket_prefix(&audit, account.as_deref(), &a.bucket);
    let read = crate::aws_cmd::runtime()?.block_on(async {
        let clients = Clients::load(a.aws.endpoint_url.as_deref()).await;
        // Each record's signature is checked: a record the notifier did not write shows as forged.
        S3AuditLog::for_config(&clients, &audit)
            .read_all(&prefix)
            .await
            .map_err(|e| CliError::Aws(format!("audit trail `s3://{}/{prefix}`: {e}", audit.bucket)))
    })?;
    for w in &read.warnings {
        eprintln!("breakglass: warning: {w}");
    }
    if audit.mac_key.is_none() {
        eprintln!("breakglass: notice: records are not verified (no `[audit] mac_key`): a forged record would not show");
    }
    let texts = &read.records;
    let mut unparsed = 0;
    let records: Vec<Value> = texts
        .iter()
        .filter_map(|(key, text)| {
            let v = serde_json::from_str::<Value>(text).ok().filter(Value::is_object);
            if v.is_none() {
                eprintln!("breakglass: warning: audit record `{key}` is not a json object; not shown");
                unparsed += 1;
            }
            v
        })
        .collect();
    let (mut entries, unreadable) = history::build(&records);
    if let Some(since) = since {
        entries.retain(|e| e.last() >= since);
    }
    let skipped = unparsed + unreadable;
    let problems = skipped + read.warnings.len();
    if a.json {
        let list: Vec<Value> = entries.iter().map(|e| history::entry_json(e, now)).collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "bucket": a.bucket,
                "audit": format!("s3://{}/{prefix}", audit.bucket),
                "records": texts.len(),
                "unreadable": skipped,
                "warnings": read.warnings,
                "entries": list,
            }))
            .unwrap_or_default()
        );
    } else {
        print!("{}", human(&a.bucket, &audit.bucket, &prefix, &entries, now));
        if problems > 0 {
            println!(
                "\n{problems} problem(s) with the audit trail (warnings on stderr): records were hidden, \
                 overwritten or damaged; report this to the security team"
            );
        }
    }
    // A damaged or tampered trail deserves attention: exit 3, as for a bucket that is not lawful.
    Ok(if problems > 0 { ExitCode::from(3) } else { ExitCode::SUCCESS })
}

fn parse_since(s: &str) -> Result<OffsetDateTime, CliError> {
    parse_time(s)
        .or_else(|| parse_time(&format!("{s}T00:00:00Z")))
        .ok_or_else(|| CliError::Input(format!("invalid --since `{s}`: expected `2026-11-24` or rfc 3339")))
}

/// `2026-11-24 16:00:05 UTC`: seconds, because an audit trail orders steps that are seconds apart.
fn when(t: OffsetDateTime) -> String {
    format_expiry(t).replacen('T', " ", 1).replace('Z', " UTC")
}

fn who(s: &Step) -> &str {
    s.who.as_deref().unwrap_or("an unknown principal")
}

fn human(bucket: &str, audit_bucket: &str, prefix: &str, entries: &[Entry], now: OffsetDateTime) -> String {
    let mut out = format!("History of {bucket}, newest first (audit trail s3://{audit_bucket}/{prefix})\n");
    if entries.is_empty() {
        out.push_str("  no records\n");
    }
    for e in entries {
        out.push('\n');
        match e {
            Entry::Window { opened, extensions, closed } => {
                let expiry = history::window_expiry(opened, extensions);
                let status = match (closed, expiry) {
                    (Some(c), _) => format!("closed after {}", HumanDuration(c.time - opened.time)),
                    (None, Some(x)) if x <= now => "EXPIRED, not yet closed by breakglass".to_owned(),
                    (None, _) => "STILL OPEN".to_owned(),
                };
                let _ = writeln!(out, "{}  OPEN WINDOW, {status}", when(opened.time));
                let _ = writeln!(out, "  opened    {} by {}", when(opened.time), who(opened));
                if let Some(why) = &opened.why {
                    let _ = writeln!(out, "  reason    {why}");
                }
                if let Some(t) = &opened.ticket {
                    let _ = writeln!(out, "  ticket    {t}");
                }
                let readers = history::window_readers(opened, extensions);
                if !readers.is_empty() {
                    let names: Vec<&str> = readers.iter().map(|r| role_name(r)).collect();
                    let _ = writeln!(out, "  readers   {}", names.join(", "));
                }
                for x in extensions {
                    let until = x.expiry.map(when).unwrap_or_else(|| "?".into());
                    let _ = write!(out, "  extended  {} by {} until {until}", when(x.time), who(x));
                    match (&x.ticket, &x.why) {
                        (Some(t), Some(w)) => {
                            let _ = writeln!(out, " ({t}: {w})");
                        }
                        _ => out.push('\n'),
                    }
                }
                if let Some(x) = expiry {
                    let _ = writeln!(out, "  expiry    {}", when(x));
                }
                match closed {
                    Some(c) => {
                        let how = match c.kind.as_str() {
                            "remediation" => {
                                format!("automatically by breakglass: {}", c.why.as_deref().unwrap_or(""))
                            }
                            _ => format!(
                                "by {}{}",
                                who(c),
                                c.why.as_ref().map(|w| format!(": {w}")).unwrap_or_default()
                            ),
                        };
                        let _ = writeln!(out, "  closed    {} {how}", when(c.time));
                    }
                    None => {
                        let _ = writeln!(out, "  closed    not yet");
                    }
                }
            }
            Entry::Event(s) => {
                let _ = writeln!(out, "{}  {}", when(s.time), s.summary.trim_start_matches("[breakglass] "));
                let _ = write!(out, "  {} {} by {}", s.kind, s.action, who(s));
                match &s.why {
                    Some(w) => {
                        let _ = writeln!(out, ": {w}");
                    }
                    None => out.push('\n'),
                }
            }
        }
    }
    out
}
