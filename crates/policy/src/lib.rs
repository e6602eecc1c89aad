//! The central policy: departments, zones, roles, routes, limits; load, validate, reload.
#![forbid(unsafe_code)]
