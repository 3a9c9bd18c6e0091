//! Room names: what may follow the relay's address in `ws://HOST:7457/ROOM`.
//!
//! One definition, used by the relay to accept a path and by the app to check what
//! a user typed before it tries to connect.

/// The longest room name accepted, in bytes.
pub const MAX_ROOM_NAME_LEN: usize = 64;

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
}

/// Checks a room name and returns it unchanged when it is acceptable.
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
    Ok(name)
}

/// The room named by a URL path such as `/design-review` (query string ignored).
pub fn from_path(path: &str) -> Result<&str, RoomNameError> {
    let path = path.split('?').next().unwrap_or_default();
    validate(path.strip_prefix('/').unwrap_or(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_names_and_paths() {
        assert_eq!(from_path("/design-review"), Ok("design-review"));
        assert_eq!(from_path("/a.b_c?x=1"), Ok("a.b_c"));
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
}
