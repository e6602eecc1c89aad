//! A department as a service: its store, its keys, and the entry point the gateway calls.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use bytes::Bytes;
use http::{Request, Response, StatusCode};

use crate::config::DepartmentConfig;
use crate::crypto::{Keyring, MasterKey};
use crate::fhir::FhirError;
use crate::keys::{KEYRING_REFRESH, KeyError, open_keyring, reload_keyring};
use crate::store::{DepartmentStore, PostgresStore, SqliteStore, StoreError};

/// A boxed response future.
pub type ResponseFuture<'a> = Pin<Box<dyn Future<Output = Response<Bytes>> + Send + 'a>>;

/// The seam the gateway's `forward` phase calls for a department whose upstream is `builtin`:
/// a request with a path relative to the department (`/fhir/Patient/1`,
/// `/dicom-web/studies`), answered in process.
pub trait DepartmentService: Send + Sync {
    /// Answer `req` for `department`.
    fn handle<'a>(&'a self, department: &'a str, req: Request<Bytes>) -> ResponseFuture<'a>;
}

/// Where departments keep their data.
#[derive(Debug, Clone)]
pub enum StoreConfig {
    /// One SQLite file per department: `<data_dir>/departments/<name>.db`.
    Sqlite {
        /// The data directory.
        data_dir: PathBuf,
    },
    /// One PostgreSQL schema per department: `<schema_prefix><name>`.
    Postgres {
        /// The connection URL.
        url: String,
        /// The prefix of each department's schema name, e.g. `wardgate_`.
        schema_prefix: String,
    },
}

impl StoreConfig {
    /// Open the store of one department.
    pub async fn open(&self, department: &str) -> Result<Arc<dyn DepartmentStore>, StoreError> {
        if !crate::store::is_department_name(department) {
            return Err(StoreError::Config(format!(
                "'{department}' is not a department name (lowercase letters, digits, '_')"
            )));
        }
        Ok(match self {
            StoreConfig::Sqlite { data_dir } => {
                Arc::new(SqliteStore::open(&sqlite_path(data_dir, department)).await?)
            }
            StoreConfig::Postgres { url, schema_prefix } => Arc::new(
                PostgresStore::connect(url, &format!("{schema_prefix}{department}")).await?,
            ),
        })
    }
}

/// The SQLite file of a department.
pub fn sqlite_path(data_dir: &Path, department: &str) -> PathBuf {
    data_dir
        .join("departments")
        .join(format!("{department}.db"))
}

/// A failure to start a department.
#[derive(Debug, thiserror::Error)]
pub enum DepartmentError {
    /// Its store could not be opened.
    #[error("store of department {department}: {source}")]
    Store {
        /// The department.
        department: String,
        /// Why.
        source: StoreError,
    },
    /// Its keys could not be loaded.
    #[error("keys of department {department}: {source}")]
    Keys {
        /// The department.
        department: String,
        /// Why.
        source: KeyError,
    },
}

/// One department: its configuration, its own store and its own keys, nothing else.
pub struct Department {
    config: DepartmentConfig,
    store: Arc<dyn DepartmentStore>,
    // The master key is kept to unwrap a rotated data key without a restart.
    master: Arc<MasterKey>,
    keyring: RwLock<(Arc<Keyring>, Instant)>,
}

impl std::fmt::Debug for Department {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Department")
            .field("name", &self.config.name)
            .finish()
    }
}

impl Department {
    /// Start a department on its store, creating its keys on first use.
    pub async fn open(
        config: DepartmentConfig,
        store: Arc<dyn DepartmentStore>,
        master: Arc<MasterKey>,
    ) -> Result<Self, DepartmentError> {
        let keyring = open_keyring(store.as_ref(), &master, &config.name)
            .await
            .map_err(|source| DepartmentError::Keys {
                department: config.name.clone(),
                source,
            })?;
        Ok(Department {
            config,
            store,
            master,
            keyring: RwLock::new((Arc::new(keyring), Instant::now())),
        })
    }

    /// The department's configuration.
    pub fn config(&self) -> &DepartmentConfig {
        &self.config
    }

    /// The department's store.
    pub fn store(&self) -> &dyn DepartmentStore {
        self.store.as_ref()
    }

    /// The keyring, re-read from the store when older than [`KEYRING_REFRESH`].
    pub async fn keyring(&self) -> Result<Arc<Keyring>, FhirError> {
        let (ring, loaded) = match self.keyring.read() {
            Ok(guard) => (guard.0.clone(), guard.1),
            Err(_) => return Err(FhirError::internal()),
        };
        if loaded.elapsed() < KEYRING_REFRESH {
            return Ok(ring);
        }
        match self.refreshed_keyring().await {
            Ok(fresh) => Ok(fresh),
            Err(_) => {
                // The keys in memory still work (e.g. the master key was rotated and this
                // process runs with the previous one until restarted): keep serving.
                if let Ok(mut guard) = self.keyring.write() {
                    guard.1 = Instant::now();
                }
                Ok(ring)
            }
        }
    }

    /// Re-read the keyring now.
    pub async fn refreshed_keyring(&self) -> Result<Arc<Keyring>, FhirError> {
        let ring = reload_keyring(self.store.as_ref(), &self.master, &self.config.name)
            .await
            .map_err(|e| {
                crate::fhir::response_log(&e);
                FhirError::internal()
            })?;
        let ring = Arc::new(ring);
        if let Ok(mut guard) = self.keyring.write() {
            *guard = (ring.clone(), Instant::now());
        }
        Ok(ring)
    }

    /// Answer one request whose path is relative to the department.
    pub async fn handle(&self, req: Request<Bytes>) -> Response<Bytes> {
        let (parts, body) = req.into_parts();
        let path = parts.uri.path();
        let query = parts.uri.query();
        if let Some(rest) = strip_segment(path, "/fhir") {
            return crate::fhir::handle(self, &parts.method, rest, query, &parts.headers, body)
                .await;
        }
        if let Some(rest) = strip_segment(path, "/dicom-web")
            && self.config.dicom
        {
            return crate::dicom::handle(self, &parts.method, rest, query, &parts.headers, body)
                .await;
        }
        FhirError::new(
            StatusCode::NOT_FOUND,
            wardgate_fhir::outcome::IssueCode::NotFound,
            "wardgate.departments.unknown-path",
            "this department offers /fhir and, for imaging, /dicom-web",
        )
        .into_response()
    }
}

fn strip_segment<'a>(path: &'a str, segment: &str) -> Option<&'a str> {
    let rest = path.strip_prefix(segment)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

/// The built-in departments of one gateway, by name.
#[derive(Debug, Default)]
pub struct Departments {
    by_name: HashMap<String, Arc<Department>>,
}

impl Departments {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Start every configured department, each on its own store.
    pub async fn open(
        configs: Vec<DepartmentConfig>,
        stores: &StoreConfig,
        master: Arc<MasterKey>,
    ) -> Result<Self, DepartmentError> {
        let mut departments = Departments::new();
        for config in configs {
            let name = config.name.clone();
            let store = stores
                .open(&name)
                .await
                .map_err(|source| DepartmentError::Store {
                    department: name.clone(),
                    source,
                })?;
            departments.insert(Department::open(config, store, master.clone()).await?);
        }
        Ok(departments)
    }

    /// Add a department.
    pub fn insert(&mut self, department: Department) {
        self.by_name
            .insert(department.config.name.clone(), Arc::new(department));
    }

    /// One department.
    pub fn get(&self, name: &str) -> Option<&Arc<Department>> {
        self.by_name.get(name)
    }
}

impl DepartmentService for Departments {
    fn handle<'a>(&'a self, department: &'a str, req: Request<Bytes>) -> ResponseFuture<'a> {
        Box::pin(async move {
            match self.by_name.get(department) {
                Some(dept) => dept.handle(req).await,
                None => FhirError::new(
                    StatusCode::NOT_FOUND,
                    wardgate_fhir::outcome::IssueCode::NotFound,
                    "wardgate.departments.unknown-department",
                    "no such department",
                )
                .into_response(),
            }
        })
    }
}
