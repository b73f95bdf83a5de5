//! A user's directory attributes: what signature templates fill their placeholders from.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The placeholder names of the standard attributes, in the order of [`UserAttributes`]
/// (the Microsoft Graph `user` property names).
pub const STANDARD_ATTRIBUTES: &[&str] = &[
    "displayName",
    "givenName",
    "surname",
    "jobTitle",
    "department",
    "companyName",
    "mail",
    "businessPhones",
    "mobilePhone",
    "officeLocation",
    "streetAddress",
    "city",
    "state",
    "postalCode",
    "country",
];

/// Placeholders that are always available besides the attributes: `businessPhone` (the first
/// of `businessPhones`) and `images` (the configured images, as `images.<name>`).
pub const DERIVED_PLACEHOLDERS: &[&str] = &["businessPhone", "images"];

/// The Graph `$select` list for the standard attributes (plus `id` and `userPrincipalName`).
pub const GRAPH_SELECT: &str = "id,userPrincipalName,displayName,givenName,surname,jobTitle,\
department,companyName,mail,businessPhones,mobilePhone,officeLocation,streetAddress,city,state,\
postalCode,country";

/// A user's directory attributes, named as in Microsoft Graph (so a Graph `user` object
/// deserializes into it directly), plus custom attributes the caller adds.
///
/// Every field is optional: a missing or empty field renders as empty and the template line
/// that holds it disappears.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UserAttributes {
    /// Display name, e.g. `Adele Vance`.
    pub display_name: Option<String>,
    /// First name.
    pub given_name: Option<String>,
    /// Last name.
    pub surname: Option<String>,
    /// Job title.
    pub job_title: Option<String>,
    /// Department.
    pub department: Option<String>,
    /// Company name.
    pub company_name: Option<String>,
    /// Primary SMTP address.
    pub mail: Option<String>,
    /// Business phone numbers (Graph returns a list; the first is `businessPhone`).
    #[serde(deserialize_with = "null_as_empty")]
    pub business_phones: Vec<String>,
    /// Mobile phone number.
    pub mobile_phone: Option<String>,
    /// Office location.
    pub office_location: Option<String>,
    /// Street address.
    pub street_address: Option<String>,
    /// City.
    pub city: Option<String>,
    /// State or province.
    pub state: Option<String>,
    /// Postal code.
    pub postal_code: Option<String>,
    /// Country or region.
    pub country: Option<String>,
    /// Custom attributes (e.g. `pronouns`, `linkedin`); templates use them by name, and the
    /// names must be declared in the configuration.
    #[serde(deserialize_with = "null_as_empty")]
    pub custom: BTreeMap<String, String>,
    /// The groups (object ids or mail addresses) the user is a member of, directly or
    /// through nested groups, when the caller knows them: group-scoped rules then decide on
    /// these. `None` (absent) means unknown: the engine asks its directory, so a rule picks
    /// the same signature whichever way the attributes arrive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
}

fn null_as_empty<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

impl UserAttributes {
    /// Attributes with only the mail address set.
    pub fn with_mail(mail: impl Into<String>) -> Self {
        UserAttributes {
            mail: Some(mail.into()),
            ..Default::default()
        }
    }

    /// Sets a custom attribute.
    pub fn custom(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.custom.insert(name.into(), value.into());
        self
    }

    /// The value of a standard or custom attribute by placeholder name, as text
    /// (`businessPhones` joins with `, `; `businessPhone` is the first). Empty values are `None`.
    pub fn get(&self, name: &str) -> Option<String> {
        let s = |v: &Option<String>| v.clone();
        let v = match name {
            "displayName" => s(&self.display_name),
            "givenName" => s(&self.given_name),
            "surname" => s(&self.surname),
            "jobTitle" => s(&self.job_title),
            "department" => s(&self.department),
            "companyName" => s(&self.company_name),
            "mail" => s(&self.mail),
            "businessPhones" => Some(self.business_phones.join(", ")),
            "businessPhone" => self.business_phones.first().cloned(),
            "mobilePhone" => s(&self.mobile_phone),
            "officeLocation" => s(&self.office_location),
            "streetAddress" => s(&self.street_address),
            "city" => s(&self.city),
            "state" => s(&self.state),
            "postalCode" => s(&self.postal_code),
            "country" => s(&self.country),
            other => self.custom.get(other).cloned(),
        };
        v.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
    }

    /// Sets a standard or custom attribute by placeholder name (`businessPhones` and
    /// `businessPhone` replace the phone list with one number).
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        let value = value.into();
        let v = Some(value.clone());
        match name {
            "displayName" => self.display_name = v,
            "givenName" => self.given_name = v,
            "surname" => self.surname = v,
            "jobTitle" => self.job_title = v,
            "department" => self.department = v,
            "companyName" => self.company_name = v,
            "mail" => self.mail = v,
            "businessPhones" | "businessPhone" => self.business_phones = v.into_iter().collect(),
            "mobilePhone" => self.mobile_phone = v,
            "officeLocation" => self.office_location = v,
            "streetAddress" => self.street_address = v,
            "city" => self.city = v,
            "state" => self.state = v,
            "postalCode" => self.postal_code = v,
            "country" => self.country = v,
            other => {
                self.custom.insert(other.to_owned(), value);
            }
        }
    }

    /// Fills every field that is empty here from `fallback` (a configured default for users
    /// the directory does not know, or fields it left empty).
    pub fn or_fallback(mut self, fallback: &UserAttributes) -> Self {
        fn fill(a: &mut Option<String>, b: &Option<String>) {
            if a.as_deref().is_none_or(|v| v.trim().is_empty()) {
                a.clone_from(b);
            }
        }
        fill(&mut self.display_name, &fallback.display_name);
        fill(&mut self.given_name, &fallback.given_name);
        fill(&mut self.surname, &fallback.surname);
        fill(&mut self.job_title, &fallback.job_title);
        fill(&mut self.department, &fallback.department);
        fill(&mut self.company_name, &fallback.company_name);
        fill(&mut self.mail, &fallback.mail);
        if self.business_phones.iter().all(|p| p.trim().is_empty()) {
            self.business_phones.clone_from(&fallback.business_phones);
        }
        fill(&mut self.mobile_phone, &fallback.mobile_phone);
        fill(&mut self.office_location, &fallback.office_location);
        fill(&mut self.street_address, &fallback.street_address);
        fill(&mut self.city, &fallback.city);
        fill(&mut self.state, &fallback.state);
        fill(&mut self.postal_code, &fallback.postal_code);
        fill(&mut self.country, &fallback.country);
        for (k, v) in &fallback.custom {
            let empty = self.custom.get(k).is_none_or(|x| x.trim().is_empty());
            if empty {
                self.custom.insert(k.clone(), v.clone());
            }
        }
        self
    }

    /// The value of a placeholder in templates: every standard placeholder is defined (empty
    /// when missing), `businessPhones` is the list of non-empty numbers, `businessPhone` the
    /// first, and custom attributes are trimmed. `None` for names that are none of these.
    pub(crate) fn context_value(&self, name: &str) -> Option<minijinja::Value> {
        use minijinja::Value;
        let field = match name {
            "displayName" => &self.display_name,
            "givenName" => &self.given_name,
            "surname" => &self.surname,
            "jobTitle" => &self.job_title,
            "department" => &self.department,
            "companyName" => &self.company_name,
            "mail" => &self.mail,
            "mobilePhone" => &self.mobile_phone,
            "officeLocation" => &self.office_location,
            "streetAddress" => &self.street_address,
            "city" => &self.city,
            "state" => &self.state,
            "postalCode" => &self.postal_code,
            "country" => &self.country,
            "businessPhones" => {
                let phones: Vec<Value> = self
                    .business_phones
                    .iter()
                    .map(|p| p.trim())
                    .filter(|p| !p.is_empty())
                    .map(Value::from)
                    .collect();
                return Some(Value::from(phones));
            }
            "businessPhone" => {
                let first = self.business_phones.first().map_or("", |p| p.trim());
                return Some(Value::from(first));
            }
            other => return self.custom.get(other).map(|v| Value::from(v.trim())),
        };
        Some(Value::from(field.as_deref().map_or("", str::trim)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_user_json_deserializes_and_ignores_unknown_fields() {
        let json = r#"{"@odata.context":"x","id":"1","displayName":"Adele Vance",
            "businessPhones":["+1 425 555 0109"],"mobilePhone":null,"department":"Retail"}"#;
        let u: UserAttributes = serde_json::from_str(json).unwrap();
        assert_eq!(u.display_name.as_deref(), Some("Adele Vance"));
        assert_eq!(u.get("businessPhone").as_deref(), Some("+1 425 555 0109"));
        assert_eq!(u.get("mobilePhone"), None);
    }

    #[test]
    fn fallback_fills_only_empty_fields() {
        let u = UserAttributes {
            company_name: Some(" ".into()),
            job_title: Some("CEO".into()),
            ..Default::default()
        };
        let fb = UserAttributes {
            company_name: Some("Contoso".into()),
            job_title: Some("Staff".into()),
            ..Default::default()
        }
        .custom("pronouns", "they/them");
        let merged = u.or_fallback(&fb);
        assert_eq!(merged.get("companyName").as_deref(), Some("Contoso"));
        assert_eq!(merged.get("jobTitle").as_deref(), Some("CEO"));
        assert_eq!(merged.get("pronouns").as_deref(), Some("they/them"));
    }
}
