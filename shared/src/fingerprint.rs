//! Certificate fingerprints: how a relay's TLS certificate is named, pinned
//! and compared by people.
//!
//! A [`Fingerprint`] is the SHA-256 of a certificate's DER encoding (the leaf's,
//! the one the relay presents). It is written three ways:
//! - **long** ([`Fingerprint::long`]): 32 bytes in hex, colon-separated, as
//!   `openssl x509 -fingerprint -sha256` prints it; what logs, `gen-cert` and
//!   the known-hosts file show.
//! - **in a URL** ([`Fingerprint::url_form`]): base64url without padding (43
//!   characters), in an invitation's fragment: `wss://HOST:PORT/ROOM#fp=…`.
//!   [`Fingerprint::parse`] reads this and the hex forms alike.
//! - **short code** ([`Fingerprint::short_code`]): the first 80 bits as 16
//!   Crockford base32 characters in four groups (`K7QX-2M9D-4HRT-8PZW`), for
//!   people to read aloud and compare: the host reads the code its app shows,
//!   and everyone checks that theirs is the same.
//!
//! # Why 80 bits
//! Whoever compares codes is protected against a machine on the network that
//! sits between them and the relay (a rogue access point, a spoofed address)
//! and presents a certificate of its own. Its certificate must have the same
//! short code as the relay's: a *second pre-image* of 80 bits of SHA-256 (the
//! attacker does not get to choose the relay's certificate, so a collision,
//! the birthday bound's 2^40 work, does not help). The relay's certificate is
//! long-lived and anyone on the network can fetch it, so the attacker may grind
//! ahead of time, and grinding is cheap: the client only checks the handshake's
//! signature against the key in the certificate, so changing a byte of the
//! certificate costs one SHA-256 of a block or two. A GPU does some 10^10 of
//! those a second: 40 bits (8 characters) would fall in about a minute, 60 bits
//! in a couple of GPU-years, which a rented cluster shortens to days. 80 bits
//! take some 2^80 / 10^10 s, millions of GPU-years. Sixteen characters is still
//! a sentence people can read to each other; the machine itself always pins and
//! compares all 256 bits.

use std::fmt::{self, Write as _};

use sha2::{Digest as _, Sha256};

/// How many leading bits of the fingerprint the short code shows.
pub const SHORT_CODE_BITS: usize = 80;

/// Crockford's base32 alphabet: digits and capitals without I, L, O and U,
/// which are read or heard as 1, 1, 0 and V.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// The base64url alphabet (RFC 4648, section 5).
const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The SHA-256 of a certificate's DER encoding.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint([u8; 32]);

/// Why a text is not a fingerprint.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a certificate fingerprint: expected 64 hex digits (colons allowed) or 43 base64url characters"
)]
pub struct FingerprintError(pub String);

impl Fingerprint {
    /// The fingerprint of the certificate whose DER encoding is `der`.
    #[must_use]
    pub fn of_certificate(der: &[u8]) -> Self {
        Self(Sha256::digest(der).into())
    }

    /// A fingerprint from its 32 bytes.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Its 32 bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Hex pairs separated by colons: `AB:CD:…` (95 characters).
    #[must_use]
    pub fn long(&self) -> String {
        let mut text = String::with_capacity(95);
        for (i, byte) in self.0.iter().enumerate() {
            if i > 0 {
                text.push(':');
            }
            let _ = write!(text, "{byte:02X}");
        }
        text
    }

    /// The code people compare aloud: the first [`SHORT_CODE_BITS`] bits in
    /// Crockford base32, four groups of four (`K7QX-2M9D-4HRT-8PZW`).
    #[must_use]
    pub fn short_code(&self) -> String {
        let mut code = String::with_capacity(19);
        for i in 0..SHORT_CODE_BITS / 5 {
            if i > 0 && i % 4 == 0 {
                code.push('-');
            }
            code.push(char::from(CROCKFORD[usize::from(self.bits(i * 5, 5))]));
        }
        code
    }

    /// The form an invitation URL carries after `#fp=`: base64url without
    /// padding (43 characters).
    #[must_use]
    pub fn url_form(&self) -> String {
        let mut text = String::with_capacity(43);
        for i in 0..43 {
            // 256 bits in 6-bit groups: the last group is 4 bits, padded with zeros.
            let width = (256 - i * 6).min(6);
            let value = self.bits(i * 6, width) << (6 - width);
            text.push(char::from(BASE64URL[usize::from(value)]));
        }
        text
    }

    /// Reads a fingerprint in any of the forms it is written in: hex (upper or
    /// lower case, with or without colons or spaces) or base64url.
    pub fn parse(text: &str) -> Result<Self, FingerprintError> {
        let error = || FingerprintError(text.to_owned());
        let trimmed = text.trim();
        let hex: Vec<u8> = trimmed
            .bytes()
            .filter(|b| *b != b':' && !b.is_ascii_whitespace())
            .collect();
        let mut bytes = [0; 32];
        if hex.len() == 64 && hex.iter().all(u8::is_ascii_hexdigit) {
            for (byte, pair) in bytes.iter_mut().zip(hex.chunks(2)) {
                *byte = (hex_value(pair[0]) << 4) | hex_value(pair[1]);
            }
            return Ok(Self(bytes));
        }
        if trimmed.len() != 43 {
            return Err(error());
        }
        let mut acc: u32 = 0;
        let mut held = 0;
        let mut out = 0;
        for byte in trimmed.bytes() {
            let value = BASE64URL
                .iter()
                .position(|b| *b == byte)
                .ok_or_else(error)?;
            acc = (acc << 6) | value as u32;
            held += 6;
            if held >= 8 {
                held -= 8;
                bytes[out] = (acc >> held) as u8;
                out += 1;
                acc &= (1 << held) - 1;
            }
        }
        // The 4 bits left over must be the padding zeros url_form writes.
        if acc != 0 {
            return Err(error());
        }
        Ok(Self(bytes))
    }

    /// `width` (at most 8) bits from bit `at`, most significant first; bits
    /// past the end read as zero.
    fn bits(&self, at: usize, width: usize) -> u8 {
        let mut value = 0u8;
        for bit in at..at + width {
            let set = self
                .0
                .get(bit / 8)
                .is_some_and(|b| b & (0x80 >> (bit % 8)) != 0);
            value = (value << 1) | u8::from(set);
        }
        value
    }
}

/// The value of an ASCII hex digit.
fn hex_value(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        _ => digit - b'A' + 10,
    }
}

impl fmt::Display for Fingerprint {
    /// The long form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.long())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", self.short_code())
    }
}

impl std::str::FromStr for Fingerprint {
    type Err = FingerprintError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_reads_back() {
        let fp = Fingerprint::of_certificate(b"not really a certificate");
        assert_eq!(fp.long().len(), 95);
        assert_eq!(fp.url_form().len(), 43);
        for text in [
            fp.long(),
            fp.long().to_lowercase(),
            fp.long().replace(':', ""),
            fp.url_form(),
        ] {
            assert_eq!(Fingerprint::parse(&text), Ok(fp), "{text}");
        }
        for bad in ["", "AB:CD", &fp.url_form()[1..], &"G".repeat(64)] {
            assert!(Fingerprint::parse(bad).is_err(), "{bad}");
        }
        // A last character whose padding bits are not zero is someone's typo.
        let mut typo = fp.url_form();
        let last = typo.pop().unwrap();
        let index = BASE64URL.iter().position(|b| *b == last as u8).unwrap();
        assert_eq!(index & 0b11, 0, "url_form pads with zeros");
        typo.push(BASE64URL[index | 1] as char);
        assert!(Fingerprint::parse(&typo).is_err());
    }

    #[test]
    fn known_values() {
        // The SHA-256 of the empty string.
        let fp = Fingerprint::of_certificate(b"");
        assert!(fp.long().starts_with("E3:B0:C4:42:98:FC:1C:14"), "{fp}");
        assert_eq!(fp.url_form(), "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
        // Its first 80 bits in Crockford base32, as Python's int.to_bytes and a
        // table lookup give them.
        assert_eq!(fp.short_code(), "WERC-8GMR-ZGE1-96QV");
    }

    #[test]
    fn short_codes_use_only_unambiguous_characters() {
        for seed in 0..200u32 {
            let code = Fingerprint::of_certificate(&seed.to_le_bytes()).short_code();
            assert_eq!(code.len(), 19);
            assert!(!code.contains(['I', 'L', 'O', 'U']), "{code}");
            assert_eq!(code.split('-').count(), 4);
        }
    }
}
