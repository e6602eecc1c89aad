//! The engine: one request in, one verdict out.
//!
//! [`Engine::inspect`] walks the request in a fixed order (path, query, headers, body), hands
//! every input to [`Inspection::value`], which decodes it into its distinct forms, runs the
//! detectors on each, and turns what they find into placed, deduplicated, scored hits.

mod body;
mod json_body;
mod memo;
mod parts;
mod xml_body;

use std::borrow::Cow;

use crate::config::{EngineConfig, Mode, RouteContext};
use crate::decode::{self, Anomalies, DecodeOptions, VariantKind};
use crate::detect::{self, AttackClass, Finding, Input, InputKind, JudgedAs};
use crate::fhir::FhirContext;
use crate::location::Place;
use crate::request::HttpRequest;
use crate::rules::{CustomRule, RuleAction};
use crate::verdict::{Action, FhirIssue, Hit, HitClass, Verdict, excerpt};
use memo::{Judged, Judgement, Memo};

/// Score of an encoding that is never legitimate (overlong UTF-8, NUL bytes).
const EVASION_SCORE: u16 = 5;
/// Score of a malformed body or escape: suspicious, not blocking alone.
const MALFORMED_SCORE: u16 = 3;

/// The inspection engine for one policy version: built once, shared by every request.
#[derive(Debug, Clone)]
pub struct Engine {
    config: EngineConfig,
}

impl Engine {
    /// Build the engine.
    pub fn new(config: EngineConfig) -> Engine {
        Engine { config }
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Inspect one request on a route and decide.
    pub fn inspect(&self, request: &HttpRequest<'_>, route: &RouteContext<'_>) -> Verdict {
        self.run(request, route, None)
    }

    /// Inspect and also list every input that was inspected, with its kind and decoded forms
    /// (for `wardgate waf explain` and for tests of extraction). Every value is judged, none
    /// replayed from what the request judged before: the same verdict as [`Engine::inspect`]
    /// (the memo's tests and fuzz target compare the two).
    pub fn inspect_traced(
        &self,
        request: &HttpRequest<'_>,
        route: &RouteContext<'_>,
    ) -> (Verdict, Vec<TracedInput>) {
        let mut trace = Vec::new();
        let verdict = self.run(request, route, Some(&mut trace));
        (verdict, trace)
    }

    fn run(
        &self,
        request: &HttpRequest<'_>,
        route: &RouteContext<'_>,
        trace: Option<&mut Vec<TracedInput>>,
    ) -> Verdict {
        // The memo lives beside the inspection, not in it: its inline room is then never moved
        // (copied) with the inspection's state.
        let mut memo = Memo::default();
        let mut run = Inspection::new(&self.config, route, &mut memo);
        run.trace = trace;
        let (decoded_path, path_anomalies) = decode::url_base(request.path, false);

        let rules = self.config.custom_rules.iter().chain(route.custom_rules);
        if rules.clone().next().is_some() {
            let rule_path = rule_path(&decoded_path, &mut run.budget);
            for rule in rules.filter(|r| r.applies_to(request.method, &rule_path)) {
                if !rule.is_request_wide() {
                    run.input_rules.push(rule);
                } else if rule.action == RuleAction::Allow {
                    return run.allowed_by(&rule.id);
                } else {
                    run.custom_hit(rule, Place::Request, "", VariantKind::Raw);
                }
            }
        }

        let fhir = route.fhir.then(|| {
            let (context, issue) = FhirContext::new(request.method, &decoded_path, request.query);
            run.fhir_issues.extend(issue);
            context
        });
        run.path(request.path, &decoded_path, path_anomalies, fhir.as_ref());
        if let Some(query) = request.query {
            run.query(query, fhir.as_ref());
        }
        run.headers(request.headers);
        run.body(request, fhir.as_ref());
        run.finish()
    }
}

/// The path custom rules' prefixes are compared with: fully decoded and normalised, so that
/// `%2e%2e/` or `//` cannot step around a rule.
fn rule_path(decoded_path: &str, budget: &mut usize) -> String {
    let mut anomalies = Anomalies::default();
    let decoded = decode::decode_fully(decoded_path, budget, &mut anomalies);
    decode::path::normalise_path(&decoded).into_owned()
}

/// One input as the engine inspected it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracedInput {
    /// Where it sat.
    pub location: String,
    /// How the detectors were told to judge it.
    pub kind: InputKind,
    /// Its distinct decoded forms, raw first.
    pub forms: Vec<(VariantKind, String)>,
}

/// The state of one request's inspection.
pub(crate) struct Inspection<'a> {
    trace: Option<&'a mut Vec<TracedInput>>,
    memo: &'a mut Memo,
    config: &'a EngineConfig,
    route: &'a RouteContext<'a>,
    threshold: u32,
    mode: Mode,
    input_rules: Vec<&'a CustomRule>,
    findings: Vec<Finding>,
    hits: Vec<Hit>,
    score: u32,
    inputs: usize,
    /// Whether the values come from a JSON or XML document (remembered from the first).
    in_document: bool,
    budget: usize,
    stopped: bool,
    exceeded: Vec<&'static str>,
    fhir_issues: Vec<FhirIssue>,
}

impl<'a> Inspection<'a> {
    fn new(config: &'a EngineConfig, route: &'a RouteContext<'a>, memo: &'a mut Memo) -> Self {
        Inspection {
            trace: None,
            memo,
            config,
            route,
            threshold: route.threshold.unwrap_or(config.threshold),
            mode: route.mode.unwrap_or(config.mode),
            input_rules: Vec::new(),
            findings: Vec::new(),
            hits: Vec::new(),
            score: 0,
            inputs: 0,
            in_document: false,
            budget: config.limits.max_decoded_bytes,
            stopped: false,
            exceeded: Vec::new(),
            fhir_issues: Vec::new(),
        }
    }

    /// Inspect one input: decode it, run the detectors on each distinct form, place and score
    /// what they find. `base` is the value as the application receives it.
    pub(crate) fn value(
        &mut self,
        place: Place<'_>,
        kind: InputKind,
        name: Option<&str>,
        base: &str,
        mut anomalies: Anomalies,
        options: DecodeOptions,
    ) {
        if self.stopped {
            return;
        }
        self.inputs += 1;
        if self.inputs > self.config.limits.max_inputs {
            self.limit_exceeded("protocol.limit-inputs");
            self.stopped = true;
            return;
        }
        if base.is_empty() && anomalies == Anomalies::default() {
            return;
        }
        let mut location: Option<String> = None;
        if self.allowed_by_rule(&place, &mut location, base) {
            return;
        }
        // A value judged before in this request is not judged again (see `memo`), unless custom
        // block rules or a trace need its decoded forms. A document's values are remembered
        // from the first (codes, units and names repeat there); others only once a request has
        // many inputs (the URL and headers of a small request rarely repeat a value, and
        // remembering one costs a copy).
        let memo_usable = self.trace.is_none()
            && (self.in_document || self.inputs > memo::AFTER_INPUTS)
            && !self
                .input_rules
                .iter()
                .any(|r| r.action != RuleAction::Allow);
        let judged_as = memo_usable.then(|| JudgedAs::of(kind, name));
        if let Some(judged_as) = judged_as
            && let Some(judged) = self.memo.get(judged_as, base, options)
            && judged.charge <= self.budget
        {
            self.budget -= judged.charge;
            let (findings, found) = (judged.findings.clone(), judged.anomalies);
            let first = self.hits.len();
            for finding in findings {
                let hit = PendingHit {
                    class: HitClass::Attack(finding.class),
                    rule: Cow::Borrowed(finding.rule),
                    score: finding.score,
                    excerpt: Excerpt::Ready(finding.excerpt),
                    variant: finding.variant,
                };
                self.add_hit(&place, &mut location, first, hit);
            }
            self.anomaly_hits(&place, &mut location, first, anomalies.or(found));
            self.check_threshold();
            return;
        }
        let budget_before = self.budget;
        let mut remembered = Vec::new();
        // What decoding finds in the value itself, apart from what its container found.
        let mut found = Anomalies::default();
        let variants = decode::variants(base, options, &mut self.budget, &mut found);
        anomalies.merge(found);
        if let Some(trace) = self.trace.as_deref_mut() {
            trace.push(TracedInput {
                location: location.get_or_insert_with(|| place.render()).clone(),
                kind,
                forms: variants
                    .iter()
                    .map(|v| (v.kind, v.text.clone().into_owned()))
                    .collect(),
            });
        }
        let first = self.hits.len();
        let mut findings = std::mem::take(&mut self.findings);
        for variant in &variants {
            findings.clear();
            let input = Input {
                kind,
                name,
                value: &variant.text,
                paranoia: self.route.paranoia,
            };
            detect::detect(&input, &mut findings);
            for finding in findings.drain(..) {
                if memo_usable {
                    remembered.push(Judged {
                        class: finding.class,
                        rule: finding.rule,
                        score: finding.score,
                        excerpt: excerpt(&variant.text, finding.span.clone()),
                        variant: variant.kind,
                    });
                }
                let hit = PendingHit {
                    class: HitClass::Attack(finding.class),
                    rule: Cow::Borrowed(finding.rule),
                    score: finding.score,
                    excerpt: Excerpt::Cut(&variant.text, finding.span),
                    variant: variant.kind,
                };
                self.add_hit(&place, &mut location, first, hit);
            }
        }
        self.findings = findings;
        if let Some(judged_as) = judged_as
            && !found.budget_exhausted
        {
            let judgement = Judgement {
                findings: remembered,
                anomalies: found,
                charge: budget_before - self.budget,
            };
            self.memo.put(judged_as, base, options, judgement);
        }
        self.anomaly_hits(&place, &mut location, first, anomalies);
        self.matching_rules(&place, &mut location, first, &variants);
        self.check_threshold();
    }

    fn anomaly_hits(
        &mut self,
        place: &Place<'_>,
        location: &mut Option<String>,
        first: usize,
        anomalies: Anomalies,
    ) {
        let found = [
            (anomalies.overlong_utf8, "protocol.overlong-utf8"),
            (anomalies.nul_byte, "protocol.nul-byte"),
        ];
        for (_, rule) in found.into_iter().filter(|(on, _)| *on) {
            let hit = PendingHit {
                class: HitClass::Attack(AttackClass::Protocol),
                rule: Cow::Borrowed(rule),
                score: EVASION_SCORE,
                excerpt: Excerpt::Ready(String::new()),
                variant: VariantKind::Decoded,
            };
            self.add_hit(place, location, first, hit);
        }
        if anomalies.budget_exhausted {
            self.limit_exceeded("protocol.limit-decoding");
        }
    }

    /// Whether an allow-list rule of the route covers this input (then it is not inspected).
    fn allowed_by_rule(
        &self,
        place: &Place<'_>,
        location: &mut Option<String>,
        base: &str,
    ) -> bool {
        self.input_rules
            .iter()
            .filter(|r| r.action == RuleAction::Allow)
            .any(|rule| {
                rule.pattern.as_ref().is_none_or(|p| p.is_match(base))
                    && rule
                        .location
                        .as_ref()
                        .is_none_or(|p| p.matches(location.get_or_insert_with(|| place.render())))
            })
    }

    /// Custom block and log rules that match this input.
    fn matching_rules(
        &mut self,
        place: &Place<'_>,
        location: &mut Option<String>,
        first: usize,
        variants: &decode::Variants<'_>,
    ) {
        for index in 0..self.input_rules.len() {
            let rule = self.input_rules[index];
            if rule.action == RuleAction::Allow {
                continue;
            }
            let at_location = rule
                .location
                .as_ref()
                .is_none_or(|p| p.matches(location.get_or_insert_with(|| place.render())));
            if !at_location {
                continue;
            }
            let matched = match &rule.pattern {
                None => variants.first(),
                Some(pattern) => variants.iter().find(|v| pattern.is_match(&v.text)),
            };
            if let Some(variant) = matched {
                let hit = PendingHit {
                    class: HitClass::Custom,
                    rule: Cow::Owned(format!("custom.{}", rule.id)),
                    score: custom_score(rule.action, self.threshold),
                    excerpt: Excerpt::Cut(&variant.text, 0..variant.text.len()),
                    variant: variant.kind,
                };
                self.add_hit(place, location, first, hit);
            }
        }
    }

    /// A custom rule's hit outside any input (request-wide rules).
    fn custom_hit(
        &mut self,
        rule: &CustomRule,
        place: Place<'_>,
        text: &str,
        variant: VariantKind,
    ) {
        let first = self.hits.len();
        let hit = PendingHit {
            class: HitClass::Custom,
            rule: Cow::Owned(format!("custom.{}", rule.id)),
            score: custom_score(rule.action, self.threshold),
            excerpt: Excerpt::Cut(text, 0..text.len()),
            variant,
        };
        self.add_hit(&place, &mut None, first, hit);
        self.check_threshold();
    }

    /// A protocol anomaly of the request's structure (malformed body, bad escape).
    pub(crate) fn protocol(&mut self, place: Place<'_>, rule: &'static str) {
        let first = self.hits.len();
        let hit = PendingHit {
            class: HitClass::Attack(AttackClass::Protocol),
            rule: Cow::Borrowed(rule),
            score: MALFORMED_SCORE,
            excerpt: Excerpt::Ready(String::new()),
            variant: VariantKind::Raw,
        };
        self.add_hit(&place, &mut None, first, hit);
        self.check_threshold();
    }

    /// A work bound was reached: the request cannot be inspected completely (reported once).
    pub(crate) fn limit_exceeded(&mut self, rule: &'static str) {
        if self.exceeded.contains(&rule) {
            return;
        }
        self.exceeded.push(rule);
        let first = self.hits.len();
        let hit = PendingHit {
            class: HitClass::Attack(AttackClass::Protocol),
            rule: Cow::Borrowed(rule),
            score: self.config.limits.exceeded_score,
            excerpt: Excerpt::Ready(String::new()),
            variant: VariantKind::Raw,
        };
        self.add_hit(&Place::Request, &mut None, first, hit);
        self.check_threshold();
    }

    /// Record a hit unless an exclusion covers it. A rule counts once per input: when it hits
    /// again (another decoded form, another match), the higher-scoring hit is kept.
    fn add_hit(
        &mut self,
        place: &Place<'_>,
        location: &mut Option<String>,
        first_of_input: usize,
        hit: PendingHit<'_>,
    ) {
        let earlier = self.hits[first_of_input..]
            .iter()
            .position(|h| h.rule == hit.rule)
            .map(|i| first_of_input + i);
        if let Some(index) = earlier
            && self.hits[index].score >= hit.score
        {
            return;
        }
        let location = location.get_or_insert_with(|| place.render());
        let class = hit.class.name();
        let excluded = self
            .config
            .exclusions
            .iter()
            .chain(self.route.exclusions)
            .any(|e| e.covers(location, class, &hit.rule));
        if excluded {
            return;
        }
        self.score = self.score.saturating_add(u32::from(hit.score));
        let hit = Hit {
            class: hit.class,
            rule: hit.rule,
            score: hit.score,
            location: location.clone(),
            excerpt: match hit.excerpt {
                Excerpt::Cut(text, span) => excerpt(text, span),
                Excerpt::Ready(ready) => ready,
            },
            variant: hit.variant,
        };
        match earlier {
            Some(index) => {
                let replaced = std::mem::replace(&mut self.hits[index], hit);
                self.score = self.score.saturating_sub(u32::from(replaced.score));
            }
            None => self.hits.push(hit),
        }
    }

    fn check_threshold(&mut self) {
        if !self.config.collect_all && self.mode == Mode::Block && self.score >= self.threshold {
            self.stopped = true;
        }
    }

    fn allowed_by(self, rule: &str) -> Verdict {
        Verdict {
            action: Action::Allow,
            mode: self.mode,
            score: 0,
            threshold: self.threshold,
            hits: Vec::new(),
            fhir_issues: Vec::new(),
            allowed_by: Some(rule.to_owned()),
            complete: false,
        }
    }

    fn finish(self) -> Verdict {
        let blocked = self.mode == Mode::Block && self.score >= self.threshold;
        Verdict {
            action: if blocked {
                Action::Block
            } else {
                Action::Allow
            },
            mode: self.mode,
            score: self.score,
            threshold: self.threshold,
            hits: self.hits,
            fhir_issues: self.fhir_issues,
            allowed_by: None,
            complete: !self.stopped,
        }
    }
}

/// A custom block rule blocks alone; a log rule only records its hit.
fn custom_score(action: RuleAction, threshold: u32) -> u16 {
    match action {
        RuleAction::Log => 0,
        _ => u16::try_from(threshold.max(1)).unwrap_or(u16::MAX),
    }
}

/// A hit before it is placed: the excerpt is only cut when the hit is kept.
struct PendingHit<'t> {
    class: HitClass,
    rule: Cow<'static, str>,
    score: u16,
    excerpt: Excerpt<'t>,
    variant: VariantKind,
}

/// A hit's excerpt: to cut from the value, or already cut (a remembered judgement).
enum Excerpt<'t> {
    Cut(&'t str, std::ops::Range<usize>),
    Ready(String),
}

#[cfg(test)]
mod tests;
