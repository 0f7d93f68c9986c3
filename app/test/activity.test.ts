// The Activity panel's decoding (src/activity.ts): instructions built by the client's own
// builders (src/instructions.ts, Borsh from the IDL) must decode back to the same name,
// accounts and arguments, inside transactions shaped as `getTransaction` answers them (json
// encoding: base58 data, account indexes; version 0 with loaded addresses).
import { test } from "node:test";
import assert from "node:assert/strict";
import { base58 } from "../src/decode.js";
import { base58Bytes, decodeInstruction, isUserAccount, transactionRows, type RpcTransaction } from "../src/activity.js";
import { buildInstruction, type BuiltInstruction } from "../src/instructions.js";

const key = (n: number) => base58(Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? n : (i * 7 + n) & 0xff)));
const COMPUTE_BUDGET = "ComputeBudget111111111111111111111111111111";
const m = { exchange: key(1), market: key(2), oracle: key(3), book: key(4), long_queue: key(5), short_queue: key(6) };

/** A transaction as `getTransaction` (json) returns it: each key once, in `accountKeys`
 * unless it is in `loaded` (the addresses a version-0 transaction takes from lookup tables,
 * `meta.loadedAddresses`, indexed after `accountKeys`). */
function asRpc(ixs: BuiltInstruction[], err: unknown = null, loaded: string[] = []): RpcTransaction {
  const keys = [...new Set(ixs.flatMap((ix) => [ix.programAddress, ...ix.accounts.map((a) => a.address)]))].filter(
    (k) => !loaded.includes(k),
  );
  const index = (k: string) => [...keys, ...loaded].indexOf(k);
  return {
    slot: 42,
    blockTime: 1_700_000_000,
    meta: { err, loadedAddresses: { writable: loaded, readonly: [] } },
    transaction: {
      signatures: ["sig"],
      message: {
        accountKeys: keys,
        instructions: ixs.map((ix) => ({
          programIdIndex: index(ix.programAddress),
          accounts: ix.accounts.map((a) => index(a.address)),
          data: base58(ix.data),
        })),
      },
    },
  };
}

const computeBudget = (): BuiltInstruction =>
  ({ programAddress: COMPUTE_BUDGET, accounts: [], data: Uint8Array.from([2, 0x40, 0x0d, 0x03, 0]) }) as unknown as BuiltInstruction;

test("base58 of any length, leading zero bytes kept", () => {
  for (const bytes of [[], [0], [0, 0, 1], [255, 0, 3], Array.from({ length: 40 }, (_, i) => i * 5)]) {
    const b = Uint8Array.from(bytes);
    assert.deepEqual(base58Bytes(base58(b)), b);
  }
  assert.throws(() => base58Bytes("0OIl"));
});

test("every argument type of the keeper's instructions decodes back", () => {
  const liq = buildInstruction(
    "liquidate",
    { ...m, fund: key(7), liquidatee_user: key(8), liquidator_user: key(9), liquidator: key(10) },
    { slot: 4, base: (1n << 64n) - 1n, margin: 29_250_000n },
  );
  const d = decodeInstruction(liq.data, liq.accounts.map((a) => a.address));
  assert.deepEqual(d, {
    name: "liquidate",
    accounts: { ...m, fund: key(7), liquidatee_user: key(8), liquidator_user: key(9), liquidator: key(10) },
    args: { slot: 4n, base: (1n << 64n) - 1n, margin: 29_250_000n },
  });
  const adl = buildInstruction("auto_deleverage", m, { event_index: 3, event_id: 17n, proof: { slots: [3, 11, 7] } });
  assert.deepEqual(decodeInstruction(adl.data, adl.accounts.map((a) => a.address))?.args, {
    event_index: 3n,
    event_id: 17n,
    proof: { slots: [3n, 11n, 7n] },
  });
  const trade = buildInstruction(
    "trade",
    { ...m, taker_user: key(11), taker: key(12), maker_user: key(13), maker: key(14) },
    { args: { taker_base: -1_500_000_000n, price: 99_700_000n, taker_margin: 1n, maker_margin: 2n } },
  );
  assert.deepEqual(decodeInstruction(trade.data, trade.accounts.map((a) => a.address))?.args, {
    args: { taker_base: -1_500_000_000n, price: 99_700_000n, taker_margin: 1n, maker_margin: 2n },
  });
  assert.equal(decodeInstruction(Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]), []), null, "not an IDL discriminator");
});

test("a keeper transaction: compute budget skipped, accounts by IDL name, result kept", () => {
  const claim = buildInstruction("claim_adl_payout", { ...m, user: key(20) });
  const start = buildInstruction("start_adl", { ...m, fund: key(7), user: key(21) }, { slot: 6 });
  const err = { InstructionError: [2, { Custom: 6012 }] };
  const rows = transactionRows("sig", asRpc([computeBudget(), computeBudget(), claim, start], err));
  assert.deepEqual(
    rows.map((r) => [r.index, r.name, r.accounts.user, r.slot, r.blockTime, r.err]),
    [
      [2, "claim_adl_payout", key(20), 42, 1_700_000_000, err],
      [3, "start_adl", key(21), 42, 1_700_000_000, err],
    ],
  );
  assert.deepEqual(rows[1].args, { slot: 6n });
  assert.ok(isUserAccount("user") && isUserAccount("liquidatee_user") && !isUserAccount("fund"));
});

test("a version-0 transaction: accounts from lookup tables resolve", () => {
  const flag = buildInstruction("flag_bankrupt", m, { slot: 9 });
  const tx = asRpc([computeBudget(), flag], null, [m.book, m.oracle]);
  assert.ok(tx.transaction.message.accountKeys.length < 6, "some keys come from the tables");
  const [row] = transactionRows("sig", tx);
  assert.equal(row.name, "flag_bankrupt");
  assert.deepEqual(row.accounts, { exchange: m.exchange, market: m.market, oracle: m.oracle, book: m.book });
  assert.deepEqual(row.args, { slot: 9n });
  assert.equal(row.err, null);
});
