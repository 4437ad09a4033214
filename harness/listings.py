"""The listing commands: who this host is (``env``) or a recorded machine (``identify``), the
workloads (``list``), the priced targets (``targets``), as rich tables or JSON. Every string
shown is data, never markup."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.console import Console
from rich.table import Table

from harness.untrusted import terminal


def cmd_env(args: argparse.Namespace) -> int:
    from harness.host.environment import capture, summary_rows

    env = capture(instance_type=args.instance_type)
    if args.json:
        print(json.dumps(env, indent=2, default=str))
        return 0
    table = Table(title="this host", show_header=False)
    for label, value in summary_rows(env):
        table.add_row(terminal(label), terminal(value))  # host strings are data, not markup
    Console(emoji=False).print(table)
    return 0


def cmd_identify(args: argparse.Namespace) -> int:
    from harness.host.environment import identity_rows
    from harness.host.recorded import identify_folder

    found = [identify_folder(folder, args.instance_type) for folder in args.folders]
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    for machine in found:
        table = Table(title=terminal(machine["folder"]), show_header=False)
        table.add_row("Files", terminal(", ".join(machine["files"])))
        for label, value in identity_rows(machine):
            table.add_row(terminal(label), terminal(value))  # recorded strings are data
        Console(emoji=False).print(table)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from harness.workload import discover, workload_dirs

    workloads = discover(workload_dirs(args.workload_path))
    listing: list[dict[str, Any]] = [
        {
            "name": w.name,
            "category": w.category,
            "unit": w.unit,
            "bound": w.bound,
            "sizes": dict(w.sizes),
            "description": w.description,
        }
        for w in workloads.values()
    ]
    if args.json:
        print(json.dumps(listing, indent=2))
        return 0
    table = Table("workload", "category", "unit", "bound", "sizes (n)", "description")
    for item in listing:
        sizes = " ".join(f"{k}={v}" for k, v in item["sizes"].items())
        table.add_row(
            *(terminal(item[k]) for k in ("name", "category", "unit", "bound")),
            sizes,
            terminal(item["description"]),
        )
    Console(emoji=False).print(table)
    return 0


def cmd_targets(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from harness.pricing.catalog import listing
    from harness.pricing.rows import catalog_with_prices

    rows = listing(catalog_with_prices(args.prices), args.arch, args.cloud)
    if args.json:
        print(json.dumps([asdict(t) for t in rows], indent=2, default=str))
        return 0
    table = Table("cloud", "type", "arch", "chip", "LLVM CPU", "vCPUs", "cores", "GiB",
                  "$/h", "region", "price date")  # fmt: skip
    for t in rows:
        numbers = (t.vcpus, t.cores, f"{t.memory_gib:g}", f"{t.price_per_hour:.4f}")
        cells = (t.cloud, t.type, t.arch, t.chip, t.llvm_cpu, *numbers, t.region, t.price_date)
        table.add_row(*map(terminal, cells))  # a price file's strings are data, not markup
    Console(emoji=False).print(table)
    return 0
