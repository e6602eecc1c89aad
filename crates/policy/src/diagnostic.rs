//! Diagnostics: what is wrong in a policy file, where, and what to write instead.
//!
//! A diagnostic carries its own copy of the offending source line, so it can be rendered
//! (rustc-style, with a caret under the span) long after the file has changed on disk, for
//! example in the log line of a refused reload.

use std::ops::Range;

/// How serious a diagnostic is: errors refuse the policy, warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The policy is refused.
    Error,
    /// The policy loads, but an operator should look at this.
    Warning,
}

impl Severity {
    /// The word printed before the message (`error`, `warning`).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// The source line a diagnostic points into, with the columns to underline.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Snippet {
    /// The whole line, without its line ending.
    pub text: String,
    /// First underlined column (1-based, in characters).
    pub start_column: usize,
    /// Number of characters to underline (at least 1).
    pub width: usize,
}

/// One problem found in a policy file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[error("{}", self.headline())]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The file as the operator named it (`wardgate.toml`).
    pub file: String,
    /// 1-based line; 0 when the diagnostic concerns the whole file (it cannot be read).
    pub line: usize,
    /// 1-based column in characters; 0 when the diagnostic concerns the whole file.
    pub column: usize,
    /// What is wrong.
    pub message: String,
    /// What to write instead, when there is a clear answer.
    pub help: Option<String>,
    /// The line of the file the diagnostic points at.
    pub snippet: Option<Snippet>,
}

impl Diagnostic {
    /// A diagnostic about the whole file (it cannot be read, it is too large, ...).
    pub fn for_file(file: &str, message: impl Into<String>, help: Option<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            file: file.to_owned(),
            line: 0,
            column: 0,
            message: message.into(),
            help,
            snippet: None,
        }
    }

    /// Whether this diagnostic refuses the policy.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// One line, for logs: `wardgate.toml:14:10: error: message (help: ...)`.
    pub fn headline(&self) -> String {
        let place = if self.line == 0 {
            self.file.clone()
        } else {
            format!("{}:{}:{}", self.file, self.line, self.column)
        };
        match &self.help {
            Some(help) => format!(
                "{place}: {}: {} (help: {help})",
                self.severity.as_str(),
                self.message
            ),
            None => format!("{place}: {}: {}", self.severity.as_str(), self.message),
        }
    }

    /// The full rendering: position, message, the source line with a caret, and the help.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let place = if self.line == 0 {
            self.file.clone()
        } else {
            format!("{}:{}:{}", self.file, self.line, self.column)
        };
        out.push_str(&format!(
            "{place}: {}: {}\n",
            self.severity.as_str(),
            self.message
        ));
        if let Some(snippet) = &self.snippet {
            let number = self.line.to_string();
            let gutter = " ".repeat(number.len());
            let pad = " ".repeat(snippet.start_column.saturating_sub(1));
            let carets = "^".repeat(snippet.width.max(1));
            out.push_str(&format!("{gutter} |\n{number} | {}\n", snippet.text));
            out.push_str(&format!("{gutter} | {pad}{carets}\n"));
        }
        if let Some(help) = &self.help {
            out.push_str(&format!("  help: {help}\n"));
        }
        out
    }
}

/// Renders a list of diagnostics and the one-line summary `wardgate check` prints.
pub fn summary(file: &str, diagnostics: &[Diagnostic]) -> String {
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    let plural = |n: usize, word: &str| {
        if n == 1 {
            format!("1 {word}")
        } else {
            format!("{n} {word}s")
        }
    };
    if errors == 0 {
        format!("{file}: policy is valid ({})", plural(warnings, "warning"))
    } else {
        format!(
            "{file}: policy refused: {}, {}",
            plural(errors, "error"),
            plural(warnings, "warning")
        )
    }
}

/// Byte offsets to line and column, for one source text.
#[derive(Debug)]
pub(crate) struct SourceMap<'s> {
    source: &'s str,
    line_starts: Vec<usize>,
}

impl<'s> SourceMap<'s> {
    pub(crate) fn new(source: &'s str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(
            source
                .bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        SourceMap {
            source,
            line_starts,
        }
    }

    /// Line (1-based), column (1-based, characters) and the snippet for a byte span.
    pub(crate) fn locate(&self, span: &Range<usize>) -> (usize, usize, Snippet) {
        let start = self.floor_char_boundary(span.start.min(self.source.len()));
        let line_index = match self.line_starts.binary_search(&start) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let line_start = self.line_starts[line_index];
        let line_end = self
            .line_starts
            .get(line_index + 1)
            .map_or(self.source.len(), |next| next - 1);
        let text = self.source[line_start..line_end].trim_end_matches('\r');
        // A span starting on the line ending (`\r`) points just past the line's text.
        let text_end = line_start + text.len();
        let start = start.min(text_end);
        let column = self.source[line_start..start].chars().count() + 1;
        // A span running past the end of its line is underlined to the end of the line.
        let end = self.floor_char_boundary(span.end.clamp(start, text_end));
        let width = self.source[start..end].chars().count().max(1);
        (
            line_index + 1,
            column,
            Snippet {
                text: text.to_owned(),
                start_column: column,
                width,
            },
        )
    }

    fn floor_char_boundary(&self, mut index: usize) -> usize {
        while index > 0 && !self.source.is_char_boundary(index) {
            index -= 1;
        }
        index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_line_and_column_in_characters() {
        let source = "a = 1\n# é\nkey = \"10sec\"\n";
        let map = SourceMap::new(source);
        let start = source.find("\"10sec\"").unwrap();
        let (line, column, snippet) = map.locate(&(start..start + 7));
        assert_eq!((line, column), (3, 7));
        assert_eq!(snippet.text, "key = \"10sec\"");
        assert_eq!(snippet.width, 7);
    }

    #[test]
    fn a_span_on_a_crlf_line_ending_stays_on_its_line() {
        // Found by the policy_parse fuzz target: a span starting at the `\r` of `\r\n`.
        let source = "a = [\r\nb";
        let map = SourceMap::new(source);
        let (line, column, snippet) = map.locate(&(5..6));
        assert_eq!((line, column), (1, 6));
        assert_eq!(snippet.text, "a = [");
        assert_eq!(snippet.width, 1);
    }

    #[test]
    fn renders_caret_under_the_span() {
        let source = "header_read_timeout = \"10sec\"\n";
        let map = SourceMap::new(source);
        let (line, column, snippet) = map.locate(&(22..29));
        let diagnostic = Diagnostic {
            severity: Severity::Error,
            file: "wardgate.toml".into(),
            line,
            column,
            message: "unknown duration unit \"sec\"".into(),
            help: Some("write \"10s\"".into()),
            snippet: Some(snippet),
        };
        let rendered = diagnostic.render();
        assert!(rendered.starts_with("wardgate.toml:1:23: error: unknown duration unit"));
        assert!(rendered.contains("1 | header_read_timeout = \"10sec\"\n"));
        assert!(rendered.contains(&format!("  | {}^^^^^^^\n", " ".repeat(22))));
        assert!(rendered.contains("  help: write \"10s\""));
    }
}
