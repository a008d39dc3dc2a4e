// The server behind a real nginx on loopback, as a site puts it in front of guests: nginx is the
// trusted proxy and names the guest in X-Forwarded-For. Everything arriving through it is guest
// traffic, so a guest gets its own metadata and EC2's version list at "/", and 403 on every
// operator route and on the event stream, whatever it writes into the forwarding headers.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requirePeer, tempDir } from "../../helpers/peers.ts";
import { freePort, waitFor } from "../../helpers/processes.ts";
import { FIXTURE, openEvents, request, ServerProcess, VM_A, VM_B } from "./server-process.ts";

/** nginx's upstream source address (proxy_bind): the one trusted proxy. */
const PROXY = "127.0.0.7";
const SECRET_A = "secret-of-vm-a";

const work = tempDir("http-nginx");
let server: ServerProcess;
let nginx: ChildProcess | undefined;
let nginxPort = 0;

function nginxConfig(dir: string, listenPort: number, upstreamPort: number): string {
  const user = process.getuid?.() === 0 ? "user root;\n" : "";
  return `${user}worker_processes 1;
error_log ${dir}/error.log info;
pid ${dir}/nginx.pid;
events { worker_connections 128; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  map $http_upgrade $connection_upgrade { default upgrade; "" close; }
  server {
    listen 127.0.0.1:${listenPort};
    location / {
      proxy_pass http://127.0.0.1:${upstreamPort};
      proxy_bind ${PROXY};
      proxy_http_version 1.1;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
    }
  }
}
`;
}

beforeAll(async () => {
  const binary = requirePeer("nginx"); // missing nginx is a failure, never a skip
  server = await ServerProcess.start(["--inventory", FIXTURE, "--state-dir", join(work.path, "state"), "--trusted-proxy", PROXY]);
  const dir = join(work.path, "nginx");
  mkdirSync(dir);
  nginxPort = await freePort();
  const conf = join(dir, "nginx.conf");
  writeFileSync(conf, nginxConfig(dir, nginxPort, server.port));
  nginx = spawn(binary, ["-c", conf, "-p", dir, "-g", "daemon off;"], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  nginx.stderr!.on("data", (d) => (stderr += d));
  await waitFor(`nginx on 127.0.0.1:${nginxPort}`, () => new Promise<true | undefined>((resolve) => {
    if (nginx!.exitCode !== null) throw new Error(`nginx exited with ${nginx!.exitCode}: ${stderr}`);
    const s = connect({ host: "127.0.0.1", port: nginxPort }, () => { s.destroy(); resolve(true); });
    s.on("error", () => resolve(undefined));
  }), 10_000);
});

afterAll(async () => {
  try {
    if (nginx?.pid !== undefined && nginx.exitCode === null && nginx.signalCode === null) {
      const exited = new Promise((r) => nginx!.once("exit", r));
      process.kill(nginx.pid, "SIGTERM"); // fast shutdown; the master takes its worker with it
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
      if (nginx.exitCode === null && nginx.signalCode === null) process.kill(nginx.pid, "SIGKILL");
    }
  } finally {
    expect(await server?.stop()).toBe(0);
    work.remove();
  }
});

const viaNginx = (path: string, from: string, headers: Record<string, string> = {}) => request(nginxPort, path, { from, headers });

const OPERATOR_PATHS = ["/v1/vms", `/v1/vms/${VM_B.name}`, `/v1/vms/${VM_B.name}/guest`, "/v1/networks", "/v1/guests", "/v1/mtu", "/v1/console/state", "/metrics", "/healthz", "/console.js"];

describe("a guest behind a trusted nginx", () => {
  it("gets its own metadata, named by nginx's X-Forwarded-For", async () => {
    const id = await viaNginx("/latest/meta-data/instance-id", VM_A.address);
    expect(id.status).toBe(200);
    expect(id.text).toBe(VM_A.id);
    const ud = await viaNginx("/openstack/latest/user_data", VM_A.address);
    expect(ud.text).toContain(SECRET_A);
    // Proof that the request really went through nginx, from the proxy's address.
    expect(readFileSync(join(work.path, "nginx", "access.log"), "utf8")).toContain(`${VM_A.address} - - `);
  });

  it("gets EC2's version list at /, not the console", async () => {
    const root = await viaNginx("/", VM_A.address);
    expect(root.status).toBe(200);
    expect(root.text).toMatch(/^1\.0\n/);
    expect(root.text).toMatch(/\nlatest$/);
    expect(root.text).not.toMatch(/<html|guestlink console/i);
  });

  it("gets 403 on every operator route, even when it claims to be the operator", async () => {
    const claims: Record<string, string>[] = [{}, { "x-forwarded-for": "127.0.0.1" }, { host: "localhost" }];
    for (const headers of claims) {
      for (const path of OPERATOR_PATHS) {
        const res = await viaNginx(path, VM_A.address, headers);
        expect(res.status, `${path} ${JSON.stringify(headers)}`).toBe(403);
        expect(res.text).not.toContain(VM_B.id);
        expect(res.text).not.toContain("ssh-ed25519");
      }
    }
    const denied = await server.waitFor((l) => l.event === "http.denied" && l.why === "trusted-proxy-peer");
    expect(denied.peer).toBe(PROXY);
  });

  it("gets no event stream", async () => {
    const a = await openEvents(server.port, { from: VM_A.address, via: nginxPort });
    expect(a.status).toBe(403);
    a.ws?.terminate();
  });
});
