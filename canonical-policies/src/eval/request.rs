//! Who asks for what: the caller, the request, and the context keys they imply.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use super::Context;
use crate::policy::is_account_id;
use crate::template::format_expiry;
use crate::Arn;
use crate::Quoted;

/// Who makes the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Anonymous,
    /// An AWS service principal such as `cloudtrail.amazonaws.com`.
    Service(String),
    Root {
        partition: String,
        account: String,
    },
    User {
        arn: String,
        account: String,
    },
    /// A session of this role (`aws:PrincipalArn` is the role ARN, path included).
    Role {
        arn: String,
        account: String,
        name: String,
    },
    /// An assumed-role session ARN. Its role path is unknown, so `aws:PrincipalArn` is unknown unless
    /// the request's context gives it.
    Session {
        arn: String,
        account: String,
        role: String,
    },
}

/// A request that names no real action or resource: it would be answered as if it were one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidRequest {
    #[error("invalid action {}: expected `service:Name`, e.g. `s3:GetObject`", Quoted(.0))]
    Action(String),
    #[error("invalid resource {}: expected an arn, e.g. `arn:aws:s3:::bucket/key`", Quoted(.0))]
    Resource(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot read principal {}: expected an iam user, role, root or assumed-role arn, a service such as `cloudtrail.amazonaws.com`, or `anonymous`", Quoted(.0))]
pub struct InvalidCaller(pub String);

impl Caller {
    pub fn parse(s: &str) -> Result<Caller, InvalidCaller> {
        let bad = || InvalidCaller(s.to_owned());
        if s == "anonymous" || s == "*" {
            return Ok(Caller::Anonymous);
        }
        if !s.starts_with("arn:") {
            return if s.ends_with(".amazonaws.com") && !s.contains(char::is_whitespace) {
                Ok(Caller::Service(s.to_lowercase()))
            } else {
                Err(bad())
            };
        }
        let Arn { partition, service, account, resource, .. } = Arn::parse(s).map_err(|_| bad())?;
        if !is_account_id(account) {
            return Err(bad());
        }
        let (partition, account) = (partition.to_owned(), account.to_owned());
        match (service, resource.split_once('/')) {
            ("iam", None) if resource == "root" => Ok(Caller::Root { partition, account }),
            ("iam", Some(("user", _))) => Ok(Caller::User { arn: s.to_owned(), account }),
            ("iam", Some(("role", path))) => {
                let name = path.rsplit('/').next().filter(|n| !n.is_empty()).ok_or_else(bad)?.to_owned();
                Ok(Caller::Role { arn: s.to_owned(), account, name })
            }
            ("sts", Some(("assumed-role", rest))) => {
                let (role, session) = rest.split_once('/').ok_or_else(bad)?;
                if role.is_empty() || session.is_empty() {
                    return Err(bad());
                }
                Ok(Caller::Session { arn: s.to_owned(), account, role: role.to_owned() })
            }
            _ => Err(bad()),
        }
    }

    pub(super) fn account(&self) -> Option<&str> {
        match self {
            Caller::Anonymous | Caller::Service(_) => None,
            Caller::Root { account, .. }
            | Caller::User { account, .. }
            | Caller::Role { account, .. }
            | Caller::Session { account, .. } => Some(account),
        }
    }

    /// `aws:PrincipalArn`.
    fn principal_arn(&self) -> Option<String> {
        match self {
            Caller::Anonymous | Caller::Service(_) => None,
            Caller::Root { partition, account } => Some(format!("arn:{partition}:iam::{account}:root")),
            Caller::User { arn, .. } | Caller::Role { arn, .. } => Some(arn.clone()),
            // A session's aws:PrincipalArn is its role ARN *with path*, which the session ARN lacks.
            Caller::Session { .. } => None,
        }
    }

    pub(super) fn is_iam(&self) -> bool {
        self.account().is_some()
    }

    /// The ARN of this very principal: what a `NotPrincipal` must list to exempt it. A session is
    /// its session ARN, not its role's (IAM user guide, "NotPrincipal": "The assumed-role user is
    /// identified by the role session name").
    pub(super) fn own_arn(&self) -> Option<String> {
        match self {
            Caller::Anonymous | Caller::Service(_) => None,
            Caller::Root { partition, account } => Some(format!("arn:{partition}:iam::{account}:root")),
            Caller::User { arn, .. } | Caller::Role { arn, .. } | Caller::Session { arn, .. } => {
                Some(arn.clone())
            }
        }
    }

    /// `aws:PrincipalType` as the IAM user guide's table of principal key values gives it.
    fn principal_type(&self) -> Option<&'static str> {
        match self {
            Caller::Anonymous => Some("Anonymous"),
            Caller::Service(_) => None,
            Caller::Root { .. } => Some("Account"),
            Caller::User { .. } => Some("User"),
            Caller::Role { .. } | Caller::Session { .. } => Some("AssumedRole"),
        }
    }
}

/// One request to evaluate.
#[derive(Debug, Clone)]
pub struct Request {
    pub caller: Caller,
    pub action: String,
    pub resource: String,
    pub time: OffsetDateTime,
    /// Extra context keys (`aws:SecureTransport` → `["true"]`); keys are matched case-insensitively.
    /// A key given more than once is multivalued.
    pub context: BTreeMap<String, Vec<String>>,
}

impl Request {
    pub fn new(caller: Caller, action: &str, resource: &str, time: OffsetDateTime) -> Request {
        Request {
            caller,
            action: action.to_owned(),
            resource: resource.to_owned(),
            time,
            context: BTreeMap::new(),
        }
    }

    /// [`Request::new`] for what a person typed: the action one concrete `service:Name` (no
    /// wildcard) and the resource an ARN.
    pub fn checked(
        caller: Caller,
        action: &str,
        resource: &str,
        time: OffsetDateTime,
    ) -> Result<Request, InvalidRequest> {
        if action == "*" || !crate::policy::is_action_pattern(action) || action.contains(['*', '?']) {
            return Err(InvalidRequest::Action(action.to_owned()));
        }
        if !crate::policy::is_arn(resource) {
            return Err(InvalidRequest::Resource(resource.to_owned()));
        }
        Ok(Request::new(caller, action, resource, time))
    }

    /// Adds a context key (`aws:SecureTransport=true`); overrides a derived key of the same name.
    pub fn with(mut self, key: &str, value: &str) -> Request {
        self.context.entry(key.to_lowercase()).or_default().push(value.to_owned());
        self
    }

    /// Context keys the request implies, under any given explicitly (those win).
    pub(super) fn full_context(&self) -> Context {
        let mut ctx = Context::new();
        let mut set = |k: &str, v: Option<String>| ctx.insert(k.to_owned(), v.map(|v| vec![v]));
        set("aws:currenttime", Some(format_expiry(self.time)));
        set("aws:epochtime", Some(self.time.unix_timestamp().to_string()));
        match &self.caller {
            Caller::Session { .. } => {
                set("aws:principalarn", None);
            }
            caller => {
                if let Some(arn) = caller.principal_arn() {
                    set("aws:principalarn", Some(arn));
                }
            }
        }
        if let Some(account) = self.caller.account() {
            set("aws:principalaccount", Some(account.to_owned()));
        }
        if let Some(kind) = self.caller.principal_type() {
            set("aws:principaltype", Some(kind.to_owned()));
        }
        // The user guide's table of principal key values: aws:username only for IAM users, aws:userid
        // is the account for the root user and a unique ID (not known here) for everyone else.
        match &self.caller {
            Caller::User { arn, .. } => {
                set("aws:username", Some(last_segment(arn).to_owned()));
                set("aws:userid", None);
            }
            Caller::Root { account, .. } => {
                set("aws:userid", Some(account.clone()));
            }
            Caller::Role { .. } | Caller::Session { .. } => {
                set("aws:userid", None);
            }
            Caller::Anonymous | Caller::Service(_) => {}
        }
        if !matches!(self.caller, Caller::Anonymous) {
            set("aws:principalisawsservice", Some(matches!(self.caller, Caller::Service(_)).to_string()));
        }
        if let Caller::Service(name) = &self.caller {
            set("aws:principalservicename", Some(name.clone()));
        }
        for (k, v) in &self.context {
            ctx.insert(k.clone(), Some(v.clone()));
        }
        ctx
    }
}

pub(super) fn last_segment(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callers() {
        assert!(
            matches!(Caller::parse("arn:aws:iam::111122223333:role/a/b/Name").unwrap(), Caller::Role { name, .. } if name == "Name")
        );
        assert!(
            matches!(Caller::parse("arn:aws:sts::111122223333:assumed-role/R/s").unwrap(), Caller::Session { role, .. } if role == "R")
        );
        assert_eq!(Caller::parse("anonymous").unwrap(), Caller::Anonymous);
        assert!(Caller::parse("arn:aws:iam::1:role/x").is_err());
        assert!(Caller::parse("bob").is_err());
    }
}
