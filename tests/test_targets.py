"""The instance catalog, its checks, and matching hosts (real recorded CPUs) to its rows."""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

from harness.errors import UserError
from harness.host.environment import capture
from harness.host.profiles import llvm_cpu_known
from harness.pricing.catalog import listing, load_catalog, parse_catalog
from harness.pricing.matching import match_host

HOSTS = Path(__file__).parent / "data" / "hosts"
GIB = 2**30
# DMI strings per cloud, as domain.md section 6 records them.
AWS_DMI = {"sys_vendor": "Amazon EC2", "board_vendor": "Amazon EC2", "bios_vendor": "Amazon EC2"}
GCP_DMI = {"sys_vendor": "Google", "product_name": "Google Compute Engine", "bios_vendor": "Google"}
AZURE_DMI = {
    "sys_vendor": "Microsoft Corporation",
    "product_name": "Virtual Machine",
    "chassis_asset_tag": "7783-7084-3265-9085-8269-3286-77",
}
# GCP's brand strings (domain.md section 6): the parts a recorded sample does not cover.
EMR_8581C = (
    "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 207\n"
    "model name\t: Intel(R) Xeon(R) Platinum 8581C CPU @ 2.10GHz\n"
)
TURIN_9B45 = (
    "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 26\nmodel\t\t: 2\n"
    "model name\t: AMD EPYC 9B45\n"
)


def host_env(
    tmp_path: Path,
    cpuinfo: str,
    dmi: dict[str, str],
    vcpus: int,
    memory_gib: float,
    threads_per_core: int = 1,
    instance_type: str | None = None,
) -> dict[str, Any]:
    """A capture() of a host: real recorded cpuinfo (a sample name) or text, DMI files, and the
    shape given (MemTotal at 97.5% of the shape's memory, as a VM's kernel reports it)."""
    sample = HOSTS / cpuinfo / "cpuinfo.txt"
    if not sample.exists():
        sample = tmp_path / "cpuinfo.txt"
        sample.write_text(cpuinfo, encoding="utf-8")
    dmi_root = tmp_path / "dmi"
    dmi_root.mkdir(exist_ok=True)
    for name, value in dmi.items():
        (dmi_root / name).write_text(value + "\n", encoding="utf-8")
    env = capture(instance_type, probe_threading=False, cpuinfo=sample, dmi_root=dmi_root,
                  environ={})  # not a CI runner, whatever runs the tests  # fmt: skip
    arch = "x86_64" if "vendor_id" in sample.read_text(encoding="utf-8") else "aarch64"
    topology = {"vcpus": vcpus, "usable_cpus": vcpus, "threads_per_core": threads_per_core,
                "physical_cores": vcpus // threads_per_core, "sockets": 1}  # fmt: skip
    return env | {"arch": arch, "topology": topology, "memory_bytes": int(memory_gib * 0.975 * GIB)}


@pytest.fixture(scope="module")
def catalog() -> dict[str, Any]:
    return load_catalog()


# ------------------------------------------------------------------------------- the catalog


def test_packaged_catalog_loads_with_every_cloud_and_more_than_30_rows(catalog):
    """The shipped catalog passes every check and covers AWS, Google Cloud, Azure and GitHub's
    hosted runners."""
    clouds = {t.cloud for t in catalog.values()}
    assert len(catalog) >= 30 and clouds == {"aws", "gcp", "azure", "github"}
    assert {t.arch for t in catalog.values()} == {"aarch64", "x86_64"}


def test_every_row_carries_its_clouds_region_date_and_source(catalog):
    """Each price says where, when and from which generated price file it comes."""
    expected = {
        "aws": ("us-east-1", "2026-07-20", "karpenter-provider-aws"),
        "gcp": ("us-central1", "2026-07-30", "Cyclenerd/google-cloud-pricing-cost-calculator"),
        "azure": ("eastus", "2026-06-18", "karpenter-provider-azure"),
        "github": ("github-hosted", "2026-01-01", "actions-runner-pricing.md"),
    }
    for t in catalog.values():
        region, date, source = expected[t.cloud]
        assert (t.region, t.price_date, t.price_kind) == (region, date, "on-demand")
        assert source in t.price_source


@pytest.mark.parametrize(
    ("name", "price", "vcpus", "cores"),
    [("c8g.48xlarge", 7.657, 192, 192), ("c7i.4xlarge", 0.714, 16, 8),
     ("c6i.32xlarge", 5.44, 128, 64), ("c4a-standard-16", 0.7184, 16, 16),
     ("c4-standard-16", 0.7907, 16, 8), ("Standard_D16ps_v6", 0.562, 16, 16),
     ("Standard_E16ps_v6", 0.738, 16, 16), ("m7a.16xlarge", 3.7094, 64, 64)],
)  # fmt: skip
def test_listed_prices_and_shapes_are_those_of_domain_md(catalog, name, price, vcpus, cores):
    """Spot checks against domain.md section 3, typed in by hand."""
    t = catalog[name]
    assert (t.price_per_hour, t.vcpus, t.cores) == (price, vcpus, cores)


def test_derived_prices_are_the_per_vcpu_rate_times_vcpus_and_say_so(catalog):
    """A size domain.md does not price is the family's $/vCPU-h x vCPUs, with a note."""
    derived = [t for t in catalog.values() if "derived from $" in t.note]
    assert {t.type for t in derived} >= {"c8a.large", "c7g.large", "c6i.large"}
    for t in derived:
        rate = float(re.search(r"derived from \$([0-9.]+)/vCPU-h", t.note)[1])  # type: ignore[index]
        assert t.price_per_hour == pytest.approx(rate * t.vcpus, abs=1e-9)
    assert catalog["c8a.large"].price_per_hour == pytest.approx(0.10778)


def test_facts_domain_md_marks_unverified_carry_a_note(catalog):
    """Azure's Intel and AMD v6 CPUs are marked unverified in domain.md, and say so."""
    for name in ("Standard_D16s_v6", "Standard_D16as_v6"):
        assert "unverified" in catalog[name].note


def test_smt_matches_the_chip(catalog):
    """One vCPU per core on Arm and AMD c7a/c8a/m7a/m8a; two on other x86 (domain.md 3)."""
    for t in catalog.values():
        single = t.arch == "aarch64" or t.type.startswith(("c7a.", "c8a.", "m7a.", "m8a."))
        assert t.threads_per_core == (1 if single else 2), t.type


def test_llvm_knows_every_packaged_rows_cpu_for_its_architecture():
    """The packaged catalog skips the LLVM check when loaded, so this test makes it instead."""
    resource = files("targets") / "catalog.toml"
    checked = parse_catalog(resource.read_text(encoding="utf-8"), str(resource), check_llvm=True)
    assert checked == load_catalog()


def test_llvm_knows_each_cores_name_only_for_its_own_architecture():
    """The probe tells a real CPU name from a made-up one and from another arch's name."""
    assert llvm_cpu_known("aarch64", "neoverse-v2") and llvm_cpu_known("x86_64", "znver5")
    assert llvm_cpu_known("aarch64", "generic") and llvm_cpu_known("x86_64", "emeraldrapids")
    assert not llvm_cpu_known("x86_64", "foobar")
    assert not llvm_cpu_known("aarch64", "znver5") and not llvm_cpu_known("x86_64", "neoverse-n2")
    assert not llvm_cpu_known("riscv64", "generic")


GOOD_ROW = """\
[[target]]
cloud = "aws"
type = "c8g.xlarge"
arch = "aarch64"
chip = "Graviton4"
family = "Graviton"
core = "Neoverse V2"
llvm_cpu = "neoverse-v2"
vcpus = 4
cores = 4
threads_per_core = 1
memory_gib = 8.0
price_per_hour = 0.1595
region = "us-east-1"
price_date = 2026-07-20
price_source = "test"
"""


def _with(key: str, value: str | None) -> str:
    """GOOD_ROW with one key's line replaced (or removed when ``value`` is None)."""
    line = re.compile(rf"^{key} = .*$", re.M)
    return line.sub("" if value is None else f"{key} = {value}", GOOD_ROW)


BAD_ROWS = [
    ("missing key", _with("price_per_hour", None), "price_per_hour", "missing"),
    ("text for a count", _with("vcpus", '"4"'), "vcpus", "integer"),
    ("boolean for a count", _with("cores", "true"), "cores", "integer"),
    ("counts disagree", _with("threads_per_core", "2"), "vcpus", "cores x threads_per_core"),
    ("zero price", _with("price_per_hour", "0"), "price_per_hour", "positive"),
    ("negative price", _with("price_per_hour", "-0.1"), "price_per_hour", "positive"),
    ("infinite price", _with("price_per_hour", "inf"), "price_per_hour", "positive"),
    ("unknown arch", _with("arch", '"arm64"'), "arch", "unknown value"),
    ("unknown cloud", _with("cloud", '"oracle"'), "cloud", "unknown value"),
    ("unknown llvm cpu", _with("llvm_cpu", '"foobar"'), "llvm_cpu", "LLVM does not know"),
    ("other arch's cpu", _with("llvm_cpu", '"znver5"'), "llvm_cpu", "LLVM does not know"),
    ("bad date", _with("price_date", '"2026-13-01"'), "price_date", "date"),
    ("empty text", _with("chip", '""'), "chip", "text"),
    ("unknown key", GOOD_ROW + 'prise = 1.0\n', "prise", "unknown key"),
    ("bad kind", GOOD_ROW + 'price_kind = "cheap"\n', "price_kind", "unknown value"),
    ("duplicate", GOOD_ROW + "\n" + GOOD_ROW, "type", "duplicate"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "key", "problem"), [b[1:] for b in BAD_ROWS],
                         ids=[b[0] for b in BAD_ROWS])  # fmt: skip
def test_a_bad_row_is_refused_naming_file_row_and_key(tmp_path, text, key, problem):
    """Each kind of bad row raises a UserError that names the file, the type and the key."""
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UserError) as err:
        load_catalog(path)
    message = str(err.value)
    assert str(path) in message and "'c8g.xlarge'" in message and f"key {key!r}" in message
    assert problem in message


def test_the_good_row_alone_loads(tmp_path):
    """The row the bad ones are made from is itself valid, so each failure is its one change."""
    path = tmp_path / "good.toml"
    path.write_text(GOOD_ROW, encoding="utf-8")
    assert load_catalog(path)["c8g.xlarge"].price_per_hour == 0.1595


@pytest.mark.parametrize(
    ("text", "expected"),
    [(_with("type", None), "row 1: key 'type': missing"), ("not = [toml", "not valid TOML"),
     ("title = 'x'\n", "unknown top-level key 'title'"), ("", "no [[target]] rows")],
)  # fmt: skip
def test_a_file_that_is_not_a_catalog_is_refused_naming_it(tmp_path, text, expected):
    """Rows without a type are named by position; broken or empty files by the file."""
    path = tmp_path / "cat.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UserError, match=re.escape(expected)) as err:
        load_catalog(path)
    assert str(path) in str(err.value)


def test_a_missing_catalog_file_is_a_user_error(tmp_path):
    """A wrong path is the user's mistake, reported with the path."""
    with pytest.raises(UserError, match="cannot read"):
        load_catalog(tmp_path / "nope.toml")


# ---------------------------------------------------------------------------------- listing


def test_listing_filters_by_arch_and_cloud_and_orders_by_cloud_then_size(catalog):
    """arm64 is aarch64; rows come AWS, Google Cloud, Azure, then GitHub, smaller sizes first."""
    arm = listing(catalog, arch="arm64")
    assert arm and all(t.arch == "aarch64" for t in arm)
    order = [t.cloud for t in listing(catalog)]
    assert order == sorted(order, key=["aws", "gcp", "azure", "github"].index)
    gcp_arm = listing(catalog, arch="aarch64", cloud="gcp")
    axion = [t.type for t in gcp_arm if t.type.startswith("c4a-standard")]
    assert axion == ["c4a-standard-4", "c4a-standard-16", "c4a-standard-72"]
    assert all(t.arch == "x86_64" for t in listing(catalog, arch="x86_64", cloud="azure"))


@pytest.mark.parametrize(("kwargs", "named"), [({"arch": "sparc"}, "sparc"),
                                               ({"cloud": "oracle"}, "oracle")])  # fmt: skip
def test_listing_with_an_unknown_filter_value_names_it(catalog, kwargs, named):
    """An unknown architecture or cloud is a UserError that names the value."""
    with pytest.raises(UserError, match=named):
        listing(catalog, **kwargs)


# --------------------------------------------------------------------------------- matching


def test_aws_host_is_its_dmi_product_name(tmp_path, catalog):
    """On AWS Nitro, DMI product_name is the instance type: a Graviton4 c8g.4xlarge."""
    env = host_env(tmp_path, "graviton4", AWS_DMI | {"product_name": "c8g.4xlarge"}, 16, 32)
    match = match_host(env, catalog)
    assert (match.target, match.how) == (catalog["c8g.4xlarge"], "dmi")
    assert "warning" not in match.reason and (match.vcpus, match.cores) == (16, 16)


def test_aws_type_missing_from_the_catalog_is_unpriced_not_an_error(tmp_path, catalog):
    """hpc6a.48xlarge (a real recorded DMI product name) is reported unpriced, with its name."""
    dmi = AWS_DMI | {"product_name": "hpc6a.48xlarge"}
    match = match_host(host_env(tmp_path, "amd-7r13-hpc6a.48xlarge", dmi, 96, 384), catalog)
    assert match.target is None and match.how == "unknown" and "hpc6a.48xlarge" in match.reason


def test_a_host_that_disagrees_with_its_type_is_matched_with_warnings(tmp_path, catalog):
    """A Graviton4 with 8 vCPUs told it is a c7i.4xlarge keeps the row, and says what is off."""
    env = host_env(tmp_path, "graviton4", AWS_DMI | {"product_name": "c7i.4xlarge"}, 8, 16)
    match = match_host(env, catalog)
    assert match.target == catalog["c7i.4xlarge"]
    assert "Graviton4" in match.reason and "8 vCPUs" in match.reason


@pytest.mark.parametrize(
    ("cpu", "vcpus", "gib", "expected"),
    [("google-axion", 16, 32, "c4a-highcpu-16"), (EMR_8581C, 16, 60, "c4-standard-16"),
     (EMR_8581C, 16, 64, "n4-standard-16"), (EMR_8581C, 4, 15, "c4-standard-4"),
     (TURIN_9B45, 16, 62, "c4d-standard-16"), (TURIN_9B45, 16, 30, "c4d-highcpu-16"),
     ("ampere-altra", 16, 64, "t2a-standard-16")],
)  # fmt: skip
def test_google_cloud_type_is_inferred_from_cpu_vcpus_and_memory(tmp_path, catalog, cpu, vcpus,
                                                                 gib, expected):  # fmt: skip
    """GCE's DMI names no type: Axion, C4 (8581C), C4D (9B45) and T2A follow from the CPU, the
    vCPU count and GiB per vCPU (C4's 3.75 against N4's 4 included)."""
    per_core = 1 if cpu in ("google-axion", "ampere-altra") else 2
    match = match_host(host_env(tmp_path, cpu, GCP_DMI, vcpus, gib, per_core), catalog)
    assert (match.how, match.target) == ("inferred", catalog[expected]), match.reason


def test_axion_standard_shapes_shared_by_c4a_and_n4a_stay_unpriced_with_both_named(
    tmp_path, catalog
):
    """C4A and N4A have the same CPU and 4 GiB per vCPU: the matcher says so, never picks."""
    match = match_host(host_env(tmp_path, "google-axion", GCP_DMI, 16, 64), catalog)
    assert match.target is None and match.candidates == ("c4a-standard-16", "n4a-standard-16")
    assert "c4a-standard-16 or n4a-standard-16" in match.reason


@pytest.mark.parametrize(
    ("cpu", "vcpus", "gib", "expected"),
    [("derived-cobalt-100", 16, 64, "Standard_D16ps_v6"),
     ("derived-cobalt-100", 16, 32, "Standard_D16pls_v6"),
     ("derived-cobalt-100", 16, 128, "Standard_E16ps_v6"),
     ("derived-cobalt-100", 4, 16, "Standard_D4ps_v6"),
     ("ampere-altra", 16, 64, "Standard_D16ps_v5")],
)  # fmt: skip
def test_azure_cobalt_series_follows_from_gib_per_vcpu(tmp_path, catalog, cpu, vcpus, gib,
                                                       expected):  # fmt: skip
    """Cobalt 100 (MIDR 0x6d/0xd49) at 4, 2 and 8 GiB per vCPU is Dpsv6, Dplsv6 and Epsv6;
    Ampere Altra is Dpsv5."""
    match = match_host(host_env(tmp_path, cpu, AZURE_DMI, vcpus, gib), catalog)
    assert (match.how, match.target) == ("inferred", catalog[expected]), match.reason


def test_an_inferred_size_without_a_price_is_unpriced_and_named(tmp_path, catalog):
    """An 8-vCPU Cobalt 100 is a Standard_D8ps_v6, which domain.md does not price."""
    match = match_host(host_env(tmp_path, "derived-cobalt-100", AZURE_DMI, 8, 32), catalog)
    assert match.target is None and match.candidates == ("Standard_D8ps_v6",)
    assert "does not price" in match.reason


@pytest.mark.parametrize(
    ("cpu", "dmi", "vcpus", "gib", "words"),
    [("graviton4", {}, 16, 32, "no cloud"), ("google-axion", GCP_DMI, 16, 512, "no catalog shape"),
     ("graviton4", AZURE_DMI, 16, 64, "no azure type")],
)  # fmt: skip
def test_a_host_that_fits_nothing_is_unpriced_with_a_plain_reason(tmp_path, catalog, cpu, dmi,
                                                                  vcpus, gib, words):  # fmt: skip
    """No cloud, a shape the catalog lacks, or a CPU the cloud does not sell: unpriced."""
    match = match_host(host_env(tmp_path, cpu, dmi, vcpus, gib), catalog)
    assert (match.target, match.how) == (None, "unknown") and words in match.reason


def test_a_named_instance_type_wins_over_dmi_and_inference(tmp_path, catalog):
    """--instance-type, as an argument or given to capture(), names the row."""
    env = host_env(tmp_path, "google-axion", GCP_DMI, 16, 64)
    assert match_host(env, catalog, "n4a-standard-16").target == catalog["n4a-standard-16"]
    told = host_env(tmp_path, "google-axion", GCP_DMI, 16, 64, instance_type="c4a-standard-16")
    match = match_host(told, catalog)
    assert (match.how, match.target) == ("override", catalog["c4a-standard-16"])


def test_naming_a_type_not_in_the_catalog_without_a_price_is_a_user_error(tmp_path, catalog):
    """A misspelt type must not silently run unpriced: the error names it."""
    env = host_env(tmp_path, "graviton4", AWS_DMI | {"product_name": "c8g.4xlarge"}, 16, 32)
    with pytest.raises(UserError, match=re.escape("'c8g.4xlarg'")):
        match_host(env, catalog, "c8g.4xlarg")


def test_a_given_price_prices_an_unknown_type_as_this_hosts_own_shape(tmp_path, catalog):
    """With a price, a type the catalog lacks is "custom": the host's vCPUs, cores, memory."""
    env = host_env(tmp_path, "intel-8488c-m7i.24xlarge", {}, 8, 32, threads_per_core=2)
    match = match_host(env, catalog, "my-box", price=0.5)
    assert match.how == "custom" and match.target is not None
    t = match.target
    assert (t.type, t.vcpus, t.cores, t.price_per_hour, t.price_kind) == (
        "my-box", 8, 4, 0.5, "custom")  # fmt: skip
    assert t.chip == "Xeon Platinum 8488C" and "--price" in t.price_source


def test_a_given_price_replaces_the_matched_rows_price(tmp_path, catalog):
    """A negotiated rate on a DMI-matched host keeps the row and how it was matched."""
    env = host_env(tmp_path, "graviton4", AWS_DMI | {"product_name": "c8g.4xlarge"}, 16, 32)
    match = match_host(env, catalog, price=0.4)
    assert match.how == "dmi" and match.target is not None
    assert (match.target.type, match.target.price_per_hour) == ("c8g.4xlarge", 0.4)
    assert match.target.price_kind == "custom" and match.target.region == "us-east-1"


@pytest.mark.parametrize("price", [0.0, -1.0, float("nan"), float("inf")])
def test_a_price_that_is_not_positive_and_finite_is_a_user_error(tmp_path, catalog, price):
    """A zero, negative or non-finite --price would make every cost figure meaningless."""
    env = host_env(tmp_path, "graviton4", {}, 16, 32)
    with pytest.raises(UserError, match="price"):
        match_host(env, catalog, price=price)
