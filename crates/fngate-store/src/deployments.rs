//! Stored API deployments: name, path prefix and the specification exactly as the user wrote it.
//!
//! The gateway parses and validates the text before it is stored, and again when it loads at
//! start; keeping the original text (JSON or YAML) means `show` returns what the user deployed.

use crate::{Result, Store, StoreError, now_rfc3339};

/// One stored deployment.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct DeploymentRecord {
    pub name: String,
    pub path_prefix: String,
    /// `json` or `yaml`.
    pub spec_format: String,
    pub spec_text: String,
    pub created_at: String,
    pub updated_at: String,
}

/// What `put_deployment` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    Created,
    Updated,
}

impl Store {
    /// Creates or replaces the deployment called `name`. A path prefix already used by another
    /// deployment is a `Conflict`.
    pub async fn put_deployment(
        &self,
        name: &str,
        path_prefix: &str,
        spec_format: &str,
        spec_text: &str,
    ) -> Result<(PutOutcome, DeploymentRecord)> {
        let now = now_rfc3339();
        let mut tx = self.pool().begin().await?;
        let existing: Option<String> = on_tx!(&mut tx, conn => sqlx::query_scalar("SELECT created_at FROM deployments WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *conn).await)?;
        let taken: Option<String> = on_tx!(&mut tx, conn => sqlx::query_scalar("SELECT name FROM deployments WHERE path_prefix = $1 AND name <> $2")
                .bind(path_prefix)
                .bind(name)
                .fetch_optional(&mut *conn).await)?;
        if let Some(other) = taken {
            return Err(StoreError::Conflict {
                entity: format!("path prefix {path_prefix} (used by deployment {other:?})"),
            });
        }
        let outcome = match &existing {
            Some(_) => {
                on_tx!(&mut tx, conn => sqlx::query(
                    "UPDATE deployments SET path_prefix = $1, spec_format = $2, spec_text = $3, updated_at = $4 WHERE name = $5",
                )
                .bind(path_prefix)
                .bind(spec_format)
                .bind(spec_text)
                .bind(&now)
                .bind(name)
                .execute(&mut *conn).await.map(|r| r.rows_affected()))?;
                PutOutcome::Updated
            }
            None => {
                on_tx!(&mut tx, conn => sqlx::query(
                    "INSERT INTO deployments (name, path_prefix, spec_format, spec_text, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(name)
                .bind(path_prefix)
                .bind(spec_format)
                .bind(spec_text)
                .bind(&now)
                .bind(&now)
                .execute(&mut *conn).await.map(|r| r.rows_affected()))
                .map_err(|err| StoreError::from_insert(err, format!("deployment {name}")))?;
                PutOutcome::Created
            }
        };
        tx.commit().await?;
        let record = DeploymentRecord {
            name: name.to_string(),
            path_prefix: path_prefix.to_string(),
            spec_format: spec_format.to_string(),
            spec_text: spec_text.to_string(),
            created_at: existing.unwrap_or_else(|| now.clone()),
            updated_at: now,
        };
        Ok((outcome, record))
    }

    pub async fn get_deployment(&self, name: &str) -> Result<DeploymentRecord> {
        on_db!(self.pool(), pool => sqlx::query_as::<_, DeploymentRecord>(
            "SELECT name, path_prefix, spec_format, spec_text, created_at, updated_at FROM deployments WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(pool).await)?
        .ok_or_else(|| StoreError::NotFound {
            entity: format!("deployment {name}"),
        })
    }

    /// All deployments, by name.
    pub async fn list_deployments(&self) -> Result<Vec<DeploymentRecord>> {
        Ok(on_db!(self.pool(), pool => sqlx::query_as::<_, DeploymentRecord>(
            "SELECT name, path_prefix, spec_format, spec_text, created_at, updated_at FROM deployments ORDER BY name",
        )
        .fetch_all(pool).await)?)
    }

    pub async fn delete_deployment(&self, name: &str) -> Result<()> {
        let done = on_db!(self.pool(), pool => sqlx::query("DELETE FROM deployments WHERE name = $1")
            .bind(name)
            .execute(pool).await.map(|r| r.rows_affected()))?;
        if done == 0 {
            return Err(StoreError::NotFound {
                entity: format!("deployment {name}"),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn put_get_list_delete_round_trip(store: &crate::Store) {
        let (outcome, first) = store
            .put_deployment("api", "/v1", "json", "{\"routes\":[]}")
            .await
            .unwrap();
        assert_eq!(outcome, PutOutcome::Created);
        let (outcome, second) = store
            .put_deployment("api", "/v1", "yaml", "routes: []\n")
            .await
            .unwrap();
        assert_eq!(outcome, PutOutcome::Updated);
        assert_eq!(second.created_at, first.created_at);
        let got = store.get_deployment("api").await.unwrap();
        assert_eq!(got.spec_text, "routes: []\n");
        assert_eq!(got.spec_format, "yaml");
        assert_eq!(store.list_deployments().await.unwrap().len(), 1);
        store.delete_deployment("api").await.unwrap();
        assert!(matches!(
            store.get_deployment("api").await,
            Err(StoreError::NotFound { .. })
        ));
        assert!(matches!(
            store.delete_deployment("api").await,
            Err(StoreError::NotFound { .. })
        ));
    }

    async fn a_path_prefix_belongs_to_one_deployment(store: &crate::Store) {
        store.put_deployment("a", "/v1", "json", "{}").await.unwrap();
        let err = store.put_deployment("b", "/v1", "json", "{}").await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
        // Nothing stored was lost.
        assert_eq!(store.get_deployment("a").await.unwrap().path_prefix, "/v1");
    }

    on_both_backends!(put_get_list_delete_round_trip, a_path_prefix_belongs_to_one_deployment);
}
