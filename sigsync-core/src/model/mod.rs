//! Typed definitions of the Exchange Online objects a signature service creates.
