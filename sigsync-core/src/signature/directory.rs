//! Directory data: a user's attributes by address, and transitive group membership.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::policy::{bare_address, normalize_address};
use super::UserAttributes;
use crate::Result;

/// Where signature data comes from.
///
/// A user who is not found is `Ok(None)`, not an error; the engine then renders without the
/// missing fields (or with the configured fallback). Errors (network, throttling) never stop
/// mail either: the engine logs them and carries on as if the user were not found.
#[async_trait]
pub trait Directory: Send + Sync {
    /// The attributes of the user with this address, or `None` when there is no such user.
    async fn user(&self, address: &str) -> Result<Option<UserAttributes>>;

    /// Whether the user is a member, directly or through nested groups, of `group` (an object
    /// id or a mail address). An unknown user or group is `false`.
    async fn is_member(&self, address: &str, group: &str) -> Result<bool>;

    /// The attributes of several users, in the order asked (implementations batch requests).
    async fn users(&self, addresses: &[String]) -> Result<Vec<Option<UserAttributes>>> {
        let mut out = Vec::with_capacity(addresses.len());
        for a in addresses {
            out.push(self.user(a).await?);
        }
        Ok(out)
    }
}

/// A directory held in memory: for tests, examples, the C and Python layers, and callers that
/// load their directory elsewhere.
///
/// Serialized form (as in the configuration file's `[directory]` table):
/// `users` maps an address to its attributes, `groups` maps a group (id or mail address) to
/// its members (user addresses or other groups).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "RawDirectory", into = "RawDirectory")]
pub struct InMemoryDirectory {
    /// Keyed by normalized (bare, lower-case) address.
    users: BTreeMap<String, UserAttributes>,
    /// Keyed by normalized group; members normalized too.
    groups: BTreeMap<String, Vec<String>>,
}

/// The serialized form, normalized on the way in.
#[derive(Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawDirectory {
    users: BTreeMap<String, UserAttributes>,
    groups: BTreeMap<String, Vec<String>>,
}

impl From<RawDirectory> for InMemoryDirectory {
    fn from(raw: RawDirectory) -> Self {
        let dir = raw
            .users
            .into_iter()
            .fold(InMemoryDirectory::new(), |d, (a, u)| d.with_user(a, u));
        raw.groups
            .into_iter()
            .fold(dir, |d, (g, members)| d.with_group(g, members))
    }
}

impl From<InMemoryDirectory> for RawDirectory {
    fn from(dir: InMemoryDirectory) -> Self {
        RawDirectory {
            users: dir.users,
            groups: dir.groups,
        }
    }
}

impl InMemoryDirectory {
    /// An empty directory.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a user; its `mail` is set to `address` when empty.
    pub fn with_user(mut self, address: impl Into<String>, mut attributes: UserAttributes) -> Self {
        let address = address.into();
        if attributes.mail.as_deref().is_none_or(str::is_empty) {
            attributes.mail = Some(bare_address(&address).to_owned());
        }
        self.users.insert(normalize_address(&address), attributes);
        self
    }

    /// Adds or replaces a group with its members (user addresses or nested groups).
    pub fn with_group<I, S>(mut self, group: impl Into<String>, members: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.groups.insert(
            normalize_address(&group.into()),
            members
                .into_iter()
                .map(|m| normalize_address(&m.into()))
                .collect(),
        );
        self
    }

    /// The user's attributes, without waiting.
    pub fn get_user(&self, address: &str) -> Option<&UserAttributes> {
        self.users.get(&normalize_address(address))
    }

    /// Transitive membership, without waiting; cycles in nested groups are harmless.
    pub fn member_of(&self, address: &str, group: &str) -> bool {
        let groups = &self.groups;
        let user = normalize_address(address);
        let mut seen = BTreeSet::new();
        let mut stack = vec![normalize_address(group)];
        while let Some(g) = stack.pop() {
            if !seen.insert(g.clone()) {
                continue;
            }
            for member in groups.get(&g).into_iter().flatten() {
                if *member == user {
                    return true;
                }
                if groups.contains_key(member) {
                    stack.push(member.clone());
                }
            }
        }
        false
    }
}

#[async_trait]
impl Directory for InMemoryDirectory {
    async fn user(&self, address: &str) -> Result<Option<UserAttributes>> {
        Ok(self.get_user(address).cloned())
    }

    async fn is_member(&self, address: &str, group: &str) -> Result<bool> {
        Ok(self.member_of(address, group))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn membership_is_transitive_and_survives_cycles() {
        let d = InMemoryDirectory::new()
            .with_group("sales@contoso.com", ["eu-sales@contoso.com"])
            .with_group(
                "eu-sales@contoso.com",
                ["Adele@Contoso.com", "sales@contoso.com"],
            );
        assert!(d.member_of("adele@contoso.com", "SALES@contoso.com"));
        assert!(!d.member_of("bob@contoso.com", "sales@contoso.com"));
        assert!(!d.member_of("adele@contoso.com", "unknown"));
    }

    #[test]
    fn keys_from_a_file_are_normalized_on_load() {
        let d: InMemoryDirectory = serde_json::from_str(
            r#"{"users": {"Adele <AdeleV@Contoso.com>": {"displayName": "Adele"}},
                "groups": {"Sales": ["ADELEV@contoso.com"]}}"#,
        )
        .unwrap();
        let adele = d.get_user("adelev@contoso.com").unwrap();
        assert_eq!(adele.mail.as_deref(), Some("AdeleV@Contoso.com"));
        assert!(d.member_of("AdeleV@contoso.com", "sales"));
    }
}
