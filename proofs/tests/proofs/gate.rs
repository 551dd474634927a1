//! The gate (issue 21): the operator role calls it through its IAM-authenticated function URL and
//! in no other way; the gate's role holds what the gate does (the protected buckets' policies, its
//! records in the audit trail signed with the records' key, the bus) and nothing else.

use canonical_policies::{explain, Caller, Decision, Request};

use super::template::{decide_from, resource_policy, role_may, roles, scp, ACCOUNT, ADMIN, REGION};
use proofs::config;

fn gate() -> String {
    format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:breakglass-gate")
}

/// `who` (with `policy`) invokes the gate: through its URL with `auth`, or directly (`None`).
fn invoke(policy: &canonical_policies::Policy, who: &str, action: &str, url: Option<&str>) -> Decision {
    let mut req = Request::new(Caller::parse(who).unwrap(), action, &gate(), time::OffsetDateTime::now_utc());
    if let Some(auth) = url {
        req = req.with("lambda:FunctionUrlAuthType", auth).with("lambda:InvokedViaFunctionUrl", "true");
    }
    explain(policy, &req).decision
}

#[test]
fn the_operator_calls_the_gate_through_its_url_only() {
    let roles = roles();
    let (_, operator, policy, _) = roles.iter().find(|(l, ..)| l == "OperatorRole").unwrap();
    assert_eq!(invoke(policy, operator, "lambda:InvokeFunctionUrl", Some("AWS_IAM")), Decision::Allow);
    assert_eq!(invoke(policy, operator, "lambda:InvokeFunction", Some("AWS_IAM")), Decision::Allow);
    // Not an unauthenticated URL, and not a direct invocation, which could hand the gate any caller.
    assert_eq!(invoke(policy, operator, "lambda:InvokeFunctionUrl", Some("NONE")), Decision::ImplicitDeny);
    assert_eq!(invoke(policy, operator, "lambda:InvokeFunction", None), Decision::ImplicitDeny);
    // The SCP denies a direct invocation to everyone, administrators included; the URL stays open.
    let bypass = scp("deny-breakglass-bypass.json");
    assert_eq!(invoke(&bypass, ADMIN, "lambda:InvokeFunction", None), Decision::ExplicitDeny);
    assert_ne!(invoke(&bypass, operator, "lambda:InvokeFunction", Some("AWS_IAM")), Decision::ExplicitDeny);
}

/// Regression (insider review): Lambda authorises an invocation of a version or alias against the
/// qualified ARN, which the SCP's exact `function:breakglass-gate` did not match: an administrator
/// invoked `breakglass-gate:$LATEST` (or a version they published) with a hand-made function-URL
/// event naming another operator, and forged that operator's approval. Every breakglass function
/// is now denied under any qualifier, and publishing versions, aliases or URLs is the deployment's.
#[test]
fn regression_a_qualified_arn_does_not_invoke_a_breakglass_function() {
    let bypass = scp("deny-breakglass-bypass.json");
    let tampering = scp("deny-breakglass-tampering.json");
    let at = |f: &str| format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:breakglass-{f}");
    let direct = |arn: &str, action: &str, policy: &canonical_policies::Policy| {
        let req = Request::new(Caller::parse(ADMIN).unwrap(), action, arn, time::OffsetDateTime::now_utc());
        explain(policy, &req).decision
    };
    for f in ["gate", "catalog", "enforcer", "notifier", "recorder"] {
        for qualifier in ["", ":$LATEST", ":1", ":live"] {
            let arn = format!("{}{qualifier}", at(f));
            assert_eq!(direct(&arn, "lambda:InvokeFunction", &bypass), Decision::ExplicitDeny, "{arn}");
        }
        for action in [
            "lambda:PublishVersion",
            "lambda:CreateAlias",
            "lambda:UpdateAlias",
            "lambda:CreateFunctionUrlConfig",
            "lambda:UpdateFunctionUrlConfig",
            "lambda:DeleteFunctionUrlConfig",
        ] {
            assert_eq!(direct(&at(f), action, &tampering), Decision::ExplicitDeny, "{action} on {f}");
        }
        // Nor are the functions' log lines (a refusal the gate logged) deleted.
        let stream = format!(
            "arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/breakglass-{f}:log-stream:2026/12/07/abc"
        );
        assert_eq!(direct(&stream, "logs:DeleteLogStream", &tampering), Decision::ExplicitDeny, "{stream}");
    }
}

#[test]
fn the_gate_role_holds_what_the_gate_needs_and_nothing_else() {
    let roles = roles();
    let audit = format!("arn:aws:s3:::breakglass-audit-{ACCOUNT}-{REGION}");
    let record = format!("{audit}/breakglass/acme-cloudtrail-logs/r.json");
    let record_key = format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/key-id");
    let bus = format!("arn:aws:events:{REGION}:{ACCOUNT}:event-bus/breakglass");
    let may = |action: &str, resource: &str| role_may(&roles, "GateRole", action, resource);
    for b in &config().buckets {
        assert_eq!(may("s3:GetBucketPolicy", &b.bucket_arn()), Decision::Allow, "{}", b.name);
        assert_eq!(may("s3:PutBucketPolicy", &b.bucket_arn()), Decision::Allow, "{}", b.name);
        for action in ["s3:DeleteBucketPolicy", "s3:PutLifecycleConfiguration", "s3:PutBucketVersioning"] {
            assert_eq!(may(action, &b.bucket_arn()), Decision::ImplicitDeny, "{action}");
        }
        let object = format!("{}/AWSLogs/{ACCOUNT}/CloudTrail/x.json.gz", b.bucket_arn());
        assert_eq!(may("s3:GetObject", &object), Decision::ImplicitDeny);
    }
    assert_eq!(may("s3:PutBucketPolicy", "arn:aws:s3:::someone-elses-bucket"), Decision::ImplicitDeny);
    // Its own records, written and read back, signed and verified.
    for action in ["s3:PutObject", "s3:GetObject"] {
        assert_eq!(may(action, &record), Decision::Allow, "{action}");
    }
    assert_eq!(may("s3:DeleteObject", &record), Decision::ImplicitDeny);
    for action in ["kms:GenerateMac", "kms:VerifyMac"] {
        assert_eq!(may(action, &record_key), Decision::Allow, "{action}");
    }
    assert_eq!(may("events:PutEvents", &bus), Decision::Allow);
    // Nothing of the other functions' work: no mail of its own, no trust policies, no queue.
    assert_eq!(
        may("sns:Publish", &format!("arn:aws:sns:{REGION}:{ACCOUNT}:breakglass-notifications")),
        Decision::ImplicitDeny
    );
    let investigator = "arn:aws:iam::111122223333:role/investigations/LogInvestigator";
    assert_eq!(may("iam:UpdateAssumeRolePolicy", investigator), Decision::ImplicitDeny);
    // Outside its own function the role can do nothing of this.
    let (_, arn, policy, _) = roles.iter().find(|(l, ..)| l == "GateRole").unwrap();
    let bucket = config().buckets[0].bucket_arn();
    assert_eq!(decide_from(policy, arn, "s3:PutBucketPolicy", &bucket, None), Decision::ImplicitDeny);
    assert_eq!(decide_from(policy, arn, "kms:GenerateMac", &record_key, None), Decision::ImplicitDeny);
}

/// The resource policies admit the gate where it writes: the audit bucket, the record key, the bus.
#[test]
fn the_resource_policies_admit_the_gate_where_it_writes() {
    let gate_role = format!("arn:aws:iam::{ACCOUNT}:role/breakglass-gate");
    let record =
        format!("arn:aws:s3:::breakglass-audit-{ACCOUNT}-{REGION}/breakglass/acme-cloudtrail-logs/r.json");
    let audit = resource_policy("AuditBucketPolicy", &["PolicyDocument"]);
    let key = resource_policy("RecordKey", &["KeyPolicy"]);
    let bus = resource_policy("EventBusPolicy", &["Statement"]);
    let own = Some(gate());
    let decide = |p: &canonical_policies::Policy, action: &str, resource: &str| {
        decide_from(p, &gate_role, action, resource, own.as_deref())
    };
    assert_ne!(decide(&audit, "s3:PutObject", &record), Decision::ExplicitDeny);
    assert_ne!(
        decide(&key, "kms:GenerateMac", &format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/key-id")),
        Decision::ExplicitDeny
    );
    let bus_arn = format!("arn:aws:events:{REGION}:{ACCOUNT}:event-bus/breakglass");
    assert_ne!(decide(&bus, "events:PutEvents", &bus_arn), Decision::ExplicitDeny);
}

/// Issue 21, attack 2 (two people who are one): as rendered with its default, the operator role's
/// trust admits an IAM user only under their own user name as the session name, so one person
/// cannot request as `alice` and approve as `bob`; `Unbound` is the deployer's knowing choice.
#[test]
fn the_operator_trust_refuses_a_session_name_the_caller_chose() {
    let users = [format!("arn:aws:iam::{ACCOUNT}:user/alice"), format!("arn:aws:iam::{ACCOUNT}:user/bob")];
    let assume = |param: Option<&str>, user: &str, name: &str, session: &str| {
        let mut extra = vec![("OperatorPrincipalArns", serde_json::json!(users))];
        extra.extend(param.map(|p| ("OperatorSessionName", serde_json::json!(p))));
        let trust = proofs::single_account_stack(ACCOUNT, REGION, &extra).trust("OperatorRole");
        let req = Request::new(
            Caller::parse(user).unwrap(),
            "sts:AssumeRole",
            &format!("arn:aws:iam::{ACCOUNT}:role/breakglass-operator"),
            time::OffsetDateTime::now_utc(),
        )
        .with("aws:MultiFactorAuthPresent", "true")
        .with("aws:username", name)
        .with("sts:RoleSessionName", session);
        explain(&trust, &req).decision.may_allow()
    };
    let (alice, bob) = (users[0].as_str(), users[1].as_str());
    // The default: IamUserName.
    assert!(assume(None, alice, "alice", "alice"));
    assert!(assume(None, bob, "bob", "bob"));
    assert!(!assume(None, alice, "alice", "bob"), "alice may not be bob");
    assert!(!assume(None, alice, "alice", "alice2"));
    assert!(!assume(Some("IamUserName"), bob, "bob", "alice"));
    // Unbound, chosen knowingly (docs/deploy.md): no condition on the name.
    assert!(assume(Some("Unbound"), alice, "alice", "anything"));
}

/// Issue 21, one person is one identity, for federated operators (SAML or OIDC): with
/// `OperatorSessionName=SourceIdentity` the session name must be the source identity the identity
/// provider set at sign-in, which no session down the chain can change; a session without one, or
/// one that says it had no MFA, is refused.
#[test]
fn with_source_identity_the_session_name_is_the_one_the_identity_provider_set() {
    let federated = format!("arn:aws:iam::{ACCOUNT}:role/LogTeamFederated");
    let trust = proofs::single_account_stack(
        ACCOUNT,
        REGION,
        &[
            ("OperatorPrincipalArns", serde_json::json!([federated])),
            ("OperatorSessionName", serde_json::json!("SourceIdentity")),
        ],
    )
    .trust("OperatorRole");
    let caller = format!("arn:aws:sts::{ACCOUNT}:assumed-role/LogTeamFederated/whatever");
    let assume = |action: &str, source: Option<&str>, session: &str, mfa: Option<&str>| {
        let mut req = Request::new(
            Caller::parse(&caller).unwrap(),
            action,
            &format!("arn:aws:iam::{ACCOUNT}:role/breakglass-operator"),
            time::OffsetDateTime::now_utc(),
        )
        .with("sts:RoleSessionName", session);
        if let Some(s) = source {
            req = req.with("aws:SourceIdentity", s).with("sts:SourceIdentity", s);
        }
        if let Some(m) = mfa {
            req = req.with("aws:MultiFactorAuthPresent", m);
        }
        explain(&trust, &req).decision.may_allow()
    };
    assert!(assume("sts:AssumeRole", Some("alice@example.com"), "alice@example.com", None));
    assert!(assume("sts:SetSourceIdentity", Some("alice@example.com"), "alice@example.com", None));
    assert!(assume("sts:AssumeRole", Some("alice@example.com"), "alice@example.com", Some("true")));
    assert!(
        !assume("sts:AssumeRole", Some("alice@example.com"), "bob@example.com", None),
        "alice may not be bob"
    );
    assert!(!assume("sts:AssumeRole", None, "bob@example.com", None), "no source identity, no session");
    // A caller without one cannot set it here itself (`--source-identity bob`): the trust compares
    // with the source identity the caller's session already has, not the one it asks for.
    let chosen = Request::new(
        Caller::parse(&caller).unwrap(),
        "sts:AssumeRole",
        &format!("arn:aws:iam::{ACCOUNT}:role/breakglass-operator"),
        time::OffsetDateTime::now_utc(),
    )
    .with("sts:RoleSessionName", "bob@example.com")
    .with("sts:SourceIdentity", "bob@example.com");
    assert!(!explain(&trust, &chosen).decision.may_allow(), "a source identity of one's own choosing");
    assert!(!assume("sts:AssumeRole", Some("alice@example.com"), "alice@example.com", Some("false")));
    // The other modes do not let a source identity be passed on.
    for mode in ["IamUserName", "Unbound"] {
        let trust = proofs::single_account_stack(
            ACCOUNT,
            REGION,
            &[
                ("OperatorPrincipalArns", serde_json::json!([federated])),
                ("OperatorSessionName", serde_json::json!(mode)),
            ],
        )
        .trust("OperatorRole");
        let req = Request::new(
            Caller::parse(&caller).unwrap(),
            "sts:SetSourceIdentity",
            &format!("arn:aws:iam::{ACCOUNT}:role/breakglass-operator"),
            time::OffsetDateTime::now_utc(),
        );
        assert!(!explain(&trust, &req).decision.may_allow(), "{mode}");
    }
}

/// Issue 21, IAM Identity Center: the gate admits a permission set's own sessions (which AWS names
/// after the person) only when the deployer names the permission set, as the gate reads the list.
#[test]
fn the_gate_admits_an_identity_center_permission_set_only_when_named() {
    let roles = |extra: &[(&str, serde_json::Value)]| {
        let t = proofs::single_account_stack(ACCOUNT, REGION, extra);
        let v = t.resolve(
            &t.resources()["GateFunction"]["Properties"]["Environment"]["Variables"]["BREAKGLASS_GATE_ROLES"],
        );
        v.as_str().unwrap().split(',').map(str::to_owned).collect::<Vec<_>>()
    };
    let sso = format!(
        "arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_BreakglassOperator_0123456789abcdef/alice@example.com"
    );
    let operator = format!("arn:aws:sts::{ACCOUNT}:assumed-role/breakglass-operator/alice");
    let default = roles(&[]);
    assert_eq!(default, ["breakglass-operator"]);
    assert!(breakglass_core::access::gate::caller(&sso, &default).is_err());
    let named = roles(&[("IdentityCenterPermissionSet", serde_json::json!("BreakglassOperator"))]);
    assert_eq!(breakglass_core::access::gate::caller(&sso, &named).unwrap().person, "alice@example.com");
    assert!(breakglass_core::access::gate::caller(&operator, &named).is_ok());
}

/// The gate tells an Identity Center session by its role's name, and an assumed-role ARN shows no
/// path: nobody (an administrator of the administrative account included) may create a role named
/// like Identity Center's, at any path, or re-point the trust of one, and then assume it under any
/// session name, or change the SAML provider those roles trust. Identity Center makes its roles and
/// provider through its service-linked role, which no SCP binds.
#[test]
fn nobody_mints_a_role_named_like_identity_centers() {
    let bypass = super::template::scp("deny-breakglass-bypass.json");
    for role in [
        format!("arn:aws:iam::{ACCOUNT}:role/AWSReservedSSO_BreakglassOperator_0123456789abcdef"),
        format!("arn:aws:iam::{ACCOUNT}:role/impostors/AWSReservedSSO_BreakglassOperator_0123456789abcdef"),
    ] {
        for action in ["iam:CreateRole", "iam:UpdateAssumeRolePolicy"] {
            for who in [ADMIN, "arn:aws:iam::111122223333:role/breakglass-deployment"] {
                assert_eq!(
                    decide_from(&bypass, who, action, &role, None),
                    Decision::ExplicitDeny,
                    "{who} {action} {role}"
                );
            }
        }
    }
    // Nor re-points the sign-in provider Identity Center's roles trust (its service-linked role,
    // which no SCP binds, manages it), to sign in under any name.
    let provider = format!("arn:aws:iam::{ACCOUNT}:saml-provider/AWSSSO_0123456789abcdef_DO_NOT_DELETE");
    for action in ["iam:UpdateSAMLProvider", "iam:DeleteSAMLProvider", "iam:CreateSAMLProvider"] {
        assert_eq!(decide_from(&bypass, ADMIN, action, &provider, None), Decision::ExplicitDeny, "{action}");
    }
    let other = format!("arn:aws:iam::{ACCOUNT}:role/SomeTeamRole");
    assert_ne!(decide_from(&bypass, ADMIN, "iam:CreateRole", &other, None), Decision::ExplicitDeny);
    let own_idp = format!("arn:aws:iam::{ACCOUNT}:saml-provider/CorporateIdP");
    assert_ne!(decide_from(&bypass, ADMIN, "iam:UpdateSAMLProvider", &own_idp, None), Decision::ExplicitDeny);
}
