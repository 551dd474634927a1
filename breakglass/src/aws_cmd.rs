//! `breakglass enforce | notify`: the Lambdas' logic, run from a terminal; what `open` and `request` share.

use std::process::ExitCode;

use breakglass_aws::wiring;
use breakglass_aws::{Accounts, Clients, SnsPublisher};
use breakglass_config::Config;
use breakglass_core::command::command_line;
use breakglass_core::notify::{render_in, Rendered};
use breakglass_core::runtime::{notify_event_in, Settings};
use serde_json::Value;
use time::OffsetDateTime;

use crate::input::{load_config, read_input, CliError};
use crate::{NotifyArgs, OpenArgs};

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Input(format!("cannot start the async runtime: {e}")))
}

pub(crate) fn read_event(path: &std::path::Path) -> Result<Value, CliError> {
    let bytes = read_input(path)?;
    serde_json::from_slice(&bytes).map_err(|e| CliError::Input(format!("event is not valid json: {e}")))
}

/// A progress bar over `len` steps, only for a person watching: piped or captured output stays clean.
pub(crate) fn progress(len: usize) -> indicatif::ProgressBar {
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        indicatif::ProgressBar::new(u64::try_from(len).unwrap_or(u64::MAX))
    } else {
        indicatif::ProgressBar::hidden()
    }
}

/// `n word` or `n words`.
pub(crate) fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

pub(crate) fn print_json(v: &Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string()));
}

/// What `notify --print` prints for each notification: the SNS Publish request it would send (its
/// fields in the order they were always printed), or why nothing would be sent.
#[derive(Debug, serde::Serialize)]
#[serde(untagged)]
enum Printed {
    Ignored {
        ignored: String,
    },
    Publish {
        /// SNS message attributes, by name.
        attributes: std::collections::BTreeMap<String, String>,
        message: breakglass_core::ports::Message,
        message_structure: &'static str,
        subject: String,
    },
}

pub fn notify(a: &NotifyArgs, settings: &Settings) -> Result<ExitCode, CliError> {
    let config = load_config(&a.config)?;
    let event = read_event(&a.event)?;
    let now = OffsetDateTime::now_utc();
    if a.print {
        let incoming =
            breakglass_core::inbound::event::parse(&event).map_err(|e| CliError::Input(e.to_string()))?;
        for r in render_in(&config, &settings.scope(), &incoming, now) {
            let printed = match r {
                Rendered::Ignored(ignored) => Printed::Ignored { ignored },
                Rendered::Send(n) => Printed::Publish {
                    attributes: n.attributes.iter().cloned().collect(),
                    message: n.message(),
                    message_structure: "json",
                    subject: n.subject,
                },
            };
            print_json(&serde_json::to_value(&printed).map_err(|e| CliError::Input(e.to_string()))?);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let topic = a
        .topic_arn
        .clone()
        .ok_or_else(|| CliError::Input("--topic-arn is required unless --print".into()))?;
    runtime()?.block_on(async {
        let clients =
            Clients::load(a.endpoint_url.as_deref()).await.map_err(|e| CliError::Input(e.to_string()))?;
        // Records go to the config's audit trail when it has one, as the notifier's would.
        let trail = config.audit.clone().map(|a| wiring::trail(&clients, a, None));
        let publisher = SnsPublisher::new(clients.sns, topic);
        let summary =
            notify_event_in(&config, &settings.scope(), &publisher, None, trail.as_ref(), &event, now)
                .await
                .map_err(|e| CliError::Aws(e.to_string()))?;
        print_json(&summary);
        Ok(ExitCode::SUCCESS)
    })
}

/// The member-role session name of an operator: `breakglass-operator-<their session or user name>`,
/// so that the logging account's CloudTrail names the person, not only the role.
fn operator_session(who: &str) -> String {
    format!("breakglass-operator-{}", who.rsplit('/').next().unwrap_or("unknown"))
}

/// How the CLI reaches the buckets: its own credentials, or (organisation mode) each logging
/// account's read-only role as the operator's own session, or the member role when it is to write
/// (`enforce` without `--dry-run`, which only breakglass's own roles may: the member role's trust).
pub(crate) async fn accounts(
    clients: &Clients,
    config: &Config,
    write: bool,
) -> Result<std::sync::Arc<Accounts>, CliError> {
    if config.organisation.is_none() {
        return Ok(Accounts::own(clients));
    }
    let who = requester(clients).await?;
    let session = operator_session(&who);
    Ok(if write {
        Accounts::for_config(clients, config, &session)
    } else {
        Accounts::for_reader(clients, config, &session)
    })
}

/// `--account`, when given, must be the account the config gives the bucket.
pub(crate) fn check_account(
    config: &Config,
    bucket: &breakglass_config::BucketConfig,
    account: Option<&str>,
) -> Result<(), CliError> {
    match account {
        Some(a)
            if a != bucket.account
                && config.account(&bucket.account).and_then(|x| x.alias.as_deref()) != Some(a) =>
        {
            Err(CliError::Input(format!(
                "bucket `{}` is in account {} in the config, not `{a}`",
                bucket.name,
                config.account_label(&bucket.account)
            )))
        }
        _ => Ok(()),
    }
}

/// Who is asking, as AWS sees it.
pub(crate) async fn requester(clients: &Clients) -> Result<String, CliError> {
    let sts = aws_sdk_sts::Client::new(&clients.config);
    let me = sts.get_caller_identity().send().await.map_err(|e| {
        CliError::port(
            "cannot tell who you are (sts)",
            &breakglass_aws::classify_error("GetCallerIdentity", e),
        )
    })?;
    Ok(me.arn.unwrap_or_else(|| "an unknown principal".into()))
}

/// `open` and `request` take the same arguments: `verb` with those `a` gave, pasteable (the
/// command a refusal of the one names).
pub(crate) fn change_command(verb: &str, a: &OpenArgs) -> String {
    let c = &a.change;
    let mut flags = vec![("--bucket", c.bucket.as_str())];
    flags.extend(c.account.as_deref().map(|x| ("--account", x)));
    flags.extend([
        ("--reason", c.reason.as_str()),
        ("--ticket", a.ticket.as_str()),
        ("--duration", a.duration.as_str()),
    ]);
    flags.extend(a.readers.iter().map(|r| ("--reader", r.as_str())));
    command_line(&[verb], Some(&c.aws.config.to_string_lossy()), &flags)
}

#[cfg(test)]
mod tests {
    use super::change_command;
    use crate::docs_commands::parse_printed as parse;
    use crate::Command;
    use breakglass_core::command::command_line;

    /// The commands a refused `open` or `request` names parse as printed, with every argument the
    /// refused one was given; so does the `status` a bucket not lawful names.
    #[test]
    fn the_printed_change_and_status_commands_parse() {
        let given = "breakglass open --config 'my configs/b.toml' --bucket acme-logs --account 111122223333 \
                     --reason 'incident 42: urgent' --ticket INC-42 --duration 1h30m --reader arn:aws:iam::111122223333:role/a --reader arn:aws:iam::111122223333:role/b";
        let Command::Open(open) = parse(given) else { panic!("{given}") };
        let Command::Request(request) = parse(&change_command("request", &open)) else { panic!() };
        let Command::Open(again) = parse(&change_command("open", &request)) else { panic!() };
        for a in [&request, &again] {
            assert_eq!(format!("{:?}", a), format!("{open:?}"));
        }
        let status = command_line(&["status"], Some("my configs/b.toml"), &[]);
        let Command::Status(s) = parse(&status) else { panic!("{status}") };
        assert_eq!(s.aws.config.to_str(), Some("my configs/b.toml"));
    }
}
