//! The streaming JSON reader: never panics, respects the depth limit, paths render.
#![no_main]

use std::borrow::Cow;
use std::ops::ControlFlow;

use libfuzzer_sys::fuzz_target;
use wardgate_waf::extract::json::{JsonAnomaly, JsonPath, JsonVisitor, walk};

struct Check {
    max_depth: usize,
    rendered: String,
}

impl<'b> JsonVisitor<'b> for Check {
    fn key(&mut self, path: &JsonPath<'b>, _key: &str) -> ControlFlow<()> {
        assert!(path.len() <= 2 * self.max_depth + 1);
        self.rendered.clear();
        path.render_into(&mut self.rendered);
        ControlFlow::Continue(())
    }
    fn string(&mut self, path: &JsonPath<'b>, value: Cow<'b, str>) -> ControlFlow<()> {
        assert!(path.len() <= 2 * self.max_depth + 1);
        let _ = path.element();
        let _ = path.parent_element();
        let _ = value.len();
        ControlFlow::Continue(())
    }
    fn anomaly(&mut self, _anomaly: JsonAnomaly) {}
}

fuzz_target!(|input: &str| {
    let mut check = Check {
        max_depth: 16,
        rendered: String::new(),
    };
    let _ = walk(input, 16, &mut check);
});
