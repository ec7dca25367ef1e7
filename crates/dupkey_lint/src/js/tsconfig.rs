//! `tsconfig.json` / `jsconfig.json` for import resolution: `compilerOptions.baseUrl` and
//! `paths`, following `extends`. The files are JSON with comments and trailing commas (which
//! TypeScript accepts); both are removed by a small scanner that knows strings, then the
//! text is read as JSON.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::resolve::normalize;

/// How many `extends` links are followed (a cycle stops here too).
const MAX_EXTENDS: u32 = 16;

/// The path settings of one configuration, resolved through its `extends` chain.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PathConfig {
    /// `baseUrl` as a directory: non-relative specifiers are looked up under it.
    pub base_url: Option<PathBuf>,
    /// `paths` patterns in declaration order, with their targets.
    pub paths: Vec<(String, Vec<String>)>,
    /// The directory of the configuration that declares `paths`: its targets are relative
    /// to it when no `baseUrl` is set (else to `baseUrl`).
    pub paths_dir: PathBuf,
}

/// The configuration in `dir` (`tsconfig.json` first, then `jsconfig.json`), if any and
/// readable. A file that is not valid JSON-with-comments is treated as absent.
pub fn load_in(dir: &Path) -> Option<PathConfig> {
    ["tsconfig.json", "jsconfig.json"]
        .iter()
        .map(|name| dir.join(name))
        .find(|p| p.is_file())
        .and_then(|p| load(&p, 0))
}

/// Reads one configuration file and what it extends; the child's settings win.
fn load(path: &Path, depth: u32) -> Option<PathConfig> {
    let text = std::fs::read_to_string(path).ok()?;
    let json: Value = serde_json::from_str(&strip_jsonc(&text)).ok()?;
    let dir = path.parent().unwrap_or(Path::new(""));
    let mut config = PathConfig::default();
    if depth < MAX_EXTENDS {
        let parents = match json.get("extends") {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        for parent in parents {
            if let Some(p) = extended_path(dir, parent).and_then(|p| load(&p, depth + 1)) {
                config = p;
            }
        }
    }
    let options = json.get("compilerOptions");
    if let Some(base) = options
        .and_then(|o| o.get("baseUrl"))
        .and_then(Value::as_str)
    {
        config.base_url = Some(normalize(&dir.join(base)));
    }
    if let Some(paths) = options
        .and_then(|o| o.get("paths"))
        .and_then(Value::as_object)
    {
        config.paths = paths
            .iter()
            .map(|(pattern, targets)| {
                let targets = match targets {
                    Value::Array(t) => t
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect(),
                    _ => Vec::new(),
                };
                (pattern.clone(), targets)
            })
            .collect();
        config.paths_dir = dir.to_path_buf();
    }
    Some(config)
}

/// `"./base.json"`, `"../tsconfig"`, or a package's config (`@tsconfig/node20/tsconfig.json`)
/// found in a `node_modules` folder above.
fn extended_path(dir: &Path, spec: &str) -> Option<PathBuf> {
    let with_json = |p: PathBuf| {
        if p.extension().is_some_and(|e| e == "json") {
            p
        } else {
            let mut s = p.into_os_string();
            s.push(".json");
            PathBuf::from(s)
        }
    };
    if spec.starts_with('.') || Path::new(spec).is_absolute() {
        return Some(with_json(dir.join(spec)));
    }
    dir.ancestors().find_map(|d| {
        let base = d.join("node_modules").join(spec);
        [with_json(base.clone()), base.join("tsconfig.json")]
            .into_iter()
            .find(|p| p.is_file())
    })
}

impl PathConfig {
    /// The base paths (without extension) a non-relative specifier may name: each `paths`
    /// target of the best-matching pattern (the longest prefix before `*`), then `baseUrl`.
    pub fn bases(&self, specifier: &str) -> Vec<PathBuf> {
        let mut best: Option<(usize, &str, &Vec<String>)> = None;
        for (pattern, targets) in &self.paths {
            let captured = match pattern.split_once('*') {
                Some((prefix, suffix)) => specifier
                    .strip_prefix(prefix)
                    .and_then(|rest| rest.strip_suffix(suffix))
                    .map(|star| (prefix.len(), star)),
                None => (pattern == specifier).then_some((usize::MAX, "")),
            };
            if let Some((len, star)) = captured
                && best.is_none_or(|(l, _, _)| len > l)
            {
                best = Some((len, star, targets));
            }
        }
        let targets_base = self.base_url.as_ref().unwrap_or(&self.paths_dir);
        let mut out: Vec<PathBuf> = best
            .map(|(_, star, targets)| {
                targets
                    .iter()
                    .map(|t| normalize(&targets_base.join(t.replacen('*', star, 1))))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(base) = &self.base_url {
            out.push(normalize(&base.join(specifier)));
        }
        out
    }
}

/// JSON with comments and trailing commas → JSON: comments become spaces (so offsets in a
/// JSON error still point at the right place) and a comma followed only by whitespace or
/// comments before `}` or `]` is dropped.
pub fn strip_jsonc(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                let end = string_end(bytes, i);
                out.extend_from_slice(&bytes[i..end]);
                i = end;
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    out.push(b' ');
                    i += 1;
                }
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let end = find_from(bytes, i + 2, b"*/").map_or(bytes.len(), |e| e + 2);
                out.extend(
                    bytes[i..end]
                        .iter()
                        .map(|b| if *b == b'\n' { b'\n' } else { b' ' }),
                );
                i = end;
                continue;
            }
            b',' if closes_next(bytes, i + 1) => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    // Only ASCII bytes were replaced, by ASCII spaces; the rest is copied whole.
    String::from_utf8(out).unwrap_or_default()
}

/// The offset just past a JSON string starting at `start`.
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// Whether only whitespace and comments stand between here and a `}` or `]`.
fn closes_next(bytes: &[u8], mut i: usize) -> bool {
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = find_from(bytes, i + 2, b"*/").map_or(bytes.len(), |e| e + 2);
            }
            b'}' | b']' => return true,
            _ => return false,
        }
    }
    false
}

fn find_from(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    bytes
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| from + p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonc_comments_and_trailing_commas() {
        let text = r#"{
  // a comment with "quotes" and a , comma
  "compilerOptions": {
    "baseUrl": "./src", /* block */
    "paths": { "@/*": ["./*",], "url": ["http://x//y"], },
  },
}"#;
        let json: Value = serde_json::from_str(&strip_jsonc(text)).unwrap();
        assert_eq!(json["compilerOptions"]["baseUrl"], "./src");
        assert_eq!(json["compilerOptions"]["paths"]["url"][0], "http://x//y");
        assert_eq!(json["compilerOptions"]["paths"]["@/*"][0], "./*");
    }

    #[test]
    fn paths_pick_the_longest_prefix_and_fall_back_to_base_url() {
        let config = PathConfig {
            base_url: Some(PathBuf::from("/p/src")),
            paths: vec![
                ("@/*".into(), vec!["./*".into()]),
                (
                    "@/models/*".into(),
                    vec!["./db/models/*".into(), "./legacy/*".into()],
                ),
                ("config".into(), vec!["./config/index".into()]),
            ],
            paths_dir: PathBuf::from("/p"),
        };
        assert_eq!(
            config.bases("@/models/user"),
            [
                PathBuf::from("/p/src/db/models/user"),
                PathBuf::from("/p/src/legacy/user"),
                PathBuf::from("/p/src/@/models/user"),
            ]
        );
        assert_eq!(
            config.bases("config")[0],
            PathBuf::from("/p/src/config/index")
        );
        assert_eq!(config.bases("lib/db"), [PathBuf::from("/p/src/lib/db")]);
    }
}
