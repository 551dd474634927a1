//! The notifier Lambda: every notice mailed and recorded in the audit trail. What it does and which
//! settings it reads: [`breakglass_aws::wiring::NotifierFunction`].

use breakglass_aws::wiring::{serve, BoxError, NotifierFunction};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    serve::<NotifierFunction>().await
}
