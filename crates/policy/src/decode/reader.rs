//! Reading typed values out of the spanned TOML tree, collecting every problem on the way.
//!
//! serde's derive stops at the first error; an operator fixing a policy wants them all, each
//! with its line and column. So the tree from `toml`'s recovering parser is walked by hand:
//! every read takes the value's span, and a [`Fields`] remembers which keys were asked for so
//! that anything else is reported as an unknown key with a "did you mean".

use std::ops::Range;
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diagnostic::{Diagnostic, Severity, SourceMap};
use crate::units::{ByteSize, UnitError, parse_duration};

/// A value in the tree, with its byte span in the file.
pub(crate) type Value<'i> = Spanned<DeValue<'i>>;

/// Collects diagnostics for one source text.
pub(crate) struct Decoder<'s> {
    map: SourceMap<'s>,
    file: String,
    pub(crate) diagnostics: Vec<Diagnostic>,
}

impl<'s> Decoder<'s> {
    pub(crate) fn new(source: &'s str, file: &str) -> Self {
        Decoder {
            map: SourceMap::new(source),
            file: file.to_owned(),
            diagnostics: Vec::new(),
        }
    }

    /// Records a problem at `span`.
    pub(crate) fn report(
        &mut self,
        severity: Severity,
        span: Range<usize>,
        message: impl Into<String>,
        help: Option<String>,
    ) {
        let (line, column, snippet) = self.map.locate(&span);
        self.diagnostics.push(Diagnostic {
            severity,
            file: self.file.clone(),
            line,
            column,
            message: message.into(),
            help,
            snippet: Some(snippet),
        });
    }

    /// Records an error at `span`.
    pub(crate) fn error(&mut self, span: Range<usize>, message: impl Into<String>, help: &str) {
        let help = (!help.is_empty()).then(|| help.to_owned());
        self.report(Severity::Error, span, message, help);
    }

    /// Records a warning at `span`.
    pub(crate) fn warn(&mut self, span: Range<usize>, message: impl Into<String>, help: &str) {
        let help = (!help.is_empty()).then(|| help.to_owned());
        self.report(Severity::Warning, span, message, help);
    }

    fn wrong_type(&mut self, value: &Value<'_>, what: &str, expected: &str, example: &str) {
        self.error(
            value.span(),
            format!(
                "expected {expected} for {what}, found {}",
                article(value.get_ref().type_str())
            ),
            &format!("write, for example, {example}"),
        );
    }

    /// A string.
    pub(crate) fn string(&mut self, value: &Value<'_>, what: &str) -> Option<String> {
        match value.get_ref() {
            DeValue::String(s) => Some(s.to_string()),
            _ => {
                self.wrong_type(
                    value,
                    what,
                    "a string",
                    &format!("{} = \"...\"", leaf(what)),
                );
                None
            }
        }
    }

    /// A boolean.
    pub(crate) fn bool(&mut self, value: &Value<'_>, what: &str) -> Option<bool> {
        match value.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                self.wrong_type(
                    value,
                    what,
                    "true or false",
                    &format!("{} = true", leaf(what)),
                );
                None
            }
        }
    }

    /// An integer within `min..=max`.
    pub(crate) fn integer(
        &mut self,
        value: &Value<'_>,
        what: &str,
        min: i64,
        max: i64,
    ) -> Option<i64> {
        let DeValue::Integer(int) = value.get_ref() else {
            self.wrong_type(
                value,
                what,
                "a whole number",
                &format!("{} = {min}", leaf(what)),
            );
            return None;
        };
        let parsed = i64::from_str_radix(int.as_str(), int.radix()).ok();
        match parsed {
            Some(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                self.error(
                    value.span(),
                    format!("{what} is out of range"),
                    &format!("write a whole number from {min} to {max}"),
                );
                None
            }
        }
    }

    /// A `u32` within `min..=max`.
    pub(crate) fn u32(&mut self, value: &Value<'_>, what: &str, min: u32, max: u32) -> Option<u32> {
        self.integer(value, what, i64::from(min), i64::from(max))
            .and_then(|n| u32::try_from(n).ok())
    }

    /// A number (integer or float) within `min..=max`.
    pub(crate) fn number(
        &mut self,
        value: &Value<'_>,
        what: &str,
        min: f64,
        max: f64,
    ) -> Option<f64> {
        let parsed = match value.get_ref() {
            DeValue::Integer(int) => i64::from_str_radix(int.as_str(), int.radix())
                .ok()
                .map(|n| n as f64),
            DeValue::Float(float) => float.as_str().replace('_', "").parse::<f64>().ok(),
            _ => {
                self.wrong_type(value, what, "a number", &format!("{} = 50", leaf(what)));
                return None;
            }
        };
        match parsed {
            Some(n) if n.is_finite() && n >= min && n <= max => Some(n),
            _ => {
                self.error(
                    value.span(),
                    format!("{what} is out of range"),
                    &format!("write a number from {min} to {max}"),
                );
                None
            }
        }
    }

    /// A size such as `"16 KiB"` within `min..=max`.
    pub(crate) fn size(
        &mut self,
        value: &Value<'_>,
        what: &str,
        min: ByteSize,
        max: ByteSize,
    ) -> Option<ByteSize> {
        let text = match value.get_ref() {
            DeValue::String(s) => s.to_string(),
            DeValue::Integer(_) => {
                self.error(
                    value.span(),
                    format!("{what} needs a unit"),
                    &format!(
                        "write it as a string with a unit, for example {} = \"16 KiB\"",
                        leaf(what)
                    ),
                );
                return None;
            }
            _ => {
                self.wrong_type(
                    value,
                    what,
                    "a size",
                    &format!("{} = \"16 KiB\"", leaf(what)),
                );
                return None;
            }
        };
        match text.parse::<ByteSize>() {
            Ok(size) if size >= min && size <= max => Some(size),
            Ok(_) => {
                self.error(
                    value.span(),
                    format!("{what} is out of range"),
                    &format!("write a size from {min} to {max}"),
                );
                None
            }
            Err(e) => {
                self.error(value.span(), unit_message(&e, what), &e.help(true));
                None
            }
        }
    }

    /// A duration such as `"10s"` within `min..=max`.
    pub(crate) fn duration(
        &mut self,
        value: &Value<'_>,
        what: &str,
        min: Duration,
        max: Duration,
    ) -> Option<Duration> {
        let text = match value.get_ref() {
            DeValue::String(s) => s.to_string(),
            DeValue::Integer(int) => {
                self.error(
                    value.span(),
                    format!("{what} needs a unit"),
                    &format!(
                        "write it as a string with s, ms, m or h, for example {} = \"{}s\"",
                        leaf(what),
                        int.as_str()
                    ),
                );
                return None;
            }
            _ => {
                self.wrong_type(
                    value,
                    what,
                    "a duration",
                    &format!("{} = \"10s\"", leaf(what)),
                );
                return None;
            }
        };
        match parse_duration(&text) {
            Ok(d) if d >= min && d <= max => Some(d),
            Ok(_) => {
                self.error(
                    value.span(),
                    format!("{what} is out of range"),
                    &format!(
                        "write a duration from {} to {}",
                        crate::units::format_duration(min),
                        crate::units::format_duration(max)
                    ),
                );
                None
            }
            Err(e) => {
                self.error(value.span(), unit_message(&e, what), &e.help(false));
                None
            }
        }
    }

    /// An array of strings, each with its span.
    pub(crate) fn strings(
        &mut self,
        value: &Value<'_>,
        what: &str,
    ) -> Option<Vec<Spanned<String>>> {
        let DeValue::Array(items) = value.get_ref() else {
            self.wrong_type(
                value,
                what,
                "a list of strings",
                &format!("{} = [\"...\"]", leaf(what)),
            );
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for item in items.iter() {
            match item.get_ref() {
                DeValue::String(s) => out.push(Spanned::new(item.span(), s.to_string())),
                _ => {
                    self.wrong_type(item, &format!("an item of {what}"), "a string", "\"...\"");
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }

    /// A table, as [`Fields`] to read it with.
    pub(crate) fn table<'a, 'i>(
        &mut self,
        value: &'a Value<'i>,
        what: &str,
    ) -> Option<Fields<'a, 'i>> {
        match value.get_ref() {
            DeValue::Table(table) => Some(Fields::new(table, what, value.span())),
            _ => {
                self.wrong_type(value, what, "a table", &format!("[{what}]"));
                None
            }
        }
    }

    /// An array of tables (`[[waf.rules]]`), each as [`Fields`].
    pub(crate) fn tables<'a, 'i>(
        &mut self,
        value: &'a Value<'i>,
        what: &str,
    ) -> Vec<Fields<'a, 'i>> {
        let DeValue::Array(items) = value.get_ref() else {
            self.wrong_type(value, what, "a list of tables", &format!("[[{what}]]"));
            return Vec::new();
        };
        let mut out = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            if let Some(fields) = self.table(item, &format!("{what}[{index}]")) {
                out.push(fields);
            }
        }
        out
    }
}

fn unit_message(error: &UnitError, what: &str) -> String {
    format!("{error} in {}", leaf(what))
}

/// The last part of a dotted key path (`limits.header_read_timeout` -> `header_read_timeout`).
pub(crate) fn leaf(what: &str) -> &str {
    what.rsplit('.').next().unwrap_or(what)
}

fn article(type_name: &str) -> String {
    match type_name.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => format!("an {type_name}"),
        _ => format!("a {type_name}"),
    }
}

/// The keys of one table, read one by one; whatever is not read is an unknown key.
pub(crate) struct Fields<'a, 'i> {
    table: &'a DeTable<'i>,
    /// The dotted path of this table, for messages (`departments.radiology.limits`).
    pub(crate) path: String,
    /// The span of the table (its header, or the inline table).
    pub(crate) span: Range<usize>,
    known: Vec<&'static str>,
}

impl<'a, 'i> Fields<'a, 'i> {
    fn new(table: &'a DeTable<'i>, path: &str, span: Range<usize>) -> Self {
        Fields {
            table,
            path: path.to_owned(),
            span,
            known: Vec::new(),
        }
    }

    /// The whole document as fields.
    pub(crate) fn root(table: &'a Spanned<DeTable<'i>>) -> Self {
        Fields::new(table.get_ref(), "", table.span())
    }

    /// The dotted path of `key` in this table.
    pub(crate) fn key_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The value of `key`, if present; `key` becomes a known key of this table.
    pub(crate) fn take(&mut self, key: &'static str) -> Option<&'a Value<'i>> {
        self.known.push(key);
        self.table.get(key)
    }

    /// The entries of a table whose keys are names chosen by the operator
    /// (`[departments.NAME]`): every key is known.
    pub(crate) fn entries(
        &mut self,
    ) -> impl Iterator<Item = (&'a Spanned<std::borrow::Cow<'i, str>>, &'a Value<'i>)> {
        self.known.clear();
        self.known.push("*");
        self.table.iter()
    }

    /// Reports every key that was not read, with a suggestion from the keys that were.
    /// `moved` maps keys that belong elsewhere to where they belong.
    pub(crate) fn finish_with(self, decoder: &mut Decoder<'_>, moved: &[(&str, &str)]) {
        if self.known.contains(&"*") {
            return;
        }
        for (key, _) in self.table.iter() {
            let name: &str = key.get_ref();
            if self.known.contains(&name) {
                continue;
            }
            let place = if self.path.is_empty() {
                "at the top level".to_owned()
            } else {
                format!("in [{}]", self.path)
            };
            let help = if let Some((_, elsewhere)) = moved.iter().find(|(k, _)| *k == name) {
                (*elsewhere).to_owned()
            } else if let Some(suggestion) = closest(name, &self.known) {
                format!("did you mean `{suggestion}`?")
            } else {
                format!("the keys allowed here are: {}", self.known.join(", "))
            };
            decoder.error(key.span(), format!("unknown key `{name}` {place}"), &help);
        }
    }

    /// Reports every key that was not read.
    pub(crate) fn finish(self, decoder: &mut Decoder<'_>) {
        self.finish_with(decoder, &[]);
    }
}

/// The candidate closest to `word` by edit distance, if it is close enough to be a typo.
pub(crate) fn closest<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .iter()
        .map(|c| {
            (
                edit_distance(&word.to_ascii_lowercase(), &c.to_ascii_lowercase()),
                *c,
            )
        })
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance, in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_keys_only() {
        let keys = ["max_body_bytes", "body_read_timeout"];
        assert_eq!(closest("max_body_byte", &keys), Some("max_body_bytes"));
        assert_eq!(
            closest("body_read_timout", &keys),
            Some("body_read_timeout")
        );
        assert_eq!(closest("colour", &keys), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
