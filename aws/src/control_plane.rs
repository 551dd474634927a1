//! Investigator roles (IAM), the notification topic's subscriptions and the alarm topic (SNS).

use breakglass_core::ports::{ControlPlane, Notification, PortError, Publisher, Subscription};

use crate::errors::{classify_error, code_of, Sent};
use crate::{Accounts, Clients, SnsPublisher};

/// IAM returns trust policies URL-encoded (RFC 3986); moto returns them as they were put. Decoding
/// plain JSON leaves it as it is unless it contains `%XX`, which a policy never does unencoded.
pub use breakglass_core::inbound::url::url_decode;

/// Investigator roles (IAM, in each role's own account), the notification topic's subscriptions
/// (SNS), and the alarm topic.
#[derive(Debug, Clone)]
pub struct AwsControlPlane {
    iam: aws_sdk_iam::Client,
    sns: aws_sdk_sns::Client,
    alarm: Option<SnsPublisher>,
    accounts: Option<std::sync::Arc<Accounts>>,
}

impl AwsControlPlane {
    /// `alarm_topic_arn`: the second channel; without it an alarm is an error (nobody would hear it).
    pub fn new(clients: &Clients, alarm_topic_arn: Option<String>) -> Self {
        AwsControlPlane {
            iam: clients.iam.clone(),
            sns: clients.sns.clone(),
            alarm: alarm_topic_arn.map(|t| SnsPublisher::new(clients.sns.clone(), t)),
            accounts: None,
        }
    }

    /// Reaches each investigator role in the account its ARN names, through `accounts`.
    pub fn with_accounts(mut self, accounts: std::sync::Arc<Accounts>) -> Self {
        self.accounts = Some(accounts);
        self
    }

    /// The IAM client for the role `role_arn`, and the role's name.
    async fn iam_for<'a>(&self, role_arn: &'a str) -> Result<(aws_sdk_iam::Client, &'a str), PortError> {
        let name = role_arn.rsplit('/').next().unwrap_or(role_arn);
        let account = canonical_policies::Arn::parse(role_arn)
            .ok()
            .map(|a| a.account)
            .filter(|a| canonical_policies::is_account_id(a));
        match (&self.accounts, account) {
            (Some(accounts), Some(account)) => Ok((accounts.iam(account).await?, name)),
            _ => Ok((self.iam.clone(), name)),
        }
    }
}

impl ControlPlane for AwsControlPlane {
    async fn get_trust(&self, role_arn: &str) -> Result<Option<String>, PortError> {
        let (iam, name) = self.iam_for(role_arn).await?;
        match iam.get_role().role_name(name).send().await {
            Ok(out) => Ok(out.role.and_then(|r| r.assume_role_policy_document).map(|d| url_decode(&d))),
            Err(e) if code_of(&e) == Some("NoSuchEntity") => Ok(None),
            Err(e) => Err(classify_error("GetRole", e)),
        }
    }

    async fn put_trust(&self, role_arn: &str, policy: &str) -> Result<(), PortError> {
        let (iam, name) = self.iam_for(role_arn).await?;
        iam.update_assume_role_policy()
            .role_name(name)
            .policy_document(policy)
            .send()
            .await
            .done("UpdateAssumeRolePolicy")
    }

    async fn subscriptions(&self, topic_arn: &str) -> Result<Vec<Subscription>, PortError> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .sns
                .list_subscriptions_by_topic()
                .topic_arn(topic_arn)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| classify_error("ListSubscriptionsByTopic", e))?;
            for s in page.subscriptions.unwrap_or_default() {
                let arn = s.subscription_arn.unwrap_or_default();
                let (filter_policy, filter_scope) = if arn.starts_with("arn:") {
                    let attrs = self
                        .sns
                        .get_subscription_attributes()
                        .subscription_arn(&arn)
                        .send()
                        .await
                        .map_err(|e| classify_error("GetSubscriptionAttributes", e))?;
                    let mut attrs = attrs.attributes.unwrap_or_default();
                    let mut take = |name: &str| attrs.remove(name).filter(|v| !v.is_empty());
                    (take("FilterPolicy"), take("FilterPolicyScope"))
                } else {
                    (None, None)
                };
                out.push(Subscription {
                    arn,
                    protocol: s.protocol.unwrap_or_default(),
                    endpoint: s.endpoint.unwrap_or_default(),
                    filter_policy,
                    filter_scope,
                });
            }
            match page.next_token {
                Some(t) if !t.is_empty() => token = Some(t),
                _ => return Ok(out),
            }
        }
    }

    async fn alarm(&self, notification: &Notification) -> Result<String, PortError> {
        match &self.alarm {
            Some(p) => p.publish(notification).await,
            None => Err(PortError::Refused("no alarm topic configured (BREAKGLASS_ALARM_TOPIC_ARN)".into())),
        }
    }
}
