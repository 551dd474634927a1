//! `breakglass org …`: the organisation's own guards.

use std::path::Path;
use std::process::ExitCode;

use breakglass_core::organisation::{render, RCP_LIMIT, SCP_LIMIT};
use canonical_policies::Quoted;

use crate::input::{load_config, CliError};
use crate::RenderPoliciesArgs;

/// Renders both policies first and writes only when both are within their limits: a refused
/// config leaves no file (and no half of a pair) behind.
pub fn render_policies(a: &RenderPoliciesArgs) -> Result<ExitCode, CliError> {
    let config = load_config(&a.config)?;
    let policies = render(&config)
        .map_err(|e| CliError::Input(format!("{}: {e}", Quoted(&a.config.display().to_string()))))?;
    std::fs::create_dir_all(&a.out).map_err(|source| CliError::Read { path: a.out.clone(), source })?;
    for (name, text, limit) in
        [("scp.json", &policies.scp, SCP_LIMIT), ("rcp.json", &policies.rcp, RCP_LIMIT)]
    {
        let path = a.out.join(name);
        write_whole(&path, text)?;
        println!("wrote {} ({} of {limit} characters as uploaded)", path.display(), text.chars().count());
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes through a temporary file and a rename, so a reader never sees half a policy.
fn write_whole(path: &Path, text: &str) -> Result<(), CliError> {
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|source| CliError::Read { path: path.to_owned(), source })
}
