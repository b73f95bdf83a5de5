//! The real Exchange Online client over HTTPS: cmdlets through the admin API's
//! `InvokeCommand`, groups and users through Microsoft Graph.
//!
//! [`RestExchangeClient`] implements [`CmdletTransport`], so it is an
//! [`ExchangeClient`](super::ExchangeClient). It does not retry: wrap it in
//! [`RetryingClient`](super::RetryingClient), which acts on the error kinds it reports
//! (`Throttled` with the server's Retry-After, `Transient`, `Network`). The only repeat it makes
//! itself is one replay after a 401, with a fresh token, and sending a redirected request again
//! to the configured host (never to the `Location`).
//!
//! A Get-* whose answer is truncated (`@odata.nextLink` or warnings) follows the next page
//! once; if that fails the call fails: partial results are never returned.
//!
//! ```no_run
//! use std::sync::Arc;
//! use sigsync_core::auth::StaticTokenProvider;
//! use sigsync_core::exchange::{ExchangeClient, RestExchangeClient, RetryPolicy, RetryingClient};
//!
//! # async fn run() -> sigsync_core::Result<()> {
//! let tokens = Arc::new(StaticTokenProvider::new("exchange-token", "graph-token"));
//! let client = RestExchangeClient::builder(tokens)
//!     .tenant("contoso.onmicrosoft.com")
//!     .build()?;
//! let client = RetryingClient::new(client, RetryPolicy::default());
//! let rules = client.list_transport_rules().await?;
//! # let _ = rules;
//! # Ok(())
//! # }
//! ```

mod client;
mod errors;
mod graph;
mod invoke;

use async_trait::async_trait;

pub use crate::graph::graph_error;
pub use crate::graph::{group_kind, parse_graph_page, GraphGroup, GraphObject};
pub use crate::http::{parse_retry_after, ErrorResponse};
pub use client::{
    RestExchangeClient, RestExchangeClientBuilder, DEFAULT_EXCHANGE_URL, DEFAULT_GRAPH_URL,
    DEFAULT_TIMEOUT,
};
pub use errors::exchange_error;
pub use invoke::{anchor_mailbox, parse_invoke_page, InvokePage};

use super::{CmdletInput, CmdletTransport, MailGroup};
use crate::model::Params;
use crate::Result;

#[async_trait]
impl CmdletTransport for RestExchangeClient {
    async fn invoke(&self, input: &CmdletInput) -> Result<Vec<Params>> {
        self.invoke_command(input).await
    }

    async fn mail_enabled_groups(&self) -> Result<Vec<MailGroup>> {
        self.graph_mail_enabled_groups().await
    }
}
