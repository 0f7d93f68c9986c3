// The ADL rank of a side as traders see it — the same arithmetic as the program crate's
// `math` and `rank` modules (floor/ceil named as there), on bigint.
import type { PositionSlot, QueueEntry } from "./generated/layouts.js";
import { entrySlot } from "./decode.js";

export const BASE_PRECISION = 1_000_000_000n;
export const BPS = 10_000n;

export function divFloor(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

export function divCeil(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n === b < 0n ? q + 1n : q;
}

const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;
const clampI64 = (v: bigint) => (v < I64_MIN ? I64_MIN : v > I64_MAX ? I64_MAX : v);

/** Entry price `B_q·BASE/q`, floored for longs and ceiled for shorts, saturated
 * (`math::entry_price`): the key then answers "in profit at P" exactly. */
export function entryPrice(p: PositionSlot): bigint {
  const num = p.cost_basis * BASE_PRECISION;
  return clampI64(p.base > 0n ? divFloor(num, p.base) : divCeil(num, p.base));
}

/** Tier 1 when in profit at `price` by the entry key (`math::in_profit`). */
export function inProfit(p: PositionSlot, price: bigint): boolean {
  const e = entryPrice(p);
  return p.base > 0n ? e < price : e > price;
}

/** Funding owed, rounded up (`math::funding_owed`). */
export function fundingOwed(p: PositionSlot, fundingIndex: bigint): bigint {
  return divCeil(p.base * (fundingIndex - p.funding_snapshot), BASE_PRECISION);
}

/** Equity `C − f + q·P/BASE − B_q` (`math::equity`). */
export function equity(p: PositionSlot, fundingIndex: bigint, price: bigint): bigint {
  return p.margin - fundingOwed(p, fundingIndex) + divFloor(p.base * price, BASE_PRECISION) - p.cost_basis;
}

/** Leverage in bps, rounded up; `null` when equity ≤ 0 (`math::leverage_bps`). */
export function leverageBps(p: PositionSlot, price: bigint, eq: bigint): bigint | null {
  if (eq <= 0n) return null;
  const abs = p.base < 0n ? -p.base : p.base;
  const notional = divFloor(abs * price, BASE_PRECISION);
  return divCeil(notional * BPS, eq);
}

/** Size-weighted quintile lights, 5 = first fifth (`math::adl_lights`). */
export function adlLights(ahead: bigint, own: bigint, oi: bigint): number {
  if (oi === 0n) return 1;
  const fifth = ((2n * ahead + own) * 5n) / (2n * oi);
  return 5 - Number(fifth > 4n ? 4n : fifth);
}

export interface QueueRow {
  rank: number;
  tier: number;
  slot: number;
  owner: string;
  base: bigint;
  entryPrice: bigint;
  margin: bigint;
  pnl: bigint;
  leverageBps: bigint | null;
  lights: number;
  sizeAhead: bigint;
}

/** One side's rows: tier 1 in `by_leverage` order, then tier 2 (`rank::rank_side`). */
export function rankSide(
  byLeverage: QueueEntry[],
  slots: PositionSlot[],
  price: bigint,
  fundingIndex: bigint,
  openInterest: bigint,
): QueueRow[] {
  const tiers: number[][] = [[], []];
  for (const e of byLeverage) {
    const s = entrySlot(e);
    const p = slots[s];
    if (!p) continue;
    tiers[inProfit(p, price) ? 0 : 1].push(s);
  }
  const rows: QueueRow[] = [];
  let ahead = 0n;
  tiers.forEach((list, t) => {
    for (const s of list) {
      const p = slots[s];
      const size = p.base < 0n ? -p.base : p.base;
      const eq = equity(p, fundingIndex, price);
      rows.push({
        rank: rows.length + 1,
        tier: t + 1,
        slot: s,
        owner: p.owner,
        base: p.base,
        entryPrice: entryPrice(p),
        margin: p.margin,
        pnl: eq - p.margin,
        leverageBps: leverageBps(p, price, eq),
        lights: adlLights(ahead, size, openInterest),
        sizeAhead: ahead,
      });
      ahead += size;
    }
  });
  return rows;
}
