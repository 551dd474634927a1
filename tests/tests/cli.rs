//! `breakglass status` and `breakglass enforce` against moto over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::process::Command;

use e2e::{aws_env, binary, provision, root, Moto};

fn breakglass(endpoint: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(binary("breakglass"))
        .args(args)
        .args(["--endpoint-url", endpoint])
        .envs(aws_env(endpoint))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[tokio::test(flavor = "current_thread")]
async fn status_shows_drift_and_enforce_repairs_it() {
    let Some(moto) = Moto::start() else { return };
    let stack = provision(&moto.endpoint).await;
    let config = root().join("examples/breakglass.toml").display().to_string();

    let (code, out, err) = breakglass(&moto.endpoint, &["status", "--config", &config]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.lines().all(|l| l.contains("closed")), "{out}");

    let tampered = std::fs::read_to_string(root().join("examples/policies/tampered-closed.json")).unwrap();
    stack
        .clients
        .s3
        .put_bucket_policy()
        .bucket("acme-cloudtrail-logs")
        .policy(tampered)
        .send()
        .await
        .unwrap();
    stack.clients.s3.delete_bucket_policy().bucket("acme-vpc-flow-logs").send().await.unwrap();
    let (code, out, _) = breakglass(&moto.endpoint, &["status", "--config", &config]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("WARNING: first statement calls itself `ClosedAccess`"), "{out}");
    assert!(out.contains("the bucket has no policy"), "{out}");

    let (code, out, err) = breakglass(&moto.endpoint, &["enforce", "--config", &config, "--dry-run"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"dry-run\""), "{out}");
    let (code, _, _) = breakglass(&moto.endpoint, &["status", "--config", &config]);
    assert_eq!(code, 3, "a dry run writes nothing");

    let (code, out, err) = breakglass(&moto.endpoint, &["enforce", "--config", &config]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.matches("\"closed\"").count(), 2, "{out}");
    let (code, out, _) = breakglass(&moto.endpoint, &["status", "--config", &config, "--json"]);
    assert_eq!(code, 0, "{out}");

    // AWS unreachable: exit 1 (retry later), one line.
    let (code, _, err) = breakglass("http://127.0.0.1:9", &["status", "--config", &config]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}
