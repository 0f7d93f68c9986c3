// The viewer in a real headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core): it loads the built page on a snapshot of real account bytes and must
// show the ranks, tiers and lights the Rust code computed. Needs `npm run build` first.
// UPDATE_SCREENSHOT=1 refreshes docs/viewer.png.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { existsSync, readFileSync } from "node:fs";
import { dirname, extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { goldenPath } from "../test-support/paths.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "../dist");
const fresh = goldenPath("snapshot.json");
const snapshotPath = existsSync(fresh) ? fresh : join(dist, "fixtures/snapshot.json");
const snapshot = JSON.parse(readFileSync(snapshotPath, "utf8"));
// A market on a Pyth account, written by tests/program/pyth.rs.
const pythPath = goldenPath("pyth.json");
// A market of 100,000 positions, written by tests/program/golden.rs (write_100k_snapshot).
const bigPath = goldenPath("book100k.json");
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".json": "application/json" };

function serve() {
  const server = createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    let file = url.pathname === "/" ? "/index.html" : url.pathname;
    const fixtures = { "/fixtures/snapshot.json": snapshotPath, "/fixtures/pyth.json": pythPath, "/fixtures/book100k.json": bigPath };
    const path = fixtures[file] ?? join(dist, normalize(file));
    if (!path.startsWith(dist) && !Object.values(fixtures).includes(path)) return res.writeHead(403).end();
    if (!existsSync(path)) return res.writeHead(404).end();
    res.writeHead(200, { "content-type": TYPES[extname(path)] ?? "application/octet-stream" });
    res.end(readFileSync(path));
  });
  return new Promise((ok) => server.listen(0, "127.0.0.1", () => ok(server)));
}

test("the viewer shows the real queues, ranks and lights", async () => {
  assert.ok(existsSync(join(dist, "index.html")), "run `npm run build` first");
  const server = await serve();
  const { port } = server.address();
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForSelector("body[data-ready]");
    assert.equal(await page.getAttribute("body", "data-ready"), "true", await page.textContent("#source"));
    const exp = snapshot.expected;
    for (const side of ["long", "short"]) {
      const rows = await page.$$eval(`[data-testid=queue-${side}] tbody tr`, (trs) =>
        trs.map((tr) => ({
          rank: Number(tr.querySelector("[data-col=rank]").textContent),
          tier: Number(tr.querySelector("[data-col=tier]").textContent),
          owner: tr.dataset.owner,
          slot: Number(tr.dataset.slot),
          lights: Number(tr.querySelector("[data-lights]").dataset.lights),
        })),
      );
      assert.deepEqual(
        rows,
        exp[side].map((r) => ({ rank: r.rank, tier: r.tier, owner: r.owner, slot: r.slot, lights: r.lights })),
        side,
      );
    }
    // The oracle's kind and age.
    assert.match(await page.textContent("[data-testid=oracle-kind]"), /^pushed, published at slot \d+$/);
    // The same page on a market that reads a Pyth account: kind, feed and the converted price.
    if (existsSync(pythPath)) {
      const pyth = JSON.parse(readFileSync(pythPath, "utf8"));
      const p2 = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      await p2.goto(`http://127.0.0.1:${port}/?snapshot=fixtures/pyth.json`);
      await p2.waitForSelector("body[data-ready]");
      assert.equal(await p2.getAttribute("body", "data-ready"), "true", await p2.textContent("#source"));
      const kind = await p2.textContent("[data-testid=oracle-kind]");
      assert.match(kind, new RegExp(`^Pyth ${pyth.expected.feed_id.slice(0, 8)}…, published .* \\(\\d+ s ago, limit 60 s\\)$`));
      const shown = (await p2.textContent("[data-testid=oracle-price]")).replace(".", "");
      assert.equal(shown, pyth.expected.oracle_price);
    }
    // The active event and the fund.
    const execPrice = await page.textContent("[data-testid=exec-price]");
    assert.equal(execPrice.replace(".", ""), exp.events[0].exec_price.padStart(7, "0"));
    // Active events come first in the events table, marked active; the Activity panel (live
    // transactions) stays hidden on a snapshot.
    const events = await page.$$eval("[data-testid=event-row]", (trs) => trs.map((tr) => ({ id: Number(tr.dataset.id), status: tr.dataset.status })));
    assert.deepEqual(
      events.filter((e) => e.status === "active"),
      exp.events.map((e) => ({ id: e.id, status: "active" })),
    );
    assert.deepEqual(events.slice(0, exp.events.length).map((e) => e.status), exp.events.map(() => "active"));
    assert.equal(await page.isHidden("[data-testid=activity]"), true);
    // A trader looks up their place: L4 is the most leveraged long but at a loss: tier 2.
    await page.fill("[data-testid=owner-input]", exp.owners.L4);
    await page.click("[data-testid=owner-go]");
    await page.waitForSelector("[data-testid=trader-row]");
    const l4 = exp.long.find((r) => r.owner === exp.owners.L4);
    assert.equal(Number(await page.textContent("[data-testid=trader-rank]")), l4.rank);
    assert.equal(Number(await page.textContent("[data-testid=trader-tier]")), 2);
    if (process.env.UPDATE_SCREENSHOT) {
      await page.screenshot({ path: join(here, "../../docs/viewer.png"), fullPage: true });
    }
  } finally {
    await browser.close();
    server.close();
  }
});

const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

test("the viewer stays usable at 100,000 positions", { skip: !existsSync(bigPath) && "no 100k snapshot (run cargo test first)" }, async () => {
  const big = JSON.parse(readFileSync(bigPath, "utf8")).expected;
  const server = await serve();
  const { port } = server.address();
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const t0 = Date.now();
    await page.goto(`http://127.0.0.1:${port}/?snapshot=fixtures/book100k.json`);
    await page.waitForSelector("body[data-ready]", { timeout: 120_000 });
    const loadMs = Date.now() - t0;
    assert.equal(await page.getAttribute("body", "data-ready"), "true", await page.textContent("#source"));
    console.log(`100k-position snapshot: page ready in ${loadMs} ms (fetch, decode, rank both sides, render)`);
    for (const side of ["long", "short"]) {
      // Paged: 100 rows of 50,000.
      assert.equal(await page.textContent(`[data-testid=page-${side}]`), "page 1 of 500");
      assert.equal(await page.$$eval(`[data-testid=queue-${side}] tbody tr`, (t) => t.length), 100);
      const first = big[`${side}_first`];
      const row = await page.$eval(`[data-testid=queue-${side}] tbody tr`, (tr) => ({
        rank: Number(tr.querySelector("[data-col=rank]").textContent),
        owner: tr.dataset.owner,
        slot: Number(tr.dataset.slot),
      }));
      assert.deepEqual(row, { rank: 1, owner: first.owner, slot: first.slot });
      // The depth chart holds the whole side's size.
      const sizes = await page.$$eval(`[data-testid=depth-${side}] rect`, (rs) => rs.map((r) => BigInt(r.dataset.size).toString()));
      assert.equal(sizes.length, 9);
      assert.equal(sizes.reduce((a, b) => a + BigInt(b), 0n).toString(), big[`${side}_oi`]);
    }
    await page.click("[data-testid=next-long]");
    assert.equal(await page.textContent("[data-testid=page-long]"), "page 2 of 500");
    assert.equal(await page.$eval("[data-testid=queue-long] tbody tr [data-col=rank]", (td) => td.textContent), "101");
    // Trader search: rank, tier, and the table jumps to the trader's page with the row marked.
    for (const side of ["long", "short"]) {
      const t = big[`${side}_trader`];
      await page.fill("[data-testid=owner-input]", t.owner);
      await page.click("[data-testid=owner-go]");
      await page.waitForSelector("[data-testid=trader-row]");
      assert.equal(Number(await page.textContent("[data-testid=trader-rank]")), t.rank);
      assert.equal(Number(await page.textContent("[data-testid=trader-tier]")), t.tier);
      assert.equal(await page.textContent(`[data-testid=page-${side}]`), `page ${Math.floor((t.rank - 1) / 100) + 1} of 500`);
      assert.equal(await page.$eval(`[data-testid=queue-${side}] tr.me`, (tr) => tr.dataset.owner), t.owner);
    }
  } finally {
    await browser.close();
    server.close();
  }
});
