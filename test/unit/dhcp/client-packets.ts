// Client-side DHCP messages for tests, built with the same encoder the server uses for replies
// (the golden-bytes test pins that encoder independently).
import {
  BOOTREQUEST, MessageType, Opt, chaddrFromMac, encodeDhcp, ipv4Bytes, u8, type EncodeOption,
} from "../../../metadata-server/dhcp/packet.ts";

export interface ClientMessage {
  type: number;
  mac: string;
  xid?: number;
  ciaddr?: string;
  giaddr?: string;
  hops?: number;
  flags?: number;
  requested?: string;
  serverId?: string;
  clientId?: Uint8Array;
  /** Parameter request list; absent by default to show every option is sent regardless. */
  prl?: number[];
  extra?: EncodeOption[];
}

export function clientPacket(m: ClientMessage): Uint8Array {
  const options: EncodeOption[] = [{ code: Opt.MESSAGE_TYPE, data: u8(m.type) }];
  if (m.clientId) options.push({ code: Opt.CLIENT_ID, data: m.clientId });
  if (m.requested) options.push({ code: Opt.REQUESTED_ADDRESS, data: ipv4Bytes([m.requested]) });
  if (m.serverId) options.push({ code: Opt.SERVER_ID, data: ipv4Bytes([m.serverId]) });
  if (m.prl) options.push({ code: Opt.PARAMETER_REQUEST_LIST, data: Uint8Array.from(m.prl) });
  if (m.extra) options.push(...m.extra);
  return encodeDhcp({
    op: BOOTREQUEST, xid: m.xid ?? 0x12345678, hops: m.hops ?? 0, flags: m.flags ?? 0,
    ciaddr: m.ciaddr, giaddr: m.giaddr, chaddr: chaddrFromMac(m.mac), options,
  });
}

export { MessageType };
