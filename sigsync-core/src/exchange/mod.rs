//! Exchange Online: the `ExchangeClient` trait and its implementations.
