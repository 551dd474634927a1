//! `open | close | request | approve | deny`: what an operator asks, through the gate. The CLI signs
//! the call with the operator's own credentials; the gate learns who calls from AWS, checks, writes
//! its record, and only then writes the policy. The CLI checks the arguments against the config
//! first, to name a mistake before anything is sent, and prints the gate's answer.

use std::process::ExitCode;

use breakglass_aws::{Clients, GateAnswer, GateClient};
use breakglass_config::{BucketConfig, Config};
use breakglass_core::access::approval::decide_command;
use breakglass_core::access::gate::{Approved, Asked, Op};
use breakglass_core::events::{AccessRequest, Decision, Request};
use canonical_policies::Quoted;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::aws_cmd::{change_command, check_account, print_json, runtime};
use crate::input::{choose_bucket, load_config, CliError};
use crate::{AwsArgs, CloseArgs, DecideArgs, GateArgs, OpenArgs};

/// The gate client of `gate` with the operator's credentials.
async fn connect(aws: &AwsArgs, gate: &GateArgs) -> Result<GateClient, CliError> {
    connect_to(aws, gate.gate_url.as_deref()).await
}

/// The gate at `url` (`--gate-url` or `BREAKGLASS_GATE_URL`) with the operator's credentials.
pub(crate) async fn connect_to(aws: &AwsArgs, url: Option<&str>) -> Result<GateClient, CliError> {
    let url = url.ok_or_else(|| {
        CliError::Input(
            "no gate: set BREAKGLASS_GATE_URL (or --gate-url) to the stack's output `GateUrl`".into(),
        )
    })?;
    let clients =
        Clients::load(aws.endpoint_url.as_deref()).await.map_err(|e| CliError::Input(e.to_string()))?;
    GateClient::new(&clients, url).map_err(|e| CliError::Input(e.to_string()))
}

/// The gate's answer to `op` as `T`; a refusal as the error of its kind (4xx: not worth retrying
/// unchanged; 5xx, a timeout: worth retrying, after `history` shows what was done).
pub(crate) async fn ask<T: DeserializeOwned>(gate: &GateClient, op: &Op) -> Result<(T, Value), CliError> {
    let body = serde_json::to_value(op).map_err(|e| CliError::Input(e.to_string()))?;
    let GateAnswer { status, body } = gate.call(&body).await.map_err(|e| CliError::port("the gate", &e))?;
    // The gate's own refusals carry `error`; Lambda's (no grant, a bad signature) `Message`.
    let why = || {
        body.get("error")
            .or_else(|| body.get("Message"))
            .or_else(|| body.get("message"))
            .and_then(Value::as_str)
            .map_or_else(|| body.to_string(), str::to_owned)
    };
    match status {
        200 => {
            let typed = serde_json::from_value(body.clone()).map_err(|e| {
                CliError::Aws(format!("the gate's answer is not what this release reads: {e}"))
            })?;
            Ok((typed, body))
        }
        401 | 403 if body.get("error").is_none() => Err(CliError::AwsRefused(format!(
            "the gate refused the call (http {status}: {}): only sessions of the operator roles may call it",
            why()
        ))),
        400..=499 => Err(CliError::Input(format!("refused by the gate: {}", why()))),
        _ => Err(CliError::Aws(format!("the gate failed (http {status}): {}", why()))),
    }
}

fn bucket<'c>(config: &'c Config, name: &str, account: Option<&str>) -> Result<&'c BucketConfig, CliError> {
    let b = choose_bucket(config, Some(name))?;
    check_account(config, b, account)?;
    Ok(b)
}

fn asked(a: &OpenArgs) -> Result<Asked, CliError> {
    let duration = breakglass_config::parse_duration(&a.duration).ok_or_else(|| {
        CliError::Input(format!(
            "invalid --duration {}: expected e.g. `4h`, `90m`, `1h30m`",
            Quoted(&a.duration)
        ))
    })?;
    Ok(Asked {
        bucket: a.change.bucket.clone(),
        readers: a.readers.clone(),
        duration,
        reason: a.change.reason.clone(),
        ticket: a.ticket.clone(),
    })
}

/// An open or close done: what is in force now.
fn report(done: &Request, json: &Value, json_out: bool) {
    if json_out {
        print_json(json);
        return;
    }
    match &done.grant {
        Some(g) => {
            println!("opened {} until {} for {}", done.bucket, g.expiry, g.readers.join(", "));
            if let Some(p) = &done.previous {
                println!("  (it was open until {}; no grant was cut short)", p.expiry);
            }
        }
        None => println!("closed {}", done.bucket),
    }
    if let Some(h) = &done.policy_hash {
        println!("  policy sha256 {h}");
    }
}

pub fn open(a: &OpenArgs) -> Result<ExitCode, CliError> {
    let config = load_config(&a.change.aws.config)?;
    let b = bucket(&config, &a.change.bucket, a.change.account.as_deref())?;
    if b.two_person.is_some() {
        return Err(CliError::Input(format!(
            "bucket `{}` is under the two-person rule; request it with `{}`, then another approver runs the command it prints",
            b.name,
            change_command("request", a)
        )));
    }
    // The gate judges what is asked (and records a refusal: an attempt to break the glass
    // unlawfully is for the stakeholders to see), so nothing beyond the arguments' form is checked here.
    change(&a.change.aws, &a.gate, &Op::Open(asked(a)?))
}

pub fn close(a: &CloseArgs) -> Result<ExitCode, CliError> {
    let config = load_config(&a.change.aws.config)?;
    bucket(&config, &a.change.bucket, a.change.account.as_deref())?;
    change(
        &a.change.aws,
        &a.gate,
        &Op::Close { bucket: a.change.bucket.clone(), reason: a.change.reason.clone() },
    )
}

/// An open or a close through the gate, and what is in force afterwards.
fn change(aws: &AwsArgs, gate: &GateArgs, op: &Op) -> Result<ExitCode, CliError> {
    runtime()?.block_on(async {
        let client = connect(aws, gate).await?;
        let (done, json) = ask::<Request>(&client, op).await?;
        report(&done, &json, gate.json);
        Ok(ExitCode::SUCCESS)
    })
}

pub fn request(a: &OpenArgs) -> Result<ExitCode, CliError> {
    let config = load_config(&a.change.aws.config)?;
    let b = bucket(&config, &a.change.bucket, a.change.account.as_deref())?;
    if b.two_person.is_none() {
        return Err(CliError::Input(format!(
            "bucket `{}` has no two-person rule: it is opened directly; open it with `{}`",
            b.name,
            change_command("open", a)
        )));
    }
    let op = Op::Request(asked(a)?);
    runtime()?.block_on(async {
        let gate = connect(&a.change.aws, &a.gate).await?;
        let (q, json) = ask::<AccessRequest>(&gate, &op).await?;
        if a.gate.json {
            print_json(&json);
        } else {
            println!("requested access to {} for {} ({}): request {}", q.bucket, q.duration, q.ticket, q.id);
            let account = config.organisation.as_ref().map(|_| b.account.as_str());
            let path = a.change.aws.config.to_string_lossy();
            println!(
                "  another approver decides: {}",
                decide_command("approve", &q.id, &q.bucket, account, Some(&path))
            );
            println!("  it expires at {}", q.expires_at);
        }
        Ok(ExitCode::SUCCESS)
    })
}

pub fn decide(a: &DecideArgs, approve: bool) -> Result<ExitCode, CliError> {
    let config = load_config(&a.aws.config)?;
    if a.id.is_empty() || a.id.len() > 64 || !a.id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(CliError::Input(format!(
            "invalid request id {}: expected what `breakglass request` printed",
            Quoted(&a.id)
        )));
    }
    if let Some(name) = &a.bucket {
        bucket(&config, name, a.account.as_deref())?;
    }
    let op = if approve {
        Op::Approve { request: a.id.clone(), bucket: a.bucket.clone() }
    } else {
        Op::Deny { request: a.id.clone(), bucket: a.bucket.clone(), reason: a.reason.clone() }
    };
    runtime()?.block_on(async {
        let gate = connect(&a.aws, &a.gate).await?;
        if approve {
            let (done, json) = ask::<Approved>(&gate, &op).await?;
            if a.gate.json {
                print_json(json.get("opened").unwrap_or(&json));
            } else {
                println!(
                    "approved request {} of {} for {}",
                    done.decision.id, done.decision.requester, done.decision.bucket
                );
                report(&done.opened, &json, false);
            }
        } else {
            let (d, json) = ask::<Decision>(&gate, &op).await?;
            if a.gate.json {
                print_json(&json);
            } else {
                println!("denied request {} for {}: nothing was opened", d.id, d.bucket);
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::decide_command;
    use crate::{Cli, Command};

    /// What `request` prints must parse as printed, flags included.
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
