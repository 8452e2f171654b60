//! What a List 1 entry vouches for ([`PathATerms`]): the access kinds over which the listed network
//! protects path A, and whether that protection needs access-layer integrity as well as ciphering.
//!
//! 000 words List 1 as the networks "known to use secure path A (for example where air interface
//! encryption and/or integrity protection is used)", and lets the method serve wireline and other
//! non-3GPP networks too (claims 23 and 42; "BBF Broadband Forum networks"). An entry therefore names
//! the access kinds it speaks for — 3GPP radio when it names none — and may ask for integrity where the
//! operator reads "and/or" as "and".

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::vocab::AccessKind;

/// A set of access kinds, as a List 1 entry names them.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccessKinds(u8);

impl AccessKinds {
    /// 3GPP radio access alone: what an entry that names no access kind vouches for.
    pub const THREE_GPP: AccessKinds = AccessKinds(1);

    /// No access kind.
    pub const NONE: AccessKinds = AccessKinds(0);

    /// The set holding `kind` alone.
    pub const fn of(kind: AccessKind) -> AccessKinds {
        AccessKinds(1 << kind.index())
    }

    /// This set with `kind` added.
    pub const fn with(self, kind: AccessKind) -> AccessKinds {
        AccessKinds(self.0 | 1 << kind.index())
    }

    /// Whether the set holds `kind`.
    #[inline(always)]
    pub const fn contains(self, kind: AccessKind) -> bool {
        self.0 & (1 << kind.index()) != 0
    }

    /// The set as bits: bit `n` for the access kind whose [`AccessKind::index`] is `n` (the WIT's
    /// `access-kind` case `n`).
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// The set of these bits; bits that name no access kind are dropped.
    pub const fn from_bits(bits: u8) -> AccessKinds {
        AccessKinds(bits & ((1 << AccessKind::COUNT) - 1))
    }

    /// The kinds in the set, in declaration order.
    pub fn iter(self) -> impl Iterator<Item = AccessKind> {
        AccessKind::ALL.iter().copied().filter(move |kind| self.contains(*kind))
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl Default for AccessKinds {
    fn default() -> AccessKinds {
        AccessKinds::THREE_GPP
    }
}

impl fmt::Debug for AccessKinds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl fmt::Display for AccessKinds {
    /// The names joined with commas: `3gpp,wireline`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, kind) in self.iter().enumerate() {
            if index > 0 {
                f.write_str(",")?;
            }
            f.write_str(kind.name())?;
        }
        Ok(())
    }
}

impl FromIterator<AccessKind> for AccessKinds {
    fn from_iter<I: IntoIterator<Item = AccessKind>>(kinds: I) -> AccessKinds {
        kinds.into_iter().fold(AccessKinds::NONE, AccessKinds::with)
    }
}

impl Serialize for AccessKinds {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for AccessKinds {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<AccessKinds, D::Error> {
        let kinds = Vec::<AccessKind>::deserialize(deserializer)?;
        if kinds.is_empty() {
            return Err(serde::de::Error::custom(
                "a List 1 entry must vouch for at least one access kind: leave `access` out for 3GPP alone, or name the kinds (3gpp, trusted-non-3gpp, untrusted-non-3gpp, wireline)",
            ));
        }
        Ok(kinds.into_iter().collect())
    }
}

/// What one List 1 entry vouches for.
///
/// Path A counts as protected through a listed network only for an access kind the entry names. Where
/// the deciding node knows its access security (the device always; a server the network told), ciphering
/// *or* integrity on protects path A, as 000 words it; with `integrity_required` the entry asks for
/// integrity too. An untrusted non-3GPP access is protected by its IPsec tunnel to the core (ePDG or
/// N3IWF): list it only for networks whose tunnels the operator trusts; the node's link state then
/// describes the tunnel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct PathATerms {
    /// The access kinds the entry vouches for; [`AccessKinds::THREE_GPP`] by default.
    pub access: AccessKinds,
    /// Path A is protected only when access-layer integrity is on too (where the node knows).
    pub integrity_required: bool,
}

impl PathATerms {
    /// The terms of an entry that names nothing but its network: 3GPP radio, ciphering or integrity.
    pub const DEFAULT: PathATerms = PathATerms { access: AccessKinds::THREE_GPP, integrity_required: false };

    /// The terms for these access kinds, with the default integrity rule.
    pub const fn access(access: AccessKinds) -> PathATerms {
        PathATerms { access, integrity_required: false }
    }

    /// These terms, asking for integrity as well.
    pub const fn requiring_integrity(self) -> PathATerms {
        PathATerms { integrity_required: true, ..self }
    }

    /// The terms as the WIT's List 1 entries carry them: bits 0-3 the access kinds (bit `n` for
    /// `access-kind` case `n`), bit 4 `integrity-required`.
    pub const fn bits(self) -> u8 {
        self.access.bits() | (self.integrity_required as u8) << 4
    }

    /// The terms these bits give.
    pub const fn from_bits(bits: u8) -> PathATerms {
        PathATerms { access: AccessKinds::from_bits(bits), integrity_required: bits & 1 << 4 != 0 }
    }

    /// Whether these are an entry's default terms (written as the network alone).
    pub fn is_default(self) -> bool {
        self == PathATerms::DEFAULT
    }
}

impl fmt::Display for PathATerms {
    /// `3gpp`, `3gpp,wireline`, `3gpp integrity-required`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.access)?;
        if self.integrity_required {
            f.write_str(" integrity-required")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_round_trip_and_default_is_three_gpp() {
        assert!(PathATerms::default().access.contains(AccessKind::ThreeGpp));
        assert!(!PathATerms::default().access.contains(AccessKind::Wireline));
        for bits in 0..32u8 {
            assert_eq!(PathATerms::from_bits(bits).bits(), bits);
        }
        let terms =
            PathATerms::access(AccessKinds::of(AccessKind::Wireline).with(AccessKind::ThreeGpp)).requiring_integrity();
        assert_eq!(terms.to_string(), "3gpp,wireline integrity-required");
        assert_eq!(terms.bits(), 0b1_1001);
    }
}
