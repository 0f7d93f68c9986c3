// A market's state from account bytes — a snapshot file written by the Rust tests, or
// accounts fetched over JSON-RPC — decoded and ranked.
import {
  decodeBookAccount,
  decodeExchangeAccount,
  decodeFundAccount,
  decodeMarketAccount,
  decodeQueueAccount,
  fromHex,
  type Book,
  type Queue,
} from "./decode.js";
import type { AdlEvent, Exchange, InsuranceFund, Market } from "./generated/layouts.js";
import { decodeMarketOracle, type OracleView } from "./oracle.js";
import { rankSide, type QueueRow } from "./rank.js";

export interface SnapshotFile {
  program: string;
  accounts: Record<string, { key: string; data: string }>;
}

export interface MarketState {
  key: string;
  exchange: Exchange;
  fund: InsuranceFund | null;
  market: Market;
  /** The market's oracle, pushed or Pyth, in price atoms. */
  oracle: OracleView;
  book: Book;
  long: Queue;
  short: Queue;
}

export function fromAccounts(key: string, raw: Record<string, Uint8Array | undefined>): MarketState {
  const need = (name: string) => {
    const d = raw[name];
    if (!d) throw new Error(`account ${name} missing`);
    return d;
  };
  const market = decodeMarketAccount(need("market"));
  return {
    key,
    exchange: decodeExchangeAccount(need("exchange")),
    fund: raw.fund ? decodeFundAccount(raw.fund) : null,
    market,
    oracle: decodeMarketOracle(market, need("oracle")),
    book: decodeBookAccount(need("book")),
    long: decodeQueueAccount(need("long_queue")),
    short: decodeQueueAccount(need("short_queue")),
  };
}

export function fromSnapshot(file: SnapshotFile): MarketState {
  const raw: Record<string, Uint8Array> = {};
  for (const [name, a] of Object.entries(file.accounts)) raw[name] = fromHex(a.data);
  return fromAccounts(file.accounts.market.key, raw);
}

export function queueRows(s: MarketState, side: "long" | "short", price = s.oracle.price): QueueRow[] {
  const q = side === "long" ? s.long : s.short;
  const oi = side === "long" ? s.market.open_interest_long : s.market.open_interest_short;
  return rankSide(q.byLeverage, s.book.slots, price, s.market.cumulative_funding, oi);
}

/** An ADL event's status in the market's ring of events (the program's EVENT_*). */
export const EVENT_EMPTY = 0;
export const EVENT_ACTIVE = 1;
export const EVENT_DONE = 2;

export function activeEvents(s: MarketState): { index: number; event: AdlEvent }[] {
  return s.market.adl_events.map((event, index) => ({ index, event })).filter((e) => e.event.status === EVENT_ACTIVE);
}

/** Every event the market's ring still holds: the active ones (oldest first), then the done
 * ones (newest first). A done event stays until its place is needed for a new one. */
export function adlEvents(s: MarketState): { index: number; event: AdlEvent }[] {
  const all = s.market.adl_events.map((event, index) => ({ index, event }));
  const by = (st: number, dir: 1 | -1) =>
    all.filter((e) => e.event.status === st).sort((a, b) => dir * (a.event.id < b.event.id ? -1 : a.event.id > b.event.id ? 1 : 0));
  return [...by(EVENT_ACTIVE, 1), ...by(EVENT_DONE, -1)];
}

/** Fetches the market's accounts over JSON-RPC (`getMultipleAccounts`, base64, at "confirmed" — what
 * a trader's own confirmed transaction already shows). */
export async function fromRpc(url: string, marketKey: string): Promise<MarketState> {
  const call = async (keys: string[]) => {
    const r = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "getMultipleAccounts", params: [keys, { encoding: "base64", commitment: "confirmed" }] }),
    });
    const j = await r.json();
    if (j.error) throw new Error(j.error.message);
    return (j.result.value as ({ data: [string, string] } | null)[]).map((a) =>
      a ? Uint8Array.from(atob(a.data[0]), (c) => c.charCodeAt(0)) : undefined,
    );
  };
  const [marketData] = await call([marketKey]);
  if (!marketData) throw new Error(`no market ${marketKey}`);
  const m = decodeMarketAccount(marketData);
  const [exchange, oracle, book, long, short] = await call([m.exchange, m.oracle, m.book, m.long_queue, m.short_queue]);
  return fromAccounts(marketKey, { exchange, market: marketData, oracle, book, long_queue: long, short_queue: short });
}
