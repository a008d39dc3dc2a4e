// Agent <-> metadata-server messages over the WebSocket at /v1/agent. One JSON object per text
// frame. The connection is authenticated at upgrade time (Authorization: Bearer <credential>,
// X-Guestlink-VM: <vm id>) and bound to that VM for its whole life.
//
// agent -> server: hello (once), report (a full one first, then only changes), heartbeat,
//                  qga-response (the answer to a qga-request, byte-for-byte what virtio-serial gives)
// server -> agent: welcome, ack, qga-request, error (a bad message is answered, the connection stays)
import { z } from "zod";

export { AGENT_VM_HEADER, AGENT_WS_PATH } from "./ws-constants.ts";

const vmId = z.string().regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/);

export const ReportedInterface = z.strictObject({
  name: z.string().min(1).max(64),
  mac: z.string().regex(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/),
  operstate: z.string().max(32),
  carrier: z.boolean().optional(),
  mtu: z.int().min(0).max(1 << 20),
  ipv6Mtu: z.int().min(0).max(1 << 20).optional(),
  /** "address/prefix" */
  addresses: z.array(z.string().max(64)).max(256),
});
export type ReportedInterface = z.infer<typeof ReportedInterface>;

export const HelloMessage = z.strictObject({
  type: z.literal("hello"),
  vmId,
  agent: z.strictObject({ name: z.string().max(64), version: z.string().max(64) }),
});

export const ReportMessage = z.strictObject({
  type: z.literal("report"),
  /** Increases by one per report on a connection; acknowledged by the server. */
  seq: z.int().min(0),
  /** A full report replaces everything known; otherwise `interfaces` are upserts and `removed` are gone. */
  full: z.boolean(),
  at: z.string().max(64),
  interfaces: z.array(ReportedInterface).max(1024),
  removed: z.array(z.string().min(1).max(64)).max(1024).optional(),
});

export const HeartbeatMessage = z.strictObject({ type: z.literal("heartbeat"), at: z.string().max(64) });

export const QgaResponseMessage = z.strictObject({
  type: z.literal("qga-response"),
  id: z.string().max(64),
  /** The agent's answer as a JSON value: {"return": ...} or {"error": {"class", "desc"}}. */
  response: z.unknown(),
});

export const AgentToServer = z.discriminatedUnion("type", [HelloMessage, ReportMessage, HeartbeatMessage, QgaResponseMessage]);
export type AgentToServer = z.infer<typeof AgentToServer>;

export const WelcomeMessage = z.strictObject({
  type: z.literal("welcome"),
  vmId,
  heartbeatSeconds: z.int().min(1).max(3600),
});
export const AckMessage = z.strictObject({ type: z.literal("ack"), seq: z.int().min(0) });
export const QgaRequestMessage = z.strictObject({
  type: z.literal("qga-request"),
  id: z.string().max(64),
  request: z.looseObject({ execute: z.string().max(128), arguments: z.record(z.string(), z.unknown()).optional() }),
});
export const ErrorMessage = z.strictObject({
  type: z.literal("error"),
  /**
   * LIMIT_EXCEEDED: the report would take the VM past a named limit (interfaces, addresses, record
   * size) and was not applied; UNAVAILABLE: the server could not store it (no ack follows).
   */
  code: z.enum(["BAD_MESSAGE", "WRONG_VM", "RATE_LIMITED", "TOO_LARGE", "NOT_HELLO", "LIMIT_EXCEEDED", "UNAVAILABLE"]),
  message: z.string().max(1024),
});

export const ServerToAgent = z.discriminatedUnion("type", [WelcomeMessage, AckMessage, QgaRequestMessage, ErrorMessage]);
export type ServerToAgent = z.infer<typeof ServerToAgent>;

