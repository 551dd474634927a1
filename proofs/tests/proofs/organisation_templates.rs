//! organisation/member.yaml through the project's own evaluator (moto enforces no IAM): the member
//! role is assumable only by breakglass's three roles of the administrative account, each under its
//! own session name and only inside the organisation; it manages bucket settings of this account's
//! protected buckets and reads no object; the rules forward every guarded call and name no bucket.

use breakglass_config::Config;
use breakglass_core::guarded::GuardedCall;
use canonical_policies::{explain, Caller, Decision, Policy, Request, OBJECT_READ_ACTIONS};
use proofs::cfn::Template;
use proofs::root;
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
    assert_eq!(assume(&role("breakglass-gate"), "breakglass-gate", ORG), delegated);
    assert_eq!(assume(&role("breakglass-gate"), "breakglass-operator-alice", ORG), Decision::ImplicitDeny);
    // Issue 21, attack 4: people never hold the role that writes bucket policies, under any session
    // name; they look through the reader role (below) and ask the gate for every change.
    for session in ["breakglass-operator-alice", "breakglass-gate", "breakglass-enforcer"] {
        assert_eq!(assume(&role("breakglass-operator"), session, ORG), Decision::ImplicitDeny, "{session}");
    }
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

/// The operators' read-only role in each logging account: only the operator role of the
/// administrative account assumes it, under a session that names the person, and it writes nothing.
#[test]
fn operators_look_through_the_reader_role_and_write_nothing() {
    let m = member();
    let trust = m.trust("ReaderRole");
    let reader = format!("arn:aws:iam::{MEMBER}:role/breakglass-member-reader");
    let assume = |caller: &str, session: &str| {
        let req = Request::new(
            Caller::parse(caller).unwrap(),
            "sts:AssumeRole",
            &reader,
            time::OffsetDateTime::now_utc(),
        )
        .with("aws:PrincipalOrgID", ORG)
        .with("sts:RoleSessionName", session);
        explain(&trust, &req).decision
    };
    let operator = format!("arn:aws:iam::{ADMIN}:role/breakglass-operator");
    assert_eq!(
        assume(&operator, "breakglass-operator-alice"),
        Decision::AllowIfIdentityAllows { account: ADMIN.into() }
    );
    assert_eq!(assume(&operator, "mallory"), Decision::ImplicitDeny);
    assert_eq!(
        assume(&format!("arn:aws:iam::{ADMIN}:role/Admin"), "breakglass-operator-alice"),
        Decision::ImplicitDeny
    );
    let roles = m.roles();
    let (_, arn, policy, _) = roles.iter().find(|(l, ..)| l == "ReaderRole").unwrap();
    let ask = |action: &str, resource: &str| {
        let req =
            Request::new(Caller::parse(arn).unwrap(), action, resource, time::OffsetDateTime::now_utc())
                .with("s3:ResourceAccount", MEMBER)
                .with("aws:SecureTransport", "true");
        explain(policy, &req).decision
    };
    for b in org_config().buckets.iter().filter(|b| b.account == MEMBER) {
        assert_eq!(ask("s3:GetBucketPolicy", &b.bucket_arn()), Decision::Allow, "{}", b.name);
        for action in [
            "s3:PutBucketPolicy",
            "s3:DeleteBucketPolicy",
            "s3:PutBucketVersioning",
            "s3:PutLifecycleConfiguration",
        ] {
            assert_eq!(ask(action, &b.bucket_arn()), Decision::ImplicitDeny, "{action}");
        }
        let object = format!("{}/AWSLogs/x.json.gz", b.bucket_arn());
        for action in OBJECT_READ_ACTIONS {
            assert!(!ask(action, &object).may_allow(), "{action}");
        }
    }
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

/// One source of truth: the member rules forward exactly GuardedCall::ALL's S3 and IAM calls (and
/// discovery's calls) and name no bucket (adding a bucket never touches a member stack).
#[test]
fn the_member_rules_forward_every_guarded_call_and_name_no_bucket() {
    let t = member();
    let r = t.resources();
    for (rule, source) in [
        ("ForwardS3Changes", "s3.amazonaws.com"),
        ("ForwardInvestigatorChanges", "iam.amazonaws.com"),
        ("ForwardLogKeyChanges", "kms.amazonaws.com"),
    ] {
        let pattern = t.resolve(&r[rule]["Properties"]["EventPattern"]);
        let names: Vec<&str> =
            pattern["detail"]["eventName"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        let mut expected = GuardedCall::names_of(source);
        if source == "s3.amazonaws.com" {
            // And the calls that may bring a new bucket, for discovery at once.
            let guarded = GuardedCall::names_of(source);
            expected.extend(breakglass_core::guard::discovery::CALLS.iter().filter(|c| !guarded.contains(c)));
        }
        assert_eq!(names, expected, "{rule}");
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
    // IAM's limits as uploaded (minified): trust policy 2,048 characters, inline policies of a
    // role 10,240 together. Neither grows with buckets or accounts.
    let t = member();
    let r = &t.resources()["MemberRole"]["Properties"];
    let trust = t.resolve(&r["AssumeRolePolicyDocument"]).to_string();
    let inline: usize = r["Policies"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|p| t.resolve(&p["PolicyDocument"]).to_string().chars().count())
        .sum();
    eprintln!("member role: trust {} characters, inline policies {inline}", trust.chars().count());
    assert!(trust.chars().count() <= 2048 && inline <= 10240);
    for b in &config.buckets {
        assert!(b.name.starts_with(PREFIX), "{} does not start with the member stack's prefix", b.name);
    }
}

// ------------------------------------------------------------------------------------------------
// The SCP and RCP that `breakglass org render-policies` writes for the example organisation.

/// A rendered SCP or RCP as the evaluator reads it (an SCP has no Principal: it applies to all).
fn rendered(text: &str) -> Policy {
    let mut doc: serde_json::Value = serde_json::from_str(text).unwrap();
    for s in doc["Statement"].as_array_mut().unwrap() {
        s["Principal"] = json!("*");
    }
    Policy::parse(doc.to_string().as_bytes()).unwrap()
}

fn org_policies() -> (Policy, Policy) {
    let p = breakglass_core::organisation::render(&org_config()).unwrap();
    (rendered(&p.scp), rendered(&p.rcp))
}

fn ask(policy: &Policy, caller: &str, action: &str, resource: &str) -> Decision {
    let service = !caller.starts_with("arn:");
    let req = Request::new(Caller::parse(caller).unwrap(), action, resource, time::OffsetDateTime::now_utc())
        .with("aws:PrincipalIsAWSService", if service { "true" } else { "false" });
    explain(policy, &req).decision
}

const INSIDER: &str = "arn:aws:iam::111100000000:role/Admin";

/// Issue 22, crypto-shredding: a configured log key (`kms_key`) cannot be disabled, scheduled for
/// deletion, re-policied or granted away in a logging account, not even by the StackSets role; the
/// deployment may (it manages keys). Without a `kms_key` the SCP has no such statement.
#[test]
fn the_scp_keeps_the_configured_log_keys() {
    let log_key = format!("arn:aws:kms:eu-west-1:{MEMBER}:key/9f1c2d3e-4b5a-6789-0abc-def012345678");
    let text = std::fs::read_to_string(root().join("examples/organisation.toml")).unwrap();
    let text = text.replacen("[[bucket]]\n", &format!("[[bucket]]\nkms_key = \"{log_key}\"\n"), 1);
    let p = breakglass_core::organisation::render(&Config::from_toml(&text).unwrap()).unwrap();
    let scp = rendered(&p.scp);
    let [deployment, stacksets] = deployers();
    let other = format!("arn:aws:kms:eu-west-1:{MEMBER}:key/0000-other");
    for action in breakglass_core::organisation::LOG_KEY_CHANGES {
        assert_eq!(ask(&scp, INSIDER, action, &log_key), Decision::ExplicitDeny, "{action}");
        assert_eq!(ask(&scp, &stacksets, action, &log_key), Decision::ExplicitDeny, "{action}");
        assert_ne!(ask(&scp, &deployment, action, &log_key), Decision::ExplicitDeny, "{action}");
        assert_ne!(ask(&scp, INSIDER, action, &other), Decision::ExplicitDeny, "{action} on another key");
    }
    let unkeyed = breakglass_core::organisation::render(&org_config()).unwrap().scp;
    assert!(!unkeyed.contains("kms:"), "no log key configured: no statement");
}

/// Issue 22, item 8: the roles and users an investigator role trusts (`assumable_by`) are doors to
/// the logs. Nobody but the administrative account's deployment changes such a role (trust,
/// permissions, deletion and re-creation) or takes over such a user (password, MFA, permissions,
/// groups), not the StackSets role and not a `breakglass-deployment` minted in another account; a
/// door user rotates their own keys, nobody else mints them. Other roles and users are the
/// organisation's own business; an account root names a whole account, which no statement keeps.
#[test]
fn the_scp_keeps_the_doors_to_the_investigator_roles() {
    let door = "arn:aws:iam::999900000000:role/LogTeamInvestigators";
    let user = "arn:aws:iam::999900000000:user/carol";
    let text = std::fs::read_to_string(root().join("examples/organisation.toml")).unwrap();
    let with_user = text.replacen(
        &format!("assumable_by = [\"{door}\"]"),
        &format!("assumable_by = [\"{door}\", \"{user}\", \"arn:aws:iam::999900000000:root\"]"),
        1,
    );
    assert_ne!(with_user, text);
    let p = breakglass_core::organisation::render(&Config::from_toml(&with_user).unwrap()).unwrap();
    let scp = rendered(&p.scp);
    let [_, stacksets] = deployers();
    let deployment = "arn:aws:iam::999900000000:role/breakglass-deployment";
    let minted = format!("arn:aws:iam::{MEMBER}:role/breakglass-deployment");
    let admin = "arn:aws:iam::999900000000:role/Admin";
    for action in [
        "iam:UpdateAssumeRolePolicy",
        "iam:AttachRolePolicy",
        "iam:PutRolePolicy",
        "iam:DeleteRole",
        "iam:CreateRole",
    ] {
        for who in [admin, stacksets.as_str(), minted.as_str()] {
            assert_eq!(ask(&scp, who, action, door), Decision::ExplicitDeny, "{who} {action}");
        }
        assert_ne!(ask(&scp, deployment, action, door), Decision::ExplicitDeny, "{action}");
        let other = "arn:aws:iam::999900000000:role/Other";
        assert_ne!(ask(&scp, admin, action, other), Decision::ExplicitDeny, "{action} on another role");
    }
    let other_user = "arn:aws:iam::999900000000:user/dave";
    for action in breakglass_core::organisation::USER_TAKEOVER {
        assert_eq!(ask(&scp, admin, action, user), Decision::ExplicitDeny, "{action}");
        assert_eq!(ask(&scp, user, action, user), Decision::ExplicitDeny, "{action} by the user");
        assert_ne!(ask(&scp, deployment, action, user), Decision::ExplicitDeny, "{action}");
        assert_ne!(ask(&scp, admin, action, other_user), Decision::ExplicitDeny, "{action} on another user");
    }
    for action in breakglass_core::organisation::USER_CREDENTIALS {
        assert_eq!(ask(&scp, admin, action, user), Decision::ExplicitDeny, "{action}");
        assert_eq!(ask(&scp, other_user, action, user), Decision::ExplicitDeny, "{action} by another user");
        assert_ne!(ask(&scp, user, action, user), Decision::ExplicitDeny, "{action}: the user's own keys");
        assert_ne!(ask(&scp, deployment, action, user), Decision::ExplicitDeny, "{action}");
    }
    // Roles only: no user is a door, no user call is denied.
    let roles_only = breakglass_core::organisation::render(&org_config()).unwrap().scp;
    assert!(
        roles_only.contains("BreakglassInvestigatorDoorsKept") && !roles_only.contains("iam:CreateAccessKey")
    );
}

/// The roles the organisation's SCP exempts by name: the deployment role and StackSets' one.
fn deployers() -> [String; 2] {
    [
        format!("arn:aws:iam::{MEMBER}:role/breakglass-deployment"),
        format!("arn:aws:iam::{MEMBER}:role/stacksets-exec-0123456789abcdef"),
    ]
}
const INVESTIGATOR: &str = "arn:aws:iam::111100000000:role/investigations/LogInvestigator";

#[test]
fn the_scp_leaves_bucket_settings_and_investigator_roles_to_breakglass() {
    let (scp, _) = org_policies();
    let bucket = "arn:aws:s3:::acme-prod-cloudtrail-logs";
    let guarded: std::collections::BTreeSet<&str> = GuardedCall::ALL
        .iter()
        .filter(|c| c.target() == breakglass_core::guarded::Target::Bucket && !c.on_access_point())
        .flat_map(|c| c.actions().iter().copied())
        .chain(["s3:TagResource", "s3:UntagResource"])
        .collect();
    assert!(guarded.contains("s3:PutBucketTagging"));
    let [deployment, stacksets] = deployers();
    // IAM names an access point, not its bucket: no access point in a logging account but by the deployers.
    let access_point = format!("arn:aws:s3:eu-west-1:{MEMBER}:accesspoint/logs-readers");
    for call in GuardedCall::ALL.iter().filter(|c| c.on_access_point()) {
        for action in call.actions() {
            assert_eq!(ask(&scp, INSIDER, action, &access_point), Decision::ExplicitDeny, "{action}");
            assert_ne!(ask(&scp, &deployment, action, &access_point), Decision::ExplicitDeny, "{action}");
        }
    }
    for action in &guarded {
        assert_eq!(ask(&scp, INSIDER, action, bucket), Decision::ExplicitDeny, "{action}");
        // The member role restores; the deployers set up new log buckets (seen like anyone).
        for who in [&member_role_arn(), &deployment, &stacksets] {
            assert_ne!(ask(&scp, who, action, bucket), Decision::ExplicitDeny, "{who} {action}");
        }
        // Not the organisation's other buckets.
        assert_ne!(ask(&scp, INSIDER, action, "arn:aws:s3:::payroll-exports"), Decision::ExplicitDeny);
    }
    // The investigator roles: only the member role (the sentinel restores trust) and the deployment.
    for action in ["iam:UpdateAssumeRolePolicy", "iam:AttachRolePolicy", "iam:DeleteRole", "iam:CreateRole"] {
        assert_eq!(ask(&scp, INSIDER, action, INVESTIGATOR), Decision::ExplicitDeny, "{action}");
        assert_ne!(ask(&scp, &member_role_arn(), action, INVESTIGATOR), Decision::ExplicitDeny, "{action}");
    }
    // The member stack itself: only the deployment role and StackSets.
    for (action, resource) in [
        ("iam:UpdateAssumeRolePolicy", member_role_arn()),
        ("iam:PutRolePolicy", format!("arn:aws:iam::{MEMBER}:role/breakglass-forwarder")),
        ("iam:PassRole", format!("arn:aws:iam::{MEMBER}:role/breakglass-forwarder")),
        ("events:DisableRule", format!("arn:aws:events:eu-west-1:{MEMBER}:rule/breakglass-forward-s3")),
        ("events:RemoveTargets", format!("arn:aws:events:eu-central-1:{MEMBER}:rule/breakglass-forward-iam")),
        (
            "cloudformation:DeleteStack",
            format!("arn:aws:cloudformation:eu-central-1:{MEMBER}:stack/StackSet-breakglass-member-1/x"),
        ),
    ] {
        assert_eq!(ask(&scp, INSIDER, action, &resource), Decision::ExplicitDeny, "{action} {resource}");
        assert_eq!(ask(&scp, &member_role_arn(), action, &resource), Decision::ExplicitDeny, "{action}");
        assert_ne!(ask(&scp, &deployment, action, &resource), Decision::ExplicitDeny, "{action}");
        assert_ne!(ask(&scp, &stacksets, action, &resource), Decision::ExplicitDeny, "{action}");
    }
}

/// A new log bucket is created with Object Lock (CreateBucket then needs `s3:PutBucketVersioning`
/// and `s3:PutBucketObjectLockConfiguration`) and the discovery tag (`s3:TagResource` at
/// CreateBucket, or `s3:PutBucketTagging` after) through the deployment role or a StackSet; an
/// insider can create neither a locked nor a tagged one under the prefix.
#[test]
fn a_new_log_bucket_is_set_up_by_the_deployers_and_not_by_an_insider() {
    let (scp, _) = org_policies();
    let bucket = "arn:aws:s3:::acme-prod-new-logs";
    for action in [
        "s3:CreateBucket",
        "s3:PutBucketVersioning",
        "s3:PutBucketObjectLockConfiguration",
        "s3:TagResource",
        "s3:PutBucketTagging",
    ] {
        for who in &deployers() {
            assert_ne!(ask(&scp, who, action, bucket), Decision::ExplicitDeny, "{who} {action}");
        }
    }
    for action in ["s3:PutBucketVersioning", "s3:TagResource", "s3:PutBucketTagging"] {
        assert_eq!(ask(&scp, INSIDER, action, bucket), Decision::ExplicitDeny, "{action}");
    }
}

/// Regression: the SCP exempts `breakglass-deployment` and `stacksets-exec-*` by name, so an
/// insider who could create a role of such a name (or change the trust of AWS's StackSets role)
/// would be exempt too. Those names are reserved to the deployers.
#[test]
fn an_insider_cannot_mint_or_take_over_a_role_the_scp_exempts() {
    let (scp, _) = org_policies();
    for role in [
        format!("arn:aws:iam::{MEMBER}:role/breakglass-deployment"),
        format!("arn:aws:iam::{MEMBER}:role/stacksets-exec-mine"),
        format!("arn:aws:iam::{MEMBER}:role/stacksets-exec-0123456789abcdef"),
        member_role_arn(),
        // The central bus admits this name from inside the organisation (threat model, row 14).
        format!("arn:aws:iam::{MEMBER}:role/breakglass-forwarder"),
    ] {
        for action in [
            "iam:CreateRole",
            "iam:UpdateAssumeRolePolicy",
            "iam:PutRolePolicy",
            "iam:AttachRolePolicy",
            "iam:PassRole",
        ] {
            assert_eq!(ask(&scp, INSIDER, action, &role), Decision::ExplicitDeny, "{action} {role}");
            for who in &deployers() {
                assert_ne!(ask(&scp, who, action, &role), Decision::ExplicitDeny, "{who} {action} {role}");
            }
        }
    }
    // A role of such a name under another path is not exempt: the patterns have no path.
    let disguised = format!("arn:aws:iam::{MEMBER}:role/team/stacksets-exec-mine");
    assert_eq!(
        ask(&scp, &disguised, "s3:PutBucketPolicy", "arn:aws:s3:::acme-prod-cloudtrail-logs"),
        Decision::ExplicitDeny
    );
}

#[test]
fn the_rcp_lets_only_investigators_read_whatever_the_bucket_policy_says() {
    let (_, rcp) = org_policies();
    for bucket in org_config().buckets {
        let object = format!("{}/AWSLogs/{}/CloudTrail/x.json.gz", bucket.bucket_arn(), bucket.account);
        let investigator = format!("arn:aws:iam::{}:role/investigations/LogInvestigator", bucket.account);
        for action in OBJECT_READ_ACTIONS {
            for who in [
                INSIDER,
                &member_role_arn(),
                "arn:aws:iam::444400000000:user/outsider",
                "arn:aws:iam::999900000000:role/breakglass-enforcer",
            ] {
                assert_eq!(ask(&rcp, who, action, &object), Decision::ExplicitDeny, "{who} {action}");
            }
            assert_ne!(ask(&rcp, &investigator, action, &object), Decision::ExplicitDeny, "{action}");
            // Issue 21, attack 4 (this asserted the opposite before): AWS services acting with their
            // own principal read nothing either, whatever the bucket policy grants them.
            for service in ["logging.s3.amazonaws.com", "cloudfront.amazonaws.com"] {
                assert_eq!(ask(&rcp, service, action, &object), Decision::ExplicitDeny, "{service} {action}");
            }
        }
    }
    // Who may become an investigator: the configured identities only.
    let identity = "arn:aws:iam::999900000000:role/LogTeamInvestigators";
    assert_ne!(ask(&rcp, identity, "sts:AssumeRole", INVESTIGATOR), Decision::ExplicitDeny);
    for who in [INSIDER, "arn:aws:iam::999900000000:role/Admin", &member_role_arn()] {
        assert_eq!(ask(&rcp, who, "sts:AssumeRole", INVESTIGATOR), Decision::ExplicitDeny, "{who}");
    }
}

/// A service's read as AWS asks it: its own principal, and the source it acts for.
fn service_asks(
    policy: &Policy,
    service: &str,
    sources: &[(&str, &str)],
    action: &str,
    object: &str,
) -> Decision {
    let mut req =
        Request::new(Caller::parse(service).unwrap(), action, object, time::OffsetDateTime::now_utc());
    for (k, v) in sources {
        req = req.with(k, v);
    }
    explain(policy, &req).decision
}

const DISTRIBUTION: &str = "arn:aws:cloudfront::111100000000:distribution/E2QWRUHAPOMQZL";

/// Issue 21, attack 4: the RCP denies a service principal's `s3:GetObject` on a protected bucket
/// (CloudFront with a distribution anywhere), except the `[[service_reads]]` allow-list, each
/// service for its own sources only; CloudTrail's delivery is no read and stays untouched.
#[test]
fn the_rcp_lets_services_read_only_as_the_allow_list_says() {
    let object = format!("arn:aws:s3:::acme-prod-cloudtrail-logs/AWSLogs/{MEMBER}/CloudTrail/x.json.gz");
    let anywhere = "arn:aws:cloudfront::444400000000:distribution/EATTACKER";
    let (_, rcp) = org_policies();
    for sources in [&[][..], &[("aws:SourceArn", DISTRIBUTION), ("aws:SourceAccount", MEMBER)]] {
        let d = service_asks(&rcp, "cloudfront.amazonaws.com", sources, "s3:GetObject", &object);
        assert_eq!(d, Decision::ExplicitDeny, "{sources:?}");
    }
    let text = std::fs::read_to_string(root().join("examples/organisation.toml")).unwrap()
        + &format!(
            "\n[[service_reads]]\nservice = \"cloudfront.amazonaws.com\"\nsource_arn = \"{DISTRIBUTION}\"\n\
             \n[[service_reads]]\nservice = \"logging.s3.amazonaws.com\"\nsource_account = \"{MEMBER}\"\n"
        );
    let p = breakglass_core::organisation::render(&Config::from_toml(&text).unwrap()).unwrap();
    eprintln!("RCP with two service reads: {} characters", p.rcp.chars().count());
    let rcp = rendered(&p.rcp);
    for action in OBJECT_READ_ACTIONS {
        let ok = service_asks(
            &rcp,
            "cloudfront.amazonaws.com",
            &[("aws:SourceArn", DISTRIBUTION)],
            action,
            &object,
        );
        assert_ne!(ok, Decision::ExplicitDeny, "{action}");
        let ok =
            service_asks(&rcp, "logging.s3.amazonaws.com", &[("aws:SourceAccount", MEMBER)], action, &object);
        assert_ne!(ok, Decision::ExplicitDeny, "{action}");
        for (service, sources) in [
            ("cloudfront.amazonaws.com", &[("aws:SourceArn", anywhere)][..]),
            ("cloudfront.amazonaws.com", &[("aws:SourceAccount", MEMBER)]),
            ("cloudfront.amazonaws.com", &[]),
            ("logging.s3.amazonaws.com", &[("aws:SourceArn", DISTRIBUTION)]),
            ("macie.amazonaws.com", &[("aws:SourceAccount", MEMBER)]),
        ] {
            let d = service_asks(&rcp, service, sources, action, &object);
            assert_eq!(d, Decision::ExplicitDeny, "{service} {action} {sources:?}");
        }
        assert_eq!(ask(&rcp, INSIDER, action, &object), Decision::ExplicitDeny, "{action}");
    }
    for policy in [&rcp, &org_policies().1] {
        let d = service_asks(
            policy,
            "cloudtrail.amazonaws.com",
            &[("aws:SourceAccount", MEMBER)],
            "s3:PutObject",
            &object,
        );
        assert_ne!(d, Decision::ExplicitDeny);
    }
}

/// `make test` fails here when the example organisation's policies outgrow AWS's limits as uploaded.
#[test]
fn the_rendered_policies_fit_aws_limits_as_uploaded() {
    use breakglass_core::organisation::{render, OrgPolicyError, RCP_LIMIT, SCP_LIMIT};
    let p = render(&org_config()).unwrap();
    assert!(p.scp.chars().count() <= SCP_LIMIT && p.rcp.chars().count() <= RCP_LIMIT);
    assert!(!p.scp.contains(char::is_whitespace), "uploaded minified");
    // No list that grows with buckets or accounts: neither names a bucket or a logging account.
    for b in org_config().buckets {
        assert!(!p.scp.contains(&b.name) && !p.rcp.contains(&b.name), "{}", b.name);
        assert!(!p.scp.contains(&b.account) && !p.rcp.contains(&b.account), "{}", b.account);
    }
    // What grows is the set of identities: 120 distinct ones no longer fit.
    let teams: Vec<String> =
        (0..120).map(|i| format!("\"arn:aws:iam::999900000000:role/team-{i}\"")).collect();
    let text = std::fs::read_to_string(root().join("examples/organisation.toml")).unwrap().replacen(
        "assumable_by = [\"arn:aws:iam::999900000000:role/LogTeamInvestigators\"]",
        &format!("assumable_by = [{}]", teams.join(", ")),
        1,
    );
    let err = render(&Config::from_toml(&text).unwrap()).unwrap_err();
    // The SCP, which keeps the identities that are roles or users (`BreakglassInvestigatorDoorsKept`), first.
    assert!(matches!(err, OrgPolicyError::TooLarge { kind: "SCP", limit: 5120, .. }), "{err}");
    // Account roots are no doors the SCP keeps: 160 of them outgrow the RCP alone.
    let roots: Vec<String> =
        (0..160).map(|i| format!("\"arn:aws:iam::{}:root\"", 100_000_000_000u64 + i)).collect();
    let text = std::fs::read_to_string(root().join("examples/organisation.toml")).unwrap().replacen(
        "assumable_by = [\"arn:aws:iam::999900000000:role/LogTeamInvestigators\"]",
        &format!("assumable_by = [{}]", roots.join(", ")),
        1,
    );
    let err = render(&Config::from_toml(&text).unwrap()).unwrap_err();
    assert!(matches!(err, OrgPolicyError::TooLarge { kind: "RCP", limit: 5120, .. }), "{err}");
}

// ------------------------------------------------------------------------------------------------
// template.yaml as the administrative stack (OrganizationId set, no protected buckets of its own).

fn admin() -> Template {
    Template::load(
        &root().join("template.yaml"),
        ADMIN,
        "eu-central-1",
        &[
            ("OrganizationId", json!(ORG)),
            ("OperatorPrincipalArns", json!([format!("arn:aws:iam::{ADMIN}:role/LogTeam")])),
            ("CatalogPrincipalArn", json!(format!("arn:aws:iam::{ADMIN}:role/LogTeam"))),
            ("ProductTemplateBaseUrl", json!("https://example.com/products/")),
            ("StakeholderEmail", json!("works-council@example.com")),
            ("SecurityEmail", json!("security-team@example.com")),
            ("ProtectedBucketPrefix", json!(PREFIX)),
        ],
    )
}

/// Object reads in organisation mode: one organisation trail over the bucket prefix records them,
/// each member stack forwards them by the prefix, and the central rule hands them to the recorder.
/// `ReadCall::ALL` everywhere, and no bucket list anywhere.
#[test]
fn the_organisation_trail_and_member_rules_record_reads_by_prefix_not_by_bucket() {
    use breakglass_core::inbound::reads::ReadCall;
    let calls: Vec<serde_json::Value> = ReadCall::ALL.iter().map(|c| json!(c.name())).collect();
    let m = member();
    let pattern = m.resolve(&m.resources()["ForwardObjectReads"]["Properties"]["EventPattern"]);
    assert_eq!(pattern["detail"]["eventName"], json!(calls));
    assert_eq!(
        pattern["detail"]["$or"],
        json!([{"requestParameters": {"bucketName": [{ "prefix": PREFIX }]}},
            {"resources": {"ARN": [{ "prefix": format!("arn:aws:s3:::{PREFIX}") }]}}])
    );
    let target = m.resolve(&m.resources()["ForwardObjectReads"]["Properties"]["Targets"][0]);
    assert_eq!(target["Arn"], json!(format!("arn:aws:events:eu-central-1:{ADMIN}:event-bus/breakglass")));

    let a = admin();
    assert!(a.exists("OrganisationReadsTrail") && !a.exists("ReadsTrail") && !a.exists("ObjectReadsRule"));
    let trail = a.resolve(&a.resources()["OrganisationReadsTrail"]["Properties"]);
    // The resolver gives scalars as CloudFormation reads them: strings.
    assert!(["true", "\"true\""].contains(&trail["IsOrganizationTrail"].to_string().as_str()), "{trail}");
    let fields = trail["AdvancedEventSelectors"][0]["FieldSelectors"].as_array().unwrap().clone();
    let field = |name: &str| fields.iter().find(|f| f["Field"] == name).unwrap().clone();
    assert_eq!(field("eventName")["Equals"], json!(calls));
    assert_eq!(field("resources.ARN")["StartsWith"], json!([format!("arn:aws:s3:::{PREFIX}")]));
    let rule = a.resolve(&a.resources()["ForwardedReadsRule"]["Properties"]["EventPattern"]);
    assert_eq!(rule["detail"]["eventName"], json!(calls));
    assert!(!rule.to_string().contains("bucketName"), "{rule}");
    for b in &org_config().buckets {
        assert!(
            b.name.starts_with(PREFIX),
            "{}: outside the trail's prefix, its reads would not be recorded",
            b.name
        );
    }
}

fn as_admin_role(policy: &Policy, role: &str, action: &str, resource: &str, org: &str) -> Decision {
    let arn = format!("arn:aws:iam::{ADMIN}:role/{role}");
    let function = format!("arn:aws:lambda:eu-central-1:{ADMIN}:function:{role}");
    let req = Request::new(Caller::parse(&arn).unwrap(), action, resource, time::OffsetDateTime::now_utc())
        .with("aws:ResourceOrgID", org)
        .with("aws:SecureTransport", "true")
        .with("lambda:SourceFunctionArn", &function);
    explain(policy, &req).decision
}

#[test]
fn the_administrative_stack_reaches_buckets_only_through_member_roles() {
    let t = admin();
    assert!(t.exists("ForwardedS3ChangesRule") && t.exists("OrganisationForwarding"));
    assert!(!t.exists("S3ChangesRule"), "no bucket-list rule in the administrative account");
    let roles = t.roles();
    // The functions through the member role; the operators only through the reader role (issue 21).
    for (role, through) in [
        ("breakglass-enforcer", "breakglass-member"),
        ("breakglass-catalog", "breakglass-member"),
        ("breakglass-gate", "breakglass-member"),
        ("breakglass-operator", "breakglass-member-reader"),
    ] {
        let (_, _, policy, _) = roles.iter().find(|(_, arn, ..)| arn.ends_with(&format!("/{role}"))).unwrap();
        if role == "breakglass-operator" {
            let member = format!("arn:aws:iam::{MEMBER}:role/breakglass-member");
            assert_eq!(as_admin_role(policy, role, "sts:AssumeRole", &member, ORG), Decision::ImplicitDeny);
        }
        for account in [MEMBER, "222200000000", "333300000000"] {
            let member = format!("arn:aws:iam::{account}:role/{through}");
            assert_eq!(
                as_admin_role(policy, role, "sts:AssumeRole", &member, ORG),
                Decision::Allow,
                "{role}"
            );
            // A role of that name outside the organisation: no.
            assert_eq!(
                as_admin_role(policy, role, "sts:AssumeRole", &member, "o-otherorg12"),
                Decision::ImplicitDeny,
                "{role}"
            );
        }
        for b in org_config().buckets {
            for action in ["s3:PutBucketPolicy", "s3:GetBucketPolicy"] {
                assert_eq!(as_admin_role(policy, role, action, &b.bucket_arn(), ORG), Decision::ImplicitDeny);
            }
            let object = format!("{}/AWSLogs/x.json.gz", b.bucket_arn());
            for action in OBJECT_READ_ACTIONS {
                assert!(!as_admin_role(policy, role, action, &object, ORG).may_allow(), "{role} {action}");
            }
        }
    }
}

/// The central bus: the organisation's forwarders may put the events of AWS services and nothing
/// else; nobody else in the organisation may put anything.
#[test]
fn the_central_bus_admits_only_forwarded_aws_events_from_the_organisation() {
    let t = admin();
    let mut statements = Vec::new();
    for logical in ["EventBusPolicy", "OrganisationForwarding", "ForwardedSourcesOnly"] {
        let mut s = t.resolve(&t.resources()[logical]["Properties"]["Statement"]);
        s["Sid"] = json!(logical);
        statements.push(s);
    }
    let policy =
        Policy::parse(json!({"Version": "2012-10-17", "Statement": statements}).to_string().as_bytes())
            .unwrap();
    let bus = format!("arn:aws:events:eu-central-1:{ADMIN}:event-bus/breakglass");
    let put = |who: &str, org: &str, source: &str| {
        let req = Request::new(
            Caller::parse(who).unwrap(),
            "events:PutEvents",
            &bus,
            time::OffsetDateTime::now_utc(),
        )
        .with("aws:PrincipalOrgID", org)
        .with("events:source", source);
        explain(&policy, &req).decision
    };
    let forwarder = format!("arn:aws:iam::{MEMBER}:role/breakglass-forwarder");
    assert_eq!(put(&forwarder, ORG, "aws.s3"), Decision::Allow);
    assert_eq!(put(&forwarder, ORG, "aws.iam"), Decision::Allow);
    // Posing as breakglass (a forged remediation or request): refused.
    assert_eq!(put(&forwarder, ORG, "breakglass"), Decision::ExplicitDeny);
    // A forwarder of another organisation: no grant.
    assert_eq!(put(&forwarder, "o-otherorg12", "aws.s3"), Decision::ImplicitDeny);
    // Anyone else in a logging account, or in the administrative account: refused.
    for who in [INSIDER.to_owned(), format!("arn:aws:iam::{ADMIN}:role/Admin")] {
        assert_eq!(put(&who, ORG, "aws.s3"), Decision::ExplicitDeny, "{who}");
        assert_eq!(put(&who, ORG, "breakglass"), Decision::ExplicitDeny, "{who}");
    }
    // breakglass's own functions still put their events.
    assert_ne!(
        put(&format!("arn:aws:iam::{ADMIN}:role/breakglass-enforcer"), ORG, "breakglass"),
        Decision::ExplicitDeny
    );
    // The operators put no event at all (issue 21): a request, a decision, a config change is the
    // gate's to announce after its record; by the bus policy, the bypass SCP and their own policy.
    let operator = format!("arn:aws:iam::{ADMIN}:role/breakglass-operator");
    let bypass = super::template::scp("deny-breakglass-bypass.json");
    let (_, _, identity, _) =
        t.roles().into_iter().find(|(_, arn, ..)| arn.ends_with("/breakglass-operator")).unwrap();
    let kind = |policy: &Policy, detail_type: &str| {
        let req = Request::new(
            Caller::parse(&operator).unwrap(),
            "events:PutEvents",
            &bus,
            time::OffsetDateTime::now_utc(),
        )
        .with("aws:PrincipalOrgID", ORG)
        .with("events:source", "breakglass")
        .with("events:detail-type", detail_type);
        explain(policy, &req).decision
    };
    use breakglass_core::events::{ACCESS_REQUEST, CONFIG, DECISION, REMEDIATION, REQUEST};
    for forged in [CONFIG, DECISION, ACCESS_REQUEST, REQUEST, REMEDIATION] {
        assert_eq!(kind(&policy, forged), Decision::ExplicitDeny, "{forged}");
        assert_eq!(kind(&bypass, forged), Decision::ExplicitDeny, "{forged}");
        assert_eq!(kind(&identity, forged), Decision::ImplicitDeny, "{forged}");
    }
}

/// The config object: the functions and the operators read it; only the gate, once one operator
/// proposed a change and another approved it (and the deployment, for the first one), writes it,
/// whatever else IAM in the administrative account allows.
/// The config's seal (issue 21, attack 3): every function may check it, only the gate and the
/// deployment (the first config) may make it, no person; so a config written past the gate is
/// told apart from the gate's.
#[test]
fn only_the_gate_and_the_deployment_seal_the_config() {
    let t = admin();
    let key = format!("arn:aws:kms:eu-central-1:{ADMIN}:key/key-id");
    let mut doc = t.resolve(&t.resources()["RecordKey"]["Properties"]["KeyPolicy"]);
    doc["Version"] = json!("2012-10-17");
    let key_policy = Policy::parse(doc.to_string().as_bytes()).unwrap();
    let seal = |who: &str| {
        let arn = format!("arn:aws:iam::{ADMIN}:role/{who}");
        let req = Request::new(
            Caller::parse(&arn).unwrap(),
            "kms:GenerateMac",
            &key,
            time::OffsetDateTime::now_utc(),
        );
        explain(&key_policy, &req).decision
    };
    for who in ["breakglass-operator", "Admin", "breakglass-enforcer"] {
        assert_eq!(seal(who), Decision::ExplicitDeny, "{who}");
    }
    assert_ne!(seal("breakglass-gate"), Decision::ExplicitDeny);
    assert_ne!(seal("breakglass-deployment"), Decision::ExplicitDeny);
    let roles = t.roles();
    let role = |name: &str| roles.iter().find(|(_, arn, ..)| arn.ends_with(&format!("/{name}"))).unwrap();
    for name in [
        "breakglass-enforcer",
        "breakglass-notifier",
        "breakglass-recorder",
        "breakglass-catalog",
        "breakglass-gate",
    ] {
        let (_, _, policy, _) = role(name);
        assert_eq!(as_admin_role(policy, name, "kms:VerifyMac", &key, ORG), Decision::Allow, "{name}");
    }
    let (_, _, operator, _) = role("breakglass-operator");
    assert_ne!(as_admin_role(operator, "breakglass-operator", "kms:GenerateMac", &key, ORG), Decision::Allow);
    let deployment = std::fs::read_to_string(root().join("deployment-role.yaml")).unwrap();
    assert!(
        deployment.contains("Sid: SealFirstConfig"),
        "deployment-role.yaml lets the deployment seal the first config"
    );
}

#[test]
fn only_the_gate_changes_the_config_object() {
    let t = admin();
    assert!(t.exists("ConfigBucket") && t.exists("ConfigBucketPolicy"));
    let object = format!("arn:aws:s3:::breakglass-config-{ADMIN}-eu-central-1/breakglass.toml");
    let roles = t.roles();
    let role = |name: &str| roles.iter().find(|(_, arn, ..)| arn.ends_with(&format!("/{name}"))).unwrap();
    for name in ["breakglass-enforcer", "breakglass-notifier", "breakglass-catalog"] {
        let (_, _, policy, _) = role(name);
        assert_eq!(as_admin_role(policy, name, "s3:GetObject", &object, ORG), Decision::Allow, "{name}");
        assert_eq!(
            as_admin_role(policy, name, "s3:PutObject", &object, ORG),
            Decision::ImplicitDeny,
            "{name}"
        );
    }
    // The operators read it (to show the change they propose) and write it never; the gate writes
    // it once two people agreed (issue 21, attack 3).
    let (_, _, operator, _) = role("breakglass-operator");
    assert_eq!(as_admin_role(operator, "breakglass-operator", "s3:GetObject", &object, ORG), Decision::Allow);
    assert_eq!(
        as_admin_role(operator, "breakglass-operator", "s3:PutObject", &object, ORG),
        Decision::ImplicitDeny
    );
    let (_, _, gate, _) = role("breakglass-gate");
    assert_eq!(as_admin_role(gate, "breakglass-gate", "s3:PutObject", &object, ORG), Decision::Allow);
    // Every Organizations call that `config push` makes (aws/src/config_source.rs).
    for action in [
        "organizations:DescribeOrganization",
        "organizations:ListAccounts",
        "organizations:ListAccountsForParent",
        "organizations:ListChildren",
    ] {
        assert_eq!(
            as_admin_role(operator, "breakglass-operator", action, "*", ORG),
            Decision::Allow,
            "{action}"
        );
    }
    let mut doc = t.resolve(&t.resources()["ConfigBucketPolicy"]["Properties"]["PolicyDocument"]);
    doc["Version"] = json!("2012-10-17");
    let bucket_policy = Policy::parse(doc.to_string().as_bytes()).unwrap();
    // `who` (a role of the administrative account, or an ARN) doing `action` on `resource` over
    // TLS, with the request's own condition keys `with`, by the config bucket's policy.
    let ask = |who: &str, action: &str, resource: &str, with: &[(&str, &str)]| {
        let arn =
            if who.starts_with("arn:") { who.to_owned() } else { format!("arn:aws:iam::{ADMIN}:role/{who}") };
        let req = with.iter().fold(
            Request::new(Caller::parse(&arn).unwrap(), action, resource, time::OffsetDateTime::now_utc())
                .with("aws:SecureTransport", "true"),
            |req, (k, v)| req.with(k, v),
        );
        explain(&bucket_policy, &req).decision
    };
    let put = |who: &str, key: &str| ask(who, "s3:PutObject", key, &[]);
    let write = |who: &str| put(who, &object);
    assert_eq!(write(&format!("arn:aws:iam::{ADMIN}:role/Admin")), Decision::ExplicitDeny);
    assert_eq!(write(&format!("arn:aws:iam::{ADMIN}:role/breakglass-enforcer")), Decision::ExplicitDeny);
    assert_eq!(write(&format!("arn:aws:iam::{ADMIN}:role/breakglass-operator")), Decision::ExplicitDeny);
    assert_ne!(write(&format!("arn:aws:iam::{ADMIN}:role/breakglass-gate")), Decision::ExplicitDeny);
    // The deployment creates the first config and overwrites none (issue 21, attack 3: the
    // deployment role can seal, so a write over the config would pass every function's check).
    assert_eq!(write("breakglass-deployment"), Decision::ExplicitDeny);
    let create = ask("breakglass-deployment", "s3:PutObject", &object, &[("s3:if-none-match", "*")]);
    assert_ne!(create, Decision::ExplicitDeny);
    // No replica of an old sealed text lands on it (replication has actions of its own).
    for action in ["s3:ReplicateObject", "s3:ReplicateDelete"] {
        assert_eq!(ask("Admin", action, &object, &[]), Decision::ExplicitDeny, "{action}");
    }
    // Nor expires or unversions it: the lifecycle and versioning of the bucket are nobody's.
    let bucket_arn = format!("arn:aws:s3:::breakglass-config-{ADMIN}-eu-central-1");
    for who in ["Admin", "breakglass-deployment", "breakglass-gate"] {
        for action in ["s3:PutLifecycleConfiguration", "s3:PutBucketVersioning"] {
            assert_eq!(ask(who, action, &bucket_arn, &[]), Decision::ExplicitDeny, "{who} {action}");
        }
    }
    // Its history stays: nobody empties the key to create it afresh, or hides a version.
    for who in ["Admin", "breakglass-deployment", "breakglass-gate", "breakglass-operator"] {
        for action in ["s3:DeleteObject", "s3:DeleteObjectVersion"] {
            assert_eq!(ask(who, action, &object, &[]), Decision::ExplicitDeny, "{who} {action}");
        }
    }

    // The registry of discovered buckets beside it: written by the enforcer's discovery alone.
    let registry = object.replace("breakglass.toml", "registry.json");
    assert_ne!(object, registry);
    let write_registry = |who: &str| put(who, &registry);
    for who in ["Admin", "breakglass-operator", "breakglass-notifier"] {
        assert_eq!(
            write_registry(&format!("arn:aws:iam::{ADMIN}:role/{who}")),
            Decision::ExplicitDeny,
            "{who}"
        );
    }
    assert_ne!(
        write_registry(&format!("arn:aws:iam::{ADMIN}:role/breakglass-enforcer")),
        Decision::ExplicitDeny
    );
    let (_, _, enforcer, _) = role("breakglass-enforcer");
    assert_eq!(
        as_admin_role(enforcer, "breakglass-enforcer", "s3:PutObject", &registry, ORG),
        Decision::Allow
    );
    assert_ne!(as_admin_role(enforcer, "breakglass-enforcer", "s3:PutObject", &object, ORG), Decision::Allow);
    // Discovery lists the accounts of the config's [[ou]]s (aws/src/config_source.rs, accounts_below),
    // and nothing else of the organisation.
    for action in ["organizations:ListAccountsForParent", "organizations:ListChildren"] {
        assert_eq!(
            as_admin_role(enforcer, "breakglass-enforcer", action, "*", ORG),
            Decision::Allow,
            "{action}"
        );
    }
    for action in
        ["organizations:ListAccounts", "organizations:MoveAccount", "organizations:DescribeOrganization"]
    {
        assert_eq!(
            as_admin_role(enforcer, "breakglass-enforcer", action, "*", ORG),
            Decision::ImplicitDeny,
            "{action}"
        );
    }
}

/// As in single-account mode: exact actions, and `*` only where AWS offers no resource to name
/// (Organizations' two read calls, CloudFormation's template check).
#[test]
fn administrative_roles_name_exact_actions_and_resources() {
    let free = [
        "organizations:DescribeOrganization",
        "organizations:ListAccounts",
        "organizations:ListAccountsForParent",
        "organizations:ListChildren",
        "cloudformation:ValidateTemplate",
        // ListBuckets (discovery, in the member role): names only, and AWS offers no resource.
        "s3:ListAllMyBuckets",
    ];
    for (logical, _, _, statements) in admin().roles().into_iter().chain(member().roles()) {
        for s in &statements {
            let list = |v: &serde_json::Value| -> Vec<String> {
                match v {
                    serde_json::Value::String(a) => vec![a.clone()],
                    serde_json::Value::Array(a) => {
                        a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect()
                    }
                    other => panic!("{other}"),
                }
            };
            let actions = list(&s["Action"]);
            assert!(
                actions.iter().all(|a| !a.contains('*') || a.ends_with("GenerateDataKey*")),
                "{logical}: {s}"
            );
            let resource_free = actions.iter().all(|a| free.contains(&a.as_str()));
            assert!(resource_free || list(&s["Resource"]).iter().all(|r| r != "*"), "{logical}: {s}");
        }
    }
}

/// AWS's size limits that organisation mode's stacks must stay under for the example organisation,
/// each failing with the limit and what to do: event patterns (2,048 characters by default) and the
/// functions' environment (4 KB in total; the config is not in it in organisation mode).
#[test]
fn the_organisation_stacks_fit_aws_limits() {
    for (t, rules) in [
        (
            member(),
            vec![
                "ForwardS3Changes",
                "ForwardInvestigatorChanges",
                "ForwardObjectReads",
                "ForwardLogKeyChanges",
            ],
        ),
        (
            admin(),
            vec![
                "ForwardedS3ChangesRule",
                "ForwardedRoleChangesRule",
                "ForwardedKeyChangesRule",
                "ForwardedReadsRule",
                "ForwardedRefusedCallsRule",
                "RefusedCallsRule",
            ],
        ),
    ] {
        for rule in rules {
            let size =
                t.resolve(&t.resources()[rule]["Properties"]["EventPattern"]).to_string().chars().count();
            eprintln!("{rule}: event pattern {size} characters");
            assert!(size <= 2048, "{rule}: event pattern of {size} characters is over EventBridge's 2,048: shorten the eventName list or ask for the 4,096 quota");
        }
    }
    let t = admin();
    for function in ["EnforcerFunction", "NotifierFunction", "CatalogFunction", "RecorderFunction"] {
        let vars = t.resolve(&t.resources()[function]["Properties"]["Environment"]["Variables"]);
        let size: usize =
            vars.as_object().unwrap().iter().map(|(k, v)| k.len() + v.as_str().map_or(0, str::len)).sum();
        eprintln!("{function}: environment {size} bytes");
        assert!(size <= 4096, "{function}: environment of {size} bytes is over Lambda's 4 KB: move values into the config object");
    }
}

/// Issue 22: the roles the SCP exempts (the member role, the deployers, StackSets' execution roles,
/// reachable from the administrative account) destroy no log object either: the deletion deny has
/// no exemption.
#[test]
fn nobody_deletes_a_log_object_not_even_an_exempt_role() {
    let (scp, _) = org_policies();
    let object = "arn:aws:s3:::acme-prod-cloudtrail-logs/AWSLogs/111122223333/CloudTrail/x.json.gz";
    let [deployment, stacksets] = deployers();
    for who in [INSIDER, member_role_arn().as_str(), deployment.as_str(), stacksets.as_str()] {
        for action in ["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:BypassGovernanceRetention"] {
            assert_eq!(ask(&scp, who, action, object), Decision::ExplicitDeny, "{who} {action}");
        }
    }
    assert_ne!(
        ask(&scp, INSIDER, "s3:DeleteObject", "arn:aws:s3:::payroll-exports/x"),
        Decision::ExplicitDeny
    );
}
