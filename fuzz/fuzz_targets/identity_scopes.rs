//! SMART scope strings: never panic; a parsed set prints to a string that parses back to the
//! same set; a grant never exceeds its ceiling.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wardgate_identity::scopes::ScopeSet;

fuzz_target!(|input: &str| {
    let Ok(set) = ScopeSet::parse(input) else { return };
    let printed = set.to_string();
    let again = ScopeSet::parse(&printed).expect("a printed scope set parses");
    assert_eq!(again, set);
    let ceiling = ScopeSet::parse("user/Patient.rs user/Observation.cruds").expect("valid");
    let granted = set.grant(&ceiling);
    for scope in &granted.clinical {
        let ty = scope.resource.as_deref().unwrap_or("Observation");
        for letter in ['c', 'r', 'u', 'd', 's'] {
            if scope.covers(ty, letter) {
                assert!(ceiling.covering(ty, letter).is_some(), "{scope} exceeds the ceiling");
            }
        }
    }
});
