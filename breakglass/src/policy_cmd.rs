//! `breakglass policy …`: the policy tools.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::process::ExitCode;

use canonical_policies::{
    classify, describe, diff_nearest, explain, format_expiry, Caller, Decision, HumanDuration, OpenGrant,
    Partition, Policy, Quoted, Request, State, TemplateKind,
};
use serde::Serialize;

use crate::exit::Exit;
use crate::input::{choose_bucket, load_config, read_input, time_or_now, CliError};
use crate::{ClassifyArgs, ExplainArgs, InputArgs, PolicyCommand, RenderArgs, TemplateArg};

/// `policy hash --json`.
#[derive(Debug, Serialize)]
struct HashOutput {
    sha256: String,
}

/// `policy classify --json`: the state and what the human form shows under it.
#[derive(Debug, Serialize)]
struct ClassifyOutput {
    /// `closed`, `open`, `expired` or `drift`.
    state: &'static str,
    bucket: String,
    sha256: Option<String>,
    /// The first statement's Sid as written: the state the policy claims.
    first_statement: Option<String>,
    /// The first statement claims a state the content does not have.
    claim_mismatch: bool,
    /// Open or expired: the expiry (RFC 3339) and the readers.
    expiry: Option<String>,
    readers: Vec<String>,
    /// Drift: why.
    reasons: Vec<String>,
}

/// `policy diff --json`.
#[derive(Debug, Serialize)]
struct DiffOutput {
    /// The nearest template: `ClosedAccess` or `OpenAccess`.
    template: &'static str,
    /// Differences before truncation; 0: the policy is the template.
    changes: usize,
    unchanged_statements: usize,
    lines: Vec<String>,
}

/// `policy explain --json`.
#[derive(Debug, Serialize)]
struct ExplainOutput {
    /// `allow`, `explicit-deny`, `implicit-deny`, `unknown`, or `allow if an identity policy …`.
    decision: String,
    /// Allowed only if the named account's identity policy allows it too.
    needs_identity_policy_of: Option<String>,
    deciding: Vec<Deciding>,
    note: Option<String>,
}

#[derive(Debug, Serialize)]
struct Deciding {
    index: usize,
    sid: Option<String>,
    statement: String,
}

fn to_json<T: Serialize>(value: &T) -> String {
    format!("{}\n", serde_json::to_string_pretty(value).unwrap_or_default())
}

pub fn run(cmd: PolicyCommand) -> Result<ExitCode, CliError> {
    let out = match cmd {
        PolicyCommand::Canonicalize(a) => format!("{}\n", parse_input(&a)?.canonical_json()),
        PolicyCommand::Hash(a) if a.json => {
            to_json(&HashOutput { sha256: parse_input(&a.input)?.hash().to_string() })
        }
        PolicyCommand::Hash(a) => format!("{}\n", parse_input(&a.input)?.hash()),
        PolicyCommand::Render(a) => render(&a)?,
        PolicyCommand::Classify(a) => {
            let (out, drift) = classify_cmd(&a)?;
            print!("{out}");
            return Ok(if drift { Exit::Found.into() } else { ExitCode::SUCCESS });
        }
        PolicyCommand::Diff(a) => diff_cmd(&a)?,
        PolicyCommand::Explain(a) => explain_cmd(&a)?,
    };
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}

fn partition(name: &str) -> Result<Partition, CliError> {
    Partition::new(name).ok_or_else(|| CliError::Partition(name.to_owned()))
}

fn parse_input(a: &InputArgs) -> Result<Policy, CliError> {
    let bytes = read_input(&a.file)?;
    Policy::parse_in(&bytes, &partition(&a.partition)?).map_err(|e| CliError::Input(e.to_string()))
}

fn render(a: &RenderArgs) -> Result<String, CliError> {
    let config = load_config(&a.bucket.config)?;
    let bucket = choose_bucket(&config, a.bucket.bucket.as_deref())?;
    match a.template {
        TemplateArg::Closed => Ok(bucket.closed_policy().to_pretty_json()),
        TemplateArg::Open => {
            let now = time_or_now(a.bucket.at.as_deref())?;
            let expiry = match &a.until {
                Some(u) => time_or_now(Some(u))?,
                None => now
                    .checked_add(bucket.max_open_duration)
                    .ok_or_else(|| CliError::TimeOutOfRange(a.bucket.at.clone().unwrap_or_default()))?,
            };
            let readers: BTreeSet<String> = if a.readers.is_empty() {
                bucket.investigator_roles.clone()
            } else {
                a.readers.iter().cloned().collect()
            };
            let grant = OpenGrant { readers, expiry };
            let policy = bucket
                .render_open(&grant, now)
                .map_err(|e| CliError::Input(format!("cannot open bucket {}: {e}", Quoted(&bucket.name))))?;
            Ok(policy.to_pretty_json())
        }
    }
}

fn classify_cmd(a: &ClassifyArgs) -> Result<(String, bool), CliError> {
    let config = load_config(&a.bucket.config)?;
    let bucket = choose_bucket(&config, a.bucket.bucket.as_deref())?;
    let now = time_or_now(a.bucket.at.as_deref())?;
    let bytes = read_input(&a.file)?;
    let c = classify(bucket, Some(&bytes), now);
    let drift = matches!(c.state, State::Drift(_));
    if a.json {
        let (expiry, readers, reasons) = match &c.state {
            State::Closed => (None, Vec::new(), Vec::new()),
            State::Open(g) | State::Expired(g) => {
                (Some(format_expiry(g.expiry)), g.readers.iter().cloned().collect(), Vec::new())
            }
            State::Drift(rs) => (None, Vec::new(), rs.iter().map(ToString::to_string).collect()),
        };
        let out = ClassifyOutput {
            state: c.state.word(),
            bucket: bucket.name.clone(),
            sha256: c.hash.map(|h| h.to_string()),
            first_statement: c.claimed.clone(),
            claim_mismatch: c.claim_mismatch(),
            expiry,
            readers,
            reasons,
        };
        return Ok((to_json(&out), drift));
    }
    let mut out = String::new();
    let _ = writeln!(out, "{}", c.state.word());
    let _ = writeln!(out, "  bucket:          {}", bucket.name);
    if let Some(h) = c.hash {
        let _ = writeln!(out, "  sha256:          {h}");
    }
    match (&c.claimed, c.claim_mismatch()) {
        (Some(sid), true) => {
            let _ = writeln!(
                out,
                "  first statement: {} (WARNING: claims a state the content does not have)",
                Quoted(sid)
            );
        }
        (Some(sid), false) => {
            let _ = writeln!(out, "  first statement: {}", Quoted(sid));
        }
        (None, _) => {}
    }
    match &c.state {
        State::Closed => {}
        State::Open(g) | State::Expired(g) => {
            let left = g.expiry - now;
            let when = if left.is_positive() {
                format!("in {}", HumanDuration(left))
            } else {
                format!("{} ago", HumanDuration(-left))
            };
            let _ = writeln!(out, "  expires:         {} ({when})", format_expiry(g.expiry));
            for r in &g.readers {
                let _ = writeln!(out, "  reader:          {r}");
            }
        }
        State::Drift(reasons) => {
            for r in reasons {
                let _ = writeln!(out, "  reason:          {r}");
            }
        }
    }
    Ok((out, drift))
}

fn diff_cmd(a: &ClassifyArgs) -> Result<String, CliError> {
    let config = load_config(&a.bucket.config)?;
    let bucket = choose_bucket(&config, a.bucket.bucket.as_deref())?;
    let now = time_or_now(a.bucket.at.as_deref())?;
    let bytes = read_input(&a.file)?;
    match Policy::parse_in(&bytes, &bucket.partition) {
        Ok(policy) => {
            let d = diff_nearest(bucket, Some(&policy), now);
            if !a.json {
                return Ok(d.to_string());
            }
            let template = match d.template {
                TemplateKind::Closed => "ClosedAccess",
                TemplateKind::Open => "OpenAccess",
            };
            Ok(to_json(&DiffOutput {
                template,
                changes: d.changes,
                unchanged_statements: d.unchanged,
                lines: d.lines,
            }))
        }
        Err(e) => Err(CliError::Input(e.to_string())),
    }
}

fn explain_cmd(a: &ExplainArgs) -> Result<String, CliError> {
    let caller = Caller::parse(&a.principal).map_err(|e| CliError::Input(e.to_string()))?;
    let time = time_or_now(a.at.as_deref())?;
    let mut request =
        Request::checked(caller, &a.action, &a.resource, time).map_err(|e| CliError::Input(e.to_string()))?;
    let mut given: Vec<String> = Vec::new();
    for kv in &a.context {
        let (k, v) =
            kv.split_once('=').filter(|(k, _)| !k.is_empty()).ok_or_else(|| CliError::Context(kv.clone()))?;
        // Condition keys are case-insensitive: a second value would silently decide instead of the first.
        let key = k.to_ascii_lowercase();
        if given.contains(&key) {
            return Err(CliError::Input(format!("--context {} is given twice", Quoted(k))));
        }
        let flag = match key.as_str() {
            "aws:currenttime" | "aws:epochtime" => Some("--at"),
            "aws:principalarn" => Some("--principal"),
            _ => None,
        };
        if let Some(flag) = flag {
            return Err(CliError::Input(format!("--context {}: give it with {flag}", Quoted(k))));
        }
        given.push(key);
        request = request.with(k, v);
    }
    let bytes = read_input(&a.file)?;
    let policy =
        Policy::parse_in(&bytes, &partition(&a.partition)?).map_err(|e| CliError::Input(e.to_string()))?;
    let e = explain(&policy, &request);
    let deciding: Vec<Deciding> = e
        .deciding
        .iter()
        .filter_map(|i| policy.statements.get(*i).map(|s| (i, s)))
        .map(|(i, s)| Deciding { index: *i, sid: s.sid.clone(), statement: describe(s) })
        .collect();
    let (note, account) = match &e.decision {
        Decision::ImplicitDeny => {
            (Some("no statement allows it; an identity policy in the bucket's account still may".to_owned()), None)
        }
        Decision::AllowIfIdentityAllows { account } => (
            Some(format!("the statement names account {account}, which delegates: the caller also needs an identity policy that allows it")),
            Some(account.to_string()),
        ),
        _ => (None, None),
    };
    if a.json {
        return Ok(to_json(&ExplainOutput {
            decision: e.decision.to_string(),
            needs_identity_policy_of: account,
            deciding,
            note,
        }));
    }
    let mut out = format!("{}\n", e.decision);
    for d in &deciding {
        let sid = d.sid.as_deref().map(|s| format!(" {}", Quoted(s))).unwrap_or_default();
        let _ = writeln!(out, "  $.Statement[{}]{sid}: {}", d.index, d.statement);
    }
    if let Some(note) = &note {
        let _ = writeln!(out, "  {note}");
    }
    Ok(out)
}
