// The seed formats and the documents each contains. A new format is one renderer file plus one
// entry here; the CLI, the seed/ISO writer and the golden tests all iterate this table.
import type { ResolvedVm } from "../model/types.ts";
import { OPENSTACK_DATED_VERSION, renderMetaDataJson, renderNetworkDataJson, renderVendorDataJson } from "./configdrive.ts";
import type { RenderContext } from "./context.ts";
import { renderEc2MetaData } from "./ec2.ts";
import { renderNetworkConfigV1 } from "./network-config-v1.ts";
import { renderNetworkConfigV2 } from "./network-config-v2.ts";
import { renderNoCloudMetaData, renderUserData, renderVendorData } from "./nocloud.ts";

export interface SeedDocument {
  /** Path inside the seed (directory or ISO image). */
  path: string;
  render(vm: ResolvedVm, ctx: RenderContext): string;
}

export interface SeedFormat {
  name: SeedFormatName;
  /** Volume label cloud-init's ds-identify looks for (blkid LABEL). */
  volumeId: string;
  documents: readonly SeedDocument[];
}

export type SeedFormatName = "nocloud" | "configdrive";

const openstackDocuments = (version: string): SeedDocument[] => [
  { path: `openstack/${version}/meta_data.json`, render: (vm) => renderMetaDataJson(vm) },
  { path: `openstack/${version}/network_data.json`, render: (vm, ctx) => renderNetworkDataJson(vm, ctx.site) },
  { path: `openstack/${version}/user_data`, render: (vm) => renderUserData(vm) },
  { path: `openstack/${version}/vendor_data.json`, render: (vm, ctx) => renderVendorDataJson(vm, ctx) },
];

export const SEED_FORMATS: Readonly<Record<SeedFormatName, SeedFormat>> = {
  nocloud: {
    name: "nocloud",
    volumeId: "cidata",
    documents: [
      { path: "meta-data", render: (vm) => renderNoCloudMetaData(vm) },
      { path: "user-data", render: (vm) => renderUserData(vm) },
      { path: "vendor-data", render: (vm, ctx) => renderVendorData(vm, ctx) },
      {
        path: "network-config",
        render: (vm, ctx) => (ctx.networkConfigVersion === 2 ? renderNetworkConfigV2(vm) : renderNetworkConfigV1(vm)),
      },
    ],
  },
  configdrive: {
    name: "configdrive",
    volumeId: "config-2",
    // cloud-init reads the newest dated version it knows before `latest`; both hold the same bytes.
    // Nova also writes the EC2 tree as JSON; cloud-init exposes it as ec2-metadata.
    documents: [
      ...openstackDocuments("latest"), ...openstackDocuments(OPENSTACK_DATED_VERSION),
      { path: "ec2/latest/meta-data.json", render: (vm) => JSON.stringify(renderEc2MetaData(vm), null, 2) + "\n" },
    ],
  },
};

export function isSeedFormatName(name: string): name is SeedFormatName {
  return Object.prototype.hasOwnProperty.call(SEED_FORMATS, name);
}
