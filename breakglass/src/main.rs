//! `breakglass`: the operator CLI. Thin: parses arguments, reads inputs, calls canonical-policies,
//! prints. Exit codes by kind: `exit::Exit` (the table `--help` ends with).

mod aws_cmd;
mod config_cmd;
#[cfg(test)]
mod docs_commands;
mod enforce_cmd;
mod exit;
mod gate_cmd;
mod history_cmd;
mod input;
mod org_cmd;
mod policy_cmd;
mod report_cmd;
mod status_cmd;
mod validate_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use breakglass_core::runtime::Settings;
use clap::{Args, Parser, Subcommand, ValueEnum};

/// Operator CLI of breakglass: open, close, status, the two-person rule, history and access reports of the protected log buckets; policy tools; organisation mode's policies and config.
#[derive(Debug, Parser)]
#[command(name = "breakglass", version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("BREAKGLASS_COMMIT"), ")"), propagate_version = true, after_help = exit::Exit::help())]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Canonicalise, hash, render, classify, diff and evaluate bucket policies.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// One reconcile pass of the enforcer: every bucket, a few at once, each on its line (an error
    /// in place), then a summary line (exit 3 if any was remediated, or would be with --dry-run; 1
    /// or 2 if any could not be reconciled); or, with --event, the Lambda's answer to that event.
    Enforce(EnforceArgs),
    /// What the notifier sends for an event (with --print: show the SNS Publish request instead).
    Notify(NotifyArgs),
    /// The state of every protected bucket, a few read at once, each on its line (an error in
    /// place), then a summary line (exit 3 if any is not lawful; 1 or 2 if any could not be read).
    Status(StatusArgs),
    /// Break the glass: open a bucket for investigators, with a reason, a ticket and an expiry.
    Open(OpenArgs),
    /// Close a bucket again (ClosedAccess).
    Close(CloseArgs),
    /// Two-person rule: ask for access to a bucket; nothing opens until another person approves
    /// (the same arguments as `open`).
    Request(OpenArgs),
    /// Two-person rule: approve a request as another person; the bucket opens as requested.
    Approve(DecideArgs),
    /// Two-person rule: deny a request; nothing opens.
    Deny(DecideArgs),
    /// A bucket's history from the audit trail, newest first; an open window is one entry.
    History(HistoryArgs),
    /// What was read while a bucket was open: per window, who read which objects, how many bytes,
    /// reads outside the grant and refused reads (exit 3 if anyone outside the grant read).
    Report(ReportArgs),
    /// Organisation mode: the organisation's own guards, rendered from the config.
    #[command(subcommand)]
    Org(OrgCommand),
    /// The config the functions read from S3 (organisation mode).
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Check a config (parse, render every template, organisation membership), show how it differs
    /// from the live one (lines and words), ask, and propose it through the gate: the security team
    /// is told, and nothing changes until another operator approves it (`config approve`).
    Push(PushArgs),
    /// Approve another operator's config proposal by its id: the gate writes it, the functions use
    /// it within a minute.
    Approve(ConfigApproveArgs),
    /// Write the first config, sealed with the records' key, as the deployment role (deploy step
    /// 11): refused if there is a config already (every later change goes through the gate).
    Seed(SeedArgs),
    /// Print the config without comments, blank lines and indentation: the same config, small
    /// enough for the stack's `BreakglassConfig` parameter (single-account mode; 4,096 bytes).
    Compact(CompactArgs),
    /// Check a config offline: it parses, every template renders, every AWS size limit holds
    /// (bucket policies, SCP and RCP, the compact parameter); an error names the file and line.
    Validate(ValidateArgs),
}

#[derive(Debug, Args)]
struct ValidateArgs {
    /// The config to check (see examples/breakglass.toml).
    #[arg(long, env = "BREAKGLASS_CONFIG")]
    config: PathBuf,
    /// Machine-readable output: every size against its limit, every problem.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct CompactArgs {
    #[arg(long, env = "BREAKGLASS_CONFIG")]
    config: PathBuf,
    /// Print it as one `sam deploy --parameter-overrides` argument, `BreakglassConfig="…"`, quoted
    /// as SAM reads it (unquoted, SAM cuts the value at its first space).
    #[arg(long)]
    sam: bool,
}

#[derive(Debug, Args)]
struct PushArgs {
    #[command(flatten)]
    aws: AwsArgs,
    /// Where the functions read it: `s3://bucket/key` (the stack's `BREAKGLASS_CONFIG_S3`).
    #[arg(long, value_name = "S3_URL")]
    to: String,
    /// The gate's function URL (the stack's output `GateUrl`), which takes the proposal.
    #[arg(long, env = "BREAKGLASS_GATE_URL", value_name = "URL")]
    gate_url: Option<String>,
    /// Propose without asking (needed when standard input is not a terminal).
    #[arg(long)]
    yes: bool,
    /// Check and show the difference from the live config; propose nothing.
    #[arg(long)]
    dry_run: bool,
    /// The records' KMS HMAC key whose seal marks the config in force (the stack's
    /// `alias/breakglass-records`): the difference is shown against that config.
    #[arg(long, value_name = "KEY", default_value = "alias/breakglass-records")]
    record_key: String,
    /// Machine-readable output: the outcome, the hashes and the difference.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct SeedArgs {
    #[command(flatten)]
    aws: AwsArgs,
    /// Where the functions read it: `s3://bucket/key` (the stack's `BREAKGLASS_CONFIG_S3`).
    #[arg(long, value_name = "S3_URL")]
    to: String,
    /// The records' KMS HMAC key that seals it (the stack's `alias/breakglass-records`).
    #[arg(long, value_name = "KEY", default_value = "alias/breakglass-records")]
    record_key: String,
    /// Machine-readable output: where, and the config's hash.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct ConfigApproveArgs {
    #[command(flatten)]
    aws: AwsArgs,
    /// The proposal's id, as `config push` printed it and the mail names it.
    id: String,
    #[command(flatten)]
    gate: GateArgs,
}

#[derive(Debug, Subcommand)]
enum OrgCommand {
    /// Write the SCP and the RCP for the config's organisation (minified, as uploaded; refused
    /// when over AWS's size limit).
    RenderPolicies(RenderPoliciesArgs),
    /// Write the Service Catalog product templates with the config's buckets as a list to pick
    /// from (publish them with `make publish-products PRODUCTS=DIR`).
    RenderProducts(RenderPoliciesArgs),
}

#[derive(Debug, Args)]
struct RenderPoliciesArgs {
    /// The organisation config (see examples/organisation.toml).
    #[arg(long, env = "BREAKGLASS_CONFIG")]
    config: PathBuf,
    /// The directory to write into (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Machine-readable output: the files written.
    #[arg(long)]
    json: bool,
}

/// Whose audit trail `history` and `report` read: the config and endpoint, the bucket and its
/// account (`history` words the help; `report` rewords the account's).
#[derive(Debug, Args)]
struct TrailArgs {
    #[command(flatten)]
    aws: AwsArgs,
    /// The protected bucket.
    #[arg(long)]
    bucket: String,
    /// Organisation mode: the bucket's account (default: the config's; needed for a bucket no
    /// longer in the config).
    #[arg(long, value_name = "ID")]
    account: Option<String>,
}

/// From when and from which audit bucket the trail is read (`report` rewords `--since`).
#[derive(Debug, Args)]
struct TrailFromArgs {
    /// Only entries that began or changed at or after this date (`2026-11-24` or RFC 3339).
    #[arg(long, value_name = "DATE")]
    since: Option<String>,
    /// The audit bucket, if not the config's `[audit] bucket`.
    #[arg(long, value_name = "NAME")]
    audit_bucket: Option<String>,
}

#[derive(Debug, Args)]
struct HistoryArgs {
    #[command(flatten)]
    trail: TrailArgs,
    #[command(flatten)]
    from: TrailFromArgs,
    /// Machine-readable output.
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// Every step of every entry, one line each (windows: opened, extended, closed).
    #[arg(long)]
    csv: bool,
}

#[derive(Debug, Args)]
#[command(
    mut_arg("account", |a| a.help("Organisation mode: the bucket's account (default: the config's)")),
    mut_arg("since", |a| a.help("Every window that was open at or after this date (`2026-11-24` or RFC 3339)"))
)]
struct ReportArgs {
    #[command(flatten)]
    trail: TrailArgs,
    /// The window, by when it opened (RFC 3339, as `history` shows it); default: the latest.
    #[arg(long, value_name = "ID", conflicts_with = "since")]
    window: Option<String>,
    #[command(flatten)]
    from: TrailFromArgs,
    /// Machine-readable output (the reports the stakeholders' mails carry).
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// Every read and refused read of the windows, one line each.
    #[arg(long)]
    csv: bool,
}

/// What every change to a bucket names: the config and endpoint, the bucket and its account, and
/// why (`open` and `request` word the help; `close` rewords it).
#[derive(Debug, Args)]
struct ChangeArgs {
    #[command(flatten)]
    aws: AwsArgs,
    /// The bucket to open.
    #[arg(long)]
    bucket: String,
    /// The account that owns the bucket (organisation mode; checked against the config).
    #[arg(long, value_name = "ID")]
    account: Option<String>,
    /// Why access is needed (goes into the email and the audit trail).
    #[arg(long)]
    reason: String,
}

/// Where an operator's action goes (the gate) and how its outcome is printed.
#[derive(Debug, Args)]
struct GateArgs {
    /// The gate's function URL (the stack's output `GateUrl`): every open, close, request and
    /// decision goes through it, signed with your credentials.
    #[arg(long, env = "BREAKGLASS_GATE_URL", value_name = "URL")]
    gate_url: Option<String>,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct OpenArgs {
    #[command(flatten)]
    change: ChangeArgs,
    /// The ticket or case that authorises it.
    #[arg(long)]
    ticket: String,
    /// How long, e.g. `4h` or `1h30m` (at most the bucket's max_open_duration).
    #[arg(long)]
    duration: String,
    /// Reader role (repeatable); default: every investigator role of the bucket.
    #[arg(long = "reader", value_name = "ROLE_ARN")]
    readers: Vec<String>,
    #[command(flatten)]
    gate: GateArgs,
}

#[derive(Debug, Args)]
struct DecideArgs {
    #[command(flatten)]
    aws: AwsArgs,
    /// The request's id, as `breakglass request` printed it and the mail names it.
    id: String,
    /// The request's bucket (default: search every bucket under the two-person rule).
    #[arg(long)]
    bucket: Option<String>,
    /// The account that owns the bucket (organisation mode; checked against the config).
    #[arg(long, value_name = "ID")]
    account: Option<String>,
    /// `deny`: why, for the mail (default: the mail repeats the request's reason).
    #[arg(long)]
    reason: Option<String>,
    #[command(flatten)]
    gate: GateArgs,
}

#[derive(Debug, Args)]
#[command(
    mut_arg("bucket", |a| a.help("The bucket to close")),
    mut_arg("reason", |a| a.help("Why it is closed"))
)]
struct CloseArgs {
    #[command(flatten)]
    change: ChangeArgs,
    #[command(flatten)]
    gate: GateArgs,
}

#[derive(Debug, Args)]
struct AwsArgs {
    /// The breakglass config (see examples/breakglass.toml).
    #[arg(long, env = "BREAKGLASS_CONFIG")]
    config: PathBuf,
    /// Send AWS requests here (moto in tests); default: `AWS_ENDPOINT_URL`, else AWS.
    #[arg(long, value_name = "URL")]
    endpoint_url: Option<String>,
}

#[derive(Debug, Args)]
struct EnforceArgs {
    #[command(flatten)]
    aws: AwsArgs,
    /// Act on this event (file, or `-`) instead of sweeping every bucket.
    #[arg(long, value_name = "FILE")]
    event: Option<PathBuf>,
    /// EventBridge bus for the remediation events.
    #[arg(long, default_value = "breakglass")]
    event_bus: String,
    /// Report what would be done, write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Machine-readable output (with --event the answer is always JSON).
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct NotifyArgs {
    /// The breakglass config (see examples/breakglass.toml).
    #[arg(long, env = "BREAKGLASS_CONFIG")]
    config: PathBuf,
    /// The event (file, or `-`).
    #[arg(long, value_name = "FILE")]
    event: PathBuf,
    /// Print the SNS Publish request(s) as JSON instead of sending.
    #[arg(long)]
    print: bool,
    /// The SNS topic to publish to (not needed with --print).
    #[arg(long, value_name = "ARN")]
    topic_arn: Option<String>,
    /// Send AWS requests here (moto in tests); default: `AWS_ENDPOINT_URL`, else AWS.
    #[arg(long, value_name = "URL")]
    endpoint_url: Option<String>,
}

#[derive(Debug, Args)]
struct StatusArgs {
    #[command(flatten)]
    aws: AwsArgs,
    /// Only the buckets of this logging account (ID or alias).
    #[arg(long, value_name = "ID", conflicts_with = "all")]
    account: Option<String>,
    /// Every guarded bucket of every account and Region (the default).
    #[arg(long)]
    all: bool,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Print the canonical JSON of a policy.
    Canonicalize(InputArgs),
    /// Print the SHA-256 of a policy's canonical form (64 lowercase hex characters).
    Hash(HashArgs),
    /// Render the ClosedAccess or OpenAccess policy of a bucket from the config.
    Render(RenderArgs),
    /// Say whether a policy is closed, open, expired or drift (exit 3 for drift).
    Classify(ClassifyArgs),
    /// Show, in plain English, how a policy differs from the nearest template.
    Diff(ClassifyArgs),
    /// Evaluate one request against a policy: allow, explicit-deny, implicit-deny or unknown.
    Explain(ExplainArgs),
}

#[derive(Debug, Args)]
struct InputArgs {
    /// Policy file, or `-` for standard input.
    #[arg(default_value = "-")]
    file: PathBuf,
    /// Partition for bare account-ID principals (`123456789012` → `arn:<partition>:iam::…:root`).
    #[arg(long, default_value = "aws")]
    partition: String,
}

#[derive(Debug, Args)]
struct HashArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct BucketArgs {
    /// The breakglass config (see examples/breakglass.toml).
    #[arg(long, env = "BREAKGLASS_CONFIG")]
    config: PathBuf,
    /// The protected bucket; may be omitted when the config has one bucket.
    #[arg(long)]
    bucket: Option<String>,
    /// Evaluate as of this time (RFC 3339) instead of now.
    #[arg(long, value_name = "RFC3339")]
    at: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum TemplateArg {
    Closed,
    Open,
}

#[derive(Debug, Args)]
struct RenderArgs {
    template: TemplateArg,
    #[command(flatten)]
    bucket: BucketArgs,
    /// OpenAccess expiry (RFC 3339); default: now plus the bucket's maximum open duration.
    #[arg(long, value_name = "RFC3339")]
    until: Option<String>,
    /// OpenAccess reader role (repeatable); default: every investigator role of the bucket.
    #[arg(long = "reader", value_name = "ROLE_ARN")]
    readers: Vec<String>,
}

#[derive(Debug, Args)]
struct ClassifyArgs {
    #[command(flatten)]
    bucket: BucketArgs,
    /// Policy file, or `-` for standard input.
    #[arg(default_value = "-")]
    file: PathBuf,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct ExplainArgs {
    /// Caller: an IAM role, user, root or assumed-role ARN, a service (`cloudtrail.amazonaws.com`) or `anonymous`.
    #[arg(long)]
    principal: String,
    /// Action, e.g. `s3:GetObject`.
    #[arg(long)]
    action: String,
    /// Resource ARN, e.g. `arn:aws:s3:::bucket/key`.
    #[arg(long)]
    resource: String,
    /// Request time (RFC 3339); default now.
    #[arg(long, value_name = "RFC3339")]
    at: Option<String>,
    /// Extra request context, e.g. `aws:SecureTransport=true` (repeatable).
    #[arg(long = "context", value_name = "KEY=VALUE")]
    context: Vec<String>,
    /// Partition for bare account-ID principals in the policy.
    #[arg(long, default_value = "aws")]
    partition: String,
    /// Policy file, or `-` for standard input.
    #[arg(default_value = "-")]
    file: PathBuf,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    let result = match cli.command {
        Command::Policy(cmd) => policy_cmd::run(cmd),
        Command::Enforce(a) => enforce_cmd::enforce(&a, &Settings::from_env()),
        Command::Notify(a) => aws_cmd::notify(&a, &Settings::from_env()),
        Command::Status(a) => status_cmd::status(&a),
        Command::Open(a) => gate_cmd::open(&a),
        Command::Close(a) => gate_cmd::close(&a),
        Command::History(a) => history_cmd::run(&a),
        Command::Report(a) => report_cmd::run(&a),
        Command::Request(a) => gate_cmd::request(&a),
        Command::Approve(a) => gate_cmd::decide(&a, true),
        Command::Deny(a) => gate_cmd::decide(&a, false),
        Command::Org(OrgCommand::RenderPolicies(a)) => org_cmd::render_policies(&a),
        Command::Org(OrgCommand::RenderProducts(a)) => org_cmd::render_products(&a),
        Command::Config(ConfigCommand::Push(a)) => config_cmd::push(&a),
        Command::Config(ConfigCommand::Approve(a)) => config_cmd::approve(&a),
        Command::Config(ConfigCommand::Seed(a)) => config_cmd::seed(&a),
        Command::Config(ConfigCommand::Compact(a)) => config_cmd::compact(&a),
        Command::Config(ConfigCommand::Validate(a)) => validate_cmd::validate(&a),
    };
    match result {
        Ok(code) => code,
        // By kind (`exit::Exit`): AWS trouble worth retrying is 1, so scripts can retry it.
        Err(e) => {
            // One line, whatever the input it names: control characters (a newline, an ANSI escape
            // in an argument or a config key) are shown escaped, never acted on by the terminal.
            eprintln!("breakglass: {}", canonical_policies::printable(&e.to_string()));
            e.exit().into()
        }
    }
}

/// clap's message in the house style: the first line is `breakglass: <message> (...)`, lowercase,
/// naming what is missing; clap's tips and the subcommand's usage follow, since they say how to fix it.
fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
            ExitCode::from(2)
        } else {
            ExitCode::SUCCESS
        };
    }
    eprint!("{}", render_usage_error(&e.render().to_string()));
    ExitCode::from(2)
}

/// Turns clap's rendered error into the first line plus the tip and usage lines.
fn render_usage_error(text: &str) -> String {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty()).peekable();
    let first = lines.next().unwrap_or("invalid usage");
    let mut msg = first.trim_start_matches("error: ").replace('\'', "`");
    // clap lists missing arguments on the lines after "...not provided:"; the first line names them.
    if msg.ends_with(':') {
        let mut named = Vec::new();
        while let Some(l) = lines.next_if(|l| !l.starts_with("tip:") && !l.starts_with("Usage:")) {
            named.push(format!("`{l}`"));
        }
        msg = format!("{msg} {}", named.join(", "));
    }
    let mut out = format!("breakglass: {msg} (see `breakglass --help`)\n");
    for l in lines.filter(|l| l.starts_with("tip:") || l.starts_with("Usage:")) {
        out.push_str(&l.replace('\'', "`"));
        out.push('\n');
    }
    out
}
