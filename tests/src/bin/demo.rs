//! `make demo`, second part: the whole story with the real binaries on a local AWS (moto). Each
//! email is printed as the stakeholder or the security team would read it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use e2e::{
    account_clients, cloudtrail_event, config, config_text, provision_config, role_env, root, Function, Moto,
    Stack, MALLORY, READER,
};
use serde_json::Value;

const BUCKET: &str = "acme-cloudtrail-logs";
/// The gate's role: it writes every policy people ask for, once it has recorded why.
const GATE: &str = "arn:aws:iam::111122223333:role/breakglass-gate";

struct Demo {
    stack: Stack,
    enforcer: Function,
    notifier: Function,
    /// Single-account part: the recorder (reads, refused reads, access reports).
    recorder: Option<Function>,
    timeline: Vec<String>,
}

impl Demo {
    /// CloudTrail reports `event`; the rules hand it to the enforcer and the notifier, and
    /// breakglass's own events to the notifier and the recorder; the mails are printed.
    async fn call(&mut self, event: Value) {
        self.stack.cloudtrail(&event).await;
        let mut delivered = self.stack.drain(&self.stack.s3_calls).await;
        delivered.extend(self.stack.drain(&self.stack.control_calls).await);
        let mut answers = Vec::new();
        for d in &delivered {
            answers.push(self.enforcer.invoke(d));
            let _ = self.notifier.invoke(d);
        }
        self.own_events().await;
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

    /// breakglass's own events (requests, decisions, remediations, reports) to the notifier, and
    /// to the recorder (closes start the wait for an access report), as the template's rules do.
    async fn own_events(&self) {
        for own in self.stack.drain(&self.stack.own_events).await {
            let _ = self.notifier.invoke(&own);
            if let Some(r) = &self.recorder {
                let _ = r.invoke(&own);
            }
        }
    }

    /// Runs `breakglass <args>` with the organisation config, as the administrative account's
    /// operator role (its session credentials, as after `aws sso login`).
    fn org_cli(&self, env: &[(String, String)], args: &[&str]) {
        cli(
            &root().join("examples/organisation.toml").display().to_string(),
            "examples/organisation.toml",
            env,
            args,
        );
    }

    /// Lets CloudTrail report the policy the gate just wrote (moto's S3 emits no CloudTrail events).
    async fn reported(&mut self, bucket: &str) {
        let live = self.stack.live_policy(bucket).await.unwrap();
        self.call(cloudtrail_event("PutBucketPolicy", bucket, GATE, "breakglass-gate", Some(&live), None))
            .await;
    }

    async fn put(&mut self, bucket: &str, role: &str, session: &str, policy: &str) {
        self.stack.clients.s3.put_bucket_policy().bucket(bucket).policy(policy).send().await.unwrap();
        self.call(cloudtrail_event("PutBucketPolicy", bucket, role, session, Some(policy), None)).await;
    }
}

/// Prints `breakglass <args> --config <shown>`, runs it with `config` and `env`, prints its output;
/// returns (exit code, stdout). A refusal (exit 2) is part of the story, not a failure of the demo.
fn cli(config: &str, shown_config: &str, env: &[(String, String)], args: &[&str]) -> (i32, String) {
    let shown: Vec<String> =
        args.iter().map(|a| if a.contains(' ') { format!("'{a}'") } else { (*a).to_owned() }).collect();
    println!("  $ breakglass {} --config {shown_config}", shown.join(" "));
    let out = std::process::Command::new(e2e::binary("breakglass"))
        .args(args)
        .args(["--config", config])
        .envs(env.iter().cloned())
        .output()
        .unwrap();
    let code = out.status.code().unwrap_or(-1);
    // `status` and `report` exit 3 to draw attention; refusals exit 2: both are what the demo shows.
    assert!(matches!(code, 0 | 2 | 3), "{}", String::from_utf8_lossy(&out.stderr));
    for line in
        String::from_utf8_lossy(&out.stdout).lines().chain(String::from_utf8_lossy(&out.stderr).lines())
    {
        println!("  {line}");
    }
    println!();
    (code, String::from_utf8_lossy(&out.stdout).into_owned())
}

fn step(title: &str) {
    println!("\n== {title}\n");
}

/// A read of `key` by the investigator's session (alice), now, as CloudTrail's data event.
fn read_event(n: usize, key: &str, bytes: u64, denied_as: Option<&str>) -> Value {
    let text =
        std::fs::read_to_string(root().join("core/tests/fixtures/data-events/getobject.json")).unwrap();
    let mut e: Value = serde_json::from_str(&text).unwrap();
    let now = breakglass_core::time::format_time(time::OffsetDateTime::now_utc());
    let d = &mut e["detail"];
    d["eventID"] = format!("demo-read-{n}").into();
    d["eventTime"] = now.clone().into();
    d["requestParameters"]["key"] = key.into();
    d["additionalEventData"]["bytesTransferredOut"] = bytes.into();
    if let Some(who) = denied_as {
        d["userIdentity"]["arn"] = format!("arn:aws:sts::111122223333:assumed-role/Admin/{who}").into();
        d["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] =
            "arn:aws:iam::111122223333:role/Admin".into();
        d["userIdentity"]["sessionContext"].as_object_mut().map(|m| m.remove("sourceIdentity"));
        d["sourceIPAddress"] = "203.0.113.99".into();
        d["errorCode"] = "AccessDenied".into();
        d["errorMessage"] = "Access Denied".into();
    }
    e["time"] = now.into();
    e
}

/// moto's default account, where the single-account part's stack and the people's role sessions are.
const MOTO_ACCOUNT: &str = "123456789012";

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let moto = Moto::start_for("demo");
    // The example config as it is, two-person rule on; on moto the people's sessions live in moto's
    // default account, so the demo's copy names that account in `approvers`.
    let text = config_text().replace(
        "arn:{{partition}}:sts::{{account}}:assumed-role/breakglass-operator/*",
        &format!("arn:{{{{partition}}}}:sts::{MOTO_ACCOUNT}:assumed-role/breakglass-operator/*"),
    );
    let dir = root().join("target/e2e-configs");
    std::fs::create_dir_all(&dir).unwrap();
    let config_path = dir.join("demo.toml").display().to_string();
    std::fs::write(&config_path, &text).unwrap();
    let stack = provision_config(&moto.endpoint, text).await;
    println!(
        "Local AWS (moto) at {}: log buckets with object lock and ClosedAccess, an SNS topic with",
        moto.endpoint
    );
    println!("two subscriber queues in place of email, and the EventBridge rules of template.yaml.");
    println!("The config is examples/breakglass.toml: the two-person rule is on. Alice and Bob are two");
    println!("people of the log team, each in their own session of the breakglass-operator role.");
    let mut env = stack.function_env();
    env.push(("BREAKGLASS_REPORT_DELAY_SECONDS".into(), "0".into()));
    env.push(("BREAKGLASS_DIGEST_SLOT_SECONDS".into(), "1".into()));
    let enforcer = Function::spawn("enforcer", &stack.function_env());
    let notifier = Function::spawn("notifier", &stack.function_env());
    let recorder = Function::spawn("recorder", &env);
    // The gate behind its function URL: people's only way to open, close or decide.
    let gate = stack.gate(None).await;
    let operator = format!("arn:aws:iam::{MOTO_ACCOUNT}:role/breakglass-operator");
    let mut alice = role_env(&moto.endpoint, &operator, "alice").await;
    let mut bob = role_env(&moto.endpoint, &operator, "bob").await;
    alice.push(gate.env());
    bob.push(gate.env());
    let mut demo = Demo { stack, enforcer, notifier, recorder: Some(recorder), timeline: Vec::new() };
    let run = |who: &[(String, String)], args: &[&str]| cli(&config_path, "breakglass.toml", who, args);

    step("1. Alice asks for access for an investigator, for two hours: nothing opens yet (two-person rule)");
    let (_, out) = run(
        &alice,
        &[
            "request",
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
        ],
    );
    let id = out
        .split_whitespace()
        .find(|w| w.len() == 12 && w.chars().all(|c| c.is_ascii_hexdigit()))
        .unwrap()
        .to_owned();
    demo.own_events().await;
    demo.print_mail().await;

    step("2. Alice approves her own request: refused, recorded, mailed as an attempt");
    run(&alice, &["approve", &id, "--bucket", BUCKET]);
    demo.own_events().await;
    demo.print_mail().await;

    step("3. Bob approves: the gate records the approval first, then opens the bucket as asked");
    let (code, _) = run(&bob, &["approve", &id, "--bucket", BUCKET]);
    assert_eq!(code, 0, "bob's approval");
    demo.own_events().await;
    demo.print_mail().await;
    demo.reported(BUCKET).await;

    step("4. The investigator reads three log files; an administrator of the logging account tries to read one");
    for (n, (key, bytes)) in [
        ("AWSLogs/111122223333/CloudTrail/eu-central-1/2026/11/23/signin-0001.json.gz", 48_211),
        ("AWSLogs/111122223333/CloudTrail/eu-central-1/2026/11/23/signin-0002.json.gz", 51_874),
        ("AWSLogs/111122223333/CloudTrail/eu-central-1/2026/11/24/signin-0001.json.gz", 39_006),
    ]
    .into_iter()
    .enumerate()
    {
        demo.stack.cloudtrail(&read_event(n, key, bytes, None)).await;
    }
    demo.stack
        .cloudtrail(&read_event(
            9,
            "AWSLogs/111122223333/CloudTrail/eu-central-1/2026/11/24/signin-0001.json.gz",
            0,
            Some("mallory"),
        ))
        .await;
    let recorder = demo.recorder.as_ref().unwrap();
    let answers = demo.stack.record_reads(recorder).await;
    let sum = |k: &str| answers.iter().map(|a| a[k].as_u64().unwrap_or(0)).sum::<u64>();
    println!(
        "  recorder: {} read(s) recorded in {} record(s), {} refused read(s) recorded one by one (CloudTrail data events of the trail breakglass-reads)",
        sum("reads"),
        sum("records") - sum("denied"),
        sum("denied")
    );

    step("5. An administrator writes an OpenAccess on another bucket directly, not through the gate");
    let flow = config().bucket("acme-vpc-flow-logs").unwrap().clone();
    let grant = canonical_policies::OpenGrant {
        readers: [READER.to_owned()].into(),
        expiry: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
    };
    let direct = flow.render_open(&grant, time::OffsetDateTime::now_utc()).unwrap().to_pretty_json();
    demo.put("acme-vpc-flow-logs", MALLORY, "mallory", &direct).await;

    step("6. Alice closes access");
    run(
        &alice,
        &["close", "--bucket", BUCKET, "--reason", "INC-42 investigated: logs exported to the case file"],
    );
    demo.reported(BUCKET).await;

    step("7. Once CloudTrail has delivered the last reads (10 minutes; here at once): the access report, and the digest of refused reads");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let schedule = serde_json::json!({"version": "0", "id": "demo", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": MOTO_ACCOUNT, "time": breakglass_core::time::format_time(time::OffsetDateTime::now_utc()),
        "region": "eu-central-1", "resources": [], "detail": {}});
    let _ = demo.recorder.as_ref().unwrap().invoke(&schedule);
    demo.own_events().await;
    demo.print_mail().await;

    step("8. An intruder writes a permissive policy that calls itself ClosedAccess");
    let tampered = std::fs::read_to_string(root().join("examples/policies/tampered-closed.json")).unwrap();
    demo.put(BUCKET, MALLORY, "mallory", &tampered).await;

    step("9. Someone deletes the bucket policy");
    demo.stack.clients.s3.delete_bucket_policy().bucket(BUCKET).send().await.unwrap();
    demo.call(cloudtrail_event("DeleteBucketPolicy", BUCKET, MALLORY, "mallory", None, None)).await;

    step("10. A denied attempt to open the bucket");
    let open_policy = config()
        .bucket(BUCKET)
        .unwrap()
        .render_open(&grant, time::OffsetDateTime::now_utc())
        .unwrap()
        .to_pretty_json();
    demo.call(cloudtrail_event(
        "PutBucketPolicy",
        BUCKET,
        MALLORY,
        "mallory",
        Some(&open_policy),
        Some("AccessDenied"),
    ))
    .await;

    step("11. Around the glass: an insider adds a lifecycle rule that expires the logs after one day");
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
    demo.call(cloudtrail_event("PutBucketLifecycle", BUCKET, MALLORY, "mallory", None, None)).await;

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

    step("12. The audit trail (S3 Object Lock, compliance mode, every record signed): history and report");
    let anyone = e2e::aws_env(&demo.stack.endpoint);
    run(&anyone, &["history", "--bucket", BUCKET]);
    run(&anyone, &["report", "--bucket", BUCKET]);

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
    let moto = Moto::start_for("demo");
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
    // The gate, as its own role: it reaches the logging accounts through their member roles.
    let gate_creds = role_env(&moto.endpoint, &as_role("breakglass-gate"), "breakglass-gate").await;
    let mut gate_env = with(&env, &gate_creds);
    gate_env.push(("BREAKGLASS_GATE_ROLES".into(), "breakglass-operator".into()));
    let gate = e2e::GateUrl::start(&moto.endpoint, Function::spawn("gate", &gate_env), None);
    env = role_env(&moto.endpoint, &as_role("breakglass-operator"), "alice@acme.example").await;
    env.push(gate.env());
    let mut demo = Demo { stack, enforcer, notifier, recorder: None, timeline: Vec::new() };

    step("13. One view of every account and Region (the operator in the administrative account)");
    demo.org_cli(&env, &["status", "--all"]);

    step("14. An administrator of logging-dev opens the dev bucket to everyone; the central enforcer reverts it there");
    let dev = account_clients(&moto.endpoint, DEV, "eu-central-1").await;
    let tampered = std::fs::read_to_string(root().join("examples/policies/tampered-closed.json"))
        .unwrap()
        .replace("acme-cloudtrail-logs", DEV_BUCKET);
    dev.s3.put_bucket_policy().bucket(DEV_BUCKET).policy(&tampered).send().await.unwrap();
    let event = cloudtrail_event("PutBucketPolicy", DEV_BUCKET, MALLORY, "mallory", Some(&tampered), None);
    demo.forwarded(in_account(event, DEV, "eu-central-1")).await;

    step(
        "15. A forged event: logging-prod's record names logging-dev's bucket. breakglass acts in no account",
    );
    let event = cloudtrail_event("PutBucketPolicy", DEV_BUCKET, MALLORY, "mallory", Some(&tampered), None);
    demo.forwarded(in_account(event, PROD, "eu-central-1")).await;

    step("16. The operator opens and closes a bucket in logging-prod: the gate writes it, through the member role");
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

    step("17. The audit trail in the administrative account, keyed by account and bucket");
    demo.org_cli(&env, &["history", "--bucket", "acme-prod-cloudtrail-logs"]);
    drop(moto);
}
