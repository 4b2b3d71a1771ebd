//! What an app or function config may contain. Config entries become the instance's environment
//! variables, so a key the runtime interprets would let whoever sets config run code inside the
//! function before its handler (`PYTHONWARNINGS` importing a module that runs `$BROWSER`,
//! `LD_PRELOAD`, `NODE_OPTIONS=--require …`). Those names are refused, as are keys outside
//! OCI's rule and configs past OCI's size limit. Names compare case-insensitively: no real
//! config needs `Path` beside `PATH`, and refusing both avoids surprises from tools that read
//! either spelling.

/// OCI's limit for all keys and values of one app's or one function's config, in UTF-8 bytes.
pub const MAX_CONFIG_BYTES: usize = 4096;

/// Prefixes refused, with the reason given in the error.
const RESERVED_PREFIXES: &[(&str, &str)] = &[
    ("FN_", "FN_* variables are the FDK contract and are set by fngate"),
    (
        "LD_",
        "LD_* variables change how the dynamic loader starts every program",
    ),
    ("PYTHON", "PYTHON* variables change how the Python interpreter starts"),
    ("NODE_", "NODE_* variables change how Node.js starts"),
    (
        "OPENSSL_",
        "OPENSSL_* variables make OpenSSL load configuration and modules",
    ),
    ("GLIBC_", "GLIBC_* variables change how the C library starts"),
];

/// Whole names refused.
const RESERVED_NAMES: &[(&str, &str)] = &[
    ("PATH", "fngate sets the program search path"),
    ("HOME", "fngate points HOME at the instance's temporary directory"),
    ("TMPDIR", "fngate points TMPDIR at the instance's temporary directory"),
    ("VIRTUAL_ENV", "fngate sets the prepared Python environment"),
    ("BROWSER", "Python's webbrowser module runs it as a command"),
    ("PAGER", "Python's pydoc runs it as a command"),
    (
        "OCI_TRACING_ENABLED",
        "the FDK reads it at start; on OCI the platform sets it",
    ),
    (
        "OCI_TRACE_COLLECTOR_URL",
        "the FDK reads it at start; on OCI the platform sets it",
    ),
    // glibc's own list of variables it drops for setuid programs (unsecvars.h): each makes the C
    // library load files or modules it names.
    ("GCONV_PATH", "the C library loads modules from it"),
    ("GETCONF_DIR", "the C library reads files from it"),
    ("HOSTALIASES", "the C library's resolver reads the file it names"),
    ("LOCALDOMAIN", "it changes the C library's resolver"),
    ("LOCPATH", "the C library loads locale files from it"),
    ("MALLOC_TRACE", "the C library writes to the file it names"),
    ("NIS_PATH", "it changes the C library's name lookups"),
    ("NLSPATH", "the C library loads message catalogues from it"),
    ("RESOLV_HOST_CONF", "the C library's resolver reads the file it names"),
    ("RES_OPTIONS", "it changes the C library's resolver"),
    ("TZDIR", "the C library reads time-zone files from it"),
    // Shells and interpreters a function commonly runs as subprocesses run code from these.
    ("BASH_ENV", "bash runs the file it names at start"),
    ("ENV", "sh runs the file it names at start"),
    ("SHELLOPTS", "it changes how bash starts"),
    ("BASHOPTS", "it changes how bash starts"),
    ("PS4", "bash evaluates it when tracing"),
    ("PERL5OPT", "it changes how Perl starts"),
    ("PERL5LIB", "Perl loads modules from it"),
    ("PERLLIB", "Perl loads modules from it"),
    ("RUBYOPT", "it changes how Ruby starts"),
    ("RUBYLIB", "Ruby loads code from it"),
];

/// A key OCI accepts (ASCII letters, digits and `_`, not starting with a digit) and that names no
/// variable the runtime interprets.
pub fn check_config_key(key: &str) -> Result<(), String> {
    let well_formed = key.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !well_formed {
        return Err(format!(
            "config key {key:?} is invalid: keys are ASCII letters, digits and '_', not starting with a digit"
        ));
    }
    if let Some(reason) = reserved_reason(key) {
        return Err(format!(
            "config key {key:?} is reserved: {reason}; fngate refuses it in app and function config"
        ));
    }
    Ok(())
}

/// Why a key is reserved, if it is (also used to drop such keys stored before the rule existed).
pub fn reserved_reason(key: &str) -> Option<&'static str> {
    let upper = key.to_ascii_uppercase();
    RESERVED_NAMES
        .iter()
        .find(|(name, _)| *name == upper)
        .or_else(|| RESERVED_PREFIXES.iter().find(|(prefix, _)| upper.starts_with(prefix)))
        .map(|(_, reason)| *reason)
}

/// Values go into the environment, which cannot carry NUL.
pub fn check_config_value(key: &str, value: &str) -> Result<(), String> {
    if value.contains('\0') {
        return Err(format!("config value for {key:?} contains a NUL character"));
    }
    Ok(())
}

/// All keys and values together within [`MAX_CONFIG_BYTES`] (OCI measures UTF-8 octets).
pub fn check_config_size<'a>(entries: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<(), String> {
    let total: usize = entries.into_iter().map(|(k, v)| k.len() + v.len()).sum();
    if total > MAX_CONFIG_BYTES {
        return Err(format!(
            "config is too large: its keys and values take {total} bytes, more than the {MAX_CONFIG_BYTES} allowed"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_oci_rule() {
        for good in ["GREETING", "_X", "a1_b", "DB_URL"] {
            assert_eq!(check_config_key(good), Ok(()), "{good}");
        }
        for bad in ["", "1ABC", "A-B", "A B", "A=B", "Ä", "A.B"] {
            assert!(check_config_key(bad).unwrap_err().contains("is invalid"), "{bad}");
        }
    }

    #[test]
    fn runtime_names_are_reserved_whatever_their_case() {
        for name in [
            "PATH",
            "path",
            "LD_PRELOAD",
            "PYTHONWARNINGS",
            "PYTHONSTARTUP",
            "PYTHONPATH",
            "NODE_OPTIONS",
            "FN_LISTENER",
            "fn_format",
            "BROWSER",
            "HOME",
            "TMPDIR",
            "GLIBC_TUNABLES",
            "GCONV_PATH",
            "OPENSSL_CONF",
            "BASH_ENV",
        ] {
            let err = check_config_key(name).unwrap_err();
            assert!(err.contains(&format!("{name:?} is reserved")), "{err}");
        }
        // Ordinary names that merely contain a reserved word stay usable.
        for fine in ["MY_PATH", "NODE", "FNORD", "HOMEPAGE", "HTTPS_PROXY", "TZ", "LANG"] {
            assert_eq!(check_config_key(fine), Ok(()), "{fine}");
        }
    }

    #[test]
    fn size_is_limited_to_4_kb() {
        let value = "x".repeat(MAX_CONFIG_BYTES - 1);
        assert_eq!(check_config_size([("A", value.as_str())]), Ok(()));
        let value = "x".repeat(MAX_CONFIG_BYTES);
        assert!(
            check_config_size([("A", value.as_str())])
                .unwrap_err()
                .contains("4097 bytes")
        );
        // UTF-8 octets, not characters.
        let wide = "é".repeat(2048);
        assert!(check_config_size([("A", wide.as_str())]).is_err());
    }
}
