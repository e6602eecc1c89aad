//! The seam to the built-in department services (the departments crate implements it).

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use http::{Request, Response};

/// The future a [`DepartmentService`] returns.
pub type DepartmentResponse<'a> = Pin<Box<dyn Future<Output = Response<Bytes>> + Send + 'a>>;

/// A department answered in process (`upstream = "builtin"`). The gateway has already done
/// every check; the request's path is relative to the department (`/fhir/Patient/1`,
/// `/dicom-web/studies`), its body is whole (within the route's limit), and it carries
/// `X-Request-Id`.
pub trait DepartmentService: Send + Sync + 'static {
    /// Answer `request` for `department`.
    fn handle<'a>(&'a self, department: &'a str, request: Request<Bytes>)
    -> DepartmentResponse<'a>;
}
