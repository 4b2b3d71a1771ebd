//! Stored deployments. Owned by the deployments work.
