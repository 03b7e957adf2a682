//! Reading the audit log, for those the policy lets read it. (Writing it is
//! part of every change: each store method commits its audit event with it.)

use crate::error::{Error, Result};
use crate::model::{AuditEvent, AuditQuery};
use crate::policy::{self, Act, Principal};
use crate::state::AppState;

/// Events of `query.org_id` (required), newest first.
pub async fn list(
    state: &AppState,
    principal: &Principal,
    query: &AuditQuery,
) -> Result<Vec<AuditEvent>> {
    let org_id = query
        .org_id
        .as_ref()
        .ok_or_else(|| Error::invalid("name the organization whose log to read"))?;
    policy::check(principal, Act::ReadAudit { org_id })?;
    Ok(state.store.list_audit(query).await?)
}
