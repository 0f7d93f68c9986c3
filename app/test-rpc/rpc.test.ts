// The TypeScript client and the viewer against a real JSON-RPC node: `adl-localnet` (a
// validator in one process with adl-engine and a bootstrapped exchange) is started on free
// loopback ports; Node creates traders, deposits, trades and stakes with the client's own
// instruction builders and transactions; the viewer in headless Chromium (live mode,
// `?rpc=`) shows the ranks `adl-keeper queue` prints, and re-renders without a reload after
// `adl-keeper run` fills an ADL event; Node claims an ADL payout and checks it to the atom.
// Needs the Rust binaries (`cargo test --workspace` builds them) and `npm run build`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createServer, type Server } from "node:http";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { decodeBookAccount } from "../src/decode.js";
import { decodeFundAccount } from "../src/decode.js";
import { decodeUserAccount } from "../src/generated/layouts.js";
import { fromRpc, queueRows } from "../src/snapshot.js";
import {
  buildInstruction,
  claimAdlPayout,
  deposit,
  ifStake,
  insuranceFundPda,
  stakePda,
  userPda,
  vaultPda,
} from "../src/instructions.js";
import {
  Rpc,
  systemCreateAccount,
  systemTransfer,
  tokenAmount,
  tokenInitializeAccount,
  tokenMintTo,
  TOKEN_PROGRAM,
} from "../src/transaction.js";
import { bin, keypairFromBytes, newKeypair, startLocalnet, stopLocalnet, type Keypair } from "../test-support/localnet.js";

const here = dirname(fileURLToPath(import.meta.url));
const app = join(here, "../..");
const root = join(app, "..");
const USDC = 1_000_000n;
const BASE = 1_000_000_000n;
const price = (whole: bigint) => whole * 1_000_000n;

const TYPES: Record<string, string> = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".json": "application/json" };

function serveDist(): Promise<Server> {
  const dist = join(app, "dist");
  const server = createServer((req, res) => {
    const url = new URL(req.url!, "http://x");
    const file = url.pathname === "/" ? "/index.html" : url.pathname;
    const path = join(dist, normalize(file));
    if (!path.startsWith(dist) || !existsSync(path)) return void res.writeHead(404).end();
    res.writeHead(200, { "content-type": TYPES[extname(path)] ?? "application/octet-stream" });
    res.end(readFileSync(path));
  });
  return new Promise((ok) => server.listen(0, "127.0.0.1", () => ok(server)));
}

/** Rank and owner per row of `adl-keeper queue` output, per side. */
function parseQueue(text: string): Record<"long" | "short", { rank: number; owner: string }[]> {
  const out = { long: [] as { rank: number; owner: string }[], short: [] as { rank: number; owner: string }[] };
  let side: "long" | "short" | null = null;
  for (const line of text.split("\n")) {
    if (line.startsWith("LONG queue")) side = "long";
    else if (line.startsWith("SHORT queue")) side = "short";
    else if (side && /^\s*\d+\s+\d+\s+\S{32,44}\s/.test(line)) {
      const f = line.trim().split(/\s+/);
      out[side].push({ rank: Number(f[0]), owner: f[2] });
    }
  }
  return out;
}

test("the TypeScript client and the live viewer through real JSON-RPC", { timeout: 600_000 }, async () => {
  assert.ok(existsSync(bin("adl-localnet")), `${bin("adl-localnet")} missing: run cargo test --workspace first`);
  assert.ok(existsSync(join(app, "dist/index.html")), "run `npm run build` first");
  const dir = mkdtempSync(join(tmpdir(), "adl-rpc-"));
  // Validator ports 45,000–57,499 (ecosystem.test.ts takes 20,000–29,999).
  const { child, ready } = await startLocalnet(dir, 45_000 + (process.pid % 500) * 25);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const server = await serveDist();
  try {
    const rpc = new Rpc(ready.rpc_url);
    const admin = keypairFromBytes(Uint8Array.from(JSON.parse(readFileSync(join(dir, "admin.json"), "utf8"))));
    assert.equal(admin.address, ready.admin);
    const exchange: string = ready.exchange;
    const mint: string = ready.mint;
    const m = ready.markets[0] as { market: string; oracle: string; book: string; long_queue: string; short_queue: string };
    const vault = await vaultPda(exchange);
    const [vaultData] = await rpc.accounts([vault]);
    let vaultBalance = tokenAmount(vaultData!);
    const pushPrice = (p: bigint) =>
      rpc.send([buildInstruction("set_oracle_price", { authority: admin.address, exchange, oracle: m.oracle }, { price: p, confidence: 0n })], admin);

    // Traders: SPL token account with collateral (admin is the mint authority), then the
    // program's create_user + deposit, built by the client and signed by the trader.
    const tokenRent = await rpc.rentExempt(165);
    const traders: { kp: Keypair; token: string }[] = [];
    const addTrader = async (tokens: bigint, deposited: bigint) => {
      const kp = newKeypair();
      const token = newKeypair();
      await rpc.send(
        [
          systemTransfer(admin.address, kp.address, 100_000_000n),
          systemCreateAccount(admin.address, token.address, tokenRent, 165, TOKEN_PROGRAM),
          tokenInitializeAccount(token.address, mint, kp.address),
          tokenMintTo(mint, token.address, admin.address, tokens),
        ],
        admin,
        [token],
      );
      const ixs = [buildInstruction("create_user", { owner: kp.address, exchange, user: await userPda(exchange, kp.address) })];
      if (deposited > 0n) ixs.push(await deposit(kp.address, exchange, token.address, deposited));
      await rpc.send(ixs, kp);
      const [u, t, v] = await rpc.accounts([await userPda(exchange, kp.address), token.address, vault]);
      const user = decodeUserAccount(new DataView(u!.buffer, u!.byteOffset + 8), 0);
      assert.equal(user.owner, kp.address);
      assert.equal(user.free_collateral, deposited, "deposit credited to the atom");
      assert.equal(tokenAmount(t!), tokens - deposited, "deposit debited from the wallet");
      assert.equal(tokenAmount(v!), vaultBalance + deposited, "deposit landed in the vault");
      vaultBalance += deposited;
      const trader = { kp, token: token.address };
      traders.push(trader);
      return trader;
    };
    const pairs = [2n, 9n, 4n, 7n];
    const longs = [];
    const shorts = [];
    for (let i = 0; i < pairs.length; i++) longs.push(await addTrader(10_000n * USDC, 10_000n * USDC));
    for (let i = 0; i < pairs.length; i++) shorts.push(await addTrader(10_000n * USDC, 10_000n * USDC));
    await pushPrice(price(100n));
    for (let k = 0; k < pairs.length; k++) {
      const size = (BigInt(k) + 1n) * BASE / 2n;
      const px = price(100n) - 500_000n + BigInt(k) * 100_000n;
      const margin = ((size / 1_000n) * px) / 1_000_000n / pairs[k];
      const [long, short] = [longs[k].kp, shorts[k].kp];
      await rpc.send(
        [
          buildInstruction(
            "trade",
            {
              exchange,
              market: m.market,
              oracle: m.oracle,
              book: m.book,
              long_queue: m.long_queue,
              short_queue: m.short_queue,
              taker_user: await userPda(exchange, long.address),
              taker: long.address,
              maker_user: await userPda(exchange, short.address),
              maker: short.address,
            },
            { args: { taker_base: size, price: px, taker_margin: margin, maker_margin: margin } },
          ),
        ],
        long,
        [short],
      );
    }

    // A staker stakes 10 USDC through the client's if_stake.
    const staker = await addTrader(1_000n * USDC, 0n);
    const fundKey = await insuranceFundPda(exchange);
    const [fundBefore] = await rpc.accounts([fundKey]);
    const before = decodeFundAccount(fundBefore!).balance;
    await rpc.send(
      [
        buildInstruction("if_create_stake", { staker: staker.kp.address, fund: fundKey, stake: await stakePda(fundKey, staker.kp.address) }),
        await ifStake(staker.kp.address, exchange, staker.token, 10n * USDC),
      ],
      staker.kp,
    );
    const [fundAfter, stakerToken, vaultAfter] = await rpc.accounts([fundKey, staker.token, vault]);
    assert.equal(decodeFundAccount(fundAfter!).balance, before + 10n * USDC, "stake credited to the fund");
    assert.equal(tokenAmount(stakerToken!), 990n * USDC, "stake debited from the wallet");
    assert.equal(tokenAmount(vaultAfter!), vaultBalance + 10n * USDC, "stake held by the vault");
    vaultBalance += 10n * USDC;

    // The keeper: a funded user account and a keypair file for the binary.
    const keeper = await addTrader(20_000n * USDC, 20_000n * USDC);
    const keeperFile = join(dir, "keeper.json");
    writeFileSync(keeperFile, JSON.stringify([...keeper.kp.secret]));
    const keeperArgs = ["--rpc-url", ready.rpc_url, "--exchange", exchange];

    // The viewer, live: same ranks and owners as `adl-keeper queue` over the same node.
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const { port } = server.address() as { port: number };
    await page.goto(`http://127.0.0.1:${port}/?rpc=${encodeURIComponent(ready.rpc_url)}&market=${m.market}`);
    await page.waitForSelector("body[data-ready]");
    assert.equal(await page.getAttribute("body", "data-ready"), "true", (await page.textContent("#source")) ?? "");
    await page.waitForSelector("body[data-live=subscribed]", { timeout: 10_000 });
    const pageRows = async () => {
      const out: Record<string, { rank: number; owner: string }[]> = {};
      for (const side of ["long", "short"]) {
        out[side] = await page.$$eval(`[data-testid=queue-${side}] tbody tr`, (trs) =>
          trs.map((tr) => ({ rank: Number(tr.querySelector("[data-col=rank]")!.textContent), owner: (tr as HTMLElement).dataset.owner! })),
        );
      }
      return out;
    };
    const queueText = execFileSync(bin("adl-keeper"), ["queue", ...keeperArgs, "--side", "both"], { encoding: "utf8" });
    const printed = parseQueue(queueText);
    assert.equal(printed.long.length, pairs.length, queueText);
    // Node reads the queues over RPC with the client's decoders and rank arithmetic.
    const nodeView = async () => {
      const st = await fromRpc(ready.rpc_url, m.market);
      const rows = (side: "long" | "short") => queueRows(st, side).map((r) => ({ rank: r.rank, owner: r.owner }));
      return { long: rows("long"), short: rows("short") };
    };
    assert.deepEqual(await nodeView(), printed, "the client's ranks over RPC are the keeper's");
    assert.deepEqual(await pageRows(), printed, "the viewer shows the keeper's ranks");

    // Crash: 100 → 78. The keeper (the binary, over RPC) liquidates, starts ADL and fills it
    // in rank order; it leaves the payouts to be claimed (--no-claims).
    await pushPrice(price(78n));
    const updatesBefore = Number((await page.getAttribute("body", "data-updates")) ?? "0");
    execFileSync(bin("adl-keeper"), ["run", ...keeperArgs, "--keypair", keeperFile, "--once", "--no-claims", "--no-funding"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    const afterText = execFileSync(bin("adl-keeper"), ["queue", ...keeperArgs, "--side", "both"], { encoding: "utf8" });
    assert.notDeepEqual(parseQueue(afterText), printed, "the crash changed the queues");
    assert.deepEqual(await nodeView(), parseQueue(afterText), "and the client follows");
    await page.waitForFunction(
      (n) => Number(document.body.dataset.updates ?? "0") > n,
      updatesBefore,
      { timeout: 20_000 },
    );
    // The page follows the account notifications until it matches the keeper's view.
    const expected = parseQueue(afterText);
    const deadline = Date.now() + 20_000;
    let shown = await pageRows();
    while (JSON.stringify(shown) !== JSON.stringify(expected) && Date.now() < deadline) {
      await new Promise((ok) => setTimeout(ok, 200));
      shown = await pageRows();
    }
    assert.deepEqual(shown, expected, "the live viewer re-rendered the post-ADL queues without a reload");
    assert.equal(await page.getAttribute("body", "data-live"), "subscribed", "updates came from pubsub, not polling");

    // ADL payouts wait in the book; the client claims one and the owner's free collateral
    // grows by exactly the payout.
    const [bookData] = await rpc.accounts([m.book]);
    const book = decodeBookAccount(bookData!);
    const owed = book.slots.filter((s) => s.adl_payout > 0n);
    assert.ok(owed.length > 0, "the ADL fill left payouts to claim");
    const slot = owed[0];
    const userKey = await userPda(exchange, slot.owner);
    const [u0] = await rpc.accounts([userKey]);
    const free0 = decodeUserAccount(new DataView(u0!.buffer, u0!.byteOffset + 8), 0).free_collateral;
    await rpc.send([await claimAdlPayout(exchange, m, slot.owner)], admin);
    const [u1] = await rpc.accounts([userKey]);
    const free1 = decodeUserAccount(new DataView(u1!.buffer, u1!.byteOffset + 8), 0).free_collateral;
    assert.equal(free1, free0 + slot.adl_payout, "claim_adl_payout credits the payout to the atom");
    // A second claim finds nothing: the program rejects it with its named error.
    const idl = JSON.parse(readFileSync(join(root, "idl/adl_engine.json"), "utf8"));
    const nothing: number = idl.errors.find((e: { name: string }) => e.name === "NothingToClaim").code;
    await assert.rejects(
      rpc.send([await claimAdlPayout(exchange, m, slot.owner)], admin),
      (e: Error) => e.message.includes(`custom program error: 0x${nothing.toString(16)}`) || e.message.includes(`"Custom":${nothing}`),
    );
  } finally {
    await browser.close();
    server.close();
    await stopLocalnet(child);
    const ledgerGone = !existsSync(join(dir, "ledger"));
    rmSync(dir, { recursive: true, force: true });
    assert.ok(ledgerGone, "adl-localnet removes its ledger on SIGTERM");
  }
});
