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
    std::fs::create_dir_all(&a.out).map_err(|source| CliError::Read { path: a.out.clone(), source })?;
    let mut written = Vec::new();
    for (name, text, limit) in
        [("scp.json", &policies.scp, SCP_LIMIT), ("rcp.json", &policies.rcp, RCP_LIMIT)]
    {
        let path = a.out.join(name);
        write_whole(&path, text)?;
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
    std::fs::create_dir_all(&a.out).map_err(|source| CliError::Read { path: a.out.clone(), source })?;
    let mut written = Vec::new();
    for (name, text) in rendered {
        let path = a.out.join(name);
        write_whole(&path, &text)?;
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

/// Writes through a temporary file and a rename, so a reader never sees half a policy.
fn write_whole(path: &Path, text: &str) -> Result<(), CliError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|source| CliError::Read { path: path.to_owned(), source })
}
