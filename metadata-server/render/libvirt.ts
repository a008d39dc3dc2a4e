// libvirt <interface> elements for a VM's vNICs. The <mtu size> element becomes virtio-net's
// host_mtu, which the guest driver applies at probe time: the one way the MTU reaches a guest whose
// NIC is addressed by DHCP when no option 26 is served (Debian's ifupdown ignores `mtu` in a DHCP
// stanza). oVirt, Proxmox and KubeVirt all deliver the MTU this way.
import type { GuestInterface, ResolvedSite, ResolvedVm } from "../model/types.ts";

const escapeXml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/'/g, "&apos;").replace(/"/g, "&quot;");

/** The Open vSwitch integration bridge OVN binds logical ports on. */
export const OVN_INTEGRATION_BRIDGE = "br-int";

export function renderLibvirtInterfaces(vm: ResolvedVm, site: ResolvedSite): string {
  const host = site.hosts.find((h) => h.name === vm.host);
  const networks = new Map(site.networks.map((n) => [n.name, n]));
  const out: string[] = [`<!-- guestlink: vNICs of ${escapeXml(vm.name)} (${vm.id}), inventory revision ${site.revision} -->`];
  for (const iface of vm.interfaces.filter((i): i is GuestInterface => i.kind === "physical")) {
    const netName = iface.network ?? vm.interfaces.find((b) => b.name === iface.master)?.network;
    const net = netName ? networks.get(netName) : undefined;
    if (!net) continue;
    const mac = `    <mac address='${iface.mac}'/>`;
    const mtu = `    <mtu size='${iface.mtu.value}'/>`;
    if (net.type === "sriov") {
      // A VF is passed through: no virtio model, and libvirt has no <mtu> for hostdev. The VF's MTU
      // is set inside the guest (cloud-init/DHCP) and bounded by the PF's on the host.
      out.push(`<interface type='network'>`, mac, `    <source network='${escapeXml(net.name)}'/>`, `</interface>`);
      continue;
    }
    const ovn = net.type === "ovn" || net.type === "neutron-ovn";
    const bridge = ovn ? OVN_INTEGRATION_BRIDGE : (host?.networks[net.name] ?? net.name);
    out.push(`<interface type='bridge'>`, mac, `    <source bridge='${escapeXml(bridge)}'/>`);
    if (ovn) out.push(`    <virtualport type='openvswitch'/>`);
    else if (net.vlan !== undefined && !host?.networks[net.name]) out.push(`    <vlan><tag id='${net.vlan}'/></vlan>`);
    out.push(`    <model type='virtio'/>`, mtu, `</interface>`);
  }
  return out.join("\n") + "\n";
}
