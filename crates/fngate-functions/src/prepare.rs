//! Deploy-time preparation: a language environment
//! (Python venv with requirements.txt installed, or Node `npm install`) shared by every function
//! whose dependency files, runtime and layout hash the same. The installers run in the function
//! sandbox (as the build uid when fngate is root), with only the new environment writable.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use nix::fcntl::{Flock, FlockArg};

use crate::lang::Lang;
use crate::sandbox::{BuildRequest, Layout, Sandbox};

pub(crate) const READY_MARKER: &str = ".fngate-ready";
/// The key of an environment: language, interpreter, layout and the dependency files' contents.
pub fn env_key(lang: Lang, interpreter: &Path, layout: Layout, code_dir: &Path) -> anyhow::Result<String> {
    let mut digest = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    digest.update(format!("{lang:?}\0{}\0", interpreter.display()).as_bytes());
    if layout == Layout::Fn {
        // Host-layout keys stay what they were before layouts existed.
        digest.update(b"layout=fn\0");
    }
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

/// The interpreter a deployment runs: its real executable and the install directories outside
/// `/usr` the sandbox must show read-only (pyenv, nvm, /opt builds).
#[derive(Debug, Clone)]
pub struct Interpreter {
    pub executable: PathBuf,
    pub runtime_dirs: Vec<PathBuf>,
}

/// Finds `name` (`python3.12`, `node`) on fngate's PATH and resolves it past shims and symlinks.
pub fn resolve_interpreter(lang: Lang, name: &str) -> anyhow::Result<Interpreter> {
    let found = crate::lang::find_in_path(name).with_context(|| format!("{name} is not installed (not on PATH)"))?;
    let (executable, prefix) = match lang {
        Lang::Python => {
            // A pyenv shim is a script; the interpreter itself says where it lives.
            let output = Command::new(&found)
                .args([
                    "-I",
                    "-c",
                    "import os, sys; print(os.path.realpath(sys.executable)); print(sys.base_prefix)",
                ])
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .env("HOME", std::env::var_os("HOME").unwrap_or_default())
                .stdin(std::process::Stdio::null())
                .output()
                .with_context(|| format!("cannot run {}", found.display()))?;
            if !output.status.success() {
                bail!(
                    "{} failed: {}",
                    found.display(),
                    String::from_utf8_lossy(&output.stderr).trim()
                );
            }
            let text = String::from_utf8_lossy(&output.stdout).into_owned();
            let mut lines = text.lines();
            let executable = PathBuf::from(lines.next().unwrap_or_default());
            let prefix = PathBuf::from(lines.next().unwrap_or_default());
            (executable, prefix)
        }
        Lang::Node => {
            let executable = std::fs::canonicalize(&found)?;
            let prefix = executable
                .parent()
                .and_then(Path::parent)
                .map(Path::to_path_buf)
                .unwrap_or_default();
            (executable, prefix)
        }
    };
    if !executable.is_absolute() || !prefix.is_absolute() {
        bail!("cannot tell where {name} is installed");
    }
    let system = ["/usr", "/bin", "/lib"].iter().any(|d| prefix.starts_with(d)) || prefix == Path::new("/");
    Ok(Interpreter {
        executable,
        runtime_dirs: if system { Vec::new() } else { vec![prefix] },
    })
}

/// Prepares (or reuses) the environment for `code_dir` under `envs_root`; `progress` gets one
/// line per step; the flag says whether an existing environment was reused. Concurrent deploys
/// of the same environment wait on a file lock.
pub fn prepare_env(
    sandbox: &Sandbox,
    lang: Lang,
    interpreter: &Interpreter,
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
    let layout = sandbox.layout();
    let key = env_key(lang, &interpreter.executable, layout, code_dir)?;
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
    std::fs::create_dir_all(&env_dir).with_context(|| format!("cannot create {}", env_dir.display()))?;
    let build = Build {
        sandbox,
        lang,
        layout,
        interpreter,
        code_dir,
        env_dir: &env_dir,
    };
    let built = match lang {
        Lang::Python => build.python(progress),
        Lang::Node => build.node(progress),
    };
    if let Err(err) = built {
        let _ = std::fs::remove_dir_all(&env_dir);
        return Err(err);
    }
    std::fs::write(env_dir.join(READY_MARKER), key.as_bytes()).context("cannot mark the environment ready")?;
    Ok((env_dir, key, false))
}

struct Build<'a> {
    sandbox: &'a Sandbox,
    lang: Lang,
    layout: Layout,
    interpreter: &'a Interpreter,
    code_dir: &'a Path,
    env_dir: &'a Path,
}

impl Build<'_> {
    /// (code, environment) as the installer sees them.
    fn seen(&self) -> (PathBuf, PathBuf) {
        self.layout.seen_paths(self.lang, self.code_dir, self.env_dir)
    }

    fn python(&self, progress: &dyn Fn(String)) -> anyhow::Result<()> {
        let (code, env) = self.seen();
        progress(format!(
            "Creating a Python virtual environment ({} -m venv)",
            self.interpreter.executable.display()
        ));
        self.run(
            vec![
                self.interpreter.executable.display().to_string(),
                "-m".into(),
                "venv".into(),
                env.display().to_string(),
            ],
            false,
            "python3 -m venv",
        )?;
        progress("Installing requirements.txt (pip install -r requirements.txt)".into());
        self.run(
            vec![
                env.join("bin/pip").display().to_string(),
                "install".into(),
                "--disable-pip-version-check".into(),
                "--no-input".into(),
                "-q".into(),
                "-r".into(),
                code.join("requirements.txt").display().to_string(),
            ],
            false,
            "pip install -r requirements.txt",
        )?;
        if !self.env_dir.join("bin").join("fdk").is_file() {
            bail!(
                "requirements.txt did not install the fdk (the `fdk` command is missing); add `fdk` to requirements.txt"
            );
        }
        Ok(())
    }

    fn node(&self, progress: &dyn Fn(String)) -> anyhow::Result<()> {
        for file in Lang::Node.dependency_files() {
            let src = self.code_dir.join(file);
            if src.is_file() {
                std::fs::copy(&src, self.env_dir.join(file)).with_context(|| format!("cannot copy {file}"))?;
            }
        }
        progress("Installing dependencies (npm install)".into());
        let npm = crate::lang::find_in_path("npm").context("npm is not installed (not on PATH)")?;
        let npm = std::fs::canonicalize(&npm).unwrap_or(npm);
        self.run(
            vec![
                npm.display().to_string(),
                "install".into(),
                "--no-audit".into(),
                "--no-fund".into(),
                "--omit=dev".into(),
                "--loglevel=error".into(),
            ],
            true,
            "npm install",
        )?;
        if !self.env_dir.join("node_modules/@fnproject/fdk").is_dir() {
            bail!("package.json did not install @fnproject/fdk; add it to \"dependencies\"");
        }
        Ok(())
    }

    /// Runs one installer command in the sandbox; on failure the error carries the tool's own
    /// error lines.
    fn run(&self, command: Vec<String>, in_env_dir: bool, what: &str) -> anyhow::Result<()> {
        let request = BuildRequest {
            lang: self.lang,
            layout: self.layout,
            code_dir: self.code_dir,
            env_dir: self.env_dir,
            runtime_dirs: &self.interpreter.runtime_dirs,
            command,
            in_env_dir,
            env: Vec::new(),
        };
        let output = self
            .sandbox
            .run_build(&request)
            .with_context(|| format!("cannot run {what}"))?;
        if output.success {
            return Ok(());
        }
        let text = format!(
            "{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let errors: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("ERROR") || l.contains("ERR!") || l.starts_with("fngate-sandbox:"))
            .collect();
        let lines: Vec<&str> = if errors.is_empty() {
            let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
            all[all.len().saturating_sub(10)..].to_vec()
        } else {
            errors
        };
        bail!("{what} failed ({}):\n{}", output.status, lines.join("\n"))
    }
}
