//! `make demo`, second part: the whole story with the real binaries on a local AWS (moto). Each
//! email is printed as the stakeholder or the security team would read it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use e2e::{
    account_clients, cloudtrail_event, config, provision, provision_config, role_env, root, Function, Moto,
    Stack,
};
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

    /// Organisation mode: hands one event to the central functions as the member rule forwards it to
    /// the central bus, then breakglass's own events to the notifier, and prints the mails.
    async fn forwarded(&mut self, event: Value) {
        let r = self.enforcer.invoke(&event);
        let _ = self.notifier.invoke(&event);
        self.own_events().await;
        match r {
            Ok(v) => {
                for b in v["buckets"].as_array().into_iter().flatten() {
                    println!(
                        "  enforcer: {} {}",
                        b["bucket"].as_str().unwrap_or("?"),
                        b["outcome"].as_str().unwrap_or("?")
                    );
                }
                for m in v["misrouted"].as_array().into_iter().flatten() {
                    println!(
                        "  enforcer: REFUSED an event from {} naming {} (account {}): nothing read or written",
                        m["event_accounts"], m["bucket"].as_str().unwrap_or("?"), m["bucket_account"].as_str().unwrap_or("?")
                    );
                }
            }
            Err(e) => println!("  enforcer error: {e}"),
        }
        println!();
        self.print_mail().await;
    }

    /// breakglass's own events (requests, remediations, refusals) to the notifier, as the template's
    /// rule on the central bus does.
    async fn own_events(&self) {
        for own in self.stack.drain(&self.stack.own_events).await {
            let _ = self.notifier.invoke(&own);
        }
    }

    /// Runs `breakglass <args>` with the organisation config, as the administrative account's
    /// operator role (its session credentials, as after `aws sso login`).
    fn org_cli(&self, env: &[(String, String)], args: &[&str]) {
        cli("organisation.toml", env.to_vec(), args, " --config examples/organisation.toml");
    }

    /// Runs `breakglass <args>` as the operator against the local AWS, then lets CloudTrail report the
    /// policy it wrote (moto's S3 emits no CloudTrail events).
    async fn operator(&mut self, args: &[&str]) {
        cli(
            "breakglass.toml",
            e2e::aws_env(&self.stack.endpoint),
            args,
            "   (moto answers every caller as user/moto)",
        );
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

/// Prints and runs `breakglass <args> --config examples/<config>` with `env`, and prints its output.
fn cli(config: &str, env: Vec<(String, String)>, args: &[&str], note: &str) {
    let path = root().join("examples").join(config).display().to_string();
    let shown: Vec<String> =
        args.iter().map(|a| if a.contains(' ') { format!("'{a}'") } else { (*a).to_owned() }).collect();
    println!("  $ breakglass {}{note}", shown.join(" "));
    let out = std::process::Command::new(e2e::binary("breakglass"))
        .args(args)
        .args(["--config", &path])
        .envs(env)
        .output()
        .unwrap();
    // `status` exits 3 when a bucket is not lawful: that is what it shows, not a failure of the demo.
    assert!(out.status.success() || args[0] == "status", "{}", String::from_utf8_lossy(&out.stderr));
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        println!("  {line}");
    }
    println!();
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

    drop(demo);
    drop(moto);
    organisation_part().await;
}

/// An S3 call made in `account`, as the member stack's rule forwards it: envelope and record name
/// the account the call was made in.
fn in_account(mut e: Value, account: &str, region: &str) -> Value {
    let d = &mut e["detail"];
    d["recipientAccountId"] = account.into();
    d["awsRegion"] = region.into();
    d["userIdentity"]["accountId"] = account.into();
    d["userIdentity"]["arn"] = format!("arn:aws:sts::{account}:assumed-role/Admin/mallory").into();
    d["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] =
        format!("arn:aws:iam::{account}:role/Admin").into();
    d["resources"][0]["accountId"] = account.into();
    e["account"] = account.into();
    e["region"] = region.into();
    e
}

/// Part three: one administrative account guards the logging accounts of an organisation.
async fn organisation_part() {
    const ADMIN: &str = "999900000000";
    const DEV: &str = "222200000000";
    const PROD: &str = "111100000000";
    const DEV_BUCKET: &str = "acme-dev-cloudtrail-logs";
    println!("\n\n== Part three: organisation mode (examples/organisation.toml)");
    println!(
        "\nThe functions run in the administrative account {ADMIN}; the buckets are in the logging accounts\n\
         logging-prod ({PROD}, two Regions), logging-dev ({DEV}) and logging-ireland. breakglass reaches a\n\
         bucket only through that account's role breakglass-member (organisation/member.yaml), which trusts\n\
         only breakglass's roles of the administrative account."
    );
    let moto = Moto::start().unwrap();
    let text = std::fs::read_to_string(root().join("examples/organisation.toml")).unwrap();
    let stack = provision_config(&moto.endpoint, text).await;
    let as_role = |name: &str| format!("arn:aws:iam::{ADMIN}:role/{name}");
    let mut env = stack.function_env();
    let enforcer_env = role_env(&moto.endpoint, &as_role("breakglass-enforcer"), "breakglass-enforcer").await;
    let notifier_env = role_env(&moto.endpoint, &as_role("breakglass-notifier"), "breakglass-notifier").await;
    let with = |base: &[(String, String)], creds: &[(String, String)]| -> Vec<(String, String)> {
        base.iter()
            .map(|(k, v)| {
                (k.clone(), creds.iter().find(|(c, _)| c == k).map_or_else(|| v.clone(), |(_, c)| c.clone()))
            })
            .collect()
    };
    let enforcer = Function::spawn("enforcer", &with(&env, &enforcer_env));
    let notifier = Function::spawn("notifier", &with(&env, &notifier_env));
    env = role_env(&moto.endpoint, &as_role("breakglass-operator"), "alice@acme.example").await;
    let mut demo = Demo { stack, enforcer, notifier, timeline: Vec::new() };

    step("8. One view of every account and Region (the operator in the administrative account)");
    demo.org_cli(&env, &["status", "--all"]);

    step("9. An administrator of logging-dev opens the dev bucket to everyone; the central enforcer reverts it there");
    let dev = account_clients(&moto.endpoint, DEV, "eu-central-1").await;
    let tampered = std::fs::read_to_string(root().join("examples/policies/tampered-closed.json"))
        .unwrap()
        .replace("acme-cloudtrail-logs", DEV_BUCKET);
    dev.s3.put_bucket_policy().bucket(DEV_BUCKET).policy(&tampered).send().await.unwrap();
    let event = cloudtrail_event("PutBucketPolicy", DEV_BUCKET, MALLORY, "mallory", Some(&tampered), None);
    demo.forwarded(in_account(event, DEV, "eu-central-1")).await;

    step(
        "10. A forged event: logging-prod's record names logging-dev's bucket. breakglass acts in no account",
    );
    let event = cloudtrail_event("PutBucketPolicy", DEV_BUCKET, MALLORY, "mallory", Some(&tampered), None);
    demo.forwarded(in_account(event, PROD, "eu-central-1")).await;

    step("11. The operator opens and closes a bucket in logging-prod, through its member role");
    demo.org_cli(
        &env,
        &[
            "open",
            "--account",
            PROD,
            "--bucket",
            "acme-prod-cloudtrail-logs",
            "--reason",
            "Audit AUD-7: access review",
            "--ticket",
            "AUD-7",
            "--duration",
            "1h",
        ],
    );
    demo.own_events().await;
    demo.print_mail().await;
    println!();
    demo.org_cli(
        &env,
        &["close", "--account", PROD, "--bucket", "acme-prod-cloudtrail-logs", "--reason", "AUD-7 done"],
    );
    demo.own_events().await;
    demo.print_mail().await;
    println!();
    demo.org_cli(&env, &["status", "--all"]);

    step("12. The audit trail in the administrative account, keyed by account and bucket");
    demo.org_cli(&env, &["history", "--bucket", "acme-prod-cloudtrail-logs"]);
    drop(moto);
}
