// Seed image cost: the in-process ISO 9660 writer against spawning genisoimage, for a NoCloud
// seed of four small files. Target: ours takes at most 5% of genisoimage's time per image.
// Run with: node bench/run.mjs iso
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildIso9660 } from "../metadata-server/seed/iso9660.ts";
import type { IsoFile } from "../metadata-server/seed/iso9660.ts";

const OURS_RUNS = 2000;
const OURS_WARMUP = 5000; // lets the JIT reach its optimising tier before timing
const THEIRS_RUNS = 50;
const TARGET_RATIO = 0.05;

const enc = new TextEncoder();
const SEED: IsoFile[] = [
  { path: "meta-data", data: enc.encode("instance-id: iid-bench-0001\nlocal-hostname: bench-guest\n") },
  {
    path: "user-data",
    data: enc.encode(
      "#cloud-config\nusers:\n  - name: ops\n    sudo: ALL=(ALL) NOPASSWD:ALL\n    ssh_authorized_keys:\n" +
        `      - ssh-ed25519 ${"A".repeat(68)} ops@example\n` +
        "package_update: true\npackages: [qemu-guest-agent]\nruncmd:\n  - [systemctl, enable, --now, qemu-guest-agent]\n" +
        "write_files:\n  - path: /etc/motd\n    content: |\n" +
        "      This machine is managed by guestlink.\n".repeat(30),
    ),
  },
  { path: "vendor-data", data: enc.encode("#cloud-config\ntimezone: UTC\n") },
  {
    path: "network-config",
    data: enc.encode(
      "version: 2\nethernets:\n  primary:\n    match:\n      macaddress: '52:54:00:12:34:56'\n" +
        "    set-name: eth0\n    addresses: [192.0.2.10/24, '2001:db8::10/64']\n    routes:\n" +
        "      - to: default\n        via: 192.0.2.1\n    nameservers:\n      addresses: [192.0.2.53]\n",
    ),
  },
];
const TIMESTAMP = new Date(Date.UTC(2026, 0, 1));

function hasGenisoimage(): boolean {
  const probe = spawnSync("genisoimage", ["-version"], { stdio: "ignore" });
  return probe.error === undefined && probe.status === 0;
}

function benchOurs(): number {
  let sink = 0;
  for (let i = 0; i < OURS_WARMUP; i++) sink += buildIso9660({ volumeId: "cidata", files: SEED, timestamp: TIMESTAMP }).length;
  const start = process.hrtime.bigint();
  for (let i = 0; i < OURS_RUNS; i++) sink += buildIso9660({ volumeId: "cidata", files: SEED, timestamp: TIMESTAMP }).length;
  const elapsed = Number(process.hrtime.bigint() - start);
  if (sink === 0) throw new Error("writer produced empty images");
  return elapsed / OURS_RUNS;
}

function benchTheirs(workDir: string): number {
  const seedDir = join(workDir, "seed");
  mkdirSync(seedDir);
  for (const file of SEED) writeFileSync(join(seedDir, file.path), file.data);
  const out = join(workDir, "seed.iso");
  const run = () => {
    const r = spawnSync("genisoimage", ["-quiet", "-J", "-r", "-V", "cidata", "-o", out, seedDir], { stdio: ["ignore", "ignore", "pipe"] });
    if (r.status !== 0) throw new Error(`genisoimage failed (${r.status}): ${r.stderr?.toString() ?? ""}`);
  };
  run(); // warm the page cache and the dynamic loader
  const start = process.hrtime.bigint();
  for (let i = 0; i < THEIRS_RUNS; i++) run();
  const elapsed = Number(process.hrtime.bigint() - start);
  if (statSync(out).size === 0) throw new Error("genisoimage wrote an empty image");
  return elapsed / THEIRS_RUNS;
}

function main(): number {
  if (!hasGenisoimage()) {
    console.error("genisoimage is not installed (or not on PATH): it is needed as the baseline; install the genisoimage package");
    return 2;
  }
  const seedBytes = SEED.reduce((n, f) => n + f.data.length, 0);
  const workDir = mkdtempSync(join(tmpdir(), "guestlink-iso-bench-"));
  try {
    const oursNs = benchOurs();
    const theirsNs = benchTheirs(workDir);
    const ratio = oursNs / theirsNs;
    const pass = ratio <= TARGET_RATIO;
    console.log(`seed: ${SEED.length} files, ${seedBytes} bytes`);
    console.log(`buildIso9660 (in-process): ${(oursNs / 1000).toFixed(1)} µs/image over ${OURS_RUNS} images`);
    console.log(`genisoimage (spawned):     ${(theirsNs / 1000).toFixed(1)} µs/image over ${THEIRS_RUNS} images`);
    console.log(`ratio ours/theirs: ${ratio.toFixed(4)} (${(theirsNs / oursNs).toFixed(0)}x faster), target <= ${TARGET_RATIO}`);
    console.log(pass ? "PASS" : "FAIL");
    return pass ? 0 : 1;
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

process.exitCode = main();
