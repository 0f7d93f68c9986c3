// Instruction builders from the committed IDL (`src/generated/instructions.ts`): Borsh
// arguments after the 8-byte discriminator, accounts in the IDL's order with their roles,
// fixed program addresses filled in. Every builder returns an @solana/kit `Instruction`:
// `{ programAddress, accounts: { address, role }[], data }` with kit's `AccountRole` numbers,
// which kit's transaction messages take as they are (signers attach with kit's
// `addSignersToInstruction`); `web3.ts` turns one into a web3.js `TransactionInstruction`.
// Only kit's types are imported: the module has no runtime dependency.
import type { AccountMeta, AccountRole, Address, Instruction } from "@solana/kit";
import { ARG_TYPES, INSTRUCTIONS } from "./generated/instructions.js";
import { PROGRAM_ID } from "./generated/layouts.js";
import { base58 } from "./decode.js";

export type { AccountMeta, AccountRole, Address };

export type IdlType =
  | string
  | { vec: IdlType }
  | { array: [IdlType, number] }
  | { option: IdlType }
  | { defined: { name: string } };

export interface IdlInstruction {
  discriminator: number[];
  accounts: { name: string; writable: boolean; signer: boolean; address?: string }[];
  args: { name: string; type: IdlType }[];
}

/** An instruction as kit's `Instruction` carries it, with every field present. */
export interface BuiltInstruction extends Instruction {
  readonly programAddress: Address;
  readonly accounts: readonly AccountMeta[];
  readonly data: Uint8Array;
}

/** kit's `AccountRole` values: bit 1 signer, bit 0 writable (the test against the installed
 * kit: `test-rpc/ecosystem.test.ts`). */
export const ROLE = {
  READONLY: 0,
  WRITABLE: 1,
  READONLY_SIGNER: 2,
  WRITABLE_SIGNER: 3,
} as const satisfies Record<keyof typeof AccountRole, AccountRole>;

export function accountRole(signer: boolean, writable: boolean): AccountRole {
  return ((signer ? ROLE.READONLY_SIGNER : 0) | (writable ? ROLE.WRITABLE : 0)) as AccountRole;
}
export const isSigner = (role: AccountRole): boolean => role >= ROLE.READONLY_SIGNER;
export const isWritable = (role: AccountRole): boolean => (role & ROLE.WRITABLE) !== 0;

/** A base58 public key as kit's `Address` (refused unless it is base58 of at most 32 bytes). */
export function toAddress(key: string): Address {
  fromBase58(key);
  return key as Address;
}

/** The account meta of `address` with the role of the two flags. */
export function accountMeta(address: string, signer: boolean, writable: boolean): AccountMeta {
  return { address: toAddress(address), role: accountRole(signer, writable) };
}

const ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/** Base58 to 32 bytes (a public key). */
export function fromBase58(s: string): Uint8Array {
  let n = 0n;
  for (const c of s) {
    const i = ALPHABET.indexOf(c);
    if (i < 0) throw new Error(`not base58: ${s}`);
    n = n * 58n + BigInt(i);
  }
  const out = new Uint8Array(32);
  for (let i = 31; i >= 0; i--) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  if (n !== 0n) throw new Error(`not a 32-byte key: ${s}`);
  return out;
}

const INTS: Record<string, [number, boolean]> = {
  u8: [1, false], u16: [2, false], u32: [4, false], u64: [8, false], u128: [16, false],
  i8: [1, true], i16: [2, true], i32: [4, true], i64: [8, true], i128: [16, true],
};

function encodeInt(out: number[], ty: string, value: unknown) {
  const [bytes, signed] = INTS[ty];
  let v = BigInt(value as bigint | number | string);
  const bits = BigInt(bytes * 8);
  const min = signed ? -(1n << (bits - 1n)) : 0n;
  const max = signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
  if (v < min || v > max) throw new Error(`${value} does not fit ${ty}`);
  if (v < 0n) v += 1n << bits;
  for (let i = 0; i < bytes; i++) {
    out.push(Number(v & 0xffn));
    v >>= 8n;
  }
}

/** Borsh encoding of `value` as `ty`. */
export function encode(out: number[], ty: IdlType, value: unknown): void {
  if (typeof ty === "string") {
    if (ty in INTS) return encodeInt(out, ty, value);
    if (ty === "bool") return void out.push(value ? 1 : 0);
    if (ty === "pubkey") return void out.push(...fromBase58(value as string));
    throw new Error(`unsupported type ${ty}`);
  }
  if ("vec" in ty) {
    const items = value as unknown[];
    encodeInt(out, "u32", items.length);
    for (const v of items) encode(out, ty.vec, v);
    return;
  }
  if ("array" in ty) {
    const items = value as unknown[];
    if (items.length !== ty.array[1]) throw new Error(`array of ${ty.array[1]} expected`);
    for (const v of items) encode(out, ty.array[0], v);
    return;
  }
  if ("option" in ty) {
    if (value === null || value === undefined) return void out.push(0);
    out.push(1);
    return encode(out, ty.option, value);
  }
  const fields = ARG_TYPES[ty.defined.name];
  if (!fields) throw new Error(`unknown type ${ty.defined.name}`);
  const obj = value as Record<string, unknown>;
  for (const f of fields) {
    if (!(f.name in obj)) throw new Error(`${ty.defined.name}.${f.name} missing`);
    encode(out, f.type, obj[f.name]);
  }
}

/** Builds instruction `name` from its accounts by IDL name (fixed program addresses may be
 * left out) and its arguments by IDL name (integers as bigint, number or decimal string). */
export function buildInstruction(
  name: string,
  accounts: Record<string, string>,
  args: Record<string, unknown> = {},
): BuiltInstruction {
  const spec = INSTRUCTIONS[name];
  if (!spec) throw new Error(`unknown instruction ${name}`);
  const data: number[] = [...spec.discriminator];
  for (const a of spec.args) {
    if (!(a.name in args)) throw new Error(`${name}: argument ${a.name} missing`);
    encode(data, a.type, args[a.name]);
  }
  return {
    programAddress: toAddress(PROGRAM_ID),
    accounts: spec.accounts.map((a) => {
      const address = accounts[a.name] ?? a.address;
      if (!address) throw new Error(`${name}: account ${a.name} missing`);
      return accountMeta(address, a.signer, a.writable);
    }),
    data: Uint8Array.from(data),
  };
}

// --- Program-derived addresses -------------------------------------------------------------

const P = (1n << 255n) - 19n;
const modp = (a: bigint) => ((a % P) + P) % P;
function pow(b: bigint, e: bigint): bigint {
  let r = 1n;
  b = modp(b);
  while (e > 0n) {
    if (e & 1n) r = (r * b) % P;
    b = (b * b) % P;
    e >>= 1n;
  }
  return r;
}
const D = modp(-121665n * pow(121666n, P - 2n));

/** Whether 32 bytes decode to a point of ed25519 (a PDA must not). */
export function isOnCurve(bytes: Uint8Array): boolean {
  let y = 0n;
  for (let i = 31; i >= 0; i--) y = (y << 8n) | BigInt(bytes[i]);
  const sign = y >> 255n;
  y &= (1n << 255n) - 1n;
  if (y >= P) return false;
  const y2 = (y * y) % P;
  const u = modp(y2 - 1n);
  const v = modp(D * y2 + 1n);
  const x2 = (u * pow(v, P - 2n)) % P;
  if (x2 === 0n) return sign === 0n;
  return pow(x2, (P - 1n) / 2n) === 1n;
}

async function sha256(parts: Uint8Array[]): Promise<Uint8Array> {
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  return new Uint8Array(await globalThis.crypto.subtle.digest("SHA-256", all));
}

/** `find_program_address`: the first bump from 255 down whose hash is off the curve. */
export async function findProgramAddress(seeds: Uint8Array[], programId = PROGRAM_ID): Promise<[string, number]> {
  const pid = fromBase58(programId);
  const marker = new TextEncoder().encode("ProgramDerivedAddress");
  for (let bump = 255; bump >= 0; bump--) {
    const h = await sha256([...seeds, Uint8Array.of(bump), pid, marker]);
    if (!isOnCurve(h)) return [base58(h), bump];
  }
  throw new Error("no program address");
}

const text = (s: string) => new TextEncoder().encode(s);
export const exchangePda = async (admin: string) => (await findProgramAddress([text("exchange"), fromBase58(admin)]))[0];
export const vaultPda = async (exchange: string) => (await findProgramAddress([text("vault"), fromBase58(exchange)]))[0];
export const userPda = async (exchange: string, owner: string) =>
  (await findProgramAddress([text("user"), fromBase58(exchange), fromBase58(owner)]))[0];
export const insuranceFundPda = async (exchange: string) =>
  (await findProgramAddress([text("insurance"), fromBase58(exchange)]))[0];
export const stakePda = async (fund: string, staker: string) =>
  (await findProgramAddress([text("stake"), fromBase58(fund), fromBase58(staker)]))[0];
export const marketPda = async (exchange: string, index: number) =>
  (await findProgramAddress([text("market"), fromBase58(exchange), Uint8Array.of(index & 0xff, index >> 8)]))[0];

// --- The instructions a frontend sends ----------------------------------------------------

/** Deposit collateral from the owner's token account into the exchange. */
export async function deposit(owner: string, exchange: string, ownerToken: string, amount: bigint) {
  return buildInstruction(
    "deposit",
    { owner, exchange, user: await userPda(exchange, owner), vault: await vaultPda(exchange), owner_token: ownerToken },
    { amount },
  );
}

/** Moves an ADL payout into the owner's free collateral (permissionless). */
export async function claimAdlPayout(
  exchange: string,
  market: { market: string; book: string; long_queue: string; short_queue: string },
  owner: string,
) {
  return buildInstruction("claim_adl_payout", { exchange, ...market, user: await userPda(exchange, owner) });
}

/** Stakes collateral into the insurance fund. */
export async function ifStake(staker: string, exchange: string, stakerToken: string, amount: bigint) {
  const fund = await insuranceFundPda(exchange);
  return buildInstruction(
    "if_stake",
    { staker, exchange, fund, stake: await stakePda(fund, staker), vault: await vaultPda(exchange), staker_token: stakerToken },
    { amount },
  );
}
