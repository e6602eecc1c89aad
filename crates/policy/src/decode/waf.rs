//! `[waf]`, its `[[waf.exclusions]]` and `[[waf.rules]]`, and the per-department overrides.

use super::reader::{Fields, Value, closest};
use super::{Context, ReferenceKind};
use crate::model::{
    CustomRule, InputLocation, RuleAction, Waf, WafExclusion, WafMode, WafOverride,
};

/// Attack classes a detector list may name (the names the `waf` crate gives its verdicts).
pub const DETECTORS: &[&str] = &[
    "all",
    "sqli",
    "xss",
    "lfi",
    "rfi",
    "rce",
    "ssrf",
    "xxe",
    "ldapi",
    "xpathi",
    "nosqli",
    "ssti",
    "ssi",
    "log4shell",
    "crlf",
    "mail_injection",
    "scanner",
    "protocol",
];

/// The longest custom rule pattern accepted; the compiled regex is size-limited as well.
const MAX_PATTERN_LEN: usize = 1024;

fn mode(context: &mut Context<'_>, value: &Value<'_>, what: &str) -> Option<WafMode> {
    let text = context.decoder.string(value, what)?;
    match text.as_str() {
        "block" => Some(WafMode::Block),
        "detect" => Some(WafMode::Detect),
        "off" => Some(WafMode::Off),
        _ => {
            context.decoder.error(
                value.span(),
                format!("unknown WAF mode {text:?}"),
                "write mode = \"block\" (refuse attacks), \"detect\" (record only) or \"off\"",
            );
            None
        }
    }
}

fn paranoia(context: &mut Context<'_>, value: &Value<'_>, what: &str) -> Option<u8> {
    context
        .decoder
        .integer(value, what, 1, 4)
        .and_then(|n| u8::try_from(n).ok())
}

pub(super) fn waf_override(
    context: &mut Context<'_>,
    value: &Value<'_>,
    what: &str,
) -> WafOverride {
    let mut out = WafOverride::default();
    let Some(mut f) = context.decoder.table(value, what) else {
        return out;
    };
    if let Some(v) = f.take("mode") {
        out.mode = mode(context, v, &f.key_path("mode"));
        if out.mode == Some(WafMode::Off) {
            context.decoder.warn(
                v.span(),
                format!("the WAF is off for {}", what.trim_end_matches(".waf")),
                "prefer \"detect\" to keep a record of what would have been blocked",
            );
        }
    }
    if let Some(v) = f.take("paranoia") {
        out.paranoia = paranoia(context, v, &f.key_path("paranoia"));
    }
    f.finish_with(
        &mut context.decoder,
        &[
            (
                "rules",
                "custom rules are global: [[waf.rules]] with a path_prefix",
            ),
            (
                "exclusions",
                "exclusions are global: [[waf.exclusions]] with a department",
            ),
        ],
    );
    out
}

pub(super) fn waf(context: &mut Context<'_>, value: Option<&Value<'_>>) -> Waf {
    let mut waf = Waf::default();
    let Some(mut f) = value.and_then(|v| context.decoder.table(v, "waf")) else {
        return waf;
    };
    if let Some(v) = f.take("mode") {
        waf.mode = mode(context, v, "waf.mode").unwrap_or(waf.mode);
        if waf.mode == WafMode::Off {
            context.decoder.warn(
                v.span(),
                "the WAF is off for every department",
                "prefer \"detect\" to keep a record of what would have been blocked",
            );
        }
    }
    if let Some(v) = f.take("paranoia") {
        waf.paranoia = paranoia(context, v, "waf.paranoia").unwrap_or(waf.paranoia);
    }
    if let Some(v) = f.take("exclusions") {
        for fields in context.decoder.tables(v, "waf.exclusions") {
            if let Some(exclusion) = exclusion(context, fields) {
                waf.exclusions.push(exclusion);
            }
        }
    }
    if let Some(v) = f.take("rules") {
        let mut seen: Vec<String> = Vec::new();
        for fields in context.decoder.tables(v, "waf.rules") {
            if let Some((rule, id_span)) = rule(context, fields) {
                if seen.contains(&rule.id) {
                    context.decoder.error(
                        id_span,
                        format!("custom rule id `{}` is used twice", rule.id),
                        "give every rule its own id: verdicts and audit records name it",
                    );
                }
                seen.push(rule.id.clone());
                waf.rules.push(rule);
            }
        }
    }
    f.finish(&mut context.decoder);
    waf
}

/// `path`, `query[:name]`, `header[:name]`, `cookie[:name]`, `body[:$.json.path]`.
pub(crate) fn parse_location(text: &str) -> Result<InputLocation, String> {
    let (kind, name) = match text.split_once(':') {
        Some((kind, name)) => (kind, Some(name)),
        None => (text, None),
    };
    if name.is_some_and(str::is_empty) {
        return Err("has an empty name after `:`".to_owned());
    }
    let name = name.map(str::to_owned);
    match kind {
        "path" if name.is_none() => Ok(InputLocation::Path),
        "query" => Ok(InputLocation::Query(name)),
        "header" => Ok(InputLocation::Header(name.map(|n| n.to_ascii_lowercase()))),
        "cookie" => Ok(InputLocation::Cookie(name)),
        "body" => match name {
            Some(path) if !path.starts_with('$') => {
                Err("names a body field without a JSON path starting with `$`".to_owned())
            }
            name => Ok(InputLocation::Body(name)),
        },
        _ => Err("is not a place in a request".to_owned()),
    }
}

const LOCATION_HELP: &str = "write path, query, query:NAME, header:NAME, cookie:NAME, body or \
                             body:$.json.path (for example \"body:$.data\")";

fn location(context: &mut Context<'_>, value: &Value<'_>, what: &str) -> Option<InputLocation> {
    let text = context.decoder.string(value, what)?;
    match parse_location(&text) {
        Ok(location) => Some(location),
        Err(problem) => {
            context.decoder.error(
                value.span(),
                format!("location {text:?} {problem}"),
                LOCATION_HELP,
            );
            None
        }
    }
}

fn path_prefix(context: &mut Context<'_>, value: &Value<'_>, what: &str) -> Option<String> {
    let text = context.decoder.string(value, what)?;
    if !text.starts_with('/') {
        context.decoder.error(
            value.span(),
            format!("{what} {text:?} does not start with \"/\""),
            "write a path such as \"/record/fhir/Binary\"",
        );
        return None;
    }
    Some(text)
}

fn exclusion(context: &mut Context<'_>, mut f: Fields<'_, '_>) -> Option<WafExclusion> {
    let mut department = None;
    if let Some(v) = f.take("department") {
        let what = f.key_path("department");
        if let Some(name) = context.decoder.string(v, &what) {
            context.refer(ReferenceKind::Department, &name, v.span(), &what);
            department = Some(name);
        }
    }
    let prefix_value = f.take("path_prefix");
    let prefix = prefix_value.and_then(|v| path_prefix(context, v, "path_prefix"));
    let location_value = f.take("location");
    let location = location_value.and_then(|v| location(context, v, "location"));
    let detectors_value = f.take("detectors");
    let mut detectors = Vec::new();
    if let Some(v) = detectors_value {
        let items = context.decoder.strings(v, "detectors");
        if items.as_ref().is_some_and(Vec::is_empty) {
            context.decoder.error(
                v.span(),
                "the detectors list is empty: this exclusion would do nothing",
                "name the detectors switched off here, for example [\"sqli\"], or [\"all\"]",
            );
        }
        for item in items.unwrap_or_default() {
            if DETECTORS.contains(&item.get_ref().as_str()) {
                detectors.push(item.into_inner());
            } else {
                let help = match closest(item.get_ref(), DETECTORS) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("write \"all\" or some of: {}", DETECTORS[1..].join(", ")),
                };
                context.decoder.error(
                    item.span(),
                    format!("unknown detector {:?}", item.get_ref()),
                    &help,
                );
            }
        }
    }
    let missing: Vec<&str> = [
        ("path_prefix", prefix_value.is_none()),
        ("location", location_value.is_none()),
        ("detectors", detectors_value.is_none()),
    ]
    .into_iter()
    .filter_map(|(key, missing)| missing.then_some(key))
    .collect();
    if !missing.is_empty() {
        context.decoder.error(
            f.span.clone(),
            format!("{} needs {}", f.path, missing.join(", ")),
            "an exclusion names a path_prefix, a location (\"body:$.data\") and the \
             detectors switched off there ([\"sqli\"] or [\"all\"])",
        );
    }
    f.finish(&mut context.decoder);
    if detectors.is_empty() {
        return None;
    }
    Some(WafExclusion {
        department,
        path_prefix: prefix?,
        location: location?,
        detectors,
    })
}

fn rule(
    context: &mut Context<'_>,
    mut f: Fields<'_, '_>,
) -> Option<(CustomRule, std::ops::Range<usize>)> {
    let id_value = f.take("id");
    let id = id_value.and_then(|v| context.decoder.string(v, &f.key_path("id")));
    if let (Some(id), Some(v)) = (&id, id_value)
        && (id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
    {
        context.decoder.error(
            v.span(),
            format!("custom rule id {id:?} is not a plain identifier"),
            "use letters, digits, `-`, `_` and `.`, for example \"vp-0001\"",
        );
    }
    let description = f
        .take("description")
        .and_then(|v| context.decoder.string(v, "description"))
        .unwrap_or_default();
    let prefix = f
        .take("path_prefix")
        .and_then(|v| path_prefix(context, v, "path_prefix"));
    let mut methods = Vec::new();
    if let Some(v) = f.take("methods") {
        for m in context.decoder.strings(v, "methods").unwrap_or_default() {
            if m.get_ref().chars().all(|c| c.is_ascii_uppercase()) && !m.get_ref().is_empty() {
                methods.push(m.into_inner());
            } else {
                context.decoder.error(
                    m.span(),
                    format!("HTTP method {:?} is not upper case", m.get_ref()),
                    &format!("write \"{}\"", m.get_ref().to_ascii_uppercase()),
                );
            }
        }
    }
    let location = f
        .take("location")
        .and_then(|v| location(context, v, "location"));
    let pattern_value = f.take("pattern");
    let pattern = pattern_value.and_then(|v| context.decoder.string(v, "pattern"));
    if let (Some(p), Some(v)) = (&pattern, pattern_value) {
        let compiled = regex::RegexBuilder::new(p).size_limit(1 << 20).build();
        if p.len() > MAX_PATTERN_LEN {
            context.decoder.error(
                v.span(),
                format!(
                    "pattern is {} characters long, more than {MAX_PATTERN_LEN}",
                    p.len()
                ),
                "split it into several rules",
            );
        } else if let Err(e) = compiled {
            let reason = e.to_string();
            let last = reason.lines().last().unwrap_or("invalid").trim().to_owned();
            context.decoder.error(
                v.span(),
                format!("pattern is not a valid regular expression: {last}"),
                "patterns use Rust regex syntax; escape literal characters such as . ( [ with \\\\",
            );
        }
        if location.is_none() {
            context.decoder.error(
                v.span(),
                "a rule with a pattern needs a location to look in",
                "add location = \"query\" (or path, header:NAME, cookie:NAME, body, body:$.field)",
            );
        }
    }
    let action_value = f.take("action");
    let action =
        match action_value.and_then(|v| context.decoder.string(v, "action").map(|a| (a, v))) {
            Some((a, _)) if a == "block" => Some(RuleAction::Block),
            Some((a, _)) if a == "log" => Some(RuleAction::Log),
            Some((a, v)) => {
                context.decoder.error(
                    v.span(),
                    format!("unknown rule action {a:?}"),
                    "write action = \"block\" or \"log\"",
                );
                None
            }
            None => {
                if action_value.is_none() {
                    context.decoder.error(
                        f.span.clone(),
                        format!("{} has no action", f.path),
                        "add action = \"block\" or action = \"log\"",
                    );
                }
                None
            }
        };
    if id_value.is_none() {
        context.decoder.error(
            f.span.clone(),
            format!("{} has no id", f.path),
            "add id = \"vp-0001\": verdicts and audit records name the rule by it",
        );
    }
    if prefix.is_none() && pattern.is_none() {
        context.decoder.error(
            f.span.clone(),
            format!(
                "{} matches nothing: it has neither path_prefix nor pattern",
                f.path
            ),
            "add path_prefix = \"/...\" and/or location + pattern",
        );
    }
    f.finish(&mut context.decoder);
    let id_span = id_value.map(|v| v.span())?;
    Some((
        CustomRule {
            id: id?,
            description,
            path_prefix: prefix,
            methods,
            location,
            pattern,
            action: action?,
        },
        id_span,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_name_a_place_in_the_request() {
        assert_eq!(parse_location("path"), Ok(InputLocation::Path));
        assert_eq!(
            parse_location("body:$.data"),
            Ok(InputLocation::Body(Some("$.data".into())))
        );
        assert_eq!(
            parse_location("header:User-Agent"),
            Ok(InputLocation::Header(Some("user-agent".into())))
        );
        assert_eq!(parse_location("query"), Ok(InputLocation::Query(None)));
        assert!(parse_location("body:data").is_err());
        assert!(parse_location("form:x").is_err());
        assert!(parse_location("query:").is_err());
    }
}
