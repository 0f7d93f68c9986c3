// What happened to a market, from its transactions: `getSignaturesForAddress` on the market
// and its oracle, then `getTransaction` (json encoding) for each new signature, and every
// top-level adl-engine instruction decoded from its data and accounts with the IDL
// (`generated/instructions.ts`): name by the 8-byte discriminator, accounts by their IDL
// names, Borsh arguments, and the transaction's result (`meta.err`). Program logs are not
// read (a node may not carry them). Needs a node that keeps transaction history.
import { USERACCOUNT_DISCRIMINATOR, PROGRAM_ID, decodeUserAccount } from "./generated/layouts.js";
import { ARG_TYPES, INSTRUCTIONS } from "./generated/instructions.js";
import type { IdlType } from "./instructions.js";
import { base58 } from "./decode.js";

/** One adl-engine instruction of a transaction. */
export interface ActivityRow {
  signature: string;
  slot: number;
  /** Unix seconds, when the node knows it. */
  blockTime: number | null;
  /** Position among the transaction's top-level instructions. */
  index: number;
  /** IDL instruction name (`liquidate`, `auto_deleverage`, …). */
  name: string;
  /** Account keys by IDL account name. */
  accounts: Record<string, string>;
  /** Decoded arguments by IDL name (integers as bigint). */
  args: Record<string, unknown>;
  /** The transaction's error (`meta.err`), null when it succeeded. */
  err: unknown;
}

/** The parts of a `getTransaction` (json encoding) answer read here. */
export interface RpcTransaction {
  slot: number;
  blockTime?: number | null;
  meta: { err: unknown; loadedAddresses?: { writable: string[]; readonly: string[] } } | null;
  transaction: {
    signatures: string[];
    message: {
      accountKeys: string[];
      instructions: { programIdIndex: number; accounts: number[]; data: string }[];
    };
  };
}

const ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/** Base58 of any length to bytes (leading `1`s are zero bytes). */
export function base58Bytes(s: string): Uint8Array {
  let n = 0n;
  for (const c of s) {
    const i = ALPHABET.indexOf(c);
    if (i < 0) throw new Error(`not base58: ${s}`);
    n = n * 58n + BigInt(i);
  }
  const out: number[] = [];
  while (n > 0n) {
    out.unshift(Number(n & 0xffn));
    n >>= 8n;
  }
  for (const c of s) {
    if (c !== "1") break;
    out.unshift(0);
  }
  return Uint8Array.from(out);
}

const INTS: Record<string, [number, boolean]> = {
  u8: [1, false], u16: [2, false], u32: [4, false], u64: [8, false], u128: [16, false],
  i8: [1, true], i16: [2, true], i32: [4, true], i64: [8, true], i128: [16, true],
};

/** Borsh decoding of the IDL's argument types; reads from `pos`, advances it. */
class Reader {
  pos = 0;
  constructor(private readonly d: Uint8Array) {}

  private take(n: number): Uint8Array {
    if (this.pos + n > this.d.length) throw new Error("instruction data too short");
    const b = this.d.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  read(ty: IdlType): unknown {
    if (typeof ty === "string") {
      if (ty in INTS) {
        const [bytes, signed] = INTS[ty];
        let v = 0n;
        const b = this.take(bytes);
        for (let i = bytes - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
        if (signed && v >= 1n << BigInt(bytes * 8 - 1)) v -= 1n << BigInt(bytes * 8);
        return v;
      }
      if (ty === "bool") return this.take(1)[0] !== 0;
      if (ty === "pubkey") return base58(this.take(32));
      throw new Error(`unsupported type ${ty}`);
    }
    if ("vec" in ty) {
      const n = Number(this.read("u32"));
      return Array.from({ length: n }, () => this.read(ty.vec));
    }
    if ("array" in ty) return Array.from({ length: ty.array[1] }, () => this.read(ty.array[0]));
    if ("option" in ty) return this.take(1)[0] === 0 ? null : this.read(ty.option);
    const fields = ARG_TYPES[ty.defined.name];
    if (!fields) throw new Error(`unknown type ${ty.defined.name}`);
    return Object.fromEntries(fields.map((f) => [f.name, this.read(f.type)]));
  }
}

const BY_DISCRIMINATOR = new Map(
  Object.entries(INSTRUCTIONS).map(([name, ix]) => [ix.discriminator.join(","), name]),
);

/** An adl-engine instruction from its data and its account keys (in instruction order):
 * name, accounts by IDL name and arguments; null when the discriminator is not the IDL's. */
export function decodeInstruction(
  data: Uint8Array,
  keys: string[],
): { name: string; accounts: Record<string, string>; args: Record<string, unknown> } | null {
  const name = BY_DISCRIMINATOR.get(Array.from(data.subarray(0, 8)).join(","));
  if (!name) return null;
  const spec = INSTRUCTIONS[name];
  const accounts: Record<string, string> = {};
  spec.accounts.forEach((a, i) => {
    if (keys[i] !== undefined) accounts[a.name] = keys[i];
  });
  const r = new Reader(data.subarray(8));
  const args: Record<string, unknown> = {};
  for (const a of spec.args) args[a.name] = r.read(a.type);
  return { name, accounts, args };
}

/** The adl-engine instructions at the top level of a transaction (compute budget and other
 * programs' instructions are skipped). Account indexes past `accountKeys` name the addresses
 * a version-0 transaction loaded from lookup tables (writable, then read-only). */
export function transactionRows(signature: string, tx: RpcTransaction): ActivityRow[] {
  const m = tx.transaction.message;
  const keys = [...m.accountKeys, ...(tx.meta?.loadedAddresses?.writable ?? []), ...(tx.meta?.loadedAddresses?.readonly ?? [])];
  const rows: ActivityRow[] = [];
  m.instructions.forEach((ix, index) => {
    if (keys[ix.programIdIndex] !== PROGRAM_ID) return;
    const d = decodeInstruction(base58Bytes(ix.data), ix.accounts.map((i) => keys[i]));
    rows.push({
      signature,
      slot: tx.slot,
      blockTime: tx.blockTime ?? null,
      index,
      name: d?.name ?? "unknown",
      accounts: d?.accounts ?? {},
      args: d?.args ?? {},
      err: tx.meta?.err ?? null,
    });
  });
  return rows;
}

/** The IDL account names that hold a `UserAccount` (the program's per-owner PDA). */
export const isUserAccount = (name: string) => name === "user" || name.endsWith("_user");

/** The answer of a node that keeps no transaction history (JSON-RPC error -32011). */
export class HistoryUnavailable extends Error {}

interface SignatureInfo {
  signature: string;
  slot: number;
  err: unknown;
}

/** JSON-RPC over HTTP: one call, or a batch of calls answered in order. */
async function rpcBatch<T>(url: string, calls: { method: string; params: unknown[] }[]): Promise<T[]> {
  if (calls.length === 0) return [];
  const r = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(calls.map((c, id) => ({ jsonrpc: "2.0", id, ...c }))),
  });
  const answers = (await r.json()) as { id: number; result?: T; error?: { code: number; message: string } }[];
  const byId = new Map(answers.map((a) => [a.id, a]));
  return calls.map((c, id) => {
    const a = byId.get(id);
    if (!a) throw new Error(`${c.method}: no answer`);
    if (a.error) {
      if (a.error.code === -32011) throw new HistoryUnavailable(`${c.method}: ${a.error.message}`);
      throw new Error(`${c.method}: ${a.error.message}`);
    }
    return a.result as T;
  });
}

/** A market's recent activity, newest first, kept up to date by `refresh()`: the `limit`
 * newest signatures of the watched addresses (the market and its oracle); transactions are
 * fetched once per signature and user accounts resolved to their owners once per key. */
export class ActivityLog {
  private txs = new Map<string, ActivityRow[]>();
  private owners = new Map<string, string | null>();
  rows: ActivityRow[] = [];

  constructor(
    readonly url: string,
    readonly addresses: string[],
    readonly limit = 50,
  ) {}

  /** Owner of a user account seen in the rows (undefined while unknown). */
  ownerOf(user: string): string | undefined {
    return this.owners.get(user) ?? undefined;
  }

  /** Fetches the newest signatures and the transactions not seen yet; returns the rows. */
  async refresh(): Promise<ActivityRow[]> {
    const lists = await rpcBatch<SignatureInfo[]>(
      this.url,
      this.addresses.map((a) => ({ method: "getSignaturesForAddress", params: [a, { limit: this.limit, commitment: "confirmed" }] })),
    );
    // Newest first across the addresses (a transaction touching both counts once).
    const seen = new Set<string>();
    const sigs = lists
      .flat()
      .sort((a, b) => b.slot - a.slot)
      .filter((s) => !seen.has(s.signature) && seen.add(s.signature))
      .slice(0, this.limit);
    const missing = sigs.filter((s) => !this.txs.has(s.signature));
    const txs = await rpcBatch<RpcTransaction | null>(
      this.url,
      missing.map((s) => ({
        method: "getTransaction",
        params: [s.signature, { encoding: "json", maxSupportedTransactionVersion: 0, commitment: "confirmed" }],
      })),
    );
    // A transaction the node cannot serve yet is asked for again on the next refresh.
    missing.forEach((s, i) => txs[i] && this.txs.set(s.signature, transactionRows(s.signature, txs[i]!)));
    const window = new Set(sigs.map((s) => s.signature));
    for (const k of this.txs.keys()) if (!window.has(k)) this.txs.delete(k);
    this.rows = sigs.flatMap((s) => this.txs.get(s.signature) ?? []);
    await this.resolveOwners();
    return this.rows;
  }

  private async resolveOwners() {
    const keys = [
      ...new Set(this.rows.flatMap((r) => Object.entries(r.accounts).filter(([n]) => isUserAccount(n)).map(([, k]) => k))),
    ].filter((k) => !this.owners.has(k));
    if (keys.length === 0) return;
    const [r] = await rpcBatch<{ value: ({ data: [string, string] } | null)[] }>(this.url, [
      { method: "getMultipleAccounts", params: [keys, { encoding: "base64", commitment: "confirmed" }] },
    ]);
    r.value.forEach((a, i) => {
      const d = a ? Uint8Array.from(atob(a.data[0]), (c) => c.charCodeAt(0)) : undefined;
      const ok = d && d.length >= 8 && USERACCOUNT_DISCRIMINATOR.every((b, j) => d[j] === b);
      this.owners.set(keys[i], ok ? decodeUserAccount(new DataView(d.buffer, d.byteOffset + 8), 0).owner : null);
    });
  }
}
