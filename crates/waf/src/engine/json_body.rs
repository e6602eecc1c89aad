//! JSON bodies: every key and string leaf, judged by where it sits; on FHIR routes, clinical
//! free text, narrative and attachments are told apart by element name.

use std::borrow::Cow;
use std::ops::ControlFlow;

use super::Inspection;
use super::parts::TEXT;
use crate::decode::{self, Anomalies};
use crate::detect::InputKind;
use crate::extract::json::{self, JsonAnomaly, JsonError, JsonPath, JsonVisitor, Segment};
use crate::fhir::{self, FhirContext};
use crate::location::Place;
use crate::verdict::{FhirIssue, bounded};

/// Inspect a JSON body; `false` when it is not JSON (the caller then reads it as text).
pub(super) fn inspect(run: &mut Inspection<'_>, text: &str, fhir: Option<&FhirContext>) -> bool {
    let mut body = JsonBody {
        run,
        fhir: fhir.is_some(),
        // One frame per open object: room for a resource's usual nesting, allocated once.
        frames: Vec::with_capacity(if fhir.is_some() { 8 } else { 0 }),
        root_type: None,
        root_id: None,
        root_is_object: false,
    };
    let max_depth = body.run.config.limits.max_depth;
    body.run.in_document = true;
    let walked = json::walk(text, max_depth, &mut body);
    body.run.in_document = false;
    match walked {
        Ok(()) => {}
        Err(JsonError::TooDeep(_)) => {
            body.run.limit_exceeded("protocol.limit-depth");
            return true;
        }
        Err(JsonError::Malformed(_)) => return false,
    }
    if let Some(context) = fhir
        && body.root_is_object
        && !body.run.stopped
    {
        check_resource(
            body.run,
            context,
            body.root_type.as_deref(),
            body.root_id.as_deref(),
        );
    }
    true
}

/// A body's `resourceType` and `id` against what the path addresses.
fn check_resource(
    run: &mut Inspection<'_>,
    context: &FhirContext,
    found_type: Option<&str>,
    found_id: Option<&str>,
) {
    if let Some(expected) = context.expected_body_type()
        && found_type != Some(expected)
    {
        run.fhir_issues.push(FhirIssue::ResourceType {
            expected: expected.to_owned(),
            found: bounded(found_type.unwrap_or("")),
        });
    }
    if let (Some(expected), Some(found)) = (context.expected_body_id(), found_id)
        && expected != found
    {
        run.fhir_issues.push(FhirIssue::Id {
            path: expected.to_owned(),
            body: bounded(found),
        });
    }
}

/// Values of an object whose judgement depends on a sibling that may come later: an
/// attachment's `data` (by its `contentType`), a JSON Patch `value` (by its `path`).
#[derive(Default)]
struct Pending<'b> {
    content_type: Option<Cow<'b, str>>,
    data: Option<Cow<'b, str>>,
    patch_path: Option<Cow<'b, str>>,
    patch_value: Option<Cow<'b, str>>,
}

struct JsonBody<'r, 'a, 'b> {
    run: &'r mut Inspection<'a>,
    fhir: bool,
    frames: Vec<Pending<'b>>,
    root_type: Option<Cow<'b, str>>,
    root_id: Option<Cow<'b, str>>,
    root_is_object: bool,
}

impl JsonBody<'_, '_, '_> {
    fn flow(&self) -> ControlFlow<()> {
        if self.run.stopped {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }

    fn leaf(&mut self, place: Place<'_>, kind: InputKind, name: Option<&str>, value: &str) {
        self.run
            .value(place, kind, name, value, Anomalies::default(), TEXT);
    }
}

/// Whether `path` is `[i].member` of a root array (a JSON Patch operation's member).
fn is_patch_member(path: &JsonPath<'_>) -> bool {
    matches!(path.segments(), [Segment::Index(_), Segment::Key(_)])
}

impl<'b> JsonVisitor<'b> for JsonBody<'_, '_, 'b> {
    fn key(&mut self, path: &JsonPath<'b>, key: &str) -> ControlFlow<()> {
        // FHIR element names are letters, digits and `_`: nothing to inject there.
        if !(self.fhir && fhir::is_element_name(key)) {
            self.leaf(Place::JsonKey(path), InputKind::JsonKey, None, key);
        }
        self.flow()
    }

    fn string(&mut self, path: &JsonPath<'b>, value: Cow<'b, str>) -> ControlFlow<()> {
        let element = path.element();
        if path.len() == 1 {
            match element {
                Some("resourceType") => self.root_type = Some(value.clone()),
                Some("id") => self.root_id = Some(value.clone()),
                _ => {}
            }
        }
        if !self.fhir {
            self.leaf(Place::Json(path), InputKind::JsonString, element, &value);
            return self.flow();
        }
        let patch = is_patch_member(path);
        if let Some(frame) = self.frames.last_mut() {
            match element {
                Some("data") if !patch => {
                    frame.data = Some(value);
                    return self.flow();
                }
                Some("value") if patch => {
                    frame.patch_value = Some(value);
                    return self.flow();
                }
                Some("contentType") => frame.content_type = Some(value.clone()),
                Some("path") if patch => frame.patch_path = Some(value.clone()),
                _ => {}
            }
        }
        let parent = path.parent_element();
        let kind = fhir::element_kind(element, parent);
        if kind == InputKind::JsonString && fhir::value_conforms(element, parent, &value) {
            return self.flow();
        }
        self.leaf(Place::Json(path), kind, element, &value);
        self.flow()
    }

    fn object_start(&mut self, path: &JsonPath<'b>) {
        if path.is_empty() {
            self.root_is_object = true;
        }
        if self.fhir {
            self.frames.push(Pending::default());
        }
    }

    fn object_end(&mut self, path: &JsonPath<'b>) -> ControlFlow<()> {
        let Some(frame) = self.frames.pop() else {
            return self.flow();
        };
        if let Some(data) = frame.data {
            self.attachment(path, frame.content_type.as_deref(), &data);
        }
        if let Some(value) = frame.patch_value {
            let target = frame.patch_path.as_deref().unwrap_or("");
            let mut elements = target
                .split('/')
                .filter(|s| !s.is_empty() && !s.bytes().all(|b| b.is_ascii_digit()));
            let element = elements.next_back();
            let parent = elements.next_back();
            let kind = fhir::element_kind(element, parent);
            self.leaf(Place::JsonMember(path, "value"), kind, element, &value);
        }
        self.flow()
    }

    fn anomaly(&mut self, anomaly: JsonAnomaly) {
        let rule = match anomaly {
            JsonAnomaly::InvalidEscape => "protocol.json-invalid-escape",
            JsonAnomaly::LoneSurrogate => "protocol.json-lone-surrogate",
        };
        self.run.protocol(Place::Body, rule);
    }
}

impl JsonBody<'_, '_, '_> {
    /// An attachment's Base64 `data`: text is decoded and judged like narrative; other content
    /// (images, PDFs, DICOM) is not inspected. Text data that is not Base64 is inspected as is.
    fn attachment(&mut self, path: &JsonPath<'_>, content_type: Option<&str>, data: &str) {
        let Some(kind) = fhir::attachment_kind(content_type) else {
            return;
        };
        let place = Place::JsonMember(path, "data");
        match decode::base64::decode(data.as_bytes()) {
            Some(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                self.leaf(place, kind, Some("data"), &text);
            }
            None => self.leaf(place, InputKind::JsonString, Some("data"), data),
        }
    }
}
