// Runtime helpers of the generated decoders, and account decoding with the large accounts'
// tails (book slots, queue arrays) whose lengths come from their headers.
import {
  ADLQUEUE_DISCRIMINATOR,
  ADLQUEUE_SIZE,
  EXCHANGE_DISCRIMINATOR,
  INSURANCEFUND_DISCRIMINATOR,
  MARKET_DISCRIMINATOR,
  ORACLE_DISCRIMINATOR,
  POSITIONBOOK_DISCRIMINATOR,
  POSITIONBOOK_SIZE,
  POSITIONSLOT_SIZE,
  QUEUEENTRY_SIZE,
  decodeAdlQueue,
  decodeExchange,
  decodeInsuranceFund,
  decodeMarket,
  decodeOracle,
  decodePositionBook,
  decodePositionSlot,
  decodeQueueEntry,
  type AdlQueue,
  type Exchange,
  type InsuranceFund,
  type Market,
  type Oracle,
  type PositionBook,
  type PositionSlot,
  type QueueEntry,
} from "./generated/layouts.js";

const ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

export function base58(bytes: Uint8Array): string {
  let n = 0n;
  for (const b of bytes) n = n * 256n + BigInt(b);
  let s = "";
  while (n > 0n) {
    s = ALPHABET[Number(n % 58n)] + s;
    n /= 58n;
  }
  for (const b of bytes) {
    if (b !== 0) break;
    s = "1" + s;
  }
  return s;
}

export function readPubkey(v: DataView, o: number): string {
  return base58(new Uint8Array(v.buffer, v.byteOffset + o, 32));
}

export function readArray<T>(v: DataView, o: number, n: number, step: number, read: (v: DataView, o: number) => T): T[] {
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(read(v, o + i * step));
  return out;
}

export function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const DISC = 8;

function view(data: Uint8Array, disc: number[], name: string): DataView {
  if (data.length < DISC || disc.some((b, i) => data[i] !== b)) throw new Error(`not a ${name} account`);
  return new DataView(data.buffer, data.byteOffset, data.byteLength);
}

export const decodeExchangeAccount = (d: Uint8Array): Exchange => decodeExchange(view(d, EXCHANGE_DISCRIMINATOR, "Exchange"), DISC);
export const decodeOracleAccount = (d: Uint8Array): Oracle => decodeOracle(view(d, ORACLE_DISCRIMINATOR, "Oracle"), DISC);
export const decodeMarketAccount = (d: Uint8Array): Market => decodeMarket(view(d, MARKET_DISCRIMINATOR, "Market"), DISC);
export const decodeFundAccount = (d: Uint8Array): InsuranceFund =>
  decodeInsuranceFund(view(d, INSURANCEFUND_DISCRIMINATOR, "InsuranceFund"), DISC);

export interface Book {
  header: PositionBook;
  /** Slots below the high-water mark (the rest were never used). */
  slots: PositionSlot[];
}

export function decodeBookAccount(d: Uint8Array): Book {
  const v = view(d, POSITIONBOOK_DISCRIMINATOR, "PositionBook");
  const header = decodePositionBook(v, DISC);
  const start = DISC + POSITIONBOOK_SIZE;
  return { header, slots: readArray(v, start, header.high_water, POSITIONSLOT_SIZE, decodePositionSlot) };
}

export interface Queue {
  header: AdlQueue;
  byLeverage: QueueEntry[];
  byEntry: QueueEntry[];
}

export function decodeQueueAccount(d: Uint8Array): Queue {
  const v = view(d, ADLQUEUE_DISCRIMINATOR, "AdlQueue");
  const header = decodeAdlQueue(v, DISC);
  const start = DISC + ADLQUEUE_SIZE;
  return {
    header,
    byLeverage: readArray(v, start, header.len, QUEUEENTRY_SIZE, decodeQueueEntry),
    byEntry: readArray(v, start + header.capacity * QUEUEENTRY_SIZE, header.len, QUEUEENTRY_SIZE, decodeQueueEntry),
  };
}

/** The slot an entry names (low 24 bits of `order`). */
export function entrySlot(e: QueueEntry): number {
  return Number(e.order & 0xffffffn);
}
