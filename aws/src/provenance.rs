//! Where a custom-resource request's stack came from (CloudFormation).

use breakglass_core::ports::{PortError, Provenance, Provisioning};

use crate::errors::{classify_error, code_of};

/// Where a custom-resource request's stack came from: CloudFormation `DescribeStacks` and the
/// `aws:servicecatalog:*` tags Service Catalog puts on the stacks it provisions, and the stack's
/// parameters (what was provisioned).
#[derive(Debug, Clone)]
pub struct CloudFormationProvenance {
    client: aws_sdk_cloudformation::Client,
}

impl CloudFormationProvenance {
    pub fn new(client: aws_sdk_cloudformation::Client) -> Self {
        CloudFormationProvenance { client }
    }
}

impl Provenance for CloudFormationProvenance {
    async fn provisioning(&self, stack_id: &str) -> Result<Option<Provisioning>, PortError> {
        if stack_id.is_empty() {
            return Ok(None);
        }
        let out = match self.client.describe_stacks().stack_name(stack_id).send().await {
            Ok(out) => out,
            // "Stack with id … does not exist".
            Err(e) if code_of(&e) == Some("ValidationError") => return Ok(None),
            Err(e) => return Err(classify_error("DescribeStacks", e)),
        };
        let Some(stack) = out.stacks.unwrap_or_default().into_iter().next() else { return Ok(None) };
        let mut p = Provisioning::default();
        for tag in stack.tags.unwrap_or_default() {
            let (Some(k), Some(v)) = (tag.key, tag.value) else { continue };
            match k.as_str() {
                "aws:servicecatalog:productArn" => p.product_arn = Some(v),
                "aws:servicecatalog:provisionedProductArn" => p.provisioned_product_arn = Some(v),
                "aws:servicecatalog:provisioningPrincipalArn" => p.principal_arn = Some(v),
                _ => {}
            }
        }
        for parameter in stack.parameters.unwrap_or_default() {
            let (Some(k), Some(v)) = (parameter.parameter_key, parameter.parameter_value) else { continue };
            p.parameters.insert(k, v);
        }
        Ok(Some(p))
    }
}
