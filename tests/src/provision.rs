//! What template.yaml provisions, on moto: the stack of the example config (single account or
//! organisation), and the set-ups most tests start from.

use serde_json::{json, Value};

use crate::*;

// ------------------------------------------------------------------------------------------------
// What template.yaml provisions, on moto.

pub struct Stack {
    pub clients: Clients,
    /// The config the functions get (`BREAKGLASS_CONFIG`).
    pub config_text: String,
    /// `config_text` parsed once (a config of a few hundred buckets takes a debug build a while).
    pub config: breakglass_config::Config,
    /// The audit trail's bucket (Object Lock, compliance mode).
    pub audit_bucket: String,
    pub endpoint: String,
    pub topic_arn: String,
    pub bus: String,
    /// SNS → SQS in place of email: stakeholders (every change and attempt) and security (warnings up).
    pub stakeholders: String,
    pub security: String,
    /// EventBridge rule targets in place of the Lambdas: CloudTrail S3 calls, breakglass's own events.
    pub s3_calls: String,
    pub own_events: String,
    /// The control-plane rule's target: guarded IAM, KMS, SNS, Lambda and CloudFormation calls.
    pub control_calls: String,
    /// The recorder's queue (template.yaml's ReadQueue): object reads from the read rule, refused
    /// guarded calls from the refused-call rules.
    pub reads: String,
    /// The second channel: the alarm topic, and an SQS queue subscribed to it in place of email.
    pub alarm_topic_arn: String,
    pub alarms: String,
    /// The alarm topic's subscriptions, as the enforcer must find them (`BREAKGLASS_ALARM_SUBSCRIPTIONS`).
    pub expected_alarm_subscriptions: Value,
    /// The subscriptions of the notification topic, as the enforcer must find them.
    pub expected_subscriptions: Value,
    pub(crate) stack_counter: std::sync::atomic::AtomicUsize,
}

/// moto, the provisioned stack, and the enforcer and notifier running against it: what most
/// end-to-end tests start from.
pub struct Env {
    pub _moto: Moto,
    pub stack: Stack,
    pub enforcer: Function,
    pub notifier: Function,
    /// The two functions run as their roles through it: what AWS would refuse them, it refuses.
    pub iam: IamProxy,
}

/// [`Env`], or `None` when moto is not installed (outside CI). The enforcer and the notifier run
/// as sessions of their execution roles, under IAM as template.yaml grants it ([`IamProxy`]).
pub async fn setup() -> Option<Env> {
    setup_with(single_operator_text()).await
}

/// [`setup`] with the config `text`.
pub async fn setup_with(text: String) -> Option<Env> {
    let moto = Moto::start()?;
    let stack = provision_config(&moto.endpoint, text).await;
    let iam = stack.iam(&moto.endpoint);
    let enforcer = iam.spawn(&stack, "enforcer").await;
    let notifier = iam.spawn(&stack, "notifier").await;
    Some(Env { _moto: moto, stack, enforcer, notifier, iam })
}

impl Stack {
    /// The IAM proxy in front of moto (`endpoint`) for this stack: template.yaml in single-account
    /// mode protecting the stack's buckets, or the organisation's administrative and member stacks.
    pub fn iam(&self, endpoint: &str) -> IamProxy {
        let config = &self.config;
        let deployment = if config.organisation.is_some() {
            Deployment::organisation(config)
        } else {
            let buckets: Vec<String> = config.buckets.iter().map(|b| b.name.clone()).collect();
            let account = config.buckets.first().map_or(ACCOUNT, |b| b.account.as_str());
            Deployment::single_account(account, REGION, &buckets)
        };
        IamProxy::start(endpoint, deployment, &self.audit_bucket)
    }
}

/// The example deployment's Region and account, as provisioned on moto.
pub const REGION: &str = "eu-central-1";
pub const ACCOUNT: &str = "111122223333";
/// The Service Catalog products of the example deployment, and who may provision them.
pub const OPEN_PRODUCT: &str = "prod-openlogaccess1";
pub const CLOSE_PRODUCT: &str = "prod-closelogaccess";
pub const REQUEST_PRODUCT: &str = "prod-requestlogacce";
pub const CATALOG_PRINCIPAL: &str = "arn:aws:iam::111122223333:role/LogTeam";
/// A session of [`CATALOG_PRINCIPAL`], as Service Catalog records the provisioning principal.
pub const OPERATOR_SESSION: &str = "arn:aws:sts::111122223333:assumed-role/LogTeam/alice@example.com";
/// breakglass's KMS key, as the notifier is told it (`BREAKGLASS_KEY_ARN`).
pub const KEY_ARN: &str = "arn:aws:kms:eu-central-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

/// The EventBridge pattern of a rule in template.yaml, with `ProtectedBuckets` filled in.
pub fn rule_pattern(rule: &str, buckets: &[String]) -> Value {
    pattern_in("template.yaml", rule, ACCOUNT, REGION, &[("ProtectedBuckets", json!(buckets))])
}

/// The EventBridge pattern of `rule` in the template `file` (relative to the repository), deployed
/// in `account` and `region` with `params`.
pub fn pattern_in(file: &str, rule: &str, account: &str, region: &str, params: &[(&str, Value)]) -> Value {
    let template = proofs::cfn::Template::load(&root().join(file), account, region, params);
    let pattern = &template.resources()[rule]["Properties"]["EventPattern"];
    // The intrinsic functions by the template reader; the rest here, where a `false` stays a boolean.
    fn convert(v: &serde_norway::Value, template: &proofs::cfn::Template) -> Value {
        match v {
            serde_norway::Value::Tagged(_) => template.resolve(v),
            serde_norway::Value::Mapping(m) => Value::Object(
                m.iter().map(|(k, v)| (k.as_str().unwrap().to_owned(), convert(v, template))).collect(),
            ),
            serde_norway::Value::Sequence(s) => {
                Value::Array(s.iter().map(|v| convert(v, template)).collect())
            }
            serde_norway::Value::String(s) => json!(s),
            serde_norway::Value::Bool(b) => json!(b),
            other => panic!("unexpected yaml in pattern: {other:?}"),
        }
    }
    convert(pattern, &template)
}

pub(crate) async fn queue(c: &Clients, name: &str) -> (String, String) {
    let url = c.sqs.create_queue().queue_name(name).send().await.unwrap().queue_url.unwrap();
    let arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}");
    (url, arn)
}

/// The administrative stack's config bucket in eu-central-1, named as template.yaml's `ConfigBucket`.
pub async fn config_bucket(s3: &aws_sdk_s3::Client, account: &str) -> String {
    let name = format!("breakglass-config-{account}-eu-central-1");
    bucket_in(s3, &name, "eu-central-1", false).await;
    name
}

/// The records' key, as template.yaml names it (`RecordKeyAlias`) and the functions get it
/// (`BREAKGLASS_RECORD_KEY`): it also seals the config object.
pub const RECORD_KEY: &str = "alias/breakglass-records";

/// Writes `text` to the config object as the gate (or the deployment's first config) does: sealed
/// with the records' key, in a versioned bucket (as template.yaml's `ConfigBucket`).
pub async fn put_sealed_config(c: &Clients, bucket: &str, text: &str) {
    versioned(&c.s3, bucket).await;
    let seal = breakglass_aws::ConfigSeal::new(c.kms.clone(), RECORD_KEY).seal(text).await.unwrap();
    c.s3.put_object()
        .bucket(bucket)
        .key("breakglass.toml")
        .metadata(breakglass_core::runtime::seal::SEAL_METADATA, seal)
        .metadata("breakglass-writer", "deployment")
        .body(text.as_bytes().to_vec().into())
        .send()
        .await
        .unwrap();
}

/// Turns versioning on (as template.yaml does for the config and audit buckets).
pub async fn versioned(s3: &aws_sdk_s3::Client, bucket: &str) {
    let on = aws_sdk_s3::types::VersioningConfiguration::builder()
        .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
        .build();
    s3.put_bucket_versioning().bucket(bucket).versioning_configuration(on).send().await.unwrap();
}

/// An insider's replication of `bucket` to a bucket of theirs (`mallorys-bucket`), with the role
/// `role`. Replication needs versioning on (moto checks, as S3 does): it is turned on first.
pub async fn replicate_out(s3: &aws_sdk_s3::Client, bucket: &str, role: &str) {
    use aws_sdk_s3::types::{
        DeleteMarkerReplication, DeleteMarkerReplicationStatus, Destination, ReplicationConfiguration,
        ReplicationRule, ReplicationRuleFilter, ReplicationRuleStatus,
    };
    versioned(s3, bucket).await;
    let copy = ReplicationRule::builder()
        .id("copy-out")
        .status(ReplicationRuleStatus::Enabled)
        .priority(1)
        .filter(ReplicationRuleFilter::builder().prefix("").build())
        .delete_marker_replication(
            DeleteMarkerReplication::builder().status(DeleteMarkerReplicationStatus::Disabled).build(),
        )
        .destination(Destination::builder().bucket("arn:aws:s3:::mallorys-bucket").build().unwrap())
        .build()
        .unwrap();
    let replication = ReplicationConfiguration::builder().role(role).rules(copy).build().unwrap();
    s3.put_bucket_replication().bucket(bucket).replication_configuration(replication).send().await.unwrap();
}

/// A lifecycle configuration of one rule `id` on `bucket` that expires every object `days` after it
/// was written (an insider's, or a lawful one longer than the retention).
pub async fn expire_after(s3: &aws_sdk_s3::Client, bucket: &str, id: &str, days: i32) {
    use aws_sdk_s3::types::{
        BucketLifecycleConfiguration, ExpirationStatus, LifecycleExpiration, LifecycleRule,
        LifecycleRuleFilter,
    };
    let rule = LifecycleRule::builder()
        .id(id)
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix("").build())
        .expiration(LifecycleExpiration::builder().days(days).build())
        .build()
        .unwrap();
    let c = BucketLifecycleConfiguration::builder().rules(rule).build().unwrap();
    s3.put_bucket_lifecycle_configuration().bucket(bucket).lifecycle_configuration(c).send().await.unwrap();
}

/// A bucket in `region` (its location constraint set, as outside us-east-1), with Object Lock
/// enabled when `locked` (as the log buckets and the audit bucket are).
pub async fn bucket_in(s3: &aws_sdk_s3::Client, name: &str, region: &str, locked: bool) {
    s3.create_bucket()
        .bucket(name)
        .set_object_lock_enabled_for_bucket(locked.then_some(true))
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(region))
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// The stack most tests start from: the example config with the two-person rule off, so that one
/// operator opens and closes (the flows those tests are about). The two-person rule's own tests
/// provision the example as it is (`provision_config(endpoint, config_text())`).
pub async fn provision(endpoint: &str) -> Stack {
    provision_config(endpoint, single_operator_text()).await
}

/// The example config with `two_person = false`: one operator may open.
pub fn single_operator_text() -> String {
    let text = config_text();
    assert!(text.contains("two_person = true"), "the example config turns the two-person rule on");
    text.replace("two_person = true", "two_person = false")
}

/// [`single_operator_text`] with `n` more buckets, `{prefix}-00`, `{prefix}-01`, ...
pub fn single_operator_text_with(prefix: &str, n: usize) -> String {
    let mut text = single_operator_text();
    for n in 0..n {
        text.push_str(&format!("\n[[bucket]]\nname = \"{prefix}-{n:02}\"\n"));
    }
    text
}

/// The example organisation config (`examples/organisation.toml`) with `accounts` logging accounts in both Regions and
/// `per_region` buckets in each, in place of its own accounts, buckets and investigators.
pub fn organisation_text_with(accounts: usize, per_region: usize) -> (String, Vec<(String, String, String)>) {
    let example = std::fs::read_to_string(root().join("examples/organisation.toml")).unwrap();
    let mut text = String::new();
    let mut skip = false;
    for line in example.lines() {
        if line.starts_with('[') {
            skip = ["[[account]]", "[[bucket]]", "[[investigator]]"].contains(&line.trim());
        }
        if !skip {
            text.push_str(line);
            text.push('\n');
        }
    }
    let mut buckets = Vec::new();
    for a in 0..accounts {
        let id = format!("{:012}", 100_000_000_000u64 + a as u64);
        text.push_str(&format!(
            "\n[[account]]\nid = \"{id}\"\nalias = \"logging-{a:03}\"\nregions = [\"eu-central-1\", \"eu-west-1\"]\n"
        ));
        for (region, short) in [("eu-central-1", "fra"), ("eu-west-1", "dub")] {
            for k in 0..per_region {
                let name = format!("acme-{a:03}-{short}-logs-{k}");
                text.push_str(&format!(
                    "\n[[bucket]]\nname = \"{name}\"\naccount = \"{id}\"\nregion = \"{region}\"\n"
                ));
                buckets.push((name, id.clone(), region.to_owned()));
            }
        }
    }
    (text, buckets)
}

/// A file with [`single_operator_text`], for the CLI's `--config` (one per call: tests run at once).
pub fn single_operator_path() -> String {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = root().join("target/e2e-configs");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("single-operator-{}-{n}.toml", std::process::id()));
    std::fs::write(&path, single_operator_text()).unwrap();
    path.display().to_string()
}

/// The intruder of the tests and the demo: a role of the bucket's account that is no break-glass
/// principal.
pub const MALLORY: &str = "arn:aws:iam::111122223333:role/mallory";
/// The example config's investigator role, the reader an OpenAccess names.
pub const READER: &str = "arn:aws:iam::111122223333:role/investigations/LogInvestigator";

/// moto's default account, where the single-account stack lives (credentials `testing`).
pub const MOTO_ACCOUNT: &str = "123456789012";

/// The example config (two-person rule on) with its approvers in [`MOTO_ACCOUNT`]: the example's
/// are sessions of the operator role in the bucket's account, on moto people's sessions are in
/// moto's default account.
pub fn two_person_text() -> String {
    let text = proofs::config_text().replace(
        "arn:{{partition}}:sts::{{account}}:assumed-role/breakglass-operator/*",
        &format!("arn:{{{{partition}}}}:sts::{MOTO_ACCOUNT}:assumed-role/breakglass-operator/*"),
    );
    assert!(text.contains(MOTO_ACCOUNT));
    text
}

/// What template.yaml provisions for the config `text`. In organisation mode the protected buckets
/// and investigator roles are created in their own (logging) accounts and Regions, everything else
/// in the administrative account.
pub async fn provision_config(endpoint: &str, text: String) -> Stack {
    let config = breakglass_config::Config::from_toml(&text).unwrap();
    let c = match &config.organisation {
        Some(o) => account_clients(endpoint, &o.admin_account, &o.home_region).await,
        None => clients(endpoint).await,
    };
    let org = config.organisation.is_some();
    for b in &config.buckets {
        let region = b.region.as_deref().unwrap_or(REGION);
        let s3 = if org { account_clients(endpoint, &b.account, region).await.s3 } else { c.s3.clone() };
        bucket_in(&s3, &b.name, region, true).await;
        s3.put_bucket_policy()
            .bucket(&b.name)
            .policy(b.closed_policy().to_pretty_json())
            .send()
            .await
            .unwrap();
    }
    // The audit trail: Object Lock (which turns on versioning) with a compliance-mode default, as
    // template.yaml creates it. The notifier also sets each record's own retention.
    let audit = config.audit.clone().unwrap();
    bucket_in(&c.s3, &audit.bucket, REGION, true).await;
    c.s3.put_object_lock_configuration()
        .bucket(&audit.bucket)
        .object_lock_configuration(
            aws_sdk_s3::types::ObjectLockConfiguration::builder()
                .object_lock_enabled(aws_sdk_s3::types::ObjectLockEnabled::Enabled)
                .rule(
                    aws_sdk_s3::types::ObjectLockRule::builder()
                        .default_retention(
                            aws_sdk_s3::types::DefaultRetention::builder()
                                .mode(aws_sdk_s3::types::ObjectLockRetentionMode::Compliance)
                                .days(1)
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let topic_arn =
        c.sns.create_topic().name("breakglass-notifications").send().await.unwrap().topic_arn.unwrap();
    let (stakeholders, stakeholders_arn) = queue(&c, "stakeholders").await;
    let (security, security_arn) = queue(&c, "security").await;
    let mut expected_subscriptions = Vec::new();
    for (arn, filter) in [
        (
            &stakeholders_arn,
            json!({"kind": ["change", "attempt", "request", "expiry", "access", "approval"], "digested": [{"exists": false}]}),
        ),
        (&security_arn, json!({"severity": ["warning", "critical"], "digested": [{"exists": false}]})),
    ] {
        expected_subscriptions.push(json!({"protocol": "sqs", "endpoint": arn, "filter_policy": filter}));
        c.sns
            .subscribe()
            .topic_arn(&topic_arn)
            .protocol("sqs")
            .endpoint(arn)
            .attributes("FilterPolicy", filter.to_string())
            .send()
            .await
            .unwrap();
    }
    // The records' HMAC key under the alias the config names (template.yaml's RecordKey).
    if let Some(alias) = audit.mac_key.as_deref() {
        let key = c
            .kms
            .create_key()
            .key_spec(aws_sdk_kms::types::KeySpec::Hmac256)
            .key_usage(aws_sdk_kms::types::KeyUsageType::GenerateVerifyMac)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap()
            .key_id;
        c.kms.create_alias().alias_name(alias).target_key_id(key).send().await.unwrap();
    }
    // The second channel: its own topic, no filter.
    let alarm_topic_arn =
        c.sns.create_topic().name("breakglass-alarms").send().await.unwrap().topic_arn.unwrap();
    let (alarms, alarms_arn) = queue(&c, "alarms").await;
    c.sns.subscribe().topic_arn(&alarm_topic_arn).protocol("sqs").endpoint(&alarms_arn).send().await.unwrap();
    let expected_alarm_subscriptions = json!([{"protocol": "sqs", "endpoint": alarms_arn}]);
    // The investigator roles exist with the trust their [[investigator]] tables give them.
    for i in &config.investigators {
        let path = i.role.split_once(":role").map(|(_, r)| r.trim_end_matches(i.role_name())).unwrap_or("/");
        let account = i.role.split(':').nth(4).unwrap_or_default();
        let iam = if org { account_clients(endpoint, account, REGION).await.iam } else { c.iam.clone() };
        iam.create_role()
            .role_name(i.role_name())
            .path(path)
            .assume_role_policy_document(i.trust_policy_json())
            .send()
            .await
            .unwrap();
    }
    let bus = c.events.create_event_bus().name("breakglass").send().await.unwrap();
    let _ = bus;
    let (s3_calls, s3_calls_arn) = queue(&c, "s3-calls").await;
    let (own_events, own_events_arn) = queue(&c, "own-events").await;
    let (control_calls, control_calls_arn) = queue(&c, "control-calls").await;
    let (reads, reads_arn) = queue(&c, "breakglass-reads").await;
    let buckets: Vec<String> = config.buckets.iter().map(|b| b.name.clone()).collect();
    let read_rule = if org { ("ForwardedReadsRule", "breakglass") } else { ("ObjectReadsRule", "default") };
    let mut rules = vec![
        ("S3ChangesRule", "default", &s3_calls_arn),
        ("ControlPlaneRule", "default", &control_calls_arn),
        ("OwnEventsRule", "breakglass", &own_events_arn),
        (read_rule.0, read_rule.1, &reads_arn),
        // Refused guarded calls: to the recorder's queue, as template.yaml routes them.
        ("RefusedCallsRule", "default", &reads_arn),
    ];
    if org {
        rules.push(("ForwardedRefusedCallsRule", "breakglass", &reads_arn));
    }
    for (rule, bus, arn) in rules {
        c.events
            .put_rule()
            .name(rule)
            .event_bus_name(bus)
            .event_pattern(rule_pattern(rule, &buckets).to_string())
            .send()
            .await
            .unwrap();
        c.events
            .put_targets()
            .rule(rule)
            .event_bus_name(bus)
            .targets(aws_sdk_eventbridge::types::Target::builder().id("q").arn(arn).build().unwrap())
            .send()
            .await
            .unwrap();
    }
    Stack {
        clients: c,
        config_text: text,
        config,
        audit_bucket: audit.bucket,
        endpoint: endpoint.to_owned(),
        topic_arn,
        bus: "breakglass".into(),
        stakeholders,
        security,
        s3_calls,
        own_events,
        control_calls,
        reads,
        alarm_topic_arn,
        alarms,
        expected_alarm_subscriptions,
        expected_subscriptions: Value::Array(expected_subscriptions),
        stack_counter: std::sync::atomic::AtomicUsize::new(1),
    }
}
