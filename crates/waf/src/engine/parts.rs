//! The parts of a request before its body: path, query string, headers, cookies.

use std::borrow::Cow;

use super::Inspection;
use crate::decode::{self, Anomalies, DecodeOptions};
use crate::detect::InputKind;
use crate::extract::{cookie, form};
use crate::fhir::{self, FhirContext, SearchJudgement};
use crate::location::Place;
use crate::request::Header;

/// Options for a value that may hide a Base64 payload.
pub(super) const TEXT: DecodeOptions = DecodeOptions {
    path_like: false,
    base64: true,
};

impl Inspection<'_> {
    /// Every path segment (`path[i]`) and the whole path (`path`).
    pub(super) fn path(
        &mut self,
        raw_path: &str,
        decoded_path: &str,
        anomalies: Anomalies,
        fhir: Option<&FhirContext>,
    ) {
        let fhir_base = fhir.is_some_and(|f| f.has_base);
        for (index, raw) in raw_path.split('/').skip(1).enumerate() {
            if raw.is_empty() {
                continue;
            }
            let (segment, segment_anomalies) = decode::url_base(raw, false);
            // On a FHIR base, a segment that fits the FHIR path grammar cannot carry an attack;
            // the department and `fhir` segments were routed by the gateway.
            if fhir_base && (index < 2 || fhir::segment_conforms(&segment)) {
                continue;
            }
            self.value(
                Place::PathSegment(index),
                InputKind::PathSegment,
                None,
                &segment,
                segment_anomalies,
                TEXT,
            );
        }
        let options = DecodeOptions {
            path_like: true,
            base64: false,
        };
        self.value(
            Place::Path,
            InputKind::Path,
            None,
            decoded_path,
            anomalies,
            options,
        );
    }

    /// Every query parameter: names (`query-name:n`) and values (`query:n`).
    pub(super) fn query(&mut self, query: &str, fhir: Option<&FhirContext>) {
        self.pairs(query, fhir, Kinds::QUERY);
    }

    /// `name=value` pairs of a query or form body; on a FHIR route, search parameters are
    /// judged by their type's grammar first.
    pub(super) fn pairs(&mut self, input: &str, fhir: Option<&FhirContext>, kinds: Kinds) {
        for pair in form::pairs(input) {
            if self.stopped {
                return;
            }
            let (name, name_anomalies) = decode::url_base(pair.name, true);
            let (value, value_anomalies) = decode::url_base(pair.value, true);
            let (inspect_name, inspect_value) = match fhir {
                Some(context) => match fhir::judge_search(context.resource_type(), &name, &value) {
                    SearchJudgement::Conforms => (false, false),
                    SearchJudgement::Inspect { name } => (name, true),
                    SearchJudgement::Invalid(issue) => {
                        self.fhir_issues.push(issue);
                        (true, true)
                    }
                },
                None => (true, true),
            };
            if inspect_name {
                self.value(
                    kinds.name_place(&name),
                    kinds.name,
                    None,
                    &name,
                    name_anomalies,
                    TEXT,
                );
            }
            if inspect_value {
                self.value(
                    kinds.value_place(&name),
                    kinds.value,
                    Some(&name),
                    &value,
                    value_anomalies,
                    TEXT,
                );
            }
        }
    }

    /// Every header value (`header:name`), and the cookies of `Cookie` headers.
    pub(super) fn headers(&mut self, headers: &[Header<'_>]) {
        for header in headers {
            if self.stopped {
                return;
            }
            let name = lower_case(header.name);
            let value = super::body::text_of(header.value);
            match name.as_ref() {
                "cookie" => self.cookies(&value),
                // Framing the gateway already parsed and checked.
                "content-length" => {}
                _ => self.value(
                    Place::Header(&name),
                    InputKind::HeaderValue,
                    Some(&name),
                    &value,
                    Anomalies::default(),
                    TEXT,
                ),
            }
        }
    }

    fn cookies(&mut self, header: &str) {
        for cookie in cookie::cookies(header) {
            self.value(
                Place::CookieName(cookie.name),
                InputKind::CookieName,
                None,
                cookie.name,
                Anomalies::default(),
                TEXT,
            );
            let (value, anomalies) = decode::url_base(cookie.value, false);
            self.value(
                Place::Cookie(cookie.name),
                InputKind::CookieValue,
                Some(cookie.name),
                &value,
                anomalies,
                TEXT,
            );
        }
    }
}

/// The input kinds of a pair's name and value.
#[derive(Debug, Clone, Copy)]
pub(super) struct Kinds {
    name: InputKind,
    value: InputKind,
}

impl Kinds {
    /// Query string pairs.
    pub(super) const QUERY: Kinds = Kinds {
        name: InputKind::QueryName,
        value: InputKind::QueryValue,
    };
    /// Form body pairs.
    pub(super) const FORM: Kinds = Kinds {
        name: InputKind::FormName,
        value: InputKind::FormValue,
    };

    fn name_place(self, name: &str) -> Place<'_> {
        match self.name {
            InputKind::QueryName => Place::QueryName(name),
            _ => Place::FormName(name),
        }
    }

    fn value_place(self, name: &str) -> Place<'_> {
        match self.value {
            InputKind::QueryValue => Place::Query(name),
            _ => Place::Form(name),
        }
    }
}

fn lower_case(name: &str) -> Cow<'_, str> {
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(name.to_ascii_lowercase())
    } else {
        Cow::Borrowed(name)
    }
}
