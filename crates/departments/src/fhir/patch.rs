//! FHIR patch as JSON Patch (RFC 6902): `PATCH [base]/Type/id` with
//! `Content-Type: application/json-patch+json`, applied to the current version as one
//! versioned update.
//!
//! Fidelity: the top-level fields no operation touches keep the client's own JSON text
//! (decimal precision, escapes); only the fields an operation reaches are written anew.
//! `id` and `resourceType` cannot be patched. FHIRPath Patch (a `Parameters` body) is not
//! offered (`415`).

use bytes::Bytes;
use http::{Response, StatusCode};
use serde_json::Value;

use super::interactions::{current, if_match, update_over, write_answer};
use super::resource::{ResourceDoc, json_depth};
use super::{FhirContext, FhirError};

/// The most operations one patch may carry.
const MAX_OPERATIONS: usize = 1000;

fn unprocessable(diagnostics: impl Into<String>) -> FhirError {
    FhirError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        wardgate_fhir::outcome::IssueCode::Processing,
        "wardgate.departments.patch-failed",
        diagnostics,
    )
}

fn malformed(diagnostics: impl Into<String>) -> FhirError {
    FhirError::invalid("wardgate.departments.bad-patch", diagnostics)
}

/// Apply the JSON Patch `body` to `rtype/id`.
pub(crate) async fn patch(
    ctx: &FhirContext<'_>,
    rtype: &str,
    id: &str,
    body: &[u8],
) -> Result<Response<Bytes>, FhirError> {
    let media = ctx
        .header("content-type")
        .and_then(|ct| ct.split(';').next())
        .map(str::trim);
    if media != Some("application/json-patch+json") {
        return Err(FhirError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            wardgate_fhir::outcome::IssueCode::NotSupported,
            "wardgate.departments.unsupported-patch",
            "send the patch as application/json-patch+json (FHIRPath Patch is not offered)",
        ));
    }
    let limits = ctx.dept.config().limits;
    if json_depth(body) > limits.max_depth {
        return Err(malformed("the patch is nested too deeply"));
    }
    let operations = read_operations(body)?;
    let opened = current(ctx, rtype, id)
        .await?
        .ok_or_else(FhirError::not_found)?;
    if opened.deleted {
        return Err(FhirError::gone());
    }
    // If-Match is a precondition: a stale version is answered 412 before any operation
    // (a `test` among them would otherwise fail first, with 422).
    let expected = if_match(ctx)?.unwrap_or(opened.version);
    if expected != opened.version {
        return Err(FhirError::precondition(
            "the resource's current version is not the one in If-Match",
        ));
    }
    let doc = ResourceDoc::parse(&opened.json, &limits)?;
    let patched = apply_json_patch(&doc, &operations, &limits)?;
    // Committed only over the version opened above: one that landed since is a 409.
    let (prepared, _) = update_over(ctx, rtype, id, &patched, Some(&opened))?;
    ctx.dept.store().commit(vec![prepared.write]).await?;
    Ok(write_answer(ctx, StatusCode::OK, rtype, &prepared.opened))
}

/// A JSON Patch document's operations (at most [`MAX_OPERATIONS`]).
pub fn read_operations(body: &[u8]) -> Result<Vec<Value>, FhirError> {
    let operations: Vec<Value> = serde_json::from_slice(body)
        .map_err(|_| malformed("the patch is not a JSON array of operations"))?;
    if operations.len() > MAX_OPERATIONS {
        return Err(malformed(format!(
            "a patch carries at most {MAX_OPERATIONS} operations"
        )));
    }
    Ok(operations)
}

/// `doc` with the JSON Patch `operations` applied, as a resource to store (checked against
/// `limits`); `id` and `resourceType` cannot change.
pub fn apply_json_patch(
    doc: &ResourceDoc,
    operations: &[Value],
    limits: &super::ResourceLimits,
) -> Result<ResourceDoc, FhirError> {
    let mut value = doc.value.clone();
    let mut touched: Vec<String> = Vec::new();
    for (index, operation) in operations.iter().enumerate() {
        apply(&mut value, operation, &mut touched)
            .map_err(|why| unprocessable(format!("operation {}: {why}", index + 1)))?;
    }
    if value.get("id") != doc.value.get("id")
        || value.get("resourceType") != doc.value.get("resourceType")
    {
        return Err(unprocessable("a patch cannot change id or resourceType"));
    }
    let text = assemble(doc, &value, &touched)?;
    ResourceDoc::parse(&text, limits)
}

/// The patched resource's text: untouched top-level fields as the client wrote them, in
/// their order; touched ones written from the patched value; new ones at the end.
fn assemble(doc: &ResourceDoc, value: &Value, touched: &[String]) -> Result<Vec<u8>, FhirError> {
    let Value::Object(patched) = value else {
        return Err(unprocessable("the patched resource is not a JSON object"));
    };
    let mut members: Vec<String> = Vec::new();
    let member = |key: &str, text: &str| format!("{}:{text}", Value::String(key.to_owned()));
    for (key, raw) in doc.raw_fields() {
        match patched.get(key) {
            None => {}
            Some(v) if touched.iter().any(|t| t == key) => {
                members.push(member(key, &v.to_string()));
            }
            Some(_) => members.push(member(key, raw.get())),
        }
    }
    for (key, v) in patched {
        if !doc.raw_fields().iter().any(|(k, _)| k == key) {
            members.push(member(key, &v.to_string()));
        }
    }
    Ok(format!("{{{}}}", members.join(",")).into_bytes())
}

/// Apply one operation; records the top-level members it reaches.
fn apply(document: &mut Value, operation: &Value, touched: &mut Vec<String>) -> Result<(), String> {
    let op = operation
        .get("op")
        .and_then(Value::as_str)
        .ok_or("no 'op'")?;
    let path = pointer(operation, "path")?;
    let mut touch = |p: &[String]| match p.first() {
        Some(first) => touched.push(first.clone()),
        // The whole document: every member is touched.
        None => touched.push(String::new()),
    };
    touch(&path);
    match op {
        "add" => add(document, &path, value_of(operation)?),
        "remove" => remove(document, &path).map(|_| ()),
        "replace" => {
            remove(document, &path)?;
            add(document, &path, value_of(operation)?)
        }
        "move" => {
            let from = pointer(operation, "from")?;
            if path.len() > from.len() && path[..from.len()] == from[..] {
                return Err("cannot move a value into itself".into());
            }
            touch(&from);
            let moved = remove(document, &from)?;
            add(document, &path, moved)
        }
        "copy" => {
            let from = pointer(operation, "from")?;
            let copied = get(document, &from)?.clone();
            add(document, &path, copied)
        }
        "test" => {
            if *get(document, &path)? == value_of(operation)? {
                Ok(())
            } else {
                Err("the test failed".into())
            }
        }
        _ => Err("unknown 'op'".into()),
    }
    .map(|()| {
        // A whole-document operation touches every member.
        if touched.iter().any(String::is_empty)
            && let Value::Object(map) = document
        {
            touched.extend(map.keys().cloned());
        }
    })
}

fn value_of(operation: &Value) -> Result<Value, String> {
    operation
        .get("value")
        .cloned()
        .ok_or_else(|| "no 'value'".into())
}

/// An RFC 6901 pointer, as its unescaped reference tokens.
fn pointer(operation: &Value, member: &str) -> Result<Vec<String>, String> {
    let text = operation
        .get(member)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("no '{member}'"))?;
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let rest = text
        .strip_prefix('/')
        .ok_or_else(|| format!("'{member}' is not a JSON pointer"))?;
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn index(array: &[Value], token: &str, allow_end: bool) -> Result<usize, String> {
    if token == "-" && allow_end {
        return Ok(array.len());
    }
    let valid = !token.is_empty()
        && token.bytes().all(|b| b.is_ascii_digit())
        && (token == "0" || !token.starts_with('0'));
    let i: usize = token
        .parse()
        .ok()
        .filter(|_| valid)
        .ok_or("an array index is not a number")?;
    let bound = if allow_end {
        array.len()
    } else {
        array.len().saturating_sub(1)
    };
    if i > bound || (!allow_end && array.is_empty()) {
        return Err("an array index is out of range".into());
    }
    Ok(i)
}

fn get<'a>(document: &'a Value, path: &[String]) -> Result<&'a Value, String> {
    let mut at = document;
    for token in path {
        at = match at {
            Value::Object(map) => map.get(token).ok_or("the path does not exist")?,
            Value::Array(items) => &items[index(items, token, false)?],
            _ => return Err("the path does not exist".into()),
        };
    }
    Ok(at)
}

fn parent<'a>(document: &'a mut Value, path: &[String]) -> Result<&'a mut Value, String> {
    let mut at = document;
    for token in &path[..path.len() - 1] {
        at = match at {
            Value::Object(map) => map.get_mut(token).ok_or("the path does not exist")?,
            Value::Array(items) => {
                let i = index(items, token, false)?;
                &mut items[i]
            }
            _ => return Err("the path does not exist".into()),
        };
    }
    Ok(at)
}

fn add(document: &mut Value, path: &[String], value: Value) -> Result<(), String> {
    let Some(last) = path.last() else {
        *document = value;
        return Ok(());
    };
    match parent(document, path)? {
        Value::Object(map) => {
            map.insert(last.clone(), value);
            Ok(())
        }
        Value::Array(items) => {
            let i = index(items, last, true)?;
            items.insert(i, value);
            Ok(())
        }
        _ => Err("the path does not exist".into()),
    }
}

fn remove(document: &mut Value, path: &[String]) -> Result<Value, String> {
    let Some(last) = path.last() else {
        return Err("cannot remove the whole resource".into());
    };
    match parent(document, path)? {
        Value::Object(map) => map
            .remove(last)
            .ok_or_else(|| "the path does not exist".into()),
        Value::Array(items) => {
            let i = index(items, last, false)?;
            Ok(items.remove(i))
        }
        _ => Err("the path does not exist".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(document: Value, operations: Value) -> Result<Value, String> {
        let mut document = document;
        let mut touched = Vec::new();
        for operation in operations.as_array().unwrap() {
            apply(&mut document, operation, &mut touched)?;
        }
        Ok(document)
    }

    #[test]
    fn the_rfc_6902_operations_apply() {
        let doc = json!({"a": {"b": [1, 2]}, "c": "x", "k/~": 1});
        let patched = run(
            doc.clone(),
            json!([
                {"op": "add", "path": "/a/b/-", "value": 3},
                {"op": "add", "path": "/a/b/0", "value": 0},
                {"op": "replace", "path": "/c", "value": "y"},
                {"op": "test", "path": "/c", "value": "y"},
                {"op": "copy", "from": "/c", "path": "/d"},
                {"op": "move", "from": "/d", "path": "/e"},
                {"op": "remove", "path": "/k~1~0"},
                {"op": "remove", "path": "/a/b/1"}
            ]),
        )
        .unwrap();
        assert_eq!(patched, json!({"a": {"b": [0, 2, 3]}, "c": "y", "e": "y"}));
        for bad in [
            json!([{"op": "test", "path": "/c", "value": "z"}]),
            json!([{"op": "remove", "path": "/nope"}]),
            json!([{"op": "replace", "path": "/a/b/9", "value": 1}]),
            json!([{"op": "add", "path": "/a/b/01", "value": 1}]),
            json!([{"op": "move", "from": "/a", "path": "/a/x"}]),
            json!([{"op": "remove", "path": ""}]),
            json!([{"op": "frobnicate", "path": "/c"}]),
            json!([{"op": "add", "path": "c", "value": 1}]),
        ] {
            assert!(run(doc.clone(), bad.clone()).is_err(), "{bad}");
        }
    }
}
