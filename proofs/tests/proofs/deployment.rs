//! deployment-role.yaml through the project's own evaluator: the role is the one the SCPs exempt
//! (its name comes from `DEPLOYMENT_ROLE`, the name the organisation's SCP is rendered with), it may
//! create every kind of resource template.yaml declares under breakglass's names, pass only
//! breakglass's roles and only to Lambda and Service Catalog, and it reads no log object and no
//! audit record, changes no log bucket and not itself.

use breakglass_core::organisation::DEPLOYMENT_ROLE;
use canonical_policies::{explain, Caller, Decision, Policy, Request, OBJECT_READ_ACTIONS};
use proofs::cfn::Template;
use proofs::{config, root};
use serde_json::{json, Value};

const ACCOUNT: &str = "111122223333";
const REGION: &str = "eu-central-1";
const DEPLOYER: &str = "arn:aws:iam::111122223333:role/Pipeline";

/// One question to the evaluator: (the resource it is for, action, resource ARN, request context).
type Ask = (String, &'static str, String, Vec<(&'static str, String)>);

fn deployment() -> Template {
    Template::load(
        &root().join("deployment-role.yaml"),
        ACCOUNT,
        REGION,
        &[("DeployerPrincipalArns", json!([DEPLOYER]))],
    )
}

/// The role's ARN and its inline policy with the role as principal.
fn role() -> (String, Policy, Vec<Value>) {
    let mut roles = deployment().roles();
    assert_eq!(roles.len(), 1, "one role");
    let (_, arn, policy, statements) = roles.remove(0);
    (arn, policy, statements)
}

/// As the deployment role, in the stack's Region, with the extra request context `with`.
fn may(policy: &Policy, arn: &str, action: &str, resource: &str, with: &[(&str, &str)]) -> Decision {
    let mut req =
        Request::new(Caller::parse(arn).unwrap(), action, resource, time::OffsetDateTime::now_utc())
            .with("aws:RequestedRegion", REGION);
    for (k, v) in with {
        req = req.with(k, v);
    }
    explain(policy, &req).decision
}

fn scp(file: &str) -> Policy {
    let text = std::fs::read_to_string(root().join("canonical-policies/scp").join(file)).unwrap();
    with_any_principal(&text)
}

fn with_any_principal(text: &str) -> Policy {
    let mut doc: Value = serde_json::from_str(text).unwrap();
    for s in doc["Statement"].as_array_mut().unwrap() {
        s["Principal"] = json!("*");
    }
    Policy::parse(doc.to_string().as_bytes()).unwrap()
}

#[test]
fn the_role_is_the_one_the_scps_exempt() {
    let t = deployment();
    let name = t.resources()["DeploymentRole"]["Properties"]["RoleName"].as_str().unwrap();
    assert_eq!(name, DEPLOYMENT_ROLE);
    let (arn, ..) = role();
    assert_eq!(arn, format!("arn:aws:iam::{ACCOUNT}:role/{DEPLOYMENT_ROLE}"));
    let admin = format!("arn:aws:iam::{ACCOUNT}:role/Admin");
    let ask = |p: &Policy, who: &str, action: &str, resource: &str| {
        let req =
            Request::new(Caller::parse(who).unwrap(), action, resource, time::OffsetDateTime::now_utc())
                .with("aws:PrincipalIsAWSService", "false");
        explain(p, &req).decision
    };
    // Single-account SCPs (static files): the stack and the roles' passing, only by this role.
    let stack = format!("arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/breakglass/1");
    let tampering = scp("deny-breakglass-tampering.json");
    let bypass = scp("deny-breakglass-bypass.json");
    let enforcer = format!("arn:aws:iam::{ACCOUNT}:role/breakglass-enforcer");
    for (p, action, resource) in [
        (&tampering, "cloudformation:ExecuteChangeSet", stack.as_str()),
        (&tampering, "cloudformation:DeleteStack", stack.as_str()),
        (&bypass, "iam:PassRole", enforcer.as_str()),
    ] {
        assert_eq!(ask(p, &admin, action, resource), Decision::ExplicitDeny, "{action}");
        assert_ne!(ask(p, &arn, action, resource), Decision::ExplicitDeny, "{action}");
    }
    // The organisation's SCP, rendered from examples/organisation.toml.
    let org = breakglass_config::Config::from_toml(
        &std::fs::read_to_string(root().join("examples/organisation.toml")).unwrap(),
    )
    .unwrap();
    let org_scp = with_any_principal(&breakglass_core::organisation::render(&org).unwrap().scp);
    let member = "arn:aws:iam::111100000000:role/breakglass-member";
    let deployment_there = format!("arn:aws:iam::111100000000:role/{name}");
    assert_eq!(
        ask(&org_scp, "arn:aws:iam::111100000000:role/Admin", "iam:PutRolePolicy", member),
        Decision::ExplicitDeny
    );
    assert_ne!(ask(&org_scp, &deployment_there, "iam:PutRolePolicy", member), Decision::ExplicitDeny);
}

#[test]
fn only_the_deployers_assume_it() {
    let trust = deployment().trust("DeploymentRole");
    let (arn, ..) = role();
    let assume = |who: &str, mfa: &str| {
        let req = Request::new(
            Caller::parse(who).unwrap(),
            "sts:AssumeRole",
            &arn,
            time::OffsetDateTime::now_utc(),
        )
        .with("aws:MultiFactorAuthPresent", mfa);
        explain(&trust, &req).decision
    };
    assert_eq!(assume(DEPLOYER, "true"), Decision::Allow);
    // RequireMfa defaults to "true".
    assert_ne!(assume(DEPLOYER, "false"), Decision::Allow);
    for other in [
        format!("arn:aws:iam::{ACCOUNT}:role/Admin"),
        format!("arn:aws:iam::{ACCOUNT}:role/breakglass-operator"),
        "arn:aws:iam::444455556666:role/Pipeline".to_owned(),
    ] {
        assert_ne!(assume(&other, "true"), Decision::Allow, "{other}");
    }
}

/// No `*` action, no service-wide `svc:*` allowed; a `*` resource only for the calls IAM gives no
/// resource (each listed here, so a new one is a decision someone made).
#[test]
fn least_privilege_no_wildcard_actions_and_star_resources_only_where_iam_has_none() {
    let (_, _, statements) = role();
    let without_resource = [
        "cloudformation:ValidateTemplate",
        "cloudformation:GetTemplateSummary",
        "lambda:CreateEventSourceMapping",
        "kms:CreateKey",
        "kms:TagResource",
        "organizations:DescribeOrganization",
        "organizations:ListAWSServiceAccessForOrganization",
        // StackSets checks that the caller's account is a delegated administrator (step 12).
        "organizations:ListDelegatedAdministrators",
        // `config seed` checks the organisation (step 11): its OUs are in the config, not the template.
        "organizations:ListAccounts",
        "organizations:ListAccountsForParent",
        "organizations:ListChildren",
    ];
    for s in statements.iter().filter(|s| s["Effect"] == "Allow") {
        let actions: Vec<&str> = match &s["Action"] {
            Value::String(a) => vec![a.as_str()],
            Value::Array(a) => a.iter().map(|a| a.as_str().unwrap()).collect(),
            other => panic!("{other}"),
        };
        for a in &actions {
            assert!(!a.contains('*'), "{}: wildcard action {a}", s["Sid"]);
        }
        let star = s["Resource"] == "*" || s["Resource"].as_array().is_some_and(|r| r.contains(&json!("*")));
        if star && !actions.iter().all(|a| a.starts_with("servicecatalog:")) {
            for a in &actions {
                assert!(without_resource.contains(a), "{}: {a} on `*`", s["Sid"]);
            }
            // KMS keys and event source mappings: told apart by a condition instead.
            if actions.iter().any(|a| a.starts_with("kms:") || a.starts_with("lambda:")) {
                assert!(s["Condition"].is_object(), "{}", s["Sid"]);
            }
        }
    }
    // IAM counts an inline policy without whitespace: at most 10,240 characters per role.
    let doc = deployment()
        .resolve(&deployment().resources()["DeploymentRole"]["Properties"]["Policies"][0]["PolicyDocument"]);
    let size = doc.to_string().len();
    assert!(size <= 10_240, "{size} characters");
}

#[test]
fn it_passes_only_breakglass_roles_and_only_to_lambda_and_service_catalog() {
    let (arn, policy, _) = role();
    let own = format!("arn:aws:iam::{ACCOUNT}:role/breakglass-enforcer");
    let pass = |role: &str, service: &str| {
        may(&policy, &arn, "iam:PassRole", role, &[("iam:PassedToService", service)])
    };
    assert_eq!(pass(&own, "lambda.amazonaws.com"), Decision::Allow);
    assert_eq!(
        pass(
            &format!("arn:aws:iam::{ACCOUNT}:role/breakglass-catalog-launch"),
            "servicecatalog.amazonaws.com"
        ),
        Decision::Allow
    );
    assert_ne!(pass(&own, "ec2.amazonaws.com"), Decision::Allow);
    assert_ne!(pass(&format!("arn:aws:iam::{ACCOUNT}:role/Admin"), "lambda.amazonaws.com"), Decision::Allow);
    assert_ne!(
        pass(&format!("arn:aws:iam::{ACCOUNT}:role/investigations/LogInvestigator"), "lambda.amazonaws.com"),
        Decision::Allow
    );
    // Not itself, in any way: whoever changes this role's policy holds all of it.
    for action in [
        "iam:PassRole",
        "iam:PutRolePolicy",
        "iam:UpdateAssumeRolePolicy",
        "iam:DeleteRole",
        "iam:AttachRolePolicy",
    ] {
        assert_eq!(
            may(&policy, &arn, action, &arn, &[("iam:PassedToService", "lambda.amazonaws.com")]),
            Decision::ExplicitDeny,
            "{action}"
        );
    }
}

#[test]
fn it_reads_no_log_object_and_no_record_and_changes_no_log_bucket() {
    let (arn, policy, _) = role();
    let audit = format!("arn:aws:s3:::breakglass-audit-{ACCOUNT}-{REGION}");
    for b in &config().buckets {
        let bucket = b.bucket_arn();
        for action in OBJECT_READ_ACTIONS {
            assert_ne!(
                may(&policy, &arn, action, &format!("{bucket}/AWSLogs/x.gz"), &[]),
                Decision::Allow,
                "{action}"
            );
            assert_ne!(
                may(&policy, &arn, action, &format!("{audit}/breakglass/x.json"), &[]),
                Decision::Allow,
                "{action}"
            );
        }
        for action in [
            "s3:PutBucketPolicy",
            "s3:PutBucketVersioning",
            "s3:PutLifecycleConfiguration",
            "s3:DeleteBucket",
        ] {
            assert_ne!(may(&policy, &arn, action, &bucket, &[]), Decision::Allow, "{action}");
        }
    }
    assert_ne!(
        may(&policy, &arn, "s3:PutObject", &format!("{audit}/breakglass/x.json"), &[]),
        Decision::Allow
    );
    assert_ne!(
        may(
            &policy,
            &arn,
            "events:PutEvents",
            &format!("arn:aws:events:{REGION}:{ACCOUNT}:event-bus/breakglass"),
            &[]
        ),
        Decision::Allow
    );
}

/// Every kind of resource template.yaml declares, created by the role under the name the template
/// gives it (a new kind fails here until the role may create it).
#[test]
fn it_creates_every_resource_of_the_stack() {
    let (arn, policy, _) = role();
    let stack = proofs::single_account_stack(ACCOUNT, REGION, &[]);
    let name = |logical: &str, key: &str| match stack.resolve(&stack.resources()[logical]["Properties"][key])
    {
        Value::String(s) => s,
        other => panic!("{logical}.{key}: {other}"),
    };
    let function = |n: &str| format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{n}");
    let tagged: [(&str, &str); 1] = [("aws:ResourceTag/breakglass", "true")];
    let mut asks: Vec<Ask> = Vec::new();
    let transform = format!("arn:aws:cloudformation:{REGION}:aws:transform/Serverless-2016-10-31");
    asks.push(("Transform".into(), "cloudformation:CreateChangeSet", transform, vec![]));
    let stack_arn = format!("arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/breakglass/1");
    asks.push(("Stack".into(), "cloudformation:ExecuteChangeSet", stack_arn, vec![]));
    for (k, r) in stack.resources().as_mapping().unwrap() {
        let logical = k.as_str().unwrap();
        let kind = r["Type"].as_str().unwrap();
        let mut ask = |action: &'static str, resource: String, ctx: Vec<(&'static str, String)>| {
            asks.push((logical.to_owned(), action, resource, ctx));
        };
        match kind {
            "AWS::CloudTrail::Trail" => ask(
                "cloudtrail:CreateTrail",
                format!("arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{}", name(logical, "TrailName")),
                vec![],
            ),
            "AWS::CloudWatch::Alarm" => ask(
                "cloudwatch:PutMetricAlarm",
                format!("arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{}", name(logical, "AlarmName")),
                vec![],
            ),
            "AWS::CloudWatch::Dashboard" => ask(
                "cloudwatch:PutDashboard",
                format!("arn:aws:cloudwatch::{ACCOUNT}:dashboard/{}", name(logical, "DashboardName")),
                vec![],
            ),
            "AWS::Events::EventBus" => ask("events:CreateEventBus", stack.arn_of(logical).1, vec![]),
            "AWS::Events::EventBusPolicy" => {
                ask("events:PutPermission", format!("arn:aws:events:{REGION}:{ACCOUNT}:event-bus/breakglass"), vec![])
            }
            "AWS::Events::Rule" => {
                // Without a Name, CloudFormation names a rule `<stack>-<logical id>-<suffix>`.
                let rule = r["Properties"]["Name"]
                    .as_str()
                    .map_or_else(|| format!("breakglass-{logical}-ABC123"), str::to_owned);
                let bus = if r["Properties"]["EventBusName"].is_null() { String::new() } else { "breakglass/".into() };
                ask("events:PutRule", format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/{bus}{rule}"), vec![]);
                ask("events:PutTargets", format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/{bus}{rule}"), vec![]);
            }
            "AWS::IAM::Role" => {
                ask("iam:CreateRole", stack.arn_of(logical).1, vec![]);
                ask("iam:PutRolePolicy", stack.arn_of(logical).1, vec![]);
            }
            "AWS::KMS::Alias" => ask(
                "kms:CreateAlias",
                format!("arn:aws:kms:{REGION}:{ACCOUNT}:{}", name(logical, "AliasName")),
                vec![],
            ),
            "AWS::KMS::Key" => {
                // The tag the role's KMS grants (and the SCP) tell breakglass's keys by.
                assert!(
                    r["Properties"]["Tags"].as_sequence().unwrap().iter().any(|t| t["Key"] == "breakglass" && t["Value"] == "true"),
                    "{logical}"
                );
                ask("kms:CreateKey", "*".into(), vec![("aws:RequestTag/breakglass", "true".into())]);
                for action in ["kms:EnableKeyRotation", "kms:CreateAlias", "kms:Encrypt", "kms:CreateGrant"] {
                    ask(action, stack.arn_of(logical).1, vec![(tagged[0].0, tagged[0].1.into())]);
                }
            }
            "AWS::Lambda::Permission" => ask("lambda:AddPermission", function(&name(logical, "FunctionName")), vec![]),
            "AWS::Logs::LogGroup" => ask("logs:CreateLogGroup", stack.arn_of(logical).1, vec![]),
            "AWS::S3::Bucket" => {
                let bucket = stack.arn_of(logical).1;
                assert_eq!(bucket, format!("arn:aws:s3:::{}", name(logical, "BucketName")));
                for action in ["s3:CreateBucket", "s3:PutBucketVersioning", "s3:PutBucketObjectLockConfiguration", "s3:PutEncryptionConfiguration", "s3:PutBucketPublicAccessBlock", "s3:PutBucketOwnershipControls", "s3:PutLifecycleConfiguration"] {
                    ask(action, bucket.clone(), vec![]);
                }
            }
            "AWS::S3::BucketPolicy" => ask("s3:PutBucketPolicy", format!("arn:aws:s3:::{}", name(logical, "Bucket")), vec![]),
            "AWS::SNS::Subscription" => ask("sns:Subscribe", name(logical, "TopicArn"), vec![]),
            "AWS::SNS::Topic" => ask("sns:CreateTopic", stack.arn_of(logical).1, vec![]),
            "AWS::SNS::TopicPolicy" => {
                for topic in stack.resolve(&r["Properties"]["Topics"]).as_array().unwrap() {
                    ask("sns:SetTopicAttributes", topic.as_str().unwrap().to_owned(), vec![]);
                }
            }
            "AWS::SQS::Queue" => ask("sqs:CreateQueue", stack.arn_of(logical).1, vec![]),
            "AWS::SQS::QueuePolicy" => {
                let queues = stack.resolve(&r["Properties"]["Queues"]);
                for url in queues.as_array().unwrap() {
                    let queue = url.as_str().unwrap().rsplit('/').next().unwrap();
                    ask("sqs:SetQueueAttributes", format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}"), vec![]);
                }
            }
            "AWS::Serverless::Function" => {
                let f = function(&name(logical, "FunctionName"));
                ask("lambda:CreateFunction", f.clone(), vec![]);
                ask("lambda:PutFunctionEventInvokeConfig", f.clone(), vec![]);
                ask("lambda:PutFunctionConcurrency", f.clone(), vec![]);
                ask("iam:PassRole", name(logical, "Role"), vec![("iam:PassedToService", "lambda.amazonaws.com".into())]);
                ask("lambda:CreateEventSourceMapping", "*".into(), vec![("lambda:FunctionArn", f.clone())]);
                // SAM makes a `FunctionUrlConfig` an `AWS::Lambda::Url` (the gate's URL). Regression:
                // the role could not create it, so the first deploy failed.
                if !r["Properties"]["FunctionUrlConfig"].is_null() {
                    for action in ["lambda:CreateFunctionUrlConfig", "lambda:GetFunctionUrlConfig", "lambda:UpdateFunctionUrlConfig", "lambda:DeleteFunctionUrlConfig"] {
                        ask(action, f.clone(), vec![]);
                    }
                }
            }
            "AWS::ServiceCatalog::CloudFormationProduct" => ask("servicecatalog:CreateProduct", "*".into(), vec![]),
            "AWS::ServiceCatalog::Portfolio" => ask("servicecatalog:CreatePortfolio", "*".into(), vec![]),
            "AWS::ServiceCatalog::PortfolioPrincipalAssociation" => {
                ask("servicecatalog:AssociatePrincipalWithPortfolio", "*".into(), vec![])
            }
            "AWS::ServiceCatalog::PortfolioProductAssociation" => {
                ask("servicecatalog:AssociateProductWithPortfolio", "*".into(), vec![])
            }
            "AWS::ServiceCatalog::LaunchRoleConstraint" => {
                ask("servicecatalog:CreateConstraint", "*".into(), vec![]);
                let launch = format!("arn:aws:iam::{ACCOUNT}:role/{}", name(logical, "LocalRoleName"));
                ask("iam:PassRole", launch, vec![("iam:PassedToService", "servicecatalog.amazonaws.com".into())]);
            }
            other => panic!("{logical}: resource type {other} is not in deployment-role.yaml's proof: grant it there and here"),
        }
    }
    assert!(asks.len() > 60, "{}", asks.len());
    for (logical, action, resource, ctx) in &asks {
        let ctx: Vec<(&str, &str)> = ctx.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(
            may(&policy, &arn, action, resource, &ctx),
            Decision::Allow,
            "{logical}: {action} on {resource}"
        );
    }
}

/// One question to the evaluator as the deployment role: action, resource, request context.
type Question<'a> = (&'a str, String, Vec<(&'a str, &'a str)>);

/// Regression (first-day review): after the deploy the docs send the deployment role to confirm the
/// subscriptions, create the investigator roles, seed the first config and save an attacked key,
/// and the SCPs leave each of these to it alone; the role could do none of them.
#[test]
fn regression_the_deployment_role_can_do_what_the_docs_ask_of_it_after_the_deploy() {
    let (arn, policy, _) = role();
    let tagged = |tag: &'static str| vec![(tag, "true")];
    let key = format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab");
    let config_bucket = format!("arn:aws:s3:::breakglass-config-{ACCOUNT}-{REGION}");
    let audit_bucket = format!("arn:aws:s3:::breakglass-audit-{ACCOUNT}-{REGION}");
    let via_s3 = format!("s3.{REGION}.amazonaws.com");
    let investigator = format!("arn:aws:iam::{ACCOUNT}:role/investigations/LogInvestigator");
    let allowed: Vec<Question> = vec![
        (
            "sns:ConfirmSubscription",
            format!("arn:aws:sns:{REGION}:{ACCOUNT}:breakglass-notifications"),
            vec![],
        ),
        ("s3:ListBucket", config_bucket.clone(), vec![]),
        ("s3:PutObject", format!("{config_bucket}/breakglass.toml"), vec![]),
        (
            "kms:GenerateDataKey",
            key.clone(),
            vec![
                ("aws:ResourceTag/breakglass", "true"),
                ("kms:ViaService", &via_s3),
                ("kms:EncryptionContext:aws:s3:arn", &config_bucket),
            ],
        ),
        (
            "kms:Decrypt",
            key.clone(),
            vec![
                ("aws:ResourceTag/breakglass", "true"),
                ("kms:ViaService", &via_s3),
                ("kms:EncryptionContext:aws:s3:arn", &config_bucket),
            ],
        ),
        ("kms:CancelKeyDeletion", key.clone(), tagged("aws:ResourceTag/breakglass")),
        ("kms:CancelKeyDeletion", key.clone(), tagged("aws:ResourceTag/breakglass-logs")),
        ("kms:PutKeyPolicy", key.clone(), tagged("aws:ResourceTag/breakglass-logs")),
        ("iam:CreateRole", investigator.clone(), vec![]),
        ("iam:PutRolePolicy", investigator.clone(), vec![]),
        (
            "sqs:DeleteMessage",
            format!("arn:aws:sqs:{REGION}:{ACCOUNT}:breakglass-reads-dead-letters"),
            vec![],
        ),
        (
            "lambda:CreateFunctionUrlConfig",
            format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:breakglass-gate"),
            vec![],
        ),
    ];
    for (action, resource, ctx) in &allowed {
        assert_eq!(may(&policy, &arn, action, resource, ctx), Decision::Allow, "{action} on {resource}");
    }
    // Not beyond: the data key only through S3, no managed policy on an investigator role, no
    // other role's path, no log key's deletion.
    let denied: Vec<Question> = vec![
        ("kms:Decrypt", key.clone(), tagged("aws:ResourceTag/breakglass")),
        // Through S3, but for another bucket's objects (the audit trail's).
        (
            "kms:Decrypt",
            key.clone(),
            vec![
                ("aws:ResourceTag/breakglass", "true"),
                ("kms:ViaService", &via_s3),
                ("kms:EncryptionContext:aws:s3:arn", &audit_bucket),
            ],
        ),
        ("iam:AttachRolePolicy", investigator.clone(), vec![]),
        ("iam:CreateRole", format!("arn:aws:iam::{ACCOUNT}:role/Admin"), vec![]),
        ("kms:ScheduleKeyDeletion", key.clone(), tagged("aws:ResourceTag/breakglass-logs")),
    ];
    for (action, resource, ctx) in &denied {
        assert_ne!(may(&policy, &arn, action, resource, ctx), Decision::Allow, "{action} on {resource}");
    }
    // Its managed policy is the deployment's alone to change: an administrator cannot widen or cut
    // it (the inline one is a `breakglass-*` role's, which `DenyStackChanges` already covers).
    let bypass = scp("deny-breakglass-bypass.json");
    let operations = format!("arn:aws:iam::{ACCOUNT}:policy/breakglass-deployment-operations");
    for action in [
        "iam:CreatePolicyVersion",
        "iam:SetDefaultPolicyVersion",
        "iam:DeletePolicyVersion",
        "iam:DeletePolicy",
    ] {
        let admin = Request::new(
            Caller::parse(&format!("arn:aws:iam::{ACCOUNT}:role/Admin")).unwrap(),
            action,
            &operations,
            time::OffsetDateTime::now_utc(),
        );
        assert_eq!(explain(&bypass, &admin).decision, Decision::ExplicitDeny, "{action}");
    }
    // A managed policy holds at most 6,144 characters without white space.
    let managed = deployment()
        .resolve(&deployment().resources()["DeploymentOperationsPolicy"]["Properties"]["PolicyDocument"]);
    assert!(managed.to_string().len() <= 6_144, "{}", managed.to_string().len());
}
