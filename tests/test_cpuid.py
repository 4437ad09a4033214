"""CPU identification, checked against real /proc/cpuinfo and lscpu samples from cloud hosts."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import llvmlite.binding as ll
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.errors import UserError
from harness.host.chip_table import load_chip_table, parse_chip_table
from harness.host.cpuid import Chip, CpuFacts, identify, parse_cpuinfo, parse_lscpu
from hostdata import HOSTS, sample

Capture = pytest.CaptureFixture[str]

# (sample directory, file, cloud) -> (vendor, chip name, family, llvm cpu)
EXPECTED = {
    ("graviton2-m6g.4xlarge", "cpuinfo.txt"): ("AWS", "Graviton2", "Graviton", "neoverse-n1"),
    ("graviton2", "lscpu.txt"): ("AWS", "Graviton2", "Graviton", "neoverse-n1"),
    ("graviton2-bios", "lscpu.txt"): ("AWS", "Graviton2", "Graviton", "neoverse-n1"),
    ("graviton3-c7g.medium", "cpuinfo.txt"): ("AWS", "Graviton3", "Graviton", "neoverse-v1"),
    ("graviton3-c7g", "lscpu.txt"): ("AWS", "Graviton3", "Graviton", "neoverse-v1"),
    ("graviton4", "cpuinfo.txt"): ("AWS", "Graviton4", "Graviton", "neoverse-v2"),
    ("google-axion", "cpuinfo.txt"): ("Google", "Google Axion", "Axion", "neoverse-v2"),
    ("nvidia-grace", "cpuinfo.txt"): ("NVIDIA", "NVIDIA Grace", "Grace", "neoverse-v2"),
    ("nvidia-grace-gh200", "lscpu.txt"): ("NVIDIA", "NVIDIA Grace", "Grace", "neoverse-v2"),
    ("ampere-altra", "cpuinfo.txt"): ("Ampere", "Ampere Altra", "Altra", "neoverse-n1"),
    ("ampere-altra-azure", "lscpu.txt"): ("Ampere", "Ampere Altra", "Altra", "neoverse-n1"),
    ("ampere-altra-oci-a1", "lscpu.txt"): ("Ampere", "Ampere Altra", "Altra", "neoverse-n1"),
    ("ampere-altra-oci-a1-12vcpu", "lscpu.txt"): ("Ampere", "Ampere Altra", "Altra", "neoverse-n1"),
    ("alibaba-yitian-710-g8y", "cpuinfo.txt"): ("Alibaba", "Yitian 710", "Yitian", "neoverse-n2"),
    ("derived-cobalt-100", "cpuinfo.txt"): ("Microsoft", "Cobalt 100", "Cobalt", "neoverse-n2"),
    ("github-arm64-cobalt-100", "lscpu.txt"): ("Microsoft", "Cobalt 100", "Cobalt", "neoverse-n2"),
    ("intel-8488c-m7i.24xlarge", "cpuinfo.txt"): (
        "Intel", "Xeon Platinum 8488C", "Sapphire Rapids", "sapphirerapids"),
    ("intel-8488c-c7i.metal-48xl", "lscpu.txt"): (
        "Intel", "Xeon Platinum 8488C", "Sapphire Rapids", "sapphirerapids"),
    ("intel-8481c-gcp-h3-standard-88", "cpuinfo.txt"): (
        "Intel", "Xeon Platinum 8481C", "Sapphire Rapids", "sapphirerapids"),
    ("intel-8481c-gcp-h3-standard-88", "lscpu.txt"): (
        "Intel", "Xeon Platinum 8481C", "Sapphire Rapids", "sapphirerapids"),
    ("intel-6985p-c-gcp-c4-standard-288", "lscpu.txt"): (
        "Intel", "Xeon 6985P-C", "Granite Rapids", "graniterapids"),
    ("intel-8375c-trn1.2xlarge", "lscpu.txt"): (
        "Intel", "Xeon Platinum 8375C", "Ice Lake", "icelake-server"),
    ("intel-8370c-azure", "lscpu.txt"): (
        "Intel", "Xeon Platinum 8370C", "Ice Lake", "icelake-server"),
    ("intel-8259cl-ml.t3.medium", "lscpu.txt"): (
        "Intel", "Xeon Platinum 8259CL", "Cascade Lake", "cascadelake"),
    ("amd-9r14-m7a.8xlarge", "cpuinfo.txt"): ("AMD", "EPYC 9R14", "Genoa", "znver4"),
    ("amd-9r14-c7a.metal-48xl", "lscpu.txt"): ("AMD", "EPYC 9R14", "Genoa", "znver4"),
    ("derived-amd-9r45", "cpuinfo.txt"): ("AMD", "EPYC 9R45", "Turin", "znver5"),
    ("amd-7r13-hpc6a.48xlarge", "cpuinfo.txt"): ("AMD", "EPYC 7R13", "Milan", "znver3"),
    ("amd-7r13-hpc6a.48xlarge", "lscpu.txt"): ("AMD", "EPYC 7R13", "Milan", "znver3"),
    ("github-x64-epyc-7763", "lscpu.txt"): ("AMD", "EPYC 7003 (Milan)", "Milan", "znver3"),
    ("derived-intel-masked-kvm", "cpuinfo.txt"): (
        "Intel", "Xeon (Sapphire Rapids or later)", "Sapphire Rapids or later", "sapphirerapids"),
    ("amd-7v73x-azure-hbv3", "cpuinfo.txt"): ("AMD", "EPYC 7V73X", "Milan-X", "znver3"),
    ("amd-7v73x-azure-hbv3", "lscpu.txt"): ("AMD", "EPYC 7V73X", "Milan-X", "znver3"),
    ("amd-7b13-gcp-c2d-standard-112", "lscpu.txt"): ("AMD", "EPYC 7B13", "Milan", "znver3"),
    ("amd-7j13-oci-e4", "lscpu.txt"): ("AMD", "EPYC 7J13", "Milan", "znver3"),
    ("amd-7r32-c5a", "lscpu.txt"): ("AMD", "EPYC 7R32", "Rome", "znver2"),
    ("intel-8581c-gcp-c4-standard-16", "lscpu.txt"): (
        "Intel", "Xeon Platinum 8581C", "Emerald Rapids", "emeraldrapids"),
    ("intel-8581c-gcp-4vcpu", "lscpu.txt"): (
        "Intel", "Xeon Platinum 8581C", "Emerald Rapids", "emeraldrapids"),
    ("intel-8573c-github-x64-azure", "lscpu.txt"): (
        "Intel", "Xeon Platinum 8573C", "Emerald Rapids", "emeraldrapids"),
    ("intel-6973p-c-github-x64-azure", "lscpu.txt"): (
        "Intel", "Xeon 6973P-C", "Granite Rapids", "graniterapids"),
    ("amd-9v45-github-x64-azure", "lscpu.txt"): ("AMD", "EPYC 9V45", "Turin", "znver5"),
    ("amd-9645-kvm-12vcpu", "lscpu.txt"): ("AMD", "EPYC 9645", "Turin dense", "znver5"),
}  # fmt: skip


def facts_of(name: str, file: str) -> CpuFacts:
    parse = parse_cpuinfo if file == "cpuinfo.txt" else parse_lscpu
    return parse(sample(name, file))


def decoded(chip: Chip) -> tuple[str, str, str, str | None]:
    return chip.vendor, chip.name, chip.family, chip.llvm_cpu


@pytest.mark.parametrize(
    ("name", "file"), sorted(EXPECTED), ids=[f"{n}/{f}" for n, f in sorted(EXPECTED)]
)
def test_every_recorded_sample_is_identified_without_the_cloud(name: str, file: str) -> None:
    """Each real (or derived) sample decodes to its chip from the CPU evidence alone."""
    chip = identify(facts_of(name, file))
    assert decoded(chip) == EXPECTED[name, file]
    assert chip.known and chip.candidates == ()


def test_every_cpu_sample_in_the_data_directory_has_an_expectation() -> None:
    """A sample added to tests/data/hosts without an expected chip fails here."""
    files = {(p.parent.name, p.name) for p in HOSTS.glob("*/*.txt") if p.name != "dmi.txt"}
    assert files - EXPECTED.keys() == {("derived-graviton5", "cpuinfo.txt")}


def test_graviton5_needs_the_cloud_to_tell_it_from_cobalt_200() -> None:
    """Neoverse V3 (0x41/0xd84) is Graviton5 on AWS; with no cloud both candidates come back."""
    facts = facts_of("derived-graviton5", "cpuinfo.txt")
    undecided = identify(facts)
    assert undecided.candidates == ("Graviton5", "Cobalt 200") and undecided.known
    assert decoded(undecided) == ("Arm", "Neoverse V3", "Neoverse V3", "neoverse-v3")
    assert decoded(identify(facts, cloud="aws")) == ("AWS", "Graviton5", "Graviton", "neoverse-v3")


@pytest.mark.parametrize("cloud", ["aws", "gcp", "azure", "oci"])
def test_the_cloud_settles_a_neoverse_n1_without_other_evidence(cloud: str) -> None:
    """0xd0c is Graviton2 on AWS and Ampere Altra elsewhere, even when BogoMIPS is unknown."""
    facts = dataclasses.replace(facts_of("ampere-altra", "cpuinfo.txt"), bogomips=None)
    assert identify(facts).candidates == ("Graviton2", "Ampere Altra", "Ampere Altra Max")
    assert identify(facts, cloud).name == ("Graviton2" if cloud == "aws" else "Ampere Altra")


def test_a_neoverse_n2_is_cobalt_100_on_azure_and_yitian_710_on_alibaba() -> None:
    """0x41/0xd49 is Cobalt 100 (a GitHub arm64 runner) or Yitian 710: BogoMIPS or the cloud
    decides; with neither, both come back as candidates."""
    runner = facts_of("github-arm64-cobalt-100", "lscpu.txt")
    assert (runner.implementer, runner.model_name, runner.bogomips) == (0x41, "Neoverse-N2", 2000.0)
    bare = dataclasses.replace(runner, bogomips=None)
    assert identify(bare).candidates == ("Yitian 710", "Cobalt 100")
    assert identify(bare, cloud="azure").name == "Cobalt 100"
    assert identify(bare, cloud="alibaba").name == "Yitian 710"


def test_a_known_cloud_that_sells_none_of_a_parts_chips_leaves_the_bare_core() -> None:
    """A Neoverse N2 on GCP is neither Cobalt 100 nor Yitian 710: no chip of another cloud."""
    bare = dataclasses.replace(facts_of("github-arm64-cobalt-100", "lscpu.txt"), bogomips=None)
    chip = identify(bare, cloud="gcp")
    assert decoded(chip) == ("Arm", "Neoverse N2", "Neoverse N2", "neoverse-n2")
    assert chip.candidates == () and chip.known


def test_kunpeng_920_is_identified_from_its_midr_or_lscpu_name() -> None:
    """HiSilicon 0x48/0xd01 (lscpu 'Kunpeng-920') is Huawei's Kunpeng 920, LLVM tsv110."""
    by_midr = identify(CpuFacts("aarch64", implementer=0x48, part=0xD01))
    by_name = identify(CpuFacts("aarch64", implementer=0x48, model_name="Kunpeng-920"))
    for chip in (by_midr, by_name):
        assert decoded(chip) == ("Huawei", "Kunpeng 920", "Kunpeng", "tsv110") and chip.known


def test_an_upper_case_brand_string_matches_its_row() -> None:
    """GCP C4 prints 'INTEL(R) XEON(R) PLATINUM 8581C CPU @ 2.30GHz'; case does not matter."""
    brand = "INTEL(R) XEON(R) PLATINUM 8581C CPU @ 2.30GHz"
    chip = identify(CpuFacts("x86_64", "GenuineIntel", brand, 6, 0xCF, 2))
    assert chip.name == "Xeon Platinum 8581C" and chip.known


@pytest.mark.parametrize("model", [0x10, 0x11, 0x1F])
def test_turin_dense_models_are_zen_5c(model: int) -> None:
    """Family 26 models 0x10-0x1f (EPYC 9645, 9965) are Turin dense, Zen 5c, znver5."""
    chip = identify(CpuFacts("x86_64", "AuthenticAMD", "AMD EPYC", 26, model, 0))
    assert (chip.family, chip.core, chip.llvm_cpu) == ("Turin dense", "Zen 5c", "znver5")


def test_a_neoverse_v2_without_flags_stays_undecided_even_on_aws() -> None:
    """Grace is sold on AWS too (GB200), so only the flags can tell it from Graviton4."""
    facts = dataclasses.replace(facts_of("graviton4", "cpuinfo.txt"), flags=())
    assert identify(facts).candidates == ("Graviton4", "Google Axion", "NVIDIA Grace")
    assert identify(facts, cloud="aws").candidates == ("Graviton4", "NVIDIA Grace")
    assert identify(facts_of("graviton4", "cpuinfo.txt"), cloud="aws").name == "Graviton4"
    assert identify(facts_of("google-axion", "cpuinfo.txt"), cloud="gcp").name == "Google Axion"


def test_a_masked_gcp_intel_brand_string_falls_back_on_family_and_model() -> None:
    """GCP's 'Intel(R) Xeon(R) CPU @ 2.60GHz' with model 0x6a (from its boot log) is Ice Lake."""
    brand = "Intel(R) Xeon(R) CPU @ 2.60GHz"
    line = sample("gcp-n2-icelake-dmesg", "dmi.txt").splitlines()[2]
    assert f"{brand} (family: 0x6, model: 0x6a, stepping: 0x6)" in line
    chip = identify(CpuFacts("x86_64", "GenuineIntel", brand, 6, 0x6A, 6))
    assert (chip.family, chip.core, chip.llvm_cpu) == ("Ice Lake", "Sunny Cove", "icelake-server")


def test_this_hosts_bare_amd_epyc_brand_is_turin_from_family_26() -> None:
    """'AMD EPYC' with family 26 model 2 (this sandbox's CPU) is Zen 5 Turin, znver5."""
    text = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 26\nmodel\t\t: 2\n"
    chip = identify(parse_cpuinfo(text + "model name\t: AMD EPYC\nstepping\t: 1\n"))
    assert (chip.family, chip.core, chip.llvm_cpu) == ("Turin", "Zen 5", "znver5")


UNKNOWN = {
    "hygon": CpuFacts("x86_64", "HygonGenuine", "Hygon C86 7285 32-core Processor", 24, 1, 1),
    "intel-desktop": CpuFacts("x86_64", "GenuineIntel", "Intel(R) Core(TM) i9-14900K", 6, 0xB7),
    "apple-m1": CpuFacts("aarch64", implementer=0x61, part=0x23),
    "nothing": CpuFacts(),
}


@pytest.mark.parametrize("facts", UNKNOWN.values(), ids=UNKNOWN.keys())
def test_an_unknown_cpu_comes_back_unknown_with_its_raw_name(facts: CpuFacts) -> None:
    """identify() never raises: an unknown CPU is known=False, named by what the OS said."""
    chip = identify(facts)
    assert not chip.known and chip.llvm_cpu is None
    assert chip.name == (facts.model_name or chip.name)


def test_lscpu_from_a_newer_util_linux_names_cobalt_100_itself() -> None:
    """util-linux 2.40+ prints 'Vendor ID: Microsoft' and 'Model name: Azure-Cobalt-100'."""
    text = "Architecture: aarch64\nVendor ID: Microsoft\nModel name: Azure-Cobalt-100\n"
    chip = identify(parse_lscpu(text + "Stepping: 0x0\nModel: 0\n"))
    assert decoded(chip) == ("Microsoft", "Cobalt 100", "Cobalt", "neoverse-n2")


def test_an_lscpu_that_cannot_name_the_part_is_unknown() -> None:
    """util-linux prints 'Model name: -' for parts it does not know; that is not guessed."""
    text = "Architecture: aarch64\nVendor ID: Apple\nModel name: -\nModel: 0\nStepping: 0x0\n"
    facts = parse_lscpu(text)
    assert (facts.implementer, facts.part, facts.model_name) == (0x61, None, None)
    assert not identify(facts).known


def test_cpuinfo_topology_and_midr_fields_are_parsed() -> None:
    """Arm: one thread per core, MIDR fields in hex; x86: threads from siblings / cpu cores."""
    g4 = facts_of("graviton4", "cpuinfo.txt")
    assert (g4.arch, g4.logical_cpus, g4.cores, g4.threads_per_core) == ("aarch64", 96, 96, 1)
    assert (g4.implementer, g4.part, g4.variant, g4.revision) == (0x41, 0xD4F, 0, 1)
    assert g4.vendor_id is None and g4.bogomips == 2000.0
    assert facts_of("graviton2-m6g.4xlarge", "cpuinfo.txt").logical_cpus == 16
    spr = facts_of("intel-8488c-m7i.24xlarge", "cpuinfo.txt")
    assert (spr.vendor_id, spr.family, spr.model, spr.stepping) == ("GenuineIntel", 6, 143, 8)
    assert (spr.threads_per_core, spr.sockets, spr.cores) == (1, 1, 48)
    assert {"avx512_bf16", "avx512_vnni", "arch_capabilities"} <= set(spr.flags)


TOPOLOGY = {  # CPU(s), cores, sockets, threads per core
    "intel-8488c-c7i.metal-48xl": (192, 96, 2, 2),
    "intel-6985p-c-gcp-c4-standard-288": (288, 144, 2, 2),
    "intel-8259cl-ml.t3.medium": (2, 1, 1, 2),
    "amd-7j13-oci-e4": (16, 8, 1, 2),
    "amd-9r14-c7a.metal-48xl": (192, 192, 2, 1),
    "ampere-altra-oci-a1": (4, 4, 1, 1),
    "graviton3-c7g": (48, 48, 1, 1),
}


@pytest.mark.parametrize("name", TOPOLOGY)
def test_lscpu_topology_is_parsed(name: str) -> None:
    """CPU(s), cores (per socket or per cluster), sockets and threads per core, both layouts."""
    f = facts_of(name, "lscpu.txt")
    assert (f.logical_cpus, f.cores, f.sockets, f.threads_per_core) == TOPOLOGY[name]


SAME_CHIP = {
    "graviton2-bios": "graviton2-m6g.4xlarge",
    "graviton3-c7g": "graviton3-c7g.medium",
    "nvidia-grace-gh200": "nvidia-grace",
    "ampere-altra-oci-a1": "ampere-altra",
}


@pytest.mark.parametrize("lscpu", SAME_CHIP)
def test_lscpu_flags_wrapped_mid_word_match_the_same_chips_cpuinfo(lscpu: str) -> None:
    """lscpu wraps Flags at the terminal width mid-word; rejoined they equal /proc/cpuinfo's."""
    assert facts_of(lscpu, "lscpu.txt").flags == facts_of(SAME_CHIP[lscpu], "cpuinfo.txt").flags


def test_wrapped_x86_flags_are_rejoined_whole() -> None:
    """Pieces like 'cmp_l' + 'egacy' and 'arch_ca' + 'pabilities' become one flag each."""
    epyc = set(facts_of("amd-7j13-oci-e4", "lscpu.txt").flags)
    assert {"cmp_legacy", "arch_capabilities", "extd_apicid", "clzero"} <= epyc
    assert not {"cmp_l", "egacy", "arch_ca"} & epyc
    gnr = set(facts_of("intel-6985p-c-gcp-c4-standard-288", "lscpu.txt").flags)
    assert {"rdtscp", "avx512ifma", "bus_lock_detect", "amx_tile", "arch_capabilities"} <= gnr
    icx = set(facts_of("intel-8370c-azure", "lscpu.txt").flags)
    assert {"syscall", "sse4_1", "tpr_shadow", "clflushopt", "md_clear"} <= icx


def test_lscpu_arm_fields_come_from_names_and_rxpy_stepping() -> None:
    """'Vendor ID: ARM' is implementer 0x41; 'Stepping: r3p1' is variant 3, revision 1."""
    f = facts_of("graviton2-bios", "lscpu.txt")
    want = (0x41, None, "Neoverse-N1", 3, 1)
    assert (f.implementer, f.part, f.model_name, f.variant, f.revision) == want
    assert f.bios_model_name == "AWS Graviton2 AWS Graviton2 CPU @ 2.5GHz"
    assert facts_of("graviton2", "lscpu.txt").bios_model_name is None


def test_every_llvm_cpu_name_in_the_table_is_known_to_this_llvm(capfd: Capture) -> None:
    """A typo in chips.toml would make LLVM print 'is not a recognized processor'."""
    ll.initialize_all_targets()
    table = load_chip_table()
    names = [("aarch64-unknown-linux-gnu", r.llvm_cpu) for r in table.arm]
    names += [("x86_64-unknown-linux-gnu", r.llvm_cpu) for r in table.x86]
    for triple, cpu in names:
        ll.Target.from_triple(triple).create_target_machine(cpu=cpu)
    assert "not a recognized processor" not in capfd.readouterr().err


def test_the_packaged_table_names_every_chip_the_design_compares() -> None:
    """targets/chips.toml parses, and holds each Arm chip and x86 generation of the comparison."""
    table = load_chip_table()
    arm = {c.name for r in table.arm for c in r.chips}
    want = {"Graviton2", "Graviton3", "Graviton4", "Graviton5", "Google Axion", "Cobalt 100"}
    assert want | {"Ampere Altra", "NVIDIA Grace"} <= arm
    x86 = {r.llvm_cpu for r in table.x86}
    assert {"sapphirerapids", "graniterapids", "znver3", "znver4", "znver5"} <= x86


ARM_ROW = "[[arm]]\nimplementer = 0x41\npart = 1\nvendor = 'Arm'\ncore = 'X'\n"
X86_ROW = (
    "[[x86]]\nvendor_id = 'AuthenticAMD'\nvendor = 'AMD'\nname = 'n'\nfamily = 'f'\ncore = 'c'\n"
)
BAD_TABLES = {
    "missing": (ARM_ROW, "[[arm]] row 1: missing key 'llvm_cpu'"),
    "wrong-type": (ARM_ROW + "llvm_cpu = 1\n", "[[arm]] row 1: key 'llvm_cpu' must be str"),
    "bad-regex": (X86_ROW + "llvm_cpu = 'x'\nmodel_name = '('\n", "key 'model_name' is not a"),
    "no-match": (X86_ROW + "llvm_cpu = 'x'\n", "missing key 'model_name', 'cpu_family' or 'flags'"),
    "unknown-key": (
        ARM_ROW + "llvm_cpu = 'x'\n[[arm.chip]]\nvendor = 'A'\nname = 'n'\nfamily = 'f'\nx = 1\n",
        "[[arm]] row 1 chip 1: unknown key 'x'",
    ),
    "syntax": ("[[arm]\n", "not valid TOML"),
}


@pytest.mark.parametrize("case", BAD_TABLES)
def test_a_bad_table_row_names_the_file_the_row_and_the_key(tmp_path: Path, case: str) -> None:
    """load_chip_table raises UserError with a message that points at the mistake."""
    toml, needle = BAD_TABLES[case]
    path = tmp_path / "chips.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(UserError) as caught:
        load_chip_table(path)
    assert str(path) in str(caught.value) and needle in str(caught.value)


def test_a_missing_table_file_is_a_user_error(tmp_path: Path) -> None:
    """A wrong path is reported as such, not as a traceback."""
    with pytest.raises(UserError, match="cannot read the chip table"):
        load_chip_table(tmp_path / "nope.toml")


# ------------------------------------------------------------------------------ properties

_flag = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=12)
_flags = st.lists(_flag, max_size=30, unique=True).map(tuple)
_bogomips = st.integers(1, 10**6).map(lambda n: n / 100)
_line_breaks = ":\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_midr = st.tuples(
    st.integers(1, 255), st.integers(0, 0xFFF), st.integers(0, 15), st.integers(0, 15)
)
_brand = st.text(st.characters(blacklist_characters=_line_breaks, blacklist_categories=["Cs"]))


@st.composite
def x86_facts(draw: st.DrawFn) -> CpuFacts:
    sockets, per_socket, tpc = draw(
        st.tuples(st.integers(1, 2), st.integers(1, 4), st.integers(1, 2))
    )
    return CpuFacts(
        arch="x86_64", vendor_id=draw(st.sampled_from(["GenuineIntel", "AuthenticAMD"])),
        model_name=draw(_brand.map(str.strip).filter(bool)), family=draw(st.integers(0, 255)),
        model=draw(st.integers(0, 255)), stepping=draw(st.integers(0, 15)),
        logical_cpus=sockets * per_socket * tpc, cores=sockets * per_socket, sockets=sockets,
        threads_per_core=tpc, flags=draw(_flags), bogomips=draw(_bogomips),
    )  # fmt: skip


def x86_cpuinfo(f: CpuFacts) -> str:
    """The /proc/cpuinfo a Linux x86 kernel would print for ``f``."""
    assert f.logical_cpus and f.sockets and f.cores
    per_socket = f.logical_cpus // f.sockets
    return "\n".join(
        f"processor\t: {i}\nvendor_id\t: {f.vendor_id}\ncpu family\t: {f.family}\n"
        f"model\t\t: {f.model}\nmodel name\t: {f.model_name}\nstepping\t: {f.stepping}\n"
        f"physical id\t: {i // per_socket}\nsiblings\t: {per_socket}\n"
        f"cpu cores\t: {f.cores // f.sockets}\nflags\t\t: {' '.join(f.flags)}\n"
        f"bogomips\t: {f.bogomips:.2f}\n"
        for i in range(f.logical_cpus)
    )


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_arbitrary_text_never_makes_the_parsers_or_identify_raise(text: str) -> None:
    """Whatever /proc/cpuinfo or lscpu print, parsing and identifying return a value."""
    for facts in (parse_cpuinfo(text), parse_lscpu(text)):
        assert identify(facts).name


@settings(max_examples=100, deadline=None)
@given(x86_facts())
def test_a_generated_x86_cpuinfo_round_trips(facts: CpuFacts) -> None:
    """Parsing the cpuinfo text written for some facts gives those facts back."""
    assert parse_cpuinfo(x86_cpuinfo(facts)) == facts


@settings(max_examples=100, deadline=None)
@given(_midr, _flags.filter(bool), _bogomips, st.integers(1, 4))
def test_a_generated_arm_cpuinfo_round_trips(
    midr: tuple[int, int, int, int], flags: tuple[str, ...], bogomips: float, cpus: int
) -> None:
    """MIDR fields, features and counts written as arm64 cpuinfo are read back."""
    impl, part, variant, revision = midr
    block = (f"BogoMIPS\t: {bogomips:.2f}\nFeatures\t: {' '.join(flags)}\n"
             f"CPU implementer\t: {impl:#x}\nCPU architecture: 8\nCPU variant\t: {variant:#x}\n"
             f"CPU part\t: {part:#05x}\nCPU revision\t: {revision}\n")  # fmt: skip
    text = "\n".join(f"processor\t: {i}\n{block}" for i in range(cpus))
    midr_facts = CpuFacts(
        "aarch64", implementer=impl, part=part, variant=variant, revision=revision
    )
    want = dataclasses.replace(midr_facts, logical_cpus=cpus, cores=cpus, threads_per_core=1)
    assert parse_cpuinfo(text) == dataclasses.replace(want, flags=flags, bogomips=bogomips)


@settings(max_examples=100, deadline=None)
@given(flags=_flags.filter(bool), width=st.integers(1, 80), indent=st.sampled_from([0, 4]))
def test_flags_wrapped_at_any_width_survive_lscpu_parsing(
    flags: tuple[str, ...], width: int, indent: int
) -> None:
    """Flags cut into pieces of any width (spaces included), in either layout, are rejoined."""
    col, value = 26, " ".join(flags)
    pieces = [value[i : i + width] for i in range(0, len(value), width)]
    text = "Architecture:             aarch64\n" + f"{' ' * indent}Flags:".ljust(col)
    text += "\n".join([pieces[0], *(" " * col + p for p in pieces[1:])])
    assert parse_lscpu(text + "\nNUMA node(s):             1\n").flags == flags


def test_a_masked_intel_guest_is_inferred_from_its_flags_and_says_so() -> None:
    """Brand "Intel(R) Xeon(R) Processor" and model 167 name nothing; AMX tiles with AVX-512
    FP16 give Sapphire Rapids or later, marked inferred with the flags as evidence."""
    chip = identify(facts_of("derived-intel-masked-kvm", "cpuinfo.txt"))
    assert (chip.name, chip.confidence) == ("Xeon (Sapphire Rapids or later)", "inferred")
    assert "amx_tile" in chip.evidence and "avx512_fp16" in chip.evidence


def _bare_n2() -> CpuFacts:
    """The GitHub runner's Neoverse N2 without its BogoMIPS: only a cloud can name the chip."""
    return dataclasses.replace(facts_of("github-arm64-cobalt-100", "lscpu.txt"), bogomips=None)


@pytest.mark.parametrize(
    ("facts", "cloud", "evidence", "confidence"),
    [(lambda: facts_of("intel-8488c-m7i.24xlarge", "cpuinfo.txt"), None, "brand string",
      "identified"),
     (lambda: facts_of("github-arm64-cobalt-100", "lscpu.txt"), None, "BogoMIPS", "identified"),
     (_bare_n2, "azure", "the cloud", "identified"),
     (_bare_n2, None, "several chips", "candidates")],
)  # fmt: skip
def test_each_chip_says_what_named_it_and_how_sure_it_is(
    facts: Any, cloud: str | None, evidence: str, confidence: str
) -> None:
    """The brand string, MIDR then BogoMIPS or the cloud, or candidates when nothing decides."""
    chip = identify(facts(), cloud)
    assert evidence in chip.evidence and chip.confidence == confidence, chip


N1_TABLE = """
[[arm]]
implementer = 0x41
part = 0xd0c
vendor = "Arm"
core = "Neoverse N1"
llvm_cpu = "neoverse-n1"
[[arm.chip]]
vendor = "Ampere"
name = "Ampere Altra"
family = "Altra"
clouds = ["gcp"]
max_cores_per_socket = 80
[[arm.chip]]
vendor = "Ampere"
name = "Ampere Altra Max"
family = "Altra"
max_cores_per_socket = 128
"""


@pytest.mark.parametrize(
    ("cores", "sockets", "cloud", "name"),
    [(128, 1, None, "Ampere Altra Max"), (160, 2, None, "Ampere Altra or Ampere Altra Max"),
     (64, 1, None, "Ampere Altra or Ampere Altra Max"), (64, 1, "gcp", "Ampere Altra"),
     (64, 1, "oci", "Ampere Altra Max")],
)  # fmt: skip
def test_cores_per_socket_and_the_cloud_tell_chips_of_one_part_apart(
    cores: int, sockets: int, cloud: str | None, name: str
) -> None:
    """More cores in a socket than a chip has rules it out; a cloud picks the chips it sells,
    else the ones no cloud lists; what is left of one family is named 'A or B'."""
    table = parse_chip_table(N1_TABLE)
    facts = CpuFacts(arch="aarch64", implementer=0x41, part=0xD0C, cores=cores, sockets=sockets)
    chip = identify(facts, cloud, table)
    assert (chip.name, chip.family, chip.vendor) == (name, "Altra", "Ampere")
    assert (chip.confidence == "candidates") == (" or " in name)


def test_an_n1_socket_of_more_than_80_cores_is_altra_max() -> None:
    """Altra has at most 80 cores; the Azure Altra's lscpu with a 128-core socket is Altra Max,
    and as recorded (64 cores, BogoMIPS 50, proven only for Altra) it stays Altra."""
    recorded = facts_of("ampere-altra-azure", "lscpu.txt")
    assert identify(recorded).name == "Ampere Altra"
    bigger = dataclasses.replace(recorded, cores=128, logical_cpus=128)
    assert decoded(identify(bigger)) == ("Ampere", "Ampere Altra Max", "Altra", "neoverse-n1")
