//! XML bodies: the whole document for the XXE detector, then text and attribute values by path; on
//! FHIR routes, narrative `div`s whole and `value` attributes by element name.

use std::ops::ControlFlow;

use super::Inspection;
use super::parts::TEXT;
use crate::decode::Anomalies;
use crate::detect::InputKind;
use crate::extract::xml::{self, Open, XmlError, XmlPath, XmlVisitor};
use crate::fhir::{self, FhirContext};
use crate::location::Place;
use crate::verdict::{FhirIssue, bounded};

/// Inspect an XML body; `false` when it is not XML (the caller then reads it as text).
pub(super) fn inspect(run: &mut Inspection<'_>, text: &str, fhir: Option<&FhirContext>) -> bool {
    let document = xml::document_text(text);
    // The XXE detector reads the whole document: DOCTYPE and ENTITY declarations, but also
    // XInclude and schema locations that make a parser fetch.
    run.value(
        Place::Body,
        InputKind::XmlDocument,
        None,
        &document,
        Anomalies::default(),
        TEXT,
    );
    let mut body = XmlBody {
        run,
        fhir: fhir.is_some(),
        root: None,
    };
    let max_depth = body.run.config.limits.max_depth;
    body.run.in_document = true;
    let walked = xml::walk(&document, max_depth, &mut body);
    body.run.in_document = false;
    match walked {
        Ok(()) => {}
        Err(XmlError::TooDeep(_)) => {
            body.run.limit_exceeded("protocol.limit-depth");
            return true;
        }
        Err(XmlError::Malformed(_)) => return false,
    }
    let root = body.root.take();
    if let Some(expected) = fhir.and_then(FhirContext::expected_body_type)
        && root.as_deref() != Some(expected)
    {
        body.run.fhir_issues.push(FhirIssue::ResourceType {
            expected: expected.to_owned(),
            found: bounded(root.as_deref().unwrap_or("")),
        });
    }
    true
}

struct XmlBody<'r, 'a> {
    run: &'r mut Inspection<'a>,
    fhir: bool,
    root: Option<String>,
}

impl XmlBody<'_, '_> {
    fn flow(&self) -> ControlFlow<()> {
        if self.run.stopped {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}

fn last_two<'p>(path: &'p XmlPath<'_>) -> (Option<&'p str>, Option<&'p str>) {
    let elements = path.elements();
    let local = |name: &'p str| name.rsplit(':').next().unwrap_or(name);
    let last = elements.last().map(|e| local(e));
    let parent = elements.len().checked_sub(2).map(|i| local(elements[i]));
    (last, parent)
}

impl<'d> XmlVisitor<'d> for XmlBody<'_, '_> {
    fn open(&mut self, path: &XmlPath<'d>) -> Open {
        if path.elements().len() == 1 && self.root.is_none() {
            self.root = path.elements().first().map(|e| (*e).to_owned());
        }
        match last_two(path) {
            (Some("div"), Some("text")) if self.fhir => Open::Capture,
            _ => Open::Descend,
        }
    }

    fn attribute(&mut self, path: &XmlPath<'d>, name: &'d str, value: &'d str) -> ControlFlow<()> {
        // FHIR XML carries primitive values in `value` attributes, judged by element name.
        let kind = match last_two(path) {
            (element, parent) if self.fhir && name == "value" => {
                fhir::element_kind(element, parent)
            }
            _ => InputKind::XmlText,
        };
        self.run.value(
            Place::XmlAttribute(path, name),
            kind,
            Some(name),
            value,
            Anomalies::default(),
            TEXT,
        );
        self.flow()
    }

    fn text(&mut self, path: &XmlPath<'d>, text: &'d str) -> ControlFlow<()> {
        let (element, _) = last_two(path);
        self.run.value(
            Place::Xml(path),
            InputKind::XmlText,
            element,
            text,
            Anomalies::default(),
            TEXT,
        );
        self.flow()
    }

    fn captured(&mut self, path: &XmlPath<'d>, content: &'d str) -> ControlFlow<()> {
        self.run.value(
            Place::Xml(path),
            InputKind::FhirNarrative,
            Some("div"),
            content,
            Anomalies::default(),
            TEXT,
        );
        self.flow()
    }
}
