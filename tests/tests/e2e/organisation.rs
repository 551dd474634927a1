//! Organisation mode end to end on moto: moto's default account plays the administrative account
//! (functions, bus, topics, audit trail, Service Catalog stacks), three logging accounts in two
//! Regions hold the buckets. The real `enforcer` and `catalog` binaries act in the logging accounts
//! only through AssumeRole into `breakglass-member` (moto answers with credentials of that account);
//! everything is read back with the logging account's own credentials. A recording proxy between
//! the functions and moto counts what went over the wire.

use breakglass_config::Config;
use canonical_policies::{classify, State};
use e2e::{
    account_clients, cloudtrail_event, made_in, provision_config, role_env, root, Clients, FaultProxy,
    Function, Moto, ResponseCatcher, OPEN_PRODUCT,
};
use serde_json::{json, Value};

const ADMIN: &str = "999900000000";
/// The organisation's management account where one is made (never the administrative account).
const MANAGEMENT: &str = "000011112222";
/// Organizations' Region.
const REGION_US: &str = "us-east-1";
const PROD: &str = "111100000000";
const DEV: &str = "222200000000";
const IRELAND: &str = "333300000000";
const DEV_BUCKET: &str = "acme-dev-cloudtrail-logs";
const IRELAND_BUCKET: &str = "acme-ireland-alb-logs";
const OPERATOR: &str = "arn:aws:sts::999900000000:assumed-role/LogTeam/alice@example.com";

fn org_text() -> String {
    std::fs::read_to_string(root().join("examples/organisation.toml")).unwrap()
}

fn sweep() -> Value {
    json!({"version": "0", "id": "sweep", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": ADMIN, "region": "eu-central-1", "resources": [], "detail": {}})
}

/// A CloudTrail-shaped S3 call made in `account` (as the member rule forwards it to the central bus:
/// the envelope and the record both name the account the call was made in).
fn s3_call_in(account: &str, region: &str, bucket: &str, policy: &str) -> Value {
    let role = format!("arn:aws:iam::{account}:role/Admin");
    made_in(
        cloudtrail_event("PutBucketPolicy", bucket, &role, "mallory", Some(policy), None),
        account,
        region,
    )
}

async fn live_policy(c: &Clients, bucket: &str) -> Option<String> {
    c.s3.get_bucket_policy().bucket(bucket).send().await.ok().and_then(|o| o.policy)
}

fn state_of(config: &Config, bucket: &str, policy: Option<&str>) -> State {
    let b = config.bucket(bucket).unwrap();
    classify(b, policy.map(str::as_bytes), time::OffsetDateTime::now_utc()).state
}

const TAMPERED: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"ClosedAccess","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::acme-dev-cloudtrail-logs/*"}]}"#;

#[tokio::test(flavor = "current_thread")]
async fn the_administrative_account_guards_three_logging_accounts_in_two_regions() {
    let Some(moto) = Moto::start() else { return };
    let stack = provision_config(&moto.endpoint, org_text()).await;
    let config = Config::from_toml(&stack.config_text).unwrap();
    // Under IAM as the administrative and member stacks, the SCP and the RCP render it; the
    // recording proxy in front of it counts what the functions sent.
    let iam = stack.iam(&moto.endpoint);
    let proxy = FaultProxy::recording(&iam.endpoint);
    // Each function runs as its execution role of the administrative account, talking through the proxy.
    let through_proxy = |mut env: Vec<(String, String)>| {
        for (k, v) in env.iter_mut() {
            match k.as_str() {
                "AWS_ENDPOINT_URL" => *v = proxy.endpoint.clone(),
                "BREAKGLASS_CATALOG_PRINCIPALS" => *v = format!("arn:aws:iam::{ADMIN}:role/LogTeam"),
                _ => {}
            }
        }
        env
    };
    let enforcer =
        Function::spawn("enforcer", &through_proxy(iam.function_env(stack.function_env(), "enforcer").await));
    let catalog =
        Function::spawn("catalog", &through_proxy(iam.function_env(stack.function_env(), "catalog").await));
    let dev = account_clients(&moto.endpoint, DEV, "eu-central-1").await;
    let ireland = account_clients(&moto.endpoint, IRELAND, "eu-west-1").await;

    // Each bucket exists only in its own account: the administrative account has none of them.
    let admin_buckets = stack.clients.s3.list_buckets().send().await.unwrap();
    assert!(admin_buckets.buckets().iter().all(
        |b| !b.name().unwrap_or("").starts_with("acme-") || b.name() == Some("acme-breakglass-org-audit")
    ));

    // A sweep reads every bucket in its account and Region, writes nothing.
    let summary = enforcer.invoke(&sweep()).unwrap();
    let outcomes: Vec<(&str, &str)> = summary["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["bucket"].as_str().unwrap(), b["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(outcomes.len(), config.buckets.len(), "{summary}");
    assert!(outcomes.iter().all(|(_, o)| *o == "lawful"), "{summary}");
    assert_eq!(
        summary["repairs"],
        json!([]),
        "investigator trust and bucket settings as configured: {summary}"
    );
    assert_eq!(proxy.count("PUT /acme-"), 0, "a clean sweep writes nothing");
    // The sentinel read each account's investigator role (its trust) through that account's role.
    assert_eq!(proxy.count("Action=GetRole&Version=2010-05-08&RoleName=LogInvestigator"), 3);
    // The operators look through each logging account's reader role, under IAM: every bucket read,
    // nothing written.
    let operator = iam.person_env("breakglass-operator", "alice").await;
    let org_config = root().join("examples/organisation.toml").display().to_string();
    for args in [&["status", "--config", &org_config][..], &["enforce", "--config", &org_config, "--dry-run"]]
    {
        let (code, out, err) = e2e::breakglass_as(&operator, &iam.endpoint, args);
        assert_eq!(code, 0, "{args:?}: {out}{err}");
        assert_eq!(out.lines().filter(|l| l.contains("acme-")).count(), config.buckets.len(), "{out}");
    }

    // A tampered policy in the dev account is reverted there by the central enforcer.
    dev.s3.put_bucket_policy().bucket(DEV_BUCKET).policy(TAMPERED).send().await.unwrap();
    let r = enforcer.invoke(&s3_call_in(DEV, "eu-central-1", DEV_BUCKET, TAMPERED)).unwrap();
    assert_eq!(r["buckets"][0]["outcome"], "closed", "{r}");
    assert_eq!(state_of(&config, DEV_BUCKET, live_policy(&dev, DEV_BUCKET).await.as_deref()), State::Closed);
    // (The proxy sees the enforcer's calls: its read of the policy and its one write.)
    assert_eq!(proxy.count(&format!("PUT /{DEV_BUCKET}/?policy")), 1);
    assert!(proxy.count(&format!("GET /{DEV_BUCKET}/?policy")) >= 2);

    // The settings around the policy, weakened in the dev account, put back there through the
    // member role: the public-access block, object ownership, versioning, a lifecycle rule that
    // expires the logs, replication out of the account.
    {
        use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
        use breakglass_core::ports::BucketSettings as _;
        let s3 = &dev.s3;
        s3.delete_public_access_block().bucket(DEV_BUCKET).send().await.unwrap();
        s3.delete_bucket_ownership_controls().bucket(DEV_BUCKET).send().await.unwrap();
        // Copied out first (replication needs versioning on), then versioning suspended.
        e2e::replicate_out(s3, DEV_BUCKET, &format!("arn:aws:iam::{DEV}:role/r")).await;
        let suspended = VersioningConfiguration::builder().status(BucketVersioningStatus::Suspended).build();
        s3.put_bucket_versioning()
            .bucket(DEV_BUCKET)
            .versioning_configuration(suspended)
            .send()
            .await
            .unwrap();
        e2e::expire_after(s3, DEV_BUCKET, "tidy-up", 1).await;
        let admin = format!("arn:aws:iam::{DEV}:role/Admin");
        for name in [
            "DeleteBucketPublicAccessBlock",
            "DeleteBucketOwnershipControls",
            "PutBucketVersioning",
            "PutBucketLifecycle",
        ] {
            let mut e = cloudtrail_event(name, DEV_BUCKET, &admin, "mallory", None, None);
            if name == "PutBucketVersioning" {
                e["detail"]["requestParameters"]["VersioningConfiguration"] = json!({"Status": "Suspended"});
            }
            enforcer.invoke(&made_in(e, DEV, "eu-central-1")).unwrap();
        }
        let store = breakglass_aws::S3Store::new(s3.clone());
        assert_eq!(store.get_versioning(DEV_BUCKET).await.unwrap().as_deref(), Some("Enabled"));
        assert!(store.get_lifecycle(DEV_BUCKET).await.unwrap().is_empty(), "the expiring rule is gone");
        assert!(store.get_replication(DEV_BUCKET).await.unwrap().is_empty(), "replication is gone");
        let block = s3.get_public_access_block().bucket(DEV_BUCKET).send().await.unwrap();
        assert_eq!(block.public_access_block_configuration.unwrap().block_public_policy, Some(true));
        let ownership = s3.get_bucket_ownership_controls().bucket(DEV_BUCKET).send().await.unwrap();
        assert_eq!(
            ownership.ownership_controls.unwrap().rules[0].object_ownership.as_str(),
            "BucketOwnerEnforced"
        );
    }

    // A forged event: account PROD names the dev account's bucket. Nothing is read or written in any
    // account; the security team is alerted; the tampering stays until the sweep (level-triggered).
    dev.s3.put_bucket_policy().bucket(DEV_BUCKET).policy(TAMPERED).send().await.unwrap();
    let (gets, puts) = (proxy.count("GET /acme-"), proxy.count("PUT /acme-"));
    let r = enforcer.invoke(&s3_call_in(PROD, "eu-central-1", DEV_BUCKET, TAMPERED)).unwrap();
    assert_eq!(r["buckets"], json!([]), "{r}");
    assert_eq!(r["misrouted"][0]["bucket"], DEV_BUCKET, "{r}");
    assert_eq!(r["misrouted"][0]["bucket_account"], DEV, "{r}");
    assert_eq!(
        (proxy.count("GET /acme-"), proxy.count("PUT /acme-")),
        (gets, puts),
        "the forged event touched a bucket"
    );
    assert_eq!(live_policy(&dev, DEV_BUCKET).await.as_deref(), Some(TAMPERED));
    let own: Vec<String> = stack
        .drain(&stack.own_events)
        .await
        .iter()
        .map(|e| e["detail-type"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(own.iter().any(|t| t == "breakglass misrouted"), "{own:?}");
    let r = enforcer.invoke(&sweep()).unwrap();
    assert!(r["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .any(|b| b["bucket"] == DEV_BUCKET && b["outcome"] == "closed"));
    assert_eq!(state_of(&config, DEV_BUCKET, live_policy(&dev, DEV_BUCKET).await.as_deref()), State::Closed);

    // An investigator role's trust changed in the dev account: restored there, and only there; the
    // role of the same name in the prod account is not the dev account's event's to touch.
    let prod = account_clients(&moto.endpoint, PROD, "eu-central-1").await;
    let evil = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444400000000:root"},"Action":"sts:AssumeRole"}]}"#;
    for c in [&dev, &prod] {
        c.iam
            .update_assume_role_policy()
            .role_name("LogInvestigator")
            .policy_document(evil)
            .send()
            .await
            .unwrap();
    }
    let mut e = e2e::control_event(
        "UpdateAssumeRolePolicy",
        "iam.amazonaws.com",
        json!({"roleName": "LogInvestigator", "policyDocument": evil}),
        &format!("arn:aws:iam::{DEV}:role/Admin"),
        "mallory",
    );
    e["account"] = json!(DEV);
    e["detail"]["recipientAccountId"] = json!(DEV);
    e["detail"]["userIdentity"]["accountId"] = json!(DEV);
    let r = enforcer.invoke(&e).unwrap();
    assert_eq!(r["repairs"].as_array().map(Vec::len), Some(1), "{r}");
    let trust = |c: &Clients| {
        let iam = c.iam.clone();
        async move {
            let role = iam.get_role().role_name("LogInvestigator").send().await.unwrap().role.unwrap();
            role.assume_role_policy_document.unwrap_or_default()
        }
    };
    assert!(!trust(&dev).await.contains("444400000000"), "restored in the dev account");
    assert!(trust(&prod).await.contains("444400000000"), "the prod account's role was not touched");

    // Open and close through the Service Catalog custom resource in the administrative account: the
    // Ireland account's bucket in eu-west-1 changes, read back with that account's credentials.
    let cfn = ResponseCatcher::start(200);
    let reader = format!("arn:aws:iam::{IRELAND}:role/investigations/LogInvestigator");
    let props = json!({"ServiceToken": "x", "Action": "open", "Bucket": IRELAND_BUCKET, "Reason": "incident 7",
        "Ticket": "INC-7", "Duration": "2h", "Readers": reader});
    let sc = stack.catalog_stack(OPEN_PRODUCT, OPERATOR, &props).await;
    let request = |kind: &str, physical: Option<&str>| {
        let mut e = json!({"RequestType": kind, "ServiceToken": "arn:aws:lambda:eu-central-1:999900000000:function:breakglass-catalog",
            "ResponseURL": cfn.url, "StackId": sc, "RequestId": format!("req-{kind}"), "LogicalResourceId": "LogAccess",
            "ResourceType": "Custom::LogAccess", "ResourceProperties": props});
        if let Some(p) = physical {
            e["PhysicalResourceId"] = json!(p);
        }
        e
    };
    catalog.invoke(&request("Create", None)).unwrap();
    let answer = cfn.take().remove(0).2;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    let State::Open(grant) =
        state_of(&config, IRELAND_BUCKET, live_policy(&ireland, IRELAND_BUCKET).await.as_deref())
    else {
        panic!("the Ireland bucket is not open")
    };
    assert_eq!(grant.readers.iter().collect::<Vec<_>>(), vec![&reader]);
    let physical = answer["PhysicalResourceId"].as_str().unwrap().to_owned();
    catalog.invoke(&request("Delete", Some(&physical))).unwrap();
    assert_eq!(cfn.take().remove(0).2["Status"], "SUCCESS");
    assert_eq!(
        state_of(&config, IRELAND_BUCKET, live_policy(&ireland, IRELAND_BUCKET).await.as_deref()),
        State::Closed
    );

    // Every S3 call names the owner it expects (the bucket's account in the config) and is signed
    // for the bucket's Region (from the config, not guessed or redirected).
    for b in &config.buckets {
        let calls = proxy.with(&format!(" /{}/?", b.name));
        assert!(!calls.is_empty(), "{}", b.name);
        let owner = format!("x-amz-expected-bucket-owner: {}", b.account);
        let scope = format!("/{}/s3/aws4_request", b.region.as_deref().unwrap());
        for call in calls {
            let call = call.to_ascii_lowercase();
            assert!(call.contains(&owner) && call.contains(&scope), "{owner} or {scope} missing:\n{call}");
        }
    }

    // AssumeRole once per (function, account) for the whole run, not once per event or Region: the
    // enforcer handled 5 invocations over 3 accounts (prod in two Regions), the catalog 2 in one.
    assert_eq!(proxy.count("RoleSessionName=breakglass-enforcer"), 3);
    assert_eq!(proxy.count("RoleSessionName=breakglass-catalog"), 1);
    assert_eq!(proxy.count("Action=AssumeRole"), 4);
    for account in [PROD, DEV, IRELAND] {
        let role = format!("arn%3Aaws%3Aiam%3A%3A{account}%3Arole%2Fbreakglass-member");
        assert_eq!(proxy.count(&role), 1 + usize::from(account == IRELAND), "{account}");
    }
}

/// Organisation mode's config lives in a versioned S3 object of the administrative account: read at
/// cold start (missing → the function does not start), re-checked by ETag, a broken new version
/// leaves the last good config in force, a good one takes effect at the next event, and every audit
/// record names the SHA-256 of the config it was decided under.
#[tokio::test(flavor = "current_thread")]
async fn the_config_object_is_reread_and_a_broken_one_changes_nothing() {
    use sha2::Digest as _;
    let Some(moto) = Moto::start() else { return };
    let text = org_text();
    let stack = provision_config(&moto.endpoint, text.clone()).await;
    let s3 = &stack.clients.s3;
    let config_bucket = e2e::config_bucket(s3, ADMIN).await;
    // As the gate writes it: sealed with the records' key.
    let (clients, at) = (&stack.clients, config_bucket.as_str());
    let put = |body: String| async move { e2e::put_sealed_config(clients, at, &body).await };
    put(text.clone()).await;
    let url = format!("s3://{config_bucket}/breakglass.toml");
    // The functions read the object, not the environment.
    let from_object = |mut env: Vec<(String, String)>, url: &str| {
        env.retain(|(k, _)| k != "BREAKGLASS_CONFIG");
        env.push(("BREAKGLASS_CONFIG_S3".into(), url.to_owned()));
        env.push(("BREAKGLASS_CONFIG_REFRESH_SECONDS".into(), "1".into()));
        env
    };
    // Under IAM, as the administrative and member stacks grant it.
    let iam = stack.iam(&moto.endpoint);
    let enforcer_env = iam.function_env(stack.function_env(), "enforcer").await;
    let notifier_env = iam.function_env(stack.function_env(), "notifier").await;

    // No object: the function does not start (fail closed: Lambda reports the failed init, the
    // alarms fire), and says which object it could not read.
    let out = std::process::Command::new(e2e::binary("enforcer"))
        .env_clear()
        .envs(from_object(enforcer_env.clone(), &format!("s3://{config_bucket}/missing.toml")))
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
        .output()
        .unwrap();
    let stderr = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("cannot read the config `s3://") && stderr.contains("missing.toml"), "{stderr}");
    // IAM refuses a key the role may not read, as S3 answers a missing one the role could not list.
    iam.expect_refusals();
    let refused_missing = |iam: &e2e::IamProxy| {
        let refused = iam.refused();
        assert!(refused.len() == 1 && refused[0].contains("/missing.toml"), "{refused:#?}");
    };
    refused_missing(&iam);

    let enforcer = Function::spawn("enforcer", &from_object(enforcer_env.clone(), &url));
    let notifier = Function::spawn("notifier", &from_object(notifier_env, &url));
    let swept = |r: Value| -> Vec<String> {
        r["buckets"].as_array().unwrap().iter().map(|b| b["bucket"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(swept(enforcer.invoke(&sweep()).unwrap()).len(), 4);

    // A broken new version: the last good config stays in force.
    put("[organisation]\nid = ".into()).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(swept(enforcer.invoke(&sweep()).unwrap()).len(), 4);

    // A good new version (the Ireland account's bucket no longer protected): in force at once.
    let smaller = text
        .replace(
            "[[bucket]]\nname = \"acme-ireland-alb-logs\"\naccount = \"333300000000\"\nregion = \"eu-west-1\"\n",
            "",
        )
        .replace(
            "[[investigator]]\nrole = \"arn:aws:iam::333300000000:role/investigations/LogInvestigator\"\nassumable_by = [\"arn:aws:iam::999900000000:role/LogTeamInvestigators\"]\n",
            "",
        );
    Config::from_toml(&smaller).unwrap();
    assert_ne!(smaller, text);
    put(smaller.clone()).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let buckets = swept(enforcer.invoke(&sweep()).unwrap());
    assert_eq!(buckets.len(), 3, "{buckets:?}");
    assert!(!buckets.contains(&IRELAND_BUCKET.to_owned()));

    // Written past the gate (no seal), however well-formed: refused by every function, the sealed
    // config stays in force, and the enforcer alerts on both channels within one refresh, naming
    // the version; once (issue 21, attack 3).
    stack.drain(&stack.alarms).await;
    stack.drain(&stack.own_events).await;
    let forged = s3
        .put_object()
        .bucket(&config_bucket)
        .key("breakglass.toml")
        .body(text.clone().into_bytes().into())
        .send()
        .await
        .unwrap()
        .version_id
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(swept(enforcer.invoke(&sweep()).unwrap()).len(), 3);
    let config_alerts = |alarms: Vec<Value>, own: Vec<Value>| {
        let alarms: Vec<String> = alarms
            .iter()
            .filter(|m| {
                m["Subject"].as_str().is_some_and(|s| s.contains("config object written past the gate"))
            })
            .map(|m| m["Message"].as_str().unwrap_or_default().to_owned())
            .collect();
        let repairs: Vec<&Value> =
            own.iter().filter(|e| e["detail"]["kind"] == json!("config")).map(|e| &e["detail"]).collect();
        (alarms, repairs.into_iter().cloned().collect::<Vec<Value>>())
    };
    let (alarms, repairs) =
        config_alerts(stack.drain(&stack.alarms).await, stack.drain(&stack.own_events).await);
    assert_eq!(alarms.len(), 1, "{alarms:?}");
    assert!(alarms[0].contains(&forged), "{}", alarms[0]);
    assert_eq!(repairs.len(), 1, "{repairs:?}");
    assert!(repairs[0]["what"].as_str().unwrap().contains(&format!("version {forged}")), "{}", repairs[0]);
    assert_eq!(repairs[0]["outcome"], json!("refused"));
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(swept(enforcer.invoke(&sweep()).unwrap()).len(), 3);
    let (alarms, repairs) =
        config_alerts(stack.drain(&stack.alarms).await, stack.drain(&stack.own_events).await);
    assert!(alarms.is_empty() && repairs.is_empty(), "alerted twice: {alarms:?} {repairs:?}");
    // A cold start after it: the newest sealed version is in force, and the refusal is alerted on.
    let restarted = Function::spawn("enforcer", &from_object(enforcer_env.clone(), &url));
    assert_eq!(swept(restarted.invoke(&sweep()).unwrap()).len(), 3);
    let (alarms, _) = config_alerts(stack.drain(&stack.alarms).await, stack.drain(&stack.own_events).await);
    assert_eq!(alarms.len(), 1, "{alarms:?}");
    drop(restarted);
    // Every other function's cold start takes the newest sealed version too, each as its own role.
    for name in ["notifier", "recorder", "catalog", "gate"] {
        let mut env = from_object(iam.function_env(stack.function_env(), name).await, &url);
        env.push(("BREAKGLASS_GATE_ROLES".into(), "breakglass-operator".into()));
        Function::spawn(name, &env).api.wait_ready();
    }
    // The gate reads the config in force (the sealed one) to diff a proposal against, and writes
    // over the forged version, conditional on its ETag: the forged one is superseded, not deleted.
    let gate_view = breakglass_aws::ConfigObject::sealed(
        &e2e::adapter_clients(&moto.endpoint, ADMIN, "eu-central-1").await,
        &config_bucket,
        "breakglass.toml",
        e2e::RECORD_KEY,
        "gate",
    );
    let (in_force, etag) = gate_view.get().await.unwrap().unwrap();
    assert_eq!(in_force, smaller, "the gate diffs against the sealed config, not the forged one");
    let forged_etag =
        s3.head_object().bucket(&config_bucket).key("breakglass.toml").send().await.unwrap().e_tag.unwrap();
    assert_eq!(etag.as_deref(), Some(forged_etag.as_str()));
    assert!(gate_view.put(&smaller, Some("\"stale\"")).await.is_err(), "a stale ETag writes nothing");
    gate_view.put(&smaller, etag.as_deref()).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(swept(enforcer.invoke(&sweep()).unwrap()).len(), 3);
    let (alarms, repairs) =
        config_alerts(stack.drain(&stack.alarms).await, stack.drain(&stack.own_events).await);
    assert!(alarms.is_empty() && repairs.is_empty(), "the gate's write is sealed: {alarms:?} {repairs:?}");
    // The notifier refuses it too: its records still name the sealed config (below).

    // The record of a change names the hash of the config in force.
    let dev = account_clients(&moto.endpoint, DEV, "eu-central-1").await;
    dev.s3.put_bucket_policy().bucket(DEV_BUCKET).policy(TAMPERED).send().await.unwrap();
    notifier.invoke(&s3_call_in(DEV, "eu-central-1", DEV_BUCKET, TAMPERED)).unwrap();
    // Keyed by account and bucket: a bucket name can change owners over time.
    let records = stack.audit_records(&format!("{DEV}/{DEV_BUCKET}")).await;
    let expected = breakglass_core::trail::audit::hex(&sha2::Sha256::digest(smaller.as_bytes()));
    assert!(!records.is_empty());
    for (key, r) in &records {
        assert_eq!(r["config_sha256"], json!(expected), "{key}");
        assert_eq!(r["account"], json!(DEV), "{key}");
    }
    refused_missing(&iam);
}

/// `breakglass config push` and `config approve`: the organisation's accounts checked with AWS
/// Organizations, the difference shown, the change proposed through the gate and the security team
/// told, the object written by the gate only once another person approved it; a config naming an
/// account outside the organisation, or another organisation, is refused with one line and nothing
/// is proposed (issue 21, attack 3).
#[tokio::test(flavor = "current_thread")]
async fn config_push_checks_the_organisation_and_tells_the_security_team() {
    let Some(moto) = Moto::start() else { return };
    let dir = std::env::temp_dir().join(format!("breakglass-push-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // The deployment in the organisation's management account, which no SCP binds: `config seed`
    // refuses it with one line before it reads or writes anything (issue 22).
    let organizations = |conf: &aws_config::SdkConfig| {
        aws_sdk_organizations::Client::new(
            &conf.to_builder().region(aws_sdk_s3::config::Region::new(REGION_US)).build(),
        )
    };
    let as_management = organizations(&e2e::account_config(&moto.endpoint, ADMIN, REGION_US).await);
    let all = aws_sdk_organizations::types::OrganizationFeatureSet::All;
    as_management.create_organization().feature_set(all.clone()).send().await.unwrap();
    let seed_as = |who: &[(String, String)], path: &std::path::Path, to: &str| {
        let out = std::process::Command::new(e2e::binary("breakglass"))
            .args(["config", "seed", "--config", &path.display().to_string(), "--to", to])
            .env_clear()
            .envs(who.iter().cloned())
            .output()
            .unwrap();
        e2e::outcome(&out)
    };
    let management_deployer =
        role_env(&moto.endpoint, &format!("arn:aws:iam::{ADMIN}:role/breakglass-deployment"), "deployer")
            .await;
    let in_management = dir.join("in-management.toml");
    std::fs::write(&in_management, org_text()).unwrap();
    let (code, _, stderr) =
        seed_as(&management_deployer, &in_management, "s3://breakglass-config-x/breakglass.toml");
    assert_eq!((code, stderr.lines().count()), (2, 1), "{stderr}");
    assert!(stderr.contains("account `999900000000` is the management account of organization"), "{stderr}");

    // Then as it should be: the organisation's management account is another; the administrative
    // account is a member, a delegated administrator (the proxy gives moto what AWS does for one).
    // moto gives created accounts random IDs: the config takes the IDs the organisation has.
    let org_client = organizations(&e2e::account_config(&moto.endpoint, MANAGEMENT, REGION_US).await);
    let org = org_client.create_organization().feature_set(all).send().await.unwrap().organization.unwrap();
    let org_id = org.id.unwrap();
    let admin_id = e2e::create_accounts(&org_client, &["breakglass-admin"]).await.remove(0);
    let ids = e2e::create_accounts(&org_client, &["logging-prod", "logging-dev", "logging-ireland"]).await;
    let admin = account_clients(&moto.endpoint, &admin_id, "eu-central-1").await;
    let text = org_text()
        .replace("o-exampleorg1", &org_id)
        .replace(ADMIN, &admin_id)
        .replace(PROD, &ids[0])
        .replace(DEV, &ids[1])
        .replace(IRELAND, &ids[2]);
    let stack = provision_config(&moto.endpoint, text.clone()).await;
    // The operators, the gate and the notifier under IAM, as the stacks grant it.
    let iam = stack.iam(&moto.endpoint);
    let delegated = FaultProxy::delegated_administrator(&iam.endpoint, MANAGEMENT);
    let through_delegation = |mut env: Vec<(String, String)>| {
        for (k, v) in env.iter_mut() {
            if k == "AWS_ENDPOINT_URL" {
                *v = delegated.endpoint.clone();
            }
        }
        env
    };
    let env = through_delegation(iam.person_env("breakglass-operator", "alice@example.com").await);
    let config_bucket = e2e::config_bucket(&admin.s3, &admin_id).await;
    let to = format!("s3://{config_bucket}/breakglass.toml");
    let live = || async {
        match admin.s3.get_object().bucket(&config_bucket).key("breakglass.toml").send().await {
            Ok(o) => Some(String::from_utf8(o.body.collect().await.unwrap().into_bytes().to_vec()).unwrap()),
            Err(_) => None,
        }
    };

    // The first config is the deployment's to write, sealed as the gate seals (`config seed`); the
    // gate reads the config in force. Never over a config: every later change is the gate's.
    let deployer = through_delegation(iam.person_env("breakglass-deployment", "deployer").await);
    let seed_path = dir.join("seed.toml");
    std::fs::write(&seed_path, &text).unwrap();
    let seed = || seed_as(&deployer, &seed_path, &to);
    let (code, stdout, stderr) = seed();
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.starts_with(&format!("seeded {to}")), "{stdout}");
    let (code, _, stderr) = seed();
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("holds a config already"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    // The gate, as its role of the administrative account, on the config object.
    let mut gate_env = iam.function_env(stack.function_env(), "gate").await;
    gate_env.retain(|(k, _)| k != "BREAKGLASS_CONFIG");
    gate_env.push(("BREAKGLASS_CONFIG_S3".into(), to.clone()));
    gate_env.push(("BREAKGLASS_GATE_ROLES".into(), "breakglass-operator".into()));
    let gate = e2e::GateUrl::start(
        &moto.endpoint,
        Function::spawn("gate", &gate_env),
        Some(iam.url_check("breakglass-gate")),
    );
    let env: Vec<(String, String)> = env.iter().cloned().chain([gate.env()]).collect();
    let mut bob = through_delegation(iam.person_env("breakglass-operator", "bob@example.com").await);
    bob.push(gate.env());
    let cli = |who: &[(String, String)], args: &[&str]| {
        let out = std::process::Command::new(e2e::binary("breakglass"))
            .args(args)
            .env_clear()
            .envs(who.iter().cloned())
            .output()
            .unwrap();
        e2e::outcome(&out)
    };
    let push_with = |name: &str, body: &str, flags: &[&str]| {
        let path = dir.join(name);
        std::fs::write(&path, body).unwrap();
        let path = path.display().to_string();
        cli(&env, &[&["config", "push", "--config", path.as_str(), "--to", to.as_str()][..], flags].concat())
    };
    let push = |name: &str, body: &str| push_with(name, body, &["--yes"]);
    // `config push` proposes; Bob approves what it printed.
    let approve = |stdout: &str| {
        let id = stdout.split("proposal ").nth(1).unwrap().split_whitespace().next().unwrap().to_owned();
        let path = dir.join("approve.toml");
        std::fs::write(&path, &text).unwrap();
        cli(&bob, &["config", "approve", id.as_str(), "--config", &path.display().to_string()])
    };

    // A change: proposed by Alice (nothing written, the security team told, with the change in
    // words), approved by Bob (the gate writes it and tells them again).
    let first = text.replace("max_open_duration = \"12h\"", "max_open_duration = \"10h\"");
    assert_ne!(first, text);
    let (code, stdout, stderr) = push("first.toml", &first);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("+ max_open_duration = \"10h\"") && stdout.contains("proposed s3://"),
        "{stdout}"
    );
    assert_eq!(live().await.as_deref(), Some(text.as_str()), "a proposal writes nothing");
    let own = stack.drain(&stack.own_events).await;
    assert_eq!(own.len(), 1, "{own:?}");
    assert_eq!(
        (own[0]["detail-type"].as_str(), own[0]["detail"]["state"].as_str()),
        (Some("breakglass config"), Some("proposed"))
    );
    assert_eq!(
        own[0]["detail"]["by"],
        json!(format!("arn:aws:sts::{admin_id}:assumed-role/breakglass-operator/alice@example.com"))
    );
    let notifier = iam.spawn(&stack, "notifier").await;
    notifier.invoke(&own[0]).unwrap();
    let mails = stack.deliveries(&stack.security).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(
        mails[0].1["subject"].as_str().unwrap().contains("breakglass config change PROPOSED"),
        "{mails:?}"
    );
    assert!(
        mails[0].1["text"].as_str().unwrap().contains("max_open_duration (12h to 10h) changed"),
        "{mails:?}"
    );
    assert!(stack.deliveries(&stack.stakeholders).await.is_empty(), "a config change is the security team's");
    // Alice cannot approve her own proposal.
    let id = stdout.split("proposal ").nth(1).unwrap().split_whitespace().next().unwrap().to_owned();
    let (code, _, stderr) = cli(
        &env,
        &["config", "approve", id.as_str(), "--config", &dir.join("first.toml").display().to_string()],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("another person"), "{stderr}");
    let (code, stdout, stderr) = approve(&stdout);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("approved proposal "), "{stdout}");
    assert_eq!(live().await.as_deref(), Some(first.as_str()));
    let own = stack.drain(&stack.own_events).await;
    assert_eq!(own.len(), 1, "{own:?}");
    notifier.invoke(&own[0]).unwrap();
    let mails = stack.deliveries(&stack.security).await;
    assert!(mails[0].1["subject"].as_str().unwrap().contains("breakglass config changed"), "{mails:?}");
    assert!(mails[0].1["text"].as_str().unwrap().contains("bob@example.com approved"), "{mails:?}");
    let records = stack.audit_records("_config").await;
    let steps: Vec<&str> = records.iter().filter_map(|(_, r)| r["action"].as_str()).collect();
    assert_eq!(steps, ["proposed", "approved"], "{records:?}");
    let text = first;

    // The same again: nothing to do.
    let (code, stdout, _) = push("same.toml", &text);
    assert_eq!((code, stdout.contains("unchanged")), (0, true), "{stdout}");

    // A change shows only its lines.
    let longer = text.replace("max_open_duration = \"4h\"", "max_open_duration = \"2h\"");
    // Not on a terminal and not `--yes`: refused before anything is read; `--dry-run`: shown, not
    // uploaded, not announced.
    let (code, _, stderr) = push_with("unasked.toml", &longer, &[]);
    assert_eq!((code, stderr.lines().count()), (2, 1), "{stderr}");
    assert!(stderr.contains("pass --yes"), "{stderr}");
    let (code, stdout, stderr) = push_with("dry.toml", &longer, &["--dry-run"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("max_open_duration (4h to 2h) changed")
            && stdout.contains("dry run: nothing uploaded"),
        "{stdout}"
    );
    let (code, stdout, stderr) = push_with("dry.toml", &longer, &["--dry-run", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let dry: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(dry["outcome"], "dry-run", "{dry}");
    assert!(dry["diff"].as_str().unwrap().starts_with("- max_open_duration"), "{dry}");
    assert_eq!(live().await.as_deref(), Some(text.as_str()), "a dry run uploads nothing");
    assert!(stack.drain(&stack.own_events).await.is_empty(), "a dry run announces nothing");
    let (code, stdout, stderr) = push("shorter.toml", &longer);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("- max_open_duration = \"4h\"\n+ max_open_duration = \"2h\"\n"), "{stdout}");
    assert_eq!(approve(&stdout).0, 0);

    // An account outside the organisation, another organisation, a policy over its limit: refused
    // with one line naming the culprit, nothing uploaded, nothing announced.
    let outsider = longer.replace(&ids[2], "444400000000");
    let other_org = longer.replace(&org_id, "o-otherorg123");
    let teams: Vec<String> = (0..120).map(|i| format!("\"arn:aws:iam::{admin_id}:role/team-{i}\"")).collect();
    let too_large = longer.replacen(
        &format!("assumable_by = [\"arn:aws:iam::{admin_id}:role/LogTeamInvestigators\"]"),
        &format!("assumable_by = [{}]", teams.join(", ")),
        1,
    );
    for (name, body, culprit) in [
        ("outsider.toml", &outsider, "account `444400000000` is not an active member of organization"),
        ("other-org.toml", &other_org, "names organization `o-otherorg123`"),
        ("too-large.toml", &too_large, "over AWS's limit of 5120"),
        ("broken.toml", &"[organisation]\nid = 5\n".to_owned(), "broken.toml"),
    ] {
        let (code, _, stderr) = push(name, body);
        assert_eq!(code, 2, "{name}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{name}: {stderr}");
        assert!(stderr.contains(culprit), "{name}: {stderr}");
        assert_eq!(live().await.as_deref(), Some(longer.as_str()), "{name}: nothing uploaded");
    }
    assert_eq!(
        stack.drain(&stack.own_events).await.len(),
        2,
        "only the good change was proposed and approved"
    );

    // Accounts selected by OU: the Ireland account is no longer listed by ID, only its OU is; the
    // push checks that the account is in it, and refuses once it has been moved out.
    let root = org_client.list_roots().send().await.unwrap().roots.unwrap().remove(0).id.unwrap();
    let ou = e2e::create_ou(&org_client, &root, "logging").await;
    let move_to = |from: String, to: String| {
        org_client.move_account().account_id(&ids[2]).source_parent_id(from).destination_parent_id(to).send()
    };
    move_to(root.clone(), ou.clone()).await.unwrap();
    let by_ou = longer.replace(
        &format!(
            "[[account]]\nid = \"{}\"\nalias = \"logging-ireland\"\nregions = [\"eu-west-1\"]\n",
            ids[2]
        ),
        &format!("[[ou]]\nid = \"{ou}\"\nregions = [\"eu-west-1\"]\n"),
    );
    assert_ne!(by_ou, longer);
    let (code, stdout, stderr) = push("by-ou.toml", &by_ou);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains(&format!("+ id = \"{ou}\"")), "{stdout}");
    assert_eq!(approve(&stdout).0, 0);
    move_to(ou.clone(), root.clone()).await.unwrap();
    let later = by_ou.replace("max_open_duration = \"2h\"", "max_open_duration = \"3h\"");
    let (code, _, stderr) = push("moved-out.toml", &later);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "bucket `acme-ireland-alb-logs`: account `{}` is in no `[[ou]]` with region `eu-west-1`",
            ids[2]
        )),
        "{stderr}"
    );
    assert_eq!(live().await.as_deref(), Some(by_ou.as_str()), "nothing uploaded");

    // Breaking the glass in a logging account, under IAM: the operator asks the gate, the gate
    // writes the dev account's bucket policy through that account's member role, and closes it.
    let in_force = dir.join("by-ou.toml").display().to_string();
    let bucket = "acme-dev-cloudtrail-logs";
    let reader = format!("arn:aws:iam::{}:role/investigations/LogInvestigator", ids[1]);
    let dev = account_clients(&moto.endpoint, &ids[1], "eu-central-1").await;
    let open =
        ["open", "--config", &in_force, "--bucket", bucket, "--reason", "incident 9", "--ticket", "SEC-9"];
    let (code, stdout, stderr) = cli(&env, &[&open[..], &["--duration", "1h", "--reader", &reader]].concat());
    assert_eq!(code, 0, "{stdout}{stderr}");
    let policy = live_policy(&dev, bucket).await.unwrap_or_default();
    assert!(policy.contains("OpenAccess") && policy.contains(&reader), "{policy}");
    let close = ["close", "--config", &in_force, "--bucket", bucket, "--reason", "done"];
    let (code, stdout, stderr) = cli(&env, &close);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(live_policy(&dev, bucket).await.unwrap_or_default().contains("ClosedAccess"));
    let _ = std::fs::remove_dir_all(&dir);
}
