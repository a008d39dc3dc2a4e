// Differential cases: each runs against our agent and the real qemu-ga 7.2, and the responses must agree
// (exact bytes, or the same shape where the value is host-specific). Where we deliberately differ, the case
// says why and asserts both sides of the difference.
import { expect } from "vitest";

export interface Step {
  /** Bytes to send; a function gets the lines received so far in this case (to reuse a pid or handle). */
  send: string | Buffer | ((prev: string[]) => string | Buffer);
  /** Write one byte per write. */
  bytewise?: boolean;
  /** The request is incomplete: nothing may arrive yet. */
  silent?: boolean;
  /** Repeat the step until the answer no longer says "exited": false (guest-exec-status). */
  untilExited?: boolean;
}

export interface KnownDifference {
  reason: string;
  ours: (lines: string[]) => void;
  theirs: (lines: string[]) => void;
}

export interface Case {
  name: string;
  steps: Step[];
  compare: "exact" | "shape" | KnownDifference;
  /**
   * Which agent pair: started plainly (TZ=UTC), with -b guest-exec,guest-file-open, in another
   * zone, with no chpasswd in PATH, with a chpasswd that is killed by a signal, or with a
   * systemctl that suspends nothing. Suspend cases must never let either agent reach
   * /sys/power/state for ram or disk: that would suspend the machine running the tests.
   */
  pair?: "default" | "blocked" | "berlin" | "kolkata" | "stjohns" | "no-chpasswd" | "killed-chpasswd" | "fake-systemctl";
  /** Where the case comes from: a transcript in the reference, or QEMU's tests/unit/test-qga.c. */
  ref?: string;
}

const cmd = (execute: string, args?: unknown, extra = ""): string =>
  `{"execute": "${execute}"${args === undefined ? "" : `, "arguments": ${JSON.stringify(args)}`}${extra}}`;
const one = (name: string, send: string | Buffer, compare: Case["compare"] = "exact", ref?: string): Case =>
  ({ name, steps: [{ send }], compare, ...(ref ? { ref } : {}) });
const FF = (s: string): Buffer => Buffer.concat([Buffer.from([0xff]), Buffer.from(s, "latin1")]);
const bytes = (...parts: (string | number[])[]): Buffer =>
  Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p, "latin1") : Buffer.from(p))));

/** The file the file-operation cases work on; the suite sets it to a path inside its temp dir. */
export const fileCaseEnv = { path: "/tmp/guestlink-file-case.txt" };

const pidOf = (prev: string[], idx: number): string => /"pid": (\d+)/.exec(prev[idx] ?? "")?.[1] ?? "0";

const execThenStatus = (name: string, args: unknown, compare: Case["compare"] = "shape", ref = "guest-exec.json"): Case => ({
  name, ref, compare,
  steps: [
    { send: cmd("guest-exec", args) },
    { send: (prev) => `{"execute": "guest-exec-status", "arguments": {"pid": ${pidOf(prev, 0)}}}`, untilExited: true },
    { send: (prev) => `{"execute": "guest-exec-status", "arguments": {"pid": ${pidOf(prev, 0)}}}` },
  ],
});

/** Strip the pid so exec results compare exactly apart from it. */
export function withoutPid(lines: string[]): string[] {
  return lines.map((l) => l.replace(/"pid": \d+/, '"pid": N'));
}

const nested = (depth: number): string =>
  `{"execute":"guest-ping","arguments":{"a":${"[".repeat(depth)}${"]".repeat(depth)}}}`;
const manyTokens = (zeros: number): string => `{"execute":"guest-ping","arguments":{"a":[${"0,".repeat(zeros - 1)}0]}}`;
const bigString = (len: number): string => `{"execute":"guest-ping","arguments":{"a":"${"A".repeat(len)}"}}`;
const MiB = 1024 * 1024;

export const CASES: Case[] = [
  // --- ping, sync, sync-delimited (test-qga.c: test_qga_ping, test_qga_sync, test_qga_sync_delimited)
  one("ping", cmd("guest-ping"), "exact", "test-qga.c ping"),
  one("ping compact", '{"execute":"guest-ping"}', "exact", "guest-ping-variants.json"),
  one("ping with empty arguments", '{"execute":"guest-ping","arguments":{}}'),
  one("single-quoted strings", "{'execute':'guest-ping'}", "exact", "guest-ping-variants.json"),
  one("trailing newline", '{"execute":"guest-ping"}\n'),
  one("CRLF", '{"execute":"guest-ping"}\r\n'),
  one("leading whitespace and newlines", '\n\n   \t{"execute":"guest-ping"}'),
  one("sync", cmd("guest-sync", { id: 1234 }), "exact", "test-qga.c sync"),
  one("sync negative id", cmd("guest-sync", { id: -5 })),
  one("sync int64 max", '{"execute": "guest-sync", "arguments": {"id": 9223372036854775807}}'),
  one("sync int64 min", '{"execute": "guest-sync", "arguments": {"id": -9223372036854775808}}'),
  one("sync uint64 max id refused", '{"execute": "guest-sync", "arguments": {"id": 18446744073709551615}}'),
  one("sync float id refused", '{"execute": "guest-sync", "arguments": {"id": 1.5}}'),
  one("sync string id refused", cmd("guest-sync", { id: "abc" })),
  one("sync bool id refused", cmd("guest-sync", { id: true })),
  one("sync null id refused", '{"execute": "guest-sync", "arguments": {"id": null}}'),
  one("sync exponent id refused", '{"execute":"guest-sync","arguments":{"id":1e3}}'),
  one("sync huge integer id refused", '{"execute":"guest-sync","arguments":{"id":99999999999999999999999}}'),
  one("sync-delimited", cmd("guest-sync-delimited", { id: 42 }), "exact", "test-qga.c sync-delimited"),
  one("0xFF then sync-delimited", FF(cmd("guest-sync-delimited", { id: 123456789 })), "exact", "guest-sync-delimited.json"),
  one("0xFF then sync", FF(cmd("guest-sync", { id: 77 })), "exact", "guest-sync.json"),
  {
    name: "stale partial request flushed by 0xFF", ref: "guest-sync-delimited.json", compare: "exact",
    steps: [{ send: '{"execute": "guest-ping", "argu', silent: true }, { send: FF('{"execute": "guest-sync-delimited", "arguments": {"id": 9223372036854775807}}') }],
  },
  one("sync-delimited echoes id", '{"execute": "guest-sync-delimited", "arguments": {"id": 11}, "id": "x"}', "exact", "id-field.json"),
  one("sync-delimited argument error is not delimited", cmd("guest-sync-delimited")),
  one("two 0xFF bytes", FF(FF(cmd("guest-sync-delimited", { id: 5 })).toString("latin1"))),

  // --- id echo of any JSON type (test-qga.c: test_qga_ping with id)
  one("id integer", cmd("guest-ping", undefined, ', "id": 1'), "exact", "id-field.json"),
  one("id string", cmd("guest-ping", undefined, ', "id": "abc"')),
  one("id object", cmd("guest-ping", undefined, ', "id": {"nested": [1, 2]}')),
  one("id null", cmd("guest-ping", undefined, ', "id": null')),
  one("id float", cmd("guest-ping", undefined, ', "id": 1.5')),
  one("id float 0.1 printed with 17 digits", cmd("guest-ping", undefined, ', "id": 0.1')),
  one("id 1e300", cmd("guest-ping", undefined, ', "id": 1e300')),
  one("id 1E-7", cmd("guest-ping", undefined, ', "id": 1E-7')),
  one("id negative", cmd("guest-ping", undefined, ', "id": -42')),
  one("id boolean", cmd("guest-ping", undefined, ', "id": false')),
  one("id array", cmd("guest-ping", undefined, ', "id": [1, "two", [3.5]]')),
  one("id uint64 max", cmd("guest-ping", undefined, ', "id": 18446744073709551615')),
  one("id beyond 64 bits becomes a double", cmd("guest-ping", undefined, ', "id": 36893488147419103232')),
  one("id with escapes and non-ASCII", cmd("guest-ping", undefined, ', "id": "caf\\u00e9 \\"q\\" \\/ \\t \u00e9 \\ud83d\\ude00"')),
  one("id on sync", '{"execute": "guest-sync", "arguments": {"id": 5}, "id": 6}'),
  one("id on unknown command", '{"execute": "guest-no-such", "id": 7}'),
  one("id on missing argument", '{"execute": "guest-sync", "id": 8}'),
  one("id on disabled command", '{"execute": "guest-get-devices", "id": 9}'),
  one("id on bad top-level member", '{"execute": "guest-ping", "foo": 1, "id": 10}'),
  one("id on non-object arguments", '{"execute": "guest-ping", "arguments": 5, "id": [1]}'),

  // --- envelope (test-qga.c: test_qga_invalid_oob, test_qga_invalid_cmd)
  one("missing execute", '{"arguments": {}}', "exact", "top-level-members.json"),
  one("execute not a string", '{"execute": 5}'),
  one("arguments not an object", '{"execute": "guest-ping", "arguments": []}'),
  one("arguments null", '{"execute": "guest-ping", "arguments": null}'),
  one("unexpected top-level member", '{"execute": "guest-ping", "foo": 1}'),
  one("exec-oob refused", '{"exec-oob": "guest-ping"}', "exact", "test-qga.c invalid-oob"),
  one("execute and exec-oob", '{"execute": "guest-ping", "exec-oob": "guest-ping"}'),
  one("empty object", "{}"),
  one("control member", '{"execute": "guest-ping", "control": {}}'),
  one("two unexpected members: QDict order decides", '{"execute": "guest-ping", "zzz": 1, "aaa": 2, "mmm": 3}'),
  one("unknown command", cmd("guest-no-such-command"), "exact", "test-qga.c invalid-cmd"),
  one("qmp_capabilities is unknown", '{"execute":"qmp_capabilities"}', "exact", "no-greeting.json"),
  one("query-commands is unknown", '{"execute":"query-commands"}'),
  one("empty command name", '{"execute": ""}'),
  one("disabled on Linux: guest-get-devices", cmd("guest-get-devices"), "exact", "guest-get-devices.json"),

  // --- argument errors (test-qga.c: test_qga_invalid_args)
  one("ping with an argument", cmd("guest-ping", { foo: 1 }), "exact", "test-qga.c invalid-args"),
  one("sync with an extra argument", cmd("guest-sync", { id: 1, foo: 2 })),
  one("two extra arguments: glib hash order decides", cmd("guest-info", { a: 1, b: 2 }), "exact", "extra-unknown-argument.json"),
  one("six extra arguments", cmd("guest-ping", { alpha: 1, beta: 2, gamma: 3, delta: 4, epsilon: 5, zeta: 6 })),
  one("extra argument after a valid one", cmd("guest-file-open", { path: "/nonexistent/x", mode: "r", bogus: true })),
  one("missing argument", cmd("guest-sync"), "exact", "missing-required-argument.json"),
  one("missing argument, empty arguments", cmd("guest-sync", {})),
  one("missing path", cmd("guest-file-open", { mode: "r" })),
  one("missing pid", cmd("guest-exec-status", {})),
  one("wrong type: path", cmd("guest-file-open", { path: 5 }), "exact", "wrong-argument-type.json"),
  one("wrong type: arg not a list", cmd("guest-exec", { path: "/bin/true", arg: "notalist" })),
  one("wrong type: list element", cmd("guest-exec", { path: "/bin/true", arg: [1, 2] })),
  one("wrong type: boolean", cmd("guest-exec", { path: "/bin/true", "capture-output": "yes" })),
  one("capture-output enum form of QEMU 8", cmd("guest-exec", { path: "/bin/echo", "capture-output": "separated" }), "exact", "test-qga.c exec separated/merged"),
  one("wrong type: handle", cmd("guest-file-read", { handle: "1" })),
  one("wrong type: env element", cmd("guest-exec", { path: "/bin/true", env: [null] })),
  one("bad enum value", cmd("guest-file-seek", { handle: 1000, offset: 0, whence: "bogus" })),
  one("alternate of wrong type", cmd("guest-file-seek", { handle: 1000, offset: 0, whence: [] })),
  one("alternate given a float", cmd("guest-file-seek", { handle: 1000, offset: 0, whence: 1.5 })),
  one("missing alternate", cmd("guest-file-seek", { handle: 1000, offset: 0 })),
  one("nested struct: unexpected member", cmd("guest-set-vcpus", { vcpus: [{ "logical-id": 0, online: true, bogus: 1 }] })),
  one("nested struct: missing member", cmd("guest-set-vcpus", { vcpus: [{ "logical-id": 0 }] })),
  one("nested struct: not an object", cmd("guest-set-vcpus", { vcpus: [5] })),
  one("uint64 member given a string", cmd("guest-set-memory-blocks", { "mem-blks": [{ "phys-index": "x", online: true }] })),
  one("set-memory-blocks of a missing block", cmd("guest-set-memory-blocks", { "mem-blks": [{ "phys-index": -1, online: true }] })),
  one("shutdown with an invalid mode", cmd("guest-shutdown", { mode: "bogus" })),
  one("file-read negative count", cmd("guest-file-read", { handle: 1000, count: -1 })),

  // --- framing (split, batched, malformed, 0xFF recovery)
  one("two commands in one write", '{"execute": "guest-ping"}{"execute": "guest-sync", "arguments": {"id": 2}}', "exact", "two-commands-one-write.json"),
  one("three commands in one write", '{"execute": "guest-sync", "arguments": {"id": 3}}\n{"execute": "guest-sync", "arguments": {"id": 4}} {"execute": "guest-no-such"}'),
  {
    name: "request split across writes", ref: "split-across-writes.json", compare: "exact",
    steps: [{ send: '{"execute":', silent: true }, { send: ' "guest-sy', silent: true }, { send: 'nc", "arguments": {"id"', silent: true }, { send: ": 99}}" }],
  },
  { name: "one byte per write", ref: "split-byte-by-byte.json", compare: "exact", steps: [{ send: cmd("guest-sync", { id: 100 }), bytewise: true }] },
  { name: "0xFF resync one byte per write", compare: "exact", steps: [{ send: FF(cmd("guest-sync-delimited", { id: 101 })), bytewise: true }] },
  one("syntax error inside object", '{"execute": }', "exact", "malformed-json.json"),
  one("bare words", "hello world\n"),
  one("array at top level", "[1, 2, 3]"),
  { name: "number at top level needs a delimiter", compare: "exact", steps: [{ send: "42", silent: true }, { send: " " }] },
  one("string at top level", '"just a string"'),
  { name: "keyword needs a delimiter", compare: "exact", steps: [{ send: "null", silent: true }, { send: ' {"execute":"guest-ping"}' }] },
  one("stray close brace", "}"),
  one("stray close bracket", "]"),
  one("trailing comma", '{"execute":"guest-ping",}'),
  one("UTF-8 command name", Buffer.from('{"execute":"gu\u00e9st"}', "utf8")),
  one("0xFE inside a string", bytes('{"execute":"gu', [0xfe], 'st"}')),
  one("NUL byte", Buffer.from([0])),
  one("duplicate key", '{"execute":"guest-ping","execute":"guest-ping"}'),
  one("invalid escape", '{"execute":"guest-p\\xing"}'),
  one("escaped NUL in a name", '{"execute":"guest-\\u0000ping"}'),
  one("unpaired surrogate escape", '{"execute":"\\ud800"}'),
  one("invalid hex escape", '{"execute":"\\u12g4"}'),
  one("non-string key", '{1: 2}'),
  one("missing colon", '{"execute" "guest-ping"}'),
  one("missing separator in list", '{"execute":"guest-ping","id":[1 2]}'),
  one("control character inside a string", bytes('{"execute":"guest', [1], '-ping"}')),
  one("tab inside a string", bytes('{"execute":"guest\t-ping"}')),
  one("lone minus", '{"execute":"guest-ping","id":-}'),
  one("leading zero", '{"execute":"guest-ping","id":01}'),
  one("uppercase keyword", '{"execute":"guest-ping","id":True}'),
  one("overlong UTF-8", bytes('{"execute":"', [0xc0, 0xaf], '"}')),
  one("0xFF inside an object recovers", bytes('{"execute": "guest-ping", ', [0xff], '{"execute":"guest-ping"}')),

  // --- limits (large-messages.json): nesting 1024, 2,097,152 tokens, 64 MiB per token and per message
  one("nesting deeper than 1024", nested(1100), "exact", "large-messages.json nesting"),
  one("nesting exactly at the limit", nested(1022)),
  one("token count limit", manyTokens(1048576), "exact", "large-messages.json token-count"),
  one("message token size limit", bigString(64 * MiB - 10), "exact", "large-messages.json token-size"),
  one("single token size limit", bigString(64 * MiB + 5), "exact", "large-messages.json single-token-size"),

  // --- information commands (test-qga.c: info, get-vcpus, get-fsinfo, memory-block*, get-time, ...)
  {
    name: "guest-info", ref: "test-qga.c info", compare: {
      reason: "we serve three commands qemu-ga 7.2 lacks (guest-get-load, guest-network-get-route, __org.guestlink_guest-network-get-links) and report version 7.2.0",
      ours: (l) => {
        const r = JSON.parse(l[0]!) as { return: { version: string; supported_commands: { name: string; enabled: boolean }[] } };
        expect(r.return.version).toBe("7.2.0");
        expect(r.return.supported_commands.slice(0, 3).map((c) => c.name)).toEqual(["__org.guestlink_guest-network-get-links", "guest-get-load", "guest-network-get-route"]);
      },
      theirs: (l) => expect(l[0]).toMatch(/^\{"return": \{"version": "7\.2\.\d+", "supported_commands": \[\{"enabled": true, "name": "guest-get-cpustats"/),
    },
    steps: [{ send: cmd("guest-info") }],
  },
  one("network-get-interfaces", cmd("guest-network-get-interfaces"), "shape", "test-qga.c network-get-interfaces"),
  one("get-vcpus", cmd("guest-get-vcpus"), "exact", "test-qga.c get-vcpus"),
  one("get-fsinfo", cmd("guest-get-fsinfo"), "shape", "test-qga.c get-fsinfo"),
  one("get-memory-block-info", cmd("guest-get-memory-block-info"), "exact", "test-qga.c get-memory-block-info"),
  one("get-memory-blocks", cmd("guest-get-memory-blocks"), "exact", "test-qga.c get-memory-blocks"),
  one("get-time", cmd("guest-get-time"), "shape", "test-qga.c get-time"),
  one("fsfreeze-status", cmd("guest-fsfreeze-status"), "exact", "test-qga.c fsfreeze-status"),
  one("get-host-name", cmd("guest-get-host-name"), "exact", "test-qga.c get-host-name"),
  one("get-timezone", cmd("guest-get-timezone"), "exact", "test-qga.c get-timezone"),
  one("get-users", cmd("guest-get-users"), "exact", "test-qga.c get-users"),
  { ...one("get-timezone in Europe/Berlin", cmd("guest-get-timezone")), pair: "berlin" },
  { ...one("get-timezone in Asia/Kolkata", cmd("guest-get-timezone")), pair: "kolkata" },
  { ...one("get-timezone in America/St_Johns", cmd("guest-get-timezone")), pair: "stjohns" },
  one("get-osinfo with QGA_OS_RELEASE", cmd("guest-get-osinfo"), "exact", "test-qga.c get-osinfo"),
  one("get-disks", cmd("guest-get-disks"), "exact", "guest-get-disks.json"),
  one("get-diskstats", cmd("guest-get-diskstats"), "shape", "guest-get-diskstats.json"),
  one("get-cpustats", cmd("guest-get-cpustats"), "shape", "guest-get-cpustats.json"),
  one("ssh keys of root", cmd("guest-ssh-get-authorized-keys", { username: "root" }), "exact", "guest-ssh-get-authorized-keys.json"),
  one("add ssh keys for a missing user", cmd("guest-ssh-add-authorized-keys", { username: "no-such-user-xyz", keys: ["ssh-ed25519 AAAA x"] })),
  one("remove ssh keys for a missing user", cmd("guest-ssh-remove-authorized-keys", { username: "no-such-user-xyz", keys: ["ssh-ed25519 AAAA x"] })),
  one("set the password of a missing user", cmd("guest-set-user-password", { username: "no-such-user-xyz", password: "eA==", crypted: false })),
  one("set-user-password with invalid base64", cmd("guest-set-user-password", { username: "no-such-user-xyz", password: "!", crypted: false })),
  {
    name: "set-user-password without chpasswd in PATH", pair: "no-chpasswd",
    steps: [{ send: cmd("guest-set-user-password", { username: "no-such-user-xyz", password: "eA==", crypted: false }) }],
    compare: {
      reason: "helpers are also looked up in /usr/sbin and /sbin (qemu-ga 7.2 runs shutdown and hwclock from /sbin by absolute path), so ours still finds chpasswd; qemu-ga searches PATH only",
      ours: (l) => expect(l).toEqual(['{"error": {"class": "GenericError", "desc": "child process has failed to set user password"}}']),
      theirs: (l) => expect(l).toEqual([`{"error": {"class": "GenericError", "desc": "cannot find 'passwd' program in PATH"}}`]),
    },
  },
  { ...one("set-user-password when chpasswd is killed by a signal", cmd("guest-set-user-password", { username: "no-such-user-xyz", password: "eA==", crypted: false })), pair: "killed-chpasswd" },
  // Suspend: systemd first (systemctl status systemd-<unit>, then systemctl <verb>). Success has no answer.
  // The ping after it shows the agent alive and that the suspend itself was never answered.
  { name: "suspend-ram through systemd", pair: "fake-systemctl", compare: "exact", steps: [{ send: cmd("guest-suspend-ram") }, { send: cmd("guest-ping") }] },
  { name: "suspend-disk through systemd", pair: "fake-systemctl", compare: "exact", steps: [{ send: cmd("guest-suspend-disk") }, { send: cmd("guest-ping") }] },
  // systemd claims hybrid and fails; hybrid has no /sys/power/state word.
  { ...one("suspend-hybrid when systemctl hybrid-sleep fails", cmd("guest-suspend-hybrid")), pair: "fake-systemctl" },
  // Neither systemctl nor pm-utils in PATH (hybrid only: ram or disk would go on to /sys/power/state).
  { ...one("suspend-hybrid with no helper in PATH", cmd("guest-suspend-hybrid")), pair: "no-chpasswd" },
  one("set-vcpus keeping cpu0 online", cmd("guest-set-vcpus", { vcpus: [{ "logical-id": 0, online: true }] })),
  one("set-vcpus with an empty list", cmd("guest-set-vcpus", { vcpus: [] })),
  one("set-memory-blocks keeping a block online", cmd("guest-set-memory-blocks", { "mem-blks": [{ "phys-index": 0, online: true }] })),
  one("exec-status while running", cmd("guest-exec-status", { pid: 1 })),
  one("ssh keys of a missing user", cmd("guest-ssh-get-authorized-keys", { username: "no-such-user-xyz" }), "exact", "guest-ssh-get-authorized-keys-nouser.json"),
  {
    name: "get-load", ref: "test-qga.c get-load", compare: {
      reason: "guest-get-load appeared in QEMU 10.0; we serve it, qemu-ga 7.2 does not know it",
      ours: (l) => expect(Object.keys((JSON.parse(l[0]!) as { return: object }).return).sort()).toEqual(["load1", "load15", "load5"]),
      theirs: (l) => expect(l).toEqual(['{"error": {"class": "CommandNotFound", "desc": "The command guest-get-load has not been found"}}']),
    },
    steps: [{ send: cmd("guest-get-load") }],
  },
  {
    name: "network-get-route", ref: "guest-network-get-route.json", compare: {
      reason: "guest-network-get-route appeared in QEMU 9.1; we serve it, qemu-ga 7.2 does not know it",
      ours: (l) => expect(l[0]).toMatch(/^\{"return": \[/),
      theirs: (l) => expect(l[0]).toContain("The command guest-network-get-route has not been found"),
    },
    steps: [{ send: cmd("guest-network-get-route") }],
  },
  {
    name: "extension get-links", compare: {
      reason: "our extension __org.guestlink_guest-network-get-links exists only in ours",
      ours: (l) => {
        const r = JSON.parse(l[0]!) as { return: { name: string; mtu: number; operstate: string; type: string }[] };
        expect(r.return.find((x) => x.name === "lo")).toMatchObject({ type: "loopback", mtu: 65536 });
      },
      theirs: (l) => expect(l[0]).toContain("The command __org.guestlink_guest-network-get-links has not been found"),
    },
    steps: [{ send: cmd("__org.guestlink_guest-network-get-links") }],
  },

  // --- files (test-qga.c: test_qga_file_ops, test_qga_file_write_read)
  {
    name: "file operations", ref: "test-qga.c file-ops / guest-file.json", compare: "exact",
    steps: [
      { send: () => cmd("guest-file-open", { path: fileCaseEnv.path, mode: "w+" }) },
      { send: cmd("guest-file-write", { handle: 1000, "buf-b64": "aGVsbG8gd29ybGQK" }) },
      { send: cmd("guest-file-write", { handle: 1000, "buf-b64": "MDEyMzQ1Njc4OQ==", count: 4 }) },
      { send: cmd("guest-file-flush", { handle: 1000 }) },
      { send: cmd("guest-file-seek", { handle: 1000, offset: 0, whence: "set" }) },
      { send: cmd("guest-file-read", { handle: 1000, count: 5 }) },
      { send: cmd("guest-file-read", { handle: 1000 }) },
      { send: cmd("guest-file-read", { handle: 1000 }) },
      { send: cmd("guest-file-seek", { handle: 1000, offset: 0, whence: 1 }) },
      { send: cmd("guest-file-seek", { handle: 1000, offset: -3, whence: "end" }) },
      { send: cmd("guest-file-read", { handle: 1000, count: 100 }) },
      { send: cmd("guest-file-seek", { handle: 1000, offset: 0, whence: 7 }) },
      { send: cmd("guest-file-read", { handle: 1000, count: 51380224 }) },
      { send: cmd("guest-file-write", { handle: 1000, "buf-b64": "%%%%" }) },
      { send: cmd("guest-file-write", { handle: 1000, "buf-b64": "aGk=", count: 10 }) },
      { send: cmd("guest-file-close", { handle: 1000 }) },
      { send: cmd("guest-file-close", { handle: 1000 }) },
      { send: cmd("guest-file-read", { handle: 1000 }) },
      { send: cmd("guest-file-open", { path: "/nonexistent/dir/file" }) },
      { send: () => cmd("guest-file-open", { path: fileCaseEnv.path, mode: "zz" }) },
      { send: () => cmd("guest-file-open", { path: fileCaseEnv.path }) },
      { send: cmd("guest-file-read", { handle: 1001, count: 64 }) },
      { send: cmd("guest-file-write", { handle: 1001, "buf-b64": "aGk=" }) },
      { send: cmd("guest-file-close", { handle: 1001 }) },
    ],
  },
  {
    name: "file write then read through a new handle", ref: "test-qga.c file-write-read", compare: "exact",
    steps: [
      { send: () => cmd("guest-file-open", { path: fileCaseEnv.path, mode: "a+" }) },
      { send: cmd("guest-file-write", { handle: 1002, "buf-b64": "c2Vjb25kIGxpbmUK" }) },
      { send: cmd("guest-file-seek", { handle: 1002, offset: 0, whence: 0 }) },
      { send: cmd("guest-file-read", { handle: 1002, count: 1000 }) },
      { send: cmd("guest-file-close", { handle: 1002 }) },
    ],
  },

  {
    name: "file operations on a directory and a bad seek", compare: "exact",
    steps: [
      { send: cmd("guest-file-open", { path: "/" }) },
      { send: cmd("guest-file-read", { handle: 1003 }) },
      { send: cmd("guest-file-seek", { handle: 1003, offset: -5, whence: "set" }) },
      { send: cmd("guest-file-flush", { handle: 1003 }) },
      { send: cmd("guest-file-close", { handle: 1003 }) },
    ],
  },

  // --- exec (test-qga.c: test_qga_guest_exec, test_qga_guest_exec_invalid)
  execThenStatus("exec captured output", { path: "/bin/echo", arg: ["hi"], "capture-output": true }),
  execThenStatus("exec stdin, stderr and exit code", { path: "/bin/sh", arg: ["-c", "cat; echo err >&2; exit 3"], "input-data": "ZnJvbS1zdGRpbgo=", "capture-output": true }),
  execThenStatus("exec without capture", { path: "/bin/true" }),
  execThenStatus("exec env replaces the environment", { path: "/bin/sh", arg: ["-c", "echo $FOO; env | wc -l"], env: ["FOO=bar"], "capture-output": true }),
  execThenStatus("exec path without slash", { path: "echo", arg: ["via-path"], "capture-output": true }),
  execThenStatus("exec killed by a signal", { path: "/bin/sh", arg: ["-c", "kill -9 $$"] }),
  // SIGPROF (27): past 1-15, and it ends the process without a core dump.
  execThenStatus("exec killed by a signal past 15", { path: "/bin/sh", arg: ["-c", "kill -PROF $$"] }, "exact"),
  execThenStatus("exec output beyond 16 MiB is truncated", { path: "/bin/sh", arg: ["-c", "head -c 17825792 /dev/zero; echo done >&2"], "capture-output": true }, "shape", "guest-exec-output-limit.json"),
  one("exec of a missing program", cmd("guest-exec", { path: "/nonexistent/binary" }), "exact", "test-qga.c exec-invalid"),
  one("exec-status of an unknown pid", cmd("guest-exec-status", { pid: 999999 }), "exact", "test-qga.c exec-invalid"),
  one("exec with invalid base64 input", cmd("guest-exec", { path: "/bin/echo", "input-data": "!!notbase64!!" })),

  // --- blocked rpcs (test-qga.c: test_qga_blockedrpcs), agents started with -b guest-exec,guest-file-open
  { ...one("blocked command", cmd("guest-exec", { path: "/bin/echo", arg: ["hi"], "capture-output": true }), "exact", "blocked-rpcs.json"), pair: "blocked" },
  { ...one("blocked command with id", '{"execute": "guest-exec", "id": 5, "arguments": {"path": "/bin/echo"}}'), pair: "blocked" },
  { ...one("blocked beats argument errors", cmd("guest-exec")), pair: "blocked" },
  { ...one("blocked file-open", cmd("guest-file-open", { path: "/etc/hostname" })), pair: "blocked" },
  { ...one("not blocked: ping", cmd("guest-ping")), pair: "blocked" },
  {
    name: "guest-info shows blocked commands disabled", pair: "blocked", ref: "blocked-rpcs.json",
    compare: {
      reason: "same flags for every qemu-ga 7.2 command; ours lists three more commands first (see guest-info)",
      ours: (l) => expect(infoFlags(l[0]!)).toMatchObject({ "guest-exec": false, "guest-file-open": false, "guest-ping": true, "guest-get-devices": false }),
      theirs: (l) => expect(infoFlags(l[0]!)).toMatchObject({ "guest-exec": false, "guest-file-open": false, "guest-ping": true, "guest-get-devices": false }),
    },
    steps: [{ send: cmd("guest-info") }],
  },
];

export function infoFlags(line: string): Record<string, boolean> {
  const r = JSON.parse(line) as { return: { supported_commands: { name: string; enabled: boolean }[] } };
  return Object.fromEntries(r.return.supported_commands.map((c) => [c.name, c.enabled]));
}
