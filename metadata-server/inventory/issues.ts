// The inventory boundary's error registry. Every problem found in an inventory carries one of
// these codes, a path to the field, and (once located in the YAML source) a file, line and column.
// docs/inventory.md lists the codes with an example each; keep the two in step.

export const ISSUE_CODES = {
  YAML_SYNTAX: "the file is not valid YAML",
  YAML_DUPLICATE_KEY: "a mapping has the same key twice",
  FILE_TOO_LARGE: "the file is larger than the configured limit",
  FILE_UNREADABLE: "the file cannot be read",
  REQUIRED: "a required field is missing",
  TYPE: "a field has the wrong type",
  UNKNOWN_FIELD: "a field the format does not have (usually a typo)",
  INVALID_VALUE: "a field's value is not allowed",
  DUPLICATE_NAME: "two objects of one kind share a name or id",
  DUPLICATE_MAC: "two vNICs have the same MAC address",
  DUPLICATE_IP: "two interfaces on one network have the same address",
  UNKNOWN_REFERENCE: "a name that refers to nothing (network, host, MAC pool, interface, template)",
  ADDRESS_OUTSIDE_SUBNET: "an address, gateway, route or range is not inside its subnet",
  ADDRESS_RESERVED: "an address is the network, broadcast or gateway address, or inside the dynamic range",
  FAMILY_MISMATCH: "an IPv4 value where IPv6 is needed, or the reverse",
  NO_SUBNET: "addressing asked for on a network without that address family",
  MTU_IMPOSSIBLE: "an MTU no packet can cross: below 68, below 1280 with IPv6, or above the path under it",
  POOL_EXHAUSTED: "no free MAC or address is left in the pool or range",
  BAD_TOPOLOGY: "an in-guest bond/VLAN or host link layout that cannot exist",
  TEMPLATE: "a user-data template uses a variable that is not given",
} as const;

export type IssueCode = keyof typeof ISSUE_CODES;

export type IssuePath = readonly (string | number)[];

export interface InventoryIssue {
  code: IssueCode;
  /** Field path inside the inventory, e.g. ["vms", 2, "nics", 0, "mac"]. */
  path: IssuePath;
  message: string;
  file?: string;
  line?: number;
  column?: number;
}

/** "vms[2].nics[0].mac" */
export function formatPath(path: IssuePath): string {
  let out = "";
  for (const part of path) out += typeof part === "number" ? `[${part}]` : out ? `.${part}` : part;
  return out || "(top level)";
}

/** "inventory.yaml:14:9: vms[2].nics[0].mac: DUPLICATE_MAC: ..." — the shape compilers use. */
export function formatIssue(issue: InventoryIssue): string {
  const where = issue.file ? `${issue.file}:${issue.line ?? 1}:${issue.column ?? 1}: ` : "";
  return `${where}${formatPath(issue.path)}: ${issue.message} [${issue.code}]`;
}
