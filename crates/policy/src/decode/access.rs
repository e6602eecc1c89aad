//! `[roles.NAME]`, `[operations.NAME]`, `[break_glass]`, `[[step_up]]`, `[[trusted_issuers]]`.

use std::collections::BTreeMap;
use std::time::Duration;

use super::departments::is_plain_name;
use super::reader::{Fields, Value};
use super::{Context, ReferenceKind};
use crate::model::{
    BreakGlass, JwksSource, MfaRequirement, Operation, Role, StepUpRule, TrustedIssuer,
};
use crate::scope::check_scope;

/// FHIR interaction names a step-up rule may list (besides `operation:NAME`).
const INTERACTIONS: &[&str] = &[
    "read",
    "vread",
    "update",
    "patch",
    "delete",
    "history-instance",
    "history-type",
    "create",
    "search-type",
    "search-system",
    "history-system",
    "batch",
    "transaction",
    "capabilities",
];

pub(super) fn roles(
    context: &mut Context<'_>,
    value: Option<&Value<'_>>,
) -> BTreeMap<String, Role> {
    let mut roles = BTreeMap::new();
    let Some(mut all) = value.and_then(|v| context.decoder.table(v, "roles")) else {
        return roles;
    };
    for (name, value) in all.entries() {
        let name_str: &str = name.get_ref();
        if !is_plain_name(name_str, true) {
            context.decoder.error(
                name.span(),
                format!("role name `{name_str}` is not a plain lower-case name"),
                "use lower-case letters, digits and `_`, starting with a letter (\"lab_technician\")",
            );
        }
        let Some(mut f) = context.decoder.table(value, &format!("roles.{name_str}")) else {
            continue;
        };
        roles.insert(name_str.to_owned(), role(context, &mut f));
        f.finish(&mut context.decoder);
    }
    roles
}

fn role(context: &mut Context<'_>, f: &mut Fields<'_, '_>) -> Role {
    let mut role = Role {
        description: String::new(),
        scopes: Vec::new(),
        departments: Vec::new(),
        mfa: MfaRequirement::Required,
        break_glass: false,
        training_required: false,
    };
    if let Some(v) = f.take("description") {
        role.description = context
            .decoder
            .string(v, &f.key_path("description"))
            .unwrap_or_default();
    }
    if let Some(v) = f.take("scopes") {
        let what = f.key_path("scopes");
        for scope in context.decoder.strings(v, &what).unwrap_or_default() {
            match check_scope(scope.get_ref()) {
                Ok(()) => role.scopes.push(scope.into_inner()),
                Err(e) => context
                    .decoder
                    .error(scope.span(), format!("{e} in {what}"), &e.help()),
            }
        }
    }
    if let Some(v) = f.take("departments") {
        let what = f.key_path("departments");
        for department in context.decoder.strings(v, &what).unwrap_or_default() {
            context.refer(
                ReferenceKind::Department,
                department.get_ref(),
                department.span(),
                &what,
            );
            role.departments.push(department.into_inner());
        }
    }
    if let Some(v) = f.take("mfa") {
        match context.decoder.string(v, &f.key_path("mfa")).as_deref() {
            Some("required") => role.mfa = MfaRequirement::Required,
            Some("optional") => {
                role.mfa = MfaRequirement::Optional;
                context.decoder.warn(
                    v.span(),
                    "this role may log in with a password alone",
                    "HIPAA and NIS2 expect a second factor for access to patient data: prefer \
                     mfa = \"required\"",
                );
            }
            Some(other) => context.decoder.error(
                v.span(),
                format!("unknown MFA requirement {other:?}"),
                "write mfa = \"required\" or mfa = \"optional\"",
            ),
            None => {}
        }
    }
    if let Some(v) = f.take("break_glass") {
        role.break_glass = context
            .decoder
            .bool(v, &f.key_path("break_glass"))
            .unwrap_or(false);
    }
    if let Some(v) = f.take("training_required") {
        role.training_required = context
            .decoder
            .bool(v, &f.key_path("training_required"))
            .unwrap_or(false);
    }
    role
}

pub(super) fn operations(
    context: &mut Context<'_>,
    value: Option<&Value<'_>>,
) -> BTreeMap<String, Operation> {
    let mut operations = BTreeMap::new();
    let Some(mut all) = value.and_then(|v| context.decoder.table(v, "operations")) else {
        return operations;
    };
    for (name, value) in all.entries() {
        let name_str: &str = name.get_ref();
        if name_str.starts_with('$') {
            context.decoder.error(
                name.span(),
                format!("operation name `{name_str}` starts with `$`"),
                &format!("write [operations.{}]", name_str.trim_start_matches('$')),
            );
        }
        let Some(mut f) = context
            .decoder
            .table(value, &format!("operations.{name_str}"))
        else {
            continue;
        };
        let mut operation = Operation {
            roles: Vec::new(),
            permission: None,
            under_break_glass: false,
        };
        if let Some(v) = f.take("roles") {
            let what = f.key_path("roles");
            for role in context.decoder.strings(v, &what).unwrap_or_default() {
                context.refer(ReferenceKind::Role, role.get_ref(), role.span(), &what);
                operation.roles.push(role.into_inner());
            }
        }
        if let Some(v) = f.take("permission") {
            let text = context.decoder.string(v, &f.key_path("permission"));
            match text.as_deref() {
                Some(p @ ("c" | "r" | "u" | "d" | "s")) => operation.permission = p.chars().next(),
                Some(other) => context.decoder.error(
                    v.span(),
                    format!("permission {other:?} is not one SMART letter"),
                    "write one of \"c\", \"r\", \"u\", \"d\", \"s\" (for $everything: \"r\")",
                ),
                None => {}
            }
        }
        if let Some(v) = f.take("under_break_glass") {
            operation.under_break_glass = context
                .decoder
                .bool(v, &f.key_path("under_break_glass"))
                .unwrap_or(false);
        }
        f.finish(&mut context.decoder);
        operations.insert(name_str.trim_start_matches('$').to_owned(), operation);
    }
    operations
}

pub(super) fn break_glass(context: &mut Context<'_>, value: Option<&Value<'_>>) -> BreakGlass {
    let mut out = BreakGlass::default();
    let Some(mut f) = value.and_then(|v| context.decoder.table(v, "break_glass")) else {
        return out;
    };
    if let Some(v) = f.take("duration") {
        out.duration = context
            .decoder
            .duration(
                v,
                "break_glass.duration",
                Duration::from_secs(60),
                Duration::from_secs(24 * 3600),
            )
            .unwrap_or(out.duration);
    }
    if let Some(v) = f.take("require_step_up") {
        out.require_step_up = context
            .decoder
            .bool(v, "break_glass.require_step_up")
            .unwrap_or(out.require_step_up);
    }
    f.finish(&mut context.decoder);
    out
}

pub(super) fn step_up(context: &mut Context<'_>, value: Option<&Value<'_>>) -> Vec<StepUpRule> {
    let mut rules = Vec::new();
    let Some(value) = value else {
        return rules;
    };
    for mut f in context.decoder.tables(value, "step_up") {
        let mut rule = StepUpRule {
            interactions: Vec::new(),
            within: Duration::from_secs(15 * 60),
        };
        if let Some(v) = f.take("interactions") {
            let what = f.key_path("interactions");
            for item in context.decoder.strings(v, &what).unwrap_or_default() {
                let name = item.get_ref();
                let known = INTERACTIONS.contains(&name.as_str())
                    || name
                        .strip_prefix("operation:")
                        .is_some_and(|op| !op.is_empty());
                if known {
                    rule.interactions.push(item.into_inner());
                } else {
                    let help = match super::closest(name, INTERACTIONS) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => "write a FHIR interaction (delete, update, ...) or operation:NAME"
                            .to_owned(),
                    };
                    context.decoder.error(
                        item.span(),
                        format!("unknown interaction {name:?}"),
                        &help,
                    );
                }
            }
        } else {
            context.decoder.error(
                f.span.clone(),
                format!("{} has no interactions", f.path),
                "add interactions = [\"delete\"]",
            );
        }
        if let Some(v) = f.take("within") {
            rule.within = context
                .decoder
                .duration(
                    v,
                    &f.key_path("within"),
                    Duration::from_secs(10),
                    Duration::from_secs(24 * 3600),
                )
                .unwrap_or(rule.within);
        }
        f.finish(&mut context.decoder);
        rules.push(rule);
    }
    rules
}

pub(super) fn trusted_issuers(
    context: &mut Context<'_>,
    value: Option<&Value<'_>>,
) -> Vec<TrustedIssuer> {
    let mut issuers = Vec::new();
    let Some(value) = value else {
        return issuers;
    };
    for mut f in context.decoder.tables(value, "trusted_issuers") {
        if let Some(issuer) = trusted_issuer(context, &mut f) {
            issuers.push(issuer);
        }
        f.finish(&mut context.decoder);
    }
    issuers
}

fn required_string(
    context: &mut Context<'_>,
    f: &mut Fields<'_, '_>,
    key: &'static str,
    example: &str,
) -> Option<String> {
    match f.take(key) {
        Some(v) => context.decoder.string(v, &f.key_path(key)),
        None => {
            context.decoder.error(
                f.span.clone(),
                format!("{} has no {key}", f.path),
                &format!("add {key} = \"{example}\""),
            );
            None
        }
    }
}

fn string_map(
    context: &mut Context<'_>,
    f: &mut Fields<'_, '_>,
    key: &'static str,
    target: ReferenceKind,
) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    let Some(v) = f.take(key) else {
        return map;
    };
    let what = f.key_path(key);
    let Some(mut table) = context.decoder.table(v, &what) else {
        return map;
    };
    for (from, to) in table.entries() {
        if let Some(name) = context.decoder.string(to, &what) {
            context.refer(target, &name, to.span(), &what);
            map.insert(from.get_ref().to_string(), name);
        }
    }
    map
}

fn trusted_issuer(context: &mut Context<'_>, f: &mut Fields<'_, '_>) -> Option<TrustedIssuer> {
    let issuer_value = f.take("issuer");
    let issuer = match issuer_value {
        Some(v) => context.decoder.string(v, &f.key_path("issuer")),
        None => {
            context.decoder.error(
                f.span.clone(),
                format!("{} has no issuer", f.path),
                "add issuer = \"https://login.hospital.example/realms/staff\" (the exact `iss`)",
            );
            None
        }
    };
    if let (Some(text), Some(v)) = (&issuer, issuer_value)
        && !text.starts_with("https://")
    {
        context.decoder.error(
            v.span(),
            format!("issuer {text:?} is not an https URL"),
            "OpenID Connect issuers are https URLs",
        );
    }
    let jwks_url = f.take("jwks_url");
    let jwks_file = f.take("jwks_file");
    let jwks = match (jwks_url, jwks_file) {
        (Some(v), None) => context
            .decoder
            .string(v, &f.key_path("jwks_url"))
            .and_then(|url| {
                if url.starts_with("https://") {
                    Some(JwksSource::Url(url))
                } else {
                    context.decoder.error(
                        v.span(),
                        format!("jwks_url {url:?} is not an https URL"),
                        "signing keys must come over https (or from jwks_file)",
                    );
                    None
                }
            }),
        (None, Some(v)) => context
            .decoder
            .string(v, &f.key_path("jwks_file"))
            .and_then(|written| {
                let path = context.resolve_path(&written);
                if path.is_file() {
                    Some(JwksSource::File(path))
                } else {
                    context.decoder.error(
                        v.span(),
                        format!("jwks_file: file not found: {}", path.display()),
                        "write the path of the issuer's JWKS JSON file",
                    );
                    None
                }
            }),
        (Some(v), Some(_)) => {
            context
                .decoder
                .error(v.span(), "set jwks_url or jwks_file, not both", "keep one");
            None
        }
        (None, None) => {
            context.decoder.error(
                f.span.clone(),
                format!("{} has no signing keys", f.path),
                "add jwks_url = \"https://.../certs\" or jwks_file = \"issuer-jwks.json\"",
            );
            None
        }
    };
    let audience = required_string(context, f, "audience", "wardgate");
    let username_claim = f
        .take("username_claim")
        .and_then(|v| context.decoder.string(v, "username_claim"))
        .unwrap_or_else(|| "preferred_username".to_owned());
    let role_claim = f
        .take("role_claim")
        .and_then(|v| context.decoder.string(v, "role_claim"))
        .unwrap_or_else(|| "roles".to_owned());
    let role_map = string_map(context, f, "role_map", ReferenceKind::Role);
    let department_claim = f
        .take("department_claim")
        .and_then(|v| context.decoder.string(v, "department_claim"));
    let department_map = string_map(context, f, "department_map", ReferenceKind::Department);
    Some(TrustedIssuer {
        issuer: issuer?,
        jwks: jwks?,
        audience: audience?,
        username_claim,
        role_claim,
        role_map,
        department_claim,
        department_map,
    })
}
