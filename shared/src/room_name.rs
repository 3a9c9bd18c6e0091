//! Room names: what may follow the relay's address in `ws://HOST:7457/ROOM`.
//!
//! One definition, used by the relay to accept a path and by the app to check what
//! a user typed before it tries to connect. A room is a file on the relay's disk
//! (`ROOM.tabula`), so a name must be a safe file name everywhere: letters,
//! digits, `-`, `_` and `.`, no leading or trailing dot, and none of the names
//! Windows keeps for devices (`CON`, `NUL`, `COM1`…, with or without an
//! extension). Names are folded to lower case ([`canonical`]): file systems that
//! ignore case (macOS, Windows) would otherwise give `Design` and `design` one
//! file and two rooms.

/// The longest room name accepted, in bytes.
pub const MAX_ROOM_NAME_LEN: usize = 64;

/// The names Windows keeps for devices: a file called `CON` or `con.tabula`
/// cannot be created there.
const DEVICE_NAMES: [&str; 4] = ["con", "prn", "aux", "nul"];

/// Devices that take a digit: `COM0`–`COM9`, `LPT0`–`LPT9`.
const NUMBERED_DEVICES: [&str; 2] = ["com", "lpt"];

/// Why a room name was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RoomNameError {
    /// Nothing after the slash.
    #[error("the room name is missing: connect to ws://HOST:PORT/ROOM")]
    Empty,
    /// Longer than [`MAX_ROOM_NAME_LEN`].
    #[error("the room name is {len} bytes long; at most {MAX_ROOM_NAME_LEN} are allowed")]
    TooLong {
        /// The length that was given.
        len: usize,
    },
    /// A character outside letters, digits, `-`, `_` and `.`.
    #[error("the room name may hold only letters, digits, '-', '_' and '.', not {found:?}")]
    BadCharacter {
        /// The first character refused.
        found: char,
    },
    /// Starts or ends with a dot (`.`, `..`, `.hidden`, `name.`).
    #[error("a room name may not start or end with '.'")]
    Dot,
    /// A name Windows keeps for a device, which no file may have.
    #[error("{name:?} is a device name on Windows and cannot be a room")]
    DeviceName {
        /// The name given.
        name: String,
    },
}

/// Checks a room name and returns it unchanged when it is acceptable. Names
/// differing only in case are the same room: see [`canonical`].
pub fn validate(name: &str) -> Result<&str, RoomNameError> {
    if name.is_empty() {
        return Err(RoomNameError::Empty);
    }
    if name.len() > MAX_ROOM_NAME_LEN {
        return Err(RoomNameError::TooLong { len: name.len() });
    }
    if let Some(found) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(RoomNameError::BadCharacter { found });
    }
    if name.starts_with('.') || name.ends_with('.') {
        return Err(RoomNameError::Dot);
    }
    if is_device_name(name) {
        return Err(RoomNameError::DeviceName {
            name: name.to_owned(),
        });
    }
    Ok(name)
}

/// The room a name stands for: the name checked and folded to lower case, so
/// that `Design-Review` and `design-review` are one room (and one file).
pub fn canonical(name: &str) -> Result<String, RoomNameError> {
    validate(name).map(str::to_ascii_lowercase)
}

/// The room named by a URL path such as `/design-review` (query string ignored),
/// checked but as written: [`canonical`] folds it.
pub fn from_path(path: &str) -> Result<&str, RoomNameError> {
    let path = path.split('?').next().unwrap_or_default();
    validate(path.strip_prefix('/').unwrap_or(path))
}

/// Whether the part of `name` before its first dot is a Windows device name.
fn is_device_name(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or_default();
    let stem = stem.to_ascii_lowercase();
    DEVICE_NAMES.contains(&stem.as_str())
        || (stem.len() == 4
            && NUMBERED_DEVICES.contains(&&stem[..3])
            && stem.as_bytes()[3].is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_names_and_paths() {
        assert_eq!(from_path("/design-review"), Ok("design-review"));
        assert_eq!(from_path("/a.b_c?x=1"), Ok("a.b_c"));
        assert_eq!(validate("console"), Ok("console"));
        assert_eq!(validate("com10"), Ok("com10"));
        assert_eq!(validate("a..b"), Ok("a..b"));
    }

    #[test]
    fn folds_case() {
        assert_eq!(from_path("/Design-Review"), Ok("Design-Review"));
        assert_eq!(canonical("Design-Review"), Ok("design-review".to_owned()));
        assert_eq!(canonical("ROOM.One"), Ok("room.one".to_owned()));
        assert_eq!(validate("Design"), Ok("Design"), "validate keeps the case");
    }

    #[test]
    fn refuses_empty_long_and_odd_names() {
        assert_eq!(from_path("/"), Err(RoomNameError::Empty));
        assert_eq!(
            validate(&"x".repeat(65)),
            Err(RoomNameError::TooLong { len: 65 })
        );
        assert_eq!(
            from_path("/a/b"),
            Err(RoomNameError::BadCharacter { found: '/' })
        );
    }

    #[test]
    fn refuses_dot_names_and_device_names() {
        for name in [".", "..", ".hidden", "trailing."] {
            assert_eq!(validate(name), Err(RoomNameError::Dot), "{name}");
        }
        for name in [
            "CON",
            "nul",
            "Aux.txt",
            "prn.tabula",
            "COM1",
            "lpt9.x",
            "com0",
        ] {
            assert!(
                matches!(validate(name), Err(RoomNameError::DeviceName { .. })),
                "{name}"
            );
        }
    }
}
