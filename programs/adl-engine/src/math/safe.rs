//! Checked `i128` arithmetic: an overflow is `AdlError::MathOverflow`, never a panic or a wrap.

use crate::error::AdlError;

pub type MathResult<T> = core::result::Result<T, AdlError>;

#[inline]
pub fn add(a: i128, b: i128) -> MathResult<i128> {
    a.checked_add(b).ok_or(AdlError::MathOverflow)
}

#[inline]
pub fn sub(a: i128, b: i128) -> MathResult<i128> {
    a.checked_sub(b).ok_or(AdlError::MathOverflow)
}

#[inline]
pub fn mul(a: i128, b: i128) -> MathResult<i128> {
    a.checked_mul(b).ok_or(AdlError::MathOverflow)
}

/// Division rounded toward −∞.
#[inline]
pub fn div_floor(a: i128, b: i128) -> MathResult<i128> {
    if b == 0 {
        return Err(AdlError::MathOverflow);
    }
    let q = a.checked_div(b).ok_or(AdlError::MathOverflow)?;
    if a % b != 0 && ((a < 0) != (b < 0)) {
        sub(q, 1)
    } else {
        Ok(q)
    }
}

/// Division rounded toward +∞.
#[inline]
pub fn div_ceil(a: i128, b: i128) -> MathResult<i128> {
    if b == 0 {
        return Err(AdlError::MathOverflow);
    }
    let q = a.checked_div(b).ok_or(AdlError::MathOverflow)?;
    if a % b != 0 && ((a < 0) == (b < 0)) {
        add(q, 1)
    } else {
        Ok(q)
    }
}

#[inline]
pub fn to_i64(v: i128) -> MathResult<i64> {
    i64::try_from(v).map_err(|_| AdlError::MathOverflow)
}

#[inline]
pub fn to_u64(v: i128) -> MathResult<u64> {
    u64::try_from(v).map_err(|_| AdlError::MathOverflow)
}

#[inline]
pub fn saturate_i64(v: i128) -> i64 {
    v.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// `a + b` on `u64` amounts.
#[inline]
pub fn add_u64(a: u64, b: u64) -> MathResult<u64> {
    a.checked_add(b).ok_or(AdlError::MathOverflow)
}

/// `a − b` on `u64` balances; going below zero is the caller's named error.
#[inline]
pub fn sub_u64(a: u64, b: u64, err: AdlError) -> MathResult<u64> {
    a.checked_sub(b).ok_or(err)
}
