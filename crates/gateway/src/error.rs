//! What can stop the gateway from starting or reloading.

/// A failure to start, configure or reload the gateway (never shown to API clients).
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// A TLS certificate, key or CA could not be read or used.
    #[error("TLS: {0}")]
    Tls(String),
    /// A listener could not be bound or configured.
    #[error("listener: {0}")]
    Listener(#[from] std::io::Error),
    /// The exchange log could not be opened.
    #[error("exchange log {path}: {source}")]
    ExchangeLog {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}
