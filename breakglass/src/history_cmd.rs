//! `breakglass history`: reads a bucket's audit records and shows them newest first, an open window
//! as one entry with its start, extensions, expiry and actual close.

use std::fmt::Write as _;
use std::process::ExitCode;

use breakglass_aws::{Clients, S3AuditLog};
use breakglass_config::{is_bucket_name, AuditConfig};
use breakglass_core::events::ObjectRead;
use breakglass_core::time::{parse_time, role_name};
use breakglass_core::trail::audit::bucket_prefix;
use breakglass_core::trail::history::{self, Entry, Step};
use breakglass_core::trail::records::ReadRecord;
use canonical_policies::{format_expiry, HumanDuration};
use serde_json::Value;
use time::OffsetDateTime;

use crate::exit::Exit;
use crate::input::{load_config, CliError};
use crate::HistoryArgs;
use breakglass_core::command::command_line;

pub fn run(a: &HistoryArgs) -> Result<ExitCode, CliError> {
    let config = load_config(&a.trail.aws.config)?;
    let Located { audit, prefix, place, account } =
        locate(&config, &a.trail.bucket, a.trail.account.as_deref(), a.from.audit_bucket.as_deref())?;
    let since = a.from.since.as_deref().map(parse_since).transpose()?;
    let now = OffsetDateTime::now_utc();
    let (mut read, reads) = crate::aws_cmd::runtime()?.block_on(async {
        let clients = Clients::load(a.trail.aws.endpoint_url.as_deref())
            .await
            .map_err(|e| CliError::Input(e.to_string()))?;
        read_trail(&S3AuditLog::for_config(&clients, &audit), &audit, &prefix, &place).await
    })?;
    let (reads, read_warnings) = reads;
    read.warnings.extend(read_warnings);
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
    if a.csv {
        print!("{}", history::csv(&entries));
    } else if a.json {
        let entries = entries
            .iter()
            .map(|e| {
                let mut v = history::entry_view(e, now);
                if let history::EntryView::Window { reads: counted, .. } = &mut v {
                    let (objects, bytes) = read_count(e, &reads, now);
                    *counted = Some(history::ReadCount { objects, bytes });
                }
                v
            })
            .collect();
        let out = HistoryOutput {
            bucket: a.trail.bucket.clone(),
            audit: format!("s3://{}/{prefix}", audit.bucket),
            records: texts.len(),
            unreadable: skipped,
            warnings: read.warnings.clone(),
            entries,
        };
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        let report = |window: &str| {
            let at = TrailAt { account: account.as_deref(), audit_bucket: a.from.audit_bucket.as_deref() };
            trail_command("report", &a.trail.aws.config, &a.trail.bucket, at, &[("--window", window)])
        };
        print!("{}", human(&a.trail.bucket, &audit.bucket, &prefix, &entries, &reads, now, &report));
        if problems > 0 {
            println!(
                "\n{problems} problem(s) with the audit trail (warnings on stderr): records were hidden, \
                 overwritten or damaged; report this to the security team"
            );
        }
    }
    // A damaged or tampered trail deserves attention: exit 3, as for a bucket that is not lawful.
    Ok(if problems > 0 { Exit::Found.into() } else { ExitCode::SUCCESS })
}

/// `history --json`.
#[derive(Debug, serde::Serialize)]
struct HistoryOutput {
    bucket: String,
    /// `s3://<audit bucket>/<prefix>`.
    audit: String,
    /// Records read.
    records: usize,
    /// Records that could not be read (not json, or not a record).
    unreadable: usize,
    warnings: Vec<String>,
    entries: Vec<history::EntryView>,
}

/// Where a bucket's records are.
pub(crate) struct Located {
    pub(crate) audit: AuditConfig,
    /// Organisation mode: the bucket's account.
    pub(crate) account: Option<String>,
    /// `<trail prefix>[<account>/]<bucket>/`.
    pub(crate) prefix: String,
    /// `[<account>/]<bucket>`.
    pub(crate) place: String,
}

/// Where a bucket's records are: the audit trail (`--audit-bucket` or the config's `[audit]`) and,
/// in organisation mode, the bucket's account (the config's, which `--account` must agree with, or
/// `--account` for a bucket no longer configured). Shared by `history` and `report`.
pub(crate) fn locate(
    config: &breakglass_config::Config,
    bucket: &str,
    account: Option<&str>,
    audit_bucket: Option<&str>,
) -> Result<Located, CliError> {
    let audit = match (audit_bucket, &config.audit) {
        (Some(b), base) => {
            AuditConfig::for_bucket(b, base.as_ref()).map_err(|e| CliError::Input(e.to_string()))?
        }
        (None, Some(c)) => c.clone(),
        (None, None) => {
            return Err(CliError::Input("the config has no `[audit]` table; pass --audit-bucket".into()))
        }
    };
    if !is_bucket_name(bucket) {
        return Err(CliError::Input(format!("invalid --bucket `{bucket}`: not an s3 bucket name")));
    }
    let account = match (&config.organisation, config.bucket(bucket), account) {
        (None, _, None) => None,
        (None, _, Some(_)) => {
            return Err(CliError::Input(
                "--account is for organisation mode; the config has no `[organisation]`".into(),
            ))
        }
        (Some(_), Some(b), Some(given)) if given != b.account => {
            return Err(CliError::Input(format!(
                "--account `{given}`: bucket `{bucket}` is in account `{}` in the config",
                b.account
            )))
        }
        (Some(_), Some(b), _) => Some(b.account.clone()),
        (Some(_), None, Some(given)) if canonical_policies::is_account_id(given) => Some(given.to_owned()),
        (Some(_), None, Some(given)) => {
            return Err(CliError::Input(format!("invalid --account `{given}`: expected 12 digits")))
        }
        (Some(_), None, None) => {
            return Err(CliError::Input(format!(
                "bucket `{bucket}` is not in the config: name its account with --account"
            )))
        }
    };
    let prefix = bucket_prefix(&audit, account.as_deref(), bucket);
    let place = prefix.strip_prefix(&audit.prefix).unwrap_or(&prefix).trim_end_matches('/').to_owned();
    Ok(Located { audit, account, prefix, place })
}

/// The trail's records under `prefix` and the recorder's of the bucket's refused calls, and the
/// bucket's recorded reads, as `history` and `report` show them. Each record's signature is checked: a record the notifier did not write shows as
/// forged.
pub(crate) async fn read_trail(
    log: &S3AuditLog,
    audit: &AuditConfig,
    prefix: &str,
    place: &str,
) -> Result<(breakglass_core::trail::tamper::AuditRead, (Vec<ObjectRead>, Vec<String>)), CliError> {
    let mut read = log
        .read_all(prefix)
        .await
        .map_err(|e| CliError::port(format_args!("audit trail `s3://{}/{prefix}`", audit.bucket), &e))?;
    // The refused calls the recorder recorded (digested in the mail), one record each, like the rest.
    let refused = format!("{}{}/{place}/", audit.prefix, breakglass_core::trail::refused::ATTEMPTS);
    let attempts = log
        .read_all(&refused)
        .await
        .map_err(|e| CliError::port(format_args!("audit trail `s3://{}/{refused}`", audit.bucket), &e))?;
    read.records.extend(attempts.records);
    read.warnings.extend(attempts.warnings);
    Ok((read, recorded_reads(log, audit, place).await?))
}

/// The reads and refused reads recorded for a bucket (`place`: `[<account>/]<bucket>`), each
/// record's signature checked; warnings as `read_all` gives them.
pub(crate) async fn recorded_reads(
    log: &S3AuditLog,
    audit: &AuditConfig,
    place: &str,
) -> Result<(Vec<ObjectRead>, Vec<String>), CliError> {
    let prefix = format!("{}{}/{place}/", audit.prefix, breakglass_core::trail::records::READS);
    let read = log
        .read_all(&prefix)
        .await
        .map_err(|e| CliError::port(format_args!("audit trail `s3://{}/{prefix}`", audit.bucket), &e))?;
    let mut reads = Vec::new();
    for (key, text) in &read.records {
        match serde_json::from_str::<ReadRecord>(text) {
            Ok(r) => reads.extend(r.reads),
            Err(_) => eprintln!("breakglass: warning: read record `{key}` is not one; not counted"),
        }
    }
    Ok((reads, read.warnings))
}

pub(crate) fn parse_since(s: &str) -> Result<OffsetDateTime, CliError> {
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

/// Objects read successfully in a window, and their bytes.
fn read_count(window: &Entry, reads: &[ObjectRead], now: OffsetDateTime) -> (usize, u64) {
    let ok: Vec<ObjectRead> = breakglass_core::trail::report::within(window, reads, now)
        .into_iter()
        .filter(|r| r.error.is_none())
        .collect();
    (ok.len(), ok.iter().map(|r| r.bytes).sum())
}

/// Where a bucket's trail was read beyond its name: its account (organisation mode) and the audit
/// bucket when `--audit-bucket` named another than the config's.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TrailAt<'a> {
    pub(crate) account: Option<&'a str>,
    pub(crate) audit_bucket: Option<&'a str>,
}

/// `breakglass history` or `report` (`verb`) of the trail just read, pasteable: the config, the
/// bucket and what found its trail, then `extra`.
pub(crate) fn trail_command(
    verb: &str,
    config: &std::path::Path,
    bucket: &str,
    at: TrailAt<'_>,
    extra: &[(&str, &str)],
) -> String {
    let mut flags = vec![("--bucket", bucket)];
    flags.extend(at.account.map(|x| ("--account", x)));
    flags.extend(at.audit_bucket.map(|x| ("--audit-bucket", x)));
    flags.extend_from_slice(extra);
    command_line(&[verb], Some(&config.to_string_lossy()), &flags)
}

/// `report` gives the `breakglass report` command of a window by its id.
fn human(
    bucket: &str,
    audit_bucket: &str,
    prefix: &str,
    entries: &[Entry],
    reads: &[ObjectRead],
    now: OffsetDateTime,
    report: &dyn Fn(&str) -> String,
) -> String {
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
                let (objects, bytes) = read_count(e, reads, now);
                let window = breakglass_core::time::format_time(opened.time);
                let _ = writeln!(out, "  read      {objects} object(s), {bytes} bytes ({})", report(&window));
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

#[cfg(test)]
mod tests {
    use breakglass_core::trail::report::csv_command;

    use super::{trail_command, TrailAt};
    use crate::docs_commands::parse_printed as parse;
    use crate::Command;

    /// The `report` that `history` prints under a window, the `history` that `report` names for a
    /// window it does not know, and the `report --csv` under a window's first objects parse as
    /// printed, with what found the trail.
    #[test]
    fn the_printed_trail_commands_parse() {
        let config = std::path::Path::new("my configs/breakglass.toml");
        let window = "2026-11-24T10:00:00Z";
        for (account, audit_bucket) in [(None, None), (Some("111122223333"), Some("acme-audit"))] {
            let at = TrailAt { account, audit_bucket };
            let cmd = trail_command("report", config, "acme-logs", at, &[("--window", window)]);
            let Command::Report(r) = parse(&cmd) else { panic!("{cmd}") };
            assert_eq!(r.trail.aws.config, config);
            assert_eq!((r.trail.bucket.as_str(), r.trail.account.as_deref()), ("acme-logs", account));
            assert_eq!(r.from.audit_bucket.as_deref(), audit_bucket);
            assert_eq!(r.window.as_deref(), Some(window));
            let cmd = trail_command("history", config, "acme-logs", at, &[]);
            let Command::History(h) = parse(&cmd) else { panic!("{cmd}") };
            assert_eq!((h.trail.aws.config.as_path(), h.trail.account.as_deref()), (config, account));
            assert_eq!(h.from.audit_bucket.as_deref(), audit_bucket);
            let cmd = csv_command("acme-logs", account, window, config.to_str());
            let Command::Report(r) = parse(&cmd) else { panic!("{cmd}") };
            assert!(r.csv && r.window.as_deref() == Some(window) && r.trail.account.as_deref() == account);
        }
    }
}
