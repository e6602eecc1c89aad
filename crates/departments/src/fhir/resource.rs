//! A FHIR resource as received: parsed for checks and indexing, but kept as the client's own
//! JSON text field by field, so what is read back is what was sent (decimal precision and
//! element order included) apart from `id` and `meta`.

use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use super::FhirError;

/// Limits on what a department accepts as a resource or Bundle.
#[derive(Debug, Clone, Copy)]
pub struct ResourceLimits {
    /// The largest body, in bytes.
    pub max_body_bytes: usize,
    /// The deepest nesting of JSON objects and arrays.
    pub max_depth: usize,
    /// The most entries a batch or transaction Bundle may carry.
    pub max_bundle_entries: usize,
}

impl Default for ResourceLimits {
    fn default() -> Self {
        ResourceLimits {
            max_body_bytes: 16 * 1024 * 1024,
            max_depth: 64,
            max_bundle_entries: 1000,
        }
    }
}

/// A resource: its fields as raw JSON text in the client's order, and the parsed value.
#[derive(Debug, Clone)]
pub struct ResourceDoc {
    fields: Vec<(String, Box<RawValue>)>,
    /// The parsed resource (for validation, indexing and matching).
    pub value: Value,
}

struct Fields(Vec<(String, Box<RawValue>)>);

impl<'de> serde::Deserialize<'de> for Fields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldsVisitor;
        impl<'de> Visitor<'de> for FieldsVisitor {
            type Value = Fields;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
                let mut fields: Vec<(String, Box<RawValue>)> = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, Box<RawValue>>()? {
                    if fields.iter().any(|(k, _)| *k == key) {
                        return Err(serde::de::Error::custom("duplicate member"));
                    }
                    fields.push((key, value));
                }
                Ok(Fields(fields))
            }
        }
        deserializer.deserialize_map(FieldsVisitor)
    }
}

/// The nesting depth of JSON text, counted without parsing (so a deeply nested body is
/// refused before any recursive parser sees it).
pub fn json_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in bytes {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

impl ResourceDoc {
    /// Parse a resource body under `limits`.
    pub fn parse(bytes: &[u8], limits: &ResourceLimits) -> Result<Self, FhirError> {
        let fields = Self::fields(bytes, limits)?;
        let value: Value = serde_json::from_slice(bytes).map_err(|_| {
            FhirError::invalid(
                "wardgate.departments.bad-json",
                "the body is not valid JSON",
            )
        })?;
        Ok(ResourceDoc { fields, value })
    }

    /// A resource the department built itself (the ImagingStudy of a study), held to the
    /// same `limits` as a received one; `value` is kept rather than parsed back from its text.
    pub fn from_value(value: Value, limits: &ResourceLimits) -> Result<Self, FhirError> {
        let bytes = serde_json::to_vec(&value).map_err(|_| FhirError::internal())?;
        let fields = Self::fields(&bytes, limits)?;
        Ok(ResourceDoc { fields, value })
    }

    /// The top-level members of `bytes`, checked against `limits`.
    fn fields(
        bytes: &[u8],
        limits: &ResourceLimits,
    ) -> Result<Vec<(String, Box<RawValue>)>, FhirError> {
        if bytes.len() > limits.max_body_bytes {
            return Err(FhirError::too_large());
        }
        if json_depth(bytes) > limits.max_depth {
            return Err(FhirError::invalid(
                "wardgate.departments.too-deep",
                "the JSON is nested too deeply",
            ));
        }
        let Fields(fields) = serde_json::from_slice(bytes).map_err(|_| {
            FhirError::invalid(
                "wardgate.departments.bad-json",
                "the body is not a JSON object",
            )
        })?;
        Ok(fields)
    }

    /// Build from a JSON value already parsed (a Bundle entry), keeping its text.
    pub fn from_raw(raw: &RawValue, limits: &ResourceLimits) -> Result<Self, FhirError> {
        Self::parse(raw.get().as_bytes(), limits)
    }

    /// The top-level members as the client wrote them, in their order.
    pub fn raw_fields(&self) -> &[(String, Box<RawValue>)] {
        &self.fields
    }

    /// `resourceType`, if it is a string.
    pub fn resource_type(&self) -> Option<&str> {
        self.value.get("resourceType").and_then(Value::as_str)
    }

    /// `id`, if present and a string.
    pub fn id(&self) -> Option<&str> {
        self.value.get("id").and_then(Value::as_str)
    }

    /// Replace raw text of top-level fields (used to rewrite `urn:uuid:` references).
    pub fn rewrite_references(&mut self, map: &std::collections::HashMap<String, String>) {
        if map.is_empty() {
            return;
        }
        let mut changed = false;
        for (_, raw) in &mut self.fields {
            if let Some(text) = rewrite_reference_text(raw.get(), map)
                && let Ok(new_raw) = RawValue::from_string(text)
            {
                *raw = new_raw;
                changed = true;
            }
        }
        if changed {
            rewrite_reference_values(&mut self.value, map);
        }
    }

    /// The stored JSON: `id` and `meta.versionId` / `meta.lastUpdated` set, every other field
    /// as received.
    pub fn to_stored_json(&self, id: &str, version: i64, last_updated: &str) -> Vec<u8> {
        let mut meta = match self.value.get("meta") {
            Some(Value::Object(m)) => m.clone(),
            _ => serde_json::Map::new(),
        };
        meta.insert("versionId".into(), Value::String(version.to_string()));
        meta.insert("lastUpdated".into(), Value::String(last_updated.to_owned()));
        let id_text = Value::String(id.to_owned()).to_string();
        let meta_text = Value::Object(meta).to_string();
        let mut parts: Vec<(String, String)> = Vec::with_capacity(self.fields.len() + 2);
        let (mut has_id, mut has_meta) = (false, false);
        for (key, raw) in &self.fields {
            let text = match key.as_str() {
                "id" => {
                    has_id = true;
                    id_text.clone()
                }
                "meta" => {
                    has_meta = true;
                    meta_text.clone()
                }
                _ => raw.get().to_owned(),
            };
            parts.push((key.clone(), text));
        }
        let after_type = parts
            .iter()
            .position(|(k, _)| k == "resourceType")
            .map_or(0, |i| i + 1);
        if !has_meta {
            parts.insert(after_type, ("meta".into(), meta_text));
        }
        if !has_id {
            parts.insert(after_type, ("id".into(), id_text));
        }
        let mut out = String::with_capacity(parts.iter().map(|(k, v)| k.len() + v.len() + 4).sum());
        out.push('{');
        for (i, (key, text)) in parts.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&Value::String(key.clone()).to_string());
            out.push(':');
            out.push_str(text);
        }
        out.push('}');
        out.into_bytes()
    }
}

/// Rewrite `"reference": "<key>"` occurrences in JSON text; `None` when nothing changed.
fn rewrite_reference_text(
    text: &str,
    map: &std::collections::HashMap<String, String>,
) -> Option<String> {
    const KEY: &str = "\"reference\"";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut changed = false;
    while let Some(pos) = rest.find(KEY) {
        let (before, after) = rest.split_at(pos + KEY.len());
        out.push_str(before);
        rest = after;
        let trimmed = rest.trim_start();
        let Some(after_colon) = trimmed.strip_prefix(':') else {
            continue;
        };
        let value_part = after_colon.trim_start();
        let Some(inner) = value_part.strip_prefix('"') else {
            continue;
        };
        let Some(end) = inner.find('"') else { continue };
        let current = &inner[..end];
        if let Some(new) = map.get(current) {
            out.push(':');
            out.push_str(&Value::String(new.clone()).to_string());
            rest = &inner[end + 1..];
            changed = true;
        }
    }
    out.push_str(rest);
    changed.then_some(out)
}

fn rewrite_reference_values(value: &mut Value, map: &std::collections::HashMap<String, String>) {
    match value {
        Value::Object(obj) => {
            for (key, v) in obj.iter_mut() {
                if key == "reference"
                    && let Value::String(s) = v
                    && let Some(new) = map.get(s.as_str())
                {
                    *s = new.clone();
                } else {
                    rewrite_reference_values(v, map);
                }
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|v| rewrite_reference_values(v, map)),
        _ => {}
    }
}

/// Check every `reference` in a resource: a local `#id`, `Type/id[/_history/vid]`, or an
/// absolute URI without spaces or control characters.
pub fn check_references(value: &Value) -> Result<(), FhirError> {
    fn walk(value: &Value, path: &mut String) -> Result<(), FhirError> {
        match value {
            Value::Object(obj) => {
                for (key, v) in obj {
                    if key == "reference"
                        && let Value::String(s) = v
                    {
                        // `reference` is also an element name elsewhere (a Reference or an
                        // Identifier inside CarePlan.activity, Claim.related): only the
                        // string of a Reference datatype is checked.
                        if !is_well_formed_reference(s) {
                            return Err(FhirError::invalid(
                                "wardgate.departments.bad-reference",
                                "a reference is not well formed",
                            )
                            .at(format!("{path}.reference")));
                        }
                    } else {
                        let len = path.len();
                        path.push('.');
                        path.push_str(key);
                        walk(v, path)?;
                        path.truncate(len);
                    }
                }
            }
            Value::Array(items) => {
                for item in items {
                    walk(item, path)?;
                }
            }
            _ => {}
        }
        Ok(())
    }
    let mut path = value
        .get("resourceType")
        .and_then(Value::as_str)
        .unwrap_or("Resource")
        .to_owned();
    walk(value, &mut path)
}

/// Whether a reference string is well formed.
pub fn is_well_formed_reference(reference: &str) -> bool {
    if reference.is_empty()
        || reference.len() > 4096
        || reference
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        return false;
    }
    if let Some(local) = reference.strip_prefix('#') {
        return local.is_empty() || wardgate_fhir::is_valid_id(local);
    }
    let parts: Vec<&str> = reference.split('/').collect();
    match parts.as_slice() {
        [t, id] if wardgate_fhir::is_resource_type(t) => wardgate_fhir::is_valid_id(id),
        [t, id, "_history", v] if wardgate_fhir::is_resource_type(t) => {
            wardgate_fhir::is_valid_id(id) && wardgate_fhir::is_valid_id(v)
        }
        _ => match reference.split_once(':') {
            // An absolute URI (http, https, urn:uuid, urn:oid, ...), or a conditional
            // reference `Type?search` inside a transaction.
            Some((scheme, rest)) => {
                !rest.is_empty()
                    && scheme
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
            }
            None => reference
                .split_once('?')
                .is_some_and(|(t, _)| wardgate_fhir::is_resource_type(t)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_of_fields_survives_and_meta_is_set() {
        let body = br#"{"resourceType":"Observation","valueQuantity":{"value":1.50,"unit":"g"},"meta":{"tag":[{"code":"x"}]},"id":"old"}"#;
        let doc = ResourceDoc::parse(body, &ResourceLimits::default()).unwrap();
        let stored =
            String::from_utf8(doc.to_stored_json("o1", 2, "2024-01-01T00:00:00Z")).unwrap();
        assert!(stored.contains(r#""value":1.50"#), "{stored}");
        let v: Value = serde_json::from_str(&stored).unwrap();
        assert_eq!(v["id"], "o1");
        assert_eq!(v["meta"]["versionId"], "2");
        assert_eq!(v["meta"]["tag"][0]["code"], "x");
    }

    #[test]
    fn deep_duplicate_and_broken_bodies_are_refused() {
        let limits = ResourceLimits::default();
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(100), "]".repeat(100));
        assert!(ResourceDoc::parse(deep.as_bytes(), &limits).is_err());
        assert!(ResourceDoc::parse(br#"{"a":1,"a":2}"#, &limits).is_err());
        assert!(ResourceDoc::parse(b"[1]", &limits).is_err());
        assert!(ResourceDoc::parse(b"{", &limits).is_err());
    }

    #[test]
    fn urn_references_are_rewritten_in_text() {
        let body = br#"{"resourceType":"Observation","subject":{"reference" : "urn:uuid:abc"},"note":[{"text":"urn:uuid:abc"}]}"#;
        let mut doc = ResourceDoc::parse(body, &ResourceLimits::default()).unwrap();
        let map = [("urn:uuid:abc".to_owned(), "Patient/p9".to_owned())].into();
        doc.rewrite_references(&map);
        let stored = String::from_utf8(doc.to_stored_json("o", 1, "t")).unwrap();
        assert!(stored.contains(r#""reference":"Patient/p9""#), "{stored}");
        assert!(stored.contains(r#""text":"urn:uuid:abc""#), "{stored}");
        assert_eq!(doc.value["subject"]["reference"], "Patient/p9");
    }

    #[test]
    fn references_are_checked() {
        for good in [
            "Patient/1",
            "#a",
            "urn:uuid:1-2",
            "http://x/fhir/Patient/1",
            "Patient?identifier=a|b",
        ] {
            assert!(is_well_formed_reference(good), "{good}");
        }
        for bad in ["Patient/1 OR 1=1", "", "Patient/'1", "x y", "Nope/1"] {
            assert!(!is_well_formed_reference(bad), "{bad}");
        }
    }
}
