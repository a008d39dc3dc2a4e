// A scripted stand-in for a guest agent behind a unix socket, for tests of the host side (the
// QGA client and poller, the console): it answers guest-sync-delimited as told and each command
// with a fixed line. Real agents (qemu-ga, ours) are tested elsewhere; this one can misbehave.
import { createServer, type Server } from "node:net";

/** A delimited sync answer: 0xFF, then the JSON line. */
export const delimited = (id: number | string): Buffer => Buffer.concat([Buffer.from([0xff]), Buffer.from(`{"return": ${id}}\n`)]);

/**
 * Listens on `path`: `onSync` writes what follows a guest-sync-delimited with that id, and each
 * command whose name appears in `answers` gets that line. Other input is buffered, unanswered.
 */
export function scriptedAgent(path: string, onSync: (id: string) => Buffer, answers: Record<string, string>): Server {
  return createServer((c) => {
    let buf = "";
    c.on("data", (d) => {
      buf += d.toString("latin1");
      const m = /"guest-sync-delimited","arguments":\{"id":(\d+)\}/.exec(buf);
      const command = m ? undefined : Object.keys(answers).find((name) => buf.includes(name));
      if (m) c.write(onSync(m[1]!));
      else if (command) c.write(answers[command]!);
      else return;
      buf = "";
    });
  }).listen(path);
}

/** guest-file-read's answer carrying `text` in one read. */
export function fileReadAnswer(text: string): string {
  return `{"return": {"count": ${Buffer.byteLength(text)}, "buf-b64": "${Buffer.from(text).toString("base64")}", "eof": true}}\n`;
}
