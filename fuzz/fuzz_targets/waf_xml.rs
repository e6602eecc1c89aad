//! The lenient XML reader (and UTF-7): never panics, respects the depth limit.
#![no_main]

use std::ops::ControlFlow;

use libfuzzer_sys::fuzz_target;
use wardgate_waf::extract::xml::{
    Open, XmlPath, XmlVisitor, decode_utf7, document_text, has_declarations, walk,
};

struct Check(bool);

impl<'d> XmlVisitor<'d> for Check {
    fn open(&mut self, path: &XmlPath<'d>) -> Open {
        assert!(path.elements().len() <= 16);
        if self.0 && path.elements().last() == Some(&"div") {
            Open::Capture
        } else {
            Open::Descend
        }
    }
    fn attribute(
        &mut self,
        path: &XmlPath<'d>,
        _name: &'d str,
        _value: &'d str,
    ) -> ControlFlow<()> {
        let mut out = String::new();
        path.render_into(&mut out);
        ControlFlow::Continue(())
    }
    fn text(&mut self, _path: &XmlPath<'d>, _text: &'d str) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
    fn captured(&mut self, _path: &XmlPath<'d>, _content: &'d str) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
}

fuzz_target!(|input: &str| {
    let doc = document_text(input);
    let _ = has_declarations(&doc);
    let _ = walk(&doc, 16, &mut Check(input.len() % 2 == 0));
    let _ = decode_utf7(input);
});
