//! Bounded numbers of the query strings (`limit`, `from_version`, `from`): parsed and checked
//! once, while the query is deserialized, so a handler only sees values in range.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// A whole number from `MIN` to `MAX`, `DEFAULT` when the parameter is absent (with
/// `#[serde(default)]`). Out of range or not a number: the error names the bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounded<const MIN: u64, const MAX: u64, const DEFAULT: u64>(u64);

/// A page size: 1 to 1000 entries, 100 by default.
pub type PageLimit = Bounded<1, 1000, 100>;

/// Where a page starts (a stream version or a checkpoint stream sequence, both counted from 1):
/// up to the largest `bigint`, so that it fits the database.
pub type Start = Bounded<1, { i64::MAX as u64 }, 1>;

impl<const MIN: u64, const MAX: u64, const DEFAULT: u64> Bounded<MIN, MAX, DEFAULT> {
    /// The smallest value accepted.
    pub const MIN: u64 = MIN;
    /// The largest value accepted.
    pub const MAX: u64 = MAX;

    /// The value.
    pub fn get(self) -> u64 {
        self.0
    }

    /// The value as a `bigint`.
    pub fn get_i64(self) -> i64 {
        const { assert!(MAX <= i64::MAX as u64, "the bound must fit a bigint") };
        // In range by construction and by the assertion above.
        self.0 as i64
    }

    /// The value as a count of items.
    pub fn get_usize(self) -> usize {
        const { assert!(MAX <= u32::MAX as u64, "the bound must fit every usize") };
        self.0 as usize
    }
}

impl<const MIN: u64, const MAX: u64, const DEFAULT: u64> Default for Bounded<MIN, MAX, DEFAULT> {
    fn default() -> Self {
        const {
            assert!(
                MIN <= DEFAULT && DEFAULT <= MAX,
                "the default must be in range"
            )
        };
        Self(DEFAULT)
    }
}

impl<'de, const MIN: u64, const MAX: u64, const DEFAULT: u64> Deserialize<'de>
    for Bounded<MIN, MAX, DEFAULT>
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Digits<const MIN: u64, const MAX: u64>;

        impl<const MIN: u64, const MAX: u64> Digits<MIN, MAX> {
            fn check<E: de::Error>(value: Option<u64>) -> Result<u64, E> {
                value
                    .filter(|v| (MIN..=MAX).contains(v))
                    .ok_or_else(|| E::custom(format_args!("a whole number from {MIN} to {MAX}")))
            }
        }

        impl<const MIN: u64, const MAX: u64> Visitor<'_> for Digits<MIN, MAX> {
            type Value = u64;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "a whole number from {MIN} to {MAX}")
            }

            fn visit_str<E: de::Error>(self, raw: &str) -> Result<u64, E> {
                Self::check(raw.parse().ok())
            }

            fn visit_u64<E: de::Error>(self, value: u64) -> Result<u64, E> {
                Self::check(Some(value))
            }

            fn visit_i64<E: de::Error>(self, value: i64) -> Result<u64, E> {
                Self::check(u64::try_from(value).ok())
            }
        }

        // Query strings are text; the visitor parses the digits itself so the message is ours.
        deserializer.deserialize_str(Digits::<MIN, MAX>).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Page {
        #[serde(default)]
        limit: PageLimit,
        #[serde(default)]
        from: Start,
    }

    fn parse(query: &str) -> Result<Page, String> {
        serde_urlencoded::from_str(query).map_err(|e| e.to_string())
    }

    #[test]
    fn absent_parameters_take_their_defaults() {
        let page = parse("").expect("empty query");
        assert_eq!((page.limit.get(), page.from.get()), (100, 1));
        assert_eq!(parse("other=7").expect("ignored").limit.get(), 100);
    }

    #[test]
    fn values_in_range_are_kept_and_others_refused_with_the_bounds() {
        let page = parse("limit=1000&from=9223372036854775807").expect("in range");
        assert_eq!(page.limit.get_usize(), 1000);
        assert_eq!(page.from.get_i64(), i64::MAX);
        for bad in [
            "limit=0",
            "limit=1001",
            "limit=-3",
            "limit=abc",
            "limit=",
            "limit=1.5",
        ] {
            assert_eq!(
                parse(bad).expect_err(bad),
                "a whole number from 1 to 1000",
                "{bad}"
            );
        }
        assert_eq!(
            parse("from=9223372036854775808").expect_err("above a bigint"),
            "a whole number from 1 to 9223372036854775807"
        );
    }
}
