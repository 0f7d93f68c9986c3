// The ADL queue viewer: a market's queues per side, its insurance fund, its ADL events (active
// and done), and a trader's place in line. Data: `?snapshot=<file>` (account bytes written by
// the Rust tests; default fixtures/snapshot.json) or `?rpc=<url>&market=<key>` (live accounts,
// updated on every change through pubsub; `&ws=<url>` when pubsub is not at the RPC port + 1).
// Live, an Activity panel lists the market's recent transactions, decoded.
import { adlEvents, fromRpc, fromSnapshot, queueRows, EVENT_ACTIVE, type MarketState } from "./snapshot.js";
import { ActivityLog, HistoryUnavailable, isUserAccount, type ActivityRow } from "./activity.js";
import type { QueueRow } from "./rank.js";

const $ = (id: string) => document.getElementById(id) as HTMLElement;

function fixed(v: bigint, decimals: number): string {
  const neg = v < 0n;
  const a = neg ? -v : v;
  const scale = 10n ** BigInt(decimals);
  const frac = (a % scale).toString().padStart(decimals, "0");
  return `${neg ? "-" : ""}${a / scale}.${frac}`;
}

const usd = (v: bigint) => fixed(v, 6);
const base = (v: bigint) => fixed(v, 9);
const short = (k: string) => `${k.slice(0, 6)}…${k.slice(-4)}`;

function lights(n: number): string {
  return `<span class="lights l${n}" data-lights="${n}">${"●".repeat(n)}${"○".repeat(5 - n)}</span>`;
}

/** Rows per table page: a side of 100,000 positions renders 100 rows at a time. */
export const PAGE = 100;

function queueTable(side: "long" | "short", rows: QueueRow[], oi: bigint, page: number, me?: string): string {
  const pages = Math.max(1, Math.ceil(rows.length / PAGE));
  const p = Math.min(Math.max(0, page), pages - 1);
  const body = rows
    .slice(p * PAGE, (p + 1) * PAGE)
    .map(
      (r) => `<tr class="tier${r.tier}${r.owner === me ? " me" : ""}" data-slot="${r.slot}" data-owner="${r.owner}">
        <td data-col="rank">${r.rank}</td><td data-col="tier">${r.tier}</td>
        <td class="owner" title="${r.owner}">${short(r.owner)}</td>
        <td>${base(r.base)}</td><td>${usd(r.entryPrice)}</td>
        <td>${r.leverageBps === null ? "∞" : fixed(r.leverageBps / 100n, 2) + "x"}</td>
        <td>${usd(r.pnl)}</td><td>${lights(r.lights)}</td>
        <td>${oi === 0n ? "0.00" : fixed((r.sizeAhead * 10000n) / oi, 2)}%</td></tr>`,
    )
    .join("");
  return `<h2>${side === "long" ? "Longs" : "Shorts"} (${rows.length})</h2>
    <div class="pager"><button data-side="${side}" data-page="${p - 1}" data-testid="prev-${side}" ${p === 0 ? "disabled" : ""}>‹ prev</button>
    <span data-testid="page-${side}">page ${p + 1} of ${pages}</span>
    <button data-side="${side}" data-page="${p + 1}" data-testid="next-${side}" ${p + 1 >= pages ? "disabled" : ""}>next ›</button></div>
    <table data-testid="queue-${side}"><thead><tr><th>rank</th><th>tier</th><th class="owner">owner</th>
    <th>size</th><th>entry</th><th>leverage</th><th>PnL</th><th>lights</th><th>ahead</th></tr></thead>
    <tbody>${body}</tbody></table>`;
}

/** Leverage buckets of the depth chart (upper bounds, x; the last is "no equity"). */
const BUCKETS = [1, 2, 3, 5, 10, 20, 50, Infinity];

/** Open size by leverage bucket: where the side's size sits on the way to the head of the queue. */
export function depth(rows: QueueRow[]): { label: string; size: bigint }[] {
  const out = BUCKETS.map((b, i) => ({
    label: b === Infinity ? `≥${BUCKETS[i - 1]}x` : `${i === 0 ? 0 : BUCKETS[i - 1]}–${b}x`,
    size: 0n,
  }));
  out.push({ label: "no equity", size: 0n });
  for (const r of rows) {
    const size = r.base < 0n ? -r.base : r.base;
    if (r.leverageBps === null) {
      out[out.length - 1].size += size;
      continue;
    }
    const x = Number(r.leverageBps) / 10_000;
    out[BUCKETS.findIndex((b) => x < b)].size += size;
  }
  return out;
}

function depthChart(side: "long" | "short", rows: QueueRow[]): string {
  const d = depth(rows);
  const max = d.reduce((m, b) => (b.size > m ? b.size : m), 1n);
  const h = 18;
  const bars = d
    .map((b, i) => {
      const w = Number((b.size * 1000n) / max) / 1000;
      return `<g transform="translate(0 ${i * h})"><text x="0" y="${h - 5}" class="lbl">${b.label}</text>
        <rect x="80" y="2" height="${h - 4}" width="${(w * 200).toFixed(1)}" data-bucket="${b.label}" data-size="${b.size}"></rect>
        <text x="${84 + w * 200}" y="${h - 5}" class="val">${fixed(b.size / 1_000_000n, 3)}</text></g>`;
    })
    .join("");
  return `<figure class="depth"><figcaption>${side === "long" ? "Long" : "Short"} size by leverage (base units)</figcaption>
    <svg data-testid="depth-${side}" width="360" height="${d.length * h}" role="img">${bars}</svg></figure>`;
}

/** Oracle kind and age: a pushed oracle's publish slot, or a Pyth update's publish time and
 * age against this browser's clock (and whether it is fully verified). */
function oracleFacts(s: MarketState): string {
  const o = s.oracle;
  if (o.kind === "pushed") return `pushed, published at slot ${o.publish_slot}`;
  const t = Number(o.publish_time ?? 0n);
  const age = Math.max(0, Math.round(Date.now() / 1000 - t));
  const when = new Date(t * 1000).toISOString().replace(".000Z", "Z");
  return `Pyth ${o.feed_id?.slice(0, 8)}…, published ${when} (${age} s ago, limit ${s.market.max_oracle_age_secs} s)` +
    (o.fully_verified ? "" : ", not fully verified");
}

function render(s: MarketState, source: string) {
  $("source").textContent = source;
  const m = s.market;
  $("market").innerHTML = `<h2>Market ${short(s.key)}</h2><div class="facts">
    <div><b>oracle price</b><span data-testid="oracle-price">${usd(s.oracle.price)}</span></div>
    <div><b>oracle</b><span data-testid="oracle-kind">${oracleFacts(s)}</span></div>
    <div><b>open interest (each side)</b>${base(m.open_interest_long)}</div>
    <div><b>funding index</b>${usd(m.cumulative_funding)}</div>
    <div><b>ADL mode</b>${["ranked queue", "pro-rata", "leverage drain"][m.adl_mode] ?? m.adl_mode}</div>
    <div><b>positions</b>${m.num_positions}</div></div>`;
  $("fund").innerHTML = s.fund
    ? `<h2>Insurance fund</h2><div class="facts"><div><b>balance</b><span data-testid="fund-balance">${usd(s.fund.balance)}</span></div>
       <div><b>shares</b>${s.fund.total_shares}</div><div><b>paid out</b>${usd(s.fund.total_paid)}</div>
       <div><b>earned</b>${usd(s.fund.total_earned)}</div></div>`
    : "";
  // Active events first, then the done ones the market still holds: what a bankruptcy
  // became (its size, the fills against the other side, what the fund paid, P_exec).
  const evs = adlEvents(s);
  const active = evs.filter((e) => e.event.status === EVENT_ACTIVE).length;
  // The market holds 8 events: a new event takes the place of a done one.
  $("events").innerHTML = `<h2>ADL events (${active} active, ${evs.length - active} done; ${m.next_event_id} started in all)</h2>` +
    (evs.length === 0
      ? "<p>none</p>"
      : `<table data-testid="events-table"><thead><tr><th>id</th><th>status</th><th>bankrupt side</th><th class="owner">bankrupt owner</th>
         <th>size</th><th>size left</th><th>fills</th><th>P_exec</th><th>fund paid</th><th>start slot</th><th>deadline slot</th></tr></thead><tbody>` +
        evs
          .map(({ event: e }) => {
            const status = e.status === EVENT_ACTIVE ? "active" : "done";
            return `<tr data-testid="event-row" data-id="${e.id}" data-status="${status}" data-fills="${e.fills}" data-fund-paid="${e.fund_paid}" class="${status}">
               <td>${e.id}</td><td data-col="status">${status}</td><td>${e.side === 0 ? "long" : "short"}</td>
               <td class="owner" title="${e.owner}">${short(e.owner)}</td><td>${base(e.base_total)}</td><td>${base(e.base_remaining)}</td>
               <td>${e.fills}</td><td data-testid="exec-price">${usd(e.exec_price)}</td><td>${usd(e.fund_paid)}</td>
               <td>${e.start_slot}</td><td>${e.deadline_slot}</td></tr>`;
          })
          .join("") +
        "</tbody></table>");
  const long = queueRows(s, "long");
  const shortRows = queueRows(s, "short");
  const pages = { long: 0, short: 0 };
  let me: string | undefined;
  const side = (k: "long" | "short") => {
    const rows = k === "long" ? long : shortRows;
    const oi = k === "long" ? m.open_interest_long : m.open_interest_short;
    $(`queue-${k}`).innerHTML = queueTable(k, rows, oi, pages[k], me);
  };
  $("queues").innerHTML = `<div class="depths">${depthChart("long", long)}${depthChart("short", shortRows)}</div>
    <div class="queues"><div id="queue-long"></div><div id="queue-short"></div></div>`;
  side("long");
  side("short");
  $("queues").onclick = (ev) => {
    const b = (ev.target as HTMLElement).closest("button[data-side]") as HTMLButtonElement | null;
    if (!b || b.disabled) return;
    const k = b.dataset.side as "long" | "short";
    pages[k] = Number(b.dataset.page);
    side(k);
  };
  ($("trader-form") as HTMLFormElement).onsubmit = (ev) => {
    ev.preventDefault();
    const owner = ($("owner") as HTMLInputElement).value.trim();
    const mine = [
      ...long.filter((r) => r.owner === owner).map((r) => ({ side: "long" as const, r, oi: m.open_interest_long })),
      ...shortRows.filter((r) => r.owner === owner).map((r) => ({ side: "short" as const, r, oi: m.open_interest_short })),
    ];
    // Each table jumps to the page holding the trader's row, highlighted.
    me = owner;
    for (const x of mine) {
      pages[x.side] = Math.floor((x.r.rank - 1) / PAGE);
      side(x.side);
    }
    $("trader").innerHTML =
      mine.length === 0
        ? `<p>No open position for ${owner || "this owner"}.</p>`
        : mine
            .map(
              ({ side, r, oi }) =>
                `<p data-testid="trader-row">${side} ${base(r.base)}: rank <b data-testid="trader-rank">${r.rank}</b> of ${side === "long" ? long.length : shortRows.length},
                 tier <b data-testid="trader-tier">${r.tier}</b>, ${lights(r.lights)}, ${oi === 0n ? "0.00" : fixed((r.sizeAhead * 10000n) / oi, 2)}% of the side's size ahead of you</p>`,
            )
            .join("");
  };
}

// --- Activity (live mode) --------------------------------------------------------------------

/** Accounts every instruction of a market carries: left out of the activity rows. */
const STRUCTURE = new Set(["exchange", "market", "oracle", "book", "long_queue", "short_queue", "fund", "vault", "system_program", "token_program"]);
/** Arguments in quote atoms (6 decimals) and in base atoms (9 decimals). */
const QUOTE_ARGS = new Set(["price", "confidence", "margin", "amount", "taker_margin", "maker_margin"]);
const BASE_ARGS = new Set(["base", "taker_base"]);
const U64_MAX = (1n << 64n) - 1n;

/** An argument for reading: amounts with their decimals, `u64::MAX` as "all", lists joined,
 * structs (`args`, `proof`) flattened into their fields. */
function argText(name: string, v: unknown): string[] {
  if (v !== null && typeof v === "object" && !Array.isArray(v)) {
    return Object.entries(v as Record<string, unknown>).flatMap(([k, x]) => argText(k, x));
  }
  let text: string;
  if (Array.isArray(v)) text = v.map(String).join(", ") || "none";
  else if (typeof v === "bigint" && v === U64_MAX) text = "all";
  else if (typeof v === "bigint" && QUOTE_ARGS.has(name)) text = usd(v);
  else if (typeof v === "bigint" && BASE_ARGS.has(name)) text = base(v);
  else text = String(v);
  return [`<span data-arg="${name}">${name} ${text}</span>`];
}

/** The key accounts of a row by IDL name; a user account (a per-owner PDA) shows its owner. */
function accountText(r: ActivityRow, log: ActivityLog): string {
  return Object.entries(r.accounts)
    .filter(([n]) => !STRUCTURE.has(n))
    .map(([n, k]) => {
      const owner = isUserAccount(n) ? log.ownerOf(k) : undefined;
      const shown = owner ?? k;
      return `<span class="acc" data-acc="${n}" data-key="${k}"${owner ? ` data-owner="${owner}"` : ""} title="${owner ? `${owner} (its user account ${k})` : k}">${n}${owner ? " of" : ""} <code>${short(shown)}</code></span>`;
    })
    .join(" ");
}

function renderActivity(log: ActivityLog) {
  const rows = log.rows;
  const counts = new Map<string, number>();
  for (const r of rows) counts.set(r.name, (counts.get(r.name) ?? 0) + 1);
  const sigs = new Set(rows.map((r) => r.signature)).size;
  const time = (t: number | null) => (t === null ? "" : new Date(t * 1000).toISOString().slice(11, 19));
  $("activity").innerHTML = `<h2>Activity (${sigs} most recent transactions of the market and its oracle, newest first)</h2>
    <p class="summary" data-testid="activity-summary">${[...counts].map(([n, c]) => `<span data-ix="${n}" data-count="${c}">${n} ×${c}</span>`).join(" · ") || "no transactions yet"}</p>` +
    (rows.length === 0
      ? ""
      : `<table data-testid="activity-table"><thead><tr><th>slot</th><th>time (UTC)</th><th class="left">instruction</th><th class="left">accounts</th><th class="left">arguments</th><th>result</th><th class="owner">transaction</th></tr></thead><tbody>` +
        rows
          .map(
            (r) => `<tr data-testid="activity-row" data-ix="${r.name}" data-sig="${r.signature}" data-slot="${r.slot}" data-ok="${r.err === null}" class="${r.err === null ? "" : "failed"}">
              <td>${r.slot}</td><td>${time(r.blockTime)}</td><td class="left ix">${r.name}</td><td class="left">${accountText(r, log)}</td>
              <td class="left">${Object.entries(r.args).flatMap(([n, v]) => argText(n, v)).join(" ")}</td>
              <td data-col="result">${r.err === null ? "ok" : `failed: ${JSON.stringify(r.err)}`}</td>
              <td class="owner" title="${r.signature}">${short(r.signature)}</td></tr>`,
          )
          .join("") +
        "</tbody></table>");
}

/** Keeps the Activity panel current: refreshed after every live update, again shortly after
 * (a node indexes a transaction's signature a moment after its accounts change) and every
 * 5 s. `body[data-activity]`: "ready", "unavailable" (the node keeps no transaction history)
 * or "error"; `body[data-activity-refreshes]` counts refreshes. */
function activityPanel(rpc: string, s: MarketState) {
  const log = new ActivityLog(rpc, [s.key, s.market.oracle], 50);
  let running = false;
  let again = false;
  let refreshes = 0;
  let trailing: ReturnType<typeof setTimeout> | undefined;
  const refresh = async (): Promise<void> => {
    if (document.body.dataset.activity === "unavailable") return;
    if (running) return void (again = true);
    running = true;
    try {
      do {
        again = false;
        await log.refresh();
        renderActivity(log);
        document.body.dataset.activity = "ready";
        document.body.dataset.activityRefreshes = String(++refreshes);
      } while (again);
    } catch (e) {
      document.body.dataset.activity = e instanceof HistoryUnavailable ? "unavailable" : "error";
      $("activity").innerHTML = `<h2>Activity</h2><p class="${e instanceof HistoryUnavailable ? "note" : "error"}" data-testid="activity-error">${
        e instanceof HistoryUnavailable
          ? `The node at ${rpc} keeps no transaction history, so the market's transactions cannot be listed (${(e as Error).message}).`
          : (e as Error).message
      }</p>`;
    } finally {
      running = false;
    }
  };
  setInterval(refresh, 5000);
  void refresh();
  return () => {
    void refresh();
    clearTimeout(trailing);
    trailing = setTimeout(refresh, 1500);
  };
}

/** The pubsub endpoint next to a JSON-RPC one: same host, port + 1, ws(s). */
export function pubsubUrl(rpc: string): string {
  const u = new URL(rpc);
  u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
  if (u.port) u.port = String(Number(u.port) + 1);
  return u.toString();
}

/** Live mode: `accountSubscribe` to the market, its oracle, its book and both queues over
 * pubsub; every change re-reads the accounts and re-renders in place (no reload), then
 * refreshes the Activity panel. Changes that arrive during a re-read are not lost: one more
 * re-read follows. Without a pubsub connection it polls every 2 s. `body[data-updates]`
 * counts re-renders. */
function live(rpc: string, first: MarketState, ws: string) {
  const market = first.key;
  const activity = activityPanel(rpc, first);
  let updates = 0;
  let pending = false;
  let again = false;
  const refresh = async (): Promise<void> => {
    if (pending) return void (again = true);
    pending = true;
    try {
      do {
        again = false;
        await new Promise((ok) => setTimeout(ok, 50));
        render(await fromRpc(rpc, market), `live from ${rpc}`);
        document.body.dataset.updates = String(++updates);
      } while (again);
    } catch (e) {
      $("source").innerHTML = `<span class="error">${(e as Error).message}</span>`;
    } finally {
      pending = false;
    }
    activity();
  };
  let poll: ReturnType<typeof setInterval> | undefined;
  const startPolling = () => {
    poll ??= setInterval(refresh, 2000);
    document.body.dataset.live = "polling";
  };
  let socket: WebSocket;
  try {
    socket = new WebSocket(ws);
  } catch {
    return startPolling();
  }
  socket.onerror = startPolling;
  socket.onclose = startPolling;
  socket.onopen = () => {
    const m = first.market;
    const keys = [market, m.oracle, m.book, m.long_queue, m.short_queue];
    keys.forEach((k, i) =>
      socket.send(
        JSON.stringify({
          jsonrpc: "2.0",
          id: i + 1,
          method: "accountSubscribe",
          params: [k, { encoding: "base64", commitment: "confirmed" }],
        }),
      ),
    );
    document.body.dataset.live = "subscribed";
  };
  socket.onmessage = (m) => {
    const msg = JSON.parse(String(m.data));
    if (msg.method === "accountNotification") void refresh();
  };
}

async function start() {
  const params = new URLSearchParams(location.search);
  try {
    const rpc = params.get("rpc");
    if (rpc) {
      const market = params.get("market");
      if (!market) throw new Error("give ?market=<market account> with ?rpc=");
      const s = await fromRpc(rpc, market);
      render(s, `live from ${rpc}`);
      $("activity").hidden = false;
      live(rpc, s, params.get("ws") ?? pubsubUrl(rpc));
    } else {
      const path = params.get("snapshot") ?? "fixtures/snapshot.json";
      const r = await fetch(path);
      if (!r.ok) throw new Error(`cannot load ${path}: ${r.status}`);
      render(fromSnapshot(await r.json()), `snapshot ${path}`);
    }
    document.body.dataset.ready = "true";
  } catch (e) {
    $("source").innerHTML = `<span class="error">${(e as Error).message}</span>`;
    document.body.dataset.ready = "error";
  }
}

void start();
