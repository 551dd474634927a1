//! `breakglass config validate`: everything `config push` and a deployment would refuse, offline.
//! The config parses; every bucket's ClosedAccess and OpenAccess render within S3's policy limit;
//! in organisation mode the SCP and RCP render within theirs; in single-account mode the compact
//! config fits the stack's `BreakglassConfig` parameter. An error names the file and its line.

use std::process::ExitCode;

use breakglass_config::{bucket_line, bucket_lines, compact, Config, ConfigError};
use breakglass_core::organisation::{render, RCP_LIMIT, SCP_LIMIT};
use canonical_policies::json::MAX_POLICY_BYTES;
use canonical_policies::OpenGrant;
use serde::Serialize;
use time::OffsetDateTime;

use crate::config_cmd::PARAMETER_LIMIT;
use crate::input::{read_input, CliError};
use crate::ValidateArgs;

/// The `--json` form: what was measured against which limit, and every problem found.
#[derive(Debug, Serialize)]
struct Validation {
    file: String,
    valid: bool,
    /// `single-account` or `organisation`; absent when the config does not parse.
    mode: Option<&'static str>,
    buckets: Vec<BucketSizes>,
    /// Organisation mode: the SCP and RCP as uploaded.
    scp: Option<Size>,
    rcp: Option<Size>,
    /// Single-account mode: `config compact`'s output, the stack parameter's value.
    parameter: Option<Size>,
    problems: Vec<Problem>,
}

#[derive(Debug, Serialize)]
struct BucketSizes {
    name: String,
    line: Option<usize>,
    closed: Size,
    /// With every investigator role as reader; absent when it does not render.
    open: Option<Size>,
}

#[derive(Debug, Clone, Copy, Serialize)]
struct Size {
    size: usize,
    limit: usize,
    unit: &'static str,
}

impl Size {
    fn over(&self) -> bool {
        self.size > self.limit
    }
}

#[derive(Debug, Serialize)]
struct Problem {
    line: Option<usize>,
    column: Option<usize>,
    message: String,
}

impl Problem {
    fn at(line: Option<usize>, message: String) -> Problem {
        Problem { line, column: None, message }
    }
}

pub fn validate(a: &ValidateArgs) -> Result<ExitCode, CliError> {
    let file = a.config.display().to_string();
    let text = String::from_utf8(read_input(&a.config)?)
        .map_err(|_| CliError::Input(format!("{file}: not valid utf-8")))?;
    let v = check(&file, &text, OffsetDateTime::now_utc());
    if a.json {
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        print!("{}", human(&v));
    }
    match v.problems.first() {
        None => Ok(ExitCode::SUCCESS),
        Some(p) => {
            let more = match v.problems.len() {
                1 => String::new(),
                n => format!(" (and {} more problem(s))", n - 1),
            };
            Err(CliError::Input(format!("{}: {}{more}", place(&file, p), p.message)))
        }
    }
}

/// `file:line:col`, `file:line` or `file`, as compilers name a place.
fn place(file: &str, p: &Problem) -> String {
    match (p.line, p.column) {
        (Some(l), Some(c)) => format!("{file}:{l}:{c}"),
        (Some(l), None) => format!("{file}:{l}"),
        _ => file.to_owned(),
    }
}

fn check(file: &str, text: &str, now: OffsetDateTime) -> Validation {
    let mut v = Validation {
        file: file.to_owned(),
        valid: false,
        mode: None,
        buckets: Vec::new(),
        scp: None,
        rcp: None,
        parameter: None,
        problems: Vec::new(),
    };
    let config = match Config::from_toml(text) {
        Ok(c) => c,
        Err(e) => {
            v.problems.push(config_problem(text, &e));
            return v;
        }
    };
    v.mode = Some(if config.organisation.is_some() { "organisation" } else { "single-account" });
    let policy_size = |size| Size { size, limit: MAX_POLICY_BYTES, unit: "bytes" };
    for b in &config.buckets {
        let line = bucket_line(text, &b.name);
        let closed = policy_size(b.closed_policy().canonical_json().len());
        if closed.over() {
            v.problems.push(Problem::at(line, over(&format!("bucket `{}`: ClosedAccess", b.name), closed)));
        }
        // The largest OpenAccess the bucket allows: every investigator role, the longest window.
        let grant = OpenGrant { readers: b.investigator_roles.clone(), expiry: now + b.max_open_duration };
        let open = match b.render_open(&grant, now) {
            Ok(p) => Some(policy_size(p.canonical_json().len())),
            Err(e) => {
                v.problems
                    .push(Problem::at(line, format!("bucket `{}`: cannot render OpenAccess: {e}", b.name)));
                None
            }
        };
        if let Some(size) = open.filter(Size::over) {
            v.problems.push(Problem::at(line, over(&format!("bucket `{}`: OpenAccess", b.name), size)));
        }
        v.buckets.push(BucketSizes { name: b.name.clone(), line, closed, open });
    }
    if config.organisation.is_some() {
        match render(&config) {
            Ok(p) => {
                v.scp = Some(Size { size: p.scp.chars().count(), limit: SCP_LIMIT, unit: "characters" });
                v.rcp = Some(Size { size: p.rcp.chars().count(), limit: RCP_LIMIT, unit: "characters" });
            }
            Err(e) => v.problems.push(Problem::at(None, e.to_string())),
        }
    } else {
        match compact(text) {
            Ok(small) => {
                let size = Size { size: small.len(), limit: PARAMETER_LIMIT, unit: "bytes" };
                if size.over() {
                    v.problems.push(Problem::at(
                        None,
                        over("the compact config (the stack's `BreakglassConfig` parameter)", size)
                            + ": deploy in organisation mode or bundle it as BREAKGLASS_CONFIG_FILE",
                    ));
                }
                v.parameter = Some(size);
            }
            Err(e) => v.problems.push(config_problem(text, &e)),
        }
    }
    v.valid = v.problems.is_empty();
    v
}

fn over(what: &str, s: Size) -> String {
    format!("{what} is {} {}, over AWS's limit of {}", s.size, s.unit, s.limit)
}

/// A config error at its place: the parser's line and column, else the line naming its bucket.
fn config_problem(text: &str, e: &ConfigError) -> Problem {
    let message = match e {
        ConfigError::TomlAt { message, .. } => format!("invalid config: {message}"),
        ConfigError::NotCompactable { .. } => {
            "the config cannot be made compact without changing it: deploy it as it is, or as a file or an S3 object".to_owned()
        }
        other => other.to_string(),
    };
    match e.position() {
        Some((line, column)) => Problem { line: Some(line), column: Some(column), message },
        None => {
            let line = match e {
                // The second naming is the mistake.
                ConfigError::DuplicateBucket(b) => bucket_lines(text, b).nth(1),
                _ => e.bucket().and_then(|b| bucket_line(text, b)),
            };
            Problem::at(line, message)
        }
    }
}

fn human(v: &Validation) -> String {
    use std::fmt::Write as _;
    let Some(mode) = v.mode else { return String::new() };
    let mut out = format!(
        "{}: {} ({mode} mode, {} bucket(s))\n",
        v.file,
        if v.valid { "valid" } else { "INVALID" },
        v.buckets.len()
    );
    let size = |s: &Size| {
        format!("{} of {} {}{}", s.size, s.limit, s.unit, if s.over() { " (OVER THE LIMIT)" } else { "" })
    };
    for b in &v.buckets {
        let open = b.open.as_ref().map_or_else(|| "does not render".to_owned(), size);
        let _ = writeln!(out, "  bucket {}: ClosedAccess {}, OpenAccess {open}", b.name, size(&b.closed));
    }
    for (what, s) in
        [("SCP", &v.scp), ("RCP", &v.rcp), ("BreakglassConfig parameter (compact)", &v.parameter)]
    {
        if let Some(s) = s {
            let _ = writeln!(out, "  {what}: {}", size(s));
        }
    }
    out
}
