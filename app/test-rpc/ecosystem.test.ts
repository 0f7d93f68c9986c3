// The client's builders and decoders with the maintained Solana packages, against a real
// validator (`adl-localnet`):
// - @solana/kit: the builders' instructions go through kit's own pipeline (transaction
//   message, fee payer signer, blockhash lifetime, instruction signers attached to their
//   accounts, signing, send and confirm over JSON-RPC and pubsub) — traders' funding,
//   create_user, deposit, an insurance stake and a trade; balances checked to the atom; the
//   compiled message gives the user account and the vault write access, and it holds the same
//   accounts, privileges and instructions as `transaction.ts` compiles.
// - web3.js v1: a withdraw through `toWeb3`, `Transaction` and `sendAndConfirmTransaction`.
// - Anchor's TypeScript client on the committed IDL: every account kind read over RPC with
//   `program.account.<name>.fetch` decodes to what our decoders read (the zero-copy tails of
//   the book and queues stay ours: Anchor sees their zero-length marker arrays); instructions
//   Anchor encodes — the ones sent here, and every instruction of the IDL on generated
//   arguments — have our data bytes and account metas.
// Needs the Rust binaries (`cargo test --workspace` builds them).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  AccountRole,
  addSignersToInstruction,
  appendTransactionMessageInstructions,
  address,
  assertIsTransactionWithBlockhashLifetime,
  compileTransactionMessage,
  createKeyPairSignerFromBytes,
  createSolanaRpc,
  createSolanaRpcSubscriptions,
  createTransactionMessage,
  generateKeyPairSigner,
  getCompiledTransactionMessageDecoder,
  getCompiledTransactionMessageEncoder,
  isSignerRole,
  isWritableRole,
  pipe,
  sendAndConfirmTransactionFactory,
  setTransactionMessageFeePayer,
  setTransactionMessageFeePayerSigner,
  setTransactionMessageLifetimeUsingBlockhash,
  signTransactionMessageWithSigners,
  type Blockhash,
  type Instruction,
  type KeyPairSigner,
  type ReadonlyUint8Array,
  type TransactionSigner,
} from "@solana/kit";
import { Connection, Keypair as Web3Keypair, Transaction, sendAndConfirmTransaction } from "@solana/web3.js";
import anchor from "@coral-xyz/anchor";
import type { AccountClient, Idl } from "@coral-xyz/anchor";
import {
  base58,
  decodeBookAccount,
  decodeExchangeAccount,
  decodeFundAccount,
  decodeMarketAccount,
  decodeOracleAccount,
  decodeQueueAccount,
} from "../src/decode.js";
import {
  INSURANCESTAKE_DISCRIMINATOR,
  USERACCOUNT_DISCRIMINATOR,
  decodeInsuranceStake,
  decodeUserAccount,
} from "../src/generated/layouts.js";
import {
  ROLE,
  buildInstruction,
  deposit,
  ifStake,
  insuranceFundPda,
  stakePda,
  userPda,
  vaultPda,
  type BuiltInstruction,
  type IdlType,
} from "../src/instructions.js";
import {
  Rpc,
  compileMessage,
  systemCreateAccount,
  systemTransfer,
  tokenAmount,
  tokenInitializeAccount,
  tokenMintTo,
  TOKEN_PROGRAM,
} from "../src/transaction.js";
import { toWeb3 } from "../src/web3.js";
import { bin, newKeypair, startLocalnet, stopLocalnet } from "../test-support/localnet.js";

const { AnchorProvider, BN, Program } = anchor;
const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "../../..");
const idl = JSON.parse(readFileSync(join(root, "idl/adl_engine.json"), "utf8")) as Idl;
const USDC = 1_000_000n;
const BASE = 1_000_000_000n;

/** Anchor's names: IDL snake_case to camelCase; account kinds start lower-case. */
const camel = (s: string) => s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const lowerFirst = (s: string) => s[0].toLowerCase() + s.slice(1);

/** Our decoded values with Anchor's field names. */
function camelKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(camelKeys);
  if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [camel(k), camelKeys(x)]));
  return v;
}

/** Anchor's decoded values as ours: BN to bigint, PublicKey to base58. */
function plain(v: unknown): unknown {
  if (BN.isBN(v)) return BigInt((v as InstanceType<typeof BN>).toString());
  if (v !== null && typeof v === "object" && typeof (v as { toBase58?: unknown }).toBase58 === "function") {
    return (v as { toBase58(): string }).toBase58();
  }
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/** An instruction's accounts as web3.js names them, from kit's roles (kit's own predicates). */
const metasOf = (ix: BuiltInstruction) =>
  ix.accounts.map((a) => ({ pubkey: a.address as string, isSigner: isSignerRole(a.role), isWritable: isWritableRole(a.role) }));

/** Anchor's instruction in the same terms. */
const anchorMetas = (ix: { keys: { pubkey: { toBase58(): string }; isSigner: boolean; isWritable: boolean }[] }) =>
  ix.keys.map((k) => ({ pubkey: k.pubkey.toBase58(), isSigner: k.isSigner, isWritable: k.isWritable }));

/** The account data after the 8-byte discriminator, checked. */
function body(data: Uint8Array, disc: number[]): DataView {
  assert.deepEqual([...data.slice(0, 8)], disc);
  return new DataView(data.buffer, data.byteOffset + 8, data.byteLength - 8);
}

/** A legacy message as its parts: each account's privileges and the instructions by address
 * (the order of the keys, which compilers may choose, left out). */
function messageParts(bytes: Uint8Array) {
  const m = getCompiledTransactionMessageDecoder().decode(bytes);
  if (m.version !== "legacy") throw new Error("legacy message expected");
  const { numSignerAccounts, numReadonlySignerAccounts, numReadonlyNonSignerAccounts } = m.header;
  const n = m.staticAccounts.length;
  const privileges = m.staticAccounts.map((address, i) => ({
    address: address as string,
    signer: i < numSignerAccounts,
    writable: i < numSignerAccounts ? i < numSignerAccounts - numReadonlySignerAccounts : i < n - numReadonlyNonSignerAccounts,
  }));
  const instructions = m.instructions.map((ix) => ({
    program: m.staticAccounts[ix.programAddressIndex] as string,
    accounts: (ix.accountIndices ?? []).map((i) => m.staticAccounts[i] as string),
    data: hex(Uint8Array.from(ix.data ?? [])),
  }));
  return {
    feePayer: m.staticAccounts[0] as string,
    privileges: privileges.sort((a, b) => (a.address < b.address ? -1 : 1)),
    instructions,
    blockhash: m.lifetimeToken as string,
  };
}

test("kit's AccountRole is the builders' ROLE", () => {
  assert.deepEqual(
    { ...ROLE },
    {
      READONLY: AccountRole.READONLY,
      WRITABLE: AccountRole.WRITABLE,
      READONLY_SIGNER: AccountRole.READONLY_SIGNER,
      WRITABLE_SIGNER: AccountRole.WRITABLE_SIGNER,
    },
  );
});

test("kit compiles the builders' deposit with its roles; booleans were compiled read-only", async () => {
  const [owner, exchange, token, blockhash] = [newKeypair(), newKeypair(), newKeypair(), newKeypair()].map((k) => k.address);
  const ix = await deposit(owner, exchange, token, 1n);
  const compile = (i: Instruction) =>
    getCompiledTransactionMessageEncoder().encode(
      compileTransactionMessage(
        pipe(
          createTransactionMessage({ version: "legacy" }),
          (msg) => setTransactionMessageFeePayer(address(owner), msg),
          (msg) => setTransactionMessageLifetimeUsingBlockhash({ blockhash: blockhash as Blockhash, lastValidBlockHeight: 0n }, msg),
          (msg) => appendTransactionMessageInstructions([i], msg),
        ),
      ),
    );
  const writable = (bytes: ReadonlyUint8Array) =>
    messageParts(Uint8Array.from(bytes)).privileges.filter((p) => p.writable).map((p) => p.address).sort();
  const [user, vault] = [await userPda(exchange, owner), await vaultPda(exchange)];
  assert.deepEqual(writable(compile(ix)), [owner, user, vault, token].sort());
  // The `{ signer, writable }` booleans the builders returned before: kit reads no role and
  // leaves every account but the fee payer read-only, which the program refuses on chain.
  const booleans = { ...ix, accounts: ix.accounts.map((a) => ({ address: a.address, signer: isSignerRole(a.role), writable: isWritableRole(a.role) })) };
  assert.deepEqual(writable(compile(booleans as unknown as Instruction)), [owner]);
});

// --- Every instruction of the IDL, encoded by Anchor and by us ----------------------------

/** splitmix64: the same arguments on every run. */
function rng(seed: bigint) {
  let s = seed;
  return () => {
    s = BigInt.asUintN(64, s + 0x9e3779b97f4a7c15n);
    let z = s;
    z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n);
    z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
    return z ^ (z >> 31n);
  };
}

const INT_BITS: Record<string, [number, boolean]> = {
  u8: [8, false], u16: [16, false], u32: [32, false], u64: [64, false],
  i8: [8, true], i16: [16, true], i32: [32, true], i64: [64, true],
};

type IdlTypeDef = { name: string; type: { kind: string; fields: { name: string; type: IdlType }[] } };

/** A value of IDL type `ty` in both clients' forms: ours (bigint above 32 bits, base58 keys,
 * snake_case fields) and Anchor's (BN, PublicKey, camelCase fields). */
function sample(ty: IdlType, next: () => bigint): { ours: unknown; anchor: unknown } {
  if (typeof ty === "string") {
    if (ty === "bool") {
      const b = (next() & 1n) === 1n;
      return { ours: b, anchor: b };
    }
    if (ty === "pubkey") {
      const bytes = new Uint8Array(32);
      for (let i = 0; i < 32; i += 8) new DataView(bytes.buffer).setBigUint64(i, next());
      const key = base58(bytes);
      return { ours: key, anchor: new anchor.web3.PublicKey(key) };
    }
    const [bits, signed] = INT_BITS[ty] ?? assert.fail(`no sample for ${ty}`);
    const raw = BigInt.asUintN(bits, next());
    const v = signed ? BigInt.asIntN(bits, raw) : raw;
    return bits <= 32 ? { ours: Number(v), anchor: Number(v) } : { ours: v, anchor: new BN(v.toString()) };
  }
  const many = (inner: IdlType, n: number) => {
    const items = Array.from({ length: n }, () => sample(inner, next));
    return { ours: items.map((i) => i.ours), anchor: items.map((i) => i.anchor) };
  };
  if ("vec" in ty) return many(ty.vec, Number(next() % 5n));
  if ("array" in ty) return many(ty.array[0], ty.array[1]);
  if ("option" in ty) return (next() & 1n) === 0n ? { ours: null, anchor: null } : sample(ty.option, next);
  const def = (idl.types as unknown as IdlTypeDef[]).find((t) => t.name === ty.defined.name)!;
  const ours: Record<string, unknown> = {};
  const theirs: Record<string, unknown> = {};
  for (const f of def.type.fields) {
    const s = sample(f.type, next);
    ours[f.name] = s.ours;
    theirs[camel(f.name)] = s.anchor;
  }
  return { ours, anchor: theirs };
}

test("every instruction of the IDL: Anchor's encoding is ours, data and account metas", async () => {
  const program = new Program(idl, readOnlyProvider(new Connection("http://127.0.0.1:1")));
  const next = rng(20240601n);
  const ixs = idl.instructions as unknown as { name: string; accounts: { name: string; address?: string }[]; args: { name: string; type: IdlType }[] }[];
  assert.ok(ixs.length >= 30, "the IDL's instructions");
  for (const spec of ixs) {
    // Twice each: the generated vectors have other lengths, the integers other signs.
    for (let round = 0; round < 2; round++) {
      const accounts: Record<string, string> = {};
      const anchorAccounts: Record<string, string> = {};
      for (const a of spec.accounts) {
        const key = a.address ?? (sample("pubkey", next).ours as string);
        accounts[a.name] = key;
        anchorAccounts[camel(a.name)] = key;
      }
      const args: Record<string, unknown> = {};
      const anchorArgs: unknown[] = [];
      for (const a of spec.args) {
        const s = sample(a.type, next);
        args[a.name] = s.ours;
        anchorArgs.push(s.anchor);
      }
      const ours = buildInstruction(spec.name, accounts, args);
      const theirs = await program.methods[camel(spec.name)](...anchorArgs).accountsStrict(anchorAccounts).instruction();
      assert.equal(theirs.programId.toBase58(), ours.programAddress, spec.name);
      assert.equal(hex(theirs.data), hex(ours.data), `${spec.name}: data`);
      assert.deepEqual(anchorMetas(theirs), metasOf(ours), `${spec.name}: account metas`);
    }
  }
});

/** A provider for reading and encoding: nothing is signed through Anchor here. */
function readOnlyProvider(connection: Connection) {
  const refuse = () => Promise.reject(new Error("read-only provider"));
  return new AnchorProvider(
    connection,
    { publicKey: anchor.web3.PublicKey.default, signTransaction: refuse, signAllTransactions: refuse },
    { commitment: "confirmed" },
  );
}

// --- On a validator ------------------------------------------------------------------------

test("kit, web3.js and Anchor's client with the builders and decoders on a validator", { timeout: 600_000 }, async (t) => {
  assert.ok(existsSync(bin("adl-localnet")), `${bin("adl-localnet")} missing: run cargo test --workspace first`);
  const dir = mkdtempSync(join(tmpdir(), "adl-eco-"));
  // Validator ports 20,000–30,000 (rpc.test.ts takes 45,000–57,500).
  const { child, ready } = await startLocalnet(dir, 20_000 + (process.pid % 400) * 25);
  try {
    const rpc = new Rpc(ready.rpc_url);
    const exchange = ready.exchange;
    const m = ready.markets[0];
    const vault = await vaultPda(exchange);
    const fund = await insuranceFundPda(exchange);
    const balances = async (owner: string, token: string) => {
      const [u, tk, v] = await rpc.accounts([await userPda(exchange, owner), token, vault]);
      return {
        free: u ? decodeUserAccount(body(u, USERACCOUNT_DISCRIMINATOR), 0).free_collateral : undefined,
        wallet: tokenAmount(tk!),
        vault: tokenAmount(v!),
      };
    };

    // kit: signers from the Solana CLI's 64-byte keypairs, the admin's from its file.
    const adminBytes = Uint8Array.from(JSON.parse(readFileSync(join(dir, "admin.json"), "utf8")));
    const admin = await createKeyPairSignerFromBytes(adminBytes);
    assert.equal(admin.address, ready.admin);
    const traderBytes = [newKeypair().secret, newKeypair().secret];
    const [taker, maker] = await Promise.all(traderBytes.map((b) => createKeyPairSignerFromBytes(b)));
    const tokens = await Promise.all([generateKeyPairSigner(), generateKeyPairSigner()]);

    const kitRpc = createSolanaRpc(ready.rpc_url);
    const kitSubscriptions = createSolanaRpcSubscriptions(ready.pubsub_url);
    const sendAndConfirm = sendAndConfirmTransactionFactory({ rpc: kitRpc, rpcSubscriptions: kitSubscriptions });
    /** kit's pipeline: a legacy message paid by `payer`, `signers` attached to the accounts
     * they sign for, every signature made by kit, sent and confirmed over RPC and pubsub.
     * Returns the message bytes that went out and who signed. The builders' results are
     * passed as kit `Instruction`s: the compiler checks the shape. */
    const sendKit = async (ixs: Instruction[], payer: KeyPairSigner, signers: TransactionSigner[] = []) => {
      const { value: lifetime } = await kitRpc.getLatestBlockhash({ commitment: "confirmed" }).send();
      const message = pipe(
        createTransactionMessage({ version: "legacy" }),
        (msg) => setTransactionMessageFeePayerSigner(payer, msg),
        (msg) => setTransactionMessageLifetimeUsingBlockhash(lifetime, msg),
        (msg) => appendTransactionMessageInstructions(ixs.map((ix) => addSignersToInstruction([payer, ...signers], ix)), msg),
      );
      const tx = await signTransactionMessageWithSigners(message);
      assertIsTransactionWithBlockhashLifetime(tx);
      await sendAndConfirm(tx, { commitment: "confirmed" });
      return { message: Uint8Array.from(tx.messageBytes), signers: Object.keys(tx.signatures).sort() };
    };

    const minted = 5_000n * USDC;
    const tokenRent = await rpc.rentExempt(165);
    const [vaultBefore] = await rpc.accounts([vault]);
    let vaultBalance = tokenAmount(vaultBefore!);

    await t.test("kit: funding, create_user and deposit signed by the trader", async () => {
      // Our System and SPL Token builders, kit's transaction: the admin pays and mints; the
      // new token accounts sign their creation.
      const setup: BuiltInstruction[] = [];
      for (const [i, trader] of [taker, maker].entries()) {
        setup.push(
          systemTransfer(admin.address, trader.address, 100_000_000n),
          systemCreateAccount(admin.address, tokens[i].address, tokenRent, 165, TOKEN_PROGRAM),
          tokenInitializeAccount(tokens[i].address, ready.mint, trader.address),
          tokenMintTo(ready.mint, tokens[i].address, admin.address, minted),
        );
      }
      await sendKit(setup, admin, tokens);
      for (const tok of tokens) assert.equal(tokenAmount((await rpc.accounts([tok.address]))[0]!), minted);

      // create_user + deposit, built by the client; the admin pays the fee, the trader signs
      // as owner (a kit `AccountSignerMeta` on the owner account).
      const amount = 1_000n * USDC;
      const userKey = await userPda(exchange, taker.address);
      const ixs: BuiltInstruction[] = [
        buildInstruction("create_user", { owner: taker.address, exchange, user: userKey }),
        await deposit(taker.address, exchange, tokens[0].address, amount),
      ];
      const sent = await sendKit(ixs, admin, [taker]);
      const after = await balances(taker.address, tokens[0].address);
      assert.equal(after.free, amount, "deposit credited to the atom");
      assert.equal(after.wallet, minted - amount, "deposit debited from the wallet");
      assert.equal(after.vault, vaultBalance + amount, "deposit landed in the vault");
      vaultBalance += amount;

      // The message kit compiled: the admin pays, both signed, and the deposit's user account,
      // vault and token account are writable (kit read no role before the builders had one,
      // and compiled all three read-only).
      const parts = messageParts(sent.message);
      assert.equal(parts.feePayer, admin.address);
      assert.deepEqual(sent.signers, [admin.address, taker.address].sort());
      const priv = (k: string) => parts.privileges.find((p) => p.address === k)!;
      assert.deepEqual(priv(userKey), { address: userKey, signer: false, writable: true });
      assert.deepEqual(priv(vault), { address: vault, signer: false, writable: true });
      assert.deepEqual(priv(tokens[0].address), { address: tokens[0].address, signer: false, writable: true });
      assert.deepEqual(priv(taker.address), { address: taker.address, signer: true, writable: true }, "create_user's payer");
      assert.deepEqual(priv(exchange), { address: exchange, signer: false, writable: false });
      // transaction.ts compiles the same instructions to the same accounts, privileges and
      // instructions (its key order is its own).
      const ours = messageParts(compileMessage(ixs, admin.address, parts.blockhash));
      assert.deepEqual(ours, parts, "transaction.ts and kit compile the same message");
    });

    await t.test("web3.js: a withdraw through toWeb3, Transaction and sendAndConfirmTransaction", async () => {
      const connection = new Connection(ready.rpc_url, { commitment: "confirmed", wsEndpoint: ready.pubsub_url });
      const owner = Web3Keypair.fromSecretKey(traderBytes[0]);
      assert.equal(owner.publicKey.toBase58(), taker.address);
      const before = await balances(taker.address, tokens[0].address);
      const amount = 250n * USDC;
      const ix = toWeb3(
        buildInstruction(
          "withdraw",
          { owner: taker.address, exchange, user: await userPda(exchange, taker.address), vault, destination: tokens[0].address },
          { amount },
        ),
      );
      assert.deepEqual(
        ix.keys.map((k) => [k.pubkey.toBase58(), k.isSigner, k.isWritable]),
        [
          [taker.address, true, false],
          [exchange, false, false],
          [await userPda(exchange, taker.address), false, true],
          [vault, false, true],
          [tokens[0].address, false, true],
          [TOKEN_PROGRAM, false, false],
        ],
      );
      await sendAndConfirmTransaction(connection, new Transaction().add(ix), [owner], { commitment: "confirmed" });
      const after = await balances(taker.address, tokens[0].address);
      assert.equal(after.free, before.free! - amount, "withdraw debited to the atom");
      assert.equal(after.wallet, before.wallet + amount, "withdraw paid into the wallet");
      assert.equal(after.vault, vaultBalance - amount, "withdraw left the vault");
      vaultBalance -= amount;
    });

    // The maker: a user account, a deposit and an insurance stake; then one trade, so the
    // market, book, queues and both user accounts hold a position.
    const stakeAmount = 10n * USDC;
    const size = BASE / 2n;
    const px = 99_500_000n;
    const margin = ((size / 1_000n) * px) / 1_000_000n / 2n;
    const oraclePrice = 100_000_000n;
    let takerFree = 0n;
    let makerFree = 0n;
    const tradeAccounts = (takerUser: string, makerUser: string) => ({
      exchange,
      market: m.market,
      oracle: m.oracle,
      book: m.book,
      long_queue: m.long_queue,
      short_queue: m.short_queue,
      taker_user: takerUser,
      taker: taker.address,
      maker_user: makerUser,
      maker: maker.address,
    });
    await t.test("kit: a stake and a trade signed by both traders", async () => {
      const [fundBefore] = await rpc.accounts([fund]);
      await sendKit(
        [
          buildInstruction("create_user", { owner: maker.address, exchange, user: await userPda(exchange, maker.address) }),
          await deposit(maker.address, exchange, tokens[1].address, 2_000n * USDC),
          buildInstruction("if_create_stake", { staker: maker.address, fund, stake: await stakePda(fund, maker.address) }),
          await ifStake(maker.address, exchange, tokens[1].address, stakeAmount),
        ],
        maker,
      );
      const made = await balances(maker.address, tokens[1].address);
      assert.equal(made.free, 2_000n * USDC);
      assert.equal(made.wallet, minted - 2_000n * USDC - stakeAmount);
      assert.equal(made.vault, vaultBalance + 2_000n * USDC + stakeAmount);
      vaultBalance += 2_000n * USDC + stakeAmount;
      const [fundAfter] = await rpc.accounts([fund]);
      assert.equal(decodeFundAccount(fundAfter!).balance, decodeFundAccount(fundBefore!).balance + stakeAmount);

      await sendKit(
        [
          buildInstruction("set_oracle_price", { authority: admin.address, exchange, oracle: m.oracle }, { price: oraclePrice, confidence: 0n }),
          buildInstruction("trade", tradeAccounts(await userPda(exchange, taker.address), await userPda(exchange, maker.address)), {
            args: { taker_base: size, price: px, taker_margin: margin, maker_margin: margin },
          }),
        ],
        admin,
        [taker, maker],
      );
      const [mk, bk, lq, sq] = await rpc.accounts([m.market, m.book, m.long_queue, m.short_queue]);
      const market = decodeMarketAccount(mk!);
      assert.equal(market.open_interest_long, size);
      assert.equal(market.open_interest_short, size);
      const book = decodeBookAccount(bk!);
      assert.equal(book.header.num_open, 2);
      assert.deepEqual(new Map(book.slots.map((s) => [s.owner, s.base])), new Map([[taker.address, size], [maker.address, -size]]));
      assert.equal(decodeQueueAccount(lq!).byLeverage.length, 1);
      assert.equal(decodeQueueAccount(sq!).byLeverage.length, 1);
      // Margins leave the free collateral, and the fees at the market's rates (exact here).
      const exact = (n: bigint, d: bigint) => {
        assert.equal(n % d, 0n, "no rounding in this example");
        return n / d;
      };
      const notional = exact(size * px, BASE);
      const fee = (bps: number) => exact(notional * BigInt(bps), 10_000n);
      takerFree = 750n * USDC - margin - fee(market.params.taker_fee_bps);
      makerFree = 2_000n * USDC - margin - fee(market.params.maker_fee_bps);
      assert.equal((await balances(taker.address, tokens[0].address)).free, takerFree);
      assert.equal((await balances(maker.address, tokens[1].address)).free, makerFree);
    });

    await t.test("Anchor: every account kind fetched decodes as ours", async () => {
      const program = new Program(idl, readOnlyProvider(new Connection(ready.rpc_url, "confirmed")));
      // The committed IDL is loaded at run time: its account clients by name.
      const fetch = async (kind: string, key: string) => plain(await (program.account as unknown as Record<string, AccountClient>)[kind].fetch(key)) as any;
      const kinds: [string, string, (d: Uint8Array) => unknown][] = [
        ["exchange", exchange, decodeExchangeAccount],
        ["insuranceFund", fund, decodeFundAccount],
        ["insuranceStake", await stakePda(fund, maker.address), (d) => decodeInsuranceStake(body(d, INSURANCESTAKE_DISCRIMINATOR), 0)],
        ["market", m.market, decodeMarketAccount],
        ["oracle", m.oracle, decodeOracleAccount],
        // Anchor decodes the header with the zero-length `slots`/`entries` markers; the
        // tails (slots below the high-water mark, both entry arrays) are ours alone.
        ["positionBook", m.book, (d) => decodeBookAccount(d).header],
        ["adlQueue", m.long_queue, (d) => decodeQueueAccount(d).header],
        ["adlQueue", m.short_queue, (d) => decodeQueueAccount(d).header],
        ["userAccount", await userPda(exchange, taker.address), (d) => decodeUserAccount(body(d, USERACCOUNT_DISCRIMINATOR), 0)],
        ["userAccount", await userPda(exchange, maker.address), (d) => decodeUserAccount(body(d, USERACCOUNT_DISCRIMINATOR), 0)],
      ];
      assert.deepEqual(
        [...new Set(kinds.map(([k]) => k))].sort(),
        idl.accounts!.map((a) => lowerFirst(a.name)).sort(),
        "every account kind of the IDL",
      );
      const data = await rpc.accounts(kinds.map(([, key]) => key));
      for (const [i, [kind, key, decode]] of kinds.entries()) {
        const theirs = await fetch(kind, key);
        assert.deepEqual(theirs, camelKeys(decode(data[i]!)), `${kind} ${key}`);
      }
      // A few fields the trade, the price and the stake set, so the comparison is not of zeros.
      const user = await fetch("userAccount", await userPda(exchange, taker.address));
      assert.equal(user.freeCollateral, takerFree);
      assert.equal(user.numPositions, 1);
      assert.equal(user.positions[0].market, m.market);
      assert.equal((await fetch("userAccount", await userPda(exchange, maker.address))).freeCollateral, makerFree);
      const market = await fetch("market", m.market);
      assert.deepEqual([market.openInterestLong, market.openInterestShort], [size, size]);
      assert.equal((await fetch("positionBook", m.book)).numOpen, 2);
      assert.equal((await fetch("oracle", m.oracle)).price, oraclePrice);
      const stake = await fetch("insuranceStake", await stakePda(fund, maker.address));
      assert.equal(stake.staker, maker.address);
    });

    await t.test("Anchor: the instructions sent here encode to ours", async () => {
      const program = new Program(idl, readOnlyProvider(new Connection(ready.rpc_url, "confirmed")));
      const takerUser = await userPda(exchange, taker.address);
      const makerUser = await userPda(exchange, maker.address);
      // create_user: Anchor derives the user PDA from the IDL's seeds and fills the System
      // program's fixed address.
      const create = await program.methods.createUser().accounts({ owner: taker.address, exchange }).instruction();
      const ours = buildInstruction("create_user", { owner: taker.address, exchange, user: takerUser });
      assert.equal(hex(create.data), hex(ours.data));
      assert.deepEqual(anchorMetas(create), metasOf(ours));
      // deposit: the token program's address filled in by Anchor.
      const amount = 1_000n * USDC;
      const dep = await program.methods
        .deposit(new BN(amount.toString()))
        .accounts({ owner: taker.address, exchange, user: takerUser, vault, ownerToken: tokens[0].address })
        .instruction();
      const ourDep = await deposit(taker.address, exchange, tokens[0].address, amount);
      assert.equal(hex(dep.data), hex(ourDep.data));
      assert.deepEqual(anchorMetas(dep), metasOf(ourDep));
      // trade: a struct argument with a signed field (the maker's side, negative).
      for (const takerBase of [size, -size]) {
        const args = { taker_base: takerBase, price: px, taker_margin: margin, maker_margin: margin };
        const trade = await program.methods
          .trade({
            takerBase: new BN(takerBase.toString()),
            price: new BN(px.toString()),
            takerMargin: new BN(margin.toString()),
            makerMargin: new BN(margin.toString()),
          })
          .accountsStrict(Object.fromEntries(Object.entries(tradeAccounts(takerUser, makerUser)).map(([k, v]) => [camel(k), v])))
          .instruction();
        const ourTrade = buildInstruction("trade", tradeAccounts(takerUser, makerUser), { args });
        assert.equal(hex(trade.data), hex(ourTrade.data));
        assert.deepEqual(anchorMetas(trade), metasOf(ourTrade));
      }
      // set_oracle_price.
      const set = await program.methods
        .setOraclePrice(new BN(oraclePrice.toString()), new BN(25_000))
        .accounts({ authority: admin.address, exchange, oracle: m.oracle })
        .instruction();
      const ourSet = buildInstruction("set_oracle_price", { authority: admin.address, exchange, oracle: m.oracle }, { price: oraclePrice, confidence: 25_000n });
      assert.equal(hex(set.data), hex(ourSet.data));
      assert.deepEqual(anchorMetas(set), metasOf(ourSet));
    });
  } finally {
    await stopLocalnet(child);
    rmSync(dir, { recursive: true, force: true });
  }
});
