use anchor_lang::prelude::*;

use crate::error::AdlError;
use crate::instructions::add_margin::{change_margin, ChangeMargin};
use crate::state::PauseBit;

pub fn handle_remove_margin(ctx: Context<ChangeMargin>, amount: u64) -> Result<()> {
    let delta = i64::try_from(amount).map_err(|_| AdlError::MathOverflow)?;
    change_margin(ctx, -delta, PauseBit::RemoveMargin)
}
