//! Microsoft Graph for the setup engine: the mail-enabled groups that can scope the routing
//! rule, and user and membership look-ups, through the one [`crate::graph`] client.

use super::client::RestExchangeClient;
use crate::exchange::MailGroup;
use crate::graph::{GraphGroup, GraphObject};
use crate::Result;

impl RestExchangeClient {
    /// Every mail-enabled group (distribution lists, mail-enabled security groups, Microsoft
    /// 365 groups) through Graph, all pages.
    pub(super) async fn graph_mail_enabled_groups(&self) -> Result<Vec<MailGroup>> {
        self.inner.graph.mail_enabled_groups().await
    }

    /// One user by id or user principal name, with the properties in `select` (Graph's
    /// default set when empty).
    pub async fn get_user(&self, id_or_upn: &str, select: &[&str]) -> Result<GraphObject> {
        self.inner.graph.user(id_or_upn, select).await
    }

    /// The groups `user` (id or user principal name) belongs to, directly or through nested
    /// groups (Graph's `transitiveMemberOf`; directory roles and units are left out).
    pub async fn transitive_member_of(&self, user: &str) -> Result<Vec<GraphGroup>> {
        self.inner.graph.transitive_member_of(user).await
    }

    /// Whether `user` is a member of the group `group_id_or_mail` (by id or address), directly
    /// or through nested groups.
    pub async fn is_member_of(&self, user: &str, group_id_or_mail: &str) -> Result<bool> {
        Ok(self.transitive_member_of(user).await?.iter().any(|g| {
            g.id.eq_ignore_ascii_case(group_id_or_mail)
                || g.mail
                    .as_deref()
                    .is_some_and(|m| m.eq_ignore_ascii_case(group_id_or_mail))
        }))
    }
}
