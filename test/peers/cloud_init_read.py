#!/usr/bin/python3
"""Reads a cloud-init seed with cloud-init's own code and prints what cloud-init made of it, as JSON.

Usage: cloud_init_read.py SEED_DIR [--mac NAME,MAC]...

SEED_DIR is a NoCloud seed (meta-data, user-data, ...) or a ConfigDrive tree (openstack/...).
It runs the installed cloud-init's datasource reader (DataSourceNoCloud / read_config_drive),
its network-config parser (NetworkState, skip_broken=False so a bad item is an error instead of a
silent skip), its user-data schema validator, and the eni, netplan, networkd and sysconfig
renderers, then reports per interface the addresses and the MTU each renderer wrote.
Never touches the host: DMI, the kernel command line, NIC lookups and block devices are stubbed.
Exit 0 when it could read the seed (errors are reported in the JSON), 2 on a usage error.
"""
import glob
import json
import os
import re
import sys
import tempfile

import yaml

if len(sys.argv) < 2:
    print(__doc__, file=sys.stderr)
    sys.exit(2)
seed = os.path.abspath(sys.argv[1])
macs = {}
args = sys.argv[2:]
while args:
    if args[0] == "--mac" and len(args) > 1:
        name, mac = args[1].split(",", 1)
        macs[mac.lower()] = name
        args = args[2:]
    else:
        print("unknown argument %r" % args[0], file=sys.stderr)
        sys.exit(2)

result = {"errors": [], "warnings": [], "interfaces": [], "rendered": {}}


from cloud_init_log import collect_into  # noqa: E402 (this directory is on sys.path)

collect_into(result)

from cloudinit import distros, helpers, net, safeyaml, sources, util  # noqa: E402
from cloudinit.config import schema as ccschema  # noqa: E402
from cloudinit.net import eni, netplan, network_state, networkd, sysconfig  # noqa: E402
from cloudinit.sources import DataSourceConfigDrive, DataSourceNoCloud  # noqa: E402
from cloudinit.sources.helpers import openstack  # noqa: E402

util.get_cmdline = lambda: ""
DataSourceNoCloud.dmi.read_dmi_data = lambda *a, **k: None
network_state.get_interfaces_by_mac = lambda *a, **k: {}
net.get_interfaces_by_mac = lambda *a, **k: dict(macs)
net.get_ib_hwaddrs_by_interface = lambda *a, **k: {}
util.find_devs_with = lambda *a, **k: []

work = tempfile.mkdtemp(prefix="ci-read-")
paths = helpers.Paths({"cloud_dir": os.path.join(work, "cloud"), "run_dir": os.path.join(work, "run")})
os.makedirs(os.path.join(work, "cloud", "seed"), exist_ok=True)
distro = distros.fetch("debian")("debian", {}, paths)


def check_cloud_config(raw, what):
    if raw is None:
        return {"kind": "none"}
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    if not raw.startswith("#cloud-config"):
        return {"kind": "other", "first_line": raw.splitlines()[0] if raw else ""}
    try:
        cfg = safeyaml.load(raw)
    except Exception as e:  # noqa: BLE001 - any parse failure is a finding
        result["errors"].append("%s: invalid YAML: %s" % (what, e))
        return {"kind": "cloud-config", "valid": False}
    if cfg is None:
        cfg = {}
    if not isinstance(cfg, dict):
        result["errors"].append("%s: cloud-config root is not a mapping" % what)
        return {"kind": "cloud-config", "valid": False}
    validator_cls, format_checker = ccschema.get_jsonschema_validator()
    validator = validator_cls(ccschema.get_schema(), format_checker=format_checker)
    problems = []
    for e in validator.iter_errors(cfg):
        if isinstance(e, ccschema.SchemaDeprecationError):
            continue
        problems.append("%s: %s" % (".".join(str(p) for p in e.path) or "<root>", e.message[:200]))
    for p in problems:
        result["errors"].append("%s schema: %s" % (what, p))
    return {"kind": "cloud-config", "valid": not problems, "keys": sorted(cfg)}


def describe_state(ns):
    for iface in ns.iter_interfaces():
        subnets = []
        for s in iface.get("subnets") or []:
            entry = {"type": s.get("type")}
            for k in ("address", "prefix", "gateway", "netmask"):
                if s.get(k) is not None:
                    entry[k] = s[k]
            if s.get("routes"):
                entry["routes"] = [
                    {"network": r.get("network"), "prefix": r.get("prefix"), "gateway": r.get("gateway")}
                    for r in s["routes"]]
            if s.get("dns_nameservers"):
                entry["dns"] = list(s["dns_nameservers"])
            subnets.append(entry)
        result["interfaces"].append({
            "name": iface["name"],
            "type": iface.get("type"),
            "mac": (iface.get("mac_address") or "").lower() or None,
            "mtu": iface.get("mtu"),
            "subnets": subnets,
            "bond_master": iface.get("bond-master"),
            "vlan_id": iface.get("vlan_id"),
            "vlan_link": iface.get("vlan-raw-device"),
        })


def render_all(ns):
    """Runs each renderer and reads back the MTU it wrote per interface (None = not written)."""
    out = {}
    target = os.path.join(work, "render-networkd")
    networkd.Renderer({}).render_network_state(ns, target=target)
    mtus = {}
    for f in glob.glob(os.path.join(target, "etc/systemd/network/*.network")):
        text = open(f).read()
        name = re.search(r"^Name=(\S+)", text, re.M)
        mtu = re.search(r"^MTUBytes=(\d+)", text, re.M)
        if name:
            mtus[name.group(1)] = int(mtu.group(1)) if mtu else None
    out["networkd"] = mtus

    target = os.path.join(work, "render-netplan")
    netplan.Renderer({"netplan_path": "etc/netplan/50-cloud-init.yaml", "postcmds": False}).render_network_state(
        ns, target=target)
    doc = yaml.safe_load(open(os.path.join(target, "etc/netplan/50-cloud-init.yaml"))) or {}
    mtus = {}
    for section in ("ethernets", "bonds", "vlans", "bridges"):
        for name, conf in ((doc.get("network") or {}).get(section) or {}).items():
            mtus[name] = int(conf["mtu"]) if conf.get("mtu") is not None else None
    out["netplan"] = mtus

    target = os.path.join(work, "render-eni")
    eni.Renderer({"eni_path": "etc/network/interfaces", "netrules_path": None}).render_network_state(
        ns, target=target)
    mtus = {}
    current = None
    for line in open(os.path.join(target, "etc/network/interfaces")):
        m = re.match(r"\s*iface\s+(\S+)\s+inet6?\s+(\S+)", line)
        if m:
            current = m.group(1).split(":")[0]
            mtus.setdefault(current, None)
            continue
        m = re.match(r"\s+mtu\s+(\d+)", line)
        if m and current is not None and mtus.get(current) is None:
            mtus[current] = int(m.group(1))
    mtus.pop("lo", None)
    out["eni"] = mtus

    target = os.path.join(work, "render-sysconfig")
    # sysconfig is a RHEL-family renderer; take its settings from that distro, as net-convert does.
    rhel = distros.fetch("rhel")("rhel", {}, paths)
    sysconfig.Renderer(rhel.renderer_configs.get("sysconfig")).render_network_state(ns, target=target)
    mtus = {}
    for f in glob.glob(os.path.join(target, "etc/sysconfig/network-scripts/ifcfg-*")):
        text = open(f).read()
        mtu = re.search(r"^MTU=(\d+)", text, re.M)
        mtus[os.path.basename(f)[len("ifcfg-"):]] = int(mtu.group(1)) if mtu else None
    out["sysconfig"] = mtus
    result["rendered"] = out


def read_nocloud():
    result["datasource"] = "nocloud"
    for f in ("meta-data", "user-data"):
        if not os.path.exists(os.path.join(seed, f)):
            result["errors"].append("required file %s is missing" % f)
    # util.load_yaml swallows YAML errors; parse strictly first so a broken file is an error.
    for f in ("meta-data", "network-config"):
        p = os.path.join(seed, f)
        if os.path.exists(p):
            try:
                safeyaml.load(open(p, "rb").read())
            except Exception as e:  # noqa: BLE001
                result["errors"].append("%s is not valid YAML: %s" % (f, str(e).splitlines()[0]))
    if result["errors"]:
        return None
    os.symlink(seed, os.path.join(work, "cloud", "seed", "nocloud"))
    ds = DataSourceNoCloud.DataSourceNoCloud(
        {"datasource_list": ["NoCloud"], "datasource": {"NoCloud": {"fs_label": None}}}, distro, paths)
    if not ds._get_data():
        result["errors"].append("DataSourceNoCloud did not accept the seed")
        return None
    md = ds.metadata or {}
    result["instance_id"] = md.get("instance-id")
    result["hostname"] = md.get("local-hostname")
    result["public_keys"] = sources.normalize_pubkey_data(md.get("public-keys"))
    result["userdata"] = check_cloud_config(ds.userdata_raw, "user-data")
    result["vendordata"] = check_cloud_config(ds.vendordata_raw, "vendor-data")
    if ds.network_config is None:
        result["errors"].append("no network config")
    return ds.network_config


def read_configdrive():
    result["datasource"] = "configdrive"
    try:
        res = DataSourceConfigDrive.read_config_drive(seed)
    except Exception as e:  # noqa: BLE001 - NonReadable, BrokenMetadata, ...
        result["errors"].append("read_config_drive: %s: %s" % (type(e).__name__, e))
        return None
    md = res.get("metadata", {})
    result["version"] = res.get("version")
    result["instance_id"] = md.get("uuid")
    result["hostname"] = md.get("hostname")
    result["public_keys"] = sources.normalize_pubkey_data(md.get("public_keys"))
    result["userdata"] = check_cloud_config(res.get("userdata"), "user_data")
    ec2 = res.get("ec2-metadata") or {}
    result["ec2_instance_id"] = ec2.get("instance-id")
    if "vendordata" in res:
        try:
            result["vendordata"] = check_cloud_config(sources.convert_vendordata(res["vendordata"]), "vendor_data")
        except ValueError as e:
            result["errors"].append("vendor_data.json: %s" % e)
    nd = res.get("networkdata")
    if nd is None:
        result["errors"].append("no network_data.json")
        return None
    known = dict(macs)
    if not known:
        for link in nd.get("links", []):
            if link.get("ethernet_mac_address") and link.get("type") not in ("bond", "vlan"):
                known[link["ethernet_mac_address"].lower()] = link.get("name") or "eth%d" % len(known)
    return openstack.convert_net_json(nd, known_macs=known)


config = read_configdrive() if os.path.isdir(os.path.join(seed, "openstack")) else read_nocloud()
if config is not None:
    try:
        ns = network_state.parse_net_config_data(config, skip_broken=False)
        describe_state(ns)
        render_all(ns)
    except Exception as e:  # noqa: BLE001 - a renderer or parser failure is the finding
        result["errors"].append("network config: %s: %s" % (type(e).__name__, e))
print(json.dumps(result, indent=1, default=str))
