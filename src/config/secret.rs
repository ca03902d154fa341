//! Secrets from `*_env`, `*_file` or inline values, resolved once at load
//! time into `SecretString`s whose `Debug` shows `[REDACTED]`.

use std::path::{Path, PathBuf};

use secrecy::SecretString;

use super::Problems;

/// Where one secret may come from; exactly one must be set.
pub struct SecretSource<'a> {
    /// The config key without suffix, e.g. `profile[0].password`.
    pub key: String,
    pub inline: Option<&'a str>,
    pub env: Option<&'a str>,
    pub file: Option<&'a Path>,
}

/// Resolves the secret; records every problem. `required` makes "none set" an error.
pub fn resolve(src: SecretSource<'_>, base: &Path, problems: &mut Problems, required: bool) -> Option<SecretString> {
    let key = &src.key;
    let set = [src.inline.is_some(), src.env.is_some(), src.file.is_some()].iter().filter(|s| **s).count();
    if set > 1 {
        problems.error(key, format!("set only one of `{0}`, `{0}_env`, `{0}_file`", leaf(key)));
        return None;
    }
    let text = if let Some(inline) = src.inline {
        problems.warn(key, format!("inline secret in the config file; prefer `{0}_env` or `{0}_file`", leaf(key)));
        inline.to_owned()
    } else if let Some(var) = src.env {
        match std::env::var(var) {
            Ok(v) => v,
            Err(std::env::VarError::NotPresent) => {
                problems.error(format!("{key}_env"), format!("environment variable {var} is not set"));
                return None;
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                problems.error(format!("{key}_env"), format!("environment variable {var} is not UTF-8"));
                return None;
            }
        }
    } else if let Some(file) = src.file {
        let path = resolve_path(base, file);
        problems.read(&path);
        match std::fs::read(&path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(mut text) => {
                    text.truncate(text.trim_end().len());
                    text
                }
                Err(_) => {
                    problems.error(format!("{key}_file"), format!("{} is not UTF-8 text", path.display()));
                    return None;
                }
            },
            Err(e) => {
                problems.error(format!("{key}_file"), format!("cannot read {}: {}", path.display(), e.kind()));
                return None;
            }
        }
    } else {
        if required {
            problems.error(key, format!("required: set `{0}_env`, `{0}_file` or `{0}`", leaf(key)));
        }
        return None;
    };
    if text.is_empty() {
        problems.error(key, "the secret is empty");
        return None;
    }
    Some(SecretString::from(text))
}

/// Relative paths in the config are relative to the config file's folder.
pub fn resolve_path(base: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_owned()
    } else {
        base.join(path)
    }
}

fn leaf(key: &str) -> &str {
    key.rsplit('.').next().unwrap_or(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn src<'a>(inline: Option<&'a str>, env: Option<&'a str>, file: Option<&'a Path>) -> SecretSource<'a> {
        SecretSource { key: "profile[0].password".into(), inline, env, file }
    }

    #[test]
    fn file_secret_is_trimmed_and_never_debug_printed() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pw");
        std::fs::write(&f, "s3cret-value\n\n").unwrap();
        let mut p = Problems::default();
        let s = resolve(src(None, None, Some(&f)), dir.path(), &mut p, true).unwrap();
        assert_eq!(s.expose_secret(), "s3cret-value");
        assert!(!format!("{s:?}").contains("s3cret"));
        assert!(p.errors.is_empty());
    }

    #[test]
    fn inline_warns_missing_env_errors_and_two_sources_conflict() {
        let mut p = Problems::default();
        assert!(resolve(src(Some("x"), None, None), Path::new("/"), &mut p, true).is_some());
        assert_eq!(p.warnings.len(), 1);
        assert!(resolve(src(None, Some("HSGATE_TEST_SURELY_UNSET_VAR"), None), Path::new("/"), &mut p, true).is_none());
        assert!(p.errors[0].to_string().contains("HSGATE_TEST_SURELY_UNSET_VAR"));
        assert!(resolve(src(Some("x"), Some("Y"), None), Path::new("/"), &mut p, true).is_none());
        assert!(resolve(src(None, None, None), Path::new("/"), &mut p, true).is_none());
        assert_eq!(p.errors.len(), 3);
        assert!(resolve(src(None, None, None), Path::new("/"), &mut p, false).is_none());
        assert_eq!(p.errors.len(), 3);
    }
}
