//! The program's one error enum. Every distinct failure has its own variant, and each
//! message says what was expected.

use anchor_lang::prelude::*;

#[error_code]
pub enum AdlError {
    #[msg("signer is not the exchange admin")]
    Unauthorized,
    #[msg("signer is not the oracle's price authority")]
    OracleAuthorityMismatch,
    #[msg("this instruction is paused on the exchange")]
    InstructionPaused,
    #[msg("a market parameter is out of its allowed range")]
    InvalidMarketParams,
    #[msg("amount or size must be greater than zero")]
    ZeroAmount,
    #[msg("oracle price must be greater than zero")]
    InvalidOraclePrice,
    #[msg("oracle price is older than the market's max staleness")]
    StaleOracle,
    #[msg("oracle confidence interval is wider than the market allows")]
    OracleConfidenceTooWide,
    #[msg("oracle account is not the market's oracle")]
    OracleMismatch,
    #[msg("account belongs to another exchange")]
    ExchangeMismatch,
    #[msg("position book is not the market's book")]
    BookMismatch,
    #[msg("ADL queue is not the market's queue for that side")]
    QueueMismatch,
    #[msg("collateral token account has the wrong mint or is not the exchange vault")]
    VaultMismatch,
    #[msg("collateral mint must have 6 decimals")]
    InvalidCollateralMint,
    #[msg("large account size does not fit the layout (capacity zero, too large, or queues smaller than the book)")]
    AccountSizeMismatch,
    #[msg("large account data is not 8-byte aligned or has the wrong discriminator")]
    CorruptAccount,
    #[msg("user account is not owned by the signer")]
    UserOwnerMismatch,
    #[msg("trade price is outside the oracle band")]
    PriceOutsideBand,
    #[msg("free collateral is insufficient")]
    InsufficientCollateral,
    #[msg("position would be below initial margin at the oracle price")]
    InsufficientMargin,
    #[msg("position equity would be negative")]
    PositionBankrupt,
    #[msg("user has no open position in this market")]
    NoOpenPosition,
    #[msg("position slot is not owned by this user")]
    SlotNotOwned,
    #[msg("position slot is not open")]
    SlotNotOpen,
    #[msg("position book is full")]
    BookFull,
    #[msg("ADL queue is full")]
    QueueFull,
    #[msg("user account has no free position reference")]
    UserPositionsFull,
    #[msg("taker and maker must be different users")]
    SelfTrade,
    #[msg("queue entry for a position was not found; queue is inconsistent")]
    QueueCorrupt,
    #[msg("position is not below maintenance margin at the oracle price")]
    NotLiquidatable,
    #[msg("a user cannot liquidate its own position")]
    CannotLiquidateSelf,
    #[msg("position is not bankrupt at the oracle price")]
    NotBankrupt,
    #[msg("insurance fund cannot cover this payment; start an ADL event instead")]
    InsufficientInsurance,
    #[msg("insurance fund covers the deficit and the bankruptcy grace period has not passed; liquidate instead")]
    InsuranceCanCover,
    #[msg("the market's ADL event ring is full")]
    AdlEventRingFull,
    #[msg("ADL event is not active (unknown, finished, or another id)")]
    AdlEventNotActive,
    #[msg("ADL rank proof names a slot that is not the next counterparty in rank")]
    WrongAdlCounterparty,
    #[msg("ADL rank proof lists more slots than the event needs or than are eligible")]
    AdlProofTooLong,
    #[msg("ADL rank proof is empty")]
    AdlProofEmpty,
    #[msg("slot has no ADL payout to claim")]
    NothingToClaim,
    #[msg("insurance stake already has a pending unstake request")]
    UnstakeAlreadyPending,
    #[msg("insurance stake has no pending unstake request")]
    NoUnstakePending,
    #[msg("unstake cooldown has not passed")]
    UnstakeCooldownActive,
    #[msg("not enough insurance shares")]
    InsufficientShares,
    #[msg("ADL event is not in the mode this instruction serves")]
    AdlWrongMode,
    #[msg("pro-rata obligations on this side are still pending; crank them first")]
    ProRataPending,
    #[msg("slot has no pending pro-rata obligation for this event")]
    ObligationNotPending,
    #[msg("the ADL event's deadline has not passed")]
    AdlDeadlineNotReached,
    /// Retired: the program finds a leverage drain's level itself, so no instruction returns
    /// it any more. Kept so that the codes after it do not change.
    #[msg("retired: no instruction returns this error (the program finds drain levels itself)")]
    WrongDrainClaim,
    #[msg("funding was already updated in this slot")]
    FundingTooSoon,
    #[msg("arithmetic overflow")]
    MathOverflow,
    #[msg("trade size is below the market's minimum trade size")]
    TradeTooSmall,
    #[msg("the position left would be below the market's minimum position size; close it instead")]
    PositionTooSmall,
    #[msg("the unstake request's window has passed; request again")]
    UnstakeWindowExpired,
    #[msg("a new book or queue account must sign init_market")]
    NewAccountMustSign,
    #[msg("a bankruptcy (flagged, or at a market's fresh oracle price) may cost the insurance fund: unstaking waits until it is resolved")]
    InsuranceLossPending,
    #[msg("unstaking needs (market, oracle) pairs of the exchange's markets in index order, continuing the stake's check round")]
    MarketListMismatch,
    #[msg("oracle account is not owned by the program its kind needs (this program or the Pyth receiver)")]
    OracleWrongOwner,
    #[msg("oracle account data is not an oracle of the market's kind")]
    InvalidOracleAccount,
    #[msg("Pyth price update is for another feed than the market's")]
    OracleFeedMismatch,
    #[msg("Pyth price update is only partially verified by Wormhole guardians")]
    OracleNotFullyVerified,
    #[msg("Pyth price exponent is outside the accepted range")]
    OracleExponentOutOfRange,
    #[msg("the market's oracle cannot change while an ADL event is active")]
    AdlEventActive,
    #[msg("the ADL event already used its deadline fallback to pro-rata; its remainder is finished in rank order")]
    AdlFallbackUsed,
    #[msg("the position's bankruptcy stamp is older than its grace window; flag it again (flag_bankrupt) to start a new grace period")]
    BankruptcyStampExpired,
    #[msg(
        "a leverage drain of this event is already in progress; continue it with adl_drain_step"
    )]
    DrainInProgress,
    #[msg("no leverage drain of this event is in progress; start one with adl_drain_begin")]
    DrainNotStarted,
    #[msg("unstaking needs every market checked (if_check_markets, then if_unstake) within UNSTAKE_CHECK_SLOTS of the first check")]
    UnstakeCheckIncomplete,
    #[msg("the exchange has MAX_MARKETS markets; no more can be created")]
    MarketLimitReached,
}
