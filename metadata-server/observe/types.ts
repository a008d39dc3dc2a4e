// What was observed, as opposed to what the inventory says: a guest's own view of its
// interfaces, and a host's links. Sources (our agent over WebSocket, any qemu-ga through the
// host-side poller, a saved report file, `ip -j -d link` on a host) all normalise into these.

export interface ObservedGuestInterface {
  name: string;
  /** Lowercase, colon separated; the key that matches a guest interface to a vNIC. */
  mac: string;
  mtu?: number;
  /** The IPv6 MTU when it differs from the link MTU (SLAAC applies the RA MTU only there). */
  ipv6Mtu?: number;
  operstate?: string;
  carrier?: boolean;
  addresses: string[];
}

/** cloud-init's verdict on this boot, from /run/cloud-init/result.json (written when it finishes). */
export interface ObservedCloudInit {
  /** False while cloud-init is still running (or never ran on this boot). */
  done: boolean;
  datasource?: string;
  errors: string[];
}

export interface ObservedGuest {
  vmId: string;
  /** Where the report came from: "agent", "qga", "dhcp-lease", "file:PATH", ... */
  source: string;
  /** ISO 8601 time of the report. */
  at: string;
  interfaces: ObservedGuestInterface[];
  cloudInit?: ObservedCloudInit;
}
