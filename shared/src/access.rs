//! Who may enter a relay or a room, and who someone is: the secrets of
//! protocol 6's handshake, computed the same way by the relay and its clients.
//!
//! A password never crosses the wire. Each end turns it into a signing key
//! with Argon2id over a salt the key's owner chose ([`derive`]); the relay
//! keeps only the key's public half (a [`Verifier`], or a room's [`RoomLock`]),
//! and a client proves it knows the password by signing the relay's fresh
//! [`Nonce`] with the room and its client id ([`AccessKey::prove`]). A proof
//! is good for one connection only: the next one has another nonce. Because
//! the relay holds no key that can sign, neither its memory nor a room file
//! lets anyone in (it lets someone guess passwords offline, at Argon2id's
//! cost per guess).
//!
//! Who someone is ([`ResumeSecret`]) is a random secret the relay hands a
//! client in its welcome; a client id is public, taking over that id in a
//! room needs the secret.
//!
//! An invitation ([`InviteToken`]) is 32 random bytes its maker puts in a
//! link (`#invite=…`); the bytes are an Ed25519 key's seed, so the relay
//! keeps only the public half (the invitation's [`Verifier`], with the
//! [`Role`] it admits as) and the link's holder proves it over the nonce
//! like a password, with no Argon2id (the token is as strong as a key).
//!
//! Also here: the room codes the app shows when it hosts ([`new_code`]) and
//! the `#code=` and `#invite=` parts of a room's URL ([`split_code`],
//! [`split_invite`]).

use std::fmt;

use argon2::{Algorithm, Argon2, Params, Version};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;

use crate::ClientId;

/// Bytes of a relay's nonce: enough that no two connections ever share one.
pub const NONCE_BYTES: usize = 32;
/// Bytes of a password's salt.
pub const SALT_BYTES: usize = 16;
/// Bytes of a resume secret.
pub const SECRET_BYTES: usize = 32;
/// The room setting that keeps a room's [`RoomLock`] (in a room's file, the
/// `meta` entry `setting.access_lock`).
pub const ROOM_LOCK_SETTING: &str = "access_lock";
/// The characters of a room code: no `0`/`O`, `1`/`I`/`L`, easy to read
/// aloud and to type.
pub const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
/// How long a room code is: 31⁶ ≈ 887 million codes, each guess costing an
/// Argon2id and a connection the relay slows down after a miss.
pub const CODE_LENGTH: usize = 6;

/// What signs a proof, so that a proof for a relay cannot stand for one for a
/// room (or the other way round) even when their passwords are the same.
const DOMAIN: &[u8] = b"tabula access v1\0";

/// Why something here failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AccessError {
    /// The system's random number source failed.
    #[error("the system's random number source failed: {0}")]
    Random(String),
    /// Argon2id parameters outside what this build accepts: a relay asking
    /// for them is refused rather than obeyed.
    #[error("the password parameters are out of bounds: {0}")]
    KdfOutOfBounds(String),
    /// A room lock as a file keeps it did not parse.
    #[error("the room's lock is not readable: {0}")]
    BadLock(String),
}

/// Argon2id's cost parameters: how much memory and time turning a password
/// into a key takes. Whoever chooses a salt chooses these with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kdf {
    /// Memory, in KiB: what makes each guess costly on any hardware.
    pub memory_kib: u32,
    /// Passes over that memory.
    pub iterations: u32,
    /// Lanes (parallelism); 1 here, so a derivation takes one core.
    pub lanes: u32,
}

impl Kdf {
    /// What this build derives with: 32 MiB, 3 passes, 1 lane (OWASP's
    /// second recommended setting is 19 MiB × 2; this is a little dearer).
    /// Measured on the 2-core development machine (dependencies optimised,
    /// as in every build, and other builds running): 125 to 160 ms a
    /// derivation, so about 100 ms on a laptop at rest.
    pub const DEFAULT: Self = Self {
        memory_kib: 32 * 1024,
        iterations: 3,
        lanes: 1,
    };
    /// The most memory a client spends on a relay's say-so (256 MiB).
    pub const MAX_MEMORY_KIB: u32 = 256 * 1024;
    /// The least memory accepted: less makes guessing cheap.
    pub const MIN_MEMORY_KIB: u32 = 8 * 1024;
    /// The most passes accepted.
    pub const MAX_ITERATIONS: u32 = 16;
    /// The most work accepted, in KiB of memory times passes: 512 MiB·passes,
    /// about five times [`Self::DEFAULT`] (under a second here), so that a
    /// hostile relay can make a client spend at most that per password on
    /// each connection, whatever memory and passes it names.
    pub const MAX_WORK: u64 = 512 * 1024;
    /// The most lanes accepted.
    pub const MAX_LANES: u32 = 8;

    /// Whether these parameters are within what this build derives with:
    /// neither so cheap that guessing is easy nor so dear that a hostile
    /// relay could make a client spend long.
    pub fn check(&self) -> Result<(), AccessError> {
        let problem = if !(Self::MIN_MEMORY_KIB..=Self::MAX_MEMORY_KIB).contains(&self.memory_kib) {
            format!(
                "{} KiB of memory (accepted: {} to {})",
                self.memory_kib,
                Self::MIN_MEMORY_KIB,
                Self::MAX_MEMORY_KIB
            )
        } else if !(1..=Self::MAX_ITERATIONS).contains(&self.iterations) {
            format!(
                "{} passes (accepted: 1 to {})",
                self.iterations,
                Self::MAX_ITERATIONS
            )
        } else if u64::from(self.memory_kib) * u64::from(self.iterations) > Self::MAX_WORK {
            format!(
                "{} KiB × {} passes (accepted: at most {} KiB·passes)",
                self.memory_kib,
                self.iterations,
                Self::MAX_WORK
            )
        } else if !(1..=Self::MAX_LANES).contains(&self.lanes) {
            format!("{} lanes (accepted: 1 to {})", self.lanes, Self::MAX_LANES)
        } else {
            return Ok(());
        };
        Err(AccessError::KdfOutOfBounds(problem))
    }
}

impl Default for Kdf {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Random bytes from the system.
fn random<const N: usize>() -> Result<[u8; N], AccessError> {
    let mut bytes = [0; N];
    getrandom::fill(&mut bytes).map_err(|err| AccessError::Random(err.to_string()))?;
    Ok(bytes)
}

/// Lowercase hex, for logs and the room file.
fn hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// Bytes from lowercase or uppercase hex, exactly `N` of them.
fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != 2 * N || !text.is_ascii() {
        return None;
    }
    let mut out = [0; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// A password's salt: random, chosen by whoever set the password, so that
/// the same password gives another key elsewhere.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Salt(pub [u8; SALT_BYTES]);

impl Salt {
    /// A fresh random salt.
    pub fn random() -> Result<Self, AccessError> {
        random().map(Self)
    }
}

impl fmt::Debug for Salt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Salt({})", hex(&self.0))
    }
}

/// The relay's challenge for one connection: proofs sign it, so a proof
/// captured on one connection is worthless on any other.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nonce(pub [u8; NONCE_BYTES]);

impl Nonce {
    /// A fresh random nonce.
    pub fn random() -> Result<Self, AccessError> {
        random().map(Self)
    }
}

impl fmt::Debug for Nonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Nonce({})", hex(&self.0))
    }
}

/// What a client needs to turn a password into the key a relay or room
/// checks: the salt and the cost the password's owner chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyParams {
    /// The password's salt.
    pub salt: Salt,
    /// Argon2id's cost.
    pub kdf: Kdf,
}

impl KeyParams {
    /// A fresh salt with this build's cost: for a new password.
    pub fn fresh() -> Result<Self, AccessError> {
        Ok(Self {
            salt: Salt::random()?,
            kdf: Kdf::DEFAULT,
        })
    }
}

/// The public half of a password's key: what a relay checks proofs with. It
/// cannot make a proof; someone holding it can only guess passwords offline,
/// one Argon2id per guess.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Verifier(pub [u8; 32]);

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Verifier({})", hex(&self.0))
    }
}

/// What a proof is for: the relay as a whole, or one room.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The relay-wide password.
    Relay,
    /// A room's password.
    Room,
    /// An invitation to a room.
    Invite,
}

/// A signature over the relay's nonce, the scope, the room and the client
/// id: proof of a password, for one connection.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proof(#[serde(with = "serde_bytes")] pub [u8; 64]);

impl fmt::Debug for Proof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Proof(..)")
    }
}

/// What a proof signs: every field that makes it good for this connection,
/// this room and this client only.
fn transcript(scope: Scope, nonce: &Nonce, room: &str, client: ClientId) -> Vec<u8> {
    let mut message = Vec::with_capacity(DOMAIN.len() + 1 + NONCE_BYTES + 4 + room.len() + 16);
    message.extend_from_slice(DOMAIN);
    message.push(match scope {
        Scope::Relay => b'R',
        Scope::Room => b'r',
        Scope::Invite => b'i',
    });
    message.extend_from_slice(&nonce.0);
    let len = u32::try_from(room.len()).unwrap_or(u32::MAX);
    message.extend_from_slice(&len.to_le_bytes());
    message.extend_from_slice(room.as_bytes());
    message.extend_from_slice(client.0.as_bytes());
    message
}

impl Verifier {
    /// Whether `proof` was made with the key this verifies, for this scope,
    /// nonce, room and client.
    #[must_use]
    pub fn accepts(
        &self,
        proof: &Proof,
        scope: Scope,
        nonce: &Nonce,
        room: &str,
        client: ClientId,
    ) -> bool {
        let Ok(key) = VerifyingKey::from_bytes(&self.0) else {
            return false;
        };
        let signature = Signature::from_bytes(&proof.0);
        key.verify_strict(&transcript(scope, nonce, room, client), &signature)
            .is_ok()
    }
}

/// A password, kept out of logs: its `Debug` shows nothing of it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wraps a password; `None` for an empty one (no password).
    #[must_use]
    pub fn new(password: impl Into<String>) -> Option<Self> {
        let password = password.into();
        (!password.is_empty()).then_some(Self(password))
    }

    /// The password itself, to show in a field or an invite (never a log).
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(..)")
    }
}

/// A password's key: signs proofs. Derived on the client for each salt it
/// is asked about, and by a relay for its own password only.
#[derive(Clone)]
pub struct AccessKey(SigningKey);

impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccessKey({:?})", self.verifier())
    }
}

/// Turns `password` into its key with Argon2id over `params`. CPU work for
/// [`Kdf::DEFAULT`]'s 100 ms or so: run it off a UI thread or tokio worker.
/// Refuses parameters out of [`Kdf::check`]'s bounds before spending
/// anything.
pub fn derive(password: &Password, params: &KeyParams) -> Result<AccessKey, AccessError> {
    params.kdf.check()?;
    let argon = Params::new(
        params.kdf.memory_kib,
        params.kdf.iterations,
        params.kdf.lanes,
        Some(32),
    )
    .map_err(|err| AccessError::KdfOutOfBounds(err.to_string()))?;
    let mut seed = [0; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, argon)
        .hash_password_into(password.0.as_bytes(), &params.salt.0, &mut seed)
        .map_err(|err| AccessError::KdfOutOfBounds(err.to_string()))?;
    let key = SigningKey::from_bytes(&seed);
    seed.fill(0);
    Ok(AccessKey(key))
}

impl AccessKey {
    /// The public half, which checks this key's proofs.
    #[must_use]
    pub fn verifier(&self) -> Verifier {
        Verifier(self.0.verifying_key().to_bytes())
    }

    /// Proves the password for `scope` on the connection whose relay sent
    /// `nonce`, for `room` and `client`.
    #[must_use]
    pub fn prove(&self, scope: Scope, nonce: &Nonce, room: &str, client: ClientId) -> Proof {
        Proof(
            self.0
                .sign(&transcript(scope, nonce, room, client))
                .to_bytes(),
        )
    }
}

/// A room's password as the relay keeps it (in the room's file, so that it
/// survives restarts and travels with the file): the salt and cost to derive
/// with, and the key's public half to check proofs with. Set by whoever
/// creates the room, never changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomLock {
    /// How a client derives the room's key.
    pub params: KeyParams,
    /// What checks its proofs.
    pub verifier: Verifier,
}

impl RoomLock {
    /// The lock for `password` with fresh parameters, and its key (to prove
    /// it at once). Argon2id: off the UI thread.
    pub fn new(password: &Password) -> Result<(Self, AccessKey), AccessError> {
        let params = KeyParams::fresh()?;
        let key = derive(password, &params)?;
        Ok((Self::of(params, &key), key))
    }

    /// The lock `key`, derived with `params`, opens.
    #[must_use]
    pub fn of(params: KeyParams, key: &AccessKey) -> Self {
        Self {
            params,
            verifier: key.verifier(),
        }
    }

    /// The lock as the room file's `meta` keeps it (one line of text).
    #[must_use]
    pub fn to_meta(&self) -> String {
        let kdf = &self.params.kdf;
        format!(
            "v1 argon2id m={} t={} p={} salt={} ed25519={}",
            kdf.memory_kib,
            kdf.iterations,
            kdf.lanes,
            hex(&self.params.salt.0),
            hex(&self.verifier.0)
        )
    }

    /// Reads a lock [`Self::to_meta`] wrote.
    pub fn from_meta(text: &str) -> Result<Self, AccessError> {
        let bad = || AccessError::BadLock(format!("{text:?}"));
        let mut fields = text.split_ascii_whitespace();
        if fields.next() != Some("v1") || fields.next() != Some("argon2id") {
            return Err(bad());
        }
        let mut value = |name: &str| {
            fields
                .next()
                .and_then(|field| field.strip_prefix(name))
                .and_then(|field| field.strip_prefix('='))
                .ok_or_else(bad)
        };
        let number = |text: &str| text.parse::<u32>().map_err(|_| bad());
        let kdf = Kdf {
            memory_kib: number(value("m")?)?,
            iterations: number(value("t")?)?,
            lanes: number(value("p")?)?,
        };
        let salt = Salt(unhex(value("salt")?).ok_or_else(bad)?);
        let verifier = Verifier(unhex(value("ed25519")?).ok_or_else(bad)?);
        kdf.check()?;
        Ok(Self {
            params: KeyParams { salt, kdf },
            verifier,
        })
    }
}

/// Who someone is in a room: the relay gives each client a random secret in
/// its welcome, and a hello that names a client id the room knows must carry
/// that id's secret. Its `Debug` shows nothing of it.
#[derive(Clone, Copy, Serialize, Deserialize)]
pub struct ResumeSecret(pub [u8; SECRET_BYTES]);

impl ResumeSecret {
    /// A fresh random secret.
    pub fn random() -> Result<Self, AccessError> {
        random().map(Self)
    }

    /// Whether `other` is the same secret, in constant time.
    #[must_use]
    pub fn matches(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl PartialEq for ResumeSecret {
    fn eq(&self, other: &Self) -> bool {
        self.matches(other)
    }
}

impl Eq for ResumeSecret {}

impl fmt::Debug for ResumeSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResumeSecret(..)")
    }
}

/// What someone may do in a room. Ordered: each can do what the one before
/// it can, and more.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Role {
    /// Sees everything, live and in replay, and can save a copy; cannot
    /// change the board.
    Viewer,
    /// Draws and edits.
    Editor,
    /// Edits, and runs the room: roles, kicks, the lock, view-only, invites.
    Operator,
}

impl Role {
    /// The word for it, in the room file and in sentences.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Editor => "editor",
            Self::Operator => "operator",
        }
    }

    /// The role [`Self::name`] names.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Viewer, Self::Editor, Self::Operator]
            .into_iter()
            .find(|role| role.name() == name)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The secret an invitation link carries: the seed of an Ed25519 key whose
/// public half the room keeps. Its `Debug` shows nothing of it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct InviteToken(pub [u8; SECRET_BYTES]);

impl InviteToken {
    /// A fresh random token.
    pub fn random() -> Result<Self, AccessError> {
        random().map(Self)
    }

    /// The key that proves this invitation.
    #[must_use]
    pub fn key(&self) -> AccessKey {
        AccessKey(SigningKey::from_bytes(&self.0))
    }

    /// The invitation's public half: what the room keeps, and what a hello
    /// names to say which invitation it comes with.
    #[must_use]
    pub fn verifier(&self) -> Verifier {
        self.key().verifier()
    }

    /// The form a link carries after `#invite=`: 64 hex digits.
    #[must_use]
    pub fn to_text(&self) -> String {
        hex(&self.0)
    }

    /// Reads [`Self::to_text`]'s form.
    #[must_use]
    pub fn from_text(text: &str) -> Option<Self> {
        unhex(text.trim()).map(Self)
    }
}

impl fmt::Debug for InviteToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InviteToken(..)")
    }
}

impl Verifier {
    /// Its bytes as hex: how a room file names an invitation.
    #[must_use]
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    /// Reads [`Self::to_hex`]'s form.
    #[must_use]
    pub fn from_hex(text: &str) -> Option<Self> {
        unhex(text).map(Self)
    }
}

/// A fresh room code: [`CODE_LENGTH`] characters of [`CODE_ALPHABET`].
pub fn new_code() -> Result<Password, AccessError> {
    // Rejection sampling: 256 is not a multiple of the alphabet's length.
    let limit = 256 - 256 % CODE_ALPHABET.len();
    let mut code = String::with_capacity(CODE_LENGTH);
    while code.len() < CODE_LENGTH {
        for byte in random::<16>()? {
            if usize::from(byte) < limit && code.len() < CODE_LENGTH {
                code.push(char::from(
                    CODE_ALPHABET[usize::from(byte) % CODE_ALPHABET.len()],
                ));
            }
        }
    }
    Ok(Password(code))
}

/// Splits a room's URL from the code its fragment carries:
/// `ws://HOST:PORT/ROOM#code=K7QX2M` is `ws://HOST:PORT/ROOM` and `K7QX2M`.
/// A URL without a `code=` fragment comes back whole, with no code.
#[must_use]
pub fn split_code(url: &str) -> (&str, Option<Password>) {
    let base = url.split_once('#').map_or(url, |(base, _)| base);
    (base, fragment_value(url, "code").and_then(Password::new))
}

/// `url` with `code` in its fragment, as [`split_code`] reads it, beside
/// whatever else the fragment says (a certificate's `fp=`) and instead of
/// any code it had. A code from [`CODE_ALPHABET`] needs no escaping.
#[must_use]
pub fn with_code(url: &str, code: &Password) -> String {
    with_fragment_value(url, "code", &code.0)
}

/// The invitation a room's URL carries (`#invite=…`), if any: the URL
/// without its fragment, and the token.
#[must_use]
pub fn split_invite(url: &str) -> (&str, Option<InviteToken>) {
    let base = url.split_once('#').map_or(url, |(base, _)| base);
    (
        base,
        fragment_value(url, "invite").and_then(InviteToken::from_text),
    )
}

/// `url` with `invite` in its fragment, beside whatever else it says (the
/// certificate's `fp=`) and instead of any invitation and code it had: an
/// invitation admits without the code, and a viewer's link must not carry
/// what would let its holder in as an editor.
#[must_use]
pub fn with_invite(url: &str, invite: &InviteToken) -> String {
    let (base, fragment) = url.split_once('#').unwrap_or((url, ""));
    let kept: Vec<&str> = fragment
        .split('&')
        .filter(|part| !part.is_empty() && !part.starts_with("code="))
        .collect();
    with_fragment_value(
        &format!("{base}#{}", kept.join("&")),
        "invite",
        &invite.to_text(),
    )
}

/// The value of `key=` in `url`'s fragment (`#a=1&key=value`).
fn fragment_value<'a>(url: &'a str, key: &str) -> Option<&'a str> {
    let (_, fragment) = url.split_once('#')?;
    fragment
        .split('&')
        .find_map(|part| part.strip_prefix(key)?.strip_prefix('='))
}

/// `url` with `key=value` in its fragment, instead of any `key=` it had.
fn with_fragment_value(url: &str, key: &str, value: &str) -> String {
    let (base, fragment) = url.split_once('#').unwrap_or((url, ""));
    let mut parts: Vec<&str> = fragment
        .split('&')
        .filter(|part| {
            !part.is_empty()
                && part
                    .strip_prefix(key)
                    .is_none_or(|rest| !rest.starts_with('='))
        })
        .collect();
    let pair = format!("{key}={value}");
    parts.push(&pair);
    format!("{base}#{}", parts.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cheap parameters, for tests that derive often.
    fn quick() -> KeyParams {
        KeyParams {
            salt: Salt::random().unwrap(),
            kdf: Kdf {
                memory_kib: Kdf::MIN_MEMORY_KIB,
                iterations: 1,
                lanes: 1,
            },
        }
    }

    fn password(text: &str) -> Password {
        Password::new(text).unwrap()
    }

    #[test]
    fn a_proof_holds_for_its_password_nonce_scope_room_and_client_only() {
        let params = quick();
        let key = derive(&password("hunter2"), &params).unwrap();
        let verifier = key.verifier();
        let (nonce, client) = (Nonce::random().unwrap(), ClientId::random());
        let proof = key.prove(Scope::Room, &nonce, "team", client);
        assert!(verifier.accepts(&proof, Scope::Room, &nonce, "team", client));
        // The same password and salt give the same key.
        assert_eq!(
            derive(&password("hunter2"), &params).unwrap().verifier(),
            verifier
        );
        let other_nonce = Nonce::random().unwrap();
        assert!(!verifier.accepts(&proof, Scope::Room, &other_nonce, "team", client));
        assert!(!verifier.accepts(&proof, Scope::Relay, &nonce, "team", client));
        assert!(!verifier.accepts(&proof, Scope::Room, &nonce, "teams", client));
        assert!(!verifier.accepts(&proof, Scope::Room, &nonce, "team", ClientId::random()));
        let wrong = derive(&password("hunter3"), &params).unwrap();
        assert!(!verifier.accepts(
            &wrong.prove(Scope::Room, &nonce, "team", client),
            Scope::Room,
            &nonce,
            "team",
            client
        ));
        let other_salt = KeyParams {
            salt: Salt::random().unwrap(),
            ..params
        };
        assert_ne!(
            derive(&password("hunter2"), &other_salt)
                .unwrap()
                .verifier(),
            verifier
        );
        assert!(!verifier.accepts(&Proof([0; 64]), Scope::Room, &nonce, "team", client));
    }

    #[test]
    fn parameters_out_of_bounds_are_refused_before_deriving() {
        let mut params = quick();
        params.kdf.memory_kib = Kdf::MAX_MEMORY_KIB + 1;
        assert!(matches!(
            derive(&password("x"), &params),
            Err(AccessError::KdfOutOfBounds(_))
        ));
        params.kdf.memory_kib = 64;
        assert!(derive(&password("x"), &params).is_err());
        params.kdf = Kdf {
            iterations: 1000,
            ..Kdf::DEFAULT
        };
        assert!(derive(&password("x"), &params).is_err());
        // Each bound alone is met, their product is not: 256 MiB × 16 passes.
        params.kdf = Kdf {
            memory_kib: Kdf::MAX_MEMORY_KIB,
            iterations: Kdf::MAX_ITERATIONS,
            lanes: 1,
        };
        assert!(matches!(
            derive(&password("x"), &params),
            Err(AccessError::KdfOutOfBounds(_))
        ));
        Kdf::DEFAULT.check().unwrap();
    }

    #[test]
    fn a_room_lock_round_trips_through_its_meta_text() {
        let params = quick();
        let key = derive(&password("p"), &params).unwrap();
        let lock = RoomLock::of(params, &key);
        let text = lock.to_meta();
        assert!(
            text.starts_with("v1 argon2id m=8192 t=1 p=1 salt="),
            "{text}"
        );
        assert_eq!(RoomLock::from_meta(&text).unwrap(), lock);
        for bad in [
            "",
            "v2 argon2id m=8192 t=1 p=1 salt=00 ed25519=00",
            &text.replace("salt=", "salt=0"),
            &text.replace("m=8192", "m=1"),
            &text.replace(" t=1", ""),
        ] {
            assert!(RoomLock::from_meta(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn secrets_and_passwords_stay_out_of_debug_output() {
        let secret = ResumeSecret::random().unwrap();
        assert_eq!(format!("{secret:?}"), "ResumeSecret(..)");
        assert!(secret.matches(&secret.clone()));
        assert!(!secret.matches(&ResumeSecret::random().unwrap()));
        assert_eq!(format!("{:?}", password("hunter2")), "Password(..)");
        let key = derive(&password("hunter2"), &quick()).unwrap();
        assert!(format!("{key:?}").starts_with("AccessKey(Verifier("));
        assert!(Password::new("").is_none());
    }

    #[test]
    fn codes_are_short_readable_and_ride_in_the_url_fragment() {
        let code = new_code().unwrap();
        assert_eq!(code.expose().len(), CODE_LENGTH);
        assert!(code.expose().bytes().all(|b| CODE_ALPHABET.contains(&b)));
        assert_ne!(new_code().unwrap(), code, "31^6 codes: no repeat here");
        let url = with_code("ws://10.0.0.2:7457/team", &code);
        assert_eq!(
            url,
            format!("ws://10.0.0.2:7457/team#code={}", code.expose())
        );
        assert_eq!(
            split_code(&url),
            ("ws://10.0.0.2:7457/team", Some(code.clone()))
        );
        assert_eq!(split_code("ws://h/r"), ("ws://h/r", None));
        let pinned = with_code("wss://h:1/r#fp=abc&code=OLD", &code);
        assert_eq!(pinned, format!("wss://h:1/r#fp=abc&code={}", code.expose()));
        assert_eq!(split_code(&pinned).1, Some(code.clone()));
        assert_eq!(split_code("ws://h/r#other=1"), ("ws://h/r", None));
        assert_eq!(
            split_code("ws://h/r#x=1&code=AB"),
            ("ws://h/r", Password::new("AB"))
        );
    }

    #[test]
    fn an_invitation_proves_itself_and_travels_in_a_link_without_the_code() {
        let token = InviteToken::random().unwrap();
        let (nonce, client) = (Nonce::random().unwrap(), ClientId::random());
        let proof = token.key().prove(Scope::Invite, &nonce, "team", client);
        assert!(
            token
                .verifier()
                .accepts(&proof, Scope::Invite, &nonce, "team", client)
        );
        assert!(
            !token
                .verifier()
                .accepts(&proof, Scope::Room, &nonce, "team", client)
        );
        let other = InviteToken::random().unwrap();
        assert!(
            !other
                .verifier()
                .accepts(&proof, Scope::Invite, &nonce, "team", client)
        );
        let link = with_invite("wss://h:1/team#fp=abc&code=K7QX2M", &token);
        assert_eq!(
            link,
            format!("wss://h:1/team#fp=abc&invite={}", token.to_text())
        );
        assert_eq!(split_invite(&link), ("wss://h:1/team", Some(token)));
        assert_eq!(split_code(&link).1, None);
        assert_eq!(split_invite("ws://h/r#invite=nothex").1, None);
        assert_eq!(
            Verifier::from_hex(&token.verifier().to_hex()),
            Some(token.verifier())
        );
        assert_eq!(Role::from_name("viewer"), Some(Role::Viewer));
        assert!(Role::Viewer < Role::Editor && Role::Editor < Role::Operator);
    }

    /// Prints what a derivation with [`Kdf::DEFAULT`] costs here:
    /// `cargo test -p tabula-shared --lib access::tests::measure -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn measure_the_default_cost() {
        let params = KeyParams::fresh().unwrap();
        for _ in 0..5 {
            let started = std::time::Instant::now();
            let _ = derive(&password("correct horse"), &params).unwrap();
            eprintln!("Argon2id {:?}: {:?}", Kdf::DEFAULT, started.elapsed());
        }
    }
}
