#!/usr/bin/python3
"""Fetches a guest's data from an HTTP metadata service with cloud-init's own datasource code and
prints what cloud-init got, as JSON.

Usage:
  cloud_init_fetch.py nocloud SEED_STRING            DataSourceNoCloudNet, seed string as the SMBIOS serial
  cloud_init_fetch.py openstack BASE_URL SOURCE_IP   DataSourceOpenStack with metadata_urls [BASE_URL]
  cloud_init_fetch.py ec2 BASE_URL SOURCE_IP         DataSourceEc2 (unknown platform, strict_id false: IMDSv1)
  cloud_init_fetch.py ec2-imdsv2 BASE_URL SOURCE_IP  DataSourceEc2 on the AWS code path: PUT /latest/api/token
                                                     first, then the token header on every GET

Only what would touch the host is stubbed: DMI reads (the platform checks), the kernel command line.
The HTTP exchange is cloud-init's own (url_helper -> requests -> urllib3); every connection is bound
to SOURCE_IP, so the server sees the request coming from that guest address. On the AWS path the
instance identity document (an AWS-only extra) is not fetched.
Bytes (user-data, vendor-data) are printed base64-encoded so the caller can compare them exactly.
Exit 0 when the datasource accepted the data, 1 when it did not, 2 on a usage error.
"""
import base64
import json
import os
import sys
import tempfile

if len(sys.argv) < 3 or sys.argv[1] not in ("nocloud", "openstack", "ec2", "ec2-imdsv2"):
    print(__doc__, file=sys.stderr)
    sys.exit(2)
mode = sys.argv[1]
source_ip = sys.argv[3] if len(sys.argv) > 3 else None

result = {"mode": mode, "errors": [], "warnings": []}


from cloud_init_log import collect_into  # noqa: E402 (this directory is on sys.path)

collect_into(result)

import urllib3.connection  # noqa: E402

if source_ip:
    # Bind every connection cloud-init opens to the guest's address, as if it ran in that guest.
    original_init = urllib3.connection.HTTPConnection.__init__

    def bound_init(self, *args, **kwargs):
        kwargs["source_address"] = (source_ip, 0)
        original_init(self, *args, **kwargs)

    urllib3.connection.HTTPConnection.__init__ = bound_init

from cloudinit import distros, helpers, util  # noqa: E402
from cloudinit.sources import DataSourceEc2, DataSourceNoCloud, DataSourceOpenStack  # noqa: E402

util.get_cmdline = lambda: ""
work = tempfile.mkdtemp(prefix="ci-fetch-")
paths = helpers.Paths({"cloud_dir": os.path.join(work, "cloud"), "run_dir": os.path.join(work, "run")})
distro = distros.fetch("debian")("debian", {}, paths)


def raw(value):
    if value is None:
        return None
    if isinstance(value, str):
        value = value.encode("utf-8")
    return base64.b64encode(value).decode("ascii")


def fetch_nocloud(seed):
    # The seed string reaches cloud-init as the SMBIOS system serial (what seed-url is for).
    DataSourceNoCloud.dmi.read_dmi_data = lambda key: seed if key == "system-serial-number" else None
    ds = DataSourceNoCloud.DataSourceNoCloudNet(
        {"datasource_list": ["NoCloudNet"], "datasource": {"NoCloud": {"fs_label": None}}}, distro, paths)
    ds.seed_dirs = []
    ok = ds._get_data()
    result["metadata"] = ds.metadata
    result["userdata"] = raw(ds.userdata_raw)
    result["vendordata"] = raw(ds.vendordata_raw)
    return ok


def url_settings(url):
    return {"metadata_urls": [url], "max_wait": 10, "timeout": 5, "retries": 1}


def fetch_openstack(url):
    DataSourceOpenStack.detect_openstack = lambda accept_oracle=False: True
    ds = DataSourceOpenStack.DataSourceOpenStack(
        {"datasource_list": ["OpenStack"], "datasource": {"OpenStack": url_settings(url)}}, distro, paths)
    ok = ds._get_data()
    if ok:
        result["metadata"] = ds.metadata
        result["version"] = ds.version
        result["userdata"] = raw(ds.userdata_raw)
        result["vendordata"] = raw(ds.vendordata_raw)
        result["networkdata"] = ds.network_json
        result["ec2_metadata"] = ds.ec2_metadata
    return ok


def fetch_ec2(url, aws):
    platform = DataSourceEc2.CloudNames.AWS if aws else DataSourceEc2.CloudNames.UNKNOWN
    DataSourceEc2.identify_platform = lambda: platform
    tokens = []
    if aws:
        # The identity document is AWS's own signed blob, not part of the metadata tree we serve.
        DataSourceEc2.ec2.get_instance_identity = lambda *a, **k: {}
        original_refresh = DataSourceEc2.DataSourceEc2._refresh_api_token

        def counting_refresh(self, *a, **k):
            token = original_refresh(self, *a, **k)
            tokens.append(bool(token))
            return token

        DataSourceEc2.DataSourceEc2._refresh_api_token = counting_refresh
    ds = DataSourceEc2.DataSourceEc2(
        {"datasource_list": ["Ec2"], "datasource": {"Ec2": dict(url_settings(url), strict_id="false")}}, distro, paths)
    ok = ds._get_data()
    result["metadata"] = ds.metadata
    result["userdata"] = raw(ds.userdata_raw)
    result["api_version"] = (ds._crawled_metadata or {}).get("_metadata_api_version")
    result["api_token"] = bool(getattr(ds, "_api_token", None))
    return ok


if mode == "nocloud":
    accepted = fetch_nocloud(sys.argv[2])
elif mode == "openstack":
    accepted = fetch_openstack(sys.argv[2])
else:
    accepted = fetch_ec2(sys.argv[2], aws=(mode == "ec2-imdsv2"))
result["accepted"] = bool(accepted)
print(json.dumps(result, indent=1, default=str))
sys.exit(0 if accepted else 1)
