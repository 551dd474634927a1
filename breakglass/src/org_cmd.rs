//! `breakglass org …`: the organisation's own guards.

use std::path::Path;
use std::process::ExitCode;

use breakglass_core::organisation::{render, RCP_LIMIT, SCP_LIMIT};
use canonical_policies::Quoted;
use serde::Serialize;

use crate::input::{load_config, CliError};
use crate::RenderPoliciesArgs;

/// Renders both policies first and writes only when both are within their limits: a refused
/// config leaves no file (and no half of a pair) behind.
pub fn render_policies(a: &RenderPoliciesArgs) -> Result<ExitCode, CliError> {
    let config = load_config(&a.config)?;
    let policies = render(&config)
        .map_err(|e| CliError::Input(format!("{}: {e}", Quoted(&a.config.display().to_string()))))?;
    let files = [("scp.json", &policies.scp, SCP_LIMIT), ("rcp.json", &policies.rcp, RCP_LIMIT)];
    write_all(&a.out, &files.map(|(name, text, _)| (name, text.as_str())))?;
    let mut written = Vec::new();
    for (name, text, limit) in files {
        let path = a.out.join(name);
        let size = text.chars().count();
        if !a.json {
            println!("wrote {} ({size} of {limit} characters as uploaded)", path.display());
        }
        written.push(Written {
            path: path.display().to_string(),
            characters: Some(size),
            limit: Some(limit),
            buckets: None,
        });
    }
    print_written(a.json, &written);
    Ok(ExitCode::SUCCESS)
}

/// The product templates as shipped; the bucket parameter's free-text pattern is replaced by the list.
const PRODUCTS: [(&str, &str); 3] = [
    ("open-log-access.yaml", include_str!("../../catalog/products/open-log-access.yaml")),
    ("close-log-access.yaml", include_str!("../../catalog/products/close-log-access.yaml")),
    ("request-log-access.yaml", include_str!("../../catalog/products/request-log-access.yaml")),
];
const BUCKET_PATTERN: &str = "    AllowedPattern: \"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$\"\n";

/// A non-technical operator picks the bucket from a list (named with account and Region in the
/// parameter's description) instead of typing its name; the catalog function checks it anyway.
pub fn render_products(a: &RenderPoliciesArgs) -> Result<ExitCode, CliError> {
    let config = load_config(&a.config)?;
    let mut values = String::from("    AllowedValues:\n");
    let mut places = Vec::new();
    for b in &config.buckets {
        // Bucket names are [a-z0-9.-]: safe in YAML without quotes, quoted anyway.
        values.push_str(&format!("      - \"{}\"\n", b.name));
        let region = b.region.as_deref().map(|r| format!(", {r}")).unwrap_or_default();
        places.push(format!("{} ({}{region})", b.name, config.account_label(&b.account)));
    }
    let mut rendered = Vec::new();
    for (name, template) in PRODUCTS {
        if !template.contains(BUCKET_PATTERN) {
            return Err(CliError::Input(format!(
                "catalog/products/{name}: the Bucket parameter is not where render-products expects it"
            )));
        }
        let text = template.replacen(BUCKET_PATTERN, &values, 1).replacen(
            "    Description: The protected log bucket to ",
            &format!(
                "    Description: {}. The protected log bucket to ",
                places.join("; ").replace(':', " ")
            ),
            1,
        );
        rendered.push((name, text));
    }
    let files: Vec<(&str, &str)> = rendered.iter().map(|(name, text)| (*name, text.as_str())).collect();
    write_all(&a.out, &files)?;
    let mut written = Vec::new();
    for (name, _) in &rendered {
        let path = a.out.join(name);
        if !a.json {
            println!("wrote {} ({} buckets to pick from)", path.display(), config.buckets.len());
        }
        let buckets = Some(config.buckets.len());
        written.push(Written { path: path.display().to_string(), characters: None, limit: None, buckets });
    }
    print_written(a.json, &written);
    Ok(ExitCode::SUCCESS)
}

/// `org render-* --json`: one entry per file written.
#[derive(Debug, Serialize)]
struct Written {
    path: String,
    /// A policy: its size as uploaded and AWS's limit.
    characters: Option<usize>,
    limit: Option<usize>,
    /// A product template: how many buckets it offers.
    buckets: Option<usize>,
}

#[derive(Debug, Serialize)]
struct RenderOutput<'a> {
    written: &'a [Written],
}

fn print_written(json: bool, written: &[Written]) {
    if json {
        println!("{}", serde_json::to_string_pretty(&RenderOutput { written }).unwrap_or_default());
    }
}

/// Writes `files` into the folder `out` (made if missing) all or none: each through a temporary
/// file, renamed into place only once every one is written, so that neither a reader nor a failure
/// leaves half a policy or one file of a pair; the temporary files of a failure are removed.
fn write_all(out: &Path, files: &[(&str, &str)]) -> Result<(), CliError> {
    let write_error = |path: &Path, source| CliError::Write { path: path.to_owned(), source };
    if out.exists() && !out.is_dir() {
        return Err(write_error(out, std::io::Error::other("not a folder")));
    }
    std::fs::create_dir_all(out).map_err(|source| write_error(out, source))?;
    let tmp = |name: &str| out.join(format!(".{name}.tmp"));
    let mut made = Vec::new();
    let result = files.iter().try_for_each(|(name, text)| {
        let path = tmp(name);
        // A folder in the way of the final name would fail the rename: found before anything moves.
        let target = out.join(name);
        if target.is_dir() {
            return Err(write_error(&target, std::io::Error::other("a folder is in the way")));
        }
        std::fs::write(&path, text).map_err(|source| write_error(&path, source))?;
        made.push(path);
        Ok(())
    });
    let result = result.and_then(|()| {
        files.iter().try_for_each(|(name, _)| {
            let target = out.join(name);
            std::fs::rename(tmp(name), &target).map_err(|source| write_error(&target, source))
        })
    });
    if result.is_err() {
        for path in made {
            let _ = std::fs::remove_file(path);
        }
    }
    result
}
