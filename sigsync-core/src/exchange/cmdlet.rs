//! Cmdlets as data: the one place that knows which cmdlet and which parameters each
//! [`ExchangeClient`] operation sends, and how each answer is read.

use async_trait::async_trait;
use serde::Serialize;
use serde_json::{json, Value};

use super::{AcceptedDomain, ExchangeClient, Existing, MailGroup};
use crate::model::params::{flag_from, text_from};
use crate::model::{
    Definition, InboundConnector, ObjectKind, OutboundConnector, Params, TransportRule,
};
use crate::{Error, ErrorKind, Result};

/// One cmdlet call, serialised as InvokeCommand's `{"CmdletInput": {...}}` body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CmdletInput {
    /// The cmdlet, e.g. `New-TransportRule`.
    #[serde(rename = "CmdletName")]
    pub name: String,
    /// Its parameters.
    #[serde(rename = "Parameters")]
    pub params: Params,
}

impl CmdletInput {
    /// A call of `name` with `params`.
    pub fn new(name: impl Into<String>, params: Params) -> Self {
        CmdletInput {
            name: name.into(),
            params,
        }
    }

    /// The InvokeCommand request body.
    pub fn to_body(&self) -> Value {
        json!({ "CmdletInput": self })
    }

    /// The `Identity` parameter, if any (for logs and the simulator).
    pub fn identity(&self) -> Option<&str> {
        self.params.get("Identity").and_then(Value::as_str)
    }

    /// Whether the cmdlet changes the tenant (anything but `Get-*`).
    pub fn is_write(&self) -> bool {
        !self.name.starts_with("Get-")
    }

    fn get(kind: ObjectKind) -> Self {
        let mut p = Params::new();
        p.insert("ResultSize".into(), json!("Unlimited"));
        Self::new(format!("Get-{}", kind.noun()), p)
    }

    fn on_identity(verb: &str, kind: ObjectKind, identity: &str, mut params: Params) -> Self {
        params.insert("Identity".into(), json!(identity));
        if verb == "Remove" {
            params.insert("Confirm".into(), json!(false));
        }
        Self::new(format!("{verb}-{}", kind.noun()), params)
    }
}

/// Runs cmdlets: what the simulated tenant and the HTTP client each implement. Every
/// `CmdletTransport` is an [`ExchangeClient`].
#[async_trait]
pub trait CmdletTransport: Send + Sync {
    /// Runs one cmdlet and returns its output records (Get-* style).
    async fn invoke(&self, input: &CmdletInput) -> Result<Vec<Params>>;

    /// The tenant's mail-enabled groups (Graph for the HTTP client).
    async fn mail_enabled_groups(&self) -> Result<Vec<MailGroup>>;
}

/// Classifies an Exchange .NET exception type name (full or short) into an error kind.
pub fn classify_exception(exception_type: &str) -> ErrorKind {
    let short = exception_type.rsplit('.').next().unwrap_or(exception_type);
    match short {
        "ManagementObjectNotFoundException" | "ObjectNotFoundException" => ErrorKind::NotFound,
        s if s.contains("AlreadyExists") => ErrorKind::AlreadyExists,
        "DCOverloadedException"
        | "SuitabilityDirectoryException"
        | "ServerInMMException"
        | "ADServerSettingsChangedException"
        | "StorageTransientException"
        | "CmdletProxyNotAvailableFailure"
        | "ServerBusyException"
        | "TransientException"
        | "BackendCommunicationException"
        | "InsufficientPermissionsException" => ErrorKind::Transient,
        "CmdletAccessDeniedException" | "AccessDeniedException" => ErrorKind::Forbidden,
        "ArgumentException"
        | "DataValidationException"
        | "ParameterBindingException"
        | "ConnectorIncorrectUsageConnectorStillReferencedException"
        | "InvalidOperationException"
        | "TaskInvalidOperationException"
        | "RulesValidationException"
        | "CommandNotFoundException" => ErrorKind::Rejected,
        s if s.ends_with("ValidationException") => ErrorKind::Rejected,
        _ => ErrorKind::Exchange,
    }
}

fn existing<D: Definition>(record: &Params) -> Result<Existing<D>> {
    let text = |key: &str| text_from(key, record.get(key)).ok().flatten();
    Ok(Existing {
        guid: text("Guid").unwrap_or_default(),
        when_created: text("WhenCreatedUTC").or_else(|| text("WhenCreated")),
        when_changed: text("WhenChangedUTC").or_else(|| text("WhenChanged")),
        definition: D::from_record(record)?,
    })
}

async fn list<D: Definition, T: CmdletTransport + ?Sized>(t: &T) -> Result<Vec<Existing<D>>> {
    let records = t.invoke(&CmdletInput::get(D::KIND)).await?;
    let mut out: Vec<Existing<D>> = records.iter().map(existing).collect::<Result<_>>()?;
    if D::KIND == ObjectKind::TransportRule {
        out.sort_by_key(|e| priority_of(&e.definition));
    }
    Ok(out)
}

fn priority_of<D: Definition>(d: &D) -> u64 {
    d.to_params()
        .get("Priority")
        .and_then(Value::as_u64)
        .unwrap_or(u64::MAX)
}

async fn create<D: Definition, T: CmdletTransport + ?Sized>(t: &T, def: &D) -> Result<Existing<D>> {
    let input = CmdletInput::new(format!("New-{}", D::KIND.noun()), def.to_new_params());
    match t.invoke(&input).await {
        Ok(records) => match records.first() {
            Some(record) => existing(record),
            None => find::<D, T>(t, def.name()).await?.ok_or_else(|| {
                Error::api(
                    ErrorKind::Exchange,
                    format!(
                        "{} returned nothing and the object cannot be read back",
                        input.name
                    ),
                )
            }),
        },
        // A duplicate rule name surfaces as a plain ArgumentException: confirm with a read.
        Err(Error::Api(e))
            if D::KIND == ObjectKind::TransportRule && e.kind == ErrorKind::Rejected =>
        {
            if find::<D, T>(t, def.name()).await.ok().flatten().is_some() {
                let mut e = e;
                e.kind = ErrorKind::AlreadyExists;
                Err(Error::Api(e))
            } else {
                Err(Error::Api(e))
            }
        }
        Err(e) => Err(e),
    }
}

async fn find<D: Definition, T: CmdletTransport + ?Sized>(
    t: &T,
    name: &str,
) -> Result<Option<Existing<D>>> {
    Ok(list::<D, T>(t)
        .await?
        .into_iter()
        .find(|e| e.name().eq_ignore_ascii_case(name)))
}

async fn run<T: CmdletTransport + ?Sized>(
    t: &T,
    verb: &str,
    kind: ObjectKind,
    identity: &str,
    params: &Params,
) -> Result<()> {
    let mut params = params.clone();
    params.remove("Identity");
    t.invoke(&CmdletInput::on_identity(verb, kind, identity, params))
        .await
        .map(drop)
}

fn accepted_domain(record: &Params) -> Result<AcceptedDomain> {
    let domain_name = text_from("DomainName", record.get("DomainName"))?
        .or(text_from("Name", record.get("Name"))?)
        .ok_or_else(|| Error::validation("DomainName", "missing from Get-AcceptedDomain record"))?;
    Ok(AcceptedDomain {
        domain_name,
        domain_type: text_from("DomainType", record.get("DomainType"))?
            .unwrap_or_else(|| "Authoritative".into()),
        default: flag_from("Default", record.get("Default"), false)?,
    })
}

#[async_trait]
impl<T: CmdletTransport + ?Sized> ExchangeClient for T {
    async fn list_outbound_connectors(&self) -> Result<Vec<Existing<OutboundConnector>>> {
        list(self).await
    }
    async fn create_outbound_connector(
        &self,
        connector: &OutboundConnector,
    ) -> Result<Existing<OutboundConnector>> {
        create(self, connector).await
    }
    async fn update_outbound_connector(&self, identity: &str, changes: &Params) -> Result<()> {
        run(
            self,
            "Set",
            ObjectKind::OutboundConnector,
            identity,
            changes,
        )
        .await
    }
    async fn remove_outbound_connector(&self, identity: &str) -> Result<()> {
        run(
            self,
            "Remove",
            ObjectKind::OutboundConnector,
            identity,
            &Params::new(),
        )
        .await
    }

    async fn list_inbound_connectors(&self) -> Result<Vec<Existing<InboundConnector>>> {
        list(self).await
    }
    async fn create_inbound_connector(
        &self,
        connector: &InboundConnector,
    ) -> Result<Existing<InboundConnector>> {
        create(self, connector).await
    }
    async fn update_inbound_connector(&self, identity: &str, changes: &Params) -> Result<()> {
        run(self, "Set", ObjectKind::InboundConnector, identity, changes).await
    }
    async fn remove_inbound_connector(&self, identity: &str) -> Result<()> {
        run(
            self,
            "Remove",
            ObjectKind::InboundConnector,
            identity,
            &Params::new(),
        )
        .await
    }

    async fn list_transport_rules(&self) -> Result<Vec<Existing<TransportRule>>> {
        list(self).await
    }
    async fn create_transport_rule(&self, rule: &TransportRule) -> Result<Existing<TransportRule>> {
        create(self, rule).await
    }
    async fn update_transport_rule(&self, identity: &str, changes: &Params) -> Result<()> {
        run(self, "Set", ObjectKind::TransportRule, identity, changes).await
    }
    async fn remove_transport_rule(&self, identity: &str) -> Result<()> {
        run(
            self,
            "Remove",
            ObjectKind::TransportRule,
            identity,
            &Params::new(),
        )
        .await
    }
    async fn enable_transport_rule(&self, identity: &str) -> Result<()> {
        run(
            self,
            "Enable",
            ObjectKind::TransportRule,
            identity,
            &Params::new(),
        )
        .await
    }
    async fn disable_transport_rule(&self, identity: &str) -> Result<()> {
        run(
            self,
            "Disable",
            ObjectKind::TransportRule,
            identity,
            &Params::new(),
        )
        .await
    }

    async fn list_mail_enabled_groups(&self) -> Result<Vec<MailGroup>> {
        self.mail_enabled_groups().await
    }
    async fn list_accepted_domains(&self) -> Result<Vec<AcceptedDomain>> {
        let records = self
            .invoke(&CmdletInput::new("Get-AcceptedDomain", {
                let mut p = Params::new();
                p.insert("ResultSize".into(), json!("Unlimited"));
                p
            }))
            .await?;
        records.iter().map(accepted_domain).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_invoke_command_shape() {
        let mut p = Params::new();
        p.insert("Identity".into(), json!("X"));
        let input = CmdletInput::new("Remove-InboundConnector", p);
        assert_eq!(
            input.to_body(),
            json!({"CmdletInput": {"CmdletName": "Remove-InboundConnector", "Parameters": {"Identity": "X"}}})
        );
        assert!(input.is_write());
        assert_eq!(input.identity(), Some("X"));
    }

    #[test]
    fn get_sends_result_size_unlimited_and_remove_sends_confirm_false() {
        let get = CmdletInput::get(ObjectKind::TransportRule);
        assert_eq!(get.name, "Get-TransportRule");
        assert_eq!(get.params["ResultSize"], json!("Unlimited"));
        let rm =
            CmdletInput::on_identity("Remove", ObjectKind::OutboundConnector, "C", Params::new());
        assert_eq!(rm.params["Confirm"], json!(false));
    }

    #[test]
    fn exception_types_classify() {
        assert_eq!(
            classify_exception(
                "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException"
            ),
            ErrorKind::NotFound
        );
        assert_eq!(
            classify_exception(
                "Microsoft.Exchange.Management.Tasks.ErrorOutboundConnectorAlreadyExistsException"
            ),
            ErrorKind::AlreadyExists
        );
        assert_eq!(
            classify_exception("ADObjectAlreadyExistsException"),
            ErrorKind::AlreadyExists
        );
        assert_eq!(
            classify_exception("System.ArgumentException"),
            ErrorKind::Rejected
        );
        assert_eq!(
            classify_exception("ServerBusyException"),
            ErrorKind::Transient
        );
        assert_eq!(
            classify_exception("CmdletAccessDeniedException"),
            ErrorKind::Forbidden
        );
        assert_eq!(classify_exception("SomethingNew"), ErrorKind::Exchange);
    }
}
