// set-user-password (chpasswd) and the ssh authorized_keys commands.
import { readFileSync, writeFileSync, mkdirSync, chownSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { defineCommand } from "../dispatch/registry.ts";
import { genericError, QgaErrors } from "../protocol/errors.ts";
import { strerror, decodeBase64Strict } from "./errno.ts";
import type { AgentEnv } from "./env.ts";
import { throwIfHelperFailed } from "./helper-result.ts";

interface PasswdEntry { name: string; uid: number; gid: number; home: string }

function lookupUser(env: AgentEnv, username: string): PasswdEntry {
  for (const line of (env.fs.read("/etc/passwd") ?? "").split("\n")) {
    const f = line.split(":");
    if (f[0] === username && f.length >= 7) return { name: username, uid: Number(f[2]), gid: Number(f[3]), home: f[5]! };
  }
  // getpwnam() reports a missing user with errno 0, hence qemu-ga's odd "Success".
  throw genericError(`failed to lookup user '${username}': Success`);
}

function keysPath(env: AgentEnv, u: PasswdEntry): string {
  return env.fs.path(join(u.home, ".ssh", "authorized_keys"));
}

function readKeys(path: string): string[] {
  return readFileSync(path, "utf8").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
}

function checkKeys(keys: string[]): void {
  for (const k of keys) {
    if (!k.trim() || k.includes("\n") || !/^\S+\s+\S+/.test(k.trim())) throw genericError(`invalid OpenSSH public key: '${k}'`);
  }
}

function writeKeys(env: AgentEnv, u: PasswdEntry, keys: string[]): void {
  const dir = env.fs.path(join(u.home, ".ssh"));
  const path = keysPath(env, u);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(path, keys.map((k) => `${k}\n`).join(""), { mode: 0o600 });
    chmodSync(path, 0o600);
    if (process.getuid?.() === 0) {
      chownSync(dir, u.uid, u.gid);
      chownSync(path, u.uid, u.gid);
    }
  } catch (e) {
    throw genericError(`failed to write '${join(u.home, ".ssh", "authorized_keys")}': ${strerror(e)}`);
  }
}

function existingKeys(env: AgentEnv, u: PasswdEntry): string[] {
  try {
    return readKeys(keysPath(env, u));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw genericError(`failed to read '${join(u.home, ".ssh", "authorized_keys")}': ${strerror(e)}`);
  }
}

export const userCommands = [
  defineCommand<AgentEnv>({
    name: "guest-set-user-password",
    run: async (args, ctx) => {
      const env = ctx.env;
      const raw = decodeBase64Strict(args.password as string);
      if (!raw) throw QgaErrors.base64Invalid();
      const password = raw.toString("utf8");
      if (password.includes("\n")) throw genericError("forbidden characters in raw password");
      const username = args.username as string;
      if (username.includes("\n") || username.includes(":")) throw genericError("forbidden characters in username");
      const chpasswd = env.exec.which("chpasswd");
      // qemu-ga's text names 'passwd' although it looks for chpasswd.
      if (!chpasswd) throw genericError("cannot find 'passwd' program in PATH");
      const r = await env.exec.run(chpasswd, args.crypted ? ["-e"] : [], { input: `${username}:${password}\n` });
      throwIfHelperFailed(r, "set user password");
      return {};
    },
  }),
  defineCommand<AgentEnv>({
    name: "guest-ssh-get-authorized-keys",
    run: (args, ctx) => {
      const u = lookupUser(ctx.env, args.username as string);
      const shown = join(u.home, ".ssh", "authorized_keys");
      try {
        return { keys: readKeys(keysPath(ctx.env, u)) };
      } catch (e) {
        throw genericError(`failed to read '${shown}': Failed to open file \u201C${shown}\u201D: ${strerror(e)}`);
      }
    },
  }),
  defineCommand<AgentEnv>({
    name: "guest-ssh-add-authorized-keys",
    run: (args, ctx) => {
      const keys = args.keys as string[];
      checkKeys(keys);
      const u = lookupUser(ctx.env, args.username as string);
      const current = args.reset === true ? [] : existingKeys(ctx.env, u);
      for (const k of keys) if (!current.includes(k.trim())) current.push(k.trim());
      writeKeys(ctx.env, u, current);
      return {};
    },
  }),
  defineCommand<AgentEnv>({
    name: "guest-ssh-remove-authorized-keys",
    run: (args, ctx) => {
      const keys = (args.keys as string[]).map((k) => k.trim());
      checkKeys(keys);
      const u = lookupUser(ctx.env, args.username as string);
      const current = existingKeys(ctx.env, u);
      writeKeys(ctx.env, u, current.filter((k) => !keys.includes(k)));
      return {};
    },
  }),
];
