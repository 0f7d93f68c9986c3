// Legacy Solana transactions and a small JSON-RPC client, dependency-free: what a page or a
// Node script needs to send the instructions of `instructions.ts` to a real node without a
// Solana library. Integrators with @solana/kit send the same instructions through kit's own
// pipeline instead (README.md, `test-rpc/ecosystem.test.ts`); this compiler is kept for the
// dependency-free paths and is checked against kit's account privileges in that test.
// Signing is a callback (ed25519 over the message bytes): a wallet adapter in the browser,
// node:crypto in Node (`test-rpc/`).
import type { BuiltInstruction } from "./instructions.js";
import { accountMeta, fromBase58, isSigner, isWritable, toAddress } from "./instructions.js";
import { base58 } from "./decode.js";

export interface TxSigner {
  /** Base58 public key. */
  address: string;
  /** ed25519 signature of `message`. */
  sign(message: Uint8Array): Promise<Uint8Array> | Uint8Array;
}

function compactU16(out: number[], n: number): void {
  let v = n;
  for (;;) {
    let b = v & 0x7f;
    v >>= 7;
    if (v === 0) {
      out.push(b);
      return;
    }
    b |= 0x80;
    out.push(b);
  }
}

/** The legacy message of `ixs` paid by `feePayer`: account keys ordered writable signers
 * (payer first), read-only signers, writable non-signers, read-only non-signers; duplicate
 * keys merged with the widest flags. */
export function compileMessage(ixs: BuiltInstruction[], feePayer: string, recentBlockhash: string): Uint8Array {
  const metas = new Map<string, { signer: boolean; writable: boolean; order: number }>();
  let order = 0;
  const add = (address: string, signer: boolean, writable: boolean) => {
    const m = metas.get(address);
    if (m) {
      m.signer ||= signer;
      m.writable ||= writable;
    } else metas.set(address, { signer, writable, order: order++ });
  };
  add(feePayer, true, true);
  for (const ix of ixs) {
    for (const a of ix.accounts) add(a.address, isSigner(a.role), isWritable(a.role));
    add(ix.programAddress, false, false);
  }
  const group = (s: boolean, w: boolean) =>
    [...metas.entries()].filter(([, m]) => m.signer === s && m.writable === w).sort((a, b) => a[1].order - b[1].order);
  const keys = [...group(true, true), ...group(true, false), ...group(false, true), ...group(false, false)].map(([k]) => k);
  if (keys[0] !== feePayer) throw new Error("fee payer must be first");
  const index = new Map(keys.map((k, i) => [k, i]));
  const numSigners = group(true, true).length + group(true, false).length;
  const out: number[] = [numSigners, group(true, false).length, group(false, false).length];
  compactU16(out, keys.length);
  for (const k of keys) out.push(...fromBase58(k));
  out.push(...fromBase58(recentBlockhash));
  compactU16(out, ixs.length);
  for (const ix of ixs) {
    out.push(index.get(ix.programAddress)!);
    compactU16(out, ix.accounts.length);
    for (const a of ix.accounts) out.push(index.get(a.address)!);
    compactU16(out, ix.data.length);
    out.push(...ix.data);
  }
  return Uint8Array.from(out);
}

/** The signer keys a message requires, in its order. */
export function requiredSigners(message: Uint8Array): string[] {
  const n = message[0];
  // keys start after the 3-byte header and the compact length (1 byte below 128 keys).
  if (message[3] >= 0x80) throw new Error("more than 127 account keys");
  const keys: string[] = [];
  for (let i = 0; i < n; i++) keys.push(base58(message.slice(4 + 32 * i, 4 + 32 * (i + 1))));
  return keys;
}

/** Signs `message` with every required signer and returns the wire transaction. */
export async function signTransaction(message: Uint8Array, signers: TxSigner[]): Promise<Uint8Array> {
  const need = requiredSigners(message);
  const out: number[] = [];
  compactU16(out, need.length);
  for (const k of need) {
    const s = signers.find((x) => x.address === k);
    if (!s) throw new Error(`missing signature of ${k}`);
    const sig = await s.sign(message);
    if (sig.length !== 64) throw new Error("an ed25519 signature is 64 bytes");
    out.push(...sig);
  }
  out.push(...message);
  return Uint8Array.from(out);
}

function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function fromBase64(s: string): Uint8Array {
  return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
}

export class RpcError extends Error {
  constructor(
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
}

/** A JSON-RPC connection (HTTP POST). */
export class Rpc {
  private id = 0;
  constructor(readonly url: string) {}

  async call<T>(method: string, params: unknown[] = []): Promise<T> {
    const r = await fetch(this.url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: ++this.id, method, params }),
    });
    const j = await r.json();
    if (j.error) throw new RpcError(`${method}: ${j.error.message}`, j.error.data);
    return j.result as T;
  }

  async latestBlockhash(): Promise<string> {
    const r = await this.call<{ value: { blockhash: string } }>("getLatestBlockhash", [{ commitment: "confirmed" }]);
    return r.value.blockhash;
  }

  async rentExempt(len: number): Promise<bigint> {
    return BigInt(await this.call<number>("getMinimumBalanceForRentExemption", [len]));
  }

  /** Accounts' data (base64 over the wire), `undefined` where none exists. */
  async accounts(keys: string[]): Promise<(Uint8Array | undefined)[]> {
    const r = await this.call<{ value: ({ data: [string, string] } | null)[] }>("getMultipleAccounts", [
      keys,
      { encoding: "base64", commitment: "confirmed" },
    ]);
    return r.value.map((a) => (a ? fromBase64(a.data[0]) : undefined));
  }

  /** Signs, sends and waits until the transaction is confirmed; throws with the program's
   * error (`{"InstructionError":[i,{"Custom":n}]}`) when it fails. Returns the signature. */
  async send(ixs: BuiltInstruction[], payer: TxSigner, others: TxSigner[] = [], timeoutMs = 60_000): Promise<string> {
    const message = compileMessage(ixs, payer.address, await this.latestBlockhash());
    const tx = await signTransaction(message, [payer, ...others]);
    const sig = await this.call<string>("sendTransaction", [
      toBase64(tx),
      { encoding: "base64", preflightCommitment: "confirmed" },
    ]);
    const start = Date.now();
    for (;;) {
      const r = await this.call<{ value: ({ err: unknown; confirmationStatus: string } | null)[] }>(
        "getSignatureStatuses",
        [[sig]],
      );
      const s = r.value[0];
      if (s?.err) throw new RpcError(`transaction ${sig} failed: ${JSON.stringify(s.err)}`, s.err);
      if (s && (s.confirmationStatus === "confirmed" || s.confirmationStatus === "finalized")) return sig;
      if (Date.now() - start > timeoutMs) throw new RpcError(`transaction ${sig} not confirmed in ${timeoutMs} ms`);
      await new Promise((ok) => setTimeout(ok, 100));
    }
  }
}

// --- System program and SPL Token instructions a client needs around the program's ---------

const SYSTEM = "11111111111111111111111111111111";
export const TOKEN_PROGRAM = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA";

function u32(v: number): number[] {
  return [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff];
}

function u64(v: bigint): number[] {
  const out: number[] = [];
  let x = BigInt.asUintN(64, v);
  for (let i = 0; i < 8; i++) {
    out.push(Number(x & 0xffn));
    x >>= 8n;
  }
  return out;
}

export function systemTransfer(from: string, to: string, lamports: bigint): BuiltInstruction {
  return {
    programAddress: toAddress(SYSTEM),
    accounts: [
      accountMeta(from, true, true),
      accountMeta(to, false, true),
    ],
    data: Uint8Array.from([...u32(2), ...u64(lamports)]),
  };
}

export function systemCreateAccount(
  from: string,
  created: string,
  lamports: bigint,
  space: number,
  owner: string,
): BuiltInstruction {
  return {
    programAddress: toAddress(SYSTEM),
    accounts: [
      accountMeta(from, true, true),
      accountMeta(created, true, true),
    ],
    data: Uint8Array.from([...u32(0), ...u64(lamports), ...u64(BigInt(space)), ...fromBase58(owner)]),
  };
}

/** SPL Token `InitializeAccount3` (owner in the data, no rent sysvar). */
export function tokenInitializeAccount(account: string, mint: string, owner: string): BuiltInstruction {
  return {
    programAddress: toAddress(TOKEN_PROGRAM),
    accounts: [
      accountMeta(account, false, true),
      accountMeta(mint, false, false),
    ],
    data: Uint8Array.from([18, ...fromBase58(owner)]),
  };
}

export function tokenMintTo(mint: string, to: string, authority: string, amount: bigint): BuiltInstruction {
  return {
    programAddress: toAddress(TOKEN_PROGRAM),
    accounts: [
      accountMeta(mint, false, true),
      accountMeta(to, false, true),
      accountMeta(authority, true, false),
    ],
    data: Uint8Array.from([7, ...u64(amount)]),
  };
}

/** The amount held by an SPL token account (bytes 64..72). */
export function tokenAmount(data: Uint8Array): bigint {
  return new DataView(data.buffer, data.byteOffset, data.byteLength).getBigUint64(64, true);
}
