//! What a bucket's two templates are rendered from and an OpenAccess is checked against, as plain
//! values: the product configuration builds them, classification and the diff read them.

use std::collections::BTreeSet;
use std::fmt;

use time::{Duration, OffsetDateTime};

use crate::canonical::PolicyHash;
use crate::error::Quoted;
use crate::json::Json;
use crate::policy::{Partition, Policy};
use crate::service::{read_services, service_read_denies, ServiceRead, SERVICE_READS_SID};
use crate::template::{self, OpenGrant, RenderError, Vars};

/// The template inputs of one bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateInputs {
    pub bucket: String,
    pub partition: Partition,
    /// The account that owns the bucket.
    pub account: String,
    /// Roles that an OpenAccess may name as readers (`aws:PrincipalArn` values, path included).
    pub investigator_roles: BTreeSet<String>,
    /// Principals allowed to change the bucket policy.
    pub automation_principals: BTreeSet<String>,
    /// The longest an OpenAccess may last.
    pub max_open_duration: Duration,
    /// Statements both templates carry, with their own placeholders still in.
    pub base_statements: Vec<Json<'static>>,
    /// The AWS services that may read the objects, each for its source (empty: none may).
    pub service_reads: BTreeSet<ServiceRead>,
}

/// A bucket's template inputs with its ClosedAccess rendered once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketTemplates {
    inputs: TemplateInputs,
    closed: Policy,
    closed_hash: PolicyHash,
}

/// Why an OpenAccess request is not lawful for a bucket.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    #[error("no reader given")]
    NoReaders,
    #[error("reader {} is not an investigator role of bucket {}", Quoted(.reader), Quoted(.bucket))]
    ReaderNotAllowed { bucket: String, reader: String },
    #[error("expiry {} is not in the future", Quoted(.0))]
    NotInFuture(String),
    #[error("expiry {} is more than {max} from now", Quoted(.expiry))]
    BeyondMaximum { expiry: String, max: HumanDuration },
    #[error(transparent)]
    Render(#[from] RenderError),
}

impl BucketTemplates {
    /// Renders the ClosedAccess, and an OpenAccess as a probe, so that inputs that break either
    /// template fail here rather than when a bucket is guarded.
    pub fn new(inputs: TemplateInputs) -> Result<BucketTemplates, RenderError> {
        let services = Services::of(&inputs);
        let closed = template::render(
            template::CLOSED_TEMPLATE,
            &vars(&inputs, &services, None),
            &inputs.partition,
            "closed template",
        )?;
        let closed_hash = closed.hash();
        let templates = BucketTemplates { inputs, closed, closed_hash };
        let probe = OpenGrant {
            readers: templates.inputs.investigator_roles.clone(),
            expiry: OffsetDateTime::UNIX_EPOCH,
        };
        templates.render_open_unchecked(&probe)?;
        Ok(templates)
    }

    pub fn inputs(&self) -> &TemplateInputs {
        &self.inputs
    }

    /// The ClosedAccess policy of this bucket.
    pub fn closed_policy(&self) -> &Policy {
        &self.closed
    }

    pub fn closed_hash(&self) -> PolicyHash {
        self.closed_hash
    }

    /// The OpenAccess policy for `grant`, after checking that it is lawful at `now`.
    pub fn render_open(&self, grant: &OpenGrant, now: OffsetDateTime) -> Result<Policy, GrantError> {
        self.check_grant(grant, now)?;
        Ok(self.render_open_unchecked(grant)?)
    }

    /// Checks readers and expiry of a grant against this bucket's rules.
    pub fn check_grant(&self, grant: &OpenGrant, now: OffsetDateTime) -> Result<(), GrantError> {
        if grant.readers.is_empty() {
            return Err(GrantError::NoReaders);
        }
        if let Some(r) = grant.readers.iter().find(|r| !self.inputs.investigator_roles.contains(*r)) {
            return Err(GrantError::ReaderNotAllowed {
                bucket: self.inputs.bucket.clone(),
                reader: r.clone(),
            });
        }
        let expiry = template::format_expiry(grant.expiry);
        if grant.expiry <= now {
            return Err(GrantError::NotInFuture(expiry));
        }
        let max = self.inputs.max_open_duration;
        if grant.expiry - now > max {
            return Err(GrantError::BeyondMaximum { expiry, max: HumanDuration(max) });
        }
        Ok(())
    }

    /// The OpenAccess shape for any readers and expiry, *without* checking that the grant is lawful.
    /// The classifier uses it to test whether a policy is an OpenAccess before asking whether it is a
    /// lawful one; the operator workflow uses it for a grant it has checked itself.
    pub fn render_open_unchecked(&self, grant: &OpenGrant) -> Result<Policy, RenderError> {
        let services = Services::of(&self.inputs);
        template::render(
            template::OPEN_TEMPLATE,
            &vars(&self.inputs, &services, Some(grant)),
            &self.inputs.partition,
            "open template",
        )
    }
}

impl AsRef<BucketTemplates> for BucketTemplates {
    fn as_ref(&self) -> &BucketTemplates {
        self
    }
}

/// The allow-list as the templates' placeholders take it.
struct Services {
    names: BTreeSet<String>,
    denies: Vec<Json<'static>>,
}

impl Services {
    fn of(inputs: &TemplateInputs) -> Services {
        let objects = format!("arn:{}:s3:::{}/*", inputs.partition, inputs.bucket);
        Services {
            names: read_services(&inputs.service_reads),
            denies: service_read_denies(&inputs.service_reads, &objects, SERVICE_READS_SID),
        }
    }
}

fn vars<'a>(inputs: &'a TemplateInputs, services: &'a Services, grant: Option<&'a OpenGrant>) -> Vars<'a> {
    Vars {
        read_services: Some(&services.names),
        service_reads: Some(&services.denies),
        bucket: &inputs.bucket,
        partition: inputs.partition.as_str(),
        account: &inputs.account,
        expiry: grant.map(|g| template::format_expiry(g.expiry)),
        readers: grant.map(|g| &g.readers),
        automation_principals: Some(&inputs.automation_principals),
        base_statements: Some(&inputs.base_statements),
    }
}

/// A duration shown the way it is written in the config (`12h`, `1d2h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut secs = self.0.whole_seconds().max(0);
        if secs == 0 {
            return f.write_str("0s");
        }
        for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
            if secs >= size {
                write!(f, "{}{unit}", secs / size)?;
                secs %= size;
            }
        }
        Ok(())
    }
}
