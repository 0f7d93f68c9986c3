// The TypeScript client against account bytes written by the real program in the Rust tests
// (`tests/program/golden.rs`): every decoded field and every computed rank, tier, light and
// size ahead must match the Rust results to the atom.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { activeEvents, fromSnapshot, queueRows, type SnapshotFile } from "../src/snapshot.js";
import { adlLights, divCeil, divFloor } from "../src/rank.js";
import { pythToPriceAtoms } from "../src/oracle.js";
import {
  buildInstruction,
  claimAdlPayout,
  deposit,
  exchangePda,
  ifStake,
  insuranceFundPda,
  marketPda,
  stakePda,
  userPda,
  vaultPda,
} from "../src/instructions.js";
import { goldenPath } from "../test-support/paths.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const candidates = [goldenPath("snapshot.json"), join(here, "../../public/fixtures/snapshot.json")];
const files = candidates.filter(existsSync);

test("a golden snapshot is present", () => {
  assert.ok(files.length > 0, `none of ${candidates.join(", ")}`);
});

for (const path of files) {
  const file = JSON.parse(readFileSync(path, "utf8")) as SnapshotFile & { expected: any };
  const s = fromSnapshot(file);
  const exp = file.expected;

  test(`${path}: accounts decode`, () => {
    assert.equal(s.oracle.price.toString(), exp.oracle_price);
    assert.equal(s.oracle.kind, "pushed");
    assert.equal(s.market.book, file.accounts.book.key);
    assert.equal(s.market.long_queue, file.accounts.long_queue.key);
    assert.equal(s.market.exchange, file.accounts.exchange.key);
    assert.equal(s.book.header.market, file.accounts.market.key);
    assert.equal(s.long.header.side, 0);
    assert.equal(s.short.header.side, 1);
    assert.equal(s.fund?.balance.toString(), exp.fund_balance);
    assert.equal(s.market.open_interest_long, s.market.open_interest_short);
  });

  test(`${path}: ranks, tiers, lights and size ahead match Rust`, () => {
    for (const side of ["long", "short"] as const) {
      const rows = queueRows(s, side);
      const want = exp[side];
      assert.equal(rows.length, want.length, side);
      rows.forEach((r, i) => {
        const w = want[i];
        assert.deepEqual(
          [r.rank, r.tier, r.slot, r.owner, r.base.toString(), r.entryPrice.toString(), r.margin.toString(), r.pnl.toString(), r.leverageBps === null ? null : Number(r.leverageBps), r.lights, r.sizeAhead.toString()],
          [w.rank, w.tier, w.slot, w.owner, w.base, w.entry_price, w.margin, w.pnl, w.leverage_bps, w.lights, w.size_ahead],
          `${side} row ${i}`,
        );
      });
    }
  });

  test(`${path}: active ADL events`, () => {
    const evs = activeEvents(s);
    assert.equal(evs.length, exp.events.length);
    evs.forEach((e, i) => {
      const w = exp.events[i];
      assert.equal(e.index, w.index);
      assert.equal(Number(e.event.id), w.id);
      assert.equal(e.event.exec_price.toString(), w.exec_price);
      assert.equal(e.event.base_remaining.toString(), w.base_remaining);
      assert.equal(e.event.fund_paid.toString(), w.fund_paid);
    });
  });
}

test("rounding helpers match the program's", () => {
  assert.equal(divFloor(-7n, 2n), -4n);
  assert.equal(divCeil(-7n, 2n), -3n);
  assert.equal(divCeil(7n, 2n), 4n);
  assert.equal(adlLights(0n, 10n, 100n), 5);
  assert.equal(adlLights(15n, 10n, 100n), 4);
  assert.equal(adlLights(90n, 10n, 100n), 1);
  assert.equal(adlLights(0n, 100n, 100n), 3);
});

// A market on a Pyth `PriceUpdateV2` account (`tests/program/pyth.rs`): the oracle decodes
// by the market's kind, and the price converts to the atom the program read.
const pythPath = goldenPath("pyth.json");
test("a Pyth golden snapshot is present", () => {
  assert.ok(existsSync(pythPath), pythPath);
});
if (existsSync(pythPath)) {
  test("Pyth oracle: decoded by kind, converted exactly as the program does", () => {
    const file = JSON.parse(readFileSync(pythPath, "utf8")) as SnapshotFile & { expected: any };
    const s = fromSnapshot(file);
    const exp = file.expected;
    assert.equal(s.market.oracle_kind, exp.oracle_kind);
    assert.equal(s.market.oracle, file.accounts.oracle.key);
    assert.equal(s.oracle.kind, "pyth");
    assert.equal(s.oracle.price.toString(), exp.oracle_price);
    assert.equal(s.oracle.confidence.toString(), exp.oracle_confidence);
    assert.equal(s.oracle.publish_time?.toString(), exp.publish_time);
    assert.equal(s.oracle.publish_slot.toString(), exp.posted_slot);
    assert.equal(s.oracle.feed_id, exp.feed_id);
    assert.equal(s.oracle.fully_verified, true);
    assert.equal(Buffer.from(s.market.oracle_feed_id).toString("hex"), exp.feed_id);
  });
}

test("Pyth exponent conversion: toward zero for the price, up for the confidence", () => {
  assert.deepEqual(pythToPriceAtoms(12345678901n, 1n, -8), { price: 123456789n, confidence: 1n });
  assert.deepEqual(pythToPriceAtoms(123n, 4n, -4), { price: 12300n, confidence: 400n });
  assert.deepEqual(pythToPriceAtoms(1n, 0n, -10), null);
  assert.deepEqual(pythToPriceAtoms(-5n, 0n, -8), null);
  assert.deepEqual(pythToPriceAtoms(5n, 0n, -19), null);
  assert.deepEqual(pythToPriceAtoms(5n, 0n, 1), null);
});

// Instruction builders generated from the IDL against instructions the Rust client built
// (`tests/program/golden.rs` write_golden_instructions — the builders every bank test uses).
const ixPath = goldenPath("instructions.json");
test("golden instructions are present", () => assert.ok(existsSync(ixPath), ixPath));
if (existsSync(ixPath)) {
  const golden = JSON.parse(readFileSync(ixPath, "utf8"));
  const hexOf = (b: Uint8Array) => Buffer.from(b).toString("hex");
  for (const g of golden.instructions) {
    test(`instruction ${g.name}: same program, accounts and bytes as the Rust client`, () => {
      const ix = buildInstruction(g.name, g.accounts, g.args);
      assert.equal(ix.programAddress, g.program_id);
      assert.deepEqual(
        ix.accounts,
        // kit's AccountRole: READONLY 0, WRITABLE 1, READONLY_SIGNER 2, WRITABLE_SIGNER 3.
        g.keys.map((k: any) => ({ address: k.pubkey, role: (k.signer ? 2 : 0) + (k.writable ? 1 : 0) })),
      );
      assert.equal(hexOf(ix.data), g.data);
    });
  }
  test("PDAs derive as the Rust client derives them", async () => {
    const p = golden.pdas;
    assert.equal(await exchangePda(p.admin), p.exchange);
    assert.equal(await vaultPda(p.exchange), p.vault);
    assert.equal(await userPda(p.exchange, p.owner), p.user);
    assert.equal(await insuranceFundPda(p.exchange), p.fund);
    assert.equal(await stakePda(p.fund, p.owner), p.stake);
    assert.equal(await marketPda(p.exchange, 0), p.market0);
  });
  test("deposit, claim_adl_payout and if_stake convenience builders derive their accounts", async () => {
    const by = (n: string) => golden.instructions.find((g: any) => g.name === n);
    const d = by("deposit");
    const built = await deposit(d.accounts.owner, d.accounts.exchange, d.accounts.owner_token, BigInt(d.args.amount));
    assert.equal(hexOf(built.data), d.data);
    assert.deepEqual(built.accounts.map((a) => a.address), d.keys.map((k: any) => k.pubkey));
    const c = by("claim_adl_payout");
    const owner = golden.pdas.owner;
    const claim = await claimAdlPayout(c.accounts.exchange, c.accounts, owner);
    assert.deepEqual(claim.accounts.map((a) => a.address), c.keys.map((k: any) => k.pubkey));
    const s = by("if_stake");
    const st = await ifStake(s.accounts.staker, s.accounts.exchange, s.accounts.staker_token, BigInt(s.args.amount));
    assert.equal(hexOf(st.data), s.data);
    assert.deepEqual(st.accounts.map((a) => a.address), s.keys.map((k: any) => k.pubkey));
  });
  test("bad arguments are refused by name", () => {
    assert.throws(() => buildInstruction("deposit", {}, { amount: 1n }), /account owner missing/);
    assert.throws(() => buildInstruction("deposit", golden.instructions[0].accounts, {}), /argument amount missing/);
    assert.throws(() => buildInstruction("deposit", golden.instructions[0].accounts, { amount: -1n }), /does not fit u64/);
    assert.throws(() => buildInstruction("nope", {}, {}), /unknown instruction/);
    assert.throws(() => buildInstruction("deposit", { ...golden.instructions[0].accounts, owner: "0x12" }, { amount: 1n }), /not base58/);
    assert.throws(() => buildInstruction("deposit", { ...golden.instructions[0].accounts, owner: "z".repeat(45) }, { amount: 1n }), /not a 32-byte key/);
  });
}
