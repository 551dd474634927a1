//! A CloudFormation template as the evaluator sees it: the intrinsic functions the breakglass
//! templates use (Ref, GetAtt .Arn, Sub, Join, Split) resolved with example values, and every role
//! turned into policies the project's evaluator can answer (identity statements with the role as
//! principal; the trust policy as it stands).

#![allow(clippy::string_slice)] // template text is ASCII; a panic fails the test, which is the point

use std::collections::BTreeMap;
use std::path::Path;

use canonical_policies::Policy;
use serde_json::{json, Value};
use serde_norway::Value as Yaml;

/// What `!Ref AWS::NoValue` resolves to until the mapping or sequence around it drops it.
const NO_VALUE: &str = "\u{0}AWS::NoValue";

/// One template with the account, Region and parameter values it is deployed with.
pub struct Template {
    pub doc: Yaml,
    account: String,
    region: String,
    params: BTreeMap<String, Value>,
}

/// A role of the template: logical id, ARN, identity policy (role as principal), raw statements.
pub type Role = (String, String, Policy, Vec<Value>);

impl Template {
    pub fn load(path: &Path, account: &str, region: &str, params: &[(&str, Value)]) -> Template {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Template {
            doc: serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
            account: account.to_owned(),
            region: region.to_owned(),
            params: params.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect(),
        }
    }

    pub fn resources(&self) -> &Yaml {
        &self.doc["Resources"]
    }

    /// What a resource's `Ref` and `Fn::GetAtt .Arn` give, for the types the roles refer to.
    pub fn arn_of(&self, logical: &str) -> (String, String) {
        let (account, region) = (&self.account, &self.region);
        let r = &self.resources()[logical];
        let p = &r["Properties"];
        let s = |k: &str| p[k].as_str().unwrap_or(logical).to_owned();
        match r["Type"].as_str().unwrap_or_else(|| panic!("no resource {logical}")) {
            "AWS::Events::EventBus" => {
                (s("Name"), format!("arn:aws:events:{region}:{account}:event-bus/{}", s("Name")))
            }
            "AWS::SNS::Topic" => {
                let arn = format!("arn:aws:sns:{region}:{account}:{}", s("TopicName"));
                (arn.clone(), arn)
            }
            "AWS::Events::Rule" => {
                // A rule on a named bus has the bus in its ARN; on the default bus, not.
                let bus = match &p["EventBusName"] {
                    Yaml::Null => String::new(),
                    named => self.resolve(named).as_str().map(|b| format!("{b}/")).unwrap_or_default(),
                };
                let arn = format!("arn:aws:events:{region}:{account}:rule/{bus}{}", s("Name"));
                (s("Name"), arn)
            }
            "AWS::SQS::Queue" => (
                format!("https://sqs.{region}.amazonaws.com/{account}/{}", s("QueueName")),
                format!("arn:aws:sqs:{region}:{account}:{}", s("QueueName")),
            ),
            "AWS::S3::Bucket" => {
                let name = format!(
                    "breakglass-{}-{account}-{region}",
                    logical.trim_end_matches("Bucket").to_lowercase()
                );
                (name.clone(), format!("arn:aws:s3:::{name}"))
            }
            "AWS::Logs::LogGroup" => (
                s("LogGroupName"),
                format!("arn:aws:logs:{region}:{account}:log-group:{}:*", s("LogGroupName")),
            ),
            "AWS::KMS::Key" => ("key-id".into(), format!("arn:aws:kms:{region}:{account}:key/key-id")),
            "AWS::Serverless::Function" => (
                s("FunctionName"),
                format!("arn:aws:lambda:{region}:{account}:function:{}", s("FunctionName")),
            ),
            "AWS::IAM::Role" => (s("RoleName"), format!("arn:aws:iam::{account}:role/{}", s("RoleName"))),
            "AWS::ServiceCatalog::CloudFormationProduct" => {
                // Product IDs are `prod-` and 13 characters.
                let id = format!("prod-{:0<13}", logical.to_lowercase().chars().take(13).collect::<String>());
                (id.clone(), format!("arn:aws:catalog:{region}:{account}:product/{id}"))
            }
            other => panic!("no example value for {logical} ({other})"),
        }
    }

    /// The value of condition `name` of the template's `Conditions`.
    pub fn condition(&self, name: &str) -> bool {
        let c = &self.doc["Conditions"][name];
        assert!(!c.is_null(), "no condition {name}");
        self.truth(c)
    }

    fn truth(&self, v: &Yaml) -> bool {
        let Yaml::Tagged(t) = v else { panic!("condition {v:?}") };
        let args = || t.value.as_sequence().unwrap();
        match t.tag.to_string().trim_start_matches('!') {
            "Equals" => self.resolve(&args()[0]) == self.resolve(&args()[1]),
            "Not" => !self.truth(&args()[0]),
            "And" => args().iter().all(|a| self.truth(a)),
            "Or" => args().iter().any(|a| self.truth(a)),
            "Condition" => self.condition(t.value.as_str().unwrap()),
            other => panic!("condition function {other} is not modelled"),
        }
    }

    /// Whether resource `logical` exists for these parameters (its `Condition`, if any, holds).
    pub fn exists(&self, logical: &str) -> bool {
        let r = &self.resources()[logical];
        !r.is_null() && r["Condition"].as_str().is_none_or(|c| self.condition(c))
    }

    fn reference(&self, name: &str) -> Value {
        match name {
            "AWS::NoValue" => json!(NO_VALUE),
            "AWS::AccountId" => json!(self.account),
            "AWS::Region" => json!(self.region),
            "AWS::Partition" => json!("aws"),
            other => match (self.params.get(other), &self.doc["Parameters"][other]) {
                (Some(v), _) => v.clone(),
                // A parameter left out takes its default, as CloudFormation does.
                (None, p) if !p.is_null() => {
                    let default =
                        p["Default"].as_str().unwrap_or_else(|| panic!("parameter {other} needs a value"));
                    match p["Type"].as_str() {
                        Some("CommaDelimitedList") => json!(default.split(',').collect::<Vec<_>>()),
                        _ => json!(default),
                    }
                }
                (None, _) => json!(self.arn_of(other).0),
            },
        }
    }

    fn substitute(&self, text: &str, vars: &BTreeMap<String, String>) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').unwrap() + start;
            let name = &rest[start + 2..end];
            let value = match (vars.get(name), name.split_once('.')) {
                (Some(v), _) => v.clone(),
                (None, Some((logical, "Arn"))) => self.arn_of(logical).1,
                (None, _) => match self.reference(name) {
                    Value::String(s) => s,
                    other => panic!("${{{name}}} is {other}"),
                },
            };
            out.push_str(&value);
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        out
    }

    /// Evaluates the intrinsic functions of `v` with the example values.
    pub fn resolve(&self, v: &Yaml) -> Value {
        match v {
            Yaml::Tagged(t) => match t.tag.to_string().trim_start_matches('!') {
                "Ref" => self.reference(t.value.as_str().unwrap()),
                "If" => {
                    let args = t.value.as_sequence().unwrap();
                    self.resolve(&args[if self.condition(args[0].as_str().unwrap()) { 1 } else { 2 }])
                }
                "GetAtt" => {
                    let target = t.value.as_str().unwrap();
                    let (logical, attr) = target.split_once('.').unwrap();
                    assert_eq!(attr, "Arn", "{target}");
                    json!(self.arn_of(logical).1)
                }
                "Sub" => match &t.value {
                    Yaml::String(s) => json!(self.substitute(s, &BTreeMap::new())),
                    Yaml::Sequence(args) => {
                        let vars = args[1]
                            .as_mapping()
                            .unwrap()
                            .iter()
                            .map(|(k, v)| {
                                let value = match self.resolve(v) {
                                    Value::String(s) => s,
                                    other => panic!("{other}"),
                                };
                                (k.as_str().unwrap().to_owned(), value)
                            })
                            .collect();
                        json!(self.substitute(args[0].as_str().unwrap(), &vars))
                    }
                    other => panic!("{other:?}"),
                },
                "Join" => {
                    let args = t.value.as_sequence().unwrap();
                    let items = self.resolve(&args[1]);
                    let parts: Vec<String> =
                        items.as_array().unwrap().iter().map(|i| i.as_str().unwrap().to_owned()).collect();
                    json!(parts.join(args[0].as_str().unwrap()))
                }
                "Split" => {
                    let args = t.value.as_sequence().unwrap();
                    let text = self.resolve(&args[1]);
                    json!(text.as_str().unwrap().split(args[0].as_str().unwrap()).collect::<Vec<_>>())
                }
                other => panic!("intrinsic {other} is not modelled"),
            },
            // `!Ref AWS::NoValue` removes the key or item it stands for.
            Yaml::Mapping(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.as_str().unwrap().to_owned(), self.resolve(v)))
                    .filter(|(_, v)| v != NO_VALUE)
                    .collect(),
            ),
            Yaml::Sequence(s) => {
                Value::Array(s.iter().map(|v| self.resolve(v)).filter(|v| v != NO_VALUE).collect())
            }
            Yaml::String(s) => json!(s),
            Yaml::Bool(b) => json!(b.to_string()),
            Yaml::Number(n) => json!(n.to_string()),
            Yaml::Null => Value::Null,
        }
    }

    /// Every role of the template, its inline statements as a principal policy of the role.
    pub fn roles(&self) -> Vec<Role> {
        let mut out = Vec::new();
        for (k, r) in self.resources().as_mapping().unwrap() {
            let logical = k.as_str().unwrap().to_owned();
            if r["Type"].as_str() != Some("AWS::IAM::Role") || !self.exists(&logical) {
                continue;
            }
            let arn = self.arn_of(&logical).1;
            let mut statements = Vec::new();
            let name = self.arn_of(&logical).0;
            // Its inline policies, then the managed policies of the template attached to it (IAM
            // caps a role's inline policies at 10,240 characters in all).
            let inline = r["Properties"]["Policies"].as_sequence().into_iter().flatten();
            let managed = self.resources().as_mapping().unwrap().iter().filter_map(|(m, p)| {
                let attached = p["Type"].as_str() == Some("AWS::IAM::ManagedPolicy")
                    && self.exists(m.as_str().unwrap())
                    && self
                        .resolve(&p["Properties"]["Roles"])
                        .as_array()
                        .is_some_and(|rs| rs.contains(&json!(name)));
                attached.then_some(&p["Properties"])
            });
            for p in inline.chain(managed) {
                let doc = self.resolve(&p["PolicyDocument"]);
                for s in doc["Statement"].as_array().unwrap() {
                    statements.push(s.clone());
                }
            }
            // An identity policy applies to its role: the same statements with the role as principal.
            let with_principal: Vec<Value> = statements
                .iter()
                .map(|s| {
                    let mut s = s.clone();
                    s["Principal"] = json!({ "AWS": arn });
                    s
                })
                .collect();
            let text = json!({ "Version": "2012-10-17", "Statement": with_principal }).to_string();
            let policy = Policy::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{logical}: {e}\n{text}"));
            out.push((logical, arn, policy, statements));
        }
        out
    }

    /// The trust policy of role `logical`, with `sts:AssumeRole` on the role as its resource.
    pub fn trust(&self, logical: &str) -> Policy {
        let mut doc = self.resolve(&self.resources()[logical]["Properties"]["AssumeRolePolicyDocument"]);
        let arn = self.arn_of(logical).1;
        for s in doc["Statement"].as_array_mut().unwrap() {
            s["Resource"] = json!(arn);
        }
        Policy::parse(doc.to_string().as_bytes()).unwrap_or_else(|e| panic!("{logical}: {e}\n{doc}"))
    }
}
