//! A DICOM Part 10 file as STOW-RS receives it, read into the DICOM JSON model.
#![no_main]

use libfuzzer_sys::fuzz_target;

/// The inflation cap of a department with the default largest instance (256 MiB, times 2).
const MAX_INFLATED: usize = 512 * 1024 * 1024;

fuzz_target!(|data: &[u8]| {
    let base = |s: &str, se: &str, i: &str| format!("/studies/{s}/series/{se}/instances/{i}");
    let _ = wardgate_departments::dicom::read_instance(data, MAX_INFLATED, &base);
});
