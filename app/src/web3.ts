// The builders' instructions for @solana/web3.js v1 (a devDependency here; an integrator's own
// dependency): kit's `{ address, role }` metas become web3.js's `{ pubkey, isSigner,
// isWritable }`. A module of its own so that nothing else, the viewer bundle least of all,
// pulls web3.js in.
import { Buffer } from "buffer";
import { PublicKey, TransactionInstruction } from "@solana/web3.js";
import type { Instruction } from "@solana/kit";
import { isSigner, isWritable } from "./instructions.js";

/** A kit instruction (every builder's result) as a web3.js `TransactionInstruction`. */
export const toWeb3 = (ix: Instruction): TransactionInstruction =>
  new TransactionInstruction({
    programId: new PublicKey(ix.programAddress),
    keys: (ix.accounts ?? []).map((a) => ({ pubkey: new PublicKey(a.address), isSigner: isSigner(a.role), isWritable: isWritable(a.role) })),
    data: Buffer.from(ix.data ?? []),
  });
