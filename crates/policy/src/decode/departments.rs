//! `[zones.NAME]` and `[departments.NAME]` with their `[[departments.NAME.routes]]`.

use std::collections::BTreeMap;

use super::reader::{Fields, Value, closest};
use super::{Context, ReferenceKind};
use crate::model::{
    Department, LimitsOverride, RateLimit, Route, RouteLimits, RouteSettings, UpstreamTarget,
    WafSettings, Zone, other_resource_types,
};
use crate::units::ByteSize;

/// Path segments the URL contract keeps for wardgate itself (design.md, section 3a).
const RESERVED_SEGMENTS: &[&str] = &["auth", "files", "s", ".well-known", "admin"];

/// The word in `resource_types` that stands for every FHIR R4 type no other department lists.
pub const OTHER_TYPES: &str = "others";

/// Methods a route may name.
const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// The global settings a department's overrides start from.
pub(super) struct Defaults {
    pub(super) limits: RouteLimits,
    pub(super) rate_limit: RateLimit,
    pub(super) waf: WafSettings,
}

/// Whether `name` is lower-case ASCII letters, digits, `_` and `-`, starting with a letter.
pub(super) fn is_plain_name(name: &str, allow_underscore: bool) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && name.len() <= 63
        && chars.all(|c| {
            c.is_ascii_lowercase()
                || c.is_ascii_digit()
                || c == '-'
                || (allow_underscore && c == '_')
        })
}

pub(super) fn zones(
    context: &mut Context<'_>,
    value: Option<&Value<'_>>,
) -> BTreeMap<String, Zone> {
    let mut zones = BTreeMap::new();
    let Some(mut all) = value.and_then(|v| context.decoder.table(v, "zones")) else {
        return zones;
    };
    for (name, value) in all.entries() {
        let name_str: &str = name.get_ref();
        if !is_plain_name(name_str, true) {
            context.decoder.error(
                name.span(),
                format!("zone name `{name_str}` is not a plain lower-case name"),
                "use lower-case letters, digits, `_` and `-`, starting with a letter (\"clinical\")",
            );
        }
        let Some(mut f) = context.decoder.table(value, &format!("zones.{name_str}")) else {
            continue;
        };
        let mut zone = Zone {
            description: String::new(),
            require_mtls: false,
        };
        if let Some(v) = f.take("description") {
            zone.description = context
                .decoder
                .string(v, &f.key_path("description"))
                .unwrap_or_default();
        }
        if let Some(v) = f.take("require_mtls") {
            zone.require_mtls = context
                .decoder
                .bool(v, &f.key_path("require_mtls"))
                .unwrap_or(false);
        }
        f.finish(&mut context.decoder);
        zones.insert(name_str.to_owned(), zone);
    }
    zones
}

pub(super) fn departments(
    context: &mut Context<'_>,
    value: Option<&Value<'_>>,
    defaults: &Defaults,
) -> BTreeMap<String, Department> {
    let mut departments = BTreeMap::new();
    let Some(value) = value else {
        context.decoder.warn(
            0..0,
            "the policy defines no department: every request will be refused",
            "add a [departments.NAME] table for each department API",
        );
        return departments;
    };
    let Some(mut all) = context.decoder.table(value, "departments") else {
        return departments;
    };
    let mut others = Vec::new();
    for (name, value) in all.entries() {
        let name_str: &str = name.get_ref();
        if !is_plain_name(name_str, false) {
            context.decoder.error(
                name.span(),
                format!("department name `{name_str}` cannot be a URL path segment"),
                "use lower-case letters, digits and `-`, starting with a letter (\"emergency\")",
            );
        } else if RESERVED_SEGMENTS.contains(&name_str) {
            context.decoder.error(
                name.span(),
                format!("department name `{name_str}` is reserved for wardgate's own endpoints"),
                &format!(
                    "the reserved names are {}; pick another",
                    RESERVED_SEGMENTS.join(", ")
                ),
            );
        }
        if let Some(department) = department(context, name_str, value, defaults, &mut others) {
            departments.insert(name_str.to_owned(), department);
        }
    }
    expand_other_types(context, &mut departments, &others);
    departments
}

/// Replaces `"others"` in the one department that wrote it by every FHIR R4 resource type
/// that no department lists by name, so that every type has a home.
fn expand_other_types(
    context: &mut Context<'_>,
    departments: &mut BTreeMap<String, Department>,
    others: &[(String, std::ops::Range<usize>)],
) {
    // The first in the file keeps them; every later one is the mistake.
    let mut others = others.to_vec();
    others.sort_by_key(|(_, span)| span.start);
    let Some((home, _)) = others.first() else {
        return;
    };
    for (name, span) in &others[1..] {
        context.decoder.error(
            span.clone(),
            format!(
                "department `{name}` also serves the `{OTHER_TYPES}` resource types, which `{home}` already serves"
            ),
            "one department keeps the types no other lists: remove it from all but one",
        );
    }
    let others = other_resource_types(
        departments
            .values()
            .flat_map(|d| d.resource_types.iter().flatten())
            .map(String::as_str),
    );
    let home = home.clone();
    for department in departments.values_mut() {
        let Some(types) = department.resource_types.as_mut() else {
            continue;
        };
        if let Some(at) = types.iter().position(|t| t == OTHER_TYPES) {
            types.remove(at);
            if department.name == home {
                types.extend(others.iter().map(|t| (*t).to_owned()));
            }
        }
    }
}

fn department(
    context: &mut Context<'_>,
    name: &str,
    value: &Value<'_>,
    defaults: &Defaults,
    others: &mut Vec<(String, std::ops::Range<usize>)>,
) -> Option<Department> {
    let mut f = context
        .decoder
        .table(value, &format!("departments.{name}"))?;
    let expected_prefix = format!("/{name}/");
    let mut department = Department {
        name: name.to_owned(),
        description: String::new(),
        prefix: expected_prefix.clone(),
        upstream: UpstreamTarget::Builtin,
        zones: Vec::new(),
        require_mtls: false,
        resource_types: None,
        limits: LimitsOverride::default(),
        rate_limit: Default::default(),
        waf: Default::default(),
        routes: Vec::new(),
        effective: RouteSettings {
            limits: defaults.limits,
            rate_limit: defaults.rate_limit,
            waf: defaults.waf,
            require_mtls: false,
        },
    };
    if let Some(v) = f.take("description") {
        department.description = context
            .decoder
            .string(v, &f.key_path("description"))
            .unwrap_or_default();
    }
    if let Some(v) = f.take("prefix")
        && let Some(prefix) = context.decoder.string(v, &f.key_path("prefix"))
    {
        if !prefix.starts_with('/') || !prefix.ends_with('/') {
            context.decoder.error(
                v.span(),
                format!("prefix {prefix:?} must start and end with \"/\""),
                &format!("write prefix = \"{expected_prefix}\""),
            );
        } else if prefix != expected_prefix {
            context.decoder.error(
                v.span(),
                format!("prefix {prefix:?} does not match the department name `{name}`"),
                &format!(
                    "the URL contract is /{{department}}/...: write prefix = \"{expected_prefix}\" \
                         (or rename the table to match the prefix)"
                ),
            );
        }
    }
    if let Some(v) = f.take("upstream")
        && let Some(text) = context.decoder.string(v, &f.key_path("upstream"))
    {
        match parse_upstream(&text) {
            Ok(target) => department.upstream = target,
            Err(problem) => context.decoder.error(
                v.span(),
                format!("upstream {text:?} {problem}"),
                "write \"builtin\" or an http(s) URL such as \"http://127.0.0.1:8080\" or \
                     \"https://pacs.hospital.example/dicom-web\"",
            ),
        }
    }
    if let Some(v) = f.take("zones") {
        let what = f.key_path("zones");
        for zone in context.decoder.strings(v, &what).unwrap_or_default() {
            context.refer(ReferenceKind::Zone, zone.get_ref(), zone.span(), &what);
            department.zones.push(zone.into_inner());
        }
    }
    let mtls_value = f.take("require_mtls");
    if let Some(v) = mtls_value {
        department.require_mtls = context
            .decoder
            .bool(v, &f.key_path("require_mtls"))
            .unwrap_or(false);
        if department.require_mtls && department.zones.is_empty() {
            context.decoder.error(
                v.span(),
                format!("department `{name}` requires mTLS but allows no zone"),
                "no device certificate could ever reach it: add zones = [\"devices\"] (the zones \
                 whose certificates may connect)",
            );
        }
    }
    if let Some(v) = f.take("resource_types") {
        let (types, other_span) = resource_types(context, v, &f.key_path("resource_types"));
        if let Some(span) = other_span {
            others.push((name.to_owned(), span));
        }
        department.resource_types = Some(types);
    }
    if let Some(v) = f.take("limits") {
        department.limits = limits_override(context, v, &f.key_path("limits"));
    }
    if let Some(v) = f.take("rate_limit") {
        department.rate_limit =
            super::globals::rate_limit_override(context, v, &f.key_path("rate_limit"));
    }
    if let Some(v) = f.take("waf") {
        department.waf = super::waf::waf_override(context, v, &f.key_path("waf"));
    }
    department.effective = RouteSettings {
        limits: department.limits.apply(defaults.limits),
        rate_limit: department.rate_limit.apply(defaults.rate_limit),
        waf: department.waf.apply(defaults.waf),
        require_mtls: department.require_mtls,
    };
    if let Some(v) = f.take("routes") {
        let what = f.key_path("routes");
        for route_fields in context.decoder.tables(v, &what) {
            let span = route_fields.span.clone();
            let Some(r) = route(context, route_fields, &department) else {
                continue;
            };
            let overlaps = |other: &Route| {
                other.path == r.path
                    && (other.methods.is_empty()
                        || r.methods.is_empty()
                        || other.methods.iter().any(|m| r.methods.contains(m)))
            };
            if department.routes.iter().any(overlaps) {
                context.decoder.error(
                    span,
                    format!("a second route for {:?} with the same methods", r.path),
                    "merge the two routes, or give them methods that do not overlap",
                );
            }
            department.routes.push(r);
        }
        // Most specific first, so the first match is the one that applies.
        department.routes.sort_by(|a, b| {
            b.path
                .len()
                .cmp(&a.path.len())
                .then(a.methods.is_empty().cmp(&b.methods.is_empty()))
        });
    }
    f.finish_with(
        &mut context.decoder,
        &[("route", "finer routes are [[departments.NAME.routes]]")],
    );
    Some(department)
}

/// `"builtin"` or an absolute http(s) URL without query or fragment.
fn parse_upstream(text: &str) -> Result<UpstreamTarget, &'static str> {
    if text == "builtin" {
        return Ok(UpstreamTarget::Builtin);
    }
    let uri: http::Uri = text.parse().map_err(|_| "is not a URL")?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        Some(_) => return Err("has a scheme other than http or https"),
        None => return Err("is neither \"builtin\" nor an absolute URL"),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err("has no host");
    }
    if uri.query().is_some() || text.contains('#') {
        return Err("carries a query or fragment");
    }
    if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
        return Err("carries credentials: keep them out of the policy file");
    }
    Ok(UpstreamTarget::Url(uri))
}

/// The listed types, and where `"others"` was written if it was.
fn resource_types(
    context: &mut Context<'_>,
    value: &Value<'_>,
    what: &str,
) -> (Vec<String>, Option<std::ops::Range<usize>>) {
    let mut out: Vec<String> = Vec::new();
    let mut others = None;
    for item in context.decoder.strings(value, what).unwrap_or_default() {
        let name = item.get_ref();
        if out.iter().any(|t| t == name) {
            context.decoder.error(
                item.span(),
                format!("`{name}` is listed twice in {what}"),
                "remove one",
            );
        } else if name == OTHER_TYPES {
            others = Some(item.span());
            out.push(item.into_inner());
        } else if !wardgate_fhir::is_resource_type(name) {
            let help = match closest(name, wardgate_fhir::RESOURCE_TYPES) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!(
                    "write a FHIR R4 resource type, as the specification spells it, or \"{OTHER_TYPES}\" for every type no other department lists"
                ),
            };
            context.decoder.error(
                item.span(),
                format!("unknown FHIR resource type `{name}` in {what}"),
                &help,
            );
        } else {
            out.push(item.into_inner());
        }
    }
    (out, others)
}

/// Keys that exist in `[limits]` but act before a request is routed.
const CONNECTION_LIMITS: &[(&str, &str)] = &[
    (
        "max_header_bytes",
        "request heads are read before routing: set it in [limits]",
    ),
    (
        "header_read_timeout",
        "request heads are read before routing: set it in [limits]",
    ),
    (
        "idle_timeout",
        "it applies to whole connections: set it in [limits]",
    ),
    (
        "max_connections_per_address",
        "it applies to whole connections: set it in [limits]",
    ),
    (
        "h2_max_concurrent_streams",
        "it applies to whole connections: set it in [limits]",
    ),
    (
        "h2_max_resets_per_second",
        "it applies to whole connections: set it in [limits]",
    ),
];

fn limits_override(context: &mut Context<'_>, value: &Value<'_>, what: &str) -> LimitsOverride {
    let mut out = LimitsOverride::default();
    let Some(mut f) = context.decoder.table(value, what) else {
        return out;
    };
    if let Some(v) = f.take("max_body_bytes") {
        out.max_body_bytes = context.decoder.size(
            v,
            &f.key_path("max_body_bytes"),
            ByteSize(0),
            ByteSize::gib(64),
        );
    }
    if let Some(v) = f.take("body_read_timeout") {
        out.body_read_timeout = context.decoder.duration(
            v,
            &f.key_path("body_read_timeout"),
            std::time::Duration::from_millis(100),
            std::time::Duration::from_secs(3600),
        );
    }
    f.finish_with(&mut context.decoder, CONNECTION_LIMITS);
    out
}

fn route(
    context: &mut Context<'_>,
    mut f: Fields<'_, '_>,
    department: &Department,
) -> Option<Route> {
    let Some(path_value) = f.take("path") else {
        context.decoder.error(
            f.span.clone(),
            format!("{} has no path", f.path),
            &format!("add path = \"{}fhir/...\"", department.prefix),
        );
        f.finish(&mut context.decoder);
        return None;
    };
    let path = context.decoder.string(path_value, &f.key_path("path"))?;
    if !path.starts_with(&department.prefix) {
        context.decoder.error(
            path_value.span(),
            format!(
                "route path {path:?} is outside its department's prefix {:?}",
                department.prefix
            ),
            &format!("write a path that starts with {:?}", department.prefix),
        );
    } else if path.contains("//")
        || path.split('/').any(|s| s == "." || s == "..")
        || path.contains(['?', '#', '%'])
    {
        context.decoder.error(
            path_value.span(),
            format!("route path {path:?} is not a plain path"),
            "write segments without //, . or .., query, fragment or percent-encoding",
        );
    }
    let mut route = Route {
        path,
        methods: Vec::new(),
        limits: LimitsOverride::default(),
        rate_limit: Default::default(),
        waf: Default::default(),
        require_mtls: None,
        effective: department.effective,
    };
    if let Some(v) = f.take("methods") {
        let what = f.key_path("methods");
        for method in context.decoder.strings(v, &what).unwrap_or_default() {
            let m = method.get_ref();
            if METHODS.contains(&m.as_str()) {
                route.methods.push(method.into_inner());
            } else {
                let upper = m.to_ascii_uppercase();
                let help = if METHODS.contains(&upper.as_str()) {
                    format!("methods are upper case: write \"{upper}\"")
                } else {
                    format!("write one of {}", METHODS.join(", "))
                };
                context.decoder.error(
                    method.span(),
                    format!("unknown HTTP method {m:?} in {what}"),
                    &help,
                );
            }
        }
    }
    if let Some(v) = f.take("limits") {
        route.limits = limits_override(context, v, &f.key_path("limits"));
    }
    if let Some(v) = f.take("rate_limit") {
        route.rate_limit =
            super::globals::rate_limit_override(context, v, &f.key_path("rate_limit"));
    }
    if let Some(v) = f.take("waf") {
        route.waf = super::waf::waf_override(context, v, &f.key_path("waf"));
    }
    if let Some(v) = f.take("require_mtls") {
        route.require_mtls = context.decoder.bool(v, &f.key_path("require_mtls"));
        if route.require_mtls == Some(false) && department.require_mtls {
            context.decoder.warn(
                v.span(),
                format!(
                    "this route lifts the mTLS requirement of department `{}`",
                    department.name
                ),
                "make sure clients without a device certificate may really use it",
            );
        }
    }
    route.effective = RouteSettings {
        limits: route.limits.apply(department.effective.limits),
        rate_limit: route.rate_limit.apply(department.effective.rate_limit),
        waf: route.waf.apply(department.effective.waf),
        require_mtls: route.require_mtls.unwrap_or(department.require_mtls),
    };
    f.finish(&mut context.decoder);
    Some(route)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstreams_are_builtin_or_http_urls() {
        assert_eq!(parse_upstream("builtin"), Ok(UpstreamTarget::Builtin));
        assert!(matches!(
            parse_upstream("http://127.0.0.1:8080"),
            Ok(UpstreamTarget::Url(_))
        ));
        assert!(matches!(
            parse_upstream("https://pacs.example/dicom-web"),
            Ok(UpstreamTarget::Url(_))
        ));
        assert!(parse_upstream("ftp://pacs.example").is_err());
        assert!(parse_upstream("built-in").is_err());
        assert!(parse_upstream("http://user:pw@pacs.example").is_err());
        assert!(parse_upstream("http://pacs.example/?a=b").is_err());
    }
}
