//! Web application firewall settings: mode, paranoia, exclusions and custom rules.

/// What the WAF does with a request it judges an attack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WafMode {
    /// Refuse it (403) and record why.
    Block,
    /// Let it through and record what would have been blocked (for tuning).
    Detect,
    /// Do not inspect.
    Off,
}

/// Global WAF settings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Waf {
    /// Mode for every route unless a department or route overrides it.
    pub mode: WafMode,
    /// Paranoia level 1..=4: higher enables rules with more false positives.
    pub paranoia: u8,
    /// Places where named detectors are not applied (known false positives).
    pub exclusions: Vec<WafExclusion>,
    /// Custom rules and virtual patches, checked before the detectors.
    pub rules: Vec<CustomRule>,
}

impl Default for Waf {
    fn default() -> Self {
        Waf {
            mode: WafMode::Block,
            paranoia: 1,
            exclusions: Vec::new(),
            rules: Vec::new(),
        }
    }
}

/// The WAF settings in effect on one route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct WafSettings {
    /// Block, detect or off.
    pub mode: WafMode,
    /// Paranoia level 1..=4.
    pub paranoia: u8,
}

/// What a department or route overrides of the WAF settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct WafOverride {
    /// Overrides [`WafSettings::mode`].
    pub mode: Option<WafMode>,
    /// Overrides [`WafSettings::paranoia`].
    pub paranoia: Option<u8>,
}

impl WafOverride {
    /// `base` with this override's values put on top.
    pub fn apply(&self, base: WafSettings) -> WafSettings {
        WafSettings {
            mode: self.mode.unwrap_or(base.mode),
            paranoia: self.paranoia.unwrap_or(base.paranoia),
        }
    }
}

/// A part of a request the WAF inspects.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InputLocation {
    /// The path (`path`).
    Path,
    /// All query parameters (`query`) or one (`query:name`).
    Query(Option<String>),
    /// All headers (`header`) or one (`header:name`, lower-case).
    Header(Option<String>),
    /// All cookies (`cookie`) or one (`cookie:name`).
    Cookie(Option<String>),
    /// The whole body (`body`) or one JSON field (`body:$.data`, `body:$.note[*].text`).
    Body(Option<String>),
}

/// Detectors switched off for one place (a known false positive).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WafExclusion {
    /// The department it applies to; `None`: every department.
    pub department: Option<String>,
    /// Requests whose path starts with this.
    pub path_prefix: String,
    /// The part of the request excluded.
    pub location: InputLocation,
    /// Attack classes not judged there (`sqli`, `xss`, ...), or `all`.
    pub detectors: Vec<String>,
}

/// What a custom rule does when it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleAction {
    /// Refuse the request (403) whatever the WAF mode, unless the mode is `off`.
    Block,
    /// Record a finding only.
    Log,
}

/// A custom rule or virtual patch.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CustomRule {
    /// Unique id, recorded in every verdict it produces (`vp-0001`).
    pub id: String,
    /// What it is for, for people.
    pub description: String,
    /// Requests whose path starts with this; `None`: every path.
    pub path_prefix: Option<String>,
    /// Methods it applies to; empty: every method.
    pub methods: Vec<String>,
    /// Where `pattern` is looked for; `None` with no pattern: the rule matches on path alone.
    pub location: Option<InputLocation>,
    /// A regular expression (Rust `regex` syntax) looked for in `location`.
    pub pattern: Option<String>,
    /// Block or log.
    pub action: RuleAction,
}
