//! organisation/member.yaml through the project's own evaluator (moto enforces no IAM): the member
//! role is assumable only by breakglass's three roles of the administrative account, each under its
//! own session name and only inside the organisation; it manages bucket settings of this account's
//! protected buckets and reads no object; the rules forward every guarded call and name no bucket.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use breakglass_core::guarded::GuardedCall;
use canonical_policies::eval::{explain, Caller, Decision, Request};
use canonical_policies::{Config, Policy, OBJECT_READ_ACTIONS};
use e2e::cfn::Template;
use e2e::root;
use serde_json::json;

const ADMIN: &str = "999900000000";
const MEMBER: &str = "111100000000";
const ORG: &str = "o-exampleorg1";
const PREFIX: &str = "acme-";

fn org_config() -> Config {
    Config::from_toml(&std::fs::read_to_string(root().join("examples/organisation.toml")).unwrap()).unwrap()
}

fn member() -> Template {
    Template::load(
        &root().join("organisation/member.yaml"),
        MEMBER,
        "eu-central-1",
        &[
            ("AdministrativeAccountId", json!(ADMIN)),
            ("OrganizationId", json!(ORG)),
            ("HomeRegion", json!("eu-central-1")),
            ("ProtectedBucketPrefix", json!(PREFIX)),
            ("InvestigatorRolePath", json!("/investigations/")),
        ],
    )
}

fn member_role_arn() -> String {
    format!("arn:aws:iam::{MEMBER}:role/breakglass-member")
}

/// May `caller` (a role of any account) assume the member role, under `session`, from `org`?
fn assume(caller: &str, session: &str, org: &str) -> Decision {
    let trust = member().trust("MemberRole");
    let req = Request::new(
        Caller::parse(caller).unwrap(),
        "sts:AssumeRole",
        &member_role_arn(),
        time::OffsetDateTime::now_utc(),
    )
    .with("aws:PrincipalOrgID", org)
    .with("sts:RoleSessionName", session);
    explain(&trust, &req).decision
}

fn as_member(policy: &Policy, action: &str, resource: &str, resource_account: &str) -> Decision {
    let req = Request::new(
        Caller::parse(&member_role_arn()).unwrap(),
        action,
        resource,
        time::OffsetDateTime::now_utc(),
    )
    .with("s3:ResourceAccount", resource_account)
    .with("aws:SecureTransport", "true");
    explain(policy, &req).decision
}

#[test]
fn only_breakglass_of_the_administrative_account_assumes_the_member_role() {
    let delegated = Decision::AllowIfIdentityAllows { account: ADMIN.into() };
    let role = |name: &str| format!("arn:aws:iam::{ADMIN}:role/{name}");
    // Each of breakglass's roles under the session name breakglass gives it.
    assert_eq!(assume(&role("breakglass-enforcer"), "breakglass-enforcer", ORG), delegated);
    assert_eq!(assume(&role("breakglass-catalog"), "breakglass-catalog", ORG), delegated);
    assert_eq!(assume(&role("breakglass-operator"), "breakglass-operator-alice", ORG), delegated);
    // A session name that hides the caller, another role's name, or another organisation: refused.
    assert_eq!(assume(&role("breakglass-enforcer"), "anything", ORG), Decision::ImplicitDeny);
    assert_eq!(assume(&role("breakglass-catalog"), "breakglass-enforcer", ORG), Decision::ImplicitDeny);
    assert_eq!(assume(&role("breakglass-operator"), "mallory", ORG), Decision::ImplicitDeny);
    assert_eq!(
        assume(&role("breakglass-enforcer"), "breakglass-enforcer", "o-otherorg12"),
        Decision::ImplicitDeny
    );
    // Any other principal of the administrative account, or an administrator of the logging account.
    assert_eq!(assume(&role("Admin"), "breakglass-enforcer", ORG), Decision::ImplicitDeny);
    assert_eq!(
        assume(&format!("arn:aws:iam::{MEMBER}:role/Admin"), "breakglass-enforcer", ORG),
        Decision::ImplicitDeny
    );
    assert_eq!(
        assume(&format!("arn:aws:iam::{MEMBER}:user/admin"), "breakglass-operator-admin", ORG),
        Decision::ImplicitDeny
    );
}

#[test]
fn the_member_role_manages_bucket_settings_and_reads_no_object() {
    let roles = member().roles();
    let (_, arn, policy, _) = roles.iter().find(|(l, ..)| l == "MemberRole").unwrap();
    assert_eq!(arn, &member_role_arn());
    let config = org_config();
    let own: Vec<_> = config.buckets.iter().filter(|b| b.account == MEMBER).collect();
    assert!(!own.is_empty());
    for b in own {
        let bucket = b.bucket_arn();
        for action in [
            "s3:GetBucketPolicy",
            "s3:PutBucketPolicy",
            "s3:PutBucketPublicAccessBlock",
            "s3:PutBucketOwnershipControls",
            "s3:GetBucketTagging",
            "s3:PutBucketTagging",
            "s3:PutBucketVersioning",
            "s3:PutLifecycleConfiguration",
            "s3:PutReplicationConfiguration",
        ] {
            assert_eq!(as_member(policy, action, &bucket, MEMBER), Decision::Allow, "{action} {bucket}");
            // The same bucket name owned by another account: nothing.
            assert_eq!(
                as_member(policy, action, &bucket, "444400000000"),
                Decision::ImplicitDeny,
                "{action}"
            );
        }
        for action in ["s3:DeleteBucketPolicy", "s3:DeleteBucket", "s3:PutBucketAcl", "s3:ListBucket"] {
            assert_eq!(as_member(policy, action, &bucket, MEMBER), Decision::ImplicitDeny, "{action}");
        }
        let object = format!("{bucket}/AWSLogs/{MEMBER}/CloudTrail/eu-central-1/x.json.gz");
        for action in
            OBJECT_READ_ACTIONS.iter().chain(&["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"])
        {
            assert!(!as_member(policy, action, &object, MEMBER).may_allow(), "{action} {object}");
        }
    }
    // Buckets outside the prefix are not breakglass's to touch.
    assert_eq!(
        as_member(policy, "s3:PutBucketPolicy", "arn:aws:s3:::payroll-exports", MEMBER),
        Decision::ImplicitDeny
    );
    // The investigator roles' trust, and not the member role's own.
    let investigator = format!("arn:aws:iam::{MEMBER}:role/investigations/LogInvestigator");
    assert_eq!(as_member(policy, "iam:UpdateAssumeRolePolicy", &investigator, MEMBER), Decision::Allow);
    for action in ["iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy", "iam:AttachRolePolicy"] {
        assert_eq!(as_member(policy, action, &member_role_arn(), MEMBER), Decision::ImplicitDeny, "{action}");
    }
}

#[test]
fn the_forwarder_puts_events_on_the_central_bus_only() {
    let roles = member().roles();
    let (_, arn, policy, statements) = roles.iter().find(|(l, ..)| l == "ForwarderRole").unwrap();
    assert_eq!(statements.len(), 1);
    let central = format!("arn:aws:events:eu-central-1:{ADMIN}:event-bus/breakglass");
    let decide = |action: &str, resource: &str| {
        let req =
            Request::new(Caller::parse(arn).unwrap(), action, resource, time::OffsetDateTime::now_utc());
        explain(policy, &req).decision
    };
    assert_eq!(decide("events:PutEvents", &central), Decision::Allow);
    assert_eq!(
        decide("events:PutEvents", &format!("arn:aws:events:eu-central-1:{MEMBER}:event-bus/default")),
        Decision::ImplicitDeny
    );
}

/// One source of truth: the member rules forward exactly GuardedCall::ALL's S3 and IAM calls and
/// name no bucket (adding a bucket never touches a member stack).
#[test]
fn the_member_rules_forward_every_guarded_call_and_name_no_bucket() {
    let t = member();
    let r = t.resources();
    for (rule, source) in
        [("ForwardS3Changes", "s3.amazonaws.com"), ("ForwardInvestigatorChanges", "iam.amazonaws.com")]
    {
        let pattern = t.resolve(&r[rule]["Properties"]["EventPattern"]);
        let names: Vec<&str> =
            pattern["detail"]["eventName"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        assert_eq!(names, GuardedCall::names_of(source), "{rule}");
        assert_eq!(pattern["detail"]["eventSource"], json!([source]), "{rule}");
        assert!(!pattern.to_string().contains("bucketName"), "{rule} must not list buckets: {pattern}");
        let target = t.resolve(&r[rule]["Properties"]["Targets"][0]);
        assert_eq!(target["Arn"], json!(format!("arn:aws:events:eu-central-1:{ADMIN}:event-bus/breakglass")));
        assert_eq!(target["RoleArn"], json!(format!("arn:aws:iam::{MEMBER}:role/breakglass-forwarder")));
    }
}

/// The member role's name and the prefix it acts on agree with the example organisation config.
#[test]
fn the_example_organisation_fits_the_member_stack() {
    let config = org_config();
    let org = config.organisation.as_ref().unwrap();
    assert_eq!(org.member_role, "breakglass-member");
    assert_eq!(org.admin_account, ADMIN);
    assert_eq!(org.id, ORG);
    assert_eq!(org.bucket_prefix, PREFIX);
    for b in &config.buckets {
        assert!(b.name.starts_with(PREFIX), "{} does not start with the member stack's prefix", b.name);
    }
}
