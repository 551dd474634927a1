//! `make demo`, second part: the whole story with the real binaries on a local AWS (moto). Each
//! email is printed as the stakeholder or the security team would read it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use e2e::{cloudtrail_event, config, provision, root, Function, Moto, Stack};
use serde_json::Value;

const BUCKET: &str = "acme-cloudtrail-logs";
const OPERATOR: &str = "arn:aws:iam::111122223333:role/breakglass-operator";
const MALLORY: &str = "arn:aws:iam::111122223333:role/mallory";
const READER: &str = "arn:aws:iam::111122223333:role/investigations/LogInvestigator";

struct Demo {
    stack: Stack,
    enforcer: Function,
    notifier: Function,
    timeline: Vec<String>,
}

impl Demo {
    async fn call(&mut self, what: &str, event: Value) {
        self.stack.cloudtrail(&event).await;
        let answers = self.stack.route(&self.enforcer, &self.notifier).await;
        let outcome = answers
            .iter()
            .map(|a| match a {
                Ok(v) => {
                    let policy = v["buckets"]
                        .as_array()
                        .and_then(|b| b.first())
                        .map_or("not remediated (attempt)".to_owned(), |b| {
                            format!("enforcer: {}", b["outcome"].as_str().unwrap_or("?"))
                        });
                    match v["repairs"].as_array().map(Vec::len).unwrap_or(0) {
                        0 => policy,
                        n => format!("{policy}, {n} setting(s) put back"),
                    }
                }
                Err(e) => format!("enforcer error: {e}"),
            })
            .collect::<Vec<_>>()
            .join(", ");
        let d = &event["detail"];
        self.timeline.push(format!(
            "{}  {:<27} {:<45} {}",
            d["eventTime"].as_str().unwrap_or("?"),
            d["eventName"].as_str().unwrap_or("?"),
            d["userIdentity"]["arn"].as_str().unwrap_or("?"),
            if d["errorCode"].is_string() {
                format!("refused by AWS ({})", d["errorCode"].as_str().unwrap_or(""))
            } else {
                outcome
            }
        ));
        let _ = what;
        self.print_mail().await;
    }

    /// Prints each message once, with everyone it reached (SNS filter policies decide who gets what).
    async fn print_mail(&self) {
        let mut mails: Vec<(Value, Vec<&str>)> = Vec::new();
        for (queue, who) in
            [(&self.stack.stakeholders, "stakeholders"), (&self.stack.security, "security team")]
        {
            for (_, doc) in self.stack.deliveries(queue).await {
                match mails
                    .iter_mut()
                    .find(|(d, _)| d["subject"] == doc["subject"] && d["text"] == doc["text"])
                {
                    Some((_, to)) => to.push(who),
                    None => mails.push((doc, vec![who])),
                }
            }
        }
        for (doc, to) in mails {
            println!("  ┌─ To: {}", to.join(", "));
            println!("  │ Subject: {}", doc["subject"].as_str().unwrap_or("?"));
            println!("  │");
            for line in doc["text"].as_str().unwrap_or("").lines() {
                println!("  │ {}", line.trim_end());
            }
            println!("  └─");
        }
    }

    /// Runs `breakglass <args>` as the operator against the local AWS, then lets CloudTrail report the
    /// policy it wrote (moto's S3 emits no CloudTrail events).
    async fn operator(&mut self, args: &[&str]) {
        let config = root().join("examples/breakglass.toml").display().to_string();
        let shown: Vec<String> =
            args.iter().map(|a| if a.contains(' ') { format!("'{a}'") } else { (*a).to_owned() }).collect();
        println!("  $ breakglass {}   (moto answers every caller as user/moto)", shown.join(" "));
        let out = std::process::Command::new(e2e::binary("breakglass"))
            .args(args)
            .args(["--config", &config])
            .envs(e2e::aws_env(&self.stack.endpoint))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            println!("  {line}");
        }
        println!();
        let live = self.stack.live_policy(BUCKET).await.unwrap();
        self.call(
            args[0],
            cloudtrail_event("PutBucketPolicy", BUCKET, OPERATOR, "alice@acme.example", Some(&live), None),
        )
        .await;
    }

    async fn put(&mut self, what: &str, role: &str, policy: &str) {
        self.stack.clients.s3.put_bucket_policy().bucket(BUCKET).policy(policy).send().await.unwrap();
        self.call(what, cloudtrail_event("PutBucketPolicy", BUCKET, role, session(role), Some(policy), None))
            .await;
    }
}

fn session(role: &str) -> &'static str {
    if role == OPERATOR {
        "alice@acme.example"
    } else {
        "mallory"
    }
}

fn step(title: &str) {
    println!("\n== {title}\n");
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let Some(moto) = Moto::start() else {
        eprintln!("moto is not installed: run scripts/venv.sh (make demo does)");
        std::process::exit(1);
    };
    let stack = provision(&moto.endpoint).await;
    println!(
        "Local AWS (moto) at {}: log buckets with object lock and ClosedAccess, an SNS topic with",
        moto.endpoint
    );
    println!("two subscriber queues in place of email, and the EventBridge rules of template.yaml.");
    let enforcer = Function::spawn("enforcer", &stack.function_env());
    let notifier = Function::spawn("notifier", &stack.function_env());
    let mut demo = Demo { stack, enforcer, notifier, timeline: Vec::new() };

    step("1. The operator breaks the glass: opens access for an investigator, for two hours");
    demo.operator(&[
        "open",
        "--bucket",
        BUCKET,
        "--reason",
        "Incident INC-42: suspicious console sign-ins",
        "--ticket",
        "INC-42",
        "--duration",
        "2h",
        "--reader",
        READER,
    ])
    .await;
    let open = demo.stack.live_policy(BUCKET).await.unwrap();

    step("2. An intruder writes a permissive policy that calls itself ClosedAccess");
    let tampered = std::fs::read_to_string(root().join("examples/policies/tampered-closed.json")).unwrap();
    demo.put("tamper", MALLORY, &tampered).await;

    step("3. Someone deletes the bucket policy");
    demo.stack.clients.s3.delete_bucket_policy().bucket(BUCKET).send().await.unwrap();
    demo.call("delete", cloudtrail_event("DeleteBucketPolicy", BUCKET, MALLORY, "mallory", None, None)).await;

    step("4. A denied attempt to open the bucket");
    demo.call(
        "attempt",
        cloudtrail_event("PutBucketPolicy", BUCKET, MALLORY, "mallory", Some(&open), Some("AccessDenied")),
    )
    .await;

    step("5. Around the glass: an insider adds a lifecycle rule that expires the logs after one day");
    let s3 = demo.stack.clients.s3.clone();
    let lifecycle = aws_sdk_s3::types::BucketLifecycleConfiguration::builder()
        .rules(
            aws_sdk_s3::types::LifecycleRule::builder()
                .id("tidy-up")
                .status(aws_sdk_s3::types::ExpirationStatus::Enabled)
                .filter(aws_sdk_s3::types::LifecycleRuleFilter::builder().prefix("").build())
                .expiration(aws_sdk_s3::types::LifecycleExpiration::builder().days(1).build())
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    s3.put_bucket_lifecycle_configuration()
        .bucket(BUCKET)
        .lifecycle_configuration(lifecycle)
        .send()
        .await
        .unwrap();
    demo.call("lifecycle", cloudtrail_event("PutBucketLifecycle", BUCKET, MALLORY, "mallory", None, None))
        .await;

    step("6. The operator closes access");
    demo.operator(&[
        "close",
        "--bucket",
        BUCKET,
        "--reason",
        "INC-42 investigated: logs exported to the case file",
    ])
    .await;

    step("Where the buckets stand now");
    for line in &demo.timeline {
        println!("  {line}");
    }
    println!();
    let cfg = config();
    for b in &cfg.buckets {
        let live = demo.stack.live_policy(&b.name).await;
        let c = canonical_policies::classify(
            b,
            live.as_deref().map(str::as_bytes),
            time::OffsetDateTime::now_utc(),
        );
        println!("  {:<24} {}", b.name, c);
        assert!(
            matches!(c.state, canonical_policies::State::Closed),
            "the demo must end with every bucket closed"
        );
    }

    step("7. The audit trail (S3 Object Lock, compliance mode, every record signed): breakglass history");
    let config_path = root().join("examples/breakglass.toml").display().to_string();
    println!("  $ breakglass history --config examples/breakglass.toml --bucket {BUCKET}");
    let out = std::process::Command::new(e2e::binary("breakglass"))
        .args(["history", "--config", &config_path, "--bucket", BUCKET])
        .envs(e2e::aws_env(&demo.stack.endpoint))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        println!("  {line}");
    }
}
