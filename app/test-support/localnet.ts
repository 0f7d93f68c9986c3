// What the tests against a real node share: the `adl-localnet` binary started on free
// loopback ports (each test file its own range of validator ports; the gossip port is the
// same in every debug build whatever the range, so `npm run rpc` runs the files one at a
// time), and ed25519 keypairs in the Solana CLI's 64-byte format signing with node:crypto.
import { spawn, type ChildProcess } from "node:child_process";
import { createPrivateKey, generateKeyPairSync, sign as edSign } from "node:crypto";
import { createServer as netServer } from "node:net";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { base58 } from "../src/decode.js";
import type { TxSigner } from "../src/transaction.js";
import { workspaceBin } from "./paths.mjs";

/** A workspace binary; `ADL_<NAME>_BIN` overrides (`ADL_ADL_LOCALNET_BIN`). */
export const bin = (name: string): string =>
  process.env[`ADL_${name.toUpperCase().replace("-", "_")}_BIN`] ?? workspaceBin(name);

const PKCS8_ED25519 = Buffer.from("302e020100300506032b657004220420", "hex");

export interface Keypair extends TxSigner {
  /** The Solana CLI's 64 bytes: seed ‖ public key. */
  secret: Uint8Array;
}

/** A keypair from the Solana CLI's 64 bytes (seed ‖ public key). */
export function keypairFromBytes(bytes: Uint8Array): Keypair {
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, bytes.slice(0, 32)]), format: "der", type: "pkcs8" });
  return { address: base58(bytes.slice(32, 64)), secret: bytes, sign: (m) => new Uint8Array(edSign(null, m, key)) };
}

export function newKeypair(): Keypair {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const d = Buffer.from(privateKey.export({ format: "jwk" }).d!, "base64url");
  const x = Buffer.from(publicKey.export({ format: "jwk" }).x!, "base64url");
  return keypairFromBytes(Uint8Array.from([...d, ...x]));
}

export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = netServer();
    s.once("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => ok(port));
    });
  });
}

/** What `adl-localnet --ready-file` writes. */
export interface Ready {
  rpc_url: string;
  pubsub_url: string;
  program_id: string;
  admin: string;
  exchange: string;
  mint: string;
  fund: string;
  oracle: string;
  markets: { market: string; oracle: string; book: string; long_queue: string; short_queue: string }[];
}

/** Starts `adl-localnet` with its ledger and admin keypair (`admin.json`) in `dir`, one market
 * of book capacity 64; the validator's sockets take the 25 ports from `portBase`. */
export async function startLocalnet(dir: string, portBase: number): Promise<{ child: ChildProcess; ready: Ready }> {
  let rpcPort = await freePort();
  while (rpcPort > 60_000) rpcPort = await freePort();
  const readyFile = join(dir, "ready.json");
  const child = spawn(
    bin("adl-localnet"),
    [
      "--rpc-port", String(rpcPort),
      "--port-range", `${portBase}-${portBase + 25}`,
      "--ticks-per-slot", "16",
      "--capacity", "64",
      "--ledger", join(dir, "ledger"),
      "--keypair", join(dir, "admin.json"),
      "--ready-file", readyFile,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let log = "";
  child.stdout!.on("data", (d) => (log += d));
  child.stderr!.on("data", (d) => (log += d));
  const start = Date.now();
  while (!existsSync(readyFile)) {
    if (child.exitCode !== null) throw new Error(`adl-localnet exited ${child.exitCode}: ${log}`);
    if (Date.now() - start > 180_000) throw new Error(`adl-localnet not ready in 180 s: ${log}`);
    await new Promise((ok) => setTimeout(ok, 200));
  }
  await new Promise((ok) => setTimeout(ok, 100));
  return { child, ready: JSON.parse(readFileSync(readyFile, "utf8")) };
}

/** SIGTERM, then waits until the process is gone. */
export async function stopLocalnet(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((ok) => child.once("exit", ok));
  child.kill("SIGTERM");
  await exited;
}
