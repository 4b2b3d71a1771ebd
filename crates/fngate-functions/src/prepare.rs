//! Deploy-time preparation: a snapshot of the function directory, and a language environment
//! (Python venv with requirements.txt installed, or Node `npm install`) shared by every function
//! whose dependency files and runtime hash the same.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use nix::fcntl::{Flock, FlockArg};

use crate::lang::Lang;

const READY_MARKER: &str = ".fngate-ready";
/// Directories never copied into a snapshot (local build output and VCS data).
const SKIP: [&str; 5] = [".git", "node_modules", ".venv", "__pycache__", ".pip_cache"];

/// Copies `src` into a new directory under `code_root`; returns its path.
pub fn snapshot(src: &Path, code_root: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(code_root).with_context(|| format!("cannot create {}", code_root.display()))?;
    let dest = code_root.join(crate::model::new_id().to_lowercase());
    copy_dir(src, &dest).with_context(|| format!("cannot copy {} to {}", src.display(), dest.display()))?;
    Ok(dest)
}

fn copy_dir(src: &Path, dest: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dest)?;
    for entry in std::fs::read_dir(src)? {
        let entry = entry?;
        let name = entry.file_name();
        if SKIP.iter().any(|skip| name == *skip) {
            continue;
        }
        let kind = entry.file_type()?;
        let target = dest.join(&name);
        if kind.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target)?;
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path())?, &target)?;
        }
    }
    Ok(())
}

/// The key of an environment: language, interpreter and the dependency files' contents.
pub fn env_key(lang: Lang, interpreter: &str, code_dir: &Path) -> anyhow::Result<String> {
    let mut digest = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    digest.update(format!("{lang:?}\0{interpreter}\0").as_bytes());
    for file in lang.dependency_files() {
        match std::fs::read(code_dir.join(file)) {
            Ok(bytes) => {
                digest.update(file.as_bytes());
                digest.update(&(bytes.len() as u64).to_le_bytes());
                digest.update(&bytes);
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(err).with_context(|| format!("cannot read {file}")),
        }
    }
    Ok(hex::encode(&digest.finish().as_ref()[..16]))
}

/// Prepares (or reuses) the environment for `code_dir` under `envs_root`; `progress` gets one
/// line per step; the flag says whether an existing environment was reused. Concurrent deploys of the same environment wait on a file lock.
pub fn prepare_env(
    lang: Lang,
    interpreter: &str,
    code_dir: &Path,
    envs_root: &Path,
    progress: &dyn Fn(String),
) -> anyhow::Result<(PathBuf, String, bool)> {
    match lang {
        Lang::Python if !code_dir.join("requirements.txt").is_file() => {
            bail!(
                "requirements.txt is missing: the Python runtime installs the fdk from it (run `fngate init` for an example)"
            )
        }
        Lang::Node if !code_dir.join("package.json").is_file() => {
            bail!(
                "package.json is missing: the Node runtime installs @fnproject/fdk from it (run `fngate init` for an example)"
            )
        }
        _ => {}
    }
    let key = env_key(lang, interpreter, code_dir)?;
    std::fs::create_dir_all(envs_root).with_context(|| format!("cannot create {}", envs_root.display()))?;
    let env_dir = envs_root.join(&key);
    let lock_path = envs_root.join(format!("{key}.lock"));
    let lock_file =
        std::fs::File::create(&lock_path).with_context(|| format!("cannot create {}", lock_path.display()))?;
    let _lock = Flock::lock(lock_file, FlockArg::LockExclusive)
        .map_err(|(_, errno)| anyhow::anyhow!("cannot lock {}: {errno}", lock_path.display()))?;
    if env_dir.join(READY_MARKER).is_file() {
        progress(format!(
            "Reusing the prepared environment {key} (dependencies unchanged)"
        ));
        return Ok((env_dir, key, true));
    }
    // A half-built environment from an interrupted deploy.
    let _ = std::fs::remove_dir_all(&env_dir);
    let built = match lang {
        Lang::Python => build_python(interpreter, code_dir, &env_dir, progress),
        Lang::Node => build_node(code_dir, &env_dir, progress),
    };
    if let Err(err) = built {
        let _ = std::fs::remove_dir_all(&env_dir);
        return Err(err);
    }
    std::fs::write(env_dir.join(READY_MARKER), key.as_bytes()).context("cannot mark the environment ready")?;
    Ok((env_dir, key, false))
}

fn build_python(interpreter: &str, code_dir: &Path, env_dir: &Path, progress: &dyn Fn(String)) -> anyhow::Result<()> {
    progress(format!("Creating a Python virtual environment ({interpreter} -m venv)"));
    run(
        Command::new(interpreter).arg("-m").arg("venv").arg(env_dir),
        "python3 -m venv",
    )?;
    progress("Installing requirements.txt (pip install -r requirements.txt)".into());
    run(
        Command::new(env_dir.join("bin").join("pip"))
            .args(["install", "--disable-pip-version-check", "--no-input", "-q", "-r"])
            .arg(code_dir.join("requirements.txt")),
        "pip install -r requirements.txt",
    )?;
    if !env_dir.join("bin").join("fdk").is_file() {
        bail!("requirements.txt did not install the fdk (the `fdk` command is missing); add `fdk` to requirements.txt");
    }
    Ok(())
}

fn build_node(code_dir: &Path, env_dir: &Path, progress: &dyn Fn(String)) -> anyhow::Result<()> {
    std::fs::create_dir_all(env_dir)?;
    for file in Lang::Node.dependency_files() {
        let src = code_dir.join(file);
        if src.is_file() {
            std::fs::copy(&src, env_dir.join(file)).with_context(|| format!("cannot copy {file}"))?;
        }
    }
    progress("Installing dependencies (npm install)".into());
    run(
        Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--omit=dev", "--loglevel=error"])
            .current_dir(env_dir),
        "npm install",
    )?;
    if !env_dir.join("node_modules/@fnproject/fdk").is_dir() {
        bail!("package.json did not install @fnproject/fdk; add it to \"dependencies\"");
    }
    Ok(())
}

/// Runs a preparation command; on failure the error carries the tool's own error lines.
fn run(command: &mut Command, what: &str) -> anyhow::Result<()> {
    let output = command
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("cannot run {what}"))?;
    if output.status.success() {
        return Ok(());
    }
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let errors: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("ERROR") || l.contains("ERR!"))
        .collect();
    let lines: Vec<&str> = if errors.is_empty() {
        let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        all[all.len().saturating_sub(10)..].to_vec()
    } else {
        errors
    };
    bail!("{what} failed ({}):\n{}", output.status, lines.join("\n"))
}
