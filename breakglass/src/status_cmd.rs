//! `breakglass status`: every bucket's state, read a few at a time, each reported in config order,
//! a failing bucket with its error in place; a summary line; the exit code by the worst outcome.

use std::fmt::Write as _;
use std::process::ExitCode;

use breakglass_aws::{Clients, S3Store};
use breakglass_config::{BucketConfig, Config};
use breakglass_core::guard::per_account::by_account;
use breakglass_core::ports::{PolicyStore, PortError};
use canonical_policies::{classify, format_expiry, State};
use serde::Serialize;
use time::OffsetDateTime;

use crate::aws_cmd::{accounts, plural, print_json, progress, runtime};
use crate::exit::Exit;
use crate::input::{load_config, CliError};
use crate::{AwsArgs, StatusArgs};

/// One bucket as `status` reports it (`--json`: one element of `buckets`).
#[derive(Debug, Serialize)]
struct BucketStatus {
    bucket: String,
    account: String,
    account_alias: Option<String>,
    region: Option<String>,
    /// `closed`, `open`, `expired`, `drift`, or `error` when it could not be read.
    state: &'static str,
    /// The classification in words, or the error.
    detail: String,
    sha256: Option<String>,
    first_sid: Option<String>,
    claim_mismatch: bool,
    expiry: Option<String>,
    readers: Vec<String>,
    /// Why the bucket could not be checked.
    error: Option<String>,
    #[serde(skip)]
    exit: Exit,
}

/// The counts the summary line gives (`--json`: `summary`).
#[derive(Debug, Default, Serialize)]
struct Summary {
    buckets: usize,
    /// Closed, or open lawfully.
    lawful: usize,
    /// Not lawful: drift, expired, no policy.
    drift: usize,
    /// Could not be checked.
    errors: usize,
    /// The exit code (`breakglass --help`): the worst bucket's.
    exit_code: u8,
}

impl Summary {
    fn of(rows: &[BucketStatus]) -> Summary {
        let count = |e: Exit| rows.iter().filter(|r| r.exit == e).count();
        let worst = rows.iter().map(|r| r.exit).max().unwrap_or(Exit::Ok);
        Summary {
            buckets: rows.len(),
            lawful: count(Exit::Ok),
            drift: count(Exit::Found),
            errors: rows.len() - count(Exit::Ok) - count(Exit::Found),
            exit_code: worst.code(),
        }
    }

    fn line(&self) -> String {
        format!(
            "{}: {} closed/lawful, {} drift, {}",
            plural(self.buckets, "bucket"),
            self.lawful,
            self.drift,
            plural(self.errors, "error")
        )
    }
}

#[derive(Debug, Serialize)]
struct StatusOutput {
    buckets: Vec<BucketStatus>,
    summary: Summary,
}

pub fn status(a: &StatusArgs) -> Result<ExitCode, CliError> {
    let AwsArgs { config, endpoint_url } = &a.aws;
    let config = load_config(config)?;
    let now = OffsetDateTime::now_utc();
    let wanted = |b: &&BucketConfig| match &a.account {
        None => true,
        Some(want) => {
            b.account == *want
                || config.account(&b.account).and_then(|x| x.alias.as_deref()) == Some(want.as_str())
        }
    };
    // Checked before any AWS call: a wrong --account is a usage error, not a network error.
    if let Some(want) = &a.account {
        if !config.buckets.iter().any(|b| wanted(&b)) {
            return Err(CliError::Input(format!(
                "--account `{want}`: no bucket of the config is in that account"
            )));
        }
    }
    let chosen: Vec<&BucketConfig> = config.buckets.iter().filter(wanted).collect();
    let rows = runtime()?.block_on(async {
        let clients =
            Clients::load(endpoint_url.as_deref()).await.map_err(|e| CliError::Input(e.to_string()))?;
        let store = S3Store::routed(&clients, accounts(&clients, &config, false).await?, &config);
        let bar = progress(chosen.len());
        // A few at once in each account, several accounts side by side, in the config's order.
        let rows: Vec<BucketStatus> = by_account(chosen, |b| {
            let (store, bar, config) = (&store, &bar, &config);
            async move {
                let live = store.get_policy(&b.name).await;
                bar.inc(1);
                row(config, b, live, now)
            }
        })
        .await;
        bar.finish_and_clear();
        Ok::<_, CliError>(rows)
    })?;
    let summary = Summary::of(&rows);
    let exit = rows.iter().map(|r| r.exit).max().unwrap_or(Exit::Ok);
    if summary.errors > 0 {
        eprintln!(
            "breakglass: {} of {} could not be checked (each error is on its bucket's line)",
            summary.errors,
            plural(summary.buckets, "bucket")
        );
    }
    if a.json {
        let out = StatusOutput { buckets: rows, summary };
        print_json(&serde_json::to_value(&out).map_err(|e| CliError::Input(e.to_string()))?);
    } else {
        print!("{}", human(&rows, config.organisation.is_some(), &summary));
    }
    Ok(exit.into())
}

/// One bucket's report: its classification, or the error that kept it from being read.
fn row(
    config: &Config,
    b: &BucketConfig,
    live: Result<Option<String>, PortError>,
    now: OffsetDateTime,
) -> BucketStatus {
    let mut r = BucketStatus {
        bucket: b.name.clone(),
        account: b.account.clone(),
        account_alias: config.account(&b.account).and_then(|x| x.alias.clone()),
        region: b.region.clone(),
        state: "error",
        detail: String::new(),
        sha256: None,
        first_sid: None,
        claim_mismatch: false,
        expiry: None,
        readers: Vec::new(),
        error: None,
        exit: Exit::Ok,
    };
    let live = match live {
        Ok(live) => live,
        Err(e) => {
            r.exit = if e.is_retryable() { Exit::Retry } else { Exit::Refused };
            r.detail = format!("error: {e}");
            r.error = Some(e.to_string());
            return r;
        }
    };
    let c = classify(b, live.as_deref().map(str::as_bytes), now);
    r.exit = if matches!(c.state, State::Closed | State::Open(_)) { Exit::Ok } else { Exit::Found };
    if let State::Open(g) | State::Expired(g) = &c.state {
        r.expiry = Some(format_expiry(g.expiry));
        r.readers = g.readers.iter().cloned().collect();
    }
    r.state = c.state.word();
    r.detail = c.to_string();
    r.sha256 = c.hash.map(|h| h.to_string());
    r.claim_mismatch = c.claim_mismatch();
    r.first_sid = c.claimed;
    r
}

/// The human form: a line per bucket (and a warning under a bucket whose first statement claims a
/// state it does not have), then the summary.
fn human(rows: &[BucketStatus], org: bool, summary: &Summary) -> String {
    let mut out = String::new();
    for r in rows {
        if org {
            // Organisation mode: where each bucket is, so that one view covers every account.
            let account = r.account_alias.as_deref().unwrap_or(&r.account);
            let _ = write!(out, "{account:<18} {:<14} ", r.region.as_deref().unwrap_or("?"));
        }
        let _ = writeln!(out, "{:<32} {}", r.bucket, r.detail);
        if r.claim_mismatch {
            let _ = writeln!(
                out,
                "{:<32} WARNING: first statement calls itself `{}`",
                "",
                r.first_sid.as_deref().unwrap_or("")
            );
        }
    }
    let _ = writeln!(out, "{}", summary.line());
    out
}
