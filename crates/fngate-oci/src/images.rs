//! What an OCI function's `image` names: a code bundle fngate already has.
//!
//! THE ONE PLACE that maps OCI images to fngate code: the bundle `fngate deploy` uploaded and
//! the function row's `deployment` records (code + language environment). Its names:
//! - `image`: the string `fngate deploy` prints and stores, `<function name>:<version>`
//!   (e.g. `python-func:0.0.2`), the same string the Fn API shows as `image`;
//! - `imageDigest`: the stored bundle's digest, `sha256:<hex>` of its canonical tar.gz (the
//!   digest `fngate deploy` prints); for deployments from before bundles, `sha256:<hex>` over the
//!   code (every file's relative path and bytes, in path order). Either names the content, not
//!   where the server keeps it.
//!
//! An image is resolved against every deployed function; when one `image` string names bundles
//! of different content (two apps deployed different code under the same name and version),
//! `imageDigest` picks one, and without it the request is refused as ambiguous.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use fngate_functions::Runtime;

use crate::error::{OciError, OciResult};

/// A resolved image: what to store as the new function's `deployment`.
#[derive(Debug, Clone)]
pub struct Image {
    pub image: String,
    pub digest: String,
    /// The `fn_fns.deployment` JSON that runs this code.
    pub deployment: String,
}

/// Digests of code snapshots (immutable once written), by directory.
#[derive(Default)]
pub struct Images {
    digests: Mutex<HashMap<PathBuf, String>>,
}

impl Images {
    /// The digest of a function's deployed code, if it has any.
    pub async fn digest_of_fn(&self, rt: &Runtime, fn_id: &str) -> Option<String> {
        let code_dir = rt
            .snapshot()
            .fns
            .get(fn_id)?
            .deployment
            .as_ref()
            .map(|d| (d.code_dir.clone(), d.bundle.clone()))?;
        match code_dir {
            (_, Some(bundle)) => Some(bundle),
            (code_dir, None) => self.digest(&code_dir).await,
        }
    }

    /// Finds the bundle `image` (and `digest`, when given) names.
    pub async fn resolve(&self, rt: &Runtime, image: &str, digest: Option<&str>) -> OciResult<Image> {
        let candidates: Vec<(PathBuf, Option<String>, String)> = rt
            .snapshot()
            .fns
            .values()
            .filter(|entry| entry.f.image == image)
            .filter_map(|entry| {
                let deployment = entry.deployment.as_ref()?;
                Some((
                    deployment.code_dir.clone(),
                    deployment.bundle.clone(),
                    serde_json::to_string(deployment).ok()?,
                ))
            })
            .collect();
        let mut found: Vec<Image> = Vec::new();
        for (code_dir, bundle, deployment) in candidates {
            let bundle_digest = match bundle {
                Some(bundle) => bundle,
                None => match self.digest(&code_dir).await {
                    Some(digest) => digest,
                    None => continue,
                },
            };
            if digest.is_some_and(|wanted| wanted != bundle_digest) {
                continue;
            }
            if !found.iter().any(|f| f.digest == bundle_digest) {
                found.push(Image {
                    image: image.to_string(),
                    digest: bundle_digest,
                    deployment,
                });
            }
        }
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => Err(OciError::new(
                http::StatusCode::NOT_FOUND,
                "NotAuthorizedOrNotFound",
                match digest {
                    Some(d) => format!(
                        "image {image:?} with imageDigest {d} is not one fngate has; deploy the code with `fngate deploy` (images are named <function>:<version>, as it prints)"
                    ),
                    None => format!(
                        "image {image:?} is not one fngate has; deploy the code with `fngate deploy` (images are named <function>:<version>, as it prints)"
                    ),
                },
            )),
            n => Err(OciError::invalid(format!(
                "image {image:?} names {n} different code bundles ({}); pass imageDigest to pick one",
                found.iter().map(|f| f.digest.as_str()).collect::<Vec<_>>().join(", ")
            ))),
        }
    }

    async fn digest(&self, code_dir: &Path) -> Option<String> {
        if let Some(known) = self.digests.lock().ok()?.get(code_dir) {
            return Some(known.clone());
        }
        let dir = code_dir.to_path_buf();
        let digest = tokio::task::spawn_blocking(move || digest_dir(&dir)).await.ok()?;
        match digest {
            Ok(digest) => {
                if let Ok(mut known) = self.digests.lock() {
                    known.insert(code_dir.to_path_buf(), digest.clone());
                }
                Some(digest)
            }
            Err(err) => {
                tracing::warn!(target: "fngate::oci", dir = %code_dir.display(), error = %err, "cannot read deployed code for its digest");
                None
            }
        }
    }
}

/// `sha256:<hex>` over every file below `dir`: relative path, NUL, length, bytes, in path order.
pub fn digest_dir(dir: &Path) -> std::io::Result<String> {
    let mut files = Vec::new();
    collect(dir, dir, &mut files)?;
    files.sort();
    let mut context = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for relative in files {
        let bytes = std::fs::read(dir.join(&relative))?;
        context.update(relative.as_bytes());
        context.update(&[0]);
        context.update(&(bytes.len() as u64).to_le_bytes());
        context.update(&bytes);
    }
    let hex: String = context.finish().as_ref().iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("sha256:{hex}"))
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            collect(root, &entry.path(), out)?;
        } else if kind.is_file() {
            let path = entry.path();
            let relative = path.strip_prefix(root).unwrap_or(&path);
            out.push(relative.to_string_lossy().into_owned());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_follows_content_not_location() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        for dir in [a.path(), b.path()] {
            std::fs::write(dir.join("func.py"), "print(1)\n").unwrap();
            std::fs::create_dir(dir.join("lib")).unwrap();
            std::fs::write(dir.join("lib/x.py"), "x = 1\n").unwrap();
        }
        let first = digest_dir(a.path()).unwrap();
        assert!(first.starts_with("sha256:") && first.len() == 7 + 64, "{first}");
        assert_eq!(first, digest_dir(b.path()).unwrap(), "same files, another directory");
        std::fs::write(b.path().join("lib/x.py"), "x = 2\n").unwrap();
        assert_ne!(first, digest_dir(b.path()).unwrap(), "one byte changed");
    }
}
