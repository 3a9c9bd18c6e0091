//! Readable random room names, such as `blue-otter-42`, to prefill the host
//! dialog: easy to say aloud and to type, and valid room names as they are.

/// The first word: a colour or a quality.
const ADJECTIVES: [&str; 48] = [
    "amber", "azure", "bold", "brave", "bright", "brisk", "calm", "clever", "coral", "cosy",
    "crimson", "eager", "early", "fancy", "fuzzy", "gentle", "golden", "green", "happy", "hazel",
    "honey", "indigo", "jolly", "keen", "lemon", "lilac", "lively", "lucky", "maple", "merry",
    "mint", "misty", "navy", "olive", "peach", "plum", "proud", "quick", "quiet", "rosy", "ruby",
    "sandy", "silver", "sunny", "swift", "teal", "tidy", "witty",
];

/// The second word: an animal.
const ANIMALS: [&str; 48] = [
    "badger", "bear", "beaver", "bee", "bison", "crane", "crow", "deer", "dolphin", "eagle",
    "falcon", "ferret", "finch", "fox", "gecko", "goose", "hare", "hawk", "heron", "ibis", "koala",
    "lark", "lemur", "lion", "llama", "lynx", "marten", "mole", "moose", "newt", "otter", "owl",
    "panda", "parrot", "pelican", "puffin", "quail", "raven", "robin", "seal", "stork", "swan",
    "tiger", "toad", "trout", "wasp", "whale", "wren",
];

/// A random name: adjective, animal and a number from 10 to 99, joined by
/// dashes (about 200,000 names, so two rooms on one network rarely meet).
#[must_use]
pub fn random_room_name() -> String {
    let random = uuid::Uuid::new_v4();
    let bytes = random.as_bytes();
    let adjective = ADJECTIVES[usize::from(bytes[0]) % ADJECTIVES.len()];
    let animal = ANIMALS[usize::from(bytes[1]) % ANIMALS.len()];
    let number = 10 + u16::from_le_bytes([bytes[2], bytes[3]]) % 90;
    format!("{adjective}-{animal}-{number}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_valid_rooms_and_vary() {
        let names: std::collections::BTreeSet<String> =
            (0..50).map(|_| random_room_name()).collect();
        assert!(names.len() > 40, "fifty draws gave only {names:?}");
        for name in &names {
            assert_eq!(tabula_shared::room_name::validate(name), Ok(name.as_str()));
            let words: Vec<&str> = name.split('-').collect();
            assert_eq!(words.len(), 3, "{name}");
            assert!(ADJECTIVES.contains(&words[0]) && ANIMALS.contains(&words[1]));
            let number: u16 = words[2].parse().expect("a number");
            assert!((10..100).contains(&number));
        }
    }
}
