// A newcomer watches a crash, with the commands the README gives (on ports of its own):
// `adl-localnet --traders 12` opens a book of 6 longs and 6 shorts; the built viewer is served
// by `npx vite preview` and opened in headless Chromium at `?rpc=…&market=…`; `adl-keeper
// price set 92`, `price set 78` and `adl-keeper run` crash the market. Without a reload the
// page must show what happened: the done ADL events and, in the Activity panel, the
// liquidations, ADL starts, ranked fills and payout claims. Node then checks the page against
// its own reading of the chain: the market account's events from raw bytes, and the
// transactions decoded with the IDL JSON alone (not the viewer's code).
// Needs the Rust binaries (`cargo test --workspace` builds them) and `npm run build`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Page } from "playwright-core";
import {
  decodeMarket,
  decodePositionBook,
  decodePositionSlot,
  decodeUserAccount,
  POSITIONBOOK_SIZE,
  POSITIONSLOT_SIZE,
  type AdlEvent,
} from "../src/generated/layouts.js";
import { bin, stopLocalnet, type Ready } from "../test-support/localnet.js";

const here = dirname(fileURLToPath(import.meta.url));
const app = join(here, "../..");
const root = join(app, "..");
const idl = JSON.parse(readFileSync(join(root, "idl/adl_engine.json"), "utf8"));
const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
/** How long the page may take to show the whole crash after the price push. */
const CRASH_MS = 240_000;
/** The Activity panel's window: the newest signatures of the market and its oracle. */
const LIMIT = 50;

const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function rpcCall<T>(url: string, method: string, params: unknown[]): Promise<T> {
  const r = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const j = await r.json();
  if (j.error) throw Object.assign(new Error(`${method}: ${j.error.message}`), { code: j.error.code });
  return j.result as T;
}

async function accountData(url: string, key: string): Promise<Uint8Array> {
  const r = await rpcCall<{ value: { data: [string, string] } | null }>(url, "getAccountInfo", [key, { encoding: "base64", commitment: "confirmed" }]);
  assert.ok(r.value, `account ${key} missing`);
  return Buffer.from(r.value.data[0], "base64");
}

const view = (d: Uint8Array, skip = 8) => new DataView(d.buffer, d.byteOffset + skip);

/** Base58 to bytes (its own few lines, so that Node reads transactions independently of the
 * viewer). */
function unbase58(s: string): Uint8Array {
  const A = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
  let n = 0n;
  for (const c of s) n = n * 58n + BigInt(A.indexOf(c));
  const hex = n === 0n ? "" : n.toString(16);
  const body = Buffer.from(hex.length % 2 ? "0" + hex : hex, "hex");
  const zeros = s.length - s.replace(/^1+/, "").length;
  return Uint8Array.from([...new Array(zeros).fill(0), ...body]);
}

interface TxRow {
  sig: string;
  slot: number;
  name: string;
  ok: boolean;
  /** Account keys by the IDL's account names. */
  accounts: Record<string, string>;
}

/** The market's recent activity as Node reads it: the newest LIMIT signatures of the market
 * and its oracle, each transaction's top-level adl-engine instructions named by the IDL's
 * discriminators and account lists. */
async function chainActivity(url: string, addresses: string[]): Promise<TxRow[]> {
  type Sig = { signature: string; slot: number };
  const lists: Sig[][] = [];
  for (const a of addresses) lists.push(await rpcCall<Sig[]>(url, "getSignaturesForAddress", [a, { limit: LIMIT, commitment: "confirmed" }]));
  const bySig = new Map(lists.flat().map((s) => [s.signature, s]));
  const sigs = [...bySig.values()].sort((a, b) => b.slot - a.slot).slice(0, LIMIT);
  const byDisc = new Map<string, { name: string; accounts: { name: string }[] }>(
    idl.instructions.map((ix: { discriminator: number[]; name: string; accounts: { name: string }[] }) => [ix.discriminator.join(","), ix]),
  );
  const rows: TxRow[] = [];
  for (const s of sigs) {
    const tx = await rpcCall<{
      slot: number;
      meta: { err: unknown };
      transaction: { message: { accountKeys: string[]; instructions: { programIdIndex: number; accounts: number[]; data: string }[] } };
    }>(url, "getTransaction", [s.signature, { encoding: "json", maxSupportedTransactionVersion: 0, commitment: "confirmed" }]);
    const keys = tx.transaction.message.accountKeys;
    for (const ix of tx.transaction.message.instructions) {
      if (keys[ix.programIdIndex] !== idl.address) continue;
      const spec = byDisc.get(Array.from(unbase58(ix.data).slice(0, 8)).join(","));
      assert.ok(spec, `unknown adl-engine instruction in ${s.signature}`);
      const accounts = Object.fromEntries(spec.accounts.map((a, i) => [a.name, keys[ix.accounts[i]]]));
      rows.push({ sig: s.signature, slot: tx.slot, name: spec.name, ok: tx.meta.err === null, accounts });
    }
  }
  return rows;
}

/** The market's events and the book's open positions and unclaimed payouts, from raw bytes
 * with the generated layouts. */
async function chainState(url: string, market: string, book: string) {
  const m = decodeMarket(view(await accountData(url, market)), 0);
  const b = await accountData(url, book);
  const header = decodePositionBook(view(b), 0);
  const slots = Array.from({ length: header.high_water }, (_, i) => decodePositionSlot(view(b), POSITIONBOOK_SIZE + i * POSITIONSLOT_SIZE));
  return { market: m, events: m.adl_events.filter((e) => e.status !== 0), slots };
}

/** What the page shows: event rows, activity rows, queue owners, and the Activity state. */
async function pageView(page: Page) {
  return page.evaluate(() => {
    const all = (sel: string, from: ParentNode = document) => Array.from(from.querySelectorAll<HTMLElement>(sel));
    return {
      events: all("[data-testid=event-row]").map((r) => ({ id: r.dataset.id!, status: r.dataset.status!, fills: r.dataset.fills!, fundPaid: r.dataset.fundPaid! })),
      activity: all("[data-testid=activity-row]").map((r) => {
        const liq = r.querySelector<HTMLElement>("[data-acc=liquidatee_user]");
        return { sig: r.dataset.sig!, ix: r.dataset.ix!, ok: r.dataset.ok!, slot: Number(r.dataset.slot), liquidatee: { key: liq?.dataset.key, owner: liq?.dataset.owner } };
      }),
      long: all("[data-testid=queue-long] tbody tr").map((r) => r.dataset.owner!),
      short: all("[data-testid=queue-short] tbody tr").map((r) => r.dataset.owner!),
      activityState: document.body.dataset.activity,
      oracle: document.querySelector("[data-testid=oracle-price]")?.textContent,
    };
  });
}

/** Runs a child, its output kept for failure messages. */
function child(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; group?: boolean } = {}) {
  const c = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ["ignore", "pipe", "pipe"], detached: opts.group });
  let log = "";
  c.stdout!.on("data", (d) => (log = (log + d).slice(-20_000)));
  c.stderr!.on("data", (d) => (log = (log + d).slice(-20_000)));
  return { c, log: () => log };
}

/** SIGTERM to a child (its process group when it leads one), then waits until it is gone. */
async function stop(c: ChildProcess | undefined, group = false) {
  if (!c || c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise((ok) => c.once("exit", ok));
  if (group) process.kill(-c.pid!, "SIGTERM");
  else c.kill("SIGTERM");
  await Promise.race([exited, sleep(15_000)]);
  if (c.exitCode === null && c.signalCode === null) (group ? process.kill(-c.pid!, "SIGKILL") : c.kill("SIGKILL"));
}

test("a newcomer watches a crash in the live viewer", { timeout: 600_000 }, async (t) => {
  assert.ok(existsSync(bin("adl-localnet")), `${bin("adl-localnet")} missing: run cargo test --workspace first`);
  assert.ok(existsSync(join(app, "dist/index.html")), "run `npm run build` first");
  const dir = mkdtempSync(join(tmpdir(), "adl-newcomer-"));
  // Ports 61,000–63,099: above the kernel's ephemeral range (32,768–60,999), so no client
  // socket takes them, and apart from the other test files' validators (rpc.test.ts 45,000–
  // 57,499; ecosystem.test.ts 20,000–29,999). Per process id, a slice of 30: the validator's
  // 25 sockets, then JSON-RPC and pubsub.
  const base = 61_000 + (process.pid % 70) * 30;
  const rpcPort = base + 26;
  const previewPort = base + 28;
  const readyFile = join(dir, "ready.json");
  const keypair = join(dir, "admin.json");
  let localnet: ReturnType<typeof child> | undefined;
  let preview: ReturnType<typeof child> | undefined;
  let keeper: ReturnType<typeof child> | undefined;
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: CHROMIUM_ARGS });
  const t0 = Date.now();
  const times: Record<string, string> = {};
  try {
    // 1. The validator with an open book (README: `adl-localnet --traders 12`).
    localnet = child(
      bin("adl-localnet"),
      ["--traders", "12", "--rpc-port", String(rpcPort), "--port-range", `${base}-${base + 25}`, "--ledger", join(dir, "ledger"), "--keypair", keypair, "--ready-file", readyFile],
    );
    while (!existsSync(readyFile)) {
      if (localnet.c.exitCode !== null) throw new Error(`adl-localnet exited ${localnet.c.exitCode}: ${localnet.log()}`);
      if (Date.now() - t0 > 180_000) throw new Error(`adl-localnet not ready in 180 s: ${localnet.log()}`);
      await sleep(200);
    }
    await sleep(100);
    times.localnet = seconds(Date.now() - t0);
    const ready = JSON.parse(readFileSync(readyFile, "utf8")) as Ready & { traders: string[] };
    const m = ready.markets[0];
    assert.equal(ready.traders.length, 12);
    // What `adl-localnet` prints for the viewer and the keeper.
    const printed = localnet.log();
    assert.match(printed, new RegExp(`http://127\\.0\\.0\\.1:4173/\\?rpc=${ready.rpc_url}&market=${m.market}`));
    assert.ok(printed.includes(`run --rpc-url ${ready.rpc_url} --exchange ${ready.exchange} --keypair ${keypair}`), printed);

    // 2. The viewer as the README serves it: `npx vite preview` (on this test's port).
    preview = child("npx", ["vite", "preview", "--port", String(previewPort), "--strictPort", "--host", "127.0.0.1"], { cwd: app, group: true });
    const site = `http://127.0.0.1:${previewPort}`;
    for (let up = false; !up; ) {
      if (preview.c.exitCode !== null) throw new Error(`vite preview exited ${preview.c.exitCode}: ${preview.log()}`);
      if (Date.now() - t0 > 240_000) throw new Error(`vite preview not serving: ${preview.log()}`);
      up = await fetch(site).then((r) => r.ok, () => false);
      if (!up) await sleep(200);
    }
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await page.goto(`${site}/?rpc=${ready.rpc_url}&market=${m.market}`);
    await page.waitForSelector("body[data-ready]");
    assert.equal(await page.getAttribute("body", "data-ready"), "true", (await page.textContent("#source")) ?? "");
    await page.waitForSelector("body[data-live=subscribed]", { timeout: 10_000 });
    await page.waitForSelector("body[data-activity]", { timeout: 30_000 });
    times.page = seconds(Date.now() - t0);
    const before = await pageView(page);
    assert.deepEqual([...before.long].sort(), ready.traders.slice(0, 6).sort(), "6 longs: the first 6 traders");
    assert.deepEqual([...before.short].sort(), ready.traders.slice(6).sort(), "6 shorts: the last 6 traders");
    assert.equal(before.oracle, "100.000000");
    assert.deepEqual(before.events, [], "no ADL event before the crash");
    // The localnet keeps transaction history: the opening trades are listed. The node indexes
    // transactions by address a few seconds behind the chain, and the panel refreshes every
    // 5 s: wait for them (bounded).
    assert.equal(before.activityState, "ready", "the Activity panel lists transactions");
    let listed = before;
    const trades = (v: typeof before) => v.activity.filter((r) => r.ix === "trade").length;
    for (const t = Date.now(); trades(listed) < 6 && Date.now() - t < 60_000; ) {
      await sleep(500);
      listed = await pageView(page);
    }
    assert.equal(trades(listed), 6, "the six opening trades are listed");

    // 3. The crash (README: `adl-keeper price set 92`, `price set 78`, `adl-keeper run`).
    const common = ["--rpc-url", ready.rpc_url, "--exchange", ready.exchange, "--keypair", keypair];
    for (const p of ["92", "78"]) {
      const out = execFileSync(bin("adl-keeper"), ["price", "set", p, ...common], { encoding: "utf8" });
      assert.match(out, new RegExp(`market 0 oracle ${m.oracle} price ${p}\\.000000`));
    }
    // The oracle is watched too: the page follows the push without a reload.
    await page.waitForFunction(() => document.querySelector("[data-testid=oracle-price]")?.textContent === "78.000000", null, { timeout: 20_000 });
    const crash = Date.now();
    keeper = child(bin("adl-keeper"), ["run", ...common, "--interval-ms", "500"]);

    // 4. The page shows the crash: a done event and, from the transactions, at least one
    // liquidation, ADL start, ranked fill and payout claim.
    const want = ["liquidate", "start_adl", "auto_deleverage", "claim_adl_payout"];
    let shown = before;
    for (;;) {
      shown = await pageView(page);
      const ixs = new Set(shown.activity.filter((r) => r.ok === "true").map((r) => r.ix));
      if (shown.events.some((e) => e.status === "done") && want.every((n) => ixs.has(n))) break;
      if (Date.now() - crash > CRASH_MS) {
        throw new Error(`the page did not show the crash in ${seconds(CRASH_MS)}: ${JSON.stringify(shown.events)} ${[...ixs]}\nkeeper: ${keeper.log()}`);
      }
      if (keeper.c.exitCode !== null) throw new Error(`adl-keeper exited ${keeper.c.exitCode}: ${keeper.log()}`);
      await sleep(250);
    }
    times.crash = seconds(Date.now() - crash);
    times.total = seconds(Date.now() - t0);

    // 5. Until the keeper has nothing left (no active event, no payout waiting), then it stops
    // and the chain holds still for the comparison.
    for (;;) {
      const st = await chainState(ready.rpc_url, m.market, m.book);
      if (!st.events.some((e) => e.status === 1) && !st.slots.some((s) => s.adl_payout > 0n || s.status === 2)) break;
      if (Date.now() - crash > CRASH_MS) throw new Error(`the keeper did not finish the crash: ${keeper.log()}`);
      await sleep(500);
    }
    await stop(keeper.c);
    const expectEvents = (evs: AdlEvent[]) =>
      evs
        .map((e) => ({ id: String(e.id), status: e.status === 1 ? "active" : "done", fills: String(e.fills), fundPaid: String(e.fund_paid) }))
        .sort((a, b) => Number(b.id) - Number(a.id));
    const pageEvents = (v: typeof shown) => [...v.events].sort((a, b) => Number(b.id) - Number(a.id));
    const rowKey = (r: { sig: string; ix: string; ok: string }) => `${r.sig} ${r.ix} ${r.ok}`;
    // Node reads the chain again until the page agrees (a transaction the keeper sent before
    // it stopped may still land; the page follows through pubsub and the Activity's own
    // refreshes), at most 30 s; the assertions below say what differs.
    let st = await chainState(ready.rpc_url, m.market, m.book);
    let chainRows: TxRow[] = [];
    let expectRows: string[] = [];
    const settle = Date.now();
    for (;;) {
      st = await chainState(ready.rpc_url, m.market, m.book);
      chainRows = await chainActivity(ready.rpc_url, [m.market, m.oracle]);
      expectRows = chainRows.map((r) => rowKey({ sig: r.sig, ix: r.name, ok: String(r.ok) })).sort();
      shown = await pageView(page);
      const same =
        JSON.stringify(pageEvents(shown)) === JSON.stringify(expectEvents(st.events)) &&
        JSON.stringify(shown.activity.map(rowKey).sort()) === JSON.stringify(expectRows);
      if (same || Date.now() - settle > 30_000) break;
      await sleep(1000);
    }
    times.settled = seconds(Date.now() - settle);

    // Events: the page's ids, statuses, fills and fund payments are the market account's.
    assert.ok(st.market.next_event_id >= 1n, "the crash started ADL");
    assert.deepEqual(pageEvents(shown), expectEvents(st.events), "the events section shows the market's events");
    assert.ok(shown.events.every((e) => e.status === "done"), "every event is done");
    // The keeper (the admin) took over liquidated positions: it is in the long queue.
    assert.ok(shown.long.includes(ready.admin), `the admin ${ready.admin} is in the long queue: ${shown.long}`);
    const adminSlots = st.slots.filter((s) => s.status === 1 && s.owner === ready.admin);
    assert.ok(adminSlots.some((s) => s.base > 0n), "and holds a long position in the book");

    await t.test("the Activity panel lists the crash's transactions", async () => {
      assert.deepEqual(shown.activity.map(rowKey).sort(), expectRows, "the page lists exactly the transactions Node decodes");
      const slots = shown.activity.map((r) => r.slot);
      assert.deepEqual(slots, [...slots].sort((a, b) => b - a), "newest first");
      const count = (rows: { name: string; ok: boolean }[], n: string) => rows.filter((r) => r.ok && r.name === n).length;
      const pageRows = shown.activity.map((r) => ({ name: r.ix, ok: r.ok === "true" }));
      for (const n of ["liquidate", "flag_bankrupt", "start_adl", "auto_deleverage", "claim_adl_payout", "set_oracle_price", "update_funding"]) {
        assert.equal(count(pageRows, n), count(chainRows, n), n);
      }
      for (const n of ["liquidate", "start_adl", "auto_deleverage", "claim_adl_payout"]) assert.ok(count(chainRows, n) >= 1, n);
      // One successful start_adl per event the market started.
      assert.equal(BigInt(count(chainRows, "start_adl")), st.market.next_event_id, "start_adl transactions = events started");
      // A liquidation's row names the liquidated user account and shows its owner: a long.
      for (const r of chainRows.filter((r) => r.name === "liquidate" && r.ok)) {
        const row = shown.activity.find((x) => x.sig === r.sig && x.ix === "liquidate")!;
        assert.equal(row.liquidatee.key, r.accounts.liquidatee_user);
        const owner = decodeUserAccount(view(await accountData(ready.rpc_url, r.accounts.liquidatee_user)), 0).owner;
        assert.equal(row.liquidatee.owner, owner);
        assert.ok(ready.traders.slice(0, 6).includes(owner), `${owner} was a long`);
        assert.equal(r.accounts.liquidator, ready.admin, "the admin liquidates as the keeper");
      }
    });
    console.log(
      `newcomer sequence: localnet ready ${times.localnet}, page live ${times.page}, crash on the page ${times.crash} after the push ` +
        `(${times.total} from the localnet's start), page settled ${times.settled}; ` +
        `${st.market.next_event_id} ADL events, activity ${shown.activity.length} rows`,
    );
  } finally {
    await browser.close();
    await stop(keeper?.c);
    await stop(preview?.c, true);
    if (localnet) await stopLocalnet(localnet.c);
    const ledgerGone = !existsSync(join(dir, "ledger"));
    rmSync(dir, { recursive: true, force: true });
    assert.ok(ledgerGone, "adl-localnet removes its ledger on SIGTERM");
  }
});
