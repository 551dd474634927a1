//! What a deployment allows, as template.yaml renders it: each role's identity policy, the template's
//! resource policies and the single-account SCPs, and AWS's answer for one call.

use std::collections::{BTreeMap, HashMap};

use canonical_policies::{explain, Caller, Decision, Policy, Request};
use serde_json::{json, Value};

use super::Call;

/// What the deployment allows: each role's identity policy and the SCPs, as rendered.
pub struct Deployment {
    pub(super) account: String,
    pub(super) region: String,
    roles: HashMap<String, Policy>,
    scps: Vec<Policy>,
    /// KMS alias ARN → the ARN of the key it names: IAM authorises a call by alias against the key.
    aliases: HashMap<String, String>,
    /// Each role's inline statements as the template renders them (role ARN → statements).
    statements: BTreeMap<String, Vec<Value>>,
    /// The template's resource policies (queues, bus, its own buckets), by the ARN they guard; a
    /// bucket's also guards its objects.
    resource_policies: Vec<(String, Policy)>,
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
    /// template.yaml in single-account mode for `buckets`, with the two single-account SCPs.
    pub fn single_account(account: &str, region: &str, buckets: &[String]) -> Deployment {
        let t = proofs::single_account_stack(account, region, &[("ProtectedBuckets", json!(buckets))]);
        let mut roles = HashMap::new();
        let mut statements = BTreeMap::new();
        for (_, arn, policy, raw) in t.roles() {
            roles.insert(arn.clone(), policy);
            statements.insert(arn, raw);
        }
        let scps = ["deny-breakglass-tampering.json", "deny-breakglass-bypass.json"]
            .iter()
            .map(|f| {
                let text =
                    std::fs::read_to_string(crate::root().join("canonical-policies/scp").join(f)).unwrap();
                let mut doc: Value = serde_json::from_str(&text).unwrap();
                for s in doc["Statement"].as_array_mut().unwrap() {
                    s["Principal"] = json!("*");
                }
                Policy::parse(doc.to_string().as_bytes()).unwrap()
            })
            .collect();
        let mut aliases = HashMap::new();
        for (_, r) in t.resources().as_mapping().unwrap() {
            if r["Type"].as_str() == Some("AWS::KMS::Alias") {
                let name = r["Properties"]["AliasName"].as_str().unwrap();
                let id = t.resolve(&r["Properties"]["TargetKeyId"]);
                let id = id.as_str().unwrap();
                aliases.insert(
                    format!("arn:aws:kms:{region}:{account}:{name}"),
                    format!("arn:aws:kms:{region}:{account}:key/{id}"),
                );
            }
        }
        let resource_policies = resource_policies(&t, account, region);
        Deployment {
            account: account.to_owned(),
            region: region.to_owned(),
            roles,
            scps,
            aliases,
            statements,
            resource_policies,
        }
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

    /// AWS's answer for `role` making `call`, given the bucket policy in force (if the call is on a
    /// bucket or object that has one): `Err` names the policy that refuses.
    pub fn authorise(
        &self,
        role: &str,
        function: Option<&str>,
        call: &Call,
        bucket_policy: Option<&Policy>,
    ) -> Result<(), String> {
        // STS answers who the caller is to everyone, whatever the policies say.
        if call.action == "sts:GetCallerIdentity" {
            return Ok(());
        }
        let caller = Caller::parse(role).map_err(|e| e.to_string())?;
        let target = self.aliases.get(&call.resource).unwrap_or(&call.resource);
        let mut req = Request::new(caller, &call.action, target, time::OffsetDateTime::now_utc());
        if let Some(function) = function {
            // Lambda sets it on every call made with a function's execution-role credentials.
            let arn = format!("arn:aws:lambda:{}:{}:function:{function}", self.region, self.account);
            req = req.with("lambda:SourceFunctionArn", &arn);
        }
        let mut req = req
            .with("aws:RequestedRegion", &self.region)
            .with("aws:PrincipalAccount", &self.account)
            .with("aws:PrincipalIsAWSService", "false")
            .with("aws:SecureTransport", "true");
        for (k, v) in &call.context {
            req = req.with(k, v);
        }
        let refused =
            |by: &str, d: &Decision| Err(format!("{role} {} on {}: {d} by {by}", call.action, call.resource));
        for scp in &self.scps {
            let d = explain(scp, &req).decision;
            if matches!(d, Decision::ExplicitDeny | Decision::Unknown) {
                return refused("an SCP", &d);
            }
        }
        let identity =
            self.roles.get(role).map(|p| explain(p, &req).decision).unwrap_or(Decision::ImplicitDeny);
        if matches!(identity, Decision::ExplicitDeny | Decision::Unknown) {
            return refused("the role's identity policy", &identity);
        }
        let resource = bucket_policy.map(|p| explain(p, &req).decision);
        if let Some(d @ (Decision::ExplicitDeny | Decision::Unknown)) = &resource {
            return refused("the bucket policy", d);
        }
        let mut resource_allows = resource == Some(Decision::Allow);
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
                Decision::Allow => resource_allows = true,
                _ => {}
            }
        }
        // Same account: either policy's allow is enough (the resource's only if it names the role).
        if identity == Decision::Allow || resource_allows {
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
        let refused = d.authorise(notifier, Some("breakglass-notifier"), &call, None).unwrap_err();
        assert!(
            refused.contains("explicit-deny by the template's policy on arn:aws:s3:::breakglass-audit"),
            "{refused}"
        );
    }
}
