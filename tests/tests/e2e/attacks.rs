//! The attacks around the glass (docs/threat-model.md), detected and reverted end to end: moto as
//! the logging account, the real `enforcer` and `notifier` binaries through the Lambda Runtime API,
//! the template's rules in moto's EventBridge, CloudTrail-shaped records of the insider's calls
//! (moto emits none). What the SCPs and policies *deny* is proven in proofs/tests/proofs/template.rs.

use breakglass_core::ports::BucketSettings;
use e2e::{
    cloudtrail_event, config, control_event, setup, setup_with, single_operator_text, Stack, ACCOUNT,
    KEY_ARN, REGION,
};
use serde_json::{json, Value};

const BUCKET: &str = "acme-cloudtrail-logs";
const ADMIN: &str = "arn:aws:iam::111122223333:role/Admin";

fn sweep() -> Value {
    json!({"version": "0", "id": "sweep", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": ACCOUNT, "region": REGION, "resources": [], "detail": {}})
}

async fn set_versioning(s3: &aws_sdk_s3::Client, status: aws_sdk_s3::types::BucketVersioningStatus) {
    let v = aws_sdk_s3::types::VersioningConfiguration::builder().status(status).build();
    s3.put_bucket_versioning().bucket(BUCKET).versioning_configuration(v).send().await.unwrap();
}

async fn set_lifecycle(s3: &aws_sdk_s3::Client, rule: aws_sdk_s3::types::LifecycleRule) {
    let c = aws_sdk_s3::types::BucketLifecycleConfiguration::builder().rules(rule).build().unwrap();
    s3.put_bucket_lifecycle_configuration().bucket(BUCKET).lifecycle_configuration(c).send().await.unwrap();
}

/// The subjects of the security team's mails.
async fn security_subjects(stack: &Stack) -> Vec<String> {
    stack
        .deliveries(&stack.security)
        .await
        .iter()
        .filter_map(|(_, d)| d["subject"].as_str().map(str::to_owned))
        .collect()
}

/// Attack 1: code of the insider's own running as a breakglass role. Passing the role is denied by
/// the SCP; if it happens anyway, the CreateFunction is an alert, and the role's grants do not hold
/// outside its own function (template.rs).
#[tokio::test(flavor = "current_thread")]
async fn attack_1_a_function_given_a_breakglass_role_is_an_alert() {
    let Some(env) = setup().await else { return };
    let role = format!("arn:aws:iam::{ACCOUNT}:role/breakglass-enforcer");
    let params = json!({"functionName": "totally-harmless", "runtime": "python3.12", "role": role, "handler": "x.handler"});
    env.stack
        .cloudtrail(&control_event(
            "CreateFunction20150331",
            "lambda.amazonaws.com",
            params,
            ADMIN,
            "mallory",
        ))
        .await;
    // A function with a role of its own is none of breakglass's business.
    let own = json!({"functionName": "app", "role": format!("arn:aws:iam::{ACCOUNT}:role/app")});
    env.stack
        .cloudtrail(&control_event("CreateFunction20150331", "lambda.amazonaws.com", own, ADMIN, "mallory"))
        .await;
    env.stack.route(&env.enforcer, &env.notifier).await;
    let subjects = security_subjects(&env.stack).await;
    assert_eq!(subjects.len(), 1, "{subjects:?}");
    assert!(
        subjects[0].contains("ALERT: create a function with a breakglass role (breakglass-enforcer)"),
        "{subjects:?}"
    );
}

/// Attack 3: an investigator role's trust changed to admit the insider. The enforcer puts the
/// configured trust back at once; the security team and the stakeholders hear of it.
#[tokio::test(flavor = "current_thread")]
async fn attack_3_a_changed_investigator_trust_is_put_back() {
    let Some(env) = setup().await else { return };
    let iam = &env.stack.clients.iam;
    let evil = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:user/mallory")}, "Action": "sts:AssumeRole"}]})
    .to_string();
    iam.update_assume_role_policy().role_name("LogInvestigator").policy_document(&evil).send().await.unwrap();
    let params = json!({"roleName": "LogInvestigator", "policyDocument": evil});
    env.stack
        .cloudtrail(&control_event("UpdateAssumeRolePolicy", "iam.amazonaws.com", params, ADMIN, "mallory"))
        .await;
    let answers = env.stack.route(&env.enforcer, &env.notifier).await;
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");

    let c = config();
    let investigator = c.investigator("LogInvestigator").unwrap();
    let live = iam.get_role().role_name("LogInvestigator").send().await.unwrap().role.unwrap();
    let live = breakglass_aws::url_decode(&live.assume_role_policy_document.unwrap());
    assert!(investigator.is_lawful_trust(&live, &canonical_policies::Partition::aws()), "{live}");
    let subjects = security_subjects(&env.stack).await;
    assert!(
        subjects.iter().any(|s| s.contains("ALERT: change a role's trust policy (LogInvestigator)")),
        "{subjects:?}"
    );
    assert!(
        subjects.iter().any(|s| s.contains("ALERT LogInvestigator: the trust policy of investigator role")),
        "{subjects:?}"
    );
    let stakeholders = env.stack.deliveries(&env.stack.stakeholders).await;
    assert!(stakeholders
        .iter()
        .any(|(_, d)| d["text"].as_str().unwrap().contains("puts the configured trust policy back")));

    // CloudTrail lost the event: the sweep finds and repairs it all the same.
    iam.update_assume_role_policy().role_name("ExternalAuditor").policy_document(&evil).send().await.unwrap();
    let answer = env.enforcer.invoke(&sweep()).unwrap();
    let repairs = answer["repairs"].as_array().unwrap();
    assert_eq!(repairs.len(), 1, "{answer}");
    assert_eq!(
        (repairs[0]["subject"].as_str(), repairs[0]["repaired"].as_bool()),
        (Some("ExternalAuditor"), Some(true))
    );
}

/// Attack 4: destroying the logs instead of reading them. Suspended versioning is turned back on,
/// a lifecycle configuration that expires logs sooner than the retention is removed, replication is
/// removed; each is alerted, on the event and on the sweep.
#[tokio::test(flavor = "current_thread")]
async fn attack_4_settings_that_destroy_or_copy_out_the_logs_are_reverted() {
    use aws_sdk_s3::types::{
        BucketVersioningStatus, ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleFilter,
        NoncurrentVersionExpiration,
    };
    let Some(env) = setup().await else { return };
    let s3 = &env.stack.clients.s3;
    let wipe = LifecycleRule::builder()
        .id("tidy-up")
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix("").build())
        .expiration(LifecycleExpiration::builder().days(1).build())
        .noncurrent_version_expiration(NoncurrentVersionExpiration::builder().noncurrent_days(1).build())
        .build()
        .unwrap();
    set_lifecycle(s3, wipe).await;
    // Copied out first (replication needs versioning on), then versioning suspended.
    e2e::replicate_out(s3, BUCKET, "arn:aws:iam::111122223333:role/r").await;
    set_versioning(s3, BucketVersioningStatus::Suspended).await;
    for name in ["PutBucketVersioning", "PutBucketLifecycle", "PutBucketReplication"] {
        let mut e = cloudtrail_event(name, BUCKET, ADMIN, "mallory", None, None);
        if name == "PutBucketVersioning" {
            e["detail"]["requestParameters"]["VersioningConfiguration"] = json!({"Status": "Suspended"});
        }
        env.stack.cloudtrail(&e).await;
    }
    let answers = env.stack.route(&env.enforcer, &env.notifier).await;
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");

    // Read back through the adapter (it copes with moto's misnamed root elements).
    let store = breakglass_aws::S3Store::new(s3.clone());
    assert_eq!(store.get_versioning(BUCKET).await.unwrap().as_deref(), Some("Enabled"), "versioning back on");
    assert!(store.get_lifecycle(BUCKET).await.unwrap().is_empty(), "the lifecycle configuration is gone");
    assert!(store.get_replication(BUCKET).await.unwrap().is_empty(), "replication is gone");
    let subjects = security_subjects(&env.stack).await;
    for expected in [
        "versioning was suspended",
        "lifecycle rule `tidy-up` expires log objects after 1 day",
        "replicated its logs to",
    ] {
        assert!(subjects.iter().any(|s| s.contains(expected)), "{expected}: {subjects:?}");
    }
    // Each repair is in the audit trail too.
    let records = env.stack.audit_records(BUCKET).await;
    assert!(
        records.iter().filter(|(_, r)| r["detail"]["detail_type"] == "breakglass repair").count() >= 3,
        "{records:?}"
    );

    // A lawful rule (longer than retention_days = 400) is left alone, also by the sweep.
    e2e::expire_after(s3, BUCKET, "after-two-years", 731).await;
    let answer = env.enforcer.invoke(&sweep()).unwrap();
    assert_eq!(answer["repairs"], json!([]), "{answer}");
    assert_eq!(store.get_lifecycle(BUCKET).await.unwrap().len(), 1, "the lawful rule stays");
}

/// Attack 5: disabling the key everything depends on. Denied by the key policy and the SCP; when a
/// DisableKey happens anyway, the alert goes out on the second channel too (the notification topic
/// is encrypted with that very key).
#[tokio::test(flavor = "current_thread")]
async fn attack_5_disabling_the_key_is_alarmed_on_the_second_channel() {
    let Some(env) = setup().await else { return };
    let key_id = KEY_ARN.rsplit('/').next().unwrap();
    // The last key is someone else's: not breakglass's concern.
    for (call, params) in [
        ("DisableKey", json!({"keyId": key_id})),
        ("DeleteAlias", json!({"aliasName": "alias/breakglass"})),
        ("DisableKey", json!({"keyId": "0000-other"})),
    ] {
        env.stack.cloudtrail(&control_event(call, "kms.amazonaws.com", params, ADMIN, "mallory")).await;
    }
    env.stack.route(&env.enforcer, &env.notifier).await;
    let alarms = env.stack.drain(&env.stack.alarms).await;
    let subjects: Vec<&str> = alarms.iter().filter_map(|m| m["Subject"].as_str()).collect();
    assert_eq!(subjects.len(), 2, "{subjects:?}");
    assert!(subjects.iter().any(|s| s.contains("disable the KMS key")), "{subjects:?}");
    assert!(subjects.iter().any(|s| s.contains("delete the KMS alias")), "{subjects:?}");
    assert_eq!(security_subjects(&env.stack).await.len(), 2);
}

/// Issue 22: the roles that may assume an investigator role (`assumable_by`) are watched: a changed
/// trust policy of one is a critical mail naming the investigator role it leads to; a role of the
/// same name in another account than the one configured is not breakglass's.
#[tokio::test(flavor = "current_thread")]
async fn issue_22_a_changed_trust_of_a_role_that_may_become_an_investigator_is_alerted() {
    let Some(env) = setup().await else { return };
    let evil = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:user/mallory")}, "Action": "sts:AssumeRole"}]})
    .to_string();
    for role in ["LogTeamInvestigators", "AuditFirm"] {
        let params = json!({"roleName": role, "policyDocument": evil});
        env.stack
            .cloudtrail(&control_event(
                "UpdateAssumeRolePolicy",
                "iam.amazonaws.com",
                params,
                ADMIN,
                "mallory",
            ))
            .await;
    }
    let answers = env.stack.route(&env.enforcer, &env.notifier).await;
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");
    let mails = env.stack.deliveries(&env.stack.security).await;
    let subjects: Vec<&str> = mails.iter().filter_map(|(_, d)| d["subject"].as_str()).collect();
    assert_eq!(subjects.len(), 1, "{subjects:?}");
    assert!(
        subjects[0].contains("ALERT: change a role's trust policy (LogTeamInvestigators)"),
        "{subjects:?}"
    );
    let text = mails[0].1["text"].as_str().unwrap();
    assert!(text.contains("may assume the investigator role(s) LogInvestigator"), "{text}");
}

/// Issue 22, crypto-shredding: the logs' own key (`kms_key`) scheduled for deletion, disabled or
/// re-policied, named by its id or its ARN as KMS takes them (these calls take no alias): alerted on
/// both channels, naming the buckets whose logs it encrypts and how to save it; a key nobody
/// configured is not breakglass's.
#[tokio::test(flavor = "current_thread")]
async fn issue_22_a_log_key_scheduled_for_deletion_is_alerted_on_both_channels() {
    let log_key = "arn:aws:kms:eu-central-1:111122223333:key/9f1c2d3e-4b5a-6789-0abc-def012345678";
    let text = single_operator_text().replacen(
        "retention_days = 400",
        &format!("retention_days = 400\nkms_key = \"{log_key}\""),
        1,
    );
    let Some(env) = setup_with(text).await else { return };
    let key_id = log_key.rsplit('/').next().unwrap();
    let resources = |arn: &str| json!([{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": arn}]);
    for (call, params, arn) in [
        ("ScheduleKeyDeletion", json!({"keyId": key_id, "pendingWindowInDays": 7}), log_key),
        ("DisableKey", json!({"keyId": log_key}), log_key),
        (
            "ScheduleKeyDeletion",
            json!({"keyId": "0000-other"}),
            "arn:aws:kms:eu-central-1:111122223333:key/0000-other",
        ),
    ] {
        let mut event = control_event(call, "kms.amazonaws.com", params, ADMIN, "mallory");
        event["detail"]["resources"] = resources(arn);
        env.stack.cloudtrail(&event).await;
    }
    env.stack.route(&env.enforcer, &env.notifier).await;
    let alarms = env.stack.drain(&env.stack.alarms).await;
    let subjects: Vec<&str> = alarms.iter().filter_map(|m| m["Subject"].as_str()).collect();
    assert_eq!(subjects.len(), 2, "{subjects:?}");
    let deletion = alarms
        .iter()
        .find(|m| m["Subject"].as_str().is_some_and(|s| s.contains("deletion")))
        .and_then(|m| m["Message"].as_str())
        .unwrap_or_else(|| panic!("{subjects:?}"));
    assert!(deletion.contains(BUCKET) && deletion.contains("crypto-shredding"), "{deletion}");
    assert!(deletion.contains(&format!("aws kms cancel-key-deletion --key-id {log_key}")), "{deletion}");
    assert_eq!(security_subjects(&env.stack).await.len(), 2);
}

/// The ARN of `topic`'s subscription whose endpoint ends with `suffix`.
async fn subscription(sns: &aws_sdk_sns::Client, topic: &str, suffix: &str) -> String {
    let subs = sns.list_subscriptions_by_topic().topic_arn(topic).send().await.unwrap();
    let found =
        subs.subscriptions.unwrap().into_iter().find(|s| s.endpoint.as_deref().unwrap().ends_with(suffix));
    found.and_then(|s| s.subscription_arn).unwrap()
}

async fn set_attribute(sns: &aws_sdk_sns::Client, subscription: &str, name: &str, value: &str) {
    let set = sns.set_subscription_attributes().subscription_arn(subscription);
    set.attribute_name(name).attribute_value(value).send().await.unwrap();
}

/// Attack 6: silencing the mail. A lost subscription and a filter policy that never matches are
/// found by the sweep and by the Unsubscribe event, and alarmed on the second channel.
#[tokio::test(flavor = "current_thread")]
async fn attack_6_a_lost_or_silenced_subscription_is_alarmed_on_the_second_channel() {
    let Some(env) = setup().await else { return };
    let sns = &env.stack.clients.sns;
    let council = subscription(sns, &env.stack.topic_arn, ":stakeholders").await;
    sns.unsubscribe().subscription_arn(&council).send().await.unwrap();
    let security = subscription(sns, &env.stack.topic_arn, ":security").await;
    set_attribute(sns, &security, "FilterPolicy", r#"{"severity":["never"]}"#).await;

    // The sweep (no event needed).
    let answer = env.enforcer.invoke(&sweep()).unwrap();
    assert_eq!(answer["repairs"].as_array().unwrap().len(), 1, "{answer}");
    let alarms = env.stack.drain(&env.stack.alarms).await;
    assert_eq!(alarms.len(), 1, "{alarms:?}");
    let text = alarms[0]["Message"].as_str().unwrap();
    assert!(text.contains("stakeholders` is gone") && text.contains("has filter policy"), "{text}");

    // The Unsubscribe event: checked at once, and mailed (to whoever still listens) as well.
    let params = json!({"subscriptionArn": council});
    env.stack.cloudtrail(&control_event("Unsubscribe", "sns.amazonaws.com", params, ADMIN, "mallory")).await;
    env.stack.route(&env.enforcer, &env.notifier).await;
    let alarms = env.stack.drain(&env.stack.alarms).await;
    let subjects: Vec<&str> = alarms.iter().filter_map(|m| m["Subject"].as_str()).collect();
    assert!(subjects.iter().any(|s| s.contains("lost or changed a subscription")), "{subjects:?}");
    assert!(subjects.iter().any(|s| s.contains("remove a subscription")), "{subjects:?}");
}

/// Attack 6, quietly: the filter policy left as deployed, its scope switched to the message body
/// (plain text for email, so nothing matches). Regression: the watch compared the filter's text only.
#[tokio::test(flavor = "current_thread")]
async fn attack_6_a_filter_applied_to_the_message_body_is_alarmed() {
    let Some(env) = setup().await else { return };
    let sns = &env.stack.clients.sns;
    let security = subscription(sns, &env.stack.topic_arn, ":security").await;
    set_attribute(sns, &security, "FilterPolicyScope", "MessageBody").await;
    let answer = env.enforcer.invoke(&sweep()).unwrap();
    assert_eq!(answer["repairs"].as_array().unwrap().len(), 1, "{answer}");
    let alarms = env.stack.drain(&env.stack.alarms).await;
    let text = alarms[0]["Message"].as_str().unwrap();
    assert!(text.contains("applies its filter policy to `MessageBody`"), "{text}");
}

/// Issue 22: the second channel's own subscription. An alarm topic nobody receives is found by the
/// sweep and mailed to the security team through the first channel, naming the topic.
#[tokio::test(flavor = "current_thread")]
async fn issue_22_a_lost_alarm_subscription_is_mailed_through_the_first_channel() {
    let Some(env) = setup().await else { return };
    let sns = &env.stack.clients.sns;
    let answer = env.enforcer.invoke(&sweep()).unwrap();
    assert_eq!(answer["repairs"], json!([]), "as deployed: {answer}");
    let subs = sns.list_subscriptions_by_topic().topic_arn(&env.stack.alarm_topic_arn).send().await.unwrap();
    for s in subs.subscriptions.unwrap() {
        sns.unsubscribe().subscription_arn(s.subscription_arn.unwrap()).send().await.unwrap();
    }
    let answer = env.enforcer.invoke(&sweep()).unwrap();
    let repairs = answer["repairs"].as_array().unwrap();
    assert_eq!(repairs.len(), 1, "{answer}");
    env.stack.route(&env.enforcer, &env.notifier).await;
    let mails = env.stack.deliveries(&env.stack.security).await;
    let subjects: Vec<&str> = mails.iter().filter_map(|(_, d)| d["subject"].as_str()).collect();
    assert!(subjects.iter().any(|s| s.contains("breakglass-alarms")), "{subjects:?}");
    let text = mails.iter().filter_map(|(_, d)| d["text"].as_str()).collect::<Vec<_>>().join("\n");
    assert!(text.contains("the alarm topic") && text.contains("is gone"), "{text}");
}

/// Attack 8: a guarded call whose record names no bucket. The rule routes it, the notifier alerts
/// instead of ignoring it, and the enforcer checks every bucket: a tampered policy is reverted.
#[tokio::test(flavor = "current_thread")]
async fn attack_8_a_guarded_call_naming_no_bucket_is_alerted_and_every_bucket_checked() {
    let Some(env) = setup().await else { return };
    env.stack.tamper(BUCKET).await;
    let mut e = cloudtrail_event("PutBucketPolicy", BUCKET, ADMIN, "mallory", None, None);
    e["detail"]["requestParameters"] = Value::Null;
    e["detail"]["resources"] = json!([]);
    env.stack.cloudtrail(&e).await;
    let answers = env.stack.route(&env.enforcer, &env.notifier).await;
    assert_eq!(answers.len(), 1, "the rule routed the record that names no bucket");
    assert_eq!(answers[0].as_ref().unwrap()["buckets"][0]["outcome"], "closed", "{answers:?}");
    assert_eq!(
        env.stack.live_policy(BUCKET).await,
        Some(config().bucket(BUCKET).unwrap().closed_policy().to_pretty_json())
    );
    let subjects = security_subjects(&env.stack).await;
    assert!(subjects.iter().any(|s| s.contains("ALERT: PutBucketPolicy naming no bucket")), "{subjects:?}");
    assert!(subjects.iter().any(|s| s.contains("unlawful policy reverted")), "{subjects:?}");
}

/// Issue 21, attack 4: one operator lets CloudFront serve the logs (an origin access grant for a
/// distribution anywhere, and ClosedAccess's deny opened for it). The templates and the RCP deny
/// every service the reads but those `[[service_reads]]` lists (proofs); here: the policy is drift,
/// the enforcer, under the IAM proxy, puts ClosedAccess back at once and the security team hears.
#[tokio::test(flavor = "current_thread")]
async fn issue_21_attack_4_a_policy_letting_cloudfront_read_is_reverted() {
    use canonical_policies::{classify, State};
    let Some(env) = setup().await else { return };
    let config = config();
    let bucket = config.bucket(BUCKET).unwrap();
    assert!(config.service_reads.is_empty(), "the example lists no service");
    let mut doc: Value = serde_json::from_str(&bucket.closed_policy().to_pretty_json()).unwrap();
    let statements = doc["Statement"].as_array_mut().unwrap();
    statements[0]["Condition"] =
        json!({"StringNotEqualsIfExists": {"aws:PrincipalServiceName": "cloudfront.amazonaws.com"}});
    statements.push(json!({
        "Sid": "AllowCloudFrontServicePrincipalReadOnly",
        "Effect": "Allow",
        "Principal": {"Service": "cloudfront.amazonaws.com"},
        "Action": "s3:GetObject",
        "Resource": format!("arn:aws:s3:::{BUCKET}/*"),
        "Condition": {"StringEquals": {"aws:SourceArn": "arn:aws:cloudfront::444455556666:distribution/EATTACKER"}}
    }));
    let granted = doc.to_string();
    let operator = format!("arn:aws:iam::{ACCOUNT}:role/breakglass-operator");
    env.stack.clients.s3.put_bucket_policy().bucket(BUCKET).policy(&granted).send().await.unwrap();
    let event = cloudtrail_event("PutBucketPolicy", BUCKET, &operator, "alice", Some(&granted), None);
    env.stack.cloudtrail(&event).await;
    let answers = env.stack.route(&env.enforcer, &env.notifier).await;
    assert_eq!(answers.len(), 1, "{answers:?}");
    let answer = answers[0].clone().unwrap();
    assert_eq!(answer["buckets"][0]["outcome"], "closed", "{answer}");
    assert_eq!(answer["buckets"][0]["after_hash"], json!(bucket.closed_hash().to_string()), "{answer}");
    let live = env.stack.live_policy(BUCKET).await.unwrap();
    assert!(!live.contains("cloudfront"), "{live}");
    let now = time::OffsetDateTime::now_utc();
    assert_eq!(classify(bucket, Some(live.as_bytes()), now).state, State::Closed);
    let subjects = security_subjects(&env.stack).await;
    assert!(subjects.iter().any(|s| s.contains("unlawful bucket policy written")), "{subjects:?}");
    assert!(env.iam.refused().is_empty(), "{:?}", env.iam.refused());
}
