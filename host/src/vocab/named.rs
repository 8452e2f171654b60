//! `named_enum!`: fieldless enums with one stable name per value, used in files, on the command
//! line and in messages (the same names as the WIT, e.g. `secure-then-send`).

/// Defines a fieldless enum whose values have names: `ALL`, `name()`, `Display`, `FromStr` (with an
/// error listing every accepted name) and serde as the name.
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident as $what:literal {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )*
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// How many values there are.
            pub const COUNT: usize = $name::ALL.len();

            /// The value's position in `ALL` (for tables indexed by value).
            #[inline(always)]
            pub const fn index(self) -> usize {
                self as usize
            }

            /// The value's name, as used in files, on the command line and in the WIT.
            pub fn name(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )*
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad(self.name())
            }
        }

        impl std::str::FromStr for $name {
            type Err = crate::vocab::NameError;

            fn from_str(text: &str) -> Result<$name, crate::vocab::NameError> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|value| value.name() == text)
                    .ok_or_else(|| crate::vocab::NameError::new($what, text, $name::ALL.iter().map(|v| v.name())))
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.name())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<$name, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

pub(crate) use named_enum;

/// A name that is none of an enum's names (an unknown action, role, access kind…).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not {what}: expected one of {expected}")]
pub struct NameError {
    what: &'static str,
    input: String,
    expected: String,
}

impl NameError {
    pub(crate) fn new<'a>(what: &'static str, input: &str, names: impl Iterator<Item = &'a str>) -> NameError {
        let expected = names.map(|name| format!("`{name}`")).collect::<Vec<_>>().join(", ");
        NameError { what, input: input.to_owned(), expected }
    }
}
