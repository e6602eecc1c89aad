//! The verdict: allow or block, why, and where, readable by a security officer in one line.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::ops::Range;

use crate::config::Mode;
use crate::decode::VariantKind;
use crate::detect::AttackClass;

/// Longest excerpt, in characters of output.
pub const MAX_EXCERPT: usize = 80;

/// What the engine decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Let the request through.
    Allow,
    /// Refuse it (the gateway answers 403 with an `OperationOutcome`).
    Block,
}

/// What kind of check produced a hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HitClass {
    /// A detector (or a protocol check) of an attack class.
    Attack(AttackClass),
    /// A custom rule of the policy.
    Custom,
}

impl HitClass {
    /// The class name: `sqli`, `xss`, ..., `protocol`, `custom`.
    pub fn name(self) -> &'static str {
        match self {
            HitClass::Attack(class) => class.name(),
            HitClass::Custom => "custom",
        }
    }
}

/// One finding, placed in the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// The class of the check.
    pub class: HitClass,
    /// The rule id (`sqli.tautology`, `protocol.overlong-utf8`, `custom.<id>`).
    pub rule: Cow<'static, str>,
    /// Its contribution to the score.
    pub score: u16,
    /// Where the input sat (`query:id`, `body:$.note[0].text`).
    pub location: String,
    /// A short excerpt of what triggered it: bounded, control characters escaped.
    pub excerpt: String,
    /// Which form of the input it was found in.
    pub variant: VariantKind,
}

/// A request that breaks the FHIR REST grammar. Not an attack by itself (it is inspected like
/// any input); the gateway may answer 400 with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FhirIssue {
    /// The path under the FHIR base is not a FHIR interaction.
    Path(String),
    /// A search parameter's value or modifier does not fit its type.
    SearchParameter {
        /// The parameter's name (bounded, escaped).
        name: String,
        /// Why, in words.
        reason: String,
    },
    /// The body's `resourceType` is not the one the path addresses.
    ResourceType {
        /// What the path says.
        expected: String,
        /// What the body says (bounded, escaped; empty when missing).
        found: String,
    },
    /// The body's `id` differs from the path's on an update.
    Id {
        /// The id in the path.
        path: String,
        /// The id in the body (bounded, escaped).
        body: String,
    },
}

impl FhirIssue {
    /// A stable code for the issue.
    pub fn code(&self) -> &'static str {
        match self {
            FhirIssue::Path(_) => "fhir.path",
            FhirIssue::SearchParameter { .. } => "fhir.search-parameter",
            FhirIssue::ResourceType { .. } => "fhir.resource-type",
            FhirIssue::Id { .. } => "fhir.id",
        }
    }
}

impl std::fmt::Display for FhirIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FhirIssue::Path(reason) => write!(f, "{reason}"),
            FhirIssue::SearchParameter { name, reason } => {
                write!(f, "search parameter \"{name}\": {reason}")
            }
            FhirIssue::ResourceType { expected, found } if found.is_empty() => {
                write!(f, "the body has no resourceType (expected {expected})")
            }
            FhirIssue::ResourceType { expected, found } => {
                write!(f, "the body is a \"{found}\", the path expects {expected}")
            }
            FhirIssue::Id { path, body } => {
                write!(
                    f,
                    "the body's id \"{body}\" differs from the path's \"{path}\""
                )
            }
        }
    }
}

/// The engine's decision on one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Allow or block.
    pub action: Action,
    /// The mode the decision was taken in.
    pub mode: Mode,
    /// The sum of the hits' scores.
    pub score: u32,
    /// The score at which the route blocks.
    pub threshold: u32,
    /// What was found, in the order it was found.
    pub hits: Vec<Hit>,
    /// Where the request breaks the FHIR REST grammar (FHIR routes only).
    pub fhir_issues: Vec<FhirIssue>,
    /// The custom rule that let the whole request through, if one did.
    pub allowed_by: Option<String>,
    /// Whether every input was inspected (false when inspection stopped at a blocking score).
    pub complete: bool,
}

impl Verdict {
    /// Whether the request is refused.
    pub fn is_blocked(&self) -> bool {
        self.action == Action::Block
    }

    /// Whether the score reaches the threshold (a block, or a would-be block in detect-only).
    pub fn reaches_threshold(&self) -> bool {
        self.allowed_by.is_none() && self.score >= self.threshold
    }

    /// The hit that weighs most (the first of the highest score).
    pub fn top_hit(&self) -> Option<&Hit> {
        self.hits
            .iter()
            .enumerate()
            .max_by_key(|(i, h)| (h.score, std::cmp::Reverse(*i)))
            .map(|(_, h)| h)
    }

    /// One line for a security officer:
    /// `blocked: sqli.tautology (score 5) at query:id "1' OR '1'='1"`.
    pub fn explain(&self) -> String {
        if let Some(rule) = &self.allowed_by {
            return format!("allowed by custom rule {rule}");
        }
        let head = match (self.action, self.reaches_threshold()) {
            (Action::Block, _) => "blocked".to_owned(),
            (Action::Allow, true) => "would block (detect-only)".to_owned(),
            (Action::Allow, false) => "allowed".to_owned(),
        };
        let Some(top) = self.top_hit() else {
            return format!("{head} (score {})", self.score);
        };
        let mut line = format!("{head}: {} (score {}", top.rule, self.score);
        if !self.reaches_threshold() {
            let _ = write!(line, " < {}", self.threshold);
        }
        let _ = write!(line, ") at {} \"{}\"", top.location, top.excerpt);
        if self.hits.len() > 1 {
            let _ = write!(line, " +{} more", self.hits.len() - 1);
        }
        line
    }
}

/// A bounded excerpt of `text` around `span`: at most [`MAX_EXCERPT`] characters of output,
/// control characters, quotes and backslashes escaped, `…` where it was cut.
pub fn excerpt(text: &str, span: Range<usize>) -> String {
    let start = floor_boundary(text, span.start.min(text.len()));
    let end = floor_boundary(text, span.end.clamp(start, text.len()));
    // Show the span, and context around it when the span is short.
    let context = MAX_EXCERPT.saturating_sub(text[start..end].chars().count()) / 2;
    let from = text[..start]
        .char_indices()
        .rev()
        .nth(context.saturating_sub(1))
        .map_or(0, |(i, _)| i);
    let from = if context == 0 { start } else { from };
    let mut out = String::with_capacity(MAX_EXCERPT + 8);
    if from > 0 {
        out.push('…');
    }
    let mut cut = false;
    let mut written = usize::from(from > 0);
    let mut escaped = String::with_capacity(12);
    for c in text[from..].chars() {
        escaped.clear();
        escape_char(&mut escaped, c);
        // An escape is several characters: it must fit whole, leaving room for the `…`.
        let width = escaped.chars().count();
        if written + width > MAX_EXCERPT - 1 {
            cut = true;
            break;
        }
        out.push_str(&escaped);
        written += width;
    }
    if cut {
        out.push('…');
    }
    out
}

/// `text` made safe to show: bounded like an excerpt, control characters escaped.
pub fn bounded(text: &str) -> String {
    excerpt(text, 0..text.len())
}

fn escape_char(out: &mut String, c: char) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\0' => out.push_str("\\0"),
        c if c.is_control() => {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
        c => out.push(c),
    }
}

fn floor_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_excerpt_of_escaped_characters_stays_within_its_bound() {
        // Found by fuzzing (waf_inspect): a control character is six characters escaped, so
        // the bound must hold after escaping, whatever the text before it.
        for prefix in 0..8 {
            let text = format!("{}{}..", "+".repeat(prefix), "\u{16}".repeat(40));
            let shown = super::excerpt(&text, 0..text.len());
            assert!(shown.chars().count() <= super::MAX_EXCERPT, "{shown}");
            assert!(shown.ends_with('…'), "{shown}");
        }
    }

    use super::*;

    fn hit(rule: &'static str, score: u16, location: &str, excerpt: &str) -> Hit {
        Hit {
            class: HitClass::Attack(AttackClass::Sqli),
            rule: Cow::Borrowed(rule),
            score,
            location: location.to_owned(),
            excerpt: excerpt.to_owned(),
            variant: VariantKind::Raw,
        }
    }

    fn verdict(action: Action, score: u32, hits: Vec<Hit>) -> Verdict {
        Verdict {
            action,
            mode: Mode::Block,
            score,
            threshold: 5,
            hits,
            fhir_issues: Vec::new(),
            allowed_by: None,
            complete: true,
        }
    }

    #[test]
    fn explain_names_the_rule_score_location_and_excerpt() {
        let v = verdict(
            Action::Block,
            5,
            vec![hit("sqli.tautology", 5, "query:id", "1' OR '1'='1")],
        );
        assert_eq!(
            v.explain(),
            "blocked: sqli.tautology (score 5) at query:id \"1' OR '1'='1\""
        );
        let v = verdict(Action::Allow, 0, vec![]);
        assert_eq!(v.explain(), "allowed (score 0)");
        let v = verdict(
            Action::Allow,
            2,
            vec![hit("xss.weak", 2, "query:q", "a"), hit("b", 0, "path", "")],
        );
        assert_eq!(
            v.explain(),
            "allowed: xss.weak (score 2 < 5) at query:q \"a\" +1 more"
        );
        let mut v = verdict(Action::Allow, 5, vec![hit("x.y", 5, "header:h", "z")]);
        v.mode = Mode::DetectOnly;
        assert!(v.explain().starts_with("would block (detect-only): x.y"));
    }

    #[test]
    fn excerpts_are_bounded_and_escaped() {
        assert_eq!(excerpt("1' OR '1'='1", 0..12), "1' OR '1'='1");
        assert_eq!(excerpt("a\r\nb\"c\0", 0..7), "a\\r\\nb\\\"c\\0");
        let long = "x".repeat(500) + "<script>" + &"y".repeat(500);
        let e = excerpt(&long, 500..508);
        assert!(e.contains("<script>"), "{e}");
        assert!(e.starts_with('…') && e.ends_with('…'), "{e}");
        assert!(
            e.chars().count() <= MAX_EXCERPT + 1,
            "{}",
            e.chars().count()
        );
        let e = excerpt(&long, 0..1008);
        assert!(e.chars().count() <= MAX_EXCERPT + 1);
        assert_eq!(excerpt("héllo", 1..2), "héllo");
        assert_eq!(excerpt("abc", 10..20), "abc");
    }
}
