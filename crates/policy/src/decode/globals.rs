//! The global sections: `[listen]`, `[tls]`, `[limits]`, `[rate_limit]`, `[upstream]`, `[audit]`.

use std::net::SocketAddr;
use std::time::Duration;

use super::Context;
use super::reader::Value;
use crate::model::{
    Audit, AuditSink, Limits, Listen, RateLimit, RateLimitOverride, Tls, TlsVersion,
    UpstreamSettings,
};
use crate::units::ByteSize;

const DEFAULT_PUBLIC: &str = "127.0.0.1:8443";
const DEFAULT_ADMIN: &str = "127.0.0.1:9443";

pub(super) fn listen(context: &mut Context<'_>, value: Option<&Value<'_>>) -> Listen {
    let mut listen = Listen {
        public: SocketAddr::from(([127, 0, 0, 1], 8443)),
        admin: SocketAddr::from(([127, 0, 0, 1], 9443)),
    };
    let Some(mut fields) = value.and_then(|v| context.decoder.table(v, "listen")) else {
        return listen;
    };
    let d = &mut context.decoder;
    let mut read = |fields: &mut super::reader::Fields<'_, '_>,
                    key: &'static str,
                    example: &str| {
        let value = fields.take(key)?;
        let text = d.string(value, &format!("listen.{key}"))?;
        match text.parse::<SocketAddr>() {
            Ok(addr) => Some((addr, value.span())),
            Err(_) => {
                d.error(
                    value.span(),
                    format!("listen.{key} is not an address and port: {text:?}"),
                    &format!(
                        "write an IP address and a port, for example \"{example}\" (IPv6: \"[::1]:8443\")"
                    ),
                );
                None
            }
        }
    };
    let public = read(&mut fields, "public", DEFAULT_PUBLIC);
    let admin = read(&mut fields, "admin", DEFAULT_ADMIN);
    if let Some((addr, _)) = &public {
        listen.public = *addr;
    }
    if let Some((addr, span)) = &admin {
        listen.admin = *addr;
        if !addr.ip().is_loopback() {
            d.warn(
                span.clone(),
                format!("the admin listener {addr} is reachable from the network"),
                "metrics and the admin API belong on 127.0.0.1 or a management network only",
            );
        }
    }
    if listen.admin == listen.public {
        let span = admin
            .or(public)
            .map(|(_, span)| span)
            .unwrap_or(fields.span.clone());
        d.error(
            span,
            "listen.admin is the same address as listen.public",
            "the admin endpoints must never be on the public listener: pick another port",
        );
    }
    fields.finish(d);
    listen
}

pub(super) fn tls(context: &mut Context<'_>, value: Option<&Value<'_>>) -> Tls {
    let mut tls = Tls {
        certificate: None,
        private_key: None,
        client_ca: None,
        min_version: TlsVersion::Tls12,
    };
    let Some(mut fields) = value.and_then(|v| context.decoder.table(v, "tls")) else {
        return tls;
    };
    let mut file = |context: &mut Context<'_>, key: &'static str| {
        let value = fields.take(key)?;
        let written = context.decoder.string(value, &format!("tls.{key}"))?;
        let path = context.resolve_path(&written);
        if !path.is_file() {
            context.decoder.error(
                value.span(),
                format!("tls.{key}: file not found: {}", path.display()),
                "write the path of an existing PEM file (relative paths start at the policy \
                 file's folder), or remove the key to use the development CA in the data folder",
            );
        }
        Some((path, value.span()))
    };
    let certificate = file(context, "certificate");
    let private_key = file(context, "private_key");
    let client_ca = file(context, "client_ca");
    match (&certificate, &private_key) {
        (Some((_, span)), None) => context.decoder.error(
            span.clone(),
            "tls.certificate is set but tls.private_key is not",
            "set both (the certificate chain and its key) or neither",
        ),
        (None, Some((_, span))) => context.decoder.error(
            span.clone(),
            "tls.private_key is set but tls.certificate is not",
            "set both (the certificate chain and its key) or neither",
        ),
        _ => {}
    }
    tls.certificate = certificate.map(|(p, _)| p);
    tls.private_key = private_key.map(|(p, _)| p);
    tls.client_ca = client_ca.map(|(p, _)| p);
    if let Some(value) = fields.take("min_version")
        && let Some(text) = context.decoder.string(value, "tls.min_version")
    {
        match text.as_str() {
            "1.2" => tls.min_version = TlsVersion::Tls12,
            "1.3" => tls.min_version = TlsVersion::Tls13,
            "1.0" | "1.1" => context.decoder.error(
                value.span(),
                format!("TLS {text} is obsolete and not supported"),
                "write min_version = \"1.2\" or \"1.3\"",
            ),
            _ => context.decoder.error(
                value.span(),
                format!("unknown TLS version {text:?} in min_version"),
                "write min_version = \"1.2\" or \"1.3\"",
            ),
        }
    }
    fields.finish(&mut context.decoder);
    tls
}

pub(super) fn limits(context: &mut Context<'_>, value: Option<&Value<'_>>) -> Limits {
    let mut limits = Limits::default();
    let Some(mut f) = value.and_then(|v| context.decoder.table(v, "limits")) else {
        return limits;
    };
    let d = &mut context.decoder;
    let ms = Duration::from_millis;
    let s = Duration::from_secs;
    if let Some(v) = f.take("max_header_bytes") {
        limits.max_header_bytes = d
            .size(
                v,
                "limits.max_header_bytes",
                ByteSize::kib(1),
                ByteSize::mib(1),
            )
            .unwrap_or(limits.max_header_bytes);
    }
    if let Some(v) = f.take("max_body_bytes") {
        limits.max_body_bytes = d
            .size(v, "limits.max_body_bytes", ByteSize(0), ByteSize::gib(64))
            .unwrap_or(limits.max_body_bytes);
    }
    if let Some(v) = f.take("header_read_timeout") {
        limits.header_read_timeout = d
            .duration(v, "limits.header_read_timeout", ms(100), s(300))
            .unwrap_or(limits.header_read_timeout);
    }
    if let Some(v) = f.take("body_read_timeout") {
        limits.body_read_timeout = d
            .duration(v, "limits.body_read_timeout", ms(100), s(3600))
            .unwrap_or(limits.body_read_timeout);
    }
    if let Some(v) = f.take("idle_timeout") {
        limits.idle_timeout = d
            .duration(v, "limits.idle_timeout", s(1), s(3600))
            .unwrap_or(limits.idle_timeout);
    }
    if let Some(v) = f.take("max_connections_per_address") {
        limits.max_connections_per_address = d
            .u32(v, "limits.max_connections_per_address", 1, 1_000_000)
            .unwrap_or(limits.max_connections_per_address);
    }
    if let Some(v) = f.take("h2_max_concurrent_streams") {
        limits.h2_max_concurrent_streams = d
            .u32(v, "limits.h2_max_concurrent_streams", 1, 10_000)
            .unwrap_or(limits.h2_max_concurrent_streams);
    }
    if let Some(v) = f.take("h2_max_resets_per_second") {
        limits.h2_max_resets_per_second = d
            .u32(v, "limits.h2_max_resets_per_second", 1, 100_000)
            .unwrap_or(limits.h2_max_resets_per_second);
    }
    f.finish(d);
    limits
}

/// Reads a `rate_limit` table into an override (every key optional).
pub(super) fn rate_limit_override(
    context: &mut Context<'_>,
    value: &Value<'_>,
    path: &str,
) -> RateLimitOverride {
    let mut out = RateLimitOverride::default();
    let Some(mut f) = context.decoder.table(value, path) else {
        return out;
    };
    let d = &mut context.decoder;
    if let Some(v) = f.take("rate_per_second") {
        out.rate_per_second = d.number(v, &f.key_path("rate_per_second"), 0.001, 1_000_000.0);
    }
    if let Some(v) = f.take("burst") {
        out.burst = d.u32(v, &f.key_path("burst"), 1, 1_000_000);
    }
    f.finish(d);
    out
}

pub(super) fn rate_limit(context: &mut Context<'_>, value: Option<&Value<'_>>) -> RateLimit {
    match value {
        Some(v) => rate_limit_override(context, v, "rate_limit").apply(RateLimit::default()),
        None => RateLimit::default(),
    }
}

pub(super) fn upstream(context: &mut Context<'_>, value: Option<&Value<'_>>) -> UpstreamSettings {
    let mut upstream = UpstreamSettings::default();
    let Some(mut f) = value.and_then(|v| context.decoder.table(v, "upstream")) else {
        return upstream;
    };
    let d = &mut context.decoder;
    if let Some(v) = f.take("connect_timeout") {
        upstream.connect_timeout = d
            .duration(
                v,
                "upstream.connect_timeout",
                Duration::from_millis(10),
                Duration::from_secs(60),
            )
            .unwrap_or(upstream.connect_timeout);
    }
    if let Some(v) = f.take("response_timeout") {
        upstream.response_timeout = d
            .duration(
                v,
                "upstream.response_timeout",
                Duration::from_millis(100),
                Duration::from_secs(3600),
            )
            .unwrap_or(upstream.response_timeout);
    }
    if let Some(v) = f.take("pool_idle_per_host") {
        upstream.pool_idle_per_host = d
            .u32(v, "upstream.pool_idle_per_host", 0, 10_000)
            .unwrap_or(upstream.pool_idle_per_host);
    }
    f.finish(d);
    upstream
}

pub(super) fn audit(context: &mut Context<'_>, value: Option<&Value<'_>>) -> Audit {
    let mut audit = Audit {
        log: AuditSink::Stdout,
    };
    let Some(mut f) = value.and_then(|v| context.decoder.table(v, "audit")) else {
        return audit;
    };
    if let Some(v) = f.take("log")
        && let Some(text) = context.decoder.string(v, "audit.log")
    {
        audit.log = match text.as_str() {
            "stdout" => AuditSink::Stdout,
            "stderr" => AuditSink::Stderr,
            "" | "off" | "none" => {
                context.decoder.error(
                    v.span(),
                    "the exchange log cannot be switched off",
                    "write \"stdout\", \"stderr\" or the path of a file to append to",
                );
                AuditSink::Stdout
            }
            path => {
                let path = context.resolve_path(path);
                if path.parent().is_some_and(|dir| !dir.is_dir()) {
                    context.decoder.error(
                        v.span(),
                        format!("audit.log: folder not found for {}", path.display()),
                        "create the folder, or write \"stdout\" or \"stderr\"",
                    );
                }
                AuditSink::File(path)
            }
        };
    }
    f.finish(&mut context.decoder);
    audit
}
