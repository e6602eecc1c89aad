//! The FHIR narrative rules (`text.div`, constraints txt-1 and txt-2): narrative XHTML holds
//! formatting only. Reported: elements that run or embed content (`script`, `iframe`,
//! `object`, `embed`, `applet`, `form`, `base`, `link`, `meta`, frames), any `on*` attribute,
//! script and active `data:` URLs, `srcdoc`, and style that runs script. Tables, lists,
//! images with `data:image/...` or internal references, `style` with colours: allowed.

use super::{css, html, lower_name, push, script};
use crate::detect::Finding;
use crate::detect::ascii::decode_entities_into;
use script::Scheme;

/// Judge a narrative `div`.
pub(crate) fn detect(value: &str, findings: &mut Vec<Finding>) {
    let mut scratch = String::new();
    for tag in html::tags(value.as_bytes()) {
        if tag.end_tag {
            continue;
        }
        let mut buf = [0u8; 32];
        let name = lower_name(value, tag.name.clone(), &mut buf);
        let forbidden = matches!(
            name,
            "script"
                | "iframe"
                | "frame"
                | "frameset"
                | "object"
                | "embed"
                | "applet"
                | "form"
                | "base"
                | "link"
                | "meta"
                | "portal"
                | "xml"
                | "import"
                | "isindex"
        );
        if forbidden {
            push(findings, "xss.narrative-element", 5, tag.start, tag.end);
            return;
        }
        if name == "style" {
            let sheet = value
                .get(tag.end..)
                .unwrap_or("")
                .split('<')
                .next()
                .unwrap_or("");
            if css::is_active(sheet) {
                push(findings, "xss.style-expression", 5, tag.start, tag.end);
                return;
            }
        }
        for attr in &tag.attrs {
            let mut nbuf = [0u8; 32];
            let attr_name = lower_name(value, attr.name.clone(), &mut nbuf);
            if attr_name.starts_with("on") && attr_name.len() > 2 || attr_name == "srcdoc" {
                push(findings, "xss.narrative-event", 5, tag.start, tag.end);
                return;
            }
            let raw = attr.value.clone().and_then(|v| value.get(v)).unwrap_or("");
            decode_entities_into(raw, super::MAX_ATTR, &mut scratch);
            let decoded = scratch.as_bytes();
            let active = script::schemes(decoded).any(|(scheme, start, _)| {
                let at_start = decoded
                    .get(..start)
                    .is_some_and(|p| p.iter().all(|b| b.is_ascii_whitespace() || *b < 0x20));
                at_start && matches!(scheme, Scheme::Script | Scheme::ActiveData)
            });
            if active {
                push(findings, "xss.narrative-url", 5, tag.start, tag.end);
                return;
            }
            if attr_name == "style" && css::is_active(&scratch) {
                push(findings, "xss.style-expression", 5, tag.start, tag.end);
                return;
            }
        }
    }
}
