// A market's oracle whatever its kind: the pushed `Oracle` account, or a Pyth `PriceUpdateV2`
// account (Pyth Solana Receiver), converted to price atoms exactly as the program does
// (`state::oracle::pyth_to_price_atoms`: price toward zero, confidence up).
import { decodeOracleAccount } from "./decode.js";
import type { Market } from "./generated/layouts.js";

export const ORACLE_KIND_PUSHED = 0;
export const ORACLE_KIND_PYTH = 1;
/** Anchor discriminator of `PriceUpdateV2`: sha256("account:PriceUpdateV2")[0..8]. */
export const PRICE_UPDATE_V2_DISCRIMINATOR = [34, 241, 35, 99, 157, 126, 244, 205];
export const PYTH_MIN_EXPONENT = -18;
export const PYTH_MAX_EXPONENT = 0;

export interface OracleView {
  kind: "pushed" | "pyth";
  /** Price atoms (1e6 per quote unit); 0n when the Pyth price cannot be converted. */
  price: bigint;
  confidence: bigint;
  /** Pushed: the slot the price was published. Pyth: the slot the update was posted. */
  publish_slot: bigint;
  /** Pyth only: unix seconds the price was published. */
  publish_time: bigint | null;
  /** Pyth only: the update is verified by a full guardian quorum. */
  fully_verified: boolean | null;
  /** Pyth only: hex feed id. */
  feed_id: string | null;
}

export interface PythPriceUpdate {
  writeAuthority: Uint8Array;
  fullyVerified: boolean;
  numSignatures: number | null;
  feedId: string;
  price: bigint;
  conf: bigint;
  exponent: number;
  publishTime: bigint;
  postedSlot: bigint;
}

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

/** Decodes a `PriceUpdateV2` (Borsh: discriminator, write authority, verification level —
 * a one-byte tag, plus one byte for `Partial` — then the price message and the posted slot). */
export function decodePythPriceUpdate(d: Uint8Array): PythPriceUpdate {
  if (d.length < 8 || PRICE_UPDATE_V2_DISCRIMINATOR.some((b, i) => d[i] !== b)) throw new Error("not a PriceUpdateV2 account");
  const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
  let o = 8;
  const writeAuthority = d.slice(o, o + 32);
  o += 32;
  const tag = d[o];
  o += 1;
  let numSignatures: number | null = null;
  if (tag === 0) {
    numSignatures = d[o];
    o += 1;
  } else if (tag !== 1) throw new Error(`unknown verification level ${tag}`);
  const feedId = hex(d.slice(o, o + 32));
  o += 32;
  const price = v.getBigInt64(o, true);
  const conf = v.getBigUint64(o + 8, true);
  const exponent = v.getInt32(o + 16, true);
  const publishTime = v.getBigInt64(o + 20, true);
  // prev_publish_time (i64), ema_price (i64), ema_conf (u64), then posted_slot.
  const postedSlot = v.getBigUint64(o + 20 + 8 + 8 + 8 + 8, true);
  return { writeAuthority, fullyVerified: tag === 1, numSignatures, feedId, price, conf, exponent, publishTime, postedSlot };
}

const floorDiv = (a: bigint, b: bigint) => a / b; // a ≥ 0 here
const ceilDiv = (a: bigint, b: bigint) => (a + b - 1n) / b;

/** `price·10^(exponent+6)`: price toward zero, confidence up; null when the program would refuse it. */
export function pythToPriceAtoms(price: bigint, conf: bigint, exponent: number): { price: bigint; confidence: bigint } | null {
  if (exponent < PYTH_MIN_EXPONENT || exponent > PYTH_MAX_EXPONENT || price <= 0n) return null;
  const shift = exponent + 6;
  let p: bigint;
  let c: bigint;
  if (shift >= 0) {
    const f = 10n ** BigInt(shift);
    p = price * f;
    c = conf * f;
  } else {
    const f = 10n ** BigInt(-shift);
    p = floorDiv(price, f);
    c = ceilDiv(conf, f);
  }
  const max = (1n << 64n) - 1n;
  if (p <= 0n || p > max || c > max) return null;
  return { price: p, confidence: c };
}

/** The market's oracle from its account bytes, by the market's `oracle_kind`. */
export function decodeMarketOracle(m: Market, data: Uint8Array): OracleView {
  if (m.oracle_kind === ORACLE_KIND_PYTH) {
    const u = decodePythPriceUpdate(data);
    const atoms = pythToPriceAtoms(u.price, u.conf, u.exponent);
    return {
      kind: "pyth",
      price: atoms?.price ?? 0n,
      confidence: atoms?.confidence ?? 0n,
      publish_slot: u.postedSlot,
      publish_time: u.publishTime,
      fully_verified: u.fullyVerified,
      feed_id: u.feedId,
    };
  }
  const o = decodeOracleAccount(data);
  return {
    kind: "pushed",
    price: o.price,
    confidence: o.confidence,
    publish_slot: o.publish_slot,
    publish_time: null,
    fully_verified: null,
    feed_id: null,
  };
}
