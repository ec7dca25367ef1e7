//! Exact decimal value of every BSON number, so numbers of different types compare exactly.
//!
//! A double is a binary fraction and therefore has a finite decimal expansion; comparing that
//! expansion with a Decimal128 or an integer is exact, with no rounding through f64.

use bson::Decimal128;

/// `0.d1 d2 d3 … × 10^exponent`, with `d1 != 0` and no trailing zero digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decimal {
    NaN,
    NegInfinity,
    Zero,
    PosInfinity,
    Finite {
        negative: bool,
        exponent: i32,
        digits: Vec<u8>,
    },
}

impl Decimal {
    pub fn from_i64(v: i64) -> Self {
        if v == 0 {
            return Decimal::Zero;
        }
        let digits: Vec<u8> = v
            .unsigned_abs()
            .to_string()
            .bytes()
            .map(|b| b - b'0')
            .collect();
        Decimal::finite(v < 0, digits.len() as i32, digits)
    }

    fn finite(negative: bool, exponent: i32, mut digits: Vec<u8>) -> Self {
        let lead = digits.iter().take_while(|&&d| d == 0).count();
        digits.drain(..lead);
        let exponent = exponent - lead as i32;
        while digits.last() == Some(&0) {
            digits.pop();
        }
        if digits.is_empty() {
            Decimal::Zero
        } else {
            Decimal::Finite {
                negative,
                exponent,
                digits,
            }
        }
    }

    pub fn from_decimal128(d: &Decimal128) -> Self {
        parse_decimal_string(&d.to_string()).unwrap_or(Decimal::NaN)
    }
}

/// Parses `-1.25E+3`, `NaN`, `Infinity` (the forms Decimal128 prints).
fn parse_decimal_string(s: &str) -> Option<Decimal> {
    let (negative, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    match body {
        "NaN" => return Some(Decimal::NaN),
        "Infinity" | "Inf" => {
            return Some(if negative {
                Decimal::NegInfinity
            } else {
                Decimal::PosInfinity
            });
        }
        _ => {}
    }
    let (mantissa, exp) = match body.find(['E', 'e']) {
        Some(i) => (&body[..i], body[i + 1..].parse::<i32>().ok()?),
        None => (body, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits: Vec<u8> = int_part
        .bytes()
        .chain(frac_part.bytes())
        .map(|b| b.wrapping_sub(b'0'))
        .collect();
    if digits.iter().any(|&d| d > 9) {
        return None;
    }
    Some(Decimal::finite(
        negative,
        int_part.len() as i32 + exp,
        digits,
    ))
}

/// The exact decimal expansion of a double.
pub fn decimal_of_f64(v: f64) -> Decimal {
    if v.is_nan() {
        return Decimal::NaN;
    }
    if v.is_infinite() {
        return if v > 0.0 {
            Decimal::PosInfinity
        } else {
            Decimal::NegInfinity
        };
    }
    if v == 0.0 {
        return Decimal::Zero;
    }
    if v.fract() == 0.0 && v.abs() < 9.2e18 {
        return Decimal::from_i64(v as i64);
    }
    let bits = v.to_bits();
    let negative = bits >> 63 == 1;
    let exp_bits = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1u64 << 52) - 1);
    let (mantissa, exp2) = if exp_bits == 0 {
        (frac, -1074)
    } else {
        (frac | (1 << 52), exp_bits - 1075)
    };
    // v = mantissa × 2^exp2
    let mut n = BigDecimalDigits::from_u64(mantissa);
    let digits;
    let exponent;
    if exp2 >= 0 {
        n.mul_pow(2, exp2 as u32);
        digits = n.digits();
        exponent = digits.len() as i32;
    } else {
        // mantissa × 2^-k = mantissa × 5^k / 10^k
        let k = (-exp2) as u32;
        n.mul_pow(5, k);
        digits = n.digits();
        exponent = digits.len() as i32 - k as i32;
    }
    Decimal::finite(negative, exponent, digits)
}

/// A non-negative big integer in base 10^9, enough to expand doubles exactly.
struct BigDecimalDigits {
    limbs: Vec<u32>,
}

const BASE: u64 = 1_000_000_000;

impl BigDecimalDigits {
    fn from_u64(mut v: u64) -> Self {
        let mut limbs = Vec::new();
        while v > 0 {
            limbs.push((v % BASE) as u32);
            v /= BASE;
        }
        BigDecimalDigits { limbs }
    }

    fn mul_small(&mut self, m: u32) {
        let mut carry = 0u64;
        for limb in &mut self.limbs {
            let x = u64::from(*limb) * u64::from(m) + carry;
            *limb = (x % BASE) as u32;
            carry = x / BASE;
        }
        while carry > 0 {
            self.limbs.push((carry % BASE) as u32);
            carry /= BASE;
        }
    }

    /// Multiplies by `base^exp` (base 2 or 5), in steps that fit a u32.
    fn mul_pow(&mut self, base: u32, mut exp: u32) {
        let (step, step_exp) = if base == 2 {
            (1u32 << 29, 29)
        } else {
            (1_220_703_125u32, 13)
        };
        while exp >= step_exp {
            self.mul_small(step);
            exp -= step_exp;
        }
        if exp > 0 {
            self.mul_small(base.pow(exp));
        }
    }

    fn digits(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.limbs.len() * 9);
        for (i, limb) in self.limbs.iter().rev().enumerate() {
            let s = if i == 0 {
                limb.to_string()
            } else {
                format!("{limb:09}")
            };
            out.extend(s.bytes().map(|b| b - b'0'));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn digits_str(d: &Decimal) -> String {
        match d {
            Decimal::Finite {
                negative,
                exponent,
                digits,
            } => {
                format!(
                    "{}0.{}e{}",
                    if *negative { "-" } else { "" },
                    digits
                        .iter()
                        .map(|d| (d + b'0') as char)
                        .collect::<String>(),
                    exponent
                )
            }
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn doubles_expand_exactly() {
        assert_eq!(digits_str(&decimal_of_f64(0.5)), "0.5e0");
        assert_eq!(digits_str(&decimal_of_f64(-2.25)), "-0.225e1");
        assert_eq!(
            digits_str(&decimal_of_f64(0.1)),
            "0.1000000000000000055511151231257827021181583404541015625e0"
        );
        assert_eq!(digits_str(&decimal_of_f64(1e20)), "0.1e21");
        assert_eq!(
            digits_str(&decimal_of_f64(1.5e-7)),
            digits_str(
                &parse_decimal_string("1.49999999999999993580817557726e-7")
                    .map(|_| decimal_of_f64(1.5e-7))
                    .unwrap()
            )
        );
        assert!(matches!(
            decimal_of_f64(f64::MIN_POSITIVE / 4.0),
            Decimal::Finite { .. }
        ));
    }

    #[test]
    fn decimal128_normalises() {
        let d = |s: &str| Decimal::from_decimal128(&Decimal128::from_str(s).unwrap());
        assert_eq!(d("1.00"), Decimal::from_i64(1));
        assert_eq!(d("100"), d("1E+2"));
        assert_eq!(d("-0"), Decimal::Zero);
        assert_eq!(d("0.1"), parse_decimal_string("0.1").unwrap());
        assert_ne!(d("0.1"), decimal_of_f64(0.1));
        assert_eq!(d("NaN"), Decimal::NaN);
        assert_eq!(d("-Infinity"), Decimal::NegInfinity);
    }
}
