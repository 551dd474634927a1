//! `breakglass config push | approve`: the only way a config reaches the functions in organisation
//! mode. `push` runs every check, shows the difference and proposes the config through the gate,
//! which records it and mails the security team the change in words; `approve`, by another
//! operator, has the gate write it; `seed` is the deployment's first config, sealed as the gate
//! seals. Nothing changes on any error.

use std::io::IsTerminal as _;
use std::process::ExitCode;

use breakglass_aws::{organisation_members, Clients, ConfigObject};
use breakglass_core::access::config_push::{check_members, line_diff, summary};
use breakglass_core::access::gate::{ConfigProposal, Op};
use breakglass_core::command::command_line;
use breakglass_core::organisation::render;
use breakglass_core::runtime::{parse_s3_url, LoadedConfig};
use canonical_policies::Quoted;
use serde::Serialize;

use crate::aws_cmd::{print_json, runtime};
use crate::exit::Exit;
use crate::input::{read_input, CliError};
use crate::{CompactArgs, ConfigApproveArgs, PushArgs, SeedArgs};

/// CloudFormation's limit for one parameter value: the compact config must fit it.
pub(crate) const PARAMETER_LIMIT: usize = 4096;

pub fn compact(a: &CompactArgs) -> Result<ExitCode, CliError> {
    let path = a.config.display().to_string();
    let text = String::from_utf8(read_input(&a.config)?)
        .map_err(|_| CliError::Input(format!("{}: not utf-8", Quoted(&path))))?;
    let small = breakglass_config::compact(&text)
        .map_err(|e| CliError::Config { path: a.config.clone(), source: Box::new(e) })?;
    if a.sam {
        print!("{}", sam_parameter(&small).map_err(|e| CliError::Input(format!("{}: {e}", Quoted(&path))))?);
    } else {
        print!("{small}");
    }
    if small.len() > PARAMETER_LIMIT {
        eprintln!(
            "breakglass: the compact config is {} bytes, over CloudFormation's {PARAMETER_LIMIT}-byte parameter limit: deploy in organisation mode (the config is an S3 object, with no size limit)",
            small.len()
        );
        return Ok(Exit::Refused.into());
    }
    Ok(ExitCode::SUCCESS)
}

/// `text` as the one argument `sam deploy --parameter-overrides BreakglassConfig="…"` reads back
/// unchanged: SAM takes a double-quoted value with `\"` for a quote, and unescapes only `\"`,
/// `\'` and `\ `, so a backslash could not be carried through as written.
fn sam_parameter(text: &str) -> Result<String, &'static str> {
    if text.contains('\\') {
        return Err("the config has a backslash, which `sam deploy --parameter-overrides` cannot carry unchanged: write the value without escapes (a TOML literal string, 'like this')");
    }
    Ok(format!("BreakglassConfig=\"{}\"\n", text.trim_end().replace('"', "\\\"")))
}

pub fn push(a: &PushArgs) -> Result<ExitCode, CliError> {
    let path = a.aws.config.display().to_string();
    // Nobody can answer the question: a script must say `--yes` (or only look, `--dry-run`).
    if !a.yes && !a.dry_run && !std::io::stdin().is_terminal() {
        return Err(CliError::Input(
            "standard input is not a terminal: pass --yes to push without asking, or --dry-run to only see the difference".into(),
        ));
    }
    let text = String::from_utf8(read_input(&a.aws.config)?)
        .map_err(|_| CliError::Input(format!("{}: not utf-8", Quoted(&path))))?;
    let loaded = LoadedConfig::parse(&text, &path).map_err(|e| CliError::Input(e.to_string()))?;
    let (bucket, key) = parse_s3_url(&a.to).ok_or_else(|| {
        CliError::Input(format!("invalid --to {}: expected `s3://bucket/key`", Quoted(&a.to)))
    })?;
    // Every template renders (the bucket policies when the config was parsed; the SCP and RCP here).
    if loaded.config.organisation.is_some() {
        render(&loaded.config).map_err(|e| CliError::Input(format!("{}: {e}", Quoted(&path))))?;
    }
    runtime()?.block_on(async {
        let clients = Clients::load(a.aws.endpoint_url.as_deref()).await.map_err(|e| CliError::Input(e.to_string()))?;
        if loaded.config.organisation.is_some() {
            check_organisation(&clients, &loaded.config).await?;
        }
        // The config in force, as the functions and the gate see it: a version written past the
        // gate is not what a change is compared with.
        let object = ConfigObject::checked(&clients, &bucket, &key, &a.record_key);
        let live = object.get().await.map_err(|e| CliError::Aws(format!("{}: {e}", a.to)))?;
        let before = live.as_ref().map(|(t, _)| LoadedConfig::parse(t, &a.to));
        let words = match &before {
            Some(Err(_)) => vec!["the live config does not parse: replaced whole".to_owned()],
            live => summary(live.as_ref().and_then(|l| l.as_ref().ok()).map(|l| &l.config), &loaded.config),
        };
        let before_sha256 = match before.map(|b| b.map(|l| l.sha256)) {
            Some(Ok(sha)) => Some(sha),
            // The live object does not parse (the functions keep their last good config): replace it.
            Some(Err(_)) => live.as_ref().map(|(t, _)| sha256(t)),
            None => None,
        };
        let mut out = PushOutput {
            outcome: "unchanged",
            proposal: None,
            location: a.to.clone(),
            sha256: loaded.sha256.clone(),
            before_sha256: before_sha256.clone(),
            changes: Vec::new(),
            diff: String::new(),
        };
        if before_sha256.as_deref() == Some(loaded.sha256.as_str()) {
            out.print(a.json, &format!("unchanged: {} already holds this config (sha256 {})", a.to, loaded.sha256));
            return Ok(ExitCode::SUCCESS);
        }
        let diff = line_diff(live.as_ref().map_or("", |(t, _)| t.as_str()), &text);
        out.changes = if words.is_empty() { vec!["only comments or layout changed".to_owned()] } else { words };
        let mut shown = format!("{}\n\nIn words:", if diff.is_empty() { "(no line changed)" } else { diff.as_str() });
        for line in &out.changes {
            shown.push_str(&format!("\n  {line}"));
        }
        out.diff = diff.clone();
        if a.dry_run {
            out.outcome = "dry-run";
            out.print(a.json, &format!("{shown}\ndry run: nothing uploaded to {}", a.to));
            return Ok(ExitCode::SUCCESS);
        }
        // With --json the answer is one document at the end: the difference is shown on stderr.
        if a.json && !a.yes {
            eprintln!("{shown}");
        } else if !a.json {
            println!("{shown}");
        }
        if !a.yes && !confirm(&a.to)? {
            out.outcome = "declined";
            out.print(a.json, &format!("not pushed: {} is unchanged", a.to));
            // Declined by the operator: nothing for a script to retry.
            return Ok(Exit::Refused.into());
        }
        // The gate records the proposal and tells the security team; another operator approves it.
        let gate = crate::gate_cmd::connect_to(&a.aws, a.gate_url.as_deref()).await?;
        let (proposal, _) =
            crate::gate_cmd::ask::<ConfigProposal>(&gate, &Op::Propose { config: text.clone() }).await?;
        out.outcome = "proposed";
        out.proposal = Some(proposal.id.clone());
        out.print(
            a.json,
            &format!(
                "proposed {} (sha256 {}): proposal {}\n  another operator approves it: {}\n  it expires at {}",
                proposal.location,
                loaded.sha256,
                proposal.id,
                command_line(&["config", "approve", &proposal.id], Some(&path), &[]),
                proposal.expires_at
            ),
        );
        Ok(ExitCode::SUCCESS)
    })
}

/// The organisation as AWS Organizations lists it agrees with `config` ([`check_members`]): the
/// administrative account is a member but not the management account, every account is a member.
async fn check_organisation(clients: &Clients, config: &breakglass_config::Config) -> Result<(), CliError> {
    let ous: Vec<String> = config.ous.iter().map(|o| o.id.clone()).collect();
    let members = organisation_members(clients, &ous).await.map_err(|e| {
        CliError::Aws(format!(
            "cannot check the organisation's accounts ({e}); use credentials that may call organizations:DescribeOrganization and ListAccounts"
        ))
    })?;
    check_members(config, &members).map_err(|e| CliError::Input(e.to_string()))
}

/// The first config: checked as `push` checks it (organisation mode; every template renders),
/// sealed with the records' key and written only where there is no config yet.
pub fn seed(a: &SeedArgs) -> Result<ExitCode, CliError> {
    let path = a.aws.config.display().to_string();
    let text = String::from_utf8(read_input(&a.aws.config)?)
        .map_err(|_| CliError::Input(format!("{}: not utf-8", Quoted(&path))))?;
    let loaded = LoadedConfig::parse(&text, &path).map_err(|e| CliError::Input(e.to_string()))?;
    if loaded.config.organisation.is_none() {
        return Err(CliError::Input(format!(
            "{}: not an organisation config (a single-account config is the stack's `BreakglassConfig` parameter)",
            Quoted(&path)
        )));
    }
    render(&loaded.config).map_err(|e| CliError::Input(format!("{}: {e}", Quoted(&path))))?;
    let (bucket, key) = parse_s3_url(&a.to).ok_or_else(|| {
        CliError::Input(format!("invalid --to {}: expected `s3://bucket/key`", Quoted(&a.to)))
    })?;
    runtime()?.block_on(async {
        let clients =
            Clients::load(a.aws.endpoint_url.as_deref()).await.map_err(|e| CliError::Input(e.to_string()))?;
        check_organisation(&clients, &loaded.config).await?;
        // Any object, sealed or not, is there already: the deployment only ever creates.
        let object = ConfigObject::sealed(&clients, &bucket, &key, &a.record_key, "deployment");
        if ConfigObject::new(&clients, &bucket, &key)
            .get()
            .await
            .map_err(|e| CliError::Aws(format!("{}: {e}", a.to)))?
            .is_some()
        {
            return Err(CliError::Input(format!(
                "{} holds a config already: every change goes through the gate ({})",
                a.to,
                command_line(&["config", "push", "--to", &a.to], Some(&path), &[])
            )));
        }
        object.put(&text, None).await.map_err(|e| CliError::Aws(format!("{}: {e}", a.to)))?;
        let done = serde_json::json!({"outcome": "seeded", "location": a.to, "sha256": loaded.sha256});
        if a.json {
            print_json(&done);
        } else {
            println!(
                "seeded {} (sha256 {}), sealed with {}\n  every later change: {}",
                a.to,
                loaded.sha256,
                a.record_key,
                command_line(&["config", "push", "--to", &a.to], Some(&path), &[])
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}

pub fn approve(a: &ConfigApproveArgs) -> Result<ExitCode, CliError> {
    if a.id.is_empty() || a.id.len() > 64 || !a.id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(CliError::Input(format!(
            "invalid proposal id {}: expected what `breakglass config push` printed",
            Quoted(&a.id)
        )));
    }
    runtime()?.block_on(async {
        let gate = crate::gate_cmd::connect_to(&a.aws, a.gate.gate_url.as_deref()).await?;
        let op = Op::ApproveConfig { proposal: a.id.clone() };
        let (p, json) = crate::gate_cmd::ask::<ConfigProposal>(&gate, &op).await?;
        if a.gate.json {
            print_json(&json);
        } else {
            println!(
                "approved proposal {} of {}: the gate wrote {} (sha256 {})",
                p.id, p.by, p.location, p.sha256
            );
            for line in &p.changes {
                println!("  {line}");
            }
            println!("  the functions use it within a minute");
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// `config push --json`: what happened, and the difference from the live config.
#[derive(Debug, Serialize)]
struct PushOutput {
    /// `proposed`, `unchanged`, `dry-run` or `declined`.
    outcome: &'static str,
    /// The proposal's id (`proposed`): another operator approves it.
    #[serde(skip_serializing_if = "Option::is_none")]
    proposal: Option<String>,
    location: String,
    sha256: String,
    before_sha256: Option<String>,
    /// The change in words, one line each.
    changes: Vec<String>,
    /// The line diff (`- old`, `+ new`).
    diff: String,
}

impl PushOutput {
    fn print(&self, json: bool, human: &str) {
        if json {
            println!("{}", serde_json::to_string_pretty(self).unwrap_or_default());
        } else {
            println!("{human}");
        }
    }
}

/// Asks on the terminal; only `y` or `yes` pushes.
fn confirm(to: &str) -> Result<bool, CliError> {
    eprint!("push this config to {to}? [y/N] ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).map_err(|source| CliError::Read { path: "-".into(), source })?;
    Ok(matches!(answer.trim().to_lowercase().as_str(), "y" | "yes"))
}

fn sha256(text: &str) -> String {
    use sha2::Digest as _;
    breakglass_core::trail::audit::hex(&sha2::Sha256::digest(text.as_bytes()))
}
