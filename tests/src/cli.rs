//! The `breakglass` CLI run against moto.

use std::process::Command;

use crate::*;

/// Runs the `breakglass` CLI against `endpoint`: (exit code, stdout, stderr).
pub fn breakglass(endpoint: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(binary("breakglass"))
        .args(args)
        .args(["--endpoint-url", endpoint])
        .envs(aws_env(endpoint))
        .output()
        .unwrap();
    outcome(&out)
}

/// Runs the `breakglass` CLI against `endpoint` with the environment `env` (e.g. a person's role
/// session from [`role_env`]): (exit code, stdout, stderr).
pub fn breakglass_as(env: &[(String, String)], endpoint: &str, args: &[&str]) -> (i32, String, String) {
    breakglass_at(&binary("breakglass"), env, endpoint, args)
}

/// [`breakglass_as`] with the CLI at `cli` (a build of another commit, for a benchmark).
pub fn breakglass_at(
    cli: &std::path::Path,
    env: &[(String, String)],
    endpoint: &str,
    args: &[&str],
) -> (i32, String, String) {
    let out = Command::new(cli)
        .args(args)
        .args(["--endpoint-url", endpoint])
        .envs(env.iter().cloned())
        .output()
        .unwrap();
    outcome(&out)
}

/// A finished command's exit code (-1 when killed by a signal), stdout and stderr.
pub fn outcome(out: &std::process::Output) -> (i32, String, String) {
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// A peer tool the benchmarks compare with: from the variable `var`, else `.venv-peer/bin/<name>`
/// (`scripts/venv.sh peer` installs them); `None` when it is not there.
pub fn peer_tool(var: &str, name: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os(var)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root().join(".venv-peer/bin").join(name));
    path.exists().then_some(path)
}
