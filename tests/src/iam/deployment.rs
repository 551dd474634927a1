//! What a deployment allows, as template.yaml renders it: each role's identity policy, the template's
//! resource policies and the single-account SCPs, and AWS's answer for one call.

use std::collections::{BTreeMap, HashMap};

use canonical_policies::{explain, Caller, Decision, Policy, Request};
use serde_json::{json, Value};

use super::Call;

/// What the deployment allows: each role's identity policy and trust, the SCPs and (organisation
/// mode) the RCP, as rendered.
pub struct Deployment {
    /// The stack's account (the administrative account in organisation mode) and Region.
    pub(super) account: String,
    pub(super) region: String,
    roles: HashMap<String, Policy>,
    /// Each role's trust policy, by role ARN: the resource policy of `sts:AssumeRole` on it.
    trusts: HashMap<String, Policy>,
    /// The SCPs attached to the stack's account.
    scps: Vec<Policy>,
    /// Organisation mode: the organisation's id and its rendered SCP and RCP, attached at the root.
    pub(super) org: Option<Organisation>,
    /// KMS alias ARN → the ARN of the key it names: IAM authorises a call by alias against the key.
    aliases: HashMap<String, String>,
    /// KMS alias ARN → the key policy of the key it names. Every key of a template renders as
    /// `key/key-id`, so a key is told from another by the alias the project calls it by.
    key_policies: HashMap<String, Policy>,
    /// The templates' KMS keys' tags, by key ARN (`aws:ResourceTag/<key>`).
    tags: HashMap<String, Vec<(String, String)>>,
    /// Organisation mode: each protected bucket's account, as the config names it (S3's ARNs name
    /// none; AWS knows the owner).
    owners: HashMap<String, String>,
    /// Each role's inline statements as the template renders them (role ARN → statements).
    statements: BTreeMap<String, Vec<Value>>,
    /// The templates' resource policies (queues, bus, its own buckets), by the ARN they guard; a
    /// bucket's also guards its objects.
    resource_policies: Vec<(String, Policy)>,
}

/// The organisation's policies, as `breakglass org render-policies` renders them from the config.
pub(super) struct Organisation {
    id: String,
    /// `[organisation] bucket_prefix`, which member.yaml takes.
    prefix: String,
    scp: Policy,
    rcp: Policy,
}

/// A rendered SCP or RCP as the evaluator takes it: every statement applies to every principal.
fn attached(text: &str) -> Policy {
    let mut doc: Value = serde_json::from_str(text).unwrap();
    for s in doc["Statement"].as_array_mut().unwrap() {
        s["Principal"] = json!("*");
    }
    Policy::parse(doc.to_string().as_bytes()).unwrap()
}

/// Whether resource control policies apply to `action`'s service: S3, STS, SQS, KMS, Secrets Manager.
fn rcp_applies(action: &str) -> bool {
    let service = action.split(':').next().unwrap_or_default();
    ["s3", "sts", "sqs", "kms", "secretsmanager"].contains(&service)
}

/// The account an ARN names (`None` for S3's, which name none).
fn account_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

/// The resource policies template `t` declares, resolved, by the ARN of what they guard.
fn resource_policies(t: &proofs::cfn::Template, account: &str, region: &str) -> Vec<(String, Policy)> {
    let mut by_arn: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (logical, r) in t.resources().as_mapping().unwrap() {
        let logical = logical.as_str().unwrap();
        if !t.exists(logical) {
            continue;
        }
        let p = &r["Properties"];
        let (arns, doc): (Vec<String>, Value) = match r["Type"].as_str().unwrap_or_default() {
            "AWS::SQS::QueuePolicy" => {
                let urls = t.resolve(&p["Queues"]);
                let arns = urls
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(Value::as_str)
                    .filter_map(|u| {
                        let mut parts = u.rsplit('/');
                        let (name, owner) = (parts.next()?, parts.next()?);
                        let region = u.split('.').nth(1)?;
                        Some(format!("arn:aws:sqs:{region}:{owner}:{name}"))
                    })
                    .collect();
                (arns, t.resolve(&p["PolicyDocument"]))
            }
            "AWS::Events::EventBusPolicy" => {
                let bus = t.resolve(&p["EventBusName"]);
                let bus = bus.as_str().unwrap();
                let arn = if bus.starts_with("arn:") {
                    bus.to_owned()
                } else {
                    format!("arn:aws:events:{region}:{account}:event-bus/{bus}")
                };
                (vec![arn], json!({ "Statement": [t.resolve(&p["Statement"])] }))
            }
            "AWS::SNS::TopicPolicy" => {
                let topics = t.resolve(&p["Topics"]);
                let arns =
                    topics.as_array().unwrap().iter().filter_map(Value::as_str).map(str::to_owned).collect();
                (arns, t.resolve(&p["PolicyDocument"]))
            }
            "AWS::S3::BucketPolicy" => {
                let bucket = t.resolve(&p["Bucket"]);
                (vec![format!("arn:aws:s3:::{}", bucket.as_str().unwrap())], t.resolve(&p["PolicyDocument"]))
            }
            _ => continue,
        };
        for arn in arns {
            by_arn.entry(arn).or_default().extend(doc["Statement"].as_array().cloned().unwrap_or_default());
        }
    }
    by_arn
        .into_iter()
        .map(|(arn, statements)| {
            let doc = json!({ "Version": "2012-10-17", "Statement": statements });
            let policy =
                Policy::parse(doc.to_string().as_bytes()).unwrap_or_else(|e| panic!("{arn}: {e}\n{doc}"));
            (arn, policy)
        })
        .collect()
}

impl Deployment {
    fn empty(account: &str, region: &str) -> Deployment {
        Deployment {
            account: account.to_owned(),
            region: region.to_owned(),
            roles: HashMap::new(),
            trusts: HashMap::new(),
            scps: ["deny-breakglass-tampering.json", "deny-breakglass-bypass.json"]
                .iter()
                .map(|f| {
                    attached(
                        &std::fs::read_to_string(crate::root().join("canonical-policies/scp").join(f))
                            .unwrap(),
                    )
                })
                .collect(),
            org: None,
            aliases: HashMap::new(),
            key_policies: HashMap::new(),
            tags: HashMap::new(),
            owners: HashMap::new(),
            statements: BTreeMap::new(),
            resource_policies: Vec::new(),
        }
    }

    /// Adds what template `t`, deployed in `account` and `region`, grants and guards.
    fn add(&mut self, t: &proofs::cfn::Template, account: &str, region: &str) {
        for (logical, arn, policy, raw) in t.roles() {
            self.trusts.insert(arn.clone(), t.trust(&logical));
            self.roles.insert(arn.clone(), policy);
            self.statements.insert(arn, raw);
        }
        for (logical, r) in t.resources().as_mapping().unwrap() {
            if r["Type"].as_str() == Some("AWS::KMS::Key") {
                let arn = t.arn_of(logical.as_str().unwrap()).1;
                let tags = t.resolve(&r["Properties"]["Tags"]);
                for tag in tags.as_array().into_iter().flatten() {
                    if let (Some(k), Some(v)) = (tag["Key"].as_str(), tag["Value"].as_str()) {
                        // Every key of a template is `key-id` here: one tag once.
                        let tags = self.tags.entry(arn.clone()).or_default();
                        if !tags.iter().any(|(tk, _)| tk == k) {
                            tags.push((k.to_owned(), v.to_owned()));
                        }
                    }
                }
            }
            if r["Type"].as_str() == Some("AWS::KMS::Alias") {
                let name = r["Properties"]["AliasName"].as_str().unwrap();
                let id = t.resolve(&r["Properties"]["TargetKeyId"]);
                let id = id.as_str().unwrap();
                let alias = format!("arn:aws:kms:{region}:{account}:{name}");
                self.aliases.insert(alias.clone(), format!("arn:aws:kms:{region}:{account}:key/{id}"));
                let key = match &r["Properties"]["TargetKeyId"] {
                    serde_norway::Value::Tagged(t) if t.tag == "Ref" => t.value.as_str().unwrap(),
                    other => panic!("{name}: TargetKeyId is not a !Ref: {other:?}"),
                };
                let doc = t.resolve(&t.resources()[key]["Properties"]["KeyPolicy"]);
                let policy =
                    Policy::parse(doc.to_string().as_bytes()).unwrap_or_else(|e| panic!("{key}: {e}\n{doc}"));
                self.key_policies.insert(alias, policy);
            }
        }
        self.resource_policies.extend(resource_policies(t, account, region));
    }

    /// template.yaml in single-account mode for `buckets`, with the two single-account SCPs.
    pub fn single_account(account: &str, region: &str, buckets: &[String]) -> Deployment {
        let t = proofs::single_account_stack(account, region, &[("ProtectedBuckets", json!(buckets))]);
        let mut d = Deployment::empty(account, region);
        d.add(&t, account, region);
        d
    }

    /// Organisation mode for `config`: template.yaml as the administrative stack and
    /// deployment-role.yaml beside it (with the two single-account SCPs on that account,
    /// docs/deploy.md step 13), member.yaml in every logging
    /// account the config names, and the organisation's SCP and RCP as rendered from the config,
    /// attached at the root.
    pub fn organisation(config: &breakglass_config::Config) -> Deployment {
        let o = config.organisation.as_ref().expect("an organisation config");
        let (admin, home) = (o.admin_account.as_str(), o.home_region.as_str());
        let role = |name: &str| json!(format!("arn:aws:iam::{admin}:role/{name}"));
        let stack = proofs::cfn::Template::load(
            &crate::root().join("template.yaml"),
            admin,
            home,
            &[
                ("OrganizationId", json!(o.id)),
                ("OperatorPrincipalArns", json!([role("LogTeam")])),
                ("CatalogPrincipalArn", role("LogTeam")),
                ("ProductTemplateBaseUrl", json!("https://example.com/products/")),
                ("StakeholderEmail", json!("works-council@example.com")),
                ("SecurityEmail", json!("security-team@example.com")),
                ("ProtectedBucketPrefix", json!(o.bucket_prefix)),
            ],
        );
        let mut d = Deployment::empty(admin, home);
        d.add(&stack, admin, home);
        // The deployment role (`config seed` writes the first config with it).
        let deployer = proofs::cfn::Template::load(
            &crate::root().join("deployment-role.yaml"),
            admin,
            home,
            &[("DeployerPrincipalArns", json!([role("LogTeam")])), ("RequireMfa", json!("false"))],
        );
        d.add(&deployer, admin, home);
        let rendered = breakglass_core::organisation::render(config).unwrap();
        d.org = Some(Organisation {
            id: o.id.clone(),
            prefix: o.bucket_prefix.clone(),
            scp: attached(&rendered.scp),
            rcp: attached(&rendered.rcp),
        });
        d.owners = config.buckets.iter().map(|b| (b.name.clone(), b.account.clone())).collect();
        let members: std::collections::BTreeSet<&str> =
            config.buckets.iter().map(|b| b.account.as_str()).filter(|a| *a != admin).collect();
        for member in members {
            d.add_member(member);
        }
        d
    }

    /// member.yaml deployed in `account` (StackSets does so in each account of the logging OUs,
    /// also in one that joins later). Nothing in single-account mode.
    pub fn add_member(&mut self, account: &str) {
        let Some(o) = &self.org else { return };
        let (admin, home) = (self.account.clone(), self.region.clone());
        let t = proofs::cfn::Template::load(
            &crate::root().join("organisation/member.yaml"),
            account,
            &home,
            &[
                ("AdministrativeAccountId", json!(admin)),
                ("OrganizationId", json!(o.id)),
                ("HomeRegion", json!(home)),
                ("ProtectedBucketPrefix", json!(o.prefix)),
                ("InvestigatorRolePath", json!("/investigations/")),
            ],
        );
        self.add(&t, account, &home);
    }

    /// The account that owns protected bucket `bucket` (organisation mode).
    pub(super) fn owner_of(&self, bucket: &str) -> Option<&str> {
        self.owners.get(bucket).map(String::as_str)
    }

    /// The ARN (path included) of the role named `name` in `account`, if the deployment defines it.
    pub(super) fn role_named(&self, account: &str, name: &str) -> Option<String> {
        self.roles
            .keys()
            .find(|arn| account_of(arn) == Some(account) && arn.rsplit('/').next() == Some(name))
            .cloned()
    }

    /// Each role's allowed (statement id, action pattern) pairs as the template renders them, by role ARN.
    pub fn grants(&self) -> BTreeMap<String, Vec<(String, String)>> {
        let list = |v: &Value| -> Vec<String> {
            match v {
                Value::String(x) => vec![x.clone()],
                Value::Array(xs) => xs.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
                _ => Vec::new(),
            }
        };
        self.statements
            .iter()
            .map(|(role, statements)| {
                let grants = statements
                    .iter()
                    .filter(|s| s["Effect"] == "Allow")
                    .flat_map(|s| {
                        let sid = s["Sid"].as_str().unwrap_or_default().to_owned();
                        list(&s["Action"]).into_iter().map(move |a| (sid.clone(), a))
                    })
                    .collect();
                (role.clone(), grants)
            })
            .collect()
    }

    /// Whether the deployment defines the role `arn` (its identity policies are known).
    pub fn defines(&self, arn: &str) -> bool {
        self.roles.contains_key(arn)
    }

    /// AWS's answer for `role` making `call` in `region`, given the bucket policy in force (if the
    /// call is on a bucket or object that has one): `Err` names the policy that refuses. A call on a
    /// resource of another account needs the allow of both the role's policy and the resource's
    /// (a bucket policy, a template's resource policy, a role's trust).
    pub fn authorise(
        &self,
        role: &str,
        function: Option<&str>,
        call: &Call,
        bucket_policy: Option<&Policy>,
        region: &str,
    ) -> Result<(), String> {
        // STS answers who the caller is to everyone, whatever the policies say.
        if call.action == "sts:GetCallerIdentity" {
            return Ok(());
        }
        let caller = Caller::parse(role).map_err(|e| e.to_string())?;
        let target = self.aliases.get(&call.resource).unwrap_or(&call.resource);
        let principal_account = account_of(role).unwrap_or(&self.account);
        // S3's ARNs name no account: a protected bucket is its configured account's, any other the
        // caller's (each account's S3 in moto).
        let resource_account = account_of(target)
            .or_else(|| self.owner_of(target.strip_prefix("arn:aws:s3:::")?.split('/').next()?))
            .unwrap_or(principal_account);
        let mut req = Request::new(caller, &call.action, target, time::OffsetDateTime::now_utc());
        if let Some(function) = function {
            // Lambda sets it on every call made with a function's execution-role credentials.
            let arn = format!("arn:aws:lambda:{}:{}:function:{function}", self.region, self.account);
            req = req.with("lambda:SourceFunctionArn", &arn);
        }
        let mut req = req
            .with("aws:RequestedRegion", region)
            .with("aws:PrincipalAccount", principal_account)
            .with("aws:ResourceAccount", resource_account)
            .with("aws:PrincipalIsAWSService", "false")
            .with("aws:SecureTransport", "true");
        for (k, v) in self.tags.get(target).into_iter().flatten() {
            req = req.with(&format!("aws:ResourceTag/{k}"), v);
        }
        if call.action.starts_with("s3:") {
            // S3 sets it on every request: the account that owns the bucket.
            req = req.with("s3:ResourceAccount", resource_account);
        }
        if let Some(org) = &self.org {
            req = req.with("aws:PrincipalOrgID", &org.id).with("aws:ResourceOrgID", &org.id);
        }
        for (k, v) in &call.context {
            req = req.with(k, v);
        }
        let refused =
            |by: &str, d: &Decision| Err(format!("{role} {} on {}: {d} by {by}", call.action, call.resource));
        let on_principal =
            if principal_account == self.account { self.scps.iter().collect() } else { vec![] };
        let org = self.org.iter();
        for (what, policy) in on_principal
            .into_iter()
            .map(|p| ("an SCP", p))
            .chain(org.clone().map(|o| ("the organisation's SCP", &o.scp)))
            // RCPs apply to the resources of a few services only (AWS Organizations' user guide).
            .chain(org.filter(|_| rcp_applies(&call.action)).map(|o| ("the organisation's RCP", &o.rcp)))
        {
            let d = explain(policy, &req).decision;
            if matches!(d, Decision::ExplicitDeny | Decision::Unknown) {
                return refused(what, &d);
            }
        }
        let identity =
            self.roles.get(role).map(|p| explain(p, &req).decision).unwrap_or(Decision::ImplicitDeny);
        if matches!(identity, Decision::ExplicitDeny | Decision::Unknown) {
            return refused("the role's identity policy", &identity);
        }
        // A resource policy allows outright, or through the caller's account (its root as
        // principal) when the caller's own policy allows too.
        let grants = |d: &Decision| match d {
            Decision::Allow => true,
            Decision::AllowIfIdentityAllows { account } => {
                account == principal_account && identity == Decision::Allow
            }
            _ => false,
        };
        let resource = bucket_policy.map(|p| explain(p, &req).decision);
        if let Some(d @ (Decision::ExplicitDeny | Decision::Unknown)) = &resource {
            return refused("the bucket policy", d);
        }
        let mut resource_allows = resource.as_ref().is_some_and(grants);
        if call.action == "sts:AssumeRole" {
            match self.trusts.get(target).map(|t| explain(t, &req).decision) {
                Some(d @ (Decision::ExplicitDeny | Decision::Unknown)) => {
                    return refused(&format!("the trust of {target}"), &d)
                }
                Some(d) if grants(&d) => resource_allows = true,
                // A role the deployment does not define, or a trust that does not admit the caller.
                _ => return refused(&format!("the trust of {target}"), &Decision::ImplicitDeny),
            }
        }
        if call.action.starts_with("kms:") {
            // A KMS key's policy is always consulted, in the key's own account too: without its
            // allow (to the caller, or to the account's root and then the caller's own policy)
            // nothing is allowed (AWS KMS developer guide, "Key policies").
            let Some(key_policy) = self.key_policies.get(&call.resource) else {
                return refused(
                    "no key policy the deployment knows (call keys by alias)",
                    &Decision::ImplicitDeny,
                );
            };
            // Its allow counts as the resource's: across accounts the caller's own policy must
            // allow as well (checked below).
            match explain(key_policy, &req).decision {
                d @ (Decision::ExplicitDeny | Decision::Unknown) => return refused("the key policy", &d),
                d if grants(&d) => resource_allows = true,
                d => return refused("the key policy (no allow)", &d),
            }
        }
        for (arn, policy) in &self.resource_policies {
            let guards =
                target == arn || target.strip_prefix(arn.as_str()).is_some_and(|rest| rest.starts_with('/'));
            if !guards {
                continue;
            }
            match explain(policy, &req).decision {
                d @ (Decision::ExplicitDeny | Decision::Unknown) => {
                    return refused(&format!("the template's policy on {arn}"), &d)
                }
                d if grants(&d) => resource_allows = true,
                _ => {}
            }
        }
        if principal_account != resource_account {
            // Across accounts both must allow.
            if identity != Decision::Allow {
                return refused("the role's identity policy (no allow)", &identity);
            }
            if !resource_allows {
                return refused(
                    &format!("the resource's policy in {resource_account} (no allow)"),
                    &Decision::ImplicitDeny,
                );
            }
            return Ok(());
        }
        // Same account: either policy's allow is enough (the resource's only if it names the role);
        // assuming a role always needs its trust.
        if resource_allows || (identity == Decision::Allow && call.action != "sts:AssumeRole") {
            Ok(())
        } else {
            refused("the role's identity policy (no allow)", &identity)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_s_resource_policies_are_found_by_what_they_guard() {
        let d = Deployment::single_account("111122223333", "eu-central-1", &["acme-logs".to_owned()]);
        let arns: Vec<&str> = d.resource_policies.iter().map(|(a, _)| a.as_str()).collect();
        for arn in [
            "arn:aws:events:eu-central-1:111122223333:event-bus/breakglass",
            "arn:aws:sqs:eu-central-1:111122223333:breakglass-reads",
            "arn:aws:sqs:eu-central-1:111122223333:breakglass-sweep",
            "arn:aws:s3:::breakglass-audit-111122223333-eu-central-1",
        ] {
            assert!(arns.contains(&arn), "{arn} not in {arns:#?}");
        }
        // The audit bucket's policy refuses what the template says it refuses, through the proxy's path.
        let call = Call {
            operation: "PutObject".into(),
            action: "s3:PutObject".into(),
            resource: "arn:aws:s3:::breakglass-audit-111122223333-eu-central-1/breakglass/_sweeps/x.json"
                .into(),
            context: vec![],
        };
        let notifier = "arn:aws:iam::111122223333:role/breakglass-notifier";
        let refused =
            d.authorise(notifier, Some("breakglass-notifier"), &call, None, "eu-central-1").unwrap_err();
        assert!(
            refused.contains("explicit-deny by the template's policy on arn:aws:s3:::breakglass-audit"),
            "{refused}"
        );
    }
}

#[cfg(test)]
mod keys {
    use super::*;

    fn mac(key: &str) -> Call {
        Call {
            operation: "GenerateMac".into(),
            action: "kms:GenerateMac".into(),
            resource: format!("arn:aws:kms:eu-central-1:111122223333:{key}"),
            context: vec![],
        }
    }

    /// The record key's policy is consulted in its own account: only the roles it names sign,
    /// and a key the deployment cannot tell is refused rather than waved through.
    #[test]
    fn the_record_key_s_policy_decides_who_signs() {
        let d = Deployment::single_account("111122223333", "eu-central-1", &["acme-logs".to_owned()]);
        let role = |name: &str| format!("arn:aws:iam::111122223333:role/{name}");
        let sign =
            |name: &str, key: &str| d.authorise(&role(name), Some(name), &mac(key), None, "eu-central-1");
        assert_eq!(sign("breakglass-notifier", "alias/breakglass-records"), Ok(()));
        let err = sign("breakglass-enforcer", "alias/breakglass-records").unwrap_err();
        assert!(err.contains("explicit-deny by the key policy"), "{err}");
        let err = sign("breakglass-notifier", "key/1234abcd-12ab-34cd-56ef-1234567890ab").unwrap_err();
        assert!(err.contains("no key policy the deployment knows"), "{err}");
    }
}

#[cfg(test)]
mod organisation {
    use super::*;

    fn deployment() -> Deployment {
        let text = std::fs::read_to_string(crate::root().join("examples/organisation.toml")).unwrap();
        Deployment::organisation(&breakglass_config::Config::from_toml(&text).unwrap())
    }

    fn assume(session: &str) -> Call {
        Call {
            operation: "AssumeRole".into(),
            action: "sts:AssumeRole".into(),
            resource: "arn:aws:iam::111100000000:role/breakglass-member".into(),
            context: vec![("sts:RoleSessionName".into(), session.into())],
        }
    }

    #[test]
    fn the_enforcer_assumes_the_member_role_only_under_its_own_session_name() {
        let d = deployment();
        let enforcer = "arn:aws:iam::999900000000:role/breakglass-enforcer";
        let ok = d.authorise(
            enforcer,
            Some("breakglass-enforcer"),
            &assume("breakglass-enforcer"),
            None,
            "eu-central-1",
        );
        assert_eq!(ok, Ok(()));
        let err = d
            .authorise(
                enforcer,
                Some("breakglass-enforcer"),
                &assume("breakglass-catalog"),
                None,
                "eu-central-1",
            )
            .unwrap_err();
        assert!(err.contains("by the trust of arn:aws:iam::111100000000:role/breakglass-member"), "{err}");
    }

    /// S3's ARNs name no account: the proxy takes the owner from the config, so that a member
    /// session that reached another account's bucket is refused as AWS would refuse it.
    #[test]
    fn a_member_session_reaches_only_its_own_accounts_buckets() {
        let d = deployment();
        let read = |bucket: &str| Call {
            operation: "GetBucketPolicy".into(),
            action: "s3:GetBucketPolicy".into(),
            resource: format!("arn:aws:s3:::{bucket}"),
            context: vec![],
        };
        let prod = "arn:aws:iam::111100000000:role/breakglass-member";
        assert_eq!(d.authorise(prod, None, &read("acme-prod-cloudtrail-logs"), None, "eu-central-1"), Ok(()));
        let err =
            d.authorise(prod, None, &read("acme-dev-cloudtrail-logs"), None, "eu-central-1").unwrap_err();
        assert!(err.contains("by the role's identity policy"), "{err}");
    }
}
