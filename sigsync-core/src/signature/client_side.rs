//! Client-side mode: the same signature, rendered for a compose-time add-in.
//!
//! The rendering carries the client marker (`data-sigsync="client"` and
//! [`TEXT_MARKER_CLIENT`](super::TEXT_MARKER_CLIENT)), which the server-side injector
//! recognises, so that mail signed by the add-in is not signed twice (combo mode).

use super::engine::{Choice, SignatureEngine};
use super::policy::MessageContext;
use super::{Origin, UserAttributes};
use crate::Result;

impl SignatureEngine {
    /// Like [`SignatureEngine::choose`], rendered for the compose-time add-in (client marker).
    pub async fn choose_client_side(&self, ctx: &MessageContext) -> Result<Choice> {
        self.choose_async(ctx, Origin::Client).await
    }

    /// Client-side mode: renders the signature for `user` composing a message described by
    /// `ctx` (new or reply, recipients so far), as HTML and text carrying the client marker,
    /// so the server-side injector does not sign the message again. Group rules decide on
    /// `user.groups` when given, else on the in-memory directory (see
    /// [`SignatureEngine::choose_for`]): the same rule as server-side injection.
    pub fn render_client_side(
        &self,
        user: &UserAttributes,
        ctx: &MessageContext,
    ) -> Result<Choice> {
        let mut ctx = ctx.clone();
        if ctx.sender.is_empty() {
            ctx.sender = user.mail.clone().unwrap_or_default();
        }
        self.choose_for(&ctx, Some(user), Origin::Client)
    }
}
