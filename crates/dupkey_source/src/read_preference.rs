//! Which member of a replica set a live scan reads from: `--read-preference`, or the
//! connection string's `readPreference`, the flag winning.
//!
//! `runCommand` ignores the client's default read preference (driver spec), so every command
//! [`crate::LiveSource`] sends carries the chosen one explicitly.

use std::fmt;
use std::str::FromStr;

use mongodb::options::{ReadPreference, ReadPreferenceOptions, SelectionCriteria};

/// A read preference mode, as `--read-preference` and the `readPreference` URI option name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadMode {
    Primary,
    PrimaryPreferred,
    Secondary,
    SecondaryPreferred,
    Nearest,
}

impl ReadMode {
    pub const ALL: [ReadMode; 5] = [
        ReadMode::Primary,
        ReadMode::PrimaryPreferred,
        ReadMode::Secondary,
        ReadMode::SecondaryPreferred,
        ReadMode::Nearest,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReadMode::Primary => "primary",
            ReadMode::PrimaryPreferred => "primaryPreferred",
            ReadMode::Secondary => "secondary",
            ReadMode::SecondaryPreferred => "secondaryPreferred",
            ReadMode::Nearest => "nearest",
        }
    }

    /// The mode of a driver read preference.
    pub fn of(pref: &ReadPreference) -> ReadMode {
        match pref {
            ReadPreference::Primary => ReadMode::Primary,
            ReadPreference::PrimaryPreferred { .. } => ReadMode::PrimaryPreferred,
            ReadPreference::Secondary { .. } => ReadMode::Secondary,
            ReadPreference::SecondaryPreferred { .. } => ReadMode::SecondaryPreferred,
            ReadPreference::Nearest { .. } => ReadMode::Nearest,
            _ => ReadMode::Primary,
        }
    }

    /// This mode, keeping the tag sets and staleness bound of `uri_pref` (the connection
    /// string's) when it has any: the flag changes the mode, not the rest.
    pub fn to_read_preference(self, uri_pref: Option<&ReadPreference>) -> ReadPreference {
        let options: Option<ReadPreferenceOptions> = match uri_pref {
            Some(
                ReadPreference::PrimaryPreferred { options }
                | ReadPreference::Secondary { options }
                | ReadPreference::SecondaryPreferred { options }
                | ReadPreference::Nearest { options },
            ) => options.clone(),
            _ => None,
        };
        match self {
            ReadMode::Primary => ReadPreference::Primary,
            ReadMode::PrimaryPreferred => ReadPreference::PrimaryPreferred { options },
            ReadMode::Secondary => ReadPreference::Secondary { options },
            ReadMode::SecondaryPreferred => ReadPreference::SecondaryPreferred { options },
            ReadMode::Nearest => ReadPreference::Nearest { options },
        }
    }
}

impl fmt::Display for ReadMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ReadMode {
    type Err = String;

    /// Case-insensitive, as the URI option is.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ReadMode::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!(
                    "unknown read preference {s:?}; use one of {}",
                    ReadMode::ALL.map(ReadMode::as_str).join(", ")
                )
            })
    }
}

/// The read preference the connection uses: the flag's mode over the URI's, or the URI's, or
/// none (the driver's default, primary).
pub(crate) fn effective(
    flag: Option<ReadMode>,
    uri: Option<&SelectionCriteria>,
) -> Option<ReadPreference> {
    let uri_pref = match uri {
        Some(SelectionCriteria::ReadPreference(p)) => Some(p),
        _ => None,
    };
    match flag {
        Some(mode) => Some(mode.to_read_preference(uri_pref)),
        None => uri_pref.cloned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_case_insensitively_and_print_as_the_uri_option_names_them() {
        for mode in ReadMode::ALL {
            assert_eq!(mode.as_str().parse::<ReadMode>(), Ok(mode));
            assert_eq!(mode.as_str().to_uppercase().parse::<ReadMode>(), Ok(mode));
        }
        let err = "secondaries".parse::<ReadMode>().unwrap_err();
        assert!(err.contains("secondaryPreferred"), "{err}");
    }

    #[test]
    fn the_flag_wins_over_the_uri_but_keeps_its_tags() {
        let tags = ReadPreferenceOptions::builder()
            .tag_sets(vec![
                [("dc".to_string(), "east".to_string())]
                    .into_iter()
                    .collect(),
            ])
            .build();
        let uri = SelectionCriteria::ReadPreference(ReadPreference::Secondary {
            options: Some(tags.clone()),
        });
        let chosen = effective(Some(ReadMode::SecondaryPreferred), Some(&uri)).unwrap();
        assert_eq!(
            chosen,
            ReadPreference::SecondaryPreferred {
                options: Some(tags)
            }
        );
        assert_eq!(
            effective(Some(ReadMode::Primary), Some(&uri)),
            Some(ReadPreference::Primary)
        );
        assert_eq!(
            effective(None, Some(&uri)).as_ref().map(ReadMode::of),
            Some(ReadMode::Secondary)
        );
        assert_eq!(effective(None, None), None);
    }
}
