//! The organisation as AWS Organizations lists it: its accounts, and those of its OUs.

use breakglass_core::access::config_push::Members;
use breakglass_core::ports::PortError;

use crate::errors::classify_error;
use crate::Clients;

/// [`Members`] of the organisation of `clients`' credentials, with the accounts of `ous` and the
/// account the credentials are in.
pub async fn organisation_members(clients: &Clients, ous: &[String]) -> Result<Members, String> {
    let me = aws_sdk_sts::Client::new(&clients.config)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| classify_error("GetCallerIdentity", e).to_string())?;
    let caller_account = me.account.ok_or("GetCallerIdentity: no account")?;
    let client = aws_sdk_organizations::Client::new(&clients.config);
    let org = client
        .describe_organization()
        .send()
        .await
        .map_err(|e| classify_error("DescribeOrganization", e).to_string())?;
    let org = org.organization.ok_or("DescribeOrganization: no organization")?;
    let management_account = org.master_account_id;
    let id = org.id.ok_or("DescribeOrganization: no organization id")?;
    let mut active = Vec::new();
    let mut pages = client.list_accounts().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| classify_error("ListAccounts", e).to_string())?;
        for a in page.accounts.unwrap_or_default() {
            let is_active = a.state.as_ref().map_or_else(
                || a.status.as_ref().is_some_and(|s| s.as_str() == "ACTIVE"),
                |s| s.as_str() == "ACTIVE",
            );
            if let (Some(account), true) = (a.id, is_active) {
                active.push(account);
            }
        }
    }
    let mut by_ou = std::collections::BTreeMap::new();
    for ou in ous {
        let accounts = accounts_below(&client, ou).await.map_err(|e| e.to_string())?;
        by_ou.insert(ou.clone(), accounts.into_iter().map(|(id, _)| id).collect());
    }
    Ok(Members { caller_account, organisation_id: id, management_account, active, by_ou })
}

/// The accounts of the organizational unit `ou` and of every OU below it (an organisation is at most
/// five levels deep), each with whether it is active.
pub(crate) async fn accounts_below(
    client: &aws_sdk_organizations::Client,
    ou: &str,
) -> Result<Vec<(String, bool)>, PortError> {
    let (mut pending, mut accounts) = (vec![ou.to_owned()], Vec::new());
    while let Some(parent) = pending.pop() {
        let mut pages = client.list_accounts_for_parent().parent_id(&parent).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify_error("ListAccountsForParent", e))?;
            for a in page.accounts.unwrap_or_default() {
                // `State` replaces the deprecated `Status`; either may be what the service sends.
                let active = a.state.as_ref().map_or_else(
                    || a.status.as_ref().is_some_and(|s| s.as_str() == "ACTIVE"),
                    |s| s.as_str() == "ACTIVE",
                );
                if let Some(id) = a.id {
                    accounts.push((id, active));
                }
            }
        }
        let mut pages = client
            .list_children()
            .parent_id(&parent)
            .child_type(aws_sdk_organizations::types::ChildType::OrganizationalUnit)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify_error("ListChildren", e))?;
            pending.extend(page.children.unwrap_or_default().into_iter().filter_map(|c| c.id));
        }
    }
    Ok(accounts)
}
