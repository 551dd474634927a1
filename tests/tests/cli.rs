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

#[tokio::test(flavor = "current_thread")]
async fn open_and_close_round_trip_with_the_request_emails() {
    let Some(moto) = Moto::start() else { return };
    let stack = provision(&moto.endpoint).await;
    let notifier = e2e::Function::spawn("notifier", &stack.function_env());
    let config = root().join("examples/breakglass.toml").display().to_string();
    let reader = "arn:aws:iam::111122223333:role/investigations/LogInvestigator";
    let base = ["--config", config.as_str(), "--bucket", "acme-cloudtrail-logs"];

    // Refused: no ticket (usage), too long, a reader the config does not allow.
    let (code, _, err) =
        breakglass(&moto.endpoint, &[&["open"][..], &base, &["--reason", "x", "--duration", "1h"]].concat());
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = breakglass(
        &moto.endpoint,
        &[&["open"][..], &base, &["--reason", "x", "--ticket", "T", "--duration", "2d"]].concat(),
    );
    assert_eq!((code, err.contains("more than 12h")), (2, true), "{err}");
    let (code, _, err) = breakglass(
        &moto.endpoint,
        &[
            &["open"][..],
            &base,
            &[
                "--reason",
                "x",
                "--ticket",
                "T",
                "--duration",
                "1h",
                "--reader",
                "arn:aws:iam::111122223333:role/mallory",
            ],
        ]
        .concat(),
    );
    assert_eq!((code, err.lines().count()), (2, 1), "{err}");
    assert!(stack.drain(&stack.own_events).await.is_empty(), "refusals publish nothing");

    let (code, out, err) = breakglass(
        &moto.endpoint,
        &[
            &["open"][..],
            &base,
            &["--reason", "incident 42", "--ticket", "INC-42", "--duration", "4h", "--reader", reader],
        ]
        .concat(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("opened acme-cloudtrail-logs until "), "{out}");
    let (code, out, _) = breakglass(&moto.endpoint, &["status", "--config", &config]);
    assert_eq!(code, 0);
    assert!(out.contains("open until"), "{out}");

    let (code, out, err) =
        breakglass(&moto.endpoint, &[&["close"][..], &base, &["--reason", "done", "--json"]].concat());
    assert_eq!(code, 0, "{err}");
    let closed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(closed["action"], "close");
    assert_eq!(closed["previous"]["readers"], serde_json::json!([reader]));

    // The request events reach the notifier by the template's rule; stakeholders read why.
    for event in stack.drain(&stack.own_events).await {
        notifier.invoke(&event).unwrap();
    }
    let mails = stack.deliveries(&stack.stakeholders).await;
    let subjects: Vec<&str> = mails.iter().filter_map(|(_, d)| d["subject"].as_str()).collect();
    assert_eq!(subjects.len(), 2, "{subjects:?}");
    assert!(subjects[0].contains("access OPENED until") && subjects[0].contains("(INC-42)"), "{subjects:?}");
    assert!(mails[0].1["text"].as_str().unwrap().contains("Why\n  incident 42"));
    assert!(subjects[1].ends_with("access CLOSED"), "{subjects:?}");
}
