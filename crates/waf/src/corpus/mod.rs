//! Labelled request corpora: read the JSONL format of `corpora/waf/README.md`, run the engine
//! over every request, and count detection and false positives per source, category and
//! placement. This module reads files (for the CLI, tests and benchmarks); the engine does not.

pub mod clinical;
mod scan;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::RouteContext;
use crate::engine::Engine;
use crate::request::{Header, HttpRequest};
use crate::verdict::Verdict;

pub use scan::{Scan, ScanEntry, Tally};

/// Why a corpus could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A line is not a request record.
    #[error("{path}:{line}: not a corpus record: {source}")]
    Record {
        /// The file.
        path: PathBuf,
        /// The line number, from 1.
        line: usize,
        /// The cause.
        source: serde_json::Error,
    },
    /// A clinical corpus file is not what it should be.
    #[error("{path}: {reason}")]
    Clinical {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// Whether a request is an attack or legitimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    /// An attack: should be blocked.
    Attack,
    /// Legitimate: must pass.
    Benign,
}

/// One labelled request of a corpus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// `<source>-<hash>`, unique.
    pub id: String,
    /// The corpus it comes from (`gotestwaf`, `libinjection`, `patt`, `clinical`).
    pub source: String,
    /// Attack or benign.
    pub label: Label,
    /// The attack class, or `benign`.
    pub category: String,
    /// The method.
    pub method: String,
    /// The path, percent-encoded as sent.
    pub path: String,
    /// The query without `?`; may be empty.
    #[serde(default)]
    pub query: String,
    /// Extra headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The body as text.
    #[serde(default)]
    pub body: String,
    /// The body as Base64 when it is not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_b64: Option<String>,
    /// Where the payload sits (`query`, `body`, `json`, `header`, ...).
    #[serde(default)]
    pub placement: String,
    /// How the payload was encoded.
    #[serde(default)]
    pub encoding: String,
    /// The upstream file or note.
    #[serde(default)]
    pub origin: String,
}

impl Record {
    /// The body's bytes.
    pub fn body_bytes(&self) -> Cow<'_, [u8]> {
        match &self.body_b64 {
            Some(b64) => {
                Cow::Owned(crate::decode::base64::decode(b64.as_bytes()).unwrap_or_default())
            }
            None => Cow::Borrowed(self.body.as_bytes()),
        }
    }

    /// Whether the request is on a FHIR base (`/{department}/fhir[/...]`).
    pub fn is_fhir_route(&self) -> bool {
        let mut segments = self.path.trim_start_matches('/').split('/');
        let department = segments.next().unwrap_or("");
        !department.is_empty() && segments.next() == Some("fhir")
    }

    /// Inspect the request with `engine` on a route at `paranoia`, a FHIR route when the path
    /// is one or `force_fhir` is set.
    pub fn inspect(&self, engine: &Engine, paranoia: u8, force_fhir: bool) -> Verdict {
        let headers: Vec<Header<'_>> = self
            .headers
            .iter()
            .map(|(name, value)| Header {
                name,
                value: value.as_bytes(),
            })
            .collect();
        let body = self.body_bytes();
        let request = HttpRequest {
            method: &self.method,
            path: &self.path,
            query: (!self.query.is_empty()).then_some(self.query.as_str()),
            headers: &headers,
            body: &body,
            content_type: None,
        };
        let route = RouteContext {
            paranoia,
            fhir: force_fhir || self.is_fhir_route(),
            ..RouteContext::default()
        };
        engine.inspect(&request, &route)
    }
}

/// Read every record of a JSONL corpus file.
pub fn read_jsonl(path: &Path) -> Result<Vec<Record>, CorpusError> {
    let text = std::fs::read_to_string(path).map_err(|source| CorpusError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse_jsonl(&text).map_err(|(line, source)| CorpusError::Record {
        path: path.to_owned(),
        line,
        source,
    })
}

/// Parse JSONL text: one record per non-empty line.
pub fn parse_jsonl(text: &str) -> Result<Vec<Record>, (usize, serde_json::Error)> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| serde_json::from_str(line).map_err(|e| (i + 1, e)))
        .collect()
}
