//! Discovery on moto, organisation mode, with the real enforcer and notifier: the schedule lists
//! every logging account's buckets in each of its Regions by the organisation's prefix and tag,
//! writes the registry beside the config, and sweeps what it found at once; a bucket whose tag is
//! removed stays protected, the untagging is alerted and the tag put back; a bucket created between
//! sweeps is discovered from its CreateBucket event; only the config's `exclude` takes one out; a
//! registry that cannot be read is alerted and the last good one stays in force; the accounts of an
//! `[[ou]]` are listed through AWS Organizations.

use e2e::{account_clients, provision_config, root, Function, Moto};
use serde_json::{json, Value};

const ADMIN: &str = "999900000000";
const PROD: &str = "111100000000";
const DEV: &str = "222200000000";

fn schedule(id: &str) -> Value {
    json!({"version": "0", "id": id, "detail-type": "Scheduled Event", "source": "aws.events",
        "account": ADMIN, "time": "2026-12-02T17:20:00Z", "region": "eu-central-1", "resources": [], "detail": {}})
}

async fn bucket(account: &str, region: &str, name: &str, tags: &[(&str, &str)], policy: Option<&str>) {
    let s3 = e2e::account_bucket(&e2e_endpoint(), account, region, name, tags).await;
    if let Some(p) = policy {
        s3.put_bucket_policy().bucket(name).policy(p).send().await.unwrap();
    }
}

/// A bucket tagged `breakglass=protect` with an unlawful policy: a `ClosedAccess` that lets anyone
/// read.
async fn tagged_open_bucket(account: &str, region: &str, name: &str) {
    let open = json!({"Version": "2012-10-17", "Statement": [{"Sid": "ClosedAccess", "Effect": "Allow",
        "Principal": "*", "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{name}/*")}]})
    .to_string();
    bucket(account, region, name, &[("breakglass", "protect")], Some(&open)).await;
}

/// A CloudTrail record of an S3 call by an administrator of `account`, as EventBridge delivers it
/// (after the real ones in ../shared/corpus: `recipientAccountId`, `awsRegion`, the bucket in
/// `requestParameters`).
fn cloudtrail(name: &str, bucket: &str, account: &str, region: &str, extra: Value) -> Value {
    let mut params = json!({"bucketName": bucket, "Host": format!("{bucket}.s3.{region}.amazonaws.com")});
    if let (Some(p), Value::Object(e)) = (params.as_object_mut(), extra) {
        p.extend(e);
    }
    json!({"version": "0", "id": format!("ev-{name}-{bucket}"), "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.s3", "account": account, "time": "2026-12-02T17:25:00Z", "region": region,
        "resources": [], "detail": {
            "eventVersion": "1.09", "eventSource": "s3.amazonaws.com", "eventName": name,
            "eventTime": "2026-12-02T17:25:00Z", "awsRegion": region, "sourceIPAddress": "198.51.100.7",
            "userAgent": "[aws-cli/2.22.0 Python/3.12.6]", "requestParameters": params,
            "responseElements": null, "eventID": format!("0000-{name}-{bucket}"), "readOnly": false,
            "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": account,
            "userIdentity": {"type": "AssumedRole", "principalId": "AROAEXAMPLE:mallory",
                "arn": format!("arn:aws:sts::{account}:assumed-role/Admin/mallory"), "accountId": account,
                "sessionContext": {"sessionIssuer": {"type": "Role", "arn": format!("arn:aws:iam::{account}:role/Admin"),
                    "accountId": account, "userName": "Admin"},
                    "attributes": {"creationDate": "2026-12-02T17:00:00Z", "mfaAuthenticated": "false"}}}}})
}

fn e2e_endpoint() -> String {
    std::env::var("DISCOVERY_TEST_ENDPOINT").unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn buckets_are_discovered_by_prefix_and_tag_kept_when_untagged_and_removed_only_by_the_config() {
    let Some(moto) = Moto::start() else { return };
    std::env::set_var("DISCOVERY_TEST_ENDPOINT", &moto.endpoint);
    let base = std::fs::read_to_string(root().join("examples/organisation.toml")).unwrap();
    let text = format!("{base}\n[discovery]\ntag = \"breakglass=protect\"\n");
    let stack = provision_config(&moto.endpoint, text.clone()).await;
    let s3 = &stack.clients.s3;
    let config_bucket = e2e::config_bucket(s3, ADMIN).await;
    s3.put_bucket_versioning()
        .bucket(&config_bucket)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    // As the gate writes it: sealed with the records' key.
    let (clients, at) = (&stack.clients, config_bucket.as_str());
    let put_config = |body: String| async move { e2e::put_sealed_config(clients, at, &body).await };
    put_config(text.clone()).await;

    // Two accounts, two Regions: tagged and prefixed (found), untagged, tagged but outside the prefix,
    // and a tagged one with an unlawful policy, which the same sweep reverts.
    bucket(PROD, "eu-west-1", "acme-prod-new-flow-logs", &[("breakglass", "protect"), ("team", "net")], None)
        .await;
    bucket(PROD, "eu-west-1", "acme-prod-untagged-logs", &[], None).await;
    bucket(PROD, "eu-west-1", "other-tagged-logs", &[("breakglass", "protect")], None).await;
    tagged_open_bucket(DEV, "eu-central-1", "acme-dev-new-logs").await;

    let (queue, _) = stack.sweep_queue(breakglass_core::guard::sweep::ATTEMPTS).await;
    let url = format!("s3://{config_bucket}/breakglass.toml");
    let with_object = |env: Vec<(String, String)>| -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> =
            env.into_iter().filter(|(k, _)| k != "BREAKGLASS_CONFIG").collect();
        env.push(("BREAKGLASS_CONFIG_S3".into(), url.clone()));
        env.push(("BREAKGLASS_CONFIG_REFRESH_SECONDS".into(), "1".into()));
        env.push(("BREAKGLASS_SWEEP_QUEUE".into(), queue.clone()));
        env.push(("BREAKGLASS_SWEEP_CLOSE_DELAY_SECONDS".into(), "0".into()));
        env
    };
    // Under IAM, as the administrative and member stacks grant it.
    let iam = stack.iam(&moto.endpoint);
    let enforcer_env = with_object(iam.function_env(stack.function_env(), "enforcer").await);
    let enforcer = Function::spawn("enforcer", &enforcer_env);
    let notifier =
        Function::spawn("notifier", &with_object(iam.function_env(stack.function_env(), "notifier").await));

    let planned = enforcer.invoke(&schedule("first")).unwrap();
    assert_eq!(
        planned["sweep"]["buckets"], 4,
        "the registry is read with the config, at the next check: {planned}"
    );
    stack.run_sweep_queue(&queue, &enforcer, 10).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let planned = enforcer.invoke(&schedule("second")).unwrap();
    assert_eq!(planned["sweep"]["buckets"], 6, "the 4 configured buckets and the 2 discovered: {planned}");
    let registry = s3.get_object().bucket(&config_bucket).key("registry.json").send().await.unwrap();
    let registry: Value =
        serde_json::from_slice(&registry.body.collect().await.unwrap().into_bytes()).unwrap();
    let names: Vec<&str> =
        registry["buckets"].as_array().unwrap().iter().map(|b| b["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["acme-dev-new-logs", "acme-prod-new-flow-logs"], "{registry}");
    stack.run_sweep_queue(&queue, &enforcer, 10).await;
    let dev = account_clients(&moto.endpoint, DEV, "eu-central-1").await.s3;
    let live = dev.get_bucket_policy().bucket("acme-dev-new-logs").send().await.unwrap().policy.unwrap();
    assert!(
        live.contains("ClosedAccess") && !live.contains("\"Principal\":\"*\",\"Action\":\"s3:GetObject\""),
        "{live}"
    );

    // People are told what is protected now; the revert is mailed too.
    for e in stack.drain(&stack.own_events).await {
        notifier.invoke(&e).unwrap();
    }
    let stakeholders = stack.deliveries(&stack.stakeholders).await;
    let found =
        stakeholders.iter().find(|(_, d)| d["subject"].as_str().unwrap().contains("now protected")).unwrap();
    assert!(
        found.1["text"]
            .as_str()
            .unwrap()
            .contains("acme-prod-new-flow-logs in logging-prod (111100000000) eu-west-1"),
        "{}",
        found.1
    );
    let security = stack.deliveries(&stack.security).await;
    assert!(
        security.iter().any(|(_, d)| d["subject"].as_str().unwrap().contains("acme-dev-new-logs")),
        "{security:?}"
    );

    // The tag is removed: still protected (the registry only grows).
    let prod = account_clients(&moto.endpoint, PROD, "eu-west-1").await.s3;
    prod.delete_bucket_tagging().bucket("acme-prod-new-flow-logs").send().await.unwrap();
    let again = enforcer.invoke(&schedule("second-b")).unwrap();
    assert_eq!(again["sweep"]["buckets"], 6, "{again}");
    stack.run_sweep_queue(&queue, &enforcer, 10).await;

    // The untagging is itself a guarded call: its CloudTrail event puts the tag back (the other tags
    // went with DeleteBucketTagging) and the security team gets an alert.
    stack.drain(&stack.own_events).await;
    stack.drain(&stack.security).await;
    let untag = cloudtrail("DeleteBucketTagging", "acme-prod-new-flow-logs", PROD, "eu-west-1", json!({}));
    // The operators' dry run of such an event (on a bucket the config lists, as the CLI reads no
    // registry), through the reader role under IAM: it reads the tags and writes nothing.
    let dir = std::env::temp_dir().join(format!("breakglass-discovery-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (config_path, event_path) = (dir.join("org.toml"), dir.join("untag.json"));
    std::fs::write(&config_path, &text).unwrap();
    let untag_listed =
        cloudtrail("DeleteBucketTagging", "acme-prod-cloudtrail-logs", PROD, "eu-central-1", json!({}));
    std::fs::write(&event_path, untag_listed.to_string()).unwrap();
    let operator = iam.person_env("breakglass-operator", "alice").await;
    let (config_arg, event_arg) = (config_path.display().to_string(), event_path.display().to_string());
    let (code, out, err) = e2e::breakglass_as(
        &operator,
        &iam.endpoint,
        &["enforce", "--config", &config_arg, "--dry-run", "--event", &event_arg],
    );
    assert!(code == 0 || code == 3, "{out}{err}");
    assert!(!format!("{out}{err}").contains("AccessDenied"), "{out}{err}");
    assert!(out.contains("breakglass=protect"), "the dry run would put the tag back: {out}");
    let _ = std::fs::remove_dir_all(&dir);
    let answer = enforcer.invoke(&untag).unwrap();
    assert_eq!(answer["repairs"][0]["repaired"], true, "{answer}");
    let tags = prod.get_bucket_tagging().bucket("acme-prod-new-flow-logs").send().await.unwrap().tag_set;
    assert_eq!(tags.len(), 1);
    assert_eq!((tags[0].key.as_str(), tags[0].value.as_str()), ("breakglass", "protect"));
    notifier.invoke(&untag).unwrap();
    for e in stack.drain(&stack.own_events).await {
        notifier.invoke(&e).unwrap();
    }
    let security = stack.deliveries(&stack.security).await;
    let subjects: Vec<&str> = security.iter().map(|(_, d)| d["subject"].as_str().unwrap()).collect();
    assert!(
        subjects
            .iter()
            .any(|s| s.contains("ALERT") && s.contains("acme-prod-new-flow-logs") && s.contains("tags")),
        "{subjects:?}"
    );
    let texts: Vec<&str> = security.iter().map(|(_, d)| d["text"].as_str().unwrap()).collect();
    assert!(texts.iter().any(|t| t.contains("`breakglass=protect`") && t.contains("put back")), "{texts:?}");

    // A bucket created (and tagged) between sweeps is discovered from its CreateBucket event at once,
    // and checked by a one-bucket sweep as soon as every function has read the grown registry.
    tagged_open_bucket(PROD, "eu-west-1", "acme-prod-fresh-logs").await;
    let created = cloudtrail(
        "CreateBucket",
        "acme-prod-fresh-logs",
        PROD,
        "eu-west-1",
        json!({
        "CreateBucketConfiguration": {"LocationConstraint": "eu-west-1"}}),
    );
    let answer = enforcer.invoke(&created).unwrap();
    assert_eq!(answer["discovered"], 1, "{answer}");
    // A forged event for a bucket that is not there adds nothing.
    let forged = cloudtrail("CreateBucket", "acme-prod-ghost-logs", PROD, "eu-west-1", json!({}));
    assert!(enforcer.invoke(&forged).unwrap().get("discovered").is_none());
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    stack.run_sweep_queue(&queue, &enforcer, 10).await;
    let live = prod.get_bucket_policy().bucket("acme-prod-fresh-logs").send().await.unwrap().policy.unwrap();
    assert!(live.contains("ClosedAccess") && live.contains("DenyInsecureTransport"), "reverted: {live}");
    let own = stack.drain(&stack.own_events).await;
    let told = own.iter().find(|e| e["detail-type"] == "breakglass discovery").unwrap();
    assert_eq!(told["detail"]["added"][0]["name"], "acme-prod-fresh-logs", "{told}");
    assert!(
        own.iter().any(|e| e["detail-type"] == "breakglass remediation"
            && e["detail"]["bucket"] == "acme-prod-fresh-logs"),
        "{own:?}"
    );

    // The registry object is broken: the enforcer keeps the last good one and alerts.
    s3.put_object()
        .bucket(&config_bucket)
        .key("registry.json")
        .body(b"{ broken".to_vec().into())
        .send()
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let broken = enforcer.invoke(&schedule("third")).unwrap();
    assert_eq!(broken["sweep"]["buckets"], 7, "the last good registry stays in force: {broken}");
    stack.run_sweep_queue(&queue, &enforcer, 10).await;
    let own = stack.drain(&stack.own_events).await;
    let alert = own.iter().find(|e| e["detail-type"] == "breakglass discovery").unwrap();
    assert!(alert["detail"]["error"].as_str().unwrap().contains("unreadable"), "{alert}");
    // A new cold start reads the last version that parses.
    let cold = Function::spawn("enforcer", &enforcer_env);
    let planned = cold.invoke(&schedule("fourth")).unwrap();
    assert_eq!(planned["sweep"]["buckets"], 7, "{planned}");
    stack.run_sweep_queue(&queue, &cold, 10).await;

    // Only the config takes a bucket out.
    put_config(format!("{text}exclude = [\"acme-prod-new-flow-logs\"]\n")).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let excluded = cold.invoke(&schedule("fifth")).unwrap();
    assert_eq!(excluded["sweep"]["buckets"], 6, "{excluded}");

    // Accounts selected by OU: an account that is not listed as [[account]] but sits in an OU below
    // the config's [[ou]] is listed in the OU's Regions (AWS Organizations, as the administrative
    // account); a suspended-out account outside the OU is not.
    let org =
        aws_sdk_organizations::Client::new(&e2e::account_config(&moto.endpoint, ADMIN, "eu-central-1").await);
    org.create_organization()
        .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
        .send()
        .await
        .unwrap();
    let root = org.list_roots().send().await.unwrap().roots.unwrap().remove(0).id.unwrap();
    let logging = e2e::create_ou(&org, &root, "logging").await;
    let teams = e2e::create_ou(&org, &logging, "teams").await;
    let made = e2e::create_accounts(&org, &["logging-team", "sandbox"]).await;
    org.move_account()
        .account_id(&made[0])
        .source_parent_id(&root)
        .destination_parent_id(&teams)
        .send()
        .await
        .unwrap();
    // StackSets deploys the member stack in the account that joined the OU.
    iam.deploy_member(&made[0]);
    bucket(&made[0], "eu-west-1", "acme-team-logs", &[("breakglass", "protect")], None).await;
    bucket(&made[1], "eu-west-1", "acme-sandbox-logs", &[("breakglass", "protect")], None).await;
    // The operator restores the registry's previous version (the runbook's way): the broken one goes.
    let versions =
        s3.list_object_versions().bucket(&config_bucket).prefix("registry.json").send().await.unwrap();
    let latest = versions.versions.unwrap().into_iter().find(|v| v.is_latest == Some(true)).unwrap();
    s3.delete_object()
        .bucket(&config_bucket)
        .key("registry.json")
        .version_id(latest.version_id.unwrap())
        .send()
        .await
        .unwrap();
    put_config(format!(
        "{text}exclude = [\"acme-prod-new-flow-logs\"]\n\n[[ou]]\nid = \"{logging}\"\nregions = [\"eu-west-1\"]\n"
    ))
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    cold.invoke(&schedule("sixth")).unwrap();
    let registry = s3.get_object().bucket(&config_bucket).key("registry.json").send().await.unwrap();
    let registry: Value =
        serde_json::from_slice(&registry.body.collect().await.unwrap().into_bytes()).unwrap();
    let team = registry["buckets"].as_array().unwrap().iter().find(|b| b["name"] == "acme-team-logs");
    assert_eq!(team.unwrap()["account"], made[0].as_str(), "{registry}");
    assert!(!registry.to_string().contains("acme-sandbox-logs"), "{registry}");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let planned = cold.invoke(&schedule("seventh")).unwrap();
    assert_eq!(planned["sweep"]["buckets"], 7, "the OU account's bucket is swept: {planned}");
}
