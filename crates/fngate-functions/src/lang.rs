//! Language runtimes fngate can run without containers, and what `fn init` writes for them.

use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Python,
    Node,
}

impl Lang {
    /// Maps a func.yaml `runtime` to a language, or says why fngate cannot run it.
    pub fn for_runtime(runtime: &str) -> Result<Lang, String> {
        let versioned = |prefix: &str| {
            runtime
                .strip_prefix(prefix)
                .is_some_and(|rest| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit() || c == '.'))
        };
        match runtime {
            "python" => Ok(Lang::Python),
            "python3.7.1" | "python3.8" | "python3.8.5" | "python3.9" => Err(format!(
                "runtime {runtime:?} is deprecated (as in the Fn CLI); use python, python3.11 or python3.12"
            )),
            _ if versioned("python") => Ok(Lang::Python),
            "node" => Ok(Lang::Node),
            _ if versioned("node") => Ok(Lang::Node),
            "docker" => Err(
                "runtime \"docker\" builds a container image, and fngate runs functions as processes without \
                 Docker; use runtime python or node"
                    .into(),
            ),
            other => Err(format!(
                "runtime {other:?} is not supported by fngate (supported: python, python3.11, python3.12, node, \
                 node22, node24)"
            )),
        }
    }

    /// The container command the Fn image would run when func.yaml sets none.
    pub fn default_entrypoint(self) -> &'static str {
        match self {
            Lang::Python => "/python/bin/fdk /function/func.py handler",
            Lang::Node => "node func.js",
        }
    }

    /// The dependency files that define the prepared environment.
    pub fn dependency_files(self) -> &'static [&'static str] {
        match self {
            Lang::Python => &["requirements.txt"],
            Lang::Node => &["package.json", "package-lock.json"],
        }
    }

    /// The interpreter to build the environment with: `python3.12` for `runtime: python3.12` when
    /// installed, else `python3`; `node` for Node.
    pub fn interpreter(self, runtime: &str) -> String {
        match self {
            Lang::Python => {
                let wanted = runtime.strip_prefix("python").filter(|v| !v.is_empty());
                if let Some(version) = wanted {
                    let candidate = format!("python{version}");
                    if find_in_path(&candidate).is_some() {
                        return candidate;
                    }
                }
                "python3".into()
            }
            Lang::Node => "node".into(),
        }
    }
}

/// Finds an executable in `$PATH`.
pub fn find_in_path(program: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// Maps a container command (`/python/bin/fdk /function/func.py handler`) onto the host:
/// `/function/…` is the code snapshot, `/python/…` the Python environment; other words stay.
pub fn map_command(command: &str, code_dir: &Path, env_dir: &Path) -> Vec<String> {
    command
        .split_whitespace()
        .map(|word| {
            if let Some(rest) = word.strip_prefix("/function/") {
                code_dir.join(rest).display().to_string()
            } else if word == "/function" {
                code_dir.display().to_string()
            } else if let Some(rest) = word.strip_prefix("/python/") {
                env_dir.join(rest).display().to_string()
            } else {
                word.to_string()
            }
        })
        .collect()
}

/// The script a command runs, relative to the function directory (`func.py`, `func.js`), so
/// deploy can say "func.py not found" before preparing anything.
pub fn script_of(command: &str) -> Option<String> {
    command.split_whitespace().skip(1).find_map(|word| {
        let word = word.strip_prefix("/function/").unwrap_or(word);
        (word.ends_with(".py") || word.ends_with(".js") || word.ends_with(".mjs")).then(|| word.to_string())
    })
}

// === fn init ===

/// The files `fn init --runtime <lang> <name>` writes, as (file name, contents).
/// `fdk_version` is the latest FDK version (fn asks PyPI / npm); `None` writes no bound.
pub fn init_files(
    lang: Lang,
    name: &str,
    trigger_http: bool,
    fdk_version: Option<&str>,
) -> Vec<(&'static str, String)> {
    let mut func_yaml = format!("schema_version: 20180708\nname: {name}\nversion: 0.0.1\n");
    match lang {
        Lang::Python => func_yaml.push_str(
            "runtime: python\nbuild_image: fnproject/python:3.12-dev\nrun_image: fnproject/python:3.12\n\
             entrypoint: /python/bin/fdk /function/func.py handler\nmemory: 256\n",
        ),
        Lang::Node => func_yaml.push_str(
            "runtime: node\nbuild_image: fnproject/node:24-dev\nrun_image: fnproject/node:24\n\
             entrypoint: node func.js\n",
        ),
    }
    if trigger_http {
        func_yaml.push_str(&format!("triggers:\n- name: {name}\n  type: http\n  source: /{name}\n"));
    }
    match lang {
        Lang::Python => vec![
            ("func.py", PYTHON_FUNC.to_string()),
            (
                "requirements.txt",
                match fdk_version {
                    Some(v) => format!("fdk>={v}"),
                    None => "fdk".to_string(),
                },
            ),
            ("func.yaml", func_yaml),
        ],
        Lang::Node => vec![
            ("func.js", NODE_FUNC.to_string()),
            (
                "package.json",
                NODE_PACKAGE.replace("%s", fdk_version.unwrap_or("0.0.76")),
            ),
            ("func.yaml", func_yaml),
        ],
    }
}

const PYTHON_FUNC: &str = r#"import io
import json
import logging

from fdk import response


def handler(ctx, data: io.BytesIO = None):
    name = "World"
    try:
        body = json.loads(data.getvalue())
        name = body.get("name")
    except (Exception, ValueError) as ex:
        logging.getLogger().info('error parsing json payload: ' + str(ex))

    logging.getLogger().info("Inside Python Hello World function")
    return response.Response(
        ctx, response_data=json.dumps(
            {"message": "Hello {0}".format(name)}),
        headers={"Content-Type": "application/json"}
    )
"#;

const NODE_FUNC: &str = r#"const fdk=require('@fnproject/fdk');

fdk.handle(function(input){
  let name = 'World';
  if (input.name) {
    name = input.name;
  }
  console.log('\nInside Node Hello World function')
  return {'message': 'Hello ' + name}
})
"#;

const NODE_PACKAGE: &str = "{\n\t\"name\": \"hellofn\",\n    \"version\": \"1.0.0\",\n\t\"description\": \"example function\",\n\t\"main\": \"func.js\",\n\t\"author\": \"\",\n\t\"license\": \"Apache-2.0\",\n\t\"dependencies\": {\n\t\t\"@fnproject/fdk\": \">=%s\"\n\t}\n}\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtimes() {
        assert_eq!(Lang::for_runtime("python3.12"), Ok(Lang::Python));
        assert_eq!(Lang::for_runtime("node24"), Ok(Lang::Node));
        assert!(Lang::for_runtime("go").unwrap_err().contains("not supported"));
        assert!(Lang::for_runtime("python3.9").unwrap_err().contains("deprecated"));
    }

    #[test]
    fn container_command_maps_onto_host_dirs() {
        let cmd = map_command(
            "/python/bin/fdk /function/func.py handler",
            Path::new("/d/code"),
            Path::new("/d/env"),
        );
        assert_eq!(cmd, ["/d/env/bin/fdk", "/d/code/func.py", "handler"]);
        assert_eq!(
            script_of("/python/bin/fdk /function/func.py handler").as_deref(),
            Some("func.py")
        );
        assert_eq!(script_of("node func.js").as_deref(), Some("func.js"));
    }

    #[test]
    fn init_writes_fn_files() {
        let files = init_files(Lang::Python, "hello", true, Some("0.1.128"));
        let yaml = &files.iter().find(|(n, _)| *n == "func.yaml").unwrap().1;
        assert!(yaml.ends_with("memory: 256\ntriggers:\n- name: hello\n  type: http\n  source: /hello\n"));
        assert_eq!(files[1].1, "fdk>=0.1.128");
    }
}
